/*
 * report: dispatches a report request to its renderer and signs the result. Keeping this in
 * one place is what makes a report downloaded from the API byte-identical to one written by
 * `coldtrace report` for the same data and key.
 */
#include "report.h"

#include <stdlib.h>
#include <string.h>

#include "epcis_export.h"
#include "report_csv.h"
#include "report_html.h"
#include "sign.h"

static const struct {
	const char *name;
	enum report_format format;
	const char *media_type;
	const char *extension;
} formats[] = {
    {"html", REPORT_HTML, "application/xhtml+xml; charset=utf-8", "xhtml"},
    {"csv", REPORT_CSV, "text/csv; charset=utf-8", "csv"},
    {"epcis", REPORT_EPCIS, "application/xml; charset=utf-8", "xml"},
};

int report_format_parse(const char *name, enum report_format *out)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (strcmp(name, formats[i].name) == 0) {
			*out = formats[i].format;
			return 0;
		}
	return -1;
}

int report_lang_ok(const char *lang)
{
	return strcmp(lang, "en") == 0 || strcmp(lang, "zh-Hans") == 0 ||
	       strcmp(lang, "zh-Hant") == 0;
}

const char *report_media_type(enum report_format f)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (formats[i].format == f)
			return formats[i].media_type;
	return "application/octet-stream";
}

const char *report_extension(enum report_format f)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (formats[i].format == f)
			return formats[i].extension;
	return "bin";
}

int report_render(struct db *db, const struct trace_scope *scope, enum report_format f,
		  const char *lang, const unsigned char *sk, char **out, size_t *len)
{
	char *doc = NULL;
	size_t n = 0;
	int rc;

	switch (f) {
	case REPORT_HTML:
		rc = report_html(db, scope, lang, &doc, &n);
		break;
	case REPORT_CSV:
		rc = report_csv(db, scope, &doc, &n);
		break;
	case REPORT_EPCIS:
		rc = epcis_export(db, scope, &doc, &n);
		break;
	default:
		return -1;
	}
	if (rc != 0)
		return rc;
	if (sk &&
	    sign_append(sk, f == REPORT_CSV ? SIGN_STYLE_CSV : SIGN_STYLE_XML, &doc, &n) < 0) {
		free(doc);
		return -1;
	}
	*out = doc;
	*len = n;
	return 0;
}
