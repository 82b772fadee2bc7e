/* The descriptor checks: every refusal, with what its message must say, and what is accepted. */
#include <criterion/criterion.h>
#include <string.h>

#include "stage/registry.h"

static int ok_init(const lp_host_api *h, const void *conf, void **st, char *e, size_t es) { return LP_OK; }
static int ok_snippet(void *s, const lp_snippet *sn, lp_verdict *v) { return LP_STAGE_CONTINUE; }
static int ok_save(void *s, lp_writer *w) { return LP_OK; }
static int ok_load(void *s, const void *d, size_t n) { return LP_OK; }

static lp_stage_desc good(void) {
  lp_stage_desc d = { LP_STAGE_DESC_HEADER, .name = "good_1", .init = ok_init, .on_snippet = ok_snippet };
  return d;
}

static char err[512];

static int check(const lp_stage_desc *d) {
  err[0] = '\0';
  return lp_stage_check_desc(d, "plugins/libx.so", err, sizeof(err));
}

Test(stage_desc, accepts_a_good_descriptor) {
  lp_stage_desc d = good();
  cr_assert_eq(check(&d), LP_OK, "%s", err);
}

Test(stage_desc, refuses_a_newer_major_naming_both_versions) {
  lp_stage_desc d = good();
  d.abi_major = LP_STAGE_ABI_MAJOR + 1;
  cr_assert_eq(check(&d), LP_EABI);
  cr_assert_str_eq(err, "plugins/libx.so: stage ABI 2.3, this leadpoet speaks stage ABI 1.3 (rebuild the plugin "
                        "against leadpoet/stage.h 1.3)");
}

Test(stage_desc, refuses_an_older_major) {
  lp_stage_desc d = good();
  d.abi_major = 0;
  d.abi_minor = 9;
  cr_assert_eq(check(&d), LP_EABI);
  cr_assert(strstr(err, "stage ABI 0.9, this leadpoet speaks stage ABI 1.3") != NULL, "%s", err);
}

Test(stage_desc, refuses_a_newer_minor) {
  lp_stage_desc d = good();
  d.abi_minor = LP_STAGE_ABI_MINOR + 1;
  cr_assert_eq(check(&d), LP_EABI);
  cr_assert(strstr(err, "stage ABI 1.4, this leadpoet speaks stage ABI 1.3") != NULL, "%s", err);
}

Test(stage_desc, refuses_a_descriptor_smaller_than_abi_1_0) {
  lp_stage_desc d = good();
  d.struct_size = (uint32_t)LP_STAGE_DESC_MIN_SIZE - 8;
  cr_assert_eq(check(&d), LP_EABI);
  cr_assert(strstr(err, "plugins/libx.so") != NULL && strstr(err, "smaller") != NULL, "%s", err);
  cr_assert(strstr(err, "stage ABI 1.0 descriptor") != NULL, "names the 1.0 minimum: %s", err);
  cr_assert(strstr(err, "this leadpoet speaks stage ABI 1.3") != NULL, "%s", err);
}

Test(stage_desc, accepts_the_minimum_size) {
  lp_stage_desc d = good();
  d.struct_size = (uint32_t)LP_STAGE_DESC_MIN_SIZE;
  cr_assert_eq(check(&d), LP_OK, "%s", err);
}

/* The version fields are read before anything else: a bad major with garbage after it is still a clean
 * ABI refusal, not a crash on a bad name pointer. */
Test(stage_desc, reads_versions_before_anything_else) {
  union { lp_stage_desc d; unsigned char raw[sizeof(lp_stage_desc)]; } u;
  memset(u.raw, 0xA5, sizeof(u.raw));
  u.d.abi_major = 7;
  u.d.abi_minor = 3;
  cr_assert_eq(check(&u.d), LP_EABI);
  cr_assert(strstr(err, "stage ABI 7.3") != NULL, "%s", err);
}

Test(stage_desc, refuses_null) {
  cr_assert_eq(check(NULL), LP_EINVAL);
  cr_assert(strstr(err, "lp_stage_entry") != NULL, "%s", err);
}

Test(stage_desc, refuses_bad_names) {
  const char *bad[] = { "", "Upper", "with-dash", "dot.ted", "sp ace", "abcdefghijklmnopqrstuvwxyz0123456" };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    lp_stage_desc d = good();
    d.name = bad[i];
    cr_assert_eq(check(&d), LP_EINVAL, "%s", bad[i]);
    cr_assert(strstr(err, "[a-z0-9_]") != NULL && strstr(err, bad[i]) != NULL, "%s", err);
  }
  lp_stage_desc d = good();
  d.name = NULL;
  cr_assert_eq(check(&d), LP_EINVAL);
}

Test(stage_desc, accepts_a_32_character_name) {
  lp_stage_desc d = good();
  d.name = "abcdefghijklmnopqrstuvwxyz_01234";
  cr_assert_eq(check(&d), LP_OK, "%s", err);
}

Test(stage_desc, requires_init_and_on_snippet) {
  lp_stage_desc d = good();
  d.init = NULL;
  cr_assert_eq(check(&d), LP_EINVAL);
  cr_assert(strstr(err, "no init callback") != NULL && strstr(err, "good_1") != NULL, "%s", err);
  d = good();
  d.on_snippet = NULL;
  cr_assert_eq(check(&d), LP_EINVAL);
  cr_assert(strstr(err, "no on_snippet callback") != NULL, "%s", err);
}

Test(stage_desc, save_and_load_come_as_a_pair) {
  lp_stage_desc d = good();
  d.save = ok_save;
  cr_assert_eq(check(&d), LP_EINVAL);
  cr_assert(strstr(err, "save without load") != NULL, "%s", err);
  d = good();
  d.load = ok_load;
  cr_assert_eq(check(&d), LP_EINVAL);
  cr_assert(strstr(err, "load without save") != NULL, "%s", err);
  d.save = ok_save;
  cr_assert_eq(check(&d), LP_OK, "%s", err);
}

Test(stage_desc, config_keys_need_a_size) {
  static const lp_conf_key keys[] = { { "x", LP_CONF_INT, "1", 1, 0, 0, "x" }, { NULL, 0, NULL, 0, 0, 0, NULL } };
  lp_stage_desc d = good();
  d.conf_keys = keys;
  cr_assert_eq(check(&d), LP_EINVAL);
  cr_assert(strstr(err, "conf_size") != NULL, "%s", err);
  d.conf_size = sizeof(int64_t);
  cr_assert_eq(check(&d), LP_OK, "%s", err);
}

Test(stage_desc, missing_plugin_file_names_the_path) {
  const lp_stage_desc *d = (const lp_stage_desc *)1;
  void *h = (void *)1;
  int rc = lp_stage_open_plugin("/nonexistent/libnope.so", &d, &h, err, sizeof(err));
  cr_assert_eq(rc, LP_EIO);
  cr_assert_null(d);
  cr_assert_null(h);
  cr_assert(strstr(err, "/nonexistent/libnope.so") != NULL, "%s", err);
}

Test(stage_desc, host_api_declares_its_version) {
  const lp_host_api *h = lp_stage_host_api();
  cr_assert_eq(h->abi_major, LP_STAGE_ABI_MAJOR);
  cr_assert_eq(h->abi_minor, LP_STAGE_ABI_MINOR);
  cr_assert_eq(h->struct_size, sizeof(lp_host_api));
  cr_assert(h->log && h->malloc && h->calloc && h->realloc && h->free && h->counter && h->counter_add &&
            h->now_ms && h->query_boost && h->query_exclude && h->miner_reputation);
  for (size_t i = 0; i < sizeof(h->reserved) / sizeof(h->reserved[0]); i++) cr_assert_null(h->reserved[i]);
}

static int ok_save_global(void *s, lp_writer *w) { return LP_OK; }
static int ok_load_global(void *s, const void *d, size_t n) { return LP_OK; }

Test(stage_desc, save_global_and_load_global_come_as_a_pair) {
  lp_stage_desc d = good();
  d.save_global = ok_save_global;
  cr_assert_eq(check(&d), LP_EINVAL);
  cr_assert(strstr(err, "save_global without load_global") != NULL && strstr(err, "good_1") != NULL, "%s", err);
  d = good();
  d.load_global = ok_load_global;
  cr_assert_eq(check(&d), LP_EINVAL);
  cr_assert(strstr(err, "load_global without save_global") != NULL, "%s", err);
  d.save_global = ok_save_global;
  cr_assert_eq(check(&d), LP_OK, "%s", err);
}

/* A 1.0 descriptor has the same size, but what 1.1 calls save_global is one of its reserved slots: the
 * pair rule is not applied to bytes that are not callbacks. */
Test(stage_desc, a_1_0_descriptor_is_not_checked_for_1_1_fields) {
  lp_stage_desc d = good();
  d.abi_minor = 0;
  memset((char *)&d + LP_STAGE_DESC_MIN_SIZE, 0x5A, sizeof(d) - LP_STAGE_DESC_MIN_SIZE);
  cr_assert_eq(check(&d), LP_OK, "%s", err);
}
