/*
 * cmd_report: `coldtrace report`, the buyer's report of a lot or a shipment, in XHTML, the
 * FSMA 204 CSV or EPCIS 2.0, signed with report_key_file (services/report/report.c renders
 * and signs; the HTTP API hands out the same bytes). A report without a signature is only
 * written when asked for with --unsigned: a buyer must be able to tell the two apart.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli.h"
#include "config.h"
#include "db.h"
#include "report.h"
#include "sign.h"
#include "trace.h"

struct report_args {
	const char *lot_arg, *shipment, *format_name, *lang, *out_path;
	int unsigned_ok;
};

static int parse_args(const struct cli_cmd *cmd, int argc, char **argv, struct report_args *a)
{
	static const struct option opts[] = {
	    {"lot", required_argument, NULL, 'l'},
	    {"shipment", required_argument, NULL, 's'},
	    {"format", required_argument, NULL, 'f'},
	    {"lang", required_argument, NULL, 'L'},
	    {"output", required_argument, NULL, 'o'},
	    {"unsigned", no_argument, NULL, 'u'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	memset(a, 0, sizeof(*a));
	a->format_name = "html";
	a->lang = "en";
	a->out_path = "-";
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			a->lot_arg = optarg;
			break;
		case 's':
			a->shipment = optarg;
			break;
		case 'f':
			a->format_name = optarg;
			break;
		case 'L':
			a->lang = optarg;
			break;
		case 'o':
			a->out_path = optarg;
			break;
		case 'u':
			a->unsigned_ok = 1;
			break;
		default:
			return cli_usage(cmd, NULL);
		}
	}
	if (optind != argc)
		return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (!a->lot_arg == !a->shipment)
		return cli_usage(cmd, "give exactly one of --lot and --shipment");
	if (a->shipment && !cli_text_ok(a->shipment, 64))
		return cli_usage(cmd, "--shipment '%s' is not a shipment id (1-64 characters)",
				 a->shipment);
	if (!report_lang_ok(a->lang))
		return cli_usage(cmd, "--lang '%s': expected en, zh-Hans or zh-Hant", a->lang);
	return CLI_OK;
}

int cmd_report(const struct cli_cmd *cmd, int argc, char **argv)
{
	struct report_args a;
	struct trace_scope scope = {0};
	enum report_format format;
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	char gtin[15], lot[64];
	struct db *db = NULL;
	char *doc = NULL;
	size_t len = 0;
	int rc = parse_args(cmd, argc, argv, &a), have_key = 0;

	if (rc != CLI_OK)
		return rc;
	if (report_format_parse(a.format_name, &format) < 0)
		return cli_usage(cmd, "--format '%s': expected html, csv or epcis", a.format_name);
	if (a.lot_arg) {
		if (cli_parse_lot(cmd, "--lot", a.lot_arg, gtin, lot, sizeof(lot)) < 0)
			return CLI_USAGE;
		scope.gtin = gtin;
		scope.lot = lot;
	} else {
		scope.shipment_id = a.shipment;
	}
	if (*config.report_key_file) {
		if (sign_load_secret(config.report_key_file, sk) < 0)
			return cli_fail(cmd, "cannot use report_key_file %s (see above)",
					config.report_key_file);
		have_key = 1;
	} else if (!a.unsigned_ok) {
		return cli_fail(cmd,
				"report_key_file is not set: create a key with `coldtrace keys "
				"generate` and set it, or pass --unsigned");
	}
	if (cli_connect(&db) < 0) {
		rc = CLI_FAIL;
		goto out;
	}
	rc = report_render(db, &scope, format, a.lang, have_key ? sk : NULL, &doc, &len);
	if (rc == 1) {
		rc = a.lot_arg ? cli_fail(cmd, "lot %s/%s not found", gtin, lot)
			       : cli_fail(cmd, "shipment %s not found", a.shipment);
		goto out;
	}
	if (rc < 0) {
		rc = cli_fail(cmd, "the report could not be rendered (see above)");
		goto out;
	}
	rc = cli_write_file(cmd, a.out_path, doc, len) < 0 ? CLI_FAIL : CLI_OK;
	if (rc == CLI_OK && strcmp(a.out_path, "-") != 0)
		fprintf(stderr, "%s: %zu bytes, %s\n", a.out_path, len,
			have_key ? "signed" : "UNSIGNED");
out:
	sodium_memzero(sk, sizeof(sk));
	free(doc);
	db_free(db);
	return rc;
}
