/*
 * fresh.h: freshness probes (issue 8): how long after an event is posted a query finds it.
 *
 * Event i is one snippet about a new lead (domain "<word>.io") whose text holds a word used nowhere else;
 * the time runs from just before its POST /v1/snippets to the end of the first POST /v1/leads answer (prompt
 * = that word, polled every poll_ms) that lists the lead. So it covers the whole path: HTTP, admission,
 * (Kafka when the server runs it), the shard's apply and index, and one query. Each event has its own
 * miner, so no throttle budget is shared with the load, and its text is under the near-duplicate stage's
 * minimum length, so probes are never compared with each other.
 *
 * Threads: lt_fresh_run blocks its caller; it may run on a thread of its own beside other load.
 */
#ifndef LP_PERF_FRESH_H
#define LP_PERF_FRESH_H

#include <stdatomic.h>
#include <stdint.h>

#include <jansson.h>

#include "hist.h"

typedef struct lt_fresh_opts {
  int port;
  unsigned events;            /* events to time */
  double interval_s;          /* event i starts no earlier than start + i * interval_s (0: back to back) */
  double timeout_s;           /* an event not found after this long is counted as not found */
  double poll_ms;             /* pause between two queries of one event */
  unsigned threads;           /* probes in flight at once, each on its own connection (0 = 1) */
  uint64_t nonce;             /* makes the words of a run unique (e.g. the time) */
  const atomic_int *stop;     /* when not NULL and set, the remaining events are not run */
} lt_fresh_opts;

typedef struct lt_fresh_result {
  lp_hist latency;            /* ns from the post to the answer that found the event */
  lp_hist post;               /* ns of the POST /v1/snippets alone (until its 202) */
  uint64_t found, not_found, post_errors, query_errors, not_run;
  uint64_t queries;           /* queries sent by the probes */
} lt_fresh_result;

/* Runs o->events probes against 127.0.0.1:o->port and fills *r (owned by the caller; ~60 KB). 0, or
 * LP_EINVAL for bad options. Errors of the server are counted in *r, not returned. */
int lt_fresh_run(const lt_fresh_opts *o, lt_fresh_result *r);

/* *r as JSON: {"events", "found", "not_found", "post_errors", "query_errors", "not_run", "queries",
 * "p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms", "post_p50_ms", "post_p99_ms"} (latencies null when
 * nothing was measured). */
json_t *lt_fresh_json(const lt_fresh_opts *o, const lt_fresh_result *r);

#endif
