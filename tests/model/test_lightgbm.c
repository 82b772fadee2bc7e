/*
 * The native GBDT evaluator on LightGBM text models. LightGBM is not in Debian, so the fixtures under
 * fixtures/ were written by fixtures/lgbm_gen.py in LightGBM's exact text format, and their expected
 * predictions come from that script's independent walk of LightGBM's NumericalDecision (tree.h) in
 * doubles; this test regenerates the same rows (splitmix64) and compares to 1e-6. lgbm_small.txt is
 * small enough to check by hand: its rows below are computed in the comments. Every error path of the
 * LightGBM parser is exercised by editing that file.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gbdt.h"

#define FIXTURES LP_SOURCE_DIR "/tests/model/fixtures/"
#define TOL 1e-6

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "%s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  cr_assert_not_null(s);
  cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
  s[n] = '\0';
  fclose(f);
  if (len) *len = (size_t)n;
  return s;
}

/* recency, miners, icp_fit. Tree 0: recency <= 2.5000000000000004 (NaN: default right) then miners
 * <= 1e-35 (missing type Zero, default left); tree 1: icp_fit <= -0.5 (None: NaN counts as 0); tree 2:
 * one leaf 0.125. */
Test(model_lightgbm, small_by_hand) {
  lp_gbdt *m = NULL;
  char err[256] = "";
  cr_assert_eq(lp_gbdt_load_file(FIXTURES "lgbm_small.txt", LP_GBDT_AUTO, 3, &m, err, sizeof err), LP_OK, "%s", err);
  cr_assert_eq(lp_gbdt_source(m), LP_GBDT_LIGHTGBM_TEXT);
  cr_assert_eq(lp_gbdt_num_trees(m), 3);
  cr_assert_str_eq(lp_gbdt_objective(m), "regression");
  cr_assert_str_eq(lp_gbdt_feature_name(m, 1), "miners");
  const float rows[][3] = {
    { 2.5f, 0.0f, -0.5f },                     /* left, zero -> default left 0.5; -0.5 <= -0.5: -1 */
    { NAN, 3.0f, NAN },                        /* NaN -> right -0.25; NaN as 0 > -0.5: 2 */
    { 1.0f, NAN, -2.0f },                      /* left, NaN is zero -> left 0.5; -1 */
    { nextafterf(2.5f, 3.0f), 1e-36f, 5.0f },  /* 2.50000024 > threshold: -0.25; 2 */
    { 0.0f, 2e-35f, 0.0f },                    /* 2e-35 is not zero and > 1e-35: 1.5; 2 */
    { 0.0f, -1e-35f, 0.0f },                   /* -1e-35f is zero: 0.5; 2 */
  };
  const double want[] = { -0.375, 1.875, -0.375, 1.875, 3.625, 2.625 };
  double got[6];
  lp_gbdt_predict(m, &rows[0][0], 6, 3, got);
  for (int i = 0; i < 6; i++) cr_assert(fabs(got[i] - want[i]) < 1e-12, "row %d: %.17g, want %.17g", i, got[i], want[i]);
  lp_gbdt_free(m);
}

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

/* The rows of lgbm_gen.py's rows(): the same draws in the same order. */
static void make_rows(float *x, size_t n, size_t nf, const float *pool, size_t npool) {
  for (size_t i = 0; i < n * nf; i++) {
    const double u = unif(), v = unif();
    x[i] = u < 0.10 ? NAN : u < 0.15 ? 0.0f : u < 0.20 ? (v < 0.5 ? -1e-36f : 1e-36f)
         : u < 0.40 ? pool[(size_t)(v * (double)npool)] : (float)(-3.0 + 6.0 * v);
  }
}

static void check_fixture(const char *name) {
  char path[512];
  snprintf(path, sizeof path, FIXTURES "%s.expected", name);
  char *exp = slurp(path, NULL), *p = exp, *end;
  unsigned long long seed;
  size_t n, nf, nout;
  int used = 0;
  cr_assert_eq(sscanf(p, "seed %llu rows %zu features %zu outputs %zu pool%n", &seed, &n, &nf, &nout, &used), 4);
  p += used;
  float pool[1024];
  size_t npool = 0;
  while (*p != '\n') {
    cr_assert_lt(npool, 1024);
    pool[npool++] = strtof(p, &end);
    cr_assert_neq(end, p);
    p = end;
    while (*p == ' ') p++;
  }
  snprintf(path, sizeof path, FIXTURES "%s.txt", name);
  lp_gbdt *m = NULL;
  char err[256] = "";
  cr_assert_eq(lp_gbdt_load_file(path, LP_GBDT_LIGHTGBM_TEXT, (uint32_t)nf, &m, err, sizeof err), LP_OK, "%s", err);
  cr_assert_eq(lp_gbdt_num_outputs(m), nout);
  float *x = malloc(sizeof(float) * n * nf);
  double *got = malloc(sizeof(double) * n * nout), worst = 0;
  cr_assert(x && got);
  rng = seed;
  make_rows(x, n, nf, pool, npool);
  lp_gbdt_predict(m, x, n, nf, got);
  for (size_t i = 0; i < n * nout; i++) {
    const double want = strtod(p, &end);
    cr_assert_neq(end, p, "%s: expected values end at %zu", name, i);
    p = end;
    const double d = fabs(got[i] - want);
    cr_assert(d <= TOL, "%s row %zu output %zu: ours %.17g, reference %.17g", name, i / nout, i % nout, got[i], want);
    if (d > worst) worst = d;
  }
  cr_log_info("%s: %zu rows, largest difference %.3g", name, n, worst);
  free(x);
  free(got);
  free(exp);
  lp_gbdt_free(m);
}

Test(model_lightgbm, binary_fixture_10000_rows) {
  check_fixture("lgbm_binary");
}

Test(model_lightgbm, multiclass_fixture) {
  check_fixture("lgbm_multiclass");
}

/* lgbm_small.txt with the first occurrence of `from` replaced by `to`, loaded; returns the code. */
static int load_edited(const char *from, const char *to, uint32_t expect, char *err, size_t errsz) {
  size_t len;
  char *s = slurp(FIXTURES "lgbm_small.txt", &len);
  char *at = strstr(s, from);
  cr_assert_not_null(at, "fixture has no \"%s\"", from);
  const size_t nf = strlen(from), nt = strlen(to);
  char *e = malloc(len - nf + nt + 1);
  cr_assert_not_null(e);
  memcpy(e, s, (size_t)(at - s));
  memcpy(e + (at - s), to, nt);
  memcpy(e + (at - s) + nt, at + nf, len - (size_t)(at - s) - nf + 1);
  lp_gbdt *m = NULL;
  int rc = lp_gbdt_load(e, strlen(e), LP_GBDT_AUTO, expect, &m, err, errsz);
  if (rc == LP_OK) cr_assert_not_null(m);
  else cr_assert_null(m);
  lp_gbdt_free(m);
  free(e);
  free(s);
  return rc;
}

static void refused(const char *from, const char *to, uint32_t expect, int code, const char *needle) {
  char err[256] = "";
  cr_assert_eq(load_edited(from, to, expect, err, sizeof err), code, "%s -> %s: %s", from, to, err);
  cr_assert(strstr(err, needle), "%s -> %s: \"%s\" lacks \"%s\"", from, to, err, needle);
}

Test(model_lightgbm, unedited_loads) {
  char err[256] = "";
  cr_assert_eq(load_edited("tree\n", "tree\n", 3, err, sizeof err), LP_OK, "%s", err);
}

Test(model_lightgbm, categorical_refused) {
  refused("num_cat=0\nsplit_feature=2", "num_cat=1\nsplit_feature=2", 0, LP_EINVAL, "tree 1: categorical");
  refused("decision_type=0", "decision_type=1", 0, LP_EINVAL, "tree 1: node 0 is a categorical split");
}

Test(model_lightgbm, child_out_of_range) {
  refused("left_child=1 -1", "left_child=1 -4", 0, LP_EINVAL, "tree 0: node 1: left_child -4 is out of range");
  refused("right_child=-2 -3", "right_child=2 -3", 0, LP_EINVAL, "tree 0: node 0: right_child 2 is out of range");
}

Test(model_lightgbm, cycle_refused) {
  refused("left_child=1 -1", "left_child=1 0", 0, LP_EINVAL, "tree 0: node 0 is reached twice");
  refused("right_child=-2 -3", "right_child=-1 -3", 0, LP_EINVAL, "reached twice");
}

Test(model_lightgbm, feature_count) {
  refused("tree\n", "tree\n", 4, LP_ERANGE, "the model has 3 features, 4 expected");
  refused("split_feature=0 1", "split_feature=0 3", 0, LP_EINVAL, "tree 0: node 1 splits on feature 3");
  refused("feature_names=recency miners icp_fit", "feature_names=recency miners", 0, LP_EINVAL, "feature_names");
}

Test(model_lightgbm, missing_fields) {
  refused("leaf_value=-1 2\n", "", 0, LP_EINVAL, "tree 1: leaf_value is missing");
  refused("threshold=-0.5\n", "", 0, LP_EINVAL, "tree 1: threshold is missing");
  refused("num_leaves=2\n", "", 0, LP_EINVAL, "tree 1: num_leaves is missing");
  refused("max_feature_idx=2\n", "", 0, LP_EINVAL, "max_feature_idx is missing");
  refused("num_class=1\n", "", 0, LP_EINVAL, "num_class is missing");
}

Test(model_lightgbm, bad_values) {
  refused("threshold=-0.5", "threshold=abc", 0, LP_EINVAL, "tree 1: threshold[0] = \"abc\" is not a number");
  refused("leaf_value=-1 2", "leaf_value=-1", 0, LP_EINVAL, "tree 1: leaf_value has 1 values, 2 expected");
  refused("leaf_value=-1 2", "leaf_value=-1 2 3", 0, LP_EINVAL, "tree 1: leaf_value has more than 2");
  refused("decision_type=8 6", "decision_type=12 6", 0, LP_EINVAL, "unknown missing type");
  refused("is_linear=0\nshrinkage=0.1", "is_linear=1\nshrinkage=0.1", 0, LP_EINVAL, "linear trees");
  refused("Tree=1", "Tree=7", 0, LP_EINVAL, "where Tree=1 was expected");
  refused("tree_sizes=319 250 224", "tree_sizes=319 250", 0, LP_EINVAL, "tree_sizes lists 2 trees");
}

Test(model_lightgbm, objectives) {
  refused("objective=regression", "objective=ranking_magic", 0, LP_EINVAL, "objective \"ranking_magic\"");
  refused("objective=regression", "objective=multiclass num_class:3", 0, LP_EINVAL, "num_class 1");
  char err[256] = "";
  cr_assert_eq(load_edited("objective=regression", "objective=binary sigmoid:2", 0, err, sizeof err), LP_OK, "%s", err);
  cr_assert_eq(load_edited("objective=regression", "objective=lambdarank", 0, err, sizeof err), LP_OK, "%s", err);
}

Test(model_lightgbm, truncated) {
  size_t len;
  char *s = slurp(FIXTURES "lgbm_small.txt", &len);
  char err[256];
  lp_gbdt *m = NULL;
  /* Cut at every 7th byte: never accepted, never a crash (ASan watches). */
  for (size_t cut = 0; cut < len; cut += 7) {
    const char *end = strstr(s, "end of trees");
    if (s + cut > end) break;
    err[0] = '\0';
    cr_assert_neq(lp_gbdt_load(s, cut, LP_GBDT_LIGHTGBM_TEXT, 0, &m, err, sizeof err), LP_OK, "cut at %zu", cut);
    cr_assert_null(m);
    cr_assert_neq(err[0], '\0');
  }
  cr_assert_eq(lp_gbdt_load(s, (size_t)(strstr(s, "end of trees") - s), LP_GBDT_AUTO, 0, &m, err, sizeof err), LP_EINVAL);
  cr_assert(strstr(err, "no \"end of trees\" line after 3 trees: truncated"), "%s", err);
  free(s);
}

/* A failed reload leaves the caller's running model as it was: load into a new object, swap on success. */
Test(model_lightgbm, failed_reload_keeps_running_model) {
  lp_gbdt *running = NULL, *next = NULL;
  char err[256];
  cr_assert_eq(lp_gbdt_load_file(FIXTURES "lgbm_small.txt", LP_GBDT_AUTO, 3, &running, err, sizeof err), LP_OK);
  cr_assert_eq(lp_gbdt_load("tree\nnum_class=1\n", 16, LP_GBDT_AUTO, 3, &next, err, sizeof err), LP_EINVAL);
  cr_assert_null(next);
  const float row[3] = { 2.5f, 0.0f, -0.5f };
  double out;
  lp_gbdt_predict(running, row, 1, 3, &out);
  cr_assert_float_eq(out, -0.375, 1e-12);
  lp_gbdt_free(running);
}
