/*
 * test_gs1: GS1 check digits of every key length we meet (GTIN-8/12/13/14, GLN, SSCC), on
 * published examples and on one-digit corruptions of them; identifiers converted between EPC
 * URNs, digit strings and GS1 Digital Link URIs, and malformed ones refused with a reason.
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

static void parse_ok(const char *uri, enum gs1_kind kind, const char *digits, const char *ext,
		     int cp_len)
{
	struct gs1_id id;
	const char *why = NULL;

	assert_int_equal(gs1_id_parse(uri, &id, &why), 0);
	assert_int_equal(id.kind, kind);
	assert_string_equal(id.digits, digits);
	assert_string_equal(id.ext, ext);
	assert_int_equal(id.cp_len, cp_len);
}

static void test_gs1__epc_urns_give_digit_strings(void **state)
{
	(void)state;
	/* domain.md §1.6 worked examples */
	parse_ok("urn:epc:class:lgtin:9521234.100001.GZ240501A", GS1_LGTIN, "19521234000010",
		 "GZ240501A", 7);
	parse_ok("urn:epc:id:sscc:9521234.0000000001", GS1_SSCC, "095212340000000013", "", 7);
	parse_ok("urn:epc:id:sgln:9521234.00001.0", GS1_SGLN, "9521234000013", "", 7);
	parse_ok("urn:epc:id:sgln:9521234.00001.F03", GS1_SGLN, "9521234000013", "F03", 7);
	parse_ok("urn:epc:id:pgln:9521234.00004", GS1_PGLN, "9521234000044", "", 7);
	parse_ok("urn:epc:id:giai:9521234.LOGGER0042", GS1_GIAI, "9521234LOGGER0042", "", 7);
	parse_ok("urn:epc:id:sgtin:0614141.112345.400", GS1_SGTIN, "10614141123459", "400", 7);
	parse_ok("urn:epc:idpat:sgtin:9521234.100001.*", GS1_GTIN, "19521234000010", "", 7);
	/* Company prefixes of 6 and 12 digits. */
	parse_ok("urn:epc:id:sgln:123456.789012.0", GS1_SGLN, "1234567890128", "", 6);
	parse_ok("urn:epc:id:sscc:123456789012.01234", GS1_SSCC, "012345678901212346", "", 12);
	/* Percent escapes in a lot are decoded. */
	parse_ok("urn:epc:class:lgtin:9521234.100001.A%2FB", GS1_LGTIN, "19521234000010", "A/B", 7);
}

static void test_gs1__digital_links_give_digit_strings(void **state)
{
	(void)state;
	parse_ok("https://id.gs1.org/01/19521234000010/10/GZ240501A", GS1_LGTIN,
		 "19521234000010", "GZ240501A", 0);
	parse_ok("https://id.example.com/01/19521234000010/10/GZ240501A?15=240508", GS1_LGTIN,
		 "19521234000010", "GZ240501A", 0);
	parse_ok("https://id.gs1.org/00/095212340000000013", GS1_SSCC, "095212340000000013", "",
		 0);
	parse_ok("https://id.gs1.org/414/9521234000013/254/F03", GS1_SGLN, "9521234000013", "F03",
		 0);
	parse_ok("https://id.gs1.org/8004/9521234LOGGER0042", GS1_GIAI, "9521234LOGGER0042", "",
		 0);
	parse_ok("https://example.com/some/path/01/9521234000013/21/X1", GS1_SGTIN,
		 "09521234000013", "X1", 0);
	parse_ok("https://id.gs1.org/01/19521234000010", GS1_GTIN, "19521234000010", "", 0);
}

static void test_gs1__malformed_identifiers_name_the_problem(void **state)
{
	struct gs1_id id;
	const char *why = NULL;

	(void)state;
	assert_int_equal(gs1_id_parse("https://id.gs1.org/01/19521234000011/10/GZ240501A", &id,
				      &why), -1);
	assert_string_equal(why, "wrong GTIN check digit");
	assert_int_equal(gs1_id_parse("https://id.gs1.org/00/095212340000000014", &id, &why), -1);
	assert_string_equal(why, "wrong SSCC check digit");
	assert_int_equal(gs1_id_parse("https://id.gs1.org/414/9521234000012", &id, &why), -1);
	assert_string_equal(why, "wrong GLN check digit");
	assert_int_equal(gs1_id_parse("urn:epc:class:lgtin:9521234.10001.GZ1", &id, &why), -1);
	assert_non_null(why);
	assert_int_equal(gs1_id_parse("urn:epc:id:sgln:12345.6789012.0", &id, &why), -1);
	assert_string_equal(why, "company prefix is not 6 to 12 digits");
	assert_int_equal(gs1_id_parse("urn:epc:class:lgtin:9521234.100001.ABCDEFGHIJKLMNOPQRSTU",
				      &id, &why), -1);
	assert_int_equal(gs1_id_parse("urn:epc:class:lgtin:9521234.100001.A%7EB", &id, &why), -1);
	assert_int_equal(gs1_id_parse("urn:epc:id:sscc:9521234", &id, &why), -1);
	/* Not ours: another EPC scheme, a plain URL, a URL without a key value. */
	assert_int_equal(gs1_id_parse("urn:epc:id:grai:4012345.55555.1234", &id, &why), 1);
	assert_int_equal(gs1_id_parse("http://epcis.example.com/user/vocab/disp/x", &id, &why),
			 1);
	assert_int_equal(gs1_id_parse("https://example.com/01", &id, &why), 1);
	assert_int_equal(gs1_id_parse("urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6", &id, &why),
			 1);
}

static void round_trip(const char *urn, const char *dl)
{
	struct gs1_id a, b;
	char buf[128];

	assert_int_equal(gs1_id_parse(urn, &a, NULL), 0);
	assert_int_equal(gs1_id_to_dl(&a, NULL, buf, sizeof(buf)), 0);
	assert_string_equal(buf, dl);
	assert_int_equal(gs1_id_parse(dl, &b, NULL), 0);
	assert_int_equal(b.cp_len, 0);
	/* A Digital Link does not say where the company prefix ends: the caller does. */
	assert_int_equal(gs1_id_to_urn(&b, 0, buf, sizeof(buf)), -1);
	assert_int_equal(gs1_id_to_urn(&b, a.cp_len, buf, sizeof(buf)), 0);
	assert_string_equal(buf, urn);
	assert_int_equal(gs1_id_to_urn(&a, 0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, urn);
}

static void test_gs1__urn_and_digital_link_convert_both_ways(void **state)
{
	(void)state;
	round_trip("urn:epc:class:lgtin:9521234.100001.GZ240501A",
		   "https://id.gs1.org/01/19521234000010/10/GZ240501A");
	round_trip("urn:epc:id:sgtin:9521234.100001.S%2F1", "https://id.gs1.org/01/19521234000010/21/S%2F1");
	round_trip("urn:epc:id:sscc:9521234.0000000001", "https://id.gs1.org/00/095212340000000013");
	round_trip("urn:epc:id:sgln:9521234.00001.0", "https://id.gs1.org/414/9521234000013");
	round_trip("urn:epc:id:sgln:9521234.00001.F03",
		   "https://id.gs1.org/414/9521234000013/254/F03");
	round_trip("urn:epc:id:pgln:9521234.00004", "https://id.gs1.org/417/9521234000044");
	round_trip("urn:epc:id:giai:9521234.LOGGER0042", "https://id.gs1.org/8004/9521234LOGGER0042");
	round_trip("urn:epc:idpat:sgtin:9521234.100001.*", "https://id.gs1.org/01/19521234000010");
	round_trip("urn:epc:id:sscc:123456789012.01234", "https://id.gs1.org/00/012345678901212346");
}

static void test_gs1__digit_strings_build_identifiers(void **state)
{
	struct gs1_id id;
	char buf[128];

	(void)state;
	assert_int_equal(gs1_id_from_digits(GS1_LGTIN, "19521234000010", "GZ240501A", 7, &id), 0);
	assert_int_equal(gs1_id_to_urn(&id, 0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "urn:epc:class:lgtin:9521234.100001.GZ240501A");
	assert_int_equal(gs1_id_to_dl(&id, "https://id.example.com", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "https://id.example.com/01/19521234000010/10/GZ240501A");
	assert_int_equal(gs1_id_from_digits(GS1_LGTIN, "19521234000011", "GZ1", 7, &id), -1);
	assert_int_equal(gs1_id_from_digits(GS1_LGTIN, "19521234000010", NULL, 7, &id), -1);
	assert_int_equal(gs1_id_from_digits(GS1_SSCC, "095212340000000013", NULL, 0, &id), 0);
	assert_int_equal(gs1_id_to_urn(&id, 13, buf, sizeof(buf)), -1);
	assert_int_equal(gs1_id_to_urn(&id, 7, buf, 10), -1); /* too small a buffer */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gs1__published_examples_are_valid),
		cmocka_unit_test(test_gs1__wrong_check_digit_is_refused),
		cmocka_unit_test(test_gs1__every_single_digit_change_is_caught),
		cmocka_unit_test(test_gs1__bad_lengths_and_characters_are_refused),
		cmocka_unit_test(test_gs1__check_digit_is_computed_from_the_body),
		cmocka_unit_test(test_gs1__epc_urns_give_digit_strings),
		cmocka_unit_test(test_gs1__digital_links_give_digit_strings),
		cmocka_unit_test(test_gs1__malformed_identifiers_name_the_problem),
		cmocka_unit_test(test_gs1__urn_and_digital_link_convert_both_ways),
		cmocka_unit_test(test_gs1__digit_strings_build_identifiers),
	};

	return cmocka_run_group_tests_name("gs1", tests, NULL, NULL);
}
