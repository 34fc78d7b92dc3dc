/*
 * provenance_page: the public provenance page, built as an XHTML tree with libxml2 (text is
 * always escaped by the library, never pasted into markup). The rows come from
 * ct_api_public_page (section, leg, f1 … f8), in page order, so this module only lays out.
 * The charts are drawn here rather than with report_svg: that module loads readings itself,
 * which the API's database role may not do for an unauthenticated visitor; the page only
 * has the public, already downsampled series.
 */
#include "provenance_page.h"

#include <libxml/tree.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "log.h"

#define XHTML_NS "http://www.w3.org/1999/xhtml"
#define SVG_NS "http://www.w3.org/2000/svg"

enum { L_EN, L_HANS, L_HANT };

static const char *const words[][3] = {
	/* key order: see enum w */
	{"Provenance", "产品溯源", "產品溯源"},
	{"Lot", "批次", "批次"},
	{"Farm", "农场", "農場"},
	{"Certifications", "认证", "認證"},
	{"Harvest", "采收", "採收"},
	{"Harvest and packing", "采收与包装", "採收與包裝"},
	{"Journey", "运输", "運輸"},
	{"Leg", "运输段", "運輸段"},
	{"Temperature (°C)", "温度 (°C)", "溫度 (°C)"},
	{"Excursions", "温度偏离", "溫度偏離"},
	{"QA decisions", "质检决定", "質檢決定"},
	{"None", "无", "無"},
	{"Downloads", "下载", "下載"},
	{"Data (JSON)", "数据 (JSON)", "資料 (JSON)"},
	{"Best before", "最佳食用日期", "最佳食用日期"},
	{"Min / max / MKT", "最低 / 最高 / 平均动力学温度", "最低 / 最高 / 平均動力學溫度"},
	{"Route", "路线", "路線"},
	{"Language", "语言", "語言"},
	{"Origin", "产地", "產地"},
	{"Report signature", "报告签名", "報告簽名"},
	{"SHA-256 digest", "SHA-256 摘要", "SHA-256 摘要"},
	{"Signing key (Ed25519)", "签名密钥 (Ed25519)", "簽名金鑰 (Ed25519)"},
	{"Not signed: no signing key is configured on this server.", "未签名：服务器未配置签名密钥。",
	 "未簽名：伺服器未配置簽名金鑰。"},
	{"Download the signed report", "下载签名报告", "下載簽名報告"},
	{"Check a downloaded report with: coldtrace verify FILE", "可用 coldtrace verify 文件 校验下载的报告",
	 "可用 coldtrace verify 檔案 校驗下載的報告"},
	{"Report (HTML)", "报告 (HTML)", "報告 (HTML)"},
	{"Traceability data (CSV, FSMA 204)", "追溯数据 (CSV, FSMA 204)", "追溯資料 (CSV, FSMA 204)"},
	{"Events (EPCIS 2.0 XML)", "事件 (EPCIS 2.0 XML)", "事件 (EPCIS 2.0 XML)"},
	{"Owner", "所有者", "所有者"},
	{"Start", "起点", "起點"},
	{"End", "终点", "終點"},
	{"The signed reports are not available for this lot.", "此批次没有签名报告。",
	 "此批次沒有簽名報告。"},
};
enum w {
	W_TITLE, W_LOT, W_FARM, W_CERTS, W_HARVEST, W_HARVEST_PACK, W_JOURNEY, W_LEG, W_TEMP,
	W_EXC, W_QA, W_NONE, W_DOWNLOADS, W_JSON, W_BEST, W_FIG, W_ROUTE, W_LANG, W_ORIGIN,
	W_SIG, W_SHA, W_KEY, W_UNSIGNED, W_DL_SIGNED, W_VERIFY, W_DL_HTML, W_DL_CSV, W_DL_EPCIS,
	W_OWNER, W_START, W_END, W_NO_REPORT
};

static const char *const css =
	"body{font-family:system-ui,'Noto Sans CJK SC','PingFang SC',sans-serif;margin:0;"
	"padding:0 1rem 2rem;line-height:1.45;color:#1b1f23;background:#fff}"
	"header{padding:1rem 0;border-bottom:2px solid #2e7d32}"
	"h1{font-size:1.35rem;margin:.2rem 0}h2{font-size:1.1rem;margin:1.4rem 0 .4rem}"
	"h3{font-size:1rem;margin:1rem 0 .3rem}.muted{color:#586069;font-size:.9rem}"
	"section{max-width:48rem}table{border-collapse:collapse;width:100%;font-size:.9rem}"
	"td,th{text-align:left;padding:.25rem .4rem;border-bottom:1px solid #e1e4e8;"
	"vertical-align:top}svg{width:100%;height:auto;max-width:40rem;display:block}"
	"nav a{margin-right:.8rem}.leg{border:1px solid #e1e4e8;border-radius:6px;"
	"padding:.2rem .8rem .8rem;margin:.8rem 0}.sev-critical{color:#b31d28;font-weight:bold}"
	".sev-major{color:#d15704}.sev-warning{color:#a07800}"
	"code{font-family:ui-monospace,monospace;font-size:.8rem;word-break:break-all;"
	"overflow-wrap:anywhere}ul.dl{padding-left:1.2rem}ul.dl li{margin:.3rem 0}"
	"@media (min-width:48rem){body{padding:0 2rem 2rem}h1{font-size:1.7rem}}";

struct row {
	char *section;
	int leg;
	char *f[8];
};

struct page {
	const struct provenance_sig *sig;
	xmlDocPtr doc;
	xmlNsPtr ns;
	int lang;
	struct row *rows;
	int n;
};

static xmlNodePtr el(xmlNodePtr parent, const char *name, const char *text)
{
	return xmlNewTextChild(parent, NULL, BAD_CAST name, text ? BAD_CAST text : NULL);
}

static const char *w(const struct page *p, enum w k)
{
	return words[k][p->lang];
}

static const char *dash(const char *s)
{
	return s && *s ? s : "–";
}

/* "2026-11-22T03:00:00Z" → "2026-11-22 03:00 UTC" into buf. */
static const char *when(const char *t, char *buf, size_t cap)
{
	if (!t || strlen(t) < 16)
		return dash(t);
	snprintf(buf, cap, "%.10s %.5s UTC", t, t + 11);
	return buf;
}

static void table_row(xmlNodePtr table, int n, const char *const *cells)
{
	xmlNodePtr tr = el(table, "tr", NULL);

	for (int i = 0; i < n; i++)
		el(tr, "td", dash(cells[i]));
}

static void kv(xmlNodePtr table, const char *k, const char *v)
{
	xmlNodePtr tr = el(table, "tr", NULL);

	el(tr, "th", k);
	el(tr, "td", dash(v));
}

/* Parses "YYYY-MM-DDTHH:MM:SS…Z" into seconds since the epoch (UTC), for chart x. */
static double epoch_of(const char *t)
{
	struct tm tm = {0};
	int y, mo, d, h, mi;
	double s;

	if (!t || sscanf(t, "%d-%d-%dT%d:%d:%lf", &y, &mo, &d, &h, &mi, &s) != 6)
		return NAN;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	return (double)timegm(&tm) + s;
}

/* A polyline chart of the leg's (x, y) rows of one section in a 640×240 box. */
static void chart(struct page *p, xmlNodePtr parent, int leg, const char *section, int is_time,
		  const char *label)
{
	double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
	const double W = 640, H = 240, L = 40, B = 20;
	char *pts = NULL, num[64];
	size_t len = 0, cap = 0;
	int count = 0;

	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < p->n; i++) {
			struct row *r = &p->rows[i];
			double x, y;

			if (r->leg != leg || strcmp(r->section, section) != 0 || !r->f[0] || !r->f[1])
				continue;
			x = is_time ? epoch_of(r->f[0]) : strtod(r->f[0], NULL);
			y = strtod(r->f[1], NULL);
			if (!isfinite(x) || !isfinite(y))
				continue;
			if (pass == 0) {
				xmin = fmin(xmin, x), xmax = fmax(xmax, x);
				ymin = fmin(ymin, y), ymax = fmax(ymax, y);
				count++;
				continue;
			}
			double sx = xmax > xmin ? (x - xmin) / (xmax - xmin) : 0.5;
			double sy = ymax > ymin ? (y - ymin) / (ymax - ymin) : 0.5;
			int n = snprintf(num, sizeof(num), "%.1f,%.1f ", L + sx * (W - L - 10),
					 (H - B) - sy * (H - B - 10));

			if (len + (size_t)n + 1 > cap) {
				size_t nc = cap ? cap * 2 : 4096;
				char *np = realloc(pts, nc);

				if (!np)
					goto out;
				pts = np;
				cap = nc;
			}
			memcpy(pts + len, num, (size_t)n + 1);
			len += (size_t)n;
		}
		if (count < 2)
			goto out;
		if (!is_time) {
			/* A route: keep the aspect ratio of degrees (no stretching). */
			double span = fmax(xmax - xmin, ymax - ymin);

			xmax = xmin + span;
			ymax = ymin + span;
		}
	}
	xmlNodePtr svg = xmlNewNode(NULL, BAD_CAST "svg");
	xmlNsPtr sns = xmlNewNs(svg, BAD_CAST SVG_NS, NULL);

	xmlSetNs(svg, sns);
	xmlAddChild(parent, svg);
	xmlNewProp(svg, BAD_CAST "viewBox", BAD_CAST "0 0 640 240");
	xmlNewProp(svg, BAD_CAST "role", BAD_CAST "img");
	xmlNewProp(svg, BAD_CAST "aria-label", BAD_CAST label);
	xmlNodePtr t = xmlNewTextChild(svg, sns, BAD_CAST "title", BAD_CAST label);
	(void)t;
	xmlNodePtr axis = xmlNewChild(svg, sns, BAD_CAST "path", NULL);

	xmlNewProp(axis, BAD_CAST "d", BAD_CAST "M40 10 V220 H630");
	xmlNewProp(axis, BAD_CAST "stroke", BAD_CAST "#999");
	xmlNewProp(axis, BAD_CAST "fill", BAD_CAST "none");
	xmlNodePtr line = xmlNewChild(svg, sns, BAD_CAST "polyline", NULL);

	xmlNewProp(line, BAD_CAST "points", BAD_CAST pts);
	xmlNewProp(line, BAD_CAST "fill", BAD_CAST "none");
	xmlNewProp(line, BAD_CAST "stroke", BAD_CAST(is_time ? "#1565c0" : "#2e7d32"));
	xmlNewProp(line, BAD_CAST "stroke-width", BAD_CAST "2");
	if (!is_time) {
		/* Start and end of the track. */
		const char *first = pts, *last = pts + len - 1;

		while (last > pts && last[-1] != ' ')
			last--;
		if (last > pts) {
			last--;
			while (last > pts && last[-1] != ' ')
				last--;
		}
		for (int k = 0; k < 2; k++) {
			double cx, cy;

			if (sscanf(k ? last : first, "%lf,%lf", &cx, &cy) != 2)
				continue;
			xmlNodePtr dot = xmlNewChild(svg, sns, BAD_CAST "circle", NULL);

			snprintf(num, sizeof(num), "%.1f", cx);
			xmlNewProp(dot, BAD_CAST "cx", BAD_CAST num);
			snprintf(num, sizeof(num), "%.1f", cy);
			xmlNewProp(dot, BAD_CAST "cy", BAD_CAST num);
			xmlNewProp(dot, BAD_CAST "r", BAD_CAST "6");
			xmlNewProp(dot, BAD_CAST "fill", BAD_CAST(k ? "#b31d28" : "#2e7d32"));
			xmlNodePtr tx = xmlNewTextChild(svg, sns, BAD_CAST "text",
							BAD_CAST w(p, k ? W_END : W_START));

			snprintf(num, sizeof(num), "%.1f", fmin(cx + 10, 560));
			xmlNewProp(tx, BAD_CAST "x", BAD_CAST num);
			snprintf(num, sizeof(num), "%.1f", fmax(cy + (k ? -8 : 18), 14));
			xmlNewProp(tx, BAD_CAST "y", BAD_CAST num);
			xmlNewProp(tx, BAD_CAST "font-size", BAD_CAST "20");
		}
	}
	if (is_time) {
		/* The time span under the axis, in UTC like the rest of the page. */
		char tb[40];
		time_t t0 = (time_t)xmin, t1 = (time_t)xmax;
		struct tm tm0, tm1;

		gmtime_r(&t0, &tm0);
		gmtime_r(&t1, &tm1);
		strftime(tb, sizeof(tb), "%m-%d %H:%M", &tm0);
		xmlNodePtr tl = xmlNewTextChild(svg, sns, BAD_CAST "text", BAD_CAST tb);

		xmlNewProp(tl, BAD_CAST "x", BAD_CAST "40");
		xmlNewProp(tl, BAD_CAST "y", BAD_CAST "238");
		xmlNewProp(tl, BAD_CAST "font-size", BAD_CAST "18");
		strftime(tb, sizeof(tb), "%m-%d %H:%M UTC", &tm1);
		tl = xmlNewTextChild(svg, sns, BAD_CAST "text", BAD_CAST tb);
		xmlNewProp(tl, BAD_CAST "x", BAD_CAST "630");
		xmlNewProp(tl, BAD_CAST "y", BAD_CAST "238");
		xmlNewProp(tl, BAD_CAST "font-size", BAD_CAST "18");
		xmlNewProp(tl, BAD_CAST "text-anchor", BAD_CAST "end");
		snprintf(num, sizeof(num), "%.1f", ymax);
		xmlNodePtr hi = xmlNewTextChild(svg, sns, BAD_CAST "text", BAD_CAST num);

		xmlNewProp(hi, BAD_CAST "x", BAD_CAST "2");
		xmlNewProp(hi, BAD_CAST "y", BAD_CAST "20");
		xmlNewProp(hi, BAD_CAST "font-size", BAD_CAST "18");
		snprintf(num, sizeof(num), "%.1f", ymin);
		xmlNodePtr lo = xmlNewTextChild(svg, sns, BAD_CAST "text", BAD_CAST num);

		xmlNewProp(lo, BAD_CAST "x", BAD_CAST "2");
		xmlNewProp(lo, BAD_CAST "y", BAD_CAST "220");
		xmlNewProp(lo, BAD_CAST "font-size", BAD_CAST "18");
	}
out:
	free(pts);
}

/* A link in a list item. */
static void link_item(xmlNodePtr ul, const char *text, const char *href, const char *type,
		      const char *hreflang)
{
	xmlNodePtr a = el(el(ul, "li", NULL), "a", text);

	xmlNewProp(a, BAD_CAST "href", BAD_CAST href);
	if (type)
		xmlNewProp(a, BAD_CAST "type", BAD_CAST type);
	if (hreflang)
		xmlNewProp(a, BAD_CAST "hreflang", BAD_CAST hreflang);
}

/* The report signature: the digest and key of the signed HTML report in the page's
 * language, and the link to that very file. */
static void signature(struct page *p, xmlNodePtr body)
{
	static const char *const tags[] = {"en", "zh-Hans", "zh-Hant"};
	const struct provenance_sig *sig = p->sig;
	xmlNodePtr sec, table, tr, ul;
	char href[64];

	if (!sig)
		return;
	sec = el(body, "section", NULL);
	xmlNewProp(sec, BAD_CAST "id", BAD_CAST "signature");
	el(sec, "h2", w(p, W_SIG));
	if (!sig->have_report) {
		xmlNewProp(el(sec, "p", w(p, W_NO_REPORT)), BAD_CAST "class", BAD_CAST "muted");
		return;
	}
	table = el(sec, "table", NULL);
	tr = el(table, "tr", NULL);
	el(tr, "th", w(p, W_SHA));
	el(el(tr, "td", NULL), "code", sig->sha256_hex);
	tr = el(table, "tr", NULL);
	el(tr, "th", w(p, W_KEY));
	if (sig->signed_)
		el(el(tr, "td", NULL), "code", sig->key_b64);
	else
		el(tr, "td", w(p, W_UNSIGNED));
	ul = el(sec, "ul", NULL);
	xmlNewProp(ul, BAD_CAST "class", BAD_CAST "dl");
	snprintf(href, sizeof(href), "?format=html&lang=%s", tags[p->lang]);
	link_item(ul, w(p, W_DL_SIGNED), href, "application/xhtml+xml", tags[p->lang]);
	if (sig->signed_)
		xmlNewProp(el(sec, "p", w(p, W_VERIFY)), BAD_CAST "class", BAD_CAST "muted");
}

static void downloads(struct page *p, xmlNodePtr body)
{
	static const char *const tags[] = {"en", "zh-Hans", "zh-Hant"};
	static const char *const names[] = {"English", "简体中文", "繁體中文"};
	xmlNodePtr sec = el(body, "section", NULL), ul;
	char text[96], href[64];

	xmlNewProp(sec, BAD_CAST "id", BAD_CAST "downloads");
	el(sec, "h2", w(p, W_DOWNLOADS));
	ul = el(sec, "ul", NULL);
	xmlNewProp(ul, BAD_CAST "class", BAD_CAST "dl");
	if (p->sig && p->sig->have_report) {
		for (int i = 0; i < 3; i++) {
			snprintf(text, sizeof(text), "%s · %s", w(p, W_DL_HTML), names[i]);
			snprintf(href, sizeof(href), "?format=html&lang=%s", tags[i]);
			link_item(ul, text, href, "application/xhtml+xml", tags[i]);
		}
		link_item(ul, w(p, W_DL_CSV), "?format=csv", "text/csv", NULL);
		link_item(ul, w(p, W_DL_EPCIS), "?format=epcis", "application/xml", NULL);
	}
	link_item(ul, w(p, W_JSON), "?format=json", "application/json", NULL);
}

static void build(struct page *p, const char *gtin, const char *lot)
{
	static const char *const tags[] = {"en", "zh-Hans", "zh-Hant"};
	static const char *const names[] = {"English", "简体中文", "繁體中文"};
	xmlNodePtr html = xmlNewNode(NULL, BAD_CAST "html"), head, body, sec, table, a;
	char buf[96], link[160];
	const struct row *lotrow = NULL;

	p->ns = xmlNewNs(html, BAD_CAST XHTML_NS, NULL);
	xmlSetNs(html, p->ns);
	xmlNewProp(html, BAD_CAST "lang", BAD_CAST tags[p->lang]);
	xmlDocSetRootElement(p->doc, html);
	head = el(html, "head", NULL);
	xmlNewProp(el(head, "meta", NULL), BAD_CAST "charset", BAD_CAST "utf-8");
	xmlNodePtr vp = el(head, "meta", NULL);

	xmlNewProp(vp, BAD_CAST "name", BAD_CAST "viewport");
	xmlNewProp(vp, BAD_CAST "content", BAD_CAST "width=device-width, initial-scale=1");
	for (int i = 0; i < p->n; i++)
		if (strcmp(p->rows[i].section, "lot") == 0)
			lotrow = &p->rows[i];
	snprintf(buf, sizeof(buf), "%s — %s %s", w(p, W_TITLE), w(p, W_LOT), lot);
	el(head, "title", buf);
	el(head, "style", css);
	body = el(html, "body", NULL);

	xmlNodePtr hd = el(body, "header", NULL);
	xmlNodePtr nav = el(hd, "nav", NULL);

	xmlNewProp(nav, BAD_CAST "aria-label", BAD_CAST w(p, W_LANG));
	for (int i = 0; i < 3; i++) {
		snprintf(link, sizeof(link), "?lang=%s", tags[i]);
		a = el(nav, "a", names[i]);
		xmlNewProp(a, BAD_CAST "href", BAD_CAST link);
		xmlNewProp(a, BAD_CAST "hreflang", BAD_CAST tags[i]);
	}
	el(hd, "h1", lotrow && lotrow->f[2] ? lotrow->f[2] : w(p, W_TITLE));
	snprintf(buf, sizeof(buf), "GTIN %s · %s %s", gtin, w(p, W_LOT), lot);
	xmlNewProp(el(hd, "p", buf), BAD_CAST "class", BAD_CAST "muted");

	sec = el(body, "section", NULL);
	el(sec, "h2", w(p, W_ORIGIN));
	table = el(sec, "table", NULL);
	if (lotrow) {
		kv(table, "GTIN", lotrow->f[0]);
		kv(table, w(p, W_LOT), lotrow->f[1]);
		if (lotrow->f[4])
			kv(table, w(p, W_OWNER), lotrow->f[4]);
		if (lotrow->f[6])
			kv(table, w(p, W_BEST), lotrow->f[6]);
	}
	for (int i = 0; i < p->n; i++) {
		struct row *r = &p->rows[i];

		if (strcmp(r->section, "farm") == 0) {
			snprintf(link, sizeof(link), "%s%s%s%s%s", dash(r->f[1]),
				 r->f[2] ? ", " : "", r->f[2] ? r->f[2] : "", r->f[4] ? ", " : "",
				 r->f[4] ? r->f[4] : "");
			kv(table, w(p, W_FARM), link);
		} else if (strcmp(r->section, "harvest") == 0 && r->f[0]) {
			char b1[40];

			kv(table, w(p, W_HARVEST), when(r->f[0], b1, sizeof(b1)));
		}
	}
	int ncert = 0;

	for (int i = 0; i < p->n; i++)
		ncert += strcmp(p->rows[i].section, "cert") == 0;
	if (ncert) {
		el(sec, "h3", w(p, W_CERTS));
		table = el(sec, "table", NULL);
		for (int i = 0; i < p->n; i++) {
			struct row *r = &p->rows[i];

			if (strcmp(r->section, "cert") == 0) {
				const char *cells[3] = {r->f[0], r->f[1], r->f[4]};

				table_row(table, 3, cells);
			}
		}
	}

	int nev = 0;

	sec = el(body, "section", NULL);
	el(sec, "h2", w(p, W_HARVEST_PACK));
	table = el(sec, "table", NULL);
	for (int i = 0; i < p->n; i++) {
		struct row *r = &p->rows[i];
		char b1[40];

		if (strcmp(r->section, "event") == 0 && !(r->f[1] && (strcmp(r->f[1], "shipping") == 0 ||
								     strcmp(r->f[1], "receiving") == 0))) {
			const char *cells[3] = {when(r->f[0], b1, sizeof(b1)), r->f[1], r->f[2]};

			table_row(table, 3, cells);
			nev++;
		}
	}
	if (!nev)
		table_row(table, 1, (const char *const[]){w(p, W_NONE)});

	sec = el(body, "section", NULL);
	el(sec, "h2", w(p, W_JOURNEY));
	for (int i = 0; i < p->n; i++) {
		struct row *r = &p->rows[i];
		char b1[40], b2[40], fig[96];

		if (strcmp(r->section, "leg") != 0)
			continue;
		xmlNodePtr div = el(sec, "div", NULL);

		xmlNewProp(div, BAD_CAST "class", BAD_CAST "leg");
		snprintf(buf, sizeof(buf), "%s %d: %s → %s", w(p, W_LEG), r->leg, dash(r->f[1]),
			 dash(r->f[2]));
		el(div, "h3", buf);
		if (r->f[3] || r->f[4]) {
			snprintf(link, sizeof(link), "%s – %s", when(r->f[3], b1, sizeof(b1)),
				 when(r->f[4], b2, sizeof(b2)));
			xmlNewProp(el(div, "p", link), BAD_CAST "class", BAD_CAST "muted");
		}
		/* Figures exist once the monitor has evaluated the leg. */
		if (r->f[5] || r->f[6] || r->f[7]) {
			snprintf(fig, sizeof(fig), "%s °C / %s °C / %s °C", dash(r->f[5]),
				 dash(r->f[6]), dash(r->f[7]));
			table = el(div, "table", NULL);
			kv(table, w(p, W_FIG), fig);
		}
		chart(p, div, r->leg, "route", 0, w(p, W_ROUTE));
		chart(p, div, r->leg, "point", 1, w(p, W_TEMP));
		el(div, "h4", w(p, W_EXC));
		table = el(div, "table", NULL);
		int nx = 0;

		for (int k = 0; k < p->n; k++) {
			struct row *x = &p->rows[k];

			if (x->leg != r->leg || strcmp(x->section, "excursion") != 0)
				continue;
			xmlNodePtr tr = el(table, "tr", NULL);

			snprintf(buf, sizeof(buf), "sev-%s", dash(x->f[0]));
			xmlNewProp(el(tr, "td", dash(x->f[0])), BAD_CAST "class", BAD_CAST buf);
			el(tr, "td", when(x->f[2], b1, sizeof(b1)));
			snprintf(fig, sizeof(fig), "%s °C, %s min", dash(x->f[4]),
				 x->f[5] ? x->f[5] : "–");
			if (x->f[5]) {
				long s = strtol(x->f[5], NULL, 10);

				snprintf(fig, sizeof(fig), "%s °C, %ld min", dash(x->f[4]), s / 60);
			}
			el(tr, "td", fig);
			nx++;
		}
		if (!nx)
			table_row(table, 1, (const char *const[]){w(p, W_NONE)});
		el(div, "h4", w(p, W_QA));
		table = el(div, "table", NULL);
		nx = 0;
		for (int k = 0; k < p->n; k++) {
			struct row *x = &p->rows[k];

			if (x->leg != r->leg || strcmp(x->section, "decision") != 0)
				continue;
			const char *cells[5] = {x->f[0], x->f[2] ? x->f[2] : x->f[1], x->f[3],
						x->f[4], when(x->f[5], b1, sizeof(b1))};

			table_row(table, 5, cells);
			nx++;
		}
		if (!nx)
			table_row(table, 1, (const char *const[]){w(p, W_NONE)});
	}

	signature(p, body);
	downloads(p, body);
}

int provenance_page(struct db *db, const char *gtin, const char *lot, const char *lang,
		    const struct provenance_sig *sig, char **out, size_t *len)
{
	const char *params[2] = {gtin, lot};
	struct db_res *r = NULL;
	struct page p = {0};
	xmlChar *mem = NULL;
	int size = 0, rc = -1;

	*out = NULL;
	*len = 0;
	p.sig = sig;
	p.lang = lang && strcmp(lang, "zh-Hans") == 0 ? L_HANS
		 : lang && strcmp(lang, "zh-Hant") == 0 ? L_HANT
							   : L_EN;
	if (db_exec(db,
		    "SELECT section, leg, f1, f2, f3, f4, f5, f6, f7, f8 "
		    "FROM coldtrace.ct_api_public_page($1, $2)",
		    2, params, &r) < 0)
		goto out;
	if (db_res_rows(r) == 0) {
		rc = 1;
		goto out;
	}
	/* Rows point into the result, which lives until the document is serialised. */
	p.n = db_res_rows(r);
	p.rows = calloc((size_t)p.n, sizeof(*p.rows));
	if (!p.rows)
		goto out;
	for (int i = 0; i < p.n; i++) {
		p.rows[i].section = (char *)db_res_get(r, i, 0);
		p.rows[i].leg = (int)db_res_int(r, i, 1, 0);
		for (int k = 0; k < 8; k++)
			p.rows[i].f[k] = (char *)db_res_get(r, i, 2 + k);
	}
	p.doc = xmlNewDoc(BAD_CAST "1.0");
	if (!p.doc)
		goto out;
	xmlCreateIntSubset(p.doc, BAD_CAST "html", NULL, NULL);
	build(&p, gtin, lot);
	xmlDocDumpFormatMemoryEnc(p.doc, &mem, &size, "UTF-8", 0);
	if (!mem || size <= 0) {
		log_error("provenance_page: serialising %s/%s failed", gtin, lot);
		goto out;
	}
	*out = malloc((size_t)size);
	if (!*out)
		goto out;
	memcpy(*out, mem, (size_t)size);
	*len = (size_t)size;
	rc = 0;
out:
	xmlFree(mem);
	if (p.doc)
		xmlFreeDoc(p.doc);
	free(p.rows);
	db_res_free(r);
	return rc;
}
