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

static int check_terms(lp_index *ix, const lp_index_term *t, size_t n) {
  if (n > LP_INDEX_MAX_DOC_TERMS) return lp__ix_fail(ix, LP_EINVAL, "%zu terms: at most %u per document", n, LP_INDEX_MAX_DOC_TERMS);
  if (n && !t) return lp__ix_fail(ix, LP_EINVAL, "terms is NULL");
  for (size_t i = 0; i < n; i++) {
    if (t[i].len < 1 || t[i].len > LP_INDEX_MAX_TERM_LEN || !t[i].ptr)
      return lp__ix_fail(ix, LP_EINVAL, "term %zu: length %zu not in 1..%d", i, t[i].len, LP_INDEX_MAX_TERM_LEN);
    if (!(t[i].weight >= LP_INDEX_MIN_WEIGHT && t[i].weight <= LP_INDEX_MAX_WEIGHT))
      return lp__ix_fail(ix, LP_EINVAL, "term %zu: weight %g not in [1e-30, 1e30]", i, t[i].weight);
  }
  return LP_OK;
}

/* Slots of collect()'s dedupe table for n terms: a power of two >= 2n. */
static uint32_t dedupe_bits(size_t n) {
  uint32_t bits = 4;
  while (((size_t)1 << bits) < 2 * n) bits++;
  return bits;
}

/* Interns the terms and merges duplicates (weights summed in input order) through a small hash table tab
 * of 2^bits slots; on return ents[0..*m) are sorted by tid. On error the terms it created are released. */
static int collect(lp_index *ix, const lp_index_term *t, size_t n, put_ent *ents, put_ent *tmp, uint32_t *tab,
                   uint32_t bits, uint32_t *m) {
  uint32_t k = 0, mask = (1u << bits) - 1;
  memset(tab, 0xff, ((size_t)1 << bits) * sizeof *tab);
  for (size_t i = 0; i < n; i++) {
    uint32_t tid;
    if (lp__ix_dict_intern(ix, t[i].ptr, t[i].len, &tid) != LP_OK) {
      for (uint32_t j = 0; j < k; j++) lp__ix_term_release(ix, ents[j].tid);
      return lp__ix_fail(ix, LP_ENOMEM, "out of memory in the term dictionary");
    }
    uint32_t h = (uint32_t)(((uint64_t)tid * 0x9e3779b97f4a7c15ull) >> (64 - bits)) & mask;
    while (tab[h] != LP_IX_NONE && ents[tab[h]].tid != tid) h = (h + 1) & mask;
    if (tab[h] == LP_IX_NONE) {
      tab[h] = k;
      ents[k++] = (put_ent){ .tid = tid, .w = t[i].weight };
    } else {
      ents[tab[h]].w += t[i].weight;
    }
  }
  put_ent *sorted = sort_ents(ents, tmp, k);
  if (sorted != ents) memcpy(ents, sorted, k * sizeof *ents);
  for (uint32_t i = 0; i < k; i++)
    if (ents[i].w > LP_INDEX_MAX_WEIGHT) ents[i].w = LP_INDEX_MAX_WEIGHT;  /* a sum of valid weights */
  *m = k;
  return LP_OK;
}

int lp_index_put(lp_index *ix, uint32_t doc, const lp_index_term *terms, size_t n) {
  if (doc >= ix->p.max_docs) return lp__ix_fail(ix, LP_EINVAL, "doc %u >= max_docs %u", doc, ix->p.max_docs);
  int rc = check_terms(ix, terms, n);
  if (rc != LP_OK) return rc;
  if (docs_reserve(ix, doc) != LP_OK) return lp__ix_fail(ix, LP_ENOMEM, "out of memory for the doc table");
  if (!ix->mem) {
    ix_seg *s = lp__ix_seg_new(ix, IX_MEM);
    if (!s || lp__ix_seg_add(ix, s) != LP_OK) {
      lp_free(s);
      return lp__ix_fail(ix, LP_ENOMEM, "out of memory for a segment");
    }
    ix->mem = s;
  }
  /* Scratch: ents[n], the sort's ents[n], tids[max(n, old)], the dedupe table, each term's list index. */
  uint32_t old = ix->docs[doc].nterms, bits = dedupe_bits(n);
  size_t ntids = n > old ? n : old;
  size_t need = 2 * n * sizeof(put_ent) + (ntids + ((size_t)1 << bits) + n) * sizeof(uint32_t);
  put_ent *ents = scratch(ix, need);
  if (!ents) return lp__ix_fail(ix, LP_ENOMEM, "out of memory for put scratch");
  uint32_t *tids = (uint32_t *)(ents + 2 * n), *tab = tids + ntids, *li = tab + ((size_t)1 << bits), m = 0;
  if ((rc = collect(ix, terms, n, ents, ents + n, tab, bits, &m)) != LP_OK) return rc;
  for (uint32_t i = 0; i < m; i++) tids[i] = ents[i].tid;

  /* Everything that can fail happens before the old version is touched. */
  uint8_t *fwd = NULL;
  uint32_t k = 0;
  size_t fwd_bytes = m ? lp__ix_ids_size(tids, m, &k) : 0;
  int ok = fbuf_reserve(ix, fwd_bytes > ix->docs[doc].fwd_bytes ? fwd_bytes : ix->docs[doc].fwd_bytes) == LP_OK;
  if (ok && m && (ok = (fwd = lp_malloc(fwd_bytes)) != NULL)) {
    memset(ix->fbuf, 0, fwd_bytes + 8);
    lp__ix_ids_encode(ix->fbuf, tids, m, k);
    memcpy(fwd, ix->fbuf, fwd_bytes);
  }
  ix_seg *s = ix->mem;
  if (!ok || lp__ix_mem_reserve(ix, s, tids, m, li) != LP_OK) {
    lp_free(fwd);
    for (uint32_t i = 0; i < m; i++) lp__ix_term_release(ix, tids[i]);
    return lp__ix_fail(ix, LP_ENOMEM, "out of memory for postings");
  }
  if (ix->hot[doc].seg) doc_unlink(ix, doc, tids);
  for (uint32_t i = 0; i < m; i++) tids[i] = ents[i].tid;  /* unlink used the same room */

  double dl = 0;
  uint32_t slot = s->ndocs++;
  s->docs[slot] = doc;
  lp__ix_live_set(s, slot);  /* reserved by lp__ix_mem_reserve */
  for (uint32_t i = 0; i < m; i++) dl += lp__ix_tf(tf_code(ents[i].w));
  dl = (double)(float)dl;  /* what hot[] holds (index.h: Stored frequency) */
  if (m && s->ref_avgdl == 0)
    s->ref_avgdl = ix->live_docs && ix->sum_dl > 0 ? ix->sum_dl / (double)ix->live_docs : dl;
  for (uint32_t i = 0; i < m; i++) {
    ix_mlist *l = &s->lists[li[i]];
    uint16_t code = tf_code(ents[i].w);
    float sat = lp__ix_sat(&ix->p, lp__ix_tf(code), dl, s->ref_avgdl);
    l->slots[l->n] = slot;
    l->tfs[l->n++] = code;
    if (code > l->max_tf) l->max_tf = code;
    if (dl < l->min_dl) l->min_dl = dl;
    if (sat > l->sat) l->sat = sat;
    if (ix->terms[ents[i].tid].df++ == 0) ix->live_terms++;
  }
  ix->docs[doc] = (ix_doc){ .slot = slot, .fwd = fwd, .nterms = m, .fwd_bytes = (uint32_t)fwd_bytes };
  ix->hot[doc] = (ix_hot){ .seg = s->id, .dl = (float)dl };
  s->stored += m;
  s->live += m;
  s->live_docs++;
  ix->live_docs++;
  ix->live_postings += m;
  ix->fwd_bytes += ix->docs[doc].fwd_bytes;
  ix->sum_dl += dl;
  if (s->stored >= ix->p.mem_postings) ix->mem = NULL;  /* sealed: step() compresses it */
  return LP_OK;
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
    b += lp__ix_seg_bytes(ix->segs[i]);
    st->stored_postings += ix->segs[i]->stored;
  }
  if (ix->job.active && ix->job.out) b += lp__ix_seg_bytes(ix->job.out);
  b += ix->job.tcap * 2 * sizeof(uint64_t) + (ix->job.tdocs ? LP_IX_BLOCK * (sizeof(uint32_t) + sizeof(uint16_t)) : 0);
  b += (size_t)ix->job.ntids * sizeof(uint32_t);
  st->bytes = b;
  st->bytes_per_posting = ix->live_postings ? (double)b / (double)ix->live_postings : 0;
}
