/*
 * store: writes parsed uplink messages to PostgreSQL with the protocol's delivery guarantee —
 * each (device, seq) stored once, conflicting resends and every invalid record dead-lettered,
 * per-device ack watermarks moved in the same transaction. Used by the ingest for live
 * traffic and by `coldtrace deadletters replay`, so both follow exactly the same rules.
 */
#ifndef COLDTRACE_STORE_H
#define COLDTRACE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "payload.h"

struct store;

struct store_ack {
	char device[DEVICE_ID_MAX + 1];
	int64_t acked_seq;
};

/* What one write did. acks lists the devices whose watermark moved (owned by the result). */
struct store_result {
	long readings, events, duplicates, conflicts, unknown_device, dead_letters;
	struct store_ack *acks;
	size_t n_acks;
};

/* db is borrowed and must outlive the store. topic_prefix is copied. */
int store_new(struct db *db, const char *topic_prefix, struct store **out);
void store_free(struct store *s);
/* Re-creates the per-connection staging table; call after the connection was reset. */
int store_prepare(struct store *s);

/* Writes msgs[0..n) in one transaction. On failure nothing is written (rolled back) and the
 * caller may retry the same messages. */
int store_write(struct store *s, struct message *msgs, size_t n, struct store_result *res);

/* Records gaps open longer than timeout_s and moves their acks past them (one transaction). */
int store_close_gaps(struct store *s, long timeout_s, struct store_result *res);

/* Creates readings partitions a year ahead and drops those entirely older than
 * retention_days. *dropped counts the dropped partitions. */
int store_maintain(struct store *s, long retention_days, int *dropped);

/* The database's message for the last store_write that failed ("" before any). */
const char *store_error(const struct store *s);

/* Bytes of the last COPY built, for metrics. */
size_t store_last_copy_bytes(const struct store *s);

void store_result_release(struct store_result *res);

#endif
