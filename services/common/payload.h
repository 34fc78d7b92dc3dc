/*
 * payload: the device protocol v1 (see README "Device protocol") from raw uplink bytes to
 * records. It hides the JSON library: callers see spans, numbers and reason codes, never
 * tokens. Every rule of the protocol that can be checked without the database is checked
 * here; a failing record carries a machine-readable reason and a human detail, and its
 * siblings are unaffected.
 */
#ifndef COLDTRACE_PAYLOAD_H
#define COLDTRACE_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAYLOAD_MAX_BYTES (256 * 1024)
#define PAYLOAD_MAX_RECORDS 1000
#define PAYLOAD_MAX_DEPTH 64
#define DEVICE_ID_MAX 64

/* Probes: the four named ones, then p1…p16. */
enum probe { PROBE_SUPPLY, PROBE_RETURN, PROBE_PRODUCT, PROBE_AMBIENT, PROBE_P1, PROBE_COUNT = 20 };

enum record_kind { RECORD_READING = 1, RECORD_EVENT = 2 };

enum event_type {
	EVENT_NONE = 0,
	EVENT_DOOR_OPEN,
	EVENT_DOOR_CLOSE,
	EVENT_REEFER_ALARM,
	EVENT_POWER_LOSS,
	EVENT_POWER_RESTORED,
	EVENT_DEFROST_START,
	EVENT_DEFROST_END,
	EVENT_LOAD,
	EVENT_UNLOAD,
};

enum record_has {
	HAS_RH = 1 << 0,
	HAS_POS = 1 << 1,
	HAS_ALT = 1 << 2,
	HAS_SPEED = 1 << 3,
	HAS_HEADING = 1 << 4,
	HAS_SETPOINT = 1 << 5,
	HAS_DOOR = 1 << 6,
};

/* Bytes inside the message's own buffer; len 0 means absent. Not NUL-terminated. */
struct span {
	const char *ptr;
	size_t len;
};

struct lot {
	struct span gtin, lot, uom;
	double qty;
};

struct record {
	int64_t seq; /* 0 when missing or invalid */
	int64_t t_us; /* measurement time, µs since the Unix epoch, UTC */
	int kind;
	struct span shipment;
	uint32_t temp_mask; /* bit i set: temp[i] present */
	float temp[PROBE_COUNT];
	unsigned has;
	float rh, alt_m, speed_kmh, heading_deg, setpoint;
	double lat, lon;
	bool door_open;
	int event_type;
	struct span code, text, site;
	uint32_t lot_first, lot_count, sscc_first, sscc_count;
	struct span raw; /* this record's JSON text */
	const char *reason; /* NULL when the record is valid */
	char detail[112];
};

struct message {
	char *buf; /* owned copy of the payload; strings are unescaped in place */
	size_t len;
	char *orig; /* pristine copy, kept only when buf had escapes to unescape; else NULL */
	char device[DEVICE_ID_MAX + 1]; /* from the topic */
	int64_t received_us;
	const char *reason; /* whole-message failure, NULL when parsed */
	char detail[160];
	struct record *records;
	size_t n_records;
	struct lot *lots;
	size_t n_lots;
	struct span *sscc;
	size_t n_sscc;
};

struct payload_limits {
	int64_t max_age_us; /* older records are dead-lettered */
	int64_t max_future_us; /* records further ahead are dead-lettered */
};

struct payload_parser; /* reusable scratch (token arrays); one per thread */

int payload_parser_new(struct payload_parser **out);
void payload_parser_free(struct payload_parser *p);

/* Extracts {device} from "{prefix}/dev/{device}/up". Returns 0, or -1 if the topic is not an
 * uplink topic of this prefix or the device id breaks the protocol's character rules. */
int payload_topic_device(const char *prefix, const char *topic, char out[DEVICE_ID_MAX + 1]);
bool payload_device_id_ok(const char *id, size_t len);

/* Takes a copy of (data, len) into m (m->device and m->received_us set by the caller first),
 * parses and validates it against limits at time now_us. Returns 0 when the message was
 * understood (records may still carry reasons), -1 when the whole message is rejected
 * (m->reason set), -2 when out of memory. */
int payload_parse(struct payload_parser *p, struct message *m, const void *data, size_t len,
		  int64_t now_us, const struct payload_limits *limits);
/* The original bytes of a span of m (a record's raw JSON), even after unescaping. */
const char *payload_original(const struct message *m, struct span s);

/* Frees what payload_parse allocated; m itself belongs to the caller. NULL-safe. */
void payload_message_release(struct message *m);

/* Name of a probe index ("supply", "p3") and of an event type, for output. */
const char *payload_probe_name(int probe);
const char *payload_event_name(int type);

/* Writes the lots of record r as canonical JSON (fixed key order) into out.
 * Returns the length, or -1 when it does not fit. */
int payload_lots_json(const struct message *m, const struct record *r, char *out, size_t cap);

#endif
