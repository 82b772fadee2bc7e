/* lp_kafka_consumer_seek over the embedded mock cluster: a held (paused) partition sought past the records
 * its restored state holds resumes there and never delivers what is below; a flowing partition sought back
 * delivers again from the offset; the errors (bad index or offset, a partition not owned). */
#include "kafka_fixture.h"

typedef struct world {
  uv_loop_t loop;
  lp_kafka_mock *mock;
  kt_prod prod;
  kt_consumer cons;
  int32_t hold;     /* >= 0: records of this snippets partition are refused (held), as for a restore */
  long held;
} world;

static int on_record(void *ud, const lp_kafka_record *r) {
  world *w = ud;
  if (r->topic_idx == 0 && r->partition == w->hold) {
    w->held++;
    return LP_EAGAIN;
  }
  return kt_on_record(&w->cons, r);
}

static long want;
static int got(void *a) { return ((world *)a)->cons.records >= want; }
static int produced(void *a) { return ((world *)a)->prod.ok + ((world *)a)->prod.failed >= want; }

static void world_open(world *w) {
  memset(w, 0, sizeof(*w));
  uv_loop_init(&w->loop);
  char err[512];
  cr_assert_eq(lp_kafka_mock_new(KT_SHARDS, 1, &w->mock, err, sizeof(err)), 0, "%s", err);
  kt_prod_open(&w->prod, &w->loop, lp_kafka_mock_bootstraps(w->mock));
  kt_produce_range(&w->prod, &w->loop, LP_KAFKA_TOPIC_SNIPPETS, 0, 10 * KT_SHARDS);
  want = 10 * KT_SHARDS;
  cr_assert(kt_run_until(&w->loop, produced, w, 30000));
  cr_assert_eq(w->prod.ok, 10 * KT_SHARDS);
  kt_consumer_init(&w->cons);
  w->hold = -1;
  lp_kafka_conf conf = kt_conf(lp_kafka_mock_bootstraps(w->mock), 1);
  lp_kafka_handlers h = { on_record, NULL, NULL, NULL, w };
  cr_assert_eq(lp_kafka_consumer_new(&w->loop, &conf, &h, &w->cons.c, err, sizeof(err)), 0, "%s", err);
}

static void world_close(world *w) {
  kt_consumer_close(&w->cons, &w->loop);
  kt_prod_close(&w->prod, &w->loop);
  cr_assert_eq(uv_loop_close(&w->loop), 0, "every handle closed");
  lp_kafka_mock_free(w->mock);
}

/* Record number of snippets partition p, offset o (kt_produce_range puts record i at partition i % 64). */
static int rec(int p, int o) { return p + KT_SHARDS * o; }

Test(kafka_seek, a_held_partition_resumes_at_the_sought_offset) {
  world w;
  world_open(&w);
  cr_assert_eq(lp_kafka_consumer_seek(w.cons.c, 0, 3, 5), LP_ESTATE, "not owned before the assignment");
  char err[512];
  w.hold = 3;
  cr_assert_eq(lp_kafka_consumer_start(w.cons.c, err, sizeof(err)), 0, "%s", err);
  want = 10 * (KT_SHARDS - 1);
  cr_assert(kt_run_until(&w.loop, got, &w, 30000), "got %ld", w.cons.records);
  cr_assert_geq(w.held, 1, "the held partition's first record was refused");
  cr_assert(lp_kafka_consumer_paused(w.cons.c, 0, 3));

  /* Restored up to offset 6: seek to 7, then let the partition flow. */
  cr_assert_eq(lp_kafka_consumer_mark_applied(w.cons.c, 0, 3, 6), 0);
  cr_assert_eq(lp_kafka_consumer_seek(w.cons.c, 0, 3, 7), 0);
  w.hold = -1;
  cr_assert_eq(lp_kafka_consumer_resume(w.cons.c, 0, 3), 0);
  want = 10 * (KT_SHARDS - 1) + 3;
  cr_assert(kt_run_until(&w.loop, got, &w, 30000), "got %ld", w.cons.records);
  want = 1000000;  /* a quiet spell: nothing more may arrive */
  kt_run_until(&w.loop, got, &w, 300);
  cr_assert_eq(w.cons.records, 10 * (KT_SHARDS - 1) + 3);
  cr_assert_eq(w.cons.first_offset[0][3], 7, "the partition starts at the sought offset");
  int wrong = 0;
  for (int o = 0; o < 10; o++) wrong += w.cons.seen[rec(3, o)] != (o >= 7);
  cr_assert_eq(wrong, 0, "offsets 0..6 never delivered, 7..9 once");
  cr_assert_eq(w.cons.backwards, 0);
  cr_assert_eq(lp_kafka_consumer_applied(w.cons.c, 0, 3), 9);
  world_close(&w);
}

Test(kafka_seek, a_flowing_partition_sought_back_delivers_again) {
  world w;
  world_open(&w);
  char err[512];
  cr_assert_eq(lp_kafka_consumer_start(w.cons.c, err, sizeof(err)), 0, "%s", err);
  want = 10 * KT_SHARDS;
  cr_assert(kt_run_until(&w.loop, got, &w, 30000), "got %ld", w.cons.records);
  cr_assert_eq(lp_kafka_consumer_seek(w.cons.c, 0, 5, 8), 0);
  want = 10 * KT_SHARDS + 2;
  cr_assert(kt_run_until(&w.loop, got, &w, 30000), "got %ld", w.cons.records);
  want = 1000000;
  kt_run_until(&w.loop, got, &w, 300);
  cr_assert_eq(w.cons.records, 10 * KT_SHARDS + 2);
  cr_assert_eq(w.cons.seen[rec(5, 7)], 1);
  cr_assert_eq(w.cons.seen[rec(5, 8)], 2);
  cr_assert_eq(w.cons.seen[rec(5, 9)], 2);
  world_close(&w);
}

Test(kafka_seek, refuses_a_bad_partition_or_offset) {
  world w;
  world_open(&w);
  char err[512];
  cr_assert_eq(lp_kafka_consumer_start(w.cons.c, err, sizeof(err)), 0, "%s", err);
  want = 10 * KT_SHARDS;
  cr_assert(kt_run_until(&w.loop, got, &w, 30000), "got %ld", w.cons.records);
  cr_assert_eq(lp_kafka_consumer_seek(w.cons.c, 0, KT_SHARDS, 1), LP_ERANGE);
  cr_assert_eq(lp_kafka_consumer_seek(w.cons.c, 0, -1, 1), LP_ERANGE);
  cr_assert_eq(lp_kafka_consumer_seek(w.cons.c, 2, 0, 1), LP_ERANGE);
  cr_assert_eq(lp_kafka_consumer_seek(w.cons.c, 0, 0, -2), LP_ERANGE);
  cr_assert_eq(lp_kafka_consumer_seek(w.cons.c, 0, 0, 10), 0, "the end of the log is a valid position");
  want = 1000000;
  kt_run_until(&w.loop, got, &w, 300);
  cr_assert_eq(w.cons.records, 10 * KT_SHARDS, "nothing past the end");
  world_close(&w);
}
