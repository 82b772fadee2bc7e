/*
 * A top-k shared by several shard indexes (lp_index_topk_into): on random corpora split over shards, with
 * statistics summed by lp_index_collstats_add, the shared-threshold answer must equal merging each shard's
 * own top-k (WAND and exhaustive) by (score desc, shard, doc): same hits, same order, same scores. Ties
 * across shards are made on purpose (identical docs in every shard).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/index.h"

#define MAXS 8
#define MAXQ 6

static uint64_t rnd(uint64_t *s) {  /* splitmix64 */
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static char names[400][16];

static lp_index_term term(uint32_t id, double w) {
  return (lp_index_term){ names[id], strlen(names[id]), w };
}

/* A word id, skewed towards small ids so that some terms are in most docs. */
static uint32_t word(uint64_t *s, uint32_t vocab) {
  uint64_t a = rnd(s) % vocab, b = rnd(s) % vocab;
  return (uint32_t)(a < b ? a : b);
}

static int hit_cmp(const void *a, const void *b) {
  const lp_index_hit *x = a, *y = b;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  if (x->shard != y->shard) return x->shard < y->shard ? -1 : 1;
  return x->doc < y->doc ? -1 : (x->doc > y->doc);
}

static void fill(lp_index **ix, uint32_t ns, uint32_t docs, uint32_t vocab, uint64_t *s, int idf) {
  lp_index_params p;
  lp_index_params_default(&p);
  p.mem_postings = 500;
  p.idf = idf;
  char err[128];
  for (uint32_t i = 0; i < ns; i++) cr_assert_eq(lp_index_new(&ix[i], &p, err, sizeof err), LP_OK, "%s", err);
  lp_index_term t[24];
  for (uint32_t d = 0; d < docs; d++) {
    uint32_t n = 1 + (uint32_t)(rnd(s) % 24);
    for (uint32_t j = 0; j < n; j++) t[j] = term(word(s, vocab), 1.0 + (double)(rnd(s) % 4));
    if (d % 50 == 0) {  /* the same doc in every shard: ties across shards */
      for (uint32_t i = 0; i < ns; i++) cr_assert_eq(lp_index_put(ix[i], d, t, n), LP_OK);
      continue;
    }
    cr_assert_eq(lp_index_put(ix[rnd(s) % ns], d, t, n), LP_OK);
  }
  for (uint32_t i = 0; i < ns; i++) {  /* some shards compacted, some half-merged, some not at all */
    int more = 1;
    for (int r = 0; r < (int)(i % 3) * 20 && more; r++) cr_assert_eq(lp_index_step(ix[i], 300, &more), LP_OK);
  }
  for (uint32_t d = 0; d < docs; d += 7)
    for (uint32_t i = 0; i < ns; i++) lp_index_delete(ix[i], d);  /* LP_ENOENT where absent */
}

static void check(lp_index **ix, uint32_t ns, const lp_index_term *q, size_t nq, size_t k) {
  uint64_t n_docs = 0, df[MAXQ] = { 0 };
  double sum_dl = 0;
  for (uint32_t i = 0; i < ns; i++) lp_index_collstats_add(ix[i], q, nq, &n_docs, &sum_dl, df);
  uint64_t want_n = 0;
  for (uint32_t i = 0; i < ns; i++) {
    lp_index_stats st;
    lp_index_stats_get(ix[i], &st);
    want_n += st.docs;
  }
  cr_assert_eq(n_docs, want_n);
  for (size_t j = 0; j < nq; j++) {
    uint64_t d = 0;
    for (uint32_t i = 0; i < ns; i++) d += lp_index_df(ix[i], q[j].ptr, q[j].len);
    cr_assert_eq(df[j], d);
  }
  lp_index_collstats cs = { n_docs, sum_dl / (double)n_docs, df };

  lp_index_hit shared[64], merged[MAXS * 64], merged_ex[MAXS * 64], one[64];
  lp_index_heap h;
  lp_index_heap_init(&h, shared, k);
  size_t nm = 0, nme = 0, n1;
  for (uint32_t i = 0; i < ns; i++) {
    cr_assert_eq(lp_index_topk_into(ix[i], q, nq, &cs, i, &h), LP_OK, "%s", lp_index_errstr(ix[i]));
    cr_assert_eq(lp_index_topk(ix[i], q, nq, &cs, k, one, &n1), LP_OK);
    for (size_t j = 0; j < n1; j++) merged[nm] = one[j], merged[nm++].shard = i;
    cr_assert_eq(lp_index_topk_exhaustive(ix[i], q, nq, &cs, k, one, &n1), LP_OK);
    for (size_t j = 0; j < n1; j++) merged_ex[nme] = one[j], merged_ex[nme++].shard = i;
  }
  size_t ns_hits = lp_index_heap_finish(&h);
  qsort(merged, nm, sizeof *merged, hit_cmp);
  qsort(merged_ex, nme, sizeof *merged_ex, hit_cmp);
  if (nm > k) nm = k;
  if (nme > k) nme = k;
  cr_assert_eq(ns_hits, nm, "shared: %zu hits, merged %zu", ns_hits, nm);
  cr_assert_eq(nm, nme);
  for (size_t j = 0; j < nm; j++) {
    cr_assert(shared[j].shard == merged[j].shard && shared[j].doc == merged[j].doc,
              "rank %zu: shared %u/%u (%.17g), merged %u/%u (%.17g)", j, shared[j].shard, shared[j].doc,
              shared[j].score, merged[j].shard, merged[j].doc, merged[j].score);
    cr_assert_eq(shared[j].score, merged[j].score);
    cr_assert(merged_ex[j].shard == merged[j].shard && merged_ex[j].doc == merged[j].doc);
    cr_assert(fabs(merged_ex[j].score - merged[j].score) <= 1e-9);
  }
}

static void run(uint64_t seed, uint32_t ns, uint32_t docs, uint32_t vocab, int idf) {
  uint64_t s = seed;
  lp_index *ix[MAXS];
  fill(ix, ns, docs, vocab, &s, idf);
  static const size_t ks[] = { 1, 5, 25, 64 };
  for (int qi = 0; qi < 150; qi++) {
    lp_index_term q[MAXQ];
    size_t nq = 1 + rnd(&s) % MAXQ;
    for (size_t j = 0; j < nq; j++) q[j] = term(rnd(&s) % 12 == 0 ? vocab + (uint32_t)(rnd(&s) % 5) : word(&s, vocab),
                                                 0.5 + (double)(rnd(&s) % 3));
    check(ix, ns, q, nq, ks[qi % 4]);
  }
  for (uint32_t i = 0; i < ns; i++) lp_index_free(ix[i]);
}

static void init_names(void) {
  for (int i = 0; i < 400; i++) snprintf(names[i], sizeof names[i], "w%d", i);
}

Test(index_shared, four_shards, .init = init_names, .timeout = 120) { run(11, 4, 1200, 300, LP_INDEX_IDF_ROBERTSON); }
Test(index_shared, eight_small_shards, .init = init_names, .timeout = 120) { run(12, 8, 300, 60, LP_INDEX_IDF_ROBERTSON); }
Test(index_shared, lucene_idf, .init = init_names, .timeout = 120) { run(13, 3, 900, 200, LP_INDEX_IDF_LUCENE); }
Test(index_shared, one_shard, .init = init_names, .timeout = 120) { run(14, 1, 800, 150, LP_INDEX_IDF_ROBERTSON); }

Test(index_shared, errors, .init = init_names) {
  lp_index *ix = NULL;
  char err[64];
  cr_assert_eq(lp_index_new(&ix, NULL, err, sizeof err), LP_OK);
  lp_index_term q[] = { term(1, 1) };
  cr_assert_eq(lp_index_put(ix, 0, q, 1), LP_OK);
  lp_index_hit room[4];
  lp_index_heap h;
  cr_assert_eq(lp_index_topk_into(ix, q, 1, NULL, 0, NULL), LP_EINVAL);
  lp_index_heap_init(&h, NULL, 4);
  cr_assert_eq(lp_index_topk_into(ix, q, 1, NULL, 0, &h), LP_EINVAL);
  lp_index_heap_init(&h, room, 0);
  cr_assert_eq(lp_index_topk_into(ix, q, 1, NULL, 0, &h), LP_EINVAL);
  cr_assert_neq(strstr(lp_index_errstr(ix), "k must be"), NULL);
  lp_index_heap_init(&h, room, 4);
  cr_assert_eq(lp_index_topk_into(ix, q, 1, NULL, 3, &h), LP_OK);
  cr_assert_eq(lp_index_heap_finish(&h), 1);
  cr_assert_eq(room[0].shard, 3);
  cr_assert_eq(room[0].doc, 0);
  lp_index_free(ix);
}
