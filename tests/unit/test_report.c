/*
 * test_report: the report renderers' pure parts (services/report/report_i18n.c,
 * report_svg.c), and — with arguments — the driver the integration test and the render
 * benchmark use until `coldtrace report` exists:
 *
 *   test_report                                   the cmocka tests below
 *   test_report --render FILE (--lot GTIN/LOT | --shipment ID) --format html|csv [--lang L]
 *   test_report --bench N (--lot GTIN/LOT | --shipment ID) [--lang L]
 *                                                 renders N times, prints ms p50 and max
 *   test_report --make-bench-lot READINGS         builds shipment BENCH-R with a lot
 *                                                 06970000000123/BENCH-1 and READINGS readings
 *
 * The database is config's pg_conninfo (COLDTRACE_PG_CONNINFO, --pg-conninfo=…, or PG*).
 * It links the report library, which the contrib/bench rule of the Makefile does not; see
 * the report's README section for moving the bench to contrib/bench/reportbench.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "db.h"
#include "report_csv.h"
#include "report_data.h"
#include "report_html.h"
#include "report_i18n.h"
#include "report_svg.h"
#include "trace.h"
#include "ts.h"

/* ---- unit tests ------------------------------------------------------------------------ */

static void test_report_i18n__every_key_has_three_languages(void **state)
{
	(void)state;
	assert_true(report_i18n_count() > 50);
	for (size_t i = 0; i < report_i18n_count(); i++) {
		const char *k = report_i18n_key(i);
		for (int l = 0; l < REPORT_LANG_N; l++) {
			const char *t = report_i18n_get((enum report_lang)l, k);
			assert_non_null(t);
			assert_true(*t != '\0');
		}
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(k, report_i18n_key(j));
	}
}

static void test_report_i18n__chinese_scripts_use_their_own_characters(void **state)
{
	(void)state;
	assert_string_equal(report_i18n_get(REPORT_LANG_ZH_HANS, "lot"), "批次");
	assert_string_equal(report_i18n_get(REPORT_LANG_ZH_HANT, "lot"), "批號");
	assert_non_null(strstr(report_i18n_get(REPORT_LANG_ZH_HANS, "title"), "冷链"));
	assert_non_null(strstr(report_i18n_get(REPORT_LANG_ZH_HANT, "title"), "冷鏈"));
	assert_string_equal(report_i18n_get(REPORT_LANG_ZH_HANS, "temperature"), "温度");
	assert_string_equal(report_i18n_get(REPORT_LANG_ZH_HANT, "temperature"), "溫度");
	assert_string_equal(report_i18n_code(REPORT_LANG_EN, "cte", "shipping"), "Shipping");
	assert_string_equal(report_i18n_code(REPORT_LANG_EN, "cte", "unknown_thing"),
			    "unknown_thing");
}

static void test_report_i18n__languages(void **state)
{
	enum report_lang l;

	(void)state;
	assert_int_equal(report_i18n_lang("zh-Hant", &l), 0);
	assert_int_equal(l, REPORT_LANG_ZH_HANT);
	assert_int_equal(report_i18n_lang(NULL, &l), 0);
	assert_int_equal(l, REPORT_LANG_EN);
	assert_int_equal(report_i18n_lang("fr", &l), -1);
	assert_string_equal(report_i18n_tag(REPORT_LANG_ZH_HANS), "zh-Hans");
}

/* A synthetic series of n readings 30 s apart: product and supply, a warm spell, a gap. */
static void series(struct report_series *s, size_t n)
{
	memset(s, 0, sizeof(*s));
	s->n = n;
	s->t_us = calloc(n, sizeof(int64_t));
	s->v[0] = calloc(n, sizeof(double));
	s->v[1] = calloc(n, sizeof(double));
	s->lat = calloc(n, sizeof(double));
	s->lon = calloc(n, sizeof(double));
	assert_true(s->t_us && s->v[0] && s->v[1] && s->lat && s->lon);
	for (size_t i = 0; i < n; i++) {
		s->t_us[i] =
		    (INT64_C(1793829600) + (int64_t)i * 30 + (i > n / 2 ? 3600 : 0)) * TS_US_PER_S;
		s->v[0][i] = (i > n / 4 && i < n / 4 + 300) ? 9.0 : 2.0 + sin((double)i / 500.0);
		s->v[1][i] = 1.0 + 0.5 * cos((double)i / 40.0);
		s->lat[i] = 26.6 - 3.4 * (double)i / (double)n;
		s->lon[i] = 106.7 + 6.6 * (double)i / (double)n;
	}
}

static char *dump(xmlNodePtr node)
{
	xmlBufferPtr b = xmlBufferCreate();
	char *s;

	assert_non_null(b);
	assert_true(xmlNodeDump(b, NULL, node, 0, 0) > 0);
	s = strdup((const char *)xmlBufferContent(b));
	xmlBufferFree(b);
	return s;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static void test_report_svg__chart_is_decimated_well_formed_and_marks_gaps(void **state)
{
	struct report_series s;
	struct report_chart c = {0};
	struct decimate_window exc = {0, 0};
	xmlNodePtr node = NULL;
	xmlDocPtr parsed;
	char *xml;
	size_t n = 100000;

	(void)state;
	series(&s, n);
	exc.from = s.t_us[n / 4 + 1];
	exc.to = s.t_us[n / 4 + 299];
	c.s = &s;
	c.probe_label[0] = "product";
	c.probe_label[1] = "supply";
	c.band_lo = 0;
	c.band_hi = 4;
	c.excursions = &exc;
	c.n_excursions = 1;
	c.max_gap_us = 600 * TS_US_PER_S;
	c.tz_offset_s = 8 * 3600;
	c.buckets = 500;
	c.id = "t";
	c.title = c.axis_label = c.band_label = c.excursion_label = c.gap_label = "x & <y>";
	assert_int_equal(report_svg_chart(&c, &node), 0);
	xml = dump(node);
	parsed = xmlReadMemory(xml, (int)strlen(xml), "chart.svg", "UTF-8", XML_PARSE_NONET);
	assert_non_null(parsed);
	xmlFreeDoc(parsed);
	assert_int_equal(count(xml, "data-probe="), 2);
	assert_int_equal(count(xml, "class=\"excursion\""), 1);
	assert_true(count(xml, "class=\"gap\"") >= 1);
	/* the gap breaks both lines: a second "M" in each path */
	assert_true(count(xml, "M") >= 4);
	/* bounded: ≤ 4 per bucket + the excursion's points + gap ends, per probe */
	assert_true(count(xml, "L") <= 2 * (4 * 500 + 300 + 4));
	assert_non_null(strstr(xml, "x &amp; &lt;y&gt;"));
	free(xml);
	xmlFreeNode(node);
	report_series_release(&s);
}

static void test_report_svg__map_fits_track_and_stops(void **state)
{
	struct report_series s;
	struct report_map m = {0};
	struct report_map_stop stops[2] = {{26.6, 106.7, REPORT_STOP_LOAD, "Guiyang"},
					   {23.17, 113.35, REPORT_STOP_UNLOAD, "Guangzhou"}};
	xmlNodePtr node = NULL;
	char *xml;

	(void)state;
	series(&s, 5000);
	m.s = &s;
	m.stops = stops;
	m.n_stops = 2;
	m.max_gap_us = 600 * TS_US_PER_S;
	m.buckets = 200;
	m.id = "m";
	m.title = m.note = "route";
	m.kind_label[0] = "load";
	m.kind_label[1] = "unload";
	m.kind_label[2] = "handoff";
	assert_int_equal(report_svg_map(&m, &node), 0);
	xml = dump(node);
	assert_int_equal(count(xml, "<circle"), 2 + 3);
	assert_non_null(strstr(xml, "class=\"track\""));
	assert_non_null(strstr(xml, ">Guangzhou<"));
	free(xml);
	xmlFreeNode(node);
	report_series_release(&s);
}

static void test_report_svg__local_time_is_utc_plus_8(void **state)
{
	char s[32];

	(void)state;
	report_svg_local_time(INT64_C(1793743200) * TS_US_PER_S, 8 * 3600, s, sizeof(s));
	assert_string_equal(s, "2026-11-04 06:00"); /* 2026-11-03T22:00:00Z */
}

static int run_unit_tests(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_report_i18n__every_key_has_three_languages),
	    cmocka_unit_test(test_report_i18n__chinese_scripts_use_their_own_characters),
	    cmocka_unit_test(test_report_i18n__languages),
	    cmocka_unit_test(test_report_svg__chart_is_decimated_well_formed_and_marks_gaps),
	    cmocka_unit_test(test_report_svg__map_fits_track_and_stops),
	    cmocka_unit_test(test_report_svg__local_time_is_utc_plus_8),
	};
	return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}

/* ---- driver ---------------------------------------------------------------------------- */

static const char *const sql_bench_setup[] = {
    "INSERT INTO coldtrace.sites (gln, name, kind, lat, lon) VALUES "
    "('6970000000017', 'Guiyang packhouse', 'packhouse', 26.5965, 106.7085), "
    "('6970000000024', 'Guangzhou DC', 'dc', 23.1729, 113.3538) ON CONFLICT DO NOTHING",
    "INSERT INTO coldtrace.products (gtin, description, commodity) VALUES "
    "('06970000000123', 'Choy sum, 5 kg case', 'CHOY_SUM') ON CONFLICT DO NOTHING",
    "INSERT INTO coldtrace.lots (gtin, lot, quantity, uom) VALUES "
    "('06970000000123', 'BENCH-1', 120, 'CS') ON CONFLICT DO NOTHING",
    "INSERT INTO coldtrace.shipments (id, origin_gln, destination_gln, commodity, status) "
    "VALUES ('BENCH-R', '6970000000017', '6970000000024', 'CHOY_SUM', 'delivered') "
    "ON CONFLICT DO NOTHING",
    "INSERT INTO coldtrace.trace_events (event_key, origin, type, action, biz_step, "
    "  disposition, event_time, tz_offset, site_gln, src_gln, dest_gln, shipment_id) "
    "VALUES ('urn:coldtrace:bench:load', 'cli', 'ObjectEvent', 'OBSERVE', 'shipping', "
    "  'in_transit', '2026-10-01T00:00:00Z', '+08:00', '6970000000017', '6970000000017', "
    "  '6970000000024', 'BENCH-R') ON CONFLICT DO NOTHING",
    "INSERT INTO coldtrace.trace_items (event_id, ord, role, gtin, lot, quantity, uom) "
    "SELECT id, 1, 'what', '06970000000123', 'BENCH-1', 120, 'CS' FROM coldtrace.trace_events "
    " WHERE event_key = 'urn:coldtrace:bench:load' ON CONFLICT DO NOTHING",
};

/* 30 s readings from 2026-10-01, a warm spell at a fifth of the way, a one-hour gap in the
 * middle: what a long multi-day lot history looks like to the renderer. */
static const char *const sql_bench_readings =
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

static int make_bench_lot(struct db *db, const char *n)
{
	const char *p[1] = {n};

	for (size_t i = 0; i < sizeof(sql_bench_setup) / sizeof(sql_bench_setup[0]); i++)
		if (db_exec(db, sql_bench_setup[i], 0, NULL, NULL) < 0)
			return -1;
	if (db_exec(db, sql_bench_readings, 1, p, NULL) < 0)
		return -1;
	return db_exec(db, "ANALYZE coldtrace.readings_default", 0, NULL, NULL) < 0 ? -1 : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int usage(void)
{
	fprintf(stderr, "usage: test_report [--render FILE | --bench N | --make-bench-lot N] "
			"[--lot GTIN/LOT | --shipment ID] [--format html|csv] [--lang L]\n");
	return 2;
}

static int driver(int argc, char **argv)
{
	const char *render = NULL, *bench = NULL, *make = NULL, *lotarg = NULL, *ship = NULL;
	const char *format = "html", *lang = "en";
	char gtin[32] = "", lot[32] = "";
	struct trace_scope scope = {0};
	struct db *db = NULL;
	char *out = NULL;
	size_t len = 0;
	int rc = 1;

	if (config_load(&argc, argv) != 0)
		return 2;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			return usage();
		if (!strcmp(a, "--render"))
			render = v;
		else if (!strcmp(a, "--bench"))
			bench = v;
		else if (!strcmp(a, "--make-bench-lot"))
			make = v;
		else if (!strcmp(a, "--lot"))
			lotarg = v;
		else if (!strcmp(a, "--shipment"))
			ship = v;
		else if (!strcmp(a, "--format"))
			format = v;
		else if (!strcmp(a, "--lang"))
			lang = v;
		else
			return usage();
		i++;
	}
	if (lotarg) {
		const char *slash = strchr(lotarg, '/');
		if (!slash || slash - lotarg > 14 || strlen(slash + 1) > 20)
			return usage();
		snprintf(gtin, sizeof(gtin), "%.*s", (int)(slash - lotarg), lotarg);
		snprintf(lot, sizeof(lot), "%s", slash + 1);
		scope.gtin = gtin;
		scope.lot = lot;
	} else if (ship) {
		scope.shipment_id = ship;
	} else if (!make) {
		return usage();
	}
	if (db_connect(config.pg_conninfo, "test_report", &db) != 0)
		goto out;
	if (make) {
		rc = make_bench_lot(db, make) == 0 ? 0 : 1;
		goto out;
	}
	if (render) {
		FILE *f;
		int r = !strcmp(format, "csv") ? report_csv(db, &scope, &out, &len)
					       : report_html(db, &scope, lang, &out, &len);
		if (r == 1) {
			fprintf(stderr, "test_report: scope not found\n");
			rc = 3;
			goto out;
		}
		if (r != 0)
			goto out;
		f = !strcmp(render, "-") ? stdout : fopen(render, "wb");
		if (!f || fwrite(out, 1, len, f) != len || (f != stdout && fclose(f) != 0)) {
			perror(render);
			goto out;
		}
		rc = 0;
	} else if (bench) {
		char *end;
		long n = strtol(bench, &end, 10);
		double *ms;
		if (*end || n < 1 || n > 10000)
			return usage();
		ms = calloc((size_t)n, sizeof(double));
		if (!ms)
			goto out;
		for (long i = 0; i < n; i++) {
			double t0 = now_ms();
			int r = !strcmp(format, "csv") ? report_csv(db, &scope, &out, &len)
						       : report_html(db, &scope, lang, &out, &len);
			ms[i] = now_ms() - t0;
			if (r != 0) {
				free(ms);
				goto out;
			}
			free(out);
			out = NULL;
		}
		/* The parts: the JSON, and the readings of the first leg alone. */
		{
			struct report_data *d = NULL;
			struct report_series ser;
			double t0 = now_ms(), t1, t2;
			const char *leg = NULL;
			int legs;
			if (report_data_load(db, &scope, &d) != 0) {
				free(ms);
				goto out;
			}
			t1 = now_ms();
			legs = report_node(d, 0, "legs");
			leg = report_str(d, report_first(d, legs), "shipment");
			if (leg && report_series_load(db, leg, 0, 0, &ser) == 0) {
				t2 = now_ms();
				fprintf(stderr,
					"test_report: data %.1f ms, readings of %s (%zu) %.1f ms\n",
					t1 - t0, leg, ser.n, t2 - t1);
				report_series_release(&ser);
			}
			report_data_free(d);
		}
		qsort(ms, (size_t)n, sizeof(double), cmp_double);
		printf("{\"renders\":%ld,\"format\":\"%s\",\"p50_ms\":%.1f,\"max_ms\":%.1f,"
		       "\"bytes\":%zu}\n",
		       n, format, ms[n / 2], ms[n - 1], len);
		free(ms);
		rc = 0;
	}
out:
	free(out);
	db_free(db);
	config_release();
	return rc;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		return driver(argc, argv);
	return run_unit_tests();
}
