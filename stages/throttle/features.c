/*
 * features.c: what the throttle reads in a snippet's text: normalised words, a 64-bit simhash for
 * near-duplicates, and the two kinds of keyword stuffing.
 *
 * Keyword stuffing (both thresholds are in [stage.throttle]):
 *  - repetition: one word (of 3 bytes or more, not a stop word) is more than stuffing_share of the words
 *    of a text of at least stuffing_min_tokens words ("kubernetes kubernetes kubernetes hiring ...");
 *  - buzzword lists: at least buzzword_min distinct technology/marketing buzzwords that together make
 *    more than buzzword_share of the words ("ai blockchain saas kubernetes crm cloud web3 ..."). A real
 *    job posting names a handful of tools inside sentences and stays well under half.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "stages/throttle/throttle.h"

#define MAX_WORDS 2048   /* a 4096-byte text holds at most 2048 words of 1 byte */

static int word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

/* Words are cut at separators and folded to lower case into a buffer of the same length, so that the
 * callback's pointer stays valid for the whole call of lp__throttle_words. */
size_t lp__throttle_words(lp_str text, lp__throttle_word_fn fn, void *ud) {
  char low[4096];
  size_t n = text.len < sizeof(low) ? text.len : sizeof(low);
  size_t count = 0;
  for (size_t i = 0; i < n;) {
    while (i < n && !word_byte((unsigned char)text.ptr[i])) i++;
    size_t start = i;
    while (i < n && word_byte((unsigned char)text.ptr[i])) {
      char c = text.ptr[i];
      low[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
      i++;
    }
    if (i > start) {
      fn(ud, low + start, i - start);
      count++;
    }
  }
  return count;
}

typedef struct simhash_acc {
  int32_t v[64];
  uint64_t prev;
  int has_prev;
  uint32_t words;
} simhash_acc;

static void add_feature(simhash_acc *a, uint64_t h, int32_t w) {
  for (int b = 0; b < 64; b++) a->v[b] += ((h >> b) & 1u) ? w : -w;
}

static void simhash_word(void *ud, const char *w, size_t n) {
  simhash_acc *a = ud;
  uint64_t h = XXH3_64bits(w, n);
  add_feature(a, h, 1);
  /* the bigram: the word hashed with the previous word's hash as seed, so word order counts */
  if (a->has_prev) add_feature(a, XXH3_64bits_withSeed(w, n, a->prev), 2);
  a->prev = h;
  a->has_prev = 1;
  a->words++;
}

uint64_t lp__throttle_simhash(lp_str text, uint32_t *n_words) {
  simhash_acc a;
  memset(&a, 0, sizeof(a));
  lp__throttle_words(text, simhash_word, &a);
  uint64_t fp = 0;
  for (int b = 0; b < 64; b++)
    if (a.v[b] > 0) fp |= (uint64_t)1 << b;
  *n_words = a.words;
  return fp;
}

/* Technology and marketing buzzwords, lower case, one word each. Words that are also ordinary English
 * ("go", "edge", "rest", "digital") are left out: they would flag honest prose. */
static const char *const buzzwords[] = {
  "ai", "ml", "llm", "llms", "genai", "gpt", "chatgpt", "openai", "nlp", "saas", "paas", "iaas", "crm", "erp",
  "api", "apis", "aws", "azure", "gcp", "kubernetes", "k8s", "docker", "terraform", "ansible", "devops",
  "devsecops", "mlops", "microservices", "serverless", "blockchain", "crypto", "web3", "nft", "metaverse",
  "bigdata", "iot", "5g", "python", "java", "javascript", "typescript", "golang", "rust", "react", "angular",
  "vue", "nodejs", "kafka", "spark", "hadoop", "snowflake", "databricks", "salesforce", "hubspot", "marketo",
  "zendesk", "jira", "github", "gitlab", "jenkins", "datadog", "splunk", "elasticsearch", "mongodb",
  "postgres", "postgresql", "mysql", "redis", "graphql", "fintech", "insurtech", "martech", "adtech",
  "cybersecurity", "synergy", "disruptive", "scalable", "agile", "scrum", "automation", "analytics",
  "cloud", "heroku", "vercel", "netlify", "stripe", "shopify", "segment", "twilio", "okta", "tableau",
  "looker", "dbt", "airflow", "pytorch", "tensorflow", "sap", "oracle", "workday", "servicenow", "b2b",
  "b2c", "roi", "kpi", "omnichannel", "growthhacking", "seo", "sem", "ppc", "cdn", "vpn", "sso", "saml",
};

static const char *const stopwords[] = {
  "and", "the", "for", "with", "our", "you", "your", "are", "from", "this", "that", "will", "its", "has",
  "have", "who", "all", "can", "not", "but", "new", "was", "their", "they", "into", "per", "more",
};

static int in_list(const char *const *list, size_t n_list, const char *w, size_t n) {
  for (size_t i = 0; i < n_list; i++)
    if (strlen(list[i]) == n && memcmp(list[i], w, n) == 0) return 1;
  return 0;
}

int lp__throttle_is_buzzword(const char *w, size_t n) {
  return in_list(buzzwords, sizeof(buzzwords) / sizeof(buzzwords[0]), w, n);
}

typedef struct stuff_acc {
  uint64_t rep[MAX_WORDS];      /* hashes of the words that count for repetition */
  uint64_t buzz[MAX_WORDS];     /* hashes of the buzzwords */
  uint32_t n_rep, n_buzz, words;
} stuff_acc;

static void stuff_word(void *ud, const char *w, size_t n) {
  stuff_acc *a = ud;
  a->words++;
  if (n >= 3 && !in_list(stopwords, sizeof(stopwords) / sizeof(stopwords[0]), w, n) && a->n_rep < MAX_WORDS)
    a->rep[a->n_rep++] = XXH3_64bits(w, n);
  if (lp__throttle_is_buzzword(w, n) && a->n_buzz < MAX_WORDS) a->buzz[a->n_buzz++] = XXH3_64bits(w, n);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* The longest run of equal values in a sorted array, and the number of distinct values. */
static void runs(uint64_t *v, uint32_t n, uint32_t *longest, uint32_t *distinct) {
  *longest = 0;
  *distinct = 0;
  qsort(v, n, sizeof(v[0]), cmp_u64);
  for (uint32_t i = 0; i < n;) {
    uint32_t j = i + 1;
    while (j < n && v[j] == v[i]) j++;
    if (j - i > *longest) *longest = j - i;
    (*distinct)++;
    i = j;
  }
}

const char *lp__throttle_stuffing(lp_str text, const lp_throttle_conf *c, char *msg, size_t msg_size) {
  static _Thread_local stuff_acc a;  /* 32 KiB: too large for a loop thread's stack, reused per call */
  a.n_rep = a.n_buzz = a.words = 0;
  lp__throttle_words(text, stuff_word, &a);
  if (a.words == 0 || a.words < (uint64_t)c->stuffing_min_tokens) return NULL;
  uint32_t longest, distinct;
  runs(a.rep, a.n_rep, &longest, &distinct);
  if ((double)longest > c->stuffing_share * (double)a.words) {
    snprintf(msg, msg_size, "one word is %u of its %u words (more than %.2f)", (unsigned)longest,
             (unsigned)a.words, c->stuffing_share);
    return "keyword_stuffing";
  }
  runs(a.buzz, a.n_buzz, &longest, &distinct);
  if (distinct >= (uint64_t)c->buzzword_min && (double)a.n_buzz > c->buzzword_share * (double)a.words) {
    snprintf(msg, msg_size, "%u buzzwords (%u distinct) in %u words (more than %.2f)", (unsigned)a.n_buzz,
             (unsigned)distinct, (unsigned)a.words, c->buzzword_share);
    return "keyword_stuffing";
  }
  return NULL;
}
