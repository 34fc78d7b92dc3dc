/*
 * cmd_deadletters: what the ingest could not store, for a person to look at:
 * `coldtrace deadletters list`. Unresolved ones by default, every one with --all.
 *
 * `deadletters replay` belongs here too; it is written with the ingest's store module (see
 * the mark in main.c's dispatch table), because replaying must follow the ingest's rules.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "db.h"

static const char *const sql_deadletters_list =
	"SELECT coalesce(json_agg(json_build_object("
	"    'id', l.id,"
	"    'device', l.device_id,"
	"    'seq', l.seq,"
	"    'received_at', " CLI_SQL_TIME("l.received_at") ","
	"    'reason', l.reason,"
	"    'detail', l.detail,"
	"    'topic', l.topic,"
	"    'scope', l.scope,"
	"    'payload_bytes', octet_length(l.payload),"
	"    'resolved_at', " CLI_SQL_TIME("l.resolved_at") ","
	"    'resolution', l.resolution)"
	"  ORDER BY l.received_at, l.id), '[]')"
	"  FROM coldtrace.dead_letters l"
	" WHERE ($1::text IS NULL OR l.device_id = $1)"
	"   AND ($2::text IS NULL OR l.reason = $2)"
	"   AND ($3::boolean OR l.resolved_at IS NULL)";

int cmd_deadletters_list(const struct cli_cmd *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"device", required_argument, NULL, 'd'},
		{"reason", required_argument, NULL, 'r'},
		{"all", no_argument, NULL, 'a'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	const char *device = NULL, *reason = NULL;
	struct db *db = NULL;
	int c, all = 0, as_json = 0, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			device = optarg;
			break;
		case 'r':
			reason = optarg;
			break;
		case 'a':
			all = 1;
			break;
		case 'j':
			as_json = 1;
			break;
		default:
			return cli_usage(cmd, NULL);
		}
	}
	if (optind != argc)
		return cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
	if (device && !cli_name_ok(device))
		return cli_usage(cmd, "--device '%s' is not a device id", device);
	if (cli_connect(&db) < 0)
		return CLI_FAIL;
	const char *params[3] = {device, reason, all ? "true" : "false"};

	rc = cli_print_query(db, sql_deadletters_list, 3, params, as_json) == 0 ? CLI_OK : CLI_FAIL;
	db_free(db);
	return rc;
}
