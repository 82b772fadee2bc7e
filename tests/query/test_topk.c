#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/topk.h"

Test(topk, keeps_the_best_k_in_answer_order) {
  lp_topk t;
  cr_assert_eq(lp_topk_init(&t, 3), 0);
  const char *keys[] = { "e.com", "a.com", "d.com", "b.com", "c.com" };
  double scores[] = { 1.0, 5.0, 3.0, 5.0, 0.5 };
  for (int i = 0; i < 5; i++) {
    void *ev;
    lp_topk_push(&t, scores[i], keys[i], (void *)keys[i], &ev);
  }
  size_t n;
  lp_topk_entry *e = lp_topk_sorted(&t, &n);
  cr_assert_eq(n, 3);
  cr_assert_str_eq(e[0].key, "a.com", "ties on score go to the lower domain");
  cr_assert_str_eq(e[1].key, "b.com");
  cr_assert_str_eq(e[2].key, "d.com");
  lp_topk_free(&t);
}

Test(topk, evicted_payloads_come_back) {
  lp_topk t;
  lp_topk_init(&t, 1);
  void *ev = (void *)1;
  cr_assert_eq(lp_topk_push(&t, 1.0, "b", "pb", &ev), 1);
  cr_assert_null(ev);
  cr_assert_eq(lp_topk_push(&t, 1.0, "c", "pc", &ev), 0, "same score, higher key: does not enter");
  cr_assert_str_eq(ev, "pc");
  cr_assert_eq(lp_topk_push(&t, 1.0, "a", "pa", &ev), 1, "same score, lower key: enters");
  cr_assert_str_eq(ev, "pb");
  cr_assert_float_eq(lp_topk_threshold(&t), 1.0, 0);
  lp_topk_free(&t);
}

Test(topk, zero_k_takes_nothing) {
  lp_topk t;
  lp_topk_init(&t, 0);
  void *ev;
  cr_assert_eq(lp_topk_push(&t, 9.0, "a", "x", &ev), 0);
  size_t n;
  lp_topk_sorted(&t, &n);
  cr_assert_eq(n, 0);
  lp_topk_free(&t);
}

static int cmp_ref(const void *a, const void *b) {
  const lp_topk_entry *x = a, *y = b;
  return lp_topk_better(x->score, x->key, y->score, y->key) ? -1 : lp_topk_better(y->score, y->key, x->score, x->key);
}

Test(topk, equals_a_full_sort_on_random_input) {
  srand(7);
  static char keys[2000][32];
  static lp_topk_entry all[2000];
  for (int round = 0; round < 50; round++) {
    size_t n = 1 + (size_t)(rand() % 2000), k = 1 + (size_t)(rand() % 100);
    lp_topk t;
    lp_topk_init(&t, k);
    for (size_t i = 0; i < n; i++) {
      snprintf(keys[i], sizeof(keys[i]), "d%zu.com", i);
      all[i] = (lp_topk_entry){ (double)(rand() % 50), keys[i], NULL };
      lp_topk_push(&t, all[i].score, all[i].key, NULL, NULL);
    }
    qsort(all, n, sizeof(all[0]), cmp_ref);
    size_t m;
    lp_topk_entry *e = lp_topk_sorted(&t, &m);
    cr_assert_eq(m, n < k ? n : k);
    for (size_t i = 0; i < m; i++) {
      cr_assert_str_eq(e[i].key, all[i].key, "round %d rank %zu", round, i);
      cr_assert_eq(e[i].score, all[i].score);
    }
    lp_topk_free(&t);
  }
}
