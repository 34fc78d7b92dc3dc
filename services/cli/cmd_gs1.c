/*
 * cmd_gs1: `coldtrace gs1 convert ID`, the identifier converter operators and integrators
 * need when a partner sends EPC URNs and a label carries a GS1 Digital Link (or the other
 * way round). Thin over services/common/gs1.c, which checks lengths, check digits and GS1's
 * character set; no database.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "gs1.h"

static const char *kind_name(enum gs1_kind k)
{
	switch (k) {
	case GS1_GTIN:
		return "gtin";
	case GS1_SGTIN:
		return "sgtin";
	case GS1_LGTIN:
		return "lgtin";
	case GS1_SSCC:
		return "sscc";
	case GS1_SGLN:
		return "sgln";
	case GS1_PGLN:
		return "pgln";
	case GS1_GIAI:
		return "giai";
	default:
		return "none";
	}
}

int cmd_gs1_convert(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"company-prefix-length", required_argument, NULL, 'c'},
	    {"base", required_argument, NULL, 'b'},
	    {NULL, 0, NULL, 0},
	};
	const char *base = NULL, *why = NULL;
	char urn[160], dl[320], *end;
	struct gs1_id id;
	long cp_len = 0;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			errno = 0;
			cp_len = strtol(optarg, &end, 10);
			if (errno || *end || cp_len < 6 || cp_len > 12)
				return cli_usage(cmd, "--company-prefix-length: 6 to 12 digits");
			break;
		case 'b':
			base = optarg;
			break;
		default:
			return cli_usage(cmd, NULL);
		}
	}
	if (argc - optind != 1)
		return cli_usage(cmd, "expected one identifier");
	if (!base)
		base = config.public_base_url;
	rc = gs1_id_parse(argv[optind], &id, &why);
	if (rc == 1)
		return cli_usage(cmd, "'%s' is not a GS1 EPC URN or Digital Link URI",
				 argv[optind]);
	if (rc < 0)
		return cli_usage(cmd, "'%s': %s", argv[optind], why);
	if (gs1_id_to_dl(&id, base, dl, sizeof(dl)) < 0)
		return cli_fail(cmd, "identifier too long");
	printf("kind          %s\n", kind_name(id.kind));
	printf("key           %s\n", id.digits);
	if (id.ext[0])
		printf("%-13s %s\n",
		       id.kind == GS1_LGTIN   ? "lot"
		       : id.kind == GS1_SGTIN ? "serial"
					      : "extension",
		       id.ext);
	printf("digital_link  %s\n", dl);
	if (gs1_id_to_urn(&id, (int)cp_len, urn, sizeof(urn)) == 0)
		printf("epc_urn       %s\n", urn);
	else
		printf("epc_urn       - (give --company-prefix-length: a Digital Link does not say "
		       "where the company prefix ends)\n");
	return CLI_OK;
}
