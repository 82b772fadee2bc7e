/* The shard index: BM25 against a hand-computed example, edge cases, and every error path. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "index/index.h"

#define T(s, w) ((lp_index_term){ (s), sizeof(s) - 1, (w) })

static lp_index *mk(uint32_t mem_postings) {
  lp_index_params p;
  lp_index_params_default(&p);
  p.mem_postings = mem_postings;
  p.idf = LP_INDEX_IDF_LUCENE;  /* the hand-computed figures below use ln(1 + t) */
  lp_index *ix = NULL;
  char err[128];
  cr_assert_eq(lp_index_new(&ix, &p, err, sizeof err), LP_OK, "%s", err);
  return ix;
}

/* d0 = {a:1, b:1}, d1 = {a:2}, d2 = {c:1}; k1 = 1.2, b = 0.75; N = 3, avgdl = 5/3.
 * idf(a) = ln(1 + 1.5/2.5) = ln 1.6; idf(b) = idf(c) = ln(1 + 2.5/1.5).
 * "a": d1 = ln1.6 * 2*2.2/(2 + 1.2*(0.25 + 0.75*2*3/5)) = 0.6118390439885317,
 *      d0 = ln1.6 * 2.2/(1 + 1.38) = 0.4344571362775708.
 * "c": d2 = ln(8/3) * 2.2/(1 + 1.2*(0.25 + 0.45)) = 1.1727306286009773.
 * "a b": d0 = ln1.6*2.2/2.38 + ln(8/3)*2.2/2.38 = 1.3411060256161416, then d1. */
static void load_small(lp_index *ix) {
  lp_index_term d0[] = { T("a", 1), T("b", 1) }, d1[] = { T("a", 2) }, d2[] = { T("c", 1) };
  cr_assert_eq(lp_index_put(ix, 0, d0, 2), LP_OK);
  cr_assert_eq(lp_index_put(ix, 1, d1, 1), LP_OK);
  cr_assert_eq(lp_index_put(ix, 2, d2, 1), LP_OK);
}

static void expect(lp_index *ix, const lp_index_term *q, size_t nq, size_t k, const uint32_t *docs,
                   const double *scores, size_t n) {
  lp_index_hit h[8], e[8];
  size_t nh = 99, ne = 99;
  cr_assert_eq(lp_index_topk(ix, q, nq, NULL, k, h, &nh), LP_OK, "%s", lp_index_errstr(ix));
  cr_assert_eq(lp_index_topk_exhaustive(ix, q, nq, NULL, k, e, &ne), LP_OK);
  cr_assert_eq(nh, n, "wand returned %zu hits, expected %zu", nh, n);
  cr_assert_eq(ne, n);
  for (size_t i = 0; i < n; i++) {
    cr_assert_eq(h[i].doc, docs[i], "rank %zu: doc %u, expected %u", i, h[i].doc, docs[i]);
    cr_assert_eq(e[i].doc, docs[i]);
    cr_assert_float_eq(h[i].score, scores[i], 1e-12, "rank %zu: %.17g vs %.17g", i, h[i].score, scores[i]);
    cr_assert_float_eq(e[i].score, scores[i], 1e-12);
  }
}

Test(index, bm25_hand_computed) {
  lp_index *ix = mk(65536);
  load_small(ix);
  lp_index_term qa[] = { T("a", 1) }, qc[] = { T("c", 1) }, qab[] = { T("a", 1), T("b", 1) };
  expect(ix, qa, 1, 10, (uint32_t[]){ 1, 0 }, (double[]){ 0.6118390439885317, 0.4344571362775708 }, 2);
  expect(ix, qc, 1, 10, (uint32_t[]){ 2 }, (double[]){ 1.1727306286009773 }, 1);
  expect(ix, qab, 2, 10, (uint32_t[]){ 0, 1 }, (double[]){ 1.3411060256161416, 0.6118390439885317 }, 2);
  /* The query weight multiplies; a duplicated query term sums its weights. */
  lp_index_term qa2[] = { T("a", 1.5), T("a", 0.5) };
  expect(ix, qa2, 2, 1, (uint32_t[]){ 1 }, (double[]){ 2 * 0.6118390439885317 }, 1);
  lp_index_stats st;
  lp_index_stats_get(ix, &st);
  cr_assert_eq(st.docs, 3);
  cr_assert_eq(st.postings, 4);
  cr_assert_eq(st.terms, 3);
  cr_assert_float_eq(st.sum_dl, 5.0, 1e-12);
  cr_assert_eq(lp_index_df(ix, "a", 1), 2);
  cr_assert_eq(lp_index_df(ix, "zz", 2), 0);
  /* The same answers once compressed. */
  int more = 1;
  while (more) cr_assert_eq(lp_index_step(ix, 1000, &more), LP_OK);
  expect(ix, qab, 2, 10, (uint32_t[]){ 0, 1 }, (double[]){ 1.3411060256161416, 0.6118390439885317 }, 2);
  lp_index_free(ix);
}

Test(index, replace_counts_df_once_and_delete) {
  lp_index *ix = mk(2);  /* every put seals a segment */
  load_small(ix);
  lp_index_term d1[] = { T("a", 2) };
  for (int i = 0; i < 5; i++) cr_assert_eq(lp_index_put(ix, 1, d1, 1), LP_OK);
  cr_assert_eq(lp_index_df(ix, "a", 1), 2);
  lp_index_term qa[] = { T("a", 1) };
  expect(ix, qa, 1, 10, (uint32_t[]){ 1, 0 }, (double[]){ 0.6118390439885317, 0.4344571362775708 }, 2);
  /* Replacing d1 by {c} moves it: df(a) = 1, df(c) = 2. */
  lp_index_term d1c[] = { T("c", 2) };
  cr_assert_eq(lp_index_put(ix, 1, d1c, 1), LP_OK);
  cr_assert_eq(lp_index_df(ix, "a", 1), 1);
  cr_assert_eq(lp_index_df(ix, "c", 1), 2);
  cr_assert_eq(lp_index_delete(ix, 0), LP_OK);
  cr_assert_eq(lp_index_delete(ix, 0), LP_ENOENT);
  cr_assert_neq(strstr(lp_index_errstr(ix), "not in the index"), NULL);
  cr_assert_eq(lp_index_df(ix, "a", 1), 0);
  cr_assert_eq(lp_index_df(ix, "b", 1), 0);
  lp_index_hit h[4];
  size_t n = 9;
  cr_assert_eq(lp_index_topk(ix, qa, 1, NULL, 4, h, &n), LP_OK);
  cr_assert_eq(n, 0);
  int more = 1;
  while (more) cr_assert_eq(lp_index_step(ix, 3, &more), LP_OK);
  lp_index_stats st;
  lp_index_stats_get(ix, &st);
  cr_assert_eq(st.docs, 2);
  cr_assert_eq(st.terms, 1);
  cr_assert_eq(st.stored_postings, 2, "dead postings reclaimed: %llu left", (unsigned long long)st.stored_postings);
  lp_index_free(ix);
}

Test(index, empty_index_unknown_terms_and_small_k) {
  lp_index *ix = mk(65536);
  lp_index_term q[] = { T("a", 1) };
  lp_index_hit h[4];
  size_t n = 9;
  cr_assert_eq(lp_index_topk(ix, q, 1, NULL, 4, h, &n), LP_OK);
  cr_assert_eq(n, 0);
  cr_assert_eq(lp_index_topk_exhaustive(ix, q, 1, NULL, 4, h, &n), LP_OK);
  cr_assert_eq(n, 0);
  int more = 1;
  cr_assert_eq(lp_index_step(ix, 10, &more), LP_OK);
  cr_assert_eq(more, 0);
  lp_index_stats st;
  lp_index_stats_get(ix, &st);
  cr_assert_eq(st.docs + st.postings + st.terms, 0);
  cr_assert_eq(st.bytes_per_posting, 0);
  load_small(ix);
  lp_index_term qz[] = { T("zz", 1) }, qzc[] = { T("zz", 1), T("c", 1) };
  cr_assert_eq(lp_index_topk(ix, qz, 1, NULL, 4, h, &n), LP_OK);
  cr_assert_eq(n, 0);
  cr_assert_eq(lp_index_topk(ix, NULL, 0, NULL, 4, h, &n), LP_OK);
  cr_assert_eq(n, 0);
  expect(ix, qzc, 2, 4, (uint32_t[]){ 2 }, (double[]){ 1.1727306286009773 }, 1);
  /* k larger than the matches, and k = 1. */
  lp_index_term qa[] = { T("a", 1) };
  expect(ix, qa, 1, 8, (uint32_t[]){ 1, 0 }, (double[]){ 0.6118390439885317, 0.4344571362775708 }, 2);
  expect(ix, qa, 1, 1, (uint32_t[]){ 1 }, (double[]){ 0.6118390439885317 }, 1);
  /* A document with no terms is live: it counts in N and lowers avgdl. */
  cr_assert_eq(lp_index_put(ix, 7, NULL, 0), LP_OK);
  lp_index_stats_get(ix, &st);
  cr_assert_eq(st.docs, 4);
  cr_assert_eq(lp_index_delete(ix, 7), LP_OK);
  lp_index_free(ix);
}

Test(index, ties_break_by_doc_id) {
  lp_index *ix = mk(3);
  lp_index_term d[] = { T("x", 1), T("y", 2) };
  for (uint32_t doc = 40; doc > 0; doc--) cr_assert_eq(lp_index_put(ix, doc, d, 2), LP_OK);
  lp_index_term q[] = { T("x", 1) };
  lp_index_hit h[25];
  size_t n;
  for (int round = 0; round < 2; round++) {
    cr_assert_eq(lp_index_topk(ix, q, 1, NULL, 25, h, &n), LP_OK);
    cr_assert_eq(n, 25);
    for (size_t i = 0; i < n; i++) cr_assert_eq(h[i].doc, i + 1);
    int more = 1;
    while (more) cr_assert_eq(lp_index_step(ix, 7, &more), LP_OK);
  }
  lp_index_free(ix);
}

/* The default idf, Robertson-Sparck Jones with Xapian's floor, on the same corpus: t(a) = 1.5/2.5 = 0.6 and
 * t(c) = 2.5/1.5, both < 2, so idf = ln(1 + t/2): ln 1.3 and ln(11/6). */
Test(index, bm25_robertson_hand_computed) {
  lp_index_params p;
  lp_index_params_default(&p);
  cr_assert_eq(p.idf, LP_INDEX_IDF_ROBERTSON);
  lp_index *ix = NULL;
  char err[128];
  cr_assert_eq(lp_index_new(&ix, &p, err, sizeof err), LP_OK, "%s", err);
  load_small(ix);
  double d1a = log(1.3) * 2 * 2.2 / (2 + 1.2 * (0.25 + 0.75 * 2 * 3 / 5)), d0a = log(1.3) * 2.2 / 2.38;
  double d2c = log(11.0 / 6) * 2.2 / (1 + 1.2 * (0.25 + 0.45)), d0b = log(11.0 / 6) * 2.2 / 2.38;
  lp_index_term qa[] = { T("a", 1) }, qc[] = { T("c", 1) }, qab[] = { T("a", 1), T("b", 1) };
  expect(ix, qa, 1, 10, (uint32_t[]){ 1, 0 }, (double[]){ d1a, d0a }, 2);
  expect(ix, qc, 1, 10, (uint32_t[]){ 2 }, (double[]){ d2c }, 1);
  expect(ix, qab, 2, 10, (uint32_t[]){ 0, 1 }, (double[]){ d0a + d0b, d1a }, 2);
  lp_index_free(ix);
}

/* min_normlen: d0 = {a:1} (dl 1), d1 = {b:10} (dl 10), avgdl 5.5, so d0's dl / avgdl = 0.18 is taken as 0.5.
 * idf(a): t = 1.5 / 1.5 = 1 < 2, ln 1.5. */
Test(index, min_normlen_clamp) {
  for (int clamp = 0; clamp < 2; clamp++) {
    lp_index_params p;
    lp_index_params_default(&p);
    cr_assert_float_eq(p.min_normlen, 0.5, 0);
    if (!clamp) p.min_normlen = 0;
    lp_index *ix = NULL;
    char err[128];
    cr_assert_eq(lp_index_new(&ix, &p, err, sizeof err), LP_OK, "%s", err);
    lp_index_term d0[] = { T("a", 1) }, d1[] = { T("b", 10) }, qa[] = { T("a", 1) };
    cr_assert_eq(lp_index_put(ix, 0, d0, 1), LP_OK);
    cr_assert_eq(lp_index_put(ix, 1, d1, 1), LP_OK);
    double normlen = clamp ? 0.5 : 1 / 5.5;
    double want = log(1.5) * 2.2 / (1 + 1.2 * (0.25 + 0.75 * normlen));
    expect(ix, qa, 1, 5, (uint32_t[]){ 0 }, (double[]){ want }, 1);
    lp_index_free(ix);
  }
}

Test(index, idf_parse) {
  int idf = -1;
  cr_assert_eq(lp_index_idf_parse("robertson", &idf), LP_OK);
  cr_assert_eq(idf, LP_INDEX_IDF_ROBERTSON);
  cr_assert_eq(lp_index_idf_parse("lucene", &idf), LP_OK);
  cr_assert_eq(idf, LP_INDEX_IDF_LUCENE);
  cr_assert_eq(lp_index_idf_parse("bm25", &idf), LP_EINVAL);
  cr_assert_eq(lp_index_idf_parse("", &idf), LP_EINVAL);
  cr_assert_eq(lp_index_idf_parse(NULL, &idf), LP_EINVAL);
  cr_assert_eq(idf, LP_INDEX_IDF_LUCENE);
}

Test(index, idf_values) {
  /* t >= 2: ln t; t < 2: ln(1 + t/2); a term in every doc keeps a small positive weight. */
  cr_assert_float_eq(lp_index_idf_value(LP_INDEX_IDF_ROBERTSON, 100, 10), log(90.5 / 10.5), 1e-15);
  cr_assert_float_eq(lp_index_idf_value(LP_INDEX_IDF_ROBERTSON, 100, 60), log(1 + 40.5 / 60.5 / 2), 1e-15);
  cr_assert_float_eq(lp_index_idf_value(LP_INDEX_IDF_LUCENE, 100, 60), log(1 + 40.5 / 60.5), 1e-15);
  cr_assert(lp_index_idf_value(LP_INDEX_IDF_ROBERTSON, 1000000, 1000000) > 0);
  cr_assert(lp_index_idf_value(LP_INDEX_IDF_LUCENE, 1000000, 1000000) > 0);
  /* Just past t = 2 (N = 7, n = 2: t = 5.5 / 2.5 = 2.2): ln t; just below (n = 3: t = 4.5 / 3.5): ln(1 + t/2). */
  cr_assert_float_eq(lp_index_idf_value(LP_INDEX_IDF_ROBERTSON, 7, 2), log(2.2), 1e-15);
  cr_assert_float_eq(lp_index_idf_value(LP_INDEX_IDF_ROBERTSON, 7, 3), log(1 + 4.5 / 3.5 / 2), 1e-15);
  /* Robertson never above Lucene. */
  for (uint64_t n = 0; n <= 50; n++)
    cr_assert(lp_index_idf_value(LP_INDEX_IDF_ROBERTSON, 50, n) <= lp_index_idf_value(LP_INDEX_IDF_LUCENE, 50, n));
}

Test(index, external_statistics) {
  lp_index *ix = mk(65536);
  load_small(ix);
  /* N = 3, avgdl = 5/3, df(a) = 2 given from outside = the index's own: the same scores. */
  uint64_t df[] = { 2 };
  lp_index_collstats cs = { 3, 5.0 / 3.0, df };
  lp_index_term qa[] = { T("a", 1) };
  lp_index_hit h[4];
  size_t n;
  cr_assert_eq(lp_index_topk(ix, qa, 1, &cs, 4, h, &n), LP_OK);
  cr_assert_eq(n, 2);
  cr_assert_float_eq(h[0].score, 0.6118390439885317, 1e-12);
  /* Other statistics: idf = ln(1 + 90.5/10.5), avgdl = 4. */
  uint64_t df2[] = { 10 };
  lp_index_collstats cs2 = { 100, 4.0, df2 };
  cr_assert_eq(lp_index_topk(ix, qa, 1, &cs2, 4, h, &n), LP_OK);
  double want = log(1 + 90.5 / 10.5) * 2 * 2.2 / (2 + 1.2 * (0.25 + 0.75 * 2 / 4.0));
  cr_assert_float_eq(h[0].score, want, 1e-12);
  lp_index_free(ix);
}

Test(index, errors) {
  lp_index *ix = NULL;
  char err[128] = "";
  lp_index_params p;
  lp_index_params_default(&p);
  p.b = 1.5;
  cr_assert_eq(lp_index_new(&ix, &p, err, sizeof err), LP_EINVAL);
  cr_assert_neq(strstr(err, "b must be"), NULL);
  lp_index_params_default(&p);
  p.k1 = -1;
  cr_assert_eq(lp_index_new(&ix, &p, err, sizeof err), LP_EINVAL);
  lp_index_params_default(&p);
  p.merge_factor = 1;
  cr_assert_eq(lp_index_new(&ix, &p, err, sizeof err), LP_EINVAL);
  lp_index_params_default(&p);
  p.idf = 7;
  cr_assert_eq(lp_index_new(&ix, &p, err, sizeof err), LP_EINVAL);
  cr_assert_neq(strstr(err, "idf must be"), NULL);
  p.idf = LP_INDEX_IDF_LUCENE;
  p.min_normlen = -0.1;
  cr_assert_eq(lp_index_new(&ix, &p, err, sizeof err), LP_EINVAL);
  cr_assert_neq(strstr(err, "min_normlen"), NULL);
  p.min_normlen = NAN;
  cr_assert_eq(lp_index_new(&ix, &p, err, sizeof err), LP_EINVAL);
  p.min_normlen = 100;
  cr_assert_eq(lp_index_new(&ix, &p, err, sizeof err), LP_OK);
  lp_index_free(ix);
  ix = NULL;
  lp_index_params_default(&p);
  p.max_docs = 100;
  cr_assert_eq(lp_index_new(&ix, &p, err, sizeof err), LP_OK);
  load_small(ix);

  lp_index_term ok[] = { T("a", 1) };
  cr_assert_eq(lp_index_put(ix, 100, ok, 1), LP_EINVAL);
  cr_assert_neq(strstr(lp_index_errstr(ix), "max_docs"), NULL);
  cr_assert_eq(lp_index_put(ix, 99, ok, 1), LP_OK);
  lp_index_term bad_w[] = { T("a", -1) }, nan_w[] = { T("a", NAN) }, zero_len[] = { { "a", 0, 1 } };
  char big[300];
  memset(big, 'x', sizeof big);
  lp_index_term too_long[] = { { big, 256, 1 } }, longest[] = { { big, 255, 1 } };
  cr_assert_eq(lp_index_put(ix, 3, bad_w, 1), LP_EINVAL);
  cr_assert_eq(lp_index_put(ix, 3, nan_w, 1), LP_EINVAL);
  cr_assert_eq(lp_index_put(ix, 3, zero_len, 1), LP_EINVAL);
  cr_assert_eq(lp_index_put(ix, 3, too_long, 1), LP_EINVAL);
  cr_assert_eq(lp_index_put(ix, 3, NULL, 2), LP_EINVAL);
  cr_assert_eq(lp_index_put(ix, 3, longest, 1), LP_OK);
  cr_assert_eq(lp_index_delete(ix, 3), LP_OK);
  /* A failed put changed nothing. */
  lp_index_stats st;
  lp_index_stats_get(ix, &st);
  cr_assert_eq(st.docs, 4);

  lp_index_hit h[4];
  size_t n;
  cr_assert_eq(lp_index_topk(ix, ok, 1, NULL, 0, h, &n), LP_EINVAL);
  cr_assert_neq(strstr(lp_index_errstr(ix), "k must be"), NULL);
  cr_assert_eq(lp_index_topk_exhaustive(ix, ok, 1, NULL, 0, h, &n), LP_EINVAL);
  cr_assert_eq(lp_index_topk(ix, ok, 1, NULL, 4, NULL, &n), LP_EINVAL);
  cr_assert_eq(lp_index_topk(ix, bad_w, 1, NULL, 4, h, &n), LP_EINVAL);
  cr_assert_eq(lp_index_topk(ix, too_long, 1, NULL, 4, h, &n), LP_EINVAL);
  lp_index_term many[65];
  for (int i = 0; i < 65; i++) many[i] = ok[0];
  cr_assert_eq(lp_index_topk(ix, many, 65, NULL, 4, h, &n), LP_EINVAL);
  cr_assert_eq(lp_index_topk(ix, many, 64, NULL, 4, h, &n), LP_OK);

  uint64_t df[] = { 2 }, df_big[] = { 11 };
  lp_index_collstats zero_n = { 0, 1, df }, zero_avg = { 10, 0, df }, no_df = { 10, 1, NULL },
                     df_over = { 10, 1, df_big }, good = { 10, 1, df };
  cr_assert_eq(lp_index_topk(ix, ok, 1, &zero_n, 4, h, &n), LP_EINVAL);
  cr_assert_eq(lp_index_topk(ix, ok, 1, &zero_avg, 4, h, &n), LP_EINVAL);
  cr_assert_eq(lp_index_topk(ix, ok, 1, &no_df, 4, h, &n), LP_EINVAL);
  cr_assert_eq(lp_index_topk(ix, ok, 1, &df_over, 4, h, &n), LP_EINVAL);
  cr_assert_eq(lp_index_topk(ix, ok, 1, &good, 4, h, &n), LP_OK);
  cr_assert_eq(n, 3);

  cr_assert_eq(lp_index_step(ix, 0, NULL), LP_EINVAL);
  cr_assert_eq(lp_index_step(ix, 1, NULL), LP_OK);
  lp_index_free(ix);
  lp_index_free(NULL);
}

Test(index, quantize) {
  cr_assert_eq(lp_index_tf_quantize(1.0), 1.0);
  cr_assert_eq(lp_index_tf_quantize(3.0), 3.0);
  cr_assert_eq(lp_index_tf_quantize(512.0), 512.0);
  cr_assert_eq(lp_index_tf_quantize(0.5), 0.5);
  for (double w = 1e-6; w < 1e6; w *= 1.37) {
    double q = lp_index_tf_quantize(w);
    cr_assert(fabs(q - w) <= w * (1.0 / 512), "%g -> %g", w, q);
  }
}
