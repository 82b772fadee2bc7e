/* GET /openapi.json against the server that serves it: an OpenAPI 3.1 document whose paths and methods
 * are exactly the routes the server has (each documented operation answers neither 404 nor 405, its Allow
 * list equals the documented methods, and paths it does not document answer 404), with every route,
 * error status and header of the contract, and every $ref resolving. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "helpers/helpers.h"

static lpt_server srv;
static json_t *doc;
static char watch_id[64];  /* a registered watch, for /v1/watches/{id} */
static const char *const env[] = { "LEADPOET_KAFKA_MODE=off", NULL };

/* A server with one lead (acme.com) and one miner (m1), so that the {param} routes have something to show. */
static void start(void) {
  cr_assert_eq(lpt_server_start(&srv, NULL, env), 0, "server did not start (log in %s)", srv.log_path);
  char body[512];
  snprintf(body, sizeof(body),
           "[{\"id\":\"s1\",\"miner\":\"m1\",\"ts\":%lld,\"lead\":{\"domain\":\"acme.com\"},\"kind\":\"hiring\","
           "\"text\":\"Acme is hiring a billing engineer\"}]",
           (long long)time(NULL) * 1000);
  lpt_response r;
  cr_assert_eq(lpt_http(srv.port, "POST", "/v1/snippets", "application/json", body, strlen(body), &r), 0);
  cr_assert_eq(r.status, 202, "%s", r.body);
  lpt_response_free(&r);
  static const char watch[] = "{\"prompt\":\"billing software\",\"url\":\"http://127.0.0.1:9/hook\","
                              "\"secret\":\"0123456789abcdef\"}";
  cr_assert_eq(lpt_http(srv.port, "POST", "/v1/watches", "application/json", watch, strlen(watch), &r), 0);
  cr_assert_eq(r.status, 201, "%s", r.body);
  json_t *w = json_loads(r.body, 0, NULL);
  snprintf(watch_id, sizeof(watch_id), "%s", json_string_value(json_object_get(w, "id")));
  json_decref(w);
  lpt_response_free(&r);
  cr_assert_eq(lpt_http(srv.port, "GET", "/openapi.json", NULL, NULL, 0, &r), 0);
  cr_assert_eq(r.status, 200);
  char ct[128];
  cr_assert_eq(lpt_header(&r, "Content-Type", ct, sizeof(ct)), 0);
  cr_assert_str_eq(ct, "application/json");
  json_error_t err;
  doc = json_loads(r.body, 0, &err);
  cr_assert_not_null(doc, "/openapi.json is not JSON: %s at line %d", err.text, err.line);
  lpt_response_free(&r);
}

static void stop(void) {
  json_decref(doc);
  cr_assert_eq(lpt_server_stop(&srv), 0);
}

TestSuite(console_openapi, .init = start, .fini = stop, .timeout = 120);

/* The documented path with its {param} filled by something that exists. */
static void concrete(const char *path, char *out, size_t cap) {
  const char *brace = strchr(path, '{');
  if (brace == NULL) {
    snprintf(out, cap, "%s", path);
    return;
  }
  const char *value = strncmp(path, "/v1/watches/", 12) == 0 ? watch_id
                      : strncmp(brace, "{domain}", 8) == 0 ? "acme.com"
                      : strncmp(brace, "{id}", 4) == 0   ? "m1"
                      : strncmp(brace, "{name}", 6) == 0 ? "console.js"
                                                         : "x";
  snprintf(out, cap, "%.*s%s", (int)(brace - path), path, value);
}

static const char *body_for(const char *path) {
  if (strcmp(path, "/v1/leads") == 0) return "{\"prompt\":\"billing software\",\"k\":3}";
  return "[]";
}

static void upper(const char *in, char *out, size_t cap) {
  size_t i = 0;
  for (; in[i] && i + 1 < cap; i++) out[i] = (char)(in[i] >= 'a' && in[i] <= 'z' ? in[i] - 32 : in[i]);
  out[i] = '\0';
}

Test(console_openapi, is_openapi_3_1_with_info_and_paths) {
  const char *v = json_string_value(json_object_get(doc, "openapi"));
  cr_assert_not_null(v);
  cr_assert_eq(strncmp(v, "3.1.", 4), 0, "openapi is %s", v);
  json_t *info = json_object_get(doc, "info");
  cr_assert_not_null(json_string_value(json_object_get(info, "title")));
  cr_assert_not_null(json_string_value(json_object_get(info, "version")));
  cr_assert(json_object_size(json_object_get(doc, "paths")) > 0);
}

Test(console_openapi, every_documented_operation_is_served) {
  const char *path;
  json_t *item;
  json_object_foreach(json_object_get(doc, "paths"), path, item) {
    char url[256];
    concrete(path, url, sizeof(url));
    const char *method;
    json_t *op;
    json_object_foreach(item, method, op) {
      char m[16];
      upper(method, m, sizeof(m));
      const char *body = strcmp(m, "POST") == 0 ? body_for(path) : NULL;
      lpt_response r;
      cr_assert_eq(lpt_http(srv.port, m, url, body ? "application/json" : NULL, body, body ? strlen(body) : 0, &r), 0);
      cr_expect(r.status != 404 && r.status != 405, "%s %s is documented but answers %d: %s", m, url, r.status, r.body);
      char status[8];
      snprintf(status, sizeof(status), "%d", r.status);
      cr_expect_not_null(json_object_get(json_object_get(op, "responses"), status),
                         "%s %s answered %d, which its operation does not document", m, path, r.status);
      lpt_response_free(&r);
    }
  }
}

/* A method no route has (PATCH): the 405's Allow list must name exactly the documented methods (and HEAD
 * for GET). */
Test(console_openapi, documented_methods_are_exactly_the_allowed_ones) {
  const char *path;
  json_t *item;
  json_object_foreach(json_object_get(doc, "paths"), path, item) {
    char url[256], want[128] = "";
    concrete(path, url, sizeof(url));
    const char *method;
    json_t *op;
    size_t nwant = 0;
    json_object_foreach(item, method, op) {
      char m[16];
      upper(method, m, sizeof(m));
      snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%s", nwant++ ? "," : "", m);
      if (strcmp(m, "GET") == 0) {
        snprintf(want + strlen(want), sizeof(want) - strlen(want), ",HEAD");
        nwant++;
      }
    }
    lpt_response r;
    cr_assert_eq(lpt_http(srv.port, "PATCH", url, NULL, NULL, 0, &r), 0);
    cr_assert_eq(r.status, 405, "PATCH %s: %d", url, r.status);
    char allow[256];
    cr_assert_eq(lpt_header(&r, "Allow", allow, sizeof(allow)), 0);
    size_t nallow = 1;
    for (const char *p = allow; *p; p++) nallow += *p == ',';
    cr_expect_eq(nallow, nwant, "%s: the server allows \"%s\", the document has \"%s\"", path, allow, want);
    for (char *tok = strtok(want, ","); tok; tok = strtok(NULL, ",")) {
      char needle[24];
      int found = 0;
      snprintf(needle, sizeof(needle), "%s", tok);
      for (const char *p = allow; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        found |= (p == allow || p[-1] == ' ') && (p[strlen(needle)] == ',' || p[strlen(needle)] == '\0');
      cr_expect(found, "%s: %s is documented but the server allows only \"%s\"", path, tok, allow);
    }
    lpt_response_free(&r);
  }
}

/* Does a documented path template match this concrete path? */
static int documented(const char *url) {
  const char *path;
  json_t *item;
  json_object_foreach(json_object_get(doc, "paths"), path, item) {
    const char *brace = strchr(path, '{');
    if (brace == NULL && strcmp(path, url) == 0) return 1;
    size_t n = (size_t)(brace ? brace - path : 0);
    if (brace && strncmp(path, url, n) == 0 && url[n] != '\0' && strchr(url + n, '/') == NULL) return 1;
  }
  return 0;
}

Test(console_openapi, undocumented_paths_are_not_found) {
  static const char *const probes[] = {
    "/v1", "/v1/", "/v2/leads", "/v1/lead", "/v1/leads/", "/v1/leads/acme.com/evidence", "/v1/snippet",
    "/v1/outcome", "/v1/miner", "/v1/miners/", "/v1/miners/m1/reputation", "/v1/status/x", "/v1/routes",
    "/routes", "/debug", "/admin", "/health", "/ready", "/metrics/x", "/index.html", "/console", "/doc",
    "/docs/", "/openapi.yaml", "/openapi", "/swagger.json", "/assets", "/assets/", "/assets/x/console.js",
    "/static/console.js", "/favicon.ico", "/healthz/", "/.env",
  };
  for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
    cr_assert(!documented(probes[i]), "probe %s is documented: pick another probe", probes[i]);
    lpt_response r;
    cr_assert_eq(lpt_http(srv.port, "GET", probes[i], NULL, NULL, 0, &r), 0);
    cr_expect_eq(r.status, 404, "GET %s is not documented but answers %d", probes[i], r.status);
    cr_expect_not_null(strstr(r.body, "\"not_found\""), "%s: %s", probes[i], r.body);
    lpt_response_free(&r);
  }
}

Test(console_openapi, documents_every_route_of_the_contract) {
  static const char *const routes[][2] = {
    { "post", "/v1/leads" },       { "get", "/v1/leads/{domain}" }, { "post", "/v1/snippets" },
    { "post", "/v1/outcomes" },    { "get", "/v1/miners" },         { "get", "/v1/miners/{id}" },
    { "get", "/v1/status" },       { "get", "/healthz" },           { "get", "/readyz" },
    { "get", "/metrics" },         { "get", "/" },                  { "get", "/docs" },
    { "get", "/openapi.json" },
  };
  json_t *paths = json_object_get(doc, "paths");
  for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
    cr_expect_not_null(json_object_get(json_object_get(paths, routes[i][1]), routes[i][0]), "%s %s is not documented",
                       routes[i][0], routes[i][1]);
}

/* Is status answered somewhere in the document (an operation's responses, or a shared response)? */
static int status_documented(const char *status) {
  const char *path, *method;
  json_t *item, *op;
  json_object_foreach(json_object_get(doc, "paths"), path, item) {
    json_object_foreach(item, method, op) if (json_object_get(json_object_get(op, "responses"), status)) return 1;
  }
  return 0;
}

Test(console_openapi, documents_the_errors_and_headers_of_the_contract) {
  static const char *const statuses[] = { "200", "202", "304", "400", "401", "404", "405", "408",
                                          "411", "413", "415", "429", "431", "503" };
  for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
    cr_expect(status_documented(statuses[i]), "no operation documents status %s", statuses[i]);
  json_t *comp = json_object_get(doc, "components");
  json_t *err = json_object_get(json_object_get(comp, "schemas"), "Error");
  cr_assert_not_null(err, "no Error schema");
  json_t *inner = json_object_get(json_object_get(err, "properties"), "error");
  cr_assert_not_null(json_object_get(json_object_get(inner, "properties"), "code"));
  cr_assert_not_null(json_object_get(json_object_get(inner, "properties"), "message"));
  static const char *const headers[] = { "Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining",
                                         "X-RateLimit-Reset", "Allow", "ETag" };
  for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++)
    cr_expect_not_null(json_object_get(json_object_get(comp, "headers"), headers[i]), "header %s not documented", headers[i]);
  static const char *const schemas[] = { "Snippet", "Outcome", "LeadsRequest", "LeadsResponse", "LeadProfile",
                                         "Miner", "MinerList", "IngestResult", "Status" };
  for (size_t i = 0; i < sizeof(schemas) / sizeof(schemas[0]); i++)
    cr_expect_not_null(json_object_get(json_object_get(comp, "schemas"), schemas[i]), "schema %s missing", schemas[i]);
  /* The snippet's required fields are the contract's (§1). */
  json_t *req = json_object_get(json_object_get(json_object_get(comp, "schemas"), "Snippet"), "required");
  cr_expect_eq(json_array_size(req), 6);
}

/* Every "$ref": "#/a/b/c" names a node of the document. */
static void check_refs(json_t *node, int *n) {
  if (json_is_object(node)) {
    const char *k;
    json_t *v;
    json_object_foreach(node, k, v) {
      if (strcmp(k, "$ref") == 0 && json_is_string(v)) {
        const char *ref = json_string_value(v);
        cr_assert_eq(strncmp(ref, "#/", 2), 0, "external $ref %s", ref);
        char buf[256];
        snprintf(buf, sizeof(buf), "%s", ref + 2);
        json_t *at = doc;
        for (char *seg = strtok(buf, "/"); seg && at; seg = strtok(NULL, "/")) at = json_object_get(at, seg);
        cr_expect_not_null(at, "$ref %s resolves to nothing", ref);
        (*n)++;
      } else {
        check_refs(v, n);
      }
    }
  } else if (json_is_array(node)) {
    size_t i;
    json_t *v;
    json_array_foreach(node, i, v) check_refs(v, n);
  }
}

Test(console_openapi, every_ref_resolves) {
  int n = 0;
  check_refs(doc, &n);
  cr_assert_gt(n, 50, "only %d $refs: the document lost its shared parts", n);
}
