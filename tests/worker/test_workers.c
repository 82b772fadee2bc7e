#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <uv.h>

#include "base/alloc.h"
#include "worker/worker.h"

#define SHARDS 8
#define MSGS 20000

/* Per-worker state: counts per shard, touched only by the owning worker (no atomics on purpose: ASan and
 * the ownership check below catch a message run on the wrong thread). */
typedef struct wstate {
  uint64_t per_shard[SHARDS];
  pthread_t tid;
} wstate;

static wstate g_state[4];
static int g_started, g_stopped;
static atomic_int g_ticks;

typedef struct tmsg {
  lp_msg msg;
  uint32_t shard;
  uint32_t ran_on;
  pthread_t ran_tid;
} tmsg;

static size_t g_done;
static int g_wrong_owner;

static int t_start(lp_worker *w, void *ud) {
  (void)ud;
  wstate *st = &g_state[lp_worker_index(w)];
  memset(st, 0, sizeof(*st));
  st->tid = pthread_self();
  lp_worker_set_data(w, st);
  __atomic_add_fetch(&g_started, 1, __ATOMIC_SEQ_CST);
  return 0;
}

static void t_stop(lp_worker *w, void *ud) {
  (void)w;
  (void)ud;
  __atomic_add_fetch(&g_stopped, 1, __ATOMIC_SEQ_CST);
}

static void t_tick(lp_worker *w, int64_t now, void *ud) {
  (void)w;
  (void)ud;
  cr_assert_gt(now, 0);
  atomic_fetch_add(&g_ticks, 1);
}

static void t_run(lp_worker *w, lp_msg *m) {
  tmsg *t = (tmsg *)m;
  wstate *st = lp_worker_data(w);
  st->per_shard[t->shard]++;
  t->ran_on = lp_worker_index(w);
  t->ran_tid = pthread_self();
}

static void t_done(lp_msg *m) {
  tmsg *t = (tmsg *)m;
  uint32_t workers = 3;
  if (t->ran_on != lp_workers_owner(t->shard, workers) || !pthread_equal(t->ran_tid, g_state[t->ran_on].tid))
    g_wrong_owner++;
  g_done++;
  lp_free(t);
}

static int g_stop_called;
static void stopped(void *arg) {
  (void)arg;
  g_stop_called = 1;
}

static void send_all(uv_idle_t *h) {
  lp_workers *ws = h->data;
  for (uint32_t i = 0; i < MSGS; i++) {
    tmsg *t = lp_calloc(1, sizeof(*t));
    t->msg.run = t_run;
    t->msg.done = t_done;
    t->shard = i % SHARDS;
    lp_workers_send_shard(ws, t->shard, &t->msg);
  }
  /* A small ring: most of these wait in the reactor-side backlog, in order. */
  cr_assert_gt(lp_workers_backlog(ws), 0);
  lp_workers_stop(ws, stopped, NULL);
  uv_idle_stop(h);
  uv_close((uv_handle_t *)h, NULL);
}

Test(workers, every_message_runs_once_on_its_owner_and_stop_drains, .timeout = 120) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  lp_workers_conf conf = { 3, SHARDS, 16, 8, 5 };
  lp_workers_hooks hooks = { t_start, t_stop, t_tick, NULL };
  lp_workers *ws = NULL;
  char err[256];
  cr_assert_eq(lp_workers_start(&ws, &loop, &conf, &hooks, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(g_started, 3);
  uv_idle_t idle;
  uv_idle_init(&loop, &idle);
  idle.data = ws;
  uv_idle_start(&idle, send_all);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert(g_stop_called, "stop completes once everything sent has come back");
  cr_assert_eq(g_done, MSGS, "every message comes back exactly once");
  cr_assert_eq(g_wrong_owner, 0, "every message ran on the worker owning its shard");
  cr_assert_eq(g_stopped, 3);
  uint64_t total = 0;
  for (int w = 0; w < 3; w++)
    for (int s = 0; s < SHARDS; s++) {
      if (g_state[w].per_shard[s]) cr_assert_eq((uint32_t)s % 3, (uint32_t)w);
      total += g_state[w].per_shard[s];
    }
  cr_assert_eq(total, MSGS);
  lp_workers_free(ws);
  cr_assert_eq(uv_loop_close(&loop), 0, "no handle left open");
}

Test(workers, refuses_bad_conf) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  lp_workers *ws = NULL;
  char err[256] = "";
  lp_workers_conf bad_shards = { 2, 6, 16, 8, 0 };
  cr_assert_eq(lp_workers_start(&ws, &loop, &bad_shards, NULL, err, sizeof(err)), LP_EINVAL);
  cr_assert(strlen(err) > 0);
  lp_workers_conf bad_ring = { 2, 8, 10, 8, 0 };
  cr_assert_eq(lp_workers_start(&ws, &loop, &bad_ring, NULL, err, sizeof(err)), LP_EINVAL);
  lp_workers_conf no_workers = { 0, 8, 16, 8, 0 };
  cr_assert_eq(lp_workers_start(&ws, &loop, &no_workers, NULL, err, sizeof(err)), LP_EINVAL);
  cr_assert_null(ws);
  cr_assert_eq(uv_loop_close(&loop), 0);
}

static int fail_start(lp_worker *w, void *ud) {
  (void)ud;
  return lp_worker_index(w) == 1 ? LP_ENOMEM : 0;
}

Test(workers, a_worker_that_fails_to_start_fails_the_start_cleanly) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  lp_workers *ws = NULL;
  char err[256] = "";
  lp_workers_conf conf = { 2, 8, 16, 8, 0 };
  lp_workers_hooks hooks = { fail_start, NULL, NULL, NULL };
  cr_assert_neq(lp_workers_start(&ws, &loop, &conf, &hooks, err, sizeof(err)), LP_OK);
  cr_assert(strstr(err, "worker 1") != NULL, "%s", err);
  cr_assert_null(ws);
  cr_assert_eq(uv_loop_close(&loop), 0, "no handle left open");
}

Test(workers, routing_is_stable_and_spreads) {
  /* The table hash of a domain never changes: saved lead tables depend on it. */
  uint64_t h = lp_domain_hash("acme.com", 8);
  cr_assert_eq(h, lp_domain_hash("acme.com", 8));
  cr_assert_neq(h, lp_domain_hash("acme.co", 7));
  cr_assert_eq(h, UINT64_C(0xb92a4138011e6dee), "XXH3-64(\"acme.com\") changed: saved lead tables would not load");
  /* The shard is the Kafka partition: the same in every process (tests/worker/test_partition.c pins it). */
  cr_assert_eq(lp_partition_of("acme.com", 8, 64), lp_partition_of("acme.com", 8, 64));
  unsigned counts[64] = { 0 };
  char d[32];
  for (int i = 0; i < 64000; i++) {
    int n = snprintf(d, sizeof(d), "company%d.com", i);
    counts[lp_partition_of(d, (size_t)n, 64)]++;
  }
  for (int s = 0; s < 64; s++) cr_assert(counts[s] > 800 && counts[s] < 1200, "shard %d has %u of 64000", s, counts[s]);
}
