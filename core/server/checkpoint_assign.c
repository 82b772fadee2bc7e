/*
 * checkpoint_assign.c: partitions assigned and revoked by the consumer group in external mode (issue 7,
 * point 6; docs/adr/0015-scale-out.md). An assigned partition's records are held until its state is
 * restored from its last committed checkpoint (claimed: a former owner's later write is fenced); a revoked
 * one is written once more, then dropped and its shard emptied. Reactor thread, but the load messages'
 * run() (workers, checkpoint_state.c).
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "server/checkpoint_int.h"

#define TOPICS LP_CKPT_TOPICS

/* The shards of an assignment are loaded: each partition's stream starts after its checkpoint's offsets
 * (the consumer is sought there; what it fetched before is skipped) and its records flow again. A
 * partition revoked meanwhile applied nothing since its checkpoint: it is simply dropped. */
void lp__ckpt_assigned_loaded(lp_ckpt_wire *cw) {
  lp_server *srv = cw->srv;
  size_t n = 0;
  cw->phase = PH_IDLE;
  for (uint32_t p = 0; p < cw->shards; p++) {
    if (cw->pst[p] != P_LOADING) continue;
    if (!lp__stream_owns(srv, 0, (int32_t)p) && !lp__stream_owns(srv, 1, (int32_t)p)) {
      cw->pst[p] = P_DROP;
      continue;
    }
    cw->pst[p] = P_LIVE;
    n++;
    for (int t = 0; t < TOPICS; t++) lp__stream_restart_at(srv, t, (int32_t)p, *lp__ckpt_off(cw->committed, cw, t, p));
  }
  lp_log_info("assigned partitions restored from the checkpoint", "redis=%s partitions=%zu", cw->endpoint, n);
  lp__ckpt_resume(cw);
}

static void on_assign_restored(void *ud, int err, lp_ckpt_state *states, size_t n, const char *errmsg) {
  lp_ckpt_wire *cw = ud;
  cw->request_out = 0;
  if (cw->phase == PH_CLOSING) {  /* closing began while the read was out: its cancellation lands here */
    lp__ckpt_close_all(cw);
    return;
  }
  if (cw->stop_done) {
    cw->phase = PH_IDLE;
    lp__ckpt_close_all(cw);
    return;
  }
  if (err != LP_OK) {
    for (uint32_t p = 0; p < cw->shards; p++)
      if (cw->pst[p] == P_LOADING) cw->pst[p] = P_WANT;
    cw->phase = PH_IDLE;
    if (err == LP_EIO || err == LP_ECANCELED) /* Redis went away: the timer tries again once it is back */
      lp_log_warn("restore of assigned partitions interrupted; retrying", "redis=%s err=\"%s\"", cw->endpoint,
                  errmsg ? errmsg : "");
    else lp__ckpt_fail(cw, "cannot restore an assigned partition", errmsg && errmsg[0] ? errmsg : lp_strerror(err));
    return;
  }
  for (size_t i = 0; i < n; i++) lp__ckpt_take_offsets(cw, &states[i]);
  int rc = lp__ckpt_send_loads(cw, states, n, 1);
  if (rc != LP_OK) lp__ckpt_fail(cw, "cannot restore an assigned partition", lp_strerror(rc));
  else if (cw->loads_out == 0) lp__ckpt_assigned_loaded(cw);
}

/* Restores (claiming them: whoever claims last owns them, a former owner's later write is fenced) the
 * assigned partitions with nothing in flight from an earlier ownership. Returns 1 when a restore began. */
int lp__ckpt_assign_restore(lp_ckpt_wire *cw) {
  int32_t *parts = lp_malloc(cw->shards * sizeof(int32_t));
  size_t n = 0;
  if (parts == NULL) return 0;  /* tried again at the next tick */
  for (uint32_t p = 0; p < cw->shards; p++)
    if (cw->pst[p] == P_WANT && lp__stream_part_idle(cw->srv, (int32_t)p)) parts[n++] = (int32_t)p;
  int rc = n ? lp_ckpt_restore(cw->store, parts, n, LP_CKPT_CLAIM_NEXT, on_assign_restored, cw) : LP_EAGAIN;
  if (rc == LP_OK) {
    for (size_t i = 0; i < n; i++) cw->pst[parts[i]] = P_LOADING;
    cw->request_out = 1;
    cw->phase = PH_ASSIGNING;
  } else if (rc != LP_EAGAIN) {
    lp__ckpt_fail(cw, "cannot restore an assigned partition", lp_strerror(rc));
  }
  lp_free(parts);
  return rc == LP_OK;
}

static void drop_back(void *ud, lp_ckpt_load *l) {
  lp_ckpt_wire *cw = ud;
  lp__ckpt_load_free(l);
  if (--cw->drops_out == 0 && cw->phase == PH_CLOSING) lp__ckpt_close_all(cw);
}

/* Empties the shard of a partition that is not ours any more (one load message with reset, no blobs). */
static void drop_shard(lp_ckpt_wire *cw, uint32_t p) {
  lp_ckpt_load *l = lp__ckpt_load_new(1);
  cw->pst[p] = P_OFF;
  if (l == NULL) {
    lp_log_warn("out of memory emptying a revoked shard: its stale leads stay until it is assigned again",
                "shard=%u", p);
    return;
  }
  l->s[0].shard = p;
  l->s[0].reset = 1;
  l->ud = cw;
  l->done = drop_back;
  cw->drops_out++;
  lp_workers_send(cw->srv->workers, lp_workers_owner(p, cw->workers), &l->msg);
}

/* A revoked partition with nothing left to write (its applied offsets are the committed ones) is dropped;
 * a dropped one's shard is emptied once nothing of it is in flight. */
void lp__ckpt_release_idle(lp_ckpt_wire *cw) {
  for (uint32_t p = 0; p < cw->shards; p++) {
    if ((cw->pst[p] != P_RELEASING && cw->pst[p] != P_DROP) || !lp__stream_part_idle(cw->srv, (int32_t)p)) continue;
    int same = 1;
    for (int t = 0; t < TOPICS; t++) same &= *lp__ckpt_off(cw->applied, cw, t, p) == *lp__ckpt_off(cw->committed, cw, t, p);
    if (cw->pst[p] == P_DROP || same) drop_shard(cw, p);
  }
}

/* ---- hooks from the stream (stream.c's on_assign / on_revoke, on_record, /readyz) ------------------ */

int lp__ckpt_assign(lp_server *srv, int32_t partition) {
  lp_ckpt_wire *cw = srv->ckpt;
  if (cw == NULL || cw->embedded || partition < 0 || (uint32_t)partition >= cw->shards) return 0;
  if (cw->pst[partition] != P_LOADING) cw->pst[partition] = P_WANT;
  return 1;
}

void lp__ckpt_revoke(lp_server *srv, int32_t partition, int lost) {
  lp_ckpt_wire *cw = srv->ckpt;
  if (cw == NULL || cw->embedded || partition < 0 || (uint32_t)partition >= cw->shards) return;
  uint8_t *s = &cw->pst[partition];
  if (*s == P_WANT) *s = P_DROP;
  else if (*s == P_LIVE) *s = lost ? P_DROP : P_RELEASING;  /* lost: another member owns it already */
  cw->prompt |= *s == P_RELEASING;
}

/* Held: assigned and not restored yet, or in the cut of the checkpoint under way and not serialised yet
 * (asking makes that shard the next one its worker serialises: its records wait). */
int lp__ckpt_part_held(const lp_server *srv, int32_t partition) {
  lp_ckpt_wire *cw = srv->ckpt;
  if (cw == NULL || partition < 0 || (uint32_t)partition >= cw->shards) return 0;
  if (cw->pst[partition] == P_WANT || cw->pst[partition] == P_LOADING) return 1;
  return lp__ckpt_barrier_holds(cw, (uint32_t)partition);
}

int lp__ckpt_parts_ready(const lp_server *srv, char *why, size_t cap) {
  const lp_ckpt_wire *cw = srv->ckpt;
  size_t n = 0;
  for (uint32_t p = 0; cw != NULL && p < cw->shards; p++) n += cw->pst[p] == P_WANT || cw->pst[p] == P_LOADING;
  if (n == 0) return 1;
  snprintf(why, cap, "restoring: %zu assigned partition(s) from the checkpoint in %.60s", n, cw->endpoint);
  return 0;
}

