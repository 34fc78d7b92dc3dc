/*
 * test_report: the report renderers' pure parts (services/report/report_i18n.c,
 * report_svg.c). Rendering from a database is tested by tests/integration/test_reports.sh
 * and test_report_cli.sh through `coldtrace report`; its speed is measured by
 * contrib/bench/reportbench.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report_data.h"
#include "report_i18n.h"
#include "report_svg.h"
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

int main(void)
{
	return run_unit_tests();
}
