/*
 * test_broker_auth: password hashes in mosquitto 2.0's format. The interoperability anchor is
 * a line written by the real mosquitto_passwd 2.0.11 (`mosquitto_passwd -b FILE alice
 * 's3cret pass'`): our verifier must accept it, and our hashes must have its shape. The
 * end-to-end check against a running broker is in the integration tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "broker_auth.h"

static const char mosquitto_passwd_alice[] =
	"$7$101$kwlJMhbY/Wnj1frr$lI/ieNB3IKLmn7sQfzMjyfZqNjKYGRAzTUsvPoMq1Rz/0Bemyfv9jWZ0Fb5hnW8"
	"hibIn27JABQuDcKIIMycKrw==";

static int b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

static void test_broker_auth__hash_has_mosquitto_7_format(void **state)
{
	char h[BROKER_AUTH_HASH_MAX];

	(void)state;
	assert_int_equal(broker_auth_hash("device-secret", h, sizeof(h)), 0);
	/* $7$101$ + 16 (12-byte salt) + $ + 88 (64-byte digest, "==" padded) */
	assert_int_equal(strlen(h), 7 + 16 + 1 + 88);
	assert_memory_equal(h, "$7$101$", 7);
	for (int i = 7; i < 7 + 16; i++)
		assert_true(b64_char(h[i]));
	assert_int_equal(h[7 + 16], '$');
	for (int i = 7 + 17; i < 7 + 17 + 86; i++)
		assert_true(b64_char(h[i]));
	assert_string_equal(h + 7 + 17 + 86, "==");
	assert_null(strchr(h, ':'));
}

static void test_broker_auth__hash_verifies_with_its_password_only(void **state)
{
	char h[BROKER_AUTH_HASH_MAX];

	(void)state;
	assert_int_equal(broker_auth_hash("device-secret", h, sizeof(h)), 0);
	assert_int_equal(broker_auth_verify("device-secret", h), 0);
	assert_int_equal(broker_auth_verify("device-secreT", h), -1);
	assert_int_equal(broker_auth_verify("", h), -1);
}

static void test_broker_auth__same_password_gets_distinct_salts(void **state)
{
	char a[BROKER_AUTH_HASH_MAX], b[BROKER_AUTH_HASH_MAX];

	(void)state;
	assert_int_equal(broker_auth_hash("same", a, sizeof(a)), 0);
	assert_int_equal(broker_auth_hash("same", b, sizeof(b)), 0);
	assert_memory_not_equal(a + 7, b + 7, 16);
	assert_string_not_equal(a, b);
	assert_int_equal(broker_auth_verify("same", a), 0);
	assert_int_equal(broker_auth_verify("same", b), 0);
}

static void test_broker_auth__accepts_a_hash_written_by_mosquitto_passwd(void **state)
{
	(void)state;
	assert_int_equal(broker_auth_verify("s3cret pass", mosquitto_passwd_alice), 0);
	assert_int_equal(broker_auth_verify("s3cret pas", mosquitto_passwd_alice), -1);
}

static void test_broker_auth__refuses_empty_password_and_small_buffer(void **state)
{
	char h[BROKER_AUTH_HASH_MAX], small[100];

	(void)state;
	assert_int_equal(broker_auth_hash("", h, sizeof(h)), -1);
	assert_int_equal(broker_auth_hash(NULL, h, sizeof(h)), -1);
	assert_int_equal(broker_auth_hash("x", small, sizeof(small)), -1);
	assert_int_equal(small[0], '\0');
}

static void test_broker_auth__rejects_malformed_hashes(void **state)
{
	(void)state;
	assert_int_equal(broker_auth_verify("x", ""), -1);
	assert_int_equal(broker_auth_verify("x", "$6$abc$def"), -1);
	assert_int_equal(broker_auth_verify("x", "$7$$kwlJMhbY/Wnj1frr$AAAA"), -1);
	assert_int_equal(broker_auth_verify("x", "$7$0$kwlJMhbY/Wnj1frr$AAAA"), -1);
	assert_int_equal(broker_auth_verify("x", "$7$101$kwlJMhbY/Wnj1frr"), -1);
	assert_int_equal(broker_auth_verify("x", "$7$101$kwlJMhbY/Wnj1frr$short=="), -1);
	assert_int_equal(broker_auth_verify("x", "$7$99999999999$kwlJMhbY/Wnj1frr$x"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_broker_auth__hash_has_mosquitto_7_format),
		cmocka_unit_test(test_broker_auth__hash_verifies_with_its_password_only),
		cmocka_unit_test(test_broker_auth__same_password_gets_distinct_salts),
		cmocka_unit_test(test_broker_auth__accepts_a_hash_written_by_mosquitto_passwd),
		cmocka_unit_test(test_broker_auth__refuses_empty_password_and_small_buffer),
		cmocka_unit_test(test_broker_auth__rejects_malformed_hashes),
	};

	return cmocka_run_group_tests_name("broker_auth", tests, NULL, NULL);
}
