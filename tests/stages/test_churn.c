/* The churn stage through the stage API and the shard's step: its [stage.churn] keys, the stack rules in
 * event time (out of order, re-adoption, mentions in tech snippets), the caps, the per-category windows and
 * the profile JSON. An in-memory source (snippets built here) and the lead table as the sink. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "shard/shard.h"
#include "stage/registry.h"
#include "stages/churn/churn.h"
#include "text/analyzer.h"
#include "worker/worker.h"

#define DAY 86400000LL
#define T0 1764000000000LL   /* "now" of these tests: 2025-11-24 */

static lp_techtable *tech;
static lp_analyzer *an;
static lp_analyzer_ctx *actx;
static lp_config cfg;
static lp_stages *st;
static lp_metrics *metrics;
static char err[512];

static void setup(void) {
  cr_assert_eq(lp_techtable_builtin(&tech, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(lp_analyzer_new(&an, tech, NULL, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(lp_analyzer_ctx_new(&actx, an, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(lp_metrics_new(&metrics, 1000), LP_OK);
  lp_metrics_set_default(metrics);
  memset(&cfg, 0, sizeof(cfg));
  st = NULL;
}

static void teardown(void) {
  lp_stages_free(st);
  lp_config_free(&cfg);
  lp_metrics_set_default(NULL);
  lp_metrics_free(metrics);
  lp_analyzer_ctx_free(actx);
  lp_analyzer_free(an);
  lp_techtable_free(tech);
}

TestSuite(churn, .init = setup, .fini = teardown);

/* Loads [stages] order = churn with these [stage.churn] lines; returns lp_stages_load's code. */
static int load(const char *section) {
  char text[1024];
  snprintf(text, sizeof(text), "[stages]\norder = churn\n[stage.churn]\n%s", section);
  cr_assert_eq(lp_config_load_string(&cfg, text, "test.conf", err, sizeof(err)), LP_OK, "%s", err);
  return lp_stages_load(&st, &cfg, metrics, err, sizeof(err));
}

static lp_str S(const char *s) { return (lp_str){ s, strlen(s) }; }

static lp_snippet snip(const char *id, int64_t ts, uint32_t kind, const char *text) {
  lp_snippet s;
  memset(&s, 0, sizeof(s));
  s.id = S(id);
  s.miner = S("m1");
  s.domain = S("acme.com");
  s.domain_hash = lp_domain_hash("acme.com", 8);
  s.ts_ms = ts;
  s.text = S(text);
  s.kind = kind;
  return s;
}

/* A table over the built-in technologies with conf c (NULL: defaults). */
static void table(lp_lead_table *t, const lp_churn_conf *c) {
  cr_assert_eq(lp_leads_init(t, 4), LP_OK);
  t->tech = tech;
  t->churn = c;
}

static lp_lead *change(lp_lead_table *t, const char *id, int64_t ts, const char *added, const char *removed) {
  lp_str a[1] = { S(added ? added : "") }, r[1] = { S(removed ? removed : "") };
  lp_snippet s = snip(id, ts, LP_KIND_NEWS, "x");
  s.tech_added = added ? a : NULL;
  s.n_tech_added = added ? 1 : 0;
  s.tech_removed = removed ? r : NULL;
  s.n_tech_removed = removed ? 1 : 0;
  lp_lead *l = NULL;
  cr_assert_eq(lp_leads_apply_snippet_lead(t, &s, &l), LP_OK);
  return l;
}

static const lp_tech *entry(const lp_lead *l, const char *name, int *in_use) {
  for (uint32_t i = 0; i < l->n_tech + l->n_gone; i++)
    if (strcmp(l->tech[i].name, name) == 0) {
      *in_use = i < l->n_tech;
      return &l->tech[i];
    }
  return NULL;
}

Test(churn, conf_from_its_own_section) {
  cr_assert_eq(load("window_short = 7d\nwindow_long = 60d\nmax_technologies = 8\nmax_history = 16\n"
                    "text_mentions = off\n"), LP_OK, "%s", err);
  const lp_churn_conf *c = lp_churn_conf_of(st);
  cr_assert_eq(c->window_short, 7 * DAY);
  cr_assert_eq(c->window_long, 60 * DAY);
  cr_assert_eq(c->max_technologies, 8);
  cr_assert_eq(c->max_history, 16);
  cr_assert_eq(c->text_mentions, 0);
  cr_assert_eq(lp_churn_conf_of(NULL), &lp_churn_defaults, "no stages: the defaults");
  cr_assert_eq(lp_churn_defaults.window_short, 30 * DAY);
  cr_assert_eq(lp_churn_defaults.window_long, 90 * DAY);
}

Test(churn, defaults_and_not_loaded) {
  cr_assert_eq(load(""), LP_OK, "%s", err);
  const lp_churn_conf *c = lp_churn_conf_of(st);
  cr_assert_eq(c->window_short, 30 * DAY);
  cr_assert_eq(c->max_technologies, 256);
  cr_assert_eq(c->text_mentions, 1);
  lp_stages_free(st);
  st = NULL;
  lp_config_free(&cfg);
  memset(&cfg, 0, sizeof(cfg));
  cr_assert_eq(lp_config_load_string(&cfg, "[stages]\norder = ingest\n", "t.conf", err, sizeof(err)), LP_OK);
  cr_assert_eq(lp_stages_load(&st, &cfg, metrics, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(lp_churn_conf_of(st), &lp_churn_defaults, "without the stage the ETL runs on its defaults");
}

Test(churn, bad_conf_is_refused) {
  cr_assert_neq(load("window_short = 100d\nwindow_long = 30d\n"), LP_OK);
  cr_assert(strstr(err, "window_short") != NULL, "%s", err);
  lp_config_free(&cfg);
  memset(&cfg, 0, sizeof(cfg));
  char text[] = "[stages]\norder = churn\n[stage.churn]\nmax_history = 0\n";
  int rc = lp_config_load_string(&cfg, text, "t.conf", err, sizeof(err));
  if (rc == LP_OK) rc = lp_stages_load(&st, &cfg, metrics, err, sizeof(err));
  cr_assert_neq(rc, LP_OK, "max_history is at least 1");
  cr_assert(strstr(err, "max_history") != NULL, "%s", err);
}

Test(churn, on_snippet_passes_everything) {
  cr_assert_eq(load(""), LP_OK, "%s", err);
  lp_stage_shard *ss = NULL;
  cr_assert_eq(lp_stage_shard_open(st, 0, &ss), LP_OK);
  lp_str a[] = { S("stripe"), S("kubernetes") };
  lp_snippet s = snip("1", T0, LP_KIND_TECH, "t");
  s.tech_added = a;
  s.n_tech_added = 2;
  lp_verdict v;
  cr_assert_eq(lp_stage_shard_snippet(ss, &s, &v), LP_STAGE_CONTINUE);
  cr_assert_not(lp_stage_shard_quarantined(ss, 0));
  lp_stage_shard_close(ss);
  lp_buf b = LP_BUF_INIT;
  lp_metrics_render(metrics, &b);
  cr_assert(strstr(b.data, "leadpoet_stage_tech_changes_total{stage=\"churn\",label=\"added\"} 2") != NULL, "%s",
            b.data);
  lp_buf_free(&b);
}

Test(churn, stack_over_event_time) {
  lp_lead_table t;
  table(&t, NULL);
  change(&t, "1", T0 - 100 * DAY, "Heroku", NULL);
  change(&t, "2", T0 - 50 * DAY, "heroku", NULL);
  lp_lead *l = change(&t, "3", T0 - 10 * DAY, NULL, "HEROKU");
  int in_use;
  const lp_tech *e = entry(l, "heroku", &in_use);
  cr_assert_not_null(e);
  cr_assert_not(in_use);
  cr_assert_eq(e->first_ms, T0 - 100 * DAY);
  cr_assert_eq(e->last_ms, T0 - 50 * DAY);
  cr_assert_eq(e->removed_ms, T0 - 10 * DAY);
  cr_assert_eq(l->n_tech, 0, "readers of the stack in use never see a removed one");
  cr_assert_not(lp_lead_uses_tech(l, "heroku"));
  /* A stale removal (older than last seen) does not undo an add. */
  change(&t, "4", T0 - 20 * DAY, "stripe", NULL);
  change(&t, "5", T0 - 30 * DAY, NULL, "stripe");
  e = entry(l, "stripe", &in_use);
  cr_assert(in_use);
  cr_assert_eq(e->first_ms, T0 - 30 * DAY, "it was in use before the stale report");
  /* An add older than the removal is history; a newer one re-adopts, keeping first_seen. */
  change(&t, "6", T0 - 40 * DAY, "heroku", NULL);
  e = entry(l, "heroku", &in_use);
  cr_assert_not(in_use);
  change(&t, "7", T0 - 5 * DAY, "heroku", NULL);
  e = entry(l, "heroku", &in_use);
  cr_assert(in_use);
  cr_assert_eq(e->first_ms, T0 - 100 * DAY);
  cr_assert_eq(e->last_ms, T0 - 5 * DAY);
  cr_assert_eq(e->removed_ms, 0);
  /* A removal of a technology never seen enters as removed; unknown names are lower-cased. */
  change(&t, "8", T0 - DAY, NULL, "Some Homegrown Tool");
  e = entry(l, "some homegrown tool", &in_use);
  cr_assert_not_null(e);
  cr_assert_not(in_use);
  cr_assert_eq(e->id, LP_TECH_NONE);
  lp_leads_free(&t);
}

Test(churn, categories_in_two_windows) {
  lp_lead_table t;
  table(&t, NULL);
  change(&t, "1", T0 - 200 * DAY, "heroku", NULL);
  change(&t, "2", T0 - 60 * DAY, NULL, "heroku");           /* PaaS: removed in 90d, not 30d */
  change(&t, "3", T0 - 61 * DAY, NULL, "heroku");           /* the same removal reported again */
  change(&t, "4", T0 - 10 * DAY, "stripe", NULL);           /* Payment processors: added in both */
  change(&t, "5", T0 - 5 * DAY, NULL, "braintree");         /* removed in both */
  lp_lead *l = change(&t, "6", T0 - 100 * DAY, NULL, "paypal");  /* outside both windows */
  lp_churn_cat cats[16];
  size_t n = lp_churn_summary(NULL, tech, l, T0, cats, 16);
  cr_assert_eq(n, 2, "PaaS and Payment processors");
  int paas = lp_techtable_category_find(tech, "PaaS", 4), pay = lp_techtable_category_find(tech, "payments", 8);
  for (size_t i = 0; i < n; i++) {
    if ((int)cats[i].category == paas) {
      cr_assert_eq(cats[i].removed_long, 1, "distinct technologies: two reports of one removal count once");
      cr_assert_eq(cats[i].removed_short, 0);
      cr_assert(cats[i].trigger);
      cr_assert_eq(cats[i].last_removed_ms, T0 - 60 * DAY);
    } else {
      cr_assert_eq((int)cats[i].category, pay);
      cr_assert_eq(cats[i].added_short, 1);
      cr_assert_eq(cats[i].added_long, 1);
      cr_assert_eq(cats[i].removed_short, 1);
      cr_assert_eq(cats[i].removed_long, 1, "paypal's removal is older than the long window");
      cr_assert(cats[i].trigger);
    }
  }
  /* Re-adopting heroku takes the trigger back. */
  change(&t, "7", T0 - DAY, "heroku", NULL);
  n = lp_churn_summary(NULL, tech, l, T0, cats, 16);
  for (size_t i = 0; i < n; i++)
    if ((int)cats[i].category == paas) cr_assert_not(cats[i].trigger);
  cr_assert_eq(lp_churn_summary(NULL, NULL, l, T0, cats, 16), 0, "no table: no categories");
  cr_assert_eq(lp_churn_summary(NULL, tech, l, T0, cats, 1), 1, "bounded by the caller's array");
  lp_leads_free(&t);
}

Test(churn, caps_of_the_stack_and_history) {
  lp_churn_conf c = lp_churn_defaults;
  c.max_technologies = 2;
  c.max_history = 3;
  lp_lead_table t;
  table(&t, &c);
  change(&t, "1", T0 - 9 * DAY, "stripe", NULL);
  change(&t, "2", T0 - 8 * DAY, NULL, "heroku");
  lp_lead *l = change(&t, "3", T0 - 7 * DAY, "kubernetes", NULL);
  int in_use;
  cr_assert_null(entry(l, "heroku", &in_use), "a full stack forgets its oldest removed technology");
  cr_assert_not_null(entry(l, "kubernetes", &in_use));
  change(&t, "4", T0 - 6 * DAY, "paypal", NULL);
  cr_assert_null(entry(l, "paypal", &in_use), "every slot in use: the new one is not tracked");
  cr_assert_eq(l->n_tech + l->n_gone, 2);
  cr_assert_eq(l->n_churn, 3, "the history keeps the newest max_history changes");
  cr_assert_str_eq(lp__lead_churn_at(l, 0)->tech, "heroku");
  cr_assert_str_eq(lp__lead_churn_at(l, 2)->tech, "paypal");
  change(&t, "5", T0 - 6 * DAY, "paypal", NULL);
  cr_assert_str_eq(lp__lead_churn_at(l, 0)->tech, "heroku", "the same change twice is kept once");
  lp_leads_free(&t);
}

/* A shard with the analyzer and the technology table, the churn stage loaded from section. */
static void shard_with(lp_shard *sh, lp_shard_env *env, const char *section) {
  cr_assert_eq(load(section), LP_OK, "%s", err);
  memset(env, 0, sizeof(*env));
  env->evidence_cap = 4;
  lp_index_params_default(&env->index);
  env->analyzer = actx;
  env->tech = tech;
  env->stages = st;
  cr_assert_eq(lp_shard_open(sh, 0, env), LP_OK);
}

Test(churn, tech_snippets_name_technologies) {
  lp_shard sh;
  lp_shard_env env;
  shard_with(&sh, &env, "");
  lp_str rm[] = { S("heroku") };
  lp_snippet r = snip("1", T0 - 10 * DAY, LP_KIND_TECH, "Acme runs its storefront on Shopify and tracks it with Google Analytics");
  r.tech_removed = rm;
  r.n_tech_removed = 1;
  cr_assert_null(lp_shard_snippet(&sh, &r));
  lp_lead *l = lp_leads_get(&sh.leads, "acme.com", 8, r.domain_hash);
  int in_use;
  const lp_tech *e = entry(l, "shopify", &in_use);
  cr_assert_not_null(e, "a technology named in a tech snippet is seen");
  cr_assert(in_use);
  cr_assert_eq(e->first_ms, T0 - 10 * DAY);
  cr_assert_not_null(entry(l, "google analytics", &in_use), "multi-word names too");
  cr_assert_eq(l->n_churn, 1, "a mention is not a change");
  lp_snippet later = snip("2", T0 - DAY, LP_KIND_TECH, "Acme moved off Heroku; Shopify stays");
  cr_assert_null(lp_shard_snippet(&sh, &later));
  e = entry(l, "heroku", &in_use);
  cr_assert_not(in_use, "a mention never revives a removed technology");
  e = entry(l, "shopify", &in_use);
  cr_assert_eq(e->last_ms, T0 - DAY);
  lp_snippet hiring = snip("3", T0, LP_KIND_HIRING, "We hire a Salesforce admin");
  cr_assert_null(lp_shard_snippet(&sh, &hiring));
  cr_assert_null(entry(l, "salesforce", &in_use), "only tech snippets count");
  lp_shard_close(&sh);
}

Test(churn, mentions_can_be_turned_off) {
  lp_shard sh;
  lp_shard_env env;
  shard_with(&sh, &env, "text_mentions = false\n");
  lp_snippet s = snip("1", T0, LP_KIND_TECH, "Acme runs on Shopify");
  cr_assert_null(lp_shard_snippet(&sh, &s));
  lp_lead *l = lp_leads_get(&sh.leads, "acme.com", 8, s.domain_hash);
  cr_assert_eq(l->n_tech + l->n_gone, 0);
  lp_shard_close(&sh);
}

Test(churn, profile_json) {
  lp_lead_table t;
  table(&t, NULL);
  change(&t, "1", T0 - 100 * DAY, "heroku", NULL);
  change(&t, "2", T0 - 10 * DAY, NULL, "heroku");
  lp_lead *l = change(&t, "3", T0 - 10 * DAY, "kubernetes", NULL);
  lp_buf b = LP_BUF_INIT;
  cr_assert_eq(lp_leads_lead_json(&t, l, T0, &b), LP_OK);
  char want[256];
  snprintf(want, sizeof(want), "{\"tech\":\"heroku\",\"first_seen\":%lld,\"last_seen\":%lld,\"current\":false,"
           "\"removed_at\":%lld}", T0 - 100 * DAY, T0 - 100 * DAY, T0 - 10 * DAY);
  cr_assert(strstr(b.data, want) != NULL, "%s", b.data);
  cr_assert(strstr(b.data, "\"tech\":[\"kubernetes\"]") != NULL, "%s", b.data);
  snprintf(want, sizeof(want), "{\"category\":\"PaaS\",\"added_30d\":0,\"removed_30d\":1,\"added_90d\":0,"
           "\"removed_90d\":1,\"trigger\":true,\"last_removed\":%lld}", T0 - 10 * DAY);
  cr_assert(strstr(b.data, want) != NULL, "%s", b.data);
  /* The lead alone (the route's call) renders the same categories from its ring's header. */
  lp_buf c = LP_BUF_INIT;
  cr_assert_eq(lp_leads_lead_json(NULL, l, T0, &c), LP_OK);
  cr_assert_str_eq(b.data, c.data);
  lp_buf_free(&c);
  lp_buf_free(&b);
  /* Windows of another length name their keys after it. */
  lp_churn_conf conf = lp_churn_defaults;
  conf.window_short = 36 * 3600000LL;
  t.churn = &conf;
  cr_assert_eq(lp_leads_lead_json(&t, l, T0, &b), LP_OK);
  cr_assert(strstr(b.data, "\"added_36h\":0") != NULL, "%s", b.data);
  lp_buf_free(&b);
  lp_leads_free(&t);
}

/* The BM25 score of the lead of domain for one analyzed word, from the shard's index (0 when absent). */
static double score_of(lp_shard *sh, const char *word, const char *domain) {
  lp_termfreqs tf = LP_TERMFREQS_INIT;
  cr_assert_eq(lp_analyze_terms(actx, word, strlen(word), &tf), LP_OK);
  cr_assert_eq(tf.n, 1);
  lp_index_term q = { tf.v[0].term, tf.v[0].len, 1.0 };
  lp_index_hit hits[8];
  size_t n = 0;
  cr_assert_eq(lp_index_topk(sh->index, &q, 1, NULL, 8, hits, &n), LP_OK);
  double score = 0;
  lp_lead *l = lp_leads_get(&sh->leads, domain, strlen(domain), lp_domain_hash(domain, strlen(domain)));
  for (size_t i = 0; l != NULL && i < n; i++)
    if (hits[i].doc == l->doc) score = hits[i].score;
  lp_termfreqs_free(&tf);
  return score;
}

static lp_snippet snip_at(const char *id, const char *domain, int64_t ts, const char *text) {
  lp_snippet s = snip(id, ts, LP_KIND_NEWS, text);
  s.domain = S(domain);
  s.domain_hash = lp_domain_hash(domain, strlen(domain));
  return s;
}

/* Issue 5, point 2: a lead's document is its recent evidence, each snippet weighted by its age (event time,
 * against the shard's newest event), and a document is re-weighted as that clock moves on. */
Test(churn, index_evidence_weighs_less_with_age) {
  lp_shard sh;
  lp_shard_env env;
  shard_with(&sh, &env, "");
  env.age_half_life_days = 30;
  lp_snippet old = snip_at("1", "old-co.com", T0 - 100 * DAY, "old-co rebuilds its billing platform");
  lp_snippet fresh = snip_at("2", "new-co.com", T0 - DAY, "new-co rebuilds its billing platform");
  cr_assert_null(lp_shard_snippet(&sh, &old));
  cr_assert_null(lp_shard_snippet(&sh, &fresh));
  cr_assert_eq(lp_shard_flush(&sh), LP_OK);
  double s_old = score_of(&sh, "billing", "old-co.com"), s_new = score_of(&sh, "billing", "new-co.com");
  cr_assert(s_old > 0 && s_new > s_old, "the same words 99 days older weigh less: %f < %f", s_old, s_new);

  /* 60 days later a lead with the same words moves the shard's clock: once maintenance re-weighted
   * new-co, the fresh one outscores it (without the re-put they would tie: both were put fresh). */
  lp_snippet later = snip_at("3", "ref-co.com", T0 + 59 * DAY, "ref-co rebuilds its billing platform");
  cr_assert_null(lp_shard_snippet(&sh, &later));
  cr_assert_eq(lp_shard_flush(&sh), LP_OK);
  for (int i = 0; i < 4; i++) lp_shard_maintain(&sh, 64, 1u << 20);
  double s_aged = score_of(&sh, "billing", "new-co.com"), s_ref = score_of(&sh, "billing", "ref-co.com");
  cr_assert(s_aged > 0 && s_ref > s_aged, "new-co's evidence aged: %f < %f", s_aged, s_ref);
  lp_shard_close(&sh);

  /* Without decay the two leads tie, as before. */
  lp_shard_env flat = env;
  flat.age_half_life_days = 0;
  cr_assert_eq(lp_shard_open(&sh, 1, &flat), LP_OK);
  cr_assert_null(lp_shard_snippet(&sh, &old));
  cr_assert_null(lp_shard_snippet(&sh, &fresh));
  cr_assert_eq(lp_shard_flush(&sh), LP_OK);
  cr_assert_float_eq(score_of(&sh, "billing", "old-co.com"), score_of(&sh, "billing", "new-co.com"), 1e-9);
  lp_shard_close(&sh);
}
