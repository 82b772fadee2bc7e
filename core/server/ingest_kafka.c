/*
 * ingest_kafka.c: POST /v1/snippets and /v1/outcomes when Kafka is on: the log is the one source of truth.
 *
 * The body is split and each item decoded and checked on the reactor as in the direct path; a bad item is
 * answered in the 202's rejected list and never produced. Each valid item is produced to its topic with
 * value = the item re-encoded (compact JSON, or the msgpack object re-packed), header content-type, key =
 * the canonical domain, partition = its shard, and header leadpoet-ticket = "<instance>:<seq>". The
 * consumer that applies a record carrying a ticket of this instance resolves it (lp__ticket_done), whatever
 * the order of that and the delivery report.
 *
 * An item is settled when its delivery report failed, or when it is delivered and either applied here
 * (the consumer finished it: applied, or dropped by a stage whose code then goes to `rejected`) or its
 * partition is owned by another instance at delivery time (then it is accepted: durable in the log). In
 * embedded mode this process is the only member of the group, so every item waits to be applied here. The
 * request is answered once every item is settled: 202 {"accepted","rejected"}, or 503 + Retry-After when
 * any item was not delivered (the whole request is to be retried; items that were delivered are applied
 * once, the dedupe stage drops the retried copies). In embedded mode with Redis an item is settled only
 * once the checkpoint that holds it is written (group commit, checkpoint.c): a 202 survives kill -9; an
 * item not in a checkpoint by kafka.apply_timeout makes it a 503. With the un-checkpointed backlog over
 * checkpoint.max_backlog (Redis down), the request is refused with 429. kafka.apply_timeout bounds the wait: then delivered
 * items count as accepted and undelivered ones make it a 503.
 */
#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "server/server_int.h"

enum { DELIVERY_PENDING = 0, DELIVERY_OK, DELIVERY_FAILED };

typedef struct kreq kreq;

typedef struct kitem {
  kreq *kr;
  struct kitem *hnext;        /* ticket map chain */
  uint64_t seq;
  size_t index;
  int32_t partition;
  uint8_t delivery;
  uint8_t applied;
  uint8_t remote;             /* delivered to a partition another instance owns */
  uint8_t settled;
  uint8_t in_map;
  const char *code;           /* drop code from the consumer */
} kitem;

typedef struct krej {
  size_t index;
  const char *code;
  char *message;
} krej;

struct kreq {
  lp_server *srv;
  lp_http_req *req;
  int outcomes;
  int64_t now_ms;
  kitem **items;
  size_t n_items, cap_items;
  size_t unsettled;           /* items produced and not settled, plus one while splitting */
  size_t deliveries;          /* delivery reports still to come (kreq lives until 0 and answered) */
  krej *rej;
  size_t n_rej, cap_rej;
  char why[200];              /* the first delivery failure */
  int answered;
  int timer_open;
  uv_timer_t timer;
};

typedef struct lp_tickets {
  kitem **b;
  size_t cap, n;
  uint64_t next_seq;
} lp_tickets;

/* ---- the ticket map ------------------------------------------------------------------------------- */

int lp__tickets_new(lp_server *srv) {
  lp_tickets *t = lp_calloc(1, sizeof(*t));
  if (t == NULL || (t->b = lp_calloc(1024, sizeof(kitem *))) == NULL) {
    lp_free(t);
    return LP_ENOMEM;
  }
  t->cap = 1024;
  t->next_seq = 1;
  srv->tickets = t;
  return LP_OK;
}

void lp__tickets_free(lp_server *srv) {
  if (srv->tickets) lp_free(srv->tickets->b);
  lp_free(srv->tickets);
  srv->tickets = NULL;
}

static void map_put(lp_tickets *t, kitem *it) {
  if (t->n + 1 > t->cap) {
    kitem **nb = lp_calloc(t->cap * 2, sizeof(kitem *));
    if (nb != NULL) {
      for (size_t i = 0; i < t->cap; i++) {
        for (kitem *e = t->b[i], *next; e; e = next) {
          next = e->hnext;
          e->hnext = nb[e->seq & (t->cap * 2 - 1)];
          nb[e->seq & (t->cap * 2 - 1)] = e;
        }
      }
      lp_free(t->b);
      t->b = nb;
      t->cap *= 2;
    }
  }
  kitem **slot = &t->b[it->seq & (t->cap - 1)];
  it->hnext = *slot;
  *slot = it;
  it->in_map = 1;
  t->n++;
}

static kitem *map_get(lp_tickets *t, uint64_t seq) {
  for (kitem *e = t->b[seq & (t->cap - 1)]; e; e = e->hnext)
    if (e->seq == seq) return e;
  return NULL;
}

static void map_del(lp_tickets *t, kitem *it) {
  if (!it->in_map) return;
  for (kitem **p = &t->b[it->seq & (t->cap - 1)]; *p; p = &(*p)->hnext) {
    if (*p == it) {
      *p = it->hnext;
      t->n--;
      break;
    }
  }
  it->in_map = 0;
}

/* ---- answering ------------------------------------------------------------------------------------ */

static void add_rej(kreq *kr, size_t index, const char *code, const char *message, int count) {
  if (kr->n_rej == kr->cap_rej) {
    size_t cap = kr->cap_rej ? kr->cap_rej * 2 : 16;
    krej *r = lp_realloc(kr->rej, cap * sizeof(*r));
    if (r != NULL) {
      kr->rej = r;
      kr->cap_rej = cap;
    }
  }
  if (kr->n_rej < kr->cap_rej) kr->rej[kr->n_rej++] = (krej){ index, code, lp_strdup(message ? message : "") };
  if (count) lp__count_result(kr->srv, kr->outcomes, code);
}

static int cmp_rej(const void *a, const void *b) {
  const krej *x = a, *y = b;
  return x->index < y->index ? -1 : x->index > y->index;
}

static void kreq_free(kreq *kr) {
  for (size_t i = 0; i < kr->n_items; i++) lp_free(kr->items[i]);
  for (size_t i = 0; i < kr->n_rej; i++) lp_free(kr->rej[i].message);
  lp_free(kr->items);
  lp_free(kr->rej);
  lp_free(kr);
}

static void timer_closed(uv_handle_t *h) {
  kreq *kr = h->data;
  kr->timer_open = 0;
  if (kr->answered && kr->deliveries == 0) kreq_free(kr);
}

/* Frees kr once it is answered, its timer closed and every delivery report came back. */
static void kreq_release(kreq *kr) {
  if (!kr->answered || kr->deliveries > 0) return;
  if (kr->timer_open) {
    if (!uv_is_closing((uv_handle_t *)&kr->timer)) uv_close((uv_handle_t *)&kr->timer, timer_closed);
    return;
  }
  kreq_free(kr);
}

static void answer(kreq *kr) {
  if (kr->answered) return;
  kr->answered = 1;
  size_t accepted = 0, failed = 0;
  for (size_t i = 0; i < kr->n_items; i++) {
    kitem *it = kr->items[i];
    map_del(kr->srv->tickets, it);
    /* Group commit: delivered but not yet in a checkpoint is not durable (the embedded log dies with us). */
    if (it->delivery == DELIVERY_OK && !it->applied && lp__ckpt_group_commit(kr->srv)) {
      it->delivery = DELIVERY_FAILED;
      if (!kr->why[0]) snprintf(kr->why, sizeof(kr->why), "not in a checkpoint within kafka.apply_timeout");
    }
    if (it->delivery != DELIVERY_OK) failed++;
    else if (it->applied && it->code) add_rej(kr, it->index, it->code,
                                              strcmp(it->code, "duplicate") == 0 ? "already applied" : "dropped by a stage", 0);
    else accepted++;
  }
  if (failed > 0) {
    lp_http_add_header(kr->req, "Retry-After", "1");
    lp_http_respond_error(kr->req, 503, "unavailable",
                          "%zu of %zu events were not delivered to Kafka (%s); retry the request (events already "
                          "delivered are applied once)",
                          failed, kr->n_items, kr->why[0] ? kr->why : "no delivery report in time");
  } else {
    lp_buf b = LP_BUF_INIT;
    if (kr->n_rej > 1) qsort(kr->rej, kr->n_rej, sizeof(krej), cmp_rej);
    lp_buf_printf(&b, "{\"accepted\":%zu,\"rejected\":[", accepted);
    for (size_t i = 0; i < kr->n_rej; i++) {
      lp_buf_printf(&b, "%s{\"index\":%zu,\"code\":\"%s\",\"message\":", i ? "," : "", kr->rej[i].index, kr->rej[i].code);
      lp_buf_json_str(&b, kr->rej[i].message, strlen(kr->rej[i].message));
      lp_buf_puts(&b, "}");
    }
    lp_buf_puts(&b, "]}");
    size_t len;
    char *body = lp_buf_steal(&b, &len);
    if (body == NULL) lp_http_respond_error(kr->req, 503, "overloaded", "out of memory");
    else lp_http_respond_take(kr->req, 202, "application/json", body, len);
  }
  if (kr->timer_open) uv_timer_stop(&kr->timer);
  kreq_release(kr);
}

static void settle_check(kitem *it) {
  if (it->settled) return;
  int done = it->delivery == DELIVERY_FAILED || (it->delivery == DELIVERY_OK && (it->applied || it->remote));
  if (!done) return;
  it->settled = 1;
  kreq *kr = it->kr;
  if (--kr->unsettled == 0) answer(kr);
}

static void on_delivery(void *ud, int err, const char *reason, int32_t partition, int64_t offset) {
  kitem *it = ud;
  kreq *kr = it->kr;
  (void)offset;
  kr->deliveries--;
  if (!kr->answered) {
    if (err == 0) {
      it->delivery = DELIVERY_OK;
      it->remote = !lp__stream_will_apply(kr->srv, kr->outcomes, partition);
    } else {
      it->delivery = DELIVERY_FAILED;
      if (!kr->why[0]) snprintf(kr->why, sizeof(kr->why), "%s", reason ? reason : lp_strerror(err));
    }
    settle_check(it);
  }
  kreq_release(kr);
}

void lp__ticket_done(lp_server *srv, const void *ticket, size_t len, const char *code) {
  const char *inst = lp__stream_instance(srv);
  size_t il = strlen(inst);
  if (srv->tickets == NULL || len <= il + 1 || memcmp(ticket, inst, il) != 0 || ((const char *)ticket)[il] != ':') return;
  uint64_t seq = 0;
  for (size_t i = il + 1; i < len; i++) {
    char c = ((const char *)ticket)[i];
    if (c < '0' || c > '9') return;
    seq = seq * 10 + (uint64_t)(c - '0');
  }
  kitem *it = map_get(srv->tickets, seq);
  if (it == NULL || it->kr->answered) return;
  it->applied = 1;
  it->code = code;
  settle_check(it);
}

static void on_timeout(uv_timer_t *t) {
  kreq *kr = t->data;
  for (size_t i = 0; i < kr->n_items; i++) {
    kitem *it = kr->items[i];
    if (it->delivery == DELIVERY_PENDING && !kr->why[0])
      snprintf(kr->why, sizeof(kr->why), "no delivery report within kafka.apply_timeout");
  }
  answer(kr);
}

/* ---- producing ------------------------------------------------------------------------------------ */

static int dump_cb(const char *buf, size_t size, void *data) { return lp_buf_append(data, buf, size) == 0 ? 0 : -1; }

static void produce_item(kreq *kr, size_t index, void *item, const json_t *json, const msgpack_object *mp) {
  const lp_str *d = kr->outcomes ? &((lp_outcome *)item)->domain : &((lp_snippet *)item)->domain;
  uint32_t shard = kr->outcomes ? ((lp_outcome *)item)->shard : ((lp_snippet *)item)->shard;
  lp_buf val = LP_BUF_INIT;
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  const void *v = NULL;
  size_t vlen = 0;
  const char *ctype;
  int ok;
  if (json) {
    ok = json_dump_callback(json, dump_cb, &val, JSON_COMPACT) == 0;
    v = val.data;
    vlen = val.len;
    ctype = "application/json";
  } else {
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    ok = msgpack_pack_object(&pk, *mp) == 0;
    v = sb.data;
    vlen = sb.size;
    ctype = "application/msgpack";
  }
  kitem *it = ok ? lp_calloc(1, sizeof(*it)) : NULL;
  if (it != NULL && kr->n_items == kr->cap_items) {
    size_t cap = kr->cap_items ? kr->cap_items * 2 : 16;
    kitem **n = lp_realloc(kr->items, cap * sizeof(*n));
    if (n == NULL) {
      lp_free(it);
      it = NULL;
    } else {
      kr->items = n;
      kr->cap_items = cap;
    }
  }
  if (it == NULL) {
    add_rej(kr, index, "internal", "out of memory", 1);
  } else {
    it->kr = kr;
    it->seq = kr->srv->tickets->next_seq++;
    it->index = index;
    it->partition = (int32_t)shard;
    char ticket[80];
    snprintf(ticket, sizeof(ticket), "%s:%llu", lp__stream_instance(kr->srv), (unsigned long long)it->seq);
    kr->items[kr->n_items++] = it;
    map_put(kr->srv->tickets, it);
    kr->unsettled++;
    int rc = lp__stream_produce(kr->srv, kr->outcomes, (int32_t)shard, d->ptr, d->len, v, vlen, ctype, ticket,
                                on_delivery, it);
    if (rc == LP_OK) {
      kr->deliveries++;
    } else {
      it->delivery = DELIVERY_FAILED;
      if (!kr->why[0])
        snprintf(kr->why, sizeof(kr->why), "%s", rc == LP_EAGAIN ? "the producer's queue is full" : "the producer is closing");
      settle_check(it);
    }
  }
  lp_buf_free(&val);
  msgpack_sbuffer_destroy(&sb);
}

static int on_item(void *ud, size_t index, const json_t *json, const msgpack_object *mp, const lp_reject *item_err) {
  kreq *kr = ud;
  if (item_err != NULL && item_err->code != NULL) {
    add_rej(kr, index, item_err->code, item_err->message, 1);
    return 0;
  }
  lp_reject rej = { NULL, { 0 } };
  void *item = NULL;
  uint32_t shard = 0;
  if (lp__ingest_decode(kr->srv, kr->outcomes, json, mp, kr->now_ms, &item, &shard, &rej) != LP_OK) {
    add_rej(kr, index, rej.code, rej.message, 1);
    return 0;
  }
  produce_item(kr, index, item, json, mp);
  lp_free(item);
  return 0;
}

void lp__ingest_kafka(lp_http_req *req, lp_server *srv, int outcomes) {
  char why[256];
  if (lp__ckpt_over_backlog(srv, why, sizeof(why))) {
    lp_http_add_header(req, "Retry-After", "1");
    lp_http_respond_error(req, 429, "overloaded", "%s", why);
    return;
  }
  const char *media = lp_http_req_media_type(req);
  if (media[0] == '\0') media = "application/json";
  kreq *kr = lp_calloc(1, sizeof(*kr));
  if (kr == NULL) {
    lp_http_respond_error(req, 503, "overloaded", "out of memory");
    return;
  }
  kr->srv = srv;
  kr->req = req;
  kr->outcomes = outcomes;
  kr->now_ms = lp_now_ms();
  kr->unsettled = 1;  /* held while splitting */
  uv_timer_init(&srv->loop, &kr->timer);
  kr->timer.data = kr;
  kr->timer_open = 1;
  lp_str body = lp_http_req_body(req);
  lp_reject whole = { NULL, { 0 } };
  int rc = lp_ingest_split_body(body.ptr, body.len, media, (size_t)srv->cfg->ingest.max_batch, on_item, kr, &whole);
  if (rc != LP_OK) {
    kr->answered = 1;  /* answered below: late delivery reports and tickets are ignored */
    for (size_t i = 0; i < kr->n_items; i++) map_del(srv->tickets, kr->items[i]);
    lp__ingest_body_error(req, srv, outcomes, rc, media, &whole);
    kreq_release(kr);
    return;
  }
  uv_timer_start(&kr->timer, on_timeout, (uint64_t)srv->cfg->kafka.apply_timeout_ms, 0);
  if (--kr->unsettled == 0) answer(kr);
}
