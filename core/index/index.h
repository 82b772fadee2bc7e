/*
 * index.h: the live inverted index of ONE shard, with BM25 scoring and block-max WAND top-k.
 *
 * Threading: an lp_index is owned by one thread (the shard's worker) and every function below must be
 * called from that thread only; nothing is locked. Ownership: the index copies everything it is given;
 * pointers passed in are only read during the call.
 *
 * Model. A document is a lead, named by a caller-chosen local doc id (< params.max_docs, ideally dense:
 * the id indexes a table). Its text is a bag of terms, each with a non-negative real frequency
 * (tf x the snippet's weight). put() replaces the whole document; the change is visible to the very next
 * query (no refresh interval).
 *
 * Stored frequency. A weight is stored in 16 bits: the float32 nearest to it, with its mantissa rounded
 * to 8 explicit bits (9 significant bits, relative error <= 0.2%, exact for integers up to 512).
 * lp_index_tf_quantize() returns that stored value. Every score is computed from the stored values, so
 * WAND and the exhaustive scorer agree bit for bit, and a reference model that applies
 * lp_index_tf_quantize() agrees to rounding. Doc length = sum of the stored frequencies of its terms,
 * rounded to the nearest float (exact for integer counts below 2^24): 4 bytes a doc in the table that
 * queries read at random.
 *
 * Why this layout (see the comment at the top of index_int.h for the details): an LSM of segments. Puts go
 * to a small mutable segment (uncompressed postings, hashed by term); past params.mem_postings it is sealed
 * (O(1)) and step() rewrites it into an immutable segment whose postings are bit-packed in blocks of 128
 * (doc gaps and tf codes, each at the width the block needs; a one-posting list takes 10 bytes), each
 * block with its last doc id and the best length-normalised tf of its docs, from which block upper bounds
 * are computed AT QUERY TIME for the current N, avgdl, df and query weights, so they stay true bounds
 * however the collection changes. A doc's current version lives in
 * exactly one segment (the doc table says which); postings of older versions are dead and skipped, and
 * step() drops them while merging segments. A doc's score therefore comes from one segment only, which
 * lets every segment be searched on its own with one shared top-k heap, the largest first. df counts live
 * docs exactly: a per-doc list of term ids (Exp-Golomb coded, ~1.5 bytes a term) is kept to decrement df on
 * replace and delete. Term texts live in one pool, 16 bytes of table per term.
 *
 * Why our own packing rather than Debian's libstreamvbyte: streamvbyte codes whole bytes (10 to 26 bits a
 * doc gap with its control bits), while per-block bit widths fit each block's own range (most gaps of a
 * dense list need 2 to 8 bits) and pack the tf codes beside them; at 100k docs that took the index from
 * 12.45 to 8.10 bytes per posting (perf/index_bench). Unpacking one block is a short loop over fixed
 * widths, decoded only for the docs WAND actually scores.
 */
#ifndef LP_INDEX_H
#define LP_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "leadpoet/common.h"

#define LP_INDEX_MAX_TERM_LEN 255        /* bytes of one term */
#define LP_INDEX_MAX_DOC_TERMS (1u << 20)  /* terms in one put() */
#define LP_INDEX_MAX_QUERY_TERMS 64      /* terms in one query */
#define LP_INDEX_MIN_WEIGHT 1e-30        /* accepted range of a term weight (document or query) */
#define LP_INDEX_MAX_WEIGHT 1e30

typedef struct lp_index lp_index;

/* The idf of BM25 (docs/adr/0003-index-and-query-path.md, addendum). With t = (N - n + 0.5) / (n + 0.5)
 * for N documents, n of them holding the term:
 *  ROBERTSON  ln t, or ln(1 + t / 2) when t < 2: Robertson-Sparck Jones with Xapian's floor (BM25Weight), so
 *             it equals Xapian's idf and stays > 0 (the raw ln t goes negative past half of the documents,
 *             which would break WAND's bounds and reward a doc for not holding a common term). The default.
 *  LUCENE     ln(1 + t): Lucene's BM25Similarity; > 0 too, but weighs terms common to many documents more
 *             (a term in half of them: 0.69 against Xapian's 0.41). */
typedef enum lp_index_idf { LP_INDEX_IDF_ROBERTSON = 0, LP_INDEX_IDF_LUCENE = 1 } lp_index_idf;

typedef struct lp_index_params {
  double k1;              /* BM25 k1, >= 0 (default 1.2) */
  double b;               /* BM25 b, in [0, 1] (default 0.75) */
  uint32_t max_docs;      /* doc ids must be < max_docs; 1 .. 2^31 (default 2^24) */
  uint32_t mem_postings;  /* the mutable segment is sealed once it holds this many postings (default 65536) */
  uint32_t merge_factor;  /* step() merges this many segments of similar size, 2..16 (default 4) */
  double reclaim_dead;    /* step() rewrites a segment alone once this share of it is dead, (0, 1] (default 0.5) */
  int idf;                /* an lp_index_idf (default LP_INDEX_IDF_ROBERTSON) */
  double min_normlen;     /* dl / avgdl is taken as at least this, in [0, 100] (default 0.5, Xapian's: a doc
                           * much shorter than the mean is not rewarded for it beyond half the mean; 0 = the
                           * textbook BM25) */
} lp_index_params;

/* A term with its weight: a document term (weight = its frequency) or a query term (weight = qw). */
typedef struct lp_index_term {
  const char *ptr;
  size_t len;     /* 1 .. LP_INDEX_MAX_TERM_LEN */
  double weight;  /* finite, LP_INDEX_MIN_WEIGHT .. LP_INDEX_MAX_WEIGHT */
} lp_index_term;

/* A hit: the doc of the index the caller tagged `shard` (0 for lp_index_topk). Order everywhere: score desc,
 * then shard asc, then doc asc. */
typedef struct lp_index_hit {
  uint32_t doc;
  uint32_t shard;
  double score;
} lp_index_hit;

/* A top-k shared by the queries of several indexes (the shards of one worker): each lp_index_topk_into()
 * starts from the threshold the previous ones left, so WAND skips in shard j what cannot beat the k best of
 * shards 0..j-1. The answer equals merging each index's own top-k (same statistics), ties included.
 * hits is the caller's room for k hits; the fields are the heap's, read them only after
 * lp_index_heap_finish(). */
typedef struct lp_index_heap {
  lp_index_hit *hits;
  size_t k, n;
} lp_index_heap;

/* Collection statistics supplied by the caller, to score several shards on shared statistics. df[i] is the
 * document frequency of query term i (same order as the query); n_docs >= 1, avgdl > 0, df[i] <= n_docs. */
typedef struct lp_index_collstats {
  uint64_t n_docs;
  double avgdl;
  const uint64_t *df;
} lp_index_collstats;

typedef struct lp_index_stats {
  uint64_t docs;             /* live documents (N) */
  uint64_t postings;         /* live postings: sum over live docs of their distinct terms */
  uint64_t stored_postings;  /* postings held by all segments, dead ones included */
  uint64_t terms;            /* terms with df > 0 */
  uint32_t segments;         /* mutable + sealed + compressed */
  double sum_dl;             /* sum of live doc lengths (avgdl = sum_dl / docs) */
  size_t bytes;              /* memory held by the index (tables, postings, dictionary, scratch) */
  size_t mem_bytes;          /* of which the mutable segments (uncompressed postings, a list per term) */
  uint64_t mem_postings;     /* postings those hold (dead included) */
  double bytes_per_posting;  /* bytes / postings (0 when empty) */
} lp_index_stats;

/* Fills p with the defaults above. Any thread. */
void lp_index_params_default(lp_index_params *p);

/* Creates an empty index; p NULL = defaults. On a bad parameter returns LP_EINVAL with the reason in
 * errstr. The caller owns *out and frees it with lp_index_free. Any thread; the index then belongs to
 * the thread that uses it. */
int lp_index_new(lp_index **out, const lp_index_params *p, char *errstr, size_t errstr_size);

/* Frees the index and everything it holds. NULL is allowed. Owning thread. */
void lp_index_free(lp_index *idx);

/* The reason of the last error returned by a call on idx (empty string before any). Owning thread. */
const char *lp_index_errstr(const lp_index *idx);

/* Replaces document doc by terms[0..n) (n may be 0: a live document with no terms, length 0). A term given
 * twice has its weights summed. Queryable as soon as this returns. Errors leave the index unchanged:
 * LP_EINVAL (doc out of range, bad term or weight), LP_ENOMEM. Incremental: when the doc's current version
 * is in the mutable segment, it is updated in place (only the postings of terms that came, went or changed
 * are touched; no new slot, no dead postings), with exactly the scores of a fresh put. Owning thread. */
int lp_index_put(lp_index *idx, uint32_t doc, const lp_index_term *terms, size_t n);

/* A document term named by a pinned term id (lp_index_term_pin) instead of its bytes. */
typedef struct lp_index_tterm {
  uint32_t tid;
  double weight;  /* finite, LP_INDEX_MIN_WEIGHT .. LP_INDEX_MAX_WEIGHT */
} lp_index_tterm;

/* The id of a term, created when new, pinned: the id stays this term's (never recycled) until as many
 * lp_index_term_unpin calls, so a caller may keep it (e.g. per term of its own dictionary) and put by id,
 * sparing the dictionary look-up of every term of every put. LP_EINVAL for a bad length, LP_ENOMEM.
 * Owning thread. */
int lp_index_term_pin(lp_index *idx, const char *term, size_t len, uint32_t *tid);

/* Drops one pin of tid (the term goes once nothing else uses it). Owning thread. */
void lp_index_term_unpin(lp_index *idx, uint32_t tid);

/* lp_index_put with pinned term ids: the same document, the same scores, the same errors (LP_EINVAL also
 * for an id that is not pinned). Owning thread. */
int lp_index_put_ids(lp_index *idx, uint32_t doc, const lp_index_tterm *terms, size_t n);

/* Removes document doc. LP_ENOENT when it is not in the index. Owning thread. */
int lp_index_delete(lp_index *idx, uint32_t doc);

/* Top-k by BM25 with block-max WAND. q: the query terms (duplicates merged by summing their weights;
 * terms unknown to the index match nothing); cs: external statistics, NULL = the index's own. Writes up to
 * k hits to hits[] (room for k), sorted by score desc then doc asc, and their count to *nhits. k = 0 or a
 * bad term/statistic: LP_EINVAL. Allocates nothing. Owning thread. */
int lp_index_topk(lp_index *idx, const lp_index_term *q, size_t nq, const lp_index_collstats *cs,
                  size_t k, lp_index_hit *hits, size_t *nhits);

/* Prepares h for up to k hits in room[0..k) (k >= 1). Any thread; the heap belongs to its caller. */
void lp_index_heap_init(lp_index_heap *h, lp_index_hit *room, size_t k);

/* Sorts h's hits into answer order (score desc, shard, doc) and returns how many; h is spent. */
size_t lp_index_heap_finish(lp_index_heap *h);

/* lp_index_topk into a shared heap: offers idx's BM25 top hits, tagged `shard`, to h. Pass the same q and
 * the same statistics cs (e.g. summed over the indexes with lp_index_collstats_add) to every index sharing h,
 * or the scores are not comparable. Errors as lp_index_topk (h is unchanged on error). Allocates nothing.
 * Owning thread of idx. */
int lp_index_topk_into(lp_index *idx, const lp_index_term *q, size_t nq, const lp_index_collstats *cs,
                       uint32_t shard, lp_index_heap *h);

/* Adds idx's statistics for query q[0..nq) to sums a caller builds over several indexes: *n_docs += its
 * live docs, *sum_dl += their total length, df[i] += the live df of q[i] (0 when unknown). The caller then
 * passes { n_docs, sum_dl / n_docs, df } as lp_index_collstats (when n_docs >= 1). A dictionary look-up per
 * term. Owning thread of idx. */
void lp_index_collstats_add(const lp_index *idx, const lp_index_term *q, size_t nq, uint64_t *n_docs,
                            double *sum_dl, uint64_t *df);

/* The BM25 score of one document for query q[0..nq) under statistics cs (NULL = the index's own): exactly
 * (bit for bit) the score lp_index_topk / lp_index_topk_into give that doc with the same q and cs, 0 when
 * it holds none of the terms (the top-k never returns it then). A dictionary look-up and one cursor seek
 * per query term: the cost of one doc, whatever the size of the index. LP_ENOENT when doc is not in the
 * index (never put, or deleted); LP_EINVAL for a bad term, statistic or a NULL score (as lp_index_topk).
 * Allocates nothing. Owning thread. */
int lp_index_doc_score(lp_index *idx, uint32_t doc, const lp_index_term *q, size_t nq, const lp_index_collstats *cs,
                       double *score);

/* Parses an idf name, "robertson" or "lucene", into *out (an lp_index_idf), for the config's index.idf.
 * LP_EINVAL for any other name (NULL included). Any thread. */
int lp_index_idf_parse(const char *name, int *out);

/* The idf of a term held by n of N documents under mode idf (an lp_index_idf): the value the scorers use.
 * Any thread. */
double lp_index_idf_value(int idf, uint64_t N, uint64_t n);

/* The same answer computed the slow way: every live doc containing a query term is scored. For tests and
 * benchmarks; allocates a per-call accumulator. Owning thread. */
int lp_index_topk_exhaustive(lp_index *idx, const lp_index_term *q, size_t nq,
                             const lp_index_collstats *cs, size_t k, lp_index_hit *hits, size_t *nhits);

/* Background maintenance: seals-to-compressed conversion, merges, reclaiming dead postings. Does about
 * `budget` postings of work (>= 1; a single term's list is never split, so one call may exceed the budget
 * by the longest list of one segment) and returns; *more (may be NULL) is set to 1 when work remains.
 * Queries see a consistent index between any two calls. LP_EINVAL for budget 0, LP_ENOMEM (the merge in
 * progress is abandoned, the index stays correct). Owning thread. */
int lp_index_step(lp_index *idx, size_t budget, int *more);

/* Current figures (see lp_index_stats). Owning thread. */
void lp_index_stats_get(const lp_index *idx, lp_index_stats *st);

/* Live document frequency of one term (0 when unknown), for shared statistics. Owning thread. */
uint64_t lp_index_df(const lp_index *idx, const char *term, size_t len);

/* The frequency the index stores for weight w (see "Stored frequency" above). Any thread. */
double lp_index_tf_quantize(double w);

#endif
