/*
 * kafka_serve.h: what the Kafka integration tests share: a server started in a Kafka mode, its status and
 * counters over HTTP, a plain librdkafka producer, and a reader of a dead-letter topic. Header-only.
 */
#ifndef LP_TEST_KAFKA_SERVE_H
#define LP_TEST_KAFKA_SERVE_H

#include <criterion/criterion.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "helpers/helpers.h"

#define KS_SHARDS 8

/* Short group timeouts so that a rebalance after a kill takes seconds. */
#define KS_PROPS "LEADPOET_KAFKA_PROPERTIES=session.timeout.ms=6000;heartbeat.interval.ms=500;" \
                 "fetch.wait.max.ms=50;topic.metadata.refresh.interval.ms=1000"

static inline long long ks_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void ks_sleep_ms(int ms) { usleep((useconds_t)ms * 1000); }

static inline json_t *ks_get_json(int port, const char *path, int *status) {
  lpt_response r;
  if (lpt_http(port, "GET", path, NULL, NULL, 0, &r) != 0) {
    *status = -1;
    return NULL;
  }
  *status = r.status;
  json_t *j = json_loads(r.body, 0, NULL);
  lpt_response_free(&r);
  return j;
}

/* The value of one series of /metrics (the exact text before the value), or -1 when absent. */
static inline double ks_metric(int port, const char *series) {
  lpt_response r;
  if (lpt_http(port, "GET", "/metrics", NULL, NULL, 0, &r) != 0) return -1;
  double v = -1;
  size_t n = strlen(series);
  for (const char *p = r.body; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
    if (strncmp(p, series, n) == 0 && p[n] == ' ') {
      v = atof(p + n + 1);
      break;
    }
  }
  lpt_response_free(&r);
  return v;
}

/* The snippets count of a lead (GET /v1/leads/{domain}), 0 when not found. */
static inline long ks_lead_snippets(int port, const char *domain) {
  char path[256];
  snprintf(path, sizeof(path), "/v1/leads/%s", domain);
  int st;
  json_t *j = ks_get_json(port, path, &st);
  long n = st == 200 && j ? (long)json_integer_value(json_object_get(j, "snippets")) : 0;
  json_decref(j);
  return n;
}

/* The kafka object of /v1/status: bootstrap copied to out (may be NULL), the count of owned partitions. */
static inline int ks_status(int port, char *bootstrap, size_t cap, char *mode, size_t mcap) {
  int st;
  json_t *j = ks_get_json(port, "/v1/status", &st);
  json_t *k = j ? json_object_get(j, "kafka") : NULL;
  int owned = -1;
  if (k) {
    if (bootstrap && json_string_value(json_object_get(k, "bootstrap")))
      snprintf(bootstrap, cap, "%s", json_string_value(json_object_get(k, "bootstrap")));
    if (mode) snprintf(mode, mcap, "%s", json_string_value(json_object_get(k, "mode")) ? json_string_value(json_object_get(k, "mode")) : "");
    owned = (int)json_array_size(json_object_get(k, "partitions"));
  }
  json_decref(j);
  return owned;
}

static inline rd_kafka_t *ks_producer(const char *bootstrap) {
  char err[256];
  rd_kafka_conf_t *c = rd_kafka_conf_new();
  cr_assert_eq(rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, err, sizeof(err)), RD_KAFKA_CONF_OK, "%s", err);
  rd_kafka_conf_set(c, "message.max.bytes", "2000000", err, sizeof(err));
  rd_kafka_conf_set(c, "linger.ms", "5", err, sizeof(err));
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
  cr_assert_not_null(rk, "%s", err);
  return rk;
}

/* Produces one record (partition -1: librdkafka's partitioner) with an optional content-type. */
static inline void ks_produce(rd_kafka_t *rk, const char *topic, int32_t partition, const char *key,
                              const void *value, size_t len, const char *ctype) {
  rd_kafka_headers_t *h = rd_kafka_headers_new(1);
  if (ctype) rd_kafka_header_add(h, "content-type", -1, ctype, -1);
  rd_kafka_resp_err_t e;
  do {
    e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                          RD_KAFKA_V_KEY(key, key ? strlen(key) : 0), RD_KAFKA_V_VALUE((void *)value, len),
                          RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) rd_kafka_poll(rk, 50);
  } while (e == RD_KAFKA_RESP_ERR__QUEUE_FULL);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) rd_kafka_headers_destroy(h);
  cr_assert_eq(e, RD_KAFKA_RESP_ERR_NO_ERROR, "produce: %s", rd_kafka_err2str(e));
}

static inline void ks_flush(rd_kafka_t *rk) {
  cr_assert_eq(rd_kafka_flush(rk, 30000), RD_KAFKA_RESP_ERR_NO_ERROR, "every record delivered");
}

/* A consumer assigned to every partition of topic from the beginning (no group). */
static inline rd_kafka_t *ks_reader(const char *bootstrap, const char *topic) {
  char err[256];
  rd_kafka_conf_t *c = rd_kafka_conf_new();
  rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, err, sizeof(err));
  rd_kafka_conf_set(c, "group.id", "ks-reader", err, sizeof(err));
  rd_kafka_conf_set(c, "enable.auto.commit", "false", err, sizeof(err));
  rd_kafka_conf_set(c, "fetch.wait.max.ms", "50", err, sizeof(err));
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
  cr_assert_not_null(rk, "%s", err);
  rd_kafka_poll_set_consumer(rk);
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(KS_SHARDS);
  for (int p = 0; p < KS_SHARDS; p++) rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  cr_assert_eq(rd_kafka_assign(rk, l), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(l);
  return rk;
}

static inline void ks_reader_close(rd_kafka_t *rk) {
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
}

#endif
