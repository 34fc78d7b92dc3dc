/*
 * http: libmicrohttpd glue.
 *
 * DESIGN. libmicrohttpd calls the access handler once when the headers are in, then once per
 * chunk of body, then once more with no data: only that last call dispatches. The body is
 * collected up to max_body; a declared Content-Length above it is answered 413 at once
 * (libmicrohttpd then closes the connection instead of reading the rest), a chunked body
 * that grows past it is discarded and answered 413 at the end. URL unescaping is switched
 * off in libmicrohttpd (identity callback) and done here per path segment, so an escaped
 * '/' inside a lot code stays inside its segment. A connection idle for timeout_s (a client
 * that sends half a request and stops) is closed by libmicrohttpd.
 */
#include "text.h"
#include "http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"

struct http {
	struct MHD_Daemon *d;
	http_handler fn;
	void *ctx;
	size_t max_body;
};

struct conn_state {
	char *body;
	size_t len;
	int too_large;
	int64_t started_us;
	char *path_copy;
};

int64_t http_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Decodes in place; plus_space: '+' means ' ' (query strings). -1 on a bad escape, NUL or
 * control character. */
static int url_decode(char *s, int plus_space)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		unsigned char c = (unsigned char)*r;

		if (c == '%') {
			int hi = text_hexval(r[1]), lo = hi < 0 ? -1 : text_hexval(r[2]);

			if (hi < 0 || lo < 0)
				return -1;
			c = (unsigned char)(hi * 16 + lo);
			r += 2;
		} else if (c == '+' && plus_space) {
			c = ' ';
		}
		if (c < 0x20 || c == 0x7f)
			return -1;
		*w++ = (char)c;
	}
	*w = '\0';
	return 0;
}

static size_t unescape_none(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

const char *http_header(struct http_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_arg(struct http_req *req, const char *name, char *buf, size_t cap, int *bad)
{
	const char *v = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);

	if (!v)
		return NULL;
	if (strlen(v) >= cap || (snprintf(buf, cap, "%s", v), url_decode(buf, 1) < 0)) {
		if (bad)
			*bad = 1;
		return NULL;
	}
	return buf;
}

void http_set(struct http_req *req, int status, const char *content_type, const char *text,
	      size_t len)
{
	free(req->out);
	req->out = malloc(len ? len : 1);
	req->out_len = req->out ? len : 0;
	if (req->out)
		memcpy(req->out, text, len);
	req->status = req->out ? status : 500;
	req->content_type = content_type;
}

void http_error(struct http_req *req, int status, const char *code, const char *message)
{
	char buf[1024];
	size_t n = 0;

	n += (size_t)snprintf(buf, sizeof(buf), "{\"error\":\"%s\",\"message\":\"", code);
	for (const unsigned char *p = (const unsigned char *)message; *p && n < sizeof(buf) - 16;
	     p++) {
		if (*p == '"' || *p == '\\') {
			buf[n++] = '\\';
			buf[n++] = (char)*p;
		} else if (*p < 0x20) {
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\\u%04x", *p);
		} else {
			buf[n++] = (char)*p;
		}
	}
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\"}\n");
	http_set(req, status, "application/json; charset=utf-8", buf, n);
}

static void split_path(const char *url, struct conn_state *st, struct http_req *req)
{
	char *p;

	st->path_copy = strdup(url);
	if (!st->path_copy) {
		req->bad_path = 1;
		return;
	}
	p = st->path_copy;
	if (*p == '/')
		p++;
	while (*p) {
		char *slash = strchr(p, '/');

		if (slash)
			*slash = '\0';
		if (req->nseg == HTTP_MAX_SEGMENTS || url_decode(p, 0) < 0) {
			req->bad_path = 1;
			return;
		}
		req->seg[req->nseg++] = p;
		if (!slash)
			break;
		p = slash + 1;
	}
}

static enum MHD_Result respond(struct MHD_Connection *c, struct http_req *req)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (!req->out)
		http_error(req, req->status ? req->status : 500, "internal", "no response");
	resp = MHD_create_response_from_buffer(req->out_len, req->out, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(req->out);
		return MHD_NO;
	}
	req->out = NULL;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, req->content_type);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				req->cache_control ? req->cache_control : "no-store");
	if (req->vary)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, req->vary);
	if (req->disposition[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_DISPOSITION, req->disposition);
	if (req->allow[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, req->allow);
	if (req->content_type && strncmp(req->content_type, "application/xhtml", 17) == 0)
		MHD_add_response_header(resp, "Content-Security-Policy",
					"default-src 'none'; style-src 'unsafe-inline'; "
					"img-src 'self' data:; form-action 'self'");
	ret = MHD_queue_response(c, (unsigned)req->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct http *h = cls;
	struct conn_state *st = *con_cls;
	struct http_req req;
	enum MHD_Result ret;

	(void)version;
	if (!st) {
		const char *cl;

		st = calloc(1, sizeof(*st));
		if (!st)
			return MHD_NO;
		st->started_us = http_now_us();
		*con_cls = st;
		cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > h->max_body)
			st->too_large = 1; /* answered now, without reading the body */
		else
			return MHD_YES;
	} else if (*upload_size) {
		if (!st->too_large) {
			if (st->len + *upload_size > h->max_body) {
				st->too_large = 1;
				free(st->body);
				st->body = NULL;
				st->len = 0;
			} else {
				char *nb = realloc(st->body, st->len + *upload_size);

				if (!nb)
					return MHD_NO;
				memcpy(nb + st->len, upload, *upload_size);
				st->body = nb;
				st->len += *upload_size;
			}
		}
		*upload_size = 0;
		return MHD_YES;
	}
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.conn = c;
	req.body = st->body;
	req.body_len = st->len;
	req.body_too_large = st->too_large;
	req.started_us = st->started_us;
	req.content_type = "application/json; charset=utf-8";
	split_path(url, st, &req);
	h->fn(h->ctx, &req);
	ret = respond(c, &req);
	free(req.out);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode why)
{
	struct conn_state *st = *con_cls;

	(void)cls;
	(void)c;
	(void)why;
	if (!st)
		return;
	free(st->body);
	free(st->path_copy);
	free(st);
	*con_cls = NULL;
}

int http_start(const struct http_settings *s, http_handler fn, void *ctx, struct http **out)
{
	struct sockaddr_in6 a6;
	struct sockaddr_in a4;
	struct sockaddr *sa;
	struct MHD_OptionItem tls[4];
	int nt = 0;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	struct http *h = calloc(1, sizeof(*h));

	*out = NULL;
	if (!h)
		return -1;
	h->fn = fn;
	h->ctx = ctx;
	h->max_body = (size_t)s->max_body;
	memset(&a4, 0, sizeof(a4));
	memset(&a6, 0, sizeof(a6));
	if (inet_pton(AF_INET, s->bind, &a4.sin_addr) == 1) {
		a4.sin_family = AF_INET;
		a4.sin_port = htons((uint16_t)s->port);
		sa = (struct sockaddr *)&a4;
	} else if (inet_pton(AF_INET6, s->bind, &a6.sin6_addr) == 1) {
		a6.sin6_family = AF_INET6;
		a6.sin6_port = htons((uint16_t)s->port);
		sa = (struct sockaddr *)&a6;
		flags |= MHD_USE_IPv6;
	} else {
		log_error("api: api_bind '%s' is not an IPv4 or IPv6 address", s->bind);
		free(h);
		return -1;
	}
	if (s->cert_pem) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			log_error("api: this libmicrohttpd has no TLS support; serve behind a "
				  "reverse proxy instead (contrib/nginx)");
			free(h);
			return -1;
		}
		flags |= MHD_USE_TLS;
		tls[nt++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)s->cert_pem};
		tls[nt++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)s->key_pem};
		if (s->tls_priorities && *s->tls_priorities)
			tls[nt++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
							    (void *)s->tls_priorities};
	}
	tls[nt] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
	h->d = MHD_start_daemon(
		flags, (uint16_t)s->port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, sa,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)s->threads, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)s->timeout_s, MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->max_connections,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)s->per_ip_connections,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024, MHD_OPTION_NOTIFY_COMPLETED,
		on_completed, NULL, MHD_OPTION_UNESCAPE_CALLBACK, unescape_none, NULL,
		MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
	if (!h->d) {
		log_error("api: cannot listen on %s port %ld%s", s->bind, s->port,
			  s->cert_pem ? " (or the TLS certificate, key or priorities were refused)"
				      : "");
		free(h);
		return -1;
	}
	*out = h;
	return 0;
}

void http_stop(struct http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d);
	free(h);
}
