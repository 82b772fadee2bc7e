/*
 * stream_consume.c: what the server does with each consumed record (contract sections 1 and 2).
 *
 * A record is decoded by its content-type header (application/msgpack, or none / application/json; any
 * other type is a bad_json dead letter) with the strict decoders of stages/ingest (lp_msgpack_check first:
 * the bytes are untrusted). Then:
 *  - a bad record is counted and copied to <topic>.dlq with its reason in leadpoet-error;
 *  - a record on the wrong partition (its canonical domain's partition is another one: an external
 *    producer with another partitioner, or a non-canonical key) is re-produced to the right partition with
 *    key = the canonical domain, same value and headers, as Kafka Streams repartitions; counted in
 *    leadpoet_kafka_repartitioned_total{topic}; the copy is applied where it lands;
 *  - a valid record goes through the global stages (the throttle), then to its shard through the shared
 *    apply path (apply.c); a record a stage drops is dead-lettered with the stage's code.
 * A record is finished once it is applied, or the broker acknowledged its dead letter or its re-produced
 * copy. Its offset is then marked applied, in order: an offset is marked once it and every earlier record
 * of its partition are finished (each partition keeps its records in flight in a FIFO).
 *
 * Backpressure: a record whose worker is over its bound, or any record while memory is near the ceiling,
 * is refused with LP_EAGAIN: the consumer pauses that partition and holds the record; stream.c resumes it
 * when the worker drained and memory fell. Nothing is dropped.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "server/stream_int.h"

static const char *const topic_names[LP_STREAM_TOPICS] = { LP_KAFKA_TOPIC_SNIPPETS, LP_KAFKA_TOPIC_OUTCOMES };

/* ---- finishing a record --------------------------------------------------------------------------- */

/* Marks every finished record at the head of the partition's FIFO applied, in offset order. */
static void advance(lp_stream *st, lp_stream_part *pp) {
  while (pp->head && pp->head->done) {
    lp_stream_rec *r = pp->head;
    pp->head = r->next;
    if (pp->head == NULL) pp->tail = NULL;
    if (st->cons) lp_kafka_consumer_mark_applied(st->cons, r->rec.topic_idx, r->rec.partition, r->rec.offset);
    lp__ckpt_applied(st->srv, r->rec.topic_idx, r->rec.partition, r->rec.offset);
    lp_free(r);
  }
}

static void finish(lp_stream_rec *r, const char *code) {
  lp_stream *st = r->st;
  /* Group commit (embedded mode with Redis): the 202 waits for the checkpoint that holds the record. */
  if (r->ticket_len > 0 && r->action != LP_REC_REPARTITION &&
      !lp__ckpt_hold_ticket(st->srv, r->ticket, r->ticket_len, code))
    lp__ticket_done(st->srv, r->ticket, r->ticket_len, code);
  r->done = 1;
  st->in_flight--;
  advance(st, lp__stream_part(st, r->rec.topic_idx, r->rec.partition));
  if (st->in_flight == 0) {
    if (st->stopping) lp__stream_drained(st);
    else lp__ckpt_drained(st->srv);
  }
}

static void on_retry_timer(uv_timer_t *t) { lp__stream_retry(t->data); }

/* Puts r on the retry list: tried again after LP_STREAM_RETRY_MS (librdkafka's queue was full, or the
 * broker did not take it). The record stays unfinished meanwhile, so its offset is not marked. */
static void retry_later(lp_stream_rec *r) {
  lp_stream *st = r->st;
  r->retry_next = NULL;
  if (st->retry_tail) st->retry_tail->retry_next = r;
  else st->retry_head = r;
  st->retry_tail = r;
  if (!uv_is_active((uv_handle_t *)&st->retry)) uv_timer_start(&st->retry, on_retry_timer, LP_STREAM_RETRY_MS, 0);
}

static int start_produce(lp_stream_rec *r);

static void on_delivery(void *ud, int err, const char *reason, int32_t partition, int64_t offset) {
  lp_stream_rec *r = ud;
  (void)partition;
  (void)offset;
  if (err == 0) {
    if (r->action == LP_REC_DLQ) lp_counter_add(r->st->m_dlq[r->rec.topic_idx], 1);
    else lp_counter_add(r->st->m_repartitioned[r->rec.topic_idx], 1);
    finish(r, r->code);
    return;
  }
  if (err == LP_ECANCELED || r->st->stopping) {
    /* Purged at shutdown: the offset stays in memory only, which dies with the process; the record is
     * read again from the log by whoever owns the partition next. */
    lp_log_warn("kafka: record not finished at shutdown", "topic=%s partition=%d offset=%lld reason=\"%s\"",
                r->rec.topic, (int)r->rec.partition, (long long)r->rec.offset, reason);
    lp__ckpt_inexact(r->st->srv);
    finish(r, r->code);
    return;
  }
  if (r->action == LP_REC_DLQ && !r->no_value && reason && strstr(reason, "too large")) r->no_value = 1;
  lp_log_warn("kafka: produce failed, retrying", "topic=%s partition=%d offset=%lld action=%s reason=\"%s\"",
              r->rec.topic, (int)r->rec.partition, (long long)r->rec.offset,
              r->action == LP_REC_DLQ ? "dead-letter" : "repartition", reason);
  retry_later(r);
}

/* Queues the dead letter or the re-produced copy. Returns 0 when queued or put on the retry list. */
static int start_produce(lp_stream_rec *r) {
  lp_stream *st = r->st;
  char err[256] = "";
  int rc;
  for (;;) {
    if (r->action == LP_REC_DLQ) {
      lp_kafka_record copy = r->rec;
      char msg[sizeof(r->message) + 64];
      snprintf(msg, sizeof(msg), "%s", r->message);
      if (r->no_value) {
        snprintf(msg, sizeof(msg), "%s (value of %zu bytes not copied: over the size limit)", r->message,
                 r->rec.value_len);
        copy.value = NULL;
        copy.value_len = 0;
      }
      rc = lp_kafka_produce_dlq(st->prod, &copy, r->code, msg, on_delivery, r, err, sizeof(err));
    } else {
      lp_kafka_msg m = { .topic = r->rec.topic, .partition = r->target, .key = r->canon, .key_len = r->canon_len,
                         .value = r->rec.value, .value_len = r->rec.value_len, .headers = r->rec.headers,
                         .nheaders = r->rec.nheaders };
      rc = lp_kafka_produce(st->prod, &m, on_delivery, r, err, sizeof(err));
    }
    if (rc != 0 && rc != LP_EAGAIN && rc != LP_ESTATE && r->action == LP_REC_DLQ && !r->no_value && r->rec.value_len > 0) {
      r->no_value = 1;  /* refused at once (over message.max.bytes): the dead letter goes without the value */
      continue;
    }
    break;
  }
  if (rc == 0) return 0;
  if (rc == LP_EAGAIN) {
    retry_later(r);
    return 0;
  }
  lp_log_error("kafka: cannot produce; the record is finished without it", "topic=%s partition=%d offset=%lld err=\"%s\"",
               r->rec.topic, (int)r->rec.partition, (long long)r->rec.offset, err[0] ? err : lp_strerror(rc));
  finish(r, r->code);
  return 0;
}

void lp__stream_retry(lp_stream *st) {
  lp_stream_rec *r = st->retry_head;
  st->retry_head = st->retry_tail = NULL;
  while (r) {
    lp_stream_rec *next = r->retry_next;
    start_produce(r);
    r = next;
  }
}

static void dead_letter(lp_stream_rec *r, const char *code, const char *message) {
  r->action = LP_REC_DLQ;
  r->code = code;
  snprintf(r->message, sizeof(r->message), "%s", message && message[0] ? message : code);
  lp__count_result(r->st->srv, r->rec.topic_idx == 1, code);
  start_produce(r);
}

void lp__stream_item_done(void *ctx, uintptr_t tag, const void *item, const char *code) {
  lp_stream_rec *r = (lp_stream_rec *)tag;
  (void)ctx;
  (void)item;
  if (code == NULL) {
    finish(r, NULL);
    return;
  }
  /* apply.c counted it already. */
  r->action = LP_REC_DLQ;
  r->code = code;
  snprintf(r->message, sizeof(r->message), "%s", strcmp(code, "duplicate") == 0 ? "already applied" : "dropped by a stage");
  start_produce(r);
}

/* ---- taking a record ------------------------------------------------------------------------------ */

/* Copies rec into one block. NULL when out of memory. */
static lp_stream_rec *copy_record(lp_stream *st, const lp_kafka_record *rec) {
  size_t need = sizeof(lp_stream_rec) + rec->nheaders * sizeof(lp_kafka_header) + rec->key_len + rec->value_len;
  for (size_t i = 0; i < rec->nheaders; i++) need += strlen(rec->headers[i].name) + 1 + rec->headers[i].len;
  lp_stream_rec *r = lp_malloc(need);
  if (r == NULL) return NULL;
  memset(r, 0, sizeof(*r));
  r->st = st;
  r->rec = *rec;
  r->rec.topic = topic_names[rec->topic_idx];
  lp_kafka_header *h = (lp_kafka_header *)(r + 1);
  char *p = (char *)(h + rec->nheaders);
  if (rec->key) {
    memcpy(p, rec->key, rec->key_len);
    r->rec.key = p;
    p += rec->key_len;
  }
  if (rec->value) {
    memcpy(p, rec->value, rec->value_len);
    r->rec.value = p;
    p += rec->value_len;
  }
  r->rec.content_type = NULL;
  r->rec.content_type_len = 0;
  for (size_t i = 0; i < rec->nheaders; i++) {
    size_t nl = strlen(rec->headers[i].name);
    memcpy(p, rec->headers[i].name, nl + 1);
    h[i].name = p;
    p += nl + 1;
    h[i].len = rec->headers[i].len;
    h[i].value = NULL;
    if (rec->headers[i].value) {
      memcpy(p, rec->headers[i].value, rec->headers[i].len);
      h[i].value = p;
      p += rec->headers[i].len;
    }
    if (strcmp(h[i].name, LP_KAFKA_H_CONTENT_TYPE) == 0 && h[i].value) {
      r->rec.content_type = h[i].value;
      r->rec.content_type_len = h[i].len;
    }
    if (strcmp(h[i].name, LP_TICKET_HEADER) == 0 && h[i].value && h[i].len < sizeof(r->ticket)) {
      memcpy(r->ticket, h[i].value, h[i].len);
      r->ticket_len = h[i].len;
    }
  }
  r->rec.headers = rec->nheaders ? h : NULL;
  return r;
}

/* The media type of a content-type header without parameters, lower-case, in out. */
static void media_of(const lp_kafka_record *rec, char *out, size_t cap) {
  size_t n = 0;
  for (size_t i = 0; rec->content_type && i < rec->content_type_len && n + 1 < cap; i++) {
    char c = rec->content_type[i];
    if (c == ';') break;
    if (c == ' ' || c == '\t') continue;
    out[n++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  out[n] = '\0';
}

/* Decodes the value into *item. LP_OK, or LP_EINVAL with rej filled. */
static int decode(lp_stream *st, const lp_kafka_record *rec, int outcomes, int64_t now_ms, void **item,
                  uint32_t *shard, lp_reject *rej) {
  char media[64];
  media_of(rec, media, sizeof(media));
  *item = NULL;
  if (rec->value == NULL) {
    rej->code = "bad_json";
    snprintf(rej->message, sizeof(rej->message), "the record has no value");
    return LP_EINVAL;
  }
  if (strcmp(media, "application/msgpack") == 0 || strcmp(media, "application/x-msgpack") == 0) {
    size_t used = 0;
    if (lp_msgpack_check(rec->value, rec->value_len, &used) != LP_OK || used != rec->value_len) {
      rej->code = "bad_json";
      snprintf(rej->message, sizeof(rej->message), "the value is not one well-formed msgpack object");
      return LP_EINVAL;
    }
    /* Into the stream's zone (no allocation once its chunk is warm): strings stay views into the value. */
    msgpack_object obj;
    size_t off = 0;
    int rc;
    if (msgpack_unpack(rec->value, rec->value_len, &off, &st->zone, &obj) != MSGPACK_UNPACK_SUCCESS) {
      rej->code = "bad_json";
      snprintf(rej->message, sizeof(rej->message), "the value is not valid msgpack");
      rc = LP_EINVAL;
    } else {
      rc = lp__ingest_decode(st->srv, outcomes, NULL, &obj, now_ms, item, shard, rej);
    }
    msgpack_zone_clear(&st->zone);
    return rc;
  }
  if (media[0] != '\0' && strcmp(media, "application/json") != 0) {
    rej->code = "bad_json";
    snprintf(rej->message, sizeof(rej->message), "unsupported content-type \"%s\": application/json or application/msgpack",
             media);
    return LP_EINVAL;
  }
  json_error_t jerr;
  json_t *doc = json_loadb(rec->value, rec->value_len, 0, &jerr);  /* as HTTP bodies are read */
  if (doc == NULL) {
    rej->code = "bad_json";
    snprintf(rej->message, sizeof(rej->message), "the value is not JSON: %s", jerr.text);
    return LP_EINVAL;
  }
  int rc = lp__ingest_decode(st->srv, outcomes, doc, NULL, now_ms, item, shard, rej);
  json_decref(doc);
  return rc;
}

static void take(lp_stream *st, lp_stream_rec *r) {
  lp_stream_part *pp = lp__stream_part(st, r->rec.topic_idx, r->rec.partition);
  if (pp->tail) pp->tail->next = r;
  else pp->head = r;
  pp->tail = r;
  pp->next_offset = r->rec.offset + 1;
  st->in_flight++;
}

int lp__stream_on_record(void *ud, const lp_kafka_record *rec) {
  lp_stream *st = ud;
  lp_server *srv = st->srv;
  if (rec->topic_idx < 0 || rec->topic_idx >= LP_STREAM_TOPICS || rec->partition < 0 ||
      (uint32_t)rec->partition >= st->shards)
    return 0;
  lp_stream_part *pp = lp__stream_part(st, rec->topic_idx, rec->partition);
  /* Before the state of an assigned partition is restored, nothing of it is applied (held); after, a
   * record the state already holds (below the restored offsets) is skipped. */
  if (lp__ckpt_part_held(srv, rec->partition)) {
    pp->bp_paused = 1;
    return LP_EAGAIN;
  }
  if (pp->next_offset >= 0 && rec->offset < pp->next_offset) return 0;
  uint32_t worker = lp_workers_owner((uint32_t)rec->partition, lp_workers_count(srv->workers));
  lp_stream_rec *r = NULL;
  if (srv->memory_high || lp__ckpt_hold(srv) || lp__worker_over(srv, worker) || (r = copy_record(st, rec)) == NULL) {
    if (!pp->bp_paused) lp_counter_add(st->m_pauses, 1);
    pp->bp_paused = 1;  /* the consumer pauses the partition and keeps the record */
    return LP_EAGAIN;
  }
  int outcomes = rec->topic_idx == 1;
  lp_reject rej = { NULL, { 0 } };
  void *item = NULL;
  uint32_t shard = 0;
  if (decode(st, &r->rec, outcomes, lp_now_ms(), &item, &shard, &rej) != LP_OK) {
    take(st, r);
    dead_letter(r, rej.code ? rej.code : "bad_json", rej.message);
    return 0;
  }
  if (shard != (uint32_t)rec->partition) {
    const lp_str *d = outcomes ? &((lp_outcome *)item)->domain : &((lp_snippet *)item)->domain;
    memcpy(r->canon, d->ptr, d->len);
    r->canon_len = d->len;
    r->target = (int32_t)shard;
    r->action = LP_REC_REPARTITION;
    lp_free(item);
    take(st, r);
    start_produce(r);
    return 0;
  }
  if (lp__ingest_admit(srv, outcomes, item, &rej) != LP_OK) {
    lp_free(item);
    take(st, r);
    dead_letter(r, rej.code, rej.message);
    return 0;
  }
  if (lp__applier_add(&st->ap[rec->topic_idx], item, shard, (uintptr_t)r) != LP_OK) {
    lp_free(item);
    lp_free(r);
    if (!pp->bp_paused) lp_counter_add(st->m_pauses, 1);
    pp->bp_paused = 1;
    return LP_EAGAIN;
  }
  take(st, r);
  return 0;
}
