/*
 * ib_run.c: the worker threads of perf/ingest_bench. Each owns the shards s with s % workers == its index
 * (lp_workers_owner), opens them on its own thread with the env worker_thread_start builds, applies its
 * snippets batch by batch and flushes its shards after each batch (ingest_http.c batch_run).
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "ingest_bench.h"
#include "metrics/metrics.h"
#include "worker/worker.h"

double ib_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double ib_cpu_self(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

size_t ib_rss(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long size = 0, res = 0;
  if (f == NULL) return 0;
  if (fscanf(f, "%lu %lu", &size, &res) != 2) res = 0;
  fclose(f);
  return (size_t)res * (size_t)sysconf(_SC_PAGESIZE);
}

void ib_shard_env(const ib_ctx *c, lp_stages *stages, lp_analyzer_ctx *actx, lp_shard_env *env) {
  memset(env, 0, sizeof(*env));
  env->stages = stages;
  env->evidence_cap = (uint32_t)c->cfg.ingest.evidence_per_lead;
  lp_index_params_default(&env->index);
  env->index.k1 = c->cfg.index.k1;
  env->index.b = c->cfg.index.b;
  env->analyzer = c->index ? actx : NULL;
  env->retention_ms = c->cfg.index.retention_ms;
  env->age_half_life_days = (double)c->cfg.index.age_half_life_ms / 86400000.0;
  env->tech = c->tech;
}

/* ---- A bounded queue of batches (decoder -> one worker) ---------------------------------------------- */

#define QCAP 64

typedef struct ib_batch {
  uint32_t n;
  lp_snippet *item[];
} ib_batch;

struct ib_queue {
  pthread_mutex_t mu;
  pthread_cond_t not_empty, not_full;
  ib_batch *v[QCAP];
  size_t head, count;
};

static void q_init(ib_queue *q) {
  memset(q, 0, sizeof(*q));
  pthread_mutex_init(&q->mu, NULL);
  pthread_cond_init(&q->not_empty, NULL);
  pthread_cond_init(&q->not_full, NULL);
}

static void q_destroy(ib_queue *q) {
  pthread_mutex_destroy(&q->mu);
  pthread_cond_destroy(&q->not_empty);
  pthread_cond_destroy(&q->not_full);
}

/* NULL is the end of the stream. */
static void q_push(ib_queue *q, ib_batch *b) {
  pthread_mutex_lock(&q->mu);
  while (q->count == QCAP) pthread_cond_wait(&q->not_full, &q->mu);
  q->v[(q->head + q->count++) % QCAP] = b;
  pthread_cond_signal(&q->not_empty);
  pthread_mutex_unlock(&q->mu);
}

static ib_batch *q_pop(ib_queue *q) {
  pthread_mutex_lock(&q->mu);
  while (q->count == 0) pthread_cond_wait(&q->not_empty, &q->mu);
  ib_batch *b = q->v[q->head];
  q->head = (q->head + 1) % QCAP;
  q->count--;
  pthread_cond_signal(&q->not_full);
  pthread_mutex_unlock(&q->mu);
  return b;
}

/* ---- Workers -------------------------------------------------------------------------------------------- */

struct ib_worker {
  pthread_t th;
  uint32_t index, workers;
  const ib_ctx *c;
  lp_stages *stages;
  lp_analyzer_ctx *actx;
  lp_shard_env env;
  lp_shard *shards;
  uint32_t n_shards;
  int rc;
  /* apply mode: a list; e2e mode: a queue whose snippets the worker frees */
  lp_snippet *const *items;
  size_t n_items;
  ib_queue q;
  int from_queue;
  /* figures */
  size_t applied, dropped;
  double cpu_s, flush_s, tick_s, next_tick;
};

static lp_shard *worker_shard(ib_worker *w, uint32_t shard) {
  return &w->shards[shard / w->workers];
}

static int worker_open(ib_worker *w) {
  char err[256];
  lp_metrics_thread_register();
  if (lp_analyzer_ctx_new(&w->actx, w->c->analyzer, err, sizeof(err)) != LP_OK) {
    fprintf(stderr, "ingest_bench: analyzer ctx: %s\n", err);
    return LP_ENOMEM;
  }
  ib_shard_env(w->c, w->stages, w->actx, &w->env);
  w->shards = lp_calloc(w->c->shards / w->workers + 1, sizeof(lp_shard));
  if (w->shards == NULL) return LP_ENOMEM;
  for (uint32_t s = w->index; s < w->c->shards; s += w->workers) {
    int rc = lp_shard_open(&w->shards[w->n_shards], s, &w->env);
    if (rc != LP_OK) {
      fprintf(stderr, "ingest_bench: cannot open shard %u: %s\n", s, lp_strerror(rc));
      return rc;
    }
    w->n_shards++;
  }
  return LP_OK;
}

/* The server's worker tick (server.c worker_tick): stage ticks and shard maintenance (expiry, index merges),
 * every tick_interval_ms of wall time, checked between batches as the worker's loop would run its timer. */
static void maybe_tick(ib_worker *w) {
  double now = ib_now();
  if (now < w->next_tick) return;
  w->next_tick = now + (double)w->c->cfg.server.tick_interval_ms / 1000.0;
  double t0 = ib_cpu_self();
  for (uint32_t i = 0; i < w->n_shards; i++) {
    lp_shard *sh = &w->shards[i];
    if (sh->stages) lp_stage_shard_tick(sh->stages, (int64_t)(now * 1000));
    lp_shard_maintain(sh, (uint32_t)w->c->cfg.index.expire_per_tick, (uint32_t)w->c->cfg.index.merge_per_tick);
  }
  w->tick_s += ib_cpu_self() - t0;
}

static void apply_batch(ib_worker *w, lp_snippet *const *v, size_t n) {
  maybe_tick(w);
  for (size_t i = 0; i < n; i++) {
    if (lp_shard_snippet(worker_shard(w, v[i]->shard), v[i]) == NULL) w->applied++;
    else w->dropped++;
  }
  double t0 = ib_cpu_self();
  for (uint32_t i = 0; i < w->n_shards; i++)
    if (w->shards[i].n_pending > 0) lp_shard_flush(&w->shards[i]);
  w->flush_s += ib_cpu_self() - t0;
}

static void *worker_main(void *arg) {
  ib_worker *w = arg;
  double c0 = ib_cpu_self();
  if (w->from_queue) {
    for (ib_batch *b; (b = q_pop(&w->q)) != NULL;) {
      apply_batch(w, b->item, b->n);
      for (uint32_t i = 0; i < b->n; i++) lp_free(b->item[i]);
      lp_free(b);
    }
  } else {
    for (size_t i = 0; i < w->n_items; i += w->c->batch)
      apply_batch(w, w->items + i, w->n_items - i < w->c->batch ? w->n_items - i : w->c->batch);
  }
  w->cpu_s = ib_cpu_self() - c0;
  return NULL;
}

static void *worker_open_main(void *arg) {
  ib_worker *w = arg;
  w->rc = worker_open(w);
  return NULL;
}

void ib_pool_close(ib_pool *pool) {
  for (uint32_t i = 0; pool->w && i < pool->n; i++) {
    ib_worker *w = &pool->w[i];
    for (uint32_t s = 0; s < w->n_shards; s++) lp_shard_close(&w->shards[s]);
    lp_free(w->shards);
    if (w->actx) lp_analyzer_ctx_free(w->actx);
    lp_free((void *)w->items);
  }
  lp_free(pool->w);
  pool->w = NULL;
  pool->n = 0;
}

/* Opens the shards, each worker on its own thread (joined before return, so figures start clean). */
static int pool_open(const ib_ctx *c, lp_stages *stages, uint32_t workers, ib_pool *pool) {
  pool->w = lp_calloc(workers, sizeof(ib_worker));
  pool->n = workers;
  if (pool->w == NULL) return LP_ENOMEM;
  for (uint32_t i = 0; i < workers; i++) {
    pool->w[i] = (ib_worker){ .index = i, .workers = workers, .c = c, .stages = stages };
    if (pthread_create(&pool->w[i].th, NULL, worker_open_main, &pool->w[i]) != 0) return LP_ENOMEM;
    pthread_join(pool->w[i].th, NULL);
    if (pool->w[i].rc != LP_OK) return pool->w[i].rc;
  }
  return LP_OK;
}

static void sum_workers(const ib_pool *pool, ib_result *r) {
  for (uint32_t i = 0; i < pool->n; i++) {
    r->applied += pool->w[i].applied;
    r->dropped += pool->w[i].dropped;
    r->cpu_s += pool->w[i].cpu_s;
    r->flush_s += pool->w[i].flush_s;
    r->tick_s += pool->w[i].tick_s;
  }
}

int ib_apply(const ib_ctx *c, lp_stages *stages, uint32_t workers, lp_snippet *const *v, size_t n, ib_pool *pool,
             ib_result *r) {
  memset(r, 0, sizeof(*r));
  int rc = pool_open(c, stages, workers, pool);
  if (rc != LP_OK) return rc;
  /* Route by owner, order kept, before the clock starts (the server's reactor does this while decoding). */
  for (uint32_t i = 0; i < workers; i++) {
    lp_snippet **list = lp_malloc((n ? n : 1) * sizeof(*list));
    if (list == NULL) return LP_ENOMEM;
    pool->w[i].items = list;
  }
  for (size_t i = 0; i < n; i++) {
    ib_worker *w = &pool->w[lp_workers_owner(v[i]->shard, workers)];
    ((lp_snippet **)w->items)[w->n_items++] = v[i];
  }
  double t0 = ib_now();
  for (uint32_t i = 0; i < workers; i++)
    if (pthread_create(&pool->w[i].th, NULL, worker_main, &pool->w[i]) != 0) return LP_ENOMEM;
  for (uint32_t i = 0; i < workers; i++) pthread_join(pool->w[i].th, NULL);
  r->wall_s = ib_now() - t0;
  sum_workers(pool, r);
  return LP_OK;
}

static ib_batch *batch_new(uint32_t cap) {
  ib_batch *b = lp_malloc(sizeof(ib_batch) + cap * sizeof(lp_snippet *));
  if (b) b->n = 0;
  return b;
}

int ib_e2e(const ib_ctx *c, lp_stages *stages, uint32_t workers, const ib_line *lines, size_t n, ib_pool *pool,
           ib_result *r) {
  memset(r, 0, sizeof(*r));
  int rc = pool_open(c, stages, workers, pool);
  if (rc != LP_OK) return rc;
  ib_batch *open[64] = { 0 };
  if (workers > 64) return LP_EINVAL;
  double t0 = ib_now(), c0 = ib_cpu_self();
  for (uint32_t i = 0; i < workers; i++) {
    q_init(&pool->w[i].q);
    pool->w[i].from_queue = 1;
    if (pthread_create(&pool->w[i].th, NULL, worker_main, &pool->w[i]) != 0) return LP_ENOMEM;
  }
  for (size_t i = 0; i < n; i++) {
    json_error_t jerr;
    json_t *j = json_loadb(lines[i].p, lines[i].n, JSON_DECODE_ANY, &jerr);
    lp_snippet *s = NULL;
    lp_reject rej;
    int d = lp_snippet_from_json(j, &c->rules, c->now_ms, &s, &rej);
    json_decref(j);
    if (d != LP_OK) {
      r->rejected++;
      continue;
    }
    lp_verdict v = { NULL, { 0 } };
    if (lp_stages_admit(stages, s, &v) == LP_STAGE_DROP) {
      r->throttled++;
      lp_free(s);
      continue;
    }
    uint32_t o = lp_workers_owner(s->shard, workers);
    if (open[o] == NULL && (open[o] = batch_new(c->batch)) == NULL) return LP_ENOMEM;
    open[o]->item[open[o]->n++] = s;
    if (open[o]->n == c->batch) {
      q_push(&pool->w[o].q, open[o]);
      open[o] = NULL;
    }
  }
  for (uint32_t i = 0; i < workers; i++) {
    if (open[i]) q_push(&pool->w[i].q, open[i]);
    q_push(&pool->w[i].q, NULL);
  }
  r->decode_cpu_s = ib_cpu_self() - c0;
  for (uint32_t i = 0; i < workers; i++) pthread_join(pool->w[i].th, NULL);
  r->wall_s = ib_now() - t0;
  for (uint32_t i = 0; i < workers; i++) q_destroy(&pool->w[i].q);
  sum_workers(pool, r);
  r->cpu_s += r->decode_cpu_s;
  return LP_OK;
}

/* For ib_mem.c: every open shard of the pool. */
size_t ib__pool_shards(const ib_pool *pool, const lp_shard **out, size_t cap);
size_t ib__pool_shards(const ib_pool *pool, const lp_shard **out, size_t cap) {
  size_t n = 0;
  for (uint32_t i = 0; pool->w && i < pool->n; i++)
    for (uint32_t s = 0; s < pool->w[i].n_shards && n < cap; s++) out[n++] = &pool->w[i].shards[s];
  return n;
}
