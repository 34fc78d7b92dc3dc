/*
 * report_csv: the FDA FSMA 204 electronic sortable spreadsheet (21 CFR 1.1455(c)(3)(ii)) of a
 * lot or a shipment: RFC 4180 CSV in UTF-8, a header row, then one row per lot per critical
 * tracking event (harvesting, cooling, initial packing, shipping, receiving, transformation)
 * with its key data elements (domain.md §2.1). Events that are not CTEs (palletising, sensor
 * reports, put-away) stay in the HTML timeline only.
 *
 * The rows come from the same ct_report_data JSON as the HTML report, so the two never
 * disagree and the CSV is buyer-safe the same way (no personal data, no phone numbers).
 * Location descriptions are given as name, GLN and address; the TLC source as the GLN and
 * name of the place where the lot code was assigned.
 */
#include "strbuf.h"
#include "report_csv.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "report_data.h"
#include "trace.h"

static const char *const header[] = {
    "TLC GTIN",
    "TLC lot",
    "Product description",
    "Commodity",
    "Quantity",
    "Unit of measure",
    "Critical tracking event",
    "Event date/time (UTC)",
    "Location name",
    "Location GLN",
    "Location address",
    "Ship-from / immediate previous source",
    "Ship-from / previous source GLN",
    "Ship-to / immediate subsequent recipient",
    "Ship-to / subsequent recipient GLN",
    "TLC source",
    "TLC source GLN",
    "Field / growing area",
    "Harvest date",
    "Reference document type",
    "Reference document number",
    "Input TLCs (GTIN/lot quantity UOM)",
    "Shipment",
};
#define N_COLS (sizeof(header) / sizeof(header[0]))

/* One field, quoted when it holds a comma, a quote, CR or LF (RFC 4180 §2.6), quotes
 * doubled (§2.7). A leading = + - @ is not a formula to a spreadsheet only if quoted and
 * prefixed; our values (names, codes, numbers) never start with = + @, and a negative
 * quantity cannot occur (CHECK quantity >= 0). */
static void field(struct strbuf *o, const char *s, bool first)
{
	if (!first)
		strbuf_addn(o, ",", 1);
	if (!s)
		return;
	if (strpbrk(s, ",\"\r\n") == NULL) {
		strbuf_addn(o, s, strlen(s));
		return;
	}
	strbuf_addn(o, "\"", 1);
	for (const char *q = s; *q; q++) {
		if (*q == '"')
			strbuf_addn(o, "\"\"", 2);
		else
			strbuf_addn(o, q, 1);
	}
	strbuf_addn(o, "\"", 1);
}

static void address(const struct report_data *d, int site, char *out, size_t cap)
{
	static const char *const keys[] = {"address", "city", "region", "country"};
	size_t at = 0;

	out[0] = '\0';
	for (size_t i = 0; i < 4 && at < cap; i++) {
		const char *v = report_str(d, site, keys[i]);
		if (v && *v)
			at += (size_t)snprintf(out + at, cap - at, "%s%s", at ? ", " : "", v);
	}
}

/* The lot's entry in "lots" (for its description, TLC source, field). */
static int lot_info(const struct report_data *d, const char *gtin, const char *lot)
{
	int arr = report_node(d, 0, "lots");

	for (int l = report_first(d, arr); l >= 0; l = report_next(d, arr, l)) {
		const char *g = report_str(d, l, "gtin"), *t = report_str(d, l, "lot");
		if (g && t && gtin && lot && !strcmp(g, gtin) && !strcmp(t, lot))
			return l;
	}
	return -1;
}

static void row(struct strbuf *o, const struct report_data *d, int e)
{
	const char *gtin = report_str(d, e, "gtin"), *lot = report_str(d, e, "lot");
	const char *cte = report_str(d, e, "cte");
	int info = lot_info(d, gtin, lot), site = report_node(d, e, "site");
	int src = report_node(d, e, "source"), dst = report_node(d, e, "destination");
	int tls = report_node(d, info, "tlc_source"), bt = report_node(d, e, "biz_transactions");
	int in = report_node(d, e, "inputs");
	char addr[512], types[256], ids[512], inputs[1024], harvest[16];
	size_t at_t = 0, at_i = 0, at_in = 0;
	const char *com = report_str(d, info, "commodity");

	/* Shipping: from = where it happened; receiving: to = where it happened. */
	if (cte && !strcmp(cte, "shipping") && src < 0)
		src = site;
	if (cte && !strcmp(cte, "receiving") && dst < 0)
		dst = site;
	if (site < 0)
		site = cte && !strcmp(cte, "receiving") ? dst : src;
	address(d, site, addr, sizeof(addr));
	types[0] = ids[0] = inputs[0] = harvest[0] = '\0';
	for (int b = report_first(d, bt); b >= 0; b = report_next(d, bt, b)) {
		const char *t = report_str(d, b, "type"), *i = report_str(d, b, "id");
		if (at_t < sizeof(types))
			at_t += (size_t)snprintf(types + at_t, sizeof(types) - at_t, "%s%s",
						 at_t ? "; " : "", t ? t : "");
		if (at_i < sizeof(ids))
			at_i += (size_t)snprintf(ids + at_i, sizeof(ids) - at_i, "%s%s",
						 at_i ? "; " : "", i ? i : "");
	}
	for (int i = report_first(d, in); i >= 0 && at_in < sizeof(inputs);
	     i = report_next(d, in, i)) {
		const char *q = report_str(d, i, "quantity"), *u = report_str(d, i, "uom");
		at_in += (size_t)snprintf(inputs + at_in, sizeof(inputs) - at_in, "%s%s/%s%s%s%s%s",
					  at_in ? "; " : "", report_str(d, i, "gtin"),
					  report_str(d, i, "lot"), q ? " " : "", q ? q : "",
					  u ? " " : "", u ? u : "");
	}
	if (report_str(d, info, "harvest_start"))
		snprintf(harvest, sizeof(harvest), "%.10s", report_str(d, info, "harvest_start"));

	field(o, gtin, true);
	field(o, lot, false);
	field(o, report_str(d, info, "description"), false);
	field(o, com, false);
	field(o, report_str(d, e, "quantity"), false);
	field(o, report_str(d, e, "uom"), false);
	field(o, cte, false);
	field(o, report_str(d, e, "time"), false);
	field(o, report_str(d, site, "name"), false);
	field(o, report_str(d, site, "gln"), false);
	field(o, addr, false);
	field(o, report_str(d, src, "name"), false);
	field(o, report_str(d, src, "gln"), false);
	field(o, report_str(d, dst, "name"), false);
	field(o, report_str(d, dst, "gln"), false);
	field(o, report_str(d, tls, "name"), false);
	field(o, report_str(d, tls, "gln"), false);
	field(o, report_str(d, info, "field"), false);
	field(o, harvest, false);
	field(o, types, false);
	field(o, ids, false);
	field(o, inputs, false);
	field(o, report_str(d, e, "shipment"), false);
	strbuf_addn(o, "\r\n", 2);
}

/* A transformation's row is its output lot's; the lots it used are listed in that row as
 * input TLCs (FSMA §1.1350), not given rows of their own. */
static bool consumed(const struct report_data *d, int e)
{
	const char *cte = report_str(d, e, "cte"), *role = report_str(d, e, "role");

	return role && !strcmp(role, "input") &&
	       (!strcmp(cte, "initial_packing") || !strcmp(cte, "transformation"));
}

int report_csv(struct db *db, const struct trace_scope *scope, char **out, size_t *len)
{
	struct report_data *d = NULL;
	struct strbuf o = {0};
	int rc, arr;

	if (!db || !scope || !out || !len)
		return -1;
	*out = NULL;
	*len = 0;
	rc = report_data_load(db, scope, &d);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < N_COLS; i++)
		field(&o, header[i], i == 0);
	strbuf_addn(&o, "\r\n", 2);
	arr = report_node(d, 0, "events");
	for (int e = report_first(d, arr); e >= 0; e = report_next(d, arr, e))
		if (report_str(d, e, "cte") && !consumed(d, e))
			row(&o, d, e);
	report_data_free(d);
	if (o.oom) {
		log_error("report: out of memory writing the CSV report");
		free(o.p);
		return -1;
	}
	*out = o.p;
	*len = o.len;
	return 0;
}
