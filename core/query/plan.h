/*
 * plan.h: a query as the workers run it, built once on the reactor from the request and the prompt's ICP,
 * then read (never written) by every worker until the last one answers.
 *
 * Filters. What the request's `filters` say is strict: a lead whose country, size or industry is unknown
 * does not pass. What the prompt implies (its ICP) is soft: it raises or lowers the fit feature, and only
 * a known mismatch of an exclusion removes a lead (NOT clauses: "not on Stripe", "excluding agencies",
 * "not acme.com"). Request filters win over the ICP: a request country list replaces the ICP's.
 *
 * Threads: built and freed on the reactor; shared read-only with the workers in between.
 */
#ifndef LP_QUERY_PLAN_H
#define LP_QUERY_PLAN_H

#include "config/config.h"
#include "icp/icp.h"
#include "index/index.h"
#include "query/request.h"
#include "text/analyzer.h"
#include "text/techtable.h"

typedef struct lp_qplan {
  lp_query_req req;              /* owns the prompt and the request's filters */
  lp_icp *icp;                   /* the prompt's profile */
  const lp_techtable *tech;
  const lp_icp_parser *icp_parser;
  const lp_config *cfg;
  int64_t now_ms;

  lp_index_term *terms;          /* query terms for the index (bytes in term_bytes) */
  size_t n_terms;
  char *term_bytes;
  char *cat_bytes;               /* the category terms' bytes */
  uint16_t *fps;                 /* fingerprints (lp_evidence_fp) of the word and category terms, sorted,
                                    unique: an evidence holding one is about the prompt (model v0) */
  size_t n_fps;

  /* effective constraints */
  const char (*countries)[3];    /* request's (strict) or ICP's (soft) */
  size_t n_countries;
  int countries_strict;
  int64_t employees_min, employees_max;
  int employees_strict;
  char **require_tech;           /* canonical names the lead must use now (request, strict) */
  size_t n_require_tech;
  char **exclude_tech;           /* canonical names the lead must not use now (ICP NOT clauses) */
  size_t n_exclude_tech;
  char **want_tech;              /* named in the prompt: fit (soft) */
  size_t n_want_tech;
  uint8_t *churn_category;       /* [category count]: a removal in these is a trigger */
  uint32_t n_churn_categories;
} lp_qplan;

/* Builds the plan; takes ownership of *req (zeroed on return). actx: the reactor's analyzer context.
 * LP_OK or LP_ENOMEM. */
int lp_qplan_build(lp_qplan *p, lp_query_req *req, lp_icp *icp, lp_analyzer_ctx *actx, const lp_techtable *tech,
                   const lp_icp_parser *icp_parser, const lp_config *cfg, int64_t now_ms);
void lp_qplan_free(lp_qplan *p);

#endif
