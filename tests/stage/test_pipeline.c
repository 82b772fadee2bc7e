/* The per-shard pipeline with stages defined here and injected: order, drop short-circuit, shard
 * states, outcomes, ticks, queries, error counting, quarantine and latency sampling. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "stage/registry.h"

static lp_config cfg;
static lp_metrics *metrics;
static char err[512];
static char trace[256];
static int errors_left;      /* the "flaky" stage fails this many times, then passes */
static int flaky_calls, opened, closed, ticks, open_fails;

static void mark(const char *s) { strncat(trace, s, sizeof(trace) - strlen(trace) - 1); }

static int init_ok(const lp_host_api *h, const void *conf, void **st, char *e, size_t es) {
  *st = (void *)"stage-wide";
  return LP_OK;
}
static int a_snip(void *s, const lp_snippet *sn, lp_verdict *v) {
  mark("a");
  cr_assert_str_eq((const char *)s, "stage-wide", "no shard_open: the stage-wide state");
  return LP_STAGE_CONTINUE;
}
static int b_snip(void *s, const lp_snippet *sn, lp_verdict *v) {
  mark("b");
  cr_assert_eq(*(uint32_t *)s, 7u, "the shard state from shard_open");
  if (sn->domain.len == 8 && memcmp(sn->domain.ptr, "drop.com", 8) == 0) {
    v->code = "b_says_no";
    return LP_STAGE_DROP;
  }
  if (sn->domain.len == 10 && memcmp(sn->domain.ptr, "nocode.com", 10) == 0) return LP_STAGE_DROP;
  return LP_STAGE_CONTINUE;
}
static int c_snip(void *s, const lp_snippet *sn, lp_verdict *v) {
  mark("c");
  return LP_STAGE_CONTINUE;
}
static int b_open(void *stage, uint32_t shard, void **ss) {
  if (open_fails) return LP_ENOMEM;
  uint32_t *p = malloc(sizeof(*p));
  *p = shard;
  *ss = p;
  opened++;
  return LP_OK;
}
static void b_close(void *stage, void *ss) {
  free(ss);
  closed++;
}
static int b_outcome(void *s, const lp_outcome *o, lp_verdict *v) {
  mark("B");
  return LP_STAGE_CONTINUE;
}
static void c_tick(void *s, int64_t now) { ticks++; }
static int c_query(void *s, const lp_query *q, lp_query_out *out) {
  lp_query_out_boost(out, LP_STR_LIT("acme.com"), 1.5, "c_signal");
  return lp_query_out_exclude(out, LP_STR_LIT("bad.com"));
}
static int flaky_snip(void *s, const lp_snippet *sn, lp_verdict *v) {
  flaky_calls++;
  mark("f");
  if (errors_left > 0) {
    errors_left--;
    return LP_EIO;
  }
  return LP_STAGE_CONTINUE;
}
static int weird_snip(void *s, const lp_snippet *sn, lp_verdict *v) { return 5; }

static const lp_stage_desc d_a = { LP_STAGE_DESC_HEADER, .name = "a", .init = init_ok, .on_snippet = a_snip };
static const lp_stage_desc d_b = { LP_STAGE_DESC_HEADER, .name = "b", .init = init_ok, .on_snippet = b_snip,
                                   .shard_open = b_open, .shard_close = b_close, .on_outcome = b_outcome };
static const lp_stage_desc d_c = { LP_STAGE_DESC_HEADER, .name = "c", .init = init_ok, .on_snippet = c_snip,
                                   .on_tick = c_tick, .on_query = c_query };
static const lp_stage_desc d_flaky = { LP_STAGE_DESC_HEADER, .name = "flaky", .init = init_ok,
                                       .on_snippet = flaky_snip };
static const lp_stage_desc d_weird = { LP_STAGE_DESC_HEADER, .name = "weird", .init = init_ok,
                                       .on_snippet = weird_snip };

static lp_stages *load(const char *order) {
  static const lp_stage_desc *const all[] = { &d_a, &d_b, &d_c, &d_flaky, &d_weird };
  char text[256];
  snprintf(text, sizeof(text), "[stages]\norder = %s\n", order);
  cr_assert_eq(lp_config_load_string(&cfg, text, "test.conf", err, sizeof(err)), LP_OK, "%s", err);
  lp_stages *st;
  cr_assert_eq(lp_stages_load_descs(&st, &cfg, metrics, all, 5, err, sizeof(err)), LP_OK, "%s", err);
  return st;
}

static lp_snippet snippet(const char *domain) {
  lp_snippet s;
  memset(&s, 0, sizeof(s));
  s.domain = (lp_str){ domain, strlen(domain) };
  return s;
}

static void setup(void) {
  memset(&cfg, 0, sizeof(cfg));
  cr_assert_eq(lp_metrics_new(&metrics, 100), LP_OK);
  trace[0] = '\0';
}
static void teardown(void) {
  lp_config_free(&cfg);
  lp_metrics_free(metrics);
}

TestSuite(stage_pipeline, .init = setup, .fini = teardown);

static uint64_t stage_errors(const char *stage) {
  static const char *const labels[] = { "stage" };
  lp_metric_family *f = lp_metrics_family(metrics, LP_METRIC_COUNTER, "leadpoet_stage_errors_total",
                                          "Stage callbacks that returned an error.", labels, 1, NULL, 0);
  cr_assert_not_null(f);
  const char *v[] = { stage };
  return lp_counter_value(lp_metrics_series(f, v));
}

Test(stage_pipeline, runs_every_stage_in_order) {
  lp_stages *st = load("a, b, c");
  lp_stage_shard *ss;
  cr_assert_eq(lp_stage_shard_open(st, 7, &ss), LP_OK);
  cr_assert_eq(opened, 1);
  lp_snippet s = snippet("acme.com");
  lp_verdict v;
  cr_assert_eq(lp_stage_shard_snippet(ss, &s, &v), LP_STAGE_CONTINUE);
  cr_assert_str_eq(trace, "abc");
  cr_assert_null(v.code);
  lp_stage_shard_close(ss);
  cr_assert_eq(closed, 1);
  lp_stages_free(st);
}

Test(stage_pipeline, a_drop_stops_the_event_with_its_code) {
  lp_stages *st = load("a, b, c");
  lp_stage_shard *ss;
  cr_assert_eq(lp_stage_shard_open(st, 7, &ss), LP_OK);
  lp_snippet s = snippet("drop.com");
  lp_verdict v;
  cr_assert_eq(lp_stage_shard_snippet(ss, &s, &v), LP_STAGE_DROP);
  cr_assert_str_eq(trace, "ab");
  cr_assert_str_eq(v.code, "b_says_no");
  trace[0] = '\0';
  s = snippet("nocode.com");
  cr_assert_eq(lp_stage_shard_snippet(ss, &s, &v), LP_STAGE_DROP);
  cr_assert_str_eq(v.code, "b", "without a code, the stage's name");
  lp_stage_shard_close(ss);
  lp_stages_free(st);
}

Test(stage_pipeline, outcomes_skip_stages_without_on_outcome) {
  lp_stages *st = load("a, b, c");
  lp_stage_shard *ss;
  cr_assert_eq(lp_stage_shard_open(st, 7, &ss), LP_OK);
  lp_outcome o;
  memset(&o, 0, sizeof(o));
  lp_verdict v;
  cr_assert_eq(lp_stage_shard_outcome(ss, &o, &v), LP_STAGE_CONTINUE);
  cr_assert_str_eq(trace, "B");
  lp_stage_shard_tick(ss, 1000);
  cr_assert_eq(ticks, 1);
  lp_stage_shard_close(ss);
  lp_stages_free(st);
}

Test(stage_pipeline, queries_collect_the_contributions) {
  lp_stages *st = load("a, b, c");
  lp_stage_shard *ss;
  cr_assert_eq(lp_stage_shard_open(st, 7, &ss), LP_OK);
  lp_query_out out;
  cr_assert_eq(lp_query_out_init(&out, 7, 4, 4), LP_OK);
  lp_query q = { LP_STR_LIT("sell crm"), 10, 0 };
  cr_assert_eq(lp_stage_shard_query(ss, &q, &out), LP_OK);
  cr_assert_eq(lp_query_out_boost_count(&out), 1);
  cr_assert_eq(lp_query_out_exclude_count(&out), 1);
  cr_assert(lp_query_out_is_excluded(&out, LP_STR_LIT("www.bad.com")));
  lp_query_out_free(&out);
  lp_stage_shard_close(ss);
  lp_stages_free(st);
}

Test(stage_pipeline, a_failing_shard_open_closes_what_was_opened) {
  open_fails = 1;
  lp_stages *st = load("a, b, c");
  lp_stage_shard *ss = (lp_stage_shard *)1;
  cr_assert_eq(lp_stage_shard_open(st, 7, &ss), LP_ENOMEM);
  cr_assert_null(ss);
  cr_assert_eq(closed, 0);
  lp_stages_free(st);
}

Test(stage_pipeline, a_stage_error_is_counted_and_the_event_goes_on) {
  lp_stages *st = load("flaky, a");
  lp_stage_shard *ss;
  cr_assert_eq(lp_stage_shard_open(st, 7, &ss), LP_OK);
  errors_left = 1;
  lp_snippet s = snippet("acme.com");
  lp_verdict v;
  cr_assert_eq(lp_stage_shard_snippet(ss, &s, &v), LP_STAGE_CONTINUE);
  cr_assert_str_eq(trace, "fa");
  cr_assert_eq(stage_errors("flaky"), 1);
  cr_assert_eq(stage_errors("a"), 0);
  lp_stage_shard_close(ss);
  lp_stages_free(st);
}

Test(stage_pipeline, an_undefined_return_code_counts_as_an_error) {
  lp_stages *st = load("weird, a");
  lp_stage_shard *ss;
  cr_assert_eq(lp_stage_shard_open(st, 7, &ss), LP_OK);
  lp_snippet s = snippet("acme.com");
  lp_verdict v;
  cr_assert_eq(lp_stage_shard_snippet(ss, &s, &v), LP_STAGE_CONTINUE);
  cr_assert_str_eq(trace, "a");
  cr_assert_eq(stage_errors("weird"), 1);
  lp_stage_shard_close(ss);
  lp_stages_free(st);
}

Test(stage_pipeline, quarantine_after_consecutive_errors_on_that_shard_only) {
  lp_stages *st = load("flaky, a");
  lp_stage_shard *s1, *s2;
  cr_assert_eq(lp_stage_shard_open(st, 1, &s1), LP_OK);
  cr_assert_eq(lp_stage_shard_open(st, 2, &s2), LP_OK);
  lp_snippet s = snippet("acme.com");
  lp_verdict v;
  errors_left = 1000;
  for (int i = 0; i < LP_STAGE_QUARANTINE_AFTER - 1; i++) lp_stage_shard_snippet(s1, &s, &v);
  cr_assert_not(lp_stage_shard_quarantined(s1, 0));
  lp_stage_shard_snippet(s1, &s, &v);
  cr_assert(lp_stage_shard_quarantined(s1, 0));
  cr_assert_eq(flaky_calls, LP_STAGE_QUARANTINE_AFTER);
  trace[0] = '\0';
  cr_assert_eq(lp_stage_shard_snippet(s1, &s, &v), LP_STAGE_CONTINUE);
  cr_assert_str_eq(trace, "a", "the quarantined stage is skipped, the others still run");
  cr_assert_eq(flaky_calls, LP_STAGE_QUARANTINE_AFTER);
  cr_assert_eq(stage_errors("flaky"), LP_STAGE_QUARANTINE_AFTER);
  cr_assert_not(lp_stage_shard_quarantined(s2, 0), "another shard keeps the stage");
  lp_stage_shard_snippet(s2, &s, &v);
  cr_assert_eq(flaky_calls, LP_STAGE_QUARANTINE_AFTER + 1);
  lp_stage_shard_close(s1);
  lp_stage_shard_close(s2);
  lp_stages_free(st);
}

Test(stage_pipeline, a_success_restarts_the_error_run) {
  lp_stages *st = load("flaky");
  lp_stage_shard *ss;
  cr_assert_eq(lp_stage_shard_open(st, 1, &ss), LP_OK);
  lp_snippet s = snippet("acme.com");
  lp_verdict v;
  errors_left = LP_STAGE_QUARANTINE_AFTER - 1;
  for (int i = 0; i < LP_STAGE_QUARANTINE_AFTER; i++) lp_stage_shard_snippet(ss, &s, &v);  /* 99 errors, 1 ok */
  errors_left = LP_STAGE_QUARANTINE_AFTER - 1;
  for (int i = 0; i < LP_STAGE_QUARANTINE_AFTER - 1; i++) lp_stage_shard_snippet(ss, &s, &v);
  cr_assert_not(lp_stage_shard_quarantined(ss, 0));
  cr_assert_eq(stage_errors("flaky"), 2 * (LP_STAGE_QUARANTINE_AFTER - 1));
  lp_stage_shard_close(ss);
  lp_stages_free(st);
}

Test(stage_pipeline, quarantine_threshold_comes_from_the_config) {
  lp_stages *st = load("flaky\nquarantine_after = 3");
  lp_stage_shard *ss;
  cr_assert_eq(lp_stage_shard_open(st, 1, &ss), LP_OK);
  lp_snippet s = snippet("acme.com");
  lp_verdict v;
  errors_left = 1000;
  lp_stage_shard_snippet(ss, &s, &v);
  lp_stage_shard_snippet(ss, &s, &v);
  cr_assert_not(lp_stage_shard_quarantined(ss, 0));
  lp_stage_shard_snippet(ss, &s, &v);
  cr_assert(lp_stage_shard_quarantined(ss, 0), "quarantined at the configured 3, not the default");
  lp_stage_shard_close(ss);
  lp_stages_free(st);
}

Test(stage_pipeline, latency_is_sampled_per_stage) {
  lp_stages *st = load("a, c");
  lp_stage_shard *ss;
  cr_assert_eq(lp_stage_shard_open(st, 1, &ss), LP_OK);
  lp_snippet s = snippet("acme.com");
  lp_verdict v;
  for (int i = 0; i < 2 * LP_STAGE_LATENCY_SAMPLE; i++) lp_stage_shard_snippet(ss, &s, &v);
  static const char *const labels[] = { "stage" };
  lp_metric_family *f = lp_metrics_family(metrics, LP_METRIC_HISTOGRAM, "leadpoet_pipeline_latency_seconds",
                                          "Time spent in each stage per event (sampled).", labels, 1,
                                          lp_metrics_latency_buckets, lp_metrics_latency_buckets_n);
  cr_assert_not_null(f);
  const char *a[] = { "a" };
  cr_assert_eq(lp_histogram_count(lp_metrics_series(f, a)), 2, "one event in %d is timed", LP_STAGE_LATENCY_SAMPLE);
  lp_stage_shard_close(ss);
  lp_stages_free(st);
}
