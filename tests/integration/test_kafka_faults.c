/*
 * test_kafka_faults.c: `leadpoet serve` (external mode) against a mock cluster this test starts, while the
 * cluster misbehaves: the group coordinator is down at start (/readyz answers 503 with the reason until the
 * group assigned the partitions and the consumer caught up), then Fetch, Produce, JoinGroup and Heartbeat
 * requests fail (rd_kafka_mock_push_request_errors) and a partition leader goes down and up while a known
 * stream is consumed. The consumer recovers by itself and the counts match: every valid record applied
 * exactly once, every bad one in the DLQ once.
 *
 * And backpressure: with a tiny worker ring and a slow stage (a build of the example plugin that sleeps on
 * each snippet), the consumer pauses partitions and resumes them, and loses nothing.
 */
#include "kafka/kafka.h"
#include "kafka_serve.h"
#include "worker/worker.h"

#include <librdkafka/rdkafka_mock.h>  /* after rdkafka.h (kafka_serve.h) */

/* Kafka protocol API keys (the protocol's numbers; librdkafka keeps its names in a private header). */
enum { API_PRODUCE = 0, API_FETCH = 1, API_JOIN_GROUP = 11, API_HEARTBEAT = 12 };

#define N_PHASE 150   /* valid records per phase, two phases */
#define GROUP "leadpoet"

static int32_t part_of(const char *domain) { return (int32_t)lp_partition_of(domain, strlen(domain), KS_SHARDS); }

static void produce_good(rd_kafka_t *rk, const char *prefix, int from, int to, long long ts) {
  char buf[512], domain[48];
  for (int i = from; i < to; i++) {
    snprintf(domain, sizeof(domain), "%s%d.com", prefix, i);
    snprintf(buf, sizeof(buf),
             "{\"id\":\"%s%d\",\"miner\":\"fm-%d\",\"ts\":%lld,\"lead\":{\"domain\":\"%s\"},\"kind\":\"news\","
             "\"text\":\"%s%d opened an office in town\"}",
             prefix, i, i % 4, ts - i, domain, prefix, i);
    ks_produce(rk, "miner.snippets", part_of(domain), domain, buf, strlen(buf), "application/json");
  }
}

/* /readyz: its status, and its error message copied to why. */
static int readyz(int port, char *why, size_t cap) {
  int st;
  json_t *j = ks_get_json(port, "/readyz", &st);
  const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
  snprintf(why, cap, "%s", m ? m : "");
  json_decref(j);
  return st;
}

static int wait_ready(int port, int timeout_ms) {
  char why[256];
  long long deadline = ks_now_ms() + timeout_ms;
  while (ks_now_ms() < deadline) {
    if (readyz(port, why, sizeof(why)) == 200) return 1;
    ks_sleep_ms(100);
  }
  return 0;
}

static double accepted(int port) { return ks_metric(port, "leadpoet_snippets_total{result=\"accepted\"}"); }

/* Reads miner.snippets.dlq until want distinct keys (of names[]) were seen; counts each key in seen[]. */
static void read_dlq(const char *boot, const char *const *names, int *seen, size_t n, int timeout_ms) {
  rd_kafka_t *dlq = ks_reader(boot, "miner.snippets.dlq");
  size_t found = 0;
  long long deadline = ks_now_ms() + timeout_ms, quiet_until = 0;
  while (ks_now_ms() < deadline && (found < n || ks_now_ms() < quiet_until)) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(dlq, 200);
    if (found == n && quiet_until == 0) quiet_until = ks_now_ms() + 1500;  /* a late duplicate would show */
    if (!m) continue;
    for (size_t i = 0; m->err == 0 && i < n; i++) {
      if (m->key_len == strlen(names[i]) && memcmp(m->key, names[i], m->key_len) == 0 && seen[i]++ == 0) found++;
    }
    rd_kafka_message_destroy(m);
  }
  ks_reader_close(dlq);
}

Test(kafka_faults, consumer_recovers_from_broker_errors_and_a_broker_down, .timeout = 300) {
  lp_kafka_mock *mock = NULL;
  char err[256];
  cr_assert_eq(lp_kafka_mock_new(KS_SHARDS, 3, &mock, err, sizeof(err)), LP_OK, "%s", err);
  rd_kafka_mock_cluster_t *mc = lp_kafka_mock_cluster(mock);
  /* The group's coordinator is broker 3, which is down: the group cannot form yet. */
  cr_assert_eq(rd_kafka_mock_coordinator_set(mc, "group", GROUP, 3), RD_KAFKA_RESP_ERR_NO_ERROR);
  cr_assert_eq(rd_kafka_mock_broker_set_down(mc, 3), RD_KAFKA_RESP_ERR_NO_ERROR);
  for (int p = 0; p < KS_SHARDS; p++) {
    rd_kafka_mock_partition_set_leader(mc, "miner.snippets", p, 1 + p % 2);  /* leaders on 1 and 2 */
    rd_kafka_mock_partition_set_leader(mc, "miner.snippets.dlq", p, 1 + p % 2);
  }
  char brokers[300];
  snprintf(brokers, sizeof(brokers), "KAFKA_BOOTSTRAP_BROKERS=%s", lp_kafka_mock_bootstraps(mock));
  const char *env[] = { "LEADPOET_SERVER_SHARDS=8", "LEADPOET_SERVER_WORKERS=2", brokers, KS_PROPS, NULL };
  lpt_server s;
  cr_assert_eq(lpt_server_start(&s, NULL, env), 0, "server starts");

  char why[256];
  cr_expect_eq(readyz(s.port, why, sizeof(why)), 503, "not ready while the coordinator is down");
  cr_expect(strstr(why, "assignment") != NULL, "the reason names the assignment: %s", why);

  /* Phase 1, produced while the coordinator is down: valid records and two bad ones. */
  rd_kafka_t *rk = ks_producer(lp_kafka_mock_bootstraps(mock));
  long long ts = ks_now_ms();
  produce_good(rk, "fa", 0, N_PHASE, ts);
  ks_produce(rk, "miner.snippets", 0, "bad-1", "{oops", 5, NULL);
  ks_produce(rk, "miner.snippets", 3, "bad-2", "\xc1", 1, "application/msgpack");
  ks_flush(rk);

  /* The group's first requests fail, then the coordinator comes up. */
  rd_kafka_mock_push_request_errors(mc, API_JOIN_GROUP, 2, RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
                                    RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE);
  rd_kafka_mock_push_request_errors(mc, API_FETCH, 3, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                    RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
  /* The dead letters' produce requests fail first (retried by the idempotent producer). */
  rd_kafka_mock_push_request_errors(mc, API_PRODUCE, 2, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
  cr_assert_eq(rd_kafka_mock_broker_set_up(mc, 3), RD_KAFKA_RESP_ERR_NO_ERROR);
  long long deadline = ks_now_ms() + 90000;
  while (accepted(s.port) < N_PHASE && ks_now_ms() < deadline) ks_sleep_ms(100);
  cr_assert_eq(accepted(s.port), N_PHASE, "phase 1 applied after the coordinator came up");
  cr_expect(wait_ready(s.port, 30000), "ready once assigned and caught up");

  /* Phase 2: heartbeats fail (the member rejoins), then broker 2 (leader of half the partitions) goes
   * down while the stream is consumed, and comes back. */
  rd_kafka_mock_push_request_errors(mc, API_HEARTBEAT, 2, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS,
                                    RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE);
  produce_good(rk, "fb", 0, N_PHASE, ts);
  ks_produce(rk, "miner.snippets", 5, "bad-3", "[1,2]", 5, NULL);
  ks_flush(rk);
  cr_assert_eq(rd_kafka_mock_broker_set_down(mc, 2), RD_KAFKA_RESP_ERR_NO_ERROR);
  ks_sleep_ms(2000);
  cr_assert_eq(rd_kafka_mock_broker_set_up(mc, 2), RD_KAFKA_RESP_ERR_NO_ERROR);
  deadline = ks_now_ms() + 90000;
  while (accepted(s.port) < 2 * N_PHASE && ks_now_ms() < deadline) ks_sleep_ms(100);
  cr_assert_eq(accepted(s.port), 2 * N_PHASE, "phase 2 applied after the broker came back");

  /* Exactly once: every lead has one snippet, no duplicate was seen, each bad record is in the DLQ once. */
  long wrong = 0;
  char domain[48];
  for (int i = 0; i < N_PHASE; i++) {
    snprintf(domain, sizeof(domain), "fa%d.com", i);
    wrong += ks_lead_snippets(s.port, domain) != 1;
    snprintf(domain, sizeof(domain), "fb%d.com", i);
    wrong += ks_lead_snippets(s.port, domain) != 1;
  }
  cr_expect_eq(wrong, 0, "%ld leads not applied exactly once", wrong);
  cr_expect_eq(ks_metric(s.port, "leadpoet_snippets_total{result=\"duplicate\"}"), 0);
  static const char *const bads[] = { "bad-1", "bad-2", "bad-3" };
  int seen[3] = { 0 };
  read_dlq(lp_kafka_mock_bootstraps(mock), bads, seen, 3, 60000);
  for (int i = 0; i < 3; i++) cr_expect_eq(seen[i], 1, "%s in the DLQ %d times", bads[i], seen[i]);
  /* The counter moves on the broker's acknowledgement, which can come after a reader already saw the copy. */
  const char *dlq_series = "leadpoet_kafka_dead_letters_total{topic=\"miner.snippets\"}";
  deadline = ks_now_ms() + 30000;
  while (ks_metric(s.port, dlq_series) < 3 && ks_now_ms() < deadline) ks_sleep_ms(100);
  cr_expect_eq(ks_metric(s.port, dlq_series), 3, "dead letters acknowledged: %.0f", ks_metric(s.port, dlq_series));
  cr_expect(wait_ready(s.port, 30000), "ready at the end");

  rd_kafka_destroy(rk);
  cr_assert_eq(lpt_server_stop(&s), 0, "clean exit");
  lp_kafka_mock_free(mock);
}

#define SLOW_PLUGIN LP_BUILD_DIR "/plugins/example/liblp_example_slow.so"
#define MAX_MEMORY (1536LL << 20)  /* the sanitizers' shadow memory included */
#define N_FLOOD 6000   /* > 16 full batches of 256: the ring fills however the records are grouped */

/* A worker slower than the reactor (1 ms per snippet) behind a ring of 16 messages: the consumer must
 * pause partitions (the ring is full) and resume them (it drained), and apply every record once. */
Test(kafka_faults, backpressure_pauses_and_resumes_without_loss, .timeout = 240) {
  const char *env[] = { "LEADPOET_SERVER_SHARDS=8", "LEADPOET_SERVER_WORKERS=1", "LEADPOET_SERVER_RING_CAPACITY=16",
                        "LEADPOET_SERVER_MAX_MEMORY=1536m",
                        "LEADPOET_KAFKA_MODE=embedded", "LEADPOET_STAGES_ORDER=ingest,blocklist",
                        "LEADPOET_STAGES_PLUGINS=" SLOW_PLUGIN, "LEADPOET_STAGE_THROTTLE_BURST=100000", KS_PROPS, NULL };
  lpt_server s;
  cr_assert_eq(lpt_server_start(&s, NULL, env), 0, "server starts");
  cr_expect(wait_ready(s.port, 30000), "ready (embedded: every partition assigned at start)");
  char boot[256] = "";
  ks_status(s.port, boot, sizeof(boot), NULL, 0);
  rd_kafka_t *rk = ks_producer(boot);
  produce_good(rk, "bpf", 0, N_FLOOD, ks_now_ms());
  ks_flush(rk);
  /* The producer wrote the flood in well under a second; the worker takes 1 ms a snippet: ten times its
   * capacity and more. Resident memory is sampled meanwhile. */
  long long deadline = ks_now_ms() + 180000;
  double rss_max = 0;
  while (accepted(s.port) < N_FLOOD && ks_now_ms() < deadline) {
    double rss = ks_metric(s.port, "process_resident_memory_bytes");
    if (rss > rss_max) rss_max = rss;
    ks_sleep_ms(200);
  }
  cr_assert_eq(accepted(s.port), N_FLOOD, "every record applied");
  cr_expect(rss_max > 0 && rss_max < (double)MAX_MEMORY, "resident memory %.0f stays under server.max_memory", rss_max);
  cr_expect_gt(ks_metric(s.port, "leadpoet_kafka_backpressure_pauses_total"), 0, "partitions were paused");
  deadline = ks_now_ms() + 10000;
  while (ks_metric(s.port, "leadpoet_kafka_paused_partitions") != 0 && ks_now_ms() < deadline) ks_sleep_ms(100);
  cr_expect_eq(ks_metric(s.port, "leadpoet_kafka_paused_partitions"), 0, "and resumed");
  long wrong = 0;
  char domain[48];
  for (int i = 0; i < N_FLOOD; i += 29) {
    snprintf(domain, sizeof(domain), "bpf%d.com", i);
    wrong += ks_lead_snippets(s.port, domain) != 1;
  }
  cr_expect_eq(wrong, 0, "%ld sampled leads not applied exactly once", wrong);
  cr_expect_eq(ks_metric(s.port, "leadpoet_snippets_total{result=\"duplicate\"}"), 0);
  rd_kafka_destroy(rk);
  cr_assert_eq(lpt_server_stop(&s), 0, "clean exit");
}
