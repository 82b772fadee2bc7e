/*
 * ann_data.h: data sets and the brute-force reference of the HNSW tests (header-only, static functions).
 * Random: gaussian vectors; clustered: gaussian blobs around random centres. Recall@k counts a hit as
 * right when its true distance is within the k-th exact distance (+1e-5), so that ties in the data never
 * count against the index.
 */
#ifndef LP_TEST_ANN_DATA_H
#define LP_TEST_ANN_DATA_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ann/hnsw.h"

static inline uint64_t td_next(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static inline double td_unif(uint64_t *s) {
  return (double)((td_next(s) >> 11) + 1) * 0x1.0p-53;
}

static inline float td_gauss(uint64_t *s) {
  return (float)(sqrt(-2.0 * log(td_unif(s))) * cos(6.283185307179586 * td_unif(s)));
}

static inline float *td_random(size_t n, uint32_t dim, uint64_t seed) {
  float *v = malloc(n * dim * sizeof *v);
  for (size_t i = 0; i < n * dim; i++) v[i] = td_gauss(&seed);
  return v;
}

static inline float *td_clustered(size_t n, uint32_t dim, uint32_t clusters, float spread, uint64_t seed) {
  float *c = td_random(clusters, dim, seed ^ 0xC1u);
  float *v = malloc(n * dim * sizeof *v);
  for (size_t i = 0; i < n; i++) {
    size_t k = td_next(&seed) % clusters;
    for (uint32_t j = 0; j < dim; j++) v[i * dim + j] = c[k * dim + j] + spread * td_gauss(&seed);
  }
  free(c);
  return v;
}

/* Distance as the index computes it (cosine on normalised copies, or squared L2), in double. */
static inline double td_dist(const float *a, const float *b, uint32_t dim, lp_hnsw_metric metric) {
  double d = 0, na = 0, nb = 0, dot = 0;
  for (uint32_t i = 0; i < dim; i++) {
    double x = a[i] - b[i];
    d += x * x;
    dot += (double)a[i] * b[i];
    na += (double)a[i] * a[i];
    nb += (double)b[i] * b[i];
  }
  return metric == LP_HNSW_COSINE ? 1.0 - dot / sqrt(na * nb) : d;
}

/* The k-th smallest exact distance from q to the rows of base whose flag in skip (may be NULL) is 0. */
static inline double td_kth(const float *base, size_t n, const unsigned char *skip, const float *q, uint32_t dim,
                            size_t k, lp_hnsw_metric metric) {
  double *best = malloc(k * sizeof *best);
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    if (skip && skip[i]) continue;
    double d = td_dist(base + i * dim, q, dim, metric);
    if (m < k) {
      size_t j = m++;
      while (j > 0 && best[j - 1] > d) { best[j] = best[j - 1]; j--; }
      best[j] = d;
    } else if (d < best[k - 1]) {
      size_t j = k - 1;
      while (j > 0 && best[j - 1] > d) { best[j] = best[j - 1]; j--; }
      best[j] = d;
    }
  }
  double r = m ? best[m - 1] : INFINITY;
  free(best);
  return r;
}

/* Recall@k of the index over nq queries; labels are row numbers of base. Asserts nothing: returns the
 * share of right hits, and sets *bad_label when a hit names a skipped (deleted) or unknown row. */
static inline double td_recall(lp_hnsw *h, const float *base, size_t n, const unsigned char *skip,
                               const float *queries, size_t nq, uint32_t dim, size_t k, size_t ef,
                               lp_hnsw_metric metric, int *bad_label) {
  lp_hnsw_hit *hits = malloc(k * sizeof *hits);
  size_t right = 0, want = 0;
  char err[256];
  for (size_t qi = 0; qi < nq; qi++) {
    const float *q = queries + qi * dim;
    double kth = td_kth(base, n, skip, q, dim, k, metric);
    size_t got = 0;
    if (lp_hnsw_search(h, q, dim, k, ef, hits, &got, err, sizeof err) != 0) *bad_label = 1;
    size_t live = 0;
    for (size_t i = 0; i < n; i++) live += !(skip && skip[i]);
    want += live < k ? live : k;
    for (size_t j = 0; j < got; j++) {
      if (hits[j].label >= n || (skip && skip[hits[j].label])) {
        *bad_label = 1;
        continue;
      }
      if (td_dist(base + hits[j].label * dim, q, dim, metric) <= kth + 1e-5) right++;
    }
  }
  free(hits);
  return want ? (double)right / (double)want : 1.0;
}

static inline lp_hnsw *td_build(const float *v, size_t n, uint32_t dim, lp_hnsw_metric metric, uint32_t m,
                                uint32_t efc, uint64_t seed) {
  lp_hnsw_opts o = { .dim = dim, .metric = metric, .m = m, .ef_construction = efc, .ef_search = 64, .seed = seed };
  lp_hnsw *h = NULL;
  char err[256];
  if (lp_hnsw_new(&h, &o, err, sizeof err) != 0) return NULL;
  for (size_t i = 0; i < n; i++)
    if (lp_hnsw_add(h, i, v + i * dim, dim, err, sizeof err) != 0) {
      lp_hnsw_free(h);
      return NULL;
    }
  return h;
}

#endif
