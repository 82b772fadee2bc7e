/*
 * hist.h: a log-linear latency histogram (the HdrHistogram layout, simplified) for the load tools.
 *
 * Values are non-negative integers (the tools record nanoseconds). Values below 2^(LP_HIST_SUB_BITS+1)
 * have a bucket each; above, every power of two is split into 2^LP_HIST_SUB_BITS equal buckets, so a
 * bucket is at most 1/128 = 0.78 % wide relative to its values, whatever the range (1 ns .. 2^63 ns).
 * Recording is O(1) with no allocation; the exact minimum, maximum and sum are kept beside the buckets.
 *
 * Threads: an lp_hist is plain memory owned by its caller; use one per thread and merge them at the end.
 */
#ifndef LP_PERF_HIST_H
#define LP_PERF_HIST_H

#include <stdint.h>

#define LP_HIST_SUB_BITS 7
#define LP_HIST_SUB (1u << LP_HIST_SUB_BITS)
#define LP_HIST_BUCKETS ((65u - LP_HIST_SUB_BITS) * LP_HIST_SUB)

typedef struct lp_hist {
  uint64_t count;
  uint64_t min, max;
  double sum;
  uint64_t bucket[LP_HIST_BUCKETS];
} lp_hist;

/* Empties h (count 0). The caller owns h (about 58 KB: allocate it, or keep it static). Any thread. */
void lp_hist_reset(lp_hist *h);

/* Adds one value. Caller's thread. */
void lp_hist_record(lp_hist *h, uint64_t v);

/* Adds every value of src to dst. Both owned by the caller. */
void lp_hist_merge(lp_hist *dst, const lp_hist *src);

/* The value at quantile q in [0, 1] (0.99 = p99): the upper edge of the bucket that holds the
 * ceil(q * count)-th smallest value, clamped to the exact [min, max]; so p100 is the exact maximum and the
 * error is below one bucket width. 0 when h is empty. */
uint64_t lp_hist_quantile(const lp_hist *h, double q);

/* Mean of the recorded values (0 when empty). */
double lp_hist_mean(const lp_hist *h);

#endif
