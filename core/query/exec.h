/*
 * exec.h: a query on one worker's shards, and model v0 (docs/scoring-v0.md).
 *
 * For each shard: candidates by text match from the shard's index (block-max WAND, scoring.candidates of
 * them), or every lead when the prompt has no searchable words; the request's strict filters and the
 * prompt's exclusions; the v0 features and score; a local top-k. The worker then renders each of its hits
 * as the JSON object of the answer (without "rank", which only the merge knows), so that no pointer into a
 * shard ever leaves its worker.
 *
 * Threads: lp_query_run on the worker that owns the shards; the result is handed to the reactor with
 * the message and freed there.
 */
#ifndef LP_QUERY_EXEC_H
#define LP_QUERY_EXEC_H

#include "model/gbdt.h"
#include "query/plan.h"
#include "shard/shard.h"

typedef struct lp_qhit {
  double score;
  char *domain;       /* lp_malloc'd */
  char *json;         /* the lead's object without its opening '{' and without "rank" */
  size_t json_len;
  double v0;          /* the v0 score (the same as score when no model ran) */
  float *features;    /* lp_malloc'd LP_FEATURES_N row (query/features.h) when the plan logs or a model
                         scored; else NULL */
} lp_qhit;

typedef struct lp_qresult {
  lp_qhit *hits;      /* best first */
  size_t n;
  size_t candidates;  /* leads scored */
  double cpu_s;       /* this worker's CPU time for the query */
  int failed;         /* out of memory: the answer would be incomplete */
} lp_qresult;

/* The v0 features of one lead for one plan, in [0, 1] but for bm25 and recency_days. */
typedef struct lp_v0_features {
  double bm25, text, recency_days, recency, fit, churn, agreement, reputation;
  uint32_t miners;
} lp_v0_features;

/* Runs p over shards[0..n), keeping the best p->req.k. */
void lp_query_run(const lp_qplan *p, lp_shard *const *shards, size_t n, lp_qresult *out);
/* The same, scored by model (the prediction over each candidate's feature row) when model is not NULL,
 * by v0 when it is. The caller keeps model alive until the call returns; it must have 1 output and
 * LP_FEATURES_N features (core/server/model.c checks at load). Each hit then carries its row. */
void lp_query_run_model(const lp_qplan *p, const lp_gbdt *model, lp_shard *const *shards, size_t n, lp_qresult *out);
void lp_qresult_free(lp_qresult *r);

/* The v0 score of a feature vector with the configured weights. */
double lp_v0_score(const lp_config *cfg, const lp_v0_features *f);

#endif
