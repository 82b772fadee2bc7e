/*
 * node.h (private to stages/ingest): one read-only view over a jansson value or a msgpack object, so that
 * the rules of decode.c are written once and applied identically to JSON and msgpack items.
 * A node with both pointers NULL is an absent field.
 */
#ifndef LP_INGEST_NODE_H
#define LP_INGEST_NODE_H

#include <jansson.h>
#include <msgpack.h>
#include <stdint.h>
#include <string.h>

#include "leadpoet/common.h"

typedef struct lp__node {
  const json_t *j;
  const msgpack_object *m;
} lp__node;

enum lp__ntype {
  LP__N_ABSENT = 0,
  LP__N_NULL,
  LP__N_BOOL,
  LP__N_INT,       /* fits int64_t */
  LP__N_BIGUINT,   /* msgpack unsigned above INT64_MAX */
  LP__N_REAL,
  LP__N_STR,
  LP__N_BIN,
  LP__N_ARRAY,
  LP__N_OBJECT,
  LP__N_OTHER      /* msgpack ext */
};

static inline int lp__node_type(lp__node n) {
  if (n.j) {
    switch (json_typeof(n.j)) {
      case JSON_OBJECT: return LP__N_OBJECT;
      case JSON_ARRAY: return LP__N_ARRAY;
      case JSON_STRING: return LP__N_STR;
      case JSON_INTEGER: return LP__N_INT;
      case JSON_REAL: return LP__N_REAL;
      case JSON_TRUE: case JSON_FALSE: return LP__N_BOOL;
      case JSON_NULL: return LP__N_NULL;
    }
    return LP__N_OTHER;
  }
  if (!n.m) return LP__N_ABSENT;
  switch (n.m->type) {
    case MSGPACK_OBJECT_NIL: return LP__N_NULL;
    case MSGPACK_OBJECT_BOOLEAN: return LP__N_BOOL;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: return n.m->via.u64 > (uint64_t)INT64_MAX ? LP__N_BIGUINT : LP__N_INT;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return LP__N_INT;
    case MSGPACK_OBJECT_FLOAT32: case MSGPACK_OBJECT_FLOAT64: return LP__N_REAL;
    case MSGPACK_OBJECT_STR: return LP__N_STR;
    case MSGPACK_OBJECT_BIN: return LP__N_BIN;
    case MSGPACK_OBJECT_ARRAY: return LP__N_ARRAY;
    case MSGPACK_OBJECT_MAP: return LP__N_OBJECT;
    default: return LP__N_OTHER;
  }
}

/* The member key of an object node (absent node when missing; the last one when repeated). */
static inline lp__node lp__node_get(lp__node obj, const char *key) {
  lp__node r = { NULL, NULL };
  if (obj.j) {
    r.j = json_object_get(obj.j, key);
    return r;
  }
  size_t kl = strlen(key);
  const msgpack_object_map *map = &obj.m->via.map;
  for (uint32_t i = 0; i < map->size; i++) {
    const msgpack_object *k = &map->ptr[i].key;
    if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == kl && memcmp(k->via.str.ptr, key, kl) == 0)
      r.m = &map->ptr[i].val;
  }
  return r;
}

/* The bytes of a string node (type LP__N_STR). */
static inline lp_str lp__node_str(lp__node n) {
  lp_str s;
  if (n.j) {
    s.ptr = json_string_value(n.j);
    s.len = json_string_length(n.j);
  } else {
    s.ptr = n.m->via.str.ptr;
    s.len = n.m->via.str.size;
  }
  return s;
}

/* The value of an integer node (type LP__N_INT). */
static inline int64_t lp__node_int(lp__node n) {
  if (n.j) return (int64_t)json_integer_value(n.j);
  return n.m->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (int64_t)n.m->via.u64 : n.m->via.i64;
}

/* The value of a number node (LP__N_INT or LP__N_REAL). */
static inline double lp__node_number(lp__node n) {
  if (n.j) return json_number_value(n.j);
  if (n.m->type == MSGPACK_OBJECT_FLOAT32 || n.m->type == MSGPACK_OBJECT_FLOAT64) return n.m->via.f64;
  return n.m->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (double)n.m->via.u64 : (double)n.m->via.i64;
}

static inline size_t lp__node_len(lp__node n) {
  return n.j ? json_array_size(n.j) : n.m->via.array.size;
}

static inline lp__node lp__node_at(lp__node n, size_t i) {
  lp__node r = { NULL, NULL };
  if (n.j) r.j = json_array_get(n.j, i);
  else r.m = &n.m->via.array.ptr[i];
  return r;
}

#endif
