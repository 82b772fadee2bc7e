/*
 * hnsw_repair.c: mending the graph around tombstones in small steps, then recycling their slots.
 *
 * A sweep starts by marking every tombstone DOOMED, then visits every slot in id order, a bounded number
 * per call. A visited node that links to a dead node (doomed or deleted since) gets a new list at that
 * level, chosen by the heuristic among its live neighbours, the live neighbours of its dead neighbours
 * (the nodes the dead one used to connect it to) and the result of a layer
 * search for its own vector; the chosen neighbours link back to it as on insert, so the region stays
 * reachable. Inserts between calls never link to a dead node. So when the sweep ends no list holds a
 * doomed node: their slots go to the free stack, and the entry point moves first if it was doomed.
 */
#include "ann/hnsw_int.h"

#include "base/alloc.h"

/* Adds id to nb's list at lev as an insert does (same rule as hnsw.c's link_back, which is static
 * there; repeated to keep the insert path free of repair concerns). */
static void link_back(lp_hnsw *h, uint32_t nb, uint32_t id, uint32_t lev) {
  uint32_t *l = lp__hnsw_links(h, nb, lev), maxl = lp__hnsw_maxlinks(h, lev);
  for (uint32_t j = 1; j <= l[0]; j++)
    if (l[j] == id) return;
  if (l[0] < maxl) {
    l[++l[0]] = id;
    return;
  }
  const float *v = lp__hnsw_vec(h, nb);
  lp__hnsw_cand *c = h->sel;
  size_t n = 0;
  c[n++] = (lp__hnsw_cand){ lp__hnsw_dist(h, v, lp__hnsw_vec(h, id)), id };
  for (uint32_t j = 1; j <= l[0]; j++) {
    if (h->state[l[j]] != LP__HNSW_LIVE) continue;
    c[n++] = (lp__hnsw_cand){ lp__hnsw_dist(h, v, lp__hnsw_vec(h, l[j])), l[j] };
  }
  size_t k = lp__hnsw_select(h, c, n, maxl);
  l[0] = (uint32_t)k;
  for (size_t j = 0; j < k; j++) l[1 + j] = c[j].id;
}

static int in_cands(const lp__hnsw_cand *c, size_t n, uint32_t id) {
  for (size_t i = 0; i < n; i++)
    if (c[i].id == id) return 1;
  return 0;
}

/* Rebuilds u's list at lev when it holds a dead node. h->sel has room for m0 + m0 * m0 + ef_construction
 * candidates (reserved by lp_hnsw_repair). */
static void mend(lp_hnsw *h, uint32_t u, uint32_t lev) {
  uint32_t *l = lp__hnsw_links(h, u, lev), maxl = lp__hnsw_maxlinks(h, lev);
  int dead = 0;
  for (uint32_t j = 1; j <= l[0] && !dead; j++) dead = h->state[l[j]] != LP__HNSW_LIVE;
  if (!dead) return;

  const float *v = lp__hnsw_vec(h, u);
  lp__hnsw_cand *c = h->sel;
  size_t n = 0;
  lp__hnsw_visit_reset(h);
  uint32_t epoch = h->epoch;
  h->visited[u] = epoch;
  for (uint32_t j = 1; j <= l[0]; j++) {
    uint32_t x = l[j];
    if (h->state[x] == LP__HNSW_LIVE) {
      if (h->visited[x] == epoch) continue;
      h->visited[x] = epoch;
      c[n++] = (lp__hnsw_cand){ lp__hnsw_dist(h, v, lp__hnsw_vec(h, x)), x };
      continue;
    }
    const uint32_t *dl = lp__hnsw_links(h, x, lev);
    for (uint32_t i = 1; i <= dl[0]; i++) {
      uint32_t y = dl[i];
      if (h->visited[y] == epoch || h->state[y] != LP__HNSW_LIVE) continue;
      h->visited[y] = epoch;
      c[n++] = (lp__hnsw_cand){ lp__hnsw_dist(h, v, lp__hnsw_vec(h, y)), y };
    }
  }
  if (h->entry != LP__HNSW_NONE && h->max_level >= lev) {
    uint32_t ep = lp__hnsw_descend(h, v, lev);
    lp__hnsw_search_layer(h, v, ep, h->ef_construction, lev);
    for (size_t i = 0; i < h->top.n; i++) {
      lp__hnsw_cand t = h->top.v[i];
      if (t.id != u && !in_cands(c, n, t.id)) c[n++] = t;
    }
  }
  size_t k = lp__hnsw_select(h, c, n, maxl);
  l[0] = (uint32_t)k;
  for (size_t j = 0; j < k; j++) l[1 + j] = c[j].id;
  /* link_back reuses h->sel: the chosen ids are read back from l. */
  for (size_t j = 0; j < k; j++) link_back(h, l[1 + j], u, lev);
}

/* Room on the free stack for every tombstone (a loaded index may resume a sweep with a tight stack). */
static int reserve_free(lp_hnsw *h) {
  uint32_t need = h->n_free + h->deleted;
  if (need > h->cap_free) {
    uint32_t *f = lp_realloc(h->free_ids, (size_t)need * sizeof *f);
    if (!f) return LP_ENOMEM;
    h->free_ids = f;
    h->cap_free = need;
  }
  return LP_OK;
}

/* Marks every tombstone DOOMED. */
static void sweep_start(lp_hnsw *h) {
  for (uint32_t i = 0; i < h->n; i++)
    if (h->state[i] == LP__HNSW_DELETED) h->state[i] = LP__HNSW_DOOMED;
  h->sweep_active = 1;
  h->sweep_cursor = 0;
}

/* The node of the highest level (a live one on ties, then the lowest id), or NONE: a deleted node may
 * serve as the entry (searches walk through it), and max_level stays the top level of the graph. */
static void pick_entry(lp_hnsw *h) {
  uint32_t best = LP__HNSW_NONE;
  int best_live = 0;
  for (uint32_t i = 0; i < h->n; i++) {
    uint8_t s = h->state[i];
    if (s == LP__HNSW_DOOMED || s == LP__HNSW_FREE) continue;
    int live = s == LP__HNSW_LIVE;
    if (best == LP__HNSW_NONE || h->level[i] > h->level[best] || (h->level[i] == h->level[best] && live > best_live)) {
      best = i;
      best_live = live;
    }
  }
  h->entry = best;
  h->max_level = best == LP__HNSW_NONE ? 0 : h->level[best];
}

static void sweep_finish(lp_hnsw *h) {
  if (h->entry != LP__HNSW_NONE && h->state[h->entry] == LP__HNSW_DOOMED) pick_entry(h);
  for (uint32_t i = 0; i < h->n; i++) {
    if (h->state[i] != LP__HNSW_DOOMED) continue;
    h->state[i] = LP__HNSW_FREE;
    lp_free(h->upper[i]);
    h->upper[i] = NULL;
    h->level[i] = 0;
    lp__hnsw_links(h, i, 0)[0] = 0;
    h->free_ids[h->n_free++] = i;
    h->deleted--;
  }
  h->sweep_active = 0;
  h->sweep_cursor = 0;
}

int lp_hnsw_repair(lp_hnsw *h, uint32_t max_nodes) {
  if (!h->sweep_active && h->deleted == 0) return 0;
  size_t need = (size_t)h->m0 + (size_t)h->m0 * h->m0 + h->ef_construction + 1;
  if (reserve_free(h) || lp__hnsw_sel_reserve(h, need)) return LP_ENOMEM;
  if (!h->sweep_active) sweep_start(h);
  uint32_t end = h->sweep_cursor + max_nodes;
  if (end > h->n || end < h->sweep_cursor) end = h->n;
  for (uint32_t u = h->sweep_cursor; u < end; u++) {
    uint8_t s = h->state[u];
    if (s != LP__HNSW_LIVE && s != LP__HNSW_DELETED) continue;
    for (uint32_t lev = 0; lev <= h->level[u]; lev++) mend(h, u, lev);
  }
  h->sweep_cursor = end;
  if (end < h->n) return (int)(h->n - end);
  sweep_finish(h);
  return h->deleted ? (int)h->n : 0;
}
