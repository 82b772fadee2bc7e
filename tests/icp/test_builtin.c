/* The parser with the real, embedded technology table (the other ICP tests use a small fixture table). */
#include <criterion/criterion.h>
#include <string.h>

#include "base/alloc.h"
#include "icp/icp.h"
#include "text/techtable.h"

static lp_techtable *tt;
static lp_icp_parser *parser;

static void setup(void) {
  char err[256];
  cr_assert_eq(lp_techtable_builtin(&tt, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(lp_icp_parser_new(&parser, tt, err, sizeof(err)), LP_OK, "%s", err);
}

static void teardown(void) {
  lp_icp_parser_free(parser);
  lp_techtable_free(tt);
}

TestSuite(icp_builtin, .init = setup, .fini = teardown);

static char *icp_json(const char *prompt) {
  lp_icp *icp = NULL;
  cr_assert_eq(lp_icp_parse(parser, prompt, strlen(prompt), &icp), LP_OK);
  lp_buf b = LP_BUF_INIT;
  cr_assert_eq(lp_icp_to_json(parser, icp, &b), LP_OK);
  lp_icp_free(icp);
  return b.data;
}

static void has(const char *json, const char *want) {
  cr_assert(strstr(json, want) != NULL, "%s lacks %s", json, want);
}

Test(icp_builtin, the_seed_prompt) {
  char *j = icp_json("a usage-based billing API for SaaS companies, US, 50-500 people, not on Stripe");
  has(j, "\"exclude_technologies\":[\"stripe\"]");
  has(j, "\"employees_min\":50");
  has(j, "\"employees_max\":500");
  has(j, "\"countries\":[\"US\"]");
  has(j, "billing");
  lp_free(j);
}

Test(icp_builtin, technologies_regions_and_examples) {
  char *j = icp_json("Observability for Kubernetes teams moving off Heroku in DACH and the Nordics, like datadoghq.com");
  has(j, "kubernetes");
  has(j, "\"DE\"");
  has(j, "\"SE\"");
  has(j, "\"like\":[\"datadoghq.com\"]");
  lp_free(j);
}

Test(icp_builtin, industries_and_sizes) {
  char *j = icp_json("SOC2 compliance automation for mid-market fintechs in EMEA, excluding agencies");
  has(j, "\"employees_min\":100");
  has(j, "\"exclude_industries\":[{");
  has(j, "\"industries\":[{");
  lp_free(j);
}
