/*
 * dataset.h: a training set built from training logs (trainlog.h), for `leadpoet train`.
 *
 * Rows: one per (query, lead shown), with the features logged at answer time and the v0 score. Labels,
 * graded, from what happened after the answer and within the horizon, in event time:
 *   outcomes: 2 when the lead had a `purchased` outcome in (answer ts, answer ts + horizon], else 1 for a
 *             `meeting`, else 0; an outcome that names a query_id counts for that answer only (the
 *             delivery it credits), one without counts for every answer that showed the lead;
 *   llm:      the LLM stage's verdict on that (query, lead) (a judgment line), 1 when >= 0.5, else 0; rows
 *             without a verdict are left out.
 * Split by time, no leakage: queries sorted by answer time, the last `valid_frac` of them are the
 * validation set, its first answer time is the cut, and a training row's label only looks at outcomes
 * before the cut (an outcome the system had not seen when the training set ends cannot teach it).
 *
 * Threads: one thread; the dataset owns everything in it.
 */
#ifndef LP_TRAIN_DATASET_H
#define LP_TRAIN_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "query/features.h"

typedef enum lp_label_source { LP_LABELS_OUTCOMES = 0, LP_LABELS_LLM } lp_label_source;

typedef struct lp_train_row {
  char *domain;
  uint32_t rank;
  double v0, score;            /* v0 score and the score the answer had */
  float f[LP_FEATURES_N];
  float label;
  int has_judgment;            /* llm: a verdict exists */
  double judgment;
} lp_train_row;

typedef struct lp_train_query {
  char *query_id;
  int64_t ts_ms;
  lp_train_row *rows;          /* in the logged order (rank) */
  uint32_t n_rows;
} lp_train_query;

typedef struct lp_train_outcome {
  char *domain;
  char *query_id;              /* NULL when the outcome names none */
  int64_t ts_ms;
  uint32_t event;              /* enum lp_outcome_event */
} lp_train_outcome;

typedef struct lp_dataset {
  lp_train_query *q;           /* sorted by ts once lp_dataset_label ran */
  size_t n_q, cap_q;
  lp_train_outcome *o;         /* sorted by domain, then ts, once labelled */
  size_t n_o, cap_o;
  struct lp_train_judgment { char *query_id, *domain; double score; } *j;  /* sorted once labelled */
  size_t n_j, cap_j;
  size_t lines, skipped;       /* lines read; lines of another kind or feature version, left out */
  size_t n_valid_first;        /* after lp_dataset_label: q[n_valid_first..n_q) is the validation set */
  int64_t cut_ms;
  lp_label_source labels;      /* what lp_dataset_label labelled with */
} lp_dataset;

/* Appends the lines of a log file. A line that is not JSON or lacks a field is an error naming the
 * file and line (LP_EINVAL); a query line of another feature version is skipped (counted). LP_ENOENT /
 * LP_EIO when unreadable, LP_ENOMEM. */
int lp_dataset_read(lp_dataset *d, const char *path, char *errstr, size_t errstr_size);
/* Sorts, splits (valid_frac in (0, 1)) and labels every row. LP_EINVAL when fewer than 2 queries. */
int lp_dataset_label(lp_dataset *d, lp_label_source src, int64_t horizon_ms, double valid_frac, char *errstr,
                     size_t errstr_size);
void lp_dataset_free(lp_dataset *d);

#endif
