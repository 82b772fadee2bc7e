#include "worker/worker.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "metrics/metrics.h"
#include "ring/ring.h"

struct lp_worker {
  lp_workers *ws;
  uint32_t index;
  uv_thread_t thread;
  uv_loop_t loop;
  uv_async_t wake;          /* reactor -> worker: messages in `in` */
  uv_idle_t more;           /* runs while `in` still holds messages after a turn */
  uv_timer_t tick;
  lp_ring in;
  lp_ring out;
  lp_msg *out_head, *out_tail;  /* worker side: returns that did not fit `out` (cannot happen while the
                                   reactor respects ring capacity; kept as a safety net, never a drop) */
  void *data;
  int start_rc;
  atomic_int started;       /* 1 ok, -1 failed */
  atomic_int stopping;
  int loop_ready;            /* loop and its three handles initialised */
  /* reactor side */
  lp_msg *pend_head, *pend_tail;
  size_t pending;
  size_t in_flight;
};

struct lp_workers {
  uv_loop_t *reactor;
  lp_workers_conf conf;
  lp_workers_hooks hooks;
  lp_worker *w;
  uv_async_t ret;           /* worker -> reactor: messages in some `out` */
  uv_mutex_t start_mu;
  uv_cond_t start_cv;
  int stopping;
  uint32_t stopped;
  void (*stop_done)(void *);
  void *stop_arg;
  int handles_open;
};

uint64_t lp_domain_hash(const char *domain, size_t len) { return XXH3_64bits(domain, len); }

uint32_t lp_murmur2(const void *key, size_t len) {
  const uint32_t seed = 0x9747b28cu, m = 0x5bd1e995u;
  const int r = 24;
  const unsigned char *p = key;
  uint32_t h = seed ^ (uint32_t)len;
  for (; len >= 4; p += 4, len -= 4) {
    uint32_t k = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  switch (len) {
  case 3: h ^= (uint32_t)p[2] << 16; /* fall through */
  case 2: h ^= (uint32_t)p[1] << 8;  /* fall through */
  case 1: h ^= (uint32_t)p[0]; h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return h;
}

/* ---- wake-ups ------------------------------------------------------------------------------------- */

/* Wakes the consumer of a ring after a push. Every push is followed by this, never by a bare
 * uv_async_send: libuv's uv_async_send (Debian 12's 1.44 among others) starts with a plain, unfenced load
 * of the handle's pending flag and returns at once when it is set. Without a full fence that load may be
 * done before the push's store of the ring's head is visible (x86 lets a load pass an earlier store;
 * weaker CPUs reorder more), while the consumer thread, woken by an earlier send, resets the flag and
 * drains the ring: it finds the ring empty, this send returns without a wake-up, and the message waits in
 * the ring until something unrelated wakes that loop (seen as a query stalled for minutes on an idle
 * server). With the fence, either the load sees the flag already reset (and this send wakes the loop
 * again) or the store was visible before the reset, so the drain that follows the reset finds the
 * message. The consumer side pairs with it in consumer_fence. */
static void ring_wake(uv_async_t *a) {
  atomic_thread_fence(memory_order_seq_cst);
  uv_async_send(a);
}

/* The consumer's half of ring_wake: called at the top of an async callback, before the rings are read, so
 * that (with libuv's reset of the pending flag before the callback) every push whose send found the flag
 * still set is visible to the pops that follow. */
static void consumer_fence(void) { atomic_thread_fence(memory_order_seq_cst); }

/* ---- worker thread -------------------------------------------------------------------------------- */

static void worker_return(lp_worker *w, lp_msg *m) {
  if (w->out_head == NULL && lp_ring_push(&w->out, m) == LP_OK) {
    ring_wake(&w->ws->ret);
    return;
  }
  m->next = NULL;
  if (w->out_tail) w->out_tail->next = m;
  else w->out_head = m;
  w->out_tail = m;
}

static void worker_flush_returns(lp_worker *w) {
  int pushed = 0;
  while (w->out_head != NULL && lp_ring_push(&w->out, w->out_head) == LP_OK) {
    w->out_head = w->out_head->next;
    if (w->out_head == NULL) w->out_tail = NULL;
    pushed = 1;
  }
  if (pushed) ring_wake(&w->ws->ret);
}

/* One turn: at most `budget` messages, then give the loop back (timers, the tick) before going on. */
static void on_more(uv_idle_t *h);

static void worker_turn(lp_worker *w) {
  worker_flush_returns(w);
  uint32_t budget = w->ws->conf.budget;
  for (uint32_t i = 0; i < budget; i++) {
    lp_msg *m = lp_ring_pop(&w->in);
    if (m == NULL) break;
    if (m->run) m->run(w, m);
    worker_return(w, m);
  }
  if (lp_ring_size(&w->in) > 0 || w->out_head != NULL) {
    if (!uv_is_active((uv_handle_t *)&w->more)) uv_idle_start(&w->more, on_more);
  } else if (uv_is_active((uv_handle_t *)&w->more)) {
    uv_idle_stop(&w->more);
  }
  if (atomic_load(&w->stopping) && lp_ring_size(&w->in) == 0 && w->out_head == NULL) uv_stop(&w->loop);
}

static void on_wake(uv_async_t *a) {
  consumer_fence();
  worker_turn(a->data);
}
static void on_more(uv_idle_t *h) { worker_turn(h->data); }

static void close_cb(uv_handle_t *h) { (void)h; }

static void worker_main(void *arg) {
  lp_worker *w = arg;
  char name[16];
  snprintf(name, sizeof(name), "worker-%u", w->index);
  lp_log_set_thread(name);
  lp_metrics_thread_register();
  int rc = w->ws->hooks.thread_start ? w->ws->hooks.thread_start(w, w->ws->hooks.ud) : 0;
  uv_mutex_lock(&w->ws->start_mu);
  w->start_rc = rc;
  atomic_store(&w->started, rc == 0 ? 1 : -1);
  uv_cond_broadcast(&w->ws->start_cv);
  uv_mutex_unlock(&w->ws->start_mu);
  if (rc == 0) {
    uv_run(&w->loop, UV_RUN_DEFAULT);
    if (w->ws->hooks.thread_stop) w->ws->hooks.thread_stop(w, w->ws->hooks.ud);
  }
  uv_close((uv_handle_t *)&w->wake, close_cb);
  uv_close((uv_handle_t *)&w->more, close_cb);
  uv_close((uv_handle_t *)&w->tick, close_cb);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  uv_loop_close(&w->loop);
}

static void on_tick(uv_timer_t *t) {
  lp_worker *w = t->data;
  if (w->ws->hooks.tick) w->ws->hooks.tick(w, lp_now_ms(), w->ws->hooks.ud);
}

/* ---- reactor side --------------------------------------------------------------------------------- */

static void pend_push(lp_worker *w, lp_msg *m) {
  m->next = NULL;
  if (w->pend_tail) w->pend_tail->next = m;
  else w->pend_head = m;
  w->pend_tail = m;
  w->pending++;
}

/* Pushes pending messages while the worker has room; returns 1 if anything was pushed. */
static int flush_pending(lp_worker *w, uint32_t cap) {
  int pushed = 0;
  while (w->pend_head != NULL && w->in_flight < cap) {
    lp_msg *m = w->pend_head;
    if (lp_ring_push(&w->in, m) != LP_OK) break;
    w->pend_head = m->next;
    if (w->pend_head == NULL) w->pend_tail = NULL;
    w->pending--;
    w->in_flight++;
    pushed = 1;
  }
  return pushed;
}

void lp_workers_send(lp_workers *ws, uint32_t i, lp_msg *m) {
  lp_worker *w = &ws->w[i % ws->conf.workers];
  m->worker = w->index;
  pend_push(w, m);
  if (flush_pending(w, ws->conf.ring_capacity)) ring_wake(&w->wake);
}

void lp_workers_send_shard(lp_workers *ws, uint32_t shard, lp_msg *m) {
  lp_workers_send(ws, lp_workers_owner(shard, ws->conf.workers), m);
}

static void maybe_finish_stop(lp_workers *ws);

static void on_returns(uv_async_t *a) {
  lp_workers *ws = a->data;
  consumer_fence();
  for (uint32_t i = 0; i < ws->conf.workers; i++) {
    lp_worker *w = &ws->w[i];
    lp_msg *m;
    while ((m = lp_ring_pop(&w->out)) != NULL) {
      w->in_flight--;
      if (m->done) m->done(m);
      else lp_free(m);
    }
    if (flush_pending(w, ws->conf.ring_capacity)) ring_wake(&w->wake);
  }
  if (ws->stopping) maybe_finish_stop(ws);
}

uint32_t lp_workers_count(const lp_workers *ws) { return ws->conf.workers; }
uint32_t lp_workers_shards(const lp_workers *ws) { return ws->conf.shards; }

size_t lp_workers_backlog(const lp_workers *ws) {
  size_t n = 0;
  for (uint32_t i = 0; i < ws->conf.workers; i++) n += ws->w[i].pending;
  return n;
}

size_t lp_workers_backlog_of(const lp_workers *ws, uint32_t i) {
  return i < ws->conf.workers ? ws->w[i].pending + ws->w[i].in_flight : 0;
}

size_t lp_workers_in_flight(const lp_workers *ws) {
  size_t n = 0;
  for (uint32_t i = 0; i < ws->conf.workers; i++) n += ws->w[i].in_flight + ws->w[i].pending;
  return n;
}

static int worker_init(lp_workers *ws, uint32_t i, char *errstr, size_t errstr_size) {
  lp_worker *w = &ws->w[i];
  w->ws = ws;
  w->index = i;
  if (lp_ring_init(&w->in, ws->conf.ring_capacity) != LP_OK ||
      lp_ring_init(&w->out, ws->conf.ring_capacity) != LP_OK) {
    snprintf(errstr, errstr_size, "worker %u: cannot allocate rings of %u", i, ws->conf.ring_capacity);
    return LP_ENOMEM;
  }
  int rc = uv_loop_init(&w->loop);
  if (rc == 0) rc = uv_async_init(&w->loop, &w->wake, on_wake);
  if (rc == 0) rc = uv_idle_init(&w->loop, &w->more);
  if (rc == 0) rc = uv_timer_init(&w->loop, &w->tick);
  if (rc != 0) {
    snprintf(errstr, errstr_size, "worker %u: %s", i, uv_strerror(rc));
    return LP_EIO;
  }
  w->loop_ready = 1;
  w->wake.data = w;
  w->more.data = w;
  w->tick.data = w;
  if (ws->conf.tick_interval_ms > 0)
    uv_timer_start(&w->tick, on_tick, ws->conf.tick_interval_ms, ws->conf.tick_interval_ms);
  return LP_OK;
}

int lp_workers_start(lp_workers **out, uv_loop_t *reactor, const lp_workers_conf *conf,
                     const lp_workers_hooks *hooks, char *errstr, size_t errstr_size) {
  *out = NULL;
  if (conf->workers < 1 || conf->shards < 1 || (conf->shards & (conf->shards - 1)) != 0 ||
      conf->ring_capacity < 2 || (conf->ring_capacity & (conf->ring_capacity - 1)) != 0) {
    snprintf(errstr, errstr_size, "workers: need >= 1 worker, shards and ring capacity powers of two");
    return LP_EINVAL;
  }
  lp_workers *ws = lp_calloc(1, sizeof(*ws));
  if (ws == NULL) return LP_ENOMEM;
  ws->reactor = reactor;
  ws->conf = *conf;
  if (ws->conf.budget == 0) ws->conf.budget = 64;
  if (hooks) ws->hooks = *hooks;
  ws->w = lp_calloc(conf->workers, sizeof(lp_worker));
  uv_mutex_init(&ws->start_mu);
  uv_cond_init(&ws->start_cv);
  uv_async_init(reactor, &ws->ret, on_returns);
  ws->ret.data = ws;
  ws->handles_open = 1;
  int rc = LP_OK;
  uint32_t launched = 0;
  for (uint32_t i = 0; i < conf->workers && rc == LP_OK; i++) {
    rc = worker_init(ws, i, errstr, errstr_size);
    if (rc == LP_OK && uv_thread_create(&ws->w[i].thread, worker_main, &ws->w[i]) != 0) {
      snprintf(errstr, errstr_size, "worker %u: cannot create thread", i);
      rc = LP_EIO;
    }
    if (rc == LP_OK) launched++;
  }
  /* Wait for every launched thread to have run thread_start. */
  uv_mutex_lock(&ws->start_mu);
  for (uint32_t i = 0; i < launched; i++)
    while (atomic_load(&ws->w[i].started) == 0) uv_cond_wait(&ws->start_cv, &ws->start_mu);
  uv_mutex_unlock(&ws->start_mu);
  for (uint32_t i = 0; i < launched && rc == LP_OK; i++) {
    if (atomic_load(&ws->w[i].started) < 0) {
      snprintf(errstr, errstr_size, "worker %u failed to start its shards", i);
      rc = LP_ESTATE;
    }
  }
  if (rc != LP_OK) {
    for (uint32_t i = 0; i < launched; i++) {
      if (atomic_load(&ws->w[i].started) > 0) {
        atomic_store(&ws->w[i].stopping, 1);
        ring_wake(&ws->w[i].wake);
      }
      uv_thread_join(&ws->w[i].thread);
    }
    /* Workers that were initialised but never launched still own a loop and handles. */
    for (uint32_t i = launched; i < conf->workers; i++) {
      lp_worker *w = &ws->w[i];
      if (!w->loop_ready) continue;
      uv_close((uv_handle_t *)&w->wake, NULL);
      uv_close((uv_handle_t *)&w->more, NULL);
      uv_close((uv_handle_t *)&w->tick, NULL);
      uv_run(&w->loop, UV_RUN_DEFAULT);
      uv_loop_close(&w->loop);
    }
    ws->stopped = conf->workers;
    /* The reactor-side async handle must be closed through the loop before its memory goes. */
    uv_close((uv_handle_t *)&ws->ret, NULL);
    uv_run(reactor, UV_RUN_NOWAIT);
    ws->handles_open = 0;
    lp_workers_free(ws);
    return rc;
  }
  *out = ws;
  return LP_OK;
}

static void ret_closed(uv_handle_t *h) {
  lp_workers *ws = h->data;
  ws->handles_open = 0;
  if (ws->stop_done) ws->stop_done(ws->stop_arg);
}

/* Stop is done once every worker drained its ring and left its loop; the reactor then joins them. */
static void maybe_finish_stop(lp_workers *ws) {
  if (ws->stopped == ws->conf.workers) return;
  for (uint32_t i = 0; i < ws->conf.workers; i++) {
    lp_worker *w = &ws->w[i];
    if (w->pending > 0 || w->in_flight > 0) return;
  }
  for (uint32_t i = 0; i < ws->conf.workers; i++) {
    lp_worker *w = &ws->w[i];
    if (!atomic_exchange(&w->stopping, 1)) ring_wake(&w->wake);
  }
  for (uint32_t i = 0; i < ws->conf.workers; i++) uv_thread_join(&ws->w[i].thread);
  ws->stopped = ws->conf.workers;
  uv_close((uv_handle_t *)&ws->ret, ret_closed);
}

void lp_workers_stop(lp_workers *ws, void (*done)(void *arg), void *arg) {
  ws->stopping = 1;
  ws->stop_done = done;
  ws->stop_arg = arg;
  maybe_finish_stop(ws);
}

void lp_workers_free(lp_workers *ws) {
  if (ws == NULL) return;
  for (uint32_t i = 0; i < ws->conf.workers; i++) {
    lp_ring_destroy(&ws->w[i].in);
    lp_ring_destroy(&ws->w[i].out);
  }
  uv_mutex_destroy(&ws->start_mu);
  uv_cond_destroy(&ws->start_cv);
  lp_free(ws->w);
  lp_free(ws);
}

uint32_t lp_worker_index(const lp_worker *w) { return w->index; }
uv_loop_t *lp_worker_loop(lp_worker *w) { return &w->loop; }
void lp_worker_set_data(lp_worker *w, void *data) { w->data = data; }
void *lp_worker_data(const lp_worker *w) { return w->data; }
const lp_workers_conf *lp_worker_conf(const lp_worker *w) { return &w->ws->conf; }
