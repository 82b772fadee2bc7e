/*
 * apply.c: the one path by which an event reaches the shards, shared by HTTP ingest (kafka.mode = off) and
 * the Kafka consumer (stream.c).
 *
 * On the reactor, lp__ingest_check decodes one item with the strict decoders of stages/ingest and runs the
 * global stages (the throttle); lp__applier_add then groups the valid items by the worker that owns their
 * shard, in batches of at most LP_APPLY_BATCH so that a worker interleaves a burst with other work in small
 * steps. On the worker each item runs through the shard stages into the lead table (an outcome's credit is
 * collected right after). Back on the reactor, each item is counted (leadpoet_snippets_total{result} or
 * leadpoet_outcomes_total{event}, and against its miner), an applied outcome credits its miners, and the
 * caller's done callback learns the item's fate.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "server/credit.h"
#include "server/model.h"
#include "server/server_int.h"
#include "server/watch.h"

typedef struct lp_apply_batch {
  lp_msg msg;
  lp_server *srv;
  int outcomes;
  lp_apply_done_fn done;
  void *ctx;
  uint32_t n;
  void *item[LP_APPLY_BATCH];          /* lp_snippet * or lp_outcome *, owned by the batch */
  uintptr_t tag[LP_APPLY_BATCH];
  const char *code[LP_APPLY_BATCH];    /* NULL = applied */
  lp_credit *credit[LP_APPLY_BATCH];   /* outcomes: who to credit, filled on the worker (NULL: out of memory) */
} lp_apply_batch;

/* Counts a result against a miner, and lets the checkpoint know the miner (it walks the table by name). */
static void count_miner(lp_server *srv, const char *id, size_t len, const char *code) {
  lp__miners_count(srv->miners, id, len, code);
  lp__ckpt_note_miner(srv, id, len, code);
}

/* ---- worker side ---------------------------------------------------------------------------------- */

static void batch_run(lp_worker *w, lp_msg *m) {
  lp_apply_batch *b = (lp_apply_batch *)m;
  lp_worker_state *st = lp_worker_data(w);
  for (uint32_t i = 0; i < b->n; i++) {
    b->credit[i] = NULL;
    if (b->outcomes) {
      const lp_outcome *o = b->item[i];
      lp_shard *sh = lp__worker_shard(w, o->shard);
      b->code[i] = lp_shard_outcome(sh, o);
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

/* ---- reactor side --------------------------------------------------------------------------------- */

static void batch_done(lp_msg *m) {
  lp_apply_batch *b = (lp_apply_batch *)m;
  lp_server *srv = b->srv;
  for (uint32_t i = 0; i < b->n; i++) {
    const char *code = b->code[i];
    if (b->outcomes) {
      const lp_outcome *o = b->item[i];
      if (code == NULL) {
        lp__count_result(srv, 1, lp_outcome_event_name(o->event));
        lp_credit none = { 0 };
        lp__credit_apply(srv, o, b->credit[i] ? b->credit[i] : &none);
        if (lp__trainlog() != NULL) lp_trainlog_outcome(lp__trainlog(), o);  /* labels for leadpoet train */
        lp__experiment_outcome(o);  /* A/B tests: credit to the variant of its query_id (model.c) */
      } else {
        lp__count_result(srv, 1, code);
      }
      lp_free(b->credit[i]);
    } else {
      const lp_snippet *s = b->item[i];
      count_miner(srv, s->miner.ptr, s->miner.len, code);
      if (code == NULL) lp__watches_touch(srv, s->shard, s->domain.ptr, s->domain.len, s->id.ptr, s->id.len);
      lp__count_result(srv, 0, code ? code : "accepted");
    }
    b->done(b->ctx, b->tag[i], b->item[i], code);
    lp_free(b->item[i]);
  }
  lp_free(b);
}

int lp__applier_init(lp_applier *a, lp_server *srv, int outcomes, lp_apply_done_fn done, void *ctx) {
  memset(a, 0, sizeof(*a));
  a->open = lp_calloc(lp_workers_count(srv->workers), sizeof(*a->open));
  if (a->open == NULL) return LP_ENOMEM;
  a->srv = srv;
  a->outcomes = outcomes;
  a->done = done;
  a->ctx = ctx;
  return LP_OK;
}

static void send_batch(lp_applier *a, uint32_t worker) {
  lp_apply_batch *b = a->open[worker];
  a->open[worker] = NULL;
  if (b != NULL) lp_workers_send(a->srv->workers, worker, &b->msg);
}

int lp__applier_add(lp_applier *a, void *item, uint32_t shard, uintptr_t tag) {
  uint32_t worker = lp_workers_owner(shard, lp_workers_count(a->srv->workers));
  lp_apply_batch *b = a->open[worker];
  if (b == NULL) {
    b = lp_malloc(sizeof(*b));
    if (b == NULL) return LP_ENOMEM;
    b->msg = (lp_msg){ batch_run, batch_done, 0, NULL };
    b->srv = a->srv;
    b->outcomes = a->outcomes;
    b->done = a->done;
    b->ctx = a->ctx;
    b->n = 0;
    a->open[worker] = b;
  }
  b->item[b->n] = item;
  b->tag[b->n] = tag;
  b->code[b->n] = NULL;
  a->pending++;
  if (++b->n == LP_APPLY_BATCH) send_batch(a, worker);
  return LP_OK;
}

void lp__applier_flush(lp_applier *a) {
  /* After lp__applier_fini (the stream stopped) there is nothing to send: the final checkpoint flushes too. */
  if (a->open == NULL) return;
  uint32_t nw = lp_workers_count(a->srv->workers);
  for (uint32_t w = 0; w < nw; w++) send_batch(a, w);
}

size_t lp__applier_discard(lp_applier *a) {
  size_t n = 0;
  uint32_t nw = a->open ? lp_workers_count(a->srv->workers) : 0;
  for (uint32_t w = 0; w < nw; w++) {
    lp_apply_batch *b = a->open[w];
    if (b == NULL) continue;
    for (uint32_t i = 0; i < b->n; i++) lp_free(b->item[i]);
    n += b->n;
    lp_free(b);
    a->open[w] = NULL;
  }
  return n;
}

void lp__applier_fini(lp_applier *a) {
  lp__applier_discard(a);
  lp_free(a->open);
  a->open = NULL;
}

/* ---- decode and admit ----------------------------------------------------------------------------- */

/* A rejected snippet still counts against its miner when the miner field itself is readable. */
static void count_rejected_miner(lp_server *srv, const json_t *json, const msgpack_object *mp, const char *code) {
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
  /* not a miner name: nobody to count it against */
  if (id != NULL && len > 0 && lp_miner_chars_ok(id, len)) count_miner(srv, id, len, code);
}

int lp__ingest_decode(lp_server *srv, int outcomes, const json_t *json, const msgpack_object *mp, int64_t now_ms,
                      void **item, uint32_t *shard, lp_reject *rej) {
  int rc;
  *item = NULL;
  if (outcomes) {
    lp_outcome *o = NULL;
    rc = json ? lp_outcome_from_json(json, &srv->rules, now_ms, &o, rej)
              : lp_outcome_from_msgpack(mp, &srv->rules, now_ms, &o, rej);
    if (rc == LP_OK) {
      *item = o;
      *shard = o->shard;
    }
  } else {
    lp_snippet *s = NULL;
    rc = json ? lp_snippet_from_json(json, &srv->rules, now_ms, &s, rej)
              : lp_snippet_from_msgpack(mp, &srv->rules, now_ms, &s, rej);
    if (rc == LP_OK) {
      *item = s;
      *shard = s->shard;
    }
  }
  if (rc == LP_ENOMEM) {
    rej->code = "internal";
    snprintf(rej->message, sizeof(rej->message), "out of memory");
  } else if (rc != LP_OK) {
    if (rej->code == NULL) rej->code = "bad_field";
    if (!outcomes) count_rejected_miner(srv, json, mp, rej->code);
  }
  return rc;
}

int lp__ingest_admit(lp_server *srv, int outcomes, void *item, lp_reject *rej) {
  lp_verdict v = { NULL, { 0 } };
  int drop = outcomes ? lp_stages_admit_outcome(srv->stages, item, &v) : lp_stages_admit(srv->stages, item, &v);
  if (drop != LP_STAGE_DROP) return LP_OK;
  rej->code = v.code ? v.code : "dropped";
  snprintf(rej->message, sizeof(rej->message), "%s", v.message[0] ? v.message : "dropped by a stage");
  if (!outcomes) {
    const lp_snippet *s = item;
    count_miner(srv, s->miner.ptr, s->miner.len, rej->code);
  }
  return LP_EINVAL;
}
