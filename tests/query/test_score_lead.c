/*
 * One lead scored alone (lp_query_score_lead, over lp_index_doc_score) gives exactly what a full query
 * gives it: the same BM25 bit for bit (the worker-wide statistics of lp_query_stats), the same score (v0
 * or a model) and the same rendered JSON, for every lead of the answer; a lead the answer leaves out
 * (filtered, excluded, no word of the prompt) is not a candidate. The index's one-document scorer is
 * checked against WAND and the exhaustive scorer over mutable and compressed segments, with its errors.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "config/config.h"
#include "icp/icp.h"
#include "index/index.h"
#include "query/exec.h"
#include "query/features.h"
#include "query/plan.h"
#include "query/request.h"
#include "shard/shard.h"
#include "text/analyzer.h"
#include "text/techtable.h"
#include "worker/worker.h"

#define NSHARDS 3
#define NLEADS 60

static lp_techtable *tech;
static lp_analyzer *an;
static lp_analyzer_ctx *actx;
static lp_icp_parser *parser;
static lp_config cfg;
static lp_shard_env env;
static lp_shard shards[NSHARDS];
static lp_shard *sh[NSHARDS];
static const int64_t T0 = 1760000000000ll;

static const char *words[] = { "cloud", "migration", "kubernetes", "hiring", "engineers", "payments", "stripe",
                               "funding", "series", "security", "audit", "data", "warehouse", "snowflake",
                               "marketing", "automation", "sales", "platform", "heroku", "postgres", "redis",
                               "analytics", "expansion", "europe", "office", "compliance", "soc2", "devops" };
#define NWORDS (sizeof(words) / sizeof(words[0]))

static uint64_t rng = 7;
static uint32_t rnd(uint32_t n) {
  rng = rng * 6364136223846793005ull + 1442695040888963407ull;
  return (uint32_t)(rng >> 33) % n;
}

static lp_str S(const char *s) { return (lp_str){ s, strlen(s) }; }

static void setup(void) {
  char err[256] = "";
  cr_assert_eq(lp_techtable_builtin(&tech, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(lp_analyzer_new(&an, tech, NULL, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(lp_analyzer_ctx_new(&actx, an, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(lp_icp_parser_new(&parser, tech, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(lp_config_load_string(&cfg, "", "test", err, sizeof(err)), LP_OK, "%s", err);
  memset(&env, 0, sizeof(env));
  env.evidence_cap = 8;
  lp_index_params_default(&env.index);
  env.index.mem_postings = 64;  /* small: most documents end in compressed segments */
  env.analyzer = actx;
  env.tech = tech;
  env.age_half_life_days = 30;
  env.retention_ms = 365ll * 86400000;
  for (uint32_t i = 0; i < NSHARDS; i++) {
    cr_assert_eq(lp_shard_open(&shards[i], i, &env), LP_OK);
    sh[i] = &shards[i];
  }
  static const char *countries[] = { "DE", "US", "FR", "" };
  char domain[32], id[32], text[256];
  for (int n = 0; n < 400; n++) {
    int lead = (int)rnd(NLEADS);
    snprintf(domain, sizeof domain, "lead%02d.com", lead);
    size_t off = 0;
    int nw = 2 + (int)rnd(8);
    for (int w = 0; w < nw; w++) off += (size_t)snprintf(text + off, sizeof text - off, "%s ", words[rnd(NWORDS)]);
    snprintf(id, sizeof id, "s%d", n);
    char miner[8];
    snprintf(miner, sizeof miner, "m%u", rnd(5));
    lp_snippet s;
    memset(&s, 0, sizeof(s));
    s.id = S(id);
    s.miner = S(miner);
    s.domain = S(domain);
    s.domain_hash = lp_domain_hash(domain, strlen(domain));
    s.country = S(countries[lead % 4]);
    s.employees = lead % 3 == 0 ? 0 : 20 * (lead + 1);
    s.ts_ms = T0 + (int64_t)n * 3600 * 1000;
    s.text = (lp_str){ text, off };
    s.kind = n % 2 ? LP_KIND_NEWS : LP_KIND_HIRING;
    lp_shard *to = sh[lead % NSHARDS];
    cr_assert_null(lp_shard_snippet(to, &s));
    if (n % 9 == 8) cr_assert_eq(lp_shard_flush(to), LP_OK);
    if (n % 25 == 24) lp_shard_maintain(to, 8, 64);
  }
  for (uint32_t i = 0; i < NSHARDS; i++) cr_assert_eq(lp_shard_flush(sh[i]), LP_OK);
}

static void teardown(void) {
  for (uint32_t i = 0; i < NSHARDS; i++) lp_shard_close(&shards[i]);
  lp_config_free(&cfg);
  lp_icp_parser_free(parser);
  lp_analyzer_ctx_free(actx);
  lp_analyzer_free(an);
  lp_techtable_free(tech);
}

TestSuite(score_lead, .init = setup, .fini = teardown, .timeout = 60);

static void plan_of(const char *body, lp_qplan *p) {
  char err[256] = "";
  lp_query_req qr;
  cr_assert_eq(lp_query_req_parse(body, strlen(body), 0.05, &qr, err, sizeof(err)), LP_OK, "%s", err);
  lp_icp *icp = NULL;
  cr_assert_eq(lp_icp_parse(parser, qr.prompt, qr.prompt_len, &icp), LP_OK);
  cr_assert_eq(lp_qplan_build(p, &qr, icp, actx, tech, parser, &cfg, T0 + 400ll * 3600 * 1000), LP_OK);
}

static lp_lead *lead_named(const char *domain, lp_shard **owner) {
  for (uint32_t i = 0; i < NSHARDS; i++) {
    lp_lead *l = lp_leads_get(&sh[i]->leads, domain, strlen(domain), lp_domain_hash(domain, strlen(domain)));
    if (l != NULL) {
      *owner = sh[i];
      return l;
    }
  }
  return NULL;
}

/* Every lead of the answer scores alone exactly as in the answer; every other lead is no candidate.
 * k is above the number of leads, so the answer holds every candidate. Returns the answer's size. */
static size_t check_plan(const char *body, const lp_gbdt *model) {
  lp_qplan p;
  plan_of(body, &p);
  lp_qresult r;
  lp_query_run_model(&p, model, sh, NSHARDS, &r);
  cr_assert_eq(r.failed, 0);
  lp_qstats qs;
  lp_query_stats(&p, sh, NSHARDS, &qs);
  size_t in_answer = 0;
  for (int n = 0; n < NLEADS; n++) {
    char domain[32];
    snprintf(domain, sizeof domain, "lead%02d.com", n);
    lp_shard *owner = NULL;
    lp_lead *l = lead_named(domain, &owner);
    if (l == NULL) continue;
    const lp_qhit *want = NULL;
    for (size_t j = 0; j < r.n && want == NULL; j++)
      if (strcmp(r.hits[j].domain, domain) == 0) want = &r.hits[j];
    lp_qhit got;
    int rc = lp_query_score_lead(&p, model, &qs, owner, l, -INFINITY, &got);
    if (want == NULL) {
      cr_assert_eq(rc, 0, "%s is not in the answer to %s, scored alone: %d", domain, body, rc);
      cr_assert_null(got.json);
      continue;
    }
    in_answer++;
    cr_assert_eq(rc, 1, "%s is in the answer to %s: %d", domain, body, rc);
    cr_assert(got.score == want->score, "%s: %.17g alone, %.17g in the answer", domain, got.score, want->score);
    cr_assert(got.v0 == want->v0, "%s: v0 %.17g alone, %.17g in the answer", domain, got.v0, want->v0);
    cr_assert_str_eq(got.domain, want->domain);
    cr_assert_eq(got.json_len, want->json_len, "%s", domain);
    cr_assert_eq(memcmp(got.json, want->json, got.json_len), 0, "%s:\n%s\n%s", domain, got.json, want->json);
    cr_assert_eq(got.features != NULL, want->features != NULL);
    if (got.features) cr_assert_eq(memcmp(got.features, want->features, LP_FEATURES_N * sizeof(float)), 0);
    lp_qhit_free(&got);
    cr_assert_null(got.json, "freed and zeroed");
    /* below render_min: the same score, no JSON; at render_min: rendered */
    cr_assert_eq(lp_query_score_lead(&p, model, &qs, owner, l, want->score * 2 + 1, &got), 1);
    cr_assert(got.score == want->score && got.v0 == want->v0);
    cr_assert_str_eq(got.domain, domain);
    cr_assert(got.json == NULL && got.json_len == 0 && got.features == NULL);
    lp_qhit_free(&got);
    cr_assert_eq(lp_query_score_lead(&p, model, &qs, owner, l, want->score, &got), 1);
    cr_assert_eq(memcmp(got.json, want->json, want->json_len), 0);
    lp_qhit_free(&got);
  }
  cr_assert_eq(in_answer, r.n, "every lead of the answer was checked");
  lp_qresult_free(&r);
  lp_qplan_free(&p);
  return in_answer;
}

Test(score_lead, equals_the_full_query_v0) {
  const char *bodies[] = {
    "{\"prompt\":\"kubernetes migration platform\",\"k\":1000}",
    "{\"prompt\":\"data warehouse snowflake analytics\",\"k\":1000,\"explain\":false}",
    "{\"prompt\":\"security audit compliance soc2 in Germany\",\"k\":1000}",
    "{\"prompt\":\"payments stripe funding\",\"k\":1000,\"filters\":{\"country\":[\"DE\",\"US\"]}}",
    "{\"prompt\":\"hiring devops engineers\",\"k\":1000,\"filters\":{\"employees_min\":100,"
    "\"exclude_domains\":[\"lead07.com\",\"lead11.com\"]}}",
  };
  size_t total = 0;
  for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) total += check_plan(bodies[i], NULL);
  cr_assert_gt(total, 40, "the prompts match leads: %zu", total);
}

Test(score_lead, filtered_and_unmatched_leads_are_no_candidates) {
  lp_qplan p;
  plan_of("{\"prompt\":\"kubernetes migration\",\"k\":1000,\"filters\":{\"exclude_domains\":[\"lead05.com\"]}}", &p);
  lp_qstats qs;
  lp_query_stats(&p, sh, NSHARDS, &qs);
  lp_shard *owner = NULL;
  lp_lead *l = lead_named("lead05.com", &owner);
  cr_assert_not_null(l);
  lp_qhit h;
  cr_assert_eq(lp_query_score_lead(&p, NULL, &qs, owner, l, -INFINITY, &h), 0, "excluded by the request");
  lp_qplan_free(&p);
  /* a word no snippet holds: no lead is a candidate */
  plan_of("{\"prompt\":\"zeppelin\",\"k\":10}", &p);
  lp_query_stats(&p, sh, NSHARDS, &qs);
  cr_assert_eq(lp_query_score_lead(&p, NULL, &qs, owner, l, -INFINITY, &h), 0, "no word of the prompt");
  /* empty statistics (no document anywhere): nothing matches */
  lp_qstats none;
  memset(&none, 0, sizeof(none));
  cr_assert_eq(lp_query_score_lead(&p, NULL, &none, owner, l, -INFINITY, &h), 0);
  lp_qplan_free(&p);
}

Test(score_lead, a_bad_statistic_is_the_index_error) {
  lp_qplan p;
  plan_of("{\"prompt\":\"kubernetes migration\",\"k\":10}", &p);
  lp_qstats qs;
  lp_query_stats(&p, sh, NSHARDS, &qs);
  lp_shard *owner = NULL;
  lp_lead *l = NULL;
  for (int n = 0; n < NLEADS && l == NULL; n++) {
    char domain[32];
    snprintf(domain, sizeof domain, "lead%02d.com", n);
    l = lead_named(domain, &owner);
  }
  cr_assert_not_null(l);
  lp_qstats bad = qs;
  bad.df[0] = bad.n_docs + 1;  /* more documents hold the term than there are */
  lp_qhit h;
  cr_assert_eq(lp_query_score_lead(&p, NULL, &bad, owner, l, -INFINITY, &h), LP_EINVAL);
  cr_assert(strstr(lp_index_errstr(owner->index), "df[0]") != NULL, "%s", lp_index_errstr(owner->index));
  cr_assert_null(h.json);
  lp_qplan_free(&p);
}

/* A LightGBM model over the feature row with a logistic link: scores depend on bm25 and recency. */
static lp_gbdt *small_model(void) {
  lp_buf b = LP_BUF_INIT;
  lp_buf_printf(&b, "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\nmax_feature_idx=%d\n"
                    "objective=binary sigmoid:1\nfeature_names=",
                LP_FEATURES_N - 1);
  for (int i = 0; i < LP_FEATURES_N; i++) lp_buf_printf(&b, "%sf%d", i ? " " : "", i);
  lp_buf_puts(&b, "\n\nTree=0\nnum_leaves=3\nnum_cat=0\nsplit_feature=0 0\nsplit_gain=1 1\nthreshold=2 5\n"
                  "decision_type=0 0\nleft_child=-1 -2\nright_child=1 -3\nleaf_value=-1 0.25 1.5\n"
                  "leaf_weight=1 1 1\nleaf_count=1 1 1\ninternal_value=0 0\ninternal_weight=0 0\n"
                  "internal_count=3 2\nis_linear=0\nshrinkage=1\n\n"
                  "Tree=1\nnum_leaves=2\nnum_cat=0\nsplit_feature=1\nsplit_gain=1\nthreshold=3\ndecision_type=0\n"
                  "left_child=-1\nright_child=-2\nleaf_value=0.5 -0.5\nleaf_weight=1 1\nleaf_count=1 1\n"
                  "internal_value=0\ninternal_weight=0\ninternal_count=2\nis_linear=0\nshrinkage=1\n\nend of trees\n");
  lp_gbdt *m = NULL;
  char err[256] = "";
  int rc = lp_gbdt_load(b.data, b.len, LP_GBDT_LIGHTGBM_TEXT, LP_FEATURES_N, &m, err, sizeof(err));
  lp_buf_free(&b);
  cr_assert_eq(rc, LP_OK, "%s", err);
  return m;
}

Test(score_lead, equals_the_full_query_with_a_model) {
  lp_gbdt *m = small_model();
  size_t n = check_plan("{\"prompt\":\"kubernetes migration platform\",\"k\":1000}", m);
  n += check_plan("{\"prompt\":\"payments stripe funding\",\"k\":1000,\"filters\":{\"country\":[\"DE\"]}}", m);
  cr_assert_gt(n, 10);
  lp_gbdt_free(m);
}

/* ---- the index's one-document scorer -------------------------------------------------------------- */

static lp_index_term T(const char *s, double w) { return (lp_index_term){ s, strlen(s), w }; }

/* Every doc's lp_index_doc_score equals its score from WAND and from the exhaustive scorer, bit for bit,
 * with the index's own statistics and with external ones. */
static void check_docs(lp_index *ix, uint32_t ndocs, const lp_index_term *q, size_t nq, const lp_index_collstats *cs) {
  static lp_index_hit wand[1024], ex[1024];
  size_t nw = 0, ne = 0;
  cr_assert_eq(lp_index_topk(ix, q, nq, cs, 1024, wand, &nw), LP_OK, "%s", lp_index_errstr(ix));
  cr_assert_eq(lp_index_topk_exhaustive(ix, q, nq, cs, 1024, ex, &ne), LP_OK);
  cr_assert_eq(nw, ne);
  for (uint32_t d = 0; d < ndocs; d++) {
    double s = -1, want = 0;
    int rc = lp_index_doc_score(ix, d, q, nq, cs, &s);
    if (rc == LP_ENOENT) continue;
    cr_assert_eq(rc, LP_OK, "%s", lp_index_errstr(ix));
    for (size_t i = 0; i < nw; i++)
      if (wand[i].doc == d) want = wand[i].score;
    for (size_t i = 0; i < ne; i++)
      if (ex[i].doc == d) cr_assert(ex[i].score == want);
    cr_assert(s == want, "doc %u: %.17g alone, %.17g by WAND", d, s, want);
  }
}

Test(score_lead, index_doc_score_equals_wand) {
  lp_index_params prm;
  lp_index_params_default(&prm);
  prm.mem_postings = 300;
  lp_index *ix = NULL;
  char err[128];
  cr_assert_eq(lp_index_new(&ix, &prm, err, sizeof(err)), LP_OK, "%s", err);
  const uint32_t ndocs = 900;  /* common terms span several blocks of 128 */
  for (uint32_t round = 0; round < 2; round++) {  /* the second round replaces half of the docs */
    for (uint32_t d = round; d < ndocs; d += round + 1) {
      lp_index_term t[12];
      size_t n = 0;
      uint32_t nw = 1 + rnd(10);
      for (uint32_t i = 0; i < nw; i++) t[n++] = T(words[rnd(NWORDS)], 1 + rnd(4) + 0.37 * rnd(3));
      if (d == 5) t[n++] = T("rare", 1);  /* a one-posting list */
      cr_assert_eq(lp_index_put(ix, d, t, n), LP_OK, "%s", lp_index_errstr(ix));
    }
    int more = 1;
    for (int i = 0; i < 200 && more; i++) cr_assert_eq(lp_index_step(ix, 512, &more), LP_OK);
  }
  cr_assert_eq(lp_index_delete(ix, 17), LP_OK);
  lp_index_stats st;
  lp_index_stats_get(ix, &st);
  cr_assert_gt(st.segments, 1, "compressed and mutable segments both hold docs");
  const lp_index_term q1[] = { T("kubernetes", 1), T("migration", 1), T("cloud", 2) };
  const lp_index_term q2[] = { T("data", 1), T("data", 1), T("snowflake", 0.5), T("unknown-term", 1) };
  const lp_index_term q3[] = { T("redis", 1), T("rare", 3) };
  check_docs(ix, ndocs, q1, 3, NULL);
  check_docs(ix, ndocs, q2, 4, NULL);
  check_docs(ix, ndocs, q3, 2, NULL);
  uint64_t df[3] = { 0 }, n_docs = 0;
  double sum_dl = 0;
  lp_index_collstats_add(ix, q1, 3, &n_docs, &sum_dl, df);
  df[0] += 40, df[1] += 3;  /* as if other shards held more */
  lp_index_collstats cs = { n_docs + 100, (sum_dl + 900) / (double)(n_docs + 100), df };
  check_docs(ix, ndocs, q1, 3, &cs);
  lp_index_free(ix);
}

Test(score_lead, index_doc_score_errors) {
  lp_index *ix = NULL;
  char err[128];
  cr_assert_eq(lp_index_new(&ix, NULL, err, sizeof(err)), LP_OK, "%s", err);
  const lp_index_term t[] = { T("alpha", 2), T("beta", 1) };
  cr_assert_eq(lp_index_put(ix, 3, t, 2), LP_OK);
  cr_assert_eq(lp_index_put(ix, 4, t + 1, 1), LP_OK);
  double s = -1;
  cr_assert_eq(lp_index_doc_score(ix, 3, t, 1, NULL, &s), LP_OK);
  cr_assert_gt(s, 0, "doc 3 holds alpha");
  cr_assert_eq(lp_index_doc_score(ix, 4, t, 1, NULL, &s), LP_OK);
  cr_assert(s == 0, "doc 4 does not hold alpha: %g", s);
  cr_assert_eq(lp_index_doc_score(ix, 5, t, 1, NULL, &s), LP_ENOENT, "never put");
  cr_assert_eq(lp_index_doc_score(ix, 1u << 30, t, 1, NULL, &s), LP_ENOENT, "beyond the table");
  cr_assert_eq(lp_index_delete(ix, 4), LP_OK);
  cr_assert_eq(lp_index_doc_score(ix, 4, t, 1, NULL, &s), LP_ENOENT, "deleted");
  cr_assert(strstr(lp_index_errstr(ix), "not in the index") != NULL, "%s", lp_index_errstr(ix));
  cr_assert_eq(lp_index_doc_score(ix, 3, t, 1, NULL, NULL), LP_EINVAL);
  const lp_index_term bad[] = { T("alpha", 0) };
  cr_assert_eq(lp_index_doc_score(ix, 3, bad, 1, NULL, &s), LP_EINVAL, "weight 0");
  uint64_t df = 5;
  lp_index_collstats cs = { 1, 1.0, &df };
  cr_assert_eq(lp_index_doc_score(ix, 3, t, 1, &cs, &s), LP_EINVAL, "df above n_docs");
  lp_index_free(ix);
}
