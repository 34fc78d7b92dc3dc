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
 *  - devices are spread over db_lanes database lanes by a hash of the device id; a
 *    lane is a connection with its own thread, held batch and batch in flight, so PostgreSQL
 *    works on several batches at once while the main thread reads and parses the next. A
 *    device is only ever in one lane and a lane commits its batches one after the other in
 *    arrival order, so a device's records reach the database in the order they came. Lanes
 *    touch disjoint ledger, ack and dead-letter rows (all keyed by device); the rows they
 *    can share, the monitor's queue entries of one shipment, are locked in shipment order by
 *    a single statement per batch (sql/ingest.sql), so lanes cannot deadlock on them;
 *  - a lane's connection belongs to its thread while a batch is in flight and to the main
 *    thread otherwise (connect, and on lane 0 gap checks and maintenance, which run only
 *    while no lane has a batch in flight: a gap check's acks then follow every committed
 *    batch's in the queue, and a device's published acks never go backwards). The hand-over
 *    is under the lane's mutex. A batch that fails stays in flight, whole, and is retried
 *    after that lane's backoff; its messages are freed only once it committed;
 *  - max_pending_bytes bounds what all lanes hold together, in flight included.
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
/* Database lanes: connections, each with its own thread, committing batches side by side;
 * their number is the setting db_lanes, clamped to 1..MAX_LANES. Measured on 2 cores, 10k
 * devices: see contrib/bench/README.md. */
#define MAX_LANES 16

enum flight_state { FLIGHT_IDLE, FLIGHT_QUEUED, FLIGHT_DONE };

/* The batch being committed by a lane's database thread, and what came of it. */
struct flight {
	struct message *msgs;
	size_t n, cap, bytes;
	int rc;			/* 0 committed (every message), -1 not: retry it */
	struct store_result res; /* counts and acks of what did commit */
	int64_t ms;
};

/* One database connection with its thread, its held batch and the batch in flight. */
struct lane {
	struct db *db;
	struct store *store;
	struct message *batch;
	size_t n, cap, records;
	int64_t first_ms; /* when the oldest held message arrived */
	int64_t next_db_try_ms, backoff_ms;
	struct flight fl;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	enum flight_state state; /* under mu */
	bool quit;		 /* under mu */
	bool thread_started;
	bool busy; /* main thread's view: a batch was submitted and not collected yet */
};

struct ingest {
	struct payload_parser *parser;
	struct payload_limits limits;
	struct lane lanes[MAX_LANES];
	int n_lanes;
	size_t bytes; /* held and in flight, every lane */
	int64_t next_gap_ms, next_maintenance_ms;
	struct store_ack *acks;
	size_t n_acks, cap_acks;
	struct ingest_stats stats;
};

static void *db_thread(void *arg);

static int lane_connect(struct lane *ln)
{
	if (!ln->db) {
		if (db_connect(config.pg_conninfo, "coldtrace-ingest", &ln->db) < 0)
			return -1;
	} else if (db_reset(ln->db) < 0) {
		return -1;
	}
	if (!ln->store)
		return store_new(ln->db, config.topic_prefix, &ln->store);
	return store_prepare(ln->store);
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
	ing->n_lanes = config.db_lanes < 1 ? 1 : config.db_lanes > MAX_LANES ? MAX_LANES : (int)config.db_lanes;
	for (int i = 0; i < ing->n_lanes; i++) {
		struct lane *ln = &ing->lanes[i];
		ln->backoff_ms = BACKOFF_MIN_MS;
		pthread_mutex_init(&ln->mu, NULL);
		pthread_cond_init(&ln->cv, NULL);
		if (pthread_create(&ln->thread, NULL, db_thread, ln) != 0) {
			log_error("ingest: cannot start database thread %d", i);
			ingest_free(ing);
			return -1;
		}
		ln->thread_started = true;
	}
	for (int i = 0; i < ing->n_lanes; i++)
		if (lane_connect(&ing->lanes[i]) < 0) {
			log_warn("ingest: database not reachable yet; will retry");
			break;
		}
	*out = ing;
	return 0;
}

/* Stops a lane's thread. False when it is hanging on a batch and was left to the exit. */
static bool lane_stop(struct lane *ln, int i)
{
	bool busy;

	if (!ln->thread_started)
		return true;
	pthread_mutex_lock(&ln->mu);
	ln->quit = true;
	busy = ln->state == FLIGHT_QUEUED;
	pthread_cond_broadcast(&ln->cv);
	pthread_mutex_unlock(&ln->mu);
	if (busy) {
		log_error("ingest: lane %d: a batch is still being written; not waiting for it", i);
		pthread_detach(ln->thread);
		return false;
	}
	pthread_join(ln->thread, NULL);
	ln->thread_started = false;
	return true;
}

void ingest_free(struct ingest *ing)
{
	bool all_stopped = true;

	if (!ing)
		return;
	for (int i = 0; i < ing->n_lanes; i++)
		all_stopped &= lane_stop(&ing->lanes[i], i);
	if (!all_stopped)
		return; /* a thread still uses its lane: leave everything to the exit */
	for (int i = 0; i < ing->n_lanes; i++) {
		struct lane *ln = &ing->lanes[i];
		for (size_t k = 0; k < ln->fl.n; k++)
			payload_message_release(&ln->fl.msgs[k]);
		free(ln->fl.msgs);
		store_result_release(&ln->fl.res);
		for (size_t k = 0; k < ln->n; k++)
			payload_message_release(&ln->batch[k]);
		free(ln->batch);
		store_free(ln->store);
		db_free(ln->db);
		pthread_mutex_destroy(&ln->mu);
		pthread_cond_destroy(&ln->cv);
	}
	free(ing->acks);
	payload_parser_free(ing->parser);
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

/* The lane of a device: FNV-1a of its id. A device always uses the same lane, so its
 * messages are committed in the order they came, one batch after the other. */
static struct lane *lane_of(struct ingest *ing, const char *device)
{
	uint32_t h = 2166136261u;

	if (ing->n_lanes == 1)
		return &ing->lanes[0];
	for (const unsigned char *p = (const unsigned char *)device; *p; p++)
		h = (h ^ *p) * 16777619u;
	return &ing->lanes[h % (uint32_t)ing->n_lanes];
}

int ingest_add(struct ingest *ing, const char *topic, const void *payload, size_t len)
{
	struct message msg, *m = &msg;
	struct lane *ln;
	int rc;

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
	ln = lane_of(ing, m->device);
	if (ln->n == ln->cap) {
		size_t n = ln->cap ? ln->cap * 2 : 256;
		struct message *b = realloc(ln->batch, n * sizeof(*b));
		if (!b) {
			payload_message_release(m);
			return -1;
		}
		ln->batch = b;
		ln->cap = n;
	}
	if (m->reason)
		log_info("ingest: device %s: message rejected: %s (%s)", m->device, m->reason,
			 m->detail);
	if (ln->n == 0)
		ln->first_ms = ts_mono_ms();
	ln->batch[ln->n++] = *m;
	ln->records += m->n_records ? m->n_records : 1;
	ing->bytes += held_bytes(m);
	ing->stats.messages++;
	ing->stats.records += m->n_records;
	return 0;
}

bool ingest_full(const struct ingest *ing)
{
	if (ing->bytes >= (size_t)config.max_pending_bytes)
		return true;
	/* While a lane has a batch in flight, one more ready behind it is all that is worth
	 * holding: the rest waits in the broker as it would behind a blocking commit. */
	for (int i = 0; i < ing->n_lanes; i++)
		if (ing->lanes[i].busy && ing->lanes[i].records >= (size_t)config.batch_max_records)
			return true;
	return false;
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
static size_t chunk_size(const struct lane *ln)
{
	size_t k = 0, records = 0;

	while (k < ln->n && (k == 0 || records < (size_t)config.batch_max_records)) {
		records += ln->batch[k].n_records ? ln->batch[k].n_records : 1;
		k++;
	}
	return k;
}

/* Moves the oldest chunk of the lane's held batch into its (empty) flight. */
static int fill_flight(struct lane *ln)
{
	struct flight *fl = &ln->fl;
	size_t k = chunk_size(ln);

	if (k > fl->cap) {
		struct message *m = realloc(fl->msgs, k * sizeof(*m));
		if (!m)
			return -1;
		fl->msgs = m;
		fl->cap = k;
	}
	memcpy(fl->msgs, ln->batch, k * sizeof(*ln->batch));
	fl->n = k;
	fl->bytes = 0;
	for (size_t i = 0; i < k; i++) {
		ln->records -= ln->batch[i].n_records ? ln->batch[i].n_records : 1;
		fl->bytes += held_bytes(&ln->batch[i]);
	}
	memmove(ln->batch, ln->batch + k, (ln->n - k) * sizeof(*ln->batch));
	ln->n -= k;
	ln->first_ms = ts_mono_ms();
	return 0;
}

static void note_db_failure(struct ingest *ing, struct lane *ln, int64_t now_ms)
{
	ing->stats.flush_failures++;
	ln->next_db_try_ms = now_ms + ln->backoff_ms;
	ln->backoff_ms = ln->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ln->backoff_ms * 2;
}

/* Failures worth retrying as they are: lost connection, deadlock or serialization
 * (class 40), resources (53), shutdown (57). Anything else is about the data. */
static bool transient_failure(const struct db *db)
{
	const char *st = db_sqlstate(db);

	return db_lost(db) || strncmp(st, "40", 2) == 0 || strncmp(st, "53", 2) == 0 ||
	       strncmp(st, "57", 2) == 0 || strncmp(st, "08", 2) == 0 || st[0] == '\0';
}

/* ---- the database threads --------------------------------------------------------------- */

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
static int isolate_poison(struct lane *ln)
{
	struct flight *fl = &ln->fl;
	struct store_result res;

	for (size_t i = 0; i < fl->n; i++) {
		struct message *m = &fl->msgs[i];
		if (store_write(ln->store, m, 1, &res) == 0) {
			flight_take(fl, &res);
			continue;
		}
		if (transient_failure(ln->db))
			return -1;
		log_error("ingest: device %s: message refused by the database; dead-lettered whole",
			  m->device);
		m->reason = "store_failed";
		snprintf(m->detail, sizeof(m->detail), "%.150s", store_error(ln->store));
		if (store_write(ln->store, m, 1, &res) < 0)
			return -1;
		flight_take(fl, &res);
	}
	return 0;
}

/* One transaction for the flight (or one per message when it holds poison). */
static void write_flight(struct lane *ln)
{
	struct flight *fl = &ln->fl;
	struct store_result res;
	int64_t t0 = ts_mono_ms();

	fl->rc = -1;
	if (store_write(ln->store, fl->msgs, fl->n, &res) == 0) {
		flight_take(fl, &res);
		fl->rc = 0;
	} else if (!transient_failure(ln->db) && isolate_poison(ln) == 0) {
		fl->rc = 0;
	}
	fl->ms = ts_mono_ms() - t0;
}

static void *db_thread(void *arg)
{
	struct lane *ln = arg;

	pthread_mutex_lock(&ln->mu);
	for (;;) {
		while (ln->state != FLIGHT_QUEUED && !ln->quit)
			pthread_cond_wait(&ln->cv, &ln->mu);
		if (ln->state != FLIGHT_QUEUED)
			break;
		pthread_mutex_unlock(&ln->mu);
		write_flight(ln);
		pthread_mutex_lock(&ln->mu);
		ln->state = FLIGHT_DONE;
		pthread_cond_broadcast(&ln->cv);
	}
	pthread_mutex_unlock(&ln->mu);
	return NULL;
}

/* ---- the main thread's side ------------------------------------------------------------- */

static enum flight_state flight_state(struct lane *ln)
{
	enum flight_state st;

	pthread_mutex_lock(&ln->mu);
	st = ln->state;
	pthread_mutex_unlock(&ln->mu);
	return st;
}

static void submit(struct lane *ln)
{
	ln->busy = true;
	pthread_mutex_lock(&ln->mu);
	ln->state = FLIGHT_QUEUED;
	pthread_cond_broadcast(&ln->cv);
	pthread_mutex_unlock(&ln->mu);
}

/* Takes a finished flight back: its acks are queued for publication (they come only from
 * committed transactions), its messages freed when all committed, kept for a retry if not. */
static void collect(struct ingest *ing, struct lane *ln, int64_t now_ms)
{
	struct flight *fl = &ln->fl;
	struct store_result *res = &fl->res;

	if (!ln->busy || flight_state(ln) != FLIGHT_DONE)
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
		ln->backoff_ms = BACKOFF_MIN_MS;
	} else {
		note_db_failure(ing, ln, now_ms);
	}
	pthread_mutex_lock(&ln->mu);
	ln->state = FLIGHT_IDLE;
	pthread_mutex_unlock(&ln->mu);
	ln->busy = false;
}

static bool db_ready(struct ingest *ing, struct lane *ln, int64_t now_ms)
{
	if (ln->db && ln->store && db_alive(ln->db))
		return true;
	if (now_ms < ln->next_db_try_ms)
		return false;
	if (lane_connect(ln) < 0) {
		note_db_failure(ing, ln, now_ms);
		return false;
	}
	log_info("ingest: database connected (lane %d)", (int)(ln - ing->lanes));
	ln->backoff_ms = BACKOFF_MIN_MS;
	return true;
}

static bool flush_due(const struct ingest *ing, const struct lane *ln, int64_t now_ms, bool force)
{
	return ln->n > 0 && (force || ln->records >= (size_t)config.batch_max_records ||
			     now_ms - ln->first_ms >= config.batch_max_ms || ingest_full(ing));
}

static void check_gaps(struct ingest *ing, struct lane *ln, int64_t now_ms)
{
	struct store_result res;

	ing->next_gap_ms = now_ms + config.gap_check_s * 1000;
	if (store_close_gaps(ln->store, config.gap_timeout_s, &res) < 0) {
		note_db_failure(ing, ln, now_ms);
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

static void maintain(struct ingest *ing, struct lane *ln, int64_t now_ms)
{
	int dropped;

	ing->next_maintenance_ms = now_ms + config.maintenance_s * 1000;
	if (store_maintain(ln->store, config.retention_days, &dropped) < 0) {
		note_db_failure(ing, ln, now_ms);
		return;
	}
	if (dropped)
		log_info("ingest: retention dropped %d readings partitions older than %ld days", dropped,
			 config.retention_days);
}

/* Gap checks and maintenance run on lane 0's connection while no lane has a batch in flight:
 * a gap check's acks then follow every committed batch's acks in the queue, and every batch
 * committed after it sees what it did, so a device's published acks never go backwards. */
static void housekeeping(struct ingest *ing, int64_t now_ms, bool *hold)
{
	struct lane *ln = &ing->lanes[0];
	bool gap = now_ms >= ing->next_gap_ms, maint = now_ms >= ing->next_maintenance_ms;

	*hold = false;
	if ((!gap && !maint) || now_ms < ln->next_db_try_ms)
		return;
	for (int i = 0; i < ing->n_lanes; i++)
		if (ing->lanes[i].busy) {
			*hold = true; /* submit nothing more until the lanes are idle */
			return;
		}
	if (!db_ready(ing, ln, now_ms))
		return;
	if (gap)
		check_gaps(ing, ln, now_ms);
	if (maint && now_ms >= ln->next_db_try_ms)
		maintain(ing, ln, now_ms);
}

/* One turn: take back finished batches, do housekeeping when due, and send each idle lane
 * its next batch. Returns true when a batch is in flight. */
static bool step(struct ingest *ing, int64_t now_ms, bool force)
{
	bool hold, busy = false;

	for (int i = 0; i < ing->n_lanes; i++)
		collect(ing, &ing->lanes[i], now_ms);
	housekeeping(ing, now_ms, &hold);
	for (int i = 0; i < ing->n_lanes; i++) {
		struct lane *ln = &ing->lanes[i];
		if (ln->busy) {
			busy = true;
			continue;
		}
		if (hold)
			continue;
		if (ln->fl.n == 0 && flush_due(ing, ln, now_ms, force) && fill_flight(ln) < 0)
			log_error("ingest: out of memory moving a batch to the database thread");
		if (ln->fl.n == 0 || now_ms < ln->next_db_try_ms || !db_ready(ing, ln, now_ms))
			continue;
		submit(ln);
		busy = true;
	}
	return busy;
}

int ingest_tick(struct ingest *ing, int64_t now_ms)
{
	int64_t wait = 1000;

	if (step(ing, now_ms, false))
		return FLIGHT_POLL_MS;
	for (int i = 0; i < ing->n_lanes; i++) {
		const struct lane *ln = &ing->lanes[i];
		if (ln->n && ln->first_ms + config.batch_max_ms - now_ms < wait)
			wait = ln->first_ms + config.batch_max_ms - now_ms;
		if (now_ms < ln->next_db_try_ms && ln->next_db_try_ms - now_ms < wait)
			wait = ln->next_db_try_ms - now_ms;
	}
	return wait < 1 ? 1 : wait > 1000 ? 1000 : (int)wait;
}

static bool all_empty(const struct ingest *ing)
{
	for (int i = 0; i < ing->n_lanes; i++)
		if (ing->lanes[i].n || ing->lanes[i].fl.n)
			return false;
	return true;
}

int ingest_drain(struct ingest *ing, int64_t deadline_ms)
{
	for (;;) {
		int64_t now = ts_mono_ms();
		bool busy = step(ing, now, true);
		if (!busy && all_empty(ing))
			return 0;
		if (now >= deadline_ms)
			return -1;
		if (busy) {
			for (int i = 0; i < ing->n_lanes; i++) {
				struct lane *ln = &ing->lanes[i];
				pthread_mutex_lock(&ln->mu);
				while (ln->state == FLIGHT_QUEUED)
					pthread_cond_wait(&ln->cv, &ln->mu);
				pthread_mutex_unlock(&ln->mu);
			}
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
