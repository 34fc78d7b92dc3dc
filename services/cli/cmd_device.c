/*
 * cmd_device: devices (reefer units and phone apps): `coldtrace device add`, `list`,
 * `remove` and `status`. A device's id is its MQTT username; adding or removing one
 * regenerates the broker's password and ACL files when broker_passwd_file is configured.
 */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "broker_auth.h"
#include "cli.h"
#include "db.h"

static const char *const sql_vehicle_exists = "SELECT 1 FROM coldtrace.vehicles WHERE id = $1";
static const char *const sql_account_exists =
	"SELECT 1 FROM coldtrace.broker_accounts WHERE username = $1";
static const char *const sql_device_add =
	"INSERT INTO coldtrace.devices (id, password_hash, vehicle_id) VALUES ($1, $2, $3)"
	" ON CONFLICT (id) DO NOTHING RETURNING id";
static const char *const sql_device_remove =
	"DELETE FROM coldtrace.devices WHERE id = $1 RETURNING id";

/* The shipment a device is assigned to now. */
#define CURRENT_SHIPMENT(dev)                                                                \
	"(SELECT a.shipment_id FROM coldtrace.device_assignments a"                          \
	" WHERE a.device_id = " dev " AND a.during @> now())"

static const char *const sql_device_list =
	"SELECT coalesce(json_agg(json_build_object("
	"    'id', d.id,"
	"    'vehicle', d.vehicle_id,"
	"    'shipment', " CURRENT_SHIPMENT("d.id") ","
	"    'acked_seq', coalesce(k.acked_seq, 0),"
	"    'created_at', " CLI_SQL_TIME("d.created_at") ")"
	"  ORDER BY d.id COLLATE \"C\"), '[]')"
	"  FROM coldtrace.devices d LEFT JOIN coldtrace.device_acks k ON k.device_id = d.id";

static const char *const sql_device_status =
	"SELECT json_build_object("
	"    'device', d.id,"
	"    'vehicle', d.vehicle_id,"
	"    'shipment', " CURRENT_SHIPMENT("d.id") ","
	"    'records', (SELECT count(*) FROM coldtrace.record_keys k WHERE k.device_id = d.id),"
	"    'last_seq', (SELECT max(x.seq) FROM ("
	"        SELECT max(k.seq) AS seq FROM coldtrace.record_keys k WHERE k.device_id = d.id"
	"        UNION ALL"
	"        SELECT max(l.seq) FROM coldtrace.dead_letters l WHERE l.device_id = d.id) x),"
	"    'acked_seq', coalesce(a.acked_seq, 0),"
	"    'gap_since', " CLI_SQL_TIME("a.gap_since") ","
	"    'last_seen', " CLI_SQL_TIME("(SELECT max(x.t) FROM ("
	"        SELECT max(r.received_at) AS t FROM coldtrace.readings r WHERE r.device_id = d.id"
	"        UNION ALL"
	"        SELECT max(e.received_at) FROM coldtrace.events e WHERE e.device_id = d.id) x)") ","
	"    'dead_letters', (SELECT count(*) FROM coldtrace.dead_letters l"
	"                      WHERE l.device_id = d.id AND l.resolved_at IS NULL),"
	"    'gaps', (SELECT count(*) FROM coldtrace.data_gaps g WHERE g.device_id = d.id),"
	"    'created_at', " CLI_SQL_TIME("d.created_at") ")"
	"  FROM coldtrace.devices d LEFT JOIN coldtrace.device_acks a ON a.device_id = d.id"
	" WHERE d.id = $1";

/* Parses [--json] (when allow_json) and `positional` device ids (0 or 1). */
static int parse_simple(const struct cli_cmd *cmd, int argc, char **argv, int allow_json,
			int *as_json, int positional)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	int c;

	*as_json = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j')
			return cli_usage(cmd, NULL);
		if (!allow_json)
			return cli_usage(cmd, "--json is not an option of this command");
		*as_json = 1;
	}
	if (positional && argc - optind != 1)
		return cli_usage(cmd, "expected one device id");
	if (!positional && argc != optind)
		return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (positional && !cli_name_ok(argv[optind]))
		return cli_usage(cmd, "device id '%s' must be 1-64 of [A-Za-z0-9._-]",
				 argv[optind]);
	return CLI_OK;
}

int cmd_device_add(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"password-file", required_argument, NULL, 'p'},
		{"vehicle", required_argument, NULL, 'v'},
		{NULL, 0, NULL, 0},
	};
	const char *pwfile = NULL, *vehicle = NULL, *id;
	char password[1024], hash[BROKER_AUTH_HASH_MAX];
	struct db *db = NULL;
	struct db_res *r = NULL;
	int c, found, rc = CLI_FAIL;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			pwfile = optarg;
			break;
		case 'v':
			vehicle = optarg;
			break;
		default:
			return cli_usage(cmd, NULL);
		}
	}
	if (argc - optind != 1)
		return cli_usage(cmd, "expected one device id");
	id = argv[optind];
	if (!cli_name_ok(id))
		return cli_usage(cmd, "device id '%s' must be 1-64 of [A-Za-z0-9._-]", id);
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
	if (vehicle) {
		if (cli_exists(db, sql_vehicle_exists, vehicle, &found) < 0)
			goto out;
		if (!found) {
			cli_fail(cmd, "--vehicle: vehicle '%s' not found (add it with coldtrace "
				      "vehicle add)",
				 vehicle);
			goto out;
		}
	}
	/* One MQTT username, one password line: a device may not share a service's name. */
	if (cli_exists(db, sql_account_exists, id, &found) < 0)
		goto out;
	if (found) {
		cli_fail(cmd, "'%s' is already a broker account name", id);
		goto out;
	}
	const char *params[3] = {id, hash, vehicle};

	if (db_exec(db, sql_device_add, 3, params, &r) < 0)
		goto out;
	if (db_res_rows(r) == 0) {
		cli_fail(cmd, "device %s already exists", id);
		goto out;
	}
	printf("device %s added\n", id);
	if (cli_broker_sync(cmd, db) < 0)
		goto out;
	rc = CLI_OK;
out:
	db_res_free(r);
	db_free(db);
	return rc;
}

int cmd_device_list(const struct cli_cmd *cmd, int argc, char **argv)
{
	struct db *db = NULL;
	int as_json, rc = parse_simple(cmd, argc, argv, 1, &as_json, 0);

	if (rc != CLI_OK)
		return rc;
	if (cli_connect(&db) < 0)
		return CLI_FAIL;
	rc = cli_print_query(db, sql_device_list, 0, NULL, as_json) == 0 ? CLI_OK : CLI_FAIL;
	db_free(db);
	return rc;
}

int cmd_device_remove(const struct cli_cmd *cmd, int argc, char **argv)
{
	struct db *db = NULL;
	struct db_res *r = NULL;
	const char *id;
	int as_json, rc = parse_simple(cmd, argc, argv, 0, &as_json, 1);

	if (rc != CLI_OK)
		return rc;
	rc = CLI_FAIL;
	id = argv[optind];
	if (cli_connect(&db) < 0)
		return CLI_FAIL;
	if (db_exec(db, sql_device_remove, 1, &id, &r) < 0)
		goto out;
	if (db_res_rows(r) == 0) {
		cli_fail(cmd, "device %s not found", id);
		goto out;
	}
	printf("device %s removed\n", id);
	if (cli_broker_sync(cmd, db) < 0)
		goto out;
	rc = CLI_OK;
out:
	db_res_free(r);
	db_free(db);
	return rc;
}

int cmd_device_status(const struct cli_cmd *cmd, int argc, char **argv)
{
	struct db *db = NULL;
	const char *id;
	int as_json, rc = parse_simple(cmd, argc, argv, 1, &as_json, 1);

	if (rc != CLI_OK)
		return rc;
	id = argv[optind];
	if (cli_connect(&db) < 0)
		return CLI_FAIL;
	switch (cli_print_query(db, sql_device_status, 1, &id, as_json)) {
	case 0:
		rc = CLI_OK;
		break;
	case 1:
		rc = cli_fail(cmd, "device %s not found", id);
		break;
	default:
		rc = CLI_FAIL;
	}
	db_free(db);
	return rc;
}
