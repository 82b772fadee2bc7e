/* pipeline.c: running the stages, in order, on the events of one shard; errors and quarantine. */
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "stage/stage_int.h"

int lp_stage_shard_open(lp_stages *st, uint32_t shard, lp_stage_shard **out) {
  *out = NULL;
  lp_stage_shard *ss = lp_calloc(1, sizeof(*ss));
  if (ss == NULL) return LP_ENOMEM;
  ss->st = st;
  ss->shard = shard;
  ss->slot = lp_calloc(st->n + 1, sizeof(lp__stage_slot));
  if (ss->slot == NULL) {
    lp_free(ss);
    return LP_ENOMEM;
  }
  for (size_t i = 0; i < st->n; i++) {
    lp__stage *s = &st->v[i];
    ss->slot[i].state = s->state;
    if (s->desc.shard_open == NULL) continue;
    void *state = NULL;
    int rc = s->desc.shard_open(s->state, shard, &state);
    if (rc != LP_OK) {
      lp_log_error("stage shard_open failed", "stage=%s shard=%u error=\"%s\"", s->desc.name, (unsigned)shard,
                   lp_strerror(rc));
      lp_stage_shard_close(ss);
      return rc < 0 ? rc : LP_EINVAL;
    }
    ss->slot[i].state = state;
    ss->slot[i].opened = 1;
  }
  *out = ss;
  return LP_OK;
}

void lp_stage_shard_close(lp_stage_shard *ss) {
  if (ss == NULL) return;
  for (size_t i = ss->st->n; i-- > 0;) {
    lp__stage *s = &ss->st->v[i];
    if (ss->slot[i].opened && s->desc.shard_close != NULL) s->desc.shard_close(s->state, ss->slot[i].state);
  }
  lp_buf_free(&ss->scratch);
  lp_free(ss->slot);
  lp_free(ss);
}

/* Counts the error; at stages.quarantine_after in a row the stage is skipped on this shard from now on,
 * and that is logged once. A success in between starts the run again. */
void lp__stage_error(lp_stage_shard *ss, size_t i, int rc, const char *callback) {
  lp__stage *s = &ss->st->v[i];
  lp__stage_slot *sl = &ss->slot[i];
  if (s->errors != NULL) lp_counter_add(s->errors, 1);
  sl->consecutive_errors++;
  lp_log_debug("stage error", "stage=%s shard=%u callback=%s error=\"%s\"", s->desc.name, (unsigned)ss->shard,
               callback, lp_strerror(rc));
  if (sl->consecutive_errors >= ss->st->quarantine_after && !sl->quarantined) {
    sl->quarantined = 1;
    lp_log_error("stage quarantined on this shard: events pass through it untouched", "stage=%s shard=%u "
                 "consecutive_errors=%u last_callback=%s last_error=\"%s\"", s->desc.name, (unsigned)ss->shard,
                 (unsigned)sl->consecutive_errors, callback, lp_strerror(rc));
  }
}

/* 1 when this event's stage latencies are measured: one event in LP_STAGE_LATENCY_SAMPLE. */
static int sample_event(lp_stage_shard *ss) {
  return (ss->events++ & (LP_STAGE_LATENCY_SAMPLE - 1)) == 0;
}

/* The result of one callback: DROP ends the event, an error (or a code the ABI does not define) is
 * counted and the event moves on, CONTINUE resets the error run. */
static int settle(lp_stage_shard *ss, size_t i, int rc, lp_verdict *v, const char *callback) {
  if (rc == LP_STAGE_DROP) {
    ss->slot[i].consecutive_errors = 0;
    if (v != NULL && v->code == NULL) v->code = ss->st->v[i].desc.name;
    return LP_STAGE_DROP;
  }
  if (rc == LP_STAGE_CONTINUE) {
    ss->slot[i].consecutive_errors = 0;
    return LP_STAGE_CONTINUE;
  }
  lp__stage_error(ss, i, rc < 0 ? rc : LP_EINVAL, callback);
  if (v != NULL) {
    v->code = NULL;
    v->message[0] = '\0';
  }
  return LP_STAGE_CONTINUE;
}

static void observe(lp__stage *s, uint64_t t0) {
  if (s->latency != NULL) lp_histogram_observe(s->latency, (double)(lp_mono_ns() - t0) / 1e9);
}

int lp_stage_shard_snippet(lp_stage_shard *ss, const lp_snippet *sn, lp_verdict *v) {
  int timed = sample_event(ss);
  for (size_t i = 0; i < ss->st->n; i++) {
    lp__stage *s = &ss->st->v[i];
    if (ss->slot[i].quarantined) continue;
    v->code = NULL;
    v->message[0] = '\0';
    uint64_t t0 = timed ? lp_mono_ns() : 0;
    int rc = s->desc.on_snippet(ss->slot[i].state, sn, v);
    if (timed) observe(s, t0);
    if (settle(ss, i, rc, v, "on_snippet") == LP_STAGE_DROP) return LP_STAGE_DROP;
  }
  v->code = NULL;
  v->message[0] = '\0';
  return LP_STAGE_CONTINUE;
}

int lp_stage_shard_outcome(lp_stage_shard *ss, const lp_outcome *o, lp_verdict *v) {
  int timed = sample_event(ss);
  for (size_t i = 0; i < ss->st->n; i++) {
    lp__stage *s = &ss->st->v[i];
    if (ss->slot[i].quarantined || s->desc.on_outcome == NULL) continue;
    v->code = NULL;
    v->message[0] = '\0';
    uint64_t t0 = timed ? lp_mono_ns() : 0;
    int rc = s->desc.on_outcome(ss->slot[i].state, o, v);
    if (timed) observe(s, t0);
    if (settle(ss, i, rc, v, "on_outcome") == LP_STAGE_DROP) return LP_STAGE_DROP;
  }
  v->code = NULL;
  v->message[0] = '\0';
  return LP_STAGE_CONTINUE;
}

void lp_stage_shard_tick(lp_stage_shard *ss, int64_t now_ms) {
  for (size_t i = 0; i < ss->st->n; i++) {
    lp__stage *s = &ss->st->v[i];
    if (!ss->slot[i].quarantined && s->desc.on_tick != NULL) s->desc.on_tick(ss->slot[i].state, now_ms);
  }
}

/* A stage has no say over other stages' contributions, so DROP from on_query means nothing and is
 * taken as CONTINUE. */
int lp_stage_shard_query(lp_stage_shard *ss, const lp_query *q, lp_query_out *out) {
  for (size_t i = 0; i < ss->st->n; i++) {
    lp__stage *s = &ss->st->v[i];
    if (ss->slot[i].quarantined || s->desc.on_query == NULL) continue;
    int rc = s->desc.on_query(ss->slot[i].state, q, out);
    settle(ss, i, rc, NULL, "on_query");
  }
  return LP_OK;
}

int lp_stage_shard_quarantined(const lp_stage_shard *ss, size_t i) {
  return i < ss->st->n && ss->slot[i].quarantined;
}
