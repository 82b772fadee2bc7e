/*
 * redis.c: the asynchronous Redis client on a libuv loop (hiredis 0.14 and its libuv adapter, corrected in
 * uv_adapter.c).
 *
 * States: IDLE (waiting for the next attempt) -> RESOLVING (uv_getaddrinfo: hiredis 0.14 would resolve a
 * name with a blocking getaddrinfo, so it only ever sees an address) -> CONNECTING -> HANDSHAKE (AUTH,
 * SELECT, PING) -> READY; any failure goes back to IDLE with a backoff. One timer bounds each attempt and
 * then waits out the backoff; another bounds the oldest command in flight.
 *
 * hiredis rules this file follows: a context is never freed inside its connect or disconnect callback
 * (hiredis touches it after they return); redisAsyncFree inside a reply callback is deferred by hiredis
 * until the callback returns, so the client waits for the disconnect callback before it finishes closing.
 */
#include <arpa/inet.h>
#include <hiredis/async.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "checkpoint/redis.h"
#include "checkpoint/redis_int.h"

enum { ST_IDLE, ST_RESOLVING, ST_CONNECTING, ST_HANDSHAKE, ST_READY, ST_CLOSING };

typedef struct lp_redis_req {
  struct lp_redis *r;
  lp_redis_reply_cb cb;
  void *ud;
  uint64_t deadline_ns;
  struct lp_redis_req *prev, *next;
} lp_redis_req;

struct lp_redis {
  uv_loop_t *loop;
  lp_redis_endpoint ep;
  char name[300];                /* host:port/db for logs */
  lp_redis_opts o;
  redisAsyncContext *ac;
  int state;
  uv_timer_t retry;              /* attempt deadline, then backoff */
  uv_timer_t watchdog;           /* command deadline */
  uv_getaddrinfo_t gai;
  int gai_pending, resolve_expired;
  int handshake_left;
  int dropping, busy, handles_open, finishing;
  lp_redis_req *head, *tail;     /* commands in flight, oldest first (replies come in order) */
  uint32_t attempt;
  uint64_t connects, rng;
  char last_error[256];
  char reason[256];              /* why the connection is being dropped, for the pending callbacks */
  void (*done)(void *);
  void *done_ud;
};

static void start_attempt(lp_redis *r);

static void on_backoff(uv_timer_t *t) { start_attempt(t->data); }

static uint64_t next_rand(lp_redis *r) {
  r->rng ^= r->rng << 13;
  r->rng ^= r->rng >> 7;
  r->rng ^= r->rng << 17;
  return r->rng;
}

static void on_handle_closed(uv_handle_t *h) {
  lp_redis *r = h->data;
  if (--r->handles_open > 0) return;
  void (*done)(void *) = r->done;
  void *ud = r->done_ud;
  lp_free(r);
  if (done != NULL) done(ud);
}

/* Frees the client once nothing of it is left running: no context, no resolution, no reentrant call. */
static void maybe_finish(lp_redis *r) {
  if (r->state != ST_CLOSING || r->ac != NULL || r->gai_pending || r->busy > 0 || r->finishing) return;
  r->finishing = 1;
  uv_close((uv_handle_t *)&r->retry, on_handle_closed);
  uv_close((uv_handle_t *)&r->watchdog, on_handle_closed);
}

/* Waits before the next attempt: min * 2^attempt, capped, with "equal jitter" (half fixed, half random)
 * so that many instances losing the same Redis do not come back in step. */
static void schedule_retry(lp_redis *r) {
  uint64_t d = (uint64_t)r->o.backoff_min_ms << (r->attempt < 20 ? r->attempt : 20);
  if (d > (uint64_t)r->o.backoff_max_ms) d = (uint64_t)r->o.backoff_max_ms;
  if (r->attempt < 31) r->attempt++;
  uint64_t delay = d / 2 + next_rand(r) % (d / 2 + 1);
  r->state = ST_IDLE;
  uv_timer_start(&r->retry, on_backoff, delay, 0);
}

/* The connection or the attempt is gone: retry later, and tell the owner if it had been usable. Must be
 * the caller's last use of r (on_state may close the client). */
static void lost(lp_redis *r, const char *reason) {
  int was_ready = r->state == ST_READY;
  snprintf(r->last_error, sizeof(r->last_error), "%s", reason);
  if (was_ready) lp_log_warn("redis connection lost", "endpoint=%s reason=\"%s\"", r->name, reason);
  else lp_log_debug("redis connect failed", "endpoint=%s reason=\"%s\"", r->name, reason);
  schedule_retry(r);
  if (was_ready && r->o.on_state != NULL) r->o.on_state(r->o.ud, 0, r->last_error);
}

/* Drops the current connection from a timer (never from a hiredis callback): every command in flight is
 * answered with `reason`. */
static void drop(lp_redis *r, const char *reason) {
  snprintf(r->reason, sizeof(r->reason), "%s", reason);
  redisAsyncContext *ac = r->ac;
  r->ac = NULL;
  r->busy++;
  r->dropping = 1;
  if (ac != NULL) redisAsyncFree(ac);
  r->dropping = 0;
  r->busy--;
  if (r->state == ST_CLOSING) {
    maybe_finish(r);
    return;
  }
  lost(r, reason);
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
  lp_redis *r = ac->data;
  if (r == NULL) return;
  r->ac = NULL;
  if (r->state == ST_CLOSING) {
    maybe_finish(r);
    return;
  }
  if (r->dropping) return;
  char why[256];
  snprintf(why, sizeof(why), "%s", r->reason[0] ? r->reason : ac->err ? ac->errstr : "connection closed");
  lost(r, why);
}

static void unlink_req(lp_redis *r, lp_redis_req *q) {
  if (q->prev != NULL) q->prev->next = q->next;
  else r->head = q->next;
  if (q->next != NULL) q->next->prev = q->prev;
  else r->tail = q->prev;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv) {
  lp_redis_req *q = priv;
  lp_redis *r = q->r;
  redisReply *rep = reply;
  unlink_req(r, q);
  if (rep == NULL) {
    const char *why = r->reason[0] ? r->reason : ac->err ? ac->errstr : "connection lost";
    q->cb(q->ud, r->state == ST_CLOSING ? LP_ECANCELED : LP_EIO, NULL, why);
  } else if (rep->type == REDIS_REPLY_ERROR) {
    q->cb(q->ud, LP_EIO, rep, rep->str);
  } else {
    q->cb(q->ud, LP_OK, rep, NULL);
  }
  lp_free(q);
}

static void on_handshake(redisAsyncContext *ac, void *reply, void *priv) {
  lp_redis *r = priv;
  redisReply *rep = reply;
  if (rep == NULL || r->state != ST_HANDSHAKE) return;  /* the context is going away: on_disconnect decides */
  if (rep->type == REDIS_REPLY_ERROR) {
    snprintf(r->reason, sizeof(r->reason), "handshake refused: %s", rep->str);
    lp_log_error("redis refused the handshake", "endpoint=%s reason=\"%s\"", r->name, rep->str);
    redisAsyncFree(ac);  /* deferred by hiredis until this callback returns; on_disconnect follows */
    return;
  }
  if (--r->handshake_left > 0) return;
  r->state = ST_READY;
  r->attempt = 0;
  r->connects++;
  r->reason[0] = '\0';
  uv_timer_stop(&r->retry);
  lp_log_info("redis connected", "endpoint=%s connects=%llu", r->name, (unsigned long long)r->connects);
  if (r->o.on_state != NULL) r->o.on_state(r->o.ud, 1, "");
}

static void on_connect(const redisAsyncContext *cac, int status) {
  redisAsyncContext *ac = (redisAsyncContext *)cac;
  lp_redis *r = ac->data;
  if (status != REDIS_OK) {
    r->ac = NULL;  /* hiredis frees it when this returns */
    char why[256];
    snprintf(why, sizeof(why), "connect: %s", ac->errstr);
    lost(r, why);
    return;
  }
  r->state = ST_HANDSHAKE;
  r->handshake_left = 0;
  char db[16];
  snprintf(db, sizeof(db), "%d", r->ep.db);
  if (r->ep.password[0] != '\0') {
    const char *a3[] = { "AUTH", r->ep.user, r->ep.password };
    const char *a2[] = { "AUTH", r->ep.password };
    if (r->ep.user[0]) redisAsyncCommandArgv(ac, on_handshake, r, 3, a3, NULL);
    else redisAsyncCommandArgv(ac, on_handshake, r, 2, a2, NULL);
    r->handshake_left++;
  }
  if (r->ep.db != 0) {
    const char *sel[] = { "SELECT", db };
    redisAsyncCommandArgv(ac, on_handshake, r, 2, sel, NULL);
    r->handshake_left++;
  }
  const char *ping[] = { "PING" };
  redisAsyncCommandArgv(ac, on_handshake, r, 1, ping, NULL);
  r->handshake_left++;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  lp_redis *r = req->data;
  r->gai_pending = 0;
  char ip[INET6_ADDRSTRLEN] = "";
  if (status == 0 && res != NULL) {
    const void *a = res->ai_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr
                                               : (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr;
    inet_ntop(res->ai_family, a, ip, sizeof(ip));
  }
  if (res != NULL) uv_freeaddrinfo(res);
  if (r->state == ST_CLOSING) {
    maybe_finish(r);
    return;
  }
  char why[320];
  if (r->resolve_expired || status != 0 || ip[0] == '\0') {
    snprintf(why, sizeof(why), "resolve %s: %s", r->ep.host,
             r->resolve_expired ? "timed out" : status != 0 ? uv_strerror(status) : "no address");
    lost(r, why);
    return;
  }
  redisAsyncContext *ac = redisAsyncConnect(ip, r->ep.port);
  if (ac == NULL || ac->err || lp__redis_attach(ac, r->loop) != REDIS_OK) {
    snprintf(why, sizeof(why), "connect %s:%d: %s", ip, r->ep.port,
             ac != NULL && ac->err ? ac->errstr : "cannot start");
    if (ac != NULL) redisAsyncFree(ac);
    lost(r, why);
    return;
  }
  ac->data = r;
  r->ac = ac;
  r->state = ST_CONNECTING;
  redisAsyncSetConnectCallback(ac, on_connect);
  redisAsyncSetDisconnectCallback(ac, on_disconnect);
}

/* The attempt took longer than connect_timeout_ms. */
static void on_attempt_deadline(uv_timer_t *t) {
  lp_redis *r = t->data;
  char why[96];
  snprintf(why, sizeof(why), "connect timed out after %d ms", r->o.connect_timeout_ms);
  if (r->state == ST_RESOLVING) {
    r->resolve_expired = 1;
    uv_cancel((uv_req_t *)&r->gai);  /* on_resolved reports the failure, now or when the lookup returns */
    return;
  }
  if (r->state == ST_CONNECTING || r->state == ST_HANDSHAKE) drop(r, why);
}

static void start_attempt(lp_redis *r) {
  if (r->state == ST_CLOSING || r->gai_pending) return;
  r->state = ST_RESOLVING;
  r->resolve_expired = 0;
  r->reason[0] = '\0';
  char port[16];
  snprintf(port, sizeof(port), "%d", r->ep.port);
  struct addrinfo hints;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  uv_timer_start(&r->retry, on_attempt_deadline, (uint64_t)r->o.connect_timeout_ms, 0);
  int rc = uv_getaddrinfo(r->loop, &r->gai, on_resolved, r->ep.host, port, &hints);
  if (rc != 0) {
    char why[320];
    snprintf(why, sizeof(why), "resolve %.200s: %s", r->ep.host, uv_strerror(rc));
    lost(r, why);
    return;
  }
  r->gai_pending = 1;
}

/* The oldest command in flight decides: past its deadline, the connection is dropped and rebuilt. */
static void on_watchdog(uv_timer_t *t) {
  lp_redis *r = t->data;
  if (r->head == NULL) return;
  uint64_t now = lp_mono_ns();
  if (r->head->deadline_ns <= now) {
    char why[96];
    snprintf(why, sizeof(why), "no reply within %d ms", r->o.command_timeout_ms);
    drop(r, why);
    return;
  }
  uv_timer_start(&r->watchdog, on_watchdog, (r->head->deadline_ns - now) / 1000000 + 1, 0);
}

int lp_redis_new(uv_loop_t *loop, const lp_redis_opts *opts, lp_redis **out, char *errstr, size_t errsz) {
  *out = NULL;
  lp_redis_endpoint ep;
  int rc = lp_redis_endpoint_parse(opts->endpoint, &ep, errstr, errsz);
  if (rc != LP_OK) return rc;
  if (opts->connect_timeout_ms < 0 || opts->command_timeout_ms < 0 || opts->backoff_min_ms < 0 ||
      opts->backoff_max_ms < 0) {
    snprintf(errstr, errsz, "redis client: time-outs and backoff must not be negative");
    return LP_EINVAL;
  }
  lp_redis *r = lp_calloc(1, sizeof(*r));
  if (r == NULL) return LP_ENOMEM;
  r->loop = loop;
  r->ep = ep;
  r->o = *opts;
  r->o.endpoint = NULL;
  if (r->o.connect_timeout_ms == 0) r->o.connect_timeout_ms = 2000;
  if (r->o.command_timeout_ms == 0) r->o.command_timeout_ms = 5000;
  if (r->o.backoff_min_ms == 0) r->o.backoff_min_ms = 100;
  if (r->o.backoff_max_ms == 0) r->o.backoff_max_ms = 10000;
  if (r->o.backoff_max_ms < r->o.backoff_min_ms) r->o.backoff_max_ms = r->o.backoff_min_ms;
  r->rng = lp_mono_ns() ^ ((uint64_t)getpid() << 32) ^ (uintptr_t)r;
  if (r->rng == 0) r->rng = 0x9e3779b97f4a7c15ull;
  lp_redis_endpoint_print(&ep, r->name, sizeof(r->name));
  uv_timer_init(loop, &r->retry);
  uv_timer_init(loop, &r->watchdog);
  r->retry.data = r->watchdog.data = r->gai.data = r;
  r->handles_open = 2;
  r->state = ST_IDLE;
  start_attempt(r);
  *out = r;
  return LP_OK;
}

int lp_redis_command(lp_redis *r, int argc, const char **argv, const size_t *lens, lp_redis_reply_cb cb,
                     void *ud) {
  if (r->state == ST_CLOSING) return LP_ESTATE;
  if (r->state != ST_READY || r->ac == NULL) return LP_EAGAIN;
  lp_redis_req *q = lp_calloc(1, sizeof(*q));
  if (q == NULL) return LP_ENOMEM;
  q->r = r;
  q->cb = cb;
  q->ud = ud;
  q->deadline_ns = lp_mono_ns() + (uint64_t)r->o.command_timeout_ms * 1000000ull;
  if (redisAsyncCommandArgv(r->ac, on_reply, q, argc, argv, lens) != REDIS_OK) {
    lp_free(q);
    return LP_EAGAIN;  /* the context is disconnecting: on_disconnect follows */
  }
  q->prev = r->tail;
  if (r->tail != NULL) r->tail->next = q;
  else r->head = q;
  r->tail = q;
  if (!uv_is_active((uv_handle_t *)&r->watchdog))
    uv_timer_start(&r->watchdog, on_watchdog, (uint64_t)r->o.command_timeout_ms + 1, 0);
  return LP_OK;
}

int lp_redis_ready(const lp_redis *r) { return r->state == ST_READY && r->ac != NULL; }
uint64_t lp_redis_connects(const lp_redis *r) { return r->connects; }
const char *lp_redis_last_error(const lp_redis *r) { return r->last_error; }

void lp_redis_close(lp_redis *r, void (*done)(void *ud), void *ud) {
  if (r->state == ST_CLOSING) return;
  r->state = ST_CLOSING;
  r->done = done;
  r->done_ud = ud;
  snprintf(r->reason, sizeof(r->reason), "client closed");
  uv_timer_stop(&r->retry);
  uv_timer_stop(&r->watchdog);
  if (r->gai_pending) uv_cancel((uv_req_t *)&r->gai);
  redisAsyncContext *ac = r->ac;
  if (ac != NULL && !(ac->c.flags & REDIS_FREEING)) {
    int deferred = (ac->c.flags & REDIS_IN_CALLBACK) != 0;
    r->busy++;
    redisAsyncFree(ac);  /* pending commands get LP_ECANCELED */
    r->busy--;
    if (!deferred) r->ac = NULL;
  }
  maybe_finish(r);
}
