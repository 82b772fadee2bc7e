/* Saving and loading one shard's stage state: the round trip, unknown stages, corrupt input, and stage
 * errors on either side. */
#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "stage/registry.h"

static lp_config cfg;
static char err[512];
static int save_fails, load_fails;

typedef struct kv_state { uint32_t count; } kv_state;

static int init_ok(const lp_host_api *h, const void *conf, void **st, char *e, size_t es) { return LP_OK; }
static int kv_open(void *stage, uint32_t shard, void **ss) {
  *ss = calloc(1, sizeof(kv_state));
  return *ss != NULL ? LP_OK : LP_ENOMEM;
}
static void kv_close(void *stage, void *ss) { free(ss); }
static int kv_snip(void *s, const lp_snippet *sn, lp_verdict *v) {
  ((kv_state *)s)->count++;
  return LP_STAGE_CONTINUE;
}
/* Writes the count in two calls, to show a stage may write in pieces. */
static int kv_save(void *s, lp_writer *w) {
  if (save_fails) return LP_EIO;
  uint32_t c = ((kv_state *)s)->count;
  int rc = w->write(w, "kv:", 3);
  return rc != LP_OK ? rc : w->write(w, &c, sizeof(c));
}
static int kv_load(void *s, const void *data, size_t len) {
  if (load_fails || len != 3 + sizeof(uint32_t) || memcmp(data, "kv:", 3) != 0) return LP_EINVAL;
  memcpy(&((kv_state *)s)->count, (const char *)data + 3, sizeof(uint32_t));
  return LP_OK;
}
static int plain_snip(void *s, const lp_snippet *sn, lp_verdict *v) { return LP_STAGE_CONTINUE; }

static const lp_stage_desc d_kv = { LP_STAGE_DESC_HEADER, .name = "kv", .init = init_ok, .shard_open = kv_open,
                                    .shard_close = kv_close, .on_snippet = kv_snip, .save = kv_save,
                                    .load = kv_load };
static const lp_stage_desc d_plain = { LP_STAGE_DESC_HEADER, .name = "plain", .init = init_ok,
                                       .on_snippet = plain_snip };

static lp_stages *stages;

static void setup(void) {
  static const lp_stage_desc *const all[] = { &d_kv, &d_plain };
  memset(&cfg, 0, sizeof(cfg));
  cr_assert_eq(lp_config_load_string(&cfg, "[stages]\norder = plain, kv\n", "t.conf", err, sizeof(err)), LP_OK,
               "%s", err);
  cr_assert_eq(lp_stages_load_descs(&stages, &cfg, NULL, all, 2, err, sizeof(err)), LP_OK, "%s", err);
}
static void teardown(void) {
  lp_stages_free(stages);
  lp_config_free(&cfg);
}
TestSuite(stage_state, .init = setup, .fini = teardown);

static lp_stage_shard *shard_with(uint32_t n) {
  lp_stage_shard *ss;
  cr_assert_eq(lp_stage_shard_open(stages, 3, &ss), LP_OK);
  lp_snippet s;
  memset(&s, 0, sizeof(s));
  lp_verdict v;
  for (uint32_t i = 0; i < n; i++) lp_stage_shard_snippet(ss, &s, &v);
  return ss;
}

static uint32_t count_of(lp_stage_shard *ss) {
  lp_buf b = LP_BUF_INIT;
  cr_assert_eq(lp_stage_shard_save(ss, &b), LP_OK);
  uint32_t c;
  cr_assert_geq(b.len, sizeof(c));
  memcpy(&c, b.data + b.len - sizeof(c), sizeof(c));
  lp_buf_free(&b);
  return c;
}

Test(stage_state, round_trip) {
  lp_stage_shard *a = shard_with(5);
  lp_buf b = LP_BUF_INIT;
  cr_assert_eq(lp_stage_shard_save(a, &b), LP_OK);
  /* {"kv": bin}: only the stage with save() is in the map */
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = 0;
  cr_assert_eq(msgpack_unpack_next(&u, b.data, b.len, &off), MSGPACK_UNPACK_SUCCESS);
  cr_assert_eq(u.data.type, MSGPACK_OBJECT_MAP);
  cr_assert_eq(u.data.via.map.size, 1);
  cr_assert_eq(u.data.via.map.ptr[0].key.via.str.size, 2);
  cr_assert_eq(memcmp(u.data.via.map.ptr[0].key.via.str.ptr, "kv", 2), 0);
  cr_assert_eq(u.data.via.map.ptr[0].val.type, MSGPACK_OBJECT_BIN);
  msgpack_unpacked_destroy(&u);

  lp_stage_shard *fresh = shard_with(0);
  cr_assert_eq(count_of(fresh), 0);
  cr_assert_eq(lp_stage_shard_load(fresh, b.data, b.len, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(count_of(fresh), 5);
  lp_buf_free(&b);
  lp_stage_shard_close(a);
  lp_stage_shard_close(fresh);
}

/* Builds {name: bin, ...} by hand. */
static void pack_entry(msgpack_packer *pk, const char *name, const void *bin, size_t n) {
  msgpack_pack_str(pk, strlen(name));
  msgpack_pack_str_body(pk, name, strlen(name));
  msgpack_pack_bin(pk, n);
  msgpack_pack_bin_body(pk, bin, n);
}

Test(stage_state, unknown_stages_are_skipped) {
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 3);
  pack_entry(&pk, "ghost", "boo", 3);
  uint32_t nine = 9;
  char kv[7];
  memcpy(kv, "kv:", 3);
  memcpy(kv + 3, &nine, 4);
  pack_entry(&pk, "kv", kv, sizeof(kv));
  pack_entry(&pk, "plain", "x", 1);  /* loaded, but keeps no state: skipped too */
  lp_stage_shard *ss = shard_with(0);
  cr_assert_eq(lp_stage_shard_load(ss, sb.data, sb.size, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(count_of(ss), 9);
  lp_stage_shard_close(ss);
  msgpack_sbuffer_destroy(&sb);
}

Test(stage_state, an_empty_map_leaves_the_state_fresh) {
  lp_stage_shard *ss = shard_with(2);
  cr_assert_eq(lp_stage_shard_load(ss, "\x80", 1, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(count_of(ss), 2);
  lp_stage_shard_close(ss);
}

Test(stage_state, corrupt_input_is_refused) {
  static const struct { const char *bytes; size_t len; const char *why; } bad[] = {
    { "", 0, "empty" },
    { "\x92\x01\x02", 3, "not a msgpack map" },
    { "\x81\xa2kv", 4, "truncated" },
    { "\x81\xa2kv\xc4\x01", 6, "truncated" },
    { "\x81\xa2kv\x01", 5, "is not a stage name" },
    { "\x81\x01\xc4\x00", 4, "is not a stage name" },
    { "\x81\xa0\xc4\x00", 4, "is not a stage name" },
    { "\x80\x80", 2, "after the map" },
    { "\x82\xa2kv\xc4\x00\xa2kv\xc4\x00", 11, "twice" },
    { "\xc1", 1, "parse error" },
  };
  lp_stage_shard *ss = shard_with(1);
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    err[0] = '\0';
    cr_assert_eq(lp_stage_shard_load(ss, bad[i].bytes, bad[i].len, err, sizeof(err)), LP_EINVAL, "case %zu", i);
    cr_assert(strstr(err, bad[i].why) != NULL, "case %zu: %s", i, err);
  }
  cr_assert_eq(count_of(ss), 1, "a refused input leaves the state alone");
  lp_stage_shard_close(ss);
}

Test(stage_state, a_stage_load_error_names_the_stage) {
  lp_stage_shard *a = shard_with(1);
  lp_buf b = LP_BUF_INIT;
  cr_assert_eq(lp_stage_shard_save(a, &b), LP_OK);
  load_fails = 1;
  cr_assert_eq(lp_stage_shard_load(a, b.data, b.len, err, sizeof(err)), LP_EINVAL);
  cr_assert(strstr(err, "'kv'") != NULL, "%s", err);
  lp_buf_free(&b);
  lp_stage_shard_close(a);
}

Test(stage_state, a_stage_save_error_leaves_the_buffer_as_it_was) {
  lp_stage_shard *a = shard_with(1);
  lp_buf b = LP_BUF_INIT;
  lp_buf_puts(&b, "prefix");
  save_fails = 1;
  cr_assert_eq(lp_stage_shard_save(a, &b), LP_EIO);
  cr_assert_eq(b.len, 6);
  lp_buf_free(&b);
  lp_stage_shard_close(a);
}
