#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "query/request.h"

static char err[512];

static int parse(const char *body, lp_query_req *r) {
  err[0] = '\0';
  return lp_query_req_parse(body, strlen(body), 0.01, r, err, sizeof(err));
}

/* The body must be refused with a message containing want. */
static void refused(const char *body, const char *want) {
  lp_query_req r;
  cr_assert_eq(parse(body, &r), LP_EINVAL, "accepted: %s", body);
  cr_assert(strstr(err, want) != NULL, "for %s: message \"%s\" lacks \"%s\"", body, err, want);
}

Test(query_request, defaults) {
  lp_query_req r;
  cr_assert_eq(parse("{\"prompt\":\"billing API\"}", &r), LP_OK, "%s", err);
  cr_assert_str_eq(r.prompt, "billing API");
  cr_assert_eq(r.k, 25);
  cr_assert_eq(r.explain, 1);
  cr_assert_float_eq(r.max_cost_usd, 0.01, 1e-12);
  cr_assert_eq(r.has_filters, 0);
  lp_query_req_free(&r);
}

Test(query_request, every_field) {
  lp_query_req r;
  const char *body =
      "{\"prompt\":\"x\",\"k\":1000,\"explain\":false,\"max_cost_usd\":0,\"future_field\":[1],"
      "\"filters\":{\"country\":[\"us\",\"De\"],\"industry\":[\"Software\"],\"employees_min\":50,"
      "\"employees_max\":500,\"tech\":[\"Stripe\"],\"exclude_domains\":[\"https://www.Acme.com/x\"]}}";
  cr_assert_eq(parse(body, &r), LP_OK, "%s", err);
  cr_assert_eq(r.k, 1000);
  cr_assert_eq(r.explain, 0);
  cr_assert_float_eq(r.max_cost_usd, 0.0, 1e-12);
  cr_assert_eq(r.filters.n_country, 2);
  cr_assert_str_eq(r.filters.country[0], "US");
  cr_assert_str_eq(r.filters.country[1], "DE");
  cr_assert_str_eq(r.filters.industry[0], "Software");
  cr_assert_eq(r.filters.employees_min, 50);
  cr_assert_eq(r.filters.employees_max, 500);
  cr_assert_str_eq(r.filters.tech[0], "stripe");
  cr_assert_str_eq(r.filters.exclude_domains[0], "acme.com");
  lp_query_req_free(&r);
}

Test(query_request, every_error_names_its_field) {
  refused("", "not valid JSON");
  refused("{\"prompt\":", "not valid JSON");
  refused("[1,2]", "must be a JSON object");
  refused("{}", "prompt is required");
  refused("{\"prompt\":null}", "prompt is required");
  refused("{\"prompt\":7}", "prompt must be a string");
  refused("{\"prompt\":\"\"}", "prompt must be 1..4096 bytes");
  refused("{\"prompt\":\"   \\n \"}", "only white space");
  refused("{\"prompt\":\"x\",\"prompt\":\"y\"}", "not valid JSON");
  refused("{\"prompt\":\"x\",\"k\":0}", "k must be between 1 and 1000, got 0");
  refused("{\"prompt\":\"x\",\"k\":1001}", "k must be between 1 and 1000, got 1001");
  refused("{\"prompt\":\"x\",\"k\":-3}", "k must be between 1 and 1000");
  refused("{\"prompt\":\"x\",\"k\":2.5}", "k must be an integer");
  refused("{\"prompt\":\"x\",\"k\":\"25\"}", "k must be an integer");
  refused("{\"prompt\":\"x\",\"explain\":\"yes\"}", "explain must be true or false");
  refused("{\"prompt\":\"x\",\"max_cost_usd\":-1}", "max_cost_usd must be a number >= 0");
  refused("{\"prompt\":\"x\",\"max_cost_usd\":\"free\"}", "max_cost_usd must be a number >= 0");
  refused("{\"prompt\":\"x\",\"filters\":[]}", "filters must be an object");
  refused("{\"prompt\":\"x\",\"filters\":{\"contry\":[\"US\"]}}", "unknown filter \"contry\"");
  refused("{\"prompt\":\"x\",\"filters\":{\"country\":\"US\"}}", "filters.country must be an array");
  refused("{\"prompt\":\"x\",\"filters\":{\"country\":[\"USA\"]}}", "filters.country[0] must be an ISO 3166-1 alpha-2");
  refused("{\"prompt\":\"x\",\"filters\":{\"country\":[\"US\",1]}}", "filters.country[1]");
  refused("{\"prompt\":\"x\",\"filters\":{\"industry\":[1]}}", "filters.industry[0] must be a string");
  refused("{\"prompt\":\"x\",\"filters\":{\"industry\":[\"\"]}}", "filters.industry[0] must be 1..256 bytes");
  refused("{\"prompt\":\"x\",\"filters\":{\"employees_min\":0}}", "filters.employees_min must be an integer >= 1");
  refused("{\"prompt\":\"x\",\"filters\":{\"employees_max\":\"10\"}}", "filters.employees_max must be an integer >= 1");
  refused("{\"prompt\":\"x\",\"filters\":{\"employees_min\":500,\"employees_max\":50}}", "greater than employees_max");
  refused("{\"prompt\":\"x\",\"filters\":{\"tech\":{}}}", "filters.tech must be an array");
  refused("{\"prompt\":\"x\",\"filters\":{\"exclude_domains\":[\"not a domain\"]}}", "filters.exclude_domains[0]");
}

Test(query_request, prompt_bounds) {
  static char body[6000];
  char big[5001];
  memset(big, 'a', sizeof(big) - 1);
  big[5000] = '\0';
  snprintf(body, sizeof(body), "{\"prompt\":\"%s\"}", big);
  refused(body, "prompt must be 1..4096 bytes, got 5000");
  big[4096] = '\0';
  snprintf(body, sizeof(body), "{\"prompt\":\"%s\"}", big);
  lp_query_req r;
  cr_assert_eq(parse(body, &r), LP_OK, "4096 bytes is the limit, inclusive: %s", err);
  cr_assert_eq(r.prompt_len, 4096);
  lp_query_req_free(&r);
  /* Invalid UTF-8 is refused by the JSON parser. */
  refused("{\"prompt\":\"\xff\xfe\"}", "not valid JSON");
}

Test(query_request, nulls_mean_absent) {
  lp_query_req r;
  cr_assert_eq(parse("{\"prompt\":\"x\",\"k\":null,\"explain\":null,\"filters\":{\"country\":null}}", &r), LP_OK, "%s", err);
  cr_assert_eq(r.k, 25);
  cr_assert_eq(r.filters.n_country, 0);
  lp_query_req_free(&r);
}
