/*
 * migrate: brings a database to the schema of an sql directory. Migrations
 * (sql_dir/migrations/NNNN_name.sql) are applied once each, in version order, and recorded
 * with their sha256 in coldtrace.schema_migrations; then every re-runnable file
 * (sql_dir/NAME.sql: CREATE OR REPLACE functions and views) is applied again, in name order.
 */
#ifndef COLDTRACE_MIGRATE_H
#define COLDTRACE_MIGRATE_H

#include <stdio.h>

struct db;

/* Creates schema coldtrace and coldtrace.schema_migrations when missing, and holds a session
 * advisory lock for the whole run, so concurrent runs apply each file once. Each pending
 * migration runs in its own transaction together with its record row; each re-runnable file
 * in its own transaction. Refuses, before applying anything, when an applied migration's
 * file is missing, renamed or changed (checksum), naming the file. A migration must not
 * hold statements that cannot run in a transaction block (CREATE INDEX CONCURRENTLY, …).
 * Writes one line per applied file to report (may be NULL). Returns 0, or -1 after logging
 * the file that failed; files applied before the failure stay applied. */
int migrate_run(struct db *db, const char *sql_dir, FILE *report);

#endif
