/*
 * routes.c: the route table and the small routes: /healthz, /readyz, /metrics, /v1/status and
 * GET /v1/leads/{domain}. Ingest routes live in ingest_http.c.
 */
#include <llhttp.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "http/router.h"
#include "lp_version.h"
#include "server/auth.h"
#include "server/console.h"
#include "server/model.h"
#include "server/peers.h"
#include "server/server_int.h"
#include "server/stream_int.h"
#include "server/watch.h"

static void route_healthz(lp_http_req *req, lp_str param, void *ud) {
  (void)param;
  (void)ud;
  lp_http_respond(req, 200, "application/json", "{\"status\":\"ok\"}", 15);
}

static void route_readyz(lp_http_req *req, lp_str param, void *ud) {
  lp_server *srv = ud;
  (void)param;
  char why[160] = "";
  /* Contract: ready once state is restored (srv->ready) and the consumer is caught up (stream.c). */
  if (srv->ready && lp__stream_ready(srv, why, sizeof(why))) {
    lp_http_respond(req, 200, "application/json", "{\"status\":\"ready\"}", 18);
    return;
  }
  lp_http_add_header(req, "Retry-After", "1");
  lp_http_respond_error(req, 503, "not_ready", "%s",
                        !srv->ready ? (srv->not_ready_reason[0] ? srv->not_ready_reason : "starting") : why);
}

static void route_metrics(lp_http_req *req, lp_str param, void *ud) {
  lp_server *srv = ud;
  (void)param;
  lp_buf b = LP_BUF_INIT;
  if (lp_metrics_render(srv->metrics, &b) != LP_OK) {
    lp_buf_free(&b);
    lp_http_respond_error(req, 500, "internal", "cannot render metrics");
    return;
  }
  size_t len;
  char *body = lp_buf_steal(&b, &len);
  lp_http_respond_take(req, 200, "text/plain; version=0.0.4; charset=utf-8", body, len);
}

static void route_status(lp_http_req *req, lp_str param, void *ud) {
  lp_server *srv = ud;
  (void)param;
  lp_config *c = srv->cfg;
  lp_buf b = LP_BUF_INIT;
  uint32_t workers = srv->workers ? lp_workers_count(srv->workers) : 0;
  uint32_t shards = (uint32_t)c->server.shards;
  lp_buf_printf(&b, "{\"version\":\"%s\",\"git\":\"%s\",\"uptime_s\":%.3f,\"ready\":%s,\"listen\":", LP_VERSION,
                LP_GIT_REV, (double)(lp_now_ms() - srv->started_ms) / 1000.0, srv->ready ? "true" : "false");
  lp_buf_json_str(&b, c->server.listen, strlen(c->server.listen));
  lp_buf_printf(&b, ",\"workers\":%u,\"shards\":%u,\"partitions\":[", workers, shards);
  /* The partitions this instance owns: every shard without Kafka, else what the consumer group assigned. */
  for (uint32_t s = 0, n = 0; s < shards; s++)
    if (srv->stream == NULL || lp__stream_owns(srv, 0, (int32_t)s)) lp_buf_printf(&b, n++ ? ",%u" : "%u", s);
  lp_buf_puts(&b, "],\"stages\":[");
  for (size_t i = 0; srv->stages && i < lp_stages_count(srv->stages); i++) {
    const lp_stage_desc *d = lp_stages_desc(srv->stages, i);
    if (i) lp_buf_puts(&b, ",");
    lp_buf_json_str(&b, d->name, strlen(d->name));
  }
  /* Redis checkpoints and peers arrive with their own issues. */
  lp_buf_puts(&b, "],");
  lp__stream_status(srv, &b);
  lp_buf_puts(&b, ",");
  lp__ckpt_status(srv, &b);
  lp_model_ref *model = lp__model_acquire();
  lp_buf_puts(&b, ",\"peers\":");
  lp_peers_status(srv->peers, &b);
  lp_buf_puts(&b, ",\"model\":");
  lp_buf_json_str(&b, lp__model_name(model), strlen(lp__model_name(model)));
  lp__model_release(model);
  lp_buf_printf(&b, ",\"backlog\":%zu,"
                "\"memory\":{\"rss\":%llu,\"max\":%lld,\"high\":%s}}",
                srv->workers ? lp_workers_in_flight(srv->workers) : 0, (unsigned long long)srv->rss_bytes,
                (long long)c->server.max_memory, srv->memory_high ? "true" : "false");
  size_t len;
  char *body = lp_buf_steal(&b, &len);
  lp_http_respond_take(req, 200, "application/json", body, len);
}

/* ---- GET /v1/leads/{domain}: one message to the shard's worker ------------------------------------ */

typedef struct lead_get {
  lp_msg msg;
  lp_http_req *req;
  uint32_t shard;
  uint64_t hash;
  size_t len;
  int found;
  lp_buf out;
  char domain[256];
} lead_get;

static void lead_get_run(lp_worker *w, lp_msg *m) {
  lead_get *g = (lead_get *)m;
  lp_shard *sh = lp__worker_shard(w, g->shard);
  lp_lead *l = lp_leads_get(&sh->leads, g->domain, g->len, g->hash);
  if (l == NULL) return;
  g->found = 1;
  if (lp_lead_to_json(l, &g->out) != LP_OK) g->found = -1;
}

static void lead_get_done(lp_msg *m) {
  lead_get *g = (lead_get *)m;
  if (g->found > 0) {
    size_t len;
    char *body = lp_buf_steal(&g->out, &len);
    lp_http_respond_take(g->req, 200, "application/json", body, len);
  } else if (g->found < 0) {
    lp_http_respond_error(g->req, 500, "internal", "cannot render lead %s", g->domain);
  } else {
    lp_http_respond_error(g->req, 404, "not_found", "no lead %s", g->domain);
  }
  lp_buf_free(&g->out);
  lp_free(g);
}

static void route_lead_get(lp_http_req *req, lp_str param, void *ud) {
  lp_server *srv = ud;
  lead_get *g = lp_calloc(1, sizeof(*g));
  if (g == NULL) {
    lp_http_respond_error(req, 503, "overloaded", "out of memory");
    return;
  }
  lp_reject rej = { NULL, { 0 } };
  if (lp_domain_canonicalize(param.ptr, param.len, g->domain, sizeof(g->domain), &g->len, &rej) != LP_OK) {
    lp_http_respond_error(req, 400, "bad_request", "%s", rej.message[0] ? rej.message : "bad domain");
    lp_free(g);
    return;
  }
  g->req = req;
  g->hash = lp_domain_hash(g->domain, g->len);
  g->shard = lp_partition_of(g->domain, g->len, (uint32_t)srv->cfg->server.shards);
  g->msg.run = lead_get_run;
  g->msg.done = lead_get_done;
  lp_workers_send_shard(srv->workers, g->shard, &g->msg);
}

/* ---- the table ------------------------------------------------------------------------------------ */

static const lp_route routes[] = {
  { HTTP_GET, "/healthz", "/healthz", route_healthz },
  { HTTP_GET, "/readyz", "/readyz", route_readyz },
  { HTTP_GET, "/metrics", "/metrics", route_metrics },
  { HTTP_GET, "/v1/status", "/v1/status", route_status },
  { HTTP_POST, "/v1/snippets", "/v1/snippets", lp__route_snippets },
  { HTTP_POST, "/v1/outcomes", "/v1/outcomes", lp__route_outcomes },
  { HTTP_GET, "/v1/leads/{domain}", "/v1/leads/{domain}", route_lead_get },
  { HTTP_POST, "/v1/leads", "/v1/leads", lp__route_leads },
  { HTTP_POST, "/v1/admin/reload", "/v1/admin/reload", lp__route_admin_reload },
  { HTTP_GET, "/v1/experiments", "/v1/experiments", lp__route_experiments },
  { HTTP_GET, "/v1/miners", "/v1/miners", lp__route_miners },
  { HTTP_POST, "/v1/watches", "/v1/watches", lp__route_watches_post },
  { HTTP_GET, "/v1/watches", "/v1/watches", lp__route_watches_list },
  { HTTP_GET, "/v1/watches/{id}", "/v1/watches/{id}", lp__route_watch_get },
  { HTTP_DELETE, "/v1/watches/{id}", "/v1/watches/{id}", lp__route_watch_delete },
  { HTTP_GET, "/v1/miners/{id}", "/v1/miners/{id}", lp__route_miner },
  { HTTP_GET, "/", "/", lp__route_console },
  { HTTP_GET, "/docs", "/docs", lp__route_docs },
  { HTTP_GET, "/openapi.json", "/openapi.json", lp__route_openapi },
  { HTTP_GET, "/assets/{name}", "/assets/{name}", lp__route_asset },
};

void lp__server_handle(lp_http_req *req, void *ud) {
  lp_server *srv = ud;
  /* API keys and rate limits first (auth.c): a 401 or 429 is answered there, counted as route "auth"
   * (the router names the route of a request that goes on). */
  lp_http_req_set_route(req, "auth");
  if (!lp__auth_server_check(srv->cfg, req)) return;
  lp_router_dispatch(routes, sizeof(routes) / sizeof(routes[0]), req, ud);
}
