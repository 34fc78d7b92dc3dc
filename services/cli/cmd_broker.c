/*
 * cmd_broker: the broker's accounts for our own services (`coldtrace broker account add`)
 * and the regeneration of mosquitto's password and ACL files (`coldtrace broker sync`).
 * Devices' accounts are managed by `coldtrace device`.
 */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "broker_auth.h"
#include "cli.h"
#include "config.h"
#include "db.h"

static const char *const sql_device_exists = "SELECT 1 FROM coldtrace.devices WHERE id = $1";
/* xmax = 0 on the returned row: it was inserted, not updated. */
static const char *const sql_account_upsert =
	"INSERT INTO coldtrace.broker_accounts (username, password_hash, role) VALUES ($1, $2, $3)"
	" ON CONFLICT (username) DO UPDATE"
	"   SET password_hash = excluded.password_hash, role = excluded.role"
	" RETURNING (xmax = 0)";

int cmd_broker_account_add(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"role", required_argument, NULL, 'r'},
		{"password-file", required_argument, NULL, 'p'},
		{NULL, 0, NULL, 0},
	};
	const char *role = NULL, *pwfile = NULL, *name, *inserted;
	char password[1024], hash[BROKER_AUTH_HASH_MAX];
	struct db *db = NULL;
	struct db_res *r = NULL;
	int c, found, rc = CLI_FAIL;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			role = optarg;
			break;
		case 'p':
			pwfile = optarg;
			break;
		default:
			return cli_usage(cmd, NULL);
		}
	}
	if (argc - optind != 1)
		return cli_usage(cmd, "expected one account name");
	name = argv[optind];
	if (!cli_name_ok(name))
		return cli_usage(cmd, "account name '%s' must be 1-64 of [A-Za-z0-9._-]", name);
	if (!role || (strcmp(role, "ingest") != 0 && strcmp(role, "service") != 0 &&
		      strcmp(role, "fleet") != 0))
		return cli_usage(cmd, "--role is required: ingest|service|fleet");
	if (!pwfile)
		return cli_usage(cmd, "--password-file is required");
	if (cli_read_password(cmd, pwfile, password, sizeof(password)) < 0)
		return CLI_FAIL;
	c = broker_auth_hash(password, hash, sizeof(hash));
	sodium_memzero(password, sizeof(password));
	if (c < 0)
		return CLI_FAIL;
	if (cli_connect(&db) < 0)
		return CLI_FAIL;
	if (cli_exists(db, sql_device_exists, name, &found) < 0)
		goto out;
	if (found) {
		cli_fail(cmd, "'%s' is already a device id", name);
		goto out;
	}
	const char *params[3] = {name, hash, role};

	if (db_exec(db, sql_account_upsert, 3, params, &r) < 0)
		goto out;
	inserted = db_res_get(r, 0, 0);
	printf("broker account %s %s (role %s)\n", name,
	       inserted && strcmp(inserted, "t") == 0 ? "added" : "updated", role);
	if (cli_broker_sync(cmd, db) < 0)
		goto out;
	rc = CLI_OK;
out:
	db_res_free(r);
	db_free(db);
	return rc;
}

int cmd_broker_sync(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {{NULL, 0, NULL, 0}};
	struct db *db = NULL;
	int rc = CLI_FAIL;

	if (getopt_long(argc, argv, "", opts, NULL) != -1)
		return cli_usage(cmd, NULL);
	if (optind != argc)
		return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (!*config.broker_passwd_file)
		return cli_fail(cmd, "broker_passwd_file is not set (--broker-passwd-file=FILE or "
				     "COLDTRACE_BROKER_PASSWD_FILE)");
	if (cli_connect(&db) < 0)
		return CLI_FAIL;
	if (broker_auth_sync(db, config.broker_passwd_file, config.broker_acl_file,
			     config.broker_pid_file, config.topic_prefix) < 0) {
		cli_fail(cmd, "failed; the error above says why");
		goto out;
	}
	printf("wrote %s", config.broker_passwd_file);
	if (*config.broker_acl_file)
		printf(" and %s", config.broker_acl_file);
	printf("\n");
	rc = CLI_OK;
out:
	db_free(db);
	return rc;
}
