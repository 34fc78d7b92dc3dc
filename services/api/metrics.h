/*
 * metrics: the API's own counters for /metrics (Prometheus text format 0.0.4): requests by
 * route and status, a latency histogram per route, database errors. Lock-free (atomics), so
 * counting costs a few nanoseconds on the request path.
 */
#ifndef COLDTRACE_API_METRICS_H
#define COLDTRACE_API_METRICS_H

#include <stddef.h>

struct metrics;

/* routes: n route labels (e.g. "GET /v1/shipments/{id}"), borrowed for the metrics' life;
 * one more label "unmatched" is added. 0 or -1. */
int metrics_new(const char *const *routes, int n, struct metrics **out);
void metrics_free(struct metrics *m);

/* route: index into the labels, or -1 for a request no route matched. */
void metrics_request(struct metrics *m, int route, int status, double seconds);
void metrics_db_error(struct metrics *m);

/* Appends the text exposition to a malloc'd buffer (*buf, *len, *cap grow as needed).
 * 0 or -1 (out of memory). */
int metrics_render(struct metrics *m, char **buf, size_t *len, size_t *cap);

/* printf-append to the same kind of buffer, for the caller's own lines. 0 or -1. */
int metrics_append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
