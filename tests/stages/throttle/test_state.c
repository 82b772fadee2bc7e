/* The throttle's global state: save_global / load_global round trip through the registry's map, and
 * corrupt, truncated or newer input refused with the current state kept. */
#include "base/alloc.h"
#include "fixture.h"

TestSuite(throttle_state, .init = fx_setup, .fini = fx_teardown);

static const char *const posting =
  "Acme Corp is hiring a Senior Platform Engineer in Berlin to lead the migration of our billing services "
  "from Heroku to Kubernetes on AWS, with Terraform for infrastructure and Datadog for monitoring.";

static lp_stages *second_instance(lp_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  cr_assert_eq(lp_config_load_string(cfg, "[stages]\norder = throttle\n[stage.throttle]\nburst = 3\nflag_min_seen = 2\n",
                                     "b.conf", fx_err, sizeof(fx_err)), LP_OK, "%s", fx_err);
  lp_stages *st;
  cr_assert_eq(lp_stages_load(&st, cfg, fx_metrics, fx_err, sizeof(fx_err)), LP_OK, "%s", fx_err);
  return st;
}

static void fill(void) {
  fx_load("burst = 3\nflag_min_seen = 2\n");
  CODE_EQ(fx_admit("alice", "1", T0, posting), NULL);
  CODE_EQ(fx_admit("alice", "2", T0, "update number 2"), NULL);
  CODE_EQ(fx_admit("spammer", "1", T0, "kubernetes kubernetes kubernetes kubernetes kubernetes hiring now ok"), "keyword_stuffing");
  CODE_EQ(fx_admit("spammer", "2", T0, "update number 3"), NULL);  /* 1 / 2 > 0.3: throttled from here */
}

Test(throttle_state, save_and_load_round_trip) {
  fill();
  lp_buf saved = LP_BUF_INIT;
  cr_assert_eq(lp_stages_save_global(fx_st, &saved), LP_OK);
  lp_config cfg2;
  lp_stages *st2 = second_instance(&cfg2);
  cr_assert_eq(lp_stages_load_global(st2, saved.data, saved.len, fx_err, sizeof(fx_err)), LP_OK, "%s", fx_err);
  const char *names[] = { "alice", "spammer" };
  for (int i = 0; i < 2; i++) {
    char a[512];
    snprintf(a, sizeof(a), "%s", fx_describe(fx_st, names[i]));
    cr_assert_str_eq(fx_describe(st2, names[i]), a, "%s", names[i]);
  }
  /* the same decisions after the restore: alice has one token left, the text is known, spammer throttled */
  CODE_EQ(fx_admit_in(st2, "bob", "1", T0 + 1, posting), "near_duplicate");
  CODE_EQ(fx_admit_in(st2, "spammer", "3", T0 + 1, "update number 4"), "throttled");
  CODE_EQ(fx_admit_in(st2, "alice", "3", T0, "update number 5"), NULL);
  CODE_EQ(fx_admit_in(st2, "alice", "4", T0, "update number 6"), "throttled");
  lp_stages_free(st2);
  lp_config_free(&cfg2);
  lp_buf_free(&saved);
}

/* Saves the stage alone (its own bytes, outside the registry's map) and hands them to load_global. */
static int load_raw(lp_stages *st, const unsigned char *d, size_t n) {
  lp_buf map = LP_BUF_INIT;
  unsigned char hdr[] = { 0x81, 0xa8, 't', 'h', 'r', 'o', 't', 't', 'l', 'e', 0xc6, 0, 0, 0, 0 };
  hdr[11] = (unsigned char)(n >> 24);
  hdr[12] = (unsigned char)(n >> 16);
  hdr[13] = (unsigned char)(n >> 8);
  hdr[14] = (unsigned char)n;
  lp_buf_append(&map, hdr, sizeof(hdr));
  lp_buf_append(&map, d, n);
  int rc = lp_stages_load_global(st, map.data, map.len, fx_err, sizeof(fx_err));
  lp_buf_free(&map);
  return rc;
}


Test(throttle_state, corrupt_truncated_and_newer_input_is_refused) {
  fill();
  lp_buf saved = LP_BUF_INIT;
  cr_assert_eq(lp_stages_save_global(fx_st, &saved), LP_OK);
  cr_assert_gt(saved.len, 15);
  /* the stage's bytes start after the map header and the bin header of the registry's map */
  const unsigned char *raw = (const unsigned char *)saved.data + 13;  /* 0x81, fixstr 1 + 8, bin16 1 + 2 */
  size_t n = saved.len - 13;
  cr_assert_eq((unsigned char)saved.data[10], 0xc5, "bin 16");
  cr_assert(memcmp(raw, "LPTH", 4) == 0);
  unsigned char *copy = lp_malloc(n);
  lp_config cfg2;
  lp_stages *st2 = second_instance(&cfg2);
  CODE_EQ(fx_admit_in(st2, "alice", "9", T0, posting), NULL);  /* state of its own, to be kept */

  memcpy(copy, raw, n);
  copy[n / 2] ^= 0x40;
  cr_assert_eq(load_raw(st2, copy, n), LP_EINVAL, "a flipped bit");
  cr_assert(strstr(fx_err, "'throttle'") != NULL, "%s", fx_err);
  cr_assert_eq(load_raw(st2, raw, n - 9), LP_EINVAL, "truncated");
  cr_assert_eq(load_raw(st2, raw, 10), LP_EINVAL, "shorter than the header");
  memcpy(copy, raw, n);
  copy[4] = 2;  /* version 2 */
  cr_assert_eq(load_raw(st2, copy, n), LP_EINVAL, "a newer version");
  memcpy(copy, raw, n);
  copy[0] = 'X';
  cr_assert_eq(load_raw(st2, copy, n), LP_EINVAL, "no magic");
  CODE_EQ(fx_admit_in(st2, "bob", "1", T0, posting), "near_duplicate", "the current state was kept");
  cr_assert_eq(load_raw(st2, raw, n), LP_OK, "%s", fx_err);
  lp_free(copy);
  lp_stages_free(st2);
  lp_config_free(&cfg2);
  lp_buf_free(&saved);
}

Test(throttle_state, a_smaller_configuration_keeps_the_newest_miners) {
  fx_load("max_miners = 32\n");
  char m[32];
  for (int i = 0; i < 32; i++) {
    snprintf(m, sizeof(m), "m%d", i);
    fx_admit(m, "1", T0 + i, "update number 1");
  }
  lp_buf saved = LP_BUF_INIT;
  cr_assert_eq(lp_stages_save_global(fx_st, &saved), LP_OK);
  lp_config cfg2;
  memset(&cfg2, 0, sizeof(cfg2));
  cr_assert_eq(lp_config_load_string(&cfg2, "[stages]\norder = throttle\n[stage.throttle]\nmax_miners = 16\n",
                                     "b.conf", fx_err, sizeof(fx_err)), LP_OK);
  lp_stages *st2;
  cr_assert_eq(lp_stages_load(&st2, &cfg2, fx_metrics, fx_err, sizeof(fx_err)), LP_OK, "%s", fx_err);
  cr_assert_eq(lp_stages_load_global(st2, saved.data, saved.len, fx_err, sizeof(fx_err)), LP_OK, "%s", fx_err);
  cr_assert_str_eq(fx_describe(st2, "m15"), "");
  cr_assert_str_neq(fx_describe(st2, "m16"), "");
  cr_assert_str_neq(fx_describe(st2, "m31"), "");
  lp_stages_free(st2);
  lp_config_free(&cfg2);
  lp_buf_free(&saved);
}
