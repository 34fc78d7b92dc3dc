/*
 * report_data: what a buyer report shows, fetched once: ct_report_data()'s JSON (sql/report.sql)
 * parsed into a read-only tree, and each leg's readings as columns for the charts. The JSON
 * library stays behind this header; renderers walk the tree by node index.
 */
#ifndef COLDTRACE_REPORT_DATA_H
#define COLDTRACE_REPORT_DATA_H

#include <stddef.h>
#include <stdint.h>

struct db;
struct trace_scope;
struct report_data;

/* Loads the scope's data. On 0, *out is the caller's (report_data_free); 1 when the scope
 * is not found; -1 on error (logged). */
int report_data_load(struct db *db, const struct trace_scope *scope, struct report_data **out);
void report_data_free(struct report_data *d); /* NULL-safe */

/* The tree. Node 0 is the root object; -1 is "absent" and every accessor accepts it. */
int report_node(const struct report_data *d, int obj, const char *key);	       /* -1: absent/null */
const char *report_str(const struct report_data *d, int obj, const char *key); /* NULL */
double report_num(const struct report_data *d, int obj, const char *key);      /* NAN */
int report_is_true(const struct report_data *d, int obj, const char *key);
int report_len(const struct report_data *d, int arr); /* elements; 0 when not an array */
/* Iteration over an array: first element (or -1), then the next after el (or -1). */
int report_first(const struct report_data *d, int arr);
int report_next(const struct report_data *d, int arr, int el);
/* Value of a scalar node as text (NULL for null/absent/containers). */
const char *report_text(const struct report_data *d, int node);

/* The probes a chart can show: product, supply, return, ambient, p1..p16. */
#define REPORT_PROBES 20

/* One leg's readings, in time order. v[p] is NULL for a probe with no value at all;
 * otherwise n values, NAN where a reading lacks the probe. lat/lon NAN where absent. */
struct report_series {
	size_t n;
	int64_t *t_us;
	double *v[REPORT_PROBES];
	double *lat, *lon;
};

/* The name of probe p as stored ("product", "supply", …, "p1" … "p16"). */
const char *report_probe_name(int p);

/* Readings of shipment between from_us and to_us (inclusive; 0 = open). 0 or -1. */
int report_series_load(struct db *db, const char *shipment, int64_t from_us, int64_t to_us,
		       struct report_series *out);
void report_series_release(struct report_series *s);

#endif
