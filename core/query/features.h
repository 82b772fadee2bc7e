/*
 * features.h: the feature row of one (query, lead), the input of a learned model (docs/features.md).
 *
 * A row is LP_FEATURES_N float32 values in the fixed order of lp_feature_name(); a value that cannot be
 * known is NaN (missing, which a GBDT sends its default way). The list is versioned: a model trained on
 * another version is refused at load (core/server/model.c), and any change of a name, a definition or the
 * order is a new LP_FEATURES_VERSION.
 *
 * Point in time: every feature is computed from what the lead's state holds at the plan's now_ms, in event
 * time; evidence stamped after now_ms (the contract lets a snippet be up to 10 minutes ahead) is left out
 * of the windows, so a row logged at answer time never sees what happened later.
 *
 * Threads: the worker that owns the lead's shard (the reputation snapshot read is that worker's).
 */
#ifndef LP_QUERY_FEATURES_H
#define LP_QUERY_FEATURES_H

#include <stdint.h>

#include "query/exec.h"

#define LP_FEATURES_VERSION "lp-features-1"

enum lp_feature {
  LP_F_BM25 = 0,          /* raw BM25 of the lead's document for the query */
  LP_F_TEXT,              /* v0 text: bm25 / (bm25 + text_saturation) */
  LP_F_RECENCY_DAYS,      /* age in days of the newest relevant evidence (v0) */
  LP_F_RECENCY,           /* v0 recency: 2^(-age / half life) */
  LP_F_INDEPENDENT,       /* independent reports among the relevant evidence (v0 miners) */
  LP_F_AGREEMENT,         /* v0 agreement (m - 1) / m */
  LP_F_REPUTABLE_MINERS,  /* distinct miners behind the evidence with a reputation mean >= 0.6 */
  LP_F_REPUTATION,        /* v0: mean reputation of the distinct miners */
  LP_F_REP_EVIDENCE,      /* sum over the evidence of reputation mean x 2^(-age / recency half life) */
  LP_F_KIND_WINDOWS,      /* 7 kinds x 3 windows: count of evidence of kind k within w days of now */
  LP_F_CHURN = LP_F_KIND_WINDOWS + 21,  /* v0 churn trigger */
  LP_F_ADOPTED,           /* 1: added a tool of the query's categories within churn_window and uses it */
  LP_F_USES_NAMED,        /* 1: uses now a technology the prompt names */
  LP_F_FIT,               /* v0 ICP fit */
  LP_F_BAD_OUTCOMES,      /* bounced + invalid outcomes on the lead so far */
  LP_F_SPAM_OUTCOMES,     /* spam outcomes on the lead so far */
  LP_F_PURCHASED,         /* purchased outcomes on the lead so far */
  LP_F_LOG_EMPLOYEES,     /* log1p(employees); NaN when unknown */
  LP_F_EVIDENCE,          /* evidence held for the lead (bounded by the evidence cap) */
  LP_F_AGE_DAYS,          /* days since the lead's first evidence */
  LP_F_EXEMPLAR,          /* similarity to the query's exemplars; NaN without exemplars */
  LP_FEATURES_N
};

/* The reputation mean from which a miner counts as reputable (LP_F_REPUTABLE_MINERS): above the
 * Beta(1,1) prior of 0.5 by enough that a few good outcomes are needed to reach it. */
#define LP_FEATURES_REPUTABLE 0.6

/* Feature i's name ("bm25", "n_hiring_7d", ...), NULL beyond LP_FEATURES_N. Static strings; any thread. */
const char *lp_feature_name(uint32_t i);

/* Fills row[0..LP_FEATURES_N) for lead l under plan p. v0 holds the v0 features exec.c computed for the
 * same pair (reused, not recomputed). No allocation. The shard's worker. */
void lp_features_row(const lp_qplan *p, const lp_lead *l, const lp_v0_features *v0, float *row);

#endif
