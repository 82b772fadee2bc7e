/*
 * Incremental puts: a document replaced many times (terms coming, going and changing weight, some puts by
 * pinned id, merges and seals in between, so that some replaces happen in place in the mutable segment and
 * others move the doc) must leave an index that answers exactly like one built fresh from the final
 * documents: the same top-k, the same scores bit for bit, the same statistics. And the pin / put-by-id API,
 * each error with a failing and a passing case.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "index/index.h"

#define NDOCS 300
#define VOCAB 400
#define MAXT 40

typedef struct doc {
  int live;
  int n;
  uint32_t term[MAXT];
  double w[MAXT];
} doc;

static uint64_t rng_state;
static uint64_t rnd(void) {  /* splitmix64 */
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static char names[VOCAB][16];
static void init_names(void) {
  for (int t = 0; t < VOCAB; t++) snprintf(names[t], sizeof names[t], "w%d", t);
}

/* Weights are multiples of 1/8 below 64, so every sum of lengths is exact and the two indexes can agree
 * bit for bit whatever order their lengths were added in. */
static double weight(void) { return (double)(1 + rnd() % 64) / 8.0; }

/* Evolves d like a lead's term vector: adds a snippet's terms, sometimes drops some, sometimes rescales. */
static void evolve(doc *d) {
  int add = 1 + (int)(rnd() % 6);
  for (int i = 0; i < add; i++) {
    uint32_t t = (uint32_t)(rnd() % VOCAB);
    if (rnd() % 3 == 0) t %= 20;  /* common terms */
    int j = 0;
    while (j < d->n && d->term[j] != t) j++;
    if (j < d->n) d->w[j] = d->w[j] + weight() > 64 ? weight() : d->w[j] + weight();
    else if (d->n < MAXT) d->term[d->n] = t, d->w[d->n++] = weight();
  }
  if (d->n > 2 && rnd() % 4 == 0) d->term[0] = d->term[--d->n], d->w[0] = d->w[d->n];  /* expiry */
  if (rnd() % 8 == 0)
    for (int j = 0; j < d->n; j++) d->w[j] = (double)(1 + rnd() % 8) / 8.0;  /* re-weighting */
}

static void put_by_name(lp_index *ix, uint32_t id, const doc *d) {
  lp_index_term t[MAXT];
  for (int i = 0; i < d->n; i++) t[i] = (lp_index_term){ names[d->term[i]], strlen(names[d->term[i]]), d->w[i] };
  cr_assert_eq(lp_index_put(ix, id, t, (size_t)d->n), LP_OK, "%s", lp_index_errstr(ix));
}

static void put_by_id(lp_index *ix, uint32_t id, const doc *d, const uint32_t *pins) {
  lp_index_tterm t[MAXT];
  for (int i = 0; i < d->n; i++) t[i] = (lp_index_tterm){ pins[d->term[i]], d->w[i] };
  cr_assert_eq(lp_index_put_ids(ix, id, t, (size_t)d->n), LP_OK, "%s", lp_index_errstr(ix));
}

static void same_answers(lp_index *a, lp_index *b, size_t k) {
  for (int q = 0; q < 200; q++) {
    lp_index_term qt[4];
    size_t nq = 1 + rnd() % 4;
    for (size_t i = 0; i < nq; i++) {
      uint32_t t = (uint32_t)(rnd() % VOCAB);
      qt[i] = (lp_index_term){ names[t], strlen(names[t]), 1.0 + (double)(rnd() % 3) };
    }
    lp_index_hit ha[64], hb[64], he[64];
    size_t na = 0, nb = 0, ne = 0;
    cr_assert_eq(lp_index_topk(a, qt, nq, NULL, k, ha, &na), LP_OK);
    cr_assert_eq(lp_index_topk(b, qt, nq, NULL, k, hb, &nb), LP_OK);
    cr_assert_eq(lp_index_topk_exhaustive(a, qt, nq, NULL, k, he, &ne), LP_OK);
    cr_assert_eq(na, nb, "query %d: %zu hits incrementally, %zu fresh", q, na, nb);
    cr_assert_eq(na, ne);
    for (size_t i = 0; i < na; i++) {
      cr_assert_eq(ha[i].doc, hb[i].doc, "query %d, rank %zu: doc %u against %u", q, i, ha[i].doc, hb[i].doc);
      cr_assert(ha[i].score == hb[i].score, "query %d, rank %zu: score %.17g against %.17g", q, i, ha[i].score,
                hb[i].score);
      cr_assert(ha[i].doc == he[i].doc && ha[i].score == he[i].score, "WAND equals exhaustive");
    }
  }
}

static void run(uint64_t seed, uint32_t mem_postings, int with_steps) {
  rng_state = seed;
  lp_index_params p;
  lp_index_params_default(&p);
  p.mem_postings = mem_postings;
  lp_index *inc, *fresh;
  cr_assert_eq(lp_index_new(&inc, &p, NULL, 0), LP_OK);
  cr_assert_eq(lp_index_new(&fresh, &p, NULL, 0), LP_OK);
  static uint32_t pins[VOCAB];
  for (uint32_t t = 0; t < VOCAB; t++) cr_assert_eq(lp_index_term_pin(inc, names[t], strlen(names[t]), &pins[t]), LP_OK);
  static doc docs[NDOCS];
  memset(docs, 0, sizeof docs);
  for (int round = 0; round < 4000; round++) {
    /* bursts on a few docs (what makes replaces land in the mutable segment), and a spread of others */
    uint32_t id = round % 5 == 0 ? (uint32_t)(rnd() % NDOCS) : (uint32_t)(rnd() % 12);
    evolve(&docs[id]);
    docs[id].live = 1;
    if (rnd() % 2) put_by_id(inc, id, &docs[id], pins);
    else put_by_name(inc, id, &docs[id]);
    if (rnd() % 50 == 0) {
      cr_assert_eq(lp_index_delete(inc, id), LP_OK);
      docs[id] = (doc){ 0 };
    } else if (rnd() % 97 == 0) {
      docs[id].n = 0;  /* a doc that lost every term stays live, empty */
      put_by_id(inc, id, &docs[id], pins);
    }
    if (with_steps && rnd() % 8 == 0) cr_assert_eq(lp_index_step(inc, 1 + rnd() % 2000, NULL), LP_OK);
  }
  /* the fresh index: every live doc of the incremental one, its final version, put once */
  for (uint32_t id = 0; id < NDOCS; id++)
    if (docs[id].live) put_by_name(fresh, id, &docs[id]);
  lp_index_stats sa, sb;
  lp_index_stats_get(inc, &sa);
  lp_index_stats_get(fresh, &sb);
  cr_assert_eq(sa.docs, sb.docs, "%llu live docs against %llu", (unsigned long long)sa.docs, (unsigned long long)sb.docs);
  cr_assert_eq(sa.postings, sb.postings, "%llu live postings against %llu", (unsigned long long)sa.postings,
               (unsigned long long)sb.postings);
  cr_assert(sa.sum_dl == sb.sum_dl, "sum of lengths %.17g against %.17g", sa.sum_dl, sb.sum_dl);
  cr_assert_eq(sa.terms, sb.terms);
  same_answers(inc, fresh, 10);
  same_answers(inc, fresh, 50);
  for (int i = 0; i < 64; i++) lp_index_step(inc, 100000, NULL), lp_index_step(fresh, 100000, NULL);
  same_answers(inc, fresh, 25);
  lp_index_free(inc);
  lp_index_free(fresh);
}

Test(index_incremental, in_place_in_one_big_mutable_segment, .init = init_names, .timeout = 120) { run(21, 1u << 30, 0); }
Test(index_incremental, seals_and_merges_between_puts, .init = init_names, .timeout = 120) { run(22, 512, 1); }
Test(index_incremental, tiny_segments, .init = init_names, .timeout = 120) { run(23, 40, 1); }

/* A doc replaced again and again while it is in the mutable segment leaves no dead posting behind. */
Test(index_incremental, no_dead_postings_in_place, .init = init_names) {
  lp_index *ix;
  cr_assert_eq(lp_index_new(&ix, NULL, NULL, 0), LP_OK);
  lp_index_term t[3] = { { "a", 1, 1 }, { "b", 1, 2 }, { "c", 1, 3 } };
  for (int i = 0; i < 50; i++) {
    t[i % 3].weight += 1;
    cr_assert_eq(lp_index_put(ix, 7, t, 1 + (size_t)(i % 3)), LP_OK);
  }
  lp_index_stats st;
  lp_index_stats_get(ix, &st);
  cr_assert_eq(st.docs, 1);
  cr_assert_eq(st.stored_postings, st.postings, "%llu stored for %llu live", (unsigned long long)st.stored_postings,
               (unsigned long long)st.postings);
  cr_assert_eq(st.postings, 50 % 3 == 0 ? 3 : (uint64_t)(1 + 49 % 3));
  lp_index_free(ix);
}

Test(index_incremental, pin_and_put_ids_errors, .init = init_names) {
  lp_index *ix;
  cr_assert_eq(lp_index_new(&ix, NULL, NULL, 0), LP_OK);
  uint32_t a, b;
  char big[300];
  memset(big, 'x', sizeof big);
  cr_assert_eq(lp_index_term_pin(ix, "", 0, &a), LP_EINVAL);
  cr_assert_eq(lp_index_term_pin(ix, big, sizeof big, &a), LP_EINVAL);
  cr_assert_eq(lp_index_term_pin(ix, NULL, 3, &a), LP_EINVAL);
  cr_assert_eq(lp_index_term_pin(ix, "alpha", 5, &a), LP_OK);
  cr_assert_eq(lp_index_term_pin(ix, "alpha", 5, &b), LP_OK);
  cr_assert_eq(a, b, "the same term, the same id");

  lp_index_tterm bad_id[1] = { { a + 1000, 1.0 } };
  cr_assert_eq(lp_index_put_ids(ix, 1, bad_id, 1), LP_EINVAL);
  cr_assert(strstr(lp_index_errstr(ix), "not a pinned term") != NULL, "%s", lp_index_errstr(ix));
  lp_index_tterm bad_w[1] = { { a, 0.0 } };
  cr_assert_eq(lp_index_put_ids(ix, 1, bad_w, 1), LP_EINVAL);
  cr_assert_eq(lp_index_put_ids(ix, 1, NULL, 1), LP_EINVAL);
  lp_index_tterm good[2] = { { a, 1.0 }, { a, 2.0 } };  /* duplicates summed */
  cr_assert_eq(lp_index_put_ids(ix, 1u << 30, good, 2), LP_EINVAL, "doc out of range");
  cr_assert_eq(lp_index_put_ids(ix, 1, good, 2), LP_OK);
  cr_assert_eq(lp_index_df(ix, "alpha", 5), 1);

  lp_index_term q[1] = { { "alpha", 5, 1.0 } };
  lp_index_hit h[2];
  size_t nh = 0;
  cr_assert_eq(lp_index_topk(ix, q, 1, NULL, 2, h, &nh), LP_OK);
  cr_assert_eq(nh, 1);
  cr_assert_eq(h[0].doc, 1);

  /* an id whose pins and uses are all gone is no longer accepted */
  cr_assert_eq(lp_index_term_pin(ix, "beta", 4, &b), LP_OK);
  lp_index_term_unpin(ix, b);
  lp_index_tterm gone[1] = { { b, 1.0 } };
  cr_assert_eq(lp_index_put_ids(ix, 2, gone, 1), LP_EINVAL);
  cr_assert_eq(lp_index_df(ix, "beta", 4), 0);
  lp_index_term_unpin(ix, b);  /* an extra unpin is harmless */
  lp_index_term_unpin(ix, 123456);

  /* a pinned id stays valid while the docs using it come and go */
  cr_assert_eq(lp_index_delete(ix, 1), LP_OK);
  lp_index_term_unpin(ix, a);
  cr_assert_eq(lp_index_put_ids(ix, 3, good, 1), LP_OK, "still pinned once");
  cr_assert_eq(lp_index_df(ix, "alpha", 5), 1);
  lp_index_free(ix);
}
