/*
 * report: one entry point for every buyer report format, shared by the CLI and the HTTP API
 * so both hand out the same bytes: renders a lot or a shipment as XHTML, FSMA 204 CSV or an
 * EPCIS 2.0 document, and signs it (services/common/sign.h) when given a key.
 */
#ifndef COLDTRACE_REPORT_H
#define COLDTRACE_REPORT_H

#include <stddef.h>

struct db;
struct trace_scope;

enum report_format { REPORT_HTML, REPORT_CSV, REPORT_EPCIS };

/* "html", "csv", "epcis" → *out. 0, or -1 for an unknown name. */
int report_format_parse(const char *name, enum report_format *out);
/* 1 when lang is one the reports are written in: "en", "zh-Hans", "zh-Hant". */
int report_lang_ok(const char *lang);
/* The media type of a format, for downloads ("application/xhtml+xml", …). */
const char *report_media_type(enum report_format f);
/* The usual file extension, without the dot ("xhtml", "csv", "xml"). */
const char *report_extension(enum report_format f);

/* Renders the scope in the format (lang only matters for HTML) and, when sk is not NULL,
 * appends the signature trailer with that Ed25519 secret key (64 bytes). *out is malloc'd,
 * the caller frees it. Returns 0, 1 when the scope is not found, -1 on error (logged). */
int report_render(struct db *db, const struct trace_scope *scope, enum report_format f,
		  const char *lang, const unsigned char *sk, char **out, size_t *len);

#endif
