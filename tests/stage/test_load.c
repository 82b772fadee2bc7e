/* Loading stages from the config: order, built-ins, duplicates, unknown names, stage sections, init
 * failures, config parsing, and descriptors older or newer than the host's. */
#include <criterion/criterion.h>
#include <string.h>

#include "base/alloc.h"
#include "stage/builtin.h"
#include "stage/registry.h"

static lp_config cfg;
static char err[512];
static int destroyed[4];
static int64_t seen_limit;

typedef struct test_conf {
  int64_t limit;
  char *label;
} test_conf;

static const lp_conf_key conf_keys[] = {
  { "limit", LP_CONF_INT, "5", 1, 100, offsetof(test_conf, limit), "a bounded number" },
  { "label", LP_CONF_STRING, "none", 1, 0, offsetof(test_conf, label), "a string" },
  { NULL, 0, NULL, 0, 0, 0, NULL }
};

static int init_ok(const lp_host_api *h, const void *conf, void **st, char *e, size_t es) {
  *st = (void *)conf;
  return LP_OK;
}
static int init_conf(const lp_host_api *h, const void *conf, void **st, char *e, size_t es) {
  seen_limit = ((const test_conf *)conf)->limit;
  return LP_OK;
}
static int init_fail(const lp_host_api *h, const void *conf, void **st, char *e, size_t es) {
  snprintf(e, es, "boom: cannot start");
  return LP_EINVAL;
}
static int pass(void *s, const lp_snippet *sn, lp_verdict *v) { return LP_STAGE_CONTINUE; }
static void destroy_a(void *s) { destroyed[0]++; }
static void destroy_b(void *s) { destroyed[1]++; }

static const lp_stage_desc d_a = { LP_STAGE_DESC_HEADER, .name = "a", .init = init_ok, .on_snippet = pass,
                                   .destroy = destroy_a };
static const lp_stage_desc d_b = { LP_STAGE_DESC_HEADER, .name = "b", .init = init_ok, .on_snippet = pass,
                                   .destroy = destroy_b };
static const lp_stage_desc d_c = { LP_STAGE_DESC_HEADER, .name = "c", .init = init_ok, .on_snippet = pass };
static const lp_stage_desc d_a2 = { LP_STAGE_DESC_HEADER, .name = "a", .init = init_ok, .on_snippet = pass };
static const lp_stage_desc d_fail = { LP_STAGE_DESC_HEADER, .name = "failing", .init = init_fail,
                                      .on_snippet = pass };
static const lp_stage_desc d_conf = { LP_STAGE_DESC_HEADER, .name = "conf", .conf_keys = conf_keys,
                                      .conf_size = sizeof(test_conf), .init = init_conf, .on_snippet = pass };

static void load_cfg(const char *text) {
  lp_config_free(&cfg);  /* a test may load twice: the first config must not leak */
  memset(&cfg, 0, sizeof(cfg));
  int rc = lp_config_load_string(&cfg, text, "test.conf", err, sizeof(err));
  cr_assert_eq(rc, LP_OK, "config: %s", err);
}

static int load(const char *text, lp_stages **st) {
  static const lp_stage_desc *const all[] = { &d_a, &d_b, &d_c, &d_fail, &d_conf };
  load_cfg(text);
  err[0] = '\0';
  return lp_stages_load_descs(st, &cfg, NULL, all, 5, err, sizeof(err));
}

static void fini(void) {
  lp_config_free(&cfg);
  memset(&cfg, 0, sizeof(cfg));
}

TestSuite(stage_load, .fini = fini);

Test(stage_load, runs_the_stages_in_the_configured_order) {
  lp_stages *st;
  cr_assert_eq(load("[stages]\norder = c, a ,b\n", &st), LP_OK, "%s", err);
  cr_assert_eq(lp_stages_count(st), 3);
  cr_assert_str_eq(lp_stages_desc(st, 0)->name, "c");
  cr_assert_str_eq(lp_stages_desc(st, 1)->name, "a");
  cr_assert_str_eq(lp_stages_desc(st, 2)->name, "b");
  cr_assert_eq(lp_stages_find(st, "b"), 2);
  cr_assert_eq(lp_stages_find(st, "zz"), -1);
  cr_assert_str_eq(lp_stages_origin(st, 0), "injected");
  cr_assert_null(lp_stages_desc(st, 3));
  lp_stages_free(st);
  cr_assert_eq(destroyed[0], 1);
  cr_assert_eq(destroyed[1], 1);
}

Test(stage_load, an_empty_order_loads_nothing) {
  lp_stages *st;
  cr_assert_eq(load("[stages]\norder =\n", &st), LP_OK, "%s", err);
  cr_assert_eq(lp_stages_count(st), 0);
  lp_stages_free(st);
}

Test(stage_load, an_empty_item_is_an_error) {
  lp_stages *st = (lp_stages *)1;
  cr_assert_eq(load("[stages]\norder = a,,b\n", &st), LP_ECONFIG);
  cr_assert_null(st);
  cr_assert(strstr(err, "order") != NULL && strstr(err, "empty") != NULL, "%s", err);
}

Test(stage_load, a_name_given_twice_is_an_error) {
  lp_stages *st;
  cr_assert_eq(load("[stages]\norder = a, b, a\n", &st), LP_EEXIST);
  cr_assert(strstr(err, "'a'") != NULL && strstr(err, "twice") != NULL, "%s", err);
}

Test(stage_load, two_providers_of_one_name_are_an_error) {
  static const lp_stage_desc *const two[] = { &d_a, &d_a2 };
  lp_stages *st;
  load_cfg("[stages]\norder = a\n");
  cr_assert_eq(lp_stages_load_descs(&st, &cfg, NULL, two, 2, err, sizeof(err)), LP_EEXIST);
  cr_assert(strstr(err, "provided twice") != NULL, "%s", err);
}

Test(stage_load, an_unknown_stage_is_an_error_naming_it) {
  lp_stages *st;
  cr_assert_eq(load("[stages]\norder = a, nosuch\n", &st), LP_ENOENT);
  cr_assert(strstr(err, "'nosuch'") != NULL, "%s", err);
  cr_assert_eq(destroyed[0], 0, "nothing was init()ed, so nothing is destroyed");
}

Test(stage_load, a_section_for_a_stage_not_loaded_is_an_error) {
  lp_stages *st;
  cr_assert_neq(load("[stages]\norder = a\n[stage.ghost]\nx = 1\n", &st), LP_OK);
  cr_assert_null(st);
  cr_assert(strstr(err, "ghost") != NULL, "%s", err);
}

Test(stage_load, a_section_for_a_loaded_stage_is_parsed_with_its_keys) {
  lp_stages *st;
  cr_assert_eq(load("[stages]\norder = conf\n[stage.conf]\nlimit = 42\n", &st), LP_OK, "%s", err);
  cr_assert_eq(seen_limit, 42);
  lp_stages_free(st);
}

Test(stage_load, a_stage_gets_its_defaults_without_a_section) {
  lp_stages *st;
  cr_assert_eq(load("[stages]\norder = conf\n", &st), LP_OK, "%s", err);
  cr_assert_eq(seen_limit, 5);
  lp_stages_free(st);
}

Test(stage_load, a_bad_stage_key_fails_naming_the_stage) {
  lp_stages *st;
  cr_assert_neq(load("[stages]\norder = conf\n[stage.conf]\nlimit = 1000\n", &st), LP_OK);
  cr_assert(strstr(err, "conf") != NULL && strstr(err, "limit") != NULL, "%s", err);
  cr_assert_neq(load("[stages]\norder = conf\n[stage.conf]\nnokey = 1\n", &st), LP_OK);
  cr_assert(strstr(err, "nokey") != NULL, "%s", err);
}

Test(stage_load, an_init_failure_fails_the_load_naming_the_stage) {
  lp_stages *st = (lp_stages *)1;
  cr_assert_eq(load("[stages]\norder = a, failing, b\n", &st), LP_EINVAL);
  cr_assert_null(st);
  cr_assert(strstr(err, "'failing'") != NULL && strstr(err, "boom: cannot start") != NULL, "%s", err);
  cr_assert_eq(destroyed[0], 1, "the stage init()ed before is destroyed");
  cr_assert_eq(destroyed[1], 0, "the stage after was never init()ed");
}

Test(stage_load, a_bad_injected_descriptor_is_refused) {
  static lp_stage_desc bad;
  bad = d_c;
  bad.abi_major = 2;
  static const lp_stage_desc *const one[] = { &bad };
  lp_stages *st;
  load_cfg("[stages]\norder = c\n");
  cr_assert_eq(lp_stages_load_descs(&st, &cfg, NULL, one, 1, err, sizeof(err)), LP_EABI);
  cr_assert(strstr(err, "stage ABI 2.3, this leadpoet speaks stage ABI 1.3") != NULL, "%s", err);
}

/* An ABI 1.x descriptor shorter than the host's, but holding every 1.0 field: accepted, copied into a
 * zeroed host-sized struct, and nothing past its declared size is read. */
Test(stage_load, an_older_smaller_descriptor_is_accepted) {
  unsigned char *raw = lp_malloc(sizeof(lp_stage_desc));
  memset(raw, 0xEE, sizeof(lp_stage_desc));
  memcpy(raw, &d_c, LP_STAGE_DESC_MIN_SIZE);
  ((lp_stage_desc *)raw)->struct_size = (uint32_t)LP_STAGE_DESC_MIN_SIZE;
  const lp_stage_desc *one[] = { (const lp_stage_desc *)raw };
  lp_stages *st;
  load_cfg("[stages]\norder = c\n");
  cr_assert_eq(lp_stages_load_descs(&st, &cfg, NULL, one, 1, err, sizeof(err)), LP_OK, "%s", err);
  const lp_stage_desc *d = lp_stages_desc(st, 0);
  cr_assert_eq(d->struct_size, sizeof(lp_stage_desc));
  for (size_t i = 0; i < sizeof(d->reserved) / sizeof(d->reserved[0]); i++)
    cr_assert_null(d->reserved[i], "reserved[%zu] must be zero", i);
  cr_assert_null(d->on_admit, "past the declared size: zero");
  cr_assert_null(d->describe_miner);
  cr_assert_eq(d->on_snippet, pass);
  lp_stages_free(st);
  lp_free(raw);
}

/* A 1.0 plugin: the same struct size as 1.1, abi_minor 0, and non-zero bytes where 1.1 put its global
 * callbacks (1.0's reserved slots, which a careless plugin may have filled). Accepted, and none of those
 * bytes is read: the host copy holds NULL callbacks, and the global path never calls them. */
Test(stage_load, a_1_0_descriptor_of_the_same_size_has_no_1_1_fields) {
  unsigned char *raw = lp_malloc(sizeof(lp_stage_desc));
  memcpy(raw, &d_c, sizeof(lp_stage_desc));
  ((lp_stage_desc *)raw)->abi_minor = 0;
  memset(raw + LP_STAGE_DESC_MIN_SIZE, 0xEE, sizeof(lp_stage_desc) - LP_STAGE_DESC_MIN_SIZE);
  const lp_stage_desc *one[] = { (const lp_stage_desc *)raw };
  lp_stages *st;
  load_cfg("[stages]\norder = c\n");
  cr_assert_eq(lp_stages_load_descs(&st, &cfg, NULL, one, 1, err, sizeof(err)), LP_OK, "%s", err);
  const lp_stage_desc *d = lp_stages_desc(st, 0);
  cr_assert_eq(d->abi_minor, 0);
  cr_assert_null(d->on_admit);
  cr_assert_null(d->on_admit_outcome);
  cr_assert_null(d->save_global);
  cr_assert_null(d->load_global);
  cr_assert_null(d->describe_miner);
  for (size_t i = 0; i < sizeof(d->reserved) / sizeof(d->reserved[0]); i++) cr_assert_null(d->reserved[i]);
  lp_snippet s;
  memset(&s, 0, sizeof(s));
  lp_verdict v;
  cr_assert_eq(lp_stages_admit(st, &s, &v), LP_STAGE_CONTINUE, "no on_admit is called");
  lp_buf out = LP_BUF_INIT;
  cr_assert_eq(lp_stages_describe_miner(st, LP_STR_LIT("m1"), &out), LP_OK);
  cr_assert_eq(out.len, 0);
  cr_assert_eq(lp_stages_save_global(st, &out), LP_OK);
  cr_assert_eq(out.len, 1, "an empty map");
  lp_buf_free(&out);
  lp_stages_free(st);
  lp_free(raw);
}

/* A larger descriptor (same major and minor, more bytes): only the host's size is read. */
Test(stage_load, a_larger_descriptor_is_cut_at_the_host_size) {
  size_t big = sizeof(lp_stage_desc) + 64;
  unsigned char *raw = lp_calloc(1, big);
  memcpy(raw, &d_c, sizeof(lp_stage_desc));
  ((lp_stage_desc *)raw)->struct_size = (uint32_t)big;
  memset(raw + sizeof(lp_stage_desc), 0x77, 64);
  const lp_stage_desc *one[] = { (const lp_stage_desc *)raw };
  lp_stages *st;
  load_cfg("[stages]\norder = c\n");
  cr_assert_eq(lp_stages_load_descs(&st, &cfg, NULL, one, 1, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(lp_stages_desc(st, 0)->struct_size, sizeof(lp_stage_desc));
  lp_stages_free(st);
  lp_free(raw);
}

Test(stage_load, every_built_in_loads_by_name) {
  cr_assert_not_null(lp_builtin_stages[0].name, "the generated table holds the built-ins (ingest at least)");
  for (size_t i = 0; lp_builtin_stages[i].name != NULL; i++) {
    char text[128];
    snprintf(text, sizeof(text), "[stages]\norder = %s\n", lp_builtin_stages[i].name);
    load_cfg(text);
    lp_stages *st;
    cr_assert_eq(lp_stages_load(&st, &cfg, NULL, err, sizeof(err)), LP_OK, "%s: %s", lp_builtin_stages[i].name, err);
    cr_assert_eq(lp_stages_count(st), 1);
    cr_assert_str_eq(lp_stages_desc(st, 0)->name, lp_builtin_stages[i].name);
    cr_assert_str_eq(lp_stages_origin(st, 0), "built-in");
    lp_stages_free(st);
    lp_config_free(&cfg);
    memset(&cfg, 0, sizeof(cfg));
  }
}

Test(stage_load, a_built_in_name_cannot_be_taken_by_an_injected_stage) {
  cr_assert_not_null(lp_builtin_stages[0].name);
  static lp_stage_desc clash;
  clash = d_c;
  clash.name = lp_builtin_stages[0].name;
  static const lp_stage_desc *const one[] = { &clash };
  lp_stages *st;
  load_cfg("[stages]\norder = c\n");
  cr_assert_eq(lp_stages_load_descs(&st, &cfg, NULL, one, 1, err, sizeof(err)), LP_EEXIST);
  cr_assert(strstr(err, "built-in") != NULL, "%s", err);
}
