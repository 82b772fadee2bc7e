/*
 * store.c: the checkpoint store on the loop: restore (read, verify, claim) and write (one atomic script per
 * checkpoint, or per partition in cluster mode), with the chain of each partition remembered between
 * writes so that a delta is only ever written on top of the chain it extends (compare-and-set on seq).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "checkpoint/checkpoint_int.h"
#include "checkpoint/store_int.h"
#include "lp_version.h"

/* The remembered state of a partition, index partition + 1 (0 is the global slot). */
lp__ckpt_part *lp__ckpt_part_get(lp_ckpt_store *st, int32_t partition, int create) {
  size_t i = (size_t)(partition + 1);
  if (i >= st->cap_parts) {
    if (!create) return NULL;
    size_t cap = st->cap_parts ? st->cap_parts : 64;
    while (cap <= i) cap *= 2;
    lp__ckpt_part **p = lp_realloc(st->parts, cap * sizeof(*p));
    if (p == NULL) return NULL;
    memset(p + st->cap_parts, 0, (cap - st->cap_parts) * sizeof(*p));
    st->parts = p;
    st->cap_parts = cap;
  }
  if (st->parts[i] == NULL && create) st->parts[i] = lp_calloc(1, sizeof(lp__ckpt_part));
  return st->parts[i];
}

int lp__ckpt_tag_of(const lp_ckpt_store *st, int32_t partition, char *out, size_t cap) {
  return lp_ckpt_tag(partition, st->global_name, out, cap);
}

int lp_ckpt_store_new(const lp_ckpt_opts *opts, lp_ckpt_store **out, char *errstr, size_t errsz) {
  *out = NULL;
  char tag[80];
  if (opts->redis == NULL) {
    snprintf(errstr, errsz, "checkpoint store: no Redis client");
    return LP_EINVAL;
  }
  if (opts->max_deltas > LP_CKPT_MAX_DELTAS) {
    snprintf(errstr, errsz, "checkpoint store: max_deltas %u is over %d", opts->max_deltas, LP_CKPT_MAX_DELTAS);
    return LP_EINVAL;
  }
  if (lp_ckpt_tag(LP_CKPT_GLOBAL, opts->global_name, tag, sizeof(tag)) != LP_OK) {
    snprintf(errstr, errsz, "checkpoint store: global slot name '%s' must be 1..64 characters without braces, "
             "spaces or the form p<N>", opts->global_name);
    return LP_EINVAL;
  }
  const lp_ckpt_schema *sc = opts->schema != NULL ? opts->schema : &lp_ckpt_schema_default;
  if (sc->current == 0 || sc->current >= LP_CKPT_MAX_SCHEMA) {
    snprintf(errstr, errsz, "checkpoint store: schema version %u out of 1..%d", sc->current, LP_CKPT_MAX_SCHEMA - 1);
    return LP_EINVAL;
  }
  lp_ckpt_store *st = lp_calloc(1, sizeof(*st));
  if (st == NULL) return LP_ENOMEM;
  st->redis = opts->redis;
  st->cluster = opts->cluster != 0;
  st->max_deltas = opts->max_deltas ? opts->max_deltas : 16;
  st->max_delta_bytes = opts->max_delta_bytes ? opts->max_delta_bytes : (64ull << 20);
  snprintf(st->global_name, sizeof(st->global_name), "%s", tag);
  st->schema = sc;
  st->next_id = 1;
  *out = st;
  return LP_OK;
}

void lp_ckpt_store_free(lp_ckpt_store *st) {
  if (st == NULL) return;
  for (size_t i = 0; i < st->cap_parts; i++) lp_free(st->parts[i]);
  lp_free(st->parts);
  lp_free(st);
}

int lp_ckpt_next_kind(const lp_ckpt_store *st, int32_t partition) {
  lp__ckpt_part *p = lp__ckpt_part_get((lp_ckpt_store *)st, partition, 0);
  if (partition == LP_CKPT_GLOBAL || p == NULL || !p->known || p->needs_full || p->meta.nchain == 0)
    return LP_CKPT_FULL;
  if (p->meta.nchain - 1 >= st->max_deltas || p->delta_bytes >= st->max_delta_bytes) return LP_CKPT_FULL;
  return LP_CKPT_DELTA;
}

void lp_ckpt_store_stats(const lp_ckpt_store *st, lp_ckpt_stats *out) { *out = st->stats; }

/* Maps a refusal of the scripts to a code and a sentence; returns the partition it names, or -2. */
int32_t lp__ckpt_refusal(const lp_ckpt_store *st, const char *msg, int *err, char *errmsg, size_t errsz) {
  char word[16], key[200], a[32], b[32];
  if (sscanf(msg, "%15s %199s %31s %31s", word, key, a, b) == 4 &&
      (strcmp(word, "FENCED") == 0 || strcmp(word, "CONFLICT") == 0)) {
    *err = LP_ESTATE;
    if (word[0] == 'F')
      snprintf(errmsg, errsz, "%s is fenced: epoch %s claimed it, this writer has %s (the partition moved to "
               "another owner)", key, a, b);
    else
      snprintf(errmsg, errsz, "%s was moved by another writer (seq %s, this store expected %s): restore it "
               "before writing", key, a, b);
    const char *open = strchr(key, '{');
    if (open != NULL && open[1] == 'p') return (int32_t)strtol(open + 2, NULL, 10);
    if (open != NULL) return LP_CKPT_GLOBAL;
    return -2;
  }
  *err = LP_EIO;
  if (strncmp(msg, "MOVED ", 6) == 0 || strncmp(msg, "ASK ", 4) == 0 || strncmp(msg, "CROSSSLOT", 9) == 0)
    snprintf(errmsg, errsz, "redis: %s: the endpoint is a Redis Cluster node that does not serve this slot%s; "
             "leadpoet speaks to one endpoint (put a cluster proxy in front) and must run the store in "
             "cluster mode", msg,
             st->cluster ? "" : " or the checkpoint spans slots");
  else
    snprintf(errmsg, errsz, "redis: %s", msg);
  return -2;
}

/* ---------------------------------------------------------------------------------------------- restore */

typedef struct rcall {
  struct rreq *rq;
  size_t idx;
} rcall;

typedef struct rreq {
  lp_ckpt_store *st;
  lp_ckpt_restore_cb cb;
  void *ud;
  size_t n, pending;
  int err, claimed;
  char errmsg[256];
  lp_ckpt_state *states;
  rcall *calls;
} rreq;

static void restore_done(rreq *rq) {
  lp_ckpt_store *st = rq->st;
  for (size_t i = 0; i < rq->n && rq->err == LP_OK; i++) {
    lp_ckpt_state *s = &rq->states[i];
    lp__ckpt_part *p = lp__ckpt_part_get(st, s->partition, 1);
    if (p == NULL) {
      rq->err = LP_ENOMEM;
      snprintf(rq->errmsg, sizeof(rq->errmsg), "out of memory");
      break;
    }
    memset(p, 0, sizeof(*p));
    p->known = 1;
    p->epoch = rq->claimed ? s->meta.fence : 0;
    p->meta = s->meta;
    if (!s->found) p->meta.nchain = 0, p->meta.seq = 0;
    for (size_t j = 1; j < p->meta.nchain; j++) p->delta_bytes += p->meta.chain[j].size;
    if (p->meta.seq >= st->next_id) st->next_id = p->meta.seq + 1;
  }
  st->busy = 0;
  rq->cb(rq->ud, rq->err, rq->err == LP_OK ? rq->states : NULL, rq->err == LP_OK ? rq->n : 0,
         rq->err == LP_OK ? NULL : rq->errmsg);
  for (size_t i = 0; i < rq->n; i++) lp_ckpt_state_free(&rq->states[i]);
  lp_free(rq->states);
  lp_free(rq->calls);
  lp_free(rq);
}

static void on_read(void *ud, int err, const redisReply *reply, const char *errmsg) {
  rcall *c = ud;
  rreq *rq = c->rq;
  char tag[80], msg[256];
  lp__ckpt_tag_of(rq->st, rq->states[c->idx].partition, tag, sizeof(tag));
  int rc = LP_OK;
  if (err == LP_OK) {
    rc = lp__ckpt_parse_read(reply, rq->states[c->idx].partition, tag, rq->st->schema, &rq->states[c->idx], msg,
                             sizeof(msg));
  } else if (reply != NULL) {
    lp__ckpt_refusal(rq->st, errmsg, &rc, msg, sizeof(msg));
  } else {
    rc = err;
    snprintf(msg, sizeof(msg), "redis: %s", errmsg);
  }
  if (rc != LP_OK && rq->err == LP_OK) {
    rq->err = rc;
    snprintf(rq->errmsg, sizeof(rq->errmsg), "%s", msg);
  }
  if (--rq->pending == 0) restore_done(rq);
}

int lp_ckpt_restore(lp_ckpt_store *st, const int32_t *parts, size_t n, int64_t claim_epoch, lp_ckpt_restore_cb cb,
                    void *ud) {
  char tag[80];
  if (n == 0 || claim_epoch < LP_CKPT_CLAIM_NEXT || claim_epoch >= (1ll << 53)) return LP_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (lp__ckpt_tag_of(st, parts[i], tag, sizeof(tag)) != LP_OK) return LP_ERANGE;
  if (st->busy || !lp_redis_ready(st->redis)) return LP_EAGAIN;
  rreq *rq = lp_calloc(1, sizeof(*rq));
  if (rq != NULL) {
    rq->states = lp_calloc(n, sizeof(*rq->states));
    rq->calls = lp_calloc(n, sizeof(*rq->calls));
  }
  if (rq == NULL || rq->states == NULL || rq->calls == NULL) {
    if (rq != NULL) lp_free(rq->states), lp_free(rq->calls);
    lp_free(rq);
    return LP_ENOMEM;
  }
  rq->st = st;
  rq->cb = cb;
  rq->ud = ud;
  rq->n = n;
  rq->claimed = claim_epoch != 0;
  char epoch[24];
  if (claim_epoch == LP_CKPT_CLAIM_NEXT) snprintf(epoch, sizeof(epoch), "next");
  else snprintf(epoch, sizeof(epoch), "%" PRId64, claim_epoch);
  for (size_t i = 0; i < n; i++) {
    char key[160];
    lp__ckpt_tag_of(st, parts[i], tag, sizeof(tag));
    lp_ckpt_key_meta(tag, key, sizeof(key));
    rq->states[i].partition = parts[i];
    rq->calls[i].rq = rq;
    rq->calls[i].idx = i;
    const char *argv[] = { "EVAL", lp__ckpt_lua_read, "1", key, epoch };
    int rc = lp_redis_command(st->redis, 5, argv, NULL, on_read, &rq->calls[i]);
    if (rc != LP_OK) {
      if (i == 0) {  /* nothing sent: no callback will come */
        lp_free(rq->states);
        lp_free(rq->calls);
        lp_free(rq);
        return rc;
      }
      /* the connection went away in the middle: the calls sent fail too; report this one with them */
      rq->n = i;
      rq->err = LP_EIO;
      snprintf(rq->errmsg, sizeof(rq->errmsg), "redis: connection lost during the restore");
      break;
    }
    rq->pending++;
  }
  st->busy = 1;
  return LP_OK;
}
