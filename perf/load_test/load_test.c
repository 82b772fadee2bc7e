/*
 * load_test: the mixed scenario of issue 8 on one machine (perf/README.md, docs/performance.md).
 *
 *   1. a perf/world market loaded into a fresh `leadpoet serve` (free port, fresh state dir);
 *   2. mixed: queries at --qps (open loop) for --duration while snippets stream in at --ingest-rate
 *      (HTTP batches, or Kafka with --ingest kafka) and freshness probes run;
 *   3. burst: --burst-qps for --burst-duration, the stream still running;
 *   4. search: the highest rate whose P99 holds --search-p99 ms with no error;
 *   5. the server's own figures: leads, memory per snippet, cost per lead, LLM share.
 * Prints a table, and with --out FILE (or --json) the JSON that perf/validate_sla checks. Exit 0 when the
 * scenario ran (whatever the figures), 1 when it could not, 2 on a usage error.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "feed.h"
#include "fresh.h"
#include "load_test.h"
#include "lt.h"

typedef struct fresh_thread {
  lt_fresh_opts o;
  lt_fresh_result *r;
  atomic_int stop;
} fresh_thread;

static void *fresh_main(void *arg) {
  fresh_thread *t = arg;
  lt_fresh_run(&t->o, t->r);
  return NULL;
}

/* Snippets the server has received so far, whatever became of them (leadpoet_snippets_total, every
 * result), or -1. */
static double snippets_seen(int port) {
  json_t *s = lt_server_json(port, 0);
  double v = -1;
  if (s) {
    v = 0;
    const char *k;
    json_t *x;
    json_object_foreach(json_object_get(s, "snippets_by_result"), k, x) v += json_real_value(x);
  }
  json_decref(s);
  return v;
}

/* One open-loop run at rate qps; NULL when it could not run (the reason printed). */
static json_t *run_at(int port, const lp_ol_request *reqs, size_t n, double qps, double dur, double warm,
                      unsigned conns, const char *title, int quiet, lp_ol_result *r) {
  lp_ol_config c;
  lp_ol_config_default(&c);
  c.port = port;
  c.reqs = reqs;
  c.nreqs = n;
  c.qps = qps;
  c.duration_s = dur;
  c.warmup_s = warm;
  c.connections = conns;
  c.drain_s = 10;
  char err[256];
  if (lp_ol_run(&c, r, err, sizeof err) != 0) {
    fprintf(stderr, "load_test: %s: %s\n", title, err);
    return NULL;
  }
  if (!quiet) lt_print_run(stderr, title, r, qps);
  return lt_run_json(r, qps);
}

static int passes(const lp_ol_result *r, double p99_ms) {
  return lt_run_errors(r) == 0 && r->latency.count > 0 && (double)lp_hist_quantile(&r->latency, 0.99) / 1e6 <= p99_ms;
}

/* Doubling from --search-from until a step fails, then --search-refine bisections. */
static json_t *search(const lt_opts *o, int port, const lp_ol_request *reqs, size_t n, lp_ol_result *r) {
  json_t *steps = json_array();
  double pass = 0, fail = 0, rate = o->search_from;
  int halvings = 0;
  for (;;) {
    char title[96];
    snprintf(title, sizeof title, "search step: %.0f QPS", rate);
    json_t *j = run_at(port, reqs, n, rate, o->search_step, 1, o->search_conns, title, o->quiet, r);
    if (!j) break;
    int ok = passes(r, o->search_p99);
    json_object_set_new(j, "pass", json_boolean(ok));
    json_array_append_new(steps, j);
    sleep(2);   /* the server drains what a failed step left queued */
    if (ok) pass = rate;
    else fail = rate;
    if (ok && !fail) {
      if (rate * 2 > o->search_max) break;
      rate *= 2;
    } else if (!ok && !pass) {
      if (++halvings > 4 || rate / 2 < 1) break;
      rate /= 2;
    } else {
      break;
    }
  }
  for (unsigned i = 0; pass > 0 && fail > 0 && i < o->search_refine; i++) {
    double mid = (pass + fail) / 2;
    char title[96];
    snprintf(title, sizeof title, "search refine: %.0f QPS", mid);
    json_t *j = run_at(port, reqs, n, mid, o->search_step, 1, o->search_conns, title, o->quiet, r);
    if (!j) break;
    int ok = passes(r, o->search_p99);
    json_object_set_new(j, "pass", json_boolean(ok));
    json_array_append_new(steps, j);
    sleep(2);
    if (ok) pass = mid;
    else fail = mid;
  }
  return json_pack("{s:f, s:f, s:o}", "target_p99_ms", o->search_p99, "max_qps", pass, "steps", steps);
}

static int start_feed(const lt_opts *o, const lt_server *s, lt_feed **feed, json_t *ingest) {
  char err[256], brokers[256] = "";
  if (o->ingest_kafka) {
    json_t *st = lt_get_json(s->port, "/v1/status");
    json_t *k = st ? json_object_get(st, "kafka") : NULL;
    const char *m = k ? json_string_value(json_object_get(k, "mode")) : NULL;
    const char *boot = k ? json_string_value(json_object_get(k, "bootstrap")) : NULL;
    char mode[32];
    snprintf(mode, sizeof mode, "%s", m ? m : "absent");
    if (boot) snprintf(brokers, sizeof brokers, "%s", boot);
    json_decref(st);   /* m and boot die with it: copied above */
    if (!strcmp(mode, "absent") || !strcmp(mode, "off") || !brokers[0]) {
      fprintf(stderr, "load_test: --ingest kafka: the server runs no Kafka (its /v1/status kafka.mode: %s)\n", mode);
      return -1;
    }
    json_object_set_new(ingest, "brokers", json_string(brokers));
  }
  lt_feed_opts fo = { .port = s->port, .brokers = o->ingest_kafka ? brokers : NULL, .world_bin = o->srv.world_bin,
                      .leadpoet = o->srv.leadpoet, .rate = o->ingest_rate, .seed = s->seed,
                      .leads = s->leads ? s->leads : o->srv.leads, .miners = o->stream_miners,
                      .connections = o->ingest_conns, .log = s->log };
  if (lt_feed_start(feed, &fo, err, sizeof err) != 0) {
    fprintf(stderr, "load_test: the snippet stream did not start: %s\n", err);
    return -1;
  }
  return 0;
}

/* The mixed phase: queries at --qps, the stream running, freshness probes beside. */
static json_t *mixed(const lt_opts *o, int port, const lp_ol_request *reqs, size_t n, lp_ol_result *r,
                     json_t **fresh_out) {
  fresh_thread ft;
  memset(&ft, 0, sizeof ft);
  pthread_t th;
  int have_fresh = 0;
  if (o->fresh_events > 0) {
    ft.r = lp_malloc(sizeof *ft.r);
    ft.o = (lt_fresh_opts){ .port = port, .events = o->fresh_events, .interval_s = o->duration / o->fresh_events,
                            .timeout_s = 10, .poll_ms = 1, .threads = 8, .nonce = (uint64_t)time(NULL),
                            .stop = &ft.stop };
    have_fresh = ft.r && pthread_create(&th, NULL, fresh_main, &ft) == 0;
  }
  char title[128];
  snprintf(title, sizeof title, "mixed: %.0f QPS for %.0f s with the snippet stream, latency from the schedule:",
           o->qps, o->duration);
  json_t *j = run_at(port, reqs, n, o->qps, o->duration, o->warmup, o->connections, title, o->quiet, r);
  if (have_fresh) {
    atomic_store(&ft.stop, 1);
    pthread_join(th, NULL);
    *fresh_out = lt_fresh_json(&ft.o, ft.r);
  }
  lp_free(ft.r);
  return j;
}

static int scenario(const lt_opts *o, lt_server *s, json_t *out) {
  char err[256], path[700];
  snprintf(path, sizeof path, "%s/prompts.jsonl", s->world);
  lp_ol_request *reqs = NULL;
  size_t n = 0;
  if (lt_load_prompts(path, o->k, o->explain, &reqs, &n, err, sizeof err) != 0) {
    fprintf(stderr, "load_test: %s\n", err);
    return -1;
  }
  json_object_set_new(out, "server_loaded", lt_server_json(s->port, s->pid));
  lp_ol_result *r = lp_malloc(sizeof *r);
  lt_feed *feed = NULL;
  json_t *ingest = json_pack("{s:s, s:f}", "mode", o->ingest_kafka ? "kafka" : "http", "target_per_s", o->ingest_rate);
  int rc = r ? 0 : -1;
  if (rc == 0 && o->ingest_rate > 0) rc = start_feed(o, s, &feed, ingest);
  if (rc == 0) {
    double m0 = snippets_seen(s->port);
    uint64_t t0 = lp_mono_ns();
    json_t *fresh = NULL;
    json_t *mx = mixed(o, s->port, reqs, n, r, &fresh);
    double m1 = snippets_seen(s->port);
    double secs = (double)(lp_mono_ns() - t0) / 1e9;
    if (!mx) rc = -1;
    else json_object_set_new(out, "mixed", mx);
    if (fresh) json_object_set_new(out, "freshness", fresh);
    json_object_set_new(ingest, "server_received_per_s", m0 >= 0 && m1 >= 0 ? json_real((m1 - m0) / secs) : json_null());
  }
  if (rc == 0 && o->burst_qps > 0) {
    char title[128];
    snprintf(title, sizeof title, "burst: %.0f QPS for %.0f s:", o->burst_qps, o->burst_duration);
    json_t *b = run_at(s->port, reqs, n, o->burst_qps, o->burst_duration, 1, o->burst_conns, title, o->quiet, r);
    if (b) json_object_set_new(out, "burst", b);
    else rc = -1;
    sleep(2);
  }
  if (rc == 0 && o->search_max > 0) json_object_set_new(out, "search", search(o, s->port, reqs, n, r));
  if (feed) {
    lt_feed_stats fs;
    int prc = lt_feed_stop(feed, &fs);
    json_object_set_new(ingest, "lines_posted", json_integer((json_int_t)fs.lines));
    json_object_set_new(ingest, "posts_ok", json_integer((json_int_t)fs.posts_ok));
    json_object_set_new(ingest, "posts_failed", json_integer((json_int_t)fs.posts_failed));
    json_object_set_new(ingest, "lines_lost", json_integer((json_int_t)fs.lines_lost));
    if (o->ingest_kafka) json_object_set_new(ingest, "producer_exit", json_integer(prc));
  }
  json_object_set_new(out, "ingest", ingest);
  lt_wait_applied(s->port, 120);
  json_t *srv = lt_server_json(s->port, s->pid);
  if (srv) {
    json_object_set_new(out, "cost", json_pack("{s:O, s:O, s:O, s:O}", "usd_per_lead_mean",
                                               json_object_get(srv, "usd_per_lead_mean"), "usd_per_lead_p99",
                                               json_object_get(srv, "usd_per_lead_p99"), "llm_hit_rate",
                                               json_object_get(srv, "llm_hit_rate"), "leads_delivered",
                                               json_object_get(srv, "leads_delivered")));
    json_object_set_new(out, "server", srv);
  }
  lp_free(r);
  lt_requests_free(reqs, n);
  return rc;
}

int main(int argc, char **argv) {
  static lt_opts o;
  if (lt_parse_opts(argc, argv, &o) != 0) return 2;
  signal(SIGPIPE, SIG_IGN);
  char err[256];
  lt_server s;
  uint64_t t0 = lp_mono_ns();
  if (lt_server_up(&s, &o.srv, err, sizeof err) != 0) {
    fprintf(stderr, "load_test: %s\n", err);
    lt_server_down(&s, 1);
    return 1;
  }
  json_t *out = json_object();
  json_object_set_new(out, "tool", json_string("load_test"));
  json_object_set_new(out, "machine", lt_machine_json());
  json_object_set_new(out, "params", lt_opts_json(&o));
  json_object_set_new(out, "world", json_pack("{s:s, s:I, s:f, s:f}", "dir", s.world, "leads", (json_int_t)s.leads,
                                              "generate_s", s.gen_s, "load_s", s.load_s));
  int rc = scenario(&o, &s, out);
  json_object_set_new(out, "total_s", json_real((double)(lp_mono_ns() - t0) / 1e9));
  lt_server_down(&s, rc != 0);
  if (rc == 0) {
    if (!o.json) lt_print_summary(stdout, out);
    if (o.json && lt_write_json(out, "-") != 0) rc = -1;
    if (o.out && lt_write_json(out, o.out) != 0) {
      fprintf(stderr, "load_test: cannot write %s\n", o.out);
      rc = -1;
    }
  }
  json_decref(out);
  return rc == 0 ? 0 : 1;
}
