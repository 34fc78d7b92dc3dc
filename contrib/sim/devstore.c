/*
 * devstore: the simulated device's flash. Records go to an append-only log and stay there
 * until acknowledged; the unacknowledged ones are also kept in memory for resending.
 *
 * DESIGN. Invariants, and why they survive kill -9 at any instant:
 *  - records.log holds lines "SEQ JSON\n" with contiguous seqs. Appends are one write() per
 *    batch followed by fsync(); a crash can only leave a torn tail, which the next open
 *    truncates (a line without '\n', or that does not parse, ends the log).
 *  - state is replaced atomically (write state.tmp, fsync, rename, fsync the directory), so
 *    it is always either the old or the new version.
 *  - The log only ever loses lines at or below the acked seq recorded in state: compaction
 *    writes state first, then renames a new log holding only seq > acked over the old one.
 *    Hence last_seq = max(last line of the log, acked in state), and a log that starts above
 *    acked + 1 proves that state's acked is stale (acked = first line - 1).
 *  - acked in state is a cache: the retained ack on the broker is the truth. A stale value
 *    only costs a resend of records the ingest already has, which it ignores.
 *  - One process at a time: flock() on the lock file, released by the kernel on any death.
 */
#include "devstore.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define LOG_NAME "records.log"
#define LOG_TMP "records.log.tmp"
#define STATE_NAME "state"
#define STATE_TMP "state.tmp"
#define LOCK_NAME "lock"
#define COMPACT_MIN 1024 /* acknowledged lines tolerated in the log before rewriting it */
#define LOG_MAX_BYTES (1L << 30)

struct rec {
	char *text;
	size_t len;
};

struct devstore {
	char dir[PATH_MAX];
	int dirfd, logfd, lockfd;
	long long acked;      /* everything <= acked is with the ingest */
	long long last;	      /* highest seq stored */
	long long disk_first; /* lowest seq still in records.log, 0 when it is empty */
	off_t log_size;
	struct rec *recs; /* recs[i] has seq first + i; all above acked */
	long long first;
	size_t nrecs, cap;
	struct devstore_trip trip;
	bool has_trip;
	long long state_last; /* last_seq as the state file last said (diagnostics only) */
};

/* ---- small file helpers ---------------------------------------------------------------- */

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0755) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* Reads a whole file below dirfd; *buf is NULL and *len 0 when it does not exist. */
static int read_file(int dirfd, const char *name, char **buf, size_t *len)
{
	struct stat st;
	char *p = NULL;
	size_t got = 0;
	int fd, rc = -1;

	*buf = NULL;
	*len = 0;
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) != 0 || st.st_size > LOG_MAX_BYTES)
		goto out;
	p = malloc((size_t)st.st_size + 1);
	if (!p)
		goto out;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, p + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	p[got] = '\0';
	*buf = p;
	*len = got;
	p = NULL;
	rc = 0;
out:
	free(p);
	close(fd);
	return rc;
}

/* Atomic replace: name.tmp, fsync, rename, fsync of the directory. */
static int replace_file(struct devstore *s, const char *tmp, const char *name, const char *buf,
			size_t len)
{
	int fd, rc = -1;

	fd = openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		goto out;
	if (write_all(fd, buf, len) != 0 || fsync(fd) != 0)
		goto out;
	if (renameat(s->dirfd, tmp, s->dirfd, name) != 0 || fsync(s->dirfd) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		log_error("%s/%s: cannot write: %s", s->dir, name, strerror(errno));
	if (fd >= 0)
		close(fd);
	return rc;
}

/* ---- state ----------------------------------------------------------------------------- */

static int state_write(struct devstore *s)
{
	char buf[1024];
	int n;

	n = snprintf(buf, sizeof(buf),
		     "# coldtrace-sim device store; records.log holds what is not yet acked\n"
		     "acked_seq %lld\nlast_seq %lld\n",
		     s->acked, s->last);
	if (s->has_trip)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n,
			      "trip_key %s\ntrip_shipment %s\ntrip_base %lld\ntrip_start %lld\n"
			      "trip_seed %llu\ntrip_end %lld\ntrip_done %d\n",
			      s->trip.key, s->trip.shipment, s->trip.base_seq, s->trip.start,
			      s->trip.seed, s->trip.end, s->trip.done ? 1 : 0);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	return replace_file(s, STATE_TMP, STATE_NAME, buf, (size_t)n);
}

static int parse_ll(const char *v, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(v, &end, 10);
	return (end == v || errno != 0 || *out < 0) ? -1 : 0;
}

static int state_apply(struct devstore *s, const char *key, const char *v)
{
	long long n = 0;
	int rc = 0;

	if (strcmp(key, "trip_key") == 0 || strcmp(key, "trip_shipment") == 0) {
		char *dst = key[5] == 'k' ? s->trip.key : s->trip.shipment;
		size_t cap = key[5] == 'k' ? sizeof(s->trip.key) : sizeof(s->trip.shipment);

		s->has_trip = true;
		return (size_t)snprintf(dst, cap, "%s", v) < cap ? 0 : -1;
	}
	if (strcmp(key, "trip_seed") == 0) {
		char *end;

		errno = 0;
		s->trip.seed = strtoull(v, &end, 10);
		return (end == v || errno != 0) ? -1 : 0;
	}
	rc = parse_ll(v, &n);
	if (strcmp(key, "acked_seq") == 0)
		s->acked = n;
	else if (strcmp(key, "last_seq") == 0)
		s->state_last = n;
	else if (strcmp(key, "trip_base") == 0)
		s->trip.base_seq = n;
	else if (strcmp(key, "trip_start") == 0)
		s->trip.start = n;
	else if (strcmp(key, "trip_end") == 0)
		s->trip.end = n;
	else if (strcmp(key, "trip_done") == 0)
		s->trip.done = n != 0;
	return rc; /* unknown keys are ignored: a newer simulator may add some */
}

static int state_read(struct devstore *s)
{
	char *buf, *line, *nl;
	size_t len;
	int rc = 0;

	if (read_file(s->dirfd, STATE_NAME, &buf, &len) != 0) {
		log_error("%s/%s: cannot read: %s", s->dir, STATE_NAME, strerror(errno));
		return -1;
	}
	for (line = buf; line && *line && rc == 0; line = nl ? nl + 1 : NULL) {
		char *sp;

		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		sp = strchr(line, ' ');
		if (line[0] == '#' || !sp)
			continue;
		*sp = '\0';
		rc = state_apply(s, line, sp + 1);
		if (rc != 0)
			log_error("%s/%s: bad value for %s: '%s'", s->dir, STATE_NAME, line,
				  sp + 1);
	}
	free(buf);
	return rc;
}

/* ---- records in memory ----------------------------------------------------------------- */

static int mem_push(struct devstore *s, long long seq, const char *text, size_t len)
{
	char *copy;

	if (s->nrecs == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		struct rec *r = realloc(s->recs, cap * sizeof(*r));

		if (!r)
			return -1;
		s->recs = r;
		s->cap = cap;
	}
	copy = malloc(len + 1);
	if (!copy)
		return -1;
	memcpy(copy, text, len);
	copy[len] = '\0';
	if (s->nrecs == 0)
		s->first = seq;
	s->recs[s->nrecs].text = copy;
	s->recs[s->nrecs].len = len;
	s->nrecs++;
	return 0;
}

/* Drops records <= acked from memory. */
static void mem_trim(struct devstore *s)
{
	size_t drop = 0;

	while (drop < s->nrecs && s->first + (long long)drop <= s->acked)
		free(s->recs[drop++].text);
	if (drop == 0)
		return;
	memmove(s->recs, s->recs + drop, (s->nrecs - drop) * sizeof(*s->recs));
	s->nrecs -= drop;
	s->first += (long long)drop;
}

/* ---- the log --------------------------------------------------------------------------- */

/* The JSON of a stored record must announce the seq its line carries. */
static bool text_has_seq(const char *text, size_t len, long long seq)
{
	char head[32];
	int n = snprintf(head, sizeof(head), "{\"seq\":%lld,", seq);

	return n > 0 && (size_t)n < len && memcmp(text, head, (size_t)n) == 0 &&
	       text[len - 1] == '}';
}

/* One line "SEQ JSON\n" at p; returns its length or 0 when torn or malformed. */
static size_t log_line(const char *p, const char *end, long long expect, const char **text,
		       size_t *tlen)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	long long seq;
	char *sp;

	if (!nl)
		return 0;
	errno = 0;
	seq = strtoll(p, &sp, 10);
	if (sp == p || *sp != ' ' || errno != 0 || seq < 1 || (expect && seq != expect))
		return 0;
	*text = sp + 1;
	*tlen = (size_t)(nl - *text);
	if (*tlen == 0 || !text_has_seq(*text, *tlen, seq))
		return 0;
	return (size_t)(nl - p) + 1;
}

static int truncate_log(struct devstore *s, off_t size)
{
	int fd = openat(s->dirfd, LOG_NAME, O_WRONLY | O_CLOEXEC), rc = -1;

	if (fd >= 0 && ftruncate(fd, size) == 0 && fsync(fd) == 0)
		rc = 0;
	if (rc != 0)
		log_error("%s/%s: cannot truncate: %s", s->dir, LOG_NAME, strerror(errno));
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Loads records.log; cuts it after its last good line. */
static int log_load(struct devstore *s)
{
	char *buf;
	size_t len, off = 0;
	long long seq = 0;
	int rc = -1;

	if (read_file(s->dirfd, LOG_NAME, &buf, &len) != 0) {
		log_error("%s/%s: cannot read: %s", s->dir, LOG_NAME, strerror(errno));
		return -1;
	}
	while (off < len) {
		const char *text;
		size_t tlen, n = log_line(buf + off, buf + len, seq ? seq + 1 : 0, &text, &tlen);

		if (n == 0)
			break;
		seq = strtoll(buf + off, NULL, 10);
		if (s->disk_first == 0)
			s->disk_first = seq;
		if (seq > s->acked && mem_push(s, seq, text, tlen) != 0)
			goto out;
		off += n;
	}
	if (off < len) {
		log_warn("%s/%s: dropping %zu bytes of torn or damaged tail after seq %lld", s->dir,
			 LOG_NAME, len - off, seq);
		if (truncate_log(s, (off_t)off) != 0)
			goto out;
	}
	s->log_size = (off_t)off;
	s->last = seq;
	rc = 0;
out:
	free(buf);
	return rc;
}

static int log_open(struct devstore *s)
{
	s->logfd = openat(s->dirfd, LOG_NAME, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (s->logfd < 0 || fsync(s->dirfd) != 0) {
		log_error("%s/%s: cannot open for appending: %s", s->dir, LOG_NAME,
			  strerror(errno));
		return -1;
	}
	return 0;
}

/* Lines "SEQ JSON\n" for records first..first+n-1, in a new buffer. */
static char *format_lines(long long first, const char *const *texts, const size_t *lens, size_t n,
			  size_t *len_out)
{
	size_t total = 0, used = 0;
	char *buf;

	for (size_t i = 0; i < n; i++)
		total += lens[i] + 22;
	buf = malloc(total + 1);
	if (!buf)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		used +=
		    (size_t)snprintf(buf + used, total + 1 - used, "%lld ", first + (long long)i);
		memcpy(buf + used, texts[i], lens[i]);
		used += lens[i];
		buf[used++] = '\n';
	}
	*len_out = used;
	return buf;
}

/* Rewrites the log with only the unacknowledged records; state first (see DESIGN). */
static int compact(struct devstore *s)
{
	const char **texts = NULL;
	size_t *lens = NULL, len = 0;
	char *buf = NULL;
	int rc = -1;

	if (state_write(s) != 0)
		return -1;
	texts = calloc(s->nrecs + 1, sizeof(*texts));
	lens = calloc(s->nrecs + 1, sizeof(*lens));
	if (!texts || !lens)
		goto out;
	for (size_t i = 0; i < s->nrecs; i++) {
		texts[i] = s->recs[i].text;
		lens[i] = s->recs[i].len;
	}
	buf = format_lines(s->first, texts, lens, s->nrecs, &len);
	if (!buf || replace_file(s, LOG_TMP, LOG_NAME, buf, len) != 0)
		goto out;
	close(s->logfd);
	if (log_open(s) != 0)
		goto out;
	log_debug("%s: compacted the log to %zu unacknowledged records", s->dir, s->nrecs);
	s->log_size = (off_t)len;
	s->disk_first = s->nrecs ? s->first : 0;
	rc = 0;
out:
	free(buf);
	free(texts);
	free(lens);
	return rc;
}

/* Makes the loaded log and state agree (see DESIGN for why each rule is safe). */
static void reconcile(struct devstore *s)
{
	if (s->disk_first > s->acked + 1) {
		log_warn("%s: state says acked %lld but the log starts at %lld; using %lld", s->dir,
			 s->acked, s->disk_first, s->disk_first - 1);
		s->acked = s->disk_first - 1;
	}
	if (s->acked > s->last)
		s->last = s->acked;
	if (s->state_last > s->last)
		log_warn("%s: records %lld..%lld never reached the disk; they will be regenerated",
			 s->dir, s->last + 1, s->state_last);
}

static int store_lock(struct devstore *s)
{
	s->lockfd = openat(s->dirfd, LOCK_NAME, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (s->lockfd < 0) {
		log_error("%s/%s: cannot open: %s", s->dir, LOCK_NAME, strerror(errno));
		return -1;
	}
	if (flock(s->lockfd, LOCK_EX | LOCK_NB) != 0) {
		log_error("%s: store is in use by another process (%s)", s->dir, strerror(errno));
		return -1;
	}
	return 0;
}

int devstore_new(struct devstore **out, const char *dir)
{
	struct devstore *s;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -1;
	s->dirfd = s->logfd = s->lockfd = -1;
	if ((size_t)snprintf(s->dir, sizeof(s->dir), "%s", dir) >= sizeof(s->dir) ||
	    mkdir_p(dir) != 0) {
		log_error("%s: cannot create the store directory: %s", dir, strerror(errno));
		goto fail;
	}
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		log_error("%s: cannot open: %s", dir, strerror(errno));
		goto fail;
	}
	if (store_lock(s) != 0 || state_read(s) != 0 || log_load(s) != 0)
		goto fail;
	reconcile(s);
	if (log_open(s) != 0)
		goto fail;
	log_info("%s: store open, last seq %lld, acked %lld, %zu unacknowledged", dir, s->last,
		 s->acked, s->nrecs);
	*out = s;
	return 0;
fail:
	devstore_free(s);
	return -1;
}

void devstore_free(struct devstore *s)
{
	if (!s)
		return;
	if (s->logfd >= 0) {
		if (s->disk_first && s->disk_first <= s->acked)
			compact(s);
		else
			state_write(s);
	}
	for (size_t i = 0; i < s->nrecs; i++)
		free(s->recs[i].text);
	free(s->recs);
	if (s->logfd >= 0)
		close(s->logfd);
	if (s->lockfd >= 0)
		close(s->lockfd); /* releases the flock */
	if (s->dirfd >= 0)
		close(s->dirfd);
	free(s);
}

long long devstore_last_seq(const struct devstore *s)
{
	return s->last;
}

long long devstore_acked_seq(const struct devstore *s)
{
	return s->acked;
}

static int check_texts(const struct devstore *s, const char *const *texts, const size_t *lens,
		       size_t n)
{
	for (size_t i = 0; i < n; i++) {
		long long seq = s->last + 1 + (long long)i;

		if (!text_has_seq(texts[i], lens[i], seq) || memchr(texts[i], '\n', lens[i])) {
			log_error(
			    "%s: refusing to store record %lld: its text is not {\"seq\":%lld,…}"
			    " on one line",
			    s->dir, seq, seq);
			return -1;
		}
	}
	return 0;
}

int devstore_append(struct devstore *s, const char *const *texts, const size_t *lens, size_t n)
{
	size_t len;
	char *buf;
	int rc = -1;

	if (n == 0)
		return 0;
	if (check_texts(s, texts, lens, n) != 0)
		return -1;
	buf = format_lines(s->last + 1, texts, lens, n, &len);
	if (!buf)
		return -1;
	if (write_all(s->logfd, buf, len) != 0 || fsync(s->logfd) != 0) {
		log_error("%s/%s: cannot append records %lld..%lld: %s", s->dir, LOG_NAME,
			  s->last + 1, s->last + (long long)n, strerror(errno));
		/* Do not leave half a batch behind for the next append to follow. */
		if (ftruncate(s->logfd, s->log_size) != 0)
			log_warn("%s/%s: cannot cut back the failed append", s->dir, LOG_NAME);
		goto out;
	}
	s->log_size += (off_t)len;
	for (size_t i = 0; i < n; i++) {
		if (mem_push(s, s->last + 1, texts[i], lens[i]) != 0)
			goto out;
		if (s->disk_first == 0)
			s->disk_first = s->last + 1;
		s->last++;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

int devstore_get(const struct devstore *s, long long seq, const char **text, size_t *len)
{
	if (s->nrecs == 0 || seq < s->first || seq >= s->first + (long long)s->nrecs)
		return -1;
	*text = s->recs[seq - s->first].text;
	*len = s->recs[seq - s->first].len;
	return 0;
}

int devstore_ack(struct devstore *s, long long acked)
{
	/* An ack above our last record is about records this store never had (a reset
	 * store): they are not ours to forget. */
	if (acked > s->last)
		acked = s->last;
	if (acked <= s->acked)
		return 0;
	s->acked = acked;
	mem_trim(s);
	if (s->disk_first && s->acked - s->disk_first + 1 >= COMPACT_MIN)
		return compact(s);
	return 0;
}

bool devstore_trip(const struct devstore *s, struct devstore_trip *out)
{
	if (s->has_trip)
		*out = s->trip;
	return s->has_trip;
}

int devstore_set_trip(struct devstore *s, const struct devstore_trip *t)
{
	s->trip = *t;
	s->has_trip = true;
	return state_write(s);
}
