/*
 * format.c: the checkpoint format: key names, the meta record (msgpack, versioned), its migrations, and
 * the verification of a partition read back (checksums, sizes, schema).
 *
 * The meta record is a msgpack map; the key "schema" is there in every version, so that any build can
 * tell whether it can read a record before reading the rest. Unknown keys are ignored (a minor addition
 * does not need a new schema); a change of meaning does, with a migration step.
 */
#include <inttypes.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "base/alloc.h"
#include "checkpoint/checkpoint_int.h"

const lp_ckpt_schema lp_ckpt_schema_default = { .current = LP_CKPT_SCHEMA, .steps = { NULL } };

int lp_ckpt_tag(int32_t partition, const char *global_name, char *out, size_t cap) {
  if (partition == LP_CKPT_GLOBAL) {
    const char *g = global_name != NULL ? global_name : "global";
    size_t n = strlen(g);
    if (n == 0 || n >= cap || n > 64 || strpbrk(g, "{} \t\r\n") != NULL || (g[0] == 'p' && g[1] >= '0' && g[1] <= '9'))
      return LP_ERANGE;
    memcpy(out, g, n + 1);
    return LP_OK;
  }
  if (partition < 0 || partition > LP_CKPT_MAX_PARTITION) return LP_ERANGE;
  int w = snprintf(out, cap, "p%" PRId32, partition);
  return w > 0 && (size_t)w < cap ? LP_OK : LP_ERANGE;
}

void lp_ckpt_key_meta(const char *tag, char *out, size_t cap) { snprintf(out, cap, LP_CKPT_PREFIX "{%s}:meta", tag); }

void lp_ckpt_key_blob(const char *tag, int kind, uint64_t seq, char *out, size_t cap) {
  snprintf(out, cap, LP_CKPT_PREFIX "{%s}:%s:%" PRIu64, tag, kind == LP_CKPT_FULL ? "full" : "delta", seq);
}

/* CRC16-CCITT (XMODEM), the function of Redis Cluster's key slots. */
static uint16_t crc16(const char *p, size_t n) {
  uint16_t crc = 0;
  for (size_t i = 0; i < n; i++) {
    crc ^= (uint16_t)((uint8_t)p[i] << 8);
    for (int b = 0; b < 8; b++) crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
  }
  return crc;
}

unsigned lp_ckpt_key_slot(const char *key, size_t len) {
  const char *open = memchr(key, '{', len);
  if (open != NULL) {
    const char *close = memchr(open + 1, '}', len - (size_t)(open + 1 - key));
    if (close != NULL && close > open + 1) return crc16(open + 1, (size_t)(close - open - 1)) & 16383;
  }
  return crc16(key, len) & 16383;
}

void lp__ckpt_hex(uint64_t v, char out[17]) { snprintf(out, 17, "%016" PRIx64, v); }

int lp__ckpt_chain_keys(const char *tag, const lp_ckpt_meta *m, lp_buf *out) {
  char key[160];
  for (size_t i = 0; i < m->nchain; i++) {
    lp_ckpt_key_blob(tag, m->chain[i].kind, m->chain[i].seq, key, sizeof(key));
    if ((i > 0 && lp_buf_append(out, " ", 1) != LP_OK) || lp_buf_puts(out, key) != LP_OK) return LP_ENOMEM;
  }
  return LP_OK;
}

void lp_ckpt_state_free(lp_ckpt_state *s) {
  if (s == NULL) return;
  for (size_t i = 0; i < s->nblobs; i++) lp_free(s->blobs[i]);
  s->nblobs = 0;
}

/* ------------------------------------------------------------------------------------------ the record */

static int buf_write(void *data, const char *p, size_t n) { return lp_buf_append(data, p, n) == LP_OK ? 0 : -1; }

static int pack_key(msgpack_packer *pk, const char *k) {
  size_t n = strlen(k);
  return msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, k, n);
}

int lp__ckpt_encode_rec(const lp_ckpt_meta *m, lp_buf *out) {
  msgpack_packer pk;
  msgpack_packer_init(&pk, out, buf_write);
  size_t wn = strlen(m->writer);
  int e = msgpack_pack_map(&pk, 8);
  e |= pack_key(&pk, "schema") || msgpack_pack_uint32(&pk, m->schema);
  e |= pack_key(&pk, "writer") || msgpack_pack_str(&pk, wn) || msgpack_pack_str_body(&pk, m->writer, wn);
  e |= pack_key(&pk, "part") || msgpack_pack_int32(&pk, m->partition);
  e |= pack_key(&pk, "seq") || msgpack_pack_uint64(&pk, m->seq);
  e |= pack_key(&pk, "epoch") || msgpack_pack_int64(&pk, m->epoch);
  e |= pack_key(&pk, "ts") || msgpack_pack_int64(&pk, m->ts_ms);
  e |= pack_key(&pk, "offsets") || msgpack_pack_map(&pk, m->noffsets);
  for (size_t i = 0; i < m->noffsets && !e; i++)
    e |= pack_key(&pk, m->offsets[i].topic) || msgpack_pack_int64(&pk, m->offsets[i].offset);
  e |= pack_key(&pk, "chain") || msgpack_pack_array(&pk, m->nchain);
  for (size_t i = 0; i < m->nchain && !e; i++) {
    const lp_ckpt_link *l = &m->chain[i];
    e |= msgpack_pack_array(&pk, 4) || msgpack_pack_int(&pk, l->kind) || msgpack_pack_uint64(&pk, l->seq) ||
         msgpack_pack_uint64(&pk, l->size) || msgpack_pack_uint64(&pk, l->xxh3);
  }
  return e ? LP_ENOMEM : LP_OK;
}

static int key_is(const msgpack_object *k, const char *s) {
  size_t n = strlen(s);
  return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n && memcmp(k->via.str.ptr, s, n) == 0;
}

static int as_i64(const msgpack_object *o, int64_t *out) {
  if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= (uint64_t)INT64_MAX) *out = (int64_t)o->via.u64;
  else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) *out = o->via.i64;
  else return LP_EINVAL;
  return LP_OK;
}

static int as_u64(const msgpack_object *o, uint64_t *out) {
  if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER) return LP_EINVAL;
  *out = o->via.u64;
  return LP_OK;
}

static int decode_offsets(const msgpack_object *o, lp_ckpt_meta *m) {
  if (o->type != MSGPACK_OBJECT_MAP || o->via.map.size > LP_CKPT_MAX_TOPICS) return LP_EINVAL;
  m->noffsets = o->via.map.size;
  for (size_t i = 0; i < m->noffsets; i++) {
    const msgpack_object *k = &o->via.map.ptr[i].key;
    if (k->type != MSGPACK_OBJECT_STR || k->via.str.size == 0 || k->via.str.size >= sizeof(m->offsets[i].topic))
      return LP_EINVAL;
    memcpy(m->offsets[i].topic, k->via.str.ptr, k->via.str.size);
    m->offsets[i].topic[k->via.str.size] = '\0';
    if (as_i64(&o->via.map.ptr[i].val, &m->offsets[i].offset) != LP_OK) return LP_EINVAL;
  }
  return LP_OK;
}

static int decode_chain(const msgpack_object *o, lp_ckpt_meta *m) {
  if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size == 0 || o->via.array.size > LP_CKPT_MAX_CHAIN)
    return LP_EINVAL;
  m->nchain = o->via.array.size;
  for (size_t i = 0; i < m->nchain; i++) {
    const msgpack_object *l = &o->via.array.ptr[i];
    lp_ckpt_link *d = &m->chain[i];
    int64_t kind;
    if (l->type != MSGPACK_OBJECT_ARRAY || l->via.array.size != 4 || as_i64(&l->via.array.ptr[0], &kind) ||
        as_u64(&l->via.array.ptr[1], &d->seq) || as_u64(&l->via.array.ptr[2], &d->size) ||
        as_u64(&l->via.array.ptr[3], &d->xxh3))
      return LP_EINVAL;
    if (kind != (i == 0 ? LP_CKPT_FULL : LP_CKPT_DELTA) || (i > 0 && d->seq <= m->chain[i - 1].seq)) return LP_EINVAL;
    d->kind = (int)kind;
  }
  return LP_OK;
}

/* Fills m from a record map of any schema up to the current one (the fields of schema 1). */
static int decode_fields(const msgpack_object *map, lp_ckpt_meta *m) {
  int seen = 0;
  for (uint32_t i = 0; i < map->via.map.size; i++) {
    const msgpack_object *k = &map->via.map.ptr[i].key, *v = &map->via.map.ptr[i].val;
    int64_t i64;
    if (key_is(k, "writer")) {
      if (v->type != MSGPACK_OBJECT_STR) return LP_EINVAL;
      size_t n = v->via.str.size < sizeof(m->writer) - 1 ? v->via.str.size : sizeof(m->writer) - 1;
      memcpy(m->writer, v->via.str.ptr, n);
      m->writer[n] = '\0';
    } else if (key_is(k, "part")) {
      if (as_i64(v, &i64) || i64 < LP_CKPT_GLOBAL || i64 > LP_CKPT_MAX_PARTITION) return LP_EINVAL;
      m->partition = (int32_t)i64;
      seen |= 1;
    } else if (key_is(k, "seq")) {
      if (as_u64(v, &m->seq)) return LP_EINVAL;
      seen |= 2;
    } else if (key_is(k, "epoch")) {
      if (as_i64(v, &m->epoch)) return LP_EINVAL;
    } else if (key_is(k, "ts")) {
      if (as_i64(v, &m->ts_ms)) return LP_EINVAL;
    } else if (key_is(k, "offsets")) {
      if (decode_offsets(v, m)) return LP_EINVAL;
    } else if (key_is(k, "chain")) {
      if (decode_chain(v, m)) return LP_EINVAL;
      seen |= 4;
    }
  }
  return seen == 7 ? LP_OK : LP_EINVAL;
}

int lp__ckpt_decode_rec(const void *p, size_t n, const lp_ckpt_schema *sc, const char *key, lp_ckpt_meta *m,
                        char *errstr, size_t errsz) {
  int64_t fence = m->fence;
  memset(m, 0, sizeof(*m));
  m->fence = fence;
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = 0;
  int rc = LP_EINVAL;
  if (msgpack_unpack_next(&u, p, n, &off) != MSGPACK_UNPACK_SUCCESS || off != n ||
      u.data.type != MSGPACK_OBJECT_MAP) {
    snprintf(errstr, errsz, "checkpoint meta %s is corrupt: its record is not a msgpack map", key);
    goto out;
  }
  uint64_t schema = 0;
  for (uint32_t i = 0; i < u.data.via.map.size; i++)
    if (key_is(&u.data.via.map.ptr[i].key, "schema")) as_u64(&u.data.via.map.ptr[i].val, &schema);
  if (schema == 0 || schema > UINT32_MAX) {
    snprintf(errstr, errsz, "checkpoint meta %s is corrupt: no schema version in its record", key);
    goto out;
  }
  if (schema > sc->current) {
    snprintf(errstr, errsz, "%s: checkpoint schema %" PRIu64 " is newer than this leadpoet (%u); upgrade leadpoet",
             key, schema, sc->current);
    goto out;
  }
  if (decode_fields(&u.data, m) != LP_OK) {
    snprintf(errstr, errsz, "checkpoint meta %s is corrupt: a field of its record is missing or malformed", key);
    goto out;
  }
  m->schema = (uint32_t)schema;
  rc = LP_OK;
  for (uint32_t v = (uint32_t)schema; v < sc->current && rc == LP_OK; v++) {
    if (v >= LP_CKPT_MAX_SCHEMA || sc->steps[v] == NULL) {
      snprintf(errstr, errsz, "%s: no migration from checkpoint schema %u to %u in this leadpoet", key, v, v + 1);
      rc = LP_EINVAL;
    } else if ((rc = sc->steps[v](m, errstr, errsz)) != LP_OK) {
      char why[192];
      snprintf(why, sizeof(why), "%s", errstr);
      snprintf(errstr, errsz, "%s: migration of checkpoint schema %u to %u failed: %s", key, v, v + 1, why);
      rc = LP_EINVAL;
    }
  }
out:
  msgpack_unpacked_destroy(&u);
  return rc;
}

/* ------------------------------------------------------------------------------------ reading it back */

static const redisReply *bulk(const redisReply *r, size_t i) {
  if (i >= r->elements) return NULL;
  const redisReply *e = r->element[i];
  return e != NULL && e->type == REDIS_REPLY_STRING ? e : NULL;
}

/* Checks one blob of the chain against its link; copies it into the state. */
static int take_blob(const redisReply *k, const redisReply *v, const char *want, const lp_ckpt_link *l,
                     lp_ckpt_state *out, char *errstr, size_t errsz) {
  if (k == NULL || strcmp(k->str, want) != 0) {
    snprintf(errstr, errsz, "checkpoint meta of %s is corrupt: its keys field does not match its record", want);
    return LP_EINVAL;
  }
  if (v == NULL) {
    snprintf(errstr, errsz, "checkpoint blob %s is missing", want);
    return LP_EINVAL;
  }
  if ((uint64_t)v->len != l->size) {
    snprintf(errstr, errsz, "checkpoint blob %s is %s: %zu bytes, the meta says %" PRIu64, want,
             (uint64_t)v->len < l->size ? "truncated" : "too long", v->len, l->size);
    return LP_EINVAL;
  }
  uint64_t h = XXH3_64bits(v->str, v->len);
  if (h != l->xxh3) {
    char a[17], b[17];
    lp__ckpt_hex(h, a);
    lp__ckpt_hex(l->xxh3, b);
    snprintf(errstr, errsz, "checkpoint blob %s is corrupt: XXH3 %s, the meta says %s", want, a, b);
    return LP_EINVAL;
  }
  char *copy = lp_malloc(v->len + 1);
  if (copy == NULL) return LP_ENOMEM;
  memcpy(copy, v->str, v->len);
  copy[v->len] = '\0';
  out->blobs[out->nblobs] = copy;
  out->lens[out->nblobs++] = v->len;
  return LP_OK;
}

int lp__ckpt_parse_read(const redisReply *r, int32_t partition, const char *tag, const lp_ckpt_schema *sc,
                        lp_ckpt_state *out, char *errstr, size_t errsz) {
  char key[160];
  lp_ckpt_key_meta(tag, key, sizeof(key));
  memset(out, 0, sizeof(*out));
  out->partition = partition;
  out->meta.partition = partition;
  const redisReply *fence = r != NULL && r->type == REDIS_REPLY_ARRAY ? bulk(r, 0) : NULL;
  if (fence == NULL || (r->elements != 1 && (r->elements < 4 || r->elements % 2 != 0))) {
    snprintf(errstr, errsz, "checkpoint read of %s: unexpected reply from Redis", key);
    return LP_EIO;
  }
  out->meta.fence = strtoll(fence->str, NULL, 10);
  if (r->elements == 1) return LP_OK;
  const redisReply *rec = bulk(r, 1), *sum = bulk(r, 2);
  char hex[17];
  if (rec == NULL || sum == NULL || (lp__ckpt_hex(XXH3_64bits(rec->str, rec->len), hex), strcmp(hex, sum->str) != 0)) {
    snprintf(errstr, errsz, "checkpoint meta %s is corrupt: its record does not match its checksum", key);
    return LP_EINVAL;
  }
  int rc = lp__ckpt_decode_rec(rec->str, rec->len, sc, key, &out->meta, errstr, errsz);
  if (rc != LP_OK) return rc;
  if (out->meta.partition != partition) {
    snprintf(errstr, errsz, "checkpoint meta %s is corrupt: its record is of partition %" PRId32, key,
             out->meta.partition);
    return LP_EINVAL;
  }
  if ((r->elements - 4) / 2 != out->meta.nchain) {
    snprintf(errstr, errsz, "checkpoint meta %s is corrupt: %zu blob keys, its record lists %zu", key,
             (r->elements - 4) / 2, out->meta.nchain);
    return LP_EINVAL;
  }
  for (size_t i = 0; i < out->meta.nchain; i++) {
    char want[160];
    lp_ckpt_key_blob(tag, out->meta.chain[i].kind, out->meta.chain[i].seq, want, sizeof(want));
    rc = take_blob(bulk(r, 4 + 2 * i), bulk(r, 5 + 2 * i), want, &out->meta.chain[i], out, errstr, errsz);
    if (rc != LP_OK) {
      lp_ckpt_state_free(out);
      return rc;
    }
  }
  out->found = 1;
  return LP_OK;
}
