/*
 * notify: sends excursion alerts out — QoS 1 on {prefix}/alerts/{shipment} through the broker
 * (libmosquitto) and, when webhook_url is set, as an HTTP POST (libcurl). It knows no SQL:
 * the monitor hands it (shipment, alert id, JSON) and is told which ones were delivered.
 */
#ifndef COLDTRACE_NOTIFY_H
#define COLDTRACE_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct notify;

/* Called once the broker has acknowledged alert `id` of `shipment` (PUBACK). */
typedef void (*notify_delivered_fn)(void *ctx, const char *shipment, int64_t id);

int notify_new(notify_delivered_fn on_delivered, void *ctx, struct notify **out);
void notify_free(struct notify *n);

/* Services the broker connection for at most timeout_ms (reconnecting when needed). */
void notify_run(struct notify *n, int timeout_ms);
bool notify_connected(const struct notify *n);

/* Hands one alert to the broker. 0 when queued, -1 when not connected or full. */
int notify_publish(struct notify *n, const char *shipment, int64_t id, const char *json);

/* POSTs one alert to webhook_url; 0 on a 2xx answer. */
int notify_webhook(struct notify *n, const char *json);

#endif
