/* The feature row of one (query, lead) (core/query/features.h, docs/features.md) on hand-built leads: the
 * v0 values are reused, kinds are counted per window in event time, evidence after the plan's now is left
 * out (point in time), outcomes and firmographics, the adopted and uses-the-product demotions, and the
 * missing values (NaN). No reputation snapshot on this thread: every miner is at the prior (0.5). */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "config/config.h"
#include "query/features.h"
#include "text/techtable.h"

#define DAY 86400000LL
#define NOW (1764000000000LL)

static lp_config cfg;
static lp_techtable *tech;

static void setup(void) {
  char err[256];
  cr_assert_eq(lp_config_load_string(&cfg, "", "test", err, sizeof err), LP_OK, "%s", err);
  cr_assert_eq(lp_techtable_builtin(&tech, err, sizeof err), LP_OK, "%s", err);
}

static void teardown(void) {
  lp_techtable_free(tech);
  lp_config_free(&cfg);
}

TestSuite(features, .init = setup, .fini = teardown);

static lp_evidence ev(const char *miner, uint32_t kind, long long age_days) {
  lp_evidence e;
  memset(&e, 0, sizeof e);
  e.snippet_id = "s";
  e.miner = (char *)miner;
  e.text = "text";
  e.ts_ms = NOW - age_days * DAY;
  e.kind = kind;
  return e;
}

static void plan_init(lp_qplan *p) {
  memset(p, 0, sizeof *p);
  p->cfg = &cfg;
  p->now_ms = NOW;
  p->tech = tech;
}

Test(features, names_are_fixed_unique_and_complete) {
  cr_assert_eq(LP_FEATURES_N, 41);
  cr_assert_str_eq(lp_feature_name(0), "bm25");
  cr_assert_str_eq(lp_feature_name(LP_F_KIND_WINDOWS), "n_hiring_7d");
  cr_assert_str_eq(lp_feature_name(LP_F_KIND_WINDOWS + 20), "n_web_90d");
  cr_assert_str_eq(lp_feature_name(LP_F_CHURN), "churn_trigger");
  cr_assert_str_eq(lp_feature_name(LP_F_EXEMPLAR), "exemplar_similarity");
  cr_assert_null(lp_feature_name(LP_FEATURES_N));
  for (uint32_t i = 0; i < LP_FEATURES_N; i++)
    for (uint32_t j = 0; j < i; j++) cr_assert_str_neq(lp_feature_name(i), lp_feature_name(j));
}

Test(features, v0_values_windows_and_point_in_time) {
  lp_evidence e[] = {
    ev("m1", LP_KIND_HIRING, 1), ev("m1", LP_KIND_HIRING, 20), ev("m2", LP_KIND_HIRING, 60),
    ev("m2", LP_KIND_FUNDING, 100), ev("m3", LP_KIND_REVIEW, 5),
    ev("m4", LP_KIND_HIRING, -1),  /* a day after now: not known yet */
  };
  lp_lead l;
  memset(&l, 0, sizeof l);
  l.domain = "acme.com";
  l.ev = e;
  l.n_ev = 6;
  l.employees = 250;
  l.first_ts_ms = NOW - 100 * DAY;
  l.outcomes[LP_EVENT_BOUNCED] = 2;
  l.outcomes[LP_EVENT_INVALID] = 1;
  l.outcomes[LP_EVENT_SPAM] = 4;
  l.outcomes[LP_EVENT_PURCHASED] = 1;
  lp_v0_features v0 = { .bm25 = 7.5, .text = 0.65, .recency_days = 1.0, .recency = 0.95, .fit = 0.75,
                        .churn = 0.25, .agreement = 0.5, .reputation = 0.5, .miners = 3 };
  lp_qplan p;
  plan_init(&p);
  float row[LP_FEATURES_N];
  lp_features_row(&p, &l, &v0, row);
  cr_assert_float_eq(row[LP_F_BM25], 7.5f, 1e-6);
  cr_assert_float_eq(row[LP_F_TEXT], 0.65f, 1e-6);
  cr_assert_float_eq(row[LP_F_RECENCY_DAYS], 1.0f, 1e-6);
  cr_assert_float_eq(row[LP_F_RECENCY], 0.95f, 1e-6);
  cr_assert_float_eq(row[LP_F_INDEPENDENT], 3.0f, 1e-6);
  cr_assert_float_eq(row[LP_F_AGREEMENT], 0.5f, 1e-6);
  cr_assert_float_eq(row[LP_F_CHURN], 0.25f, 1e-6);
  cr_assert_float_eq(row[LP_F_FIT], 0.75f, 1e-6);
  /* hiring: 1 and 20 days old (60 too for 90d); the one from tomorrow counts nowhere */
  cr_assert_float_eq(row[LP_F_KIND_WINDOWS + 0], 1.0f, 1e-6);
  cr_assert_float_eq(row[LP_F_KIND_WINDOWS + 1], 2.0f, 1e-6);
  cr_assert_float_eq(row[LP_F_KIND_WINDOWS + 2], 3.0f, 1e-6);
  /* funding at 100 days: outside every window */
  for (int w = 0; w < 3; w++) cr_assert_float_eq(row[LP_F_KIND_WINDOWS + 3 * LP_KIND_FUNDING + w], 0.0f, 1e-6);
  cr_assert_float_eq(row[LP_F_KIND_WINDOWS + 3 * LP_KIND_REVIEW + 0], 1.0f, 1e-6);
  cr_assert_float_eq(row[LP_F_KIND_WINDOWS + 3 * LP_KIND_REVIEW + 1], 1.0f, 1e-6);
  /* every miner at the prior 0.5: none reputable; the weighted sum decays with the 15-day half life */
  cr_assert_float_eq(row[LP_F_REPUTABLE_MINERS], 0.0f, 1e-6);
  double want = 0;
  const int ages[] = { 1, 20, 60, 100, 5 };
  for (int i = 0; i < 5; i++) want += 0.5 * exp2(-ages[i] / 15.0);
  cr_assert_float_eq(row[LP_F_REP_EVIDENCE], (float)want, 1e-5);
  cr_assert_float_eq(row[LP_F_BAD_OUTCOMES], 3.0f, 1e-6);
  cr_assert_float_eq(row[LP_F_SPAM_OUTCOMES], 4.0f, 1e-6);
  cr_assert_float_eq(row[LP_F_PURCHASED], 1.0f, 1e-6);
  cr_assert_float_eq(row[LP_F_LOG_EMPLOYEES], (float)log1p(250.0), 1e-5);
  cr_assert_float_eq(row[LP_F_EVIDENCE], 6.0f, 1e-6);
  cr_assert_float_eq(row[LP_F_AGE_DAYS], 100.0f, 1e-4);
  cr_assert_float_eq(row[LP_F_ADOPTED], 0.0f, 1e-6);
  cr_assert_float_eq(row[LP_F_USES_NAMED], 0.0f, 1e-6);
  cr_assert(isnan(row[LP_F_EXEMPLAR]), "no exemplars: missing");
}

Test(features, unknown_size_is_missing) {
  lp_lead l;
  memset(&l, 0, sizeof l);
  l.domain = "tiny.io";
  lp_v0_features v0;
  memset(&v0, 0, sizeof v0);
  lp_qplan p;
  plan_init(&p);
  float row[LP_FEATURES_N];
  lp_features_row(&p, &l, &v0, row);
  cr_assert(isnan(row[LP_F_LOG_EMPLOYEES]));
  cr_assert_float_eq(row[LP_F_EVIDENCE], 0.0f, 1e-6);
  cr_assert_float_eq(row[LP_F_AGE_DAYS], 0.0f, 1e-6);
  cr_assert_float_eq(row[LP_F_REP_EVIDENCE], 0.0f, 1e-6);
}

/* A tool of the query's category added 10 days ago and in use: adopted; the same 200 days ago (outside the
 * 90-day churn window) or after now: not. A technology the prompt names and the lead uses: uses_named. */
Test(features, adopted_and_uses_the_product) {
  const lp_tech_info *t = lp_techtable_find(tech, "salesforce", strlen("salesforce"));
  cr_assert_not_null(t);
  cr_assert_gt(t->n_categories, 0);
  uint32_t ncat = lp_techtable_category_count(tech);
  uint8_t *cats = calloc(ncat, 1);
  cats[t->categories[0]] = 1;
  lp_tech used = { t->name, NOW - 10 * DAY, NOW, 0, t->id };
  lp_churn ch = { t->name, NOW - 10 * DAY, t->id, 1 };
  lp_lead l;
  memset(&l, 0, sizeof l);
  l.domain = "buyer.com";
  l.tech = &used;
  l.n_tech = 1;
  l.churn = &ch;
  l.n_churn = 1;
  lp_v0_features v0;
  memset(&v0, 0, sizeof v0);
  lp_qplan p;
  plan_init(&p);
  p.churn_category = cats;
  p.n_churn_categories = ncat;
  char *want[] = { (char *)t->name };
  p.want_tech = want;
  p.n_want_tech = 1;
  float row[LP_FEATURES_N];
  lp_features_row(&p, &l, &v0, row);
  cr_assert_float_eq(row[LP_F_ADOPTED], 1.0f, 1e-6);
  cr_assert_float_eq(row[LP_F_USES_NAMED], 1.0f, 1e-6);
  ch.ts_ms = NOW - 200 * DAY;
  lp_features_row(&p, &l, &v0, row);
  cr_assert_float_eq(row[LP_F_ADOPTED], 0.0f, 1e-6, "outside the churn window");
  ch.ts_ms = NOW + DAY;
  lp_features_row(&p, &l, &v0, row);
  cr_assert_float_eq(row[LP_F_ADOPTED], 0.0f, 1e-6, "after now: not known yet");
  l.n_tech = 0;
  lp_features_row(&p, &l, &v0, row);
  cr_assert_float_eq(row[LP_F_USES_NAMED], 0.0f, 1e-6, "no longer in use");
  free(cats);
}
