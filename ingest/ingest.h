/*
 * ingest: the batching core of coldtrace-ingest — takes uplink messages, parses them at once,
 * commits them in batches through the store and yields the acks to publish. It knows no
 * MQTT: main.c moves messages in and acks out.
 */
#ifndef COLDTRACE_INGEST_H
#define COLDTRACE_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct ingest;

struct ingest_stats {
	uint64_t messages, records, readings, events, duplicates, conflicts, dead_letters;
	uint64_t flushes, flush_failures, acks, gaps_closed;
	int64_t last_flush_ms;
};

/* Connects to the database named by config.pg_conninfo; a database that is down at start is
 * retried in ingest_tick, so this fails only on bad settings or memory. */
int ingest_new(struct ingest **out);
void ingest_free(struct ingest *ing);

/* Takes a copy of one uplink message received on topic. Never fails on bad input (it becomes
 * a dead letter); returns -1 only when out of memory. */
int ingest_add(struct ingest *ing, const char *topic, const void *payload, size_t len);

/* True while the held batch is at its memory bound: stop reading from the broker. */
bool ingest_full(const struct ingest *ing);

/* Commits what is due, checks gaps, reconnects the database. now_ms is monotonic. Returns
 * how long the caller may wait (ms) before calling again. */
int ingest_tick(struct ingest *ing, int64_t now_ms);

/* Flushes everything held, retrying until deadline_ms (monotonic). 0 when nothing is left. */
int ingest_drain(struct ingest *ing, int64_t deadline_ms);

/* Acks waiting to be published, oldest first; ingest_acks_done(n) drops the first n. */
const struct store_ack *ingest_acks(const struct ingest *ing, size_t *n);
void ingest_acks_done(struct ingest *ing, size_t n);

const struct ingest_stats *ingest_stats(const struct ingest *ing);

#endif
