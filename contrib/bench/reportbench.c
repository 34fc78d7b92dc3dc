/*
 * reportbench: how long a buyer report takes to render, through report_render() (the code
 * `coldtrace report` and the HTTP API run), against a real database. It can build its own lot
 * first: shipment BENCH-R carrying lot 06970000000123/BENCH-1, READINGS readings 30 s apart
 * from 2026-10-01 with a warm spell and a one-hour gap (what a long multi-day history looks
 * like to the renderer). Prints one JSON object on standard output; progress on stderr.
 *
 *   reportbench [--readings N] [--renders M] [--lot GTIN/LOT | --shipment ID]
 *               [--format html|csv|epcis] [--lang en|zh-Hans|zh-Hant] [--conninfo STR]
 *
 *   --readings N    build the bench lot with N readings first (idempotent: readings already
 *                   there are kept); 0 (default): use what the database holds
 *   --renders M     renders to time (default 9); p50 and max are reported
 *   --lot/--shipment  the scope (default: the bench lot 06970000000123/BENCH-1)
 *   --conninfo      libpq conninfo (default empty: PGHOST, PGPORT, PGDATABASE, PGUSER, .pgpass)
 *
 * The database must have coldtrace's schema (`coldtrace db migrate`). Reports are unsigned:
 * signing is a hash and one Ed25519 signature, microseconds, not what is measured here.
 * Exit 0, 1 (database or render error, or the scope not found), 2 (usage).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "report.h"
#include "report_data.h"
#include "trace.h"

#define BENCH_GTIN "06970000000123"
#define BENCH_LOT "BENCH-1"

static const char *const sql_setup[] = {
    "INSERT INTO coldtrace.sites (gln, name, kind, lat, lon) VALUES "
    "('6970000000017', 'Guiyang packhouse', 'packhouse', 26.5965, 106.7085), "
    "('6970000000024', 'Guangzhou DC', 'dc', 23.1729, 113.3538) ON CONFLICT DO NOTHING",
    "INSERT INTO coldtrace.products (gtin, description, commodity) VALUES "
    "('" BENCH_GTIN "', 'Choy sum, 5 kg case', 'CHOY_SUM') ON CONFLICT DO NOTHING",
    "INSERT INTO coldtrace.lots (gtin, lot, quantity, uom) VALUES "
    "('" BENCH_GTIN "', '" BENCH_LOT "', 120, 'CS') ON CONFLICT DO NOTHING",
    "INSERT INTO coldtrace.shipments (id, origin_gln, destination_gln, commodity, status) "
    "VALUES ('BENCH-R', '6970000000017', '6970000000024', 'CHOY_SUM', 'delivered') "
    "ON CONFLICT DO NOTHING",
    "INSERT INTO coldtrace.trace_events (event_key, origin, type, action, biz_step, "
    "  disposition, event_time, tz_offset, site_gln, src_gln, dest_gln, shipment_id) "
    "VALUES ('urn:coldtrace:bench:load', 'cli', 'ObjectEvent', 'OBSERVE', 'shipping', "
    "  'in_transit', '2026-10-01T00:00:00Z', '+08:00', '6970000000017', '6970000000017', "
    "  '6970000000024', 'BENCH-R') ON CONFLICT DO NOTHING",
    "INSERT INTO coldtrace.trace_items (event_id, ord, role, gtin, lot, quantity, uom) "
    "SELECT id, 1, 'what', '" BENCH_GTIN "', '" BENCH_LOT "', 120, 'CS' "
    "  FROM coldtrace.trace_events WHERE event_key = 'urn:coldtrace:bench:load' "
    "ON CONFLICT DO NOTHING",
};

static const char *const sql_readings =
    "INSERT INTO coldtrace.readings (device_id, seq, measured_at, received_at, shipment_id, "
    "  t_supply, t_return, t_product, t_ambient, lat, lon) "
    "SELECT 'bench-dev', g, t, t, 'BENCH-R', 1 + 0.5 * sin(g / 40.0), 2 + 0.4 * cos(g / 60.0), "
    "  CASE WHEN g BETWEEN $1::int / 5 AND $1::int / 5 + 300 THEN 9 ELSE 2 + sin(g / 700.0) END, "
    "  24 + 4 * sin(g / 2880.0), 26.5965 - 3.42 * g / $1::int, 106.7085 + 6.65 * g / $1::int "
    "  FROM generate_series(1, $1::int) g, "
    "       LATERAL (SELECT timestamptz '2026-10-01T00:00:00Z' + g * interval '30 s' "
    "                     + CASE WHEN g > $1::int / 2 THEN interval '1 hour' ELSE interval '0' END"
    "                AS t) x "
    "ON CONFLICT DO NOTHING";

struct args {
	long readings, renders;
	const char *lot_arg, *shipment, *format, *lang, *conninfo;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int usage(const char *why)
{
	if (why)
		fprintf(stderr, "reportbench: %s\n", why);
	fprintf(stderr, "usage: reportbench [--readings N] [--renders M] [--lot GTIN/LOT | "
			"--shipment ID] [--format html|csv|epcis] [--lang L] [--conninfo STR]\n");
	return 2;
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (!*s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct args *a)
{
	memset(a, 0, sizeof(*a));
	a->renders = 9;
	a->format = "html";
	a->lang = "en";
	a->conninfo = "";
	for (int i = 1; i < argc; i += 2) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(k, "-h") == 0 || strcmp(k, "--help") == 0)
			return usage(NULL);
		if (!v)
			return usage("an option without its value");
		if (strcmp(k, "--readings") == 0) {
			if (parse_long(v, 0, 100000000, &a->readings) < 0)
				return usage("--readings: 0 to 100000000");
		} else if (strcmp(k, "--renders") == 0) {
			if (parse_long(v, 1, 100000, &a->renders) < 0)
				return usage("--renders: 1 to 100000");
		} else if (strcmp(k, "--lot") == 0) {
			a->lot_arg = v;
		} else if (strcmp(k, "--shipment") == 0) {
			a->shipment = v;
		} else if (strcmp(k, "--format") == 0) {
			a->format = v;
		} else if (strcmp(k, "--lang") == 0) {
			a->lang = v;
		} else if (strcmp(k, "--conninfo") == 0) {
			a->conninfo = v;
		} else {
			return usage("unknown option");
		}
	}
	if (a->lot_arg && a->shipment)
		return usage("give at most one of --lot and --shipment");
	return 0;
}

static int make_lot(struct db *db, long readings)
{
	char n[24];
	const char *p[1] = {n};

	snprintf(n, sizeof(n), "%ld", readings);
	for (size_t i = 0; i < sizeof(sql_setup) / sizeof(sql_setup[0]); i++)
		if (db_exec(db, sql_setup[i], 0, NULL, NULL) < 0)
			return -1;
	if (db_exec(db, sql_readings, 1, p, NULL) < 0)
		return -1;
	return db_exec(db, "ANALYZE coldtrace.readings", 0, NULL, NULL) < 0 ? -1 : 0;
}

/* The parts of one render: the report's JSON, and the first leg's readings. */
static void time_parts(struct db *db, const struct trace_scope *scope, double *data_ms,
		       double *series_ms, size_t *series_n)
{
	struct report_data *d = NULL;
	struct report_series ser;
	const char *leg;
	double t0 = now_ms(), t1;

	*data_ms = *series_ms = NAN;
	*series_n = 0;
	if (report_data_load(db, scope, &d) != 0)
		return;
	t1 = now_ms();
	*data_ms = t1 - t0;
	leg = report_str(d, report_first(d, report_node(d, 0, "legs")), "shipment");
	if (leg && report_series_load(db, leg, 0, 0, &ser) == 0) {
		*series_ms = now_ms() - t1;
		*series_n = ser.n;
		report_series_release(&ser);
	}
	report_data_free(d);
}

static void json_ms(const char *key, double v)
{
	if (isnan(v))
		printf(",\"%s\":null", key);
	else
		printf(",\"%s\":%.1f", key, v);
}

int main(int argc, char **argv)
{
	struct args a;
	struct trace_scope scope = {0};
	enum report_format format;
	char gtin[15], lot[64], why[200];
	struct db *db = NULL;
	double *ms = NULL, build_ms = NAN, data_ms, series_ms;
	size_t bytes = 0, series_n;
	char *doc = NULL;
	int rc = parse_args(argc, argv, &a);

	if (rc != 0)
		return rc;
	if (report_format_parse(a.format, &format) < 0)
		return usage("--format: html, csv or epcis");
	if (!report_lang_ok(a.lang))
		return usage("--lang: en, zh-Hans or zh-Hant");
	if (a.shipment) {
		scope.shipment_id = a.shipment;
	} else {
		if (trace_parse_lot(a.lot_arg ? a.lot_arg : BENCH_GTIN "/" BENCH_LOT, gtin, lot,
				    sizeof(lot), why, sizeof(why)) < 0)
			return usage(why);
		scope.gtin = gtin;
		scope.lot = lot;
	}
	rc = 1;
	ms = calloc((size_t)a.renders, sizeof(*ms));
	if (!ms || db_connect(a.conninfo, "reportbench", &db) != 0)
		goto out;
	if (a.readings > 0) {
		double t0 = now_ms();

		fprintf(stderr, "reportbench: building lot %s/%s with %ld readings\n", BENCH_GTIN,
			BENCH_LOT, a.readings);
		if (make_lot(db, a.readings) < 0)
			goto out;
		build_ms = now_ms() - t0;
	}
	for (long i = 0; i < a.renders; i++) {
		double t0 = now_ms();
		int r = report_render(db, &scope, format, a.lang, NULL, &doc, &bytes);

		ms[i] = now_ms() - t0;
		if (r == 1) {
			fprintf(stderr, "reportbench: %s not found\n",
				a.shipment ? a.shipment : "the lot");
			goto out;
		}
		if (r != 0)
			goto out;
		free(doc);
		doc = NULL;
	}
	time_parts(db, &scope, &data_ms, &series_ms, &series_n);
	qsort(ms, (size_t)a.renders, sizeof(*ms), cmp_double);
	printf("{\"tool\":\"reportbench\",\"scope\":\"%s\",\"format\":\"%s\",\"lang\":\"%s\","
	       "\"readings_built\":%ld,\"renders\":%ld",
	       a.shipment ? "shipment" : "lot", a.format, a.lang, a.readings, a.renders);
	json_ms("build_ms", build_ms);
	json_ms("p50_ms", ms[a.renders / 2]);
	json_ms("max_ms", ms[a.renders - 1]);
	json_ms("min_ms", ms[0]);
	printf(",\"bytes\":%zu", bytes);
	json_ms("data_ms", data_ms);
	json_ms("series_ms", series_ms);
	printf(",\"series_readings\":%zu}\n", series_n);
	rc = fflush(stdout) == 0 ? 0 : 1;
out:
	if (rc == 1 && db)
		fprintf(stderr, "reportbench: failed (see above)\n");
	free(doc);
	free(ms);
	db_free(db);
	return rc;
}
