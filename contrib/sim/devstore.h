/*
 * devstore: a simulated device's local storage. Records are kept on disk until the ingest
 * acknowledges them, so a killed simulator (even kill -9) resumes without losing or changing
 * a record. One directory per device: records.log (append-only, "SEQ JSON\n" per record),
 * state (acked seq, last seq, the current trip) and a lock file.
 */
#ifndef COLDTRACE_SIM_DEVSTORE_H
#define COLDTRACE_SIM_DEVSTORE_H

#include <stdbool.h>
#include <stddef.h>

struct devstore;

/* The trip the device is working on; the trip generator's parameters, so a restart
 * regenerates exactly the same records. */
struct devstore_trip {
	char key[17]; /* hex fingerprint of every parameter that shapes the records */
	char shipment[65];
	long long base_seq; /* last seq before the trip's first record */
	long long start;    /* trip start, unix seconds */
	unsigned long long seed;
	long long end; /* time of the last record, unix seconds, once done */
	bool done;     /* every record of the trip is stored */
};

/* Opens (creating as needed, like mkdir -p) and locks dir, reads it back and repairs a torn
 * last line. Fails when another process holds the store. */
int devstore_new(struct devstore **out, const char *dir);
/* Compacts away acknowledged records, writes the state and unlocks. NULL-safe. */
void devstore_free(struct devstore *s);

long long devstore_last_seq(const struct devstore *s);
long long devstore_acked_seq(const struct devstore *s);

/* Appends n records with seqs last+1..last+n (each text must start with {"seq":N,) in one
 * write followed by fsync: when this returns 0 they survive a crash. */
int devstore_append(struct devstore *s, const char *const *texts, const size_t *lens, size_t n);

/* The stored text of an unacknowledged record; valid until the next call that changes s. */
int devstore_get(const struct devstore *s, long long seq, const char **text, size_t *len);

/* The ingest has everything up to acked: forget it (compacting the log now and then). */
int devstore_ack(struct devstore *s, long long acked);

/* Current trip; false when the store has never run one. */
bool devstore_trip(const struct devstore *s, struct devstore_trip *out);
/* Records the trip durably (state file written and fsync'ed). */
int devstore_set_trip(struct devstore *s, const struct devstore_trip *t);

#endif
