/*
 * cost_report: the cost figures of a running server from its /metrics (or a saved /metrics text), against
 * the seed's targets and ours (issue 8).
 *
 *   cost_report --url http://127.0.0.1:PORT [--json]
 *   cost_report --metrics FILE [--json]
 *
 * Mean cost per lead = sum / count of the histogram leadpoet_lead_cost_usd; its P99 is the upper bound of
 * the bucket that holds it (a conservative figure); per query = the sum over the 200 answers of
 * POST /v1/leads; the LLM share is the gauge leadpoet_llm_hit_rate. Exit 0 when the figures were read, 1
 * when the server or the file could not be read, 2 on a usage error.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "cost.h"
#include "lt.h"
#include "qb_proc.h"

static void usage(FILE *f) {
  fprintf(f, "usage: cost_report (--url http://127.0.0.1:PORT | --metrics FILE) [--json]\n");
}

static char *read_file(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  size_t cap = 1 << 16, n = 0;
  char *b = lp_malloc(cap);
  size_t r;
  while (b && (r = fread(b + n, 1, cap - n - 1, f)) > 0) {
    n += r;
    if (n + 1 == cap) {
      char *nb = lp_realloc(b, cap * 2);
      if (!nb) {
        lp_free(b);
        b = NULL;
        break;
      }
      b = nb;
      cap *= 2;
    }
  }
  fclose(f);
  if (b) b[n] = '\0';
  return b;
}

int main(int argc, char **argv) {
  const char *url = NULL, *file = NULL;
  int json = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(argv[i], "--json")) json = 1;
    else if (!strcmp(argv[i], "--url") && i + 1 < argc) url = argv[++i];
    else if (!strcmp(argv[i], "--metrics") && i + 1 < argc) file = argv[++i];
    else {
      fprintf(stderr, "cost_report: unknown option or missing value '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (!url == !file) {
    usage(stderr);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  char *m = NULL;
  if (url) {
    int port, st = 0;
    if (lt_parse_url(url, &port) != 0) {
      fprintf(stderr, "cost_report: --url must be http://127.0.0.1:PORT\n");
      return 2;
    }
    if (qb_http(port, "GET", "/metrics", NULL, &st, &m, 15.0) != 0 || st != 200) {
      fprintf(stderr, "cost_report: GET %s/metrics failed\n", url);
      lp_free(m);
      return 1;
    }
  } else if (!(m = read_file(file))) {
    fprintf(stderr, "cost_report: cannot read %s\n", file);
    return 1;
  }
  json_t *j = json_pack("{s:s, s:o}", "tool", "cost_report", "cost", ct_metrics_json(m));
  lp_free(m);
  if (json) lt_write_json(j, "-");
  else ct_print(stdout, j);
  json_decref(j);
  return 0;
}
