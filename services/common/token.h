/*
 * token: API tokens of the HTTP API users. A token is shown once as "<id>.<secret>": id is
 * api_tokens.id (decimal), secret 32 random bytes in unpadded base64url (43 characters).
 * Only the argon2id hash of the secret (libsodium crypto_pwhash_str) is stored, so checking
 * a token is a lookup by id and one hash verification. Shared by the CLI (which makes them)
 * and the API (which checks them); no database, no HTTP.
 */
#ifndef COLDTRACE_TOKEN_H
#define COLDTRACE_TOKEN_H

#include <stddef.h>

#define TOKEN_SECRET_LEN 43	/* base64url of 32 bytes, no padding */
#define TOKEN_HASH_MAX 128	/* crypto_pwhash_STRBYTES */
#define TOKEN_TEXT_MAX 64	/* "<id>.<secret>" with its NUL */

/* A fresh random secret as text (NUL-terminated). 0, or -1 when libsodium fails to start. */
int token_secret_new(char out[TOKEN_SECRET_LEN + 1]);

/* The argon2id hash string of a secret. 0 or -1 (out of memory). */
int token_hash(const char *secret, char out[TOKEN_HASH_MAX]);

/* Splits "<id>.<secret>" (len bytes, not NUL-terminated): id 1 to 18 digits without a
 * leading zero, secret exactly TOKEN_SECRET_LEN base64url characters. 0 or -1. */
int token_parse(const char *text, size_t len, long long *id, char secret[TOKEN_SECRET_LEN + 1]);

/* 0 when secret matches hash (constant time in the secret), -1 otherwise. */
int token_verify(const char *hash, const char *secret);

#endif
