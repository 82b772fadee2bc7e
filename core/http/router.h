/*
 * router.h: maps (method, path) to a handler. Patterns are exact ("/v1/leads") or end in one parameter
 * segment ("/v1/leads/{domain}": the rest of the path after the prefix, non-empty, no further '/').
 * No match on the path: 404 not_found. A path match with another method: 405 method_not_allowed with
 * an Allow header listing the methods the path has. Loop thread only.
 */
#ifndef LP_HTTP_ROUTER_H
#define LP_HTTP_ROUTER_H

#include "http/http.h"

typedef void (*lp_route_fn)(lp_http_req *req, lp_str param, void *ud);

typedef struct lp_route {
  int method;            /* llhttp_method_t */
  const char *pattern;   /* "/v1/leads/{domain}" */
  const char *name;      /* the metric label: the pattern itself is a good name */
  lp_route_fn fn;
} lp_route;

/* Finds and calls the route, or answers 404/405 itself. Sets the request's route name either way. */
void lp_router_dispatch(const lp_route *routes, size_t n, lp_http_req *req, void *ud);

#endif
