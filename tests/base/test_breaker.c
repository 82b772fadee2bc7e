/*
 * test_breaker.c: the circuit breaker of core/base/breaker.c, shared by the LLM stage and enrichment:
 * opening at the error share once enough calls are in, the cool-down, the single half-open probe, and
 * how the probe's outcome closes or re-opens it. Time is passed in, so no test waits.
 */
#include <criterion/criterion.h>

#include "base/breaker.h"

static lp_breaker b;

static void calls(int n, int ok, int64_t now) {
  for (int i = 0; i < n; i++) {
    cr_assert(lp_breaker_allow(&b, now));
    lp_breaker_record(&b, ok, now);
  }
}

Test(base_breaker, starts_closed_and_stays_closed_under_min_calls) {
  lp_breaker_init(&b, 10, 5, 0.5, 1000);
  cr_assert_str_eq(lp_breaker_state_name(&b), "closed");
  calls(4, 0, 0);  /* every call failed, but fewer than min_calls */
  cr_assert_eq(b.state, LP_BREAKER_CLOSED);
  calls(1, 0, 0);
  cr_assert_eq(b.state, LP_BREAKER_OPEN);
  cr_assert_str_eq(lp_breaker_state_name(&b), "open");
  cr_assert_eq(b.opened, 1);
}

Test(base_breaker, opens_at_the_threshold_not_below) {
  lp_breaker_init(&b, 10, 10, 0.3, 1000);
  calls(8, 1, 0);
  calls(2, 0, 0);  /* 2 of 10 = 20 % < 30 % */
  cr_assert_eq(b.state, LP_BREAKER_CLOSED);
  calls(1, 0, 0);  /* the window slides: 3 errors of the last 10 = 30 % */
  cr_assert_eq(b.state, LP_BREAKER_OPEN);
}

Test(base_breaker, sliding_window_forgets_old_errors) {
  lp_breaker_init(&b, 4, 4, 0.5, 1000);
  calls(1, 0, 0);
  calls(3, 1, 0);  /* 1 of 4 */
  calls(4, 1, 0);  /* the error left the window */
  cr_assert_eq(b.errors, 0);
  calls(1, 0, 0);
  cr_assert_eq(b.state, LP_BREAKER_CLOSED);
  calls(1, 0, 0);  /* 2 of 4 = 50 % */
  cr_assert_eq(b.state, LP_BREAKER_OPEN);
}

Test(base_breaker, open_refuses_until_the_cooldown_then_one_probe) {
  lp_breaker_init(&b, 2, 1, 0.5, 1000);
  calls(1, 0, 100);
  cr_assert_eq(b.state, LP_BREAKER_OPEN);
  cr_assert_not(lp_breaker_allow(&b, 100));
  cr_assert_not(lp_breaker_allow(&b, 1099));
  cr_assert(lp_breaker_allow(&b, 1100));  /* the probe */
  cr_assert_str_eq(lp_breaker_state_name(&b), "half_open");
  cr_assert_not(lp_breaker_allow(&b, 1100), "one probe at a time");
  lp_breaker_record(&b, 1, 1150);
  cr_assert_eq(b.state, LP_BREAKER_CLOSED);
  cr_assert_eq(b.count, 0, "closing starts an empty window");
  cr_assert(lp_breaker_allow(&b, 1150));
}

Test(base_breaker, failed_probe_reopens_for_another_cooldown) {
  lp_breaker_init(&b, 2, 1, 0.5, 1000);
  calls(1, 0, 0);
  cr_assert(lp_breaker_allow(&b, 1000));
  lp_breaker_record(&b, 0, 1000);
  cr_assert_eq(b.state, LP_BREAKER_OPEN);
  cr_assert_eq(b.opened, 2);
  cr_assert_not(lp_breaker_allow(&b, 1999));
  cr_assert(lp_breaker_allow(&b, 2000));
}

Test(base_breaker, late_outcome_while_open_is_ignored) {
  lp_breaker_init(&b, 4, 1, 0.5, 1000);
  cr_assert(lp_breaker_allow(&b, 0));  /* a call starts ... */
  calls(1, 0, 0);                      /* ... another fails and opens it */
  lp_breaker_record(&b, 1, 10);        /* the first ends while open */
  cr_assert_eq(b.state, LP_BREAKER_OPEN);
  cr_assert_eq(b.count, 0);
}

Test(base_breaker, init_clamps_window_and_min_calls) {
  lp_breaker_init(&b, 0, 0, 0.5, 10);
  cr_assert_eq(b.window, 1);
  cr_assert_eq(b.min_calls, 1);
  lp_breaker_init(&b, 5000, 9000, 0.5, 10);
  cr_assert_eq(b.window, LP_BREAKER_MAX_WINDOW);
  cr_assert_eq(b.min_calls, LP_BREAKER_MAX_WINDOW);
}

Test(base_breaker, an_unused_probe_frees_its_slot_without_an_outcome) {
  lp_breaker_init(&b, 2, 1, 0.5, 1000);
  calls(1, 0, 100);
  cr_assert(lp_breaker_allow(&b, 1100));  /* the probe */
  cr_assert_not(lp_breaker_allow(&b, 1100));
  lp_breaker_unused(&b);                  /* the call was not made after all */
  cr_assert_eq(b.state, LP_BREAKER_HALF_OPEN, "nothing recorded: still half-open");
  cr_assert(lp_breaker_allow(&b, 1100), "the next call may be the probe");
  lp_breaker_unused(&b);
  lp_breaker_init(&b, 2, 1, 0.5, 1000);
  lp_breaker_unused(&b);                  /* closed: nothing to free */
  cr_assert_eq(b.state, LP_BREAKER_CLOSED);
}
