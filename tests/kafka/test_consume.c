/* The consumer and producer on one loop over the embedded mock cluster: every record once, offsets per
 * partition, start offsets, pause and resume, the partition-count check, configuration errors. */
#include "kafka_fixture.h"

typedef struct world {
  uv_loop_t loop;
  lp_kafka_mock *mock;
  kt_prod prod;
  kt_consumer cons;
} world;

static void world_open(world *w) {
  memset(w, 0, sizeof(*w));
  uv_loop_init(&w->loop);
  char err[512];
  cr_assert_eq(lp_kafka_mock_new(KT_SHARDS, 1, &w->mock, err, sizeof(err)), 0, "%s", err);
  kt_prod_open(&w->prod, &w->loop, lp_kafka_mock_bootstraps(w->mock));
}

static void world_close(world *w) {
  if (w->cons.c) kt_consumer_close(&w->cons, &w->loop);
  kt_prod_close(&w->prod, &w->loop);
  cr_assert_eq(uv_loop_close(&w->loop), 0, "every handle closed");
  lp_kafka_mock_free(w->mock);
}

static long want_records;
static int got_all(void *a) { return ((kt_consumer *)a)->records >= want_records; }
static int delivered_all(void *a) {
  kt_prod *kp = a;
  return kp->ok + kp->failed >= want_records;
}

Test(kafka_consume, every_record_once_with_offsets_per_partition) {
  world w;
  world_open(&w);
  kt_produce_range(&w.prod, &w.loop, LP_KAFKA_TOPIC_SNIPPETS, 0, 5000);
  kt_produce_range(&w.prod, &w.loop, LP_KAFKA_TOPIC_OUTCOMES, 5000, 128);
  want_records = 5128;
  cr_assert(kt_run_until(&w.loop, delivered_all, &w.prod, 30000));
  cr_assert_eq(w.prod.ok, 5128);
  kt_consumer_open(&w.cons, &w.loop, lp_kafka_mock_bootstraps(w.mock));
  cr_assert(kt_run_until(&w.loop, got_all, &w.cons, 30000), "got %ld of 5128", w.cons.records);
  want_records = 1000000;  /* a quiet spell: nothing more may arrive */
  kt_run_until(&w.loop, got_all, &w.cons, 300);
  cr_assert_eq(w.cons.records, 5128);
  cr_assert_eq(w.cons.foreign, 0);
  cr_assert_eq(kt_not_once(&w.cons, NULL, 5128), 0);
  cr_assert_eq(w.cons.backwards, 0);
  int off_wrong = 0;
  for (int p = 0; p < KT_SHARDS; p++) {
    int64_t n = 5000 / KT_SHARDS + (p < 5000 % KT_SHARDS);
    off_wrong += lp_kafka_consumer_applied(w.cons.c, 0, p) != n - 1;
    off_wrong += lp_kafka_consumer_applied(w.cons.c, 1, p) != 1;
    off_wrong += !lp_kafka_consumer_owns(w.cons.c, 0, p);
  }
  cr_assert_eq(off_wrong, 0, "applied offsets are the last offset of every partition");
  cr_assert_eq(lp_kafka_consumer_delivered(w.cons.c), 5128);
  cr_assert_eq(w.cons.assigned, 2 * KT_SHARDS);
  world_close(&w);
  cr_assert_eq(w.cons.revoked, 2 * KT_SHARDS, "closing revokes every partition");
}

Test(kafka_consume, starts_each_partition_at_the_given_offset) {
  world w;
  world_open(&w);
  kt_produce_range(&w.prod, &w.loop, LP_KAFKA_TOPIC_SNIPPETS, 0, 10 * KT_SHARDS);
  want_records = 10 * KT_SHARDS;
  cr_assert(kt_run_until(&w.loop, delivered_all, &w.prod, 30000));
  kt_consumer_init(&w.cons);
  w.cons.start_at = 7;
  lp_kafka_conf conf = kt_conf(lp_kafka_mock_bootstraps(w.mock), 1);
  lp_kafka_handlers h = { kt_on_record, kt_on_assign, kt_on_revoke, NULL, &w.cons };
  char err[512];
  cr_assert_eq(lp_kafka_consumer_new(&w.loop, &conf, &h, &w.cons.c, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(lp_kafka_consumer_start(w.cons.c, err, sizeof(err)), 0, "%s", err);
  want_records = 3 * KT_SHARDS;
  cr_assert(kt_run_until(&w.loop, got_all, &w.cons, 30000));
  want_records = 1000000;
  kt_run_until(&w.loop, got_all, &w.cons, 300);
  cr_assert_eq(w.cons.records, 3 * KT_SHARDS);
  int starts = 0;
  for (int p = 0; p < KT_SHARDS; p++) starts += w.cons.first_offset[0][p] == 7 && w.cons.last_offset[0][p] == 9;
  cr_assert_eq(starts, KT_SHARDS, "every partition starts at 7");
  int wrong = 0;
  for (int i = 0; i < 10 * KT_SHARDS; i++) wrong += w.cons.seen[i] != (i >= 7 * KT_SHARDS ? 1 : 0);
  cr_assert_eq(wrong, 0, "records before offset 7 are not delivered, the others once");
  world_close(&w);
}

static int all_but_paused(void *a) { return ((kt_consumer *)a)->records >= want_records; }

Test(kafka_consume, pause_stops_a_partition_and_resume_restarts_it) {
  world w;
  world_open(&w);
  kt_produce_range(&w.prod, &w.loop, LP_KAFKA_TOPIC_SNIPPETS, 0, 10 * KT_SHARDS);
  kt_consumer_init(&w.cons);
  lp_kafka_conf conf = kt_conf(lp_kafka_mock_bootstraps(w.mock), 1);
  lp_kafka_handlers h = { kt_on_record, kt_on_assign, kt_on_revoke, NULL, &w.cons };
  char err[512];
  cr_assert_eq(lp_kafka_consumer_new(&w.loop, &conf, &h, &w.cons.c, err, sizeof(err)), 0, "%s", err);
  /* Paused before it is owned: takes effect on assignment. */
  cr_assert_eq(lp_kafka_consumer_pause(w.cons.c, 0, 3), 0);
  cr_assert_eq(lp_kafka_consumer_pause(w.cons.c, 0, 3), 0, "idempotent");
  cr_assert_eq(lp_kafka_consumer_pause(w.cons.c, 0, KT_SHARDS), LP_ERANGE);
  cr_assert_eq(lp_kafka_consumer_pause(w.cons.c, 2, 0), LP_ERANGE);
  cr_assert_eq(lp_kafka_consumer_resume(w.cons.c, -1, 0), LP_ERANGE);
  cr_assert_eq(lp_kafka_consumer_start(w.cons.c, err, sizeof(err)), 0, "%s", err);
  want_records = 10 * (KT_SHARDS - 1);
  cr_assert(kt_run_until(&w.loop, all_but_paused, &w.cons, 30000));
  want_records = 1000000;
  kt_run_until(&w.loop, got_all, &w.cons, 500);
  cr_assert_eq(w.cons.records, 10 * (KT_SHARDS - 1), "nothing from the paused partition");
  cr_assert_eq(w.cons.last_offset[0][3], -1);
  cr_assert(lp_kafka_consumer_paused(w.cons.c, 0, 3));
  cr_assert_eq(lp_kafka_consumer_resume(w.cons.c, 0, 3), 0);
  cr_assert_not(lp_kafka_consumer_paused(w.cons.c, 0, 3));
  want_records = 10 * KT_SHARDS;
  cr_assert(kt_run_until(&w.loop, got_all, &w.cons, 30000));

  /* A handler that cannot take a record (full ring): the partition pauses and the record comes back first
   * after resume, exactly once. */
  w.cons.refuse = 1;
  kt_produce_range(&w.prod, &w.loop, LP_KAFKA_TOPIC_SNIPPETS, 10 * KT_SHARDS, KT_SHARDS);
  want_records = 11 * KT_SHARDS - 1;
  cr_assert(kt_run_until(&w.loop, got_all, &w.cons, 30000));
  want_records = 1000000;
  kt_run_until(&w.loop, got_all, &w.cons, 300);
  cr_assert_eq(w.cons.refused, 1);
  cr_assert_eq(w.cons.records, 11 * KT_SHARDS - 1);
  int32_t rp = w.cons.refused_partition;
  cr_assert(lp_kafka_consumer_paused(w.cons.c, 0, rp));
  cr_assert_eq(lp_kafka_consumer_resume(w.cons.c, 0, rp), 0);
  want_records = 11 * KT_SHARDS;
  cr_assert(kt_run_until(&w.loop, got_all, &w.cons, 30000));
  cr_assert_eq(kt_not_once(&w.cons, NULL, 11 * KT_SHARDS), 0);
  world_close(&w);
}

Test(kafka_consume, refuses_a_topic_with_the_wrong_partition_count) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  lp_kafka_mock *mock;
  char err[512];
  cr_assert_eq(lp_kafka_mock_new(KT_SHARDS, 1, &mock, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(lp_kafka_mock_topic(mock, "miner.snippets.small", 12, err, sizeof(err)), 0, "%s", err);
  const char *topics[] = { "miner.snippets.small" };
  lp_kafka_conf conf = kt_conf(lp_kafka_mock_bootstraps(mock), 1);
  conf.topics = topics;
  conf.ntopics = 1;
  kt_consumer k;
  kt_consumer_init(&k);
  lp_kafka_handlers h = { kt_on_record, NULL, NULL, NULL, &k };
  cr_assert_eq(lp_kafka_consumer_new(&loop, &conf, &h, &k.c, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(lp_kafka_consumer_start(k.c, err, sizeof(err)), LP_ECONFIG);
  cr_assert_str_eq(err, "topic miner.snippets.small has 12 partitions, leadpoet needs 64 (server.shards)");
  lp_kafka_consumer_close(k.c, kt_consumer_closed, &k);
  cr_assert(k.closed);

  topics[0] = "no.such.topic";
  cr_assert_eq(lp_kafka_consumer_new(&loop, &conf, &h, &k.c, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(lp_kafka_consumer_start(k.c, err, sizeof(err)), LP_ECONFIG);
  cr_assert(strstr(err, "topic no.such.topic does not exist") != NULL, "%s", err);
  k.closed = 0;
  lp_kafka_consumer_close(k.c, kt_consumer_closed, &k);
  cr_assert(k.closed);
  cr_assert_eq(uv_loop_close(&loop), 0);
  lp_kafka_mock_free(mock);
}

Test(kafka_consume, configuration_errors) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  char err[512];
  lp_kafka_mock *mock;
  cr_assert_eq(lp_kafka_mock_new(0, 1, &mock, err, sizeof(err)), LP_EINVAL);
  cr_assert_eq(lp_kafka_mock_new(4, 17, &mock, err, sizeof(err)), LP_EINVAL);
  lp_kafka_producer *p;
  lp_kafka_conf conf = { .shards = 4 };
  cr_assert_eq(lp_kafka_producer_new(&loop, &conf, &p, err, sizeof(err)), LP_EINVAL);
  conf.brokers = "127.0.0.1:1";
  const char *bad[] = { "no-equals-sign" };
  conf.props = bad;
  conf.nprops = 1;
  cr_assert_eq(lp_kafka_producer_new(&loop, &conf, &p, err, sizeof(err)), LP_ECONFIG);
  cr_assert(strstr(err, "expected key=value") != NULL, "%s", err);
  const char *unknown[] = { "no.such.property=1" };
  conf.props = unknown;
  cr_assert_eq(lp_kafka_producer_new(&loop, &conf, &p, err, sizeof(err)), LP_ECONFIG);
  cr_assert(strstr(err, "kafka property no.such.property") != NULL, "%s", err);
  kt_consumer k;
  kt_consumer_init(&k);
  lp_kafka_handlers none = { NULL, NULL, NULL, NULL, NULL };
  conf.nprops = 0;
  cr_assert_eq(lp_kafka_consumer_new(&loop, &conf, &none, &k.c, err, sizeof(err)), LP_EINVAL);
  lp_kafka_handlers h = { kt_on_record, NULL, NULL, NULL, &k };
  conf.props = unknown;
  conf.nprops = 1;
  cr_assert_eq(lp_kafka_consumer_new(&loop, &conf, &h, &k.c, err, sizeof(err)), LP_ECONFIG);
  conf.nprops = 0;
  cr_assert_eq(lp_kafka_consumer_new(&loop, &conf, &h, &k.c, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(lp_kafka_consumer_mark_applied(k.c, 0, 4, 1), LP_ERANGE);
  cr_assert_eq(lp_kafka_consumer_mark_applied(k.c, 0, 3, 10), 0);
  cr_assert_eq(lp_kafka_consumer_mark_applied(k.c, 0, 3, 5), 0, "an older report is ignored");
  cr_assert_eq(lp_kafka_consumer_applied(k.c, 0, 3), 10);
  cr_assert_eq(lp_kafka_consumer_applied(k.c, 1, 3), LP_KAFKA_OFFSET_NONE);
  cr_assert_eq(lp_kafka_topic_index(&conf, "outcome.events"), 1);
  cr_assert_eq(lp_kafka_topic_index(&conf, "other"), -1);
  lp_kafka_consumer_close(k.c, kt_consumer_closed, &k);
  cr_assert(k.closed);
  cr_assert_eq(uv_loop_close(&loop), 0);
}
