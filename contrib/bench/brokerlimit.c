/*
 * brokerlimit: the broker limit for coldtrace's message shape (`make bench`, item 2).
 *
 * N publishers (the fleet account) send real uplink messages — 10 readings each, the shape of
 * benchgen.h — at QoS 1 on {prefix}/dev/{device}/up, and one QoS 1 subscriber (the ingest
 * account under its own client id, clean session) counts what the broker delivers. Nothing is
 * done with a message but counting, so the figure is what mosquitto plus a libmosquitto
 * consumer can move on this machine: the ceiling no consumer of ours can pass.
 *
 * DESIGN. All clients share one thread and one poll() (benchmq.h), so the tool itself takes
 * at most one core and leaves the broker the other. Closed loop: publishers pause while more
 * than --window messages are published but not yet received, so the broker's queue for the
 * subscriber stays short and the figure is the steady delivery rate, not how fast a queue can
 * be filled; each publisher also keeps at most --pub-window messages between publish and
 * PUBACK. Payloads are built before the clock starts. A message the broker PUBACKed but never
 * delivered is reported as lost (mosquitto 2.0.11 of Debian 12 does drop some under
 * max_queued_bytes 512 MiB with 4 publishers, although far less than that is queued). The rate is
 * counted after --warmup seconds. Prints one JSON object on stdout; exits 1 if a message went
 * missing.
 *
 * This is a benchmark peer, not product code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchgen.h"
#include "benchmq.h"

#define MSGS_PER_PUBLISHER 64

struct opts {
	int publishers, devices, records, window, pub_window, port;
	double seconds, warmup;
	const char *host, *prefix;
};

struct payloads {
	char *body[MSGS_PER_PUBLISHER];
	int len[MSGS_PER_PUBLISHER];
	char topic[MSGS_PER_PUBLISHER][160];
	unsigned next;
};

static unsigned long long received, received_bytes;
static double last_receive;

static void on_message(struct bm_hub *h, struct bm_client *c, const struct mosquitto_message *m)
{
	(void)h;
	(void)c;
	received++;
	received_bytes += (unsigned long long)m->payloadlen;
	last_receive = bm_mono_s();
}

static int num(const char *s)
{
	return (int)strtol(s, NULL, 10);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: brokerlimit [--publishers N] [--seconds S] [--warmup S] [--devices D]\n"
		"                   [--records-per-msg R] [--window MSGS] [--pub-window MSGS]\n"
		"Broker and accounts from COLDTRACE_MQTT_HOST/PORT, COLDTRACE_MQTT_USERNAME/\n"
		"PASSWORD_FILE (subscriber) and COLDTRACE_FLEET_USERNAME/PASSWORD_FILE "
		"(publishers).\n");
	exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
	for (int i = 1; i < argc; i += 2) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			usage();
		if (strcmp(k, "--publishers") == 0)
			o->publishers = num(v);
		else if (strcmp(k, "--seconds") == 0)
			o->seconds = strtod(v, NULL);
		else if (strcmp(k, "--warmup") == 0)
			o->warmup = strtod(v, NULL);
		else if (strcmp(k, "--devices") == 0)
			o->devices = num(v);
		else if (strcmp(k, "--records-per-msg") == 0)
			o->records = num(v);
		else if (strcmp(k, "--window") == 0)
			o->window = num(v);
		else if (strcmp(k, "--pub-window") == 0)
			o->pub_window = num(v);
		else
			usage();
	}
	o->host = getenv("COLDTRACE_MQTT_HOST") ? getenv("COLDTRACE_MQTT_HOST") : "127.0.0.1";
	o->port = getenv("COLDTRACE_MQTT_PORT") ? num(getenv("COLDTRACE_MQTT_PORT")) : 1883;
	if (o->publishers < 1 || o->publishers > 64 || o->devices < 1 || o->records < 1 ||
	    o->records > 1000 || o->window < 1 || o->pub_window < 1 || o->seconds <= o->warmup)
		usage();
}

int main(int argc, char **argv)
{
	struct opts o = {.publishers = 2,
			 .devices = 1000,
			 .records = 10,
			 .window = 2000,
			 .pub_window = 1000,
			 .seconds = 12,
			 .warmup = 2,
			 .prefix = "coldtrace/v1"};
	struct bm_hub hub;
	struct payloads *pl;
	char id[128], sub_pw[256], pub_pw[256], topic[256];
	const char *sub_user = getenv("COLDTRACE_MQTT_USERNAME");
	const char *pub_user = getenv("COLDTRACE_FLEET_USERNAME");
	const char *sub_pass, *pub_pass;
	int64_t t0_us = bg_now_us() - 86400 * BG_US_PER_S;
	unsigned long long published = 0, c0 = 0, b0 = 0, c1 = 0, b1 = 0;
	double t_start, t_warm = 0, t_end = 0, deadline;
	int sub;
	bool warm = false;

	parse(argc, argv, &o);
	sub_pass = bm_secret_from_env("COLDTRACE_MQTT_PASSWORD_FILE", sub_pw, sizeof(sub_pw));
	pub_pass = bm_secret_from_env("COLDTRACE_FLEET_PASSWORD_FILE", pub_pw, sizeof(pub_pw));
	pl = calloc((size_t)o.publishers, sizeof(*pl));
	if (!pl)
		bm_die("out of memory", 0);
	for (int i = 0; i < o.publishers; i++) {
		for (int k = 0; k < MSGS_PER_PUBLISHER; k++) {
			uint32_t dev = (uint32_t)((i * MSGS_PER_PUBLISHER + k) % o.devices) + 1;
			char dev_id[64];
			bg_device_id(dev_id, sizeof(dev_id), "blim", dev);
			snprintf(pl[i].topic[k], sizeof(pl[i].topic[k]), "%s/dev/%s/up", o.prefix,
				 dev_id);
			pl[i].body[k] = malloc(256 + (size_t)o.records * BG_RECORD_MAX);
			if (!pl[i].body[k])
				bm_die("out of memory", 0);
			pl[i].len[k] =
			    (int)bg_message(pl[i].body[k], dev_id, dev, (int64_t)k * o.records + 1,
					    (int64_t)(k + 1) * o.records, t0_us, 30 * BG_US_PER_S);
		}
	}

	/* Client 0 subscribes; 1..N publish. */
	bm_hub_init(&hub, o.publishers + 1, on_message, NULL);
	sub = 0;
	snprintf(id, sizeof(id), "bench-brokerlimit-sub-%d", (int)getpid());
	bm_client_start(&hub, sub, id, true, sub_user, sub_pass, o.host, o.port, o.pub_window);
	bm_hub_wait_ready(&hub, -1, 10);
	snprintf(topic, sizeof(topic), "%s/dev/+/up", o.prefix);
	if (mosquitto_subscribe(hub.clients[sub].mosq, NULL, topic, 1) != MOSQ_ERR_SUCCESS)
		bm_die("subscribe", 0);
	for (int i = 1; i <= o.publishers; i++) {
		snprintf(id, sizeof(id), "bench-brokerlimit-pub-%d-%d", (int)getpid(), i);
		bm_client_start(&hub, i, id, true, pub_user, pub_pass, o.host, o.port,
				o.pub_window);
	}
	bm_hub_wait_ready(&hub, sub, 10);

	t_start = bm_mono_s();
	for (;;) {
		double now = bm_mono_s();
		bool sent = false;

		if (!warm && now >= t_start + o.warmup) {
			warm = true;
			t_warm = now;
			c0 = received;
			b0 = received_bytes;
		}
		if (now >= t_start + o.seconds) {
			t_end = now;
			c1 = received;
			b1 = received_bytes;
			break;
		}
		for (int i = 1; i <= o.publishers; i++) {
			struct bm_client *c = &hub.clients[i];
			struct payloads *p = &pl[i - 1];
			/* A few per publisher per round, so every socket gets its turn. */
			for (int k = 0; k < 16 && c->outstanding < o.pub_window &&
					published - received < (unsigned long long)o.window;
			     k++) {
				unsigned m = p->next;
				if (bm_publish(c, p->topic[m], p->body[m], p->len[m], false) < 0)
					bm_die("publish", 0);
				p->next = (m + 1) % MSGS_PER_PUBLISHER;
				published++;
				sent = true;
			}
		}
		bm_hub_poll(&hub, sent ? 0 : 1);
	}
	/* Drain what is in flight, so the loss check is meaningful. */
	deadline = bm_mono_s() + 20;
	while (received < published && bm_mono_s() < deadline)
		bm_hub_poll(&hub, 10);
	int unacked = 0;
	for (int i = 1; i <= o.publishers; i++)
		unacked += hub.clients[i].outstanding;

	double rate = (double)(c1 - c0) / (t_end - t_warm);
	printf("{\"msgs_per_s\":%.0f,\"readings_per_s\":%.0f,\"records_per_msg\":%d,"
	       "\"bytes_per_msg\":%.0f,\"publishers\":%d,\"qos\":1,\"seconds\":%.3f,"
	       "\"published\":%llu,\"received\":%llu,\"lost\":%lld,\"unpubacked\":%d,"
	       "\"last_receive_s\":%.3f}\n",
	       rate, rate * o.records, o.records,
	       c1 > c0 ? (double)(b1 - b0) / (double)(c1 - c0) : 0.0, o.publishers, t_end - t_warm,
	       published, received, (long long)(published - received), unacked,
	       last_receive > 0 ? last_receive - t_start : 0.0);
	if (received < published)
		fprintf(stderr,
			"brokerlimit: %llu of %llu messages PUBACKed by the broker never reached "
			"the subscriber (see the broker log: \"Outgoing messages are being "
			"dropped\")\n",
			published - received, published);
	fflush(stdout);
	bm_hub_release(&hub);
	for (int i = 0; i < o.publishers; i++)
		for (int k = 0; k < MSGS_PER_PUBLISHER; k++)
			free(pl[i].body[k]);
	free(pl);
	return received >= published ? 0 : 1;
}
