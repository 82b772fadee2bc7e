/*
 * ingest_http.c: POST /v1/snippets and POST /v1/outcomes, admission (429 under backpressure), and the
 * direct path of kafka.mode = off. With Kafka on, the valid items go through the log (ingest_kafka.c).
 *
 * On the reactor: the body is split into items (JSON array, NDJSON or msgpack), each item is decoded and
 * checked (contract section 1/2), and the valid ones go the shared apply path (apply.c: batches per worker).
 * On the workers: each item runs through the stages and into the lead table. When every item is back,
 * the reactor answers 202 {"accepted": n, "rejected": [{"index", "code", "message"}]} (rejections in index
 * order; an item a stage dropped, e.g. a duplicate, is listed with the stage's code). An applied event is
 * therefore visible to the next read before the client sees the 202.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "server/server_int.h"

typedef struct rejection {
  size_t index;
  const char *code;
  char *message;
} rejection;

typedef struct ingest_req {
  lp_server *srv;
  lp_http_req *req;
  int outcomes;
  int64_t now_ms;
  size_t items;
  size_t accepted;
  rejection *rej;
  size_t n_rej, cap_rej;
  size_t outstanding;       /* items at the workers, plus one while the body is being split */
  int failed;               /* 2: the body failed after items went out: the last one back frees ir */
  lp_applier ap;
} ingest_req;

/* Lists a rejection; count = 1 to count it in leadpoet_*_total too (the apply path counts its own). */
static void add_rejection(ingest_req *ir, size_t index, const char *code, const char *message, int count) {
  if (ir->n_rej == ir->cap_rej) {
    size_t cap = ir->cap_rej ? ir->cap_rej * 2 : 16;
    rejection *r = lp_realloc(ir->rej, cap * sizeof(*r));
    if (r == NULL) return;  /* still counted below; the 202 lists fewer */
    ir->rej = r;
    ir->cap_rej = cap;
  }
  if (ir->n_rej < ir->cap_rej) ir->rej[ir->n_rej++] = (rejection){ index, code, lp_strdup(message ? message : "") };
  if (count) lp__count_result(ir->srv, ir->outcomes, code);
}

static int cmp_rej(const void *a, const void *b) {
  const rejection *x = a, *y = b;
  return x->index < y->index ? -1 : x->index > y->index;
}

static void ingest_free(ingest_req *ir) {
  for (size_t i = 0; i < ir->n_rej; i++) lp_free(ir->rej[i].message);
  lp_free(ir->rej);
  lp__applier_fini(&ir->ap);
  lp_free(ir);
}

static void respond(ingest_req *ir) {
  lp_buf b = LP_BUF_INIT;
  if (ir->n_rej > 1) qsort(ir->rej, ir->n_rej, sizeof(rejection), cmp_rej);
  lp_buf_printf(&b, "{\"accepted\":%zu,\"rejected\":[", ir->accepted);
  for (size_t i = 0; i < ir->n_rej; i++) {
    lp_buf_printf(&b, "%s{\"index\":%zu,\"code\":\"%s\",\"message\":", i ? "," : "", ir->rej[i].index, ir->rej[i].code);
    lp_buf_json_str(&b, ir->rej[i].message ? ir->rej[i].message : "", ir->rej[i].message ? strlen(ir->rej[i].message) : 0);
    lp_buf_puts(&b, "}");
  }
  lp_buf_puts(&b, "]}");
  size_t len;
  char *body = lp_buf_steal(&b, &len);
  if (body == NULL) lp_http_respond_error(ir->req, 503, "overloaded", "out of memory");
  else lp_http_respond_take(ir->req, 202, "application/json", body, len);
  ingest_free(ir);
}

/* One item back from its worker (apply.c counted it). */
static void item_done(void *ctx, uintptr_t tag, const void *item, const char *code) {
  ingest_req *ir = ctx;
  (void)item;
  if (code == NULL) ir->accepted++;
  else add_rejection(ir, (size_t)tag, code, strcmp(code, "duplicate") == 0 ? "already applied" : "dropped by a stage", 0);
  if (--ir->outstanding == 0) {
    if (ir->failed == 2) ingest_free(ir);
    else respond(ir);
  }
}

static int on_item(void *ud, size_t index, const json_t *json, const msgpack_object *mp, const lp_reject *item_err) {
  ingest_req *ir = ud;
  lp_server *srv = ir->srv;
  ir->items++;
  if (item_err != NULL && item_err->code != NULL) {
    add_rejection(ir, index, item_err->code, item_err->message, 1);
    return 0;
  }
  lp_reject rej = { NULL, { 0 } };
  void *item = NULL;
  uint32_t shard = 0;
  if (lp__ingest_decode(srv, ir->outcomes, json, mp, ir->now_ms, &item, &shard, &rej) != LP_OK ||
      lp__ingest_admit(srv, ir->outcomes, item, &rej) != LP_OK) {
    lp_free(item);
    add_rejection(ir, index, rej.code, rej.message, 1);
    return 0;
  }
  ir->outstanding++;
  if (lp__applier_add(&ir->ap, item, shard, (uintptr_t)index) != LP_OK) {
    ir->outstanding--;
    lp_free(item);
    add_rejection(ir, index, "internal", "out of memory", 1);
  }
  return 0;
}

int lp__worker_over(const lp_server *srv, uint32_t worker) {
  return lp_workers_backlog_of(srv->workers, worker) >= (size_t)srv->cfg->server.ring_capacity;
}

int lp__admit_ingest(lp_server *srv, lp_http_req *req) {
  if (!srv->ready) {
    lp_http_add_header(req, "Retry-After", "1");
    lp_http_respond_error(req, 503, "not_ready", "%s", srv->not_ready_reason);
    return LP_EAGAIN;
  }
  if (srv->memory_high) {
    lp_http_add_header(req, "Retry-After", "1");
    lp_http_respond_error(req, 429, "overloaded", "memory (%llu bytes resident) is near server.max_memory; retry later",
                          (unsigned long long)srv->rss_bytes);
    return LP_EAGAIN;
  }
  uint32_t nw = lp_workers_count(srv->workers);
  for (uint32_t w = 0; w < nw; w++) {
    if (!lp__worker_over(srv, w)) continue;
    lp_http_add_header(req, "Retry-After", "1");
    lp_http_respond_error(req, 429, "overloaded", "worker %u has %zu messages waiting, over its bound; retry later", w,
                          lp_workers_backlog_of(srv->workers, w));
    return LP_EAGAIN;
  }
  return LP_OK;
}

void lp__ingest_body_error(lp_http_req *req, lp_server *srv, int outcomes, int rc, const char *media,
                           const lp_reject *whole) {
  if (rc == LP_ENOENT)
    lp_http_respond_error(req, 415, "unsupported_media_type",
                          "Content-Type %s is not one of application/json, application/x-ndjson, application/msgpack",
                          media);
  else if (rc == LP_ERANGE)
    lp_http_respond_error(req, 413, "payload_too_large", "%s", whole->message[0] ? whole->message : "too many items");
  else
    lp_http_respond_error(req, 400, whole->code ? whole->code : "bad_json", "%s",
                          whole->message[0] ? whole->message : "the body is not valid");
  if (rc != LP_ENOENT) lp__count_result(srv, outcomes, rc == LP_ERANGE ? "too_large" : "bad_json");
}

static void route_ingest(lp_http_req *req, void *ud, int outcomes) {
  lp_server *srv = ud;
  if (lp__admit_ingest(srv, req) != LP_OK) return;
  if (srv->stream != NULL) {
    lp__ingest_kafka(req, srv, outcomes);
    return;
  }
  const char *media = lp_http_req_media_type(req);
  if (media[0] == '\0') media = "application/json";
  ingest_req *ir = lp_calloc(1, sizeof(*ir));
  if (ir == NULL || lp__applier_init(&ir->ap, srv, outcomes, item_done, ir) != LP_OK) {
    lp_free(ir);
    lp_http_respond_error(req, 503, "overloaded", "out of memory");
    return;
  }
  ir->srv = srv;
  ir->req = req;
  ir->outcomes = outcomes;
  ir->now_ms = lp_now_ms();
  /* Held while the body is split (full batches go out during the split) and until every batch is sent,
   * so that a fast return can never answer early. */
  ir->outstanding = 1;
  lp_str body = lp_http_req_body(req);
  lp_reject whole = { NULL, { 0 } };
  int rc = lp_ingest_split_body(body.ptr, body.len, media, (size_t)srv->cfg->ingest.max_batch, on_item, ir, &whole);
  if (rc != LP_OK) {
    /* Items decoded before the body failed as a whole may sit in open batches (full ones may even have
     * gone out: a batch is sent at LP_APPLY_BATCH). The splitter parses the whole body before calling back for
     * JSON and msgpack, so only NDJSON can fail late, and it reports bad lines per item instead. */
    ir->outstanding -= lp__applier_discard(&ir->ap);
    lp__ingest_body_error(req, srv, outcomes, rc, media, &whole);
    if (--ir->outstanding == 0) ingest_free(ir);
    else ir->failed = 2;  /* batches in flight: the last one back frees ir without answering */
    return;
  }
  lp__applier_flush(&ir->ap);
  if (--ir->outstanding == 0) respond(ir);
}

void lp__route_snippets(lp_http_req *req, lp_str param, void *ud) {
  (void)param;
  route_ingest(req, ud, 0);
}

void lp__route_outcomes(lp_http_req *req, lp_str param, void *ud) {
  (void)param;
  route_ingest(req, ud, 1);
}
