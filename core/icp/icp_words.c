/*
 * icp_words.c: the parser's own word lists: stop words, negations, example cues, size words and industry
 * words (industry word -> NAICS 2017 codes). They are code, not data, because each list is tied to a rule of
 * icp_parse.c. Every one-word list is sorted bytewise (lp__icp_words_check verifies it at start) and read
 * with a binary search.
 */
#include <stdlib.h>
#include <string.h>

#include "icp/icp_int.h"

static const char *const stop_words[] = {
  "'s", "a", "about", "above", "account", "accounts", "across", "after", "again", "against", "all",
  "already", "also", "am", "an", "and", "any", "approx", "approximately", "are", "around", "as", "at",
  "b2b", "based", "be", "because", "been", "before", "being", "below", "best", "between", "both", "build",
  "building", "builds", "built", "business", "businesses", "but", "buyer", "buyers", "by", "can", "client",
  "clients", "companies", "company", "could", "currently", "customer", "customers", "did", "do", "does",
  "doing", "done", "down", "driven", "during", "e.g", "each", "eg", "either", "else", "employee",
  "employees", "especially", "etc", "every", "few", "fewer", "find", "finding", "firm", "firms", "focused",
  "for", "from", "further", "get", "had", "has", "have", "having", "he", "headcount", "headquartered",
  "help", "helping", "helps", "her", "here", "hers", "him", "his", "how", "hq", "i", "i'm", "i.e", "icp",
  "ideal", "ie", "if", "in", "include", "includes", "including", "into", "is", "it", "it's", "its",
  "itself", "just", "kind", "lead", "leading", "leads", "least", "less", "let", "let's", "lets", "like",
  "located", "look", "looking", "mainly", "make", "makes", "making", "me", "modern", "more", "most",
  "mostly", "my", "need", "needs", "new", "nor", "of", "off", "offer", "offering", "offerings", "offers",
  "on", "once", "ones", "only", "or", "org", "organisation", "organisations", "organization",
  "organizations", "orgs", "other", "our", "ours", "ourselves", "out", "over", "own", "people", "per",
  "person", "persons", "plus", "powered", "primarily", "product", "products", "profile", "prospect",
  "prospects", "provide", "provides", "providing", "reach", "roughly", "run", "running", "runs", "same",
  "sell", "selling", "sells", "she", "should", "similar", "size", "sized", "so", "sold", "solution",
  "solutions", "some", "staff", "such", "target", "targeted", "targeting", "targets", "team", "teams",
  "than", "that", "that's", "the", "their", "theirs", "them", "then", "there", "these", "they", "this",
  "those", "through", "to", "too", "top", "type", "types", "under", "until", "up", "upon", "us", "use",
  "used", "uses", "using", "very", "via", "vs", "want", "wanted", "wants", "was", "we", "we'd", "we'll",
  "we're", "were", "what", "when", "where", "which", "while", "who", "whom", "whose", "why", "will", "with",
  "within", "would", "you", "your", "yours",
};

static const char *const neg_words[] = {
  "aren't", "arent", "avoid", "avoiding", "doesn't", "doesnt", "don't", "dont", "except", "excl", "exclude",
  "excluded", "excludes", "excluding", "isn't", "isnt", "minus", "never", "no", "non", "nor", "not",
  "outside", "without",
};

static const char *const neg_fillers[] = {
  "a", "already", "an", "any", "are", "based", "built", "businesses", "clients", "companies", "company",
  "currently", "customers", "firms", "for", "from", "headquartered", "in", "including", "is", "like",
  "located", "of", "on", "ones", "organisations", "organizations", "orgs", "run", "running", "sell",
  "selling", "that", "the", "those", "to", "use", "used", "users", "uses", "using", "which", "who", "with",
  "yet",
};

static const char *const like_words[] = {
  "e.g", "eg", "like", "lookalike", "lookalikes", "resembling",
};

static const char *const tech_cues[] = {
  "atop", "built", "from", "leaving", "migrate", "migrating", "on", "replace", "replacing", "run",
  "running", "runs", "stack", "switch", "switching", "use", "used", "uses", "using", "via", "with",
  "without",
};

static const char *const employee_nouns[] = {
  "employee", "employees", "emps", "fte", "ftes", "headcount", "heads", "people", "person", "persons",
  "staff", "staffers", "worker", "workers",
};

static const char *const size_context[] = {
  "employee", "employees", "ftes", "headcount", "size", "staff", "team",
};

static const char *const country_cues[] = {
  "across", "based", "from", "in", "inside", "outside", "throughout", "within",
};

static const char *const safe_codes[] = {
  "AE", "AU", "BR", "CA", "CH", "CL", "CN", "CZ", "DE", "DK", "ES", "FI", "FR", "GB", "GR", "HK", "HU",
  "IE", "IL", "JP", "KE", "KR", "MX", "NG", "NL", "NZ", "PH", "PL", "PT", "RO", "SE", "SG", "TH", "TR",
  "TW", "UA", "US", "UY", "VN", "ZA",
};

/* Size words (phrases of normalised words; '-' in a prompt is a word break). 0 = no bound. */
const lp__icp_size_word lp__icp_size_words[] = {
  { "smb", 1, 99 }, { "smbs", 1, 99 }, { "sme", 1, 99 }, { "smes", 1, 99 },
  { "small business", 1, 99 }, { "small and medium business", 1, 99 },
  { "small and medium sized business", 1, 99 }, { "small and mid sized business", 1, 99 },
  { "small and medium enterprise", 1, 99 }, { "small company", 1, 99 },
  { "mid market", 100, 999 }, { "midmarket", 100, 999 }, { "mid sized", 100, 999 },
  { "midsized", 100, 999 }, { "mid size", 100, 999 }, { "medium sized", 100, 999 },
  { "medium size", 100, 999 }, { "medium business", 100, 999 },
  { "enterprise", 1000, 0 }, { "large enterprise", 1000, 0 }, { "large company", 1000, 0 },
  { "big company", 1000, 0 }, { "fortune 500", 1000, 0 }, { "fortune 1000", 1000, 0 },
  { "startup", 1, 50 }, { "start up", 1, 50 }, { "early stage", 1, 50 },
  { "early stage startup", 1, 50 },
};
const size_t lp__icp_n_size_words = sizeof(lp__icp_size_words) / sizeof(lp__icp_size_words[0]);

/* Industry words of prompts -> NAICS 2017 codes (every code must be in config/data/naics.tsv). A plural
 * finds its singular ("agencies" -> "agency"). Words that usually name what is sold rather than who
 * buys it ("software", "accounting", "security") are deliberately absent. */
const lp__icp_industry_word lp__icp_industry_words[] = {
  { "fintech", "5222 5223" }, { "fin tech", "5222 5223" }, { "financial technology", "5222 5223" },
  { "neobank", "5221" }, { "bank", "5221" }, { "banking", "5221" }, { "credit union", "52213" },
  { "financial services", "52" }, { "financial institution", "52" },
  { "insurance", "524" }, { "insurer", "524" }, { "insurance company", "524" }, { "insurtech", "524" },
  { "saas", "5112" }, { "software company", "5112" }, { "software vendor", "5112" }, { "isv", "5112" },
  { "healthcare", "62" }, { "health care", "62" }, { "healthtech", "62" }, { "health tech", "62" },
  { "hospital", "622" }, { "health system", "622" }, { "clinic", "6214" }, { "dentist", "6212" },
  { "dental practice", "6212" }, { "dental clinic", "6212" },
  { "manufacturing", "31-33" }, { "manufacturer", "31-33" }, { "factory", "31-33" },
  { "agency", "5418" }, { "marketing agency", "5418" }, { "ad agency", "5418" },
  { "advertising agency", "5418" }, { "digital agency", "5418" }, { "creative agency", "5418" },
  { "pr agency", "5418" },
  { "retail", "44-45" }, { "retailer", "44-45" },
  { "ecommerce", "4541" }, { "e commerce", "4541" }, { "online retailer", "4541" },
  { "online store", "4541" }, { "d2c", "4541" }, { "dtc", "4541" }, { "direct to consumer", "4541" },
  { "logistics", "48-49" }, { "freight", "48-49" }, { "transportation", "48-49" }, { "3pl", "4931" },
  { "trucking", "484" }, { "warehousing", "493" },
  { "construction", "23" }, { "contractor", "23" },
  { "real estate", "531" }, { "proptech", "531" }, { "property management", "531311" },
  { "education", "61" }, { "edtech", "61" }, { "school", "6111" }, { "k12", "6111" }, { "k 12", "6111" },
  { "university", "6113" }, { "college", "6113" },
  { "government", "92" }, { "government agency", "92" }, { "public sector", "92" },
  { "nonprofit", "813" }, { "non profit", "813" }, { "not for profit", "813" }, { "ngo", "813" },
  { "charity", "813" },
  { "law firm", "5411" }, { "legal", "5411" }, { "lawyer", "5411" }, { "attorney", "5411" },
  { "accounting firm", "5412" }, { "accountant", "5412" }, { "cpa firm", "5412" },
  { "consulting", "5416" }, { "consultancy", "5416" }, { "consulting firm", "5416" },
  { "restaurant", "7225" }, { "hospitality", "72" }, { "hotel", "7211" },
  { "telecom", "517" }, { "telco", "517" }, { "telecommunications", "517" },
  { "media", "51" }, { "media company", "51" }, { "publisher", "511" },
  { "energy", "22" }, { "utility", "22" }, { "utilities", "22" }, { "oil and gas", "211" },
  { "mining", "21" }, { "agriculture", "11" }, { "farm", "11" }, { "farming", "11" }, { "agtech", "11" },
  { "pharma", "3254" }, { "pharmaceutical", "3254" }, { "biotech", "541714" },
  { "automotive", "3361 4411" }, { "car dealership", "4411" }, { "dealership", "4411" },
  { "staffing", "5613" }, { "staffing agency", "5613" }, { "recruiting agency", "5613" },
  { "recruitment agency", "5613" },
  { "msp", "5415" }, { "managed service provider", "5415" }, { "it services", "5415" },
  { "travel", "5615" }, { "travel agency", "5615" },
  { "wealth management", "5239" }, { "asset management", "5239" }, { "asset manager", "5239" },
  { "investment firm", "5239" }, { "hedge fund", "5239" }, { "private equity", "5239" },
  { "venture capital", "5239" }, { "vc firm", "5239" },
  { "airline", "481" }, { "food and beverage", "311 312" }, { "brewery", "31212" },
  { "wholesale", "42" }, { "wholesaler", "42" }, { "distributor", "42" },
  { "semiconductor", "3344" }, { "aerospace", "3364" }, { "chemical company", "325" },
  { "call center", "561422" }, { "architecture firm", "5413" }, { "engineering firm", "5413" },
  { "gym", "71394" }, { "fitness studio", "71394" },
};
const size_t lp__icp_n_industry_words = sizeof(lp__icp_industry_words) / sizeof(lp__icp_industry_words[0]);

const char *const lp__icp_neg_phrases[] = { "other than", "apart from", "but not", "outside of", "except for" };
const size_t lp__icp_n_neg_phrases = sizeof(lp__icp_neg_phrases) / sizeof(lp__icp_neg_phrases[0]);
const char *const lp__icp_like_phrases[] = {
  "similar to", "such as", "comparable to", "look alike", "look alikes", "lookalikes of", "e g", "companies like",
};
const size_t lp__icp_n_like_phrases = sizeof(lp__icp_like_phrases) / sizeof(lp__icp_like_phrases[0]);

typedef struct word_list {
  const char *const *v;
  size_t n;
  const char *name;
} word_list;

#define LIST(a) { a, sizeof(a) / sizeof(a[0]), #a }

static const word_list lists[] = {
  LIST(stop_words), LIST(neg_words), LIST(neg_fillers), LIST(like_words), LIST(tech_cues),
  LIST(employee_nouns), LIST(size_context), LIST(country_cues), LIST(safe_codes),
};

enum { L_STOP, L_NEG, L_NEGFILL, L_LIKE, L_TECHCUE, L_EMP, L_SIZECTX, L_CCUE, L_SAFE };

/* Compares a C string with w[0..n) in bytewise order, like strcmp. */
static int cmp_word(const char *s, const char *w, size_t n) {
  size_t i = 0;
  for (; i < n; i++) {
    unsigned char a = (unsigned char)s[i], b = (unsigned char)w[i];
    if (a == '\0' || a != b) return a < b ? -1 : 1;
  }
  return s[i] == '\0' ? 0 : 1;
}

static bool in_list(int which, const char *w, size_t n) {
  const word_list *l = &lists[which];
  size_t lo = 0, hi = l->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = cmp_word(l->v[mid], w, n);
    if (c == 0) return true;
    if (c < 0) lo = mid + 1; else hi = mid;
  }
  return false;
}

bool lp__icp_is_stop(const char *w, size_t n) { return in_list(L_STOP, w, n); }
bool lp__icp_is_neg(const char *w, size_t n) { return in_list(L_NEG, w, n); }
bool lp__icp_is_neg_filler(const char *w, size_t n) { return in_list(L_NEGFILL, w, n); }
bool lp__icp_is_like(const char *w, size_t n) { return in_list(L_LIKE, w, n); }
bool lp__icp_is_tech_cue(const char *w, size_t n) { return in_list(L_TECHCUE, w, n); }
bool lp__icp_is_employee_noun(const char *w, size_t n) { return in_list(L_EMP, w, n); }
bool lp__icp_is_size_context(const char *w, size_t n) { return in_list(L_SIZECTX, w, n); }
bool lp__icp_is_country_cue(const char *w, size_t n) { return in_list(L_CCUE, w, n); }
bool lp__icp_is_code_safe(const char *code2) { return in_list(L_SAFE, code2, strlen(code2)); }

/* Every list sorted and free of duplicates, or the name of the first one that is not. */
const char *lp__icp_words_check(void) {
  for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
    for (size_t j = 1; j < lists[i].n; j++) {
      if (strcmp(lists[i].v[j - 1], lists[i].v[j]) >= 0) return lists[i].name;
    }
  }
  return NULL;
}
