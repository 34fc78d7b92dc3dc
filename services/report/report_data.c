/*
 * report_data: fetches a report's data with two statements (ct_report_data for the JSON,
 * ct_report_readings per leg), parses the JSON with jsmn and turns it into NUL-terminated
 * values in place, so accessors hand out pointers into one buffer.
 *
 * DESIGN. After jsmn has tokenised the text, each string is unescaped in place (an escape
 * never grows) and terminated where its closing quote was; each primitive is terminated at
 * the delimiter that follows it. Token offsets stay valid because nothing moves outside a
 * token's own span. PostgreSQL's jsonb output escapes only control characters, quotes and
 * backslashes, so \u escapes are rare; they are decoded to UTF-8 all the same.
 */
#include "text.h"
#include "report_data.h"

#define JSMN_STATIC
#define JSMN_STRICT
#include <jsmn.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "trace.h"
#include "ts.h"

static const char *const sql_data = "SELECT coldtrace.ct_report_data($1, $2, $3)::text";
static const char *const sql_readings =
    "SELECT t_us, t_product, t_supply, t_return, t_ambient, t_probes::text, lat, lon "
    "  FROM coldtrace.ct_report_readings($1, to_timestamp($2::double precision / 1e6), "
    "                                    to_timestamp($3::double precision / 1e6))";

struct report_data {
	char *js;
	jsmntok_t *t;
	int n;
	int *next; /* index of the token after each token's subtree */
};

static const char *const probe_names[REPORT_PROBES] = {
    "product", "supply", "return", "ambient", "p1",  "p2",  "p3",  "p4",  "p5",	 "p6",
    "p7",      "p8",	 "p9",	   "p10",     "p11", "p12", "p13", "p14", "p15", "p16"};

const char *report_probe_name(int p)
{
	return p >= 0 && p < REPORT_PROBES ? probe_names[p] : "";
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

static unsigned hex4(const char *s)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		int h = text_hexval(s[i]);
		if (h < 0)
			return 0xFFFD;
		v = v * 16 + (unsigned)h;
	}
	return v;
}

/* Unescapes js[start, end) in place and terminates it. */
static void unescape(char *js, int start, int end)
{
	char *o = js + start;
	const char *s = js + start, *e = js + end;

	while (s < e) {
		if (*s != '\\' || s + 1 >= e) {
			*o++ = *s++;
			continue;
		}
		s++;
		switch (*s) {
		case 'n':
			*o++ = '\n';
			s++;
			break;
		case 't':
			*o++ = '\t';
			s++;
			break;
		case 'r':
			*o++ = '\r';
			s++;
			break;
		case 'b':
			*o++ = '\b';
			s++;
			break;
		case 'f':
			*o++ = '\f';
			s++;
			break;
		case 'u':
			if (e - s >= 5) {
				unsigned cp = hex4(s + 1);
				s += 5;
				if (cp >= 0xD800 && cp < 0xDC00 && e - s >= 6 && s[0] == '\\' &&
				    s[1] == 'u') {
					unsigned lo = hex4(s + 2);
					if (lo >= 0xDC00 && lo < 0xE000) {
						cp =
						    0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
						s += 6;
					}
				}
				if (cp == 0)
					cp = 0xFFFD; /* no NUL inside a C string */
				o += put_utf8(o, cp);
			} else {
				s = e;
			}
			break;
		default:
			*o++ = *s++;
			break;
		}
	}
	*o = '\0';
}

static int build_next(struct report_data *d, int i)
{
	int j = i + 1;

	if (d->t[i].type == JSMN_OBJECT) {
		for (int k = 0; k < d->t[i].size; k++) {
			j = build_next(d, j); /* key */
			j = build_next(d, j); /* value */
		}
	} else if (d->t[i].type == JSMN_ARRAY) {
		for (int k = 0; k < d->t[i].size; k++)
			j = build_next(d, j);
	}
	d->next[i] = j;
	return j;
}

static int parse(struct report_data *d, size_t len)
{
	jsmn_parser p;
	int n;

	jsmn_init(&p);
	n = jsmn_parse(&p, d->js, len, NULL, 0);
	if (n <= 0)
		return -1;
	d->t = calloc((size_t)n, sizeof(*d->t));
	d->next = calloc((size_t)n, sizeof(*d->next));
	if (!d->t || !d->next)
		return -1;
	jsmn_init(&p);
	if (jsmn_parse(&p, d->js, len, d->t, (unsigned)n) != n || d->t[0].type != JSMN_OBJECT)
		return -1;
	d->n = n;
	if (build_next(d, 0) != n)
		return -1;
	for (int i = 0; i < n; i++) {
		if (d->t[i].type == JSMN_STRING)
			unescape(d->js, d->t[i].start, d->t[i].end);
		else if (d->t[i].type == JSMN_PRIMITIVE)
			d->js[d->t[i].end] = '\0';
	}
	return 0;
}

int report_data_load(struct db *db, const struct trace_scope *scope, struct report_data **out)
{
	struct db_res *r = NULL;
	struct report_data *d = NULL;
	const char *v, *params[3];
	size_t len;
	int rc = -1;

	if (!db || !scope || !out)
		return -1;
	*out = NULL;
	params[0] = scope->shipment_id ? NULL : scope->gtin;
	params[1] = scope->shipment_id ? NULL : scope->lot;
	params[2] = scope->shipment_id;
	if (db_exec(db, sql_data, 3, params, &r) < 0)
		goto out;
	v = db_res_rows(r) == 1 ? db_res_get(r, 0, 0) : NULL;
	if (!v) {
		rc = 1;
		goto out;
	}
	len = strlen(v);
	d = calloc(1, sizeof(*d));
	if (!d || !(d->js = malloc(len + 1)))
		goto out;
	memcpy(d->js, v, len + 1);
	if (parse(d, len) != 0) {
		log_error("report: cannot parse the report data of %s%s%s",
			  params[2] ? params[2] : scope->gtin, params[2] ? "" : "/",
			  params[2] ? "" : scope->lot);
		goto out;
	}
	*out = d;
	d = NULL;
	rc = 0;
out:
	db_res_free(r);
	report_data_free(d);
	return rc;
}

void report_data_free(struct report_data *d)
{
	if (!d)
		return;
	free(d->js);
	free(d->t);
	free(d->next);
	free(d);
}

static bool is_null(const struct report_data *d, int i)
{
	return d->t[i].type == JSMN_PRIMITIVE && d->js[d->t[i].start] == 'n';
}

int report_node(const struct report_data *d, int obj, const char *key)
{
	if (!d || obj < 0 || obj >= d->n || d->t[obj].type != JSMN_OBJECT)
		return -1;
	for (int k = 0, i = obj + 1; k < d->t[obj].size; k++) {
		int val = i + 1;
		if (strcmp(d->js + d->t[i].start, key) == 0)
			return is_null(d, val) ? -1 : val;
		i = d->next[val];
	}
	return -1;
}

const char *report_text(const struct report_data *d, int node)
{
	if (!d || node < 0 || node >= d->n || is_null(d, node) ||
	    (d->t[node].type != JSMN_STRING && d->t[node].type != JSMN_PRIMITIVE))
		return NULL;
	return d->js + d->t[node].start;
}

const char *report_str(const struct report_data *d, int obj, const char *key)
{
	return report_text(d, report_node(d, obj, key));
}

double report_num(const struct report_data *d, int obj, const char *key)
{
	const char *s = report_str(d, obj, key);
	char *end;
	double v;

	if (!s || !*s)
		return NAN;
	v = strtod(s, &end);
	return *end ? NAN : v;
}

int report_is_true(const struct report_data *d, int obj, const char *key)
{
	const char *s = report_str(d, obj, key);
	return s && strcmp(s, "true") == 0;
}

int report_len(const struct report_data *d, int arr)
{
	if (!d || arr < 0 || arr >= d->n || d->t[arr].type != JSMN_ARRAY)
		return 0;
	return d->t[arr].size;
}

int report_first(const struct report_data *d, int arr)
{
	return report_len(d, arr) > 0 ? arr + 1 : -1;
}

int report_next(const struct report_data *d, int arr, int el)
{
	if (!d || arr < 0 || el < 0 || el >= d->n)
		return -1;
	el = d->next[el];
	return el < d->next[arr] ? el : -1;
}

/* ---- readings ---------------------------------------------------------------------------- */

/* PostgreSQL's shortest text of a real: "-12.5", "3", "1e-05", "NaN". The common plain
 * decimal form is read here (strtod is most of the cost of 100 000 readings); anything
 * else goes to strtod. Exact for up to 15 significant digits, which a real never has. */
static double num(const char *s, const char **end)
{
	static const double p10[] = {1,	  1e1, 1e2,  1e3,  1e4,	 1e5,  1e6,  1e7,
				     1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
	const char *q = s;
	bool neg = false;
	uint64_t m = 0;
	int digits = 0, frac = 0;

	if (*q == '-') {
		neg = true;
		q++;
	}
	while (*q >= '0' && *q <= '9' && digits < 15) {
		m = m * 10 + (uint64_t)(*q++ - '0');
		digits++;
	}
	if (*q == '.') {
		q++;
		while (*q >= '0' && *q <= '9' && digits < 15) {
			m = m * 10 + (uint64_t)(*q++ - '0');
			digits++;
			frac++;
		}
	}
	if (digits == 0 || (*q >= '0' && *q <= '9') || *q == 'e' || *q == 'E' || *q == '.') {
		char *e;
		double v = strtod(s, &e);
		*end = e;
		return v;
	}
	*end = q;
	return (neg ? -1.0 : 1.0) * (double)m / p10[frac];
}

static double cell(const struct db_res *r, int row, int col)
{
	const char *s = db_res_get(r, row, col), *end;
	return s ? num(s, &end) : NAN;
}

/* The values of probe p, allocated when the probe first shows a value (most readings carry
 * four probes of twenty): NAN before. */
static double *probe_col(struct report_series *out, int p, size_t n)
{
	if (!out->v[p]) {
		out->v[p] = malloc((n ? n : 1) * sizeof(double));
		if (out->v[p])
			for (size_t i = 0; i < n; i++)
				out->v[p][i] = NAN;
	}
	return out->v[p];
}

/* "{1.5,NULL,2}" → values of p1.. into v[4..]. -1 when out of memory. */
static int probes_array(const char *s, struct report_series *out, size_t row)
{
	int k = 0;

	if (!s || *s != '{')
		return 0;
	s++;
	while (*s && *s != '}' && k < 16) {
		const char *end;
		if (strncmp(s, "NULL", 4) == 0) {
			s += 4;
		} else {
			double x = num(s, &end);
			if (end == s)
				break;
			s = end;
			if (!probe_col(out, 4 + k, out->n))
				return -1;
			out->v[4 + k][row] = x;
		}
		k++;
		if (*s == ',')
			s++;
	}
	return 0;
}

int report_series_load(struct db *db, const char *shipment, int64_t from_us, int64_t to_us,
		       struct report_series *out)
{
	struct db_res *r = NULL;
	char from[32], to[32];
	const char *params[3] = {shipment, NULL, NULL};
	size_t n;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (from_us) {
		snprintf(from, sizeof(from), "%lld", (long long)from_us);
		params[1] = from;
	}
	if (to_us) {
		snprintf(to, sizeof(to), "%lld", (long long)to_us);
		params[2] = to;
	}
	if (db_exec(db, sql_readings, 3, params, &r) < 0)
		goto out;
	n = (size_t)db_res_rows(r);
	out->n = n;
	out->t_us = malloc((n ? n : 1) * sizeof(*out->t_us));
	out->lat = malloc((n ? n : 1) * sizeof(double));
	out->lon = malloc((n ? n : 1) * sizeof(double));
	if (!out->t_us || !out->lat || !out->lon)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const char *pa = db_res_get(r, (int)i, 5);
		out->t_us[i] = db_res_int(r, (int)i, 0, 0);
		for (int p = 0; p < 4; p++) {
			double v = cell(r, (int)i, 1 + p);
			if (isnan(v) && !out->v[p])
				continue;
			if (!probe_col(out, p, n))
				goto out;
			out->v[p][i] = v;
		}
		if (pa && probes_array(pa, out, i) != 0)
			goto out;
		out->lat[i] = cell(r, (int)i, 6);
		out->lon[i] = cell(r, (int)i, 7);
	}
	rc = 0;
out:
	db_res_free(r);
	if (rc != 0)
		report_series_release(out);
	return rc;
}

void report_series_release(struct report_series *s)
{
	if (!s)
		return;
	free(s->t_us);
	free(s->lat);
	free(s->lon);
	for (int p = 0; p < REPORT_PROBES; p++)
		free(s->v[p]);
	memset(s, 0, sizeof(*s));
}
