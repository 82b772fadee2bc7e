/* state.c: stage state as a msgpack map {stage name: bin}: one shard's (for checkpoints and shutdown) and
 * the reactor-side global state of the ABI 1.1 stages. */
#include <msgpack.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "stage/stage_int.h"

int lp__stage_buf_write(lp_writer *w, const void *data, size_t len) {
  if (data == NULL && len > 0) return LP_EINVAL;
  return lp_buf_append((lp_buf *)w->opaque, data, len);
}

static int pack_write(void *data, const char *buf, size_t len) {
  return lp_buf_append((lp_buf *)data, buf, len) == LP_OK ? 0 : -1;
}

/* Appends "name": bin(scratch) to the map being packed. Returns nonzero when out of memory. */
static int pack_entry(msgpack_packer *pk, const char *name, const lp_buf *scratch) {
  size_t nlen = strlen(name);
  return msgpack_pack_str(pk, nlen) != 0 || msgpack_pack_str_body(pk, name, nlen) != 0 ||
         msgpack_pack_bin(pk, scratch->len) != 0 ||
         (scratch->len > 0 && msgpack_pack_bin_body(pk, scratch->data, scratch->len) != 0);
}

static int saved(const lp_stage_shard *ss, size_t i) {
  return ss->st->v[i].desc.save != NULL && !ss->slot[i].quarantined;
}

int lp_stage_shard_save(lp_stage_shard *ss, lp_buf *out) {
  size_t mark = out->len;
  uint32_t n = 0;
  for (size_t i = 0; i < ss->st->n; i++) n += saved(ss, i) ? 1u : 0u;
  msgpack_packer pk;
  msgpack_packer_init(&pk, out, pack_write);
  int failed = msgpack_pack_map(&pk, n) != 0;
  for (size_t i = 0; i < ss->st->n && !failed; i++) {
    if (!saved(ss, i)) continue;
    lp__stage *s = &ss->st->v[i];
    lp_buf_reset(&ss->scratch);
    lp_writer w = { lp__stage_buf_write, &ss->scratch };
    int rc = s->desc.save(ss->slot[i].state, &w);
    if (rc != LP_OK) {
      lp_log_error("stage save failed", "stage=%s shard=%u error=\"%s\"", s->desc.name, (unsigned)ss->shard,
                   lp_strerror(rc));
      out->len = mark;
      return rc < 0 ? rc : LP_EINVAL;
    }
    failed = pack_entry(&pk, s->desc.name, &ss->scratch);
  }
  if (ss->scratch.cap > (1u << 20)) lp_buf_free(&ss->scratch);  /* do not pin a large one-off buffer */
  if (failed) {
    out->len = mark;
    return LP_ENOMEM;
  }
  return LP_OK;
}

static int saved_global(const lp_stages *st, size_t i) {
  return st->v[i].desc.save_global != NULL && !st->v[i].g_quarantined;
}

int lp_stages_save_global(lp_stages *st, lp_buf *out) {
  size_t mark = out->len;
  uint32_t n = 0;
  for (size_t i = 0; i < st->n; i++) n += saved_global(st, i) ? 1u : 0u;
  msgpack_packer pk;
  msgpack_packer_init(&pk, out, pack_write);
  int failed = msgpack_pack_map(&pk, n) != 0;
  for (size_t i = 0; i < st->n && !failed; i++) {
    if (!saved_global(st, i)) continue;
    lp__stage *s = &st->v[i];
    lp_buf_reset(&st->g_scratch);
    lp_writer w = { lp__stage_buf_write, &st->g_scratch };
    int rc = s->desc.save_global(s->state, &w);
    if (rc != LP_OK) {
      lp_log_error("stage save_global failed", "stage=%s error=\"%s\"", s->desc.name, lp_strerror(rc));
      out->len = mark;
      return rc < 0 ? rc : LP_EINVAL;
    }
    failed = pack_entry(&pk, s->desc.name, &st->g_scratch);
  }
  if (st->g_scratch.cap > (1u << 20)) lp_buf_free(&st->g_scratch);
  if (failed) {
    out->len = mark;
    return LP_ENOMEM;
  }
  return LP_OK;
}

/* Checks the shape first (a map of str keys to bin values, nothing after it, no key twice), so that no
 * stage sees anything of a corrupt checkpoint. root is a msgpack_object. */
int lp__stage_check_state_map(const void *root_, char *errstr, size_t errstr_size) {
  const msgpack_object *root = root_;
  if (root->type != MSGPACK_OBJECT_MAP) {
    snprintf(errstr, errstr_size, "stage state: not a msgpack map of stage names");
    return LP_EINVAL;
  }
  const msgpack_object_map *m = &root->via.map;
  for (uint32_t i = 0; i < m->size; i++) {
    const msgpack_object *k = &m->ptr[i].key, *v = &m->ptr[i].val;
    if (k->type != MSGPACK_OBJECT_STR || k->via.str.size == 0 || v->type != MSGPACK_OBJECT_BIN) {
      snprintf(errstr, errstr_size, "stage state: entry %u is not a stage name with its bytes", (unsigned)i);
      return LP_EINVAL;
    }
    for (uint32_t j = 0; j < i; j++) {
      const msgpack_object *kj = &m->ptr[j].key;
      if (kj->via.str.size == k->via.str.size && memcmp(kj->via.str.ptr, k->via.str.ptr, k->via.str.size) == 0) {
        snprintf(errstr, errstr_size, "stage state: stage '%.*s' appears twice", (int)k->via.str.size,
                 k->via.str.ptr);
        return LP_EINVAL;
      }
    }
  }
  return LP_OK;
}

static int find_stage(const lp_stages *st, const char *name, size_t len) {
  for (size_t i = 0; i < st->n; i++)
    if (strlen(st->v[i].desc.name) == len && memcmp(st->v[i].desc.name, name, len) == 0) return (int)i;
  return -1;
}

/* Where the bytes of one map go: a shard's stages (ss set) or the global state (ss NULL). */
typedef struct target {
  lp_stages *st;
  lp_stage_shard *ss;
} target;

static int hand_out(const target *t, const msgpack_object_map *m, char *errstr, size_t errstr_size) {
  unsigned shard = t->ss != NULL ? (unsigned)t->ss->shard : 0u;
  for (uint32_t e = 0; e < m->size; e++) {
    const msgpack_object_str *k = &m->ptr[e].key.via.str;
    const msgpack_object_bin *b = &m->ptr[e].val.via.bin;
    int i = find_stage(t->st, k->ptr, k->size);
    lp__stage *s = i >= 0 ? &t->st->v[i] : NULL;
    int has = s != NULL && (t->ss != NULL ? s->desc.load != NULL : s->desc.load_global != NULL);
    if (!has) {
      lp_log_warn("stage state of a stage that is not loaded (or keeps no state), skipped", "stage=\"%.*s\" "
                  "scope=%s shard=%u bytes=%u", (int)(k->size > 64 ? 64 : k->size), k->ptr,
                  t->ss != NULL ? "shard" : "global", shard, (unsigned)b->size);
      continue;
    }
    int rc = t->ss != NULL ? s->desc.load(t->ss->slot[i].state, b->ptr, b->size)
                           : s->desc.load_global(s->state, b->ptr, b->size);
    if (rc != LP_OK) {
      if (t->ss != NULL)
        snprintf(errstr, errstr_size, "stage '%s': load of its state for shard %u failed: %s", s->desc.name,
                 shard, lp_strerror(rc));
      else
        snprintf(errstr, errstr_size, "stage '%s': load of its global state failed: %s", s->desc.name,
                 lp_strerror(rc));
      return rc < 0 ? rc : LP_EINVAL;
    }
  }
  return LP_OK;
}

static int load_map(const target *t, const void *data, size_t len, char *errstr, size_t errstr_size) {
  if (errstr_size > 0) errstr[0] = '\0';
  if (data == NULL || len == 0) {
    snprintf(errstr, errstr_size, "stage state: empty input (an empty state is an empty map)");
    return LP_EINVAL;
  }
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = 0;
  msgpack_unpack_return r = msgpack_unpack_next(&u, data, len, &off);
  int rc;
  if (r == MSGPACK_UNPACK_NOMEM_ERROR) {
    snprintf(errstr, errstr_size, "stage state: out of memory while decoding");
    rc = LP_ENOMEM;
  } else if (r != MSGPACK_UNPACK_SUCCESS && r != MSGPACK_UNPACK_EXTRA_BYTES) {
    snprintf(errstr, errstr_size, "stage state: not valid msgpack (%s)",
             r == MSGPACK_UNPACK_CONTINUE ? "truncated" : "parse error");
    rc = LP_EINVAL;
  } else if (off != len) {
    snprintf(errstr, errstr_size, "stage state: %zu bytes after the map", len - off);
    rc = LP_EINVAL;
  } else {
    rc = lp__stage_check_state_map(&u.data, errstr, errstr_size);
    if (rc == LP_OK) rc = hand_out(t, &u.data.via.map, errstr, errstr_size);
  }
  msgpack_unpacked_destroy(&u);
  return rc;
}

int lp_stage_shard_load(lp_stage_shard *ss, const void *data, size_t len, char *errstr, size_t errstr_size) {
  target t = { ss->st, ss };
  return load_map(&t, data, len, errstr, errstr_size);
}

int lp_stages_load_global(lp_stages *st, const void *data, size_t len, char *errstr, size_t errstr_size) {
  target t = { st, NULL };
  return load_map(&t, data, len, errstr, errstr_size);
}
