/*
 * cmd_trace: `coldtrace trace LOT` and `coldtrace recall`. The documents are ct_trace and
 * ct_recall_* of sql/trace.sql, fetched by the trace module; --json prints them as they are
 * (the same JSON the HTTP API and the reports use), the text form flattens them in SQL into
 * the tables cli_print_query renders, and recall --csv writes one line per lot per receiving
 * site: the mailing list of a recall notice.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "trace.h"

#define LOT_MAX 64

static const char *const sql_site_exists = "SELECT 1 FROM coldtrace.sites WHERE gln = $1";

/* "GTIN/LOT", a lot's label in text tables. */
#define LOT_LABEL(j) "(" j "->>'gtin') || '/' || (" j "->>'lot')"

static const char *const sql_trace_text =
	"SELECT json_build_object("
	"  'lot', " LOT_LABEL("d->'lot'") ", 'product', d->'lot'->>'product',"
	"  'farm', d->'lot'->>'farm_gln', 'field', d->'lot'->>'field',"
	"  'harvest_start', d->'lot'->>'harvest_start', 'best_before', d->'lot'->>'best_before',"
	"  'quantity', (d->'lot'->>'quantity') || coalesce(' ' || (d->'lot'->>'uom'), ''),"
	"  'farms', coalesce((SELECT json_agg(json_build_object("
	"      'gln', f->>'gln', 'name', f->>'name', 'organisation', f->>'organisation',"
	"      'registrations', (SELECT string_agg((r->>'scheme') || ' ' || (r->>'id'), '; ')"
	"                          FROM jsonb_array_elements(f->'registrations') r),"
	"      'certifications', (SELECT string_agg((c->>'scheme') || ' ' || (c->>'number')"
	"                            || coalesce(' to ' || (c->>'valid_to'), ''), '; ')"
	"                          FROM jsonb_array_elements(f->'certifications') c)))"
	"      FROM jsonb_array_elements(d->'backward'->'farms') f), '[]'),"
	"  'backward', coalesce((SELECT json_agg(json_build_object("
	"      'depth', b->'depth', 'lot', " LOT_LABEL("b") ", 'product', b->>'product',"
	"      'farm', b->>'farm_gln', 'field', b->>'field', 'harvest_start', b->>'harvest_start',"
	"      'quantity', b->>'quantity', 'uom', b->>'uom') ORDER BY (b->>'depth')::int)"
	"      FROM jsonb_array_elements(d->'backward'->'lots') b), '[]'),"
	"  'history', coalesce((SELECT json_agg(json_build_object("
	"      'time', e->>'time', 'cte', e->>'cte', 'lot', " LOT_LABEL("b") ","
	"      'site', coalesce(e->>'site_name', e->>'site_gln'), 'shipment', e->>'shipment_id',"
	"      'event', e->'id') ORDER BY e->>'time', (e->>'id')::bigint, b->>'gtin', b->>'lot')"
	"      FROM jsonb_array_elements(d->'backward'->'lots') b,"
	"           jsonb_array_elements(b->'events') e), '[]'),"
	"  'forward', coalesce((SELECT json_agg(json_build_object("
	"      'depth', f->'depth', 'lot', " LOT_LABEL("f") ", 'product', f->>'product',"
	"      'quantity', f->>'quantity', 'uom', f->>'uom', 'via_event', f->'via_event')"
	"      ORDER BY (f->>'depth')::int)"
	"      FROM jsonb_array_elements(d->'forward'->'lots') f), '[]'),"
	"  'shipments', coalesce((SELECT json_agg(json_build_object("
	"      'shipment', s->>'shipment_id', 'from', s->>'from_gln', 'to', s->>'to_gln',"
	"      'shipped_at', s->>'shipped_at', 'received_at', s->>'received_at',"
	"      'lots', (SELECT string_agg(" LOT_LABEL("x") " || coalesce(' ' || (x->>'quantity'), '')"
	"                 || coalesce(' ' || (x->>'uom'), ''), '; ')"
	"                 FROM jsonb_array_elements(s->'lots') x)))"
	"      FROM jsonb_array_elements(d->'forward'->'shipments') s), '[]'),"
	"  'receivers', coalesce((SELECT json_agg(json_build_object("
	"      'gln', r->>'gln', 'name', r->>'name', 'organisation', r->>'organisation',"
	"      'lot', " LOT_LABEL("x") ", 'quantity', x->>'quantity', 'uom', x->>'uom',"
	"      'received_at', x->>'received_at', 'shipment', x->>'shipment_id',"
	"      'status', x->>'status'))"
	"      FROM jsonb_array_elements(d->'forward'->'receivers') r,"
	"           jsonb_array_elements(r->'lots') x), '[]'))"
	"  FROM (SELECT $1::jsonb AS d) t";

static const char *const sql_recall_text =
	"SELECT json_build_object("
	"  'recall', CASE d->'scope'->>'kind'"
	"      WHEN 'farm' THEN 'farm ' || (d->'scope'->'farm'->>'gln')"
	"           || coalesce(' (' || (d->'scope'->'farm'->>'name') || ')', '')"
	"           || ', harvested ' || (d->'scope'->>'from') || ' to ' || (d->'scope'->>'to')"
	"      ELSE 'lot ' || (d->'scope'->>'gtin') || '/' || (d->'scope'->>'lot')"
	"           || CASE WHEN (d->'scope'->>'from_sources')::boolean"
	"                   THEN ', from its source lots' ELSE '' END END,"
	"  'implicated_lots', d->'summary'->'implicated', 'affected_lots', d->'summary'->'lots',"
	"  'shipments', d->'summary'->'shipments', 'receivers', d->'summary'->'receivers',"
	"  'quantities', (SELECT string_agg(value || ' ' || key, ', ' ORDER BY key)"
	"                   FROM jsonb_each_text(d->'summary'->'quantity_by_uom')),"
	"  'lots', coalesce((SELECT json_agg(json_build_object("
	"      'depth', f->'depth', 'lot', " LOT_LABEL("f") ", 'product', f->>'product',"
	"      'farm', f->>'farm_gln', 'harvest_start', f->>'harvest_start',"
	"      'quantity', f->>'quantity', 'uom', f->>'uom')"
	"      ORDER BY (f->>'depth')::int, f->>'gtin', f->>'lot')"
	"      FROM jsonb_array_elements(d->'lots') f), '[]'),"
	"  'notify', coalesce((SELECT json_agg(json_build_object("
	"      'gln', r->>'gln', 'name', r->>'name', 'organisation', r->>'organisation',"
	"      'phone', r->>'phone', 'city', r->>'city', 'lot', " LOT_LABEL("x") ","
	"      'quantity', x->>'quantity', 'uom', x->>'uom', 'received_at', x->>'received_at',"
	"      'shipment', x->>'shipment_id', 'status', x->>'status'))"
	"      FROM jsonb_array_elements(d->'receivers') r,"
	"           jsonb_array_elements(r->'lots') x), '[]'))"
	"  FROM (SELECT $1::jsonb AS d) t";

/* RFC 4180: a header line, then one line per lot per receiving site; every field quoted. */
static const char *const sql_recall_csv =
	"SELECT concat_ws(E'\\r\\n',"
	"  'gln,name,organisation,phone,address,city,region,country,gtin,lot,product,quantity,"
	"uom,received_at,shipment_id,status',"
	"  (SELECT string_agg((SELECT string_agg('\"' || replace(coalesce(v, ''), '\"', '\"\"')"
	"                                        || '\"', ',' ORDER BY o)"
	"                        FROM unnest(ARRAY[r->>'gln', r->>'name', r->>'organisation',"
	"                             r->>'phone', r->>'address', r->>'city', r->>'region',"
	"                             r->>'country', x->>'gtin', x->>'lot',"
	"                             (SELECT description FROM coldtrace.products"
	"                               WHERE gtin = x->>'gtin'),"
	"                             x->>'quantity', x->>'uom', x->>'received_at',"
	"                             x->>'shipment_id', x->>'status'])"
	"                             WITH ORDINALITY AS u(v, o)), E'\\r\\n')"
	"     FROM jsonb_array_elements(d->'receivers') r, jsonb_array_elements(r->'lots') x))"
	"  || E'\\r\\n'"
	"  FROM (SELECT $1::jsonb AS d) t";

int cmd_trace_lot(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	char gtin[15], lot[LOT_MAX], *json = NULL;
	struct db *db = NULL;
	int c, as_json = 0, got, rc = CLI_FAIL;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j')
			return cli_usage(cmd, NULL);
		as_json = 1;
	}
	if (argc - optind != 1)
		return cli_usage(cmd, "expected one LOT (GTIN/LOT or a Digital Link URI)");
	if (cli_parse_lot(cmd, "LOT", argv[optind], gtin, lot, sizeof(lot)) < 0)
		return CLI_USAGE;
	if (cli_connect(&db) < 0)
		return CLI_FAIL;
	got = trace_fetch_trace(db, gtin, lot, &json);
	if (got == TRACE_NOT_FOUND)
		cli_fail(cmd, "lot %s/%s not found", gtin, lot);
	else if (got == 0)
		rc = cli_print_json(db, json, sql_trace_text, as_json);
	free(json);
	db_free(db);
	return rc;
}

int cmd_trace_recall(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"farm", required_argument, NULL, 'f'}, {"from", required_argument, NULL, 'a'},
		{"to", required_argument, NULL, 'b'},   {"lot", required_argument, NULL, 'l'},
		{"from-sources", no_argument, NULL, 's'}, {"json", no_argument, NULL, 'j'},
		{"csv", no_argument, NULL, 'c'},        {NULL, 0, NULL, 0},
	};
	const char *farm = NULL, *from = NULL, *to = NULL, *lotarg = NULL;
	char gtin[15], lot[LOT_MAX], *json = NULL;
	struct db *db = NULL;
	int c, as_json = 0, csv = 0, sources = 0, got, rc = CLI_FAIL;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			farm = optarg;
			break;
		case 'a':
			from = optarg;
			break;
		case 'b':
			to = optarg;
			break;
		case 'l':
			lotarg = optarg;
			break;
		case 's':
			sources = 1;
			break;
		case 'j':
			as_json = 1;
			break;
		case 'c':
			csv = 1;
			break;
		default:
			return cli_usage(cmd, NULL);
		}
	}
	if (argc - optind != 0)
		return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (as_json && csv)
		return cli_usage(cmd, "--json and --csv exclude each other");
	if ((farm != NULL) == (lotarg != NULL))
		return cli_usage(cmd, "give either --farm GLN --from DATE --to DATE or --lot LOT");
	if (farm) {
		if (!cli_gln_ok(farm))
			return cli_usage(cmd, "--farm '%s' is not a GLN: 13 digits with a valid GS1 "
					      "check digit",
					 farm);
		if (!from || !to || !cli_date_ok(from) || !cli_date_ok(to))
			return cli_usage(cmd, "--farm needs --from DATE and --to DATE (YYYY-MM-DD, "
					      "harvest days, inclusive)");
		if (strcmp(from, to) > 0)
			return cli_usage(cmd, "--from %s is after --to %s", from, to);
		if (sources)
			return cli_usage(cmd, "--from-sources goes with --lot");
	} else {
		if (from || to)
			return cli_usage(cmd, "--from/--to go with --farm");
		if (cli_parse_lot(cmd, "--lot", lotarg, gtin, lot, sizeof(lot)) < 0)
			return CLI_USAGE;
	}
	if (cli_connect(&db) < 0)
		return CLI_FAIL;
	if (farm) {
		int found;

		if (cli_exists(db, sql_site_exists, farm, &found) < 0)
			goto out;
		if (!found) {
			cli_fail(cmd, "farm %s not found", farm);
			goto out;
		}
	}
	got = farm ? trace_fetch_recall_farm(db, farm, from, to, &json)
		   : trace_fetch_recall_lot(db, gtin, lot, sources, &json);
	if (got == TRACE_NOT_FOUND) {
		cli_fail(cmd, "lot %s/%s not found", gtin, lot);
	} else if (got == 0 && csv) {
		struct db_res *r = NULL;
		const char *p[1] = {json};

		if (db_exec(db, sql_recall_csv, 1, p, &r) == 0) {
			fputs(db_res_get(r, 0, 0), stdout);
			rc = fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
		}
		db_res_free(r);
	} else if (got == 0) {
		rc = cli_print_json(db, json, sql_recall_text, as_json);
	}
out:
	free(json);
	db_free(db);
	return rc;
}
