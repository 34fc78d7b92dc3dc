/*
 * test_decimate: the chart decimation (services/common/decimate.c) keeps every extreme,
 * every point of an excursion window and both ends of every break, returns points in
 * index order, and stays within 4 points per bucket otherwise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "decimate.h"

#define N 100000

struct series {
	int64_t *t;
	double *v;
	struct decimate_point *out;
};

static struct series *series_new(size_t n)
{
	struct series *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	s->t = calloc(n ? n : 1, sizeof(*s->t));
	s->v = calloc(n ? n : 1, sizeof(*s->v));
	s->out = calloc(n ? n : 1, sizeof(*s->out));
	assert_true(s->t && s->v && s->out);
	return s;
}

static void series_free(struct series *s)
{
	free(s->t);
	free(s->v);
	free(s->out);
	free(s);
}

static int kept(const struct decimate_point *out, size_t n, size_t idx)
{
	for (size_t k = 0; k < n; k++)
		if (out[k].i == idx)
			return 1;
	return 0;
}

static void assert_ordered(const struct decimate_point *out, size_t n)
{
	for (size_t k = 1; k < n; k++)
		assert_true(out[k - 1].i < out[k].i);
}

/* A noisy sine with a deterministic generator: the global min and max, and the min/max of
 * every bucket, are in the output. */
static void test_decimate__keeps_global_and_bucket_extremes(void **state)
{
	struct series *s = series_new(N);
	struct decimate_params p = {.buckets = 500, .max_gap = 60};
	size_t n_out = 0, imin = 0, imax = 0;
	uint32_t x = 12345;

	(void)state;
	for (size_t k = 0; k < N; k++) {
		x = x * 1664525u + 1013904223u;
		s->t[k] = (int64_t)k * 30;
		s->v[k] = 4 + 2 * sin((double)k / 3000.0) + (double)(x >> 16) / 65536.0;
		if (s->v[k] < s->v[imin])
			imin = k;
		if (s->v[k] > s->v[imax])
			imax = k;
	}
	assert_int_equal(decimate_run(s->t, s->v, N, &p, s->out, &n_out), 0);
	assert_true(n_out <= 4 * p.buckets);
	assert_true(n_out >= p.buckets);
	assert_ordered(s->out, n_out);
	assert_true(kept(s->out, n_out, imin));
	assert_true(kept(s->out, n_out, imax));
	assert_true(kept(s->out, n_out, 0));
	assert_true(kept(s->out, n_out, N - 1));
	assert_true(s->out[0].brk);
	for (size_t k = 1; k < n_out; k++)
		assert_false(s->out[k].brk);
	series_free(s);
}

/* Every point inside an excursion window is kept, whatever the bucket size. */
static void test_decimate__keeps_every_point_of_an_excursion(void **state)
{
	struct series *s = series_new(N);
	struct decimate_window win[2] = {{30 * 20000, 30 * 20360}, {30 * 70000, 30 * 70010}};
	struct decimate_params p = {.buckets = 100, .max_gap = 60, .keep = win, .n_keep = 2};
	size_t n_out = 0, in_windows = 0;

	(void)state;
	for (size_t k = 0; k < N; k++) {
		s->t[k] = (int64_t)k * 30;
		s->v[k] = (k >= 20000 && k <= 20360) ? 9.0 + (double)(k % 7) : 2.0;
	}
	assert_int_equal(decimate_run(s->t, s->v, N, &p, s->out, &n_out), 0);
	assert_ordered(s->out, n_out);
	for (size_t k = 20000; k <= 20360; k++, in_windows++)
		assert_true(kept(s->out, n_out, k));
	for (size_t k = 70000; k <= 70010; k++, in_windows++)
		assert_true(kept(s->out, n_out, k));
	assert_true(n_out <= 4 * p.buckets + in_windows);
	series_free(s);
}

/* Both ends of a gap are kept and the line breaks after it; a missing value breaks too. */
static void test_decimate__keeps_both_sides_of_gaps_and_breaks_the_line(void **state)
{
	struct series *s = series_new(1000);
	struct decimate_params p = {.buckets = 10, .max_gap = 60};
	size_t n_out = 0, gaps = 0;

	(void)state;
	for (size_t k = 0; k < 1000; k++) {
		s->t[k] = (int64_t)k * 30 + (k >= 412 ? 3600 : 0); /* one hour missing after 411 */
		s->v[k] = k == 700 ? NAN : 3.0;			   /* and no value at 700 */
	}
	assert_int_equal(decimate_run(s->t, s->v, 1000, &p, s->out, &n_out), 0);
	assert_ordered(s->out, n_out);
	assert_true(kept(s->out, n_out, 411));
	assert_true(kept(s->out, n_out, 412));
	assert_true(kept(s->out, n_out, 699));
	assert_true(kept(s->out, n_out, 701));
	assert_false(kept(s->out, n_out, 700));
	for (size_t k = 0; k < n_out; k++) {
		if (s->out[k].brk)
			gaps++;
		if (s->out[k].i == 412 || s->out[k].i == 701 || s->out[k].i == 0)
			assert_true(s->out[k].brk);
		else
			assert_false(s->out[k].brk);
	}
	assert_int_equal(gaps, 3);
	assert_true(n_out <= 4 * p.buckets + 2 * 2);
	series_free(s);
}

static void test_decimate__edge_cases(void **state)
{
	struct series *s = series_new(4);
	struct decimate_params p = {.buckets = 10, .max_gap = 60};
	struct decimate_params bad = {.buckets = 0, .max_gap = 60};
	size_t n_out = 99;

	(void)state;
	/* empty */
	assert_int_equal(decimate_run(NULL, NULL, 0, &p, NULL, &n_out), 0);
	assert_int_equal(n_out, 0);
	/* one point */
	s->t[0] = 5;
	s->v[0] = 1.5;
	assert_int_equal(decimate_run(s->t, s->v, 1, &p, s->out, &n_out), 0);
	assert_int_equal(n_out, 1);
	assert_true(s->out[0].brk);
	/* equal times, all in one bucket */
	for (size_t k = 0; k < 4; k++) {
		s->t[k] = 7;
		s->v[k] = (double)k;
	}
	assert_int_equal(decimate_run(s->t, s->v, 4, &p, s->out, &n_out), 0);
	assert_int_equal(n_out, 2); /* first = min, last = max */
	/* all missing */
	for (size_t k = 0; k < 4; k++)
		s->v[k] = NAN;
	assert_int_equal(decimate_run(s->t, s->v, 4, &p, s->out, &n_out), 0);
	assert_int_equal(n_out, 0);
	/* bad arguments */
	assert_int_equal(decimate_run(s->t, s->v, 4, &bad, s->out, &n_out), -1);
	bad.buckets = 1;
	bad.max_gap = 0;
	assert_int_equal(decimate_run(s->t, s->v, 4, &bad, s->out, &n_out), -1);
	assert_int_equal(decimate_run(NULL, s->v, 4, &p, s->out, &n_out), -1);
	s->t[3] = 1; /* decreasing */
	s->v[3] = 1;
	assert_int_equal(decimate_run(s->t, s->v, 4, &p, s->out, &n_out), -1);
	series_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_decimate__keeps_global_and_bucket_extremes),
	    cmocka_unit_test(test_decimate__keeps_every_point_of_an_excursion),
	    cmocka_unit_test(test_decimate__keeps_both_sides_of_gaps_and_breaks_the_line),
	    cmocka_unit_test(test_decimate__edge_cases),
	};
	return cmocka_run_group_tests_name("decimate", tests, NULL, NULL);
}
