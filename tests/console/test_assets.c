/* GET /, /docs, /openapi.json and /assets/{name}: the embedded files with their content type, ETag and
 * caching headers; 304 for a matching If-None-Match (strong, weak, a list, "*"), 200 otherwise; every asset
 * a page links is served; an unknown asset is a JSON 404. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "helpers/helpers.h"
#include "server/console.h"

static lpt_server srv;
static const char *const env[] = { "LEADPOET_KAFKA_MODE=off", NULL };

static void start(void) { cr_assert_eq(lpt_server_start(&srv, NULL, env), 0, "log in %s", srv.log_path); }
static void stop(void) { cr_assert_eq(lpt_server_stop(&srv), 0); }

TestSuite(console_assets, .init = start, .fini = stop, .timeout = 120);

/* GET path with an If-None-Match header (none when inm is NULL). */
static void get(const char *path, const char *inm, lpt_response *r) {
  char req[1024];
  int fd = lpt_connect(srv.port);
  cr_assert_geq(fd, 0);
  snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n%s%s%sConnection: close\r\n\r\n", path,
           inm ? "If-None-Match: " : "", inm ? inm : "", inm ? "\r\n" : "");
  cr_assert_eq(lpt_send_all(fd, req, strlen(req)), 0);
  cr_assert_eq(lpt_read_response(fd, r, 10000), 0, "no response to GET %s", path);
  close(fd);
}

static void header(const lpt_response *r, const char *name, char *out, size_t cap) {
  cr_assert_eq(lpt_header(r, name, out, cap), 0, "no %s header", name);
}

Test(console_assets, pages_have_their_type_tag_and_policy) {
  static const char *const pages[][2] = { { "/", "text/html; charset=utf-8" }, { "/docs", "text/html; charset=utf-8" },
                                          { "/openapi.json", "application/json" } };
  for (size_t i = 0; i < 3; i++) {
    lpt_response r;
    char v[512];
    get(pages[i][0], NULL, &r);
    cr_assert_eq(r.status, 200, "%s: %d", pages[i][0], r.status);
    header(&r, "Content-Type", v, sizeof(v));
    cr_expect_str_eq(v, pages[i][1]);
    header(&r, "ETag", v, sizeof(v));
    cr_expect_eq(strlen(v), 18, "a strong tag of 16 hex digits in quotes: %s", v);
    header(&r, "Cache-Control", v, sizeof(v));
    cr_expect_str_eq(v, "no-cache");
    header(&r, "X-Content-Type-Options", v, sizeof(v));
    if (strncmp(pages[i][1], "text/html", 9) == 0) {
      header(&r, "Content-Security-Policy", v, sizeof(v));
      cr_expect_not_null(strstr(v, "default-src 'self'"));
    }
    lpt_response_free(&r);
  }
}

Test(console_assets, if_none_match_answers_304_only_when_it_matches) {
  lpt_response r;
  char tag[64], v[128];
  get("/", NULL, &r);
  header(&r, "ETag", tag, sizeof(tag));
  lpt_response_free(&r);
  char weak[80], list[160];
  snprintf(weak, sizeof(weak), "W/%s", tag);
  snprintf(list, sizeof(list), "\"0000000000000000\", %s", tag);
  const char *matching[] = { tag, weak, list, "*" };
  for (size_t i = 0; i < 4; i++) {
    get("/", matching[i], &r);
    cr_expect_eq(r.status, 304, "If-None-Match: %s -> %d", matching[i], r.status);
    cr_expect_eq(r.body_len, 0);
    header(&r, "ETag", v, sizeof(v));
    cr_expect_str_eq(v, tag);
    lpt_response_free(&r);
  }
  const char *other[] = { "\"0000000000000000\"", "", "W/", "\"\"" };
  for (size_t i = 0; i < 4; i++) {
    get("/", other[i], &r);
    cr_expect_eq(r.status, 200, "If-None-Match: %s -> %d", other[i], r.status);
    cr_expect_gt(r.body_len, 0);
    lpt_response_free(&r);
  }
}

/* Every "/assets/NAME?v=TAG" that a page links: served with the right type, cached for ever at that URL,
 * and revalidated at the bare one. */
static void check_links(const char *page) {
  lpt_response r;
  get(page, NULL, &r);
  cr_assert_eq(r.status, 200);
  int n = 0;
  for (const char *p = r.body; (p = strstr(p, "\"/assets/")) != NULL; p++) {
    char url[256], bare[256], v[256];
    const char *end = strchr(p + 1, '"');
    cr_assert_not_null(end);
    snprintf(url, sizeof(url), "%.*s", (int)(end - p - 1), p + 1);
    cr_expect_not_null(strstr(url, "?v="), "%s links %s without its version", page, url);
    snprintf(bare, sizeof(bare), "%.*s", (int)strcspn(url, "?"), url);
    lpt_response a;
    get(url, NULL, &a);
    cr_expect_eq(a.status, 200, "%s links %s: %d", page, url, a.status);
    header(&a, "Cache-Control", v, sizeof(v));
    cr_expect_str_eq(v, "public, max-age=31536000, immutable", "%s", url);
    header(&a, "Content-Type", v, sizeof(v));
    const char *ext = strrchr(bare, '.');
    const char *want = strcmp(ext, ".js") == 0    ? "text/javascript; charset=utf-8"
                       : strcmp(ext, ".css") == 0 ? "text/css; charset=utf-8"
                       : strcmp(ext, ".svg") == 0 ? "image/svg+xml"
                                                  : "text/plain; charset=utf-8";
    cr_expect_str_eq(v, want, "%s", url);
    lpt_response_free(&a);
    get(bare, NULL, &a);
    header(&a, "Cache-Control", v, sizeof(v));
    cr_expect_str_eq(v, "no-cache", "%s without its version", bare);
    lpt_response_free(&a);
    n++;
  }
  cr_expect_geq(n, 2, "%s links only %d assets", page, n);
  lpt_response_free(&r);
}

Test(console_assets, every_linked_asset_is_served) {
  check_links("/");
  check_links("/docs");
}

Test(console_assets, a_wrong_version_is_not_cached_for_ever) {
  lpt_response r;
  char v[128];
  get("/assets/console.js?v=0000000000000000", NULL, &r);
  cr_assert_eq(r.status, 200);
  header(&r, "Cache-Control", v, sizeof(v));
  cr_expect_str_eq(v, "no-cache");
  lpt_response_free(&r);
}

Test(console_assets, an_unknown_asset_is_a_json_404) {
  lpt_response r;
  get("/assets/nothing.js", NULL, &r);
  cr_assert_eq(r.status, 404);
  cr_expect_not_null(strstr(r.body, "\"code\":\"not_found\""), "%s", r.body);
  lpt_response_free(&r);
  get("/assets/..%2Fconsole.js", NULL, &r);
  cr_expect_eq(r.status, 404);
  lpt_response_free(&r);
}

Test(console_assets, the_docs_page_bundles_swagger_ui) {
  lpt_response r;
  get("/assets/swagger-ui-bundle.js", NULL, &r);
  cr_assert_eq(r.status, 200);
  cr_expect_gt(r.body_len, 100000);
  cr_expect_not_null(strstr(r.body, "SwaggerUIBundle"));
  lpt_response_free(&r);
}

/* ---- the table and the tag comparison, in-process ------------------------------------------------- */

Test(console_etag, matches_like_rfc_9110) {
  const char *t = "\"abc\"";
  cr_expect(lp__etag_matches("\"abc\"", 5, t));
  cr_expect(lp__etag_matches("W/\"abc\"", 7, t), "weak comparison");
  cr_expect(lp__etag_matches(" \"x\" ,\t\"abc\" ", 13, t), "a list with spaces");
  cr_expect(lp__etag_matches("*", 1, t));
  cr_expect(!lp__etag_matches("", 0, t));
  cr_expect(!lp__etag_matches("\"ab\"", 4, t));
  cr_expect(!lp__etag_matches("\"abc", 4, t), "an unclosed tag");
  cr_expect(!lp__etag_matches("abc", 3, t), "a tag without quotes");
  cr_expect(!lp__etag_matches("\"abc\"x", 6, t));
  cr_expect(!lp__etag_matches("**", 2, t));
  cr_expect(!lp__etag_matches(",,,", 3, t));
}

Test(console_etag, the_table_has_the_pages_and_unique_names) {
  cr_assert_not_null(lp__console_asset("index.html", 10));
  cr_assert_not_null(lp__console_asset("docs.html", 9));
  cr_assert_not_null(lp__console_asset("openapi.json", 12));
  cr_assert_null(lp__console_asset("index.htm", 9));
  cr_assert_null(lp__console_asset("", 0));
  for (size_t i = 0; i < lp__console_assets_count; i++) {
    const lp__asset *a = &lp__console_assets[i];
    cr_expect_eq(lp__console_asset(a->name, strlen(a->name)), a, "%s twice", a->name);
    cr_expect_eq(a->data[a->len], 0, "%s: NUL after the bytes", a->name);
    cr_expect_eq(strlen(a->etag), 18);
  }
}
