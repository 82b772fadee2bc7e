/*
 * load_test.h: load_test's options (opts.c) and its summary table (summary.c).
 */
#ifndef LP_PERF_LOAD_TEST_H
#define LP_PERF_LOAD_TEST_H

#include <jansson.h>
#include <stdio.h>

#include "lt.h"

typedef struct lt_opts {
  lt_server_opts srv;
  double qps, duration, warmup;
  unsigned connections, k;
  int explain;
  double ingest_rate;
  int ingest_kafka;
  unsigned ingest_conns, stream_miners;
  double burst_qps, burst_duration;
  unsigned burst_conns;
  double search_from, search_max, search_step, search_p99;
  unsigned search_refine, search_conns;
  unsigned fresh_events;
  const char *out;
  int json, quiet;
} lt_opts;

/* Parses argv into o (defaults: the scenario). 0, or -1 after printing why (exit 2). --help
 * prints the usage and exits 0. */
int lt_parse_opts(int argc, char **argv, lt_opts *o);

/* The options as JSON ("params" of the output). */
json_t *lt_opts_json(const lt_opts *o);

/* The human table of a load_test JSON result. */
void lt_print_summary(FILE *f, const json_t *out);

#endif
