/* icp_fixture.h: a small technology table (the format of config/data/technologies.tsv) and a parser over
 * it, shared by the ICP tests. */
#ifndef LP_TEST_ICP_FIXTURE_H
#define LP_TEST_ICP_FIXTURE_H

#include <criterion/criterion.h>
#include <string.h>

#include "icp/icp.h"

static const char icp_test_tech_tsv[] =
  "C\t41\tPayment processors\tpayments|billing|payment\n"
  "C\t32\tMarketing automation\tmarketing automation platform\n"
  "C\t53\tCRM\tcustomer relationship management\n"
  "C\t6\tEcommerce\te-commerce|online store\n"
  "C\t10\tAnalytics\tweb analytics|analytic\n"
  "C\t1\tCMS\tcontent management\n"
  "T\tstripe\tStripe\t\t41\tPayments.\n"
  "T\tbraintree\tBraintree\t\t41\tPayments.\n"
  "T\tsalesforce\tSalesforce\tsfdc\t53\tCRM.\n"
  "T\thubspot\tHubSpot\thub spot\t32,53\tMarketing.\n"
  "T\tshopify\tShopify\t\t6\tShops.\n"
  "T\tgoogle analytics\tGoogle Analytics\tga4\t10\tAnalytics.\n"
  "T\tnode.js\tNode.js\tnodejs\t\tA runtime.\n"
  "T\tc#\tC#\t\t\tA language.\n"
  "T\tsquare\tSquare\t\t41\tPayments.\n"
  "T\twordpress\tWordPress\twp\t1\tA CMS.\n";

static lp_techtable *icp_test_tech;
static lp_icp_parser *icp_test_parser;

static void icp_test_setup(void) {
  char err[256] = "";
  int rc = lp_techtable_from_text(&icp_test_tech, icp_test_tech_tsv, strlen(icp_test_tech_tsv), err, sizeof(err));
  cr_assert_eq(rc, 0, "techtable: %s", err);
  rc = lp_icp_parser_new(&icp_test_parser, icp_test_tech, err, sizeof(err));
  cr_assert_eq(rc, 0, "parser: %s", err);
}

static void icp_test_teardown(void) {
  lp_icp_parser_free(icp_test_parser);
  lp_techtable_free(icp_test_tech);
  icp_test_parser = NULL;
  icp_test_tech = NULL;
}

/* The JSON of a prompt's ICP, in a static buffer of the test's thread; "" on a parse error. */
static const char *icp_test_json(const char *prompt, size_t len) {
  static char out[65536];
  lp_icp *icp = NULL;
  lp_buf b = LP_BUF_INIT;
  out[0] = '\0';
  if (lp_icp_parse(icp_test_parser, prompt, len, &icp) == 0 && lp_icp_to_json(icp_test_parser, icp, &b) == 0) {
    size_t n = b.len < sizeof(out) - 1 ? b.len : sizeof(out) - 1;
    memcpy(out, b.data, n);
    out[n] = '\0';
  }
  lp_icp_free(icp);
  lp_buf_free(&b);
  return out;
}

#endif
