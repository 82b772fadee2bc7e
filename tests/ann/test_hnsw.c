/*
 * The HNSW index (core/ann/hnsw.h): recall@10 against brute force on random and clustered data, inserts
 * after searches, deletes (never returned, recall kept before and after the repair, slots recycled),
 * determinism, and every error path. Fixed seeds throughout.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ann/ann_data.h"
#include "ann/hnsw.h"

#define N 10000
#define NQ 100
#define K 10

/* v holds n + NQ rows: the first n go into the index, the last NQ (held out) are the queries. */
static void check_recall(const float *v, size_t n, uint32_t dim, lp_hnsw_metric metric, size_t ef, double min,
                         const char *what) {
  lp_hnsw *h = td_build(v, n, dim, metric, 16, 200, 42);
  cr_assert_not_null(h);
  const float *q = v + n * dim;
  int bad = 0;
  double r = td_recall(h, v, n, NULL, q, NQ, dim, K, ef, metric, &bad);
  cr_assert_eq(bad, 0, "%s: a search failed or returned an unknown label", what);
  cr_assert(r >= min, "%s: recall@10 %.4f < %.2f", what, r, min);
  lp_hnsw_free(h);
}

Test(ann_hnsw, recall_random) {
  float *v = td_random(N + NQ, 32, 1);
  check_recall(v, N, 32, LP_HNSW_COSINE, 64, 0.95, "random cosine");
  free(v);
}

Test(ann_hnsw, recall_clustered) {
  float *v = td_clustered(N + NQ, 64, 100, 1.2f, 2);
  check_recall(v, N, 64, LP_HNSW_COSINE, 64, 0.95, "clustered cosine");
  free(v);
}

Test(ann_hnsw, recall_l2) {
  float *v = td_clustered(N + NQ, 24, 50, 1.2f, 3);
  check_recall(v, N, 24, LP_HNSW_L2, 64, 0.95, "clustered L2");
  free(v);
}

/* Half the vectors, searches, then the other half: the graph grows while it serves, and every vector
 * finds itself first. */
Test(ann_hnsw, inserts_after_searches) {
  const uint32_t dim = 32;
  float *v = td_clustered(N + NQ, dim, 80, 1.2f, 4), *q = v + N * dim;
  lp_hnsw *h = td_build(v, N / 2, dim, LP_HNSW_COSINE, 16, 200, 7);
  cr_assert_not_null(h);
  int bad = 0;
  cr_assert(td_recall(h, v, N / 2, NULL, q, NQ, dim, K, 64, LP_HNSW_COSINE, &bad) >= 0.95);
  char err[256];
  for (size_t i = N / 2; i < N; i++) cr_assert_eq(lp_hnsw_add(h, i, v + i * dim, dim, err, sizeof err), 0, "%s", err);
  double r = td_recall(h, v, N, NULL, q, NQ, dim, K, 64, LP_HNSW_COSINE, &bad);
  cr_assert_eq(bad, 0);
  cr_assert(r >= 0.95, "recall after more inserts %.4f", r);
  lp_hnsw_hit hit[1];
  size_t got = 0;
  for (size_t i = N / 2; i < N; i += 97) {
    cr_assert_eq(lp_hnsw_search(h, v + i * dim, dim, 1, 0, hit, &got, err, sizeof err), 0);
    cr_assert_eq(got, 1);
    cr_assert(hit[0].distance < 1e-5f, "vector %zu: nearest at %g", i, hit[0].distance);
  }
  lp_hnsw_free(h);
  free(v);
}

/* 20 % deleted: searches never return them and keep their recall over the live set, before the repair,
 * after a repair in small steps, and after new inserts that reuse the recycled slots. */
Test(ann_hnsw, deletes_keep_recall) {
  const uint32_t dim = 32;
  float *v = td_clustered(N + NQ, dim, 100, 1.2f, 8), *q = v + N * dim;
  lp_hnsw *h = td_build(v, N, dim, LP_HNSW_COSINE, 16, 200, 10);
  cr_assert_not_null(h);
  unsigned char *skip = calloc(N, 1);
  uint64_t s = 11;
  size_t ndel = 0;
  for (size_t i = 0; i < N; i++)
    if (td_next(&s) % 5 == 0) {
      cr_assert_eq(lp_hnsw_delete(h, i), 0);
      cr_assert(!lp_hnsw_contains(h, i));
      skip[i] = 1;
      ndel++;
    }
  lp_hnsw_stats st;
  lp_hnsw_stats_get(h, &st);
  cr_assert_eq(st.live, N - ndel);
  cr_assert_eq(st.deleted, ndel);
  int bad = 0;
  double r = td_recall(h, v, N, skip, q, NQ, dim, K, 64, LP_HNSW_COSINE, &bad);
  cr_assert_eq(bad, 0, "a deleted vector was returned");
  cr_assert(r >= 0.95, "recall with tombstones %.4f", r);

  int left, steps = 0;
  while ((left = lp_hnsw_repair(h, 500)) > 0) {
    steps++;
    if (steps == 3) { /* searches between steps see a consistent graph */
      r = td_recall(h, v, N, skip, q, 20, dim, K, 64, LP_HNSW_COSINE, &bad);
      cr_assert_eq(bad, 0);
    }
  }
  cr_assert_eq(left, 0);
  cr_assert(steps >= N / 500 - 1, "repair ran in %d steps", steps);
  lp_hnsw_stats_get(h, &st);
  cr_assert_eq(st.deleted, 0);
  cr_assert_eq(st.free_slots, ndel);
  r = td_recall(h, v, N, skip, q, NQ, dim, K, 64, LP_HNSW_COSINE, &bad);
  cr_assert_eq(bad, 0);
  cr_assert(r >= 0.95, "recall after the repair %.4f", r);

  /* Re-insert the deleted rows under their labels: the recycled slots serve them. */
  char err[256];
  for (size_t i = 0; i < N; i++)
    if (skip[i]) {
      cr_assert_eq(lp_hnsw_add(h, i, v + i * dim, dim, err, sizeof err), 0, "%s", err);
      skip[i] = 0;
    }
  lp_hnsw_stats_get(h, &st);
  cr_assert_eq(st.free_slots, 0);
  cr_assert_eq(st.live, N);
  r = td_recall(h, v, N, NULL, q, NQ, dim, K, 64, LP_HNSW_COSINE, &bad);
  cr_assert_eq(bad, 0);
  cr_assert(r >= 0.95, "recall after re-inserts %.4f", r);
  lp_hnsw_free(h);
  free(skip);
  free(v);
}

/* Deletes while a sweep runs stay tombstones until the next sweep; the entry point may go. */
Test(ann_hnsw, delete_all_and_during_repair) {
  const uint32_t dim = 16, n = 2000;
  float *v = td_random(n, dim, 12);
  lp_hnsw *h = td_build(v, n, dim, LP_HNSW_COSINE, 8, 100, 13);
  cr_assert_not_null(h);
  for (uint32_t i = 0; i < n / 2; i++) cr_assert_eq(lp_hnsw_delete(h, i), 0);
  cr_assert_gt(lp_hnsw_repair(h, 100), 0);
  for (uint32_t i = n / 2; i < n; i++) cr_assert_eq(lp_hnsw_delete(h, i), 0);
  lp_hnsw_hit hit[5];
  size_t got = 7;
  char err[256];
  cr_assert_eq(lp_hnsw_search(h, v, dim, 5, 0, hit, &got, err, sizeof err), 0);
  cr_assert_eq(got, 0, "every vector is deleted, %zu hits", got);
  int left;
  while ((left = lp_hnsw_repair(h, 300)) > 0) {}
  cr_assert_eq(left, 0);
  lp_hnsw_stats st;
  lp_hnsw_stats_get(h, &st);
  cr_assert_eq(st.live, 0);
  cr_assert_eq(st.deleted, 0);
  cr_assert_eq(st.free_slots, n);
  cr_assert_eq(lp_hnsw_add(h, 5, v + 5 * dim, dim, err, sizeof err), 0, "%s", err);
  cr_assert_eq(lp_hnsw_search(h, v + 5 * dim, dim, 5, 0, hit, &got, err, sizeof err), 0);
  cr_assert_eq(got, 1);
  cr_assert_eq(hit[0].label, 5);
  cr_assert_eq(lp_hnsw_repair(h, 10), 0, "nothing to repair");
  lp_hnsw_free(h);
  free(v);
}

/* The same inserts with the same seed build the same index, byte for byte. */
Test(ann_hnsw, deterministic) {
  const uint32_t dim = 16, n = 3000;
  float *v = td_clustered(n, dim, 20, 0.3f, 14);
  lp_hnsw *a = td_build(v, n, dim, LP_HNSW_COSINE, 12, 100, 99), *b = td_build(v, n, dim, LP_HNSW_COSINE, 12, 100, 99);
  uint8_t *ba, *bb;
  size_t la, lb;
  cr_assert_eq(lp_hnsw_save(a, &ba, &la), 0);
  cr_assert_eq(lp_hnsw_save(b, &bb, &lb), 0);
  cr_assert_eq(la, lb);
  cr_assert_eq(memcmp(ba, bb, la), 0);
  free(ba);
  free(bb);
  lp_hnsw_free(a);
  lp_hnsw_free(b);
  free(v);
}

Test(ann_hnsw, results_sorted_and_k_above_live) {
  const uint32_t dim = 8;
  float *v = td_random(30, dim, 15);
  lp_hnsw *h = td_build(v, 30, dim, LP_HNSW_L2, 4, 50, 1);
  lp_hnsw_hit hit[50];
  size_t got = 0;
  char err[256];
  cr_assert_eq(lp_hnsw_search(h, v, dim, 50, 0, hit, &got, err, sizeof err), 0, "%s", err);
  cr_assert_eq(got, 30);
  cr_assert_eq(hit[0].label, 0);
  for (size_t i = 1; i < got; i++) cr_assert(hit[i - 1].distance <= hit[i].distance);
  lp_hnsw_free(h);
  free(v);
}

Test(ann_hnsw, empty_index) {
  lp_hnsw_opts o = { .dim = 4 };
  lp_hnsw *h = NULL;
  char err[256];
  cr_assert_eq(lp_hnsw_new(&h, &o, err, sizeof err), 0, "%s", err);
  float q[4] = { 1, 2, 3, 4 };
  lp_hnsw_hit hit[3];
  size_t got = 9;
  cr_assert_eq(lp_hnsw_search(h, q, 4, 3, 0, hit, &got, err, sizeof err), 0);
  cr_assert_eq(got, 0);
  cr_assert_eq(lp_hnsw_repair(h, 10), 0);
  cr_assert_eq(lp_hnsw_delete(h, 1), LP_ENOENT);
  lp_hnsw_stats st;
  lp_hnsw_stats_get(h, &st);
  cr_assert_eq(st.live, 0);
  cr_assert_gt(st.bytes, 0);
  cr_assert_eq(lp_hnsw_dim(h), 4);
  lp_hnsw_free(h);
}

Test(ann_hnsw, bad_options) {
  lp_hnsw *h = NULL;
  char err[256] = "";
  lp_hnsw_opts o = { .dim = 0 };
  cr_assert_eq(lp_hnsw_new(&h, &o, err, sizeof err), LP_EINVAL);
  cr_assert(strstr(err, "dim"), "%s", err);
  cr_assert_eq(lp_hnsw_new(&h, NULL, err, sizeof err), LP_EINVAL);
  o = (lp_hnsw_opts){ .dim = LP_HNSW_MAX_DIM + 1 };
  cr_assert_eq(lp_hnsw_new(&h, &o, err, sizeof err), LP_EINVAL);
  o = (lp_hnsw_opts){ .dim = 8, .m = 1 };
  cr_assert_eq(lp_hnsw_new(&h, &o, err, sizeof err), LP_EINVAL);
  cr_assert(strstr(err, "m must be"), "%s", err);
  o = (lp_hnsw_opts){ .dim = 8, .m = LP_HNSW_MAX_M + 1 };
  cr_assert_eq(lp_hnsw_new(&h, &o, err, sizeof err), LP_EINVAL);
  o = (lp_hnsw_opts){ .dim = 8, .ef_search = LP_HNSW_MAX_EF + 1 };
  cr_assert_eq(lp_hnsw_new(&h, &o, err, sizeof err), LP_EINVAL);
  o = (lp_hnsw_opts){ .dim = 8, .metric = (lp_hnsw_metric)7 };
  cr_assert_eq(lp_hnsw_new(&h, &o, err, sizeof err), LP_EINVAL);
  cr_assert(strstr(err, "metric"), "%s", err);
  cr_assert_null(h);
  o = (lp_hnsw_opts){ .dim = 8, .m = 2, .metric = LP_HNSW_L2 };
  cr_assert_eq(lp_hnsw_new(&h, &o, err, sizeof err), 0, "%s", err);
  lp_hnsw_free(h);
}

Test(ann_hnsw, bad_inputs) {
  lp_hnsw_opts o = { .dim = 4 };
  lp_hnsw *h = NULL;
  char err[256] = "";
  cr_assert_eq(lp_hnsw_new(&h, &o, err, sizeof err), 0);
  float v[5] = { 1, 0, 0, 0, 0 }, zero[4] = { 0 }, nan4[4] = { 1, NAN, 0, 0 }, inf4[4] = { INFINITY, 0, 0, 0 };
  /* dimension mismatch, insert and search */
  cr_assert_eq(lp_hnsw_add(h, 1, v, 5, err, sizeof err), LP_EINVAL);
  cr_assert(strstr(err, "dimension 5"), "%s", err);
  cr_assert_eq(lp_hnsw_add(h, 1, v, 3, err, sizeof err), LP_EINVAL);
  cr_assert_eq(lp_hnsw_add(h, 1, v, 4, err, sizeof err), 0, "%s", err);
  lp_hnsw_hit hit[4];
  size_t got = 0;
  cr_assert_eq(lp_hnsw_search(h, v, 3, 1, 0, hit, &got, err, sizeof err), LP_EINVAL);
  cr_assert(strstr(err, "query has dimension 3"), "%s", err);
  /* not finite, zero under cosine */
  cr_assert_eq(lp_hnsw_add(h, 2, nan4, 4, err, sizeof err), LP_EINVAL);
  cr_assert(strstr(err, "not finite"), "%s", err);
  cr_assert_eq(lp_hnsw_add(h, 2, inf4, 4, err, sizeof err), LP_EINVAL);
  cr_assert_eq(lp_hnsw_add(h, 2, zero, 4, err, sizeof err), LP_EINVAL);
  cr_assert(strstr(err, "zero vector"), "%s", err);
  cr_assert_eq(lp_hnsw_search(h, zero, 4, 1, 0, hit, &got, err, sizeof err), LP_EINVAL);
  cr_assert_eq(lp_hnsw_search(h, nan4, 4, 1, 0, hit, &got, err, sizeof err), LP_EINVAL);
  /* k = 0, k or ef too large */
  cr_assert_eq(lp_hnsw_search(h, v, 4, 0, 0, hit, &got, err, sizeof err), LP_EINVAL);
  cr_assert(strstr(err, "k must be"), "%s", err);
  cr_assert_eq(lp_hnsw_search(h, v, 4, 1, LP_HNSW_MAX_EF + 1, hit, &got, err, sizeof err), LP_EINVAL);
  cr_assert_eq(lp_hnsw_search(h, v, 4, LP_HNSW_MAX_EF + 1, 0, hit, &got, err, sizeof err), LP_EINVAL);
  /* duplicate live label; a deleted label may come back */
  cr_assert_eq(lp_hnsw_add(h, 1, v, 4, err, sizeof err), LP_EEXIST);
  cr_assert(strstr(err, "label 1"), "%s", err);
  cr_assert_eq(lp_hnsw_delete(h, 1), 0);
  cr_assert_eq(lp_hnsw_delete(h, 1), LP_ENOENT);
  cr_assert_eq(lp_hnsw_add(h, 1, v, 4, err, sizeof err), 0, "%s", err);
  /* nothing above changed the index */
  lp_hnsw_stats st;
  lp_hnsw_stats_get(h, &st);
  cr_assert_eq(st.live, 1);
  cr_assert_eq(st.deleted, 1);
  cr_assert_eq(lp_hnsw_search(h, v, 4, 4, 0, hit, &got, err, sizeof err), 0);
  cr_assert_eq(got, 1);
  cr_assert_eq(hit[0].label, 1);
  lp_hnsw_free(h);
}

/* Many labels through the map: inserts, deletes and re-inserts keep contains() exact. */
Test(ann_hnsw, label_map) {
  const uint32_t dim = 4;
  lp_hnsw_opts o = { .dim = dim, .m = 4, .ef_construction = 16, .capacity = 1 };
  lp_hnsw *h = NULL;
  char err[256];
  cr_assert_eq(lp_hnsw_new(&h, &o, err, sizeof err), 0);
  uint64_t s = 3;
  for (uint64_t i = 0; i < 3000; i++) {
    float v[4] = { td_gauss(&s), td_gauss(&s), td_gauss(&s), td_gauss(&s) + 5 };
    cr_assert_eq(lp_hnsw_add(h, i * 0x9E3779B97F4A7C15ull, v, dim, err, sizeof err), 0, "%s", err);
  }
  for (uint64_t i = 0; i < 3000; i += 2) cr_assert_eq(lp_hnsw_delete(h, i * 0x9E3779B97F4A7C15ull), 0);
  for (uint64_t i = 0; i < 3000; i++) cr_assert_eq(lp_hnsw_contains(h, i * 0x9E3779B97F4A7C15ull), (int)(i & 1));
  lp_hnsw_free(h);
}
