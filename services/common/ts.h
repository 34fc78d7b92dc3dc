/*
 * ts: time as int64 microseconds since the Unix epoch (UTC), RFC 3339 parsing and
 * formatting. Calendar arithmetic is done here with the proleptic Gregorian formulas rather
 * than timegm(), so results never depend on the process's time zone.
 */
#ifndef COLDTRACE_TS_H
#define COLDTRACE_TS_H

#include <stddef.h>
#include <stdint.h>

#define TS_US_PER_S INT64_C(1000000)
/* Microseconds between 1970-01-01 and 2000-01-01, PostgreSQL's epoch. */
#define TS_PG_EPOCH_US INT64_C(946684800000000)

/* Parses "YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)" (T may be t or a space, Z may be z).
 * Fractions beyond microseconds are truncated. Returns 0 or -1. */
int ts_parse_rfc3339(const char *s, size_t len, int64_t *out_us);
/* Formats as "YYYY-MM-DDTHH:MM:SS.ffffffZ" (fraction omitted when zero). Returns 0 or -1. */
int ts_format_rfc3339(int64_t us, char *out, size_t cap);
int64_t ts_now_us(void);
/* Monotonic clock in milliseconds, for deadlines and intervals. */
int64_t ts_mono_ms(void);
void ts_sleep_ms(int ms);

#endif
