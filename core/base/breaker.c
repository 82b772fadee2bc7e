/* breaker.c: the circuit breaker (see breaker.h). */
#include "base/breaker.h"

#include <string.h>

void lp_breaker_init(lp_breaker *b, uint32_t window, uint32_t min_calls, double threshold, int64_t cooldown_ms) {
  memset(b, 0, sizeof(*b));
  b->window = window < 1 ? 1 : window > LP_BREAKER_MAX_WINDOW ? LP_BREAKER_MAX_WINDOW : window;
  b->min_calls = min_calls < 1 ? 1 : min_calls > b->window ? b->window : min_calls;
  b->threshold = threshold;
  b->cooldown_ms = cooldown_ms;
}

static void reset_window(lp_breaker *b) {
  b->head = b->count = b->errors = 0;
}

static void open_now(lp_breaker *b, int64_t now_ms) {
  b->state = LP_BREAKER_OPEN;
  b->open_until_ms = now_ms + b->cooldown_ms;
  b->probe_in_flight = 0;
  b->opened++;
  reset_window(b);
}

int lp_breaker_allow(lp_breaker *b, int64_t now_ms) {
  if (b->state == LP_BREAKER_OPEN) {
    if (now_ms < b->open_until_ms) return 0;
    b->state = LP_BREAKER_HALF_OPEN;
    b->probe_in_flight = 0;
  }
  if (b->state == LP_BREAKER_HALF_OPEN) {
    if (b->probe_in_flight) return 0;
    b->probe_in_flight = 1;
  }
  return 1;
}

void lp_breaker_record(lp_breaker *b, int ok, int64_t now_ms) {
  if (b->state == LP_BREAKER_HALF_OPEN) {
    if (ok) {
      b->state = LP_BREAKER_CLOSED;
      b->probe_in_flight = 0;
      reset_window(b);
    } else {
      open_now(b, now_ms);
    }
    return;
  }
  if (b->state == LP_BREAKER_OPEN) return;  /* a call that started before it opened */
  uint32_t slot = (b->head + b->count) % b->window;
  if (b->count == b->window) {
    b->errors -= b->ring[b->head];
    b->head = (b->head + 1) % b->window;
    slot = (b->head + b->count - 1) % b->window;
  } else {
    b->count++;
  }
  b->ring[slot] = ok ? 0 : 1;
  b->errors += b->ring[slot];
  if (b->count >= b->min_calls && (double)b->errors >= b->threshold * (double)b->count) open_now(b, now_ms);
}

void lp_breaker_unused(lp_breaker *b) {
  if (b->state == LP_BREAKER_HALF_OPEN) b->probe_in_flight = 0;
}

const char *lp_breaker_state_name(const lp_breaker *b) {
  return b->state == LP_BREAKER_OPEN ? "open" : b->state == LP_BREAKER_HALF_OPEN ? "half_open" : "closed";
}
