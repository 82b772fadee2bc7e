/*
 * llm.h: the LLM re-rank stage's state, shared by llm.c (descriptor, configuration, gate) and call.c (one
 * re-rank: attempts, retries, breaker, cost).
 *
 * Threads: init and destroy on the main thread; everything else on the reactor (on_rerank and the loop's
 * callbacks), so the state needs no lock.
 */
#ifndef LP_LLM_H
#define LP_LLM_H

#include <stdint.h>

#include "base/breaker.h"
#include "http/client.h"
#include "leadpoet/stage.h"

#define LLM_STAGE "llm"

/* [stage.llm]; see the key table in llm.c for meanings and defaults. */
typedef struct llm_conf {
  char *base_url;
  char *model;
  int64_t timeout_ms;
  int64_t retries;
  int64_t retry_backoff_ms;
  double price_in_per_1k;
  double price_out_per_1k;
  int64_t max_candidates;
  int64_t max_output_tokens;
  double gate_margin;
  double weight;
  int64_t breaker_window;
  int64_t breaker_min_calls;
  double breaker_threshold;
  int64_t breaker_cooldown_ms;
  double daily_budget_usd;
  int64_t max_response;
} llm_conf;

typedef struct llm_stage {
  const lp_host_api *host;
  const llm_conf *conf;
  lp_httpc_url url;
  char auth[600];            /* "Accept: ...\r\nAuthorization: Bearer ...\r\n", "" when off */
  int enabled;               /* an API key was found */
  lp_breaker breaker;
  int64_t day;               /* UTC day of spent_today */
  double spent_today;
  uint64_t rng;              /* jitter */
  uint32_t in_flight;
  lp_counter *calls_ok, *calls_error;
  lp_counter *skip_off, *skip_gate, *skip_budget, *skip_daily, *skip_breaker;
} llm_stage;

/* Starts one re-rank of req's first m candidates with the request body (taken: freed here on every path)
 * whose one-attempt cost is estimate_usd. The breaker has already allowed the first attempt. LP_OK (done
 * follows from the loop), or a negative code (nothing started, done never called). Reactor. */
int llm_call_start(llm_stage *st, const lp_rerank_req *req, uint32_t m, char *body, size_t body_len,
                   double estimate_usd, lp_rerank_done_fn done, void *done_ud);

/* Charges usd to today's spend (the day rolls at UTC midnight). */
void llm_spend(llm_stage *st, double usd, int64_t now_ms);
/* 1 when usd more would stay within daily_budget_usd today. */
int llm_daily_allows(llm_stage *st, double usd, int64_t now_ms);

/* The new scores of cands[0..m) from the model's relevances rel[0..m): a blend of the model's relevance
 * (weight) and the old score's place in the window, mapped into [lo, lo + span] with lo = cands[m-1].score,
 * so every re-scored lead stays at or above the leads after the window. Pure. */
void llm_blend(const lp_rerank_cand *cands, uint32_t m, const double *rel, double weight, double *out);

#endif
