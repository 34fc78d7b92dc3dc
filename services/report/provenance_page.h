/*
 * provenance_page: the public page a buyer reaches by scanning a case's QR code (GS1 Digital
 * Link /01/{gtin}/10/{lot}): one XHTML document, server-rendered with libxml2, no script,
 * mobile-first CSS, in English, Simplified or Traditional Chinese. Farm and certifications,
 * harvest and packing events, each leg with its route sketch and temperature chart,
 * excursions and QA decisions (by pseudonym), download links. Only a lot its owner marked
 * public is shown (the data comes through ct_api_public_page, sql/api.sql).
 */
#ifndef COLDTRACE_PROVENANCE_PAGE_H
#define COLDTRACE_PROVENANCE_PAGE_H

#include <stddef.h>

struct db;

/* gtin: 14 digits; lot: the lot code; lang: "en", "zh-Hans" or "zh-Hant" (else "en").
 * *out (malloc'd, the caller's) holds the document of *len bytes. 0, 1 when the lot is not
 * there or not public, -1 on error (logged). */
int provenance_page(struct db *db, const char *gtin, const char *lot, const char *lang,
		    char **out, size_t *len);

#endif
