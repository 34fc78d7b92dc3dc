/*
 * sign: makes reports verifiable. A report's content gets a SHA-256 digest and an Ed25519
 * signature (libsodium), written in one trailer line after it; verification parses that line
 * strictly and says exactly what fails. Also reads and writes the key files.
 *
 * DESIGN. What is signed is "coldtrace-report-v1\n" followed by the 32 raw digest bytes: the
 * prefix keeps a coldtrace signature from being valid for any other protocol that signs a
 * bare SHA-256, and the version in it lets a v2 change the construction. The trailer repeats
 * the digest in hex so a reader can compare it with `sha256sum` of the content. Every field
 * has exactly one accepted spelling (lowercase hex, canonical padded base64 checked by
 * re-encoding, single spaces, one final '\n' and nothing after it), which is what makes
 * every single-byte change of a signed file detectable: a change in the content changes the
 * digest; a change in the trailer's text or fields breaks the parse, the digest comparison
 * or the signature. Verification works on (ptr, len), never on C strings: a NUL byte is just
 * content.
 */
#include "sign.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "log.h"

#define DOMAIN "coldtrace-report-v1\n"
#define DOMAIN_LEN (sizeof(DOMAIN) - 1)
#define SIG_B64_LEN 89 /* sodium_base64_ENCODED_LEN(64, ORIGINAL), with its NUL */
/* A key file is one short line; anything much longer is not one. */
#define KEY_FILE_MAX 256

struct style_text {
	const char *prefix;
	const char *suffix;
};

static const struct style_text styles[] = {
    [SIGN_STYLE_XML] = {"<!--coldtrace-signature ", "-->"},
    [SIGN_STYLE_CSV] = {"#coldtrace-signature ", ""},
};

static int ready(void)
{
	if (sodium_init() < 0) {
		log_error("sign: libsodium cannot be initialised");
		return -1;
	}
	return 0;
}

static void b64(const unsigned char *bin, size_t n, char *out, size_t cap)
{
	sodium_bin2base64(out, cap, bin, n, sodium_base64_VARIANT_ORIGINAL);
}

/* 0 when s[0..slen) is the canonical padded base64 of exactly n bytes (decoded into out). */
static int unb64(const char *s, size_t slen, unsigned char *out, size_t n)
{
	char again[SIG_B64_LEN];
	const char *end = NULL;
	size_t got = 0;

	if (slen != sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL) - 1 ||
	    slen >= sizeof(again))
		return -1;
	if (sodium_base642bin(out, n, s, slen, NULL, &got, &end, sodium_base64_VARIANT_ORIGINAL) !=
		0 ||
	    got != n || end != s + slen)
		return -1;
	/* Padding bits and the like: only the spelling the encoder produces is accepted. */
	b64(out, n, again, sizeof(again));
	return memcmp(again, s, slen) == 0 ? 0 : -1;
}

static void signed_message(const unsigned char digest[32], unsigned char msg[DOMAIN_LEN + 32])
{
	memcpy(msg, DOMAIN, DOMAIN_LEN);
	memcpy(msg + DOMAIN_LEN, digest, 32);
}

static int verifies(const unsigned char sig[64], const unsigned char digest[32],
		    const unsigned char pk[32])
{
	unsigned char msg[DOMAIN_LEN + 32];

	signed_message(digest, msg);
	return crypto_sign_verify_detached(sig, msg, sizeof(msg), pk) == 0;
}

void sign_key_text(const unsigned char pk[SIGN_PUBLIC_BYTES], char out[SIGN_KEY_B64_LEN])
{
	b64(pk, SIGN_PUBLIC_BYTES, out, SIGN_KEY_B64_LEN);
}

int sign_keygen(unsigned char sk[SIGN_SECRET_BYTES], unsigned char pk[SIGN_PUBLIC_BYTES])
{
	if (ready() < 0)
		return -1;
	crypto_sign_keypair(pk, sk);
	return 0;
}

/* ---- key files ------------------------------------------------------------------------ */

/* Reads the one line of path into out (n bytes). secret: also the mode check. */
static int load_key(const char *path, int secret, unsigned char *out, size_t n)
{
	const char *what = secret ? "secret key file" : "public key file";
	char buf[KEY_FILE_MAX + 1];
	size_t len = 0;
	struct stat st;
	int fd = -1, rc = -1;

	if (ready() < 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		log_error("sign: %s %s: %s", what, path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		log_error("sign: %s %s: %s", what, path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		log_error("sign: %s %s is not a regular file", what, path);
		goto out;
	}
	if (secret && (st.st_mode & 077) != 0) {
		log_error("sign: secret key file %s has mode %04o: it must be 0600 or tighter "
			  "(chmod 600 %s)",
			  path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, buf + len, sizeof(buf) - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			log_error("sign: %s %s: %s", what, path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len == sizeof(buf)) {
			log_error("sign: %s %s is too long to be a key file", what, path);
			goto out;
		}
	}
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (unb64(buf, len, out, n) < 0) {
		log_error("sign: %s %s is not one line of base64 of a %zu-byte Ed25519 %s key",
			  what, path, n, secret ? "secret" : "public");
		goto out;
	}
	rc = 0;
out:
	sodium_memzero(buf, sizeof(buf));
	if (fd >= 0)
		close(fd);
	return rc;
}

int sign_load_secret(const char *path, unsigned char sk[SIGN_SECRET_BYTES])
{
	unsigned char seed[crypto_sign_SEEDBYTES], pk[SIGN_PUBLIC_BYTES], again[SIGN_SECRET_BYTES];
	int rc = -1;

	if (load_key(path, 1, sk, SIGN_SECRET_BYTES) < 0)
		return -1;
	/* A libsodium secret key is seed || public key: both halves must belong together. */
	crypto_sign_ed25519_sk_to_seed(seed, sk);
	crypto_sign_seed_keypair(pk, again, seed);
	if (sodium_memcmp(again, sk, SIGN_SECRET_BYTES) != 0) {
		log_error("sign: secret key file %s is corrupt: its public half does not match "
			  "its seed",
			  path);
		sodium_memzero(sk, SIGN_SECRET_BYTES);
		goto out;
	}
	rc = 0;
out:
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(again, sizeof(again));
	return rc;
}

int sign_load_public(const char *path, unsigned char pk[SIGN_PUBLIC_BYTES])
{
	return load_key(path, 0, pk, SIGN_PUBLIC_BYTES);
}

static int save_key(const char *path, const unsigned char *key, size_t n, mode_t mode)
{
	char line[SIG_B64_LEN + 1];
	size_t len, done = 0;
	int fd, rc = -1;

	b64(key, n, line, sizeof(line) - 1);
	len = strlen(line);
	line[len++] = '\n';
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		if (errno == EEXIST)
			log_error("sign: %s already exists: refusing to overwrite a key file",
				  path);
		else
			log_error("sign: cannot create %s: %s", path, strerror(errno));
		goto out;
	}
	while (done < len) {
		ssize_t w = write(fd, line + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			log_error("sign: writing %s: %s", path, strerror(errno));
			goto out;
		}
		done += (size_t)w;
	}
	if (fsync(fd) < 0) {
		log_error("sign: writing %s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	sodium_memzero(line, sizeof(line));
	if (fd >= 0) {
		if (close(fd) < 0 && rc == 0) {
			log_error("sign: writing %s: %s", path, strerror(errno));
			rc = -1;
		}
		if (rc < 0)
			unlink(path); /* ours: O_EXCL created it */
	}
	return rc;
}

int sign_save_secret(const char *path, const unsigned char sk[SIGN_SECRET_BYTES])
{
	return save_key(path, sk, SIGN_SECRET_BYTES, 0600);
}

int sign_save_public(const char *path, const unsigned char pk[SIGN_PUBLIC_BYTES])
{
	return save_key(path, pk, SIGN_PUBLIC_BYTES, 0644);
}

/* ---- signing ---------------------------------------------------------------------------- */

int sign_append(const unsigned char sk[SIGN_SECRET_BYTES], enum sign_style style, char **buf,
		size_t *len)
{
	unsigned char digest[32], sig[64], pk[SIGN_PUBLIC_BYTES], msg[DOMAIN_LEN + 32];
	char hex[SIGN_HEX_LEN], sig_b64[SIG_B64_LEN], pk_b64[SIGN_KEY_B64_LEN], trailer[256];
	crypto_hash_sha256_state st;
	size_t n = *len, nl;
	char *grown;
	int tlen;

	if (ready() < 0)
		return -1;
	if ((style != SIGN_STYLE_XML && style != SIGN_STYLE_CSV) || (n > 0 && !*buf)) {
		log_error("sign: sign_append called with a bad style or buffer");
		return -1;
	}
	nl = n > 0 && (*buf)[n - 1] != '\n';
	crypto_hash_sha256_init(&st);
	if (n > 0)
		crypto_hash_sha256_update(&st, (const unsigned char *)*buf, n);
	if (nl)
		crypto_hash_sha256_update(&st, (const unsigned char *)"\n", 1);
	crypto_hash_sha256_final(&st, digest);
	signed_message(digest, msg);
	crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
	crypto_sign_ed25519_sk_to_pk(pk, sk);
	sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
	b64(sig, sizeof(sig), sig_b64, sizeof(sig_b64));
	b64(pk, sizeof(pk), pk_b64, sizeof(pk_b64));
	tlen = snprintf(trailer, sizeof(trailer), "%sv1 sha256=%s ed25519=%s key=%s%s\n",
			styles[style].prefix, hex, sig_b64, pk_b64, styles[style].suffix);
	if (tlen < 0 || (size_t)tlen >= sizeof(trailer) || n > (size_t)-1 - 1 - (size_t)tlen) {
		log_error("sign: trailer does not fit");
		return -1;
	}
	grown = realloc(*buf, n + nl + (size_t)tlen);
	if (!grown) {
		log_error("sign: out of memory signing a report of %zu bytes", n);
		return -1;
	}
	if (nl)
		grown[n] = '\n';
	memcpy(grown + n + nl, trailer, (size_t)tlen);
	*buf = grown;
	*len = n + nl + (size_t)tlen;
	return 0;
}

/* ---- verification ------------------------------------------------------------------------ */

static int verdict(struct sign_result *res, enum sign_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int verdict(struct sign_result *res, enum sign_status status, const char *fmt, ...)
{
	va_list ap;

	res->status = status;
	va_start(ap, fmt);
	vsnprintf(res->message, sizeof(res->message), fmt, ap);
	va_end(ap);
	return status == SIGN_VALID ? 0 : -1;
}

/* Offset of the last occurrence of needle in data[0..len), or -1. */
static long last_index(const char *data, size_t len, const char *needle)
{
	size_t nlen = strlen(needle), end = len;

	while (end >= nlen) {
		const char *p = memrchr(data, needle[0], end - nlen + 1);

		if (!p)
			return -1;
		if (memcmp(p, needle, nlen) == 0)
			return (long)(p - data);
		end = (size_t)(p - data) + nlen - 1;
	}
	return -1;
}

/* One "name=value" field at *p (before end); the value runs to the next space or to end.
 * Not last: a single space must follow and is skipped. 0, or -1 with res filled. */
static int field(const char **p, const char *end, const char *name, int last, const char **val,
		 size_t *vlen, struct sign_result *res)
{
	size_t nlen = strlen(name);
	const char *v, *e;

	if ((size_t)(end - *p) < nlen + 1 || memcmp(*p, name, nlen) != 0 || (*p)[nlen] != '=')
		return verdict(res, SIGN_MALFORMED,
			       "malformed signature trailer: field %s= "
			       "missing where expected",
			       name);
	v = *p + nlen + 1;
	e = memchr(v, ' ', (size_t)(end - v));
	if (!e)
		e = end;
	if (last && e != end)
		return verdict(res, SIGN_MALFORMED,
			       "malformed signature trailer: unexpected text after field %s", name);
	if (!last && e == end)
		return verdict(res, SIGN_MALFORMED,
			       "malformed signature trailer: field %s is not followed by a space "
			       "and the next field",
			       name);
	*val = v;
	*vlen = (size_t)(e - v);
	*p = last ? e : e + 1;
	return 0;
}

static int lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int sign_verify(const char *data, size_t len, const unsigned char *trusted_pk,
		struct sign_result *res)
{
	const struct style_text *style = NULL;
	const char *p, *end, *nl, *hex, *sigtxt, *keytxt;
	size_t hexlen, siglen, keylen, slen, at = 0;
	unsigned char digest[32], stated[32], sig[64], pk[SIGN_PUBLIC_BYTES];
	char computed[SIGN_HEX_LEN], trusted_b64[SIGN_KEY_B64_LEN];

	memset(res, 0, sizeof(*res));
	if (ready() < 0)
		return verdict(res, SIGN_MALFORMED, "libsodium cannot be initialised");
	if (!data)
		len = 0;

	/* The trailer: the last occurrence of either prefix. */
	for (size_t i = 0; i < sizeof(styles) / sizeof(styles[0]); i++) {
		long k = last_index(data, len, styles[i].prefix);

		if (k >= 0 && (!style || (size_t)k > at)) {
			style = &styles[i];
			at = (size_t)k;
		}
	}
	if (!style)
		return verdict(res, SIGN_NO_TRAILER,
			       "no signature trailer (the file is not signed, "
			       "or its last line was cut off)");
	if (at > 0 && data[at - 1] != '\n')
		return verdict(res, SIGN_MALFORMED,
			       "malformed signature trailer: it does not start a line");
	nl = memchr(data + at, '\n', len - at);
	if (!nl)
		return verdict(res, SIGN_MALFORMED,
			       "malformed signature trailer: the line has no "
			       "line end (file truncated?)");
	if ((size_t)(nl + 1 - data) != len)
		return verdict(res, SIGN_DATA_AFTER_TRAILER,
			       "%zu bytes after the signature trailer line (data appended)",
			       len - (size_t)(nl + 1 - data));

	p = data + at + strlen(style->prefix);
	end = nl;
	slen = strlen(style->suffix);
	if ((size_t)(end - p) < slen || memcmp(end - slen, style->suffix, slen) != 0)
		return verdict(res, SIGN_MALFORMED,
			       "malformed signature trailer: it does not end with '%s'",
			       style->suffix);
	end -= slen;
	if (end - p < 3 || memcmp(p, "v1 ", 3) != 0)
		return verdict(res, SIGN_MALFORMED,
			       "malformed signature trailer: version is not "
			       "v1 (unknown or damaged version field)");
	p += 3;
	if (field(&p, end, "sha256", 0, &hex, &hexlen, res) < 0 ||
	    field(&p, end, "ed25519", 0, &sigtxt, &siglen, res) < 0 ||
	    field(&p, end, "key", 1, &keytxt, &keylen, res) < 0)
		return -1;
	if (hexlen != 64 || !lower_hex(hex, hexlen))
		return verdict(res, SIGN_MALFORMED,
			       "malformed signature trailer: field sha256 is "
			       "not 64 lowercase hex digits");
	if (unb64(sigtxt, siglen, sig, sizeof(sig)) < 0)
		return verdict(res, SIGN_MALFORMED,
			       "malformed signature trailer: field ed25519 is not the canonical "
			       "base64 of a 64-byte signature");
	if (unb64(keytxt, keylen, pk, sizeof(pk)) < 0)
		return verdict(res, SIGN_MALFORMED,
			       "malformed signature trailer: field key is not the canonical base64 "
			       "of a 32-byte public key");
	memcpy(res->sha256_hex, hex, 64);
	memcpy(res->key_b64, keytxt, keylen);
	sodium_hex2bin(stated, sizeof(stated), hex, 64, NULL, NULL, NULL);

	crypto_hash_sha256(digest, (const unsigned char *)data, at);
	sodium_bin2hex(computed, sizeof(computed), digest, sizeof(digest));
	if (sodium_memcmp(digest, stated, sizeof(digest)) != 0) {
		/* Which one changed: when the signature covers the content as it is, the
		 * stated digest is what was altered. */
		if (verifies(sig, digest, pk) || (trusted_pk && verifies(sig, digest, trusted_pk)))
			return verdict(res, SIGN_DIGEST_MISMATCH,
				       "digest mismatch: the trailer's sha256 field was altered "
				       "(it says %s; the content, %s, is the one signed)",
				       res->sha256_hex, computed);
		return verdict(res, SIGN_DIGEST_MISMATCH,
			       "digest mismatch: the content changed (its SHA-256 is %s, the "
			       "signed digest is %s)",
			       computed, res->sha256_hex);
	}
	if (!verifies(sig, digest, pk)) {
		if (trusted_pk && sodium_memcmp(pk, trusted_pk, sizeof(pk)) != 0 &&
		    verifies(sig, digest, trusted_pk)) {
			sign_key_text(trusted_pk, trusted_b64);
			return verdict(
			    res, SIGN_BAD_SIGNATURE,
			    "signature invalid: the trailer's key field was altered (the "
			    "signature is the trusted key's, %s, but the trailer names %s)",
			    trusted_b64, res->key_b64);
		}
		return verdict(res, SIGN_BAD_SIGNATURE,
			       "signature invalid: the Ed25519 signature does not verify over "
			       "digest %s with key %s",
			       res->sha256_hex, res->key_b64);
	}
	if (!trusted_pk)
		return verdict(res, SIGN_UNTRUSTED,
			       "signer not trusted: the signature is consistent (sha256 %s, key "
			       "%s) but no trusted public key was given to check the signer",
			       res->sha256_hex, res->key_b64);
	if (sodium_memcmp(pk, trusted_pk, sizeof(pk)) != 0) {
		sign_key_text(trusted_pk, trusted_b64);
		return verdict(res, SIGN_OTHER_KEY,
			       "signed by another key: %s, not the trusted key %s", res->key_b64,
			       trusted_b64);
	}
	return verdict(res, SIGN_VALID, "valid (sha256 %s, key %s)", res->sha256_hex, res->key_b64);
}
