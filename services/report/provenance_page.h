/*
 * provenance_page: the public page a buyer reaches by scanning a case's QR code (GS1 Digital
 * Link /01/{gtin}/10/{lot}): one XHTML document, server-rendered with libxml2, no script,
 * mobile-first CSS, in English, Simplified or Traditional Chinese. Farm and certifications,
 * harvest and packing events, each leg with its route sketch and temperature chart,
 * excursions and QA decisions (by pseudonym), the signed report's SHA-256 digest and key, and
 * download links (the report in each language, CSV, EPCIS, JSON). Only a lot its owner marked
 * public is shown (the data comes through ct_api_public_page, sql/api.sql).
 */
#ifndef COLDTRACE_PROVENANCE_PAGE_H
#define COLDTRACE_PROVENANCE_PAGE_H

#include <stddef.h>

#include "sign.h"

struct db;

/* The lot's signed report as the page presents it (filled by the caller, who renders the
 * report with report_render): its SHA-256 and the signer's key. */
struct provenance_sig {
	int have_report; /* the downloads exist (the lot has an owner whose report renders) */
	int signed_;	 /* the report carries a signature trailer; key_b64 names the key */
	char sha256_hex[SIGN_HEX_LEN]; /* of the signed content, or of the whole unsigned file */
	char key_b64[SIGN_KEY_B64_LEN];
};

/* gtin: 14 digits; lot: the lot code; lang: "en", "zh-Hans" or "zh-Hant" (else "en");
 * sig: the report's digest and key, with links to download it (NULL: no report section). *out (malloc'd, the caller's) holds the document of *len bytes. 0, 1 when the lot is not
 * there or not public, -1 on error (logged). */
int provenance_page(struct db *db, const char *gtin, const char *lot, const char *lang,
		    const struct provenance_sig *sig, char **out, size_t *len);

#endif
