/*
 * auth: bearer tokens, verified once per ttl.
 *
 * DESIGN. The cache is a fixed table of slots indexed by the token digest's first bytes;
 * a new verdict replaces whatever sits in its slot (an eviction only costs one more
 * verification). Refusals are cached too, so a client repeating a bad token cannot make the
 * server hash on every request. The digest, not the token, is kept.
 */
#include "auth.h"

#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db.h"
#include "log.h"
#include "token.h"
#include "ts.h"

#define AUTH_SLOTS 4096

struct slot {
	unsigned char key[crypto_hash_sha256_BYTES];
	int64_t expires_ms; /* 0: empty */
	int ok;
	struct auth_user user;
};

struct auth {
	pthread_mutex_t mu;
	int ttl_ms;
	struct slot *slots;
};

static const char *const sql_token = "SELECT secret_hash, user_id, user_name, org_id, role "
				     "FROM coldtrace.ct_api_token($1::bigint)";

int auth_new(int ttl_s, struct auth **out)
{
	struct auth *a = calloc(1, sizeof(*a));

	*out = NULL;
	if (!a || sodium_init() < 0) {
		free(a);
		return -1;
	}
	a->slots = calloc(AUTH_SLOTS, sizeof(*a->slots));
	if (!a->slots) {
		free(a);
		return -1;
	}
	pthread_mutex_init(&a->mu, NULL);
	a->ttl_ms = ttl_s * 1000;
	*out = a;
	return 0;
}

void auth_free(struct auth *a)
{
	if (!a)
		return;
	pthread_mutex_destroy(&a->mu);
	free(a->slots);
	free(a);
}

static struct slot *slot_of(struct auth *a, const unsigned char *key)
{
	uint32_t i;

	memcpy(&i, key, sizeof(i));
	return &a->slots[i % AUTH_SLOTS];
}

/* 1 hit (with *ok, *user), 0 miss. */
static int cache_get(struct auth *a, const unsigned char *key, int *ok, struct auth_user *user)
{
	struct slot *s;
	int hit = 0;

	if (a->ttl_ms <= 0)
		return 0;
	pthread_mutex_lock(&a->mu);
	s = slot_of(a, key);
	if (s->expires_ms > ts_mono_ms() && sodium_memcmp(s->key, key, sizeof(s->key)) == 0) {
		*ok = s->ok;
		*user = s->user;
		hit = 1;
	}
	pthread_mutex_unlock(&a->mu);
	return hit;
}

static void cache_put(struct auth *a, const unsigned char *key, int ok,
		      const struct auth_user *user)
{
	struct slot *s;

	if (a->ttl_ms <= 0)
		return;
	pthread_mutex_lock(&a->mu);
	s = slot_of(a, key);
	memcpy(s->key, key, sizeof(s->key));
	s->ok = ok;
	s->user = *user;
	s->expires_ms = ts_mono_ms() + a->ttl_ms;
	pthread_mutex_unlock(&a->mu);
}

static int lookup(struct db *db, long long id, const char *secret, struct auth_user *user)
{
	struct db_res *r = NULL;
	char idtext[24];
	const char *p = idtext;
	int rc = AUTH_DENIED;

	snprintf(idtext, sizeof(idtext), "%lld", id);
	if (db_exec(db, sql_token, 1, &p, &r) < 0) {
		rc = AUTH_DB;
		goto out;
	}
	if (db_res_rows(r) != 1 || token_verify(db_res_get(r, 0, 0), secret) < 0)
		goto out;
	user->user_id = db_res_int(r, 0, 1, 0);
	snprintf(user->name, sizeof(user->name), "%s", db_res_get(r, 0, 2));
	user->org_id = db_res_int(r, 0, 3, 0);
	snprintf(user->org_text, sizeof(user->org_text), "%lld", user->org_id);
	snprintf(user->role, sizeof(user->role), "%s", db_res_get(r, 0, 4));
	rc = AUTH_OK;
out:
	db_res_free(r);
	return rc;
}

int auth_check(struct auth *a, struct db *db, const char *header, struct auth_user *user)
{
	unsigned char key[crypto_hash_sha256_BYTES];
	char secret[TOKEN_SECRET_LEN + 1];
	const char *tok;
	long long id;
	size_t len;
	int ok, rc;

	memset(user, 0, sizeof(*user));
	if (!header || strncasecmp(header, "Bearer ", 7) != 0)
		return AUTH_DENIED;
	tok = header + 7;
	while (*tok == ' ')
		tok++;
	len = strlen(tok);
	while (len > 0 && tok[len - 1] == ' ')
		len--;
	if (token_parse(tok, len, &id, secret) < 0)
		return AUTH_DENIED;
	crypto_hash_sha256(key, (const unsigned char *)tok, len);
	if (cache_get(a, key, &ok, user)) {
		rc = ok ? AUTH_OK : AUTH_DENIED;
		goto out;
	}
	if (!db) {
		rc = AUTH_DB;
		goto out;
	}
	rc = lookup(db, id, secret, user);
	if (rc != AUTH_DB)
		cache_put(a, key, rc == AUTH_OK, user);
	if (rc == AUTH_DENIED)
		log_info("api: token %lld refused", id);
out:
	sodium_memzero(secret, sizeof(secret));
	if (rc != AUTH_OK)
		memset(user, 0, sizeof(*user));
	return rc;
}
