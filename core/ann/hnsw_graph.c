/*
 * hnsw_graph.c: the inner loops of the HNSW index: the distance kernel, the candidate heaps, the greedy
 * descent through the upper levels, the best-first layer search and the neighbour-selection heuristic.
 * Everything here works on the owner thread's scratch (hnsw_int.h) and never allocates, except
 * lp__hnsw_sel_reserve.
 */
#include "ann/hnsw_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

/* Four float32 lanes; GCC and clang lower these to SSE on any x86-64 and to NEON on arm64, without
 * -march flags, so the build stays portable. Loads go through memcpy (no alignment assumption). */
typedef float lp__v4f __attribute__((vector_size(16)));

static inline lp__v4f load4(const float *p) {
  lp__v4f v;
  memcpy(&v, p, sizeof v);
  return v;
}

/* Rows are padded with zeros to a multiple of 8 floats, so the loop has no tail. Two independent
 * accumulators hide the latency of the adds. */
static float dot(const float *a, const float *b, uint32_t n) {
  lp__v4f s0 = { 0, 0, 0, 0 }, s1 = { 0, 0, 0, 0 };
  for (uint32_t i = 0; i < n; i += 8) {
    s0 += load4(a + i) * load4(b + i);
    s1 += load4(a + i + 4) * load4(b + i + 4);
  }
  s0 += s1;
  return (s0[0] + s0[1]) + (s0[2] + s0[3]);
}

static float l2sq(const float *a, const float *b, uint32_t n) {
  lp__v4f s0 = { 0, 0, 0, 0 }, s1 = { 0, 0, 0, 0 };
  for (uint32_t i = 0; i < n; i += 8) {
    lp__v4f d0 = load4(a + i) - load4(b + i);
    lp__v4f d1 = load4(a + i + 4) - load4(b + i + 4);
    s0 += d0 * d0;
    s1 += d1 * d1;
  }
  s0 += s1;
  return (s0[0] + s0[1]) + (s0[2] + s0[3]);
}

float lp__hnsw_dist(const lp_hnsw *h, const float *a, const float *b) {
  if (h->metric == LP_HNSW_COSINE) return 1.0f - dot(a, b, h->stride);
  return l2sq(a, b, h->stride);
}

/* Heaps: capacities follow the slot capacity (lp__hnsw_reserve), so a push never fails. Ties are
 * broken by id so that every run orders equal distances the same way. */
static inline int less(lp__hnsw_cand a, lp__hnsw_cand b) {
  return a.d < b.d || (a.d == b.d && a.id < b.id);
}

int lp__hnsw_heap_push_min(lp__hnsw_heap *hp, float d, uint32_t id) {
  size_t i = hp->n++;
  lp__hnsw_cand c = { d, id };
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!less(c, hp->v[p])) break;
    hp->v[i] = hp->v[p];
    i = p;
  }
  hp->v[i] = c;
  return LP_OK;
}

lp__hnsw_cand lp__hnsw_heap_pop_min(lp__hnsw_heap *hp) {
  lp__hnsw_cand top = hp->v[0], last = hp->v[--hp->n];
  size_t i = 0, n = hp->n;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && less(hp->v[c + 1], hp->v[c])) c++;
    if (!less(hp->v[c], last)) break;
    hp->v[i] = hp->v[c];
    i = c;
  }
  if (n) hp->v[i] = last;
  return top;
}

int lp__hnsw_heap_push_max(lp__hnsw_heap *hp, float d, uint32_t id) {
  size_t i = hp->n++;
  lp__hnsw_cand c = { d, id };
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!less(hp->v[p], c)) break;
    hp->v[i] = hp->v[p];
    i = p;
  }
  hp->v[i] = c;
  return LP_OK;
}

lp__hnsw_cand lp__hnsw_heap_pop_max(lp__hnsw_heap *hp) {
  lp__hnsw_cand top = hp->v[0], last = hp->v[--hp->n];
  size_t i = 0, n = hp->n;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && less(hp->v[c], hp->v[c + 1])) c++;
    if (!less(last, hp->v[c])) break;
    hp->v[i] = hp->v[c];
    i = c;
  }
  if (n) hp->v[i] = last;
  return top;
}

void lp__hnsw_visit_reset(lp_hnsw *h) {
  if (++h->epoch == 0) {
    memset(h->visited, 0, (size_t)h->cap * sizeof *h->visited);
    h->epoch = 1;
  }
}

uint32_t lp__hnsw_descend(lp_hnsw *h, const float *q, uint32_t to) {
  uint32_t cur = h->entry;
  float d = lp__hnsw_dist(h, q, lp__hnsw_vec(h, cur));
  for (uint32_t lev = h->max_level; lev > to; lev--) {
    int changed = 1;
    while (changed) {
      changed = 0;
      const uint32_t *l = lp__hnsw_links(h, cur, lev);
      for (uint32_t j = 1; j <= l[0]; j++) {
        float dn = lp__hnsw_dist(h, q, lp__hnsw_vec(h, l[j]));
        if (dn < d) {
          d = dn;
          cur = l[j];
          changed = 1;
        }
      }
    }
  }
  return cur;
}

/* Algorithm 2 of the paper, with tombstones as hnswlib handles them: a deleted node is walked through
 * (it keeps the graph connected until it is repaired) but never enters the result heap, and the search
 * stops on distance only once the result heap is full. */
int lp__hnsw_search_layer(lp_hnsw *h, const float *q, uint32_t ep, uint32_t ef, uint32_t lev) {
  lp__hnsw_heap *cand = &h->cand, *top = &h->top;
  const uint8_t *state = h->state;
  uint32_t *visited = h->visited;
  cand->n = top->n = 0;
  lp__hnsw_visit_reset(h);
  uint32_t epoch = h->epoch;

  float d = lp__hnsw_dist(h, q, lp__hnsw_vec(h, ep));
  float lower = INFINITY;
  visited[ep] = epoch;
  if (state[ep] == LP__HNSW_LIVE) {
    lp__hnsw_heap_push_max(top, d, ep);
    lower = d;
  }
  lp__hnsw_heap_push_min(cand, d, ep);
  while (cand->n) {
    lp__hnsw_cand c = cand->v[0];
    if (c.d > lower && top->n >= ef) break;
    lp__hnsw_heap_pop_min(cand);
    const uint32_t *l = lp__hnsw_links(h, c.id, lev);
    uint32_t cnt = l[0];
    if (cnt) __builtin_prefetch(lp__hnsw_vec(h, l[1]));
    for (uint32_t j = 1; j <= cnt; j++) {
      uint32_t nb = l[j];
      if (j < cnt) __builtin_prefetch(lp__hnsw_vec(h, l[j + 1]));
      if (visited[nb] == epoch) continue;
      visited[nb] = epoch;
      float dn = lp__hnsw_dist(h, q, lp__hnsw_vec(h, nb));
      if (top->n < ef || dn < lower) {
        lp__hnsw_heap_push_min(cand, dn, nb);
        if (state[nb] == LP__HNSW_LIVE) {
          lp__hnsw_heap_push_max(top, dn, nb);
          if (top->n > ef) lp__hnsw_heap_pop_max(top);
          lower = top->v[0].d;
        }
      }
    }
  }
  return LP_OK;
}

static int cmp_cand(const void *pa, const void *pb) {
  const lp__hnsw_cand *a = pa, *b = pb;
  if (a->d != b->d) return a->d < b->d ? -1 : 1;
  return a->id < b->id ? -1 : a->id > b->id;
}

/* Algorithm 4 without extension or kept pruned connections (hnswlib's getNeighborsByHeuristic2): a
 * candidate is kept when it is closer to the base than to every candidate kept before it, which spreads
 * the links over directions instead of spending them all on one dense cluster. */
size_t lp__hnsw_select(lp_hnsw *h, lp__hnsw_cand *c, size_t n, uint32_t m) {
  qsort(c, n, sizeof *c, cmp_cand);
  if (n <= m) return n;
  size_t kept = 0;
  for (size_t i = 0; i < n && kept < m; i++) {
    const float *v = lp__hnsw_vec(h, c[i].id);
    int good = 1;
    for (size_t j = 0; j < kept; j++) {
      if (lp__hnsw_dist(h, v, lp__hnsw_vec(h, c[j].id)) < c[i].d) {
        good = 0;
        break;
      }
    }
    if (good) c[kept++] = c[i];
  }
  return kept;
}

int lp__hnsw_sel_reserve(lp_hnsw *h, size_t n) {
  if (n <= h->sel_cap) return LP_OK;
  size_t cap = h->sel_cap ? h->sel_cap : 64;
  while (cap < n) cap *= 2;
  lp__hnsw_cand *v = lp_realloc(h->sel, cap * sizeof *v);
  if (!v) return LP_ENOMEM;
  h->sel = v;
  h->sel_cap = cap;
  return LP_OK;
}
