/*
 * producer.c: a librdkafka producer on the reactor's loop. Delivery reports are served by rd_kafka_poll(rk, 0)
 * when the main queue's wake-up pipe is readable, so every completion callback runs on the loop thread.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "kafka/kafka_int.h"

#define PRODUCER_WATCHDOG_MS 1000   /* a lost wake-up delays a report by at most this */
#define PRODUCER_CLOSE_TICK_MS 20
#define PRODUCER_PURGE_GRACE_MS 1000 /* after a purge, time for librdkafka to hand back the purged reports */

struct lp_kafka_producer {
  uv_loop_t *loop;
  rd_kafka_t *rk;
  rd_kafka_queue_t *mainq;
  uv_poll_t poll;
  uv_timer_t timer;        /* watchdog while running, close ticks while closing */
  int fds[2];
  int open_handles;
  int flush_timeout_ms;
  int closing;             /* 1 flushing, 2 purged, 3 handles closing */
  uint64_t deadline_ns;
  void (*done)(void *ud);
  void *done_ud;
  uint64_t dlq_ok, dlq_failed;
};

/* What travels with each message as its opaque (freed by the delivery report). */
typedef struct delivery {
  lp_kafka_producer *p;
  lp_kafka_delivery_cb cb;
  void *ud;
  int dlq;
} delivery;

/* Runs inside rd_kafka_poll on the loop thread. */
static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk;
  (void)opaque;
  delivery *d = m->_private;
  if (!d) return;
  int err = lp__kafka_err(m->err);
  if (m->err && err == 0) err = LP_EIO;
  if (d->dlq) {
    if (err) {
      d->p->dlq_failed++;
      lp_log_error("dead letter not delivered", "topic=%s reason=\"%s\"", rd_kafka_topic_name(m->rkt),
                   rd_kafka_err2str(m->err));
    } else {
      d->p->dlq_ok++;
    }
  }
  if (d->cb) d->cb(d->ud, err, m->err ? rd_kafka_err2str(m->err) : NULL, m->partition, m->offset);
  lp_free(d);
}

static void producer_serve(lp_kafka_producer *p) {
  lp__kafka_pipe_drain(p->fds[0]);
  rd_kafka_poll(p->rk, 0);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  (void)status;
  (void)events;
  producer_serve(h->data);
}

static void on_watchdog(uv_timer_t *t) { producer_serve(t->data); }

int lp_kafka_producer_new(uv_loop_t *loop, const lp_kafka_conf *conf, lp_kafka_producer **out, char *errstr,
                          size_t errsz) {
  *out = NULL;
  if (!conf->brokers || !*conf->brokers) {
    snprintf(errstr, errsz, "kafka producer: no bootstrap brokers");
    return LP_EINVAL;
  }
  static const char *const defaults[] = {
    "acks", "all", "enable.idempotence", "true", "linger.ms", "5", "message.timeout.ms", "60000", NULL,
  };
  rd_kafka_conf_t *kc = lp__kafka_conf_new(conf, defaults, errstr, errsz);
  if (!kc) return LP_ECONFIG;
  rd_kafka_conf_set_dr_msg_cb(kc, dr_msg_cb);
  lp_kafka_producer *p = lp_calloc(1, sizeof(*p));
  if (!p) {
    rd_kafka_conf_destroy(kc);
    snprintf(errstr, errsz, "out of memory");
    return LP_ENOMEM;
  }
  p->fds[0] = p->fds[1] = -1;
  p->loop = loop;
  p->flush_timeout_ms = conf->flush_timeout_ms > 0 ? conf->flush_timeout_ms : LP__KAFKA_DEFAULT_FLUSH_MS;
  char why[512];
  p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, why, sizeof(why));
  if (!p->rk) {
    rd_kafka_conf_destroy(kc);
    snprintf(errstr, errsz, "kafka producer: %s", why);
    lp_free(p);
    return LP_ECONFIG;
  }
  p->mainq = rd_kafka_queue_get_main(p->rk);
  int rc = lp__kafka_queue_watch(loop, p->mainq, &p->poll, p->fds, errstr, errsz);
  if (rc != 0) {
    rd_kafka_queue_destroy(p->mainq);
    rd_kafka_destroy(p->rk);
    lp_free(p);
    return rc;
  }
  p->poll.data = p;
  uv_poll_start(&p->poll, UV_READABLE, on_poll);
  uv_timer_init(loop, &p->timer);
  p->timer.data = p;
  uv_timer_start(&p->timer, on_watchdog, PRODUCER_WATCHDOG_MS, PRODUCER_WATCHDOG_MS);
  p->open_handles = 2;
  *out = p;
  return 0;
}

/* Builds librdkafka headers from ours plus `extra` (name, value pairs, NULL-terminated). NULL when none. */
static rd_kafka_headers_t *make_headers(const lp_kafka_header *h, size_t n, const char *const *extra) {
  size_t nextra = 0;
  while (extra && extra[nextra]) nextra += 2;
  if (n == 0 && nextra == 0) return NULL;
  rd_kafka_headers_t *hdrs = rd_kafka_headers_new(n + nextra / 2);
  for (size_t i = 0; i < n; i++) rd_kafka_header_add(hdrs, h[i].name, -1, h[i].value, (ssize_t)h[i].len);
  for (size_t i = 0; i < nextra; i += 2) rd_kafka_header_add(hdrs, extra[i], -1, extra[i + 1], -1);
  return hdrs;
}

static int produce(lp_kafka_producer *p, const lp_kafka_msg *m, const char *const *extra, int dlq,
                   lp_kafka_delivery_cb cb, void *ud, char *errstr, size_t errsz) {
  if (p->closing) {
    snprintf(errstr, errsz, "kafka producer is closing");
    return LP_ESTATE;
  }
  if (!m->topic || !*m->topic) {
    snprintf(errstr, errsz, "kafka produce: no topic");
    return LP_EINVAL;
  }
  delivery *d = NULL;
  if (cb || dlq) {
    if (!(d = lp_malloc(sizeof(*d)))) {
      snprintf(errstr, errsz, "out of memory");
      return LP_ENOMEM;
    }
    *d = (delivery){ p, cb, ud, dlq };
  }
  rd_kafka_headers_t *hdrs = make_headers(m->headers, m->nheaders, extra);
  rd_kafka_resp_err_t err;
  if (hdrs) {
    err = rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(m->topic),
                            RD_KAFKA_V_PARTITION(m->partition >= 0 ? m->partition : RD_KAFKA_PARTITION_UA),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(m->key, m->key_len),
                            RD_KAFKA_V_VALUE((void *)m->value, m->value_len), RD_KAFKA_V_HEADERS(hdrs),
                            RD_KAFKA_V_OPAQUE(d), RD_KAFKA_V_END);
  } else {
    err = rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(m->topic),
                            RD_KAFKA_V_PARTITION(m->partition >= 0 ? m->partition : RD_KAFKA_PARTITION_UA),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(m->key, m->key_len),
                            RD_KAFKA_V_VALUE((void *)m->value, m->value_len), RD_KAFKA_V_OPAQUE(d),
                            RD_KAFKA_V_END);
  }
  if (err) {
    if (hdrs) rd_kafka_headers_destroy(hdrs);  /* ours again when producev failed */
    lp_free(d);
    snprintf(errstr, errsz, "kafka produce to %s: %s", m->topic, rd_kafka_err2str(err));
    int rc = lp__kafka_err(err);
    return rc ? rc : LP_EIO;
  }
  return 0;
}

int lp_kafka_produce(lp_kafka_producer *p, const lp_kafka_msg *m, lp_kafka_delivery_cb cb, void *ud, char *errstr,
                     size_t errsz) {
  return produce(p, m, NULL, 0, cb, ud, errstr, errsz);
}

int lp_kafka_produce_dlq(lp_kafka_producer *p, const lp_kafka_record *rec, const char *code, const char *message,
                         lp_kafka_delivery_cb cb, void *ud, char *errstr, size_t errsz) {
  char topic[512], part[16], off[24];
  if (snprintf(topic, sizeof(topic), "%s%s", rec->topic, LP_KAFKA_DLQ_SUFFIX) >= (int)sizeof(topic)) {
    snprintf(errstr, errsz, "kafka dead letter: topic name too long");
    return LP_EINVAL;
  }
  snprintf(part, sizeof(part), "%" PRId32, rec->partition);
  snprintf(off, sizeof(off), "%" PRId64, rec->offset);
  const char *extra[] = {
    LP_KAFKA_H_ERROR, code ? code : "unknown", LP_KAFKA_H_ERROR_MESSAGE, message ? message : "",
    LP_KAFKA_H_ORIG_TOPIC, rec->topic, LP_KAFKA_H_ORIG_PARTITION, part, LP_KAFKA_H_ORIG_OFFSET, off, NULL,
  };
  lp_kafka_msg m = {
    .topic = topic, .partition = -1, .key = rec->key, .key_len = rec->key_len, .value = rec->value,
    .value_len = rec->value_len, .headers = rec->headers, .nheaders = rec->nheaders,
  };
  return produce(p, &m, extra, 1, cb, ud, errstr, errsz);
}

uint64_t lp_kafka_producer_dlq_count(const lp_kafka_producer *p) { return p->dlq_ok; }
uint64_t lp_kafka_producer_dlq_failed(const lp_kafka_producer *p) { return p->dlq_failed; }
size_t lp_kafka_producer_pending(const lp_kafka_producer *p) { return (size_t)rd_kafka_outq_len(p->rk); }

static void on_handle_closed(uv_handle_t *h) {
  lp_kafka_producer *p = h->data;
  if (--p->open_handles > 0) return;
  close(p->fds[0]);
  rd_kafka_queue_destroy(p->mainq);
  rd_kafka_destroy(p->rk);
  void (*done)(void *) = p->done;
  void *ud = p->done_ud;
  lp_free(p);
  if (done) done(ud);
}

/* Each tick while closing: serve reports; purge at the deadline; close the handles once nothing is left
 * (or the purge grace is over: a report librdkafka never hands back is then lost with the handle). */
static void on_close_tick(uv_timer_t *t) {
  lp_kafka_producer *p = t->data;
  producer_serve(p);
  uint64_t now = lp_mono_ns();
  int left = rd_kafka_outq_len(p->rk);
  if (left > 0 && p->closing == 1 && now >= p->deadline_ns) {
    lp_log_warn("kafka producer flush timed out, purging", "pending=%d", left);
    rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    producer_serve(p);
    p->closing = 2;
    p->deadline_ns = now + (uint64_t)PRODUCER_PURGE_GRACE_MS * 1000000u;
    left = rd_kafka_outq_len(p->rk);
  }
  if (left > 0 && !(p->closing == 2 && now >= p->deadline_ns)) return;
  if (left > 0) lp_log_error("kafka producer closed with unreported messages", "pending=%d", left);
  p->closing = 3;
  uv_timer_stop(&p->timer);
  lp__kafka_queue_unwatch(p->mainq, p->fds);
  uv_close((uv_handle_t *)&p->poll, on_handle_closed);
  uv_close((uv_handle_t *)&p->timer, on_handle_closed);
}

void lp_kafka_producer_close(lp_kafka_producer *p, void (*done)(void *ud), void *ud) {
  if (p->closing) return;
  p->closing = 1;
  p->done = done;
  p->done_ud = ud;
  p->deadline_ns = lp_mono_ns() + (uint64_t)p->flush_timeout_ms * 1000000u;
  uv_timer_stop(&p->timer);
  uv_timer_start(&p->timer, on_close_tick, 0, PRODUCER_CLOSE_TICK_MS);
}
