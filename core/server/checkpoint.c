/*
 * checkpoint.c: exactly-once state for `leadpoet serve` (issue 7): aligned checkpoints to Redis every
 * checkpoint.interval, restore at start, outages, and the group commit of embedded-mode HTTP ingest.
 * Design and the definition of the cut: docs/adr/0013-checkpoint-wiring.md.
 *
 * The cut. A record has effects in three places: the global stages on the reactor when it is admitted
 * (throttle), its shard on the worker, and the reactor again when the worker reports back (miner counts,
 * outcome credit into reputation, and its offset marked applied once it and every earlier record of its
 * partition are finished). A checkpoint first aligns: the consumer stops taking records (on_record refuses,
 * which pauses the partitions), partly filled batches are sent, and records in flight finish (applied, or
 * their dead letter / re-produced copy acknowledged). When none is in flight, every record taken so far has
 * all of its effects everywhere and its offset marked, and no other record has any: that instant is the
 * cut. There, on the reactor, the global state is serialised and the applied offsets copied, and
 * consumption resumes at once for every shard but those of the cut not serialised yet: the barrier is one
 * message per shard, one at a time on each worker (a query waits behind one shard's serialisation, not a
 * worker's), and until a shard's message is back its partition takes no record (lp__ckpt_part_held), so
 * nothing is applied to it between the cut and its serialisation. A shard whose records wait is serialised
 * next. The reactor then writes the global slot and every partition with its offsets in one atomic script.
 *
 * Threads: everything here runs on the reactor, except the barrier and load messages' run() (workers).
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "kafka/kafka.h"
#include "server/checkpoint_int.h"

#define TOPICS LP_CKPT_TOPICS
#define RESTORE_RETRY_MS 100

static const char *const topic_names[TOPICS] = { LP_KAFKA_TOPIC_SNIPPETS, LP_KAFKA_TOPIC_OUTCOMES };

static void cut(lp_ckpt_wire *cw);

/* ---- small helpers -------------------------------------------------------------------------------- */


/* /readyz's reason: what (static text) and the endpoint, cut to fit. */
static void set_not_ready(lp_server *srv, const char *what, const char *endpoint) {
  snprintf(srv->not_ready_reason, sizeof(srv->not_ready_reason), "%s %.60s", what, endpoint);
}

void lp__ckpt_fail(lp_ckpt_wire *cw, const char *what, const char *detail) {
  lp_log_error(what, "redis=%s err=\"%s\"", cw->endpoint, detail);
  snprintf(cw->last_error, sizeof(cw->last_error), "%s: %s", what, detail);
  if (cw->fatal) return;
  cw->fatal = 1;
  lp__server_fail(cw->srv, what);
}

static uint64_t backlog(const lp_ckpt_wire *cw) { return cw->finished - cw->committed_finished; }

/* ---- restore -------------------------------------------------------------------------------------- */

static void start_interval(lp_ckpt_wire *cw);

/* Every shard is loaded: remember their versions, start Kafka, seek it to the stored offsets. */
static void loaded(lp_ckpt_wire *cw) {
  lp_server *srv = cw->srv;
  cw->phase = PH_IDLE;
  lp_log_info("shards loaded from the checkpoint", "redis=%s seconds=%.3f", cw->endpoint,
              (double)(lp_now_ms() - cw->restore_started_ms) / 1000.0);
  if (srv->shutting_down) return;
  /* Embedded: every partition is this process's from now on. External: a partition is restored when the
   * group assigns it (assign_restore), so that several instances can share the group. */
  for (uint32_t p = 0; p < cw->shards && cw->embedded; p++) cw->pst[p] = P_LIVE;
  int rc = lp__stream_start(srv);
  if (rc != LP_OK) {
    lp__ckpt_fail(cw, "cannot start kafka after the restore", lp_strerror(rc));
    return;
  }
  for (int t = 0; t < TOPICS && !cw->embedded; t++)
    for (uint32_t p = 0; p < cw->shards; p++)
      if (*lp__ckpt_off(cw->committed, cw, t, p) >= 0) lp__stream_seek(srv, t, (int32_t)p, *lp__ckpt_off(cw->committed, cw, t, p));
  cw->restore_seconds = (double)(lp_now_ms() - cw->restore_started_ms) / 1000.0;
  lp_gauge_set(cw->m_restore, cw->restore_seconds);
  cw->last_ckpt_ms = lp_now_ms();
  srv->ready = 1;
  srv->not_ready_reason[0] = '\0';
  lp_log_info("state restored from redis", "redis=%s seconds=%.3f mode=%s", cw->endpoint, cw->restore_seconds,
              cw->embedded ? "embedded (offsets of the old log not sought)" : "external");
  start_interval(cw);
}

static void load_back(void *ud, lp_ckpt_load *l) {
  lp_ckpt_wire *cw = ud;
  for (uint32_t i = 0; i < l->n; i++) {
    cw->committed_version[l->s[i].shard] = l->s[i].version;
    if (l->s[i].err != LP_OK && cw->load_err == LP_OK) {
      cw->load_err = l->s[i].err;
      snprintf(cw->load_errmsg, sizeof(cw->load_errmsg), "%s", l->s[i].errmsg[0] ? l->s[i].errmsg : lp_strerror(l->s[i].err));
    }
  }
  lp__ckpt_load_free(l);
  if (--cw->loads_out > 0) return;
  int assigning = cw->phase == PH_ASSIGNING;
  if (cw->stop_done) {
    cw->phase = PH_IDLE;
    lp__ckpt_close_all(cw);
    return;
  }
  if (cw->load_err != LP_OK) lp__ckpt_fail(cw, "cannot restore a shard from its checkpoint", cw->load_errmsg);
  else if (assigning) lp__ckpt_assigned_loaded(cw);
  else loaded(cw);
}

/* Moves the chains of the shards into one load message per worker and sends them. reset: every partition
 * of states is emptied first, and loaded when it has a checkpoint (an assignment); else only the partitions
 * with a checkpoint are loaded into shards opened empty (the start). */
int lp__ckpt_send_loads(lp_ckpt_wire *cw, lp_ckpt_state *states, size_t n, int reset) {
  lp_ckpt_load **per = lp_calloc(cw->workers, sizeof(*per));
  uint32_t *count = lp_calloc(cw->workers, sizeof(uint32_t));
  int rc = per && count ? LP_OK : LP_ENOMEM;
  for (size_t i = 0; rc == LP_OK && i < n; i++)
    if (states[i].partition >= 0 && (states[i].found || reset)) count[lp_workers_owner((uint32_t)states[i].partition, cw->workers)]++;
  for (uint32_t w = 0; rc == LP_OK && w < cw->workers; w++) {
    if (count[w] == 0) continue;
    if ((per[w] = lp__ckpt_load_new(count[w])) == NULL) rc = LP_ENOMEM;
    else per[w]->n = 0;
  }
  for (size_t i = 0; rc == LP_OK && i < n; i++) {
    lp_ckpt_state *s = &states[i];
    if (s->partition < 0 || !(s->found || reset)) continue;
    lp_ckpt_load *l = per[lp_workers_owner((uint32_t)s->partition, cw->workers)];
    lp_ckpt_shard_in *in = &l->s[l->n++];
    in->shard = (uint32_t)s->partition;
    in->reset = reset;
    in->nblobs = s->found ? s->nblobs : 0;
    for (size_t j = 0; j < in->nblobs; j++) {
      in->blobs[j] = s->blobs[j];
      in->lens[j] = s->lens[j];
      s->blobs[j] = NULL;
    }
  }
  cw->loads_out = 0;
  for (uint32_t w = 0; w < cw->workers; w++) {
    if (per == NULL || per[w] == NULL) continue;
    if (rc != LP_OK) {
      lp__ckpt_load_free(per[w]);
      continue;
    }
    per[w]->ud = cw;
    per[w]->done = load_back;
    cw->loads_out++;
    lp_workers_send(cw->srv->workers, w, &per[w]->msg);
  }
  lp_free(per);
  lp_free(count);
  return rc;
}

/* The stored offsets of a partition read back become its committed (and, external, applied) offsets. */
void lp__ckpt_take_offsets(lp_ckpt_wire *cw, const lp_ckpt_state *s) {
  for (int t = 0; t < TOPICS; t++) {
    *lp__ckpt_off(cw->committed, cw, t, (uint32_t)s->partition) = -1;
    if (!cw->embedded) *lp__ckpt_off(cw->applied, cw, t, (uint32_t)s->partition) = -1;
  }
  for (size_t k = 0; s->found && k < s->meta.noffsets; k++) {
    for (int t = 0; t < TOPICS; t++) {
      if (strcmp(s->meta.offsets[k].topic, topic_names[t]) != 0) continue;
      *lp__ckpt_off(cw->committed, cw, t, (uint32_t)s->partition) = s->meta.offsets[k].offset;
      if (!cw->embedded) *lp__ckpt_off(cw->applied, cw, t, (uint32_t)s->partition) = s->meta.offsets[k].offset;
    }
  }
}

static void on_restored(void *ud, int err, lp_ckpt_state *states, size_t n, const char *errmsg) {
  lp_ckpt_wire *cw = ud;
  cw->request_out = 0;
  if (cw->phase == PH_CLOSING) {
    lp__ckpt_close_all(cw);
    return;
  }
  if (err == LP_EIO) {  /* Redis went away during the read: try again once it is back */
    lp_log_warn("checkpoint restore interrupted; retrying", "redis=%s err=\"%s\"", cw->endpoint, errmsg ? errmsg : "");
    start_interval(cw);
    return;
  }
  if (err != LP_OK) {
    lp__ckpt_fail(cw, err == LP_ESTATE ? "a checkpoint partition is claimed by a newer owner" : "cannot restore the checkpoint",
         errmsg && errmsg[0] ? errmsg : lp_strerror(err));
    return;
  }
  size_t found = 0;
  for (size_t i = 0; i < n; i++) {
    lp_ckpt_state *s = &states[i];
    if (!s->found) continue;
    found++;
    if (s->partition == LP_CKPT_GLOBAL) {
      char why[320] = "";
      int rc = s->nblobs == 1 ? lp__ckpt_global_decode(cw->srv, cw->miners, s->blobs[0], s->lens[0], why, sizeof(why))
                              : LP_EINVAL;
      if (rc != LP_OK) {
        lp__ckpt_fail(cw, "cannot restore the global state from its checkpoint", why[0] ? why : "not one full snapshot");
        return;
      }
      continue;
    }
    lp__ckpt_take_offsets(cw, s);
  }
  if (cw->embedded)  /* a fresh log: its offsets start again; nothing of the old one is sought */
    for (size_t i = 0; i < (size_t)TOPICS * cw->shards; i++) cw->committed[i] = -1;
  lp_log_info("checkpoint read", "redis=%s slots_found=%zu of=%zu", cw->endpoint, found, n);
  cw->phase = PH_LOADING;
  set_not_ready(cw->srv, "restoring: loading the shards from the checkpoint in", cw->endpoint);
  int rc = lp__ckpt_send_loads(cw, states, n, 0);
  if (rc != LP_OK) lp__ckpt_fail(cw, "cannot restore the checkpoint", lp_strerror(rc));
  else if (cw->loads_out == 0) loaded(cw);
}

static void try_restore(lp_ckpt_wire *cw) {
  /* External mode reads the global slot alone: its partitions come with the group's assignment. */
  size_t n = cw->embedded ? cw->shards + 1 : 1;
  int32_t *parts = lp_malloc(n * sizeof(int32_t));
  if (parts == NULL) {
    lp__ckpt_fail(cw, "cannot restore the checkpoint", "out of memory");
    return;
  }
  parts[0] = LP_CKPT_GLOBAL;
  for (uint32_t p = 0; p + 1 < n; p++) parts[p + 1] = (int32_t)p;
  /* The last instance to claim owns the partitions: a zombie's later write is fenced (ADR 0008). */
  int rc = lp_ckpt_restore(cw->store, parts, n, LP_CKPT_CLAIM_NEXT, on_restored, cw);
  lp_free(parts);
  if (rc == LP_OK) {
    cw->request_out = 1;
    uv_timer_stop(&cw->timer);
    set_not_ready(cw->srv, "restoring: reading the checkpoint from", cw->endpoint);
  } else if (rc != LP_EAGAIN) {
    lp__ckpt_fail(cw, "cannot restore the checkpoint", lp_strerror(rc));
  } else {
    const char *why = lp_redis_last_error(cw->redis);
    snprintf(cw->srv->not_ready_reason, sizeof(cw->srv->not_ready_reason),
             "restoring: waiting for redis %.40s%s%.50s", cw->endpoint, why[0] ? ": " : "", why);
  }
}

void lp__ckpt_resume(lp_ckpt_wire *cw) { lp__stream_tick(cw->srv, lp_now_ms()); }

/* ---- the checkpoint: align, cut, barrier, write --------------------------------------------------- */

static void release_barriers(lp_ckpt_wire *cw) {
  for (uint32_t p = 0; cw->sb != NULL && cw->bst != NULL && p < cw->shards; p++) {
    lp__ckpt_barrier_free(cw->sb[p]);
    cw->sb[p] = NULL;
    cw->bst[p] = B_NONE;
  }
  for (uint32_t w = 0; cw->wbusy != NULL && w < cw->workers; w++) cw->wbusy[w] = 0;
  lp_buf_free(&cw->global);
  cw->global = (lp_buf)LP_BUF_INIT;
}

/* Back to idle after a checkpoint (done or not); when stopping, the next step of the stop. */
static void idle(lp_ckpt_wire *cw) {
  release_barriers(cw);
  cw->phase = PH_IDLE;
  if (cw->stop_done) lp__ckpt_close_all(cw);
}

static void answer_held(lp_ckpt_wire *cw, uint64_t upto) {
  while (cw->held_head && cw->held_head->ord < upto) {
    held_ticket *h = cw->held_head;
    cw->held_head = h->next;
    if (cw->held_head == NULL) cw->held_tail = NULL;
    lp__ticket_done(cw->srv, h->ticket, h->len, h->code);
    lp_free(h);
  }
}

static void on_written(void *ud, const lp_ckpt_result *res) {
  lp_ckpt_wire *cw = ud;
  cw->request_out = 0;
  if (res->err == LP_OK) {
    memcpy(cw->committed, cw->cut, (size_t)TOPICS * cw->shards * sizeof(int64_t));
    memcpy(cw->committed_version, cw->cut_version, cw->shards * sizeof(uint64_t));
    cw->committed_finished = cw->cut_finished;
    if (cw->last_success_ms == 0 || cw->last_error[0])
      lp_log_info(cw->last_success_ms == 0 ? "first checkpoint written" : "checkpoints written again",
                  "id=%llu bytes=%llu seconds=%.3f", (unsigned long long)res->id, (unsigned long long)res->bytes, res->seconds);
    cw->last_success_ms = lp_now_ms();
    cw->last_error[0] = '\0';
    answer_held(cw, cw->cut_held);
    lp__ckpt_release_idle(cw);
  } else if (res->err == LP_ESTATE && (strstr(res->errmsg, "FENCED") || strstr(res->errmsg, "CONFLICT"))) {
    /* A revoked partition's last write lost the race with its new owner's claim: the new owner restored
     * the checkpoint before and replays the rest; this instance drops it. Any other fence is fatal. */
    size_t dropped = 0;
    for (uint32_t p = 0; p < cw->shards; p++)
      if (cw->in_cut[p] && cw->pst[p] == P_RELEASING) cw->pst[p] = P_DROP, dropped++;
    if (dropped == 0) lp__ckpt_fail(cw, "checkpoint refused: another instance claimed the partitions", res->errmsg);
    else lp_log_info("revoked partitions already claimed by their new owner: dropped", "partitions=%zu err=\"%s\"",
                     dropped, res->errmsg);
  } else {
    snprintf(cw->last_error, sizeof(cw->last_error), "%s", res->errmsg[0] ? res->errmsg : lp_strerror(res->err));
    lp_log_warn("checkpoint failed; the next one writes full snapshots", "redis=%s err=\"%s\" backlog=%llu",
                cw->endpoint, cw->last_error, (unsigned long long)backlog(cw));
  }
  idle(cw);
}

/* Every worker is back from its barrier: one write of the global slot and every partition that changed. */
static void write_checkpoint(lp_ckpt_wire *cw) {
  size_t maxparts = cw->shards + 1, n = 0;
  lp_ckpt_part *parts = lp_calloc(maxparts, sizeof(lp_ckpt_part));
  lp_ckpt_offset *offs = lp_calloc((size_t)TOPICS * cw->shards, sizeof(lp_ckpt_offset));
  if (parts == NULL || offs == NULL) {
    lp_free(parts);
    lp_free(offs);
    lp_log_error("checkpoint skipped", "err=\"out of memory\"");
    idle(cw);
    return;
  }
  memcpy(cw->cut_version, cw->committed_version, cw->shards * sizeof(uint64_t));
  parts[n++] = (lp_ckpt_part){ LP_CKPT_GLOBAL, LP_CKPT_FULL, cw->global.data, cw->global.len, NULL, 0 };
  for (uint32_t p = 0; p < cw->shards; p++) {
    lp_ckpt_barrier *b = cw->sb[p];
    for (uint32_t i = 0; b != NULL && i < b->n; i++) {
      lp_ckpt_shard_out *o = &b->s[i];
      if (o->err != LP_OK) {
        lp_log_error("checkpoint skipped: a shard cannot be serialised", "shard=%u err=\"%s\"", o->shard,
                     lp_strerror(o->err));
        lp_free(parts);
        lp_free(offs);
        idle(cw);
        return;
      }
      int moved = 0;
      lp_ckpt_offset *po = &offs[(size_t)o->shard * TOPICS];
      size_t no = 0;
      for (int t = 0; t < TOPICS; t++) {
        int64_t c = *lp__ckpt_off(cw->cut, cw, t, o->shard);
        moved |= c != *lp__ckpt_off(cw->committed, cw, t, o->shard);
        if (c < 0) continue;
        snprintf(po[no].topic, sizeof(po[no].topic), "%s", topic_names[t]);
        po[no++].offset = c;
      }
      cw->cut_version[o->shard] = o->version;
      if (o->kind == LP_CKPT_DELTA && !moved) continue;  /* nothing changed: the stored chain is still exact */
      parts[n++] = (lp_ckpt_part){ (int32_t)o->shard, o->kind, o->data.data, o->data.len, po, no };
    }
  }
  char err[256] = "";
  int rc = lp_ckpt_write(cw->store, parts, n, 0, on_written, cw, err, sizeof(err));
  lp_free(parts);
  lp_free(offs);
  if (rc == LP_OK) {
    cw->phase = PH_WRITING;
    cw->request_out = 1;
    return;
  }
  cw->skipped++;
  lp_counter_add(cw->m_skipped, 1);
  if (rc != LP_EAGAIN) lp_log_error("checkpoint not written", "err=\"%s\"", err[0] ? err : lp_strerror(rc));
  idle(cw);
}

/* Sends the next shard of worker w's part of the barrier, unless one of its shards is on the worker
 * already: a shard whose records wait first, else the next in order. */
static void send_next(lp_ckpt_wire *cw, uint32_t w) {
  if (cw->wbusy[w]) return;
  uint32_t pick = cw->shards;
  for (uint32_t s = w; s < cw->shards && pick == cw->shards; s += cw->workers)
    if (cw->bst[s] == B_URGENT) pick = s;
  for (uint32_t s = cw->wnext[w]; s < cw->shards && pick == cw->shards; s += cw->workers)
    if (cw->bst[s] == B_WAIT) cw->wnext[w] = (pick = s) + cw->workers;  /* the ones before are sent */
  if (pick == cw->shards) return;
  cw->bst[pick] = B_RING;
  cw->wbusy[w] = 1;
  lp_workers_send(cw->srv->workers, w, &cw->sb[pick]->msg);
}

/* One shard is serialised: its records may flow again, its worker takes the next; the last one writes. */
static void barrier_back(void *ud, lp_ckpt_barrier *b) {
  lp_ckpt_wire *cw = ud;
  uint32_t w = b->msg.worker;
  cw->bst[b->s[0].shard] = B_NONE;
  cw->wbusy[w] = 0;
  send_next(cw, w);
  lp__ckpt_resume(cw);
  if (--cw->barriers_out == 0) write_checkpoint(cw);
}

int lp__ckpt_barrier_holds(lp_ckpt_wire *cw, uint32_t p) {
  if (cw->bst == NULL || p >= cw->shards || cw->bst[p] == B_NONE) return 0;
  if (cw->bst[p] == B_WAIT) {
    cw->bst[p] = B_URGENT;
    send_next(cw, lp_workers_owner(p, cw->workers));
  }
  return 1;
}

/* The cut (see the top of the file): nothing is in flight. The barrier is one message per shard, sent one
 * at a time per worker (a query waits behind one shard's serialisation, not a worker's), so the cut is kept
 * by holding: a shard not serialised yet takes no record (lp__ckpt_part_held), while the others flow. */
static void cut(lp_ckpt_wire *cw) {
  uv_timer_stop(&cw->align_timer);
  memcpy(cw->cut, cw->applied, (size_t)TOPICS * cw->shards * sizeof(int64_t));
  cw->cut_finished = cw->finished;
  cw->global_dirty = 0;  /* the global blob below holds it */
  cw->cut_held = cw->held_total;
  cw->global = (lp_buf)LP_BUF_INIT;
  int rc = lp__ckpt_global_encode(cw->srv, cw->miners, &cw->global);
  uint32_t n = 0;
  for (uint32_t p = 0; p < cw->shards; p++) cw->in_cut[p] = cw->pst[p] == P_LIVE || cw->pst[p] == P_RELEASING;
  for (uint32_t p = 0; rc == LP_OK && p < cw->shards; p++) {
    if (!cw->in_cut[p]) continue;
    lp_ckpt_barrier *b = lp__ckpt_barrier_new(1);
    if (b == NULL) {
      rc = LP_ENOMEM;
      break;
    }
    b->ud = cw;
    b->done = barrier_back;
    b->s[0].shard = p;
    b->s[0].kind = lp_ckpt_next_kind(cw->store, (int32_t)p);
    b->s[0].committed = cw->committed_version[p];
    cw->sb[p] = b;
    cw->bst[p] = B_WAIT;
    n++;
  }
  if (rc != LP_OK) {
    lp_log_error("checkpoint skipped", "err=\"%s\"", lp_strerror(rc));
    idle(cw);
    lp__ckpt_resume(cw);
    return;
  }
  cw->phase = PH_BARRIER;
  cw->barriers_out = n;
  for (uint32_t w = 0; w < cw->workers; w++) {
    cw->wnext[w] = w;
    send_next(cw, w);
  }
  if (n == 0) write_checkpoint(cw);
  lp__ckpt_resume(cw);
}

static void on_align_timeout(uv_timer_t *t) {
  lp_ckpt_wire *cw = t->data;
  if (cw->phase != PH_ALIGNING) return;
  cw->aborted++;
  lp_counter_add(cw->m_skipped, 1);
  lp_log_warn("checkpoint skipped: records in flight did not finish in checkpoint.align_timeout",
              "in_flight=%zu align_timeout_ms=%lld", lp__stream_in_flight(cw->srv),
              (long long)cw->srv->cfg->checkpoint.align_timeout_ms);
  idle(cw);
  lp__ckpt_resume(cw);
}

/* Begins a checkpoint: holds consumption until nothing is in flight (the cut). */
static void begin(lp_ckpt_wire *cw) {
  cw->phase = PH_ALIGNING;
  cw->prompt = 0;
  cw->last_ckpt_ms = cw->align_started_ms = lp_now_ms();
  lp__stream_flush(cw->srv);
  if (lp__stream_in_flight(cw->srv) == 0) {
    cut(cw);
    return;
  }
  uv_timer_start(&cw->align_timer, on_align_timeout, (uint64_t)cw->srv->cfg->checkpoint.align_timeout_ms, 0);
}

static void update_gauges(lp_ckpt_wire *cw, int64_t now) {
  lp_gauge_set(cw->m_backlog, (double)backlog(cw));
  lp_gauge_set(cw->m_age, cw->last_success_ms ? (double)(now - cw->last_success_ms) / 1000.0
                                              : (double)(now - cw->srv->started_ms) / 1000.0);
  int over = backlog(cw) > (uint64_t)cw->srv->cfg->checkpoint.max_backlog;
  if (over != cw->over_backlog) {
    if (over) lp_log_warn("un-checkpointed backlog over checkpoint.max_backlog: ingest paused until a checkpoint lands",
                          "backlog=%llu redis=%s", (unsigned long long)backlog(cw), cw->endpoint);
    else lp_log_info("checkpoint landed: ingest resumes", "backlog=%llu", (unsigned long long)backlog(cw));
    cw->over_backlog = over;
    if (!over) lp__ckpt_resume(cw);
  }
}

static void on_timer(uv_timer_t *t) {
  lp_ckpt_wire *cw = t->data;
  int64_t now = lp_now_ms();
  if (cw->phase == PH_RESTORING) {
    if (!cw->request_out) try_restore(cw);
    return;
  }
  update_gauges(cw, now);
  if (cw->phase != PH_IDLE || cw->srv->shutting_down) return;
  lp__ckpt_release_idle(cw);
  if (!lp_redis_ready(cw->redis)) return;        /* the client reconnects with backoff; try at the next tick */
  if (lp__ckpt_assign_restore(cw)) return;                /* assigned partitions first: their records are held */
  if (!cw->prompt && now - cw->last_ckpt_ms < cw->srv->cfg->checkpoint.interval_ms) return;
  if (backlog(cw) == 0 && cw->held_head == NULL && !cw->global_dirty) {  /* nothing changed since the last one */
    cw->last_ckpt_ms = now;
    return;
  }
  begin(cw);
}

static void start_interval(lp_ckpt_wire *cw) {
  int64_t iv = cw->phase == PH_RESTORING ? RESTORE_RETRY_MS : cw->srv->cfg->checkpoint.interval_ms / 4;
  if (iv < 5) iv = 5;
  if (iv > 250) iv = 250;
  uv_timer_start(&cw->timer, on_timer, (uint64_t)iv, (uint64_t)iv);
}

/* ---- hooks from the stream and ingest ------------------------------------------------------------- */

int lp__ckpt_hold(const lp_server *srv) {
  const lp_ckpt_wire *cw = srv->ckpt;
  return cw != NULL && (cw->phase == PH_ALIGNING || cw->over_backlog ||
                        backlog(cw) > (uint64_t)srv->cfg->checkpoint.max_backlog);
}

void lp__ckpt_applied(lp_server *srv, int topic_idx, int32_t partition, int64_t offset) {
  lp_ckpt_wire *cw = srv->ckpt;
  if (cw == NULL || topic_idx < 0 || topic_idx >= TOPICS || partition < 0 || (uint32_t)partition >= cw->shards) return;
  int64_t *a = lp__ckpt_off(cw->applied, cw, topic_idx, (uint32_t)partition);
  if (offset > *a) *a = offset;
  cw->finished++;
}

void lp__ckpt_request(lp_server *srv) {
  if (srv->ckpt) srv->ckpt->global_dirty = 1;
}

void lp__ckpt_inexact(lp_server *srv) {
  if (srv->ckpt) srv->ckpt->inexact = 1;
}

void lp__ckpt_drained(lp_server *srv) {
  lp_ckpt_wire *cw = srv->ckpt;
  if (cw != NULL && cw->phase == PH_ALIGNING) cut(cw);
}

int lp__ckpt_group_commit(const lp_server *srv) { return srv->ckpt != NULL && ((lp_ckpt_wire *)srv->ckpt)->embedded; }

int lp__ckpt_hold_ticket(lp_server *srv, const char *ticket, size_t len, const char *code) {
  lp_ckpt_wire *cw = srv->ckpt;
  if (cw == NULL || !cw->embedded || len >= sizeof(((held_ticket *)0)->ticket)) return 0;
  held_ticket *h = lp_malloc(sizeof(*h));
  if (h == NULL) return 0;  /* out of memory: answered at the apply timeout with a 503 */
  h->next = NULL;
  h->ord = cw->held_total++;
  h->code = code;
  h->len = len;
  memcpy(h->ticket, ticket, len);
  if (cw->held_tail) cw->held_tail->next = h;
  else cw->held_head = h;
  cw->held_tail = h;
  return 1;
}

void lp__ckpt_note_miner(lp_server *srv, const char *id, size_t len, const char *code) {
  lp_ckpt_wire *cw = srv->ckpt;
  if (cw == NULL) return;
  if (lp__ckpt_miners_note(cw->miners, id, len, code != NULL && strcmp(code, "throttled") == 0) != LP_OK)
    lp_log_warn("checkpoint: out of memory noting a miner", "%s", "");
}

int lp__ckpt_over_backlog(const lp_server *srv, char *why, size_t cap) {
  const lp_ckpt_wire *cw = srv->ckpt;
  if (cw == NULL || backlog(cw) <= (uint64_t)srv->cfg->checkpoint.max_backlog) return 0;
  snprintf(why, cap, "%llu applied events are not in a checkpoint yet (redis %s: %s); retry later",
           (unsigned long long)backlog(cw), cw->endpoint, cw->last_error[0] ? cw->last_error : lp_redis_last_error(cw->redis));
  return 1;
}

void lp__ckpt_status(lp_server *srv, lp_buf *b) {
  lp_ckpt_wire *cw = srv->ckpt;
  if (cw == NULL) {
    const char *dir = srv->cfg->server.state_dir;
    lp_buf_printf(b, "\"redis\":{\"endpoint\":null,\"checkpoints\":\"off\",\"state\":\"%s\"}",
                  dir[0] ? "snapshot files in server.state_dir at shutdown" : "memory only (no state_dir)");
    return;
  }
  lp_ckpt_stats s;
  lp_ckpt_store_stats(cw->store, &s);
  lp_buf_puts(b, "\"redis\":{\"endpoint\":");
  lp_buf_json_str(b, cw->endpoint, strlen(cw->endpoint));
  lp_buf_printf(b, ",\"connected\":%s,\"checkpoints\":\"on\",\"interval_ms\":%lld,\"last_checkpoint\":",
                lp_redis_ready(cw->redis) ? "true" : "false", (long long)srv->cfg->checkpoint.interval_ms);
  if (s.last_success_ms) lp_buf_printf(b, "{\"id\":%llu,\"ts_ms\":%lld,\"seconds\":%.6f}", (unsigned long long)s.last_id,
                                       (long long)s.last_success_ms, s.last_seconds);
  else lp_buf_puts(b, "null");
  lp_buf_printf(b, ",\"writes\":%llu,\"failures\":%llu,\"skipped\":%llu,\"bytes\":%llu,\"backlog\":%llu,"
                "\"restore_seconds\":%.3f,\"last_error\":",
                (unsigned long long)s.writes, (unsigned long long)s.failures,
                (unsigned long long)(cw->skipped + cw->aborted), (unsigned long long)s.bytes,
                (unsigned long long)backlog(cw), cw->restore_seconds);
  lp_buf_json_str(b, cw->last_error, strlen(cw->last_error));
  lp_buf_puts(b, "}");
}

/* ---- lifecycle ------------------------------------------------------------------------------------ */

static void on_redis_state(void *ud, int up, const char *reason) {
  lp_ckpt_wire *cw = ud;
  if (up) lp_log_info("redis connected", "redis=%s", cw->endpoint);
  else lp_log_warn("redis unavailable: checkpoints wait, queries go on", "redis=%s reason=\"%s\"", cw->endpoint,
                   reason ? reason : "");
}

static int setup(lp_ckpt_wire *cw, char *err, size_t errsz) {
  lp_server *srv = cw->srv;
  lp_config *c = srv->cfg;
  size_t no = (size_t)TOPICS * cw->shards;
  cw->applied = lp_malloc(no * sizeof(int64_t));
  cw->cut = lp_malloc(no * sizeof(int64_t));
  cw->committed = lp_malloc(no * sizeof(int64_t));
  cw->committed_version = lp_calloc(cw->shards, sizeof(uint64_t));
  cw->cut_version = lp_calloc(cw->shards, sizeof(uint64_t));
  cw->sb = lp_calloc(cw->shards, sizeof(lp_ckpt_barrier *));
  cw->bst = lp_calloc(cw->shards, 1);
  cw->wbusy = lp_calloc(cw->workers, 1);
  cw->wnext = lp_calloc(cw->workers, sizeof(uint32_t));
  cw->pst = lp_calloc(cw->shards, 1);
  cw->in_cut = lp_calloc(cw->shards, 1);
  if (!cw->pst || !cw->in_cut || !cw->applied || !cw->cut || !cw->committed || !cw->committed_version || !cw->cut_version || !cw->sb ||
      !cw->bst || !cw->wbusy || !cw->wnext ||
      lp__ckpt_miners_new(&cw->miners) != LP_OK) {
    snprintf(err, errsz, "out of memory");
    return LP_ENOMEM;
  }
  for (size_t i = 0; i < no; i++) cw->applied[i] = cw->cut[i] = cw->committed[i] = -1;
  lp_metrics *m = srv->metrics;
  cw->m_backlog = lp_metrics_gauge(m, "leadpoet_checkpoint_backlog_events",
                                   "Applied events not yet in a committed checkpoint (ingest pauses past checkpoint.max_backlog).");
  cw->m_age = lp_metrics_gauge(m, "leadpoet_checkpoint_age_seconds",
                               "Seconds since the last committed checkpoint (since start before the first).");
  cw->m_skipped = lp_metrics_counter(m, "leadpoet_checkpoint_skipped_total",
                                     "Checkpoints not taken: Redis not connected, or records in flight past checkpoint.align_timeout.");
  cw->m_restore = lp_metrics_gauge(m, "leadpoet_checkpoint_restore_seconds",
                                   "Seconds the restore from Redis took at start (read, verify, load the shards).");
  if (!cw->m_backlog || !cw->m_age || !cw->m_skipped || !cw->m_restore) {
    snprintf(err, errsz, "cannot register the checkpoint metrics");
    return LP_ENOMEM;
  }
  lp_redis_opts ro = { .endpoint = c->redis.endpoint, .connect_timeout_ms = (int)c->redis.connect_timeout_ms,
                       .command_timeout_ms = (int)c->redis.command_timeout_ms,
                       .backoff_min_ms = (int)c->redis.backoff_min_ms, .backoff_max_ms = (int)c->redis.backoff_max_ms,
                       .on_state = on_redis_state, .ud = cw };
  int rc = lp_redis_new(&srv->loop, &ro, &cw->redis, err, errsz);
  if (rc != LP_OK) return rc;
  lp_ckpt_opts so = { .redis = cw->redis, .cluster = 0, .max_deltas = (uint32_t)c->checkpoint.max_deltas,
                      .global_name = c->checkpoint.global_name };
  if ((rc = lp_ckpt_store_new(&so, &cw->store, err, errsz)) != LP_OK) return rc;
  if ((rc = lp_ckpt_store_metrics(cw->store, m)) != LP_OK) snprintf(err, errsz, "cannot register the checkpoint metrics");
  return rc;
}

int lp__ckpt_start(lp_server *srv) {
  lp_config *c = srv->cfg;
  if (!c->redis.endpoint[0]) return LP_OK;
  if (strcmp(c->kafka.mode, "off") == 0) {
    lp_log_error("redis.endpoint is set but kafka.mode is off",
                 "hint=\"a checkpoint holds the log offsets its state corresponds to: use kafka.mode = embedded or "
                 "external with Redis, or no Redis (snapshot files in server.state_dir)\"");
    return LP_ECONFIG;
  }
  lp_ckpt_wire *cw = lp_calloc(1, sizeof(*cw));
  if (cw == NULL) return LP_ENOMEM;
  srv->ckpt = cw;
  cw->srv = srv;
  cw->shards = (uint32_t)c->server.shards;
  cw->workers = lp_workers_count(srv->workers);
  cw->embedded = strcmp(c->kafka.mode, "embedded") == 0 || (strcmp(c->kafka.mode, "auto") == 0 && !c->kafka.bootstrap_brokers[0]);
  lp_redis_endpoint ep;
  char err[512] = "";
  if (lp_redis_endpoint_parse(c->redis.endpoint, &ep, err, sizeof(err)) == LP_OK)
    lp_redis_endpoint_print(&ep, cw->endpoint, sizeof(cw->endpoint));
  else snprintf(cw->endpoint, sizeof(cw->endpoint), "%s", c->redis.endpoint);
  uv_timer_init(&srv->loop, &cw->timer);
  uv_timer_init(&srv->loop, &cw->align_timer);
  cw->timer.data = cw->align_timer.data = cw;
  cw->open_handles = 2;
  int rc = setup(cw, err, sizeof(err));
  if (rc != LP_OK) {
    lp_log_error("cannot start checkpoints", "redis=%s err=\"%s\"", cw->endpoint, err);
    return rc == LP_ENOMEM ? LP_ENOMEM : LP_ECONFIG;
  }
  cw->phase = PH_RESTORING;
  cw->restore_started_ms = lp_now_ms();
  lp_log_info("checkpoints on: restoring from redis", "redis=%s interval_ms=%lld global=%s mode=%s", cw->endpoint,
              (long long)c->checkpoint.interval_ms, c->checkpoint.global_name, cw->embedded ? "embedded" : "external");
  set_not_ready(srv, "restoring: waiting for redis", cw->endpoint);
  start_interval(cw);
  return LP_OK;
}

static void handle_closed(uv_handle_t *h) {
  lp_ckpt_wire *cw = h->data;
  if (--cw->open_handles > 0) return;
  void (*done)(void *) = cw->stop_done;
  cw->stop_done = NULL;
  if (done) done(cw->stop_arg);
}

static void redis_closed(void *ud) {
  lp_ckpt_wire *cw = ud;
  cw->redis = NULL;
  handle_closed((uv_handle_t *)&cw->timer);
}

/* Closes the timers and the Redis client once no request is in flight (closing the client completes a
 * request with LP_ECANCELED, whose callback must still find the state). */
void lp__ckpt_close_all(lp_ckpt_wire *cw) {
  if (cw->phase == PH_CLOSING && cw->open_handles > 2) return;
  cw->phase = PH_CLOSING;
  uv_timer_stop(&cw->timer);
  uv_timer_stop(&cw->align_timer);
  /* barrier_back / load_back / drop_back call this again */
  if (cw->barriers_out > 0 || cw->loads_out > 0 || cw->drops_out > 0) return;
  cw->open_handles++;  /* the redis client */
  uv_close((uv_handle_t *)&cw->timer, handle_closed);
  uv_close((uv_handle_t *)&cw->align_timer, handle_closed);
  if (cw->redis) lp_redis_close(cw->redis, redis_closed, cw);
  else handle_closed((uv_handle_t *)&cw->timer);
}

void lp__ckpt_stop(lp_server *srv, void (*done)(void *arg), void *arg) {
  lp_ckpt_wire *cw = srv->ckpt;
  if (cw == NULL) {
    done(arg);
    return;
  }
  cw->stop_done = done;
  cw->stop_arg = arg;
  /* The stream is drained: a last checkpoint makes a restart cheap and answers the held requests. */
  if (cw->phase == PH_IDLE && !cw->fatal && !cw->inexact && lp_redis_ready(cw->redis) && (backlog(cw) > 0 || cw->held_head)) {
    lp_log_info("final checkpoint", "backlog=%llu", (unsigned long long)backlog(cw));
    begin(cw);
    return;
  }
  if (cw->phase == PH_IDLE || cw->phase == PH_RESTORING || cw->phase == PH_CLOSING || cw->phase == PH_ASSIGNING)
    lp__ckpt_close_all(cw);
  /* else a checkpoint or a load is under way: its end calls idle(), which closes */
}

void lp__ckpt_free(lp_server *srv) {
  lp_ckpt_wire *cw = srv->ckpt;
  if (cw == NULL) return;
  if (cw->store) lp_ckpt_store_free(cw->store);
  release_barriers(cw);
  while (cw->held_head) {
    held_ticket *h = cw->held_head;
    cw->held_head = h->next;
    lp_free(h);
  }
  lp__ckpt_miners_free(cw->miners);
  lp_free(cw->sb);
  lp_free(cw->bst);
  lp_free(cw->wbusy);
  lp_free(cw->wnext);
  lp_free(cw->applied);
  lp_free(cw->cut);
  lp_free(cw->committed);
  lp_free(cw->committed_version);
  lp_free(cw->cut_version);
  lp_free(cw->pst);
  lp_free(cw->in_cut);
  lp_free(cw);
  srv->ckpt = NULL;
}
