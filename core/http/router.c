/*
 * router.c: a linear match over a small static table (a dozen routes): exact patterns, or a prefix
 * followed by one "{param}" segment. HEAD is served by a GET route (the server drops the body).
 */
#include <llhttp.h>
#include <string.h>

#include "http/router.h"

/* Does path match pattern? Sets *param to the "{...}" segment when the pattern has one. */
static int match(const char *pattern, lp_str path, lp_str *param) {
  const char *brace = strchr(pattern, '{');
  *param = (lp_str){ "", 0 };
  if (brace == NULL) return strlen(pattern) == path.len && memcmp(pattern, path.ptr, path.len) == 0;
  size_t plen = (size_t)(brace - pattern);
  if (path.len <= plen || memcmp(pattern, path.ptr, plen) != 0) return 0;
  const char *rest = path.ptr + plen;
  size_t rlen = path.len - plen;
  if (memchr(rest, '/', rlen) != NULL) return 0;
  *param = (lp_str){ rest, rlen };
  return 1;
}

/* Appends a method name to the Allow list unless it is there already. */
static void allow_add(char *allow, size_t cap, const char *name) {
  size_t nl = strlen(name);
  for (const char *p = allow; (p = strstr(p, name)) != NULL; p += nl)
    if ((p == allow || p[-1] == ' ') && (p[nl] == ',' || p[nl] == '\0')) return;
  size_t len = strlen(allow);
  if (len + nl + 3 > cap) return;
  if (len) {
    memcpy(allow + len, ", ", 2);
    len += 2;
  }
  memcpy(allow + len, name, nl + 1);
}

void lp_router_dispatch(const lp_route *routes, size_t n, lp_http_req *req, void *ud) {
  lp_str path = lp_http_req_path(req);
  int method = lp_http_req_method(req);
  const lp_route *path_hit = NULL, *head_hit = NULL;
  lp_str param, head_param = { "", 0 };
  for (size_t i = 0; i < n; i++) {
    if (!match(routes[i].pattern, path, &param)) continue;
    if (routes[i].method == method) {
      lp_http_req_set_route(req, routes[i].name);
      routes[i].fn(req, param, ud);
      return;
    }
    if (method == HTTP_HEAD && routes[i].method == HTTP_GET && head_hit == NULL) {
      head_hit = &routes[i];
      head_param = param;
    }
    if (path_hit == NULL) path_hit = &routes[i];
  }
  if (head_hit != NULL) {
    lp_http_req_set_route(req, head_hit->name);
    head_hit->fn(req, head_param, ud);
    return;
  }
  if (path_hit == NULL) {
    lp_http_req_set_route(req, "other");
    lp_http_respond_error(req, 404, "not_found", "no route for %.*s", (int)(path.len > 200 ? 200 : path.len),
                          path.ptr);
    return;
  }
  char allow[256] = "";
  for (size_t i = 0; i < n; i++) {
    if (!match(routes[i].pattern, path, &param)) continue;
    const char *name = llhttp_method_name((llhttp_method_t)routes[i].method);
    allow_add(allow, sizeof(allow), name);
    if (routes[i].method == HTTP_GET) allow_add(allow, sizeof(allow), "HEAD");
  }
  lp_http_req_set_route(req, path_hit->name);
  lp_http_add_header(req, "Allow", allow);
  lp_http_respond_error(req, 405, "method_not_allowed", "%s is not allowed here; allowed: %s",
                        lp_http_req_method_name(req), allow);
}
