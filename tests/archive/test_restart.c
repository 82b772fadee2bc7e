/* PostgreSQL restarted in the middle of a run (a fast shutdown, then a crash): queries go on, their answers
 * and the outcomes applied meanwhile wait in the archive's buffer, and every one of them arrives exactly
 * once after Postgres is back. This binary has its own cluster, since it stops it. */
#include "archive/pg_fixture.h"

#include <jansson.h>

static pgf pg;

static void setup(void) {
  if (!pgf_available()) cr_skip_test(PGF_SKIP_MESSAGE);
  cr_assert_eq(pgf_init(&pg), 0, "initdb failed in %s", pg.dir);
  cr_assert_eq(pgf_start(&pg), 0, "postgres did not start: see %s/postgres.log", pg.dir);
}

static void teardown(void) { pgf_destroy(&pg); }

TestSuite(archive_restart, .init = setup, .fini = teardown, .timeout = 240);

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void post(const lpt_server *s, const char *path, const char *body) {
  lpt_response r;
  cr_assert_eq(lpt_http(s->port, "POST", path, "application/json", body, strlen(body), &r), 0);
  cr_assert(r.status == 202 && strstr(r.body, "\"rejected\":[]") != NULL, "%s -> %d %s", path, r.status, r.body);
  lpt_response_free(&r);
}

static size_t query(const lpt_server *s, char *qid, size_t cap) {
  const char *body = "{\"prompt\":\"usage based billing\",\"k\":2}";
  lpt_response r;
  cr_assert_eq(lpt_http(s->port, "POST", "/v1/leads", "application/json", body, strlen(body), &r), 0);
  cr_assert_eq(r.status, 200, "%s", r.body);
  json_t *j = json_loads(r.body, 0, NULL);
  cr_assert_not_null(j);
  snprintf(qid, cap, "%s", json_string_value(json_object_get(j, "query_id")));
  size_t n = json_array_size(json_object_get(j, "leads"));
  json_decref(j);
  lpt_response_free(&r);
  return n;
}

static void outcome(const lpt_server *s, int i, const char *qid) {
  char body[512];
  snprintf(body, sizeof(body), "[{\"id\":\"out-%d\",\"ts\":%lld,\"domain\":\"billco.com\",\"event\":\"%s\",\"query_id\":\"%s\"}]",
           i, now_ms(), i % 3 ? "opened" : "purchased", qid);
  post(s, "/v1/outcomes", body);
}

static long long metric(const lpt_server *s, const char *name) {
  lpt_response r;
  cr_assert_eq(lpt_http(s->port, "GET", "/metrics", NULL, NULL, 0, &r), 0);
  char key[160];
  snprintf(key, sizeof(key), "\n%s ", name);  /* the sample line, not # HELP or # TYPE */
  const char *p = strstr(r.body, key);
  long long v = p ? atoll(p + strlen(key)) : -1;
  lpt_response_free(&r);
  return v;
}

static long long wait_for(const char *sql, long long want) {
  long long v = -1;
  for (int i = 0; i < 300 && (v = pgf_int(&pg, "lp", sql)) != want; i++) pgf_sleep_ms(100);
  return v;
}

Test(archive_restart, answers_and_outcomes_arrive_exactly_once) {
  pgf_create_db(&pg, "lp");
  cr_assert_eq(pgf_leadpoet(&pg, "lp", "migrate", NULL), 0);
  char env_ep[64];
  snprintf(env_ep, sizeof(env_ep), "DB_ENDPOINT=127.0.0.1:%d", pg.port);
  const char *env[] = { "LEADPOET_KAFKA_MODE=off", env_ep, "DB_NAME=lp", NULL };
  lpt_server s;
  cr_assert_eq(lpt_server_start(&s, NULL, env), 0);
  long long t = now_ms() - 3600000LL;
  char body[1024];
  snprintf(body, sizeof(body),
           "[{\"id\":\"1\",\"miner\":\"m1\",\"ts\":%lld,\"lead\":{\"domain\":\"billco.com\"},\"kind\":\"hiring\","
           "\"text\":\"Billco rebuilds usage based billing\"},"
           "{\"id\":\"2\",\"miner\":\"m2\",\"ts\":%lld,\"lead\":{\"domain\":\"meterly.io\"},\"kind\":\"tech\","
           "\"text\":\"Meterly needs usage based billing\"}]", t, t);
  post(&s, "/v1/snippets", body);

  enum { N = 36 };
  size_t leads = 0;
  char qid[64];
  for (int i = 0; i < N; i++) {
    leads += query(&s, qid, sizeof(qid));
    outcome(&s, i, qid);
    if (i == 8) pgf_stop_sig(&pg, SIGINT);        /* fast shutdown, writes may be in flight */
    if (i == 16) {
      cr_assert_eq(metric(&s, "leadpoet_archive_connected"), 0);
      cr_assert_gt(metric(&s, "leadpoet_archive_rows_buffered"), 0);
      cr_assert_eq(pgf_start(&pg), 0);
    }
    if (i == 20) pgf_sleep_ms(400);               /* let the backlog start flowing */
    if (i == 22) pgf_stop_sig(&pg, SIGQUIT);      /* a crash: a batch may be committed and not acknowledged */
    if (i == 28) cr_assert_eq(pgf_start(&pg), 0);
  }
  cr_assert_eq(wait_for("SELECT count(*) FROM answers", N), N);
  cr_assert_eq(wait_for("SELECT count(*) FROM outcomes", N), N);
  cr_assert_eq(wait_for("SELECT count(*) FROM answer_leads", (long long)leads), (long long)leads);
  cr_assert_eq(pgf_int(&pg, "lp", "SELECT count(DISTINCT query_id) FROM answers"), N);
  cr_assert_eq(pgf_int(&pg, "lp", "SELECT count(DISTINCT id) FROM outcomes"), N);
  /* every outcome names an archived answer */
  cr_assert_eq(pgf_int(&pg, "lp", "SELECT count(*) FROM outcomes o JOIN answers a USING (query_id)"), N);
  cr_assert_gt(metric(&s, "leadpoet_archive_failures_total"), 0);
  cr_assert_eq(metric(&s, "leadpoet_archive_rows_dropped_total{table=\"answers\"}"), 0);
  cr_assert_eq(metric(&s, "leadpoet_archive_rows_buffered"), 0);
  cr_assert_eq(lpt_server_stop(&s), 0);
}
