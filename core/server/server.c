#include "server/server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive/archive.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/file.h"
#include "base/log.h"
#include "server/model.h"
#include "server/enrich.h"
#include "server/peers.h"
#include "server/server_int.h"
#include "server/watch.h"

/* ---- workers: open, load, tick, save, close their shards ----------------------------------------- */

lp_shard *lp__worker_shard(lp_worker *w, uint32_t shard) {
  lp_worker_state *ws = lp_worker_data(w);
  return &ws->shards[shard / lp_worker_conf(w)->workers];
}

static void worker_state_free(lp_worker *w) {
  lp_worker_state *st = lp_worker_data(w);
  if (st == NULL) return;
  for (uint32_t i = 0; i < st->n; i++) lp_shard_close(&st->shards[i]);
  lp_analyzer_ctx_free(st->analyzer);
  lp_free(st->shards);
  lp_free(st);
  lp_worker_set_data(w, NULL);
}

/* A snapshot written before the shard function became Kafka's partitioner (XXH3 & (shards - 1)) holds leads
 * that now belong to other shards: refuse it, loudly, rather than serve leads from the wrong shard. */
static int check_partitioner(lp_shard *sh, uint32_t s, uint32_t shards, const char *dir) {
  for (size_t i = 0; i < sh->leads.cap; i++) {
    const lp_lead *l = sh->leads.slots[i];
    if (l == NULL || l->domain == NULL) continue;
    uint32_t want = lp_partition_of(l->domain, strlen(l->domain), shards);
    if (want == s) continue;
    lp_log_error("shard snapshot uses the old shard function",
                 "shard=%u dir=%s lead=%s belongs_to=%u hint=\"snapshots written before shards followed Kafka's "
                 "murmur2 partitioner cannot be loaded: move the shard files of this folder away and re-ingest "
                 "(replay the Kafka topics from the beginning)\"",
                 s, dir, l->domain, want);
    return LP_ECONFIG;
  }
  return LP_OK;
}

static int worker_thread_start(lp_worker *w, void *ud) {
  lp_server *srv = ud;
  const lp_workers_conf *wc = lp_worker_conf(w);
  uint32_t me = lp_worker_index(w);
  lp_worker_state *st = lp_calloc(1, sizeof(*st));
  if (st == NULL) return LP_ENOMEM;
  st->srv = srv;
  st->shards = lp_calloc(wc->shards / wc->workers + 1, sizeof(lp_shard));
  lp_worker_set_data(w, st);
  char aerr[256];
  if (st->shards == NULL || lp_analyzer_ctx_new(&st->analyzer, srv->analyzer, aerr, sizeof(aerr)) != LP_OK) {
    worker_state_free(w);
    return LP_ENOMEM;
  }
  lp_config *c = srv->cfg;
  st->env.stages = srv->stages;
  st->env.evidence_cap = (uint32_t)c->ingest.evidence_per_lead;
  lp_index_params_default(&st->env.index);
  st->env.index.k1 = c->index.k1;
  st->env.index.b = c->index.b;
  st->env.index.min_normlen = c->index.min_normlen;
  if (lp_index_idf_parse(c->index.idf, &st->env.index.idf) != LP_OK) {  /* check_index_idf refused others */
    worker_state_free(w);
    return LP_EINVAL;
  }
  st->env.analyzer = st->analyzer;
  st->env.retention_ms = c->index.retention_ms;
  st->env.age_half_life_days = (double)c->index.age_half_life_ms / 86400000.0;
  st->env.tech = srv->tech;
  const char *dir = srv->cfg->server.state_dir;
  for (uint32_t s = me; s < wc->shards; s += wc->workers) {
    lp_shard *sh = &st->shards[st->n];
    int rc = lp_shard_open(sh, s, &st->env);
    if (rc != LP_OK) {
      lp_log_error("cannot open shard", "shard=%u err=\"%s\"", s, lp_strerror(rc));
      worker_state_free(w);
      return rc;
    }
    st->n++;
    if (dir && dir[0] && !srv->cfg->redis.endpoint[0]) {  /* with Redis, the checkpoint is the state */
      char err[512] = "";
      rc = lp_shard_load_file(sh, dir, err, sizeof(err));
      if (rc != LP_OK && rc != LP_ENOENT) {
        /* A snapshot we cannot read is refused loudly: starting empty would silently lose state. */
        lp_log_error("cannot restore shard", "shard=%u err=\"%s\"", s, err);
        worker_state_free(w);
        return rc;
      }
      if (rc == LP_OK && (rc = check_partitioner(sh, s, wc->shards, dir)) != LP_OK) {
        worker_state_free(w);
        return rc;
      }
    }
  }
  return LP_OK;
}

static void worker_thread_stop(lp_worker *w, void *ud) {
  lp_server *srv = ud;
  lp_worker_state *st = lp_worker_data(w);
  if (st == NULL) return;
  const char *dir = srv->cfg->redis.endpoint[0] ? "" : srv->cfg->server.state_dir;
  size_t saved = 0;
  for (uint32_t i = 0; i < st->n; i++) {
    if (dir && dir[0]) {
      char err[512] = "";
      if (lp_shard_save_file(&st->shards[i], dir, err, sizeof(err)) != LP_OK) {
        lp_log_error("cannot save shard", "shard=%u err=\"%s\"", st->shards[i].id, err);
        srv->exit_code = 1;
      } else {
        saved++;
      }
    }
  }
  if (dir && dir[0]) lp_log_info("shards saved", "worker=%u shards=%zu dir=%s", lp_worker_index(w), saved, dir);
  worker_state_free(w);
}

static void worker_tick(lp_worker *w, int64_t now_ms, void *ud) {
  lp_server *srv = ud;
  lp_worker_state *st = lp_worker_data(w);
  for (uint32_t i = 0; i < st->n; i++) {
    lp_shard *sh = &st->shards[i];
    if (sh->stages) lp_stage_shard_tick(sh->stages, now_ms);
    lp_shard_maintain(sh, (uint32_t)srv->cfg->index.expire_per_tick, (uint32_t)srv->cfg->index.merge_per_tick);
    lp_gauge_set(srv->m_leads_shard[sh->id], (double)lp_leads_count(&sh->leads));
    lp_index_stats ist;
    lp_index_stats_get(sh->index, &ist);
    lp_gauge_set(srv->m_postings_shard[sh->id], (double)ist.postings);
  }
}

/* ---- metrics -------------------------------------------------------------------------------------- */

static void collect(lp_metrics *m, void *ud) {
  lp_server *srv = ud;
  (void)m;
  if (srv->workers) lp_gauge_set(srv->m_ring_backlog, (double)lp_workers_in_flight(srv->workers));
  double postings = 0;
  for (int64_t s = 0; srv->m_postings_shard && s < srv->cfg->server.shards; s++)
    postings += lp_gauge_value(srv->m_postings_shard[s]);
  lp_gauge_set(srv->m_index_postings, postings);
}

static int setup_metrics(lp_server *srv) {
  const char *route_code[] = { "route", "code" }, *route[] = { "route" }, *result[] = { "result" },
             *event[] = { "event" }, *shard[] = { "shard" };
  lp_metrics *m = srv->metrics;
  srv->m_http_requests = lp_metrics_family(m, LP_METRIC_COUNTER, "leadpoet_http_requests_total",
                                           "HTTP requests answered, by route and status code.", route_code, 2, NULL, 0);
  srv->m_http_duration = lp_metrics_family(m, LP_METRIC_HISTOGRAM, "leadpoet_http_request_duration_seconds",
                                           "Time from the first byte of a request to its response.", route, 1,
                                           lp_metrics_latency_buckets, lp_metrics_latency_buckets_n);
  srv->m_snippets = lp_metrics_family(m, LP_METRIC_COUNTER, "leadpoet_snippets_total",
                                      "Snippets received, by result: accepted or the rejection code.", result, 1, NULL, 0);
  srv->m_outcomes = lp_metrics_family(m, LP_METRIC_COUNTER, "leadpoet_outcomes_total",
                                      "Outcome events, by event (applied) or rejection code.", event, 1, NULL, 0);
  srv->m_leads = lp_metrics_family(m, LP_METRIC_GAUGE, "leadpoet_leads", "Leads held, by shard.", shard, 1, NULL, 0);
  srv->m_ring_backlog = lp_metrics_gauge(m, "leadpoet_worker_backlog_messages",
                                         "Messages sent to shard workers and not yet answered.");
  static const double cost_buckets[] = { 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 5e-4, 1e-3, 2e-3, 4e-3, 1e-2 };
  srv->m_lead_cost = lp_metrics_histogram(m, "leadpoet_lead_cost_usd", "Cost of each delivered lead in US dollars.",
                                          cost_buckets, sizeof(cost_buckets) / sizeof(cost_buckets[0]));
  srv->m_llm_hit_rate = lp_metrics_gauge(m, "leadpoet_llm_hit_rate", "Share of queries that called the LLM stage.");
  if (!srv->m_lead_cost || !srv->m_llm_hit_rate) return LP_ENOMEM;
  if (!srv->m_http_requests || !srv->m_http_duration || !srv->m_snippets || !srv->m_outcomes || !srv->m_leads ||
      !srv->m_ring_backlog)
    return LP_ENOMEM;
  uint32_t shards = (uint32_t)srv->cfg->server.shards;
  srv->m_index_postings = lp_metrics_gauge(m, "leadpoet_index_postings", "Live postings in the shard indexes.");
  srv->m_postings = lp_metrics_family(m, LP_METRIC_GAUGE, "leadpoet_index_shard_postings",
                                      "Live postings in the index, by shard.", shard, 1, NULL, 0);
  if (!srv->m_index_postings || !srv->m_postings) return LP_ENOMEM;
  srv->m_postings_shard = lp_calloc(shards, sizeof(lp_metric *));
  srv->m_leads_shard = lp_calloc(shards, sizeof(lp_metric *));
  for (uint32_t s = 0; s < shards; s++) {
    char id[16];
    snprintf(id, sizeof(id), "%u", s);
    const char *v[] = { id };
    srv->m_leads_shard[s] = lp_metrics_series(srv->m_leads, v);
    lp_gauge_set(srv->m_leads_shard[s], 0);
    srv->m_postings_shard[s] = lp_metrics_series(srv->m_postings, v);
    lp_gauge_set(srv->m_postings_shard[s], 0);
  }
  /* Every contract result shows from the start, at 0, so that rate() and alerts work before the first. */
  static const char *results[] = { "accepted", "bad_json", "bad_field", "b2c_domain", "pii", "future_ts", "duplicate" };
  for (size_t i = 0; i < sizeof(results) / sizeof(results[0]); i++) {
    const char *v[] = { results[i] };
    lp_counter_add(lp_metrics_series(srv->m_snippets, v), 0);
  }
  return lp_metrics_on_collect(m, collect, srv);
}

static void observe(void *ud, const char *route, int status, double seconds) {
  lp_server *srv = ud;
  for (size_t i = 0; i < srv->n_route_cache; i++) {
    if (srv->route_cache[i].status == status && strcmp(srv->route_cache[i].route, route) == 0) {
      lp_counter_add(srv->route_cache[i].count, 1);
      lp_histogram_observe(srv->route_cache[i].duration, seconds);
      return;
    }
  }
  char code[8];
  snprintf(code, sizeof(code), "%d", status);
  const char *rc[] = { route, code }, *r[] = { route };
  lp_metric *count = lp_metrics_series(srv->m_http_requests, rc);
  lp_metric *duration = lp_metrics_series(srv->m_http_duration, r);
  lp_counter_add(count, 1);
  lp_histogram_observe(duration, seconds);
  /* Route names are the route table's static strings (or the server's own), so the pointer stays valid. */
  if (srv->n_route_cache < LP_ROUTE_CACHE)
    srv->route_cache[srv->n_route_cache++] = (typeof(srv->route_cache[0])){ route, status, count, duration };
}

void lp__count_result(lp_server *srv, int outcomes, const char *result) {
  for (size_t i = 0; i < srv->n_result_cache; i++) {
    if (srv->result_cache[i].outcomes == outcomes && strcmp(srv->result_cache[i].code, result) == 0) {
      lp_counter_add(srv->result_cache[i].m, 1);
      return;
    }
  }
  const char *v[] = { result };
  lp_metric *m = lp_metrics_series(outcomes ? srv->m_outcomes : srv->m_snippets, v);
  lp_counter_add(m, 1);
  /* Result codes are static strings (contract codes, event names, stage verdict codes). */
  if (srv->n_result_cache < LP_RESULT_CACHE)
    srv->result_cache[srv->n_result_cache++] = (typeof(srv->result_cache[0])){ outcomes, result, m };
}

/* ---- memory ceiling and backpressure --------------------------------------------------------------- */

#define PRESSURE_INTERVAL_MS 50

/* The resident set from /proc/self/statm (one small read; 0 when unreadable). */
static uint64_t read_rss(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long long size = 0, res = 0;
  if (f == NULL) return 0;
  int n = fscanf(f, "%llu %llu", &size, &res);
  fclose(f);
  return n == 2 ? (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

/* Every PRESSURE_INTERVAL_MS: memory against server.max_memory (high at 90%, cleared under 80%), then the
 * consumer's paused partitions (stream.c). */
static void on_pressure(uv_timer_t *t) {
  lp_server *srv = t->data;
  uint64_t max = (uint64_t)srv->cfg->server.max_memory;
  srv->rss_bytes = read_rss();
  if (max > 0 && srv->rss_bytes > 0) {
    if (!srv->memory_high && srv->rss_bytes > max / 10 * 9) {
      srv->memory_high = 1;
      lp_log_warn("memory near the ceiling: pausing ingest", "rss=%llu max_memory=%llu",
                  (unsigned long long)srv->rss_bytes, (unsigned long long)max);
    } else if (srv->memory_high && srv->rss_bytes < max / 10 * 8) {
      srv->memory_high = 0;
      lp_log_info("memory under the ceiling again: resuming ingest", "rss=%llu max_memory=%llu",
                  (unsigned long long)srv->rss_bytes, (unsigned long long)max);
    }
  }
  lp__stream_tick(srv, lp_now_ms());
}

/* ---- shutdown ------------------------------------------------------------------------------------- */

static void close_handle(uv_handle_t *h) {
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* The reactor-side state of the global stages (the throttle's buckets and fingerprints), beside the shard
 * snapshots: state_dir/global.lpstate. */
static void global_path(const lp_server *srv, char *path, size_t n) {
  snprintf(path, n, "%s/global.lpstate", srv->cfg->server.state_dir);
}

static void save_global(lp_server *srv) {
  if (srv->stages == NULL || !srv->cfg->server.state_dir[0] || !srv->loaded_global) return;
  lp_buf b = LP_BUF_INIT;
  char path[1024], err[512] = "";
  global_path(srv, path, sizeof(path));
  int rc = lp_stages_save_global(srv->stages, &b);
  if (rc == LP_OK) rc = lp_file_write_atomic(path, b.data, b.len, err, sizeof(err));
  if (rc != LP_OK) {
    lp_log_error("cannot save the global stage state", "path=%s err=\"%s\"", path, err[0] ? err : lp_strerror(rc));
    srv->exit_code = 1;
  }
  lp_buf_free(&b);
}

static int load_global(lp_server *srv) {
  if (!srv->cfg->server.state_dir[0]) return LP_OK;
  lp_buf b = LP_BUF_INIT;
  char path[1024], err[512] = "";
  global_path(srv, path, sizeof(path));
  int rc = lp_file_read(path, &b, err, sizeof(err));
  if (rc == LP_OK) rc = lp_stages_load_global(srv->stages, b.data, b.len, err, sizeof(err));
  if (rc == LP_ENOENT) rc = LP_OK;
  if (rc != LP_OK) lp_log_error("cannot restore the global stage state", "path=%s err=\"%s\"", path, err);
  else srv->loaded_global = 1;
  lp_buf_free(&b);
  return rc;
}

static void workers_stopped(void *arg) {
  lp_server *srv = arg;
  lp_enricher_stop(srv->enrich);  /* a start that failed never reached http_closed */
  save_global(srv);
  lp_archive_close(lp_archive_active());  /* writes what is buffered, then lets the loop end */
  close_handle((uv_handle_t *)&srv->sigint);
  close_handle((uv_handle_t *)&srv->sigterm);
  close_handle((uv_handle_t *)&srv->sighup);
  close_handle((uv_handle_t *)&srv->shutdown_timer);
  close_handle((uv_handle_t *)&srv->pressure_timer);
  lp_log_info("stopped", "exit=%d", srv->exit_code);
}

static void ckpt_stopped(void *arg) {
  lp_server *srv = arg;
  /* No event can come any more: the watches stop (pending webhooks dead-lettered, registry saved), then
   * drain the rings, save the shards, join the workers. */
  lp__watches_stop(srv);
  if (srv->workers) lp_workers_stop(srv->workers, workers_stopped, srv);
  else workers_stopped(srv);
}

static void stream_stopped(void *arg) {
  lp_server *srv = arg;
  /* With Redis: a last checkpoint of the drained state, then Redis closes (checkpoint.c). */
  lp__ckpt_stop(srv, ckpt_stopped, srv);
}

static void http_closed(void *arg) {
  lp_server *srv = arg;
  srv->http = NULL;
  lp_peers_close(srv->peers);  /* no query can ask them any more; freed once libuv closed its handles */
  srv->peers = NULL;
  lp_enricher_stop(srv->enrich);  /* no vendor answer may reach the workers once they stop */
  /* No request can come any more: leave the consumer group, finish the records in flight, flush the
   * producer (stream.c), then the workers. */
  lp__stream_stop(srv, stream_stopped, srv);
}

static void on_shutdown_timeout(uv_timer_t *t) {
  lp_server *srv = t->data;
  lp_log_warn("shutdown timeout: closing connections now", "timeout_ms=%lld",
              (long long)srv->cfg->server.shutdown_timeout_ms);
  if (srv->http) lp_http_server_close(srv->http, 1, NULL, NULL);
}

static void begin_shutdown(lp_server *srv, const char *why) {
  if (srv->shutting_down) {
    lp_log_warn("second signal: closing connections now", "why=%s", why);
    if (srv->http) lp_http_server_close(srv->http, 1, NULL, NULL);
    return;
  }
  srv->shutting_down = 1;
  srv->ready = 0;
  snprintf(srv->not_ready_reason, sizeof(srv->not_ready_reason), "shutting down");
  lp_log_info("shutting down", "why=%s", why);
  uv_timer_start(&srv->shutdown_timer, on_shutdown_timeout, (uint64_t)srv->cfg->server.shutdown_timeout_ms, 0);
  if (srv->http) lp_http_server_close(srv->http, 0, http_closed, srv);
  else http_closed(srv);
}

void lp__server_fail(lp_server *srv, const char *why) {
  srv->exit_code = 1;
  begin_shutdown(srv, why);
}

static void on_signal(uv_signal_t *h, int signum) {
  if (signum == SIGHUP) {
    lp__model_reload(h->data, NULL, NULL);  /* model.c: off the reactor, logged */
    return;
  }
  begin_shutdown(h->data, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

/* ---- start ---------------------------------------------------------------------------------------- */

static uint32_t default_workers(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : (uint32_t)n;
}

static int start_workers(lp_server *srv) {
  lp_config *c = srv->cfg;
  uint32_t workers = c->server.workers > 0 ? (uint32_t)c->server.workers : default_workers();
  if (workers > (uint32_t)c->server.shards) workers = (uint32_t)c->server.shards;
  lp_workers_conf wc = { workers, (uint32_t)c->server.shards, (uint32_t)c->server.ring_capacity, 64,
                         (uint64_t)c->server.tick_interval_ms };
  lp_workers_hooks hooks = { worker_thread_start, worker_thread_stop, worker_tick, srv };
  char err[512] = "";
  if (c->server.state_dir[0] && mkdir(c->server.state_dir, 0755) != 0 && errno != EEXIST) {
    lp_log_error("cannot create state_dir", "dir=%s err=\"%s\"", c->server.state_dir, strerror(errno));
    return LP_EIO;
  }
  int rc = lp_workers_start(&srv->workers, &srv->loop, &wc, &hooks, err, sizeof(err));
  if (rc != LP_OK) lp_log_error("cannot start workers", "err=\"%s\"", err);
  else lp_log_info("workers started", "workers=%u shards=%u", workers, wc.shards);
  return rc;
}

static int start_http(lp_server *srv) {
  lp_config *c = srv->cfg;
  lp_http_limits lim = {
    (size_t)c->http.max_header_bytes, (size_t)c->http.max_body_bytes, (uint64_t)c->http.header_timeout_ms,
    (uint64_t)c->http.body_timeout_ms, (uint64_t)c->http.idle_timeout_ms, (uint64_t)c->http.write_timeout_ms,
    (uint32_t)c->http.max_connections, (uint32_t)c->http.max_pipelined, (size_t)c->http.max_output_bytes,
    (int)c->http.backlog,
  };
  int rc = lp_http_server_new(&srv->http, &srv->loop, &lim, lp__server_handle, observe, srv);
  if (rc != LP_OK) return rc;
  char err[256] = "";
  rc = lp_http_server_listen(srv->http, c->server.listen, err, sizeof(err));
  if (rc != LP_OK) {
    lp_log_error("cannot listen", "addr=%s err=\"%s\"", c->server.listen, err);
    lp_http_server_close(srv->http, 1, NULL, NULL);
    srv->http = NULL;
    return rc;
  }
  lp_log_info("listening", "addr=%s port=%d", c->server.listen, lp_http_server_port(srv->http));
  return LP_OK;
}

/* server.peers: the other instances POST /v1/leads asks (peers.c); a random id tells this one apart. */
static int start_peers(lp_server *srv) {
  uint8_t rnd[8] = { 0 };
  uint64_t id;
  if (uv_random(NULL, NULL, rnd, sizeof(rnd), 0, NULL) != 0) memcpy(rnd, &srv->started_ms, sizeof(rnd));
  memcpy(&id, rnd, sizeof(id));
  snprintf(srv->instance_id, sizeof(srv->instance_id), "%d-%016llx", (int)getpid(), (unsigned long long)id);
  if (!srv->cfg->server.peers[0]) return LP_OK;
  lp_peers_opts po = { srv->cfg->server.peers, srv->instance_id, srv->cfg->server.peer_timeout_ms,
                       srv->cfg->server.peer_refresh_ms };
  char err[256] = "";
  int rc = lp_peers_new(&srv->loop, &po, &srv->peers, err, sizeof(err));
  if (rc != LP_OK) lp_log_error("cannot start the peers", "peers=\"%s\" err=\"%s\"", srv->cfg->server.peers, err);
  else lp_log_info("peers on", "peers=\"%s\" timeout_ms=%lld", srv->cfg->server.peers,
                   (long long)srv->cfg->server.peer_timeout_ms);
  return rc == LP_ENOMEM ? LP_ENOMEM : rc == LP_OK ? LP_OK : LP_ECONFIG;
}

static int start(lp_server *srv) {
  char err[512] = "";
  int rc = lp_metrics_new(&srv->metrics, (size_t)srv->cfg->metrics.max_series);
  if (rc != LP_OK) return rc;
  lp_metrics_set_default(srv->metrics);
  lp_metrics_thread_register();
  if ((rc = setup_metrics(srv)) != LP_OK) return rc;
  const lp_config *qc = srv->cfg;
  if ((rc = lp__shed_init(&srv->shed, (uint32_t)qc->query.max_in_flight, qc->query.queue_target_ms,
                          qc->query.queue_interval_ms, srv->metrics)) != LP_OK)
    return rc;
  if ((rc = lp_techtable_builtin(&srv->tech, err, sizeof(err))) != LP_OK ||
      (rc = lp_analyzer_new(&srv->analyzer, srv->tech, NULL, err, sizeof(err))) != LP_OK ||
      (rc = lp_analyzer_ctx_new(&srv->reactor_analyzer, srv->analyzer, err, sizeof(err))) != LP_OK ||
      (rc = lp_icp_parser_new(&srv->icp, srv->tech, err, sizeof(err))) != LP_OK) {
    lp_log_error("cannot build the text tables", "err=\"%s\"", err);
    return rc;
  }
  if ((rc = lp__miners_new(&srv->miners, (size_t)srv->cfg->ingest.max_miners)) != LP_OK) return rc;
  if ((rc = lp_domain_set_builtin(&srv->b2c)) != LP_OK) {
    lp_log_error("cannot build the b2c domain set", "err=\"%s\"", lp_strerror(rc));
    return rc;
  }
  srv->rules.max_future_ms = srv->cfg->ingest.max_future_ms;
  srv->rules.shards = (uint32_t)srv->cfg->server.shards;
  srv->rules.b2c = srv->b2c;
  if ((rc = lp_stages_load(&srv->stages, srv->cfg, srv->metrics, err, sizeof(err))) != LP_OK) {
    lp_log_error("cannot load stages", "err=\"%s\"", err);
    return rc;
  }
  /* With Redis the checkpoint holds the global state (checkpoint.c); else the file beside the shards. */
  if (!srv->cfg->redis.endpoint[0] && (rc = load_global(srv)) != LP_OK) return rc;
  if ((rc = lp_archive_start(&srv->loop, srv->metrics, NULL)) != LP_OK) return rc;
  if ((rc = lp__model_start(srv)) != LP_OK) return rc;  /* model.c: the model and the training log */
  if ((rc = start_workers(srv)) != LP_OK) return rc;
  if ((rc = lp__tickets_new(srv)) != LP_OK) return rc;
  if ((rc = lp__watches_start(srv)) != LP_OK) return rc;
  if ((rc = lp_enricher_new(&srv->enrich, srv, err, sizeof(err))) != LP_OK) {
    lp_log_error("cannot start enrichment", "err=\"%s\"", err);
    return rc;
  }
  /* With Redis, Kafka starts once the checkpoint is restored (and /readyz says so meanwhile). */
  if ((rc = srv->cfg->redis.endpoint[0] ? lp__ckpt_start(srv) : lp__stream_start(srv)) != LP_OK) return rc;
  srv->rss_bytes = read_rss();  /* /v1/status shows it from the first request on */
  uv_timer_start(&srv->pressure_timer, on_pressure, PRESSURE_INTERVAL_MS, PRESSURE_INTERVAL_MS);
  if ((rc = start_peers(srv)) != LP_OK) return rc;
  if ((rc = start_http(srv)) != LP_OK) {
    lp_peers_close(srv->peers);  /* its refresh timer would keep the loop alive */
    srv->peers = NULL;
  }
  return rc;
}

int lp_server_run(lp_config *cfg) {
  lp_server *srv = lp_calloc(1, sizeof(*srv));
  srv->cfg = cfg;
  srv->started_ms = lp_now_ms();
  snprintf(srv->not_ready_reason, sizeof(srv->not_ready_reason), "starting");
  lp_log_set_thread("reactor");
  signal(SIGPIPE, SIG_IGN);
  uv_loop_init(&srv->loop);
  uv_signal_init(&srv->loop, &srv->sigint);
  uv_signal_init(&srv->loop, &srv->sigterm);
  uv_signal_init(&srv->loop, &srv->sighup);
  uv_timer_init(&srv->loop, &srv->shutdown_timer);
  uv_timer_init(&srv->loop, &srv->pressure_timer);
  srv->sigint.data = srv->sigterm.data = srv->sighup.data = srv->shutdown_timer.data = srv;
  srv->pressure_timer.data = srv;
  uv_signal_start(&srv->sigint, on_signal, SIGINT);
  uv_signal_start(&srv->sigterm, on_signal, SIGTERM);
  uv_signal_start(&srv->sighup, on_signal, SIGHUP);

  int rc = start(srv);
  if (rc == LP_OK && srv->ckpt == NULL) {
    srv->ready = 1;
    srv->not_ready_reason[0] = '\0';
    lp_log_info("ready", "listen=%s", cfg->server.listen);
  } else if (rc == LP_OK) {
    lp_log_info("serving queries; ingest waits for the restore", "listen=%s", cfg->server.listen);
  } else {
    srv->exit_code = 1;
    srv->shutting_down = 1;
    lp__stream_stop(srv, stream_stopped, srv);
  }
  uv_run(&srv->loop, UV_RUN_DEFAULT);
  int exit_code = srv->exit_code;
  lp__model_free();  /* model.c: writes what the training log still holds */
  lp__stream_free(srv);
  lp__ckpt_free(srv);
  lp__tickets_free(srv);
  lp_enricher_free(srv->enrich);
  lp_archive_free(lp_archive_active());
  lp__watches_free(srv);
  lp_workers_free(srv->workers);
  if (uv_loop_close(&srv->loop) != 0) lp_log_warn("loop closed with handles open", "%s", "");
  lp_stages_free(srv->stages);
  lp_domain_set_free(srv->b2c);
  lp__miners_free(srv->miners);
  lp_icp_parser_free(srv->icp);
  lp_analyzer_ctx_free(srv->reactor_analyzer);
  lp_analyzer_free(srv->analyzer);
  lp_techtable_free(srv->tech);
  lp_metrics_set_default(NULL);
  lp_metrics_free(srv->metrics);
  lp_free(srv->m_leads_shard);
  lp_free(srv->m_postings_shard);
  lp_free(srv);
  return exit_code;
}
