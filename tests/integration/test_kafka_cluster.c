/*
 * test_kafka_cluster.c: two `leadpoet serve` processes on one external cluster (a mock cluster started by
 * this test process, passed as KAFKA_BOOTSTRAP_BROKERS) form one consumer group and split the partitions;
 * after kill -9 of one, the other takes its partitions, reads them from the log and goes on: every lead is
 * then applied exactly once on the survivor.
 */
#include <signal.h>
#include <sys/wait.h>

#include "kafka/kafka.h"
#include "kafka_serve.h"
#include "worker/worker.h"

static void produce_range(rd_kafka_t *rk, int from, int to, long long ts) {
  char buf[512], domain[32];
  for (int i = from; i < to; i++) {
    snprintf(domain, sizeof(domain), "cl%d.com", i);
    snprintf(buf, sizeof(buf),
             "{\"id\":\"c%d\",\"miner\":\"cm-%d\",\"ts\":%lld,\"lead\":{\"domain\":\"%s\"},\"kind\":\"news\","
             "\"text\":\"cluster company %d opened an office\"}",
             i, i % 3, ts - i, domain, i);
    ks_produce(rk, "miner.snippets", (int32_t)lp_partition_of(domain, strlen(domain), KS_SHARDS), domain, buf,
               strlen(buf), "application/json");
  }
  ks_flush(rk);
}

static double accepted(int port) { return ks_metric(port, "leadpoet_snippets_total{result=\"accepted\"}"); }

Test(kafka_cluster, two_processes_split_partitions_and_survive_a_kill, .timeout = 240) {
  lp_kafka_mock *mock = NULL;
  char err[256];
  cr_assert_eq(lp_kafka_mock_new(KS_SHARDS, 1, &mock, err, sizeof(err)), LP_OK, "%s", err);
  char brokers[300];
  snprintf(brokers, sizeof(brokers), "KAFKA_BOOTSTRAP_BROKERS=%s", lp_kafka_mock_bootstraps(mock));
  const char *env[] = { "LEADPOET_SERVER_SHARDS=8", "LEADPOET_SERVER_WORKERS=1", brokers, KS_PROPS, NULL };
  lpt_server a, b;
  cr_assert_eq(lpt_server_start(&a, NULL, env), 0, "a starts");
  cr_assert_eq(lpt_server_start(&b, NULL, env), 0, "b starts");
  char mode[32] = "";
  ks_status(a.port, NULL, 0, mode, sizeof(mode));
  cr_expect_str_eq(mode, "external");

  /* The group settles with both members owning partitions. */
  int oa = 0, ob = 0;
  long long deadline = ks_now_ms() + 60000;
  while (ks_now_ms() < deadline) {
    oa = ks_status(a.port, NULL, 0, NULL, 0);
    ob = ks_status(b.port, NULL, 0, NULL, 0);
    if (oa > 0 && ob > 0 && oa + ob == KS_SHARDS) break;
    ks_sleep_ms(200);
  }
  cr_assert(oa > 0 && ob > 0 && oa + ob == KS_SHARDS, "partitions split: a %d, b %d", oa, ob);

  rd_kafka_t *rk = ks_producer(lp_kafka_mock_bootstraps(mock));
  long long ts = ks_now_ms();
  produce_range(rk, 0, 400, ts);
  deadline = ks_now_ms() + 60000;
  while (accepted(a.port) + accepted(b.port) < 400 && ks_now_ms() < deadline) ks_sleep_ms(100);
  cr_assert_eq(accepted(a.port) + accepted(b.port), 400, "each record applied once across the two");
  cr_expect(accepted(a.port) > 0 && accepted(b.port) > 0, "both applied some");

  /* kill -9 a: b takes its partitions (after the session timeout) and reads them from the log. */
  kill(a.pid, SIGKILL);
  waitpid(a.pid, NULL, 0);
  produce_range(rk, 400, 600, ts);
  deadline = ks_now_ms() + 90000;
  while ((ks_status(b.port, NULL, 0, NULL, 0) != KS_SHARDS || accepted(b.port) < 600) && ks_now_ms() < deadline)
    ks_sleep_ms(200);
  cr_assert_eq(ks_status(b.port, NULL, 0, NULL, 0), KS_SHARDS, "b owns every partition");
  cr_assert_eq(accepted(b.port), 600, "b applied every record once");
  long wrong = 0;
  for (int i = 0; i < 600; i++) {
    char domain[32];
    snprintf(domain, sizeof(domain), "cl%d.com", i);
    if (ks_lead_snippets(b.port, domain) != 1) wrong++;
  }
  cr_expect_eq(wrong, 0, "%ld of 600 leads not applied exactly once on the survivor", wrong);
  rd_kafka_destroy(rk);
  cr_expect_eq(lpt_server_stop(&b), 0, "clean exit");
  lp_kafka_mock_free(mock);
}

/* A flood far over what one worker with a 16-message ring absorbs at once: partitions pause and resume
 * (backpressure), resident memory stays under server.max_memory, and every record is applied. */
Test(kafka_cluster, flood_with_a_small_ring_stays_under_the_ceiling, .timeout = 240) {
  static const char *const env[] = {
    "LEADPOET_SERVER_SHARDS=8", "LEADPOET_SERVER_WORKERS=1", "LEADPOET_SERVER_RING_CAPACITY=16",
    "LEADPOET_SERVER_MAX_MEMORY=768m", "LEADPOET_KAFKA_MODE=embedded",
    "ASAN_OPTIONS=quarantine_size_mb=16:detect_leaks=1", KS_PROPS, NULL,
  };
  lpt_server s;
  cr_assert_eq(lpt_server_start(&s, NULL, env), 0, "server starts");
  char boot[256] = "";
  ks_status(s.port, boot, sizeof(boot), NULL, 0);
  rd_kafka_t *rk = ks_producer(boot);
  enum { FLOOD = 20000 };
  long long ts = ks_now_ms();
  char buf[600], domain[32];
  for (int i = 0; i < FLOOD; i++) {
    snprintf(domain, sizeof(domain), "fl%d.com", i % 2000);
    snprintf(buf, sizeof(buf),
             "{\"id\":\"f%d\",\"miner\":\"fm-%d\",\"ts\":%lld,\"lead\":{\"domain\":\"%s\"},\"kind\":\"web\","
             "\"text\":\"flood company %d visited the pricing page of a data warehouse vendor %d times\"}",
             i, i % 50, ts - i % 1000, domain, i % 2000, i);
    ks_produce(rk, "miner.snippets", (int32_t)lp_partition_of(domain, strlen(domain), KS_SHARDS), domain, buf,
               strlen(buf), NULL);
  }
  ks_flush(rk);
  double max_rss = 0, rss;
  long long deadline = ks_now_ms() + 180000;
  double done = 0;
  while (ks_now_ms() < deadline) {
    /* applied, or dropped by a stage (throttled, near_duplicate...) and then dead-lettered */
    done = ks_metric(s.port, "leadpoet_snippets_total{result=\"accepted\"}") +
           ks_metric(s.port, "leadpoet_kafka_dead_letters_total{topic=\"miner.snippets\"}");
    if ((rss = ks_metric(s.port, "process_resident_memory_bytes")) > max_rss) max_rss = rss;
    if (done >= FLOOD) break;
    ks_sleep_ms(200);
  }
  /* Throttled and near-duplicate ones are dead letters: every record is accounted for, none lost. */
  double dlq = ks_metric(s.port, "leadpoet_kafka_dead_letters_total{topic=\"miner.snippets\"}");
  double accepted = ks_metric(s.port, "leadpoet_snippets_total{result=\"accepted\"}");
  cr_expect_eq(done, FLOOD, "every record applied or dead-lettered by a stage (accepted %.0f, dlq %.0f)", accepted, dlq);
  cr_expect_gt(accepted, 0);
  cr_log_info("backpressure pauses: %.0f, peak rss %.0f bytes",
              ks_metric(s.port, "leadpoet_kafka_backpressure_pauses_total"), max_rss);
  cr_expect_lt(max_rss, 768.0 * 1024 * 1024, "resident memory %.0f stayed under the ceiling", max_rss);
  rd_kafka_destroy(rk);
  cr_assert_eq(lpt_server_stop(&s), 0, "clean exit");
}

/* Over the memory ceiling, HTTP ingest answers 429 with Retry-After and nothing is applied meanwhile. */
Test(kafka_cluster, over_the_memory_ceiling_ingest_answers_429, .timeout = 120) {
  lpt_server s;
  static const char *const env0[] = { "LEADPOET_SERVER_SHARDS=8", "LEADPOET_KAFKA_MODE=off", NULL };
  cr_assert_eq(lpt_server_start(&s, NULL, env0), 0, "server starts");
  int st;
  json_t *j = ks_get_json(s.port, "/v1/status", &st);
  long long rss = (long long)json_integer_value(json_object_get(json_object_get(j, "memory"), "rss"));
  json_decref(j);
  cr_assert_eq(lpt_server_stop(&s), 0);
  cr_assert_gt(rss, 0, "the status shows the resident set");
  /* A ceiling at the resident set of an idle server: 90% of it is passed from the start. */
  char max[64];
  snprintf(max, sizeof(max), "LEADPOET_SERVER_MAX_MEMORY=%lld", rss);
  const char *env[] = { "LEADPOET_SERVER_SHARDS=8", "LEADPOET_KAFKA_MODE=embedded", max, KS_PROPS, NULL };
  cr_assert_eq(lpt_server_start(&s, NULL, env), 0, "server starts");
  int high = 0;
  long long deadline = ks_now_ms() + 10000;
  while (!high && ks_now_ms() < deadline) {
    j = ks_get_json(s.port, "/v1/status", &st);
    high = json_is_true(json_object_get(json_object_get(j, "memory"), "high"));
    json_decref(j);
    if (!high) ks_sleep_ms(50);
  }
  cr_assert(high, "memory is reported high");
  char body[512];
  snprintf(body, sizeof(body), "{\"id\":\"p1\",\"miner\":\"pm\",\"ts\":%lld,\"lead\":{\"domain\":\"mem-co.com\"},\"kind\":\"web\",\"text\":\"t\"}",
           ks_now_ms());
  lpt_response r;
  cr_assert_eq(lpt_http(s.port, "POST", "/v1/snippets", "application/json", body, strlen(body), &r), 0);
  cr_expect_eq(r.status, 429, "%s", r.body);
  char ra[16] = "";
  cr_expect_eq(lpt_header(&r, "Retry-After", ra, sizeof(ra)), 0, "Retry-After is set");
  lpt_response_free(&r);
  cr_expect_eq(ks_lead_snippets(s.port, "mem-co.com"), 0);
  cr_assert_eq(lpt_server_stop(&s), 0, "clean exit");
}

/* An external cluster whose topics have another partition count than server.shards: exit 1, with why. */
Test(kafka_cluster, wrong_partition_count_exits_1_with_the_reason, .timeout = 60) {
  lp_kafka_mock *mock = NULL;
  char err[256];
  cr_assert_eq(lp_kafka_mock_new(4, 1, &mock, err, sizeof(err)), LP_OK, "%s", err);
  char brokers[300];
  snprintf(brokers, sizeof(brokers), "KAFKA_BOOTSTRAP_BROKERS=%s", lp_kafka_mock_bootstraps(mock));
  const char *env[] = { "LEADPOET_SERVER_SHARDS=8", brokers, NULL };
  lpt_server s;
  cr_expect_neq(lpt_server_start(&s, NULL, env), 0, "the server does not start");
  char *log = lpt_read_file(s.log_path, NULL);
  cr_expect(log && strstr(log, "has 4 partitions") && strstr(log, "needs 8"), "the log says why: %s", log ? log : "");
  free(log);
  lp_kafka_mock_free(mock);
}
