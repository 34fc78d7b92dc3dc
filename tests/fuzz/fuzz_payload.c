/*
 * fuzz_payload: libFuzzer target for the device protocol parser (services/common/payload.c),
 * the first code to touch bytes from the network. One input is one uplink payload of device
 * gz-reefer-0042, parsed exactly as the ingest parses it (same limits, a fixed "now" so runs
 * are reproducible); the first line of the input is also tried as a topic.
 *
 * Beyond "no crash, no sanitizer report" it checks what callers rely on: a rejected message
 * has a reason and no records; an accepted one has at most PAYLOAD_MAX_RECORDS records, each
 * raw span and string span inside the message buffer, lot and SSCC indexes inside their
 * arrays, valid records with a seq >= 1 and a time inside the window; lots serialise.
 * A broken invariant aborts, which libFuzzer reports like a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "payload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 2026-11-22T12:00:00Z: the seeds' times are near it. */
#define FUZZ_NOW_US (INT64_C(1795348800) * 1000000)
#define DAY_US (INT64_C(86400) * 1000000)

static const struct payload_limits limits = {30 * DAY_US, 300 * INT64_C(1000000)};

#define CHECK(cond)                                                                          \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			fprintf(stderr, "fuzz_payload: invariant broken: %s (%s:%d)\n", #cond,  \
				__FILE__, __LINE__);                                         \
			abort();                                                             \
		}                                                                            \
	} while (0)

static void check_span(const struct message *m, struct span s)
{
	if (!s.len)
		return;
	CHECK(s.ptr);
	CHECK(s.ptr >= m->buf && s.ptr + s.len <= m->buf + m->len);
}

static void check_message(const struct message *m)
{
	size_t i;
	char lots[4096];

	CHECK(m->n_records <= PAYLOAD_MAX_RECORDS);
	for (i = 0; i < m->n_records; i++) {
		const struct record *r = &m->records[i];

		check_span(m, r->raw);
		check_span(m, r->shipment);
		check_span(m, r->code);
		check_span(m, r->text);
		check_span(m, r->site);
		CHECK((size_t)r->lot_first + r->lot_count <= m->n_lots);
		CHECK((size_t)r->sscc_first + r->sscc_count <= m->n_sscc);
		if (r->raw.len) {
			const char *orig = payload_original(m, r->raw);

			CHECK(orig);
			/* Touch every byte: ASan sees an out-of-bounds original at once. */
			volatile char sink = 0;
			for (size_t k = 0; k < r->raw.len; k++)
				sink ^= orig[k];
			(void)sink;
		}
		if (!r->reason) {
			CHECK(r->seq >= 1);
			CHECK(r->kind == RECORD_READING || r->kind == RECORD_EVENT);
			CHECK(r->t_us <= FUZZ_NOW_US + limits.max_future_us);
			CHECK(r->t_us >= FUZZ_NOW_US - limits.max_age_us);
			(void)payload_lots_json(m, r, lots, sizeof(lots));
			(void)payload_event_name(r->event_type);
		}
		CHECK(strnlen(r->detail, sizeof(r->detail)) < sizeof(r->detail));
	}
	for (i = 0; i < m->n_lots; i++) {
		check_span(m, m->lots[i].gtin);
		check_span(m, m->lots[i].lot);
		check_span(m, m->lots[i].uom);
	}
	for (i = 0; i < m->n_sscc; i++)
		check_span(m, m->sscc[i]);
}

static void fuzz_topic(const uint8_t *data, size_t size)
{
	char topic[256], device[DEVICE_ID_MAX + 1];
	const uint8_t *nl = memchr(data, '\n', size);
	size_t n = nl ? (size_t)(nl - data) : size;

	if (n >= sizeof(topic))
		n = sizeof(topic) - 1;
	memcpy(topic, data, n);
	topic[n] = '\0';
	if (payload_topic_device("coldtrace/v1", topic, device) == 0) {
		CHECK(strlen(device) <= DEVICE_ID_MAX);
		CHECK(payload_device_id_ok(device, strlen(device)));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct payload_parser *parser;
	struct message m;
	int rc;

	if (size > PAYLOAD_MAX_BYTES + 1024)
		return 0; /* the ingest refuses these before parsing (payload_too_large) */
	if (!parser && payload_parser_new(&parser) != 0)
		abort();
	fuzz_topic(data, size);

	memset(&m, 0, sizeof(m));
	snprintf(m.device, sizeof(m.device), "%s", "gz-reefer-0042");
	m.received_us = FUZZ_NOW_US;
	rc = payload_parse(parser, &m, data, size, FUZZ_NOW_US, &limits);
	if (rc == -2)
		abort(); /* out of memory on a bounded input is a bug too */
	if (rc == -1) {
		CHECK(m.reason);
	} else {
		CHECK(rc == 0);
		CHECK(!m.reason);
		CHECK(m.buf && m.len == size);
		check_message(&m);
	}
	payload_message_release(&m);
	return 0;
}
