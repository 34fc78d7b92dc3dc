/* Unit tests of services/common/strbuf.c: appends, formatting, growth, hand-over. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "strbuf.h"

static void test_strbuf__empty_reads_as_empty_string(void **state)
{
	struct strbuf b = {0};

	(void)state;
	assert_string_equal(strbuf_str(&b), "");
	strbuf_add(&b, NULL);
	assert_int_equal(b.len, 0);
	strbuf_release(&b);
	strbuf_release(NULL);
}

static void test_strbuf__appends_and_formats_past_growth(void **state)
{
	struct strbuf b = {0};
	char want[4096 + 1];

	(void)state;
	for (int i = 0; i < 1024; i++)
		strbuf_printf(&b, "%04d", i % 10000);
	assert_false(b.oom);
	assert_int_equal(b.len, 4096);
	for (int i = 0; i < 1024; i++)
		snprintf(want + 4 * i, 5, "%04d", i);
	assert_memory_equal(strbuf_str(&b), want, 4096);
	assert_int_equal(strbuf_str(&b)[4096], '\0');
	strbuf_reset(&b);
	strbuf_addn(&b, "a\0b", 3);
	strbuf_add(&b, "cd");
	assert_int_equal(b.len, 5);
	assert_memory_equal(b.p, "a\0bcd", 6);
	strbuf_release(&b);
}

static void test_strbuf__steal_hands_over_the_content(void **state)
{
	struct strbuf b = {0};
	size_t len = 99;
	char *s;

	(void)state;
	s = strbuf_steal(&b, &len);
	assert_non_null(s);
	assert_string_equal(s, "");
	assert_int_equal(len, 0);
	free(s);
	strbuf_printf(&b, "%s=%d", "x", 42);
	s = strbuf_steal(&b, &len);
	assert_string_equal(s, "x=42");
	assert_int_equal(len, 4);
	assert_null(b.p);
	free(s);
}

static void test_strbuf__out_of_memory_is_sticky(void **state)
{
	struct strbuf b = {0};

	(void)state;
	strbuf_add(&b, "kept");
	b.oom = true;
	strbuf_add(&b, "more");
	strbuf_printf(&b, "%d", 1);
	assert_int_equal(b.len, 4);
	assert_string_equal(strbuf_str(&b), "");
	assert_null(strbuf_steal(&b, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strbuf__empty_reads_as_empty_string),
		cmocka_unit_test(test_strbuf__appends_and_formats_past_growth),
		cmocka_unit_test(test_strbuf__steal_hands_over_the_content),
		cmocka_unit_test(test_strbuf__out_of_memory_is_sticky),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
