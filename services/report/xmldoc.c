/*
 * xmldoc: libxml2 set up for documents from outside. Parsing runs with XML_PARSE_NONET and
 * never with XML_PARSE_NOENT, XML_PARSE_DTDLOAD or XML_PARSE_DTDATTR; SAX hooks refuse a
 * DOCTYPE that names an external DTD or declares anything, at the point it appears, so no
 * entity is ever defined, let alone expanded. Errors go to a per-call collector through the
 * parser's structured error channel (not libxml2's global handlers), so libxml2 writes
 * nothing to stderr and concurrent callers do not share state.
 *
 * DESIGN: a compiled schema is immutable and reusable; the cache compiles each file once per
 * xmldoc_schemas object (the CLI keeps one per process) and frees them together.
 */
#include "xmldoc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlschemas.h>

struct collect {
	long line;
	int count;
	char msg[480];
};

static void collect_set(struct collect *c, long line, const char *msg)
{
	size_t n;

	if (c->count++ > 0)
		return;
	c->line = line;
	snprintf(c->msg, sizeof(c->msg), "%s", msg ? msg : "unknown error");
	n = strlen(c->msg);
	while (n > 0 && (c->msg[n - 1] == '\n' || c->msg[n - 1] == ' '))
		c->msg[--n] = '\0';
}

static void collect_error(void *data, xmlErrorPtr e)
{
	struct collect *c = data;

	if (!e || e->level == XML_ERR_WARNING)
		return;
	collect_set(c, e->line, e->message);
}

/* The parser's structured channel receives the parser context as its data. */
static void parser_error(void *data, xmlErrorPtr e)
{
	xmlParserCtxtPtr ctxt = data;

	collect_error(ctxt->_private, e);
}

static void refuse(xmlParserCtxtPtr ctxt, const char *what)
{
	struct collect *c = ctxt->_private;

	collect_set(c, ctxt->input ? ctxt->input->line : 0, what);
	xmlStopParser(ctxt);
}

static const char doctype_refused[] =
	"DOCTYPE not allowed (entities and external DTDs are refused)";

static void sax_internal_subset(void *ctx, const xmlChar *name, const xmlChar *external_id,
				const xmlChar *system_id)
{
	if (external_id || system_id) {
		refuse(ctx, doctype_refused);
		return;
	}
	xmlSAX2InternalSubset(ctx, name, NULL, NULL);
}

static void sax_entity_decl(void *ctx, const xmlChar *name, int type, const xmlChar *public_id,
			    const xmlChar *system_id, xmlChar *content)
{
	(void)name, (void)type, (void)public_id, (void)system_id, (void)content;
	refuse(ctx, doctype_refused);
}

static void sax_element_decl(void *ctx, const xmlChar *name, int type,
			     xmlElementContentPtr content)
{
	(void)name, (void)type, (void)content;
	refuse(ctx, doctype_refused);
}

static void sax_attribute_decl(void *ctx, const xmlChar *elem, const xmlChar *fullname, int type,
			       int def, const xmlChar *default_value, xmlEnumerationPtr tree)
{
	(void)elem, (void)fullname, (void)type, (void)def, (void)default_value;
	xmlFreeEnumeration(tree);
	refuse(ctx, doctype_refused);
}

static void sax_notation_decl(void *ctx, const xmlChar *name, const xmlChar *public_id,
			      const xmlChar *system_id)
{
	(void)name, (void)public_id, (void)system_id;
	refuse(ctx, doctype_refused);
}

static void sax_unparsed_entity_decl(void *ctx, const xmlChar *name, const xmlChar *public_id,
				     const xmlChar *system_id, const xmlChar *notation)
{
	(void)name, (void)public_id, (void)system_id, (void)notation;
	refuse(ctx, doctype_refused);
}

/* An entity reference that reaches the tree builder was never declared by us: refuse it
 * rather than let libxml2 look it up anywhere. */
static xmlEntityPtr sax_get_entity(void *ctx, const xmlChar *name)
{
	xmlEntityPtr pre = xmlGetPredefinedEntity(name);

	if (!pre)
		refuse(ctx, doctype_refused);
	return pre;
}

int xmldoc_parse(const char *data, size_t len, const char *name, xmlDocPtr *out, char *err,
		 size_t errlen)
{
	struct collect c = {0};
	xmlParserCtxtPtr ctxt = NULL;
	xmlDocPtr doc = NULL;
	int rc = -1;

	*out = NULL;
	if (len > (size_t)INT32_MAX) {
		snprintf(err, errlen, "0: document too large");
		return -1;
	}
	ctxt = xmlNewParserCtxt();
	if (!ctxt) {
		snprintf(err, errlen, "0: out of memory");
		return -1;
	}
	ctxt->_private = &c;
	ctxt->sax->serror = parser_error;
	ctxt->sax->internalSubset = sax_internal_subset;
	ctxt->sax->entityDecl = sax_entity_decl;
	ctxt->sax->elementDecl = sax_element_decl;
	ctxt->sax->attributeDecl = sax_attribute_decl;
	ctxt->sax->notationDecl = sax_notation_decl;
	ctxt->sax->unparsedEntityDecl = sax_unparsed_entity_decl;
	ctxt->sax->getEntity = sax_get_entity;
	ctxt->sax->externalSubset = NULL;
	doc = xmlCtxtReadMemory(ctxt, data, (int)len, name, NULL,
				XML_PARSE_NONET | XML_PARSE_BIG_LINES | XML_PARSE_NOCDATA);
	if (c.count > 0 || !doc || !ctxt->wellFormed) {
		if (c.count == 0)
			collect_set(&c, 0, "not a well-formed XML document");
		snprintf(err, errlen, "%ld: %s", c.line, c.msg);
		goto out;
	}
	if (!xmlDocGetRootElement(doc)) {
		snprintf(err, errlen, "0: empty document");
		goto out;
	}
	*out = doc;
	doc = NULL;
	rc = 0;
out:
	xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctxt);
	return rc;
}

struct schema_entry {
	char *file;
	xmlSchemaPtr schema;
};

struct xmldoc_schemas {
	char *dir;
	struct schema_entry entries[8];
	int n;
};

int xmldoc_schemas_new(const char *dir, struct xmldoc_schemas **out)
{
	struct xmldoc_schemas *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s || !(s->dir = strdup(dir))) {
		free(s);
		return -1;
	}
	*out = s;
	return 0;
}

void xmldoc_schemas_free(struct xmldoc_schemas *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->n; i++) {
		free(s->entries[i].file);
		xmlSchemaFree(s->entries[i].schema);
	}
	free(s->dir);
	free(s);
}

static xmlSchemaPtr schema_get(struct xmldoc_schemas *s, const char *file, char *err,
			       size_t errlen)
{
	struct collect c = {0};
	xmlSchemaParserCtxtPtr pctxt = NULL;
	xmlSchemaPtr schema = NULL;
	char path[4096];
	FILE *f;

	for (int i = 0; i < s->n; i++)
		if (strcmp(s->entries[i].file, file) == 0)
			return s->entries[i].schema;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", s->dir, file) >= sizeof(path)) {
		snprintf(err, errlen, "0: schema path too long");
		return NULL;
	}
	f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "0: schema %s not found (set epcis_schema_dir)", path);
		return NULL;
	}
	fclose(f);
	if (s->n == (int)(sizeof(s->entries) / sizeof(s->entries[0]))) {
		snprintf(err, errlen, "0: too many schemas");
		return NULL;
	}
	pctxt = xmlSchemaNewParserCtxt(path);
	if (!pctxt) {
		snprintf(err, errlen, "0: out of memory");
		return NULL;
	}
	xmlSchemaSetParserStructuredErrors(pctxt, collect_error, &c);
	schema = xmlSchemaParse(pctxt);
	xmlSchemaFreeParserCtxt(pctxt);
	if (!schema) {
		snprintf(err, errlen, "0: schema %s does not compile: %s", path,
			 c.count ? c.msg : "unknown error");
		return NULL;
	}
	s->entries[s->n].file = strdup(file);
	if (!s->entries[s->n].file) {
		xmlSchemaFree(schema);
		snprintf(err, errlen, "0: out of memory");
		return NULL;
	}
	s->entries[s->n++].schema = schema;
	return schema;
}

int xmldoc_validate(struct xmldoc_schemas *s, const char *file, xmlDocPtr doc, char *err,
		    size_t errlen)
{
	struct collect c = {0};
	xmlSchemaValidCtxtPtr vctxt = NULL;
	xmlSchemaPtr schema;
	int rc = -1, v;

	schema = schema_get(s, file, err, errlen);
	if (!schema)
		return -1;
	vctxt = xmlSchemaNewValidCtxt(schema);
	if (!vctxt) {
		snprintf(err, errlen, "0: out of memory");
		return -1;
	}
	xmlSchemaSetValidStructuredErrors(vctxt, collect_error, &c);
	v = xmlSchemaValidateDoc(vctxt, doc);
	if (v == 0 && c.count == 0) {
		rc = 0;
	} else if (c.count > 1) {
		snprintf(err, errlen, "%ld: %s (and %d more schema error%s)", c.line, c.msg,
			 c.count - 1, c.count > 2 ? "s" : "");
	} else {
		snprintf(err, errlen, "%ld: %s", c.line,
			 c.count ? c.msg : "the document does not validate against the schema");
	}
	xmlSchemaFreeValidCtxt(vctxt);
	return rc;
}
