/*
 * A shard's index kept up incrementally (snippets applied and flushed batch by batch, documents updated in
 * place in the mutable segment or moved out of compressed ones, aging re-puts and merges from
 * lp_shard_maintain) must answer exactly like the index rebuilt from scratch from the same lead table
 * (lp_shard_load -> lp_shard_reindex into a fresh index): the same leads, the same BM25 scores bit for bit.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "shard/shard.h"
#include "text/analyzer.h"
#include "text/techtable.h"
#include "worker/worker.h"

static lp_techtable *tech;
static lp_analyzer *an;
static lp_analyzer_ctx *actx;

static void setup(void) {
  char err[256] = "";
  cr_assert_eq(lp_techtable_builtin(&tech, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(lp_analyzer_new(&an, tech, NULL, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(lp_analyzer_ctx_new(&actx, an, err, sizeof(err)), LP_OK, "%s", err);
}

static void teardown(void) {
  lp_analyzer_ctx_free(actx);
  lp_analyzer_free(an);
  lp_techtable_free(tech);
}

static const char *words[] = { "cloud", "migration", "kubernetes", "hiring", "engineers", "payments", "stripe",
                               "funding", "series", "security", "audit", "data", "warehouse", "snowflake",
                               "marketing", "automation", "sales", "platform", "heroku", "postgres", "redis",
                               "analytics", "expansion", "europe", "office", "compliance", "soc2", "devops" };
#define NWORDS (sizeof(words) / sizeof(words[0]))

static uint64_t rng = 1;
static uint32_t rnd(uint32_t n) {
  rng = rng * 6364136223846793005ull + 1442695040888963407ull;
  return (uint32_t)(rng >> 33) % n;
}

static lp_str S(const char *s) { return (lp_str){ s, strlen(s) }; }

typedef struct hit {
  const char *domain;
  double score;
} hit;

static int hit_cmp(const void *a, const void *b) {
  const hit *x = a, *y = b;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  return strcmp(x->domain, y->domain);
}

/* Every lead that matches prompt, with its score, in (score desc, domain) order; returns how many. */
static size_t answer(lp_shard *sh, const char *prompt, hit *out) {
  lp_termfreqs tf = { 0 };
  cr_assert_eq(lp_analyze_terms(actx, prompt, strlen(prompt), &tf), LP_OK);
  lp_index_term q[16];
  size_t nq = 0;
  for (size_t i = 0; i < tf.n && nq < 16; i++) q[nq++] = (lp_index_term){ tf.v[i].term, tf.v[i].len, (double)tf.v[i].count };
  lp_index_hit h[128];
  size_t nh = 0;
  cr_assert_eq(lp_index_topk(sh->index, q, nq, NULL, 128, h, &nh), LP_OK, "%s", lp_index_errstr(sh->index));
  for (size_t i = 0; i < nh; i++) {
    lp_lead *l = lp_leads_by_doc(&sh->leads, h[i].doc);
    cr_assert_not_null(l);
    out[i] = (hit){ l->domain, h[i].score };
  }
  qsort(out, nh, sizeof *out, hit_cmp);
  lp_termfreqs_free(&tf);
  return nh;
}

static void run(uint32_t mem_postings, uint32_t index_budget) {
  lp_shard_env env;
  memset(&env, 0, sizeof(env));
  env.evidence_cap = 4;
  lp_index_params_default(&env.index);
  env.index.mem_postings = mem_postings;
  env.analyzer = actx;
  env.tech = tech;
  env.age_half_life_days = 30;
  env.retention_ms = 60ll * 86400000;
  lp_shard a, b;
  cr_assert_eq(lp_shard_open(&a, 3, &env), LP_OK);
  const int64_t t0 = 1760000000000ll;
  char domain[40][32], id[32], text[256];
  for (int i = 0; i < 40; i++) snprintf(domain[i], sizeof domain[i], "lead%02d.com", i);
  for (int n = 0; n < 900; n++) {
    int lead = rnd(8) == 0 ? (int)rnd(40) : (int)rnd(6);  /* a few busy leads, and the rest */
    size_t off = 0;
    int nw = 2 + (int)rnd(9);
    for (int w = 0; w < nw; w++) off += (size_t)snprintf(text + off, sizeof text - off, "%s ", words[rnd(NWORDS)]);
    snprintf(id, sizeof id, "s%d", n);
    lp_snippet s;
    memset(&s, 0, sizeof(s));
    s.id = S(id);
    s.miner = S("m1");
    s.domain = S(domain[lead]);
    s.domain_hash = lp_domain_hash(domain[lead], strlen(domain[lead]));
    s.ts_ms = t0 + (int64_t)n * 3 * 3600 * 1000;  /* 3 hours apart: 112 days in all */
    s.text = (lp_str){ text, off };
    s.kind = LP_KIND_NEWS;
    cr_assert_null(lp_shard_snippet(&a, &s));
    if (n % 7 == 6) cr_assert_eq(lp_shard_flush(&a), LP_OK);
    if (n % 20 == 19) lp_shard_maintain(&a, 8, index_budget);
  }
  cr_assert_eq(lp_shard_flush(&a), LP_OK);
  /* every document at the final clock, through the incremental puts of the index a has now */
  cr_assert_eq(lp_shard_reindex(&a), LP_OK);

  lp_buf saved = LP_BUF_INIT;
  char err[256] = "";
  cr_assert_eq(lp_shard_save(&a, &saved), LP_OK);
  cr_assert_eq(lp_shard_open(&b, 3, &env), LP_OK);
  cr_assert_eq(lp_shard_load(&b, saved.data, saved.len, err, sizeof(err)), LP_OK, "%s", err);
  lp_buf_free(&saved);

  /* the same documents and the same clock: the restore weighs every document at the newest day (it used to
   * put each lead at the newest day among the leads restored before it) */
  cr_assert_eq(a.newest_day, b.newest_day, "clock %d against %d", a.newest_day, b.newest_day);
  for (uint32_t d = 0; d < a.leads.n_docs; d++) {
    lp_lead *la = a.leads.by_doc[d], *lb = lp_leads_get(&b.leads, la->domain, strlen(la->domain), la->hash);
    cr_assert_not_null(lb);
    cr_assert_eq(la->tv.n, lb->tv.n, "%s", la->domain);
    for (uint16_t i = 0; i < la->tv.n; i++)
      cr_assert(la->tv.v[i].weight == lb->tv.v[i].weight && la->tv.v[i].last_day == lb->tv.v[i].last_day, "%s, term %u",
                la->domain, i);
  }
  lp_index_stats sa, sb;
  lp_index_stats_get(a.index, &sa);
  lp_index_stats_get(b.index, &sb);
  cr_assert_eq(sa.docs, sb.docs);
  cr_assert_eq(sa.postings, sb.postings);
  cr_assert_eq(sa.terms, sb.terms);
  cr_assert(sa.sum_dl == sb.sum_dl, "sum of lengths %.17g incrementally, %.17g fresh", sa.sum_dl, sb.sum_dl);
  const char *prompts[] = { "cloud migration", "hiring engineers for kubernetes", "payments stripe funding",
                            "security audit compliance soc2", "data warehouse snowflake analytics",
                            "marketing automation sales platform", "heroku postgres redis devops",
                            "expansion europe office" };
  for (size_t p = 0; p < sizeof(prompts) / sizeof(prompts[0]); p++) {
    hit ha[128], hb[128];
    size_t na = answer(&a, prompts[p], ha), nb = answer(&b, prompts[p], hb);
    cr_assert_eq(na, nb, "\"%s\": %zu leads incrementally, %zu fresh", prompts[p], na, nb);
    cr_assert(na > 0);
    for (size_t i = 0; i < na; i++) {
      cr_assert_str_eq(ha[i].domain, hb[i].domain, "\"%s\" rank %zu", prompts[p], i);
      cr_assert(ha[i].score == hb[i].score, "\"%s\" %s: %.17g against %.17g", prompts[p], ha[i].domain, ha[i].score,
                hb[i].score);
    }
  }
  lp_shard_close(&a);
  lp_shard_close(&b);
}

Test(shard_index, incremental_equals_rebuild, .init = setup, .fini = teardown) { run(65536, 8192); }
Test(shard_index, incremental_equals_rebuild_small_segments, .init = setup, .fini = teardown) { run(64, 256); }

/* The shard analyzes each snippet's text once: the same terms feed the index and sign the evidence just
 * stored, so a query never has to analyze evidence (lp_lead_sign is left nothing to do). */
Test(shard_index, evidence_is_signed_when_applied, .init = setup, .fini = teardown) {
  lp_shard_env env;
  memset(&env, 0, sizeof(env));
  env.evidence_cap = 2;
  lp_index_params_default(&env.index);
  env.analyzer = actx;
  env.tech = tech;
  env.age_half_life_days = 30;
  env.retention_ms = 60ll * 86400000;
  lp_shard a;
  cr_assert_eq(lp_shard_open(&a, 0, &env), LP_OK);
  const char *texts[] = { "kubernetes migration hiring", "payments platform audit", "snowflake data warehouse" };
  for (int n = 0; n < 3; n++) {
    char id[16];
    snprintf(id, sizeof id, "s%d", n);
    lp_snippet s;
    memset(&s, 0, sizeof(s));
    s.id = S(id);
    s.miner = S("m1");
    s.domain = S("signed.com");
    s.domain_hash = lp_domain_hash("signed.com", 10);
    s.ts_ms = 1760000000000ll + n * 60000;
    s.text = S(texts[n]);
    s.kind = LP_KIND_NEWS;
    cr_assert_null(lp_shard_snippet(&a, &s));
  }
  lp_lead *l = lp_leads_get(&a.leads, "signed.com", 10, lp_domain_hash("signed.com", 10));
  cr_assert_not_null(l);
  cr_assert_eq(l->n_ev, 2, "the cap keeps the newest two");
  cr_assert_eq(l->unsigned_ev, 0, "nothing is left for a query to sign");
  lp_termfreqs tf = { 0 };
  for (uint32_t i = 0; i < l->n_ev; i++) {
    const lp_evidence *e = &l->ev[i];
    cr_assert(e->sig, "%s is signed", e->snippet_id);
    /* each evidence holds its own words and not the other's */
    cr_assert_eq(lp_analyze_terms(actx, e->text, strlen(e->text), &tf), LP_OK);
    uint16_t fp = lp_evidence_fp(tf.v[0].hash);
    cr_assert(lp_evidence_has_term(l, e, &fp, 1), "%s holds its first term", e->snippet_id);
    const char *other = strcmp(e->snippet_id, "s1") == 0 ? "snowflake" : "payments";
    cr_assert_eq(lp_analyze_terms(actx, other, strlen(other), &tf), LP_OK);
    fp = lp_evidence_fp(tf.v[0].hash);
    cr_assert_not(lp_evidence_has_term(l, e, &fp, 1), "%s does not hold %s", e->snippet_id, other);
  }
  lp_termfreqs_free(&tf);
  lp_shard_close(&a);
}
