/*
 * pool: the API's database connections, one per HTTP worker thread, so a request never waits
 * for another's query. Each connection runs as the API's database role (SET ROLE at
 * connect), which must be neither superuser nor BYPASSRLS: pool_new refuses to start
 * otherwise, so row-level security always applies to what the API reads.
 */
#ifndef COLDTRACE_API_POOL_H
#define COLDTRACE_API_POOL_H

struct db;
struct pool;

/* Opens size connections with conninfo and SET ROLE db_role. *out is the caller's
 * (pool_free). 0, or -1 (logged). */
int pool_new(const char *conninfo, const char *db_role, int size, struct pool **out);
void pool_free(struct pool *p);

/* Borrows a connection, waiting for one; reconnects a lost one. NULL when none can be had
 * (database down; logged). Give it back with pool_put. */
struct db *pool_get(struct pool *p);
void pool_put(struct pool *p, struct db *db);

#endif
