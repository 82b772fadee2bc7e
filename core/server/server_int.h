/* server_int.h: what the files of core/server/ share. Reactor thread unless said otherwise. */
#ifndef LP_SERVER_INT_H
#define LP_SERVER_INT_H

#include <uv.h>

#include "config/config.h"
#include "http/http.h"
#include "icp/icp.h"
#include "text/analyzer.h"
#include "text/techtable.h"
#include "metrics/metrics.h"
#include "server/shed.h"
#include "shard/shard.h"
#include "stage/registry.h"
#include "stages/ingest/ingest.h"
#include "worker/worker.h"

/* A miner as this instance saw it (miners.c). Reactor thread. */
typedef struct lp_miner_stat {
  char *id;
  uint64_t accepted, throttled, rejected;
  int64_t first_ms, last_ms;   /* wall clock */
} lp_miner_stat;
typedef struct lp_miner_table lp_miner_table;

#define LP_ROUTE_CACHE 64
#define LP_RESULT_CACHE 64

struct lp_stream;
struct lp_tickets;

typedef struct lp_server {
  lp_config *cfg;
  uv_loop_t loop;
  lp_http_server *http;
  lp_workers *workers;
  lp_stages *stages;
  lp_metrics *metrics;
  lp_domain_set *b2c;
  lp_techtable *tech;
  lp_analyzer *analyzer;
  lp_analyzer_ctx *reactor_analyzer;  /* the reactor's own, for prompts */
  lp_icp_parser *icp;
  lp_miner_table *miners;
  lp_ingest_rules rules;
  uv_signal_t sigint, sigterm, sighup;
  uv_timer_t shutdown_timer;
  int ready;
  int shutting_down;
  int loaded_global;          /* the global stage state was restored (or there was none): safe to save */
  int exit_code;
  int64_t started_ms;
  char not_ready_reason[128];

  struct lp_stream *stream;        /* Kafka (stream.c); NULL when kafka.mode resolves to off */
  struct lp_tickets *tickets;      /* HTTP ingest items waiting for Kafka (ingest_kafka.c) */
  struct lp_ckpt_wire *ckpt;       /* checkpoints to Redis (checkpoint.c); NULL without redis.endpoint */
  struct lp_watches *watches;      /* standing queries and webhooks (watch.c) */
  struct lp_peers *peers;          /* the other instances (peers.c); NULL without server.peers */
  char instance_id[40];            /* random per process: a peer recognises its own address by it */
  struct lp_enricher *enrich;      /* firmographic enrichment (enrich.c); NULL when no vendor key is set */
  uv_timer_t pressure_timer;       /* memory ceiling and backpressure (server.c, stream.c) */
  uint64_t rss_bytes;              /* resident set, read by the pressure timer */
  int memory_high;                 /* rss over 90% of server.max_memory, until it falls under 80% */
  lp_shed shed;                    /* admission control of POST /v1/leads (shed.c) */

  /* metrics, looked up once */
  lp_metric_family *m_http_requests, *m_http_duration, *m_snippets, *m_outcomes, *m_leads;
  lp_metric *m_ring_backlog;
  lp_metric *m_lead_cost;          /* leadpoet_lead_cost_usd */
  lp_metric *m_index_postings;     /* leadpoet_index_postings: the sum of the shard postings gauges */
  lp_metric **m_postings_shard;    /* leadpoet_index_shard_postings{shard} */
  lp_metric_family *m_postings;
  lp_metric *m_llm_hit_rate;       /* leadpoet_llm_hit_rate */
  lp_metric **m_leads_shard;       /* one per shard */

  /* Series looked up once and kept: a lookup takes the registry's mutex, an update does not. */
  struct { const char *route; int status; lp_metric *count, *duration; } route_cache[LP_ROUTE_CACHE];
  size_t n_route_cache;
  struct { int outcomes; const char *code; lp_metric *m; } result_cache[LP_RESULT_CACHE];
  size_t n_result_cache;
} lp_server;

/* Per-worker state: the shards this worker owns (shard s lives at shards[s / workers]). Worker thread. */
typedef struct lp_worker_state {
  lp_server *srv;
  uint32_t n;
  lp_shard *shards;
  lp_shard_env env;          /* shared by this worker's shards */
  lp_analyzer_ctx *analyzer; /* this thread's */
} lp_worker_state;

/* The shard s on the worker that owns it. Worker thread. */
lp_shard *lp__worker_shard(lp_worker *w, uint32_t shard);

/* Routes (routes.c) and the handler the HTTP server calls. */
void lp__server_handle(lp_http_req *req, void *ud);
/* POST /v1/snippets and /v1/outcomes (ingest_http.c). */
void lp__route_snippets(lp_http_req *req, lp_str param, void *ud);
void lp__route_outcomes(lp_http_req *req, lp_str param, void *ud);
/* The miner table and its routes (miners.c). result: NULL when accepted, else the rejection code. */
int lp__miners_new(lp_miner_table **out, size_t max);
void lp__miners_free(lp_miner_table *t);
lp_miner_stat *lp__miners_find(const lp_miner_table *t, const char *id, size_t len);
lp_miner_stat *lp__miners_get(lp_miner_table *t, const char *id, size_t len);
void lp__miners_count(lp_miner_table *t, const char *id, size_t len, const char *result);
void lp__route_miners(lp_http_req *req, lp_str param, void *ud);
void lp__route_miner(lp_http_req *req, lp_str param, void *ud);
/* POST /v1/leads (query_http.c). */
void lp__route_leads(lp_http_req *req, lp_str param, void *ud);
/* Counts one snippet/outcome result in leadpoet_snippets_total{result} / leadpoet_outcomes_total{event}. */
void lp__count_result(lp_server *srv, int outcomes, const char *result);

/* Admission: LP_OK, or answers itself (503 not ready, 429 + Retry-After under backpressure: the memory
 * ceiling or a worker's backlog over its bound) and returns LP_EAGAIN. */
int lp__admit_ingest(lp_server *srv, lp_http_req *req);
/* 1 when worker i holds server.ring_capacity messages or more (its ring is full and more wait): the
 * consumer pauses that worker's partitions, HTTP ingest answers 429. */
int lp__worker_over(const lp_server *srv, uint32_t worker);

/* ---- apply.c: the one path from a decoded event to the shards (HTTP direct and Kafka) ---------------- */

#define LP_APPLY_BATCH 256

/* An item's fate, on the reactor, after the shared accounting (counters, miner counts, credit): code NULL
 * = applied, else the stage's drop code (static string). item is freed right after the call. */
typedef void (*lp_apply_done_fn)(void *ctx, uintptr_t tag, const void *item, const char *code);

typedef struct lp_apply_batch lp_apply_batch;
typedef struct lp_applier {
  lp_server *srv;
  int outcomes;
  lp_apply_done_fn done;
  void *ctx;
  lp_apply_batch **open;     /* per worker: the batch being filled */
  size_t pending;            /* items added since init */
} lp_applier;

/* Sets up an applier (items of one kind). LP_ENOMEM. Reactor thread. */
int lp__applier_init(lp_applier *a, lp_server *srv, int outcomes, lp_apply_done_fn done, void *ctx);
/* Takes item (lp_snippet * / lp_outcome *, lp_malloc'd) for the worker of shard; a full batch goes at
 * once. Returns LP_OK, or LP_ENOMEM (item not taken). done(ctx, tag, ...) runs once per taken item. */
int lp__applier_add(lp_applier *a, void *item, uint32_t shard, uintptr_t tag);
/* Sends every partly filled batch. */
void lp__applier_flush(lp_applier *a);
/* Frees the items of unsent batches without calling done; returns how many. */
size_t lp__applier_discard(lp_applier *a);
/* Discards and frees the applier's own memory (batches in flight are not touched). */
void lp__applier_fini(lp_applier *a);
/* Decodes one item (exactly one of json / mp) with the strict decoders. LP_OK with *item (caller owns)
 * and *shard; else rej filled (code static) and the rejection counted against the miner when readable,
 * not in leadpoet_snippets_total (the caller counts). */
int lp__ingest_decode(lp_server *srv, int outcomes, const json_t *json, const msgpack_object *mp, int64_t now_ms,
                      void **item, uint32_t *shard, lp_reject *rej);
/* The global stages (the throttle) on a decoded item: LP_OK, or LP_EINVAL with rej filled (counted against
 * the miner; the caller still owns item and counts the code). */
int lp__ingest_admit(lp_server *srv, int outcomes, void *item, lp_reject *rej);

/* ---- stream.c: Kafka in serve (kafka.mode) ---------------------------------------------------------- */

/* Resolves kafka.mode; embedded starts the mock cluster; then producer and consumer (partition check:
 * LP_ECONFIG with the reason logged). LP_OK with srv->stream NULL in mode off. Reactor, at start. */
int lp__stream_start(lp_server *srv);
/* Leaves the group, waits for in-flight records, flushes the producer; then done(arg). Reactor. */
void lp__stream_stop(lp_server *srv, void (*done)(void *arg), void *arg);
/* Frees what is left after the loop ended (the mock cluster). Main thread. */
void lp__stream_free(lp_server *srv);
/* Pressure timer: resumes partitions paused for backpressure once their worker drained and memory is
 * under the ceiling; refreshes the lag gauges. Reactor. */
void lp__stream_tick(lp_server *srv, int64_t now_ms);
/* Whether a record delivered to that partition is applied by this instance: owned, or embedded mode. */
int lp__stream_will_apply(const lp_server *srv, int outcomes, int32_t partition);
/* Appends ,"kafka":{...} for /v1/status (mode off too), and the owned partitions list as "partitions". */
void lp__stream_status(lp_server *srv, lp_buf *b);
/* Whether this instance consumes partition p of the snippets (outcomes = 1: outcomes) topic. */
int lp__stream_owns(const lp_server *srv, int outcomes, int32_t partition);
/* Produces one value to the snippets/outcomes topic, partition = shard, key = canonical domain, header
 * content-type, and leadpoet-ticket when ticket != NULL. cb(ud, err, ...) on the loop. LP_OK, LP_EAGAIN
 * (queue full), LP_ESTATE (closing). Reactor. */
int lp__stream_produce(lp_server *srv, int outcomes, int32_t partition, const char *key, size_t key_len,
                       const void *value, size_t value_len, const char *content_type, const char *ticket,
                       void (*cb)(void *ud, int err, const char *reason, int32_t partition, int64_t offset),
                       void *ud);

/* ---- ingest_kafka.c: HTTP ingest through Kafka, answered once applied ------------------------------- */

#define LP_TICKET_HEADER "leadpoet-ticket"

/* Answers a body that failed as a whole (lp_ingest_split_body's rc: 415, 413 or 400) and counts it. */
void lp__ingest_body_error(lp_http_req *req, lp_server *srv, int outcomes, int rc, const char *media,
                           const lp_reject *whole);
/* This process's ticket prefix ("" when Kafka is off). */
const char *lp__stream_instance(const lp_server *srv);
/* POST /v1/snippets|outcomes when Kafka is on (called by ingest_http.c after admission). */
void lp__ingest_kafka(lp_http_req *req, lp_server *srv, int outcomes);
/* The consumer finished a record whose leadpoet-ticket header (value, len) it read: code NULL applied,
 * else its drop code. A ticket of another instance or an answered request is ignored. */
void lp__ticket_done(lp_server *srv, const void *ticket, size_t len, const char *code);
int lp__tickets_new(lp_server *srv);
void lp__tickets_free(lp_server *srv);

/* Stops the server with exit code 1 (a failure after start, e.g. a checkpoint that cannot be restored);
 * why is logged. Reactor (server.c). */
void lp__server_fail(lp_server *srv, const char *why);

/* stream.c, for the checkpoints: sends partly filled batches now; records taken and not finished; marks
 * topic_idx/partition applied up to offset so that its assignment starts after it (the checkpoint's). */
void lp__stream_flush(lp_server *srv);
size_t lp__stream_in_flight(const lp_server *srv);
void lp__stream_seek(lp_server *srv, int topic_idx, int32_t partition, int64_t offset);
/* 1 when no record of the partition (either topic) is in flight. Reactor thread. */
int lp__stream_part_idle(const lp_server *srv, int32_t partition);
/* The partition's records start after offset (-1: from the beginning) from now on: those below are
 * skipped as already in the restored state. Reactor thread. */
void lp__stream_restart_at(lp_server *srv, int topic_idx, int32_t partition, int64_t offset);

/* ---- checkpoint.c: exactly-once state in Redis (docs/adr/0013-checkpoint-wiring.md) ------------------ */

/* Without redis.endpoint: LP_OK and nothing (the caller starts Kafka and is ready). Else connects to Redis
 * and restores the last checkpoint (global state, every shard) in the background; then starts Kafka
 * (lp__stream_start), seeks it to the stored offsets, sets srv->ready and checkpoints every
 * checkpoint.interval. LP_ECONFIG (logged) for Redis with kafka.mode off or a bad endpoint. Reactor, at
 * start, after the workers. */
int lp__ckpt_start(lp_server *srv);
/* After the stream stopped: a last checkpoint when anything is not in one, then closes Redis; done(arg)
 * on the loop. Reactor. */
void lp__ckpt_stop(lp_server *srv, void (*done)(void *arg), void *arg);
/* Frees what is left after the loop ended. Main thread. */
void lp__ckpt_free(lp_server *srv);
/* 1 while the consumer must not take a record: a checkpoint is aligning, or the un-checkpointed backlog
 * is over checkpoint.max_backlog. */
int lp__ckpt_hold(const lp_server *srv);
/* Rebalances in external mode (docs/adr/0015-scale-out.md). assign: 1 when the checkpoint layer restores
 * the partition before its records are applied (the caller starts the consumer at the beginning); revoke:
 * the partition's state is written once more (not when lost), then dropped; part_held: its records must
 * wait (restore pending, or its shard not yet serialised by the checkpoint under way; asking makes it the
 * next one serialised); parts_ready: 0 with why while an assigned partition is being restored. Reactor. */
int lp__ckpt_assign(lp_server *srv, int32_t partition);
void lp__ckpt_revoke(lp_server *srv, int32_t partition, int lost);
int lp__ckpt_part_held(const lp_server *srv, int32_t partition);
int lp__ckpt_parts_ready(const lp_server *srv, char *why, size_t cap);
/* The stream marked topic_idx/partition applied up to offset (one record finished in order). */
void lp__ckpt_applied(lp_server *srv, int topic_idx, int32_t partition, int64_t offset);
/* A record was finished without its effect at shutdown (a purged dead letter or copy): the offsets are
 * no longer exact, so no final checkpoint is taken (the periodic ones stand). */
void lp__ckpt_inexact(lp_server *srv);
/* Reactor-owned state that no record carries changed (a watch registered or deleted): the next interval
 * writes a checkpoint even when nothing was applied. A no-op without checkpoints. Reactor. */
void lp__ckpt_request(lp_server *srv);
/* The stream has no record in flight any more. */
void lp__ckpt_drained(lp_server *srv);
/* Embedded mode with Redis: a 202 waits for the checkpoint that holds the items (group commit). */
int lp__ckpt_group_commit(const lp_server *srv);
/* Group commit: keeps a finished record's ticket until the next checkpoint lands; 1 when kept (then
 * lp__ticket_done runs after it), 0 when the caller resolves it now. ticket is copied. */
int lp__ckpt_hold_ticket(lp_server *srv, const char *ticket, size_t len, const char *code);
/* The miner table counted a result for id (so the checkpoint can walk the table). */
void lp__ckpt_note_miner(lp_server *srv, const char *id, size_t len, const char *code);
/* 1 with why when the un-checkpointed backlog is over its bound (HTTP ingest answers 429). */
int lp__ckpt_over_backlog(const lp_server *srv, char *why, size_t cap);
/* "redis":{...} for /v1/status: endpoint, connected, last checkpoint, backlog; or that checkpoints are
 * off and where state goes instead. */
void lp__ckpt_status(lp_server *srv, lp_buf *b);

#endif
