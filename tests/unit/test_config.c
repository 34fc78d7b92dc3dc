/*
 * test_config: the settings table and its loaders (services/common/config.c): defaults, file,
 * environment and flags in that order of precedence, flags removed from argv, and the sample
 * config (contrib/coldtrace.conf.sample) and README kept in step with the table. Runs from the
 * repository root. Every test starts with no COLDTRACE_* variable set.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#define SAMPLE "contrib/coldtrace.conf.sample"
#define README "README.md"

static void env_name(const char *key, char *out, size_t cap)
{
	size_t i;

	snprintf(out, cap, "COLDTRACE_%s", key);
	for (i = 0; out[i]; i++)
		out[i] = (char)toupper((unsigned char)out[i]);
}

static void clear_env(void)
{
	char name[128];

	for (const struct config_entry *e = config_table; e->key; e++) {
		env_name(e->key, name, sizeof(name));
		unsetenv(name);
	}
	unsetenv("COLDTRACE_CONFIG");
}

static int setup(void **state)
{
	(void)state;
	clear_env();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	clear_env();
	config_release();
	return 0;
}

static const struct config_entry *entry(const char *key)
{
	for (const struct config_entry *e = config_table; e->key; e++)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

static long int_value(const char *key)
{
	const struct config_entry *e = entry(key);

	assert_non_null(e);
	assert_int_equal(e->type, CONFIG_INT);
	return *(const long *)((const char *)&config + e->offset);
}

static const char *str_value(const char *key)
{
	const struct config_entry *e = entry(key);

	assert_non_null(e);
	assert_int_equal(e->type, CONFIG_STRING);
	return *(char *const *)((const char *)&config + e->offset);
}

/* Loads with argv (NULL-terminated, argv[0] included); returns config_load's rc, *argc set. */
static int load(char **argv, int *argc)
{
	*argc = 0;
	while (argv[*argc])
		(*argc)++;
	return config_load(argc, argv);
}

static void check_argv(char **argv, int argc, const char *const *want)
{
	int n = 0;

	while (want[n])
		n++;
	assert_int_equal(argc, n);
	for (int i = 0; i < n; i++)
		assert_string_equal(argv[i], want[i]);
	assert_null(argv[argc]);
}

/* Writes text to a new temporary file; path receives its name. */
static void write_temp(char path[64], const char *text)
{
	int fd;
	FILE *f;

	snprintf(path, 64, "/tmp/coldtrace-test-config-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* ---- defaults, environment, flags ---------------------------------------------------- */

static void test_config__defaults_are_applied(void **state)
{
	char *argv[] = {"prog", NULL};
	int argc;

	(void)state;
	assert_int_equal(load(argv, &argc), 0);
	check_argv(argv, argc, (const char *const[]){"prog", NULL});
	for (const struct config_entry *e = config_table; e->key; e++) {
		if (e->type == CONFIG_INT) {
			char *end;
			long want = strtol(e->def, &end, 10);
			assert_true(*e->def && *end == '\0');
			assert_int_equal(int_value(e->key), want);
		} else {
			assert_non_null(str_value(e->key));
			assert_string_equal(str_value(e->key), e->def);
		}
	}
	/* The values the protocol and the README promise. */
	assert_int_equal(config.mqtt_port, 1883);
	assert_string_equal(config.mqtt_host, "127.0.0.1");
	assert_string_equal(config.topic_prefix, "coldtrace/v1");
	assert_int_equal(config.gap_timeout_s, 600);
	assert_int_equal(config.max_record_age_s, 30 * 86400);
	assert_int_equal(config.max_future_s, 300);
	assert_string_equal(config.pg_conninfo, "");
}

static void test_config__table_is_well_formed(void **state)
{
	int n = 0;

	(void)state;
	for (const struct config_entry *e = config_table; e->key; e++, n++) {
		assert_non_null(e->def);
		assert_non_null(e->doc);
		assert_true(strlen(e->doc) > 3);
		for (const char *c = e->key; *c; c++)
			assert_true(islower((unsigned char)*c) || isdigit((unsigned char)*c) ||
				    *c == '_');
		for (const struct config_entry *o = config_table; o != e; o++)
			assert_string_not_equal(o->key, e->key);
	}
	assert_true(n >= 20);
}

static void test_config__environment_overrides_defaults(void **state)
{
	char *argv[] = {"prog", NULL};
	int argc;

	(void)state;
	setenv("COLDTRACE_MQTT_PORT", "8883", 1);
	setenv("COLDTRACE_TOPIC_PREFIX", "acme/cold/v1", 1);
	assert_int_equal(load(argv, &argc), 0);
	assert_int_equal(config.mqtt_port, 8883);
	assert_string_equal(config.topic_prefix, "acme/cold/v1");
	assert_string_equal(config.mqtt_host, "127.0.0.1");
}

static void test_config__every_key_has_its_environment_variable(void **state)
{
	char *argv[] = {"prog", NULL}, name[128], value[128];
	int argc, i = 0;

	(void)state;
	for (const struct config_entry *e = config_table; e->key; e++, i++) {
		env_name(e->key, name, sizeof(name));
		if (e->type == CONFIG_INT)
			snprintf(value, sizeof(value), "%d", 4200 + i);
		else
			snprintf(value, sizeof(value), "env-%s", e->key);
		setenv(name, value, 1);
	}
	assert_int_equal(load(argv, &argc), 0);
	i = 0;
	for (const struct config_entry *e = config_table; e->key; e++, i++) {
		if (e->type == CONFIG_INT) {
			assert_int_equal(int_value(e->key), 4200 + i);
		} else {
			snprintf(value, sizeof(value), "env-%s", e->key);
			assert_string_equal(str_value(e->key), value);
		}
	}
}

static void test_config__flags_override_environment_and_leave_argv(void **state)
{
	char *argv[] = {"prog",		  "first", "--mqtt-port=1", "second", "--mqtt_port", "2",
			"--unknown-flag", "-v",	   "third",	    NULL};
	int argc;

	(void)state;
	setenv("COLDTRACE_MQTT_PORT", "9", 1);
	assert_int_equal(load(argv, &argc), 0);
	assert_int_equal(config.mqtt_port, 2); /* the last flag wins */
	check_argv(argv, argc,
		   (const char *const[]){"prog", "first", "second", "--unknown-flag", "-v", "third",
					 NULL});
}

static void test_config__equals_flag_alone_overrides_environment(void **state)
{
	char *argv[] = {"prog", "--mqtt-port=1", NULL};
	int argc;

	(void)state;
	setenv("COLDTRACE_MQTT_PORT", "9", 1);
	assert_int_equal(load(argv, &argc), 0);
	assert_int_equal(config.mqtt_port, 1);
	check_argv(argv, argc, (const char *const[]){"prog", NULL});
}

static void test_config__separate_value_flag_alone_overrides_environment(void **state)
{
	char *argv[] = {"prog", "--mqtt_port", "2", "x", NULL};
	int argc;

	(void)state;
	setenv("COLDTRACE_MQTT_PORT", "9", 1);
	assert_int_equal(load(argv, &argc), 0);
	assert_int_equal(config.mqtt_port, 2);
	check_argv(argv, argc, (const char *const[]){"prog", "x", NULL});
}

static void test_config__every_key_has_its_flag(void **state)
{
	char *argv[64];
	char buf[64][160];
	int argc = 0, i = 0;

	(void)state;
	argv[argc++] = "prog";
	for (const struct config_entry *e = config_table; e->key; e++, i++) {
		char dashed[64];
		size_t k;

		assert_true(i < 64);
		for (k = 0; e->key[k] && k < sizeof(dashed) - 1; k++)
			dashed[k] = e->key[k] == '_' ? '-' : e->key[k];
		dashed[k] = '\0';
		/* Alternate the dashed and the underscored spelling. */
		if (e->type == CONFIG_INT)
			snprintf(buf[i], sizeof(buf[i]), "--%s=%d", i % 2 ? dashed : e->key,
				 7000 + i);
		else
			snprintf(buf[i], sizeof(buf[i]), "--%s=flag-%s", i % 2 ? dashed : e->key,
				 e->key);
		argv[argc++] = buf[i];
	}
	argv[argc] = NULL;
	assert_int_equal(config_load(&argc, argv), 0);
	assert_int_equal(argc, 1);
	i = 0;
	for (const struct config_entry *e = config_table; e->key; e++, i++) {
		if (e->type == CONFIG_INT) {
			assert_int_equal(int_value(e->key), 7000 + i);
		} else {
			char want[96];
			snprintf(want, sizeof(want), "flag-%s", e->key);
			assert_string_equal(str_value(e->key), want);
		}
	}
}

static void test_config__string_flag_value_may_hold_equals_signs(void **state)
{
	char *argv[] = {"prog", "--pg-conninfo=host=db port=5432 dbname=coldtrace", NULL};
	int argc;

	(void)state;
	assert_int_equal(load(argv, &argc), 0);
	assert_string_equal(config.pg_conninfo, "host=db port=5432 dbname=coldtrace");
	assert_int_equal(argc, 1);
}

static void test_config__bad_integers_are_errors(void **state)
{
	static const char *const bad[] = {
	    "abc", "12x", "", " ", "1.5", "0x10x", "99999999999999999999999"};
	char flag[64];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *argv[] = {"prog", NULL, NULL};
		int argc;

		/* In the environment … */
		clear_env();
		setenv("COLDTRACE_MQTT_PORT", bad[i], 1);
		if (load((char *[]){"prog", NULL}, &argc) != -1) {
			print_error("COLDTRACE_MQTT_PORT='%s' was accepted\n", bad[i]);
			fail();
		}
		/* … and as a flag. */
		clear_env();
		snprintf(flag, sizeof(flag), "--mqtt-port=%s", bad[i]);
		argv[1] = flag;
		if (load(argv, &argc) != -1) {
			print_error("%s was accepted\n", flag);
			fail();
		}
	}
	/* A flag that wants a value and has none. */
	assert_int_equal(load((char *[]){"prog", "--mqtt-port", NULL}, &(int){0}), -1);
}

static void test_config__double_dash_ends_the_flags(void **state)
{
	char *argv[] = {"prog", "a", "--", "--mqtt-port=5", "b", NULL};
	int argc;

	(void)state;
	assert_int_equal(load(argv, &argc), 0);
	assert_int_equal(config.mqtt_port, 1883);
	/* What follows "--" is the program's, untouched and in order. */
	assert_true(argc >= 4);
	assert_string_equal(argv[0], "prog");
	assert_string_equal(argv[1], "a");
	assert_string_equal(argv[argc - 2], "--mqtt-port=5");
	assert_string_equal(argv[argc - 1], "b");
	assert_null(argv[argc]);
}

/* Regression (services/common/config.c, config_load, fixed): any argument that merely starts with
 * "--config" (strncmp(argv[i], "--config", 8)) is taken for --config and swallowed together
 * with the argument after it, though config_file_arg never reads it as a file. */
static void test_config__flags_that_only_start_with_config_are_left_alone(void **state)
{
	char *argv[] = {"prog", "--configure", "now", "--config-check", "x", NULL};
	int argc;

	(void)state;
	assert_int_equal(load(argv, &argc), 0);
	check_argv(
	    argv, argc,
	    (const char *const[]){"prog", "--configure", "now", "--config-check", "x", NULL});
}

/* Regression (services/common/config.c, config_file_arg, fixed): the scan for --config does not stop
 * at "--", so an argument meant for the program is read as the config file. */
static void test_config__config_after_double_dash_is_not_read(void **state)
{
	char *argv[] = {"prog", "--", "--config=/nonexistent/coldtrace.conf", NULL};
	int argc;

	(void)state;
	assert_int_equal(load(argv, &argc), 0);
	assert_string_equal(argv[argc - 1], "--config=/nonexistent/coldtrace.conf");
}

/* ---- the config file ------------------------------------------------------------------- */

static void test_config__file_with_comments_and_blank_lines_is_read(void **state)
{
	char path[64], arg[96];
	int argc;

	(void)state;
	write_temp(path, "# coldtrace test config\n"
			 "\n"
			 "   # an indented comment\n"
			 "mqtt_host = broker.example   \n"
			 "mqtt_port=1884\n"
			 "\t topic_prefix\t=  acme/ct  \n"
			 "mqtt_password = has # inside\n"
			 "\n");
	snprintf(arg, sizeof(arg), "--config=%s", path);
	{
		char *argv[] = {"prog", "x", arg, "y", NULL};
		assert_int_equal(load(argv, &argc), 0);
		check_argv(argv, argc, (const char *const[]){"prog", "x", "y", NULL});
	}
	assert_string_equal(config.mqtt_host, "broker.example");
	assert_int_equal(config.mqtt_port, 1884);
	assert_string_equal(config.topic_prefix, "acme/ct");
	assert_string_equal(config.mqtt_password, "has # inside");
	assert_int_equal(config.mqtt_keepalive_s, 30); /* not in the file: default */

	/* The same file named by the environment, and by a two-argument flag. */
	config_release();
	setenv("COLDTRACE_CONFIG", path, 1);
	{
		char *argv[] = {"prog", NULL};
		assert_int_equal(load(argv, &argc), 0);
	}
	assert_int_equal(config.mqtt_port, 1884);
	unsetenv("COLDTRACE_CONFIG");
	config_release();
	{
		char *argv[] = {"prog", "--config", path, "z", NULL};
		assert_int_equal(load(argv, &argc), 0);
		check_argv(argv, argc, (const char *const[]){"prog", "z", NULL});
	}
	assert_int_equal(config.mqtt_port, 1884);
	unlink(path);
}

static void test_config__file_errors_are_errors(void **state)
{
	static const char *const bad[] = {
	    "mqtt_port = 1884\nno_such_key = 1\n", /* unknown key */
	    "mqtt_port 1884\n",			   /* no '=' */
	    "mqtt_port = twelve\n",		   /* bad integer */
	    "MQTT_PORT = 1884\n",		   /* keys are lower case */
	    "mqtt-port = 1884\n",		   /* and use '_' in files */
	};
	char path[64], arg[96];
	int argc;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_temp(path, bad[i]);
		snprintf(arg, sizeof(arg), "--config=%s", path);
		char *argv[] = {"prog", arg, NULL};
		if (load(argv, &argc) != -1) {
			print_error("config file '%s' was accepted\n", bad[i]);
			fail();
		}
		unlink(path);
	}
	assert_int_equal(
	    load((char *[]){"prog", "--config=/nonexistent/coldtrace.conf", NULL}, &argc), -1);
}

static void test_config__precedence_is_file_then_env_then_flag(void **state)
{
	char path[64], arg[96];
	int argc;

	(void)state;
	write_temp(path, "mqtt_port = 1\n"
			 "mqtt_host = file-host\n"
			 "mqtt_keepalive_s = 11\n"
			 "log_level = debug\n");
	setenv("COLDTRACE_MQTT_PORT", "2", 1);
	setenv("COLDTRACE_MQTT_HOST", "env-host", 1);
	setenv("COLDTRACE_BATCH_MAX_MS", "22", 1);
	snprintf(arg, sizeof(arg), "--config=%s", path);
	char *argv[] = {"prog", arg, "--mqtt-port=3", NULL};
	assert_int_equal(load(argv, &argc), 0);
	assert_int_equal(config.mqtt_port, 3);		   /* flag > env > file */
	assert_string_equal(config.mqtt_host, "env-host"); /* env > file */
	assert_int_equal(config.mqtt_keepalive_s, 11);	   /* file > default */
	assert_string_equal(config.log_level, "debug");	   /* file > default */
	assert_int_equal(config.batch_max_ms, 22);	   /* env > default */
	assert_int_equal(config.batch_max_records, 5000);  /* default */
	unlink(path);
}

/* ---- the table and its documents ---------------------------------------------------------- */

static void test_config__help_lists_every_key(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(f);
	config_print_help(f);
	assert_int_equal(fclose(f), 0);
	for (const struct config_entry *e = config_table; e->key; e++) {
		char flag[96];
		snprintf(flag, sizeof(flag), "--%s ", e->key);
		if (!strstr(text, flag) || !strstr(text, e->doc)) {
			print_error("--help lacks %s or its doc\n", e->key);
			fail();
		}
	}
	free(text);
}

/* A commented-out setting of the sample: "# key =" then the end of the line or a space. */
static bool sample_setting(const char *line, char key[64])
{
	const char *k = line + 2;
	size_t n = 0;

	if (strncmp(line, "# ", 2) != 0)
		return false;
	while (n < 63 &&
	       (islower((unsigned char)k[n]) || isdigit((unsigned char)k[n]) || k[n] == '_'))
		n++;
	if (n == 0 || strncmp(k + n, " =", 2) != 0 ||
	    (k[n + 2] != '\0' && k[n + 2] != '\n' && k[n + 2] != ' '))
		return false;
	memcpy(key, k, n);
	key[n] = '\0';
	return true;
}

/* The sample has, per key, "# doc" then "# key = default". */
static void test_config__sample_config_lists_every_key_with_doc_and_default(void **state)
{
	char *text = slurp(SAMPLE);

	(void)state;
	if (!text) {
		print_error("%s is missing\n", SAMPLE);
		fail();
	}
	for (const struct config_entry *e = config_table; e->key; e++) {
		char want[512];

		snprintf(want, sizeof(want), "\n# %s\n# %s =%s%s\n", e->doc, e->key,
			 *e->def ? " " : "", e->def);
		if (!strstr(text, want)) {
			print_error("%s lacks:%s", SAMPLE, want);
			fail();
		}
	}
	/* …and nothing that looks like a setting but is not one. */
	for (char *line = text; line && *line;) {
		char *nl = strchr(line, '\n'), key[64];

		if (nl)
			*nl = '\0';
		if (sample_setting(line, key)) {
			bool known = false;
			for (const struct config_entry *e = config_table; e->key; e++)
				known |= strcmp(e->key, key) == 0;
			if (!known) {
				print_error("%s sets unknown key '%s'\n", SAMPLE, key);
				fail();
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	free(text);
}

/* Uncommenting every setting of the sample gives a file that loads to the defaults. */
static void test_config__uncommented_sample_loads_to_the_defaults(void **state)
{
	char *text = slurp(SAMPLE), path[64], arg[96];
	size_t len, w = 0;
	char *out;
	int argc;

	(void)state;
	assert_non_null(text);
	len = strlen(text);
	out = malloc(len + 1);
	assert_non_null(out);
	for (char *line = text; *line;) {
		char *nl = strchr(line, '\n'), key[64];
		size_t n = nl ? (size_t)(nl - line + 1) : strlen(line);

		if (sample_setting(line, key)) {
			line += 2;
			n -= 2;
		}
		memcpy(out + w, line, n);
		w += n;
		line += n;
	}
	out[w] = '\0';
	write_temp(path, out);
	snprintf(arg, sizeof(arg), "--config=%s", path);
	setenv("COLDTRACE_MQTT_PORT", "1", 1); /* the env still wins over the file */
	char *argv[] = {"prog", arg, NULL};
	assert_int_equal(load(argv, &argc), 0);
	for (const struct config_entry *e = config_table; e->key; e++) {
		if (strcmp(e->key, "mqtt_port") == 0)
			assert_int_equal(config.mqtt_port, 1);
		else if (e->type == CONFIG_INT)
			assert_int_equal(int_value(e->key), strtol(e->def, NULL, 10));
		else
			assert_string_equal(str_value(e->key), e->def);
	}
	unlink(path);
	free(out);
	free(text);
}

/* README's "Configuration" section names every key (as `key`). */
static void test_config__readme_mentions_every_key(void **state)
{
	char *text = slurp(README), *section, *end;

	(void)state;
	if (!text || !(section = strstr(text, "\n## Configuration"))) {
		free(text);
		skip(); /* no Configuration section yet */
		return;
	}
	end = strstr(section + 1, "\n## ");
	if (end)
		*end = '\0';
	for (const struct config_entry *e = config_table; e->key; e++) {
		char want[96];
		snprintf(want, sizeof(want), "`%s`", e->key);
		if (!strstr(section, want)) {
			print_error("README's Configuration section does not mention %s\n", want);
			fail();
		}
	}
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_config__defaults_are_applied, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config__table_is_well_formed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config__environment_overrides_defaults, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_config__every_key_has_its_environment_variable,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config__flags_override_environment_and_leave_argv,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config__equals_flag_alone_overrides_environment,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_config__separate_value_flag_alone_overrides_environment, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config__every_key_has_its_flag, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config__string_flag_value_may_hold_equals_signs,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config__bad_integers_are_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config__double_dash_ends_the_flags, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(
		test_config__flags_that_only_start_with_config_are_left_alone, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config__config_after_double_dash_is_not_read,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config__file_with_comments_and_blank_lines_is_read,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config__file_errors_are_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config__precedence_is_file_then_env_then_flag,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config__help_lists_every_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_config__sample_config_lists_every_key_with_doc_and_default, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config__uncommented_sample_loads_to_the_defaults,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_config__readme_mentions_every_key, setup,
					    teardown),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
