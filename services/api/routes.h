/*
 * routes: the API's route table and handlers. Each route is a method and a path pattern
 * ("/v1/shipments/{id}"); routes_handle matches a request, authenticates it unless the
 * route is public, borrows a database connection, runs the handler and counts the request.
 * JSON documents are built by PostgreSQL (sql/api.sql) under row-level security, with the
 * caller's organisation and role set for that statement; QA actions and documents go through
 * the same C functions as the CLI (services/common/qa.c, services/report/).
 */
#ifndef COLDTRACE_API_ROUTES_H
#define COLDTRACE_API_ROUTES_H

#include "sign.h"

struct http_req;
struct pool;
struct auth;
struct metrics;
struct cache;
struct epcis_importer;

struct api {
	struct pool *pool;
	struct auth *auth;
	struct metrics *metrics;
	struct cache *cache;		/* public responses */
	struct epcis_importer *importer; /* EPCIS capture */
	const char *public_base_url;
	int have_key;			/* sk holds the report signing key */
	unsigned char sk[SIGN_SECRET_BYTES];
};

/* The table: n routes, their "METHOD /pattern" labels (for metrics and --routes). */
int routes_count(void);
const char *routes_label(int i);

/* The http_handler: ctx is a struct api. */
void routes_handle(void *ctx, struct http_req *req);

#endif
