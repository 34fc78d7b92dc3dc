/*
 * text: small byte-string helpers several modules need (percent-decoding of URI parts, hex
 * digits), kept in one place so each escape rule is written once.
 */
#ifndef COLDTRACE_TEXT_H
#define COLDTRACE_TEXT_H

#include <stddef.h>

/* The value of one hex digit (0-9, a-f, A-F), or -1. */
int text_hexval(char c);

/* Percent-decodes s[0..n) into out (cap bytes; NUL-terminated), the decoded length in *len
 * (may be NULL). Returns 0, -1 on a truncated or bad escape, -2 when it does not fit. */
int text_pct_decode(const char *s, size_t n, char *out, size_t cap, size_t *len);

#endif
