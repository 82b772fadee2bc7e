/* The throttle's content checks: near-duplicates within and across miners, inside and outside the window,
 * the Hamming-distance edges, keyword stuffing, and honest texts that must pass. */
#include "fixture.h"
#include "stages/throttle/throttle.h"

TestSuite(throttle_content, .init = fx_setup, .fini = fx_teardown);

static const char *const posting =
  "Acme Corp is hiring a Senior Platform Engineer in Berlin to lead the migration of our billing services "
  "from Heroku to Kubernetes on AWS, with Terraform for infrastructure and Datadog for monitoring.";

Test(throttle_content, near_duplicates_within_and_across_miners) {
  fx_load("");
  CODE_EQ(fx_admit("alice", "1", T0, posting), NULL);
  CODE_EQ(fx_admit("alice", "1", T0 + 1000, posting), NULL, "the same (miner, id) is the ingest stage's duplicate");
  CODE_EQ(fx_admit("alice", "2", T0 + 2000, posting), "near_duplicate", "re-sent under another id");
  CODE_EQ(fx_admit("bob", "1", T0 + 3000, posting), "near_duplicate", "copied by another miner");
  cr_assert(strstr(fx_v.message, "distance 0") != NULL, "%s", fx_v.message);
  /* case and punctuation do not make a new text */
  CODE_EQ(fx_admit("carol", "1", T0 + 4000,
                   "ACME CORP is hiring a senior platform engineer in Berlin, to lead the migration of our billing "
                   "services from Heroku to Kubernetes on AWS -- with Terraform for infrastructure and Datadog "
                   "for monitoring"), "near_duplicate");
  /* a different text passes */
  CODE_EQ(fx_admit("bob", "2", T0 + 5000,
                   "Globex raised a 40 million dollar Series B led by Sequoia to expand its sales team across "
                   "Europe and open an office in Madrid next spring."), NULL);
}

Test(throttle_content, the_window_is_event_time) {
  fx_load("near_dup_window = 1h\n");
  CODE_EQ(fx_admit("alice", "1", T0, posting), NULL);
  CODE_EQ(fx_admit("bob", "1", T0 + HOUR, posting), "near_duplicate", "at the edge of the window");
  CODE_EQ(fx_admit("bob", "2", T0 + HOUR + 1, posting), NULL, "outside the window: new evidence");
  CODE_EQ(fx_admit("carol", "1", T0 + HOUR + 2, posting), "near_duplicate", "the text seen again just now");
}

Test(throttle_content, short_texts_are_not_compared) {
  fx_load("");
  CODE_EQ(fx_admit("alice", "1", T0, "We are hiring engineers"), NULL);
  CODE_EQ(fx_admit("bob", "1", T0, "We are hiring engineers"), NULL, "under near_dup_min_words");
}

/* Finds a variant of posting whose simhash is at distance 1..3 from it, for the edge tests. */
static int variant(char *out, size_t cap, int *dist) {
  uint32_t w;
  uint64_t base = lp__throttle_simhash((lp_str){ posting, strlen(posting) }, &w);
  for (int i = 0; i < 5000; i++) {
    /* a word of letters: the throttle leaves digit-only words out of its fingerprint */
    snprintf(out, cap, "%s Ref %c%c%c.", posting, 'a' + i % 26, 'a' + i / 26 % 26, 'a' + i / 676 % 26);
    uint64_t fp = lp__throttle_simhash((lp_str){ out, strlen(out) }, &w);
    int d = __builtin_popcountll(base ^ fp);
    if (d >= 1 && d <= 3) {
      *dist = d;
      return 1;
    }
  }
  return 0;
}

Test(throttle_content, hamming_distance_edges) {
  char text[512];
  int d = 0;
  cr_assert(variant(text, sizeof(text), &d), "a variant within distance 3 exists");
  char conf[64];
  snprintf(conf, sizeof(conf), "near_dup_distance = %d\n", d);
  fx_load(conf);
  CODE_EQ(fx_admit("alice", "1", T0, posting), NULL);
  CODE_EQ(fx_admit("bob", "1", T0, text), "near_duplicate", "at exactly the distance configured");
  lp_stages_free(fx_st);
  lp_config_free(&fx_cfg);
  memset(&fx_cfg, 0, sizeof(fx_cfg));
  snprintf(conf, sizeof(conf), "near_dup_distance = %d\n", d - 1);
  fx_load(conf);
  CODE_EQ(fx_admit("alice", "1", T0, posting), NULL);
  CODE_EQ(fx_admit("bob", "1", T0, text), NULL, "one bit further than configured");
}

/* The index itself: every distance up to 3 is found whatever bands the differing bits fall in; 4 is not
 * asked for; generations bound what is kept. */
Test(throttle_content, index_finds_every_distance_up_to_3) {
  const lp_host_api *h = lp_stage_host_api();
  lp__thr_neardup nd;
  cr_assert_eq(lp__thr_nd_init(&nd, h, 1024), LP_OK);
  uint64_t fp = 0x0123456789abcdefULL;
  lp__thr_nd_insert(&nd, fp, 1, T0);
  int dist, resend;
  const int bits[][3] = { { 0, 16, 32 }, { 1, 17, 63 }, { 15, 31, 47 }, { 48, 49, 50 } };
  for (size_t i = 0; i < 4; i++) {
    uint64_t q = fp ^ (1ULL << bits[i][0]) ^ (1ULL << bits[i][1]) ^ (1ULL << bits[i][2]);
    cr_assert_not_null(lp__thr_nd_find(&nd, q, 2, T0, HOUR, 3, &dist, &resend), "case %zu", i);
    cr_assert_eq(dist, 3);
    cr_assert_null(lp__thr_nd_find(&nd, q, 2, T0, HOUR, 2, &dist, &resend), "over the bound");
  }
  cr_assert_null(lp__thr_nd_find(&nd, fp, 1, T0, HOUR, 3, &dist, &resend), "its own key is a re-send");
  cr_assert(resend);
  cr_assert_null(lp__thr_nd_find(&nd, fp, 2, T0 + HOUR + 1, HOUR, 3, &dist, &resend), "outside the window");
  for (uint64_t k = 0; k < 1100; k++) lp__thr_nd_insert(&nd, (k + 1) * 0x9E3779B97F4A7C15ULL, 100 + k, T0);
  cr_assert_null(lp__thr_nd_find(&nd, fp, 2, T0, HOUR, 3, &dist, &resend), "forgotten after two generations");
  cr_assert_not_null(lp__thr_nd_find(&nd, 1100 * 0x9E3779B97F4A7C15ULL, 2, T0, HOUR, 0, &dist, &resend));
  lp__thr_nd_free(&nd, h);
}

Test(throttle_content, keyword_stuffing_is_dropped) {
  fx_load("");
  CODE_EQ(fx_admit("m", "1", T0, "kubernetes kubernetes kubernetes kubernetes hiring kubernetes engineers now"),
          "keyword_stuffing", "one word repeated");
  cr_assert(strstr(fx_v.message, "one word") != NULL, "%s", fx_v.message);
  CODE_EQ(fx_admit("m", "2", T0, "AI blockchain SaaS Kubernetes CRM cloud Web3 analytics automation hiring now"),
          "keyword_stuffing", "a buzzword list");
  cr_assert(strstr(fx_v.message, "buzzwords") != NULL, "%s", fx_v.message);
  CODE_EQ(fx_admit("m", "3", T0, "Python, Java, React, AWS, Docker, Kubernetes, Kafka, Redis: Acme."),
          "keyword_stuffing", "punctuation does not hide a list");
}

Test(throttle_content, honest_texts_pass) {
  fx_load("");
  static const char *const texts[] = {
    "Acme Corp is hiring a Senior Platform Engineer in Berlin to lead the migration of our billing services "
    "from Heroku to Kubernetes on AWS, with Terraform for infrastructure and Datadog for monitoring.",
    "We are looking for a Data Engineer to build our pipelines with Python, Airflow and dbt on Snowflake. "
    "You will work with the analytics team and own the data models behind our customer dashboards.",
    "Globex raised a 40 million dollar Series B led by Sequoia to expand its sales team across Europe.",
    "Initech replaced Salesforce with HubSpot this quarter, according to its head of revenue operations.",
    "The the company said that the new office will open in the spring, and that the team will double.",
    "Job: Backend Developer (Go, PostgreSQL, Redis). Remote in the EU. Salary 70k to 90k EUR.",
    "Short text.",
  };
  for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
    char id[16];
    snprintf(id, sizeof(id), "%zu", i);
    CODE_EQ(fx_admit("m", id, T0 + (int64_t)i, texts[i]), NULL, texts[i]);
  }
}

Test(throttle_content, stuffing_thresholds_come_from_the_config) {
  fx_load("stuffing_share = 0.9\nbuzzword_min = 20\n");
  CODE_EQ(fx_admit("m", "1", T0, "kubernetes kubernetes kubernetes kubernetes hiring kubernetes engineers now"), NULL);
  CODE_EQ(fx_admit("m", "2", T0, "AI blockchain SaaS Kubernetes CRM cloud Web3 analytics automation hiring now"), NULL);
}
