/* The throttle's text features computed in one pass (features.c): the simhash equals the textbook
 * definition (a signed vote per bit over the word and bigram features), long texts included (the byte-lane
 * counters are flushed many times), and the combined call agrees with the separate ones. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "stages/throttle/throttle.h"

typedef struct ref_acc {
  int32_t v[64];
  uint64_t prev;
  uint32_t words;
} ref_acc;

static void ref_add(ref_acc *a, uint64_t h, int32_t w) {
  for (int b = 0; b < 64; b++) a->v[b] += ((h >> b) & 1u) ? w : -w;
}

static void ref_word(void *ud, const char *w, size_t n) {
  ref_acc *a = ud;
  uint64_t h = XXH3_64bits(w, n);
  ref_add(a, h, 1);
  if (a->words > 0) ref_add(a, XXH3_64bits_withSeed(w, n, a->prev), 2);
  a->prev = h;
  a->words++;
}

static uint64_t ref_simhash(const char *text, uint32_t *words) {
  ref_acc a;
  memset(&a, 0, sizeof(a));
  lp__throttle_words((lp_str){ text, strlen(text) }, ref_word, &a);
  uint64_t fp = 0;
  for (int b = 0; b < 64; b++)
    if (a.v[b] > 0) fp |= (uint64_t)1 << b;
  *words = a.words;
  return fp;
}

static void check_text(const char *text) {
  uint32_t w_ref = 0, w = 0, w2 = 0;
  uint64_t want = ref_simhash(text, &w_ref);
  uint64_t got = lp__throttle_simhash((lp_str){ text, strlen(text) }, &w);
  cr_assert_eq(got, want, "simhash %016llx, want %016llx for \"%.60s\"", (unsigned long long)got,
               (unsigned long long)want, text);
  cr_assert_eq(w, w_ref);
  lp_throttle_conf c = { .stuffing_share = 0.3, .stuffing_min_tokens = 8, .buzzword_share = 0.5, .buzzword_min = 4 };
  char m1[200] = "", m2[200] = "";
  uint64_t fp = 0;
  const char *a = lp__throttle_stuffing((lp_str){ text, strlen(text) }, &c, m1, sizeof(m1));
  const char *b = lp__throttle_content((lp_str){ text, strlen(text) }, &c, m2, sizeof(m2), &fp, &w2);
  cr_assert_eq(a, b);
  cr_assert_str_eq(m1, m2);
  cr_assert_eq(fp, want);
  cr_assert_eq(w2, w_ref);
}

Test(throttle_features, simhash_matches_the_definition) {
  check_text("");
  check_text("one");
  check_text("Acme Corp is hiring a Senior Platform Engineer in Berlin to lead the migration of our billing "
             "services from Heroku to Kubernetes on AWS.");
  check_text("Grün GmbH eröffnet ein Büro in München — café, naïve résumé");
}

Test(throttle_features, long_texts_flush_the_lane_counters) {
  char text[4096];
  size_t n = 0;
  for (int i = 0; n + 16 < sizeof(text); i++) n += (size_t)snprintf(text + n, sizeof(text) - n, "w%d x ", i % 37);
  check_text(text);   /* ~700 words: weight far above one byte lane */
  memset(text, 0, sizeof(text));
  for (n = 0; n + 4 < sizeof(text);) n += (size_t)snprintf(text + n, sizeof(text) - n, "ab ");
  check_text(text);   /* one word repeated: every feature votes the same way */
}

Test(throttle_features, buzzwords_and_stuffing) {
  cr_assert(lp__throttle_is_buzzword("kubernetes", 10));
  cr_assert(lp__throttle_is_buzzword("ai", 2));
  cr_assert_not(lp__throttle_is_buzzword("kubernete", 9));
  cr_assert_not(lp__throttle_is_buzzword("the", 3));
  lp_throttle_conf c = { .stuffing_share = 0.3, .stuffing_min_tokens = 8, .buzzword_share = 0.5, .buzzword_min = 4 };
  char msg[200];
  const char *stuffed = "kubernetes kubernetes kubernetes kubernetes hiring now in berlin kubernetes";
  cr_assert_str_eq(lp__throttle_stuffing((lp_str){ stuffed, strlen(stuffed) }, &c, msg, sizeof(msg)),
                   "keyword_stuffing");
  const char *buzz = "ai blockchain saas kubernetes crm cloud web3 devops at acme";
  cr_assert_str_eq(lp__throttle_stuffing((lp_str){ buzz, strlen(buzz) }, &c, msg, sizeof(msg)), "keyword_stuffing");
  const char *and = "and and and and and and and and the the";   /* stop words never count as repetition */
  cr_assert_null(lp__throttle_stuffing((lp_str){ and, strlen(and) }, &c, msg, sizeof(msg)));
  check_text(stuffed);
  check_text(buzz);
}
