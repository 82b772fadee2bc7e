/* Body splitting by media type: JSON array / object, NDJSON with a bad line, msgpack, errors. */
#include "fixtures.h"

typedef struct seen {
  size_t n;
  size_t index[16];
  char kind[16];        /* 'j' json, 'm' msgpack, 'e' item error */
  char err[16][64];
  int stop_at;          /* return 7 at this index, -1 never */
} seen;

static int collect(void *ud, size_t index, const json_t *json, const msgpack_object *mp, const lp_reject *item_err) {
  seen *s = ud;
  cr_assert((json != NULL) + (mp != NULL) + (item_err != NULL) == 1, "exactly one of json / mp / item_err");
  if (s->n < 16) {
    s->index[s->n] = index;
    s->kind[s->n] = json ? 'j' : mp ? 'm' : 'e';
    if (item_err) snprintf(s->err[s->n], sizeof(s->err[0]), "%s", item_err->code);
  }
  s->n++;
  return s->stop_at == (int)index ? 7 : 0;
}

static int split(const char *body, size_t len, const char *mt, size_t max, seen *s, lp_reject *whole) {
  memset(s, 0, sizeof(*s));
  s->stop_at = -1;
  return lp_ingest_split_body(body, len, mt, max, collect, s, whole);
}

Test(split, json_array_and_object) {
  seen s;
  lp_reject w;
  const char *arr = "[{\"a\":1},{\"b\":2},3]";
  cr_assert_eq(split(arr, strlen(arr), "application/json", 10, &s, &w), LP_OK);
  cr_assert_eq(s.n, 3);
  cr_assert_eq(s.index[2], 2);
  cr_assert_eq(s.kind[0], 'j');
  const char *obj = "{\"id\":\"x\"}";
  cr_assert_eq(split(obj, strlen(obj), "Application/JSON; charset=utf-8", 10, &s, &w), LP_OK);
  cr_assert_eq(s.n, 1);
  cr_assert_eq(split("[]", 2, "application/json", 10, &s, &w), LP_OK);
  cr_assert_eq(s.n, 0);
}

Test(split, bad_json) {
  seen s;
  lp_reject w;
  cr_assert_eq(split("[{\"a\":1},", 9, "application/json", 10, &s, &w), LP_EINVAL);
  cr_assert_str_eq(w.code, "bad_json");
  cr_assert_eq(s.n, 0);
  cr_assert_eq(split("42", 2, "application/json", 10, &s, &w), LP_EINVAL);
  cr_assert_str_eq(w.code, "bad_json");
  cr_assert_eq(split("", 0, "application/json", 10, &s, &w), LP_EINVAL);
  cr_assert_str_eq(w.code, "bad_json");
}

Test(split, ndjson_bad_line_in_the_middle) {
  seen s;
  lp_reject w;
  const char *body = "{\"a\":1}\r\n\n{\"a\": oops}\n   \n{\"a\":3}";
  cr_assert_eq(split(body, strlen(body), "application/x-ndjson", 10, &s, &w), LP_OK);
  cr_assert_eq(s.n, 3);
  cr_assert_eq(s.kind[0], 'j');
  cr_assert_eq(s.kind[1], 'e');
  cr_assert_str_eq(s.err[1], "bad_json");
  cr_assert_eq(s.index[1], 1);
  cr_assert_eq(s.kind[2], 'j');
  cr_assert_eq(s.index[2], 2);
  cr_assert_eq(split(body, strlen(body), "application/jsonl", 10, &s, &w), LP_OK);
  cr_assert_eq(s.n, 3);
}

static int keep_err(void *ud, size_t i, const json_t *j, const msgpack_object *m, const lp_reject *e) {
  if (e) *(lp_reject *)ud = *e;
  return 0;
}

Test(split, ndjson_error_message_names_the_line) {
  lp_reject got = { 0 };
  const char *body = "{}\n\n{bad\n";
  cr_assert_eq(lp_ingest_split_body(body, strlen(body), "application/x-ndjson", 10, keep_err, &got, NULL), LP_OK);
  cr_assert(strstr(got.message, "line 3") != NULL, "%s", got.message);
}

Test(split, msgpack_array_and_map) {
  seen s;
  lp_reject w;
  msgpack_sbuffer sb;
  fx_to_msgpack("[{\"a\":1},{\"b\":\"x\"}]", &sb);
  cr_assert_eq(split(sb.data, sb.size, "application/msgpack", 10, &s, &w), LP_OK);
  cr_assert_eq(s.n, 2);
  cr_assert_eq(s.kind[1], 'm');
  /* Trailing bytes and truncation are refused. */
  msgpack_sbuffer_write(&sb, "\x01", 1);
  cr_assert_eq(split(sb.data, sb.size, "application/msgpack", 10, &s, &w), LP_EINVAL);
  cr_assert_str_eq(w.code, "bad_json");
  cr_assert_eq(split(sb.data, sb.size - 3, "application/x-msgpack", 10, &s, &w), LP_EINVAL);
  msgpack_sbuffer_destroy(&sb);
  fx_to_msgpack("{\"id\":\"x\"}", &sb);
  cr_assert_eq(split(sb.data, sb.size, "application/x-msgpack", 10, &s, &w), LP_OK);
  cr_assert_eq(s.n, 1);
  msgpack_sbuffer_destroy(&sb);
  fx_to_msgpack("\"just a string\"", &sb);
  cr_assert_eq(split(sb.data, sb.size, "application/msgpack", 10, &s, &w), LP_EINVAL);
  cr_assert_str_eq(w.code, "bad_json");
  msgpack_sbuffer_destroy(&sb);
}

Test(split, msgpack_huge_declared_sizes_refused) {
  seen s;
  lp_reject w;
  /* array32 of 4 billion elements in 5 bytes: refused before msgpack-c allocates for it. */
  cr_assert_eq(split("\xdd\xff\xff\xff\xff", 5, "application/msgpack", 10, &s, &w), LP_EINVAL);
  cr_assert_eq(split("\x91\xdf\xff\xff\xff\xff", 6, "application/msgpack", 10, &s, &w), LP_EINVAL);
  cr_assert_eq(split("\x91\xdb\xff\xff\xff\xff", 6, "application/msgpack", 10, &s, &w), LP_EINVAL);
  cr_assert_eq(split("\xc1", 1, "application/msgpack", 10, &s, &w), LP_EINVAL);
  size_t used;
  cr_assert_eq(lp_msgpack_check("\x92\x01\xa1x", 4, &used), LP_OK);
  cr_assert_eq(used, 4);
  cr_assert_eq(lp_msgpack_check("\x92\x01\xa1x\x05", 5, &used), LP_OK);
  cr_assert_eq(used, 4);
  cr_assert_eq(lp_msgpack_check("\x92\x01", 2, &used), LP_EINVAL);
}

Test(split, unknown_media_type) {
  seen s;
  lp_reject w;
  cr_assert_eq(split("a,b", 3, "text/csv", 10, &s, &w), LP_ENOENT);
  cr_assert_eq(split("{}", 2, NULL, 10, &s, &w), LP_ENOENT);
  cr_assert_eq(split("{}", 2, "application/jsonx", 10, &s, &w), LP_ENOENT);
  cr_assert_eq(s.n, 0);
}

Test(split, too_many_items) {
  seen s;
  lp_reject w;
  const char *arr = "[1,2,3]";
  cr_assert_eq(split(arr, strlen(arr), "application/json", 2, &s, &w), LP_ERANGE);
  cr_assert_str_eq(w.code, "bad_request");
  cr_assert_eq(s.n, 0, "nothing is handed on");
  cr_assert_eq(split(arr, strlen(arr), "application/json", 3, &s, &w), LP_OK);
  const char *nd = "1\n2\n3\n";
  cr_assert_eq(split(nd, strlen(nd), "application/x-ndjson", 2, &s, &w), LP_ERANGE);
  cr_assert_eq(s.n, 0);
  msgpack_sbuffer sb;
  fx_to_msgpack("[1,2,3]", &sb);
  cr_assert_eq(split(sb.data, sb.size, "application/msgpack", 2, &s, &w), LP_ERANGE);
  cr_assert_str_eq(w.code, "bad_request");
  msgpack_sbuffer_destroy(&sb);
}

Test(split, callback_stops_the_split) {
  seen s;
  lp_reject w;
  memset(&s, 0, sizeof(s));
  s.stop_at = 1;
  const char *arr = "[1,2,3]";
  cr_assert_eq(lp_ingest_split_body(arr, strlen(arr), "application/json", 10, collect, &s, &w), 7);
  cr_assert_eq(s.n, 2);
}

/* End to end: a mixed NDJSON body decoded item by item with the right per-index codes. */
typedef struct e2e {
  lp_ingest_rules rules;
  size_t accepted;
  const char *codes[8];
} e2e;

static int decode_item(void *ud, size_t i, const json_t *j, const msgpack_object *m, const lp_reject *e) {
  e2e *x = ud;
  lp_reject rej = { 0 };
  lp_snippet *sn = NULL;
  int rc;
  if (e) {
    x->codes[i] = e->code;
    return 0;
  }
  rc = j ? lp_snippet_from_json(j, &x->rules, NOW_MS, &sn, &rej) : lp_snippet_from_msgpack(m, &x->rules, NOW_MS, &sn, &rej);
  if (rc == LP_OK) x->accepted++;
  x->codes[i] = rc == LP_OK ? "ok" : rej.code;
  lp_free(sn);
  return 0;
}

Test(split, ndjson_end_to_end) {
  lp_domain_set *b2c;
  cr_assert_eq(lp_domain_set_builtin(&b2c), LP_OK);
  e2e x = { fx_rules(b2c), 0, { 0 } };
  char body[4096];
  snprintf(body, sizeof(body), "%s\nnot json\n{\"id\":\"x\"}\n%s\n", VALID_SNIPPET, VALID_SNIPPET);
  cr_assert_eq(lp_ingest_split_body(body, strlen(body), "application/x-ndjson", 100, decode_item, &x, NULL), LP_OK);
  cr_assert_eq(x.accepted, 2);
  cr_assert_str_eq(x.codes[0], "ok");
  cr_assert_str_eq(x.codes[1], "bad_json");
  cr_assert_str_eq(x.codes[2], "bad_field");
  cr_assert_str_eq(x.codes[3], "ok");
  lp_domain_set_free(b2c);
}
