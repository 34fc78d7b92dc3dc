/*
 * flood: thousands of devices from one process. Each device {prefix}NNNNN publishes
 * `records` small readings (temperatures, rh, position) in batches, round-robin over all
 * devices, optionally capped at `rate` messages per second, and the run waits until the
 * ingest has acknowledged every record. Connections: one per device, logging in as itself
 * (what real devices do), or with --username a few shared connections of one privileged
 * account (for 10k-50k devices, where a socket each would measure the broker's connection
 * handling rather than the ingest).
 *
 * DESIGN.
 *  - Threads: none beyond main. The link hub polls every socket in one poll() call, so ten
 *    thousand connections cost ten thousand pollfds, not ten thousand threads; callbacks
 *    run on this thread and the per-device state needs no locks.
 *  - The "store" of a flood device is the generator itself: record `seq` of device i is a
 *    pure function of (i, seq, the run's start time), so a resend regenerates exactly the
 *    same bytes and memory stays O(1) per device however far the acks lag.
 *  - Record times: t = run start - (records - i) * 30 s for the i-th record of this run,
 *    so every record lies in the past and they are 30 s apart.
 *  - A device that already has a retained ack (an earlier run with the same names) carries
 *    on after it: this run's seqs start at acked + 1 rather than colliding with stored ones.
 *  - Resends follow link.c: everything above the ack after a reconnect, and after
 *    resend_after seconds without ack progress.
 *  - The run gives up when nothing (neither a new record nor an ack) has happened for
 *    ack_timeout seconds.
 */
#include "flood.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "log.h"

#define RECORD_SPACING_S 30
#define WINDOW_SHARED 1000 /* in-flight messages per shared connection */
#define WINDOW_OWN 16	   /* in-flight messages per device connection */
#define FDS_PER_LINK 3	   /* libmosquitto: the socket plus a socketpair */
#define PASS_MAX 256

struct flood_dev {
	struct link_device ld; /* first member: the hub hands out &ld */
	long long base;	       /* last seq before this run's first record */
	long records_made;     /* records of this run made available so far */
	bool done;	       /* all made and acknowledged */
};

struct flood {
	const struct flood_config *cfg;
	struct flood_dev *devs;
	struct link_hub *hub;
	long long t0; /* real time at the start: record times hang off it */
	double started, last_progress, next_report, last_refill, tokens;
	size_t cursor;
	long long made_total;
	long done_devices;
};

/* ---- records --------------------------------------------------------------------------- */

static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* Roughly N(0,1) from the four 16-bit quarters of a hash. */
static double gauss(uint64_t h)
{
	double s = 0;

	for (int i = 0; i < 4; i++)
		s += (double)((h >> (16 * i)) & 0xFFFF) / 65536.0;
	return (s - 2.0) * 1.7320508075688772;
}

static double unit(uint64_t h)
{
	return (double)(h >> 11) / 9007199254740992.0;
}

static int flood_record(void *ctx, const struct link_device *dev, long long seq, char *buf,
			size_t cap, size_t *len)
{
	const struct flood *f = ctx;
	const struct flood_dev *fd = (const struct flood_dev *)dev;
	uint64_t idx = (uint64_t)(fd - f->devs);
	uint64_t h = mix(idx * 0x9E3779B97F4A7C15ULL + (uint64_t)seq);
	uint64_t home = mix(idx + 0x5DEECE66DULL);
	long long i = seq - fd->base;
	double drift = (double)(i % 2000); /* bounded, so positions stay on the map */
	time_t t = (time_t)(f->t0 - (f->cfg->records - i) * RECORD_SPACING_S);
	char ts[32];
	struct tm tm;
	int n;

	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	/* Somewhere between Guiyang and Shenzhen, creeping along as seq grows. */
	n = snprintf(buf, cap,
		     "{\"seq\":%lld,\"t\":\"%s\",\"kind\":\"reading\",\"temp\":{\"supply\":%.1f,"
		     "\"return\":%.1f,\"product\":%.1f},\"rh\":%.1f,\"pos\":{\"lat\":%.5f,"
		     "\"lon\":%.5f}}",
		     seq, ts, 1.0 + 0.2 * gauss(h), 2.3 + 0.3 * gauss(mix(h + 1)),
		     2.0 + 0.15 * gauss(mix(h + 2)), 93.0 + 1.5 * gauss(mix(h + 3)),
		     22.6 + 4.0 * unit(home) - 0.0004 * drift,
		     106.7 + 7.3 * unit(mix(home)) + 0.0006 * drift);
	if (n < 0 || (size_t)n >= cap)
		return 1;
	*len = (size_t)n;
	return 0;
}

static struct link_device *flood_find(void *ctx, const char *id)
{
	struct flood *f = ctx;
	size_t plen = strlen(f->cfg->device_prefix);
	char *end;
	long n;

	if (strncmp(id, f->cfg->device_prefix, plen) != 0)
		return NULL;
	errno = 0;
	n = strtol(id + plen, &end, 10);
	if (errno || *end || n < 1 || n > f->cfg->devices)
		return NULL;
	if (strcmp(f->devs[n - 1].ld.id, id) != 0) /* e.g. "flood-1" vs "flood-00001" */
		return NULL;
	return &f->devs[n - 1].ld;
}

static void flood_check_done(struct flood *f, struct flood_dev *fd)
{
	if (!fd->done && fd->records_made == f->cfg->records &&
	    fd->ld.acked_seq >= fd->ld.last_seq) {
		fd->done = true;
		f->done_devices++;
	}
}

static void flood_acked(void *ctx, struct link_device *dev, bool retained)
{
	struct flood *f = ctx;
	struct flood_dev *fd = (struct flood_dev *)dev;

	if (retained && fd->records_made == 0 && dev->acked_seq > fd->base) {
		log_debug("%s: continuing after retained ack %lld", dev->id, dev->acked_seq);
		fd->base = dev->acked_seq;
		dev->last_seq = fd->base;
		return;
	}
	f->last_progress = link_now();
	flood_check_done(f, fd);
}

/* ---- setup ----------------------------------------------------------------------------- */

static int raise_fd_limit(rlim_t need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	if (rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
		log_error("%llu devices with a connection each need %llu file descriptors, the hard"
			  " limit is %llu: use --username (shared connections) or raise ulimit -n",
			  (unsigned long long)(need / FDS_PER_LINK), (unsigned long long)need,
			  (unsigned long long)rl.rlim_max);
		return -1;
	}
	rl.rlim_cur = need;
	return setrlimit(RLIMIT_NOFILE, &rl);
}

static void device_id(const struct flood *f, long i, char id[LINK_DEVICE_MAX + 1])
{
	snprintf(id, LINK_DEVICE_MAX + 1, "%s%05ld", f->cfg->device_prefix, i + 1);
}

/* Links first (shared: C of them; otherwise one per device), then the devices on them. */
static int add_links(struct flood *f, struct link **links, long nlinks)
{
	const struct flood_config *c = f->cfg;
	char client[LINK_DEVICE_MAX + 32], id[LINK_DEVICE_MAX + 1];

	for (long i = 0; i < nlinks; i++) {
		/* Stagger the connects (~10k/s) so the broker's accept queue keeps up. */
		double at = f->started + (double)(i / 100) * 0.01;

		if (c->username) {
			snprintf(client, sizeof(client), "sim-%s-%ld", c->username, i + 1);
		} else {
			device_id(f, i, id);
			snprintf(client, sizeof(client), "sim-%s", id);
		}
		if (link_add(f->hub, client, c->username ? c->username : id, c->password, at,
			     &links[i]) != 0)
			return -1;
	}
	for (long i = 0; i < c->devices; i++) {
		device_id(f, i, id);
		if (link_device_init(&f->devs[i].ld, id, links[i % nlinks], 0, 0) != 0)
			return -1;
	}
	return 0;
}

static int flood_setup(struct flood *f)
{
	const struct flood_config *c = f->cfg;
	struct link_hub_config hc = c->hub;
	struct link_callbacks cb = {flood_record, flood_find, flood_acked, f};
	long nlinks = c->devices;
	struct link **links = NULL;
	int rc = -1;

	if (c->username && c->connections < c->devices)
		nlinks = c->connections;
	if (!c->username && raise_fd_limit((rlim_t)nlinks * FDS_PER_LINK + 64) != 0)
		return -1;
	hc.window = c->username ? WINDOW_SHARED : WINDOW_OWN;
	f->devs = calloc((size_t)c->devices, sizeof(*f->devs));
	links = calloc((size_t)nlinks, sizeof(*links));
	if (!f->devs || !links || link_hub_new(&f->hub, &hc, &cb) != 0)
		goto out;
	rc = add_links(f, links, nlinks);
out:
	free(links);
	return rc;
}

/* ---- the run --------------------------------------------------------------------------- */

static void make_records(struct flood *f, struct flood_dev *fd, double now)
{
	long k = f->cfg->records - fd->records_made;

	if (k > f->cfg->hub.batch)
		k = f->cfg->hub.batch;
	fd->records_made += k;
	fd->ld.last_seq = fd->base + fd->records_made;
	f->made_total += k;
	f->last_progress = now;
}

/* One round-robin pass: each ready device gets at most one message, and the pass ends
 * after PASS_MAX messages so acks and PUBACKs are read between bursts (a subscriber that
 * falls behind has its QoS 1 messages dropped by a default-configured broker). */
static int schedule(struct flood *f, double now, long *budget)
{
	long n = f->cfg->devices, left = *budget < PASS_MAX ? *budget : PASS_MAX;
	long used = 0;

	for (long k = 0; k < n && used < left; k++) {
		struct flood_dev *fd = &f->devs[f->cursor];
		int rc;

		f->cursor = (f->cursor + 1) % (size_t)n;
		if (fd->done || !link_ready(&fd->ld, now))
			continue;
		if (fd->ld.sent_upto >= fd->ld.last_seq && fd->records_made < f->cfg->records)
			make_records(f, fd, now);
		rc = link_pump(&fd->ld, now, 1);
		if (rc < 0)
			return rc;
		used += rc;
	}
	*budget -= used;
	return 0;
}

static long refill(struct flood *f, double now)
{
	double rate = f->cfg->rate;

	if (rate <= 0)
		return 1L << 40;
	/* A tenth of a second of burst at most keeps the rate smooth. */
	f->tokens = fmin(f->tokens + rate * (now - f->last_refill), rate * 0.1 + 1);
	f->last_refill = now;
	return (long)f->tokens;
}

static long long acked_records(const struct flood *f)
{
	long long n = 0;

	for (long i = 0; i < f->cfg->devices; i++) {
		const struct flood_dev *fd = &f->devs[i];

		if (fd->ld.acked_seq > fd->base)
			n += fd->ld.acked_seq - fd->base;
	}
	return n;
}

static void report(struct flood *f, double now)
{
	struct link_stats st;

	if (!f->cfg->progress || now < f->next_report)
		return;
	f->next_report = now + 1.0;
	link_hub_stats(f->hub, &st);
	fprintf(stderr,
		"flood: %5.1fs made %lld/%lld acked %lld msgs %lld resent %lld done %ld/%ld "
		"links %zu/%zu\n",
		now - f->started, f->made_total, (long long)f->cfg->devices * f->cfg->records,
		acked_records(f), st.published_msgs, st.resent_records, f->done_devices,
		f->cfg->devices, st.links_up, st.links);
}

static void summary(const struct flood *f, double now)
{
	struct link_stats st;
	char wait[32] = "null";

	link_hub_stats(f->hub, &st);
	if (st.first_ack_at >= 0 && st.first_pub_at >= 0)
		snprintf(wait, sizeof(wait), "%.3f", st.first_ack_at - st.first_pub_at);
	printf("{\"devices\":%ld,\"records\":%lld,\"published_msgs\":%lld,\"resent_records\":%lld,"
	       "\"elapsed_s\":%.3f,\"acked_all\":%s,\"first_ack_wait_s\":%s}\n",
	       f->cfg->devices, f->made_total, st.published_msgs, st.resent_records,
	       now - f->started, f->done_devices == f->cfg->devices ? "true" : "false", wait);
	fflush(stdout);
}

static int flood_loop(struct flood *f, const volatile sig_atomic_t *stop)
{
	int timeout_ms = 0;

	while (!*stop && f->done_devices < f->cfg->devices) {
		double now;
		long budget, before;

		if (link_hub_poll(f->hub, timeout_ms) != 0)
			return -1;
		now = link_now();
		before = budget = refill(f, now);
		if (schedule(f, now, &budget) != 0)
			return -1;
		if (f->cfg->rate > 0)
			f->tokens -= (double)(before - budget);
		/* Spin while there is work; otherwise sleep in poll() for acks and tokens. */
		timeout_ms = before == budget ? 10 : 0;
		report(f, now);
		if (now - f->last_progress >= f->cfg->ack_timeout) {
			log_error("no progress for %.0f s: %ld of %ld devices fully acknowledged",
				  f->cfg->ack_timeout, f->done_devices, f->cfg->devices);
			return -1;
		}
	}
	return 0;
}

int flood_run(const struct flood_config *cfg, const volatile sig_atomic_t *stop)
{
	struct flood f = {0};
	int rc = 1;

	f.cfg = cfg;
	f.t0 = (long long)time(NULL);
	f.started = f.last_progress = f.last_refill = f.next_report = link_now();
	if (flood_setup(&f) != 0)
		goto out;
	log_info("flood: %ld devices x %ld records, %s, batch %d, rate %s", cfg->devices,
		 cfg->records, cfg->username ? "shared connections" : "a connection per device",
		 cfg->hub.batch, cfg->rate > 0 ? "capped" : "unlimited");
	if (flood_loop(&f, stop) == 0 && !*stop)
		rc = 0;
	if (*stop)
		log_warn("flood: stopped by signal");
	f.next_report = 0; /* a last status line, whenever the previous one was */
	report(&f, link_now());
	summary(&f, link_now());
out:
	link_hub_free(f.hub);
	free(f.devs);
	return rc;
}
