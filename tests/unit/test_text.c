/* Unit tests of services/common/text.c: hex digits and percent-decoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "text.h"

static void test_text__hexval_accepts_both_cases_only_hex(void **state)
{
	(void)state;
	assert_int_equal(text_hexval('0'), 0);
	assert_int_equal(text_hexval('9'), 9);
	assert_int_equal(text_hexval('a'), 10);
	assert_int_equal(text_hexval('F'), 15);
	assert_int_equal(text_hexval('g'), -1);
	assert_int_equal(text_hexval('%'), -1);
}

static void test_text__pct_decode_decodes_escapes(void **state)
{
	char out[32];
	size_t len = 99;

	(void)state;
	assert_int_equal(text_pct_decode("GZ%2F24%20A", 11, out, sizeof(out), &len), 0);
	assert_string_equal(out, "GZ/24 A");
	assert_int_equal(len, 7);
	assert_int_equal(text_pct_decode("", 0, out, sizeof(out), &len), 0);
	assert_string_equal(out, "");
	assert_int_equal(len, 0);
}

static void test_text__pct_decode_refuses_bad_and_truncated_escapes(void **state)
{
	char out[32];

	(void)state;
	assert_int_equal(text_pct_decode("A%2", 3, out, sizeof(out), NULL), -1);
	assert_int_equal(text_pct_decode("A%", 2, out, sizeof(out), NULL), -1);
	assert_int_equal(text_pct_decode("A%zz", 4, out, sizeof(out), NULL), -1);
	/* Only n bytes are read: the escape's digits beyond n do not count. */
	assert_int_equal(text_pct_decode("A%41", 3, out, sizeof(out), NULL), -1);
}

static void test_text__pct_decode_reports_overflow(void **state)
{
	char out[4];
	size_t len;

	(void)state;
	assert_int_equal(text_pct_decode("abcd", 4, out, sizeof(out), &len), -2);
	assert_int_equal(text_pct_decode("abc", 3, out, sizeof(out), &len), 0);
	assert_string_equal(out, "abc");
	assert_int_equal(text_pct_decode("%41%42%43", 9, out, sizeof(out), &len), 0);
	assert_string_equal(out, "ABC");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text__hexval_accepts_both_cases_only_hex),
		cmocka_unit_test(test_text__pct_decode_decodes_escapes),
		cmocka_unit_test(test_text__pct_decode_refuses_bad_and_truncated_escapes),
		cmocka_unit_test(test_text__pct_decode_reports_overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
