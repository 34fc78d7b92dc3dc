/*
 * notify: alerts to MQTT and to a webhook.
 *
 * DESIGN. An alert is marked published only when the broker's PUBACK for it arrives, so an
 * alert in flight when the monitor or the broker dies is published again (at least once;
 * subscribers key on the alert id). A small table maps message ids to alerts until then.
 */
#include "notify.h"

#include <curl/curl.h>
#include <errno.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "ts.h"

#define INFLIGHT_MAX 512

struct inflight {
	int mid;
	int64_t id;
	char shipment[72];
};

struct notify {
	struct mosquitto *mosq;
	CURL *curl;
	notify_delivered_fn on_delivered;
	void *ctx;
	bool connected, ever;
	int64_t next_try_ms;
	struct inflight flight[INFLIGHT_MAX];
	int n_flight;
	char password[256];
};

static void on_connect(struct mosquitto *m, void *obj, int rc)
{
	struct notify *n = obj;

	(void)m;
	n->connected = rc == 0;
	if (rc)
		log_error("monitor: broker refused the connection: %s", mosquitto_connack_string(rc));
	else
		log_info("monitor: connected to the broker");
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc)
{
	struct notify *n = obj;

	(void)m;
	(void)rc;
	n->connected = false;
	n->n_flight = 0; /* unacknowledged alerts stay unpublished in the database */
}

static void on_publish(struct mosquitto *m, void *obj, int mid)
{
	struct notify *n = obj;

	(void)m;
	for (int i = 0; i < n->n_flight; i++) {
		if (n->flight[i].mid != mid)
			continue;
		n->on_delivered(n->ctx, n->flight[i].shipment, n->flight[i].id);
		n->flight[i] = n->flight[--n->n_flight];
		return;
	}
}

int notify_new(notify_delivered_fn on_delivered, void *ctx, struct notify **out)
{
	struct notify *n = calloc(1, sizeof(*n));
	/* The ingest's default client id would throw the ingest off the broker. */
	const char *id = strcmp(config.mqtt_client_id, "coldtrace-ingest") == 0 ? "coldtrace-monitor"
										   : config.mqtt_client_id;

	*out = NULL;
	if (!n)
		return -1;
	mosquitto_lib_init();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	n->on_delivered = on_delivered;
	n->ctx = ctx;
	n->mosq = mosquitto_new(id, true, n);
	if (!n->mosq || config_mqtt_password(n->password, sizeof(n->password)) < 0)
		goto fail;
	mosquitto_connect_callback_set(n->mosq, on_connect);
	mosquitto_disconnect_callback_set(n->mosq, on_disconnect);
	mosquitto_publish_callback_set(n->mosq, on_publish);
	if (config.mqtt_username[0])
		mosquitto_username_pw_set(n->mosq, config.mqtt_username, n->password[0] ? n->password : NULL);
	if (config.mqtt_cafile[0] &&
	    mosquitto_tls_set(n->mosq, config.mqtt_cafile, NULL,
			      config.mqtt_certfile[0] ? config.mqtt_certfile : NULL,
			      config.mqtt_keyfile[0] ? config.mqtt_keyfile : NULL, NULL) != MOSQ_ERR_SUCCESS)
		goto fail;
	*out = n;
	return 0;
fail:
	notify_free(n);
	return -1;
}

void notify_free(struct notify *n)
{
	if (!n)
		return;
	if (n->mosq) {
		if (n->connected)
			mosquitto_disconnect(n->mosq);
		mosquitto_destroy(n->mosq);
	}
	if (n->curl)
		curl_easy_cleanup(n->curl);
	free(n);
	curl_global_cleanup();
	mosquitto_lib_cleanup();
}

void notify_run(struct notify *n, int timeout_ms)
{
	int64_t now = ts_mono_ms();

	if (mosquitto_socket(n->mosq) < 0) {
		if (now < n->next_try_ms) {
			ts_sleep_ms(timeout_ms);
			return;
		}
		int rc = n->ever ? mosquitto_reconnect(n->mosq)
				 : mosquitto_connect(n->mosq, config.mqtt_host, (int)config.mqtt_port,
						     (int)config.mqtt_keepalive_s);
		n->ever = n->ever || rc == MOSQ_ERR_SUCCESS;
		if (rc != MOSQ_ERR_SUCCESS) {
			n->next_try_ms = now + 2000;
			ts_sleep_ms(timeout_ms);
			return;
		}
	}
	if (mosquitto_loop(n->mosq, timeout_ms, 1) != MOSQ_ERR_SUCCESS) {
		n->connected = false;
		n->n_flight = 0;
		mosquitto_disconnect(n->mosq);
		n->next_try_ms = now + 1000;
	}
}

bool notify_connected(const struct notify *n)
{
	return n->connected;
}

int notify_publish(struct notify *n, const char *shipment, int64_t id, const char *json)
{
	char topic[256];
	int mid;

	if (!n->connected || n->n_flight == INFLIGHT_MAX)
		return -1;
	for (int i = 0; i < n->n_flight; i++)
		if (n->flight[i].id == id && strcmp(n->flight[i].shipment, shipment) == 0)
			return 0; /* already on its way */
	snprintf(topic, sizeof(topic), "%s/alerts/%s", config.topic_prefix, shipment);
	if (mosquitto_publish(n->mosq, &mid, topic, (int)strlen(json), json, 1, false) !=
	    MOSQ_ERR_SUCCESS)
		return -1;
	n->flight[n->n_flight].mid = mid;
	n->flight[n->n_flight].id = id;
	snprintf(n->flight[n->n_flight].shipment, sizeof(n->flight[0].shipment), "%s", shipment);
	n->n_flight++;
	return 0;
}

int notify_webhook(struct notify *n, const char *json)
{
	struct curl_slist *headers = NULL;
	long status = 0;
	CURLcode rc;

	if (!n->curl && !(n->curl = curl_easy_init()))
		return -1;
	curl_easy_reset(n->curl);
	headers = curl_slist_append(headers, "Content-Type: application/json");
	curl_easy_setopt(n->curl, CURLOPT_URL, config.webhook_url);
	curl_easy_setopt(n->curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(n->curl, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(n->curl, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(n->curl, CURLOPT_NOSIGNAL, 1L);
	rc = curl_easy_perform(n->curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(n->curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(headers);
	if (rc != CURLE_OK || status < 200 || status > 299) {
		log_warn("monitor: webhook %s: %s", config.webhook_url,
			 rc != CURLE_OK ? curl_easy_strerror(rc) : "non-2xx answer");
		return -1;
	}
	return 0;
}
