/*
 * report_svg: the report's pictures as libxml2 nodes in the SVG namespace, ready to be added
 * to an XHTML tree: the temperature chart of a leg (every probe against local time, the
 * commodity's band, excursions shaded, gaps as breaks over a hatched band) and its route map
 * (the GPS track in an equirectangular projection fitted to the box, with load, unload and
 * handoff markers). Self-contained: no external fonts, tiles or scripts.
 */
#ifndef COLDTRACE_REPORT_SVG_H
#define COLDTRACE_REPORT_SVG_H

#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

#include "decimate.h"
#include "report_data.h"

struct report_chart {
	const struct report_series *s;		  /* lent */
	const char *probe_label[REPORT_PROBES];	  /* legend text per probe */
	double band_lo, band_hi;		  /* commodity range, °C; NAN for none */
	const struct decimate_window *excursions; /* µs, sorted; end = to_us when open */
	size_t n_excursions;
	const struct decimate_window *gaps; /* µs: recorded gaps (shipment_figures.gaps) */
	size_t n_gaps;
	int64_t max_gap_us; /* readings further apart break the line (config max_sample_gap_s) */
	int64_t from_us, to_us; /* x range; 0 = the series' own */
	int tz_offset_s;	/* local time of the labels, e.g. 8 * 3600 */
	size_t buckets;		/* decimation buckets per probe (points <= 4 * buckets + kept) */
	const char *id;		/* unique prefix of the element ids in the document */
	const char *title, *axis_label, *band_label, *excursion_label, *gap_label;
};

/* Builds the chart's <svg>. *out is the caller's (xmlFreeNode, or hand it to a parent).
 * 0, or -1 on a bad argument or allocation failure. */
int report_svg_chart(const struct report_chart *c, xmlNodePtr *out);

enum report_stop_kind { REPORT_STOP_LOAD, REPORT_STOP_UNLOAD, REPORT_STOP_HANDOFF };

struct report_map_stop {
	double lat, lon;
	enum report_stop_kind kind;
	const char *label;
};

struct report_map {
	const struct report_series *s; /* lat/lon of the track, lent */
	const struct report_map_stop *stops;
	size_t n_stops;
	int64_t max_gap_us;
	size_t buckets;
	const char *id, *title, *note;
	const char *kind_label[3]; /* legend: load, unload, handoff */
};

int report_svg_map(const struct report_map *m, xmlNodePtr *out);

/* Local time of us at tz_offset_s as "YYYY-MM-DD HH:MM" (cap >= 17). */
void report_svg_local_time(int64_t us, int tz_offset_s, char *out, size_t cap);

#endif
