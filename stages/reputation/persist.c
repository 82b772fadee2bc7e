/*
 * persist.c: the reputation table as bytes (save_global / load_global), beside the shards' snapshots.
 *
 * Format, little-endian, version 1:
 *   "LPRP" | u32 version | i64 clock | i64 half_life | u32 n
 *   n x { u8 len, name[len], f64 good, f64 bad, i64 ts }
 *   u64 XXH3-64 of every byte before it
 * A newer version, a wrong length, a bad checksum or impossible values (a bad name, negative or
 * non-finite evidence, a miner twice) are refused with LP_EINVAL and the table is kept as it was. Evidence
 * saved under another half_life is kept as is: it was decayed with the old one up to its ts, and decays
 * with the new one from there. More miners than max_miners: evicted as on insertion (the sampled one with the least evidence).
 * The answer ring is not saved: after a restart an outcome whose answer is unknown credits the lead's
 * recent reporters instead.
 */
#include <math.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "base/alloc.h"
#include "base/le.h"
#include "stages/ingest/ingest.h"
#include "stages/reputation/rep_int.h"

#define MAGIC "LPRP"
#define VERSION 1u
#define HEADER 28u
#define FIXED 24u   /* good, bad, ts */


int lp_rep_save(const lp_rep *r, lp_writer *w) {
  XXH3_state_t h;
  XXH3_64bits_reset(&h);
  unsigned char hdr[HEADER];
  memcpy(hdr, MAGIC, 4);
  lp_le_put32(hdr + 4, VERSION);
  lp_le_put64(hdr + 8, (uint64_t)r->clock);
  lp_le_put64(hdr + 16, (uint64_t)r->conf.half_life);
  lp_le_put32(hdr + 24, (uint32_t)r->n);
  XXH3_64bits_update(&h, hdr, sizeof(hdr));
  int rc = w->write(w, hdr, sizeof(hdr));
  for (size_t d = 0; rc == LP_OK && d < r->n; d++) {
    const lp__rep_miner *m = &r->v[d];
    unsigned char b[1 + LP_REP_NAME_MAX + FIXED];
    b[0] = m->len;
    memcpy(b + 1, m->name, m->len);
    unsigned char *p = b + 1 + m->len;
    lp_le_put64(p, lp_f64_bits(m->good));
    lp_le_put64(p + 8, lp_f64_bits(m->bad));
    lp_le_put64(p + 16, (uint64_t)m->ts);
    size_t n = 1 + m->len + FIXED;
    XXH3_64bits_update(&h, b, n);
    rc = w->write(w, b, n);
  }
  unsigned char sum[8];
  lp_le_put64(sum, XXH3_64bits_digest(&h));
  return rc == LP_OK ? w->write(w, sum, sizeof(sum)) : rc;
}

static int name_ok(const unsigned char *p, size_t n) {
  return n > 0 && n <= LP_REP_NAME_MAX && lp_miner_chars_ok((const char *)p, n);
}

/* Checks every record and fills fresh (a table of the same conf); the caller swaps it in on success. */
static int rebuild(lp_rep *fresh, const unsigned char *p, const unsigned char *end, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    if (p >= end) return LP_EINVAL;
    size_t len = p[0];
    if ((size_t)(end - p) < 1 + len + FIXED || !name_ok(p + 1, len)) return LP_EINVAL;
    const char *name = (const char *)p + 1;
    const unsigned char *q = p + 1 + len;
    double good = lp_bits_f64(lp_le_get64(q)), bad = lp_bits_f64(lp_le_get64(q + 8));
    int64_t ts = (int64_t)lp_le_get64(q + 16);
    if (!(good >= 0 && bad >= 0) || !isfinite(good) || !isfinite(bad) || ts > fresh->clock) return LP_EINVAL;
    uint64_t key = lp__rep_key(name, len);
    if (lp__rep_find(fresh, key, name, len) >= 0) return LP_EINVAL;
    lp__rep_miner *m = lp__rep_insert(fresh, key, name, len, ts);
    if (m == NULL) return LP_ENOMEM;
    m->good = good;
    m->bad = bad;
    p = q + FIXED;
  }
  return p == end ? LP_OK : LP_EINVAL;
}

int lp_rep_load(lp_rep *r, const void *data, size_t len) {
  const unsigned char *p = data;
  if (p == NULL || len < HEADER + 8 || memcmp(p, MAGIC, 4) != 0) return LP_EINVAL;
  if (lp_le_get32(p + 4) != VERSION) return LP_EINVAL;
  if (lp_le_get64(p + len - 8) != XXH3_64bits(p, len - 8)) return LP_EINVAL;
  lp_rep *fresh;
  int rc = lp_rep_new(&fresh, &r->conf);
  if (rc != LP_OK) return rc;
  fresh->clock = (int64_t)lp_le_get64(p + 8);
  rc = rebuild(fresh, p + HEADER, p + len - 8, lp_le_get32(p + 24));
  if (rc != LP_OK) {
    lp_rep_free(fresh);
    return rc;
  }
  /* Swap the miners in; everything else of r (snapshots, answers, metric) stays. */
  lp__rep_miner *v = r->v;
  uint32_t *index = r->index;
  r->v = fresh->v;
  r->n = fresh->n;
  r->cap = fresh->cap;
  r->index = fresh->index;
  r->index_mask = fresh->index_mask;
  r->clock = fresh->clock;
  r->evicted += fresh->evicted;
  r->dirty++;
  fresh->v = v;
  fresh->index = index;
  fresh->n = 0;
  lp_rep_free(fresh);
  return LP_OK;
}
