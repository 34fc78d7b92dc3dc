/*
 * sign: SHA-256 digests and Ed25519 signatures (libsodium) of reports, carried in a trailer
 * line at the end of the file, and their verification.
 *
 * A signed report is its content followed by exactly one trailer line, the last line of the
 * file:
 *
 *   XML, XHTML, EPCIS:  <!--coldtrace-signature v1 sha256=HEX ed25519=SIG key=PK-->\n
 *   CSV:                #coldtrace-signature v1 sha256=HEX ed25519=SIG key=PK\n
 *
 * HEX is the SHA-256 of the content (64 lowercase hex digits), SIG the Ed25519 signature
 * (base64, original variant, padded) over "coldtrace-report-v1\n" followed by the 32 raw
 * digest bytes, PK the signer's 32-byte public key in the same base64. The signed content is
 * exactly the bytes before the trailer line; an XML comment after the root element keeps
 * the document well-formed. Every field is parsed strictly (one canonical spelling), so any
 * single-byte change of a signed file fails verification.
 *
 * Key files are one line of base64 (original variant) of the 64-byte libsodium secret key
 * (seed then public key) or of the 32-byte public key. A secret key file must have mode 0600
 * or tighter.
 */
#ifndef COLDTRACE_SIGN_H
#define COLDTRACE_SIGN_H

#include <stddef.h>

#define SIGN_SECRET_BYTES 64
#define SIGN_PUBLIC_BYTES 32
/* Text lengths with their NUL: SHA-256 in hex, a public key in base64. */
#define SIGN_HEX_LEN 65
#define SIGN_KEY_B64_LEN 45

enum sign_style {
	SIGN_STYLE_XML, /* an XML comment: XML, XHTML, EPCIS documents */
	SIGN_STYLE_CSV, /* a '#' line: CSV */
};

enum sign_status {
	SIGN_VALID = 0,		 /* intact and signed by the trusted key */
	SIGN_UNTRUSTED,		 /* intact and self-consistent, but no trusted key was given */
	SIGN_NO_TRAILER,	 /* no signature trailer found */
	SIGN_MALFORMED,		 /* a trailer whose text or one of its fields is wrong */
	SIGN_DATA_AFTER_TRAILER, /* bytes after the trailer line */
	SIGN_DIGEST_MISMATCH,	 /* content (or the sha256 field) changed */
	SIGN_BAD_SIGNATURE,	 /* the signature does not verify with the key it names */
	SIGN_OTHER_KEY,		 /* validly signed, but by another key than the trusted one */
};

struct sign_result {
	enum sign_status status;
	char message[400]; /* what holds or exactly what fails, one line, no file name */
	/* Filled when a trailer was parsed: its sha256 field and key field (else ""). */
	char sha256_hex[SIGN_HEX_LEN];
	char key_b64[SIGN_KEY_B64_LEN];
};

/* A new key pair. 0, or -1 (logged) when libsodium cannot be initialised. */
int sign_keygen(unsigned char sk[SIGN_SECRET_BYTES], unsigned char pk[SIGN_PUBLIC_BYTES]);

/* Reads a secret key file. Refuses (-1, logged with the path) a file that is not a regular
 * file, has any group or other permission bit (mode must be 0600 or tighter), is not one line
 * of canonical base64 of 64 bytes, or whose public half does not match its seed. */
int sign_load_secret(const char *path, unsigned char sk[SIGN_SECRET_BYTES]);
/* Reads a public key file (one line of canonical base64 of 32 bytes). 0 or -1 (logged). */
int sign_load_public(const char *path, unsigned char pk[SIGN_PUBLIC_BYTES]);

/* Write a new key file; refuse to replace an existing one (O_EXCL). The secret key file is
 * created with mode 0600, the public one 0644 (both less the umask). 0 or -1 (logged). */
int sign_save_secret(const char *path, const unsigned char sk[SIGN_SECRET_BYTES]);
int sign_save_public(const char *path, const unsigned char pk[SIGN_PUBLIC_BYTES]);

/* The public key as its base64 text (for messages). */
void sign_key_text(const unsigned char pk[SIGN_PUBLIC_BYTES], char out[SIGN_KEY_B64_LEN]);

/* Signs the *len bytes of the malloc'd *buf and appends the trailer line in the given style.
 * When the content does not end with a newline, one is appended first (it becomes part of
 * the signed content) so the trailer starts a line. *buf is realloc'd: on success the caller
 * owns the new *buf of *len bytes (not NUL-terminated); on failure *buf and *len are
 * unchanged and still the caller's. *buf may be NULL when *len is 0. 0 or -1 (logged). */
int sign_append(const unsigned char sk[SIGN_SECRET_BYTES], enum sign_style style, char **buf,
		size_t *len);

/* Verifies the len bytes of data (not NUL-terminated). With trusted_pk, the file must be
 * signed by that key; with NULL, only self-consistency is checked and a consistent file gets
 * SIGN_UNTRUSTED. Always fills *res (a verdict is not an error and is not logged). Returns 0
 * when res->status is SIGN_VALID, -1 otherwise. */
int sign_verify(const char *data, size_t len, const unsigned char *trusted_pk,
		struct sign_result *res);

#endif
