/*
 * coldtrace-sim: a device simulator that behaves like a reefer telematics unit on the
 * Guiyang -> Guangzhou/Shenzhen run, speaking protocol v1 to the broker. Two modes:
 *   trip   one device, one shipment: route, reefer thermal model, custody events, faults,
 *          an on-disk store that survives kill -9, paced at --accel times real time;
 *   flood  thousands of devices publishing small readings, for load tests.
 * This file holds main(), the command lines (getopt_long) and the trip mode's run loop;
 * trip.c generates records, devstore.c keeps them, link.c delivers them, flood.c floods.
 *
 * DESIGN (trip mode). A record is generated, appended to the store (fsync per batch) and
 * only then published. The generator is deterministic, so a restarted simulator replays the
 * trip from the start, skips every seq the store already has (checking that the last one is
 * byte-identical), and carries on; the records it had stored but not delivered are resent
 * by link.c once the retained ack says where the ingest stands. Pacing follows simulated
 * time divided by --accel, and a record is held back while its device timestamp would be
 * more than FUTURE_MARGIN_S ahead of the real clock (the ingest rejects > 5 min).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <mosquitto.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "devstore.h"
#include "flood.h"
#include "link.h"
#include "log.h"
#include "trip.h"

#define PROG "coldtrace-sim"
#define EXIT_USAGE 2
#define EXIT_STOPPED_AFTER 3
#define FUTURE_MARGIN_S 240 /* one minute of slack under the ingest's five */
#define FLUSH_WAIT_S 2.0    /* a partial batch waits at most this long for the store */
#define TRIP_WINDOW 64

static volatile sig_atomic_t stop_requested;

struct common_opts {
	struct link_hub_config hub;
	char host[256];
	char prefix[128];
	char password[256];
	bool has_password;
	double ack_timeout;
	const char *log_level;
};

struct trip_opts {
	struct common_opts c;
	char device[LINK_DEVICE_MAX + 1];
	char store[PATH_MAX];
	struct trip_params tp;
	bool start_given, seed_given, setpoint_given, skew_given;
	double accel;
	long long stop_after;
};

/* ---- argument helpers ------------------------------------------------------------------ */

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int bad(const char *mode, const char *what, const char *fmt, const char *value)
{
	fprintf(stderr, "%s %s: %s: ", PROG, mode, what);
	fprintf(stderr, fmt, value);
	fputc('\n', stderr);
	return -1;
}

static int parse_ll(const char *mode, const char *opt, const char *arg, long long min,
		    long long max, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(arg, &end, 10);
	if (end == arg || *end || errno || *out < min || *out > max) {
		fprintf(stderr, "%s %s: %s: expected an integer in %lld..%lld, got '%s'\n", PROG,
			mode, opt, min, max, arg);
		return -1;
	}
	return 0;
}

static int parse_num(const char *mode, const char *opt, const char *arg, double min, double max,
		     double *out)
{
	char *end;

	errno = 0;
	*out = strtod(arg, &end);
	if (end == arg || *end || errno || !isfinite(*out) || *out < min || *out > max) {
		fprintf(stderr, "%s %s: %s: expected a number in %g..%g, got '%s'\n", PROG, mode,
			opt, min, max, arg);
		return -1;
	}
	return 0;
}

static bool valid_id(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n < 1 || n > max)
		return false;
	for (; *s; s++)
		if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') &&
		    !(*s >= '0' && *s <= '9') && *s != '.' && *s != '_' && *s != '-')
			return false;
	return true;
}

/* Printable ASCII without quotes or backslashes: safe in JSON and in the state file. */
static bool valid_text(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n < 1 || n > max)
		return false;
	for (; *s; s++)
		if (*s <= 0x20 || *s >= 0x7f || *s == '"' || *s == '\\')
			return false;
	return true;
}

static int copy_arg(const char *mode, const char *opt, const char *arg, char *dst, size_t cap)
{
	if ((size_t)snprintf(dst, cap, "%s", arg) >= cap)
		return bad(mode, opt, "too long: '%s'", arg);
	return 0;
}

static int read_password(const char *mode, const char *path, struct common_opts *c)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f) {
		fprintf(stderr, "%s %s: --password-file: cannot read '%s': %s\n", PROG, mode, path,
			strerror(errno));
		return -1;
	}
	if (!fgets(c->password, sizeof(c->password), f))
		c->password[0] = '\0';
	fclose(f);
	n = strcspn(c->password, "\r\n");
	c->password[n] = '\0';
	if (n == 0)
		return bad(mode, "--password-file", "'%s' has an empty first line", path);
	c->has_password = true;
	return 0;
}

/* ---- options shared by both modes ------------------------------------------------------ */

enum {
	OPT_HOST = 256,
	OPT_PORT,
	OPT_PREFIX,
	OPT_PASSWORD_FILE,
	OPT_BATCH,
	OPT_ACK_TIMEOUT,
	OPT_RESEND_AFTER,
	OPT_LOG_LEVEL,
	/* trip */
	OPT_DEVICE,
	OPT_SHIPMENT,
	OPT_DEST,
	OPT_DEST_GLN,
	OPT_START,
	OPT_INTERVAL,
	OPT_ACCEL,
	OPT_SEED,
	OPT_FAULT,
	OPT_SKEW_MIN,
	OPT_STORE,
	OPT_COMMODITY,
	OPT_SETPOINT,
	OPT_LOT_CODE,
	OPT_GTIN,
	OPT_QTY,
	OPT_STOP_AFTER,
	/* flood */
	OPT_DEVICES,
	OPT_DEVICE_PREFIX,
	OPT_RECORDS,
	OPT_RATE,
	OPT_USERNAME,
	OPT_CONNECTIONS,
	OPT_PROGRESS,
};

/* One option per line: the formatter would wrap this macro into an unreadable block. */
/* clang-format off */
#define COMMON_LONGOPTS                                                 \
	{"host", required_argument, NULL, OPT_HOST},                    \
	{"port", required_argument, NULL, OPT_PORT},                    \
	{"prefix", required_argument, NULL, OPT_PREFIX},                \
	{"password-file", required_argument, NULL, OPT_PASSWORD_FILE},  \
	{"batch", required_argument, NULL, OPT_BATCH},                  \
	{"ack-timeout", required_argument, NULL, OPT_ACK_TIMEOUT},      \
	{"resend-after", required_argument, NULL, OPT_RESEND_AFTER},    \
	{"log-level", required_argument, NULL, OPT_LOG_LEVEL},          \
	{"help", no_argument, NULL, 'h'}
/* clang-format on */

#define COMMON_HELP                                                                                \
	"  --host HOST            broker (env COLDTRACE_MQTT_HOST, default 127.0.0.1)\n"           \
	"  --port PORT            broker port (env COLDTRACE_MQTT_PORT, default 1883)\n"           \
	"  --prefix PREFIX        topic prefix (env COLDTRACE_TOPIC_PREFIX, default\n"             \
	"                         coldtrace/v1)\n"                                                 \
	"  --password-file FILE   MQTT password = first line of FILE\n"                            \
	"  --batch N              records per uplink message, 1..1000 (default 10)\n"              \
	"  --ack-timeout SEC      give up when the ack has not moved for SEC once\n"               \
	"                         everything is sent (default 120; exit 1)\n"                      \
	"  --resend-after SEC     resend above the ack when it has not moved for SEC\n"            \
	"                         while records above it are out (default 10)\n"                   \
	"  --log-level LEVEL      error, warn, info (default) or debug; logs go to stderr\n"       \
	"  -h, --help             this text\n"

static int common_defaults(const char *mode, struct common_opts *c)
{
	const char *host = getenv("COLDTRACE_MQTT_HOST");
	const char *port = getenv("COLDTRACE_MQTT_PORT");
	const char *prefix = getenv("COLDTRACE_TOPIC_PREFIX");
	long long n = 1883;

	snprintf(c->host, sizeof(c->host), "%s", host && *host ? host : "127.0.0.1");
	snprintf(c->prefix, sizeof(c->prefix), "%s", prefix && *prefix ? prefix : "coldtrace/v1");
	if (port && *port && parse_ll(mode, "COLDTRACE_MQTT_PORT", port, 1, 65535, &n) != 0)
		return -1;
	c->hub.host = c->host;
	c->hub.prefix = c->prefix;
	c->hub.port = (int)n;
	c->hub.batch = 10;
	c->hub.resend_after = 10;
	c->ack_timeout = 120;
	c->log_level = "info";
	return 0;
}

static bool valid_prefix(const char *p)
{
	size_t n = strlen(p);

	return n > 0 && p[n - 1] != '/' && !strpbrk(p, "+#") && n < 100;
}

/* Returns 1 when opt is a common option (handled), 0 when not, -1 on a bad value. */
static int common_option(const char *mode, int opt, const char *arg, struct common_opts *c)
{
	long long n;
	int lvl;

	switch (opt) {
	case OPT_HOST:
		return copy_arg(mode, "--host", arg, c->host, sizeof(c->host)) ? -1 : 1;
	case OPT_PORT:
		if (parse_ll(mode, "--port", arg, 1, 65535, &n) != 0)
			return -1;
		c->hub.port = (int)n;
		return 1;
	case OPT_PREFIX:
		if (!valid_prefix(arg))
			return bad(mode, "--prefix", "'%s' is not a topic prefix", arg);
		return copy_arg(mode, "--prefix", arg, c->prefix, sizeof(c->prefix)) ? -1 : 1;
	case OPT_PASSWORD_FILE:
		return read_password(mode, arg, c) ? -1 : 1;
	case OPT_BATCH:
		if (parse_ll(mode, "--batch", arg, 1, LINK_BATCH_MAX, &n) != 0)
			return -1;
		c->hub.batch = (int)n;
		return 1;
	case OPT_ACK_TIMEOUT:
		return parse_num(mode, "--ack-timeout", arg, 0.1, 1e7, &c->ack_timeout) ? -1 : 1;
	case OPT_RESEND_AFTER:
		return parse_num(mode, "--resend-after", arg, 0.1, 1e6, &c->hub.resend_after) ? -1
											      : 1;
	case OPT_LOG_LEVEL:
		if (log_level_parse(arg, &lvl) != 0)
			return bad(mode, "--log-level", "'%s' is not error, warn, info or debug",
				   arg);
		c->log_level = arg;
		return 1;
	}
	return 0;
}

/* getopt_long's own messages name neither the mode nor the value; ours do. */
static int getopt_error(const char *mode, int opt, char **argv)
{
	const char *arg = argv[optind - 1];

	if (opt == ':')
		return bad(mode, arg, "%s", "needs a value");
	return bad(mode, arg, "%s", "unknown option (see --help)");
}

static int no_operands(const char *mode, int argc, char **argv)
{
	if (optind < argc)
		return bad(mode, argv[optind], "%s", "unexpected argument");
	return 0;
}

/* ---- trip: command line ---------------------------------------------------------------- */

static const char trip_help[] =
    "usage: " PROG " trip --device ID --shipment SHP [options]\n"
    "Simulates one reefer trip Guiyang -> Guangzhou/Shenzhen and delivers its records.\n"
    "Prints a JSON summary on stdout; exit 0 fully acknowledged, 1 failure, 2 bad usage,\n"
    "3 stopped by --stop-after.\n\n"
    "  --device ID            device id, 1-64 of [A-Za-z0-9._-] (also the MQTT username)\n"
    "  --shipment SHP         shipment id written in every record\n"
    "  --dest guangzhou|shenzhen   destination DC (default guangzhou)\n"
    "  --dest-gln GLN         GLN of the destination DC (default 6970000000024 for\n"
    "                         guangzhou, 6970000000031 for shenzhen)\n"
    "  --start RFC3339        time of the first record (default: now - trip duration,\n"
    "                         so the whole trip lies in the past; a resumed trip keeps\n"
    "                         the start it was created with)\n"
    "  --interval SEC         seconds between readings (default 30)\n"
    "  --accel X              simulated seconds per real second (default 600; 0 = as\n"
    "                         fast as possible)\n"
    "  --seed N               random seed (default derived from device and shipment)\n"
    "  --fault F              reefer_failure, dead_zone or clock_skew; repeatable\n"
    "  --skew-min N           clock_skew offset in minutes (default +3)\n"
    "  --store DIR            device store (default ./sim-store/DEVICE)\n"
    "  --commodity CODE       code from shared/commodities.csv (default CHOY_SUM); sets\n"
    "                         the set point to the middle of its range\n"
    "  --setpoint C           reefer set point in °C (overrides the commodity's)\n"
    "  --lot-code LOT         lot code of the load (default GY-<commodity>-<date>-<X>)\n"
    "  --gtin GTIN14          GTIN of the cases (default 06970000000123)\n"
    "  --qty N                cases loaded (default 120)\n"
    "  --stop-after N         exit with code 3 once N new records are stored\n" COMMON_HELP;

static const struct option trip_longopts[] = {
    COMMON_LONGOPTS,
    {"device", required_argument, NULL, OPT_DEVICE},
    {"shipment", required_argument, NULL, OPT_SHIPMENT},
    {"dest", required_argument, NULL, OPT_DEST},
    {"dest-gln", required_argument, NULL, OPT_DEST_GLN},
    {"start", required_argument, NULL, OPT_START},
    {"interval", required_argument, NULL, OPT_INTERVAL},
    {"accel", required_argument, NULL, OPT_ACCEL},
    {"seed", required_argument, NULL, OPT_SEED},
    {"fault", required_argument, NULL, OPT_FAULT},
    {"skew-min", required_argument, NULL, OPT_SKEW_MIN},
    {"store", required_argument, NULL, OPT_STORE},
    {"commodity", required_argument, NULL, OPT_COMMODITY},
    {"setpoint", required_argument, NULL, OPT_SETPOINT},
    {"lot-code", required_argument, NULL, OPT_LOT_CODE},
    {"gtin", required_argument, NULL, OPT_GTIN},
    {"qty", required_argument, NULL, OPT_QTY},
    {"stop-after", required_argument, NULL, OPT_STOP_AFTER},
    {NULL, 0, NULL, 0},
};

/* YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM) */
static int parse_rfc3339(const char *s, long long *out)
{
	int y, mo, d, h, mi, se, n = 0, oh, om;
	long long off = 0;
	struct tm tm = {0};
	const char *p;

	if (sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &se, &n) != 6 ||
	    n == 0)
		return -1;
	p = s + n;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2d:%2d", &oh, &om) == 2 &&
		   strlen(p) >= 6) {
		off = (*p == '-' ? -1 : 1) * (oh * 3600LL + om * 60LL);
		p += 6;
	} else {
		return -1;
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	*out = (long long)timegm(&tm) - off;
	return 0;
}

static int parse_fault(const char *arg, struct trip_params *tp)
{
	if (strcmp(arg, "reefer_failure") == 0)
		tp->faults |= TRIP_FAULT_REEFER;
	else if (strcmp(arg, "dead_zone") == 0)
		tp->faults |= TRIP_FAULT_DEAD_ZONE;
	else if (strcmp(arg, "clock_skew") == 0)
		tp->faults |= TRIP_FAULT_CLOCK_SKEW;
	else
		return bad("trip", "--fault", "'%s' is not reefer_failure, dead_zone or clock_skew",
			   arg);
	return 0;
}

static int trip_ids_option(int opt, const char *arg, struct trip_opts *o)
{
	struct trip_params *tp = &o->tp;

	switch (opt) {
	case OPT_DEVICE:
		if (!valid_id(arg, LINK_DEVICE_MAX))
			return bad("trip", "--device", "'%s' is not 1-64 of [A-Za-z0-9._-]", arg);
		return copy_arg("trip", "--device", arg, o->device, sizeof(o->device));
	case OPT_SHIPMENT:
		if (!valid_text(arg, 64))
			return bad("trip", "--shipment",
				   "'%s' is not 1-64 printable characters without quotes", arg);
		return copy_arg("trip", "--shipment", arg, tp->shipment, sizeof(tp->shipment));
	case OPT_DEST_GLN:
		if (strlen(arg) != 13 || !trip_gs1_valid(arg))
			return bad("trip", "--dest-gln",
				   "'%s' is not a GLN-13 with a valid check "
				   "digit",
				   arg);
		return copy_arg("trip", "--dest-gln", arg, tp->dest_gln, sizeof(tp->dest_gln));
	case OPT_GTIN:
		if (strlen(arg) != 14 || !trip_gs1_valid(arg))
			return bad("trip", "--gtin",
				   "'%s' is not a GTIN-14 with a valid check digit", arg);
		return copy_arg("trip", "--gtin", arg, tp->gtin, sizeof(tp->gtin));
	case OPT_LOT_CODE:
		if (!valid_text(arg, 20))
			return bad("trip", "--lot-code", "'%s' is not 1-20 printable characters",
				   arg);
		return copy_arg("trip", "--lot-code", arg, tp->lot, sizeof(tp->lot));
	case OPT_COMMODITY:
		if (!valid_id(arg, 32))
			return bad("trip", "--commodity", "'%s' is not a commodity code", arg);
		return copy_arg("trip", "--commodity", arg, tp->commodity, sizeof(tp->commodity));
	case OPT_STORE:
		return copy_arg("trip", "--store", arg, o->store, sizeof(o->store));
	}
	return 1;
}

static int trip_number_option(int opt, const char *arg, struct trip_opts *o)
{
	struct trip_params *tp = &o->tp;
	long long n;

	switch (opt) {
	case OPT_INTERVAL:
		if (parse_ll("trip", "--interval", arg, 1, 3600, &n) != 0)
			return -1;
		tp->interval = (int)n;
		return 0;
	case OPT_ACCEL:
		return parse_num("trip", "--accel", arg, 0, 1e7, &o->accel);
	case OPT_SEED:
		if (parse_ll("trip", "--seed", arg, 0, LLONG_MAX, &n) != 0)
			return -1;
		tp->seed = (unsigned long long)n;
		o->seed_given = true;
		return 0;
	case OPT_SKEW_MIN:
		if (parse_ll("trip", "--skew-min", arg, -1440, 1440, &n) != 0)
			return -1;
		tp->skew_min = (int)n;
		o->skew_given = true;
		return 0;
	case OPT_SETPOINT:
		o->setpoint_given = true;
		return parse_num("trip", "--setpoint", arg, -30, 30, &tp->setpoint);
	case OPT_QTY:
		if (parse_ll("trip", "--qty", arg, 1, 100000, &n) != 0)
			return -1;
		tp->qty = (int)n;
		return 0;
	case OPT_STOP_AFTER:
		return parse_ll("trip", "--stop-after", arg, 1, LLONG_MAX, &o->stop_after);
	}
	return 1;
}

static int trip_option(int opt, const char *arg, struct trip_opts *o)
{
	int rc;

	switch (opt) {
	case OPT_DEST:
		if (trip_dest_parse(arg, &o->tp.dest) != 0)
			return bad("trip", "--dest", "'%s' is not guangzhou or shenzhen", arg);
		return 0;
	case OPT_START:
		if (parse_rfc3339(arg, &o->tp.start) != 0)
			return bad("trip", "--start", "'%s' is not an RFC 3339 time", arg);
		o->start_given = true;
		return 0;
	case OPT_FAULT:
		return parse_fault(arg, &o->tp);
	}
	rc = trip_ids_option(opt, arg, o);
	if (rc != 1)
		return rc;
	rc = trip_number_option(opt, arg, o);
	if (rc != 1)
		return rc;
	return bad("trip", "option", "%s", "unexpected (see --help)");
}

/* Cross-option rules and defaults that depend on other options. */
static int trip_finish_opts(struct trip_opts *o)
{
	struct trip_params *tp = &o->tp;
	double sp;

	if (!o->device[0])
		return bad("trip", "--device", "%s", "is required");
	if (!tp->shipment[0])
		return bad("trip", "--shipment", "%s", "is required");
	if (o->skew_given && !(tp->faults & TRIP_FAULT_CLOCK_SKEW))
		return bad("trip", "--skew-min", "%s", "only applies with --fault clock_skew");
	if (!(tp->faults & TRIP_FAULT_CLOCK_SKEW))
		tp->skew_min = 0;
	if (trip_commodity_setpoint(tp->commodity, &sp) != 0 && !o->setpoint_given)
		return bad("trip", "--commodity",
			   "'%s' is not in shared/commodities.csv; give --setpoint too",
			   tp->commodity);
	if (!o->setpoint_given)
		tp->setpoint = sp;
	if (!o->store[0] && (size_t)snprintf(o->store, sizeof(o->store), "./sim-store/%s",
					     o->device) >= sizeof(o->store))
		return -1;
	return 0;
}

/* Returns 0 to run, 1 when --help was shown, -1 on bad usage (already reported). */
static int trip_parse(int argc, char **argv, struct trip_opts *o)
{
	int opt, rc;

	memset(o, 0, sizeof(*o));
	if (common_defaults("trip", &o->c) != 0)
		return -1;
	o->tp.interval = 30;
	o->tp.skew_min = 3;
	o->tp.qty = 120;
	o->accel = 600;
	snprintf(o->tp.commodity, sizeof(o->tp.commodity), "CHOY_SUM");
	snprintf(o->tp.gtin, sizeof(o->tp.gtin), "06970000000123");
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":h", trip_longopts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(trip_help, stdout);
			return 1;
		}
		if (opt == '?' || opt == ':')
			return getopt_error("trip", opt, argv);
		rc = common_option("trip", opt, optarg, &o->c);
		if (rc == 0)
			rc = trip_option(opt, optarg, o) ? -1 : 1;
		if (rc < 0)
			return -1;
	}
	if (no_operands("trip", argc, argv) != 0 || trip_finish_opts(o) != 0)
		return -1;
	return 0;
}

/* ---- trip: the run --------------------------------------------------------------------- */

enum gen_result { GEN_DONE, GEN_SIGNAL, GEN_STOP_AFTER, GEN_ERROR };

struct trip_run {
	const struct trip_opts *o;
	struct trip_params tp; /* o->tp with start and seed resolved */
	struct devstore *store;
	struct trip *trip;
	struct link_hub *hub;
	struct link *link;
	struct link_device dev;
	struct trip_record rec;
	long long base; /* last seq before this trip's first record */
	/* generated but not yet stored: slot i at pend + i * TRIP_JSON_MAX */
	char *pend;
	size_t *pend_len;
	size_t npend;
	double pend_since;
	/* the summary, over the whole trip (replayed records included) */
	long long records, readings, events, stored_now;
	double min_product, max_product;
	/* pacing and progress */
	bool anchored, holding, held_before;
	double anchor_wall, anchor_sim, last_progress;
	long long last_acked;
};

static int trip_record_cb(void *ctx, const struct link_device *dev, long long seq, char *buf,
			  size_t cap, size_t *len)
{
	struct trip_run *r = ctx;
	const char *text;
	size_t n;

	if (devstore_get(r->store, seq, &text, &n) != 0) {
		log_error("%s: record %lld is not in the store", dev->id, seq);
		return -1;
	}
	if (n > cap)
		return 1;
	memcpy(buf, text, n);
	*len = n;
	return 0;
}

static struct link_device *trip_find_cb(void *ctx, const char *id)
{
	struct trip_run *r = ctx;

	return strcmp(id, r->dev.id) == 0 ? &r->dev : NULL;
}

static void trip_acked_cb(void *ctx, struct link_device *dev, bool retained)
{
	struct trip_run *r = ctx;

	(void)retained;
	if (dev->acked_seq > r->last_acked) {
		r->last_acked = dev->acked_seq;
		r->last_progress = link_now();
	}
	/* devstore logs a failed compaction; its files stay consistent, and if it lost its
	 * append descriptor the next append fails and ends the run. */
	devstore_ack(r->store, dev->acked_seq);
}

static unsigned long long default_seed(const char *device, const char *shipment)
{
	unsigned long long h = 0xcbf29ce484222325ULL;
	const char *parts[] = {device, "/", shipment};

	for (size_t i = 0; i < 3; i++)
		for (const char *p = parts[i]; *p; p++)
			h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	return h >> 1; /* fits --seed's range, so it can be given back explicitly */
}

/* One truck cannot run two trips at once; the default start does not look back. */
static void warn_overlap(const struct trip_run *r, const struct devstore_trip *prev)
{
	if (!prev || r->o->start_given || r->tp.start >= prev->end)
		return;
	log_warn("%s: this trip starts %lld s before shipment %s ended; give --start to place it"
		 " after that",
		 r->o->device, prev->end - r->tp.start, prev->shipment);
}

static int new_trip(struct trip_run *r, const struct devstore_trip *prev)
{
	const struct trip_opts *o = r->o;
	struct devstore_trip nt = {0};
	long long dur;

	r->tp = o->tp;
	if (!o->seed_given)
		r->tp.seed = default_seed(o->device, r->tp.shipment);
	if (!o->start_given) {
		if (trip_duration(&r->tp, &dur) != 0)
			return -1;
		/* Whole minutes, and the last record lands just before now. */
		r->tp.start = ((long long)time(NULL) - dur - 60) / 60 * 60;
	}
	warn_overlap(r, prev);
	trip_key(&r->tp, nt.key);
	snprintf(nt.shipment, sizeof(nt.shipment), "%s", r->tp.shipment);
	nt.base_seq = r->base = devstore_last_seq(r->store);
	nt.start = r->tp.start;
	nt.seed = r->tp.seed;
	log_info("%s: new trip for shipment %s, first seq %lld, start %lld, seed %llu", o->device,
		 nt.shipment, nt.base_seq + 1, nt.start, nt.seed);
	return devstore_set_trip(r->store, &nt);
}

/* Same arguments as the store's trip: resume it. Otherwise start a new one, unless the
 * store's trip is unfinished (its records would be lost for the device's seq line). */
static int resolve_trip(struct trip_run *r)
{
	const struct trip_opts *o = r->o;
	struct devstore_trip st;
	char key[17];

	if (!devstore_trip(r->store, &st))
		return new_trip(r, NULL);
	r->tp = o->tp;
	if (!o->start_given)
		r->tp.start = st.start;
	if (!o->seed_given)
		r->tp.seed = st.seed;
	trip_key(&r->tp, key);
	if (strcmp(key, st.key) == 0) {
		r->base = st.base_seq;
		if (devstore_last_seq(r->store) < r->base) {
			log_error("%s: records %lld..%lld of the previous trip are missing",
				  o->store, devstore_last_seq(r->store) + 1, r->base);
			return -1;
		}
		log_info("%s: resuming the trip of shipment %s after seq %lld", o->device,
			 st.shipment, devstore_last_seq(r->store));
		return 0;
	}
	if (!st.done) {
		log_error("%s holds the unfinished trip of shipment %s, made with other arguments:"
			  " rerun it with the same ones, or use another --store",
			  o->store, st.shipment);
		return -1;
	}
	return new_trip(r, &st);
}

static int start_link(struct trip_run *r)
{
	const struct trip_opts *o = r->o;
	struct link_hub_config hc = o->c.hub;
	struct link_callbacks cb = {trip_record_cb, trip_find_cb, trip_acked_cb, r};
	char client[LINK_DEVICE_MAX + 8];

	hc.window = TRIP_WINDOW;
	snprintf(client, sizeof(client), "sim-%s", o->device);
	if (link_hub_new(&r->hub, &hc, &cb) != 0)
		return -1;
	if (link_add(r->hub, client, o->device, o->c.has_password ? o->c.password : NULL,
		     link_now(), &r->link) != 0)
		return -1;
	if (link_device_init(&r->dev, o->device, r->link, devstore_acked_seq(r->store),
			     devstore_last_seq(r->store)) != 0)
		return -1;
	r->last_acked = r->dev.acked_seq;
	return 0;
}

/* Stores the pending records (one fsync), then offers them to the link. */
static int flush(struct trip_run *r)
{
	const char *texts[LINK_BATCH_MAX];

	if (r->npend == 0)
		return 0;
	for (size_t i = 0; i < r->npend; i++)
		texts[i] = r->pend + i * TRIP_JSON_MAX;
	if (devstore_append(r->store, texts, r->pend_len, r->npend) != 0)
		return -1;
	r->stored_now += (long long)r->npend;
	r->npend = 0;
	r->dev.last_seq = devstore_last_seq(r->store);
	return link_pump(&r->dev, link_now(), INT_MAX) < 0 ? -1 : 0;
}

/* Network, overdue partial batch, resends: everything that happens while we wait. */
static int service(struct trip_run *r, double timeout_s)
{
	double now;

	if (link_hub_poll(r->hub, (int)(timeout_s * 1000)) != 0)
		return -1;
	now = link_now();
	if (r->npend && now - r->pend_since >= FLUSH_WAIT_S && flush(r) != 0)
		return -1;
	return link_pump(&r->dev, now, INT_MAX) < 0 ? -1 : 0;
}

/* Seconds the current record must still wait so its time is not too far in the future. */
static double future_hold(struct trip_run *r)
{
	double ahead = (double)r->rec.t_device - ((double)time(NULL) + FUTURE_MARGIN_S);

	if (ahead > 0 && !r->holding)
		log_at(r->held_before ? LOG_DEBUG : LOG_INFO,
		       "%s: holding records: device time would be more than %d s ahead of now",
		       r->dev.id, FUTURE_MARGIN_S);
	r->held_before |= ahead > 0;
	r->holding = ahead > 0;
	return ahead;
}

static int pace(struct trip_run *r)
{
	double due = 0;

	if (!r->anchored) {
		r->anchored = true;
		r->anchor_wall = link_now();
		r->anchor_sim = r->rec.t;
	}
	if (r->o->accel > 0)
		due = r->anchor_wall + (r->rec.t - r->anchor_sim) / r->o->accel;
	for (;;) {
		double wait = fmax(due - link_now(), future_hold(r));

		if (wait <= 0 || stop_requested)
			return service(r, 0);
		if (service(r, fmin(wait, 0.1)) != 0)
			return -1;
	}
}

static void count(struct trip_run *r)
{
	r->records++;
	if (r->rec.is_event) {
		r->events++;
		return;
	}
	r->readings++;
	r->min_product = fmin(r->min_product, r->rec.product);
	r->max_product = fmax(r->max_product, r->rec.product);
}

/* A resumed trip must regenerate what the store holds, or the arguments changed. */
static int check_stored(struct trip_run *r, long long seq)
{
	const char *text;
	size_t len;

	if (devstore_get(r->store, seq, &text, &len) != 0)
		return 0; /* acknowledged and compacted away: nothing left to compare */
	if (len == r->rec.len && memcmp(text, r->rec.json, len) == 0)
		return 0;
	log_error("%s: stored record %lld differs from the regenerated one (different "
		  "simulator version?); use another --store",
		  r->o->store, seq);
	return -1;
}

static int pend_add(struct trip_run *r)
{
	if (r->npend == 0)
		r->pend_since = link_now();
	memcpy(r->pend + r->npend * TRIP_JSON_MAX, r->rec.json, r->rec.len);
	r->pend_len[r->npend++] = r->rec.len;
	if (r->o->stop_after && r->stored_now + (long long)r->npend >= r->o->stop_after)
		return flush(r) ? -1 : 1;
	if (r->npend == (size_t)r->o->c.hub.batch)
		return flush(r);
	return 0;
}

static enum gen_result generate(struct trip_run *r)
{
	long long seq = r->base, stored = devstore_last_seq(r->store);
	int rc;

	while ((rc = trip_next(r->trip, seq + 1, &r->rec)) == 1) {
		seq++;
		count(r);
		if (seq <= stored) {
			if (seq == stored && check_stored(r, seq) != 0)
				return GEN_ERROR;
			continue;
		}
		if (pace(r) != 0)
			return GEN_ERROR;
		if (stop_requested)
			return flush(r) ? GEN_ERROR : GEN_SIGNAL;
		link_set_offline(r->link, r->rec.offline);
		rc = pend_add(r);
		if (rc != 0)
			return rc < 0 ? GEN_ERROR : GEN_STOP_AFTER;
	}
	if (rc < 0 || flush(r) != 0)
		return GEN_ERROR;
	return GEN_DONE;
}

static int mark_done(struct trip_run *r)
{
	struct devstore_trip st;

	if (!devstore_trip(r->store, &st) || st.done)
		return 0;
	st.done = true;
	st.end = (long long)r->rec.t; /* the trip's last record */
	return devstore_set_trip(r->store, &st);
}

/* 0 when everything is acknowledged, 1 on timeout or signal, -1 on error. */
static int wait_acked(struct trip_run *r)
{
	long long last = devstore_last_seq(r->store);

	link_set_offline(r->link, false);
	r->last_progress = link_now();
	log_info("%s: all %lld records stored, waiting for the ack of seq %lld", r->dev.id,
		 r->records, last);
	while (!stop_requested) {
		if (r->dev.acked_seq >= last)
			return 0;
		if (link_now() - r->last_progress >= r->o->c.ack_timeout) {
			log_error("%s: no ack progress for %.0f s: acked %lld of %lld", r->dev.id,
				  r->o->c.ack_timeout, r->dev.acked_seq, last);
			return 1;
		}
		if (service(r, 0.1) != 0)
			return -1;
	}
	return 1;
}

static void print_summary(const struct trip_run *r)
{
	char minp[32] = "null", maxp[32] = "null";

	if (r->readings) {
		snprintf(minp, sizeof(minp), "%.1f", r->min_product);
		snprintf(maxp, sizeof(maxp), "%.1f", r->max_product);
	}
	printf("{\"device\":\"%s\",\"shipment\":\"%s\",\"records\":%lld,\"readings\":%lld,"
	       "\"events\":%lld,\"last_seq\":%lld,\"acked_seq\":%lld,\"min_product\":%s,"
	       "\"max_product\":%s}\n",
	       r->dev.id, r->tp.shipment, r->records, r->readings, r->events,
	       devstore_last_seq(r->store), r->dev.acked_seq, minp, maxp);
	fflush(stdout);
}

static int trip_setup(struct trip_run *r)
{
	size_t batch = (size_t)r->o->c.hub.batch;

	r->min_product = INFINITY;
	r->max_product = -INFINITY;
	r->pend = malloc(batch * TRIP_JSON_MAX);
	r->pend_len = calloc(batch, sizeof(*r->pend_len));
	if (!r->pend || !r->pend_len)
		return -1;
	if (devstore_new(&r->store, r->o->store) != 0 || resolve_trip(r) != 0)
		return -1;
	if (trip_new(&r->trip, &r->tp) != 0)
		return -1;
	return start_link(r);
}

static int run_trip(const struct trip_opts *o)
{
	struct trip_run r = {0};
	int rc = 1;

	r.o = o;
	if (trip_setup(&r) != 0)
		goto out;
	switch (generate(&r)) {
	case GEN_DONE:
		break;
	case GEN_STOP_AFTER:
		log_info("%s: %lld records stored, stopping as asked", o->device, r.stored_now);
		rc = EXIT_STOPPED_AFTER;
		goto out;
	case GEN_SIGNAL:
		log_warn("%s: stopped by signal; the store keeps everything for a restart",
			 o->device);
		goto out;
	case GEN_ERROR:
		goto out;
	}
	if (mark_done(&r) != 0)
		goto out;
	rc = wait_acked(&r);
	if (rc >= 0 && !stop_requested)
		print_summary(&r);
	rc = rc == 0 ? 0 : 1;
out:
	link_hub_free(r.hub);
	trip_free(r.trip);
	devstore_free(r.store);
	free(r.pend);
	free(r.pend_len);
	return rc;
}

/* ---- flood: command line --------------------------------------------------------------- */

static const char flood_help[] =
    "usage: " PROG " flood [options]\n"
    "Many devices publishing small readings; waits until all are acknowledged and prints\n"
    "a JSON summary on stdout. Exit 0 all acknowledged, 1 failure, 2 bad usage.\n\n"
    "  --devices N            number of devices (default 10)\n"
    "  --device-prefix P      devices are named P00001, P00002, … (default flood-)\n"
    "  --records N            records per device (default 100)\n"
    "  --rate R               uplink messages per second over all devices, 0 = as fast\n"
    "                         as possible (default 0)\n"
    "  --username U           publish for all devices over shared connections of this\n"
    "                         privileged account; without it every device connects as\n"
    "                         itself (username = device id)\n"
    "  --connections C        shared connections with --username (default 4)\n"
    "  --progress             a status line per second on stderr\n" COMMON_HELP;

static const struct option flood_longopts[] = {
    COMMON_LONGOPTS,
    {"devices", required_argument, NULL, OPT_DEVICES},
    {"device-prefix", required_argument, NULL, OPT_DEVICE_PREFIX},
    {"records", required_argument, NULL, OPT_RECORDS},
    {"rate", required_argument, NULL, OPT_RATE},
    {"username", required_argument, NULL, OPT_USERNAME},
    {"connections", required_argument, NULL, OPT_CONNECTIONS},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {NULL, 0, NULL, 0},
};

struct flood_opts {
	struct common_opts c;
	struct flood_config f;
	char device_prefix[LINK_DEVICE_MAX + 1];
	char username[LINK_DEVICE_MAX + 1];
	bool connections_given;
};

static int flood_option(int opt, const char *arg, struct flood_opts *o)
{
	long long n;

	switch (opt) {
	case OPT_DEVICES:
		if (parse_ll("flood", "--devices", arg, 1, 1000000, &n) != 0)
			return -1;
		o->f.devices = (long)n;
		return 0;
	case OPT_RECORDS:
		if (parse_ll("flood", "--records", arg, 1, 100000000, &n) != 0)
			return -1;
		o->f.records = (long)n;
		return 0;
	case OPT_CONNECTIONS:
		if (parse_ll("flood", "--connections", arg, 1, 10000, &n) != 0)
			return -1;
		o->f.connections = (int)n;
		o->connections_given = true;
		return 0;
	case OPT_RATE:
		return parse_num("flood", "--rate", arg, 0, 1e9, &o->f.rate);
	case OPT_PROGRESS:
		o->f.progress = true;
		return 0;
	case OPT_DEVICE_PREFIX:
		if (!valid_id(arg, 57))
			return bad("flood", "--device-prefix", "'%s' is not 1-57 of [A-Za-z0-9._-]",
				   arg);
		return copy_arg("flood", "--device-prefix", arg, o->device_prefix,
				sizeof(o->device_prefix));
	case OPT_USERNAME:
		if (!valid_id(arg, LINK_DEVICE_MAX))
			return bad("flood", "--username", "'%s' is not 1-64 of [A-Za-z0-9._-]",
				   arg);
		return copy_arg("flood", "--username", arg, o->username, sizeof(o->username));
	}
	return bad("flood", "option", "%s", "unexpected (see --help)");
}

static int flood_finish_opts(struct flood_opts *o)
{
	char last[LINK_DEVICE_MAX * 2];

	if (o->connections_given && !o->username[0])
		return bad("flood", "--connections", "%s", "only applies with --username");
	snprintf(last, sizeof(last), "%s%05ld", o->device_prefix, o->f.devices);
	if (strlen(last) > LINK_DEVICE_MAX)
		return bad("flood", "--device-prefix", "'%s' makes device ids longer than 64",
			   o->device_prefix);
	o->f.hub = o->c.hub;
	o->f.device_prefix = o->device_prefix;
	o->f.username = o->username[0] ? o->username : NULL;
	o->f.password = o->c.has_password ? o->c.password : NULL;
	o->f.ack_timeout = o->c.ack_timeout;
	return 0;
}

/* Returns 0 to run, 1 when --help was shown, -1 on bad usage (already reported). */
static int flood_parse(int argc, char **argv, struct flood_opts *o)
{
	int opt, rc;

	memset(o, 0, sizeof(*o));
	if (common_defaults("flood", &o->c) != 0)
		return -1;
	o->f.devices = 10;
	o->f.records = 100;
	o->f.connections = 4;
	snprintf(o->device_prefix, sizeof(o->device_prefix), "flood-");
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":h", flood_longopts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(flood_help, stdout);
			return 1;
		}
		if (opt == '?' || opt == ':')
			return getopt_error("flood", opt, argv);
		rc = common_option("flood", opt, optarg, &o->c);
		if (rc == 0)
			rc = flood_option(opt, optarg, o) ? -1 : 1;
		if (rc < 0)
			return -1;
	}
	if (no_operands("flood", argc, argv) != 0 || flood_finish_opts(o) != 0)
		return -1;
	return 0;
}

/* ---- main ------------------------------------------------------------------------------ */

static const char main_help[] = "usage: " PROG " trip|flood [options]\n"
				"  trip   simulate one reefer trip (one device, on-disk store)\n"
				"  flood  many devices publishing small readings (load tests)\n"
				"'" PROG " MODE --help' lists the options of a mode.\n";

static void signals_setup(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: poll() returns and we see the flag */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int trip_main(int argc, char **argv)
{
	struct trip_opts o;
	int rc = trip_parse(argc, argv, &o);

	if (rc != 0)
		return rc > 0 ? 0 : EXIT_USAGE;
	log_init(PROG, o.c.log_level);
	mosquitto_lib_init();
	rc = run_trip(&o);
	mosquitto_lib_cleanup();
	return rc;
}

static int flood_main(int argc, char **argv)
{
	struct flood_opts o;
	int rc = flood_parse(argc, argv, &o);

	if (rc != 0)
		return rc > 0 ? 0 : EXIT_USAGE;
	log_init(PROG, o.c.log_level);
	mosquitto_lib_init();
	rc = flood_run(&o.f, &stop_requested);
	mosquitto_lib_cleanup();
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(main_help, stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(main_help, stdout);
		return 0;
	}
	signals_setup();
	if (strcmp(argv[1], "trip") == 0)
		return trip_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "flood") == 0)
		return flood_main(argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown mode '%s' (trip or flood; see --help)\n", PROG, argv[1]);
	return EXIT_USAGE;
}
