/*
 * token: making, parsing and verifying API tokens (see token.h). The secret has 256 bits of
 * entropy, so the hash does not have to resist guessing the way a password hash must; it is
 * argon2id anyway (the stored hash of a leaked table is then as hard to use as a password's),
 * with libsodium's interactive time cost and 16 MiB of memory, so a verification takes tens
 * of milliseconds and the API caches verified tokens for a short time.
 */
#include "token.h"

#include <sodium.h>
#include <string.h>

#include "log.h"

#define TOKEN_MEMLIMIT (16u * 1024u * 1024u)

int token_secret_new(char out[TOKEN_SECRET_LEN + 1])
{
	unsigned char raw[32];

	if (sodium_init() < 0) {
		log_error("token: libsodium cannot be initialised");
		return -1;
	}
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(out, TOKEN_SECRET_LEN + 1, raw, sizeof(raw),
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
	return 0;
}

int token_hash(const char *secret, char out[TOKEN_HASH_MAX])
{
	if (sodium_init() < 0)
		return -1;
	if (crypto_pwhash_str_alg(out, secret, strlen(secret), crypto_pwhash_OPSLIMIT_INTERACTIVE,
				  TOKEN_MEMLIMIT, crypto_pwhash_ALG_ARGON2ID13) != 0) {
		log_error("token: hashing failed (out of memory)");
		return -1;
	}
	return 0;
}

static int is_b64url(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

int token_parse(const char *text, size_t len, long long *id, char secret[TOKEN_SECRET_LEN + 1])
{
	size_t i = 0;
	long long v = 0;

	while (i < len && text[i] >= '0' && text[i] <= '9' && i < 18) {
		v = v * 10 + (text[i] - '0');
		i++;
	}
	if (i == 0 || text[0] == '0' || i >= len || text[i] != '.')
		return -1;
	i++;
	if (len - i != TOKEN_SECRET_LEN)
		return -1;
	for (size_t k = 0; k < TOKEN_SECRET_LEN; k++)
		if (!is_b64url(text[i + k]))
			return -1;
	memcpy(secret, text + i, TOKEN_SECRET_LEN);
	secret[TOKEN_SECRET_LEN] = '\0';
	*id = v;
	return 0;
}

int token_verify(const char *hash, const char *secret)
{
	if (sodium_init() < 0)
		return -1;
	return crypto_pwhash_str_verify(hash, secret, strlen(secret)) == 0 ? 0 : -1;
}
