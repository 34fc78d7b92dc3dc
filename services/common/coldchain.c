/*
 * coldchain: excursion and shelf-life arithmetic over one probe's time series (domain.md §5).
 *
 * DESIGN. One walker (walk) turns a series and a window into consecutive spans that tile the
 * window exactly, each either missing or covered with a value at both ends (equal ends in
 * hold mode); every statistic is a fold over those spans. Keeping the coverage rule in one
 * place is what guarantees that a gap is never counted in range by one function and missing
 * by another. Durations are summed in double µs, exact for integers below 2^53 µs (285
 * years), so hold-mode sums are exact and only linear crossings round.
 */
#include "coldchain.h"

#include <math.h>

/* Times beyond ±2^62 µs (±146,000 years) are refused so that any difference of two of them
 * fits in int64_t. */
#define T_ABS_MAX (INT64_C(1) << 62)
#define US_PER_MIN 60e6
#define US_PER_DAY 86400e6

struct span {
	int64_t a, b; /* a < b, inside the window */
	bool covered;
	double va, vb; /* value at a and at b when covered */
	size_t i;      /* covered: the sample whose reading starts the span */
};

typedef void (*span_fn)(void *ctx, const struct span *sp);

struct walker {
	int64_t from, to;
	span_fn fn;
	void *ctx;
};

static int time_ok(int64_t t)
{
	return t >= -T_ABS_MAX && t <= T_ABS_MAX;
}

static int series_ok(const struct coldchain_sample *s, size_t n, int64_t from_us, int64_t to_us,
		     int64_t max_gap_us)
{
	if ((!s && n > 0) || !time_ok(from_us) || !time_ok(to_us) || from_us >= to_us ||
	    max_gap_us <= 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!time_ok(s[i].t_us) || (i > 0 && s[i].t_us < s[i - 1].t_us))
			return -1;
		if (s[i].valid && !isfinite(s[i].value_c))
			return -1;
	}
	return 0;
}

static double lerp(int64_t ta, double va, int64_t tb, double vb, int64_t t)
{
	if (t == ta)
		return va;
	if (t == tb)
		return vb;
	return va + (vb - va) * ((double)(t - ta) / (double)(tb - ta));
}

/* Clips [ta, tb) to the window and hands the non-empty rest to the fold; values at the cut
 * points come from the span's own line, so clipping never changes θ(t). */
static void emit(const struct walker *w, int64_t ta, int64_t tb, bool covered, double va, double vb,
		 size_t i)
{
	struct span sp;

	sp.a = ta > w->from ? ta : w->from;
	sp.b = tb < w->to ? tb : w->to;
	if (sp.a >= sp.b)
		return;
	sp.covered = covered;
	sp.i = i;
	sp.va = covered ? lerp(ta, va, tb, vb, sp.a) : NAN;
	sp.vb = covered ? lerp(ta, va, tb, vb, sp.b) : NAN;
	w->fn(w->ctx, &sp);
}

static int walk(const struct coldchain_sample *s, size_t n, int64_t from_us, int64_t to_us,
		int64_t max_gap_us, enum coldchain_interp mode, span_fn fn, void *ctx)
{
	struct walker w = {from_us, to_us, fn, ctx};

	if (series_ok(s, n, from_us, to_us, max_gap_us) < 0 ||
	    (mode != COLDCHAIN_HOLD && mode != COLDCHAIN_LINEAR))
		return -1;
	if (n == 0) {
		emit(&w, from_us, to_us, false, 0, 0, 0);
		return 0;
	}
	emit(&w, from_us, s[0].t_us, false, 0, 0, 0);
	for (size_t i = 0; i + 1 < n; i++) {
		const struct coldchain_sample *p = &s[i], *q = &s[i + 1];
		bool covered = p->valid && q->t_us - p->t_us <= max_gap_us &&
			       (mode == COLDCHAIN_HOLD || q->valid);

		/* Equal times make an empty span: the later sample takes over. */
		if (q->t_us == p->t_us)
			continue;
		emit(&w, p->t_us, q->t_us, covered, p->value_c,
		     mode == COLDCHAIN_HOLD ? p->value_c : q->value_c, i);
	}
	/* After the last sample only a held reading can say anything, and only as far as any
	 * other reading may be held. */
	const struct coldchain_sample *last = &s[n - 1];
	bool covered = mode == COLDCHAIN_HOLD && last->valid && last->t_us < to_us &&
		       to_us - last->t_us <= max_gap_us;

	emit(&w, last->t_us, to_us, covered, last->value_c, last->value_c, n - 1);
	return 0;
}

/* --- statistics ------------------------------------------------------------------------ */

struct stats_fold {
	const struct coldchain_sample *s;
	int64_t from;
	struct coldchain_stats *out;
	double w_sum, wv_sum, wexp_sum;
	bool gap_open;
	struct coldchain_gap gap;
};

static void take_extreme(struct coldchain_stats *o, double v)
{
	if (o->n_used == 0 || v < o->min_c)
		o->min_c = v;
	if (o->n_used == 0 || v > o->max_c)
		o->max_c = v;
	o->n_used++;
}

static void close_gap(struct stats_fold *f)
{
	if (!f->gap_open)
		return;
	if (f->out->n_gaps < f->out->gaps_cap)
		f->out->gaps[f->out->n_gaps] = f->gap;
	f->out->n_gaps++;
	f->gap_open = false;
}

static void stats_span(void *ctx, const struct span *sp)
{
	struct stats_fold *f = ctx;
	double w = (double)(sp->b - sp->a);

	if (!sp->covered) {
		if (f->gap_open && f->gap.to_us == sp->a) {
			f->gap.to_us = sp->b;
		} else {
			close_gap(f);
			f->gap.from_us = sp->a;
			f->gap.to_us = sp->b;
			f->gap_open = true;
		}
		return;
	}
	close_gap(f);
	f->w_sum += w;
	f->wv_sum += w * sp->va;
	f->wexp_sum += w * exp(-COLDCHAIN_MKT_DH_OVER_R_K / (sp->va + COLDCHAIN_ZERO_C_IN_K));
	/* A reading taken before the window but held into it describes the window too;
	 * readings taken inside it are counted by coldchain_stats. */
	if (f->s[sp->i].t_us < f->from)
		take_extreme(f->out, sp->va);
}

int coldchain_stats(const struct coldchain_sample *s, size_t n, int64_t from_us, int64_t to_us,
		    int64_t max_gap_us, struct coldchain_stats *out)
{
	struct stats_fold f = {0};

	if (!out || (!out->gaps && out->gaps_cap > 0))
		return -1;
	out->n_gaps = 0;
	out->n_used = 0;
	out->min_c = out->max_c = out->mean_c = out->mkt_c = NAN;
	out->covered_us = 0;
	out->coverage = 0;
	f.s = s;
	f.from = from_us;
	f.out = out;
	if (walk(s, n, from_us, to_us, max_gap_us, COLDCHAIN_HOLD, stats_span, &f) < 0)
		return -1;
	close_gap(&f);
	/* Every valid reading taken in the window counts for min and max, even one isolated
	 * between two gaps that describes no covered time: QA must see a 15 °C reading. */
	for (size_t i = 0; i < n; i++)
		if (s[i].valid && s[i].t_us >= from_us && s[i].t_us <= to_us)
			take_extreme(out, s[i].value_c);
	out->covered_us = (int64_t)f.w_sum;
	out->coverage = f.w_sum / (double)(to_us - from_us);
	if (f.w_sum > 0) {
		out->mean_c = f.wv_sum / f.w_sum;
		out->mkt_c =
		    COLDCHAIN_MKT_DH_OVER_R_K / -log(f.wexp_sum / f.w_sum) - COLDCHAIN_ZERO_C_IN_K;
	}
	return 0;
}

/* --- beyond a threshold ---------------------------------------------------------------- */

struct excess_fold {
	double threshold;
	double sign; /* +1: above, −1: below */
	double time_us;
	double area_c_us;
};

/* On a covered span, x = sign·(θ − threshold) goes linearly from xa to xb (constant in hold
 * mode). Accumulates the time with x > 0 and the integral of max(0, x). */
static void excess_span(void *ctx, const struct span *sp)
{
	struct excess_fold *f = ctx;
	double dt = (double)(sp->b - sp->a), xa, xb;

	if (!sp->covered)
		return;
	xa = f->sign * (sp->va - f->threshold);
	xb = f->sign * (sp->vb - f->threshold);
	if (xa >= 0 && xb >= 0) {
		if (xa > 0 || xb > 0)
			f->time_us += dt;
		f->area_c_us += (xa + xb) / 2 * dt;
	} else if (xa > 0) { /* leaves: x crosses 0 going down */
		double part = dt * xa / (xa - xb);

		f->time_us += part;
		f->area_c_us += xa / 2 * part;
	} else if (xb > 0) { /* enters: x crosses 0 going up */
		double part = dt * xb / (xb - xa);

		f->time_us += part;
		f->area_c_us += xb / 2 * part;
	}
}

static int excess(const struct coldchain_sample *s, size_t n, int64_t from_us, int64_t to_us,
		  int64_t max_gap_us, enum coldchain_interp mode, double threshold_c, double sign,
		  struct excess_fold *f)
{
	f->threshold = threshold_c;
	f->sign = sign;
	f->time_us = 0;
	f->area_c_us = 0;
	if (!isfinite(threshold_c))
		return -1;
	return walk(s, n, from_us, to_us, max_gap_us, mode, excess_span, f);
}

int coldchain_time_above(const struct coldchain_sample *s, size_t n, int64_t from_us, int64_t to_us,
			 int64_t max_gap_us, enum coldchain_interp mode, double threshold_c,
			 int64_t *out_us)
{
	struct excess_fold f;

	if (!out_us || excess(s, n, from_us, to_us, max_gap_us, mode, threshold_c, 1, &f) < 0)
		return -1;
	*out_us = llround(f.time_us);
	return 0;
}

int coldchain_time_below(const struct coldchain_sample *s, size_t n, int64_t from_us, int64_t to_us,
			 int64_t max_gap_us, enum coldchain_interp mode, double threshold_c,
			 int64_t *out_us)
{
	struct excess_fold f;

	if (!out_us || excess(s, n, from_us, to_us, max_gap_us, mode, threshold_c, -1, &f) < 0)
		return -1;
	*out_us = llround(f.time_us);
	return 0;
}

int coldchain_degree_minutes_above(const struct coldchain_sample *s, size_t n, int64_t from_us,
				   int64_t to_us, int64_t max_gap_us, enum coldchain_interp mode,
				   double threshold_c, double *out_c_min)
{
	struct excess_fold f;

	if (!out_c_min || excess(s, n, from_us, to_us, max_gap_us, mode, threshold_c, 1, &f) < 0)
		return -1;
	*out_c_min = f.area_c_us / US_PER_MIN;
	return 0;
}

int coldchain_degree_minutes_below(const struct coldchain_sample *s, size_t n, int64_t from_us,
				   int64_t to_us, int64_t max_gap_us, enum coldchain_interp mode,
				   double threshold_c, double *out_c_min)
{
	struct excess_fold f;

	if (!out_c_min || excess(s, n, from_us, to_us, max_gap_us, mode, threshold_c, -1, &f) < 0)
		return -1;
	*out_c_min = f.area_c_us / US_PER_MIN;
	return 0;
}

/* --- kinetics -------------------------------------------------------------------------- */

int coldchain_q10_rate(double q10, double ref_c, double temp_c, double *out_rate)
{
	if (!out_rate || !isfinite(q10) || q10 < 1 || !isfinite(ref_c) || !isfinite(temp_c))
		return -1;
	*out_rate = pow(q10, (temp_c - ref_c) / 10);
	return 0;
}

int coldchain_hb66_rate(double temp_c, double *out_rate)
{
	static const double knot_c[] = {0, 10, 20, 30, 40};
	static const double rate[] = {1.0, 3.0, 7.5, 15.0, 22.5};
	size_t k = 0, last = sizeof(knot_c) / sizeof(knot_c[0]) - 2;

	if (!out_rate || !isfinite(temp_c))
		return -1;
	while (k < last && temp_c > knot_c[k + 1])
		k++;
	*out_rate = rate[k] *
		    pow(rate[k + 1] / rate[k], (temp_c - knot_c[k]) / (knot_c[k + 1] - knot_c[k]));
	return 0;
}

int coldchain_q10_from_ratio(double ratio, double delta_c, double *out_q10)
{
	if (!out_q10 || !isfinite(ratio) || ratio <= 0 || !isfinite(delta_c) || delta_c == 0)
		return -1;
	*out_q10 = pow(ratio, 10 / delta_c);
	return 0;
}

int coldchain_q10_to_ea(double q10, double t1_c, double *out_j_per_mol)
{
	double t1 = t1_c + COLDCHAIN_ZERO_C_IN_K;

	if (!out_j_per_mol || !isfinite(q10) || q10 <= 0 || !isfinite(t1_c) || t1 <= 0)
		return -1;
	*out_j_per_mol = COLDCHAIN_R_J_PER_MOL_K * log(q10) * t1 * (t1 + 10) / 10;
	return 0;
}

int coldchain_arrhenius_rate(double ea_j_per_mol, double ref_c, double temp_c, double *out_rate)
{
	double t = temp_c + COLDCHAIN_ZERO_C_IN_K, t_ref = ref_c + COLDCHAIN_ZERO_C_IN_K;

	if (!out_rate || !isfinite(ea_j_per_mol) || !isfinite(t) || !isfinite(t_ref) || t <= 0 ||
	    t_ref <= 0)
		return -1;
	*out_rate = exp(-(ea_j_per_mol / COLDCHAIN_R_J_PER_MOL_K) * (1 / t - 1 / t_ref));
	return 0;
}

static int life_ok(const struct coldchain_life *l)
{
	return l && isfinite(l->life_days) && l->life_days > 0 && isfinite(l->ref_c) &&
	       isfinite(l->gap_c) && !isinf(l->floor_c) &&
	       (l->model == COLDCHAIN_RATE_HB66 ||
		(l->model == COLDCHAIN_RATE_Q10 && isfinite(l->q10) && l->q10 >= 1));
}

/* Rate at temp_c relative to the rate at ref_c, where life_days holds. */
static int life_rate(const struct coldchain_life *l, double temp_c, double *out)
{
	double r, r_ref;

	if (!isnan(l->floor_c) && temp_c < l->floor_c)
		temp_c = l->floor_c;
	if (l->model == COLDCHAIN_RATE_Q10)
		return coldchain_q10_rate(l->q10, l->ref_c, temp_c, out);
	if (coldchain_hb66_rate(temp_c, &r) < 0 || coldchain_hb66_rate(l->ref_c, &r_ref) < 0)
		return -1;
	*out = r / r_ref;
	return 0;
}

struct life_fold {
	const struct coldchain_life *life;
	double rate_us; /* Σ Δt·r in µs at ref_c */
	int rc;
};

static void life_span(void *ctx, const struct span *sp)
{
	struct life_fold *f = ctx;
	double r;

	if (life_rate(f->life, sp->covered ? sp->va : f->life->gap_c, &r) < 0) {
		f->rc = -1;
		return;
	}
	f->rate_us += (double)(sp->b - sp->a) * r;
}

int coldchain_life_consumed(const struct coldchain_life *life, const struct coldchain_sample *s,
			    size_t n, int64_t from_us, int64_t to_us, int64_t max_gap_us,
			    double *out_fraction)
{
	struct life_fold f = {life, 0, 0};

	if (!out_fraction || !life_ok(life) ||
	    walk(s, n, from_us, to_us, max_gap_us, COLDCHAIN_HOLD, life_span, &f) < 0 || f.rc < 0)
		return -1;
	*out_fraction = f.rate_us / (life->life_days * US_PER_DAY);
	return 0;
}

int coldchain_remaining_life_days(const struct coldchain_life *life,
				  const struct coldchain_sample *s, size_t n, int64_t from_us,
				  int64_t to_us, int64_t max_gap_us, double future_c,
				  double *out_days)
{
	double f, r;

	if (!out_days || !isfinite(future_c) ||
	    coldchain_life_consumed(life, s, n, from_us, to_us, max_gap_us, &f) < 0 ||
	    life_rate(life, future_c, &r) < 0)
		return -1;
	*out_days = f >= 1 ? 0 : (1 - f) * life->life_days / r;
	return 0;
}
