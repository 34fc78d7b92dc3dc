/*
 * epcis_export: every event of a lot or a shipment as one EPCIS 2.0 document, built with the
 * libxml2 tree API. A lot's scope is its events and those of every lot it was made from
 * (ct_trace_lots backward: harvest, cooling and packing come along); a shipment's is its
 * events and those of the lots it carried (sql/epcis.sql, ct_epcis_scope_events).
 *
 * Temperature goes out as per-leg summaries, never raw series: for each shipment in scope
 * that has readings, one generated ObjectEvent (bizStep sensor_reporting, disposition
 * in_transit, at the end of the leg) whose sensorElementList holds the leg summary
 * (min/max/mean from shipment_figures, else from the readings; coverage as the extension
 * attribute ct:coverage on sensorMetadata; relative humidity when recorded) and one
 * sensorElement per excursion (exception gs1:ALARM_CONDITION, its start, end and peak).
 *
 * DESIGN: the output is a function of the stored data only, so export → import → export is
 * byte-identical, into a fresh database or the same one:
 *  - every event carries <eventID> = its event_key, so a re-import finds the same identity;
 *  - events are ordered by (UTC time, event key), never by database ids;
 *  - creationDate is the latest eventTime of the document, not the clock;
 *  - unmodelled elements come back from extra_xml (stored canonically by the importer) and
 *    are merged into the XSD's element order of each event type;
 *  - a generated leg event has the eventID urn:coldtrace:leg:<shipment>; a stored event with
 *    that key (a leg event that came back through import) is left out when the leg is
 *    generated again from the readings, and exported as stored when it is not (a database
 *    that has the document but not the readings).
 * GS1 keys stored as digits go out as GS1 Digital Link URIs (the database does not know
 * where a company prefix ends, which an EPC URN needs); identifiers stored as given go out
 * as given. Buyer-safe: devices appear as urn:coldtrace:device:<id>, vehicles by label.
 */
#include "epcis_export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "db.h"
#include "gs1.h"
#include "log.h"
#include "trace.h"
#include "xmldoc.h"

#define NS_EPCIS "urn:epcglobal:epcis:xsd:2"
#define NS_CT "urn:coldtrace:epcis"
#define LEG_PREFIX "urn:coldtrace:leg:"
#define RS '\x1e'
#define US '\x1f'

static const char *const sql_found_lot =
	"SELECT EXISTS (SELECT 1 FROM lots WHERE gtin = $1 AND lot = $2)"
	"    OR EXISTS (SELECT 1 FROM trace_items WHERE gtin = $1 AND lot = $2)";
static const char *const sql_found_shipment = "SELECT EXISTS (SELECT 1 FROM shipments WHERE id = $1)";

/* One row per shipment in scope that has readings. */
static const char *const sql_legs =
	"WITH sc AS ("
	"  SELECT e.shipment_id AS id FROM trace_events e"
	"   WHERE e.id IN (SELECT ct_epcis_scope_events($1, $2, $3)) AND e.shipment_id IS NOT NULL"
	"  UNION SELECT $3 WHERE $3 IS NOT NULL"
	") "
	"SELECT s.id, s.origin_gln, s.destination_gln,"
	"  ct_epcis_time(coalesce(f.from_time, r.first), '+00:00'),"
	"  ct_epcis_time(coalesce(f.to_time, r.last), '+00:00'),"
	"  to_char(coalesce(f.to_time, r.last) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'),"
	"  trim_scale(round(coalesce(f.min_c, r.tmin)::numeric, 2))::text,"
	"  trim_scale(round(coalesce(f.max_c, r.tmax)::numeric, 2))::text,"
	"  trim_scale(round(coalesce(f.mean_c, r.tmean)::numeric, 2))::text,"
	"  trim_scale(round(f.coverage::numeric, 3))::text,"
	"  trim_scale(round(r.rhmin::numeric, 1))::text, trim_scale(round(r.rhmax::numeric, 1))::text,"
	"  trim_scale(round(r.rhmean::numeric, 1))::text,"
	"  (SELECT a.device_id FROM device_assignments a WHERE a.shipment_id = s.id"
	"    ORDER BY lower(a.during), a.device_id LIMIT 1),"
	"  (SELECT v.label FROM device_assignments a JOIN devices d ON d.id = a.device_id"
	"     JOIN vehicles v ON v.id = d.vehicle_id WHERE a.shipment_id = s.id"
	"    ORDER BY lower(a.during), a.device_id LIMIT 1),"
	"  (SELECT string_agg(x, E'\\x1e' ORDER BY x) FROM (SELECT DISTINCT concat_ws(E'\\x1f',"
	"     'what', coalesce(i.epc, ''), coalesce(i.sscc, ''), coalesce(i.gtin, ''),"
	"     coalesce(i.lot, ''), coalesce(i.quantity::text, ''), coalesce(i.uom, '')) AS x"
	"     FROM trace_events e JOIN trace_items i ON i.event_id = e.id"
	"    WHERE e.shipment_id = s.id AND e.origin = 'device' AND e.biz_step = 'shipping') q),"
	"  (SELECT string_agg(concat_ws(E'\\x1f', ct_epcis_time(x.started_at, '+00:00'),"
	"     ct_epcis_time(coalesce(x.ended_at, x.started_at + make_interval(secs => x.duration_s)),"
	"       '+00:00'),"
	"     trim_scale(round(x.peak_c::numeric, 2))::text, x.direction),"
	"     E'\\x1e' ORDER BY x.started_at, x.id)"
	"     FROM excursions x WHERE x.shipment_id = s.id)"
	"  FROM sc JOIN shipments s ON s.id = sc.id"
	"  JOIN LATERAL (SELECT count(*) AS n, min(measured_at) AS first, max(measured_at) AS last,"
	"     min(coalesce(t_product, t_return)) AS tmin, max(coalesce(t_product, t_return)) AS tmax,"
	"     avg(coalesce(t_product, t_return)) AS tmean,"
	"     min(rh) AS rhmin, max(rh) AS rhmax, avg(rh) AS rhmean"
	"     FROM readings WHERE shipment_id = s.id) r ON r.n > 0"
	"  LEFT JOIN shipment_figures f ON f.shipment_id = s.id AND f.lot_key = ''"
	" ORDER BY s.id";

static const char *const sql_events =
	"SELECT e.event_key, e.type, e.action, e.biz_step, e.disposition,"
	"  ct_epcis_time(e.event_time, e.tz_offset), e.tz_offset, e.read_point, e.site_gln,"
	"  e.src_gln, e.dest_gln, e.parent_epc, e.parent_sscc, e.transformation_id,"
	"  ct_epcis_pairs_text(e.biz_transactions), ct_epcis_pairs_text(e.sources),"
	"  ct_epcis_pairs_text(e.destinations), e.extra_xml, ct_epcis_items_text(e.id),"
	"  to_char(e.event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
	"  FROM trace_events e"
	" WHERE e.id IN (SELECT ct_epcis_scope_events($1, $2, $3))"
	"   AND e.event_key <> ALL (string_to_array(coalesce($4, ''), E'\\x1e'))";

enum {
	EV_KEY, EV_TYPE, EV_ACTION, EV_BIZSTEP, EV_DISP, EV_TIME, EV_TZ, EV_READPOINT, EV_SITE,
	EV_SRC, EV_DEST, EV_PARENT, EV_PARENT_SSCC, EV_TRANSFORMATION, EV_BTX, EV_SOURCES,
	EV_DESTS, EV_EXTRA, EV_ITEMS, EV_SORT
};
enum {
	LEG_ID, LEG_ORIGIN, LEG_DEST, LEG_START, LEG_END, LEG_SORT, LEG_MIN, LEG_MAX, LEG_MEAN,
	LEG_COVERAGE, LEG_RHMIN, LEG_RHMAX, LEG_RHMEAN, LEG_DEVICE, LEG_VEHICLE, LEG_ITEMS,
	LEG_EXCURSIONS
};

/* The XSD's element order of each event type after the common header. */
static const char *const order_head[] = {"eventTime", "recordTime", "eventTimeZoneOffset",
					 "eventID", "errorDeclaration", "certificationInfo",
					 "baseExtension", NULL};
static const char *const order_object[] = {
	"epcList", "action", "bizStep", "disposition", "readPoint", "bizLocation",
	"bizTransactionList", "quantityList", "sourceList", "destinationList",
	"sensorElementList", "persistentDisposition", "ilmd", "extension", NULL};
static const char *const order_aggregation[] = {
	"parentID", "childEPCs", "action", "bizStep", "disposition", "readPoint", "bizLocation",
	"bizTransactionList", "childQuantityList", "sourceList", "destinationList",
	"sensorElementList", "persistentDisposition", "extension", NULL};
static const char *const order_transaction[] = {
	"bizTransactionList", "parentID", "epcList", "action", "bizStep", "disposition",
	"readPoint", "bizLocation", "quantityList", "sourceList", "destinationList",
	"sensorElementList", "persistentDisposition", "extension", NULL};
static const char *const order_transformation[] = {
	"inputEPCList", "inputQuantityList", "outputEPCList", "outputQuantityList",
	"transformationID", "bizStep", "disposition", "readPoint", "bizLocation",
	"bizTransactionList", "sourceList", "destinationList", "sensorElementList",
	"persistentDisposition", "ilmd", "extension", NULL};
static const char *const order_association[] = {
	"parentID", "childEPCs", "childQuantityList", "action", "bizStep", "disposition",
	"readPoint", "bizLocation", "bizTransactionList", "sourceList", "destinationList",
	"sensorElementList", "persistentDisposition", "extension", NULL};

static const char *const *order_of(const char *type)
{
	if (strcmp(type, "AggregationEvent") == 0)
		return order_aggregation;
	if (strcmp(type, "TransactionEvent") == 0)
		return order_transaction;
	if (strcmp(type, "TransformationEvent") == 0)
		return order_transformation;
	if (strcmp(type, "AssociationEvent") == 0)
		return order_association;
	return order_object;
}

static int rank_of(const char *const *order, xmlNodePtr n)
{
	if (n->ns)
		return 1000; /* user elements come last, in their stored order */
	for (int i = 0; order_head[i]; i++)
		if (strcmp((const char *)n->name, order_head[i]) == 0)
			return i;
	for (int i = 0; order[i]; i++)
		if (strcmp((const char *)n->name, order[i]) == 0)
			return 100 + i;
	return 999;
}

struct out_event {
	char *sort; /* "UTC time<TAB>event key": the document order */
	xmlNodePtr node;
};

struct ctx {
	struct db *db;
	xmlDocPtr doc;
	xmlNsPtr ct;
	struct out_event *ev;
	size_t n, cap;
	int oom;
};

static const char *cell(const struct db_res *r, int row, int col)
{
	const char *v = db_res_get(r, row, col);

	return v && *v ? v : NULL;
}

static xmlNodePtr add_text(struct ctx *c, xmlNodePtr parent, const char *name, const char *text)
{
	xmlNodePtr n = xmlNewTextChild(parent, NULL, (const xmlChar *)name, (const xmlChar *)text);

	if (!n)
		c->oom = 1;
	return n;
}

static void add_prop(struct ctx *c, xmlNodePtr n, const char *name, const char *value)
{
	if (n && value && !xmlNewProp(n, (const xmlChar *)name, (const xmlChar *)value))
		c->oom = 1;
}

static xmlNodePtr new_elem(struct ctx *c, const char *name)
{
	xmlNodePtr n = xmlNewDocNode(c->doc, NULL, (const xmlChar *)name, NULL);

	if (!n)
		c->oom = 1;
	return n;
}

/* A GS1 key held as digits, as a Digital Link URI. */
static const char *dl_of(enum gs1_kind kind, const char *digits, const char *ext, char *buf,
			 size_t cap)
{
	struct gs1_id id;

	if (gs1_id_from_digits(kind, digits, ext, 0, &id) < 0 ||
	    gs1_id_to_dl(&id, NULL, buf, cap) < 0)
		return digits; /* not a valid key: as stored */
	return buf;
}

/* Splits a record of n fields separated by US in place. */
static int split_fields(char *rec, char **f, int n)
{
	int k = 0;

	f[k++] = rec;
	for (char *p = rec; *p && k < n; p++) {
		if (*p == US) {
			*p = '\0';
			f[k++] = p + 1;
		}
	}
	for (int i = k; i < n; i++)
		f[i] = (char *)"";
	return k;
}

/* Next record of a RS-separated list (modified in place); NULL at the end. */
static char *next_record(char **cursor)
{
	char *s = *cursor, *e;

	if (!s)
		return NULL;
	e = strchr(s, RS);
	if (e) {
		*e = '\0';
		*cursor = e + 1;
	} else {
		*cursor = NULL;
	}
	return s;
}

/* An item record is a quantity element when it names a class (a lot, a class URI) or has a
 * quantity; otherwise an instance (epcList). */
static int item_is_class(char **f)
{
	return *f[3] || *f[5] || *f[6] || strncmp(f[1], "urn:epc:class:", 14) == 0 ||
	       strncmp(f[1], "urn:epc:idpat:", 14) == 0;
}

static const char *epc_list_name(const char *role)
{
	return strcmp(role, "child") == 0    ? "childEPCs"
	       : strcmp(role, "input") == 0  ? "inputEPCList"
	       : strcmp(role, "output") == 0 ? "outputEPCList"
					     : "epcList";
}

static const char *qty_list_name(const char *role)
{
	return strcmp(role, "child") == 0    ? "childQuantityList"
	       : strcmp(role, "input") == 0  ? "inputQuantityList"
	       : strcmp(role, "output") == 0 ? "outputQuantityList"
					     : "quantityList";
}

/* Adds the item lists (in record order, one list element per role and kind) to nodes. */
static int add_items(struct ctx *c, const char *items, xmlNodePtr *nodes, int *nn, int max)
{
	char *copy, *cursor, *rec;
	char buf[128];

	if (!items)
		return 0;
	copy = strdup(items);
	if (!copy)
		return c->oom = 1, -1;
	cursor = copy;
	while ((rec = next_record(&cursor))) {
		char *f[7];
		const char *list_name;
		xmlNodePtr list = NULL;
		int cls;

		split_fields(rec, f, 7);
		cls = item_is_class(f);
		list_name = cls ? qty_list_name(f[0]) : epc_list_name(f[0]);
		for (int i = 0; i < *nn; i++)
			if (strcmp((const char *)nodes[i]->name, list_name) == 0)
				list = nodes[i];
		if (!list) {
			if (*nn == max)
				break;
			list = nodes[(*nn)++] = new_elem(c, list_name);
			if (!list)
				break;
		}
		if (cls) {
			xmlNodePtr q = xmlNewChild(list, NULL, (const xmlChar *)"quantityElement", NULL);

			if (!q) {
				c->oom = 1;
				break;
			}
			add_text(c, q, "epcClass",
				 *f[3] ? dl_of(GS1_LGTIN, f[3], f[4], buf, sizeof(buf)) : f[1]);
			if (*f[5])
				add_text(c, q, "quantity", f[5]);
			if (*f[6])
				add_text(c, q, "uom", f[6]);
		} else {
			add_text(c, list, "epc",
				 *f[1] ? f[1] : dl_of(GS1_SSCC, f[2], NULL, buf, sizeof(buf)));
		}
	}
	free(copy);
	return c->oom ? -1 : 0;
}

/* bizTransactionList / sourceList / destinationList from "type<US>id<RS>…". */
static xmlNodePtr pairs_list(struct ctx *c, const char *list_name, const char *child,
			     const char *pairs)
{
	xmlNodePtr list;
	char *copy, *cursor, *rec;

	if (!pairs)
		return NULL;
	list = new_elem(c, list_name);
	copy = strdup(pairs);
	if (!list || !copy) {
		c->oom = 1;
		xmlFreeNode(list);
		free(copy);
		return NULL;
	}
	cursor = copy;
	while ((rec = next_record(&cursor))) {
		char *f[2];
		xmlNodePtr n;

		split_fields(rec, f, 2);
		n = add_text(c, list, child, f[1]);
		if (*f[0])
			add_prop(c, n, "type", f[0]);
	}
	free(copy);
	return list;
}

static xmlNodePtr location_list(struct ctx *c, const char *list_name, const char *child,
				const char *gln)
{
	char buf[128];
	xmlNodePtr list, n;

	if (!gln)
		return NULL;
	list = new_elem(c, list_name);
	if (!list)
		return NULL;
	n = add_text(c, list, child, dl_of(GS1_SGLN, gln, NULL, buf, sizeof(buf)));
	add_prop(c, n, "type", "urn:epcglobal:cbv:sdt:location");
	return list;
}

static xmlNodePtr id_elem(struct ctx *c, const char *name, const char *id)
{
	xmlNodePtr n = new_elem(c, name);

	if (n)
		add_text(c, n, "id", id);
	return n;
}

static int push_event(struct ctx *c, const char *sort_time, const char *key, xmlNodePtr node)
{
	size_t need;
	char *sort;

	if (!node)
		return -1;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct out_event *ev = realloc(c->ev, cap * sizeof(*ev));

		if (!ev) {
			xmlFreeNode(node);
			return c->oom = 1, -1;
		}
		c->ev = ev;
		c->cap = cap;
	}
	need = strlen(sort_time) + strlen(key) + 2;
	sort = malloc(need);
	if (!sort) {
		xmlFreeNode(node);
		return c->oom = 1, -1;
	}
	snprintf(sort, need, "%s\t%s", sort_time, key);
	c->ev[c->n].sort = sort;
	c->ev[c->n++].node = node;
	return 0;
}

static void repoint_ns(xmlNodePtr n, xmlNsPtr from, xmlNsPtr to)
{
	for (; n; n = n->next) {
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (n->ns == from)
			n->ns = to;
		for (xmlAttrPtr a = n->properties; a; a = a->next)
			if (a->ns == from)
				a->ns = to;
		repoint_ns(n->children, from, to);
	}
}

/* A stored element declares the namespaces it uses; those the document root declares alike
 * are dropped, so the element reads as it did in the document it came from. */
static void drop_redundant_ns(xmlNodePtr node, xmlNodePtr root)
{
	xmlNsPtr *pp = &node->nsDef;

	while (*pp) {
		xmlNsPtr ns = *pp, same = NULL;

		for (xmlNsPtr r = root->nsDef; r && ns->prefix; r = r->next)
			if (r->prefix && xmlStrEqual(r->prefix, ns->prefix) &&
			    xmlStrEqual(r->href, ns->href))
				same = r;
		if (!same) {
			pp = &ns->next;
			continue;
		}
		*pp = ns->next;
		ns->next = NULL;
		if (node->ns == ns)
			node->ns = same;
		for (xmlAttrPtr a = node->properties; a; a = a->next)
			if (a->ns == ns)
				a->ns = same;
		repoint_ns(node->children, ns, same);
		xmlFreeNs(ns);
	}
}

struct ranked {
	int rank, seq;
	xmlNodePtr node;
};

static int ranked_cmp(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;

	return x->rank != y->rank ? (x->rank > y->rank) - (x->rank < y->rank)
				  : (x->seq > y->seq) - (x->seq < y->seq);
}

/* One stored event as an element: the relational columns, merged with the extra_xml
 * elements in the XSD's order. */
static int build_event(struct ctx *c, const struct db_res *r, int row)
{
	const char *type = cell(r, row, EV_TYPE), *v;
	const char *const *order = order_of(type);
	xmlNodePtr ev, gen[32], extra[32];
	xmlDocPtr xdoc = NULL;
	struct ranked all[64];
	int ng = 0, nx = 0, n = 0, has_bizloc = 0, rc = -1;
	char buf[160];

	ev = new_elem(c, type);
	if (!ev)
		return -1;
	if ((v = cell(r, row, EV_EXTRA))) {
		size_t len = strlen(v) + 8;
		char *wrapped = malloc(len), err[256];

		if (!wrapped) {
			c->oom = 1;
			goto out;
		}
		snprintf(wrapped, len, "<x>%s</x>", v);
		if (xmldoc_parse(wrapped, strlen(wrapped), "extra_xml", &xdoc, err, sizeof(err)) <
		    0) {
			log_error("epcis_export: event %s: stored extra_xml unreadable: %s",
				  cell(r, row, EV_KEY), err);
			free(wrapped);
			goto out;
		}
		free(wrapped);
		for (xmlNodePtr x = xmlDocGetRootElement(xdoc)->children; x && nx < 32; x = x->next) {
			if (x->type != XML_ELEMENT_NODE)
				continue;
			extra[nx] = xmlDocCopyNode(x, c->doc, 1);
			if (!extra[nx]) {
				c->oom = 1;
				goto out;
			}
			drop_redundant_ns(extra[nx], xmlDocGetRootElement(c->doc));
			if (!x->ns && strcmp((const char *)x->name, "bizLocation") == 0)
				has_bizloc = 1;
			nx++;
		}
	}
	gen[ng++] = new_elem(c, "eventTime");
	xmlNodeAddContent(gen[ng - 1], (const xmlChar *)cell(r, row, EV_TIME));
	gen[ng++] = new_elem(c, "eventTimeZoneOffset");
	xmlNodeAddContent(gen[ng - 1], (const xmlChar *)cell(r, row, EV_TZ));
	gen[ng++] = new_elem(c, "eventID");
	xmlNodeAddContent(gen[ng - 1], (const xmlChar *)cell(r, row, EV_KEY));
	if ((v = cell(r, row, EV_PARENT)) || cell(r, row, EV_PARENT_SSCC)) {
		gen[ng++] = new_elem(c, "parentID");
		xmlNodeAddContent(gen[ng - 1],
				  (const xmlChar *)(v ? v
						      : dl_of(GS1_SSCC, cell(r, row, EV_PARENT_SSCC),
							      NULL, buf, sizeof(buf))));
	}
	if (add_items(c, cell(r, row, EV_ITEMS), gen, &ng, 24) < 0)
		goto out;
	if ((v = cell(r, row, EV_ACTION))) {
		gen[ng++] = new_elem(c, "action");
		xmlNodeAddContent(gen[ng - 1], (const xmlChar *)v);
	}
	if ((v = cell(r, row, EV_BIZSTEP))) {
		gen[ng++] = new_elem(c, "bizStep");
		if (!strchr(v, ':'))
			xmlNodeAddContent(gen[ng - 1], (const xmlChar *)"urn:epcglobal:cbv:bizstep:");
		xmlNodeAddContent(gen[ng - 1], (const xmlChar *)v);
	}
	if ((v = cell(r, row, EV_DISP))) {
		gen[ng++] = new_elem(c, "disposition");
		if (!strchr(v, ':'))
			xmlNodeAddContent(gen[ng - 1], (const xmlChar *)"urn:epcglobal:cbv:disp:");
		xmlNodeAddContent(gen[ng - 1], (const xmlChar *)v);
	}
	if ((v = cell(r, row, EV_READPOINT))) {
		/* A device's read point is a bare GLN. */
		if (strlen(v) == 13 && strspn(v, "0123456789") == 13)
			v = dl_of(GS1_SGLN, v, NULL, buf, sizeof(buf));
		gen[ng++] = id_elem(c, "readPoint", v);
	}
	if ((v = cell(r, row, EV_SITE)) && !has_bizloc)
		gen[ng++] = id_elem(c, "bizLocation", dl_of(GS1_SGLN, v, NULL, buf, sizeof(buf)));
	if ((v = cell(r, row, EV_BTX)))
		gen[ng++] = pairs_list(c, "bizTransactionList", "bizTransaction", v);
	if ((v = cell(r, row, EV_SOURCES)))
		gen[ng++] = pairs_list(c, "sourceList", "source", v);
	else if ((v = cell(r, row, EV_SRC)))
		gen[ng++] = location_list(c, "sourceList", "source", v);
	if ((v = cell(r, row, EV_DESTS)))
		gen[ng++] = pairs_list(c, "destinationList", "destination", v);
	else if ((v = cell(r, row, EV_DEST)))
		gen[ng++] = location_list(c, "destinationList", "destination", v);
	if ((v = cell(r, row, EV_TRANSFORMATION))) {
		gen[ng++] = new_elem(c, "transformationID");
		xmlNodeAddContent(gen[ng - 1], (const xmlChar *)v);
	}
	for (int i = 0; i < ng; i++) {
		if (!gen[i]) {
			c->oom = 1;
			goto out;
		}
		all[n].rank = rank_of(order, gen[i]);
		all[n].seq = n;
		all[n++].node = gen[i];
		gen[i] = NULL;
	}
	for (int i = 0; i < nx; i++) {
		all[n].rank = rank_of(order, extra[i]);
		all[n].seq = n;
		all[n++].node = extra[i];
		extra[i] = NULL;
	}
	qsort(all, (size_t)n, sizeof(all[0]), ranked_cmp);
	for (int i = 0; i < n; i++)
		xmlAddChild(ev, all[i].node);
	n = 0;
	if (push_event(c, cell(r, row, EV_SORT), cell(r, row, EV_KEY), ev) == 0)
		rc = 0;
	ev = NULL;
out:
	for (int i = 0; i < ng; i++)
		xmlFreeNode(gen[i]);
	for (int i = 0; i < nx; i++)
		xmlFreeNode(extra[i]);
	for (int i = 0; i < n; i++)
		xmlFreeNode(all[i].node);
	xmlFreeNode(ev);
	xmlFreeDoc(xdoc);
	return rc;
}

/* The eventID of a generated leg event: our URN with the shipment id percent-encoded. */
static void leg_key(const char *shipment, char *buf, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = (size_t)snprintf(buf, cap, "%s", LEG_PREFIX);

	for (const unsigned char *p = (const unsigned char *)shipment; *p && o + 4 < cap; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
			buf[o++] = (char)*p;
		} else {
			buf[o++] = '%';
			buf[o++] = hex[*p >> 4];
			buf[o++] = hex[*p & 15];
		}
	}
	buf[o] = '\0';
}

static xmlNodePtr sensor_report(struct ctx *c, xmlNodePtr se, const char *type)
{
	xmlNodePtr rep = xmlNewChild(se, NULL, (const xmlChar *)"sensorReport", NULL);

	if (!rep) {
		c->oom = 1;
		return NULL;
	}
	add_prop(c, rep, "type", type);
	return rep;
}

static xmlNodePtr sensor_metadata(struct ctx *c, xmlNodePtr se, const char *start,
				  const char *end, const char *device)
{
	xmlNodePtr md = xmlNewChild(se, NULL, (const xmlChar *)"sensorMetadata", NULL);
	char dev[128];

	if (!md) {
		c->oom = 1;
		return NULL;
	}
	add_prop(c, md, "startTime", start);
	add_prop(c, md, "endTime", end);
	if (device) {
		snprintf(dev, sizeof(dev), "urn:coldtrace:device:%s", device);
		add_prop(c, md, "deviceID", dev);
	}
	return md;
}

/* The generated sensor_reporting event of one leg. */
static int build_leg(struct ctx *c, const struct db_res *r, int row, char *key, size_t keycap)
{
	const char *end = cell(r, row, LEG_END), *start = cell(r, row, LEG_START);
	const char *device = cell(r, row, LEG_DEVICE), *v;
	xmlNodePtr ev, gen[8], list, se, md, rep;
	char *exc, *cursor, *rec;
	int ng = 0;

	leg_key(cell(r, row, LEG_ID), key, keycap);
	ev = new_elem(c, "ObjectEvent");
	if (!ev)
		return -1;
	add_text(c, ev, "eventTime", end);
	add_text(c, ev, "eventTimeZoneOffset", "+00:00");
	add_text(c, ev, "eventID", key);
	if (add_items(c, cell(r, row, LEG_ITEMS), gen, &ng, 4) < 0)
		goto fail;
	for (int i = 0; i < ng; i++) /* epcList before action, quantityList after */
		if (strcmp((const char *)gen[i]->name, "epcList") == 0)
			xmlAddChild(ev, gen[i]), gen[i] = NULL;
	add_text(c, ev, "action", "OBSERVE");
	add_text(c, ev, "bizStep", "urn:epcglobal:cbv:bizstep:sensor_reporting");
	add_text(c, ev, "disposition", "urn:epcglobal:cbv:disp:in_transit");
	for (int i = 0; i < ng; i++)
		if (gen[i])
			xmlAddChild(ev, gen[i]), gen[i] = NULL;
	if ((list = location_list(c, "sourceList", "source", cell(r, row, LEG_ORIGIN))))
		xmlAddChild(ev, list);
	if ((list = location_list(c, "destinationList", "destination", cell(r, row, LEG_DEST))))
		xmlAddChild(ev, list);
	list = xmlNewChild(ev, NULL, (const xmlChar *)"sensorElementList", NULL);
	se = list ? xmlNewChild(list, NULL, (const xmlChar *)"sensorElement", NULL) : NULL;
	if (!se)
		goto fail;
	md = sensor_metadata(c, se, start, end, device);
	if (md && (v = cell(r, row, LEG_COVERAGE)) &&
	    !xmlNewNsProp(md, c->ct, (const xmlChar *)"coverage", (const xmlChar *)v))
		c->oom = 1;
	rep = sensor_report(c, se, "gs1:Temperature");
	add_prop(c, rep, "minValue", cell(r, row, LEG_MIN));
	add_prop(c, rep, "maxValue", cell(r, row, LEG_MAX));
	add_prop(c, rep, "meanValue", cell(r, row, LEG_MEAN));
	add_prop(c, rep, "uom", "CEL");
	if (cell(r, row, LEG_RHMIN)) {
		rep = sensor_report(c, se, "gs1:RelativeHumidity");
		add_prop(c, rep, "minValue", cell(r, row, LEG_RHMIN));
		add_prop(c, rep, "maxValue", cell(r, row, LEG_RHMAX));
		add_prop(c, rep, "meanValue", cell(r, row, LEG_RHMEAN));
		add_prop(c, rep, "uom", "P1");
	}
	v = cell(r, row, LEG_EXCURSIONS);
	exc = v ? strdup(v) : NULL;
	cursor = exc;
	while ((rec = next_record(&cursor))) {
		char *f[4];

		split_fields(rec, f, 4);
		se = xmlNewChild(list, NULL, (const xmlChar *)"sensorElement", NULL);
		if (!se) {
			c->oom = 1;
			break;
		}
		sensor_metadata(c, se, f[0], f[1], device);
		rep = sensor_report(c, se, "gs1:Temperature");
		add_prop(c, rep, strcmp(f[3], "below") == 0 ? "minValue" : "maxValue", f[2]);
		add_prop(c, rep, "uom", "CEL");
		add_prop(c, rep, "exception", "gs1:ALARM_CONDITION");
	}
	free(exc);
	if ((v = cell(r, row, LEG_VEHICLE))) {
		xmlNodePtr veh = xmlNewTextChild(ev, c->ct, (const xmlChar *)"vehicle",
						 (const xmlChar *)v);
		if (!veh)
			c->oom = 1;
	}
	if (c->oom)
		goto fail;
	return push_event(c, cell(r, row, LEG_SORT), key, ev);
fail:
	for (int i = 0; i < ng; i++)
		xmlFreeNode(gen[i]);
	xmlFreeNode(ev);
	c->oom = 1;
	return -1;
}

static int event_cmp(const void *a, const void *b)
{
	return strcmp(((const struct out_event *)a)->sort, ((const struct out_event *)b)->sort);
}

static int scope_found(struct db *db, const struct trace_scope *scope, int *found)
{
	struct db_res *r = NULL;
	const char *p[2];
	int rc;

	if (scope->shipment_id) {
		p[0] = scope->shipment_id;
		rc = db_exec(db, sql_found_shipment, 1, p, &r);
	} else {
		p[0] = scope->gtin;
		p[1] = scope->lot;
		rc = db_exec(db, sql_found_lot, 2, p, &r);
	}
	if (rc == 0)
		*found = db_res_rows(r) == 1 && strcmp(db_res_get(r, 0, 0), "t") == 0;
	db_res_free(r);
	return rc;
}

int epcis_export(struct db *db, const struct trace_scope *scope, char **out, size_t *len)
{
	struct ctx c = {.db = db};
	struct db_res *legs = NULL, *events = NULL;
	struct sbuf_keys {
		char *p;
		size_t len;
	} keys = {0};
	const char *params[4];
	xmlNodePtr root, body, list;
	xmlChar *mem = NULL;
	int size = 0, found = 0, rc = -1;

	*out = NULL;
	*len = 0;
	if (scope_found(db, scope, &found) < 0)
		return -1;
	if (!found)
		return 1;
	params[0] = scope->shipment_id ? NULL : scope->gtin;
	params[1] = scope->shipment_id ? NULL : scope->lot;
	params[2] = scope->shipment_id;
	c.doc = xmlNewDoc((const xmlChar *)"1.0");
	root = c.doc ? xmlNewDocNode(c.doc, NULL, (const xmlChar *)"EPCISDocument", NULL) : NULL;
	if (!root)
		goto oom;
	xmlDocSetRootElement(c.doc, root);
	xmlSetNs(root, xmlNewNs(root, (const xmlChar *)NS_EPCIS, (const xmlChar *)"epcis"));
	xmlNewNs(root, (const xmlChar *)"urn:epcglobal:cbv:mda", (const xmlChar *)"cbvmda");
	xmlNewNs(root, (const xmlChar *)"https://gs1.org/voc/", (const xmlChar *)"gs1");
	xmlNewNs(root, (const xmlChar *)"https://ref.gs1.org/cbv/", (const xmlChar *)"cbv");
	c.ct = xmlNewNs(root, (const xmlChar *)NS_CT, (const xmlChar *)"ct");
	if (!c.ct)
		goto oom;
	if (db_exec(db, sql_legs, 3, params, &legs) < 0)
		goto out;
	for (int i = 0; i < db_res_rows(legs); i++) {
		char key[256];
		size_t kl;
		char *p;

		if (build_leg(&c, legs, i, key, sizeof(key)) < 0)
			goto oom;
		kl = strlen(key);
		p = realloc(keys.p, keys.len + kl + 2);
		if (!p)
			goto oom;
		keys.p = p;
		if (keys.len)
			keys.p[keys.len++] = RS;
		memcpy(keys.p + keys.len, key, kl + 1);
		keys.len += kl;
	}
	params[3] = keys.p;
	if (db_exec(db, sql_events, 4, params, &events) < 0)
		goto out;
	for (int i = 0; i < db_res_rows(events); i++)
		if (build_event(&c, events, i) < 0)
			goto oom;
	if (c.n)
		qsort(c.ev, c.n, sizeof(c.ev[0]), event_cmp);
	/* creationDate: the latest eventTime, so the same data gives the same document. */
	{
		xmlChar *latest = NULL;

		for (size_t i = 0; i < c.n; i++) {
			xmlNodePtr t = c.ev[i].node->children;

			if (i + 1 == c.n && t)
				latest = xmlNodeGetContent(t);
		}
		xmlNewProp(root, (const xmlChar *)"schemaVersion", (const xmlChar *)"2.0");
		xmlNewProp(root, (const xmlChar *)"creationDate",
			   latest ? latest : (const xmlChar *)"1970-01-01T00:00:00.000+00:00");
		xmlFree(latest);
	}
	/* Not xmlNewChild: its children would inherit the epcis namespace of the root. */
	body = new_elem(&c, "EPCISBody");
	list = new_elem(&c, "EventList");
	if (!body || !list) {
		xmlFreeNode(body);
		xmlFreeNode(list);
		goto oom;
	}
	xmlAddChild(root, body);
	xmlAddChild(body, list);
	for (size_t i = 0; i < c.n; i++) {
		xmlAddChild(list, c.ev[i].node);
		c.ev[i].node = NULL;
	}
	xmlDocDumpFormatMemoryEnc(c.doc, &mem, &size, "UTF-8", 1);
	if (!mem || size <= 0)
		goto oom;
	*out = malloc((size_t)size + 1);
	if (!*out)
		goto oom;
	memcpy(*out, mem, (size_t)size);
	(*out)[size] = '\0';
	*len = (size_t)size;
	rc = 0;
	goto out;
oom:
	log_error("epcis_export: out of memory");
out:
	for (size_t i = 0; i < c.n; i++) {
		free(c.ev[i].sort);
		xmlFreeNode(c.ev[i].node);
	}
	free(c.ev);
	free(keys.p);
	xmlFree(mem);
	db_res_free(legs);
	db_res_free(events);
	xmlFreeDoc(c.doc);
	return rc;
}
