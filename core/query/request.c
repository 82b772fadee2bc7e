#include "query/request.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "stages/ingest/ingest.h"

static int bad(char *errstr, size_t errstr_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(char *errstr, size_t errstr_size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(errstr, errstr_size, fmt, ap);
  va_end(ap);
  return LP_EINVAL;
}

static int only_space(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isspace((unsigned char)s[i])) return 0;
  return 1;
}

/* An array of strings, each 1..max bytes, at most LP_QUERY_FILTER_ITEMS_MAX of them; *out is an lp_malloc'd
 * array of copies (lower-cased when lower). */
static int string_array(const json_t *v, const char *name, size_t max, int lower, char ***out, size_t *n,
                        char *errstr, size_t errstr_size) {
  if (!json_is_array(v)) return bad(errstr, errstr_size, "filters.%s must be an array of strings", name);
  size_t count = json_array_size(v);
  if (count > LP_QUERY_FILTER_ITEMS_MAX)
    return bad(errstr, errstr_size, "filters.%s has %zu items, at most %d", name, count, LP_QUERY_FILTER_ITEMS_MAX);
  *out = lp_calloc(count ? count : 1, sizeof(char *));
  *n = 0;
  for (size_t i = 0; i < count; i++) {
    const json_t *e = json_array_get(v, i);
    if (!json_is_string(e)) return bad(errstr, errstr_size, "filters.%s[%zu] must be a string", name, i);
    size_t len = json_string_length(e);
    if (len == 0 || len > max) return bad(errstr, errstr_size, "filters.%s[%zu] must be 1..%zu bytes", name, i, max);
    char *s = lp_strndup(json_string_value(e), len);
    if (lower)
      for (char *p = s; *p; p++) *p = (char)tolower((unsigned char)*p);
    (*out)[(*n)++] = s;
  }
  return LP_OK;
}

static int countries(const json_t *v, lp_query_filters *f, char *errstr, size_t errstr_size) {
  if (!json_is_array(v)) return bad(errstr, errstr_size, "filters.country must be an array of ISO 3166-1 alpha-2 codes");
  size_t count = json_array_size(v);
  if (count > LP_QUERY_FILTER_ITEMS_MAX) return bad(errstr, errstr_size, "filters.country has too many items");
  f->country = lp_calloc(count ? count : 1, 3);
  for (size_t i = 0; i < count; i++) {
    const json_t *e = json_array_get(v, i);
    const char *s = json_string_value(e);
    if (s == NULL || json_string_length(e) != 2 || !isalpha((unsigned char)s[0]) || !isalpha((unsigned char)s[1]))
      return bad(errstr, errstr_size, "filters.country[%zu] must be an ISO 3166-1 alpha-2 code such as \"US\"", i);
    f->country[i][0] = (char)toupper((unsigned char)s[0]);
    f->country[i][1] = (char)toupper((unsigned char)s[1]);
    f->country[i][2] = '\0';
    f->n_country++;
  }
  return LP_OK;
}

static int employees(const json_t *v, const char *name, int64_t *out, char *errstr, size_t errstr_size) {
  if (!json_is_integer(v) || json_integer_value(v) < 1)
    return bad(errstr, errstr_size, "filters.%s must be an integer >= 1", name);
  *out = json_integer_value(v);
  return LP_OK;
}

static int exclude_domains(const json_t *v, lp_query_filters *f, char *errstr, size_t errstr_size) {
  int rc = string_array(v, "exclude_domains", 512, 0, &f->exclude_domains, &f->n_exclude_domains, errstr, errstr_size);
  if (rc != LP_OK) return rc;
  for (size_t i = 0; i < f->n_exclude_domains; i++) {
    char canon[LP_DOMAIN_BUF];
    size_t n = 0;
    lp_reject rej = { NULL, { 0 } };
    if (lp_domain_canonicalize(f->exclude_domains[i], strlen(f->exclude_domains[i]), canon, sizeof(canon), &n, &rej) != LP_OK)
      return bad(errstr, errstr_size, "filters.exclude_domains[%zu]: %s", i, rej.message);
    lp_free(f->exclude_domains[i]);
    f->exclude_domains[i] = lp_strndup(canon, n);
  }
  return LP_OK;
}

static int filters(const json_t *obj, lp_query_filters *f, char *errstr, size_t errstr_size) {
  if (!json_is_object(obj)) return bad(errstr, errstr_size, "filters must be an object");
  const char *key;
  const json_t *v;
  int rc = LP_OK;
  json_object_foreach((json_t *)obj, key, v) {
    if (json_is_null(v)) continue;
    if (strcmp(key, "country") == 0) rc = countries(v, f, errstr, errstr_size);
    else if (strcmp(key, "industry") == 0) rc = string_array(v, "industry", 256, 0, &f->industry, &f->n_industry, errstr, errstr_size);
    else if (strcmp(key, "employees_min") == 0) rc = employees(v, key, &f->employees_min, errstr, errstr_size);
    else if (strcmp(key, "employees_max") == 0) rc = employees(v, key, &f->employees_max, errstr, errstr_size);
    else if (strcmp(key, "tech") == 0) rc = string_array(v, "tech", 128, 1, &f->tech, &f->n_tech, errstr, errstr_size);
    else if (strcmp(key, "exclude_domains") == 0) rc = exclude_domains(v, f, errstr, errstr_size);
    else rc = bad(errstr, errstr_size, "unknown filter \"%s\" (known: country, industry, employees_min, employees_max, tech, exclude_domains)", key);
    if (rc != LP_OK) return rc;
  }
  if (f->employees_min && f->employees_max && f->employees_min > f->employees_max)
    return bad(errstr, errstr_size, "filters.employees_min (%lld) is greater than employees_max (%lld)",
               (long long)f->employees_min, (long long)f->employees_max);
  return LP_OK;
}

static int fields(const json_t *root, double default_max_cost, lp_query_req *req, char *errstr, size_t errstr_size) {
  if (!json_is_object(root)) return bad(errstr, errstr_size, "the body must be a JSON object");
  const json_t *prompt = json_object_get(root, "prompt");
  if (prompt == NULL || json_is_null(prompt)) return bad(errstr, errstr_size, "prompt is required");
  if (!json_is_string(prompt)) return bad(errstr, errstr_size, "prompt must be a string");
  size_t plen = json_string_length(prompt);
  if (plen == 0 || plen > LP_QUERY_PROMPT_MAX)
    return bad(errstr, errstr_size, "prompt must be 1..%d bytes, got %zu", LP_QUERY_PROMPT_MAX, plen);
  if (only_space(json_string_value(prompt), plen)) return bad(errstr, errstr_size, "prompt is only white space");
  req->prompt = lp_strndup(json_string_value(prompt), plen);
  req->prompt_len = plen;

  req->k = LP_QUERY_K_DEFAULT;
  const json_t *k = json_object_get(root, "k");
  if (k != NULL && !json_is_null(k)) {
    if (!json_is_integer(k)) return bad(errstr, errstr_size, "k must be an integer between 1 and %d", LP_QUERY_K_MAX);
    json_int_t kv = json_integer_value(k);
    if (kv < 1 || kv > LP_QUERY_K_MAX)
      return bad(errstr, errstr_size, "k must be between 1 and %d, got %lld", LP_QUERY_K_MAX, (long long)kv);
    req->k = (uint32_t)kv;
  }
  req->explain = 1;
  const json_t *ex = json_object_get(root, "explain");
  if (ex != NULL && !json_is_null(ex)) {
    if (!json_is_boolean(ex)) return bad(errstr, errstr_size, "explain must be true or false");
    req->explain = json_is_true(ex);
  }
  req->max_cost_usd = default_max_cost;
  const json_t *mc = json_object_get(root, "max_cost_usd");
  if (mc != NULL && !json_is_null(mc)) {
    if (!json_is_number(mc) || !isfinite(json_number_value(mc)) || json_number_value(mc) < 0)
      return bad(errstr, errstr_size, "max_cost_usd must be a number >= 0");
    req->max_cost_usd = json_number_value(mc);
  }
  const json_t *f = json_object_get(root, "filters");
  if (f != NULL && !json_is_null(f)) {
    req->has_filters = 1;
    return filters(f, &req->filters, errstr, errstr_size);
  }
  return LP_OK;
}

int lp_query_req_parse(const char *body, size_t len, double default_max_cost, lp_query_req *req, char *errstr,
                       size_t errstr_size) {
  memset(req, 0, sizeof(*req));
  json_error_t je;
  json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
  if (root == NULL) return bad(errstr, errstr_size, "the body is not valid JSON: %s (at byte %d)", je.text, je.position);
  int rc = fields(root, default_max_cost, req, errstr, errstr_size);
  json_decref(root);
  if (rc != LP_OK) lp_query_req_free(req);
  return rc;
}

static void free_strings(char **v, size_t n) {
  for (size_t i = 0; i < n; i++) lp_free(v[i]);
  lp_free(v);
}

void lp_query_req_free(lp_query_req *req) {
  lp_free(req->prompt);
  lp_free(req->filters.country);
  free_strings(req->filters.industry, req->filters.n_industry);
  free_strings(req->filters.tech, req->filters.n_tech);
  free_strings(req->filters.exclude_domains, req->filters.n_exclude_domains);
  memset(req, 0, sizeof(*req));
}
