/*
 * trace: lots, custody and recall over the trace_events store (sql/trace.sql holds the
 * queries). A report, an export or a trace is about one scope: a lot (GTIN + lot code, the
 * FSMA 204 traceability lot code) or a shipment.
 */
#ifndef COLDTRACE_TRACE_H
#define COLDTRACE_TRACE_H

/* Exactly one of (gtin and lot) or shipment_id is set; the strings are borrowed. gtin is
 * the 14-digit form. */
struct trace_scope {
	const char *gtin;
	const char *lot;
	const char *shipment_id;
};

#endif
