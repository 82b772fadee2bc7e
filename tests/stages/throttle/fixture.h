/* fixture.h: the throttle stage driven through the stage API: the registry loads it (built-in) with an
 * injected [stage.throttle] section; a snippet source builds snippets in memory and the verdict sink is
 * the code each admission returns. Included by the tests of this folder only. */
#ifndef LP_TEST_THROTTLE_FIXTURE_H
#define LP_TEST_THROTTLE_FIXTURE_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "stage/registry.h"

#define T0 1764000000000LL   /* an event time: 2025-11-24 */
#define HOUR 3600000LL

static lp_config fx_cfg;
static lp_stages *fx_st;
static lp_metrics *fx_metrics;
static char fx_err[512];
static lp_verdict fx_v;

/* Loads [stages] order = throttle with these [stage.throttle] lines (e.g. "rate = 1\nburst = 5\n"). */
static void fx_load(const char *section) {
  char text[1024];
  snprintf(text, sizeof(text), "[stages]\norder = throttle\n[stage.throttle]\n%s", section);
  cr_assert_eq(lp_config_load_string(&fx_cfg, text, "test.conf", fx_err, sizeof(fx_err)), LP_OK, "%s", fx_err);
  cr_assert_eq(lp_stages_load(&fx_st, &fx_cfg, fx_metrics, fx_err, sizeof(fx_err)), LP_OK, "%s", fx_err);
}

static void fx_setup(void) {
  memset(&fx_cfg, 0, sizeof(fx_cfg));
  fx_st = NULL;
  cr_assert_eq(lp_metrics_new(&fx_metrics, 1000), LP_OK);
  lp_metrics_set_default(fx_metrics);
}

static void fx_teardown(void) {
  lp_stages_free(fx_st);
  lp_config_free(&fx_cfg);
  lp_stages_set_reputation_fn(NULL);
  lp_metrics_set_default(NULL);
  lp_metrics_free(fx_metrics);
}

/* Admits one snippet; returns its drop code, or NULL when it passes. */
static const char *fx_admit_in(lp_stages *st, const char *miner, const char *id, int64_t ts, const char *text) {
  lp_snippet s;
  memset(&s, 0, sizeof(s));
  s.miner = (lp_str){ miner, strlen(miner) };
  s.id = (lp_str){ id, strlen(id) };
  s.ts_ms = ts;
  s.domain = LP_STR_LIT("acme.com");
  s.text = (lp_str){ text, strlen(text) };
  int rc = lp_stages_admit(st, &s, &fx_v);
  cr_assert(rc == LP_STAGE_CONTINUE || rc == LP_STAGE_DROP);
  cr_assert_not(lp_stages_global_quarantined(st, 0), "the stage never fails");
  return rc == LP_STAGE_DROP ? fx_v.code : NULL;
}

static const char *fx_admit(const char *miner, const char *id, int64_t ts, const char *text) {
  return fx_admit_in(fx_st, miner, id, ts, text);
}

/* A text of its own (too short to be compared for near-duplicates) for snippet n. */
__attribute__((unused)) static const char *fx_short(int n) {
  static char buf[64];
  snprintf(buf, sizeof(buf), "update number %d", n);
  return buf;
}

/* The throttle's object for miner, as describe_miner writes it ("" when it wrote nothing). */
__attribute__((unused)) static const char *fx_describe(lp_stages *st, const char *miner) {
  static char text[512];
  lp_buf out = LP_BUF_INIT;
  cr_assert_eq(lp_stages_describe_miner(st, (lp_str){ miner, strlen(miner) }, &out), LP_OK);
  snprintf(text, sizeof(text), "%.*s", (int)out.len, out.data != NULL ? out.data : "");
  lp_buf_free(&out);
  return text;
}

/* Asserts a verdict: want NULL is "passes". Called as CODE_EQ(got, want) or CODE_EQ(got, want, "why"). */
static void fx_code_eq(int line, const char *got, const char *want, const char *why, ...) {
  int same = got == NULL ? want == NULL : want != NULL && strcmp(got, want) == 0;
  cr_assert(same, "line %d: got %s, want %s (%s) %s", line, got != NULL ? got : "pass",
            want != NULL ? want : "pass", fx_v.message, why);
}
#define CODE_EQ(...) fx_code_eq(__LINE__, __VA_ARGS__, "")

#endif
