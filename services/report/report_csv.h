/*
 * report_csv: the FDA FSMA 204 electronic sortable spreadsheet of a lot or a shipment: one
 * row per critical tracking event with its key data elements.
 */
#ifndef COLDTRACE_REPORT_CSV_H
#define COLDTRACE_REPORT_CSV_H

#include <stddef.h>

struct db;
struct trace_scope;

/* *out is malloc'd (caller frees). 0, -1 on error, 1 when the scope is not found. */
int report_csv(struct db *db, const struct trace_scope *scope, char **out, size_t *len);

#endif
