/*
 * persist.c: the throttle's reactor-side state as bytes (save_global / load_global).
 *
 * Format, little-endian, version 1:
 *   "LPTH" | u32 version | i64 flag_window | u32 n_miners | u32 n_prev | u32 n_cur
 *   n_miners x { u64 key, f64 tokens, i64 last_ts, i64 throttled_until, i64 win_head,
 *                u32 seen[8], u32 flagged[8] }                 least recently seen first
 *   (n_prev + n_cur) x { u64 fp, u64 key, i64 ts }             oldest first
 *   u64 XXH3-64 of every byte before it
 * A newer version, a wrong length, a bad checksum or impossible values are refused (LP_EINVAL) and the
 * current state is kept. What no longer fits a smaller configuration is cut oldest first; windows saved
 * with another flag_window are reset rather than misread.
 */
#include <math.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "base/le.h"
#include "stages/throttle/throttle.h"

#define MAGIC "LPTH"
#define VERSION 1u
#define HEADER 28u
#define MINER_BYTES (8u * 5u + 4u * 2u * LP_THROTTLE_WIN)
#define ENTRY_BYTES 24u


typedef struct out {
  lp_writer *w;
  XXH3_state_t h;
  int rc;
} out;

static void emit(out *o, const void *p, size_t n) {
  if (o->rc != LP_OK) return;
  XXH3_64bits_update(&o->h, p, n);
  o->rc = o->w->write(o->w, p, n);
}

static void emit_miner(out *o, const lp__thr_miner *mi) {
  unsigned char b[MINER_BYTES];
  lp_le_put64(b, mi->key);
  lp_le_put64(b + 8, lp_f64_bits(mi->tokens));
  lp_le_put64(b + 16, (uint64_t)mi->last_ts);
  lp_le_put64(b + 24, (uint64_t)mi->throttled_until);
  lp_le_put64(b + 32, (uint64_t)mi->win_head);
  for (int k = 0; k < LP_THROTTLE_WIN; k++) {
    lp_le_put32(b + 40 + 4 * k, mi->seen[k]);
    lp_le_put32(b + 40 + 4 * LP_THROTTLE_WIN + 4 * k, mi->flagged[k]);
  }
  emit(o, b, sizeof(b));
}

static void emit_gen(out *o, const lp__thr_nd_gen *g) {
  for (uint32_t i = 0; i < g->n; i++) {
    unsigned char b[ENTRY_BYTES];
    lp_le_put64(b, g->e[i].fp);
    lp_le_put64(b + 8, g->e[i].key);
    lp_le_put64(b + 16, (uint64_t)g->e[i].ts);
    emit(o, b, sizeof(b));
  }
}

int lp__throttle_save(void *stage, lp_writer *w) {
  const lp__throttle *t = stage;
  out o = { .w = w, .rc = LP_OK };
  XXH3_64bits_reset(&o.h);
  const lp__thr_nd_gen *prev = &t->nd.gen[t->nd.cur ^ 1], *cur = &t->nd.gen[t->nd.cur];
  unsigned char hdr[HEADER];
  memcpy(hdr, MAGIC, 4);
  lp_le_put32(hdr + 4, VERSION);
  lp_le_put64(hdr + 8, (uint64_t)t->conf.flag_window);
  lp_le_put32(hdr + 16, t->miners.n);
  lp_le_put32(hdr + 20, prev->n);
  lp_le_put32(hdr + 24, cur->n);
  emit(&o, hdr, sizeof(hdr));
  for (uint32_t i = t->miners.lru_tail; i != LP__NONE; i = t->miners.v[i].prev) emit_miner(&o, &t->miners.v[i]);
  emit_gen(&o, prev);
  emit_gen(&o, cur);
  unsigned char sum[8];
  lp_le_put64(sum, XXH3_64bits_digest(&o.h));
  if (o.rc == LP_OK) o.rc = w->write(w, sum, sizeof(sum));
  return o.rc;
}

static int read_miner(const unsigned char *b, lp__thr_miner *mi) {
  memset(mi, 0, sizeof(*mi));
  mi->key = lp_le_get64(b);
  mi->tokens = lp_bits_f64(lp_le_get64(b + 8));
  mi->last_ts = (int64_t)lp_le_get64(b + 16);
  mi->throttled_until = (int64_t)lp_le_get64(b + 24);
  mi->win_head = (int64_t)lp_le_get64(b + 32);
  for (int k = 0; k < LP_THROTTLE_WIN; k++) {
    mi->seen[k] = lp_le_get32(b + 40 + 4 * k);
    mi->flagged[k] = lp_le_get32(b + 40 + 4 * LP_THROTTLE_WIN + 4 * k);
    if (mi->flagged[k] > mi->seen[k]) return LP_EINVAL;
  }
  return isfinite(mi->tokens) && mi->tokens >= 0 && mi->win_head >= 0 ? LP_OK : LP_EINVAL;
}

/* Fills fresh structures from checked bytes; the caller swaps them in only on success. */
static int rebuild(const lp__throttle *t, const unsigned char *p, uint32_t n_miners, uint32_t n_entries,
                   int keep_windows, lp__thr_miners *m, lp__thr_neardup *nd) {
  uint32_t skip = n_miners > m->max ? n_miners - m->max : 0;
  for (uint32_t i = 0; i < n_miners; i++, p += MINER_BYTES) {
    lp__thr_miner rec;
    if (read_miner(p, &rec) != LP_OK) return LP_EINVAL;
    if (i < skip) continue;
    int created;
    lp__thr_miner *mi = lp__thr_miners_get(m, t->host, rec.key, &created);
    if (mi == NULL) return LP_ENOMEM;
    if (!created) return LP_EINVAL;  /* a miner twice */
    uint32_t prev = mi->prev, next = mi->next, chain = mi->chain;
    *mi = rec;
    mi->prev = prev;
    mi->next = next;
    mi->chain = chain;
    if (!keep_windows) {
      memset(mi->seen, 0, sizeof(mi->seen));
      memset(mi->flagged, 0, sizeof(mi->flagged));
      mi->win_head = 0;
    }
  }
  for (uint32_t i = 0; i < n_entries; i++, p += ENTRY_BYTES)
    lp__thr_nd_insert(nd, lp_le_get64(p), lp_le_get64(p + 8), (int64_t)lp_le_get64(p + 16));
  return LP_OK;
}

int lp__throttle_load(void *stage, const void *data, size_t len) {
  lp__throttle *t = stage;
  const unsigned char *p = data;
  if (p == NULL || len < HEADER + 8 || memcmp(p, MAGIC, 4) != 0) return LP_EINVAL;
  uint32_t version = lp_le_get32(p + 4);
  if (version != VERSION) {
    t->host->log(LP_LOG_ERROR, "throttle", "saved state of version %u, this build reads version %u",
                 (unsigned)version, VERSION);
    return LP_EINVAL;
  }
  uint64_t n_miners = lp_le_get32(p + 16), n_entries = (uint64_t)lp_le_get32(p + 20) + lp_le_get32(p + 24);
  if ((uint64_t)len != HEADER + n_miners * MINER_BYTES + n_entries * ENTRY_BYTES + 8) return LP_EINVAL;
  if (lp_le_get64(p + len - 8) != XXH3_64bits(p, len - 8)) return LP_EINVAL;
  int keep_windows = (int64_t)lp_le_get64(p + 8) == t->conf.flag_window;
  lp__thr_miners m;
  lp__thr_neardup nd;
  int rc = lp__thr_miners_init(&m, t->host, t->miners.max);
  if (rc != LP_OK) return rc;
  rc = lp__thr_nd_init(&nd, t->host, t->nd.gen_cap * 2);
  if (rc != LP_OK) {
    lp__thr_miners_free(&m, t->host);
    return rc;
  }
  rc = rebuild(t, p + HEADER, (uint32_t)n_miners, (uint32_t)n_entries, keep_windows, &m, &nd);
  if (rc != LP_OK) {
    lp__thr_miners_free(&m, t->host);
    lp__thr_nd_free(&nd, t->host);
    return rc;
  }
  lp__thr_miners_free(&t->miners, t->host);
  lp__thr_nd_free(&t->nd, t->host);
  t->miners = m;
  t->nd = nd;
  return LP_OK;
}
