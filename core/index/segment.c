/*
 * segment.c: the two kinds of segment. A mutable one (IX_MEM) takes put()s: one uncompressed posting list
 * per term, found through a small hash on the term id, postings appended in slot order. A compressed one
 * (IX_FROZEN) is built by merge.c: terms sorted by id, postings in blocks of 128 (see index_int.h).
 * Every posting list a segment holds takes a reference on its term id, released when the segment goes.
 */
#include "base/alloc.h"
#include "index/index_int.h"

ix_seg *lp__ix_seg_new(lp_index *ix, int kind) {
  ix_seg *s = lp_calloc(1, sizeof *s);
  if (!s) return NULL;
  s->kind = kind;
  s->id = ix->next_seg_id++;
  return s;
}

/* Frees a segment that is no longer in ix->segs, releasing its term references. */
void lp__ix_seg_free(lp_index *ix, ix_seg *s) {
  if (!s) return;
  for (uint32_t i = 0; i < s->nlists; i++) {
    ix->terms[s->lists[i].tid].refs--;
    lp__ix_term_release(ix, s->lists[i].tid);
    lp_free(s->lists[i].slots);
    lp_free(s->lists[i].tfs);
  }
  for (uint32_t i = 0; i < s->nterms; i++) {
    ix->terms[s->terms[i].tid].refs--;
    lp__ix_term_release(ix, s->terms[i].tid);
  }
  for (uint32_t i = 0; i < s->nones; i++) {
    ix->terms[s->one_tid[i]].refs--;
    lp__ix_term_release(ix, s->one_tid[i]);
  }
  lp_free(s->one_tid);
  lp_free(s->one_doc);
  lp_free(s->one_tf);
  lp_free(s->lists);
  lp_free(s->map);
  lp_free(s->terms);
  lp_free(s->blocks);
  lp_free(s->data);
  lp_free(s->docs);
  lp_free(s->lbits);
  lp_free(s);
}

/* Makes s's live bitmap cover keys 0..nkeys-1, the new bits clear (dead). Doubling, so a mutable segment's
 * one new slot per put() costs O(1) amortised. LP_ENOMEM leaves the bitmap as it was. */
int lp__ix_bits_reserve(ix_seg *s, uint32_t nkeys) {
  if (nkeys <= s->nbits) return LP_OK;
  uint64_t words = s->nbits ? s->nbits / 64 : 4, need = ((uint64_t)nkeys + 63) / 64;
  while (words < need) words *= 2;
  if (words > (1ull << 26)) words = need;  /* 2^32 keys at most */
  uint64_t *b = lp_realloc(s->lbits, words * sizeof *b);
  if (!b) return LP_ENOMEM;
  memset(b + s->nbits / 64, 0, (words - s->nbits / 64) * sizeof *b);
  s->lbits = b;
  s->nbits = words * 64 > UINT32_MAX ? UINT32_MAX : (uint32_t)(words * 64);  /* keys are < UINT32_MAX */
  return LP_OK;
}

ix_seg *lp__ix_seg_find(const lp_index *ix, uint32_t id) {
  for (uint32_t i = 0; i < ix->nsegs; i++)
    if (ix->segs[i]->id == id) return ix->segs[i];
  return NULL;
}

int lp__ix_seg_add(lp_index *ix, ix_seg *s) {
  if (lp__ix_grow((void **)&ix->segs, &ix->cap_segs, ix->nsegs + 1, sizeof(ix_seg *)) != LP_OK)
    return LP_ENOMEM;
  ix->segs[ix->nsegs++] = s;
  return LP_OK;
}

/* Removes s from the queryable list, keeping the others in age order. */
void lp__ix_seg_remove(lp_index *ix, ix_seg *s) {
  for (uint32_t i = 0; i < ix->nsegs; i++) {
    if (ix->segs[i] != s) continue;
    memmove(&ix->segs[i], &ix->segs[i + 1], (ix->nsegs - i - 1) * sizeof(ix_seg *));
    ix->nsegs--;
    break;
  }
  if (ix->mem == s) ix->mem = NULL;
}

ix_mlist *lp__ix_mem_list(const ix_seg *s, uint32_t tid) {
  if (s->map_cap == 0) return NULL;
  uint32_t mask = s->map_cap - 1;
  for (uint32_t i = lp__ix_tid_hash(tid) & mask;; i = (i + 1) & mask) {
    uint64_t e = s->map[i];
    if (e == UINT64_MAX) return NULL;
    if ((uint32_t)(e >> 32) == tid) return &s->lists[(uint32_t)e];
  }
}

static void map_place(uint64_t *map, uint32_t cap, uint32_t tid, uint32_t li) {
  uint32_t mask = cap - 1, i = lp__ix_tid_hash(tid) & mask;
  while (map[i] != UINT64_MAX) i = (i + 1) & mask;
  map[i] = (uint64_t)tid << 32 | li;
}

static int map_reserve(ix_seg *s, uint32_t extra) {
  uint64_t need = (uint64_t)s->nlists + extra;
  if (need * 2 <= s->map_cap) return LP_OK;
  uint64_t cap = s->map_cap ? s->map_cap : 256;
  while (need * 2 > cap) cap *= 2;
  if (cap > (1u << 31)) return LP_ENOMEM;
  uint64_t *m = lp_malloc(cap * sizeof *m);
  if (!m) return LP_ENOMEM;
  memset(m, 0xff, cap * sizeof *m);
  for (uint32_t i = 0; i < s->nlists; i++) map_place(m, (uint32_t)cap, s->lists[i].tid, i);
  lp_free(s->map);
  s->map = m;
  s->map_cap = (uint32_t)cap;
  return LP_OK;
}

/* Makes room for one more doc slot and one more posting in the list of each of tids[0..n) (distinct),
 * creating the missing lists, and sets li[i] to the index in s->lists of tids[i]'s list. After LP_OK the append of one doc cannot fail; on LP_ENOMEM the segment
 * is unchanged but for capacity and (empty) new lists, which are valid. */
int lp__ix_mem_reserve(lp_index *ix, ix_seg *s, const uint32_t *tids, uint32_t n, uint32_t *li) {
  if (s->ndocs == LP_IX_END - 1) return LP_ENOMEM;
  if (lp__ix_grow((void **)&s->docs, &s->cap_docs, s->ndocs + 1, sizeof(uint32_t)) != LP_OK ||
      lp__ix_bits_reserve(s, s->ndocs + 1) != LP_OK || map_reserve(s, n) != LP_OK)
    return LP_ENOMEM;
  /* Three passes, so that the cache misses of the map, the list headers and the list tails of all the terms
   * are in flight together (lp__ix_map_prefetch). */
  for (uint32_t i = 0; i < n; i++) lp__ix_map_prefetch(s, tids[i]);
  for (uint32_t i = 0; i < n; i++) {
    ix_mlist *l = lp__ix_mem_list(s, tids[i]);
    if (!l) {
      if (lp__ix_grow((void **)&s->lists, &s->cap_lists, s->nlists + 1, sizeof(ix_mlist)) != LP_OK)
        return LP_ENOMEM;
      l = &s->lists[s->nlists];
      *l = (ix_mlist){ .tid = tids[i], .min_dl = __builtin_inf() };
      map_place(s->map, s->map_cap, tids[i], s->nlists++);
      ix->terms[tids[i]].refs++;
    }
    li[i] = (uint32_t)(l - s->lists);
    __builtin_prefetch(l);
  }
  for (uint32_t i = 0; i < n; i++) {
    ix_mlist *l = &s->lists[li[i]];
    if (l->n < l->cap) {
      __builtin_prefetch(&l->slots[l->n], 1);
      __builtin_prefetch(&l->tfs[l->n], 1);
      continue;
    }
    uint32_t cap = l->cap ? l->cap * 2 : 4;
    uint32_t *ns = lp_realloc(l->slots, (size_t)cap * sizeof *ns);
    if (!ns) return LP_ENOMEM;
    l->slots = ns;
    uint16_t *nt = lp_realloc(l->tfs, (size_t)cap * sizeof *nt);
    if (!nt) return LP_ENOMEM;
    l->tfs = nt;
    s->list_bytes += (size_t)(cap - l->cap) * (sizeof(uint32_t) + sizeof(uint16_t));
    l->cap = cap;
  }
  return LP_OK;
}

/* Finds tid in compressed segment s and copies its entry to *out; a one-posting term is given a
 * one-block entry with no data (doc = last, tf = max_tf), bounded by its doc's length (when that doc is no
 * longer live here, its posting is dead and never scored). Returns 1 when found, 0 when not. */
int lp__ix_frozen_term(const lp_index *ix, const ix_seg *s, uint32_t tid, ix_fterm *out) {
  uint32_t lo = 0, hi = s->nterms;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (s->terms[mid].tid < tid) lo = mid + 1;
    else hi = mid;
  }
  if (lo < s->nterms && s->terms[lo].tid == tid) {
    *out = s->terms[lo];
    return 1;
  }
  lo = 0, hi = s->nones;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (s->one_tid[mid] < tid) lo = mid + 1;
    else hi = mid;
  }
  if (lo == s->nones || s->one_tid[lo] != tid) return 0;
  uint32_t doc = s->one_doc[lo];
  *out = (ix_fterm){ .tid = tid, .n = 1,
                     .b = { .last = doc, .max_tf = s->one_tf[lo], .sat = lp__ix_sat(&ix->p, lp__ix_tf(s->one_tf[lo]), ix->hot[doc].dl, s->ref_avgdl) } };
  return 1;
}

/* Decodes the doc ids of block b of t into docs[] (room for LP_IX_BLOCK); returns the block's size. */
uint32_t lp__ix_block_docs(const ix_seg *s, const ix_fterm *t, uint32_t b, uint32_t *docs) {
  const ix_block *blk = &lp__ix_blocks(s, t)[b];
  uint32_t n = lp__ix_blk_n(t, b);
  docs[n - 1] = blk->last;
  if (n > 1) {
    lp__ix_unpack(s->data + blk->off, docs, n - 1, blk->wd);
    for (uint32_t i = n - 1; i-- > 0;) docs[i] = docs[i + 1] - docs[i] - 1;
  }
  return n;
}

/* Decodes block b of t into docs[] and tfs[] (room for LP_IX_BLOCK each); returns its size. */
uint32_t lp__ix_block_decode(const ix_seg *s, const ix_fterm *t, uint32_t b, uint32_t *docs, uint16_t *tfs) {
  const ix_block *blk = &lp__ix_blocks(s, t)[b];
  uint32_t n = lp__ix_block_docs(s, t, b, docs);
  if (blk->wt == 0) {
    for (uint32_t i = 0; i < n; i++) tfs[i] = blk->max_tf;
    return n;
  }
  const uint8_t *tp = s->data + blk->off + ((size_t)(n - 1) * blk->wd + 7) / 8;
  for (uint32_t i = 0; i < n; i++) tfs[i] = (uint16_t)(blk->max_tf - lp__ix_get(tp, i, blk->wt));
  return n;
}

size_t lp__ix_seg_bytes(const ix_seg *s) {
  size_t b = sizeof *s + (size_t)s->cap_docs * sizeof(uint32_t);
  b += (size_t)s->cap_lists * sizeof(ix_mlist) + (size_t)s->map_cap * sizeof(uint64_t) + s->list_bytes;
  b += (size_t)s->cap_terms * sizeof(ix_fterm) + (size_t)s->cap_blocks * sizeof(ix_block) + s->data_cap;
  b += ((size_t)s->cap_one_tid + s->cap_one_doc) * sizeof(uint32_t) + (size_t)s->cap_one_tf * sizeof(uint16_t);
  b += (size_t)s->nbits / 8;
  return b;
}
