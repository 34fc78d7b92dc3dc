/*
 * cli: helpers shared by the command groups of `coldtrace`: messages and exit codes, the
 * database connection, secrets from files, argument checks, and output. Every listing is a
 * JSON document built by PostgreSQL; the text form is derived from it here (by asking
 * PostgreSQL to take it apart again), so the two forms cannot drift apart and no JSON
 * escaping is written by hand.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker_auth.h"
#include "config.h"
#include "db.h"
#include "gs1.h"
#include "trace.h"
#include "ts.h"

static const char *const sql_json_type = "SELECT json_typeof($1::json)";
static const char *const sql_array_cells =
	"SELECT e.ord, t.key, t.value"
	"  FROM json_array_elements($1::json) WITH ORDINALITY AS e(v, ord),"
	"       json_each_text(e.v) WITH ORDINALITY AS t(key, value, kord)"
	" ORDER BY e.ord, t.kord";
static const char *const sql_object_fields =
	"SELECT t.key, json_typeof(t.value), t.value #>> '{}'"
	"  FROM json_each($1::json) WITH ORDINALITY AS t(key, value, ord) ORDER BY t.ord";

static void vmessage(const struct cli_cmd *cmd, const char *fmt, va_list ap)
{
	fprintf(stderr, "coldtrace %s %s: ", cmd->group, cmd->verb);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int cli_usage(const struct cli_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		vmessage(cmd, fmt, ap);
		va_end(ap);
	}
	fprintf(stderr, "usage: coldtrace %s %s%s%s\n(see coldtrace %s %s --help)\n", cmd->group,
		cmd->verb, *cmd->usage ? " " : "", cmd->usage, cmd->group, cmd->verb);
	return CLI_USAGE;
}

int cli_fail(const struct cli_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmessage(cmd, fmt, ap);
	va_end(ap);
	return CLI_FAIL;
}

int cli_connect(struct db **out)
{
	return db_connect(config.pg_conninfo, "coldtrace-cli", out);
}

/* Display width of UTF-8 text: continuation bytes take no column. */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			w++;
	return w;
}

/* A cell on one line: control characters (a newline in a detail) print as spaces. */
static void put_cell(const char *s, size_t width, int pad, const char *indent, int first)
{
	if (first)
		fputs(indent, stdout);
	else
		fputs("  ", stdout);
	if (!s)
		s = "-";
	for (const char *p = s; *p; p++)
		putchar((unsigned char)*p < ' ' || *p == 0x7f ? ' ' : *p);
	for (size_t w = text_width(s); pad && w < width; w++)
		putchar(' ');
}

static int print_table(struct db *db, const char *json, const char *indent)
{
	const char *params[1] = {json};
	struct db_res *r = NULL;
	size_t *width = NULL;
	int rows, cols = 0, n, rc = -1;

	if (db_exec(db, sql_array_cells, 1, params, &r) < 0)
		goto out;
	n = db_res_rows(r);
	if (n == 0) {
		printf("%s(none)\n", indent);
		rc = 0;
		goto out;
	}
	/* Every element is built by one json_build_object: the same keys, in the same order. */
	while (cols < n && strcmp(db_res_get(r, cols, 0), "1") == 0)
		cols++;
	if (n % cols != 0) {
		printf("%s%s\n", indent, json);
		rc = 0;
		goto out;
	}
	rows = n / cols;
	width = calloc((size_t)cols, sizeof(*width));
	if (!width)
		goto out;
	for (int c = 0; c < cols; c++) {
		width[c] = text_width(db_res_get(r, c, 1));
		for (int i = 0; i < rows; i++) {
			const char *v = db_res_get(r, i * cols + c, 2);
			size_t w = text_width(v ? v : "-");

			if (w > width[c])
				width[c] = w;
		}
	}
	for (int c = 0; c < cols; c++)
		put_cell(db_res_get(r, c, 1), width[c], c + 1 < cols, indent, c == 0);
	putchar('\n');
	for (int i = 0; i < rows; i++) {
		for (int c = 0; c < cols; c++)
			put_cell(db_res_get(r, i * cols + c, 2), width[c], c + 1 < cols, indent,
				 c == 0);
		putchar('\n');
	}
	rc = 0;
out:
	free(width);
	db_res_free(r);
	return rc;
}

static int print_object(struct db *db, const char *json)
{
	const char *params[1] = {json};
	struct db_res *r = NULL;
	size_t width = 0;
	int rc = -1;

	if (db_exec(db, sql_object_fields, 1, params, &r) < 0)
		goto out;
	for (int i = 0; i < db_res_rows(r); i++) {
		size_t w = text_width(db_res_get(r, i, 0));

		if (w > width)
			width = w;
	}
	for (int i = 0; i < db_res_rows(r); i++) {
		const char *key = db_res_get(r, i, 0), *type = db_res_get(r, i, 1);
		const char *value = db_res_get(r, i, 2);

		if (type && strcmp(type, "array") == 0 && value) {
			printf("%s:\n", key);
			if (print_table(db, value, "  ") < 0)
				goto out;
			continue;
		}
		put_cell(key, width, 1, "", 1);
		put_cell(value, 0, 0, "", 0);
		putchar('\n');
	}
	rc = 0;
out:
	db_res_free(r);
	return rc;
}

int cli_print_query(struct db *db, const char *sql, int n, const char *const *params,
		    int as_json)
{
	struct db_res *r = NULL, *t = NULL;
	const char *json, *type;
	int rc = -1;

	if (db_exec(db, sql, n, params, &r) < 0)
		goto out;
	if (db_res_rows(r) == 0 || !db_res_get(r, 0, 0)) {
		rc = 1;
		goto out;
	}
	json = db_res_get(r, 0, 0);
	if (as_json) {
		printf("%s\n", json);
		rc = 0;
		goto out;
	}
	if (db_exec(db, sql_json_type, 1, &json, &t) < 0)
		goto out;
	type = db_res_get(t, 0, 0);
	if (type && strcmp(type, "array") == 0)
		rc = print_table(db, json, "");
	else if (type && strcmp(type, "object") == 0)
		rc = print_object(db, json);
	else
		rc = printf("%s\n", json) < 0 ? -1 : 0;
out:
	if (fflush(stdout) != 0)
		rc = -1;
	db_res_free(r);
	db_res_free(t);
	return rc;
}

int cli_read_password(const struct cli_cmd *cmd, const char *path, char *buf, size_t cap)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	size_t len;
	int rc = -1;

	buf[0] = '\0';
	if (!f) {
		cli_fail(cmd, "--password-file %s: %s", path, strerror(errno));
		return -1;
	}
	if (!fgets(buf, (int)cap, f)) {
		cli_fail(cmd, "--password-file %s: empty file", path);
		goto out;
	}
	len = strlen(buf);
	if (len == cap - 1 && buf[len - 1] != '\n' && !feof(f)) {
		cli_fail(cmd, "--password-file %s: password longer than %zu bytes", path, cap - 2);
		goto out;
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	if (len == 0) {
		cli_fail(cmd, "--password-file %s: the first line (the password) is empty", path);
		goto out;
	}
	rc = 0;
out:
	if (f != stdin)
		fclose(f);
	return rc;
}

int cli_name_ok(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
		      (s[n] >= '0' && s[n] <= '9') || s[n] == '.' || s[n] == '_' || s[n] == '-'))
			return 0;
	return n >= 1 && n <= 64;
}

int cli_text_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			return 0;
	return 1;
}

int cli_time_ok(const char *s)
{
	int64_t us;

	return ts_parse_rfc3339(s, strlen(s), &us) == 0;
}

int cli_gln_ok(const char *s)
{
	return strlen(s) == 13 && gs1_check_digit_ok(s, 13);
}

int cli_exists(struct db *db, const char *sql, const char *param, int *found)
{
	struct db_res *r = NULL;

	if (db_exec(db, sql, 1, &param, &r) < 0)
		return -1;
	*found = db_res_rows(r) > 0;
	db_res_free(r);
	return 0;
}

int cli_broker_sync(const struct cli_cmd *cmd, struct db *db)
{
	if (!config.broker_passwd_file || !*config.broker_passwd_file)
		return 0;
	if (broker_auth_sync(db, config.broker_passwd_file, config.broker_acl_file,
			     config.broker_pid_file, config.topic_prefix) < 0) {
		cli_fail(cmd, "the database is changed but the broker files are not; fix the "
			      "error above and run `coldtrace broker sync`");
		return -1;
	}
	return 0;
}

/* Reads all of path into a malloc'd *buf (caller frees). 0, or -1 after printing why. */
int cli_read_file(const struct cli_cmd *cmd, const char *path, char **buf, size_t *len)
{
	size_t cap = 0, n = 0;
	char *b = NULL;
	int fd, rc = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		cli_fail(cmd, "%s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		ssize_t r;

		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			char *nb = ncap > cap ? realloc(b, ncap) : NULL;

			if (!nb) {
				cli_fail(cmd, "%s: out of memory", path);
				goto out;
			}
			b = nb;
			cap = ncap;
		}
		r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			cli_fail(cmd, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*buf = b;
	*len = n;
	b = NULL;
	rc = 0;
out:
	free(b);
	close(fd);
	return rc;
}

/* Writes buf to path (created, never replaced) or to standard output for "-". 0 or -1. */
int cli_write_file(const struct cli_cmd *cmd, const char *path, const char *buf, size_t len)
{
	size_t done = 0;
	int fd, rc = -1;

	if (strcmp(path, "-") == 0) {
		if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0) {
			cli_fail(cmd, "standard output: %s", strerror(errno));
			return -1;
		}
		return 0;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		if (errno == EEXIST)
			cli_fail(cmd, "%s already exists: refusing to overwrite it", path);
		else
			cli_fail(cmd, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (done < len) {
		ssize_t w = write(fd, buf + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			cli_fail(cmd, "%s: %s", path, strerror(errno));
			goto out;
		}
		done += (size_t)w;
	}
	rc = 0;
out:
	if (close(fd) < 0 && rc == 0) {
		cli_fail(cmd, "%s: %s", path, strerror(errno));
		rc = -1;
	}
	if (rc < 0)
		unlink(path);
	return rc;
}

int cli_parse_lot(const struct cli_cmd *cmd, const char *what, const char *arg, char gtin[15],
		  char *lot, size_t lotcap)
{
	char why[160];

	if (trace_parse_lot(arg, gtin, lot, lotcap, why, sizeof(why)) < 0) {
		cli_usage(cmd, "%s '%s': %s", what, arg, why);
		return -1;
	}
	return 0;
}

int cli_date_ok(const char *s)
{
	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return 0;
	return 1;
}

int cli_print_json(struct db *db, const char *json, const char *text_sql, int as_json)
{
	const char *sql = as_json || !text_sql ? "SELECT $1::json" : text_sql;

	return cli_print_query(db, sql, 1, &json, as_json) == 0 ? CLI_OK : CLI_FAIL;
}
