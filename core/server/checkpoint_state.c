/*
 * checkpoint_state.c: the bytes of a checkpoint. On the workers: the barrier (serialise each shard, full or
 * a no-op delta when it did not change since the last committed checkpoint) and the restore (load a chain).
 * On the reactor: the global blob (the global stages' state and the miner table) and the set of miner
 * names that lets the table be walked from here.
 */
#include <msgpack.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "base/alloc.h"
#include "server/checkpoint_int.h"
#include "server/watch.h"

/* ---- messages ------------------------------------------------------------------------------------- */

static void barrier_run(lp_worker *w, lp_msg *m);
static void barrier_done(lp_msg *m);
static void load_run(lp_worker *w, lp_msg *m);
static void load_done(lp_msg *m);

lp_ckpt_barrier *lp__ckpt_barrier_new(uint32_t n) {
  lp_ckpt_barrier *b = lp_calloc(1, sizeof(*b) + (size_t)n * sizeof(lp_ckpt_shard_out));
  if (b == NULL) return NULL;
  b->msg = (lp_msg){ barrier_run, barrier_done, 0, NULL };
  b->n = n;
  for (uint32_t i = 0; i < n; i++) b->s[i].data = (lp_buf)LP_BUF_INIT;
  return b;
}

void lp__ckpt_barrier_free(lp_ckpt_barrier *b) {
  if (b == NULL) return;
  for (uint32_t i = 0; i < b->n; i++) lp_buf_free(&b->s[i].data);
  lp_free(b);
}

lp_ckpt_load *lp__ckpt_load_new(uint32_t n) {
  lp_ckpt_load *l = lp_calloc(1, sizeof(lp_ckpt_load) + (size_t)n * sizeof(lp_ckpt_shard_in));
  if (l == NULL) return NULL;
  l->msg = (lp_msg){ load_run, load_done, 0, NULL };
  l->n = n;
  return l;
}

void lp__ckpt_load_free(lp_ckpt_load *l) {
  if (l == NULL) return;
  for (uint32_t i = 0; i < l->n; i++)
    for (size_t j = 0; j < l->s[i].nblobs; j++) lp_free(l->s[i].blobs[j]);
  lp_free(l);
}

/* ---- deltas --------------------------------------------------------------------------------------- */

static int sbuf_write(void *data, const char *p, size_t n) { return lp_buf_append(data, p, n) == LP_OK ? 0 : -1; }

int lp__ckpt_delta_encode(uint32_t shard, uint64_t version, lp_buf *out) {
  msgpack_packer pk;
  msgpack_packer_init(&pk, out, sbuf_write);
  int bad = msgpack_pack_array(&pk, 4);
  bad |= msgpack_pack_str_with_body(&pk, LP_CKPT_DELTA_MAGIC, strlen(LP_CKPT_DELTA_MAGIC));
  bad |= msgpack_pack_uint32(&pk, LP_CKPT_DELTA_VERSION);
  bad |= msgpack_pack_uint32(&pk, shard);
  bad |= msgpack_pack_uint64(&pk, version);
  return bad ? LP_ENOMEM : LP_OK;
}

int lp__ckpt_delta_check(uint32_t shard, const void *data, size_t len, char *errstr, size_t errsz) {
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = 0;
  int rc = LP_EINVAL;
  if (msgpack_unpack_next(&u, data, len, &off) != MSGPACK_UNPACK_SUCCESS || u.data.type != MSGPACK_OBJECT_ARRAY ||
      u.data.via.array.size != 4 || off != len) {
    snprintf(errstr, errsz, "shard %u delta: not a shard delta", shard);
    goto out;
  }
  const msgpack_object *f = u.data.via.array.ptr;
  if (f[0].type != MSGPACK_OBJECT_STR || f[0].via.str.size != strlen(LP_CKPT_DELTA_MAGIC) ||
      memcmp(f[0].via.str.ptr, LP_CKPT_DELTA_MAGIC, f[0].via.str.size) != 0 ||
      f[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER || f[2].type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
    snprintf(errstr, errsz, "shard %u delta: bad header", shard);
    goto out;
  }
  if (f[1].via.u64 > LP_CKPT_DELTA_VERSION) {
    snprintf(errstr, errsz, "shard %u delta: version %llu is newer than this leadpoet reads (%d); upgrade leadpoet",
             shard, (unsigned long long)f[1].via.u64, LP_CKPT_DELTA_VERSION);
    goto out;
  }
  if (f[2].via.u64 != shard) {
    snprintf(errstr, errsz, "shard %u delta: holds shard %llu", shard, (unsigned long long)f[2].via.u64);
    goto out;
  }
  rc = LP_OK;
out:
  msgpack_unpacked_destroy(&u);
  return rc;
}

/* ---- worker side ---------------------------------------------------------------------------------- */

/* On the worker, after every message sent before it: each shard as it is now. A shard whose version is the
 * committed one did not change: a no-op delta when the store allows a delta, else a full snapshot. */
static void barrier_run(lp_worker *w, lp_msg *m) {
  lp_ckpt_barrier *b = (lp_ckpt_barrier *)m;
  for (uint32_t i = 0; i < b->n; i++) {
    lp_ckpt_shard_out *o = &b->s[i];
    lp_shard *sh = lp__worker_shard(w, o->shard);
    o->version = sh->version;
    if (o->kind == LP_CKPT_DELTA && sh->version == o->committed) {
      o->err = lp__ckpt_delta_encode(o->shard, sh->version, &o->data);
    } else {
      o->kind = LP_CKPT_FULL;
      o->err = lp_shard_save(sh, &o->data);
    }
  }
}

static void barrier_done(lp_msg *m) {
  lp_ckpt_barrier *b = (lp_ckpt_barrier *)m;
  b->done(b->ud, b);
}


/* Empties a shard (closed and opened again on the same environment). */
static int reset_shard(lp_shard *sh, char *errstr, size_t errsz) {
  const lp_shard_env *env = sh->env;
  uint32_t id = sh->id;
  lp_shard_close(sh);
  int rc = lp_shard_open(sh, id, env);
  if (rc != LP_OK) snprintf(errstr, errsz, "cannot open shard %u again empty: %s", id, lp_strerror(rc));
  return rc;
}

/* On the worker: the full snapshot of the chain, then each delta checked. The shard was opened empty at
 * start; a shard loaded for a rebalance's assignment is emptied first (reset). */
static void load_run(lp_worker *w, lp_msg *m) {
  lp_ckpt_load *l = (lp_ckpt_load *)m;
  for (uint32_t i = 0; i < l->n; i++) {
    lp_ckpt_shard_in *in = &l->s[i];
    lp_shard *sh = lp__worker_shard(w, in->shard);
    in->err = in->reset ? reset_shard(sh, in->errmsg, sizeof(in->errmsg)) : LP_OK;
    if (in->err == LP_OK && in->nblobs > 0) in->err = lp_shard_load(sh, in->blobs[0], in->lens[0], in->errmsg, sizeof(in->errmsg));
    for (size_t j = 1; in->err == LP_OK && j < in->nblobs; j++)
      in->err = lp__ckpt_delta_check(in->shard, in->blobs[j], in->lens[j], in->errmsg, sizeof(in->errmsg));
    in->version = sh->version;
    for (size_t j = 0; j < in->nblobs; j++) {
      lp_free(in->blobs[j]);
      in->blobs[j] = NULL;
    }
  }
}

static void load_done(lp_msg *m) {
  lp_ckpt_load *l = (lp_ckpt_load *)m;
  l->done(l->ud, l);
}


/* ---- the miner set -------------------------------------------------------------------------------- */

typedef struct miner_name {
  char *id;
  int throttled;
} miner_name;

struct lp_ckpt_miners {
  miner_name *slots;
  size_t cap, n;
};

int lp__ckpt_miners_new(lp_ckpt_miners **out) {
  lp_ckpt_miners *m = lp_calloc(1, sizeof(*m));
  if (m == NULL || (m->slots = lp_calloc(256, sizeof(miner_name))) == NULL) {
    lp_free(m);
    return LP_ENOMEM;
  }
  m->cap = 256;
  *out = m;
  return LP_OK;
}

void lp__ckpt_miners_free(lp_ckpt_miners *m) {
  if (m == NULL) return;
  for (size_t i = 0; i < m->cap; i++) lp_free(m->slots[i].id);
  lp_free(m->slots);
  lp_free(m);
}

static miner_name *slot_of(miner_name *slots, size_t cap, const char *id, size_t len) {
  for (size_t i = XXH3_64bits(id, len) & (cap - 1);; i = (i + 1) & (cap - 1)) {
    miner_name *s = &slots[i];
    if (s->id == NULL || (strncmp(s->id, id, len) == 0 && s->id[len] == '\0')) return s;
  }
}

int lp__ckpt_miners_note(lp_ckpt_miners *m, const char *id, size_t len, int throttled) {
  if (id == NULL || len == 0 || len > 64) return LP_OK;
  if ((m->n + 1) * 4 > m->cap * 3) {
    size_t cap = m->cap * 2;
    miner_name *ns = lp_calloc(cap, sizeof(miner_name));
    if (ns == NULL) return LP_ENOMEM;
    for (size_t i = 0; i < m->cap; i++)
      if (m->slots[i].id) *slot_of(ns, cap, m->slots[i].id, strlen(m->slots[i].id)) = m->slots[i];
    lp_free(m->slots);
    m->slots = ns;
    m->cap = cap;
  }
  miner_name *s = slot_of(m->slots, m->cap, id, len);
  if (s->id == NULL) {
    if ((s->id = lp_strndup(id, len)) == NULL) return LP_ENOMEM;
    m->n++;
  }
  s->throttled = throttled;
  return LP_OK;
}

/* ---- the global blob ------------------------------------------------------------------------------ */

int lp__ckpt_global_encode(lp_server *srv, lp_ckpt_miners *names, lp_buf *out) {
  lp_buf stages = LP_BUF_INIT;
  int rc = srv->stages ? lp_stages_save_global(srv->stages, &stages) : LP_OK;
  if (rc != LP_OK) {
    lp_buf_free(&stages);
    return rc;
  }
  msgpack_packer pk;
  msgpack_packer_init(&pk, out, sbuf_write);
  /* [magic, version, stages, miners, watches]: the fifth (the watch registry, server/watch_state.c) is
   * optional on reading, so a blob written before watches existed still loads. */
  lp_buf watches = LP_BUF_INIT;
  if (srv->watches != NULL && (rc = lp__watches_encode(srv->watches, &watches)) != LP_OK) {
    lp_buf_free(&stages);
    lp_buf_free(&watches);
    return rc;
  }
  int bad = msgpack_pack_array(&pk, 5);
  bad |= msgpack_pack_str_with_body(&pk, LP_CKPT_GLOBAL_MAGIC, strlen(LP_CKPT_GLOBAL_MAGIC));
  bad |= msgpack_pack_uint32(&pk, LP_CKPT_GLOBAL_VERSION);
  bad |= msgpack_pack_bin_with_body(&pk, stages.data, stages.len);
  lp_buf_free(&stages);
  size_t n = 0;
  for (size_t i = 0; i < names->cap; i++) n += names->slots[i].id != NULL;
  bad |= msgpack_pack_array(&pk, (uint32_t)n);
  for (size_t i = 0; i < names->cap; i++) {
    const miner_name *mn = &names->slots[i];
    if (mn->id == NULL) continue;
    size_t len = strlen(mn->id);
    const lp_miner_stat *st = lp__miners_find(srv->miners, mn->id, len);
    lp_miner_stat zero = { 0 };
    if (st == NULL) st = &zero;
    bad |= msgpack_pack_array(&pk, 7);
    bad |= msgpack_pack_str_with_body(&pk, mn->id, len);
    bad |= msgpack_pack_uint64(&pk, st->accepted);
    bad |= msgpack_pack_uint64(&pk, st->throttled);
    bad |= msgpack_pack_uint64(&pk, st->rejected);
    bad |= msgpack_pack_int64(&pk, st->first_ms);
    bad |= msgpack_pack_int64(&pk, st->last_ms);
    bad |= msgpack_pack_uint8(&pk, (uint8_t)mn->throttled);
  }
  bad |= msgpack_pack_bin_with_body(&pk, watches.data, watches.len);
  lp_buf_free(&watches);
  return bad ? LP_ENOMEM : LP_OK;
}

static int is_uint(const msgpack_object *o) { return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER; }
static int is_int(const msgpack_object *o) {
  return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER || o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
}

/* One miner row [id, accepted, throttled, rejected, first_ms, last_ms, throttled_now] into the table. */
static int load_miner(lp_server *srv, lp_ckpt_miners *names, const msgpack_object *row, char *errstr, size_t errsz) {
  const msgpack_object *f = row->type == MSGPACK_OBJECT_ARRAY && row->via.array.size == 7 ? row->via.array.ptr : NULL;
  if (f == NULL || f[0].type != MSGPACK_OBJECT_STR || f[0].via.str.size == 0 || f[0].via.str.size > 64 ||
      !is_uint(&f[1]) || !is_uint(&f[2]) || !is_uint(&f[3]) || !is_int(&f[4]) || !is_int(&f[5]) || !is_uint(&f[6])) {
    snprintf(errstr, errsz, "global state: a bad miner row");
    return LP_EINVAL;
  }
  const char *id = f[0].via.str.ptr;
  size_t len = f[0].via.str.size;
  int throttled = f[6].via.u64 != 0;
  /* The table keeps "throttled now" to itself: set it the way the table does, by counting a result. */
  lp__miners_count(srv->miners, id, len, throttled ? "throttled" : NULL);
  lp_miner_stat *st = lp__miners_get(srv->miners, id, len);
  st->accepted = f[1].via.u64;
  st->throttled = f[2].via.u64;
  st->rejected = f[3].via.u64;
  st->first_ms = f[4].via.i64;
  st->last_ms = f[5].via.i64;
  return lp__ckpt_miners_note(names, id, len, throttled);
}

int lp__ckpt_global_decode(lp_server *srv, lp_ckpt_miners *names, const void *data, size_t len, char *errstr,
                           size_t errsz) {
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = 0;
  int rc = LP_EINVAL;
  if (msgpack_unpack_next(&u, data, len, &off) != MSGPACK_UNPACK_SUCCESS || u.data.type != MSGPACK_OBJECT_ARRAY ||
      (u.data.via.array.size != 4 && u.data.via.array.size != 5)) {
    snprintf(errstr, errsz, "global state: not a global state blob");
    goto out;
  }
  const msgpack_object *f = u.data.via.array.ptr;
  if (f[0].type != MSGPACK_OBJECT_STR || f[0].via.str.size != strlen(LP_CKPT_GLOBAL_MAGIC) ||
      memcmp(f[0].via.str.ptr, LP_CKPT_GLOBAL_MAGIC, f[0].via.str.size) != 0 || !is_uint(&f[1]) ||
      f[2].type != MSGPACK_OBJECT_BIN || f[3].type != MSGPACK_OBJECT_ARRAY) {
    snprintf(errstr, errsz, "global state: bad header");
    goto out;
  }
  if (f[1].via.u64 > LP_CKPT_GLOBAL_VERSION) {
    snprintf(errstr, errsz, "global state: version %llu is newer than this leadpoet reads (%d); upgrade leadpoet",
             (unsigned long long)f[1].via.u64, LP_CKPT_GLOBAL_VERSION);
    goto out;
  }
  rc = LP_OK;
  if (srv->stages && f[2].via.bin.size > 0)
    rc = lp_stages_load_global(srv->stages, f[2].via.bin.ptr, f[2].via.bin.size, errstr, errsz);
  for (uint32_t i = 0; rc == LP_OK && i < f[3].via.array.size; i++)
    rc = load_miner(srv, names, &f[3].via.array.ptr[i], errstr, errsz);
  if (rc == LP_OK && u.data.via.array.size == 5) {
    if (f[4].type != MSGPACK_OBJECT_BIN) {
      snprintf(errstr, errsz, "global state: the watch registry is not a binary");
      rc = LP_EINVAL;
    } else if (srv->watches != NULL && f[4].via.bin.size > 0) {
      rc = lp__watches_decode(srv->watches, f[4].via.bin.ptr, f[4].via.bin.size, errstr, errsz);
    }
  }
out:
  msgpack_unpacked_destroy(&u);
  return rc;
}
