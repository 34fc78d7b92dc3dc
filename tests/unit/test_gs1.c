/*
 * test_gs1: GS1 check digits of every key length we meet (GTIN-8/12/13/14, GLN, SSCC), on
 * published examples and on one-digit corruptions of them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gs1.h"

static int ok(const char *s)
{
	return gs1_check_digit_ok(s, strlen(s));
}

static void test_gs1__published_examples_are_valid(void **state)
{
	(void)state;
	assert_true(ok("96385074"));           /* GTIN-8 */
	assert_true(ok("036000291452"));       /* GTIN-12 (UPC-A) */
	assert_true(ok("4006381333931"));      /* GTIN-13 */
	assert_true(ok("10614141000415"));     /* GTIN-14 */
	assert_true(ok("06970000000123"));     /* GTIN-14 of protocol.md */
	assert_true(ok("6970000000017"));      /* GLN of protocol.md */
	assert_true(ok("106141411234567897")); /* SSCC */
}

static void test_gs1__wrong_check_digit_is_refused(void **state)
{
	(void)state;
	assert_false(ok("6970000000018"));
	assert_false(ok("4006381333930"));
	/* protocol.md's example SSCC: its check digit should be 8. */
	assert_false(ok("369700000000000017"));
	assert_true(ok("369700000000000018"));
}

static void test_gs1__every_single_digit_change_is_caught(void **state)
{
	char s[] = "6970000000017";

	(void)state;
	for (size_t i = 0; i < sizeof(s) - 1; i++) {
		char keep = s[i];

		for (char d = '0'; d <= '9'; d++) {
			if (d == keep)
				continue;
			s[i] = d;
			assert_false(ok(s));
		}
		s[i] = keep;
	}
	assert_true(ok(s));
}

static void test_gs1__bad_lengths_and_characters_are_refused(void **state)
{
	(void)state;
	assert_false(ok(""));
	assert_false(ok("0"));
	assert_false(ok("697000000001"));        /* 12 digits, GLN body only */
	assert_false(ok("123456789012345"));     /* 15: no such key */
	assert_false(ok("697000000001a"));
	assert_false(ok("69700000 0017"));
	assert_false(ok("-970000000017"));
	assert_false(gs1_check_digit_ok(NULL, 13));
	/* Only len bytes are read: no NUL needed after them. */
	assert_true(gs1_check_digit_ok("6970000000017XYZ", 13));
}

static void test_gs1__check_digit_is_computed_from_the_body(void **state)
{
	int d = -1;

	(void)state;
	assert_int_equal(gs1_check_digit("697000000001", 12, &d), 0);
	assert_int_equal(d, 7);
	assert_int_equal(gs1_check_digit("36970000000000001", 17, &d), 0);
	assert_int_equal(d, 8);
	assert_int_equal(gs1_check_digit("0", 1, &d), 0);
	assert_int_equal(d, 0);
	assert_int_equal(gs1_check_digit("", 0, &d), -1);
	assert_int_equal(gs1_check_digit("123456789012345678", 18, &d), -1);
	assert_int_equal(gs1_check_digit("12x", 3, &d), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gs1__published_examples_are_valid),
		cmocka_unit_test(test_gs1__wrong_check_digit_is_refused),
		cmocka_unit_test(test_gs1__every_single_digit_change_is_caught),
		cmocka_unit_test(test_gs1__bad_lengths_and_characters_are_refused),
		cmocka_unit_test(test_gs1__check_digit_is_computed_from_the_body),
	};

	return cmocka_run_group_tests_name("gs1", tests, NULL, NULL);
}
