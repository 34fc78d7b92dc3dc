/*
 * decimate: picks the points of a long time series worth drawing. A chart of 100 000
 * readings on a 1 000-pixel axis cannot show more than a few thousand; this keeps, per time
 * bucket, the first, last, minimum and maximum valid point (so every extreme survives and
 * the envelope is exact), every point inside a window the caller must see whole (an
 * excursion), and both points around every break (a data gap, or missing values). Pure: no
 * I/O, no allocation, one pass, O(n).
 */
#ifndef COLDTRACE_DECIMATE_H
#define COLDTRACE_DECIMATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A closed interval [from, to] of the series' time unit whose points are all kept. */
struct decimate_window {
	int64_t from;
	int64_t to;
};

struct decimate_params {
	size_t buckets;	 /* time buckets over [t[0], t[n-1]], >= 1 */
	int64_t max_gap; /* consecutive samples further apart than this are a break, > 0 */
	const struct decimate_window *keep; /* sorted by from, non-overlapping; may be NULL */
	size_t n_keep;
};

/* A kept point: index into the input, and whether the line breaks before it (the first
 * point, the first after a gap longer than max_gap or after invalid values). */
struct decimate_point {
	size_t i;
	bool brk;
};

/*
 * Selects points of the series (t ascending, equal times allowed; v[i] not finite = no
 * value there). out must hold n points (the worst case: everything kept); *n_out receives
 * how many were written, in index order. Without keep windows and breaks the output holds
 * at most 4 * buckets points. Returns 0, or -1 on a bad argument (NULL with n > 0,
 * decreasing times, buckets 0, max_gap <= 0).
 */
int decimate_run(const int64_t *t, const double *v, size_t n, const struct decimate_params *p,
		 struct decimate_point *out, size_t *n_out);

#endif
