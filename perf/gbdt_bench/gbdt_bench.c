/*
 * gbdt_bench: rows per second of the native GBDT evaluator (core/model/gbdt.h) against XGBoost's own
 * predict (XGBoosterPredictFromDense, in-place, nthread=1) on the same model and the same rows, and that
 * every prediction agrees to 1e-6. The model is trained here with XGBoost's C API on a synthetic set
 * shaped like the query path's feature rows (10 % missing values), saved as JSON and loaded by ours.
 *
 *   gbdt_bench [--rows N] [--features F] [--trees T] [--depth D] [--rounds R] [--objective O]
 *
 * Defaults: 100,000 rows, 32 features, 50 trees of depth 6, 5 rounds (best of each side is reported),
 * binary:logistic. Both sides produce transformed predictions (probabilities).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xgboost/c_api.h>

#include "model/gbdt.h"

#define CHECK(call)                                                          \
  do {                                                                       \
    if ((call) != 0) {                                                       \
      fprintf(stderr, "gbdt_bench: %s: %s\n", #call, XGBGetLastError());     \
      exit(1);                                                               \
    }                                                                        \
  } while (0)

static uint64_t rng = 1;

static double unif(void) {
  uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return (double)((z ^ (z >> 31)) >> 11) * 0x1p-53;
}

static void make_rows(float *x, size_t n, size_t nf) {
  for (size_t i = 0; i < n * nf; i++) {
    const double miss = unif(), v = unif() * 6.0 - 3.0;
    x[i] = miss < 0.10 ? NAN : (i % nf) % 2 ? (float)(round(v * 8.0) / 8.0) : (float)v;
  }
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static BoosterHandle train(size_t nf, int trees, const char *depth, const char *objective) {
  const size_t n = 20000;
  float *x = malloc(sizeof(float) * n * nf), *y = malloc(sizeof(float) * n);
  if (!x || !y) exit(1);
  make_rows(x, n, nf);
  for (size_t i = 0; i < n; i++) {
    const float *r = x + i * nf;
    double s = 0;
    for (size_t j = 0; j < nf && j < 8; j++) s += (isnan(r[j]) ? 0.3 : r[j]) * (j % 3 ? 1.0 : -0.7);
    s += sin(isnan(r[1]) ? 0 : 3 * r[1]);
    y[i] = strcmp(objective, "binary:logistic") ? (float)s : s > 0 ? 1.0f : 0.0f;
  }
  DMatrixHandle d;
  BoosterHandle b;
  CHECK(XGDMatrixCreateFromMat(x, n, nf, NAN, &d));
  CHECK(XGDMatrixSetFloatInfo(d, "label", y, n));
  CHECK(XGBoosterCreate(&d, 1, &b));
  CHECK(XGBoosterSetParam(b, "objective", objective));
  CHECK(XGBoosterSetParam(b, "max_depth", depth));
  CHECK(XGBoosterSetParam(b, "nthread", "1"));
  CHECK(XGBoosterSetParam(b, "tree_method", "hist"));
  for (int i = 0; i < trees; i++) CHECK(XGBoosterUpdateOneIter(b, i, d));
  CHECK(XGDMatrixFree(d));
  free(x);
  free(y);
  return b;
}

int main(int argc, char **argv) {
  size_t rows = 100000, nf = 32;
  int trees = 50, rounds = 5;
  const char *depth = "6", *objective = "binary:logistic";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--rows")) rows = strtoull(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--features")) nf = strtoull(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--trees")) trees = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--depth")) depth = argv[i + 1];
    else if (!strcmp(argv[i], "--rounds")) rounds = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--objective")) objective = argv[i + 1];
    else {
      fprintf(stderr, "usage: gbdt_bench [--rows N] [--features F] [--trees T] [--depth D] [--rounds R] "
                      "[--objective O]\n");
      return 2;
    }
  }
  if (!rows || nf < 2 || trees < 1 || rounds < 1) return 2;
  BoosterHandle b = train(nf, trees, depth, objective);
  char dir[] = "/tmp/gbdt_bench_XXXXXX", path[64];
  if (!mkdtemp(dir)) return 1;
  snprintf(path, sizeof path, "%s/model.json", dir);
  CHECK(XGBoosterSaveModel(b, path));
  lp_gbdt *m = NULL;
  char err[256];
  if (lp_gbdt_load_file(path, LP_GBDT_AUTO, (uint32_t)nf, &m, err, sizeof err) != LP_OK) {
    fprintf(stderr, "gbdt_bench: %s\n", err);
    return 1;
  }
  unlink(path);
  rmdir(dir);

  float *x = malloc(sizeof(float) * rows * nf);
  double *ours = malloc(sizeof(double) * rows);
  if (!x || !ours) return 1;
  rng = 99;
  make_rows(x, rows, nf);
  char iface[256], config[256];
  snprintf(iface, sizeof iface,
           "{\"data\": [%zu, true], \"shape\": [%zu, %zu], \"typestr\": \"<f4\", \"version\": 3}",
           (size_t)(uintptr_t)x, rows, nf);
  snprintf(config, sizeof config, "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, "
           "\"iteration_end\": 0, \"strict_shape\": false, \"cache_id\": 0, \"missing\": NaN}");
  const bst_ulong *shape;
  bst_ulong dim;
  const float *theirs = NULL;
  double best_x = 1e30, best_o = 1e30;
  for (int r = 0; r < rounds; r++) {
    double t0 = now();
    CHECK(XGBoosterPredictFromDense(b, iface, config, NULL, &shape, &dim, &theirs));
    double t1 = now();
    lp_gbdt_predict(m, x, rows, nf, ours);
    double t2 = now();
    if (t1 - t0 < best_x) best_x = t1 - t0;
    if (t2 - t1 < best_o) best_o = t2 - t1;
  }
  double worst = 0;
  for (size_t i = 0; i < rows; i++) {
    const double d = fabs(ours[i] - (double)theirs[i]);
    if (d > worst) worst = d;
  }
  int major, minor, patch;
  XGBoostVersion(&major, &minor, &patch);
  printf("model: %s, %u trees of depth <= %s, %zu features; %zu rows, 10%% missing\n", objective,
         lp_gbdt_num_trees(m), depth, nf, rows);
  printf("xgboost %d.%d.%d XGBoosterPredictFromDense, nthread=1: %12.0f rows/s (best of %d)\n", major, minor,
         patch, (double)rows / best_x, rounds);
  printf("leadpoet lp_gbdt_predict, 1 thread:             %12.0f rows/s (best of %d)\n", (double)rows / best_o,
         rounds);
  printf("ratio leadpoet/xgboost: %.2fx   largest difference: %.3g (%s)\n", best_x / best_o, worst,
         worst <= 1e-6 ? "agree to 1e-6" : "DISAGREE");
  lp_gbdt_free(m);
  XGBoosterFree(b);
  free(x);
  free(ours);
  return worst <= 1e-6 ? 0 : 1;
}
