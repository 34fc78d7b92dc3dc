/*
 * fuzz_epcis: libFuzzer target for EPCIS 2.0 capture, the XML a client POSTs to the API and
 * the CLI imports. One input is one document.
 *
 * With FUZZ_EPCIS_CHECK defined (tests/fuzz/run.sh defines it when
 * services/report/epcis_import.h declares epcis_import_check) the input goes through the
 * importer's own database-free path (epcis_importer_check, the first phase of every import):
 * safe parse, schema validation, CBV vocabulary and identifier checks, event identity (C14N)
 * and the rows built in memory. One importer is kept for the process (epcis_import_check
 * would compile the XSDs for every input) and its schemas are compiled in
 * LLVMFuzzerInitialize, before the loader below forbids reading files.
 * Without it, what any importer must do first is fuzzed here: libxml2 parsing with the options
 * our conventions require (XML_PARSE_NONET, no entity substitution, no DTD loading), then
 * validation against the GS1 EPCIS 2.0 XSD chosen by the root element (event or master-data
 * document), then a walk of the tree.
 *
 * Oracle beyond the sanitizers: once the schemas are loaded, an external entity loader that
 * aborts is installed, so a document that makes the parser reach for any external resource
 * (file, http, external DTD or entity: XXE) is reported as a crash with that input.
 *
 * Schemas come from $COLDTRACE_EPCIS_SCHEMA_DIR (GS1 does not license them for
 * redistribution; run.sh points it at ../shared/epcis/xsd). Without them only parsing and the
 * walk are fuzzed, and that is said once on stderr.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>

#ifdef FUZZ_EPCIS_CHECK
#include "epcis_import.h"
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define EPCIS_NS "urn:epcglobal:epcis:xsd:2"
#define EPCIS_MD_NS "urn:epcglobal:epcis-masterdata:xsd:2"

/* No NOENT (entity substitution), no DTDLOAD/DTDATTR/DTDVALID, no HUGE: what capture uses. */
#define SECURE_OPTIONS (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)

static const char *schema_dir;
#ifdef FUZZ_EPCIS_CHECK
static struct epcis_importer *importer;

/* Smallest documents of each root: validating them compiles (and caches) both schemas. */
static const char warm_events[] =
	"<epcis:EPCISDocument xmlns:epcis=\"" EPCIS_NS "\" schemaVersion=\"2.0\" "
	"creationDate=\"2024-01-01T00:00:00Z\"><EPCISBody><EventList/></EPCISBody>"
	"</epcis:EPCISDocument>";
static const char warm_md[] =
	"<epcismd:EPCISMasterDataDocument xmlns:epcismd=\"" EPCIS_MD_NS "\" "
	"schemaVersion=\"2.0\" creationDate=\"2024-01-01T00:00:00Z\"><EPCISBody>"
	"<VocabularyList/></EPCISBody></epcismd:EPCISMasterDataDocument>";
#else
static xmlSchemaPtr schema_events, schema_md;
#endif

static void quiet(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

static void quiet_structured(void *ctx, xmlErrorPtr e)
{
	(void)ctx;
	(void)e;
}

static xmlParserInputPtr refuse_external(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
	(void)ctxt;
	fprintf(stderr, "fuzz_epcis: parser tried to load an external resource: url=%s id=%s\n",
		url ? url : "(null)", id ? id : "(null)");
	abort();
}

#ifndef FUZZ_EPCIS_CHECK
static xmlSchemaPtr load_schema(const char *dir, const char *file)
{
	char path[4096];
	xmlSchemaParserCtxtPtr pc;
	xmlSchemaPtr s;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	pc = xmlSchemaNewParserCtxt(path);
	if (!pc)
		return NULL;
	s = xmlSchemaParse(pc);
	xmlSchemaFreeParserCtxt(pc);
	if (!s)
		fprintf(stderr, "fuzz_epcis: cannot load schema %s\n", path);
	return s;
}
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	xmlInitParser();
	schema_dir = getenv("COLDTRACE_EPCIS_SCHEMA_DIR");
	if (schema_dir && !*schema_dir)
		schema_dir = NULL;
#ifdef FUZZ_EPCIS_CHECK
	if (epcis_importer_new(schema_dir, &importer) < 0)
		abort();
	if (schema_dir) {
		char err[512];

		if (epcis_importer_check(importer, warm_events, sizeof(warm_events) - 1, "warm.xml",
					 err, sizeof(err)) < 0 ||
		    epcis_importer_check(importer, warm_md, sizeof(warm_md) - 1, "warm-md.xml",
					 err, sizeof(err)) < 0) {
			fprintf(stderr, "fuzz_epcis: the schemas of %s do not accept the smallest "
					"documents: %s\n", schema_dir, err);
			abort();
		}
	} else {
		fprintf(stderr, "fuzz_epcis: no EPCIS schemas (COLDTRACE_EPCIS_SCHEMA_DIR unset): "
				"schema validation not fuzzed\n");
	}
#else
	if (schema_dir) {
		schema_events = load_schema(schema_dir, "EPCglobal-epcis-2_0.xsd");
		schema_md = load_schema(schema_dir, "EPCglobal-epcis-masterdata-2_0.xsd");
	}
	if (!schema_events || !schema_md)
		fprintf(stderr, "fuzz_epcis: no EPCIS schemas (COLDTRACE_EPCIS_SCHEMA_DIR=%s): "
				"schema validation not fuzzed\n",
			schema_dir ? schema_dir : "");
#endif
	/* From here on nothing may be loaded from outside the input. */
	xmlSetExternalEntityLoader(refuse_external);
	xmlSetGenericErrorFunc(NULL, quiet);
	xmlSetStructuredErrorFunc(NULL, quiet_structured);
	return 0;
}

#ifndef FUZZ_EPCIS_CHECK
/* Visits every node and attribute value, as an importer reading events does. */
static size_t walk(xmlNodePtr n, int depth)
{
	size_t count = 0;

	for (; n; n = n->next) {
		count++;
		if (n->type == XML_ELEMENT_NODE) {
			for (xmlAttrPtr a = n->properties; a; a = a->next) {
				xmlChar *v = xmlNodeListGetString(n->doc, a->children, 1);
				xmlFree(v);
			}
			if (n->ns && n->ns->href)
				count += strlen((const char *)n->ns->href) & 1;
		} else if (n->type == XML_TEXT_NODE && n->content) {
			count += strlen((const char *)n->content) & 1;
		}
		if (depth < 256)
			count += walk(n->children, depth + 1);
	}
	return count;
}

static void validate(xmlSchemaPtr s, xmlDocPtr doc)
{
	xmlSchemaValidCtxtPtr vc;

	if (!s)
		return;
	vc = xmlSchemaNewValidCtxt(s);
	if (!vc)
		abort();
	xmlSchemaSetValidStructuredErrors(vc, quiet_structured, NULL);
	(void)xmlSchemaValidateDoc(vc, doc);
	xmlSchemaFreeValidCtxt(vc);
}
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
#ifdef FUZZ_EPCIS_CHECK
	char err[512];

	err[0] = '\0';
	if (epcis_importer_check(importer, (const char *)data, size, "fuzz.xml", err,
				 sizeof(err)) != 0 &&
	    !err[0]) {
		fprintf(stderr, "fuzz_epcis: epcis_importer_check failed without a message\n");
		abort();
	}
	return 0;
#else
	xmlParserCtxtPtr ctxt;
	xmlDocPtr doc;
	xmlNodePtr root;

	if (size > INT32_MAX)
		return 0;
	ctxt = xmlNewParserCtxt();
	if (!ctxt)
		abort();
	doc = xmlCtxtReadMemory(ctxt, (const char *)data, (int)size, "fuzz.xml", NULL,
				SECURE_OPTIONS);
	if (doc) {
		root = xmlDocGetRootElement(doc);
		(void)walk(doc->children, 0);
		if (root && root->ns && root->ns->href) {
			const char *ns = (const char *)root->ns->href;

			if (strcmp((const char *)root->name, "EPCISDocument") == 0 &&
			    strcmp(ns, EPCIS_NS) == 0)
				validate(schema_events, doc);
			else if (strcmp((const char *)root->name, "EPCISMasterDataDocument") == 0 &&
				 strcmp(ns, EPCIS_MD_NS) == 0)
				validate(schema_md, doc);
		}
		xmlFreeDoc(doc);
	}
	xmlFreeParserCtxt(ctxt);
	return 0;
#endif
}
