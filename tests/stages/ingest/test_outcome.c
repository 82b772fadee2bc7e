/* Outcome rules (contract section 2), and msgpack-only type rules (bin, big integers, floats). */
#include <stdlib.h>

#include "fixtures.h"
#include "worker/worker.h"

static lp_domain_set *b2c;

static void setup(void) {
  cr_assert_eq(lp_domain_set_builtin(&b2c), LP_OK);
}

static void teardown(void) {
  lp_domain_set_free(b2c);
}

typedef struct ocase {
  const char *path, *value, *code, *in_msg;
} ocase;

static const ocase outcome_cases[] = {
  { "id", NULL, "bad_field", "id is missing" },
  { "id", "\"\"", "bad_field", "id must be 1..64" },
  { "id", "1", "bad_field", "id must be a string" },
  { "ts", "1764000600001", "future_ts", NULL },
  { "ts", "1764000600000", NULL, NULL },
  { "ts", "-3", "bad_field", "ts must be >= 0" },
  { "ts", "1.5", "bad_field", "ts must be an integer" },
  { "domain", "\"https://www.acme.com/pricing\"", NULL, NULL },
  { "domain", NULL, "bad_field", "domain is missing" },
  { "domain", "\"acme\"", "bad_field", "domain needs at least one dot" },
  { "domain", "\"hotmail.com\"", "b2c_domain", "domain hotmail.com" },
  { "domain", "\"eu.guerrillamail.com\"", "b2c_domain", NULL },
  { "event", "\"bounced\"", NULL, NULL },
  { "event", "\"spam\"", NULL, NULL },
  { "event", "\"clicked\"", "bad_field", "event must be one of delivered, opened, replied, meeting, purchased, bounced, invalid, spam" },
  { "event", NULL, "bad_field", "event is missing" },
  { "query_id", NULL, NULL, NULL },
  { "query_id", "12", "bad_field", "query_id must be a string" },
  { "query_id", "\"q-0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\"", "bad_field", "query_id must be 0..128" },
  { "product", NULL, NULL, NULL },
  { "product", "[]", "bad_field", "product must be a string" },
  { "product", "\"seats for jane.doe@acme.com\"", "pii", "product holds" },
  { "value_usd", "0", NULL, NULL },
  { "value_usd", "99.95", NULL, NULL },
  { "value_usd", NULL, NULL, NULL },
  { "value_usd", "-1", "bad_field", "value_usd must be a finite number >= 0" },
  { "value_usd", "\"100\"", "bad_field", "value_usd must be a number" },
};

Test(outcome, rules, .init = setup, .fini = teardown) {
  for (size_t i = 0; i < sizeof(outcome_cases) / sizeof(outcome_cases[0]); i++) {
    const ocase *c = &outcome_cases[i];
    char *text = fx_with(VALID_OUTCOME, c->path, c->value);
    for (int via = 0; via < 2; via++) {
      lp_reject rej = { 0 };
      int rc = via ? fx_outcome_mp(text, b2c, &rej, NULL) : fx_outcome_json(text, b2c, &rej, NULL);
      if (!c->code) {
        cr_expect_eq(rc, LP_OK, "%d %s=%s: %s", via, c->path, c->value, rej.message);
        continue;
      }
      cr_expect_eq(rc, LP_EINVAL, "%d %s=%s accepted", via, c->path, c->value);
      if (rc != LP_EINVAL) continue;
      cr_expect_str_eq(rej.code, c->code, "%d %s=%s: %s", via, c->path, c->value, rej.message);
      if (c->in_msg) cr_expect(strstr(rej.message, c->in_msg) != NULL, "'%s' lacks '%s'", rej.message, c->in_msg);
    }
    free(text);
  }
}

Test(outcome, decoded_fields, .init = setup, .fini = teardown) {
  lp_reject rej = { 0 };
  lp_outcome *o = NULL;
  cr_assert_eq(fx_outcome_json(VALID_OUTCOME, b2c, &rej, &o), LP_OK, "%s", rej.message);
  cr_assert_str_eq(o->id.ptr, "o-1");
  cr_assert_str_eq(o->domain.ptr, "acme.com");
  cr_assert_eq(o->event, LP_EVENT_PURCHASED);
  cr_assert_str_eq(lp_outcome_event_name(o->event), "purchased");
  cr_assert(lp_outcome_event_is_good(o->event));
  cr_assert_not(lp_outcome_event_is_good(LP_EVENT_BOUNCED));
  cr_assert_str_eq(o->query_id.ptr, "q-1");
  cr_assert_str_eq(o->product.ptr, "CRM seats");
  cr_assert(o->has_value);
  cr_assert_float_eq(o->value_usd, 1200.5, 1e-9);
  cr_assert_eq(o->shard, lp_partition_of(o->domain.ptr, o->domain.len, 64));
  lp_free(o);
  cr_assert_str_eq(lp_outcome_event_name(99), "unknown");
  cr_assert_str_eq(lp_snippet_kind_name(99), "unknown");
}

/* Packs the valid snippet with one field replaced by what put() writes. */
static int snippet_with_raw(const char *key, void (*put)(msgpack_packer *), lp_reject *rej) {
  json_t *root = fx_json(VALID_SNIPPET);
  json_object_del(root, key);
  msgpack_sbuffer sb;
  msgpack_packer pk;
  msgpack_sbuffer_init(&sb);
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, json_object_size(root) + 1);
  const char *k;
  json_t *v;
  json_object_foreach(root, k, v) {
    msgpack_pack_str_with_body(&pk, k, strlen(k));
    fx_pack(&pk, v);
  }
  msgpack_pack_str_with_body(&pk, key, strlen(key));
  put(&pk);
  json_decref(root);
  msgpack_unpacked up;
  size_t off = 0;
  msgpack_unpacked_init(&up);
  cr_assert_eq(msgpack_unpack_next(&up, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
  lp_ingest_rules r = fx_rules(b2c);
  lp_snippet *s = NULL;
  int rc = lp_snippet_from_msgpack(&up.data, &r, NOW_MS, &s, rej);
  lp_free(s);
  msgpack_unpacked_destroy(&up);
  msgpack_sbuffer_destroy(&sb);
  return rc;
}

static void put_bin(msgpack_packer *pk) { msgpack_pack_bin_with_body(pk, "abc", 3); }
static void put_str(msgpack_packer *pk) { msgpack_pack_str_with_body(pk, "abc", 3); }
static void put_u64_big(msgpack_packer *pk) { msgpack_pack_uint64(pk, UINT64_MAX); }
static void put_u32(msgpack_packer *pk) { msgpack_pack_uint32(pk, 1700000000u); }  /* seconds, not ms */
static void put_u64(msgpack_packer *pk) { msgpack_pack_uint64(pk, 1700000000000u); }
static void put_i8_neg(msgpack_packer *pk) { msgpack_pack_int8(pk, -1); }
static void put_float(msgpack_packer *pk) { msgpack_pack_float(pk, 1.0f); }
static void put_ext(msgpack_packer *pk) { msgpack_pack_ext_with_body(pk, "x", 1, 5); }

Test(msgpack, string_types, .init = setup, .fini = teardown) {
  lp_reject rej = { 0 };
  cr_assert_eq(snippet_with_raw("text", put_str, &rej), LP_OK, "%s", rej.message);
  cr_assert_eq(snippet_with_raw("text", put_bin, &rej), LP_EINVAL);
  cr_assert_str_eq(rej.code, "bad_field");
  cr_assert_str_eq(rej.message, "text must be a string, not bin");
  cr_assert_eq(snippet_with_raw("id", put_bin, &rej), LP_EINVAL);
  cr_assert_str_eq(rej.message, "id must be a string, not bin");
  cr_assert_eq(snippet_with_raw("id", put_ext, &rej), LP_EINVAL);
  cr_assert_str_eq(rej.code, "bad_field");
}

Test(msgpack, integer_types, .init = setup, .fini = teardown) {
  lp_reject rej = { 0 };
  cr_assert_eq(snippet_with_raw("ts", put_u64, &rej), LP_OK, "%s", rej.message);
  cr_assert_eq(snippet_with_raw("ts", put_u32, &rej), LP_EINVAL);
  cr_assert(strstr(rej.message, "before 2000") != NULL, "%s", rej.message);
  cr_assert_eq(snippet_with_raw("ts", put_u64_big, &rej), LP_EINVAL);
  cr_assert_str_eq(rej.message, "ts is out of range");
  cr_assert_eq(snippet_with_raw("ts", put_i8_neg, &rej), LP_EINVAL);
  cr_assert(strstr(rej.message, "ts must be >= 0") != NULL);
  cr_assert_eq(snippet_with_raw("ts", put_float, &rej), LP_EINVAL);
  cr_assert(strstr(rej.message, "ts must be an integer") != NULL);
}

Test(msgpack, utf8_in_str, .init = setup, .fini = teardown) {
  static const char *bad[] = {
    "\xc0\xaf",           /* overlong '/' */
    "\xe0\x80\xaf",       /* overlong */
    "\xed\xa0\x80",       /* surrogate U+D800 */
    "\xf4\x90\x80\x80",   /* above U+10FFFF */
    "\xff",
    "ab\xc3",             /* truncated */
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    cr_expect_not(lp_utf8_valid(bad[i], strlen(bad[i])), "case %zu", i);
  cr_expect_not(lp_utf8_valid("a\0b", 3));
  cr_expect(lp_utf8_valid("\xc3\xbc\xe2\x82\xac\xf0\x9f\x98\x80", 9));
  cr_expect(lp_utf8_valid("", 0));
}

static void put_bad_utf8(msgpack_packer *pk) { msgpack_pack_str_with_body(pk, "ok \xed\xa0\x80", 6); }
static void put_nul(msgpack_packer *pk) { msgpack_pack_str_with_body(pk, "a\0b", 3); }

Test(msgpack, invalid_utf8_rejected, .init = setup, .fini = teardown) {
  lp_reject rej = { 0 };
  cr_assert_eq(snippet_with_raw("text", put_bad_utf8, &rej), LP_EINVAL);
  cr_assert_str_eq(rej.code, "bad_field");
  cr_assert(strstr(rej.message, "text is not valid UTF-8") != NULL, "%s", rej.message);
  cr_assert_eq(snippet_with_raw("url", put_nul, &rej), LP_EINVAL);
  cr_assert(strstr(rej.message, "url is not valid UTF-8") != NULL, "%s", rej.message);
}

Test(msgpack, invalid_utf8_in_json) {
  /* jansson refuses invalid UTF-8 itself; a \u escaped lone surrogate too. */
  json_error_t err;
  cr_assert_null(json_loads("{\"text\":\"\xed\xa0\x80\"}", 0, &err));
  cr_assert_null(json_loads("{\"text\":\"\\ud800\"}", 0, &err));
}
