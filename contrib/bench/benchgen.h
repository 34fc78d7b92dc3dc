/*
 * benchgen: the synthetic fleet shared by the benchmark programs (dblimit, brokerlimit,
 * loadgen). Header-only on purpose: the Makefile turns every .c file under contrib/bench into its
 * own program, so shared code cannot live in a .c of its own.
 *
 * DESIGN. A record's content is a pure function of (device index, seq, time base), so a
 * resend is byte-identical to the first send (the ingest treats it as a same-content
 * duplicate) and the database-limit benchmark writes exactly the values the MQTT path would.
 * Every value is kept as a scaled integer and printed with integer arithmetic: formatting
 * floats with printf would make the load generator, not the system under test, the cost that
 * shows up on a 2-core machine. The shape is a realistic reefer reading: device, seq, time,
 * shipment, four temperatures, rh, position with speed, set point and door, ≈ 210 bytes of
 * JSON per record.
 */
#ifndef COLDTRACE_BENCHGEN_H
#define COLDTRACE_BENCHGEN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define BG_US_PER_S INT64_C(1000000)

/* One reading, scaled: temperatures, rh, speed and set point in tenths, lat/lon in 1e-5°. */
struct bg_reading {
	int64_t seq;
	int64_t t_us; /* measurement time, µs since the Unix epoch */
	int32_t supply, ret, product, ambient;
	int32_t rh;
	int32_t lat, lon;
	int32_t speed;
	int32_t setpoint;
	bool door_open;
	uint32_t shipment_no;
};

static inline uint64_t bg_mix(uint64_t x)
{
	/* splitmix64 finaliser: cheap and well distributed. */
	x += UINT64_C(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

/* Reading number seq of device dev (1-based), measured at t0_us + seq * step_us. */
static inline void bg_reading_make(struct bg_reading *r, uint32_t dev, int64_t seq, int64_t t0_us,
				   int64_t step_us)
{
	uint64_t h = bg_mix(((uint64_t)dev << 32) ^ (uint64_t)seq);
	int32_t setpoint = (int32_t)(dev % 3) * 20; /* 0.0, 2.0 or 4.0 °C */

	r->seq = seq;
	r->t_us = t0_us + seq * step_us;
	r->setpoint = setpoint;
	r->supply = setpoint - 5 + (int32_t)(h % 11);
	r->ret = setpoint + 5 + (int32_t)((h >> 8) % 15);
	r->product = setpoint + 1 + (int32_t)((h >> 16) % 9);
	r->ambient = 150 + (int32_t)((h >> 24) % 180);
	r->rh = 880 + (int32_t)((h >> 32) % 110);
	/* Guiyang → Guangzhou, a device-specific offset plus progress along the trip. */
	r->lat = 2657830 - (int32_t)(dev % 500) * 37 - (int32_t)(seq % 2000) * 193;
	r->lon = 10671350 + (int32_t)(dev % 700) * 41 + (int32_t)(seq % 2000) * 241;
	r->speed = (int32_t)((h >> 40) % 950);
	r->door_open = ((h >> 52) % 97) == 0;
	r->shipment_no = 100000 + dev;
}

/* ---- fast text formatting ---------------------------------------------------------- */

static inline char *bg_put(char *p, const char *s)
{
	size_t n = strlen(s);
	memcpy(p, s, n);
	return p + n;
}

static inline char *bg_put_u64(char *p, uint64_t v)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static inline char *bg_put_digits(char *p, uint64_t v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + width;
}

/* v / 10^decimals with exactly `decimals` fraction digits ("-1.5", "26.57830"). */
static inline char *bg_put_fixed(char *p, int64_t v, int decimals)
{
	uint64_t scale = 1, u;

	for (int i = 0; i < decimals; i++)
		scale *= 10;
	if (v < 0) {
		*p++ = '-';
		u = (uint64_t)(-v);
	} else {
		u = (uint64_t)v;
	}
	p = bg_put_u64(p, u / scale);
	*p++ = '.';
	return bg_put_digits(p, u % scale, decimals);
}

/* Days since 1970-01-01 → civil date (Howard Hinnant's algorithm): no time zone involved. */
static inline void bg_civil(int64_t days, int *y, int *m, int *d)
{
	days += 719468;
	int64_t era = (days >= 0 ? days : days - 146096) / 146097;
	int64_t doe = days - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

/* "YYYY-MM-DDTHH:MM:SSZ" (whole seconds). */
static inline char *bg_put_time(char *p, int64_t t_us)
{
	int64_t s = t_us / BG_US_PER_S, days = s / 86400, sod = s % 86400;
	int y, m, d;

	bg_civil(days, &y, &m, &d);
	p = bg_put_digits(p, (uint64_t)y, 4);
	*p++ = '-';
	p = bg_put_digits(p, (uint64_t)m, 2);
	*p++ = '-';
	p = bg_put_digits(p, (uint64_t)d, 2);
	*p++ = 'T';
	p = bg_put_digits(p, (uint64_t)(sod / 3600), 2);
	*p++ = ':';
	p = bg_put_digits(p, (uint64_t)(sod / 60 % 60), 2);
	*p++ = ':';
	p = bg_put_digits(p, (uint64_t)(sod % 60), 2);
	*p++ = 'Z';
	return p;
}

/* "SHP-2026-123456" */
static inline char *bg_put_shipment(char *p, uint32_t no)
{
	p = bg_put(p, "SHP-2026-");
	return bg_put_digits(p, no, 6);
}

#define BG_RECORD_MAX 320 /* one record's JSON is ≈ 210 bytes */

/* Appends one record's JSON object; returns the new end. */
static inline char *bg_put_record(char *p, const struct bg_reading *r)
{
	p = bg_put(p, "{\"seq\":");
	p = bg_put_u64(p, (uint64_t)r->seq);
	p = bg_put(p, ",\"t\":\"");
	p = bg_put_time(p, r->t_us);
	p = bg_put(p, "\",\"kind\":\"reading\",\"shipment\":\"");
	p = bg_put_shipment(p, r->shipment_no);
	p = bg_put(p, "\",\"temp\":{\"supply\":");
	p = bg_put_fixed(p, r->supply, 1);
	p = bg_put(p, ",\"return\":");
	p = bg_put_fixed(p, r->ret, 1);
	p = bg_put(p, ",\"product\":");
	p = bg_put_fixed(p, r->product, 1);
	p = bg_put(p, ",\"ambient\":");
	p = bg_put_fixed(p, r->ambient, 1);
	p = bg_put(p, "},\"rh\":");
	p = bg_put_fixed(p, r->rh, 1);
	p = bg_put(p, ",\"pos\":{\"lat\":");
	p = bg_put_fixed(p, r->lat, 5);
	p = bg_put(p, ",\"lon\":");
	p = bg_put_fixed(p, r->lon, 5);
	p = bg_put(p, ",\"speed_kmh\":");
	p = bg_put_fixed(p, r->speed, 1);
	p = bg_put(p, "},\"setpoint\":");
	p = bg_put_fixed(p, r->setpoint, 1);
	p = bg_put(p, r->door_open ? ",\"door\":\"open\"}" : ",\"door\":\"closed\"}");
	return p;
}

/* Device id "{prefix}-{NNNNN}" (index 1-based, five digits as the SQL lpad(…, 5) makes). */
static inline int bg_device_id(char *out, size_t cap, const char *prefix, uint32_t idx)
{
	return snprintf(out, cap, "%s-%05u", prefix, idx);
}

/* Uplink message for device `dev` carrying seqs first..last; returns its length. `out` must
 * hold 128 + strlen(id) + (last - first + 1) * BG_RECORD_MAX bytes. */
static inline size_t bg_message(char *out, const char *device_id, uint32_t dev, int64_t first,
				int64_t last, int64_t t0_us, int64_t step_us)
{
	char *p = out;
	struct bg_reading r;

	p = bg_put(p, "{\"v\":1,\"device\":\"");
	p = bg_put(p, device_id);
	p = bg_put(p, "\",\"records\":[");
	for (int64_t s = first; s <= last; s++) {
		if (s != first)
			*p++ = ',';
		bg_reading_make(&r, dev, s, t0_us, step_us);
		p = bg_put_record(p, &r);
	}
	p = bg_put(p, "]}");
	return (size_t)(p - out);
}

static inline int64_t bg_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * BG_US_PER_S + ts.tv_nsec / 1000;
}

static inline double bg_mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
