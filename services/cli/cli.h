/*
 * cli: the `coldtrace` command line. main.c holds the dispatch table of {group, verb, fn,
 * usage, help}; each command group lives in its own cmd_<group>.c; cli.c holds what they
 * share (usage errors, connecting, reading secrets, validating ids and times, printing a
 * JSON document or its text rendering).
 *
 * Output: JSON is built by PostgreSQL (json_build_object/json_agg), so it is always valid
 * and escaped; the text form is rendered from the same JSON, so both show the same fields.
 * Exit codes: 0 success, 1 failure (not found, already exists, database), 2 bad usage
 * (unknown option, missing or malformed argument, e.g. a GLN with a wrong check digit).
 */
#ifndef COLDTRACE_CLI_H
#define COLDTRACE_CLI_H

#include <stddef.h>

struct db;

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

struct cli_cmd {
	const char *group; /* "device" */
	const char *verb;  /* one or more words: "add", "account add" */
	/* argv[0] is "coldtrace GROUP VERB", argv[1..argc) the arguments after the verb,
	 * settings (--key=value of the config table) already removed. Returns a CLI_ code. */
	int (*fn)(const struct cli_cmd *cmd, int argc, char **argv);
	const char *usage; /* arguments after "coldtrace GROUP VERB" */
	const char *help;  /* what it does, then its options, for --help */
};

/* RFC 3339 UTC text of a timestamptz SQL expression ("2026-11-22T03:00:00.5Z"); NULL for
 * NULL and ±infinity. For building statements: CLI_SQL_TIME("d.created_at"). */
#define CLI_SQL_TIME(x)                                                                      \
	"(rtrim(rtrim(to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), "  \
	"'0'), '.') || 'Z')"

/* Prints "coldtrace GROUP VERB: <message>" (when fmt is not NULL) and the usage line to
 * stderr; returns CLI_USAGE. */
int cli_usage(const struct cli_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "coldtrace GROUP VERB: <message>" to stderr; returns CLI_FAIL. */
int cli_fail(const struct cli_cmd *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Connects with config.pg_conninfo; on success *out is the caller's (db_free). 0 or -1. */
int cli_connect(struct db **out);

/* Runs sql (one row, one json column) and prints the JSON (as_json) or its text rendering:
 * an array of objects as an aligned table, an object as aligned "key  value" lines with
 * arrays inside it as indented tables; SQL NULL values print as "-". Returns 0, 1 when the
 * statement returned no row (nothing printed), -1 on error. */
int cli_print_query(struct db *db, const char *sql, int n, const char *const *params,
		    int as_json);

/* Prints a JSON document built by a module (e.g. qa.c, trace.c): as is with as_json, else
 * rendered by text_sql (one parameter, the document; one row, one json column) or, when
 * text_sql is NULL, by cli_print_query's generic text rendering. Returns a CLI_ code. */
int cli_print_json(struct db *db, const char *json, const char *text_sql, int as_json);

/* Reads the password from the first line of path ("-": standard input) into buf, without
 * its line end. Refuses an empty password or one longer than cap - 1. 0 or -1 (printed). */
int cli_read_password(const struct cli_cmd *cmd, const char *path, char *buf, size_t cap);

/* 1 when s is a device or account name: 1–64 of [A-Za-z0-9._-]. */
int cli_name_ok(const char *s);
/* 1 when s is non-empty, at most max bytes and has no control character. */
int cli_text_ok(const char *s, size_t max);
/* 1 when s is an RFC 3339 time with an offset ("2026-11-22T03:00:00Z", "…+08:00"). */
int cli_time_ok(const char *s);
/* 1 when s looks like a date, YYYY-MM-DD (PostgreSQL checks the calendar). */
int cli_date_ok(const char *s);
/* 1 when s is 13 digits with a correct GS1 check digit. */
int cli_gln_ok(const char *s);

/* Sets *found to whether sql (with one parameter) returns a row. 0 or -1. */
int cli_exists(struct db *db, const char *sql, const char *param, int *found);

/* When broker_passwd_file is configured, regenerates the broker files and reloads the
 * broker (broker_auth_sync). 0 when done or not configured, -1 (printed) on failure. */
int cli_broker_sync(const struct cli_cmd *cmd, struct db *db);

/* Parses a lot argument (GTIN/LOT or a GS1 Digital Link, services/common/trace.h) into the
 * 14-digit GTIN and the lot code, or prints why not, naming `what` (e.g. "--lot"), and
 * returns -1 (a usage error). */
int cli_parse_lot(const struct cli_cmd *cmd, const char *what, const char *arg, char gtin[15],
		  char *lot, size_t lotcap);

/* Reads all of path into a malloc'd *buf (caller frees). 0, or -1 after printing why. */
int cli_read_file(const struct cli_cmd *cmd, const char *path, char **buf, size_t *len);
/* Writes buf to path (created, never replaced) or to standard output for "-". 0, or -1
 * after printing why (a partly written file is removed). */
int cli_write_file(const struct cli_cmd *cmd, const char *path, const char *buf, size_t len);

/* Command entry points, registered in main.c. */
int cmd_db_migrate(const struct cli_cmd *cmd, int argc, char **argv);

int cmd_site_add_org(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_site_add(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_site_add_vehicle(const struct cli_cmd *cmd, int argc, char **argv);

int cmd_device_add(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_device_list(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_device_remove(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_device_status(const struct cli_cmd *cmd, int argc, char **argv);

int cmd_broker_account_add(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_broker_sync(const struct cli_cmd *cmd, int argc, char **argv);

int cmd_shipment_add(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_shipment_assign(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_shipment_unassign(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_shipment_list(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_shipment_show(const struct cli_cmd *cmd, int argc, char **argv);

int cmd_deadletters_list(const struct cli_cmd *cmd, int argc, char **argv);
/* Written with the ingest's store module (cmd_replay.c); registered in main.c's table by
 * that work. */
int cmd_deadletters_replay(const struct cli_cmd *cmd, int argc, char **argv);

/* QA workflow (cmd_qa.c over services/common/qa.c). cmd_qa_ack serves `ack` and
 * `acknowledge`, cmd_qa_flag serves `flag` and `unflag` (by cmd->verb). */
int cmd_qa_list(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_qa_show(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_qa_ack(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_qa_comment(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_qa_dispose(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_qa_flag(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_qa_audit(const struct cli_cmd *cmd, int argc, char **argv);

/* EPCIS 2.0 capture and export (cmd_epcis.c over services/report/epcis_import.c and
 * epcis_export.c). */
int cmd_epcis_import(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_epcis_export(const struct cli_cmd *cmd, int argc, char **argv);

/* Traceability master data and hand-entered events (cmd_lot.c), trace and recall
 * (cmd_trace.c) over services/common/trace.c and sql/trace.sql. cmd_trace_lot and
 * cmd_trace_recall are registered with an empty verb: `coldtrace trace LOT`. */
int cmd_lot_product_add(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_lot_site_register(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_lot_cert_add(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_lot_harvest(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_lot_cool(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_lot_pack(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_lot_transform(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_lot_pallet_build(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_lot_show(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_lot_list(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_lot_publish(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_trace_lot(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_trace_recall(const struct cli_cmd *cmd, int argc, char **argv);

/* Users and API tokens of the HTTP API (cmd_user.c over services/common/token.c). */
int cmd_user_add(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_user_list(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_token_create(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_token_list(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_token_revoke(const struct cli_cmd *cmd, int argc, char **argv);

/* GS1 identifier conversion (cmd_gs1.c over services/common/gs1.c). */
int cmd_gs1_convert(const struct cli_cmd *cmd, int argc, char **argv);

/* Buyer reports (cmd_report.c over services/report/report.c). */
int cmd_report(const struct cli_cmd *cmd, int argc, char **argv);

/* Report signing keys and verification (cmd_keys.c over services/common/sign.c). cmd_verify
 * is registered with an empty verb: `coldtrace verify FILE`. */
int cmd_keys_generate(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_keys_sign(const struct cli_cmd *cmd, int argc, char **argv);
int cmd_verify(const struct cli_cmd *cmd, int argc, char **argv);

#endif
