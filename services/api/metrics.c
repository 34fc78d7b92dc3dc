/*
 * metrics: counters in fixed arrays of atomics, indexed by route and by a small table of the
 * statuses the API answers with (anything else is counted as its class, e.g. "5xx").
 */
#include "metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static const int statuses[] = {200, 201, 204, 304, 400, 401, 403, 404, 405, 406, 409,
			       413, 415, 422, 500, 503};
#define NSTATUS (sizeof(statuses) / sizeof(statuses[0]))
#define NOTHER 5 /* 1xx … 5xx of statuses not in the table */
static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
				 0.5, 1, 2.5, 5};
#define NBUCKET (sizeof(buckets) / sizeof(buckets[0]))

struct route_counts {
	atomic_ulong by_status[NSTATUS + NOTHER];
	atomic_ulong bucket[NBUCKET]; /* not cumulative; summed when rendered */
	atomic_ulong count;
	atomic_ullong sum_us;
};

struct metrics {
	const char *const *labels;
	int n; /* routes + 1 ("unmatched" last) */
	struct route_counts *r;
	atomic_ulong db_errors;
};

int metrics_new(const char *const *routes, int n, struct metrics **out)
{
	struct metrics *m = calloc(1, sizeof(*m));

	*out = NULL;
	if (!m)
		return -1;
	m->labels = routes;
	m->n = n + 1;
	m->r = calloc((size_t)m->n, sizeof(*m->r));
	if (!m->r) {
		free(m);
		return -1;
	}
	*out = m;
	return 0;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	free(m->r);
	free(m);
}

void metrics_request(struct metrics *m, int route, int status, double seconds)
{
	struct route_counts *rc = &m->r[route < 0 || route >= m->n - 1 ? m->n - 1 : route];
	size_t s, b;

	for (s = 0; s < NSTATUS && statuses[s] != status; s++)
		;
	if (s == NSTATUS)
		s = NSTATUS + (size_t)((status / 100 >= 1 && status / 100 <= 5) ? status / 100 - 1 : 4);
	atomic_fetch_add_explicit(&rc->by_status[s], 1, memory_order_relaxed);
	for (b = 0; b < NBUCKET && seconds > buckets[b]; b++)
		;
	if (b < NBUCKET)
		atomic_fetch_add_explicit(&rc->bucket[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&rc->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&rc->sum_us, (unsigned long long)(seconds * 1e6),
				  memory_order_relaxed);
}

void metrics_db_error(struct metrics *m)
{
	atomic_fetch_add_explicit(&m->db_errors, 1, memory_order_relaxed);
}

int metrics_append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(*buf ? *buf + *len : NULL, *buf ? *cap - *len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return -1;
		if (*buf && (size_t)n < *cap - *len) {
			*len += (size_t)n;
			return 0;
		}
		size_t ncap = (*cap ? *cap * 2 : 4096) + (size_t)n;
		char *nb = realloc(*buf, ncap);

		if (!nb)
			return -1;
		*buf = nb;
		*cap = ncap;
	}
}

int metrics_render(struct metrics *m, char **buf, size_t *len, size_t *cap)
{
	static const char *const other[NOTHER] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
	int rc = 0;

	rc |= metrics_append(buf, len, cap,
			     "# HELP coldtrace_api_requests_total HTTP requests by route and status.\n"
			     "# TYPE coldtrace_api_requests_total counter\n");
	for (int i = 0; i < m->n; i++) {
		const char *label = i < m->n - 1 ? m->labels[i] : "unmatched";

		for (size_t s = 0; s < NSTATUS + NOTHER; s++) {
			unsigned long v = atomic_load(&m->r[i].by_status[s]);
			char code[8];

			if (!v)
				continue;
			if (s < NSTATUS)
				snprintf(code, sizeof(code), "%d", statuses[s]);
			else
				snprintf(code, sizeof(code), "%s", other[s - NSTATUS]);
			rc |= metrics_append(buf, len, cap,
					     "coldtrace_api_requests_total{route=\"%s\",status=\"%s\"} %lu\n",
					     label, code, v);
		}
	}
	rc |= metrics_append(buf, len, cap,
			     "# HELP coldtrace_api_request_duration_seconds Time from the end of the "
			     "request to the response being queued.\n"
			     "# TYPE coldtrace_api_request_duration_seconds histogram\n");
	for (int i = 0; i < m->n; i++) {
		const char *label = i < m->n - 1 ? m->labels[i] : "unmatched";
		unsigned long count = atomic_load(&m->r[i].count), cum = 0;

		if (!count)
			continue;
		for (size_t b = 0; b < NBUCKET; b++) {
			cum += atomic_load(&m->r[i].bucket[b]);
			rc |= metrics_append(buf, len, cap,
					     "coldtrace_api_request_duration_seconds_bucket{route=\"%s\","
					     "le=\"%g\"} %lu\n", label, buckets[b], cum);
		}
		rc |= metrics_append(
			buf, len, cap,
			"coldtrace_api_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %lu\n"
			"coldtrace_api_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
			"coldtrace_api_request_duration_seconds_count{route=\"%s\"} %lu\n",
			label, count, label, (double)atomic_load(&m->r[i].sum_us) / 1e6, label, count);
	}
	rc |= metrics_append(buf, len, cap,
			     "# HELP coldtrace_api_db_errors_total Failed database statements and "
			     "connections.\n# TYPE coldtrace_api_db_errors_total counter\n"
			     "coldtrace_api_db_errors_total %lu\n",
			     atomic_load(&m->db_errors));
	return rc ? -1 : 0;
}
