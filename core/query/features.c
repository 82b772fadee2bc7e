/*
 * features.c: the feature row of one (query, lead) (features.h, docs/features.md).
 */
#include "query/features.h"

#include <math.h>
#include <string.h>

#include "stages/ingest/ingest.h"
#include "stages/reputation/snapshot.h"

#define DAY_MS 86400000.0

static const int window_days[3] = { 7, 30, 90 };

/* The names, in row order. The kind-window names are "n_<kind>_<w>d", kinds in enum order. */
static const char *const names[LP_FEATURES_N] = {
  "bm25", "text", "recency_days", "recency", "independent_reports", "agreement", "reputable_miners",
  "reputation", "rep_weighted_evidence",
  "n_hiring_7d", "n_hiring_30d", "n_hiring_90d", "n_funding_7d", "n_funding_30d", "n_funding_90d",
  "n_tech_7d", "n_tech_30d", "n_tech_90d", "n_news_7d", "n_news_30d", "n_news_90d",
  "n_review_7d", "n_review_30d", "n_review_90d", "n_event_7d", "n_event_30d", "n_event_90d",
  "n_web_7d", "n_web_30d", "n_web_90d",
  "churn_trigger", "adopted", "uses_named_tech", "icp_fit", "bad_outcomes", "spam_outcomes", "purchased",
  "log_employees", "evidence", "age_days", "exemplar_similarity",
};

_Static_assert(LP_KIND__COUNT == 7, "the kind-window features assume the contract's 7 kinds");

const char *lp_feature_name(uint32_t i) { return i < LP_FEATURES_N ? names[i] : NULL; }

/* Whether the lead added a technology of the query's churn categories within scoring.churn_window of now
 * (event time, not after now) and still uses it: it has just bought in the category. The same rule as
 * v0's "in the market" criterion of fit, kept as a feature of its own so a model can weigh it alone. */
static int adopted(const lp_qplan *p, const lp_lead *l) {
  int64_t since = p->now_ms - p->cfg->scoring.churn_window_ms;
  for (uint32_t k = 0; p->tech && k < l->n_churn; k++) {
    const lp_churn *c = &l->churn[k];
    if (!c->added || c->tech_id == LP_TECH_NONE || c->ts_ms <= since || c->ts_ms > p->now_ms) continue;
    const lp_tech_info *t = lp_techtable_at(p->tech, c->tech_id);
    for (uint32_t i = 0; t && i < t->n_categories; i++)
      if (t->categories[i] < p->n_churn_categories && p->churn_category[t->categories[i]] && lp_lead_uses_tech(l, c->tech))
        return 1;
  }
  return 0;
}

static int uses_named(const lp_qplan *p, const lp_lead *l) {
  for (size_t i = 0; i < p->n_want_tech; i++)
    if (lp_lead_uses_tech(l, p->want_tech[i])) return 1;
  return 0;
}

/* Counts per kind and window, and the reputation-weighted evidence: one walk over the evidence held. A
 * snippet stamped after now is not known at now and counts nowhere. Distinct reputable miners too. */
static void evidence_features(const lp_qplan *p, const lp_lead *l, float *row) {
  const lp_rep_snapshot *rep = lp_rep_snapshot_current();
  double half_days = (double)p->cfg->scoring.recency_half_life_ms / DAY_MS;
  double weighted = 0;
  uint32_t counts[LP_KIND__COUNT][3];
  uint32_t reputable = 0;
  memset(counts, 0, sizeof counts);
  for (uint32_t i = 0; i < l->n_ev; i++) {
    const lp_evidence *e = &l->ev[i];
    if (e->ts_ms > p->now_ms) continue;
    double age = (double)(p->now_ms - e->ts_ms) / DAY_MS;
    for (int w = 0; w < 3 && e->kind < LP_KIND__COUNT; w++)
      if (age <= window_days[w]) counts[e->kind][w]++;
    double mean = lp_rep_snapshot_mean(rep, e->miner, e->miner ? strlen(e->miner) : 0);
    weighted += mean * exp2(-age / half_days);
    int seen = e->miner == NULL;
    for (uint32_t j = 0; j < i && !seen; j++)
      seen = l->ev[j].miner != NULL && l->ev[j].ts_ms <= p->now_ms && strcmp(l->ev[j].miner, e->miner) == 0;
    if (!seen && mean >= LP_FEATURES_REPUTABLE) reputable++;
  }
  for (int k = 0; k < LP_KIND__COUNT; k++)
    for (int w = 0; w < 3; w++) row[LP_F_KIND_WINDOWS + 3 * k + w] = (float)counts[k][w];
  row[LP_F_REPUTABLE_MINERS] = (float)reputable;
  row[LP_F_REP_EVIDENCE] = (float)weighted;
}

void lp_features_row(const lp_qplan *p, const lp_lead *l, const lp_v0_features *v0, float *row) {
  row[LP_F_BM25] = (float)v0->bm25;
  row[LP_F_TEXT] = (float)v0->text;
  row[LP_F_RECENCY_DAYS] = (float)v0->recency_days;
  row[LP_F_RECENCY] = (float)v0->recency;
  row[LP_F_INDEPENDENT] = (float)v0->miners;
  row[LP_F_AGREEMENT] = (float)v0->agreement;
  row[LP_F_REPUTATION] = (float)v0->reputation;
  evidence_features(p, l, row);
  row[LP_F_CHURN] = (float)v0->churn;
  row[LP_F_ADOPTED] = (float)adopted(p, l);
  row[LP_F_USES_NAMED] = (float)uses_named(p, l);
  row[LP_F_FIT] = (float)v0->fit;
  row[LP_F_BAD_OUTCOMES] = (float)(l->outcomes[LP_EVENT_BOUNCED] + l->outcomes[LP_EVENT_INVALID]);
  row[LP_F_SPAM_OUTCOMES] = (float)l->outcomes[LP_EVENT_SPAM];
  row[LP_F_PURCHASED] = (float)l->outcomes[LP_EVENT_PURCHASED];
  row[LP_F_LOG_EMPLOYEES] = l->employees > 0 ? (float)log1p((double)l->employees) : NAN;
  row[LP_F_EVIDENCE] = (float)l->n_ev;
  double first = l->first_ts_ms > 0 && l->first_ts_ms <= p->now_ms ? (double)(p->now_ms - l->first_ts_ms) / DAY_MS : 0;
  row[LP_F_AGE_DAYS] = (float)first;
  row[LP_F_EXEMPLAR] = NAN;  /* missing: the shards hold no exemplar index (core/ann is not in a shard) */
}
