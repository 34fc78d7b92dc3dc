/*
 * trip: generates the records of one reefer trip from a Guiyang packhouse to a Guangzhou or
 * Shenzhen DC: route and speed, a reefer thermal model, door/defrost/custody events and the
 * faults tests ask for. Output is a pure function of the parameters (seed included), which is
 * what lets a restarted simulator regenerate byte-identical records.
 */
#ifndef COLDTRACE_SIM_TRIP_H
#define COLDTRACE_SIM_TRIP_H

#include <stdbool.h>
#include <stddef.h>

enum trip_dest { TRIP_DEST_GUANGZHOU, TRIP_DEST_SHENZHEN };

#define TRIP_FAULT_REEFER 1u	 /* compressor stops ~3 h mid-trip */
#define TRIP_FAULT_DEAD_ZONE 2u	 /* ~60 min without coverage */
#define TRIP_FAULT_CLOCK_SKEW 4u /* device clock off by skew_min */

#define TRIP_ORIGIN_GLN "6970000000017"
#define TRIP_JSON_MAX 2048

struct trip_params {
	char shipment[65];
	enum trip_dest dest;
	char dest_gln[14]; /* 13-digit GLN; "" = the destination's default DC */
	long long start;   /* unix seconds of the first record */
	int interval;	   /* seconds between readings */
	unsigned long long seed;
	unsigned faults; /* TRIP_FAULT_* */
	int skew_min;	 /* device clock offset in minutes, with TRIP_FAULT_CLOCK_SKEW */
	double setpoint; /* reefer set point, °C */
	char commodity[33];
	char lot[21];  /* "" = derived from commodity, start and seed */
	char gtin[15]; /* GTIN-14 of the cases */
	int qty;       /* cases loaded */
};

struct trip_record {
	double t;	    /* true simulated time, unix seconds: what pacing follows */
	long long t_device; /* the time written in the record (clock skew included) */
	bool is_event;
	bool offline;	/* the truck has no coverage at t (dead_zone fault) */
	double product; /* readings: the product temperature written */
	size_t len;
	char json[TRIP_JSON_MAX]; /* one line, NUL-terminated, starts with {"seq":N, */
};

struct trip;

int trip_new(struct trip **out, const struct trip_params *p);
void trip_free(struct trip *t); /* NULL-safe */

/* Next record, numbered seq. Returns 1 with *out filled, 0 when the trip is over. */
int trip_next(struct trip *t, long long seq, struct trip_record *out);

/* Seconds from the trip's first record to its last (independent of p->start). */
int trip_duration(const struct trip_params *p, long long *seconds);

/* Hex fingerprint of everything that shapes the records (model version included). */
void trip_key(const struct trip_params *p, char out[17]);

int trip_dest_parse(const char *name, enum trip_dest *out);
const char *trip_dest_gln(enum trip_dest dest); /* default DC GLN */

/* Set point for a commodity code of shared/commodities.csv (middle of its range). */
int trip_commodity_setpoint(const char *code, double *setpoint);

/* True when digits is all digits and ends with a valid GS1 mod-10 check digit. */
bool trip_gs1_valid(const char *digits);

#endif
