/*
 * store: parsed messages → one PostgreSQL transaction.
 *
 * DESIGN. A batch is sent as one binary COPY into the connection's temporary table ct_stage,
 * then sql/ingest.sql's ct_ingest_apply() sorts it out inside the database: new records go to
 * readings/events and the ledger, same-content resends are ignored, conflicting resends and
 * records of unregistered devices come back by stage number and are dead-lettered here with
 * their original JSON in a second, small COPY. Binary COPY spares both sides from formatting
 * and parsing floats, which would otherwise cost more than the JSON parse itself.
 * The content digest is SipHash-2-4 (libsodium crypto_shorthash) over the binary encoding of
 * the record's stored fields, so two resends that differ only in whitespace, key order or
 * time-zone notation are the same record, and any change of a stored value is a conflict.
 * Acks: the batch's devices are locked first (ct_lock_devices) and ct_advance_acks() runs
 * last, so the watermark is computed over everything committed for those devices.
 */
#include "store.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "ts.h"

#define STAGE_FIELDS 31
#define OID_FLOAT4 700
#define OID_TEXT 25
#define KIND_DEAD_RECORD 3
#define KIND_DEAD_MESSAGE 4
#define NO_RECORD UINT32_MAX

static const char *const sql_create_stage =
	"CREATE TEMP TABLE IF NOT EXISTS ct_stage "
	"(LIKE coldtrace.stage_template INCLUDING DEFAULTS) ON COMMIT DELETE ROWS";
static const char *const sql_copy_stage =
	"COPY ct_stage (device_id, seq, kind, measured_at, shipment_id, t_supply, t_return, "
	"t_product, t_ambient, t_probes, rh, lat, lon, alt_m, speed_kmh, heading_deg, setpoint, "
	"door_open, event_type, alarm_code, alarm_text, site_gln, lots, sscc, digest, received_at, "
	"stage_no, reason, detail, topic, raw) FROM STDIN (FORMAT binary)";
static const char *const sql_lock =
	"SELECT device_id, acked_seq, gap_open FROM coldtrace.ct_lock_acks($1::text[])";
static const char *const sql_apply = "SELECT stage_no, outcome FROM coldtrace.ct_ingest_apply()";
static const char *const sql_finish_acks =
	"SELECT device_id, acked_seq FROM coldtrace.ct_finish_acks($1::text[], $2::bigint[], "
	"$3::text[])";
static const char *const sql_partitions = "SELECT coldtrace.ct_ensure_partitions(1, 12)";
static const char *const sql_retention =
	"SELECT count(*) FROM coldtrace.ct_apply_retention(make_interval(days => $1))";
static const char *const sql_close_gaps =
	"SELECT device_id, acked_seq FROM coldtrace.ct_close_gaps(make_interval(secs => $1))";

/* Where a stage row came from, so the database can hand rows back by number. */
struct slot {
	uint32_t msg, rec;
	int64_t digest;
	bool unknown_device;
};

struct buf {
	char *p;
	size_t len, cap;
	int oom;
};

struct store {
	struct db *db;
	char *prefix;
	struct buf copy;
	struct buf scratch;
	struct slot *slots;
	size_t n_slots, cap_slots;
	size_t last_copy;
	char error[256]; /* the database's message for the last failed write */
};

static const unsigned char digest_key[crypto_shorthash_KEYBYTES] = "coldtrace-digest";

/* ---- binary COPY encoding ----------------------------------------------------------- */

/* Host order → network order (COPY binary is big-endian). */
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define BE16(v) (v)
#define BE32(v) (v)
#define BE64(v) (v)
#else
#define BE16(v) __builtin_bswap16(v)
#define BE32(v) __builtin_bswap32(v)
#define BE64(v) __builtin_bswap64(v)
#endif

/* Growth, out of line: the encoders below stay small enough to inline, and a record costs a
 * compare per field rather than a call and a memcpy call (callgrind: 51 put() calls and 2.2k
 * instructions per reading before). */
static __attribute__((noinline)) void buf_grow(struct buf *b, size_t more)
{
	size_t n = b->cap ? b->cap : 65536;

	if (b->oom)
		return;
	while (n < b->len + more)
		n *= 2;
	char *p = realloc(b->p, n);
	if (!p) {
		b->oom = 1;
		return;
	}
	b->p = p;
	b->cap = n;
}

static inline void buf_reserve(struct buf *b, size_t more)
{
	if (__builtin_expect(b->len + more > b->cap, 0))
		buf_grow(b, more);
}

/* True when n more bytes fit (after growing if needed); false only when out of memory. */
static inline bool room(struct buf *b, size_t n)
{
	buf_reserve(b, n);
	return !b->oom;
}

static inline void put(struct buf *b, const void *src, size_t n)
{
	if (!room(b, n))
		return;
	memcpy(b->p + b->len, src, n);
	b->len += n;
}

static inline void put_u16(struct buf *b, uint16_t v)
{
	if (!room(b, 2))
		return;
	v = BE16(v);
	memcpy(b->p + b->len, &v, 2);
	b->len += 2;
}

static inline void put_u32(struct buf *b, uint32_t v)
{
	if (!room(b, 4))
		return;
	v = BE32(v);
	memcpy(b->p + b->len, &v, 4);
	b->len += 4;
}

static inline void put_u64(struct buf *b, uint64_t v)
{
	if (!room(b, 8))
		return;
	v = BE64(v);
	memcpy(b->p + b->len, &v, 8);
	b->len += 8;
}

static void f_null(struct buf *b)
{
	put_u32(b, UINT32_MAX); /* length -1 */
}

static void f_bytes(struct buf *b, const void *p, size_t n)
{
	put_u32(b, (uint32_t)n);
	put(b, p, n);
}

static void f_text(struct buf *b, const char *s)
{
	f_bytes(b, s, strlen(s));
}

static void f_span(struct buf *b, struct span s)
{
	if (s.len)
		f_bytes(b, s.ptr, s.len);
	else
		f_null(b);
}

static void f_i16(struct buf *b, int16_t v)
{
	put_u32(b, 2);
	put_u16(b, (uint16_t)v);
}

static void f_i32(struct buf *b, int32_t v)
{
	put_u32(b, 4);
	put_u32(b, (uint32_t)v);
}

static void f_i64(struct buf *b, int64_t v)
{
	put_u32(b, 8);
	put_u64(b, (uint64_t)v);
}

static void f_time(struct buf *b, int64_t unix_us)
{
	f_i64(b, unix_us - TS_PG_EPOCH_US);
}

static void f_f32(struct buf *b, float v)
{
	uint32_t bits;
	memcpy(&bits, &v, 4);
	put_u32(b, 4);
	put_u32(b, bits);
}

static void f_f64(struct buf *b, double v)
{
	uint64_t bits;
	memcpy(&bits, &v, 8);
	put_u32(b, 8);
	put_u64(b, bits);
}

static void f_bool(struct buf *b, bool v)
{
	unsigned char x = v ? 1 : 0;
	put_u32(b, 1);
	put(b, &x, 1);
}

static void f_f32_if(struct buf *b, bool present, float v)
{
	if (present)
		f_f32(b, v);
	else
		f_null(b);
}

/* Array header of PostgreSQL's binary array format, after the field length. */
static void array_head(struct buf *b, uint32_t hasnull, uint32_t oid, uint32_t n)
{
	put_u32(b, 1);
	put_u32(b, hasnull);
	put_u32(b, oid);
	put_u32(b, n);
	put_u32(b, 1);
}

static void f_probes(struct buf *b, const struct record *r)
{
	uint32_t extra = r->temp_mask >> PROBE_P1;

	if (!extra) {
		f_null(b);
		return;
	}
	uint32_t n = PROBE_COUNT - PROBE_P1, present = (uint32_t)__builtin_popcount(extra);
	put_u32(b, 20 + present * 8 + (n - present) * 4);
	array_head(b, present < n, OID_FLOAT4, n);
	for (int p = PROBE_P1; p < PROBE_COUNT; p++) {
		if (r->temp_mask & (1u << p)) {
			uint32_t bits;
			memcpy(&bits, &r->temp[p], 4);
			put_u32(b, 4);
			put_u32(b, bits);
		} else {
			put_u32(b, UINT32_MAX);
		}
	}
}

static void f_sscc(struct buf *b, const struct message *m, const struct record *r)
{
	size_t total = 20;

	if (!r->sscc_count) {
		f_null(b);
		return;
	}
	for (uint32_t i = 0; i < r->sscc_count; i++)
		total += 4 + m->sscc[r->sscc_first + i].len;
	put_u32(b, (uint32_t)total);
	array_head(b, 0, OID_TEXT, r->sscc_count);
	for (uint32_t i = 0; i < r->sscc_count; i++)
		f_span(b, m->sscc[r->sscc_first + i]);
}

static void f_lots(struct buf *b, struct buf *scratch, const struct message *m,
		   const struct record *r)
{
	size_t cap = 16;
	int n;

	/* Worst case: every byte escaped as \u00XX, plus keys and the quantity. */
	for (uint32_t i = 0; i < r->lot_count; i++) {
		const struct lot *l = &m->lots[r->lot_first + i];
		cap += 96 + 6 * (l->gtin.len + l->lot.len + l->uom.len);
	}

	if (!r->lot_count) {
		f_null(b);
		return;
	}
	scratch->len = 0;
	buf_reserve(scratch, cap + 1);
	if (scratch->oom)
		return;
	scratch->p[0] = 1; /* jsonb binary format version */
	n = payload_lots_json(m, r, scratch->p + 1, cap);
	if (n < 0) {
		b->oom = 1;
		return;
	}
	f_bytes(b, scratch->p, (size_t)n + 1);
}

static const char *event_name_or_null(const struct record *r)
{
	return r->kind == RECORD_EVENT ? payload_event_name(r->event_type) : NULL;
}

/* The stored fields of a valid record (stage fields 1–24). */
static void encode_content(struct store *s, const struct message *m, const struct record *r)
{
	struct buf *b = &s->copy;
	const char *ev = event_name_or_null(r);

	f_text(b, m->device);
	f_i64(b, r->seq);
	f_i16(b, (int16_t)r->kind);
	f_time(b, r->t_us);
	f_span(b, r->shipment);
	for (int p = PROBE_SUPPLY; p <= PROBE_AMBIENT; p++)
		f_f32_if(b, r->temp_mask & (1u << p), r->temp[p]);
	f_probes(b, r);
	f_f32_if(b, r->has & HAS_RH, r->rh);
	if (r->has & HAS_POS) {
		f_f64(b, r->lat);
		f_f64(b, r->lon);
	} else {
		f_null(b);
		f_null(b);
	}
	f_f32_if(b, r->has & HAS_ALT, r->alt_m);
	f_f32_if(b, r->has & HAS_SPEED, r->speed_kmh);
	f_f32_if(b, r->has & HAS_HEADING, r->heading_deg);
	f_f32_if(b, r->has & HAS_SETPOINT, r->setpoint);
	if (r->has & HAS_DOOR)
		f_bool(b, r->door_open);
	else
		f_null(b);
	if (ev)
		f_text(b, ev);
	else
		f_null(b);
	f_span(b, r->code);
	f_span(b, r->text);
	f_span(b, r->site);
	f_lots(b, &s->scratch, m, r);
	f_sscc(b, m, r);
}

static int64_t digest_of(const void *p, size_t n)
{
	unsigned char h[crypto_shorthash_BYTES];
	int64_t v;

	crypto_shorthash(h, p, n, digest_key);
	memcpy(&v, h, sizeof(v));
	return v;
}

static int add_slot(struct store *s, uint32_t msg, uint32_t rec, int64_t digest)
{
	if (s->n_slots == s->cap_slots) {
		size_t n = s->cap_slots ? s->cap_slots * 2 : 1024;
		struct slot *p = realloc(s->slots, n * sizeof(*p));
		if (!p)
			return -1;
		s->slots = p;
		s->cap_slots = n;
	}
	s->slots[s->n_slots].msg = msg;
	s->slots[s->n_slots].rec = rec;
	s->slots[s->n_slots].digest = digest;
	s->slots[s->n_slots].unknown_device = false;
	s->n_slots++;
	return 0;
}

static void encode_tail(struct store *s, int64_t digest, int64_t received_us)
{
	struct buf *b = &s->copy;

	f_i64(b, digest);
	f_time(b, received_us);
	f_i32(b, (int32_t)(s->n_slots - 1));
}

static int stage_record(struct store *s, uint32_t mi, uint32_t ri, const struct message *m)
{
	const struct record *r = &m->records[ri];
	struct buf *b = &s->copy;
	size_t start;
	int64_t digest;

	put_u16(b, STAGE_FIELDS);
	start = b->len;
	encode_content(s, m, r);
	if (b->oom)
		return -1;
	digest = digest_of(b->p + start, b->len - start);
	if (add_slot(s, mi, ri, digest) < 0)
		return -1;
	encode_tail(s, digest, m->received_us);
	for (int i = 0; i < 4; i++)
		f_null(b); /* reason, detail, topic, raw */
	return b->oom ? -1 : 0;
}

/* A dead-letter row: a whole message (ri == NO_RECORD) or one record with its own JSON. */
static int stage_dead(struct store *s, uint32_t mi, uint32_t ri, const struct message *m,
		      const char *reason, const char *detail, int64_t digest)
{
	const struct record *r = ri == NO_RECORD ? NULL : &m->records[ri];
	struct buf *b = &s->copy;
	const char *raw = r ? payload_original(m, r->raw) : m->buf;
	size_t raw_len = r ? r->raw.len : m->len;
	char topic[256];

	if (ri == NO_RECORD && m->orig)
		raw = m->orig;
	if (digest == 0)
		digest = digest_of(raw, raw_len);
	snprintf(topic, sizeof(topic), "%s/dev/%s/up", s->prefix, m->device);
	put_u16(b, STAGE_FIELDS);
	f_text(b, m->device);
	if (r && r->seq > 0)
		f_i64(b, r->seq);
	else
		f_null(b);
	f_i16(b, r ? KIND_DEAD_RECORD : KIND_DEAD_MESSAGE);
	if (r && r->t_us)
		f_time(b, r->t_us);
	else
		f_null(b);
	for (int i = 5; i <= 24; i++)
		f_null(b);
	if (add_slot(s, mi, ri, digest) < 0)
		return -1;
	encode_tail(s, digest, m->received_us);
	f_text(b, reason);
	f_text(b, detail);
	f_text(b, topic);
	f_bytes(b, raw, raw_len);
	return b->oom ? -1 : 0;
}

static void copy_reset(struct store *s)
{
	static const char header[] = "PGCOPY\n\377\r\n";

	s->copy.len = 0;
	s->copy.oom = 0;
	s->n_slots = 0;
	put(&s->copy, header, sizeof(header)); /* includes the trailing NUL */
	put_u32(&s->copy, 0); /* flags */
	put_u32(&s->copy, 0); /* header extension length */
}

static int stage_messages(struct store *s, const struct message *msgs, size_t n)
{
	copy_reset(s);
	for (uint32_t mi = 0; mi < n; mi++) {
		const struct message *m = &msgs[mi];
		if (m->reason) {
			if (stage_dead(s, mi, NO_RECORD, m, m->reason, m->detail, 0) < 0)
				return -1;
			continue;
		}
		for (uint32_t ri = 0; ri < m->n_records; ri++) {
			const struct record *r = &m->records[ri];
			int rc = r->reason ? stage_dead(s, mi, ri, m, r->reason, r->detail, 0)
					   : stage_record(s, mi, ri, m);
			if (rc < 0)
				return -1;
		}
	}
	return 0;
}

static int copy_send(struct store *s)
{
	put_u16(&s->copy, UINT16_MAX); /* trailer: -1 */
	if (s->copy.oom)
		return -1;
	s->last_copy = s->copy.len;
	if (db_copy_begin(s->db, sql_copy_stage) < 0)
		return -1;
	if (db_copy_put(s->db, s->copy.p, s->copy.len) < 0) {
		db_copy_end(s->db);
		return -1;
	}
	return db_copy_end(s->db);
}

/* ---- transaction ---------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "{dev1,dev2}" of the batch's devices, sorted and unique (ids need no quoting). */
static char *device_array(const struct message *msgs, size_t n)
{
	const char **ids = malloc((n ? n : 1) * sizeof(*ids));
	char *out = NULL;
	size_t k = 0, at = 0;

	if (!ids)
		return NULL;
	/* A message that names another device, or came on a malformed topic, moves no ack. */
	for (size_t i = 0; i < n; i++)
		if (!msgs[i].reason || (strcmp(msgs[i].reason, "device_mismatch") != 0 &&
					strcmp(msgs[i].reason, "bad_topic") != 0))
			ids[k++] = msgs[i].device;
	qsort(ids, k, sizeof(*ids), cmp_str);
	out = malloc(k * (DEVICE_ID_MAX + 1) + 3);
	if (!out)
		goto out;
	out[at++] = '{';
	for (size_t i = 0; i < k; i++) {
		if (i && strcmp(ids[i], ids[i - 1]) == 0)
			continue;
		size_t len = strlen(ids[i]);
		if (at > 1)
			out[at++] = ',';
		memcpy(out + at, ids[i], len);
		at += len;
	}
	out[at++] = '}';
	out[at] = '\0';
out:
	free(ids);
	return out;
}

/* Reads ct_ingest_apply's rows; stages dead letters for the rows handed back. */
static int apply_outcomes(struct store *s, const struct message *msgs, struct db_res *r,
			  struct store_result *res, struct slot **back, size_t *n_back)
{
	long dup_in_batch = 0, not_fresh = 0, conflicts_db = 0;

	*back = malloc(((size_t)db_res_rows(r) + 1) * sizeof(**back));
	*n_back = 0;
	if (!*back)
		return -1;
	for (int i = 0; i < db_res_rows(r); i++) {
		long v = (long)db_res_int(r, i, 0, 0);
		const char *what = db_res_get(r, i, 1);

		if (strncmp(what, "conflict", 8) == 0 || strcmp(what, "unknown_device") == 0) {
			struct slot sl = s->slots[v];
			if (what[0] == 'c') {
				res->conflicts++;
				conflicts_db += strcmp(what, "conflict") == 0;
				log_warn("store: device %s seq %lld: conflicting duplicate, dead-lettered",
					 msgs[sl.msg].device, (long long)msgs[sl.msg].records[sl.rec].seq);
			} else {
				res->unknown_device++;
				sl.unknown_device = true;
			}
			(*back)[(*n_back)++] = sl;
		} else if (strcmp(what, "duplicates") == 0) {
			dup_in_batch = v;
		} else if (strcmp(what, "not_fresh") == 0) {
			not_fresh = v;
		} else if (strcmp(what, "readings") == 0) {
			res->readings += v;
		} else if (strcmp(what, "events") == 0) {
			res->events += v;
		} else if (strcmp(what, "dead_letters") == 0) {
			res->dead_letters += v;
		}
	}
	/* not_fresh: candidates whose key was already stored, by a resend or a conflict. */
	res->duplicates += dup_in_batch + not_fresh - conflicts_db;
	return 0;
}

static int run_apply(struct store *s, const struct message *msgs, struct store_result *res,
		     struct slot **back, size_t *n_back)
{
	struct db_res *r = NULL;
	int rc;

	if (db_exec(s->db, sql_apply, 0, NULL, &r) < 0)
		return -1;
	rc = apply_outcomes(s, msgs, r, res, back, n_back);
	db_res_free(r);
	return rc;
}

static int second_pass(struct store *s, const struct message *msgs, struct slot *back,
		       size_t n_back, struct store_result *res)
{
	struct slot *again = NULL;
	size_t n_again = 0;
	int rc;

	copy_reset(s);
	for (size_t i = 0; i < n_back; i++) {
		bool unknown = back[i].unknown_device;
		int64_t digest = back[i].digest;
		const char *reason = unknown ? "unknown_device" : "conflicting_duplicate";
		const char *detail = unknown ? "device is not registered"
					     : "seq already stored with other content";
		if (stage_dead(s, back[i].msg, back[i].rec, &msgs[back[i].msg], reason, detail,
			       digest) < 0)
			return -1;
	}
	if (copy_send(s) < 0)
		return -1;
	rc = run_apply(s, msgs, res, &again, &n_again);
	free(again);
	return rc;
}

static int collect_acks(struct db_res *r, struct store_result *res)
{
	int n = db_res_rows(r);

	res->acks = calloc((size_t)(n ? n : 1), sizeof(*res->acks));
	if (!res->acks)
		return -1;
	for (int i = 0; i < n; i++) {
		snprintf(res->acks[i].device, sizeof(res->acks[i].device), "%s", db_res_get(r, i, 0));
		res->acks[i].acked_seq = db_res_int(r, i, 1, 0);
	}
	res->n_acks = (size_t)n;
	return 0;
}

/* ---- acks ------------------------------------------------------------------------------ */

/* The seqs a batch hands for one device: every record with a seq in a message that was not
 * refused whole is stored, a resend of a stored one, or dead-lettered with its seq. */
struct dev_seqs {
	const char *device;
	int64_t lo, hi, n; /* n distinct seqs in [lo, hi] */
};

struct msg_key {
	const char *device;
	int64_t first;
	uint32_t mi;
};

static int cmp_msg_key(const void *a, const void *b)
{
	const struct msg_key *x = a, *y = b;
	int c = strcmp(x->device, y->device);

	if (c)
		return c;
	return x->first < y->first ? -1 : x->first > y->first;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_dev_seqs(const void *key, const void *elem)
{
	return strcmp(key, ((const struct dev_seqs *)elem)->device);
}

/* One dev_seqs per device with seqs in the batch, sorted by device (strcmp). Messages are
 * sorted, not records: a device's records mostly arrive in order inside its messages. */
static int batch_seqs(const struct message *msgs, size_t n, struct dev_seqs **out, size_t *n_out)
{
	struct msg_key *keys = malloc((n ? n : 1) * sizeof(*keys));
	struct dev_seqs *ds = malloc((n ? n : 1) * sizeof(*ds));
	int64_t *seqs = NULL;
	size_t k = 0, nd = 0, cap = 0;
	int rc = -1;

	if (!keys || !ds)
		goto out;
	for (uint32_t i = 0; i < n; i++)
		if (!msgs[i].reason && msgs[i].n_records)
			keys[k++] = (struct msg_key){msgs[i].device, msgs[i].records[0].seq, i};
	if (k)
		qsort(keys, k, sizeof(*keys), cmp_msg_key);
	for (size_t g = 0; g < k;) {
		size_t end = g, m = 0;
		bool sorted = true;

		while (end < k && strcmp(keys[end].device, keys[g].device) == 0)
			end++;
		for (size_t i = g; i < end; i++) {
			const struct message *msg = &msgs[keys[i].mi];
			if (m + msg->n_records > cap) {
				size_t nc = cap ? cap * 2 : 256;
				while (nc < m + msg->n_records)
					nc *= 2;
				int64_t *p = realloc(seqs, nc * sizeof(*p));
				if (!p)
					goto out;
				seqs = p;
				cap = nc;
			}
			for (uint32_t r = 0; r < msg->n_records; r++) {
				int64_t q = msg->records[r].seq;
				if (q <= 0)
					continue;
				sorted = sorted && (m == 0 || seqs[m - 1] <= q);
				seqs[m++] = q;
			}
		}
		if (m) {
			if (!sorted)
				qsort(seqs, m, sizeof(*seqs), cmp_i64);
			int64_t distinct = 1;
			for (size_t i = 1; i < m; i++)
				distinct += seqs[i] != seqs[i - 1];
			ds[nd++] = (struct dev_seqs){keys[g].device, seqs[0], seqs[m - 1], distinct};
		}
		g = end;
	}
	*out = ds;
	*n_out = nd;
	ds = NULL;
	rc = 0;
out:
	free(keys);
	free(ds);
	free(seqs);
	return rc;
}

/* Appends an element to a PostgreSQL array literal being built in b ("{" already there). */
static void arr_add(struct buf *b, const char *s)
{
	if (b->len > 1)
		put(b, ",", 1);
	put(b, s, strlen(s));
}

static void arr_close(struct buf *b)
{
	put(b, "}", 2); /* with the NUL */
}

/* The acks of a batch, under the device locks taken at its start (lock rows: device,
 * acked_seq, gap_open) and after everything is written.
 *
 * Fast path, no scan of the ledger: a device with nothing handled above its ack (gap_open
 * false) whose batch holds every seq from ack + 1 to some hi moves to hi; one whose batch
 * holds nothing above its ack keeps it. This never acks more than the slow path would: every
 * seq it covers is in this very transaction. Every other device goes through
 * ct_advance_acks, which looks at the ledger and the dead letters. */
static int finish_acks(struct store *s, const struct message *msgs, size_t n,
		       struct db_res *lock, struct store_result *res)
{
	struct dev_seqs *ds = NULL;
	size_t nd = 0;
	struct buf fast = {0}, acks = {0}, slow = {0};
	struct db_res *r = NULL;
	int rows = db_res_rows(lock), rc = -1;
	char num[32];

	res->acks = calloc((size_t)(rows ? rows : 1), sizeof(*res->acks));
	if (!res->acks || batch_seqs(msgs, n, &ds, &nd) < 0)
		goto out;
	put(&fast, "{", 1);
	put(&acks, "{", 1);
	put(&slow, "{", 1);
	for (int i = 0; i < rows; i++) {
		const char *dev = db_res_get(lock, i, 0);
		int64_t acked = db_res_int(lock, i, 1, 0);
		bool gap = db_res_get(lock, i, 2)[0] == 't';
		const struct dev_seqs *d = nd ? bsearch(dev, ds, nd, sizeof(*ds), cmp_dev_seqs) : NULL;
		int64_t ack = acked;

		if (gap || (d && d->hi > acked && (d->lo > acked + 1 || d->hi - d->lo + 1 != d->n))) {
			arr_add(&slow, dev);
			continue;
		}
		if (d && d->hi > acked) {
			ack = d->hi;
			snprintf(num, sizeof(num), "%lld", (long long)ack);
			arr_add(&fast, dev);
			arr_add(&acks, num);
		}
		snprintf(res->acks[res->n_acks].device, sizeof(res->acks[0].device), "%s", dev);
		res->acks[res->n_acks++].acked_seq = ack;
	}
	arr_close(&fast);
	arr_close(&acks);
	arr_close(&slow);
	if (fast.oom || acks.oom || slow.oom)
		goto out;
	if (fast.len > 3 || slow.len > 3) {
		const char *params[3] = {fast.p, acks.p, slow.p};
		if (db_exec(s->db, sql_finish_acks, 3, params, &r) < 0)
			goto out;
		for (int i = 0; i < db_res_rows(r) && res->n_acks < (size_t)rows; i++) {
			struct store_ack *a = &res->acks[res->n_acks++];
			snprintf(a->device, sizeof(a->device), "%s", db_res_get(r, i, 0));
			a->acked_seq = db_res_int(r, i, 1, 0);
		}
	}
	rc = 0;
out:
	db_res_free(r);
	free(ds);
	free(fast.p);
	free(acks.p);
	free(slow.p);
	return rc;
}

int store_write(struct store *s, struct message *msgs, size_t n, struct store_result *res)
{
	char *devices = NULL;
	struct slot *back = NULL;
	struct db_res *lock = NULL;
	size_t n_back = 0;
	const char *params[1];
	int rc = -1;

	memset(res, 0, sizeof(*res));
	devices = device_array(msgs, n);
	if (!devices || stage_messages(s, msgs, n) < 0) {
		log_error("store: out of memory staging %zu messages", n);
		goto out;
	}
	params[0] = devices;
	if (db_begin(s->db) < 0) {
		snprintf(s->error, sizeof(s->error), "%s", db_error(s->db));
		goto out;
	}
	if (db_exec(s->db, sql_lock, 1, params, &lock) < 0 || copy_send(s) < 0 ||
	    run_apply(s, msgs, res, &back, &n_back) < 0)
		goto rollback;
	if (n_back && second_pass(s, msgs, back, n_back, res) < 0)
		goto rollback;
	if (finish_acks(s, msgs, n, lock, res) < 0 || db_commit(s->db) < 0)
		goto rollback;
	rc = 0;
	goto out;
rollback:
	/* ROLLBACK clears libpq's error message: keep the one that made the write fail. */
	snprintf(s->error, sizeof(s->error), "%s", db_error(s->db));
	db_rollback(s->db);
	store_result_release(res);
out:
	db_res_free(lock);
	free(back);
	free(devices);
	return rc;
}

int store_close_gaps(struct store *s, long timeout_s, struct store_result *res)
{
	struct db_res *r = NULL;
	char secs[32];
	const char *params[1] = {secs};
	int rc;

	memset(res, 0, sizeof(*res));
	snprintf(secs, sizeof(secs), "%ld", timeout_s);
	if (db_exec(s->db, sql_close_gaps, 1, params, &r) < 0)
		return -1;
	rc = collect_acks(r, res);
	db_res_free(r);
	return rc;
}

int store_maintain(struct store *s, long retention_days, int *dropped)
{
	struct db_res *r = NULL;
	char days[32];
	const char *params[1] = {days};

	*dropped = 0;
	snprintf(days, sizeof(days), "%ld", retention_days);
	if (db_exec(s->db, sql_partitions, 0, NULL, NULL) < 0 ||
	    db_exec(s->db, sql_retention, 1, params, &r) < 0)
		return -1;
	*dropped = (int)db_res_int(r, 0, 0, 0);
	db_res_free(r);
	return 0;
}

int store_prepare(struct store *s)
{
	return db_exec(s->db, sql_create_stage, 0, NULL, NULL);
}

int store_new(struct db *db, const char *topic_prefix, struct store **out)
{
	struct store *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s || sodium_init() < 0)
		goto fail;
	s->db = db;
	s->prefix = strdup(topic_prefix);
	if (!s->prefix)
		goto fail;
	if (db && store_prepare(s) < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	store_free(s);
	return -1;
}

void store_free(struct store *s)
{
	if (!s)
		return;
	free(s->prefix);
	free(s->copy.p);
	free(s->scratch.p);
	free(s->slots);
	free(s);
}

const char *store_error(const struct store *s)
{
	return s->error;
}

size_t store_last_copy_bytes(const struct store *s)
{
	return s->last_copy;
}

void store_result_release(struct store_result *res)
{
	free(res->acks);
	res->acks = NULL;
	res->n_acks = 0;
}
