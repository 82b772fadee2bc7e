/*
 * ingest_http.c: POST /v1/snippets and POST /v1/outcomes.
 *
 * On the reactor: the body is split into items (JSON array, NDJSON or msgpack), each item is decoded and
 * checked (contract section 1/2), and the valid ones are grouped by the worker that owns their shard, in
 * batches of at most BATCH_MAX so that a worker interleaves a big request with other work in small steps.
 * On the workers: each item runs through the stages and into the lead table. When every batch is back,
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
#include "server/credit.h"
#include "server/server_int.h"

#define BATCH_MAX 256

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
  uint32_t outstanding;
  int failed;               /* out of memory while decoding: answer 503, nothing was sent */
  struct batch **open;      /* per worker: the batch being filled */
} ingest_req;

typedef struct batch {
  lp_msg msg;
  ingest_req *ir;
  uint32_t n;
  void *item[BATCH_MAX];          /* lp_snippet * or lp_outcome * */
  size_t index[BATCH_MAX];
  const char *code[BATCH_MAX];    /* NULL = applied */
  lp_credit *credit[BATCH_MAX];   /* outcomes: who to credit, filled on the worker (NULL: out of memory) */
} batch;

static void add_rejection(ingest_req *ir, size_t index, const char *code, const char *message) {
  if (ir->n_rej == ir->cap_rej) {
    size_t cap = ir->cap_rej ? ir->cap_rej * 2 : 16;
    rejection *r = lp_realloc(ir->rej, cap * sizeof(*r));
    if (r == NULL) {
      ir->failed = 1;
      return;
    }
    ir->rej = r;
    ir->cap_rej = cap;
  }
  ir->rej[ir->n_rej++] = (rejection){ index, code, lp_strdup(message ? message : "") };
  lp__count_result(ir->srv, ir->outcomes, code);
}

static int cmp_rej(const void *a, const void *b) {
  const rejection *x = a, *y = b;
  return x->index < y->index ? -1 : x->index > y->index;
}

static void ingest_free(ingest_req *ir) {
  for (size_t i = 0; i < ir->n_rej; i++) lp_free(ir->rej[i].message);
  lp_free(ir->rej);
  lp_free(ir->open);
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

/* ---- worker side ---------------------------------------------------------------------------------- */

static void batch_run(lp_worker *w, lp_msg *m) {
  batch *b = (batch *)m;
  lp_worker_state *st = lp_worker_data(w);
  for (uint32_t i = 0; i < b->n; i++) {
    if (b->ir->outcomes) {
      const lp_outcome *o = b->item[i];
      lp_shard *sh = lp__worker_shard(w, o->shard);
      b->code[i] = lp_shard_outcome(sh, o);
      b->credit[i] = NULL;
      if (b->code[i] == NULL && (b->credit[i] = lp_malloc(sizeof(lp_credit))) != NULL)
        lp__credit_collect(sh, o, b->credit[i]);
    } else {
      const lp_snippet *s = b->item[i];
      b->code[i] = lp_shard_snippet(lp__worker_shard(w, s->shard), s);
    }
  }
  /* In the same step: the next message (a query) sees every event of this batch. */
  for (uint32_t i = 0; i < st->n; i++)
    if (st->shards[i].n_pending > 0) lp_shard_flush(&st->shards[i]);
}

static void batch_done(lp_msg *m) {
  batch *b = (batch *)m;
  ingest_req *ir = b->ir;
  for (uint32_t i = 0; i < b->n; i++) {
    if (!ir->outcomes) {
      const lp_snippet *s = b->item[i];
      lp__miners_count(ir->srv->miners, s->miner.ptr, s->miner.len, b->code[i]);
    }
    if (b->code[i] == NULL) {
      ir->accepted++;
      if (ir->outcomes) {
        const lp_outcome *o = b->item[i];
        lp__count_result(ir->srv, 1, lp_outcome_event_name(o->event));
        lp_credit none = { 0 };
        lp__credit_apply(ir->srv, o, b->credit[i] ? b->credit[i] : &none);
      }
      else lp__count_result(ir->srv, 0, "accepted");
    } else {
      add_rejection(ir, b->index[i], b->code[i],
                    strcmp(b->code[i], "duplicate") == 0 ? "already applied" : "dropped by a stage");
    }
    if (ir->outcomes) lp_free(b->credit[i]);
    lp_free(b->item[i]);
  }
  lp_free(b);
  if (--ir->outstanding == 0) {
    if (ir->failed == 2) ingest_free(ir);
    else respond(ir);
  }
}

/* ---- reactor side --------------------------------------------------------------------------------- */

static void send_batch(ingest_req *ir, uint32_t worker) {
  batch *b = ir->open[worker];
  ir->open[worker] = NULL;
  if (b == NULL) return;
  ir->outstanding++;
  lp_workers_send(ir->srv->workers, worker, &b->msg);
}

static void queue_item(ingest_req *ir, void *item, uint32_t shard, size_t index) {
  uint32_t worker = lp_workers_owner(shard, lp_workers_count(ir->srv->workers));
  batch *b = ir->open[worker];
  if (b == NULL) {
    b = lp_malloc(sizeof(*b));
    if (b == NULL) {
      lp_free(item);
      add_rejection(ir, index, "internal", "out of memory");
      return;
    }
    b->msg = (lp_msg){ batch_run, batch_done, 0, NULL };
    b->ir = ir;
    b->n = 0;
    ir->open[worker] = b;
  }
  b->item[b->n] = item;
  b->index[b->n] = index;
  b->code[b->n] = NULL;
  if (++b->n == BATCH_MAX) send_batch(ir, worker);
}

/* The global stages (the throttle) decide on the reactor, before routing: 1 to go on, 0 when a stage dropped
 * the event (then it is listed, counted against its miner, and freed). */
static int admit_snippet(ingest_req *ir, lp_snippet *s, size_t index) {
  lp_verdict v = { NULL, { 0 } };
  if (lp_stages_admit(ir->srv->stages, s, &v) != LP_STAGE_DROP) return 1;
  const char *code = v.code ? v.code : "dropped";
  add_rejection(ir, index, code, v.message[0] ? v.message : "dropped by a stage");
  lp__miners_count(ir->srv->miners, s->miner.ptr, s->miner.len, code);
  lp_free(s);
  return 0;
}

static int admit_outcome(ingest_req *ir, lp_outcome *o, size_t index) {
  lp_verdict v = { NULL, { 0 } };
  if (lp_stages_admit_outcome(ir->srv->stages, o, &v) != LP_STAGE_DROP) return 1;
  add_rejection(ir, index, v.code ? v.code : "dropped", v.message[0] ? v.message : "dropped by a stage");
  lp_free(o);
  return 0;
}

/* A rejected snippet still counts against its miner when the miner field itself is readable. */
static void count_rejected_miner(ingest_req *ir, const json_t *json, const msgpack_object *mp, const char *code) {
  const char *id = NULL;
  size_t len = 0;
  if (json != NULL) {
    const json_t *m = json_is_object(json) ? json_object_get(json, "miner") : NULL;
    if (json_is_string(m)) {
      id = json_string_value(m);
      len = json_string_length(m);
    }
  } else if (mp != NULL && mp->type == MSGPACK_OBJECT_MAP) {
    for (uint32_t i = 0; i < mp->via.map.size; i++) {
      const msgpack_object_kv *kv = &mp->via.map.ptr[i];
      if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 5 && memcmp(kv->key.via.str.ptr, "miner", 5) == 0 &&
          kv->val.type == MSGPACK_OBJECT_STR) {
        id = kv->val.via.str.ptr;
        len = kv->val.via.str.size;
      }
    }
  }
  for (size_t i = 0; id != NULL && i < len; i++) {
    char c = id[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return;  /* not a miner name: nobody to count it against */
  }
  if (id != NULL) lp__miners_count(ir->srv->miners, id, len, code);
}

static int on_item(void *ud, size_t index, const json_t *json, const msgpack_object *mp, const lp_reject *item_err) {
  ingest_req *ir = ud;
  lp_server *srv = ir->srv;
  ir->items++;
  if (item_err != NULL && item_err->code != NULL) {
    add_rejection(ir, index, item_err->code, item_err->message);
    return 0;
  }
  lp_reject rej = { NULL, { 0 } };
  int rc;
  if (ir->outcomes) {
    lp_outcome *o = NULL;
    rc = json ? lp_outcome_from_json(json, &srv->rules, ir->now_ms, &o, &rej)
              : lp_outcome_from_msgpack(mp, &srv->rules, ir->now_ms, &o, &rej);
    if (rc == LP_OK && admit_outcome(ir, o, index)) queue_item(ir, o, o->shard, index);
  } else {
    lp_snippet *s = NULL;
    rc = json ? lp_snippet_from_json(json, &srv->rules, ir->now_ms, &s, &rej)
              : lp_snippet_from_msgpack(mp, &srv->rules, ir->now_ms, &s, &rej);
    if (rc == LP_OK && admit_snippet(ir, s, index)) queue_item(ir, s, s->shard, index);
  }
  if (rc != LP_OK) {
    add_rejection(ir, index, rej.code ? rej.code : "bad_field", rej.message);
    if (!ir->outcomes) count_rejected_miner(ir, json, mp, rej.code ? rej.code : "bad_field");
  }
  return 0;
}

int lp__admit_ingest(lp_server *srv, lp_http_req *req) {
  size_t limit = (size_t)srv->cfg->server.ring_capacity * lp_workers_count(srv->workers) * 4;
  if (!srv->ready) {
    lp_http_add_header(req, "Retry-After", "1");
    lp_http_respond_error(req, 503, "not_ready", "%s", srv->not_ready_reason);
    return LP_EAGAIN;
  }
  if (lp_workers_backlog(srv->workers) > limit) {
    lp_http_add_header(req, "Retry-After", "1");
    lp_http_respond_error(req, 503, "overloaded", "ingest backlog of %zu messages is over its bound; retry later",
                          lp_workers_backlog(srv->workers));
    return LP_EAGAIN;
  }
  return LP_OK;
}

static void route_ingest(lp_http_req *req, void *ud, int outcomes) {
  lp_server *srv = ud;
  if (lp__admit_ingest(srv, req) != LP_OK) return;
  const char *media = lp_http_req_media_type(req);
  if (media[0] == '\0') media = "application/json";
  ingest_req *ir = lp_calloc(1, sizeof(*ir));
  uint32_t nw = lp_workers_count(srv->workers);
  if (ir == NULL || (ir->open = lp_calloc(nw, sizeof(batch *))) == NULL) {
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
     * gone out: a batch is sent at BATCH_MAX). The splitter parses the whole body before calling back for
     * JSON and msgpack, so only NDJSON can fail late, and it reports bad lines per item instead. */
    for (uint32_t w = 0; w < nw; w++) {
      batch *b = ir->open[w];
      if (b == NULL) continue;
      for (uint32_t i = 0; i < b->n; i++) lp_free(b->item[i]);
      lp_free(b);
      ir->open[w] = NULL;
    }
    if (rc == LP_ENOENT)
      lp_http_respond_error(req, 415, "unsupported_media_type",
                            "Content-Type %s is not one of application/json, application/x-ndjson, application/msgpack",
                            media);
    else if (rc == LP_ERANGE)
      lp_http_respond_error(req, 413, "payload_too_large", "%s", whole.message[0] ? whole.message : "too many items");
    else
      lp_http_respond_error(req, 400, whole.code ? whole.code : "bad_json", "%s",
                            whole.message[0] ? whole.message : "the body is not valid");
    if (rc != LP_ENOENT) lp__count_result(srv, outcomes, rc == LP_ERANGE ? "too_large" : "bad_json");
    if (--ir->outstanding == 0) ingest_free(ir);
    else ir->failed = 2;  /* batches in flight: the last one back frees ir without answering */
    return;
  }
  for (uint32_t w = 0; w < nw; w++) send_batch(ir, w);
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
