/*
 * console.h: the web console and the API documentation, served from files compiled into the binary.
 *
 *   GET /               the console (web/index.html)
 *   GET /docs           the API reference page, Swagger UI rendering /openapi.json (web/docs.html)
 *   GET /openapi.json   the OpenAPI 3.1 document of the HTTP API (docs/openapi.json)
 *   GET /assets/{name}  every embedded file by name (scripts, styles, Swagger UI's bundle)
 *
 * The files and their table are generated at build time by web/web.cmake. Each answer carries a strong
 * ETag (a hash of the bytes) and answers 304 to a matching If-None-Match. The HTML pages link assets as
 * /assets/NAME?v=ETAG: such a versioned URL is cached for a year (immutable); any other is revalidated.
 *
 * Threads: the routes run on the reactor (loop) thread like every route; the table is read-only data.
 */
#ifndef LP_SERVER_CONSOLE_H
#define LP_SERVER_CONSOLE_H

#include <stddef.h>

#include "http/http.h"

/* One embedded file. Everything points into read-only data of the binary: never freed. */
typedef struct lp__asset {
  const char *name;          /* "console.js": the {name} of /assets/{name} */
  const char *content_type;  /* "text/javascript; charset=utf-8" */
  const unsigned char *data;
  size_t len;
  const char *etag;          /* "\"<16 hex digits>\"", quotes included */
} lp__asset;

/* The generated table (generated/console_assets.c). */
extern const lp__asset lp__console_assets[];
extern const size_t lp__console_assets_count;

/* The asset called name (len bytes, not NUL-terminated), or NULL. Any thread. */
const lp__asset *lp__console_asset(const char *name, size_t len);

/* Does an If-None-Match header value (a list of entity tags, or "*") match etag? Weak comparison, as
 * RFC 9110 13.1.2 asks for If-None-Match. Any thread. */
int lp__etag_matches(const char *if_none_match, size_t len, const char *etag);

/* The routes: ud is unused; param is the {name} of /assets/{name}. Loop thread only. */
void lp__route_console(lp_http_req *req, lp_str param, void *ud);
void lp__route_docs(lp_http_req *req, lp_str param, void *ud);
void lp__route_openapi(lp_http_req *req, lp_str param, void *ud);
void lp__route_asset(lp_http_req *req, lp_str param, void *ud);

#endif
