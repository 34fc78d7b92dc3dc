/*
 * test_excursion: the excursion finder on synthetic series with known answers — a reefer
 * failure, door openings at load, defrost cycles, data gaps, cumulative budgets, phases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "excursion.h"

#define US 1000000LL
#define MIN (60 * US)
#define T0 (1795316400LL * US) /* 2026-11-22T03:00:00Z */

static const struct excursion_limit leafy_limits[] = {
	{EXCURSION_ABOVE, 4.0, 30 * 60, 0, SEVERITY_WARNING, PHASE_ORIGIN | PHASE_TRANSIT | PHASE_DESTINATION},
	{EXCURSION_ABOVE, 7.0, 30 * 60, 60 * 60, SEVERITY_MAJOR, PHASE_TRANSIT},
	{EXCURSION_ABOVE, 12.0, 15 * 60, 0, SEVERITY_CRITICAL, PHASE_TRANSIT},
	{EXCURSION_BELOW, -0.5, 30 * 60, 0, SEVERITY_CRITICAL, PHASE_ORIGIN | PHASE_TRANSIT | PHASE_DESTINATION},
};

static const struct excursion_profile leafy = {leafy_limits, 4, 15 * 60, true, 10 * 60};

/* A series of one sample a minute for `minutes`, at 2 °C, with f(minute) overriding. */
struct series {
	struct excursion_sample s[2000];
	size_t n;
};

static void fill(struct series *x, int minutes, double (*f)(int))
{
	x->n = 0;
	for (int m = 0; m < minutes; m++) {
		x->s[x->n].t_us = T0 + m * MIN;
		x->s[x->n].c = f ? f(m) : 2.0;
		x->n++;
	}
}

static struct excursion_input input(const struct series *x, const struct excursion_event *ev,
				    size_t n_ev)
{
	struct excursion_input in = {x->s, x->n, ev, n_ev, 5 * MIN, T0 + 30 * MIN, T0 + 470 * MIN};
	return in;
}

/* Compressor stops at minute 120 and restarts at 210: the product warms to ~10 °C. */
static double reefer_failure(int m)
{
	if (m < 120)
		return 2.0;
	if (m < 210)
		return 2.0 + (m - 120) * 0.09; /* reaches 10.1 °C at minute 210 */
	if (m < 250)
		return 10.1 - (m - 210) * 0.2; /* cools back to 2.1 */
	return 2.0;
}

static void test_excursion__reefer_failure_is_one_major_episode(void **state)
{
	struct series x;
	struct excursion *e = NULL;
	size_t n;

	(void)state;
	fill(&x, 480, reefer_failure);
	struct excursion_input in = input(&x, NULL, 0);
	assert_int_equal(excursion_find(&leafy, &in, &e, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(e[0].direction, EXCURSION_ABOVE);
	assert_int_equal(e[0].severity, SEVERITY_MAJOR);
	assert_false(e[0].open);
	/* first sample above 4 °C: 2 + (m-120)·0.09 > 4 → m = 143; back at or below 4 °C at 241 */
	assert_int_equal(e[0].start_us, T0 + 143 * MIN);
	assert_int_equal(e[0].end_us, T0 + 241 * MIN);
	assert_int_equal(e[0].duration_s, 98 * 60);
	assert_float_equal(e[0].threshold_c, 4.0, 1e-9);
	assert_float_equal(e[0].peak_c, 10.1, 1e-9); /* minute 210, when the compressor restarts */
	assert_true(e[0].degree_minutes > 200 && e[0].degree_minutes < 400);
	assert_int_equal(e[0].phase, PHASE_TRANSIT);
	free(e);
}

static double spike_at_load(int m)
{
	return m >= 10 && m < 20 ? 9.0 : 2.0;
}

static void test_excursion__door_opening_at_load_stays_within_grace(void **state)
{
	const struct excursion_event ev[] = {{T0 + 9 * MIN, XEV_DOOR_OPEN},
					     {T0 + 12 * MIN, XEV_LOAD},
					     {T0 + 18 * MIN, XEV_DOOR_CLOSE}};
	const struct excursion_limit quick[] = {
		{EXCURSION_ABOVE, 4.0, 5 * 60, 0, SEVERITY_WARNING, PHASE_ORIGIN | PHASE_TRANSIT}};
	struct excursion_profile p = {quick, 1, 15 * 60, true, 0};
	struct series x;
	struct excursion *e = NULL;
	size_t n;

	(void)state;
	fill(&x, 60, spike_at_load);
	struct excursion_input in = input(&x, ev, 3);
	assert_int_equal(excursion_find(&p, &in, &e, &n), 0);
	assert_int_equal(n, 0);
	free(e);
	/* the same spike without the door event is an excursion */
	in.n_events = 0;
	assert_int_equal(excursion_find(&p, &in, &e, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(e[0].start_us, T0 + 10 * MIN);
	free(e);
}

static double defrost_spike(int m)
{
	return m >= 100 && m < 145 ? 9.0 : 2.0;
}

static void test_excursion__defrost_cycle_is_suppressed(void **state)
{
	const struct excursion_event ev[] = {{T0 + 99 * MIN, XEV_DEFROST_START},
					     {T0 + 135 * MIN, XEV_DEFROST_END}};
	struct series x;
	struct excursion *e = NULL;
	size_t n;

	(void)state;
	fill(&x, 300, defrost_spike);
	struct excursion_input in = input(&x, ev, 2);
	assert_int_equal(excursion_find(&leafy, &in, &e, &n), 0);
	assert_int_equal(n, 0);
	free(e);
	struct excursion_profile no_suppress = leafy;
	no_suppress.suppress_defrost = false;
	assert_int_equal(excursion_find(&no_suppress, &in, &e, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(e[0].severity, SEVERITY_MAJOR);
	free(e);
}

static void test_excursion__a_data_gap_breaks_a_run(void **state)
{
	struct series x;
	struct excursion *e = NULL;
	size_t n = 0;

	(void)state;
	/* 20 min above 5 °C, 2 h with no data, 20 min above: neither run lasts 30 min */
	for (int m = 0; m < 20; m++)
		x.s[n++] = (struct excursion_sample){T0 + (60 + m) * MIN, 5.0};
	for (int m = 0; m < 20; m++)
		x.s[n++] = (struct excursion_sample){T0 + (200 + m) * MIN, 5.0};
	for (int m = 0; m < 20; m++)
		x.s[n++] = (struct excursion_sample){T0 + (220 + m) * MIN, 2.0};
	x.n = n;
	struct excursion_input in = input(&x, NULL, 0);
	assert_int_equal(excursion_find(&leafy, &in, &e, &n), 0);
	assert_int_equal(n, 0);
	free(e);
}

static double short_bursts(int m)
{
	return m >= 60 && m % 40 < 20 ? 8.0 : 2.0; /* 20 min above 7 °C every 40 min */
}

static void test_excursion__cumulative_budget_breach(void **state)
{
	struct series x;
	struct excursion *e = NULL;
	size_t n;
	int breaches = 0, majors = 0;

	(void)state;
	fill(&x, 400, short_bursts);
	struct excursion_input in = input(&x, NULL, 0);
	assert_int_equal(excursion_find(&leafy, &in, &e, &n), 0);
	for (size_t i = 0; i < n; i++) {
		breaches += e[i].budget_breach;
		majors += e[i].severity == SEVERITY_MAJOR;
	}
	/* each burst lasts 21 min (< 30), so only the run that spends the 60 min budget counts */
	assert_int_equal(n, 1);
	assert_int_equal(breaches, 1);
	assert_int_equal(majors, 1);
	free(e);
}

static double cold_then_warm_at_origin(int m)
{
	return m < 25 ? 9.0 : 2.0;
}

static void test_excursion__limits_apply_only_in_their_phases(void **state)
{
	const struct excursion_limit transit_only[] = {
		{EXCURSION_ABOVE, 4.0, 10 * 60, 0, SEVERITY_MAJOR, PHASE_TRANSIT}};
	struct excursion_profile p = {transit_only, 1, 0, false, 0};
	struct series x;
	struct excursion *e = NULL;
	size_t n;

	(void)state;
	fill(&x, 120, cold_then_warm_at_origin); /* warm only before departure (minute 30) */
	struct excursion_input in = input(&x, NULL, 0);
	assert_int_equal(excursion_find(&p, &in, &e, &n), 0);
	assert_int_equal(n, 0);
	free(e);
}

static double chill_at_end(int m)
{
	return m < 400 ? 2.0 : -1.5;
}

static void test_excursion__below_limit_still_open_at_last_sample(void **state)
{
	struct series x;
	struct excursion *e = NULL;
	size_t n;

	(void)state;
	fill(&x, 460, chill_at_end);
	struct excursion_input in = input(&x, NULL, 0);
	assert_int_equal(excursion_find(&leafy, &in, &e, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(e[0].direction, EXCURSION_BELOW);
	assert_int_equal(e[0].severity, SEVERITY_CRITICAL);
	assert_true(e[0].open);
	assert_float_equal(e[0].peak_c, -1.5, 1e-9);
	assert_float_equal(e[0].degree_minutes, 59 * 1.0, 1e-6); /* 1 °C below -0.5 for 59 min */
	free(e);
}

static void test_excursion__unsorted_samples_are_refused(void **state)
{
	struct series x;
	struct excursion *e = NULL;
	size_t n;

	(void)state;
	fill(&x, 10, NULL);
	x.s[3].t_us = T0 - MIN;
	struct excursion_input in = input(&x, NULL, 0);
	assert_int_equal(excursion_find(&leafy, &in, &e, &n), -1);
	assert_null(e);
}

static void test_excursion__empty_series_has_no_excursion(void **state)
{
	struct excursion_input in = {NULL, 0, NULL, 0, 5 * MIN, INT64_MIN, INT64_MAX};
	struct excursion *e = NULL;
	size_t n = 7;

	(void)state;
	assert_int_equal(excursion_find(&leafy, &in, &e, &n), 0);
	assert_int_equal(n, 0);
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_excursion__reefer_failure_is_one_major_episode),
		cmocka_unit_test(test_excursion__door_opening_at_load_stays_within_grace),
		cmocka_unit_test(test_excursion__defrost_cycle_is_suppressed),
		cmocka_unit_test(test_excursion__a_data_gap_breaks_a_run),
		cmocka_unit_test(test_excursion__cumulative_budget_breach),
		cmocka_unit_test(test_excursion__limits_apply_only_in_their_phases),
		cmocka_unit_test(test_excursion__below_limit_still_open_at_last_sample),
		cmocka_unit_test(test_excursion__unsorted_samples_are_refused),
		cmocka_unit_test(test_excursion__empty_series_has_no_excursion),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
