/*
 * evaluate: one shipment, from its rows to its verdict.
 *
 * DESIGN. Everything is recomputed from the shipment's readings and events sorted by
 * measurement time, so the outcome is the same whatever order the data arrived in; the
 * "affected window" of a late backlog is the shipment it belongs to, which is small (an
 * 8-hour trip at 30 s is ~1 000 readings, evaluated in milliseconds). Stored excursions are
 * matched to recomputed ones by direction and overlapping time, so an episode keeps its id
 * while late data extends it; alerts are written only for state changes (opened, escalated,
 * closed), never for an unchanged state. One transaction per shipment, removing its queue
 * entry only if no newer data queued it again meanwhile.
 */
#include "evaluate.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coldchain.h"
#include "excursion.h"
#include "geo.h"
#include "log.h"

#define US 1000000LL
#define MAX_GAPS 64

static const char *const sql_queue =
	"SELECT shipment_id, queued_at::text FROM coldtrace.eval_queue ORDER BY queued_at LIMIT $1";
static const char *const sql_dequeue =
	"DELETE FROM coldtrace.eval_queue WHERE shipment_id = $1 AND queued_at = $2::timestamptz";
static const char *const sql_shipment =
	"SELECT s.commodity, o.lat, o.lon, o.radius_m, d.lat, d.lon, d.radius_m, d.org_id, "
	"       c.storage_life_days, c.temp_opt_c, c.lowest_safe_c, c.chilling_sensitive, "
	"       (SELECT e.lots->0->>'gtin' FROM coldtrace.events e WHERE e.shipment_id = s.id "
	"         AND e.type = 'load' ORDER BY e.measured_at LIMIT 1) "
	"  FROM coldtrace.shipments s JOIN coldtrace.sites o ON o.gln = s.origin_gln "
	"  JOIN coldtrace.sites d ON d.gln = s.destination_gln "
	"  LEFT JOIN coldtrace.commodities c ON c.code = s.commodity WHERE s.id = $1 FOR UPDATE OF s";
static const char *const sql_profile =
	"SELECT p.id, p.door_grace_s, p.suppress_defrost, p.decision_probes::text "
	"  FROM coldtrace.profiles p "
	" WHERE p.id = coldtrace.ct_profile_for($1, lpad($2, 14, '0'), $3::bigint)";
static const char *const sql_limits =
	"SELECT kind, threshold_c, min_duration_s, coalesce(cumulative_budget_s, 0), severity, "
	"       'origin' = ANY (phases), 'transit' = ANY (phases), 'destination' = ANY (phases) "
	"  FROM coldtrace.profile_limits WHERE profile_id = $1 ORDER BY id";
/* The decision probe: the first of the profile's probes the shipment has any value of. */
static const char *const sql_probe =
	"SELECT p FROM unnest($2::text[]) WITH ORDINALITY AS u (p, i) "
	" WHERE EXISTS (SELECT 1 FROM coldtrace.readings r WHERE r.shipment_id = $1 AND "
	"   CASE u.p WHEN 'product' THEN r.t_product WHEN 'return' THEN r.t_return "
	"            WHEN 'supply' THEN r.t_supply WHEN 'ambient' THEN r.t_ambient "
	"            ELSE r.t_probes[substr(u.p, 2)::int] END IS NOT NULL) ORDER BY i LIMIT 1";
static const char *const sql_samples =
	"SELECT (extract(epoch FROM measured_at) * 1000000)::bigint, "
	"       CASE $2 WHEN 'product' THEN t_product WHEN 'return' THEN t_return "
	"               WHEN 'supply' THEN t_supply WHEN 'ambient' THEN t_ambient "
	"               ELSE t_probes[substr($2, 2)::int] END, lat, lon "
	"  FROM coldtrace.readings WHERE shipment_id = $1 ORDER BY measured_at, device_id, seq";
static const char *const sql_events =
	"SELECT (extract(epoch FROM measured_at) * 1000000)::bigint, type FROM coldtrace.events "
	" WHERE shipment_id = $1 ORDER BY measured_at, device_id, seq";
static const char *const sql_lots =
	"SELECT l->>'gtin' || '/' || (l->>'lot'), "
	"       (extract(epoch FROM min(e.measured_at) FILTER (WHERE e.type = 'load')) * 1000000)::bigint, "
	"       (extract(epoch FROM min(e.measured_at) FILTER (WHERE e.type = 'unload')) * 1000000)::bigint "
	"  FROM coldtrace.events e, jsonb_array_elements(e.lots) l "
	" WHERE e.shipment_id = $1 AND e.type IN ('load', 'unload') GROUP BY 1 ORDER BY 1";
static const char *const sql_stored =
	"SELECT id, direction, severity, state, "
	"       (extract(epoch FROM started_at) * 1000000)::bigint, "
	"       coalesce((extract(epoch FROM ended_at) * 1000000)::bigint, 9223372036854775807) "
	"  FROM coldtrace.excursions WHERE shipment_id = $1 ORDER BY started_at";
static const char *const sql_insert_excursion =
	"INSERT INTO coldtrace.excursions (shipment_id, direction, severity, state, started_at, "
	"  ended_at, threshold_c, peak_c, duration_s, degree_minutes, probe, phase, budget_breach) "
	"VALUES ($1, $2, $3, $4, to_timestamp($5::double precision / 1e6), "
	"  to_timestamp($6::double precision / 1e6), $7, $8, $9, $10, $11, $12, $13) RETURNING id";
static const char *const sql_update_excursion =
	"UPDATE coldtrace.excursions SET severity = $3, state = $4, "
	"  started_at = to_timestamp($5::double precision / 1e6), "
	"  ended_at = to_timestamp($6::double precision / 1e6), threshold_c = $7, peak_c = $8, "
	"  duration_s = $9, degree_minutes = $10, probe = $11, phase = $12, budget_breach = $13, "
	"  updated_at = now() WHERE shipment_id = $1 AND id = $2::bigint";
static const char *const sql_drop_excursion =
	"DELETE FROM coldtrace.excursions WHERE shipment_id = $1 AND id = $2::bigint";
static const char *const sql_alert =
	"INSERT INTO coldtrace.alerts (shipment_id, excursion_id, change, severity, payload) "
	"SELECT x.shipment_id, x.id, $3, x.severity, json_build_object('v', 1, "
	"  'shipment', x.shipment_id, 'excursion', x.id, 'change', $3::text, 'severity', x.severity, "
	"  'direction', x.direction, 'state', x.state, 'started_at', x.started_at, "
	"  'ended_at', x.ended_at, 'threshold_c', x.threshold_c, 'peak_c', x.peak_c, "
	"  'duration_s', x.duration_s, 'degree_minutes', round(x.degree_minutes::numeric, 1), "
	"  'probe', x.probe, 'phase', x.phase, 'budget_breach', x.budget_breach) "
	"  FROM coldtrace.excursions x WHERE x.shipment_id = $1 AND x.id = $2::bigint";
static const char *const sql_figures =
	"INSERT INTO coldtrace.shipment_figures (shipment_id, lot_key, from_time, to_time, probe, "
	"  samples, min_c, max_c, mean_c, mkt_c, time_above_s, time_below_s, degree_minutes, "
	"  coverage, gaps, remaining_life_days, computed_at) "
	"VALUES ($1, $2, to_timestamp($3::double precision / 1e6), "
	"  to_timestamp($4::double precision / 1e6), $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
	"  $15::jsonb, $16, now()) "
	"ON CONFLICT (shipment_id, lot_key) DO UPDATE SET from_time = EXCLUDED.from_time, "
	"  to_time = EXCLUDED.to_time, probe = EXCLUDED.probe, samples = EXCLUDED.samples, "
	"  min_c = EXCLUDED.min_c, max_c = EXCLUDED.max_c, mean_c = EXCLUDED.mean_c, "
	"  mkt_c = EXCLUDED.mkt_c, time_above_s = EXCLUDED.time_above_s, "
	"  time_below_s = EXCLUDED.time_below_s, degree_minutes = EXCLUDED.degree_minutes, "
	"  coverage = EXCLUDED.coverage, gaps = EXCLUDED.gaps, "
	"  remaining_life_days = EXCLUDED.remaining_life_days, computed_at = now()";
static const char *const sql_phases =
	"UPDATE coldtrace.shipments SET "
	"  actual_departure = CASE WHEN $2 = '' THEN NULL ELSE to_timestamp($2::double precision / 1e6) END, "
	"  actual_arrival = CASE WHEN $3 = '' THEN NULL ELSE to_timestamp($3::double precision / 1e6) END, "
	"  status = CASE WHEN status = 'cancelled' THEN status WHEN $3 <> '' THEN 'delivered' "
	"                WHEN $2 <> '' THEN 'in_transit' ELSE status END "
	" WHERE id = $1";

/* Everything loaded about one shipment. */
struct shipment {
	const char *id;
	char probe[16];
	double origin[3], dest[3]; /* lat, lon, radius_m */
	struct coldchain_life life;
	bool has_life;
	struct excursion_limit limits[16];
	struct excursion_profile profile;
	struct excursion_sample *samples;
	double *lat, *lon;
	struct excursion_event *events;
	struct excursion_input in;
	int64_t load_us, unload_us;
};

static double num(const struct db_res *r, int row, int col, double if_null)
{
	const char *v = db_res_get(r, row, col);
	return v ? strtod(v, NULL) : if_null;
}

static int severity_of(const char *s)
{
	return strcmp(s, "critical") == 0 ? SEVERITY_CRITICAL
	       : strcmp(s, "major") == 0  ? SEVERITY_MAJOR
					  : SEVERITY_WARNING;
}

static int load_site_data(struct db *db, struct shipment *sh, char *commodity, size_t cap,
			  char *gtin, size_t gcap, char *org, size_t ocap)
{
	struct db_res *r = NULL;
	const char *p[1] = {sh->id};
	int rc = -1;

	if (db_exec(db, sql_shipment, 1, p, &r) < 0)
		goto out;
	if (db_res_rows(r) != 1) {
		log_warn("evaluate: shipment %s is not registered (or its sites are not); not judged",
			 sh->id);
		rc = 1;
		goto out;
	}
	snprintf(commodity, cap, "%s", db_res_get(r, 0, 0));
	for (int i = 0; i < 3; i++) {
		sh->origin[i] = num(r, 0, 1 + i, NAN);
		sh->dest[i] = num(r, 0, 4 + i, NAN);
	}
	snprintf(org, ocap, "%s", db_res_get(r, 0, 7) ? db_res_get(r, 0, 7) : "");
	sh->has_life = db_res_get(r, 0, 8) != NULL;
	if (sh->has_life) {
		sh->life.life_days = num(r, 0, 8, 1);
		sh->life.ref_c = num(r, 0, 9, 0);
		sh->life.model = COLDCHAIN_RATE_HB66;
		sh->life.q10 = 2;
		sh->life.floor_c = strcmp(db_res_get(r, 0, 11), "t") == 0 ? num(r, 0, 10, NAN) : NAN;
	}
	snprintf(gtin, gcap, "%s", db_res_get(r, 0, 12) ? db_res_get(r, 0, 12) : "");
	rc = 0;
out:
	db_res_free(r);
	return rc;
}

static int load_limits(struct db *db, struct shipment *sh, const char *profile_id)
{
	struct db_res *r = NULL;
	const char *p[1] = {profile_id};
	int n;

	if (db_exec(db, sql_limits, 1, p, &r) < 0)
		return -1;
	n = db_res_rows(r) < 16 ? db_res_rows(r) : 16;
	for (int i = 0; i < n; i++) {
		struct excursion_limit *l = &sh->limits[i];
		l->direction = strcmp(db_res_get(r, i, 0), "upper") == 0 ? EXCURSION_ABOVE : EXCURSION_BELOW;
		l->threshold_c = num(r, i, 1, 0);
		l->min_duration_s = (int64_t)num(r, i, 2, 0);
		l->budget_s = (int64_t)num(r, i, 3, 0);
		l->severity = severity_of(db_res_get(r, i, 4));
		l->phases = (db_res_get(r, i, 5)[0] == 't' ? PHASE_ORIGIN : 0) |
			    (db_res_get(r, i, 6)[0] == 't' ? PHASE_TRANSIT : 0) |
			    (db_res_get(r, i, 7)[0] == 't' ? PHASE_DESTINATION : 0);
	}
	sh->profile.limits = sh->limits;
	sh->profile.n_limits = (size_t)n;
	db_res_free(r);
	return 0;
}

/* Profile (most specific for commodity, GTIN, customer), its limits, the decision probe. */
static int load_profile(struct db *db, struct shipment *sh, const char *commodity,
			const char *gtin, const char *org)
{
	struct db_res *r = NULL, *pr = NULL;
	const char *p[3] = {commodity, gtin[0] ? gtin : NULL, org[0] ? org : NULL};
	int rc = -1;

	if (db_exec(db, sql_profile, 3, p, &r) < 0)
		goto out;
	if (db_res_rows(r) != 1) {
		log_warn("evaluate: shipment %s: no profile for commodity %s; not judged", sh->id,
			 commodity);
		rc = 1;
		goto out;
	}
	sh->profile.door_grace_s = (int64_t)num(r, 0, 1, 900);
	sh->profile.suppress_defrost = db_res_get(r, 0, 2)[0] == 't';
	sh->profile.defrost_recovery_s = 10 * 60;
	const char *pp[2] = {sh->id, db_res_get(r, 0, 3)};
	if (load_limits(db, sh, db_res_get(r, 0, 0)) < 0 || db_exec(db, sql_probe, 2, pp, &pr) < 0)
		goto out;
	snprintf(sh->probe, sizeof(sh->probe), "%s", db_res_rows(pr) ? db_res_get(pr, 0, 0) : "");
	rc = 0;
out:
	db_res_free(pr);
	db_res_free(r);
	return rc;
}

static int load_series(struct db *db, struct shipment *sh)
{
	struct db_res *r = NULL;
	const char *p[2] = {sh->id, sh->probe};
	size_t n = 0;
	int rows;

	if (db_exec(db, sql_samples, 2, p, &r) < 0)
		return -1;
	rows = db_res_rows(r);
	sh->samples = malloc(((size_t)rows + 1) * sizeof(*sh->samples));
	sh->lat = malloc(((size_t)rows + 1) * sizeof(double));
	sh->lon = malloc(((size_t)rows + 1) * sizeof(double));
	if (!sh->samples || !sh->lat || !sh->lon) {
		db_res_free(r);
		return -1;
	}
	/* Readings without the decision probe still carry positions, so they are kept for the
	 * geofences with a NAN value, and dropped from the temperature series below. */
	for (int i = 0; i < rows; i++) {
		sh->samples[n].t_us = strtoll(db_res_get(r, i, 0), NULL, 10);
		sh->samples[n].c = num(r, i, 1, NAN);
		sh->lat[n] = num(r, i, 2, NAN);
		sh->lon[n] = num(r, i, 3, NAN);
		n++;
	}
	sh->in.n_samples = n;
	db_res_free(r);
	return 0;
}

static int event_type(const char *t)
{
	static const struct {
		const char *name;
		int type;
	} map[] = {{"door_open", XEV_DOOR_OPEN},	 {"door_close", XEV_DOOR_CLOSE},
		   {"defrost_start", XEV_DEFROST_START}, {"defrost_end", XEV_DEFROST_END},
		   {"load", XEV_LOAD},			 {"unload", XEV_UNLOAD}};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].name, t) == 0)
			return map[i].type;
	return 0;
}

static int load_events(struct db *db, struct shipment *sh)
{
	struct db_res *r = NULL;
	const char *p[1] = {sh->id};
	size_t n = 0;

	if (db_exec(db, sql_events, 1, p, &r) < 0)
		return -1;
	sh->events = malloc(((size_t)db_res_rows(r) + 1) * sizeof(*sh->events));
	if (!sh->events) {
		db_res_free(r);
		return -1;
	}
	sh->load_us = INT64_MIN;
	sh->unload_us = INT64_MIN;
	for (int i = 0; i < db_res_rows(r); i++) {
		int type = event_type(db_res_get(r, i, 1));
		int64_t t = strtoll(db_res_get(r, i, 0), NULL, 10);
		if (!type)
			continue;
		if (type == XEV_LOAD && sh->load_us == INT64_MIN)
			sh->load_us = t;
		if (type == XEV_UNLOAD)
			sh->unload_us = t;
		sh->events[n].t_us = t;
		sh->events[n].type = type;
		n++;
	}
	sh->in.events = sh->events;
	sh->in.n_events = n;
	db_res_free(r);
	return 0;
}

static bool inside(const double site[3], double lat, double lon)
{
	return !isnan(site[0]) && !isnan(lat) &&
	       geo_distance_m(site[0], site[1], lat, lon) <= site[2];
}

/* Departure: the first position outside the origin's geofence after the load (or after the
 * first position inside it); arrival: the first position inside the destination's geofence
 * after departure, else the unload event. */
static void find_phases(struct shipment *sh)
{
	bool seen_origin = false;

	sh->in.departure_us = INT64_MIN;
	sh->in.arrival_us = INT64_MAX;
	for (size_t i = 0; i < sh->in.n_samples; i++) {
		int64_t t = sh->samples[i].t_us;
		if (inside(sh->origin, sh->lat[i], sh->lon[i]))
			seen_origin = true;
		else if (!isnan(sh->lat[i]) && sh->in.departure_us == INT64_MIN &&
			 (seen_origin || (sh->load_us != INT64_MIN && t > sh->load_us)))
			sh->in.departure_us = t;
		if (sh->in.departure_us != INT64_MIN && t > sh->in.departure_us &&
		    inside(sh->dest, sh->lat[i], sh->lon[i])) {
			sh->in.arrival_us = t;
			break;
		}
	}
	if (sh->in.departure_us == INT64_MIN && sh->load_us != INT64_MIN)
		sh->in.departure_us = sh->load_us;
	if (sh->in.arrival_us == INT64_MAX && sh->unload_us != INT64_MIN)
		sh->in.arrival_us = sh->unload_us;
}

/* Keeps only the samples that carry the decision probe. */
static void compact_series(struct shipment *sh)
{
	size_t n = 0;

	for (size_t i = 0; i < sh->in.n_samples; i++)
		if (!isnan(sh->samples[i].c))
			sh->samples[n++] = sh->samples[i];
	sh->in.samples = sh->samples;
	sh->in.n_samples = n;
}

static void release(struct shipment *sh)
{
	free(sh->samples);
	free(sh->lat);
	free(sh->lon);
	free(sh->events);
}

/* ---- persisting --------------------------------------------------------------------- */

struct stored {
	char id[24];
	int direction, severity;
	bool open, matched;
	int64_t start, end;
};

static int exec_alert(struct db *db, const char *shipment, const char *id, const char *change)
{
	const char *p[3] = {shipment, id, change};
	return db_exec(db, sql_alert, 3, p, NULL);
}

/* The 12 values of an excursion row, direction first, as text parameters. */
static void excursion_params(const struct shipment *sh, const struct excursion *x, char buf[12][40],
			     const char *p[12])
{
	snprintf(buf[0], 40, "%s", x->direction == EXCURSION_ABOVE ? "above" : "below");
	snprintf(buf[1], 40, "%s", excursion_severity_name(x->severity));
	snprintf(buf[2], 40, "%s", x->open ? "open" : "closed");
	snprintf(buf[3], 40, "%lld", (long long)x->start_us);
	snprintf(buf[4], 40, "%lld", (long long)x->end_us);
	snprintf(buf[5], 40, "%.3f", x->threshold_c);
	snprintf(buf[6], 40, "%.3f", x->peak_c);
	snprintf(buf[7], 40, "%lld", (long long)x->duration_s);
	snprintf(buf[8], 40, "%.3f", x->degree_minutes);
	snprintf(buf[9], 40, "%s", sh->probe);
	snprintf(buf[10], 40, "%s", excursion_phase_name(x->phase));
	snprintf(buf[11], 40, "%s", x->budget_breach ? "t" : "f");
	for (int i = 0; i < 12; i++)
		p[i] = buf[i];
}

static int record_new(struct db *db, const struct shipment *sh, const struct excursion *x,
		      struct evaluate_counts *c)
{
	char buf[12][40], id[24];
	const char *v[12];
	struct db_res *r = NULL;
	int rc;

	excursion_params(sh, x, buf, v);
	const char *p[13] = {sh->id, v[0], v[1], v[2], v[3], v[4], v[5],
			     v[6],  v[7], v[8], v[9], v[10], v[11]};
	if (db_exec(db, sql_insert_excursion, 13, p, &r) < 0)
		return -1;
	snprintf(id, sizeof(id), "%s", db_res_get(r, 0, 0));
	db_res_free(r);
	c->excursions_opened++;
	rc = exec_alert(db, sh->id, id, "opened");
	if (rc == 0 && !x->open) {
		c->excursions_closed++;
		rc = exec_alert(db, sh->id, id, "closed");
	}
	return rc;
}

static int record_update(struct db *db, const struct shipment *sh, const struct excursion *x,
			 const struct stored *old, struct evaluate_counts *c)
{
	char buf[12][40];
	const char *v[12];
	int rc = 0;

	excursion_params(sh, x, buf, v);
	/* $1 shipment, $2 id, then every value but the direction, which does not change. */
	const char *p[13] = {sh->id, old->id, v[1], v[2], v[3], v[4],  v[5],
			     v[6],   v[7],    v[8], v[9], v[10], v[11]};
	if (db_exec(db, sql_update_excursion, 13, p, NULL) < 0)
		return -1;
	if (x->severity > old->severity) {
		c->excursions_escalated++;
		rc = exec_alert(db, sh->id, old->id, "escalated");
	}
	if (rc == 0 && old->open && !x->open) {
		c->excursions_closed++;
		rc = exec_alert(db, sh->id, old->id, "closed");
	}
	return rc;
}

static struct stored *match(struct stored *s, int n, const struct excursion *x)
{
	for (int i = 0; i < n; i++)
		if (!s[i].matched && s[i].direction == x->direction && s[i].start <= x->end_us &&
		    x->start_us <= s[i].end)
			return &s[i];
	return NULL;
}

static int load_stored(struct db *db, const char *shipment, struct stored **out, int *n)
{
	struct db_res *r = NULL;
	const char *p[1] = {shipment};

	*out = NULL;
	if (db_exec(db, sql_stored, 1, p, &r) < 0)
		return -1;
	*n = db_res_rows(r);
	*out = calloc((size_t)*n + 1, sizeof(**out));
	if (!*out) {
		db_res_free(r);
		return -1;
	}
	for (int i = 0; i < *n; i++) {
		struct stored *s = &(*out)[i];
		snprintf(s->id, sizeof(s->id), "%s", db_res_get(r, i, 0));
		s->direction = strcmp(db_res_get(r, i, 1), "above") == 0 ? EXCURSION_ABOVE : EXCURSION_BELOW;
		s->severity = severity_of(db_res_get(r, i, 2));
		s->open = strcmp(db_res_get(r, i, 3), "open") == 0;
		s->start = strtoll(db_res_get(r, i, 4), NULL, 10);
		s->end = strtoll(db_res_get(r, i, 5), NULL, 10);
	}
	db_res_free(r);
	return 0;
}

static int persist_excursions(struct db *db, const struct shipment *sh, const struct excursion *x,
			      size_t n, struct evaluate_counts *c)
{
	struct stored *old = NULL;
	int n_old = 0, rc = -1;

	if (load_stored(db, sh->id, &old, &n_old) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct stored *m = match(old, n_old, &x[i]);
		if (m) {
			m->matched = true;
			if (record_update(db, sh, &x[i], m, c) < 0)
				goto out;
		} else if (record_new(db, sh, &x[i], c) < 0) {
			goto out;
		}
	}
	/* Late data can dissolve an episode (a backlog fills a run with in-range readings). */
	for (int i = 0; i < n_old; i++) {
		const char *p[2] = {sh->id, old[i].id};
		if (!old[i].matched && db_exec(db, sql_drop_excursion, 2, p, NULL) < 0)
			goto out;
	}
	rc = 0;
out:
	free(old);
	return rc;
}

/* ---- figures ------------------------------------------------------------------------ */

static void gaps_json(const struct coldchain_stats *st, char *out, size_t cap)
{
	size_t at = (size_t)snprintf(out, cap, "[");

	for (size_t i = 0; i < st->n_gaps && i < st->gaps_cap && at < cap; i++)
		at += (size_t)snprintf(out + at, cap - at, "%s{\"from\":%lld,\"to\":%lld}",
				       i ? "," : "", (long long)(st->gaps[i].from_us / US),
				       (long long)(st->gaps[i].to_us / US));
	if (at < cap)
		snprintf(out + at, cap - at, "]");
}

static double upper_warning(const struct shipment *sh, int direction)
{
	double best = NAN;

	for (size_t i = 0; i < sh->profile.n_limits; i++) {
		const struct excursion_limit *l = &sh->limits[i];
		if (l->direction == direction &&
		    (isnan(best) || (direction == EXCURSION_ABOVE ? l->threshold_c < best
								   : l->threshold_c > best)))
			best = l->threshold_c;
	}
	return best;
}

static void fmt(char *buf, size_t cap, double v)
{
	if (isnan(v))
		buf[0] = '\0';
	else
		snprintf(buf, cap, "%.4f", v);
}

static int write_figures(struct db *db, const struct shipment *sh, const char *lot_key,
			 int64_t from, int64_t to, int64_t max_gap_us)
{
	struct coldchain_gap gaps[MAX_GAPS];
	struct coldchain_stats st;
	struct coldchain_sample *s = malloc((sh->in.n_samples + 1) * sizeof(*s));
	char v[16][48], gj[MAX_GAPS * 48 + 4];
	const char *p[16];
	int64_t above = 0, below = 0;
	double dm = 0, life = NAN, hi = upper_warning(sh, EXCURSION_ABOVE),
	       lo = upper_warning(sh, EXCURSION_BELOW);
	int rc;

	if (!s)
		return -1;
	for (size_t i = 0; i < sh->in.n_samples; i++) {
		s[i].t_us = sh->samples[i].t_us;
		s[i].value_c = sh->samples[i].c;
		s[i].valid = true;
	}
	memset(&st, 0, sizeof(st));
	st.gaps = gaps;
	st.gaps_cap = MAX_GAPS;
	if (coldchain_stats(s, sh->in.n_samples, from, to, max_gap_us, &st) < 0) {
		free(s);
		return 0; /* an empty or degenerate window has no figures */
	}
	if (!isnan(hi)) {
		coldchain_time_above(s, sh->in.n_samples, from, to, max_gap_us, COLDCHAIN_LINEAR, hi, &above);
		coldchain_degree_minutes_above(s, sh->in.n_samples, from, to, max_gap_us, COLDCHAIN_LINEAR, hi, &dm);
	}
	if (!isnan(lo))
		coldchain_time_below(s, sh->in.n_samples, from, to, max_gap_us, COLDCHAIN_LINEAR, lo, &below);
	if (sh->has_life) {
		struct coldchain_life l = sh->life;
		l.gap_c = isnan(hi) ? l.ref_c + 5 : hi; /* missing time ages the product too */
		if (coldchain_remaining_life_days(&l, s, sh->in.n_samples, from, to, max_gap_us, l.ref_c, &life) < 0)
			life = NAN;
	}
	free(s);
	gaps_json(&st, gj, sizeof(gj));
	snprintf(v[0], 48, "%lld", (long long)from);
	snprintf(v[1], 48, "%lld", (long long)to);
	snprintf(v[2], 48, "%zu", st.n_used);
	fmt(v[3], 48, st.min_c);
	fmt(v[4], 48, st.max_c);
	fmt(v[5], 48, st.mean_c);
	fmt(v[6], 48, st.mkt_c);
	snprintf(v[7], 48, "%lld", (long long)(above / US));
	snprintf(v[8], 48, "%lld", (long long)(below / US));
	snprintf(v[9], 48, "%.4f", dm);
	snprintf(v[10], 48, "%.6f", st.coverage);
	fmt(v[11], 48, life);
	const char *vals[16] = {sh->id, lot_key, v[0], v[1], sh->probe, v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], gj, v[11]};
	for (int i = 0; i < 16; i++)
		p[i] = vals[i] && vals[i][0] ? vals[i] : (i == 1 ? "" : NULL);
	rc = db_exec(db, sql_figures, 16, p, NULL);
	return rc;
}

static int persist_figures(struct db *db, const struct shipment *sh, int64_t max_gap_us)
{
	struct db_res *r = NULL;
	const char *p[1] = {sh->id};
	int64_t first, last;

	if (sh->in.n_samples == 0)
		return 0;
	first = sh->samples[0].t_us;
	last = sh->samples[sh->in.n_samples - 1].t_us;
	if (last <= first || write_figures(db, sh, "", first, last, max_gap_us) < 0)
		return last <= first ? 0 : -1;
	if (db_exec(db, sql_lots, 1, p, &r) < 0)
		return -1;
	for (int i = 0; i < db_res_rows(r); i++) {
		int64_t from = db_res_get(r, i, 1) ? strtoll(db_res_get(r, i, 1), NULL, 10) : first;
		int64_t to = db_res_get(r, i, 2) ? strtoll(db_res_get(r, i, 2), NULL, 10) : last;
		if (to > from && write_figures(db, sh, db_res_get(r, i, 0), from, to, max_gap_us) < 0) {
			db_res_free(r);
			return -1;
		}
	}
	db_res_free(r);
	return 0;
}

static int persist_phases(struct db *db, const struct shipment *sh)
{
	char dep[32] = "", arr[32] = "";
	const char *p[3] = {sh->id, dep, arr};

	if (sh->in.departure_us != INT64_MIN)
		snprintf(dep, sizeof(dep), "%lld", (long long)sh->in.departure_us);
	if (sh->in.arrival_us != INT64_MAX)
		snprintf(arr, sizeof(arr), "%lld", (long long)sh->in.arrival_us);
	return db_exec(db, sql_phases, 3, p, NULL);
}

/* ---- one shipment ------------------------------------------------------------------- */

static int judge(struct db *db, struct shipment *sh, int64_t max_gap_s, struct evaluate_counts *c)
{
	char commodity[80], gtin[32], org[32];
	struct excursion *x = NULL;
	size_t n = 0;
	int rc;

	rc = load_site_data(db, sh, commodity, sizeof(commodity), gtin, sizeof(gtin), org, sizeof(org));
	if (rc == 0)
		rc = load_profile(db, sh, commodity, gtin, org);
	if (rc != 0)
		return rc > 0 ? 0 : -1;
	if (!sh->probe[0])
		return 0; /* no temperature yet */
	if (load_series(db, sh) < 0 || load_events(db, sh) < 0)
		return -1;
	find_phases(sh);
	compact_series(sh);
	sh->in.max_gap_us = max_gap_s * US;
	if (excursion_find(&sh->profile, &sh->in, &x, &n) < 0)
		return -1;
	rc = persist_excursions(db, sh, x, n, c);
	free(x);
	if (rc == 0)
		rc = persist_figures(db, sh, max_gap_s * US);
	if (rc == 0)
		rc = persist_phases(db, sh);
	return rc;
}

int evaluate_shipment(struct db *db, const char *shipment_id, int64_t max_gap_s,
		      struct evaluate_counts *counts)
{
	struct shipment sh;
	int rc;

	memset(&sh, 0, sizeof(sh));
	sh.id = shipment_id;
	if (db_begin(db) < 0)
		return -1;
	rc = judge(db, &sh, max_gap_s, counts);
	release(&sh);
	if (rc < 0) {
		log_error("evaluate: shipment %s not evaluated", shipment_id);
		db_rollback(db);
		return -1;
	}
	counts->shipments++;
	return db_commit(db);
}

int evaluate_pending(struct db *db, int max, int64_t max_gap_s, struct evaluate_counts *counts)
{
	struct db_res *q = NULL;
	char lim[16];
	const char *p[1] = {lim};
	int rc = 0;

	snprintf(lim, sizeof(lim), "%d", max);
	if (db_exec(db, sql_queue, 1, p, &q) < 0)
		return -1;
	for (int i = 0; i < db_res_rows(q) && !db_lost(db); i++) {
		const char *d[2] = {db_res_get(q, i, 0), db_res_get(q, i, 1)};
		/* Dequeued only if not queued again meanwhile; a failing shipment stays queued
		 * and is retried on the next round, behind the others. */
		if (evaluate_shipment(db, d[0], max_gap_s, counts) == 0)
			db_exec(db, sql_dequeue, 2, d, NULL);
	}
	rc = db_lost(db) ? -1 : 0;
	db_res_free(q);
	return rc;
}
