/*
 * pgconn.h: one PostgreSQL connection driven by the reactor's libuv loop, with libpq's asynchronous API.
 *
 * PQconnectStartParams / PQconnectPoll to connect, PQsendQueryParams + PQflush (non-blocking) to send,
 * PQconsumeInput / PQisBusy / PQgetResult to read; PQsocket is watched by a uv_poll (a new one when the
 * socket changes during connect), so nothing ever blocks the loop. A deadline timer bounds the connect and
 * each query (libpq's connect_timeout does not apply to PQconnectPoll). When the connection fails or drops,
 * it is torn down and tried again after a backoff that doubles from min to max, with jitter (half to all of
 * it) so that instances restarted together do not reconnect in step.
 *
 * One query at a time. The owner hears of: connected (LP_PG_UP), a query's end (LP_PG_RESULT, with the
 * result: the first error result of the query, else its last result; the owner PQclears it), and a lost
 * connection or a failed attempt (LP_PG_DOWN, with why; a query in flight is then lost: its effect on the
 * database is unknown).
 *
 * Threads: the loop's thread only.
 */
#ifndef LP_ARCHIVE_PGCONN_H
#define LP_ARCHIVE_PGCONN_H

#include <libpq-fe.h>
#include <stdint.h>
#include <uv.h>

#include "archive/params.h"

enum { LP_PG_UP, LP_PG_RESULT, LP_PG_DOWN };

typedef struct lp_pgconn lp_pgconn;

/* ev: LP_PG_UP (res NULL), LP_PG_RESULT (res owned by the callee, never NULL), LP_PG_DOWN (res NULL,
 * why: libpq's message or the deadline). The callback may send the next query or reset the connection. */
typedef void (*lp_pgconn_fn)(void *ud, int ev, PGresult *res, const char *why);

typedef struct lp_pgconn_conf {
  uint64_t connect_timeout_ms;  /* a connect attempt's deadline */
  uint64_t query_timeout_ms;    /* a query's deadline (0: none) */
  uint64_t backoff_min_ms, backoff_max_ms;
} lp_pgconn_conf;

/* Copies p and conf. Does not connect yet. LP_OK or LP_ENOMEM. The caller owns *out: lp_pgconn_close. */
int lp_pgconn_new(lp_pgconn **out, uv_loop_t *loop, const lp_pg_params *p, const lp_pgconn_conf *conf, lp_pgconn_fn fn,
                  void *ud);
/* Starts the first connect attempt (now). */
void lp_pgconn_start(lp_pgconn *c);
/* 1 when connected with no query in flight. */
int lp_pgconn_idle(const lp_pgconn *c);
/* Sends sql with n text parameters (NUL-terminated; copied by libpq before the call returns). LP_OK;
 * LP_ESTATE when not idle; LP_EIO when libpq refused it (the connection is then reset: LP_PG_DOWN follows
 * at once). */
int lp_pgconn_send(lp_pgconn *c, const char *sql, int n, const char *const *values);
/* Drops the connection (or the attempt) and tries again after the backoff; why is logged by the owner. */
void lp_pgconn_reset(lp_pgconn *c);
/* Closes the connection and the handles; the memory goes once libuv has let go of them. No callback is
 * called from here on. c may be NULL. */
void lp_pgconn_close(lp_pgconn *c);

#endif
