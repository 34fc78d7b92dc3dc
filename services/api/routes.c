/*
 * routes: what each URL does. The table at the top is the API: the OpenAPI document
 * (services/api/openapi.json) is checked against it by tests/integration/test_api.sh.
 *
 * DESIGN. Authorisation lives in the database: every document function of sql/api.sql sets
 * the caller's organisation and role for its own statement (one round trip per request) and
 * row-level security hides what is not theirs, so a shipment of another organisation and a
 * shipment that does not exist are the same 404. C code that runs its own transactions
 * (qa.c, epcis_import) is wrapped in ct_api_enter/ct_api_leave, which set and clear the same
 * settings for the session. The C side only adds what the database cannot know: which roles
 * may act (qa, admin) or capture (admin), and input syntax (400 before any query).
 */
#include "routes.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "cache.h"
#include "db.h"
#include "epcis_import.h"
#include "gs1.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "provenance_page.h"
#include "qa.h"
#include "report.h"
#include "sign.h"
#include "trace.h"
#include "ts.h"

enum { R_PUBLIC = 1, R_ACT = 2, R_CAPTURE = 4, R_NODB = 8 };

struct call {
	struct api *api;
	struct http_req *req;
	struct db *db;
	const struct auth_user *user; /* NULL on public routes */
	const char *p[4];	      /* the pattern's {parameters}, in order */
};

typedef void (*route_fn)(struct call *c);

struct route {
	const char *method;
	const char *pattern;
	route_fn fn;
	unsigned flags;
	const char *label;
};

static void h_healthz(struct call *c);
static void h_metrics(struct call *c);
static void h_shipments(struct call *c);
static void h_shipment(struct call *c);
static void h_readings(struct call *c);
static void h_route(struct call *c);
static void h_shipment_qa(struct call *c);
static void h_shipment_audit(struct call *c);
static void h_shipment_act(struct call *c);
static void h_shipment_report(struct call *c);
static void h_excursions(struct call *c);
static void h_lot(struct call *c);
static void h_lot_trace(struct call *c);
static void h_lot_recall(struct call *c);
static void h_lot_report(struct call *c);
static void h_capture(struct call *c);
static void h_digital_link(struct call *c);

#define ROUTE(m, p, fn, fl) {m, p, fn, fl, m " " p}
static const struct route routes[] = {
	ROUTE("GET", "/healthz", h_healthz, R_PUBLIC),
	ROUTE("GET", "/metrics", h_metrics, R_PUBLIC),
	ROUTE("GET", "/v1/shipments", h_shipments, 0),
	ROUTE("GET", "/v1/shipments/{id}", h_shipment, 0),
	ROUTE("GET", "/v1/shipments/{id}/readings", h_readings, 0),
	ROUTE("GET", "/v1/shipments/{id}/route", h_route, 0),
	ROUTE("GET", "/v1/shipments/{id}/qa", h_shipment_qa, 0),
	ROUTE("GET", "/v1/shipments/{id}/audit", h_shipment_audit, 0),
	ROUTE("POST", "/v1/shipments/{id}/actions", h_shipment_act, R_ACT),
	ROUTE("GET", "/v1/shipments/{id}/report", h_shipment_report, 0),
	ROUTE("GET", "/v1/excursions", h_excursions, 0),
	ROUTE("GET", "/v1/lots/{gtin}/{lot}", h_lot, 0),
	ROUTE("GET", "/v1/lots/{gtin}/{lot}/trace", h_lot_trace, 0),
	ROUTE("GET", "/v1/lots/{gtin}/{lot}/recall", h_lot_recall, 0),
	ROUTE("GET", "/v1/lots/{gtin}/{lot}/report", h_lot_report, 0),
	ROUTE("POST", "/v1/epcis/capture", h_capture, R_CAPTURE),
	ROUTE("GET", "/01/{gtin}/10/{lot}", h_digital_link, R_PUBLIC),
};
#define NROUTES ((int)(sizeof(routes) / sizeof(routes[0])))

static const char *const json_type = "application/json; charset=utf-8";

int routes_count(void)
{
	return NROUTES;
}

const char *routes_label(int i)
{
	return i >= 0 && i < NROUTES ? routes[i].label : NULL;
}

/* ---- matching ------------------------------------------------------------------------- */

/* 1 when the path matches the pattern, with its parameters in p. */
static int match(const char *pattern, const struct http_req *req, const char **p)
{
	char buf[128];
	char *save = NULL, *tok;
	int i = 0, np = 0;

	snprintf(buf, sizeof(buf), "%s", pattern);
	for (tok = strtok_r(buf + 1, "/", &save); tok; tok = strtok_r(NULL, "/", &save), i++) {
		if (i >= req->nseg)
			return 0;
		if (tok[0] == '{') {
			if (req->seg[i][0] == '\0')
				return 0;
			p[np++] = req->seg[i];
		} else if (strcmp(tok, req->seg[i]) != 0) {
			return 0;
		}
	}
	return i == req->nseg;
}

/* ---- helpers -------------------------------------------------------------------------- */

static void db_failed(struct call *c)
{
	metrics_db_error(c->api->metrics);
	http_error(c->req, 500, "internal", "database error");
}

/* Runs a one-row, one-column statement whose value is a JSON document; NULL → 404. */
static void json_query(struct call *c, const char *sql, int n, const char *const *params,
		       const char *what)
{
	struct db_res *r = NULL;
	const char *v;

	if (db_exec(c->db, sql, n, params, &r) < 0) {
		const char *st = db_sqlstate(c->db);

		/* A value PostgreSQL refuses (a time out of range) is the client's. */
		if (strncmp(st, "22", 2) == 0)
			http_error(c->req, 400, "invalid", "a parameter is out of range");
		else
			db_failed(c);
		goto out;
	}
	v = db_res_rows(r) == 1 ? db_res_get(r, 0, 0) : NULL;
	if (!v) {
		char msg[160];

		snprintf(msg, sizeof(msg), "%s not found", what);
		http_error(c->req, 404, "not_found", msg);
		goto out;
	}
	http_set(c->req, 200, json_type, v, strlen(v));
out:
	db_res_free(r);
}

/* Hands a malloc'd document to the response. */
static void take(struct call *c, int status, const char *type, char *doc, size_t len)
{
	free(c->req->out);
	c->req->out = doc;
	c->req->out_len = len;
	c->req->status = status;
	c->req->content_type = type;
}

static int shipment_id_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* GTIN-8/12/13/14 with a correct check digit, normalised to 14 digits in out. */
static int gtin_norm(const char *s, char out[15])
{
	size_t n = strlen(s);

	if (n != 8 && n != 12 && n != 13 && n != 14)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	if (!gs1_check_digit_ok(s, n))
		return 0;
	memset(out, '0', 14 - n);
	memcpy(out + 14 - n, s, n + 1);
	return 1;
}

/* A lot (AI 10): 1-20 characters of GS1's CSET 82, as the lots table checks. */
static int lot_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 20)
		return 0;
	for (; *s; s++) {
		char ch = *s;

		if (!(ch == '!' || ch == '"' || (ch >= '%' && ch <= '?') || (ch >= 'A' && ch <= 'Z') ||
		      ch == '_' || (ch >= 'a' && ch <= 'z')))
			return 0;
	}
	return 1;
}

static int check_shipment(struct call *c)
{
	if (!shipment_id_ok(c->p[0])) {
		http_error(c->req, 404, "not_found", "shipment not found");
		return -1;
	}
	return 0;
}

static int check_lot(struct call *c, char gtin[15])
{
	if (!gtin_norm(c->p[0], gtin) || !lot_ok(c->p[1])) {
		http_error(c->req, 404, "not_found", "lot not found");
		return -1;
	}
	return 0;
}

/* A positive integer argument within [lo, hi], default def; -1 after a 400. */
static int int_arg(struct call *c, const char *name, long lo, long hi, long def, long *out)
{
	char buf[24], *end;
	int bad = 0;
	const char *v = http_arg(c->req, name, buf, sizeof(buf), &bad);
	long x;

	*out = def;
	if (!v && !bad)
		return 0;
	x = v ? strtol(v, &end, 10) : 0;
	if (bad || !v || *v == '\0' || *end != '\0' || x < lo || x > hi) {
		char msg[128];

		snprintf(msg, sizeof(msg), "%s must be an integer from %ld to %ld", name, lo, hi);
		http_error(c->req, 400, "invalid", msg);
		return -1;
	}
	*out = x;
	return 0;
}

/* An RFC 3339 time argument (NULL when absent); -1 after a 400. */
static int time_arg(struct call *c, const char *name, char *buf, size_t cap, const char **out)
{
	int64_t us;
	int bad = 0;
	const char *v = http_arg(c->req, name, buf, cap, &bad);

	*out = v;
	if (bad || (v && ts_parse_rfc3339(v, strlen(v), &us) < 0)) {
		char msg[128];

		snprintf(msg, sizeof(msg), "%s must be an RFC 3339 time with an offset", name);
		http_error(c->req, 400, "invalid", msg);
		return -1;
	}
	return 0;
}

static int bool_arg(struct call *c, const char *name, int *out)
{
	char buf[8];
	int bad = 0;
	const char *v = http_arg(c->req, name, buf, sizeof(buf), &bad);

	*out = 0;
	if (!v && !bad)
		return 0;
	if (v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)) {
		*out = 1;
		return 0;
	}
	if (v && (strcmp(v, "false") == 0 || strcmp(v, "0") == 0))
		return 0;
	http_error(c->req, 400, "invalid", "expected true or false");
	return -1;
}

/* The caller's settings for the session, around C code with its own transactions. */
static int enter(struct call *c)
{
	const char *p[2] = {c->user->org_text, c->user->role};

	if (db_exec(c->db, "SELECT coldtrace.ct_api_enter($1::bigint, $2)", 2, p, NULL) < 0) {
		db_failed(c);
		return -1;
	}
	return 0;
}

static void leave(struct call *c)
{
	if (db_exec(c->db, "SELECT coldtrace.ct_api_leave()", 0, NULL, NULL) < 0) {
		/* A fresh session holds no settings at all. */
		log_warn("api: could not clear the request settings; reconnecting");
		db_reset(c->db);
	}
}

static void qa_failed(struct call *c, const struct qa_err *e)
{
	switch (e->kind) {
	case QA_ERR_INVALID:
		http_error(c->req, 400, "invalid", e->message);
		break;
	case QA_ERR_NOT_FOUND:
		http_error(c->req, 404, "not_found", e->message);
		break;
	case QA_ERR_CONFLICT:
		http_error(c->req, 409, "conflict", e->message);
		break;
	default:
		/* Refused by row-level security: not theirs, so not there. */
		if (strcmp(db_sqlstate(c->db), "42501") == 0)
			http_error(c->req, 404, "not_found", "shipment not found");
		else
			db_failed(c);
	}
}

/* ---- health and metrics --------------------------------------------------------------- */

static void h_healthz(struct call *c)
{
	if (db_exec(c->db, "SELECT 1", 0, NULL, NULL) < 0) {
		metrics_db_error(c->api->metrics);
		http_error(c->req, 503, "unavailable", "database unreachable");
		return;
	}
	http_set(c->req, 200, json_type, "{\"status\":\"ok\"}\n", 16);
}

static void h_metrics(struct call *c)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	struct db_res *r = NULL;

	if (metrics_render(c->api->metrics, &buf, &len, &cap) < 0)
		goto fail;
	if (db_exec(c->db, "SELECT readings, open_dead_letters, last_commit_age_s "
			   "FROM coldtrace.ct_api_ingest_figures()", 0, NULL, &r) < 0) {
		metrics_db_error(c->api->metrics);
		if (metrics_append(&buf, &len, &cap, "coldtrace_api_db_up 0\n") < 0)
			goto fail;
	} else {
		const char *age = db_res_get(r, 0, 2);

		if (metrics_append(&buf, &len, &cap,
				   "coldtrace_api_db_up 1\n"
				   "# HELP coldtrace_ingest_readings Readings stored (live rows, "
				   "from the statistics collector).\n"
				   "# TYPE coldtrace_ingest_readings gauge\n"
				   "coldtrace_ingest_readings %s\n"
				   "# HELP coldtrace_ingest_dead_letters_open Dead letters not yet "
				   "resolved.\n# TYPE coldtrace_ingest_dead_letters_open gauge\n"
				   "coldtrace_ingest_dead_letters_open %s\n"
				   "# HELP coldtrace_ingest_last_commit_age_seconds Time since the "
				   "ingest last moved an ack.\n"
				   "# TYPE coldtrace_ingest_last_commit_age_seconds gauge\n"
				   "coldtrace_ingest_last_commit_age_seconds %s\n",
				   db_res_get(r, 0, 0), db_res_get(r, 0, 1), age ? age : "NaN") < 0)
			goto fail;
	}
	db_res_free(r);
	take(c, 200, "text/plain; version=0.0.4; charset=utf-8", buf, len);
	return;
fail:
	db_res_free(r);
	free(buf);
	http_error(c->req, 500, "internal", "out of memory");
}

/* ---- shipments ------------------------------------------------------------------------ */

static void h_shipments(struct call *c)
{
	static const char *const statuses[] = {"planned", "in_transit", "delivered", "cancelled",
					       NULL};
	char sbuf[16], lbuf[16], obuf[16];
	long limit, offset;
	int bad = 0, ok = 0;
	const char *status = http_arg(c->req, "status", sbuf, sizeof(sbuf), &bad);

	for (const char *const *s = statuses; status && *s; s++)
		ok |= strcmp(*s, status) == 0;
	if (bad || (status && !ok)) {
		http_error(c->req, 400, "invalid",
			   "status must be planned, in_transit, delivered or cancelled");
		return;
	}
	if (int_arg(c, "limit", 1, 1000, 100, &limit) < 0 ||
	    int_arg(c, "offset", 0, 100000000, 0, &offset) < 0)
		return;
	snprintf(lbuf, sizeof(lbuf), "%ld", limit);
	snprintf(obuf, sizeof(obuf), "%ld", offset);
	const char *p[5] = {c->user->org_text, c->user->role, status, lbuf, obuf};

	json_query(c, "SELECT coldtrace.ct_api_shipments($1::bigint, $2, $3, $4::int, $5::int)", 5,
		   p, "shipments");
}

static void h_shipment(struct call *c)
{
	if (check_shipment(c) < 0)
		return;
	const char *p[3] = {c->user->org_text, c->user->role, c->p[0]};

	json_query(c, "SELECT coldtrace.ct_api_shipment($1::bigint, $2, $3)", 3, p, "shipment");
}

static void h_readings(struct call *c)
{
	char fbuf[48], tbuf[48], nbuf[16];
	const char *from, *to;
	long points;

	if (check_shipment(c) < 0 || time_arg(c, "from", fbuf, sizeof(fbuf), &from) < 0 ||
	    time_arg(c, "to", tbuf, sizeof(tbuf), &to) < 0 ||
	    int_arg(c, "max_points", 2, 20000, 1000, &points) < 0)
		return;
	snprintf(nbuf, sizeof(nbuf), "%ld", points);
	const char *p[6] = {c->user->org_text, c->user->role, c->p[0], from, to, nbuf};

	json_query(c,
		   "SELECT coldtrace.ct_api_readings($1::bigint, $2, $3, $4::timestamptz, "
		   "$5::timestamptz, $6::int)",
		   6, p, "shipment");
}

static void h_route(struct call *c)
{
	char nbuf[16];
	long points;

	if (check_shipment(c) < 0 || int_arg(c, "max_points", 2, 20000, 1000, &points) < 0)
		return;
	snprintf(nbuf, sizeof(nbuf), "%ld", points);
	const char *p[4] = {c->user->org_text, c->user->role, c->p[0], nbuf};

	json_query(c, "SELECT coldtrace.ct_api_route($1::bigint, $2, $3, $4::int)", 4, p,
		   "shipment");
	if (c->req->status == 200)
		c->req->content_type = "application/geo+json";
}

typedef int (*qa_doc_fn)(struct db *, const char *, char **, struct qa_err *);

static void qa_document(struct call *c, qa_doc_fn fn)
{
	struct qa_err err = {0};
	char *doc = NULL;

	if (check_shipment(c) < 0 || enter(c) < 0)
		return;
	if (fn(c->db, c->p[0], &doc, &err) < 0)
		qa_failed(c, &err);
	else
		take(c, 200, json_type, doc, strlen(doc));
	leave(c);
}

static void h_shipment_qa(struct call *c)
{
	qa_document(c, qa_shipment_json);
}

static int audit_of(struct db *db, const char *shipment, char **out, struct qa_err *err)
{
	int found;
	struct db_res *r = NULL;

	/* qa_audit_json of an unknown shipment is an empty list; the API says 404. */
	if (db_exec(db, "SELECT 1 FROM coldtrace.shipments WHERE id = $1", 1, &shipment, &r) < 0) {
		err->kind = QA_ERR_DB;
		return -1;
	}
	found = db_res_rows(r) == 1;
	db_res_free(r);
	if (!found) {
		err->kind = QA_ERR_NOT_FOUND;
		snprintf(err->message, sizeof(err->message), "shipment not found");
		return -1;
	}
	return qa_audit_json(db, shipment, out, err);
}

static void h_shipment_audit(struct call *c)
{
	qa_document(c, audit_of);
}

static void h_shipment_act(struct call *c)
{
	struct db_res *r = NULL;
	struct qa_err err = {0};
	char *doc = NULL, *body = NULL;
	const char *target = NULL, *target_id = NULL;

	if (check_shipment(c) < 0)
		return;
	/* The body as text for PostgreSQL to parse: NUL-terminated, and no NUL inside. */
	body = malloc(c->req->body_len + 1);
	if (!body) {
		http_error(c->req, 500, "internal", "out of memory");
		return;
	}
	memcpy(body, c->req->body ? c->req->body : "", c->req->body_len);
	body[c->req->body_len] = '\0';
	if (strlen(body) != c->req->body_len) {
		http_error(c->req, 400, "invalid", "the body must be one JSON object");
		goto out;
	}
	const char *pb = body;

	if (db_exec(c->db,
		    "SELECT target, action, disposition, reason FROM coldtrace.ct_api_parse_action($1)",
		    1, &pb, &r) < 0) {
		db_failed(c);
		goto out;
	}
	if (db_res_rows(r) != 1) {
		http_error(c->req, 400, "invalid",
			   "the body must be one JSON object: {\"target\", \"action\", "
			   "\"disposition\", \"reason\"}");
		goto out;
	}
	if (!db_res_get(r, 0, 0) || qa_target_parse(db_res_get(r, 0, 0), &target, &target_id) < 0) {
		http_error(c->req, 400, "invalid",
			   "target must be excursion:N, gap:N, shipment or lot:GTIN/LOT");
		goto out;
	}
	struct qa_action a = {
		.shipment = c->p[0],
		.target = target,
		.target_id = target_id,
		.action = db_res_get(r, 0, 1),
		.disposition = db_res_get(r, 0, 2),
		.reason = db_res_get(r, 0, 3),
		.actor = c->user->name,
	};

	if (!a.action) {
		http_error(c->req, 400, "invalid", "action is required");
		goto out;
	}
	if (enter(c) < 0)
		goto out;
	if (qa_act(c->db, &a, &doc, &err) < 0)
		qa_failed(c, &err);
	else
		take(c, 201, json_type, doc, strlen(doc));
	leave(c);
out:
	db_res_free(r);
	free(body);
}

static void h_excursions(struct call *c)
{
	char sbuf[80];
	int bad = 0, all;
	struct qa_err err = {0};
	char *doc = NULL;
	const char *shipment = http_arg(c->req, "shipment", sbuf, sizeof(sbuf), &bad);

	if (bad || (shipment && !shipment_id_ok(shipment))) {
		http_error(c->req, 404, "not_found", "shipment not found");
		return;
	}
	if (bool_arg(c, "all", &all) < 0 || enter(c) < 0)
		return;
	if (qa_open_items_json(c->db, shipment, all, &doc, &err) < 0)
		qa_failed(c, &err);
	else
		take(c, 200, json_type, doc, strlen(doc));
	leave(c);
}

/* ---- documents (same code as the CLI) -------------------------------------------------- */

/* ?format=html|csv|epcis (default html), ?lang= for HTML: report_render, the CLI's code,
 * signed when report_key_file is set. */
static void report_download(struct call *c, const struct trace_scope *scope, const char *name)
{
	char fbuf[8], lbuf[16];
	int bad = 0;
	const char *fmt = http_arg(c->req, "format", fbuf, sizeof(fbuf), &bad);
	const char *lang = http_arg(c->req, "lang", lbuf, sizeof(lbuf), &bad);
	enum report_format f = REPORT_HTML;
	char *doc = NULL;
	size_t len = 0;
	int rc;

	if (bad || (fmt && report_format_parse(fmt, &f) < 0)) {
		http_error(c->req, 400, "invalid", "format must be html, csv or epcis");
		return;
	}
	if (lang && !report_lang_ok(lang)) {
		http_error(c->req, 400, "invalid", "lang must be en, zh-Hans or zh-Hant");
		return;
	}
	if (enter(c) < 0)
		return;
	rc = report_render(c->db, scope, f, lang ? lang : "en", c->api->have_key ? c->api->sk : NULL,
			   &doc, &len);
	leave(c);
	if (rc == 1) {
		http_error(c->req, 404, "not_found", "not found");
		goto out;
	}
	if (rc < 0) {
		db_failed(c);
		goto out;
	}
	snprintf(c->req->disposition, sizeof(c->req->disposition),
		 "attachment; filename=\"%s.%s\"", name, report_extension(f));
	take(c, 200, report_media_type(f), doc, len);
	doc = NULL;
out:
	free(doc);
}

static void h_shipment_report(struct call *c)
{
	struct trace_scope scope = {.shipment_id = c->p[0]};
	char name[80];
	size_t i;

	if (check_shipment(c) < 0)
		return;
	/* A file name of safe characters only. */
	snprintf(name, sizeof(name), "shipment-%s", c->p[0]);
	for (i = 0; name[i]; i++)
		if (!((name[i] >= 'A' && name[i] <= 'Z') || (name[i] >= 'a' && name[i] <= 'z') ||
		      (name[i] >= '0' && name[i] <= '9') || name[i] == '-' || name[i] == '_'))
			name[i] = '_';
	report_download(c, &scope, name);
}

static void h_lot_report(struct call *c)
{
	char gtin[15], name[64];
	struct trace_scope scope;

	if (check_lot(c, gtin) < 0)
		return;
	scope = (struct trace_scope){.gtin = gtin, .lot = c->p[1]};
	snprintf(name, sizeof(name), "lot-%s", gtin);
	report_download(c, &scope, name);
}

static void h_capture(struct call *c)
{
	struct epcis_import_stats st = {0};
	char err[512], doc[256];
	int rc;

	if (!c->req->body_len) {
		http_error(c->req, 400, "invalid", "expected an EPCIS 2.0 XML document");
		return;
	}
	if (enter(c) < 0)
		return;
	rc = epcis_importer_run(c->api->importer, c->db, c->req->body, c->req->body_len,
				"api-capture", &st, err, sizeof(err));
	if (rc < 0 && strcmp(db_sqlstate(c->db), "42501") == 0)
		snprintf(err, sizeof(err), "refused: the document touches data of another organisation");
	leave(c);
	if (rc < 0) {
		http_error(c->req, 400, "invalid", err);
		return;
	}
	int n = snprintf(doc, sizeof(doc),
			 "{\"events_new\":%ld,\"events_known\":%ld,\"vocab_elements\":%ld}\n",
			 st.events_new, st.events_known, st.vocab_elements);
	http_set(c->req, 201, json_type, doc, (size_t)n);
}

/* ---- lots ----------------------------------------------------------------------------- */

static void h_lot(struct call *c)
{
	char gtin[15];

	if (check_lot(c, gtin) < 0)
		return;
	const char *p[4] = {c->user->org_text, c->user->role, gtin, c->p[1]};

	json_query(c, "SELECT coldtrace.ct_api_lot($1::bigint, $2, $3, $4)", 4, p, "lot");
}

static void h_lot_trace(struct call *c)
{
	char gtin[15];

	if (check_lot(c, gtin) < 0)
		return;
	const char *p[4] = {c->user->org_text, c->user->role, gtin, c->p[1]};

	json_query(c, "SELECT coldtrace.ct_api_lot_trace($1::bigint, $2, $3, $4)", 4, p, "lot");
}

static void h_lot_recall(struct call *c)
{
	char gtin[15];
	int from_sources;

	if (check_lot(c, gtin) < 0 || bool_arg(c, "from_sources", &from_sources) < 0)
		return;
	const char *p[5] = {c->user->org_text, c->user->role, gtin, c->p[1],
			    from_sources ? "true" : "false"};

	json_query(c, "SELECT coldtrace.ct_api_lot_recall($1::bigint, $2, $3, $4, $5::boolean)", 5,
		   p, "lot");
}

/* ---- GS1 Digital Link ------------------------------------------------------------------ */

static const char *const xhtml_type = "application/xhtml+xml; charset=utf-8";

/* What a Digital Link request asks for: ?format=json|html|csv|epcis, else by Accept. */
enum dl_want { DL_PAGE, DL_JSON, DL_REPORT, DL_BAD };

static enum dl_want dl_want(struct call *c, enum report_format *f)
{
	char fbuf[8];
	int bad = 0;
	const char *fmt = http_arg(c->req, "format", fbuf, sizeof(fbuf), &bad);
	const char *accept = http_header(c->req, "Accept");

	if (bad)
		return DL_BAD;
	if (fmt) {
		if (strcmp(fmt, "json") == 0)
			return DL_JSON;
		return report_format_parse(fmt, f) == 0 ? DL_REPORT : DL_BAD;
	}
	/* JSON when the client asks for it and not for HTML. */
	return accept && strstr(accept, "json") && !strstr(accept, "text/html") &&
			       !strstr(accept, "xhtml")
		       ? DL_JSON
		       : DL_PAGE;
}

/* ?lang= when valid, else the first of en / zh-Hans / zh-Hant the browser prefers
 * (Accept-Language in order; zh-CN, zh-SG → Hans; zh-TW, zh-HK, zh-MO → Hant). */
static const char *page_lang(struct call *c)
{
	char lbuf[16];
	const char *l = http_arg(c->req, "lang", lbuf, sizeof(lbuf), NULL);
	const char *al = http_header(c->req, "Accept-Language");

	if (l && strcmp(l, "en") == 0)
		return "en";
	if (l && strcmp(l, "zh-Hans") == 0)
		return "zh-Hans";
	if (l && strcmp(l, "zh-Hant") == 0)
		return "zh-Hant";
	for (const char *p = al; p && *p;) {
		while (*p == ' ' || *p == ',')
			p++;
		if (strncasecmp(p, "zh-hant", 7) == 0 || strncasecmp(p, "zh-tw", 5) == 0 ||
		    strncasecmp(p, "zh-hk", 5) == 0 || strncasecmp(p, "zh-mo", 5) == 0)
			return "zh-Hant";
		if (strncasecmp(p, "zh", 2) == 0)
			return "zh-Hans";
		if (strncasecmp(p, "en", 2) == 0)
			return "en";
		p = strchr(p, ',');
	}
	return "en";
}

/* A file name of safe characters only: "lot-GTIN-LOT[-lang]". */
static void dl_file_name(const char *gtin, const char *lot, const char *lang, char *out,
			 size_t cap)
{
	snprintf(out, cap, "lot-%s-%s%s%s", gtin, lot, *lang ? "-" : "", lang);
	for (size_t i = 0; out[i]; i++)
		if (!((out[i] >= 'A' && out[i] <= 'Z') || (out[i] >= 'a' && out[i] <= 'z') ||
		      (out[i] >= '0' && out[i] <= '9') || out[i] == '-' || out[i] == '_'))
			out[i] = '_';
}

/* The lot's report as its owner's users download it (report_render, signed with
 * report_key_file when set), for a public lot only; through the public cache, so the page's
 * digest and the download are the same bytes. 0 with *doc (malloc'd) of *len bytes, 1 when
 * the lot is not public (or has no owner), -1 on a database error. */
static int public_report(struct call *c, const char *gtin, enum report_format f,
			 const char *lang, char **doc, size_t *len)
{
	char key[128], org[24];
	const char *p[2] = {gtin, c->p[1]};
	struct db_res *r = NULL;
	int status, rc;

	*doc = NULL;
	*len = 0;
	snprintf(key, sizeof(key), "report|%s|%s|%s|%s", report_extension(f),
		 f == REPORT_HTML ? lang : "", gtin, c->p[1]);
	if (cache_get(c->api->cache, key, doc, len, &status))
		return status == 200 ? 0 : 1;
	if (db_exec(c->db, "SELECT coldtrace.ct_api_public_lot_owner($1, $2)", 2, p, &r) < 0) {
		db_res_free(r);
		return -1;
	}
	if (db_res_rows(r) != 1 || !db_res_get(r, 0, 0)) {
		db_res_free(r);
		cache_put(c->api->cache, key, "", 0, 404);
		return 1;
	}
	snprintf(org, sizeof(org), "%s", db_res_get(r, 0, 0));
	db_res_free(r);

	const char *ep[2] = {org, "admin"};
	struct trace_scope scope = {.gtin = gtin, .lot = c->p[1]};

	if (db_exec(c->db, "SELECT coldtrace.ct_api_enter($1::bigint, $2)", 2, ep, NULL) < 0)
		return -1;
	rc = report_render(c->db, &scope, f, lang, c->api->have_key ? c->api->sk : NULL, doc, len);
	if (db_exec(c->db, "SELECT coldtrace.ct_api_leave()", 0, NULL, NULL) < 0) {
		log_warn("api: could not clear the request settings; reconnecting");
		db_reset(c->db);
	}
	if (rc == 0)
		cache_put(c->api->cache, key, *doc, *len, 200);
	else if (rc == 1)
		cache_put(c->api->cache, key, "", 0, 404);
	return rc;
}

/* GET /01/{gtin}/10/{lot}?format=html|csv|epcis[&lang=]: the public signed reports. */
static void dl_report(struct call *c, const char *gtin, enum report_format f)
{
	char lbuf[16], name[96];
	int bad = 0;
	const char *lang = http_arg(c->req, "lang", lbuf, sizeof(lbuf), &bad);
	char *doc = NULL;
	size_t len = 0;
	int rc;

	if (bad || (lang && !report_lang_ok(lang))) {
		http_error(c->req, 400, "invalid", "lang must be en, zh-Hans or zh-Hant");
		return;
	}
	if (!lang)
		lang = f == REPORT_HTML ? page_lang(c) : "en";
	rc = public_report(c, gtin, f, lang, &doc, &len);
	if (rc == 1) {
		http_error(c->req, 404, "not_found", "lot not found");
		return;
	}
	if (rc < 0) {
		db_failed(c);
		return;
	}
	dl_file_name(gtin, c->p[1], f == REPORT_HTML ? lang : "", name, sizeof(name));
	snprintf(c->req->disposition, sizeof(c->req->disposition),
		 "attachment; filename=\"%s.%s\"", name, report_extension(f));
	take(c, 200, report_media_type(f), doc, len);
	c->req->cache_control = "public, max-age=60";
}

/* The digest and key the page shows for its language's HTML report: the signature trailer's
 * fields when signed, else the SHA-256 of the whole file. 0, 1 when there is no report. */
static int page_signature(struct call *c, const char *gtin, const char *lang,
			  struct provenance_sig *sig)
{
	char *doc = NULL;
	size_t len = 0;
	int rc = public_report(c, gtin, REPORT_HTML, lang, &doc, &len);

	memset(sig, 0, sizeof(*sig));
	if (rc != 0)
		goto out;
	sig->have_report = 1;
	if (c->api->have_key) {
		struct sign_result res;

		sign_verify(doc, len, NULL, &res);
		if (res.status == SIGN_UNTRUSTED) {
			snprintf(sig->sha256_hex, sizeof(sig->sha256_hex), "%s", res.sha256_hex);
			snprintf(sig->key_b64, sizeof(sig->key_b64), "%s", res.key_b64);
			sig->signed_ = 1;
			goto out;
		}
		log_warn("api: the signed report of %s/%s does not verify: %s", gtin, c->p[1],
			 res.message);
	}
	unsigned char d[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(d, (const unsigned char *)doc, len);
	sodium_bin2hex(sig->sha256_hex, sizeof(sig->sha256_hex), d, sizeof(d));
out:
	free(doc);
	return rc;
}

static void h_digital_link(struct call *c)
{
	char gtin[15], key[96], *doc = NULL;
	size_t len = 0;
	int status, json;
	const char *lang;
	enum report_format f = REPORT_HTML;
	enum dl_want want;

	c->req->vary = "Accept, Accept-Language";
	if (check_lot(c, gtin) < 0)
		return;
	want = dl_want(c, &f);
	if (want == DL_BAD) {
		http_error(c->req, 400, "invalid", "format must be json, html, csv or epcis");
		return;
	}
	if (want == DL_REPORT) {
		dl_report(c, gtin, f);
		return;
	}
	json = want == DL_JSON;
	lang = json ? "" : page_lang(c);
	snprintf(key, sizeof(key), "%s|%s|%s|%s", json ? "json" : "html", lang, gtin, c->p[1]);
	if (cache_get(c->api->cache, key, &doc, &len, &status)) {
		take(c, status, json ? json_type : xhtml_type, doc, len);
		if (status != 200)
			c->req->content_type = json_type;
		else
			c->req->cache_control = "public, max-age=60";
		return;
	}
	if (json) {
		const char *p[2] = {gtin, c->p[1]};

		json_query(c, "SELECT coldtrace.ct_api_public_lot($1, $2)", 2, p, "lot");
	} else {
		struct provenance_sig sig;
		int rc = page_signature(c, gtin, lang, &sig);

		if (rc >= 0)
			rc = provenance_page(c->db, gtin, c->p[1], lang, &sig, &doc, &len);
		if (rc == 0)
			take(c, 200, xhtml_type, doc, len);
		else if (rc == 1)
			http_error(c->req, 404, "not_found", "lot not found");
		else
			db_failed(c);
	}
	if (c->req->status == 200 || c->req->status == 404)
		cache_put(c->api->cache, key, c->req->out, c->req->out_len, c->req->status);
	if (c->req->status == 200)
		c->req->cache_control = "public, max-age=60";
}

/* ---- dispatch ------------------------------------------------------------------------- */

void routes_handle(void *ctx, struct http_req *req)
{
	struct api *api = ctx;
	struct auth_user user;
	struct call c = {.api = api, .req = req};
	int idx = -1, path_matched = 0;

	if (req->bad_path) {
		http_error(req, 400, "invalid", "malformed path");
		goto done;
	}
	for (int i = 0; i < NROUTES; i++) {
		const char *p[4] = {NULL};

		if (!match(routes[i].pattern, req, p))
			continue;
		path_matched = 1;
		if (strcmp(routes[i].method, req->method) != 0 &&
		    !(strcmp(req->method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0)) {
			snprintf(req->allow, sizeof(req->allow), "%s", routes[i].method);
			continue;
		}
		idx = i;
		memcpy(c.p, p, sizeof(p));
		break;
	}
	if (idx < 0) {
		if (path_matched)
			http_error(req, 405, "method_not_allowed", "method not allowed");
		else
			http_error(req, 404, "not_found", "no such resource");
		goto done;
	}
	if (req->body_too_large) {
		http_error(req, 413, "too_large", "request body too large");
		goto done;
	}
	if (strcmp(routes[idx].method, "GET") == 0 && req->body_len > 0) {
		http_error(req, 400, "invalid", "a GET request takes no body");
		goto done;
	}
	c.db = pool_get(api->pool);
	if (!c.db) {
		metrics_db_error(api->metrics);
		http_error(req, 503, "unavailable", "database unavailable");
		goto done;
	}
	if (!(routes[idx].flags & R_PUBLIC)) {
		int rc = auth_check(api->auth, c.db, http_header(req, "Authorization"), &user);

		if (rc == AUTH_DB) {
			metrics_db_error(api->metrics);
			http_error(req, 503, "unavailable", "database unavailable");
			goto release;
		}
		if (rc != AUTH_OK) {
			http_error(req, 401, "unauthorized", "a valid bearer token is required");
			goto release;
		}
		c.user = &user;
		if ((routes[idx].flags & R_ACT) && strcmp(user.role, "qa") != 0 &&
		    strcmp(user.role, "admin") != 0) {
			http_error(req, 403, "forbidden", "only qa and admin users act on shipments");
			goto release;
		}
		if ((routes[idx].flags & R_CAPTURE) && strcmp(user.role, "admin") != 0) {
			http_error(req, 403, "forbidden", "only admin users capture EPCIS documents");
			goto release;
		}
	}
	routes[idx].fn(&c);
release:
	pool_put(api->pool, c.db);
done:
	if (!req->status)
		http_error(req, 500, "internal", "no response");
	metrics_request(api->metrics, idx, req->status,
			(double)(http_now_us() - req->started_us) / 1e6);
}
