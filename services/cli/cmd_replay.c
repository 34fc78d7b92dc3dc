/*
 * cmd_replay: `coldtrace deadletters replay` — runs unresolved dead letters through the
 * ingest's own parser and store again, after their cause was fixed (a device registered
 * late, a limit raised). A dead letter whose records are now stored (or found already
 * stored) is marked resolved; one that fails again stays open, with no second copy (the
 * store dedupes dead letters by device, seq and digest).
 *
 * A record-scope dead letter holds only the failing record's JSON; it is wrapped back into a
 * protocol envelope so it takes exactly the path a live uplink takes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "db.h"
#include "payload.h"
#include "store.h"
#include "ts.h"

static const char *const sql_pending =
	"SELECT device_id, id, scope, encode(payload, 'hex'), reason FROM coldtrace.dead_letters "
	" WHERE resolved_at IS NULL AND ($1::text IS NULL OR device_id = $1) "
	"   AND ($2::text IS NULL OR reason = $2) ORDER BY received_at, id LIMIT $3";
static const char *const sql_resolve =
	"UPDATE coldtrace.dead_letters SET resolved_at = now(), resolution = 'replayed' "
	" WHERE device_id = $1 AND id = $2";

struct replay_totals {
	long tried, resolved, still_failing;
};

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	return c - 'a' + 10;
}

/* The uplink bytes to replay: the payload itself, or the record wrapped in an envelope. */
static char *rebuild_uplink(const char *device, const char *scope, const char *hex, size_t *len)
{
	size_t n = strlen(hex) / 2, at = 0;
	char *out = malloc(n + 2 * DEVICE_ID_MAX + 64);

	if (!out)
		return NULL;
	if (strcmp(scope, "record") == 0)
		at = (size_t)snprintf(out, 2 * DEVICE_ID_MAX + 64,
				      "{\"v\":1,\"device\":\"%s\",\"records\":[", device);
	for (size_t i = 0; i < n; i++)
		out[at++] = (char)(hex_value(hex[2 * i]) << 4 | hex_value(hex[2 * i + 1]));
	if (strcmp(scope, "record") == 0) {
		out[at++] = ']';
		out[at++] = '}';
	}
	*len = at;
	return out;
}

static bool message_clean(const struct message *m, const struct store_result *res)
{
	if (m->reason || res->dead_letters || res->conflicts || res->unknown_device)
		return false;
	for (size_t i = 0; i < m->n_records; i++)
		if (m->records[i].reason)
			return false;
	return true;
}

/* Replays one dead letter; *resolved tells whether it is now stored. */
static int replay_one(struct db *db, struct store *st, struct payload_parser *parser,
		      struct db_res *rows, int i, bool *resolved)
{
	const struct payload_limits limits = {config.max_record_age_s * TS_US_PER_S,
					      config.max_future_s * TS_US_PER_S};
	struct message m;
	struct store_result res = {0};
	size_t len;
	char *bytes = rebuild_uplink(db_res_get(rows, i, 0), db_res_get(rows, i, 2),
				     db_res_get(rows, i, 3), &len);
	int rc = -1;

	*resolved = false;
	memset(&m, 0, sizeof(m));
	if (!bytes)
		return -1;
	snprintf(m.device, sizeof(m.device), "%s", db_res_get(rows, i, 0));
	m.received_us = ts_now_us();
	if (payload_parse(parser, &m, bytes, len, m.received_us, &limits) == -2)
		goto out;
	if (store_write(st, &m, 1, &res) < 0)
		goto out;
	*resolved = message_clean(&m, &res);
	rc = 0;
	if (*resolved) {
		const char *params[2] = {db_res_get(rows, i, 0), db_res_get(rows, i, 1)};
		rc = db_exec(db, sql_resolve, 2, params, NULL);
	}
out:
	store_result_release(&res);
	payload_message_release(&m);
	free(bytes);
	return rc;
}

static int replay_all(struct db *db, struct db_res *rows, struct replay_totals *t)
{
	struct store *st = NULL;
	struct payload_parser *parser = NULL;
	int rc = -1;

	if (store_new(db, config.topic_prefix, &st) < 0 || payload_parser_new(&parser) < 0)
		goto out;
	for (int i = 0; i < db_res_rows(rows); i++) {
		bool resolved;
		if (replay_one(db, st, parser, rows, i, &resolved) < 0)
			goto out;
		t->tried++;
		if (resolved)
			t->resolved++;
		else
			t->still_failing++;
	}
	rc = 0;
out:
	payload_parser_free(parser);
	store_free(st);
	return rc;
}

int cmd_deadletters_replay(const struct cli_cmd *cmd, int argc, char **argv)
{
	const char *device = NULL, *reason = NULL, *limit = "100000";
	struct replay_totals t = {0, 0, 0};
	struct db *db = NULL;
	struct db_res *rows = NULL;
	int json = 0, rc = CLI_FAIL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--device") == 0 && i + 1 < argc && cli_name_ok(argv[i + 1]))
			device = argv[++i];
		else if (strcmp(argv[i], "--reason") == 0 && i + 1 < argc)
			reason = argv[++i];
		else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc &&
			 strtol(argv[i + 1], NULL, 10) > 0)
			limit = argv[++i];
		else if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else
			return cli_usage(cmd, "bad argument '%s'", argv[i]);
	}
	if (cli_connect(&db) < 0)
		return CLI_FAIL;
	const char *params[3] = {device, reason, limit};
	if (db_exec(db, sql_pending, 3, params, &rows) < 0 || replay_all(db, rows, &t) < 0) {
		cli_fail(cmd, "replay stopped after %ld dead letters: %s", t.tried, db_error(db));
		goto out;
	}
	if (json)
		printf("{\"replayed\":%ld,\"resolved\":%ld,\"still_failing\":%ld}\n", t.tried,
		       t.resolved, t.still_failing);
	else
		printf("replayed %ld dead letters: %ld resolved, %ld still failing\n", t.tried,
		       t.resolved, t.still_failing);
	rc = CLI_OK;
out:
	db_res_free(rows);
	db_free(db);
	return rc;
}
