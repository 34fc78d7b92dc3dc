/*
 * epcis_import: EPCIS 2.0 capture. A document is parsed safely (xmldoc), validated against
 * the XSD its root element calls for, then walked event by event: the CBV vocabulary the XSD
 * leaves open (bizStep, disposition, persistentDisposition, source/destination and business
 * transaction types, sensorReport type, exception and unit) and every GS1 identifier are
 * checked, and the event is stored in the relational columns of trace_events/trace_items
 * (sql/migrations/0004_trace.sql) plus extra_xml for what they do not model. ILMD fills lots;
 * master-data vocabularies fill sites and products.
 *
 * DESIGN: two phases. The first (epcis_importer_check, and the start of every import) needs no
 * database: parse, DOCTYPE refusal, schema, CBV and identifier checks, and every row the
 * document will write built in memory (struct rows, strings copied out of the tree). Only a
 * document that passed all of it reaches the second, which writes the rows in one transaction,
 * so a document is stored whole or not at all, and a refused one never opens a transaction.
 * Event
 * identity is the eventID when present, otherwise "ni:///sha-256;<hex>?ver=CBV2.0" over the
 * exclusive C14N of the event element; INSERT … ON CONFLICT (event_key) DO NOTHING makes a
 * second capture of the same event a no-op (counted as known; its items and lot data are
 * not touched). extra_xml holds each unmodelled child element serialised on its own with
 * exactly the namespace declarations it uses (by name or as a CURIE prefix in a value),
 * sorted by prefix, whitespace-only text and comments dropped: the same element gives the
 * same text whichever document it came from, which is what makes export → import → export
 * byte-stable.
 */
#include "strbuf.h"
#include "epcis_import.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/c14n.h>
#include <libxml/tree.h>
#include <libxml/xmlsave.h>
#include <sodium.h>

#include "db.h"
#include "gs1.h"
#include "xmldoc.h"

#define NS_EPCIS "urn:epcglobal:epcis:xsd:2"
#define NS_EPCIS_MD "urn:epcglobal:epcis-masterdata:xsd:2"
#define NS_CBVMDA "urn:epcglobal:cbv:mda"
#define RS "\x1e"
#define US "\x1f"

static const char *const sql_event =
	"INSERT INTO trace_events (event_key, origin, type, action, biz_step, disposition,"
	" event_time, tz_offset, read_point, site_gln, src_gln, dest_gln, parent_epc,"
	" parent_sscc, transformation_id, biz_transactions, sources, destinations, extra_xml,"
	" document)"
	" VALUES ($1, 'epcis', $2, $3, $4, $5, $6::timestamptz, $7, $8, $9, $10, $11, $12, $13,"
	" $14, ct_epcis_pairs($15), ct_epcis_pairs($16), ct_epcis_pairs($17), $18, $19)"
	" ON CONFLICT (event_key) DO NOTHING RETURNING id";
static const char *const sql_items = "SELECT ct_epcis_put_items($1::bigint, $2)";
/* Lot master data from ILMD: fills what is still unknown, never overwrites. */
static const char *const sql_lot =
	"INSERT INTO lots AS l (gtin, lot, farm_gln, field, harvest_start, harvest_end,"
	" best_before, country, quantity, uom)"
	" VALUES ($1, $2, $3, $4, $5::timestamptz, $6::timestamptz, $7::date, $8, $9::numeric, $10)"
	" ON CONFLICT (gtin, lot) DO UPDATE SET"
	" farm_gln = coalesce(l.farm_gln, EXCLUDED.farm_gln),"
	" field = coalesce(l.field, EXCLUDED.field),"
	" harvest_start = coalesce(l.harvest_start, EXCLUDED.harvest_start),"
	" harvest_end = coalesce(l.harvest_end, EXCLUDED.harvest_end),"
	" best_before = coalesce(l.best_before, EXCLUDED.best_before),"
	" country = coalesce(l.country, EXCLUDED.country),"
	" quantity = coalesce(l.quantity, EXCLUDED.quantity),"
	" uom = coalesce(l.uom, EXCLUDED.uom)";
/* A BusinessLocation: the attributes given replace ours; kind and organisation stay. */
static const char *const sql_site =
	"INSERT INTO sites AS s (gln, name, kind, lat, lon, address, city, region, country)"
	" VALUES ($1, coalesce($2, $1), 'other', $3::float8, $4::float8, $5, $6, $7, $8)"
	" ON CONFLICT (gln) DO UPDATE SET name = coalesce($2, s.name),"
	" lat = coalesce(EXCLUDED.lat, s.lat), lon = coalesce(EXCLUDED.lon, s.lon),"
	" address = coalesce(EXCLUDED.address, s.address), city = coalesce(EXCLUDED.city, s.city),"
	" region = coalesce(EXCLUDED.region, s.region),"
	" country = coalesce(EXCLUDED.country, s.country)";
static const char *const sql_product =
	"INSERT INTO products AS p (gtin, description) VALUES ($1, $2)"
	" ON CONFLICT (gtin) DO UPDATE SET description = EXCLUDED.description";

/* ---- CBV 2.0 vocabularies ------------------------------------------------------------ */

static const char *const cbv_bizsteps[] = {
	"accepting", "arriving", "assembling", "collecting", "commissioning", "consigning",
	"creating_class_instance", "cycle_counting", "decommissioning", "departing", "destroying",
	"disassembling", "dispensing", "encoding", "entering_exiting", "holding", "inspecting",
	"installing", "killing", "loading", "other", "packing", "picking", "receiving",
	"removing", "repackaging", "repairing", "replacing", "reserving", "retail_selling",
	"sampling", "sensor_reporting", "shipping", "staging_outbound", "stock_taking",
	"stocking", "storing", "transporting", "unloading", "unpacking", "void_shipping", NULL};
static const char *const cbv_dispositions[] = {
	"active", "available", "completeness_inferred", "completeness_verified", "conformant",
	"container_closed", "container_open", "damaged", "destroyed", "dispensed", "disposed",
	"encoded", "expired", "in_progress", "in_transit", "inactive", "mismatch_instance",
	"mismatch_class", "mismatch_quantity", "needs_replacement", "no_pedigree_match",
	"non_conformant", "non_sellable_other", "partially_dispensed", "recalled", "reserved",
	"retail_sold", "returned", "sellable_accessible", "sellable_not_accessible", "stolen",
	"unavailable", "unknown", NULL};
static const char *const cbv_btts[] = {"bol", "cert", "desadv", "inv", "pedigree", "po",
				       "poc", "prodorder", "recadv", "rma", "testprd",
				       "testres", "upevt", NULL};
static const char *const cbv_sdts[] = {"owning_party", "possessing_party", "location", NULL};
/* GS1 Web Vocabulary measurement types (gs1:MeasurementType). */
static const char *const gs1_measurements[] = {
	"AbsoluteHumidity", "AbsorbedDose", "AbsorbedDoseRate", "Acceleration", "Radioactivity",
	"Altitude", "AmountOfSubstance", "AmountOfSubstancePerUnitMass", "Angle", "Area",
	"Capacitance", "Conductance", "Conductivity", "Count", "Density", "Dimensionless",
	"DoseEquivalent", "DoseEquivalentRate", "DynamicViscosity", "EffectiveDose",
	"EffectiveDoseRate", "ElectricCharge", "ElectricCurrent", "ElectricCurrentDensity",
	"ElectricFieldStrength", "Energy", "Exposure", "Force", "Frequency", "Illuminance",
	"Inductance", "Irradiance", "KinematicViscosity", "Length", "LinearMomentum",
	"Luminance", "LuminousFlux", "LuminousIntensity", "MagneticFieldStrength",
	"MagneticFlux", "MagneticFluxDensity", "Mass", "MassConcentration", "MassFlowRate",
	"MassPerAreaTime", "MemoryCapacity", "MolalityOfSolute", "MolarEnergy", "MolarMass",
	"MolarVolume", "Molar_concentration", "Power", "Pressure", "RadiantFlux",
	"RadiantIntensity", "RelativeHumidity", "Resistance", "Resistivity", "SolidAngle",
	"SpecificVolume", "Speed", "SurfaceDensity", "SurfaceTension", "Temperature", "Time",
	"Torque", "Voltage", "Volume", "VolumeFlowRate", "VolumeFraction", "VolumetricFlux",
	"WaveNumber", NULL};
static const char *const gs1_exceptions[] = {"ALARM_CONDITION", "ERROR_CONDITION", NULL};
/* UN/ECE Rec. 20 units we know sensors to report in. */
static const char *const uoms[] = {
	"CEL", "FAH", "KEL", "P1", "A93", "DD", "KMH", "LUX", "MTS", "MTR", "CMT", "MMT", "KTM",
	"C35", "P71", "KGM", "GRM", "MGM", "TNE", "LTR", "MLT", "MTQ", "SEC", "MIN", "HUR",
	"DAY", "BAR", "MBR", "PAL", "KPA", "HPA", "ATM", "PS", "MPS", "A99", "D41", "2N",
	"59", "61", "KWT", "WTT", "VLT", "AMP", "HTZ", "C34", "MQH", "G21", "H79", "D54",
	"D55", "K61", "K62", "M1", "P72", "MSK", "MLD", NULL};

static int in_list(const char *const *list, const char *term)
{
	for (; *list; list++)
		if (strcmp(*list, term) == 0)
			return 1;
	return 0;
}

/* ---- small containers ---------------------------------------------------------------- */

/* Strings of one event (xmlFree'd together). */
struct bag {
	xmlChar *v[256];
	int n;
};

static void bag_clear(struct bag *b)
{
	for (int i = 0; i < b->n; i++)
		xmlFree(b->v[i]);
	b->n = 0;
}

/* ---- the import of one document ------------------------------------------------------ */

struct epcis_importer {
	struct xmldoc_schemas *schemas; /* NULL: no schema validation */
};

/* One statement to run in the store phase, its parameters copied into mem. */
enum row_kind {
	ROW_SITE,    /* sql_site */
	ROW_PRODUCT, /* sql_product */
	ROW_EVENT,   /* sql_event */
	ROW_ITEMS,   /* sql_items of the ROW_EVENT before it; p[0] filled with its id */
	ROW_LOT,     /* sql_lot of the ROW_EVENT before it */
};

#define ROW_MAX_PARAMS 19

struct row {
	enum row_kind kind;
	int n;
	const char *p[ROW_MAX_PARAMS]; /* into mem, or NULL */
	char *mem;
	long line;	/* of the element the row comes from, for messages */
	char label[96]; /* "ObjectEvent", "lot GTIN/LOT", … for messages */
};

struct rows {
	struct row *v;
	size_t n, cap;
};

struct run {
	xmlDocPtr doc;
	const char *name;
	struct epcis_import_stats *stats;
	char *err;
	size_t errlen;
	struct bag bag;
	struct rows rows;
};

struct event {
	const char *type;
	const char *key;
	const char *action, *biz_step, *disposition, *event_time, *tz, *read_point;
	char site_gln[14], src_gln[14], dest_gln[14], parent_sscc[19];
	const char *parent_epc, *transformation_id;
	struct strbuf btx, src, dst, items, extra;
	xmlNodePtr ilmd;
	int has_harvest;
	char hash_key[128];
};

static int failf(struct run *r, xmlNodePtr at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int failf(struct run *r, xmlNodePtr at, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(r->err, r->errlen, "%ld: ", at ? xmlGetLineNo(at) : 0L);
	if (n < 0 || (size_t)n >= r->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(r->err + n, r->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* Appends a row of n parameters (copied; NULL stays NULL). 0, or -1 (reported). */
static int row_add(struct run *r, xmlNodePtr at, enum row_kind kind, const char *label, int n,
		   const char *const *params)
{
	struct row *w;
	size_t size = 0;
	char *m;

	if (r->rows.n == r->rows.cap) {
		size_t cap = r->rows.cap ? r->rows.cap * 2 : 16;
		struct row *v = realloc(r->rows.v, cap * sizeof(*v));

		if (!v)
			return failf(r, at, "out of memory");
		r->rows.v = v;
		r->rows.cap = cap;
	}
	for (int i = 0; i < n; i++)
		size += params[i] ? strlen(params[i]) + 1 : 0;
	m = malloc(size ? size : 1);
	if (!m)
		return failf(r, at, "out of memory");
	w = &r->rows.v[r->rows.n++];
	memset(w, 0, sizeof(*w));
	w->kind = kind;
	w->n = n;
	w->mem = m;
	w->line = at ? xmlGetLineNo(at) : 0L;
	snprintf(w->label, sizeof(w->label), "%s", label);
	for (int i = 0; i < n; i++) {
		size_t k;

		if (!params[i])
			continue;
		k = strlen(params[i]) + 1;
		memcpy(m, params[i], k);
		w->p[i] = m;
		m += k;
	}
	return 0;
}

static void rows_release(struct rows *rows)
{
	for (size_t i = 0; i < rows->n; i++)
		free(rows->v[i].mem);
	free(rows->v);
	memset(rows, 0, sizeof(*rows));
}

static void warnf(struct run *r, xmlNodePtr at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void warnf(struct run *r, xmlNodePtr at, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (r->stats->warnings++ > 0)
		return;
	n = snprintf(r->stats->warning, sizeof(r->stats->warning), "%ld: ",
		     at ? xmlGetLineNo(at) : 0L);
	if (n < 0 || (size_t)n >= sizeof(r->stats->warning))
		return;
	va_start(ap, fmt);
	vsnprintf(r->stats->warning + n, sizeof(r->stats->warning) - (size_t)n, fmt, ap);
	va_end(ap);
}

static int is_elem(xmlNodePtr n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && !n->ns && strcmp((const char *)n->name, name) == 0;
}

static xmlNodePtr first_elem(xmlNodePtr parent, const char *name)
{
	for (xmlNodePtr c = parent ? parent->children : NULL; c; c = c->next)
		if (is_elem(c, name))
			return c;
	return NULL;
}

/* Trimmed text of a node or attribute value, kept until the event is done. NULL when the
 * bag is full or out of memory (reported). A value may not hold U+001E/U+001F (our
 * separators; XML 1.0 cannot carry them either). */
static const char *keep(struct run *r, xmlNodePtr at, xmlChar *s, int *bad)
{
	char *p, *e;

	if (!s) {
		*bad = failf(r, at, "out of memory");
		return NULL;
	}
	if (r->bag.n == (int)(sizeof(r->bag.v) / sizeof(r->bag.v[0]))) {
		xmlFree(s);
		*bad = failf(r, at, "too many values in one event");
		return NULL;
	}
	r->bag.v[r->bag.n++] = s;
	p = (char *)s;
	while (isspace((unsigned char)*p))
		p++;
	e = p + strlen(p);
	while (e > p && isspace((unsigned char)e[-1]))
		*--e = '\0';
	if (strpbrk(p, RS US)) {
		*bad = failf(r, at, "control character in a value");
		return NULL;
	}
	return p;
}

static const char *text_of(struct run *r, xmlNodePtr n, int *bad)
{
	return keep(r, n, xmlNodeGetContent(n), bad);
}

static const char *attr_of(struct run *r, xmlNodePtr n, const char *name, int *bad)
{
	xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);

	return v ? keep(r, n, v, bad) : NULL;
}

/* A CBV term of a vocabulary: the URN form (urn_prefix + term) or the Web URI form
 * (https://ref.gs1.org/cbv/ + web_prefix + term, prefix matched without case: GS1's own
 * examples write "Bizstep-"). *term is the bare term. Returns 1 (CBV form, term known),
 * 0 (a URI outside the CBV namespaces: a user vocabulary), -1 (error, reported). */
static int cbv_term(struct run *r, xmlNodePtr at, const char *what, const char *v,
		    const char *urn_prefix, const char *web_prefix, const char *const *terms,
		    const char **term, int strict)
{
	static const char web[] = "https://ref.gs1.org/cbv/";
	size_t un = strlen(urn_prefix), wn = strlen(web_prefix);
	const char *t = NULL;

	if (strncmp(v, urn_prefix, un) == 0)
		t = v + un;
	else if (strncmp(v, web, sizeof(web) - 1) == 0 &&
		 strncasecmp(v + sizeof(web) - 1, web_prefix, wn) == 0)
		t = v + sizeof(web) - 1 + wn;
	if (!t) {
		if (!strchr(v, ':'))
			return failf(r, at, "%s '%s' is neither a CBV term URI nor a URI", what, v);
		*term = v;
		return 0;
	}
	if (!in_list(terms, t)) {
		if (!strict) {
			warnf(r, at, "%s '%s' is not a CBV 2.0 term (accepted)", what, v);
			*term = v;
			return 0;
		}
		return failf(r, at, "%s '%s': '%s' is not a CBV 2.0 term", what, v, t);
	}
	*term = t;
	return 1;
}

/* Checks an identifier field. *id filled when it is a GS1 key we model (returns 1), 0 when
 * it is another URI, -1 when malformed (reported). */
static int check_id(struct run *r, xmlNodePtr at, const char *what, const char *v,
		    struct gs1_id *id)
{
	const char *why = NULL;
	int rc;

	if (!v || !*v)
		return failf(r, at, "empty %s", what);
	rc = gs1_id_parse(v, id, &why);
	if (rc < 0)
		return failf(r, at, "%s '%s': %s", what, v, why ? why : "malformed");
	return rc == 0;
}

/* ---- extra_xml: unmodelled elements, canonical one by one ---------------------------- */

/* 1 when prefix + ':' starts an attribute value or the text of a node in the subtree. */
static int prefix_used(xmlNodePtr n, const char *prefix)
{
	size_t len = strlen(prefix);

	for (; n; n = n->next) {
		if (n->type == XML_TEXT_NODE && n->content) {
			const char *s = (const char *)n->content;

			while (isspace((unsigned char)*s))
				s++;
			if (strncmp(s, prefix, len) == 0 && s[len] == ':')
				return 1;
		}
		if (n->type != XML_ELEMENT_NODE)
			continue;
		for (xmlAttrPtr a = n->properties; a; a = a->next) {
			const char *s = a->children ? (const char *)a->children->content : NULL;

			if (s && strncmp(s, prefix, len) == 0 && s[len] == ':')
				return 1;
		}
		if (prefix_used(n->children, prefix))
			return 1;
	}
	return 0;
}

/* Whitespace-only text nodes, comments and processing instructions go. */
static void strip_blanks(xmlNodePtr n)
{
	xmlNodePtr next;

	for (; n; n = next) {
		next = n->next;
		if (n->type == XML_COMMENT_NODE || n->type == XML_PI_NODE ||
		    (n->type == XML_TEXT_NODE && xmlIsBlankNode(n))) {
			xmlUnlinkNode(n);
			xmlFreeNode(n);
			continue;
		}
		if (n->type == XML_ELEMENT_NODE)
			strip_blanks(n->children);
	}
}

static int ns_cmp(const void *a, const void *b)
{
	const xmlNs *x = *(const xmlNs *const *)a, *y = *(const xmlNs *const *)b;

	return strcmp(x->prefix ? (const char *)x->prefix : "",
		      y->prefix ? (const char *)y->prefix : "");
}

/* Appends node, serialised on its own, to out. */
static int extra_add(struct run *r, xmlNodePtr node, struct strbuf *out)
{
	xmlDocPtr tmp = NULL;
	xmlNodePtr copy;
	xmlNsPtr *scope = NULL, list[64];
	xmlBufferPtr buf = NULL;
	int n = 0, rc = -1;

	tmp = xmlNewDoc((const xmlChar *)"1.0");
	copy = tmp ? xmlDocCopyNode(node, tmp, 1) : NULL;
	if (!copy) {
		failf(r, node, "out of memory");
		goto out;
	}
	xmlDocSetRootElement(tmp, copy);
	strip_blanks(copy->children);
	scope = xmlGetNsList(r->doc, node);
	for (int i = 0; scope && scope[i]; i++) {
		const char *p = (const char *)scope[i]->prefix;

		if (!p || xmlSearchNs(tmp, copy, scope[i]->prefix))
			continue;
		if (prefix_used(copy, p) && !xmlNewNs(copy, scope[i]->href, scope[i]->prefix)) {
			failf(r, node, "out of memory");
			goto out;
		}
	}
	for (xmlNsPtr ns = copy->nsDef; ns && n < 64; ns = ns->next)
		list[n++] = ns;
	if (n > 1) {
		qsort(list, (size_t)n, sizeof(list[0]), ns_cmp);
		for (int i = 0; i < n; i++)
			list[i]->next = i + 1 < n ? list[i + 1] : NULL;
		copy->nsDef = list[0];
	}
	buf = xmlBufferCreate();
	if (!buf || xmlNodeDump(buf, tmp, copy, 0, 0) < 0) {
		failf(r, node, "out of memory");
		goto out;
	}
	strbuf_addn(out, (const char *)xmlBufferContent(buf), (size_t)xmlBufferLength(buf));
	rc = 0;
out:
	xmlBufferFree(buf);
	xmlFree(scope);
	xmlFreeDoc(tmp);
	return rc;
}

/* ---- event identity ---------------------------------------------------------------- */

static int in_subtree(void *root, xmlNodePtr node, xmlNodePtr parent)
{
	xmlNodePtr n = node;

	if (!node || node->type == XML_NAMESPACE_DECL || node->type == XML_ATTRIBUTE_NODE)
		n = parent;
	for (; n; n = n->parent)
		if (n == root)
			return 1;
	return 0;
}

static int event_hash(struct run *r, xmlNodePtr ev, char *out, size_t cap)
{
	unsigned char digest[crypto_hash_sha256_BYTES];
	char hex[2 * crypto_hash_sha256_BYTES + 1];
	xmlOutputBufferPtr buf = xmlAllocOutputBuffer(NULL);
	int rc = -1;

	if (!buf)
		return failf(r, ev, "out of memory");
	if (xmlC14NExecute(r->doc, in_subtree, ev, XML_C14N_EXCLUSIVE_1_0, NULL, 0, buf) < 0) {
		failf(r, ev, "cannot canonicalise the event to compute its identity");
		goto out;
	}
	crypto_hash_sha256(digest, xmlOutputBufferGetContent(buf),
			   (unsigned long long)xmlOutputBufferGetSize(buf));
	sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
	snprintf(out, cap, "ni:///sha-256;%s?ver=CBV2.0", hex);
	rc = 0;
out:
	xmlOutputBufferClose(buf);
	return rc;
}

/* ---- checks of the parts of an event ------------------------------------------------- */

static int check_sensors(struct run *r, xmlNodePtr list)
{
	int bad = 0;

	for (xmlNodePtr se = list->children; se; se = se->next) {
		if (!is_elem(se, "sensorElement"))
			continue;
		for (xmlNodePtr rep = se->children; rep; rep = rep->next) {
			const char *type, *uom, *exc, *term;

			if (!is_elem(rep, "sensorReport"))
				continue;
			type = attr_of(r, rep, "type", &bad);
			uom = attr_of(r, rep, "uom", &bad);
			exc = attr_of(r, rep, "exception", &bad);
			if (bad)
				return -1;
			if (type) {
				term = strncmp(type, "gs1:", 4) == 0 ? type + 4
				       : strncmp(type, "https://gs1.org/voc/", 20) == 0 ? type + 20
											 : NULL;
				if (term && !in_list(gs1_measurements, term))
					return failf(r, rep,
						     "sensorReport type '%s' is not a GS1 measurement type",
						     type);
				if (!term && !strchr(type, ':'))
					return failf(r, rep,
						     "sensorReport type '%s' is not a URI or CURIE", type);
			}
			if (uom && !in_list(uoms, uom))
				return failf(r, rep,
					     "sensorReport uom '%s' is not a UN/ECE Rec. 20 unit we know",
					     uom);
			if (exc) {
				term = strncmp(exc, "gs1:", 4) == 0 ? exc + 4
				       : strncmp(exc, "https://gs1.org/voc/", 20) == 0 ? exc + 20
										       : NULL;
				if (term && !in_list(gs1_exceptions, term))
					return failf(r, rep,
						     "sensorReport exception '%s' is not gs1:ALARM_CONDITION or gs1:ERROR_CONDITION",
						     exc);
			}
		}
	}
	return 0;
}

static int check_persistent(struct run *r, xmlNodePtr pd)
{
	int bad = 0;

	for (xmlNodePtr c = pd->children; c; c = c->next) {
		const char *v, *term;

		if (!is_elem(c, "set") && !is_elem(c, "unset"))
			continue;
		v = text_of(r, c, &bad);
		if (bad)
			return -1;
		if (cbv_term(r, c, "persistentDisposition", v, "urn:epcglobal:cbv:disp:", "Disp-",
			     cbv_dispositions, &term, 1) < 0)
			return -1;
	}
	return 0;
}

/* One identifier of a list or quantity element, as a trace_items record. */
static int add_item(struct run *r, struct event *e, xmlNodePtr at, const char *role,
		    const char *what, const char *v, const char *qty, const char *uom)
{
	struct gs1_id id;
	int k = check_id(r, at, what, v, &id);

	if (k < 0)
		return -1;
	if (e->items.len)
		strbuf_add(&e->items, RS);
	strbuf_add(&e->items, role);
	strbuf_add(&e->items, US);
	if (k == 1 && id.kind == GS1_LGTIN) {
		strbuf_add(&e->items, US US);
		strbuf_add(&e->items, id.digits);
		strbuf_add(&e->items, US);
		strbuf_add(&e->items, id.ext);
	} else {
		strbuf_add(&e->items, v);
		strbuf_add(&e->items, US);
		if (k == 1 && id.kind == GS1_SSCC)
			strbuf_add(&e->items, id.digits);
		strbuf_add(&e->items, US US);
	}
	strbuf_add(&e->items, US);
	if (qty && *qty) { /* <quantity xsi:nil="true"/>: no quantity */
		char *end;

		strtod(qty, &end);
		if (*end)
			return failf(r, at, "quantity '%s' is not a number", qty);
		strbuf_add(&e->items, qty);
	}
	strbuf_add(&e->items, US);
	strbuf_add(&e->items, uom);
	return 0;
}

static int add_epcs(struct run *r, struct event *e, xmlNodePtr list, const char *role)
{
	int bad = 0;

	for (xmlNodePtr c = list->children; c; c = c->next) {
		const char *v;

		if (!is_elem(c, "epc"))
			continue;
		v = text_of(r, c, &bad);
		if (bad || add_item(r, e, c, role, "epc", v, NULL, NULL) < 0)
			return -1;
	}
	return 0;
}

static int add_quantities(struct run *r, struct event *e, xmlNodePtr list, const char *role)
{
	int bad = 0;

	for (xmlNodePtr q = list->children; q; q = q->next) {
		xmlNodePtr cls, qty, uom;
		const char *vc, *vq = NULL, *vu = NULL;

		if (!is_elem(q, "quantityElement"))
			continue;
		cls = first_elem(q, "epcClass");
		qty = first_elem(q, "quantity");
		uom = first_elem(q, "uom");
		if (!cls)
			return failf(r, q, "quantityElement without epcClass");
		vc = text_of(r, cls, &bad);
		if (qty)
			vq = text_of(r, qty, &bad);
		if (uom)
			vu = text_of(r, uom, &bad);
		if (bad || add_item(r, e, cls, role, "epcClass", vc, vq, vu) < 0)
			return -1;
	}
	return 0;
}

/* sourceList / destinationList / bizTransactionList → "type<US>id<RS>…". */
static int add_pairs(struct run *r, struct event *e, xmlNodePtr list, const char *child,
		     struct strbuf *out, char *gln)
{
	int bad = 0;

	for (xmlNodePtr c = list->children; c; c = c->next) {
		const char *type, *v, *term = NULL;
		struct gs1_id id;
		int k = 0, cbv = 0;

		if (!is_elem(c, child))
			continue;
		type = attr_of(r, c, "type", &bad);
		v = text_of(r, c, &bad);
		if (bad)
			return -1;
		if (!*v)
			return failf(r, c, "empty %s", child);
		if (strcmp(child, "bizTransaction") == 0) {
			if (type && cbv_term(r, c, "bizTransaction type", type,
					     "urn:epcglobal:cbv:btt:", "BTT-", cbv_btts, &term, 0) < 0)
				return -1;
		} else {
			if (!type)
				return failf(r, c, "%s without a type", child);
			cbv = cbv_term(r, c, child, type, "urn:epcglobal:cbv:sdt:", "SDT-", cbv_sdts,
				       &term, 1);
			if (cbv < 0)
				return -1;
			k = check_id(r, c, child, v, &id);
			if (k < 0)
				return -1;
			if (cbv == 1 && strcmp(term, "location") == 0 && k == 1 &&
			    id.kind == GS1_SGLN && !gln[0])
				memcpy(gln, id.digits, 14);
		}
		if (out->len)
			strbuf_add(out, RS);
		strbuf_add(out, type ? type : "");
		strbuf_add(out, US);
		strbuf_add(out, v);
	}
	(void)e;
	return 0;
}

static int parse_event(struct run *r, xmlNodePtr ev, struct event *e)
{
	const char *role_list = "what";
	int bad = 0;

	e->type = (const char *)ev->name;
	for (xmlNodePtr c = ev->children; c; c = c->next) {
		const char *n = (const char *)c->name, *v, *term;
		struct gs1_id id;
		int k;

		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (c->ns) { /* a user extension element */
			if (extra_add(r, c, &e->extra) < 0)
				return -1;
			continue;
		}
		if (strcmp(n, "eventTime") == 0) {
			e->event_time = text_of(r, c, &bad);
		} else if (strcmp(n, "eventTimeZoneOffset") == 0) {
			v = text_of(r, c, &bad);
			if (bad)
				return -1;
			if (strcmp(v, "Z") == 0)
				v = "+00:00";
			if (strlen(v) != 6 || (v[0] != '+' && v[0] != '-') ||
			    !isdigit((unsigned char)v[1]) || !isdigit((unsigned char)v[2]) ||
			    v[3] != ':' || !isdigit((unsigned char)v[4]) ||
			    !isdigit((unsigned char)v[5]))
				return failf(r, c, "eventTimeZoneOffset '%s' is not +hh:mm or -hh:mm", v);
			e->tz = v;
		} else if (strcmp(n, "eventID") == 0) {
			e->key = text_of(r, c, &bad);
			if (!bad && !*e->key)
				return failf(r, c, "empty eventID");
		} else if (strcmp(n, "recordTime") == 0) {
			/* set by the capturing repository: ours is recorded_at */
		} else if (strcmp(n, "epcList") == 0 || strcmp(n, "childEPCs") == 0 ||
			   strcmp(n, "inputEPCList") == 0 || strcmp(n, "outputEPCList") == 0) {
			role_list = n[0] == 'c' ? "child" : n[0] == 'i' ? "input" : n[0] == 'o' ? "output" : "what";
			if (add_epcs(r, e, c, role_list) < 0)
				return -1;
		} else if (strcmp(n, "quantityList") == 0 || strcmp(n, "childQuantityList") == 0 ||
			   strcmp(n, "inputQuantityList") == 0 ||
			   strcmp(n, "outputQuantityList") == 0) {
			role_list = n[0] == 'c' ? "child" : n[0] == 'i' ? "input" : n[0] == 'o' ? "output" : "what";
			if (add_quantities(r, e, c, role_list) < 0)
				return -1;
		} else if (strcmp(n, "action") == 0) {
			e->action = text_of(r, c, &bad);
			if (!bad && strcmp(e->action, "ADD") != 0 && strcmp(e->action, "OBSERVE") != 0 &&
			    strcmp(e->action, "DELETE") != 0)
				return failf(r, c, "action '%s' is not ADD, OBSERVE or DELETE", e->action);
		} else if (strcmp(n, "bizStep") == 0) {
			v = text_of(r, c, &bad);
			if (bad || cbv_term(r, c, "bizStep", v, "urn:epcglobal:cbv:bizstep:",
					    "BizStep-", cbv_bizsteps, &term, 1) < 0)
				return -1;
			e->biz_step = term;
		} else if (strcmp(n, "disposition") == 0) {
			v = text_of(r, c, &bad);
			if (bad || cbv_term(r, c, "disposition", v, "urn:epcglobal:cbv:disp:", "Disp-",
					    cbv_dispositions, &term, 1) < 0)
				return -1;
			e->disposition = term;
		} else if (strcmp(n, "readPoint") == 0) {
			xmlNodePtr id_node = first_elem(c, "id");

			if (!id_node)
				return failf(r, c, "readPoint without id");
			e->read_point = text_of(r, id_node, &bad);
			if (bad || check_id(r, id_node, "readPoint id", e->read_point, &id) < 0)
				return -1;
		} else if (strcmp(n, "bizLocation") == 0) {
			xmlNodePtr id_node = first_elem(c, "id");

			if (!id_node)
				return failf(r, c, "bizLocation without id");
			v = text_of(r, id_node, &bad);
			if (bad)
				return -1;
			k = check_id(r, id_node, "bizLocation id", v, &id);
			if (k < 0)
				return -1;
			if (k == 1 && id.kind == GS1_SGLN)
				memcpy(e->site_gln, id.digits, 14);
			/* A sub-location or a non-GLN location is kept as written. */
			if (!(k == 1 && id.kind == GS1_SGLN && !id.ext[0]) &&
			    extra_add(r, c, &e->extra) < 0)
				return -1;
		} else if (strcmp(n, "bizTransactionList") == 0) {
			if (add_pairs(r, e, c, "bizTransaction", &e->btx, NULL) < 0)
				return -1;
		} else if (strcmp(n, "sourceList") == 0) {
			if (add_pairs(r, e, c, "source", &e->src, e->src_gln) < 0)
				return -1;
		} else if (strcmp(n, "destinationList") == 0) {
			if (add_pairs(r, e, c, "destination", &e->dst, e->dest_gln) < 0)
				return -1;
		} else if (strcmp(n, "parentID") == 0) {
			e->parent_epc = text_of(r, c, &bad);
			if (bad)
				return -1;
			k = check_id(r, c, "parentID", e->parent_epc, &id);
			if (k < 0)
				return -1;
			if (k == 1 && id.kind == GS1_SSCC)
				memcpy(e->parent_sscc, id.digits, 19);
		} else if (strcmp(n, "transformationID") == 0) {
			e->transformation_id = text_of(r, c, &bad);
		} else {
			/* errorDeclaration, certificationInfo, baseExtension, sensorElementList,
			 * persistentDisposition, ilmd, extension */
			if (strcmp(n, "sensorElementList") == 0 && check_sensors(r, c) < 0)
				return -1;
			if (strcmp(n, "persistentDisposition") == 0 && check_persistent(r, c) < 0)
				return -1;
			if (strcmp(n, "ilmd") == 0)
				e->ilmd = c;
			if (extra_add(r, c, &e->extra) < 0)
				return -1;
		}
		if (bad)
			return -1;
	}
	if (e->items.oom || e->extra.oom || e->btx.oom || e->src.oom || e->dst.oom)
		return failf(r, ev, "out of memory");
	if (!e->event_time)
		return failf(r, ev, "%s without eventTime", e->type);
	if (!e->tz)
		return failf(r, ev, "%s without eventTimeZoneOffset", e->type);
	if (!e->action && strcmp(e->type, "TransformationEvent") != 0)
		return failf(r, ev, "%s without action", e->type);
	if (!e->key) {
		if (event_hash(r, ev, e->hash_key, sizeof(e->hash_key)) < 0)
			return -1;
		e->key = e->hash_key;
	}
	return 0;
}

/* ILMD → lot rows: every lot the event creates (ObjectEvent ADD: its quantityList; a
 * TransformationEvent: its outputs). */
static int plan_lots(struct run *r, struct event *e)
{
	const char *harvest_start = NULL, *harvest_end = NULL, *field = NULL, *country = NULL;
	char best_before[11] = "";
	const char *role = strcmp(e->type, "TransformationEvent") == 0 ? "output" : "what";
	int bad = 0, rc = 0;
	char label[96];
	char *items = NULL, *save = NULL, *rec;

	if (strcmp(e->type, "TransformationEvent") != 0 &&
	    !(strcmp(e->type, "ObjectEvent") == 0 && e->action && strcmp(e->action, "ADD") == 0))
		return 0;
	for (xmlNodePtr c = e->ilmd ? e->ilmd->children : NULL; c; c = c->next) {
		const char *n = (const char *)c->name;
		int cbv = c->type == XML_ELEMENT_NODE && c->ns &&
			  strcmp((const char *)c->ns->href, NS_CBVMDA) == 0;

		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (cbv && strcmp(n, "harvestStartDate") == 0)
			harvest_start = text_of(r, c, &bad);
		else if (cbv && strcmp(n, "harvestEndDate") == 0)
			harvest_end = text_of(r, c, &bad);
		else if (cbv && strcmp(n, "countryOfOrigin") == 0)
			country = text_of(r, c, &bad);
		else if (cbv && strcmp(n, "bestBeforeDate") == 0) {
			const char *v = text_of(r, c, &bad);

			if (!bad && strlen(v) >= 10)
				snprintf(best_before, sizeof(best_before), "%.10s", v);
		} else if (!cbv && c->ns && strcmp(n, "fieldName") == 0)
			field = text_of(r, c, &bad);
		if (bad)
			return -1;
	}
	if (country && (strlen(country) != 2 || !isupper((unsigned char)country[0]) ||
			!isupper((unsigned char)country[1])))
		country = NULL; /* a numeric ISO 3166 code: not what lots.country holds */
	if (!e->items.len)
		return 0;
	items = strdup(strbuf_str(&e->items));
	if (!items)
		return failf(r, NULL, "out of memory");
	for (rec = strtok_r(items, RS, &save); rec; rec = strtok_r(NULL, RS, &save)) {
		const char *f[7] = {0};
		char *p = rec;
		const char *params[10];

		for (int i = 0; i < 7; i++) {
			f[i] = p;
			p = strchr(p, US[0]);
			if (!p)
				break;
			*p++ = '\0';
		}
		if (!f[6] || strcmp(f[0], role) != 0 || !*f[3])
			continue;
		params[0] = f[3];
		params[1] = f[4];
		params[2] = harvest_start && e->site_gln[0] ? e->site_gln : NULL;
		params[3] = field;
		params[4] = harvest_start;
		params[5] = harvest_end;
		params[6] = best_before[0] ? best_before : NULL;
		params[7] = country;
		params[8] = *f[5] ? f[5] : NULL;
		params[9] = *f[6] ? f[6] : NULL;
		snprintf(label, sizeof(label), "lot %.14s/%.20s", f[3], f[4]);
		rc = row_add(r, e->ilmd, ROW_LOT, label, 10, params);
		if (rc < 0)
			break;
	}
	free(items);
	return rc;
}

/* The event's rows: the event, its items, the lots it creates. */
static int plan_event(struct run *r, xmlNodePtr ev, struct event *e)
{
	const char *params[19];

	params[0] = e->key;
	params[1] = e->type;
	params[2] = e->action;
	params[3] = e->biz_step;
	params[4] = e->disposition;
	params[5] = e->event_time;
	params[6] = e->tz;
	params[7] = e->read_point;
	params[8] = e->site_gln[0] ? e->site_gln : NULL;
	params[9] = e->src_gln[0] ? e->src_gln : NULL;
	params[10] = e->dest_gln[0] ? e->dest_gln : NULL;
	params[11] = e->parent_epc;
	params[12] = e->parent_sscc[0] ? e->parent_sscc : NULL;
	params[13] = e->transformation_id;
	params[14] = strbuf_str(&e->btx);
	params[15] = strbuf_str(&e->src);
	params[16] = strbuf_str(&e->dst);
	params[17] = e->extra.len ? strbuf_str(&e->extra) : NULL;
	params[18] = r->name;
	if (row_add(r, ev, ROW_EVENT, e->type, 19, params) < 0)
		return -1;
	if (e->items.len) {
		const char *ip[2] = {NULL, strbuf_str(&e->items)};
		char label[96];

		snprintf(label, sizeof(label), "items of the %s", e->type);
		if (row_add(r, ev, ROW_ITEMS, label, 2, ip) < 0)
			return -1;
	}
	return plan_lots(r, e);
}

static void event_release(struct event *e)
{
	free(e->btx.p);
	free(e->src.p);
	free(e->dst.p);
	free(e->items.p);
	free(e->extra.p);
}

static int plan_events(struct run *r, xmlNodePtr list)
{
	for (xmlNodePtr ev = list->children; ev; ev = ev->next) {
		struct event e;
		int rc;

		if (ev->type != XML_ELEMENT_NODE)
			continue;
		if (ev->ns || (!is_elem(ev, "ObjectEvent") && !is_elem(ev, "AggregationEvent") &&
			       !is_elem(ev, "TransformationEvent") &&
			       !is_elem(ev, "TransactionEvent") && !is_elem(ev, "AssociationEvent"))) {
			if (is_elem(ev, "extension"))
				continue; /* EPCIS 1.x style list extension: nothing of ours */
			return failf(r, ev, "<%s> is not an EPCIS 2.0 event", (const char *)ev->name);
		}
		memset(&e, 0, sizeof(e));
		rc = parse_event(r, ev, &e);
		if (rc == 0)
			rc = plan_event(r, ev, &e);
		event_release(&e);
		bag_clear(&r->bag);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* ---- master data --------------------------------------------------------------------- */

/* The CBV master-data attribute name: "urn:epcglobal:cbv:mda#name" (or ":name") → "name". */
static const char *mda_attr(const char *id)
{
	static const char p[] = "urn:epcglobal:cbv:mda";

	if (!id || strncmp(id, p, sizeof(p) - 1) != 0)
		return NULL;
	id += sizeof(p) - 1;
	return *id == '#' || *id == ':' ? id + 1 : NULL;
}

static int plan_location(struct run *r, xmlNodePtr el, const char *gln)
{
	const char *name = NULL, *lat = NULL, *lon = NULL, *city = NULL, *region = NULL,
		   *country = NULL;
	struct strbuf address = {0};
	const char *params[8];
	int bad = 0, rc = -1;

	for (xmlNodePtr a = el->children; a; a = a->next) {
		const char *id, *k, *v;

		if (!is_elem(a, "attribute"))
			continue;
		id = attr_of(r, a, "id", &bad);
		k = mda_attr(id);
		if (bad)
			goto out;
		if (!k)
			continue;
		v = text_of(r, a, &bad);
		if (bad)
			goto out;
		if (!*v)
			continue;
		if (strcmp(k, "name") == 0) {
			name = v;
		} else if (strcmp(k, "city") == 0) {
			city = v;
		} else if (strcmp(k, "state") == 0) {
			region = v;
		} else if (strcmp(k, "countryCode") == 0) {
			if (strlen(v) == 2 && isupper((unsigned char)v[0]) &&
			    isupper((unsigned char)v[1]))
				country = v;
		} else if (strcmp(k, "latitude") == 0 || strcmp(k, "longitude") == 0) {
			char *end;
			double d = strtod(v, &end);
			int is_lat = k[1] == 'a';

			if (*end || d < (is_lat ? -90 : -180) || d > (is_lat ? 90 : 180)) {
				failf(r, a, "%s '%s' is not a coordinate", k, v);
				goto out;
			}
			*(is_lat ? &lat : &lon) = v;
		} else if (strncmp(k, "streetAddress", 13) == 0 || strcmp(k, "postalCode") == 0) {
			if (address.len)
				strbuf_add(&address, ", ");
			strbuf_add(&address, v);
		}
	}
	if (address.oom) {
		failf(r, el, "out of memory");
		goto out;
	}
	params[0] = gln;
	params[1] = name;
	params[2] = lat;
	params[3] = lon;
	params[4] = address.len ? strbuf_str(&address) : NULL;
	params[5] = city;
	params[6] = region;
	params[7] = country;
	{
		char label[96];

		snprintf(label, sizeof(label), "location %s", gln);
		rc = row_add(r, el, ROW_SITE, label, 8, params);
	}
out:
	free(address.p);
	return rc;
}

static int plan_class(struct run *r, xmlNodePtr el, const char *gtin)
{
	const char *desc = NULL, *params[2];
	char label[96];
	int bad = 0;

	for (xmlNodePtr a = el->children; a; a = a->next) {
		const char *k;

		if (!is_elem(a, "attribute"))
			continue;
		k = mda_attr(attr_of(r, a, "id", &bad));
		if (bad)
			return -1;
		if (k && (strcmp(k, "descriptionShort") == 0 ||
			  strcmp(k, "regulatedProductName") == 0 ||
			  strcmp(k, "tradeItemDescription") == 0) && !desc) {
			desc = text_of(r, a, &bad);
			if (bad)
				return -1;
			if (!*desc)
				desc = NULL;
		}
	}
	if (!desc)
		return 0; /* products.description is required: nothing to store */
	params[0] = gtin;
	params[1] = desc;
	snprintf(label, sizeof(label), "product %s", gtin);
	return row_add(r, el, ROW_PRODUCT, label, 2, params);
}

static int plan_vocabularies(struct run *r, xmlNodePtr list)
{
	int bad = 0;

	for (xmlNodePtr v = list->children; v; v = v->next) {
		const char *type;
		xmlNodePtr els;
		int loc, cls;

		if (!is_elem(v, "Vocabulary"))
			continue;
		type = attr_of(r, v, "type", &bad);
		if (bad)
			return -1;
		loc = type && strcmp(type, "urn:epcglobal:epcis:vtype:BusinessLocation") == 0;
		cls = type && strcmp(type, "urn:epcglobal:epcis:vtype:EPCClass") == 0;
		els = first_elem(v, "VocabularyElementList");
		for (xmlNodePtr el = els ? els->children : NULL; el; el = el->next) {
			struct gs1_id id;
			const char *vid;
			int k, rc = 0;

			if (!is_elem(el, "VocabularyElement"))
				continue;
			vid = attr_of(r, el, "id", &bad);
			if (bad)
				return -1;
			if (!vid)
				return failf(r, el, "VocabularyElement without id");
			k = check_id(r, el, "VocabularyElement id", vid, &id);
			if (k < 0)
				return -1;
			if (loc && k == 1 && id.kind == GS1_SGLN && !id.ext[0])
				rc = plan_location(r, el, id.digits);
			else if (cls && k == 1 &&
				 (id.kind == GS1_GTIN || id.kind == GS1_LGTIN || id.kind == GS1_SGTIN))
				rc = plan_class(r, el, id.digits);
			bag_clear(&r->bag);
			if (rc < 0)
				return -1;
		}
	}
	return 0;
}

/* Every VocabularyList under node (header master data of an EPCISDocument, or the body of
 * an EPCISMasterDataDocument), events excluded. */
static int find_vocabularies(struct run *r, xmlNodePtr node)
{
	for (xmlNodePtr c = node->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE || c->ns || is_elem(c, "EventList"))
			continue;
		if (is_elem(c, "VocabularyList")) {
			if (plan_vocabularies(r, c) < 0)
				return -1;
		} else if (find_vocabularies(r, c) < 0) {
			return -1;
		}
	}
	return 0;
}

/* ---- entry points -------------------------------------------------------------------- */

int epcis_importer_new(const char *schema_dir, struct epcis_importer **out)
{
	struct epcis_importer *imp = calloc(1, sizeof(*imp));

	*out = NULL;
	if (!imp)
		return -1;
	if (schema_dir && xmldoc_schemas_new(schema_dir, &imp->schemas) < 0) {
		free(imp);
		return -1;
	}
	*out = imp;
	return 0;
}

void epcis_importer_free(struct epcis_importer *imp)
{
	if (!imp)
		return;
	xmldoc_schemas_free(imp->schemas);
	free(imp);
}

/* The first phase, shared by check and import: everything that needs no database, ending
 * with r->rows. 0, or -1 with the message in r->err. */
static int prepare(struct epcis_importer *imp, struct run *r, const char *data, size_t len)
{
	xmlNodePtr root, body, list;
	const char *ns, *schema;

	if (xmldoc_parse(data, len, r->name, &r->doc, r->err, r->errlen) < 0)
		return -1;
	root = xmlDocGetRootElement(r->doc);
	ns = root->ns ? (const char *)root->ns->href : "";
	if (strcmp((const char *)root->name, "EPCISDocument") == 0 && strcmp(ns, NS_EPCIS) == 0) {
		schema = "EPCglobal-epcis-2_0.xsd";
	} else if (strcmp((const char *)root->name, "EPCISMasterDataDocument") == 0 &&
		   strcmp(ns, NS_EPCIS_MD) == 0) {
		schema = "EPCglobal-epcis-masterdata-2_0.xsd";
	} else {
		return failf(r, root,
			     "root element <%s> in namespace '%s' is not an EPCIS 2.0 EPCISDocument "
			     "(%s) or EPCISMasterDataDocument (%s)",
			     (const char *)root->name, ns, NS_EPCIS, NS_EPCIS_MD);
	}
	if (imp->schemas && xmldoc_validate(imp->schemas, schema, r->doc, r->err, r->errlen) < 0)
		return -1;
	body = first_elem(root, "EPCISBody");
	if (!body)
		return failf(r, root, "no EPCISBody");
	if (find_vocabularies(r, root) < 0)
		return -1;
	list = first_elem(body, "EventList");
	if (list && plan_events(r, list) < 0)
		return -1;
	return 0;
}

static void run_release(struct run *r)
{
	bag_clear(&r->bag);
	rows_release(&r->rows);
	xmlFreeDoc(r->doc);
	r->doc = NULL;
}

static int row_failf(struct run *r, const struct row *w, struct db *db)
{
	snprintf(r->err, r->errlen, "%ld: %s refused by the database: %s", w->line, w->label,
		 db_error(db));
	return -1;
}

/* The second phase: the rows, inside the caller's transaction. An event already stored
 * (ON CONFLICT DO NOTHING returned no id) is counted as known and its items and lots are
 * skipped. */
static int store_rows(struct run *r, struct db *db)
{
	struct db_res *res = NULL;
	char event_id[32] = "";
	int event_new = 0;

	for (size_t i = 0; i < r->rows.n; i++) {
		struct row *w = &r->rows.v[i];

		switch (w->kind) {
		case ROW_SITE:
		case ROW_PRODUCT:
			if (db_exec(db, w->kind == ROW_SITE ? sql_site : sql_product, w->n, w->p,
				    NULL) < 0)
				return row_failf(r, w, db);
			r->stats->vocab_elements++;
			break;
		case ROW_EVENT:
			if (db_exec(db, sql_event, w->n, w->p, &res) < 0) {
				db_res_free(res);
				return row_failf(r, w, db);
			}
			event_new = db_res_rows(res) > 0;
			if (event_new) {
				snprintf(event_id, sizeof(event_id), "%s", db_res_get(res, 0, 0));
				r->stats->events_new++;
			} else {
				r->stats->events_known++;
			}
			db_res_free(res);
			res = NULL;
			break;
		case ROW_ITEMS:
			if (!event_new)
				break;
			w->p[0] = event_id;
			if (db_exec(db, sql_items, w->n, w->p, NULL) < 0)
				return row_failf(r, w, db);
			break;
		case ROW_LOT:
			if (event_new && db_exec(db, sql_lot, w->n, w->p, NULL) < 0)
				return row_failf(r, w, db);
			break;
		}
	}
	return 0;
}

int epcis_importer_check(struct epcis_importer *imp, const char *data, size_t len,
			 const char *name, char *err, size_t errlen)
{
	struct epcis_import_stats stats = {0};
	struct run r = {.name = name, .stats = &stats, .err = err, .errlen = errlen};
	int rc = prepare(imp, &r, data, len);

	run_release(&r);
	return rc;
}

int epcis_importer_run(struct epcis_importer *imp, struct db *db, const char *data, size_t len,
		       const char *name, struct epcis_import_stats *stats, char *err,
		       size_t errlen)
{
	struct run r = {.name = name, .stats = stats, .err = err, .errlen = errlen};
	int rc = -1;

	memset(stats, 0, sizeof(*stats));
	if (prepare(imp, &r, data, len) < 0)
		goto out;
	/* The tree is no longer needed: the rows hold copies. */
	xmlFreeDoc(r.doc);
	r.doc = NULL;
	if (db_begin(db) < 0) {
		failf(&r, NULL, "cannot begin a transaction: %s", db_error(db));
		goto out;
	}
	if (store_rows(&r, db) < 0) {
		db_rollback(db);
		goto out;
	}
	if (db_commit(db) < 0) {
		failf(&r, NULL, "commit failed: %s", db_error(db));
		goto out;
	}
	rc = 0;
out:
	if (rc < 0) {
		stats->events_new = 0;
		stats->events_known = 0;
		stats->vocab_elements = 0;
	}
	run_release(&r);
	return rc;
}

int epcis_import(struct db *db, const char *data, size_t len, const char *name,
		 const char *schema_dir, struct epcis_import_stats *stats, char *err,
		 size_t errlen)
{
	struct epcis_importer *imp = NULL;
	int rc;

	if (epcis_importer_new(schema_dir, &imp) < 0) {
		snprintf(err, errlen, "0: out of memory");
		return -1;
	}
	rc = epcis_importer_run(imp, db, data, len, name, stats, err, errlen);
	epcis_importer_free(imp);
	return rc;
}

int epcis_import_check(const char *data, size_t len, const char *name, const char *schema_dir,
		       char *err, size_t errlen)
{
	struct epcis_importer *imp = NULL;
	int rc;

	if (epcis_importer_new(schema_dir, &imp) < 0) {
		snprintf(err, errlen, "0: out of memory");
		return -1;
	}
	rc = epcis_importer_check(imp, data, len, name, err, errlen);
	epcis_importer_free(imp);
	return rc;
}
