/*
 * cmd_user: users of the HTTP API and their tokens, `coldtrace user add|list` and
 * `coldtrace token create|list|revoke`. A token is printed once, at creation, as
 * "<id>.<secret>"; only the argon2id hash of the secret is stored (services/common/token.c),
 * so a lost token cannot be shown again: revoke it and create another.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli.h"
#include "db.h"
#include "token.h"

static const char *const sql_user_add =
	"INSERT INTO coldtrace.users (name, org_id, role) "
	"SELECT $1, o.id, $3 FROM coldtrace.organisations o WHERE o.name = $2 "
	"ON CONFLICT (name) DO NOTHING RETURNING id";
static const char *const sql_org_exists = "SELECT 1 FROM coldtrace.organisations WHERE name = $1";
static const char *const sql_user_list =
	"SELECT coalesce(json_agg(json_build_object('id', u.id, 'name', u.name, 'org', o.name, "
	"'role', u.role, 'created_at', " CLI_SQL_TIME("u.created_at") ", 'tokens', "
	"(SELECT count(*) FROM coldtrace.api_tokens t WHERE t.user_id = u.id "
	"AND t.revoked_at IS NULL)) ORDER BY u.name), '[]') "
	"FROM coldtrace.users u JOIN coldtrace.organisations o ON o.id = u.org_id";
/* The row is inserted with a placeholder hash first: the hash covers only the secret, but
 * the token id is needed to print the token, and one statement keeps it atomic. */
static const char *const sql_token_add =
	"INSERT INTO coldtrace.api_tokens (user_id, secret_hash, expires_at) "
	"SELECT u.id, $2, CASE WHEN $3::int IS NULL THEN NULL "
	"ELSE now() + make_interval(days => $3::int) END "
	"FROM coldtrace.users u WHERE u.name = $1 RETURNING id";
static const char *const sql_token_revoke =
	"UPDATE coldtrace.api_tokens SET revoked_at = now() "
	"WHERE id = $1::bigint AND revoked_at IS NULL RETURNING id";
static const char *const sql_token_list =
	"SELECT coalesce(json_agg(json_build_object('id', t.id, 'user', u.name, 'created_at', "
	CLI_SQL_TIME("t.created_at") ", 'expires_at', " CLI_SQL_TIME("t.expires_at")
	", 'revoked_at', " CLI_SQL_TIME("t.revoked_at") ") ORDER BY t.id), '[]') "
	"FROM coldtrace.api_tokens t JOIN coldtrace.users u ON u.id = t.user_id "
	"WHERE $1::text IS NULL OR u.name = $1";

static const char *const roles[] = {"retailer", "qa", "carrier", "admin", NULL};

static int user_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || strchr("._@-", *s)))
			return 0;
	return 1;
}

int cmd_user_add(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"org", required_argument, NULL, 'o'},
		{"role", required_argument, NULL, 'r'},
		{NULL, 0, NULL, 0},
	};
	const char *org = NULL, *role = NULL, *name;
	struct db *db = NULL;
	struct db_res *r = NULL;
	int c, found, known = 0, rc = CLI_FAIL;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			org = optarg;
			break;
		case 'r':
			role = optarg;
			break;
		default:
			return cli_usage(cmd, NULL);
		}
	}
	if (argc - optind != 1)
		return cli_usage(cmd, "expected one user name");
	name = argv[optind];
	if (!user_name_ok(name))
		return cli_usage(cmd, "user name '%s' must be 1-64 of [A-Za-z0-9._@-]", name);
	if (!org || !cli_text_ok(org, 200))
		return cli_usage(cmd, "--org ORG is required");
	for (const char *const *p = roles; role && *p; p++)
		known |= strcmp(*p, role) == 0;
	if (!known)
		return cli_usage(cmd, "--role must be retailer, qa, carrier or admin");
	if (cli_connect(&db) < 0)
		return CLI_FAIL;
	if (cli_exists(db, sql_org_exists, org, &found) < 0)
		goto out;
	if (!found) {
		cli_fail(cmd, "organisation '%s' not found", org);
		goto out;
	}
	const char *params[3] = {name, org, role};

	if (db_exec(db, sql_user_add, 3, params, &r) < 0)
		goto out;
	if (db_res_rows(r) == 0) {
		cli_fail(cmd, "user %s already exists", name);
		goto out;
	}
	printf("user %s added (%s of %s)\n", name, role, org);
	rc = CLI_OK;
out:
	db_res_free(r);
	db_free(db);
	return rc;
}

int cmd_user_list(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	struct db *db = NULL;
	int c, as_json = 0, rc = CLI_FAIL;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j')
			return cli_usage(cmd, NULL);
		as_json = 1;
	}
	if (argc != optind)
		return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (cli_connect(&db) < 0)
		return CLI_FAIL;
	if (cli_print_query(db, sql_user_list, 0, NULL, as_json) == 0)
		rc = CLI_OK;
	db_free(db);
	return rc;
}

int cmd_token_create(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"expires-in-days", required_argument, NULL, 'e'},
		{NULL, 0, NULL, 0},
	};
	const char *days = NULL, *user;
	char secret[TOKEN_SECRET_LEN + 1], hash[TOKEN_HASH_MAX];
	struct db *db = NULL;
	struct db_res *r = NULL;
	int c, rc = CLI_FAIL;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'e')
			return cli_usage(cmd, NULL);
		days = optarg;
	}
	if (argc - optind != 1)
		return cli_usage(cmd, "expected one user name");
	user = argv[optind];
	if (!user_name_ok(user))
		return cli_usage(cmd, "user name '%s' must be 1-64 of [A-Za-z0-9._@-]", user);
	if (days) {
		char *end;
		long d = strtol(days, &end, 10);

		if (*days == '\0' || *end != '\0' || d < 1 || d > 3650)
			return cli_usage(cmd, "--expires-in-days must be 1-3650");
	}
	if (token_secret_new(secret) < 0 || token_hash(secret, hash) < 0)
		return cli_fail(cmd, "cannot make a token");
	if (cli_connect(&db) < 0)
		goto out;
	const char *params[3] = {user, hash, days};

	if (db_exec(db, sql_token_add, 3, params, &r) < 0)
		goto out;
	if (db_res_rows(r) == 0) {
		cli_fail(cmd, "user %s not found", user);
		goto out;
	}
	/* The only time the token is ever shown. */
	printf("%s.%s\n", db_res_get(r, 0, 0), secret);
	fprintf(stderr, "token %s created for %s; it is shown once, store it now\n",
		db_res_get(r, 0, 0), user);
	rc = CLI_OK;
out:
	sodium_memzero(secret, sizeof(secret));
	db_res_free(r);
	db_free(db);
	return rc;
}

int cmd_token_list(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"user", required_argument, NULL, 'u'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	const char *user = NULL;
	struct db *db = NULL;
	int c, as_json = 0, rc = CLI_FAIL;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'u')
			user = optarg;
		else if (c == 'j')
			as_json = 1;
		else
			return cli_usage(cmd, NULL);
	}
	if (argc != optind)
		return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (cli_connect(&db) < 0)
		return CLI_FAIL;
	if (cli_print_query(db, sql_token_list, 1, &user, as_json) == 0)
		rc = CLI_OK;
	db_free(db);
	return rc;
}

int cmd_token_revoke(const struct cli_cmd *cmd, int argc, char **argv)
{
	struct db *db = NULL;
	struct db_res *r = NULL;
	const char *id;
	char *end;
	int rc = CLI_FAIL;

	if (argc != 2 || argv[1][0] == '-')
		return cli_usage(cmd, "expected one token id");
	id = argv[1];
	/* The id alone, or a whole token (the part before the dot is its id). */
	long long v = strtoll(id, &end, 10);

	if (end == id || v < 1 || (*end != '\0' && *end != '.'))
		return cli_usage(cmd, "token id '%s' must be a positive number", id);
	char idbuf[24];

	snprintf(idbuf, sizeof(idbuf), "%lld", v);
	const char *p = idbuf;

	if (cli_connect(&db) < 0)
		return CLI_FAIL;
	if (db_exec(db, sql_token_revoke, 1, &p, &r) < 0)
		goto out;
	if (db_res_rows(r) == 0) {
		cli_fail(cmd, "token %s not found or already revoked", idbuf);
		goto out;
	}
	printf("token %s revoked\n", idbuf);
	rc = CLI_OK;
out:
	db_res_free(r);
	db_free(db);
	return rc;
}
