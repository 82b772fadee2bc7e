/*
 * train.h: trains a GBDT on a labelled dataset (dataset.h) with XGBoost's C library, writes the model and
 * its sidecar, and measures it against v0 on the validation queries.
 *
 * XGBoost (Debian's libxgboost-dev) is opened with dlopen at run time, so the server binary neither links
 * nor needs it (docs/adr/0009-gbdt.md: the query path evaluates natively); without it `leadpoet train`
 * fails with a message saying what to install. The function types come from xgboost/c_api.h when the
 * header is present at build time.
 *
 * Outputs: out_path (XGBoost JSON, feature names set) and out_path + ".features", the sidecar the server
 * checks at load: {"version", "features", "name", "objective", "labels", "trained_at_ms", "cut_ms"}.
 *
 * Threads: one thread (XGBoost uses its own pool inside the calls).
 */
#ifndef LP_TRAIN_TRAIN_H
#define LP_TRAIN_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "model/gbdt.h"
#include "train/dataset.h"

typedef struct lp_train_params {
  const char *objective;      /* "rank:pairwise" (default) or "binary:logistic" */
  uint32_t rounds;            /* boosting rounds */
  uint32_t depth;             /* max_depth */
  double eta;                 /* learning rate */
  uint32_t k;                 /* P@k, NDCG@k */
  uint64_t seed;
  lp_label_source labels;
  const char *name;           /* the model's name in answers; NULL = the file's base name */
} lp_train_params;

typedef struct lp_train_metrics {
  double p, ndcg;             /* means over the validation queries with a positive row */
} lp_train_metrics;

typedef struct lp_train_report {
  size_t train_queries, train_rows, train_positive;
  size_t valid_queries, valid_rows, valid_scored;  /* scored: validation queries with a positive row */
  lp_train_metrics model, v0;
} lp_train_report;

/* Trains on d->q[0..n_valid_first), writes out_path and its sidecar, loads the written model back with
 * the native evaluator and fills rep. LP_EINVAL (no positive label in the training rows: nothing to
 * learn; errstr says so), LP_ENOENT (libxgboost missing), LP_EIO (XGBoost or the disk failed: errstr). */
int lp_train_run(const lp_dataset *d, const lp_train_params *p, const char *out_path, lp_train_report *rep,
                 char *errstr, size_t errstr_size);

/* P@k and NDCG@k (graded gains 2^label - 1) of the validation queries ranked by m (v0 when m is NULL),
 * over the queries with at least one positive row. Rows whose label is unknown (llm labels without a
 * verdict) are left out. Any thread. */
lp_train_metrics lp_train_evaluate(const lp_dataset *d, const lp_gbdt *m, uint32_t k, size_t *scored);

#endif
