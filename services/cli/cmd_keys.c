/*
 * cmd_keys: report signing keys and verification, `coldtrace keys generate|sign` and
 * `coldtrace verify FILE`. Thin: the sign module (services/common/sign.c) holds the file
 * formats and the cryptography; this file reads and writes files and prints verdicts.
 *
 * verify prints exactly one verdict line on standard output, `FILE: valid (sha256 …, key …)`
 * with exit 0 or `FILE: INVALID: <reason>` with exit 1; a file that is intact but cannot be
 * checked against a trusted key (none given, none configured) is INVALID too: a signature
 * anyone could have made proves nothing. Files that cannot be read are reported on standard
 * error (exit 1). None of these commands needs the database.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cli.h"
#include "config.h"
#include "sign.h"

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

/* The trailer style a file name implies; -1 when it implies none. */
static int style_of_name(const char *path)
{
	static const char *const xml[] = {".xml", ".xhtml", ".html", ".htm", ".svg", ".epcis"};

	if (ends_with(path, ".csv"))
		return SIGN_STYLE_CSV;
	for (size_t i = 0; i < sizeof(xml) / sizeof(xml[0]); i++)
		if (ends_with(path, xml[i]))
			return SIGN_STYLE_XML;
	return -1;
}

int cmd_keys_generate(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"secret-out", required_argument, NULL, 's'},
	    {"public-out", required_argument, NULL, 'p'},
	    {NULL, 0, NULL, 0},
	};
	unsigned char sk[SIGN_SECRET_BYTES], pk[SIGN_PUBLIC_BYTES];
	const char *secret_out = NULL, *public_out = NULL;
	char pk_b64[SIGN_KEY_B64_LEN];
	int c, rc = CLI_FAIL;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			secret_out = optarg;
			break;
		case 'p':
			public_out = optarg;
			break;
		default:
			return cli_usage(cmd, NULL);
		}
	}
	if (optind != argc)
		return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (!secret_out || !public_out)
		return cli_usage(cmd, "both --secret-out and --public-out are required");
	if (strcmp(secret_out, public_out) == 0)
		return cli_usage(cmd, "--secret-out and --public-out name the same file");
	if (sign_keygen(sk, pk) < 0)
		goto out;
	if (sign_save_secret(secret_out, sk) < 0)
		goto out;
	if (sign_save_public(public_out, pk) < 0) {
		unlink(secret_out); /* no half-made pair left behind */
		goto out;
	}
	sign_key_text(pk, pk_b64);
	printf("secret key %s (mode 0600: keep it secret; report_key_file)\n"
	       "public key %s (give it to buyers; report_public_key_file): %s\n",
	       secret_out, public_out, pk_b64);
	rc = CLI_OK;
out:
	sodium_memzero(sk, sizeof(sk));
	return rc;
}

int cmd_keys_sign(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"style", required_argument, NULL, 't'},
	    {"secret-key", required_argument, NULL, 'k'},
	    {"output", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	const char *in, *out_path = "-", *key_path = config.report_key_file;
	unsigned char sk[SIGN_SECRET_BYTES];
	char *buf = NULL;
	size_t len = 0;
	int c, style = -1, rc = CLI_FAIL;

	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (strcmp(optarg, "xml") == 0)
				style = SIGN_STYLE_XML;
			else if (strcmp(optarg, "csv") == 0)
				style = SIGN_STYLE_CSV;
			else
				return cli_usage(cmd, "--style '%s' is not xml or csv", optarg);
			break;
		case 'k':
			key_path = optarg;
			break;
		case 'o':
			out_path = optarg;
			break;
		default:
			return cli_usage(cmd, NULL);
		}
	}
	if (argc - optind != 1)
		return cli_usage(cmd, "expected one FILE to sign");
	in = argv[optind];
	if (style < 0)
		style = style_of_name(in);
	if (style < 0)
		return cli_usage(cmd, "--style xml|csv is required: the name %s does not say", in);
	if (!key_path || !*key_path)
		return cli_usage(cmd,
				 "no secret key: give --secret-key FILE or set report_key_file");
	if (sign_load_secret(key_path, sk) < 0)
		goto out;
	if (cli_read_file(cmd, in, &buf, &len) < 0)
		goto out;
	if (sign_append(sk, (enum sign_style)style, &buf, &len) < 0)
		goto out;
	if (cli_write_file(cmd, out_path, buf, len) < 0)
		goto out;
	rc = CLI_OK;
out:
	sodium_memzero(sk, sizeof(sk));
	free(buf);
	return rc;
}

/* `coldtrace verify` has no verb: cli_usage would print "coldtrace verify : …". */
static int verify_usage(const struct cli_cmd *cmd, const char *message)
{
	if (message)
		fprintf(stderr, "coldtrace %s: %s\n", cmd->group, message);
	fprintf(stderr, "usage: coldtrace %s %s\n(see coldtrace %s --help)\n", cmd->group,
		cmd->usage, cmd->group);
	return CLI_USAGE;
}

int cmd_verify(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"public-key", required_argument, NULL, 'k'},
	    {NULL, 0, NULL, 0},
	};
	const char *path, *key_path = config.report_public_key_file;
	unsigned char pk[SIGN_PUBLIC_BYTES];
	struct sign_result res;
	char *buf = NULL;
	size_t len = 0;
	int c, have_key = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'k')
			return verify_usage(cmd, NULL);
		key_path = optarg;
	}
	if (argc - optind != 1)
		return verify_usage(cmd, "expected one FILE to verify");
	path = argv[optind];
	if (key_path && *key_path) {
		if (sign_load_public(key_path, pk) < 0)
			return CLI_FAIL;
		have_key = 1;
	}
	if (cli_read_file(cmd, path, &buf, &len) < 0)
		return CLI_FAIL;
	if (sign_verify(buf, len, have_key ? pk : NULL, &res) == 0)
		printf("%s: valid (sha256 %s, key %s)\n", path, res.sha256_hex, res.key_b64);
	else if (res.status == SIGN_UNTRUSTED)
		printf("%s: INVALID: %s; give --public-key FILE or set report_public_key_file\n",
		       path, res.message);
	else
		printf("%s: INVALID: %s\n", path, res.message);
	free(buf);
	return res.status == SIGN_VALID ? CLI_OK : CLI_FAIL;
}
