/*
 * test_coldchain: the worked examples of domain.md §5 (each quoted above its test), checked
 * to the precision they are printed with (half a unit of the last digit), then the edges:
 * empty and single-sample series, gaps and invalid readings (coverage, gap list, never in
 * range), a series wholly above a threshold, clipping to the window, refused input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "coldchain.h"

#define MIN (INT64_C(60) * 1000000)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)
/* An arbitrary trip start, so that nothing depends on t = 0. */
#define T0 INT64_C(1777600800000000)

static void near(double got, double want, double tol, const char *what)
{
	if (!(fabs(got - want) <= tol)) {
		print_error("%s: got %.6f, want %.6f ± %g\n", what, got, want, tol);
		fail();
	}
}

/* One stretch of a temperature history: hours at a constant temperature. */
struct stretch {
	double hours;
	double temp_c;
};

/* A valid reading every step_us over the stretches, from T0. Caller frees. */
static struct coldchain_sample *history(const struct stretch *st, size_t nst, int64_t step_us,
					size_t *n, int64_t *end_us)
{
	int64_t end = T0;
	size_t cap = 0, k = 0;
	struct coldchain_sample *s;

	for (size_t i = 0; i < nst; i++)
		end += (int64_t)(st[i].hours * (double)HOUR);
	cap = (size_t)((end - T0) / step_us) + 1;
	s = calloc(cap, sizeof(*s));
	assert_non_null(s);
	int64_t stretch_end = T0;
	for (size_t i = 0; i < nst; i++) {
		stretch_end += (int64_t)(st[i].hours * (double)HOUR);
		for (int64_t t = T0 + (int64_t)k * step_us; t < stretch_end; t += step_us) {
			assert_true(k < cap);
			s[k].t_us = t;
			s[k].value_c = st[i].temp_c;
			s[k].valid = true;
			k++;
		}
	}
	*n = k;
	*end_us = end;
	return s;
}

/* Samples at T0 + minutes[i], all valid. */
static void at_minutes(struct coldchain_sample *s, const double *minutes, const double *values,
		       size_t n)
{
	for (size_t i = 0; i < n; i++) {
		s[i].t_us = T0 + (int64_t)(minutes[i] * (double)MIN);
		s[i].value_c = values[i];
		s[i].valid = true;
	}
}

static void stats(const struct coldchain_sample *s, size_t n, int64_t from, int64_t to,
		  int64_t max_gap, struct coldchain_stats *st, struct coldchain_gap *gaps,
		  size_t cap)
{
	st->gaps = gaps;
	st->gaps_cap = cap;
	assert_int_equal(coldchain_stats(s, n, from, to, max_gap, st), 0);
}

/* --- §5.1 mean kinetic temperature ----------------------------------------------------- */

/* "Example A: hourly θ = [1, 1, 1, 1, 1, 1, 9, 9] → arithmetic mean 3.000 °C,
 *  MKT = 3.838 °C." Eight hourly readings, each held for its hour. */
static void test_coldchain__mkt_example_a_hourly_readings(void **state)
{
	const double v[] = {1, 1, 1, 1, 1, 1, 9, 9};
	const double m[] = {0, 60, 120, 180, 240, 300, 360, 420};
	struct coldchain_sample s[8];
	struct coldchain_stats st;

	(void)state;
	at_minutes(s, m, v, 8);
	stats(s, 8, T0, T0 + 8 * HOUR, HOUR, &st, NULL, 0);
	near(st.mean_c, 3.000, 0.0005, "mean");
	near(st.mkt_c, 3.838, 0.0005, "MKT");
	near(st.min_c, 1, 0, "min");
	near(st.max_c, 9, 0, "max");
	near(st.coverage, 1, 0, "coverage");
	assert_int_equal(st.n_gaps, 0);
	assert_int_equal(st.n_used, 8);
}

/* "samples equally spaced (otherwise weight by Δt)": the same history as Example A in two
 * readings, 6 h at 1 °C and 2 h at 9 °C, has the same mean and MKT. */
static void test_coldchain__mkt_weights_unequal_spacing_by_duration(void **state)
{
	const double v[] = {1, 9};
	const double m[] = {0, 360};
	struct coldchain_sample s[2];
	struct coldchain_stats st;

	(void)state;
	at_minutes(s, m, v, 2);
	stats(s, 2, T0, T0 + 8 * HOUR, 6 * HOUR, &st, NULL, 0);
	near(st.mean_c, 3.000, 1e-9, "mean");
	near(st.mkt_c, 3.838, 0.0005, "MKT");
}

/* "Example B: constant 2 °C → MKT = 2.000 °C (identity check)." */
static void test_coldchain__mkt_example_b_constant_is_identity(void **state)
{
	struct coldchain_sample s[10];
	struct coldchain_stats st;

	(void)state;
	for (int i = 0; i < 10; i++)
		s[i] = (struct coldchain_sample){T0 + i * 5 * MIN, 2.0, true};
	stats(s, 10, T0, T0 + 50 * MIN, 5 * MIN, &st, NULL, 0);
	near(st.mkt_c, 2.000, 1e-9, "MKT");
	near(st.mean_c, 2.000, 1e-12, "mean");
}

/* "Example C: [25, 30] → MKT = 27.821 °C." */
static void test_coldchain__mkt_example_c_25_and_30(void **state)
{
	const double v[] = {25, 30};
	const double m[] = {0, 60};
	struct coldchain_sample s[2];
	struct coldchain_stats st;

	(void)state;
	at_minutes(s, m, v, 2);
	stats(s, 2, T0, T0 + 2 * HOUR, HOUR, &st, NULL, 0);
	near(st.mkt_c, 27.821, 0.0005, "MKT");
	near(st.mean_c, 27.5, 1e-12, "mean");
}

/* --- §5.2 time out of range and §5.3 degree-minutes ------------------------------------ */

/* "Test vector (5-min samples, range 0–5 °C): t = 0, 5, 10, 15, 20, 25, 30 min;
 *  θ = 1.5, 3.0, 6.0, 7.0, 5.5, 3.5, 2.0 °C." */
static const double tor_min[] = {0, 5, 10, 15, 20, 25, 30};
static const double tor_val[] = {1.5, 3.0, 6.0, 7.0, 5.5, 3.5, 2.0};

/* "Sample-and-hold: samples at 10, 15, 20 are > 5 → TOR = 15 min." */
static void test_coldchain__tor_example_sample_and_hold_is_15_min(void **state)
{
	struct coldchain_sample s[7];
	int64_t above = -1, below = -1;

	(void)state;
	at_minutes(s, tor_min, tor_val, 7);
	assert_int_equal(
	    coldchain_time_above(s, 7, T0, T0 + 30 * MIN, 5 * MIN, COLDCHAIN_HOLD, 5.0, &above), 0);
	assert_int_equal(
	    coldchain_time_below(s, 7, T0, T0 + 30 * MIN, 5 * MIN, COLDCHAIN_HOLD, 0.0, &below), 0);
	assert_int_equal(above + below, 15 * MIN);
	assert_int_equal(below, 0);
}

/* "Linear: up-crossing at t = 5 + 5·(5−3)/(6−3) = 8.333 min, down-crossing at
 *  20 + 5·(5.5−5)/(5.5−3.5) = 21.25 min → TOR = 12.917 min." */
static void test_coldchain__tor_example_linear_is_12_917_min(void **state)
{
	struct coldchain_sample s[7];
	int64_t above = -1;

	(void)state;
	at_minutes(s, tor_min, tor_val, 7);
	assert_int_equal(
	    coldchain_time_above(s, 7, T0, T0 + 30 * MIN, 5 * MIN, COLDCHAIN_LINEAR, 5.0, &above),
	    0);
	near((double)above / (double)MIN, 12.917, 0.0005, "TOR linear");
	/* The crossings are at 500 s and 1275 s: exactly 775 s. */
	assert_int_equal(above, INT64_C(775000000));
	/* From the up-crossing only: the window starts at 8.333 min. */
	assert_int_equal(coldchain_time_above(s, 7, T0 + 500 * INT64_C(1000000), T0 + 30 * MIN,
					      5 * MIN, COLDCHAIN_LINEAR, 5.0, &above),
			 0);
	assert_int_equal(above, INT64_C(775000000));
}

/* "DM = ∫ max(0, θ(t) − θ_th) dt [°C·min]. Same vector, θ_th = 5 °C:
 *  Sample-and-hold: (6.0−5)·5 + (7.0−5)·5 + (5.5−5)·5 = 17.5 °C·min." */
static void test_coldchain__degree_minutes_example_sample_and_hold_is_17_5(void **state)
{
	struct coldchain_sample s[7];
	double dm = -1;

	(void)state;
	at_minutes(s, tor_min, tor_val, 7);
	assert_int_equal(coldchain_degree_minutes_above(s, 7, T0, T0 + 30 * MIN, 5 * MIN,
							COLDCHAIN_HOLD, 5.0, &dm),
			 0);
	near(dm, 17.5, 1e-9, "DM hold");
}

/* "Linear (trapezoids with crossing points): 0.8333 + 7.5 + 6.25 + 0.3125 = 14.896 °C·min." */
static void test_coldchain__degree_minutes_example_linear_is_14_896(void **state)
{
	struct coldchain_sample s[7];
	double dm = -1;

	(void)state;
	at_minutes(s, tor_min, tor_val, 7);
	assert_int_equal(coldchain_degree_minutes_above(s, 7, T0, T0 + 30 * MIN, 5 * MIN,
							COLDCHAIN_LINEAR, 5.0, &dm),
			 0);
	near(dm, 14.896, 0.0005, "DM linear");
	near(dm, 0.8333 + 7.5 + 6.25 + 0.3125, 0.0001, "DM linear, term by term");
}

/* "(Degree-minutes below θ_min, e.g. below lowest_safe_c, quantify chilling exposure the
 *  same way.)" The vector mirrored around 5 °C is as far below as the original is above. */
static void test_coldchain__degree_minutes_below_mirror_above(void **state)
{
	double mirrored[7];
	struct coldchain_sample s[7];
	double dm = -1;
	int64_t below = -1;

	(void)state;
	for (int i = 0; i < 7; i++)
		mirrored[i] = 10.0 - tor_val[i];
	at_minutes(s, tor_min, mirrored, 7);
	assert_int_equal(coldchain_degree_minutes_below(s, 7, T0, T0 + 30 * MIN, 5 * MIN,
							COLDCHAIN_LINEAR, 5.0, &dm),
			 0);
	near(dm, 14.896, 0.0005, "DM below, linear");
	assert_int_equal(coldchain_degree_minutes_below(s, 7, T0, T0 + 30 * MIN, 5 * MIN,
							COLDCHAIN_HOLD, 5.0, &dm),
			 0);
	near(dm, 17.5, 1e-9, "DM below, hold");
	assert_int_equal(
	    coldchain_time_below(s, 7, T0, T0 + 30 * MIN, 5 * MIN, COLDCHAIN_LINEAR, 5.0, &below),
	    0);
	assert_int_equal(below, INT64_C(775000000));
}

/* --- §5.4 kinetics --------------------------------------------------------------------- */

/* "HB66 relative-rate table (Q10 3.0, 2.5, 2.0, 1.5): θ = 0/10/20/30/40 °C → relative rate
 *  1.0/3.0/7.5/15.0/22.5 → relative shelf life 100/33/13/7/4 (a product lasting 13 d at
 *  20 °C lasts ~100 d at 0 °C and ~4 d at 40 °C)." */
static void test_coldchain__hb66_table_knots_and_relative_life(void **state)
{
	const double knot[] = {0, 10, 20, 30, 40}, rate[] = {1.0, 3.0, 7.5, 15.0, 22.5};
	const double life[] = {100, 33, 13, 7, 4};
	double r, r20, r0, r40;

	(void)state;
	for (int i = 0; i < 5; i++) {
		assert_int_equal(coldchain_hb66_rate(knot[i], &r), 0);
		near(r, rate[i], 1e-12, "HB66 knot rate");
		near(round(100 / r), life[i], 0, "relative shelf life");
	}
	assert_int_equal(coldchain_hb66_rate(20, &r20), 0);
	assert_int_equal(coldchain_hb66_rate(0, &r0), 0);
	assert_int_equal(coldchain_hb66_rate(40, &r40), 0);
	near(13 * r20 / r0, 100, 2.5, "13 d at 20 °C is ~100 d at 0 °C");
	near(13 * r20 / r40, 4, 0.5, "13 d at 20 °C is ~4 d at 40 °C");
}

/* "Between knots use log-linear interpolation: r(θ) = rₐ·(r_b/rₐ)^((θ−a)/(b−a)); e.g.
 *  r(2) = 1.2457, r(4) = 1.5518, r(5) = 1.7321, r(8) = 2.4082." */
static void test_coldchain__hb66_log_linear_between_knots(void **state)
{
	const double t[] = {2, 4, 5, 8}, want[] = {1.2457, 1.5518, 1.7321, 2.4082};
	double r;

	(void)state;
	for (int i = 0; i < 4; i++) {
		assert_int_equal(coldchain_hb66_rate(t[i], &r), 0);
		near(r, want[i], 0.00005, "HB66 r(θ)");
	}
	/* Outside the table the end segments' Q10 (3 below, 1.5 above) carry on. */
	assert_int_equal(coldchain_hb66_rate(-10, &r), 0);
	near(r, 1.0 / 3.0, 1e-12, "HB66 r(-10)");
	assert_int_equal(coldchain_hb66_rate(50, &r), 0);
	near(r, 22.5 * 1.5, 1e-9, "HB66 r(50)");
}

/* "Single-Q10 form: SL(θ) = SL_ref / Q10^((θ−θ_ref)/10)." With §5.5's SL_ref = 21 d at 0 °C
 *  and Q10 = 3: "SL(20) = 2.333 d, SL(2) = 16.858 d, SL(8) = 8.720 d". */
static void test_coldchain__single_q10_shelf_life(void **state)
{
	const double t[] = {20, 2, 8}, want[] = {2.333, 16.858, 8.720};
	double r;

	(void)state;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(coldchain_q10_rate(3.0, 0.0, t[i], &r), 0);
		near(21 / r, want[i], 0.0005, "SL(θ)");
	}
	/* "Q10 = R(θ+10)/R(θ)" */
	assert_int_equal(coldchain_q10_rate(2.5, 4.0, 14.0, &r), 0);
	near(r, 2.5, 1e-12, "one Q10 over 10 °C");
}

/* "Ea = R·ln(Q10)·T₁·(T₁+10)/10. Q10 = 3 over 0–10 °C → Ea = 70.6 kJ/mol; Q10 = 2.5 over
 *  10–20 °C → 63.2 kJ/mol. Check: k(8 °C)/k(0 °C) = 2.4233 (Arrhenius) vs 3^0.8 = 2.4082
 *  (Q10)." */
static void test_coldchain__arrhenius_from_q10(void **state)
{
	double ea, k, q;

	(void)state;
	assert_int_equal(coldchain_q10_to_ea(3.0, 0.0, &ea), 0);
	near(ea / 1000, 70.6, 0.05, "Ea for Q10 3 over 0-10 °C");
	assert_int_equal(coldchain_arrhenius_rate(ea, 0.0, 8.0, &k), 0);
	near(k, 2.4233, 0.00005, "Arrhenius k(8)/k(0)");
	assert_int_equal(coldchain_q10_rate(3.0, 0.0, 8.0, &q), 0);
	near(q, 2.4082, 0.00005, "Q10 3^0.8");
	/* Ea is defined so that Arrhenius reproduces the Q10 across its own interval. */
	assert_int_equal(coldchain_arrhenius_rate(ea, 0.0, 10.0, &k), 0);
	near(k, 3.0, 1e-9, "Arrhenius k(10)/k(0)");
	assert_int_equal(coldchain_q10_to_ea(2.5, 10.0, &ea), 0);
	near(ea / 1000, 63.2, 0.05, "Ea for Q10 2.5 over 10-20 °C");
}

/* "choy sum respiration 5 / 8 / 17 µL CO₂/g·h at 0 / 5 / 10 °C (gai lan 8 / 10 / 29) →
 *  respiration Q10(0–10) ≈ 3.4 (gai lan 3.6); shelf-life >21 / 7–14 / 3–4 d at 0 / 5 / 10 °C
 *  → shelf-life Q10 ≈ 6 (21/3.5)." */
static void test_coldchain__q10_from_zong_choy_sum_data(void **state)
{
	double q;

	(void)state;
	assert_int_equal(coldchain_q10_from_ratio(17.0 / 5.0, 10, &q), 0);
	near(q, 3.4, 0.05, "choy sum respiration Q10");
	assert_int_equal(coldchain_q10_from_ratio(29.0 / 8.0, 10, &q), 0);
	near(q, 3.6, 0.05, "gai lan respiration Q10");
	assert_int_equal(coldchain_q10_from_ratio(21.0 / 3.5, 10, &q), 0);
	near(q, 6.0, 1e-12, "choy sum shelf-life Q10");
	/* Over 5 °C the ratio is squared into a Q10. */
	assert_int_equal(coldchain_q10_from_ratio(2.0, 5, &q), 0);
	near(q, 4.0, 1e-12, "Q10 from 5 °C");
}

/* --- §5.5 remaining shelf life --------------------------------------------------------- */

/* "choy sum, SL_ref = 21 d at 0 °C, history: 2 h at 20 °C (field heat before pre-cooling),
 *  1.5 h at 2 °C (packing), 8 h at 2 °C (truck), 0.5 h at 8 °C (unloading excursion)",
 *  as one reading a minute. */
static const struct stretch choy_history[] = {{2, 20}, {1.5, 2}, {8, 2}, {0.5, 8}};

/* "Single Q10 = 3: … F = 0.03571 + 0.00371 + 0.01977 + 0.00239 = 0.06158 (= 1.293
 *  equivalent days at 0 °C); remaining 19.707 d at 0 °C, 12.699 d at 4 °C." */
static void test_coldchain__remaining_life_example_single_q10(void **state)
{
	const struct coldchain_life life = {.life_days = 21,
					    .ref_c = 0,
					    .model = COLDCHAIN_RATE_Q10,
					    .q10 = 3,
					    .floor_c = NAN,
					    .gap_c = 20};
	size_t n;
	int64_t end;
	struct coldchain_sample *s = history(choy_history, 4, MIN, &n, &end);
	double f, days;

	(void)state;
	assert_int_equal(n, 720);
	assert_int_equal(coldchain_life_consumed(&life, s, n, T0, end, 5 * MIN, &f), 0);
	near(f, 0.06158, 0.000005, "F");
	near(f, 0.03571 + 0.00371 + 0.01977 + 0.00239, 0.00002, "F term by term");
	near(f * 21, 1.293, 0.0005, "equivalent days at 0 °C");
	assert_int_equal(coldchain_remaining_life_days(&life, s, n, T0, end, 5 * MIN, 0, &days), 0);
	near(days, 19.707, 0.0005, "remaining at 0 °C");
	assert_int_equal(coldchain_remaining_life_days(&life, s, n, T0, end, 5 * MIN, 4, &days), 0);
	near(days, 12.699, 0.0005, "remaining at 4 °C");
	free(s);
}

/* "HB66 piecewise table: F = 0.05563 (1.168 equivalent days at 0 °C); remaining 19.832 d at
 *  0 °C, 12.779 d at 4 °C." */
static void test_coldchain__remaining_life_example_hb66_table(void **state)
{
	const struct coldchain_life life = {.life_days = 21,
					    .ref_c = 0,
					    .model = COLDCHAIN_RATE_HB66,
					    .q10 = 0,
					    .floor_c = NAN,
					    .gap_c = 20};
	size_t n;
	int64_t end;
	struct coldchain_sample *s = history(choy_history, 4, MIN, &n, &end);
	double f, days;

	(void)state;
	assert_int_equal(coldchain_life_consumed(&life, s, n, T0, end, 5 * MIN, &f), 0);
	near(f, 0.05563, 0.000005, "F");
	near(f * 21, 1.168, 0.0005, "equivalent days at 0 °C");
	assert_int_equal(coldchain_remaining_life_days(&life, s, n, T0, end, 5 * MIN, 0, &days), 0);
	near(days, 19.832, 0.0005, "remaining at 0 °C");
	assert_int_equal(coldchain_remaining_life_days(&life, s, n, T0, end, 5 * MIN, 4, &days), 0);
	near(days, 12.779, 0.0005, "remaining at 4 °C");
	free(s);
}

/* §5.6 "Example at the DC (HB66 piecewise r, SL_ref 21 d at 0 °C):
 *  B | harvested D−2, 6 h at 20 °C before pre-cooling, then 42 h at 1 °C | 0.1823 | 17.172 d
 *  A | harvested D−3, 72 h at 1 °C | 0.1594 | 17.652 d
 *  C | harvested D−1, 8 h trip at 6 °C, 16 h at 1 °C | 0.0661 | 19.612 d
 *  FIFO would ship A first; FEFO ships B (younger but abused) first." */
static void test_coldchain__fefo_example_ranks_abused_lot_first(void **state)
{
	const struct coldchain_life life = {.life_days = 21,
					    .ref_c = 0,
					    .model = COLDCHAIN_RATE_HB66,
					    .q10 = 0,
					    .floor_c = NAN,
					    .gap_c = 20};
	const struct stretch b[] = {{6, 20}, {42, 1}}, a[] = {{72, 1}}, c[] = {{8, 6}, {16, 1}};
	const struct {
		const struct stretch *st;
		size_t n;
		double f, days;
	} lot[] = {{b, 2, 0.1823, 17.172}, {a, 1, 0.1594, 17.652}, {c, 2, 0.0661, 19.612}};
	double remaining[3];

	(void)state;
	for (int i = 0; i < 3; i++) {
		size_t n;
		int64_t end;
		struct coldchain_sample *s = history(lot[i].st, lot[i].n, 5 * MIN, &n, &end);
		double f;

		assert_int_equal(coldchain_life_consumed(&life, s, n, T0, end, 15 * MIN, &f), 0);
		near(f, lot[i].f, 0.00005, "F of lot");
		assert_int_equal(
		    coldchain_remaining_life_days(&life, s, n, T0, end, 15 * MIN, 0, &remaining[i]),
		    0);
		near(remaining[i], lot[i].days, 0.0005, "remaining at 0 °C of lot");
		free(s);
	}
	assert_true(remaining[0] < remaining[1] && remaining[1] < remaining[2]);
}

/* --- edges ----------------------------------------------------------------------------- */

static void test_coldchain__empty_series_is_one_gap_and_nothing_in_range(void **state)
{
	const struct coldchain_life life = {.life_days = 21,
					    .ref_c = 0,
					    .model = COLDCHAIN_RATE_Q10,
					    .q10 = 3,
					    .floor_c = NAN,
					    .gap_c = 10};
	struct coldchain_gap g[1];
	struct coldchain_stats st;
	int64_t t = -1;
	double dm = -1, f = -1;

	(void)state;
	stats(NULL, 0, T0, T0 + HOUR, 5 * MIN, &st, g, COLDCHAIN_GAPS_MAX(0));
	assert_int_equal(st.n_gaps, 1);
	assert_int_equal(g[0].from_us, T0);
	assert_int_equal(g[0].to_us, T0 + HOUR);
	assert_int_equal(st.covered_us, 0);
	near(st.coverage, 0, 0, "coverage");
	assert_int_equal(st.n_used, 0);
	assert_true(isnan(st.min_c) && isnan(st.max_c) && isnan(st.mean_c) && isnan(st.mkt_c));
	assert_int_equal(
	    coldchain_time_below(NULL, 0, T0, T0 + HOUR, 5 * MIN, COLDCHAIN_HOLD, 100, &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(coldchain_degree_minutes_above(NULL, 0, T0, T0 + HOUR, 5 * MIN,
							COLDCHAIN_LINEAR, -100, &dm),
			 0);
	near(dm, 0, 0, "DM");
	/* The product aged all the same: the hour is charged at gap_c, 10 °C = rate 3. */
	assert_int_equal(coldchain_life_consumed(&life, NULL, 0, T0, T0 + HOUR, 5 * MIN, &f), 0);
	near(f, 3.0 / 24 / 21, 1e-12, "F over a missing hour");
}

static void test_coldchain__single_sample_holds_for_at_most_max_gap(void **state)
{
	struct coldchain_sample s[1] = {{T0, 3.5, true}};
	struct coldchain_gap g[2];
	struct coldchain_stats st;
	int64_t t = -1;

	(void)state;
	/* Held over a window no longer than max_gap: fully covered. */
	stats(s, 1, T0, T0 + 5 * MIN, 15 * MIN, &st, g, 2);
	near(st.coverage, 1, 0, "coverage");
	assert_int_equal(st.n_gaps, 0);
	near(st.mean_c, 3.5, 0, "mean");
	near(st.mkt_c, 3.5, 1e-9, "MKT");
	assert_int_equal(st.n_used, 1);
	assert_int_equal(
	    coldchain_time_above(s, 1, T0, T0 + 5 * MIN, 15 * MIN, COLDCHAIN_HOLD, 3, &t), 0);
	assert_int_equal(t, 5 * MIN);
	/* Linear needs two readings: nothing is covered. */
	assert_int_equal(
	    coldchain_time_above(s, 1, T0, T0 + 5 * MIN, 15 * MIN, COLDCHAIN_LINEAR, 3, &t), 0);
	assert_int_equal(t, 0);

	/* A window longer than max_gap: the whole stretch after it is missing, not held. */
	stats(s, 1, T0, T0 + HOUR, 15 * MIN, &st, g, 2);
	near(st.coverage, 0, 0, "coverage");
	assert_int_equal(st.n_gaps, 1);
	assert_int_equal(g[0].from_us, T0);
	assert_int_equal(g[0].to_us, T0 + HOUR);
	near(st.min_c, 3.5, 0, "min");
	near(st.max_c, 3.5, 0, "max");
	assert_true(isnan(st.mean_c) && isnan(st.mkt_c));

	/* The sample at the end of the window: before it nothing is known. */
	stats(s, 1, T0 - 10 * MIN, T0, 15 * MIN, &st, g, 2);
	assert_int_equal(st.n_gaps, 1);
	assert_int_equal(g[0].from_us, T0 - 10 * MIN);
	assert_int_equal(g[0].to_us, T0);
	assert_int_equal(st.n_used, 1);
	near(st.max_c, 3.5, 0, "max of the closing reading");
}

/* A tunnel: readings every minute for 0–10 min, nothing until 30 min, then 30–40 min, over a
 * window [0, 41 min), max_gap 3 min. The readings either side of the hole are 8 °C. */
static void tunnel(struct coldchain_sample *s)
{
	for (int i = 0; i <= 10; i++)
		s[i] = (struct coldchain_sample){T0 + i * MIN, i == 10 ? 8.0 : 2.0, true};
	for (int i = 0; i <= 10; i++)
		s[11 + i] =
		    (struct coldchain_sample){T0 + (30 + i) * MIN, i == 0 ? 8.0 : 2.0, true};
}

static void test_coldchain__gap_in_the_middle_is_listed_and_not_covered(void **state)
{
	struct coldchain_sample s[22];
	struct coldchain_gap g[COLDCHAIN_GAPS_MAX(22)];
	struct coldchain_stats st;

	(void)state;
	tunnel(s);
	stats(s, 22, T0, T0 + 41 * MIN, 3 * MIN, &st, g, COLDCHAIN_GAPS_MAX(22));
	assert_int_equal(st.n_gaps, 1);
	assert_int_equal(g[0].from_us, T0 + 10 * MIN);
	assert_int_equal(g[0].to_us, T0 + 30 * MIN);
	/* 0–10 held, 30–40 held, and the reading at 40 for the last minute. */
	assert_int_equal(st.covered_us, 21 * MIN);
	near(st.coverage, 21.0 / 41.0, 1e-12, "coverage");
	/* One covered minute at 8 °C (30–31): the 8 °C reading at 10 min opens the gap and is
	 * not held across it. */
	near(st.mean_c, (20 * 2.0 + 1 * 8.0) / 21, 1e-12, "mean");
	near(st.max_c, 8, 0, "max");
	assert_int_equal(st.n_used, 22);
}

static void test_coldchain__gap_counts_neither_in_range_nor_out_of_range(void **state)
{
	struct coldchain_sample s[22];
	const enum coldchain_interp modes[] = {COLDCHAIN_HOLD, COLDCHAIN_LINEAR};
	int64_t above = -1, below = -1;
	double dm = -1;

	(void)state;
	tunnel(s);
	/* Hold: only the minute 30–31 is above 5 °C (the 8 °C reading at 10 opens the gap). */
	assert_int_equal(
	    coldchain_time_above(s, 22, T0, T0 + 41 * MIN, 3 * MIN, COLDCHAIN_HOLD, 5, &above), 0);
	assert_int_equal(above, 1 * MIN);
	/* Linear: the ramps 9–10 and 30–31 min each spend half a minute above 5 °C. */
	assert_int_equal(
	    coldchain_time_above(s, 22, T0, T0 + 41 * MIN, 3 * MIN, COLDCHAIN_LINEAR, 5, &above),
	    0);
	assert_int_equal(above, 1 * MIN);
	for (int m = 0; m < 2; m++) {
		/* Everything known is below 100 °C, and the gap is not "below" either. */
		assert_int_equal(
		    coldchain_time_below(s, 22, T0, T0 + 41 * MIN, 3 * MIN, modes[m], 100, &below),
		    0);
		assert_int_equal(below, modes[m] == COLDCHAIN_HOLD ? 21 * MIN : 20 * MIN);
		assert_int_equal(coldchain_degree_minutes_above(s, 22, T0 + 11 * MIN, T0 + 29 * MIN,
								3 * MIN, modes[m], -100, &dm),
				 0);
		near(dm, 0, 0, "DM inside the gap");
	}
}

static void test_coldchain__invalid_readings_are_missing(void **state)
{
	struct coldchain_sample s[5];
	struct coldchain_gap g[COLDCHAIN_GAPS_MAX(5)];
	struct coldchain_stats st;
	int64_t t = -1;

	(void)state;
	for (int i = 0; i < 5; i++)
		s[i] = (struct coldchain_sample){T0 + i * MIN, 1.0, true};
	s[2].valid = false;
	s[2].value_c = NAN; /* an invalid reading may carry anything */
	stats(s, 5, T0, T0 + 4 * MIN, 3 * MIN, &st, g, COLDCHAIN_GAPS_MAX(5));
	assert_int_equal(st.n_gaps, 1);
	assert_int_equal(g[0].from_us, T0 + 2 * MIN);
	assert_int_equal(g[0].to_us, T0 + 3 * MIN);
	assert_int_equal(st.covered_us, 3 * MIN);
	assert_int_equal(st.n_used, 4);
	/* Linear loses both spans touching the invalid reading. */
	assert_int_equal(
	    coldchain_time_below(s, 5, T0, T0 + 4 * MIN, 3 * MIN, COLDCHAIN_LINEAR, 5, &t), 0);
	assert_int_equal(t, 2 * MIN);
}

static void test_coldchain__gap_list_is_truncated_but_counted(void **state)
{
	struct coldchain_sample s[6];
	struct coldchain_gap g[2];
	struct coldchain_stats st;

	(void)state;
	/* Readings a minute apart, every other one invalid. */
	for (int i = 0; i < 6; i++)
		s[i] = (struct coldchain_sample){T0 + i * MIN, 1.0, i % 2 == 0};
	stats(s, 6, T0 - MIN, T0 + 6 * MIN, 5 * MIN, &st, g, 2);
	/* Gaps: [-1, 0) before the first reading, [1, 2), [3, 4), and [5, 6) after the
	 * invalid last one. */
	assert_int_equal(st.n_gaps, 4);
	assert_int_equal(g[0].from_us, T0 - MIN);
	assert_int_equal(g[0].to_us, T0);
	assert_int_equal(g[1].from_us, T0 + MIN);
	assert_int_equal(g[1].to_us, T0 + 2 * MIN);
	assert_true(st.n_gaps <= COLDCHAIN_GAPS_MAX(6));
	/* Counting only. */
	stats(s, 6, T0 - MIN, T0 + 6 * MIN, 5 * MIN, &st, NULL, 0);
	assert_int_equal(st.n_gaps, 4);
	assert_int_equal(st.covered_us, 3 * MIN);
}

static void test_coldchain__series_entirely_above_threshold(void **state)
{
	struct coldchain_sample s[13];
	struct coldchain_stats st;
	int64_t above = -1, below = -1;
	double dm = -1;

	(void)state;
	for (int i = 0; i < 13; i++)
		s[i] = (struct coldchain_sample){T0 + i * 5 * MIN, 9.0 + (i % 3), true};
	stats(s, 13, T0, T0 + HOUR, 5 * MIN, &st, NULL, 0);
	near(st.coverage, 1, 0, "coverage");
	assert_int_equal(
	    coldchain_time_above(s, 13, T0, T0 + HOUR, 5 * MIN, COLDCHAIN_HOLD, 5, &above), 0);
	assert_int_equal(above, HOUR);
	assert_int_equal(
	    coldchain_time_above(s, 13, T0, T0 + HOUR, 5 * MIN, COLDCHAIN_LINEAR, 5, &above), 0);
	assert_int_equal(above, HOUR);
	assert_int_equal(
	    coldchain_time_below(s, 13, T0, T0 + HOUR, 5 * MIN, COLDCHAIN_LINEAR, 5, &below), 0);
	assert_int_equal(below, 0);
	/* Hold: the 12 spans hold 9, 10, 11, 9, … : mean excess (4 + 5 + 6) / 3 = 5 °C. */
	assert_int_equal(
	    coldchain_degree_minutes_above(s, 13, T0, T0 + HOUR, 5 * MIN, COLDCHAIN_HOLD, 5, &dm),
	    0);
	near(dm, 5.0 * 60, 1e-9, "DM hold");
}

static void test_coldchain__at_the_threshold_is_not_above(void **state)
{
	struct coldchain_sample s[3] = {
	    {T0, 5.0, true}, {T0 + MIN, 5.0, true}, {T0 + 2 * MIN, 5.0, true}};
	int64_t t = -1;
	double dm = -1;

	(void)state;
	assert_int_equal(coldchain_time_above(s, 3, T0, T0 + 2 * MIN, MIN, COLDCHAIN_HOLD, 5, &t),
			 0);
	assert_int_equal(t, 0);
	assert_int_equal(coldchain_time_below(s, 3, T0, T0 + 2 * MIN, MIN, COLDCHAIN_LINEAR, 5, &t),
			 0);
	assert_int_equal(t, 0);
	assert_int_equal(
	    coldchain_degree_minutes_above(s, 3, T0, T0 + 2 * MIN, MIN, COLDCHAIN_LINEAR, 5, &dm),
	    0);
	near(dm, 0, 0, "DM");
}

static void test_coldchain__spacing_of_exactly_max_gap_is_covered(void **state)
{
	struct coldchain_sample s[3] = {
	    {T0, 1, true}, {T0 + 5 * MIN, 1, true}, {T0 + 10 * MIN + 1, 1, true}};
	struct coldchain_gap g[4];
	struct coldchain_stats st;

	(void)state;
	stats(s, 3, T0, T0 + 10 * MIN + 1, 5 * MIN, &st, g, 4);
	assert_int_equal(st.covered_us, 5 * MIN);
	assert_int_equal(st.n_gaps, 1);
	assert_int_equal(g[0].from_us, T0 + 5 * MIN);
	assert_int_equal(g[0].to_us, T0 + 10 * MIN + 1);
}

/* Samples outside the window still shape it: a linear ramp 0 → 10 °C over 0–10 min judged
 * on [5, 10) min is above 7 °C from 7 to 10 min. */
static void test_coldchain__window_clips_spans_without_moving_them(void **state)
{
	struct coldchain_sample s[3] = {
	    {T0, 0, true}, {T0 + 10 * MIN, 10, true}, {T0 + 20 * MIN, 10, true}};
	struct coldchain_stats st;
	int64_t t = -1;
	double dm = -1;

	(void)state;
	assert_int_equal(coldchain_time_above(s, 3, T0 + 5 * MIN, T0 + 10 * MIN, 10 * MIN,
					      COLDCHAIN_LINEAR, 7, &t),
			 0);
	assert_int_equal(t, 3 * MIN);
	assert_int_equal(coldchain_degree_minutes_above(s, 3, T0 + 5 * MIN, T0 + 10 * MIN, 10 * MIN,
							COLDCHAIN_LINEAR, 7, &dm),
			 0);
	near(dm, 4.5, 1e-9, "DM");
	/* Hold: the reading at 0 holds into [5, 10) and describes the window. */
	stats(s, 3, T0 + 5 * MIN, T0 + 8 * MIN, 10 * MIN, &st, NULL, 0);
	assert_int_equal(st.n_used, 1);
	near(st.min_c, 0, 0, "min");
	near(st.mean_c, 0, 0, "mean");
	near(st.coverage, 1, 0, "coverage");
}

static void test_coldchain__equal_times_are_accepted(void **state)
{
	struct coldchain_sample s[3] = {{T0, 1, true}, {T0 + MIN, 9, true}, {T0 + MIN, 3, true}};
	struct coldchain_stats st;

	(void)state;
	/* The later of two equal-time readings holds; both are readings for min and max. */
	stats(s, 3, T0, T0 + 2 * MIN, 5 * MIN, &st, NULL, 0);
	near(st.mean_c, 2, 1e-12, "mean");
	near(st.max_c, 9, 0, "max");
	assert_int_equal(st.n_used, 3);
}

static void test_coldchain__unsorted_input_is_refused(void **state)
{
	const struct coldchain_life life = {.life_days = 21,
					    .ref_c = 0,
					    .model = COLDCHAIN_RATE_Q10,
					    .q10 = 3,
					    .floor_c = NAN,
					    .gap_c = 10};
	struct coldchain_sample s[3] = {
	    {T0, 1, true}, {T0 + 2 * MIN, 1, true}, {T0 + MIN, 1, true}};
	struct coldchain_stats st = {0};
	int64_t t;
	double d;

	(void)state;
	assert_int_equal(coldchain_stats(s, 3, T0, T0 + HOUR, HOUR, &st), -1);
	assert_int_equal(coldchain_time_above(s, 3, T0, T0 + HOUR, HOUR, COLDCHAIN_HOLD, 0, &t),
			 -1);
	assert_int_equal(coldchain_time_below(s, 3, T0, T0 + HOUR, HOUR, COLDCHAIN_LINEAR, 0, &t),
			 -1);
	assert_int_equal(
	    coldchain_degree_minutes_above(s, 3, T0, T0 + HOUR, HOUR, COLDCHAIN_HOLD, 0, &d), -1);
	assert_int_equal(
	    coldchain_degree_minutes_below(s, 3, T0, T0 + HOUR, HOUR, COLDCHAIN_HOLD, 0, &d), -1);
	assert_int_equal(coldchain_life_consumed(&life, s, 3, T0, T0 + HOUR, HOUR, &d), -1);
	assert_int_equal(coldchain_remaining_life_days(&life, s, 3, T0, T0 + HOUR, HOUR, 0, &d),
			 -1);
	/* Even when the disorder lies outside the window. */
	s[0].t_us = T0 + 3 * HOUR;
	assert_int_equal(coldchain_time_above(s, 3, T0, T0 + 30 * MIN, HOUR, COLDCHAIN_HOLD, 0, &t),
			 -1);
}

static void test_coldchain__bad_arguments_are_refused(void **state)
{
	struct coldchain_life life = {.life_days = 21,
				      .ref_c = 0,
				      .model = COLDCHAIN_RATE_Q10,
				      .q10 = 3,
				      .floor_c = NAN,
				      .gap_c = 10};
	struct coldchain_sample s[2] = {{T0, 1, true}, {T0 + MIN, 2, true}};
	struct coldchain_stats st = {0};
	int64_t t;
	double d;

	(void)state;
	assert_int_equal(coldchain_stats(s, 2, T0, T0, HOUR, &st), -1);	      /* empty window */
	assert_int_equal(coldchain_stats(s, 2, T0 + MIN, T0, HOUR, &st), -1); /* reversed */
	assert_int_equal(coldchain_stats(s, 2, T0, T0 + MIN, 0, &st), -1);    /* max_gap */
	assert_int_equal(coldchain_stats(s, 2, T0, T0 + MIN, HOUR, NULL), -1);
	assert_int_equal(coldchain_stats(NULL, 2, T0, T0 + MIN, HOUR, &st), -1);
	st.gaps_cap = 3; /* a capacity without an array */
	assert_int_equal(coldchain_stats(s, 2, T0, T0 + MIN, HOUR, &st), -1);
	st.gaps_cap = 0;
	assert_int_equal(coldchain_stats(s, 2, INT64_MIN, T0 + MIN, HOUR, &st), -1);
	assert_int_equal(coldchain_time_above(s, 2, T0, T0 + MIN, HOUR, COLDCHAIN_HOLD, 0, NULL),
			 -1);
	assert_int_equal(
	    coldchain_time_above(s, 2, T0, T0 + MIN, HOUR, (enum coldchain_interp)7, 0, &t), -1);
	assert_int_equal(coldchain_time_above(s, 2, T0, T0 + MIN, HOUR, COLDCHAIN_HOLD, NAN, &t),
			 -1);
	s[1].value_c = INFINITY; /* a valid reading must be a number */
	assert_int_equal(coldchain_time_above(s, 2, T0, T0 + MIN, HOUR, COLDCHAIN_HOLD, 0, &t), -1);
	s[1].value_c = 2;
	assert_int_equal(coldchain_q10_rate(0.5, 0, 10, &d), -1);
	assert_int_equal(coldchain_hb66_rate(NAN, &d), -1);
	assert_int_equal(coldchain_q10_from_ratio(-1, 10, &d), -1);
	assert_int_equal(coldchain_q10_from_ratio(2, 0, &d), -1);
	assert_int_equal(coldchain_q10_to_ea(3, -300, &d), -1);
	assert_int_equal(coldchain_arrhenius_rate(70e3, 0, -274, &d), -1);
	assert_int_equal(coldchain_life_consumed(NULL, s, 2, T0, T0 + MIN, HOUR, &d), -1);
	life.gap_c = NAN;
	assert_int_equal(coldchain_life_consumed(&life, s, 2, T0, T0 + MIN, HOUR, &d), -1);
	life.gap_c = 10;
	life.life_days = 0;
	assert_int_equal(coldchain_life_consumed(&life, s, 2, T0, T0 + MIN, HOUR, &d), -1);
	life.life_days = 21;
	life.q10 = 0.9;
	assert_int_equal(coldchain_life_consumed(&life, s, 2, T0, T0 + MIN, HOUR, &d), -1);
	life.q10 = 3;
	assert_int_equal(coldchain_remaining_life_days(&life, s, 2, T0, T0 + MIN, HOUR, NAN, &d),
			 -1);
	assert_int_equal(coldchain_remaining_life_days(&life, s, 2, T0, T0 + MIN, HOUR, 0, &d), 0);
}

/* "never extrapolate Q10 models below lowest_safe_c for chilling-sensitive crops": a mango
 * (lowest safe 10 °C) held at 4 °C ages no slower than at 10 °C. */
static void test_coldchain__no_credit_below_the_chilling_floor(void **state)
{
	struct coldchain_life life = {.life_days = 14,
				      .ref_c = 13,
				      .model = COLDCHAIN_RATE_Q10,
				      .q10 = 2.5,
				      .floor_c = 10,
				      .gap_c = 13};
	struct coldchain_sample cold[2] = {{T0, 4, true}, {T0 + DAY, 4, true}};
	struct coldchain_sample floor10[2] = {{T0, 10, true}, {T0 + DAY, 10, true}};
	double f_cold, f_floor, days;

	(void)state;
	assert_int_equal(coldchain_life_consumed(&life, cold, 2, T0, T0 + DAY, DAY, &f_cold), 0);
	assert_int_equal(coldchain_life_consumed(&life, floor10, 2, T0, T0 + DAY, DAY, &f_floor),
			 0);
	near(f_cold, f_floor, 1e-15, "F at 4 °C = F at the floor");
	near(f_floor, pow(2.5, -0.3) / 14, 1e-12, "F at 10 °C");
	life.floor_c = NAN;
	assert_int_equal(coldchain_life_consumed(&life, cold, 2, T0, T0 + DAY, DAY, &f_cold), 0);
	assert_true(f_cold < f_floor);
	/* Used-up life is 0 days left, not negative. */
	life.life_days = 0.5;
	assert_int_equal(
	    coldchain_remaining_life_days(&life, floor10, 2, T0, T0 + DAY, DAY, 13, &days), 0);
	near(days, 0, 0, "remaining");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_coldchain__mkt_example_a_hourly_readings),
	    cmocka_unit_test(test_coldchain__mkt_weights_unequal_spacing_by_duration),
	    cmocka_unit_test(test_coldchain__mkt_example_b_constant_is_identity),
	    cmocka_unit_test(test_coldchain__mkt_example_c_25_and_30),
	    cmocka_unit_test(test_coldchain__tor_example_sample_and_hold_is_15_min),
	    cmocka_unit_test(test_coldchain__tor_example_linear_is_12_917_min),
	    cmocka_unit_test(test_coldchain__degree_minutes_example_sample_and_hold_is_17_5),
	    cmocka_unit_test(test_coldchain__degree_minutes_example_linear_is_14_896),
	    cmocka_unit_test(test_coldchain__degree_minutes_below_mirror_above),
	    cmocka_unit_test(test_coldchain__hb66_table_knots_and_relative_life),
	    cmocka_unit_test(test_coldchain__hb66_log_linear_between_knots),
	    cmocka_unit_test(test_coldchain__single_q10_shelf_life),
	    cmocka_unit_test(test_coldchain__arrhenius_from_q10),
	    cmocka_unit_test(test_coldchain__q10_from_zong_choy_sum_data),
	    cmocka_unit_test(test_coldchain__remaining_life_example_single_q10),
	    cmocka_unit_test(test_coldchain__remaining_life_example_hb66_table),
	    cmocka_unit_test(test_coldchain__fefo_example_ranks_abused_lot_first),
	    cmocka_unit_test(test_coldchain__empty_series_is_one_gap_and_nothing_in_range),
	    cmocka_unit_test(test_coldchain__single_sample_holds_for_at_most_max_gap),
	    cmocka_unit_test(test_coldchain__gap_in_the_middle_is_listed_and_not_covered),
	    cmocka_unit_test(test_coldchain__gap_counts_neither_in_range_nor_out_of_range),
	    cmocka_unit_test(test_coldchain__invalid_readings_are_missing),
	    cmocka_unit_test(test_coldchain__gap_list_is_truncated_but_counted),
	    cmocka_unit_test(test_coldchain__series_entirely_above_threshold),
	    cmocka_unit_test(test_coldchain__at_the_threshold_is_not_above),
	    cmocka_unit_test(test_coldchain__spacing_of_exactly_max_gap_is_covered),
	    cmocka_unit_test(test_coldchain__window_clips_spans_without_moving_them),
	    cmocka_unit_test(test_coldchain__equal_times_are_accepted),
	    cmocka_unit_test(test_coldchain__unsorted_input_is_refused),
	    cmocka_unit_test(test_coldchain__bad_arguments_are_refused),
	    cmocka_unit_test(test_coldchain__no_credit_below_the_chilling_floor),
	};

	return cmocka_run_group_tests_name("coldchain", tests, NULL, NULL);
}
