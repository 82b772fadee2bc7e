/*
 * request.h: the body of POST /v1/leads (contract section 3), parsed and checked.
 *
 *   {"prompt": "...", "k": 25, "filters": {...}, "explain": true, "max_cost_usd": 0.05}
 *
 * Every rule has its message, answered as 400 bad_request by the route: prompt a string of 1..4096 bytes
 * (valid UTF-8, not only white space); k an integer 1..1000 (default 25); explain a boolean (default true);
 * max_cost_usd a number >= 0 (default from the caller); filters an object whose keys are country (array of
 * ISO alpha-2 strings), industry (array of strings), employees_min / employees_max (integers >= 1,
 * min <= max), tech (array of strings), exclude_domains (array of domains, canonicalised); an unknown filter
 * key is an error naming it, so that a typo never silently widens a search. Unknown top-level fields are
 * ignored (forward compatibility, as for snippets).
 *
 * Threads: parse on the reactor. The result owns all its memory (one lp_query_req_free).
 */
#ifndef LP_QUERY_REQUEST_H
#define LP_QUERY_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "leadpoet/common.h"

#define LP_QUERY_PROMPT_MAX 4096
#define LP_QUERY_K_MAX 1000
#define LP_QUERY_K_DEFAULT 25
#define LP_QUERY_FILTER_ITEMS_MAX 256

typedef struct lp_query_filters {
  char (*country)[3];          /* upper-case alpha-2 */
  size_t n_country;
  char **industry;
  size_t n_industry;
  int64_t employees_min;       /* 0 = no bound */
  int64_t employees_max;       /* 0 = no bound */
  char **tech;                 /* lower-case */
  size_t n_tech;
  char **exclude_domains;      /* canonical */
  size_t n_exclude_domains;
} lp_query_filters;

typedef struct lp_query_req {
  char *prompt;
  size_t prompt_len;
  uint32_t k;
  int explain;
  double max_cost_usd;
  lp_query_filters filters;
  int has_filters;
} lp_query_req;

/* Parses body (len bytes). On success fills req (free with lp_query_req_free) and returns LP_OK; on a bad
 * request returns LP_EINVAL with a one-line message for the client in errstr. default_max_cost is used
 * when the body gives no max_cost_usd. */
int lp_query_req_parse(const char *body, size_t len, double default_max_cost, lp_query_req *req, char *errstr,
                       size_t errstr_size);
void lp_query_req_free(lp_query_req *req);

#endif
