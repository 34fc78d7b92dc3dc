/*
 * payload: protocol v1 uplink JSON → struct message. Built on jsmn (Debian libjsmn-dev), a
 * tokenizer measured at ≈0.5 µs per record against ≈1.0 µs for cJSON; this module adds
 * what a tokenizer leaves to its caller: number grammar, string unescaping, UTF-8 checks and
 * the protocol's own rules.
 *
 * DESIGN. The message owns a copy of the payload; spans point into it and strings are
 * unescaped in place (an unescaped string is never longer than its escaped form), so a
 * parsed message costs one copy and a few arrays. The token array lives in the reusable
 * parser and is grown on demand. Unknown keys are ignored so devices can add fields ahead of
 * the ingest; known keys with a wrong type or value make the record fail with a reason.
 */
#include "payload.h"

#define JSMN_STATIC
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain.h"
#include "gs1.h"
#include "ts.h"

struct payload_parser {
	jsmntok_t *toks;
	int *next; /* next[i]: the token after the subtree of value i (set by shape_ok) */
	unsigned cap;
};

/* A cursor over one message: tokens, the text and where the record being built goes. */
struct walk {
	const jsmntok_t *t;
	const int *next;
	int n;
	char *js;
	struct message *m;
	int64_t now_us;
	const struct payload_limits *lim;
};

static const char *const probe_names[PROBE_COUNT] = {
	"supply", "return", "product", "ambient", "p1",	"p2",  "p3",  "p4",  "p5",  "p6",
	"p7",	  "p8",	    "p9",      "p10",	  "p11", "p12", "p13", "p14", "p15", "p16",
};

static const char *const event_names[] = {
	"",		"door_open",   "door_close", "reefer_alarm", "power_loss",
	"power_restored", "defrost_start", "defrost_end", "load",	    "unload",
};

#define N_EVENTS ((int)(sizeof(event_names) / sizeof(event_names[0])))

const char *payload_probe_name(int probe)
{
	return probe >= 0 && probe < PROBE_COUNT ? probe_names[probe] : "?";
}

const char *payload_event_name(int type)
{
	return type > 0 && type < N_EVENTS ? event_names[type] : "?";
}

int payload_parser_new(struct payload_parser **out)
{
	struct payload_parser *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p)
		return -1;
	p->cap = 1024;
	p->toks = malloc(p->cap * sizeof(*p->toks));
	p->next = malloc(p->cap * sizeof(*p->next));
	if (!p->toks || !p->next) {
		free(p->toks);
		free(p->next);
		free(p);
		return -1;
	}
	*out = p;
	return 0;
}

void payload_parser_free(struct payload_parser *p)
{
	if (!p)
		return;
	free(p->toks);
	free(p->next);
	free(p);
}

bool payload_device_id_ok(const char *id, size_t len)
{
	if (len < 1 || len > DEVICE_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = id[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

int payload_topic_device(const char *prefix, const char *topic, char out[DEVICE_ID_MAX + 1])
{
	size_t plen = strlen(prefix), tlen = strlen(topic);
	const char *dev, *end;

	if (tlen < plen + 5 || strncmp(topic, prefix, plen) != 0 ||
	    strncmp(topic + plen, "/dev/", 5) != 0)
		return -1;
	dev = topic + plen + 5;
	end = strchr(dev, '/');
	if (!end || strcmp(end, "/up") != 0 || !payload_device_id_ok(dev, (size_t)(end - dev)))
		return -1;
	memcpy(out, dev, (size_t)(end - dev));
	out[end - dev] = '\0';
	return 0;
}

/* ---- text-level checks ------------------------------------------------------------- */

/* ASCII eight bytes at a time (most of a message), the rest byte by byte. */
static bool utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		if (c < 0x80) {
			uint64_t v;
			while (i + 8 <= len && (memcpy(&v, s + i, 8), (v & 0x8080808080808080ull) == 0))
				i += 8;
			if (i < len && s[i] < 0x80)
				i++;
			continue;
		}
		size_t n;
		uint32_t cp;
		if (c >= 0xC2 && c <= 0xDF) {
			n = 1;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			n = 2;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + n >= len)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		/* Overlong forms, surrogates and values above U+10FFFF are not UTF-8. */
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += n + 1;
	}
	return true;
}

/* The bytes nesting_depth looks at; everything else is passed over with one table load. */
enum { J_QUOTE = 1, J_BACKSLASH, J_OPEN, J_CLOSE };
static const unsigned char json_special[256] = {
	['"'] = J_QUOTE, ['\\'] = J_BACKSLASH, ['{'] = J_OPEN, ['['] = J_OPEN, ['}'] = J_CLOSE,
	[']'] = J_CLOSE,
};

/* Deepest bracket nesting outside strings. jsmn closes a bracket by walking up its parents,
 * which makes a message of pure nesting quadratic; the protocol needs depth 4, so anything
 * far deeper is refused before tokenizing. */
static int nesting_depth(const char *s, size_t len)
{
	int depth = 0, max = 0;
	bool in_string = false;

	for (size_t i = 0; i < len; i++) {
		unsigned char k = json_special[(unsigned char)s[i]];
		if (__builtin_expect(k == 0, 1))
			continue;
		if (in_string) {
			if (k == J_QUOTE)
				in_string = false;
			else if (k == J_BACKSLASH)
				i++; /* the escaped byte, whatever it is */
		} else if (k == J_QUOTE) {
			in_string = true;
		} else if (k == J_OPEN) {
			if (++depth > max)
				max = depth;
		} else if (k == J_CLOSE) {
			depth--;
		}
	}
	return max;
}

static int hex4(const char *s, uint32_t *out)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++) {
		char c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t utf8_put(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Unescapes a JSON string in place; returns the new length or -1 (lone surrogate, NUL). */
static long unescape(char *s, size_t len)
{
	size_t r = 0, w = 0;

	while (r < len) {
		if (s[r] != '\\') {
			s[w++] = s[r++];
			continue;
		}
		char e = s[r + 1];
		uint32_t cp, lo;
		r += 2;
		switch (e) {
		case 'b': s[w++] = '\b'; break;
		case 'f': s[w++] = '\f'; break;
		case 'n': s[w++] = '\n'; break;
		case 'r': s[w++] = '\r'; break;
		case 't': s[w++] = '\t'; break;
		case 'u':
			if (r + 4 > len || hex4(s + r, &cp) < 0)
				return -1;
			r += 4;
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				if (r + 6 > len || s[r] != '\\' || s[r + 1] != 'u' ||
				    hex4(s + r + 2, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
					return -1;
				r += 6;
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			} else if ((cp >= 0xDC00 && cp <= 0xDFFF) || cp == 0) {
				return -1;
			}
			w += utf8_put(s + w, cp);
			break;
		default: s[w++] = e; break; /* \" \\ \/ — jsmn has rejected any other */
		}
	}
	return (long)w;
}

/* ---- token helpers ------------------------------------------------------------------ */

/* Index of the token after the subtree rooted at value i: computed once, by shape_ok, rather
 * than by scanning the subtree's tokens at every level of the walk (callgrind: 1.3k
 * instructions per reading). */
static inline int skip(const struct walk *w, int i)
{
	return w->next[i];
}

static bool key_is(const struct walk *w, int i, const char *key)
{
	size_t len = (size_t)(w->t[i].end - w->t[i].start);
	return strlen(key) == len && memcmp(w->js + w->t[i].start, key, len) == 0;
}

static struct span tok_span(const struct walk *w, int i)
{
	struct span s = {w->js + w->t[i].start, (size_t)(w->t[i].end - w->t[i].start)};
	return s;
}

/* A JSON number, by the grammar of RFC 8259 (strtod alone would take "inf" or "0x1p3"),
 * checked and converted in one pass. Clinger's fast path: a number with at most 15
 * significant digits and a decimal exponent within ±22 is an exact integer times or divided
 * by an exact power of ten, so one IEEE operation gives the correctly rounded double strtod
 * would give. Exponents and longer numbers take strtod. */
static int tok_number(const struct walk *w, int i, double *out)
{
	static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
				       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
				       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
	const char *s = w->js + w->t[i].start, *end = w->js + w->t[i].end, *p = s;
	uint64_t mant = 0;
	int digits = 0, scale = 0;
	bool neg = false, slow = false;
	char buf[64], *stop;

	if (w->t[i].type != JSMN_PRIMITIVE || end - s >= (long)sizeof(buf))
		return -1;
	if (*p == '-') {
		neg = true;
		p++;
	}
	if (p < end && *p == '0')
		p++;
	else if (p < end && *p >= '1' && *p <= '9')
		for (; p < end && *p >= '0' && *p <= '9'; p++) {
			mant = mant * 10 + (uint64_t)(*p - '0');
			digits++;
		}
	else
		return -1;
	if (p < end && *p == '.') {
		const char *f = ++p;
		for (; p < end && *p >= '0' && *p <= '9'; p++) {
			mant = mant * 10 + (uint64_t)(*p - '0');
			digits += mant != 0; /* leading zeros of 0.00x are not significant */
			scale--;
		}
		if (p == f)
			return -1;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		slow = true;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		const char *x = p;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
		if (p == x)
			return -1;
	}
	if (p != end)
		return -1;
	if (!slow && digits <= 15 && scale >= -22) {
		*out = scale ? (double)mant / pow10[-scale] : (double)mant;
		if (neg)
			*out = -*out;
		return 0;
	}
	memcpy(buf, s, (size_t)(end - s));
	buf[end - s] = '\0';
	errno = 0;
	*out = strtod(buf, &stop);
	return errno == ERANGE || !isfinite(*out) ? -1 : 0;
}

static int tok_int(const struct walk *w, int i, int64_t *out)
{
	const char *s = w->js + w->t[i].start, *end = w->js + w->t[i].end;
	int64_t v = 0;

	if (w->t[i].type != JSMN_PRIMITIVE || s == end || end - s > 18)
		return -1;
	if (*s == '0' && end - s > 1)
		return -1;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	*out = v;
	return 0;
}

/* A string token, unescaped in place; -1 when not a string or not valid text. */
static int tok_string(struct walk *w, int i, struct span *out)
{
	char *s = w->js + w->t[i].start;
	size_t len = (size_t)(w->t[i].end - w->t[i].start);

	if (w->t[i].type != JSMN_STRING)
		return -1;
	if (memchr(s, '\\', len)) {
		long n = unescape(s, len);
		if (n < 0)
			return -1;
		len = (size_t)n;
	}
	out->ptr = s;
	out->len = len;
	return 0;
}

static bool tok_is_null(const struct walk *w, int i)
{
	return w->t[i].type == JSMN_PRIMITIVE && key_is(w, i, "null");
}

/* ---- records ------------------------------------------------------------------------ */

static int fail(struct record *r, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct record *r, const char *reason, const char *fmt, ...)
{
	va_list ap;

	if (r->reason)
		return -1; /* the first failure is the one reported */
	r->reason = reason;
	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
	return -1;
}

static int probe_index(const struct span *name)
{
	for (int i = 0; i < PROBE_COUNT; i++)
		if (strlen(probe_names[i]) == name->len &&
		    memcmp(probe_names[i], name->ptr, name->len) == 0)
			return i;
	return -1;
}

static int parse_temp(struct walk *w, int i, struct record *r)
{
	int end = skip(w, i);

	if (w->t[i].type != JSMN_OBJECT)
		return fail(r, "bad_value", "temp is not an object");
	for (int k = i + 1; k < end; k = skip(w, k + 1)) {
		struct span name;
		double v;
		int p;

		if (tok_string(w, k, &name) < 0 || w->t[k].size != 1)
			return fail(r, "bad_record", "malformed temp object");
		p = probe_index(&name);
		if (p < 0)
			return fail(r, "bad_probe", "unknown probe '%.*s'", (int)(name.len > 32 ? 32 : name.len), name.ptr);
		if (tok_number(w, k + 1, &v) < 0)
			return fail(r, "bad_value", "temp.%s is not a number", probe_names[p]);
		if (!domain_temp_ok(v))
			return fail(r, "temp_out_of_range", "temp.%s = %g outside -60…80 °C", probe_names[p], v);
		r->temp[p] = (float)v;
		r->temp_mask |= 1u << p;
	}
	return 0;
}

static int pos_field(struct walk *w, int k, struct record *r, const char *name, double *out)
{
	if (tok_number(w, k, out) < 0)
		return fail(r, "bad_value", "pos.%s is not a number", name);
	return 0;
}

static int parse_pos(struct walk *w, int i, struct record *r)
{
	int end = skip(w, i), seen = 0;
	double v;

	if (w->t[i].type != JSMN_OBJECT)
		return fail(r, "bad_value", "pos is not an object");
	for (int k = i + 1; k < end; k = skip(w, k + 1)) {
		if (w->t[k].type != JSMN_STRING || w->t[k].size != 1)
			return fail(r, "bad_record", "malformed pos object");
		if (key_is(w, k, "lat")) {
			if (pos_field(w, k + 1, r, "lat", &r->lat) < 0)
				return -1;
			if (!domain_lat_ok(r->lat))
				return fail(r, "lat_out_of_range", "lat = %g", r->lat);
			seen |= 1;
		} else if (key_is(w, k, "lon")) {
			if (pos_field(w, k + 1, r, "lon", &r->lon) < 0)
				return -1;
			if (!domain_lon_ok(r->lon))
				return fail(r, "lon_out_of_range", "lon = %g", r->lon);
			seen |= 2;
		} else if (key_is(w, k, "alt_m")) {
			if (pos_field(w, k + 1, r, "alt_m", &v) < 0)
				return -1;
			r->alt_m = (float)v;
			r->has |= HAS_ALT;
		} else if (key_is(w, k, "speed_kmh")) {
			if (pos_field(w, k + 1, r, "speed_kmh", &v) < 0)
				return -1;
			if (v < 0 || v > 400)
				return fail(r, "bad_value", "pos.speed_kmh = %g", v);
			r->speed_kmh = (float)v;
			r->has |= HAS_SPEED;
		} else if (key_is(w, k, "heading_deg")) {
			if (pos_field(w, k + 1, r, "heading_deg", &v) < 0)
				return -1;
			if (v < 0 || v > 360)
				return fail(r, "bad_value", "pos.heading_deg = %g", v);
			r->heading_deg = (float)v;
			r->has |= HAS_HEADING;
		}
	}
	if (seen != 3)
		return fail(r, "bad_position", "pos needs both lat and lon");
	r->has |= HAS_POS;
	return 0;
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap * 2 : 8;
	while (n < need)
		n *= 2;
	void *p = realloc(*arr, n * elem);
	if (!p)
		return -1;
	*arr = p;
	*cap = n;
	return 0;
}

/* Capacities of the message's lot and SSCC pools live beside the walk, not in the message. */
struct pools {
	size_t lots_cap, sscc_cap;
};

static bool all_digits(const struct span *s)
{
	for (size_t i = 0; i < s->len; i++)
		if (s->ptr[i] < '0' || s->ptr[i] > '9')
			return false;
	return s->len > 0;
}

static int parse_one_lot(struct walk *w, int i, struct record *r, struct lot *lot)
{
	int end = skip(w, i), seen = 0;

	memset(lot, 0, sizeof(*lot));
	if (w->t[i].type != JSMN_OBJECT)
		return fail(r, "bad_lot", "a lot is not an object");
	for (int k = i + 1; k < end; k = skip(w, k + 1)) {
		if (w->t[k].type != JSMN_STRING || w->t[k].size != 1)
			return fail(r, "bad_record", "malformed lot object");
		if (key_is(w, k, "gtin") && tok_string(w, k + 1, &lot->gtin) == 0)
			seen |= 1;
		else if (key_is(w, k, "lot") && tok_string(w, k + 1, &lot->lot) == 0)
			seen |= 2;
		else if (key_is(w, k, "qty") && tok_number(w, k + 1, &lot->qty) == 0)
			seen |= 4;
		else if (key_is(w, k, "uom") && tok_string(w, k + 1, &lot->uom) == 0)
			seen |= 8;
		else if (key_is(w, k, "gtin") || key_is(w, k, "lot") || key_is(w, k, "qty") ||
			 key_is(w, k, "uom"))
			return fail(r, "bad_lot", "lot field of the wrong type");
	}
	if ((seen & 7) != 7)
		return fail(r, "bad_lot", "a lot needs gtin, lot and qty");
	if (!all_digits(&lot->gtin) || !gs1_check_digit_ok(lot->gtin.ptr, lot->gtin.len) ||
	    (lot->gtin.len != 8 && lot->gtin.len != 12 && lot->gtin.len != 13 && lot->gtin.len != 14))
		return fail(r, "bad_gtin", "GTIN '%.*s' is not a valid GTIN", (int)(lot->gtin.len > 20 ? 20 : lot->gtin.len), lot->gtin.ptr);
	if (lot->lot.len == 0 || lot->lot.len > 20)
		return fail(r, "bad_lot", "lot code must be 1-20 characters (GS1 AI 10)");
	if (lot->uom.len > 8)
		return fail(r, "bad_lot", "uom must be a unit code of at most 8 characters");
	if (!(lot->qty > 0))
		return fail(r, "bad_lot", "lot quantity must be positive");
	return 0;
}

static int parse_lots(struct walk *w, int i, struct record *r, struct pools *pl)
{
	int end = skip(w, i);

	if (w->t[i].type != JSMN_ARRAY || w->t[i].size == 0)
		return fail(r, "bad_lot", "lots must be a non-empty array");
	r->lot_first = (uint32_t)w->m->n_lots;
	for (int k = i + 1; k < end; k = skip(w, k)) {
		if (grow((void **)&w->m->lots, &pl->lots_cap, w->m->n_lots + 1, sizeof(struct lot)))
			return -2;
		if (parse_one_lot(w, k, r, &w->m->lots[w->m->n_lots]) < 0)
			return -1;
		w->m->n_lots++;
		r->lot_count++;
	}
	return 0;
}

static int parse_sscc(struct walk *w, int i, struct record *r, struct pools *pl)
{
	int end = skip(w, i);

	if (w->t[i].type != JSMN_ARRAY)
		return fail(r, "bad_sscc", "sscc must be an array");
	r->sscc_first = (uint32_t)w->m->n_sscc;
	for (int k = i + 1; k < end; k = skip(w, k)) {
		struct span s;
		/* Syntax only: the protocol's own example SSCC carries a wrong check digit, and a
		 * pallet label misprint must not cost the custody event; traceability flags it. */
		if (tok_string(w, k, &s) < 0 || s.len != 18 || !all_digits(&s))
			return fail(r, "bad_sscc", "an SSCC must be 18 digits");
		if (grow((void **)&w->m->sscc, &pl->sscc_cap, w->m->n_sscc + 1, sizeof(struct span)))
			return -2;
		w->m->sscc[w->m->n_sscc++] = s;
		r->sscc_count++;
	}
	return 0;
}

static int parse_event_type(struct walk *w, int k, struct record *r)
{
	for (int e = 1; e < N_EVENTS; e++) {
		if (w->t[k].type == JSMN_STRING && key_is(w, k, event_names[e])) {
			r->event_type = e;
			return 0;
		}
	}
	return fail(r, "bad_event_type", "unknown event type");
}

static int parse_time(struct walk *w, int k, struct record *r)
{
	struct span s;

	if (tok_string(w, k, &s) < 0 || ts_parse_rfc3339(s.ptr, s.len, &r->t_us) < 0)
		return fail(r, "bad_time", "t is not an RFC 3339 time");
	if (r->t_us > w->now_us + w->lim->max_future_us)
		return fail(r, "time_in_future", "t is %.0f s ahead of the ingest clock",
			    (double)(r->t_us - w->now_us) / 1e6);
	if (r->t_us < w->now_us - w->lim->max_age_us)
		return fail(r, "time_too_old", "t is older than the configured limit of %.0f s",
			    (double)w->lim->max_age_us / 1e6);
	return 0;
}

static int parse_short_string(struct walk *w, int k, struct record *r, const char *name,
			      size_t max, struct span *out)
{
	if (tok_is_null(w, k))
		return 0;
	if (tok_string(w, k, out) < 0)
		return fail(r, "bad_value", "%s is not a string", name);
	if (out->len > max)
		return fail(r, "bad_value", "%s is longer than %zu bytes", name, max);
	return 0;
}

static int parse_number_field(struct walk *w, int k, struct record *r, const char *name,
			      double *out)
{
	if (tok_number(w, k, out) < 0)
		return fail(r, "bad_value", "%s is not a number", name);
	return 0;
}

/* One key/value pair of a record; k is the key token. Returns -2 on out of memory. */
static int parse_field(struct walk *w, int k, struct record *r, struct pools *pl, int *seen)
{
	int v = k + 1;
	double d;
	struct span s;

	if (key_is(w, k, "seq")) {
		*seen |= 1;
		if (tok_int(w, v, &r->seq) < 0 || r->seq < 1) {
			r->seq = 0;
			return fail(r, "bad_seq", "seq must be an integer >= 1");
		}
	} else if (key_is(w, k, "t")) {
		*seen |= 2;
		return parse_time(w, v, r);
	} else if (key_is(w, k, "kind")) {
		*seen |= 4;
		if (key_is(w, v, "reading") && w->t[v].type == JSMN_STRING)
			r->kind = RECORD_READING;
		else if (key_is(w, v, "event") && w->t[v].type == JSMN_STRING)
			r->kind = RECORD_EVENT;
		else
			return fail(r, "bad_kind", "kind must be reading or event");
	} else if (key_is(w, k, "shipment")) {
		if (parse_short_string(w, v, r, "shipment", 64, &r->shipment) < 0)
			return -1;
	} else if (key_is(w, k, "temp")) {
		return parse_temp(w, v, r);
	} else if (key_is(w, k, "rh")) {
		if (parse_number_field(w, v, r, "rh", &d) < 0)
			return -1;
		if (!domain_rh_ok(d))
			return fail(r, "rh_out_of_range", "rh = %g outside 0…100 %%", d);
		r->rh = (float)d;
		r->has |= HAS_RH;
	} else if (key_is(w, k, "pos")) {
		return parse_pos(w, v, r);
	} else if (key_is(w, k, "setpoint")) {
		if (parse_number_field(w, v, r, "setpoint", &d) < 0)
			return -1;
		if (!domain_temp_ok(d))
			return fail(r, "temp_out_of_range", "setpoint = %g outside -60…80 °C", d);
		r->setpoint = (float)d;
		r->has |= HAS_SETPOINT;
	} else if (key_is(w, k, "door")) {
		if (w->t[v].type == JSMN_STRING && (key_is(w, v, "open") || key_is(w, v, "closed"))) {
			r->door_open = key_is(w, v, "open");
			r->has |= HAS_DOOR;
		} else {
			return fail(r, "bad_door", "door must be open or closed");
		}
	} else if (key_is(w, k, "type")) {
		*seen |= 8;
		return parse_event_type(w, v, r);
	} else if (key_is(w, k, "code")) {
		return parse_short_string(w, v, r, "code", 64, &r->code);
	} else if (key_is(w, k, "text")) {
		return parse_short_string(w, v, r, "text", 512, &r->text);
	} else if (key_is(w, k, "site")) {
		if (tok_string(w, v, &s) < 0 || s.len != 13 || !all_digits(&s) ||
		    !gs1_check_digit_ok(s.ptr, s.len))
			return fail(r, "bad_gln", "site must be a 13-digit GLN with a valid check digit");
		r->site = s;
	} else if (key_is(w, k, "lots")) {
		return parse_lots(w, v, r, pl);
	} else if (key_is(w, k, "sscc")) {
		return parse_sscc(w, v, r, pl);
	}
	return 0;
}

/* Rules that need the whole record: required fields per kind. */
static void check_record(struct record *r, int seen)
{
	if (!(seen & 1))
		fail(r, "bad_seq", "seq is missing");
	else if (!(seen & 2))
		fail(r, "bad_time", "t is missing");
	else if (!(seen & 4))
		fail(r, "bad_kind", "kind is missing");
	else if (r->kind == RECORD_READING && !r->temp_mask && !(r->has & (HAS_RH | HAS_POS)))
		fail(r, "missing_measurement", "a reading needs at least one of temp, rh, pos");
	else if (r->kind == RECORD_EVENT && !(seen & 8))
		fail(r, "bad_event_type", "an event needs a type");
	else if (r->kind == RECORD_EVENT &&
		 (r->event_type == EVENT_LOAD || r->event_type == EVENT_UNLOAD) &&
		 (r->site.len == 0 || r->lot_count == 0))
		fail(r, "missing_custody", "%s needs site and lots", event_names[r->event_type]);
}

static int parse_record(struct walk *w, int i, struct record *r, struct pools *pl)
{
	int end = skip(w, i), seen = 0;

	memset(r, 0, sizeof(*r));
	r->raw = tok_span(w, i);
	if (w->t[i].type != JSMN_OBJECT) {
		fail(r, "bad_record", "a record must be a JSON object");
		return 0;
	}
	for (int k = i + 1; k < end; k = skip(w, k + 1)) {
		if (w->t[k].type != JSMN_STRING || w->t[k].size != 1) {
			fail(r, "bad_record", "malformed record object");
			return 0;
		}
		/* Keep reading after a failure: seq is still wanted for the dead letter. */
		if (parse_field(w, k, r, pl, &seen) == -2)
			return -2;
	}
	check_record(r, seen);
	return 0;
}

/* ---- the message -------------------------------------------------------------------- */

static int reject(struct message *m, const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int reject(struct message *m, const char *reason, const char *fmt, ...)
{
	va_list ap;

	m->reason = reason;
	va_start(ap, fmt);
	vsnprintf(m->detail, sizeof(m->detail), fmt, ap);
	va_end(ap);
	return -1;
}

static int tokenize(struct payload_parser *p, struct message *m, int *ntok)
{
	for (;;) {
		jsmn_parser jp;
		int n;

		jsmn_init(&jp);
		n = jsmn_parse(&jp, m->buf, m->len, p->toks, p->cap);
		if (n == JSMN_ERROR_NOMEM) {
			jsmntok_t *t = realloc(p->toks, p->cap * 2 * sizeof(*t));
			if (!t)
				return -2;
			p->toks = t;
			int *nx = realloc(p->next, p->cap * 2 * sizeof(*nx));
			if (!nx)
				return -2;
			p->next = nx;
			p->cap *= 2;
			continue;
		}
		if (n < 0)
			return reject(m, "invalid_json",
				      n == JSMN_ERROR_PART ? "truncated JSON"
							   : "invalid JSON near byte %u",
				      jp.pos);
		*ntok = n;
		return 0;
	}
}

static bool trailing_space_only(const struct message *m, size_t from)
{
	for (size_t i = from; i < m->len; i++)
		if (m->buf[i] != ' ' && m->buf[i] != '\t' && m->buf[i] != '\n' && m->buf[i] != '\r')
			return false;
	return true;
}

/* The envelope {"v":1,"device":…,"records":[…]}; on success *records is the array token. */
static int parse_envelope(struct walk *w, int *records)
{
	int end = skip(w, 0), seen = 0;
	struct span dev;
	int64_t v;

	*records = -1;
	for (int k = 1; k < end; k = skip(w, k + 1)) {
		if (w->t[k].type != JSMN_STRING || w->t[k].size != 1)
			return reject(w->m, "invalid_json", "malformed envelope object");
		if (key_is(w, k, "v")) {
			if (tok_int(w, k + 1, &v) < 0 || v != 1)
				return reject(w->m, "bad_envelope", "unsupported protocol version");
			seen |= 1;
		} else if (key_is(w, k, "device")) {
			if (tok_string(w, k + 1, &dev) < 0)
				return reject(w->m, "bad_envelope", "device is not a string");
			seen |= 2;
		} else if (key_is(w, k, "records")) {
			if (w->t[k + 1].type != JSMN_ARRAY)
				return reject(w->m, "bad_envelope", "records is not an array");
			*records = k + 1;
		}
	}
	if (!(seen & 1) || !(seen & 2) || *records < 0)
		return reject(w->m, "bad_envelope", "v, device and records are required");
	if (strlen(w->m->device) != dev.len || memcmp(w->m->device, dev.ptr, dev.len) != 0)
		return reject(w->m, "device_mismatch", "payload names device '%.*s'",
			      (int)(dev.len > 64 ? 64 : dev.len), dev.ptr);
	if (w->t[*records].size > PAYLOAD_MAX_RECORDS)
		return reject(w->m, "too_many_records", "%d records, at most %d",
			      w->t[*records].size, PAYLOAD_MAX_RECORDS);
	return 0;
}

/* jsmn, even with JSMN_STRICT, accepts a few malformed inputs whose tokens then disagree with
 * their sizes: a ':' after an array element ('[{""}:{}]') or an object key without a value
 * ('{""}'). The walk trusts sizes (records are allocated by the array's size), so the token
 * tree is checked to have JSON's exact shape first: an object's members are string keys with
 * one value each, an array's elements are values, nothing else lies inside a container.
 * Iterative, one pass over the tokens, and it records where each value's subtree ends (next)
 * for the walk. Returns 0 when the whole token array is one well-shaped value, else -1. The
 * stack cannot overflow: the nesting-depth check runs before tokenizing. Found by fuzzing
 * (tests/fuzz). */
static int shape_ok(const jsmntok_t *t, int n, int *next)
{
	int stk[PAYLOAD_MAX_DEPTH + 2], left[PAYLOAD_MAX_DEPTH + 2];
	int d = 0, k = 0, c;

	for (;;) {
		/* k is a value. */
		if (k >= n)
			return -1;
		if (t[k].type == JSMN_OBJECT || t[k].type == JSMN_ARRAY) {
			if (d == (int)(sizeof(stk) / sizeof(*stk)))
				return -1;
			stk[d] = k;
			left[d++] = t[k].size;
		} else if (t[k].size != 0) {
			return -1;
		} else {
			next[k] = k + 1;
		}
		k++;
		/* Close the containers whose members are all seen: nothing else may lie inside. */
		for (;;) {
			if (d == 0)
				return k == n ? 0 : -1;
			c = stk[d - 1];
			if (left[d - 1] > 0)
				break;
			if (k < n && t[k].start < t[c].end)
				return -1;
			next[c] = k;
			d--;
		}
		/* The next member of container c. */
		left[d - 1]--;
		if (k >= n || t[k].start >= t[c].end)
			return -1;
		if (t[c].type == JSMN_OBJECT) {
			if (t[k].type != JSMN_STRING || t[k].size != 1)
				return -1;
			/* The value must lie inside the object too: after '{""}:{}' jsmn hangs the
			 * '{}' outside the object on the key. */
			if (++k >= n || t[k].start >= t[c].end)
				return -1;
		}
	}
}

static int parse_records(struct walk *w, int arr)
{
	struct pools pl = {0, 0};
	int end = skip(w, arr), rc;

	w->m->records = calloc((size_t)(w->t[arr].size ? w->t[arr].size : 1), sizeof(struct record));
	if (!w->m->records)
		return -2;
	for (int k = arr + 1; k < end; k = skip(w, k)) {
		rc = parse_record(w, k, &w->m->records[w->m->n_records], &pl);
		if (rc < 0)
			return rc;
		w->m->n_records++;
	}
	return 0;
}

int payload_parse(struct payload_parser *p, struct message *m, const void *data, size_t len,
		  int64_t now_us, const struct payload_limits *limits)
{
	struct walk w = {p->toks, p->next, 0, NULL, m, now_us, limits};
	int rc, records;

	m->reason = NULL;
	m->buf = malloc(len + 1);
	if (!m->buf)
		return -2;
	if (len) /* an empty payload may come as NULL */
		memcpy(m->buf, data, len);
	m->buf[len] = '\0';
	m->len = len;
	if (memchr(m->buf, '\\', len)) {
		m->orig = malloc(len + 1);
		if (!m->orig)
			return -2;
		memcpy(m->orig, data, len);
		m->orig[len] = '\0';
	}
	if (len > PAYLOAD_MAX_BYTES)
		return reject(m, "payload_too_large", "%zu bytes, at most %d", len, PAYLOAD_MAX_BYTES);
	if (!utf8_valid((const unsigned char *)m->buf, len))
		return reject(m, "invalid_utf8", "payload is not UTF-8");
	if (nesting_depth(m->buf, len) > PAYLOAD_MAX_DEPTH)
		return reject(m, "too_deeply_nested", "JSON nested deeper than %d levels",
			      PAYLOAD_MAX_DEPTH);
	rc = tokenize(p, m, &w.n);
	if (rc)
		return rc;
	w.t = p->toks;
	w.next = p->next;
	w.js = m->buf;
	if (w.n < 1 || p->toks[0].type != JSMN_OBJECT || !trailing_space_only(m, (size_t)p->toks[0].end))
		return reject(m, "invalid_json", "payload must be one JSON object");
	if (shape_ok(p->toks, w.n, p->next) < 0)
		return reject(m, "invalid_json", "malformed JSON (a member without a value or a "
						 "stray ':')");
	if (parse_envelope(&w, &records) < 0)
		return -1;
	return parse_records(&w, records);
}

const char *payload_original(const struct message *m, struct span s)
{
	return m->orig ? m->orig + (s.ptr - m->buf) : s.ptr;
}

void payload_message_release(struct message *m)
{
	if (!m)
		return;
	free(m->buf);
	free(m->orig);
	free(m->records);
	free(m->lots);
	free(m->sscc);
	m->buf = NULL;
	m->orig = NULL;
	m->records = NULL;
	m->lots = NULL;
	m->sscc = NULL;
	m->n_records = m->n_lots = m->n_sscc = 0;
}

/* ---- canonical lots ----------------------------------------------------------------- */

static int put_json_string(char *out, size_t cap, size_t *at, const struct span *s)
{
	static const char hex[] = "0123456789abcdef";

	if (*at + 1 >= cap)
		return -1;
	out[(*at)++] = '"';
	for (size_t i = 0; i < s->len; i++) {
		unsigned char c = (unsigned char)s->ptr[i];
		size_t need = c == '"' || c == '\\' ? 2 : c < 0x20 ? 6 : 1;
		if (*at + need >= cap) /* one byte stays free for the closing NUL */
			return -1;
		if (c == '"' || c == '\\') {
			out[(*at)++] = '\\';
			out[(*at)++] = (char)c;
		} else if (c < 0x20) {
			memcpy(out + *at, "\\u00", 4);
			out[*at + 4] = hex[c >> 4];
			out[*at + 5] = hex[c & 15];
			*at += 6;
		} else {
			out[(*at)++] = (char)c;
		}
	}
	if (*at + 1 >= cap)
		return -1;
	out[(*at)++] = '"';
	return 0;
}

static int put_text(char *out, size_t cap, size_t *at, const char *text)
{
	size_t n = strlen(text);

	if (*at + n >= cap)
		return -1;
	memcpy(out + *at, text, n);
	*at += n;
	return 0;
}

int payload_lots_json(const struct message *m, const struct record *r, char *out, size_t cap)
{
	size_t at = 0;
	char num[40];

	if (put_text(out, cap, &at, "["))
		return -1;
	for (uint32_t i = 0; i < r->lot_count; i++) {
		const struct lot *l = &m->lots[r->lot_first + i];
		snprintf(num, sizeof(num), ",\"qty\":%.17g,\"uom\":", l->qty);
		if ((i && put_text(out, cap, &at, ",")) || put_text(out, cap, &at, "{\"gtin\":") ||
		    put_json_string(out, cap, &at, &l->gtin) || put_text(out, cap, &at, ",\"lot\":") ||
		    put_json_string(out, cap, &at, &l->lot) || put_text(out, cap, &at, num))
			return -1;
		if (l->uom.len ? put_json_string(out, cap, &at, &l->uom) : put_text(out, cap, &at, "null"))
			return -1;
		if (put_text(out, cap, &at, "}"))
			return -1;
	}
	if (put_text(out, cap, &at, "]"))
		return -1;
	out[at] = '\0';
	return (int)at;
}
