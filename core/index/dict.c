/*
 * dict.c: the index's term dictionary: term bytes <-> dense term id, with the live document frequency and
 * the number of segments referring to the id. An id is recycled once no live doc and no segment uses it,
 * so a vocabulary that churns (expired evidence) does not grow the dictionary forever.
 * Open addressing with linear probing over ids; deletion by backward shift (no tombstones). Texts are kept
 * in one pool (a length byte then the bytes), compacted once released texts make up half of it.
 */
#include <xxhash.h>

#include "base/alloc.h"
#include "index/index_int.h"

static uint32_t term_hash(const char *s, size_t n) { return (uint32_t)XXH3_64bits(s, n); }

int lp__ix_dict_find(const lp_index *ix, const char *s, size_t n, uint32_t *tid) {
  if (ix->dict_cap == 0) return LP_ENOENT;
  uint32_t mask = ix->dict_cap - 1, h = term_hash(s, n);
  for (uint32_t i = h & mask;; i = (i + 1) & mask) {
    uint32_t id = ix->dict[i];
    if (id == LP_IX_NONE) return LP_ENOENT;
    const ix_term *t = &ix->terms[id];
    if (t->hash == h && ix->pool[t->off] == n && memcmp(ix->pool + t->off + 1, s, n) == 0) {
      *tid = id;
      return LP_OK;
    }
  }
}

static void dict_place(uint32_t *dict, uint32_t cap, uint32_t hash, uint32_t id) {
  uint32_t mask = cap - 1, i = hash & mask;
  while (dict[i] != LP_IX_NONE) i = (i + 1) & mask;
  dict[i] = id;
}

/* Keeps the load factor at or under 3/4 (about 2.5 probes a miss with linear probing; every probe that
 * meets another term costs a look at its hash in ix->terms). */
static int dict_reserve(lp_index *ix) {
  if ((uint64_t)(ix->dict_used + 1) * 4 <= (uint64_t)ix->dict_cap * 3) return LP_OK;
  uint32_t cap = ix->dict_cap ? ix->dict_cap * 2 : 1024;
  if (cap == 0 || cap > (1u << 31)) return LP_ENOMEM;
  uint32_t *d = lp_malloc((size_t)cap * sizeof *d);
  if (!d) return LP_ENOMEM;
  memset(d, 0xff, (size_t)cap * sizeof *d);
  for (uint32_t i = 0; i < ix->dict_cap; i++)
    if (ix->dict[i] != LP_IX_NONE) dict_place(d, cap, ix->terms[ix->dict[i]].hash, ix->dict[i]);
  lp_free(ix->dict);
  ix->dict = d;
  ix->dict_cap = cap;
  return LP_OK;
}

/* Finds the id of a term, creating it (df 0, refs 0) when new. A created term that ends up unused must be
 * handed to lp__ix_term_release so its id is recycled. */
int lp__ix_dict_intern(lp_index *ix, const char *s, size_t n, uint32_t *tid) {
  if (lp__ix_dict_find(ix, s, n, tid) == LP_OK) return LP_OK;
  if (dict_reserve(ix) != LP_OK) return LP_ENOMEM;
  uint32_t id;
  if (ix->nfree > 0) {
    id = ix->free_tids[ix->nfree - 1];
  } else {
    if (ix->nterms == LP_IX_NONE - 1) return LP_ENOMEM;
    if (lp__ix_grow_slow((void **)&ix->terms, &ix->cap_terms, (size_t)ix->nterms + 1, sizeof(ix_term)) != LP_OK)
      return LP_ENOMEM;
    id = ix->nterms;
  }
  if (ix->pool_len + n + 1 >= LP_IX_NONE ||
      lp__ix_grow_slow((void **)&ix->pool, &ix->pool_cap, ix->pool_len + n + 1, 1) != LP_OK)
    return LP_ENOMEM;
  uint32_t off = (uint32_t)ix->pool_len;
  ix->pool[off] = (uint8_t)n;  /* n <= LP_INDEX_MAX_TERM_LEN = 255 */
  memcpy(ix->pool + off + 1, s, n);
  ix->pool_len += n + 1;
  if (ix->nfree > 0) ix->nfree--;
  else ix->nterms++;
  ix->terms[id] = (ix_term){ .off = off, .hash = term_hash(s, n) };
  dict_place(ix->dict, ix->dict_cap, ix->terms[id].hash, id);
  ix->dict_used++;
  *tid = id;
  return LP_OK;
}

static void dict_erase(lp_index *ix, uint32_t id) {
  uint32_t mask = ix->dict_cap - 1, i = ix->terms[id].hash & mask;
  while (ix->dict[i] != id) i = (i + 1) & mask;
  for (uint32_t j = (i + 1) & mask; ix->dict[j] != LP_IX_NONE; j = (j + 1) & mask) {
    uint32_t k = ix->terms[ix->dict[j]].hash & mask;
    /* Move entry j into the hole at i unless its home k lies cyclically in (i, j]. */
    int stays = (i <= j) ? (k > i && k <= j) : (k > i || k <= j);
    if (!stays) {
      ix->dict[i] = ix->dict[j];
      i = j;
    }
  }
  ix->dict[i] = LP_IX_NONE;
  ix->dict_used--;
}

/* Rewrites the pool without its garbage once that is most of it (amortised O(1) a release). If the new
 * pool cannot be had, the old one simply stays. */
static void pool_compact(lp_index *ix) {
  if (ix->pool_dead < 65536 || ix->pool_dead * 2 < ix->pool_len) return;
  size_t live = ix->pool_len - ix->pool_dead, o = 0;
  uint8_t *p = lp_malloc(live ? live : 1);
  if (!p) return;
  for (uint32_t id = 0; id < ix->nterms; id++) {
    ix_term *t = &ix->terms[id];
    if (t->off == LP_IX_NONE) continue;
    size_t len = (size_t)ix->pool[t->off] + 1;
    memcpy(p + o, ix->pool + t->off, len);
    t->off = (uint32_t)o;
    o += len;
  }
  lp_free(ix->pool);
  ix->pool = p;
  ix->pool_len = ix->pool_cap = o;
  ix->pool_dead = 0;
}

/* Recycles the id once no live doc and no segment uses it. If the free list cannot grow, the term simply
 * stays in the dictionary with df 0 (still correct, only not recycled). */
void lp__ix_term_release(lp_index *ix, uint32_t tid) {
  ix_term *t = &ix->terms[tid];
  if (t->df != 0 || t->refs != 0 || t->off == LP_IX_NONE) return;
  if (lp__ix_grow((void **)&ix->free_tids, &ix->cap_free, ix->nfree + 1, sizeof(uint32_t)) != LP_OK)
    return;
  dict_erase(ix, tid);
  ix->pool_dead += (size_t)ix->pool[t->off] + 1;
  *t = (ix_term){ .off = LP_IX_NONE };
  ix->free_tids[ix->nfree++] = tid;
  pool_compact(ix);
}

void lp__ix_dict_free(lp_index *ix) {
  lp_free(ix->pool);
  lp_free(ix->terms);
  lp_free(ix->free_tids);
  lp_free(ix->dict);
}
