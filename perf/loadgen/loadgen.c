/*
 * loadgen: an open-loop HTTP load generator for POST /v1/leads (issue 8, perf/README.md).
 *
 *   loadgen --url http://127.0.0.1:PORT --prompts FILE [--qps R] [--duration S] [--connections C]
 *           [--warmup S] [--step R --steps N] [-k K] [--no-explain] [--drain S] [--json]
 *
 * Request i of a stage is scheduled at start + i / rate whatever the server does; its latency runs from
 * that scheduled time to the end of the answer (no coordinated omission). --step adds R queries per second
 * to each following stage (a stepped rate); every stage runs --duration after its own --warmup. Prints
 * p50/p90/p95/p99/p99.9/max, errors by status and the achieved rate of each stage from a log-linear
 * histogram. Exit 0 when every stage ran (whatever the server answered), 1 when it could not run, 2 on a
 * usage error.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "lt.h"

typedef struct lg_opts {
  const char *url, *prompts;
  double qps, duration, warmup, step, drain;
  unsigned long connections, steps, k;
  int explain, json;
} lg_opts;

static void usage(FILE *f) {
  fprintf(f,
          "usage: loadgen --url http://127.0.0.1:PORT --prompts FILE [options]\n"
          "  --url URL          the server (loopback only)\n"
          "  --prompts FILE     JSON Lines with \"prompt\" (perf/world prompts.jsonl) or one prompt a line\n"
          "  --qps R            scheduled rate of the first stage (default 250)\n"
          "  --duration S       measured seconds per stage (default 10)\n"
          "  --warmup S         seconds per stage sent but not recorded (default 1)\n"
          "  --connections C    keep-alive connections (default 16; one request in flight on each)\n"
          "  --step R           rate added at each following stage (default 0)\n"
          "  --steps N          stages (default 1)\n"
          "  --drain S          how long answers in flight are awaited after a stage (default 10)\n"
          "  -k K               leads per query (default 25)\n"
          "  --no-explain       send \"explain\": false\n"
          "  --json             one JSON object on stdout instead of the table\n");
}

static int parse(int argc, char **argv, lg_opts *o) {
  memset(o, 0, sizeof *o);
  o->qps = 250;
  o->duration = 10;
  o->warmup = 1;
  o->drain = 10;
  o->connections = 16;
  o->steps = 1;
  o->k = 25;
  o->explain = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    double d = 0;
    int bad = 0;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      exit(0);
    }
    if (!strcmp(a, "--json")) { o->json = 1; continue; }
    if (!strcmp(a, "--no-explain")) { o->explain = 0; continue; }
    if (!v) {
      fprintf(stderr, "loadgen: %s: unknown option or missing value (see --help)\n", a);
      return -1;
    }
    if (!strcmp(a, "--url")) o->url = v;
    else if (!strcmp(a, "--prompts")) o->prompts = v;
    else if (!strcmp(a, "--qps")) bad = lt_num(v, 0.001, 1e6, &o->qps);
    else if (!strcmp(a, "--duration")) bad = lt_num(v, 0.001, 86400, &o->duration);
    else if (!strcmp(a, "--warmup")) bad = lt_num(v, 0, 3600, &o->warmup);
    else if (!strcmp(a, "--drain")) bad = lt_num(v, 0.001, 3600, &o->drain);
    else if (!strcmp(a, "--step")) bad = lt_num(v, -1e6, 1e6, &o->step);
    else if (!strcmp(a, "--steps")) { bad = lt_num(v, 1, 1000, &d); o->steps = (unsigned long)d; }
    else if (!strcmp(a, "--connections")) { bad = lt_num(v, 1, 10000, &d); o->connections = (unsigned long)d; }
    else if (!strcmp(a, "-k")) { bad = lt_num(v, 1, 1000, &d); o->k = (unsigned long)d; }
    else {
      fprintf(stderr, "loadgen: unknown option '%s' (see --help)\n", a);
      return -1;
    }
    if (bad) {
      fprintf(stderr, "loadgen: bad value '%s' for %s (see --help)\n", v, a);
      return -1;
    }
    i++;
  }
  if (!o->url || !o->prompts) {
    fprintf(stderr, "loadgen: --url and --prompts are required (see --help)\n");
    return -1;
  }
  if (o->qps + o->step * (double)(o->steps - 1) <= 0) {
    fprintf(stderr, "loadgen: the last stage's rate would not be positive\n");
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  lg_opts o;
  if (parse(argc, argv, &o) != 0) return 2;
  int port;
  if (lt_parse_url(o.url, &port) != 0) {
    fprintf(stderr, "loadgen: --url must be http://127.0.0.1:PORT\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  char err[256];
  lp_ol_request *reqs = NULL;
  size_t nreqs = 0;
  if (lt_load_prompts(o.prompts, (unsigned)o.k, o.explain, &reqs, &nreqs, err, sizeof err) != 0) {
    fprintf(stderr, "loadgen: %s\n", err);
    return 1;
  }
  lp_ol_result *r = lp_malloc(sizeof *r);
  json_t *stages = json_array();
  int rc = 0;
  char machine[512];
  lt_machine_line(machine, sizeof machine);
  if (!o.json) printf("loadgen: POST /v1/leads on %s, %zu prompts, k=%lu, %lu connections; %s\n", o.url, nreqs, o.k,
                      o.connections, machine);
  for (unsigned long s = 0; r && s < o.steps && rc == 0; s++) {
    lp_ol_config c;
    lp_ol_config_default(&c);
    c.port = port;
    c.reqs = reqs;
    c.nreqs = nreqs;
    c.connections = (unsigned)o.connections;
    c.qps = o.qps + o.step * (double)s;
    c.warmup_s = o.warmup;
    c.duration_s = o.duration;
    c.drain_s = o.drain;
    if (lp_ol_run(&c, r, err, sizeof err) != 0) {
      fprintf(stderr, "loadgen: %s\n", err);
      rc = 1;
      break;
    }
    json_array_append_new(stages, lt_run_json(r, c.qps));
    if (!o.json) {
      char title[128];
      snprintf(title, sizeof title, "stage %lu: %.0f QPS for %.0f s (after %.0f s warm-up), latency from the schedule:",
               s + 1, c.qps, c.duration_s, c.warmup_s);
      lt_print_run(stdout, title, r, c.qps);
    }
  }
  if (!r) {
    fprintf(stderr, "loadgen: out of memory\n");
    rc = 1;
  }
  if (rc == 0 && o.json) {
    json_t *j = json_pack("{s:s, s:o, s:{s:s, s:I, s:I, s:f, s:f, s:f, s:I, s:I}, s:o}", "tool", "loadgen", "machine",
                          lt_machine_json(), "params", "url", o.url, "prompts", (json_int_t)nreqs, "connections",
                          (json_int_t)o.connections, "qps", o.qps, "step", o.step, "duration_s", o.duration, "steps",
                          (json_int_t)o.steps, "k", (json_int_t)o.k, "stages", json_incref(stages));
    if (!j || lt_write_json(j, "-") != 0) rc = 1;
    json_decref(j);
  }
  json_decref(stages);
  lp_free(r);
  lt_requests_free(reqs, nreqs);
  return rc;
}
