/* The throttle's spam rules for what perf/world's spammers send (features.c): a list of tool names and
 * category words is keyword stuffing while a sentence of the same length is not, and a template filled in
 * with another company's name and a number has the same masked fingerprint. */
#include <criterion/criterion.h>
#include <string.h>

#include "stages/throttle/throttle.h"

static const lp_throttle_conf conf = { .stuffing_share = 0.3, .stuffing_min_tokens = 8, .buzzword_share = 0.5,
                                       .buzzword_min = 6 };

static const char *judge(const char *text) {
  static char msg[200];
  return lp__throttle_stuffing((lp_str){ text, strlen(text) }, &conf, msg, sizeof msg);
}

Test(throttle_lists, a_list_of_tool_names_is_stuffing) {
  const char *list = "Tagra Systems payroll terraform autocomplete render search api zoho crm help scout user "
                     "management adyen lead nurturing demo leads buy";
  cr_assert_str_eq(judge(list), "keyword_stuffing");
  char msg[200];
  uint64_t fp;
  uint32_t words;
  cr_assert_str_eq(lp__throttle_content((lp_str){ list, strlen(list) }, &conf, msg, sizeof msg, &fp, &words),
                   "keyword_stuffing");
  cr_assert(strstr(msg, "function words") != NULL, "%s", msg);
}

Test(throttle_lists, sentences_of_the_same_length_are_not) {
  cr_assert_null(judge("Job post at Verlumrex, London: Head of Ecommerce. Experience with online store and "
                       "salesforce commerce cloud required."));
  cr_assert_null(judge("Drahal Software opened a Sales Operations Manager role; the posting mentions deal "
                       "tracking and the need to cut CRM licence costs."));
}

Test(throttle_lists, short_texts_are_never_lists) {
  cr_assert_null(judge("pipedrive detected on voxsta.io"));
  cr_assert_null(judge("Toror Networks now runs pipedrive and zoho crm"));
}

static uint64_t masked_fp(const char *text, const char *name) {
  char msg[200];
  uint64_t fp;
  uint32_t words;
  lp_str n = name ? (lp_str){ name, strlen(name) } : (lp_str){ NULL, 0 };
  lp__throttle_content_masked((lp_str){ text, strlen(text) }, n, &conf, msg, sizeof msg, &fp, &words);
  return fp;
}

Test(throttle_lists, a_template_over_many_companies_is_one_fingerprint) {
  const char *a = "HOT LEAD: Acme wants payroll and crm this quarter. Decision makers engaged. Verified intent. #12";
  const char *b = "HOT LEAD: Zeta Labs wants payroll and crm this quarter. Decision makers engaged. Verified intent!!!";
  cr_assert_eq(masked_fp(a, "Acme"), masked_fp(b, "Zeta Labs"));
  /* Unmasked, the names and the number set them apart. */
  cr_assert_neq(masked_fp(a, NULL), masked_fp(b, NULL));
  /* Without a name, only digit-only words are left out. */
  cr_assert_eq(masked_fp("Acme wants payroll 12", ""), masked_fp("Acme wants payroll 97", ""));
  cr_assert_neq(masked_fp("Acme wants payroll", ""), masked_fp("Zeta wants payroll", ""));
}
