/* Model v0's relevant evidence through the real binary (docs/scoring-v0.md): an evidence is about the
 * prompt when it holds one of the prompt's analyzed terms (stemmed, technology names whole), not when one
 * of them is a substring of its text. Recency is that of the newest relevant evidence, so these tests read
 * signals.recency_days. */
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

/* signals.recency_days of domain in the answer to prompt; fails when the lead is absent. */
static double recency_days(const char *prompt, const char *domain) {
  char body[512];
  snprintf(body, sizeof body, "{\"prompt\":\"%s\",\"k\":50}", prompt);
  lpt_response r;
  cr_assert_eq(lpt_http(srv.port, "POST", "/v1/leads", "application/json", body, strlen(body), &r), 0);
  cr_assert_eq(r.status, 200, "%s", r.body);
  json_t *j = json_loads(r.body, 0, NULL);
  lpt_response_free(&r);
  cr_assert_not_null(j);
  size_t i;
  json_t *l;
  double days = -1;
  json_array_foreach(json_object_get(j, "leads"), i, l) {
    if (strcmp(json_string_value(json_object_get(l, "domain")), domain) == 0)
      days = json_number_value(json_object_get(json_object_get(l, "signals"), "recency_days"));
  }
  json_decref(j);
  cr_assert_geq(days, 0, "%s not in the answer to %s", domain, prompt);
  return days;
}

static void setup(void) { cr_assert_eq(lpt_server_start(&srv, NULL, NULL), 0); }
static void teardown(void) { cr_assert_eq(lpt_server_stop(&srv), 0); }

TestSuite(v0_relevance, .init = setup, .fini = teardown, .timeout = 60);

/* Two snippets of one lead: the relevant one 20 days old, the other 1 day old. */
static void post_pair(const char *domain, const char *relevant, const char *other) {
  long long now = now_ms(), old = now - 20LL * 86400000LL, fresh = now - 86400000LL;
  char body[2048];
  snprintf(body, sizeof body,
           "["
           "{\"id\":\"%s-1\",\"miner\":\"h1\",\"ts\":%lld,\"lead\":{\"domain\":\"%s\"},\"kind\":\"review\",\"text\":\"%s\"},"
           "{\"id\":\"%s-2\",\"miner\":\"h2\",\"ts\":%lld,\"lead\":{\"domain\":\"%s\"},\"kind\":\"news\",\"text\":\"%s\"}"
           "]",
           domain, old, domain, relevant, domain, fresh, domain, other);
  post(body);
}

Test(v0_relevance, a_word_that_contains_the_term_is_not_the_term) {
  post_pair("hall.com", "Hall hired an external audit firm for its books", "Hall rented the auditorium for a party");
  double days = recency_days("audit software", "hall.com");
  cr_assert(days > 19.5 && days < 20.5, "the auditorium is no audit: recency of the 20-day-old snippet, got %f", days);
}

Test(v0_relevance, stemmed_forms_and_technology_aliases_match) {
  post_pair("pipes.io", "Pipes is rebuilding its data pipelines", "Pipes sponsored a football team");
  double days = recency_days("data pipeline tooling", "pipes.io");
  cr_assert(days > 19.5 && days < 20.5, "pipelines is pipeline: %f", days);
  post_pair("noder.io", "Noder moved its backend to NodeJS", "Noder opened an office in Lisbon");
  days = recency_days("node.js monitoring", "noder.io");
  cr_assert(days > 19.5 && days < 20.5, "NodeJS is node.js: %f", days);
}

Test(v0_relevance, two_letter_terms_count) {
  post_pair("people.com", "People is replacing its HR system this year", "People announced a new logo");
  double days = recency_days("HR platform", "people.com");
  cr_assert(days > 19.5 && days < 20.5, "hr is a term of the prompt: %f", days);
}
