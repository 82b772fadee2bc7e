/*
 * ingest_bench.h: shared pieces of perf/ingest_bench (see perf/README.md): the run context (the same text
 * tables, rules and shard environment as `leadpoet serve` builds), the worker threads that apply snippets on
 * shards, and the memory walk that breaks down what the shards hold.
 *
 * Threads: the context is built and freed on the main thread; the worker threads only read it.
 */
#ifndef LP_PERF_INGEST_BENCH_H
#define LP_PERF_INGEST_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "shard/shard.h"
#include "stage/registry.h"
#include "stages/ingest/ingest.h"
#include "text/analyzer.h"
#include "text/techtable.h"

typedef struct ib_line {
  const char *p;
  size_t n;
} ib_line;

/* What the server builds at start (core/server/server.c start, worker_thread_start), once per run. */
typedef struct ib_ctx {
  lp_config cfg;
  lp_techtable *tech;
  lp_analyzer *analyzer;
  lp_domain_set *b2c;
  lp_ingest_rules rules;
  uint32_t shards;
  uint32_t batch;         /* snippets per worker batch (the server's BATCH_MAX) */
  int64_t now_ms;
  int index;              /* 0: the shard env has no analyzer (lead table and stages only) */
} ib_ctx;

/* One worker thread's shards (s % workers == index), opened and fed on the thread. */
typedef struct ib_worker ib_worker;

typedef struct ib_queue ib_queue;

/* A set of worker threads and their shards; they stay open after a run so that memory can be walked. */
typedef struct ib_pool {
  ib_worker *w;
  uint32_t n;
} ib_pool;

typedef struct ib_result {
  double wall_s;          /* from the first item handed out to the last applied and flushed */
  double cpu_s;           /* CPU seconds of every thread involved */
  double flush_s;         /* of which lp_shard_flush (sum over workers) */
  double tick_s;          /* of which the emulated worker ticks (lp_shard_maintain: expiry, index merges) */
  double decode_cpu_s;    /* end to end: the decoding thread's CPU */
  size_t applied, dropped, rejected, throttled;
} ib_result;

/* Applies v[0..n) (already decoded and admitted) on `workers` threads, batch by batch, flushing after each
 * batch like the server's batch_run. The snippets stay the caller's. On return the pool's shards are open
 * (ib_pool_close). */
int ib_apply(const ib_ctx *c, lp_stages *stages, uint32_t workers, lp_snippet *const *v, size_t n, ib_pool *pool, ib_result *r);

/* End to end: this thread parses each line (jansson), decodes and validates it, runs the global stages
 * (admission) and routes it in batches through bounded queues to `workers` threads that apply and flush,
 * then free the snippet. stages is used for admission and for the shards' per-shard stages. */
int ib_e2e(const ib_ctx *c, lp_stages *stages, uint32_t workers, const ib_line *lines, size_t n, ib_pool *pool,
           ib_result *r);

void ib_pool_close(ib_pool *pool);

/* Bytes held, by part. Sizes of heap blocks are their usable sizes (what the allocator holds). */
typedef struct ib_mem {
  size_t leads;         /* lead table slots, doc table, lp_lead structs, domain/name/industry, tech, churn */
  size_t evidence;      /* evidence slot arrays and the id, miner, text, url strings */
  size_t ev_text;       /* of which the text bytes (inside each evidence block) */
  size_t ev_slots;      /* of which the slot arrays */
  size_t termvec;       /* term vectors */
  size_t termpool;      /* the shards' term pools */
  size_t index;         /* lp_index_stats.bytes */
  size_t index_mem;     /* of which its mutable segments (lp_index_stats.mem_bytes) */
  size_t postings, mem_postings;
  size_t dedupe;        /* estimate: ingest stage fingerprint tables (their growth rule) */
  size_t n_leads, n_ev, n_tv_terms;
} ib_mem;

void ib_pool_mem(const ib_pool *pool, ib_mem *m, uint64_t dedupe_capacity);

double ib_now(void);       /* monotonic seconds */
double ib_cpu_self(void);  /* this thread's CPU seconds */
size_t ib_rss(void);       /* resident bytes of the process */

/* The shard env of one worker, as worker_thread_start builds it. */
void ib_shard_env(const ib_ctx *c, lp_stages *stages, lp_analyzer_ctx *actx, lp_shard_env *env);

#endif
