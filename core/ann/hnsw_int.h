/*
 * hnsw_int.h: the layout of an lp_hnsw and the helpers shared by hnsw.c (insert, delete, search),
 * hnsw_graph.c (distance, heaps, layer search, neighbour selection), hnsw_repair.c and hnsw_io.c.
 */
#ifndef LP_HNSW_INT_H
#define LP_HNSW_INT_H

#include "ann/hnsw.h"

#define LP__HNSW_MAX_LEVEL 31u
#define LP__HNSW_NONE UINT32_MAX

/* A slot's state. DOOMED: a tombstone that the running repair sweep will recycle when it completes. */
enum { LP__HNSW_LIVE = 0, LP__HNSW_DELETED = 1, LP__HNSW_DOOMED = 2, LP__HNSW_FREE = 3 };

typedef struct lp__hnsw_cand {
  float d;
  uint32_t id;
} lp__hnsw_cand;

/* A binary heap of candidates: min-heap (closest on top) or max-heap (farthest on top). */
typedef struct lp__hnsw_heap {
  lp__hnsw_cand *v;
  size_t n, cap;
} lp__hnsw_heap;

struct lp_hnsw {
  uint32_t dim, stride;          /* stride: dim rounded up to a multiple of 8 floats (zero padding) */
  lp_hnsw_metric metric;
  uint32_t m, m0, ef_construction, ef_search;
  double ml;                     /* 1 / ln(m) */
  uint64_t rng;                  /* splitmix64 state of the level generator */

  uint32_t n, cap;               /* slots in use (ids 0..n), allocated */
  float *vecs;                   /* cap * stride */
  uint32_t *links0;              /* cap * (1 + m0): count, then ids */
  uint32_t **upper;              /* cap: NULL, or level * (1 + m) uint32 for levels 1..level */
  uint64_t *labels;              /* cap */
  uint8_t *level;                /* cap */
  uint8_t *state;                /* cap: LP__HNSW_* */

  uint32_t entry;                /* entry point, LP__HNSW_NONE when the graph has no node */
  uint32_t max_level;
  uint32_t live, deleted;        /* deleted counts DELETED and DOOMED */

  uint32_t *free_ids;            /* recycled slots, a stack */
  uint32_t n_free, cap_free;

  uint64_t *map_keys;            /* label -> id of the live vector: linear probing, backward-shift delete */
  uint32_t *map_ids;             /* LP__HNSW_NONE = empty */
  uint32_t map_cap, map_n;

  uint32_t sweep_active, sweep_cursor;

  /* Scratch of searches (owner thread only). */
  uint32_t *visited;             /* cap: epoch mark */
  uint32_t epoch;
  lp__hnsw_heap cand, top, tmp;
  float *qbuf;                   /* stride: the normalised, padded query */
  lp__hnsw_cand *sel;            /* selection buffer of the neighbour heuristic */
  size_t sel_cap;
};

static inline float *lp__hnsw_vec(const lp_hnsw *h, uint32_t id) {
  return h->vecs + (size_t)id * h->stride;
}

/* The neighbour list of id at level lev: [0] = count, then the ids. */
static inline uint32_t *lp__hnsw_links(const lp_hnsw *h, uint32_t id, uint32_t lev) {
  if (lev == 0) return h->links0 + (size_t)id * (1 + h->m0);
  return h->upper[id] + (size_t)(lev - 1) * (1 + h->m);
}

static inline uint32_t lp__hnsw_maxlinks(const lp_hnsw *h, uint32_t lev) {
  return lev == 0 ? h->m0 : h->m;
}

/* hnsw_graph.c */
float lp__hnsw_dist(const lp_hnsw *h, const float *a, const float *b);
int lp__hnsw_heap_push_min(lp__hnsw_heap *hp, float d, uint32_t id);
lp__hnsw_cand lp__hnsw_heap_pop_min(lp__hnsw_heap *hp);
int lp__hnsw_heap_push_max(lp__hnsw_heap *hp, float d, uint32_t id);
lp__hnsw_cand lp__hnsw_heap_pop_max(lp__hnsw_heap *hp);
/* Starts a new visited epoch (clears the marks when the counter wraps). */
void lp__hnsw_visit_reset(lp_hnsw *h);
/* Greedy descent from the entry point to level `to` (exclusive of levels below): the closest node found. */
uint32_t lp__hnsw_descend(lp_hnsw *h, const float *q, uint32_t to);
/* Best-first search of level lev from ep with breadth ef: h->top holds up to ef live nodes (max-heap).
 * LP_ENOMEM when a heap cannot grow. */
int lp__hnsw_search_layer(lp_hnsw *h, const float *q, uint32_t ep, uint32_t ef, uint32_t lev);
/* Chooses up to m of the n candidates c (any order, distances to the base vector) with the paper's
 * heuristic, into c[0..return) closest first. */
size_t lp__hnsw_select(lp_hnsw *h, lp__hnsw_cand *c, size_t n, uint32_t m);
/* Makes room for n entries in the selection buffer. */
int lp__hnsw_sel_reserve(lp_hnsw *h, size_t n);

/* hnsw.c */
int lp__hnsw_reserve(lp_hnsw *h, uint32_t slots);
int lp__hnsw_map_put(lp_hnsw *h, uint64_t label, uint32_t id);
uint32_t lp__hnsw_map_get(const lp_hnsw *h, uint64_t label);
int lp__hnsw_alloc_upper(lp_hnsw *h, uint32_t id, uint32_t level);
size_t lp__hnsw_node_bytes(const lp_hnsw *h);

#endif
