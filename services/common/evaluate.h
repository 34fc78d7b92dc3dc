/*
 * evaluate: recomputes one shipment's cold-chain verdict — its phases (departure and arrival
 * from load/unload events and the sites' geofences), excursions, figures for the shipment
 * and each lot on it — from everything measured for it, and records what changed, with one
 * alert row per excursion state change. SQL and domain logic only; no MQTT, no HTTP.
 */
#ifndef COLDTRACE_EVALUATE_H
#define COLDTRACE_EVALUATE_H

#include <stdint.h>

#include "db.h"

struct evaluate_counts {
	int shipments, excursions_opened, excursions_escalated, excursions_closed;
};

/* Evaluates up to `max` shipments waiting in eval_queue, one transaction each. */
int evaluate_pending(struct db *db, int max, int64_t max_gap_s, struct evaluate_counts *counts);

/* Evaluates one shipment now (used by `coldtrace qa evaluate` and tests). */
int evaluate_shipment(struct db *db, const char *shipment_id, int64_t max_gap_s,
		      struct evaluate_counts *counts);

#endif
