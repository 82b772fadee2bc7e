/*
 * test_enrich_parts.c: the enrichment's parts in-process, without a server (core/server/enrich.c,
 * enrich_vendor.c): the vendors' request and answer formats read strictly, hits showing and filling their
 * nulls, and the apply of a vendor's answer to the lead table. The whole path through the binary against a
 * fake vendor is tests/integration/test_enrich.c.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "icp/icp.h"
#include "server/enrich.h"
#include "shard/leads.h"
#include "worker/worker.h"

Test(enrich_parts, vendor_requests) {
  char path[128], header[128];
  cr_assert_eq(lp__vendor_request(LP_VENDOR_PDL, "acme.com", 8, "K1", path, sizeof(path), header, sizeof(header)), LP_OK);
  cr_assert_str_eq(path, "/v5/company/enrich?website=acme.com");
  cr_assert_str_eq(header, "X-Api-Key: K1\r\nAccept: application/json\r\n");
  cr_assert_eq(lp__vendor_request(LP_VENDOR_CLEARBIT, "acme.com", 8, "K2", path, sizeof(path), header, sizeof(header)), LP_OK);
  cr_assert_str_eq(path, "/v2/companies/find?domain=acme.com");
  cr_assert_str_eq(header, "Authorization: Bearer K2\r\nAccept: application/json\r\n");
  cr_assert_eq(lp__vendor_request(LP_VENDOR_PDL, "acme.com", 8, "K", path, 10, header, sizeof(header)), LP_ERANGE);
  cr_assert_eq(lp__vendor_request(LP_VENDOR_PDL, "acme.com", 8, "K", path, sizeof(path), header, 8), LP_ERANGE);
}

Test(enrich_parts, vendor_answers_are_read_strictly) {
  lp_icp_parser *icp;
  char err[256];
  cr_assert_eq(lp_icp_parser_new(&icp, NULL, err, sizeof(err)), LP_OK, "%s", err);
  lp_firmo f;
  const char *pdl = "{\"name\":\"acme\",\"industry\":\"retail\",\"employee_count\":12,\"location\":{\"country\":\"germany\"}}";
  cr_assert_eq(lp__vendor_parse(LP_VENDOR_PDL, pdl, strlen(pdl), icp, &f, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_str_eq(f.name, "acme", "no display_name: the name");
  cr_assert_str_eq(f.industry, "retail");
  cr_assert_eq(f.employees, 12);
  cr_assert_str_eq(f.country, "DE");
  lp__firmo_clear(&f);
  /* nulls, a range instead of a count, a region instead of a country: all unknown */
  const char *sparse = "{\"name\":null,\"size\":\"11-50\",\"employee_count\":0,\"location\":{\"country\":\"europe\"}}";
  cr_assert_eq(lp__vendor_parse(LP_VENDOR_PDL, sparse, strlen(sparse), icp, &f, err, sizeof(err)), LP_OK);
  cr_assert_null(f.name);
  cr_assert_null(f.industry);
  cr_assert_eq(f.employees, 0);
  cr_assert_str_eq(f.country, "");
  lp__firmo_clear(&f);
  const char *cb = "{\"name\":\"Acme\",\"category\":{\"naicsCode\":\"5112\"},\"metrics\":{\"employees\":7.0},\"geo\":{\"countryCode\":\"us\"}}";
  cr_assert_eq(lp__vendor_parse(LP_VENDOR_CLEARBIT, cb, strlen(cb), NULL, &f, err, sizeof(err)), LP_OK);
  cr_assert_str_eq(f.industry, "5112", "no industry text: the NAICS code");
  cr_assert_eq(f.employees, 7);
  cr_assert_str_eq(f.country, "US");
  lp__firmo_clear(&f);
  char longname[700];
  int n = snprintf(longname, sizeof(longname), "{\"name\":\"");
  for (int i = 0; i < 150; i++) n += snprintf(longname + n, sizeof(longname) - (size_t)n, "\xc3\xa9");  /* 300 bytes */
  snprintf(longname + n, sizeof(longname) - (size_t)n, "\"}");
  cr_assert_eq(lp__vendor_parse(LP_VENDOR_CLEARBIT, longname, strlen(longname), NULL, &f, err, sizeof(err)), LP_OK);
  cr_assert_eq(strlen(f.name), 256, "cut at a character boundary");
  lp__firmo_clear(&f);
  const char *bad[] = { "not json", "[1,2]", "{\"name\":\"a\",\"name\":\"b\"}" };
  for (size_t i = 0; i < 3; i++) {
    err[0] = '\0';
    cr_assert_eq(lp__vendor_parse(LP_VENDOR_PDL, bad[i], strlen(bad[i]), icp, &f, err, sizeof(err)), LP_EINVAL, "%s", bad[i]);
    cr_assert(err[0] != '\0');
    cr_assert_null(f.name);
  }
  lp_icp_parser_free(icp);
}

Test(enrich_parts, hits_show_and_fill_their_nulls) {
  const char *hit = "\"domain\":\"a.com\",\"name\":null,\"score\":0.5,\"industry\":null,\"employees\":null,\"country\":\"US\","
                    "\"evidence\":[{\"text\":\"\\\"name\\\":null\"}]";
  cr_assert_eq(lp_enrich_missing(hit, strlen(hit)), LP_ENRICH_NAME | LP_ENRICH_INDUSTRY | LP_ENRICH_EMPLOYEES);
  char name[] = "Acme \"A\"";
  lp_firmo f = { name, NULL, "DE", 40 };
  lp_buf b = LP_BUF_INIT;
  cr_assert_eq(lp_enrich_patch(hit, strlen(hit), lp_enrich_missing(hit, strlen(hit)) | LP_ENRICH_COUNTRY, &f, &b), LP_OK);
  cr_assert_str_eq(b.data, "\"domain\":\"a.com\",\"name\":\"Acme \\\"A\\\"\",\"score\":0.5,\"industry\":null,\"employees\":40,"
                           "\"country\":\"US\",\"evidence\":[{\"text\":\"\\\"name\\\":null\"}]",
                   "an unknown value stays null, a known one is not replaced, evidence text is untouched");
  lp_buf_free(&b);
  const char *full = "\"domain\":\"a\",\"name\":\"x\"";
  cr_assert_eq(lp_enrich_missing(full, strlen(full)), 0);
}

Test(enrich_parts, apply_fills_only_what_the_lead_lacks) {
  lp_lead_table t;
  cr_assert_eq(lp_leads_init(&t, 4), LP_OK);
  lp_snippet s = { 0 };
  s.domain = (lp_str){ "acme.com", 8 };
  s.domain_hash = lp_domain_hash("acme.com", 8);
  s.name = (lp_str){ "Acme", 4 };
  s.id = (lp_str){ "1", 1 };
  s.miner = (lp_str){ "m", 1 };
  s.text = (lp_str){ "t", 1 };
  s.ts_ms = 1000;
  cr_assert_eq(lp_leads_apply_snippet(&t, &s), LP_OK);
  uint64_t h = s.domain_hash;
  enum { FOUND = LP_LEAD_ENRICH_FOUND, NOT_FOUND = LP_LEAD_ENRICH_NOT_FOUND };
  cr_assert_eq(lp_leads_apply_enrichment(&t, "nope.com", 8, lp_domain_hash("nope.com", 8), FOUND, 5, "N", NULL, NULL, 0),
               LP_ENOENT);
  lp_lead *l = lp_leads_get(&t, "acme.com", 8, h);
  cr_assert_eq(l->enrich_state, LP_LEAD_ENRICH_NONE, "never looked up");
  cr_assert_eq(l->enrich_ms, 0);
  cr_assert_eq(lp_leads_apply_enrichment(&t, "acme.com", 8, h, FOUND, 5000, "Vendor", "retail", "de", 33), 1);
  cr_assert_str_eq(l->name, "Acme", "the miner's name stays");
  cr_assert_str_eq(l->industry, "retail");
  cr_assert_str_eq(l->country, "DE");
  cr_assert_eq(l->employees, 33);
  cr_assert_eq(l->firmo_ts_ms, 1000, "the vendor's values carry no event time");
  cr_assert_eq(l->enrich_state, LP_LEAD_ENRICH_FOUND);
  cr_assert_eq(l->enrich_ms, 5000);
  cr_assert_eq(lp_leads_apply_enrichment(&t, "acme.com", 8, h, FOUND, 5000, "X", "Y", "FR", 5), 0, "nothing new");
  cr_assert_eq(lp_leads_apply_enrichment(&t, "acme.com", 8, h, FOUND, 6000, NULL, "", "USA", 0), 1,
               "no field to fill, but a newer answer is recorded");
  cr_assert_eq(l->enrich_ms, 6000);
  cr_assert_eq(lp_leads_apply_enrichment(&t, "acme.com", 8, h, NOT_FOUND, 7000, "Z", NULL, NULL, 0), 1, "a 404");
  cr_assert_eq(l->enrich_state, LP_LEAD_ENRICH_NOT_FOUND);
  cr_assert_eq(l->enrich_ms, 7000);
  cr_assert_str_eq(l->name, "Acme", "a 404 carries no values");
  cr_assert_eq(lp_leads_apply_enrichment(&t, "acme.com", 8, h, FOUND, 6500, NULL, NULL, NULL, 0), 0,
               "an older answer does not replace a newer one");
  cr_assert_eq(l->enrich_state, LP_LEAD_ENRICH_NOT_FOUND);
  cr_assert_eq(lp_leads_apply_enrichment(&t, "acme.com", 8, h, LP_LEAD_ENRICH_NONE, 8000, NULL, NULL, NULL, 0), LP_EINVAL);
  cr_assert_eq(lp_leads_apply_enrichment(&t, "acme.com", 8, h, 3, 8000, NULL, NULL, NULL, 0), LP_EINVAL);
  cr_assert_eq(l->enrich_ms, 7000, "a bad state changes nothing");
  lp_leads_free(&t);
}
