#include "query/plan.h"

#include <string.h>

#include "base/alloc.h"
#include "shard/shard.h"

static char **tech_names(const lp_techtable *tech, char *const *in, size_t n) {
  char **v = lp_calloc(n ? n : 1, sizeof(char *));
  if (v == NULL) return NULL;
  for (size_t i = 0; i < n; i++) {
    char buf[256];
    lp_techtable_canonical(tech, in[i], strlen(in[i]), buf, sizeof(buf));
    v[i] = lp_strdup(buf);
  }
  return v;
}

static char **tech_ids(const lp_techtable *tech, const uint32_t *ids, size_t n) {
  char **v = lp_calloc(n ? n : 1, sizeof(char *));
  if (v == NULL) return NULL;
  for (size_t i = 0; i < n; i++) {
    const lp_tech_info *t = lp_techtable_at(tech, ids[i]);
    v[i] = lp_strdup(t ? t->name : "");
  }
  return v;
}

/* Inserts fp into the plan's sorted, unique fingerprints (room is there; a prompt has a few dozen terms). */
static void add_fp(lp_qplan *p, uint16_t fp) {
  size_t j = p->n_fps;
  while (j > 0 && p->fps[j - 1] > fp) j--;
  if (j > 0 && p->fps[j - 1] == fp) return;
  memmove(p->fps + j + 1, p->fps + j, (p->n_fps - j) * sizeof(uint16_t));
  p->fps[j] = fp;
  p->n_fps++;
}

/* Query terms: the analyzed product words and the technologies the prompt names (positively). Each
 * distinct term once, weight = its count. */
static int build_terms(lp_qplan *p, lp_analyzer_ctx *actx) {
  lp_termfreqs tf = LP_TERMFREQS_INIT;
  lp_buf text = LP_BUF_INIT;
  for (size_t i = 0; i < p->icp->n_product; i++) {
    lp_buf_puts(&text, p->icp->product[i]);
    lp_buf_puts(&text, " ");
  }
  for (size_t i = 0; i < p->n_want_tech; i++) {
    lp_buf_puts(&text, p->want_tech[i]);
    lp_buf_puts(&text, " . ");
  }
  /* A prompt whose words were all taken by clauses (sizes, places) still searches its own text. */
  if (text.len == 0) lp_buf_append(&text, p->req.prompt, p->req.prompt_len);
  int rc = lp_analyze_terms(actx, text.data ? text.data : "", text.len, &tf);
  size_t n = tf.n < LP_INDEX_MAX_QUERY_TERMS ? tf.n : LP_INDEX_MAX_QUERY_TERMS;
  size_t bytes = 0;
  for (size_t i = 0; i < n; i++) bytes += tf.v[i].len + 1;
  p->terms = lp_calloc(n ? n : 1, sizeof(lp_index_term));
  p->term_bytes = lp_malloc(bytes ? bytes : 1);
  if (rc == LP_OK && (p->terms == NULL || p->term_bytes == NULL)) rc = LP_ENOMEM;
  p->fps = lp_malloc((n ? n : 1) * sizeof(uint16_t));
  if (rc == LP_OK && p->fps == NULL) rc = LP_ENOMEM;
  size_t off = 0;
  for (size_t i = 0; rc == LP_OK && i < n; i++) {
    memcpy(p->term_bytes + off, tf.v[i].term, tf.v[i].len + 1);
    p->terms[p->n_terms++] = (lp_index_term){ p->term_bytes + off, tf.v[i].len, (double)tf.v[i].count };
    off += tf.v[i].len + 1;
    add_fp(p, lp_evidence_fp(tf.v[i].hash));
  }
  lp_termfreqs_free(&tf);
  lp_buf_free(&text);
  return rc;
}

/* The categories the prompt names or implies search the leads' category evidence (topic surge), one term
 * per category, appended to the word terms. */
static int add_category_terms(lp_qplan *p) {
  size_t extra = p->icp->n_categories;
  if (extra == 0) return LP_OK;
  if (p->n_terms + extra > LP_INDEX_MAX_QUERY_TERMS) extra = LP_INDEX_MAX_QUERY_TERMS - p->n_terms;
  lp_index_term *t = lp_realloc(p->terms, (p->n_terms + extra + 1) * sizeof(lp_index_term));
  char *cat = lp_malloc(extra * 32 + 1);
  if (t == NULL || cat == NULL) {
    if (t) p->terms = t;
    lp_free(cat);
    return LP_ENOMEM;
  }
  p->terms = t;
  p->cat_bytes = cat;
  uint16_t *fps = lp_realloc(p->fps, (p->n_fps + extra + 1) * sizeof(uint16_t));
  if (fps == NULL) return LP_ENOMEM;
  p->fps = fps;
  for (size_t i = 0; i < extra; i++) {
    size_t len = lp_category_term(p->icp->categories[i], cat + i * 32, 32);
    if (len == 0) continue;
    p->terms[p->n_terms++] = (lp_index_term){ cat + i * 32, len, 1.0 };
    add_fp(p, lp_evidence_fp(lp_term_hash(cat + i * 32, len)));
  }
  return LP_OK;
}

/* A removal in the categories the prompt names, or in those of the tools it wants to replace
 * ("not on Stripe": the seller competes in Stripe's categories), is a buying trigger. */
static int build_churn_categories(lp_qplan *p) {
  uint32_t n = p->tech ? lp_techtable_category_count(p->tech) : 0;
  p->n_churn_categories = n;
  p->churn_category = lp_calloc(n ? n : 1, 1);
  if (p->churn_category == NULL) return LP_ENOMEM;
  for (size_t i = 0; i < p->icp->n_categories; i++)
    if (p->icp->categories[i] < n) p->churn_category[p->icp->categories[i]] = 1;
  const uint32_t *lists[2] = { p->icp->technologies, p->icp->exclude_technologies };
  size_t counts[2] = { p->icp->n_technologies, p->icp->n_exclude_technologies };
  for (int l = 0; l < 2; l++) {
    for (size_t i = 0; i < counts[l]; i++) {
      const lp_tech_info *t = lp_techtable_at(p->tech, lists[l][i]);
      for (uint32_t c = 0; t && c < t->n_categories; c++)
        if (t->categories[c] < n) p->churn_category[t->categories[c]] = 1;
    }
  }
  return LP_OK;
}

int lp_qplan_build(lp_qplan *p, lp_query_req *req, lp_icp *icp, lp_analyzer_ctx *actx, const lp_techtable *tech,
                   const lp_icp_parser *icp_parser, const lp_config *cfg, int64_t now_ms) {
  memset(p, 0, sizeof(*p));
  p->req = *req;
  memset(req, 0, sizeof(*req));
  p->icp = icp;
  p->tech = tech;
  p->icp_parser = icp_parser;
  p->cfg = cfg;
  p->now_ms = now_ms;
  const lp_query_filters *f = &p->req.filters;
  if (f->n_country > 0) {
    p->countries = (const char(*)[3])f->country;
    p->n_countries = f->n_country;
    p->countries_strict = 1;
  } else if (icp->n_countries > 0) {
    /* The ICP's codes are NUL-terminated strings; copy them into the same shape. */
    char(*c)[3] = lp_calloc(icp->n_countries, 3);
    if (c == NULL) return LP_ENOMEM;
    for (size_t i = 0; i < icp->n_countries; i++) memcpy(c[i], icp->countries[i], 2);
    p->countries = (const char(*)[3])c;
    p->n_countries = icp->n_countries;
  }
  if (f->employees_min || f->employees_max) {
    p->employees_min = f->employees_min;
    p->employees_max = f->employees_max;
    p->employees_strict = 1;
  } else {
    p->employees_min = icp->employees_min;
    p->employees_max = icp->employees_max;
  }
  p->require_tech = tech_names(tech, f->tech, f->n_tech);
  p->n_require_tech = f->n_tech;
  p->exclude_tech = tech_ids(tech, icp->exclude_technologies, icp->n_exclude_technologies);
  p->n_exclude_tech = icp->n_exclude_technologies;
  p->want_tech = tech_ids(tech, icp->technologies, icp->n_technologies);
  p->n_want_tech = icp->n_technologies;
  if (p->require_tech == NULL || p->exclude_tech == NULL || p->want_tech == NULL) return LP_ENOMEM;
  int rc = build_churn_categories(p);
  if (rc == LP_OK) rc = build_terms(p, actx);
  if (rc == LP_OK) rc = add_category_terms(p);
  return rc;
}

static void free_list(char **v, size_t n) {
  for (size_t i = 0; v && i < n; i++) lp_free(v[i]);
  lp_free(v);
}

void lp_qplan_free(lp_qplan *p) {
  if (!p->countries_strict) lp_free((void *)p->countries);
  free_list(p->require_tech, p->n_require_tech);
  free_list(p->exclude_tech, p->n_exclude_tech);
  free_list(p->want_tech, p->n_want_tech);
  lp_free(p->churn_category);
  lp_free(p->terms);
  lp_free(p->term_bytes);
  lp_free(p->cat_bytes);
  lp_free(p->fps);
  lp_icp_free(p->icp);
  lp_query_req_free(&p->req);
  memset(p, 0, sizeof(*p));
}
