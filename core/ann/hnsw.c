/*
 * hnsw.c: the HNSW index's life cycle, slots and label map, insert (Algorithm 1 of the paper), delete
 * (tombstones) and k-NN search (Algorithm 5). The inner loops are in hnsw_graph.c, the repair of
 * tombstones in hnsw_repair.c, checkpoints in hnsw_io.c.
 */
#include "ann/hnsw_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"

static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static uint64_t mix(uint64_t x) {
  return splitmix64(&x);
}

/* ---- label map ---------------------------------------------------------------------------------- */

static int map_grow(lp_hnsw *h) {
  uint32_t cap = h->map_cap ? h->map_cap * 2 : 1024;
  uint64_t *keys = lp_malloc((size_t)cap * sizeof *keys);
  uint32_t *ids = lp_malloc((size_t)cap * sizeof *ids);
  if (!keys || !ids) {
    lp_free(keys);
    lp_free(ids);
    return LP_ENOMEM;
  }
  memset(ids, 0xFF, (size_t)cap * sizeof *ids);
  for (uint32_t i = 0; i < h->map_cap; i++) {
    if (h->map_ids[i] == LP__HNSW_NONE) continue;
    uint32_t j = (uint32_t)mix(h->map_keys[i]) & (cap - 1);
    while (ids[j] != LP__HNSW_NONE) j = (j + 1) & (cap - 1);
    keys[j] = h->map_keys[i];
    ids[j] = h->map_ids[i];
  }
  lp_free(h->map_keys);
  lp_free(h->map_ids);
  h->map_keys = keys;
  h->map_ids = ids;
  h->map_cap = cap;
  return LP_OK;
}

/* Inserts label -> id; the label must not be present. LP_ENOMEM leaves the map as it was. */
int lp__hnsw_map_put(lp_hnsw *h, uint64_t label, uint32_t id) {
  if ((h->map_n + 1) * 2 > h->map_cap) {
    int rc = map_grow(h);
    if (rc) return rc;
  }
  uint32_t mask = h->map_cap - 1, j = (uint32_t)mix(label) & mask;
  while (h->map_ids[j] != LP__HNSW_NONE) j = (j + 1) & mask;
  h->map_keys[j] = label;
  h->map_ids[j] = id;
  h->map_n++;
  return LP_OK;
}

static uint32_t map_slot(const lp_hnsw *h, uint64_t label) {
  if (!h->map_cap) return LP__HNSW_NONE;
  uint32_t mask = h->map_cap - 1;
  for (uint32_t j = (uint32_t)mix(label) & mask;; j = (j + 1) & mask) {
    if (h->map_ids[j] == LP__HNSW_NONE) return LP__HNSW_NONE;
    if (h->map_keys[j] == label) return j;
  }
}

uint32_t lp__hnsw_map_get(const lp_hnsw *h, uint64_t label) {
  uint32_t j = map_slot(h, label);
  return j == LP__HNSW_NONE ? LP__HNSW_NONE : h->map_ids[j];
}

/* Backward-shift deletion: later entries of the probe run move up, so the map needs no tombstones. */
static void map_del(lp_hnsw *h, uint32_t j) {
  uint32_t mask = h->map_cap - 1;
  for (uint32_t k = (j + 1) & mask; h->map_ids[k] != LP__HNSW_NONE; k = (k + 1) & mask) {
    uint32_t home = (uint32_t)mix(h->map_keys[k]) & mask;
    /* k's entry may move to j when its home is not in (j, k] (cyclically). */
    if ((j < k) ? (home <= j || home > k) : (home <= j && home > k)) {
      h->map_keys[j] = h->map_keys[k];
      h->map_ids[j] = h->map_ids[k];
      j = k;
    }
  }
  h->map_ids[j] = LP__HNSW_NONE;
  h->map_n--;
}

/* ---- slots -------------------------------------------------------------------------------------- */

#define GROW(field, n)                                                      \
  do {                                                                      \
    void *p_ = lp_realloc(h->field, (size_t)(n) * sizeof *h->field);        \
    if (!p_) return LP_ENOMEM;                                              \
    h->field = p_;                                                          \
  } while (0)

/* Makes room for `slots` slots: every per-slot array and the heaps (which then never overflow, since a
 * search pushes each node at most once). A failure leaves the arrays valid at their old capacity. */
int lp__hnsw_reserve(lp_hnsw *h, uint32_t slots) {
  if (slots <= h->cap) return LP_OK;
  if (slots > LP_HNSW_MAX_NODES) return LP_ENOMEM;
  uint32_t cap = h->cap ? h->cap : 1024;
  while (cap < slots) cap = cap > LP_HNSW_MAX_NODES / 2 ? LP_HNSW_MAX_NODES : cap * 2;
  GROW(vecs, (size_t)cap * h->stride);
  GROW(links0, (size_t)cap * (1 + h->m0));
  GROW(upper, cap);
  GROW(labels, cap);
  GROW(level, cap);
  GROW(state, cap);
  GROW(visited, cap);
  GROW(cand.v, (size_t)cap + 1);
  GROW(top.v, (size_t)cap + 1);
  GROW(tmp.v, (size_t)cap + 1);
  memset(h->visited + h->cap, 0, (size_t)(cap - h->cap) * sizeof *h->visited);
  memset(h->upper + h->cap, 0, (size_t)(cap - h->cap) * sizeof *h->upper);
  h->cand.cap = h->top.cap = h->tmp.cap = (size_t)cap + 1;
  h->cap = cap;
  return LP_OK;
}

int lp__hnsw_alloc_upper(lp_hnsw *h, uint32_t id, uint32_t level) {
  lp_free(h->upper[id]);
  h->upper[id] = NULL;
  if (level == 0) return LP_OK;
  h->upper[id] = lp_calloc((size_t)level * (1 + h->m), sizeof(uint32_t));
  return h->upper[id] ? LP_OK : LP_ENOMEM;
}

size_t lp__hnsw_node_bytes(const lp_hnsw *h) {
  return (size_t)h->stride * sizeof(float) + (1 + (size_t)h->m0) * sizeof(uint32_t) + sizeof(uint32_t *) +
         sizeof(uint64_t) + 2 + sizeof(uint32_t) + 3 * sizeof(lp__hnsw_cand);
}

/* ---- life cycle --------------------------------------------------------------------------------- */

int lp_hnsw_new(lp_hnsw **out, const lp_hnsw_opts *o, char *errstr, size_t errstr_size) {
  if (!o || o->dim == 0 || o->dim > LP_HNSW_MAX_DIM) {
    snprintf(errstr, errstr_size, "hnsw: dim must be 1..%u", LP_HNSW_MAX_DIM);
    return LP_EINVAL;
  }
  uint32_t m = o->m ? o->m : 16, efc = o->ef_construction ? o->ef_construction : 200;
  uint32_t efs = o->ef_search ? o->ef_search : 64;
  if (m < 2 || m > LP_HNSW_MAX_M) {
    snprintf(errstr, errstr_size, "hnsw: m must be 2..%u, got %u", LP_HNSW_MAX_M, m);
    return LP_EINVAL;
  }
  if (efc > LP_HNSW_MAX_EF || efs > LP_HNSW_MAX_EF) {
    snprintf(errstr, errstr_size, "hnsw: ef_construction and ef_search must be at most %u", LP_HNSW_MAX_EF);
    return LP_EINVAL;
  }
  if (o->metric != LP_HNSW_COSINE && o->metric != LP_HNSW_L2) {
    snprintf(errstr, errstr_size, "hnsw: unknown metric %d", (int)o->metric);
    return LP_EINVAL;
  }
  lp_hnsw *h = lp_calloc(1, sizeof *h);
  if (!h) return LP_ENOMEM;
  h->dim = o->dim;
  h->stride = (o->dim + 7u) & ~7u;
  h->metric = o->metric;
  h->m = m;
  h->m0 = 2 * m;
  h->ef_construction = efc;
  h->ef_search = efs;
  h->ml = 1.0 / log((double)m);
  h->rng = o->seed;
  h->entry = LP__HNSW_NONE;
  int rc = lp__hnsw_reserve(h, o->capacity ? o->capacity : 1024);
  if (!rc) rc = lp__hnsw_sel_reserve(h, (efc > h->m0 ? efc : h->m0) + 1);
  if (!rc) h->qbuf = lp_calloc(h->stride, sizeof(float));
  if (rc || !h->qbuf) {
    lp_hnsw_free(h);
    snprintf(errstr, errstr_size, "hnsw: out of memory");
    return LP_ENOMEM;
  }
  *out = h;
  return LP_OK;
}

void lp_hnsw_free(lp_hnsw *h) {
  if (!h) return;
  for (uint32_t i = 0; i < h->n; i++) lp_free(h->upper[i]);
  lp_free(h->vecs);
  lp_free(h->links0);
  lp_free(h->upper);
  lp_free(h->labels);
  lp_free(h->level);
  lp_free(h->state);
  lp_free(h->visited);
  lp_free(h->cand.v);
  lp_free(h->top.v);
  lp_free(h->tmp.v);
  lp_free(h->free_ids);
  lp_free(h->map_keys);
  lp_free(h->map_ids);
  lp_free(h->qbuf);
  lp_free(h->sel);
  lp_free(h);
}

/* ---- insert ------------------------------------------------------------------------------------- */

/* Copies v into dst (stride floats, zero padded), normalised for cosine. LP_EINVAL: a non-finite
 * component, or a zero vector under cosine. */
static int prepare(const lp_hnsw *h, const float *v, size_t dim, float *dst, const char *what,
                   char *errstr, size_t errstr_size) {
  if (dim != h->dim || !v) {
    snprintf(errstr, errstr_size, "hnsw: %s has dimension %zu, the index %u", what, dim, h->dim);
    return LP_EINVAL;
  }
  double norm = 0;
  for (uint32_t i = 0; i < h->dim; i++) {
    if (!isfinite(v[i])) {
      snprintf(errstr, errstr_size, "hnsw: %s component %u is not finite", what, i);
      return LP_EINVAL;
    }
    norm += (double)v[i] * v[i];
  }
  float scale = 1.0f;
  if (h->metric == LP_HNSW_COSINE) {
    if (norm == 0) {
      snprintf(errstr, errstr_size, "hnsw: %s is a zero vector (no direction for cosine)", what);
      return LP_EINVAL;
    }
    scale = (float)(1.0 / sqrt(norm));
  }
  for (uint32_t i = 0; i < h->dim; i++) dst[i] = v[i] * scale;
  for (uint32_t i = h->dim; i < h->stride; i++) dst[i] = 0;
  return LP_OK;
}

static uint32_t random_level(lp_hnsw *h) {
  /* U in (0, 1]: 53 random bits, plus one so that log(U) is finite. */
  double u = (double)((splitmix64(&h->rng) >> 11) + 1) * 0x1.0p-53;
  double l = floor(-log(u) * h->ml);
  return l > LP__HNSW_MAX_LEVEL ? LP__HNSW_MAX_LEVEL : (uint32_t)l;
}

/* Adds id to nb's list at lev; a full list is re-chosen by the heuristic among its live members and
 * id (dead members are dropped there: the repair would drop them anyway). */
static void link_back(lp_hnsw *h, uint32_t nb, uint32_t id, uint32_t lev) {
  uint32_t *l = lp__hnsw_links(h, nb, lev), maxl = lp__hnsw_maxlinks(h, lev);
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

/* Links the new node id (already written, level `level`) into the graph; returns how many neighbours
 * it got at level 0. Cannot fail: scratch was sized by lp__hnsw_reserve and lp_hnsw_new. */
static size_t connect(lp_hnsw *h, uint32_t id, uint32_t level) {
  const float *v = lp__hnsw_vec(h, id);
  uint32_t cur = h->entry;
  if (level < h->max_level) cur = lp__hnsw_descend(h, v, level);
  for (uint32_t lev = level < h->max_level ? level : h->max_level;; lev--) {
    lp__hnsw_search_layer(h, v, cur, h->ef_construction, lev);
    size_t n = 0;
    while (h->top.n) h->sel[n++] = lp__hnsw_heap_pop_max(&h->top);
    size_t k = lp__hnsw_select(h, h->sel, n, h->m);
    uint32_t *l = lp__hnsw_links(h, id, lev);
    l[0] = (uint32_t)k;
    for (size_t j = 0; j < k; j++) l[1 + j] = h->sel[j].id;
    if (k) cur = l[1];
    /* link_back reuses h->sel: copy the chosen ids first (they are in l). */
    for (size_t j = 0; j < k; j++) link_back(h, l[1 + j], id, lev);
    if (lev == 0) return k;
  }
}

int lp_hnsw_add(lp_hnsw *h, uint64_t label, const float *vec, size_t dim, char *errstr,
                size_t errstr_size) {
  int rc = prepare(h, vec, dim, h->qbuf, "vector", errstr, errstr_size);
  if (rc) return rc;
  if (lp__hnsw_map_get(h, label) != LP__HNSW_NONE) {
    snprintf(errstr, errstr_size, "hnsw: label %llu is already in the index", (unsigned long long)label);
    return LP_EEXIST;
  }
  uint32_t id = h->n_free ? h->free_ids[h->n_free - 1] : h->n;
  uint64_t rng = h->rng;
  uint32_t level = random_level(h);
  if (id == h->n) rc = lp__hnsw_reserve(h, h->n + 1);
  if (!rc) rc = lp__hnsw_alloc_upper(h, id, level);
  if (!rc) rc = lp__hnsw_map_put(h, label, id);
  if (rc) {
    h->rng = rng;
    if (id < h->cap) {
      lp_free(h->upper[id]);
      h->upper[id] = NULL;
    }
    snprintf(errstr, errstr_size, "hnsw: out of memory at %u vectors", h->live);
    return LP_ENOMEM;
  }
  if (id == h->n) h->n++;
  else h->n_free--;
  memcpy(lp__hnsw_vec(h, id), h->qbuf, (size_t)h->stride * sizeof(float));
  lp__hnsw_links(h, id, 0)[0] = 0;
  h->labels[id] = label;
  h->level[id] = (uint8_t)level;
  h->state[id] = LP__HNSW_LIVE;
  h->live++;
  if (h->entry == LP__HNSW_NONE) {
    h->entry = id;
    h->max_level = level;
    return LP_OK;
  }
  /* No live node reachable (every node is a tombstone, or the graph around the entry is): the new node
   * starts the graph again as its entry, so that it and the next inserts are found. */
  if (!connect(h, id, level) || level > h->max_level) {
    h->entry = id;
    h->max_level = level;
  }
  return LP_OK;
}

/* ---- delete, search, facts ---------------------------------------------------------------------- */

int lp_hnsw_delete(lp_hnsw *h, uint64_t label) {
  uint32_t j = map_slot(h, label);
  if (j == LP__HNSW_NONE) return LP_ENOENT;
  uint32_t id = h->map_ids[j];
  map_del(h, j);
  h->state[id] = LP__HNSW_DELETED;
  h->live--;
  h->deleted++;
  return LP_OK;
}

int lp_hnsw_contains(const lp_hnsw *h, uint64_t label) {
  return lp__hnsw_map_get(h, label) != LP__HNSW_NONE;
}

int lp_hnsw_search(lp_hnsw *h, const float *query, size_t dim, size_t k, size_t ef, lp_hnsw_hit *out,
                   size_t *n_out, char *errstr, size_t errstr_size) {
  *n_out = 0;
  if (k == 0 || k > LP_HNSW_MAX_EF || ef > LP_HNSW_MAX_EF) {
    snprintf(errstr, errstr_size, "hnsw: k must be 1..%u and ef at most %u (k=%zu, ef=%zu)", LP_HNSW_MAX_EF,
             LP_HNSW_MAX_EF, k, ef);
    return LP_EINVAL;
  }
  int rc = prepare(h, query, dim, h->qbuf, "query", errstr, errstr_size);
  if (rc) return rc;
  if (h->live == 0) return LP_OK;
  if (ef == 0) ef = h->ef_search;
  if (ef < k) ef = k;
  uint32_t ep = lp__hnsw_descend(h, h->qbuf, 0);
  lp__hnsw_search_layer(h, h->qbuf, ep, (uint32_t)ef, 0);
  while (h->top.n > k) lp__hnsw_heap_pop_max(&h->top);
  size_t n = h->top.n;
  for (size_t i = n; i-- > 0;) {
    lp__hnsw_cand c = lp__hnsw_heap_pop_max(&h->top);
    out[i] = (lp_hnsw_hit){ h->labels[c.id], c.d };
  }
  /* Equal distances come out by id; order them by label so the answer does not depend on slots. */
  for (size_t i = 1; i < n; i++) {
    lp_hnsw_hit x = out[i];
    size_t j = i;
    while (j > 0 && out[j - 1].distance == x.distance && out[j - 1].label > x.label) {
      out[j] = out[j - 1];
      j--;
    }
    out[j] = x;
  }
  *n_out = n;
  return LP_OK;
}

void lp_hnsw_stats_get(const lp_hnsw *h, lp_hnsw_stats *out) {
  out->live = h->live;
  out->deleted = h->deleted;
  out->free_slots = h->n_free;
  out->max_level = h->entry == LP__HNSW_NONE ? 0 : h->max_level;
  size_t b = sizeof *h + (size_t)h->cap * lp__hnsw_node_bytes(h) + (size_t)h->cap_free * sizeof(uint32_t) +
             (size_t)h->map_cap * (sizeof(uint64_t) + sizeof(uint32_t)) + h->sel_cap * sizeof(lp__hnsw_cand) +
             (size_t)h->stride * sizeof(float);
  for (uint32_t i = 0; i < h->n; i++)
    if (h->upper[i]) b += (size_t)h->level[i] * (1 + h->m) * sizeof(uint32_t);
  out->bytes = b;
}

uint32_t lp_hnsw_dim(const lp_hnsw *h) {
  return h->dim;
}
