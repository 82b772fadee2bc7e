/* Model v0's evidence features through the real binary (docs/scoring-v0.md): agreement counts independent
 * reports (copies of one text by several miners count once), recency is that of the newest evidence about
 * what the prompt sells, and a lead that just adopted a tool of the prompt's category loses fit. The
 * throttle's near-duplicate check is switched off so that the copies reach the index. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "helpers/helpers.h"

static lpt_server srv;

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void post(const char *body) {
  lpt_response r;
  cr_assert_eq(lpt_http(srv.port, "POST", "/v1/snippets", "application/json", body, strlen(body), &r), 0);
  cr_assert_eq(r.status, 202, "%s", r.body);
  cr_assert(strstr(r.body, "\"rejected\":[]") != NULL, "%s", r.body);
  lpt_response_free(&r);
}

/* The lead of domain in the answer to prompt (k 50, explain), as a new reference; fails when absent. */
static json_t *lead_of(const char *prompt, const char *domain) {
  char body[512];
  snprintf(body, sizeof body, "{\"prompt\":\"%s\",\"k\":50}", prompt);
  lpt_response r;
  cr_assert_eq(lpt_http(srv.port, "POST", "/v1/leads", "application/json", body, strlen(body), &r), 0);
  cr_assert_eq(r.status, 200, "%s", r.body);
  json_t *j = json_loads(r.body, 0, NULL);
  lpt_response_free(&r);
  cr_assert_not_null(j);
  size_t i;
  json_t *l, *found = NULL;
  json_array_foreach(json_object_get(j, "leads"), i, l) {
    if (strcmp(json_string_value(json_object_get(l, "domain")), domain) == 0) found = json_incref(l);
  }
  json_decref(j);
  cr_assert_not_null(found, "%s not in the answer to %s", domain, prompt);
  return found;
}

static double signal(json_t *lead, const char *key) {
  return json_number_value(json_object_get(json_object_get(lead, "signals"), key));
}

static double feature(json_t *lead, const char *key) {
  return json_number_value(json_object_get(json_object_get(json_object_get(lead, "signals"), "features"), key));
}

static void setup(void) {
  const char *env[] = { "LEADPOET_STAGE_THROTTLE_NEAR_DUP_MIN_WORDS=4096", NULL };
  cr_assert_eq(lpt_server_start(&srv, NULL, env), 0);
}

static void teardown(void) { cr_assert_eq(lpt_server_stop(&srv), 0); }

TestSuite(v0_features, .init = setup, .fini = teardown, .timeout = 60);

Test(v0_features, copies_of_one_text_are_one_report) {
  long long t = now_ms() - 3600000LL;
  char body[4096];
  snprintf(body, sizeof body,
           "["
           "{\"id\":\"c1\",\"miner\":\"s1\",\"ts\":%lld,\"lead\":{\"domain\":\"copyco.com\",\"name\":\"Copyco\"},\"kind\":\"news\","
           "\"text\":\"HOT LEAD: Copyco wants invoicing software this quarter. Decision makers engaged. Verified intent #12\"},"
           "{\"id\":\"c2\",\"miner\":\"s2\",\"ts\":%lld,\"lead\":{\"domain\":\"copyco.com\"},\"kind\":\"news\","
           "\"text\":\"HOT LEAD: Copyco wants invoicing software this quarter. Decision makers engaged. Verified intent #47\"},"
           "{\"id\":\"c3\",\"miner\":\"s3\",\"ts\":%lld,\"lead\":{\"domain\":\"copyco.com\"},\"kind\":\"news\","
           "\"text\":\"HOT LEAD: Copyco wants invoicing software this quarter. Decision makers engaged. Verified intent!!!\"},"
           "{\"id\":\"i1\",\"miner\":\"h1\",\"ts\":%lld,\"lead\":{\"domain\":\"indep.com\",\"name\":\"Indep\"},\"kind\":\"hiring\","
           "\"text\":\"Indep is hiring a billing engineer to rebuild its invoicing\"},"
           "{\"id\":\"i2\",\"miner\":\"h2\",\"ts\":%lld,\"lead\":{\"domain\":\"indep.com\"},\"kind\":\"review\","
           "\"text\":\"Indep compared two invoicing tools on G2 last week\"},"
           "{\"id\":\"i3\",\"miner\":\"h3\",\"ts\":%lld,\"lead\":{\"domain\":\"indep.com\"},\"kind\":\"web\","
           "\"text\":\"Someone at Indep read the pricing page of an invoicing vendor\"}"
           "]",
           t, t, t, t, t, t);
  post(body);
  json_t *copy = lead_of("invoicing software", "copyco.com"), *ind = lead_of("invoicing software", "indep.com");
  cr_assert_eq(signal(copy, "miners"), 1, "three miners posting one template are one report");
  cr_assert_float_eq(feature(copy, "agreement"), 0.0, 1e-9);
  cr_assert_eq(signal(ind, "miners"), 3);
  cr_assert_float_eq(feature(ind, "agreement"), 2.0 / 3.0, 1e-6);
  json_decref(copy);
  json_decref(ind);
}

Test(v0_features, one_miner_repeating_itself_is_one_report) {
  long long t = now_ms() - 3600000LL;
  char body[2048];
  snprintf(body, sizeof body,
           "["
           "{\"id\":\"r1\",\"miner\":\"h1\",\"ts\":%lld,\"lead\":{\"domain\":\"solo.io\",\"name\":\"Solo\"},\"kind\":\"hiring\","
           "\"text\":\"Solo is hiring a payroll specialist\"},"
           "{\"id\":\"r2\",\"miner\":\"h1\",\"ts\":%lld,\"lead\":{\"domain\":\"solo.io\"},\"kind\":\"review\","
           "\"text\":\"Solo reviewed payroll vendors on G2\"}"
           "]",
           t, t);
  post(body);
  json_t *l = lead_of("payroll vendors", "solo.io");
  cr_assert_eq(signal(l, "miners"), 1);
  json_decref(l);
}

Test(v0_features, recency_is_that_of_the_relevant_evidence) {
  long long now = now_ms(), old = now - 20LL * 86400000LL, fresh = now - 86400000LL;
  char body[2048];
  snprintf(body, sizeof body,
           "["
           "{\"id\":\"o1\",\"miner\":\"h1\",\"ts\":%lld,\"lead\":{\"domain\":\"oldnews.com\",\"name\":\"Oldnews\"},\"kind\":\"review\","
           "\"text\":\"Oldnews compared observability platforms for its services\"},"
           "{\"id\":\"o2\",\"miner\":\"h2\",\"ts\":%lld,\"lead\":{\"domain\":\"oldnews.com\"},\"kind\":\"news\","
           "\"text\":\"Oldnews held its summer party in the park\"}"
           "]",
           old, fresh);
  post(body);
  json_t *l = lead_of("observability platform", "oldnews.com");
  double days = signal(l, "recency_days");
  cr_assert(days > 19.5 && days < 20.5, "recency of the relevant snippet (20 days), not the party (1 day): %f", days);
  json_decref(l);
  /* A prompt none of whose words a snippet holds falls back to the newest evidence of any kind. */
  l = lead_of("Oldnews", "oldnews.com");
  days = signal(l, "recency_days");
  cr_assert(days < 1.5, "%f", days);
  json_decref(l);
}

Test(v0_features, a_lead_that_just_adopted_the_category_loses_fit) {
  long long t = now_ms() - 5LL * 86400000LL;
  char body[2048];
  snprintf(body, sizeof body,
           "["
           "{\"id\":\"a1\",\"miner\":\"h1\",\"ts\":%lld,\"lead\":{\"domain\":\"adopter.com\",\"name\":\"Adopter\"},\"kind\":\"tech\","
           "\"text\":\"Adopter now runs pipedrive for its crm\",\"tech_added\":[\"pipedrive\"]},"
           "{\"id\":\"a2\",\"miner\":\"h2\",\"ts\":%lld,\"lead\":{\"domain\":\"shopper.com\",\"name\":\"Shopper\"},\"kind\":\"review\","
           "\"text\":\"Shopper compared crm vendors for its sales team\"}"
           "]",
           t, t);
  post(body);
  json_t *a = lead_of("a CRM for small sales teams", "adopter.com"), *s = lead_of("a CRM for small sales teams", "shopper.com");
  cr_assert_lt(signal(a, "icp_fit"), signal(s, "icp_fit"), "adopter %f, shopper %f", signal(a, "icp_fit"),
               signal(s, "icp_fit"));
  json_decref(a);
  json_decref(s);
}
