/*
 * merge.c: step(): background maintenance in bounded increments.
 *
 * A job rewrites a few input segments (sealed mutable ones, or compressed ones) into one new compressed
 * segment, one term at a time, keeping only the postings live at the time they are read. The inputs stay
 * queryable until the job finishes; the output is invisible until then. At the finish, every doc still
 * live in an input is moved to the output in the doc table (a doc that died meanwhile is not moved, so its
 * copied postings are dead: correct by construction), the inputs are dropped and the output takes their
 * place. Policy, in order: drop segments with no live doc; compress the sealed mutable segments; rewrite a
 * segment whose dead share reached params.reclaim_dead; merge merge_factor segments of similar size
 * (size tiers, like Lucene's log merge policy), or the smallest ones past LP_IX_MAX_SEGS segments.
 */
#include <stdlib.h>

#include "base/alloc.h"
#include "index/index_int.h"

static int u32_cmp(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : (x > y);
}

static int seg_live_cmp(const void *a, const void *b) {
  const ix_seg *x = *(ix_seg *const *)a, *y = *(ix_seg *const *)b;
  if (x->live != y->live) return x->live < y->live ? -1 : 1;
  return x->id < y->id ? -1 : (x->id > y->id);
}

void lp__ix_job_abort(lp_index *ix) {
  ix_job *j = &ix->job;
  for (uint32_t i = 0; i < j->nin; i++) j->in[i]->busy = 0;
  lp__ix_seg_free(ix, j->out);
  lp_free(j->tids);
  lp_free(j->tdocs);
  lp_free(j->ttfs);
  lp_free(j->tpairs);
  lp_free(j->tpairs2);
  *j = (ix_job){ 0 };
}

/* Drops segments that hold no live doc: nothing to copy, their memory comes back at once. */
static uint32_t sweep_empty(lp_index *ix) {
  uint32_t dropped = 0;
  for (uint32_t i = 0; i < ix->nsegs;) {
    ix_seg *s = ix->segs[i];
    if (s->live_docs == 0 && !s->busy && s != ix->mem) {
      lp__ix_seg_remove(ix, s);
      lp__ix_seg_free(ix, s);
      dropped++;
    } else {
      i++;
    }
  }
  return dropped;
}

/* Chooses the inputs of the next job (see the policy above); returns how many (0 = nothing to do). */
static uint32_t choose(const lp_index *ix, ix_seg **in) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < ix->nsegs && n < LP_IX_MAX_MERGE; i++) {
    ix_seg *s = ix->segs[i];
    if (s->kind == IX_MEM && s != ix->mem && !s->busy) in[n++] = s;
  }
  if (n) return n;
  ix_seg *frozen[LP_IX_MAX_SEGS * 4];
  uint32_t nf = 0;
  for (uint32_t i = 0; i < ix->nsegs; i++) {
    ix_seg *s = ix->segs[i];
    if (s->kind != IX_FROZEN || s->busy) continue;
    if (s->stored && (double)(s->stored - s->live) >= ix->p.reclaim_dead * (double)s->stored) {
      in[0] = s;
      return 1;
    }
    if (nf < LP_IX_MAX_SEGS * 4) frozen[nf++] = s;
  }
  if (nf < 2) return 0;
  qsort(frozen, nf, sizeof *frozen, seg_live_cmp);
  uint64_t floor = frozen[0]->live > ix->p.mem_postings ? frozen[0]->live : ix->p.mem_postings;
  uint32_t tier = 0;
  while (tier < nf && frozen[tier]->live <= floor * ix->p.merge_factor) tier++;
  if (tier < ix->p.merge_factor && nf <= LP_IX_MAX_SEGS) return 0;
  uint32_t take = ix->p.merge_factor < nf ? ix->p.merge_factor : nf;
  for (uint32_t i = 0; i < take; i++) in[i] = frozen[i];
  return take;
}

static int job_start(lp_index *ix, ix_seg **in, uint32_t nin) {
  ix_job *j = &ix->job;
  *j = (ix_job){ 0 };
  size_t total = 0;
  for (uint32_t i = 0; i < nin; i++) total += in[i]->kind == IX_MEM ? in[i]->nlists : in[i]->nterms + in[i]->nones;
  j->tids = lp_malloc(total ? total * sizeof(uint32_t) : 1);
  j->out = lp__ix_seg_new(ix, IX_FROZEN);
  if (j->out) j->out->ref_avgdl = ix->live_docs && ix->sum_dl > 0 ? ix->sum_dl / (double)ix->live_docs : 1.0;
  if (!j->tids || !j->out) {
    lp_free(j->tids);
    lp_free(j->out);
    *j = (ix_job){ 0 };
    return LP_ENOMEM;
  }
  size_t k = 0;
  for (uint32_t i = 0; i < nin; i++) {
    if (in[i]->kind == IX_MEM) {
      for (uint32_t t = 0; t < in[i]->nlists; t++) j->tids[k++] = in[i]->lists[t].tid;
    } else {
      for (uint32_t t = 0; t < in[i]->nterms; t++) j->tids[k++] = in[i]->terms[t].tid;
      for (uint32_t t = 0; t < in[i]->nones; t++) j->tids[k++] = in[i]->one_tid[t];
    }
  }
  qsort(j->tids, total, sizeof(uint32_t), u32_cmp);
  uint32_t u = 0;
  for (size_t i = 0; i < total; i++)
    if (u == 0 || j->tids[u - 1] != j->tids[i]) j->tids[u++] = j->tids[i];
  j->ntids = u;
  for (uint32_t i = 0; i < nin; i++) {
    j->in[i] = in[i];
    in[i]->busy = 1;
  }
  j->nin = nin;
  j->active = 1;
  return LP_OK;
}

/* Input i's list of the job's current term. */
typedef struct src {
  const ix_mlist *l;  /* a mutable input's list */
  ix_fterm ft;        /* a compressed input's entry (ft.n = 0: none) */
} src;

/* Finds input i's list of tid: a hash look-up in a mutable input; in a compressed one, a walk forward over
 * its sorted term arrays, since the job visits tids in ascending order. Returns the postings it holds. */
static size_t resolve(lp_index *ix, uint32_t i, uint32_t tid, src *r) {
  ix_job *j = &ix->job;
  const ix_seg *s = j->in[i];
  r->l = NULL;
  r->ft.n = 0;
  if (s->kind == IX_MEM) {
    r->l = lp__ix_mem_list(s, tid);
    return r->l ? r->l->n : 0;
  }
  while (j->ti[i] < s->nterms && s->terms[j->ti[i]].tid < tid) j->ti[i]++;
  if (j->ti[i] < s->nterms && s->terms[j->ti[i]].tid == tid) {
    r->ft = s->terms[j->ti[i]];
    return r->ft.n;
  }
  while (j->oi[i] < s->nones && s->one_tid[j->oi[i]] < tid) j->oi[i]++;
  if (j->oi[i] < s->nones && s->one_tid[j->oi[i]] == tid) {
    uint32_t k = j->oi[i];
    r->ft = (ix_fterm){ .tid = tid, .n = 1, .b = { .last = s->one_doc[k], .max_tf = s->one_tf[k] } };
  }
  return r->ft.n;
}

/* Appends the live postings of r (input s) to j->tpairs as (doc << 16 | tf code); returns postings read. */
static size_t gather(lp_index *ix, const ix_seg *s, const src *r, size_t *np) {
  ix_job *j = &ix->job;
  if (r->l) {
    const ix_mlist *l = r->l;
    for (uint32_t i = 0; i < l->n; i++)
      if (lp__ix_live(s, l->slots[i])) j->tpairs[(*np)++] = (uint64_t)s->docs[l->slots[i]] << 16 | l->tfs[i];
    return l->n;
  }
  uint32_t docs[LP_IX_BLOCK];
  uint16_t tfs[LP_IX_BLOCK];
  for (uint32_t b = 0; r->ft.n && b < lp__ix_nblk(&r->ft); b++) {
    uint32_t n = lp__ix_block_decode(s, &r->ft, b, docs, tfs);
    for (uint32_t i = 0; i < n; i++)
      if (lp__ix_live(s, docs[i])) j->tpairs[(*np)++] = (uint64_t)docs[i] << 16 | tfs[i];
  }
  return r->ft.n;
}

/* Sorts j->tpairs[0..n) by doc (distinct: a doc is live in one input only), LSD radix on the doc's bytes,
 * skipping a byte that all share; leaves the result in j->tpairs. */
static void sort_pairs(ix_job *j, size_t n) {
  uint64_t any = 0, all = ~0ull, *a = j->tpairs, *t = j->tpairs2;
  for (size_t i = 0; i < n; i++) any |= a[i], all &= a[i];
  for (uint32_t shift = 16; shift < 48; shift += 8) {
    if ((((any ^ all) >> shift) & 0xff) == 0) continue;
    size_t count[257] = { 0 };
    for (size_t i = 0; i < n; i++) count[((a[i] >> shift) & 0xff) + 1]++;
    for (uint32_t d = 1; d < 257; d++) count[d] += count[d - 1];
    for (size_t i = 0; i < n; i++) t[count[(a[i] >> shift) & 0xff]++] = a[i];
    uint64_t *x = a;
    a = t;
    t = x;
  }
  j->tpairs = a;
  j->tpairs2 = t;
}

/* Packs postings docs/tfs[0..cnt) as one block (see ix_block) at the end of o's data. */
static int encode_block(ix_seg *o, const uint32_t *docs, const uint16_t *tfs, uint32_t cnt, uint32_t *tmp,
                        ix_block *blk) {
  uint32_t maxg = 0, maxt = 0;
  blk->max_tf = 0;
  for (uint32_t k = 0; k < cnt; k++)
    if (tfs[k] > blk->max_tf) blk->max_tf = tfs[k];
  for (uint32_t k = 0; k + 1 < cnt; k++) {
    tmp[k] = docs[k + 1] - docs[k] - 1;
    if (tmp[k] > maxg) maxg = tmp[k];
  }
  for (uint32_t k = 0; k < cnt; k++)
    if ((uint32_t)(blk->max_tf - tfs[k]) > maxt) maxt = (uint32_t)(blk->max_tf - tfs[k]);
  blk->wd = (uint8_t)lp__ix_bits(maxg);
  blk->wt = (uint8_t)lp__ix_bits(maxt);
  blk->last = docs[cnt - 1];
  size_t room = ((size_t)cnt * 32 + 7) / 8 + ((size_t)cnt * 16 + 7) / 8 + LP_IX_PAD;
  if (o->data_len + room > UINT32_MAX || lp__ix_grow_sz((void **)&o->data, &o->data_cap, o->data_len + room, 1) != LP_OK)
    return LP_ENOMEM;
  blk->off = (uint32_t)o->data_len;
  o->data_len += lp__ix_pack(o->data + o->data_len, tmp, cnt - 1, blk->wd);
  for (uint32_t k = 0; k < cnt; k++) tmp[k] = (uint32_t)(blk->max_tf - tfs[k]);
  o->data_len += lp__ix_pack(o->data + o->data_len, tmp, cnt, blk->wt);
  return LP_OK;
}

/* Writes the np postings in j->tpairs (sorted by doc) as term tid of the output segment. */
static int encode_term(lp_index *ix, uint32_t tid, size_t np) {
  ix_job *j = &ix->job;
  ix_seg *o = j->out;
  if (np == 1) {
    uint32_t n1 = o->nones + 1;
    if (lp__ix_grow((void **)&o->one_tid, &o->cap_one_tid, n1, sizeof(uint32_t)) != LP_OK ||
        lp__ix_grow((void **)&o->one_doc, &o->cap_one_doc, n1, sizeof(uint32_t)) != LP_OK ||
        lp__ix_grow((void **)&o->one_tf, &o->cap_one_tf, n1, sizeof(uint16_t)) != LP_OK)
      return LP_ENOMEM;
    o->one_tid[o->nones] = tid;
    o->one_doc[o->nones] = (uint32_t)(j->tpairs[0] >> 16);
    o->one_tf[o->nones++] = (uint16_t)(j->tpairs[0] & 0xffff);
    o->stored += 1;
    ix->terms[tid].refs++;
    return LP_OK;
  }
  uint32_t nblk = (uint32_t)((np + LP_IX_BLOCK - 1) / LP_IX_BLOCK);
  if (lp__ix_grow((void **)&o->terms, &o->cap_terms, o->nterms + 1, sizeof(ix_fterm)) != LP_OK ||
      (nblk > 1 && lp__ix_grow((void **)&o->blocks, &o->cap_blocks, o->nblocks + nblk, sizeof(ix_block)) != LP_OK))
    return LP_ENOMEM;
  ix_fterm ft = { .tid = tid, .n = (uint32_t)np };
  uint32_t tmp[LP_IX_BLOCK];
  for (size_t i = 0; i < np; i += LP_IX_BLOCK) {
    uint32_t cnt = (uint32_t)(np - i < LP_IX_BLOCK ? np - i : LP_IX_BLOCK);
    ix_block blk;
    float sat = 0;
    for (uint32_t k = 0; k < cnt; k++) {
      uint64_t pr = j->tpairs[i + k];
      j->tdocs[k] = (uint32_t)(pr >> 16);
      j->ttfs[k] = (uint16_t)(pr & 0xffff);
      float sk = lp__ix_sat(&ix->p, lp__ix_tf(j->ttfs[k]), ix->hot[j->tdocs[k]].dl, o->ref_avgdl);
      if (sk > sat) sat = sk;
    }
    if (encode_block(o, j->tdocs, j->ttfs, cnt, tmp, &blk) != LP_OK) return LP_ENOMEM;
    blk.sat = sat;
    if (nblk == 1) {
      ft.b = blk;
      break;
    }
    if (i == 0) ft.b.off = o->nblocks;
    if (blk.max_tf > ft.b.max_tf) ft.b.max_tf = blk.max_tf;
    if (blk.sat > ft.b.sat) ft.b.sat = blk.sat;
    ft.b.last = blk.last;
    o->blocks[o->nblocks++] = blk;
  }
  o->terms[o->nterms++] = ft;
  o->stored += np;
  ix->terms[tid].refs++;
  return LP_OK;
}

/* Copies the next term of the job; returns the work done (postings read + 1) or a negative error. */
static long job_term(lp_index *ix) {
  ix_job *j = &ix->job;
  uint32_t tid = j->tids[j->next];
  size_t cap = 0;
  src r[LP_IX_MAX_MERGE];
  for (uint32_t i = 0; i < j->nin; i++) cap += resolve(ix, i, tid, &r[i]);
  if (cap > j->tcap) {
    size_t c = j->tcap ? j->tcap : 1024;
    while (c < cap) c *= 2;
    uint64_t *p = lp_realloc(j->tpairs, c * sizeof *p);
    if (!p) return LP_ENOMEM;
    j->tpairs = p;
    p = lp_realloc(j->tpairs2, c * sizeof *p);
    if (!p) return LP_ENOMEM;
    j->tpairs2 = p;
    j->tcap = c;
  }
  if (!j->tdocs) {
    j->tdocs = lp_malloc(LP_IX_BLOCK * sizeof(uint32_t));
    j->ttfs = lp_malloc(LP_IX_BLOCK * sizeof(uint16_t));
    if (!j->tdocs || !j->ttfs) return LP_ENOMEM;
  }
  size_t np = 0, read = 0;
  for (uint32_t i = 0; i < j->nin; i++) read += gather(ix, j->in[i], &r[i], &np);
  if (j->nin > 1 || j->in[0]->kind == IX_MEM) sort_pairs(j, np);
  if (np && encode_term(ix, tid, np) != LP_OK) return LP_ENOMEM;
  j->next++;
  return (long)(read + 1);
}

/* Gives back the doubling slack of a finished segment (it never grows again); keeps LP_IX_PAD bytes of
 * readable data after the last block for the bit unpacker (see pack.c). A failed shrink keeps the larger block. */
static void shrink(ix_seg *o) {
  void *p;
  if (o->data_cap > o->data_len + LP_IX_PAD && (p = lp_realloc(o->data, o->data_len + LP_IX_PAD))) {
    o->data = p;
    o->data_cap = o->data_len + LP_IX_PAD;
  }
  if (o->nblocks && o->cap_blocks > o->nblocks && (p = lp_realloc(o->blocks, o->nblocks * sizeof(ix_block)))) {
    o->blocks = p;
    o->cap_blocks = o->nblocks;
  }
  if (o->nterms && o->cap_terms > o->nterms && (p = lp_realloc(o->terms, o->nterms * sizeof(ix_fterm)))) {
    o->terms = p;
    o->cap_terms = o->nterms;
  }
  if (o->nones && o->cap_one_tid > o->nones && (p = lp_realloc(o->one_tid, o->nones * sizeof(uint32_t)))) {
    o->one_tid = p;
    o->cap_one_tid = o->nones;
  }
  if (o->nones && o->cap_one_doc > o->nones && (p = lp_realloc(o->one_doc, o->nones * sizeof(uint32_t)))) {
    o->one_doc = p;
    o->cap_one_doc = o->nones;
  }
  if (o->nones && o->cap_one_tf > o->nones && (p = lp_realloc(o->one_tf, o->nones * sizeof(uint16_t)))) {
    o->one_tf = p;
    o->cap_one_tf = o->nones;
  }
  if (o->ndocs && o->cap_docs > o->ndocs && (p = lp_realloc(o->docs, o->ndocs * sizeof(uint32_t)))) {
    o->docs = p;
    o->cap_docs = o->ndocs;
  }
}

/* Moves every doc still live in an input to the output, then swaps the segments. */
static int job_finish(lp_index *ix) {
  ix_job *j = &ix->job;
  ix_seg *o = j->out;
  uint32_t live = 0, maxdoc = 0;
  for (uint32_t i = 0; i < j->nin; i++) {
    live += j->in[i]->live_docs;
    for (uint32_t pos = 0; pos < j->in[i]->ndocs; pos++)
      if (j->in[i]->docs[pos] > maxdoc) maxdoc = j->in[i]->docs[pos];
  }
  if (lp__ix_grow((void **)&o->docs, &o->cap_docs, live ? live : 1, sizeof(uint32_t)) != LP_OK ||
      lp__ix_bits_reserve(o, maxdoc + 1) != LP_OK ||
      lp__ix_grow((void **)&ix->segs, &ix->cap_segs, ix->nsegs + 1, sizeof(ix_seg *)) != LP_OK)
    return LP_ENOMEM;
  /* The output's data keeps LP_IX_PAD readable bytes after its last block (reserved by encode_term). */
  for (uint32_t i = 0; i < j->nin; i++) {
    ix_seg *s = j->in[i];
    for (uint32_t pos = 0; pos < s->ndocs; pos++) {
      uint32_t d = s->docs[pos];
      if (!lp__ix_live(s, s->kind == IX_MEM ? pos : d)) continue;
      ix->hot[d].seg = o->id;
      lp__ix_live_set(o, d);
      ix->docs[d].slot = o->ndocs;
      o->docs[o->ndocs++] = d;
      o->live += ix->docs[d].nterms;
      o->live_docs++;
    }
  }
  for (uint32_t i = 0; i < j->nin; i++) {
    lp__ix_seg_remove(ix, j->in[i]);
    lp__ix_seg_free(ix, j->in[i]);
  }
  j->nin = 0;
  shrink(o);
  if (o->live_docs) lp__ix_seg_add(ix, o);  /* capacity reserved above */
  else lp__ix_seg_free(ix, o);
  j->out = NULL;
  lp__ix_job_abort(ix);
  return LP_OK;
}

int lp_index_step(lp_index *ix, size_t budget, int *more) {
  if (more) *more = 0;
  if (budget == 0) return lp__ix_fail(ix, LP_EINVAL, "step budget must be >= 1");
  size_t done = 0;
  while (done < budget) {
    if (!ix->job.active) {
      done += sweep_empty(ix);
      ix_seg *in[LP_IX_MAX_MERGE];
      uint32_t n = choose(ix, in);
      if (n == 0) break;
      if (job_start(ix, in, n) != LP_OK) return lp__ix_fail(ix, LP_ENOMEM, "out of memory starting a merge");
    }
    while (done < budget && ix->job.next < ix->job.ntids) {
      long w = job_term(ix);
      if (w < 0) {
        lp__ix_job_abort(ix);
        return lp__ix_fail(ix, LP_ENOMEM, "out of memory while merging");
      }
      done += (size_t)w;
    }
    if (ix->job.next == ix->job.ntids) {
      for (uint32_t i = 0; i < ix->job.nin; i++) done += ix->job.in[i]->ndocs;
      if (job_finish(ix) != LP_OK) {
        lp__ix_job_abort(ix);
        return lp__ix_fail(ix, LP_ENOMEM, "out of memory finishing a merge");
      }
    }
  }
  if (more) {
    ix_seg *in[LP_IX_MAX_MERGE];
    int empty = 0;
    for (uint32_t i = 0; i < ix->nsegs; i++)
      if (ix->segs[i]->live_docs == 0 && !ix->segs[i]->busy && ix->segs[i] != ix->mem) empty = 1;
    *more = ix->job.active || empty || choose(ix, in) > 0;
  }
  return LP_OK;
}
