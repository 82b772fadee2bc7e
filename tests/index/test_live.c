/*
 * The per-segment live bitmaps (index_int.h, Liveness): after every put, replace, delete, expiry (a put of
 * a shorter term vector) and merge step, each segment's bitmap must say exactly what the doc table says
 * (bit set <=> the doc's current version is that segment, and that slot in a mutable one), its count of
 * set bits must be the segment's live docs, and WAND must still equal exhaustive scoring, with no deleted
 * or expired doc in any answer.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/index.h"
#include "index/index_int.h"

#define NDOCS 600
#define VOCAB 150

static char names[VOCAB][16];
static uint8_t alive[NDOCS];           /* the test's own view: doc is in the index */
static uint8_t has[NDOCS][VOCAB];      /* and holds that term */

static uint64_t rnd(uint64_t *s) {  /* splitmix64 */
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static lp_index *mk(uint32_t mem_postings) {
  lp_index_params p;
  lp_index_params_default(&p);
  p.mem_postings = mem_postings;
  p.merge_factor = 2;
  lp_index *ix = NULL;
  char err[128];
  cr_assert_eq(lp_index_new(&ix, &p, err, sizeof err), LP_OK, "%s", err);
  for (int i = 0; i < VOCAB; i++) snprintf(names[i], sizeof names[i], "w%d", i);
  memset(alive, 0, sizeof alive);
  memset(has, 0, sizeof has);
  return ix;
}

/* Every segment's bitmap against the doc table, both ways. */
static void check_bits(const lp_index *ix) {
  for (uint32_t i = 0; i < ix->nsegs; i++) {
    const ix_seg *s = ix->segs[i];
    uint32_t set = 0;
    for (uint32_t key = 0; key < s->nbits; key++) {
      int want;
      if (s->kind == IX_MEM) {
        uint32_t doc = key < s->ndocs ? s->docs[key] : 0;
        want = key < s->ndocs && ix->hot[doc].seg == s->id && ix->docs[doc].slot == key;
      } else {
        want = key < ix->docs_cap && ix->hot[key].seg == s->id;
      }
      cr_assert_eq(lp__ix_live(s, key), want, "segment %u (kind %d) key %u: bit %d, doc table %d", s->id, s->kind,
                   key, lp__ix_live(s, key), want);
      set += (uint32_t)want;
    }
    cr_assert_eq(set, s->live_docs, "segment %u: %u live bits, %u live docs", s->id, set, s->live_docs);
    if (s->kind == IX_FROZEN)  /* every live doc of a compressed segment is covered by its bitmap */
      for (uint32_t d = 0; d < ix->docs_cap; d++)
        if (ix->hot[d].seg == s->id) cr_assert(d < s->nbits, "doc %u past segment %u's bitmap", d, s->id);
  }
}

static void put(lp_index *ix, uint64_t *seed, uint32_t doc, uint32_t nterms) {
  lp_index_term t[40];
  memset(has[doc], 0, VOCAB);
  for (uint32_t i = 0; i < nterms; i++) {
    uint32_t a = (uint32_t)(rnd(seed) % VOCAB), b = (uint32_t)(rnd(seed) % VOCAB), w = a < b ? a : b;
    t[i] = (lp_index_term){ names[w], strlen(names[w]), 1.0 + (double)(rnd(seed) % 4) };
    has[doc][w] = 1;
  }
  cr_assert_eq(lp_index_put(ix, doc, t, nterms), LP_OK, "%s", lp_index_errstr(ix));
  alive[doc] = 1;
}

/* Expiry as the shard does it: the lead's vector loses its old terms and is put again, shorter. */
static void expire(lp_index *ix, uint64_t *seed, uint32_t doc) {
  lp_index_term t[VOCAB];
  uint8_t keep[VOCAB] = { 0 };
  uint32_t n = 0;
  for (uint32_t w = 0; w < VOCAB; w++)
    if (has[doc][w] && rnd(seed) % 2) {
      keep[w] = 1;
      t[n++] = (lp_index_term){ names[w], strlen(names[w]), 1.0 };
    }
  memcpy(has[doc], keep, VOCAB);
  cr_assert_eq(lp_index_put(ix, doc, t, n), LP_OK, "%s", lp_index_errstr(ix));
}

/* WAND = exhaustive for a few queries; every hit is alive and holds a query term. */
static void check_queries(lp_index *ix, uint64_t *seed) {
  static lp_index_hit h[NDOCS], e[NDOCS];
  for (int qn = 0; qn < 8; qn++) {
    lp_index_term q[4];
    uint32_t nq = 1 + (uint32_t)(rnd(seed) % 4), ws[4];
    for (uint32_t i = 0; i < nq; i++) {
      ws[i] = (uint32_t)(rnd(seed) % VOCAB);
      q[i] = (lp_index_term){ names[ws[i]], strlen(names[ws[i]]), 1.0 };
    }
    size_t k = 1 + rnd(seed) % 40, nh = 0, ne = 0;
    cr_assert_eq(lp_index_topk(ix, q, nq, NULL, k, h, &nh), LP_OK);
    cr_assert_eq(lp_index_topk_exhaustive(ix, q, nq, NULL, k, e, &ne), LP_OK);
    cr_assert_eq(nh, ne, "WAND %zu hits, exhaustive %zu", nh, ne);
    for (size_t i = 0; i < nh; i++) {
      cr_assert_eq(h[i].doc, e[i].doc, "hit %zu: doc %u against %u", i, h[i].doc, e[i].doc);
      cr_assert_float_eq(h[i].score, e[i].score, 1e-9);
      cr_assert(alive[h[i].doc], "doc %u is deleted but found", h[i].doc);
      int holds = 0;
      for (uint32_t j = 0; j < nq; j++) holds |= has[h[i].doc][ws[j]];
      cr_assert(holds, "doc %u holds no query term (expired?) but was found", h[i].doc);
    }
  }
}

static void step(lp_index *ix, size_t budget) {
  int more;
  cr_assert_eq(lp_index_step(ix, budget, &more), LP_OK, "%s", lp_index_errstr(ix));
}

Test(index_live, bits_reserve_grows_and_keeps_bits) {
  ix_seg s = { 0 };
  cr_assert_eq(lp__ix_bits_reserve(&s, 1), LP_OK);
  cr_assert_geq(s.nbits, 1);
  cr_assert(!lp__ix_live(&s, 0));
  lp__ix_live_set(&s, 0);
  lp__ix_live_set(&s, s.nbits - 1);
  uint32_t before = s.nbits;
  cr_assert_eq(lp__ix_bits_reserve(&s, before), LP_OK);  /* already covered: unchanged */
  cr_assert_eq(s.nbits, before);
  cr_assert_eq(lp__ix_bits_reserve(&s, 5000), LP_OK);
  cr_assert_geq(s.nbits, 5000);
  cr_assert(lp__ix_live(&s, 0) && lp__ix_live(&s, before - 1), "old bits kept");
  for (uint32_t k = before; k < s.nbits; k++) cr_assert(!lp__ix_live(&s, k), "new bit %u set", k);
  cr_assert(!lp__ix_live(&s, s.nbits), "a key past the bitmap is dead");
  cr_assert(!lp__ix_live(&s, UINT32_MAX - 1));
  lp__ix_live_clear(&s, 0);
  lp__ix_live_clear(&s, UINT32_MAX - 1);  /* past the bitmap: nothing to clear, no write */
  cr_assert(!lp__ix_live(&s, 0));
  free(s.lbits);
}

Test(index_live, deletes_in_mutable_and_compressed_segments) {
  lp_index *ix = mk(400);
  uint64_t seed = 11;
  for (uint32_t d = 0; d < 200; d++) put(ix, &seed, d, 6 + (uint32_t)(rnd(&seed) % 10));
  check_bits(ix);
  for (uint32_t d = 0; d < 200; d += 3) {  /* deletes while some segments are still mutable */
    cr_assert_eq(lp_index_delete(ix, d), LP_OK);
    alive[d] = 0;
  }
  check_bits(ix);
  check_queries(ix, &seed);
  int more = 1;
  while (more) cr_assert_eq(lp_index_step(ix, 500, &more), LP_OK);
  check_bits(ix);
  for (uint32_t d = 1; d < 200; d += 3) {  /* and in compressed ones */
    cr_assert_eq(lp_index_delete(ix, d), LP_OK);
    alive[d] = 0;
  }
  cr_assert_eq(lp_index_delete(ix, 0), LP_ENOENT, "a deleted doc is gone");
  check_bits(ix);
  check_queries(ix, &seed);
  lp_index_free(ix);
}

Test(index_live, replaces_deletes_and_expiry_during_merges) {
  lp_index *ix = mk(300);
  uint64_t seed = 29;
  for (int round = 0; round < 40; round++) {
    for (int op = 0; op < 60; op++) {
      uint32_t d = (uint32_t)(rnd(&seed) % NDOCS), r = (uint32_t)(rnd(&seed) % 10);
      if (r < 5 || !alive[d]) {
        put(ix, &seed, d, 1 + (uint32_t)(rnd(&seed) % 30));
      } else if (r < 7) {
        cr_assert_eq(lp_index_delete(ix, d), LP_OK);
        alive[d] = 0;
      } else {
        expire(ix, &seed, d);
      }
      if (op % 7 == 0) step(ix, 1 + rnd(&seed) % 300);  /* small budgets: merges stay open across ops */
    }
    check_bits(ix);
    check_queries(ix, &seed);
  }
  int more = 1;
  while (more) cr_assert_eq(lp_index_step(ix, 10000, &more), LP_OK);
  check_bits(ix);
  check_queries(ix, &seed);
  lp_index_stats st;
  lp_index_stats_get(ix, &st);
  uint32_t n = 0;
  for (uint32_t d = 0; d < NDOCS; d++) n += alive[d];
  cr_assert_eq(st.docs, n);
  lp_index_free(ix);
}
