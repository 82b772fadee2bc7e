/* watch.c: the watch registry and its routes (see watch.h). Reactor thread. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "icp/icp.h"
#include "query/request.h"
#include "server/watch.h"

/* ---- one watch ------------------------------------------------------------------------------------ */

void lp__watch_unref(lp_watch *w) {
  if (w == NULL || --w->refs > 0) return;
  lp_qplan_free(&w->plan);
  for (uint32_t i = 0; i < w->n_set; i++) lp_free(w->set[i].domain);
  lp_free(w->set);
  lp_free(w->dlq);
  lp_free(w->request);
  lp_free(w->secret);
  json_decref(w->view);
  lp_free(w);
}

/* The webhook fields of a registration: url (http:// only), secret (16..256 bytes), min_score. */
static int parse_hook(json_t *root, lp_watch *w, char *errstr, size_t errstr_size) {
  json_t *url = json_object_get(root, "url"), *secret = json_object_get(root, "secret"),
         *min = json_object_get(root, "min_score");
  if (!json_is_string(url) || json_string_length(url) == 0 || json_string_length(url) > LP_WATCH_URL_MAX) {
    snprintf(errstr, errstr_size, "url must be an http:// URL of 1..%d bytes", LP_WATCH_URL_MAX);
    return LP_EINVAL;
  }
  char why[256];
  if (lp_httpc_url_parse(json_string_value(url), &w->url, why, sizeof(why)) != LP_OK) {
    snprintf(errstr, errstr_size, "url: %s", why);
    return LP_EINVAL;
  }
  if (!json_is_string(secret) || json_string_length(secret) < LP_WATCH_SECRET_MIN ||
      json_string_length(secret) > LP_WATCH_SECRET_MAX) {
    snprintf(errstr, errstr_size, "secret must be a string of %d..%d bytes (it keys the HMAC-SHA256 signature)",
             LP_WATCH_SECRET_MIN, LP_WATCH_SECRET_MAX);
    return LP_EINVAL;
  }
  w->min_score = 0;
  if (min != NULL && !json_is_null(min)) {
    if (!json_is_number(min) || json_number_value(min) < 0 || json_number_value(min) > 1) {
      snprintf(errstr, errstr_size, "min_score must be a number between 0 and 1");
      return LP_EINVAL;
    }
    w->min_score = json_number_value(min);
  }
  w->secret = lp_strndup(json_string_value(secret), json_string_length(secret));
  json_t *filters = json_object_get(root, "filters");
  w->view = json_pack("{s:O,s:I,s:O,s:f,s:O}", "prompt", json_object_get(root, "prompt"), "k", (json_int_t)w->k,
                      "filters", filters != NULL ? filters : json_null(), "min_score", w->min_score, "url", url);
  return w->secret != NULL && w->view != NULL ? LP_OK : LP_ENOMEM;
}

int lp__watch_parse(lp_server *srv, const char *body, size_t len, lp_watch **out, char *errstr, size_t errstr_size) {
  *out = NULL;
  lp_query_req qr;
  if (lp_query_req_parse(body, len, 0, &qr, errstr, errstr_size) != LP_OK) return LP_EINVAL;
  json_error_t jerr;
  json_t *root = json_loadb(body, len, 0, &jerr);  /* valid: lp_query_req_parse took it */
  lp_watch *w = lp_calloc(1, sizeof(*w));
  if (root == NULL || w == NULL) {
    json_decref(root);
    lp_free(w);
    lp_query_req_free(&qr);
    return LP_ENOMEM;
  }
  w->refs = 1;
  w->k = qr.k;
  qr.explain = 1;  /* a delivery carries the signals and the evidence */
  int rc = parse_hook(root, w, errstr, errstr_size);
  json_decref(root);
  lp_icp *icp = NULL;
  if (rc == LP_OK && (rc = lp_icp_parse(srv->icp, qr.prompt, qr.prompt_len, &icp)) == LP_OK)
    /* the plan owns the request and the ICP from here, built or not (lp__watch_unref frees it) */
    rc = lp_qplan_build(&w->plan, &qr, icp, srv->reactor_analyzer, srv->tech, srv->icp, srv->cfg, lp_now_ms());
  else
    lp_query_req_free(&qr);
  w->request = rc == LP_OK ? lp_strndup(body, len) : NULL;
  w->request_len = len;
  w->set = rc == LP_OK ? lp_calloc(w->k, sizeof(lp_watch_member)) : NULL;
  w->dlq = rc == LP_OK ? lp_calloc((size_t)srv->cfg->watch.dlq_size, sizeof(lp_watch_dead)) : NULL;
  if (rc == LP_OK && (w->request == NULL || w->set == NULL || w->dlq == NULL)) rc = LP_ENOMEM;
  if (rc != LP_OK) {
    lp__watch_unref(w);
    return rc;
  }
  w->created_ms = lp_now_ms();
  *out = w;
  return LP_OK;
}

/* ---- the registry --------------------------------------------------------------------------------- */

int lp__watches_active(const lp_server *srv) {
  return srv->watches != NULL && !srv->watches->stopped && srv->watches->n > 0;
}

static lp_watch *find(lp_watches *ws, lp_str id, uint32_t *at) {
  for (uint32_t i = 0; i < ws->n; i++)
    if (strlen(ws->v[i]->id) == id.len && memcmp(ws->v[i]->id, id.ptr, id.len) == 0) {
      if (at) *at = i;
      return ws->v[i];
    }
  return NULL;
}

int lp__watch_add(lp_watches *ws, lp_watch *w, const char *id) {
  if (ws->n >= (uint32_t)ws->srv->cfg->watch.max_watches) return LP_ERANGE;
  if (ws->n == ws->cap) {
    uint32_t cap = ws->cap ? ws->cap * 2 : 8;
    lp_watch **v = lp_realloc(ws->v, cap * sizeof(*v));
    if (v == NULL) return LP_ENOMEM;
    ws->v = v;
    ws->cap = cap;
  }
  if (id != NULL) {
    snprintf(w->id, sizeof(w->id), "%s", id);
  } else {
    /* Unique across restarts: the wall clock's milliseconds and a sequence, mixed. */
    uint64_t x = ((uint64_t)lp_now_ms() << 16) ^ ++ws->seq ^ (ws->rng += 0x9e3779b97f4a7c15ull);
    snprintf(w->id, sizeof(w->id), "w-%016llx", (unsigned long long)x);
  }
  ws->v[ws->n++] = w;
  lp_gauge_set(ws->m_watches, ws->n);
  return LP_OK;
}

/* ---- JSON ------------------------------------------------------------------------------------------ */

static void render(const lp_watches *ws, const lp_watch *w, int detail, lp_buf *b) {
  lp_buf_puts(b, "{\"id\":");
  lp_buf_json_str(b, w->id, strlen(w->id));
  size_t n = json_dumpb(w->view, NULL, 0, JSON_COMPACT);
  char *view = n > 2 ? lp_malloc(n) : NULL;
  if (view != NULL && json_dumpb(w->view, view, n, JSON_COMPACT) == n) {  /* {...}: its members go in ours */
    lp_buf_puts(b, ",");
    lp_buf_append(b, view + 1, n - 2);
  }
  lp_free(view);
  lp_buf_printf(b, ",\"created_ms\":%lld,\"leads_in_set\":%u,\"deliveries\":%llu,\"delivered\":%llu,"
                   "\"failures\":%llu,\"dead_letters\":%llu,\"last_delivery_ms\":",
                (long long)w->created_ms, w->n_set, (unsigned long long)w->deliveries,
                (unsigned long long)w->delivered, (unsigned long long)w->failures,
                (unsigned long long)w->dead_letters);
  if (w->last_delivery_ms > 0) lp_buf_printf(b, "%lld", (long long)w->last_delivery_ms);
  else lp_buf_puts(b, "null");
  lp_buf_puts(b, ",\"last_error\":");
  if (w->last_error[0]) lp_buf_json_str(b, w->last_error, strlen(w->last_error));
  else lp_buf_puts(b, "null");
  if (detail) {
    uint32_t cap = (uint32_t)ws->srv->cfg->watch.dlq_size;
    lp_buf_puts(b, ",\"dlq\":[");
    for (uint32_t i = 0; i < w->n_dlq; i++) {  /* newest first */
      const lp_watch_dead *d = &w->dlq[(w->dlq_head + cap - 1 - i) % cap];
      lp_buf_puts(b, i ? ",{\"delivery\":" : "{\"delivery\":");
      lp_buf_json_str(b, d->delivery, strlen(d->delivery));
      lp_buf_puts(b, ",\"domain\":");
      lp_buf_json_str(b, d->domain, strlen(d->domain));
      lp_buf_puts(b, ",\"error\":");
      lp_buf_json_str(b, d->error, strlen(d->error));
      lp_buf_printf(b, ",\"attempts\":%u,\"ts\":%lld}", d->attempts, (long long)d->ts_ms);
    }
    lp_buf_puts(b, "]");
  }
  lp_buf_puts(b, "}");
}

static void respond_buf(lp_http_req *req, int status, lp_buf *b) {
  size_t len;
  char *body = lp_buf_steal(b, &len);
  if (body == NULL) lp_http_respond_error(req, 503, "overloaded", "out of memory");
  else lp_http_respond_take(req, status, "application/json", body, len);
}

/* ---- routes --------------------------------------------------------------------------------------- */

void lp__route_watches_post(lp_http_req *req, lp_str param, void *ud) {
  lp_server *srv = ud;
  (void)param;
  lp_watches *ws = srv->watches;
  if (ws == NULL || ws->stopped || srv->cfg->watch.max_watches == 0) {
    lp_http_respond_error(req, 503, "not_ready", "watches are off (watch.max_watches = 0) or shutting down");
    return;
  }
  if (!srv->ready) {  /* a restore in progress replaces the registry: a registration now would be lost */
    lp_http_add_header(req, "Retry-After", "1");
    lp_http_respond_error(req, 503, "not_ready", "%s", srv->not_ready_reason[0] ? srv->not_ready_reason : "starting");
    return;
  }
  if (ws->n >= (uint32_t)srv->cfg->watch.max_watches) {
    lp_http_respond_error(req, 409, "too_many_watches", "%u watches already: the most is watch.max_watches",
                          ws->n);
    return;
  }
  lp_str body = lp_http_req_body(req);
  lp_watch *w = NULL;
  char err[512] = "";
  int rc = lp__watch_parse(srv, body.ptr, body.len, &w, err, sizeof(err));
  if (rc == LP_EINVAL) {
    lp_http_respond_error(req, 400, "bad_request", "%s", err);
    return;
  }
  if (rc == LP_OK && (rc = lp__watch_add(ws, w, NULL)) != LP_OK) lp__watch_unref(w);
  if (rc == LP_OK && (rc = lp__watch_seed(ws, w, req)) != LP_OK) {
    ws->n--;  /* the one just added */
    lp_gauge_set(ws->m_watches, ws->n);
    lp__watch_unref(w);
  }
  if (rc != LP_OK) {
    lp_http_respond_error(req, 503, "overloaded", "out of memory");
    return;
  }
  lp__watches_save(ws);
  lp_log_info("watch registered", "id=%s k=%u url=%s:%s%s", w->id, w->k, w->url.host, w->url.port, w->url.path);
}

void lp__watch_created(lp_watches *ws, lp_watch *w, lp_http_req *req) {
  lp_buf b = LP_BUF_INIT;
  render(ws, w, 1, &b);
  respond_buf(req, 201, &b);
}

void lp__route_watches_list(lp_http_req *req, lp_str param, void *ud) {
  lp_server *srv = ud;
  (void)param;
  lp_watches *ws = srv->watches;
  lp_buf b = LP_BUF_INIT;
  lp_buf_puts(&b, "{\"watches\":[");
  for (uint32_t i = 0; ws != NULL && i < ws->n; i++) {
    if (i) lp_buf_puts(&b, ",");
    render(ws, ws->v[i], 0, &b);
  }
  lp_buf_printf(&b, "],\"max\":%lld}", (long long)srv->cfg->watch.max_watches);
  respond_buf(req, 200, &b);
}

void lp__route_watch_get(lp_http_req *req, lp_str param, void *ud) {
  lp_server *srv = ud;
  lp_watch *w = srv->watches ? find(srv->watches, param, NULL) : NULL;
  if (w == NULL) {
    lp_http_respond_error(req, 404, "not_found", "no watch %.*s", (int)(param.len > 64 ? 64 : param.len), param.ptr);
    return;
  }
  lp_buf b = LP_BUF_INIT;
  render(srv->watches, w, 1, &b);
  respond_buf(req, 200, &b);
}

void lp__route_watch_delete(lp_http_req *req, lp_str param, void *ud) {
  lp_server *srv = ud;
  lp_watches *ws = srv->watches;
  uint32_t at = 0;
  lp_watch *w = ws ? find(ws, param, &at) : NULL;
  if (w == NULL) {
    lp_http_respond_error(req, 404, "not_found", "no watch %.*s", (int)(param.len > 64 ? 64 : param.len), param.ptr);
    return;
  }
  memmove(&ws->v[at], &ws->v[at + 1], (ws->n - at - 1) * sizeof(ws->v[0]));
  ws->n--;
  lp_gauge_set(ws->m_watches, ws->n);
  w->deleted = 1;  /* evaluations and deliveries in flight hold their own references */
  lp_log_info("watch deleted", "id=%s", w->id);
  lp__watch_unref(w);
  lp__watches_save(ws);
  lp_http_respond(req, 204, "application/json", "", 0);
}

/* ---- life ----------------------------------------------------------------------------------------- */

int lp__watches_start(lp_server *srv) {
  lp_watches *ws = lp_calloc(1, sizeof(*ws));
  if (ws == NULL) return LP_ENOMEM;
  ws->srv = srv;
  ws->rng = (uint64_t)lp_now_ms() * 0x2545f4914f6cdd1dull | 1;
  srv->watches = ws;
  uv_timer_init(&srv->loop, &ws->coalesce);
  ws->coalesce.data = ws;
  lp_metrics *m = srv->metrics;
  const char *result[] = { "result" };
  lp_metric_family *f = lp_metrics_family(m, LP_METRIC_COUNTER, "leadpoet_webhook_deliveries_total",
                                          "Webhook delivery attempts of the watches, by result: ok (2xx), retry "
                                          "(failed, tried again), dead (failed the last attempt: dead-lettered).",
                                          result, 1, NULL, 0);
  const char *ok[] = { "ok" }, *retry[] = { "retry" }, *dead[] = { "dead" };
  ws->m_ok = f ? lp_metrics_series(f, ok) : NULL;
  ws->m_retry = f ? lp_metrics_series(f, retry) : NULL;
  ws->m_dead = f ? lp_metrics_series(f, dead) : NULL;
  ws->m_fired = lp_metrics_counter(m, "leadpoet_watch_matches_total",
                                   "Leads that an event moved into a watch's set (each fires one webhook).");
  ws->m_watches = lp_metrics_gauge(m, "leadpoet_watches", "Standing queries registered (POST /v1/watches).");
  if (!ws->m_ok || !ws->m_retry || !ws->m_dead || !ws->m_fired || !ws->m_watches) return LP_ENOMEM;
  lp_counter_add(ws->m_ok, 0);
  lp_counter_add(ws->m_retry, 0);
  lp_counter_add(ws->m_dead, 0);
  lp_gauge_set(ws->m_watches, 0);
  return lp__watches_load(ws);
}

void lp__watches_stop(lp_server *srv) {
  lp_watches *ws = srv->watches;
  if (ws == NULL || ws->stopped) return;
  ws->stopped = 1;
  uv_timer_stop(&ws->coalesce);
  if (!uv_is_closing((uv_handle_t *)&ws->coalesce)) uv_close((uv_handle_t *)&ws->coalesce, NULL);
  lp__watches_touch_clear(ws);
  lp__watch_deliveries_cancel(ws, "shutdown before the delivery succeeded");
  lp__watches_save(ws);
}

void lp__watches_free(lp_server *srv) {
  lp_watches *ws = srv->watches;
  if (ws == NULL) return;
  for (uint32_t i = 0; i < ws->n; i++) lp__watch_unref(ws->v[i]);
  lp_free(ws->v);
  lp__watches_touch_clear(ws);
  lp_free(ws);
  srv->watches = NULL;
}
