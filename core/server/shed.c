/*
 * shed.c: admission control for queries (a bound on queries in flight, CoDel on the ring's queue delay).
 * See shed.h.
 */
#include "server/shed.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "leadpoet/common.h"

int lp__shed_init(lp_shed *s, uint32_t max_in_flight, int64_t target_ms, int64_t interval_ms, lp_metrics *m) {
  memset(s, 0, sizeof(*s));
  s->max_in_flight = max_in_flight;
  s->target_ns = target_ms > 0 ? (uint64_t)target_ms * 1000000u : 0;
  s->interval_ns = interval_ms > 0 ? (uint64_t)interval_ms * 1000000u : 1000000u;
  if (m == NULL) return LP_OK;
  const char *reason[] = { "reason" };
  lp_metric_family *f = lp_metrics_family(m, LP_METRIC_COUNTER, "leadpoet_queries_shed_total",
                                          "Queries answered 503 by admission control, by the rule that shed them.",
                                          reason, 1, NULL, 0);
  if (f == NULL) return LP_ENOMEM;
  const char *in_flight[] = { "in_flight" }, *delay[] = { "queue_delay" };
  s->m_shed_in_flight = lp_metrics_series(f, in_flight);
  s->m_shed_delay = lp_metrics_series(f, delay);
  s->m_delay = lp_metrics_gauge(m, "leadpoet_query_queue_delay_seconds",
                                "Time the last query waited in a worker's ring before the worker picked it up.");
  s->m_in_flight = lp_metrics_gauge(m, "leadpoet_queries_in_flight", "Queries scattered to the workers and not yet answered.");
  if (!s->m_shed_in_flight || !s->m_shed_delay || !s->m_delay || !s->m_in_flight) return LP_ENOMEM;
  lp_counter_add(s->m_shed_in_flight, 0);  /* both series show from the start, at 0 */
  lp_counter_add(s->m_shed_delay, 0);
  return LP_OK;
}

static void set_in_flight(lp_shed *s, uint32_t n) {
  s->in_flight = n;
  if (s->m_in_flight != NULL) lp_gauge_set(s->m_in_flight, (double)n);
}

lp_shed_verdict lp__shed_admit(lp_shed *s, uint64_t now_ns) {
  if (s->max_in_flight > 0 && s->in_flight >= s->max_in_flight) {
    s->shed_in_flight++;
    if (s->m_shed_in_flight != NULL) lp_counter_add(s->m_shed_in_flight, 1);
    return LP_SHED_IN_FLIGHT;
  }
  if (s->shedding && s->in_flight == 0) s->shedding = 0;  /* the queue drained: nothing waits any more */
  if (s->shedding) {
    if (now_ns < s->next_probe_ns) {
      s->shed_delay++;
      if (s->m_shed_delay != NULL) lp_counter_add(s->m_shed_delay, 1);
      return LP_SHED_QUEUE_DELAY;
    }
    s->next_probe_ns = now_ns + s->interval_ns;  /* this one is the probe */
  }
  set_in_flight(s, s->in_flight + 1);
  return LP_SHED_ADMIT;
}

/* CoDel's rule: a sojourn under the target ends the episode; one above it starts the clock, and the
 * queue counts as standing once the sojourns stayed above for a whole interval. */
void lp__shed_sample(lp_shed *s, uint64_t sojourn_ns, uint64_t now_ns) {
  if (s->m_delay != NULL) lp_gauge_set(s->m_delay, (double)sojourn_ns / 1e9);
  if (s->target_ns == 0) return;
  if (sojourn_ns < s->target_ns) {
    if (s->shedding) lp_log_info("queue delay under its target again: admitting queries", "sojourn_ms=%.3f",
                                 (double)sojourn_ns / 1e6);
    s->first_above_ns = 0;
    s->shedding = 0;
    return;
  }
  if (s->first_above_ns == 0) {
    s->first_above_ns = now_ns + s->interval_ns;
  } else if (!s->shedding && now_ns >= s->first_above_ns) {
    s->shedding = 1;
    s->next_probe_ns = now_ns + s->interval_ns;
    lp_log_warn("queue delay above its target for an interval: shedding queries", "sojourn_ms=%.3f target_ms=%.3f",
                (double)sojourn_ns / 1e6, (double)s->target_ns / 1e6);
  }
}

void lp__shed_done(lp_shed *s) {
  if (s->in_flight > 0) set_in_flight(s, s->in_flight - 1);
}

long lp__shed_retry_after(const lp_shed *s, lp_shed_verdict v) {
  if (v != LP_SHED_QUEUE_DELAY) return 1;
  long secs = (long)ceil((double)s->interval_ns / 1e9);
  return secs < 1 ? 1 : secs;
}

void lp__shed_reject(const lp_shed *s, lp_shed_verdict v, lp_http_req *req) {
  char ra[24];
  snprintf(ra, sizeof(ra), "%ld", lp__shed_retry_after(s, v));
  lp_http_add_header(req, "Retry-After", ra);
  if (v == LP_SHED_IN_FLIGHT) {
    lp_http_respond_error(req, 503, "overloaded", "%u queries are in flight, the most this server takes "
                          "(query.max_in_flight): retry later", s->max_in_flight);
  } else {
    lp_http_respond_error(req, 503, "overloaded", "queries wait more than %.0f ms for a worker "
                          "(query.queue_target): shedding load, retry later", (double)s->target_ns / 1e6);
  }
}
