/*
 * Product text -> vector (core/ann/embed.h): unit length, deterministic, similar products closer than
 * unrelated ones, idf from a df table, recall@10 of the HNSW index on 10,000 embedded product texts from
 * a small synthetic generator, and every error path.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ann/ann_data.h"
#include "ann/embed.h"
#include "ann/hnsw.h"
#include "text/techtable.h"

#define D 128

static lp_techtable *tech;
static lp_analyzer *an;

static void setup(void) {
  char err[256];
  cr_assert_eq(lp_techtable_builtin(&tech, err, sizeof err), 0, "%s", err);
  cr_assert_eq(lp_analyzer_new(&an, tech, NULL, err, sizeof err), 0, "%s", err);
}

static void teardown(void) {
  lp_analyzer_free(an);
  lp_techtable_free(tech);
}

static lp_embed_ctx *ctx_of(const lp_embedder *e) {
  lp_embed_ctx *c = NULL;
  char err[256];
  cr_assert_eq(lp_embed_ctx_new(&c, e, err, sizeof err), 0, "%s", err);
  return c;
}

static double dotv(const float *a, const float *b) {
  double s = 0;
  for (int i = 0; i < D; i++) s += (double)a[i] * b[i];
  return s;
}

TestSuite(ann_embed, .init = setup, .fini = teardown);

Test(ann_embed, unit_deterministic_similar) {
  lp_embedder *e = NULL, *e2 = NULL, *e3 = NULL;
  char err[256];
  lp_embed_opts o = { .dims = D, .seed = 5 };
  cr_assert_eq(lp_embedder_new(&e, an, NULL, &o, err, sizeof err), 0, "%s", err);
  cr_assert_eq(lp_embedder_new(&e2, an, NULL, &o, err, sizeof err), 0);
  o.seed = 6;
  cr_assert_eq(lp_embedder_new(&e3, an, NULL, &o, err, sizeof err), 0);
  cr_assert_eq(lp_embedder_dims(e), D);
  lp_embed_ctx *c = ctx_of(e), *c2 = ctx_of(e2), *c3 = ctx_of(e3);
  const char *a = "usage-based billing API for SaaS companies", *b = "metered billing and invoicing for SaaS",
             *u = "Kubernetes hosting for containers";
  float va[D], va2[D], va3[D], vb[D], vu[D];
  cr_assert_eq(lp_embed_text(c, a, strlen(a), va, D), 0);
  cr_assert_eq(lp_embed_text(c2, a, strlen(a), va2, D), 0);
  cr_assert_eq(lp_embed_text(c3, a, strlen(a), va3, D), 0);
  cr_assert_eq(lp_embed_text(c, b, strlen(b), vb, D), 0);
  cr_assert_eq(lp_embed_text(c, u, strlen(u), vu, D), 0);
  cr_assert(fabs(dotv(va, va) - 1.0) < 1e-5);
  cr_assert_eq(memcmp(va, va2, sizeof va), 0, "same seed, same bits");
  cr_assert_neq(memcmp(va, va3, sizeof va), 0, "another seed, another projection");
  cr_assert_gt(dotv(va, vb), dotv(va, vu) + 0.2, "billing %.3f vs hosting %.3f", dotv(va, vb), dotv(va, vu));
  /* case, accents and stems do not matter */
  const char *a_upper = "USAGE-BASED Billing APIs for SaaS company";
  float vx[D];
  cr_assert_eq(lp_embed_text(c, a_upper, strlen(a_upper), vx, D), 0);
  cr_assert_gt(dotv(va, vx), 0.99);
  lp_embed_ctx_free(c);
  lp_embed_ctx_free(c2);
  lp_embed_ctx_free(c3);
  lp_embedder_free(e);
  lp_embedder_free(e2);
  lp_embedder_free(e3);
}

Test(ann_embed, idf_from_df) {
  lp_embed_df *df = NULL;
  cr_assert_eq(lp_embed_df_new(&df), 0);
  lp_embedder *plain = NULL, *e = NULL;
  char err[256];
  cr_assert_eq(lp_embedder_new(&plain, an, NULL, NULL, err, sizeof err), 0);
  lp_embed_ctx *c = ctx_of(plain);
  const char *docs[] = { "billing platform", "payments platform", "crm platform", "billing for saas" };
  for (int i = 0; i < 4; i++) {
    const lp_termfreqs *tf;
    cr_assert_eq(lp_embed_ctx_terms(c, docs[i], strlen(docs[i]), &tf), 0);
    cr_assert_eq(lp_embed_df_add(df, tf), 0);
  }
  cr_assert_eq(lp_embed_df_docs(df), 4);
  uint64_t platform = lp_term_hash("platform", 8), bill = lp_term_hash("bill", 4);
  cr_assert_eq(lp_embed_df_get(df, platform), 3);
  cr_assert_eq(lp_embed_df_get(df, bill), 2);
  cr_assert_eq(lp_embed_df_get(df, lp_term_hash("unseen", 6)), 0);
  cr_assert_eq(lp_embedder_new(&e, an, df, NULL, err, sizeof err), 0);
  cr_assert_float_eq(lp_embedder_idf(e, platform), (float)(log(5.0 / 4.0) + 1), 1e-6);
  cr_assert_gt(lp_embedder_idf(e, bill), lp_embedder_idf(e, platform));
  cr_assert_float_eq(lp_embedder_idf(e, lp_term_hash("unseen", 6)), (float)(log(5.0) + 1), 1e-6);
  cr_assert_float_eq(lp_embedder_idf(plain, platform), 1.0f, 0);
  /* the model is frozen: more documents change the df, not the embedder */
  const lp_termfreqs *tf;
  cr_assert_eq(lp_embed_ctx_terms(c, "platform", 8, &tf), 0);
  cr_assert_eq(lp_embed_df_add(df, tf), 0);
  cr_assert_float_eq(lp_embedder_idf(e, platform), (float)(log(5.0 / 4.0) + 1), 1e-6);
  lp_embed_ctx_free(c);
  lp_embedder_free(e);
  lp_embedder_free(plain);
  lp_embed_df_free(df);
}

Test(ann_embed, errors) {
  lp_embedder *e = NULL;
  char err[256] = "";
  lp_embed_opts o = { .dims = 4 };
  cr_assert_eq(lp_embedder_new(&e, an, NULL, &o, err, sizeof err), LP_EINVAL);
  cr_assert(strstr(err, "dims"), "%s", err);
  o = (lp_embed_opts){ .dims = LP_EMBED_MAX_DIMS + 1 };
  cr_assert_eq(lp_embedder_new(&e, an, NULL, &o, err, sizeof err), LP_EINVAL);
  o = (lp_embed_opts){ .dims = 64, .nnz = LP_EMBED_MAX_NNZ + 1 };
  cr_assert_eq(lp_embedder_new(&e, an, NULL, &o, err, sizeof err), LP_EINVAL);
  cr_assert(strstr(err, "nnz"), "%s", err);
  cr_assert_eq(lp_embedder_new(&e, NULL, NULL, NULL, err, sizeof err), LP_EINVAL);
  cr_assert_null(e);
  o = (lp_embed_opts){ .dims = 64, .nnz = 1 };
  cr_assert_eq(lp_embedder_new(&e, an, NULL, &o, err, sizeof err), 0, "%s", err);
  lp_embed_ctx *c = ctx_of(e);
  float v[64];
  cr_assert_eq(lp_embed_text(c, "billing", 7, v, 63), LP_EINVAL);
  cr_assert_eq(lp_embed_text(c, "", 0, v, 64), LP_ENOENT);
  cr_assert_eq(lp_embed_text(c, "the and of, --", 14, v, 64), LP_ENOENT);
  for (int i = 0; i < 64; i++) cr_assert_eq(v[i], 0.0f);
  cr_assert_eq(lp_embed_text(c, "billing", 7, v, 64), 0);
  lp_embed_ctx_free(c);
  lp_embedder_free(e);
}

/* A small product-text generator: 30 products, each with its vocabulary, texts mix 2..6 of its words
 * with a shared filler vocabulary. 10,000 texts indexed, 100 held out as queries. */
static const char *const vocab[30][5] = {
  { "billing", "invoicing", "metered", "subscription", "pricing" }, { "payments", "card", "acquirer", "checkout", "fraud" },
  { "crm", "pipeline", "deals", "contacts", "salesforce" }, { "analytics", "dashboard", "metrics", "funnel", "cohort" },
  { "warehouse", "etl", "snowflake", "dbt", "lakehouse" }, { "hosting", "kubernetes", "containers", "cloud", "servers" },
  { "monitoring", "observability", "tracing", "logs", "alerts" }, { "helpdesk", "tickets", "support", "zendesk", "sla" },
  { "ecommerce", "storefront", "shopify", "cart", "catalog" }, { "authentication", "sso", "identity", "okta", "login" },
  { "security", "vulnerability", "siem", "endpoint", "firewall" }, { "marketing", "campaigns", "email", "hubspot", "leads" },
  { "payroll", "benefits", "hris", "onboarding", "recruiting" }, { "collaboration", "wiki", "docs", "chat", "slack" },
  { "cms", "content", "headless", "wordpress", "publishing" }, { "accounting", "ledger", "expenses", "audit", "tax" },
  { "telephony", "sms", "voice", "twilio", "messaging" }, { "search", "relevance", "elasticsearch", "indexing", "ranking" },
  { "ci", "deployment", "pipelines", "jenkins", "devops" }, { "backup", "recovery", "snapshots", "archive", "storage" },
  { "scheduling", "calendar", "appointments", "booking", "reminders" }, { "inventory", "stock", "fulfillment", "shipping", "logistics" },
  { "learning", "courses", "training", "lms", "quizzes" }, { "survey", "feedback", "nps", "forms", "responses" },
  { "contracts", "esignature", "legal", "clauses", "approvals" }, { "procurement", "vendors", "purchasing", "spend", "sourcing" },
  { "video", "streaming", "webinars", "recording", "broadcast" }, { "maps", "geolocation", "routing", "fleet", "tracking" },
  { "translation", "localization", "languages", "i18n", "glossary" }, { "energy", "metering", "solar", "grid", "utilities" },
};
static const char *const filler[] = { "platform", "software", "tool", "teams", "companies", "enterprise", "small",
                                      "business", "automation", "api", "integration", "modern", "fast", "secure" };

static void gen_text(uint64_t *s, char *out, size_t cap) {
  size_t p = td_next(s) % 30, len = 0, words = 2 + td_next(s) % 5;
  out[0] = '\0';
  for (size_t i = 0; i < words; i++)
    len += (size_t)snprintf(out + len, cap - len, "%s ", vocab[p][td_next(s) % 5]);
  for (size_t i = 0, f = td_next(s) % 4; i < f; i++)
    len += (size_t)snprintf(out + len, cap - len, "%s ", filler[td_next(s) % 14]);
}

Test(ann_embed, recall_on_product_texts) {
  const size_t n = 10000, nq = 100;
  lp_embed_df *df = NULL;
  lp_embedder *plain = NULL, *e = NULL;
  char err[256], text[256];
  cr_assert_eq(lp_embed_df_new(&df), 0);
  cr_assert_eq(lp_embedder_new(&plain, an, NULL, NULL, err, sizeof err), 0);
  lp_embed_ctx *c = ctx_of(plain);
  uint64_t s = 77;
  for (size_t i = 0; i < n; i++) {
    gen_text(&s, text, sizeof text);
    const lp_termfreqs *tf;
    cr_assert_eq(lp_embed_ctx_terms(c, text, strlen(text), &tf), 0);
    cr_assert_eq(lp_embed_df_add(df, tf), 0);
  }
  lp_embed_ctx_free(c);
  lp_embed_opts o = { .dims = D, .seed = 1 };
  cr_assert_eq(lp_embedder_new(&e, an, df, &o, err, sizeof err), 0);
  c = ctx_of(e);
  float *v = malloc((n + nq) * D * sizeof *v);
  s = 77;
  for (size_t i = 0; i < n + nq; i++) {
    gen_text(&s, text, sizeof text);
    cr_assert_eq(lp_embed_text(c, text, strlen(text), v + i * D, D), 0, "%s", text);
  }
  lp_hnsw *h = td_build(v, n, D, LP_HNSW_COSINE, 16, 200, 3);
  cr_assert_not_null(h);
  int bad = 0;
  double r = td_recall(h, v, n, NULL, v + n * D, nq, D, 10, 64, LP_HNSW_COSINE, &bad);
  cr_assert_eq(bad, 0);
  cr_assert(r >= 0.95, "recall@10 on product texts %.4f", r);
  lp_hnsw_free(h);
  free(v);
  lp_embed_ctx_free(c);
  lp_embedder_free(e);
  lp_embedder_free(plain);
  lp_embed_df_free(df);
}
