/*
 * report_html: the buyer's traceability report of a lot or a shipment as one self-contained
 * XHTML document with SVG charts, built with the libxml2 tree API.
 */
#ifndef COLDTRACE_REPORT_HTML_H
#define COLDTRACE_REPORT_HTML_H

#include <stddef.h>

struct db;
struct trace_scope;

/* lang: "en", "zh-Hans" or "zh-Hant". *out is malloc'd (caller frees). 0, -1 on error, 1
 * when the scope is not found. */
int report_html(struct db *db, const struct trace_scope *scope, const char *lang, char **out,
		size_t *len);

#endif
