/*
 * test_edge.c: the parser's contract beyond the prompt table: bad arguments, the size limit, any bytes,
 * the struct fields behind the JSON, NAICS helpers, and a parser without a technology table.
 */
#include <stdlib.h>

#include "icp_fixture.h"

static const char empty_json[] =
  "{\"product\":[],\"categories\":[],\"technologies\":[],\"exclude_technologies\":[],\"industries\":[],"
  "\"exclude_industries\":[],\"employees_min\":null,\"employees_max\":null,\"countries\":[],"
  "\"exclude_countries\":[],\"like\":[],\"exclude_domains\":[]}";

Test(icp_edge, bad_arguments, .init = icp_test_setup, .fini = icp_test_teardown) {
  lp_icp *icp = (lp_icp *)1;
  cr_expect_eq(lp_icp_parse(NULL, "x", 1, &icp), LP_EINVAL);
  cr_expect_null(icp);
  cr_expect_eq(lp_icp_parse(icp_test_parser, NULL, 1, &icp), LP_EINVAL);
  cr_expect_eq(lp_icp_parse(icp_test_parser, "x", 1, NULL), LP_EINVAL);
  cr_expect_eq(lp_icp_parser_new(NULL, NULL, NULL, 0), LP_EINVAL);
  lp_buf b = LP_BUF_INIT;
  cr_expect_eq(lp_icp_to_json(icp_test_parser, NULL, &b), LP_EINVAL);
  lp_icp_free(NULL);
  lp_icp_parser_free(NULL);
  /* The passing case of each. */
  cr_assert_eq(lp_icp_parse(icp_test_parser, NULL, 0, &icp), 0);
  cr_expect_eq(lp_icp_to_json(icp_test_parser, icp, &b), 0);
  cr_expect_eq(b.len, strlen(empty_json));
  cr_expect(memcmp(b.data, empty_json, b.len) == 0);
  lp_icp_free(icp);
  lp_buf_free(&b);
}

Test(icp_edge, empty_and_white_space, .init = icp_test_setup, .fini = icp_test_teardown) {
  cr_expect_str_eq(icp_test_json("", 0), empty_json);
  cr_expect_str_eq(icp_test_json(" \t\r\n  \xc2\xa0 ", 9), empty_json);
  cr_expect_str_eq(icp_test_json(",,;.!?()", 8), empty_json);
}

Test(icp_edge, size_limit, .init = icp_test_setup, .fini = icp_test_teardown) {
  char *p = malloc(LP_ICP_MAX_PROMPT + 1);
  lp_icp *icp = NULL;
  cr_assert_not_null(p);
  /* 4096 bytes of repeated clauses: parses, and the lists hold each item once. */
  const char *unit = "billing for US fintechs not on Stripe ";
  size_t ul = strlen(unit);
  for (size_t i = 0; i < LP_ICP_MAX_PROMPT + 1; i++) p[i] = unit[i % ul];
  cr_assert_eq(lp_icp_parse(icp_test_parser, p, LP_ICP_MAX_PROMPT, &icp), 0);
  cr_expect_eq(icp->n_product, 1);
  cr_expect_str_eq(icp->product[0], "billing");
  cr_expect_eq(icp->n_countries, 1);
  cr_expect_eq(icp->n_industries, 2);
  cr_expect_eq(icp->n_exclude_technologies, 1);
  lp_icp_free(icp);
  cr_expect_eq(lp_icp_parse(icp_test_parser, p, LP_ICP_MAX_PROMPT + 1, &icp), LP_ERANGE);
  cr_expect_null(icp);
  free(p);
}

Test(icp_edge, any_bytes, .init = icp_test_setup, .fini = icp_test_teardown) {
  /* Invalid UTF-8 is read as spaces: the words around it still count. */
  const char bad[] = "billing\xff\xfe""API\xc3 for \xe2\x82 SaaS\x80\x00US";
  cr_expect_str_eq(icp_test_json(bad, sizeof(bad) - 1),
                   "{\"product\":[\"billing\",\"api\"],\"categories\":[\"Payment processors\"],\"technologies\":[],"
                   "\"exclude_technologies\":[],\"industries\":[{\"code\":\"5112\",\"title\":\"Software Publishers\"}],"
                   "\"exclude_industries\":[],\"employees_min\":null,\"employees_max\":null,\"countries\":[\"US\"],"
                   "\"exclude_countries\":[],\"like\":[],\"exclude_domains\":[]}");
  /* Every byte value, in a fixed pseudo-random order: never fails, always valid JSON-ish output. */
  unsigned char buf[LP_ICP_MAX_PROMPT];
  uint32_t x = 2463534242u;
  for (int round = 0; round < 20; round++) {
    for (size_t i = 0; i < sizeof(buf); i++) {
      x ^= x << 13; x ^= x >> 17; x ^= x << 5;
      buf[i] = (unsigned char)x;
    }
    size_t len = (size_t)(x % sizeof(buf)) + 1;
    const char *j = icp_test_json((const char *)buf, len);
    cr_expect(j[0] == '{' && j[strlen(j) - 1] == '}', "round %d", round);
  }
}

Test(icp_edge, struct_fields, .init = icp_test_setup, .fini = icp_test_teardown) {
  const char *p = "a usage-based billing API for SaaS companies, US, 50-500 people, not on Stripe, like Acme.com";
  lp_icp *icp = NULL;
  cr_assert_eq(lp_icp_parse(icp_test_parser, p, strlen(p), &icp), 0);
  const lp_tech_info *stripe = lp_techtable_find(icp_test_tech, "stripe", 6);
  cr_assert_not_null(stripe);
  cr_expect_eq(icp->n_exclude_technologies, 1);
  cr_expect_eq(icp->exclude_technologies[0], stripe->id);
  cr_expect_eq(icp->n_categories, 1);
  cr_expect_str_eq(lp_techtable_category_name(icp_test_tech, icp->categories[0]), "Payment processors");
  cr_expect_eq(icp->employees_min, 50);
  cr_expect_eq(icp->employees_max, 500);
  cr_expect_eq(icp->n_industries, 1);
  cr_expect_str_eq(icp->industries[0].code, "5112");
  cr_expect_eq(icp->n_like, 1);
  cr_expect_str_eq(icp->like[0], "acme.com");
  cr_expect_str_eq(icp->countries[0], "US");
  lp_icp_free(icp);
}

Test(icp_edge, naics_helpers, .init = icp_test_setup, .fini = icp_test_teardown) {
  cr_expect_str_eq(lp_icp_naics_title(icp_test_parser, "5112"), "Software Publishers");
  cr_expect_str_eq(lp_icp_naics_title(icp_test_parser, "31-33"), "Manufacturing");
  cr_expect_null(lp_icp_naics_title(icp_test_parser, "9999"));
  cr_expect_null(lp_icp_naics_title(icp_test_parser, NULL));
  cr_expect(lp_icp_naics_covers("52", "522320"));
  cr_expect(lp_icp_naics_covers("5112", "5112"));
  cr_expect(!lp_icp_naics_covers("5112", "5182"));
  cr_expect(!lp_icp_naics_covers("522320", "52"));
  cr_expect(lp_icp_naics_covers("31-33", "3254"));
  cr_expect(lp_icp_naics_covers("31-33", "31"));
  cr_expect(!lp_icp_naics_covers("31-33", "4541"));
  cr_expect(!lp_icp_naics_covers(NULL, "52"));
}

Test(icp_edge, without_technology_table) {
  char err[256] = "";
  lp_icp_parser *p = NULL;
  lp_icp *icp = NULL;
  cr_assert_eq(lp_icp_parser_new(&p, NULL, err, sizeof(err)), 0, "%s", err);
  const char *prompt = "Shopify app for fintechs in DACH";
  cr_assert_eq(lp_icp_parse(p, prompt, strlen(prompt), &icp), 0);
  cr_expect_eq(icp->n_technologies, 0);
  cr_expect_eq(icp->n_categories, 0);
  cr_expect_eq(icp->n_product, 2);
  cr_expect_str_eq(icp->product[0], "shopify");
  cr_expect_eq(icp->n_countries, 3);
  lp_icp_free(icp);
  lp_icp_parser_free(p);
}
