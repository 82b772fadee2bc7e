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

/* The collection statistics of a plan's terms over a worker's shards: what lp_query_run scores BM25 with
 * (documents, total length, and each term's document frequency summed over shards[0..n), in that order). */
typedef struct lp_qstats {
  uint64_t n_docs;
  double sum_dl;
  uint64_t df[LP_INDEX_MAX_QUERY_TERMS];
} lp_qstats;

/* Fills *out for p over shards[0..n) (a dictionary look-up per term per shard). Pass the shards in the
 * order lp_query_run gets them, so the sums (and the scores) are the same bit for bit. Worker that owns
 * the shards; *out is the caller's. */
void lp_query_stats(const lp_qplan *p, lp_shard *const *shards, size_t n, lp_qstats *out);

/* Scores one lead as lp_query_run_model(p, model, ...) over the shards of qs scores it: the same BM25
 * (lp_index_doc_score under the statistics qs, which the caller computed with lp_query_stats over the
 * worker's shards, sh among them, since the last change to any of them), filters, features, v0 or model
 * score and rendered JSON; a hit's score is therefore the lead's score in the answer of POST /v1/leads
 * (before a paid re-rank stage). One lead costs a look-up per query term in the index, not a query.
 * Returns 1 and fills *hit (the caller frees it with lp_qhit_free) when the lead is a candidate of the
 * query: score, v0 and domain always; the JSON and the feature row, as lp_query_run renders them, only
 * when the score is at least render_min (-INFINITY: always), else json NULL, json_len 0, features NULL.
 * Returns 0 (hit zeroed) when the lead is no candidate: filtered out, or the prompt has searchable words
 * and the lead's document holds none of them (or is not in the index yet). Unlike the answer, no cut at
 * scoring.candidates applies: a lead whose text match is below the worker's scoring.candidates-th best
 * is scored here but left out of a full query's candidates. LP_ENOMEM, or the index's error (LP_EINVAL:
 * a bad term or statistic, detail in lp_index_errstr(sh->index)), hit zeroed.
 * lead is sh's (lp_leads_get) and not NULL; its evidence may be signed on the way (as a query does).
 * model as for lp_query_run_model, NULL = v0. Worker that owns sh. */
int lp_query_score_lead(const lp_qplan *p, const lp_gbdt *model, const lp_qstats *qs, lp_shard *sh, lp_lead *lead,
                        double render_min, lp_qhit *hit);

/* Frees what a hit holds and zeroes it. Any thread that owns the hit. */
void lp_qhit_free(lp_qhit *h);

/* The v0 score of a feature vector with the configured weights. */
double lp_v0_score(const lp_config *cfg, const lp_v0_features *f);

#endif
