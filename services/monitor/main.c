/*
 * coldtrace-monitor: watches for shipments with newly committed data, recomputes their
 * excursions and figures (evaluate), and delivers every excursion state change as an alert
 * on {prefix}/alerts/{shipment} and to the optional webhook (notify).
 *
 * DESIGN. One thread, one loop: evaluate what is queued, then hand unpublished alerts to the
 * broker (marked published on PUBACK) and to the webhook (marked on a 2xx), oldest first.
 * Alerts are rows first, so a monitor or broker restart only delays them, never loses them.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "evaluate.h"
#include "log.h"
#include "notify.h"
#include "ts.h"

static const char *const sql_unpublished =
	"SELECT shipment_id, id, payload::text FROM coldtrace.alerts WHERE published_at IS NULL "
	" ORDER BY created_at, id LIMIT 200";
static const char *const sql_published =
	"UPDATE coldtrace.alerts SET published_at = now() WHERE shipment_id = $1 AND id = $2::bigint";
static const char *const sql_unposted =
	"SELECT shipment_id, id, payload::text FROM coldtrace.alerts WHERE webhook_at IS NULL "
	" ORDER BY created_at, id LIMIT 50";
static const char *const sql_posted =
	"UPDATE coldtrace.alerts SET webhook_at = now() WHERE shipment_id = $1 AND id = $2::bigint";

static volatile sig_atomic_t stop_requested;

struct monitor {
	struct db *db;
	struct notify *notify;
};

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void on_delivered(void *ctx, const char *shipment, int64_t id)
{
	struct monitor *m = ctx;
	char ids[24];
	const char *p[2] = {shipment, ids};

	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	if (db_exec(m->db, sql_published, 2, p, NULL) < 0)
		log_warn("monitor: alert %s/%s published but not marked; it will be sent again",
			 shipment, ids);
}

static void publish_alerts(struct monitor *m)
{
	struct db_res *r = NULL;

	if (!notify_connected(m->notify) || db_exec(m->db, sql_unpublished, 0, NULL, &r) < 0)
		return;
	for (int i = 0; i < db_res_rows(r); i++)
		if (notify_publish(m->notify, db_res_get(r, i, 0), db_res_int(r, i, 1, 0),
				   db_res_get(r, i, 2)) < 0)
			break;
	db_res_free(r);
}

static void post_alerts(struct monitor *m)
{
	struct db_res *r = NULL;

	if (!config.webhook_url[0] || db_exec(m->db, sql_unposted, 0, NULL, &r) < 0)
		return;
	for (int i = 0; i < db_res_rows(r); i++) {
		const char *p[2] = {db_res_get(r, i, 0), db_res_get(r, i, 1)};
		if (notify_webhook(m->notify, db_res_get(r, i, 2)) < 0)
			break; /* the endpoint is down: retry later, in order */
		db_exec(m->db, sql_posted, 2, p, NULL);
	}
	db_res_free(r);
}

static void run(struct monitor *m)
{
	int64_t next_eval = 0;

	while (!stop_requested) {
		int64_t now = ts_mono_ms();
		if (!db_alive(m->db) && db_reset(m->db) < 0) {
			notify_run(m->notify, 1000);
			continue;
		}
		if (now >= next_eval) {
			struct evaluate_counts c = {0, 0, 0, 0};
			evaluate_pending(m->db, 50, config.max_sample_gap_s, &c);
			if (c.excursions_opened || c.excursions_escalated || c.excursions_closed)
				log_info("monitor: %d shipments evaluated: %d excursions opened, %d "
					 "escalated, %d closed",
					 c.shipments, c.excursions_opened, c.excursions_escalated,
					 c.excursions_closed);
			next_eval = now + config.monitor_interval_ms;
		}
		publish_alerts(m);
		post_alerts(m);
		notify_run(m->notify, 100);
	}
}

int main(int argc, char **argv)
{
	struct monitor m = {NULL, NULL};
	struct sigaction sa;
	int rc = 1;

	if (config_load(&argc, argv) < 0)
		return 2;
	if (argc > 1) {
		int help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
		FILE *out = help ? stdout : stderr;
		if (!help)
			fprintf(stderr, "coldtrace-monitor: unknown argument '%s'\n", argv[1]);
		fprintf(out, "usage: coldtrace-monitor [--config FILE] [--key=value …]\n\n"
			     "Evaluates shipments with new data and publishes excursion alerts.\n\n");
		config_print_help(out);
		config_release();
		return help ? 0 : 2;
	}
	log_init("coldtrace-monitor", config.log_level);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (db_connect(config.pg_conninfo, "coldtrace-monitor", &m.db) < 0 ||
	    notify_new(on_delivered, &m, &m.notify) < 0)
		goto out;
	log_info("monitor: ready");
	run(&m);
	rc = 0;
out:
	notify_free(m.notify);
	db_free(m.db);
	config_release();
	return rc;
}
