/*
 * openloop.h: an HTTP/1.1 load engine on libuv, open loop or closed loop, over a pool of keep-alive
 * connections. Shared by perf/query_bench and the load generator of issue 8.
 *
 * Open loop (qps > 0): request i is SCHEDULED at start + i / qps, whatever the server does; it goes out on
 * the first idle connection (one request in flight per connection; when every connection is busy the
 * scheduled times wait in a queue), and its latency is measured from the scheduled time to the end of the
 * response. A server stall therefore shows up in the latency of every request it delayed (no coordinated
 * omission). The schedule is driven by a timerfd (nanosecond resolution) so the generator adds no
 * millisecond-timer rounding; how late the sends really went out is reported apart (send_lag).
 * Closed loop (qps == 0): every connection sends its next request as soon as the previous one answered;
 * latency is measured from the send.
 *
 * Requests scheduled during the warm-up are sent but not recorded. Requests are whole HTTP requests given
 * by the caller, used in turn (request i is reqs[i % nreqs]).
 *
 * Threads: lp_ol_run runs its own uv loop on the calling thread and returns when the run is over; the
 * configuration and its requests are only read. Linux only (timerfd).
 */
#ifndef LP_PERF_OPENLOOP_H
#define LP_PERF_OPENLOOP_H

#include <stddef.h>
#include <stdint.h>

#include "hist.h"

#define LP_OL_MAX_STATUS 600   /* statuses 100..599 are counted one by one; 0 = no response (socket) */

typedef struct lp_ol_request {
  const char *data;   /* a whole request: request line, headers (keep-alive), body */
  size_t len;
} lp_ol_request;

typedef struct lp_ol_config {
  const char *host;            /* IPv4 address, e.g. "127.0.0.1" */
  int port;
  const lp_ol_request *reqs;   /* >= 1 request, used in turn; must outlive the call */
  size_t nreqs;
  unsigned connections;        /* pool size, >= 1 */
  double qps;                  /* > 0: open loop at this rate; 0: closed loop */
  double warmup_s;             /* >= 0: requests scheduled in this first window are not recorded */
  double duration_s;           /* > 0: the measured window after the warm-up (closed loop: an upper bound) */
  uint64_t max_requests;       /* closed loop: stop after this many recorded answers and time-outs (0 = by
                                  duration) */
  double drain_s;              /* > 0: how long the answers still in flight are awaited after the window */
  double request_timeout_s;    /* > 0: a request not wholly answered this long after its send is a time-out:
                                  counted in timeouts (and lost when recorded), reported on stderr, and its
                                  connection is closed and reopened; 0 = wait as long as the run lasts */
} lp_ol_config;

typedef struct lp_ol_result {
  lp_hist latency;             /* ns; open loop from the scheduled time, closed loop from the send */
  lp_hist send_lag;            /* ns from the scheduled time to the send (open loop): generator delay + pool wait */
  uint64_t scheduled;          /* recorded requests scheduled in the window */
  uint64_t completed;          /* recorded requests answered (any status) */
  uint64_t unsent;             /* recorded requests still queued when the run ended (the pool was saturated) */
  uint64_t lost;               /* recorded requests sent but not answered: connection error or drain timeout */
  uint64_t by_status[LP_OL_MAX_STATUS];  /* answers by HTTP status (index 0 unused) */
  uint64_t connects;           /* successful connects (>= connections; more means reconnections) */
  uint64_t connect_errors;     /* failed connects */
  uint64_t socket_errors;      /* read/write errors, resets, parse errors, early close */
  uint64_t timeouts;           /* requests not answered within request_timeout_s (a server stall) */
  double elapsed_s;            /* measured window: first recorded schedule .. last recorded answer */
} lp_ol_result;

/* Fills c with the defaults: host 127.0.0.1, 16 connections, open loop at 250 QPS, no warm-up, 10 s,
 * drain 10 s, no per-request time-out; reqs, nreqs and port are left for the caller. Any thread. */
void lp_ol_config_default(lp_ol_config *c);

/* Runs the load described by c and fills *r (the caller owns r; it is large, ~120 KB: allocate it).
 * Returns 0 when the run took place (errors of the server or its connections are counted in *r, not
 * returned), LP_EINVAL for a bad configuration, LP_EIO when none of the first connects succeeded (or the
 * timerfd / uv loop failed), LP_ENOMEM, with the reason in errstr. Blocks the calling thread for warmup + duration (+ drain at most). */
int lp_ol_run(const lp_ol_config *c, lp_ol_result *r, char *errstr, size_t errstr_size);

/* Answers with a status in 200..299. */
uint64_t lp_ol_ok(const lp_ol_result *r);

#endif
