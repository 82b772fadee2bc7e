/*
 * breaker.h: a circuit breaker over a sliding window of the last calls to a remote service (the LLM
 * re-rank stage, the enrichment vendor).
 *
 * Closed: calls flow, each outcome enters a ring of the last `window` outcomes; once the ring holds at least
 * `min_calls` outcomes and the share of errors in it reaches `threshold`, the breaker opens. Open: no call
 * for `cooldown_ms`. Then half-open: one probe call at a time; its success closes the breaker with an empty
 * window, its failure opens it again for another cool-down.
 *
 * Plain data, no clock of its own (now_ms is passed in), no allocation, no dependency beyond libc: the
 * LLM plugin compiles this file into itself (plugins reach the core only through the host API). The
 * caller owns the struct; one thread uses a breaker (the reactor, in both users).
 */
#ifndef LP_BASE_BREAKER_H
#define LP_BASE_BREAKER_H

#include <stdint.h>

enum lp_breaker_state { LP_BREAKER_CLOSED = 0, LP_BREAKER_OPEN, LP_BREAKER_HALF_OPEN };

#define LP_BREAKER_MAX_WINDOW 1024

typedef struct lp_breaker {
  uint8_t ring[LP_BREAKER_MAX_WINDOW];  /* 1 = error */
  uint32_t window, min_calls, head, count, errors;
  double threshold;
  int64_t cooldown_ms;
  int64_t open_until_ms;
  int state;                 /* enum lp_breaker_state */
  int probe_in_flight;
  uint64_t opened;           /* times it opened, for logs and tests */
} lp_breaker;

/* window is clamped to 1..LP_BREAKER_MAX_WINDOW, min_calls to 1..window. The breaker starts closed. */
void lp_breaker_init(lp_breaker *b, uint32_t window, uint32_t min_calls, double threshold, int64_t cooldown_ms);
/* 1 when a call may start now (in half-open: this call becomes the probe, and the caller must report its
 * outcome with lp_breaker_record), 0 when it must not. */
int lp_breaker_allow(lp_breaker *b, int64_t now_ms);
/* The outcome of a call that lp_breaker_allow let through. */
void lp_breaker_record(lp_breaker *b, int ok, int64_t now_ms);
/* A call lp_breaker_allow let through was not made after all: in half-open it was the probe, whose slot is
 * free again; nothing is recorded (no outcome happened). */
void lp_breaker_unused(lp_breaker *b);
/* The state as a word for logs and metrics: "closed", "open", "half_open". Static string. */
const char *lp_breaker_state_name(const lp_breaker *b);

#endif
