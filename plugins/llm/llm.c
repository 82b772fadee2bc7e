/*
 * llm.c: the LLM re-rank stage (stage ABI 1.2), a plugin.
 *
 * After a query's answer is merged, the host offers it to on_rerank with the query's remaining budget.
 * The stage calls an OpenAI-compatible chat-completions endpoint on the reactor's loop for the top
 * max_candidates leads, and only when all of these hold (else it declines and nothing is spent):
 *   - an API key is set (secrets.openai_api_key or OPENAI_API_KEY): without one the stage is off;
 *   - the answer is uncertain: the window's scores lie within gate_margin of the best one (a clear winner
 *     needs no paid opinion; this gate is what keeps the share of paid queries low);
 *   - the estimated cost of one call (prompt bytes / 4 tokens at price_in_per_1k, max_output_tokens at
 *     price_out_per_1k) fits the query's budget and today's daily_budget_usd;
 *   - the circuit breaker allows a call (core/base/breaker.h).
 * Its answer (one relevance per lead) is blended with the model's scores (llm_blend); garbage, an error
 * status, a time-out or a closed connection leave the model's order and only feed the breaker.
 *
 * Counters: leadpoet_stage_calls_total{stage="llm",label="ok"|"error"} per HTTP attempt (read by the
 * LeadpoetLlmErrorRateHigh alert), leadpoet_stage_skips_total{stage="llm",label=why} per declined query.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "llm.h"

#define K(name, type, def, lo, hi, desc) { #name, (type), (def), (lo), (hi), offsetof(llm_conf, name), (desc) }

static const lp_conf_key llm_keys[] = {
  K(base_url, LP_CONF_STRING, "http://127.0.0.1:8089/v1", 1.0, 0.0,
    "OpenAI-compatible API root, http:// only: point it at an egress TLS proxy for https providers"),
  K(model, LP_CONF_STRING, "gpt-4o-mini", 1.0, 0.0, "model name sent in each request"),
  K(timeout_ms, LP_CONF_DURATION_MS, "3s", 10, 600000, "deadline of one attempt: resolve, connect, send, answer"),
  K(retries, LP_CONF_INT, "1", 0, 5, "extra attempts after a transport error, HTTP 429 or 5xx"),
  K(retry_backoff_ms, LP_CONF_DURATION_MS, "200ms", 1, 60000,
    "first retry's delay, doubled per retry, times a random jitter in [0.5, 1.5)"),
  K(price_in_per_1k, LP_CONF_DOUBLE, "0.00015", 0, 1000, "USD per 1,000 prompt tokens"),
  K(price_out_per_1k, LP_CONF_DOUBLE, "0.0006", 0, 1000, "USD per 1,000 completion tokens"),
  K(max_candidates, LP_CONF_INT, "10", 2, 100, "leads at the top of the answer that the model re-scores"),
  K(max_output_tokens, LP_CONF_INT, "200", 16, 8192, "max_tokens of the completion (and of the cost estimate)"),
  K(gate_margin, LP_CONF_DOUBLE, "0.15", 0, 1,
    "call only when the window's lowest score is within this share of its best (uncertain answers)"),
  K(weight, LP_CONF_DOUBLE, "0.7", 0, 1, "share of the model's relevance in a re-scored lead's new score"),
  K(breaker_window, LP_CONF_INT, "20", 1, LP_BREAKER_MAX_WINDOW, "calls in the breaker's sliding window"),
  K(breaker_min_calls, LP_CONF_INT, "10", 1, LP_BREAKER_MAX_WINDOW, "calls in the window before it may open"),
  K(breaker_threshold, LP_CONF_DOUBLE, "0.2", 0.01, 1, "share of errors in the window that opens the breaker"),
  K(breaker_cooldown_ms, LP_CONF_DURATION_MS, "30s", 1, 86400000,
    "time the breaker stays open before one probe call"),
  K(daily_budget_usd, LP_CONF_DOUBLE, "10", 0, 1e9, "most the stage spends per UTC day, all queries together"),
  K(max_response, LP_CONF_SIZE, "1m", 1024, 67108864, "largest response body read"),
  { NULL, 0, NULL, 0, 0, 0, NULL },
};

/* The key comes from the core config (the file's [secrets] openai_api_key, or OPENAI_API_KEY /
 * LEADPOET_SECRETS_OPENAI_API_KEY from the environment), never from [stage.llm]: one place for secrets. */
static int read_key(llm_stage *st, char *errstr, size_t errstr_size) {
  char key[512] = "";
  int rc = st->host->config_get != NULL ? st->host->config_get("secrets", "openai_api_key", key, sizeof(key))
                                        : LP_ENOENT;
  if (rc == LP_ENOENT) {
    const char *env = getenv("OPENAI_API_KEY");
    snprintf(key, sizeof(key), "%s", env != NULL ? env : "");
  } else if (rc != LP_OK) {
    snprintf(errstr, errstr_size, "secrets.openai_api_key: cannot read it (%s)",
             rc == LP_ERANGE ? "longer than 511 bytes" : "host error");
    return LP_ECONFIG;
  }
  for (const char *p = key; *p; p++) {
    if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) {
      snprintf(errstr, errstr_size, "secrets.openai_api_key: holds a space or a control character");
      return LP_ECONFIG;
    }
  }
  st->enabled = key[0] != '\0';
  if (st->enabled) snprintf(st->auth, sizeof(st->auth), "Accept: application/json\r\nAuthorization: Bearer %s\r\n", key);
  return LP_OK;
}

static void make_counters(llm_stage *st) {
  const lp_host_api *h = st->host;
  static const char calls_help[] = "LLM stage HTTP attempts, by outcome (ok, error).";
  static const char skips_help[] = "Queries the LLM stage declined, by reason.";
  st->calls_ok = h->counter(LLM_STAGE, "calls", calls_help, "ok");
  st->calls_error = h->counter(LLM_STAGE, "calls", calls_help, "error");
  st->skip_off = h->counter(LLM_STAGE, "skips", skips_help, "off");
  st->skip_gate = h->counter(LLM_STAGE, "skips", skips_help, "confident");
  st->skip_budget = h->counter(LLM_STAGE, "skips", skips_help, "budget");
  st->skip_daily = h->counter(LLM_STAGE, "skips", skips_help, "daily_budget");
  st->skip_breaker = h->counter(LLM_STAGE, "skips", skips_help, "breaker_open");
}

static int llm_init(const lp_host_api *host, const void *conf, void **stage, char *errstr, size_t errstr_size) {
  const llm_conf *k = conf;
  if (host->abi_major != LP_STAGE_ABI_MAJOR || host->abi_minor < 2) {
    snprintf(errstr, errstr_size, "needs host API 1.2 or later (got %u.%u)", (unsigned)host->abi_major,
             (unsigned)host->abi_minor);
    return LP_EABI;
  }
  if (k->breaker_min_calls > k->breaker_window) {
    snprintf(errstr, errstr_size, "breaker_min_calls (%lld) must not exceed breaker_window (%lld)",
             (long long)k->breaker_min_calls, (long long)k->breaker_window);
    return LP_ECONFIG;
  }
  if (k->model == NULL || k->model[0] == '\0') {
    snprintf(errstr, errstr_size, "model must not be empty");
    return LP_ECONFIG;
  }
  llm_stage *st = host->calloc(1, sizeof(*st));
  if (st == NULL) return LP_ENOMEM;
  st->host = host;
  st->conf = k;
  char why[200];
  int rc = lp_httpc_url_parse(k->base_url, &st->url, why, sizeof(why));
  if (rc != LP_OK) snprintf(errstr, errstr_size, "base_url: %s", why);
  size_t pl = strlen(st->url.path);  /* base_url is a prefix: "/v1/" and "/v1" both lead to /v1/chat/... */
  while (pl > 0 && st->url.path[pl - 1] == '/') st->url.path[--pl] = '\0';
  if (rc == LP_OK) rc = read_key(st, errstr, errstr_size);
  if (rc != LP_OK) {
    host->free(st);
    return rc == LP_EINVAL ? LP_ECONFIG : rc;
  }
  lp_breaker_init(&st->breaker, (uint32_t)k->breaker_window, (uint32_t)k->breaker_min_calls, k->breaker_threshold,
                   k->breaker_cooldown_ms);
  st->rng = (uint64_t)host->now_ms() * 0x9E3779B97F4A7C15ULL | 1;
  make_counters(st);
  host->log(LP_LOG_INFO, LLM_STAGE, "LLM re-rank %s: base_url=%s model=%s max_candidates=%lld gate_margin=%.3f",
            st->enabled ? "on" : "off (no API key: secrets.openai_api_key / OPENAI_API_KEY)", k->base_url, k->model,
            (long long)k->max_candidates, k->gate_margin);
  *stage = st;
  return LP_OK;
}

static void llm_destroy(void *stage) {
  llm_stage *st = stage;
  if (st != NULL) st->host->free(st);
}

/* Snippets pass: the stage only acts on answers. */
static int llm_on_snippet(void *shard_state, const lp_snippet *s, lp_verdict *v) {
  (void)shard_state;
  (void)s;
  (void)v;
  return LP_STAGE_CONTINUE;
}

/* The window is uncertain when its last score is within gate_margin of its best. */
static int uncertain(const llm_stage *st, const lp_rerank_req *req, uint32_t m) {
  double best = req->cands[0].score, last = req->cands[m - 1].score;
  if (!(best > 0)) return 1;  /* nothing to go by: the model has no opinion */
  return (best - last) / best <= st->conf->gate_margin;
}

static int skip(llm_stage *st, lp_counter *why) {
  st->host->counter_add(why, 1);
  return LP_RERANK_SKIP;
}

static int llm_on_rerank(void *stage, const lp_rerank_req *req, lp_rerank_done_fn done, void *done_ud) {
  llm_stage *st = stage;
  const llm_conf *k = st->conf;
  if (!st->enabled) return skip(st, st->skip_off);
  uint32_t m = req->n < (uint32_t)k->max_candidates ? req->n : (uint32_t)k->max_candidates;
  if (m < 2 || !uncertain(st, req, m)) return skip(st, st->skip_gate);
  size_t len = 0;
  double tokens_in = 0;
  char *body = llm_chat_body(st->host, k->model, req->prompt, req->cands, m, k->max_output_tokens, &len, &tokens_in);
  if (body == NULL) return LP_ENOMEM;
  double estimate = tokens_in / 1000.0 * k->price_in_per_1k + (double)k->max_output_tokens / 1000.0 * k->price_out_per_1k;
  lp_counter *why = estimate > req->budget_usd ? st->skip_budget
                  : !llm_daily_allows(st, estimate, st->host->now_ms()) ? st->skip_daily
                  : !lp_breaker_allow(&st->breaker, st->host->now_ms()) ? st->skip_breaker : NULL;
  if (why != NULL) {
    st->host->free(body);
    int rc = skip(st, why);
    return why == st->skip_budget ? LP_RERANK_OVER_BUDGET : rc;
  }
  return llm_call_start(st, req, m, body, len, estimate, done, done_ud);
}

static const lp_stage_desc llm_desc = {
  LP_STAGE_DESC_HEADER,
  .name = LLM_STAGE,
  .description = "re-ranks uncertain answers with an OpenAI-compatible LLM, within the query's max_cost_usd",
  .conf_keys = llm_keys,
  .conf_size = sizeof(llm_conf),
  .init = llm_init,
  .on_snippet = llm_on_snippet,
  .destroy = llm_destroy,
  .on_rerank = llm_on_rerank,
};

__attribute__((visibility("default"))) const lp_stage_desc *lp_stage_entry(void);
__attribute__((visibility("default"))) const lp_stage_desc *lp_stage_entry(void) { return &llm_desc; }
