/*
 * rep_bench: what a reputation snapshot costs (docs/adr/0006-reputation.md).
 *
 *   rep_bench [MINERS] [ROUNDS]      (default 100000 miners, 50 rounds)
 *
 * Prints, for a table of MINERS miners with outcomes: the time of one publish (build the immutable
 * snapshot; the messages to the workers are one small allocation each and are not counted), its bytes,
 * the time of the same pass as a plain memcpy of the table's dense array (the floor: a publish cannot be
 * cheaper than reading the table once), a snapshot lookup (what a worker pays per snippet and per
 * evidence miner in the v0 feature), and an estimate with its 95 % interval (reactor, cached per miner).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stages/reputation/rep_int.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static lp_rep_conf conf(long miners) {
  lp_rep_conf c = { 0 };
  c.half_life = 30LL * 86400000;
  c.prior_alpha = c.prior_beta = 1;
  c.w_purchased = 4;
  c.w_spam = 4;
  c.max_miners = miners;
  c.publish_interval = 250;
  c.publish_every = 1000;
  c.credit_window = 90LL * 86400000;
  c.answer_ring = 1024;
  c.answer_ring_bytes = 1 << 20;
  c.weight_floor = 0.1;
  c.low_reputation = 0.5;
  return c;
}

int main(int argc, char **argv) {
  long miners = argc > 1 ? atol(argv[1]) : 100000;
  int rounds = argc > 2 ? atoi(argv[2]) : 50;
  if (miners < 16 || rounds < 1) {
    fprintf(stderr, "usage: rep_bench [MINERS >= 16] [ROUNDS >= 1]\n");
    return 2;
  }
  lp_rep_conf c = conf(miners);
  lp_rep *r;
  if (lp_rep_new(&r, &c) != LP_OK) return 1;
  char name[32];
  int64_t t0 = 1764000000000LL;
  for (long i = 0; i < miners; i++) {
    int n = snprintf(name, sizeof(name), "miner-%ld", i);
    lp_rep_credit(r, (lp_str){ name, (size_t)n }, t0 + i, (double)(i % 5), (double)(i % 3));
  }
  /* publish: build + swap in as current (the previous one is released) */
  double t = now_s();
  size_t bytes = 0;
  for (int k = 0; k < rounds; k++) {
    lp_rep_snapshot *s = lp_rep_publish(r);
    if (s == NULL) return 1;
    bytes = sizeof(*s) + (s->mask + 1) * sizeof(s->slot[0]);
  }
  double publish_ms = (now_s() - t) / rounds * 1e3;
  /* the floor: one memcpy of the dense table */
  void *copy = malloc(r->n * sizeof(lp__rep_miner));
  t = now_s();
  for (int k = 0; k < rounds; k++) {
    memcpy(copy, r->v, r->n * sizeof(lp__rep_miner));
    __asm__ volatile("" : : "r"(copy) : "memory");
  }
  double copy_ms = (now_s() - t) / rounds * 1e3;
  free(copy);
  /* lookups in the snapshot, hits and misses alternating */
  const lp_rep_snapshot *s = r->current;
  long lookups = 2000000;
  double sum = 0;
  t = now_s();
  for (long i = 0; i < lookups; i++) {
    int n = snprintf(name, sizeof(name), "miner-%ld", (i * 7919) % (miners * 2));
    sum += lp_rep_snapshot_mean(s, name, (size_t)n);
  }
  double lookup_ns = (now_s() - t) / lookups * 1e9;
  t = now_s();
  for (long i = 0; i < lookups; i++) sum += (double)snprintf(name, sizeof(name), "miner-%ld", (i * 7919) % (miners * 2));
  double fmt_ns = (now_s() - t) / lookups * 1e9;
  /* estimates with the interval, cold (cache empty after a credit moves the clock) */
  lp_rep_credit(r, (lp_str){ "clock", 5 }, t0 + miners + 1, 1, 0);
  long est = miners < 20000 ? miners : 20000;
  t = now_s();
  for (long i = 0; i < est; i++) {
    int n = snprintf(name, sizeof(name), "miner-%ld", i);
    lp_rep_estimate e;
    lp_rep_estimate_get(r, (lp_str){ name, (size_t)n }, &e);
    sum += e.low;
  }
  double est_us = (now_s() - t) / est * 1e6;
  printf("rep_bench: %ld miners, %d rounds (checksum %.3f)\n", miners, rounds, sum);
  printf("  publish (build snapshot)   %8.3f ms   %8.2f MiB   %.1f ns/miner\n", publish_ms, bytes / 1048576.0,
         publish_ms * 1e6 / miners);
  printf("  memcpy of the table        %8.3f ms   (floor)        publish / memcpy = %.1fx\n", copy_ms,
         publish_ms / copy_ms);
  printf("  snapshot lookup            %8.1f ns   (name formatting excluded)\n", lookup_ns - fmt_ns);
  printf("  estimate + 95%% interval   %8.2f us   (cold cache)\n", est_us);
  lp_rep_free(r);
  return 0;
}
