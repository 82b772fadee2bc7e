/*
 * Checkpoints of the HNSW index (lp_hnsw_save / lp_hnsw_load): a round trip answers and grows exactly as
 * the original (tombstones and a running repair sweep included); every truncation, a flipped byte, a bad
 * magic, version or trailing bytes, and a consistent checksum over inconsistent content are refused.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "ann/ann_data.h"
#include "ann/hnsw.h"

static void assert_same_answers(lp_hnsw *a, lp_hnsw *b, const float *q, size_t nq, uint32_t dim) {
  lp_hnsw_hit ha[10], hb[10];
  size_t na, nb;
  char err[256];
  for (size_t i = 0; i < nq; i++) {
    cr_assert_eq(lp_hnsw_search(a, q + i * dim, dim, 10, 0, ha, &na, err, sizeof err), 0, "%s", err);
    cr_assert_eq(lp_hnsw_search(b, q + i * dim, dim, 10, 0, hb, &nb, err, sizeof err), 0, "%s", err);
    cr_assert_eq(na, nb);
    for (size_t j = 0; j < na; j++) {
      cr_assert_eq(ha[j].label, hb[j].label, "query %zu hit %zu", i, j);
      cr_assert_eq(memcmp(&ha[j].distance, &hb[j].distance, sizeof(float)), 0);
    }
  }
}

static void assert_same_blob(lp_hnsw *a, lp_hnsw *b) {
  uint8_t *ba, *bb;
  size_t la, lb;
  cr_assert_eq(lp_hnsw_save(a, &ba, &la), 0);
  cr_assert_eq(lp_hnsw_save(b, &bb, &lb), 0);
  cr_assert_eq(la, lb);
  cr_assert_eq(memcmp(ba, bb, la), 0);
  free(ba);
  free(bb);
}

Test(ann_hnsw_io, round_trip_identical) {
  const uint32_t dim = 24, n = 3000;
  float *v = td_clustered(n + 200, dim, 30, 1.0f, 21);
  lp_hnsw *a = td_build(v, n, dim, LP_HNSW_COSINE, 12, 100, 5);
  cr_assert_not_null(a);
  for (uint32_t i = 0; i < n; i += 7) cr_assert_eq(lp_hnsw_delete(a, i), 0);
  cr_assert_gt(lp_hnsw_repair(a, 1000), 0, "a sweep is left half done");
  for (uint32_t i = 1; i < n; i += 11) lp_hnsw_delete(a, i);

  uint8_t *blob;
  size_t len;
  cr_assert_eq(lp_hnsw_save(a, &blob, &len), 0);
  lp_hnsw *b = NULL;
  char err[256] = "";
  cr_assert_eq(lp_hnsw_load(blob, len, &b, err, sizeof err), 0, "%s", err);
  free(blob);
  lp_hnsw_stats sa, sb;
  lp_hnsw_stats_get(a, &sa);
  lp_hnsw_stats_get(b, &sb);
  cr_assert_eq(sa.live, sb.live);
  cr_assert_eq(sa.deleted, sb.deleted);
  cr_assert_eq(sa.max_level, sb.max_level);
  cr_assert_eq(lp_hnsw_dim(b), dim);
  assert_same_blob(a, b);
  assert_same_answers(a, b, v + n * dim, 100, dim);

  /* Both go on the same way: the rest of the sweep, more inserts (recycled slots, same levels). */
  while (lp_hnsw_repair(a, 700) > 0) {}
  while (lp_hnsw_repair(b, 700) > 0) {}
  for (uint32_t i = n; i < n + 100; i++) {
    cr_assert_eq(lp_hnsw_add(a, i, v + i * dim, dim, err, sizeof err), 0, "%s", err);
    cr_assert_eq(lp_hnsw_add(b, i, v + i * dim, dim, err, sizeof err), 0, "%s", err);
  }
  assert_same_blob(a, b);
  assert_same_answers(a, b, v + n * dim, 100, dim);
  lp_hnsw_free(a);
  lp_hnsw_free(b);
  free(v);
}

Test(ann_hnsw_io, empty_round_trip) {
  lp_hnsw_opts o = { .dim = 3, .metric = LP_HNSW_L2, .m = 5, .ef_construction = 33, .ef_search = 17, .seed = 8 };
  lp_hnsw *a = NULL, *b = NULL;
  char err[256];
  cr_assert_eq(lp_hnsw_new(&a, &o, err, sizeof err), 0);
  uint8_t *blob;
  size_t len;
  cr_assert_eq(lp_hnsw_save(a, &blob, &len), 0);
  cr_assert_eq(lp_hnsw_load(blob, len, &b, err, sizeof err), 0, "%s", err);
  float q[3] = { 1, 2, 3 };
  lp_hnsw_hit hit[1];
  size_t got = 5;
  cr_assert_eq(lp_hnsw_search(b, q, 3, 1, 0, hit, &got, err, sizeof err), 0);
  cr_assert_eq(got, 0);
  cr_assert_eq(lp_hnsw_add(b, 1, q, 3, err, sizeof err), 0, "%s", err);
  cr_assert_eq(lp_hnsw_add(a, 1, q, 3, err, sizeof err), 0, "%s", err);
  assert_same_blob(a, b);
  free(blob);
  lp_hnsw_free(a);
  lp_hnsw_free(b);
}

static uint8_t *small_blob(size_t *len) {
  float *v = td_random(60, 8, 31);
  lp_hnsw *h = td_build(v, 60, 8, LP_HNSW_COSINE, 4, 20, 1);
  cr_assert_not_null(h);
  lp_hnsw_delete(h, 3);
  uint8_t *blob;
  cr_assert_eq(lp_hnsw_save(h, &blob, len), 0);
  lp_hnsw_free(h);
  free(v);
  return blob;
}

static void expect_refused(const uint8_t *blob, size_t len, const char *why) {
  lp_hnsw *h = (lp_hnsw *)blob; /* must stay untouched */
  char err[256] = "";
  cr_assert_eq(lp_hnsw_load(blob, len, &h, err, sizeof err), LP_EINVAL, "len %zu: accepted", len);
  cr_assert_eq((const void *)h, (const void *)blob);
  cr_assert(strstr(err, why), "len %zu: '%s' does not say '%s'", len, err, why);
}

Test(ann_hnsw_io, truncated) {
  size_t len;
  uint8_t *blob = small_blob(&len);
  for (size_t cut = 0; cut < len; cut++) expect_refused(blob, cut, "truncated");
  lp_hnsw *h = NULL;
  char err[256];
  cr_assert_eq(lp_hnsw_load(blob, len, &h, err, sizeof err), 0, "%s", err);
  lp_hnsw_free(h);
  free(blob);
}

Test(ann_hnsw_io, corrupt) {
  size_t len;
  uint8_t *blob = small_blob(&len);
  uint8_t *c = malloc(len + 1);
  /* a flipped byte anywhere after the length field, the checksum itself included */
  for (size_t at = 20; at < len; at += 13) {
    memcpy(c, blob, len);
    c[at] ^= 0x5A;
    expect_refused(c, len, "checksum mismatch");
  }
  memcpy(c, blob, len);
  c[len - 1] ^= 1;
  expect_refused(c, len, "checksum mismatch");
  memcpy(c, blob, len);
  c[0] = 'X';
  expect_refused(c, len, "bad magic");
  memcpy(c, blob, len);
  c[8] = 2;
  expect_refused(c, len, "unsupported version 2");
  memcpy(c, blob, len);
  c[len] = 0;
  expect_refused(c, len + 1, "after the end");
  expect_refused(NULL, 0, "no data");
  free(c);
  free(blob);
}

/* Content that a buggy writer could produce, with a checksum that matches it. */
static void expect_inconsistent(const uint8_t *blob, size_t len, size_t at, uint32_t value, int bytes,
                                const char *why) {
  uint8_t *c = malloc(len);
  memcpy(c, blob, len);
  for (int i = 0; i < bytes; i++) c[at + i] = (uint8_t)(value >> (8 * i));
  uint64_t sum = XXH3_64bits(c, len - 8);
  for (int i = 0; i < 8; i++) c[len - 8 + i] = (uint8_t)(sum >> (8 * i));
  expect_refused(c, len, why);
  free(c);
}

Test(ann_hnsw_io, inconsistent_content) {
  size_t len;
  uint8_t *blob = small_blob(&len);
  /* header: magic 8, version 4, total 8, then dim @20, metric @24, m @28, efc @32, efs @36, rng @40,
   * n @48, entry @52, max_level @56, live @60, deleted @64, free @68, sweep @72, cursor @76; node 0 @80 */
  expect_inconsistent(blob, len, 20, 0, 4, "dim");
  expect_inconsistent(blob, len, 24, 9, 4, "metric");
  expect_inconsistent(blob, len, 28, 0, 4, "m and ef");
  expect_inconsistent(blob, len, 52, 100000, 4, "entry point");
  expect_inconsistent(blob, len, 60, 7, 4, "counts disagree");
  expect_inconsistent(blob, len, 72, 5, 4, "sweep");
  expect_inconsistent(blob, len, 48, 1u << 29, 4, "nodes, at most");
  /* node 0: label @80, state @88, level @89, 8 floats @90, level-0 count @122, first link @126 */
  expect_inconsistent(blob, len, 88, 9, 1, "bad state");
  expect_inconsistent(blob, len, 90, 0x7FC00000u, 4, "not finite");
  expect_inconsistent(blob, len, 122, 99, 4, "links, at most");
  expect_inconsistent(blob, len, 126, 5000, 4, "not a node");
  expect_inconsistent(blob, len, 126, 0, 4, "not a node");
  free(blob);
}
