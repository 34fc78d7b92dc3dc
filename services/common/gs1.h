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

/*
 * Identifiers in their three forms: EPC URNs (urn:epc:id:sgtin:9521234.100001.S1), GS1 digit
 * strings (GTIN-14, SSCC-18, GLN-13, with check digit) and GS1 Digital Link URIs
 * (https://id.gs1.org/01/19521234000010/10/GZ240501A). A URN splits the key after the GS1
 * company prefix (6-12 digits) and omits the check digit; a digit string and a Digital Link
 * carry the check digit but not where the company prefix ends, so converting to a URN needs
 * the company prefix length (cp_len).
 */
enum gs1_kind {
	GS1_NONE = 0,
	GS1_GTIN,  /* a product class: urn:epc:idpat:sgtin:CP.IR.*, Digital Link /01/GTIN */
	GS1_SGTIN, /* GTIN + serial (AI 21) */
	GS1_LGTIN, /* GTIN + lot (AI 10): a traceability lot */
	GS1_SSCC,  /* a pallet or logistic unit */
	GS1_SGLN,  /* a location, with an optional extension (AI 254) */
	GS1_PGLN,  /* a party (AI 417) */
	GS1_GIAI,  /* an individual asset (AI 8004): trucks, loggers */
};

#define GS1_EXT_MAX 30

struct gs1_id {
	enum gs1_kind kind;
	/* GTIN-14, SSCC-18 or GLN-13 with its check digit; GIAI: the whole GIAI. */
	char digits[GS1_EXT_MAX + 1];
	/* Serial (SGTIN), lot (LGTIN), extension (SGLN, "" for none), decoded; else "". */
	char ext[GS1_EXT_MAX + 1];
	/* Company prefix length when the source said (a URN), 0 when unknown. */
	int cp_len;
};

/* Parses uri as an EPC URN (urn:epc:id:sgtin|sscc|sgln|pgln|giai, urn:epc:class:lgtin,
 * urn:epc:idpat:sgtin:CP.IR.*) or a GS1 Digital Link URI (http(s)://host[/path]/01|00|414|417|
 * 8004/…). Returns 0 with *out filled; 1 when uri is no identifier of these kinds (another EPC
 * scheme, a plain URL: leave it as it is); -1 when it is one but malformed (wrong length, bad
 * check digit, character outside GS1's CSET 82), *why then names the problem (static text). */
int gs1_id_parse(const char *uri, struct gs1_id *out, const char **why);

/* Fills *out from a digit string (and ext: serial, lot or extension; NULL for none), checking
 * the length and check digit for kind. cp_len 0 when unknown. 0 or -1. */
int gs1_id_from_digits(enum gs1_kind kind, const char *digits, const char *ext, int cp_len,
		       struct gs1_id *out);

/* The EPC URN of id into buf. cp_len 0 takes id->cp_len. Returns 0, or -1 when the company
 * prefix length is unknown or out of 6..12, or buf is too small. */
int gs1_id_to_urn(const struct gs1_id *id, int cp_len, char *buf, size_t cap);

/* The GS1 Digital Link URI of id under base (NULL: "https://id.gs1.org"), percent-encoding
 * the lot, serial or extension. 0, or -1 when buf is too small. */
int gs1_id_to_dl(const struct gs1_id *id, const char *base, char *buf, size_t cap);

#endif
