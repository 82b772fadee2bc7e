/* Per-key daily budgets and cost_limit_exceeded (core/server/auth.c, query_http.c): the entry syntax
 * name:SHA256HEX:USD, then the real binary with the LLM re-rank plugin on a fake provider on loopback: paid
 * queries spend the key's budget, a query whose max_cost_usd is more than the key has left answers 429
 * cost_limit_exceeded before it spends anything, a lower max_cost_usd is still admitted, and a key without a
 * budget is never limited. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "helpers/helpers.h"
#include "plugins/test_llm_fake.h"

#define PLUGIN LP_BUILD_DIR "/plugins/llm/liblp_llm.so"
/* SHA-256 of "abc" and of "xyz": the keys of the tests. */
#define H_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define H_XYZ "3608bca1e44ea6c4d268eb6db02260269892c0b42b86bbf1e77a6fa16c3c9282"

/* ---- the entries ---------------------------------------------------------------------------------- */

static double budgets[4];
static size_t n_budgets;

static int collect(const char *name, size_t name_len, const uint8_t hash[32], double budget_usd, void *ud) {
  (void)name, (void)name_len, (void)hash, (void)ud;
  if (n_budgets < 4) budgets[n_budgets++] = budget_usd;
  return 0;
}

Test(server_budget, entry_syntax) {
  char err[512] = "";
  n_budgets = 0;
  cr_assert_eq(lp_config_api_keys_parse("a:" H_ABC ":0.25, b:" H_XYZ ", c:" H_ABC ":0", "t", collect, NULL, err,
                                        sizeof(err)),
               0, "%s", err);
  cr_assert_eq(n_budgets, 3);
  cr_assert_float_eq(budgets[0], 0.25, 1e-12);
  cr_assert_float_eq(budgets[1], -1, 1e-12, "no third field: the default applies");
  cr_assert_float_eq(budgets[2], 0, 1e-12);
  static const char *const bad[] = { "a:" H_ABC ":", "a:" H_ABC ":x", "a:" H_ABC ":-1", "a:" H_ABC ":2e6",
                                     "a:" H_ABC ":1:2" };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    cr_assert_eq(lp_config_api_keys_parse(bad[i], "t", NULL, NULL, err, sizeof(err)), LP_EINVAL, "%s", bad[i]);
    cr_assert_str_eq(err, "t: key \"a\": the daily budget after the hash must be a number of USD in 0..1000000");
  }
  /* The default budget is a key of its own. */
  lp_config c;
  cr_assert_eq(lp_config_load_string(&c, "[http]\nkey_daily_budget_usd = 2.5\n", "t.conf", err, sizeof(err)), 0, "%s", err);
  cr_assert_float_eq(c.http.key_daily_budget_usd, 2.5, 1e-12);
  lp_config_free(&c);
  cr_assert_eq(lp_config_load_string(&c, "[http]\nkey_daily_budget_usd = -1\n", "t.conf", err, sizeof(err)), LP_ECONFIG);
  lp_config_free(&c);
}

/* ---- through HTTP, with a paid re-rank ------------------------------------------------------------- */

static fake_llm fake;
static lpt_server srv;

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct answer {
  int status;
  int llm_calls;
  double usd;
  char code[64], retry_after[32], message[512];
} answer;

static answer post(const char *key, const char *body) {
  int fd = lpt_connect(srv.port);
  cr_assert_geq(fd, 0);
  char buf[2048];
  int n = snprintf(buf, sizeof(buf), "%s /v1/leads HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
                   "Content-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                   "POST", key, strlen(body), body);
  cr_assert_eq(lpt_send_all(fd, buf, (size_t)n), 0);
  lpt_response r;
  cr_assert_eq(lpt_read_response(fd, &r, 20000), 0);
  close(fd);
  answer a = { r.status, 0, 0, "", "", "" };
  json_t *root = json_loads(r.body, 0, NULL);
  cr_assert_not_null(root, "%s", r.body);
  json_t *cost = json_object_get(root, "cost"), *error = json_object_get(root, "error");
  a.llm_calls = (int)json_integer_value(json_object_get(cost, "llm_calls"));
  a.usd = json_number_value(json_object_get(cost, "usd_total"));
  snprintf(a.code, sizeof(a.code), "%s", error ? json_string_value(json_object_get(error, "code")) : "");
  snprintf(a.message, sizeof(a.message), "%s", error ? json_string_value(json_object_get(error, "message")) : "");
  lpt_header(&r, "Retry-After", a.retry_after, sizeof(a.retry_after));
  json_decref(root);
  lpt_response_free(&r);
  return a;
}

static void ingest(void) {
  char body[8192];
  size_t len = (size_t)snprintf(body, sizeof(body), "[");
  for (int j = 0; j < 12; j++) {
    len += (size_t)snprintf(body + len, sizeof(body) - len,
                            "%s{\"id\":\"s%d\",\"miner\":\"m%d\",\"ts\":%lld,\"lead\":{\"domain\":\"pay%d.example.com\","
                            "\"country\":\"US\"},\"kind\":\"hiring\",\"text\":\"opened offices in three countries and "
                            "needs international payroll software\"}",
                            j ? "," : "", j, j % 3, now_ms() - (long long)j * 86400000LL, j);
  }
  snprintf(body + len, sizeof(body) - len, "]");
  int fd = lpt_connect(srv.port);
  char head[256];
  int hl = snprintf(head, sizeof(head), "POST /v1/snippets HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer xyz\r\n"
                    "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n", strlen(body));
  cr_assert_eq(lpt_send_all(fd, head, (size_t)hl), 0);
  cr_assert_eq(lpt_send_all(fd, body, strlen(body)), 0);
  lpt_response r;
  cr_assert_eq(lpt_read_response(fd, &r, 20000), 0);
  cr_assert_eq(r.status, 202, "%s", r.body);
  lpt_response_free(&r);
  close(fd);
}

static void start(void) {
  unsetenv("OPENAI_API_KEY");
  cr_assert_eq(fake_start(&fake), 0);
  fake_script(&fake, FAKE_OK, NULL);
  char url[128];
  snprintf(url, sizeof(url), "LEADPOET_STAGE_LLM_BASE_URL=http://127.0.0.1:%d/v1", fake.port);
  /* abc: its own budget of $0.0105; xyz: the default, none. Every answer counts as uncertain (gate 1), so
   * every query with two leads or more calls the LLM: $0.000162 a call (the fake's usage at the prices). */
  const char *env[] = { "LEADPOET_KAFKA_MODE=off", "LEADPOET_STAGES_ORDER=ingest,throttle,churn,reputation,llm",
                        "LEADPOET_STAGES_PLUGINS=" PLUGIN, "OPENAI_API_KEY=sk-budget", url,
                        "LEADPOET_STAGE_LLM_GATE_MARGIN=1", "LEADPOET_STAGE_LLM_RETRIES=0",
                        "LEADPOET_HTTP_API_KEYS=abc:" H_ABC ":0.0105,xyz:" H_XYZ, "LEADPOET_HTTP_RATE_BURST=1000",
                        "LEADPOET_HTTP_RATE_LIMIT=1000", NULL };
  cr_assert_eq(lpt_server_start(&srv, NULL, env), 0);
  ingest();
}

static void stop(void) {
  cr_assert_eq(lpt_server_stop(&srv), 0);
  fake_stop(&fake);
}

#define PROMPT "{\"prompt\":\"international payroll software\",\"k\":10"

Test(server_budget, key_budget_limits_paid_queries, .init = start, .fini = stop, .timeout = 120) {
  double spent = 0;
  int paid = 0, i = 0;
  answer a;
  /* Each query may spend $0.01; the key has $0.0105 a day: admitted while $0.01 is left. */
  for (; i < 10; i++) {
    a = post("abc", PROMPT ",\"max_cost_usd\":0.01}");
    if (a.status != 200) break;
    cr_assert_eq(a.llm_calls, 1, "uncertain answers call the LLM");
    spent += a.usd;
    paid++;
  }
  cr_assert_eq(a.status, 429, "the budget ends the paid queries");
  cr_assert_str_eq(a.code, "cost_limit_exceeded", "%s", a.message);
  cr_assert(strstr(a.message, "max_cost_usd") != NULL && strstr(a.message, "abc") != NULL, "%s", a.message);
  long ra = atol(a.retry_after);
  cr_assert(ra >= 1 && ra <= 86400, "Retry-After: the seconds to 00:00 UTC, got '%s'", a.retry_after);
  cr_assert_geq(paid, 3, "$0.0105 - 3 x $0.000162 is still over $0.01");
  cr_assert_leq(spent, 0.0105, "what the key's answers cost stays within its budget: %f", spent);
  int calls = fake_requests(&fake);
  /* Nothing was spent for the refused query; a max_cost_usd within what is left is admitted. */
  a = post("abc", PROMPT ",\"max_cost_usd\":0.001}");
  cr_assert_eq(a.status, 200, "%s", a.message);
  cr_assert_eq(a.llm_calls, 1);
  cr_assert_eq(fake_requests(&fake), calls + 1);
  /* The key without a budget is never limited. */
  a = post("xyz", PROMPT ",\"max_cost_usd\":1000}");
  cr_assert_eq(a.status, 200, "%s", a.message);
  /* max_cost_usd 0 never pays, and is admitted while anything is left. */
  a = post("abc", PROMPT ",\"max_cost_usd\":0}");
  cr_assert_eq(a.status, 200, "%s", a.message);
  cr_assert_eq(a.llm_calls, 0);
}
