/*
 * dblimit: the database limit of the coldtrace benchmark (`make bench`, item 1).
 *
 * Writes the readings the fleet would send straight into the ingest's schema — the ledger
 * coldtrace.record_keys and the partitioned coldtrace.readings — with the idempotent loop
 * the ingest itself uses, minus everything that is not the database: per batch of 5000 rows
 * (the ingest's batch_max_records), one transaction of
 *   BINARY COPY into a temporary staging table (ON COMMIT DELETE ROWS), then one
 *   INSERT INTO record_keys … SELECT … ON CONFLICT DO NOTHING RETURNING the fresh keys,
 *   feeding INSERT INTO readings … SELECT … ON CONFLICT DO NOTHING, then COMMIT.
 * Binary COPY (not text) because the ingest sends binary; the digest is SipHash over the
 * row's binary encoding, as the ingest computes it. One connection, synchronous, like the
 * ingest. Rows come in the order the MQTT path delivers them: message after message of 10
 * consecutive seqs, round-robin over the devices. It runs for --seconds and prints one JSON
 * object on stdout.
 *
 * This is a benchmark peer, not product code: it includes libpq-fe.h directly instead of
 * going through services/common/db.h, so that nothing but libpq sits between it and the
 * server, and the measured figure is the database's.
 */
#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchgen.h"

#define PG_EPOCH_US INT64_C(946684800000000)
#define STAGE_FIELDS 17

static const char *const sql_stage =
    "CREATE TEMP TABLE dbl_stage (device_id text, seq bigint, digest bigint, kind smallint, "
    "measured_at timestamptz, received_at timestamptz, shipment_id text, t_supply real, "
    "t_return real, t_product real, t_ambient real, rh real, lat double precision, "
    "lon double precision, speed_kmh real, setpoint real, door_open boolean) "
    "ON COMMIT DELETE ROWS";
static const char *const sql_copy = "COPY dbl_stage FROM STDIN (FORMAT binary)";
static const char *const sql_apply =
    "WITH k AS ("
    " INSERT INTO coldtrace.record_keys (device_id, seq, digest, kind, measured_at)"
    " SELECT device_id, seq, digest, kind, measured_at FROM dbl_stage"
    " ON CONFLICT DO NOTHING RETURNING device_id, seq) "
    "INSERT INTO coldtrace.readings (device_id, seq, measured_at, received_at, shipment_id,"
    " t_supply, t_return, t_product, t_ambient, rh, lat, lon, speed_kmh, setpoint, door_open) "
    "SELECT s.device_id, s.seq, s.measured_at, s.received_at, s.shipment_id, s.t_supply,"
    " s.t_return, s.t_product, s.t_ambient, s.rh, s.lat, s.lon, s.speed_kmh, s.setpoint,"
    " s.door_open FROM dbl_stage s JOIN k ON k.device_id = s.device_id AND k.seq = s.seq "
    "ON CONFLICT DO NOTHING";

static const unsigned char digest_key[crypto_shorthash_KEYBYTES] = "coldtrace-digest";

struct opts {
	double seconds;
	long batch, devices, records_per_msg, step_s;
	const char *prefix;
};

struct buf {
	unsigned char *p;
	size_t len, cap;
};

static void die(const char *what, PGconn *c)
{
	fprintf(stderr, "dblimit: %s: %s\n", what, c ? PQerrorMessage(c) : "failed");
	exit(1);
}

static void reserve(struct buf *b, size_t more)
{
	if (b->len + more <= b->cap)
		return;
	size_t n = b->cap ? b->cap : 1 << 20;
	while (n < b->len + more)
		n *= 2;
	unsigned char *p = realloc(b->p, n);
	if (!p)
		die("out of memory", NULL);
	b->p = p;
	b->cap = n;
}

static void put_u16(struct buf *b, uint16_t v)
{
	reserve(b, 2);
	b->p[b->len++] = (unsigned char)(v >> 8);
	b->p[b->len++] = (unsigned char)v;
}

static void put_u32(struct buf *b, uint32_t v)
{
	reserve(b, 4);
	for (int i = 3; i >= 0; i--)
		b->p[b->len++] = (unsigned char)(v >> (8 * i));
}

static void put_u64(struct buf *b, uint64_t v)
{
	put_u32(b, (uint32_t)(v >> 32));
	put_u32(b, (uint32_t)v);
}

static void f_text(struct buf *b, const char *s, size_t n)
{
	put_u32(b, (uint32_t)n);
	reserve(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void f_i64(struct buf *b, int64_t v)
{
	put_u32(b, 8);
	put_u64(b, (uint64_t)v);
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

/* One staged row; the digest covers the content fields as the ingest's does. */
static void stage_row(struct buf *b, struct buf *content, const char *dev_id,
		      const struct bg_reading *r, int64_t received_us)
{
	char ship[32];
	size_t ship_len = (size_t)(bg_put_shipment(ship, r->shipment_no) - ship);
	unsigned char h[crypto_shorthash_BYTES];
	int64_t digest;

	content->len = 0;
	f_text(content, dev_id, strlen(dev_id));
	f_i64(content, r->seq);
	f_i64(content, r->t_us - PG_EPOCH_US);
	f_text(content, ship, ship_len);
	f_f32(content, (float)r->supply / 10.0f);
	f_f32(content, (float)r->ret / 10.0f);
	f_f32(content, (float)r->product / 10.0f);
	f_f32(content, (float)r->ambient / 10.0f);
	f_f32(content, (float)r->rh / 10.0f);
	f_f64(content, (double)r->lat / 1e5);
	f_f64(content, (double)r->lon / 1e5);
	f_f32(content, (float)r->speed / 10.0f);
	f_f32(content, (float)r->setpoint / 10.0f);
	put_u32(content, 1);
	reserve(content, 1);
	content->p[content->len++] = r->door_open ? 1 : 0;
	crypto_shorthash(h, content->p, content->len, digest_key);
	memcpy(&digest, h, sizeof(digest));

	put_u16(b, STAGE_FIELDS);
	f_text(b, dev_id, strlen(dev_id));
	f_i64(b, r->seq);
	f_i64(b, digest);
	put_u32(b, 2);
	put_u16(b, 1); /* kind: reading */
	f_i64(b, r->t_us - PG_EPOCH_US);
	f_i64(b, received_us - PG_EPOCH_US);
	f_text(b, ship, ship_len);
	f_f32(b, (float)r->supply / 10.0f);
	f_f32(b, (float)r->ret / 10.0f);
	f_f32(b, (float)r->product / 10.0f);
	f_f32(b, (float)r->ambient / 10.0f);
	f_f32(b, (float)r->rh / 10.0f);
	f_f64(b, (double)r->lat / 1e5);
	f_f64(b, (double)r->lon / 1e5);
	f_f32(b, (float)r->speed / 10.0f);
	f_f32(b, (float)r->setpoint / 10.0f);
	put_u32(b, 1);
	reserve(b, 1);
	b->p[b->len++] = r->door_open ? 1 : 0;
}

static void exec_ok(PGconn *c, const char *sql, ExecStatusType want)
{
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != want) {
		fprintf(stderr, "dblimit: %s\n  in: %.60s\n", PQerrorMessage(c), sql);
		PQclear(r);
		exit(1);
	}
	PQclear(r);
}

/* One transaction: COPY the batch, apply it. Returns the readings inserted. */
static long write_batch(PGconn *c, const struct buf *b)
{
	PGresult *r;
	long inserted;

	exec_ok(c, "BEGIN", PGRES_COMMAND_OK);
	r = PQexec(c, sql_copy);
	if (PQresultStatus(r) != PGRES_COPY_IN)
		die("COPY", c);
	PQclear(r);
	if (PQputCopyData(c, (const char *)b->p, (int)b->len) != 1 || PQputCopyEnd(c, NULL) != 1)
		die("COPY data", c);
	r = PQgetResult(c);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		die("COPY end", c);
	PQclear(r);
	while ((r = PQgetResult(c)))
		PQclear(r);
	r = PQexecPrepared(c, "apply", 0, NULL, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		die("apply", c);
	inserted = strtol(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	exec_ok(c, "COMMIT", PGRES_COMMAND_OK);
	return inserted;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: dblimit [--seconds S] [--batch N] [--devices D] [--records-per-msg R]\n"
		"               [--step-s SECONDS] [--prefix DEVICE_PREFIX]\n"
		"Connects with the PG* environment variables; prints JSON on stdout.\n");
	exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			usage();
		if (strcmp(k, "--seconds") == 0)
			o->seconds = strtod(v, NULL);
		else if (strcmp(k, "--batch") == 0)
			o->batch = strtol(v, NULL, 10);
		else if (strcmp(k, "--devices") == 0)
			o->devices = strtol(v, NULL, 10);
		else if (strcmp(k, "--records-per-msg") == 0)
			o->records_per_msg = strtol(v, NULL, 10);
		else if (strcmp(k, "--step-s") == 0)
			o->step_s = strtol(v, NULL, 10);
		else if (strcmp(k, "--prefix") == 0)
			o->prefix = v;
		else
			usage();
		i++;
	}
	if (o->seconds <= 0 || o->batch < 1 || o->devices < 1 || o->devices > 99999 ||
	    o->records_per_msg < 1 || o->step_s < 1)
		usage();
}

int main(int argc, char **argv)
{
	struct opts o = {.seconds = 15,
			 .batch = 5000,
			 .devices = 10000,
			 .records_per_msg = 10,
			 .step_s = 30,
			 .prefix = "dbl"};
	struct buf copy = {0}, content = {0};
	char(*ids)[32];
	PGconn *c;
	PGresult *r;
	long rows = 0, inserted = 0, batches = 0, round = 0, dev = 0, resend_inserted;
	double t_start, t_end, worst_ms = 0;
	int64_t t0_us;

	parse(argc, argv, &o);
	if (sodium_init() < 0)
		die("libsodium", NULL);
	ids = calloc((size_t)o.devices + 1, sizeof(*ids));
	if (!ids)
		die("out of memory", NULL);
	for (long d = 1; d <= o.devices; d++)
		bg_device_id(ids[d], sizeof(ids[d]), o.prefix, (uint32_t)d);
	c = PQconnectdb("application_name=coldtrace-bench-dblimit");
	if (PQstatus(c) != CONNECTION_OK)
		die("connect", c);
	exec_ok(c, "SET search_path = coldtrace, public", PGRES_COMMAND_OK);
	exec_ok(c, sql_stage, PGRES_COMMAND_OK);
	r = PQprepare(c, "apply", sql_apply, 0, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		die("prepare", c);
	PQclear(r);

	/* Measured times run from two days ago in step_s steps: inside the ingest's window. */
	t0_us = bg_now_us() - 2 * 86400 * BG_US_PER_S;
	t_start = bg_mono_s();
	do {
		double b0 = bg_mono_s(), ms;
		int64_t now_us = bg_now_us();
		long staged = 0;

		copy.len = 0;
		reserve(&copy, 19);
		memcpy(copy.p, "PGCOPY\n\377\r\n\0", 11);
		copy.len = 11;
		put_u32(&copy, 0);
		put_u32(&copy, 0);
		for (long n = 0; n < o.batch; n += o.records_per_msg) {
			/* One "message": records_per_msg consecutive seqs of one device. */
			for (long k = 0; k < o.records_per_msg; k++) {
				struct bg_reading rd;
				bg_reading_make(&rd, (uint32_t)(dev + 1),
						round * o.records_per_msg + k + 1, t0_us,
						o.step_s * BG_US_PER_S);
				stage_row(&copy, &content, ids[dev + 1], &rd, now_us);
				staged++;
			}
			if (++dev == o.devices) {
				dev = 0;
				round++;
			}
		}
		put_u16(&copy, 0xffff);
		inserted += write_batch(c, &copy);
		rows += staged;
		batches++;
		ms = (bg_mono_s() - b0) * 1000.0;
		if (ms > worst_ms)
			worst_ms = ms;
		t_end = bg_mono_s();
	} while (t_end - t_start < o.seconds);

	/* Idempotence check: the last batch again must insert nothing. */
	resend_inserted = write_batch(c, &copy);

	printf("{\"rows\":%ld,\"inserted\":%ld,\"seconds\":%.3f,\"rows_per_s\":%.0f,"
	       "\"batch\":%ld,\"batches\":%ld,\"mean_batch_ms\":%.2f,\"max_batch_ms\":%.2f,"
	       "\"devices\":%ld,\"copy\":\"binary\",\"resend_inserted\":%ld}\n",
	       rows, inserted, t_end - t_start, (double)inserted / (t_end - t_start), o.batch,
	       batches, (t_end - t_start) * 1000.0 / (double)batches, worst_ms, o.devices,
	       resend_inserted);
	PQfinish(c);
	free(copy.p);
	free(content.p);
	free(ids);
	return inserted == rows && resend_inserted == 0 ? 0 : 1;
}
