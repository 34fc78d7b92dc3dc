/*
 * ts: RFC 3339 ⇄ epoch microseconds. The parser is strict about field widths and ranges
 * because a wrong time silently moves a reading to another hour of the trip.
 */
#include "ts.h"

#include <stdio.h>
#include <time.h>

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static int days_in_month(int y, int m)
{
	static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : dim[m - 1];
}

static int digits(const char *s, size_t n, int *out)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int parse_offset(const char *s, size_t len, int64_t *off_s)
{
	int hh, mm;

	if (len == 1 && (s[0] == 'Z' || s[0] == 'z')) {
		*off_s = 0;
		return 0;
	}
	if (len != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':' || digits(s + 1, 2, &hh) ||
	    digits(s + 4, 2, &mm) || hh > 23 || mm > 59)
		return -1;
	*off_s = (s[0] == '-' ? -1 : 1) * (int64_t)(hh * 3600 + mm * 60);
	return 0;
}

int ts_parse_rfc3339(const char *s, size_t len, int64_t *out_us)
{
	int y, mo, d, h, mi, se, frac_us = 0;
	size_t i = 19;
	int64_t off_s;

	if (len < 20 || s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':')
		return -1;
	if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
		return -1;
	if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
	    digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &se))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 60)
		return -1;
	if (s[i] == '.') {
		int scale = 100000, nd = 0;
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, nd++) {
			frac_us += (s[i] - '0') * scale;
			scale /= 10;
		}
		if (nd == 0)
			return -1;
	}
	if (parse_offset(s + i, len - i, &off_s) < 0)
		return -1;
	/* A leap second (:60) is read as the first instant of the next minute, as POSIX does. */
	int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off_s;
	*out_us = secs * TS_US_PER_S + frac_us;
	return 0;
}

int ts_format_rfc3339(int64_t us, char *out, size_t cap)
{
	int64_t secs = us >= 0 ? us / TS_US_PER_S : -((-us + TS_US_PER_S - 1) / TS_US_PER_S);
	int64_t frac = us - secs * TS_US_PER_S;
	int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	int64_t rem = secs - days * 86400;
	int y, m, d, n;

	civil_from_days(days, &y, &m, &d);
	if (frac)
		n = snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", y, m, d,
			     (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), (int)frac);
	else
		n = snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d, (int)(rem / 3600),
			     (int)(rem / 60 % 60), (int)(rem % 60));
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

int64_t ts_now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * TS_US_PER_S + t.tv_nsec / 1000;
}

int64_t ts_mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

void ts_sleep_ms(int ms)
{
	struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&t, &t) != 0)
		;
}
