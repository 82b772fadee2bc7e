/*
 * test_wake.c: no message is ever stranded in a ring without a wake-up.
 *
 * The reactor scatters one message to every worker, as a query does, and waits for all of them to come
 * back before the next round; the workers answer at the same moment, so their uv_async_send on the
 * reactor's handle races with the reactor running its callback. libuv 1.44's uv_async_send first reads the
 * handle's pending flag with a plain load and returns when it is set: unless the caller fences between its
 * ring push and that load, the load can pass the push (x86 lets a load overtake an earlier store), the
 * reactor resets the flag and finds the ring empty, and the message waits for an unrelated wake-up (the
 * "query stalled until another request came" bug). A watchdog counts a round that made no progress for a
 * generous time as a stall (then rescues it with one more message per worker, so that the run ends).
 *
 * The race is in the CPU, so the test catches it by chance: on a loaded 2-core EPYC VM, without the fence
 * (core/worker/worker.c ring_wake), about one run in two to four stranded a message; with it, none did.
 */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <uv.h>

#include "base/alloc.h"
#include "worker/worker.h"

#define WORKERS 4       /* more than the cores of a small machine: returns overlap in every order */
#define ROUNDS_MIN 30000  /* rounds always run; then more until MIN_RUN_MS passed, at most ROUNDS_MAX */
#define ROUNDS_MAX 200000
#define MIN_RUN_MS 5000   /* a fast idle machine gets as many chances to lose a wake-up as a slow one */
#define STALL_MS 2000  /* a round normally takes microseconds: this only detects a hang */

typedef struct wake_test {
  lp_workers *ws;
  uv_timer_t watchdog;
  uv_idle_t kick;
  uv_idle_t hot;         /* keeps the reactor polling without sleeping: it runs its callbacks at once */
  uint32_t round;
  uint64_t start_ms;     /* uv_now at the first round */
  uint32_t outstanding;  /* messages of the current round not yet back */
  uint32_t rescue;       /* rescue messages not yet back */
  uint32_t stalls;
  uint64_t progress;     /* messages back so far: the watchdog looks for change */
  uint64_t seen;
  int stop_called;
} wake_test;

typedef struct wmsg {
  lp_msg msg;
  wake_test *t;
  int rescue;
  uint32_t seed;         /* varies the work and the lines it writes */
  volatile uint32_t sink;
} wmsg;

/* Lines that every worker writes to, so that each write has to take the line from another core: at
 * the return, the ring's store then waits behind them in the store buffer, as it does behind the stores of
 * a real query's results, which widens the window in which a bare uv_async_send loses its wake-up. */
#define SCRIBBLE_LINES 4096
static _Alignas(64) _Atomic uint32_t g_scribble[SCRIBBLE_LINES * 16];

/* A little work of varying length, then stores to cache lines another worker owns. */
static void w_run(lp_worker *w, lp_msg *m) {
  wmsg *x = (wmsg *)m;
  uint32_t seed = x->seed * 2654435761u + lp_worker_index(w) * 40503u;
  for (uint32_t i = 0; i < (seed >> 26); i++) x->sink += i;
  for (uint32_t i = 0; i < 48; i++) {
    seed = seed * 1664525u + 1013904223u;
    atomic_store_explicit(&g_scribble[(seed >> 20) % SCRIBBLE_LINES * 16], i, memory_order_relaxed);
  }
}

static void on_hot(uv_idle_t *h) { (void)h; }

static void send_round(wake_test *t);

static void stopped(void *arg) { ((wake_test *)arg)->stop_called = 1; }

static void finish(wake_test *t) {
  uv_timer_stop(&t->watchdog);
  uv_close((uv_handle_t *)&t->watchdog, NULL);
  uv_close((uv_handle_t *)&t->kick, NULL);
  uv_idle_stop(&t->hot);
  uv_close((uv_handle_t *)&t->hot, NULL);
  lp_workers_stop(t->ws, stopped, t);
}

static void on_kick(uv_idle_t *h) {
  wake_test *t = h->data;
  uv_idle_stop(h);
  uint64_t ran = uv_now(h->loop) - t->start_ms;
  if (t->round >= ROUNDS_MAX || (t->round >= ROUNDS_MIN && ran >= MIN_RUN_MS)) finish(t);
  else send_round(t);
}

static void w_done(lp_msg *m) {
  wmsg *x = (wmsg *)m;
  wake_test *t = x->t;
  t->progress++;
  if (x->rescue) t->rescue--;
  else t->outstanding--;
  lp_free(x);
  /* The next round starts from an idle callback, not from inside on_returns: every round's messages are
   * then pushed while the reactor is outside the async callback, as an HTTP request's are. */
  if (t->outstanding == 0 && t->rescue == 0) uv_idle_start(&t->kick, on_kick);
}

static void send_one(wake_test *t, uint32_t worker, int rescue) {
  wmsg *x = lp_calloc(1, sizeof(*x));
  cr_assert_not_null(x);
  x->msg.run = w_run;
  x->msg.done = w_done;
  x->t = t;
  x->rescue = rescue;
  x->seed = t->round * 8u + worker;
  if (rescue) t->rescue++;
  else t->outstanding++;
  lp_workers_send(t->ws, worker, &x->msg);
}

static void send_round(wake_test *t) {
  t->round++;
  for (uint32_t w = 0; w < WORKERS; w++) send_one(t, w, 0);
}

/* No progress for STALL_MS with messages out: a lost wake-up. One message per worker wakes every ring
 * again, so the stranded ones come back and the run goes on (and the test can stop cleanly). */
static void on_watchdog(uv_timer_t *h) {
  wake_test *t = h->data;
  if (t->progress != t->seen || (t->outstanding == 0 && t->rescue == 0)) {
    t->seen = t->progress;
    return;
  }
  t->stalls++;
  cr_log_warn("round %u stalled: %u message(s) not back after %d ms", t->round, t->outstanding, STALL_MS);
  for (uint32_t w = 0; w < WORKERS; w++) send_one(t, w, 1);
}

Test(worker_wake, scatter_rounds_never_strand_a_message, .timeout = 300) {
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  wake_test t;
  memset(&t, 0, sizeof(t));
  lp_workers_conf conf = { WORKERS, 2, 16, 8, 0 };
  char err[256] = "";
  cr_assert_eq(lp_workers_start(&t.ws, &loop, &conf, NULL, err, sizeof(err)), LP_OK, "%s", err);
  uv_timer_init(&loop, &t.watchdog);
  t.watchdog.data = &t;
  uv_timer_start(&t.watchdog, on_watchdog, STALL_MS, STALL_MS);
  uv_idle_init(&loop, &t.kick);
  t.kick.data = &t;
  uv_idle_init(&loop, &t.hot);
  uv_idle_start(&t.hot, on_hot);
  t.start_ms = uv_now(&loop);
  send_round(&t);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert(t.stop_called, "stop completes once every message came back");
  cr_assert_geq(t.round, ROUNDS_MIN);
  cr_assert_eq(t.outstanding, 0);
  cr_assert_eq(t.stalls, 0, "%u of %u rounds waited for a wake-up that never came", t.stalls, t.round);
  lp_workers_free(t.ws);
  cr_assert_eq(uv_loop_close(&loop), 0, "no handle left open");
}

/* The reactor -> worker direction: a burst pushed from inside the reactor's own callback while the
 * worker is busy answering the previous one (its wake flag is set and about to be reset). */
typedef struct burst_test {
  lp_workers *ws;
  uv_timer_t watchdog;
  uint32_t sent, back, stalls;
  uint64_t seen;
  int stop_called;
} burst_test;

#define BURSTS 5000

static void b_run(lp_worker *w, lp_msg *m) {
  (void)w;
  (void)m;
}

static void b_send(burst_test *t);

static void b_stopped(void *arg) { ((burst_test *)arg)->stop_called = 1; }

static void b_done(lp_msg *m) {
  burst_test *t = *(burst_test **)(m + 1);
  t->back++;
  lp_free(m);
  if (t->sent < BURSTS) b_send(t);  /* from inside on_returns: the next one races with the worker's turn */
  else if (t->back == t->sent) {
    uv_timer_stop(&t->watchdog);
    uv_close((uv_handle_t *)&t->watchdog, NULL);
    lp_workers_stop(t->ws, b_stopped, t);
  }
}

static void b_send(burst_test *t) {
  lp_msg *m = lp_calloc(1, sizeof(lp_msg) + sizeof(burst_test *));
  cr_assert_not_null(m);
  m->run = b_run;
  m->done = b_done;
  *(burst_test **)(m + 1) = t;
  t->sent++;
  lp_workers_send(t->ws, t->sent % WORKERS, m);
}

static void b_watchdog(uv_timer_t *h) {
  burst_test *t = h->data;
  if (t->back != t->seen || t->back == t->sent) {
    t->seen = t->back;
    return;
  }
  t->stalls++;
  cr_log_warn("%u message(s) not back after %d ms", t->sent - t->back, STALL_MS);
  for (uint32_t w = 0; w < WORKERS; w++) b_send(t);  /* wakes both rings: the stranded ones come back */
}

Test(worker_wake, pushes_from_the_return_callback_never_strand_a_message, .timeout = 300) {
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  burst_test t;
  memset(&t, 0, sizeof(t));
  lp_workers_conf conf = { WORKERS, 2, 16, 8, 0 };
  char err[256] = "";
  cr_assert_eq(lp_workers_start(&t.ws, &loop, &conf, NULL, err, sizeof(err)), LP_OK, "%s", err);
  uv_timer_init(&loop, &t.watchdog);
  t.watchdog.data = &t;
  uv_timer_start(&t.watchdog, b_watchdog, STALL_MS, STALL_MS);
  for (uint32_t i = 0; i < 4 * WORKERS; i++) b_send(&t);  /* a few in flight per worker */
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert(t.stop_called, "stop completes once every message came back");
  cr_assert_eq(t.back, t.sent);
  cr_assert_eq(t.stalls, 0, "%u time(s) a message waited for a wake-up that never came", t.stalls);
  lp_workers_free(t.ws);
  cr_assert_eq(uv_loop_close(&loop), 0, "no handle left open");
}
