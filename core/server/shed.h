/*
 * shed.h: admission control for POST /v1/leads: shed load with 503 before latency collapses.
 *
 * Two rules, checked before a query is scattered to the workers:
 *   - in flight: at most query.max_in_flight queries between their scatter and their answer (each one holds a
 *     message in every worker's ring, so this bounds the queries queued per ring). One more answers 503
 *     `overloaded` with Retry-After: 1.
 *   - queue delay (CoDel, Nichols and Jacobson 2012, applied to admission): each worker stamps the time a
 *     query waited in its ring before the worker picked it up (its sojourn). When the sojourns have stayed
 *     above query.queue_target for a whole query.queue_interval, the queue is standing, not a burst: the
 *     server enters the shedding state and answers new queries 503 `overloaded` with Retry-After (the
 *     interval, rounded up to seconds), except one probe per interval so that the delay keeps being measured.
 *     The state ends at the first sojourn under the target, or when no query is in flight (an empty queue
 *     has no delay).
 * Shed queries are counted in leadpoet_queries_shed_total{reason="in_flight"|"queue_delay"}; the last
 * sojourn is leadpoet_query_queue_delay_seconds, the queries in flight leadpoet_queries_in_flight.
 *
 * Everything here runs on the reactor thread; times are monotonic nanoseconds given by the caller (tests
 * drive the state machine with their own clock).
 */
#ifndef LP_SERVER_SHED_H
#define LP_SERVER_SHED_H

#include <stdint.h>

#include "http/http.h"
#include "metrics/metrics.h"

typedef enum lp_shed_verdict {
  LP_SHED_ADMIT = 0,
  LP_SHED_IN_FLIGHT,         /* over query.max_in_flight */
  LP_SHED_QUEUE_DELAY,       /* the queue delay stood above its target for an interval */
} lp_shed_verdict;

typedef struct lp_shed {
  uint32_t max_in_flight;    /* 0 = no bound */
  uint64_t target_ns;        /* 0 = the queue-delay rule is off */
  uint64_t interval_ns;
  uint32_t in_flight;
  uint64_t first_above_ns;   /* when the sojourn first exceeded the target in this episode; 0 = under it */
  int shedding;              /* in the shedding state */
  uint64_t next_probe_ns;    /* while shedding: the next query admitted to measure the delay */
  uint64_t shed_in_flight, shed_delay;  /* totals (also in the metric) */
  lp_metric *m_shed_in_flight, *m_shed_delay, *m_delay, *m_in_flight;  /* may be NULL (tests) */
} lp_shed;

/* Sets the bounds (max_in_flight 0: none; target_ms 0: no queue-delay rule) and looks up the metrics in m
 * (NULL: none). Returns 0 or LP_ENOMEM. Reactor thread, at start. */
int lp__shed_init(lp_shed *s, uint32_t max_in_flight, int64_t target_ms, int64_t interval_ms, lp_metrics *m);

/* Decides a new query at now_ns. LP_SHED_ADMIT counts it in flight: the caller must call lp__shed_done once
 * it is answered. Otherwise nothing is counted in flight and the caller answers 503 (lp__shed_reject).
 * Reactor thread. */
lp_shed_verdict lp__shed_admit(lp_shed *s, uint64_t now_ns);

/* A worker picked a query up after it waited sojourn_ns in the ring: feeds the queue-delay rule. Reactor
 * thread (the worker stamps the times into the message; the reactor reads them when it comes back). */
void lp__shed_sample(lp_shed *s, uint64_t sojourn_ns, uint64_t now_ns);

/* An admitted query was answered (or failed): one less in flight. Reactor thread. */
void lp__shed_done(lp_shed *s);

/* The Retry-After of a verdict in whole seconds (at least 1). Any thread. */
long lp__shed_retry_after(const lp_shed *s, lp_shed_verdict v);

/* Answers req 503 `overloaded` with Retry-After and a message that names the rule. Reactor thread. */
void lp__shed_reject(const lp_shed *s, lp_shed_verdict v, lp_http_req *req);

#endif
