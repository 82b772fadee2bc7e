/*
 * redis.h: Redis from leadpoet, on hiredis 0.14.
 *
 *   lp_redis_endpoint  an endpoint string ("host:port", "redis://[[user:]password@]host[:port][/db]") parsed.
 *   lp_redis           an asynchronous client on the caller's libuv loop (hiredis's libuv adapter, with the
 *                      correction of uv_adapter.c): resolves
 *                      the host without blocking (uv_getaddrinfo), connects with a time-out, authenticates and
 *                      selects the db, and reconnects by itself after any loss with exponential backoff and
 *                      jitter, bounded by backoff_max_ms. Every command's reply reaches a callback on the loop;
 *                      every command is bounded by command_timeout_ms (past it the connection is dropped and
 *                      rebuilt, since a Redis that stopped answering one command answers none).
 *   lp_redis_sync_*    a blocking connection (hiredis's blocking API) for the command-line tools, bounded by
 *                      the same time-outs.
 *
 * Threads: an lp_redis and everything it calls back run on the thread of its loop only. The blocking
 * functions run on any thread, one connection per thread.
 */
#ifndef LP_CHECKPOINT_REDIS_H
#define LP_CHECKPOINT_REDIS_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "leadpoet/common.h"

#define LP_REDIS_DEFAULT_PORT 6379

typedef struct lp_redis_endpoint {
  char host[256];       /* a name or an address, without the IPv6 brackets */
  int port;
  char user[128];       /* "" without an ACL user (AUTH password only) */
  char password[256];   /* "" without AUTH */
  int db;               /* SELECT index, 0 by default */
} lp_redis_endpoint;

/* Parses "host:port", "host", "[::1]:port" or "redis://[[user:]password@]host[:port][/db]" into *out.
 * LP_EINVAL with the reason in errstr for anything else (an empty host, a port outside 1..65535, a db that
 * is not a number 0..65535, another scheme). Any thread. */
int lp_redis_endpoint_parse(const char *s, lp_redis_endpoint *out, char *errstr, size_t errsz);

/* "host:port/db" without the password, for logs and /v1/status. Any thread. */
void lp_redis_endpoint_print(const lp_redis_endpoint *e, char *out, size_t cap);

/* ---------------------------------------------------------------------------------------------- async */

typedef struct lp_redis lp_redis;

/* Zero values take the defaults named. Strings are copied. */
typedef struct lp_redis_opts {
  const char *endpoint;       /* required, see lp_redis_endpoint_parse */
  int connect_timeout_ms;     /* resolve + TCP + AUTH + SELECT, default 2000 */
  int command_timeout_ms;     /* a reply's bound, default 5000 */
  int backoff_min_ms;         /* first retry delay, default 100 */
  int backoff_max_ms;         /* the cap of the delay, default 10000 */
  /* Called on the loop when the client becomes usable (up = 1) or loses its connection (up = 0, with the
   * reason). May be NULL. */
  void (*on_state)(void *ud, int up, const char *reason);
  void *ud;
} lp_redis_opts;

/* A reply, on the loop thread, exactly once per accepted command. err = 0 with the reply (which may be of
 * any type but an error); err = LP_EIO for an error reply (reply set, message in errmsg), a lost connection
 * or a time-out (reply NULL, reason in errmsg); LP_ECANCELED when the client closed first. The reply and
 * errmsg are hiredis's or the client's: valid only during the call, copy what you keep. */
typedef void (*lp_redis_reply_cb)(void *ud, int err, const redisReply *reply, const char *errmsg);

/* Creates the client and starts connecting (the first attempt begins at once, on the loop). Returns
 * LP_EINVAL for a bad endpoint or option (reason in errstr). The caller owns *out and ends it with
 * lp_redis_close. Loop thread. */
int lp_redis_new(uv_loop_t *loop, const lp_redis_opts *opts, lp_redis **out, char *errstr, size_t errsz);

/* Sends one command given as argc arguments (binary safe; lens may be NULL for NUL-terminated strings).
 * The arguments are copied before the call returns. Returns 0 when sent (cb will be called later, never
 * from inside this call), or LP_EAGAIN while the client is not connected (nothing sent, cb never called:
 * try again after on_state reports up), LP_ESTATE after close began, LP_ENOMEM. Loop thread. */
int lp_redis_command(lp_redis *r, int argc, const char **argv, const size_t *lens, lp_redis_reply_cb cb,
                     void *ud);

/* 1 when connected and ready for commands. Loop thread. */
int lp_redis_ready(const lp_redis *r);
/* Connections made since creation (1 after the first success); a test sees a reconnect through it. */
uint64_t lp_redis_connects(const lp_redis *r);
/* Why the last attempt or connection failed ("" when none did); owned by r. Loop thread. */
const char *lp_redis_last_error(const lp_redis *r);

/* Begins closing: commands in flight get LP_ECANCELED, the connection and timers are closed, and done(ud)
 * is called on the loop once every handle of the client is closed (the loop must run until then). r is
 * freed before done. Loop thread, also from inside one of r's own callbacks. */
void lp_redis_close(lp_redis *r, void (*done)(void *ud), void *ud);

/* ----------------------------------------------------------------------------------------------- sync */

/* Connects with a time-out, sets the command time-out, authenticates and selects the db. Blocks the calling
 * thread for at most timeout_ms per step. The caller owns *out (redisFree). LP_EINVAL for a bad endpoint,
 * LP_EIO when Redis cannot be reached or refuses (reason in errstr). Any thread. */
int lp_redis_sync_connect(const char *endpoint, int timeout_ms, redisContext **out, char *errstr, size_t errsz);

#endif
