/* call.c: one re-rank: attempts with time-outs, retries with jitter under the breaker and the budget, the
 * cost of what was paid, and the one done() call. */
#include <stdio.h>
#include <string.h>

#include "chat.h"
#include "llm.h"

typedef struct llm_call {
  llm_stage *st;
  const lp_rerank_req *req;
  lp_rerank_done_fn done;
  void *done_ud;
  uint32_t m;
  char *body;
  size_t body_len;
  double estimate;           /* one attempt's cost, before it is known */
  double spent;
  uint32_t calls;
  uint32_t attempt;          /* attempts started */
  uv_timer_t backoff;
  char why[200];
  double *rel;               /* m relevances from the model */
  double *scores;            /* m new scores */
} llm_call;

#define DAY_MS 86400000LL

void llm_spend(llm_stage *st, double usd, int64_t now_ms) {
  int64_t day = now_ms / DAY_MS;
  if (day != st->day) {
    st->day = day;
    st->spent_today = 0;
  }
  st->spent_today += usd;
}

int llm_daily_allows(llm_stage *st, double usd, int64_t now_ms) {
  double today = now_ms / DAY_MS == st->day ? st->spent_today : 0;
  return today + usd <= st->conf->daily_budget_usd;
}

void llm_blend(const lp_rerank_cand *cands, uint32_t m, const double *rel, double weight, double *out) {
  double hi = cands[0].score, lo = cands[m - 1].score;
  for (uint32_t i = 0; i < m; i++) {
    if (cands[i].score > hi) hi = cands[i].score;
    if (cands[i].score < lo) lo = cands[i].score;
  }
  double span = hi - lo > 1e-3 ? hi - lo : 1e-3;  /* a tie still gets an order the answer can print */
  for (uint32_t i = 0; i < m; i++) {
    double place = hi > lo ? (cands[i].score - lo) / (hi - lo) : 0;
    out[i] = lo + span * (weight * rel[i] + (1 - weight) * place);
  }
}

static void on_closed(uv_handle_t *h) {
  llm_call *c = h->data;
  const lp_host_api *host = c->st->host;
  host->free(c->body);
  host->free(c->rel);
  host->free(c);
}

/* Hands the result to the host once, then lets go of the call. */
static void finish(llm_call *c, int status) {
  llm_stage *st = c->st;
  lp_rerank_result res = { status, status == LP_OK ? c->scores : NULL, status == LP_OK ? c->m : 0, c->spent,
                           c->calls, status == LP_OK ? NULL : c->why };
  st->in_flight--;
  if (status != LP_OK)
    st->host->log(LP_LOG_DEBUG, LLM_STAGE, "re-rank failed, the model's order stands: %s (breaker %s)", c->why,
                  lp_breaker_state_name(&st->breaker));
  c->done(c->done_ud, &res);
  uv_close((uv_handle_t *)&c->backoff, on_closed);
}

static void on_http(void *ud, int err, const char *why, const lp_httpc_res *res);

static int attempt(llm_call *c) {
  llm_stage *st = c->st;
  c->attempt++;
  lp_httpc_alloc a = { st->host->malloc, st->host->realloc, st->host->free };
  lp_httpc_req r = { "POST", &st->url, "/chat/completions", "application/json", st->auth, c->body, c->body_len,
                     (uint64_t)st->conf->timeout_ms, (size_t)st->conf->max_response, &a };
  return lp_httpc_request(c->req->loop, &r, on_http, c, NULL);
}

static void on_backoff(uv_timer_t *t) {
  llm_call *c = t->data;
  int rc = attempt(c);
  if (rc != LP_OK) {
    lp_breaker_record(&c->st->breaker, 0, c->st->host->now_ms());
    snprintf(c->why, sizeof(c->why), "cannot start a retry: %d", rc);
    finish(c, rc);
  }
}

/* The next attempt, if the error is worth one and the breaker, the query's budget and the day's budget all
 * allow it. Jitter: the back-off times a factor in [0.5, 1.5), so that many queries failing together do not
 * retry together. */
static int retry(llm_call *c, int retryable) {
  llm_stage *st = c->st;
  int64_t now = st->host->now_ms();
  if (!retryable || c->attempt > (uint32_t)st->conf->retries) return 0;
  if (c->spent + c->estimate > c->req->budget_usd || !llm_daily_allows(st, c->estimate, now)) return 0;
  if (!lp_breaker_allow(&st->breaker, now)) return 0;
  st->rng ^= st->rng << 13;
  st->rng ^= st->rng >> 7;
  st->rng ^= st->rng << 17;
  double jitter = 0.5 + (double)(st->rng >> 11) / 9007199254740992.0;
  double delay = (double)st->conf->retry_backoff_ms * (double)(1u << (c->attempt - 1 < 10 ? c->attempt - 1 : 10));
  uv_timer_start(&c->backoff, on_backoff, (uint64_t)(delay * jitter), 0);
  return 1;
}

/* What an attempt cost: the usage the provider reported, else the estimate for a 200 (billed, unread) or a
 * transport failure after which the provider may have billed; nothing for an HTTP error status. */
static double attempt_cost(const llm_call *c, int err, int status, long tin, long tout) {
  const llm_conf *k = c->st->conf;
  if (err == LP_OK && status == 200 && tin >= 0 && tout >= 0)
    return (double)tin / 1000.0 * k->price_in_per_1k + (double)tout / 1000.0 * k->price_out_per_1k;
  if (err != LP_OK || status == 200) return c->estimate;
  return 0;
}

static void on_http(void *ud, int err, const char *why, const lp_httpc_res *res) {
  llm_call *c = ud;
  int status = res != NULL ? res->status : 0;
  const char *body = res != NULL ? res->body : NULL;
  size_t len = res != NULL ? res->body_len : 0;
  llm_stage *st = c->st;
  int64_t now = st->host->now_ms();
  long tin = -1, tout = -1;
  int rc = err;
  if (err != LP_OK) {
    snprintf(c->why, sizeof(c->why), "attempt %u: %s", (unsigned)c->attempt, why != NULL ? why : "I/O error");
  } else if (status != 200) {
    snprintf(c->why, sizeof(c->why), "attempt %u: HTTP %d", (unsigned)c->attempt, status);
    rc = LP_EIO;
  } else {
    char pw[160] = "";
    rc = llm_chat_parse(body, len, c->m, c->rel, &tin, &tout, pw, sizeof(pw));
    if (rc != LP_OK) snprintf(c->why, sizeof(c->why), "attempt %u: %s", (unsigned)c->attempt, pw);
  }
  double cost = attempt_cost(c, err, status, tin, tout);
  c->spent += cost;
  c->calls++;
  llm_spend(st, cost, now);
  int before = st->breaker.state;
  lp_breaker_record(&st->breaker, rc == LP_OK, now);
  if (st->breaker.state != before && st->breaker.state != LP_BREAKER_HALF_OPEN)
    st->host->log(st->breaker.state == LP_BREAKER_OPEN ? LP_LOG_WARN : LP_LOG_INFO, LLM_STAGE,
                  "circuit breaker %s (last error: %s)", lp_breaker_state_name(&st->breaker),
                  rc == LP_OK ? "none" : c->why);
  st->host->counter_add(rc == LP_OK ? st->calls_ok : st->calls_error, 1);
  if (rc == LP_OK) {
    llm_blend(c->req->cands, c->m, c->rel, st->conf->weight, c->scores);
    finish(c, LP_OK);
    return;
  }
  int retryable = err != LP_OK || status == 429 || status >= 500;
  if (!retry(c, retryable)) finish(c, rc);
}

int llm_call_start(llm_stage *st, const lp_rerank_req *req, uint32_t m, char *body, size_t body_len,
                   double estimate_usd, lp_rerank_done_fn done, void *done_ud) {
  const lp_host_api *host = st->host;
  llm_call *c = host->calloc(1, sizeof(*c));
  double *rel = host->calloc(2 * (size_t)m, sizeof(double));
  if (c == NULL || rel == NULL) {
    host->free(c);
    host->free(rel);
    host->free(body);
    lp_breaker_record(&st->breaker, 0, host->now_ms());
    return LP_ENOMEM;
  }
  *c = (llm_call){ .st = st, .req = req, .done = done, .done_ud = done_ud, .m = m, .body = body,
                   .body_len = body_len, .estimate = estimate_usd, .rel = rel, .scores = rel + m };
  uv_timer_init((uv_loop_t *)req->loop, &c->backoff);
  c->backoff.data = c;
  int rc = attempt(c);
  if (rc != LP_OK) {
    lp_breaker_record(&st->breaker, 0, host->now_ms());
    c->done = NULL;
    uv_close((uv_handle_t *)&c->backoff, on_closed);
    return rc;
  }
  st->in_flight++;
  return LP_OK;
}
