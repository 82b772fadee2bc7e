/*
 * ib_mem.c: what the shards of perf/ingest_bench hold, part by part, walked after a run. Heap blocks are
 * counted at their usable size (mimalloc's mi_usable_size, or glibc's malloc_usable_size in the sanitizer
 * build), so the parts add up to what the allocator really hands out for them.
 */
#define _GNU_SOURCE
#include <string.h>

#ifndef LP_NO_MIMALLOC
#include <mimalloc.h>
#define USABLE(p) ((p) ? mi_usable_size(p) : 0)
#else
#include <malloc.h>
#define USABLE(p) ((p) ? malloc_usable_size((void *)(p)) : 0)
#endif

#include "ingest_bench.h"

/* Mirrors the private struct of run.c's workers only through the pool API: the walk reads lp_shard. */
size_t ib__pool_shards(const ib_pool *pool, const lp_shard **out, size_t cap);

static size_t lead_bytes(const lp_lead *l, uint32_t evidence_cap, ib_mem *m) {
  size_t b = USABLE(l) + USABLE(l->domain) + USABLE(l->name) + USABLE(l->industry);
  b += USABLE(l->tech);
  for (uint32_t i = 0; l->tech && i < l->n_tech + l->n_gone; i++)
    if (l->tech[i].id == LP_TECH_NONE) b += USABLE(l->tech[i].name);
  /* The churn ring's allocation starts with its lp_churn_ctx header; l->churn points just past it. */
  if (l->churn) b += USABLE((const lp_churn_ctx *)(const void *)l->churn - 1);
  for (uint32_t i = 0; l->churn && i < l->n_churn; i++)
    if (l->churn[i].tech_id == LP_TECH_NONE) b += USABLE(l->churn[i].tech);
  /* Each evidence is one block (id, text, url: leads.h) and its fingerprints are runs of the lead's fps
   * array; the miner id is interned per table. */
  size_t ev = USABLE(l->ev) + USABLE(l->fps);
  m->ev_slots += ev;
  for (uint32_t i = 0; l->ev && i < l->n_ev && i < evidence_cap; i++) {
    const lp_evidence *e = &l->ev[i];
    if (e->snippet_id == NULL) continue;
    m->n_ev++;
    m->ev_text += strlen(e->text) + 1;
    ev += USABLE(lp__evidence_block(e));
  }
  m->evidence += ev;
  m->termvec += USABLE(l->tv.v);
  m->n_tv_terms += l->tv.n;
  return b;
}

static size_t pool_bytes(const lp_termpool *p) {
  return USABLE(p->slots) + USABLE(p->hash) + USABLE(p->off) + USABLE(p->len) + USABLE(p->bytes);
}

/* The ingest stage's fingerprint tables (dedupe.c): the current generation starts at 1024 slots and doubles
 * while more than 3/4 full; the previous one keeps its initial 1024. One key per applied snippet. */
static size_t dedupe_estimate(uint64_t keys, uint64_t capacity) {
  if (keys > capacity) keys = capacity;
  uint64_t slots = 1024;
  while (keys * 4 > slots * 3) slots *= 2;
  return (size_t)(slots + 1024) * sizeof(uint64_t);
}

void ib_pool_mem(const ib_pool *pool, ib_mem *m, uint64_t dedupe_capacity) {
  memset(m, 0, sizeof(*m));
  const lp_shard *sh[4096];
  size_t n = ib__pool_shards(pool, sh, 4096);
  for (size_t i = 0; i < n; i++) {
    const lp_lead_table *t = &sh[i]->leads;
    m->leads += USABLE(t->slots) + USABLE(t->by_doc) + USABLE(t->miners.slots);
    for (size_t k = 0; k < t->cap; k++) {
      if (t->slots[k] == NULL) continue;
      m->n_leads++;
      m->leads += lead_bytes(t->slots[k], t->evidence_cap, m);
    }
    m->termpool += pool_bytes(&t->pool);
    lp_index_stats st;
    lp_index_stats_get(sh[i]->index, &st);
    m->index += st.bytes;
    m->index_mem += st.mem_bytes;
    m->postings += st.postings;
    m->mem_postings += st.mem_postings;
    if (sh[i]->stages) m->dedupe += dedupe_estimate(sh[i]->applied, dedupe_capacity);
  }
}
