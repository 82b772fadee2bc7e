/* pgconn.c: see pgconn.h. */
#include "archive/pgconn.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"

enum { ST_WAIT, ST_CONNECTING, ST_IDLE, ST_BUSY, ST_CLOSED };

typedef struct poll_h {
  uv_poll_t h;
  lp_pgconn *c;
} poll_h;

struct lp_pgconn {
  uv_loop_t *loop;
  lp_pg_params params;
  lp_pgconn_conf conf;
  lp_pgconn_fn fn;
  void *ud;
  PGconn *pg;
  poll_h *poll;           /* watches PQsocket(pg); NULL when none */
  int poll_fd, poll_events;
  uv_timer_t timer;       /* backoff wait, connect deadline or query deadline: one at a time */
  int state;
  uint64_t backoff_ms;
  uint64_t rng;
  PGresult *res;          /* the result being kept for LP_PG_RESULT */
};

static void on_poll(uv_poll_t *h, int status, int events);
static void connect_now(lp_pgconn *c);

static uint64_t next_rand(lp_pgconn *c) {
  c->rng ^= c->rng << 13;
  c->rng ^= c->rng >> 7;
  c->rng ^= c->rng << 17;
  return c->rng;
}

static void poll_closed(uv_handle_t *h) { lp_free(h->data); }

/* Stops watching; must happen before PQfinish closes the socket. */
static void drop_poll(lp_pgconn *c) {
  if (c->poll == NULL) return;
  uv_poll_stop(&c->poll->h);
  uv_close((uv_handle_t *)&c->poll->h, poll_closed);
  c->poll = NULL;
}

/* Watches the connection's current socket for events; LP_OK or LP_EIO. */
static int watch(lp_pgconn *c, int events) {
  int fd = PQsocket(c->pg);
  if (fd < 0) return LP_EIO;
  if (c->poll != NULL && c->poll_fd != fd) drop_poll(c);
  if (c->poll == NULL) {
    poll_h *p = lp_malloc(sizeof(*p));
    if (p == NULL) return LP_EIO;
    if (uv_poll_init(c->loop, &p->h, fd) != 0) {
      lp_free(p);
      return LP_EIO;
    }
    p->c = c;
    p->h.data = p;
    c->poll = p;
    c->poll_fd = fd;
    c->poll_events = 0;
  }
  if (c->poll_events == events) return LP_OK;
  c->poll_events = events;
  return uv_poll_start(&c->poll->h, events, on_poll) == 0 ? LP_OK : LP_EIO;
}

static void on_timer(uv_timer_t *t);

static void arm(lp_pgconn *c, uint64_t ms) {
  uv_timer_stop(&c->timer);
  if (ms > 0) uv_timer_start(&c->timer, on_timer, ms, 0);
}

/* Drops the connection (or the attempt) and schedules the next attempt after the backoff, with jitter. */
static void drop_and_wait(lp_pgconn *c) {
  drop_poll(c);
  PQfinish(c->pg);
  c->pg = NULL;
  PQclear(c->res);
  c->res = NULL;
  c->state = ST_WAIT;
  uint64_t b = c->backoff_ms;
  arm(c, b / 2 + next_rand(c) % (b / 2 + 1));
  c->backoff_ms = b * 2 > c->conf.backoff_max_ms ? c->conf.backoff_max_ms : b * 2;
}

/* drop_and_wait, then tells the owner why (the callback comes last: it may call anything). */
static void teardown(lp_pgconn *c, const char *why) {
  char msg[256];
  snprintf(msg, sizeof(msg), "%s", why && why[0] ? why : "connection lost");
  size_t len = strlen(msg);
  while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' ')) msg[--len] = '\0';
  drop_and_wait(c);
  c->fn(c->ud, LP_PG_DOWN, NULL, msg);
}

static void on_timer(uv_timer_t *t) {
  lp_pgconn *c = t->data;
  if (c->state == ST_WAIT) connect_now(c);
  else if (c->state == ST_CONNECTING) teardown(c, "connect timed out");
  else if (c->state == ST_BUSY) teardown(c, "query timed out");
}

static void connect_now(lp_pgconn *c) {
  const char *kw[LP_PG_KV_MAX + 1], *val[LP_PG_KV_MAX + 1];
  lp_pg_params_kv(&c->params, "0", kw, val);
  c->pg = PQconnectStartParams(kw, val, 0);
  c->state = ST_CONNECTING;
  if (c->pg == NULL || PQstatus(c->pg) == CONNECTION_BAD) {
    teardown(c, c->pg ? PQerrorMessage(c->pg) : "out of memory");
    return;
  }
  arm(c, c->conf.connect_timeout_ms);
  /* libpq: before the first PQconnectPoll, act as if it had returned PGRES_POLLING_WRITING. */
  if (watch(c, UV_WRITABLE) != LP_OK) teardown(c, "cannot watch the socket");
}

static void connect_step(lp_pgconn *c) {
  switch (PQconnectPoll(c->pg)) {
    case PGRES_POLLING_READING:
      if (watch(c, UV_READABLE) != LP_OK) teardown(c, "cannot watch the socket");
      return;
    case PGRES_POLLING_WRITING:
      if (watch(c, UV_WRITABLE) != LP_OK) teardown(c, "cannot watch the socket");
      return;
    case PGRES_POLLING_OK:
      break;
    default:
      teardown(c, PQerrorMessage(c->pg));
      return;
  }
  if (PQsetnonblocking(c->pg, 1) != 0 || watch(c, UV_READABLE) != LP_OK) {
    teardown(c, "cannot make the connection non-blocking");
    return;
  }
  arm(c, 0);
  c->state = ST_IDLE;
  c->backoff_ms = c->conf.backoff_min_ms;
  c->fn(c->ud, LP_PG_UP, NULL, NULL);
}

/* Sends what libpq still holds; then waits for the answer (and for writability while output remains). */
static void flush(lp_pgconn *c) {
  int r = PQflush(c->pg);
  if (r < 0) teardown(c, PQerrorMessage(c->pg));
  else if (watch(c, r == 1 ? UV_READABLE | UV_WRITABLE : UV_READABLE) != LP_OK) teardown(c, "cannot watch the socket");
}

/* Reads what arrived; when the query's last result came, hands the kept result to the owner. */
static void read_results(lp_pgconn *c) {
  if (!PQconsumeInput(c->pg)) {
    teardown(c, PQerrorMessage(c->pg));
    return;
  }
  if (c->state != ST_BUSY) {
    /* Idle: a notice, or the server closing the connection (a restart, an administrator). */
    if (PQstatus(c->pg) == CONNECTION_BAD) teardown(c, PQerrorMessage(c->pg));
    return;
  }
  while (!PQisBusy(c->pg)) {
    PGresult *r = PQgetResult(c->pg);
    if (r == NULL) {
      PGresult *res = c->res;
      c->res = NULL;
      c->state = ST_IDLE;
      arm(c, 0);
      if (res == NULL) {
        teardown(c, "the query returned no result");
        return;
      }
      if (PQstatus(c->pg) == CONNECTION_BAD) {  /* the error came with the end of the connection */
        char why[256];
        snprintf(why, sizeof(why), "%s", PQresultErrorMessage(res));
        PQclear(res);
        teardown(c, why);
        return;
      }
      c->fn(c->ud, LP_PG_RESULT, res, NULL);
      return;
    }
    int err = PQresultStatus(r) == PGRES_FATAL_ERROR || PQresultStatus(r) == PGRES_BAD_RESPONSE;
    int kept_err = c->res != NULL && (PQresultStatus(c->res) == PGRES_FATAL_ERROR || PQresultStatus(c->res) == PGRES_BAD_RESPONSE);
    if (kept_err && !err) {
      PQclear(r);
    } else {
      PQclear(c->res);
      c->res = r;
    }
  }
  if (c->state == ST_BUSY) flush(c);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  poll_h *p = h->data;
  lp_pgconn *c = p->c;
  if (c->poll != p) return;  /* an old socket's last event */
  if (status < 0) {
    teardown(c, uv_strerror(status));
    return;
  }
  if (c->state == ST_CONNECTING) {
    connect_step(c);
    return;
  }
  if ((events & UV_WRITABLE) && c->state == ST_BUSY) {
    flush(c);
    if (c->state != ST_BUSY || !(events & UV_READABLE)) return;
  }
  if (events & UV_READABLE) read_results(c);
}

int lp_pgconn_new(lp_pgconn **out, uv_loop_t *loop, const lp_pg_params *p, const lp_pgconn_conf *conf, lp_pgconn_fn fn,
                  void *ud) {
  lp_pgconn *c = lp_calloc(1, sizeof(*c));
  if (c == NULL) return LP_ENOMEM;
  c->loop = loop;
  c->params = *p;
  c->conf = *conf;
  if (c->conf.backoff_min_ms == 0) c->conf.backoff_min_ms = 1;
  if (c->conf.backoff_max_ms < c->conf.backoff_min_ms) c->conf.backoff_max_ms = c->conf.backoff_min_ms;
  c->backoff_ms = c->conf.backoff_min_ms;
  c->fn = fn;
  c->ud = ud;
  c->rng = (uint64_t)lp_mono_ns() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)c;
  if (c->rng == 0) c->rng = 0x9e3779b97f4a7c15ull;
  uv_timer_init(loop, &c->timer);
  c->timer.data = c;
  c->state = ST_WAIT;
  *out = c;
  return LP_OK;
}

void lp_pgconn_start(lp_pgconn *c) {
  if (c->state == ST_WAIT) arm(c, 1);
}

int lp_pgconn_idle(const lp_pgconn *c) { return c != NULL && c->state == ST_IDLE; }

int lp_pgconn_send(lp_pgconn *c, const char *sql, int n, const char *const *values) {
  if (c->state != ST_IDLE) return LP_ESTATE;
  if (!PQsendQueryParams(c->pg, sql, n, NULL, values, NULL, NULL, 0)) {
    teardown(c, PQerrorMessage(c->pg));
    return LP_EIO;
  }
  c->state = ST_BUSY;
  arm(c, c->conf.query_timeout_ms);
  flush(c);
  return LP_OK;
}

void lp_pgconn_reset(lp_pgconn *c) {
  if (c->state != ST_CLOSED) drop_and_wait(c);
}

static void timer_closed(uv_handle_t *h) { lp_free(h->data); }

void lp_pgconn_close(lp_pgconn *c) {
  if (c == NULL) return;
  drop_poll(c);
  PQfinish(c->pg);
  c->pg = NULL;
  PQclear(c->res);
  c->res = NULL;
  c->state = ST_CLOSED;
  uv_timer_stop(&c->timer);
  uv_close((uv_handle_t *)&c->timer, timer_closed);
}
