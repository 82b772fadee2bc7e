/*
 * stream.c: Kafka in `leadpoet serve` (issue 4, points 1, 2, 3 and 7): the mode, the embedded cluster, the
 * consumer and producer on the reactor's loop, rebalances, the lag gauges, backpressure resumption, and the
 * kafka part of /v1/status. What happens to each record is in stream_consume.c.
 *
 * kafka.mode: auto = external when kafka.bootstrap_brokers (KAFKA_BOOTSTRAP_BROKERS) is set, else embedded;
 * embedded = librdkafka's mock cluster in this process with server.shards partitions per topic, its
 * bootstrap address logged so that `leadpoet produce` or kcat can feed it; external = the brokers given,
 * whose topics must have server.shards partitions (checked at start: exit 1 with the reason); off = no
 * Kafka (HTTP ingest applies directly).
 *
 * Rebalance: on assign, a partition starts after its last applied offset (or at the beginning: the log is
 * the source of truth), or after its last record still in flight when this instance owned it before; a
 * record below the offset the partition restarted at is skipped (already in the state). With checkpoints in
 * external mode the partition is first restored from its checkpoint (checkpoint_assign.c: its records are
 * held until then, the consumer reads from the beginning and skips what the checkpoint holds). On revoke
 * nothing can be waited for on the loop, so records of revoked partitions already taken finish normally
 * (the shards are all local to this process) and still mark their offsets; no record of them is delivered
 * after the revoke. With checkpoints the revoked state is written once more (fenced) and then dropped
 * (docs/adr/0015-scale-out.md); without, the new owner reads from its own start and the dedupe stage drops
 * what both applied.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "server/stream_int.h"

#define LAG_REFRESH_MS 1000

static const char *const topic_names[LP_STREAM_TOPICS] = { LP_KAFKA_TOPIC_SNIPPETS, LP_KAFKA_TOPIC_OUTCOMES };

/* ---- rebalance ------------------------------------------------------------------------------------ */

static lp_metric *lag_series(lp_stream *st, int t, int32_t p) {
  lp_metric **slot = &st->m_lag[(size_t)t * st->shards + (uint32_t)p];
  if (*slot == NULL) {
    char part[16];
    snprintf(part, sizeof(part), "%d", (int)p);
    const char *v[] = { topic_names[t], part };
    *slot = lp_metrics_series(st->m_lag_family, v);
  }
  return *slot;
}

static void on_assign(void *ud, lp_kafka_partition *parts, size_t n) {
  lp_stream *st = ud;
  for (size_t i = 0; i < n; i++) {
    if (parts[i].topic_idx < 0 || parts[i].topic_idx >= LP_STREAM_TOPICS) continue;
    lp_stream_part *pp = lp__stream_part(st, parts[i].topic_idx, parts[i].partition);
    if (pp->head != NULL && pp->next_offset > parts[i].offset) parts[i].offset = pp->next_offset;
    /* With checkpoints (external mode) the partition's state is restored before any record is applied:
     * its records are held until then; the consumer is assigned at the beginning (the stored offsets are
     * not known yet) and sought past them once the restore read them (lp__stream_restart_at;
     * docs/adr/0015-scale-out.md). */
    if (lp__ckpt_assign(st->srv, parts[i].partition)) parts[i].offset = LP_KAFKA_OFFSET_BEGINNING;
    lag_series(st, parts[i].topic_idx, parts[i].partition);
  }
  lp_log_info("kafka partitions assigned", "count=%zu first=%s/%d", n, n ? parts[0].topic : "-",
              n ? (int)parts[0].partition : -1);
}

static void on_revoke(void *ud, const lp_kafka_partition *parts, size_t n, int lost) {
  lp_stream *st = ud;
  for (size_t i = 0; i < n; i++) {
    if (parts[i].topic_idx < 0 || parts[i].topic_idx >= LP_STREAM_TOPICS) continue;
    lp_gauge_set(lag_series(st, parts[i].topic_idx, parts[i].partition), 0);
    lp__ckpt_revoke(st->srv, parts[i].partition, lost);
  }
  lp_log_info("kafka partitions revoked", "count=%zu lost=%d in_flight=%zu", n, lost, st->in_flight);
}

static void on_error(void *ud, int fatal, const char *reason) {
  (void)ud;
  if (fatal) lp_log_error("kafka consumer: fatal error", "reason=\"%s\"", reason);
  else lp_log_warn("kafka consumer error (librdkafka retries)", "reason=\"%s\"", reason);
}

/* ---- start ---------------------------------------------------------------------------------------- */

/* Mode defaults, applied before kafka.properties (which may override them). Embedded: librdkafka's mock
 * broker answers a fetch only when fetch.wait.max.ms runs out, not when a record arrives, so the default
 * 500 ms would be the floor of every event's time to be queryable (and of every HTTP 202). External:
 * brokers answer a long poll as soon as data arrives (fetch.min.bytes = 1); 100 ms bounds the idle poll. */
static const char *const embedded_props[] = { "fetch.wait.max.ms=5" };
static const char *const external_props[] = { "fetch.wait.max.ms=100" };

/* The mode defaults, then kafka.properties "k=v;k=v" (validated at config load), into st->props. */
static int split_props(lp_stream *st, const char *text) {
  size_t n = 2;
  for (const char *p = text; *p; p++) n += *p == ';';
  st->props_buf = lp_strdup(text);
  st->props = lp_calloc(n, sizeof(char *));
  if (st->props_buf == NULL || st->props == NULL) return LP_ENOMEM;
  st->props[st->nprops++] = strcmp(st->mode, "embedded") == 0 ? embedded_props[0] : external_props[0];
  char *save = NULL;
  for (char *tok = strtok_r(st->props_buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save))
    if (*tok) st->props[st->nprops++] = tok;
  return LP_OK;
}

static int setup_metrics(lp_stream *st) {
  lp_metrics *m = st->srv->metrics;
  const char *tp[] = { "topic", "partition" }, *t[] = { "topic" };
  st->m_lag_family = lp_metrics_family(m, LP_METRIC_GAUGE, "leadpoet_kafka_consumer_lag",
                                       "Records of an owned partition not applied yet: high watermark - (applied + 1).",
                                       tp, 2, NULL, 0);
  lp_metric_family *rep = lp_metrics_family(m, LP_METRIC_COUNTER, "leadpoet_kafka_repartitioned_total",
                                            "Records that arrived on the wrong partition for their canonical domain "
                                            "and were re-produced to the right one.", t, 1, NULL, 0);
  lp_metric_family *dlq = lp_metrics_family(m, LP_METRIC_COUNTER, "leadpoet_kafka_dead_letters_total",
                                            "Records copied to <topic>.dlq (acknowledged by the broker), by source topic.",
                                            t, 1, NULL, 0);
  st->m_paused = lp_metrics_gauge(m, "leadpoet_kafka_paused_partitions",
                                  "Partitions paused for backpressure (a full worker ring or the memory ceiling).");
  st->m_pauses = lp_metrics_counter(m, "leadpoet_kafka_backpressure_pauses_total",
                                    "Times a partition was paused for backpressure (then resumed once drained).");
  st->m_lag = lp_calloc((size_t)LP_STREAM_TOPICS * st->shards, sizeof(lp_metric *));
  if (!st->m_lag_family || !rep || !dlq || !st->m_paused || !st->m_pauses || !st->m_lag) return LP_ENOMEM;
  for (int i = 0; i < LP_STREAM_TOPICS; i++) {
    const char *v[] = { topic_names[i] };
    st->m_repartitioned[i] = lp_metrics_series(rep, v);
    st->m_dlq[i] = lp_metrics_series(dlq, v);
    lp_counter_add(st->m_repartitioned[i], 0);
    lp_counter_add(st->m_dlq[i], 0);
  }
  return LP_OK;
}

static void stream_free(lp_stream *st) {
  if (st == NULL) return;
  if (st->zone_ready) msgpack_zone_destroy(&st->zone);
  lp_kafka_mock_free(st->mock);
  lp_free(st->parts);
  lp_free(st->m_lag);
  lp_free(st->bootstrap);
  lp_free(st->props_buf);
  lp_free(st->props);
  lp_free(st);
}

/* The mode kafka.mode resolves to: "off", "embedded" or "external"; NULL with why for a bad combination. */
static const char *resolve_mode(const lp_config *c, char *why, size_t cap) {
  const char *m = c->kafka.mode;
  int brokers = c->kafka.bootstrap_brokers[0] != '\0';
  if (strcmp(m, "auto") == 0) return brokers ? "external" : "embedded";
  if (strcmp(m, "external") == 0 && !brokers) {
    snprintf(why, cap, "kafka.mode = external needs kafka.bootstrap_brokers (or KAFKA_BOOTSTRAP_BROKERS)");
    return NULL;
  }
  if (strcmp(m, "embedded") == 0 || strcmp(m, "external") == 0 || strcmp(m, "off") == 0)
    return strcmp(m, "embedded") == 0 ? "embedded" : strcmp(m, "external") == 0 ? "external" : "off";
  snprintf(why, cap, "kafka.mode \"%s\" is not one of auto, embedded, external, off", m);
  return NULL;
}

static int open_clients(lp_stream *st, char *err, size_t errsz) {
  lp_server *srv = st->srv;
  int rc;
  if (strcmp(st->mode, "embedded") == 0) {
    if ((rc = lp_kafka_mock_new((int)st->shards, 1, &st->mock, err, errsz)) != LP_OK) return rc;
    st->bootstrap = lp_strdup(lp_kafka_mock_bootstraps(st->mock));
  } else {
    st->bootstrap = lp_strdup(srv->cfg->kafka.bootstrap_brokers);
  }
  if (st->bootstrap == NULL) return LP_ENOMEM;
  lp_kafka_conf kc = { .brokers = st->bootstrap, .group_id = srv->cfg->kafka.group_id, .client_id = "leadpoet",
                       .shards = (int)st->shards, .topics = topic_names, .ntopics = LP_STREAM_TOPICS,
                       .props = st->props, .nprops = st->nprops,
                       /* Embedded: this process is the group's only member, so it takes every partition
                        * without the group protocol (no JoinGroup round, no 3 s initial rebalance delay of
                        * the mock's coordinator before the first record or the first 202). */
                       .assign_all = strcmp(st->mode, "embedded") == 0 };
  lp_kafka_handlers h = { lp__stream_on_record, on_assign, on_revoke, on_error, st };
  if ((rc = lp_kafka_producer_new(&srv->loop, &kc, &st->prod, err, errsz)) != LP_OK) return rc;
  if ((rc = lp_kafka_consumer_new(&srv->loop, &kc, &h, &st->cons, err, errsz)) != LP_OK) return rc;
  return lp_kafka_consumer_start(st->cons, err, errsz);
}

static void on_check(uv_check_t *h) {
  lp_stream *st = h->data;
  for (int i = 0; i < LP_STREAM_TOPICS; i++) lp__applier_flush(&st->ap[i]);
}

int lp__stream_start(lp_server *srv) {
  char err[512] = "";
  const char *mode = resolve_mode(srv->cfg, err, sizeof(err));
  if (mode == NULL) {
    lp_log_error("cannot start kafka", "err=\"%s\"", err);
    return LP_ECONFIG;
  }
  if (strcmp(mode, "off") == 0) {
    lp_log_info("kafka off: HTTP ingest applies directly", "%s", "");
    return LP_OK;
  }
  lp_stream *st = lp_calloc(1, sizeof(*st));
  if (st == NULL) return LP_ENOMEM;
  st->srv = srv;
  st->mode = mode;
  st->shards = (uint32_t)srv->cfg->server.shards;
  uint8_t rnd[8] = { 0 };
  if (uv_random(NULL, NULL, rnd, sizeof(rnd), 0, NULL) != 0) memcpy(rnd, &srv->started_ms, sizeof(rnd));
  uint64_t id;
  memcpy(&id, rnd, sizeof(id));
  snprintf(st->instance, sizeof(st->instance), "%d-%016llx", (int)getpid(), (unsigned long long)id);
  st->parts = lp_calloc((size_t)LP_STREAM_TOPICS * st->shards, sizeof(lp_stream_part));
  int rc = st->parts ? split_props(st, srv->cfg->kafka.properties) : LP_ENOMEM;
  if (rc == LP_OK) rc = (st->zone_ready = msgpack_zone_init(&st->zone, LP_STREAM_ZONE_CHUNK)) ? LP_OK : LP_ENOMEM;
  for (size_t i = 0; rc == LP_OK && i < (size_t)LP_STREAM_TOPICS * st->shards; i++) st->parts[i].next_offset = -1;
  if (rc == LP_OK) rc = setup_metrics(st);
  for (int i = 0; rc == LP_OK && i < LP_STREAM_TOPICS; i++)
    rc = lp__applier_init(&st->ap[i], srv, i == 1, lp__stream_item_done, st);
  if (rc == LP_OK) rc = open_clients(st, err, sizeof(err));
  if (rc != LP_OK) {
    lp_log_error("cannot start kafka", "mode=%s bootstrap=%s err=\"%s\"", mode, st->bootstrap ? st->bootstrap : "-",
                 err[0] ? err : lp_strerror(rc));
    srv->stream = st;  /* lp__stream_stop closes what was opened */
    return rc == LP_EIO ? LP_EIO : LP_ECONFIG;
  }
  uv_check_init(&srv->loop, &st->flush);
  uv_timer_init(&srv->loop, &st->retry);
  st->flush.data = st->retry.data = st;
  st->open_handles = 2;
  uv_check_start(&st->flush, on_check);
  uv_unref((uv_handle_t *)&st->flush);
  srv->stream = st;
  lp_log_info("kafka started", "mode=%s bootstrap=%s group=%s partitions=%u", mode, st->bootstrap,
              srv->cfg->kafka.group_id, st->shards);
  return LP_OK;
}

/* ---- stop ----------------------------------------------------------------------------------------- */

static void handle_closed(uv_handle_t *h) {
  lp_stream *st = h->data;
  if (--st->open_handles > 0) return;
  for (int i = 0; i < LP_STREAM_TOPICS; i++) lp__applier_fini(&st->ap[i]);
  if (st->stop_done) st->stop_done(st->stop_arg);
}

static void producer_closed(void *ud) {
  lp_stream *st = ud;
  st->prod = NULL;
  if (st->open_handles == 0) {
    for (int i = 0; i < LP_STREAM_TOPICS; i++) lp__applier_fini(&st->ap[i]);
    if (st->stop_done) st->stop_done(st->stop_arg);
    return;
  }
  uv_close((uv_handle_t *)&st->flush, handle_closed);
  uv_close((uv_handle_t *)&st->retry, handle_closed);
}

void lp__stream_drained(lp_stream *st) {
  if (st->cons != NULL || st->in_flight > 0 || st->prod == NULL || st->retry_head != NULL) return;
  lp_log_info("kafka drained; flushing the producer", "pending=%zu", lp_kafka_producer_pending(st->prod));
  lp_kafka_producer *p = st->prod;
  lp_kafka_producer_close(p, producer_closed, st);
}

static void consumer_closed(void *ud) {
  lp_stream *st = ud;
  st->cons = NULL;
  for (int i = 0; i < LP_STREAM_TOPICS; i++) lp__applier_flush(&st->ap[i]);
  if (st->in_flight == 0) lp__stream_drained(st);
}

void lp__stream_stop(lp_server *srv, void (*done)(void *arg), void *arg) {
  lp_stream *st = srv->stream;
  if (st == NULL) {
    done(arg);
    return;
  }
  st->stopping = 1;
  st->stop_done = done;
  st->stop_arg = arg;
  if (st->cons) {
    lp_kafka_consumer_close(st->cons, consumer_closed, st);
  } else if (st->prod) {
    lp__stream_drained(st);
  } else {
    producer_closed(st);  /* nothing was opened but (maybe) the handles */
  }
}

void lp__stream_free(lp_server *srv) {
  stream_free(srv->stream);
  srv->stream = NULL;
}

/* ---- pressure timer, lag, status ------------------------------------------------------------------ */

void lp__stream_tick(lp_server *srv, int64_t now_ms) {
  lp_stream *st = srv->stream;
  if (st == NULL || st->cons == NULL) return;
  uint32_t nw = lp_workers_count(srv->workers);
  size_t low = (size_t)srv->cfg->server.ring_capacity / 2, paused = 0;
  for (int t = 0; t < LP_STREAM_TOPICS; t++) {
    for (uint32_t p = 0; p < st->shards; p++) {
      lp_stream_part *pp = lp__stream_part(st, t, (int32_t)p);
      if (!pp->bp_paused) continue;
      if (!srv->memory_high && !lp__ckpt_hold(srv) && !lp__ckpt_part_held(srv, (int32_t)p) && lp_workers_backlog_of(srv->workers, lp_workers_owner(p, nw)) <= low) {
        pp->bp_paused = 0;
        lp_kafka_consumer_resume(st->cons, t, (int32_t)p);
      } else {
        paused++;
      }
    }
  }
  lp_gauge_set(st->m_paused, (double)paused);
  if (now_ms - st->last_lag_ms < LAG_REFRESH_MS) return;
  st->last_lag_ms = now_ms;
  for (int t = 0; t < LP_STREAM_TOPICS; t++) {
    for (uint32_t p = 0; p < st->shards; p++) {
      int64_t lo, hi;
      if (!lp_kafka_consumer_owns(st->cons, t, (int32_t)p) ||
          lp_kafka_consumer_watermarks(st->cons, t, (int32_t)p, &lo, &hi) != 0)
        continue;
      int64_t applied = lp_kafka_consumer_applied(st->cons, t, (int32_t)p);
      int64_t next = applied == LP_KAFKA_OFFSET_NONE ? lo : applied + 1;
      lp_gauge_set(lag_series(st, t, (int32_t)p), (double)(hi > next ? hi - next : 0));
    }
  }
}

int lp__stream_ready(const lp_server *srv, char *why, size_t cap) {
  const lp_stream *st = srv->stream;
  if (st == NULL || st->cons == NULL) return 1;
  if (!lp_kafka_consumer_assigned(st->cons)) {
    snprintf(why, cap, "kafka: waiting for the consumer group's assignment (group %s)", srv->cfg->kafka.group_id);
    return 0;
  }
  if (!lp__ckpt_parts_ready(srv, why, cap)) return 0;
  int64_t lag = 0;
  for (int t = 0; t < LP_STREAM_TOPICS; t++) {
    for (uint32_t p = 0; p < st->shards; p++) {
      int64_t lo, hi;
      if (!lp_kafka_consumer_owns(st->cons, t, (int32_t)p)) continue;
      if (lp_kafka_consumer_watermarks(st->cons, t, (int32_t)p, &lo, &hi) != 0) {
        snprintf(why, cap, "kafka: the end of %s/%u is not known yet (first fetch pending)", topic_names[t], p);
        return 0;
      }
      int64_t applied = lp_kafka_consumer_applied(st->cons, t, (int32_t)p);
      int64_t next = applied == LP_KAFKA_OFFSET_NONE ? lo : applied + 1;
      if (hi > next) lag += hi - next;
    }
  }
  if (lag > srv->cfg->kafka.ready_max_lag) {
    snprintf(why, cap, "kafka: catching up, %lld records behind (ready at <= %lld, kafka.ready_max_lag)",
             (long long)lag, (long long)srv->cfg->kafka.ready_max_lag);
    return 0;
  }
  return 1;
}

int lp__stream_owns(const lp_server *srv, int outcomes, int32_t partition) {
  const lp_stream *st = srv->stream;
  return st && st->cons ? lp_kafka_consumer_owns(st->cons, outcomes ? 1 : 0, partition) : 0;
}

int lp__stream_will_apply(const lp_server *srv, int outcomes, int32_t partition) {
  const lp_stream *st = srv->stream;
  if (st == NULL) return 0;
  /* Embedded: this process is the group's only member (the cluster lives and dies with it), so every
   * partition is or will be assigned here, even before the first assignment arrives. */
  return strcmp(st->mode, "embedded") == 0 || lp__stream_owns(srv, outcomes, partition);
}

void lp__stream_status(lp_server *srv, lp_buf *b) {
  lp_stream *st = srv->stream;
  if (st == NULL) {
    lp_buf_puts(b, "\"kafka\":{\"mode\":\"off\"}");
    return;
  }
  lp_buf_printf(b, "\"kafka\":{\"mode\":\"%s\",\"bootstrap\":", st->mode);
  lp_buf_json_str(b, st->bootstrap, strlen(st->bootstrap));
  lp_buf_puts(b, ",\"group\":");
  lp_buf_json_str(b, srv->cfg->kafka.group_id, strlen(srv->cfg->kafka.group_id));
  lp_buf_printf(b, ",\"topics\":[\"%s\",\"%s\"],\"partitions\":[", topic_names[0], topic_names[1]);
  int64_t lag = 0;
  size_t paused = 0, n = 0;
  for (uint32_t p = 0; p < st->shards; p++) {
    if (lp__stream_owns(srv, 0, (int32_t)p)) lp_buf_printf(b, n++ ? ",%u" : "%u", p);
    for (int t = 0; t < LP_STREAM_TOPICS; t++) {
      lp_metric *m = st->m_lag[(size_t)t * st->shards + p];
      if (m && lp__stream_owns(srv, t, (int32_t)p)) lag += (int64_t)lp_gauge_value(m);
      paused += lp__stream_part(st, t, (int32_t)p)->bp_paused;
    }
  }
  lp_buf_printf(b, "],\"lag\":%lld,\"paused\":%zu,\"in_flight\":%zu,\"dead_letters\":%llu}", (long long)lag, paused,
                st->in_flight, (unsigned long long)(st->prod ? lp_kafka_producer_dlq_count(st->prod) : 0));
}

int lp__stream_produce(lp_server *srv, int outcomes, int32_t partition, const char *key, size_t key_len,
                       const void *value, size_t value_len, const char *content_type, const char *ticket,
                       void (*cb)(void *ud, int err, const char *reason, int32_t partition, int64_t offset),
                       void *ud) {
  lp_stream *st = srv->stream;
  if (st == NULL || st->prod == NULL || st->stopping) return LP_ESTATE;
  lp_kafka_header h[2] = { { LP_KAFKA_H_CONTENT_TYPE, content_type, strlen(content_type) },
                           { LP_TICKET_HEADER, ticket, ticket ? strlen(ticket) : 0 } };
  lp_kafka_msg m = { .topic = topic_names[outcomes ? 1 : 0], .partition = partition, .key = key, .key_len = key_len,
                     .value = value, .value_len = value_len, .headers = h, .nheaders = ticket ? 2 : 1 };
  char err[256];
  int rc = lp_kafka_produce(st->prod, &m, cb, ud, err, sizeof(err));
  if (rc != LP_OK && rc != LP_EAGAIN) lp_log_warn("kafka: cannot produce an HTTP item", "err=\"%s\"", err);
  return rc;
}

void lp__stream_flush(lp_server *srv) {
  lp_stream *st = srv->stream;
  for (int i = 0; st != NULL && i < LP_STREAM_TOPICS; i++) lp__applier_flush(&st->ap[i]);
}

size_t lp__stream_in_flight(const lp_server *srv) { return srv->stream ? srv->stream->in_flight : 0; }

void lp__stream_seek(lp_server *srv, int topic_idx, int32_t partition, int64_t offset) {
  lp_stream *st = srv->stream;
  if (st == NULL || st->cons == NULL || topic_idx < 0 || topic_idx >= LP_STREAM_TOPICS) return;
  lp_kafka_consumer_mark_applied(st->cons, topic_idx, partition, offset);
  lp_stream_part *pp = lp__stream_part(st, topic_idx, partition);
  if (pp->next_offset < offset + 1) pp->next_offset = offset + 1;
}

const char *lp__stream_instance(const lp_server *srv) {
  return srv->stream ? srv->stream->instance : "";
}

int lp__stream_part_idle(const lp_server *srv, int32_t partition) {
  lp_stream *st = srv->stream;
  if (st == NULL || partition < 0 || (uint32_t)partition >= st->shards) return 1;
  for (int t = 0; t < LP_STREAM_TOPICS; t++)
    if (lp__stream_part(st, t, partition)->head != NULL) return 0;
  return 1;
}

void lp__stream_restart_at(lp_server *srv, int topic_idx, int32_t partition, int64_t offset) {
  lp_stream *st = srv->stream;
  if (st == NULL || topic_idx < 0 || topic_idx >= LP_STREAM_TOPICS || partition < 0 || (uint32_t)partition >= st->shards)
    return;
  lp__stream_part(st, topic_idx, partition)->next_offset = offset >= 0 ? offset + 1 : -1;
  if (offset < 0 || st->cons == NULL) return;
  lp_kafka_consumer_mark_applied(st->cons, topic_idx, partition, offset);
  /* The consumer was assigned at the log's beginning: move it past what the state holds rather than
   * re-read it. The seek is asynchronous, so a record fetched before it may still come: next_offset skips
   * it. A partition revoked meanwhile is not sought (LP_ESTATE); a refused seek only costs the re-read. */
  int rc = lp_kafka_consumer_seek(st->cons, topic_idx, partition, offset + 1);
  if (rc != LP_OK && rc != LP_ESTATE)
    lp_log_warn("kafka: cannot seek a restored partition; it re-reads its log and skips what the state holds",
                "partition=%d offset=%lld err=\"%s\"", (int)partition, (long long)offset + 1, lp_strerror(rc));
}
