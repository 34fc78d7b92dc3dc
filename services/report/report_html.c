/*
 * report_html: the buyer's report of a lot or a shipment as one self-contained XHTML document
 * (UTF-8, inline CSS, inline SVG; no scripts, fonts, images or links to fetch): what the lot
 * is, its farm and certifications, its custody timeline, and per transport leg the cold-chain
 * figures, a temperature chart, a route map and the excursions with their QA decisions.
 *
 * DESIGN. Data comes from report_data (one JSON of ct_report_data, one readings query per
 * leg); the document is built with the libxml2 tree API and serialised once. The output is a
 * pure function of the data: times shown are the data's (the "data as of" time is the latest
 * time in it), so the same data gives the same bytes in every run, which the golden-file
 * tests rely on. Buyer safety is the SQL's job (no personal data reaches the JSON); nothing
 * here reads any other table.
 */
#include "report_html.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "config.h"
#include "decimate.h"
#include "log.h"
#include "report_data.h"
#include "report_i18n.h"
#include "report_svg.h"
#include "trace.h"
#include "ts.h"

#define XHTML_NS "http://www.w3.org/1999/xhtml"
#define TZ_OFFSET_S (8 * 3600) /* Asia/Shanghai: UTC+08:00 all year */
#define CHART_BUCKETS 500      /* ≤ 2 000 points per probe, plus excursions */

static const char css[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI','Noto Sans CJK SC','Noto Sans CJK TC',"
    "'PingFang SC','Microsoft YaHei',sans-serif;margin:0;padding:0 12px 24px;color:#1d2430;"
    "background:#fff;line-height:1.45}"
    "main{max-width:1000px;margin:0 auto}"
    "header{border-bottom:3px solid #1f5fbf;margin-bottom:12px;padding:12px 0 6px}"
    "h1{font-size:1.5em;margin:0 0 4px}h2{font-size:1.2em;margin:22px 0 8px;"
    "border-bottom:1px solid #d5dbe3;padding-bottom:3px}h3{font-size:1.05em;margin:16px 0 6px}"
    ".sub{color:#4a5566;margin:0}"
    "dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:3px 14px;margin:6px 0}"
    "dl.kv dt{color:#4a5566}dl.kv dd{margin:0;font-weight:500}"
    "table{border-collapse:collapse;width:100%;font-size:.92em;margin:6px 0}"
    "th,td{border-bottom:1px solid #e3e7ed;padding:4px 6px;text-align:left;vertical-align:top}"
    "th{background:#f3f6f9;font-weight:600}"
    ".scroll{overflow-x:auto}td.t{white-space:nowrap}"
    "svg{width:100%;height:auto;display:block;margin:6px 0;font-size:12px}"
    "svg text{font-family:inherit;fill:#1d2430}svg .title{font-weight:600;font-size:13px}"
    "svg .axis{fill:#4a5566;font-size:11px}svg .grid path{stroke:#e3e7ed;stroke-width:1}"
    "svg .frame{stroke:#9aa5b4;stroke-width:1}svg .ticks text{font-size:11px;fill:#4a5566}"
    "svg .graticule{stroke:#d3dde6;stroke-width:1;fill:none}"
    "svg .label{font-size:12px;font-weight:600}"
    ".sev-warning{color:#a35f00}.sev-major,.sev-critical{color:#b3261e;font-weight:600}"
    ".ok{color:#2e7d32}.muted{color:#6b7685}"
    "ul.qa{margin:0;padding-left:1.1em}"
    "footer{margin-top:24px;font-size:.85em;color:#4a5566;border-top:1px solid #d5dbe3}"
    "@media (max-width:600px){body{padding:0 6px 16px}h1{font-size:1.25em}"
    "dl.kv{grid-template-columns:1fr}dl.kv dd{margin-bottom:4px}table{font-size:.85em;"
    "min-width:560px}.fig svg{min-width:680px}}";

struct ctx {
	struct report_data *d;
	struct db *db;
	enum report_lang lang;
	xmlDocPtr doc;
	xmlNsPtr ns;
	bool oom;
	int64_t max_gap_us;
};

static const char *L(const struct ctx *c, const char *key)
{
	return report_i18n_get(c->lang, key);
}

static xmlNodePtr el(struct ctx *c, xmlNodePtr parent, const char *name, const char *text)
{
	xmlNodePtr n = xmlNewDocNode(c->doc, c->ns, BAD_CAST name, NULL);

	if (!n) {
		c->oom = true;
		return NULL;
	}
	if (text && *text) {
		xmlNodePtr t = xmlNewDocText(c->doc, BAD_CAST text);
		if (!t || !xmlAddChild(n, t)) {
			xmlFreeNode(t);
			c->oom = true;
		}
	}
	if (parent && !xmlAddChild(parent, n)) {
		xmlFreeNode(n);
		c->oom = true;
		return NULL;
	}
	return n;
}

static xmlNodePtr elf(struct ctx *c, xmlNodePtr parent, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static xmlNodePtr elf(struct ctx *c, xmlNodePtr parent, const char *name, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return el(c, parent, name, buf);
}

static void attr(struct ctx *c, xmlNodePtr n, const char *name, const char *v)
{
	if (n && v && !xmlNewProp(n, BAD_CAST name, BAD_CAST v))
		c->oom = true;
}

static void adopt(struct ctx *c, xmlNodePtr parent, xmlNodePtr child)
{
	if (!child)
		return;
	xmlSetTreeDoc(child, c->doc);
	if (!xmlAddChild(parent, child)) {
		xmlFreeNode(child);
		c->oom = true;
	}
}

/* A box for a chart or map that scrolls sideways on a phone instead of shrinking the
 * picture's text below reading size. */
static xmlNodePtr figure_box(struct ctx *c, xmlNodePtr parent)
{
	xmlNodePtr d = el(c, parent, "div", NULL);

	attr(c, d, "class", "scroll fig");
	return d ? d : parent;
}

/* ---- formatting ------------------------------------------------------------------------ */

static int64_t parse_time(const char *s)
{
	int64_t us = 0;
	return s && ts_parse_rfc3339(s, strlen(s), &us) == 0 ? us : 0;
}

static void local_time(const char *iso, char *out, size_t cap)
{
	int64_t us = parse_time(iso);

	if (!iso || !us) {
		snprintf(out, cap, "–");
		return;
	}
	report_svg_local_time(us, TZ_OFFSET_S, out, cap);
}

static void temp(double v, char *out, size_t cap)
{
	if (isnan(v))
		snprintf(out, cap, "–");
	else
		snprintf(out, cap, "%.1f °C", v);
}

static void duration(const struct ctx *c, double s, char *out, size_t cap)
{
	long long m = isfinite(s) ? llround(s / 60.0) : 0;

	if (m >= 60)
		snprintf(out, cap, "%lld %s %lld %s", m / 60, L(c, "unit.h"), m % 60,
			 L(c, "unit.min"));
	else
		snprintf(out, cap, "%lld %s", m, L(c, "unit.min"));
}

/* "Name (GLN 697…), address, city, region, country" */
static void site_text(const struct ctx *c, int site, char *out, size_t cap)
{
	const char *name = report_str(c->d, site, "name"), *gln = report_str(c->d, site, "gln");
	const char *parts[4] = {report_str(c->d, site, "address"), report_str(c->d, site, "city"),
				report_str(c->d, site, "region"),
				report_str(c->d, site, "country")};
	size_t at;

	if (site < 0) {
		snprintf(out, cap, "–");
		return;
	}
	at = (size_t)snprintf(out, cap, "%s%s%s%s", name ? name : "", name ? " (" : "",
			      gln ? gln : "", name ? ")" : "");
	for (int i = 0; i < 4 && at < cap; i++)
		if (parts[i] && *parts[i])
			at += (size_t)snprintf(out + at, cap - at, ", %s", parts[i]);
}

/* "address, city, region, country" of a site. */
static void address_text(const struct ctx *c, int site, char *out, size_t cap)
{
	static const char *const keys[] = {"address", "city", "region", "country"};
	size_t at = 0;

	out[0] = '\0';
	for (int i = 0; i < 4 && at < cap; i++) {
		const char *v = report_str(c->d, site, keys[i]);
		if (v && *v)
			at += (size_t)snprintf(out + at, cap - at, "%s%s", at ? ", " : "", v);
	}
}

static void kv(struct ctx *c, xmlNodePtr dl, const char *key, const char *value)
{
	if (!value || !*value)
		return;
	el(c, dl, "dt", L(c, key));
	el(c, dl, "dd", value);
}

static xmlNodePtr table(struct ctx *c, xmlNodePtr parent, const char *const *heads, int n)
{
	xmlNodePtr wrap = el(c, parent, "div", NULL), t, tr;

	attr(c, wrap, "class", "scroll");
	t = el(c, wrap, "table", NULL);
	tr = el(c, el(c, t, "thead", NULL), "tr", NULL);
	for (int i = 0; i < n; i++)
		el(c, tr, "th", L(c, heads[i]));
	return el(c, t, "tbody", NULL);
}

/* ---- sections -------------------------------------------------------------------------- */

static void summary(struct ctx *c, xmlNodePtr main)
{
	int lot = report_node(c->d, 0, "lot"), com = report_node(c->d, 0, "commodity");
	int scope = report_node(c->d, 0, "scope");
	const char *ship = report_str(c->d, scope, "shipment");
	const char *desc = report_str(c->d, lot, "description");
	xmlNodePtr header = el(c, main, "header", NULL), dl;
	char buf[512], a[40], b[40];

	el(c, header, "h1", L(c, ship ? "title.shipment" : "title"));
	if (lot >= 0)
		elf(c, header, "p", "%s%s%s · %s %s/%s", desc ? desc : "", desc ? " " : "", "",
		    L(c, "tlc"), report_str(c->d, lot, "gtin"), report_str(c->d, lot, "lot"));
	if (ship)
		elf(c, header, "p", "%s %s", L(c, "shipment"), ship);
	local_time(report_str(c->d, 0, "generated_at"), a, sizeof(a));
	elf(c, header, "p", "%s %s (UTC+08:00)", L(c, "generated"), a);
	if (header && header->children)
		attr(c, header->children->next, "class", "sub");

	el(c, main, "h2", L(c, "summary"));
	dl = el(c, main, "dl", NULL);
	attr(c, dl, "class", "kv");
	if (lot >= 0) {
		kv(c, dl, "product", desc);
		snprintf(buf, sizeof(buf), "%s / %s", report_str(c->d, lot, "gtin"),
			 report_str(c->d, lot, "lot"));
		kv(c, dl, "tlc", buf);
		if (report_str(c->d, lot, "quantity")) {
			const char *u = report_str(c->d, lot, "uom");
			snprintf(buf, sizeof(buf), "%s %s", report_str(c->d, lot, "quantity"),
				 u ? u : "");
			kv(c, dl, "quantity", buf);
		}
	}
	if (com >= 0) {
		snprintf(buf, sizeof(buf), "%s",
			 report_str(c->d, com, c->lang == REPORT_LANG_EN ? "name_en" : "name_zh"));
		kv(c, dl, "commodity", buf);
		snprintf(buf, sizeof(buf), "%.1f … %.1f °C (%s %.1f °C)",
			 report_num(c->d, com, "temp_min_c"), report_num(c->d, com, "temp_max_c"),
			 c->lang == REPORT_LANG_EN ? "optimum" : "最适",
			 report_num(c->d, com, "temp_opt_c"));
		if (c->lang == REPORT_LANG_ZH_HANT)
			snprintf(buf, sizeof(buf), "%.1f … %.1f °C（最適 %.1f °C）",
				 report_num(c->d, com, "temp_min_c"),
				 report_num(c->d, com, "temp_max_c"),
				 report_num(c->d, com, "temp_opt_c"));
		else if (c->lang == REPORT_LANG_ZH_HANS)
			snprintf(buf, sizeof(buf), "%.1f … %.1f °C（最适 %.1f °C）",
				 report_num(c->d, com, "temp_min_c"),
				 report_num(c->d, com, "temp_max_c"),
				 report_num(c->d, com, "temp_opt_c"));
		kv(c, dl, "band", buf);
		snprintf(buf, sizeof(buf), "%s %s", report_str(c->d, com, "storage_life_days"),
			 L(c, "unit.days"));
		kv(c, dl, "storage_life", buf);
	}
	/* Harvest of the raw lot the packed lot was made from (or of the lot itself). */
	for (int l = report_first(c->d, report_node(c->d, 0, "lots")); l >= 0;
	     l = report_next(c->d, report_node(c->d, 0, "lots"), l)) {
		if (!report_str(c->d, l, "harvest_start"))
			continue;
		local_time(report_str(c->d, l, "harvest_start"), a, sizeof(a));
		local_time(report_str(c->d, l, "harvest_end"), b, sizeof(b));
		snprintf(buf, sizeof(buf), "%s – %s", a, strncmp(a, b, 10) == 0 ? b + 11 : b);
		kv(c, dl, "harvest", buf);
		kv(c, dl, "field", report_str(c->d, l, "field"));
		break;
	}
	if (lot >= 0) {
		kv(c, dl, "best_before", report_str(c->d, lot, "best_before"));
		kv(c, dl, "origin_country", report_str(c->d, lot, "country"));
	}
}

static void lots(struct ctx *c, xmlNodePtr main)
{
	static const char *const heads[] = {"tlc", "product", "quantity", "harvest", "field"};
	int arr = report_node(c->d, 0, "lots");
	xmlNodePtr body;

	if (report_len(c->d, arr) < 2)
		return;
	el(c, main, "h2", L(c, "lots"));
	body = table(c, main, heads, 5);
	for (int l = report_first(c->d, arr); l >= 0; l = report_next(c->d, arr, l)) {
		xmlNodePtr tr = el(c, body, "tr", NULL);
		const char *q = report_str(c->d, l, "quantity"), *u = report_str(c->d, l, "uom");
		char a[40];
		elf(c, tr, "td", "%s/%s (%s)", report_str(c->d, l, "gtin"),
		    report_str(c->d, l, "lot"),
		    L(c, report_num(c->d, l, "depth") == 0 ? "depth.0" : "depth.n"));
		el(c, tr, "td", report_str(c->d, l, "description"));
		elf(c, tr, "td", "%s %s", q ? q : "", u ? u : "");
		if (report_str(c->d, l, "harvest_start"))
			local_time(report_str(c->d, l, "harvest_start"), a, sizeof(a));
		else
			a[0] = '\0';
		el(c, tr, "td", a);
		el(c, tr, "td", report_str(c->d, l, "field"));
	}
}

static void farm(struct ctx *c, xmlNodePtr main)
{
	static const char *const rh[] = {"scheme", "number"};
	static const char *const ch[] = {"scheme", "number", "issuer", "valid"};
	int f = report_node(c->d, 0, "farm");
	xmlNodePtr dl, body;
	char buf[512];

	if (f < 0)
		return;
	el(c, main, "h2", L(c, "farm"));
	dl = el(c, main, "dl", NULL);
	attr(c, dl, "class", "kv");
	snprintf(buf, sizeof(buf), "%s",
		 report_str(c->d, f, "name") ? report_str(c->d, f, "name") : "");
	kv(c, dl, "farm.name", buf);
	kv(c, dl, "gln", report_str(c->d, f, "gln"));
	address_text(c, f, buf, sizeof(buf));
	kv(c, dl, "address", buf);
	if (report_len(c->d, report_node(c->d, f, "registrations"))) {
		int arr = report_node(c->d, f, "registrations");
		el(c, main, "h3", L(c, "registrations"));
		body = table(c, main, rh, 2);
		for (int r = report_first(c->d, arr); r >= 0; r = report_next(c->d, arr, r)) {
			xmlNodePtr tr = el(c, body, "tr", NULL);
			el(c, tr, "td",
			   report_i18n_code(c->lang, "scheme", report_str(c->d, r, "scheme")));
			el(c, tr, "td", report_str(c->d, r, "ident"));
		}
	}
	if (report_len(c->d, report_node(c->d, f, "certifications"))) {
		int arr = report_node(c->d, f, "certifications");
		el(c, main, "h3", L(c, "certifications"));
		body = table(c, main, ch, 4);
		for (int r = report_first(c->d, arr); r >= 0; r = report_next(c->d, arr, r)) {
			xmlNodePtr tr = el(c, body, "tr", NULL);
			const char *vf = report_str(c->d, r, "valid_from"),
				   *vt = report_str(c->d, r, "valid_to");
			el(c, tr, "td", report_str(c->d, r, "scheme"));
			el(c, tr, "td", report_str(c->d, r, "number"));
			el(c, tr, "td", report_str(c->d, r, "issuer"));
			elf(c, tr, "td", "%s – %s", vf ? vf : "", vt ? vt : "");
		}
	}
}

static const char *event_label(const struct ctx *c, int e)
{
	const char *cte = report_str(c->d, e, "cte"), *step = report_str(c->d, e, "biz_step");

	if (cte)
		return report_i18n_code(c->lang, "cte", cte);
	if (step)
		return report_i18n_code(c->lang, "step", step);
	return L(c, "step.other");
}

/* A transformation is recorded once, on the lot it made; the lots it used appear as its
 * inputs ("made from"), not as rows of their own. */
static bool consumed(const struct report_data *d, int e)
{
	const char *cte = report_str(d, e, "cte"), *role = report_str(d, e, "role");

	return cte && role && !strcmp(role, "input") &&
	       (!strcmp(cte, "initial_packing") || !strcmp(cte, "transformation"));
}

static void custody(struct ctx *c, xmlNodePtr main)
{
	static const char *const heads[] = {"time", "event",	"location", "from",
					    "to",   "quantity", "vehicle",  "documents"};
	int arr = report_node(c->d, 0, "events");
	const char *main_lot = report_str(c->d, report_node(c->d, 0, "lot"), "lot");
	xmlNodePtr body;

	el(c, main, "h2", L(c, "custody"));
	body = table(c, main, heads, 8);
	for (int e = report_first(c->d, arr); e >= 0; e = report_next(c->d, arr, e)) {
		xmlNodePtr tr, td;
		char buf[512], t[40];
		const char *q = report_str(c->d, e, "quantity"), *u = report_str(c->d, e, "uom");
		const char *lot = report_str(c->d, e, "lot"), *veh = report_str(c->d, e, "vehicle");
		const char *ship = report_str(c->d, e, "shipment");
		int bt = report_node(c->d, e, "biz_transactions"),
		    in = report_node(c->d, e, "inputs");

		if (consumed(c->d, e))
			continue;
		tr = el(c, body, "tr", NULL);
		local_time(report_str(c->d, e, "time"), t, sizeof(t));
		attr(c, el(c, tr, "td", t), "class", "t");
		td = el(c, tr, "td", event_label(c, e));
		for (int i = report_first(c->d, in); i >= 0; i = report_next(c->d, in, i)) {
			el(c, td, "br", NULL);
			elf(c, td, "small", "%s %s/%s", L(c, "inputs"), report_str(c->d, i, "gtin"),
			    report_str(c->d, i, "lot"));
		}
		site_text(c, report_node(c->d, e, "site"), buf, sizeof(buf));
		el(c, tr, "td", buf);
		snprintf(buf, sizeof(buf), "%s",
			 report_str(c->d, report_node(c->d, e, "source"), "name")
			     ? report_str(c->d, report_node(c->d, e, "source"), "name")
			     : "");
		el(c, tr, "td", buf);
		snprintf(buf, sizeof(buf), "%s",
			 report_str(c->d, report_node(c->d, e, "destination"), "name")
			     ? report_str(c->d, report_node(c->d, e, "destination"), "name")
			     : "");
		el(c, tr, "td", buf);
		if (q)
			snprintf(buf, sizeof(buf), "%s %s%s%s", q, u ? u : "",
				 lot && main_lot && strcmp(lot, main_lot) ? " · " : "",
				 lot && main_lot && strcmp(lot, main_lot) ? lot : "");
		else
			snprintf(buf, sizeof(buf), "%s",
				 lot && main_lot && strcmp(lot, main_lot) ? lot : "");
		el(c, tr, "td", buf);
		snprintf(buf, sizeof(buf), "%s%s%s", veh ? veh : "", veh && ship ? " · " : "",
			 ship ? ship : "");
		el(c, tr, "td", buf);
		td = el(c, tr, "td", NULL);
		for (int i = report_first(c->d, bt); i >= 0; i = report_next(c->d, bt, i)) {
			if (i != report_first(c->d, bt))
				el(c, td, "br", NULL);
			elf(c, td, "span", "%s %s",
			    report_str(c->d, i, "type") ? report_str(c->d, i, "type") : "",
			    report_str(c->d, i, "id") ? report_str(c->d, i, "id") : "");
		}
	}
}

/* The figures of the leg for this lot when computed, else of the whole shipment. */
static int leg_figures(const struct ctx *c, int leg)
{
	int lf = report_node(c->d, leg, "lot_figures");
	const char *lot = report_str(c->d, report_node(c->d, 0, "lot"), "lot");
	const char *gtin = report_str(c->d, report_node(c->d, 0, "lot"), "gtin");
	char key[64];

	if (lot && gtin) {
		snprintf(key, sizeof(key), "%s/%s", gtin, lot);
		for (int f = report_first(c->d, lf); f >= 0; f = report_next(c->d, lf, f))
			if (report_str(c->d, f, "lot_key") &&
			    strcmp(report_str(c->d, f, "lot_key"), key) == 0)
				return f;
	}
	return report_node(c->d, leg, "figures");
}

static void figures(struct ctx *c, xmlNodePtr sec, int f)
{
	xmlNodePtr dl;
	char buf[256], a[40], b[40];
	int gaps = report_node(c->d, f, "gaps");

	if (f < 0)
		return;
	el(c, sec, "h3", L(c, "figures"));
	dl = el(c, sec, "dl", NULL);
	attr(c, dl, "class", "kv");
	snprintf(buf, sizeof(buf), "%s", report_str(c->d, f, "samples"));
	kv(c, dl, "samples", buf);
	temp(report_num(c->d, f, "min_c"), buf, sizeof(buf));
	kv(c, dl, "min", buf);
	temp(report_num(c->d, f, "max_c"), buf, sizeof(buf));
	kv(c, dl, "max", buf);
	temp(report_num(c->d, f, "mean_c"), buf, sizeof(buf));
	kv(c, dl, "mean", buf);
	temp(report_num(c->d, f, "mkt_c"), buf, sizeof(buf));
	kv(c, dl, "mkt", buf);
	snprintf(buf, sizeof(buf), "%.1f %%", 100.0 * report_num(c->d, f, "coverage"));
	kv(c, dl, "coverage", buf);
	duration(c, report_num(c->d, f, "time_above_s"), buf, sizeof(buf));
	kv(c, dl, "time_above", buf);
	duration(c, report_num(c->d, f, "time_below_s"), buf, sizeof(buf));
	kv(c, dl, "time_below", buf);
	if (!isnan(report_num(c->d, f, "remaining_life_days"))) {
		snprintf(buf, sizeof(buf), "%.1f %s", report_num(c->d, f, "remaining_life_days"),
			 L(c, "unit.days"));
		kv(c, dl, "remaining_life", buf);
	}
	if (report_len(c->d, gaps) == 0) {
		kv(c, dl, "gaps", L(c, "none"));
		return;
	}
	el(c, dl, "dt", L(c, "gaps"));
	{
		xmlNodePtr dd = el(c, dl, "dd", NULL);
		for (int g = report_first(c->d, gaps); g >= 0; g = report_next(c->d, gaps, g)) {
			int64_t from = (int64_t)report_num(c->d, g, "from") * TS_US_PER_S;
			int64_t to = (int64_t)report_num(c->d, g, "to") * TS_US_PER_S;
			report_svg_local_time(from, TZ_OFFSET_S, a, sizeof(a));
			report_svg_local_time(to, TZ_OFFSET_S, b, sizeof(b));
			duration(c, (double)(to - from) / 1e6, buf, sizeof(buf));
			if (g != report_first(c->d, gaps))
				el(c, dd, "br", NULL);
			elf(c, dd, "span", "%s – %s (%s)", a, strncmp(a, b, 10) == 0 ? b + 11 : b,
			    buf);
		}
	}
}

static void qa_item(struct ctx *c, xmlNodePtr ul, int q)
{
	const char *action = report_str(c->d, q, "action"),
		   *disp = report_str(c->d, q, "disposition");
	const char *reason = report_str(c->d, q, "reason");
	char t[40], buf[640];

	local_time(report_str(c->d, q, "at"), t, sizeof(t));
	snprintf(buf, sizeof(buf), "%s%s%s%s%s — %s %s, %s",
		 report_i18n_code(c->lang, "action", action), disp ? ": " : "",
		 disp ? report_i18n_code(c->lang, "disposition", disp) : "", reason ? " — " : "",
		 reason ? reason : "", L(c, "qa.by"), report_str(c->d, q, "actor"), t);
	el(c, ul, "li", buf);
}

static void excursions(struct ctx *c, xmlNodePtr sec, int leg)
{
	static const char *const heads[] = {"start",	 "end",	     "duration", "peak",
					    "threshold", "severity", "qa"};
	int arr = report_node(c->d, leg, "excursions"), qa = report_node(c->d, leg, "qa");
	xmlNodePtr body, ul = NULL;

	el(c, sec, "h3", L(c, "excursions"));
	if (report_len(c->d, arr) == 0) {
		xmlNodePtr p = el(c, sec, "p", L(c, "no_excursions"));
		attr(c, p, "class", "ok");
	} else {
		body = table(c, sec, heads, 7);
		for (int x = report_first(c->d, arr); x >= 0; x = report_next(c->d, arr, x)) {
			xmlNodePtr tr = el(c, body, "tr", NULL), td;
			const char *id = report_str(c->d, x, "id"),
				   *sev = report_str(c->d, x, "severity");
			char a[40], b[40], buf[160];
			bool any = false;

			local_time(report_str(c->d, x, "start"), a, sizeof(a));
			if (report_str(c->d, x, "end"))
				local_time(report_str(c->d, x, "end"), b, sizeof(b));
			else
				snprintf(b, sizeof(b), "%s", L(c, "ongoing"));
			attr(c, el(c, tr, "td", a), "class", "t");
			attr(c, el(c, tr, "td", b), "class", "t");
			duration(c, report_num(c->d, x, "duration_s"), buf, sizeof(buf));
			el(c, tr, "td", buf);
			temp(report_num(c->d, x, "peak_c"), buf, sizeof(buf));
			el(c, tr, "td", buf);
			temp(report_num(c->d, x, "threshold_c"), a, sizeof(a));
			snprintf(buf, sizeof(buf), "%s (%s, %s)", a,
				 report_i18n_code(c->lang, "direction",
						  report_str(c->d, x, "direction")),
				 report_i18n_code(c->lang, "phase", report_str(c->d, x, "phase")));
			el(c, tr, "td", buf);
			td = el(c, tr, "td", report_i18n_code(c->lang, "severity", sev));
			snprintf(buf, sizeof(buf), "sev-%s", sev ? sev : "warning");
			attr(c, td, "class", buf);
			td = el(c, tr, "td", NULL);
			for (int q = report_first(c->d, qa); q >= 0; q = report_next(c->d, qa, q)) {
				const char *tg = report_str(c->d, q, "target");
				const char *ti = report_str(c->d, q, "target_id");
				if (!tg || strcmp(tg, "excursion") || !ti || !id || strcmp(ti, id))
					continue;
				if (!any) {
					ul = el(c, td, "ul", NULL);
					attr(c, ul, "class", "qa");
				}
				any = true;
				qa_item(c, ul, q);
			}
			if (!any) {
				xmlNodePtr s = el(c, td, "span", L(c, "qa.none"));
				attr(c, s, "class", "muted");
			}
		}
	}
	/* Decisions about the shipment, the lot or a gap. */
	ul = NULL;
	for (int q = report_first(c->d, qa); q >= 0; q = report_next(c->d, qa, q)) {
		const char *tg = report_str(c->d, q, "target");
		if (tg && strcmp(tg, "excursion") == 0)
			continue;
		if (!ul) {
			el(c, sec, "h3", L(c, "qa"));
			ul = el(c, sec, "ul", NULL);
			attr(c, ul, "class", "qa");
		}
		qa_item(c, ul, q);
	}
}

static int chart_and_map(struct ctx *c, xmlNodePtr sec, int leg, int legno, int f)
{
	const char *ship = report_str(c->d, leg, "shipment");
	int64_t from = parse_time(report_str(c->d, f, "from")),
		to = parse_time(report_str(c->d, f, "to"));
	struct report_series s = {0};
	struct decimate_window *exc = NULL, *gaps = NULL;
	struct report_map_stop *stops = NULL;
	size_t n_exc = 0, n_gaps = 0, n_stops = 0;
	int arr, com = report_node(c->d, 0, "commodity"), rc = -1;
	xmlNodePtr node = NULL;
	char id[32];

	if (report_series_load(c->db, ship, from, to, &s) != 0)
		goto out;
	if (s.n == 0) {
		el(c, sec, "p", L(c, "readings_none"));
		rc = 0;
		goto out;
	}
	arr = report_node(c->d, leg, "excursions");
	exc = calloc((size_t)report_len(c->d, arr) + 1, sizeof(*exc));
	arr = report_node(c->d, f, "gaps");
	gaps = calloc((size_t)report_len(c->d, arr) + 1, sizeof(*gaps));
	arr = report_node(c->d, leg, "stops");
	stops = calloc((size_t)report_len(c->d, arr) + 1, sizeof(*stops));
	if (!exc || !gaps || !stops)
		goto out;
	arr = report_node(c->d, leg, "excursions");
	for (int x = report_first(c->d, arr); x >= 0; x = report_next(c->d, arr, x)) {
		int64_t a = parse_time(report_str(c->d, x, "start")),
			b = parse_time(report_str(c->d, x, "end"));
		exc[n_exc].from = a;
		exc[n_exc].to = b ? b : s.t_us[s.n - 1];
		/* Sorted and non-overlapping, as decimate wants; the SQL orders by start. */
		if (n_exc && exc[n_exc].from <= exc[n_exc - 1].to) {
			if (exc[n_exc].to > exc[n_exc - 1].to)
				exc[n_exc - 1].to = exc[n_exc].to;
			continue;
		}
		n_exc++;
	}
	arr = report_node(c->d, f, "gaps");
	for (int g = report_first(c->d, arr); g >= 0; g = report_next(c->d, arr, g)) {
		gaps[n_gaps].from = (int64_t)report_num(c->d, g, "from") * TS_US_PER_S;
		gaps[n_gaps].to = (int64_t)report_num(c->d, g, "to") * TS_US_PER_S;
		n_gaps++;
	}
	{
		struct report_chart ch = {0};
		ch.s = &s;
		for (int p = 0; p < REPORT_PROBES; p++) {
			char key[32];
			snprintf(key, sizeof(key), "probe.%s", p < 4 ? report_probe_name(p) : "p");
			ch.probe_label[p] = L(c, key);
		}
		/* p1…p16 share a label: the legend adds the probe's name. */
		ch.band_lo = report_num(c->d, com, "temp_min_c");
		ch.band_hi = report_num(c->d, com, "temp_max_c");
		ch.excursions = exc;
		ch.n_excursions = n_exc;
		ch.gaps = gaps;
		ch.n_gaps = n_gaps;
		ch.max_gap_us = c->max_gap_us;
		ch.from_us = from && from < s.t_us[0] ? from : 0;
		ch.to_us = to && to > s.t_us[s.n - 1] ? to : 0;
		ch.tz_offset_s = TZ_OFFSET_S;
		ch.buckets = CHART_BUCKETS;
		snprintf(id, sizeof(id), "leg%d", legno);
		ch.id = id;
		ch.title = L(c, "chart.title");
		ch.axis_label = L(c, "chart.axis");
		ch.band_label = L(c, "chart.band");
		ch.excursion_label = L(c, "chart.excursion");
		ch.gap_label = L(c, "chart.gap");
		if (report_svg_chart(&ch, &node) != 0)
			goto out;
		el(c, sec, "h3", L(c, "temperature"));
		adopt(c, figure_box(c, sec), node);
		node = NULL;
	}
	{
		struct report_map m = {0};
		char *labels = NULL;
		size_t cap =
		    (size_t)report_len(c->d, arr = report_node(c->d, leg, "stops")) * 160 + 1;

		labels = calloc(1, cap);
		if (!labels)
			goto out;
		for (int st = report_first(c->d, arr); st >= 0; st = report_next(c->d, arr, st)) {
			int site = report_node(c->d, st, "site");
			const char *kind = report_str(c->d, st, "kind"),
				   *name = report_str(c->d, site, "name");
			char t[40], *lab = labels + n_stops * 160;
			stops[n_stops].lat = report_num(c->d, site, "lat");
			stops[n_stops].lon = report_num(c->d, site, "lon");
			stops[n_stops].kind = kind && !strcmp(kind, "load") ? REPORT_STOP_LOAD
					      : kind && !strcmp(kind, "unload")
						  ? REPORT_STOP_UNLOAD
						  : REPORT_STOP_HANDOFF;
			local_time(report_str(c->d, st, "time"), t, sizeof(t));
			snprintf(lab, 160, "%s · %s %s",
				 name				 ? name
				 : report_str(c->d, site, "gln") ? report_str(c->d, site, "gln")
								 : "",
				 report_i18n_code(c->lang, "stop", kind), t + 5);
			stops[n_stops].label = lab;
			n_stops++;
		}
		m.s = &s;
		m.stops = stops;
		m.n_stops = n_stops;
		m.max_gap_us = c->max_gap_us;
		m.buckets = CHART_BUCKETS;
		snprintf(id, sizeof(id), "map%d", legno);
		m.id = id;
		m.title = L(c, "map.title");
		m.note = L(c, "map.note");
		m.kind_label[0] = L(c, "stop.load");
		m.kind_label[1] = L(c, "stop.unload");
		m.kind_label[2] = L(c, "stop.handoff");
		if (report_svg_map(&m, &node) != 0) {
			free(labels);
			goto out;
		}
		el(c, sec, "h3", L(c, "route"));
		adopt(c, figure_box(c, sec), node);
		node = NULL;
		free(labels);
	}
	rc = 0;
out:
	report_series_release(&s);
	free(exc);
	free(gaps);
	free(stops);
	xmlFreeNode(node);
	return rc;
}

static int legs(struct ctx *c, xmlNodePtr main)
{
	int arr = report_node(c->d, 0, "legs"), n = 0;

	if (report_len(c->d, arr) == 0)
		return 0;
	el(c, main, "h2", L(c, "legs"));
	for (int leg = report_first(c->d, arr); leg >= 0; leg = report_next(c->d, arr, leg)) {
		xmlNodePtr sec = el(c, main, "section", NULL), dl;
		int o = report_node(c->d, leg, "origin"), d = report_node(c->d, leg, "destination");
		int veh = report_node(c->d, leg, "vehicles"), f = leg_figures(c, leg);
		char buf[512], t[40];
		size_t at = 0;

		n++;
		elf(c, sec, "h3", "%s %d: %s → %s", L(c, "leg"), n,
		    report_str(c->d, o, "name") ? report_str(c->d, o, "name") : "?",
		    report_str(c->d, d, "name") ? report_str(c->d, d, "name") : "?");
		dl = el(c, sec, "dl", NULL);
		attr(c, dl, "class", "kv");
		kv(c, dl, "shipment", report_str(c->d, leg, "shipment"));
		kv(c, dl, "status",
		   report_i18n_code(c->lang, "status", report_str(c->d, leg, "status")));
		buf[0] = '\0';
		for (int v = report_first(c->d, veh); v >= 0 && at < sizeof(buf);
		     v = report_next(c->d, veh, v))
			at += (size_t)snprintf(buf + at, sizeof(buf) - at, "%s%s", at ? ", " : "",
					       report_text(c->d, v));
		kv(c, dl, "vehicles", buf);
		if (report_str(c->d, leg, "departure")) {
			local_time(report_str(c->d, leg, "departure"), t, sizeof(t));
			kv(c, dl, "departure", t);
		}
		if (report_str(c->d, leg, "arrival")) {
			local_time(report_str(c->d, leg, "arrival"), t, sizeof(t));
			kv(c, dl, "arrival", t);
		}
		figures(c, sec, f);
		if (chart_and_map(c, sec, leg, n, f) != 0)
			return -1;
		excursions(c, sec, leg);
	}
	return 0;
}

static int build(struct ctx *c)
{
	xmlNodePtr html, head, meta, body, main, footer;

	c->doc = xmlNewDoc(BAD_CAST "1.0");
	if (!c->doc)
		return -1;
	if (!xmlCreateIntSubset(c->doc, BAD_CAST "html", NULL, NULL))
		return -1;
	html = xmlNewDocNode(c->doc, NULL, BAD_CAST "html", NULL);
	if (!html)
		return -1;
	xmlDocSetRootElement(c->doc, html);
	c->ns = xmlNewNs(html, BAD_CAST XHTML_NS, NULL);
	xmlSetNs(html, c->ns);
	attr(c, html, "lang", report_i18n_tag(c->lang));
	if (!xmlNewNsProp(html, xmlSearchNs(c->doc, html, BAD_CAST "xml"), BAD_CAST "lang",
			  BAD_CAST report_i18n_tag(c->lang)))
		c->oom = true;
	head = el(c, html, "head", NULL);
	meta = el(c, head, "meta", NULL);
	attr(c, meta, "charset", "UTF-8");
	meta = el(c, head, "meta", NULL);
	attr(c, meta, "name", "viewport");
	attr(c, meta, "content", "width=device-width, initial-scale=1");
	{
		int lot = report_node(c->d, 0, "lot");
		const char *ship = report_str(c->d, report_node(c->d, 0, "scope"), "shipment");
		if (ship)
			elf(c, head, "title", "%s %s", L(c, "title.shipment"), ship);
		else
			elf(c, head, "title", "%s %s/%s", L(c, "title"),
			    report_str(c->d, lot, "gtin"), report_str(c->d, lot, "lot"));
	}
	el(c, head, "style", css);
	body = el(c, html, "body", NULL);
	main = el(c, body, "main", NULL);
	summary(c, main);
	lots(c, main);
	farm(c, main);
	custody(c, main);
	if (legs(c, main) != 0)
		return -1;
	footer = el(c, main, "footer", NULL);
	el(c, footer, "p", L(c, "note.times"));
	el(c, footer, "p", L(c, "note.mkt"));
	el(c, footer, "p", L(c, "note.privacy"));
	return c->oom ? -1 : 0;
}

int report_html(struct db *db, const struct trace_scope *scope, const char *lang, char **out,
		size_t *len)
{
	struct ctx c = {0};
	xmlChar *mem = NULL;
	int size = 0, rc = -1;

	if (!db || !scope || !out || !len)
		return -1;
	*out = NULL;
	*len = 0;
	if (report_i18n_lang(lang, &c.lang) != 0) {
		log_error("report: language '%s' is not en, zh-Hans or zh-Hant", lang);
		return -1;
	}
	c.db = db;
	c.max_gap_us = (config.max_sample_gap_s > 0 ? config.max_sample_gap_s : 600) * TS_US_PER_S;
	rc = report_data_load(db, scope, &c.d);
	if (rc != 0)
		goto out;
	rc = -1;
	if (build(&c) != 0) {
		log_error("report: cannot build the HTML report (out of memory or no readings)");
		goto out;
	}
	xmlDocDumpFormatMemoryEnc(c.doc, &mem, &size, "UTF-8", 1);
	if (!mem || size <= 0)
		goto out;
	*out = malloc((size_t)size + 1);
	if (!*out)
		goto out;
	memcpy(*out, mem, (size_t)size);
	(*out)[size] = '\0';
	*len = (size_t)size;
	rc = 0;
out:
	xmlFree(mem);
	xmlFreeDoc(c.doc);
	report_data_free(c.d);
	return rc;
}
