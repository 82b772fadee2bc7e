/* The technology table: the embedded data, lookups by name, alias and category, longest match, and a
 * malformed TSV refused with its line number. */
#include <criterion/criterion.h>
#include <string.h>

#include "text/techtable.h"

static lp_techtable *table;

static void load(void) {
  char err[256] = "";
  int rc = lp_techtable_builtin(&table, err, sizeof err);
  cr_assert_eq(rc, 0, "builtin table: %s", err);
}

static void unload(void) {
  lp_techtable_free(table);
  table = NULL;
}

TestSuite(techtable, .init = load, .fini = unload);

static const lp_tech_info *find(const char *s) {
  return lp_techtable_find(table, s, strlen(s));
}

Test(techtable, builtin_is_large) {
  cr_assert_gt(lp_techtable_count(table), 1000);
  cr_assert_gt(lp_techtable_category_count(table), 50);
  for (uint32_t c = 0; c < lp_techtable_category_count(table); c++) {
    cr_assert_not_null(lp_techtable_category_name(table, c));
  }
  cr_assert_null(lp_techtable_category_name(table, lp_techtable_category_count(table)));
  cr_assert_null(lp_techtable_at(table, (uint32_t)lp_techtable_count(table)));
}

Test(techtable, find_by_name_any_case_and_width) {
  const lp_tech_info *t = find("Google Analytics");
  cr_assert_not_null(t);
  cr_assert_str_eq(t->name, "google analytics");
  cr_assert_str_eq(t->display, "Google Analytics");
  cr_assert_eq(t->n_words, 2);
  cr_assert_eq(lp_techtable_at(table, t->id), t);
  cr_assert_eq(find("GOOGLE   analytics"), t);
  cr_assert_eq(find("\xef\xbc\xb3\xef\xbd\x94\xef\xbd\x92\xef\xbd\x89\xef\xbd\x90\xef\xbd\x85"), find("stripe"));
  cr_assert_not_null(find("stripe"));
  cr_assert_str_eq(lp_techtable_description(table, t->id) ? "ok" : "", "ok");
  cr_assert_null(find("no such technology anywhere"));
  cr_assert_null(find(""));
}

Test(techtable, aliases_by_rule_and_by_hand) {
  const lp_tech_info *node = find("node.js");
  cr_assert_not_null(node);
  cr_assert_eq(find("Node.JS"), node);
  cr_assert_eq(find("nodejs"), node);
  cr_assert_eq(find("node"), node);
  const lp_tech_info *aws = find("Amazon Web Services");
  cr_assert_not_null(aws);
  cr_assert_eq(find("AWS"), aws);
  cr_assert_eq(find("vue"), find("vue.js"));
  cr_assert_eq(find("k8s"), find("kubernetes"));
  cr_assert_not_null(find("C#"));
  cr_assert_not_null(find(".NET"));
  cr_assert_str_eq(find("dotnet")->name, ".net");
  /* A parenthesised part gives two aliases. */
  cr_assert_eq(find("baidu analytics"), find("Baidu Analytics (\xe7\x99\xbe\xe5\xba\xa6\xe7\xbb\x9f\xe8\xae\xa1)"));
  /* ".js" is not stripped when what remains is an ordinary word. */
  cr_assert_neq(find("chart"), find("chart.js"));
}

Test(techtable, categories_and_synonyms) {
  const lp_tech_info *stripe = find("stripe");
  cr_assert_not_null(stripe);
  int pay = lp_techtable_category_find(table, "Payment processors", 18);
  cr_assert_geq(pay, 0);
  cr_assert_str_eq(lp_techtable_category_name(table, (uint32_t)pay), "Payment processors");
  cr_assert_eq(lp_techtable_category_find(table, "payments", 8), pay);
  cr_assert_eq(lp_techtable_category_find(table, "PAYMENT PROCESSOR", 17), pay);
  int found = 0;
  for (uint32_t i = 0; i < stripe->n_categories; i++) found |= stripe->categories[i] == pay;
  cr_assert(found, "stripe is a payment processor");
  const char *syn[] = { "crm", "analytics", "ci", "hosting", "cdn", "ecommerce", "e-commerce" };
  for (size_t i = 0; i < sizeof syn / sizeof syn[0]; i++) {
    cr_assert_geq(lp_techtable_category_find(table, syn[i], strlen(syn[i])), 0, "%s", syn[i]);
  }
  cr_assert_str_eq(lp_techtable_category_name(table, (uint32_t)lp_techtable_category_find(table, "crm", 3)), "CRM");
  cr_assert_eq(lp_techtable_category_find(table, "gardening", 9), -1);
}

static const lp_tech_info *match(const char *const *w, size_t n, size_t *used) {
  lp_str words[8];
  for (size_t i = 0; i < n; i++) words[i] = (lp_str){ w[i], strlen(w[i]) };
  return lp_techtable_match(table, words, n, used);
}

Test(techtable, longest_match) {
  size_t used;
  const char *ga4[] = { "google", "analytics", "4", "dashboards" };
  const lp_tech_info *t = match(ga4, 4, &used);
  cr_assert_not_null(t);
  cr_assert_str_eq(t->name, "google analytics 4");
  cr_assert_eq(used, 3);
  t = match(ga4, 2, &used);
  cr_assert_str_eq(t->name, "google analytics");
  cr_assert_eq(used, 2);
  const char *ga[] = { "google", "analytics", "and", "stripe" };
  t = match(ga, 4, &used);
  cr_assert_str_eq(t->name, "google analytics");
  cr_assert_eq(used, 2);
  const char *none[] = { "hiring", "engineers" };
  cr_assert_null(match(none, 2, &used));
  cr_assert_eq(used, 0);
  cr_assert_null(lp_techtable_match(table, NULL, 0, &used));
}

Test(techtable, category_match_longest) {
  size_t used;
  lp_str w[] = { LP_STR_LIT("payment"), LP_STR_LIT("processors"), LP_STR_LIT("and") };
  int pay = lp_techtable_category_find(table, "payments", 8);
  cr_assert_eq(lp_techtable_category_match(table, w, 3, &used), pay);
  cr_assert_eq(used, 2);
  lp_str store[] = { LP_STR_LIT("online"), LP_STR_LIT("store") };
  cr_assert_eq(lp_techtable_category_match(table, store, 2, &used), lp_techtable_category_find(table, "ecommerce", 9));
  cr_assert_eq(used, 2);
  lp_str none[] = { LP_STR_LIT("gardening") };
  cr_assert_eq(lp_techtable_category_match(table, none, 1, &used), -1);
  cr_assert_eq(used, 0);
  cr_assert_eq(lp_techtable_category_match(table, none, 0, &used), -1);
}

/* Small tables from text: the format and each way it can be wrong. */
static int from_text(const char *text, lp_techtable **t, char *err, size_t n) {
  return lp_techtable_from_text(t, text, strlen(text), err, n);
}

#define HEADER "# test\nC\t1\tPayment processors\tpayments|billing\nC\t7\tCRM\n"

Test(techtable_text, small_table_loads) {
  lp_techtable *t;
  char err[256] = "";
  int rc = from_text(HEADER "T\tstripe\tStripe\t\t1\tPayments.\r\nT\tfoo crm\tFoo CRM\tfoo|fc\t7,1\n\n", &t, err, sizeof err);
  cr_assert_eq(rc, 0, "%s", err);
  cr_assert_eq(lp_techtable_count(t), 2);
  cr_assert_eq(lp_techtable_category_count(t), 2);
  const lp_tech_info *foo = lp_techtable_find(t, "FC", 2);
  cr_assert_not_null(foo);
  cr_assert_str_eq(foo->name, "foo crm");
  cr_assert_eq(foo->n_categories, 2);
  cr_assert_eq(foo->categories[0], 1);
  cr_assert_eq(foo->categories[1], 0);
  cr_assert_str_eq(lp_techtable_description(t, 0), "Payments.");
  cr_assert_str_eq(lp_techtable_description(t, 1), "");
  cr_assert_eq(lp_techtable_category_find(t, "billing", 7), 0);
  lp_techtable_free(t);
}

static void refused_n(const char *text, size_t len, const char *expect) {
  lp_techtable *t = (lp_techtable *)1;
  char err[256] = "";
  int rc = lp_techtable_from_text(&t, text, len, err, sizeof err);
  cr_assert_lt(rc, 0, "accepted: %s", text);
  cr_assert_null(t);
  cr_assert(strstr(err, expect) != NULL, "error \"%s\" lacks \"%s\"", err, expect);
}

static void refused(const char *text, const char *expect) {
  refused_n(text, strlen(text), expect);
}

Test(techtable_text, malformed_refused_with_line) {
  refused(HEADER "X\tfoo\n", "line 4: a line starts with C, T or #");
  refused(HEADER "T\tfo\xff\tFoo\t\t1\n", "line 4: invalid UTF-8");
  refused_n("C\t1\tA\0B\n", 8, "line 1: a NUL byte");
  refused(HEADER "T\tfoo\tFoo\t\t9\n", "line 4: a category id that no C line above defines");
  refused(HEADER "T\tfoo\tFoo\t\tx\n", "line 4:");
  refused(HEADER "T\tfoo\tFoo\n", "line 4: a T line has 5 or 6");
  refused(HEADER "T\tfoo\tFoo\t\t1\td\textra\n", "line 4: too many");
  refused(HEADER "T\tfoo\tFoo\t\t1\nT\tFOO\tFoo\t\t1\n", "line 5: technology \"foo\" is defined twice");
  refused(HEADER "T\t\tFoo\t\t1\n", "line 4: empty technology name");
  refused(HEADER "T\t!!\tFoo\t\t1\n", "line 4: a technology name has no words");
  refused(HEADER "C\t1\tAgain\n", "line 4: category id defined twice");
  refused(HEADER "C\t70000\tBig\n", "line 4: bad category id");
  refused(HEADER "C\t8\tcrm\n", "line 4: category name or synonym \"crm\" is used twice");
  refused(HEADER "C\t8\t\n", "line 4: empty category name");
  refused(HEADER "C\t8\n", "line 4: a C line has 3 or 4");
  refused(HEADER "T\tfoo\tFoo\tbar\t1\nT\tbaz\tBaz\tbar\t1\n", "line 5: alias \"bar\" is already");
  refused(HEADER "T\tfoo\tFoo\tbaz\t1\nT\tbaz\tBaz\t\t1\n", "line 4: alias \"baz\" is already");
}

Test(techtable_text, empty_text_is_an_empty_table) {
  lp_techtable *t;
  char err[64];
  cr_assert_eq(lp_techtable_from_text(&t, "", 0, err, sizeof err), 0);
  cr_assert_eq(lp_techtable_count(t), 0);
  cr_assert_null(lp_techtable_find(t, "x", 1));
  cr_assert_eq(lp_techtable_category_find(t, "x", 1), -1);
  size_t used;
  lp_str w = LP_STR_LIT("x");
  cr_assert_null(lp_techtable_match(t, &w, 1, &used));
  lp_techtable_free(t);
}
