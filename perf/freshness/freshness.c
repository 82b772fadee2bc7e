/*
 * freshness: time from an event to the first query that finds it, P50/P99 over N events, while a
 * background query load runs (issue 8; fresh.h says what one probe measures).
 *
 *   freshness [--events N] [--qps R] [--leads N | --world DIR] [--url http://127.0.0.1:PORT --prompts FILE]
 *             [--interval S] [--timeout S] [--poll-ms MS] [--leadpoet PATH] [--world-bin PATH] [--json]
 *
 * Without --url it starts its own server (lt_server_up: a perf/world market, a fresh state dir) and stops
 * it at the end. Exit 0 when the probes ran (whatever they found), 1 when it could not run, 2 on a usage
 * error.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "fresh.h"
#include "lt.h"

typedef struct fr_opts {
  lt_server_opts srv;
  const char *url, *prompts;
  double qps, interval, timeout, poll_ms;
  unsigned long events, threads;
  int json;
} fr_opts;

typedef struct fr_bg {
  lp_ol_config c;
  lp_ol_result *r;
  atomic_int *stop;
  uint64_t answered, errors;
  int rc;
  char err[256];
} fr_bg;

static void usage(FILE *f) {
  fprintf(f,
          "usage: freshness [options]\n"
          "  --events N       events timed (default 1000)\n"
          "  --qps R          background query load meanwhile, open loop (default 50; 0 = none)\n"
          "  --interval S     least time between the starts of two events (default 0.02)\n"
          "  --timeout S      an event not found after this long counts as not found (default 10)\n"
          "  --poll-ms MS     pause between the queries of one event (default 1)\n"
          "  --threads N      probes in flight at once, one connection each (default 8)\n"
          "  --leads N        leads of the generated market (default 10000)\n"
          "  --world DIR      use the market in DIR (generated there when absent)\n"
          "  --url URL        probe a running server (http://127.0.0.1:PORT) instead of starting one\n"
          "  --prompts FILE   with --url: prompts of the background load (default: none, --qps ignored)\n"
          "  --leadpoet PATH  the server binary (default %s)\n"
          "  --world-bin PATH the world generator (default %s)\n"
          "  --json           one JSON object on stdout\n",
          LP_LT_LEADPOET, LP_LT_WORLD);
}

static int parse(int argc, char **argv, fr_opts *o) {
  memset(o, 0, sizeof *o);
  o->srv.leadpoet = LP_LT_LEADPOET;
  o->srv.world_bin = LP_LT_WORLD;
  o->srv.leads = 10000;
  o->srv.seed = 1;
  o->events = 1000;
  o->qps = 50;
  o->interval = 0.02;
  o->timeout = 10;
  o->poll_ms = 1;
  o->threads = 8;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    double d = 0;
    int bad = 0;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      exit(0);
    }
    if (!strcmp(a, "--json")) { o->json = 1; continue; }
    if (!v) {
      fprintf(stderr, "freshness: %s: unknown option or missing value (see --help)\n", a);
      return -1;
    }
    if (!strcmp(a, "--events")) { bad = lt_num(v, 1, 1e7, &d); o->events = (unsigned long)d; }
    else if (!strcmp(a, "--qps")) bad = lt_num(v, 0, 1e6, &o->qps);
    else if (!strcmp(a, "--interval")) bad = lt_num(v, 0, 3600, &o->interval);
    else if (!strcmp(a, "--timeout")) bad = lt_num(v, 0.001, 3600, &o->timeout);
    else if (!strcmp(a, "--threads")) { bad = lt_num(v, 1, 1024, &d); o->threads = (unsigned long)d; }
    else if (!strcmp(a, "--poll-ms")) bad = lt_num(v, 0, 10000, &o->poll_ms);
    else if (!strcmp(a, "--leads")) { bad = lt_num(v, 1, 50e6, &d); o->srv.leads = (unsigned long long)d; }
    else if (!strcmp(a, "--world")) o->srv.world_dir = v;
    else if (!strcmp(a, "--url")) o->url = v;
    else if (!strcmp(a, "--prompts")) o->prompts = v;
    else if (!strcmp(a, "--leadpoet")) o->srv.leadpoet = v;
    else if (!strcmp(a, "--world-bin")) o->srv.world_bin = v;
    else {
      fprintf(stderr, "freshness: unknown option '%s' (see --help)\n", a);
      return -1;
    }
    if (bad) {
      fprintf(stderr, "freshness: bad value '%s' for %s (see --help)\n", v, a);
      return -1;
    }
    i++;
  }
  o->srv.quiet = o->json;
  return 0;
}

/* The background load: open-loop windows of c.duration_s one after the other until the probes are done
 * (lp_ol_run has no stop hook, so the load is cut in short windows; between two there is only a reconnect). */
static void *bg_main(void *arg) {
  fr_bg *b = arg;
  while (!atomic_load(b->stop) && b->rc == 0) {
    b->rc = lp_ol_run(&b->c, b->r, b->err, sizeof b->err);
    b->answered += lp_ol_ok(b->r);
    b->errors += lt_run_errors(b->r);
  }
  return NULL;
}

int main(int argc, char **argv) {
  fr_opts o;
  if (parse(argc, argv, &o) != 0) return 2;
  signal(SIGPIPE, SIG_IGN);
  lt_server s;
  memset(&s, 0, sizeof s);
  char err[256], prompts[700];
  int port = 0, failed = 0;
  if (o.url) {
    if (lt_parse_url(o.url, &port) != 0) {
      fprintf(stderr, "freshness: --url must be http://127.0.0.1:PORT\n");
      return 2;
    }
    snprintf(prompts, sizeof prompts, "%s", o.prompts ? o.prompts : "");
  } else {
    if (lt_server_up(&s, &o.srv, err, sizeof err) != 0) {
      fprintf(stderr, "freshness: %s\n", err);
      lt_server_down(&s, 1);
      return 1;
    }
    port = s.port;
    snprintf(prompts, sizeof prompts, "%s/prompts.jsonl", s.world);
  }
  lt_fresh_opts fo = { .port = port, .events = (unsigned)o.events, .interval_s = o.interval, .timeout_s = o.timeout,
                       .poll_ms = o.poll_ms, .threads = o.threads, .nonce = (uint64_t)time(NULL) };
  atomic_int stop = 0;
  fo.stop = &stop;
  lt_fresh_result *fr = lp_malloc(sizeof *fr);
  fr_bg bg;
  memset(&bg, 0, sizeof bg);
  lp_ol_request *reqs = NULL;
  size_t nreqs = 0;
  pthread_t th;
  int have_bg = 0;
  if (o.qps > 0 && prompts[0]) {
    if (lt_load_prompts(prompts, 25, 1, &reqs, &nreqs, err, sizeof err) != 0) {
      fprintf(stderr, "freshness: %s\n", err);
      failed = 1;
    } else {
      lp_ol_config_default(&bg.c);
      bg.c.port = port;
      bg.c.reqs = reqs;
      bg.c.nreqs = nreqs;
      bg.c.qps = o.qps;
      bg.c.duration_s = 1;
      bg.c.drain_s = 5;
      bg.stop = &stop;
      bg.r = lp_malloc(sizeof *bg.r);
      have_bg = bg.r && pthread_create(&th, NULL, bg_main, &bg) == 0;
      if (!have_bg) failed = 1;
    }
  }
  if (!failed && fr) {
    if (!o.json) fprintf(stderr, "freshness: %lu events, background load %.0f QPS ...\n", o.events, have_bg ? o.qps : 0.0);
    lt_fresh_run(&fo, fr);
  }
  atomic_store(&stop, 1);
  if (have_bg) {
    pthread_join(th, NULL);
    if (bg.rc != 0) fprintf(stderr, "freshness: background load: %s\n", bg.err);
  }
  if (!failed && fr) {
    json_t *j = json_pack("{s:s, s:o, s:{s:f, s:f, s:f}, s:o, s:{s:I, s:I}}", "tool", "freshness", "machine",
                          lt_machine_json(), "params", "background_qps", have_bg ? o.qps : 0.0, "interval_s", o.interval,
                          "timeout_s", o.timeout, "freshness", lt_fresh_json(&fo, fr), "background", "answered",
                          (json_int_t)bg.answered, "errors", (json_int_t)bg.errors);
    if (o.json) lt_write_json(j, "-");
    else {
      json_t *f = json_object_get(j, "freshness");
      printf("freshness: %lu events, %lld found, %lld not found, %lld post errors, %lld query errors; background "
             "%.0f QPS (%llu answered 2xx, %llu errors)\n", o.events, (long long)fr->found, (long long)fr->not_found,
             (long long)fr->post_errors, (long long)fr->query_errors, have_bg ? o.qps : 0.0,
             (unsigned long long)bg.answered, (unsigned long long)bg.errors);
      printf("  event -> queryable (ms): p50 %.3f  p90 %.3f  p99 %.3f  max %.3f\n",
             json_real_value(json_object_get(f, "p50_ms")), json_real_value(json_object_get(f, "p90_ms")),
             json_real_value(json_object_get(f, "p99_ms")), json_real_value(json_object_get(f, "max_ms")));
      printf("  of which the POST /v1/snippets until its 202 (ms): p50 %.3f  p99 %.3f\n",
             json_real_value(json_object_get(f, "post_p50_ms")), json_real_value(json_object_get(f, "post_p99_ms")));
    }
    json_decref(j);
  } else if (!fr) {
    fprintf(stderr, "freshness: out of memory\n");
    failed = 1;
  }
  lt_server_down(&s, failed);
  lp_free(fr);
  lp_free(bg.r);
  lt_requests_free(reqs, nreqs);
  return failed ? 1 : 0;
}
