#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "shard/termvec.h"
#include "text/analyzer.h"

static uint32_t intern(lp_termpool *p, const char *t) { return lp_termpool_intern(p, t, strlen(t), lp_term_hash(t, strlen(t))); }

Test(termvec, pool_interns_once_and_finds) {
  lp_termpool p;
  cr_assert_eq(lp_termpool_init(&p), LP_OK);
  char w[32];
  for (int i = 0; i < 5000; i++) {
    snprintf(w, sizeof(w), "word%d", i);
    cr_assert_eq(intern(&p, w), (uint32_t)i, "ids are dense");
  }
  cr_assert_eq(intern(&p, "word42"), 42u, "an interned term keeps its id");
  size_t len;
  cr_assert_str_eq(lp_termpool_str(&p, 4999, &len), "word4999");
  cr_assert_eq(len, 8);
  cr_assert_eq(lp_termpool_find(&p, "nope", 4, lp_term_hash("nope", 4)), LP_TERM_NONE);
  cr_assert_eq(lp_termpool_intern(&p, "", 0, 0), LP_TERM_NONE, "empty terms are refused");
  lp_termpool_free(&p);
}

Test(termvec, adds_weights_and_expires_by_day) {
  lp_termvec tv = { 0 };
  cr_assert_eq(lp_termvec_add(&tv, 1, 2.0, 100), LP_OK);
  cr_assert_eq(lp_termvec_add(&tv, 2, 1.0, 105), LP_OK);
  cr_assert_eq(lp_termvec_add(&tv, 1, 3.0, 110), LP_OK);
  cr_assert_float_eq(lp_termvec_weight(&tv, 1), 5.0, 1e-6);
  cr_assert_leq(tv.oldest_day, 105, "a lower bound of the oldest day");
  cr_assert_eq(lp_termvec_expire(&tv, 105), 0, "nothing older than day 105");
  cr_assert_eq(tv.oldest_day, 105, "a scan makes the bound exact: term 1 was refreshed at day 110");
  cr_assert_eq(lp_termvec_expire(&tv, 106), 1);
  cr_assert_float_eq(lp_termvec_weight(&tv, 2), 0.0, 0);
  cr_assert_eq(tv.oldest_day, 110);
  cr_assert_eq(lp_termvec_expire(&tv, 111), 1);
  cr_assert_eq(tv.n, 0);
  lp_termvec_free(&tv);
}

Test(termvec, bounded_the_lightest_term_gives_way) {
  lp_termvec tv = { 0 };
  for (uint32_t t = 0; t < LP_TERMVEC_MAX; t++) cr_assert_eq(lp_termvec_add(&tv, t, 1.0 + t, 10), LP_OK);
  cr_assert_eq(tv.n, LP_TERMVEC_MAX);
  cr_assert_eq(lp_termvec_add(&tv, 9999, 0.5, 11), LP_OK);
  cr_assert_float_eq(lp_termvec_weight(&tv, 9999), 0.0, 0, "lighter than all: not kept");
  cr_assert_eq(lp_termvec_add(&tv, 8888, 100.0, 12), LP_OK);
  cr_assert_float_eq(lp_termvec_weight(&tv, 8888), 100.0, 1e-6, "heavier: kept");
  cr_assert_float_eq(lp_termvec_weight(&tv, 0), 0.0, 0, "the lightest (weight 1) gave way");
  cr_assert_eq(tv.n, LP_TERMVEC_MAX, "memory stays bounded");
  lp_termvec_free(&tv);
}
