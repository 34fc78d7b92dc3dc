/*
 * gs1: check digits of GS1 keys, shared by the CLI (sites, shipments) and the ingest (GLNs of
 * custody events, GTINs of lots, SSCCs of pallets), and conversions between EPC URNs, digit
 * strings and GS1 Digital Link URIs (EPCIS import and export). Pure functions, no allocation.
 *
 * DESIGN: parsing copies at most GS1_EXT_MAX bytes into fixed fields; anything outside the
 * grammar of the Tag Data Standard (URNs) or of GS1 Digital Link (URIs) returns -1 with a
 * reason, so an importer can name the problem. A URN carries no check digit (it is computed);
 * a Digital Link does, and a wrong one is refused.
 */
#include "text.h"
#include "gs1.h"

#include <stdio.h>
#include <string.h>

int gs1_check_digit(const char *body, size_t len, int *digit)
{
	int sum = 0;

	if (!body || len == 0 || len > 17)
		return -1;
	/* The digit next to the check digit weighs 3, then 1, 3, 1 … going left. */
	for (size_t i = 0; i < len; i++) {
		char c = body[len - 1 - i];

		if (c < '0' || c > '9')
			return -1;
		sum += (c - '0') * (i % 2 == 0 ? 3 : 1);
	}
	*digit = (10 - sum % 10) % 10;
	return 0;
}

int gs1_check_digit_ok(const char *digits, size_t len)
{
	int want;

	if (!digits)
		return 0;
	if (len != 8 && len != 12 && len != 13 && len != 14 && len != 18)
		return 0;
	if (digits[len - 1] < '0' || digits[len - 1] > '9')
		return 0;
	if (gs1_check_digit(digits, len - 1, &want) < 0)
		return 0;
	return digits[len - 1] - '0' == want;
}

static int is_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* GS1 AI encodable character set 82. */
static int cset82(char c)
{
	return c == '!' || c == '"' || (c >= '%' && c <= '?') || (c >= 'A' && c <= 'Z') ||
	       c == '_' || (c >= 'a' && c <= 'z');
}

/* Percent-decodes s[0..n) into out (max + 1 bytes with the NUL); checks CSET 82 and 1..max
 * characters. 0 or -1. */
static int decode_value(const char *s, size_t n, char *out, size_t max, const char **why)
{
	size_t len;
	int rc = text_pct_decode(s, n, out, max + 1, &len);

	if (rc == -1) {
		*why = "bad or truncated percent escape";
		return -1;
	}
	if (rc == -2) {
		*why = "serial, lot or extension too long";
		return -1;
	}
	for (size_t i = 0; i < len; i++)
		if (!cset82(out[i])) {
			*why = "character outside GS1's CSET 82 in a serial, lot or extension";
			return -1;
		}
	if (len == 0) {
		*why = "empty serial, lot or extension";
		return -1;
	}
	return 0;
}

/* Appends a check digit to body (len digits) in out. */
static void with_check(const char *body, size_t len, char *out)
{
	int d = 0;

	memcpy(out, body, len);
	gs1_check_digit(body, len, &d);
	out[len] = (char)('0' + d);
	out[len + 1] = '\0';
}

/* Splits "a.b[.c]" (the part after the scheme) at dots: up to 3 fields. */
static int split_dots(const char *s, const char *f[3], size_t n[3])
{
	int k = 0;

	f[0] = s;
	for (const char *p = s;; p++) {
		if (*p == '.' && k < 2) {
			n[k] = (size_t)(p - f[k]);
			f[++k] = p + 1;
		} else if (*p == '\0') {
			n[k] = (size_t)(p - f[k]);
			return k + 1;
		}
	}
}

static int parse_urn(const char *uri, struct gs1_id *out, const char **why)
{
	static const struct {
		const char *prefix;
		enum gs1_kind kind;
		int fields;
		int ref_digits; /* digits of CP + reference */
	} schemes[] = {
		{"urn:epc:id:sgtin:", GS1_SGTIN, 3, 13}, {"urn:epc:class:lgtin:", GS1_LGTIN, 3, 13},
		{"urn:epc:idpat:sgtin:", GS1_GTIN, 3, 13}, {"urn:epc:id:sscc:", GS1_SSCC, 2, 17},
		{"urn:epc:id:sgln:", GS1_SGLN, 3, 12},    {"urn:epc:id:pgln:", GS1_PGLN, 2, 12},
		{"urn:epc:id:giai:", GS1_GIAI, 2, 0},
	};
	const char *f[3];
	size_t n[3];
	char body[32];
	int k = -1;

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strncmp(uri, schemes[i].prefix, strlen(schemes[i].prefix)) == 0)
			k = (int)i;
	if (k < 0)
		return 1;
	if (split_dots(uri + strlen(schemes[k].prefix), f, n) != schemes[k].fields) {
		*why = "wrong number of fields in the EPC URN";
		return -1;
	}
	if (n[0] < 6 || n[0] > 12 || !is_digits(f[0], n[0])) {
		*why = "company prefix is not 6 to 12 digits";
		return -1;
	}
	memset(out, 0, sizeof(*out));
	out->kind = schemes[k].kind;
	out->cp_len = (int)n[0];
	if (out->kind == GS1_GIAI) {
		if (n[0] + n[1] > 30) {
			*why = "GIAI longer than 30 characters";
			return -1;
		}
		memcpy(out->digits, f[0], n[0]);
		return decode_value(f[1], n[1], out->digits + n[0], 30 - n[0], why);
	}
	if (n[0] + n[1] != (size_t)schemes[k].ref_digits || !is_digits(f[1], n[1])) {
		*why = "company prefix and reference do not have the key's number of digits";
		return -1;
	}
	if (out->kind == GS1_SGLN || out->kind == GS1_PGLN) {
		memcpy(body, f[0], n[0]);
		memcpy(body + n[0], f[1], n[1]);
		with_check(body, 12, out->digits);
	} else {
		/* Indicator or extension digit first, then the company prefix, then the rest. */
		body[0] = f[1][0];
		memcpy(body + 1, f[0], n[0]);
		memcpy(body + 1 + n[0], f[1] + 1, n[1] - 1);
		with_check(body, (size_t)schemes[k].ref_digits, out->digits);
	}
	if (out->kind == GS1_GTIN) {
		if (n[2] != 1 || f[2][0] != '*') {
			*why = "a GTIN class pattern ends in .*";
			return -1;
		}
		return 0;
	}
	if (out->kind == GS1_SGLN) {
		if (n[2] == 1 && f[2][0] == '0')
			return 0;
		return decode_value(f[2], n[2], out->ext, 20, why);
	}
	if (out->kind == GS1_SGTIN || out->kind == GS1_LGTIN)
		return decode_value(f[2], n[2], out->ext, 20, why);
	return 0;
}

/* Next path segment of a URI at *p (after a '/'): [s, s+n). 0 when none. */
static int segment(const char **p, const char **s, size_t *n)
{
	const char *q = *p;

	if (*q != '/')
		return 0;
	q++;
	*s = q;
	while (*q && *q != '/' && *q != '?' && *q != '#')
		q++;
	*n = (size_t)(q - *s);
	*p = q;
	return 1;
}

static int seg_is(const char *s, size_t n, const char *ai)
{
	return strlen(ai) == n && strncmp(s, ai, n) == 0;
}

static int parse_dl(const char *uri, struct gs1_id *out, const char **why)
{
	const char *p, *s, *v;
	size_t n, vn;

	if (strncmp(uri, "https://", 8) == 0)
		p = uri + 8;
	else if (strncmp(uri, "http://", 7) == 0)
		p = uri + 7;
	else
		return 1;
	p += strcspn(p, "/?#");
	/* The primary key is the first segment that is one of ours followed by a value. */
	while (segment(&p, &s, &n)) {
		enum gs1_kind kind = GS1_NONE;
		size_t len = 0;

		if (seg_is(s, n, "01"))
			kind = GS1_GTIN;
		else if (seg_is(s, n, "00"))
			kind = GS1_SSCC, len = 18;
		else if (seg_is(s, n, "414"))
			kind = GS1_SGLN, len = 13;
		else if (seg_is(s, n, "417"))
			kind = GS1_PGLN, len = 13;
		else if (seg_is(s, n, "8004"))
			kind = GS1_GIAI;
		if (kind == GS1_NONE)
			continue;
		if (!segment(&p, &v, &vn))
			return 1;
		memset(out, 0, sizeof(*out));
		out->kind = kind;
		if (kind == GS1_GIAI) {
			if (vn < 1 || !is_digits(v, 1))
				return *why = "GIAI does not start with its company prefix", -1;
			return decode_value(v, vn, out->digits, 30, why);
		}
		if (kind == GS1_GTIN) {
			if (vn != 8 && vn != 12 && vn != 13 && vn != 14)
				return *why = "GTIN is not 8, 12, 13 or 14 digits", -1;
			memset(out->digits, '0', 14 - vn);
			memcpy(out->digits + 14 - vn, v, vn);
			len = 14;
		} else {
			if (vn != len)
				return *why = kind == GS1_SSCC ? "SSCC is not 18 digits"
							       : "GLN is not 13 digits",
				       -1;
			memcpy(out->digits, v, vn);
		}
		out->digits[len] = '\0';
		if (!gs1_check_digit_ok(out->digits, len))
			return *why = kind == GS1_GTIN	 ? "wrong GTIN check digit"
				      : kind == GS1_SSCC ? "wrong SSCC check digit"
							 : "wrong GLN check digit",
			       -1;
		/* Key qualifiers: 22 (CPV, ignored), 10 lot, 21 serial for a GTIN; 254 for a GLN. */
		while (segment(&p, &s, &n)) {
			if (!segment(&p, &v, &vn))
				return *why = "Digital Link qualifier without a value", -1;
			if (kind == GS1_GTIN || kind == GS1_LGTIN) {
				if (seg_is(s, n, "10")) {
					out->kind = GS1_LGTIN;
					if (decode_value(v, vn, out->ext, 20, why) < 0)
						return -1;
				} else if (seg_is(s, n, "21")) {
					out->kind = GS1_SGTIN;
					if (decode_value(v, vn, out->ext, 20, why) < 0)
						return -1;
				} else if (!seg_is(s, n, "22")) {
					return *why = "unknown Digital Link qualifier of a GTIN", -1;
				}
			} else if (kind == GS1_SGLN && seg_is(s, n, "254")) {
				if (decode_value(v, vn, out->ext, 20, why) < 0)
					return -1;
			} else {
				return *why = "unknown Digital Link qualifier", -1;
			}
		}
		return 0;
	}
	return 1;
}

int gs1_id_parse(const char *uri, struct gs1_id *out, const char **why)
{
	static const char *unused;

	if (!why)
		why = &unused;
	*why = NULL;
	if (!uri)
		return 1;
	if (strncmp(uri, "urn:epc:", 8) == 0)
		return parse_urn(uri, out, why);
	return parse_dl(uri, out, why);
}

static size_t key_len(enum gs1_kind kind)
{
	switch (kind) {
	case GS1_GTIN:
	case GS1_SGTIN:
	case GS1_LGTIN:
		return 14;
	case GS1_SSCC:
		return 18;
	case GS1_SGLN:
	case GS1_PGLN:
		return 13;
	default:
		return 0;
	}
}

int gs1_id_from_digits(enum gs1_kind kind, const char *digits, const char *ext, int cp_len,
		       struct gs1_id *out)
{
	size_t len = key_len(kind);

	if (!digits || kind == GS1_NONE)
		return -1;
	memset(out, 0, sizeof(*out));
	out->kind = kind;
	out->cp_len = cp_len;
	if (kind == GS1_GIAI) {
		if (strlen(digits) < 1 || strlen(digits) > 30 || !is_digits(digits, 1))
			return -1;
		for (const char *c = digits; *c; c++)
			if (!cset82(*c))
				return -1;
		memcpy(out->digits, digits, strlen(digits) + 1);
		return 0;
	}
	if (strlen(digits) != len || !gs1_check_digit_ok(digits, len))
		return -1;
	memcpy(out->digits, digits, len + 1);
	if (ext && *ext) {
		if (strlen(ext) > 20)
			return -1;
		for (const char *c = ext; *c; c++)
			if (!cset82(*c))
				return -1;
		memcpy(out->ext, ext, strlen(ext) + 1);
	}
	if ((kind == GS1_SGTIN || kind == GS1_LGTIN) && !out->ext[0])
		return -1;
	return 0;
}

/* Appends s percent-encoded: keep is the set of characters left as they are. */
static int put_encoded(char *buf, size_t cap, size_t *o, const char *s, int dl)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		int plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			    (c >= '0' && c <= '9') || strchr(dl ? "-._~!'()*+,;=:" : "-_.:;=!'()*+,",
							     c) != NULL;

		if (*o + 4 > cap)
			return -1;
		if (plain) {
			buf[(*o)++] = (char)c;
		} else {
			buf[(*o)++] = '%';
			buf[(*o)++] = hex[c >> 4];
			buf[(*o)++] = hex[c & 15];
		}
	}
	buf[*o] = '\0';
	return 0;
}

int gs1_id_to_urn(const struct gs1_id *id, int cp_len, char *buf, size_t cap)
{
	const char *d = id->digits, *scheme;
	size_t o;
	int n;

	if (cp_len == 0)
		cp_len = id->cp_len;
	if (cp_len < 6 || cp_len > 12)
		return -1;
	switch (id->kind) {
	case GS1_GTIN:
	case GS1_SGTIN:
	case GS1_LGTIN:
		scheme = id->kind == GS1_GTIN	 ? "urn:epc:idpat:sgtin:"
			 : id->kind == GS1_SGTIN ? "urn:epc:id:sgtin:"
						 : "urn:epc:class:lgtin:";
		n = snprintf(buf, cap, "%s%.*s.%c%.*s.", scheme, cp_len, d + 1, d[0], 12 - cp_len,
			     d + 1 + cp_len);
		break;
	case GS1_SSCC:
		n = snprintf(buf, cap, "urn:epc:id:sscc:%.*s.%c%.*s", cp_len, d + 1, d[0],
			     16 - cp_len, d + 1 + cp_len);
		break;
	case GS1_SGLN:
		n = snprintf(buf, cap, "urn:epc:id:sgln:%.*s.%.*s.", cp_len, d, 12 - cp_len,
			     d + cp_len);
		break;
	case GS1_PGLN:
		n = snprintf(buf, cap, "urn:epc:id:pgln:%.*s.%.*s", cp_len, d, 12 - cp_len,
			     d + cp_len);
		break;
	case GS1_GIAI:
		if ((size_t)cp_len >= strlen(d) || !is_digits(d, (size_t)cp_len))
			return -1;
		n = snprintf(buf, cap, "urn:epc:id:giai:%.*s.", cp_len, d);
		break;
	default:
		return -1;
	}
	if (n < 0 || (size_t)n >= cap)
		return -1;
	o = (size_t)n;
	switch (id->kind) {
	case GS1_GTIN:
		return o + 2 > cap ? -1 : (buf[o] = '*', buf[o + 1] = '\0', 0);
	case GS1_SGTIN:
	case GS1_LGTIN:
		return put_encoded(buf, cap, &o, id->ext, 0);
	case GS1_SGLN:
		return put_encoded(buf, cap, &o, id->ext[0] ? id->ext : "0", 0);
	case GS1_GIAI:
		return put_encoded(buf, cap, &o, d + cp_len, 0);
	default:
		return 0;
	}
}

int gs1_id_to_dl(const struct gs1_id *id, const char *base, char *buf, size_t cap)
{
	const char *ai;
	size_t o;
	int n;

	switch (id->kind) {
	case GS1_GTIN:
	case GS1_SGTIN:
	case GS1_LGTIN:
		ai = "01";
		break;
	case GS1_SSCC:
		ai = "00";
		break;
	case GS1_SGLN:
		ai = "414";
		break;
	case GS1_PGLN:
		ai = "417";
		break;
	case GS1_GIAI:
		ai = "8004";
		break;
	default:
		return -1;
	}
	n = snprintf(buf, cap, "%s/%s/", base ? base : "https://id.gs1.org", ai);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	o = (size_t)n;
	if (put_encoded(buf, cap, &o, id->digits, 1) < 0)
		return -1;
	if (!id->ext[0] || id->kind == GS1_GIAI || id->kind == GS1_GTIN)
		return 0;
	n = snprintf(buf + o, cap - o, "/%s/",
		     id->kind == GS1_LGTIN ? "10" : id->kind == GS1_SGTIN ? "21" : "254");
	if (n < 0 || (size_t)n >= cap - o)
		return -1;
	o += (size_t)n;
	return put_encoded(buf, cap, &o, id->ext, 1);
}
