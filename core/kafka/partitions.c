/*
 * partitions.c: the consumer's per-partition state: assignment through the rebalance protocol (eager or
 * cooperative), start offsets, applied offsets, pause and resume for backpressure.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "kafka/consumer_int.h"

lp__kafka_part *lp__kafka_part_of(const lp_kafka_consumer *c, int topic_idx, int32_t partition) {
  if (topic_idx < 0 || topic_idx >= c->ntopics || partition < 0 || partition >= c->shards) return NULL;
  return &c->parts[(size_t)topic_idx * (size_t)c->shards + (size_t)partition];
}

int lp__kafka_consumer_topic(const lp_kafka_consumer *c, const char *topic) {
  for (int i = 0; i < c->ntopics; i++)
    if (strcmp(c->topics[i], topic) == 0) return i;
  return -1;
}

/* Drops a held record (its partition is going away: the new owner reads it from its start offset). */
static void release_held(lp_kafka_consumer *c, lp__kafka_part *s) {
  if (!s->held) return;
  rd_kafka_message_destroy(s->held);
  s->held = NULL;
  c->nheld--;
}

/* Fills c->plist from a librdkafka list; entries outside our topics or shards are logged and left out (the
 * start check makes that impossible unless a topic is altered while we run). Returns the count or -1. */
static int fill_plist(lp_kafka_consumer *c, const rd_kafka_topic_partition_list_t *parts) {
  if ((size_t)parts->cnt > c->plist_cap) {
    lp_kafka_partition *n = lp_realloc(c->plist, sizeof(*n) * (size_t)parts->cnt);
    if (!n) return -1;
    c->plist = n;
    c->plist_cap = (size_t)parts->cnt;
  }
  int k = 0;
  for (int i = 0; i < parts->cnt; i++) {
    const rd_kafka_topic_partition_t *tp = &parts->elems[i];
    int t = lp__kafka_consumer_topic(c, tp->topic);
    if (!lp__kafka_part_of(c, t, tp->partition)) {
      lp_log_error("kafka partition outside the shards, ignored", "topic=%s partition=%d shards=%d", tp->topic,
                   (int)tp->partition, c->shards);
      continue;
    }
    c->plist[k++] = (lp_kafka_partition){ c->topics[t], t, tp->partition, LP_KAFKA_OFFSET_BEGINNING };
  }
  return k;
}

static void log_rk_error(const char *what, rd_kafka_error_t *e) {
  if (!e) return;
  lp_log_error(what, "reason=\"%s\"", rd_kafka_error_string(e));
  rd_kafka_error_destroy(e);
}

static void on_assign(lp_kafka_consumer *c, rd_kafka_topic_partition_list_t *parts, int coop) {
  c->assigned = 1;
  int n = fill_plist(c, parts);
  if (n < 0) {
    lp_log_error("kafka assignment: out of memory", "partitions=%d", parts->cnt);
    n = 0;
  }
  for (int i = 0; i < n; i++) {
    lp__kafka_part *s = lp__kafka_part_of(c, c->plist[i].topic_idx, c->plist[i].partition);
    if (s->applied != LP_KAFKA_OFFSET_NONE) c->plist[i].offset = s->applied + 1;
  }
  if (c->h.on_assign && n > 0) {
    c->in_callback = 1;
    c->h.on_assign(c->h.ud, c->plist, (size_t)n);
    c->in_callback = 0;
  }
  /* The start offsets travel in the list handed to assign. */
  for (int i = 0; i < n; i++) {
    rd_kafka_topic_partition_t *tp =
        rd_kafka_topic_partition_list_find(parts, c->plist[i].topic, c->plist[i].partition);
    if (tp) tp->offset = c->plist[i].offset;
    lp__kafka_part_of(c, c->plist[i].topic_idx, c->plist[i].partition)->owned = 1;
  }
  if (coop) {
    log_rk_error("kafka incremental assign failed", rd_kafka_incremental_assign(c->rk, parts));
  } else {
    rd_kafka_resp_err_t err = rd_kafka_assign(c->rk, parts);
    if (err) lp_log_error("kafka assign failed", "reason=\"%s\"", rd_kafka_err2str(err));
  }
  int owned = 0;
  for (int i = 0; i < n; i++) {
    lp__kafka_part *s = lp__kafka_part_of(c, c->plist[i].topic_idx, c->plist[i].partition);
    if (s->paused) lp__kafka_pause1(c, c->plist[i].topic_idx, c->plist[i].partition, 1);
  }
  for (int t = 0; t < c->ntopics; t++)
    for (int p = 0; p < c->shards; p++) owned += lp__kafka_part_of(c, t, p)->owned;
  lp_log_info("kafka partitions assigned", "added=%d owned=%d protocol=%s", n, owned, coop ? "cooperative" : "eager");
}

static void on_revoke(lp_kafka_consumer *c, rd_kafka_topic_partition_list_t *parts, int coop) {
  int lost = rd_kafka_assignment_lost(c->rk);
  int n = fill_plist(c, parts);
  if (n < 0) n = 0;
  for (int i = 0; i < n; i++) {
    lp__kafka_part *s = lp__kafka_part_of(c, c->plist[i].topic_idx, c->plist[i].partition);
    release_held(c, s);
    s->owned = 0;
    c->plist[i].offset = s->applied == LP_KAFKA_OFFSET_NONE ? LP_KAFKA_OFFSET_NONE : s->applied + 1;
  }
  if (c->h.on_revoke && n > 0) {
    c->in_callback = 1;
    c->h.on_revoke(c->h.ud, c->plist, (size_t)n, lost);
    c->in_callback = 0;
  }
  /* The state of these shards leaves with them: a later assignment starts from the checkpoint's offsets. */
  for (int i = 0; i < n; i++) lp__kafka_part_of(c, c->plist[i].topic_idx, c->plist[i].partition)->applied =
      LP_KAFKA_OFFSET_NONE;
  if (coop) {
    log_rk_error("kafka incremental unassign failed", rd_kafka_incremental_unassign(c->rk, parts));
  } else {
    rd_kafka_assign(c->rk, NULL);
  }
  lp_log_info("kafka partitions revoked", "removed=%d lost=%d protocol=%s", n, lost, coop ? "cooperative" : "eager");
}

int lp__kafka_assign_all(lp_kafka_consumer *c) {
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(c->ntopics * c->shards);
  if (!l) return LP_EIO;
  for (int t = 0; t < c->ntopics; t++)
    for (int p = 0; p < c->shards; p++) rd_kafka_topic_partition_list_add(l, c->topics[t], p);
  on_assign(c, l, 0);
  int owned = 0;
  for (int t = 0; t < c->ntopics; t++)
    for (int p = 0; p < c->shards; p++) owned += lp__kafka_part_of(c, t, p)->owned;
  rd_kafka_topic_partition_list_destroy(l);
  return owned == c->ntopics * c->shards ? 0 : LP_EIO;
}

void lp__kafka_rebalance(lp_kafka_consumer *c, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts) {
  int coop = strcmp(rd_kafka_rebalance_protocol(c->rk), "COOPERATIVE") == 0;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    on_assign(c, parts, coop);
  } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    on_revoke(c, parts, coop);
  } else {
    lp_log_error("kafka rebalance failed", "reason=\"%s\"", rd_kafka_err2str(err));
    rd_kafka_assign(c->rk, NULL);
  }
}

void lp__kafka_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                            void *opaque) {
  (void)rk;
  lp__kafka_rebalance(opaque, err, parts);
}

int lp__kafka_pause1(lp_kafka_consumer *c, int topic_idx, int32_t partition, int pause) {
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(l, c->topics[topic_idx], partition);
  rd_kafka_resp_err_t err = pause ? rd_kafka_pause_partitions(c->rk, l) : rd_kafka_resume_partitions(c->rk, l);
  if (!err && l->elems[0].err) err = l->elems[0].err;
  rd_kafka_topic_partition_list_destroy(l);
  if (err) {
    lp_log_error(pause ? "kafka pause failed" : "kafka resume failed", "topic=%s partition=%d reason=\"%s\"",
                 c->topics[topic_idx], (int)partition, rd_kafka_err2str(err));
    return LP_EIO;
  }
  return 0;
}

int lp_kafka_consumer_pause(lp_kafka_consumer *c, int topic_idx, int32_t partition) {
  lp__kafka_part *s = lp__kafka_part_of(c, topic_idx, partition);
  if (!s) return LP_ERANGE;
  if (s->paused) return 0;
  s->paused = 1;
  return s->owned ? lp__kafka_pause1(c, topic_idx, partition, 1) : 0;
}

int lp_kafka_consumer_resume(lp_kafka_consumer *c, int topic_idx, int32_t partition) {
  lp__kafka_part *s = lp__kafka_part_of(c, topic_idx, partition);
  if (!s) return LP_ERANGE;
  if (!s->paused) return 0;
  s->paused = 0;
  if (!s->owned) return 0;
  if (s->held) {
    /* The held record goes first, from the loop; librdkafka resumes once it is taken. */
    lp__kafka_consumer_kick(c);
    return 0;
  }
  return lp__kafka_pause1(c, topic_idx, partition, 0);
}

int lp_kafka_consumer_paused(const lp_kafka_consumer *c, int topic_idx, int32_t partition) {
  const lp__kafka_part *s = lp__kafka_part_of(c, topic_idx, partition);
  return s ? s->paused : 0;
}

void lp__kafka_deliver_held(lp_kafka_consumer *c) {
  for (int t = 0; t < c->ntopics && c->nheld > 0; t++) {
    for (int p = 0; p < c->shards && c->nheld > 0; p++) {
      lp__kafka_part *s = lp__kafka_part_of(c, t, p);
      if (!s->held || s->paused) continue;
      rd_kafka_message_t *m = s->held;
      s->held = NULL;
      c->nheld--;
      lp__kafka_deliver(c, m);   /* may hold it again and pause */
      if (!s->held && !s->paused && s->owned) lp__kafka_pause1(c, t, p, 0);
    }
  }
}

int lp_kafka_consumer_mark_applied(lp_kafka_consumer *c, int topic_idx, int32_t partition, int64_t offset) {
  lp__kafka_part *s = lp__kafka_part_of(c, topic_idx, partition);
  if (!s || offset < 0) return LP_ERANGE;
  if (s->applied == LP_KAFKA_OFFSET_NONE || offset > s->applied) s->applied = offset;
  return 0;
}

int lp_kafka_consumer_seek(lp_kafka_consumer *c, int topic_idx, int32_t partition, int64_t offset) {
  lp__kafka_part *s = lp__kafka_part_of(c, topic_idx, partition);
  if (!s || offset < 0) return LP_ERANGE;
  if (!s->owned || c->closing) return LP_ESTATE;
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(l, c->topics[topic_idx], partition)->offset = offset;
  rd_kafka_error_t *e = rd_kafka_seek_partitions(c->rk, l, 0);
  /* Without a wait the partition reports __IN_PROGRESS: the seek is queued to the fetcher. */
  rd_kafka_resp_err_t err = l->elems[0].err == RD_KAFKA_RESP_ERR__IN_PROGRESS ? RD_KAFKA_RESP_ERR_NO_ERROR : l->elems[0].err;
  rd_kafka_topic_partition_list_destroy(l);
  if (e || err) {
    lp_log_error("kafka seek failed", "topic=%s partition=%d offset=%lld reason=\"%s\"", c->topics[topic_idx],
                 (int)partition, (long long)offset, e ? rd_kafka_error_string(e) : rd_kafka_err2str(err));
    if (e) rd_kafka_error_destroy(e);
    return LP_EIO;
  }
  if (s->held) {
    release_held(c, s);
    /* A resume that waited for the held record to go first left librdkafka paused: resume it now. */
    if (!s->paused) return lp__kafka_pause1(c, topic_idx, partition, 0);
  }
  return 0;
}

int64_t lp_kafka_consumer_applied(const lp_kafka_consumer *c, int topic_idx, int32_t partition) {
  const lp__kafka_part *s = lp__kafka_part_of(c, topic_idx, partition);
  return s ? s->applied : LP_KAFKA_OFFSET_NONE;
}

int lp_kafka_consumer_owns(const lp_kafka_consumer *c, int topic_idx, int32_t partition) {
  const lp__kafka_part *s = lp__kafka_part_of(c, topic_idx, partition);
  return s ? s->owned : 0;
}

int lp_kafka_consumer_watermarks(const lp_kafka_consumer *c, int topic_idx, int32_t partition, int64_t *low,
                                 int64_t *high) {
  if (!lp__kafka_part_of(c, topic_idx, partition)) return LP_ERANGE;
  int64_t lo = RD_KAFKA_OFFSET_INVALID, hi = RD_KAFKA_OFFSET_INVALID;
  rd_kafka_resp_err_t err = rd_kafka_get_watermark_offsets(c->rk, c->topics[topic_idx], partition, &lo, &hi);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR || hi < 0) return LP_ENOENT;
  *low = lo < 0 ? 0 : lo;
  *high = hi;
  return 0;
}
