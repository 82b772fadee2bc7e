/* Failures and groups on the mock cluster: injected Produce and Fetch errors, a broker down and up, two
 * consumers of one group splitting the partitions and handing them over on close. */
#include "kafka_fixture.h"

static long want;
static int got_want(void *a) { return ((kt_consumer *)a)->records >= want; }
static int acked_want(void *a) { return ((kt_prod *)a)->ok + ((kt_prod *)a)->failed >= want; }

typedef struct until_ms { uint64_t t; } until_ms;
static int time_passed(void *a) { return lp_mono_ns() >= ((until_ms *)a)->t; }
static void run_for(uv_loop_t *loop, int ms) {
  until_ms u = { lp_mono_ns() + (uint64_t)ms * 1000000u };
  kt_run_until(loop, time_passed, &u, ms + 1000);
}

Test(kafka_cluster, recovers_from_injected_errors_and_a_broker_down) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  lp_kafka_mock *mock;
  char err[512];
  cr_assert_eq(lp_kafka_mock_new(KT_SHARDS, 3, &mock, err, sizeof(err)), 0, "%s", err);
  rd_kafka_mock_cluster_t *mc = lp_kafka_mock_cluster(mock);
  kt_prod kp;
  kt_prod_open(&kp, &loop, lp_kafka_mock_bootstraps(mock));
  kt_consumer k;
  kt_consumer_open(&k, &loop, lp_kafka_mock_bootstraps(mock));

  rd_kafka_mock_push_request_errors(mc, 0 /* Produce */, 4, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                    RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE);
  rd_kafka_mock_push_request_errors(mc, 1 /* Fetch */, 3, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                    RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
  kt_produce_range(&kp, &loop, LP_KAFKA_TOPIC_SNIPPETS, 0, 1000);
  want = 500;
  cr_assert(kt_run_until(&loop, got_want, &k, 20000), "got %ld", k.records);
  cr_assert_eq(rd_kafka_mock_broker_set_down(mc, 2), 0);
  kt_produce_range(&kp, &loop, LP_KAFKA_TOPIC_SNIPPETS, 1000, 1000);
  run_for(&loop, 1500);
  cr_assert_eq(rd_kafka_mock_broker_set_up(mc, 2), 0);
  want = 2000;
  cr_assert(kt_run_until(&loop, acked_want, &kp, 30000), "acked %ld failed %ld", kp.ok, kp.failed);
  cr_assert_eq(kp.failed, 0);
  cr_assert(kt_run_until(&loop, got_want, &k, 30000), "got %ld", k.records);
  want = 1000000;
  kt_run_until(&loop, got_want, &k, 300);
  cr_assert_eq(kt_not_once(&k, NULL, 2000), 0);
  cr_assert_eq(k.backwards, 0);
  cr_assert_eq(k.records, 2000);
  kt_consumer_close(&k, &loop);
  kt_prod_close(&kp, &loop);
  cr_assert_eq(uv_loop_close(&loop), 0);
  lp_kafka_mock_free(mock);
}

static int owned(const kt_consumer *k) {
  int n = 0;
  for (int t = 0; t < 2; t++)
    for (int p = 0; p < KT_SHARDS; p++) n += lp_kafka_consumer_owns(k->c, t, p);
  return n;
}

typedef struct pair { kt_consumer *a, *b; long want; } pair;
static int split(void *x) {
  pair *p = x;
  int oa = owned(p->a), ob = owned(p->b);
  return oa > 0 && ob > 0 && oa + ob == 2 * KT_SHARDS;
}
static int pair_got(void *x) {
  pair *p = x;
  return p->a->records + p->b->records >= p->want;
}
static int a_owns_all(void *x) { return owned(((pair *)x)->a) == 2 * KT_SHARDS; }

Test(kafka_cluster, two_consumers_split_the_partitions_and_hand_over) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  lp_kafka_mock *mock;
  char err[512];
  cr_assert_eq(lp_kafka_mock_new(KT_SHARDS, 1, &mock, err, sizeof(err)), 0, "%s", err);
  static kt_consumer a, b;
  kt_prod kp;
  kt_prod_open(&kp, &loop, lp_kafka_mock_bootstraps(mock));
  /* The shared checkpoint (Redis in the server): the new owner of a partition resumes after the last
   * record its previous owner applied. */
  static int64_t ckpt[2][KT_SHARDS];
  for (int t = 0; t < 2; t++)
    for (int p = 0; p < KT_SHARDS; p++) ckpt[t][p] = -1;
  kt_consumer_open(&a, &loop, lp_kafka_mock_bootstraps(mock));
  a.ckpt = ckpt;
  kt_consumer_open(&b, &loop, lp_kafka_mock_bootstraps(mock));
  b.ckpt = ckpt;
  pair pr = { &a, &b, 0 };
  cr_assert(kt_run_until(&loop, split, &pr, 20000), "a owns %d, b owns %d", owned(&a), owned(&b));
  int one_owner = 0;
  for (int t = 0; t < 2; t++)
    for (int p = 0; p < KT_SHARDS; p++) one_owner += lp_kafka_consumer_owns(a.c, t, p) != lp_kafka_consumer_owns(b.c, t, p);
  cr_assert_eq(one_owner, 2 * KT_SHARDS, "every partition has exactly one owner");
  kt_produce_range(&kp, &loop, LP_KAFKA_TOPIC_SNIPPETS, 0, 1280);
  pr.want = 1280;
  cr_assert(kt_run_until(&loop, pair_got, &pr, 20000), "got %ld + %ld", a.records, b.records);
  cr_assert(a.records > 0 && b.records > 0);
  int b_assigned = b.assigned;
  cr_assert(b_assigned > 0);

  /* Closing b hands its partitions to a: b's revocation and a's assignment both fire. */
  int a_assign_calls = a.assign_calls;
  kt_consumer_close(&b, &loop);
  cr_assert(b.revoked >= b_assigned - (b.assigned - b_assigned), "b revoked what it owned");
  cr_assert(kt_run_until(&loop, a_owns_all, &pr, 20000), "a owns %d", owned(&a));
  cr_assert(a.assign_calls > a_assign_calls);
  kt_produce_range(&kp, &loop, LP_KAFKA_TOPIC_SNIPPETS, 1280, 640);
  pr.want = 1920;
  cr_assert(kt_run_until(&loop, pair_got, &pr, 20000), "got %ld + %ld", a.records, b.records);
  want = 1000000;
  kt_run_until(&loop, got_want, &a, 300);
  cr_assert_eq(kt_not_once(&a, &b, 1920), 0);
  kt_consumer_close(&a, &loop);
  kt_prod_close(&kp, &loop);
  cr_assert_eq(uv_loop_close(&loop), 0);
  lp_kafka_mock_free(mock);
}
