/*
 * stream_int.h: what stream.c (lifecycle, status, lag, backpressure) and stream_consume.c (records: decode,
 * apply, dead letters, repartitioning, applied offsets) share. Reactor thread only.
 */
#ifndef LP_SERVER_STREAM_INT_H
#define LP_SERVER_STREAM_INT_H

#include "kafka/kafka.h"
#include "server/server_int.h"

#define LP_STREAM_TOPICS 2          /* 0 miner.snippets, 1 outcome.events: the consumer's topic_idx */
#define LP_STREAM_RETRY_MS 200      /* a produce that could not be queued (or failed) is tried again after */
/* /readyz: ready once the owned partitions are at most this many records behind (the default of the
 * kafka.ready_max_lag key asked of the config owner; a constant until then). */
/* First chunk of the zone msgpack values are unpacked into: a snippet's objects fit, so the steady state
 * allocates nothing per record (msgpack_unpack_next would make and free a zone for each). */
#define LP_STREAM_ZONE_CHUNK 8192

typedef struct lp_stream_rec lp_stream_rec;

/* What happens to a consumed record. */
enum { LP_REC_APPLY = 0, LP_REC_DLQ, LP_REC_REPARTITION };

/* A consumed record until it is finished (applied, dead-lettered or re-produced), in its partition's FIFO.
 * Holds a copy of the record (key, value, headers) for the dead letter or the re-produce. */
struct lp_stream_rec {
  lp_stream_rec *next;             /* partition FIFO, in offset order */
  lp_stream_rec *retry_next;
  struct lp_stream *st;
  lp_kafka_record rec;             /* points into this block (topic: the static topic name) */
  int action;
  uint8_t done;
  uint8_t no_value;                /* the dead letter goes without the value (over the size limit) */
  int32_t target;                  /* LP_REC_REPARTITION: the right partition */
  const char *code;                /* LP_REC_DLQ: the reason (static) */
  char message[160];
  size_t ticket_len;               /* leadpoet-ticket header, 0 when absent */
  char ticket[64];
  size_t canon_len;
  char canon[LP_DOMAIN_BUF];       /* LP_REC_REPARTITION: the key written */
};

/* Per (topic, partition): records in flight, and the backpressure pause. */
typedef struct lp_stream_part {
  lp_stream_rec *head, *tail;
  int64_t next_offset;             /* offset after the last record taken, -1 before any */
  uint8_t bp_paused;               /* refused a record for backpressure: resumed by the pressure timer */
} lp_stream_part;

typedef struct lp_stream {
  lp_server *srv;
  const char *mode;                /* "embedded" or "external" */
  char *bootstrap;
  lp_kafka_mock *mock;
  lp_kafka_producer *prod;
  lp_kafka_consumer *cons;
  lp_applier ap[LP_STREAM_TOPICS];
  uv_check_t flush;                /* sends partly filled batches after each loop turn's records */
  uv_timer_t retry;
  int open_handles;
  lp_stream_rec *retry_head, *retry_tail;
  lp_stream_part *parts;           /* LP_STREAM_TOPICS * shards */
  uint32_t shards;
  size_t in_flight;                /* records taken and not finished */
  char instance[40];               /* this process's ticket prefix */
  msgpack_zone zone;               /* msgpack values are unpacked here, cleared after each record */
  int zone_ready;
  char *props_buf;                 /* kafka.properties split in place */
  const char **props;
  size_t nprops;
  int64_t last_lag_ms;
  lp_metric_family *m_lag_family;
  lp_metric **m_lag;               /* per (topic, partition), made when first owned */
  lp_metric *m_repartitioned[LP_STREAM_TOPICS];
  lp_metric *m_dlq[LP_STREAM_TOPICS];
  lp_metric *m_paused;
  lp_metric *m_pauses;             /* partitions paused for backpressure, since start */
  int stopping;
  void (*stop_done)(void *arg);
  void *stop_arg;
} lp_stream;

static inline lp_stream_part *lp__stream_part(lp_stream *st, int topic_idx, int32_t partition) {
  return &st->parts[(size_t)topic_idx * st->shards + (uint32_t)partition];
}

/* /readyz's Kafka part: 1 when there is no consumer, or it has its assignment and every owned partition's
 * high watermark is known and the sum of their lags is <= kafka.ready_max_lag; else 0 with the reason
 * in why (NUL-terminated). Reactor thread. */
int lp__stream_ready(const lp_server *srv, char *why, size_t cap);

/* stream_consume.c */
int lp__stream_on_record(void *ud, const lp_kafka_record *rec);
/* An applied item back from its worker (the appliers' done callback; tag = the lp_stream_rec). */
void lp__stream_item_done(void *ctx, uintptr_t tag, const void *item, const char *code);
/* Tries every produce waiting in the retry list again. */
void lp__stream_retry(lp_stream *st);
/* stream.c: called when the last record in flight finished while stopping. */
void lp__stream_drained(lp_stream *st);

#endif
