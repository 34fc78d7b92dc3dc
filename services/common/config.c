/*
 * config: the settings table and its loaders. The table is the single source of truth:
 * the sample config (contrib/coldtrace.conf.sample), the README and --help are checked
 * against it by tests/unit/test_config.c.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct config config;

#define S(key, def, doc) {#key, CONFIG_STRING, def, doc, offsetof(struct config, key)}
#define I(key, def, doc) {#key, CONFIG_INT, def, doc, offsetof(struct config, key)}

const struct config_entry config_table[] = {
	S(pg_conninfo, "", "libpq conninfo; empty uses PGHOST, PGPORT, PGDATABASE, PGUSER, .pgpass"),
	S(mqtt_host, "127.0.0.1", "MQTT broker host"),
	I(mqtt_port, "1883", "MQTT broker port"),
	S(mqtt_username, "", "MQTT username of this service"),
	S(mqtt_password, "", "MQTT password (prefer mqtt_password_file)"),
	S(mqtt_password_file, "", "file whose first line is the MQTT password"),
	S(mqtt_cafile, "", "CA certificate for TLS to the broker; empty disables TLS"),
	S(mqtt_certfile, "", "client certificate for TLS"),
	S(mqtt_keyfile, "", "client key for TLS"),
	S(mqtt_client_id, "coldtrace-ingest", "MQTT client id; fixed, so the broker keeps our session"),
	I(mqtt_keepalive_s, "30", "MQTT keepalive, seconds"),
	S(mqtt_share_group, "", "MQTT v5 shared-subscription group for horizontal workers; empty: none"),
	S(topic_prefix, "coldtrace/v1", "topic prefix of the device protocol"),
	I(db_lanes, "2", "database connections committing batches in parallel; a device always uses the same one"),
	I(batch_max_records, "5000", "records per database transaction at most"),
	I(batch_max_ms, "100", "a batch is committed at the latest this long after its first record"),
	I(max_pending_bytes, "33554432", "memory held for uncommitted messages before reading stops"),
	I(gap_timeout_s, "600", "a seq gap still open after this long is recorded and acked past"),
	I(gap_check_s, "5", "how often open gaps are checked, seconds"),
	I(max_record_age_s, "2592000", "records measured longer ago than this are dead-lettered"),
	I(max_future_s, "300", "records measured further in the future than this are dead-lettered"),
	I(retention_days, "730", "readings partitions older than this are dropped (FSMA 204: 2 years)"),
	I(maintenance_s, "3600", "how often the ingest creates partitions ahead and applies retention"),
	S(webhook_url, "", "URL the monitor POSTs every excursion alert to (JSON); empty: none"),
	I(monitor_interval_ms, "1000", "how often the monitor looks for shipments with new data"),
	I(max_sample_gap_s, "600", "readings further apart than this leave a data gap between them"),
	S(broker_passwd_file, "", "mosquitto password file the CLI regenerates from the devices table"),
	S(broker_acl_file, "", "mosquitto ACL file the CLI regenerates"),
	S(broker_pid_file, "", "pid file of the broker to signal (SIGHUP) after regenerating"),
	S(epcis_schema_dir, "../shared/epcis/xsd", "directory of the GS1 EPCIS 2.0 XSDs that imports are validated against"),
	S(report_key_file, "", "Ed25519 secret key that signs reports (coldtrace keys generate); empty: unsigned"),
	S(report_public_key_file, "", "trusted Ed25519 public key that coldtrace verify checks reports against"),
	S(public_base_url, "https://id.coldtrace.example", "base of the GS1 Digital Link URIs printed in reports and QR codes"),
	S(sql_dir, "sql", "directory holding migrations/ and the re-runnable SQL files"),
	S(log_level, "info", "error, warn, info or debug"),
	I(api_port, "8080", "TCP port coldtrace-api listens on"),
	S(api_bind, "127.0.0.1", "address coldtrace-api listens on (IPv4 or IPv6 literal)"),
	I(api_threads, "4", "HTTP worker threads of coldtrace-api, each with its own database connection"),
	I(api_max_body, "4194304", "largest request body coldtrace-api accepts, bytes (larger: 413)"),
	I(api_timeout_s, "10", "coldtrace-api closes a connection idle this long, seconds"),
	I(api_max_connections, "1024", "concurrent connections coldtrace-api accepts at most"),
	I(api_per_ip_connections, "0", "concurrent connections per client address at most; 0: no limit"),
	I(api_token_cache_s, "30", "how long a checked API token is trusted before the database is asked again"),
	I(api_public_cache_ms, "10000", "how long public provenance responses are cached in memory; 0: never"),
	S(api_db_role, "coldtrace_api", "database role the API's statements run as (must not bypass row-level security)"),
	S(api_tls_certfile, "", "PEM certificate (chain) coldtrace-api serves HTTPS with; empty: plain HTTP"),
	S(api_tls_keyfile, "", "PEM private key of api_tls_certfile"),
	S(api_tls_priorities, "", "GnuTLS priority string for the API's HTTPS; empty: the library's default"),
	{NULL, CONFIG_STRING, NULL, NULL, 0},
};

static const struct config_entry *config_find(const char *key, size_t len)
{
	for (const struct config_entry *e = config_table; e->key; e++)
		if (strlen(e->key) == len && strncmp(e->key, key, len) == 0)
			return e;
	return NULL;
}

static int config_set(const struct config_entry *e, const char *value, const char *source)
{
	char *end;
	long n;

	if (e->type == CONFIG_INT) {
		errno = 0;
		n = strtol(value, &end, 10);
		if (errno || end == value || *end != '\0') {
			fprintf(stderr, "config: %s: %s is not an integer: '%s'\n", source, e->key,
				value);
			return -1;
		}
		*(long *)((char *)&config + e->offset) = n;
		return 0;
	}
	char **slot = (char **)((char *)&config + e->offset);
	char *copy = strdup(value);
	if (!copy)
		return -1;
	free(*slot);
	*slot = copy;
	return 0;
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static int config_load_file(const char *path)
{
	char line[4096], where[512];
	int lineno = 0, rc = 0;
	FILE *f = fopen(path, "r");

	if (!f) {
		fprintf(stderr, "config: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		char *key = trim(line), *eq;
		const struct config_entry *e;

		lineno++;
		if (*key == '\0' || *key == '#')
			continue;
		snprintf(where, sizeof(where), "%s:%d", path, lineno);
		eq = strchr(key, '=');
		if (!eq) {
			fprintf(stderr, "config: %s: expected key = value\n", where);
			rc = -1;
			break;
		}
		*eq = '\0';
		key = trim(key);
		e = config_find(key, strlen(key));
		if (!e) {
			fprintf(stderr, "config: %s: unknown setting '%s'\n", where, key);
			rc = -1;
			break;
		}
		rc = config_set(e, trim(eq + 1), where);
	}
	fclose(f);
	return rc;
}

static int config_load_env(void)
{
	char name[128];

	for (const struct config_entry *e = config_table; e->key; e++) {
		size_t i, n = (size_t)snprintf(name, sizeof(name), "COLDTRACE_%s", e->key);
		for (i = 10; i < n && i < sizeof(name); i++)
			name[i] = (char)toupper((unsigned char)name[i]);
		const char *v = getenv(name);
		if (v && config_set(e, v, name) < 0)
			return -1;
	}
	return 0;
}

/* --key=value or --key value; keys may use '-' for '_'. Returns 1 if consumed (2 args). */
static int config_flag(int argc, char **argv, int i, int *consumed)
{
	char key[128];
	const char *arg = argv[i] + 2, *eq = strchr(arg, '=');
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
	const struct config_entry *e;

	*consumed = 0;
	if (len >= sizeof(key))
		return 0;
	for (size_t j = 0; j < len; j++)
		key[j] = arg[j] == '-' ? '_' : arg[j];
	key[len] = '\0';
	e = config_find(key, len);
	if (!e)
		return 0;
	if (eq) {
		*consumed = 1;
		return config_set(e, eq + 1, argv[i]);
	}
	if (i + 1 >= argc) {
		fprintf(stderr, "config: %s needs a value\n", argv[i]);
		return -1;
	}
	*consumed = 2;
	return config_set(e, argv[i + 1], argv[i]);
}

static int config_load_defaults(void)
{
	for (const struct config_entry *e = config_table; e->key; e++)
		if (config_set(e, e->def, "default") < 0)
			return -1;
	return 0;
}

static const char *config_file_arg(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strncmp(argv[i], "--config=", 9) == 0)
			return argv[i] + 9;
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			return argv[i + 1];
	}
	return getenv("COLDTRACE_CONFIG");
}

int config_load(int *argc, char **argv)
{
	const char *file = config_file_arg(*argc, argv);
	int out = 1;

	if (config_load_defaults() < 0)
		return -1;
	if (file && *file && config_load_file(file) < 0)
		return -1;
	if (config_load_env() < 0)
		return -1;
	for (int i = 1; i < *argc; i++) {
		int consumed = 0;

		if (strcmp(argv[i], "--") == 0) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		if (strncmp(argv[i], "--config=", 9) == 0) {
			consumed = 1;
		} else if (strcmp(argv[i], "--config") == 0) {
			consumed = 2;
		} else if (strncmp(argv[i], "--", 2) == 0 &&
			   config_flag(*argc, argv, i, &consumed) < 0) {
			return -1;
		}
		if (consumed == 0)
			argv[out++] = argv[i];
		else
			i += consumed - 1;
	}
	*argc = out;
	argv[out] = NULL;
	return 0;
}

void config_release(void)
{
	for (const struct config_entry *e = config_table; e->key; e++) {
		if (e->type == CONFIG_STRING) {
			char **slot = (char **)((char *)&config + e->offset);
			free(*slot);
			*slot = NULL;
		}
	}
}

void config_print_help(FILE *out)
{
	fprintf(out, "Settings (file key = value, env COLDTRACE_<KEY>, or --key=value):\n");
	for (const struct config_entry *e = config_table; e->key; e++)
		fprintf(out, "  --%-22s %s (default: '%s')\n", e->key, e->doc, e->def);
}

int config_mqtt_password(char *out, size_t cap)
{
	FILE *f;

	snprintf(out, cap, "%s", config.mqtt_password);
	if (!config.mqtt_password_file[0])
		return 0;
	f = fopen(config.mqtt_password_file, "r");
	if (!f) {
		log_error("config: cannot read mqtt_password_file %s: %s", config.mqtt_password_file,
			  strerror(errno));
		return -1;
	}
	if (!fgets(out, (int)cap, f))
		out[0] = '\0';
	fclose(f);
	out[strcspn(out, "\r\n")] = '\0';
	return 0;
}
