/* The answer ring (core/server/answers.c): record, O(1) lookup by query_id, eviction by count and bytes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "server/answers.h"

#define S(x) ((lp_str){ (x), strlen(x) })

static void put(lp_answers *a, const char *qid, const char *domain, const char *m1, const char *m2) {
  lp_answer_builder ab;
  lp__answer_builder_init(&ab);
  lp__answer_lead(&ab, domain, strlen(domain));
  if (m1) lp__answer_miner(&ab, m1, strlen(m1));
  if (m2) lp__answer_miner(&ab, m2, strlen(m2));
  lp__answer_lead(&ab, "other.com", 9);
  lp__answer_miner(&ab, "x", 1);
  cr_assert_eq(lp__answers_put(a, qid, strlen(qid), &ab), LP_OK, "%s", qid);
  lp__answer_builder_free(&ab);
}

Test(answers, lookup_finds_the_miners_shown_for_a_lead) {
  lp_answers *a;
  cr_assert_eq(lp__answers_new(&a, 8, 1 << 20), LP_OK);
  put(a, "q-1", "acme.com", "alice", "bob");
  lp_answer_miners m;
  cr_assert_eq(lp__answers_find(a, S("q-1"), S("acme.com"), &m), LP_OK);
  cr_assert_eq(m.n, 2);
  cr_assert_str_eq(m.id[0], "alice");
  cr_assert_str_eq(m.id[1], "bob");
  cr_assert_eq(lp__answers_find(a, S("q-1"), S("other.com"), &m), LP_OK);
  cr_assert_eq(m.n, 1);
  cr_assert_str_eq(m.id[0], "x");
  cr_assert_eq(lp__answers_find(a, S("q-1"), S("nope.com"), &m), LP_ENOENT, "not in that answer");
  cr_assert_eq(lp__answers_find(a, S("q-2"), S("acme.com"), &m), LP_ENOENT, "no such answer");
  cr_assert_eq(lp__answers_find(a, S(""), S("acme.com"), &m), LP_ENOENT);
  lp__answers_free(a);
}

Test(answers, a_lead_without_evidence_and_repeated_miners) {
  lp_answers *a;
  cr_assert_eq(lp__answers_new(&a, 8, 1 << 20), LP_OK);
  lp_answer_builder ab;
  lp__answer_builder_init(&ab);
  lp__answer_miner(&ab, "orphan", 6);  /* before any lead: ignored */
  lp__answer_lead(&ab, "bare.com", 8);
  lp__answer_lead(&ab, "busy.com", 8);
  for (int i = 0; i < 12; i++) {
    char m[8];
    snprintf(m, sizeof(m), "m%d", i % 10);
    lp__answer_miner(&ab, m, strlen(m));
  }
  cr_assert_eq(lp__answers_put(a, "q", 1, &ab), LP_OK);
  lp_answer_miners m;
  cr_assert_eq(lp__answers_find(a, S("q"), S("bare.com"), &m), LP_OK);
  cr_assert_eq(m.n, 0, "shown without evidence");
  cr_assert_eq(lp__answers_find(a, S("q"), S("busy.com"), &m), LP_OK);
  cr_assert_eq(m.n, LP_ANSWER_MINERS, "distinct, and at most LP_ANSWER_MINERS");
  lp__answer_builder_free(&ab);
  lp__answers_free(a);
}

Test(answers, the_oldest_answer_goes_first_by_count) {
  lp_answers *a;
  cr_assert_eq(lp__answers_new(&a, 100, 1 << 24), LP_OK);
  char q[32];
  for (int i = 0; i < 250; i++) {
    snprintf(q, sizeof(q), "q-%d", i);
    put(a, q, "acme.com", "alice", NULL);
    cr_assert_leq(lp__answers_count(a), 100);
  }
  lp_answer_miners m;
  for (int i = 0; i < 250; i++) {
    snprintf(q, sizeof(q), "q-%d", i);
    int rc = lp__answers_find(a, S(q), S("acme.com"), &m);
    cr_assert_eq(rc, i < 150 ? LP_ENOENT : LP_OK, "%s", q);
  }
  lp__answers_free(a);
}

Test(answers, memory_is_bounded_by_bytes) {
  lp_answers *a;
  cr_assert_eq(lp__answers_new(&a, 1000, 1000), LP_OK);
  char q[32];
  for (int i = 0; i < 100; i++) {
    snprintf(q, sizeof(q), "q-%d", i);
    put(a, q, "acme.com", "alice", "bob");
    cr_assert_leq(lp__answers_bytes(a), 1000);
  }
  cr_assert_lt(lp__answers_count(a), 100);
  cr_assert_gt(lp__answers_count(a), 5);
  lp_answer_miners m;
  cr_assert_eq(lp__answers_find(a, S("q-99"), S("acme.com"), &m), LP_OK);
  cr_assert_eq(lp__answers_find(a, S("q-0"), S("acme.com"), &m), LP_ENOENT);
  /* one answer larger than the whole budget is refused, and the ring keeps what it has */
  size_t before = lp__answers_count(a);
  lp_answer_builder ab;
  lp__answer_builder_init(&ab);
  for (int i = 0; i < 40; i++) lp__answer_lead(&ab, "a-rather-long-domain-name.example.com", 37);
  cr_assert_eq(lp__answers_put(a, "big", 3, &ab), LP_ERANGE);
  cr_assert_eq(lp__answers_count(a), before);
  lp__answer_builder_free(&ab);
  lp__answers_free(a);
}

Test(answers, bad_arguments) {
  lp_answers *a;
  cr_assert_eq(lp__answers_new(&a, 0, 100), LP_EINVAL);
  cr_assert_eq(lp__answers_new(&a, 10, 0), LP_EINVAL);
  cr_assert_eq(lp__answers_new(&a, 10, 1000), LP_OK);
  lp_answer_builder ab;
  lp__answer_builder_init(&ab);
  lp__answer_lead(&ab, "acme.com", 8);
  char longq[80];
  memset(longq, 'q', sizeof(longq));
  cr_assert_eq(lp__answers_put(a, longq, sizeof(longq), &ab), LP_EINVAL, "query_id over 64 bytes");
  cr_assert_eq(lp__answers_put(a, "", 0, &ab), LP_EINVAL);
  char longd[300];
  memset(longd, 'd', sizeof(longd));
  lp__answer_lead(&ab, longd, sizeof(longd));  /* over 255 bytes: the builder fails */
  cr_assert_eq(lp__answers_put(a, "q", 1, &ab), LP_EINVAL);
  lp__answer_lead(&ab, "acme.com", 8);  /* the builder was reset: usable again */
  cr_assert_eq(lp__answers_put(a, "q", 1, &ab), LP_OK);
  cr_assert_eq(lp__answers_count(a), 1);
  lp__answer_builder_free(&ab);
  lp__answers_free(a);
}
