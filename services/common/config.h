/*
 * config: the one table of settings shared by every coldtrace program. Each setting has a
 * key, a type, a default and a one-line doc; it can be set in a file (`key = value`), in the
 * environment (COLDTRACE_<KEY in upper case>) or by a flag (--key=value), later sources
 * winning. main() fills the global `config` once; nothing writes it afterwards.
 */
#ifndef COLDTRACE_CONFIG_H
#define COLDTRACE_CONFIG_H

#include <stdio.h>

struct config {
	char *pg_conninfo;
	char *mqtt_host;
	long mqtt_port;
	char *mqtt_username;
	char *mqtt_password;
	char *mqtt_password_file;
	char *mqtt_cafile;
	char *mqtt_certfile;
	char *mqtt_keyfile;
	char *mqtt_client_id;
	long mqtt_keepalive_s;
	char *mqtt_share_group;
	char *topic_prefix;
	long db_lanes;
	long batch_max_records;
	long batch_max_ms;
	long max_pending_bytes;
	long gap_timeout_s;
	long gap_check_s;
	long max_record_age_s;
	long max_future_s;
	long retention_days;
	char *webhook_url;
	long monitor_interval_ms;
	long max_sample_gap_s;
	long maintenance_s;
	char *broker_passwd_file;
	char *broker_acl_file;
	char *broker_pid_file;
	char *epcis_schema_dir;
	char *report_key_file;
	char *report_public_key_file;
	char *public_base_url;
	char *sql_dir;
	char *log_level;
	long api_port;
	char *api_bind;
	long api_threads;
	long api_max_body;
	long api_timeout_s;
	long api_max_connections;
	long api_per_ip_connections;
	long api_token_cache_s;
	long api_public_cache_ms;
	char *api_db_role;
	char *api_tls_certfile;
	char *api_tls_keyfile;
	char *api_tls_priorities;
};

extern struct config config;

enum config_type { CONFIG_STRING, CONFIG_INT };

struct config_entry {
	const char *key;
	enum config_type type;
	const char *def;
	const char *doc;
	size_t offset;
};

/* The table, for --help, the sample config and its test. Ends with a NULL key. */
extern const struct config_entry config_table[];

/* Defaults, then the file named by COLDTRACE_CONFIG or --config=FILE, then the environment,
 * then --key=value flags. Flags it consumes are removed from argv (*argc updated); other
 * arguments are left in order. Returns 0, or -1 after printing the offending setting. */
int config_load(int *argc, char **argv);
void config_release(void);

/* The MQTT password of this service: the first line of mqtt_password_file when set, else
 * mqtt_password. 0, or -1 after logging why the file could not be read. */
int config_mqtt_password(char *out, size_t cap);
void config_print_help(FILE *out);

#endif
