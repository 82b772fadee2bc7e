/* The archive through the real binary against a real PostgreSQL 15: every answer and every applied outcome
 * arrives once; analysts can join deliveries with outcomes per model variant; the lag shows in /metrics. */
#define PGF_SHARED_CLUSTER
#include "archive/pg_fixture.h"

#include <jansson.h>

static pgf pg;

static void setup(void) {
  if (!pgf_available()) cr_skip_test(PGF_SKIP_MESSAGE);
  cr_assert_eq(pgf_attach(&pg), 0, "the shared PostgreSQL cluster did not start (see /tmp/lp-pg-*/postgres.log)");
}

TestSuite(archive_sink, .init = setup, .timeout = 180);

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void start(lpt_server *s, const char *db) {
  char env_ep[64], env_db[64];
  snprintf(env_ep, sizeof(env_ep), "DB_ENDPOINT=127.0.0.1:%d", pg.port);
  snprintf(env_db, sizeof(env_db), "DB_NAME=%s", db);
  const char *env[] = { "LEADPOET_KAFKA_MODE=off", env_ep, env_db, NULL };
  cr_assert_eq(lpt_server_start(s, NULL, env), 0);
}

static void post(const lpt_server *s, const char *path, const char *body, int want) {
  lpt_response r;
  cr_assert_eq(lpt_http(s->port, "POST", path, "application/json", body, strlen(body), &r), 0);
  cr_assert_eq(r.status, want, "%s -> %d %s", path, r.status, r.body);
  if (want == 202) cr_assert(strstr(r.body, "\"rejected\":[]") != NULL, "%s", r.body);
  lpt_response_free(&r);
}

/* Four companies about billing. */
static void post_snippets(const lpt_server *s) {
  long long t = now_ms() - 3600000LL;
  char body[4096];
  snprintf(body, sizeof(body),
           "[{\"id\":\"1\",\"miner\":\"m1\",\"ts\":%lld,\"lead\":{\"domain\":\"billco.com\",\"name\":\"Billco\"},"
           "\"kind\":\"hiring\",\"text\":\"Billco is hiring engineers to rebuild usage based billing\"},"
           "{\"id\":\"2\",\"miner\":\"m2\",\"ts\":%lld,\"lead\":{\"domain\":\"meterly.io\"},\"kind\":\"tech\","
           "\"text\":\"Meterly needs usage based billing for its API\"},"
           "{\"id\":\"3\",\"miner\":\"m1\",\"ts\":%lld,\"lead\":{\"domain\":\"invoicer.net\"},\"kind\":\"news\","
           "\"text\":\"Invoicer evaluates billing and invoicing vendors\"},"
           "{\"id\":\"4\",\"miner\":\"m3\",\"ts\":%lld,\"lead\":{\"domain\":\"payhub.org\"},\"kind\":\"web\","
           "\"text\":\"Payhub compares metered billing tools\"}]",
           t, t, t, t);
  post(s, "/v1/snippets", body, 202);
}

/* One query; its query_id goes to qid, the number of leads is returned. */
static size_t query(const lpt_server *s, const char *prompt, char *qid, size_t cap) {
  char body[512];
  snprintf(body, sizeof(body), "{\"prompt\":\"%s\",\"k\":3}", prompt);
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

/* Waits (up to 30 s) until sql on db returns want; returns the last value. */
static long long wait_for(const char *db, const char *sql, long long want) {
  long long v = -1;
  for (int i = 0; i < 300 && (v = pgf_int(&pg, db, sql)) != want; i++) pgf_sleep_ms(100);
  return v;
}

static char *metrics(const lpt_server *s) {
  lpt_response r;
  cr_assert_eq(lpt_http(s->port, "GET", "/metrics", NULL, NULL, 0, &r), 0);
  cr_assert_eq(r.status, 200);
  char *body = strdup(r.body);
  lpt_response_free(&r);
  return body;
}

Test(archive_sink, every_answer_and_outcome_once_and_conversion_per_variant) {
  pgf_create_db(&pg, "sink_main");
  cr_assert_eq(pgf_leadpoet(&pg, "sink_main", "migrate", NULL), 0);
  lpt_server s;
  start(&s, "sink_main");
  post_snippets(&s);
  enum { Q = 6 };
  char qid[Q][64];
  size_t leads = 0;
  for (int i = 0; i < Q; i++) leads += query(&s, i % 2 ? "usage based billing" : "invoicing vendors", qid[i], sizeof(qid[i]));
  cr_assert_gt(leads, 0);
  /* outcomes: a purchase and a reply that name answers, and one that names none */
  long long t = now_ms();
  char body[2048];
  snprintf(body, sizeof(body),
           "[{\"id\":\"o1\",\"ts\":%lld,\"domain\":\"billco.com\",\"event\":\"purchased\",\"query_id\":\"%s\","
           "\"product\":\"billing \\u00e9dition\",\"value_usd\":1200.5},"
           "{\"id\":\"o2\",\"ts\":%lld,\"domain\":\"meterly.io\",\"event\":\"replied\",\"query_id\":\"%s\"},"
           "{\"id\":\"o3\",\"ts\":%lld,\"domain\":\"payhub.org\",\"event\":\"opened\"}]",
           t, qid[1], t, qid[3], t);
  post(&s, "/v1/outcomes", body, 202);
  /* the same outcomes again: duplicates, not applied, not archived twice */
  lpt_response r;
  cr_assert_eq(lpt_http(s.port, "POST", "/v1/outcomes", "application/json", body, strlen(body), &r), 0);
  cr_assert(r.status == 202 && strstr(r.body, "\"accepted\":0") != NULL, "%s", r.body);
  lpt_response_free(&r);

  cr_assert_eq(wait_for("sink_main", "SELECT count(*) FROM answers", Q), Q);
  cr_assert_eq(wait_for("sink_main", "SELECT count(*) FROM outcomes", 3), 3);
  cr_assert_eq(pgf_int(&pg, "sink_main", "SELECT count(*) FROM answer_leads"), (long long)leads);
  cr_assert_eq(pgf_int(&pg, "sink_main", "SELECT count(DISTINCT query_id) FROM answers"), Q);
  cr_assert_eq(pgf_int(&pg, "sink_main", "SELECT count(*) FROM answers WHERE model = 'v0' AND k = 3 AND icp IS NOT NULL "
                                         "AND cost_usd > 0 AND prompt IN ('usage based billing', 'invoicing vendors')"), Q);
  cr_assert_eq(pgf_int(&pg, "sink_main", "SELECT count(*) FROM answer_leads WHERE signals ? 'text_match' AND score > 0"),
               (long long)leads);
  cr_assert_eq(pgf_int(&pg, "sink_main", "SELECT count(*) FROM outcomes WHERE product = 'billing \u00e9dition' "
                                         "AND value_usd = 1200.5 AND event = 'purchased'"), 1);
  /* the analyst's join: conversion per model variant */
  char sql[1024];
  snprintf(sql, sizeof(sql),
           "SELECT count(*) FILTER (WHERE o.event = 'purchased') * 1000 + count(*) FILTER (WHERE o.event = 'replied') "
           "FROM answers a JOIN answer_leads l ON l.query_id = a.query_id "
           "LEFT JOIN outcomes o ON o.query_id = l.query_id AND o.domain = l.domain "
           "WHERE a.model = 'v0' AND a.variant = ''");
  long long purchased_if_shown = pgf_int(&pg, "sink_main",
    "SELECT count(*) FROM answer_leads WHERE (query_id, domain) IN (SELECT query_id, domain FROM outcomes WHERE event = 'purchased')");
  long long replied_if_shown = pgf_int(&pg, "sink_main",
    "SELECT count(*) FROM answer_leads WHERE (query_id, domain) IN (SELECT query_id, domain FROM outcomes WHERE event = 'replied')");
  cr_assert_eq(pgf_int(&pg, "sink_main", sql), purchased_if_shown * 1000 + replied_if_shown);
  cr_assert_eq(pgf_int(&pg, "sink_main", "SELECT leads_delivered FROM conversion_by_variant WHERE model = 'v0'"), (long long)leads);
  cr_assert_eq(pgf_int(&pg, "sink_main", "SELECT purchased FROM conversion_by_variant WHERE model = 'v0'"), purchased_if_shown);

  char *m = metrics(&s);
  char want[128];
  snprintf(want, sizeof(want), "leadpoet_archive_rows_written_total{table=\"answers\"} %d\n", Q);
  cr_assert(strstr(m, want) != NULL, "%s", m);
  cr_assert(strstr(m, "leadpoet_archive_rows_written_total{table=\"outcomes\"} 3\n") != NULL, "%s", m);
  cr_assert(strstr(m, "leadpoet_archive_connected 1\n") != NULL, "%s", m);
  cr_assert(strstr(m, "leadpoet_archive_rows_dropped_total{table=\"answers\"} 0\n") != NULL, "%s", m);
  free(m);
  cr_assert_eq(lpt_server_stop(&s), 0);
}

Test(archive_sink, off_without_db_endpoint) {
  lpt_server s;
  const char *env[] = { "LEADPOET_KAFKA_MODE=off", NULL };
  cr_assert_eq(lpt_server_start(&s, NULL, env), 0);
  char qid[64];
  post_snippets(&s);
  query(&s, "billing", qid, sizeof(qid));
  char *m = metrics(&s);
  cr_assert(strstr(m, "leadpoet_archive_") == NULL, "%s", m);
  free(m);
  cr_assert_eq(lpt_server_stop(&s), 0);
}

Test(archive_sink, database_down_at_start_then_up_loses_nothing) {
  pgf_create_db(&pg, "sink_late");
  cr_assert_eq(pgf_leadpoet(&pg, "sink_late", "migrate", NULL), 0);
  /* a port where nothing listens: the server starts anyway and buffers */
  lpt_server s;
  char env_ep[64];
  snprintf(env_ep, sizeof(env_ep), "DB_ENDPOINT=127.0.0.1:%d", lpt_free_port());
  const char *env[] = { "LEADPOET_KAFKA_MODE=off", env_ep, "DB_NAME=sink_late", NULL };
  cr_assert_eq(lpt_server_start(&s, NULL, env), 0);
  post_snippets(&s);
  char qid[64];
  query(&s, "billing", qid, sizeof(qid));
  pgf_sleep_ms(300);
  char *m = metrics(&s);
  cr_assert(strstr(m, "leadpoet_archive_connected 0\n") != NULL, "%s", m);
  cr_assert(strstr(m, "leadpoet_archive_rows_buffered 0\n") == NULL, "%s", m);
  free(m);
  cr_assert_eq(lpt_server_stop(&s), 0);
  char *log = lpt_read_file(s.log_path, NULL);
  cr_assert(log != NULL && strstr(log, "closing with rows not written") != NULL, "%s", log ? log : "");
  free(log);
}
