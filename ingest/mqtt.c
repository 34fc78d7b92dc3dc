/*
 * mqtt: libmosquitto for the ingest.
 *
 * DESIGN. clean_session is false and the client id fixed, so the broker queues uplinks while
 * the ingest is away and redelivers what it had not acknowledged at MQTT level. libmosquitto
 * PUBACKs an uplink as soon as on_message returns, before our batch commits; the protocol's
 * own retained ack, published only after commit, is what devices trust, and they resend
 * whatever it does not cover. Reconnects back off from 0.5 s to 10 s. Outgoing acks are
 * counted from publish to PUBACK so a clean shutdown can wait for them.
 */
#include "mqtt.h"

#include <errno.h>
#include <mosquitto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "ts.h"

#define RECONNECT_MIN_MS 500
#define RECONNECT_MAX_MS 10000

struct mqtt {
	struct mosquitto *mosq;
	mqtt_message_fn on_message;
	void *ctx;
	bool connected, subscribed, ever_connected;
	int64_t next_try_ms, backoff_ms;
	int unacked_publishes;
	char password[256];
};

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
	struct mqtt *mq = obj;
	char topic[512];

	if (rc != 0) {
		log_error("mqtt: broker refused the connection: %s", mosquitto_connack_string(rc));
		return;
	}
	mq->connected = true;
	mq->backoff_ms = RECONNECT_MIN_MS;
	if (config.mqtt_share_group[0])
		snprintf(topic, sizeof(topic), "$share/%s/%s/dev/+/up", config.mqtt_share_group,
			 config.topic_prefix);
	else
		snprintf(topic, sizeof(topic), "%s/dev/+/up", config.topic_prefix);
	rc = mosquitto_subscribe(mosq, NULL, topic, 1);
	if (rc != MOSQ_ERR_SUCCESS)
		log_error("mqtt: subscribe to %s failed: %s", topic, mosquitto_strerror(rc));
	else
		log_info("mqtt: connected to %s:%ld, subscribing to %s", config.mqtt_host,
			 config.mqtt_port, topic);
}

static void on_subscribe(struct mosquitto *mosq, void *obj, int mid, int n, const int *granted)
{
	struct mqtt *mq = obj;

	(void)mosq;
	(void)mid;
	if (n < 1 || granted[0] > 1) {
		log_error("mqtt: subscription refused by the broker (check the ACL)");
		return;
	}
	mq->subscribed = true;
	log_info("ingest: ready");
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
	struct mqtt *mq = obj;

	(void)mosq;
	if (mq->connected)
		log_warn("mqtt: disconnected (%s)", rc ? mosquitto_strerror(rc) : "requested");
	mq->connected = false;
	mq->subscribed = false;
	mq->unacked_publishes = 0;
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
	struct mqtt *mq = obj;

	(void)mosq;
	(void)mid;
	if (mq->unacked_publishes > 0)
		mq->unacked_publishes--;
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
	struct mqtt *mq = obj;

	(void)mosq;
	if (mq->on_message(mq->ctx, msg->topic, msg->payload, (size_t)msg->payloadlen) < 0)
		log_error("mqtt: message on %s could not be taken (out of memory); the device "
			  "resends it",
			  msg->topic);
}

static void on_log(struct mosquitto *mosq, void *obj, int level, const char *text)
{
	(void)mosq;
	(void)obj;
	if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING))
		log_warn("mosquitto: %s", text);
	else
		log_debug("mosquitto: %s", text);
}

static int configure(struct mqtt *mq)
{
	int rc;

	mosquitto_connect_callback_set(mq->mosq, on_connect);
	mosquitto_subscribe_callback_set(mq->mosq, on_subscribe);
	mosquitto_disconnect_callback_set(mq->mosq, on_disconnect);
	mosquitto_publish_callback_set(mq->mosq, on_publish);
	mosquitto_message_callback_set(mq->mosq, on_message);
	/* libmosquitto formats a log line for every packet it sends or receives whenever a log
	 * callback is set (4 per uplink with its PUBACK and ack: 4 % of the ingest's
	 * instructions in callgrind), so the callback is set only when its lines are kept. Its
	 * failures reach us as return codes anyway. */
	if (log_current_level >= LOG_DEBUG)
		mosquitto_log_callback_set(mq->mosq, on_log);
	mosquitto_int_option(mq->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_int_option(mq->mosq, MOSQ_OPT_SEND_MAXIMUM, MQTT_ACKS_IN_FLIGHT);
	if (config.mqtt_username[0] &&
	    mosquitto_username_pw_set(mq->mosq, config.mqtt_username,
				      mq->password[0] ? mq->password : NULL) != MOSQ_ERR_SUCCESS)
		return -1;
	if (config.mqtt_cafile[0]) {
		rc = mosquitto_tls_set(mq->mosq, config.mqtt_cafile, NULL,
				       config.mqtt_certfile[0] ? config.mqtt_certfile : NULL,
				       config.mqtt_keyfile[0] ? config.mqtt_keyfile : NULL, NULL);
		if (rc != MOSQ_ERR_SUCCESS) {
			log_error("mqtt: TLS setup failed: %s", mosquitto_strerror(rc));
			return -1;
		}
	}
	return 0;
}

int mqtt_new(mqtt_message_fn on_msg, void *ctx, struct mqtt **out)
{
	struct mqtt *mq = calloc(1, sizeof(*mq));

	*out = NULL;
	if (!mq)
		return -1;
	mosquitto_lib_init();
	mq->on_message = on_msg;
	mq->ctx = ctx;
	mq->backoff_ms = RECONNECT_MIN_MS;
	/* A single ingest keeps a persistent session so the broker queues for it while it is
	 * away. A worker of a shared group must not: the broker goes on handing an offline
	 * member's session its share of the group's messages, which would then wait for that
	 * worker instead of going to the live ones. Its subscription dies with it, and the
	 * devices' own stores cover what it had taken but not committed. */
	mq->mosq = mosquitto_new(config.mqtt_client_id, config.mqtt_share_group[0] != '\0', mq);
	if (!mq->mosq || config_mqtt_password(mq->password, sizeof(mq->password)) < 0 || configure(mq) < 0) {
		mqtt_free(mq);
		return -1;
	}
	*out = mq;
	return 0;
}

void mqtt_free(struct mqtt *mq)
{
	if (!mq)
		return;
	if (mq->mosq)
		mosquitto_destroy(mq->mosq);
	free(mq);
	mosquitto_lib_cleanup();
}

static void try_connect(struct mqtt *mq, int64_t now)
{
	int rc;

	if (now < mq->next_try_ms)
		return;
	rc = mq->ever_connected ? mosquitto_reconnect(mq->mosq)
				: mosquitto_connect(mq->mosq, config.mqtt_host, (int)config.mqtt_port,
						    (int)config.mqtt_keepalive_s);
	if (rc == MOSQ_ERR_SUCCESS) {
		mq->ever_connected = true;
		return;
	}
	log_warn("mqtt: cannot connect to %s:%ld: %s; retrying in %lld ms", config.mqtt_host,
		 config.mqtt_port, rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc),
		 (long long)mq->backoff_ms);
	mq->next_try_ms = now + mq->backoff_ms;
	mq->backoff_ms = mq->backoff_ms * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : mq->backoff_ms * 2;
}

void mqtt_run(struct mqtt *mq, int timeout_ms, bool read)
{
	int64_t now = ts_mono_ms();
	int rc;

	if (!mq->connected && mosquitto_socket(mq->mosq) < 0) {
		try_connect(mq, now);
		if (mosquitto_socket(mq->mosq) < 0) {
			ts_sleep_ms(timeout_ms);
			return;
		}
	}
	if (!read) {
		/* Backpressure: leave uplinks in the broker; keep our own writes moving. */
		mosquitto_loop_write(mq->mosq, 1);
		mosquitto_loop_misc(mq->mosq);
		ts_sleep_ms(timeout_ms);
		return;
	}
	rc = mosquitto_loop(mq->mosq, timeout_ms, 1);
	if (rc != MOSQ_ERR_SUCCESS) {
		if (mq->connected)
			log_warn("mqtt: connection lost: %s", mosquitto_strerror(rc));
		mq->connected = false;
		mq->subscribed = false;
		mq->next_try_ms = now + mq->backoff_ms;
		mosquitto_disconnect(mq->mosq);
	}
}

int mqtt_acks_in_flight(const struct mqtt *mq)
{
	return mq->unacked_publishes;
}

bool mqtt_ready(const struct mqtt *mq)
{
	return mq->connected && mq->subscribed;
}

int mqtt_publish_ack(struct mqtt *mq, const char *device, int64_t acked_seq)
{
	char topic[512], body[160];
	int n, rc;

	if (!mq->connected)
		return -1;
	snprintf(topic, sizeof(topic), "%s/dev/%s/ack", config.topic_prefix, device);
	n = snprintf(body, sizeof(body), "{\"v\":1,\"device\":\"%s\",\"acked_seq\":%lld}", device,
		     (long long)acked_seq);
	rc = mosquitto_publish(mq->mosq, NULL, topic, n, body, 1, true);
	if (rc != MOSQ_ERR_SUCCESS) {
		log_warn("mqtt: ack for %s not published: %s", device, mosquitto_strerror(rc));
		return -1;
	}
	mq->unacked_publishes++;
	return 0;
}

void mqtt_finish(struct mqtt *mq, int timeout_ms)
{
	int64_t deadline = ts_mono_ms() + timeout_ms;

	while (mq->connected && mq->unacked_publishes > 0 && ts_mono_ms() < deadline)
		mosquitto_loop(mq->mosq, 50, 1);
	if (mq->connected)
		mosquitto_disconnect(mq->mosq);
}
