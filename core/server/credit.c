/*
 * credit.c: see credit.h. The worker copies the lead's recent reporters; the reactor credits or debits
 * the miners (the reputation stage's table, stages/reputation/) and publishes snapshots to the workers.
 *
 * Publishing (docs/adr/0006-reputation.md): a snapshot travels to each worker in a rep_msg holding one
 * reference; run() swaps it with the worker's current one (thread-local, snapshot.h) and the message
 * brings the old one back; done() releases it on the reactor. Counts change only on the reactor, so
 * nothing on the hot path takes a lock or an atomic.
 *
 * The timer: a one-shot uv_timer allocated when the table changed inside the publish interval and closed
 * by its own callback, so it needs no closing at shutdown; it keeps the loop at most publish_interval
 * longer, and publishes nothing once the server is shutting down.
 */
#include "server/credit.h"

#include <stdlib.h>
#include <string.h>

#include "archive/archive.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "server/answers.h"
#include "server/server_int.h"
#include "stages/reputation/reputation.h"

typedef struct ev_ref {
  int64_t ts;
  const char *miner;
} ev_ref;

static int cmp_newest(const void *a, const void *b) {
  const ev_ref *x = a, *y = b;
  if (x->ts != y->ts) return x->ts < y->ts ? 1 : -1;
  return strcmp(x->miner, y->miner);
}

void lp__credit_collect(struct lp_shard *sh, const lp_outcome *o, lp_credit *c) {
  c->n = 0;
  lp_rep *rep = lp_rep_active();
  if (rep == NULL) return;  /* conf is read-only after init: safe on a worker */
  const lp_lead *l = lp_leads_get(&sh->leads, o->domain.ptr, o->domain.len, o->domain_hash);
  if (l == NULL || l->n_ev == 0) return;
  int64_t since = o->ts_ms - lp_rep_conf_get(rep)->credit_window;
  ev_ref stack[64];
  ev_ref *ev = l->n_ev <= 64 ? stack : lp_malloc(l->n_ev * sizeof(ev_ref));
  if (ev == NULL) return;
  uint32_t n = 0;
  for (uint32_t i = 0; i < l->n_ev; i++)
    if (l->ev[i].miner != NULL && l->ev[i].ts_ms >= since) ev[n++] = (ev_ref){ l->ev[i].ts_ms, l->ev[i].miner };
  if (n > 1) qsort(ev, n, sizeof(ev[0]), cmp_newest);
  for (uint32_t i = 0; i < n && c->n < LP_CREDIT_MINERS; i++) {
    size_t len = strlen(ev[i].miner);
    int seen = len == 0 || len > LP_MINER_ID_MAX;
    for (uint32_t k = 0; k < c->n && !seen; k++) seen = strcmp(c->miner[k].id, ev[i].miner) == 0;
    if (seen) continue;
    c->miner[c->n].len = (uint8_t)len;
    memcpy(c->miner[c->n].id, ev[i].miner, len + 1);
    c->n++;
  }
  if (ev != stack) lp_free(ev);
}

/* ---- publishing ------------------------------------------------------------------------------------ */

typedef struct rep_msg {
  lp_msg msg;
  lp_rep_snapshot *snap;     /* to the worker: the new one; back: the one it let go of (may be NULL) */
} rep_msg;

static void rep_run(lp_worker *w, lp_msg *m) {
  (void)w;
  rep_msg *r = (rep_msg *)m;
  r->snap = lp_rep_snapshot_swap_current(r->snap);
}

static void rep_done(lp_msg *m) {
  rep_msg *r = (rep_msg *)m;
  lp_rep *rep = lp_rep_active();
  if (rep != NULL) lp_rep_snapshot_release(rep, r->snap);
  lp_free(r);
}

static void publish(lp_server *srv, lp_rep *rep) {
  lp_rep_snapshot *s = lp_rep_publish(rep);
  if (s == NULL) {
    lp_log_warn("reputation snapshot not published: out of memory", "miners=%zu", lp_rep_count(rep));
    return;
  }
  uint32_t nw = lp_workers_count(srv->workers);
  for (uint32_t w = 0; w < nw; w++) {
    rep_msg *m = lp_malloc(sizeof(*m));
    if (m == NULL) continue;  /* that worker keeps its previous snapshot until the next publish */
    lp_rep_snapshot_ref(rep, s);
    *m = (rep_msg){ { rep_run, rep_done, 0, NULL }, s };
    lp_workers_send(srv->workers, w, &m->msg);
  }
  lp_rep_metric_refresh(rep);
}

typedef struct pub_timer {
  uv_timer_t t;
  lp_server *srv;
} pub_timer;

static void timer_closed(uv_handle_t *h) { lp_free(h->data); }

static void on_timer(uv_timer_t *t) {
  pub_timer *pt = t->data;
  lp_rep *rep = lp_rep_active();
  if (rep != NULL) {
    lp__rep_timer_set(rep, 0);
    lp__credit_publish_due(pt->srv);
  }
  uv_close((uv_handle_t *)&pt->t, timer_closed);
}

static void arm_timer(lp_server *srv, lp_rep *rep, uint64_t in_ms) {
  pub_timer *pt = lp_malloc(sizeof(*pt));
  if (pt == NULL || uv_timer_init(&srv->loop, &pt->t) != 0) {
    lp_free(pt);
    return;  /* the next outcome or query publishes */
  }
  pt->srv = srv;
  pt->t.data = pt;
  uv_timer_start(&pt->t, on_timer, in_ms, 0);
  lp__rep_timer_set(rep, 1);
}

void lp__credit_publish_due(struct lp_server *srv) {
  lp_rep *rep = lp_rep_active();
  if (rep == NULL || srv->workers == NULL || srv->shutting_down || lp_rep_dirty(rep) == 0) return;
  const lp_rep_conf *c = lp_rep_conf_get(rep);
  int64_t since = lp_now_ms() - lp_rep_published_ms(rep);
  if (lp_rep_dirty(rep) >= (uint64_t)c->publish_every || since >= c->publish_interval) publish(srv, rep);
  else if (!lp__rep_timer_get(rep)) arm_timer(srv, rep, (uint64_t)(c->publish_interval - since));
}

/* ---- credit ---------------------------------------------------------------------------------------- */

void lp__credit_apply(struct lp_server *srv, const lp_outcome *o, const lp_credit *c) {
  lp_archive_outcome(lp_archive_active(), o);
  lp_rep *rep = lp_rep_active();
  if (rep == NULL) return;
  double good, bad;
  lp_rep_event_weights(lp_rep_conf_get(rep), o->event, &good, &bad);
  if (good == 0 && bad == 0) return;
  lp_answer_miners shown;
  int rc = o->query_id.len > 0 ? lp__answers_find(lp_rep_answers(rep), o->query_id, o->domain, &shown) : LP_ENOENT;
  if (rc == LP_OK && shown.n > 0) {
    for (uint32_t i = 0; i < shown.n; i++)
      lp_rep_credit(rep, (lp_str){ shown.id[i], strlen(shown.id[i]) }, o->ts_ms, good, bad);
  } else {
    for (uint32_t i = 0; i < c->n; i++) lp_rep_credit(rep, (lp_str){ c->miner[i].id, c->miner[i].len }, o->ts_ms, good, bad);
  }
  lp__credit_publish_due(srv);
}
