/*
 * kafka.h: Kafka on the reactor's libuv loop (librdkafka), with no polling thread.
 *
 * Three objects, each owned by whoever created it and used from the loop thread only (the thread that runs
 * the uv_loop_t passed at creation), unless a function says otherwise:
 *
 *   lp_kafka_mock      the embedded cluster: librdkafka's mock cluster with the topics and partitions the
 *                      server needs, for running without brokers (contract §5, "embedded" mode).
 *   lp_kafka_producer  produce with a completion callback; the delivery report arrives on the loop thread
 *                      (the main queue's io-event fd is watched by a uv_poll, rd_kafka_poll(rk, 0) serves it).
 *                      A dead-letter helper copies a rejected record to <topic>.dlq with the reason headers.
 *   lp_kafka_consumer  one consumer group over a list of topics; the consumer queue's io-event fd is
 *                      watched by a uv_poll, and each wake-up consumes without blocking, in bounded batches.
 *                      Records, assignments and revocations reach the caller through callbacks on the loop
 *                      thread. Applied offsets are tracked per partition by the caller's reports; the
 *                      caller chooses where each assigned partition starts (Kafka's committed offsets are
 *                      never used: enable.auto.commit and enable.auto.offset.store are off).
 *
 * Rebalancing: cooperative-sticky by default, so a rebalance moves only the partitions that change owner
 * and the others keep flowing (an eager rebalance would revoke every shard, save and reload all of them).
 * Eager is supported too: pass "partition.assignment.strategy=range" (or roundrobin) in the properties; the
 * callbacks then see every partition revoked and the new set assigned.
 *
 * Partition p of every topic feeds shard p, so each topic must have exactly `shards` partitions: the consumer
 * checks it through metadata before subscribing and refuses to start otherwise.
 *
 * librdkafka's own threads never call into leadpoet except its log callback (which goes to lp_log, any
 * thread). Nothing here blocks the loop except where a function says so, with its bound.
 */
#ifndef LP_KAFKA_H
#define LP_KAFKA_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "leadpoet/common.h"

#define LP_KAFKA_TOPIC_SNIPPETS "miner.snippets"
#define LP_KAFKA_TOPIC_OUTCOMES "outcome.events"
#define LP_KAFKA_DLQ_SUFFIX ".dlq"

/* Header names written and read by leadpoet. */
#define LP_KAFKA_H_CONTENT_TYPE "content-type"
#define LP_KAFKA_H_ERROR "leadpoet-error"
#define LP_KAFKA_H_ERROR_MESSAGE "leadpoet-error-message"
#define LP_KAFKA_H_ORIG_TOPIC "leadpoet-original-topic"
#define LP_KAFKA_H_ORIG_PARTITION "leadpoet-original-partition"
#define LP_KAFKA_H_ORIG_OFFSET "leadpoet-original-offset"

/* Start offsets for lp_kafka_partition.offset (librdkafka's logical offsets). */
#define LP_KAFKA_OFFSET_BEGINNING (-2)
#define LP_KAFKA_OFFSET_END (-1)
/* "Nothing applied yet" in lp_kafka_consumer_applied. */
#define LP_KAFKA_OFFSET_NONE (-1001)

#define LP_KAFKA_MAX_TOPICS 8

/* Settings shared by the three objects. Every string is borrowed for the duration of the call that takes
 * the struct (the objects copy what they keep). Zero values take the defaults named below. */
typedef struct lp_kafka_conf {
  const char *brokers;            /* "host:port,..."; NULL or "" only for lp_kafka_mock (embedded) */
  const char *group_id;           /* consumer group (default "leadpoet") */
  const char *client_id;          /* default "leadpoet" */
  int shards;                     /* partitions every topic must have; required, >= 1 */
  const char *const *topics;      /* consumed topics (default: miner.snippets, outcome.events) */
  int ntopics;
  const char *const *props;       /* extra librdkafka properties "key=value", applied last to both handles */
  size_t nprops;
  int batch;                      /* records consumed per wake-up before yielding to the loop (default 512) */
  int metadata_timeout_ms;        /* bound of the partition check at start (default 10000) */
  int flush_timeout_ms;           /* bound of the producer's flush at close (default 5000) */
  int assign_all;                 /* consumer: 1 = no group protocol: every partition of every topic is
                                   * assigned to this consumer at start (on_assign fires inside
                                   * lp_kafka_consumer_start), nothing is ever revoked. For a process that is
                                   * its group's only member by construction (embedded mode): it skips the
                                   * JoinGroup round and the broker's initial rebalance delay (3 s on
                                   * librdkafka's mock cluster). */
} lp_kafka_conf;

/* One header of a record: value not NUL-terminated (len bytes), NULL for a null header. */
typedef struct lp_kafka_header {
  const char *name;
  const void *value;
  size_t len;
} lp_kafka_header;

/* A consumed record. Everything is borrowed: valid only during the callback that receives it. */
typedef struct lp_kafka_record {
  const char *topic;
  int topic_idx;                  /* index in lp_kafka_conf.topics */
  int32_t partition;
  int64_t offset;
  int64_t timestamp_ms;           /* Kafka timestamp, -1 when absent (event time is in the value) */
  const void *key;                /* may be NULL */
  size_t key_len;
  const void *value;              /* may be NULL (tombstone) */
  size_t value_len;
  const char *content_type;       /* the content-type header's value (not NUL-terminated) or NULL */
  size_t content_type_len;
  const lp_kafka_header *headers;
  size_t nheaders;
} lp_kafka_record;

/* A partition in an assignment or revocation. On assign, `offset` is where consumption starts: prefilled
 * with the applied offset + 1 when this consumer knows one, else LP_KAFKA_OFFSET_BEGINNING (the log is the
 * source of truth); the on_assign callback may overwrite it (with the checkpoint's offset). */
typedef struct lp_kafka_partition {
  const char *topic;
  int topic_idx;
  int32_t partition;
  int64_t offset;
} lp_kafka_partition;

/* ------------------------------------------------------------------------------------------------ mock */

typedef struct lp_kafka_mock lp_kafka_mock;

/* Starts librdkafka's mock cluster (brokers threads inside this process, listening on 127.0.0.1) with
 * `brokers` brokers (1..16), and creates miner.snippets, outcome.events and their .dlq topics with `shards`
 * partitions each. Logs its bootstrap address. The caller owns *out (lp_kafka_mock_free). Any thread. */
int lp_kafka_mock_new(int shards, int brokers, lp_kafka_mock **out, char *errstr, size_t errsz);
/* Creates one more topic (tests: a topic with the wrong partition count). Any thread. */
int lp_kafka_mock_topic(lp_kafka_mock *m, const char *topic, int partitions, char *errstr, size_t errsz);
/* "127.0.0.1:port,..."; owned by m. */
const char *lp_kafka_mock_bootstraps(const lp_kafka_mock *m);
/* The rd_kafka_mock_cluster_t *, for error injection in tests (rd_kafka_mock_push_request_errors...). */
void *lp_kafka_mock_cluster(lp_kafka_mock *m);
/* Stops the cluster; blocks until its threads exit (milliseconds). Every client of it should be closed
 * first. NULL is fine. */
void lp_kafka_mock_free(lp_kafka_mock *m);

/* -------------------------------------------------------------------------------------------- producer */

typedef struct lp_kafka_producer lp_kafka_producer;

/* A message to produce. Everything is borrowed for the call (librdkafka copies it). */
typedef struct lp_kafka_msg {
  const char *topic;
  int32_t partition;              /* >= 0, or -1: chosen from the key by the partitioner */
  const void *key;
  size_t key_len;
  const void *value;
  size_t value_len;
  const lp_kafka_header *headers;
  size_t nheaders;
} lp_kafka_msg;

/* Called once per produced message on the loop thread: err 0 when the broker acknowledged it (partition
 * and offset then set), else a negative LP_E* code with librdkafka's reason in `reason` (static text). */
typedef void (*lp_kafka_delivery_cb)(void *ud, int err, const char *reason, int32_t partition, int64_t offset);

/* Creates a producer on `loop` (acks=all, idempotence on, so a retried send is never duplicated).
 * conf->brokers is required. The caller owns *out and ends it with lp_kafka_producer_close. Loop thread. */
int lp_kafka_producer_new(uv_loop_t *loop, const lp_kafka_conf *conf, lp_kafka_producer **out, char *errstr,
                          size_t errsz);

/* Queues one message; cb (may be NULL) is called exactly once later, on the loop thread, never from inside
 * this call. Returns 0, LP_EAGAIN when librdkafka's queue is full (back off: nothing was queued, cb will
 * not be called), LP_ESTATE after close began, or LP_EINVAL with the reason in errstr. Loop thread. */
int lp_kafka_produce(lp_kafka_producer *p, const lp_kafka_msg *m, lp_kafka_delivery_cb cb, void *ud,
                     char *errstr, size_t errsz);

/* Copies a rejected record to <record topic>.dlq, same key, value and headers, plus leadpoet-error = code,
 * leadpoet-error-message = message, and the original topic, partition and offset (decimal text). Counted in
 * lp_kafka_producer_dlq_count once the broker has it. Same returns as lp_kafka_produce. Loop thread. */
int lp_kafka_produce_dlq(lp_kafka_producer *p, const lp_kafka_record *rec, const char *code, const char *message,
                         lp_kafka_delivery_cb cb, void *ud, char *errstr, size_t errsz);

/* Dead letters acknowledged by the broker since creation, and those that failed. Loop thread. */
uint64_t lp_kafka_producer_dlq_count(const lp_kafka_producer *p);
uint64_t lp_kafka_producer_dlq_failed(const lp_kafka_producer *p);
/* Messages queued and not yet reported. Any thread. */
size_t lp_kafka_producer_pending(const lp_kafka_producer *p);

/* Begins closing: no new message is accepted; pending ones get their delivery reports on the loop while it
 * runs, for at most conf->flush_timeout_ms, after which the rest are purged (their callbacks get
 * LP_ECANCELED). Then the uv handles are closed, the handle destroyed (rd_kafka_destroy joins librdkafka's
 * threads: it blocks for the time they take to notice, a few ms, as no request is outstanding by then) and
 * done(ud) is called. The loop must run until then. p is freed before done. Loop thread. */
void lp_kafka_producer_close(lp_kafka_producer *p, void (*done)(void *ud), void *ud);

/* -------------------------------------------------------------------------------------------- consumer */

typedef struct lp_kafka_consumer lp_kafka_consumer;

typedef struct lp_kafka_handlers {
  /* A record, on the loop thread. Return 0 when taken, or LP_EAGAIN when it cannot be taken now (a full
   * ring): the consumer pauses the partition, keeps the record, and hands it again (first) after
   * lp_kafka_consumer_resume. Any other value is treated as 0: a poison record never stops a partition
   * (the caller dead-letters it). Required. */
  int (*on_record)(void *ud, const lp_kafka_record *rec);
  /* Partitions newly assigned to this consumer: load their state and set each start offset. May be NULL. */
  void (*on_assign)(void *ud, lp_kafka_partition *parts, size_t n);
  /* Partitions taken away: finish their in-flight work and save their state before returning. lost = 1
   * when the group already gave them to another member (session lost): do not save over its work. No
   * record of these partitions is delivered after this call. May be NULL. */
  void (*on_revoke)(void *ud, const lp_kafka_partition *parts, size_t n, int lost);
  /* A consumer-level error librdkafka reports (broker down, ...). Informational: librdkafka retries by
   * itself. fatal = 1 when the consumer cannot go on. May be NULL (then logged). */
  void (*on_error)(void *ud, int fatal, const char *reason);
  void *ud;
} lp_kafka_handlers;

/* Creates a consumer on `loop` (not yet subscribed). conf->brokers is required. h is copied. The caller owns
 * *out and ends it with lp_kafka_consumer_close. Loop thread. */
int lp_kafka_consumer_new(uv_loop_t *loop, const lp_kafka_conf *conf, const lp_kafka_handlers *h,
                          lp_kafka_consumer **out, char *errstr, size_t errsz);

/* Checks that every topic exists with conf->shards partitions (LP_ECONFIG, e.g. "topic miner.snippets has 12
 * partitions, leadpoet needs 64 (server.shards)"), then subscribes (or, with conf->assign_all, assigns every
 * partition at once, calling on_assign before returning) and starts watching the queue. Blocks
 * the calling thread for the metadata request, at most conf->metadata_timeout_ms (LP_EIO when the cluster
 * does not answer): call it at start, before serving. Loop thread. */
int lp_kafka_consumer_start(lp_kafka_consumer *c, char *errstr, size_t errsz);

/* The partition check alone, on any handle's cluster: exposed for tests and `check-config`-like tools.
 * rk is an rd_kafka_t *. Blocks up to timeout_ms. Any thread. */
int lp_kafka_check_partitions(void *rk, const char *const *topics, int ntopics, int shards, int timeout_ms,
                              char *errstr, size_t errsz);

/* Records that every record of topic_idx/partition up to `offset` (inclusive) is applied. Offsets only move
 * forward (an older report is ignored). Returns LP_ERANGE for a partition outside 0..shards-1 or a bad
 * topic index. Loop thread. */
int lp_kafka_consumer_mark_applied(lp_kafka_consumer *c, int topic_idx, int32_t partition, int64_t offset);
/* The last applied offset of topic_idx/partition, or LP_KAFKA_OFFSET_NONE. Loop thread. */
int64_t lp_kafka_consumer_applied(const lp_kafka_consumer *c, int topic_idx, int32_t partition);
/* 1 once the group gave this consumer its first assignment (possibly empty: more members than partitions),
 * or at start with conf->assign_all; 0 before. Loop thread. */
int lp_kafka_consumer_assigned(const lp_kafka_consumer *c);
/* Whether this consumer currently owns the partition. Loop thread. */
int lp_kafka_consumer_owns(const lp_kafka_consumer *c, int topic_idx, int32_t partition);

/* Stops delivery of one partition (backpressure) until resumed; records already fetched are kept by
 * librdkafka's position, none is lost or skipped. Idempotent; a pause of a partition not owned now takes
 * effect when it is assigned. Returns LP_ERANGE for a bad index, LP_EIO when librdkafka refuses. Loop
 * thread. */
int lp_kafka_consumer_pause(lp_kafka_consumer *c, int topic_idx, int32_t partition);
int lp_kafka_consumer_resume(lp_kafka_consumer *c, int topic_idx, int32_t partition);
int lp_kafka_consumer_paused(const lp_kafka_consumer *c, int topic_idx, int32_t partition);

/* Moves an owned partition's fetch position to `offset` (>= 0): the records before it are not fetched
 * again (a partition restored from a checkpoint starts after the stored offsets rather than re-reading its
 * log). A record held for backpressure is dropped (the fetcher reads from `offset` again); a pause stays.
 * Asynchronous (librdkafka's seek with no wait: the loop never blocks), so a record fetched before the
 * seek may still be delivered once: the caller skips what is below `offset` (and marks the applied offset
 * itself with lp_kafka_consumer_mark_applied). Returns LP_ERANGE for a bad index or offset, LP_ESTATE when
 * the partition is not owned now (set the start offset with mark_applied before the assignment instead),
 * LP_EIO when librdkafka refuses. Loop thread. */
int lp_kafka_consumer_seek(lp_kafka_consumer *c, int topic_idx, int32_t partition, int64_t offset);

/* The low and high watermarks of topic_idx/partition as last seen by the fetcher (librdkafka's cached
 * values: no request, never blocks). Returns 0, LP_ERANGE for a bad index, or LP_ENOENT while unknown (not
 * fetched yet). Lag = high - (applied + 1). Loop thread. */
int lp_kafka_consumer_watermarks(const lp_kafka_consumer *c, int topic_idx, int32_t partition, int64_t *low,
                                 int64_t *high);

/* Records delivered since start. Loop thread. */
uint64_t lp_kafka_consumer_delivered(const lp_kafka_consumer *c);

/* Begins closing without blocking: leaves the group (on_revoke fires for the owned partitions, on the
 * loop), stops delivering records, closes the uv handles, destroys the handle and calls done(ud). Leaving
 * takes up to about session.timeout.ms when the coordinator does not answer; the loop keeps running
 * meanwhile. rd_kafka_destroy at the end blocks for the join of librdkafka's threads (a few ms). c is freed
 * before done. Loop thread. */
void lp_kafka_consumer_close(lp_kafka_consumer *c, void (*done)(void *ud), void *ud);

/* ---------------------------------------------------------------------------------------------- shared */

/* The index of topic in conf's topic list (defaults applied), or -1. Any thread. */
int lp_kafka_topic_index(const lp_kafka_conf *conf, const char *topic);

#endif /* LP_KAFKA_H */
