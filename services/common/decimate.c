/*
 * decimate: min/max/first/last per time bucket, plus forced points (excursion windows and
 * both sides of every break), for the report's charts.
 *
 * DESIGN. One pass over the samples. Forced points are appended to the output as they come
 * (they arrive in index order). When a bucket closes, its up to four candidates (first,
 * last, min, max valid point) are merged into the tail of the output that belongs to the
 * bucket, which is sorted; a merge costs the length of that tail, so the whole run is O(n).
 * A candidate already present (forced) keeps its break flag.
 */
#include "decimate.h"

#include <math.h>
#include <string.h>

struct bucket {
	size_t start; /* first output slot of this bucket */
	size_t first, last, min, max;
	bool any;
};

static void insert_sorted(struct decimate_point *out, size_t start, size_t *n, size_t idx)
{
	size_t lo = start, hi = *n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (out[mid].i < idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < *n && out[lo].i == idx)
		return;
	if (lo < *n)
		memmove(out + lo + 1, out + lo, (*n - lo) * sizeof(*out));
	out[lo].i = idx;
	out[lo].brk = false;
	(*n)++;
}

static void close_bucket(const struct bucket *b, struct decimate_point *out, size_t *n)
{
	if (!b->any)
		return;
	insert_sorted(out, b->start, n, b->first);
	insert_sorted(out, b->start, n, b->min);
	insert_sorted(out, b->start, n, b->max);
	insert_sorted(out, b->start, n, b->last);
}

static void force(struct decimate_point *out, size_t *n, size_t start, size_t idx, bool brk)
{
	if (*n > start && out[*n - 1].i == idx) {
		out[*n - 1].brk = out[*n - 1].brk || brk;
		return;
	}
	out[*n].i = idx;
	out[*n].brk = brk;
	(*n)++;
}

int decimate_run(const int64_t *t, const double *v, size_t n, const struct decimate_params *p,
		 struct decimate_point *out, size_t *n_out)
{
	struct bucket b = {0};
	size_t k = 0, w = 0, nout = 0, prev_valid = 0;
	bool have_prev = false, prev_missing = false;
	double scale;
	size_t cur = 0;

	if (!p || !n_out || p->buckets == 0 || p->max_gap <= 0 || (n > 0 && (!t || !v || !out)) ||
	    (p->n_keep > 0 && !p->keep))
		return -1;
	*n_out = 0;
	for (k = 1; k < n; k++)
		if (t[k] < t[k - 1])
			return -1;
	if (n == 0)
		return 0;
	/* One multiply per sample (no division, no long double): a bucket index needs no more
	 * than double's 53 bits, and any rounding moves a point into a neighbouring bucket,
	 * which changes nothing the chart can show. */
	scale = (double)p->buckets / ((double)t[n - 1] - (double)t[0] + 1.0);
	for (k = 0; k < n; k++) {
		size_t bi = (size_t)((double)(t[k] - t[0]) * scale);
		bool brk;

		if (bi >= p->buckets)
			bi = p->buckets - 1;
		if (bi != cur || k == 0) {
			if (k > 0)
				close_bucket(&b, out, &nout);
			memset(&b, 0, sizeof(b));
			b.start = nout;
			cur = bi;
		}
		if (!isfinite(v[k])) {
			prev_missing = true;
			continue;
		}
		while (w < p->n_keep && p->keep[w].to < t[k])
			w++;
		brk = !have_prev || prev_missing || t[k] - t[prev_valid] > p->max_gap;
		/* The point before a break ends a line: keep it. When it lies in an earlier
		 * bucket (this one has no valid point yet) it was that bucket's last valid
		 * point, kept already. */
		if (brk && have_prev && b.any)
			force(out, &nout, b.start, prev_valid, false);
		if (brk || (w < p->n_keep && p->keep[w].from <= t[k]))
			force(out, &nout, b.start, k, brk);
		if (!b.any) {
			b.first = b.last = b.min = b.max = k;
			b.any = true;
		} else {
			b.last = k;
			if (v[k] < v[b.min])
				b.min = k;
			if (v[k] > v[b.max])
				b.max = k;
		}
		prev_valid = k;
		have_prev = true;
		prev_missing = false;
	}
	close_bucket(&b, out, &nout);
	*n_out = nout;
	return 0;
}
