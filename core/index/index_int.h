/*
 * index_int.h: internals of the shard index, shared by index.c, dict.c, segment.c, merge.c and query.c.
 *
 * Liveness. The doc table says, for each doc id, which segment holds its current version (seg id, 0 =
 * absent) and, in a mutable segment, which slot. A posting is live iff its segment (and slot) is the one
 * the doc table names. A replaced doc's old postings thus die in O(1), without touching them; a query
 * skips them when it comes to evaluate their doc, and step() drops them when it rewrites their segment.
 * Seg ids only grow, so a dead posting never comes back to life. Each segment mirrors that rule in a
 * bitmap of its live keys (ix_seg.lbits, by slot in a mutable segment, by doc id in a compressed one):
 * bit set <=> the doc table names this segment (and slot). Queries and merges read the bitmap, one bit
 * in a table of a few KB per shard segment, instead of the doc table (in a mutable segment that was three
 * dependent loads, slot -> doc -> seg -> slot, and the hottest cache miss of a query). put() sets the
 * bit of the new slot, doc_unlink() clears the old one, a merge's finish sets the moved docs' bits in its
 * output; nothing else changes liveness.
 *
 * One segment per doc. Since a doc is live in exactly one segment, a doc's BM25 score is a sum over the
 * postings of one segment; WAND runs segment by segment over one shared heap. In a mutable segment the
 * postings are in slot order (slots are appended), which is the order WAND walks there; the heap breaks
 * ties with the real doc id, and WAND only skips a doc whose upper bound is strictly below the threshold,
 * so the k-th place is exact whatever the order docs are met in.
 *
 * Replace in place. When a doc's current version is in the mutable segment, put() keeps its slot and edits
 * the postings of that slot (index.c put_in_place): kept terms get their new tf code, new terms a posting
 * inserted in slot order, gone terms lose theirs. Nothing dies, so a lead that gets snippets often costs its
 * changed postings and no dead copies to merge away; the lists' bounds (max_tf, min_dl, sat) only widen, so
 * they stay bounds, and scores equal a fresh put's (tests/index/test_incremental.c).
 *
 * Exact scores. Each term's contribution is computed by one function (lp__ix_contrib) and a doc's score
 * is the sum of its contributions in query-term order, in both scorers, so WAND and exhaustive agree bit
 * for bit. Upper bounds are inflated by LP_IX_UB_SLACK so that rounding can never make a bound smaller
 * than the score it bounds.
 */
#ifndef LP_INDEX_INT_H
#define LP_INDEX_INT_H

#include <stdint.h>
#include <string.h>

#include "index/index.h"

#define LP_IX_BLOCK 128
#define LP_IX_END UINT32_MAX
#define LP_IX_NONE UINT32_MAX   /* empty slot of a hash table */
#define LP_IX_PAD 16            /* the bit unpacker (pack.c) may read this far past its input */
#define LP_IX_UB_SLACK (1.0 + 1e-12)
#define LP_IX_MAX_MERGE 16
#define LP_IX_MAX_SEGS 32       /* more compressed segments than this forces a merge */

/* What a query reads of a doc, apart from the rest (ix_doc) so that the table WAND reads at random is 8
 * bytes a doc: at a million docs a 32-byte entry per doc made that read the hottest cache miss of a query. */
typedef struct ix_hot {
  uint32_t seg;       /* id of the segment holding the current version; 0 = absent */
  float dl;           /* doc length: sum of the stored frequencies, rounded to a float (see index.h) */
} ix_hot;

typedef struct ix_doc {
  uint32_t slot;      /* index of the doc in its segment's docs[] (hot[doc].seg) */
  uint8_t *fwd;       /* sorted term ids, Exp-Golomb coded (pack.c), exactly fwd_bytes long */
  uint32_t nterms;
  uint32_t fwd_bytes;
} ix_doc;

/* 16 bytes a term, its text in the shared pool: no allocation, pointer or malloc header per term. */
typedef struct ix_term {
  uint32_t off;       /* in ix->pool of a length byte then the term's bytes; LP_IX_NONE = free id */
  uint32_t hash;
  uint32_t df;        /* live docs containing the term */
  uint32_t refs;      /* segments holding a posting list of the term */
} ix_term;

/* A posting list of a mutable segment, in slot order. 40 bytes: a mutable segment holds one per distinct
 * term of its docs, most of them with one or two postings. */
typedef struct ix_mlist {
  uint32_t *slots;
  uint16_t *tfs;
  uint32_t tid;
  uint32_t n, cap;
  float sat;          /* as in ix_block, against the segment's ref_avgdl */
  float min_dl;       /* doc lengths are floats (ix_hot.dl), so this is exact */
  uint16_t max_tf;
} ix_mlist;

/* A block of up to 128 postings of a compressed segment (every block of a term holds 128 but the last).
 * Data at off, bit-packed LSB first: the n-1 gaps docs[i+1] - docs[i] - 1 in wd bits each (the docs are
 * rebuilt backwards from last, so no block needs its predecessor), then the n values max_tf - tf code in
 * wt bits each. A block of one posting has no data at all.
 * Bound. sat is the block's max over its docs of tf / (tf + k1 (1 - b + b dl / A0)), rounded up, with A0 the
 * segment's ref_avgdl (the avgdl when it was written; k1 and b are fixed for the index). At query time, with
 * avgdl A, a doc's BM25 term score is w (k1 + 1) times that ratio for A, which is at most max(1, A / A0)
 * times the ratio for A0 (the dl term shrinks by at most A0 / A). Bounding each doc by its own (tf, dl)
 * pair, not by the block's max tf and min dl taken apart, keeps the bound close to the real best score of
 * the block, which is what lets WAND skip blocks. */
typedef struct ix_block {
  uint32_t last;
  uint32_t off;
  uint16_t max_tf;
  uint8_t wd, wt;
  float sat;
} ix_block;

/* A term of a compressed segment. A list of <= LP_IX_BLOCK postings is its one block b, kept right here
 * (most terms of a segment are rare: this saves a block entry each). A longer list has its blocks at
 * s->blocks[b.off ..], and b holds the list's last doc, max tf and min doc length. */
typedef struct ix_fterm {
  uint32_t tid;
  uint32_t n;         /* postings */
  ix_block b;
} ix_fterm;

enum { IX_MEM = 1, IX_FROZEN = 2 };

typedef struct ix_seg {
  int kind;
  uint32_t id;
  int busy;                 /* an input of the merge in progress */
  uint64_t stored;          /* postings held, dead included */
  uint64_t live;            /* live postings */
  uint32_t live_docs;
  uint32_t *docs;           /* doc id per slot (mutable) / per position (compressed) */
  uint32_t ndocs, cap_docs;
  uint64_t *lbits;          /* live keys (see Liveness above); a key at or past nbits is dead */
  uint32_t nbits;           /* keys the bitmap covers (64 per word; UINT32_MAX at the most) */
  /* IX_MEM */
  ix_mlist *lists;
  uint32_t nlists, cap_lists;
  size_t list_bytes;        /* sum over lists of cap x 6 bytes, kept up to date so that stats are O(1) a segment
                             * (the server reads them at every tick) */
  uint64_t *map;            /* tid << 32 | list index, open addressing on tid (the tid kept in the slot
                             * spares a look at the list on every probe); UINT64_MAX = empty */
  uint32_t map_cap;
  /* IX_FROZEN */
  double ref_avgdl;         /* A0 of the bounds (see ix_block); a mutable segment takes it at its first posting */
  ix_fterm *terms;          /* sorted by tid; lists of two postings or more */
  uint32_t nterms, cap_terms;
  uint32_t *one_tid;        /* terms with one posting (the rare majority), sorted: 10 bytes each */
  uint32_t *one_doc;        /* that posting's doc */
  uint16_t *one_tf;         /* and tf code */
  uint32_t nones, cap_one_tid, cap_one_doc, cap_one_tf;
  ix_block *blocks;
  uint32_t nblocks, cap_blocks;
  uint8_t *data;
  size_t data_len, data_cap;
} ix_seg;

typedef struct ix_job {
  int active;
  ix_seg *in[LP_IX_MAX_MERGE];
  uint32_t nin;
  uint32_t *tids;           /* union of the inputs' terms, sorted */
  uint32_t ntids, next;
  ix_seg *out;
  uint32_t *tdocs;          /* gather buffers */
  uint16_t *ttfs;
  uint64_t *tpairs, *tpairs2; /* a term's postings (doc << 16 | tf), and the radix sort's other half */
  size_t tcap;
  uint32_t ti[LP_IX_MAX_MERGE];  /* per compressed input: where the walk of terms[] and one_tid[] stands */
  uint32_t oi[LP_IX_MAX_MERGE];
} ix_job;

typedef struct ix_cursor ix_cursor;

struct lp_index {
  lp_index_params p;
  ix_doc *docs;
  ix_hot *hot;                  /* docs_cap of them, beside docs */
  uint32_t docs_cap;
  ix_term *terms;
  uint32_t nterms;              /* ids handed out so far (high-water) */
  size_t cap_terms;
  uint32_t *free_tids;
  uint32_t nfree, cap_free;
  uint32_t *dict;               /* term hash table of ids */
  uint32_t dict_cap, dict_used;
  uint64_t live_terms;
  uint8_t *pool;                /* term texts (see ix_term); released ones are garbage until compacted */
  size_t pool_len, pool_cap, pool_dead;
  ix_seg **segs;                /* all queryable segments; mem is one of them */
  uint32_t nsegs, cap_segs;
  ix_seg *mem;                  /* the mutable segment receiving puts (NULL until the next put) */
  uint32_t next_seg_id;
  ix_job job;
  uint64_t live_docs, live_postings, fwd_bytes;
  double sum_dl;
  void *scratch;                /* put()'s term entries and decode buffer */
  size_t scratch_cap;
  uint8_t *fbuf;                /* a term list being coded, with 8 bytes of slack */
  size_t fbuf_cap;
  ix_cursor *cursors;           /* LP_INDEX_MAX_QUERY_TERMS of them */
  char err[192];
};

/* Formats the reason of an error into idx->err and returns code. */
int lp__ix_fail(lp_index *ix, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int lp__ix_grow(void **p, uint32_t *cap, uint32_t need, size_t elem);
int lp__ix_grow_sz(void **p, size_t *cap, size_t need, size_t elem);
int lp__ix_grow_slow(void **p, size_t *cap, size_t need, size_t elem);

/* dict.c: the term dictionary. */
int lp__ix_dict_find(const lp_index *ix, const char *s, size_t n, uint32_t *tid);
int lp__ix_dict_intern(lp_index *ix, const char *s, size_t n, uint32_t *tid);
void lp__ix_term_release(lp_index *ix, uint32_t tid);
void lp__ix_dict_free(lp_index *ix);

/* segment.c */
ix_seg *lp__ix_seg_new(lp_index *ix, int kind);
void lp__ix_seg_free(lp_index *ix, ix_seg *s);
ix_seg *lp__ix_seg_find(const lp_index *ix, uint32_t id);
int lp__ix_seg_add(lp_index *ix, ix_seg *s);
void lp__ix_seg_remove(lp_index *ix, ix_seg *s);
ix_mlist *lp__ix_mem_list(const ix_seg *s, uint32_t tid);
int lp__ix_bits_reserve(ix_seg *s, uint32_t nkeys);
int lp__ix_mem_reserve(lp_index *ix, ix_seg *s, const uint32_t *tids, uint32_t n, uint32_t *li);
int lp__ix_frozen_term(const lp_index *ix, const ix_seg *s, uint32_t tid, ix_fterm *out);
uint32_t lp__ix_block_decode(const ix_seg *s, const ix_fterm *t, uint32_t b, uint32_t *docs, uint16_t *tfs);
uint32_t lp__ix_block_docs(const ix_seg *s, const ix_fterm *t, uint32_t b, uint32_t *docs);
size_t lp__ix_seg_bytes(const ix_seg *s);

/* query.c */
size_t lp__ix_cursor_size(void);

/* merge.c */
void lp__ix_job_abort(lp_index *ix);

/* pack.c: fixed-width bit packing, LSB first. Readers may load 8 bytes from any byte they touch, so a
 * packed buffer must be followed by LP_IX_PAD readable bytes. */
size_t lp__ix_pack(uint8_t *out, const uint32_t *v, uint32_t n, uint32_t w);
void lp__ix_unpack(const uint8_t *in, uint32_t *v, uint32_t n, uint32_t w);
uint32_t lp__ix_bits(uint32_t x);
size_t lp__ix_ids_size(const uint32_t *ids, uint32_t m, uint32_t *k_out);
void lp__ix_ids_encode(uint8_t *out, const uint32_t *ids, uint32_t m, uint32_t k);
void lp__ix_ids_decode(const uint8_t *in, uint32_t *ids, uint32_t m);

/* The i-th w-bit value of a packed buffer. */
static inline uint32_t lp__ix_get(const uint8_t *in, uint32_t i, uint32_t w) {
  if (w == 0) return 0;
  uint64_t bit = (uint64_t)i * w, word;
  memcpy(&word, in + (bit >> 3), sizeof word);
  return (uint32_t)((word >> (bit & 7)) & ((1ull << w) - 1));
}

/* x rounded down to a float, so a bound built on it stays a bound. */
static inline float lp__ix_round_down(double x) {
  float f = (float)x;
  if ((double)f > x) f = __builtin_nextafterf(f, 0.0f);
  return f;
}

/* tf / (tf + k1 (1 - b + b dl / ref)) rounded up to a float (see ix_block). */
static inline float lp__ix_sat(const lp_index_params *p, double tf, double dl, double ref) {
  double s = tf / (tf + p->k1 * (1.0 - p->b + p->b * dl / ref));
  float f = (float)s;
  if ((double)f < s) f = __builtin_nextafterf(f, 2.0f);
  return f;
}

/* The home slot of a term id in a mutable segment's map (segment.c). */
static inline uint32_t lp__ix_tid_hash(uint32_t tid) { return tid * 2654435761u; }

/* Starts loading the map slot where s's list of tid would be found: a put touches the lists of all of its
 * doc's terms, each a cache miss, and issuing the loads of every term before using any of them overlaps
 * those misses instead of paying them one after the other. */
static inline void lp__ix_map_prefetch(const ix_seg *s, uint32_t tid) {
  if (s->map_cap) __builtin_prefetch(&s->map[lp__ix_tid_hash(tid) & (s->map_cap - 1)]);
}

static inline uint32_t lp__ix_nblk(const ix_fterm *t) { return (t->n + LP_IX_BLOCK - 1) / LP_IX_BLOCK; }

/* The blocks of t: its own b, or its run in s->blocks. */
static inline const ix_block *lp__ix_blocks(const ix_seg *s, const ix_fterm *t) {
  return t->n <= LP_IX_BLOCK ? &t->b : s->blocks + t->b.off;
}

/* Postings in block b of t. */
static inline uint32_t lp__ix_blk_n(const ix_fterm *t, uint32_t b) {
  return b + 1 < lp__ix_nblk(t) ? LP_IX_BLOCK : t->n - b * LP_IX_BLOCK;
}

static inline double lp__ix_tf(uint16_t code) {
  uint32_t bits = (uint32_t)code << 15;
  float f;
  memcpy(&f, &bits, sizeof f);
  return (double)f;
}

/* Is posting (seg s, slot-or-doc key) the live version of its doc? (the segment's bitmap, see Liveness) */
static inline int lp__ix_live(const ix_seg *s, uint32_t key) {
  return key < s->nbits && (s->lbits[key >> 6] >> (key & 63) & 1);
}

/* Marks key live in s; the caller has reserved the bit (lp__ix_bits_reserve). */
static inline void lp__ix_live_set(ix_seg *s, uint32_t key) { s->lbits[key >> 6] |= 1ull << (key & 63); }

static inline void lp__ix_live_clear(ix_seg *s, uint32_t key) {
  if (key < s->nbits) s->lbits[key >> 6] &= ~(1ull << (key & 63));
}

#endif
