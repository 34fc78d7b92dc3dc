/*
 * auth: who is calling. Checks "Authorization: Bearer <id>.<secret>" tokens against
 * api_tokens (through the definer function ct_api_token, one lookup by id and one argon2id
 * verification) and keeps verified and refused tokens in memory for a short time, keyed by
 * the SHA-256 of the token, so the hash is not paid per request. A revoked token is refused
 * at the latest ttl seconds after its revocation.
 */
#ifndef COLDTRACE_API_AUTH_H
#define COLDTRACE_API_AUTH_H

#include <stddef.h>

struct db;
struct auth;

struct auth_user {
	long long user_id;
	long long org_id;
	char org_text[24]; /* org_id as text, for SQL parameters */
	char role[12];	   /* retailer, qa, carrier, admin */
	char name[72];
};

enum { AUTH_OK = 0, AUTH_DENIED = -1, AUTH_DB = -2 };

/* ttl_s: how long a verdict is cached (0: never cached). 0 or -1. */
int auth_new(int ttl_s, struct auth **out);
void auth_free(struct auth *a);

/* header: the Authorization header's value (NULL when absent). AUTH_OK with *user filled,
 * AUTH_DENIED (missing, malformed, unknown, revoked, expired, wrong secret) or AUTH_DB.
 * db is only used on a cache miss. */
int auth_check(struct auth *a, struct db *db, const char *header, struct auth_user *user);

#endif
