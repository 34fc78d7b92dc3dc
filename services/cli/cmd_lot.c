/*
 * cmd_lot: traceability master data and the critical tracking events entered by hand:
 * `coldtrace product add`, `site register`, `cert add`, `lot harvest|cool|pack|transform|
 * show|list|publish` and `pallet build`. The events are recorded by the ct_record_*
 * functions of sql/trace.sql (one statement, one transaction each), in the EPCIS model with
 * origin 'cli': harvest = ObjectEvent ADD commissioning at the farm, cooling = ObjectEvent
 * OBSERVE storing with the cooling method, packing and transformations =
 * TransformationEvent, pallets = AggregationEvent ADD. Their event key is a digest of the
 * canonical arguments, so running a command again records nothing new and says so.
 *
 * A LOT argument is GTIN/LOT or a GS1 Digital Link URI (…/01/GTIN/10/LOT); GTIN-8/12/13
 * become 14 digits; GS1 check digits of GTINs, GLNs and SSCCs are verified before anything
 * reaches the database (exit 2 naming the argument). Lists of lots travel to PostgreSQL as
 * text[] literals (array_literal below) and become JSON there.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "gs1.h"
#include "trace.h"

static const char *const sql_org_id = "SELECT id FROM coldtrace.organisations WHERE name = $1";
static const char *const sql_product_add =
	"INSERT INTO coldtrace.products (gtin, description, commodity, owner_org_id)"
	" VALUES ($1, $2, $3, $4::bigint) ON CONFLICT (gtin) DO NOTHING RETURNING gtin";
static const char *const sql_commodity_exists =
	"SELECT 1 FROM coldtrace.commodities WHERE code = $1";
static const char *const sql_site_exists = "SELECT 1 FROM coldtrace.sites WHERE gln = $1";
static const char *const sql_register =
	"INSERT INTO coldtrace.registrations (site_gln, scheme, ident) VALUES ($1, $2, $3)"
	" ON CONFLICT (site_gln, scheme) DO UPDATE SET ident = EXCLUDED.ident"
	" RETURNING (xmax <> 0)::text";
static const char *const sql_cert_add =
	"INSERT INTO coldtrace.certifications (site_gln, scheme, number, issuer, valid_from,"
	"                                      valid_to)"
	" VALUES ($1, $2, $3, $4, $5::date, $6::date)"
	" ON CONFLICT (site_gln, scheme, number) DO UPDATE"
	"   SET issuer = EXCLUDED.issuer, valid_from = EXCLUDED.valid_from,"
	"       valid_to = EXCLUDED.valid_to"
	" RETURNING (xmax <> 0)::text";
/* Every recorder answers one jsonb: {"created", "event_id", "event_key"} or {"error", "code"}. */
#define RECORD_COLUMNS "SELECT r->>'error', r->>'code', r->>'created', r->>'event_id', r::text FROM "
static const char *const sql_harvest =
	RECORD_COLUMNS "coldtrace.ct_record_harvest($1, $2, $3, $4, $5::timestamptz, $6,"
		       " $7::numeric, $8, $9::timestamptz, $10) r";
static const char *const sql_cool =
	RECORD_COLUMNS "coldtrace.ct_record_cooling($1, $2, $3, $4::timestamptz, $5, $6) r";
/* $2/$3/$4/$5 and $6/$7/$8/$9: gtins, lots, quantities, uoms of the inputs and outputs. */
static const char *const sql_transform =
	RECORD_COLUMNS "coldtrace.ct_record_transformation($1,"
		       " (SELECT jsonb_agg(jsonb_build_object('gtin', g, 'lot', l,"
		       "        'quantity', q::numeric, 'uom', coalesce(u, (SELECT x.uom FROM"
		       "        coldtrace.lots x WHERE x.gtin = g AND x.lot = l AND q IS NOT NULL))))"
		       "    FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS t(g, l, q, u)),"
		       " (SELECT jsonb_agg(jsonb_build_object('gtin', g, 'lot', l,"
		       "        'quantity', q::numeric, 'uom', u))"
		       "    FROM unnest($6::text[], $7::text[], $8::text[], $9::text[]) AS t(g, l, q, u)),"
		       " $10, $11::timestamptz, $12, $13::date) r";
static const char *const sql_pallet =
	RECORD_COLUMNS "coldtrace.ct_record_aggregation($1,"
		       " (SELECT jsonb_agg(jsonb_build_object('gtin', g, 'lot', l,"
		       "        'quantity', q::numeric, 'uom', (SELECT x.uom FROM coldtrace.lots x"
		       "        WHERE x.gtin = g AND x.lot = l)))"
		       "    FROM unnest($2::text[], $3::text[], $4::text[]) AS t(g, l, q)),"
		       " $5, $6::timestamptz, $7) r";
static const char *const sql_lot_list =
	"SELECT coalesce(json_agg(json_build_object("
	"    'gtin', l.gtin, 'lot', l.lot, 'product', p.description, 'farm_gln', l.farm_gln,"
	"    'field', l.field, 'harvest_start', coldtrace.ct_json_time(l.harvest_start),"
	"    'best_before', l.best_before, 'quantity', l.quantity, 'uom', l.uom,"
	"    'public', l.public) ORDER BY l.gtin, l.lot), '[]')"
	"  FROM coldtrace.lots l LEFT JOIN coldtrace.products p ON p.gtin = l.gtin";
static const char *const sql_lot_show_text =
	"SELECT json_build_object("
	"    'lot', d->>'gtin' || '/' || (d->>'lot'), 'product', d->>'product',"
	"    'commodity', d->>'commodity', 'farm_gln', d->>'farm_gln', 'field', d->>'field',"
	"    'harvest_start', d->>'harvest_start', 'harvest_end', d->>'harvest_end',"
	"    'best_before', d->>'best_before', 'country', d->>'country',"
	"    'quantity', d->>'quantity', 'uom', d->>'uom', 'public', d->>'public',"
	"    'events', coalesce((SELECT json_agg(json_build_object("
	"        'time', e->>'time', 'cte', e->>'cte', 'type', e->>'type',"
	"        'site', coalesce(e->>'site_name', e->>'site_gln'), 'shipment', e->>'shipment_id',"
	"        'origin', e->>'origin', 'id', e->>'id')) FROM jsonb_array_elements(d->'events') e),"
	"        '[]'::json))"
	"  FROM (SELECT $1::jsonb AS d) x";
static const char *const sql_publish =
	"UPDATE coldtrace.lots SET public = $3::boolean WHERE gtin = $1 AND lot = $2 RETURNING 1";

#define LOT_MAX 64 /* a lot code is at most 20 characters; room for a clear message */
#define MAX_ITEMS 256

/* One lot of a list option (--from, --in, --out, --lot): "LOT[:QTY]". */
struct lot_item {
	char gtin[15];
	char lot[LOT_MAX];
	char qty[32];
	int has_qty;
};

struct lot_list {
	struct lot_item items[MAX_ITEMS];
	int n;
};

/* Appends s to a PostgreSQL array literal being built in buf: every element double-quoted,
 * '"' and '\' escaped; NULL as the unquoted NULL. -1 when it does not fit. */
static int array_add(char *buf, size_t cap, size_t *len, const char *s)
{
	size_t n = *len;

	if (n + 2 > cap)
		return -1;
	buf[n] = n == 0 ? '{' : ',';
	n++;
	if (!s) {
		if (n + 5 > cap)
			return -1;
		memcpy(buf + n, "NULL", 4);
		n += 4;
	} else {
		buf[n++] = '"';
		for (; *s; s++) {
			if (n + 4 > cap)
				return -1;
			if (*s == '"' || *s == '\\')
				buf[n++] = '\\';
			buf[n++] = *s;
		}
		if (n + 2 > cap)
			return -1;
		buf[n++] = '"';
	}
	buf[n] = '\0';
	*len = n;
	return 0;
}

static void array_end(char *buf, size_t cap, size_t *len)
{
	if (*len == 0)
		snprintf(buf, cap, "{}");
	else if (*len + 2 <= cap) {
		buf[(*len)++] = '}';
		buf[*len] = '\0';
	}
}

/* 1 when s is a positive decimal quantity (digits with at most one '.'). */
static int qty_ok(const char *s)
{
	int digits = 0, dot = 0, nonzero = 0;

	for (const char *p = s; *p; p++) {
		if (*p >= '0' && *p <= '9') {
			digits++;
			nonzero |= *p != '0';
		} else if (*p == '.' && !dot)
			dot = 1;
		else
			return 0;
	}
	return digits > 0 && digits <= 18 && nonzero && s[0] != '.' && s[strlen(s) - 1] != '.';
}

/* 1 when s is a UN/ECE unit code as EPCIS uses them (KGM, CS, H87): 1-3 of [A-Z0-9]. */
static int uom_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 3)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return 1;
}

static int add_item(const struct cli_cmd *cmd, const char *opt, const char *arg,
		    int need_qty, struct lot_list *list)
{
	char buf[512];
	const char *item, *qty;
	struct lot_item *it;

	if (list->n >= MAX_ITEMS) {
		cli_usage(cmd, "%s: at most %d lots", opt, MAX_ITEMS);
		return -1;
	}
	if (trace_split_qty(arg, buf, sizeof(buf), &item, &qty) < 0) {
		cli_usage(cmd, "%s '%s': too long", opt, arg);
		return -1;
	}
	it = &list->items[list->n];
	if (cli_parse_lot(cmd, opt, item, it->gtin, it->lot, sizeof(it->lot)) < 0)
		return -1;
	it->has_qty = qty != NULL;
	if (qty && !qty_ok(qty)) {
		cli_usage(cmd, "%s '%s': the quantity must be a positive number", opt, arg);
		return -1;
	}
	if (need_qty && !qty) {
		cli_usage(cmd, "%s '%s': expected LOT:QTY (e.g. 19521234000010/GZ240501A:60)", opt,
			  arg);
		return -1;
	}
	snprintf(it->qty, sizeof(it->qty), "%s", qty ? qty : "");
	list->n++;
	return 0;
}

/* The four array literals (gtins, lots, quantities, uoms) of a list; uom is the same for
 * every element (NULL: none). buffers of cap bytes each. */
static int list_arrays(const struct lot_list *list, const char *uom, char *g, char *l,
		       char *q, char *u, size_t cap)
{
	size_t gn = 0, ln = 0, qn = 0, un = 0;

	for (int i = 0; i < list->n; i++) {
		const struct lot_item *it = &list->items[i];

		if (array_add(g, cap, &gn, it->gtin) < 0 || array_add(l, cap, &ln, it->lot) < 0 ||
		    array_add(q, cap, &qn, it->has_qty ? it->qty : NULL) < 0 ||
		    array_add(u, cap, &un, uom) < 0)
			return -1;
	}
	array_end(g, cap, &gn);
	array_end(l, cap, &ln);
	array_end(q, cap, &qn);
	array_end(u, cap, &un);
	return 0;
}

/* Runs a recorder and reports: the JSON answer (--json) or one line naming what. */
static int run_record(const struct cli_cmd *cmd, const char *sql, int n,
		      const char *const *params, const char *what, int as_json)
{
	struct db *db = NULL;
	struct db_res *r = NULL;
	const char *err, *code;
	int rc = CLI_FAIL;

	if (cli_connect(&db) < 0)
		return CLI_FAIL;
	if (db_exec(db, sql, n, params, &r) < 0) {
		cli_fail(cmd, "%s: not recorded (database error above)", what);
		goto out;
	}
	err = db_res_get(r, 0, 0);
	code = db_res_get(r, 0, 1);
	if (err) {
		rc = code && strcmp(code, "invalid") == 0 ? cli_usage(cmd, "%s", err)
							  : cli_fail(cmd, "%s", err);
		goto out;
	}
	if (as_json)
		printf("%s\n", db_res_get(r, 0, 4));
	else if (strcmp(db_res_get(r, 0, 2), "true") == 0)
		printf("%s recorded (event %s)\n", what, db_res_get(r, 0, 3));
	else
		printf("%s already recorded (event %s): nothing changed\n", what,
		       db_res_get(r, 0, 3));
	rc = CLI_OK;
out:
	db_res_free(r);
	db_free(db);
	return rc;
}

/* Checks a TIME option and derives its offset. -1 after printing. */
static int time_arg(const struct cli_cmd *cmd, const char *opt, const char *v, char tz[7])
{
	if (!v) {
		cli_usage(cmd, "%s TIME is required (RFC 3339, e.g. 2024-05-01T06:30:00+08:00)", opt);
		return -1;
	}
	if (!cli_time_ok(v) || trace_tz_offset(v, tz) < 0) {
		cli_usage(cmd, "%s '%s' is not an RFC 3339 time with an offset "
			       "(2024-05-01T06:30:00+08:00 or …Z)",
			  opt, v);
		return -1;
	}
	return 0;
}

static int gln_arg(const struct cli_cmd *cmd, const char *opt, const char *v)
{
	if (!v) {
		cli_usage(cmd, "%s GLN is required", opt);
		return -1;
	}
	if (!cli_gln_ok(v)) {
		cli_usage(cmd, "%s '%s' is not a GLN: 13 digits with a valid GS1 check digit", opt, v);
		return -1;
	}
	return 0;
}

/* ---- product, registration, certification ------------------------------------------- */

int cmd_lot_product_add(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"description", required_argument, NULL, 'd'},
		{"commodity", required_argument, NULL, 'c'},
		{"org", required_argument, NULL, 'o'},
		{NULL, 0, NULL, 0},
	};
	const char *desc = NULL, *commodity = NULL, *org = NULL;
	char gtin[15], org_buf[32];
	struct db *db = NULL;
	struct db_res *r = NULL;
	int c, found, rc = CLI_FAIL;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			desc = optarg;
			break;
		case 'c':
			commodity = optarg;
			break;
		case 'o':
			org = optarg;
			break;
		default:
			return cli_usage(cmd, NULL);
		}
	}
	if (argc - optind != 1)
		return cli_usage(cmd, "expected one GTIN");
	if (trace_gtin_normalise(argv[optind], gtin) < 0)
		return cli_usage(cmd, "GTIN '%s' is not 8, 12, 13 or 14 digits with a valid GS1 "
				      "check digit",
				 argv[optind]);
	if (!desc || !cli_text_ok(desc, 200))
		return cli_usage(cmd, "--description is required: 1-200 characters");
	if (cli_connect(&db) < 0)
		return CLI_FAIL;
	if (commodity) {
		if (cli_exists(db, sql_commodity_exists, commodity, &found) < 0)
			goto out;
		if (!found) {
			rc = cli_usage(cmd, "--commodity '%s' is not a known commodity code "
					    "(e.g. CHOY_SUM)",
				       commodity);
			goto out;
		}
	}
	if (org) {
		if (db_exec(db, sql_org_id, 1, &org, &r) < 0)
			goto out;
		if (db_res_rows(r) == 0) {
			cli_fail(cmd, "--org: organisation '%s' not found (add it with coldtrace "
				      "org add)",
				 org);
			goto out;
		}
		snprintf(org_buf, sizeof(org_buf), "%s", db_res_get(r, 0, 0));
		db_res_free(r);
		r = NULL;
	}
	const char *params[4] = {gtin, desc, commodity, org ? org_buf : NULL};

	if (db_exec(db, sql_product_add, 4, params, &r) < 0)
		goto out;
	if (db_res_rows(r) == 0) {
		cli_fail(cmd, "product %s already exists", gtin);
		goto out;
	}
	printf("product %s added\n", gtin);
	rc = CLI_OK;
out:
	db_res_free(r);
	db_free(db);
	return rc;
}

/* Registrations and certifications name a site that must exist: said by name, not as a
 * foreign-key error. */
static int site_known(const struct cli_cmd *cmd, struct db *db, const char *gln)
{
	int found;

	if (cli_exists(db, sql_site_exists, gln, &found) < 0)
		return -1;
	if (!found) {
		cli_fail(cmd, "site %s not found (add it with coldtrace site add)", gln);
		return -1;
	}
	return 0;
}

int cmd_lot_site_register(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"scheme", required_argument, NULL, 's'},
		{"id", required_argument, NULL, 'i'},
		{NULL, 0, NULL, 0},
	};
	const char *scheme = NULL, *ident = NULL, *gln;
	struct db *db = NULL;
	struct db_res *r = NULL;
	int c, rc = CLI_FAIL;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 's')
			scheme = optarg;
		else if (c == 'i')
			ident = optarg;
		else
			return cli_usage(cmd, NULL);
	}
	if (argc - optind != 1)
		return cli_usage(cmd, "expected one GLN");
	gln = argv[optind];
	if (gln_arg(cmd, "GLN", gln) < 0)
		return CLI_USAGE;
	if (!scheme || strlen(scheme) < 1 || strlen(scheme) > 32 ||
	    strspn(scheme, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(scheme))
		return cli_usage(cmd, "--scheme is required: 1-32 of [a-z0-9_], e.g. "
				      "gba_supply_base or ffrn");
	if (!ident || !cli_text_ok(ident, 64))
		return cli_usage(cmd, "--id is required: 1-64 characters");
	if (cli_connect(&db) < 0)
		return CLI_FAIL;
	if (site_known(cmd, db, gln) < 0)
		goto out;
	const char *params[3] = {gln, scheme, ident};

	if (db_exec(db, sql_register, 3, params, &r) < 0)
		goto out;
	printf("site %s: %s %s %s\n", gln, scheme, ident,
	       strcmp(db_res_get(r, 0, 0), "true") == 0 ? "updated" : "registered");
	rc = CLI_OK;
out:
	db_res_free(r);
	db_free(db);
	return rc;
}

int cmd_lot_cert_add(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"scheme", required_argument, NULL, 's'},
		{"number", required_argument, NULL, 'n'},
		{"issuer", required_argument, NULL, 'i'},
		{"valid-from", required_argument, NULL, 'f'},
		{"valid-to", required_argument, NULL, 't'},
		{NULL, 0, NULL, 0},
	};
	const char *scheme = NULL, *number = NULL, *issuer = NULL, *from = NULL, *to = NULL;
	const char *gln;
	struct db *db = NULL;
	struct db_res *r = NULL;
	int c, rc = CLI_FAIL;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			scheme = optarg;
			break;
		case 'n':
			number = optarg;
			break;
		case 'i':
			issuer = optarg;
			break;
		case 'f':
			from = optarg;
			break;
		case 't':
			to = optarg;
			break;
		default:
			return cli_usage(cmd, NULL);
		}
	}
	if (argc - optind != 1)
		return cli_usage(cmd, "expected one GLN");
	gln = argv[optind];
	if (gln_arg(cmd, "GLN", gln) < 0)
		return CLI_USAGE;
	if (!scheme || !cli_text_ok(scheme, 64))
		return cli_usage(cmd, "--scheme is required: 1-64 characters (e.g. 圳品)");
	if (!number || !cli_text_ok(number, 64))
		return cli_usage(cmd, "--number is required: 1-64 characters");
	if (issuer && !cli_text_ok(issuer, 200))
		return cli_usage(cmd, "--issuer: 1-200 characters");
	if ((from && !cli_date_ok(from)) || (to && !cli_date_ok(to)))
		return cli_usage(cmd, "--valid-from/--valid-to are dates: YYYY-MM-DD");
	if (from && to && strcmp(from, to) > 0)
		return cli_usage(cmd, "--valid-from %s is after --valid-to %s", from, to);
	if (cli_connect(&db) < 0)
		return CLI_FAIL;
	if (site_known(cmd, db, gln) < 0)
		goto out;
	const char *params[6] = {gln, scheme, number, issuer, from, to};

	if (db_exec(db, sql_cert_add, 6, params, &r) < 0)
		goto out;
	printf("site %s: certification %s %s %s\n", gln, scheme, number,
	       strcmp(db_res_get(r, 0, 0), "true") == 0 ? "updated" : "added");
	rc = CLI_OK;
out:
	db_res_free(r);
	db_free(db);
	return rc;
}

/* ---- lot events ------------------------------------------------------------------------ */

int cmd_lot_harvest(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"farm", required_argument, NULL, 'f'}, {"field", required_argument, NULL, 'F'},
		{"at", required_argument, NULL, 'a'},   {"end", required_argument, NULL, 'e'},
		{"qty", required_argument, NULL, 'q'},  {"uom", required_argument, NULL, 'u'},
		{"country", required_argument, NULL, 'c'}, {"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	const char *farm = NULL, *field = NULL, *at = NULL, *end = NULL, *qty = NULL;
	const char *uom = NULL, *country = NULL;
	char gtin[15], lot[LOT_MAX], tz[7], etz[7], what[128];
	int c, as_json = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			farm = optarg;
			break;
		case 'F':
			field = optarg;
			break;
		case 'a':
			at = optarg;
			break;
		case 'e':
			end = optarg;
			break;
		case 'q':
			qty = optarg;
			break;
		case 'u':
			uom = optarg;
			break;
		case 'c':
			country = optarg;
			break;
		case 'j':
			as_json = 1;
			break;
		default:
			return cli_usage(cmd, NULL);
		}
	}
	if (argc - optind != 1)
		return cli_usage(cmd, "expected one LOT (GTIN/LOT or a Digital Link URI)");
	if (cli_parse_lot(cmd, "LOT", argv[optind], gtin, lot, sizeof(lot)) < 0)
		return CLI_USAGE;
	if (gln_arg(cmd, "--farm", farm) < 0 || time_arg(cmd, "--at", at, tz) < 0 ||
	    (end && time_arg(cmd, "--end", end, etz) < 0))
		return CLI_USAGE;
	if (!field || !cli_text_ok(field, 64))
		return cli_usage(cmd, "--field is required: the field or growing area as the "
				      "grower names it (1-64 characters)");
	if (!qty || !qty_ok(qty))
		return cli_usage(cmd, "--qty is required: a positive number");
	if (!uom || !uom_ok(uom))
		return cli_usage(cmd, "--uom is required: a UN/ECE unit code such as KGM or CS");
	if (country && (strlen(country) != 2 || strspn(country, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 2))
		return cli_usage(cmd, "--country '%s' is not an ISO 3166 alpha-2 code (CN)", country);
	snprintf(what, sizeof(what), "harvest of %s/%s", gtin, lot);
	const char *params[10] = {gtin, lot, farm, field, at, tz, qty, uom, end, country};

	return run_record(cmd, sql_harvest, 10, params, what, as_json);
}

int cmd_lot_cool(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"at", required_argument, NULL, 'a'},
		{"start", required_argument, NULL, 's'},
		{"method", required_argument, NULL, 'm'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	static const char *const methods[] = {"forced_air", "hydro", "vacuum", "ice", "room", NULL};
	const char *site = NULL, *start = NULL, *method = NULL;
	char gtin[15], lot[LOT_MAX], tz[7], what[128];
	int c, as_json = 0, ok = 0;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			site = optarg;
			break;
		case 's':
			start = optarg;
			break;
		case 'm':
			method = optarg;
			break;
		case 'j':
			as_json = 1;
			break;
		default:
			return cli_usage(cmd, NULL);
		}
	}
	if (argc - optind != 1)
		return cli_usage(cmd, "expected one LOT (GTIN/LOT or a Digital Link URI)");
	if (cli_parse_lot(cmd, "LOT", argv[optind], gtin, lot, sizeof(lot)) < 0)
		return CLI_USAGE;
	if (gln_arg(cmd, "--at", site) < 0 || time_arg(cmd, "--start", start, tz) < 0)
		return CLI_USAGE;
	for (int i = 0; method && methods[i]; i++)
		ok |= strcmp(method, methods[i]) == 0;
	if (method && !ok)
		return cli_usage(cmd, "--method '%s' is not one of forced_air|hydro|vacuum|ice|room",
				 method);
	snprintf(what, sizeof(what), "cooling of %s/%s", gtin, lot);
	const char *params[6] = {gtin, lot, site, start, tz, method};

	return run_record(cmd, sql_cool, 6, params, what, as_json);
}

/* `lot pack` (one output, the positional LOT with --qty) and `lot transform` (--out list). */
static int transform(const struct cli_cmd *cmd, int argc, char **argv, int pack)
{
	static const struct option opts[] = {
		{"from", required_argument, NULL, 'i'},	       {"in", required_argument, NULL, 'i'},
		{"out", required_argument, NULL, 'o'},	       {"at", required_argument, NULL, 'a'},
		{"time", required_argument, NULL, 't'},	       {"qty", required_argument, NULL, 'q'},
		{"uom", required_argument, NULL, 'u'},	       {"kind", required_argument, NULL, 'k'},
		{"best-before", required_argument, NULL, 'b'}, {"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	static struct lot_list in, out;
	const char *site = NULL, *when = NULL, *qty = NULL, *uom = NULL, *kind = NULL;
	const char *best = NULL;
	char tz[7], what[160];
	enum { CAP = MAX_ITEMS * 48 };
	static char ig[CAP], il[CAP], iq[CAP], iu[CAP], og[CAP], ol[CAP], oq[CAP], ou[CAP];
	int c, as_json = 0;

	in.n = out.n = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (add_item(cmd, pack ? "--from" : "--in", optarg, !pack, &in) < 0)
				return CLI_USAGE;
			break;
		case 'o':
			if (pack)
				return cli_usage(cmd, "--out is for lot transform; lot pack makes LOT");
			if (add_item(cmd, "--out", optarg, 1, &out) < 0)
				return CLI_USAGE;
			break;
		case 'a':
			site = optarg;
			break;
		case 't':
			when = optarg;
			break;
		case 'q':
			qty = optarg;
			break;
		case 'u':
			uom = optarg;
			break;
		case 'k':
			kind = optarg;
			break;
		case 'b':
			best = optarg;
			break;
		case 'j':
			as_json = 1;
			break;
		default:
			return cli_usage(cmd, NULL);
		}
	}
	if (pack) {
		if (argc - optind != 1)
			return cli_usage(cmd, "expected one LOT: the packed lot");
		if (!qty || !qty_ok(qty))
			return cli_usage(cmd, "--qty is required: how many were packed");
		if (add_item(cmd, "LOT", argv[optind], 0, &out) < 0)
			return CLI_USAGE;
		snprintf(out.items[0].qty, sizeof(out.items[0].qty), "%s", qty);
		out.items[0].has_qty = 1;
		kind = "pack";
	} else {
		if (argc - optind != 0)
			return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
		if (qty)
			return cli_usage(cmd, "--qty is for lot pack; give LOT:QTY to --out");
		if (out.n == 0)
			return cli_usage(cmd, "--out LOT:QTY is required (once per output lot)");
		if (!kind)
			kind = in.n == 1 && out.n > 1 ? "split" : in.n > 1 && out.n == 1 ? "merge"
											 : "repack";
		if (strcmp(kind, "repack") != 0 && strcmp(kind, "split") != 0 &&
		    strcmp(kind, "merge") != 0)
			return cli_usage(cmd, "--kind '%s' is not one of repack|split|merge", kind);
	}
	if (in.n == 0)
		return cli_usage(cmd, "%s LOT is required (once per input lot)",
				 pack ? "--from" : "--in");
	if (gln_arg(cmd, "--at", site) < 0 || time_arg(cmd, "--time", when, tz) < 0)
		return CLI_USAGE;
	if (uom && !uom_ok(uom))
		return cli_usage(cmd, "--uom '%s' is not a UN/ECE unit code such as CS or KGM", uom);
	if (best && !cli_date_ok(best))
		return cli_usage(cmd, "--best-before '%s' is not a date YYYY-MM-DD", best);
	if (list_arrays(&in, NULL, ig, il, iq, iu, CAP) < 0 ||
	    list_arrays(&out, uom, og, ol, oq, ou, CAP) < 0)
		return cli_usage(cmd, "too many lots");
	if (pack)
		snprintf(what, sizeof(what), "packing of %s/%s", out.items[0].gtin,
			 out.items[0].lot);
	else
		snprintf(what, sizeof(what), "%s of %d lot%s into %d", kind, in.n,
			 in.n == 1 ? "" : "s", out.n);
	const char *params[13] = {kind, ig, il, iq, iu, og, ol, oq, ou, site, when, tz, best};

	return run_record(cmd, sql_transform, 13, params, what, as_json);
}

int cmd_lot_pack(const struct cli_cmd *cmd, int argc, char **argv)
{
	return transform(cmd, argc, argv, 1);
}

int cmd_lot_transform(const struct cli_cmd *cmd, int argc, char **argv)
{
	return transform(cmd, argc, argv, 0);
}

int cmd_lot_pallet_build(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"lot", required_argument, NULL, 'l'},
		{"at", required_argument, NULL, 'a'},
		{"time", required_argument, NULL, 't'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	static struct lot_list kids;
	enum { CAP = MAX_ITEMS * 48 };
	static char g[CAP], l[CAP], q[CAP], u[CAP];
	const char *site = NULL, *when = NULL, *sscc;
	char tz[7], what[64];
	int c, as_json = 0;

	kids.n = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (add_item(cmd, "--lot", optarg, 1, &kids) < 0)
				return CLI_USAGE;
			break;
		case 'a':
			site = optarg;
			break;
		case 't':
			when = optarg;
			break;
		case 'j':
			as_json = 1;
			break;
		default:
			return cli_usage(cmd, NULL);
		}
	}
	if (argc - optind != 1)
		return cli_usage(cmd, "expected one SSCC");
	sscc = argv[optind];
	if (strlen(sscc) != 18 || !gs1_check_digit_ok(sscc, 18))
		return cli_usage(cmd, "SSCC '%s' is not 18 digits with a valid GS1 check digit",
				 sscc);
	if (kids.n == 0)
		return cli_usage(cmd, "--lot LOT:QTY is required (once per lot on the pallet)");
	if (gln_arg(cmd, "--at", site) < 0 || time_arg(cmd, "--time", when, tz) < 0)
		return CLI_USAGE;
	if (list_arrays(&kids, NULL, g, l, q, u, CAP) < 0)
		return cli_usage(cmd, "too many lots");
	snprintf(what, sizeof(what), "pallet %s", sscc);
	const char *params[7] = {sscc, g, l, q, site, when, tz};

	return run_record(cmd, sql_pallet, 7, params, what, as_json);
}

/* ---- reading and publishing ------------------------------------------------------------ */

static int json_flag_only(const struct cli_cmd *cmd, int argc, char **argv, int *as_json)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	int c;

	*as_json = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j')
			return cli_usage(cmd, NULL);
		*as_json = 1;
	}
	return CLI_OK;
}

int cmd_lot_show(const struct cli_cmd *cmd, int argc, char **argv)
{
	char gtin[15], lot[LOT_MAX], *json = NULL;
	struct db *db = NULL;
	int as_json, rc = json_flag_only(cmd, argc, argv, &as_json), got;

	if (rc != CLI_OK)
		return rc;
	if (argc - optind != 1)
		return cli_usage(cmd, "expected one LOT (GTIN/LOT or a Digital Link URI)");
	if (cli_parse_lot(cmd, "LOT", argv[optind], gtin, lot, sizeof(lot)) < 0)
		return CLI_USAGE;
	if (cli_connect(&db) < 0)
		return CLI_FAIL;
	rc = CLI_FAIL;
	got = trace_fetch_lot(db, gtin, lot, &json);
	if (got == TRACE_NOT_FOUND) {
		cli_fail(cmd, "lot %s/%s not found", gtin, lot);
		goto out;
	}
	if (got < 0)
		goto out;
	rc = cli_print_json(db, json, sql_lot_show_text, as_json);
out:
	free(json);
	db_free(db);
	return rc;
}

int cmd_lot_list(const struct cli_cmd *cmd, int argc, char **argv)
{
	struct db *db = NULL;
	int as_json, rc = json_flag_only(cmd, argc, argv, &as_json);

	if (rc != CLI_OK)
		return rc;
	if (argc - optind != 0)
		return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (cli_connect(&db) < 0)
		return CLI_FAIL;
	rc = cli_print_query(db, sql_lot_list, 0, NULL, as_json) == 0 ? CLI_OK : CLI_FAIL;
	db_free(db);
	return rc;
}

int cmd_lot_publish(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"private", no_argument, NULL, 'p'},
		{NULL, 0, NULL, 0},
	};
	char gtin[15], lot[LOT_MAX];
	struct db *db = NULL;
	struct db_res *r = NULL;
	int c, private = 0, rc = CLI_FAIL;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'p')
			return cli_usage(cmd, NULL);
		private = 1;
	}
	if (argc - optind != 1)
		return cli_usage(cmd, "expected one LOT (GTIN/LOT or a Digital Link URI)");
	if (cli_parse_lot(cmd, "LOT", argv[optind], gtin, lot, sizeof(lot)) < 0)
		return CLI_USAGE;
	if (cli_connect(&db) < 0)
		return CLI_FAIL;
	const char *params[3] = {gtin, lot, private ? "false" : "true"};

	if (db_exec(db, sql_publish, 3, params, &r) < 0)
		goto out;
	if (db_res_rows(r) == 0) {
		cli_fail(cmd, "lot %s/%s not found", gtin, lot);
		goto out;
	}
	printf("lot %s/%s is %s\n", gtin, lot, private ? "private" : "public");
	rc = CLI_OK;
out:
	db_res_free(r);
	db_free(db);
	return rc;
}
