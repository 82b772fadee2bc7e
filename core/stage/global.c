/* global.c: the ABI 1.1 global callbacks on the reactor thread (admission, miner descriptions), with the
 * same error counting, quarantine and latency sampling as the per-shard pipeline. */
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "stage/stage_int.h"

/* The quarantine is global: the reactor-side state has one owner, so a stage failing there fails for
 * every event, whatever its shard. A success in between starts the run again. */
void lp__stage_global_error(lp_stages *st, size_t i, int rc, const char *callback) {
  lp__stage *s = &st->v[i];
  if (s->errors != NULL) lp_counter_add(s->errors, 1);
  s->g_errors++;
  lp_log_debug("stage error", "stage=%s scope=global callback=%s error=\"%s\"", s->desc.name, callback,
               lp_strerror(rc));
  if (s->g_errors >= st->quarantine_after && !s->g_quarantined) {
    s->g_quarantined = 1;
    lp_log_error("stage quarantined for its global callbacks: events pass through them untouched",
                 "stage=%s consecutive_errors=%u last_callback=%s last_error=\"%s\"", s->desc.name,
                 (unsigned)s->g_errors, callback, lp_strerror(rc));
  }
}

static int settle(lp_stages *st, size_t i, int rc, lp_verdict *v, const char *callback) {
  if (rc == LP_STAGE_DROP || rc == LP_STAGE_CONTINUE) {
    st->v[i].g_errors = 0;
    if (rc == LP_STAGE_DROP && v->code == NULL) v->code = st->v[i].desc.name;
    return rc;
  }
  lp__stage_global_error(st, i, rc < 0 ? rc : LP_EINVAL, callback);
  v->code = NULL;
  v->message[0] = '\0';
  return LP_STAGE_CONTINUE;
}

static int sample_event(lp_stages *st) { return (st->g_events++ & (LP_STAGE_LATENCY_SAMPLE - 1)) == 0; }

static void observe(lp__stage *s, uint64_t t0) {
  if (s->latency != NULL) lp_histogram_observe(s->latency, (double)(lp_mono_ns() - t0) / 1e9);
}

static void clear(lp_verdict *v) {
  v->code = NULL;
  v->message[0] = '\0';
}

int lp_stages_admit(lp_stages *st, const lp_snippet *sn, lp_verdict *v) {
  clear(v);
  if (st == NULL) return LP_STAGE_CONTINUE;
  int timed = sample_event(st);
  for (size_t i = 0; i < st->n; i++) {
    lp__stage *s = &st->v[i];
    if (s->g_quarantined || s->desc.on_admit == NULL) continue;
    clear(v);
    uint64_t t0 = timed ? lp_mono_ns() : 0;
    int rc = s->desc.on_admit(s->state, sn, v);
    if (timed) observe(s, t0);
    if (settle(st, i, rc, v, "on_admit") == LP_STAGE_DROP) return LP_STAGE_DROP;
  }
  clear(v);
  return LP_STAGE_CONTINUE;
}

int lp_stages_admit_outcome(lp_stages *st, const lp_outcome *o, lp_verdict *v) {
  clear(v);
  if (st == NULL) return LP_STAGE_CONTINUE;
  int timed = sample_event(st);
  for (size_t i = 0; i < st->n; i++) {
    lp__stage *s = &st->v[i];
    if (s->g_quarantined || s->desc.on_admit_outcome == NULL) continue;
    clear(v);
    uint64_t t0 = timed ? lp_mono_ns() : 0;
    int rc = s->desc.on_admit_outcome(s->state, o, v);
    if (timed) observe(s, t0);
    if (settle(st, i, rc, v, "on_admit_outcome") == LP_STAGE_DROP) return LP_STAGE_DROP;
  }
  clear(v);
  return LP_STAGE_CONTINUE;
}

/* A cheap shape check, not a JSON parser: what a stage wrote must at least look like one object, so a
 * broken stage cannot break the caller's document by more than its own entry. */
static int looks_like_object(const char *p, size_t n) {
  while (n > 0 && (p[0] == ' ' || p[0] == '\n' || p[0] == '\t' || p[0] == '\r')) p++, n--;
  while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\n' || p[n - 1] == '\t' || p[n - 1] == '\r')) n--;
  return n >= 2 && p[0] == '{' && p[n - 1] == '}';
}

int lp_stages_describe_miner(lp_stages *st, lp_str miner, lp_buf *out) {
  if (st == NULL) return LP_OK;
  size_t mark = out->len;
  for (size_t i = 0; i < st->n; i++) {
    lp__stage *s = &st->v[i];
    if (s->g_quarantined || s->desc.describe_miner == NULL) continue;
    lp_buf_reset(&st->g_scratch);
    lp_writer w = { lp__stage_buf_write, &st->g_scratch };
    int rc = s->desc.describe_miner(s->state, miner, &w);
    if (rc == LP_ENOMEM) {
      out->len = mark;
      return LP_ENOMEM;
    }
    if (rc != LP_OK) {
      lp__stage_global_error(st, i, rc < 0 ? rc : LP_EINVAL, "describe_miner");
      continue;
    }
    if (st->g_scratch.len == 0) continue;
    if (!looks_like_object(st->g_scratch.data, st->g_scratch.len)) {
      lp__stage_global_error(st, i, LP_EINVAL, "describe_miner");
      continue;
    }
    s->g_errors = 0;
    if (lp_buf_puts(out, ",") != LP_OK || lp_buf_json_str(out, s->desc.name, strlen(s->desc.name)) != LP_OK ||
        lp_buf_puts(out, ":") != LP_OK || lp_buf_append(out, st->g_scratch.data, st->g_scratch.len) != LP_OK) {
      out->len = mark;
      return LP_ENOMEM;
    }
  }
  return LP_OK;
}

int lp_stages_global_quarantined(const lp_stages *st, size_t i) {
  return st != NULL && i < st->n && st->v[i].g_quarantined;
}
