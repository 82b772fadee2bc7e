/*
 * index.c: the index object, the doc table, put() and delete(), statistics. See index.h for the model and
 * index_int.h for the layout.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/alloc.h"
#include "index/index_int.h"

int lp__ix_fail(lp_index *ix, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(ix->err, sizeof ix->err, fmt, ap);
  va_end(ap);
  return code;
}

/* Grows *p (an array of elem-sized items with capacity *cap) to hold at least need items, doubling. The
 * index-wide tables that grow with the collection (doc table, term table, term pool) use
 * lp__ix_grow_slow instead: a quarter more each time, so their slack stays under 25%. */
int lp__ix_grow(void **p, uint32_t *cap, uint32_t need, size_t elem) {
  if (need <= *cap) return LP_OK;
  uint64_t c = *cap ? *cap : 8;
  while (c < need) c *= 2;
  if (c > UINT32_MAX) c = UINT32_MAX;
  void *n = lp_realloc(*p, (size_t)c * elem);
  if (!n) return LP_ENOMEM;
  *p = n;
  *cap = (uint32_t)c;
  return LP_OK;
}

int lp__ix_grow_slow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return LP_OK;
  size_t c = *cap < 64 ? 64 : *cap + *cap / 4;
  if (c < need) c = need;
  void *n = lp_realloc(*p, c * elem);
  if (!n) return LP_ENOMEM;
  *p = n;
  *cap = c;
  return LP_OK;
}

int lp__ix_grow_sz(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return LP_OK;
  size_t c = *cap ? *cap : 64;
  while (c < need) c *= 2;
  void *n = lp_realloc(*p, c * elem);
  if (!n) return LP_ENOMEM;
  *p = n;
  *cap = c;
  return LP_OK;
}

double lp_index_tf_quantize(double w) {
  float f = (float)w;
  uint32_t bits;
  memcpy(&bits, &f, sizeof bits);
  uint16_t code = (uint16_t)(((bits & 0x7fffffffu) + 0x4000u) >> 15);
  return lp__ix_tf(code);
}

static uint16_t tf_code(double w) {
  float f = (float)w;
  uint32_t bits;
  memcpy(&bits, &f, sizeof bits);
  return (uint16_t)(((bits & 0x7fffffffu) + 0x4000u) >> 15);
}

void lp_index_params_default(lp_index_params *p) {
  *p = (lp_index_params){ .k1 = 1.2, .b = 0.75, .max_docs = 1u << 24, .mem_postings = 65536,
                          .merge_factor = 4, .reclaim_dead = 0.5, .idf = LP_INDEX_IDF_ROBERTSON,
                          .min_normlen = 0.5 };
}

static int check_params(const lp_index_params *p, char *errstr, size_t n) {
  const char *why = NULL;
  if (!(p->k1 >= 0 && isfinite(p->k1))) why = "k1 must be a finite number >= 0";
  else if (!(p->b >= 0 && p->b <= 1)) why = "b must be between 0 and 1";
  else if (p->max_docs < 1 || p->max_docs > (1u << 31)) why = "max_docs must be between 1 and 2^31";
  else if (p->mem_postings < 1) why = "mem_postings must be >= 1";
  else if (p->merge_factor < 2 || p->merge_factor > LP_IX_MAX_MERGE) why = "merge_factor must be between 2 and 16";
  else if (!(p->reclaim_dead > 0 && p->reclaim_dead <= 1)) why = "reclaim_dead must be in (0, 1]";
  else if (p->idf != LP_INDEX_IDF_ROBERTSON && p->idf != LP_INDEX_IDF_LUCENE) why = "idf must be robertson or lucene";
  else if (!(p->min_normlen >= 0 && p->min_normlen <= 100)) why = "min_normlen must be between 0 and 100";
  if (!why) return LP_OK;
  if (errstr && n) snprintf(errstr, n, "%s", why);
  return LP_EINVAL;
}

int lp_index_new(lp_index **out, const lp_index_params *p, char *errstr, size_t errstr_size) {
  lp_index_params def;
  lp_index_params_default(&def);
  if (!out) return LP_EINVAL;
  *out = NULL;
  if (p && check_params(p, errstr, errstr_size) != LP_OK) return LP_EINVAL;
  lp_index *ix = lp_calloc(1, sizeof *ix);
  if (!ix || !(ix->cursors = lp_calloc(LP_INDEX_MAX_QUERY_TERMS, lp__ix_cursor_size()))) {
    lp_free(ix);
    if (errstr && errstr_size) snprintf(errstr, errstr_size, "out of memory");
    return LP_ENOMEM;
  }
  ix->p = p ? *p : def;
  ix->next_seg_id = 1;
  *out = ix;
  return LP_OK;
}

void lp_index_free(lp_index *ix) {
  if (!ix) return;
  lp__ix_job_abort(ix);
  for (uint32_t i = 0; i < ix->nsegs; i++) lp__ix_seg_free(ix, ix->segs[i]);
  lp_free(ix->segs);
  for (uint32_t d = 0; d < ix->docs_cap; d++) lp_free(ix->docs[d].fwd);
  lp_free(ix->docs);
  lp_free(ix->hot);
  lp__ix_dict_free(ix);
  lp_free(ix->scratch);
  lp_free(ix->fbuf);
  lp_free(ix->cursors);
  lp_free(ix);
}

const char *lp_index_errstr(const lp_index *ix) { return ix->err; }

static int docs_reserve(lp_index *ix, uint32_t doc) {
  if (doc < ix->docs_cap) return LP_OK;
  uint64_t cap = ix->docs_cap < 1024 ? 1024 : (uint64_t)ix->docs_cap + ix->docs_cap / 4;
  if (cap <= doc) cap = (uint64_t)doc + 1;
  if (cap > ix->p.max_docs) cap = ix->p.max_docs;
  ix_hot *h = lp_realloc(ix->hot, (size_t)cap * sizeof *h);
  if (!h) return LP_ENOMEM;
  ix->hot = h;
  memset(h + ix->docs_cap, 0, (size_t)(cap - ix->docs_cap) * sizeof *h);
  ix_doc *d = lp_realloc(ix->docs, (size_t)cap * sizeof *d);
  if (!d) return LP_ENOMEM;  /* hot has grown alone: harmless, docs_cap still says what both hold */
  memset(d + ix->docs_cap, 0, (size_t)(cap - ix->docs_cap) * sizeof *d);
  ix->docs = d;
  ix->docs_cap = (uint32_t)cap;
  return LP_OK;
}

static void *scratch(lp_index *ix, size_t bytes) {
  if (lp__ix_grow_sz(&ix->scratch, &ix->scratch_cap, bytes, 1) != LP_OK) return NULL;
  return ix->scratch;
}

/* Makes ix->fbuf hold at least bytes + 8 (the coder's slack). */
static int fbuf_reserve(lp_index *ix, size_t bytes) {
  return lp__ix_grow_sz((void **)&ix->fbuf, &ix->fbuf_cap, bytes + 8, 1);
}

/* Takes doc out of the index: df, its segment's live counts, the totals. Cannot fail; tids is room for
 * the doc's nterms ids and ix->fbuf must hold the doc's fwd_bytes + 8 (fbuf_reserve). */
static void doc_unlink(lp_index *ix, uint32_t doc, uint32_t *tids) {
  ix_doc *d = &ix->docs[doc];
  if (d->nterms) {
    memcpy(ix->fbuf, d->fwd, d->fwd_bytes);
    memset(ix->fbuf + d->fwd_bytes, 0, 8);
    lp__ix_ids_decode(ix->fbuf, tids, d->nterms);
  }
  for (uint32_t i = 0; i < d->nterms; i++) __builtin_prefetch(&ix->terms[tids[i]], 1);
  for (uint32_t i = 0; i < d->nterms; i++) {
    if (--ix->terms[tids[i]].df == 0) ix->live_terms--;
    lp__ix_term_release(ix, tids[i]);
  }
  ix_seg *s = lp__ix_seg_find(ix, ix->hot[doc].seg);
  if (s) {
    lp__ix_live_clear(s, s->kind == IX_MEM ? d->slot : doc);
    s->live -= d->nterms;
    s->live_docs--;
  }
  ix->sum_dl -= ix->hot[doc].dl;
  ix->live_docs--;
  ix->live_postings -= d->nterms;
  ix->fwd_bytes -= d->fwd_bytes;
  lp_free(d->fwd);
  *d = (ix_doc){ 0 };
  ix->hot[doc] = (ix_hot){ 0 };
  if (ix->live_docs == 0) ix->sum_dl = 0;  /* no drift left behind by an emptied index */
}

typedef struct put_ent {
  uint32_t tid;
  double w;
} put_ent;

/* Sorts ents[0..n) by tid into order, through tmp (room for n): LSD radix sort on bytes, a pass skipped
 * when every key has the same byte there (term ids are small, so usually two or three passes). Below 32
 * entries, insertion sort. Hand-written because put() sorts up to 256 entries per snippet, and qsort()'s
 * callbacks cost as much as the rest of put(). */
static put_ent *sort_ents(put_ent *a, put_ent *tmp, uint32_t n) {
  if (n < 32) {
    for (uint32_t i = 1; i < n; i++) {
      put_ent x = a[i];
      uint32_t j = i;
      for (; j > 0 && a[j - 1].tid > x.tid; j--) a[j] = a[j - 1];
      a[j] = x;
    }
    return a;
  }
  uint32_t any = 0, all = UINT32_MAX;
  for (uint32_t i = 0; i < n; i++) any |= a[i].tid, all &= a[i].tid;
  for (uint32_t shift = 0; shift < 32; shift += 8) {
    if ((((any ^ all) >> shift) & 0xff) == 0) continue;  /* same byte everywhere */
    uint32_t count[257] = { 0 };
    for (uint32_t i = 0; i < n; i++) count[((a[i].tid >> shift) & 0xff) + 1]++;
    for (uint32_t d = 1; d < 257; d++) count[d] += count[d - 1];
    for (uint32_t i = 0; i < n; i++) tmp[count[(a[i].tid >> shift) & 0xff]++] = a[i];
    put_ent *x = a;
    a = tmp;
    tmp = x;
  }
  return a;
}

static int check_weight(lp_index *ix, size_t i, double w) {
  if (w >= LP_INDEX_MIN_WEIGHT && w <= LP_INDEX_MAX_WEIGHT) return LP_OK;
  return lp__ix_fail(ix, LP_EINVAL, "term %zu: weight %g not in [1e-30, 1e30]", i, w);
}

static int check_terms(lp_index *ix, const lp_index_term *t, size_t n) {
  if (n > LP_INDEX_MAX_DOC_TERMS) return lp__ix_fail(ix, LP_EINVAL, "%zu terms: at most %u per document", n, LP_INDEX_MAX_DOC_TERMS);
  if (n && !t) return lp__ix_fail(ix, LP_EINVAL, "terms is NULL");
  for (size_t i = 0; i < n; i++) {
    if (t[i].len < 1 || t[i].len > LP_INDEX_MAX_TERM_LEN || !t[i].ptr)
      return lp__ix_fail(ix, LP_EINVAL, "term %zu: length %zu not in 1..%d", i, t[i].len, LP_INDEX_MAX_TERM_LEN);
    if (check_weight(ix, i, t[i].weight) != LP_OK) return LP_EINVAL;
  }
  return LP_OK;
}

/* A pinned id is a live one with a reference (a pin or a segment's list: both keep the id this term's). */
static int check_tterms(lp_index *ix, const lp_index_tterm *t, size_t n) {
  if (n > LP_INDEX_MAX_DOC_TERMS) return lp__ix_fail(ix, LP_EINVAL, "%zu terms: at most %u per document", n, LP_INDEX_MAX_DOC_TERMS);
  if (n && !t) return lp__ix_fail(ix, LP_EINVAL, "terms is NULL");
  for (size_t i = 0; i < n; i++) {
    uint32_t tid = t[i].tid;
    if (tid >= ix->nterms || ix->terms[tid].off == LP_IX_NONE || ix->terms[tid].refs == 0)
      return lp__ix_fail(ix, LP_EINVAL, "term %zu: id %u is not a pinned term", i, tid);
    if (check_weight(ix, i, t[i].weight) != LP_OK) return LP_EINVAL;
  }
  return LP_OK;
}

/* Slots of the dedupe table for n terms: a power of two >= 2n. */
static uint32_t dedupe_bits(size_t n) {
  uint32_t bits = 4;
  while (((size_t)1 << bits) < 2 * n) bits++;
  return bits;
}

/* Adds (tid, w) to ents[0..*k) through the dedupe table tab of 2^bits slots: a tid met before has its
 * weight summed (in input order). */
static void ent_add(put_ent *ents, uint32_t *k, uint32_t *tab, uint32_t bits, uint32_t tid, double w) {
  uint32_t mask = (1u << bits) - 1;
  uint32_t h = (uint32_t)(((uint64_t)tid * 0x9e3779b97f4a7c15ull) >> (64 - bits)) & mask;
  while (tab[h] != LP_IX_NONE && ents[tab[h]].tid != tid) h = (h + 1) & mask;
  if (tab[h] == LP_IX_NONE) {
    tab[h] = *k;
    ents[(*k)++] = (put_ent){ .tid = tid, .w = w };
  } else {
    ents[tab[h]].w += w;
  }
}

/* Sorts ents[0..k) by tid (through tmp) and clamps the sums of valid weights into range. */
static void ents_finish(put_ent *ents, put_ent *tmp, uint32_t k) {
  put_ent *sorted = sort_ents(ents, tmp, k);
  if (sorted != ents) memcpy(ents, sorted, k * sizeof *ents);
  for (uint32_t i = 0; i < k; i++)
    if (ents[i].w > LP_INDEX_MAX_WEIGHT) ents[i].w = LP_INDEX_MAX_WEIGHT;
}

/* Interns the terms and merges duplicates; on return ents[0..*m) are sorted by tid. On error the terms it
 * created are released. */
static int collect(lp_index *ix, const lp_index_term *t, size_t n, put_ent *ents, put_ent *tmp, uint32_t *tab,
                   uint32_t bits, uint32_t *m) {
  uint32_t k = 0;
  memset(tab, 0xff, ((size_t)1 << bits) * sizeof *tab);
  for (size_t i = 0; i < n; i++) {
    uint32_t tid;
    if (lp__ix_dict_intern(ix, t[i].ptr, t[i].len, &tid) != LP_OK) {
      for (uint32_t j = 0; j < k; j++) lp__ix_term_release(ix, ents[j].tid);
      return lp__ix_fail(ix, LP_ENOMEM, "out of memory in the term dictionary");
    }
    ent_add(ents, &k, tab, bits, tid, t[i].weight);
  }
  ents_finish(ents, tmp, k);
  *m = k;
  return LP_OK;
}

/* The room put() works in, for n terms (dedupe table of 2^bits slots) replacing a doc of `old` terms. */
typedef struct put_room {
  put_ent *ents, *tmp;
  uint32_t *tids;   /* 2n + old */
  uint32_t *tab;    /* 2^bits */
  uint32_t *li;     /* n */
  uint32_t *oli;    /* old */
} put_room;

static int put_prepare(lp_index *ix, uint32_t doc, size_t n, uint32_t bits, put_room *r) {
  if (docs_reserve(ix, doc) != LP_OK) return lp__ix_fail(ix, LP_ENOMEM, "out of memory for the doc table");
  if (!ix->mem) {
    ix_seg *s = lp__ix_seg_new(ix, IX_MEM);
    if (!s || lp__ix_seg_add(ix, s) != LP_OK) {
      lp_free(s);
      return lp__ix_fail(ix, LP_ENOMEM, "out of memory for a segment");
    }
    ix->mem = s;
  }
  size_t old = ix->docs[doc].nterms;
  size_t need = 2 * n * sizeof(put_ent) + (3 * n + 2 * old + ((size_t)1 << bits)) * sizeof(uint32_t);
  put_ent *ents = scratch(ix, need);
  if (!ents) return lp__ix_fail(ix, LP_ENOMEM, "out of memory for put scratch");
  r->ents = ents;
  r->tmp = ents + n;
  r->tids = (uint32_t *)(ents + 2 * n);
  r->tab = r->tids + 2 * n + old;
  r->li = r->tab + ((size_t)1 << bits);
  r->oli = r->li + n;
  return LP_OK;
}

/* Releases the ids a failed put created (ids still in use are kept by lp__ix_term_release). */
static int put_undo(lp_index *ix, const put_ent *ents, uint32_t m) {
  for (uint32_t i = 0; i < m; i++) lp__ix_term_release(ix, ents[i].tid);
  return lp__ix_fail(ix, LP_ENOMEM, "out of memory for postings");
}

/* The first position of l whose slot is >= slot (postings are in slot order). A list of a mutable segment
 * can hold thousands of postings, and a plain binary search there was most of an in-place put (a cache
 * miss per probe): the slots of a list spread about evenly over the segment's `nslots`, so the search starts
 * where that puts the slot and gallops from there, a probe or two in the usual case. */
static uint32_t slot_lb(const ix_mlist *l, uint32_t slot, uint32_t nslots) {
  uint32_t n = l->n, g = nslots ? (uint32_t)((uint64_t)slot * n / nslots) : 0, lo, hi, step = 1;
  if (g >= n) g = n ? n - 1 : 0;
  if (n == 0) return 0;
  if (l->slots[g] < slot) {  /* the answer is past g: gallop up */
    lo = g + 1;
    hi = lo;
    while (hi < n && l->slots[hi] < slot) lo = hi + 1, hi += step, step *= 2;
    if (hi > n) hi = n;
  } else {  /* at g or before: gallop down */
    hi = g;
    lo = g;
    while (lo > 0 && l->slots[lo - 1] >= slot) {
      hi = lo - 1;
      lo = hi >= step ? hi - step : 0;
      step *= 2;
    }
  }
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (l->slots[mid] < slot) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* Keeps l's bounds true bounds for a posting (code, dl) of the segment: they only ever widen. */
static void list_bound(const lp_index *ix, const ix_seg *s, ix_mlist *l, uint16_t code, double dl) {
  float sat = lp__ix_sat(&ix->p, lp__ix_tf(code), dl, s->ref_avgdl);
  if (code > l->max_tf) l->max_tf = code;
  if (dl < l->min_dl) l->min_dl = (float)dl;  /* exact: dl is a float (doc_length) */
  if (sat > l->sat) l->sat = sat;
}

/* Sum of the stored frequencies, as hot[] holds it (index.h: Stored frequency). */
static double doc_length(const put_ent *ents, uint32_t m) {
  double dl = 0;
  for (uint32_t i = 0; i < m; i++) dl += lp__ix_tf(tf_code(ents[i].w));
  return (double)(float)dl;
}

/* The mutable segment's A0 is the avgdl at its first posting (only bounds depend on it). */
static void set_ref_avgdl(lp_index *ix, ix_seg *s, double sum_dl, uint64_t docs, double dl) {
  if (s->ref_avgdl == 0) s->ref_avgdl = docs && sum_dl > 0 ? sum_dl / (double)docs : dl;
}

/* Encodes tids[0..m) as a doc's fwd list into a new block (*fwd NULL when m = 0). */
static int fwd_make(lp_index *ix, const uint32_t *tids, uint32_t m, uint8_t **fwd, size_t *bytes) {
  uint32_t k = 0;
  *fwd = NULL;
  *bytes = m ? lp__ix_ids_size(tids, m, &k) : 0;
  if (!m) return LP_OK;
  if (fbuf_reserve(ix, *bytes) != LP_OK || !(*fwd = lp_malloc(*bytes))) return LP_ENOMEM;
  memset(ix->fbuf, 0, *bytes + 8);
  lp__ix_ids_encode(ix->fbuf, tids, m, k);
  memcpy(*fwd, ix->fbuf, *bytes);
  return LP_OK;
}

/* Sets oli[j] to the index in s->lists of the list of tids[j], a term of the doc at `slot` of the mutable
 * segment s (so the list exists), for j < n. In passes, each starting the loads the next one needs for every
 * term (lp__ix_map_prefetch): the map slots, the list headers, then where slot_lb() will look first and the
 * term's entry (df). */
static void lists_of_old(const lp_index *ix, const ix_seg *s, const uint32_t *tids, uint32_t n, uint32_t slot,
                         uint32_t *oli) {
  for (uint32_t j = 0; j < n; j++) lp__ix_map_prefetch(s, tids[j]);
  for (uint32_t j = 0; j < n; j++) {
    oli[j] = (uint32_t)(lp__ix_mem_list(s, tids[j]) - s->lists);
    __builtin_prefetch(&s->lists[oli[j]]);
  }
  for (uint32_t j = 0; j < n; j++) {
    const ix_mlist *l = &s->lists[oli[j]];
    uint32_t g = s->ndocs && l->n ? (uint32_t)((uint64_t)slot * l->n / s->ndocs) : 0;
    if (g < l->n) {
      __builtin_prefetch(&l->slots[g]);
      __builtin_prefetch(&l->tfs[g], 1);
    }
    __builtin_prefetch(&ix->terms[tids[j]], 1);
  }
}

/* The doc's current version is in the mutable segment: updates its postings there. Terms kept get their new
 * tf code in place, new terms a posting inserted at the doc's slot, gone terms theirs removed; the doc keeps
 * its slot, so no posting dies. Scores equal a fresh put's (same codes, dl, df, N, sum of lengths); the
 * lists' bounds only widen, so they stay bounds. All allocation happens before the first change. */
static int put_in_place(lp_index *ix, uint32_t doc, const put_ent *ents, uint32_t m, const put_room *r) {
  ix_seg *s = ix->mem;
  ix_doc *d = &ix->docs[doc];
  uint32_t o = d->nterms, *oldt = r->tids, *addt = oldt + o, *newt = addt + m, na = 0, nr = 0;
  for (uint32_t i = 0; i < m; i++) newt[i] = ents[i].tid;
  if (fbuf_reserve(ix, d->fwd_bytes) != LP_OK) return put_undo(ix, ents, m);
  if (o) {
    memcpy(ix->fbuf, d->fwd, d->fwd_bytes);
    memset(ix->fbuf + d->fwd_bytes, 0, 8);
    lp__ix_ids_decode(ix->fbuf, oldt, o);
  }
  for (uint32_t i = 0, j = 0; i < m || j < o;) {
    if (j == o || (i < m && newt[i] < oldt[j])) addt[na++] = newt[i++];
    else if (i == m || oldt[j] < newt[i]) nr++, j++;
    else i++, j++;
  }
  uint8_t *fwd = d->fwd;
  size_t fwd_bytes = d->fwd_bytes;
  if ((na || nr) && fwd_make(ix, newt, m, &fwd, &fwd_bytes) != LP_OK) return put_undo(ix, ents, m);
  if (lp__ix_mem_reserve(ix, s, addt, na, r->li) != LP_OK) {
    if (fwd != d->fwd) lp_free(fwd);
    return put_undo(ix, ents, m);
  }
  double dl = doc_length(ents, m), old_dl = ix->hot[doc].dl;
  uint32_t slot = d->slot;
  lists_of_old(ix, s, oldt, o, slot, r->oli);
  if (m) set_ref_avgdl(ix, s, ix->sum_dl - old_dl, ix->live_docs - 1, dl);
  uint32_t a = 0;
  for (uint32_t i = 0, j = 0; i < m || j < o;) {
    if (j == o || (i < m && newt[i] < oldt[j])) {  /* came: a posting at the doc's slot */
      ix_mlist *l = &s->lists[r->li[a++]];
      uint32_t pos = slot_lb(l, slot, s->ndocs);
      memmove(l->slots + pos + 1, l->slots + pos, (l->n - pos) * sizeof *l->slots);
      memmove(l->tfs + pos + 1, l->tfs + pos, (l->n - pos) * sizeof *l->tfs);
      l->slots[pos] = slot;
      l->tfs[pos] = tf_code(ents[i].w);
      l->n++;
      list_bound(ix, s, l, l->tfs[pos], dl);
      if (ix->terms[newt[i]].df++ == 0) ix->live_terms++;
      i++;
    } else if (i == m || oldt[j] < newt[i]) {  /* went: its posting leaves the list */
      ix_mlist *l = &s->lists[r->oli[j]];
      uint32_t pos = slot_lb(l, slot, s->ndocs);
      memmove(l->slots + pos, l->slots + pos + 1, (l->n - pos - 1) * sizeof *l->slots);
      memmove(l->tfs + pos, l->tfs + pos + 1, (l->n - pos - 1) * sizeof *l->tfs);
      l->n--;
      if (--ix->terms[oldt[j]].df == 0) ix->live_terms--;
      lp__ix_term_release(ix, oldt[j]);
      j++;
    } else {  /* kept: its new frequency */
      ix_mlist *l = &s->lists[r->oli[j]];
      uint32_t pos = slot_lb(l, slot, s->ndocs);
      l->tfs[pos] = tf_code(ents[i].w);
      list_bound(ix, s, l, l->tfs[pos], dl);
      i++, j++;
    }
  }
  if (fwd != d->fwd) {
    lp_free(d->fwd);
    ix->fwd_bytes = ix->fwd_bytes - d->fwd_bytes + fwd_bytes;
    d->fwd = fwd;
    d->fwd_bytes = (uint32_t)fwd_bytes;
  }
  d->nterms = m;
  ix->sum_dl -= old_dl;
  if (ix->live_docs == 1) ix->sum_dl = 0;  /* as a fresh put after the doc's unlink */
  ix->sum_dl += dl;
  ix->hot[doc].dl = (float)dl;
  s->stored = s->stored + na - nr;
  s->live = s->live + na - nr;
  ix->live_postings = ix->live_postings + na - nr;
  if (s->stored >= ix->p.mem_postings) ix->mem = NULL;  /* sealed: step() compresses it */
  return LP_OK;
}

/* A new version of doc in the mutable segment, the old one (if any) unlinked: its postings die in place. */
static int put_fresh(lp_index *ix, uint32_t doc, const put_ent *ents, uint32_t m, const put_room *r) {
  uint32_t *tids = r->tids, *li = r->li;
  for (uint32_t i = 0; i < m; i++) tids[i] = ents[i].tid;
  /* Everything that can fail happens before the old version is touched. */
  uint8_t *fwd = NULL;
  size_t fwd_bytes = 0;
  ix_seg *s = ix->mem;
  if (fbuf_reserve(ix, ix->docs[doc].fwd_bytes) != LP_OK || fwd_make(ix, tids, m, &fwd, &fwd_bytes) != LP_OK ||
      lp__ix_mem_reserve(ix, s, tids, m, li) != LP_OK) {
    lp_free(fwd);
    return put_undo(ix, ents, m);
  }
  if (ix->hot[doc].seg) doc_unlink(ix, doc, tids);

  double dl = doc_length(ents, m);
  uint32_t slot = s->ndocs++;
  s->docs[slot] = doc;
  lp__ix_live_set(s, slot);  /* reserved by lp__ix_mem_reserve */
  if (m) set_ref_avgdl(ix, s, ix->sum_dl, ix->live_docs, dl);
  for (uint32_t i = 0; i < m; i++) __builtin_prefetch(&ix->terms[ents[i].tid], 1);
  for (uint32_t i = 0; i < m; i++) {
    ix_mlist *l = &s->lists[li[i]];
    uint16_t code = tf_code(ents[i].w);
    l->slots[l->n] = slot;
    l->tfs[l->n++] = code;
    list_bound(ix, s, l, code, dl);
    if (ix->terms[ents[i].tid].df++ == 0) ix->live_terms++;
  }
  ix->docs[doc] = (ix_doc){ .slot = slot, .fwd = fwd, .nterms = m, .fwd_bytes = (uint32_t)fwd_bytes };
  ix->hot[doc] = (ix_hot){ .seg = s->id, .dl = (float)dl };
  s->stored += m;
  s->live += m;
  s->live_docs++;
  ix->live_docs++;
  ix->live_postings += m;
  ix->fwd_bytes += fwd_bytes;
  ix->sum_dl += dl;
  if (s->stored >= ix->p.mem_postings) ix->mem = NULL;  /* sealed: step() compresses it */
  return LP_OK;
}

static int put_ents(lp_index *ix, uint32_t doc, const put_ent *ents, uint32_t m, const put_room *r) {
  if (ix->hot[doc].seg != 0 && ix->hot[doc].seg == ix->mem->id) return put_in_place(ix, doc, ents, m, r);
  return put_fresh(ix, doc, ents, m, r);
}

int lp_index_put(lp_index *ix, uint32_t doc, const lp_index_term *terms, size_t n) {
  if (doc >= ix->p.max_docs) return lp__ix_fail(ix, LP_EINVAL, "doc %u >= max_docs %u", doc, ix->p.max_docs);
  int rc = check_terms(ix, terms, n);
  uint32_t bits = dedupe_bits(n), m = 0;
  put_room r;
  if (rc != LP_OK || (rc = put_prepare(ix, doc, n, bits, &r)) != LP_OK) return rc;
  if ((rc = collect(ix, terms, n, r.ents, r.tmp, r.tab, bits, &m)) != LP_OK) return rc;
  return put_ents(ix, doc, r.ents, m, &r);
}

int lp_index_put_ids(lp_index *ix, uint32_t doc, const lp_index_tterm *terms, size_t n) {
  if (doc >= ix->p.max_docs) return lp__ix_fail(ix, LP_EINVAL, "doc %u >= max_docs %u", doc, ix->p.max_docs);
  int rc = check_tterms(ix, terms, n);
  uint32_t bits = dedupe_bits(n), m = 0;
  put_room r;
  if (rc != LP_OK || (rc = put_prepare(ix, doc, n, bits, &r)) != LP_OK) return rc;
  memset(r.tab, 0xff, ((size_t)1 << bits) * sizeof *r.tab);
  for (size_t i = 0; i < n; i++) ent_add(r.ents, &m, r.tab, bits, terms[i].tid, terms[i].weight);
  ents_finish(r.ents, r.tmp, m);
  return put_ents(ix, doc, r.ents, m, &r);
}

int lp_index_term_pin(lp_index *ix, const char *term, size_t len, uint32_t *tid) {
  if (!term || len < 1 || len > LP_INDEX_MAX_TERM_LEN)
    return lp__ix_fail(ix, LP_EINVAL, "term length %zu not in 1..%d", len, LP_INDEX_MAX_TERM_LEN);
  if (lp__ix_dict_intern(ix, term, len, tid) != LP_OK) return lp__ix_fail(ix, LP_ENOMEM, "out of memory in the term dictionary");
  ix->terms[*tid].refs++;
  return LP_OK;
}

void lp_index_term_unpin(lp_index *ix, uint32_t tid) {
  if (tid >= ix->nterms || ix->terms[tid].off == LP_IX_NONE || ix->terms[tid].refs == 0) return;
  ix->terms[tid].refs--;
  lp__ix_term_release(ix, tid);
}

int lp_index_delete(lp_index *ix, uint32_t doc) {
  if (doc >= ix->docs_cap || ix->hot[doc].seg == 0) return lp__ix_fail(ix, LP_ENOENT, "doc %u is not in the index", doc);
  uint32_t *tids = scratch(ix, (size_t)ix->docs[doc].nterms * sizeof(uint32_t) + 1);
  if (!tids || fbuf_reserve(ix, ix->docs[doc].fwd_bytes) != LP_OK)
    return lp__ix_fail(ix, LP_ENOMEM, "out of memory for delete scratch");
  doc_unlink(ix, doc, tids);
  return LP_OK;
}

uint64_t lp_index_df(const lp_index *ix, const char *term, size_t len) {
  uint32_t tid;
  if (!term || len == 0 || lp__ix_dict_find(ix, term, len, &tid) != LP_OK) return 0;
  return ix->terms[tid].df;
}

void lp_index_collstats_add(const lp_index *ix, const lp_index_term *q, size_t nq, uint64_t *n_docs,
                            double *sum_dl, uint64_t *df) {
  *n_docs += ix->live_docs;
  *sum_dl += ix->sum_dl;
  for (size_t i = 0; i < nq; i++) {
    uint32_t tid;
    if (q[i].ptr && q[i].len && lp__ix_dict_find(ix, q[i].ptr, q[i].len, &tid) == LP_OK) df[i] += ix->terms[tid].df;
  }
}

int lp_index_idf_parse(const char *name, int *out) {
  if (name && strcmp(name, "robertson") == 0) *out = LP_INDEX_IDF_ROBERTSON;
  else if (name && strcmp(name, "lucene") == 0) *out = LP_INDEX_IDF_LUCENE;
  else return LP_EINVAL;
  return LP_OK;
}

double lp_index_idf_value(int idf, uint64_t N, uint64_t n) {
  double t = ((double)N - (double)n + 0.5) / ((double)n + 0.5);
  if (idf == LP_INDEX_IDF_LUCENE) return log(1.0 + t);
  return t < 2 ? log(1.0 + 0.5 * t) : log(t);
}

void lp_index_stats_get(const lp_index *ix, lp_index_stats *st) {
  *st = (lp_index_stats){ .docs = ix->live_docs, .postings = ix->live_postings, .terms = ix->live_terms,
                          .segments = ix->nsegs, .sum_dl = ix->sum_dl };
  size_t b = sizeof *ix + (size_t)ix->docs_cap * (sizeof(ix_doc) + sizeof(ix_hot)) + ix->fwd_bytes;
  b += (size_t)ix->cap_terms * sizeof(ix_term) + ix->pool_cap + (size_t)ix->dict_cap * sizeof(uint32_t);
  b += (size_t)ix->cap_free * sizeof(uint32_t) + (size_t)ix->cap_segs * sizeof(ix_seg *) + ix->scratch_cap;
  b += ix->fbuf_cap;
  b += (size_t)LP_INDEX_MAX_QUERY_TERMS * lp__ix_cursor_size();
  for (uint32_t i = 0; i < ix->nsegs; i++) {
    size_t sb = lp__ix_seg_bytes(ix->segs[i]);
    b += sb;
    st->stored_postings += ix->segs[i]->stored;
    if (ix->segs[i]->kind == IX_MEM) st->mem_bytes += sb, st->mem_postings += ix->segs[i]->stored;
  }
  if (ix->job.active && ix->job.out) b += lp__ix_seg_bytes(ix->job.out);
  b += ix->job.tcap * 2 * sizeof(uint64_t) + (ix->job.tdocs ? LP_IX_BLOCK * (sizeof(uint32_t) + sizeof(uint16_t)) : 0);
  b += (size_t)ix->job.ntids * sizeof(uint32_t);
  st->bytes = b;
  st->bytes_per_posting = ix->live_postings ? (double)b / (double)ix->live_postings : 0;
}
