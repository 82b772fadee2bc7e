/*
 * breaker.h: the LLM stage's circuit breaker over a sliding window of the last calls.
 *
 * Closed: calls flow, each outcome enters a ring of the last `window` outcomes; once the ring holds at least
 * `min_calls` outcomes and the share of errors in it reaches `threshold`, the breaker opens. Open: no call
 * for `cooldown_ms`. Then half-open: one probe call at a time; its success closes the breaker with an empty
 * window, its failure opens it again for another cool-down.
 *
 * Plain data, no clock of its own (now_ms is passed in), no allocation past init. Reactor thread only.
 */
#ifndef LP_LLM_BREAKER_H
#define LP_LLM_BREAKER_H

#include <stdint.h>

enum llm_breaker_state { LLM_BREAKER_CLOSED = 0, LLM_BREAKER_OPEN, LLM_BREAKER_HALF_OPEN };

#define LLM_BREAKER_MAX_WINDOW 1024

typedef struct llm_breaker {
  uint8_t ring[LLM_BREAKER_MAX_WINDOW];  /* 1 = error */
  uint32_t window, min_calls, head, count, errors;
  double threshold;
  int64_t cooldown_ms;
  int64_t open_until_ms;
  int state;                 /* enum llm_breaker_state */
  int probe_in_flight;
  uint64_t opened;           /* times it opened, for logs and tests */
} llm_breaker;

/* window is clamped to 1..LLM_BREAKER_MAX_WINDOW, min_calls to 1..window. */
void llm_breaker_init(llm_breaker *b, uint32_t window, uint32_t min_calls, double threshold, int64_t cooldown_ms);
/* 1 when a call may start now (in half-open: this call becomes the probe), 0 when it must not. */
int llm_breaker_allow(llm_breaker *b, int64_t now_ms);
/* The outcome of a call that llm_breaker_allow let through. */
void llm_breaker_record(llm_breaker *b, int ok, int64_t now_ms);
/* The state as a word for logs: "closed", "open", "half_open". */
const char *llm_breaker_state_name(const llm_breaker *b);

#endif
