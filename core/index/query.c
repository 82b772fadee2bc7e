/*
 * query.c: BM25 top-k, by block-max WAND (Ding & Suel 2011) and by exhaustive scoring.
 *
 * WAND runs segment by segment (a doc is live in one segment only, see index_int.h) over one shared heap
 * of the k best (score desc, doc asc). Per segment: cursors sorted by current key; the pivot is the first
 * cursor at which the sum of term upper bounds reaches the threshold; a shallow move of the cursors up to
 * the pivot sums their block bounds for the pivot doc; if even that is below the threshold, the cursor with
 * the largest bound jumps past the nearest block end; otherwise the pivot doc is evaluated in full (or the
 * cursors before it are moved onto it). A doc is skipped only when its bound is STRICTLY below the k-th
 * score, and the heap breaks ties by doc id, so ties at the k-th place come out as in the exhaustive order.
 */
#include <math.h>
#include <stdlib.h>

#include "base/alloc.h"
#include "index/index_int.h"

#define LP_IX_ORDER_MAX 256  /* segments ordered by size for a query; more (never seen) go in age order */

struct ix_cursor {
  uint32_t key;            /* current doc id (compressed) or slot (mutable); LP_IX_END when done */
  uint32_t qi;
  double w;                /* qw x idf */
  double ub;               /* bound of the whole list in this segment */
  const ix_seg *s;
  const ix_fterm *t;       /* &tcopy for a compressed segment */
  const ix_mlist *l;
  ix_fterm tcopy;
  const ix_block *bl;      /* t's blocks */
  uint32_t nblk;
  uint32_t blk, dec, pos, n, sblk;
  double ubscale;          /* w (k1 + 1) max(1, avgdl / A0) x slack: a block's bound is this x sat */
  uint32_t ubblk;          /* the block whose bound bub holds (LP_IX_END: none yet) */
  double bub;
  const uint8_t *tp;       /* packed tf values of the decoded block, read one at a time (cur_tf) */
  uint16_t bmax;           /* that block's max tf code */
  uint8_t wt;              /* and their width */
  uint32_t docs[LP_IX_BLOCK];
};

size_t lp__ix_cursor_size(void) { return sizeof(struct ix_cursor); }

typedef struct bm25 {
  double k1, b, k1p1, avgdl;
  double kc, kd;           /* k1 (1 - b) and k1 b / avgdl: the length norm without a division per posting */
  double mindl;            /* min_normlen x avgdl: a shorter doc is scored as if this long */
} bm25;

typedef struct qterm {
  uint32_t tid;
  double qw, w;
  uint64_t df;
} qterm;

/* The length norm k1 (1 - b + b max(dl / avgdl, min_normlen)). Decreasing scores in dl, so a bound
 * computed without the clamp (the block maxima) stays a bound. */
static inline double norm(const bm25 *m, double dl) { return m->kc + m->kd * (dl < m->mindl ? m->mindl : dl); }

/* The one formula both scorers use, so that their scores agree bit for bit. */
static inline double contrib(const bm25 *m, double w, double tf, double dl) {
  return w * (tf * m->k1p1) / (tf + norm(m, dl));
}

static int check_query(lp_index *ix, const lp_index_term *q, size_t nq, const lp_index_collstats *cs, size_t k) {
  if (k == 0) return lp__ix_fail(ix, LP_EINVAL, "k must be >= 1");
  if (nq > LP_INDEX_MAX_QUERY_TERMS) return lp__ix_fail(ix, LP_EINVAL, "%zu query terms: at most %d", nq, LP_INDEX_MAX_QUERY_TERMS);
  if (nq && !q) return lp__ix_fail(ix, LP_EINVAL, "query terms are NULL");
  for (size_t i = 0; i < nq; i++) {
    if (q[i].len < 1 || q[i].len > LP_INDEX_MAX_TERM_LEN || !q[i].ptr)
      return lp__ix_fail(ix, LP_EINVAL, "query term %zu: length %zu not in 1..%d", i, q[i].len, LP_INDEX_MAX_TERM_LEN);
    if (!(q[i].weight >= LP_INDEX_MIN_WEIGHT && q[i].weight <= LP_INDEX_MAX_WEIGHT))
      return lp__ix_fail(ix, LP_EINVAL, "query term %zu: weight %g not in [1e-30, 1e30]", i, q[i].weight);
  }
  if (!cs) return LP_OK;
  if (cs->n_docs < 1) return lp__ix_fail(ix, LP_EINVAL, "collection stats: n_docs must be >= 1");
  if (!(cs->avgdl > 0 && isfinite(cs->avgdl))) return lp__ix_fail(ix, LP_EINVAL, "collection stats: avgdl must be > 0");
  if (nq && !cs->df) return lp__ix_fail(ix, LP_EINVAL, "collection stats: df is NULL");
  for (size_t i = 0; i < nq; i++)
    if (cs->df[i] > cs->n_docs) return lp__ix_fail(ix, LP_EINVAL, "collection stats: df[%zu] > n_docs", i);
  return LP_OK;
}

/* Resolves the query into distinct known terms with their weight qw x idf; *nqt = 0 when nothing can match. */
static int prepare(lp_index *ix, const lp_index_term *q, size_t nq, const lp_index_collstats *cs, size_t k,
                   qterm *qt, uint32_t *nqt, bm25 *m) {
  int rc = check_query(ix, q, nq, cs, k);
  if (rc != LP_OK) return rc;
  *nqt = 0;
  uint64_t n = cs ? cs->n_docs : ix->live_docs;
  m->k1 = ix->p.k1;
  m->b = ix->p.b;
  m->k1p1 = ix->p.k1 + 1.0;
  m->avgdl = cs ? cs->avgdl : (n ? ix->sum_dl / (double)n : 0);
  m->kc = m->k1 * (1.0 - m->b);
  m->kd = m->avgdl > 0 ? m->k1 * m->b / m->avgdl : 0;
  m->mindl = ix->p.min_normlen * m->avgdl;
  if (ix->live_postings == 0 || !(m->avgdl > 0)) return LP_OK;
  for (size_t i = 0; i < nq; i++) {
    uint32_t tid, j;
    if (lp__ix_dict_find(ix, q[i].ptr, q[i].len, &tid) != LP_OK || ix->terms[tid].df == 0) continue;
    for (j = 0; j < *nqt && qt[j].tid != tid; j++) {}
    if (j < *nqt) {
      qt[j].qw += q[i].weight;
      continue;
    }
    qt[(*nqt)++] = (qterm){ .tid = tid, .qw = q[i].weight, .df = cs ? cs->df[i] : ix->terms[tid].df };
  }
  for (uint32_t j = 0; j < *nqt; j++) qt[j].w = qt[j].qw * lp_index_idf_value(ix->p.idf, n, qt[j].df);
  return LP_OK;
}

/* ---- the k-best heap: root = the worst hit ---- */

static int worse(const lp_index_hit *a, const lp_index_hit *b) {
  if (a->score != b->score) return a->score < b->score;
  return a->shard != b->shard ? a->shard > b->shard : a->doc > b->doc;
}

static void heap_offer(lp_index_hit *h, size_t *n, size_t k, uint32_t shard, uint32_t doc, double score) {
  lp_index_hit x = { .doc = doc, .shard = shard, .score = score };
  size_t i;
  if (*n < k) {
    for (i = (*n)++; i > 0 && worse(&x, &h[(i - 1) / 2]); i = (i - 1) / 2) h[i] = h[(i - 1) / 2];
    h[i] = x;
    return;
  }
  if (!worse(&h[0], &x)) return;
  for (i = 0;;) {
    size_t c = 2 * i + 1;
    if (c >= *n) break;
    if (c + 1 < *n && worse(&h[c + 1], &h[c])) c++;
    if (!worse(&h[c], &x)) break;
    h[i] = h[c];
    i = c;
  }
  h[i] = x;
}

static int hit_cmp(const void *a, const void *b) {
  const lp_index_hit *x = a, *y = b;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  if (x->shard != y->shard) return x->shard < y->shard ? -1 : 1;
  return x->doc < y->doc ? -1 : (x->doc > y->doc);
}

/* ---- cursors ---- */

/* Moves c to its first posting with key >= target, live or not: liveness is checked only for the docs
 * WAND evaluates (evaluate(), like Lucene's live docs at collection time), which spares a look at the doc
 * table, a cache miss at a million docs, for every posting a cursor steps over. */
static void cur_seek(ix_cursor *c, uint32_t target) {
  if (c->l) {
    const ix_mlist *l = c->l;
    if (c->pos < l->n && l->slots[c->pos] < target) {
      uint32_t lo = c->pos, hi = l->n;
      while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (l->slots[mid] < target) lo = mid + 1;
        else hi = mid;
      }
      c->pos = lo;
    }
    c->key = c->pos < l->n ? l->slots[c->pos] : LP_IX_END;
    return;
  }
  const ix_block *bl = c->bl;
  for (;;) {
    while (c->blk < c->nblk && bl[c->blk].last < target) c->blk++;
    if (c->blk == c->nblk) {
      c->key = LP_IX_END;
      return;
    }
    if (c->dec != c->blk) {
      const ix_block *b = &bl[c->blk];
      c->n = lp__ix_block_docs(c->s, c->t, c->blk, c->docs);
      c->tp = b->wt ? c->s->data + b->off + ((size_t)(c->n - 1) * b->wd + 7) / 8 : NULL;
      c->bmax = b->max_tf;
      c->wt = b->wt;
      c->dec = c->blk;
      c->pos = 0;
    }
    while (c->pos < c->n && c->docs[c->pos] < target) c->pos++;
    if (c->pos < c->n) {
      c->key = c->docs[c->pos];
      return;
    }
    c->blk++;
  }
}

static uint16_t cur_tf(const ix_cursor *c) {
  return c->l ? c->l->tfs[c->pos] : (uint16_t)(c->bmax - lp__ix_get(c->tp, c->pos, c->wt));
}

static uint32_t key_doc(const ix_seg *s, uint32_t key) { return s->kind == IX_MEM ? s->docs[key] : key; }

/* Upper bound of c's block that may hold target (shallow: nothing decoded); *last = that block's end. */
static double cur_block_ub(ix_cursor *c, uint32_t target, uint32_t *last) {
  *last = LP_IX_END - 1;
  if (c->l) return c->ub;
  const ix_block *bl = c->bl;
  if (c->sblk < c->blk) c->sblk = c->blk;
  while (c->sblk > c->blk && bl[c->sblk - 1].last >= target) c->sblk--;
  while (c->sblk < c->nblk && bl[c->sblk].last < target) c->sblk++;
  if (c->sblk == c->nblk) return 0;
  *last = bl[c->sblk].last;
  if (c->ubblk != c->sblk) {  /* once per block visited */
    c->ubblk = c->sblk;
    c->bub = c->ubscale * bl[c->sblk].sat;
  }
  return c->bub;
}

/* Sets up one cursor per query term present in s; returns how many. */
static uint32_t cursors_open(lp_index *ix, const ix_seg *s, const qterm *qt, uint32_t nqt, const bm25 *m,
                             ix_cursor **cs) {
  uint32_t nc = 0;
  for (uint32_t i = 0; i < nqt; i++) {
    ix_cursor *c = &ix->cursors[nc];
    c->s = s;
    c->qi = i;
    c->w = qt[i].w;
    c->blk = c->pos = c->n = c->sblk = 0;
    c->dec = c->ubblk = LP_IX_END;
    if (s->kind == IX_MEM) {
      c->t = NULL;
      if (!(c->l = lp__ix_mem_list(s, qt[i].tid)) || c->l->n == 0) continue;
      double r = m->avgdl / s->ref_avgdl, ub2 = c->w * m->k1p1 * (r > 1 ? r : 1) * LP_IX_UB_SLACK * c->l->sat;
      c->ub = contrib(m, c->w, lp__ix_tf(c->l->max_tf), c->l->min_dl) * LP_IX_UB_SLACK;
      if (ub2 < c->ub) c->ub = ub2;
    } else {
      c->l = NULL;
      if (!lp__ix_frozen_term(ix, s, qt[i].tid, &c->tcopy)) continue;
      c->t = &c->tcopy;
      c->bl = lp__ix_blocks(s, c->t);
      c->nblk = lp__ix_nblk(c->t);
      double r = m->avgdl / s->ref_avgdl;
      c->ubscale = c->w * m->k1p1 * (r > 1 ? r : 1) * LP_IX_UB_SLACK;
      c->ub = c->ubscale * c->t->b.sat;
    }
    cur_seek(c, 0);
    if (c->key != LP_IX_END) cs[nc++] = c;
  }
  return nc;
}

/* The cursors of one segment in key order, WAND's working set: keys and list bounds in small contiguous
 * arrays beside the cursor pointers, so that ordering them and finding the pivot read a few cache lines
 * instead of one (large) cursor each. A cursor that moved only ever moves forward, so after a step only
 * the moved ones are shifted right to their place (place()), not the whole set re-sorted. */
typedef struct wset {
  uint32_t n;
  uint32_t key[LP_INDEX_MAX_QUERY_TERMS];
  double ub[LP_INDEX_MAX_QUERY_TERMS];
  ix_cursor *c[LP_INDEX_MAX_QUERY_TERMS];
} wset;

/* Re-reads cursor i's key (it has moved forward) and shifts it right to its place in key order. */
static void place(wset *w, uint32_t i) {
  ix_cursor *c = w->c[i];
  uint32_t key = c->key;
  double ub = w->ub[i];
  for (; i + 1 < w->n && w->key[i + 1] < key; i++) {
    w->key[i] = w->key[i + 1];
    w->ub[i] = w->ub[i + 1];
    w->c[i] = w->c[i + 1];
  }
  w->key[i] = key;
  w->ub[i] = ub;
  w->c[i] = c;
}

/* Scores the doc all of w's cursors 0..p sit on (key k), in query-term order, and offers it to the heap. */
static void evaluate(const lp_index *ix, const ix_seg *s, const wset *w, uint32_t p, uint32_t k, uint32_t nqt,
                     const bm25 *m, lp_index_heap *H, uint32_t shard) {
  lp_index_hit *h = H->hits;
  double part[LP_INDEX_MAX_QUERY_TERMS];
  uint64_t present = 0;
  if (!lp__ix_live(s, k)) return;
  uint32_t doc = key_doc(s, k);
  double dl = ix->hot[doc].dl;
  if (p == 0 && H->n == H->k) {
    /* One term: reject without the division when the score is surely below the k-th (the slack covers
     * the rounding of both sides), as heap_offer would. */
    double tf = lp__ix_tf(cur_tf(w->c[0]));
    if (w->c[0]->w * tf * m->k1p1 * LP_IX_UB_SLACK < h[0].score * (tf + norm(m, dl))) return;
  }
  for (uint32_t i = 0; i <= p; i++) {
    const ix_cursor *c = w->c[i];
    part[c->qi] = contrib(m, c->w, lp__ix_tf(cur_tf(c)), dl);
    present |= 1ull << c->qi;
  }
  double score = 0;
  for (uint32_t qi = 0; qi < nqt; qi++)
    if (present & (1ull << qi)) score += part[qi];
  heap_offer(h, &H->n, H->k, shard, doc, score);
}

static void wand_segment(lp_index *ix, const ix_seg *s, const qterm *qt, uint32_t nqt, const bm25 *m,
                         lp_index_heap *H, uint32_t shard) {
  wset w;
  w.n = cursors_open(ix, s, qt, nqt, m, w.c);
  for (uint32_t i = 0; i < w.n; i++) w.ub[i] = w.c[i]->ub;
  for (uint32_t i = 1; i < w.n; i++) {  /* insertion sort of the opened cursors by key */
    ix_cursor *c = w.c[i];
    double ub = w.ub[i];
    uint32_t j = i;
    for (; j > 0 && w.c[j - 1]->key > c->key; j--) {
      w.c[j] = w.c[j - 1];
      w.ub[j] = w.ub[j - 1];
    }
    w.c[j] = c;
    w.ub[j] = ub;
  }
  for (uint32_t i = 0; i < w.n; i++) w.key[i] = w.c[i]->key;
  for (;;) {
    while (w.n > 0 && w.key[w.n - 1] == LP_IX_END) w.n--;
    if (w.n == 0) return;
    uint32_t nc = w.n;
    int full = H->n == H->k;
    double theta = full ? H->hits[0].score : -INFINITY, acc = 0;
    uint32_t p = nc;
    for (uint32_t i = 0; i < nc; i++) {
      acc += w.ub[i];
      if (!full || acc >= theta) {
        p = i;
        break;
      }
    }
    if (p == nc) return;  /* no doc left can reach the k-th score */
    uint32_t pd = w.key[p];
    /* The doc table is read at random, once per evaluated doc (its length): start that load now, while
     * the block bounds below are summed, instead of stalling on it in evaluate() (a cache miss per
     * evaluated doc at 100k docs and more: perf annotate showed it as the hottest load of the loop). */
    __builtin_prefetch(&ix->hot[key_doc(s, pd)]);
    while (p + 1 < nc && w.key[p + 1] == pd) p++;
    double bsum = 0;
    uint64_t next = p + 1 < nc ? w.key[p + 1] : LP_IX_END;
    uint32_t best = 0;
    for (uint32_t i = 0; i <= p; i++) {
      uint32_t last;
      bsum += cur_block_ub(w.c[i], pd, &last);
      if ((uint64_t)last + 1 < next) next = (uint64_t)last + 1;
      if (w.ub[i] > w.ub[best]) best = i;
    }
    if (!full || bsum >= theta) {
      if (w.key[0] == pd) {
        evaluate(ix, s, &w, p, pd, nqt, m, H, shard);
        for (uint32_t i = p + 1; i-- > 0;) {
          cur_seek(w.c[i], pd + 1);
          place(&w, i);
        }
      } else {
        uint32_t j = 0;  /* the cursor before the pivot with the largest bound */
        for (uint32_t i = 1; i < p; i++)
          if (w.key[i] < pd && w.ub[i] > w.ub[j]) j = i;
        cur_seek(w.c[j], pd);
        place(&w, j);
      }
    } else {
      if (next <= pd) next = (uint64_t)pd + 1;
      cur_seek(w.c[best], next >= LP_IX_END ? LP_IX_END : (uint32_t)next);
      place(&w, best);
    }
  }
}

static void finish(lp_index_hit *hits, size_t n, size_t *nhits) {
  qsort(hits, n, sizeof *hits, hit_cmp);
  *nhits = n;
}

void lp_index_heap_init(lp_index_heap *h, lp_index_hit *room, size_t k) { *h = (lp_index_heap){ room, k, 0 }; }

size_t lp_index_heap_finish(lp_index_heap *h) {
  size_t n;
  finish(h->hits, h->n, &n);
  return n;
}

int lp_index_topk_into(lp_index *ix, const lp_index_term *q, size_t nq, const lp_index_collstats *cs,
                       uint32_t shard, lp_index_heap *h) {
  qterm qt[LP_INDEX_MAX_QUERY_TERMS];
  uint32_t nqt;
  bm25 m;
  if (!h || !h->hits) return lp__ix_fail(ix, LP_EINVAL, "the heap and its room are required");
  int rc = prepare(ix, q, nq, cs, h->k, qt, &nqt, &m);
  if (rc != LP_OK || nqt == 0) return rc;
  /* Largest segment first: the threshold rises early and prunes the smaller ones harder. */
  const ix_seg *order[LP_IX_ORDER_MAX];
  uint32_t ns = ix->nsegs < LP_IX_ORDER_MAX ? ix->nsegs : 0;
  for (uint32_t i = 0; i < ns; i++) {
    uint32_t j = i;
    for (; j > 0 && order[j - 1]->live < ix->segs[i]->live; j--) order[j] = order[j - 1];
    order[j] = ix->segs[i];
  }
  for (uint32_t i = 0; i < ix->nsegs; i++) wand_segment(ix, ns ? order[i] : ix->segs[i], qt, nqt, &m, h, shard);
  return LP_OK;
}

int lp_index_topk(lp_index *ix, const lp_index_term *q, size_t nq, const lp_index_collstats *cs, size_t k,
                  lp_index_hit *hits, size_t *nhits) {
  lp_index_heap h;
  if (nhits) *nhits = 0;
  if (!hits || !nhits) return lp__ix_fail(ix, LP_EINVAL, "hits and nhits are required");
  lp_index_heap_init(&h, hits, k);
  int rc = lp_index_topk_into(ix, q, nq, cs, 0, &h);
  if (rc != LP_OK) return rc;
  *nhits = lp_index_heap_finish(&h);
  return LP_OK;
}

/* The stored tf code of key (a slot of a mutable segment, a doc of a compressed one) in s's list of tid;
 * 0 when the list does not hold key. A binary search over the slots, or over the block ends and then the
 * one block's decoded docs; the tf code is read as cur_tf() reads it. No cursor is opened: WAND's
 * cursors_open() decodes each list's first block, which a single look-up does not need. */
static int tf_at(const lp_index *ix, const ix_seg *s, uint32_t tid, uint32_t key, uint16_t *tf) {
  if (s->kind == IX_MEM) {
    const ix_mlist *l = lp__ix_mem_list(s, tid);
    uint32_t lo = 0, hi = l ? l->n : 0;
    while (lo < hi) {
      uint32_t mid = lo + (hi - lo) / 2;
      if (l->slots[mid] < key) lo = mid + 1;
      else hi = mid;
    }
    if (!l || lo == l->n || l->slots[lo] != key) return 0;
    *tf = l->tfs[lo];
    return 1;
  }
  ix_fterm t;
  if (!lp__ix_frozen_term(ix, s, tid, &t)) return 0;
  const ix_block *bl = lp__ix_blocks(s, &t);
  uint32_t lo = 0, hi = lp__ix_nblk(&t);
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (bl[mid].last < key) lo = mid + 1;
    else hi = mid;
  }
  if (lo == lp__ix_nblk(&t)) return 0;
  uint32_t docs[LP_IX_BLOCK], n = lp__ix_block_docs(s, &t, lo, docs), a = 0, z = n;
  while (a < z) {
    uint32_t mid = a + (z - a) / 2;
    if (docs[mid] < key) a = mid + 1;
    else z = mid;
  }
  if (a == n || docs[a] != key) return 0;
  const ix_block *b = &bl[lo];
  const uint8_t *tp = b->wt ? s->data + b->off + ((size_t)(n - 1) * b->wd + 7) / 8 : NULL;
  *tf = (uint16_t)(b->max_tf - lp__ix_get(tp, a, b->wt));
  return 1;
}

/* The doc's current version is in one segment (the doc table says which, and at which key): per query
 * term one look-up of that key in the term's list there. The contributions are added in query-term
 * order with the weights prepare() gives WAND, as evaluate() adds them, so the sum is WAND's score bit
 * for bit. */
int lp_index_doc_score(lp_index *ix, uint32_t doc, const lp_index_term *q, size_t nq, const lp_index_collstats *cs,
                       double *score) {
  qterm qt[LP_INDEX_MAX_QUERY_TERMS];
  uint32_t nqt;
  bm25 m;
  if (!score) return lp__ix_fail(ix, LP_EINVAL, "score is required");
  *score = 0;
  int rc = prepare(ix, q, nq, cs, 1, qt, &nqt, &m);
  if (rc != LP_OK) return rc;
  const ix_seg *s = doc < ix->docs_cap && ix->hot[doc].seg ? lp__ix_seg_find(ix, ix->hot[doc].seg) : NULL;
  if (!s) return lp__ix_fail(ix, LP_ENOENT, "doc %u is not in the index", doc);
  uint32_t key = s->kind == IX_MEM ? ix->docs[doc].slot : doc;
  double dl = ix->hot[doc].dl, sum = 0;
  for (uint32_t j = 0; j < nqt; j++) {
    uint16_t tf;
    if (tf_at(ix, s, qt[j].tid, key, &tf)) sum += contrib(&m, qt[j].w, lp__ix_tf(tf), dl);
  }
  *score = sum;
  return LP_OK;
}

/* Term at a time in query-term order into a dense accumulator: the same additions, in the same order, as
 * evaluate() makes for each doc. */
int lp_index_topk_exhaustive(lp_index *ix, const lp_index_term *q, size_t nq, const lp_index_collstats *cs,
                             size_t k, lp_index_hit *hits, size_t *nhits) {
  qterm qt[LP_INDEX_MAX_QUERY_TERMS];
  uint32_t nqt;
  bm25 m;
  if (nhits) *nhits = 0;
  if (!hits || !nhits) return lp__ix_fail(ix, LP_EINVAL, "hits and nhits are required");
  int rc = prepare(ix, q, nq, cs, k, qt, &nqt, &m);
  if (rc != LP_OK || nqt == 0) return rc;
  double *acc = lp_calloc(ix->docs_cap, sizeof *acc);
  uint32_t *touched = lp_malloc((size_t)ix->docs_cap * sizeof *touched);
  uint8_t *seen = lp_calloc(ix->docs_cap, 1);
  if (!acc || !touched || !seen) {
    lp_free(acc);
    lp_free(touched);
    lp_free(seen);
    return lp__ix_fail(ix, LP_ENOMEM, "out of memory for the exhaustive accumulator");
  }
  uint32_t nt = 0;
  for (uint32_t qi = 0; qi < nqt; qi++) {
    for (uint32_t si = 0; si < ix->nsegs; si++) {
      ix_cursor *one[1];
      qterm t = qt[qi];
      if (cursors_open(ix, ix->segs[si], &t, 1, &m, one) == 0) continue;
      for (ix_cursor *c = one[0]; c->key != LP_IX_END; cur_seek(c, c->key + 1)) {
        if (!lp__ix_live(ix->segs[si], c->key)) continue;
        uint32_t d = key_doc(ix->segs[si], c->key);
        acc[d] += contrib(&m, c->w, lp__ix_tf(cur_tf(c)), ix->hot[d].dl);
        if (!seen[d]) {
          seen[d] = 1;
          touched[nt++] = d;
        }
      }
    }
  }
  size_t n = 0;
  for (uint32_t i = 0; i < nt; i++) heap_offer(hits, &n, k, 0, touched[i], acc[touched[i]]);
  lp_free(acc);
  lp_free(touched);
  lp_free(seen);
  finish(hits, n, nhits);
  return LP_OK;
}
