/*
 * hnsw_io.c: the checkpoint blob of an HNSW index. Little-endian throughout, whatever the host:
 *
 *   "LPHNSW\0\0"  u32 version (1)  u64 total length of the blob
 *   u32 dim, metric, m, ef_construction, ef_search   u64 rng state
 *   u32 n, entry, max_level, live, deleted, n_free, sweep_active, sweep_cursor
 *   n nodes: u64 label, u8 state, u8 level; unless free: dim float32 (as stored: normalised for
 *            cosine), then for each level 0..level: u32 count, count u32 ids
 *   n_free u32 ids of the free stack, bottom first
 *   u64 XXH3-64 of every byte before it
 *
 * The load checks the length and the checksum first (a truncated or damaged blob is named as such), then
 * every field and every link (a blob that passes the checksum yet was built by a buggy writer must not
 * become an index that reads out of bounds).
 */
#include "ann/hnsw_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "base/alloc.h"

#define MAGIC "LPHNSW\0\0"
#define VERSION 1u
#define HEADER_BYTES (8 + 4 + 8 + 5 * 4 + 8 + 8 * 4)

typedef struct wbuf {
  uint8_t *p;
  size_t len, cap;
} wbuf;

static void put(wbuf *w, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) w->p[w->len++] = (uint8_t)(v >> (8 * i));
}

static size_t node_size(const lp_hnsw *h, uint32_t id) {
  size_t s = 8 + 1 + 1;
  if (h->state[id] == LP__HNSW_FREE) return s;
  s += (size_t)h->dim * 4;
  for (uint32_t lev = 0; lev <= h->level[id]; lev++) s += 4 + 4 * (size_t)lp__hnsw_links(h, id, lev)[0];
  return s;
}

int lp_hnsw_save(const lp_hnsw *h, uint8_t **out, size_t *out_len) {
  size_t total = HEADER_BYTES + (size_t)h->n_free * 4 + 8;
  for (uint32_t i = 0; i < h->n; i++) total += node_size(h, i);
  wbuf w = { lp_malloc(total), 0, total };
  if (!w.p) return LP_ENOMEM;
  memcpy(w.p, MAGIC, 8);
  w.len = 8;
  put(&w, VERSION, 4);
  put(&w, total, 8);
  put(&w, h->dim, 4);
  put(&w, (uint32_t)h->metric, 4);
  put(&w, h->m, 4);
  put(&w, h->ef_construction, 4);
  put(&w, h->ef_search, 4);
  put(&w, h->rng, 8);
  const uint32_t hdr[] = { h->n, h->entry, h->max_level, h->live, h->deleted, h->n_free, h->sweep_active,
                           h->sweep_cursor };
  for (size_t i = 0; i < sizeof hdr / sizeof hdr[0]; i++) put(&w, hdr[i], 4);
  for (uint32_t id = 0; id < h->n; id++) {
    put(&w, h->labels[id], 8);
    put(&w, h->state[id], 1);
    put(&w, h->level[id], 1);
    if (h->state[id] == LP__HNSW_FREE) continue;
    const float *v = lp__hnsw_vec(h, id);
    for (uint32_t i = 0; i < h->dim; i++) {
      uint32_t bits;
      memcpy(&bits, &v[i], 4);
      put(&w, bits, 4);
    }
    for (uint32_t lev = 0; lev <= h->level[id]; lev++) {
      const uint32_t *l = lp__hnsw_links(h, id, lev);
      for (uint32_t j = 0; j <= l[0]; j++) put(&w, l[j], 4);
    }
  }
  for (uint32_t i = 0; i < h->n_free; i++) put(&w, h->free_ids[i], 4);
  put(&w, XXH3_64bits(w.p, w.len), 8);
  *out = w.p;
  *out_len = w.len;
  return LP_OK;
}

/* ---- load --------------------------------------------------------------------------------------- */

typedef struct rbuf {
  const uint8_t *p;
  size_t len, off;
} rbuf;

/* Reads bytes little-endian. The length was checked against the header's total, and node sizes are
 * checked by need() before their fields are read. */
static uint64_t get(rbuf *r, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++) v |= (uint64_t)r->p[r->off++] << (8 * i);
  return v;
}

static int need(const rbuf *r, size_t n) {
  return r->len - r->off >= n;
}

#define FAIL(...)                                          \
  do {                                                     \
    snprintf(errstr, errstr_size, "hnsw blob: " __VA_ARGS__); \
    rc = LP_EINVAL;                                        \
    goto fail;                                             \
  } while (0)

/* Reads the lists of node id at levels 0..level and checks each link. */
static int read_links(lp_hnsw *h, rbuf *r, uint32_t id, uint32_t n, char *errstr, size_t errstr_size) {
  int rc = LP_OK;
  for (uint32_t lev = 0; lev <= h->level[id]; lev++) {
    if (!need(r, 4)) FAIL("node %u: truncated links", id);
    uint32_t cnt = (uint32_t)get(r, 4);
    if (cnt > lp__hnsw_maxlinks(h, lev)) FAIL("node %u level %u: %u links, at most %u", id, lev, cnt,
                                              lp__hnsw_maxlinks(h, lev));
    if (!need(r, (size_t)cnt * 4)) FAIL("node %u: truncated links", id);
    uint32_t *l = lp__hnsw_links(h, id, lev);
    l[0] = cnt;
    for (uint32_t j = 1; j <= cnt; j++) {
      uint32_t x = (uint32_t)get(r, 4);
      if (x >= n || x == id) FAIL("node %u level %u: link to %u, not a node", id, lev, x);
      l[j] = x;
    }
  }
fail:
  return rc;
}

static int read_header(rbuf *r, lp_hnsw_opts *o, uint64_t *rng, uint32_t hdr[8], char *errstr,
                       size_t errstr_size) {
  int rc = LP_OK;
  if (r->len >= 8 && memcmp(r->p, MAGIC, 8) != 0) FAIL("not an HNSW checkpoint (bad magic)");
  if (r->len < HEADER_BYTES + 8) FAIL("truncated: %zu bytes, the header alone needs %d", r->len, HEADER_BYTES + 8);
  r->off = 8;
  uint32_t version = (uint32_t)get(r, 4);
  if (version != VERSION) FAIL("unsupported version %u (this build reads %u)", version, VERSION);
  uint64_t total = get(r, 8);
  if (r->len < total) FAIL("truncated: %zu bytes of %llu", r->len, (unsigned long long)total);
  if (r->len > total) FAIL("%zu bytes after the end of the index", r->len - (size_t)total);
  uint64_t sum = XXH3_64bits(r->p, r->len - 8);
  rbuf t = { r->p, r->len, r->len - 8 };
  if (get(&t, 8) != sum) FAIL("checksum mismatch: the blob is corrupt");
  r->len -= 8;
  o->dim = (uint32_t)get(r, 4);
  o->metric = (lp_hnsw_metric)get(r, 4);
  o->m = (uint32_t)get(r, 4);
  o->ef_construction = (uint32_t)get(r, 4);
  o->ef_search = (uint32_t)get(r, 4);
  *rng = get(r, 8);
  for (int i = 0; i < 8; i++) hdr[i] = (uint32_t)get(r, 4);
  if (o->m == 0 || o->ef_construction == 0 || o->ef_search == 0) FAIL("m and ef must not be 0");
  if (hdr[0] > LP_HNSW_MAX_NODES) FAIL("%u nodes, at most %u", hdr[0], LP_HNSW_MAX_NODES);
fail:
  return rc;
}

/* Counts, entry point, free stack and sweep state against the nodes read. */
static int check_totals(lp_hnsw *h, const uint32_t hdr[8], char *errstr, size_t errstr_size) {
  int rc = LP_OK;
  uint32_t live = 0, dead = 0, nfree = 0, top = 0, any = 0;
  for (uint32_t i = 0; i < h->n; i++) {
    if (h->state[i] == LP__HNSW_LIVE) live++;
    else if (h->state[i] == LP__HNSW_FREE) nfree++;
    else dead++;
    if (h->state[i] == LP__HNSW_DOOMED && !hdr[6]) FAIL("node %u doomed without a running sweep", i);
    if (h->state[i] != LP__HNSW_FREE) {
      any = 1;
      if (h->level[i] > top) top = h->level[i];
    }
  }
  if (live != hdr[3] || dead != hdr[4] || nfree != hdr[5])
    FAIL("counts disagree: header %u live, %u deleted, %u free; nodes %u, %u, %u", hdr[3], hdr[4], hdr[5],
         live, dead, nfree);
  if (!any ? hdr[1] != LP__HNSW_NONE
           : (hdr[1] >= h->n || h->state[hdr[1]] == LP__HNSW_FREE || h->level[hdr[1]] != hdr[2] || top != hdr[2]))
    FAIL("bad entry point %u at level %u", hdr[1], hdr[2]);
  if (hdr[6] > 1 || hdr[7] > h->n) FAIL("bad sweep state %u at %u", hdr[6], hdr[7]);
  h->entry = hdr[1];
  h->max_level = any ? hdr[2] : 0;
  h->live = live;
  h->deleted = dead;
  h->sweep_active = hdr[6];
  h->sweep_cursor = hdr[7];
fail:
  return rc;
}

int lp_hnsw_load(const uint8_t *data, size_t len, lp_hnsw **out, char *errstr, size_t errstr_size) {
  int rc = LP_OK;
  lp_hnsw *h = NULL;
  rbuf r = { data, len, 0 };
  lp_hnsw_opts o = { 0 };
  uint64_t rng = 0;
  uint32_t hdr[8];
  if (!data) FAIL("no data");
  if ((rc = read_header(&r, &o, &rng, hdr, errstr, errstr_size))) goto fail;
  uint32_t n = hdr[0];
  o.capacity = n ? n : 1;
  if ((rc = lp_hnsw_new(&h, &o, errstr, errstr_size))) {
    if (rc == LP_EINVAL) {
      char why[200];
      snprintf(why, sizeof why, "%s", errstr);
      FAIL("%s", why);
    }
    goto fail;
  }
  h->rng = rng;
  for (uint32_t id = 0; id < n; id++) {
    if (!need(&r, 10)) FAIL("truncated at node %u", id);
    h->labels[id] = get(&r, 8);
    h->state[id] = (uint8_t)get(&r, 1);
    h->level[id] = (uint8_t)get(&r, 1);
    h->upper[id] = NULL;
    h->links0[(size_t)id * (1 + h->m0)] = 0;
    h->n = id + 1;
    if (h->state[id] > LP__HNSW_FREE) FAIL("node %u: bad state %u", id, h->state[id]);
    if (h->level[id] > LP__HNSW_MAX_LEVEL) FAIL("node %u: level %u above %u", id, h->level[id], LP__HNSW_MAX_LEVEL);
    float *v = lp__hnsw_vec(h, id);
    memset(v, 0, (size_t)h->stride * sizeof *v);
    if (h->state[id] == LP__HNSW_FREE) {
      if (h->level[id]) FAIL("node %u: free with level %u", id, h->level[id]);
      continue;
    }
    if (!need(&r, (size_t)h->dim * 4)) FAIL("truncated at node %u", id);
    for (uint32_t i = 0; i < h->dim; i++) {
      uint32_t bits = (uint32_t)get(&r, 4);
      memcpy(&v[i], &bits, 4);
      if (!isfinite(v[i])) FAIL("node %u: component %u is not finite", id, i);
    }
    if (lp__hnsw_alloc_upper(h, id, h->level[id])) {
      rc = LP_ENOMEM;
      goto fail;
    }
    if ((rc = read_links(h, &r, id, n, errstr, errstr_size))) goto fail;
    if (h->state[id] == LP__HNSW_LIVE) {
      if (lp__hnsw_map_get(h, h->labels[id]) != LP__HNSW_NONE)
        FAIL("node %u: label %llu is live twice", id, (unsigned long long)h->labels[id]);
      if (lp__hnsw_map_put(h, h->labels[id], id)) {
        rc = LP_ENOMEM;
        goto fail;
      }
    }
  }
  /* A link must reach a node that lives at its level and still holds its vector. */
  for (uint32_t id = 0; id < n; id++) {
    if (h->state[id] == LP__HNSW_FREE) continue;
    for (uint32_t lev = 0; lev <= h->level[id]; lev++) {
      const uint32_t *l = lp__hnsw_links(h, id, lev);
      for (uint32_t j = 1; j <= l[0]; j++)
        if (h->state[l[j]] == LP__HNSW_FREE || h->level[l[j]] < lev)
          FAIL("node %u level %u: link to %u, which is free or below that level", id, lev, l[j]);
    }
  }
  if ((rc = check_totals(h, hdr, errstr, errstr_size))) goto fail;
  if (!need(&r, (size_t)hdr[5] * 4) || r.len - r.off != (size_t)hdr[5] * 4) FAIL("free stack: bad length");
  if (hdr[5]) {
    h->free_ids = lp_malloc((size_t)hdr[5] * sizeof *h->free_ids);
    if (!h->free_ids) {
      rc = LP_ENOMEM;
      goto fail;
    }
    h->cap_free = hdr[5];
  }
  lp__hnsw_visit_reset(h);
  for (uint32_t i = 0; i < hdr[5]; i++) {
    uint32_t x = (uint32_t)get(&r, 4);
    if (x >= n || h->state[x] != LP__HNSW_FREE || h->visited[x] == h->epoch) FAIL("free stack: bad slot %u", x);
    h->visited[x] = h->epoch;
    h->free_ids[h->n_free++] = x;
  }
  *out = h;
  return LP_OK;
fail:
  lp_hnsw_free(h);
  if (rc == LP_ENOMEM) snprintf(errstr, errstr_size, "hnsw blob: out of memory");
  return rc;
}
