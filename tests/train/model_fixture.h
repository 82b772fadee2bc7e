/*
 * model_fixture.h: what the model-serving tests share (test_reload.c, test_ab_reload.c): a scratch folder,
 * a small XGBoost model trained from a synthetic training log (its label follows the text feature), the
 * server the suite starts, and the suite's teardown.
 */
#ifndef LP_TESTS_MODEL_FIXTURE_H
#define LP_TESTS_MODEL_FIXTURE_H
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "helpers/helpers.h"
#include "query/features.h"
#include "train/dataset.h"
#include "train/train.h"

#define DAY 86400000LL
#define T0 1764000000000LL

static char dir[64];  /* the test's scratch folder (mkdtemp in its setup) */
static lpt_server srv;  /* the server the suite's setup started, when started */
static int started;

static inline void sh(const char *fmt, const char *a, const char *b) __attribute__((format(printf, 1, 0)));
static inline void sh(const char *fmt, const char *a, const char *b) {
  char cmd[512];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
  snprintf(cmd, sizeof cmd, fmt, a, b);  /* fmt: a literal of this file with two %s */
#pragma GCC diagnostic pop
  cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/* Trains a small model named name into path (a label that follows the text feature). 0, or -1 when
 * libxgboost is missing. */
static inline int train_model(const char *path, const char *name) {
  char log[128];
  snprintf(log, sizeof log, "%s/synthetic.jsonl", dir);
  FILE *f = fopen(log, "w");
  cr_assert_not_null(f);
  for (int q = 0; q < 20; q++) {
    fprintf(f, "{\"type\":\"query\",\"query_id\":\"q%d\",\"ts\":%lld,\"model\":\"v0\",\"version\":\"%s\",\"prompt\":\"p\",\"leads\":[",
            q, T0 + q * DAY, LP_FEATURES_VERSION);
    for (int l = 0; l < 10; l++) {
      fprintf(f, "%s{\"domain\":\"d%d-%d.com\",\"rank\":%d,\"score\":0,\"v0\":0,\"f\":[", l ? "," : "", q, l, l + 1);
      for (int k = 0; k < LP_FEATURES_N; k++) fprintf(f, "%s%d", k ? "," : "", k == LP_F_TEXT ? l : 0);
      fprintf(f, "]}");
    }
    fprintf(f, "]}\n");
    for (int l = 7; l < 10; l++)
      fprintf(f, "{\"type\":\"outcome\",\"id\":\"o%d-%d\",\"ts\":%lld,\"domain\":\"d%d-%d.com\",\"event\":\"purchased\"}\n", q, l,
              T0 + q * DAY + 3600000LL, q, l);
  }
  fclose(f);
  lp_dataset d;
  memset(&d, 0, sizeof d);
  char err[512];
  cr_assert_eq(lp_dataset_read(&d, log, err, sizeof err), LP_OK, "%s", err);
  cr_assert_eq(lp_dataset_label(&d, LP_LABELS_OUTCOMES, 30 * DAY, 0.2, err, sizeof err), LP_OK, "%s", err);
  lp_train_params p = { "rank:pairwise", 5, 2, 0.3, 5, 1, LP_LABELS_OUTCOMES, name };
  lp_train_report r;
  int rc = lp_train_run(&d, &p, path, &r, err, sizeof err);
  lp_dataset_free(&d);
  if (rc == LP_ENOENT) return -1;
  cr_assert_eq(rc, LP_OK, "%s", err);
  return 0;
}

/* The suite's fini: stops the server it started and removes the scratch folder. */
static inline void teardown(void) {
  if (started) cr_assert_eq(lpt_server_stop(&srv), 0);
  started = 0;
  sh("rm -rf %s%s", dir, "");
}

static inline long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
