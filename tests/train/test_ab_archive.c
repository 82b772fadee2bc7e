/* A/B tests in the archive (core/server/model.c, docs/adr/0014-learned-model.md addendum): each answer row
 * carries the variant that gave it, so the analyst's conversion_by_variant view agrees with
 * GET /v1/experiments. Against a real PostgreSQL 15 (skipped with a message without it). */
#define PGF_SHARED_CLUSTER
#include "archive/pg_fixture.h"

#include <jansson.h>

static pgf pg;

static void setup(void) {
  if (!pgf_available()) cr_skip_test(PGF_SKIP_MESSAGE);
  cr_assert_eq(pgf_attach(&pg), 0, "the shared PostgreSQL cluster did not start (see /tmp/lp-pg-*/postgres.log)");
}

TestSuite(ab_archive, .init = setup, .timeout = 180);

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void post(const lpt_server *s, const char *path, const char *body) {
  lpt_response r;
  cr_assert_eq(lpt_http(s->port, "POST", path, "application/json", body, strlen(body), &r), 0);
  cr_assert_eq(r.status, 202, "%s -> %d %s", path, r.status, r.body);
  cr_assert(strstr(r.body, "\"rejected\":[]") != NULL, "%s", r.body);
  lpt_response_free(&r);
}

static long long wait_for(const char *db, const char *sql, long long want) {
  long long v = -1;
  for (int i = 0; i < 300 && (v = pgf_int(&pg, db, sql)) != want; i++) pgf_sleep_ms(100);
  return v;
}

Test(ab_archive, answers_rows_carry_the_variant) {
  pgf_create_db(&pg, "ab_main");
  cr_assert_eq(pgf_leadpoet(&pg, "ab_main", "migrate", NULL), 0);
  char env_ep[64];
  snprintf(env_ep, sizeof(env_ep), "DB_ENDPOINT=127.0.0.1:%d", pg.port);
  const char *env[] = { "LEADPOET_KAFKA_MODE=off", env_ep, "DB_NAME=ab_main", "LEADPOET_SCORING_VARIANTS=ctl=v0:50,exp=v0:50",
                        NULL };
  lpt_server s;
  cr_assert_eq(lpt_server_start(&s, NULL, env), 0);
  char body[2048];
  long long t = now_ms() - 3600000LL;
  snprintf(body, sizeof(body),
           "[{\"id\":\"1\",\"miner\":\"m1\",\"ts\":%lld,\"lead\":{\"domain\":\"billco.com\"},\"kind\":\"hiring\","
           "\"text\":\"Billco is hiring engineers to rebuild usage based billing\"}]",
           t);
  post(&s, "/v1/snippets", body);
  enum { Q = 12 };
  int n_exp = 0;
  char exp_qid[64] = "";
  for (int i = 0; i < Q; i++) {
    static const char q[] = "{\"prompt\":\"usage based billing\",\"k\":3}";
    lpt_response r;
    cr_assert_eq(lpt_http(s.port, "POST", "/v1/leads", "application/json", q, sizeof(q) - 1, &r), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    json_t *j = json_loads(r.body, 0, NULL);
    cr_assert_not_null(j);
    cr_assert_eq(json_array_size(json_object_get(j, "leads")), 1, "%s", r.body);
    if (strcmp(json_string_value(json_object_get(j, "variant")), "exp") == 0) {
      n_exp++;
      snprintf(exp_qid, sizeof(exp_qid), "%s", json_string_value(json_object_get(j, "query_id")));
    }
    json_decref(j);
    lpt_response_free(&r);
  }
  cr_assert_eq(wait_for("ab_main", "SELECT count(*) FROM answers", Q), Q);
  cr_assert_eq(pgf_int(&pg, "ab_main", "SELECT count(*) FROM answers WHERE variant = 'exp'"), n_exp);
  cr_assert_eq(pgf_int(&pg, "ab_main", "SELECT count(*) FROM answers WHERE variant = 'ctl'"), Q - n_exp);
  if (n_exp > 0) {  /* a purchase on an exp answer shows in the analyst's view under exp */
    snprintf(body, sizeof(body),
             "[{\"id\":\"o1\",\"ts\":%lld,\"domain\":\"billco.com\",\"event\":\"purchased\",\"query_id\":\"%s\"}]", now_ms(),
             exp_qid);
    post(&s, "/v1/outcomes", body);
    cr_assert_eq(wait_for("ab_main", "SELECT purchased FROM conversion_by_variant WHERE variant = 'exp'", 1), 1);
    cr_assert_eq(pgf_int(&pg, "ab_main", "SELECT leads_delivered FROM conversion_by_variant WHERE variant = 'exp'"), n_exp);
  }
  cr_assert_eq(lpt_server_stop(&s), 0);
}
