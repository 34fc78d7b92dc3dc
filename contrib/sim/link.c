/*
 * link: the MQTT side of the simulator. A hub drives a set of libmosquitto clients from one
 * thread with one poll() over their sockets (mosquitto_loop_read/write/misc), so a flood of
 * ten thousand per-device connections needs no thread per device, and no locks: every
 * callback runs inside link_hub_poll() on the caller's thread. mosquitto_loop() is not used
 * because it select()s one client at a time (and select() breaks above fd 1023); the
 * reconnect backoff is ours (exponential, jittered) because mosquitto_reconnect_delay_set()
 * only drives loop_forever()/loop_start().
 *
 * DESIGN. Delivery follows protocol v1 and rests on these invariants:
 *  - A device's acked_seq only grows; it comes from the retained ack topic, never from PUBACK
 *    (an ingest PUBACKs before it commits, so PUBACK proves nothing about the database).
 *  - Each link subscribes to the exact ack topic of each of its devices (batched SUBSCRIBEs),
 *    not to a wildcard: no connection receives acks it does not need, and one device's
 *    retained ack can be asked for again on its own (re-subscribing makes the broker send
 *    the retained message again).
 *  - Every (re)connection starts an epoch. A device sends nothing in a new epoch until its
 *    retained ack arrived or ACK_GRACE passed after the last SUBACK (a device never acked has
 *    none); its first send of the epoch starts at acked_seq + 1, so everything unacked goes
 *    again.
 *  - While records above acked_seq are out and the ack has not moved for resend_after
 *    seconds, the device first asks for its retained ack again (a broker under load drops
 *    QoS 1 messages to a busy subscriber, acks included, and an ingest has no reason to
 *    repeat an unchanged ack); if that shows no progress, sending restarts at acked_seq + 1
 *    (an ingest that crashed after PUBACK but before its commit needs exactly that).
 *  - A resend is byte-identical: record text comes from the owner's callback, which returns
 *    the stored (trip) or deterministically regenerated (flood) text for a seq.
 *  - Messages in flight per link are bounded by `window` (counted from publish to PUBACK),
 *    so a fast producer cannot queue unbounded memory inside libmosquitto.
 */
#include "link.h"

#include <errno.h>
#include <math.h>
#include <mosquitto.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define KEEPALIVE_S 30
#define ACK_GRACE_S 2.0 /* how long to wait for a retained ack that may not exist */
#define BACKOFF_MIN_S 1.0
#define BACKOFF_MAX_S 30.0
#define ACK_PAYLOAD_MAX 512
#define TOPIC_MAX 256
#define SUB_CHUNK 64 /* ack topics per SUBSCRIBE packet */

struct link {
	struct link_hub *hub;
	struct mosquitto *mosq;
	char client_id[128];
	struct link_device **devs; /* attached devices, not owned */
	size_t ndevs, devcap;
	int sub_last_mid;      /* SUBSCRIBE whose SUBACK starts the ack grace, -1 when none */
	bool sub_refused;      /* logged once */
	unsigned epoch;	       /* bumped on every accepted CONNACK */
	double ack_wait_until; /* devices without a retained ack may send from then on */
	double retry_at;       /* next connection attempt, when down */
	double backoff;
	int outstanding; /* published, PUBACK not yet seen */
	uint64_t jitter;
	bool started;	/* connect_async done once; later attempts use reconnect_async */
	bool connected; /* CONNACK accepted and not lost since */
	bool down;	/* loss already handled (avoids double backoff from callback + rc) */
	bool offline;	/* dead zone: stay disconnected */
	bool quiet;	/* log connects at debug level (floods of links) */
};

struct link_hub {
	struct link_hub_config cfg;
	char host[256];
	char prefix[128];
	struct link_callbacks cb;
	struct link **links;
	size_t nlinks, cap;
	struct pollfd *pfds;
	char *msg; /* scratch for one uplink message; mosquitto_publish copies it */
	double next_misc;
	bool fatal;
	struct link_stats stats;
};

double link_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double jitter01(struct link *l)
{
	/* xorshift64: only spreads reconnects, so neither quality nor determinism matter */
	l->jitter ^= l->jitter << 13;
	l->jitter ^= l->jitter >> 7;
	l->jitter ^= l->jitter << 17;
	return (double)(l->jitter >> 11) / 9007199254740992.0;
}

/* ---- connection state ------------------------------------------------------------------ */

static void link_down(struct link *l, const char *why)
{
	bool was_up = l->connected;
	double delay;

	l->connected = false;
	if (l->down || l->offline)
		return;
	l->down = true;
	delay = l->backoff * (0.75 + 0.5 * jitter01(l));
	l->retry_at = link_now() + delay;
	l->backoff = fmin(l->backoff * 2, BACKOFF_MAX_S);
	if (was_up)
		log_at(l->quiet ? LOG_DEBUG : LOG_WARN,
		       "%s: connection lost (%s), reconnecting in %.1f s", l->client_id, why,
		       delay);
	else
		log_at(l->quiet ? LOG_DEBUG : LOG_WARN,
		       "%s: cannot connect to %s:%d (%s), retry in %.1f s", l->client_id,
		       l->hub->host, l->hub->cfg.port, why, delay);
}

static const char *mosq_error(int rc)
{
	return rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc);
}

static void link_try_connect(struct link *l)
{
	int rc;

	l->down = false;
	if (!l->started) {
		rc = mosquitto_connect_async(l->mosq, l->hub->host, l->hub->cfg.port, KEEPALIVE_S);
		if (rc == MOSQ_ERR_INVAL || rc == MOSQ_ERR_NOMEM) {
			log_error("%s: cannot set up a connection to %s:%d: %s", l->client_id,
				  l->hub->host, l->hub->cfg.port, mosquitto_strerror(rc));
			l->hub->fatal = true;
			return;
		}
		l->started = true;
	} else {
		rc = mosquitto_reconnect_async(l->mosq);
	}
	if (rc != MOSQ_ERR_SUCCESS)
		link_down(l, mosq_error(rc));
}

/* CONNACK codes that no retry can fix: wrong protocol, client id, credentials. */
static bool connack_is_permanent(int rc)
{
	return rc == 1 || rc == 2 || rc == 4 || rc == 5;
}

static void ack_topic(const struct link_hub *h, const struct link_device *d, char *buf)
{
	snprintf(buf, TOPIC_MAX, "%s/dev/%s/ack", h->prefix, d->id);
}

/* One SUBSCRIBE per SUB_CHUNK devices; the SUBACK of the last one starts the ack grace. */
static int subscribe_devices(struct link *l)
{
	char names[SUB_CHUNK][TOPIC_MAX];
	char *topics[SUB_CHUNK];
	int mid, rc;

	l->sub_last_mid = -1;
	for (size_t i = 0; i < l->ndevs; i += SUB_CHUNK) {
		size_t n = l->ndevs - i < SUB_CHUNK ? l->ndevs - i : SUB_CHUNK;

		for (size_t k = 0; k < n; k++) {
			ack_topic(l->hub, l->devs[i + k], names[k]);
			topics[k] = names[k];
		}
		rc = mosquitto_subscribe_multiple(l->mosq, &mid, (int)n, topics, 1, 0, NULL);
		if (rc != MOSQ_ERR_SUCCESS)
			return rc;
		l->sub_last_mid = mid;
	}
	return MOSQ_ERR_SUCCESS;
}

static void on_connect(struct mosquitto *m, void *obj, int rc)
{
	struct link *l = obj;
	int src;

	(void)m;
	if (rc != 0) {
		log_error("%s: broker refused the connection: %s", l->client_id,
			  mosquitto_connack_string(rc));
		if (connack_is_permanent(rc))
			l->hub->fatal = true;
		return;
	}
	l->connected = true;
	l->down = false;
	l->epoch++;
	l->backoff = BACKOFF_MIN_S;
	l->ack_wait_until = INFINITY; /* until the last SUBACK */
	log_at(l->quiet ? LOG_DEBUG : LOG_INFO, "%s: connected to %s:%d", l->client_id,
	       l->hub->host, l->hub->cfg.port);
	src = subscribe_devices(l);
	if (src != MOSQ_ERR_SUCCESS) {
		log_error("%s: cannot subscribe to the ack topics: %s", l->client_id,
			  mosquitto_strerror(src));
		l->ack_wait_until = link_now();
	} else if (l->sub_last_mid < 0) {
		l->ack_wait_until = link_now(); /* no devices: nothing to wait for */
	}
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int count, const int *granted)
{
	struct link *l = obj;

	(void)m;
	for (int i = 0; i < count; i++) {
		if (granted[i] <= 2 || l->sub_refused)
			continue;
		log_error("%s: broker refused an ack subscription (ACL?): acks cannot arrive",
			  l->client_id);
		l->sub_refused = true;
	}
	/* SUBACKs come in order, so the last one means every retained ack is on its way. */
	if (mid == l->sub_last_mid) {
		l->ack_wait_until = link_now() + ACK_GRACE_S;
		l->sub_last_mid = -1;
	}
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc)
{
	(void)m;
	link_down(obj, rc == 0 ? "disconnected" : mosq_error(rc));
}

static void on_publish(struct mosquitto *m, void *obj, int mid)
{
	struct link *l = obj;

	(void)m;
	(void)mid;
	if (l->outstanding > 0)
		l->outstanding--;
}

/* ---- acks ------------------------------------------------------------------------------ */

/* "{prefix}/dev/{id}/ack" -> id; -1 when the topic is anything else. */
static int topic_device(const struct link_hub *h, const char *topic, char id[LINK_DEVICE_MAX + 1])
{
	size_t plen = strlen(h->prefix), idlen;
	const char *p, *end;

	if (strncmp(topic, h->prefix, plen) != 0 || strncmp(topic + plen, "/dev/", 5) != 0)
		return -1;
	p = topic + plen + 5;
	end = strchr(p, '/');
	if (!end || strcmp(end, "/ack") != 0)
		return -1;
	idlen = (size_t)(end - p);
	if (idlen < 1 || idlen > LINK_DEVICE_MAX)
		return -1;
	memcpy(id, p, idlen);
	id[idlen] = '\0';
	return 0;
}

/* Position after `"key"` and the colon that follows it, or NULL. */
static const char *json_after_key(const char *s, const char *key)
{
	const char *p = strstr(s, key);

	if (!p)
		return NULL;
	p += strlen(key);
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p != ':')
		return NULL;
	p++;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/*
 * {"v":1,"device":"…","acked_seq":N}: only the number matters, and the device when present
 * must be the one of the topic. A tiny scan is enough for a payload we know this well.
 */
static int ack_parse(const void *payload, int len, const char *id, long long *acked)
{
	char buf[ACK_PAYLOAD_MAX];
	const char *p;
	char *end;
	size_t idlen = strlen(id);

	if (len <= 0 || (size_t)len >= sizeof(buf))
		return -1;
	memcpy(buf, payload, (size_t)len);
	buf[len] = '\0';
	p = json_after_key(buf, "\"device\"");
	if (p && (p[0] != '"' || strncmp(p + 1, id, idlen) != 0 || p[1 + idlen] != '"'))
		return -1;
	p = json_after_key(buf, "\"acked_seq\"");
	if (!p)
		return -1;
	errno = 0;
	*acked = strtoll(p, &end, 10);
	if (end == p || errno != 0 || *acked < 0)
		return -1;
	return 0;
}

static void ack_apply(struct link *l, struct link_device *d, long long acked, bool retained)
{
	struct link_hub *h = l->hub;
	double now = link_now();
	bool moved = acked > d->acked_seq;

	if (retained) {
		d->ack_epoch = l->epoch;
		if (d->refresh_at > 0)
			d->refresh_answered = true;
	}
	if (moved) {
		d->refresh_at = 0;
		if (d->last_seq > 0 && acked > d->last_seq)
			log_warn("%s: ingest acks seq %lld but only %lld exist here: was the "
				 "device store reset?",
				 d->id, acked, d->last_seq);
		log_debug("%s: acked %lld -> %lld%s", d->id, d->acked_seq, acked,
			  retained ? " (retained)" : "");
		d->acked_seq = acked;
		d->stall_since = now;
		if (!retained && h->stats.first_ack_at < 0)
			h->stats.first_ack_at = now;
	}
	if ((moved || retained) && h->cb.acked)
		h->cb.acked(h->cb.ctx, d, retained);
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
	struct link *l = obj;
	struct link_hub *h = l->hub;
	char id[LINK_DEVICE_MAX + 1];
	struct link_device *d;
	long long acked;

	(void)m;
	/* An empty payload clears a retained ack (ingest reset by hand): nothing to learn. */
	if (msg->payloadlen == 0 || topic_device(h, msg->topic, id) != 0)
		return;
	d = h->cb.find(h->cb.ctx, id);
	if (!d || d->link != l)
		return;
	if (ack_parse(msg->payload, msg->payloadlen, id, &acked) != 0) {
		log_warn("%s: ignoring a malformed ack on %s (%d bytes)", id, msg->topic,
			 msg->payloadlen);
		return;
	}
	ack_apply(l, d, acked, msg->retain);
}

/* ---- hub and links --------------------------------------------------------------------- */

int link_hub_new(struct link_hub **out, const struct link_hub_config *cfg,
		 const struct link_callbacks *cb)
{
	struct link_hub *h;

	*out = NULL;
	if (strlen(cfg->host) >= sizeof(h->host) || strlen(cfg->prefix) >= sizeof(h->prefix)) {
		log_error("broker host or topic prefix too long");
		return -1;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return -1;
	h->msg = malloc(LINK_MSG_MAX);
	if (!h->msg) {
		free(h);
		return -1;
	}
	h->cfg = *cfg;
	snprintf(h->host, sizeof(h->host), "%s", cfg->host);
	snprintf(h->prefix, sizeof(h->prefix), "%s", cfg->prefix);
	h->cfg.host = h->host;
	h->cfg.prefix = h->prefix;
	h->cb = *cb;
	h->stats.first_ack_at = -1;
	h->stats.first_pub_at = -1;
	*out = h;
	return 0;
}

static int hub_grow(struct link_hub *h)
{
	size_t cap = h->cap ? h->cap * 2 : 8;
	struct link **links;
	struct pollfd *pfds;

	links = realloc(h->links, cap * sizeof(*links));
	if (!links)
		return -1;
	h->links = links;
	pfds = realloc(h->pfds, cap * sizeof(*pfds));
	if (!pfds)
		return -1;
	h->pfds = pfds;
	h->cap = cap;
	return 0;
}

static int link_setup_mosq(struct link *l, const char *username, const char *password)
{
	int rc;

	l->mosq = mosquitto_new(l->client_id, false, l);
	if (!l->mosq) {
		log_error("%s: cannot create an MQTT client: %s", l->client_id, strerror(errno));
		return -1;
	}
	rc = mosquitto_username_pw_set(l->mosq, username, password);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_int_option(l->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_int_option(l->mosq, MOSQ_OPT_SEND_MAXIMUM, l->hub->cfg.window);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_int_option(l->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	if (rc != MOSQ_ERR_SUCCESS) {
		log_error("%s: cannot configure the MQTT client: %s", l->client_id,
			  mosquitto_strerror(rc));
		return -1;
	}
	mosquitto_connect_callback_set(l->mosq, on_connect);
	mosquitto_disconnect_callback_set(l->mosq, on_disconnect);
	mosquitto_subscribe_callback_set(l->mosq, on_subscribe);
	mosquitto_publish_callback_set(l->mosq, on_publish);
	mosquitto_message_callback_set(l->mosq, on_message);
	return 0;
}

int link_add(struct link_hub *h, const char *client_id, const char *username, const char *password,
	     double connect_at, struct link **out)
{
	struct link *l = NULL;

	*out = NULL;
	if (h->nlinks == h->cap && hub_grow(h) != 0)
		goto fail;
	l = calloc(1, sizeof(*l));
	if (!l)
		goto fail;
	l->hub = h;
	l->backoff = BACKOFF_MIN_S;
	l->retry_at = connect_at;
	l->down = true;
	l->sub_last_mid = -1;
	l->jitter = 0x9E3779B97F4A7C15ULL ^ (uint64_t)(h->nlinks + 1) * 0xBF58476D1CE4E5B9ULL;
	l->quiet = h->nlinks >= 8;
	snprintf(l->client_id, sizeof(l->client_id), "%s", client_id);
	if (link_setup_mosq(l, username, password) != 0)
		goto fail;
	h->links[h->nlinks++] = l;
	*out = l;
	return 0;
fail:
	if (l && l->mosq)
		mosquitto_destroy(l->mosq);
	free(l);
	log_error("%s: cannot add an MQTT link", client_id);
	return -1;
}

void link_hub_free(struct link_hub *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->nlinks; i++) {
		struct link *l = h->links[i];

		l->offline = true; /* a deliberate goodbye, not a loss to report or retry */
		/* Best effort: a clean DISCONNECT spares the broker a keepalive timeout. */
		if (l->connected && mosquitto_disconnect(l->mosq) == MOSQ_ERR_SUCCESS)
			mosquitto_loop_write(l->mosq, 1);
		mosquitto_destroy(l->mosq);
		free(l->devs);
		free(l);
	}
	free(h->links);
	free(h->pfds);
	free(h->msg);
	free(h);
}

static void link_service(struct link *l, short revents)
{
	int rc = MOSQ_ERR_SUCCESS;

	if (revents & (POLLIN | POLLHUP | POLLERR))
		rc = mosquitto_loop_read(l->mosq, 1);
	if (rc == MOSQ_ERR_SUCCESS && (revents & POLLOUT) && mosquitto_socket(l->mosq) >= 0)
		rc = mosquitto_loop_write(l->mosq, 1);
	if (rc != MOSQ_ERR_SUCCESS)
		link_down(l, mosq_error(rc));
}

static void hub_misc(struct link_hub *h, double now)
{
	for (size_t i = 0; i < h->nlinks; i++) {
		struct link *l = h->links[i];

		if (mosquitto_socket(l->mosq) < 0) {
			if (!l->offline && now >= l->retry_at)
				link_try_connect(l);
			continue;
		}
		if (now >= h->next_misc) {
			int rc = mosquitto_loop_misc(l->mosq);

			if (rc != MOSQ_ERR_SUCCESS)
				link_down(l, mosq_error(rc));
		}
	}
	if (now >= h->next_misc)
		h->next_misc = now + 1.0;
}

int link_hub_poll(struct link_hub *h, int timeout_ms)
{
	int n;

	hub_misc(h, link_now());
	for (size_t i = 0; i < h->nlinks; i++) {
		struct mosquitto *m = h->links[i]->mosq;

		h->pfds[i].fd = mosquitto_socket(m);
		h->pfds[i].events = (short)(POLLIN | (mosquitto_want_write(m) ? POLLOUT : 0));
		h->pfds[i].revents = 0;
	}
	n = poll(h->pfds, h->nlinks, timeout_ms);
	if (n < 0 && errno != EINTR) {
		log_error("poll: %s", strerror(errno));
		return -1;
	}
	for (size_t i = 0; n > 0 && i < h->nlinks; i++) {
		if (h->pfds[i].revents && h->pfds[i].fd == mosquitto_socket(h->links[i]->mosq))
			link_service(h->links[i], h->pfds[i].revents);
	}
	return h->fatal ? -1 : 0;
}

void link_set_offline(struct link *l, bool offline)
{
	if (l->offline == offline)
		return;
	l->offline = offline;
	if (offline) {
		log_info("%s: entering a dead zone, going offline", l->client_id);
		l->connected = false;
		if (mosquitto_socket(l->mosq) >= 0)
			mosquitto_disconnect(l->mosq);
	} else {
		log_info("%s: leaving the dead zone, reconnecting", l->client_id);
		l->down = true;
		l->backoff = BACKOFF_MIN_S;
		l->retry_at = link_now();
	}
}

void link_hub_stats(const struct link_hub *h, struct link_stats *out)
{
	*out = h->stats;
	out->links = h->nlinks;
	out->links_up = 0;
	for (size_t i = 0; i < h->nlinks; i++)
		out->links_up += h->links[i]->connected;
}

/* ---- publishing ------------------------------------------------------------------------ */

int link_device_init(struct link_device *d, const char *id, struct link *l, long long acked,
		     long long last)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->id, sizeof(d->id), "%s", id);
	d->acked_seq = acked;
	d->last_seq = last;
	d->sent_upto = acked;
	d->max_sent = acked;
	d->link = l;
	if (l->ndevs == l->devcap) {
		size_t cap = l->devcap ? l->devcap * 2 : 4;
		struct link_device **devs = realloc(l->devs, cap * sizeof(*devs));

		if (!devs)
			return -1;
		l->devs = devs;
		l->devcap = cap;
	}
	l->devs[l->ndevs++] = d;
	return 0;
}

bool link_ready(const struct link_device *d, double now)
{
	const struct link *l = d->link;

	if (!l->connected)
		return false;
	return d->ack_epoch == l->epoch || now >= l->ack_wait_until;
}

/* Appends records sent_upto+1.. to the message until batch, size or last_seq stops it. */
static int build_message(struct link_hub *h, const struct link_device *d, size_t *len_out,
			 int *count)
{
	size_t used, len, room;
	long long seq = d->sent_upto + 1;
	int n = 0, rc;

	used = (size_t)snprintf(h->msg, LINK_MSG_MAX, "{\"v\":1,\"device\":\"%s\",\"records\":[",
				d->id);
	while (n < h->cfg.batch && seq <= d->last_seq) {
		size_t sep = n ? 1 : 0;

		room = LINK_MSG_MAX - used - sep - 2; /* keep room for "]}" */
		rc = h->cb.record(h->cb.ctx, d, seq, h->msg + used + sep, room, &len);
		if (rc < 0)
			return rc;
		if (rc > 0 && n == 0) {
			log_error("%s: record %lld does not fit in one %d-byte message", d->id, seq,
				  LINK_MSG_MAX);
			return -1;
		}
		if (rc > 0)
			break;
		if (sep)
			h->msg[used] = ',';
		used += sep + len;
		n++;
		seq++;
	}
	h->msg[used++] = ']';
	h->msg[used++] = '}';
	*len_out = used;
	*count = n;
	return 0;
}

static void account_publish(struct link_hub *h, struct link_device *d, int n, double now)
{
	long long first = d->sent_upto + 1, last = d->sent_upto + n;
	long long again = (d->max_sent < last ? d->max_sent : last) - first + 1;

	if (again > 0)
		h->stats.resent_records += again;
	h->stats.published_msgs++;
	h->stats.published_records += n;
	if (h->stats.first_pub_at < 0)
		h->stats.first_pub_at = now;
	/* The stall clock starts when unacked data goes out after a quiet period. */
	if (d->sent_upto <= d->acked_seq)
		d->stall_since = now;
	d->sent_upto = last;
	if (last > d->max_sent)
		d->max_sent = last;
}

/* Publishes one message. Returns 1 when published, 0 when the link cannot take it now. */
static int publish_next(struct link *l, struct link_device *d, double now)
{
	struct link_hub *h = l->hub;
	char topic[TOPIC_MAX];
	size_t len;
	int n, rc;

	rc = build_message(h, d, &len, &n);
	if (rc < 0)
		return rc;
	snprintf(topic, sizeof(topic), "%s/dev/%s/up", h->prefix, d->id);
	rc = mosquitto_publish(l->mosq, NULL, topic, (int)len, h->msg, 1, false);
	if (rc != MOSQ_ERR_SUCCESS) {
		/* The records stay stored; the next epoch or stall resend brings them. */
		link_down(l, mosq_error(rc));
		return 0;
	}
	l->outstanding++;
	log_debug("%s: published %lld..%lld (%zu bytes)", d->id, d->sent_upto + 1, d->sent_upto + n,
		  len);
	account_publish(h, d, n, now);
	return 1;
}

/* Re-subscribing to one ack topic makes the broker send its retained ack again. */
static void ask_ack(struct link_device *d, double now)
{
	char topic[TOPIC_MAX];

	ack_topic(d->link->hub, d, topic);
	d->refresh_at = now;
	d->refresh_answered = false;
	if (mosquitto_subscribe(d->link->mosq, NULL, topic, 1) != MOSQ_ERR_SUCCESS)
		d->refresh_answered = true; /* cannot ask: go straight to the resend */
}

static void check_stall(struct link_device *d, double now)
{
	const struct link_hub *h = d->link->hub;

	if (d->sent_upto <= d->acked_seq || now - d->stall_since < h->cfg.resend_after)
		return;
	if (d->refresh_at == 0) {
		log_debug("%s: ack stuck at %lld, asking for the retained ack again", d->id,
			  d->acked_seq);
		ask_ack(d, now);
		return;
	}
	if (!d->refresh_answered && now - d->refresh_at < ACK_GRACE_S)
		return;
	log_info("%s: ack stuck at %lld for %.0f s with records up to %lld sent, resending", d->id,
		 d->acked_seq, now - d->stall_since, d->sent_upto);
	d->sent_upto = d->acked_seq;
	d->stall_since = now;
	d->refresh_at = 0;
}

int link_pump(struct link_device *d, double now, int budget)
{
	struct link *l = d->link;
	int sent = 0, rc;

	if (!link_ready(d, now))
		return 0;
	if (d->send_epoch != l->epoch) {
		d->send_epoch = l->epoch;
		d->sent_upto = d->acked_seq;
	}
	if (d->sent_upto < d->acked_seq)
		d->sent_upto = d->acked_seq;
	check_stall(d, now);
	while (sent < budget && d->sent_upto < d->last_seq && l->outstanding < l->hub->cfg.window &&
	       l->connected) {
		rc = publish_next(l, d, now);
		if (rc < 0)
			return rc;
		if (rc == 0)
			break;
		sent++;
	}
	return sent;
}
