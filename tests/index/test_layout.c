/*
 * The shard index's compact layout: long documents with duplicate terms (put()'s dedupe table and radix
 * sort), per-doc term lists with very uneven id gaps (the Rice coder's long unary runs), one-posting and
 * multi-block lists after compression, and block bounds under an avgdl far from the one a segment was
 * written with (the bound's rescaling). Each checked against df, the stats, or WAND = exhaustive.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "index/index.h"

static lp_index *mk(uint32_t mem_postings) {
  lp_index_params p;
  lp_index_params_default(&p);
  p.mem_postings = mem_postings;
  lp_index *ix = NULL;
  char err[128];
  cr_assert_eq(lp_index_new(&ix, &p, err, sizeof err), LP_OK, "%s", err);
  return ix;
}

static char names[4000][16];

static void name_init(void) {
  for (unsigned i = 0; i < 4000; i++) snprintf(names[i], sizeof names[i], "n%u", i);
}

static lp_index_term term(int i, double w) { return (lp_index_term){ names[i], strlen(names[i]), w }; }

static void compact(lp_index *ix) {
  int more = 1;
  while (more) cr_assert_eq(lp_index_step(ix, 1000, &more), LP_OK);
}

/* WAND and exhaustive agree (docs, order, scores) for q under the index's own and the given statistics. */
static void agree(lp_index *ix, const lp_index_term *q, size_t nq, const lp_index_collstats *cs, size_t k) {
  static lp_index_hit h[1200], e[1200];
  size_t nh = 0, ne = 0;
  cr_assert(k <= 1200);
  cr_assert_eq(lp_index_topk(ix, q, nq, cs, k, h, &nh), LP_OK, "%s", lp_index_errstr(ix));
  cr_assert_eq(lp_index_topk_exhaustive(ix, q, nq, cs, k, e, &ne), LP_OK);
  cr_assert_eq(nh, ne);
  for (size_t i = 0; i < nh; i++) {
    cr_assert_eq(h[i].doc, e[i].doc, "rank %zu: doc %u vs %u", i, h[i].doc, e[i].doc);
    cr_assert(fabs(h[i].score - e[i].score) <= 1e-9);
  }
}

Test(index_layout, long_doc_with_duplicates) {
  name_init();
  lp_index *ix = mk(65536);
  /* 600 terms: ids 0..299 in a scrambled order, each twice, weights summed in input order. */
  static lp_index_term t[600];
  double sum[300] = { 0 };
  for (int i = 0; i < 600; i++) {
    int id = (i * 7919) % 300;
    double w = 0.1 + (double)(i % 13) * 0.37;
    t[i] = term(id, w);
    sum[id] += w;
  }
  cr_assert_eq(lp_index_put(ix, 5, t, 600), LP_OK, "%s", lp_index_errstr(ix));
  lp_index_stats st;
  lp_index_stats_get(ix, &st);
  double dl = 0;
  for (int id = 0; id < 300; id++) dl += lp_index_tf_quantize(sum[id]);
  dl = (double)(float)dl;  /* doc lengths are kept as floats */
  cr_assert_eq(st.postings, 300);
  cr_assert_eq(st.terms, 300);
  cr_assert(fabs(st.sum_dl - dl) <= 1e-9 * dl, "%.17g vs %.17g", st.sum_dl, dl);
  for (int id = 0; id < 300; id++) cr_assert_eq(lp_index_df(ix, names[id], strlen(names[id])), 1);
  /* One doc: t = 0.5 / 1.5 < 2, so idf = ln(1 + t / 2) (the default, Robertson's with Xapian's floor); avgdl = dl. */
  lp_index_term q = term(17, 1.0);
  lp_index_hit h[1];
  size_t nh = 0;
  cr_assert_eq(lp_index_topk(ix, &q, 1, NULL, 1, h, &nh), LP_OK);
  double tf = lp_index_tf_quantize(sum[17]);
  double want = log(1.0 + 0.5 / 1.5 / 2) * tf * 2.2 / (tf + 1.2);
  cr_assert_eq(nh, 1);
  cr_assert_eq(h[0].doc, 5);
  cr_assert(fabs(h[0].score - want) <= 1e-12, "%.17g vs %.17g", h[0].score, want);
  compact(ix);
  cr_assert_eq(lp_index_topk(ix, &q, 1, NULL, 1, h, &nh), LP_OK);
  cr_assert(fabs(h[0].score - want) <= 1e-12);
  cr_assert_eq(lp_index_delete(ix, 5), LP_OK);
  for (int id = 0; id < 300; id++) cr_assert_eq(lp_index_df(ix, names[id], strlen(names[id])), 0);
  lp_index_free(ix);
}

Test(index_layout, uneven_term_id_gaps) {
  name_init();
  lp_index *ix = mk(65536);
  static lp_index_term t[3000];
  for (int i = 0; i < 3000; i++) t[i] = term(i, 1.0);
  cr_assert_eq(lp_index_put(ix, 1, t, 3000), LP_OK);  /* term ids 0..2999 */
  /* Doc 2: ids 0..99 then 2999: the last gap needs a unary quotient far past one 56-bit window. */
  lp_index_term d2[101];
  for (int i = 0; i < 100; i++) d2[i] = term(i, 2.0);
  d2[100] = term(2999, 2.0);
  cr_assert_eq(lp_index_put(ix, 2, d2, 101), LP_OK);
  cr_assert_eq(lp_index_delete(ix, 1), LP_OK);
  cr_assert_eq(lp_index_df(ix, names[2999], strlen(names[2999])), 1);
  cr_assert_eq(lp_index_df(ix, names[50], strlen(names[50])), 1);
  cr_assert_eq(lp_index_df(ix, names[1500], strlen(names[1500])), 0);
  /* Replace doc 2 (decodes its list to take its df back), then delete it. */
  lp_index_term d2b[2] = { term(3, 1.0), term(2999, 1.0) };
  cr_assert_eq(lp_index_put(ix, 2, d2b, 2), LP_OK);
  cr_assert_eq(lp_index_df(ix, names[50], strlen(names[50])), 0);
  cr_assert_eq(lp_index_df(ix, names[2999], strlen(names[2999])), 1);
  cr_assert_eq(lp_index_delete(ix, 2), LP_OK);
  lp_index_stats st;
  lp_index_stats_get(ix, &st);
  cr_assert_eq(st.terms, 0);
  cr_assert_eq(st.postings, 0);
  lp_index_free(ix);
}

/* 1000 docs share "n0" (8 blocks per segment); each has its own term (a one-posting list) and one of 40
 * mid terms; lengths vary widely so block bounds differ. Queries under the index's statistics and under
 * external ones whose avgdl is 10x above and 10x below the one the segments were written with. */
Test(index_layout, blocks_singletons_and_rescaled_bounds) {
  name_init();
  lp_index *ix = mk(700);
  for (uint32_t d = 0; d < 1000; d++) {
    lp_index_term t[3] = { term(0, 0.5 + (double)(d % 17)), term(100 + (int)d, 1.0 + (double)(d % 5)),
                           term(1 + (int)(d % 40), 0.3 + (double)(d % 3) * (double)(d % 29)) };
    cr_assert_eq(lp_index_put(ix, d, t, 3), LP_OK);
    if (d % 50 == 0) cr_assert_eq(lp_index_step(ix, 500, NULL), LP_OK);
  }
  compact(ix);
  lp_index_stats st;
  lp_index_stats_get(ix, &st);
  uint64_t df[3] = { 1000, 25, 1 };
  lp_index_term q[3] = { term(0, 1.0), term(7, 1.0), term(100 + 333, 1.0) };
  double avgdl = st.sum_dl / (double)st.docs;
  for (size_t k = 1; k <= 1000; k *= 10) {
    agree(ix, q, 1, NULL, k);
    agree(ix, q, 3, NULL, k);
    agree(ix, q + 1, 2, NULL, k);
    for (int s = 0; s < 2; s++) {
      lp_index_collstats cs = { 2000, avgdl * (s ? 10.0 : 0.1), df };
      agree(ix, q, 3, &cs, k);
      agree(ix, q, 1, &cs, k);
    }
  }
  /* Replace a third of the docs: dead postings in the compressed segments, live ones in the mutable one. */
  for (uint32_t d = 0; d < 1000; d += 3) {
    lp_index_term t[2] = { term(0, 9.0), term(7, 0.2 + (double)(d % 11)) };
    cr_assert_eq(lp_index_put(ix, d, t, 2), LP_OK);
  }
  for (size_t k = 1; k <= 1000; k *= 10) {
    agree(ix, q, 3, NULL, k);
    agree(ix, q + 1, 1, NULL, k);
  }
  compact(ix);
  agree(ix, q, 3, NULL, 25);
  lp_index_free(ix);
}
