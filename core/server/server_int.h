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

/* Admission: LP_OK, or answers 503 itself and returns LP_EAGAIN. */
int lp__admit_ingest(lp_server *srv, lp_http_req *req);

#endif
