/*
 * consumer.c: the consumer's life on the loop: the consumer queue's wake-up pipe on a uv_poll, bounded
 * non-blocking drains (rd_kafka_consumer_poll(rk, 0) serves records, rebalances and errors), and a close
 * that leaves the group through rd_kafka_consumer_close_queue while the loop keeps running.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "kafka/consumer_int.h"

#define CONSUMER_WATCHDOG_MS 1000   /* a lost wake-up delays records by at most this */

static void on_error(lp_kafka_consumer *c, int fatal, const char *reason) {
  if (c->h.on_error) {
    c->h.on_error(c->h.ud, fatal, reason);
  } else {
    lp_log(fatal ? LP_LOG_ERROR : LP_LOG_WARN, "kafka consumer error", "fatal=%d reason=\"%s\"", fatal, reason);
  }
}

/* Collects the headers of m into c->hdrs; sets the content type. Returns the count. */
static size_t read_headers(lp_kafka_consumer *c, rd_kafka_message_t *m, lp_kafka_record *r) {
  rd_kafka_headers_t *hdrs = NULL;
  if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR || !hdrs) return 0;
  size_t n = rd_kafka_header_cnt(hdrs);
  if (n > c->hdr_cap) {
    lp_kafka_header *nh = lp_realloc(c->hdrs, sizeof(*nh) * n);
    if (!nh) return (size_t)-1;
    c->hdrs = nh;
    c->hdr_cap = n;
  }
  for (size_t i = 0; i < n; i++) {
    const char *name;
    const void *val;
    size_t len;
    if (rd_kafka_header_get_all(hdrs, i, &name, &val, &len)) return i;
    c->hdrs[i] = (lp_kafka_header){ name, val, len };
    if (!r->content_type && strcasecmp(name, LP_KAFKA_H_CONTENT_TYPE) == 0 && val) {
      r->content_type = val;
      r->content_type_len = len;
    }
  }
  return n;
}

void lp__kafka_deliver(lp_kafka_consumer *c, rd_kafka_message_t *m) {
  if (m->err) {
    if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) on_error(c, m->err == RD_KAFKA_RESP_ERR__FATAL, rd_kafka_message_errstr(m));
    rd_kafka_message_destroy(m);
    return;
  }
  const char *topic = rd_kafka_topic_name(m->rkt);
  int t = lp__kafka_consumer_topic(c, topic);
  lp__kafka_part *s = lp__kafka_part_of(c, t, m->partition);
  if (!s) {
    lp_log_error("kafka record outside the shards, skipped", "topic=%s partition=%d offset=%lld", topic,
                 (int)m->partition, (long long)m->offset);
    rd_kafka_message_destroy(m);
    return;
  }
  lp_kafka_record r = {
    .topic = c->topics[t], .topic_idx = t, .partition = m->partition, .offset = m->offset,
    .timestamp_ms = rd_kafka_message_timestamp(m, NULL), .key = m->key, .key_len = m->key_len,
    .value = m->payload, .value_len = m->len,
  };
  size_t nh = read_headers(c, m, &r);
  if (nh == (size_t)-1) {
    /* Out of memory for the header array: hold the record and retry on resume rather than lose it. */
    nh = 0;
    s->held = m;
    c->nheld++;
    s->paused = 1;
    lp__kafka_pause1(c, t, m->partition, 1);
    lp_log_error("kafka: out of memory reading headers, partition paused", "topic=%s partition=%d", topic,
                 (int)m->partition);
    return;
  }
  r.headers = c->hdrs;
  r.nheaders = nh;
  c->in_callback = 1;
  int rc = c->h.on_record(c->h.ud, &r);
  c->in_callback = 0;
  if (rc == LP_EAGAIN && !c->closing) {
    s->held = m;
    c->nheld++;
    s->paused = 1;
    lp__kafka_pause1(c, t, m->partition, 1);
    return;
  }
  c->delivered++;
  rd_kafka_message_destroy(m);
}

static void finish_close(lp_kafka_consumer *c);

/* Serves the close queue: rebalance events (revocation), anything else dropped. */
static void drain_closing(lp_kafka_consumer *c) {
  rd_kafka_event_t *ev;
  while ((ev = rd_kafka_queue_poll(c->closeq, 0)) != NULL) {
    if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE) {
      lp__kafka_rebalance(c, rd_kafka_event_error(ev), rd_kafka_event_topic_partition_list(ev));
    } else if (rd_kafka_event_type(ev) == RD_KAFKA_EVENT_ERROR) {
      lp_log_warn("kafka consumer error while closing", "reason=\"%s\"", rd_kafka_event_error_string(ev));
    }
    rd_kafka_event_destroy(ev);
  }
  if (c->closing == 1 && rd_kafka_consumer_closed(c->rk)) finish_close(c);
}

/* One wake-up: held records first, then at most `batch` records; the idle handle continues a drain that
 * hit the bound on the next loop iteration, so HTTP and timers run in between. */
static void drain(lp_kafka_consumer *c) {
  lp__kafka_pipe_drain(c->fds[0]);
  if (c->closing) {
    drain_closing(c);
    return;
  }
  if (c->nheld) lp__kafka_deliver_held(c);
  int n = 0;
  while (n < c->batch && !c->closing) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, 0);
    if (!m) break;
    n++;
    lp__kafka_deliver(c, m);
  }
  if (c->closing) return;
  if (n >= c->batch) {
    uv_idle_start(&c->idle, (uv_idle_cb)(void (*)(void))0 == NULL ? NULL : NULL);
  }
}
