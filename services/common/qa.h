/*
 * qa: the QA workflow over excursions and data gaps, for the CLI (`coldtrace qa`) and the
 * HTTP service alike: what is open, what a shipment looks like to QA, recording an
 * acknowledgement, comment, disposition or flag, and reading the audit log. No printing, no
 * argv: documents come back as JSON text built by PostgreSQL, failures as a struct qa_err.
 *
 * Targets. An action is about one of:
 *   excursion  target_id = the excursion's id (excursions.id of that shipment)
 *   gap        target_id = the data gap's id (data_gaps.id with data_gaps.shipment_id =
 *              the shipment)
 *   shipment   target_id = the shipment's id (NULL in struct qa_action means the same)
 *   lot        target_id = "GTIN/LOT", a lot named in a load or unload event of the
 *              shipment (events.lots)
 * Their text form, used by the CLI and in messages, is "excursion:12", "gap:7", "shipment"
 * and "lot:16912345678909/L2611" (qa_target_parse).
 *
 * Actions: acknowledge (excursion or gap), comment (any target), disposition (any target:
 * release, partial_release, hold or reject), flag and unflag (shipment or lot). A reason is
 * required for comment, disposition, flag and unflag. A flag is refused on a target already
 * flagged and an unflag on one that is not. Every recorded action lands, in the same
 * transaction, in the append-only audit_log (sql/migrations/0003_excursions.sql).
 *
 * Open items. An excursion or gap is open unless it is handled: an excursion still in
 * state 'open' is never handled; otherwise it is handled once a final disposition (release,
 * partial_release or reject; not hold) was given to it or to its whole shipment.
 */
#ifndef COLDTRACE_QA_H
#define COLDTRACE_QA_H

#include <stddef.h>

struct db;

enum qa_err_kind {
	QA_ERR_NONE = 0,
	QA_ERR_INVALID,	  /* a field missing or malformed (HTTP 400; CLI exit 2) */
	QA_ERR_NOT_FOUND, /* the shipment or target does not exist or is not the shipment's */
	QA_ERR_CONFLICT,  /* refused in the current state: flag twice, unflag unflagged */
	QA_ERR_DB,	  /* database failure (already logged) */
};

/* Why a qa_ function returned -1. field names the offending input in struct qa_action's
 * terms ("shipment", "target", "target_id", "action", "disposition", "reason", "actor"),
 * "" when none; message is one line of text for a person. */
struct qa_err {
	enum qa_err_kind kind;
	char field[16];
	char message[320];
};

/* One QA action. Strings are borrowed; nothing is kept after the call. */
struct qa_action {
	const char *shipment;	 /* shipments.id */
	const char *target;	 /* "excursion", "gap", "shipment" or "lot" */
	const char *target_id;	 /* see above; leading zeros of an id are dropped */
	const char *action;	 /* "acknowledge", "comment", "disposition", "flag", "unflag" */
	const char *disposition; /* for "disposition" only: "release", "partial_release",
				    "hold" or "reject" */
	const char *reason;	 /* required for comment, disposition, flag, unflag; optional
				    note on acknowledge. At most QA_REASON_MAX bytes. */
	const char *actor;	 /* who acts: 1 to QA_ACTOR_MAX bytes */
};

#define QA_REASON_MAX 2000
#define QA_ACTOR_MAX 128

/* Splits the text form of a target ("excursion:12", "gap:7", "shipment", "shipment:ID",
 * "lot:GTIN/LOT") into *target (a static string) and *target_id (pointing into spec; NULL
 * for a bare "shipment"). Syntax only: the id is checked by qa_action_check. 0 or -1. */
int qa_target_parse(const char *spec, const char **target, const char **target_id);

/* Checks everything about a that needs no database: required fields, known values, which
 * actions a target takes, the form of ids, GTIN check digits, lengths. 0, or -1 with err
 * (kind QA_ERR_INVALID) filled; err may be NULL. */
int qa_action_check(const struct qa_action *a, struct qa_err *err);

/* Records a after qa_action_check, checking in one transaction that the shipment exists,
 * that the target is the shipment's and that a flag/unflag fits the current state; QA
 * actions of one shipment are serialised. On success *json_out (the caller's, free()) is
 *   {"id", "shipment", "target" ("excursion:12"), "action", "disposition", "reason",
 *    "actor", "at", "audit_id"}
 * Returns 0, or -1 with err filled (err may be NULL) and *json_out NULL. */
int qa_act(struct db *db, const struct qa_action *a, char **json_out, struct qa_err *err);

/* Excursions and gaps of every shipment (shipment NULL) or of one, newest first; open ones
 * only unless include_handled. *json_out (the caller's, free()) is an array of
 *   {"target", "shipment", "state", "severity", "detail", "started_at", "ended_at",
 *    "duration_s", "peak_c", "acknowledged", "disposition", "handled"}
 * (severity and peak_c are null for a gap; disposition is the target's latest). -1 with err
 * (QA_ERR_NOT_FOUND for an unknown shipment). */
int qa_open_items_json(struct db *db, const char *shipment, int include_handled, char **json_out,
		       struct qa_err *err);

/* A shipment as QA sees it. *json_out (the caller's, free()) is an object:
 *   "shipment", "commodity", "origin", "destination", "status",
 *   "disposition", "disposition_reason", "disposition_by", "disposition_at" (the latest
 *   shipment-level disposition, nulls when none), "flagged" (the shipment),
 *   "figures": [{"scope" ("shipment" or "lot:GTIN/LOT"), "from", "to", "probe", "samples",
 *     "min_c", "max_c", "mean_c", "mkt_c", "time_above_s", "time_below_s",
 *     "degree_minutes", "coverage", "remaining_life_days", "computed_at"}],
 *   "lots": [{"target", "disposition", "flagged"}],
 *   "items": [the excursions and gaps, as qa_open_items_json with include_handled],
 *   "flags": [{"target", "reason", "by", "since"}] (flags in force),
 *   "actions": [{"id", "target", "action", "disposition", "reason", "actor", "at"}] oldest
 *   first.
 * -1 with err (QA_ERR_NOT_FOUND for an unknown shipment). */
int qa_shipment_json(struct db *db, const char *shipment, char **json_out, struct qa_err *err);

/* The audit log, oldest first, of everything (shipment NULL) or of one shipment's QA
 * actions. *json_out (the caller's, free()) is an array of
 *   {"id", "at", "actor", "action" ("qa.disposition"), "object", "before", "after"}
 * before and after being the audited rows as JSON (before: the target's previous action of
 * the same kind, or null). -1 with err. */
int qa_audit_json(struct db *db, const char *shipment, char **json_out, struct qa_err *err);

#endif
