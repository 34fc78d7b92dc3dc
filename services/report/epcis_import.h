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
};

/* Validates data[0..len) (name: a file name for messages) against the XSDs in schema_dir,
 * checks its CBV vocabulary and stores it in one transaction. On failure returns -1 and
 * writes "LINE: problem" into err (nothing stored). Not NUL-terminated input. */
int epcis_import(struct db *db, const char *data, size_t len, const char *name,
		 const char *schema_dir, struct epcis_import_stats *stats, char *err,
		 size_t errlen);

#endif
