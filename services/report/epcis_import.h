/*
 * epcis_import: capture of EPCIS 2.0 XML documents (EPCISDocument and
 * EPCISMasterDataDocument) into the trace store, with libxml2.
 */
#ifndef COLDTRACE_EPCIS_IMPORT_H
#define COLDTRACE_EPCIS_IMPORT_H

#include <stddef.h>

struct db;

struct epcis_import_stats {
	long events_new;   /* events stored by this import */
	long events_known; /* events already stored (same event identity): skipped */
	long vocab_elements; /* master-data vocabulary elements stored or updated */
	long warnings;       /* accepted oddities (e.g. an unknown CBV business transaction type) */
	char warning[256];   /* the first one, "LINE: problem" */
};

/* Schemas compiled once, reused by every document of a process. schema_dir NULL: no schema
 * validation (well-formedness, CBV vocabulary and identifiers are still checked). */
struct epcis_importer;
int epcis_importer_new(const char *schema_dir, struct epcis_importer **out);
void epcis_importer_free(struct epcis_importer *imp);

/* Validates data[0..len) (name: a file name for messages, stored as trace_events.document)
 * against the XSD its root element calls for (EPCISDocument: EPCglobal-epcis-2_0.xsd,
 * EPCISMasterDataDocument: EPCglobal-epcis-masterdata-2_0.xsd), checks its CBV vocabulary and
 * GS1 identifiers and stores it in one transaction; an event already stored (same eventID,
 * or same digest of its canonical XML when it has none) is counted as known and left alone.
 * On failure returns -1 and writes "LINE: problem" into err (LINE 0 when the problem has no
 * line, e.g. a missing schema); nothing is stored. Not NUL-terminated input. */
int epcis_importer_run(struct epcis_importer *imp, struct db *db, const char *data, size_t len,
		       const char *name, struct epcis_import_stats *stats, char *err,
		       size_t errlen);

/* The same document check without a database, for fuzzing and for validating a document
 * before accepting it: everything epcis_importer_run does before it opens its transaction
 * (safe parse with DOCTYPE refusal, the XSD chosen by the root element, CBV vocabulary and
 * GS1 identifier checks, every row built in memory) and nothing after. 0 when the document
 * would be imported (the database may still refuse a row, e.g. a lot quantity out of
 * range), or -1 with "LINE: problem" in err, the same message an import gives. */
int epcis_importer_check(struct epcis_importer *imp, const char *data, size_t len,
			 const char *name, char *err, size_t errlen);

/* One document with a throwaway importer (schemas compiled for this call). */
int epcis_import(struct db *db, const char *data, size_t len, const char *name,
		 const char *schema_dir, struct epcis_import_stats *stats, char *err,
		 size_t errlen);

/* epcis_importer_check with a throwaway importer (schemas compiled for this call: keep an
 * importer when checking many documents). schema_dir NULL: no schema validation. */
int epcis_import_check(const char *data, size_t len, const char *name, const char *schema_dir,
		       char *err, size_t errlen);

#endif
