#define _GNU_SOURCE  /* strcasestr */
#include "query/exec.h"

#include <ctype.h>
#include <math.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/alloc.h"
#include "query/features.h"
#include "query/topk.h"
#include "stages/ingest/ingest.h"
#include "stages/reputation/snapshot.h"

#define DAY_MS 86400000.0

/* A candidate that passed the filters, waiting in the worker's top-k (one pool slot per heap entry). */
typedef struct cand {
  const lp_lead *lead;
  lp_v0_features f;
  double v0;                  /* the v0 score */
  int has_row;                /* row holds the features (a model scored the candidate) */
  float row[LP_FEATURES_N];
} cand;

/* ---- filters ------------------------------------------------------------------------------------ */

static int domain_excluded(const char *domain, char *const *list, size_t n) {
  if (n == 0) return 0;
  size_t dl = strlen(domain);
  for (size_t i = 0; i < n; i++) {
    size_t xl = strlen(list[i]);
    if (dl == xl && memcmp(domain, list[i], dl) == 0) return 1;
    if (dl > xl && domain[dl - xl - 1] == '.' && memcmp(domain + dl - xl, list[i], xl) == 0) return 1;
  }
  return 0;
}

static int uses_tech(const lp_lead *l, const char *name) {
  for (uint32_t i = 0; i < l->n_tech; i++)
    if (strcmp(l->tech[i].name, name) == 0) return 1;
  return 0;
}

static int country_in(const lp_lead *l, const char (*list)[3], size_t n) {
  for (size_t i = 0; i < n; i++)
    if (l->country[0] == list[i][0] && l->country[1] == list[i][1]) return 1;
  return 0;
}

/* A lead's industry (free text or a NAICS code) against an industry filter or an ICP industry: a NAICS
 * prefix match when both are codes, else a case-insensitive word match either way. */
static int industry_matches(const char *lead, const char *code, const char *title) {
  if (lead == NULL) return 0;
  if (code != NULL && isdigit((unsigned char)lead[0]) && lp_icp_naics_covers(code, lead)) return 1;
  if (title != NULL && title[0] && (strcasestr(lead, title) != NULL || strcasestr(title, lead) != NULL)) return 1;
  return 0;
}

static int passes(const lp_qplan *p, const lp_lead *l) {
  const lp_query_filters *f = &p->req.filters;
  if (domain_excluded(l->domain, f->exclude_domains, f->n_exclude_domains)) return 0;
  if (domain_excluded(l->domain, (char *const *)p->icp->exclude_domains, p->icp->n_exclude_domains)) return 0;
  if (p->countries_strict && (l->country[0] == '\0' || !country_in(l, p->countries, p->n_countries))) return 0;
  for (size_t i = 0; l->country[0] && i < p->icp->n_exclude_countries; i++)
    if (memcmp(l->country, p->icp->exclude_countries[i], 2) == 0) return 0;
  if (p->employees_strict) {
    if (l->employees <= 0) return 0;
    if (p->employees_min && l->employees < p->employees_min) return 0;
    if (p->employees_max && l->employees > p->employees_max) return 0;
  }
  if (f->n_industry > 0) {
    int any = 0;
    for (size_t i = 0; i < f->n_industry && !any; i++)
      any = industry_matches(l->industry, isdigit((unsigned char)f->industry[i][0]) ? f->industry[i] : NULL, f->industry[i]);
    if (!any) return 0;
  }
  for (size_t i = 0; l->industry && i < p->icp->n_exclude_industries; i++)
    if (industry_matches(l->industry, p->icp->exclude_industries[i].code, p->icp->exclude_industries[i].title)) return 0;
  for (size_t i = 0; i < p->n_require_tech; i++)
    if (!uses_tech(l, p->require_tech[i])) return 0;
  for (size_t i = 0; i < p->n_exclude_tech; i++)
    if (uses_tech(l, p->exclude_tech[i])) return 0;
  return 1;
}

/* ---- features ----------------------------------------------------------------------------------- */

/* Whether the lead added a technology of the query's churn categories within scoring.churn_window of now
 * and still uses it: it has just bought in the category, the seller is too late (docs/scoring-v0.md). */
static int adopted(const lp_qplan *p, const lp_lead *l) {
  int64_t since = p->now_ms - p->cfg->scoring.churn_window_ms;
  for (uint32_t k = 0; p->tech && k < l->n_churn; k++) {
    const lp_churn *c = &l->churn[k];
    if (!c->added || c->tech_id == LP_TECH_NONE || c->ts_ms <= since) continue;
    const lp_tech_info *t = lp_techtable_at(p->tech, c->tech_id);
    for (uint32_t i = 0; t && i < t->n_categories; i++)
      if (t->categories[i] < p->n_churn_categories && p->churn_category[t->categories[i]] && lp_lead_uses_tech(l, c->tech))
        return 1;
  }
  return 0;
}

/* Fit to the prompt's profile: the mean of the criteria the prompt has; a lead that does not say
 * counts half, a known mismatch nothing. 0.5 when the prompt has none. When the prompt names categories,
 * one more criterion: in the market (1), or just bought in the category (0, adopted()). */
static double fit(const lp_qplan *p, const lp_lead *l) {
  double sum = 0;
  int n = 0;
  if (p->icp->n_categories > 0) {
    sum += !adopted(p, l);
    n++;
  }
  if (p->n_countries > 0) {
    sum += l->country[0] == '\0' ? 0.5 : country_in(l, p->countries, p->n_countries);
    n++;
  }
  if (p->employees_min || p->employees_max) {
    if (l->employees <= 0) sum += 0.5;
    else sum += (!p->employees_min || l->employees >= p->employees_min) && (!p->employees_max || l->employees <= p->employees_max);
    n++;
  }
  if (p->icp->n_industries > 0) {
    int m = 0;
    for (size_t i = 0; l->industry && i < p->icp->n_industries && !m; i++)
      m = industry_matches(l->industry, p->icp->industries[i].code, p->icp->industries[i].title);
    sum += l->industry == NULL ? 0.5 : m;
    n++;
  }
  if (p->n_want_tech > 0) {
    int m = 0;
    for (size_t i = 0; i < p->n_want_tech && !m; i++) m = uses_tech(l, p->want_tech[i]);
    sum += m;
    n++;
  }
  return n ? sum / n : 0.5;
}

/* The churn trigger (docs/scoring-v0.md): a tool of the query's categories removed within
 * scoring.churn_window of now and not in use again since (lp_lead_uses_tech), graded by the newest such
 * removal: 1 today, falling linearly to 0.5 at the window's edge, 0 without one. */
static double churn_trigger(const lp_qplan *p, const lp_lead *l) {
  int64_t window = p->cfg->scoring.churn_window_ms, newest = INT64_MIN;
  for (uint32_t k = 0; p->tech && k < l->n_churn; k++) {
    const lp_churn *c = &l->churn[k];
    if (c->added || c->tech_id == LP_TECH_NONE || c->ts_ms <= p->now_ms - window || c->ts_ms <= newest) continue;
    const lp_tech_info *t = lp_techtable_at(p->tech, c->tech_id);
    int in_query = 0;
    for (uint32_t i = 0; t && i < t->n_categories && !in_query; i++)
      in_query = t->categories[i] < p->n_churn_categories && p->churn_category[t->categories[i]];
    if (in_query && !lp_lead_uses_tech(l, c->tech)) newest = c->ts_ms;
  }
  if (newest == INT64_MIN) return 0;
  double age = (double)(p->now_ms - newest) / (double)window;
  return 1.0 - 0.5 * (age < 0 ? 0 : age > 1 ? 1 : age);
}

/* ---- evidence: relevance and independence ---------------------------------------------------------- */

/* An evidence is relevant to the query when it holds one of the query's terms: the analyzed terms
 * (stemmed, technology names whole, and the categories of the technologies it names) of the evidence's
 * text against the plan's word and category terms, by their 16-bit fingerprints computed once when the
 * evidence was stored (core/shard/leads.h): a merge of two short sorted lists, from the lead's one array. */
static int relevant(const lp_qplan *p, const lp_lead *l, const lp_evidence *e) {
  return lp_evidence_has_term(l, e, p->fps, p->n_fps);
}

/* Two texts are copies of one when they share at least LP_V0_NEARDUP of their distinct words (Jaccard over
 * the analyzed terms that hold a letter, so the "#12" of a mutated copy does not count): the same template
 * with another company or a few words changed. */
#define LP_V0_NEARDUP 0.6

static int near_dup(const lp_lead *l, const lp_evidence *x, const lp_evidence *y) {
  const uint16_t *a = lp_evidence_fps(l, x), *b = lp_evidence_fps(l, y);
  uint32_t na = x->n_words, nb = y->n_words, i = 0, j = 0, both = 0;
  while (i < na && j < nb) {
    if (a[i] == b[j]) both++, i++, j++;
    else if (a[i] < b[j]) i++;
    else j++;
  }
  uint32_t any = na + nb - both;
  return any > 0 && (double)both >= LP_V0_NEARDUP * (double)any;
}

/* Over the lead's relevant evidence: the newest one's time (INT64_MIN without one) and the number of
 * independent reports: distinct miners, and among them distinct texts (a text that is a near-duplicate of
 * one already counted, from whichever miner, adds nothing: copying spammers do not agree, they repeat).
 * Miner ids are interned in the lead table: equal ids are equal pointers. */
static void relevant_evidence(const lp_qplan *p, const lp_lead *l, int64_t *newest, uint32_t *independent) {
  const lp_evidence *kept[16];
  uint32_t n_kept = 0;
  *newest = INT64_MIN;
  *independent = 0;
  if (p->n_fps == 0) return;
  for (uint32_t i = 0; i < l->n_ev; i++) {
    const lp_evidence *e = &l->ev[i];
    if (!relevant(p, l, e)) continue;
    if (e->ts_ms > *newest) *newest = e->ts_ms;
    if (n_kept == 16) continue;
    int dup = 0;
    for (uint32_t j = 0; j < n_kept && !dup; j++) dup = kept[j]->miner == e->miner;
    for (uint32_t j = 0; j < n_kept && !dup; j++) dup = near_dup(l, kept[j], e);
    if (!dup) kept[n_kept++] = e;
  }
  *independent = n_kept;
}

static void features(const lp_qplan *p, const lp_lead *l, double bm25, lp_v0_features *f) {
  const lp_config *c = p->cfg;
  f->bm25 = bm25;
  f->text = bm25 / (bm25 + c->scoring.text_saturation);
  int64_t newest;
  uint32_t independent;
  relevant_evidence(p, l, &newest, &independent);
  /* Recency of the newest evidence about what the prompt sells; of any evidence when none names it (a
   * lead found by its category terms alone). */
  int64_t last = newest != INT64_MIN ? newest : l->last_ts_ms;
  double age = last > 0 ? (double)(p->now_ms - last) / DAY_MS : 3650.0;
  if (age < 0) age = 0;
  f->recency_days = age;
  f->recency = exp2(-age / ((double)c->scoring.recency_half_life_ms / DAY_MS));
  f->fit = fit(p, l);
  f->churn = churn_trigger(p, l);
  f->miners = independent;
  f->agreement = f->miners > 1 ? (double)(f->miners - 1) / f->miners : 0.0;
  /* The mean reputation of the distinct miners behind the lead's evidence, from this worker's snapshot
   * (the prior, 0.5, without the reputation stage or without evidence). */
  const lp_rep_snapshot *rep = lp_rep_snapshot_current();
  double sum = 0;
  uint32_t distinct = 0;
  /* Without estimates every miner is the prior: skip the walk. One miner: no dedupe needed. */
  uint32_t walk = lp_rep_snapshot_size(rep) == 0 ? 0 : l->n_miners == 1 && l->n_ev > 0 ? 1 : l->n_ev;
  for (uint32_t i = 0; i < walk; i++) {
    const char *m = l->ev[i].miner;
    int seen = m == NULL;
    for (uint32_t j = 0; j < i && !seen; j++) seen = l->ev[j].miner == m;  /* interned */
    if (seen) continue;
    sum += lp_rep_snapshot_mean(rep, m, strlen(m));
    distinct++;
  }
  f->reputation = distinct > 0 ? sum / distinct : lp_rep_snapshot_mean(rep, NULL, 0);
}

double lp_v0_score(const lp_config *cfg, const lp_v0_features *f) {
  const double w[] = { cfg->scoring.w_text, cfg->scoring.w_recency, cfg->scoring.w_fit,
                       cfg->scoring.w_churn, cfg->scoring.w_miners, cfg->scoring.w_reputation };
  const double x[] = { f->text, f->recency, f->fit, f->churn, f->agreement, f->reputation };
  double num = 0, den = 0;
  for (int i = 0; i < 6; i++) {
    num += w[i] * x[i];
    den += w[i];
  }
  return den > 0 ? num / den : 0;
}

/* ---- candidates and the local top-k ------------------------------------------------------------- */

/* Candidates waiting for the learned model: their feature rows are scored MODEL_BATCH at a time, so the
 * evaluator walks its trees over many rows at once (core/model: interleaved rows, a tree kept in cache). */
#define MODEL_BATCH 64
typedef struct model_batch {
  const lp_gbdt *model;
  size_t n;
  const lp_lead *lead[MODEL_BATCH];
  lp_v0_features f[MODEL_BATCH];
  double v0[MODEL_BATCH];
  float row[MODEL_BATCH][LP_FEATURES_N];
} model_batch;

static void push(lp_topk *top, cand *pool, size_t *n_pool, const lp_lead *l, const lp_v0_features *f, double v0,
                 double score, const float *row) {
  if (!lp_topk_would_enter(top, score, l->domain)) return;
  /* A full heap evicts its root: the newcomer takes the root's slot in the pool. */
  cand *c = top->n < top->k ? &pool[(*n_pool)++] : top->v[0].payload;
  c->lead = l;
  c->f = *f;
  c->v0 = v0;
  c->has_row = row != NULL;
  if (row != NULL) memcpy(c->row, row, sizeof(c->row));
  lp_topk_push(top, score, l->domain, c, NULL);
}

/* Scores the waiting rows with the model and offers them to the top-k. */
static void batch_flush(model_batch *mb, lp_topk *top, cand *pool, size_t *n_pool) {
  double score[MODEL_BATCH];
  if (mb->n == 0) return;
  lp_gbdt_predict(mb->model, &mb->row[0][0], mb->n, LP_FEATURES_N, score);
  for (size_t i = 0; i < mb->n; i++) push(top, pool, n_pool, mb->lead[i], &mb->f[i], mb->v0[i], score[i], mb->row[i]);
  mb->n = 0;
}

/* A candidate that passes the filters: scored by v0 at once, or queued for the model (mb not NULL). */
static void consider(const lp_qplan *p, model_batch *mb, const lp_lead *l, double bm25, lp_topk *top,
                     cand *pool, size_t *n_pool, size_t *scored) {
  if (l == NULL || !passes(p, l)) return;
  (*scored)++;
  lp_v0_features f;
  features(p, l, bm25, &f);
  double v0 = lp_v0_score(p->cfg, &f);
  if (mb == NULL) {
    push(top, pool, n_pool, l, &f, v0, v0, NULL);
    return;
  }
  lp_features_row(p, l, &f, mb->row[mb->n]);  /* the learned model's input (query/features.h) */
  mb->lead[mb->n] = l;
  mb->f[mb->n] = f;
  mb->v0[mb->n] = v0;
  if (++mb->n == MODEL_BATCH) batch_flush(mb, top, pool, n_pool);
}

/* The lead of a text candidate, its evidence signed first when it was stored without a signature (a table
 * without an analyzer): once per evidence, on the worker that owns the shard, whose analyzer this is. */
static const lp_lead *lead_signed(const lp_qplan *p, lp_shard *sh, lp_lead *l) {
  if (l != NULL && l->unsigned_ev && p->n_fps > 0 && sh->env != NULL) lp_lead_sign(&sh->leads, l, sh->env->analyzer);
  return l;
}

static const lp_lead *cand_lead(const lp_qplan *p, lp_shard *sh, uint32_t doc) {
  return lead_signed(p, sh, lp_leads_by_doc(&sh->leads, doc));
}

/* BM25 candidates over all of this worker's shards at once: statistics summed over the shards (so that
 * their scores compare, and a small shard's idf does not drift from the rest), and one WAND top-k whose
 * threshold carries from shard to shard, so each shard skips what cannot beat the best found so far. The
 * answer is the worker's scoring.candidates best by text match, the same as merging every shard's own
 * top list (tests/index/test_shared.c). Returns 0 when the index could not answer. */
static size_t query_terms(const lp_qplan *p) {
  return p->n_terms < LP_INDEX_MAX_QUERY_TERMS ? p->n_terms : LP_INDEX_MAX_QUERY_TERMS;
}

void lp_query_stats(const lp_qplan *p, lp_shard *const *shards, size_t n, lp_qstats *out) {
  memset(out, 0, sizeof(*out));
  for (size_t i = 0; i < n; i++)
    lp_index_collstats_add(shards[i]->index, p->terms, query_terms(p), &out->n_docs, &out->sum_dl, out->df);
}

/* The statistics as the index takes them; 0 when no document has any length (nothing can match). */
static int collstats(const lp_qstats *qs, lp_index_collstats *cs) {
  if (qs->n_docs == 0 || !(qs->sum_dl > 0)) return 0;
  *cs = (lp_index_collstats){ qs->n_docs, qs->sum_dl / (double)qs->n_docs, qs->df };
  return 1;
}

static int text_candidates(const lp_qplan *p, lp_shard *const *shards, size_t n, lp_index_hit *hits,
                           size_t cap_hits, size_t *nh) {
  lp_qstats qs;
  lp_index_collstats cs;
  size_t nq = query_terms(p);
  *nh = 0;
  lp_query_stats(p, shards, n, &qs);
  if (!collstats(&qs, &cs)) return 1;
  lp_index_heap h;
  lp_index_heap_init(&h, hits, cap_hits);
  for (size_t i = 0; i < n; i++)
    if (lp_index_topk_into(shards[i]->index, p->terms, nq, &cs, (uint32_t)i, &h) != LP_OK) return 0;
  *nh = lp_index_heap_finish(&h);
  return 1;
}

/* The most v0 score a lead whose text match is bm25 can get: lp_v0_score() of features() with every
 * feature but the text match at its ceiling (recency, fit, churn, agreement and reputation each lie in
 * [0, 1], the weights are >= 0, and the score is their weighted mean, so it can only grow with each), the
 * text match computed as features() does. Rounded up a hair. Lets run_shards() stop at the first
 * candidate, in falling bm25 order, that cannot enter the top-k whatever its other features: the
 * candidates after it are no better. Whoever changes features() or lp_v0_score() keeps this a bound. */
static double v0_ceiling(const lp_qplan *p, double bm25) {
  lp_v0_features f;
  memset(&f, 0, sizeof f);
  f.bm25 = bm25;
  f.text = bm25 / (bm25 + p->cfg->scoring.text_saturation);
  f.recency_days = 0;
  f.recency = f.fit = f.churn = f.agreement = f.reputation = 1.0;
  f.miners = UINT32_MAX;
  double s = lp_v0_score(p->cfg, &f);
  return s + fabs(s) * 1e-12 + 1e-300;
}

static void run_shards(const lp_qplan *p, model_batch *mb, lp_shard *const *shards, size_t n, lp_topk *top, cand *pool,
                       size_t *n_pool, size_t *scored, lp_index_hit *hits, size_t cap_hits) {
  if (p->n_terms > 0) {
    size_t nh = 0;
    if (!text_candidates(p, shards, n, hits, cap_hits, &nh)) return;
    /* hits are in falling bm25 order: once even the ceiling of one is strictly below the k-th score (a
     * tie may still enter by its domain), none after it can enter. */
    for (size_t i = 0; i < nh; i++) {
      if (mb == NULL && top->n == top->k && v0_ceiling(p, hits[i].score) < lp_topk_threshold(top)) break;
      consider(p, mb, cand_lead(p, shards[hits[i].shard], hits[i].doc), hits[i].score, top, pool, n_pool,
               scored);
    }
    return;
  }
  for (size_t i = 0; i < n; i++)
    for (uint32_t d = 0; d < shards[i]->leads.n_docs; d++)
      consider(p, mb, shards[i]->leads.by_doc[d], 0, top, pool, n_pool, scored);
}

/* ---- rendering ------------------------------------------------------------------------------------ */

static void kv_str(lp_buf *b, const char *key, const char *v) {
  lp_buf_printf(b, ",\"%s\":", key);
  if (v) lp_buf_json_str(b, v, strlen(v));
  else lp_buf_puts(b, "null");
}

static int cmp_ev_newest(const void *a, const void *b) {
  const lp_evidence *x = *(const lp_evidence *const *)a, *y = *(const lp_evidence *const *)b;
  if (x->ts_ms != y->ts_ms) return x->ts_ms < y->ts_ms ? 1 : -1;
  return strcmp(x->snippet_id, y->snippet_id);
}

static void render_signals(const lp_qplan *p, const lp_lead *l, const lp_v0_features *f, lp_buf *b) {
  lp_buf_printf(b, ",\"signals\":{\"text_match\":%.4f,\"recency_days\":%.2f,\"miners\":%u,\"reputation\":%.3f,"
                   "\"icp_fit\":%.3f,\"churn_trigger\":%s,\"features\":{\"text\":%.6f,\"recency\":%.6f,"
                   "\"fit\":%.6f,\"churn\":%.6f,\"agreement\":%.6f,\"reputation\":%.6f},\"churn\":[",
                f->bm25, f->recency_days, f->miners, f->reputation, f->fit, f->churn ? "true" : "false", f->text,
                f->recency, f->fit, f->churn, f->agreement, f->reputation);
  int64_t since = p->now_ms - p->cfg->scoring.churn_window_ms;
  int first = 1;
  for (uint32_t k = 0; k < l->n_churn; k++) {
    const lp_churn *c = &l->churn[k];
    if (c->ts_ms < since) continue;
    lp_buf_puts(b, first ? "\"" : ",\"");
    lp_buf_puts(b, c->added ? "added:" : "removed:");
    lp_buf_json_escape(b, c->tech, strlen(c->tech));
    lp_buf_puts(b, "\"");
    first = 0;
  }
  lp_buf_puts(b, "]}");
}

static void render_evidence(const lp_lead *l, lp_buf *b) {
  const lp_evidence *order[1024];
  uint32_t n = l->n_ev < 1024 ? l->n_ev : 1024;
  for (uint32_t i = 0; i < n; i++) order[i] = &l->ev[i];
  if (n > 1) qsort(order, n, sizeof(order[0]), cmp_ev_newest);
  lp_buf_puts(b, ",\"evidence\":[");
  for (uint32_t i = 0; i < n && i < 3; i++) {
    const lp_evidence *e = order[i];
    lp_buf_puts(b, i ? ",{\"snippet_id\":" : "{\"snippet_id\":");
    lp_buf_json_str(b, e->snippet_id, strlen(e->snippet_id));
    kv_str(b, "miner", e->miner);
    lp_buf_printf(b, ",\"kind\":\"%s\",\"ts\":%lld", lp_snippet_kind_name(e->kind), (long long)e->ts_ms);
    kv_str(b, "text", e->text);
    if (e->has_url) kv_str(b, "url", lp_evidence_url(e));
    lp_buf_puts(b, "}");
  }
  lp_buf_puts(b, "]");
}

static int render(const lp_qplan *p, double score, const cand *c, lp_qhit *h) {
  const lp_lead *l = c->lead;
  lp_buf b = LP_BUF_INIT;
  lp_buf_puts(&b, "\"domain\":");
  lp_buf_json_str(&b, l->domain, strlen(l->domain));
  kv_str(&b, "name", l->name);
  lp_buf_printf(&b, ",\"score\":%.6f", score);
  kv_str(&b, "industry", l->industry);
  if (l->employees > 0) lp_buf_printf(&b, ",\"employees\":%lld", (long long)l->employees);
  else lp_buf_puts(&b, ",\"employees\":null");
  kv_str(&b, "country", l->country[0] ? l->country : NULL);
  if (p->req.explain) {
    render_signals(p, l, &c->f, &b);
    render_evidence(l, &b);
  }
  h->score = score;
  h->v0 = c->v0;
  h->domain = lp_strdup(l->domain);
  h->json = lp_buf_steal(&b, &h->json_len);
  if (c->has_row || (p->cfg->scoring.train_log && p->cfg->scoring.train_log[0])) {  /* the row goes to the training log (core/train) */
    h->features = lp_malloc(sizeof(c->row));
    if (h->features == NULL) return LP_ENOMEM;
    if (c->has_row) memcpy(h->features, c->row, sizeof(c->row));
    else lp_features_row(p, l, &c->f, h->features);
  }
  return h->domain && h->json ? LP_OK : LP_ENOMEM;
}

static double thread_cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void lp_query_run(const lp_qplan *p, lp_shard *const *shards, size_t n, lp_qresult *out) {
  lp_query_run_model(p, NULL, shards, n, out);
}

void lp_query_run_model(const lp_qplan *p, const lp_gbdt *model, lp_shard *const *shards, size_t n, lp_qresult *out) {
  double t0 = thread_cpu_s();
  memset(out, 0, sizeof(*out));
  size_t k = p->req.k;
  size_t cap_hits = (size_t)p->cfg->scoring.candidates;
  if (cap_hits < k) cap_hits = k;
  lp_topk top;
  cand *pool = lp_malloc((k ? k : 1) * sizeof(cand));
  lp_index_hit *hits = lp_malloc(cap_hits * sizeof(lp_index_hit));
  model_batch *mb = model != NULL ? lp_malloc(sizeof(model_batch)) : NULL;
  if (pool == NULL || hits == NULL || (model != NULL && mb == NULL) || lp_topk_init(&top, k) != LP_OK) {
    out->failed = 1;
    lp_free(pool);
    lp_free(hits);
    lp_free(mb);
    return;
  }
  size_t n_pool = 0;
  if (mb != NULL) {
    mb->model = model;
    mb->n = 0;
  }
  run_shards(p, mb, shards, n, &top, pool, &n_pool, &out->candidates, hits, cap_hits);
  if (mb != NULL) batch_flush(mb, &top, pool, &n_pool);
  lp_free(mb);
  size_t m;
  lp_topk_entry *e = lp_topk_sorted(&top, &m);
  out->hits = lp_calloc(m ? m : 1, sizeof(lp_qhit));
  for (size_t i = 0; out->hits && i < m; i++) {
    if (render(p, e[i].score, e[i].payload, &out->hits[out->n]) != LP_OK) out->failed = 1;
    out->n++;
  }
  if (out->hits == NULL) out->failed = 1;
  lp_topk_free(&top);
  lp_free(pool);
  lp_free(hits);
  out->cpu_s = thread_cpu_s() - t0;
}

void lp_qhit_free(lp_qhit *h) {
  lp_free(h->domain);
  lp_free(h->json);
  lp_free(h->features);
  memset(h, 0, sizeof(*h));
}

/* ---- one lead --------------------------------------------------------------------------------------- */

/* The path of one candidate through run_shards(), for a lead named by the caller: its BM25 from the index
 * under the worker's statistics (lp_index_doc_score equals WAND's score bit for bit), then consider()'s
 * filters, features and score (v0, or the model over a batch of one row: each row's prediction is its own
 * sum, whatever the batch), then render() when the score reaches render_min (rendering costs about as
 * much as the rest: the caller that only compares scores spares it). */
int lp_query_score_lead(const lp_qplan *p, const lp_gbdt *model, const lp_qstats *qs, lp_shard *sh, lp_lead *lead,
                        double render_min, lp_qhit *hit) {
  memset(hit, 0, sizeof(*hit));
  const lp_lead *l = lead_signed(p, sh, lead);
  double bm25 = 0;
  if (p->n_terms > 0) {
    lp_index_collstats cs;
    if (!collstats(qs, &cs)) return 0;
    int rc = lp_index_doc_score(sh->index, l->doc, p->terms, query_terms(p), &cs, &bm25);
    if (rc == LP_ENOENT) return 0;  /* no document in the index: never a candidate */
    if (rc != LP_OK) return rc;
    if (!(bm25 > 0)) return 0;      /* no term of the prompt: WAND never offers it */
  }
  if (!passes(p, l)) return 0;
  cand c;
  c.lead = l;
  features(p, l, bm25, &c.f);
  c.v0 = lp_v0_score(p->cfg, &c.f);
  c.has_row = model != NULL;
  double score = c.v0;
  if (model != NULL) {
    lp_features_row(p, l, &c.f, c.row);
    lp_gbdt_predict(model, c.row, 1, LP_FEATURES_N, &score);
  }
  if (!(score >= render_min)) {  /* the score alone: the caller needs no JSON below render_min */
    hit->score = score;
    hit->v0 = c.v0;
    hit->domain = lp_strdup(l->domain);
    return hit->domain != NULL ? 1 : LP_ENOMEM;
  }
  int rc = render(p, score, &c, hit);
  if (rc != LP_OK) {
    lp_qhit_free(hit);
    return rc;
  }
  return 1;
}

void lp_qresult_free(lp_qresult *r) {
  for (size_t i = 0; i < r->n; i++) lp_qhit_free(&r->hits[i]);
  lp_free(r->hits);
  memset(r, 0, sizeof(*r));
}
