/*
 * trace: what every program needs to name a lot and ask for its trace or recall: lot
 * arguments (GTIN/LOT or a GS1 Digital Link URI) checked and normalised, and the documents
 * of sql/trace.sql fetched as JSON text. The walks themselves are SQL (ct_trace_lot_set):
 * one round trip per document, whatever the depth of the lot's history.
 */
#include "text.h"
#include "trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "gs1.h"

static const char *const sql_trace = "SELECT coldtrace.ct_trace($1, $2)::text";
static const char *const sql_lot =
	"SELECT (l.j || jsonb_build_object('events', coalesce((SELECT jsonb_agg("
	"          coldtrace.ct_event_json(x.id) ORDER BY e.event_time, x.id)"
	"        FROM coldtrace.ct_lot_event_ids($1, $2) x(id)"
	"        JOIN coldtrace.trace_events e ON e.id = x.id), '[]')))::text"
	"  FROM coldtrace.ct_lot_json($1, $2) l(j) WHERE l.j IS NOT NULL";
static const char *const sql_recall_lot =
	"SELECT coldtrace.ct_recall_lot($1, $2, $3::boolean)::text";
static const char *const sql_recall_farm =
	"SELECT coldtrace.ct_recall_farm($1, $2::date, $3::date)::text";

static int is_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return n > 0;
}

int trace_gtin_normalise(const char *in, char out[15])
{
	size_t n = strlen(in);

	if ((n != 8 && n != 12 && n != 13 && n != 14) || !is_digits(in, n) ||
	    !gs1_check_digit_ok(in, n))
		return -1;
	memset(out, '0', 14 - n);
	memcpy(out + 14 - n, in, n);
	out[14] = '\0';
	return 0;
}

/* GS1 AI encodable character set 82: ! " % & ' ( ) * + , - . / 0-9 : ; < = > ? A-Z _ a-z. */
static int cset82(unsigned char c)
{
	return c == '!' || c == '"' || (c >= '%' && c <= '?') || (c >= 'A' && c <= 'Z') ||
	       c == '_' || (c >= 'a' && c <= 'z');
}

int trace_lot_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 20)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!cset82((unsigned char)s[i]))
			return 0;
	return 1;
}

static void say(char *why, size_t cap, const char *msg)
{
	if (why && cap)
		snprintf(why, cap, "%s", msg);
}

/* The Digital Link form: "http(s)://host[/prefix…]/01/GTIN/10/LOT[/…][?…][#…]". */
static int parse_digital_link(const char *arg, char gtin[15], char *lot, size_t lotcap,
			      char *why, size_t whycap)
{
	const char *p = strstr(arg, "://"), *end, *seg[64];
	size_t len[64];
	int nseg = 0, i;
	char raw[64];

	p = strchr(p + 3, '/');
	if (!p) {
		say(why, whycap, "a Digital Link URI needs a path /01/GTIN/10/LOT");
		return -1;
	}
	end = p + strcspn(p, "?#");
	while (p < end && nseg < 64) {
		const char *s = p + 1, *e = memchr(s, '/', (size_t)(end - s));

		if (!e)
			e = end;
		seg[nseg] = s;
		len[nseg++] = (size_t)(e - s);
		p = e;
	}
	/* The primary key is the last "01" followed by a GTIN: a path prefix may come first. */
	for (i = nseg - 4; i >= 0; i--)
		if (len[i] == 2 && memcmp(seg[i], "01", 2) == 0 && len[i + 2] == 2 &&
		    memcmp(seg[i + 2], "10", 2) == 0)
			break;
	if (i < 0) {
		say(why, whycap, "a Digital Link URI of a lot has /01/GTIN/10/LOT in its path");
		return -1;
	}
	if (len[i + 1] >= sizeof(raw) ||
	    text_pct_decode(seg[i + 1], len[i + 1], raw, sizeof(raw), NULL) < 0 ||
	    trace_gtin_normalise(raw, gtin) < 0) {
		say(why, whycap, "the GTIN (AI 01) is not 8, 12, 13 or 14 digits with a valid GS1 "
				 "check digit");
		return -1;
	}
	if (text_pct_decode(seg[i + 3], len[i + 3], lot, lotcap, NULL) < 0 || !trace_lot_ok(lot)) {
		say(why, whycap, "the lot (AI 10) must be 1-20 characters of GS1's CSET 82");
		return -1;
	}
	return 0;
}

int trace_parse_lot(const char *arg, char gtin[15], char *lot, size_t lotcap, char *why,
		    size_t whycap)
{
	const char *slash;
	char g[16];
	size_t n;

	if (!arg || !*arg) {
		say(why, whycap, "empty lot: expected GTIN/LOT or a Digital Link URI");
		return -1;
	}
	if (strncmp(arg, "https://", 8) == 0 || strncmp(arg, "http://", 7) == 0)
		return parse_digital_link(arg, gtin, lot, lotcap, why, whycap);
	slash = strchr(arg, '/');
	if (!slash) {
		say(why, whycap, "expected GTIN/LOT (e.g. 19521234000010/GZ240501A) or a Digital "
				 "Link URI");
		return -1;
	}
	n = (size_t)(slash - arg);
	if (n >= sizeof(g)) {
		say(why, whycap, "the GTIN is not 8, 12, 13 or 14 digits");
		return -1;
	}
	memcpy(g, arg, n);
	g[n] = '\0';
	if (trace_gtin_normalise(g, gtin) < 0) {
		say(why, whycap, is_digits(g, n) && (n == 8 || n == 12 || n == 13 || n == 14)
					 ? "the GTIN's GS1 check digit is wrong"
					 : "the GTIN is not 8, 12, 13 or 14 digits");
		return -1;
	}
	if (strlen(slash + 1) >= lotcap || !trace_lot_ok(slash + 1)) {
		say(why, whycap, "the lot must be 1-20 characters of GS1's CSET 82 (letters, digits "
				 "and !\"%&'()*+,-./:;<=>?_)");
		return -1;
	}
	memcpy(lot, slash + 1, strlen(slash + 1) + 1);
	return 0;
}

int trace_split_qty(const char *arg, char *buf, size_t bufcap, const char **item,
		    const char **qty)
{
	size_t n = strlen(arg);
	char *colon;
	int digits = 0, dot = 0;

	if (n + 1 > bufcap)
		return -1;
	memcpy(buf, arg, n + 1);
	*item = buf;
	*qty = NULL;
	colon = strrchr(buf, ':');
	if (!colon || colon[1] == '\0')
		return 0;
	for (const char *p = colon + 1; *p; p++) {
		if (*p >= '0' && *p <= '9')
			digits++;
		else if (*p == '.' && !dot)
			dot = 1;
		else
			return 0;
	}
	if (digits == 0 || digits > 18 || colon[1] == '.' || colon[strlen(colon) - 1] == '.')
		return 0;
	*colon = '\0';
	*qty = colon + 1;
	return 0;
}

int trace_tz_offset(const char *s, char out[7])
{
	size_t n = strlen(s);
	const char *o;

	if (n >= 1 && (s[n - 1] == 'Z' || s[n - 1] == 'z')) {
		memcpy(out, "+00:00", 7);
		return 0;
	}
	if (n < 6)
		return -1;
	o = s + n - 6;
	if ((o[0] != '+' && o[0] != '-') || !is_digits(o + 1, 2) || o[3] != ':' ||
	    !is_digits(o + 4, 2))
		return -1;
	memcpy(out, o, 6);
	out[6] = '\0';
	return 0;
}

/* Runs sql (one text column, at most one row) into a malloc'd copy. */
static int fetch(struct db *db, const char *sql, int n, const char *const *params,
		 char **json_out)
{
	struct db_res *r = NULL;
	const char *v;
	int rc = -1;

	*json_out = NULL;
	if (db_exec(db, sql, n, params, &r) < 0)
		goto out;
	v = db_res_rows(r) > 0 ? db_res_get(r, 0, 0) : NULL;
	if (!v) {
		rc = TRACE_NOT_FOUND;
		goto out;
	}
	*json_out = strdup(v);
	rc = *json_out ? 0 : -1;
out:
	db_res_free(r);
	return rc;
}

int trace_fetch_trace(struct db *db, const char *gtin, const char *lot, char **json_out)
{
	const char *params[2] = {gtin, lot};

	return fetch(db, sql_trace, 2, params, json_out);
}

int trace_fetch_lot(struct db *db, const char *gtin, const char *lot, char **json_out)
{
	const char *params[2] = {gtin, lot};

	return fetch(db, sql_lot, 2, params, json_out);
}

int trace_fetch_recall_lot(struct db *db, const char *gtin, const char *lot, int from_sources,
			   char **json_out)
{
	const char *params[3] = {gtin, lot, from_sources ? "true" : "false"};

	return fetch(db, sql_recall_lot, 3, params, json_out);
}

int trace_fetch_recall_farm(struct db *db, const char *farm_gln, const char *from,
			    const char *to, char **json_out)
{
	const char *params[3] = {farm_gln, from, to};

	return fetch(db, sql_recall_farm, 3, params, json_out);
}
