/*
 * test_payload: the device protocol v1 parser (services/common/payload.c) against the fixture
 * corpus in tests/fixtures/payloads and against targeted cases built in code.
 *
 * Fixture corpus. The directory is $COLDTRACE_FIXTURES, else tests/fixtures/payloads (the
 * suite runs from the repository root). Every file becomes its own cmocka test:
 *
 *   valid/NAME.json      must parse (rc 0) with every record valid.
 *   invalid/NAME.json    needs invalid/NAME.expect, whose lines are
 *                          topic DEVICE            optional, first line only
 *                          message REASON          the whole message is rejected, or
 *                          record INDEX REASON     one line per failing record
 *                        Records not listed must be valid. Lines starting with # are
 *                        comments (a fixture that shows a known source bug says so there).
 *
 * The payload arrives on "coldtrace/v1/dev/DEVICE/up"; DEVICE is the `topic` line, else the
 * string value of the first "device" key of the file, else gz-reefer-0042 (the device every
 * fixture uses). It goes through payload_topic_device like the ingest's does.
 *
 * Times. The age and future rules need times relative to the clock, so fixtures write
 *   @NOW[(+|-)N(d|h|m|s)...][.DIGITS][Z|z|(+|-)HH:MM]@
 * e.g. @NOW-10m@, @NOW-9m53s@, @NOW-2h+08:00@, @NOW-1h.123456789@. "Now" is the current whole
 * second; the placeholder becomes an RFC 3339 time of now + delta, written in the given offset
 * (Z by default) with the fraction digits copied verbatim. The parser is called with that same
 * now and the ingest's default limits (max age 30 days, max future 300 s), so boundaries are
 * exact: @NOW+5m@ and @NOW-30d@ are still accepted, one second more is not.
 *
 * Besides each fixture's reasons the runner checks what must hold for every message: the
 * record count equals the elements of "records" (counted by a bracket scanner independent of
 * the parser: nothing is dropped silently), valid records satisfy the protocol's invariants,
 * failing ones carry a detail, and payload_original() gives back the untouched bytes of each
 * record.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "payload.h"

#define US INT64_C(1000000)
#define MIN_US (60 * US)
#define HOUR_US (3600 * US)
#define DAY_US (86400 * US)

#define FIXTURE_DEVICE "gz-reefer-0042"
#define TOPIC_PREFIX "coldtrace/v1"

static const struct payload_limits limits = {30 * DAY_US, 300 * US};

/* Every reason the parser can give; the corpus must show each of those not generated in code. */
static const char *const all_reasons[] = {
    "invalid_json",
    "invalid_utf8",
    "payload_too_large",
    "too_many_records",
    "too_deeply_nested",
    "bad_envelope",
    "device_mismatch",
    "bad_record",
    "bad_seq",
    "bad_time",
    "time_in_future",
    "time_too_old",
    "bad_kind",
    "missing_measurement",
    "bad_value",
    "bad_probe",
    "temp_out_of_range",
    "rh_out_of_range",
    "lat_out_of_range",
    "lon_out_of_range",
    "bad_position",
    "bad_door",
    "bad_event_type",
    "missing_custody",
    "bad_gln",
    "bad_gtin",
    "bad_lot",
    "bad_sscc",
};
#define N_REASONS (sizeof(all_reasons) / sizeof(all_reasons[0]))

/* ---- small helpers ------------------------------------------------------------------- */

static void check_near(double got, double want, double eps, const char *what)
{
	if (!(fabs(got - want) <= eps)) {
		print_error("%s: got %.9g, want %.9g\n", what, got, want);
		fail();
	}
}

static void check_span(struct span s, const char *want, const char *what)
{
	size_t n = strlen(want);

	if (s.len != n || (n && memcmp(s.ptr, want, n) != 0)) {
		print_error("%s: got '%.*s' (%zu bytes), want '%s' (%zu bytes)\n", what, (int)s.len,
			    s.ptr ? s.ptr : "", s.len, want, n);
		fail();
	}
}

static bool reason_known(const char *r)
{
	for (size_t i = 0; i < N_REASONS; i++)
		if (strcmp(all_reasons[i], r) == 0)
			return true;
	return false;
}

static int64_t whole_second_now_us(void)
{
	return (int64_t)time(NULL) * US;
}

static const char *fixture_root(void)
{
	const char *env = getenv("COLDTRACE_FIXTURES");

	return env && *env ? env : "tests/fixtures/payloads";
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = (n + 4096 + 1) * 2;
			char *nb = realloc(buf, cap);
			assert_non_null(nb);
			buf = nb;
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* ---- @NOW…@ placeholders -------------------------------------------------------------- */

static bool parse_delta(const char *s, size_t n, size_t *at, int64_t *delta_s)
{
	size_t j = *at;
	int64_t total = 0;
	int sign, terms = 0;

	if (j >= n || (s[j] != '+' && s[j] != '-'))
		return false;
	sign = s[j] == '-' ? -1 : 1;
	j++;
	for (;;) {
		size_t k = j;
		int64_t v = 0, unit;

		while (k < n && isdigit((unsigned char)s[k]))
			v = v * 10 + (s[k++] - '0');
		if (k == j || k >= n)
			break;
		switch (s[k]) {
		case 's':
			unit = 1;
			break;
		case 'm':
			unit = 60;
			break;
		case 'h':
			unit = 3600;
			break;
		case 'd':
			unit = 86400;
			break;
		default:
			unit = 0;
			break;
		}
		if (!unit)
			break;
		total += v * unit;
		j = k + 1;
		terms++;
	}
	if (!terms)
		return false;
	*at = j;
	*delta_s = sign * total;
	return true;
}

/* Renders the placeholder body spec[0..n) (what follows "@NOW") as RFC 3339 text. */
static int render_now(const char *spec, size_t n, int64_t now_s, char *out, size_t cap)
{
	size_t i = 0, frac_from = 0, frac_len = 0;
	int64_t delta = 0, off_s = 0;
	const char *zone = "Z";
	char zbuf[8];
	struct tm tm;
	time_t t;

	parse_delta(spec, n, &i, &delta);
	if (i < n && spec[i] == '.') {
		frac_from = ++i;
		while (i < n && isdigit((unsigned char)spec[i]))
			i++;
		frac_len = i - frac_from;
		if (!frac_len)
			return -1;
	}
	if (i < n) {
		size_t zl = n - i;
		if (zl == 1 && (spec[i] == 'Z' || spec[i] == 'z')) {
			zbuf[0] = spec[i];
			zbuf[1] = '\0';
		} else if (zl == 6 && (spec[i] == '+' || spec[i] == '-') && spec[i + 3] == ':' &&
			   isdigit((unsigned char)spec[i + 1]) &&
			   isdigit((unsigned char)spec[i + 2]) &&
			   isdigit((unsigned char)spec[i + 4]) &&
			   isdigit((unsigned char)spec[i + 5])) {
			memcpy(zbuf, spec + i, 6);
			zbuf[6] = '\0';
			off_s = ((spec[i + 1] - '0') * 10 + (spec[i + 2] - '0')) * 3600 +
				((spec[i + 4] - '0') * 10 + (spec[i + 5] - '0')) * 60;
			if (spec[i] == '-')
				off_s = -off_s;
		} else {
			return -1;
		}
		zone = zbuf;
	}
	t = (time_t)(now_s + delta + off_s);
	if (!gmtime_r(&t, &tm))
		return -1;
	int w = snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d%s%.*s%s", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 frac_len ? "." : "", (int)frac_len, spec + frac_from, zone);
	return w > 0 && (size_t)w < cap ? w : -1;
}

/* Replaces every @NOW…@ of (in, len); the result is malloc'd, NUL-terminated, *out_len set. */
static char *substitute_times(const char *in, size_t len, int64_t now_us, size_t *out_len,
			      const char *name)
{
	size_t cap = len * 2 + 64, w = 0, r = 0;
	char *out = malloc(cap);

	assert_non_null(out);
	while (r < len) {
		if (len - r >= 4 && memcmp(in + r, "@NOW", 4) == 0) {
			const char *close = memchr(in + r + 4, '@', len - r - 4);
			char text[80];
			int n;

			if (!close) {
				print_error("%s: unterminated @NOW placeholder\n", name);
				fail();
			}
			n = render_now(in + r + 4, (size_t)(close - in - r - 4), now_us / US, text,
				       sizeof(text));
			if (n < 0) {
				print_error("%s: bad placeholder '%.*s'\n", name,
					    (int)(close - in - r + 1), in + r);
				fail();
			}
			if (w + (size_t)n + 1 > cap) {
				cap = (w + (size_t)n + 1) * 2;
				out = realloc(out, cap);
				assert_non_null(out);
			}
			memcpy(out + w, text, (size_t)n);
			w += (size_t)n;
			r = (size_t)(close - in) + 1;
			continue;
		}
		if (w + 2 > cap) {
			cap *= 2;
			out = realloc(out, cap);
			assert_non_null(out);
		}
		out[w++] = in[r++];
	}
	out[w] = '\0';
	*out_len = w;
	return out;
}

/* ---- an oracle for the record count ------------------------------------------------- */

/* Elements of the "records" array of the top-level object, by bracket counting alone; -1 when
 * there is none. Independent of the parser under test. */
static long count_records(const char *s, size_t n)
{
	int depth = 0, arr_depth = -1;
	const char *str = NULL;
	size_t str_len = 0;
	bool key_is_records = false, want = false;
	long count = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '"') {
			size_t j = i + 1;
			while (j < n && s[j] != '"')
				j += s[j] == '\\' ? 2 : 1;
			if (arr_depth >= 0 && depth == arr_depth && want) {
				count++;
				want = false;
			}
			str = s + i + 1;
			str_len = j - i - 1;
			i = j;
			continue;
		}
		if (arr_depth >= 0 && depth == arr_depth) {
			if (c == ']')
				return count;
			if (c == ',') {
				want = true;
				continue;
			}
			if (want && !isspace((unsigned char)c)) {
				count++;
				want = false;
			}
		}
		if (c == ':' && depth == 1)
			key_is_records = str && str_len == 7 && memcmp(str, "records", 7) == 0;
		if (c == '{' || c == '[') {
			depth++;
			if (c == '[' && depth == 2 && key_is_records && arr_depth < 0) {
				arr_depth = 2;
				want = true;
			}
		} else if (c == '}' || c == ']') {
			depth--;
		}
	}
	return -1;
}

/* ---- fixtures ------------------------------------------------------------------------ */

#define MAX_EXPECT 32

struct fixture {
	char name[320]; /* "invalid/bad_seq_zero.json" */
	char path[1200];
	bool invalid;
};

struct expectation {
	char topic_device[DEVICE_ID_MAX + 8];
	char message_reason[64];
	int n_records;
	struct {
		long index;
		char reason[64];
	} rec[MAX_EXPECT];
};

/* A loaded, time-substituted fixture ready to parse. */
struct loaded {
	char *text;
	size_t len;
	int64_t now_us;
	struct expectation ex;
};

static void expect_path(const char *json_path, char *out, size_t cap)
{
	size_t n = strlen(json_path);

	assert_true(n > 5 && strcmp(json_path + n - 5, ".json") == 0);
	assert_true(n + 3 < cap);
	memcpy(out, json_path, n - 5);
	memcpy(out + n - 5, ".expect", 8);
}

static void read_expectation(const char *path, struct expectation *ex)
{
	size_t len;
	char *text = read_file(path, &len), *line, *next;
	int lineno = 0;

	if (!text) {
		print_error("%s: missing (every invalid fixture needs one)\n", path);
		fail();
	}
	for (line = text; line < text + len; line = next) {
		char word[16], a[64], b[64], extra[8];
		char *nl = memchr(line, '\n', (size_t)(text + len - line));
		int n;

		next = nl ? nl + 1 : text + len;
		if (nl)
			*nl = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		lineno++;
		n = sscanf(line, "%15s %63s %63s %7s", word, a, b, extra);
		if (n == 2 && strcmp(word, "topic") == 0 && lineno == 1 &&
		    strlen(a) < sizeof(ex->topic_device)) {
			snprintf(ex->topic_device, sizeof(ex->topic_device), "%s", a);
		} else if (n == 2 && strcmp(word, "message") == 0 && !ex->message_reason[0] &&
			   ex->n_records == 0 && reason_known(a)) {
			snprintf(ex->message_reason, sizeof(ex->message_reason), "%s", a);
		} else if (n == 3 && strcmp(word, "record") == 0 && !ex->message_reason[0] &&
			   ex->n_records < MAX_EXPECT && reason_known(b)) {
			char *end;
			long idx = strtol(a, &end, 10);
			assert_true(*end == '\0' && idx >= 0);
			ex->rec[ex->n_records].index = idx;
			snprintf(ex->rec[ex->n_records].reason, sizeof(ex->rec[0].reason), "%s", b);
			ex->n_records++;
		} else {
			print_error("%s:%d: malformed or unknown-reason line '%s'\n", path, lineno,
				    line);
			fail();
		}
	}
	free(text);
	if (!ex->message_reason[0] && ex->n_records == 0) {
		print_error("%s: expects nothing; an invalid fixture must expect a reason\n", path);
		fail();
	}
}

/* The string value of the first "device" key, when it is a plain device id. */
static bool envelope_device(const char *s, size_t n, char out[DEVICE_ID_MAX + 1])
{
	const char *p = memmem(s, n, "\"device\"", 8), *end = s + n, *q;

	if (!p)
		return false;
	p += 8;
	while (p < end && isspace((unsigned char)*p))
		p++;
	if (p >= end || *p++ != ':')
		return false;
	while (p < end && isspace((unsigned char)*p))
		p++;
	if (p >= end || *p++ != '"')
		return false;
	for (q = p; q < end && *q != '"'; q++)
		;
	if (q >= end || !payload_device_id_ok(p, (size_t)(q - p)))
		return false;
	memcpy(out, p, (size_t)(q - p));
	out[q - p] = '\0';
	return true;
}

static void load_fixture(const struct fixture *fx, struct loaded *ld)
{
	size_t raw_len;
	char *raw = read_file(fx->path, &raw_len);

	memset(ld, 0, sizeof(*ld));
	if (!raw) {
		print_error("cannot read %s\n", fx->path);
		fail();
	}
	ld->now_us = whole_second_now_us();
	ld->text = substitute_times(raw, raw_len, ld->now_us, &ld->len, fx->name);
	free(raw);
	if (fx->invalid) {
		char ep[1300];
		expect_path(fx->path, ep, sizeof(ep));
		read_expectation(ep, &ld->ex);
	}
	if (!ld->ex.topic_device[0] && !envelope_device(ld->text, ld->len, ld->ex.topic_device))
		snprintf(ld->ex.topic_device, sizeof(ld->ex.topic_device), "%s", FIXTURE_DEVICE);
}

/* Sets up m as the ingest does for a payload on the device's uplink topic, and parses. */
static int parse_as_device(struct payload_parser *p, struct message *m, const char *device,
			   const char *text, size_t len, int64_t now_us)
{
	char topic[160];

	memset(m, 0, sizeof(*m));
	snprintf(topic, sizeof(topic), "%s/dev/%s/up", TOPIC_PREFIX, device);
	assert_int_equal(payload_topic_device(TOPIC_PREFIX, topic, m->device), 0);
	assert_string_equal(m->device, device);
	m->received_us = now_us;
	return payload_parse(p, m, text, len, now_us, &limits);
}

static const char *expected_reason(const struct expectation *ex, size_t i)
{
	for (int k = 0; k < ex->n_records; k++)
		if ((size_t)ex->rec[k].index == i)
			return ex->rec[k].reason;
	return NULL;
}

/* What holds for every valid record, whatever the fixture. */
static void check_valid_record_invariants(const struct message *m, const struct record *r,
					  int64_t now_us, size_t i)
{
	if (r->seq < 1 || (r->kind != RECORD_READING && r->kind != RECORD_EVENT) ||
	    r->t_us > now_us + limits.max_future_us || r->t_us < now_us - limits.max_age_us) {
		print_error("record %zu: valid but seq %lld kind %d t_us %lld\n", i,
			    (long long)r->seq, r->kind, (long long)r->t_us);
		fail();
	}
	if (r->kind == RECORD_READING)
		assert_true(r->temp_mask != 0 || (r->has & (HAS_RH | HAS_POS)));
	if (r->kind == RECORD_EVENT)
		assert_true(r->event_type > EVENT_NONE && r->event_type <= EVENT_UNLOAD);
	if (r->event_type == EVENT_LOAD || r->event_type == EVENT_UNLOAD) {
		assert_int_equal(r->site.len, 13);
		assert_true(r->lot_count > 0);
	}
	assert_true((size_t)r->lot_first + r->lot_count <= m->n_lots || r->lot_count == 0);
	assert_true((size_t)r->sscc_first + r->sscc_count <= m->n_sscc || r->sscc_count == 0);
	assert_int_equal(r->temp_mask >> PROBE_COUNT, 0);
	for (int p = 0; p < PROBE_COUNT; p++)
		if (r->temp_mask & (1u << p))
			assert_true(r->temp[p] >= -60.0f && r->temp[p] <= 80.0f);
	if (r->has & HAS_POS) {
		assert_true(r->lat >= -90 && r->lat <= 90);
		assert_true(r->lon >= -180 && r->lon <= 180);
	}
}

static void run_fixture(void **state)
{
	const struct fixture *fx = *state;
	struct payload_parser *p = NULL;
	struct message m;
	struct loaded ld;
	int rc;

	load_fixture(fx, &ld);
	assert_int_equal(payload_parser_new(&p), 0);
	rc = parse_as_device(p, &m, ld.ex.topic_device, ld.text, ld.len, ld.now_us);

	if (ld.ex.message_reason[0]) {
		if (rc != -1 || !m.reason || strcmp(m.reason, ld.ex.message_reason) != 0) {
			print_error("%s: rc %d reason %s (%s), want message %s\n", fx->name, rc,
				    m.reason ? m.reason : "NULL", m.detail, ld.ex.message_reason);
			fail();
		}
		assert_true(m.detail[0] != '\0');
		assert_int_equal(m.n_records, 0);
		assert_null(m.records);
	} else {
		if (rc != 0 || m.reason) {
			print_error("%s: rc %d, message rejected: %s (%s)\n", fx->name, rc,
				    m.reason ? m.reason : "NULL", m.detail);
			fail();
		}
		long want_n = count_records(ld.text, ld.len);
		assert_true(want_n >= 0);
		assert_int_equal(m.n_records, (size_t)want_n);
		for (int k = 0; k < ld.ex.n_records; k++) {
			if ((size_t)ld.ex.rec[k].index >= m.n_records) {
				print_error("%s: expects record %ld, message has %zu\n", fx->name,
					    ld.ex.rec[k].index, m.n_records);
				fail();
			}
		}
		for (size_t i = 0; i < m.n_records; i++) {
			const struct record *r = &m.records[i];
			const char *want = expected_reason(&ld.ex, i);

			if ((want == NULL) != (r->reason == NULL) ||
			    (want && strcmp(want, r->reason) != 0)) {
				print_error("%s: record %zu: reason %s (%s), want %s\n", fx->name,
					    i, r->reason ? r->reason : "none (valid)", r->detail,
					    want ? want : "none (valid)");
				fail();
			}
			if (r->reason)
				assert_true(r->detail[0] != '\0');
			else
				check_valid_record_invariants(&m, r, ld.now_us, i);
			/* The raw text of each record, as received, for the dead-letter table. */
			assert_true(r->raw.ptr >= m.buf &&
				    r->raw.ptr + r->raw.len <= m.buf + m.len);
			assert_memory_equal(payload_original(&m, r->raw),
					    ld.text + (r->raw.ptr - m.buf), r->raw.len);
		}
	}
	payload_message_release(&m);
	payload_parser_free(p);
	free(ld.text);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(((const struct fixture *)a)->name, ((const struct fixture *)b)->name);
}

/* Lists the .json files of valid/ and invalid/, sorted. */
static struct fixture *list_fixtures(size_t *count)
{
	static const char *const kinds[] = {"valid", "invalid"};
	struct fixture *fx = NULL;
	size_t n = 0, cap = 0;

	for (int k = 0; k < 2; k++) {
		char dir[900];
		DIR *d;
		struct dirent *e;

		snprintf(dir, sizeof(dir), "%s/%s", fixture_root(), kinds[k]);
		d = opendir(dir);
		if (!d)
			continue;
		while ((e = readdir(d)) != NULL) {
			size_t l = strlen(e->d_name);
			if (l <= 5 || strcmp(e->d_name + l - 5, ".json") != 0)
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 64;
				fx = realloc(fx, cap * sizeof(*fx));
				if (!fx)
					abort();
			}
			snprintf(fx[n].name, sizeof(fx[n].name), "%s/%s", kinds[k], e->d_name);
			snprintf(fx[n].path, sizeof(fx[n].path), "%s/%s", dir, e->d_name);
			fx[n].invalid = k == 1;
			n++;
		}
		closedir(d);
	}
	if (n)
		qsort(fx, n, sizeof(*fx), cmp_names);
	*count = n;
	return fx;
}

/* Loads and parses one fixture by name ("valid/protocol_example.json") for value checks. */
static void parse_fixture(const char *name, struct payload_parser *p, struct message *m,
			  struct loaded *ld)
{
	struct fixture fx;

	memset(&fx, 0, sizeof(fx));
	snprintf(fx.name, sizeof(fx.name), "%s", name);
	snprintf(fx.path, sizeof(fx.path), "%s/%s", fixture_root(), name);
	fx.invalid = strncmp(name, "invalid/", 8) == 0;
	load_fixture(&fx, ld);
	assert_int_equal(parse_as_device(p, m, ld->ex.topic_device, ld->text, ld->len, ld->now_us),
			 0);
}

/* ---- the corpus itself ----------------------------------------------------------------- */

static void test_payload__fixtures_cover_every_reason(void **state)
{
	size_t n;
	struct fixture *fx = list_fixtures(&n);
	bool seen[N_REASONS] = {false};
	size_t n_valid = 0;

	(void)state;
	assert_true(n > 0);
	for (size_t i = 0; i < n; i++) {
		struct expectation ex;
		char ep[1300];

		if (!fx[i].invalid) {
			n_valid++;
			continue;
		}
		memset(&ex, 0, sizeof(ex));
		expect_path(fx[i].path, ep, sizeof(ep));
		read_expectation(ep, &ex);
		for (size_t r = 0; r < N_REASONS; r++) {
			if (strcmp(ex.message_reason, all_reasons[r]) == 0)
				seen[r] = true;
			for (int k = 0; k < ex.n_records; k++)
				if (strcmp(ex.rec[k].reason, all_reasons[r]) == 0)
					seen[r] = true;
		}
	}
	assert_true(n_valid >= 10);
	for (size_t r = 0; r < N_REASONS; r++) {
		/* These two need megabytes and are generated in code below. */
		if (strcmp(all_reasons[r], "payload_too_large") == 0 ||
		    strcmp(all_reasons[r], "too_many_records") == 0)
			continue;
		if (!seen[r]) {
			print_error("no invalid fixture expects %s\n", all_reasons[r]);
			fail();
		}
	}
	free(fx);
}

static void test_payload__every_expect_file_has_its_fixture(void **state)
{
	char dir[900];
	DIR *d;
	struct dirent *e;
	int n = 0;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/invalid", fixture_root());
	d = opendir(dir);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);
		char json[1200];
		FILE *f;

		if (l <= 7 || strcmp(e->d_name + l - 7, ".expect") != 0)
			continue;
		snprintf(json, sizeof(json), "%s/%.*s.json", dir, (int)(l - 7), e->d_name);
		f = fopen(json, "rb");
		if (!f) {
			print_error("%s/%s has no .json beside it\n", dir, e->d_name);
			fail();
		}
		fclose(f);
		n++;
	}
	closedir(d);
	assert_true(n > 0);
}

/* ---- values of the valid fixtures -------------------------------------------------------- */

static void test_payload__protocol_example_values(void **state)
{
	struct payload_parser *p = NULL;
	struct message m;
	struct loaded ld;
	const struct record *r;
	char lots[512];
	const char *want_lots = "[{\"gtin\":\"06970000000123\",\"lot\":\"GZ-CXS-20261122-A\","
				"\"qty\":120,\"uom\":\"CS\"}]";

	(void)state;
	assert_int_equal(payload_parser_new(&p), 0);
	parse_fixture("valid/protocol_example.json", p, &m, &ld);
	assert_string_equal(m.device, "gz-reefer-0042");
	assert_int_equal(m.n_records, 3);
	assert_null(m.orig); /* no escapes in the example: no second copy */

	r = &m.records[0];
	assert_null(r->reason);
	assert_int_equal(r->seq, 1201);
	assert_int_equal(r->t_us, ld.now_us - 10 * MIN_US);
	assert_int_equal(r->kind, RECORD_READING);
	check_span(r->shipment, "SHP-2026-000123", "shipment");
	assert_int_equal(r->temp_mask,
			 (1u << PROBE_SUPPLY) | (1u << PROBE_RETURN) | (1u << PROBE_PRODUCT));
	assert_float_equal(r->temp[PROBE_SUPPLY], 1.8f, 1e-6f);
	assert_float_equal(r->temp[PROBE_RETURN], 3.2f, 1e-6f);
	assert_float_equal(r->temp[PROBE_PRODUCT], 2.1f, 1e-6f);
	assert_int_equal(r->has, HAS_RH | HAS_POS | HAS_SPEED | HAS_SETPOINT | HAS_DOOR);
	assert_float_equal(r->rh, 93.5f, 1e-6f);
	check_near(r->lat, 26.5783, 1e-12, "lat");
	check_near(r->lon, 106.7135, 1e-12, "lon");
	assert_float_equal(r->speed_kmh, 62.0f, 1e-6f);
	assert_float_equal(r->setpoint, 2.0f, 1e-6f);
	assert_false(r->door_open);
	assert_int_equal(r->event_type, EVENT_NONE);
	assert_int_equal(r->lot_count, 0);
	assert_true(r->raw.len > 2 && r->raw.ptr[0] == '{' && r->raw.ptr[r->raw.len - 1] == '}');
	assert_memory_equal(r->raw.ptr, "{\"seq\": 1201,", 13);

	r = &m.records[1];
	assert_null(r->reason);
	assert_int_equal(r->seq, 1202);
	assert_int_equal(r->t_us, ld.now_us - 9 * MIN_US - 53 * US);
	assert_int_equal(r->kind, RECORD_EVENT);
	assert_int_equal(r->event_type, EVENT_DOOR_OPEN);
	assert_int_equal(r->shipment.len, 0);
	assert_int_equal(r->temp_mask, 0);
	assert_int_equal(r->has, 0);

	r = &m.records[2];
	assert_null(r->reason);
	assert_int_equal(r->seq, 1203);
	assert_int_equal(r->t_us, ld.now_us - 5 * MIN_US);
	assert_int_equal(r->event_type, EVENT_LOAD);
	check_span(r->site, "6970000000017", "site");
	assert_int_equal(r->lot_count, 1);
	check_span(m.lots[r->lot_first].gtin, "06970000000123", "gtin");
	check_span(m.lots[r->lot_first].lot, "GZ-CXS-20261122-A", "lot");
	check_near(m.lots[r->lot_first].qty, 120, 0, "qty");
	check_span(m.lots[r->lot_first].uom, "CS", "uom");
	assert_int_equal(r->sscc_count, 1);
	/* protocol.md's SSCC has a wrong check digit; SSCCs are checked for syntax only. */
	check_span(m.sscc[r->sscc_first], "369700000000000017", "sscc");
	assert_int_equal(payload_lots_json(&m, r, lots, sizeof(lots)), (int)strlen(want_lots));
	assert_string_equal(lots, want_lots);
	payload_message_release(&m);
	payload_parser_free(p);
	free(ld.text);
}

static void test_payload__record_with_all_probes_p1_to_p16(void **state)
{
	struct payload_parser *p = NULL;
	struct message m;
	struct loaded ld;
	const struct record *r;

	(void)state;
	assert_int_equal(payload_parser_new(&p), 0);
	parse_fixture("valid/reading_with_all_probes_p1_to_p16.json", p, &m, &ld);
	assert_int_equal(m.n_records, 1);
	r = &m.records[0];
	assert_null(r->reason);
	assert_int_equal(r->temp_mask, (1u << PROBE_COUNT) - 1);
	for (int i = 0; i < PROBE_COUNT; i++)
		assert_float_equal(r->temp[i], -10.0f + 0.5f * (float)i, 1e-6f);
	assert_string_equal(payload_probe_name(PROBE_SUPPLY), "supply");
	assert_string_equal(payload_probe_name(PROBE_AMBIENT), "ambient");
	assert_string_equal(payload_probe_name(PROBE_P1), "p1");
	assert_string_equal(payload_probe_name(PROBE_P1 + 15), "p16");
	assert_string_equal(payload_probe_name(PROBE_COUNT), "?");
	assert_string_equal(payload_probe_name(-1), "?");
	payload_message_release(&m);
	payload_parser_free(p);
	free(ld.text);
}

static void test_payload__offset_times_are_stored_as_utc(void **state)
{
	struct payload_parser *p = NULL;
	struct message m;
	struct loaded ld;

	(void)state;
	assert_int_equal(payload_parser_new(&p), 0);
	parse_fixture("valid/time_with_offsets_stored_as_utc.json", p, &m, &ld);
	assert_int_equal(m.n_records, 4);
	/* The same instant written as +08:00, -05:30, +00:00 and z. */
	for (size_t i = 0; i < 4; i++) {
		assert_null(m.records[i].reason);
		assert_int_equal(m.records[i].t_us, ld.now_us - 2 * HOUR_US);
	}
	payload_message_release(&m);
	payload_parser_free(p);
	free(ld.text);
}

static void test_payload__fractional_seconds_are_kept_to_the_microsecond(void **state)
{
	struct payload_parser *p = NULL;
	struct message m;
	struct loaded ld;
	int64_t base;

	(void)state;
	assert_int_equal(payload_parser_new(&p), 0);
	parse_fixture("valid/time_with_fractional_seconds.json", p, &m, &ld);
	base = ld.now_us - HOUR_US;
	assert_int_equal(m.n_records, 4);
	assert_int_equal(m.records[0].t_us, base + 500000);
	assert_int_equal(m.records[1].t_us, base + 123456);
	assert_int_equal(m.records[2].t_us, base + 123456); /* .123456789: truncated */
	assert_int_equal(m.records[3].t_us, base + 1);
	payload_message_release(&m);
	payload_parser_free(p);
	free(ld.text);
}

static void test_payload__escaped_shipment_is_unescaped_and_original_kept(void **state)
{
	struct payload_parser *p = NULL;
	struct message m;
	struct loaded ld;
	const struct record *r;
	const char *orig, *in_text;

	(void)state;
	assert_int_equal(payload_parser_new(&p), 0);
	parse_fixture("valid/shipment_with_escapes_and_unknown_fields.json", p, &m, &ld);
	assert_int_equal(m.n_records, 1);
	r = &m.records[0];
	assert_null(r->reason);
	assert_int_equal(r->seq, 40);
	/* "Caf\u00e9-\ud83d\ude9a \"A\"\\B\/C": é is C3 A9, U+1F69A is F0 9F 9A 9A. */
	check_span(r->shipment, "Caf\xc3\xa9-\xf0\x9f\x9a\x9a \"A\"\\B/C", "shipment");
	/* Unknown fields, of any shape and in the envelope too, are ignored. */
	assert_int_equal(r->temp_mask, 1u << PROBE_PRODUCT);
	assert_float_equal(r->temp[PROBE_PRODUCT], 4.0f, 1e-6f);
	assert_int_equal(r->has, 0);

	/* The dead-letter table gets the bytes as the device sent them. */
	assert_non_null(m.orig);
	in_text = strstr(ld.text, "{\"seq\": 40");
	assert_non_null(in_text);
	orig = payload_original(&m, r->raw);
	assert_int_equal(r->raw.len, strstr(in_text, "-12.5e3}") + 8 - in_text);
	assert_memory_equal(orig, in_text, r->raw.len);
	assert_non_null(memmem(orig, r->raw.len, "Caf\\u00e9-\\ud83d\\ude9a", 22));
	/* …which is no longer what the unescaped buffer holds. */
	assert_true(memcmp(r->raw.ptr, orig, r->raw.len) != 0);
	payload_message_release(&m);
	payload_parser_free(p);
	free(ld.text);
}

static void test_payload__reading_with_only_pos(void **state)
{
	struct payload_parser *p = NULL;
	struct message m;
	struct loaded ld;
	const struct record *r;

	(void)state;
	assert_int_equal(payload_parser_new(&p), 0);
	parse_fixture("valid/reading_with_only_pos.json", p, &m, &ld);
	r = &m.records[0];
	assert_null(r->reason);
	assert_int_equal(r->kind, RECORD_READING);
	assert_int_equal(r->temp_mask, 0);
	assert_int_equal(r->has, HAS_POS | HAS_ALT | HAS_SPEED | HAS_HEADING);
	check_near(r->lat, -33.8688, 1e-12, "lat");
	check_near(r->lon, 151.2093, 1e-12, "lon");
	assert_float_equal(r->alt_m, 58.5f, 1e-6f);
	assert_float_equal(r->speed_kmh, 0.0f, 1e-6f);
	assert_float_equal(r->heading_deg, 359.5f, 1e-6f);
	payload_message_release(&m);
	payload_parser_free(p);
	free(ld.text);
}

static void test_payload__reefer_alarm_keeps_code_and_text(void **state)
{
	struct payload_parser *p = NULL;
	struct message m;
	struct loaded ld;
	const struct record *r;

	(void)state;
	assert_int_equal(payload_parser_new(&p), 0);
	parse_fixture("valid/reefer_alarm_with_code_and_text.json", p, &m, &ld);
	r = &m.records[0];
	assert_null(r->reason);
	assert_int_equal(r->kind, RECORD_EVENT);
	assert_int_equal(r->event_type, EVENT_REEFER_ALARM);
	assert_string_equal(payload_event_name(r->event_type), "reefer_alarm");
	check_span(r->code, "AL-0031", "code");
	check_span(r->text, "Supply air sensor out of range", "text");
	payload_message_release(&m);
	payload_parser_free(p);
	free(ld.text);
}

static void test_payload__every_event_type_is_recognised(void **state)
{
	static const char *const names[] = {"door_open",   "door_close",     "reefer_alarm",
					    "power_loss",  "power_restored", "defrost_start",
					    "defrost_end", "load",	     "unload"};
	struct payload_parser *p = NULL;
	struct message m;
	struct loaded ld;

	(void)state;
	assert_int_equal(payload_parser_new(&p), 0);
	parse_fixture("valid/every_event_type.json", p, &m, &ld);
	assert_int_equal(m.n_records, 9);
	for (int i = 0; i < 9; i++) {
		assert_null(m.records[i].reason);
		assert_int_equal(m.records[i].seq, 80 + i);
		assert_int_equal(m.records[i].event_type, EVENT_DOOR_OPEN + i);
		assert_string_equal(payload_event_name(m.records[i].event_type), names[i]);
	}
	assert_string_equal(payload_event_name(EVENT_NONE), "?");
	assert_string_equal(payload_event_name(EVENT_UNLOAD + 1), "?");
	payload_message_release(&m);
	payload_parser_free(p);
	free(ld.text);
}

static void test_payload__unload_with_several_lots(void **state)
{
	struct payload_parser *p = NULL;
	struct message m;
	struct loaded ld;
	const struct record *r;
	const struct lot *l;
	char out[1024];
	const char *want =
	    "[{\"gtin\":\"06970000000123\",\"lot\":\"GZ-CXS-20261122-A\",\"qty\":120,"
	    "\"uom\":\"CS\"},{\"gtin\":\"4006381333931\",\"lot\":\"LOT-B\",\"qty\":"
	    "12.5,\"uom\":\"KG\"},{\"gtin\":\"96385074\",\"lot\":\"L3\",\"qty\":1,"
	    "\"uom\":null}]";

	(void)state;
	assert_int_equal(payload_parser_new(&p), 0);
	parse_fixture("valid/unload_with_several_lots.json", p, &m, &ld);
	r = &m.records[0];
	assert_null(r->reason);
	assert_int_equal(r->event_type, EVENT_UNLOAD);
	check_span(r->site, "6970000000017", "site");
	assert_int_equal(r->lot_count, 3);
	l = &m.lots[r->lot_first];
	check_span(l[0].gtin, "06970000000123", "lot 0 gtin");
	check_span(l[1].gtin, "4006381333931", "lot 1 gtin");
	check_span(l[1].lot, "LOT-B", "lot 1 lot");
	check_near(l[1].qty, 12.5, 0, "lot 1 qty");
	check_span(l[1].uom, "KG", "lot 1 uom");
	check_span(l[2].gtin, "96385074", "lot 2 gtin");
	assert_int_equal(l[2].uom.len, 0);
	assert_int_equal(r->sscc_count, 2);
	check_span(m.sscc[r->sscc_first], "369700000000000018", "sscc 0");
	check_span(m.sscc[r->sscc_first + 1], "106141411234567897", "sscc 1");
	/* Canonical: keys always gtin, lot, qty, uom, whatever the device's order. */
	assert_int_equal(payload_lots_json(&m, r, out, sizeof(out)), (int)strlen(want));
	assert_string_equal(out, want);
	payload_message_release(&m);
	payload_parser_free(p);
	free(ld.text);
}

static void test_payload__limits_are_inclusive(void **state)
{
	struct payload_parser *p = NULL;
	struct message m;
	struct loaded ld;

	(void)state;
	assert_int_equal(payload_parser_new(&p), 0);
	parse_fixture("valid/limits_are_inclusive.json", p, &m, &ld);
	assert_int_equal(m.n_records, 5);
	assert_int_equal(m.records[0].t_us, ld.now_us + 300 * US);
	assert_float_equal(m.records[0].temp[PROBE_SUPPLY], -60.0f, 0.0f);
	assert_float_equal(m.records[0].temp[PROBE_RETURN], 80.0f, 0.0f);
	assert_int_equal(m.records[1].t_us, ld.now_us - 30 * DAY_US);
	assert_float_equal(m.records[2].rh, 100.0f, 0.0f);
	check_near(m.records[3].lat, 90, 0, "lat");
	check_near(m.records[4].lon, -180, 0, "lon");
	payload_message_release(&m);
	payload_parser_free(p);
	free(ld.text);
}

static void test_payload__failed_record_keeps_seq_and_time_for_the_dead_letter(void **state)
{
	struct payload_parser *p = NULL;
	struct message m;
	struct loaded ld;

	(void)state;
	assert_int_equal(payload_parser_new(&p), 0);
	parse_fixture("invalid/record_with_bad_temp_is_rejected_siblings_kept.json", p, &m, &ld);
	assert_int_equal(m.n_records, 5);
	assert_string_equal(m.records[1].reason, "temp_out_of_range");
	assert_int_equal(m.records[1].seq, 2);
	assert_int_equal(m.records[1].t_us, ld.now_us - 9 * MIN_US - 50 * US);
	assert_non_null(strstr(m.records[1].detail, "product"));
	assert_string_equal(m.records[3].reason, "rh_out_of_range");
	assert_int_equal(m.records[3].seq, 4);
	/* The siblings are whole. */
	assert_int_equal(m.records[2].seq, 3);
	assert_float_equal(m.records[2].temp[PROBE_PRODUCT], 2.2f, 1e-6f);
	assert_int_equal(m.records[4].event_type, EVENT_DOOR_CLOSE);
	payload_message_release(&m);
	payload_parser_free(p);
	free(ld.text);
}

/* ---- targeted cases ------------------------------------------------------------------ */

/* Parses text (NUL-terminated) from FIXTURE_DEVICE at now_us. */
static int parse_text(struct payload_parser *p, struct message *m, const char *text, int64_t now_us)
{
	return parse_as_device(p, m, FIXTURE_DEVICE, text, strlen(text), now_us);
}

static void test_payload__known_time_is_converted_to_epoch_us(void **state)
{
	/* 2026-11-22T03:00:00Z is 1795316400 s (date -u -d 2026-11-22T03:00:00Z +%s). */
	const int64_t t0 = INT64_C(1795316400) * US;
	const char *text =
	    "{\"v\":1,\"device\":\"gz-reefer-0042\",\"records\":["
	    "{\"seq\":1,\"t\":\"2026-11-22T03:00:00Z\",\"kind\":\"reading\",\"rh\":1},"
	    "{\"seq\":2,\"t\":\"2026-11-22T11:00:07+08:00\",\"kind\":\"reading\",\"rh\":1},"
	    "{\"seq\":3,\"t\":\"2026-11-21T21:35:00-05:30\",\"kind\":\"reading\",\"rh\":1},"
	    "{\"seq\":4,\"t\":\"2026-11-22 03:00:00.25z\",\"kind\":\"reading\",\"rh\":1}]}";
	struct payload_parser *p = NULL;
	struct message m;

	(void)state;
	assert_int_equal(payload_parser_new(&p), 0);
	assert_int_equal(parse_text(p, &m, text, t0 + 10 * MIN_US), 0);
	assert_int_equal(m.n_records, 4);
	for (int i = 0; i < 4; i++)
		assert_null(m.records[i].reason);
	assert_int_equal(m.records[0].t_us, t0);
	assert_int_equal(m.records[1].t_us, t0 + 7 * US);
	assert_int_equal(m.records[2].t_us, t0 + 5 * MIN_US);
	assert_int_equal(m.records[3].t_us, t0 + 250000);
	payload_message_release(&m);

	/* The same message a year later is too old, a year earlier in the future. */
	assert_int_equal(parse_text(p, &m, text, t0 + 365 * DAY_US), 0);
	assert_string_equal(m.records[0].reason, "time_too_old");
	payload_message_release(&m);
	assert_int_equal(parse_text(p, &m, text, t0 - 365 * DAY_US), 0);
	assert_string_equal(m.records[0].reason, "time_in_future");
	payload_message_release(&m);
	payload_parser_free(p);
}

/* A message of n readings, seq 1…n, measured a minute before now_us, rh = seq - 1 mod 100. */
static char *build_message(int n, int64_t now_us, size_t *len)
{
	char t[40];
	struct tm tm;
	time_t secs = (time_t)(now_us / US - 60);
	size_t cap = 128 + (size_t)n * 96, w = 0;
	char *buf = malloc(cap);

	assert_non_null(buf);
	gmtime_r(&secs, &tm);
	strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", &tm);
	w += (size_t)snprintf(buf + w, cap - w, "{\"v\":1,\"device\":\"%s\",\"records\":[",
			      FIXTURE_DEVICE);
	for (int i = 0; i < n; i++)
		w += (size_t)snprintf(buf + w, cap - w,
				      "%s{\"seq\":%d,\"t\":\"%s\",\"kind\":\"reading\",\"rh\":%d}",
				      i ? "," : "", i + 1, t, i % 100);
	w += (size_t)snprintf(buf + w, cap - w, "]}");
	assert_true(w < cap);
	*len = w;
	return buf;
}

static void check_many(const struct message *m, int n)
{
	assert_null(m->reason);
	assert_int_equal(m->n_records, (size_t)n);
	for (int i = 0; i < n; i++) {
		assert_null(m->records[i].reason);
		assert_int_equal(m->records[i].seq, i + 1);
		assert_float_equal(m->records[i].rh, (float)(i % 100), 0.0f);
	}
}

static void test_payload__too_many_records_rejects_the_message(void **state)
{
	struct payload_parser *p = NULL;
	struct message m;
	int64_t now = whole_second_now_us();
	size_t len;
	char *text;

	(void)state;
	assert_int_equal(payload_parser_new(&p), 0);
	text = build_message(PAYLOAD_MAX_RECORDS + 1, now, &len);
	assert_true(len <= PAYLOAD_MAX_BYTES);
	assert_int_equal(parse_as_device(p, &m, FIXTURE_DEVICE, text, len, now), -1);
	assert_string_equal(m.reason, "too_many_records");
	assert_int_equal(m.n_records, 0);
	payload_message_release(&m);
	free(text);

	text = build_message(PAYLOAD_MAX_RECORDS, now, &len);
	assert_int_equal(parse_as_device(p, &m, FIXTURE_DEVICE, text, len, now), 0);
	check_many(&m, PAYLOAD_MAX_RECORDS);
	payload_message_release(&m);
	free(text);
	payload_parser_free(p);
}

/* A valid one-record message padded by an unknown string field to exactly size bytes. */
static char *padded_message(size_t size, int64_t now_us)
{
	size_t len, head;
	char *one = build_message(1, now_us, &len), *buf = malloc(size + 1);

	assert_non_null(buf);
	head = len - 1; /* without the final '}' */
	memcpy(buf, one, head);
	memcpy(buf + head, ",\"x_pad\":\"", 10);
	assert_true(size > head + 12);
	memset(buf + head + 10, 'a', size - head - 12);
	memcpy(buf + size - 2, "\"}", 2);
	buf[size] = '\0';
	free(one);
	return buf;
}

static void test_payload__payload_over_256_kib_is_rejected(void **state)
{
	struct payload_parser *p = NULL;
	struct message m;
	int64_t now = whole_second_now_us();
	char *text;

	(void)state;
	assert_int_equal(payload_parser_new(&p), 0);
	text = padded_message(PAYLOAD_MAX_BYTES, now);
	assert_int_equal(parse_as_device(p, &m, FIXTURE_DEVICE, text, PAYLOAD_MAX_BYTES, now), 0);
	assert_int_equal(m.n_records, 1);
	assert_null(m.records[0].reason);
	payload_message_release(&m);
	free(text);

	text = padded_message(PAYLOAD_MAX_BYTES + 1, now);
	assert_int_equal(parse_as_device(p, &m, FIXTURE_DEVICE, text, PAYLOAD_MAX_BYTES + 1, now),
			 -1);
	assert_string_equal(m.reason, "payload_too_large");
	assert_null(m.records);
	payload_message_release(&m);
	free(text);

	/* Far over the limit and not JSON at all: the size is what is reported. */
	text = malloc(1024 * 1024);
	assert_non_null(text);
	memset(text, '{', 1024 * 1024);
	assert_int_equal(parse_as_device(p, &m, FIXTURE_DEVICE, text, 1024 * 1024, now), -1);
	assert_string_equal(m.reason, "payload_too_large");
	payload_message_release(&m);
	free(text);
	payload_parser_free(p);
}

static void test_payload__parser_is_reused_and_grows_its_token_buffer(void **state)
{
	struct payload_parser *p = NULL;
	struct message m;
	int64_t now = whole_second_now_us();
	size_t big_len, small_len;
	char *big = build_message(PAYLOAD_MAX_RECORDS, now, &big_len);
	char *small = build_message(2, now, &small_len);

	(void)state;
	assert_int_equal(payload_parser_new(&p), 0);
	for (int round = 0; round < 3; round++) {
		assert_int_equal(parse_as_device(p, &m, FIXTURE_DEVICE, small, small_len, now), 0);
		check_many(&m, 2);
		payload_message_release(&m);
		/* ≈ 9 tokens per record: far beyond the parser's first token array. */
		assert_int_equal(parse_as_device(p, &m, FIXTURE_DEVICE, big, big_len, now), 0);
		check_many(&m, PAYLOAD_MAX_RECORDS);
		payload_message_release(&m);
	}
	/* A rejected message leaves the parser usable. */
	assert_int_equal(parse_as_device(p, &m, FIXTURE_DEVICE, "{\"v\":", 5, now), -1);
	assert_string_equal(m.reason, "invalid_json");
	payload_message_release(&m);
	assert_int_equal(parse_as_device(p, &m, FIXTURE_DEVICE, small, small_len, now), 0);
	check_many(&m, 2);
	payload_message_release(&m);
	payload_parser_free(p);
	free(big);
	free(small);
}

static void test_payload__message_with_zero_records_is_accepted(void **state)
{
	struct payload_parser *p = NULL;
	struct message m;

	(void)state;
	assert_int_equal(payload_parser_new(&p), 0);
	assert_int_equal(parse_text(p, &m, "{\"v\":1,\"device\":\"gz-reefer-0042\",\"records\":[]}",
				    whole_second_now_us()),
			 0);
	assert_null(m.reason);
	assert_int_equal(m.n_records, 0);
	assert_int_equal(m.n_lots, 0);
	assert_int_equal(m.n_sscc, 0);
	payload_message_release(&m);
	payload_parser_free(p);
}

/* `"rh": TOKEN` in record 1 between two valid readings. */
static void parse_with_rh_token(struct payload_parser *p, struct message *m, const char *token,
				int64_t now, int *rc)
{
	char t[40], text[512];
	struct tm tm;
	time_t secs = (time_t)(now / US - 60);

	gmtime_r(&secs, &tm);
	strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(text, sizeof(text),
		 "{\"v\":1,\"device\":\"gz-reefer-0042\",\"records\":["
		 "{\"seq\":1,\"t\":\"%s\",\"kind\":\"reading\",\"rh\":50},"
		 "{\"seq\":2,\"t\":\"%s\",\"kind\":\"reading\",\"rh\":%s},"
		 "{\"seq\":3,\"t\":\"%s\",\"kind\":\"reading\",\"rh\":51}]}",
		 t, t, token, t);
	*rc = parse_text(p, m, text, now);
}

static void test_payload__non_json_numbers_are_rejected(void **state)
{
	/* The tokenizer passes any run of printable characters that starts like a number or a
	 * literal; the parser's own grammar must refuse what RFC 8259 does not allow. */
	static const char *const record_level[] = {
	    "-Infinity", "-NaN",  "nan",   "null", "true",  "0x10", "0X1A", "01",
	    "-01",	 "00",	  "1.",	   "1.e3", "1e",    "1e+",  "-",    "--1",
	    "1..2",	 "1e400", "1_000", "5%",   "1e1.5", "0b1",
	};
	/* Tokens the tokenizer itself may refuse: rejected, as the message or as the record. */
	static const char *const either_level[] = {"+1", ".5", "inf", "'5'", "1 2", "Infinit"};
	struct payload_parser *p = NULL;
	struct message m;
	int64_t now = whole_second_now_us();
	int rc;

	(void)state;
	assert_int_equal(payload_parser_new(&p), 0);
	for (size_t i = 0; i < sizeof(record_level) / sizeof(record_level[0]); i++) {
		parse_with_rh_token(p, &m, record_level[i], now, &rc);
		if (rc != 0 || m.n_records != 3 || !m.records[1].reason ||
		    strcmp(m.records[1].reason, "bad_value") != 0 || m.records[0].reason ||
		    m.records[2].reason) {
			print_error("rh %s: rc %d, message %s, record 1 %s\n", record_level[i], rc,
				    m.reason ? m.reason : "-",
				    m.n_records > 1 && m.records[1].reason ? m.records[1].reason
									   : "valid");
			fail();
		}
		assert_int_equal(m.records[1].seq, 2);
		payload_message_release(&m);
	}
	for (size_t i = 0; i < sizeof(either_level) / sizeof(either_level[0]); i++) {
		parse_with_rh_token(p, &m, either_level[i], now, &rc);
		bool as_message = rc == -1 && m.reason && strcmp(m.reason, "invalid_json") == 0;
		bool as_record = rc == 0 && m.n_records == 3 && m.records[1].reason &&
				 strcmp(m.records[1].reason, "bad_value") == 0 &&
				 !m.records[0].reason && !m.records[2].reason;
		if (!as_message && !as_record) {
			print_error("rh %s: rc %d, reason %s\n", either_level[i], rc,
				    m.reason ? m.reason : "-");
			fail();
		}
		payload_message_release(&m);
	}
	/* Every form the grammar allows is a number. */
	parse_with_rh_token(p, &m, "-0.0e-0", now, &rc);
	assert_int_equal(rc, 0);
	assert_null(m.records[1].reason);
	assert_float_equal(m.records[1].rh, 0.0f, 0.0f);
	payload_message_release(&m);
	parse_with_rh_token(p, &m, "9.95E+1", now, &rc);
	assert_int_equal(rc, 0);
	assert_null(m.records[1].reason);
	assert_float_equal(m.records[1].rh, 99.5f, 1e-5f);
	payload_message_release(&m);
	payload_parser_free(p);
}

static void test_payload__deeply_nested_unknown_field_is_ignored(void **state)
{
	enum { DEPTH = 60 }; /* within PAYLOAD_MAX_DEPTH (64) with the envelope around it */
	struct payload_parser *p = NULL;
	struct message m;
	int64_t now = whole_second_now_us();
	size_t len, w;
	char *one = build_message(1, now, &len);
	char *text = malloc(len + 6 * DEPTH + 64);

	(void)state;
	assert_non_null(text);
	/* {"v":1,…,"records":[…],"x":{"k":[{"k":[…1…]}]}} */
	w = len - 1;
	memcpy(text, one, w);
	memcpy(text + w, ",\"x\":", 5);
	w += 5;
	for (int i = 0; i < DEPTH; i++) {
		if (i % 2) {
			text[w++] = '[';
		} else {
			memcpy(text + w, "{\"k\":", 5);
			w += 5;
		}
	}
	text[w++] = '1';
	for (int i = DEPTH - 1; i >= 0; i--)
		text[w++] = i % 2 ? ']' : '}';
	text[w++] = '}';
	text[w] = '\0';

	assert_int_equal(payload_parser_new(&p), 0);
	assert_int_equal(parse_as_device(p, &m, FIXTURE_DEVICE, text, w, now), 0);
	assert_int_equal(m.n_records, 1);
	assert_null(m.records[0].reason);
	assert_int_equal(m.records[0].seq, 1);
	payload_message_release(&m);
	payload_parser_free(p);
	free(one);
	free(text);
}

static void test_payload__first_failure_of_a_record_is_the_one_reported(void **state)
{
	struct payload_parser *p = NULL;
	struct message m;
	int rc;
	int64_t now = whole_second_now_us();

	(void)state;
	assert_int_equal(payload_parser_new(&p), 0);
	parse_with_rh_token(p, &m, "101, \"temp\": {\"product\": 95}, \"door\": \"ajar\"", now,
			    &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(m.records[1].reason, "rh_out_of_range");
	assert_non_null(strstr(m.records[1].detail, "101"));
	payload_message_release(&m);
	payload_parser_free(p);
}

static void test_payload__input_need_not_be_nul_terminated(void **state)
{
	struct payload_parser *p = NULL;
	struct message m;
	int64_t now = whole_second_now_us();
	size_t len;
	char *one = build_message(1, now, &len);
	char *buf = malloc(len + 16);

	(void)state;
	assert_non_null(buf);
	memcpy(buf, one, len);
	memcpy(buf + len, "garbage]]}}\xff\xfe", 13); /* beyond len: never read */
	assert_int_equal(payload_parser_new(&p), 0);
	assert_int_equal(parse_as_device(p, &m, FIXTURE_DEVICE, buf, len, now), 0);
	assert_int_equal(m.n_records, 1);
	assert_null(m.records[0].reason);
	/* The message holds its own copy: the caller's buffer may go away. */
	memset(buf, 'X', len);
	assert_int_equal(m.records[0].seq, 1);
	assert_memory_equal(m.records[0].raw.ptr, "{\"seq\":1,", 9);
	payload_message_release(&m);
	payload_parser_free(p);
	free(one);
	free(buf);
}

/* A whole-message dead letter must carry the payload as received, though the envelope's
 * strings were unescaped in place before the message was refused. */
static void test_payload__rejected_message_keeps_its_original_bytes(void **state)
{
	const char *text = "{\"v\":1,\"device\":\"gz\\u002dreefer-0042\",\"records\":[]}";
	struct payload_parser *p = NULL;
	struct message m;

	(void)state;
	assert_int_equal(payload_parser_new(&p), 0);
	/* gz\u002dreefer-0042 is gz-reefer-0042: same device, accepted. */
	assert_int_equal(parse_text(p, &m, text, whole_second_now_us()), 0);
	payload_message_release(&m);
	/* From another device's topic: refused, and the original text is still there. */
	assert_int_equal(
	    parse_as_device(p, &m, "gz-reefer-0043", text, strlen(text), whole_second_now_us()),
	    -1);
	assert_string_equal(m.reason, "device_mismatch");
	assert_non_null(m.orig);
	assert_memory_equal(m.orig, text, strlen(text));
	assert_memory_equal(payload_original(&m, (struct span){m.buf, m.len}), text, strlen(text));
	payload_message_release(&m);
	payload_parser_free(p);
}

static void test_payload__release_is_null_safe_and_idempotent(void **state)
{
	struct payload_parser *p = NULL;
	struct message m;

	(void)state;
	payload_message_release(NULL);
	payload_parser_free(NULL);
	assert_int_equal(payload_parser_new(&p), 0);
	assert_non_null(p);
	assert_int_equal(parse_text(p, &m, "{\"v\":1,\"device\":\"gz-reefer-0042\",\"records\":[]}",
				    whole_second_now_us()),
			 0);
	payload_message_release(&m);
	assert_null(m.buf);
	assert_null(m.records);
	payload_message_release(&m);
	payload_parser_free(p);
}

static void test_payload__topic_device_is_extracted_from_uplink_topics(void **state)
{
	char dev[DEVICE_ID_MAX + 1], id64[DEVICE_ID_MAX + 1], topic[256];

	(void)state;
	assert_int_equal(
	    payload_topic_device("coldtrace/v1", "coldtrace/v1/dev/gz-reefer-0042/up", dev), 0);
	assert_string_equal(dev, "gz-reefer-0042");
	assert_int_equal(payload_topic_device("coldtrace/v1", "coldtrace/v1/dev/A.b_C-9/up", dev),
			 0);
	assert_string_equal(dev, "A.b_C-9");
	assert_int_equal(payload_topic_device("coldtrace/v1", "coldtrace/v1/dev/x/up", dev), 0);
	assert_string_equal(dev, "x");
	assert_int_equal(payload_topic_device("acme/cold/v1", "acme/cold/v1/dev/truck7/up", dev),
			 0);
	assert_string_equal(dev, "truck7");

	memset(id64, 'd', DEVICE_ID_MAX);
	id64[DEVICE_ID_MAX] = '\0';
	snprintf(topic, sizeof(topic), "coldtrace/v1/dev/%s/up", id64);
	assert_int_equal(payload_topic_device("coldtrace/v1", topic, dev), 0);
	assert_string_equal(dev, id64);
}

static void test_payload__topic_device_refuses_other_topics(void **state)
{
	static const char *const bad[] = {
	    "",
	    "coldtrace/v1",
	    "coldtrace/v1/dev",
	    "coldtrace/v1/dev/",
	    "coldtrace/v1/dev/up",
	    "coldtrace/v1/dev//up",
	    "coldtrace/v2/dev/gz-1/up",
	    "coldtrace/v1x/dev/gz-1/up",
	    "xcoldtrace/v1/dev/gz-1/up",
	    "/coldtrace/v1/dev/gz-1/up",
	    "coldtrace/v1/devices/gz-1/up",
	    "coldtrace/v1/dev/gz-1/ack",
	    "coldtrace/v1/dev/gz-1/upx",
	    "coldtrace/v1/dev/gz-1/up/",
	    "coldtrace/v1/dev/gz-1/up/more",
	    "coldtrace/v1/dev/gz/1/up",
	    "coldtrace/v1/dev/+/up",
	    "coldtrace/v1/dev/#/up",
	    "coldtrace/v1/dev/#",
	    "coldtrace/v1/dev/gz 1/up",
	    "coldtrace/v1/dev/gz\xc3\xa9/up",
	    "coldtrace/v1/alerts/SHP-1",
	};
	char dev[DEVICE_ID_MAX + 1], topic[256], id65[DEVICE_ID_MAX + 2];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (payload_topic_device("coldtrace/v1", bad[i], dev) != -1) {
			print_error("topic '%s' was accepted\n", bad[i]);
			fail();
		}
	}
	memset(id65, 'd', DEVICE_ID_MAX + 1);
	id65[DEVICE_ID_MAX + 1] = '\0';
	snprintf(topic, sizeof(topic), "coldtrace/v1/dev/%s/up", id65);
	assert_int_equal(payload_topic_device("coldtrace/v1", topic, dev), -1);
}

static void test_payload__device_id_charset_and_length(void **state)
{
	char id[DEVICE_ID_MAX + 2];

	(void)state;
	assert_true(payload_device_id_ok("a", 1));
	assert_true(payload_device_id_ok("AZaz09._-", 9));
	assert_true(payload_device_id_ok("gz-reefer-0042", 14));
	/* Only len bytes count. */
	assert_true(payload_device_id_ok("abc/def", 3));
	assert_false(payload_device_id_ok("abc/def", 4));
	assert_false(payload_device_id_ok("", 0));
	assert_false(payload_device_id_ok("a", 0));
	memset(id, 'x', sizeof(id));
	assert_true(payload_device_id_ok(id, DEVICE_ID_MAX));
	assert_false(payload_device_id_ok(id, DEVICE_ID_MAX + 1));
	static const char *const bad[] = {"a b",  "a/b",      "a+b", "a#b",  "a:b", "a@b",
					  "a\tb", "\xc3\xa9", "a*b", "a\\b", "a\"b"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(payload_device_id_ok(bad[i], strlen(bad[i])));
	assert_false(payload_device_id_ok("a\0b", 3));
}

static void test_payload__lots_json_is_canonical(void **state)
{
	struct payload_parser *p = NULL;
	struct message m;
	char t[40], text[1024], out[512], canary[600];
	struct tm tm;
	int64_t now = whole_second_now_us();
	time_t secs = (time_t)(now / US - 60);
	/* Keys in reverse order; a lot code with a quote, a backslash, a slash and a tab. */
	const char *want = "[{\"gtin\":\"96385074\",\"lot\":\"Q\\\"x\\\\y/z\\u0009\",\"qty\":0.5,"
			   "\"uom\":\"KG\"},{\"gtin\":\"06970000000123\",\"lot\":\"B\",\"qty\":3,"
			   "\"uom\":null}]";
	int n;

	(void)state;
	gmtime_r(&secs, &tm);
	strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(
	    text, sizeof(text),
	    "{\"v\":1,\"device\":\"gz-reefer-0042\",\"records\":["
	    "{\"seq\":1,\"t\":\"%s\",\"kind\":\"event\",\"type\":\"load\","
	    "\"site\":\"6970000000017\",\"lots\":["
	    "{\"uom\":\"KG\",\"qty\":0.5,\"lot\":\"Q\\\"x\\\\y\\/z\\t\",\"gtin\":\"96385074\"},"
	    "{\"qty\":3e0,\"gtin\":\"06970000000123\",\"lot\":\"B\"}]},"
	    "{\"seq\":2,\"t\":\"%s\",\"kind\":\"event\",\"type\":\"door_open\"}]}",
	    t, t);
	assert_int_equal(payload_parser_new(&p), 0);
	assert_int_equal(parse_text(p, &m, text, now), 0);
	assert_null(m.records[0].reason);
	n = payload_lots_json(&m, &m.records[0], out, sizeof(out));
	assert_int_equal(n, (int)strlen(want));
	assert_string_equal(out, want);

	/* A record without lots. */
	assert_int_equal(payload_lots_json(&m, &m.records[1], out, sizeof(out)), 2);
	assert_string_equal(out, "[]");

	/* Too small a buffer: -1, and nothing written past cap. */
	for (size_t cap = 0; cap <= (size_t)n; cap++) {
		memset(canary, '#', sizeof(canary));
		if (payload_lots_json(&m, &m.records[0], canary, cap) != -1) {
			print_error("cap %zu of %d accepted\n", cap, n);
			fail();
		}
		for (size_t i = cap; i < sizeof(canary); i++)
			assert_int_equal(canary[i], '#');
	}
	memset(canary, '#', sizeof(canary));
	assert_int_equal(payload_lots_json(&m, &m.records[0], canary, (size_t)n + 1), n);
	assert_string_equal(canary, want);
	assert_int_equal(canary[n + 1], '#');
	payload_message_release(&m);
	payload_parser_free(p);
}

/* Regression (services/common/payload.c, put_json_string, fixed): the canonical text and its NUL fit
 * in strlen + 1 bytes, but the per-character check `*at + 7 >= cap` reserves room for a
 * 6-byte escape on every character and refuses when a string ends within 7 bytes of the end
 * of the output, i.e. whenever the last lot has a uom; the header promises -1 only "when it
 * does not fit". */
static void test_payload__lots_json_fits_a_buffer_of_exactly_its_length(void **state)
{
	struct payload_parser *p = NULL;
	struct message m;
	struct loaded ld;
	char lots[512];
	const char *want = "[{\"gtin\":\"06970000000123\",\"lot\":\"GZ-CXS-20261122-A\","
			   "\"qty\":120,\"uom\":\"CS\"}]";

	(void)state;
	assert_int_equal(payload_parser_new(&p), 0);
	parse_fixture("valid/protocol_example.json", p, &m, &ld);
	memset(lots, '#', sizeof(lots));
	assert_int_equal(payload_lots_json(&m, &m.records[2], lots, strlen(want) + 1),
			 (int)strlen(want));
	assert_string_equal(lots, want);
	payload_message_release(&m);
	payload_parser_free(p);
	free(ld.text);
}

/* Regression (fixed by the nesting-depth check before tokenizing): closing a
 * bracket walks up from the last token through every already-closed ancestor, so a message
 * that is only nesting costs O(depth²). One legal-size (256 KiB) message of [[[…]]] in an
 * unknown field took 21 s of CPU on the ingest's hot path (64 KiB: 1 s). Whether such a
 * message is accepted or rejected is the parser's choice; that it is dealt with quickly is
 * not. A depth limit checked before tokenizing would bound it. */
static void test_payload__deep_nesting_cannot_stall_the_parser(void **state)
{
	struct payload_parser *p = NULL;
	struct message m;
	const char *head = "{\"v\":1,\"device\":\"gz-reefer-0042\",\"records\":[],\"x\":";
	size_t h = strlen(head), depth = (PAYLOAD_MAX_BYTES - h - 1) / 2, len = h + 2 * depth + 1;
	char *text = malloc(len);
	struct timespec t0, t1;
	long ms;
	int rc;

	(void)state;
	assert_non_null(text);
	memcpy(text, head, h);
	memset(text + h, '[', depth);
	memset(text + h + depth, ']', depth);
	text[len - 1] = '}';
	assert_int_equal(payload_parser_new(&p), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = parse_as_device(p, &m, FIXTURE_DEVICE, text, len, whole_second_now_us());
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(rc == 0 || (rc == -1 && m.reason != NULL));
	if (ms > 2000) {
		print_error("%zu bytes of nesting (depth %zu) took %ld ms\n", len, depth, ms);
		fail();
	}
	payload_message_release(&m);
	payload_parser_free(p);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_payload__fixtures_cover_every_reason),
	    cmocka_unit_test(test_payload__every_expect_file_has_its_fixture),
	    cmocka_unit_test(test_payload__protocol_example_values),
	    cmocka_unit_test(test_payload__record_with_all_probes_p1_to_p16),
	    cmocka_unit_test(test_payload__offset_times_are_stored_as_utc),
	    cmocka_unit_test(test_payload__fractional_seconds_are_kept_to_the_microsecond),
	    cmocka_unit_test(test_payload__escaped_shipment_is_unescaped_and_original_kept),
	    cmocka_unit_test(test_payload__reading_with_only_pos),
	    cmocka_unit_test(test_payload__reefer_alarm_keeps_code_and_text),
	    cmocka_unit_test(test_payload__every_event_type_is_recognised),
	    cmocka_unit_test(test_payload__unload_with_several_lots),
	    cmocka_unit_test(test_payload__limits_are_inclusive),
	    cmocka_unit_test(test_payload__failed_record_keeps_seq_and_time_for_the_dead_letter),
	    cmocka_unit_test(test_payload__known_time_is_converted_to_epoch_us),
	    cmocka_unit_test(test_payload__too_many_records_rejects_the_message),
	    cmocka_unit_test(test_payload__payload_over_256_kib_is_rejected),
	    cmocka_unit_test(test_payload__parser_is_reused_and_grows_its_token_buffer),
	    cmocka_unit_test(test_payload__message_with_zero_records_is_accepted),
	    cmocka_unit_test(test_payload__non_json_numbers_are_rejected),
	    cmocka_unit_test(test_payload__deeply_nested_unknown_field_is_ignored),
	    cmocka_unit_test(test_payload__deep_nesting_cannot_stall_the_parser),
	    cmocka_unit_test(test_payload__first_failure_of_a_record_is_the_one_reported),
	    cmocka_unit_test(test_payload__input_need_not_be_nul_terminated),
	    cmocka_unit_test(test_payload__rejected_message_keeps_its_original_bytes),
	    cmocka_unit_test(test_payload__release_is_null_safe_and_idempotent),
	    cmocka_unit_test(test_payload__topic_device_is_extracted_from_uplink_topics),
	    cmocka_unit_test(test_payload__topic_device_refuses_other_topics),
	    cmocka_unit_test(test_payload__device_id_charset_and_length),
	    cmocka_unit_test(test_payload__lots_json_is_canonical),
	    cmocka_unit_test(test_payload__lots_json_fits_a_buffer_of_exactly_its_length),
	};
	size_t n_fx = 0;
	struct fixture *fx = list_fixtures(&n_fx);
	struct CMUnitTest *fx_tests = calloc(n_fx ? n_fx : 1, sizeof(*fx_tests));
	int failed;

	if (!fx_tests)
		return 1;
	for (size_t i = 0; i < n_fx; i++) {
		fx_tests[i].name = fx[i].name;
		fx_tests[i].test_func = run_fixture;
		fx_tests[i].initial_state = &fx[i];
	}
	failed = cmocka_run_group_tests_name("payload", tests, NULL, NULL);
	if (n_fx == 0) {
		fprintf(stderr, "no fixtures under %s\n", fixture_root());
		failed++;
	} else {
		failed += _cmocka_run_group_tests("payload fixtures", fx_tests, n_fx, NULL, NULL);
	}
	free(fx_tests);
	free(fx);
	return failed ? 1 : 0;
}
