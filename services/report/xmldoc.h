/*
 * xmldoc: parsing untrusted XML safely and validating it against XSDs, with libxml2. Errors
 * are collected (never printed by libxml2) as "LINE: problem" of the first one.
 */
#ifndef COLDTRACE_XMLDOC_H
#define COLDTRACE_XMLDOC_H

#include <stddef.h>

#include <libxml/tree.h>

/* Parses data[0..len) (not NUL-terminated; name only for messages) with no network access and
 * no entity expansion. A DOCTYPE with an external identifier or with declarations (entities,
 * elements, attributes, notations) is refused before any of it is used, which covers external
 * entities (XXE) and entity bombs; a bare <!DOCTYPE name> declares nothing and is accepted.
 * On success *out is the caller's (xmlFreeDoc). On failure returns -1 with "LINE: problem" in
 * err (LINE 0 when unknown). */
int xmldoc_parse(const char *data, size_t len, const char *name, xmlDocPtr *out, char *err,
		 size_t errlen);

/* Compiled schemas, by file name inside one directory, each compiled on first use and kept
 * until xmldoc_schemas_free. */
struct xmldoc_schemas;

/* dir is copied. 0 or -1 (out of memory). */
int xmldoc_schemas_new(const char *dir, struct xmldoc_schemas **out);
void xmldoc_schemas_free(struct xmldoc_schemas *s);

/* Validates doc against dir/file. 0 when valid; -1 with "LINE: problem" in err (the first
 * problem, and how many more there are) when not, or when the schema cannot be loaded (the
 * message then names the path). */
int xmldoc_validate(struct xmldoc_schemas *s, const char *file, xmlDocPtr doc, char *err,
		    size_t errlen);

#endif
