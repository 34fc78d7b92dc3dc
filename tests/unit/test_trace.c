/*
 * test_trace: lot arguments as the CLI takes them (GTIN/LOT, GS1 Digital Link URIs with a
 * path prefix, qualifiers after the lot and a query; percent-escapes), GTIN-8/12/13
 * normalised to 14 digits, wrong check digits and forbidden lot characters refused with a
 * reason; "LOT:QTY" splitting; time-zone offsets of RFC 3339 times.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "trace.h"

static void test_trace__gtin_slash_lot_is_parsed(void **state)
{
	char g[15], l[32], why[160];

	(void)state;
	assert_int_equal(trace_parse_lot("19521234000010/GZ240501A", g, l, sizeof(l), why, sizeof(why)), 0);
	assert_string_equal(g, "19521234000010");
	assert_string_equal(l, "GZ240501A");
	assert_int_equal(trace_parse_lot("9521234000013/H-1/2", g, l, sizeof(l), why, sizeof(why)), 0);
	assert_string_equal(g, "09521234000013");
	assert_string_equal(l, "H-1/2");
	assert_int_equal(trace_parse_lot("96385074/L1", g, l, sizeof(l), NULL, 0), 0);
	assert_string_equal(g, "00000096385074");
}

static void test_trace__digital_links_are_parsed(void **state)
{
	char g[15], l[32], why[160];

	(void)state;
	assert_int_equal(trace_parse_lot("https://id.gs1.org/01/19521234000010/10/GZ240501A", g, l,
					 sizeof(l), why, sizeof(why)), 0);
	assert_string_equal(g, "19521234000010");
	assert_string_equal(l, "GZ240501A");
	assert_int_equal(trace_parse_lot("https://example.com/shop/01/9521234000013/10/A%2FB/21/7?17=240508",
					 g, l, sizeof(l), why, sizeof(why)), 0);
	assert_string_equal(g, "09521234000013");
	assert_string_equal(l, "A/B");
	assert_int_equal(trace_parse_lot("https://id.gs1.org/01/19521234000010", g, l, sizeof(l),
					 why, sizeof(why)), -1);
	assert_non_null(strstr(why, "/01/GTIN/10/LOT"));
	assert_int_equal(trace_parse_lot("https://id.gs1.org/01/19521234000010/10/A%2", g, l,
					 sizeof(l), why, sizeof(why)), -1);
}

static void test_trace__bad_lots_are_refused_with_a_reason(void **state)
{
	char g[15], l[32], why[160];

	(void)state;
	assert_int_equal(trace_parse_lot("19521234000011/L1", g, l, sizeof(l), why, sizeof(why)), -1);
	assert_non_null(strstr(why, "check digit"));
	assert_int_equal(trace_parse_lot("1952123400001/L1", g, l, sizeof(l), why, sizeof(why)), -1);
	assert_non_null(strstr(why, "check digit"));
	assert_int_equal(trace_parse_lot("195212340000/L1x", g, l, sizeof(l), why, sizeof(why)), -1);
	assert_int_equal(trace_parse_lot("19521234000010/A B", g, l, sizeof(l), why, sizeof(why)), -1);
	assert_non_null(strstr(why, "CSET 82"));
	assert_int_equal(trace_parse_lot("19521234000010/123456789012345678901", g, l, sizeof(l),
					 why, sizeof(why)), -1);
	assert_int_equal(trace_parse_lot("19521234000010/", g, l, sizeof(l), why, sizeof(why)), -1);
	assert_int_equal(trace_parse_lot("19521234000010", g, l, sizeof(l), why, sizeof(why)), -1);
	assert_int_equal(trace_parse_lot("", g, l, sizeof(l), why, sizeof(why)), -1);
	assert_int_equal(trace_gtin_normalise("1952123400001x", g), -1);
	assert_int_equal(trace_gtin_normalise("095212340000000013", g), -1);
}

static void test_trace__quantities_split_at_the_last_colon(void **state)
{
	char buf[64];
	const char *item, *qty;

	(void)state;
	assert_int_equal(trace_split_qty("19521234000010/L1:60", buf, sizeof(buf), &item, &qty), 0);
	assert_string_equal(item, "19521234000010/L1");
	assert_string_equal(qty, "60");
	assert_int_equal(trace_split_qty("19521234000010/L:1:2.5", buf, sizeof(buf), &item, &qty), 0);
	assert_string_equal(item, "19521234000010/L:1");
	assert_string_equal(qty, "2.5");
	assert_int_equal(trace_split_qty("19521234000010/L:x", buf, sizeof(buf), &item, &qty), 0);
	assert_null(qty);
	assert_string_equal(item, "19521234000010/L:x");
	assert_int_equal(trace_split_qty("https://id.gs1.org/01/19521234000010/10/L1", buf,
					 sizeof(buf), &item, &qty), 0);
	assert_null(qty);
	assert_int_equal(trace_split_qty("19521234000010/L1:5.", buf, sizeof(buf), &item, &qty), 0);
	assert_null(qty);
}

static void test_trace__offsets_of_rfc3339_times(void **state)
{
	char tz[7];

	(void)state;
	assert_int_equal(trace_tz_offset("2024-05-01T06:30:00+08:00", tz), 0);
	assert_string_equal(tz, "+08:00");
	assert_int_equal(trace_tz_offset("2024-05-01T06:30:00Z", tz), 0);
	assert_string_equal(tz, "+00:00");
	assert_int_equal(trace_tz_offset("2024-05-01T06:30:00-03:30", tz), 0);
	assert_string_equal(tz, "-03:30");
	assert_int_equal(trace_tz_offset("2024-05-01T06:30:00", tz), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trace__gtin_slash_lot_is_parsed),
		cmocka_unit_test(test_trace__digital_links_are_parsed),
		cmocka_unit_test(test_trace__bad_lots_are_refused_with_a_reason),
		cmocka_unit_test(test_trace__quantities_split_at_the_last_colon),
		cmocka_unit_test(test_trace__offsets_of_rfc3339_times),
	};

	return cmocka_run_group_tests_name("trace", tests, NULL, NULL);
}
