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
 *  - tool lists: a text of at least LIST_MIN_WORDS words (and stuffing_min_tokens) in which at most one
 *    word in LIST_FUNCTION_SHARE is a function word ("the", "of", "for", ...): a list of tool names and
 *    category words ("payroll terraform zoho crm help scout adyen lead nurturing ..."), not a sentence.
 *    English prose runs at a third or more; the shortest honest reports ("X now runs pipedrive for crm")
 *    are below the length at which the rule applies.
 *
 * Near-duplicates of a template: the simhash of lp__throttle_content_masked leaves out the words of the
 * lead's own name and words made of digits only, so "HOT LEAD: Acme wants ... #12" and "HOT LEAD: Zeta
 * Labs wants ... #97" have the same fingerprint: a template copied over many companies is one text.
 */
#include <pthread.h>
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

/* The two lists as hash sets keyed by the XXH3 of the word (computed once per word anyway), each hit
 * confirmed byte for byte: one probe per word instead of a strlen + memcmp per list entry. Built once. */
#define SET_SLOTS 512   /* power of two, > 2x both lists together */

typedef struct word_set {
  uint64_t hash[SET_SLOTS];
  const char *word[SET_SLOTS];   /* NULL: empty */
  uint8_t len[SET_SLOTS];
} word_set;

/* Function words: their share tells a sentence from a list of names (the tool-list rule). */
static const char *const function_words[] = {
  "a", "an", "the", "of", "for", "to", "in", "on", "at", "with", "and", "or", "is", "are", "was", "its",
  "by", "from", "as", "this", "that", "it", "has", "have", "be", "will", "our", "their", "we", "after",
};

#define LIST_MIN_WORDS 12         /* the tool-list rule looks at texts of this many words or more */
#define LIST_FUNCTION_SHARE 20.0  /* ... and flags at most one function word in this many words */

static word_set buzz_set, stop_set, function_set;
static pthread_once_t sets_once = PTHREAD_ONCE_INIT;

static void set_add(word_set *set, const char *w) {
  size_t n = strlen(w);
  uint64_t h = XXH3_64bits(w, n);
  size_t i = h & (SET_SLOTS - 1);
  while (set->word[i] != NULL) i = (i + 1) & (SET_SLOTS - 1);
  set->hash[i] = h;
  set->word[i] = w;
  set->len[i] = (uint8_t)n;
}

static void sets_init(void) {
  for (size_t i = 0; i < sizeof(buzzwords) / sizeof(buzzwords[0]); i++) set_add(&buzz_set, buzzwords[i]);
  for (size_t i = 0; i < sizeof(stopwords) / sizeof(stopwords[0]); i++) set_add(&stop_set, stopwords[i]);
  for (size_t i = 0; i < sizeof(function_words) / sizeof(function_words[0]); i++)
    set_add(&function_set, function_words[i]);
}

static int set_has(const word_set *set, const char *w, size_t n, uint64_t h) {
  for (size_t i = h & (SET_SLOTS - 1); set->word[i] != NULL; i = (i + 1) & (SET_SLOTS - 1))
    if (set->hash[i] == h && set->len[i] == n && memcmp(set->word[i], w, n) == 0) return 1;
  return 0;
}

int lp__throttle_is_buzzword(const char *w, size_t n) {
  pthread_once(&sets_once, sets_init);
  return set_has(&buzz_set, w, n, XXH3_64bits(w, n));
}

/* Everything the checks read in a text, from one pass over its words (each word hashed once):
 * the simhash and the hashes that the two stuffing rules count.
 *
 * Simhash: bit b of the fingerprint is set when the features with bit b set outweigh those without, i.e.
 * 2 * weight(bit b set) > total weight. The per-bit weights are counted 8 bits at a time in byte lanes
 * (spread[x] has byte k = bit k of x), flushed to 32-bit counters before a byte can overflow. */
typedef struct text_features {
  uint64_t rep[MAX_WORDS];      /* hashes of the words that count for repetition */
  uint64_t buzz[MAX_WORDS];     /* hashes of the buzzwords */
  uint32_t n_rep, n_buzz, words, n_function;
  uint64_t *mask;               /* hashes of the words left out of the simhash (the lead's name), or NULL */
  uint32_t n_mask;
  uint64_t lanes[8];            /* byte counters of bits 8k..8k+7 */
  uint32_t pending;             /* weight added to the lanes since the last flush */
  uint32_t ones[64];            /* weight of the features with bit b set */
  uint32_t total;               /* weight of all features */
  uint64_t prev;                /* previous word's hash: the bigram's seed */
} text_features;

static uint64_t spread[256];
static pthread_once_t spread_once = PTHREAD_ONCE_INIT;

static void spread_init(void) {
  for (int x = 0; x < 256; x++)
    for (int k = 0; k < 8; k++)
      if (x & (1 << k)) spread[x] |= (uint64_t)1 << (8 * k);
}

static void lanes_flush(text_features *f) {
  for (int k = 0; k < 8; k++) {
    for (int j = 0; j < 8; j++) f->ones[8 * k + j] += (uint32_t)((f->lanes[k] >> (8 * j)) & 0xff);
    f->lanes[k] = 0;
  }
  f->pending = 0;
}

static void add_feature(text_features *f, uint64_t h, uint32_t w) {
  if (f->pending + w > 255) lanes_flush(f);
  for (int k = 0; k < 8; k++) f->lanes[k] += spread[(h >> (8 * k)) & 0xff] * w;
  f->pending += w;
  f->total += w;
}

static int masked(const text_features *f, const char *w, size_t n, uint64_t h) {
  if (f->mask == NULL) return 0;
  size_t digits = 0;
  while (digits < n && w[digits] >= '0' && w[digits] <= '9') digits++;
  if (digits == n) return 1;
  for (uint32_t i = 0; i < f->n_mask; i++)
    if (f->mask[i] == h) return 1;
  return 0;
}

static void feature_word(void *ud, const char *w, size_t n) {
  text_features *f = ud;
  uint64_t h = XXH3_64bits(w, n);
  if (!masked(f, w, n, h)) {
    add_feature(f, h, 1);
    /* the bigram: the word hashed with the previous word's hash as seed, so word order counts */
    if (f->words > 0) add_feature(f, XXH3_64bits_withSeed(w, n, f->prev), 2);
    f->prev = h;
  }
  f->words++;
  if (set_has(&function_set, w, n, h)) f->n_function++;
  if (n >= 3 && !set_has(&stop_set, w, n, h) && f->n_rep < MAX_WORDS) f->rep[f->n_rep++] = h;
  if (set_has(&buzz_set, w, n, h) && f->n_buzz < MAX_WORDS) f->buzz[f->n_buzz++] = h;
}

/* 32 KiB: too large for a loop thread's stack, reused per call on each thread. */
static void mask_word(void *ud, const char *w, size_t n) {
  text_features *f = ud;
  if (f->n_mask < 16) f->mask[f->n_mask++] = XXH3_64bits(w, n);
}

/* name: words to leave out of the simhash, or {NULL, 0} for none. */
static text_features *features_of(lp_str text, lp_str name) {
  static _Thread_local text_features f;
  static _Thread_local uint64_t mask[16];
  pthread_once(&sets_once, sets_init);
  pthread_once(&spread_once, spread_init);
  f.mask = NULL;
  f.n_mask = 0;
  if (name.ptr != NULL) {
    f.mask = mask;
    lp__throttle_words(name, mask_word, &f);
  }
  f.n_rep = f.n_buzz = f.words = f.n_function = 0;
  f.pending = f.total = 0;
  memset(f.lanes, 0, sizeof(f.lanes));
  memset(f.ones, 0, sizeof(f.ones));
  lp__throttle_words(text, feature_word, &f);
  lanes_flush(&f);
  return &f;
}

static uint64_t features_simhash(const text_features *f) {
  uint64_t fp = 0;
  for (int b = 0; b < 64; b++)
    if (2 * (uint64_t)f->ones[b] > f->total) fp |= (uint64_t)1 << b;
  return fp;
}

uint64_t lp__throttle_simhash(lp_str text, uint32_t *n_words) {
  const text_features *f = features_of(text, (lp_str){ NULL, 0 });
  *n_words = f->words;
  return features_simhash(f);
}

/* Sorts a short array of hashes: insertion sort for the usual few dozen, qsort beyond. */
static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void sort_u64(uint64_t *v, uint32_t n) {
  if (n > 64) {
    qsort(v, n, sizeof(v[0]), cmp_u64);
    return;
  }
  for (uint32_t i = 1; i < n; i++) {
    uint64_t x = v[i];
    uint32_t j = i;
    for (; j > 0 && v[j - 1] > x; j--) v[j] = v[j - 1];
    v[j] = x;
  }
}

/* The longest run of equal values in a sorted array, and the number of distinct values. */
static void runs(uint64_t *v, uint32_t n, uint32_t *longest, uint32_t *distinct) {
  *longest = 0;
  *distinct = 0;
  sort_u64(v, n);
  for (uint32_t i = 0; i < n;) {
    uint32_t j = i + 1;
    while (j < n && v[j] == v[i]) j++;
    if (j - i > *longest) *longest = j - i;
    (*distinct)++;
    i = j;
  }
}

static const char *stuffing_of(text_features *a, const lp_throttle_conf *c, char *msg, size_t msg_size) {
  if (a->words == 0 || a->words < (uint64_t)c->stuffing_min_tokens) return NULL;
  uint32_t longest, distinct;
  runs(a->rep, a->n_rep, &longest, &distinct);
  if ((double)longest > c->stuffing_share * (double)a->words) {
    snprintf(msg, msg_size, "one word is %u of its %u words (more than %.2f)", (unsigned)longest,
             (unsigned)a->words, c->stuffing_share);
    return "keyword_stuffing";
  }
  runs(a->buzz, a->n_buzz, &longest, &distinct);
  if (distinct >= (uint64_t)c->buzzword_min && (double)a->n_buzz > c->buzzword_share * (double)a->words) {
    snprintf(msg, msg_size, "%u buzzwords (%u distinct) in %u words (more than %.2f)", (unsigned)a->n_buzz,
             (unsigned)distinct, (unsigned)a->words, c->buzzword_share);
    return "keyword_stuffing";
  }
  if (a->words >= LIST_MIN_WORDS && (double)a->n_function * LIST_FUNCTION_SHARE <= (double)a->words) {
    snprintf(msg, msg_size, "a list of %u words with %u function words, not a sentence", (unsigned)a->words,
             (unsigned)a->n_function);
    return "keyword_stuffing";
  }
  return NULL;
}

const char *lp__throttle_stuffing(lp_str text, const lp_throttle_conf *c, char *msg, size_t msg_size) {
  return stuffing_of(features_of(text, (lp_str){ NULL, 0 }), c, msg, msg_size);
}

const char *lp__throttle_content(lp_str text, const lp_throttle_conf *c, char *msg, size_t msg_size, uint64_t *fp,
                                 uint32_t *n_words) {
  return lp__throttle_content_masked(text, (lp_str){ NULL, 0 }, c, msg, msg_size, fp, n_words);
}

const char *lp__throttle_content_masked(lp_str text, lp_str name, const lp_throttle_conf *c, char *msg,
                                        size_t msg_size, uint64_t *fp, uint32_t *n_words) {
  text_features *f = features_of(text, name);
  *n_words = f->words;
  *fp = features_simhash(f);
  return stuffing_of(f, c, msg, msg_size);
}
