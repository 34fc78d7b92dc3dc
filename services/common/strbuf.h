/*
 * strbuf: a growable, always NUL-terminated byte string for building documents (SQL array
 * literals, CSV, SVG path data, XML fragments). Out of memory is sticky: every append after
 * a failed one does nothing and `oom` stays set, so a builder checks once at the end.
 * The ingest's binary COPY encoder keeps its own inlined buffer (store.c): there a call per
 * field was measured to cost more than the encoding.
 */
#ifndef COLDTRACE_STRBUF_H
#define COLDTRACE_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

/* Zero-initialise ({0}); p is NULL until the first append. Owned by the caller: release it
 * with strbuf_release (or take p with strbuf_steal). */
struct strbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

void strbuf_addn(struct strbuf *b, const char *s, size_t n);
/* Appends the C string s; NULL appends nothing. */
void strbuf_add(struct strbuf *b, const char *s);
void strbuf_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The content, "" when nothing was appended; valid until the next append. */
const char *strbuf_str(const struct strbuf *b);
/* Empties the string, keeping its memory (and a sticky oom). */
void strbuf_reset(struct strbuf *b);
/* Frees the memory and zeroes *b. NULL-safe. */
void strbuf_release(struct strbuf *b);
/* Hands the malloc'd content to the caller (its length in *len when len is not NULL) and
 * zeroes *b; NULL after an out-of-memory (the memory is freed then). */
char *strbuf_steal(struct strbuf *b, size_t *len);

#endif
