/*
 * test_sign: signed reports and their verification. Sign then verify in both trailer styles;
 * every single-byte change of a signed sample, at every position of content and trailer and
 * to every other byte value, is caught; appended, truncated and re-signed files; wrong and
 * missing trusted keys; each malformed field named; key files (round trip, O_EXCL, the
 * 0600 rule, corrupt keys).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "sign.h"

static const char xml_sample[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
				 "<report lot=\"L2611\"><t>2.5</t></report>\n";
static const char csv_sample[] = "event,gtin,lot,time\nshipping,16912345678909,L2611,"
				 "2026-11-22T03:00:00Z\n";

struct keys {
	unsigned char sk[SIGN_SECRET_BYTES], pk[SIGN_PUBLIC_BYTES];
	unsigned char sk2[SIGN_SECRET_BYTES], pk2[SIGN_PUBLIC_BYTES];
	char dir[64];
};

static int setup(void **state)
{
	struct keys *k = calloc(1, sizeof(*k));

	log_current_level = -1; /* the refusals are asserted, not shown */
	if (!k || sign_keygen(k->sk, k->pk) < 0 || sign_keygen(k->sk2, k->pk2) < 0)
		return -1;
	snprintf(k->dir, sizeof(k->dir), "/tmp/test_sign.XXXXXX");
	if (!mkdtemp(k->dir))
		return -1;
	*state = k;
	return 0;
}

static int teardown(void **state)
{
	struct keys *k = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", k->dir);
	if (system(cmd) != 0)
		return -1;
	free(k);
	return 0;
}

/* A malloc'd signed copy of text. */
static char *signed_copy(const struct keys *k, enum sign_style style, const char *text, size_t *len)
{
	size_t n = strlen(text);
	char *buf = malloc(n ? n : 1);

	assert_non_null(buf);
	memcpy(buf, text, n);
	*len = n;
	assert_int_equal(sign_append(k->sk, style, &buf, len), 0);
	/* NUL-terminated for strstr in the tests; verification never reads it. */
	buf = realloc(buf, *len + 1);
	assert_non_null(buf);
	buf[*len] = '\0';
	return buf;
}

static enum sign_status status_of(const char *data, size_t len, const unsigned char *pk,
				  struct sign_result *res)
{
	struct sign_result local;
	struct sign_result *r = res ? res : &local;
	int rc = sign_verify(data, len, pk, r);

	assert_int_equal(rc, r->status == SIGN_VALID ? 0 : -1);
	return r->status;
}

static void test_sign__signed_xml_and_csv_verify(void **state)
{
	struct keys *k = *state;
	struct sign_result res;
	char pk_b64[SIGN_KEY_B64_LEN];
	size_t len;
	char *xml = signed_copy(k, SIGN_STYLE_XML, xml_sample, &len);

	sign_key_text(k->pk, pk_b64);
	assert_int_equal(status_of(xml, len, k->pk, &res), SIGN_VALID);
	assert_string_equal(res.key_b64, pk_b64);
	assert_int_equal(strlen(res.sha256_hex), 64);
	/* Content kept byte for byte, then exactly one trailer line. */
	assert_memory_equal(xml, xml_sample, strlen(xml_sample));
	assert_memory_equal(xml + strlen(xml_sample), "<!--coldtrace-signature v1 sha256=", 34);
	assert_memory_equal(xml + len - 4, "-->\n", 4);
	assert_ptr_equal(memchr(xml + strlen(xml_sample), '\n', len - strlen(xml_sample)),
			 xml + len - 1);
	free(xml);

	char *csv = signed_copy(k, SIGN_STYLE_CSV, csv_sample, &len);
	assert_int_equal(status_of(csv, len, k->pk, &res), SIGN_VALID);
	assert_memory_equal(csv + strlen(csv_sample), "#coldtrace-signature v1 sha256=", 31);
	assert_int_not_equal(csv[len - 2], '>');
	free(csv);
}

static void test_sign__digest_is_the_sha256_of_the_content(void **state)
{
	struct keys *k = *state;
	struct sign_result res;
	size_t len;
	char *s = signed_copy(k, SIGN_STYLE_CSV, "abc\n", &len);

	assert_int_equal(status_of(s, len, k->pk, &res), SIGN_VALID);
	/* sha256("abc\n"), as sha256sum prints it */
	assert_string_equal(res.sha256_hex,
			    "edeaaff3f1774ad2888673770c6d64097e391bc362d7d6fb34982ddf0efd18cb");
	free(s);
}

static void test_sign__content_without_final_newline_gets_one(void **state)
{
	struct keys *k = *state;
	size_t len;
	char *s = signed_copy(k, SIGN_STYLE_XML, "<r/>", &len);

	assert_memory_equal(s, "<r/>\n<!--coldtrace-signature ", 29);
	assert_int_equal(status_of(s, len, k->pk, NULL), SIGN_VALID);
	free(s);
	s = signed_copy(k, SIGN_STYLE_CSV, "", &len);
	assert_memory_equal(s, "#coldtrace-signature ", 21);
	assert_int_equal(status_of(s, len, k->pk, NULL), SIGN_VALID);
	free(s);
}

static void test_sign__content_with_nul_bytes_and_fake_trailers_is_just_content(void **state)
{
	struct keys *k = *state;
	static const char body[] = "a\0b\n#coldtrace-signature v1 sha256=00 ed25519=x key=y\nz\n";
	size_t len = sizeof(body) - 1;
	char *buf = malloc(len);

	memcpy(buf, body, len);
	assert_int_equal(sign_append(k->sk, SIGN_STYLE_CSV, &buf, &len), 0);
	assert_int_equal(status_of(buf, len, k->pk, NULL), SIGN_VALID);
	free(buf);
}

/* Every position, every other byte value: never valid, and never merely "untrusted" when no
 * trusted key is given (a change is caught by consistency alone). */
static void every_change_is_caught(const struct keys *k, enum sign_style style, const char *text)
{
	struct sign_result res;
	size_t len, content = strlen(text), caught = 0;
	char *s = signed_copy(k, style, text, &len);

	for (size_t i = 0; i < len; i++) {
		char keep = s[i];

		for (int v = 0; v < 256; v++) {
			enum sign_status st;

			if ((char)v == keep)
				continue;
			s[i] = (char)v;
			st = status_of(s, len, k->pk, &res);
			if (st == SIGN_VALID)
				fail_msg("change at %zu to 0x%02x not caught", i, v);
			/* A content byte (but the newline ending the content) is a changed content,
			 * whatever the key; a trailer byte is caught without a trusted key too. */
			if (i + 1 >= content)
				assert_int_not_equal(status_of(s, len, NULL, NULL), SIGN_UNTRUSTED);
			else {
				assert_int_equal(st, SIGN_DIGEST_MISMATCH);
				assert_non_null(strstr(res.message, "the content changed"));
			}
			caught++;
		}
		s[i] = keep;
	}
	assert_int_equal(caught, len * 255);
	assert_int_equal(status_of(s, len, k->pk, NULL), SIGN_VALID);
	free(s);
}

static void test_sign__every_single_byte_change_of_xml_is_caught(void **state)
{
	every_change_is_caught(*state, SIGN_STYLE_XML, xml_sample);
}

static void test_sign__every_single_byte_change_of_csv_is_caught(void **state)
{
	every_change_is_caught(*state, SIGN_STYLE_CSV, csv_sample);
}

static void test_sign__appended_data_is_refused(void **state)
{
	struct keys *k = *state;
	struct sign_result res;
	size_t len;
	char *s = signed_copy(k, SIGN_STYLE_XML, xml_sample, &len);
	char *t = malloc(len + 8);

	memcpy(t, s, len);
	memcpy(t + len, "x", 1);
	assert_int_equal(status_of(t, len + 1, k->pk, &res), SIGN_DATA_AFTER_TRAILER);
	assert_non_null(strstr(res.message, "1 bytes after the signature trailer"));
	memcpy(t + len, "\n", 1);
	assert_int_equal(status_of(t, len + 1, k->pk, NULL), SIGN_DATA_AFTER_TRAILER);
	memcpy(t + len, "<a/>\n", 5);
	assert_int_equal(status_of(t, len + 5, k->pk, NULL), SIGN_DATA_AFTER_TRAILER);
	free(t);

	/* Signed again, the first trailer is content: valid, and the digest covers it. */
	size_t len2 = len;
	assert_int_equal(sign_append(k->sk2, SIGN_STYLE_XML, &s, &len2), 0);
	assert_int_equal(status_of(s, len2, k->pk2, NULL), SIGN_VALID);
	assert_int_equal(status_of(s, len2, k->pk, NULL), SIGN_OTHER_KEY);
	free(s);
}

static void test_sign__every_truncation_is_refused(void **state)
{
	struct keys *k = *state;
	struct sign_result res;
	size_t len, content = strlen(csv_sample);
	char *s = signed_copy(k, SIGN_STYLE_CSV, csv_sample, &len);

	for (size_t n = 0; n < len; n++)
		assert_int_not_equal(status_of(s, n, k->pk, NULL), SIGN_VALID);
	assert_int_equal(status_of(s, len - 1, k->pk, &res), SIGN_MALFORMED);
	assert_non_null(strstr(res.message, "truncated"));
	assert_int_equal(status_of(s, content, k->pk, &res), SIGN_NO_TRAILER);
	assert_int_equal(status_of(s, 0, k->pk, NULL), SIGN_NO_TRAILER);
	assert_int_equal(status_of(NULL, 0, k->pk, NULL), SIGN_NO_TRAILER);
	free(s);
}

static void test_sign__wrong_or_missing_trusted_key(void **state)
{
	struct keys *k = *state;
	struct sign_result res;
	char pk_b64[SIGN_KEY_B64_LEN], pk2_b64[SIGN_KEY_B64_LEN];
	size_t len;
	char *s = signed_copy(k, SIGN_STYLE_XML, xml_sample, &len);
	char *key;

	sign_key_text(k->pk, pk_b64);
	sign_key_text(k->pk2, pk2_b64);
	assert_int_equal(status_of(s, len, k->pk2, &res), SIGN_OTHER_KEY);
	assert_non_null(strstr(res.message, "signed by another key"));
	assert_non_null(strstr(res.message, pk_b64));
	assert_int_equal(status_of(s, len, NULL, &res), SIGN_UNTRUSTED);
	assert_non_null(strstr(res.message, "no trusted public key"));

	/* Claiming the trusted key in the key field does not make someone else's signature
	 * the trusted key's; and naming another key on a trusted signature is caught. */
	key = strstr(s, " key=") + 5;
	memcpy(key, pk2_b64, strlen(pk2_b64));
	assert_int_equal(status_of(s, len, k->pk2, &res), SIGN_BAD_SIGNATURE);
	assert_int_equal(status_of(s, len, k->pk, &res), SIGN_BAD_SIGNATURE);
	assert_non_null(strstr(res.message, "key field was altered"));
	free(s);
}

static void test_sign__altered_sha256_field_is_named(void **state)
{
	struct keys *k = *state;
	struct sign_result res;
	size_t len;
	char *s = signed_copy(k, SIGN_STYLE_CSV, csv_sample, &len);
	char *hex = strstr(s, "sha256=") + 7;

	hex[10] = hex[10] == '0' ? '1' : '0';
	assert_int_equal(status_of(s, len, NULL, &res), SIGN_DIGEST_MISMATCH);
	assert_non_null(strstr(res.message, "sha256 field was altered"));
	free(s);
}

/* Replaces the first occurrence of from in the signed sample by to; verifies; returns the
 * status and leaves the message in res. */
static enum sign_status edited(const struct keys *k, enum sign_style style, const char *from,
			       const char *to, struct sign_result *res)
{
	size_t len, flen = strlen(from), tlen = strlen(to);
	char *s = signed_copy(k, style, "x,y\n", &len);
	char *at = memmem(s, len, from, flen), *t = malloc(len + tlen + 1);
	size_t off, n;
	enum sign_status st;

	assert_non_null(at);
	off = (size_t)(at - s);
	memcpy(t, s, off);
	memcpy(t + off, to, tlen);
	memcpy(t + off + tlen, at + flen, len - off - flen);
	n = len - flen + tlen;
	st = status_of(t, n, k->pk, res);
	free(s);
	free(t);
	return st;
}

static void test_sign__malformed_fields_are_named(void **state)
{
	struct keys *k = *state;
	struct sign_result r;

	assert_int_equal(edited(k, SIGN_STYLE_CSV, " v1 ", " v2 ", &r), SIGN_MALFORMED);
	assert_non_null(strstr(r.message, "version"));
	assert_int_equal(edited(k, SIGN_STYLE_CSV, "sha256=", "sha-256=", &r), SIGN_MALFORMED);
	assert_non_null(strstr(r.message, "sha256"));
	assert_int_equal(edited(k, SIGN_STYLE_CSV, "sha256=", "sha256=A", &r), SIGN_MALFORMED);
	assert_non_null(strstr(r.message, "field sha256 is not 64 lowercase hex"));
	assert_int_equal(edited(k, SIGN_STYLE_CSV, " ed25519=", "  ed25519=", &r), SIGN_MALFORMED);
	assert_non_null(strstr(r.message, "ed25519"));
	assert_int_equal(edited(k, SIGN_STYLE_CSV, "ed25519=", "ed25519=AAAA", &r), SIGN_MALFORMED);
	assert_non_null(strstr(r.message, "field ed25519 is not the canonical base64"));
	assert_int_equal(edited(k, SIGN_STYLE_CSV, "key=", "key=AAAA", &r), SIGN_MALFORMED);
	assert_non_null(strstr(r.message, "field key is not the canonical base64"));
	assert_int_equal(edited(k, SIGN_STYLE_CSV, "=\n", "= extra\n", &r), SIGN_MALFORMED);
	assert_int_equal(edited(k, SIGN_STYLE_CSV, "=\n", "=\r\n", &r), SIGN_MALFORMED);
	assert_int_equal(edited(k, SIGN_STYLE_XML, "-->\n", "->\n", &r), SIGN_MALFORMED);
	assert_non_null(strstr(r.message, "does not end with '-->'"));
	assert_int_equal(edited(k, SIGN_STYLE_XML, "-->\n", "--> \n", &r), SIGN_MALFORMED);
	assert_int_equal(edited(k, SIGN_STYLE_CSV, "x,y\n", "x,y", &r), SIGN_MALFORMED);
	assert_non_null(strstr(r.message, "does not start a line"));
	assert_int_equal(edited(k, SIGN_STYLE_CSV, "#coldtrace", "#coldtrac", &r), SIGN_NO_TRAILER);
}

static void test_sign__noncanonical_base64_is_refused(void **state)
{
	struct keys *k = *state;
	size_t len;
	char *s = signed_copy(k, SIGN_STYLE_CSV, "x\n", &len);
	/* The key's last character before '=' carries 2 unused bits: setting one decodes to
	 * the same bytes with another spelling, which must not pass. */
	char *pad = memchr(s + len - 3, '=', 3);
	const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	int idx;

	assert_non_null(pad);
	idx = (int)(strchr(alphabet, pad[-1]) - alphabet);
	pad[-1] = alphabet[idx ^ 1];
	assert_int_not_equal(status_of(s, len, k->pk, NULL), SIGN_VALID);
	free(s);
}

static void path_in(const struct keys *k, const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s", k->dir, name);
}

static void test_sign__key_files_round_trip_and_are_never_overwritten(void **state)
{
	struct keys *k = *state;
	unsigned char sk[SIGN_SECRET_BYTES], pk[SIGN_PUBLIC_BYTES];
	char skp[128], pkp[128];
	struct stat st;

	path_in(k, "rt.key", skp, sizeof(skp));
	path_in(k, "rt.pub", pkp, sizeof(pkp));
	assert_int_equal(sign_save_secret(skp, k->sk), 0);
	assert_int_equal(sign_save_public(pkp, k->pk), 0);
	assert_int_equal(stat(skp, &st), 0);
	assert_int_equal(st.st_mode & 077, 0);
	assert_int_equal(sign_load_secret(skp, sk), 0);
	assert_memory_equal(sk, k->sk, sizeof(sk));
	assert_int_equal(sign_load_public(pkp, pk), 0);
	assert_memory_equal(pk, k->pk, sizeof(pk));
	assert_int_equal(sign_save_secret(skp, k->sk2), -1);
	assert_int_equal(sign_save_public(pkp, k->pk2), -1);
	assert_int_equal(sign_load_secret(skp, sk), 0);
	assert_memory_equal(sk, k->sk, sizeof(sk));
	/* 0400 is tighter than 0600: accepted. */
	assert_int_equal(chmod(skp, 0400), 0);
	assert_int_equal(sign_load_secret(skp, sk), 0);
	assert_int_equal(sign_load_secret("/nonexistent/key", sk), -1);
	assert_int_equal(sign_load_public(k->dir, pk), -1); /* a directory */
}

static void test_sign__secret_key_readable_by_others_is_refused(void **state)
{
	struct keys *k = *state;
	unsigned char sk[SIGN_SECRET_BYTES];
	char skp[128];

	path_in(k, "open.key", skp, sizeof(skp));
	assert_int_equal(sign_save_secret(skp, k->sk), 0);
	assert_int_equal(chmod(skp, 0644), 0);
	assert_int_equal(sign_load_secret(skp, sk), -1);
	assert_int_equal(chmod(skp, 0640), 0);
	assert_int_equal(sign_load_secret(skp, sk), -1);
	assert_int_equal(chmod(skp, 0604), 0);
	assert_int_equal(sign_load_secret(skp, sk), -1);
	assert_int_equal(chmod(skp, 0600), 0);
	assert_int_equal(sign_load_secret(skp, sk), 0);
}

static void write_text(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_sign__corrupt_key_files_are_refused(void **state)
{
	struct keys *k = *state;
	unsigned char sk[SIGN_SECRET_BYTES], pk[SIGN_PUBLIC_BYTES], bad[SIGN_SECRET_BYTES];
	char path[128], b64[100];

	path_in(k, "corrupt", path, sizeof(path));
	/* A secret key whose public half is another key's. */
	memcpy(bad, k->sk, 32);
	memcpy(bad + 32, k->pk2, 32);
	assert_int_equal(sign_save_secret(path, bad), 0);
	assert_int_equal(sign_load_secret(path, sk), -1);
	unlink(path);
	/* A public key where a secret one is expected, and the reverse. */
	sign_key_text(k->pk, b64);
	write_text(path, b64, 0600);
	assert_int_equal(sign_load_secret(path, sk), -1);
	assert_int_equal(sign_load_public(path, pk), 0); /* no final newline is fine */
	write_text(path, "not base64 at all\n", 0600);
	assert_int_equal(sign_load_public(path, pk), -1);
	write_text(path, "", 0600);
	assert_int_equal(sign_load_public(path, pk), -1);
	snprintf(b64 + strlen(b64), sizeof(b64) - strlen(b64), "\n\n");
	write_text(path, b64, 0600);
	assert_int_equal(sign_load_public(path, pk), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sign__signed_xml_and_csv_verify),
	    cmocka_unit_test(test_sign__digest_is_the_sha256_of_the_content),
	    cmocka_unit_test(test_sign__content_without_final_newline_gets_one),
	    cmocka_unit_test(test_sign__content_with_nul_bytes_and_fake_trailers_is_just_content),
	    cmocka_unit_test(test_sign__every_single_byte_change_of_xml_is_caught),
	    cmocka_unit_test(test_sign__every_single_byte_change_of_csv_is_caught),
	    cmocka_unit_test(test_sign__appended_data_is_refused),
	    cmocka_unit_test(test_sign__every_truncation_is_refused),
	    cmocka_unit_test(test_sign__wrong_or_missing_trusted_key),
	    cmocka_unit_test(test_sign__altered_sha256_field_is_named),
	    cmocka_unit_test(test_sign__malformed_fields_are_named),
	    cmocka_unit_test(test_sign__noncanonical_base64_is_refused),
	    cmocka_unit_test(test_sign__key_files_round_trip_and_are_never_overwritten),
	    cmocka_unit_test(test_sign__secret_key_readable_by_others_is_refused),
	    cmocka_unit_test(test_sign__corrupt_key_files_are_refused),
	};

	return cmocka_run_group_tests_name("sign", tests, setup, teardown);
}
