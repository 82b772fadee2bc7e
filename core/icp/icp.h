/*
 * icp.h: the prompt -> ideal customer profile (ICP) parser. Deterministic, no paid call, no I/O.
 *
 * A seller types what they sell ("a usage-based billing API for SaaS companies, US, 50-500 people, not on
 * Stripe"); lp_icp_parse() turns it into the parts the query path uses: product words for text match,
 * technologies and categories of the technology table, NAICS industries, a head-count range, countries,
 * exclusions (NOT clauses) and example companies. The rules are documented in core/icp/README.md.
 *
 * Threads: a parser is built once (main thread) and is immutable afterwards: any thread may call
 * lp_icp_parse() and lp_icp_to_json() on it at the same time, without locks. Each result belongs to the
 * caller that received it.
 */
#ifndef LP_ICP_H
#define LP_ICP_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "leadpoet/common.h"
#include "text/techtable.h"

#define LP_ICP_MAX_PROMPT 4096   /* bytes; the API rejects longer prompts before parsing */

typedef struct lp_icp_parser lp_icp_parser;

/* A NAICS code ("5112", "31-33") and its title; both strings belong to the parser. */
typedef struct lp_icp_industry {
  const char *code;
  const char *title;
} lp_icp_industry;

/* The parsed profile. Every array and string lives in the result's own memory (freed by lp_icp_free),
 * except industry strings and country codes, which belong to the parser and outlive the result only as
 * long as the parser does. Lists keep the order of first mention, without duplicates, except countries
 * (sorted by code, a region expanded). employees_min/max: 0 = no bound. */
typedef struct lp_icp {
  const char **product;             size_t n_product;
  uint32_t *technologies;           size_t n_technologies;         /* technology ids */
  uint32_t *exclude_technologies;   size_t n_exclude_technologies;
  uint32_t *categories;             size_t n_categories;           /* category ids */
  lp_icp_industry *industries;      size_t n_industries;
  lp_icp_industry *exclude_industries; size_t n_exclude_industries;
  uint32_t employees_min, employees_max;
  const char **countries;           size_t n_countries;            /* ISO 3166-1 alpha-2 */
  const char **exclude_countries;   size_t n_exclude_countries;
  const char **like;                size_t n_like;                 /* canonical domains */
  const char **exclude_domains;     size_t n_exclude_domains;
  struct lp__icp_arena *arena_;     /* private */
} lp_icp;

/* Builds a parser over the embedded NAICS titles and regions and the given technology table, which it
 * borrows (it must outlive the parser; NULL = no technology or category is recognised). On failure returns
 * LP_ENOMEM or LP_ECONFIG (bad embedded data) with detail in errstr. Main thread; free with
 * lp_icp_parser_free. */
int lp_icp_parser_new(lp_icp_parser **out, const lp_techtable *tech, char *errstr, size_t errstr_size);
void lp_icp_parser_free(lp_icp_parser *p);

/* Parses prompt[0..len): any bytes (invalid UTF-8 is read as spaces), len <= LP_ICP_MAX_PROMPT. Returns 0
 * with a new result in *out (the caller frees it with lp_icp_free), LP_EINVAL for a NULL argument,
 * LP_ERANGE when len is over LP_ICP_MAX_PROMPT, LP_ENOMEM. Any thread, concurrently. */
int lp_icp_parse(const lp_icp_parser *p, const char *prompt, size_t len, lp_icp **out);
void lp_icp_free(lp_icp *icp);

/* Appends the JSON object of the ICP (the response's "icp" field) to out. p must be the parser that made
 * icp. Returns 0 or LP_ENOMEM (out stays valid). Any thread. */
int lp_icp_to_json(const lp_icp_parser *p, const lp_icp *icp, lp_buf *out);

/* The parser's NAICS table: the title of a code ("5112" -> "Software Publishers"), NULL when unknown. */
const char *lp_icp_naics_title(const lp_icp_parser *p, const char *code);

/* Whether a lead's NAICS code (2 to 6 digits) falls under an ICP industry code: a prefix ("52" covers
 * "522320") or a sector range ("31-33" covers "3254"). 1 or 0. Any thread. */
int lp_icp_naics_covers(const char *icp_code, const char *lead_code);

#endif
