/*
 * report_i18n: the words of the buyer reports in English, Simplified and Traditional
 * Chinese. Keys are dotted names ("title", "cte.shipping", "severity.major"); the table is
 * compiled in, so a report never depends on files at run time.
 */
#ifndef COLDTRACE_REPORT_I18N_H
#define COLDTRACE_REPORT_I18N_H

#include <stddef.h>

enum report_lang { REPORT_LANG_EN, REPORT_LANG_ZH_HANS, REPORT_LANG_ZH_HANT, REPORT_LANG_N };

/* "en", "zh-Hans" or "zh-Hant" (NULL means "en"). 0, or -1 for another language. */
int report_i18n_lang(const char *tag, enum report_lang *out);
/* The BCP 47 tag of a language ("zh-Hans"). */
const char *report_i18n_tag(enum report_lang lang);
/* The text of key in lang; the key itself when the table has no such key (the unit test
 * checks every key has all three languages). Static storage. */
const char *report_i18n_get(enum report_lang lang, const char *key);
/* "prefix.code" looked up, e.g. ("cte", "shipping"); code itself when unknown. */
const char *report_i18n_code(enum report_lang lang, const char *prefix, const char *code);
/* Number of keys, and the key at i (for tests). */
size_t report_i18n_count(void);
const char *report_i18n_key(size_t i);

#endif
