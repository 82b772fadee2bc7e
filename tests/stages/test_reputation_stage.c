/* The reputation stage through the stage registry: its [stage.reputation] keys, the host's
 * miner_reputation answering its estimates (what the throttle reads), describe_miner, and
 * save_global / load_global through the registry's map. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage/registry.h"
#include "stages/reputation/reputation.h"

#define T0 1764000000000LL
#define S(x) ((lp_str){ (x), strlen(x) })

static lp_config cfg;
static lp_stages *st;
static lp_metrics *metrics;
static char err[512];

static void setup(void) {
  memset(&cfg, 0, sizeof(cfg));
  st = NULL;
  cr_assert_eq(lp_metrics_new(&metrics, 1000), LP_OK);
  lp_metrics_set_default(metrics);
}

static void teardown(void) {
  lp_stages_free(st);
  lp_config_free(&cfg);
  lp_metrics_set_default(NULL);
  lp_metrics_free(metrics);
}

static int load(lp_config *c, lp_stages **out, const char *section) {
  char text[1024];
  snprintf(text, sizeof(text), "[stages]\norder = reputation\n[stage.reputation]\n%s", section);
  memset(c, 0, sizeof(*c));
  if (lp_config_load_string(c, text, "test.conf", err, sizeof(err)) != LP_OK) return -1;
  return lp_stages_load(out, c, metrics, err, sizeof(err));
}

TestSuite(reputation_stage, .init = setup, .fini = teardown);

Test(reputation_stage, its_keys_are_checked) {
  cr_assert_neq(load(&cfg, &st, "half_life = 1s\n"), LP_OK, "under a minute");
  lp_config_free(&cfg);
  cr_assert_neq(load(&cfg, &st, "no_such_key = 1\n"), LP_OK);
  cr_assert(strstr(err, "no_such_key") != NULL, "%s", err);
  lp_config_free(&cfg);
  cr_assert_eq(load(&cfg, &st, "half_life = 7d\nw_spam = 8\n"), LP_OK, "%s", err);
  cr_assert_eq(lp_rep_conf_get(lp_rep_active())->half_life, 7LL * 86400000);
  cr_assert_eq(lp_rep_conf_get(lp_rep_active())->w_spam, 8);
}

Test(reputation_stage, the_host_reads_the_estimates) {
  const lp_host_api *h = lp_stage_host_api();
  double mean, low, high;
  cr_assert_eq(load(&cfg, &st, ""), LP_OK, "%s", err);
  lp_rep *r = lp_rep_active();
  cr_assert_not_null(r);
  cr_assert_eq(h->miner_reputation(S("spammer"), &mean, &low, &high), LP_OK);
  cr_assert_float_eq(mean, 0.5, 1e-12, "the prior");
  lp_rep_credit(r, S("spammer"), T0, 0, 20);
  cr_assert_eq(h->miner_reputation(S("spammer"), &mean, &low, &high), LP_OK);
  cr_assert_float_eq(mean, 1.0 / 22.0, 1e-12);
  cr_assert(low < mean && mean < high && high < 0.3);
  lp_stages_free(st);
  st = NULL;
  cr_assert_null(lp_rep_active(), "destroy lets go of the table");
  cr_assert_eq(h->miner_reputation(S("spammer"), &mean, &low, &high), LP_OK);
  cr_assert_float_eq(mean, 0.5, 1e-12, "the host is back to the prior");
}

Test(reputation_stage, describe_and_state_round_trip) {
  cr_assert_eq(load(&cfg, &st, ""), LP_OK, "%s", err);
  lp_rep_credit(lp_rep_active(), S("alice"), T0, 4, 0);
  lp_buf out = LP_BUF_INIT;
  cr_assert_eq(lp_stages_describe_miner(st, S("alice"), &out), LP_OK);
  char text[512];
  snprintf(text, sizeof(text), "%.*s", (int)out.len, out.data);
  cr_assert(strstr(text, ",\"reputation\":{\"mean\":0.833333,") == text, "%s", text);
  cr_assert(strstr(text, "\"source\":\"outcomes\"") != NULL, "%s", text);
  lp_buf saved = LP_BUF_INIT;
  cr_assert_eq(lp_stages_save_global(st, &saved), LP_OK);
  lp_config cfg2;
  lp_stages *st2;
  cr_assert_eq(load(&cfg2, &st2, ""), LP_OK, "%s", err);  /* the newer instance answers */
  cr_assert_eq(lp_rep_count(lp_rep_active()), 0);
  cr_assert_eq(lp_stages_load_global(st2, saved.data, saved.len, err, sizeof(err)), LP_OK, "%s", err);
  lp_rep_estimate e;
  lp_rep_estimate_get(lp_rep_active(), S("alice"), &e);
  cr_assert_float_eq(e.mean, 5.0 / 6.0, 1e-12);
  cr_assert_eq(lp_stages_load_global(st2, "\x81\xaareputation\xc4\x01x", 15, err, sizeof(err)), LP_EINVAL);
  cr_assert(strstr(err, "reputation") != NULL, "%s", err);
  lp_rep_estimate_get(lp_rep_active(), S("alice"), &e);
  cr_assert(e.known, "kept after a refused load");
  lp_stages_free(st2);
  lp_config_free(&cfg2);
  lp_buf_free(&saved);
  lp_buf_free(&out);
}

Test(reputation_stage, the_metric_has_a_bounded_number_of_series) {
  cr_assert_eq(load(&cfg, &st, "metric_series = 4\n"), LP_OK, "%s", err);
  lp_rep *r = lp_rep_active();
  char name[16];
  for (int i = 0; i < 20; i++) {
    snprintf(name, sizeof(name), "m%02d", i);
    lp_rep_credit(r, S(name), T0, i % 2 ? 1 : 0, i % 2 ? 0 : (double)i);
  }
  lp_rep_publish(r);
  lp_rep_metric_refresh(r);
  lp_rep_metric_refresh(r);
  lp_buf text = LP_BUF_INIT;
  cr_assert_eq(lp_metrics_render(metrics, &text), LP_OK);
  char *s = strndup(text.data, text.len);
  size_t series = 0;
  for (const char *p = s; (p = strstr(p, "leadpoet_miner_reputation{")) != NULL; p++) series++;
  cr_assert_eq(series, 4, "%s", s);
  cr_assert(strstr(s, "leadpoet_miner_reputation{miner=\"m18\"}") != NULL, "the worst is shown");
  free(s);
  lp_buf_free(&text);
}
