/*
 * worker.h: the shard workers. N threads, each with its own libuv loop, each owning the shards
 * s with s % N == its index. The reactor talks to a worker through two bounded SPSC rings (lp_ring): one
 * in (reactor -> worker) and one out (worker -> reactor), each paired with a uv_async wake-up.
 *
 * Everything sent is an lp_msg: run() executes on the worker thread that owns the message's shard,
 * then the message travels back and done() executes on the reactor. Between the push and done() the
 * worker owns the message; before and after, the reactor does. That one rule makes the shards lock-free.
 *
 * The reactor never blocks on a full ring: a message that does not fit waits in a per-worker pending list
 * (FIFO, in order) and is pushed when the worker returns earlier ones. The reactor keeps at most
 * ring_capacity messages in flight per worker, so the out ring (same capacity) can never overflow.
 * lp_workers_backlog() tells how much waits, for admission control.
 *
 * A worker handles at most `budget` messages per turn of its loop and then yields to its timers (tick),
 * so that a long ingest burst and the other work interleave in small steps.
 */
#ifndef LP_WORKER_H
#define LP_WORKER_H

#include <stdint.h>
#include <uv.h>

#include "leadpoet/common.h"

typedef struct lp_workers lp_workers;
typedef struct lp_worker lp_worker;
typedef struct lp_msg lp_msg;

typedef void (*lp_msg_run_fn)(lp_worker *w, lp_msg *m);  /* worker thread */
typedef void (*lp_msg_done_fn)(lp_msg *m);               /* reactor thread */

struct lp_msg {
  lp_msg_run_fn run;
  lp_msg_done_fn done;     /* may be NULL: then the reactor frees m with lp_free */
  uint32_t worker;         /* set by lp_workers_send */
  lp_msg *next;            /* pending-list link, reactor side */
};

/* Per-worker hooks: open/close the worker's shards (on the worker thread), and a periodic tick. */
typedef struct lp_workers_hooks {
  int (*thread_start)(lp_worker *w, void *ud);   /* before the first message; non-zero aborts start */
  void (*thread_stop)(lp_worker *w, void *ud);   /* after the last message */
  void (*tick)(lp_worker *w, int64_t now_ms, void *ud);
  void *ud;
} lp_workers_hooks;

typedef struct lp_workers_conf {
  uint32_t workers;          /* >= 1 */
  uint32_t shards;           /* power of two */
  uint32_t ring_capacity;    /* power of two */
  uint32_t budget;           /* messages per loop turn */
  uint64_t tick_interval_ms;
} lp_workers_conf;

/* Starts the threads and waits until each ran thread_start. Reactor (main) thread. On failure nothing is
 * left running and errstr says why. */
int lp_workers_start(lp_workers **out, uv_loop_t *reactor, const lp_workers_conf *conf,
                     const lp_workers_hooks *hooks, char *errstr, size_t errstr_size);
/* Sends m to the worker that owns shard. Reactor thread. Never fails: queues when the ring is full. */
void lp_workers_send_shard(lp_workers *ws, uint32_t shard, lp_msg *m);
/* Sends m to worker index i. */
void lp_workers_send(lp_workers *ws, uint32_t i, lp_msg *m);
uint32_t lp_workers_count(const lp_workers *ws);
uint32_t lp_workers_shards(const lp_workers *ws);
static inline uint32_t lp_workers_owner(uint32_t shard, uint32_t workers) { return shard % workers; }
/* Messages waiting on the reactor side plus in flight. Reactor thread. */
size_t lp_workers_backlog(const lp_workers *ws);
size_t lp_workers_in_flight(const lp_workers *ws);
/* Messages of worker i waiting on the reactor side plus in flight (its share of lp_workers_backlog's
 * sum). Reactor thread. */
size_t lp_workers_backlog_of(const lp_workers *ws, uint32_t i);
/* Stops every worker after the messages already sent (drains the rings), runs thread_stop on each, joins
 * the threads, closes the reactor-side handles; then calls done(arg) on the reactor. The loop must keep
 * running until done. */
void lp_workers_stop(lp_workers *ws, void (*done)(void *arg), void *arg);
/* Frees ws after lp_workers_stop completed. */
void lp_workers_free(lp_workers *ws);

/* On a worker thread: its index, its loop, and the user pointer set by thread_start. */
uint32_t lp_worker_index(const lp_worker *w);
uv_loop_t *lp_worker_loop(lp_worker *w);
void lp_worker_set_data(lp_worker *w, void *data);
void *lp_worker_data(const lp_worker *w);
const lp_workers_conf *lp_worker_conf(const lp_worker *w);

/* XXH3-64 of a canonical domain: the key of the lead tables (not the shard: see lp_partition_of). Any
 * thread. */
uint64_t lp_domain_hash(const char *domain, size_t len);

/* Kafka's murmur2 (the Java client's Utils.murmur2, librdkafka's rd_murmur2): seed 0x9747b28c, the bytes
 * read as little-endian 32-bit words. Any thread. */
uint32_t lp_murmur2(const void *key, size_t len);

/* The shard, and the Kafka partition, of a canonical domain: Kafka's default (Java) partitioner,
 * (murmur2(domain) & 0x7fffffff) % shards, so that any producer keyed by the canonical domain with the
 * Java client's default partitioner (librdkafka: partitioner=murmur2_random) writes where leadpoet reads.
 * shards >= 1. Any thread. */
static inline uint32_t lp_partition_of(const char *domain, size_t len, uint32_t shards) {
  return (lp_murmur2(domain, len) & 0x7fffffffu) % shards;
}

#endif
