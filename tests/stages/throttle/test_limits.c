/* The throttle's limits in event time: token buckets (burst, refill, reputation scaling), the quality rule,
 * the seed's flag-rate rule with its 24 h expiry, bounded memory with many miners, describe_miner. */
#include <jansson.h>
#include <math.h>

#include "fixture.h"

TestSuite(throttle_limits, .init = fx_setup, .fini = fx_teardown);

Test(throttle_limits, burst_then_refill_in_event_time) {
  fx_load("rate = 1\nburst = 5\n");
  for (int i = 0; i < 5; i++) CODE_EQ(fx_admit("m", fx_short(i), T0, fx_short(i)), NULL);
  CODE_EQ(fx_admit("m", "x5", T0, fx_short(5)), "throttled");
  CODE_EQ(fx_admit("m", "x6", T0 + 999, fx_short(6)), "throttled");
  CODE_EQ(fx_admit("m", "x7", T0 + 1000, fx_short(7)), NULL);  /* one token after 1 s of event time */
  CODE_EQ(fx_admit("m", "x8", T0 + 1000, fx_short(8)), "throttled");
  /* an event older than the last one refills nothing */
  CODE_EQ(fx_admit("m", "x9", T0 - 60000, fx_short(9)), "throttled");
  /* 2.5 s later: 2.5 tokens, two snippets */
  CODE_EQ(fx_admit("m", "x10", T0 + 3500, fx_short(10)), NULL);
  CODE_EQ(fx_admit("m", "x11", T0 + 3500, fx_short(11)), NULL);
  CODE_EQ(fx_admit("m", "x12", T0 + 3500, fx_short(12)), "throttled");
  /* a long pause fills the bucket to the burst, no more */
  for (int i = 0; i < 5; i++) CODE_EQ(fx_admit("m", fx_short(100 + i), T0 + 10 * HOUR, fx_short(100 + i)), NULL);
  CODE_EQ(fx_admit("m", "x13", T0 + 10 * HOUR, fx_short(13)), "throttled");
  CODE_EQ(fx_admit("other", "y", T0, fx_short(1)), NULL, "buckets are per miner");
}

static int rep_good(lp_str m, double *mean, double *lo, double *hi) {
  if (m.len == 4 && memcmp(m.ptr, "good", 4) == 0) *mean = 1.0, *lo = 0.95, *hi = 1.0;
  else if (m.len == 3 && memcmp(m.ptr, "low", 3) == 0) *mean = 0.0, *lo = 0.0, *hi = 0.9;  /* too few outcomes */
  else if (m.len == 3 && memcmp(m.ptr, "bad", 3) == 0) *mean = 0.3, *lo = 0.2, *hi = 0.4;
  else *mean = 0.5, *lo = 0.025, *hi = 0.975;
  return LP_OK;
}

Test(throttle_limits, reputation_scales_rate_and_burst) {
  lp_stages_set_reputation_fn(rep_good);
  fx_load("rate = 1\nburst = 8\n");
  int passed = 0;
  for (int i = 0; i < 20; i++) passed += fx_admit("good", fx_short(i), T0, fx_short(i)) == NULL;
  cr_assert_eq(passed, 14, "8 x (0.25 + 1.5 x 1.0) = 14");
  passed = 0;
  for (int i = 0; i < 20; i++) passed += fx_admit("low", fx_short(i), T0, fx_short(i)) == NULL;
  cr_assert_eq(passed, 2, "8 x 0.25 = 2, and the quality rule waits for a narrow interval");
  /* the refill is scaled too: 0.25 snippets/s for "low" */
  CODE_EQ(fx_admit("low", "r1", T0 + 3999, fx_short(50)), "throttled");
  CODE_EQ(fx_admit("low", "r2", T0 + 4000, fx_short(51)), NULL);
}

Test(throttle_limits, low_quality_throttles_for_24h_of_event_time) {
  lp_stages_set_reputation_fn(rep_good);
  fx_load("");
  CODE_EQ(fx_admit("bad", "1", T0, fx_short(1)), "throttled");
  cr_assert(strstr(fx_v.message, "reputation") != NULL, "%s", fx_v.message);
  lp_stages_set_reputation_fn(NULL);  /* its reputation recovers: the throttle still runs its course */
  CODE_EQ(fx_admit("bad", "2", T0 + 24 * HOUR - 1, fx_short(2)), "throttled");
  CODE_EQ(fx_admit("bad", "3", T0 + 24 * HOUR, fx_short(3)), NULL);
}

static const char *stuffed(int n) {
  static char buf[128];
  snprintf(buf, sizeof(buf), "kubernetes kubernetes kubernetes kubernetes hiring kubernetes engineers %d", n);
  return buf;
}

Test(throttle_limits, flag_rate_over_0_3_throttles_for_24h) {
  fx_load("flag_min_seen = 10\n");
  for (int i = 0; i < 6; i++) CODE_EQ(fx_admit("m", fx_short(i), T0 + i, fx_short(i)), NULL);
  for (int i = 0; i < 3; i++) CODE_EQ(fx_admit("m", stuffed(i), T0 + 10 + i, stuffed(i)), "keyword_stuffing");
  CODE_EQ(fx_admit("m", "h7", T0 + 20, fx_short(7)), NULL, "9 seen: under the minimum sample");
  CODE_EQ(fx_admit("m", stuffed(3), T0 + 21, stuffed(3)), "keyword_stuffing");  /* 4 / 11 > 0.3 */
  CODE_EQ(fx_admit("m", "h8", T0 + 22, fx_short(8)), "throttled");
  CODE_EQ(fx_admit("m", "h9", T0 + 21 + 24 * HOUR - 1, fx_short(9)), "throttled");
  CODE_EQ(fx_admit("m", "h10", T0 + 21 + 24 * HOUR, fx_short(10)), NULL, "24 h of event time later");
}

Test(throttle_limits, flag_rate_of_exactly_0_3_is_not_over) {
  fx_load("flag_min_seen = 10\n");
  for (int i = 0; i < 7; i++) CODE_EQ(fx_admit("m", fx_short(i), T0 + i, fx_short(i)), NULL);
  for (int i = 0; i < 3; i++) CODE_EQ(fx_admit("m", stuffed(i), T0 + 10 + i, stuffed(i)), "keyword_stuffing");
  CODE_EQ(fx_admit("m", "h", T0 + 20, fx_short(20)), NULL, "3 / 10 is not above 0.3");
}

Test(throttle_limits, flags_leave_the_window) {
  fx_load("flag_min_seen = 4\nflag_window = 8h\n");
  for (int i = 0; i < 3; i++) CODE_EQ(fx_admit("m", stuffed(i), T0 + i, stuffed(i)), "keyword_stuffing");
  /* 9 h later the 3 flags are out of the 8 h window: 1 seen, 0 flagged, not throttled */
  for (int i = 0; i < 4; i++) CODE_EQ(fx_admit("m", fx_short(i), T0 + 9 * HOUR + i, fx_short(i)), NULL);
  cr_assert(strstr(fx_describe(fx_st, "m"), "\"seen\":4,\"flagged\":0") != NULL, "%s", fx_describe(fx_st, "m"));
}

Test(throttle_limits, memory_is_bounded_with_many_miners) {
  fx_load("max_miners = 16\nburst = 1\n");
  char miner[32];
  for (int i = 0; i < 2000; i++) {
    snprintf(miner, sizeof(miner), "miner-%d", i);
    CODE_EQ(fx_admit(miner, "1", T0, fx_short(i)), NULL);
  }
  cr_assert_str_eq(fx_describe(fx_st, "miner-0"), "", "the least recently seen miners are forgotten");
  cr_assert_str_neq(fx_describe(fx_st, "miner-1999"), "");
  cr_assert_str_neq(fx_describe(fx_st, "miner-1984"), "");
  cr_assert_str_eq(fx_describe(fx_st, "miner-1983"), "", "16 kept");
  /* a forgotten miner starts again with a full bucket; a kept one is still empty */
  CODE_EQ(fx_admit("miner-0", "2", T0, fx_short(1)), NULL);
  CODE_EQ(fx_admit("miner-1999", "2", T0, fx_short(1)), "throttled");
}

Test(throttle_limits, describe_miner_writes_its_state_as_json) {
  fx_load("rate = 2\nburst = 10\nflag_min_seen = 2\n");
  cr_assert_str_eq(fx_describe(fx_st, "nobody"), "", "nothing for a miner never seen");
  fx_admit("m", "1", T0, fx_short(1));
  fx_admit("m", "2", T0, stuffed(1));
  const char *d = fx_describe(fx_st, "m");
  cr_assert(strncmp(d, ",\"throttle\":", 12) == 0, "%s", d);
  json_error_t je;
  json_t *o = json_loads(d + 12, 0, &je);
  cr_assert_not_null(o, "%s: %s", d, je.text);
  cr_assert_float_eq(json_number_value(json_object_get(o, "rate")), 2.0, 1e-9);
  cr_assert_float_eq(json_number_value(json_object_get(o, "burst")), 10.0, 1e-9);
  cr_assert_float_eq(json_number_value(json_object_get(o, "tokens")), 8.0, 1e-9);
  cr_assert_eq(json_integer_value(json_object_get(o, "seen")), 2);
  cr_assert_eq(json_integer_value(json_object_get(o, "flagged")), 1);
  cr_assert_float_eq(json_number_value(json_object_get(o, "flag_rate")), 0.5, 1e-9);
  cr_assert_eq(json_integer_value(json_object_get(o, "throttled_until")), T0 + 24 * HOUR, "1/2 > 0.3");
  json_decref(o);
  fx_admit("n", "1", T0, fx_short(1));
  o = json_loads(fx_describe(fx_st, "n") + 12, 0, &je);
  cr_assert_not_null(o);
  cr_assert(json_is_null(json_object_get(o, "throttled_until")));
  json_decref(o);
}

static uint64_t drops(const char *code) {
  static const char *const labels[] = { "stage", "label" };
  lp_metric_family *f = lp_metrics_family(fx_metrics, LP_METRIC_COUNTER, "leadpoet_stage_drops_total",
                                          "Snippets the throttle stage dropped, by code.", labels, 2, NULL, 0);
  cr_assert_not_null(f);
  const char *v[] = { "throttle", code };
  return lp_counter_value(lp_metrics_series(f, v));
}

Test(throttle_limits, every_drop_is_counted_by_code) {
  fx_load("burst = 1\n");
  fx_admit("m", "1", T0, fx_short(1));
  fx_admit("m", "2", T0, fx_short(2));
  fx_admit("n", "1", T0, stuffed(1));
  cr_assert_eq(drops("throttled"), 1);
  cr_assert_eq(drops("keyword_stuffing"), 1);
  cr_assert_eq(drops("near_duplicate"), 0);
}

Test(throttle_limits, config_is_checked_against_its_bounds) {
  char text[256];
  snprintf(text, sizeof(text), "[stages]\norder = throttle\n[stage.throttle]\nnear_dup_distance = 4\n");
  cr_assert_eq(lp_config_load_string(&fx_cfg, text, "test.conf", fx_err, sizeof(fx_err)), LP_OK, "%s", fx_err);
  cr_assert_neq(lp_stages_load(&fx_st, &fx_cfg, fx_metrics, fx_err, sizeof(fx_err)), LP_OK);
  cr_assert(strstr(fx_err, "near_dup_distance") != NULL, "%s", fx_err);
}
