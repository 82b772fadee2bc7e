/* `leadpoet train`'s data set and trainer (core/train/) on synthetic training logs: the label depends on
 * one feature (recency) and v0's score is noise, so a trained model must rank by that feature and beat
 * v0 on the held-out (later) queries; labels look only inside the horizon and never past the split;
 * bad lines are refused with file:line. The trainer needs libxgboost (skipped with a message without). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "helpers/helpers.h"
#include "model/gbdt.h"
#include "train/dataset.h"
#include "train/train.h"

#define DAY 86400000LL
#define T0 1764000000000LL

static char dir[64];

static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/lp_train_XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  cr_assert_eq(system(cmd), 0);
}

TestSuite(train, .init = setup, .fini = teardown, .timeout = 120);

static uint64_t rng = 7;
static double unif(void) {
  rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
  return (double)(rng >> 11) * 0x1p-53;
}

/* A log of nq queries of 40 leads each, an hour apart, every feature random. */
static void write_log(const char *path, int nq) {
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  for (int q = 0; q < nq; q++) {
    long long ts = T0 + q * 3600000LL;
    fprintf(f, "{\"type\":\"query\",\"query_id\":\"q%d\",\"ts\":%lld,\"model\":\"v0\",\"version\":\"%s\",\"prompt\":\"p\",\"leads\":[",
            q, ts, LP_FEATURES_VERSION);
    for (int l = 0; l < 40; l++) {
      double rec = unif();
      fprintf(f, "%s{\"domain\":\"l%d-%d.com\",\"rank\":%d,\"score\":0.5,\"v0\":%.6f,\"f\":[", l ? "," : "", q, l, l + 1,
              unif());
      for (int k = 0; k < LP_FEATURES_N; k++) {
        if (k == LP_F_RECENCY) fprintf(f, "%s%.6f", k ? "," : "", rec);
        else if (k == LP_F_EXEMPLAR) fprintf(f, ",null");
        else fprintf(f, "%s%.6f", k ? "," : "", unif());
      }
      fprintf(f, "]}");
    }
    fprintf(f, "]}\n");
  }
  fclose(f);
}

/* Appends the purchases after the queries (a real log interleaves them; the reader must not care):
 * every lead whose logged recency is > 0.7 buys a day after its answer. */
static void add_outcomes(const char *path) {
  lp_dataset d;
  memset(&d, 0, sizeof d);
  char err[256];
  cr_assert_eq(lp_dataset_read(&d, path, err, sizeof err), LP_OK, "%s", err);
  FILE *f = fopen(path, "a");
  int n = 0;
  for (size_t q = 0; q < d.n_q; q++)
    for (uint32_t r = 0; r < d.q[q].n_rows; r++)
      if (d.q[q].rows[r].f[LP_F_RECENCY] > 0.7f)
        fprintf(f, "{\"type\":\"outcome\",\"id\":\"o%d\",\"ts\":%lld,\"domain\":\"%s\",\"event\":\"purchased\"}\n", n++,
                (long long)(d.q[q].ts_ms + DAY), d.q[q].rows[r].domain);
  fclose(f);
  lp_dataset_free(&d);
}

Test(train, model_ranks_by_the_feature_that_decides_the_label) {
  char path[128], out[128];
  snprintf(path, sizeof path, "%s/log.jsonl", dir);
  snprintf(out, sizeof out, "%s/m.json", dir);
  write_log(path, 60);
  add_outcomes(path);
  lp_dataset d;
  memset(&d, 0, sizeof d);
  char err[512] = "";
  cr_assert_eq(lp_dataset_read(&d, path, err, sizeof err), LP_OK, "%s", err);
  cr_assert_eq(d.n_q, 60);
  cr_assert_eq(lp_dataset_label(&d, LP_LABELS_OUTCOMES, 30 * DAY, 0.25, err, sizeof err), LP_OK, "%s", err);
  cr_assert_eq(d.n_valid_first, 45);
  lp_train_params p = { "rank:pairwise", 30, 3, 0.3, 10, 1, LP_LABELS_OUTCOMES, "synthetic" };
  lp_train_report r;
  int rc = lp_train_run(&d, &p, out, &r, err, sizeof err);
  if (rc == LP_ENOENT) {
    lp_dataset_free(&d);
    cr_skip_test("%s", err);
  }
  cr_assert_eq(rc, LP_OK, "%s", err);
  cr_assert_eq(r.train_queries, 45);
  cr_assert_eq(r.valid_queries, 15);
  cr_assert_gt(r.model.p, r.v0.p, "trained %.3f v0 %.3f", r.model.p, r.v0.p);
  cr_assert_gt(r.model.ndcg, 0.95, "the label is a function of one feature: %.3f", r.model.ndcg);
  /* the written model loads with the feature count the server computes, and rises with recency */
  lp_gbdt *m = NULL;
  cr_assert_eq(lp_gbdt_load_file(out, LP_GBDT_AUTO, LP_FEATURES_N, &m, err, sizeof err), LP_OK, "%s", err);
  float row[LP_FEATURES_N];
  for (int k = 0; k < LP_FEATURES_N; k++) row[k] = 0.5f;
  double lo, hi;
  row[LP_F_RECENCY] = 0.2f;
  lp_gbdt_predict(m, row, 1, LP_FEATURES_N, &lo);
  row[LP_F_RECENCY] = 0.9f;
  lp_gbdt_predict(m, row, 1, LP_FEATURES_N, &hi);
  cr_assert_gt(hi, lo);
  lp_gbdt_free(m);
  char side[160];
  snprintf(side, sizeof side, "%s.features", out);
  size_t len;
  char *s = lpt_read_file(side, &len);
  cr_assert_not_null(s);
  cr_assert_not_null(strstr(s, "\"version\":\"" LP_FEATURES_VERSION "\""), "%s", s);
  cr_assert_not_null(strstr(s, "\"name\":\"synthetic\""), "%s", s);
  free(s);
  lp_dataset_free(&d);
}

/* An outcome after the horizon, or (for a training row) after the split, is no label. */
Test(train, labels_stay_inside_the_horizon_and_before_the_cut) {
  char path[128];
  snprintf(path, sizeof path, "%s/log.jsonl", dir);
  FILE *f = fopen(path, "w");
  char row[4096] = "";
  for (int k = 0; k < LP_FEATURES_N; k++) strcat(row, k ? ",0" : "0");
  for (int q = 0; q < 4; q++)
    fprintf(f, "{\"type\":\"query\",\"query_id\":\"q%d\",\"ts\":%lld,\"model\":\"v0\",\"version\":\"%s\",\"prompt\":\"p\","
               "\"leads\":[{\"domain\":\"a.com\",\"rank\":1,\"score\":1,\"v0\":1,\"f\":[%s]},"
               "{\"domain\":\"b.com\",\"rank\":2,\"score\":1,\"v0\":1,\"f\":[%s]}]}\n",
            q, T0 + q * 10 * DAY, LP_FEATURES_VERSION, row, row);
  /* queries at 0, 10, 20, 30 days; the last is the validation set (cut at 30 days). a.com meets 2 days
   * after q0; b.com buys at 35 days: 15 days after q2 but past the cut, 5 days after q3. */
  fprintf(f, "{\"type\":\"outcome\",\"id\":\"o1\",\"ts\":%lld,\"domain\":\"a.com\",\"event\":\"meeting\"}\n", T0 + 2 * DAY);
  fprintf(f, "{\"type\":\"outcome\",\"id\":\"o2\",\"ts\":%lld,\"domain\":\"b.com\",\"event\":\"purchased\"}\n", T0 + 35 * DAY);
  /* named outcomes credit their own answer only: b.com's meeting at 12 days names q1 (10 days): counts
   * there; a.com's purchase at 11 days names q2: not q1's, and before q2 */
  fprintf(f, "{\"type\":\"outcome\",\"id\":\"o3\",\"ts\":%lld,\"domain\":\"b.com\",\"event\":\"meeting\",\"query_id\":\"q1\"}\n",
          T0 + 12 * DAY);
  fprintf(f, "{\"type\":\"outcome\",\"id\":\"o4\",\"ts\":%lld,\"domain\":\"a.com\",\"event\":\"purchased\",\"query_id\":\"q2\"}\n",
          T0 + 11 * DAY);
  fprintf(f, "{\"type\":\"judgment\",\"query_id\":\"q3\",\"ts\":%lld,\"domain\":\"a.com\",\"score\":0.9}\n", T0 + 30 * DAY);
  fprintf(f, "{\"type\":\"other\"}\n");
  fclose(f);
  lp_dataset d;
  memset(&d, 0, sizeof d);
  char err[256];
  cr_assert_eq(lp_dataset_read(&d, path, err, sizeof err), LP_OK, "%s", err);
  cr_assert_eq(d.skipped, 1);
  cr_assert_eq(lp_dataset_label(&d, LP_LABELS_OUTCOMES, 10 * DAY, 0.25, err, sizeof err), LP_OK, "%s", err);
  cr_assert_eq(d.n_valid_first, 3);
  cr_assert_eq(d.cut_ms, T0 + 30 * DAY);
  cr_assert_eq(d.q[0].rows[0].label, 1.0f, "meeting 2 days after q0");
  cr_assert_eq(d.q[0].rows[1].label, 0.0f, "purchase 35 days after: beyond the 10-day horizon");
  cr_assert_eq(d.q[2].rows[1].label, 0.0f, "15 days after q2 but after the cut: unseen by training");
  cr_assert_eq(d.q[3].rows[1].label, 2.0f, "validation rows see it: 5 days after q3");
  cr_assert_eq(d.q[1].rows[1].label, 1.0f, "the meeting that names q1");
  cr_assert_eq(d.q[1].rows[0].label, 0.0f, "a purchase that names another answer");
  lp_dataset_free(&d);
  memset(&d, 0, sizeof d);
  cr_assert_eq(lp_dataset_read(&d, path, err, sizeof err), LP_OK, "%s", err);
  cr_assert_eq(lp_dataset_label(&d, LP_LABELS_LLM, 10 * DAY, 0.25, err, sizeof err), LP_OK, "%s", err);
  cr_assert(d.q[3].rows[0].has_judgment);
  cr_assert_eq(d.q[3].rows[0].label, 1.0f);
  cr_assert(!d.q[3].rows[1].has_judgment);
  lp_dataset_free(&d);
}

Test(train, bad_lines_are_refused_with_file_and_line) {
  char path[128];
  snprintf(path, sizeof path, "%s/bad.jsonl", dir);
  FILE *f = fopen(path, "w");
  fprintf(f, "{\"type\":\"outcome\",\"id\":\"o\",\"ts\":1,\"domain\":\"a.com\",\"event\":\"meeting\"}\n{not json\n");
  fclose(f);
  lp_dataset d;
  memset(&d, 0, sizeof d);
  char err[256] = "";
  cr_assert_eq(lp_dataset_read(&d, path, err, sizeof err), LP_EINVAL);
  cr_assert_not_null(strstr(err, "bad.jsonl:2"), "%s", err);
  lp_dataset_free(&d);
  f = fopen(path, "w");
  fprintf(f, "{\"type\":\"outcome\",\"id\":\"o\",\"ts\":1,\"domain\":\"a.com\",\"event\":\"hired\"}\n");
  fclose(f);
  memset(&d, 0, sizeof d);
  cr_assert_eq(lp_dataset_read(&d, path, err, sizeof err), LP_EINVAL);
  cr_assert_not_null(strstr(err, "known event"), "%s", err);
  lp_dataset_free(&d);
  memset(&d, 0, sizeof d);
  snprintf(path, sizeof path, "%s/none.jsonl", dir);
  cr_assert_eq(lp_dataset_read(&d, path, err, sizeof err), LP_ENOENT);
  cr_assert_eq(lp_dataset_label(&d, LP_LABELS_OUTCOMES, DAY, 0.2, err, sizeof err), LP_EINVAL, "no queries");
  lp_dataset_free(&d);
}

/* Nothing positive in the training rows: nothing to learn, said so (before XGBoost is even opened). */
Test(train, no_positive_label_is_an_error) {
  char path[128], out[128];
  snprintf(path, sizeof path, "%s/log.jsonl", dir);
  snprintf(out, sizeof out, "%s/m.json", dir);
  write_log(path, 5);
  lp_dataset d;
  memset(&d, 0, sizeof d);
  char err[256];
  cr_assert_eq(lp_dataset_read(&d, path, err, sizeof err), LP_OK, "%s", err);
  cr_assert_eq(lp_dataset_label(&d, LP_LABELS_OUTCOMES, DAY, 0.2, err, sizeof err), LP_OK, "%s", err);
  lp_train_params p = { "rank:pairwise", 5, 3, 0.3, 10, 1, LP_LABELS_OUTCOMES, NULL };
  lp_train_report r;
  cr_assert_eq(lp_train_run(&d, &p, out, &r, err, sizeof err), LP_EINVAL);
  cr_assert_not_null(strstr(err, "no positive label"), "%s", err);
  cr_assert_neq(access(out, F_OK), 0, "no model written");
  lp_dataset_free(&d);
}
