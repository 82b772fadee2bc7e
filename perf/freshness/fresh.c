/*
 * fresh.c: the freshness probes of fresh.h.
 */
#define _GNU_SOURCE
#include "fresh.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "leadpoet/common.h"
#include "lt.h"

/* Letters only: the analyzer keeps such a word whole, and it matches nothing else in any market. */
static void make_word(uint64_t nonce, unsigned i, char *w, size_t cap) {
  char buf[32];
  size_t n = 0;
  buf[n++] = 'z';
  buf[n++] = 'q';
  for (int k = 0; k < 6; k++, nonce /= 26) buf[n++] = (char)('a' + nonce % 26);
  for (int k = 0; k < 4; k++, i /= 26) buf[n++] = (char)('a' + i % 26);
  buf[n++] = 'x';
  buf[n] = '\0';
  snprintf(w, cap, "%s", buf);
}

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int stopped(const lt_fresh_opts *o) { return o->stop && atomic_load(o->stop); }

/* One probe: post the event, then query until an answer lists its lead or the timeout passes. */
static void probe(const lt_fresh_opts *o, lt_conn *c, unsigned i, lt_fresh_result *r) {
  char word[32], snip[512], query[128], needle[64];
  make_word(o->nonce, i, word, sizeof word);
  int sn = snprintf(snip, sizeof snip,
                    "[{\"id\":\"fresh-%s\",\"miner\":\"fresh-%s\",\"ts\":%lld,\"lead\":{\"domain\":\"%s.io\"},"
                    "\"kind\":\"news\",\"text\":\"Team reviews %s rollout\"}]",
                    word, word, (long long)wall_ms(), word, word);
  int qn = snprintf(query, sizeof query, "{\"prompt\":\"%s\",\"k\":5,\"explain\":false}", word);
  snprintf(needle, sizeof needle, "\"domain\":\"%s.io\"", word);
  int status = 0;
  const char *body = NULL;
  uint64_t t0 = lp_mono_ns();
  if (lt_conn_request(c, "POST", "/v1/snippets", NULL, snip, (size_t)sn, &status, &body, o->timeout_s) != 0 ||
      status != 202 || !strstr(body, "\"accepted\":1")) {
    r->post_errors++;
    return;
  }
  lp_hist_record(&r->post, lp_mono_ns() - t0);
  uint64_t deadline = t0 + (uint64_t)(o->timeout_s * 1e9);
  for (;;) {
    r->queries++;
    int rc = lt_conn_request(c, "POST", "/v1/leads", NULL, query, (size_t)qn, &status, &body, o->timeout_s);
    uint64_t now = lp_mono_ns();
    if (rc != 0 || status != 200) r->query_errors++;
    else if (strstr(body, needle)) {
      lp_hist_record(&r->latency, now - t0);
      r->found++;
      return;
    }
    if (now >= deadline || stopped(o)) {
      r->not_found++;
      return;
    }
    if (o->poll_ms > 0) usleep((useconds_t)(o->poll_ms * 1000.0));
  }
}

typedef struct fresh_worker {
  const lt_fresh_opts *o;
  lt_fresh_result r;
  unsigned first, step;
  uint64_t start;
} fresh_worker;

/* Thread t runs the events t, t + step, t + 2 step, ... each at its scheduled time. */
static void *worker_main(void *arg) {
  fresh_worker *w = arg;
  const lt_fresh_opts *o = w->o;
  lt_conn c;
  lt_conn_init(&c, o->port);
  for (unsigned i = w->first; i < o->events; i += w->step) {
    uint64_t at = w->start + (uint64_t)((double)i * o->interval_s * 1e9);
    while (lp_mono_ns() < at && !stopped(o)) {
      uint64_t left = at - lp_mono_ns();
      usleep((useconds_t)(left > 50000000u ? 50000 : left / 1000 + 1));
    }
    if (stopped(o)) {
      w->r.not_run += (o->events - 1 - i) / w->step + 1;
      break;
    }
    probe(o, &c, i, &w->r);
  }
  lt_conn_close(&c);
  return NULL;
}

int lt_fresh_run(const lt_fresh_opts *o, lt_fresh_result *r) {
  memset(r, 0, sizeof *r);
  lp_hist_reset(&r->latency);
  lp_hist_reset(&r->post);
  if (o->port < 1 || o->port > 65535 || o->events == 0 || !(o->interval_s >= 0) || !(o->timeout_s > 0) ||
      !(o->poll_ms >= 0) || o->threads > 1024)
    return LP_EINVAL;
  unsigned n = o->threads ? o->threads : 1;
  if (n > o->events) n = o->events;
  fresh_worker *w = lp_calloc(n, sizeof *w);
  pthread_t *th = lp_calloc(n, sizeof *th);
  if (!w || !th) {
    lp_free(w);
    lp_free(th);
    return LP_ENOMEM;
  }
  uint64_t start = lp_mono_ns();
  for (unsigned t = 0; t < n; t++) {
    w[t].o = o;
    w[t].first = t;
    w[t].step = n;
    w[t].start = start;
    lp_hist_reset(&w[t].r.latency);
    lp_hist_reset(&w[t].r.post);
  }
  /* thread 0's share runs on the caller's thread; a share whose thread cannot start is counted not run */
  for (unsigned t = 1; t < n; t++)
    if (pthread_create(&th[t], NULL, worker_main, &w[t]) != 0) {
      w[t].r.not_run = (o->events - 1 - t) / n + 1;
      w[t].first = o->events;
    }
  worker_main(&w[0]);
  for (unsigned t = 0; t < n; t++) {
    if (t > 0 && w[t].first < o->events) pthread_join(th[t], NULL);
    lp_hist_merge(&r->latency, &w[t].r.latency);
    lp_hist_merge(&r->post, &w[t].r.post);
    r->found += w[t].r.found;
    r->not_found += w[t].r.not_found;
    r->post_errors += w[t].r.post_errors;
    r->query_errors += w[t].r.query_errors;
    r->not_run += w[t].r.not_run;
    r->queries += w[t].r.queries;
  }
  lp_free(w);
  lp_free(th);
  return 0;
}

static json_t *ms(const lp_hist *h, double q) {
  return h->count ? json_real((double)lp_hist_quantile(h, q) / 1e6) : json_null();
}

json_t *lt_fresh_json(const lt_fresh_opts *o, const lt_fresh_result *r) {
  json_t *j = json_object();
  json_object_set_new(j, "events", json_integer((json_int_t)o->events));
  json_object_set_new(j, "found", json_integer((json_int_t)r->found));
  json_object_set_new(j, "not_found", json_integer((json_int_t)r->not_found));
  json_object_set_new(j, "post_errors", json_integer((json_int_t)r->post_errors));
  json_object_set_new(j, "query_errors", json_integer((json_int_t)r->query_errors));
  json_object_set_new(j, "not_run", json_integer((json_int_t)r->not_run));
  json_object_set_new(j, "queries", json_integer((json_int_t)r->queries));
  json_object_set_new(j, "p50_ms", ms(&r->latency, 0.5));
  json_object_set_new(j, "p90_ms", ms(&r->latency, 0.9));
  json_object_set_new(j, "p99_ms", ms(&r->latency, 0.99));
  json_object_set_new(j, "max_ms", ms(&r->latency, 1.0));
  json_object_set_new(j, "post_p50_ms", ms(&r->post, 0.5));
  json_object_set_new(j, "post_p99_ms", ms(&r->post, 0.99));
  json_object_set_new(j, "mean_ms", r->latency.count ? json_real(lp_hist_mean(&r->latency) / 1e6) : json_null());
  return j;
}
