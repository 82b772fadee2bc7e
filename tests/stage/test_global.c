/* The ABI 1.1 global callbacks through the registry, with stages defined here and injected: admission in
 * order with the drop short-circuit, errors and the global quarantine, latency sampling, the global state
 * map, miner descriptions, and host->miner_reputation with and without a source. */
#include <criterion/criterion.h>
#include <string.h>

#include "stage/registry.h"

static lp_config cfg;
static lp_metrics *metrics;
static char err[512];
static char trace[128];
static int fail_admit;       /* "g2" fails while set */
static const lp_host_api *host;
static char g1_state[32] = "";  /* what g1 saves and loads */

static void mark(const char *s) { strncat(trace, s, sizeof(trace) - strlen(trace) - 1); }

static int init_ok(const lp_host_api *h, const void *conf, void **st, char *e, size_t es) {
  host = h;
  *st = g1_state;
  return LP_OK;
}
static int pass(void *s, const lp_snippet *sn, lp_verdict *v) { return LP_STAGE_CONTINUE; }

static int g1_admit(void *s, const lp_snippet *sn, lp_verdict *v) {
  mark("1");
  if (sn->miner.len == 4 && memcmp(sn->miner.ptr, "spam", 4) == 0) {
    v->code = "g1_spam";
    return LP_STAGE_DROP;
  }
  if (sn->miner.len == 6 && memcmp(sn->miner.ptr, "nocode", 6) == 0) return LP_STAGE_DROP;
  return LP_STAGE_CONTINUE;
}
static int g1_outcome(void *s, const lp_outcome *o, lp_verdict *v) {
  mark("O");
  return o->event == LP_EVENT_SPAM ? LP_STAGE_DROP : LP_STAGE_CONTINUE;
}
static int g1_save(void *s, lp_writer *w) { return w->write(w, s, strlen(s)); }
static int g1_load(void *s, const void *d, size_t n) {
  if (n >= sizeof(g1_state)) return LP_EINVAL;
  memcpy(s, d, n);
  ((char *)s)[n] = '\0';
  return LP_OK;
}
static int g1_describe(void *s, lp_str miner, lp_writer *w) {
  if (miner.len == 7 && memcmp(miner.ptr, "unknown", 7) == 0) return LP_OK;  /* nothing to say */
  return w->write(w, "{\"n\":1}", 7);
}
static int g2_admit(void *s, const lp_snippet *sn, lp_verdict *v) {
  mark("2");
  v->code = "set_before_failing";
  return fail_admit ? LP_EIO : LP_STAGE_CONTINUE;
}
static int g2_describe(void *s, lp_str miner, lp_writer *w) { return w->write(w, "not json", 8); }
static int g3_admit(void *s, const lp_snippet *sn, lp_verdict *v) {
  mark("3");
  return LP_STAGE_CONTINUE;
}

static const lp_stage_desc d_g1 = { LP_STAGE_DESC_HEADER, .name = "g1", .init = init_ok, .on_snippet = pass,
                                    .on_admit = g1_admit, .on_admit_outcome = g1_outcome,
                                    .save_global = g1_save, .load_global = g1_load,
                                    .describe_miner = g1_describe };
static const lp_stage_desc d_g2 = { LP_STAGE_DESC_HEADER, .name = "g2", .init = init_ok, .on_snippet = pass,
                                    .on_admit = g2_admit, .describe_miner = g2_describe };
static const lp_stage_desc d_g3 = { LP_STAGE_DESC_HEADER, .name = "g3", .init = init_ok, .on_snippet = pass,
                                    .on_admit = g3_admit };
static const lp_stage_desc d_plain = { LP_STAGE_DESC_HEADER, .name = "plain", .init = init_ok, .on_snippet = pass };

static lp_stages *load(const char *order) {
  static const lp_stage_desc *const all[] = { &d_g1, &d_g2, &d_g3, &d_plain };
  char text[256];
  snprintf(text, sizeof(text), "[stages]\norder = %s\n", order);
  cr_assert_eq(lp_config_load_string(&cfg, text, "test.conf", err, sizeof(err)), LP_OK, "%s", err);
  lp_stages *st;
  cr_assert_eq(lp_stages_load_descs(&st, &cfg, metrics, all, 4, err, sizeof(err)), LP_OK, "%s", err);
  return st;
}

static lp_snippet snippet(const char *miner) {
  lp_snippet s;
  memset(&s, 0, sizeof(s));
  s.miner = (lp_str){ miner, strlen(miner) };
  return s;
}

static void setup(void) {
  memset(&cfg, 0, sizeof(cfg));
  cr_assert_eq(lp_metrics_new(&metrics, 100), LP_OK);
  trace[0] = '\0';
  fail_admit = 0;
  strcpy(g1_state, "fresh");
}
static void teardown(void) {
  lp_stages_set_reputation_fn(NULL);
  lp_config_free(&cfg);
  lp_metrics_free(metrics);
}

TestSuite(stage_global, .init = setup, .fini = teardown);

static uint64_t stage_errors(const char *stage) {
  static const char *const labels[] = { "stage" };
  lp_metric_family *f = lp_metrics_family(metrics, LP_METRIC_COUNTER, "leadpoet_stage_errors_total",
                                          "Stage callbacks that returned an error.", labels, 1, NULL, 0);
  const char *v[] = { stage };
  return lp_counter_value(lp_metrics_series(f, v));
}

Test(stage_global, admit_runs_in_order_and_stops_at_the_first_drop) {
  lp_stages *st = load("plain, g1, g2, g3");
  lp_snippet s = snippet("honest");
  lp_verdict v;
  cr_assert_eq(lp_stages_admit(st, &s, &v), LP_STAGE_CONTINUE);
  cr_assert_str_eq(trace, "123");
  cr_assert_null(v.code, "a passing snippet carries no code");
  trace[0] = '\0';
  s = snippet("spam");
  cr_assert_eq(lp_stages_admit(st, &s, &v), LP_STAGE_DROP);
  cr_assert_str_eq(trace, "1", "stages after the drop are not called");
  cr_assert_str_eq(v.code, "g1_spam");
  s = snippet("nocode");
  cr_assert_eq(lp_stages_admit(st, &s, &v), LP_STAGE_DROP);
  cr_assert_str_eq(v.code, "g1", "without a code, the stage's name");
  lp_stages_free(st);
}

Test(stage_global, admit_outcome_runs_the_stages_that_have_it) {
  lp_stages *st = load("g2, g1");
  lp_outcome o;
  memset(&o, 0, sizeof(o));
  lp_verdict v;
  o.event = LP_EVENT_REPLIED;
  cr_assert_eq(lp_stages_admit_outcome(st, &o, &v), LP_STAGE_CONTINUE);
  o.event = LP_EVENT_SPAM;
  cr_assert_eq(lp_stages_admit_outcome(st, &o, &v), LP_STAGE_DROP);
  cr_assert_str_eq(trace, "OO");
  cr_assert_str_eq(v.code, "g1");
  lp_stages_free(st);
}

Test(stage_global, an_error_is_counted_and_quarantine_is_global) {
  lp_stages *st = load("g2, g3\nquarantine_after = 3");
  lp_snippet s = snippet("m");
  lp_verdict v;
  fail_admit = 1;
  cr_assert_eq(lp_stages_admit(st, &s, &v), LP_STAGE_CONTINUE, "an error does not drop");
  cr_assert_null(v.code, "the failing stage's code is not kept");
  cr_assert_str_eq(trace, "23", "the snippet goes on to the next stage");
  cr_assert_eq(stage_errors("g2"), 1);
  fail_admit = 0;
  lp_stages_admit(st, &s, &v);  /* a success restarts the run */
  fail_admit = 1;
  lp_stages_admit(st, &s, &v);
  lp_stages_admit(st, &s, &v);
  cr_assert_not(lp_stages_global_quarantined(st, 0));
  lp_stages_admit(st, &s, &v);
  cr_assert(lp_stages_global_quarantined(st, 0), "3 in a row");
  cr_assert_eq(stage_errors("g2"), 4);
  trace[0] = '\0';
  s.shard = 5;  /* another shard: the same quarantine */
  lp_stages_admit(st, &s, &v);
  cr_assert_str_eq(trace, "3", "skipped for every event");
  cr_assert_not(lp_stages_global_quarantined(st, 1));
  lp_stages_free(st);
}

Test(stage_global, latency_is_sampled) {
  lp_stages *st = load("g3");
  lp_snippet s = snippet("m");
  lp_verdict v;
  for (int i = 0; i < 2 * LP_STAGE_LATENCY_SAMPLE; i++) lp_stages_admit(st, &s, &v);
  static const char *const labels[] = { "stage" };
  lp_metric_family *f = lp_metrics_family(metrics, LP_METRIC_HISTOGRAM, "leadpoet_pipeline_latency_seconds",
                                          "Time spent in each stage per event (sampled).", labels, 1,
                                          lp_metrics_latency_buckets, lp_metrics_latency_buckets_n);
  const char *g3[] = { "g3" };
  cr_assert_eq(lp_histogram_count(lp_metrics_series(f, g3)), 2);
  lp_stages_free(st);
}

Test(stage_global, global_state_round_trips_through_the_map) {
  lp_stages *st = load("g1, g2");
  strcpy(g1_state, "counted=42");
  lp_buf out = LP_BUF_INIT;
  cr_assert_eq(lp_stages_save_global(st, &out), LP_OK);
  strcpy(g1_state, "fresh");
  cr_assert_eq(lp_stages_load_global(st, out.data, out.len, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_str_eq(g1_state, "counted=42");
  lp_buf_free(&out);
  lp_stages_free(st);
}

Test(stage_global, corrupt_global_state_is_refused_before_any_stage_sees_it) {
  lp_stages *st = load("g1");
  cr_assert_eq(lp_stages_load_global(st, "\x81\xa2g1", 4, err, sizeof(err)), LP_EINVAL, "truncated");
  cr_assert(strstr(err, "truncated") != NULL, "%s", err);
  cr_assert_eq(lp_stages_load_global(st, "\x81\xa2g1\x01", 5, err, sizeof(err)), LP_EINVAL, "not bin");
  cr_assert_eq(lp_stages_load_global(st, NULL, 0, err, sizeof(err)), LP_EINVAL);
  cr_assert_str_eq(g1_state, "fresh");
  /* a stage's own refusal is returned with its name */
  char big[64] = "\x81\xa2g1\xc4\x28";
  memset(big + 6, 'x', 40);
  cr_assert_eq(lp_stages_load_global(st, big, 46, err, sizeof(err)), LP_EINVAL);
  cr_assert(strstr(err, "'g1'") != NULL && strstr(err, "global") != NULL, "%s", err);
  /* an unknown stage's entry is skipped */
  cr_assert_eq(lp_stages_load_global(st, "\x81\xa4gone\xc4\x01z", 9, err, sizeof(err)), LP_OK, "%s", err);
  lp_stages_free(st);
}

Test(stage_global, describe_miner_concatenates_each_stage_object) {
  lp_stages *st = load("g1, plain, g2");
  lp_buf out = LP_BUF_INIT;
  cr_assert_eq(lp_stages_describe_miner(st, LP_STR_LIT("m1"), &out), LP_OK);
  cr_assert_eq(out.len, strlen(",\"g1\":{\"n\":1}"));
  cr_assert(memcmp(out.data, ",\"g1\":{\"n\":1}", out.len) == 0, "%.*s", (int)out.len, out.data);
  cr_assert_eq(stage_errors("g2"), 1, "g2 wrote something that is not an object");
  lp_buf_reset(&out);
  cr_assert_eq(lp_stages_describe_miner(st, LP_STR_LIT("unknown"), &out), LP_OK);
  cr_assert_eq(out.len, 0, "a stage that writes nothing is left out");
  lp_buf_free(&out);
  lp_stages_free(st);
}

static int rep_fn(lp_str miner, double *mean, double *low, double *high) {
  if (miner.len == 3 && memcmp(miner.ptr, "bad", 3) == 0) {
    *mean = 1.5;  /* out of range: the stage must get the prior */
    *low = 0;
    *high = 2;
    return LP_OK;
  }
  if (miner.len == 4 && memcmp(miner.ptr, "fail", 4) == 0) return LP_EIO;
  *mean = 0.9;
  *low = 0.85;
  *high = 0.95;
  return LP_OK;
}

Test(stage_global, miner_reputation_is_the_prior_until_a_source_is_set) {
  lp_stages *st = load("g1");
  double m, lo, hi;
  cr_assert_eq(host->miner_reputation(LP_STR_LIT("new"), &m, &lo, &hi), LP_OK);
  cr_assert_float_eq(m, 0.5, 1e-12);
  cr_assert_float_eq(lo, 0.025, 1e-12);
  cr_assert_float_eq(hi, 0.975, 1e-12);
  lp_stages_set_reputation_fn(rep_fn);
  cr_assert_eq(host->miner_reputation(LP_STR_LIT("good"), &m, &lo, &hi), LP_OK);
  cr_assert_float_eq(m, 0.9, 1e-12);
  cr_assert_eq(host->miner_reputation(LP_STR_LIT("bad"), &m, &lo, &hi), LP_ERANGE);
  cr_assert_float_eq(m, 0.5, 1e-12, "an answer out of range reads as the prior");
  cr_assert_eq(host->miner_reputation(LP_STR_LIT("fail"), &m, &lo, &hi), LP_EIO);
  cr_assert_float_eq(hi, 0.975, 1e-12);
  cr_assert_eq(host->miner_reputation(LP_STR_LIT("good"), NULL, &lo, &hi), LP_EINVAL);
  lp_stages_set_reputation_fn(NULL);
  cr_assert_eq(host->miner_reputation(LP_STR_LIT("good"), &m, &lo, &hi), LP_OK);
  cr_assert_float_eq(m, 0.5, 1e-12, "NULL restores the prior");
  lp_stages_free(st);
}
