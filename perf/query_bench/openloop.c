/*
 * openloop.c: the load engine of openloop.h. One uv loop on the caller's thread; each connection carries
 * one request at a time; open loop keeps a queue of scheduled times that idle connections take from, in
 * order. A timerfd armed at the next scheduled time (absolute, CLOCK_MONOTONIC, the clock of lp_mono_ns)
 * wakes the loop exactly when a request is due.
 */
#include "openloop.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <llhttp.h>
#include <uv.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "leadpoet/common.h"

#define OL_RETRY_MS 50      /* delay before reconnecting a failed connection */
#define OL_READ_BUF 65536

enum { CONN_CLOSED, CONN_CONNECTING, CONN_IDLE, CONN_BUSY, CONN_CLOSING };

typedef struct ol_run ol_run;

typedef struct ol_conn {
  uv_tcp_t tcp;
  uv_connect_t creq;
  uv_write_t wreq;
  uv_timer_t retry;
  uv_timer_t deadline;        /* the request in flight's time-out (request_timeout_s > 0) */
  llhttp_t parser;
  ol_run *run;
  int state;
  int done, status, keep;     /* set by on_message_complete */
  int recorded;               /* the request in flight was scheduled in the measured window */
  int first;                  /* the initial connect has not been answered yet */
  uint64_t sched_ns;
  char buf[OL_READ_BUF];
} ol_conn;

struct ol_run {
  uv_loop_t loop;
  const lp_ol_config *c;
  lp_ol_result *r;
  llhttp_settings_t settings;
  struct sockaddr_in addr;
  ol_conn *conns;
  unsigned *idle;             /* stack of idle connection indices */
  unsigned nidle;
  uv_poll_t tick;
  int tfd;
  uv_timer_t drain;
  uint64_t t0, t_rec, t_end;  /* start, start of the measured window, end of scheduling */
  uint64_t next_i;            /* index of the next request to schedule (open loop) */
  uint64_t *queue;            /* scheduled times not yet sent */
  size_t qhead, qtail, qcap;
  uint64_t req_i;             /* next request of c->reqs to send */
  unsigned pending_connects;  /* initial connects without an answer yet */
  uint64_t in_flight;
  uint64_t last_done_ns;
  int started, stopping, closing;
  int unreachable;            /* no initial connect succeeded: the run ends at once */
};

static void conn_connect(ol_conn *k);
static void conn_fail(ol_conn *k, int count_error);
static void run_check_done(ol_run *run);
static void run_stop(ol_run *run);

void lp_ol_config_default(lp_ol_config *c) {
  memset(c, 0, sizeof *c);
  c->host = "127.0.0.1";
  c->connections = 16;
  c->qps = 250;
  c->duration_s = 10;
  c->drain_s = 10;
}

uint64_t lp_ol_ok(const lp_ol_result *r) {
  uint64_t n = 0;
  for (int s = 200; s < 300; s++) n += r->by_status[s];
  return n;
}

static uint64_t sched_time(const ol_run *run, uint64_t i) {
  return run->t0 + (uint64_t)((double)i * 1e9 / run->c->qps);
}

static void conn_send(ol_conn *k, uint64_t sched_ns);
static void deadline_cb(uv_timer_t *t);

/* Open loop: hands queued scheduled times to idle connections, oldest first. */
static void run_dispatch(ol_run *run) {
  while (run->qhead < run->qtail && run->nidle > 0) {
    ol_conn *k = &run->conns[run->idle[--run->nidle]];
    conn_send(k, run->queue[run->qhead++]);
  }
}

static void write_cb(uv_write_t *w, int status);

/* The request in flight on k got no whole answer within request_timeout_s: the server stalled on it (or
 * on its connection). Reported with what identifies it, then the connection is dropped like a failed one. */
static void deadline_cb(uv_timer_t *t) {
  ol_conn *k = t->data;
  ol_run *run = k->run;
  if (k->state != CONN_BUSY) return;
  run->r->timeouts++;
  fprintf(stderr, "openloop: no answer after %.3f s on connection %u (request sent %.3f s into the run%s); "
          "dropping the connection\n", run->c->request_timeout_s, (unsigned)(k - run->conns),
          (double)(k->sched_ns - run->t0) / 1e9, k->recorded ? "" : ", warm-up");
  conn_fail(k, 1);
}

/* Sends the next request on idle connection k, scheduled at sched_ns. */
static void conn_send(ol_conn *k, uint64_t sched_ns) {
  ol_run *run = k->run;
  const lp_ol_request *rq = &run->c->reqs[run->req_i++ % run->c->nreqs];
  uint64_t now = lp_mono_ns();
  k->sched_ns = sched_ns;
  k->recorded = sched_ns >= run->t_rec;
  k->done = 0;
  if (k->recorded && run->c->qps > 0) lp_hist_record(&run->r->send_lag, now > sched_ns ? now - sched_ns : 0);
  k->state = CONN_BUSY;
  run->in_flight++;
  if (run->c->request_timeout_s > 0)
    uv_timer_start(&k->deadline, deadline_cb, (uint64_t)ceil(run->c->request_timeout_s * 1000.0), 0);
  uv_buf_t b = uv_buf_init((char *)rq->data, (unsigned)rq->len);
  if (uv_write(&k->wreq, (uv_stream_t *)&k->tcp, &b, 1, write_cb) != 0) conn_fail(k, 1);
}

/* Closed loop: the requests that ended, answered or timed out (a stalled server still ends the run). */
static uint64_t closed_ended(const ol_run *run) { return run->r->completed + run->r->timeouts; }

/* Closed loop: the connection sends its next request now, unless the run is over. */
static void closed_next(ol_conn *k) {
  ol_run *run = k->run;
  if (run->stopping || run->closing) return;
  uint64_t now = lp_mono_ns();
  if (now >= run->t_end || (run->c->max_requests && closed_ended(run) >= run->c->max_requests)) {
    run_stop(run);
    return;
  }
  conn_send(k, now);
}

static void conn_idle(ol_conn *k) {
  ol_run *run = k->run;
  k->state = CONN_IDLE;
  if (run->c->qps > 0) {
    run->idle[run->nidle++] = (unsigned)(k - run->conns);
    run_dispatch(run);
  } else {
    closed_next(k);
  }
}

static void retry_cb(uv_timer_t *t) { conn_connect(t->data); }

static void close_cb(uv_handle_t *h) {
  ol_conn *k = h->data;
  k->state = CONN_CLOSED;
  if (!k->run->closing) uv_timer_start(&k->retry, retry_cb, OL_RETRY_MS, 0);
}

/* The connection failed (error, reset, early close, bad response): the request in flight is lost, the
 * connection is closed and reopened after a short delay. */
static void conn_fail(ol_conn *k, int count_error) {
  ol_run *run = k->run;
  uv_timer_stop(&k->deadline);
  if (k->state == CONN_BUSY) {
    run->in_flight--;
    if (k->recorded) run->r->lost++;
    count_error = 1;
  }
  if (count_error) run->r->socket_errors++;
  if (k->state == CONN_IDLE) {
    for (unsigned i = 0; i < run->nidle; i++)
      if (run->idle[i] == (unsigned)(k - run->conns)) {
        run->idle[i] = run->idle[--run->nidle];
        break;
      }
  }
  k->state = CONN_CLOSING;
  uv_close((uv_handle_t *)&k->tcp, close_cb);
  run_check_done(run);
}

static void write_cb(uv_write_t *w, int status) {
  ol_conn *k = w->data;
  if (status < 0 && status != UV_ECANCELED && k->state == CONN_BUSY) conn_fail(k, 1);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  ol_conn *k = h->data;
  *b = uv_buf_init(k->buf, sizeof k->buf);
}

/* A whole response arrived on k: record it and make the connection available again. */
static void conn_complete(ol_conn *k) {
  ol_run *run = k->run;
  uint64_t now = lp_mono_ns();
  uv_timer_stop(&k->deadline);
  run->in_flight--;
  if (k->recorded) {
    lp_ol_result *r = run->r;
    lp_hist_record(&r->latency, now > k->sched_ns ? now - k->sched_ns : 0);
    r->completed++;
    if (k->status >= 100 && k->status < LP_OL_MAX_STATUS) r->by_status[k->status]++;
    else r->socket_errors++;
    run->last_done_ns = now;
  }
  if (!k->keep) {
    k->state = CONN_IDLE;
    conn_fail(k, 0);
    return;
  }
  conn_idle(k);
  run_check_done(run);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
  ol_conn *k = s->data;
  if (k->state == CONN_CLOSING || k->state == CONN_CLOSED) return;
  if (nread == 0) return;
  if (nread < 0) {
    conn_fail(k, k->state == CONN_BUSY);
    return;
  }
  if (k->state != CONN_BUSY) {   /* bytes nobody asked for */
    conn_fail(k, 1);
    return;
  }
  llhttp_errno_t e = llhttp_execute(&k->parser, b->base, (size_t)nread);
  if (e != HPE_OK) {
    conn_fail(k, 1);
    return;
  }
  if (k->done) conn_complete(k);
}

static int on_complete(llhttp_t *p) {
  ol_conn *k = p->data;
  k->done = 1;
  k->status = llhttp_get_status_code(p);
  k->keep = llhttp_should_keep_alive(p);
  return 0;
}

static void run_start(ol_run *run);

static void connect_cb(uv_connect_t *req, int status) {
  ol_conn *k = req->data;
  ol_run *run = k->run;
  int initial = k->first;
  if (initial) {
    k->first = 0;
    run->pending_connects--;
  }
  if (run->closing) return;
  if (status < 0) {
    run->r->connect_errors++;
    k->state = CONN_CLOSING;
    uv_close((uv_handle_t *)&k->tcp, close_cb);
  } else {
    run->r->connects++;
    uv_tcp_nodelay(&k->tcp, 1);
    llhttp_init(&k->parser, HTTP_RESPONSE, &run->settings);
    k->parser.data = k;
    uv_read_start((uv_stream_t *)&k->tcp, alloc_cb, read_cb);
    if (run->started) conn_idle(k);
    else k->state = CONN_IDLE;
  }
  if (initial && run->pending_connects == 0) run_start(run);
}

static void conn_connect(ol_conn *k) {
  ol_run *run = k->run;
  if (run->closing) return;
  uv_tcp_init(&run->loop, &k->tcp);
  k->tcp.data = k;
  k->creq.data = k;
  k->wreq.data = k;
  k->state = CONN_CONNECTING;
  int rc = uv_tcp_connect(&k->creq, &k->tcp, (const struct sockaddr *)&run->addr, connect_cb);
  if (rc != 0) {
    int initial = k->first;
    if (initial) {
      k->first = 0;
      run->pending_connects--;
    }
    run->r->connect_errors++;
    k->state = CONN_CLOSING;
    uv_close((uv_handle_t *)&k->tcp, close_cb);
    if (initial && run->pending_connects == 0) run_start(run);
  }
}

static void arm_timerfd(ol_run *run, uint64_t at_ns) {
  struct itimerspec its;
  memset(&its, 0, sizeof its);
  its.it_value.tv_sec = (time_t)(at_ns / 1000000000u);
  its.it_value.tv_nsec = (long)(at_ns % 1000000000u);
  if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) its.it_value.tv_nsec = 1;
  timerfd_settime(run->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void drain_cb(uv_timer_t *t);

/* Scheduling is over: wait for the answers in flight, at most drain_s. */
static void run_stop(ol_run *run) {
  if (run->stopping) return;
  run->stopping = 1;
  uv_poll_stop(&run->tick);
  uv_timer_start(&run->drain, drain_cb, (uint64_t)ceil(run->c->drain_s * 1000.0), 0);
  run_check_done(run);
}

static void tick_cb(uv_poll_t *p, int status, int events) {
  ol_run *run = p->data;
  uint64_t expirations;
  ssize_t got = read(run->tfd, &expirations, sizeof expirations);
  (void)got;   /* EAGAIN after a spurious wake-up is harmless: the schedule below is computed from the clock */
  if (run->c->qps == 0) {   /* closed loop: the timer marks the end of the window */
    run_stop(run);
    return;
  }
  uint64_t now = lp_mono_ns();
  uint64_t t;
  while ((t = sched_time(run, run->next_i)) <= now && t < run->t_end && run->qtail < run->qcap) {
    run->queue[run->qtail++] = t;
    if (t >= run->t_rec) run->r->scheduled++;
    run->next_i++;
  }
  run_dispatch(run);
  if (t >= run->t_end || run->qtail >= run->qcap) run_stop(run);
  else arm_timerfd(run, t);
}

/* Every initial connect answered: the schedule starts now. */
static void run_finish(ol_run *run);

static void run_start(ol_run *run) {
  run->started = 1;
  if (run->r->connects == 0) {
    run->unreachable = 1;
    run->stopping = 1;
    run_finish(run);
    return;
  }
  run->t0 = lp_mono_ns();
  run->t_rec = run->t0 + (uint64_t)(run->c->warmup_s * 1e9);
  run->t_end = run->t_rec + (uint64_t)(run->c->duration_s * 1e9);
  if (run->c->qps > 0) {
    for (unsigned i = 0; i < run->c->connections; i++)
      if (run->conns[i].state == CONN_IDLE) run->idle[run->nidle++] = i;
    uv_poll_start(&run->tick, UV_READABLE, tick_cb);
    arm_timerfd(run, run->t0);
  } else {
    uv_poll_start(&run->tick, UV_READABLE, tick_cb);
    arm_timerfd(run, run->t_end);
    for (unsigned i = 0; i < run->c->connections; i++)
      if (run->conns[i].state == CONN_IDLE) closed_next(&run->conns[i]);
  }
}

static void run_finish(ol_run *run) {
  if (run->closing) return;
  run->closing = 1;
  lp_ol_result *r = run->r;
  for (size_t i = run->qhead; i < run->qtail; i++)
    if (run->queue[i] >= run->t_rec) r->unsent++;
  for (unsigned i = 0; i < run->c->connections; i++) {
    ol_conn *k = &run->conns[i];
    if (k->state == CONN_BUSY && k->recorded) r->lost++;
    if (k->state != CONN_CLOSED && k->state != CONN_CLOSING) uv_close((uv_handle_t *)&k->tcp, NULL);
    uv_timer_stop(&k->retry);
    uv_close((uv_handle_t *)&k->retry, NULL);
    uv_timer_stop(&k->deadline);
    uv_close((uv_handle_t *)&k->deadline, NULL);
  }
  uv_timer_stop(&run->drain);
  uv_close((uv_handle_t *)&run->drain, NULL);
  uv_poll_stop(&run->tick);
  uv_close((uv_handle_t *)&run->tick, NULL);
}

static void drain_cb(uv_timer_t *t) {
  ol_run *run = t->data;
  if (run->stopping) run_finish(run);
}

static void run_check_done(ol_run *run) {
  if (run->c->qps == 0 && !run->stopping && run->c->max_requests && closed_ended(run) >= run->c->max_requests)
    run_stop(run);   /* calls back here with stopping set */
  else if (run->stopping && !run->closing && run->in_flight == 0 && run->qhead == run->qtail)
    run_finish(run);
}

static int check_config(const lp_ol_config *c, char *errstr, size_t errstr_size) {
  const char *why = NULL;
  if (!c->host) why = "host is missing";
  else if (c->port < 1 || c->port > 65535) why = "port must be in 1..65535";
  else if (!c->reqs || c->nreqs == 0) why = "at least one request is needed";
  else if (c->connections < 1 || c->connections > 65536) why = "connections must be in 1..65536";
  else if (!(c->qps >= 0) || c->qps > 1e7) why = "qps must be in 0..10000000";
  else if (!(c->warmup_s >= 0)) why = "warmup must be >= 0";
  else if (!(c->duration_s > 0)) why = "duration must be > 0";
  else if (!(c->drain_s > 0)) why = "drain must be > 0";
  else if (!(c->request_timeout_s >= 0)) why = "request time-out must be >= 0";
  else if (c->qps > 0 && (c->warmup_s + c->duration_s) * c->qps > 1e9) why = "qps x duration is over 1e9 requests";
  if (why) {
    snprintf(errstr, errstr_size, "%s", why);
    return LP_EINVAL;
  }
  return 0;
}

static int run_init(ol_run *run, const lp_ol_config *c, lp_ol_result *r, char *errstr, size_t errstr_size) {
  run->c = c;
  run->r = r;
  run->tfd = -1;
  if (uv_ip4_addr(c->host, c->port, &run->addr) != 0) {
    snprintf(errstr, errstr_size, "host '%s' is not an IPv4 address", c->host);
    return LP_EINVAL;
  }
  run->conns = lp_calloc(c->connections, sizeof *run->conns);
  run->idle = lp_calloc(c->connections, sizeof *run->idle);
  run->qcap = c->qps > 0 ? (size_t)ceil((c->warmup_s + c->duration_s) * c->qps) + 2 : 1;
  run->queue = lp_calloc(run->qcap, sizeof *run->queue);
  if (!run->conns || !run->idle || !run->queue) {
    snprintf(errstr, errstr_size, "out of memory for %u connections", c->connections);
    return LP_ENOMEM;
  }
  int rc = uv_loop_init(&run->loop);
  if (rc != 0) {
    snprintf(errstr, errstr_size, "uv_loop_init: %s", uv_strerror(rc));
    return LP_EIO;
  }
  run->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (run->tfd < 0 || uv_poll_init(&run->loop, &run->tick, run->tfd) != 0) {
    snprintf(errstr, errstr_size, "timerfd: cannot create or poll it");
    if (run->tfd >= 0) close(run->tfd);
    run->tfd = -1;
    uv_loop_close(&run->loop);
    return LP_EIO;
  }
  run->tick.data = run;
  uv_timer_init(&run->loop, &run->drain);
  run->drain.data = run;
  llhttp_settings_init(&run->settings);
  run->settings.on_message_complete = on_complete;
  return 0;
}

int lp_ol_run(const lp_ol_config *c, lp_ol_result *r, char *errstr, size_t errstr_size) {
  if (errstr_size) errstr[0] = '\0';
  int rc = check_config(c, errstr, errstr_size);
  if (rc) return rc;
  memset(r, 0, sizeof *r);
  lp_hist_reset(&r->latency);
  lp_hist_reset(&r->send_lag);
  ol_run run;
  memset(&run, 0, sizeof run);
  rc = run_init(&run, c, r, errstr, errstr_size);
  if (rc == 0) {
    run.pending_connects = c->connections;
    for (unsigned i = 0; i < c->connections; i++) {
      ol_conn *k = &run.conns[i];
      k->run = &run;
      k->first = 1;
      uv_timer_init(&run.loop, &k->retry);
      k->retry.data = k;
      uv_timer_init(&run.loop, &k->deadline);
      k->deadline.data = k;
    }
    for (unsigned i = 0; i < c->connections; i++) conn_connect(&run.conns[i]);
    uv_run(&run.loop, UV_RUN_DEFAULT);
    if (run.unreachable) {
      snprintf(errstr, errstr_size, "cannot connect to %s:%d", c->host, c->port);
      rc = LP_EIO;
    }
    uint64_t end = run.last_done_ns > run.t_rec ? run.last_done_ns : run.t_rec;
    if (c->qps > 0 && end < run.t_end) end = run.t_end;
    r->elapsed_s = (double)(end - run.t_rec) / 1e9;
    uv_loop_close(&run.loop);
    close(run.tfd);
  }
  lp_free(run.conns);
  lp_free(run.idle);
  lp_free(run.queue);
  return rc;
}
