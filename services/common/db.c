/*
 * db: a thin, checked layer over libpq. Every PGresult is compared with the exact status
 * expected and cleared on every path; callers only ever see 0 or -1 plus a logged message.
 */
#include "db.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct db {
	PGconn *conn;
	char sqlstate[6];
};

struct db_res {
	PGresult *res;
};

static void db_on_notice(void *arg, const char *message)
{
	(void)arg;
	log_debug("postgres: %s", message);
}

static int db_setup(struct db *db)
{
	PGresult *r;
	int rc = 0;

	PQsetNoticeProcessor(db->conn, db_on_notice, NULL);
	/* A pinned search_path keeps objects in other schemas from shadowing ours. */
	r = PQexec(db->conn, "SELECT pg_catalog.set_config('search_path', 'coldtrace, public', false)");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		log_error("db: cannot set search_path: %s", PQerrorMessage(db->conn));
		rc = -1;
	}
	PQclear(r);
	return rc;
}

int db_connect(const char *conninfo, const char *application_name, struct db **out)
{
	const char *keys[] = {"dbname", "application_name", "fallback_application_name", NULL};
	const char *vals[] = {conninfo ? conninfo : "", application_name, "coldtrace", NULL};
	struct db *db = calloc(1, sizeof(*db));

	*out = NULL;
	if (!db)
		return -1;
	/* expand_dbname = 1: conninfo may be a full "host=… port=…" string or a URI. */
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(db->conn) != CONNECTION_OK) {
		log_error("db: cannot connect: %s", PQerrorMessage(db->conn));
		db_free(db);
		return -1;
	}
	if (db_setup(db) < 0) {
		db_free(db);
		return -1;
	}
	*out = db;
	return 0;
}

void db_free(struct db *db)
{
	if (!db)
		return;
	PQfinish(db->conn);
	free(db);
}

int db_alive(const struct db *db)
{
	return db && PQstatus(db->conn) == CONNECTION_OK;
}

int db_reset(struct db *db)
{
	PQreset(db->conn);
	if (PQstatus(db->conn) != CONNECTION_OK) {
		log_debug("db: reconnect failed: %s", PQerrorMessage(db->conn));
		return -1;
	}
	return db_setup(db);
}

const char *db_error(const struct db *db)
{
	return PQerrorMessage(db->conn);
}

int db_lost(const struct db *db)
{
	return PQstatus(db->conn) != CONNECTION_OK;
}

const char *db_sqlstate(const struct db *db)
{
	return db->sqlstate;
}

static void db_note_failure(struct db *db, PGresult *r, const char *sql)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	char head[64];

	snprintf(db->sqlstate, sizeof(db->sqlstate), "%s", state ? state : "");
	snprintf(head, sizeof(head), "%s", sql);
	for (char *p = head; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	log_error("db: %s… failed: %s", head, PQerrorMessage(db->conn));
}

int db_exec_params(struct db *db, const char *sql, int n, const char *const *values,
		   const int *lengths, const int *formats, struct db_res **out)
{
	PGresult *r;
	ExecStatusType st;

	if (out)
		*out = NULL;
	db->sqlstate[0] = '\0';
	r = PQexecParams(db->conn, sql, n, NULL, values, lengths, formats, 0);
	st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		db_note_failure(db, r, sql);
		PQclear(r);
		return -1;
	}
	if (!out) {
		PQclear(r);
		return 0;
	}
	*out = malloc(sizeof(**out));
	if (!*out) {
		PQclear(r);
		return -1;
	}
	(*out)->res = r;
	return 0;
}

int db_exec(struct db *db, const char *sql, int n, const char *const *values,
	    struct db_res **out)
{
	return db_exec_params(db, sql, n, values, NULL, NULL, out);
}

int db_exec_script(struct db *db, const char *script)
{
	PGresult *r;
	ExecStatusType st;
	int rc = 0;

	db->sqlstate[0] = '\0';
	r = PQexec(db->conn, script);
	st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		db_note_failure(db, r, script);
		rc = -1;
	}
	PQclear(r);
	return rc;
}

int db_begin(struct db *db)
{
	return db_exec(db, "BEGIN", 0, NULL, NULL);
}

int db_commit(struct db *db)
{
	return db_exec(db, "COMMIT", 0, NULL, NULL);
}

void db_rollback(struct db *db)
{
	PGresult *r;

	if (db_lost(db))
		return;
	r = PQexec(db->conn, "ROLLBACK");
	PQclear(r);
}

int db_res_rows(const struct db_res *r)
{
	return PQntuples(r->res);
}

const char *db_res_get(const struct db_res *r, int row, int col)
{
	if (PQgetisnull(r->res, row, col))
		return NULL;
	return PQgetvalue(r->res, row, col);
}

long long db_res_int(const struct db_res *r, int row, int col, long long if_null)
{
	const char *v = db_res_get(r, row, col);

	return v ? strtoll(v, NULL, 10) : if_null;
}

void db_res_free(struct db_res *r)
{
	if (!r)
		return;
	PQclear(r->res);
	free(r);
}

int db_copy_begin(struct db *db, const char *copy_sql)
{
	PGresult *r = PQexec(db->conn, copy_sql);
	int rc = 0;

	if (PQresultStatus(r) != PGRES_COPY_IN) {
		db_note_failure(db, r, copy_sql);
		rc = -1;
	}
	PQclear(r);
	return rc;
}

int db_copy_put(struct db *db, const char *buf, size_t len)
{
	/* libpq takes an int length: feed very large buffers in slices. */
	while (len > 0) {
		int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
		if (PQputCopyData(db->conn, buf, chunk) != 1) {
			log_error("db: COPY data failed: %s", PQerrorMessage(db->conn));
			return -1;
		}
		buf += chunk;
		len -= (size_t)chunk;
	}
	return 0;
}

int db_copy_end(struct db *db)
{
	PGresult *r;
	int rc = 0;

	if (PQputCopyEnd(db->conn, NULL) != 1) {
		log_error("db: COPY end failed: %s", PQerrorMessage(db->conn));
		return -1;
	}
	while ((r = PQgetResult(db->conn)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			db_note_failure(db, r, "COPY");
			rc = -1;
		}
		PQclear(r);
	}
	return rc;
}
