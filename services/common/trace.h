/*
 * trace: lots, custody and recall over the trace_events store (sql/trace.sql holds the
 * queries). A report, an export or a trace is about one scope: a lot (GTIN + lot code, the
 * FSMA 204 traceability lot code) or a shipment.
 */
#ifndef COLDTRACE_TRACE_H
#define COLDTRACE_TRACE_H

#include <stddef.h>

/* Exactly one of (gtin and lot) or shipment_id is set; the strings are borrowed. gtin is
 * the 14-digit form. */
struct trace_scope {
	const char *gtin;
	const char *lot;
	const char *shipment_id;
};

struct db;

/* Result of the fetchers below besides 0 (found) and -1 (database error, logged). */
#define TRACE_NOT_FOUND 1

/* Normalises a GTIN-8/12/13/14 (digits only, correct GS1 check digit) to its 14-digit form
 * (left-padded with zeros) in out. 0, or -1 when it is not a GTIN. */
int trace_gtin_normalise(const char *in, char out[15]);

/* 1 when s is a lot code GS1 allows (AI 10): 1-20 characters of CSET 82, which is what
 * lots.lot accepts. */
int trace_lot_ok(const char *s);

/* Parses a lot argument into the 14-digit GTIN and the lot code (lotcap bytes at most,
 * with the NUL). Accepted forms:
 *   GTIN/LOT                         e.g. 19521234000010/GZ240501A (GTIN-8/12/13/14)
 *   a GS1 Digital Link URI           e.g. https://id.gs1.org/01/19521234000010/10/GZ240501A
 *                                    (other qualifiers such as /21/… and a ?query are ignored;
 *                                    percent-escapes in the lot are decoded)
 * Returns 0, or -1 with a one-line reason in why (whycap bytes; why may be NULL). */
int trace_parse_lot(const char *arg, char gtin[15], char *lot, size_t lotcap, char *why,
		    size_t whycap);

/* Splits "ITEM:QTY" at its last ':' when what follows is a positive decimal number (at most
 * 18 digits): *qty points into buf (a copy of arg, bufcap bytes) or is NULL when there is no
 * quantity; *item is the rest. 0, or -1 when arg is too long. */
int trace_split_qty(const char *arg, char *buf, size_t bufcap, const char **item,
		    const char **qty);

/* The offset of an RFC 3339 time as "+HH:MM" ("Z" gives "+00:00"). 0, or -1 when s does not
 * end in Z or ±HH:MM. */
int trace_tz_offset(const char *s, char out[7]);

/* JSON fetchers. Each sets *json_out to a malloc'd document the caller frees, built by
 * PostgreSQL (sql/trace.sql documents the shapes), and returns 0, TRACE_NOT_FOUND (the lot
 * is unknown; *json_out NULL) or -1.
 *   trace_fetch_trace        ct_trace(gtin, lot): lot, backward, forward
 *   trace_fetch_lot          the lot (ct_lot_json) with its "events" (ct_event_json, by time)
 *   trace_fetch_recall_lot   ct_recall_lot(gtin, lot, from_sources)
 *   trace_fetch_recall_farm  ct_recall_farm(farm GLN, from, to): dates YYYY-MM-DD,
 *                            inclusive; never TRACE_NOT_FOUND (an empty recall is one) */
int trace_fetch_trace(struct db *db, const char *gtin, const char *lot, char **json_out);
int trace_fetch_lot(struct db *db, const char *gtin, const char *lot, char **json_out);
int trace_fetch_recall_lot(struct db *db, const char *gtin, const char *lot, int from_sources,
			   char **json_out);
int trace_fetch_recall_farm(struct db *db, const char *farm_gln, const char *from,
			    const char *to, char **json_out);

#endif
