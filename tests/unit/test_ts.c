/*
 * test_ts: RFC 3339 parsing and formatting (services/common/ts.c). Epoch constants were taken
 * from GNU date (`date -u -d 2026-11-22T03:00:00Z +%s` = 1795316400); the formatter is also
 * checked against the C library's gmtime_r over a range of seconds from year 1 to 9999.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ts.h"

#define US INT64_C(1000000)
#define T_2026_11_22_0300Z INT64_C(1795316400) /* the time of protocol.md's first record */

static int parse(const char *s, int64_t *us)
{
	return ts_parse_rfc3339(s, strlen(s), us);
}

/* Asserts that s parses to want_s seconds + want_frac_us. */
static void check_parse(const char *s, int64_t want_s, int64_t want_frac_us)
{
	int64_t got = INT64_MIN;

	if (parse(s, &got) != 0) {
		print_error("'%s' was refused\n", s);
		fail();
	}
	if (got != want_s * US + want_frac_us) {
		print_error("'%s': got %lld µs, want %lld\n", s, (long long)got,
			    (long long)(want_s * US + want_frac_us));
		fail();
	}
}

static void check_refused(const char *s)
{
	int64_t got = 12345;

	if (parse(s, &got) != -1) {
		print_error("'%s' was accepted as %lld µs\n", s, (long long)got);
		fail();
	}
}

static void check_format(int64_t us, const char *want)
{
	char out[64];

	assert_int_equal(ts_format_rfc3339(us, out, sizeof(out)), 0);
	assert_string_equal(out, want);
}

static void test_ts__utc_times_match_known_epoch_values(void **state)
{
	(void)state;
	check_parse("2026-11-22T03:00:00Z", T_2026_11_22_0300Z, 0);
	check_parse("1970-01-01T00:00:00Z", 0, 0);
	check_parse("2000-01-01T00:00:00Z", 946684800, 0);
	assert_int_equal(TS_PG_EPOCH_US, INT64_C(946684800) * US);
	check_parse("2038-01-19T03:14:08Z", INT64_C(2147483648), 0);
	check_parse("1969-12-31T23:59:59Z", -1, 0);
	check_parse("1900-01-01T00:00:00Z", INT64_C(-2208988800), 0);
	check_parse("1600-03-01T00:00:00Z", INT64_C(-11670912000), 0);
	check_parse("0001-01-01T00:00:00Z", INT64_C(-62135596800), 0);
	check_parse("9999-12-31T23:59:59Z", INT64_C(253402300799), 0);
}

static void test_ts__z_t_and_separator_case_variants(void **state)
{
	(void)state;
	check_parse("2026-11-22T03:00:00z", T_2026_11_22_0300Z, 0);
	check_parse("2026-11-22t03:00:00Z", T_2026_11_22_0300Z, 0);
	check_parse("2026-11-22t03:00:00z", T_2026_11_22_0300Z, 0);
	check_parse("2026-11-22 03:00:00Z", T_2026_11_22_0300Z, 0);
	check_refused("2026-11-22_03:00:00Z");
	check_refused("2026-11-22x03:00:00Z");
	check_refused("2026-11-22T03:00:00X");
	check_refused("2026-11-22T03:00:00 Z");
}

static void test_ts__offsets_are_converted_to_utc(void **state)
{
	(void)state;
	check_parse("2026-11-22T11:00:00+08:00", T_2026_11_22_0300Z, 0);
	check_parse("2026-11-21T21:30:00-05:30", T_2026_11_22_0300Z, 0);
	check_parse("2026-11-22T03:00:00+00:00", T_2026_11_22_0300Z, 0);
	check_parse("2026-11-22T03:00:00-00:00", T_2026_11_22_0300Z, 0);
	/* Across a day, month and year boundary. */
	check_parse("2027-01-01T07:59:59+08:00", INT64_C(1798761599), 0);
	check_parse("2026-12-31T18:29:59-05:30", INT64_C(1798761599), 0);
	check_parse("2026-11-23T02:59:00+23:59", T_2026_11_22_0300Z, 0);
	check_parse("2026-11-22T11:00:00.5+08:00", T_2026_11_22_0300Z, 500000);
	check_refused("2026-11-22T11:00:00+24:00");
	check_refused("2026-11-22T11:00:00+08:60");
	check_refused("2026-11-22T11:00:00+0800");
	check_refused("2026-11-22T11:00:00+08");
	check_refused("2026-11-22T11:00:00+8:00");
	check_refused("2026-11-22T11:00:00+08:00:00");
	check_refused("2026-11-22T11:00:00 08:00");
	check_refused("2026-11-22T11:00:00+08-00");
	check_refused("2026-11-22T11:00:00+a8:00");
	check_refused("2026-11-22T11:00:00+08:00Z");
}

static void test_ts__offset_is_required(void **state)
{
	(void)state;
	check_refused("2026-11-22T03:00:00");
	check_refused("2026-11-22T03:00:00.123");
	check_refused("2026-11-22T03:00:00.");
	check_refused("2026-11-22");
	check_refused("");
}

static void test_ts__fractions_of_1_to_9_digits_truncate_to_microseconds(void **state)
{
	static const struct {
		const char *frac;
		int64_t us;
	} cases[] = {
	    {"1", 100000},	   {"12", 120000},	 {"123", 123000},
	    {"1234", 123400},	   {"12345", 123450},	 {"123456", 123456},
	    {"1234567", 123456},   {"12345678", 123456}, {"123456789", 123456},
	    {"999999999", 999999}, {"000001", 1},	 {"0000009", 0},
	    {"5", 500000},	   {"000000000", 0},	 {"1000000000000", 100000},
	};
	char s[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(s, sizeof(s), "2026-11-22T03:00:00.%sZ", cases[i].frac);
		check_parse(s, T_2026_11_22_0300Z, cases[i].us);
	}
	check_parse("1969-12-31T23:59:59.5Z", -1, 500000);
	check_refused("2026-11-22T03:00:00.Z");
	check_refused("2026-11-22T03:00:00,5Z");
	check_refused("2026-11-22T03:00:00.5.5Z");
	check_refused("2026-11-22T03:00:00.-5Z");
}

static void test_ts__calendar_ranges_are_checked(void **state)
{
	(void)state;
	check_parse("2024-02-29T12:00:00Z", INT64_C(1709208000), 0);
	check_parse("2000-02-29T00:00:00Z", INT64_C(951782400), 0); /* divisible by 400 */
	check_refused("2023-02-29T12:00:00Z");
	check_refused("1900-02-29T00:00:00Z"); /* divisible by 100 */
	check_refused("2100-02-29T00:00:00Z");
	check_refused("2026-02-30T00:00:00Z");
	check_refused("2026-04-31T00:00:00Z");
	check_parse("2026-04-30T00:00:00Z", INT64_C(1777507200), 0);
	check_refused("2026-13-01T00:00:00Z");
	check_refused("2026-00-01T00:00:00Z");
	check_refused("2026-01-00T00:00:00Z");
	check_refused("2026-01-32T00:00:00Z");
	check_refused("2026-01-01T24:00:00Z");
	check_refused("2026-01-01T00:60:00Z");
	check_refused("2026-01-01T00:00:61Z");
	check_refused("2026-01-01T00:00:99Z");
}

static void test_ts__leap_second_is_the_next_minute(void **state)
{
	int64_t a, b;

	(void)state;
	/* 2016-12-31T23:59:60Z was a real leap second; POSIX time has no name for it. */
	assert_int_equal(parse("2016-12-31T23:59:60Z", &a), 0);
	assert_int_equal(parse("2017-01-01T00:00:00Z", &b), 0);
	assert_int_equal(a, b);
	assert_int_equal(a, INT64_C(1483228800) * US);
	check_parse("2016-12-31T23:59:60.5Z", INT64_C(1483228800), 500000);
}

static void test_ts__field_widths_and_digits_are_strict(void **state)
{
	static const char *const bad[] = {
	    "2026-1-22T03:00:00Z",   "26-11-22T03:00:00Z",    "02026-11-22T03:00:00Z",
	    "2026-11-2T03:00:00Z",   "2026-11-22T3:00:00Z",   "2026-11-22T03:0:00Z",
	    "2026-11-22T03:00:0Z",   "2026-11-22T03:00Z",     "2026-11-22T03Z",
	    "20261122T030000Z",	     "2026/11/22T03:00:00Z",  "2026-11-22T03.00.00Z",
	    "2026-11-22T03:00:00ZZ", "2026-11-22T03:00:00Z ", " 2026-11-22T03:00:00Z",
	    "2026-+1-22T03:00:00Z",  "2026-11-22T-3:00:00Z",  "202a-11-22T03:00:00Z",
	    "2026-11-22T03:00:0aZ",  "yesterday at noon...Z", "2026-11-22T03:00:00\xef\xbc\xba",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_refused(bad[i]);
}

static void test_ts__only_len_bytes_are_read(void **state)
{
	const char *s = "2026-11-22T03:00:00Z and then some";
	int64_t us = 0;

	(void)state;
	assert_int_equal(ts_parse_rfc3339(s, 20, &us), 0);
	assert_int_equal(us, T_2026_11_22_0300Z * US);
	assert_int_equal(ts_parse_rfc3339(s, 21, &us), -1);
	assert_int_equal(ts_parse_rfc3339(s, 19, &us), -1);
	assert_int_equal(ts_parse_rfc3339(s, 0, &us), -1);
	/* Not NUL-terminated: a buffer that ends right after the Z. */
	char buf[20];
	memcpy(buf, s, 20);
	assert_int_equal(ts_parse_rfc3339(buf, sizeof(buf), &us), 0);
	assert_int_equal(us, T_2026_11_22_0300Z * US);
}

static void test_ts__format_known_values(void **state)
{
	char out[64];

	(void)state;
	check_format(0, "1970-01-01T00:00:00Z");
	check_format(T_2026_11_22_0300Z * US, "2026-11-22T03:00:00Z");
	check_format(T_2026_11_22_0300Z * US + 123456, "2026-11-22T03:00:00.123456Z");
	check_format(T_2026_11_22_0300Z * US + 500000, "2026-11-22T03:00:00.500000Z");
	check_format(1, "1970-01-01T00:00:00.000001Z");
	check_format(-1, "1969-12-31T23:59:59.999999Z");
	check_format(-US, "1969-12-31T23:59:59Z");
	check_format(-US - 1, "1969-12-31T23:59:58.999999Z");
	check_format(INT64_C(-2208988800) * US, "1900-01-01T00:00:00Z");
	check_format(INT64_C(1709208000) * US, "2024-02-29T12:00:00Z");
	check_format(INT64_C(-62135596800) * US, "0001-01-01T00:00:00Z");
	check_format(INT64_C(253402300799) * US + 999999, "9999-12-31T23:59:59.999999Z");
	check_format(TS_PG_EPOCH_US, "2000-01-01T00:00:00Z");

	/* "1970-01-01T00:00:00Z" is 20 characters: it needs 21 bytes. */
	assert_int_equal(ts_format_rfc3339(0, out, 21), 0);
	assert_int_equal(ts_format_rfc3339(0, out, 20), -1);
	assert_int_equal(ts_format_rfc3339(1, out, 28), 0);
	assert_int_equal(ts_format_rfc3339(1, out, 27), -1);
}

static void test_ts__format_agrees_with_gmtime_r(void **state)
{
	const int64_t from = INT64_C(-62135596800), to = INT64_C(253402300799);
	const int64_t step = (to - from) / 200003; /* odd step: varied times of day */
	char out[64], want[64];

	(void)state;
	for (int64_t s = from; s <= to; s += step) {
		time_t t = (time_t)s;
		struct tm tm;

		assert_non_null(gmtime_r(&t, &tm));
		snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		assert_int_equal(ts_format_rfc3339(s * US, out, sizeof(out)), 0);
		if (strcmp(out, want) != 0) {
			print_error("%lld s: got %s, gmtime_r says %s\n", (long long)s, out, want);
			fail();
		}
	}
}

static void test_ts__format_then_parse_round_trips(void **state)
{
	const int64_t from = INT64_C(-62135596800) * US, to = INT64_C(253402300799) * US + 999999;
	const int64_t step = (to - from) / 100019;
	static const int64_t edges[] = {
	    0,
	    1,
	    -1,
	    US - 1,
	    -US,
	    -US + 1,
	    INT64_C(-2208988800) * US,
	    INT64_C(951782400) * US,
	    INT64_C(1709164800) * US - 1,
	    INT64_C(4102444800) * US, /* 2100-01-01 */
	    INT64_C(-62135596800) * US,
	    INT64_C(253402300799) * US + 999999,
	};
	char out[64];
	int64_t back;

	(void)state;
	for (int64_t us = from; us <= to - step; us += step) {
		/* Step through sub-second values too, including whole seconds. */
		int64_t v = us - us % US + ((us / step) % 3 == 0 ? 0 : (us / 7) % US);
		if (v < from)
			continue;
		assert_int_equal(ts_format_rfc3339(v, out, sizeof(out)), 0);
		if (ts_parse_rfc3339(out, strlen(out), &back) != 0 || back != v) {
			print_error("%lld → '%s' → %lld\n", (long long)v, out, (long long)back);
			fail();
		}
	}
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
		assert_int_equal(ts_format_rfc3339(edges[i], out, sizeof(out)), 0);
		assert_int_equal(ts_parse_rfc3339(out, strlen(out), &back), 0);
		assert_int_equal(back, edges[i]);
	}
}

static void test_ts__clocks_are_sane(void **state)
{
	int64_t now = ts_now_us(), wall = (int64_t)time(NULL) * US;
	int64_t m0, m1;

	(void)state;
	assert_true(now > wall - 2 * US && now < wall + 2 * US);
	m0 = ts_mono_ms();
	ts_sleep_ms(30);
	m1 = ts_mono_ms();
	assert_true(m1 - m0 >= 30);
	assert_true(m1 - m0 < 5000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ts__utc_times_match_known_epoch_values),
	    cmocka_unit_test(test_ts__z_t_and_separator_case_variants),
	    cmocka_unit_test(test_ts__offsets_are_converted_to_utc),
	    cmocka_unit_test(test_ts__offset_is_required),
	    cmocka_unit_test(test_ts__fractions_of_1_to_9_digits_truncate_to_microseconds),
	    cmocka_unit_test(test_ts__calendar_ranges_are_checked),
	    cmocka_unit_test(test_ts__leap_second_is_the_next_minute),
	    cmocka_unit_test(test_ts__field_widths_and_digits_are_strict),
	    cmocka_unit_test(test_ts__only_len_bytes_are_read),
	    cmocka_unit_test(test_ts__format_known_values),
	    cmocka_unit_test(test_ts__format_agrees_with_gmtime_r),
	    cmocka_unit_test(test_ts__format_then_parse_round_trips),
	    cmocka_unit_test(test_ts__clocks_are_sane),
	};

	return cmocka_run_group_tests_name("ts", tests, NULL, NULL);
}
