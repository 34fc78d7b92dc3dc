/*
 * parsebench: CPU cost per record of parsing one 10-record uplink, reading every field —
 * coldtrace's payload module (jsmn tokenizer + protocol checks) against cJSON doing the
 * same walk. This is the measurement behind the choice of JSON library; `make bench` runs it
 * and keeps the figures. A benchmark peer, not product code: it links cJSON only here.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "payload.h"
#include "ts.h"

#define RECORDS 10

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static size_t build_message(char *out, size_t cap)
{
	char t[40];
	size_t at = (size_t)snprintf(out, cap, "{\"v\":1,\"device\":\"gz-reefer-0042\",\"records\":[");

	for (int i = 0; i < RECORDS; i++) {
		ts_format_rfc3339(ts_now_us() - (int64_t)(RECORDS - i) * 30 * TS_US_PER_S, t, sizeof(t));
		at += (size_t)snprintf(out + at, cap - at,
				       "%s{\"seq\":%d,\"t\":\"%s\",\"kind\":\"reading\","
				       "\"shipment\":\"SHP-2026-000123\",\"temp\":{\"supply\":1.8,"
				       "\"return\":3.2,\"product\":2.1},\"rh\":93.5,\"pos\":{\"lat\":"
				       "26.5783,\"lon\":106.7135,\"speed_kmh\":62.0},\"setpoint\":2.0,"
				       "\"door\":\"closed\"}",
				       i ? "," : "", 1201 + i, t);
	}
	at += (size_t)snprintf(out + at, cap - at, "]}");
	return at;
}

static double sum_payload(const struct message *m)
{
	double s = 0;

	for (size_t i = 0; i < m->n_records; i++) {
		const struct record *r = &m->records[i];
		s += (double)r->seq + (double)r->t_us * 1e-12 + r->temp[PROBE_SUPPLY] +
		     r->temp[PROBE_RETURN] + r->temp[PROBE_PRODUCT] + r->rh + r->lat + r->lon +
		     r->speed_kmh + r->setpoint + r->door_open + (double)r->shipment.len;
	}
	return s;
}

static double bench_payload(const char *msg, size_t len, int iters)
{
	struct payload_parser *p = NULL;
	struct payload_limits lim = {30LL * 86400 * TS_US_PER_S, 300 * TS_US_PER_S};
	double sink = 0, t0;

	payload_parser_new(&p);
	t0 = now_s();
	for (int i = 0; i < iters; i++) {
		struct message m;
		memset(&m, 0, sizeof(m));
		snprintf(m.device, sizeof(m.device), "gz-reefer-0042");
		if (payload_parse(p, &m, msg, len, ts_now_us(), &lim) != 0 || m.records[0].reason) {
			fprintf(stderr, "parsebench: message rejected\n");
			exit(1);
		}
		sink += sum_payload(&m);
		payload_message_release(&m);
	}
	t0 = now_s() - t0;
	payload_parser_free(p);
	if (sink == 42)
		puts("");
	return t0 / iters / RECORDS * 1e6;
}

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static double bench_cjson(const char *msg, size_t len, int iters)
{
	double sink = 0, t0 = now_s();

	for (int i = 0; i < iters; i++) {
		cJSON *root = cJSON_ParseWithLength(msg, len);
		const cJSON *recs = cJSON_GetObjectItemCaseSensitive(root, "records"), *r;
		cJSON_ArrayForEach(r, recs)
		{
			const cJSON *temp = cJSON_GetObjectItemCaseSensitive(r, "temp");
			const cJSON *pos = cJSON_GetObjectItemCaseSensitive(r, "pos");
			const cJSON *t = cJSON_GetObjectItemCaseSensitive(r, "t");
			int64_t us = 0;
			if (cJSON_IsString(t))
				ts_parse_rfc3339(t->valuestring, strlen(t->valuestring), &us);
			sink += num(r, "seq") + (double)us * 1e-12 + num(temp, "supply") +
				num(temp, "return") + num(temp, "product") + num(r, "rh") +
				num(pos, "lat") + num(pos, "lon") + num(pos, "speed_kmh") +
				num(r, "setpoint");
			sink += (double)strlen(cJSON_GetStringValue(
				cJSON_GetObjectItemCaseSensitive(r, "shipment")));
		}
		cJSON_Delete(root);
	}
	t0 = now_s() - t0;
	if (sink == 42)
		puts("");
	return t0 / iters / RECORDS * 1e6;
}

int main(int argc, char **argv)
{
	char msg[8192];
	size_t len = build_message(msg, sizeof(msg));
	int iters = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 200000;
	double ours, cjson;

	bench_payload(msg, len, iters / 10); /* warm-up */
	ours = bench_payload(msg, len, iters);
	cjson = bench_cjson(msg, len, iters);
	printf("{\"message_bytes\":%zu,\"records_per_message\":%d,\"iterations\":%d,"
	       "\"payload_us_per_record\":%.3f,\"cjson_us_per_record\":%.3f}\n",
	       len, RECORDS, iters, ours, cjson);
	return 0;
}
