/*
 * db: the only module that talks libpq. It hides PGconn/PGresult behind small opaque types so
 * the rest of the code cannot forget a PQclear, and it checks every result against the
 * status the caller expects. SQL is always parameterised ($1, $2 …); a module keeps its
 * statements in one table at the top of its .c file, beside the code that reads the rows.
 */
#ifndef COLDTRACE_DB_H
#define COLDTRACE_DB_H

#include <stddef.h>

struct db;
struct db_res;

/* Connects with a libpq conninfo ("" uses PG* variables and .pgpass), pins search_path to
 * "coldtrace, public" and sets application_name. On success *out is owned by the caller
 * (db_free). Logs and returns -1 on failure. */
int db_connect(const char *conninfo, const char *application_name, struct db **out);
void db_free(struct db *db);

/* 1 when the connection is usable; db_reset reconnects (same conninfo), 0 on success. */
int db_alive(const struct db *db);
int db_reset(struct db *db);
/* Message of the last failure (valid until the next call), and whether it was the
 * connection rather than the statement that failed. */
const char *db_error(const struct db *db);
int db_lost(const struct db *db);
/* SQLSTATE of the last failed statement, "" when none. */
const char *db_sqlstate(const struct db *db);

/* Runs one statement. values[i] == NULL is SQL NULL. lengths/formats may be NULL (all text);
 * format 1 marks a binary parameter (e.g. a raw payload for bytea). On success, if out is
 * not NULL, *out holds the rows (caller frees with db_res_free). Returns -1 on failure,
 * already logged with the statement's first words. */
int db_exec_params(struct db *db, const char *sql, int n, const char *const *values,
		   const int *lengths, const int *formats, struct db_res **out);
int db_exec(struct db *db, const char *sql, int n, const char *const *values,
	    struct db_res **out);

/* Runs a script of several statements (a migration file) in one round trip. */
int db_exec_script(struct db *db, const char *script);

int db_begin(struct db *db);
int db_commit(struct db *db);
void db_rollback(struct db *db);

int db_res_rows(const struct db_res *r);
/* Text value of a cell, NULL for SQL NULL; lives as long as the result. */
const char *db_res_get(const struct db_res *r, int row, int col);
long long db_res_int(const struct db_res *r, int row, int col, long long if_null);
void db_res_free(struct db_res *r);

/* COPY … FROM STDIN: begin with the COPY statement, put buffers, end (0 on success). */
int db_copy_begin(struct db *db, const char *copy_sql);
int db_copy_put(struct db *db, const char *buf, size_t len);
int db_copy_end(struct db *db);

#endif
