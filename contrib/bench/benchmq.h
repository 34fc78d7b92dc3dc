/*
 * benchmq: a few libmosquitto clients driven from one thread with one poll(), for the
 * benchmark programs (brokerlimit, loadgen). Header-only for the same reason as benchgen.h.
 *
 * DESIGN. No mosquitto_loop_start(): with the threaded loop every publish from another thread
 * wakes the network thread through a socket pair, and on a 2-core machine those wake-ups and
 * context switches cost more than the broker's own work per message, so the measuring tool
 * would measure itself. Here publishes are written to the socket by the calling thread at
 * once (libmosquitto does so when no loop thread runs), reads are drained after each poll()
 * until a read makes no progress, and mosquitto_loop_misc() runs once a second for
 * keepalives. Callbacks run inside bm_hub_poll() on the caller's thread, so the programs need
 * no locks. A lost connection ends the program: a benchmark must not quietly reconnect.
 */
#ifndef COLDTRACE_BENCHMQ_H
#define COLDTRACE_BENCHMQ_H

#include <mosquitto.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct bm_hub;

struct bm_client {
	struct mosquitto *mosq;
	struct bm_hub *hub;
	int index;
	bool connected, subscribed;
	int outstanding;	/* QoS 1 publishes without PUBACK yet */
	unsigned long activity; /* bumped by every callback: tells a read that made progress */
};

typedef void (*bm_message_fn)(struct bm_hub *hub, struct bm_client *c,
			      const struct mosquitto_message *msg);

struct bm_hub {
	struct bm_client *clients;
	struct pollfd *pfds;
	int n;
	double next_misc;
	bm_message_fn on_message;
	void *user;
	unsigned long long puback_total;
};

static inline double bm_mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void bm_die(const char *what, int rc)
{
	fprintf(stderr, "bench mqtt: %s%s%s\n", what, rc ? ": " : "",
		rc ? mosquitto_strerror(rc) : "");
	exit(1);
}

static inline void bm_on_connect(struct mosquitto *m, void *obj, int rc)
{
	struct bm_client *c = obj;
	(void)m;
	if (rc)
		bm_die(mosquitto_connack_string(rc), 0);
	c->connected = true;
	c->activity++;
}

static inline void bm_on_subscribe(struct mosquitto *m, void *obj, int mid, int n,
				   const int *granted)
{
	struct bm_client *c = obj;
	(void)m;
	(void)mid;
	if (n < 1 || granted[0] > 2)
		bm_die("the broker refused a subscription (ACL?)", 0);
	c->subscribed = true;
	c->activity++;
}

static inline void bm_on_publish(struct mosquitto *m, void *obj, int mid)
{
	struct bm_client *c = obj;
	(void)m;
	(void)mid;
	if (c->outstanding > 0)
		c->outstanding--;
	c->hub->puback_total++;
	c->activity++;
}

static inline void bm_on_message(struct mosquitto *m, void *obj,
				 const struct mosquitto_message *msg)
{
	struct bm_client *c = obj;
	(void)m;
	c->activity++;
	if (c->hub->on_message)
		c->hub->on_message(c->hub, c, msg);
}

static inline void bm_on_disconnect(struct mosquitto *m, void *obj, int rc)
{
	struct bm_client *c = obj;
	(void)m;
	c->connected = false;
	if (rc)
		bm_die("connection to the broker lost", 0);
}

static inline void bm_hub_init(struct bm_hub *h, int n, bm_message_fn on_message, void *user)
{
	memset(h, 0, sizeof(*h));
	h->clients = calloc((size_t)n, sizeof(*h->clients));
	h->pfds = calloc((size_t)n, sizeof(*h->pfds));
	if (!h->clients || !h->pfds)
		bm_die("out of memory", 0);
	h->n = n;
	h->on_message = on_message;
	h->user = user;
	mosquitto_lib_init();
}

/* Creates client i and starts connecting it. send_max: QoS 1 publishes libmosquitto keeps in
 * flight before it queues them itself (the callers stay below it). */
static inline void bm_client_start(struct bm_hub *h, int i, const char *client_id, bool clean,
				   const char *user, const char *password, const char *host,
				   int port, int send_max)
{
	struct bm_client *c = &h->clients[i];
	int rc;

	c->hub = h;
	c->index = i;
	c->mosq = mosquitto_new(client_id, clean, c);
	if (!c->mosq)
		bm_die("mosquitto_new", 0);
	mosquitto_int_option(c->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_int_option(c->mosq, MOSQ_OPT_SEND_MAXIMUM, send_max);
	if (user && (rc = mosquitto_username_pw_set(c->mosq, user, password)) != MOSQ_ERR_SUCCESS)
		bm_die("mosquitto_username_pw_set", rc);
	mosquitto_connect_callback_set(c->mosq, bm_on_connect);
	mosquitto_subscribe_callback_set(c->mosq, bm_on_subscribe);
	mosquitto_publish_callback_set(c->mosq, bm_on_publish);
	mosquitto_message_callback_set(c->mosq, bm_on_message);
	mosquitto_disconnect_callback_set(c->mosq, bm_on_disconnect);
	rc = mosquitto_connect(c->mosq, host, port, 60);
	if (rc != MOSQ_ERR_SUCCESS)
		bm_die("cannot connect to the broker", rc);
}

/* One round: wait up to timeout_ms for any socket, then read and write what can be. */
static inline void bm_hub_poll(struct bm_hub *h, int timeout_ms)
{
	int rc;

	for (int i = 0; i < h->n; i++) {
		struct bm_client *c = &h->clients[i];
		h->pfds[i].fd = c->mosq ? mosquitto_socket(c->mosq) : -1;
		h->pfds[i].events =
		    POLLIN | (c->mosq && mosquitto_want_write(c->mosq) ? POLLOUT : 0);
		h->pfds[i].revents = 0;
	}
	if (poll(h->pfds, (nfds_t)h->n, timeout_ms) < 0)
		return;
	for (int i = 0; i < h->n; i++) {
		struct bm_client *c = &h->clients[i];
		short re = h->pfds[i].revents;
		if (!c->mosq || h->pfds[i].fd < 0)
			continue;
		if (re & (POLLIN | POLLHUP | POLLERR)) {
			/* loop_read takes about one packet per call; go on while it makes progress.
			 */
			for (int k = 0; k < 4096; k++) {
				unsigned long before = c->activity;
				rc = mosquitto_loop_read(c->mosq, 1);
				if (rc != MOSQ_ERR_SUCCESS)
					bm_die("read from the broker", rc);
				if (c->activity == before)
					break;
			}
		}
		if ((re & POLLOUT) || mosquitto_want_write(c->mosq)) {
			rc = mosquitto_loop_write(c->mosq, 1);
			if (rc != MOSQ_ERR_SUCCESS)
				bm_die("write to the broker", rc);
		}
	}
	double now = bm_mono_s();
	if (now >= h->next_misc) {
		h->next_misc = now + 1.0;
		for (int i = 0; i < h->n; i++)
			if (h->clients[i].mosq)
				mosquitto_loop_misc(h->clients[i].mosq);
	}
}

/* Polls until every client is connected (and, if `subscribed`, client `sub` has its SUBACK). */
static inline void bm_hub_wait_ready(struct bm_hub *h, int sub, double timeout_s)
{
	double deadline = bm_mono_s() + timeout_s;

	for (;;) {
		bool ok = true;
		for (int i = 0; i < h->n; i++)
			ok = ok && (!h->clients[i].mosq || h->clients[i].connected);
		if (ok && (sub < 0 || h->clients[sub].subscribed))
			return;
		if (bm_mono_s() > deadline)
			bm_die("no CONNACK/SUBACK from the broker in time", 0);
		bm_hub_poll(h, 50);
	}
}

/* QoS 1 publish, counted as outstanding until its PUBACK. */
static inline int bm_publish(struct bm_client *c, const char *topic, const void *payload, int len,
			     bool retain)
{
	int rc = mosquitto_publish(c->mosq, NULL, topic, len, payload, 1, retain);
	if (rc != MOSQ_ERR_SUCCESS)
		return -1;
	c->outstanding++;
	return 0;
}

static inline void bm_hub_release(struct bm_hub *h)
{
	for (int i = 0; i < h->n; i++) {
		struct bm_client *c = &h->clients[i];
		if (!c->mosq)
			continue;
		mosquitto_disconnect_callback_set(c->mosq, NULL);
		mosquitto_disconnect(c->mosq);
		mosquitto_loop_write(c->mosq, 1);
		mosquitto_destroy(c->mosq);
	}
	free(h->clients);
	free(h->pfds);
	mosquitto_lib_cleanup();
}

/* First line of the file named by environment variable `env`, or NULL when it is unset. */
static inline char *bm_secret_from_env(const char *env, char *buf, size_t cap)
{
	const char *path = getenv(env);
	FILE *f;

	if (!path || !*path)
		return NULL;
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "bench mqtt: cannot read %s (named by %s)\n", path, env);
		exit(1);
	}
	if (!fgets(buf, (int)cap, f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\r\n")] = '\0';
	return buf;
}

#endif
