/*
 * consumer_int.h: the consumer's state, shared by consumer.c (lifecycle, delivery) and partitions.c
 * (rebalance, applied offsets, pause and resume). Loop thread only.
 */
#ifndef LP_KAFKA_CONSUMER_INT_H
#define LP_KAFKA_CONSUMER_INT_H

#include "kafka/kafka_int.h"

/* One (topic, partition) of the consumer. */
typedef struct lp__kafka_part {
  int64_t applied;               /* last applied offset, LP_KAFKA_OFFSET_NONE */
  rd_kafka_message_t *held;      /* a record the handler refused (LP_EAGAIN), handed again on resume */
  uint8_t owned;
  uint8_t paused;                /* asked by the application (kept across revoke and assign) */
} lp__kafka_part;

struct lp_kafka_consumer {
  uv_loop_t *loop;
  rd_kafka_t *rk;
  rd_kafka_queue_t *q;           /* the consumer queue (main queue forwarded to it) */
  rd_kafka_queue_t *closeq;      /* where rd_kafka_consumer_close_queue sends its events */
  uv_poll_t poll;
  uv_timer_t timer;              /* watchdog against a lost wake-up */
  uv_idle_t idle;                /* continues a drain that stopped at the batch bound */
  int fds[2];
  int open_handles;
  lp_kafka_handlers h;
  char *topics[LP_KAFKA_MAX_TOPICS];
  int ntopics;
  int shards;
  int batch;
  int metadata_ms;
  lp__kafka_part *parts;         /* ntopics * shards */
  size_t nheld;
  lp_kafka_header *hdrs;         /* scratch for a record's headers */
  size_t hdr_cap;
  lp_kafka_partition *plist;     /* scratch for a rebalance */
  size_t plist_cap;
  int assign_all;                /* lp_kafka_conf.assign_all: manual assignment of everything, no group */
  int assigned;                  /* an assignment arrived (even an empty one): the group answered */
  int started;
  int closing;
  int in_callback;
  void (*done)(void *ud);
  void *done_ud;
  uint64_t delivered;
};

/* The slot of topic_idx/partition, or NULL when out of range. */
lp__kafka_part *lp__kafka_part_of(const lp_kafka_consumer *c, int topic_idx, int32_t partition);
/* The index of a topic name in the consumer's list, or -1. */
int lp__kafka_consumer_topic(const lp_kafka_consumer *c, const char *topic);
/* Handles an assign or revoke (from the rebalance callback or a rebalance event while closing). */
void lp__kafka_rebalance(lp_kafka_consumer *c, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts);
/* Assigns every partition of every topic (lp_kafka_conf.assign_all), through on_assign. Returns 0 or LP_EIO. */
int lp__kafka_assign_all(lp_kafka_consumer *c);
/* The rd_kafka_conf_set_rebalance_cb callback; opaque is the consumer. */
void lp__kafka_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                            void *opaque);
/* Pauses (pause = 1) or resumes one partition in librdkafka. Returns 0 or LP_EIO. */
int lp__kafka_pause1(lp_kafka_consumer *c, int topic_idx, int32_t partition, int pause);
/* Delivers one librdkafka message to the handler (or holds it). */
void lp__kafka_deliver(lp_kafka_consumer *c, rd_kafka_message_t *m);
/* Hands the held records of resumed partitions to the handler again. */
void lp__kafka_deliver_held(lp_kafka_consumer *c);
/* Wakes the drain on the next loop iteration. */
void lp__kafka_consumer_kick(lp_kafka_consumer *c);

#endif
