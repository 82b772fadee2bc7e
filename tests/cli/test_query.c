/*
 * test_query.c: `leadpoet query` against a scripted server: the request it sends, the table, --json,
 * server errors and usage errors.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <jansson.h>

#include "cli/commands.h"
#include "cli/mock_server.h"
#include "helpers/helpers.h"

static const char *const LEADS =
  "{\"query_id\": \"q-1\", \"took_ms\": 1.7, \"model\": \"intent-v3\", \"leads\": ["
  "{\"rank\": 1, \"domain\": \"acme.com\", \"name\": \"Acme\", \"score\": 0.83, \"employees\": 250,"
  " \"country\": \"US\", \"signals\": {\"text_match\": 7.1, \"miners\": 3, \"churn\": [\"removed:heroku\"]},"
  " \"evidence\": [{\"snippet_id\": \"s1\", \"kind\": \"hiring\", \"text\": \"Acme is hiring a platform engineer to move off Heroku\"}]},"
  "{\"rank\": 2, \"domain\": \"a-very-long-domain-name-indeed.example.com\", \"score\": 0.5, \"signals\": {}}],"
  " \"cost\": {\"usd_total\": 0.00004, \"usd_per_lead\": 0.00002, \"llm_calls\": 0}}";

typedef struct run {
  int rc;
  char *out;
  char *err;
} run;

static run query(const char *a0, const char *a1, const char *a2, const char *a3, const char *a4, const char *a5,
                 const char *a6) {
  char *argv[9] = { "query" };
  int argc = 1;
  const char *args[] = { a0, a1, a2, a3, a4, a5, a6 };
  for (int i = 0; i < 7 && args[i]; i++) argv[argc++] = (char *)args[i];
  run r;
  r.rc = mock_capture(lp_cmd_query, argc, argv, &r.out, &r.err);
  return r;
}

static void run_free(run *r) {
  free(r->out);
  free(r->err);
}

Test(cli_query, sends_prompt_k_filters_and_prints_a_table) {
  static mock_step steps[] = { { 200, NULL, NULL, MOCK_CHUNKED, 0 } };
  steps[0].body = LEADS;
  mock_server m;
  cr_assert_eq(mock_start(&m, steps, 1), 0);
  char url[64];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d", m.port);
  run r = query("kubernetes consulting", "-k", "5", "--url", url, "--filters", "{\"country\": [\"US\"]}");
  mock_stop(&m);
  cr_assert_eq(r.rc, 0, "stderr: %s", r.err);
  cr_assert_eq(m.nreq, 1);
  cr_assert_str_eq(m.reqs[0].path, "/v1/leads");
  cr_assert_str_eq(m.reqs[0].ctype, "application/json");
  json_t *req = json_loads(m.reqs[0].body, 0, NULL);
  cr_assert_not_null(req, "%s", m.reqs[0].body);
  cr_assert_str_eq(json_string_value(json_object_get(req, "prompt")), "kubernetes consulting");
  cr_assert_eq(json_integer_value(json_object_get(req, "k")), 5);
  cr_assert_str_eq(json_string_value(json_array_get(json_object_get(json_object_get(req, "filters"), "country"), 0)),
                   "US");
  json_decref(req);
  cr_assert(strstr(r.out, "query q-1, model intent-v3, 2 leads"), "%s", r.out);
  cr_assert(strstr(r.out, "rank  domain"), "%s", r.out);
  cr_assert(strstr(r.out, "   1  acme.com"), "%s", r.out);
  cr_assert(strstr(r.out, "0.830  Acme"), "%s", r.out);
  cr_assert(strstr(r.out, "US        250  text_match 7.1, miners 3, churn removed:heroku"), "%s", r.out);
  cr_assert(strstr(r.out, "a-very-long-domain-name-~"), "long cells are cut: %s", r.out);
  cr_assert(strstr(r.out, "      > hiring: Acme is hiring a platform engineer to move off Heroku\n"), "an excerpt: %s", r.out);
  run_free(&r);
  mock_free(&m);
}

Test(cli_query, json_prints_the_answer_as_it_came) {
  static mock_step steps[] = { { 200, NULL, NULL, MOCK_LENGTH, 0 } };
  steps[0].body = LEADS;
  mock_server m;
  cr_assert_eq(mock_start(&m, steps, 1), 0);
  char url[64];
  snprintf(url, sizeof(url), "--url=http://127.0.0.1:%d", m.port);
  run r = query("--json", url, "crm", NULL, NULL, NULL, NULL);
  mock_stop(&m);
  cr_assert_eq(r.rc, 0, "stderr: %s", r.err);
  char want[2048];
  snprintf(want, sizeof(want), "%s\n", LEADS);
  cr_assert_str_eq(r.out, want);
  json_t *req = json_loads(m.reqs[0].body, 0, NULL);
  cr_assert_eq(json_integer_value(json_object_get(req, "k")), 25, "default k");
  cr_assert_null(json_object_get(req, "filters"));
  json_decref(req);
  run_free(&r);
  mock_free(&m);
}

Test(cli_query, server_error_exits_1_with_its_message) {
  static const mock_step steps[] = {
    { 400, NULL, "{\"error\": {\"code\": \"bad_request\", \"message\": \"k must be between 1 and 1000\"}}", MOCK_LENGTH, 0 },
  };
  mock_server m;
  cr_assert_eq(mock_start(&m, steps, 1), 0);
  char url[64];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d", m.port);
  run r = query("crm", "--url", url, NULL, NULL, NULL, NULL);
  mock_stop(&m);
  cr_assert_eq(r.rc, 1);
  cr_assert(strstr(r.err, "400 bad_request: k must be between 1 and 1000"), "%s", r.err);
  run_free(&r);
  mock_free(&m);
}

Test(cli_query, unexpected_answer_exits_1) {
  static const mock_step steps[] = { { 200, NULL, "[1, 2]", MOCK_LENGTH, 0 } };
  mock_server m;
  cr_assert_eq(mock_start(&m, steps, 1), 0);
  char url[64];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d", m.port);
  run r = query("crm", "--url", url, NULL, NULL, NULL, NULL);
  mock_stop(&m);
  cr_assert_eq(r.rc, 1);
  cr_assert(strstr(r.err, "unexpected answer"), "%s", r.err);
  run_free(&r);
  mock_free(&m);
}

Test(cli_query, unreachable_server_exits_1) {
  char url[64];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d", lpt_free_port());
  run r = query("crm", "--url", url, NULL, NULL, NULL, NULL);
  cr_assert_eq(r.rc, 1);
  cr_assert(strstr(r.err, url), "%s", r.err);
  run_free(&r);
}

Test(cli_query, usage_errors_exit_2) {
  const char *cases[][3] = {
    { "--bogus", "crm", NULL },       { "-k", "0", "crm" },           { "-k", "1001", "crm" },
    { "--filters", "[1]", "crm" },    { "--filters", "{bad", "crm" }, { "crm", "--url", NULL },
    { "-k", "5", NULL },              { "crm", "more", NULL },        { "crm", "--url", "ftp://x" },
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    run r = query(cases[i][0], cases[i][1], cases[i][2], NULL, NULL, NULL, NULL);
    cr_assert_eq(r.rc, 2, "case %zu: rc %d", i, r.rc);
    cr_assert(strlen(r.err) > 0, "case %zu says why", i);
    run_free(&r);
  }
}

Test(cli_query, help_exits_0_and_describes_every_flag) {
  run r = query("--help", NULL, NULL, NULL, NULL, NULL, NULL);
  cr_assert_eq(r.rc, 0);
  const char *flags[] = { "-k N", "--url", "--json", "--filters", "--help", "LEADPOET_URL" };
  for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) cr_assert(strstr(r.out, flags[i]), "%s", flags[i]);
  run_free(&r);
}
