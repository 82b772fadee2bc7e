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

static void on_idle(uv_idle_t *h);

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
    uv_idle_start(&c->idle, on_idle);
  } else {
    uv_idle_stop(&c->idle);
  }
}

static void on_idle(uv_idle_t *h) { drain(h->data); }
static void on_poll(uv_poll_t *h, int status, int events) {
  (void)status;
  (void)events;
  drain(h->data);
}
static void on_watchdog(uv_timer_t *t) { drain(t->data); }

void lp__kafka_consumer_kick(lp_kafka_consumer *c) {
  if (c->started && !c->closing) uv_idle_start(&c->idle, on_idle);
}

int lp_kafka_consumer_new(uv_loop_t *loop, const lp_kafka_conf *conf, const lp_kafka_handlers *h,
                          lp_kafka_consumer **out, char *errstr, size_t errsz) {
  *out = NULL;
  const char *const *topics;
  int ntopics = lp__kafka_topics(conf, &topics);
  if (!conf->brokers || !*conf->brokers || !h || !h->on_record || conf->shards < 1 ||
      ntopics > LP_KAFKA_MAX_TOPICS) {
    snprintf(errstr, errsz, "kafka consumer: needs brokers, an on_record handler, shards >= 1 and at most %d "
             "topics", LP_KAFKA_MAX_TOPICS);
    return LP_EINVAL;
  }
  static const char *const defaults[] = {
    "enable.auto.commit", "false", "enable.auto.offset.store", "false", "auto.offset.reset", "earliest",
    "partition.assignment.strategy", "cooperative-sticky", "enable.partition.eof", "false", NULL,
  };
  lp_kafka_consumer *c = lp_calloc(1, sizeof(*c));
  if (!c) {
    snprintf(errstr, errsz, "out of memory");
    return LP_ENOMEM;
  }
  c->fds[0] = c->fds[1] = -1;
  c->loop = loop;
  c->h = *h;
  c->shards = conf->shards;
  c->assign_all = conf->assign_all != 0;
  c->batch = conf->batch > 0 ? conf->batch : LP__KAFKA_DEFAULT_BATCH;
  c->metadata_ms = conf->metadata_timeout_ms > 0 ? conf->metadata_timeout_ms : LP__KAFKA_DEFAULT_METADATA_MS;
  c->ntopics = ntopics;
  c->parts = lp_calloc((size_t)ntopics * (size_t)conf->shards, sizeof(*c->parts));
  int rc = c->parts ? 0 : LP_ENOMEM;
  for (int i = 0; i < ntopics && rc == 0; i++)
    if (!(c->topics[i] = lp_strdup(topics[i]))) rc = LP_ENOMEM;
  for (size_t i = 0; rc == 0 && i < (size_t)ntopics * (size_t)conf->shards; i++)
    c->parts[i].applied = LP_KAFKA_OFFSET_NONE;
  rd_kafka_conf_t *kc = NULL;
  if (rc == 0) {
    kc = lp__kafka_conf_new(conf, defaults, errstr, errsz);
    if (!kc) rc = LP_ECONFIG;
  } else {
    snprintf(errstr, errsz, "out of memory");
  }
  if (rc == 0) {
    rc = lp__kafka_set(kc, "group.id", conf->group_id && *conf->group_id ? conf->group_id : "leadpoet", errstr,
                       errsz);
  }
  if (rc == 0) {
    rd_kafka_conf_set_rebalance_cb(kc, lp__kafka_rebalance_cb);
    rd_kafka_conf_set_opaque(kc, c);
    char why[512];
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, why, sizeof(why));
    if (!c->rk) {
      snprintf(errstr, errsz, "kafka consumer: %s", why);
      rc = LP_ECONFIG;
    } else {
      kc = NULL;  /* owned by rk */
    }
  }
  if (kc) rd_kafka_conf_destroy(kc);
  if (rc != 0) {
    if (c->rk) rd_kafka_destroy(c->rk);
    for (int i = 0; i < LP_KAFKA_MAX_TOPICS; i++) lp_free(c->topics[i]);
    lp_free(c->parts);
    lp_free(c);
    return rc;
  }
  rd_kafka_poll_set_consumer(c->rk);
  c->q = rd_kafka_queue_get_consumer(c->rk);
  *out = c;
  return 0;
}

int lp_kafka_consumer_start(lp_kafka_consumer *c, char *errstr, size_t errsz) {
  if (c->started || c->closing) {
    snprintf(errstr, errsz, "kafka consumer already started");
    return LP_ESTATE;
  }
  int rc = lp_kafka_check_partitions(c->rk, (const char *const *)c->topics, c->ntopics, c->shards, c->metadata_ms,
                                     errstr, errsz);
  if (rc != 0) return rc;
  rc = lp__kafka_queue_watch(c->loop, c->q, &c->poll, c->fds, errstr, errsz);
  if (rc != 0) return rc;
  c->poll.data = c;
  uv_poll_start(&c->poll, UV_READABLE, on_poll);
  uv_timer_init(c->loop, &c->timer);
  c->timer.data = c;
  uv_timer_start(&c->timer, on_watchdog, CONSUMER_WATCHDOG_MS, CONSUMER_WATCHDOG_MS);
  uv_idle_init(c->loop, &c->idle);
  c->idle.data = c;
  c->open_handles = 3;
  c->started = 1;
  if (c->assign_all) {
    if (lp__kafka_assign_all(c) != 0) {
      snprintf(errstr, errsz, "kafka assign: librdkafka refused the assignment of every partition");
      return LP_EIO;
    }
    lp_log_info("kafka consumer started (every partition assigned, no group protocol)", "topics=%d partitions=%d",
                c->ntopics, c->shards);
    return 0;
  }
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(c->ntopics);
  for (int i = 0; i < c->ntopics; i++) rd_kafka_topic_partition_list_add(l, c->topics[i], RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t err = rd_kafka_subscribe(c->rk, l);
  rd_kafka_topic_partition_list_destroy(l);
  if (err) {
    snprintf(errstr, errsz, "kafka subscribe: %s", rd_kafka_err2str(err));
    return LP_EIO;
  }
  lp_log_info("kafka consumer started", "topics=%d partitions=%d", c->ntopics, c->shards);
  return 0;
}

uint64_t lp_kafka_consumer_delivered(const lp_kafka_consumer *c) { return c->delivered; }

int lp_kafka_consumer_assigned(const lp_kafka_consumer *c) { return c->assigned; }

static void free_consumer(lp_kafka_consumer *c) {
  void (*done)(void *) = c->done;
  void *ud = c->done_ud;
  if (c->fds[0] >= 0) close(c->fds[0]);
  if (c->closeq) rd_kafka_queue_destroy(c->closeq);
  if (c->q) rd_kafka_queue_destroy(c->q);
  /* Closed already: destroy only joins librdkafka's threads. */
  rd_kafka_destroy_flags(c->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
  for (int i = 0; i < LP_KAFKA_MAX_TOPICS; i++) lp_free(c->topics[i]);
  lp_free(c->parts);
  lp_free(c->hdrs);
  lp_free(c->plist);
  lp_free(c);
  if (done) done(ud);
}

static void on_handle_closed(uv_handle_t *h) {
  lp_kafka_consumer *c = h->data;
  if (--c->open_handles == 0) free_consumer(c);
}

static void finish_close(lp_kafka_consumer *c) {
  c->closing = 2;
  lp__kafka_queue_unwatch(c->closeq, c->fds);
  lp_log_info("kafka consumer closed", "delivered=%llu", (unsigned long long)c->delivered);
  uv_close((uv_handle_t *)&c->poll, on_handle_closed);
  uv_close((uv_handle_t *)&c->timer, on_handle_closed);
  uv_close((uv_handle_t *)&c->idle, on_handle_closed);
}

void lp_kafka_consumer_close(lp_kafka_consumer *c, void (*done)(void *ud), void *ud) {
  if (c->closing) return;
  c->done = done;
  c->done_ud = ud;
  c->closing = 1;
  for (int t = 0; t < c->ntopics; t++) {
    for (int p = 0; p < c->shards; p++) {
      lp__kafka_part *s = lp__kafka_part_of(c, t, p);
      if (s->held) {
        rd_kafka_message_destroy(s->held);
        s->held = NULL;
      }
    }
  }
  c->nheld = 0;
  if (!c->started) {
    /* Never subscribed: nothing to leave and no handle open. */
    c->closing = 2;
    rd_kafka_consumer_close(c->rk);
    free_consumer(c);
    return;
  }
  uv_idle_stop(&c->idle);
  /* The close queue gets the wake-up pipe; the consumer queue is forwarded into it by librdkafka. */
  rd_kafka_queue_io_event_enable(c->q, -1, NULL, 0);
  c->closeq = rd_kafka_queue_new(c->rk);
  static const char one = 1;
  rd_kafka_queue_io_event_enable(c->closeq, c->fds[1], &one, 1);
  rd_kafka_error_t *e = rd_kafka_consumer_close_queue(c->rk, c->closeq);
  if (e) {
    lp_log_error("kafka consumer close failed", "reason=\"%s\"", rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
  }
  /* The watchdog keeps serving the close queue if a wake-up is missed. */
  drain_closing(c);
}
