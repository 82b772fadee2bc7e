/*
 * The native GBDT evaluator against XGBoost itself (Debian's libxgboost-dev through its C API): each test
 * trains a model here (depth 6, 50 trees, 10 % missing values, half of the features on a 1/8 grid so
 * that rows often equal a split condition exactly), saves it as JSON, loads it with lp_gbdt_load_file
 * and compares both the margins and the transformed predictions on 10,000 fresh random rows with
 * XGBoost's own predictions. Skipped with a message when libxgboost is not installed.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/gbdt.h"
#include "xgb_api.h"

#ifndef LP_TEST_HAVE_XGBOOST_H
Test(model_xgboost, skipped) {
  cr_skip_test("xgboost/c_api.h was not found at build time: apt-get install libxgboost-dev");
}
#else

#define NF 12
#define NTRAIN 3000
#define NTEST 10000
#define TOL 1e-6

static uint64_t rng;

static uint64_t next_u64(void) {
  uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static double unif(void) {
  return (double)(next_u64() >> 11) * 0x1p-53;
}

/* 10 % missing; features 0..5 on a grid of 1/8 (ties with split conditions), 6..11 continuous. */
static void make_rows(float *x, size_t n, uint64_t seed) {
  rng = seed;
  for (size_t i = 0; i < n * NF; i++) {
    const double miss = unif(), v = unif() * 6.0 - 3.0;
    x[i] = miss < 0.10 ? NAN : (i % NF) < NF / 2 ? (float)(round(v * 8.0) / 8.0) : (float)v;
  }
}

static double signal(const float *r) {
  const double a = isnan(r[0]) ? 0.5 : r[0], b = isnan(r[1]) ? -1.0 : r[1];
  const double c = isnan(r[7]) ? 0.0 : r[7], d = isnan(r[3]) ? 2.0 : r[3];
  return 1.5 * a + sin(2.0 * b) + (c > 0.3 ? 1.0 : -0.5) * d + 0.1 * (unif() - 0.5);
}

typedef struct fixture {
  xgb_api x;
  BoosterHandle booster;
  DMatrixHandle test;
  float *test_rows;
  char dir[64], path[96];
} fixture;

#define XGB_OK(f, call) cr_assert_eq((call), 0, "%s: %s", #call, (f)->x.GetLastError())

static void open_xgboost(fixture *f) {
  const char *why = "";
  if (xgb_api_open(&f->x, &why) != 0)
    cr_skip_test("libxgboost is not loadable (%s): apt-get install libxgboost-dev", why);
}

/* Trains `objective` (labels from signal(): raw, thresholded, graded in groups of 20, or 3 classes),
 * saves it to a temporary JSON file and builds the 10,000-row test matrix. */
static void train(fixture *f, const char *objective, const char *num_class, int with_names) {
  open_xgboost(f);
  float *x = malloc(sizeof(float) * NTRAIN * NF), *y = malloc(sizeof(float) * NTRAIN);
  cr_assert(x && y);
  make_rows(x, NTRAIN, 42);
  for (size_t i = 0; i < NTRAIN; i++) {
    const double s = signal(x + i * NF);
    if (!strcmp(objective, "binary:logistic")) y[i] = s > 0.5 ? 1.0f : 0.0f;
    else if (!strncmp(objective, "rank:", 5)) y[i] = s < -1 ? 0.0f : s < 0.5 ? 1.0f : s < 2 ? 2.0f : 3.0f;
    else if (!strncmp(objective, "multi:", 6)) y[i] = s < -0.5 ? 0.0f : s < 1.0 ? 1.0f : 2.0f;
    else y[i] = (float)s;
  }
  DMatrixHandle train;
  XGB_OK(f, f->x.DMatrixCreateFromMat(x, NTRAIN, NF, NAN, &train));
  XGB_OK(f, f->x.DMatrixSetFloatInfo(train, "label", y, NTRAIN));
  if (!strncmp(objective, "rank:", 5)) {
    unsigned groups[NTRAIN / 20];
    for (size_t g = 0; g < NTRAIN / 20; g++) groups[g] = 20;
    XGB_OK(f, f->x.DMatrixSetUIntInfo(train, "group", groups, NTRAIN / 20));
  }
  const char *names[NF] = { "text_match", "miners", "reputation", "recency", "hiring_7d", "hiring_30d",
                              "funding_30d", "tech_90d", "churn", "bought", "bounced", "icp_fit" };
  XGB_OK(f, f->x.BoosterCreate(&train, 1, &f->booster));
  if (with_names) XGB_OK(f, f->x.BoosterSetStrFeatureInfo(f->booster, "feature_name", names, NF));
  const char *params[][2] = { { "objective", objective }, { "max_depth", "6" }, { "eta", "0.3" },
                              { "nthread", "1" }, { "tree_method", "hist" }, { "seed", "7" },
                              { "num_class", num_class } };
  for (size_t i = 0; i < sizeof params / sizeof params[0]; i++)
    if (params[i][1]) XGB_OK(f, f->x.BoosterSetParam(f->booster, params[i][0], params[i][1]));
  for (int it = 0; it < 50; it++) XGB_OK(f, f->x.BoosterUpdateOneIter(f->booster, it, train));
  snprintf(f->dir, sizeof f->dir, "/tmp/lp_gbdt_XXXXXX");
  cr_assert_not_null(mkdtemp(f->dir));
  snprintf(f->path, sizeof f->path, "%s/model.json", f->dir);
  XGB_OK(f, f->x.BoosterSaveModel(f->booster, f->path));
  XGB_OK(f, f->x.DMatrixFree(train));
  free(x);
  free(y);
  f->test_rows = malloc(sizeof(float) * NTEST * NF);
  cr_assert_not_null(f->test_rows);
  make_rows(f->test_rows, NTEST, 4242);
  XGB_OK(f, f->x.DMatrixCreateFromMat(f->test_rows, NTEST, NF, NAN, &f->test));
}

static void done(fixture *f) {
  f->x.DMatrixFree(f->test);
  f->x.BoosterFree(f->booster);
  free(f->test_rows);
  unlink(f->path);
  rmdir(f->dir);
}

/* XGBoost's predictions (margins when `margin`) against ours, to TOL; returns the largest difference. */
static double compare(fixture *f, const lp_gbdt *m, int margin) {
  bst_ulong len = 0;
  const float *want = NULL;
  XGB_OK(f, f->x.BoosterPredict(f->booster, f->test, margin ? 1 : 0, 0, 0, &len, &want));
  const size_t nout = lp_gbdt_num_outputs(m);
  cr_assert_eq(len, (bst_ulong)(NTEST * nout));
  double *got = malloc(sizeof(double) * len), worst = 0;
  cr_assert_not_null(got);
  (margin ? lp_gbdt_predict_margin : lp_gbdt_predict)(m, f->test_rows, NTEST, NF, got);
  for (size_t i = 0; i < len; i++) {
    const double d = fabs(got[i] - (double)want[i]);
    cr_assert(d <= TOL, "row %zu output %zu: ours %.9g, xgboost %.9g", i / nout, i % nout, got[i], want[i]);
    if (d > worst) worst = d;
  }
  free(got);
  return worst;
}

static void check_objective(const char *objective, const char *num_class, uint32_t outputs) {
  fixture f;
  memset(&f, 0, sizeof f);
  train(&f, objective, num_class, 0);
  lp_gbdt *m = NULL;
  char err[256] = "";
  cr_assert_eq(lp_gbdt_load_file(f.path, LP_GBDT_AUTO, NF, &m, err, sizeof err), LP_OK, "%s", err);
  cr_assert_eq(lp_gbdt_source(m), LP_GBDT_XGBOOST_JSON);
  cr_assert_eq(lp_gbdt_num_features(m), NF);
  cr_assert_eq(lp_gbdt_num_outputs(m), outputs);
  cr_assert_eq(lp_gbdt_num_trees(m), 50 * outputs);
  cr_assert_str_eq(lp_gbdt_objective(m), objective);
  cr_assert_null(lp_gbdt_feature_name(m, 0));
  const double dm = compare(&f, m, 1), dp = compare(&f, m, 0);
  cr_log_info("%s: largest difference %.3g (margin), %.3g (prediction) on %d rows", objective, dm, dp, NTEST);
  lp_gbdt_free(m);
  done(&f);
}

Test(model_xgboost, regression) {
  check_objective("reg:squarederror", NULL, 1);
}

Test(model_xgboost, binary_logistic) {
  check_objective("binary:logistic", NULL, 1);
}

Test(model_xgboost, ranking_pairwise) {
  check_objective("rank:pairwise", NULL, 1);
}

Test(model_xgboost, ranking_ndcg) {
  check_objective("rank:ndcg", NULL, 1);
}

Test(model_xgboost, multiclass_softprob) {
  check_objective("multi:softprob", "3", 3);
}

/* Feature names travel with the model; a caller computing another number of features is refused, and a
 * failed load leaves the running model untouched. */
Test(model_xgboost, names_and_mismatch) {
  fixture f;
  memset(&f, 0, sizeof f);
  train(&f, "binary:logistic", NULL, 1);
  lp_gbdt *m = NULL, *other = NULL;
  char err[256] = "";
  cr_assert_eq(lp_gbdt_load_file(f.path, LP_GBDT_XGBOOST_JSON, 0, &m, err, sizeof err), LP_OK, "%s", err);
  cr_assert_str_eq(lp_gbdt_feature_name(m, 0), "text_match");
  cr_assert_str_eq(lp_gbdt_feature_name(m, NF - 1), "icp_fit");
  cr_assert_null(lp_gbdt_feature_name(m, NF));
  cr_assert_eq(lp_gbdt_load_file(f.path, LP_GBDT_AUTO, NF + 1, &other, err, sizeof err), LP_ERANGE);
  cr_assert_null(other);
  cr_assert(strstr(err, "12 features, 13 expected"), "%s", err);
  compare(&f, m, 0);
  lp_gbdt_free(m);
  done(&f);
}
#endif
