/*
 * miners.c: the per-miner table of the throttle: a hash table (chained, over indices) of at most max
 * miners with an LRU list; when full, the miner seen least recently is forgotten (a forgotten miner starts
 * again with a full bucket and a clean flag window: what it loses is at most the state of a miner that has
 * not sent anything for longer than every other tracked miner). The array grows by doubling up to max, so
 * memory follows the number of miners seen.
 */
#include <string.h>

#include "stages/throttle/throttle.h"

#define INITIAL 1024u

static uint32_t pow2_at_least(uint32_t n) {
  uint32_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

static uint32_t bucket_of(const lp__thr_miners *m, uint64_t key) { return (uint32_t)(key ^ (key >> 32)) & (m->nbuckets - 1); }

static void rehash(lp__thr_miners *m) {
  memset(m->buckets, 0xff, sizeof(uint32_t) * m->nbuckets);
  for (uint32_t i = 0; i < m->n; i++) {
    uint32_t b = bucket_of(m, m->v[i].key);
    m->v[i].chain = m->buckets[b];
    m->buckets[b] = i;
  }
}

/* Grows the array (and the buckets with it) to cap, keeping every index. */
static int grow(lp__thr_miners *m, const lp_host_api *h, uint32_t cap) {
  lp__thr_miner *v = h->realloc(m->v, sizeof(lp__thr_miner) * cap);
  if (v == NULL) return LP_ENOMEM;
  m->v = v;
  m->cap = cap;
  uint32_t nb = pow2_at_least(cap);
  if (nb != m->nbuckets) {
    uint32_t *b = h->realloc(m->buckets, sizeof(uint32_t) * nb);
    if (b == NULL) return LP_ENOMEM;
    m->buckets = b;
    m->nbuckets = nb;
    rehash(m);
  }
  return LP_OK;
}

int lp__thr_miners_init(lp__thr_miners *m, const lp_host_api *h, uint32_t max) {
  memset(m, 0, sizeof(*m));
  m->max = max;
  m->lru_head = m->lru_tail = LP__NONE;
  int rc = grow(m, h, max < INITIAL ? max : INITIAL);
  if (rc != LP_OK) lp__thr_miners_free(m, h);
  return rc;
}

void lp__thr_miners_free(lp__thr_miners *m, const lp_host_api *h) {
  h->free(m->v);
  h->free(m->buckets);
  m->v = NULL;
  m->buckets = NULL;
  m->n = m->cap = 0;
}

void lp__thr_miners_clear(lp__thr_miners *m) {
  m->n = 0;
  m->lru_head = m->lru_tail = LP__NONE;
  m->evicted = 0;
  memset(m->buckets, 0xff, sizeof(uint32_t) * m->nbuckets);
}

lp__thr_miner *lp__thr_miners_find(lp__thr_miners *m, uint64_t key) {
  for (uint32_t i = m->buckets[bucket_of(m, key)]; i != LP__NONE; i = m->v[i].chain)
    if (m->v[i].key == key) return &m->v[i];
  return NULL;
}

static void lru_unlink(lp__thr_miners *m, uint32_t i) {
  lp__thr_miner *mi = &m->v[i];
  if (mi->prev != LP__NONE) m->v[mi->prev].next = mi->next;
  else m->lru_head = mi->next;
  if (mi->next != LP__NONE) m->v[mi->next].prev = mi->prev;
  else m->lru_tail = mi->prev;
}

static void lru_push_head(lp__thr_miners *m, uint32_t i) {
  m->v[i].prev = LP__NONE;
  m->v[i].next = m->lru_head;
  if (m->lru_head != LP__NONE) m->v[m->lru_head].prev = i;
  m->lru_head = i;
  if (m->lru_tail == LP__NONE) m->lru_tail = i;
}

static void chain_unlink(lp__thr_miners *m, uint32_t i) {
  uint32_t *p = &m->buckets[bucket_of(m, m->v[i].key)];
  while (*p != i) p = &m->v[*p].chain;
  *p = m->v[i].chain;
}

lp__thr_miner *lp__thr_miners_get(lp__thr_miners *m, const lp_host_api *h, uint64_t key, int *created) {
  *created = 0;
  lp__thr_miner *mi = lp__thr_miners_find(m, key);
  if (mi != NULL) {
    uint32_t i = (uint32_t)(mi - m->v);
    if (m->lru_head != i) {
      lru_unlink(m, i);
      lru_push_head(m, i);
    }
    return mi;
  }
  uint32_t i;
  if (m->n >= m->max) {
    i = m->lru_tail;  /* forget the least recently seen miner and reuse its slot */
    lru_unlink(m, i);
    chain_unlink(m, i);
    m->evicted++;
  } else {
    if (m->n == m->cap && grow(m, h, m->cap * 2 < m->max ? m->cap * 2 : m->max) != LP_OK) return NULL;
    i = m->n++;
  }
  mi = &m->v[i];
  memset(mi, 0, sizeof(*mi));
  mi->key = key;
  uint32_t b = bucket_of(m, key);
  mi->chain = m->buckets[b];
  m->buckets[b] = i;
  lru_push_head(m, i);
  *created = 1;
  return mi;
}

/* Sub-windows are indexed by ts / sub_ms; moving to a newer one clears the ones skipped over, so the sum of
 * the ring is always the last LP_THROTTLE_WIN sub-windows up to the newest event. An event older than the
 * ring is not counted. */
void lp__thr_miner_count(lp__thr_miner *mi, int64_t ts, int64_t sub_ms, int flagged) {
  int64_t idx = (ts >= 0 ? ts : 0) / sub_ms;
  uint32_t total = 0;
  for (int k = 0; k < LP_THROTTLE_WIN; k++) total += mi->seen[k];
  if (total == 0 || idx > mi->win_head) {
    int64_t from = total == 0 ? idx - LP_THROTTLE_WIN + 1 : mi->win_head + 1;
    if (idx - from >= LP_THROTTLE_WIN) from = idx - LP_THROTTLE_WIN + 1;
    if (from < 0) from = 0;
    for (int64_t k = from; k <= idx; k++) {
      mi->seen[k % LP_THROTTLE_WIN] = 0;
      mi->flagged[k % LP_THROTTLE_WIN] = 0;
    }
    mi->win_head = idx;
  } else if (idx <= mi->win_head - LP_THROTTLE_WIN) {
    return;
  }
  uint32_t slot = (uint32_t)(idx % LP_THROTTLE_WIN);
  mi->seen[slot]++;
  if (flagged) mi->flagged[slot]++;
}

void lp__thr_miner_window(const lp__thr_miner *mi, uint32_t *seen, uint32_t *flagged) {
  *seen = *flagged = 0;
  for (int k = 0; k < LP_THROTTLE_WIN; k++) {
    *seen += mi->seen[k];
    *flagged += mi->flagged[k];
  }
}
