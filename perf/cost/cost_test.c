/*
 * cost_test: cost per delivered lead and per query from the server's own accounting (issue 8).
 *
 *   cost_test [--leads 1000] [--world-leads N | --world DIR] [--url http://127.0.0.1:PORT --prompts FILE]
 *             [-k K] [--leadpoet PATH] [--world-bin PATH] [--json]
 *
 * Sends the market's prompts in turn until --leads leads were delivered; every answer of POST /v1/leads
 * carries "cost": {usd_total, usd_per_lead, llm_calls}. Prints the mean and P99 per lead and per query,
 * the share of queries that called the LLM, the server's /metrics view of the same (leadpoet_lead_cost_usd,
 * leadpoet_llm_hit_rate), and the targets beside them. Exit 0 when it measured, 1 when it could not, 2 on
 * a usage error.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "cost.h"
#include "lt.h"

typedef struct ct_opts {
  lt_server_opts srv;
  const char *url, *prompts;
  unsigned long leads, k;
  int json;
} ct_opts;

static void usage(FILE *f) {
  fprintf(f,
          "usage: cost_test [options]\n"
          "  --leads N          leads to deliver (default 1000)\n"
          "  --world-leads N    leads of the generated market (default 10000)\n"
          "  --world DIR        use the market in DIR (generated there when absent)\n"
          "  --url URL          measure a running server (http://127.0.0.1:PORT) ...\n"
          "  --prompts FILE     ... with these prompts (JSON Lines with \"prompt\", or one a line)\n"
          "  -k K               leads per query (default 25)\n"
          "  --leadpoet PATH    the server binary (default %s)\n"
          "  --world-bin PATH   the world generator (default %s)\n"
          "  --json             one JSON object on stdout\n",
          LP_LT_LEADPOET, LP_LT_WORLD);
}

static int parse(int argc, char **argv, ct_opts *o) {
  memset(o, 0, sizeof *o);
  o->srv.leadpoet = LP_LT_LEADPOET;
  o->srv.world_bin = LP_LT_WORLD;
  o->srv.leads = 10000;
  o->srv.seed = 1;
  o->leads = 1000;
  o->k = 25;
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
      fprintf(stderr, "cost_test: %s: unknown option or missing value (see --help)\n", a);
      return -1;
    }
    if (!strcmp(a, "--leads")) { bad = lt_num(v, 1, 1e9, &d); o->leads = (unsigned long)d; }
    else if (!strcmp(a, "--world-leads")) { bad = lt_num(v, 1, 50e6, &d); o->srv.leads = (unsigned long long)d; }
    else if (!strcmp(a, "--world")) o->srv.world_dir = v;
    else if (!strcmp(a, "--url")) o->url = v;
    else if (!strcmp(a, "--prompts")) o->prompts = v;
    else if (!strcmp(a, "-k")) { bad = lt_num(v, 1, 1000, &d); o->k = (unsigned long)d; }
    else if (!strcmp(a, "--leadpoet")) o->srv.leadpoet = v;
    else if (!strcmp(a, "--world-bin")) o->srv.world_bin = v;
    else {
      fprintf(stderr, "cost_test: unknown option '%s' (see --help)\n", a);
      return -1;
    }
    if (bad) {
      fprintf(stderr, "cost_test: bad value '%s' for %s (see --help)\n", v, a);
      return -1;
    }
    i++;
  }
  if (o->url && !o->prompts) {
    fprintf(stderr, "cost_test: --url needs --prompts FILE\n");
    return -1;
  }
  o->srv.quiet = o->json;
  return 0;
}

/* Sends the requests in turn until o->leads leads were delivered; fills acc. -1 when nothing answered. */
static int measure(const ct_opts *o, int port, const lp_ol_request *reqs, size_t n, ct_acc *acc) {
  lt_conn c;
  lt_conn_init(&c, port);
  int rc = 0;
  for (size_t i = 0; acc->leads < o->leads && rc == 0; i++) {
    const lp_ol_request *rq = &reqs[i % n];
    const char *body = strstr(rq->data, "\r\n\r\n");
    int status = 0;
    const char *resp = NULL;
    if (!body || lt_conn_request(&c, "POST", "/v1/leads", NULL, body + 4, strlen(body + 4), &status, &resp, 30) != 0) {
      acc->errors++;
    } else if (status != 200) {
      acc->errors++;
    } else {
      json_t *j = json_loads(resp, 0, NULL);
      if (ct_acc_add(acc, j) != 0) acc->errors++;
      json_decref(j);
    }
    if (acc->errors > 100 && acc->queries == 0) rc = -1;
    if (i > 100 && acc->leads == 0 && i >= 10 * n) rc = -1;   /* prompts that find nothing */
  }
  lt_conn_close(&c);
  return rc;
}

int main(int argc, char **argv) {
  ct_opts o;
  if (parse(argc, argv, &o) != 0) return 2;
  signal(SIGPIPE, SIG_IGN);
  lt_server s;
  memset(&s, 0, sizeof s);
  char err[256], prompts[700];
  int port = 0, failed = 0;
  if (o.url) {
    if (lt_parse_url(o.url, &port) != 0) {
      fprintf(stderr, "cost_test: --url must be http://127.0.0.1:PORT\n");
      return 2;
    }
    snprintf(prompts, sizeof prompts, "%s", o.prompts);
  } else {
    if (lt_server_up(&s, &o.srv, err, sizeof err) != 0) {
      fprintf(stderr, "cost_test: %s\n", err);
      lt_server_down(&s, 1);
      return 1;
    }
    port = s.port;
    snprintf(prompts, sizeof prompts, "%s/prompts.jsonl", s.world);
  }
  lp_ol_request *reqs = NULL;
  size_t n = 0;
  ct_acc acc;
  ct_acc_init(&acc);
  if (lt_load_prompts(prompts, (unsigned)o.k, 1, &reqs, &n, err, sizeof err) != 0) {
    fprintf(stderr, "cost_test: %s\n", err);
    failed = 1;
  } else if (measure(&o, port, reqs, n, &acc) != 0) {
    fprintf(stderr, "cost_test: the server delivered no lead (%llu errors)\n", (unsigned long long)acc.errors);
    failed = 1;
  }
  if (!failed) {
    json_t *srv = lt_server_json(port, s.pid);
    json_t *j = ct_acc_json(&acc, srv);
    json_decref(srv);
    json_object_set_new(j, "machine", lt_machine_json());
    if (o.json) lt_write_json(j, "-");
    else ct_print(stdout, j);
    json_decref(j);
  }
  ct_acc_free(&acc);
  lt_requests_free(reqs, n);
  lt_server_down(&s, failed);
  return failed ? 1 : 0;
}
