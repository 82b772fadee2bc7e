/*
 * hist.c: the log-linear histogram of hist.h. Index of a value v: below 2*SUB it is v itself; above, with
 * shift = msb(v) - SUB_BITS, it is (shift + 1) * SUB + (v >> shift) - SUB, which continues the linear range
 * without a gap (v = 2*SUB maps to 2*SUB) and gives every power of two SUB buckets.
 */
#include "hist.h"

#include <math.h>
#include <string.h>

static unsigned hist_index(uint64_t v) {
  if (v < 2u * LP_HIST_SUB) return (unsigned)v;
  unsigned msb = 63u - (unsigned)__builtin_clzll(v);
  unsigned shift = msb - LP_HIST_SUB_BITS;
  return (shift + 1u) * LP_HIST_SUB + (unsigned)(v >> shift) - LP_HIST_SUB;
}

/* The largest value that falls into bucket i. */
static uint64_t hist_upper(unsigned i) {
  if (i < 2u * LP_HIST_SUB) return i;
  unsigned shift = i / LP_HIST_SUB - 1u;
  uint64_t mant = (uint64_t)(i % LP_HIST_SUB) + LP_HIST_SUB;
  return (mant << shift) + ((uint64_t)1 << shift) - 1u;
}

void lp_hist_reset(lp_hist *h) {
  memset(h, 0, sizeof *h);
  h->min = UINT64_MAX;
}

void lp_hist_record(lp_hist *h, uint64_t v) {
  h->bucket[hist_index(v)]++;
  h->count++;
  h->sum += (double)v;
  if (v < h->min) h->min = v;
  if (v > h->max) h->max = v;
}

void lp_hist_merge(lp_hist *dst, const lp_hist *src) {
  if (src->count == 0) return;
  for (unsigned i = 0; i < LP_HIST_BUCKETS; i++) dst->bucket[i] += src->bucket[i];
  dst->count += src->count;
  dst->sum += src->sum;
  if (src->min < dst->min) dst->min = src->min;
  if (src->max > dst->max) dst->max = src->max;
}

uint64_t lp_hist_quantile(const lp_hist *h, double q) {
  if (h->count == 0) return 0;
  if (q <= 0) return h->min;
  if (q >= 1) return h->max;
  uint64_t rank = (uint64_t)ceil(q * (double)h->count);
  if (rank < 1) rank = 1;
  uint64_t seen = 0;
  for (unsigned i = 0; i < LP_HIST_BUCKETS; i++) {
    seen += h->bucket[i];
    if (seen >= rank) {
      uint64_t v = hist_upper(i);
      if (v > h->max) v = h->max;
      if (v < h->min) v = h->min;
      return v;
    }
  }
  return h->max;
}

double lp_hist_mean(const lp_hist *h) { return h->count ? h->sum / (double)h->count : 0.0; }
