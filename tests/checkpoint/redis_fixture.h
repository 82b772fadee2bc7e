/*
 * redis_fixture.h: what the checkpoint tests share: a real redis-server (Debian's /usr/bin/redis-server) on
 * a free 127.0.0.1 port, without persistence, stopped by its pid; a libuv loop run until a condition holds
 * or a deadline passes (every wait is bounded); a client and a store on that loop. Header-only.
 */
#ifndef LP_TEST_REDIS_FIXTURE_H
#define LP_TEST_REDIS_FIXTURE_H

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "base/clock.h"
#include "checkpoint/checkpoint.h"
#include "checkpoint/redis.h"
#include "helpers/helpers.h"

#define RT_REDIS_BIN "/usr/bin/redis-server"

typedef struct rt_redis {
  pid_t pid;
  int port;
  char endpoint[64];
  char password[32];
} rt_redis;

static inline void rt_sleep_ms(int ms) {
  struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
  nanosleep(&ts, NULL);
}

/* Starts redis-server on r->port (a free one when 0) and waits up to 5 s until it answers PING. */
static inline int rt_redis_start(rt_redis *r) {
  if (r->port == 0) r->port = lpt_free_port();
  snprintf(r->endpoint, sizeof(r->endpoint), "127.0.0.1:%d", r->port);
  char port[16];
  snprintf(port, sizeof(port), "%d", r->port);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    freopen("/dev/null", "w", stdout);
    freopen("/dev/null", "w", stderr);
    if (r->password[0])
      execl(RT_REDIS_BIN, RT_REDIS_BIN, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", "/tmp", "--requirepass", r->password, (char *)NULL);
    else
      execl(RT_REDIS_BIN, RT_REDIS_BIN, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", "/tmp", (char *)NULL);
    _exit(127);
  }
  r->pid = pid;
  for (int i = 0; i < 250; i++) {
    struct timeval tv = { 0, 200000 };
    redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);
    if (c != NULL && !c->err) {
      redisReply *rep = redisCommand(c, "PING");
      int ok = rep != NULL;  /* PONG, or NOAUTH with a password: either way it answers */
      if (rep) freeReplyObject(rep);
      redisFree(c);
      if (ok) return 0;
    } else if (c != NULL) {
      redisFree(c);
    }
    rt_sleep_ms(20);
  }
  return -1;
}

/* Stops it with sig (SIGTERM or SIGKILL) and reaps it. */
static inline void rt_redis_stop(rt_redis *r, int sig) {
  if (r->pid <= 0) return;
  kill(r->pid, sig);
  for (int i = 0; i < 500; i++) {
    if (waitpid(r->pid, NULL, WNOHANG) == r->pid) {
      r->pid = 0;
      return;
    }
    rt_sleep_ms(10);
  }
  kill(r->pid, SIGKILL);
  waitpid(r->pid, NULL, 0);
  r->pid = 0;
}

/* A blocking connection for looking at what the store wrote. */
static inline redisContext *rt_sync(const rt_redis *r) {
  redisContext *c = NULL;
  char err[256];
  char ep[128];
  if (r->password[0]) snprintf(ep, sizeof(ep), "redis://:%s@127.0.0.1:%d", r->password, r->port);
  else snprintf(ep, sizeof(ep), "%s", r->endpoint);
  cr_assert_eq(lp_redis_sync_connect(ep, 2000, &c, err, sizeof(err)), 0, "%s", err);
  return c;
}

/* ------------------------------------------------------------------------------------------ the loop */

static inline void rt_noop_timer(uv_timer_t *t) { (void)t; }

/* Runs the loop until *flag is non-zero or timeout_ms passed; returns *flag. */
static inline int rt_run_until(uv_loop_t *loop, volatile int *flag, int timeout_ms) {
  uint64_t end = lp_mono_ns() + (uint64_t)timeout_ms * 1000000ull;
  uv_timer_t t;
  uv_timer_init(loop, &t);
  uv_timer_start(&t, rt_noop_timer, 10, 10);  /* wakes the loop so the deadline is checked */
  while (!*flag && lp_mono_ns() < end) uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  return *flag;
}

typedef struct rt_client {
  uv_loop_t loop;
  lp_redis *r;
  int ups, downs, closed;
  char down_reason[256];
} rt_client;

static inline void rt_on_state(void *ud, int up, const char *reason) {
  rt_client *c = ud;
  if (up) c->ups++;
  else c->downs++, snprintf(c->down_reason, sizeof(c->down_reason), "%s", reason);
}

static inline void rt_on_closed(void *ud) { ((rt_client *)ud)->closed = 1; }

/* A client on a fresh loop, connected (or not: wait_up = 0), with short time-outs and backoff. */
static inline void rt_client_open(rt_client *c, const char *endpoint, int wait_up) {
  memset(c, 0, sizeof(*c));
  uv_loop_init(&c->loop);
  lp_redis_opts o = { .endpoint = endpoint, .connect_timeout_ms = 500, .command_timeout_ms = 1000,
                      .backoff_min_ms = 20, .backoff_max_ms = 200, .on_state = rt_on_state, .ud = c };
  char err[256];
  cr_assert_eq(lp_redis_new(&c->loop, &o, &c->r, err, sizeof(err)), 0, "%s", err);
  if (wait_up) cr_assert(rt_run_until(&c->loop, &c->ups, 5000), "not connected: %s", lp_redis_last_error(c->r));
}

/* Runs the loop until the client's last error holds `what` (bounded by timeout_ms); returns 1 if it did. */
static inline int rt_wait_error(rt_client *c, const char *what, int timeout_ms) {
  uint64_t end = lp_mono_ns() + (uint64_t)timeout_ms * 1000000ull;
  while (strstr(lp_redis_last_error(c->r), what) == NULL && lp_mono_ns() < end) {
    int never = 0;
    rt_run_until(&c->loop, &never, 20);
  }
  return strstr(lp_redis_last_error(c->r), what) != NULL;
}

static inline void rt_client_close(rt_client *c) {
  lp_redis_close(c->r, rt_on_closed, c);
  cr_assert(rt_run_until(&c->loop, &c->closed, 5000));
  uv_run(&c->loop, UV_RUN_DEFAULT);  /* the adapter's poll handle closes on the next turn */
  cr_assert_eq(uv_loop_close(&c->loop), 0, "a handle was left open");
}

/* ------------------------------------------------------------------------------------- store calls */

typedef struct rt_restore {
  int done, err;
  char errmsg[512];
  size_t n;
  lp_ckpt_state states[8];   /* copies: blobs taken over */
} rt_restore;

static inline void rt_on_restore(void *ud, int err, lp_ckpt_state *s, size_t n, const char *errmsg) {
  rt_restore *r = ud;
  r->done = 1;
  r->err = err;
  if (errmsg != NULL) snprintf(r->errmsg, sizeof(r->errmsg), "%s", errmsg);
  r->n = n;
  for (size_t i = 0; i < n && i < 8; i++) {
    r->states[i] = s[i];
    for (size_t j = 0; j < s[i].nblobs; j++) s[i].blobs[j] = NULL;  /* taken: the store frees what is left */
  }
}

static inline void rt_restore_free(rt_restore *r) {
  for (size_t i = 0; i < r->n && i < 8; i++) lp_ckpt_state_free(&r->states[i]);
}

/* Restores parts (claiming with epoch when > 0) and waits for the answer; returns its err. */
static inline int rt_restore_run(rt_client *c, lp_ckpt_store *st, const int32_t *parts, size_t n, int64_t epoch,
                                 rt_restore *out) {
  memset(out, 0, sizeof(*out));
  int rc = lp_ckpt_restore(st, parts, n, epoch, rt_on_restore, out);
  if (rc != 0) return rc;
  cr_assert(rt_run_until(&c->loop, &out->done, 5000), "restore did not answer");
  return out->err;
}

typedef struct rt_write {
  int done;
  lp_ckpt_result res;
} rt_write;

static inline void rt_on_write(void *ud, const lp_ckpt_result *res) {
  rt_write *w = ud;
  w->done = 1;
  w->res = *res;
}

/* Writes and waits; returns lp_ckpt_write's code, or the result's. */
static inline int rt_write_run(rt_client *c, lp_ckpt_store *st, const lp_ckpt_part *parts, size_t n, int64_t epoch,
                               rt_write *out) {
  memset(out, 0, sizeof(*out));
  char err[256];
  int rc = lp_ckpt_write(st, parts, n, epoch, rt_on_write, out, err, sizeof(err));
  if (rc != 0) {
    snprintf(out->res.errmsg, sizeof(out->res.errmsg), "%s", err);
    return rc;
  }
  cr_assert(rt_run_until(&c->loop, &out->done, 5000), "write did not answer");
  return out->res.err;
}

static inline lp_ckpt_store *rt_store(rt_client *c, int cluster, uint32_t max_deltas, const lp_ckpt_schema *sc) {
  lp_ckpt_opts o = { .redis = c->r, .cluster = cluster, .max_deltas = max_deltas, .schema = sc };
  lp_ckpt_store *st = NULL;
  char err[256];
  cr_assert_eq(lp_ckpt_store_new(&o, &st, err, sizeof(err)), 0, "%s", err);
  return st;
}

/* A part with one offset per topic. */
static inline lp_ckpt_part rt_part(int32_t p, int kind, const char *data, lp_ckpt_offset *offs, int64_t off) {
  snprintf(offs[0].topic, sizeof(offs[0].topic), "miner.snippets");
  offs[0].offset = off;
  snprintf(offs[1].topic, sizeof(offs[1].topic), "outcome.events");
  offs[1].offset = off / 2;
  lp_ckpt_part part = { .partition = p, .kind = kind, .data = data, .len = strlen(data), .offsets = offs,
                        .noffsets = 2 };
  return part;
}

/* Keys matching a pattern. */
static inline long rt_count_keys(redisContext *c, const char *pattern) {
  redisReply *r = redisCommand(c, "KEYS %s", pattern);
  cr_assert(r != NULL && r->type == REDIS_REPLY_ARRAY);
  long n = (long)r->elements;
  freeReplyObject(r);
  return n;
}

#endif
