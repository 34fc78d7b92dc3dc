/*
 * excursion: finds a shipment's temperature excursions from its decision-probe samples, its
 * reefer and custody events and its profile. A pure function of what was measured — sorted
 * by measurement time, never by arrival — so a late backlog, replayed in any order or
 * batching, always yields the same excursions as a full recompute.
 */
#ifndef COLDTRACE_EXCURSION_H
#define COLDTRACE_EXCURSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum excursion_phase { PHASE_ORIGIN = 1, PHASE_TRANSIT = 2, PHASE_DESTINATION = 4 };
enum excursion_severity { SEVERITY_WARNING = 1, SEVERITY_MAJOR = 2, SEVERITY_CRITICAL = 3 };
enum excursion_direction { EXCURSION_ABOVE = 1, EXCURSION_BELOW = 2 };
enum excursion_event_type {
	XEV_DOOR_OPEN = 1,
	XEV_DOOR_CLOSE,
	XEV_DEFROST_START,
	XEV_DEFROST_END,
	XEV_LOAD,
	XEV_UNLOAD,
};

struct excursion_limit {
	int direction;
	double threshold_c;
	int64_t min_duration_s; /* a run must last this long to qualify */
	int64_t budget_s; /* cumulative time beyond the limit allowed over the trip; 0 = none */
	int severity;
	unsigned phases; /* bit set of enum excursion_phase */
};

struct excursion_profile {
	const struct excursion_limit *limits;
	size_t n_limits;
	int64_t door_grace_s; /* after a door opening at load/unload */
	bool suppress_defrost;
	int64_t defrost_recovery_s; /* after defrost_end, supply air settles */
};

struct excursion_sample {
	int64_t t_us;
	double c;
};

struct excursion_event {
	int64_t t_us;
	int type;
};

struct excursion_input {
	const struct excursion_sample *samples; /* sorted by t_us */
	size_t n_samples;
	const struct excursion_event *events; /* sorted by t_us */
	size_t n_events;
	int64_t max_gap_us; /* samples further apart than this do not make one run */
	int64_t departure_us; /* phase boundaries; INT64_MIN / INT64_MAX when unknown */
	int64_t arrival_us;
};

/* One episode: a period where at least one limit of a direction qualified. */
struct excursion {
	int direction;
	int severity; /* the most severe limit that qualified inside the episode */
	bool open; /* still beyond the limit at the last sample */
	bool budget_breach; /* a cumulative budget ran out inside it */
	int64_t start_us, end_us; /* end: first sample back in range (start of last run if open) */
	double threshold_c; /* of the least severe limit that qualified: where the episode starts */
	double peak_c;
	int64_t duration_s;
	double degree_minutes; /* beyond threshold_c, by the trapezoid over each sample span */
	int phase; /* phase at start */
};

/* Finds the episodes. *out (caller frees with free()) is sorted by start; -1 on bad input
 * (unsorted samples) or out of memory. */
int excursion_find(const struct excursion_profile *p, const struct excursion_input *in,
		   struct excursion **out, size_t *n);

int excursion_phase_at(const struct excursion_input *in, int64_t t_us);
const char *excursion_severity_name(int severity);
const char *excursion_phase_name(int phase);

#endif
