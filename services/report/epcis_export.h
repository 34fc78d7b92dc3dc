/*
 * epcis_export: every event of a lot or a shipment as one EPCIS 2.0 document.
 */
#ifndef COLDTRACE_EPCIS_EXPORT_H
#define COLDTRACE_EPCIS_EXPORT_H

#include <stddef.h>

struct db;
struct trace_scope;

/* On success *out (malloc'd, caller frees) holds the document, *len its length. 0, -1 on a
 * database error, 1 when the scope is not found. */
int epcis_export(struct db *db, const struct trace_scope *scope, char **out, size_t *len);

#endif
