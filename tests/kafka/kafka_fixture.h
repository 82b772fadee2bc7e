/*
 * kafka_fixture.h: what the Kafka tests share: an embedded mock cluster, a loop run until a condition holds
 * (or a deadline, which fails the test), a consumer that records what it receives, and a producer.
 * Header-only; each test file includes it once.
 */
#ifndef LP_TEST_KAFKA_FIXTURE_H
#define LP_TEST_KAFKA_FIXTURE_H

#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/clock.h"
#include "kafka/kafka.h"

#include <librdkafka/rdkafka_mock.h>

#define KT_SHARDS 64
#define KT_MAX_RECORDS 8192

/* Fast group settings for the mock coordinator: short sessions so a rebalance takes seconds. */
static const char *const kt_consumer_props[] = {
  "session.timeout.ms=6000", "heartbeat.interval.ms=300", "fetch.wait.max.ms=50", "fetch.error.backoff.ms=50",
  "reconnect.backoff.ms=50", "reconnect.backoff.max.ms=500", "topic.metadata.refresh.interval.ms=1000",
};
static const char *const kt_producer_props[] = {
  "linger.ms=2", "retry.backoff.ms=50", "reconnect.backoff.ms=50", "reconnect.backoff.max.ms=500",
};

typedef struct kt_consumer {
  lp_kafka_consumer *c;
  int seen[KT_MAX_RECORDS];            /* deliveries per record number (value "rec-<n>") */
  long records;
  long foreign;                        /* values that are not "rec-<n>" */
  long backwards;                      /* records at or before the previous offset of their partition */
  int64_t last_offset[2][KT_SHARDS];
  int64_t first_offset[2][KT_SHARDS];
  int assigned, revoked, assign_calls, revoke_calls;
  int64_t start_at;                    /* >= 0: on assign, every partition starts there */
  int refuse;                          /* > 0: refuse (LP_EAGAIN) this many records */
  long refused;
  int32_t refused_partition;
  int closed;
  int64_t (*ckpt)[KT_SHARDS];          /* a checkpoint shared by a group's members, else NULL */
} kt_consumer;

static inline int kt_on_record(void *ud, const lp_kafka_record *r) {
  kt_consumer *k = ud;
  if (k->refuse > 0) {
    k->refuse--;
    k->refused++;
    k->refused_partition = r->partition;
    return LP_EAGAIN;
  }
  int n = -1;
  if (r->value_len > 4 && r->value_len < 32 && memcmp(r->value, "rec-", 4) == 0) {
    char tmp[32];
    memcpy(tmp, r->value, r->value_len);
    tmp[r->value_len] = '\0';
    n = atoi(tmp + 4);
  }
  if (n >= 0 && n < KT_MAX_RECORDS) {
    k->seen[n]++;
  } else {
    k->foreign++;
  }
  k->records++;
  if (k->first_offset[r->topic_idx][r->partition] < 0) k->first_offset[r->topic_idx][r->partition] = r->offset;
  if (r->offset <= k->last_offset[r->topic_idx][r->partition]) k->backwards++;
  k->last_offset[r->topic_idx][r->partition] = r->offset;
  if (k->ckpt) k->ckpt[r->topic_idx][r->partition] = r->offset;
  lp_kafka_consumer_mark_applied(k->c, r->topic_idx, r->partition, r->offset);
  return 0;
}

/* How many of records 0..n-1 were not seen exactly once (the test asserts it is 0, once, so that criterion
 * does not record thousands of assertion events). */
static inline int kt_not_once(const kt_consumer *a, const kt_consumer *b, int n) {
  int bad = 0;
  for (int i = 0; i < n; i++) bad += (a->seen[i] + (b ? b->seen[i] : 0)) != 1;
  return bad;
}

static inline void kt_on_assign(void *ud, lp_kafka_partition *parts, size_t n) {
  kt_consumer *k = ud;
  k->assigned += (int)n;
  k->assign_calls++;
  /* As the server does with its checkpoint: resume after the last record applied here, if any. */
  for (size_t i = 0; i < n; i++) {
    int64_t last = (k->ckpt ? k->ckpt : k->last_offset)[parts[i].topic_idx][parts[i].partition];
    if (k->start_at >= 0 && parts[i].topic_idx == 0) {
      parts[i].offset = k->start_at;
    } else if (last >= 0) {
      parts[i].offset = last + 1;
    }
  }
}

static inline void kt_on_revoke(void *ud, const lp_kafka_partition *parts, size_t n, int lost) {
  kt_consumer *k = ud;
  (void)parts;
  (void)lost;
  k->revoked += (int)n;
  k->revoke_calls++;
}

static inline void kt_consumer_init(kt_consumer *k) {
  memset(k, 0, sizeof(*k));
  k->start_at = -1;
  for (int t = 0; t < 2; t++)
    for (int p = 0; p < KT_SHARDS; p++) k->last_offset[t][p] = k->first_offset[t][p] = -1;
}

static inline lp_kafka_conf kt_conf(const char *brokers, int consumer) {
  lp_kafka_conf conf = { .brokers = brokers, .group_id = "kt-group", .shards = KT_SHARDS };
  conf.props = consumer ? kt_consumer_props : kt_producer_props;
  conf.nprops = consumer ? sizeof(kt_consumer_props) / sizeof(kt_consumer_props[0])
                         : sizeof(kt_producer_props) / sizeof(kt_producer_props[0]);
  conf.flush_timeout_ms = 5000;
  return conf;
}

static inline void kt_consumer_open(kt_consumer *k, uv_loop_t *loop, const char *brokers) {
  kt_consumer_init(k);
  lp_kafka_conf conf = kt_conf(brokers, 1);
  lp_kafka_handlers h = { kt_on_record, kt_on_assign, kt_on_revoke, NULL, k };
  char err[512];
  cr_assert_eq(lp_kafka_consumer_new(loop, &conf, &h, &k->c, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(lp_kafka_consumer_start(k->c, err, sizeof(err)), 0, "%s", err);
}

static inline void kt_consumer_closed(void *ud) { ((kt_consumer *)ud)->closed = 1; }

/* Runs the loop until cond(arg) holds; fails the test after timeout_ms. */
typedef int (*kt_cond)(void *arg);

static inline void kt_tick(uv_timer_t *t) { uv_stop(t->loop); }

static inline int kt_run_until(uv_loop_t *loop, kt_cond cond, void *arg, int timeout_ms) {
  uv_timer_t t;
  uv_timer_init(loop, &t);
  uv_timer_start(&t, kt_tick, 5, 5);
  uint64_t deadline = lp_mono_ns() + (uint64_t)timeout_ms * 1000000u;
  int ok;
  while (!(ok = cond(arg)) && lp_mono_ns() < deadline) uv_run(loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  return ok;
}

typedef struct kt_prod {
  lp_kafka_producer *p;
  long ok, failed;
  int closed;
} kt_prod;

static inline void kt_delivered(void *ud, int err, const char *reason, int32_t partition, int64_t offset) {
  kt_prod *kp = ud;
  (void)reason;
  (void)partition;
  (void)offset;
  if (err == 0) {
    kp->ok++;
  } else {
    kp->failed++;
  }
}

static inline void kt_prod_closed(void *ud) { ((kt_prod *)ud)->closed = 1; }
static inline int kt_is_closed_prod(void *a) { return ((kt_prod *)a)->closed; }
static inline int kt_is_closed_cons(void *a) { return ((kt_consumer *)a)->closed; }

/* Produces records first..first+n-1 ("rec-<i>") to topic, partition i % KT_SHARDS. */
static inline void kt_produce_range(kt_prod *kp, uv_loop_t *loop, const char *topic, int first, int n) {
  char err[512], val[32], key[32];
  for (int i = first; i < first + n; i++) {
    snprintf(val, sizeof(val), "rec-%d", i);
    snprintf(key, sizeof(key), "lead%d.com", i);
    lp_kafka_header h = { LP_KAFKA_H_CONTENT_TYPE, "application/json", 16 };
    lp_kafka_msg m = { .topic = topic, .partition = i % KT_SHARDS, .key = key, .key_len = strlen(key),
                       .value = val, .value_len = strlen(val), .headers = &h, .nheaders = 1 };
    int rc;
    while ((rc = lp_kafka_produce(kp->p, &m, kt_delivered, kp, err, sizeof(err))) == LP_EAGAIN)
      uv_run(loop, UV_RUN_ONCE);
    cr_assert_eq(rc, 0, "%s", err);
  }
}

static inline void kt_prod_open(kt_prod *kp, uv_loop_t *loop, const char *brokers) {
  memset(kp, 0, sizeof(*kp));
  lp_kafka_conf conf = kt_conf(brokers, 0);
  char err[512];
  cr_assert_eq(lp_kafka_producer_new(loop, &conf, &kp->p, err, sizeof(err)), 0, "%s", err);
}

static inline void kt_prod_close(kt_prod *kp, uv_loop_t *loop) {
  lp_kafka_producer_close(kp->p, kt_prod_closed, kp);
  cr_assert(kt_run_until(loop, kt_is_closed_prod, kp, 15000), "producer closes");
}

static inline void kt_consumer_close(kt_consumer *k, uv_loop_t *loop) {
  lp_kafka_consumer_close(k->c, kt_consumer_closed, k);
  cr_assert(kt_run_until(loop, kt_is_closed_cons, k, 15000), "consumer closes");
}

#endif
