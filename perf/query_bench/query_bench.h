/*
 * query_bench.h: the options of query_bench and its measuring step (qb_measure.c), shared by its files.
 */
#ifndef LP_PERF_QUERY_BENCH_H
#define LP_PERF_QUERY_BENCH_H

#include <sys/types.h>

#include "openloop.h"

typedef struct qb_opts {
  unsigned long long leads, snippets, seed;
  const char *world_dir, *url, *leadpoet, *world_bin;
  long pid;
  unsigned long long closed;
  double qps, duration, warmup;
  double timeout;             /* per request, s: an answer later than this is a stall (reported, counted) */
  unsigned long connections, k;
  int no_explain, json;
} qb_opts;

/* Runs the closed loop (o->closed queries, one connection, after 50 warm-up queries) and the open loop
 * (o->qps for o->duration s over o->connections connections) against 127.0.0.1:port with reqs, then prints
 * the figures with the server's counters (/metrics) and resident memory (rss_pid > 0), as a table or JSON.
 * gen_s and load_s (0 = not done here) are printed beside them. Returns 0 when measured, -1 otherwise. */
int qb_measure(const qb_opts *o, int port, const lp_ol_request *reqs, size_t nreqs, pid_t rss_pid, double gen_s,
               double load_s);

#endif
