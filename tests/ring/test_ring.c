#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>

#include "leadpoet/common.h"
#include "ring/ring.h"

Test(ring, rejects_bad_capacity) {
  lp_ring r;
  cr_assert_eq(lp_ring_init(&r, 0), LP_EINVAL);
  cr_assert_eq(lp_ring_init(&r, 3), LP_EINVAL);
  cr_assert_eq(lp_ring_init(&r, 1), LP_EINVAL);
}

Test(ring, fifo_full_and_empty) {
  lp_ring r;
  cr_assert_eq(lp_ring_init(&r, 4), LP_OK);
  cr_assert_null(lp_ring_pop(&r));
  for (uintptr_t i = 1; i <= 4; i++) cr_assert_eq(lp_ring_push(&r, (void *)i), LP_OK);
  cr_assert_eq(lp_ring_push(&r, (void *)5), LP_EAGAIN, "a full ring refuses the push");
  cr_assert_eq(lp_ring_size(&r), 4);
  cr_assert_eq((uintptr_t)lp_ring_pop(&r), 1);
  cr_assert_eq(lp_ring_push(&r, (void *)5), LP_OK, "one slot freed, one push fits");
  for (uintptr_t i = 2; i <= 5; i++) cr_assert_eq((uintptr_t)lp_ring_pop(&r), i);
  cr_assert_null(lp_ring_pop(&r));
  cr_assert_eq(lp_ring_size(&r), 0);
  lp_ring_destroy(&r);
}

Test(ring, wraps_around_many_times) {
  lp_ring r;
  cr_assert_eq(lp_ring_init(&r, 8), LP_OK);
  uintptr_t next_in = 1, next_out = 1;
  for (int round = 0; round < 10000; round++) {
    int n = round % 8 + 1;
    for (int i = 0; i < n; i++) cr_assert_eq(lp_ring_push(&r, (void *)next_in++), LP_OK);
    for (int i = 0; i < n; i++) cr_assert_eq((uintptr_t)lp_ring_pop(&r), next_out++);
  }
  lp_ring_destroy(&r);
}

#define STRESS_N 2000000u

static void *producer(void *arg) {
  lp_ring *r = arg;
  for (uintptr_t i = 1; i <= STRESS_N;) {
    if (lp_ring_push(r, (void *)i) == LP_OK) i++;
  }
  return NULL;
}

/* Two threads, a small ring so that it is full and empty often: every message arrives once, in order. */
Test(ring, two_thread_stress_keeps_order, .timeout = 120) {
  lp_ring r;
  cr_assert_eq(lp_ring_init(&r, 64), LP_OK);
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, producer, &r), 0);
  uintptr_t expect = 1;
  uint64_t sum = 0;
  while (expect <= STRESS_N) {
    void *m = lp_ring_pop(&r);
    if (m == NULL) continue;
    cr_assert_eq((uintptr_t)m, expect, "message %lu out of order", (unsigned long)expect);
    sum += (uintptr_t)m;
    expect++;
  }
  pthread_join(t, NULL);
  cr_assert_null(lp_ring_pop(&r));
  cr_assert_eq(sum, (uint64_t)STRESS_N * (STRESS_N + 1) / 2);
  lp_ring_destroy(&r);
}
