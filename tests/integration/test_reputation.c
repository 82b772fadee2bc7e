/* Reputation through the real binary: two miners report leads, a query shows them, outcomes name its
 * query_id (purchased for one miner's leads, spam for the other's); GET /v1/miners then shows the first
 * above the prior and the second below, a later query ranks a lead backed only by the good miner above an
 * equal lead backed only by the bad one, and the estimates survive a restart (save_global/load_global). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "helpers/helpers.h"

static char dir[128], conf_path[160];

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void start(lpt_server *s) {
  const char *args[] = { "-c", conf_path, NULL };
  const char *env[] = { "LEADPOET_KAFKA_MODE=off", NULL };
  cr_assert_eq(lpt_server_start(s, args, env), 0);
}

static json_t *call(int port, const char *method, const char *path, const char *body, int want) {
  lpt_response r;
  cr_assert_eq(lpt_http(port, method, path, body ? "application/json" : NULL, body, body ? strlen(body) : 0, &r), 0);
  cr_assert_eq(r.status, want, "%s %s -> %d %s", method, path, r.status, r.body);
  json_t *j = json_loads(r.body, 0, NULL);
  cr_assert_not_null(j, "%s", r.body);
  lpt_response_free(&r);
  return j;
}

static double rep_of(json_t *miner, const char *key) {
  return json_real_value(json_object_get(json_object_get(miner, "reputation"), key));
}

/* The rank (1-based) of domain in a query's answer, 0 when absent. */
static size_t rank_of(json_t *answer, const char *domain) {
  size_t i;
  json_t *l;
  json_array_foreach(json_object_get(answer, "leads"), i, l)
    if (strcmp(json_string_value(json_object_get(l, "domain")), domain) == 0) return i + 1;
  return 0;
}

static void setup(void) {
  snprintf(dir, sizeof(dir), "/tmp/lp-rep-test-%d", (int)getpid());
  char cmd[512];
  snprintf(cmd, sizeof(cmd), "rm -rf %s && mkdir -p %s", dir, dir);
  cr_assert_eq(system(cmd), 0);
  snprintf(conf_path, sizeof(conf_path), "%s/leadpoet.conf", dir);
  FILE *f = fopen(conf_path, "w");
  cr_assert_not_null(f);
  /* one shard: the two "equal" leads share their BM25 statistics, so only reputation tells them apart */
  fprintf(f, "[server]\nshards = 1\nstate_dir = %s/state\n[stages]\norder = \"ingest, throttle, reputation\"\n"
             "[stage.reputation]\npublish_interval = 0ms\n", dir);
  fclose(f);
}

static void teardown(void) {
  char cmd[512];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  cr_assert_eq(system(cmd), 0);
}

TestSuite(integration_reputation, .init = setup, .fini = teardown, .timeout = 120);

Test(integration_reputation, outcomes_move_miners_and_the_ranking) {
  lpt_server s;
  start(&s);
  long long t = now_ms() - 3600000LL;
  char body[8192];
  size_t n = (size_t)snprintf(body, sizeof(body), "[");
  const char *miners[2] = { "goodminer", "badminer" };
  for (int m = 0; m < 2; m++)
    for (int i = 1; i <= 3; i++)
      n += (size_t)snprintf(body + n, sizeof(body) - n,
                            "{\"id\":\"%c%d\",\"miner\":\"%s\",\"ts\":%lld,\"lead\":{\"domain\":\"%c%d.com\"},"
                            "\"kind\":\"tech\",\"text\":\"kubernetes migration planned %d\"},",
                            miners[m][0], i, miners[m], t, miners[m][0], i, i);
  /* the equal pair: the same short text (too short to be a near-duplicate), one miner each */
  n += (size_t)snprintf(body + n, sizeof(body) - n,
                        "{\"id\":\"eq\",\"miner\":\"goodminer\",\"ts\":%lld,\"lead\":{\"domain\":\"gequal.com\"},"
                        "\"kind\":\"tech\",\"text\":\"zebrafish telemetry rollout\"},"
                        "{\"id\":\"eq\",\"miner\":\"badminer\",\"ts\":%lld,\"lead\":{\"domain\":\"bequal.com\"},"
                        "\"kind\":\"tech\",\"text\":\"zebrafish telemetry rollout\"}]",
                        t, t);
  json_t *acc = call(s.port, "POST", "/v1/snippets", body, 202);
  cr_assert_eq(json_integer_value(json_object_get(acc, "accepted")), 8, "%s", json_dumps(acc, 0));
  json_decref(acc);

  json_t *a = call(s.port, "POST", "/v1/leads", "{\"prompt\":\"kubernetes migration\",\"k\":10}", 200);
  const char *qid = json_string_value(json_object_get(a, "query_id"));
  cr_assert_not_null(qid);
  for (int m = 0; m < 2; m++)
    for (int i = 1; i <= 3; i++) {
      char d[32];
      snprintf(d, sizeof(d), "%c%d.com", miners[m][0], i);
      cr_assert_gt(rank_of(a, d), 0, "%s in the answer", d);
    }

  n = (size_t)snprintf(body, sizeof(body), "[");
  for (int m = 0; m < 2; m++)
    for (int i = 1; i <= 3; i++)
      n += (size_t)snprintf(body + n, sizeof(body) - n,
                            "%s{\"id\":\"o-%c%d\",\"ts\":%lld,\"domain\":\"%c%d.com\",\"event\":\"%s\",\"query_id\":\"%s\"}",
                            n > 1 ? "," : "", miners[m][0], i, t + 60000, miners[m][0], i,
                            m == 0 ? "purchased" : "spam", qid);
  snprintf(body + n, sizeof(body) - n, "]");
  json_decref(a);
  json_decref(call(s.port, "POST", "/v1/outcomes", body, 202));

  json_t *good = call(s.port, "GET", "/v1/miners/goodminer", NULL, 200);
  json_t *bad = call(s.port, "GET", "/v1/miners/badminer", NULL, 200);
  cr_assert_gt(rep_of(good, "mean"), 0.5, "credited above the prior");
  cr_assert_lt(rep_of(bad, "mean"), 0.5, "debited below the prior");
  cr_assert(rep_of(bad, "low") <= rep_of(bad, "mean") && rep_of(bad, "mean") <= rep_of(bad, "high"));
  cr_assert_str_eq(json_string_value(json_object_get(good, "status")), "ok");
  cr_assert_str_eq(json_string_value(json_object_get(bad, "status")), "low_reputation");
  cr_assert_eq(json_integer_value(json_object_get(good, "accepted")), 4);
  double bad_mean = rep_of(bad, "mean");
  json_decref(good);
  json_decref(bad);

  /* the snapshot reaches the worker ahead of the query in its ring */
  json_t *q = call(s.port, "POST", "/v1/leads", "{\"prompt\":\"zebrafish telemetry\",\"k\":10}", 200);
  cr_assert_eq(rank_of(q, "gequal.com"), 1, "%s", json_dumps(q, 0));
  cr_assert_eq(rank_of(q, "bequal.com"), 2);
  json_t *leads = json_object_get(q, "leads");
  double rg = json_real_value(json_object_get(json_object_get(json_array_get(leads, 0), "signals"), "reputation"));
  double rb = json_real_value(json_object_get(json_object_get(json_array_get(leads, 1), "signals"), "reputation"));
  cr_assert_gt(rg, 0.5);
  cr_assert_lt(rb, 0.5);
  json_decref(q);

  lpt_response r;
  cr_assert_eq(lpt_http(s.port, "GET", "/metrics", NULL, NULL, 0, &r), 0);
  cr_assert(strstr(r.body, "leadpoet_miner_reputation{miner=\"badminer\"}") != NULL);
  lpt_response_free(&r);
  cr_assert_eq(lpt_server_stop(&s), 0);

  /* restart: the estimates come back from state_dir */
  start(&s);
  bad = call(s.port, "GET", "/v1/miners/badminer", NULL, 200);
  cr_assert_float_eq(rep_of(bad, "mean"), bad_mean, 1e-6);
  json_decref(bad);
  cr_assert_eq(lpt_server_stop(&s), 0);
}
