/*
 * coldchain: the temperature arithmetic of excursion detection and QA (domain.md §5) over
 * one probe's time series — min, max, time-weighted mean, mean kinetic temperature,
 * coverage and gaps, time and degree-minutes beyond a threshold, and Q10 / HB66 / Arrhenius
 * shelf-life kinetics. Pure functions: no I/O, no allocation, no globals.
 *
 * The series. Samples are sorted by t_us (equal times allowed, decreasing times refused);
 * a sample with valid false is a missing or rejected reading. Every function judges the
 * window [from_us, to_us) and splits it at the sample times into spans:
 *
 *   span [t_i, t_i+1)    covered when t_i+1 - t_i <= max_gap_us and sample i is valid
 *                        (linear mode: samples i and i+1 both valid);
 *   span [from, t_0)     never covered (nothing is known before the first sample);
 *   span [t_last, to)    covered in hold mode only, when the last sample is valid and
 *                        to - t_last <= max_gap_us (its reading holds, as any other);
 *   spans are clipped to the window; samples outside it still shape the spans inside.
 *
 * A span that is not covered is missing: it is a gap, counts neither in range nor out of
 * range, and is never interpolated across (a long span is missing as a whole, not held for
 * max_gap_us and then dropped). Values inside a covered span follow the interpolation mode:
 *
 *   COLDCHAIN_HOLD    sample-and-hold: θ_i holds on [t_i, t_i+1) (what loggers and
 *                     regulators use, domain.md §5 conventions);
 *   COLDCHAIN_LINEAR  θ varies linearly from θ_i to θ_i+1; crossings of a threshold are
 *                     found on the line (more accurate for sparse data).
 *
 * "Above" is strictly above (θ > threshold), "below" strictly below (θ < threshold), as
 * domain.md §5.2 defines time out of range.
 *
 * Every function returns 0, or -1 on a bad argument: NULL out-parameter, NULL samples with
 * n > 0, decreasing times, a valid sample whose value is not finite, to_us <= from_us,
 * max_gap_us <= 0, a time beyond ±2^62 µs, or a parameter outside its documented range.
 * On -1 the out-parameters are unspecified.
 */
#ifndef COLDTRACE_COLDCHAIN_H
#define COLDTRACE_COLDCHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ΔH/R of mean kinetic temperature, in kelvin: ΔH 83.144 kJ/mol over R (USP <1079>). */
#define COLDCHAIN_MKT_DH_OVER_R_K 10000.0
#define COLDCHAIN_ZERO_C_IN_K 273.15
/* Molar gas constant, J/(mol·K) (exact since the 2019 SI). */
#define COLDCHAIN_R_J_PER_MOL_K 8.314462618

struct coldchain_sample {
	int64_t t_us; /* microseconds since the Unix epoch, as in ts.h */
	double value_c;
	bool valid;
};

enum coldchain_interp {
	COLDCHAIN_HOLD,
	COLDCHAIN_LINEAR,
};

/* A maximal missing interval [from_us, to_us) of the window. */
struct coldchain_gap {
	int64_t from_us;
	int64_t to_us;
};

/* Gaps of a window never outnumber its samples plus one (a gap lies before, between or after
 * covered runs, and each run holds at least one sample): size the gap array with this to get
 * them all. */
#define COLDCHAIN_GAPS_MAX(n) ((size_t)(n) + 1)

struct coldchain_stats {
	/* In, set by the caller: where to list the gaps. The array is the caller's, lent for
	 * the call; gaps may be NULL when gaps_cap is 0 (gaps are then only counted). */
	struct coldchain_gap *gaps;
	size_t gaps_cap;

	/* Out. */
	size_t n_gaps;	     /* gaps found, in time order; the first min(n_gaps, gaps_cap)
			      * are listed, so n_gaps > gaps_cap means the list is truncated */
	size_t n_used;	     /* valid samples describing the window: those taken in
			      * [from_us, to_us], and one held into it from before from_us */
	double min_c, max_c; /* over those samples; NAN when n_used is 0 */
	double mean_c;	     /* time-weighted over covered time; NAN when covered_us is 0 */
	double mkt_c;	     /* mean kinetic temperature, time-weighted; NAN likewise */
	int64_t covered_us;  /* time of the window with valid data */
	double coverage;     /* covered_us / (to_us - from_us), 0..1 */
};

/*
 * Statistics of the window in sample-and-hold mode (MKT and a time-weighted mean are sums
 * of held values times their duration, domain.md §5.1 "weight by Δt"):
 *   mean = Σ θ_i·Δt_i / Σ Δt_i
 *   MKT  = (ΔH/R) / −ln( Σ Δt_i·exp(−(ΔH/R)/T_i) / Σ Δt_i ) − 273.15,  T_i = θ_i + 273.15
 * over covered spans only. Set out->gaps and out->gaps_cap before the call.
 */
int coldchain_stats(const struct coldchain_sample *s, size_t n, int64_t from_us, int64_t to_us,
		    int64_t max_gap_us, struct coldchain_stats *out);

/* Time of the window with θ strictly above (below) threshold_c, in µs, rounded to the
 * nearest µs (linear crossings fall between µs). Missing spans contribute nothing. */
int coldchain_time_above(const struct coldchain_sample *s, size_t n, int64_t from_us, int64_t to_us,
			 int64_t max_gap_us, enum coldchain_interp mode, double threshold_c,
			 int64_t *out_us);
int coldchain_time_below(const struct coldchain_sample *s, size_t n, int64_t from_us, int64_t to_us,
			 int64_t max_gap_us, enum coldchain_interp mode, double threshold_c,
			 int64_t *out_us);

/* ∫ max(0, θ(t) − threshold_c) dt over the window, in °C·min (domain.md §5.3); the _below
 * variant integrates max(0, threshold_c − θ(t)), e.g. chilling exposure under lowest_safe_c.
 * Missing spans contribute nothing. */
int coldchain_degree_minutes_above(const struct coldchain_sample *s, size_t n, int64_t from_us,
				   int64_t to_us, int64_t max_gap_us, enum coldchain_interp mode,
				   double threshold_c, double *out_c_min);
int coldchain_degree_minutes_below(const struct coldchain_sample *s, size_t n, int64_t from_us,
				   int64_t to_us, int64_t max_gap_us, enum coldchain_interp mode,
				   double threshold_c, double *out_c_min);

/* Relative rate of deterioration at temp_c against ref_c with one Q10 (q10 >= 1):
 * q10^((temp_c − ref_c)/10). Shelf life scales with its inverse. */
int coldchain_q10_rate(double q10, double ref_c, double temp_c, double *out_rate);

/* Relative rate from USDA HB66's table (Saltveit; Q10 3.0, 2.5, 2.0, 1.5 over 0–10, 10–20,
 * 20–30, 30–40 °C): 1 / 3 / 7.5 / 15 / 22.5 at 0 / 10 / 20 / 30 / 40 °C, log-linear between
 * knots; outside 0–40 °C the end segment's Q10 is extended. Relative to 0 °C. */
int coldchain_hb66_rate(double temp_c, double *out_rate);

/* Q10 from a ratio of rates (or the inverse ratio of shelf lives) over delta_c:
 * ratio^(10/delta_c). E.g. respiration 17 over 5 across 10 °C gives 3.4. */
int coldchain_q10_from_ratio(double ratio, double delta_c, double *out_q10);

/* Arrhenius activation energy equivalent to q10 over [t1_c, t1_c + 10]:
 * Ea = R·ln(Q10)·T1·(T1 + 10)/10, in J/mol. */
int coldchain_q10_to_ea(double q10, double t1_c, double *out_j_per_mol);

/* k(temp_c)/k(ref_c) = exp(−(Ea/R)(1/T − 1/T_ref)). */
int coldchain_arrhenius_rate(double ea_j_per_mol, double ref_c, double temp_c, double *out_rate);

enum coldchain_rate_model {
	COLDCHAIN_RATE_Q10,  /* one Q10 over the whole range */
	COLDCHAIN_RATE_HB66, /* HB66 piecewise table, taken relative to ref_c */
};

/* A commodity's shelf-life kinetics, for time–temperature integration (domain.md §5.5).
 * Set every field: 0 is a real temperature, not "unset". */
struct coldchain_life {
	double life_days; /* storage life at ref_c (commodities.storage_life_days), > 0 */
	double ref_c;	  /* the temperature life_days holds at (commodities.temp_opt_c) */
	enum coldchain_rate_model model;
	double q10;	/* COLDCHAIN_RATE_Q10 only, >= 1; for leafy brassicas prefer the
			 * shelf-life Q10 (≈ 6 for choy sum) over the respiration one (§5.4) */
	double floor_c; /* rates are never taken below it: lowest_safe_c for chilling-sensitive
			 * crops, where injury, not slower decay, dominates; NAN for none */
	double gap_c;	/* missing time is charged at this temperature (it cannot be left
			 * out: the product aged during a gap); finite */
};

/*
 * Fraction of shelf life consumed over the window, F = Σ Δt_i·r(θ_i) / life (hold mode:
 * each reading for its span), with missing spans charged at gap_c. F may exceed 1.
 */
int coldchain_life_consumed(const struct coldchain_life *life, const struct coldchain_sample *s,
			    size_t n, int64_t from_us, int64_t to_us, int64_t max_gap_us,
			    double *out_fraction);

/*
 * Remaining shelf life in days if kept at future_c after the window: (1 − F)·SL(future_c),
 * SL(θ) = life_days / r(θ); 0 when the life is used up. With future_c = ref_c it is the
 * remaining life at the storage optimum.
 */
int coldchain_remaining_life_days(const struct coldchain_life *life,
				  const struct coldchain_sample *s, size_t n, int64_t from_us,
				  int64_t to_us, int64_t max_gap_us, double future_c,
				  double *out_days);

#endif
