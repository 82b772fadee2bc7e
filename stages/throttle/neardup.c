/*
 * neardup.c: the near-duplicate index. Fingerprints (64-bit simhashes) are cut into 4 bands of 16 bits;
 * two fingerprints within Hamming distance 3 agree on at least one band (pigeonhole), so a lookup walks
 * only the entries that share a band value with the query: 4 chains of about n / 65536 entries each.
 *
 * Memory is bounded by two generations of capacity / 2 entries: inserts go to the current one; when it is
 * full, the previous one is forgotten and becomes the current one. At least capacity / 2 of the newest
 * fingerprints are always compared, at most capacity. Each entry also keeps the hash of (miner, id) so that
 * an exact re-send is left to the ingest stage (code "duplicate").
 */
#include <string.h>

#include "stages/throttle/throttle.h"

#define BANDS 4
#define BAND_VALUES 65536u
#define CHAIN_MAX 256   /* entries walked per band chain at most: bounds a lookup against crafted input */

static void gen_reset(lp__thr_nd_gen *g) {
  g->n = 0;
  memset(g->head, 0xff, sizeof(uint32_t) * BANDS * BAND_VALUES);
}

int lp__thr_nd_init(lp__thr_neardup *nd, const lp_host_api *h, uint32_t capacity) {
  memset(nd, 0, sizeof(*nd));
  nd->gen_cap = capacity / 2 > 0 ? capacity / 2 : 1;
  for (int g = 0; g < 2; g++) {
    nd->gen[g].e = h->malloc(sizeof(lp__thr_nd_entry) * nd->gen_cap);
    nd->gen[g].head = h->malloc(sizeof(uint32_t) * BANDS * BAND_VALUES);
    if (nd->gen[g].e == NULL || nd->gen[g].head == NULL) {
      lp__thr_nd_free(nd, h);
      return LP_ENOMEM;
    }
    gen_reset(&nd->gen[g]);
  }
  return LP_OK;
}

void lp__thr_nd_free(lp__thr_neardup *nd, const lp_host_api *h) {
  for (int g = 0; g < 2; g++) {
    h->free(nd->gen[g].e);
    h->free(nd->gen[g].head);
    nd->gen[g].e = NULL;
    nd->gen[g].head = NULL;
  }
}

void lp__thr_nd_clear(lp__thr_neardup *nd) {
  gen_reset(&nd->gen[0]);
  gen_reset(&nd->gen[1]);
  nd->cur = 0;
}

static uint32_t band(uint64_t fp, int b) { return (uint32_t)(fp >> (16 * b)) & 0xffffu; }

/* The 8 chains (2 generations x 4 bands) are walked side by side, one step of each in turn: each step is a
 * dependent load from a random place, and interleaving lets the CPU have 8 of those misses in flight instead
 * of one. The answer is the one a walk chain after chain gives (the current generation first, bands in
 * order, each chain newest first): the closest match, ties going to the one that walk meets first. */
typedef struct nd_cursor {
  const lp__thr_nd_gen *g;
  uint32_t i;
  int b;
  int steps;
  int order;   /* (generation, band) in walk order */
} nd_cursor;

const lp__thr_nd_entry *lp__thr_nd_find(const lp__thr_neardup *nd, uint64_t fp, uint64_t key, int64_t ts, int64_t window,
                                int dist_max, int *dist, int *resend) {
  *resend = 0;
  const lp__thr_nd_entry *best = NULL;
  int best_d = 65;
  long best_rank = 0;
  nd_cursor cur[2 * BANDS];
  int live = 0;
  for (int gi = 0; gi < 2; gi++) {
    const lp__thr_nd_gen *g = &nd->gen[(nd->cur + gi) & 1];  /* the current generation first */
    for (int b = 0; b < BANDS; b++) {
      uint32_t i = g->head[(uint32_t)b * BAND_VALUES + band(fp, b)];
      if (i != LP__NONE) cur[live++] = (nd_cursor){ g, i, b, 0, gi * BANDS + b };
    }
  }
  while (live > 0) {
    for (int k = 0; k < live;) {
      nd_cursor *c = &cur[k];
      const lp__thr_nd_entry *e = &c->g->e[c->i];
      int64_t age = ts - e->ts;
      if (age <= window && age >= -window) {
        int d = __builtin_popcountll(fp ^ e->fp);
        if (d <= dist_max) {
          long rank = (long)c->order * CHAIN_MAX + c->steps;
          if (e->key == key) *resend = 1;
          else if (d < best_d || (d == best_d && rank < best_rank)) {
            best = e;
            best_d = d;
            best_rank = rank;
          }
        }
      }
      c->i = e->next[c->b];
      if (c->i == LP__NONE || ++c->steps >= CHAIN_MAX) {
        *c = cur[--live];   /* this chain is done; the order of the others does not matter */
        continue;
      }
      __builtin_prefetch(&c->g->e[c->i]);
      k++;
    }
  }
  *dist = best != NULL ? best_d : -1;
  return best;
}

void lp__thr_nd_insert(lp__thr_neardup *nd, uint64_t fp, uint64_t key, int64_t ts) {
  lp__thr_nd_gen *g = &nd->gen[nd->cur];
  if (g->n >= nd->gen_cap) {
    nd->cur ^= 1;
    g = &nd->gen[nd->cur];
    gen_reset(g);  /* forget the previous generation */
  }
  uint32_t idx = g->n++;
  lp__thr_nd_entry *e = &g->e[idx];
  e->fp = fp;
  e->key = key;
  e->ts = ts;
  for (int b = 0; b < BANDS; b++) {
    uint32_t *head = &g->head[(uint32_t)b * BAND_VALUES + band(fp, b)];
    e->next[b] = *head;
    *head = idx;
  }
}
