/*
 * hnsw.h: an approximate nearest-neighbour index (HNSW, Malkov & Yashunin 2016, arXiv:1603.09320) over
 * float32 vectors of one fixed dimension, for the exemplar similarity feature (ADR 0010).
 *
 *   - Metric: LP_HNSW_COSINE (vectors are L2-normalised on insert and query; distance = 1 - cosine) or
 *     LP_HNSW_L2 (squared Euclidean distance).
 *   - Graph: level 0 keeps up to 2*M neighbours per node, upper levels M; levels are drawn from a seeded
 *     RNG (floor(-ln U / ln M)), so the same inserts in the same order build the same graph everywhere.
 *     Neighbours are chosen with the paper's heuristic (Algorithm 4), as hnswlib does.
 *   - Labels: the caller names each vector with a 64-bit label, unique among the live vectors.
 *   - Delete: lp_hnsw_delete marks a tombstone at once (never returned by a search again, its label may be
 *     reused immediately); the graph is mended later by lp_hnsw_repair in steps the caller bounds, which
 *     relinks the neighbours of tombstones and recycles their slots.
 *   - Checkpoints: lp_hnsw_save / lp_hnsw_load, a versioned binary blob with a checksum; a truncated,
 *     corrupt or inconsistent blob is refused with an error naming what is wrong.
 *
 * Memory: vectors contiguous (one float32 array, rows padded to a multiple of 8 floats), level-0
 * neighbour lists in one flat array of (1 + 2M) uint32 per node, upper levels in one small array per node
 * above level 0 (about 1 node in M).
 *
 * Threads: single writer, single reader, no locks. An index belongs to one thread (the shard's worker):
 * every function below, searches included, must be called from that thread only, because a search uses
 * scratch space held in the index (visited marks, heaps) so that it never allocates once warm.
 */
#ifndef LP_HNSW_H
#define LP_HNSW_H

#include <stddef.h>
#include <stdint.h>

#include "leadpoet/common.h"

#define LP_HNSW_MAX_DIM 4096u            /* dimension bound */
#define LP_HNSW_MAX_M 128u               /* M bound (level 0 keeps 2*M) */
#define LP_HNSW_MAX_NODES (1u << 28)     /* slots bound (live + tombstones + free) */
#define LP_HNSW_MAX_EF 65536u            /* ef bound, construction and search */

typedef struct lp_hnsw lp_hnsw;

typedef enum lp_hnsw_metric {
  LP_HNSW_COSINE = 0,
  LP_HNSW_L2 = 1
} lp_hnsw_metric;

typedef struct lp_hnsw_opts {
  uint32_t dim;              /* 1..LP_HNSW_MAX_DIM, required */
  lp_hnsw_metric metric;     /* default LP_HNSW_COSINE */
  uint32_t m;                /* 2..LP_HNSW_MAX_M; 0 = 16 */
  uint32_t ef_construction;  /* 0 = 200 */
  uint32_t ef_search;        /* default ef of lp_hnsw_search; 0 = 64 */
  uint64_t seed;             /* level RNG seed; 0 is a valid seed */
  uint32_t capacity;         /* slots reserved up front (grows by doubling); 0 = 1024 */
} lp_hnsw_opts;

/* A search result: the caller's label and its distance to the query (cosine: 1 - similarity). */
typedef struct lp_hnsw_hit {
  uint64_t label;
  float distance;
} lp_hnsw_hit;

typedef struct lp_hnsw_stats {
  uint32_t live;        /* vectors a search can return */
  uint32_t deleted;     /* tombstones not yet recycled by lp_hnsw_repair */
  uint32_t free_slots;  /* recycled slots, reused by the next inserts */
  uint32_t max_level;   /* top level of the graph (0 when empty) */
  size_t bytes;         /* heap bytes held by the index, scratch included */
} lp_hnsw_stats;

/* Creates an empty index. On success *out is owned by the caller (lp_hnsw_free) and by the calling
 * thread from now on. LP_EINVAL (a bad option, named in errstr) or LP_ENOMEM. Any thread. */
int lp_hnsw_new(lp_hnsw **out, const lp_hnsw_opts *opts, char *errstr, size_t errstr_size);

/* Frees the index (NULL is fine). Owner thread. */
void lp_hnsw_free(lp_hnsw *h);

/* Inserts vec[0..dim) under label; vec is copied. LP_EINVAL when dim differs from the index's, when a
 * component is not finite, or (cosine) when the vector is zero; LP_EEXIST when a live vector has that
 * label; LP_ENOMEM when memory or LP_HNSW_MAX_NODES runs out. On error the index is unchanged.
 * Owner thread. */
int lp_hnsw_add(lp_hnsw *h, uint64_t label, const float *vec, size_t dim, char *errstr,
                size_t errstr_size);

/* Marks the vector of label deleted: no search returns it from now on, and the label is free for a new
 * lp_hnsw_add. LP_ENOENT when no live vector has that label. Owner thread. */
int lp_hnsw_delete(lp_hnsw *h, uint64_t label);

/* 1 when a live vector has this label. Owner thread. */
int lp_hnsw_contains(const lp_hnsw *h, uint64_t label);

/* The k nearest live vectors to query[0..dim), closest first (ties by label), into out[0..k); *n_out is
 * how many were found (fewer than k only when fewer are live; 0 on an empty index, which is not an
 * error). ef is the search breadth (0 = the index's ef_search; it is raised to k when smaller).
 * LP_EINVAL: k == 0, k or ef above LP_HNSW_MAX_EF, dim mismatch, a non-finite component or (cosine) a
 * zero query. LP_ENOMEM when scratch cannot grow. Owner thread (a search writes the index's scratch). */
int lp_hnsw_search(lp_hnsw *h, const float *query, size_t dim, size_t k, size_t ef, lp_hnsw_hit *out,
                   size_t *n_out, char *errstr, size_t errstr_size);

/* Mends the graph around tombstones, visiting at most max_nodes nodes per call (a sweep over all slots,
 * resumed by the next call). When a sweep completes, every tombstone that existed when it began has no
 * incoming link left, and its slot is recycled. Returns the nodes still to visit in the current sweep (0
 * when no tombstone is left to mend), or LP_ENOMEM. Call it from a timer on the owner thread while
 * lp_hnsw_stats says deleted > 0; searches and inserts may run between calls. Owner thread. */
int lp_hnsw_repair(lp_hnsw *h, uint32_t max_nodes);

void lp_hnsw_stats_get(const lp_hnsw *h, lp_hnsw_stats *out);
uint32_t lp_hnsw_dim(const lp_hnsw *h);

/* Serialises the index (graph, vectors, labels, tombstones, RNG state: a loaded copy answers and grows
 * exactly as the original) into a new buffer *out of *out_len bytes, owned by the caller (lp_free).
 * LP_ENOMEM. Owner thread. */
int lp_hnsw_save(const lp_hnsw *h, uint8_t **out, size_t *out_len);

/* Builds an index from a blob of lp_hnsw_save. On success *out is a new index owned by the caller and
 * the calling thread. LP_EINVAL with errstr naming the fault (bad magic, unsupported version, truncated,
 * checksum mismatch, a field out of range, a link to a missing node), or LP_ENOMEM; *out untouched on
 * error. Any thread. */
int lp_hnsw_load(const uint8_t *data, size_t len, lp_hnsw **out, char *errstr, size_t errstr_size);

#endif
