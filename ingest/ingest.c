/*
 * ingest: batches of parsed messages → store → acks.
 *
 * DESIGN. Invariants the delivery guarantee rests on:
 *  - a message is parsed when it arrives and held, whole, until the transaction that handles
 *    it has committed; nothing is ever dropped from the held batch on an error;
 *  - acks are taken only from committed transactions (store_write's result) and queued for
 *    publication; a publish that fails is retried, and publishing the same ack twice is
 *    harmless because acks are retained and monotonic;
 *  - while the database is unreachable the batch keeps growing up to max_pending_bytes, then
 *    ingest_full() tells main to stop reading from the broker, which leaves the rest queued in
 *    the broker's persistent session (and, behind it, in the devices' own stores);
 *  - a batch is committed when it reaches batch_max_records or batch_max_ms after its first
 *    message, whichever comes first — the bound on ack latency under light load;
 *  - one batch at a time is in flight: a database thread commits it while the main thread
 *    goes on reading and parsing the next (so the broker is read while PostgreSQL works).
 *    Batches commit one after the other in arrival order, so a device's records reach the
 *    database in the order they came. The connection belongs to the database thread while a
 *    batch is in flight and to the main thread otherwise (connect, gap checks, maintenance);
 *    the hand-over is under the mutex. A batch that fails stays in flight, whole, and is
 *    retried after the backoff; its messages are freed only once it committed.
 */
#include "ingest.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "payload.h"
#include "ts.h"

#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 5000
/* How often the main thread looks for the end of a batch in flight while the broker is
 * quiet (under load every incoming message wakes it anyway). */
#define FLIGHT_POLL_MS 1

enum flight_state { FLIGHT_IDLE, FLIGHT_QUEUED, FLIGHT_DONE };

/* The batch being committed by the database thread, and what came of it. */
struct flight {
	struct message *msgs;
	size_t n, cap, bytes;
	int rc;			/* 0 committed (every message), -1 not: retry it */
	struct store_result res; /* counts and acks of what did commit */
	int64_t ms;
};

struct ingest {
	struct db *db;
	struct store *store;
	struct payload_parser *parser;
	struct payload_limits limits;
	struct message *batch;
	size_t n, cap, records, bytes;
	int64_t first_ms; /* when the oldest held message arrived */
	int64_t next_db_try_ms, backoff_ms, next_gap_ms, next_maintenance_ms;
	struct store_ack *acks;
	size_t n_acks, cap_acks;
	struct ingest_stats stats;
	struct flight fl;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	enum flight_state state; /* under mu */
	bool quit;		 /* under mu */
	bool thread_started;
	bool busy; /* main thread's view: a batch was submitted and not collected yet */
};

static void *db_thread(void *arg);

static int ingest_connect(struct ingest *ing)
{
	if (!ing->db) {
		if (db_connect(config.pg_conninfo, "coldtrace-ingest", &ing->db) < 0)
			return -1;
	} else if (db_reset(ing->db) < 0) {
		return -1;
	}
	if (!ing->store)
		return store_new(ing->db, config.topic_prefix, &ing->store);
	return store_prepare(ing->store);
}

int ingest_new(struct ingest **out)
{
	struct ingest *ing = calloc(1, sizeof(*ing));

	*out = NULL;
	if (!ing || payload_parser_new(&ing->parser) < 0) {
		free(ing);
		return -1;
	}
	ing->limits.max_age_us = (int64_t)config.max_record_age_s * TS_US_PER_S;
	ing->limits.max_future_us = (int64_t)config.max_future_s * TS_US_PER_S;
	ing->backoff_ms = BACKOFF_MIN_MS;
	pthread_mutex_init(&ing->mu, NULL);
	pthread_cond_init(&ing->cv, NULL);
	if (pthread_create(&ing->thread, NULL, db_thread, ing) != 0) {
		log_error("ingest: cannot start the database thread");
		ingest_free(ing);
		return -1;
	}
	ing->thread_started = true;
	if (ingest_connect(ing) < 0)
		log_warn("ingest: database not reachable yet; will retry");
	*out = ing;
	return 0;
}

void ingest_free(struct ingest *ing)
{
	if (!ing)
		return;
	if (ing->thread_started) {
		bool busy;
		pthread_mutex_lock(&ing->mu);
		ing->quit = true;
		busy = ing->state == FLIGHT_QUEUED;
		pthread_cond_broadcast(&ing->cv);
		pthread_mutex_unlock(&ing->mu);
		if (busy) {
			/* The database is hanging on a batch (drain gave up): leave it to exit. */
			log_error("ingest: a batch is still being written; not waiting for it");
			pthread_detach(ing->thread);
			return;
		}
		pthread_join(ing->thread, NULL);
	}
	for (size_t i = 0; i < ing->fl.n; i++)
		payload_message_release(&ing->fl.msgs[i]);
	free(ing->fl.msgs);
	store_result_release(&ing->fl.res);
	for (size_t i = 0; i < ing->n; i++)
		payload_message_release(&ing->batch[i]);
	free(ing->batch);
	free(ing->acks);
	store_free(ing->store);
	db_free(ing->db);
	payload_parser_free(ing->parser);
	pthread_mutex_destroy(&ing->mu);
	pthread_cond_destroy(&ing->cv);
	free(ing);
}

/* A topic that is not {prefix}/dev/{valid id}/up still gets a dead letter, under a
 * sanitised device name, so that nothing is dropped silently. */
static void topic_fallback_device(const char *topic, char out[DEVICE_ID_MAX + 1])
{
	size_t n = 0;

	for (const char *p = topic; *p && n < DEVICE_ID_MAX; p++)
		out[n++] = payload_device_id_ok(p, 1) ? *p : '_';
	out[n] = '\0';
}

/* Memory one held message costs: its bytes (twice when it had escapes) and its records. */
static size_t held_bytes(const struct message *m)
{
	return m->len * (m->orig ? 2 : 1) + m->n_records * sizeof(struct record) +
	       m->n_lots * sizeof(struct lot) + m->n_sscc * sizeof(struct span);
}

int ingest_add(struct ingest *ing, const char *topic, const void *payload, size_t len)
{
	struct message *m;
	int rc;

	if (ing->n == ing->cap) {
		size_t n = ing->cap ? ing->cap * 2 : 256;
		struct message *b = realloc(ing->batch, n * sizeof(*b));
		if (!b)
			return -1;
		ing->batch = b;
		ing->cap = n;
	}
	m = &ing->batch[ing->n];
	memset(m, 0, sizeof(*m));
	m->received_us = ts_now_us();
	if (payload_topic_device(config.topic_prefix, topic, m->device) < 0) {
		topic_fallback_device(topic, m->device);
		rc = payload_parse(ing->parser, m, payload, len, m->received_us, &ing->limits);
		m->reason = "bad_topic";
		snprintf(m->detail, sizeof(m->detail), "not an uplink topic: %.120s", topic);
	} else {
		rc = payload_parse(ing->parser, m, payload, len, m->received_us, &ing->limits);
	}
	if (rc == -2) {
		payload_message_release(m);
		return -1;
	}
	if (m->reason)
		log_info("ingest: device %s: message rejected: %s (%s)", m->device, m->reason,
			 m->detail);
	if (ing->n == 0)
		ing->first_ms = ts_mono_ms();
	ing->n++;
	ing->records += m->n_records ? m->n_records : 1;
	ing->bytes += held_bytes(m);
	ing->stats.messages++;
	ing->stats.records += m->n_records;
	return 0;
}

bool ingest_full(const struct ingest *ing)
{
	/* While a batch is in flight, one more ready behind it is all that is worth holding:
	 * the rest waits in the broker as it would behind a blocking commit. */
	return ing->bytes >= (size_t)config.max_pending_bytes ||
	       (ing->busy && ing->records >= (size_t)config.batch_max_records);
}

static int cmp_ack(const void *a, const void *b)
{
	const struct store_ack *x = a, *y = b;
	int c = strcmp(x->device, y->device);

	if (c)
		return c;
	return x->acked_seq < y->acked_seq ? 1 : x->acked_seq > y->acked_seq ? -1 : 0;
}

/* Acks are retained and only ever grow, so a device needs only its latest one: when the
 * queue outgrows what was published, keep one ack per device, the highest. This bounds the
 * queue by the number of devices however long the broker is slow to take them. */
static void merge_acks(struct ingest *ing)
{
	size_t out = 0;

	qsort(ing->acks, ing->n_acks, sizeof(*ing->acks), cmp_ack);
	for (size_t i = 0; i < ing->n_acks; i++)
		if (out == 0 || strcmp(ing->acks[out - 1].device, ing->acks[i].device) != 0)
			ing->acks[out++] = ing->acks[i];
	ing->n_acks = out;
}

static int queue_acks(struct ingest *ing, const struct store_result *res)
{
	if (ing->n_acks + res->n_acks > ing->cap_acks) {
		if (ing->n_acks > 0)
			merge_acks(ing);
		size_t n = ing->cap_acks ? ing->cap_acks : 256;
		while (n < ing->n_acks + res->n_acks)
			n *= 2;
		if (n > ing->cap_acks) {
			struct store_ack *a = realloc(ing->acks, n * sizeof(*a));
			if (!a)
				return -1;
			ing->acks = a;
			ing->cap_acks = n;
		}
	}
	if (res->n_acks) /* memcpy from NULL is undefined even for 0 bytes */
		memcpy(ing->acks + ing->n_acks, res->acks, res->n_acks * sizeof(*res->acks));
	ing->n_acks += res->n_acks;
	ing->stats.acks += res->n_acks;
	return 0;
}


/* How many held messages, from the oldest, make up one transaction. */
static size_t chunk_size(const struct ingest *ing)
{
	size_t k = 0, records = 0;

	while (k < ing->n && (k == 0 || records < (size_t)config.batch_max_records)) {
		records += ing->batch[k].n_records ? ing->batch[k].n_records : 1;
		k++;
	}
	return k;
}

/* Moves the oldest chunk of the held batch into the (empty) flight. */
static int fill_flight(struct ingest *ing)
{
	struct flight *fl = &ing->fl;
	size_t k = chunk_size(ing);

	if (k > fl->cap) {
		struct message *m = realloc(fl->msgs, k * sizeof(*m));
		if (!m)
			return -1;
		fl->msgs = m;
		fl->cap = k;
	}
	memcpy(fl->msgs, ing->batch, k * sizeof(*ing->batch));
	fl->n = k;
	fl->bytes = 0;
	for (size_t i = 0; i < k; i++) {
		ing->records -= ing->batch[i].n_records ? ing->batch[i].n_records : 1;
		fl->bytes += held_bytes(&ing->batch[i]);
	}
	memmove(ing->batch, ing->batch + k, (ing->n - k) * sizeof(*ing->batch));
	ing->n -= k;
	ing->first_ms = ts_mono_ms();
	return 0;
}

static void note_db_failure(struct ingest *ing, int64_t now_ms)
{
	ing->stats.flush_failures++;
	ing->next_db_try_ms = now_ms + ing->backoff_ms;
	ing->backoff_ms = ing->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ing->backoff_ms * 2;
}

/* Failures worth retrying as they are: lost connection, deadlock or serialization
 * (class 40), resources (53), shutdown (57). Anything else is about the data. */
static bool transient_failure(const struct db *db)
{
	const char *st = db_sqlstate(db);

	return db_lost(db) || strncmp(st, "40", 2) == 0 || strncmp(st, "53", 2) == 0 ||
	       strncmp(st, "57", 2) == 0 || strncmp(st, "08", 2) == 0 || st[0] == '\0';
}

/* ---- the database thread ---------------------------------------------------------------- */

/* Adds what one committed write did to the flight's result. */
static void flight_take(struct flight *fl, struct store_result *res)
{
	struct store_result *t = &fl->res;

	t->readings += res->readings;
	t->events += res->events;
	t->duplicates += res->duplicates;
	t->conflicts += res->conflicts;
	t->unknown_device += res->unknown_device;
	t->dead_letters += res->dead_letters;
	if (res->n_acks) {
		struct store_ack *a = realloc(t->acks, (t->n_acks + res->n_acks) * sizeof(*a));
		if (a) {
			memcpy(a + t->n_acks, res->acks, res->n_acks * sizeof(*a));
			t->acks = a;
			t->n_acks += res->n_acks;
		} else {
			log_error("ingest: out of memory keeping %zu acks; they follow the next commit",
				  res->n_acks);
		}
	}
	store_result_release(res);
}

/* The database refused a batch although the connection is fine: some message in it trips
 * a constraint or a bug. Write the messages one by one and dead-letter, whole, any message
 * that still fails, so one poison message cannot stall every device behind it. */
static int isolate_poison(struct ingest *ing)
{
	struct flight *fl = &ing->fl;
	struct store_result res;

	for (size_t i = 0; i < fl->n; i++) {
		struct message *m = &fl->msgs[i];
		if (store_write(ing->store, m, 1, &res) == 0) {
			flight_take(fl, &res);
			continue;
		}
		if (transient_failure(ing->db))
			return -1;
		log_error("ingest: device %s: message refused by the database; dead-lettered whole",
			  m->device);
		m->reason = "store_failed";
		snprintf(m->detail, sizeof(m->detail), "%.150s", store_error(ing->store));
		if (store_write(ing->store, m, 1, &res) < 0)
			return -1;
		flight_take(fl, &res);
	}
	return 0;
}

/* One transaction for the flight (or one per message when it holds poison). */
static void write_flight(struct ingest *ing)
{
	struct flight *fl = &ing->fl;
	struct store_result res;
	int64_t t0 = ts_mono_ms();

	fl->rc = -1;
	if (store_write(ing->store, fl->msgs, fl->n, &res) == 0) {
		flight_take(fl, &res);
		fl->rc = 0;
	} else if (!transient_failure(ing->db) && isolate_poison(ing) == 0) {
		fl->rc = 0;
	}
	fl->ms = ts_mono_ms() - t0;
}

static void *db_thread(void *arg)
{
	struct ingest *ing = arg;

	pthread_mutex_lock(&ing->mu);
	for (;;) {
		while (ing->state != FLIGHT_QUEUED && !ing->quit)
			pthread_cond_wait(&ing->cv, &ing->mu);
		if (ing->state != FLIGHT_QUEUED)
			break;
		pthread_mutex_unlock(&ing->mu);
		write_flight(ing);
		pthread_mutex_lock(&ing->mu);
		ing->state = FLIGHT_DONE;
		pthread_cond_broadcast(&ing->cv);
	}
	pthread_mutex_unlock(&ing->mu);
	return NULL;
}

/* ---- the main thread's side ------------------------------------------------------------- */

static enum flight_state flight_state(struct ingest *ing)
{
	enum flight_state st;

	pthread_mutex_lock(&ing->mu);
	st = ing->state;
	pthread_mutex_unlock(&ing->mu);
	return st;
}

static void submit(struct ingest *ing)
{
	ing->busy = true;
	pthread_mutex_lock(&ing->mu);
	ing->state = FLIGHT_QUEUED;
	pthread_cond_broadcast(&ing->cv);
	pthread_mutex_unlock(&ing->mu);
}

/* Takes a finished flight back: its acks are queued for publication (they come only from
 * committed transactions), its messages freed when all committed, kept for a retry if not. */
static void collect(struct ingest *ing, int64_t now_ms)
{
	struct flight *fl = &ing->fl;
	struct store_result *res = &fl->res;

	if (flight_state(ing) != FLIGHT_DONE)
		return;
	ing->stats.readings += (uint64_t)res->readings;
	ing->stats.events += (uint64_t)res->events;
	ing->stats.duplicates += (uint64_t)res->duplicates;
	ing->stats.conflicts += (uint64_t)res->conflicts;
	ing->stats.dead_letters += (uint64_t)res->dead_letters;
	if (queue_acks(ing, res) < 0)
		log_error("ingest: out of memory queueing %zu acks; they follow the next commit",
			  res->n_acks);
	store_result_release(res);
	memset(res, 0, sizeof(*res));
	if (fl->rc == 0) {
		if (ing->stats.flushes++ == 0)
			log_info("ingest: first batch committed (%zu messages)", fl->n);
		ing->stats.last_flush_ms = fl->ms;
		log_debug("ingest: committed %zu messages in %lld ms", fl->n, (long long)fl->ms);
		for (size_t i = 0; i < fl->n; i++)
			payload_message_release(&fl->msgs[i]);
		ing->bytes -= fl->bytes;
		fl->n = 0;
		fl->bytes = 0;
		ing->backoff_ms = BACKOFF_MIN_MS;
	} else {
		note_db_failure(ing, now_ms);
	}
	pthread_mutex_lock(&ing->mu);
	ing->state = FLIGHT_IDLE;
	pthread_mutex_unlock(&ing->mu);
	ing->busy = false;
}

static bool db_ready(struct ingest *ing, int64_t now_ms)
{
	if (ing->db && ing->store && db_alive(ing->db))
		return true;
	if (now_ms < ing->next_db_try_ms)
		return false;
	if (ingest_connect(ing) < 0) {
		note_db_failure(ing, now_ms);
		return false;
	}
	log_info("ingest: database connected");
	ing->backoff_ms = BACKOFF_MIN_MS;
	return true;
}

static bool flush_due(const struct ingest *ing, int64_t now_ms, bool force)
{
	return ing->n > 0 && (force || ing->records >= (size_t)config.batch_max_records ||
			      now_ms - ing->first_ms >= config.batch_max_ms || ingest_full(ing));
}

static void check_gaps(struct ingest *ing, int64_t now_ms)
{
	struct store_result res;

	ing->next_gap_ms = now_ms + config.gap_check_s * 1000;
	if (store_close_gaps(ing->store, config.gap_timeout_s, &res) < 0) {
		note_db_failure(ing, now_ms);
		return;
	}
	if (res.n_acks) {
		log_warn("ingest: recorded sequence gaps of %zu devices after %ld s; acks moved past them",
			 res.n_acks, config.gap_timeout_s);
		ing->stats.gaps_closed += res.n_acks;
	}
	queue_acks(ing, &res);
	store_result_release(&res);
}

static void maintain(struct ingest *ing, int64_t now_ms)
{
	int dropped;

	ing->next_maintenance_ms = now_ms + config.maintenance_s * 1000;
	if (store_maintain(ing->store, config.retention_days, &dropped) < 0) {
		note_db_failure(ing, now_ms);
		return;
	}
	if (dropped)
		log_info("ingest: retention dropped %d readings partitions older than %ld days", dropped,
			 config.retention_days);
}

/* One turn: take back a finished batch, then, while the connection is free, check gaps and
 * do maintenance when due and send the next batch. Returns true when a batch is in flight. */
static bool step(struct ingest *ing, int64_t now_ms, bool force)
{
	collect(ing, now_ms);
	if (flight_state(ing) != FLIGHT_IDLE)
		return true;
	if (now_ms >= ing->next_gap_ms && now_ms >= ing->next_db_try_ms && db_ready(ing, now_ms))
		check_gaps(ing, now_ms);
	if (now_ms >= ing->next_maintenance_ms && now_ms >= ing->next_db_try_ms &&
	    db_ready(ing, now_ms))
		maintain(ing, now_ms);
	if (ing->fl.n == 0 && flush_due(ing, now_ms, force) && fill_flight(ing) < 0)
		log_error("ingest: out of memory moving a batch to the database thread");
	if (ing->fl.n == 0 || now_ms < ing->next_db_try_ms || !db_ready(ing, now_ms))
		return false;
	submit(ing);
	return true;
}

int ingest_tick(struct ingest *ing, int64_t now_ms)
{
	int64_t wait;

	if (step(ing, now_ms, false))
		return FLIGHT_POLL_MS;
	wait = ing->n ? ing->first_ms + config.batch_max_ms - now_ms : 1000;
	if (now_ms < ing->next_db_try_ms && ing->next_db_try_ms - now_ms < wait)
		wait = ing->next_db_try_ms - now_ms;
	return wait < 1 ? 1 : wait > 1000 ? 1000 : (int)wait;
}

int ingest_drain(struct ingest *ing, int64_t deadline_ms)
{
	for (;;) {
		int64_t now = ts_mono_ms();
		bool busy = step(ing, now, true);
		if (!busy && ing->n == 0 && ing->fl.n == 0)
			return 0;
		if (now >= deadline_ms)
			return -1;
		if (busy) {
			pthread_mutex_lock(&ing->mu);
			while (ing->state == FLIGHT_QUEUED)
				pthread_cond_wait(&ing->cv, &ing->mu);
			pthread_mutex_unlock(&ing->mu);
		} else {
			ts_sleep_ms(50);
		}
	}
}

const struct store_ack *ingest_acks(const struct ingest *ing, size_t *n)
{
	*n = ing->n_acks;
	return ing->acks;
}

void ingest_acks_done(struct ingest *ing, size_t n)
{
	if (n == 0)
		return;
	memmove(ing->acks, ing->acks + n, (ing->n_acks - n) * sizeof(*ing->acks));
	ing->n_acks -= n;
}

const struct ingest_stats *ingest_stats(const struct ingest *ing)
{
	return &ing->stats;
}
