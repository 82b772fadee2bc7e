/*
 * watch_eval.c: which leads an event moved into a watch's set (see watch.h).
 *
 * apply.c reports each applied snippet's lead here. The touches wait per worker for watch.coalesce (so the
 * cost of evaluation follows the clock, not the ingest rate), then one message per worker carries them,
 * with a reference to every watch and a copy of its plan stamped with the current time. On the worker,
 * each watch scores the touched leads only, one by one (lp_query_score_lead: the BM25 statistics of the
 * worker's shards, as the query uses, then the same filters, features and model, so a lead's score is its
 * score in POST /v1/leads), and back on the reactor a scored lead at or above min_score that beats the
 * set's weakest member (or finds room) enters the set and fires a delivery; a touched member that no
 * longer matches (filtered out, or below min_score) leaves the set (it fires again if it comes back). The
 * cost is one lead per watch per touched lead, never a query; a worker with no touch in a period runs
 * nothing. The seed query at registration runs the plan on every worker (a full query) and fills the set
 * silently. docs/adr/0016-watches.md.
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "query/exec.h"
#include "server/model.h"
#include "server/watch.h"

typedef struct touch {
  char *domain;               /* lp_malloc'd: "domain\0snippet_id\0" */
  const char *snippet;        /* inside domain's allocation */
  uint32_t shard;             /* the lead's shard (on the worker the touches are sent to) */
} touch;

typedef struct lp_watch_touch {
  touch *v;
  size_t n, cap;
} lp_watch_touch;

struct eval_msg;

/* A registration's seed query: one part per worker; the registration is answered after the last. */
typedef struct seed_ctx {
  lp_http_req *req;
  uint32_t outstanding, n;
  struct eval_msg *parts[];
} seed_ctx;

typedef struct eval_msg {
  lp_msg msg;
  lp_watches *ws;
  seed_ctx *seed;             /* the registration's seed query (every shard, nothing fires); NULL else */
  touch *t;                   /* sorted by domain, unique */
  size_t nt;
  uint32_t nw;
  lp_watch **w;               /* referenced */
  lp_qplan *plans;            /* shallow copies stamped with now */
  lp_model_ref *model;        /* held from the send to the free; NULL = v0 (as POST /v1/leads) */
  double *bar;                /* per watch, at the send: the least score that may enter its set */
  lp_qresult *res;            /* per watch, written by the worker: the seed's top k, or the touched leads
                                 that are candidates of the watch's query (candidates = leads scored) */
} eval_msg;

static int cmp_touch(const void *a, const void *b) {
  return strcmp(((const touch *)a)->domain, ((const touch *)b)->domain);
}

static void eval_free(eval_msg *m) {
  for (uint32_t i = 0; i < m->nw; i++) {
    if (m->res) lp_qresult_free(&m->res[i]);
    lp__watch_unref(m->w[i]);
  }
  for (size_t i = 0; i < m->nt; i++) lp_free(m->t[i].domain);
  lp_free(m->t);
  lp_free(m->w);
  lp_free(m->plans);
  lp_free(m->res);
  lp_free(m->bar);
  lp__model_release(m->model);
  lp_free(m);
}

/* ---- worker side ---------------------------------------------------------------------------------- */

/* The touched leads of one watch, each scored alone under the statistics of the worker's shards. A lead
 * no longer on its shard (expired since the touch) is not a candidate. r->failed on an error: the watch
 * then skips this period (eval_watch) rather than judge on a partial answer. */
static void score_touched(lp_worker *wk, const eval_msg *m, const lp_qplan *p, double bar, lp_shard *const *sh,
                          uint32_t n, lp_qresult *r) {
  lp_qstats qs;
  const lp_gbdt *model = lp__model_gbdt(m->model);
  lp_query_stats(p, sh, n, &qs);
  r->hits = lp_calloc(m->nt ? m->nt : 1, sizeof(lp_qhit));
  if (r->hits == NULL) {
    r->failed = 1;
    return;
  }
  for (size_t j = 0; j < m->nt; j++) {
    const touch *t = &m->t[j];
    lp_shard *s = lp__worker_shard(wk, t->shard);
    size_t len = strlen(t->domain);
    lp_lead *l = s != NULL ? lp_leads_get(&s->leads, t->domain, len, lp_domain_hash(t->domain, len)) : NULL;
    if (l == NULL) continue;
    r->candidates++;
    int rc = lp_query_score_lead(p, model, &qs, s, l, bar, &r->hits[r->n]);
    if (rc == 1) r->n++;
    else if (rc < 0) r->failed = 1;
  }
}

static void eval_run(lp_worker *wk, lp_msg *msg) {
  eval_msg *m = (eval_msg *)msg;
  lp_worker_state *st = lp_worker_data(wk);
  lp_shard *stack[256];
  lp_shard **sh = st->n <= 256 ? stack : lp_malloc(st->n * sizeof(lp_shard *));
  if (sh == NULL) {
    for (uint32_t i = 0; i < m->nw; i++) m->res[i].failed = 1;
    return;
  }
  for (uint32_t i = 0; i < st->n; i++) sh[i] = &st->shards[i];  /* in query_http.c's order: the same sums */
  for (uint32_t i = 0; i < m->nw; i++) {
    if (m->seed) lp_query_run_model(&m->plans[i], lp__model_gbdt(m->model), sh, st->n, &m->res[i]);
    else score_touched(wk, m, &m->plans[i], m->bar[i], sh, st->n, &m->res[i]);
  }
  if (sh != stack) lp_free(sh);
}

/* ---- the set -------------------------------------------------------------------------------------- */

static int member_of(const lp_watch *w, const char *domain) {
  for (uint32_t i = 0; i < w->n_set; i++)
    if (strcmp(w->set[i].domain, domain) == 0) return (int)i;
  return -1;
}

static void leave(lp_watch *w, int at) {
  lp_free(w->set[at].domain);
  w->set[at] = w->set[--w->n_set];
}

/* The weakest member: lowest score, then the greatest domain (the merge's order, reversed). */
static int weakest(const lp_watch *w) {
  int at = 0;
  for (uint32_t i = 1; i < w->n_set; i++) {
    const lp_watch_member *a = &w->set[i], *b = &w->set[at];
    if (a->score < b->score || (a->score == b->score && strcmp(a->domain, b->domain) > 0)) at = (int)i;
  }
  return at;
}

/* Offers a scored lead to the set: 1 when it entered (the caller fires), 0 when it was in already or does
 * not beat the weakest, LP_ENOMEM. */
static int offer(lp_watch *w, const char *domain, double score) {
  if (score < w->min_score) return 0;
  int at = member_of(w, domain);
  if (at >= 0) {
    w->set[at].score = score;
    return 0;
  }
  if (w->n_set == w->k) {
    int low = weakest(w);
    const lp_watch_member *m = &w->set[low];
    if (score < m->score || (score == m->score && strcmp(domain, m->domain) > 0)) return 0;
    leave(w, low);
  }
  char *d = lp_strdup(domain);
  if (d == NULL) return LP_ENOMEM;
  w->set[w->n_set++] = (lp_watch_member){ d, score };
  return 1;
}

/* ---- reactor side --------------------------------------------------------------------------------- */

static const touch *touched(const eval_msg *m, const char *domain) {
  touch key = { (char *)domain, NULL, 0 };
  return bsearch(&key, m->t, m->nt, sizeof(touch), cmp_touch);
}

static void eval_watch(lp_watches *ws, eval_msg *m, lp_watch *w, const lp_qresult *r) {
  lp_counter_add(ws->m_scored, r->candidates);
  if (r->failed) {
    lp_log_warn("watch evaluation skipped: a touched lead could not be scored", "watch=%s", w->id);
    return;
  }
  /* Touched members that no longer match (filtered out, no text match, or below min_score) leave. */
  for (uint32_t i = 0; i < w->n_set;) {
    const char *d = w->set[i].domain;
    int ranks = touched(m, d) == NULL;
    for (size_t j = 0; j < r->n && !ranks; j++) ranks = strcmp(r->hits[j].domain, d) == 0 && r->hits[j].score >= w->min_score;
    if (!ranks) leave(w, (int)i);
    else i++;
  }
  for (size_t j = 0; j < r->n; j++) {  /* every hit is a touched lead */
    const lp_qhit *h = &r->hits[j];
    const touch *t = touched(m, h->domain);
    if (h->json == NULL) {
      /* Under the bar at the send, so not rendered: a member's new score, or a lead that could not enter
       * then. (Should a member of another worker have left since, it may enter at its next touch.) */
      int at = member_of(w, h->domain);
      if (at >= 0) w->set[at].score = h->score;
      continue;
    }
    if (t == NULL || offer(w, h->domain, h->score) != 1) continue;
    lp_counter_add(ws->m_fired, 1);
    lp__watch_fire(ws, w, h->json, h->json_len, h->domain, h->score, t->snippet);
  }
}

static int cmp_hit(const void *a, const void *b) {
  const lp_qhit *x = *(const lp_qhit *const *)a, *y = *(const lp_qhit *const *)b;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  return strcmp(x->domain, y->domain);
}

/* The seed: every worker's local top-k merged, the best k at or above min_score become the set. */
static void seed_merge(eval_msg **parts, uint32_t n, lp_watch *w) {
  size_t total = 0;
  for (uint32_t i = 0; i < n; i++) total += parts[i]->res[0].n;
  const lp_qhit **all = lp_malloc((total ? total : 1) * sizeof(*all));
  if (all == NULL) return;
  size_t k = 0;
  for (uint32_t i = 0; i < n; i++)
    for (size_t j = 0; j < parts[i]->res[0].n; j++) all[k++] = &parts[i]->res[0].hits[j];
  qsort(all, total, sizeof(*all), cmp_hit);
  for (size_t i = 0; i < total && w->n_set < w->k; i++)
    if (member_of(w, all[i]->domain) < 0) offer(w, all[i]->domain, all[i]->score);
  lp_free(all);
}

/* leadpoet_watch_leads_scored_total, registered at the first registration or evaluation (the registry is
 * idempotent: the same family comes back). NULL when it cannot be: counting is then skipped. Reactor. */
static void scored_metric(lp_watches *ws) {
  if (ws->m_scored == NULL && ws->srv->metrics != NULL)
    ws->m_scored = lp_metrics_counter(ws->srv->metrics, "leadpoet_watch_leads_scored_total",
                                      "Leads scored by the incremental evaluation of the watches: one per watch "
                                      "per lead touched by an event (the registration's seed query excluded).");
}

static void eval_done(lp_msg *msg) {
  eval_msg *m = (eval_msg *)msg;
  lp_watches *ws = m->ws;
  if (!m->seed) {
    scored_metric(ws);
    ws->evals_in_flight--;
    for (uint32_t i = 0; i < m->nw && !ws->stopped; i++)
      if (!m->w[i]->deleted) eval_watch(ws, m, m->w[i], &m->res[i]);
    eval_free(m);
    return;
  }
  seed_ctx *sc = m->seed;
  sc->parts[sc->n++] = m;
  if (--sc->outstanding > 0) return;
  lp_watch *w = m->w[0];
  int failed = 0;
  for (uint32_t i = 0; i < sc->n; i++) failed |= sc->parts[i]->res[0].failed;
  if (failed) lp_log_warn("watch seed incomplete: out of memory on a worker", "watch=%s", w->id);
  seed_merge(sc->parts, sc->n, w);
  w->seeded = 1;
  lp__watch_created(ws, w, sc->req);
  for (uint32_t i = 0; i < sc->n; i++) eval_free(sc->parts[i]);
  lp_free(sc);
}

/* A message for nw watches (referenced here). NULL when out of memory. */
static eval_msg *eval_new(lp_watches *ws, lp_watch *const *w, uint32_t nw) {
  eval_msg *m = lp_calloc(1, sizeof(*m));
  if (m == NULL) return NULL;
  m->msg = (lp_msg){ eval_run, eval_done, 0, NULL };
  m->ws = ws;
  m->w = lp_calloc(nw ? nw : 1, sizeof(lp_watch *));
  m->plans = lp_calloc(nw ? nw : 1, sizeof(lp_qplan));
  m->res = lp_calloc(nw ? nw : 1, sizeof(lp_qresult));
  m->bar = lp_calloc(nw ? nw : 1, sizeof(double));
  if (m->w == NULL || m->plans == NULL || m->res == NULL || m->bar == NULL) {
    eval_free(m);
    return NULL;
  }
  m->model = lp__model_acquire();
  int64_t now = lp_now_ms();
  for (uint32_t i = 0; i < nw; i++) {
    m->w[i] = w[i];
    w[i]->refs++;
    m->plans[i] = w[i]->plan;  /* shallow: the arrays stay the watch's, alive while the reference is */
    m->plans[i].now_ms = now;
    /* A lead enters at min_score, or, in a full set, at the weakest member's score (a tie by domain):
     * the worker renders only the leads that reach this. */
    m->bar[i] = w[i]->min_score;
    if (w[i]->n_set >= w[i]->k && w[i]->n_set > 0 && w[i]->set[weakest(w[i])].score > m->bar[i])
      m->bar[i] = w[i]->set[weakest(w[i])].score;
  }
  m->nw = nw;
  return m;
}

int lp__watch_seed(lp_watches *ws, lp_watch *w, lp_http_req *req) {
  lp_server *srv = ws->srv;
  uint32_t nworkers = lp_workers_count(srv->workers);
  scored_metric(ws);
  seed_ctx *sc = lp_calloc(1, sizeof(*sc) + nworkers * sizeof(eval_msg *));
  eval_msg **msgs = lp_calloc(nworkers, sizeof(eval_msg *));
  int rc = sc != NULL && msgs != NULL ? LP_OK : LP_ENOMEM;
  for (uint32_t i = 0; rc == LP_OK && i < nworkers; i++) {
    eval_msg *m = msgs[i] = eval_new(ws, &w, 1);
    if (m == NULL) {
      rc = LP_ENOMEM;
      break;
    }
    m->seed = sc;
  }
  if (rc != LP_OK) {
    for (uint32_t i = 0; msgs != NULL && i < nworkers; i++)
      if (msgs[i] != NULL) eval_free(msgs[i]);
    lp_free(msgs);
    lp_free(sc);
    return rc;
  }
  sc->req = req;
  sc->outstanding = nworkers;
  for (uint32_t i = 0; i < nworkers; i++) lp_workers_send(srv->workers, i, &msgs[i]->msg);
  lp_free(msgs);
  return LP_OK;
}

/* ---- touches -------------------------------------------------------------------------------------- */

static void on_coalesce(uv_timer_t *t) {
  lp_watches *ws = t->data;
  lp_server *srv = ws->srv;
  ws->timer_armed = 0;
  if (ws->stopped || ws->touched == NULL) return;
  for (uint32_t i = 0; i < ws->n_workers; i++) {
    lp_watch_touch *q = &ws->touched[i];
    if (q->n == 0) continue;
    eval_msg *m = ws->n > 0 ? eval_new(ws, ws->v, ws->n) : NULL;
    if (m == NULL) {
      if (ws->n > 0) lp_log_warn("watch evaluation skipped: out of memory", "touched=%zu", q->n);
      for (size_t j = 0; j < q->n; j++) lp_free(q->v[j].domain);
      q->n = 0;
      continue;
    }
    qsort(q->v, q->n, sizeof(touch), cmp_touch);
    size_t u = 0;
    for (size_t j = 0; j < q->n; j++) {  /* one per domain: the last touch (its snippet) wins */
      if (u > 0 && strcmp(q->v[u - 1].domain, q->v[j].domain) == 0) {
        lp_free(q->v[u - 1].domain);
        q->v[u - 1] = q->v[j];
      } else {
        q->v[u++] = q->v[j];
      }
    }
    m->t = q->v;
    m->nt = u;
    q->v = NULL;
    q->n = q->cap = 0;
    ws->evals_in_flight++;
    lp_workers_send(srv->workers, i, &m->msg);
  }
}

void lp__watches_touch(lp_server *srv, uint32_t shard, const char *domain, size_t len, const char *id,
                       size_t id_len) {
  lp_watches *ws = srv->watches;
  if (!lp__watches_active(srv)) return;
  uint32_t nworkers = lp_workers_count(srv->workers);
  if (ws->touched == NULL) {
    if ((ws->touched = lp_calloc(nworkers, sizeof(lp_watch_touch))) == NULL) return;
    ws->n_workers = nworkers;
  }
  lp_watch_touch *q = &ws->touched[lp_workers_owner(shard, nworkers)];
  if (q->n == q->cap) {
    size_t cap = q->cap ? q->cap * 2 : 64;
    touch *v = lp_realloc(q->v, cap * sizeof(touch));
    if (v == NULL) return;
    q->v = v;
    q->cap = cap;
  }
  char *d = lp_malloc(len + id_len + 2);
  if (d == NULL) return;
  memcpy(d, domain, len);
  d[len] = '\0';
  if (id_len > 0) memcpy(d + len + 1, id, id_len);
  d[len + 1 + id_len] = '\0';
  q->v[q->n++] = (touch){ d, d + len + 1, shard };
  if (!ws->timer_armed) {
    ws->timer_armed = 1;
    uv_timer_start(&ws->coalesce, on_coalesce, (uint64_t)srv->cfg->watch.coalesce_ms, 0);
  }
}

void lp__watches_touch_clear(lp_watches *ws) {
  if (ws->touched == NULL) return;
  for (uint32_t i = 0; i < ws->n_workers; i++) {
    for (size_t j = 0; j < ws->touched[i].n; j++) lp_free(ws->touched[i].v[j].domain);
    lp_free(ws->touched[i].v);
  }
  lp_free(ws->touched);
  ws->touched = NULL;
}
