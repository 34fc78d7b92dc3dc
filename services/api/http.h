/*
 * http: the libmicrohttpd side of the API. Accepts connections (an internal thread pool,
 * epoll), enforces the limits (body size, connection and idle timeouts, connections per
 * address), collects the request (method, path split into percent-decoded segments, body)
 * and hands it to one handler, then sends what the handler left in the request. Handlers
 * never see libmicrohttpd: they read headers and query arguments through http_header and
 * http_arg.
 */
#ifndef COLDTRACE_API_HTTP_H
#define COLDTRACE_API_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_SEGMENTS 8

struct http_req {
	const char *method;
	int nseg;			  /* path segments, percent-decoded */
	char *seg[HTTP_MAX_SEGMENTS];	  /* "v1", "shipments", "SHP-1" */
	int bad_path;			  /* more segments, or a bad escape / NUL / control char */
	const char *body;		  /* the request body (not NUL-terminated) */
	size_t body_len;
	int body_too_large;		  /* the body exceeded the limit: answer 413 */
	int64_t started_us;		  /* when the request arrived (monotonic) */
	void *conn;			  /* libmicrohttpd's, for http_arg/http_header */

	/* The response, filled by the handler. out is malloc'd and taken over. */
	int status;
	char *out;
	size_t out_len;
	const char *content_type;
	const char *cache_control;	  /* NULL: "no-store" */
	const char *vary;
	char disposition[192];		  /* Content-Disposition, "" when none */
	char allow[32];			  /* Allow header for 405, "" when none */
};

struct http_settings {
	const char *bind;	/* IPv4 or IPv6 literal */
	long port;
	long threads;
	long max_body;		/* bytes */
	long timeout_s;		/* idle timeout of a connection */
	long max_connections;
	long per_ip_connections; /* 0: unlimited */
	/* HTTPS when cert_pem is not NULL: PEM texts, lent for the daemon's whole life. */
	const char *cert_pem, *key_pem;
	const char *tls_priorities; /* GnuTLS priority string; NULL or "": the default */
};

/* Handles one complete request: fills status and the response fields. */
typedef void (*http_handler)(void *ctx, struct http_req *req);

struct http;

/* Starts listening and serving in libmicrohttpd's threads (HTTPS with the settings' PEM
 * certificate and key when given). 0, or -1 (logged). */
int http_start(const struct http_settings *s, http_handler fn, void *ctx, struct http **out);
void http_stop(struct http *h);

/* A request header (case-insensitive name), NULL when absent. Valid during the request. */
const char *http_header(struct http_req *req, const char *name);
/* A query argument, percent- and '+'-decoded into buf. NULL when absent or undecodable
 * (or longer than cap - 1); *bad set to 1 in the latter case when bad is not NULL. */
const char *http_arg(struct http_req *req, const char *name, char *buf, size_t cap, int *bad);

/* Sets a JSON error response {"error": code, "message": message} (message escaped). */
void http_error(struct http_req *req, int status, const char *code, const char *message);
/* Sets the response to a copy of text (len bytes) with a content type. */
void http_set(struct http_req *req, int status, const char *content_type, const char *text,
	      size_t len);

int64_t http_now_us(void);

#endif
