/*
 * write.c: lp_ckpt_write: builds the new meta of every part, sends one script call for the whole checkpoint
 * (single Redis) or one per part (cluster mode), and advances the remembered chains of what was written.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "checkpoint/checkpoint_int.h"
#include "checkpoint/store_int.h"
#include "lp_version.h"
#include "metrics/metrics.h"

typedef struct wpart {
  int32_t partition;
  char meta_key[160], blob_key[160], epoch[24], expected[24], seq[24], sum[17];
  lp_buf rec, keys;
  lp_ckpt_meta meta;       /* the meta after this write */
  uint64_t delta_bytes;
} wpart;

typedef struct wcall {
  struct wreq *rq;
  size_t first, count;
} wcall;

typedef struct wreq {
  lp_ckpt_store *st;
  lp_ckpt_write_cb cb;
  void *ud;
  uint64_t t0;
  size_t n, pending;
  wpart *parts;
  wcall *calls;
  lp_ckpt_result res;
} wreq;

static void wreq_free(wreq *rq) {
  for (size_t i = 0; i < rq->n; i++) {
    lp_buf_free(&rq->parts[i].rec);
    lp_buf_free(&rq->parts[i].keys);
  }
  lp_free(rq->parts);
  lp_free(rq->calls);
  lp_free(rq);
}

static void write_done(wreq *rq) {
  lp_ckpt_store *st = rq->st;
  rq->res.seconds = (double)(lp_mono_ns() - rq->t0) / 1e9;
  st->busy = 0;
  st->stats.writes++;
  st->stats.last_seconds = rq->res.seconds;
  st->stats.bytes += rq->res.bytes;
  lp_histogram_observe(st->m_duration, rq->res.seconds);
  lp_counter_add(st->m_bytes, rq->res.bytes);
  if (rq->res.err == LP_OK) {
    st->stats.last_success_ms = lp_now_ms();
    st->stats.last_id = rq->res.id;
    lp_gauge_set(st->m_last, (double)st->stats.last_success_ms / 1000.0);
  } else {
    st->stats.failures++;
    lp_counter_add(st->m_failures, 1);
    lp_log_warn("checkpoint failed", "id=%" PRIu64 " partitions_failed=%zu reason=\"%s\"", rq->res.id, rq->res.failed,
                rq->res.errmsg);
  }
  rq->cb(rq->ud, &rq->res);
  wreq_free(rq);
}

/* One script call answered: advance the chains it wrote, or mark what it did not write. */
static void on_write(void *ud, int err, const redisReply *reply, const char *errmsg) {
  wcall *c = ud;
  wreq *rq = c->rq;
  lp_ckpt_store *st = rq->st;
  int ok = err == LP_OK && reply != NULL && reply->type == REDIS_REPLY_INTEGER && reply->integer == (long long)c->count;
  int32_t refused = -2;
  int code = err;
  char msg[256] = "";
  if (!ok && reply != NULL && err != LP_OK) refused = lp__ckpt_refusal(st, errmsg, &code, msg, sizeof(msg));
  else if (!ok && reply != NULL) code = LP_EIO, snprintf(msg, sizeof(msg), "redis: unexpected reply to the write");
  else if (!ok) snprintf(msg, sizeof(msg), "redis: %s (the outcome of this write is unknown)", errmsg);
  for (size_t i = c->first; i < c->first + c->count; i++) {
    wpart *w = &rq->parts[i];
    lp__ckpt_part *p = lp__ckpt_part_get(st, w->partition, 0);
    if (p == NULL) continue;
    if (ok) {
      p->meta = w->meta;
      p->delta_bytes = w->delta_bytes;
      p->needs_full = 0;
      p->known = 1;
    } else if (w->partition == refused) {
      p->known = 0;  /* another owner or writer moved it: restore before writing again */
    } else {
      p->needs_full = 1;
    }
  }
  if (!ok) {
    rq->res.failed += c->count;
    if (rq->res.err == LP_OK) {
      rq->res.err = code != LP_OK ? code : LP_EIO;
      snprintf(rq->res.errmsg, sizeof(rq->res.errmsg), "%s", msg);
    }
  }
  if (--rq->pending == 0) write_done(rq);
}

/* Checks one part and fills its new meta, keys and strings. */
static int prepare(lp_ckpt_store *st, const lp_ckpt_part *in, uint64_t id, int64_t epoch, wpart *w, char *errstr,
                   size_t errsz) {
  char tag[80];
  if (lp__ckpt_tag_of(st, in->partition, tag, sizeof(tag)) != LP_OK) {
    snprintf(errstr, errsz, "checkpoint: partition %" PRId32 " out of 0..%d", in->partition, LP_CKPT_MAX_PARTITION);
    return LP_ERANGE;
  }
  lp__ckpt_part *p = lp__ckpt_part_get(st, in->partition, 0);
  if (p == NULL || !p->known) {
    snprintf(errstr, errsz, "checkpoint: partition %s was not restored by this store: restore it before writing", tag);
    return LP_ESTATE;
  }
  if (epoch == 0) epoch = p->epoch;
  if (epoch < 1) {
    snprintf(errstr, errsz, "checkpoint: partition %s was restored without a claim: restore it with one (or give "
             "an epoch) before writing", tag);
    return LP_ESTATE;
  }
  if (in->kind != LP_CKPT_FULL &&
      (in->kind != LP_CKPT_DELTA || lp_ckpt_next_kind(st, in->partition) != LP_CKPT_DELTA)) {
    snprintf(errstr, errsz, "checkpoint: partition %s needs a full snapshot now, not a delta", tag);
    return LP_EINVAL;
  }
  if (in->noffsets > LP_CKPT_MAX_TOPICS || (in->len > 0 && in->data == NULL)) {
    snprintf(errstr, errsz, "checkpoint: partition %s: more than %d offsets or no data", tag, LP_CKPT_MAX_TOPICS);
    return LP_EINVAL;
  }
  w->partition = in->partition;
  lp_ckpt_meta *m = &w->meta;
  *m = p->meta;
  m->partition = in->partition;
  m->schema = st->schema->current;
  snprintf(m->writer, sizeof(m->writer), "%s (%s)", LP_VERSION, LP_GIT_REV);
  m->seq = id;
  m->epoch = epoch;
  m->ts_ms = lp_now_ms();
  for (size_t i = 0; i < in->noffsets; i++) {  /* merged: a topic not given keeps its offset */
    size_t j = 0;
    while (j < m->noffsets && strcmp(m->offsets[j].topic, in->offsets[i].topic) != 0) j++;
    if (j == m->noffsets) {
      if (m->noffsets == LP_CKPT_MAX_TOPICS || in->offsets[i].topic[0] == '\0') {
        snprintf(errstr, errsz, "checkpoint: partition %s: more than %d topics or an empty topic", tag,
                 LP_CKPT_MAX_TOPICS);
        return LP_EINVAL;
      }
      m->noffsets++;
    }
    m->offsets[j] = in->offsets[i];
  }
  lp_ckpt_link l = { in->kind, id, in->len, XXH3_64bits(in->data, in->len) };
  if (in->kind == LP_CKPT_FULL) {
    m->nchain = 0;
    w->delta_bytes = 0;
    snprintf(w->expected, sizeof(w->expected), "*");
  } else {
    w->delta_bytes = p->delta_bytes + in->len;
    snprintf(w->expected, sizeof(w->expected), "%" PRIu64, p->meta.seq);
  }
  m->chain[m->nchain++] = l;
  snprintf(w->seq, sizeof(w->seq), "%" PRIu64, id);
  snprintf(w->epoch, sizeof(w->epoch), "%" PRId64, epoch);
  lp_ckpt_key_meta(tag, w->meta_key, sizeof(w->meta_key));
  lp_ckpt_key_blob(tag, in->kind, id, w->blob_key, sizeof(w->blob_key));
  if (lp__ckpt_encode_rec(m, &w->rec) != LP_OK || lp__ckpt_chain_keys(tag, m, &w->keys) != LP_OK) return LP_ENOMEM;
  lp__ckpt_hex(XXH3_64bits(w->rec.data, w->rec.len), w->sum);
  return LP_OK;
}

/* Sends parts [first, first + count) as one script call. */
static int send_call(wreq *rq, const lp_ckpt_part *in, wcall *c) {
  size_t argc = 4 + 10 * c->count;
  const char **argv = lp_calloc(argc, sizeof(*argv));
  size_t *lens = lp_calloc(argc, sizeof(*lens));
  if (argv == NULL || lens == NULL) {
    lp_free(argv);
    lp_free(lens);
    return LP_ENOMEM;
  }
  char nkeys[24], nparts[24];
  snprintf(nkeys, sizeof(nkeys), "%zu", 2 * c->count);
  snprintf(nparts, sizeof(nparts), "%zu", c->count);
  size_t k = 0;
#define ARG(p, n) (argv[k] = (p), lens[k++] = (n))
#define ARGS(s) ARG((s), strlen(s))
  ARGS("EVAL");
  ARGS(lp__ckpt_lua_write);
  ARGS(nkeys);
  for (size_t i = c->first; i < c->first + c->count; i++) {
    ARGS(rq->parts[i].meta_key);
    ARGS(rq->parts[i].blob_key);
  }
  ARGS(nparts);
  for (size_t i = c->first; i < c->first + c->count; i++) {
    wpart *w = &rq->parts[i];
    ARGS(w->epoch);
    ARGS(w->expected);
    ARGS(w->seq);
    ARGS(w->meta.chain[w->meta.nchain - 1].kind == LP_CKPT_FULL ? "full" : "delta");
    ARG(in[i].len > 0 ? (const char *)in[i].data : "", in[i].len);
    ARG(w->rec.data, w->rec.len);
    ARGS(w->sum);
    ARG(w->keys.data, w->keys.len);
    rq->res.bytes += in[i].len + w->rec.len;
  }
#undef ARG
#undef ARGS
  int rc = lp_redis_command(rq->st->redis, (int)argc, argv, lens, on_write, c);
  lp_free(argv);
  lp_free(lens);
  return rc;
}

int lp_ckpt_write(lp_ckpt_store *st, const lp_ckpt_part *parts, size_t n, int64_t epoch, lp_ckpt_write_cb cb,
                  void *ud, char *errstr, size_t errsz) {
  if (n == 0 || epoch < 0 || epoch >= (1ll << 53)) {
    snprintf(errstr, errsz, "checkpoint: nothing to write, or an epoch outside 0..2^53");
    return LP_EINVAL;
  }
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < i; j++)
      if (parts[i].partition == parts[j].partition) {
        snprintf(errstr, errsz, "checkpoint: partition %" PRId32 " given twice", parts[i].partition);
        return LP_EINVAL;
      }
  if (st->busy || !lp_redis_ready(st->redis)) {
    snprintf(errstr, errsz, st->busy ? "checkpoint: another one is in flight" : "checkpoint: redis is not connected");
    return LP_EAGAIN;
  }
  wreq *rq = lp_calloc(1, sizeof(*rq));
  if (rq == NULL) return LP_ENOMEM;
  rq->parts = lp_calloc(n, sizeof(*rq->parts));
  rq->calls = lp_calloc(st->cluster ? n : 1, sizeof(*rq->calls));
  rq->n = n;
  if (rq->parts == NULL || rq->calls == NULL) {
    wreq_free(rq);
    return LP_ENOMEM;
  }
  rq->st = st;
  rq->cb = cb;
  rq->ud = ud;
  rq->t0 = lp_mono_ns();
  rq->res.id = st->next_id;
  for (size_t i = 0; i < n; i++) {
    int rc = prepare(st, &parts[i], rq->res.id, epoch, &rq->parts[i], errstr, errsz);
    if (rc != LP_OK) {
      wreq_free(rq);
      return rc;
    }
  }
  st->next_id++;
  size_t ncalls = st->cluster ? n : 1;
  for (size_t i = 0; i < ncalls; i++) {
    wcall *c = &rq->calls[i];
    c->rq = rq;
    c->first = st->cluster ? i : 0;
    c->count = st->cluster ? 1 : n;
    int rc = send_call(rq, parts, c);
    if (rc != LP_OK && i == 0) {
      snprintf(errstr, errsz, "checkpoint: redis is not connected");
      wreq_free(rq);
      return rc;
    }
    if (rc != LP_OK) {  /* lost in the middle (cluster mode): the rest counts as failed, outcome known */
      for (size_t j = i; j < ncalls; j++) {
        lp__ckpt_part *p = lp__ckpt_part_get(st, rq->parts[j].partition, 0);
        if (p != NULL) p->needs_full = 1;
      }
      rq->res.failed += ncalls - i;
      rq->res.err = LP_EIO;
      snprintf(rq->res.errmsg, sizeof(rq->res.errmsg), "redis: connection lost during the checkpoint");
      break;
    }
    rq->pending++;
  }
  st->busy = 1;
  return LP_OK;
}

int lp_ckpt_store_metrics(lp_ckpt_store *st, struct lp_metrics *m) {
  static const double buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
  st->m_duration = lp_metrics_histogram(m, "leadpoet_checkpoint_duration_seconds",
                                        "Time from the start of a checkpoint write to Redis's last reply.", buckets,
                                        sizeof(buckets) / sizeof(buckets[0]));
  st->m_last = lp_metrics_gauge(m, "leadpoet_checkpoint_last_success_timestamp_seconds",
                                "Wall-clock time of the last checkpoint that Redis committed.");
  st->m_bytes = lp_metrics_counter(m, "leadpoet_checkpoint_bytes_total",
                                   "Bytes of state and meta records sent to Redis by checkpoints.");
  st->m_failures = lp_metrics_counter(m, "leadpoet_checkpoint_failures_total",
                                      "Checkpoints that did not commit (Redis down, fenced, refused).");
  if (st->m_duration == NULL || st->m_last == NULL || st->m_bytes == NULL || st->m_failures == NULL) return LP_ENOMEM;
  if (st->stats.last_success_ms > 0) lp_gauge_set(st->m_last, (double)st->stats.last_success_ms / 1000.0);
  return LP_OK;
}
