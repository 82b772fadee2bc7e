/*
 * watch_state.c: the watch registry as bytes, for the state_dir snapshot and the Redis checkpoint's global
 * blob (checkpoint_state.c).
 *
 *   ["lp-watches", 1, [[id, request, created_ms, [[domain, score], ...], deliveries, delivered, failures,
 *                       dead_letters, attempts, last_delivery_ms, last_error,
 *                       [[delivery, domain, error, ts_ms, attempts], ...]], ...]]
 *
 * request is the registration body as given: a restore parses it again (the same checks) and compiles the
 * plan anew, so a newer leadpoet reads an older registry. The set travels with it, so what was in a watch's
 * set before a restart does not fire again after it.
 */
#include <msgpack.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/file.h"
#include "base/log.h"
#include "server/watch.h"

#define WATCHES_MAGIC "lp-watches"
#define WATCHES_VERSION 1

static int sbuf_write(void *data, const char *p, size_t n) { return lp_buf_append(data, p, n) == LP_OK ? 0 : -1; }

static int pack_str(msgpack_packer *pk, const char *s) { return msgpack_pack_str_with_body(pk, s, strlen(s)); }

static int pack_watch(msgpack_packer *pk, const lp_watches *ws, const lp_watch *w) {
  uint32_t cap = (uint32_t)ws->srv->cfg->watch.dlq_size;
  int bad = msgpack_pack_array(pk, 12);
  bad |= pack_str(pk, w->id);
  bad |= msgpack_pack_str_with_body(pk, w->request, w->request_len);
  bad |= msgpack_pack_int64(pk, w->created_ms);
  bad |= msgpack_pack_array(pk, w->n_set);
  for (uint32_t i = 0; i < w->n_set; i++) {
    bad |= msgpack_pack_array(pk, 2);
    bad |= pack_str(pk, w->set[i].domain);
    bad |= msgpack_pack_double(pk, w->set[i].score);
  }
  bad |= msgpack_pack_uint64(pk, w->deliveries);
  bad |= msgpack_pack_uint64(pk, w->delivered);
  bad |= msgpack_pack_uint64(pk, w->failures);
  bad |= msgpack_pack_uint64(pk, w->dead_letters);
  bad |= msgpack_pack_uint64(pk, w->attempts);
  bad |= msgpack_pack_int64(pk, w->last_delivery_ms);
  bad |= pack_str(pk, w->last_error);
  bad |= msgpack_pack_array(pk, w->n_dlq);
  for (uint32_t i = 0; i < w->n_dlq; i++) {  /* oldest first, so a reload appends in order */
    const lp_watch_dead *d = &w->dlq[(w->dlq_head + cap - w->n_dlq + i) % cap];
    bad |= msgpack_pack_array(pk, 5);
    bad |= pack_str(pk, d->delivery);
    bad |= pack_str(pk, d->domain);
    bad |= pack_str(pk, d->error);
    bad |= msgpack_pack_int64(pk, d->ts_ms);
    bad |= msgpack_pack_uint32(pk, d->attempts);
  }
  return bad;
}

int lp__watches_encode(const lp_watches *ws, lp_buf *out) {
  msgpack_packer pk;
  msgpack_packer_init(&pk, out, sbuf_write);
  int bad = msgpack_pack_array(&pk, 3);
  bad |= pack_str(&pk, WATCHES_MAGIC);
  bad |= msgpack_pack_uint32(&pk, WATCHES_VERSION);
  bad |= msgpack_pack_array(&pk, ws->n);
  for (uint32_t i = 0; i < ws->n; i++) bad |= pack_watch(&pk, ws, ws->v[i]);
  return bad ? LP_ENOMEM : LP_OK;
}

/* ---- decode --------------------------------------------------------------------------------------- */

static int is_str(const msgpack_object *o, uint32_t max) { return o->type == MSGPACK_OBJECT_STR && o->via.str.size <= max; }
static int is_uint(const msgpack_object *o) { return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER; }
static int is_int(const msgpack_object *o) {
  return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER || o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
}
static int is_num(const msgpack_object *o) {
  return is_int(o) || o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32;
}
static double num(const msgpack_object *o) {
  return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (double)o->via.u64
         : o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? (double)o->via.i64 : o->via.f64;
}
static void copy_str(char *dst, size_t cap, const msgpack_object *o) {
  size_t n = o->via.str.size < cap - 1 ? o->via.str.size : cap - 1;
  memcpy(dst, o->via.str.ptr, n);
  dst[n] = '\0';
}

/* The figures, set and dead letters of row f into w (parsed from f's request already). */
static int load_figures(lp_watches *ws, lp_watch *w, const msgpack_object *f, char *errstr, size_t errsz) {
  const msgpack_object *set = &f[3], *dlq = &f[11];
  if (!is_int(&f[2]) || set->type != MSGPACK_OBJECT_ARRAY || !is_uint(&f[4]) || !is_uint(&f[5]) || !is_uint(&f[6]) ||
      !is_uint(&f[7]) || !is_uint(&f[8]) || !is_int(&f[9]) || !is_str(&f[10], 4096) || dlq->type != MSGPACK_OBJECT_ARRAY) {
    snprintf(errstr, errsz, "watch %s: bad figures", w->id);
    return LP_EINVAL;
  }
  w->created_ms = f[2].via.i64;
  for (uint32_t i = 0; i < set->via.array.size && w->n_set < w->k; i++) {
    const msgpack_object *m = &set->via.array.ptr[i];
    if (m->type != MSGPACK_OBJECT_ARRAY || m->via.array.size != 2 || !is_str(&m->via.array.ptr[0], 255) ||
        m->via.array.ptr[0].via.str.size == 0 || !is_num(&m->via.array.ptr[1])) {
      snprintf(errstr, errsz, "watch %s: a bad set member", w->id);
      return LP_EINVAL;
    }
    char *d = lp_strndup(m->via.array.ptr[0].via.str.ptr, m->via.array.ptr[0].via.str.size);
    if (d == NULL) return LP_ENOMEM;
    w->set[w->n_set++] = (lp_watch_member){ d, num(&m->via.array.ptr[1]) };
  }
  w->deliveries = f[4].via.u64;
  w->delivered = f[5].via.u64;
  w->failures = f[6].via.u64;
  w->attempts = f[8].via.u64;
  w->last_delivery_ms = f[9].via.i64;
  copy_str(w->last_error, sizeof(w->last_error), &f[10]);
  for (uint32_t i = 0; i < dlq->via.array.size; i++) {
    const msgpack_object *d = &dlq->via.array.ptr[i];
    const msgpack_object *g = d->type == MSGPACK_OBJECT_ARRAY && d->via.array.size == 5 ? d->via.array.ptr : NULL;
    if (g == NULL || !is_str(&g[0], 4096) || !is_str(&g[1], 4096) || !is_str(&g[2], 4096) || !is_int(&g[3]) || !is_uint(&g[4])) {
      snprintf(errstr, errsz, "watch %s: a bad dead letter", w->id);
      return LP_EINVAL;
    }
    char id[24], domain[256], error[160];
    copy_str(id, sizeof(id), &g[0]);
    copy_str(domain, sizeof(domain), &g[1]);
    copy_str(error, sizeof(error), &g[2]);
    lp__watch_dead_letter(ws, w, id, domain, error, (uint32_t)g[4].via.u64);
    w->dlq[(w->dlq_head + (uint32_t)ws->srv->cfg->watch.dlq_size - 1) % (uint32_t)ws->srv->cfg->watch.dlq_size].ts_ms = g[3].via.i64;
  }
  w->dead_letters = f[7].via.u64;  /* after the ring's own counting */
  w->seeded = 1;
  return LP_OK;
}

static int load_watch(lp_watches *ws, const msgpack_object *row, char *errstr, size_t errsz) {
  const msgpack_object *f = row->type == MSGPACK_OBJECT_ARRAY && row->via.array.size == 12 ? row->via.array.ptr : NULL;
  if (f == NULL || !is_str(&f[0], LP_WATCH_ID_LEN - 1) || f[0].via.str.size == 0 || f[1].type != MSGPACK_OBJECT_STR) {
    snprintf(errstr, errsz, "watches: a bad watch row");
    return LP_EINVAL;
  }
  char id[LP_WATCH_ID_LEN], why[512] = "";
  copy_str(id, sizeof(id), &f[0]);
  lp_watch *w = NULL;
  int rc = lp__watch_parse(ws->srv, f[1].via.str.ptr, f[1].via.str.size, &w, why, sizeof(why));
  if (rc != LP_OK) {
    snprintf(errstr, errsz, "watch %s: %s", id, rc == LP_EINVAL ? why : lp_strerror(rc));
    return rc;
  }
  snprintf(w->id, sizeof(w->id), "%s", id);
  if ((rc = load_figures(ws, w, f, errstr, errsz)) == LP_OK && (rc = lp__watch_add(ws, w, id)) == LP_ERANGE)
    snprintf(errstr, errsz, "watch %s: more watches saved than watch.max_watches (%lld)", id,
             (long long)ws->srv->cfg->watch.max_watches);
  if (rc != LP_OK) lp__watch_unref(w);
  return rc;
}

int lp__watches_decode(lp_watches *ws, const void *data, size_t len, char *errstr, size_t errsz) {
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = 0;
  int rc = LP_EINVAL;
  const msgpack_object *f = NULL;
  if (msgpack_unpack_next(&u, data, len, &off) == MSGPACK_UNPACK_SUCCESS && u.data.type == MSGPACK_OBJECT_ARRAY &&
      u.data.via.array.size == 3)
    f = u.data.via.array.ptr;
  if (f == NULL || !is_str(&f[0], 64) || f[0].via.str.size != strlen(WATCHES_MAGIC) ||
      memcmp(f[0].via.str.ptr, WATCHES_MAGIC, f[0].via.str.size) != 0 || !is_uint(&f[1]) ||
      f[2].type != MSGPACK_OBJECT_ARRAY) {
    snprintf(errstr, errsz, "watches: not a watch registry");
    goto out;
  }
  if (f[1].via.u64 > WATCHES_VERSION) {
    snprintf(errstr, errsz, "watches: version %llu is newer than this leadpoet reads (%d); upgrade leadpoet",
             (unsigned long long)f[1].via.u64, WATCHES_VERSION);
    goto out;
  }
  for (uint32_t i = 0; i < ws->n; i++) {
    ws->v[i]->deleted = 1;
    lp__watch_unref(ws->v[i]);
  }
  ws->n = 0;
  rc = LP_OK;
  for (uint32_t i = 0; rc == LP_OK && i < f[2].via.array.size; i++) rc = load_watch(ws, &f[2].via.array.ptr[i], errstr, errsz);
  lp_gauge_set(ws->m_watches, ws->n);
out:
  msgpack_unpacked_destroy(&u);
  return rc;
}

/* ---- the state_dir file --------------------------------------------------------------------------- */

static int file_path(const lp_watches *ws, char *path, size_t n) {
  const lp_config *c = ws->srv->cfg;
  if (!c->server.state_dir[0] || c->redis.endpoint[0]) return 0;
  snprintf(path, n, "%s/watches.lpstate", c->server.state_dir);
  return 1;
}

int lp__watches_save(lp_watches *ws) {
  char path[1024], err[512] = "";
  lp__ckpt_request(ws->srv);  /* with Redis: the registry is in the next checkpoint even if no event comes */
  if (!file_path(ws, path, sizeof(path))) return LP_OK;
  lp_buf b = LP_BUF_INIT;
  int rc = lp__watches_encode(ws, &b);
  if (rc == LP_OK) rc = lp_file_write_atomic(path, b.data, b.len, err, sizeof(err));
  if (rc != LP_OK) lp_log_error("cannot save the watches", "path=%s err=\"%s\"", path, err[0] ? err : lp_strerror(rc));
  lp_buf_free(&b);
  return rc;
}

int lp__watches_load(lp_watches *ws) {
  char path[1024], err[512] = "";
  if (!file_path(ws, path, sizeof(path))) return LP_OK;
  lp_buf b = LP_BUF_INIT;
  int rc = lp_file_read(path, &b, err, sizeof(err));
  if (rc == LP_OK) rc = lp__watches_decode(ws, b.data, b.len, err, sizeof(err));
  if (rc == LP_ENOENT) rc = LP_OK;
  else if (rc != LP_OK) lp_log_error("cannot restore the watches", "path=%s err=\"%s\"", path, err);
  else lp_log_info("watches restored", "path=%s watches=%u", path, ws->n);
  lp_buf_free(&b);
  return rc;
}
