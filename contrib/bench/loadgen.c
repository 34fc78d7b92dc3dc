/*
 * loadgen: the fleet publisher of the coldtrace benchmark (`make bench`, items 3–5 and the
 * backlog scenario).
 *
 * D devices publish uplinks of R records (benchgen.h's reading shape) through the fleet
 * account on {prefix}/dev/{device}/up with contiguous seqs per device, over a few MQTT
 * connections, and follow the protocol's retained acks on {prefix}/dev/+/ack like real
 * devices: publish time is noted per message (keyed by its last seq) and an ack ≥ that seq
 * closes it, giving the publish → ack latency; a device whose ack has not moved for
 * --resend-after seconds while records are out resends everything above the ack (as
 * coldtrace-sim does), so nothing is lost. The run ends when every device is acked at its
 * last seq; committed readings/s is counted from the first publish to the last ack.
 *
 * Modes:
 *   default          --rate 0: as fast as the system absorbs, closed loop: at most --window
 *                    messages published and not yet acked (a device fleet never has its whole
 *                    future in flight; without a window the broker's queue, not the ingest,
 *                    would set the latency and stalls would trigger resends). --rate M: M
 *                    messages/s, for latency at a given load.
 *   --backlog        500 devices × 24 h of one reading per 30 s (2880 each, 1.44 M records)
 *                    published at once (only the PUBACK window per connection holds them, and
 *                    --device-window N if given: at most N records of a device above its ack,
 *                    a replay pace a device can apply on its own), while
 *                    --live devices on a connection of their own publish one single-record
 *                    message per second each; live acks are reported separately (p99, max).
 *   --no-ack         for consumers that publish no acks (the Node.js peers): publish everything,
 *                    wait for the PUBACKs; with --count-sql, poll that row count (libpq,
 *                    asynchronously) until it reaches --expect or --max-s passes, and report
 *                    committed rows/s from the first publish.
 *
 * DESIGN. One thread drives every connection with poll() (benchmq.h): no thread per device,
 * no locks. Device state is a flat array; acks find their device by parsing the number in the
 * id. A record's content is a pure function of (device, seq), so resends are byte-identical.
 * Record times lie in the past, within the ingest's 30-day window. Prints one JSON object.
 *
 * This is a benchmark peer, not product code: it includes libpq-fe.h directly.
 */
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchgen.h"
#include "benchmq.h"

struct dev {
	int64_t sent;	   /* highest seq published in the current pass */
	int64_t acked;	   /* highest acked seq seen */
	int64_t last;	   /* records this device publishes in all */
	double progress;   /* last ack progress, or when records went out with none out before */
	uint32_t lat_next; /* next message (index) waiting for its ack, for latency */
	uint32_t msg_base; /* first slot of this device in pub_time */
	int conn;
	int rec_per_msg;
	int64_t t0_us, step_us; /* record times: t0 + seq * step */
	bool live;
};

struct opts {
	int devices, records, connections, window, pub_window, live, live_rec, device_window;
	long per_device;
	double rate, resend_after, timeout, step_s, max_s, live_min_s;
	bool backlog, no_ack;
	const char *prefix, *topic_prefix, *live_prefix, *count_sql, *host;
	long long expect;
	int port;
};

struct state {
	struct opts o;
	struct bm_hub hub;
	struct dev *devs;
	char (*ids)[24];
	int n_devs;		     /* fleet devices first, then live ones */
	double *pub_time;	     /* per message, first publish (monotonic s); 0 = not yet */
	float *lat_fleet, *lat_live; /* ms */
	size_t n_lat_fleet, n_lat_live, cap_lat_fleet, cap_lat_live;
	int64_t outstanding; /* records published and not acked, fleet devices */
	int with_work;	     /* fleet devices with sent < last */
	int fleet_done, live_done;
	int cursor;
	long long messages, bytes, resent_msgs, resend_events, fleet_records;
	double t_first_pub, t_last_ack, t_last_pub;
	char *msg;
	/* --count-sql */
	PGconn *pg;
	bool pg_busy;
	double next_count, t_count;
	long long count;
	bool live_stopped, started;
	long stale_acks;
};

static struct state S;

static void die(const char *what)
{
	fprintf(stderr, "loadgen: %s\n", what);
	exit(1);
}

static int64_t dev_msgs(const struct dev *d)
{
	return (d->last + d->rec_per_msg - 1) / d->rec_per_msg;
}

static int64_t msg_last_seq(const struct dev *d, int64_t k)
{
	int64_t s = (k + 1) * d->rec_per_msg;
	return s < d->last ? s : d->last;
}

static void lat_push(float **arr, size_t *n, size_t *cap, float v)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 65536;
		float *p = realloc(*arr, c * sizeof(*p));
		if (!p)
			die("out of memory");
		*arr = p;
		*cap = c;
	}
	(*arr)[(*n)++] = v;
}

/* ---- acks ------------------------------------------------------------------------------ */

static int device_of_topic(const char *topic)
{
	/* {topic_prefix}/dev/{prefix}-{NNNNN}/ack */
	size_t tp = strlen(S.o.topic_prefix);
	const char *id, *end;
	char *num_end;
	long n;

	if (strncmp(topic, S.o.topic_prefix, tp) != 0 || strncmp(topic + tp, "/dev/", 5) != 0)
		return -1;
	id = topic + tp + 5;
	end = strchr(id, '/');
	if (!end || strcmp(end, "/ack") != 0)
		return -1;
	const char *dash = memrchr(id, '-', (size_t)(end - id));
	if (!dash)
		return -1;
	n = strtol(dash + 1, &num_end, 10);
	if (num_end != end || n < 1)
		return -1;
	size_t plen = (size_t)(dash - id);
	if (plen == strlen(S.o.prefix) && strncmp(id, S.o.prefix, plen) == 0 && n <= S.o.devices)
		return (int)n - 1;
	if (S.o.live && plen == strlen(S.o.live_prefix) &&
	    strncmp(id, S.o.live_prefix, plen) == 0 && n <= S.o.live)
		return S.o.devices + (int)n - 1;
	return -1;
}

static void set_sent(struct dev *d, int64_t sent)
{
	bool had_work = d->sent < d->last;
	if (!d->live)
		S.outstanding += (sent > d->acked ? sent - d->acked : 0) -
				 (d->sent > d->acked ? d->sent - d->acked : 0);
	d->sent = sent;
	if (!d->live && had_work != (d->sent < d->last))
		S.with_work += d->sent < d->last ? 1 : -1;
}

static void on_message(struct bm_hub *h, struct bm_client *c, const struct mosquitto_message *m)
{
	const char *p;
	int64_t a;
	int i;
	struct dev *d;
	double now;

	(void)h;
	(void)c;
	i = device_of_topic(m->topic);
	if (i < 0 || !m->payload)
		return;
	p = memmem(m->payload, (size_t)m->payloadlen, "\"acked_seq\":", 12);
	if (!p)
		return;
	a = strtoll(p + 12, NULL, 10);
	d = &S.devs[i];
	if (!S.started) {
		S.stale_acks++; /* a retained ack from an earlier run with the same ids */
		return;
	}
	if (a <= d->acked)
		return;
	now = bm_mono_s();
	if (!d->live)
		S.outstanding -= (d->sent > d->acked ? d->sent - d->acked : 0);
	d->acked = a > d->last ? d->last : a;
	if (d->sent < d->acked) {
		bool had_work = d->sent < d->last;
		d->sent = d->acked;
		if (!d->live && had_work && d->sent >= d->last)
			S.with_work--;
	}
	if (!d->live)
		S.outstanding += (d->sent > d->acked ? d->sent - d->acked : 0);
	d->progress = now;
	while ((int64_t)d->lat_next < dev_msgs(d) && msg_last_seq(d, d->lat_next) <= d->acked) {
		double t = S.pub_time[d->msg_base + d->lat_next];
		if (t > 0) {
			if (d->live)
				lat_push(&S.lat_live, &S.n_lat_live, &S.cap_lat_live,
					 (float)((now - t) * 1000.0));
			else
				lat_push(&S.lat_fleet, &S.n_lat_fleet, &S.cap_lat_fleet,
					 (float)((now - t) * 1000.0));
		}
		d->lat_next++;
	}
	if (d->acked >= d->last) {
		if (d->live)
			S.live_done++;
		else {
			S.fleet_done++;
			S.t_last_ack = now;
		}
	}
}

/* ---- publishing ------------------------------------------------------------------------ */

static void publish_one(struct dev *d, int idx, double now)
{
	struct bm_client *c = &S.hub.clients[d->conn];
	char topic[192];
	int64_t first = d->sent + 1, last = d->sent + d->rec_per_msg;
	size_t len;

	if (last > d->last)
		last = d->last;
	len = bg_message(S.msg, S.ids[idx], (uint32_t)(idx + 1), first, last, d->t0_us, d->step_us);
	snprintf(topic, sizeof(topic), "%s/dev/%s/up", S.o.topic_prefix, S.ids[idx]);
	if (bm_publish(c, topic, S.msg, (int)len, false) < 0)
		die("publish failed");
	if (d->sent <= d->acked)
		d->progress = now; /* the stall clock starts when something is out */
	int64_t k = (last - 1) / d->rec_per_msg;
	if (S.pub_time[d->msg_base + k] == 0)
		S.pub_time[d->msg_base + k] = now;
	set_sent(d, last);
	if (S.t_first_pub == 0)
		S.t_first_pub = now;
	S.t_last_pub = now;
	S.messages++;
	S.bytes += (long long)len;
}

/* Next fleet device (round-robin) with records to send and room on its connection. */
static int next_fleet_device(void)
{
	for (int n = 0; n < S.o.devices; n++) {
		int i = S.cursor;
		S.cursor = (S.cursor + 1) % S.o.devices;
		struct dev *d = &S.devs[i];
		if (d->sent < d->last && S.hub.clients[d->conn].outstanding < S.o.pub_window &&
		    (S.o.device_window <= 0 || d->sent - d->acked < S.o.device_window))
			return i;
	}
	return -1;
}

static bool window_open(void)
{
	return S.o.window <= 0 || S.outstanding < (int64_t)S.o.window * S.o.records;
}

/* Publishes what is due now; returns how many messages went out. */
static int publish_due(double now, double t_start)
{
	int sent = 0;

	while (sent < 256 && S.with_work > 0 && window_open()) {
		if (S.o.rate > 0 && (double)S.messages >= (now - t_start) * S.o.rate)
			break;
		int i = next_fleet_device();
		if (i < 0)
			break;
		publish_one(&S.devs[i], i, now);
		sent++;
	}
	/* Live devices: message k of device j is due at t_start + j / L + k seconds. */
	if (S.o.live && !S.live_stopped) {
		for (int j = 0; j < S.o.live; j++) {
			int idx = S.o.devices + j;
			struct dev *d = &S.devs[idx];
			double due = t_start + (double)j / S.o.live + (double)d->sent;
			if (d->sent < d->last && now >= due &&
			    S.hub.clients[d->conn].outstanding < S.o.pub_window) {
				publish_one(d, idx, now);
				sent++;
			}
		}
	}
	return sent;
}

static void resend_stalled(double now)
{
	for (int i = 0; i < S.n_devs; i++) {
		struct dev *d = &S.devs[i];
		if (d->sent > d->acked && now - d->progress > S.o.resend_after) {
			S.resent_msgs += (d->sent - d->acked + d->rec_per_msg - 1) / d->rec_per_msg;
			S.resend_events++;
			set_sent(d, d->acked);
			d->progress = now;
		}
	}
}

/* ---- row counting (--count-sql) --------------------------------------------------------- */

static void count_poll(double now)
{
	PGresult *r;

	if (!S.pg)
		return;
	if (S.pg_busy) {
		if (!PQconsumeInput(S.pg))
			die(PQerrorMessage(S.pg));
		if (PQisBusy(S.pg))
			return;
		while ((r = PQgetResult(S.pg))) {
			if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
				S.count = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
				S.t_count = now;
			} else if (PQresultStatus(r) != PGRES_TUPLES_OK) {
				fprintf(stderr, "loadgen: count query: %s", PQerrorMessage(S.pg));
				exit(1);
			}
			PQclear(r);
		}
		S.pg_busy = false;
		/* Close to the end, look more often: the last poll is the measurement's end. */
		S.next_count = now + (S.count * 10 >= S.o.expect * 9 ? 0.1 : 0.5);
	}
	if (!S.pg_busy && now >= S.next_count) {
		if (!PQsendQuery(S.pg, S.o.count_sql))
			die(PQerrorMessage(S.pg));
		S.pg_busy = true;
	}
}

/* ---- results --------------------------------------------------------------------------- */

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

static double pct(float *v, size_t n, double p)
{
	if (!n)
		return -1;
	size_t k = (size_t)ceil(p * (double)n) - 1;
	if (k >= n)
		k = n - 1;
	return v[k];
}

static void print_result(double t_start, const char *error)
{
	double now = bm_mono_s();
	double end = S.o.no_ack ? (S.pg ? S.t_count : S.t_last_pub) : S.t_last_ack;
	double elapsed = end > S.t_first_pub ? end - S.t_first_pub : 0;
	long long committed = S.o.no_ack ? (S.pg ? S.count : S.fleet_records) : S.fleet_records;

	qsort(S.lat_fleet, S.n_lat_fleet, sizeof(float), cmp_float);
	qsort(S.lat_live, S.n_lat_live, sizeof(float), cmp_float);
	printf("{\"mode\":\"%s\",\"devices\":%d,\"records_per_msg\":%d,\"records_per_device\":%ld,"
	       "\"records\":%lld,\"messages\":%lld,\"bytes_per_msg\":%.0f,"
	       "\"target_rate_msgs_per_s\":%.0f,\"publish_s\":%.3f,\"elapsed_s\":%.3f,"
	       "\"committed_readings_per_s\":%.0f,",
	       S.o.backlog  ? "backlog"
	       : S.o.no_ack ? "no_ack"
			    : "fleet",
	       S.o.devices, S.o.records, S.o.per_device, S.fleet_records, S.messages,
	       S.messages ? (double)S.bytes / (double)S.messages : 0, S.o.rate,
	       S.t_last_pub - S.t_first_pub, elapsed,
	       elapsed > 0 ? (double)committed / elapsed : 0);
	if (!S.o.no_ack)
		printf("\"ack_p50_ms\":%.1f,\"ack_p99_ms\":%.1f,\"ack_max_ms\":%.1f,\"acked_msgs\":"
		       "%zu,",
		       pct(S.lat_fleet, S.n_lat_fleet, 0.50), pct(S.lat_fleet, S.n_lat_fleet, 0.99),
		       pct(S.lat_fleet, S.n_lat_fleet, 1.0), S.n_lat_fleet);
	if (S.o.live)
		printf("\"live_devices\":%d,\"live_msgs\":%zu,\"live_ack_p50_ms\":%.1f,"
		       "\"live_ack_p99_ms\":%.1f,\"live_ack_max_ms\":%.1f,",
		       S.o.live, S.n_lat_live, pct(S.lat_live, S.n_lat_live, 0.50),
		       pct(S.lat_live, S.n_lat_live, 0.99), pct(S.lat_live, S.n_lat_live, 1.0));
	printf("\"committed\":%lld,\"device_window\":%d,", committed, S.o.device_window);
	if (S.pg)
		printf("\"expected_rows\":%lld,", S.o.expect);
	printf("\"resent_msgs\":%lld,\"resend_events\":%lld,\"devices_acked\":%d,\"wall_s\":%.3f%s%"
	       "s%s}\n",
	       S.resent_msgs, S.resend_events, S.fleet_done, now - t_start,
	       error ? ",\"error\":\"" : "", error ? error : "", error ? "\"" : "");
	fflush(stdout);
}

/* ---- setup ----------------------------------------------------------------------------- */

static void usage(void)
{
	fprintf(
	    stderr,
	    "usage: loadgen --devices D --per-device N [--records-per-msg R] [--rate MSGS_PER_S]\n"
	    "               [--connections C] [--window MSGS] [--prefix DEVICE_PREFIX]\n"
	    "               [--step-s S] [--resend-after S] [--timeout S]\n"
	    "       loadgen --backlog [--devices 500] [--per-device 2880] [--live L] [--live-min-s "
	    "S]\n"
	    "               [--device-window RECORDS]\n"
	    "       loadgen --no-ack ... [--count-sql SQL --expect N --max-s S]\n"
	    "Broker and fleet account from COLDTRACE_MQTT_HOST/PORT and COLDTRACE_FLEET_USERNAME/\n"
	    "PASSWORD_FILE; --count-sql connects with the PG* variables. Prints JSON on stdout.\n");
	exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *k = argv[i];
		if (strcmp(k, "--backlog") == 0) {
			o->backlog = true;
			continue;
		}
		if (strcmp(k, "--no-ack") == 0) {
			o->no_ack = true;
			continue;
		}
		const char *v = i + 1 < argc ? argv[++i] : NULL;
		if (!v)
			usage();
		if (strcmp(k, "--devices") == 0)
			o->devices = (int)strtol(v, NULL, 10);
		else if (strcmp(k, "--per-device") == 0)
			o->per_device = strtol(v, NULL, 10);
		else if (strcmp(k, "--records-per-msg") == 0)
			o->records = (int)strtol(v, NULL, 10);
		else if (strcmp(k, "--rate") == 0)
			o->rate = strtod(v, NULL);
		else if (strcmp(k, "--connections") == 0)
			o->connections = (int)strtol(v, NULL, 10);
		else if (strcmp(k, "--window") == 0)
			o->window = (int)strtol(v, NULL, 10);
		else if (strcmp(k, "--device-window") == 0)
			o->device_window = (int)strtol(v, NULL, 10);
		else if (strcmp(k, "--pub-window") == 0)
			o->pub_window = (int)strtol(v, NULL, 10);
		else if (strcmp(k, "--prefix") == 0)
			o->prefix = v;
		else if (strcmp(k, "--live-prefix") == 0)
			o->live_prefix = v;
		else if (strcmp(k, "--topic-prefix") == 0)
			o->topic_prefix = v;
		else if (strcmp(k, "--step-s") == 0)
			o->step_s = strtod(v, NULL);
		else if (strcmp(k, "--resend-after") == 0)
			o->resend_after = strtod(v, NULL);
		else if (strcmp(k, "--timeout") == 0)
			o->timeout = strtod(v, NULL);
		else if (strcmp(k, "--live") == 0)
			o->live = (int)strtol(v, NULL, 10);
		else if (strcmp(k, "--live-min-s") == 0)
			o->live_min_s = strtod(v, NULL);
		else if (strcmp(k, "--count-sql") == 0)
			o->count_sql = v;
		else if (strcmp(k, "--expect") == 0)
			o->expect = strtoll(v, NULL, 10);
		else if (strcmp(k, "--max-s") == 0)
			o->max_s = strtod(v, NULL);
		else
			usage();
	}
	if (o->backlog) {
		if (!o->devices)
			o->devices = 500;
		if (!o->per_device)
			o->per_device = 2880; /* 24 h at one reading per 30 s */
		o->window = 0;		      /* all at once */
		if (!o->live)
			o->live = 10;
	}
	if (o->no_ack) {
		o->live = 0;
		o->window = 0; /* no acks come back to close a window */
	}
	if (o->devices < 1 || o->devices > 99999 || o->per_device < 1 || o->records < 1 ||
	    o->records > 1000 || o->connections < 1 || o->connections > 64 || o->live < 0 ||
	    o->live > 999 || o->pub_window < 1 || (o->count_sql && (!o->no_ack || o->expect < 1)))
		usage();
	o->host = getenv("COLDTRACE_MQTT_HOST") ? getenv("COLDTRACE_MQTT_HOST") : "127.0.0.1";
	o->port = getenv("COLDTRACE_MQTT_PORT")
		      ? (int)strtol(getenv("COLDTRACE_MQTT_PORT"), NULL, 10)
		      : 1883;
}

static void setup_devices(void)
{
	struct opts *o = &S.o;
	int64_t now_us = bg_now_us();
	int64_t step_us = (int64_t)(o->step_s * 1e6);
	uint64_t slots = 0;

	/* The fleet's newest record is two minutes old; its oldest must stay inside 30 days. */
	if ((double)o->per_device * o->step_s > 29.0 * 86400)
		step_us = (int64_t)(29.0 * 86400 * 1e6 / (double)o->per_device);
	S.n_devs = o->devices + o->live;
	S.devs = calloc((size_t)S.n_devs, sizeof(*S.devs));
	S.ids = calloc((size_t)S.n_devs, sizeof(*S.ids));
	if (!S.devs || !S.ids)
		die("out of memory");
	for (int i = 0; i < S.n_devs; i++) {
		struct dev *d = &S.devs[i];
		d->live = i >= o->devices;
		if (!d->live) {
			d->last = o->per_device;
			d->rec_per_msg = o->records;
			d->step_us = step_us;
			d->t0_us = now_us - 120 * BG_US_PER_S - (o->per_device + 1) * step_us;
			d->conn = 1 + i % o->connections;
			bg_device_id(S.ids[i], sizeof(S.ids[i]), o->prefix, (uint32_t)i + 1);
		} else {
			/* One reading per second, stamped no later than it is sent. */
			d->last = (int64_t)(o->timeout + 10);
			d->rec_per_msg = o->live_rec;
			d->step_us = BG_US_PER_S;
			d->t0_us = now_us - 2 * BG_US_PER_S;
			d->conn = 1 + o->connections;
			bg_device_id(S.ids[i], sizeof(S.ids[i]), o->live_prefix,
				     (uint32_t)(i - o->devices) + 1);
		}
		d->msg_base = (uint32_t)slots;
		slots += (uint64_t)dev_msgs(d);
		if (!d->live && d->sent < d->last)
			S.with_work++;
	}
	S.fleet_records = (long long)o->devices * o->per_device;
	S.pub_time = calloc(slots, sizeof(*S.pub_time));
	S.msg = malloc(256 + (size_t)(o->records > o->live_rec ? o->records : o->live_rec) *
				 BG_RECORD_MAX);
	if (!S.pub_time || !S.msg)
		die("out of memory");
}

int main(int argc, char **argv)
{
	struct opts *o = &S.o;
	char pw_buf[256], id[128], topic[256];
	const char *user, *pw;
	double t_start, next_scan, next_report;
	int n_clients;

	*o = (struct opts){.records = 10,
			   .connections = 4,
			   .window = 10000,
			   .pub_window = 1000,
			   .live_rec = 1,
			   .rate = 0,
			   .resend_after = 10,
			   .timeout = 600,
			   .step_s = 30,
			   .max_s = 120,
			   .live_min_s = 10,
			   .prefix = "bench",
			   .topic_prefix = "coldtrace/v1",
			   .live_prefix = "live"};
	parse(argc, argv, o);
	setup_devices();

	if (o->count_sql) {
		S.pg = PQconnectdb("application_name=coldtrace-bench-loadgen");
		if (PQstatus(S.pg) != CONNECTION_OK)
			die(PQerrorMessage(S.pg));
	}

	user = getenv("COLDTRACE_FLEET_USERNAME");
	pw = bm_secret_from_env("COLDTRACE_FLEET_PASSWORD_FILE", pw_buf, sizeof(pw_buf));
	n_clients = 1 + o->connections + (o->live ? 1 : 0);
	bm_hub_init(&S.hub, n_clients, on_message, NULL);
	for (int i = 0; i < n_clients; i++) {
		if (i == 0 && o->no_ack)
			continue; /* nobody acks: no subscriber */
		snprintf(id, sizeof(id), "bench-loadgen-%d-%d", (int)getpid(), i);
		bm_client_start(&S.hub, i, id, true, user, pw, o->host, o->port,
				o->pub_window + 16);
	}
	bm_hub_wait_ready(&S.hub, -1, 10);
	if (!o->no_ack) {
		snprintf(topic, sizeof(topic), "%s/dev/+/ack", o->topic_prefix);
		if (mosquitto_subscribe(S.hub.clients[0].mosq, NULL, topic, 1) != MOSQ_ERR_SUCCESS)
			die("subscribe");
		bm_hub_wait_ready(&S.hub, 0, 10);
		/* Retained acks of other runs' devices arrive now; ours have none yet. */
		for (double until = bm_mono_s() + 0.5; bm_mono_s() < until;)
			bm_hub_poll(&S.hub, 10);
		if (S.stale_acks) {
			fprintf(stderr,
				"loadgen: %ld devices named %s-NNNNN already have retained acks; "
				"use a fresh --prefix\n",
				S.stale_acks, o->prefix);
			return 1;
		}
	}
	S.started = true;

	t_start = bm_mono_s();
	next_scan = t_start + 1;
	next_report = t_start + 5;
	for (;;) {
		double now = bm_mono_s();
		int sent;

		if (o->no_ack) {
			bool published_all = S.with_work == 0 &&
					     S.hub.puback_total >= (unsigned long long)S.messages;
			if (S.pg) {
				count_poll(now);
				if (S.count >= o->expect ||
				    (S.t_first_pub > 0 && now - S.t_first_pub > o->max_s))
					break;
			} else if (published_all) {
				break;
			}
		} else if (S.fleet_done == o->devices) {
			if (o->live && !S.live_stopped && now - t_start >= o->live_min_s) {
				/* Stop the live devices where they are; wait for their last acks.
				 */
				S.live_stopped = true;
				for (int j = 0; j < o->live; j++) {
					struct dev *d = &S.devs[o->devices + j];
					d->last = d->sent;
					if (d->acked >= d->last)
						S.live_done++;
				}
			}
			if (!o->live || (S.live_stopped && S.live_done >= o->live))
				break;
		}
		if (now - t_start > o->timeout) {
			print_result(t_start,
				     "timeout: not every device was acked at its last seq");
			return 1;
		}
		sent = publish_due(now, t_start);
		if (now >= next_scan) {
			next_scan = now + 1;
			if (!o->no_ack)
				resend_stalled(now);
		}
		if (now >= next_report) {
			next_report = now + 5;
			fprintf(stderr,
				"loadgen: %.0f s: %lld msgs published, %d/%d devices done, %lld "
				"records out%s%lld\n",
				now - t_start, S.messages, S.fleet_done, o->devices,
				(long long)S.outstanding, S.pg ? ", counted " : "",
				S.pg ? S.count : 0LL);
		}
		int wait = 0;
		if (!sent) {
			wait = 5;
			if (o->rate > 0 && S.with_work > 0) {
				/* At least 1 ms: whatever fell due meanwhile goes out in one burst,
				 * and the generator does not spin a core the system under test
				 * needs. */
				double due = t_start + (double)S.messages / o->rate;
				int w = (int)ceil((due - now) * 1000.0);
				wait = w < 1 ? 1 : w < wait ? w : wait;
			}
		}
		bm_hub_poll(&S.hub, wait);
	}
	print_result(t_start, NULL);
	bm_hub_release(&S.hub);
	if (S.pg)
		PQfinish(S.pg);
	return 0;
}
