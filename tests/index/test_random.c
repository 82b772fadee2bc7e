/*
 * The shard index against models of itself on random corpora: block-max WAND top-k must equal the index's
 * exhaustive top-k (same docs in the same order, scores to 1e-9) at k = 1, 10, 25, 100, and the exhaustive
 * scorer must equal a plain BM25 computed here over an array model of the same docs. Checked before any
 * step(), in the middle of merges (with puts and deletes landing on the segments being merged), after full
 * compaction, after replaces and deletes, and with external collection statistics; with both idfs, with
 * and without the min_normlen clamp.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/index.h"

#define MAXT 48           /* terms per doc in the model (duplicates allowed) */
#define QUERIES_PER_PHASE 250

typedef struct mdoc {
  int live;
  int n;
  uint32_t term[MAXT];
  double w[MAXT];
} mdoc;

typedef struct world {
  uint64_t rng;
  uint32_t ndocs, vocab;
  double *zipf_cdf;
  mdoc *docs;
  lp_index *ix;
  double k1, b;
  int idf;               /* an lp_index_idf */
  double min_normlen;
} world;

static uint64_t rnd(world *w) {  /* splitmix64 */
  uint64_t z = (w->rng += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static double unif(world *w) { return (double)(rnd(w) >> 11) / 9007199254740992.0; }

static uint32_t zipf(world *w) {
  double u = unif(w) * w->zipf_cdf[w->vocab - 1];
  uint32_t lo = 0, hi = w->vocab - 1;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (w->zipf_cdf[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static void term_name(uint32_t t, char *buf, size_t n) { snprintf(buf, n, "t%u", t); }

/* A doc: a few snippets, each with a weight (reputation x age), whose words add weight x 1 to their tf.
 * One doc in 16 is a copy of another, so that exact ties happen. */
static void gen_doc(world *w, mdoc *d) {
  d->n = 0;
  if (rnd(w) % 16 == 0) {
    mdoc *o = &w->docs[rnd(w) % w->ndocs];
    if (o->live && o != d) {
      int live = d->live;
      *d = *o;
      d->live = live;
      return;
    }
  }
  int snippets = 1 + (int)(rnd(w) % 4);
  for (int s = 0; s < snippets && d->n < MAXT; s++) {
    double sw = 0.1 + (double)(rnd(w) % 40) / 10.0;
    int words = 2 + (int)(rnd(w) % 12);
    for (int i = 0; i < words && d->n < MAXT; i++) {
      d->term[d->n] = zipf(w);
      d->w[d->n++] = sw;
    }
  }
}

static void put_doc(world *w, uint32_t doc) {
  mdoc *d = &w->docs[doc];
  char names[MAXT][16];
  lp_index_term t[MAXT];
  for (int i = 0; i < d->n; i++) {
    term_name(d->term[i], names[i], sizeof names[i]);
    t[i] = (lp_index_term){ names[i], strlen(names[i]), d->w[i] };
  }
  cr_assert_eq(lp_index_put(w->ix, doc, t, (size_t)d->n), LP_OK, "%s", lp_index_errstr(w->ix));
  d->live = 1;
}

/* ---- the reference: plain BM25 over the model ---- */

typedef struct ref {
  uint32_t *start;  /* inverted lists: postings of term t at [start[t], start[t + 1]) */
  uint32_t *pdoc;
  double *ptf;      /* stored frequency */
  double *dl;
  uint64_t *df;
  uint64_t n;
  double sum_dl;
} ref;

static void ref_build(world *w, ref *r) {
  r->start = calloc(w->vocab + 1, sizeof(uint32_t));
  r->pdoc = malloc((size_t)w->ndocs * MAXT * sizeof(uint32_t));
  r->ptf = malloc((size_t)w->ndocs * MAXT * sizeof(double));
  r->dl = calloc(w->ndocs, sizeof(double));
  r->df = calloc(w->vocab, sizeof(uint64_t));
  r->n = 0;
  r->sum_dl = 0;
  double *sum = calloc(w->vocab, sizeof(double));
  uint8_t *seen = calloc(w->vocab, 1);
  for (int pass = 0; pass < 2; pass++) {
    uint32_t *fill = NULL;
    if (pass == 1) {
      for (uint32_t t = 0; t < w->vocab; t++) r->start[t + 1] = r->start[t] + (uint32_t)r->df[t];
      fill = calloc(w->vocab, sizeof(uint32_t));
    }
    for (uint32_t d = 0; d < w->ndocs; d++) {
      mdoc *m = &w->docs[d];
      if (!m->live) continue;
      for (int i = 0; i < m->n; i++) sum[m->term[i]] = 0, seen[m->term[i]] = 0;
      for (int i = 0; i < m->n; i++) sum[m->term[i]] += m->w[i];
      for (int i = 0; i < m->n; i++) {
        uint32_t t = m->term[i];
        if (seen[t]) continue;
        seen[t] = 1;
        double tf = lp_index_tf_quantize(sum[t] > 1e30 ? 1e30 : sum[t]);
        if (pass == 0) {
          r->dl[d] += tf;
          r->df[t]++;
        } else {
          uint32_t at = r->start[t] + fill[t]++;
          r->pdoc[at] = d;
          r->ptf[at] = tf;
        }
      }
      if (pass == 0) {
        r->dl[d] = (double)(float)r->dl[d];  /* the index keeps doc lengths as floats */
        r->n++;
        r->sum_dl += r->dl[d];
      }
    }
    free(fill);
  }
  free(sum);
  free(seen);
}

static void ref_free(ref *r) {
  free(r->start);
  free(r->pdoc);
  free(r->ptf);
  free(r->dl);
  free(r->df);
}

typedef struct query {
  int n;
  uint32_t term[8];      /* vocab id, or >= vocab: a word the index never saw */
  double qw[8];
  uint64_t ext_df[8];
} query;

static int hit_cmp(const void *a, const void *b) {
  const lp_index_hit *x = a, *y = b;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  return x->doc < y->doc ? -1 : (x->doc > y->doc);
}

/* Scores every live doc; returns the number of matches, hits sorted (all of them). */
static size_t ref_score(world *w, ref *r, const query *q, const lp_index_collstats *cs, lp_index_hit *out,
                        double *by_doc) {
  uint32_t terms[8];
  double qw[8];
  uint64_t df[8];
  int nt = 0;
  for (int i = 0; i < q->n; i++) {
    if (q->term[i] >= w->vocab || r->df[q->term[i]] == 0) continue;
    int j = 0;
    while (j < nt && terms[j] != q->term[i]) j++;
    if (j < nt) {
      qw[j] += q->qw[i];
      continue;
    }
    terms[nt] = q->term[i];
    qw[nt] = q->qw[i];
    df[nt++] = cs ? cs->df[i] : r->df[q->term[i]];
  }
  double n = cs ? (double)cs->n_docs : (double)r->n, avgdl = cs ? cs->avgdl : r->sum_dl / (double)r->n;
  for (uint32_t d = 0; d < w->ndocs; d++) by_doc[d] = -1;
  for (int j = 0; j < nt; j++) {
    double t = (n - (double)df[j] + 0.5) / ((double)df[j] + 0.5);
    double idf = w->idf == LP_INDEX_IDF_LUCENE ? log(1 + t) : t < 2 ? log(1 + t / 2) : log(t);
    for (uint32_t at = r->start[terms[j]]; at < r->start[terms[j] + 1]; at++) {
      uint32_t d = r->pdoc[at];
      double tf = r->ptf[at];
      if (by_doc[d] < 0) by_doc[d] = 0;
      double norm = r->dl[d] / avgdl < w->min_normlen ? w->min_normlen : r->dl[d] / avgdl;
      by_doc[d] += qw[j] * idf * tf * (w->k1 + 1) / (tf + w->k1 * (1 - w->b + w->b * norm));
    }
  }
  size_t nh = 0;
  for (uint32_t d = 0; d < w->ndocs; d++)
    if (by_doc[d] >= 0) out[nh++] = (lp_index_hit){ .doc = d, .score = by_doc[d] };
  qsort(out, nh, sizeof *out, hit_cmp);
  return nh;
}

static void gen_query(world *w, ref *r, query *q, int external) {
  q->n = 1 + (int)(rnd(w) % 6);
  for (int i = 0; i < q->n; i++) {
    q->term[i] = rnd(w) % 20 == 0 ? w->vocab + (uint32_t)(rnd(w) % 50) : zipf(w);
    if (i > 0 && rnd(w) % 10 == 0) q->term[i] = q->term[0];
    q->qw[i] = 0.5 + (double)(rnd(w) % 16) / 10.0;
    uint64_t local = q->term[i] < w->vocab ? r->df[q->term[i]] : 0;
    q->ext_df[i] = external ? local + rnd(w) % 40 : local;
  }
}

static void check_query(world *w, ref *r, const query *q, const lp_index_collstats *cs, lp_index_hit *all,
                        double *by_doc) {
  char names[8][16];
  lp_index_term t[8];
  for (int i = 0; i < q->n; i++) {
    term_name(q->term[i], names[i], sizeof names[i]);
    t[i] = (lp_index_term){ names[i], strlen(names[i]), q->qw[i] };
  }
  size_t nref = ref_score(w, r, q, cs, all, by_doc);
  static const size_t ks[] = { 1, 10, 25, 100 };
  lp_index_hit h[100], e[100];
  for (size_t ki = 0; ki < 4; ki++) {
    size_t k = ks[ki], nh = 0, ne = 0;
    cr_assert_eq(lp_index_topk(w->ix, t, (size_t)q->n, cs, k, h, &nh), LP_OK, "%s", lp_index_errstr(w->ix));
    cr_assert_eq(lp_index_topk_exhaustive(w->ix, t, (size_t)q->n, cs, k, e, &ne), LP_OK);
    size_t want = nref < k ? nref : k;
    cr_assert_eq(ne, want, "exhaustive: %zu hits, reference %zu (k %zu)", ne, want, k);
    cr_assert_eq(nh, ne, "wand: %zu hits, exhaustive %zu (k %zu)", nh, ne, k);
    for (size_t i = 0; i < nh; i++) {
      cr_assert_eq(h[i].doc, e[i].doc, "k %zu rank %zu: wand doc %u (%.17g), exhaustive doc %u (%.17g)", k, i,
                   h[i].doc, h[i].score, e[i].doc, e[i].score);
      cr_assert(fabs(h[i].score - e[i].score) <= 1e-9);
      /* Against the reference: same score at each rank, and the doc really has that score. */
      cr_assert(fabs(e[i].score - all[i].score) <= 1e-9, "rank %zu: %.17g vs reference %.17g", i, e[i].score,
                all[i].score);
      cr_assert(fabs(by_doc[e[i].doc] - e[i].score) <= 1e-9, "doc %u: %.17g vs reference %.17g", e[i].doc,
                e[i].score, by_doc[e[i].doc]);
    }
  }
}

static void run_queries(world *w, int nq, int external) {
  ref r;
  ref_build(w, &r);
  lp_index_stats st;
  lp_index_stats_get(w->ix, &st);
  cr_assert_eq(st.docs, r.n);
  uint64_t postings = 0, terms = 0;
  for (uint32_t t = 0; t < w->vocab; t++) {
    postings += r.df[t];
    terms += r.df[t] > 0;
  }
  cr_assert_eq(st.postings, postings);
  cr_assert_eq(st.terms, terms);
  cr_assert(fabs(st.sum_dl - r.sum_dl) <= 1e-9 * (1 + r.sum_dl));
  for (uint32_t t = 0; t < w->vocab; t += 7) {
    char name[16];
    term_name(t, name, sizeof name);
    cr_assert_eq(lp_index_df(w->ix, name, strlen(name)), r.df[t]);
  }
  lp_index_hit *all = malloc(w->ndocs * sizeof *all);
  double *by_doc = malloc(w->ndocs * sizeof *by_doc);
  for (int i = 0; i < nq && r.n > 0; i++) {
    query q;
    gen_query(w, &r, &q, external);
    lp_index_collstats cs = { r.n + (external ? 1000 : 0), r.sum_dl / (double)r.n * (external ? 1.3 : 1),
                              q.ext_df };
    check_query(w, &r, &q, external ? &cs : NULL, all, by_doc);
  }
  free(all);
  free(by_doc);
  ref_free(&r);
}

static void churn(world *w, int ops) {
  for (int i = 0; i < ops; i++) {
    uint32_t doc = (uint32_t)(rnd(w) % w->ndocs);
    if (w->docs[doc].live && rnd(w) % 4 == 0) {
      cr_assert_eq(lp_index_delete(w->ix, doc), LP_OK);
      w->docs[doc].live = 0;
    } else {
      gen_doc(w, &w->docs[doc]);
      put_doc(w, doc);
    }
  }
}

static void run_world(uint64_t seed, uint32_t ndocs, uint32_t vocab, uint32_t mem_postings, double k1, double b,
                      int idf, double min_normlen) {
  world w = { .rng = seed, .ndocs = ndocs, .vocab = vocab, .k1 = k1, .b = b, .idf = idf, .min_normlen = min_normlen };
  w.zipf_cdf = malloc(vocab * sizeof(double));
  double acc = 0;
  for (uint32_t i = 0; i < vocab; i++) w.zipf_cdf[i] = (acc += 1.0 / pow(i + 1.0, 1.05));
  w.docs = calloc(ndocs, sizeof(mdoc));
  lp_index_params p;
  lp_index_params_default(&p);
  p.mem_postings = mem_postings;
  p.k1 = k1;
  p.b = b;
  p.idf = idf;
  p.min_normlen = min_normlen;
  char err[128];
  cr_assert_eq(lp_index_new(&w.ix, &p, err, sizeof err), LP_OK, "%s", err);

  for (uint32_t d = 0; d < ndocs; d++) {
    gen_doc(&w, &w.docs[d]);
    put_doc(&w, d);
  }
  run_queries(&w, QUERIES_PER_PHASE / 2, 0);  /* sealed segments, nothing compressed yet */

  /* Merges in progress, with puts and deletes landing on their inputs. */
  int more = 1;
  for (int round = 0; round < 40 && more; round++) {
    cr_assert_eq(lp_index_step(w.ix, 97, &more), LP_OK);
    churn(&w, 5);
    if (round % 10 == 9) run_queries(&w, QUERIES_PER_PHASE / 8, 0);
  }

  more = 1;
  while (more) cr_assert_eq(lp_index_step(w.ix, 5000, &more), LP_OK);
  run_queries(&w, QUERIES_PER_PHASE, 0);  /* compacted */
  lp_index_stats st;
  lp_index_stats_get(w.ix, &st);
  cr_assert(st.bytes_per_posting > 0);

  churn(&w, (int)ndocs / 2);
  run_queries(&w, QUERIES_PER_PHASE / 2, 0);  /* replaced and deleted */
  run_queries(&w, QUERIES_PER_PHASE / 2, 1);  /* external statistics */

  for (uint32_t d = 0; d < ndocs; d++)
    if (w.docs[d].live && d % 3) {
      cr_assert_eq(lp_index_delete(w.ix, d), LP_OK);
      w.docs[d].live = 0;
    }
  more = 1;
  while (more) cr_assert_eq(lp_index_step(w.ix, 333, &more), LP_OK);
  run_queries(&w, QUERIES_PER_PHASE / 4, 0);  /* after mass deletes and reclaiming */
  lp_index_stats_get(w.ix, &st);
  cr_assert(st.stored_postings <= st.postings * 2 + 64, "stored %llu, live %llu",
            (unsigned long long)st.stored_postings, (unsigned long long)st.postings);

  lp_index_free(w.ix);
  free(w.docs);
  free(w.zipf_cdf);
}

Test(index_random, small_corpus, .timeout = 240) { run_world(1, 100, 300, 64, 1.2, 0.75, LP_INDEX_IDF_ROBERTSON, 0.5); }
Test(index_random, medium_corpus, .timeout = 240) { run_world(2, 1000, 2000, 700, 1.2, 0.75, LP_INDEX_IDF_ROBERTSON, 0.5); }
Test(index_random, large_corpus, .timeout = 240) { run_world(3, 5000, 5000, 4000, 0.9, 0.4, LP_INDEX_IDF_ROBERTSON, 0.5); }
Test(index_random, no_length_norm, .timeout = 240) { run_world(4, 600, 400, 300, 1.5, 0.0, LP_INDEX_IDF_ROBERTSON, 0.5); }
Test(index_random, lucene_idf_small, .timeout = 240) { run_world(5, 100, 300, 64, 1.2, 0.75, LP_INDEX_IDF_LUCENE, 0); }
Test(index_random, strong_clamp, .timeout = 240) { run_world(7, 800, 1500, 500, 1.2, 0.75, LP_INDEX_IDF_ROBERTSON, 0.9); }
Test(index_random, lucene_idf_medium, .timeout = 240) { run_world(6, 1000, 2000, 700, 1.2, 0.75, LP_INDEX_IDF_LUCENE, 0); }
