/*
 * excursion: limits × samples → episodes.
 *
 * DESIGN. For each limit, a sample is beyond it when it is past the threshold, lies in one of
 * the limit's phases and is not suppressed (door grace at load/unload, defrost and its
 * recovery). Consecutive beyond-samples make a run; a span longer than max_gap breaks a run,
 * because missing data is neither in nor out of range. A run qualifies when it lasts
 * min_duration, or when it is the run in which the limit's cumulative budget runs out.
 * Qualifying runs of all limits of one direction are merged into episodes, which carry the
 * most severe limit that qualified. Everything is computed from the sorted series alone.
 */
#include "excursion.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define US 1000000LL
#define DOOR_AT_CUSTODY_US (60 * 60 * US) /* a door opening this close to load/unload */
#define DEFROST_MAX_US (2 * 60 * 60 * US) /* a defrost with no reported end */

struct window {
	int64_t from, to;
};

struct run {
	int64_t start, end;
	size_t first, last;
	int severity;
	double threshold;
	bool open, budget;
};

struct vec {
	void *p;
	size_t n, cap, size;
};

static int vec_push(struct vec *v, const void *item)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 16;
		void *p = realloc(v->p, cap * v->size);
		if (!p)
			return -1;
		v->p = p;
		v->cap = cap;
	}
	memcpy((char *)v->p + v->n * v->size, item, v->size);
	v->n++;
	return 0;
}

const char *excursion_severity_name(int severity)
{
	static const char *const names[] = {"none", "warning", "major", "critical"};
	return severity >= 1 && severity <= 3 ? names[severity] : "none";
}

const char *excursion_phase_name(int phase)
{
	return phase == PHASE_ORIGIN ? "origin" : phase == PHASE_DESTINATION ? "destination" : "transit";
}

int excursion_phase_at(const struct excursion_input *in, int64_t t_us)
{
	if (t_us < in->departure_us)
		return PHASE_ORIGIN;
	if (t_us >= in->arrival_us)
		return PHASE_DESTINATION;
	return PHASE_TRANSIT;
}

static bool near_custody(const struct excursion_input *in, int64_t t)
{
	for (size_t i = 0; i < in->n_events; i++) {
		const struct excursion_event *e = &in->events[i];
		if ((e->type == XEV_LOAD || e->type == XEV_UNLOAD) && e->t_us > t - DOOR_AT_CUSTODY_US &&
		    e->t_us < t + DOOR_AT_CUSTODY_US)
			return true;
	}
	return false;
}

/* The end of the window opened by event i: the next event of type `closing` (bounded). */
static int64_t closing_time(const struct excursion_input *in, size_t i, int closing, int64_t max)
{
	for (size_t k = i + 1; k < in->n_events; k++) {
		if (in->events[k].t_us > in->events[i].t_us + max)
			break;
		if (in->events[k].type == closing)
			return in->events[k].t_us;
	}
	return in->events[i].t_us;
}

/* Time windows in which samples do not count against any limit. */
static int suppression_windows(const struct excursion_profile *p, const struct excursion_input *in,
			       struct vec *out)
{
	for (size_t i = 0; i < in->n_events; i++) {
		const struct excursion_event *e = &in->events[i];
		struct window w = {e->t_us, 0};
		if (e->type == XEV_DOOR_OPEN && p->door_grace_s > 0 && near_custody(in, e->t_us)) {
			w.to = closing_time(in, i, XEV_DOOR_CLOSE, DOOR_AT_CUSTODY_US) + p->door_grace_s * US;
		} else if (e->type == XEV_DEFROST_START && p->suppress_defrost) {
			int64_t end = closing_time(in, i, XEV_DEFROST_END, DEFROST_MAX_US);
			w.to = (end > e->t_us ? end : e->t_us + DEFROST_MAX_US) + p->defrost_recovery_s * US;
		} else {
			continue;
		}
		if (vec_push(out, &w) < 0)
			return -1;
	}
	return 0;
}

static bool suppressed(const struct vec *windows, int64_t t)
{
	const struct window *w = windows->p;

	for (size_t i = 0; i < windows->n; i++)
		if (t >= w[i].from && t <= w[i].to)
			return true;
	return false;
}

static bool beyond(const struct excursion_limit *l, double c)
{
	return l->direction == EXCURSION_ABOVE ? c > l->threshold_c : c < l->threshold_c;
}

/* Closes the run [first, last]. Its end is the next judged sample when that one is near
 * enough (the first reading back in range, or out of the limit's phase); with no judged
 * sample after it the run is still open. */
static void finish_run(const struct excursion_input *in, struct run *r, size_t next, bool broken)
{
	const struct excursion_sample *s = in->samples;

	r->start = s[r->first].t_us;
	r->open = next >= in->n_samples;
	r->end = !r->open && !broken ? s[next].t_us : s[r->last].t_us;
}

/* Suppressed samples (door grace, defrost) are not judged at all: they neither extend nor
 * end a run, so an excursion that goes on through an unloading door stays one excursion. */
static int limit_runs(const struct excursion_limit *l, const struct excursion_input *in,
		      const bool *skip, struct vec *out)
{
	int64_t used_us = 0;
	bool in_run = false, budget_spent = false;
	size_t prev = SIZE_MAX;
	struct run r;

	for (size_t i = 0; i <= in->n_samples; i++) {
		if (i < in->n_samples && skip[i])
			continue;
		bool out_now = i < in->n_samples &&
			       (excursion_phase_at(in, in->samples[i].t_us) & l->phases) &&
			       beyond(l, in->samples[i].c);
		bool broken = in_run && i < in->n_samples &&
			      in->samples[i].t_us - in->samples[prev].t_us > in->max_gap_us;
		if (in_run && (!out_now || broken)) {
			finish_run(in, &r, i, broken);
			used_us += r.end - r.start;
			r.budget = l->budget_s > 0 && !budget_spent && used_us > l->budget_s * US;
			budget_spent = budget_spent || r.budget;
			if ((r.end - r.start >= l->min_duration_s * US || r.budget) && vec_push(out, &r) < 0)
				return -1;
			in_run = false;
		}
		if (out_now && !in_run) {
			memset(&r, 0, sizeof(r));
			r.first = i;
			r.severity = l->severity;
			r.threshold = l->threshold_c;
			in_run = true;
		}
		if (out_now)
			r.last = i;
		prev = i;
	}
	return 0;
}

static int cmp_run(const void *a, const void *b)
{
	const struct run *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static double beyond_by(int direction, double c, double threshold)
{
	double d = direction == EXCURSION_ABOVE ? c - threshold : threshold - c;
	return d > 0 ? d : 0;
}

/* Peak and degree-minutes over the samples of [start, end]. */
static void measure(const struct excursion_input *in, struct excursion *x)
{
	const struct excursion_sample *s = in->samples;
	bool first = true;

	for (size_t i = 0; i < in->n_samples; i++) {
		if (s[i].t_us < x->start_us || s[i].t_us > x->end_us)
			continue;
		if (first || (x->direction == EXCURSION_ABOVE ? s[i].c > x->peak_c : s[i].c < x->peak_c))
			x->peak_c = s[i].c;
		first = false;
		if (i + 1 < in->n_samples && s[i + 1].t_us <= x->end_us &&
		    s[i + 1].t_us - s[i].t_us <= in->max_gap_us) {
			double a = beyond_by(x->direction, s[i].c, x->threshold_c);
			double b = beyond_by(x->direction, s[i + 1].c, x->threshold_c);
			x->degree_minutes += (a + b) / 2 * (double)(s[i + 1].t_us - s[i].t_us) / 60e6;
		}
	}
	x->duration_s = (x->end_us - x->start_us) / US;
}

static bool less_severe_threshold(int direction, double a, double b)
{
	return direction == EXCURSION_ABOVE ? a < b : a > b;
}

static int merge_runs(const struct excursion_input *in, int direction, struct vec *runs,
		      struct vec *out)
{
	struct run *r = runs->p;
	struct excursion x;

	if (runs->n)
		qsort(r, runs->n, sizeof(*r), cmp_run);
	for (size_t i = 0; i < runs->n;) {
		memset(&x, 0, sizeof(x));
		x.direction = direction;
		x.start_us = r[i].start;
		x.end_us = r[i].end;
		x.threshold_c = r[i].threshold;
		for (; i < runs->n && r[i].start <= x.end_us; i++) {
			if (r[i].end > x.end_us)
				x.end_us = r[i].end;
			if (r[i].severity > x.severity)
				x.severity = r[i].severity;
			if (less_severe_threshold(direction, r[i].threshold, x.threshold_c))
				x.threshold_c = r[i].threshold;
			x.open = x.open || r[i].open;
			x.budget_breach = x.budget_breach || r[i].budget;
		}
		x.phase = excursion_phase_at(in, x.start_us);
		measure(in, &x);
		if (vec_push(out, &x) < 0)
			return -1;
	}
	return 0;
}

static int cmp_excursion(const void *a, const void *b)
{
	const struct excursion *x = a, *y = b;
	if (x->start_us != y->start_us)
		return x->start_us < y->start_us ? -1 : 1;
	return x->direction - y->direction;
}

int excursion_find(const struct excursion_profile *p, const struct excursion_input *in,
		   struct excursion **out, size_t *n)
{
	struct vec windows = {NULL, 0, 0, sizeof(struct window)};
	struct vec runs = {NULL, 0, 0, sizeof(struct run)};
	struct vec found = {NULL, 0, 0, sizeof(struct excursion)};
	bool *skip = NULL;
	int rc = -1;

	*out = NULL;
	*n = 0;
	for (size_t i = 1; i < in->n_samples; i++)
		if (in->samples[i].t_us < in->samples[i - 1].t_us)
			return -1;
	skip = calloc(in->n_samples ? in->n_samples : 1, sizeof(*skip));
	if (!skip || suppression_windows(p, in, &windows) < 0)
		goto out;
	for (size_t i = 0; i < in->n_samples; i++)
		skip[i] = suppressed(&windows, in->samples[i].t_us);
	for (int dir = EXCURSION_ABOVE; dir <= EXCURSION_BELOW; dir++) {
		runs.n = 0;
		for (size_t l = 0; l < p->n_limits; l++)
			if (p->limits[l].direction == dir && limit_runs(&p->limits[l], in, skip, &runs) < 0)
				goto out;
		if (merge_runs(in, dir, &runs, &found) < 0)
			goto out;
	}
	if (found.n)
		qsort(found.p, found.n, sizeof(struct excursion), cmp_excursion);
	*out = found.p;
	*n = found.n;
	found.p = NULL;
	rc = 0;
out:
	free(found.p);
	free(runs.p);
	free(windows.p);
	free(skip);
	return rc;
}
