/*
 * query_bench: latency of POST /v1/leads on a loaded server, single client (closed loop) and at a fixed
 * rate (open loop, measured from the scheduled send time). See perf/README.md.
 *
 *   query_bench [--leads N] [--snippets N] [--world DIR] [--url http://127.0.0.1:PORT [--pid PID]]
 *               [--closed N] [--qps R] [--duration S] [--warmup S] [--connections C] [-k K]
 *               [--timeout S] [--no-explain] [--leadpoet PATH] [--world-bin PATH] [--json]
 *
 * Without --url it generates a market with perf/world (unless --world names one that exists), starts
 * `leadpoet serve` on a free loopback port, loads the snippets with `leadpoet ingest`, measures, and stops
 * the server by its pid. A benchmark: it prints figures and asserts nothing (exit 1 only when it could not
 * measure, 2 on a usage error).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "openloop.h"
#include "qb_proc.h"
#include "query_bench.h"


typedef struct qb_ctx {
  qb_opts o;
  char world[512];
  int world_tmp;              /* world[] was created here: removed at the end */
  char log[512];              /* the server's stderr */
  pid_t server;               /* started here (0 = external) */
  pid_t rss_pid;
  int port;
  double gen_s, load_s;
  lp_ol_request *reqs;
  size_t nreqs;
} qb_ctx;

static void usage(FILE *f) {
  fprintf(f,
          "usage: query_bench [options]\n"
          "  --leads N          leads of the generated market (default 100000; 1000000 for the issue's figure)\n"
          "  --snippets N       snippets of the generated market (default 10 x leads)\n"
          "  --seed N           world seed (default 1)\n"
          "  --world DIR        use the market in DIR (generated there first when DIR/snippets.jsonl is absent)\n"
          "  --url URL          measure a running server (http://127.0.0.1:PORT): no start, no load\n"
          "  --pid PID          with --url: the server's pid, for its resident memory\n"
          "  --closed N         closed-loop queries, one client (default 1000)\n"
          "  --qps R            open-loop rate (default 250)\n"
          "  --duration S       open-loop measured seconds (default 30)\n"
          "  --warmup S         open-loop warm-up seconds, not recorded (default 2)\n"
          "  --connections C    open-loop keep-alive connections (default 16)\n"
          "  -k K               leads per query (default 25)\n"
          "  --timeout S        a query not answered in S seconds is a stall: reported on stderr, counted in\n"
          "                     timeouts, its connection dropped and reopened (default 30; both loops)\n"
          "  --no-explain       send \"explain\": false\n"
          "  --leadpoet PATH    the server binary (default %s)\n"
          "  --world-bin PATH   the world generator (default %s)\n"
          "  --json             one JSON object on stdout instead of the table\n",
          LP_BENCH_LEADPOET, LP_BENCH_WORLD);
}

static int num(const char *v, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double d = strtod(v, &end);
  if (errno || end == v || *end || !(d >= lo && d <= hi)) return -1;
  *out = d;
  return 0;
}

static int parse(int argc, char **argv, qb_opts *o) {
  memset(o, 0, sizeof *o);
  o->leads = 100000;
  o->seed = 1;
  o->closed = 1000;
  o->qps = 250;
  o->duration = 30;
  o->warmup = 2;
  o->connections = 16;
  o->k = 25;
  o->timeout = 30;
  o->leadpoet = LP_BENCH_LEADPOET;
  o->world_bin = LP_BENCH_WORLD;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    double d = 0;
    int bad = 0;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); exit(0); }
    else if (!strcmp(a, "--json")) { o->json = 1; continue; }
    else if (!strcmp(a, "--no-explain")) { o->no_explain = 1; continue; }
    static const char *const valued[] = { "--leads", "--snippets", "--seed", "--world", "--url", "--pid",
                                          "--closed", "--qps", "--duration", "--warmup", "--connections", "-k",
                                          "--leadpoet", "--world-bin", "--timeout", NULL };
    int known = 0;
    for (int n = 0; valued[n]; n++) known |= !strcmp(a, valued[n]);
    if (!known) {
      fprintf(stderr, "query_bench: unknown option '%s' (see --help)\n", a);
      return -1;
    }
    if (!v) {
      fprintf(stderr, "query_bench: %s needs a value (see --help)\n", a);
      return -1;
    }
    if (!strcmp(a, "--leads")) { bad = num(v, 1, 50e6, &d); o->leads = (unsigned long long)d; }
    else if (!strcmp(a, "--snippets")) { bad = num(v, 1, 1e10, &d); o->snippets = (unsigned long long)d; }
    else if (!strcmp(a, "--seed")) { bad = num(v, 0, 1e18, &d); o->seed = (unsigned long long)d; }
    else if (!strcmp(a, "--world")) o->world_dir = v;
    else if (!strcmp(a, "--url")) o->url = v;
    else if (!strcmp(a, "--pid")) { bad = num(v, 1, 4194304, &d); o->pid = (long)d; }
    else if (!strcmp(a, "--closed")) { bad = num(v, 1, 1e8, &d); o->closed = (unsigned long long)d; }
    else if (!strcmp(a, "--qps")) bad = num(v, 0.001, 1e6, &o->qps);
    else if (!strcmp(a, "--duration")) bad = num(v, 0.001, 86400, &o->duration);
    else if (!strcmp(a, "--warmup")) bad = num(v, 0, 3600, &o->warmup);
    else if (!strcmp(a, "--connections")) { bad = num(v, 1, 10000, &d); o->connections = (unsigned long)d; }
    else if (!strcmp(a, "-k")) { bad = num(v, 1, 1000, &d); o->k = (unsigned long)d; }
    else if (!strcmp(a, "--timeout")) bad = num(v, 0.001, 86400, &o->timeout);
    else if (!strcmp(a, "--leadpoet")) o->leadpoet = v;
    else if (!strcmp(a, "--world-bin")) o->world_bin = v;
    else {
      fprintf(stderr, "query_bench: unknown option '%s' (see --help)\n", a);
      return -1;
    }
    if (bad) {
      fprintf(stderr, "query_bench: bad value '%s' for %s (see --help)\n", v, a);
      return -1;
    }
    i++;
  }
  if (!o->snippets) o->snippets = o->leads * 10;
  if (o->url && o->world_dir == NULL) {
    fprintf(stderr, "query_bench: --url needs --world DIR (its prompts.jsonl gives the queries)\n");
    return -1;
  }
  return 0;
}

static int file_exists(const char *dir, const char *name) {
  char p[600];
  struct stat st;
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return stat(p, &st) == 0;
}

/* Generates the market into ctx->world unless it is already there. */
static int make_world(qb_ctx *x) {
  char err[256];
  if (x->o.world_dir) {
    snprintf(x->world, sizeof x->world, "%s", x->o.world_dir);
    if (file_exists(x->world, "snippets.jsonl") && file_exists(x->world, "prompts.jsonl")) return 0;
  } else {
    snprintf(x->world, sizeof x->world, "/tmp/query_bench.XXXXXX");
    if (!mkdtemp(x->world)) {
      fprintf(stderr, "query_bench: mkdtemp: %s\n", strerror(errno));
      return -1;
    }
    x->world_tmp = 1;
  }
  char leads[32], snippets[32], seed[32];
  snprintf(leads, sizeof leads, "%llu", x->o.leads);
  snprintf(snippets, sizeof snippets, "%llu", x->o.snippets);
  snprintf(seed, sizeof seed, "%llu", x->o.seed);
  char *argv[] = { (char *)x->o.world_bin, "--out", x->world, "--leads", leads, "--snippets", snippets,
                   "--seed", seed, "--outcomes", "0", "--quiet", NULL };
  if (!x->o.json) fprintf(stderr, "generating %s leads, %s snippets into %s ...\n", leads, snippets, x->world);
  uint64_t t = lp_mono_ns();
  pid_t pid = qb_spawn(argv, NULL, err, sizeof err);
  if (pid < 0 || qb_wait(pid) != 0) {
    fprintf(stderr, "query_bench: world generation failed%s%s\n", pid < 0 ? ": " : "", pid < 0 ? err : "");
    return -1;
  }
  x->gen_s = (double)(lp_mono_ns() - t) / 1e9;
  return 0;
}

/* Waits until the server has applied everything it accepted (GET /v1/status "backlog": 0). */
static void wait_applied(int port) {
  for (int i = 0; i < 6000; i++) {
    int st = 0;
    char *b = NULL;
    int done = 0;
    if (qb_http(port, "GET", "/v1/status", NULL, &st, &b, 5.0) == 0) {
      json_t *j = json_loads(b, 0, NULL);
      json_t *bl = j ? json_object_get(j, "backlog") : NULL;
      done = !bl || !json_is_integer(bl) || json_integer_value(bl) == 0;
      json_decref(j);
      lp_free(b);
    }
    if (done) return;
    usleep(100 * 1000);
  }
}

/* Starts the server on a free port and loads the world's snippets into it. */
static int start_and_load(qb_ctx *x) {
  char err[256], listen[64], url[96];
  x->port = qb_free_port();
  snprintf(listen, sizeof listen, "127.0.0.1:%d", x->port);
  snprintf(url, sizeof url, "http://127.0.0.1:%d", x->port);
  snprintf(x->log, sizeof x->log, "/tmp/query_bench-serve-%d.log", (int)getpid());
  char *sargv[] = { (char *)x->o.leadpoet, "serve", "--listen", listen, NULL };
  x->server = qb_spawn(sargv, x->log, err, sizeof err);
  if (x->server < 0 || qb_wait_healthy(x->port, x->server, 30) != 0) {
    fprintf(stderr, "query_bench: the server did not start (%s); its log: %s\n", x->server < 0 ? err : "no /healthz",
            x->log);
    return -1;
  }
  x->rss_pid = x->server;
  char file[600];
  snprintf(file, sizeof file, "%s/snippets.jsonl", x->world);
  char *iargv[] = { (char *)x->o.leadpoet, "ingest", file, "--url", url, "--batch", "5000", "--quiet", NULL };
  if (!x->o.json) fprintf(stderr, "loading %s into %s ...\n", file, url);
  uint64_t t = lp_mono_ns();
  pid_t pid = qb_spawn(iargv, NULL, err, sizeof err);
  int rc = pid < 0 ? -1 : qb_wait(pid);
  wait_applied(x->port);
  x->load_s = (double)(lp_mono_ns() - t) / 1e9;
  if (rc != 0) {
    fprintf(stderr, "query_bench: leadpoet ingest failed (exit %d)\n", rc);
    return -1;
  }
  return 0;
}

/* One request per prompt of prompts.jsonl, as whole HTTP requests. */
static int load_prompts(qb_ctx *x) {
  char path[600];
  snprintf(path, sizeof path, "%s/prompts.jsonl", x->world);
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "query_bench: cannot open %s: %s\n", path, strerror(errno));
    return -1;
  }
  char *line = NULL;
  size_t cap = 0, n = 0, room = 0;
  ssize_t len;
  while ((len = getline(&line, &cap, f)) > 0) {
    json_t *j = json_loadb(line, (size_t)len, 0, NULL);
    json_t *p = j ? json_object_get(j, "prompt") : NULL;
    if (!p || !json_is_string(p)) {
      json_decref(j);
      continue;
    }
    json_t *body = json_pack("{s:O, s:I}", "prompt", p, "k", (json_int_t)x->o.k);
    if (body && x->o.no_explain) json_object_set_new(body, "explain", json_false());
    char *bs = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    json_decref(j);
    if (!bs) continue;
    size_t blen = strlen(bs), need = blen + 256;
    char *req = lp_malloc(need);
    if (n == room) {
      room = room ? room * 2 : 256;
      lp_ol_request *nr = lp_realloc(x->reqs, room * sizeof *nr);
      if (!nr) req = (lp_free(req), NULL);
      else x->reqs = nr;
    }
    if (!req) {
      free(bs);
      break;
    }
    int hn = snprintf(req, need,
                      "POST /v1/leads HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\n\r\n%s", blen, bs);
    free(bs);
    x->reqs[n++] = (lp_ol_request){ req, (size_t)hn };
  }
  free(line);
  fclose(f);
  x->nreqs = n;
  if (n == 0) {
    fprintf(stderr, "query_bench: no prompt in %s\n", path);
    return -1;
  }
  return 0;
}

static void cleanup(qb_ctx *x, int failed) {
  if (x->server > 0) qb_stop(x->server, 20);
  if (x->world_tmp) qb_rmtree(x->world);
  if (x->server > 0 && !failed) unlink(x->log);
  for (size_t i = 0; i < x->nreqs; i++) lp_free((void *)x->reqs[i].data);
  lp_free(x->reqs);
}

int main(int argc, char **argv) {
  static qb_ctx x;
  if (parse(argc, argv, &x.o) != 0) return 2;
  signal(SIGPIPE, SIG_IGN);
  int failed = 0;
  if (x.o.url) {
    if (sscanf(x.o.url, "http://127.0.0.1:%d", &x.port) != 1) {
      fprintf(stderr, "query_bench: --url must be http://127.0.0.1:PORT\n");
      return 2;
    }
    snprintf(x.world, sizeof x.world, "%s", x.o.world_dir);
    x.rss_pid = (pid_t)x.o.pid;
  } else {
    failed = make_world(&x) != 0 || start_and_load(&x) != 0;
  }
  if (!failed) failed = load_prompts(&x) != 0;
  if (!failed) failed = qb_measure(&x.o, x.port, x.reqs, x.nreqs, x.rss_pid, x.gen_s, x.load_s) != 0;
  cleanup(&x, failed);
  return failed ? 1 : 0;
}
