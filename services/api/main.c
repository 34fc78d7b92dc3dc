/*
 * coldtrace-api: the HTTP API, the GS1 Digital Link resolver with its provenance page, and
 * /healthz and /metrics. With no arguments, after `eval "$(contrib/devstack env)"`, it
 * serves the local stack on 127.0.0.1:$COLDTRACE_API_PORT (8080 when unset). SIGTERM or
 * SIGINT: stop accepting, finish the requests in flight, exit 0.
 *
 * Settings: the shared config table (services/common/config.c): pg_conninfo, log_level,
 * report_key_file, epcis_schema_dir, public_base_url and the api_* keys (port, bind address,
 * threads, limits, caches, database role, TLS certificate and key).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "cache.h"
#include "config.h"
#include "epcis_import.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "routes.h"
#include "sign.h"

#include <sodium.h>

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* An integer setting within [lo, hi]; 0, or -1 after saying which and why. */
static int in_range(const char *key, long v, long lo, long hi)
{
	if (v >= lo && v <= hi)
		return 0;
	fprintf(stderr, "coldtrace-api: %s must be an integer from %ld to %ld (got %ld)\n", key, lo,
		hi, v);
	return -1;
}

/* The whole of a PEM file, NUL-terminated, into *out (malloc'd). 0, or -1 (logged). */
static int read_pem(const char *key, const char *path, char **out)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	*out = NULL;
	if (!f) {
		log_error("api: %s %s: %s", key, path, strerror(errno));
		return -1;
	}
	do {
		if (cap - len < 4096) {
			char *nb = cap > (1u << 20) ? NULL : realloc(buf, cap + 8192);

			if (!nb) {
				log_error("api: %s %s: too large or out of memory", key, path);
				free(buf);
				fclose(f);
				return -1;
			}
			buf = nb;
			cap += 8192;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	if (!strstr(buf, "-----BEGIN ")) {
		log_error("api: %s %s is not PEM", key, path);
		free(buf);
		return -1;
	}
	*out = buf;
	return 0;
}

static void print_routes(void)
{
	for (int i = 0; i < routes_count(); i++)
		printf("%s\n", routes_label(i));
}

int main(int argc, char **argv)
{
	struct http_settings hs = {0};
	struct api *api = NULL;
	char *cert_pem = NULL, *key_pem = NULL;
	struct http *h = NULL;
	const char *db_role;
	const char **labels = NULL;
	struct sigaction sa;
	int rc = 1;

	if (argc == 2 && strcmp(argv[1], "--routes") == 0) {
		print_routes();
		return 0;
	}
	if (config_load(&argc, argv) < 0)
		return 2;
	if (argc > 1) {
		fprintf(stderr, "usage: coldtrace-api [--key=value …] | --routes\n");
		return 2;
	}
	log_init("coldtrace-api", config.log_level);
	if (in_range("api_port", config.api_port, 1, 65535) < 0 ||
	    in_range("api_threads", config.api_threads, 1, 256) < 0 ||
	    in_range("api_max_body", config.api_max_body, 1024, 268435456) < 0 ||
	    in_range("api_timeout_s", config.api_timeout_s, 1, 3600) < 0 ||
	    in_range("api_max_connections", config.api_max_connections, 1, 65536) < 0 ||
	    in_range("api_per_ip_connections", config.api_per_ip_connections, 0, 65536) < 0 ||
	    in_range("api_token_cache_s", config.api_token_cache_s, 0, 3600) < 0 ||
	    in_range("api_public_cache_ms", config.api_public_cache_ms, 0, 3600000) < 0) {
		config_release();
		return 2;
	}
	if (!*config.api_tls_certfile != !*config.api_tls_keyfile) {
		fprintf(stderr, "coldtrace-api: api_tls_certfile and api_tls_keyfile go together\n");
		config_release();
		return 2;
	}
	hs.bind = config.api_bind;
	hs.port = config.api_port;
	hs.threads = config.api_threads;
	hs.max_body = config.api_max_body;
	hs.timeout_s = config.api_timeout_s;
	hs.max_connections = config.api_max_connections;
	hs.per_ip_connections = config.api_per_ip_connections;
	hs.tls_priorities = config.api_tls_priorities;
	db_role = config.api_db_role;
	if (*config.api_tls_certfile) {
		if (read_pem("api_tls_certfile", config.api_tls_certfile, &cert_pem) < 0 ||
		    read_pem("api_tls_keyfile", config.api_tls_keyfile, &key_pem) < 0)
			goto out;
		hs.cert_pem = cert_pem;
		hs.key_pem = key_pem;
	}

	api = calloc(1, sizeof(*api));
	labels = calloc((size_t)routes_count(), sizeof(*labels));
	if (!api || !labels)
		goto out;
	for (int i = 0; i < routes_count(); i++)
		labels[i] = routes_label(i);
	api->public_base_url = config.public_base_url;
	if (config.report_key_file && *config.report_key_file) {
		if (sign_load_secret(config.report_key_file, api->sk) < 0)
			goto out;
		api->have_key = 1;
	}
	if (metrics_new(labels, routes_count(), &api->metrics) < 0 ||
	    auth_new((int)config.api_token_cache_s, &api->auth) < 0 ||
	    cache_new((int)config.api_public_cache_ms, &api->cache) < 0)
		goto out;
	/* The schemas are optional: without them documents are still checked for form, CBV
	 * vocabulary and identifiers (and never for entities or external DTDs). */
	if (epcis_importer_new(access(config.epcis_schema_dir, R_OK) == 0 ? config.epcis_schema_dir
									   : NULL,
			       &api->importer) < 0)
		goto out;
	/* One connection per worker thread. */
	if (pool_new(config.pg_conninfo, db_role, (int)hs.threads, &api->pool) < 0)
		goto out;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (http_start(&hs, routes_handle, api, &h) < 0)
		goto out;
	log_info("api: ready on %s://%s:%ld (%ld threads, database role %s)",
		 cert_pem ? "https" : "http", hs.bind, hs.port, hs.threads, db_role);
	while (!stop_flag)
		pause();
	log_info("api: stopping");
	rc = 0;
out:
	http_stop(h);
	if (api) {
		pool_free(api->pool);
		epcis_importer_free(api->importer);
		cache_free(api->cache);
		auth_free(api->auth);
		metrics_free(api->metrics);
		sodium_memzero(api->sk, sizeof(api->sk));
		free(api);
	}
	free(labels);
	if (key_pem)
		sodium_memzero(key_pem, strlen(key_pem));
	free(key_pem);
	free(cert_pem);
	config_release();
	return rc;
}
