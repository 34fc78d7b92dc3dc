/*
 * link: the simulator's MQTT side. A hub owns a few libmosquitto clients ("links"), drives them
 * all from one poll() loop, publishes uplink batches for the devices attached to them and
 * applies the delivery rules of protocol v1 (retained ack, resend above it).
 */
#ifndef COLDTRACE_SIM_LINK_H
#define COLDTRACE_SIM_LINK_H

#include <stdbool.h>
#include <stddef.h>

#define LINK_DEVICE_MAX 64  /* protocol: device ids are 1..64 of [A-Za-z0-9._-] */
#define LINK_BATCH_MAX 1000 /* protocol: at most 1000 records per uplink message */
#define LINK_MSG_MAX 262144 /* protocol: at most 256 KiB per uplink message */

struct link_hub;
struct link;

/*
 * Delivery state of one device. The owner embeds it (trip: one, flood: thousands), fills id
 * and raises last_seq when new records become available; the hub updates the rest.
 * Invariant: acked_seq only grows; records acked_seq+1..last_seq are what may still be sent.
 */
struct link_device {
	char id[LINK_DEVICE_MAX + 1];
	long long acked_seq; /* highest seq the ingest acknowledged (retained ack) */
	long long last_seq;  /* highest seq the owner has stored and made available */
	long long sent_upto; /* highest seq published on the current connection */
	long long max_sent;  /* highest seq ever published, to count resends */
	double stall_since;  /* when the ack last moved, or unacked sending began */
	unsigned send_epoch; /* connection epoch sent_upto belongs to */
	unsigned ack_epoch;  /* connection epoch in which a retained ack was seen */
	double refresh_at;   /* when the retained ack was asked for again on a stall, or 0 */
	bool refresh_answered;
	struct link *link; /* the connection carrying this device (not owned) */
};

struct link_callbacks {
	/* Write the JSON text of record `seq` of `dev` into buf (at most cap bytes, no NUL
	 * needed) and set *len. Return 0, 1 when it does not fit in cap, negative on error. */
	int (*record)(void *ctx, const struct link_device *dev, long long seq, char *buf,
		      size_t cap, size_t *len);
	/* Map the device id of an ack topic to its state; NULL when it is not ours. */
	struct link_device *(*find)(void *ctx, const char *id);
	/* Called after dev->acked_seq moved forward or a retained ack arrived; may be NULL. */
	void (*acked)(void *ctx, struct link_device *dev, bool retained);
	void *ctx;
};

struct link_hub_config {
	const char *host;
	int port;
	const char *prefix;  /* topic prefix, e.g. "coldtrace/v1" */
	int batch;	     /* records per uplink message, 1..LINK_BATCH_MAX */
	double resend_after; /* seconds without ack progress before resending */
	int window;	     /* published but not yet PUBACKed messages allowed per link */
};

struct link_stats {
	long long published_msgs;
	long long published_records;
	long long resent_records;
	size_t links;
	size_t links_up;
	double first_ack_at; /* link_now() of the first ack that moved, < 0 if none yet */
	double first_pub_at; /* link_now() of the first publish, < 0 if none yet */
};

/* Monotonic seconds: the clock every `now` passed to this module must come from. */
double link_now(void);

/* Copies cfg strings and cb. The hub owns every link added to it. */
int link_hub_new(struct link_hub **out, const struct link_hub_config *cfg,
		 const struct link_callbacks *cb);
/* Disconnects and frees every link, then the hub. NULL-safe. */
void link_hub_free(struct link_hub *h);

/*
 * Adds one MQTT client, logging in as username (password may be NULL). It subscribes to the
 * ack topic of every device attached to it. The first connection attempt is made at
 * connect_at (link_now() time); attach the devices before that.
 */
int link_add(struct link_hub *h, const char *client_id, const char *username, const char *password,
	     double connect_at, struct link **out);

/* Runs poll() over all links for at most timeout_ms and services what is ready, including
 * keepalives and reconnects. Returns 0, or negative when the broker refused us for good. */
int link_hub_poll(struct link_hub *h, int timeout_ms);

/* Sets up d (which must not move afterwards) with nothing sent yet and attaches it to l. */
int link_device_init(struct link_device *d, const char *id, struct link *l, long long acked,
		     long long last);

/* True when records of d may be published now: connected and the retained ack was read
 * (or did not come within the grace period after subscribing). */
bool link_ready(const struct link_device *d, double now);

/*
 * Publishes what d still has to send, at most `budget` messages: records above sent_upto
 * after a reconnect start again above acked_seq, and so do they when the ack has not moved
 * for resend_after seconds. Returns the number of messages published, negative on error.
 */
int link_pump(struct link_device *d, double now, int budget);

/* A dead zone: drop the connection and stay away until called again with false. */
void link_set_offline(struct link *l, bool offline);

void link_hub_stats(const struct link_hub *h, struct link_stats *out);

#endif
