/*
 * coldtrace-ingest: MQTT uplinks → PostgreSQL, with the delivery guarantee of the device
 * protocol. main wires the modules: mqtt (broker), ingest (batches, store, acks), and owns
 * the loop, the signals and the shutdown order.
 *
 * DESIGN. The main thread owns the broker connection and everything MQTT; ingest runs one
 * thread per database lane that only commits batches (see ingest.c). Each turn: service the broker for
 * at most the time until the next batch is due, or 1 ms while a batch is being committed
 * (reading only while the held batch is under its bound), hand over what is due, publish
 * the acks of committed transactions. SIGTERM/SIGINT: stop reading, commit everything held,
 * publish the last acks, wait for their PUBACKs, disconnect.
 */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "ingest.h"
#include "log.h"
#include "mqtt.h"
#include "ts.h"

#define DRAIN_TIMEOUT_MS 30000
#define STATS_EVERY_MS 30000

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int take_message(void *ctx, const char *topic, const void *payload, size_t len)
{
	return ingest_add(ctx, topic, payload, len);
}

static void publish_acks(struct ingest *ing, struct mqtt *mq)
{
	size_t n, done = 0;
	const struct store_ack *acks = ingest_acks(ing, &n);

	while (done < n && mqtt_acks_in_flight(mq) < MQTT_ACKS_IN_FLIGHT &&
	       mqtt_publish_ack(mq, acks[done].device, acks[done].acked_seq) == 0)
		done++;
	ingest_acks_done(ing, done);
}

static void log_stats(const struct ingest *ing)
{
	const struct ingest_stats *s = ingest_stats(ing);

	log_info("ingest: messages=%llu records=%llu readings=%llu events=%llu duplicates=%llu "
		 "conflicts=%llu dead_letters=%llu flushes=%llu flush_failures=%llu acks=%llu "
		 "gaps=%llu last_flush_ms=%lld",
		 (unsigned long long)s->messages, (unsigned long long)s->records,
		 (unsigned long long)s->readings, (unsigned long long)s->events,
		 (unsigned long long)s->duplicates, (unsigned long long)s->conflicts,
		 (unsigned long long)s->dead_letters, (unsigned long long)s->flushes,
		 (unsigned long long)s->flush_failures, (unsigned long long)s->acks,
		 (unsigned long long)s->gaps_closed, (long long)s->last_flush_ms);
}

static void run(struct ingest *ing, struct mqtt *mq)
{
	int64_t next_stats = ts_mono_ms() + STATS_EVERY_MS;
	int wait = 10;

	while (!stop_requested) {
		mqtt_run(mq, wait, !ingest_full(ing));
		int64_t now = ts_mono_ms();
		wait = ingest_tick(ing, now);
		publish_acks(ing, mq);
		if (now >= next_stats) {
			log_stats(ing);
			next_stats = now + STATS_EVERY_MS;
		}
	}
}

static void shut_down(struct ingest *ing, struct mqtt *mq)
{
	log_info("ingest: stopping; committing what is held");
	if (ingest_drain(ing, ts_mono_ms() + DRAIN_TIMEOUT_MS) < 0)
		log_error("ingest: database unreachable; held messages are left to the devices' resends");
	publish_acks(ing, mq);
	/* Waiting for the acks' PUBACKs may read a few more uplinks: commit those too. */
	mqtt_finish(mq, 5000);
	if (ingest_drain(ing, ts_mono_ms() + DRAIN_TIMEOUT_MS) == 0)
		publish_acks(ing, mq);
	log_stats(ing);
}

static void usage(FILE *out)
{
	fprintf(out, "usage: coldtrace-ingest [--config FILE] [--key=value …]\n\n"
		     "Consumes device uplinks from MQTT and stores them in PostgreSQL.\n\n");
	config_print_help(out);
}

int main(int argc, char **argv)
{
	struct ingest *ing = NULL;
	struct mqtt *mq = NULL;
	struct sigaction sa;
	int rc = 1;

	if (config_load(&argc, argv) < 0) {
		usage(stderr);
		return 2;
	}
	if (argc > 1) {
		int help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
		if (!help)
			fprintf(stderr, "coldtrace-ingest: unknown argument '%s'\n", argv[1]);
		usage(help ? stdout : stderr);
		config_release();
		return help ? 0 : 2;
	}
	log_init("coldtrace-ingest", config.log_level);
	/* Each batch allocates and frees a few MiB of messages. Without this glibc hands the
	 * freed top of the heap back to the kernel after every commit and the next batch faults
	 * it in again, zeroed: measured at 16 % of the ingest's CPU. */
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (ingest_new(&ing) < 0 || mqtt_new(take_message, ing, &mq) < 0) {
		log_error("ingest: cannot start");
		goto out;
	}
	run(ing, mq);
	shut_down(ing, mq);
	rc = 0;
out:
	mqtt_free(mq);
	ingest_free(ing);
	config_release();
	return rc;
}
