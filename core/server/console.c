/*
 * console.c: GET /, /docs, /openapi.json and /assets/{name}: files compiled into the binary (console.h),
 * answered with their ETag and caching headers, or 304 when the client's copy is current.
 */
#include <string.h>

#include "server/console.h"

/* The pages run only their own scripts and talk only to this server. Swagger UI sets inline styles and
 * shows its icons as data: URLs, so those two are allowed; nothing else is. */
#define LP_CONSOLE_CSP                                                                                      \
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "        \
  "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

const lp__asset *lp__console_asset(const char *name, size_t len) {
  for (size_t i = 0; i < lp__console_assets_count; i++) {
    const lp__asset *a = &lp__console_assets[i];
    if (strlen(a->name) == len && memcmp(a->name, name, len) == 0) return a;
  }
  return NULL;
}

/* Compares one entity tag of a list, without its W/ prefix, with etag (which has its quotes). */
static int tag_equal(const char *tag, size_t len, const char *etag) {
  if (len >= 2 && tag[0] == 'W' && tag[1] == '/') {
    tag += 2;
    len -= 2;
  }
  return strlen(etag) == len && memcmp(tag, etag, len) == 0;
}

int lp__etag_matches(const char *inm, size_t len, const char *etag) {
  size_t i = 0;
  while (i < len) {
    while (i < len && (inm[i] == ' ' || inm[i] == '\t' || inm[i] == ',')) i++;
    size_t start = i;
    while (i < len && inm[i] != ',') i++;
    size_t end = i;
    while (end > start && (inm[end - 1] == ' ' || inm[end - 1] == '\t')) end--;
    if (end == start) continue;
    if (end - start == 1 && inm[start] == '*') return 1;
    if (tag_equal(inm + start, end - start, etag)) return 1;
  }
  return 0;
}

/* Is the query string exactly "v=<the asset's tag without quotes>"? Then the URL names these bytes for
 * ever and may be cached as immutable. */
static int versioned(lp_http_req *req, const lp__asset *a) {
  lp_str q = lp_http_req_query(req);
  size_t tl = strlen(a->etag);
  return q.ptr != NULL && tl >= 2 && q.len == tl && memcmp(q.ptr, "v=", 2) == 0 &&
         memcmp(q.ptr + 2, a->etag + 1, tl - 2) == 0;
}

/* Answers with the asset, or 304, or an error when a header cannot be added. */
static void serve(lp_http_req *req, const lp__asset *a) {
  int html = strncmp(a->content_type, "text/html", 9) == 0;
  const char *cache = versioned(req, a) ? "public, max-age=31536000, immutable" : "no-cache";
  if (lp_http_add_header(req, "ETag", a->etag) != LP_OK || lp_http_add_header(req, "Cache-Control", cache) != LP_OK ||
      lp_http_add_header(req, "X-Content-Type-Options", "nosniff") != LP_OK ||
      (html && (lp_http_add_header(req, "Content-Security-Policy", LP_CONSOLE_CSP) != LP_OK ||
                lp_http_add_header(req, "Referrer-Policy", "no-referrer") != LP_OK))) {
    lp_http_respond_error(req, 500, "internal", "cannot add the headers of %s", a->name);
    return;
  }
  lp_str inm = lp_http_req_header(req, "If-None-Match");
  if (inm.ptr != NULL && lp__etag_matches(inm.ptr, inm.len, a->etag)) {
    lp_http_respond(req, 304, NULL, NULL, 0);
    return;
  }
  lp_http_respond(req, 200, a->content_type, (const char *)a->data, a->len);
}

/* A page or document that the build always embeds: its absence is a broken build, said as a 500. */
static void serve_named(lp_http_req *req, const char *name) {
  const lp__asset *a = lp__console_asset(name, strlen(name));
  if (a == NULL) {
    lp_http_respond_error(req, 500, "internal", "%s is not embedded in this binary", name);
    return;
  }
  serve(req, a);
}

void lp__route_console(lp_http_req *req, lp_str param, void *ud) {
  (void)param;
  (void)ud;
  serve_named(req, "index.html");
}

void lp__route_docs(lp_http_req *req, lp_str param, void *ud) {
  (void)param;
  (void)ud;
  serve_named(req, "docs.html");
}

void lp__route_openapi(lp_http_req *req, lp_str param, void *ud) {
  (void)param;
  (void)ud;
  serve_named(req, "openapi.json");
}

void lp__route_asset(lp_http_req *req, lp_str param, void *ud) {
  (void)ud;
  const lp__asset *a = lp__console_asset(param.ptr, param.len);
  if (a == NULL) {
    lp_http_respond_error(req, 404, "not_found", "no asset %.*s", (int)(param.len > 100 ? 100 : param.len), param.ptr);
    return;
  }
  serve(req, a);
}
