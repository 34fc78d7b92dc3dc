/*
 * report_svg: draws a leg's temperature chart and route map as SVG element trees.
 *
 * DESIGN. Nothing here formats markup: elements and attributes are made with the libxml2
 * tree API, and only attribute values (numbers, path data) are formatted, with snprintf
 * into a growing buffer. Series are decimated before drawing (decimate.c), so the cost is
 * O(n) in the readings and the size of the SVG is bounded by the buckets, plus the points
 * of excursions (all kept) and both ends of every gap. A gap is a break in a line (a new
 * "M" in the path) and a hatched band, so missing data is never drawn as if measured.
 */
#include "strbuf.h"
#include "report_svg.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ts.h"

#define SVG_NS "http://www.w3.org/2000/svg"

#define CW 960.0
#define CH 380.0
#define ML 52.0
#define MR 14.0
#define MT 30.0
#define MB 78.0

#define MW 800.0
#define MH 480.0
#define MM 36.0

static const char *const colors[REPORT_PROBES] = {
    "#1f5fbf", "#2e9e44", "#e07b00", "#8a8a8a", "#9467bd", "#8c564b", "#e377c2",
    "#17becf", "#bcbd22", "#7f7f7f", "#d62728", "#393b79", "#637939", "#8c6d31",
    "#843c39", "#7b4173", "#3182bd", "#31a354", "#756bb1", "#636363"};

struct svg {
	xmlNsPtr ns;
	bool oom;
};

static xmlNodePtr el(struct svg *g, xmlNodePtr parent, const char *name)
{
	xmlNodePtr n = xmlNewNode(g->ns, BAD_CAST name);

	if (!n) {
		g->oom = true;
		return NULL;
	}
	if (parent && !xmlAddChild(parent, n)) {
		xmlFreeNode(n);
		g->oom = true;
		return NULL;
	}
	return n;
}

static void attr(struct svg *g, xmlNodePtr n, const char *name, const char *value)
{
	if (n && value && !xmlNewProp(n, BAD_CAST name, BAD_CAST value))
		g->oom = true;
}

static void attrf(struct svg *g, xmlNodePtr n, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void attrf(struct svg *g, xmlNodePtr n, const char *name, const char *fmt, ...)
{
	char v[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	attr(g, n, name, v);
}

static xmlNodePtr text_el(struct svg *g, xmlNodePtr parent, double x, double y, const char *anchor,
			  const char *cls, const char *text)
{
	xmlNodePtr t = el(g, parent, "text");

	attrf(g, t, "x", "%.1f", x);
	attrf(g, t, "y", "%.1f", y);
	if (anchor)
		attr(g, t, "text-anchor", anchor);
	if (cls)
		attr(g, t, "class", cls);
	if (t && text && !xmlAddChild(t, xmlNewText(BAD_CAST text)))
		g->oom = true;
	return t;
}

static xmlNodePtr rect(struct svg *g, xmlNodePtr parent, double x, double y, double w, double h,
		       const char *fill, const char *opacity)
{
	xmlNodePtr r = el(g, parent, "rect");

	attrf(g, r, "x", "%.1f", x);
	attrf(g, r, "y", "%.1f", y);
	attrf(g, r, "width", "%.1f", w < 0 ? 0 : w);
	attrf(g, r, "height", "%.1f", h < 0 ? 0 : h);
	attr(g, r, "fill", fill);
	if (opacity)
		attr(g, r, "fill-opacity", opacity);
	return r;
}

static xmlNodePtr svg_root(struct svg *g, double w, double h, const char *cls, const char *title)
{
	xmlNodePtr root = xmlNewNode(NULL, BAD_CAST "svg");

	if (!root) {
		g->oom = true;
		return NULL;
	}
	g->ns = xmlNewNs(root, BAD_CAST SVG_NS, NULL);
	if (!g->ns) {
		xmlFreeNode(root);
		g->oom = true;
		return NULL;
	}
	xmlSetNs(root, g->ns);
	attrf(g, root, "viewBox", "0 0 %.0f %.0f", w, h);
	attr(g, root, "class", cls);
	attr(g, root, "role", "img");
	if (title) {
		xmlNodePtr t = el(g, root, "title");
		if (t && !xmlAddChild(t, xmlNewText(BAD_CAST title)))
			g->oom = true;
	}
	return root;
}

void report_svg_local_time(int64_t us, int tz_offset_s, char *out, size_t cap)
{
	char iso[40];

	if (ts_format_rfc3339(us + (int64_t)tz_offset_s * TS_US_PER_S, iso, sizeof(iso)) != 0) {
		snprintf(out, cap, "?");
		return;
	}
	/* "YYYY-MM-DDTHH:MM:SS…Z" → "YYYY-MM-DD HH:MM" */
	snprintf(out, cap, "%.10s %.5s", iso, iso + 11);
}

/* ---- chart ---------------------------------------------------------------------------- */

struct frame {
	int64_t t0, t1;
	double y0, y1; /* °C at the bottom and top */
};

static double fx(const struct frame *f, int64_t t)
{
	return ML + (CW - ML - MR) * (double)(t - f->t0) / (double)(f->t1 - f->t0);
}

static double fy(const struct frame *f, double v)
{
	return MT + (CH - MT - MB) * (f->y1 - v) / (f->y1 - f->y0);
}

static double nice_step(double range, int ticks)
{
	static const double steps[] = {0.5, 1, 2, 5, 10, 20, 50, 100};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (range / steps[i] <= ticks)
			return steps[i];
	return 200;
}

static void y_range(const struct report_chart *c, struct frame *f)
{
	double lo = INFINITY, hi = -INFINITY, step;

	for (int p = 0; p < REPORT_PROBES; p++) {
		if (!c->s->v[p])
			continue;
		for (size_t i = 0; i < c->s->n; i++) {
			double v = c->s->v[p][i];
			if (isfinite(v)) {
				lo = v < lo ? v : lo;
				hi = v > hi ? v : hi;
			}
		}
	}
	if (isfinite(c->band_lo))
		lo = c->band_lo < lo ? c->band_lo : lo;
	if (isfinite(c->band_hi))
		hi = c->band_hi > hi ? c->band_hi : hi;
	if (!isfinite(lo) || !isfinite(hi)) {
		lo = 0;
		hi = 10;
	}
	step = nice_step(hi - lo + 2, 8);
	f->y0 = floor((lo - 0.5) / step) * step;
	f->y1 = ceil((hi + 0.5) / step) * step;
	if (f->y1 - f->y0 < step)
		f->y1 = f->y0 + step;
}

static int64_t x_step_us(int64_t span_us)
{
	static const int64_t hours[] = {1, 2, 3, 6, 12, 24, 48, 96, 168, 336, 720};
	for (size_t i = 0; i < sizeof(hours) / sizeof(hours[0]); i++)
		if (span_us / (hours[i] * 3600 * TS_US_PER_S) <= 8)
			return hours[i] * 3600 * TS_US_PER_S;
	return 1440 * 3600 * TS_US_PER_S;
}

static void axes(struct svg *g, xmlNodePtr root, const struct report_chart *c,
		 const struct frame *f)
{
	xmlNodePtr grid = el(g, root, "g"), labels;
	double step = nice_step(f->y1 - f->y0, 8);
	int64_t xs = x_step_us(f->t1 - f->t0), off = (int64_t)c->tz_offset_s * TS_US_PER_S;
	int64_t t;
	struct strbuf b = {0};

	attr(g, grid, "class", "grid");
	labels = el(g, root, "g");
	attr(g, labels, "class", "ticks");
	for (double v = f->y0; v <= f->y1 + 1e-9; v += step) {
		char s[32];
		strbuf_printf(&b, "M%.1f %.1fH%.1f", ML, fy(f, v), CW - MR);
		snprintf(s, sizeof(s), "%g", fabs(v) < 1e-9 ? 0.0 : v);
		text_el(g, labels, ML - 6, fy(f, v) + 4, "end", NULL, s);
	}
	/* Ticks on local midnights and hours: align in local time. */
	t = ((f->t0 + off + xs - 1) / xs) * xs - off;
	if (xs < 24 * 3600 * TS_US_PER_S)
		t = ((f->t0 + off + xs - 1) / xs) * xs - off;
	for (; t <= f->t1; t += xs) {
		char s[24];
		double x = fx(f, t);
		strbuf_printf(&b, "M%.1f %.1fV%.1f", x, MT, CH - MB);
		report_svg_local_time(t, c->tz_offset_s, s, sizeof(s));
		/* "MM-DD HH:MM" */
		text_el(g, labels, x, CH - MB + 16, "middle", NULL, s + 5);
	}
	if (!b.oom && b.p) {
		xmlNodePtr p = el(g, grid, "path");
		attr(g, p, "d", b.p);
	} else if (b.oom) {
		g->oom = true;
	}
	free(b.p);
	{
		xmlNodePtr frame = rect(g, root, ML, MT, CW - ML - MR, CH - MT - MB, "none", NULL);
		attr(g, frame, "class", "frame");
	}
	text_el(g, root, ML, MT - 10, "start", "title", c->title);
	text_el(g, root, CW - MR, MT - 10, "end", "axis", c->axis_label);
}

static void shade(struct svg *g, xmlNodePtr parent, const struct frame *f, int64_t a, int64_t b,
		  const char *fill, const char *opacity, const char *cls)
{
	xmlNodePtr r;

	if (b < f->t0 || a > f->t1)
		return;
	a = a < f->t0 ? f->t0 : a;
	b = b > f->t1 ? f->t1 : b;
	r = rect(g, parent, fx(f, a), MT, fx(f, b) - fx(f, a), CH - MT - MB, fill, opacity);
	if (cls)
		attr(g, r, "class", cls);
}

/* Width of text at the legend's 12 px: about 7 px a Latin character, 12.5 a CJK one
 * (counted by UTF-8 lead bytes, so a 3-byte character is counted once). */
static double text_width(const char *s)
{
	double w = 0;

	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if ((*p & 0xC0) == 0x80)
			continue;
		w += *p >= 0xE0 ? 12.5 : 7.0;
	}
	return w;
}

static void legend_item(struct svg *g, xmlNodePtr parent, double *x, double y, const char *fill,
			const char *label, bool line)
{
	xmlNodePtr sw;

	if (line) {
		sw = el(g, parent, "path");
		attrf(g, sw, "d", "M%.1f %.1fh18", *x, y - 4);
		attr(g, sw, "stroke", fill);
		attr(g, sw, "stroke-width", "3");
	} else {
		sw = rect(g, parent, *x, y - 10, 18, 11, fill, NULL);
	}
	text_el(g, parent, *x + 22, y, "start", NULL, label);
	*x += 34 + text_width(label);
}

int report_svg_chart(const struct report_chart *c, xmlNodePtr *out)
{
	struct svg g = {0};
	struct frame f;
	xmlNodePtr root = NULL, plot, lines, legend, defs, pat, hp;
	struct decimate_point *pts = NULL;
	struct decimate_params dp;
	struct strbuf b = {0};
	char id[96];
	double lx, ly;
	int rc = -1;

	if (!c || !c->s || !out || c->max_gap_us <= 0)
		return -1;
	*out = NULL;
	f.t0 = c->from_us ? c->from_us : (c->s->n ? c->s->t_us[0] : 0);
	f.t1 = c->to_us ? c->to_us : (c->s->n ? c->s->t_us[c->s->n - 1] : 1);
	if (f.t1 <= f.t0)
		f.t1 = f.t0 + 3600 * TS_US_PER_S;
	y_range(c, &f);
	root = svg_root(&g, CW, CH, "chart", c->title);
	if (!root)
		return -1;
	defs = el(&g, root, "defs");
	pat = el(&g, defs, "pattern");
	snprintf(id, sizeof(id), "%s-hatch", c->id ? c->id : "chart");
	attr(&g, pat, "id", id);
	attr(&g, pat, "patternUnits", "userSpaceOnUse");
	attr(&g, pat, "width", "8");
	attr(&g, pat, "height", "8");
	rect(&g, pat, 0, 0, 8, 8, "#eeeeee", NULL);
	hp = el(&g, pat, "path");
	attr(&g, hp, "d", "M0 8L8 0M-2 2L2 -2M6 10L10 6");
	attr(&g, hp, "stroke", "#9a9a9a");
	attr(&g, hp, "stroke-width", "1.2");

	plot = el(&g, root, "g");
	attr(&g, plot, "class", "areas");
	if (isfinite(c->band_lo) && isfinite(c->band_hi)) {
		double y1 = fy(&f, c->band_hi), y0 = fy(&f, c->band_lo);
		xmlNodePtr band = rect(&g, plot, ML, y1, CW - ML - MR, y0 - y1, "#2e9e44", "0.12");
		attr(&g, band, "class", "band");
	}
	for (size_t i = 0; i < c->n_excursions; i++)
		shade(&g, plot, &f, c->excursions[i].from, c->excursions[i].to, "#d62728", "0.22",
		      "excursion");
	snprintf(id, sizeof(id), "url(#%s-hatch)", c->id ? c->id : "chart");
	for (size_t i = 0; i < c->n_gaps; i++)
		shade(&g, plot, &f, c->gaps[i].from, c->gaps[i].to, id, NULL, "gap");
	for (size_t i = 1; i < c->s->n; i++)
		if (c->s->t_us[i] - c->s->t_us[i - 1] > c->max_gap_us)
			shade(&g, plot, &f, c->s->t_us[i - 1], c->s->t_us[i], id, NULL, "gap");
	axes(&g, root, c, &f);

	pts = malloc((c->s->n ? c->s->n : 1) * sizeof(*pts));
	if (!pts)
		goto out;
	dp.buckets = c->buckets ? c->buckets : 500;
	dp.max_gap = c->max_gap_us;
	dp.keep = c->excursions;
	dp.n_keep = c->n_excursions;
	lines = el(&g, root, "g");
	attr(&g, lines, "class", "lines");
	attr(&g, lines, "fill", "none");
	for (int p = REPORT_PROBES - 1; p >= 0; p--) { /* product last: drawn on top */
		size_t n = 0;
		xmlNodePtr path;

		if (!c->s->v[p])
			continue;
		if (decimate_run(c->s->t_us, c->s->v[p], c->s->n, &dp, pts, &n) != 0)
			goto out;
		b.len = 0;
		for (size_t k = 0; k < n; k++) {
			size_t i = pts[k].i;
			strbuf_printf(&b, "%s%.1f %.1f", pts[k].brk ? (k ? "M" : "M") : "L",
				fx(&f, c->s->t_us[i]), fy(&f, c->s->v[p][i]));
		}
		if (b.oom)
			goto out;
		if (!n)
			continue;
		path = el(&g, lines, "path");
		attr(&g, path, "d", b.p);
		attr(&g, path, "stroke", colors[p]);
		attr(&g, path, "stroke-width", p == 0 ? "2" : "1.2");
		attr(&g, path, "stroke-linejoin", "round");
		attrf(&g, path, "data-probe", "%s", report_probe_name(p));
		attrf(&g, path, "data-points", "%zu", n);
	}

	legend = el(&g, root, "g");
	attr(&g, legend, "class", "legend");
	lx = ML;
	ly = CH - MB + 40;
	for (int p = 0; p < REPORT_PROBES; p++) {
		if (!c->s->v[p])
			continue;
		if (lx > CW - 160) {
			lx = ML;
			ly += 18;
		}
		legend_item(&g, legend, &lx, ly, colors[p],
			    c->probe_label[p] ? c->probe_label[p] : report_probe_name(p), true);
	}
	if (lx > CW - 300) {
		lx = ML;
		ly += 18;
	}
	{
		xmlNodePtr band = rect(&g, legend, lx, ly - 10, 18, 11, "#2e9e44", "0.25");
		(void)band;
		text_el(&g, legend, lx + 22, ly, "start", NULL, c->band_label);
		lx += 34 + text_width(c->band_label);
		legend_item(&g, legend, &lx, ly, "#f2b8b8", c->excursion_label, false);
		if (lx > CW - 120) {
			lx = ML;
			ly += 18;
		}
		legend_item(&g, legend, &lx, ly, id, c->gap_label, false);
	}
	if (g.oom)
		goto out;
	*out = root;
	root = NULL;
	rc = 0;
out:
	free(pts);
	free(b.p);
	xmlFreeNode(root);
	return rc;
}

/* ---- map ------------------------------------------------------------------------------ */

struct proj {
	double lat0, lon0, kx, scale, ox, oy;
};

static double px(const struct proj *p, double lon)
{
	return p->ox + (lon - p->lon0) * p->kx * p->scale;
}

static double py(const struct proj *p, double lat)
{
	return p->oy - (lat - p->lat0) * p->scale;
}

/* Union of two sorted index lists (both from decimate_run), into out. */
static size_t merge(const struct decimate_point *a, size_t na, const struct decimate_point *b,
		    size_t nb, struct decimate_point *out)
{
	size_t i = 0, j = 0, n = 0;

	while (i < na || j < nb) {
		if (j >= nb || (i < na && a[i].i < b[j].i))
			out[n++] = a[i++];
		else if (i >= na || b[j].i < a[i].i)
			out[n++] = b[j++];
		else {
			out[n] = a[i++];
			out[n++].brk |= b[j++].brk;
		}
	}
	return n;
}

int report_svg_map(const struct report_map *m, xmlNodePtr *out)
{
	struct svg g = {0};
	xmlNodePtr root = NULL, track, marks, legend;
	struct decimate_point *a = NULL, *bb = NULL, *u = NULL;
	struct decimate_params dp;
	struct strbuf b = {0};
	struct proj pr;
	double lat_lo = INFINITY, lat_hi = -INFINITY, lon_lo = INFINITY, lon_hi = -INFINITY;
	size_t na = 0, nb = 0, nu = 0, n;
	int rc = -1;

	if (!m || !m->s || !out || m->max_gap_us <= 0)
		return -1;
	*out = NULL;
	n = m->s->n;
	for (size_t i = 0; i < n; i++)
		if (isfinite(m->s->lat[i]) && isfinite(m->s->lon[i])) {
			lat_lo = fmin(lat_lo, m->s->lat[i]);
			lat_hi = fmax(lat_hi, m->s->lat[i]);
			lon_lo = fmin(lon_lo, m->s->lon[i]);
			lon_hi = fmax(lon_hi, m->s->lon[i]);
		}
	for (size_t i = 0; i < m->n_stops; i++)
		if (isfinite(m->stops[i].lat) && isfinite(m->stops[i].lon)) {
			lat_lo = fmin(lat_lo, m->stops[i].lat);
			lat_hi = fmax(lat_hi, m->stops[i].lat);
			lon_lo = fmin(lon_lo, m->stops[i].lon);
			lon_hi = fmax(lon_hi, m->stops[i].lon);
		}
	root = svg_root(&g, MW, MH, "map", m->title);
	if (!root)
		return -1;
	rect(&g, root, 0, 0, MW, MH, "#eef3f7", NULL);
	if (!isfinite(lat_lo)) {
		text_el(&g, root, MW / 2, MH / 2, "middle", "axis", m->note);
		goto done;
	}
	/* Equirectangular: x ∝ lon·cos(mid latitude), y ∝ lat; fitted, aspect kept. */
	pr.lat0 = (lat_lo + lat_hi) / 2;
	pr.lon0 = (lon_lo + lon_hi) / 2;
	pr.kx = cos(pr.lat0 * M_PI / 180.0);
	{
		double w = fmax((lon_hi - lon_lo) * pr.kx, 1e-4), h = fmax(lat_hi - lat_lo, 1e-4);
		pr.scale = fmin((MW - 2 * MM - 80) / w, (MH - 2 * MM - 30) / h);
		pr.ox = MW / 2;
		pr.oy = (MH - 20) / 2;
	}
	/* A graticule every whole or half degree, as the only background. */
	{
		struct strbuf gb = {0};
		double step = (lat_hi - lat_lo) > 4 || (lon_hi - lon_lo) > 4 ? 1.0 : 0.5;
		xmlNodePtr gr;
		for (double v = floor(lat_lo - 2); v <= lat_hi + 2; v += step)
			strbuf_printf(&gb, "M0 %.1fH%.0f", py(&pr, v), MW);
		for (double v = floor(lon_lo - 4); v <= lon_hi + 4; v += step)
			strbuf_printf(&gb, "M%.1f 0V%.0f", px(&pr, v), MH);
		if (gb.oom) {
			free(gb.p);
			goto out;
		}
		gr = el(&g, root, "path");
		attr(&g, gr, "d", gb.p);
		attr(&g, gr, "class", "graticule");
		free(gb.p);
	}
	a = malloc((n ? n : 1) * sizeof(*a));
	bb = malloc((n ? n : 1) * sizeof(*bb));
	u = malloc((2 * n + 1) * sizeof(*u));
	if (!a || !bb || !u)
		goto out;
	dp.buckets = m->buckets ? m->buckets : 500;
	dp.max_gap = m->max_gap_us;
	dp.keep = NULL;
	dp.n_keep = 0;
	if (n && (decimate_run(m->s->t_us, m->s->lat, n, &dp, a, &na) != 0 ||
		  decimate_run(m->s->t_us, m->s->lon, n, &dp, bb, &nb) != 0))
		goto out;
	nu = merge(a, na, bb, nb, u);
	for (size_t k = 0; k < nu; k++) {
		size_t i = u[k].i;
		if (!isfinite(m->s->lat[i]) || !isfinite(m->s->lon[i]))
			continue;
		strbuf_printf(&b, "%s%.1f %.1f", (u[k].brk || !b.len) ? "M" : "L", px(&pr, m->s->lon[i]),
			py(&pr, m->s->lat[i]));
	}
	if (b.oom)
		goto out;
	if (b.len) {
		track = el(&g, root, "path");
		attr(&g, track, "d", b.p);
		attr(&g, track, "class", "track");
		attr(&g, track, "fill", "none");
		attr(&g, track, "stroke", "#1f5fbf");
		attr(&g, track, "stroke-width", "2.5");
		attrf(&g, track, "data-points", "%zu", nu);
	}
	marks = el(&g, root, "g");
	attr(&g, marks, "class", "stops");
	for (size_t i = 0; i < m->n_stops; i++) {
		const struct report_map_stop *s = &m->stops[i];
		static const char *const fill[3] = {"#2e9e44", "#1f5fbf", "#e07b00"};
		double x, y;
		xmlNodePtr c;
		bool right;

		if (!isfinite(s->lat) || !isfinite(s->lon))
			continue;
		x = px(&pr, s->lon);
		y = py(&pr, s->lat);
		c = el(&g, marks, "circle");
		attrf(&g, c, "cx", "%.1f", x);
		attrf(&g, c, "cy", "%.1f", y);
		attr(&g, c, "r", s->kind == REPORT_STOP_HANDOFF ? "6" : "8");
		attr(&g, c, "fill", fill[s->kind]);
		attr(&g, c, "stroke", "#ffffff");
		attr(&g, c, "stroke-width", "2");
		right = x < MW * 0.6;
		text_el(&g, marks, right ? x + 12 : x - 12,
			y + (s->kind == REPORT_STOP_UNLOAD ? 18 : -8), right ? "start" : "end",
			"label", s->label);
	}
done:
	legend = el(&g, root, "g");
	attr(&g, legend, "class", "legend");
	{
		double lx = 12, ly = MH - 10;
		static const char *const fill[3] = {"#2e9e44", "#1f5fbf", "#e07b00"};
		for (int k = 0; k < 3; k++) {
			xmlNodePtr c = el(&g, legend, "circle");
			attrf(&g, c, "cx", "%.1f", lx + 6);
			attrf(&g, c, "cy", "%.1f", ly - 4);
			attr(&g, c, "r", "6");
			attr(&g, c, "fill", fill[k]);
			text_el(&g, legend, lx + 16, ly, "start", NULL, m->kind_label[k]);
			lx += 40 + text_width(m->kind_label[k]);
		}
		if (isfinite(lat_lo)) {
			char s[96];
			snprintf(s, sizeof(s), "%.2f–%.2f°N %.2f–%.2f°E", lat_lo, lat_hi, lon_lo,
				 lon_hi);
			text_el(&g, legend, MW - 12, ly, "end", "axis", s);
			text_el(&g, root, 12, 20, "start", "axis", m->note);
		}
	}
	if (g.oom)
		goto out;
	*out = root;
	root = NULL;
	rc = 0;
out:
	free(a);
	free(bb);
	free(u);
	free(b.p);
	xmlFreeNode(root);
	return rc;
}
