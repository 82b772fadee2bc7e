/* fixtures.h: shared helpers of the ingest tests: a valid snippet / outcome, JSON -> msgpack, decoding. */
#ifndef LP_TEST_INGEST_FIXTURES_H
#define LP_TEST_INGEST_FIXTURES_H

#include <criterion/criterion.h>
#include <jansson.h>
#include <msgpack.h>
#include <string.h>

#include "base/alloc.h"
#include "stages/ingest/ingest.h"

#define NOW_MS 1764000000000LL

static const char VALID_SNIPPET[] =
    "{\"id\":\"s-1\",\"miner\":\"miner_1.a-b\",\"ts\":1763999000000,"
    "\"lead\":{\"domain\":\"https://www.Acme.com/about\",\"name\":\"Acme\",\"industry\":\"software\","
    "\"employees\":250,\"country\":\"us\",\"role\":\"VP Engineering\"},"
    "\"kind\":\"hiring\",\"text\":\"Acme is hiring 5 SREs; contact careers@acme.com\","
    "\"url\":\"https://acme.com/jobs\",\"tech_added\":[\"kubernetes\"],\"tech_removed\":[\"heroku\"],"
    "\"future_field\":{\"x\":1}}";

static const char VALID_OUTCOME[] =
    "{\"id\":\"o-1\",\"ts\":1763999000000,\"domain\":\"Acme.com\",\"event\":\"purchased\","
    "\"query_id\":\"q-1\",\"product\":\"CRM seats\",\"value_usd\":1200.5}";

static inline json_t *fx_json(const char *text) {
  json_error_t err;
  json_t *v = json_loads(text, JSON_DECODE_ANY, &err);
  cr_assert_not_null(v, "fixture JSON does not parse: %s", err.text);
  return v;
}

/* Packs a JSON value as msgpack (integers as int, reals as float64, strings as str). */
static inline void fx_pack(msgpack_packer *pk, const json_t *v) {
  switch (json_typeof(v)) {
    case JSON_OBJECT: {
      const char *k;
      json_t *e;
      msgpack_pack_map(pk, json_object_size(v));
      json_object_foreach((json_t *)v, k, e) {
        msgpack_pack_str(pk, strlen(k));
        msgpack_pack_str_body(pk, k, strlen(k));
        fx_pack(pk, e);
      }
      break;
    }
    case JSON_ARRAY: {
      size_t i;
      json_t *e;
      msgpack_pack_array(pk, json_array_size(v));
      json_array_foreach(v, i, e) fx_pack(pk, e);
      break;
    }
    case JSON_STRING:
      msgpack_pack_str(pk, json_string_length(v));
      msgpack_pack_str_body(pk, json_string_value(v), json_string_length(v));
      break;
    case JSON_INTEGER: msgpack_pack_int64(pk, json_integer_value(v)); break;
    case JSON_REAL: msgpack_pack_double(pk, json_real_value(v)); break;
    case JSON_TRUE: msgpack_pack_true(pk); break;
    case JSON_FALSE: msgpack_pack_false(pk); break;
    case JSON_NULL: msgpack_pack_nil(pk); break;
  }
}

/* JSON text -> msgpack bytes in sb (caller destroys sb). */
static inline void fx_to_msgpack(const char *text, msgpack_sbuffer *sb) {
  json_t *v = fx_json(text);
  msgpack_packer pk;
  msgpack_sbuffer_init(sb);
  msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
  fx_pack(&pk, v);
  json_decref(v);
}

static inline lp_ingest_rules fx_rules(const lp_domain_set *b2c) {
  lp_ingest_rules r = { 600000, 64, b2c };
  return r;
}

/* Decodes a JSON snippet text; returns rc, fills rej; frees the snippet unless out is given. */
static inline int fx_snippet_json(const char *text, const lp_domain_set *b2c, lp_reject *rej, lp_snippet **out) {
  json_t *v = fx_json(text);
  lp_ingest_rules r = fx_rules(b2c);
  lp_snippet *s = NULL;
  int rc = lp_snippet_from_json(v, &r, NOW_MS, &s, rej);
  json_decref(v);
  if (out) *out = s;
  else lp_free(s);
  if (rc != LP_OK) cr_assert_null(s);
  return rc;
}

/* The same through msgpack (the JSON text is packed first). */
static inline int fx_snippet_mp(const char *text, const lp_domain_set *b2c, lp_reject *rej, lp_snippet **out) {
  msgpack_sbuffer sb;
  msgpack_unpacked up;
  size_t off = 0;
  fx_to_msgpack(text, &sb);
  msgpack_unpacked_init(&up);
  cr_assert_eq(msgpack_unpack_next(&up, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
  lp_ingest_rules r = fx_rules(b2c);
  lp_snippet *s = NULL;
  int rc = lp_snippet_from_msgpack(&up.data, &r, NOW_MS, &s, rej);
  msgpack_unpacked_destroy(&up);
  msgpack_sbuffer_destroy(&sb);
  if (out) *out = s;
  else lp_free(s);
  return rc;
}

static inline int fx_outcome_json(const char *text, const lp_domain_set *b2c, lp_reject *rej, lp_outcome **out) {
  json_t *v = fx_json(text);
  lp_ingest_rules r = fx_rules(b2c);
  lp_outcome *o = NULL;
  int rc = lp_outcome_from_json(v, &r, NOW_MS, &o, rej);
  json_decref(v);
  if (out) *out = o;
  else lp_free(o);
  return rc;
}

static inline int fx_outcome_mp(const char *text, const lp_domain_set *b2c, lp_reject *rej, lp_outcome **out) {
  msgpack_sbuffer sb;
  msgpack_unpacked up;
  size_t off = 0;
  fx_to_msgpack(text, &sb);
  msgpack_unpacked_init(&up);
  cr_assert_eq(msgpack_unpack_next(&up, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
  lp_ingest_rules r = fx_rules(b2c);
  lp_outcome *o = NULL;
  int rc = lp_outcome_from_msgpack(&up.data, &r, NOW_MS, &o, rej);
  msgpack_unpacked_destroy(&up);
  msgpack_sbuffer_destroy(&sb);
  if (out) *out = o;
  else lp_free(o);
  return rc;
}

/* VALID_SNIPPET with one field set (path "lead.domain" or "text") to a JSON value text, or removed when
 * value is NULL. Returns a malloc'd JSON text (free with free()). */
static inline char *fx_with(const char *base, const char *path, const char *value) {
  json_t *root = fx_json(base), *obj = root;
  const char *dot = strchr(path, '.');
  char key[64];
  if (dot) {
    snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
    obj = json_object_get(root, key);
    path = dot + 1;
  }
  if (value) json_object_set_new(obj, path, fx_json(value));
  else json_object_del(obj, path);
  char *out = json_dumps(root, JSON_COMPACT | JSON_ENCODE_ANY);
  json_decref(root);
  return out;
}

#endif
