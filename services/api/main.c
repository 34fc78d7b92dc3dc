/*
 * coldtrace-api: the HTTP API, the GS1 Digital Link resolver with its provenance page, and
 * /healthz and /metrics. With no arguments, after `eval "$(contrib/devstack env)"`, it
 * serves the local stack on 127.0.0.1:$COLDTRACE_API_PORT (8080 when unset). SIGTERM or
 * SIGINT: stop accepting, finish the requests in flight, exit 0.
 *
 * Settings: the shared config table (pg_conninfo, log_level, report_key_file,
 * epcis_schema_dir, …), and the API's own keys below, read here and only here from the
 * environment until they join the config table.
 */
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

/* The API's keys: COLDTRACE_<KEY> from the environment, else the default. */
struct api_key {
	const char *env;
	const char *def;
	long lo, hi;
};

static long env_long(const struct api_key *k, int *bad)
{
	const char *v = getenv(k->env);
	char *end;
	long x;

	if (!v || !*v)
		v = k->def;
	x = strtol(v, &end, 10);
	if (*end != '\0' || x < k->lo || x > k->hi) {
		fprintf(stderr, "coldtrace-api: %s must be an integer from %ld to %ld (got '%s')\n",
			k->env, k->lo, k->hi, v);
		*bad = 1;
	}
	return x;
}

static const char *env_str(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v && *v ? v : def;
}

static void print_routes(void)
{
	for (int i = 0; i < routes_count(); i++)
		printf("%s\n", routes_label(i));
}

int main(int argc, char **argv)
{
	static const struct api_key k_port = {"COLDTRACE_API_PORT", "8080", 1, 65535},
				    k_threads = {"COLDTRACE_API_THREADS", "4", 1, 256},
				    k_body = {"COLDTRACE_API_MAX_BODY", "4194304", 1024, 268435456},
				    k_timeout = {"COLDTRACE_API_TIMEOUT_S", "10", 1, 3600},
				    k_conns = {"COLDTRACE_API_MAX_CONNECTIONS", "1024", 1, 65536},
				    k_perip = {"COLDTRACE_API_PER_IP_CONNECTIONS", "0", 0, 65536},
				    k_tok = {"COLDTRACE_API_TOKEN_CACHE_S", "30", 0, 3600},
				    k_cache = {"COLDTRACE_API_PUBLIC_CACHE_MS", "2000", 0, 3600000};
	struct http_settings hs;
	struct api *api = NULL;
	struct http *h = NULL;
	const char *db_role;
	const char **labels = NULL;
	struct sigaction sa;
	int bad = 0, rc = 1;

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
	hs.bind = env_str("COLDTRACE_API_BIND", "127.0.0.1");
	hs.port = env_long(&k_port, &bad);
	hs.threads = env_long(&k_threads, &bad);
	hs.max_body = env_long(&k_body, &bad);
	hs.timeout_s = env_long(&k_timeout, &bad);
	hs.max_connections = env_long(&k_conns, &bad);
	hs.per_ip_connections = env_long(&k_perip, &bad);
	long token_cache_s = env_long(&k_tok, &bad);
	long public_cache_ms = env_long(&k_cache, &bad);

	db_role = env_str("COLDTRACE_API_DB_ROLE", "coldtrace_api");
	if (bad)
		return 2;

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
	    auth_new((int)token_cache_s, &api->auth) < 0 ||
	    cache_new((int)public_cache_ms, &api->cache) < 0)
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
	log_info("api: ready on %s:%ld (%ld threads, database role %s)", hs.bind, hs.port,
		 hs.threads, db_role);
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
	config_release();
	return rc;
}
