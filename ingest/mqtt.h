/*
 * mqtt: the ingest's libmosquitto connection — a persistent QoS 1 session subscribed to every
 * device's uplink topic, and retained QoS 1 acks going back. It knows nothing of SQL.
 */
#ifndef COLDTRACE_MQTT_H
#define COLDTRACE_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mqtt;

/* Called for every uplink message; payload is only valid during the call. */
typedef int (*mqtt_message_fn)(void *ctx, const char *topic, const void *payload, size_t len);

/* Connects with the broker settings of config (host, port, credentials, TLS, client id);
 * a broker that is down is retried by mqtt_run. */
int mqtt_new(mqtt_message_fn on_message, void *ctx, struct mqtt **out);
void mqtt_free(struct mqtt *mq);

/* Services the connection for at most timeout_ms: reads (when read is true), writes,
 * keepalives and reconnects with backoff. */
void mqtt_run(struct mqtt *mq, int timeout_ms, bool read);

bool mqtt_ready(const struct mqtt *mq);

/* Publishes {"v":1,"device":…,"acked_seq":N} retained, QoS 1, on {prefix}/dev/{device}/ack.
 * Returns 0 when handed to libmosquitto, -1 when not connected (caller retries later). */
int mqtt_publish_ack(struct mqtt *mq, const char *device, int64_t acked_seq);

/* Acks handed to libmosquitto and not yet acknowledged by the broker. The ingest hands over
 * no more than MQTT_ACKS_IN_FLIGHT at a time: libmosquitto queues without bound, and in
 * 2.0 reads as many incoming packets per call as it has outgoing ones queued. */
#define MQTT_ACKS_IN_FLIGHT 1000
int mqtt_acks_in_flight(const struct mqtt *mq);

/* Flushes outgoing messages (acks) before a clean shutdown, up to timeout_ms. */
void mqtt_finish(struct mqtt *mq, int timeout_ms);

#endif
