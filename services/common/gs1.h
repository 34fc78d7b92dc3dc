/*
 * gs1: GS1 identification keys. The check digit of GTIN-8/12/13/14, GLN (13 digits) and
 * SSCC (18 digits) is one algorithm: weights 3 and 1 alternating from the rightmost digit
 * of the body (the digits before the check digit), check = (10 - sum mod 10) mod 10.
 */
#ifndef COLDTRACE_GS1_H
#define COLDTRACE_GS1_H

#include <stddef.h>

/* 1 when digits[0..len) is all ASCII digits, len is 8, 12, 13, 14 or 18, and the last digit
 * is the check digit of the others; 0 otherwise (including NULL). Not NUL-terminated. */
int gs1_check_digit_ok(const char *digits, size_t len);

/* Computes the check digit of a body of len ASCII digits (1 to 17 of them) into *digit
 * (0…9). Returns 0, or -1 when the body is empty, too long or has a non-digit. */
int gs1_check_digit(const char *body, size_t len, int *digit);

#endif
