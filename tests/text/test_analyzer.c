/* The analyzer: Unicode normal form, invalid UTF-8, word boundaries, stop words, stemming, technology
 * tokens and term frequencies. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "text/analyzer.h"

static lp_techtable *table;
static lp_analyzer *an;
static lp_analyzer_ctx *ctx;
static lp_tokens toks = LP_TOKENS_INIT;

static void setup_opts(const lp_analyzer_opts *opts) {
  char err[256] = "";
  cr_assert_eq(lp_techtable_builtin(&table, err, sizeof err), 0, "%s", err);
  cr_assert_eq(lp_analyzer_new(&an, table, opts, err, sizeof err), 0, "%s", err);
  cr_assert_eq(lp_analyzer_ctx_new(&ctx, an, err, sizeof err), 0, "%s", err);
}

static void setup(void) {
  setup_opts(NULL);
}

static void teardown(void) {
  lp_tokens_free(&toks);
  lp_analyzer_ctx_free(ctx);
  lp_analyzer_free(an);
  lp_techtable_free(table);
}

TestSuite(analyzer, .init = setup, .fini = teardown);

/* The terms of text joined by '|', for compact assertions. */
static const char *terms(const char *text) {
  static char out[1024];
  cr_assert_eq(lp_analyze(ctx, text, strlen(text), &toks), 0);
  size_t n = 0;
  out[0] = '\0';
  for (size_t i = 0; i < toks.n; i++) {
    n += (size_t)snprintf(out + n, sizeof out - n, "%s%s", i ? "|" : "", toks.v[i].term);
    cr_assert_eq(strlen(toks.v[i].term), toks.v[i].len);
  }
  return out;
}

Test(analyzer, unicode_normal_form) {
  cr_assert_str_eq(terms("\xef\xac\x81nance"), "financ");                         /* "ﬁnance" */
  cr_assert_str_eq(terms("\xef\xbc\xb3\xef\xbd\x94\xef\xbd\x92\xef\xbd\x89\xef\xbd\x90\xef\xbd\x85"), "stripe");
  cr_assert_str_eq(terms("STRASSE stra\xc3\x9f" "e"), "strass|strass");
  cr_assert_str_eq(terms("caf\xc3\xa9 cafe cafe\xcc\x81"), "cafe|cafe|cafe");     /* composed, plain, combining */
  cr_assert_str_eq(terms("Se\xc3\xb1or \xc3\x85ngstr\xc3\xb6m"), "senor|angstrom");
  /* Marks of other scripts are kept: a Devanagari word keeps its vowel sign. */
  cr_assert_str_eq(terms("\xe0\xa4\xb9\xe0\xa4\xbf\xe0\xa4\x82\xe0\xa4\xa6\xe0\xa5\x80"),
                   "\xe0\xa4\xb9\xe0\xa4\xbf\xe0\xa4\x82\xe0\xa4\xa6\xe0\xa5\x80");
  /* A no-break space and ideographic punctuation separate words. */
  cr_assert_str_eq(terms("sales\xc2\xa0" "team\xe3\x80\x82" "growth"), "sale|team|growth");
}

Test(analyzer, invalid_utf8_never_crashes) {
  const char bad[] = "hiring\xff\xfe engineers \xc3 caf\xe9 \xed\xa0\x80 end\xf0\x9f";
  cr_assert_eq(lp_analyze(ctx, bad, sizeof bad - 1, &toks), 0);
  cr_assert_str_eq(terms("hiring\xff" "engineers"), "hire|engin");
  cr_assert_str_eq(terms("\xc3"), "");
  cr_assert_str_eq(terms(""), "");
  cr_assert_eq(lp_analyze(ctx, "", 0, &toks), 0);
  cr_assert_eq(toks.n, 0);
  /* NUL bytes inside the text are separators, not the end. */
  cr_assert_eq(lp_analyze(ctx, "sales\0growth", 12, &toks), 0);
  cr_assert_eq(toks.n, 2);
}

Test(analyzer, stemming) {
  cr_assert_str_eq(terms("hiring hires hired"), "hire|hire|hire");
  cr_assert_str_eq(terms("companies company"), "compani|compani");
  cr_assert_str_eq(terms("2024 k8s3 abc123"), "2024|k8s3|abc123");
  cr_assert_eq(lp_analyze(ctx, "hiring 2024", 11, &toks), 0);
  cr_assert(toks.v[0].flags & LP_TOKEN_STEMMED);
  cr_assert(toks.v[1].flags & LP_TOKEN_NUMBER);
}

Test(analyzer, stop_words_dropped_positions_kept) {
  cr_assert_str_eq(terms("The company is hiring for the team"), "compani|hire|team");
  cr_assert_eq(toks.v[0].pos, 1);
  cr_assert_eq(toks.v[1].pos, 3);
  cr_assert_eq(toks.v[2].pos, 6);
  cr_assert(lp_analyzer_is_stopword(an, "the", 3));
  cr_assert(!lp_analyzer_is_stopword(an, "hiring", 6));
  cr_assert_str_eq(terms("don't e.g. it's"), "");
}

Test(analyzer, technology_phrases) {
  cr_assert_str_eq(terms("We use Google Analytics and Node.js"), "use|google analytics|node.js");
  cr_assert_eq(toks.v[1].tech, lp_techtable_find(table, "google analytics", 16)->id);
  cr_assert(toks.v[1].flags & LP_TOKEN_TECH);
  cr_assert_eq(toks.v[1].words, 2);
  cr_assert_eq(toks.v[1].pos, 2);
  cr_assert_eq(toks.v[2].pos, 5);
  cr_assert_eq(toks.v[0].tech, LP_TECH_NONE);
  cr_assert_str_eq(terms("C# and .NET developers"), "c#|.net|develop");
  cr_assert_str_eq(terms("moving off Heroku to AWS"), "move|heroku|amazon web services");
  cr_assert_str_eq(terms("C++ shop, running k8s."), "c++|shop|run|kubernetes");
  cr_assert_str_eq(terms("NodeJS, nodejs and Node.JS."), "node.js|node.js|node.js");
  cr_assert_str_eq(terms("Google Analytics 4 rollout"), "google analytics 4|rollout");
}

Test(analyzer, unknown_compounds_split) {
  cr_assert_str_eq(terms("well-known acme.com v2.5"), "well|known|acm|com|v2|5");
  cr_assert_str_eq(terms("...leading. trailing-- +plus"), "lead|trail|plus");
  /* A category synonym's compound is known to the table, so it stays whole. */
  cr_assert_str_eq(terms("e-commerce CI/CD"), "e-commerce|ci|cd");
}

Test(analyzer, term_frequencies) {
  lp_termfreqs tf = LP_TERMFREQS_INIT;
  const char *t = "Hiring Stripe engineers; the engineers hire for Stripe and stripe billing";
  cr_assert_eq(lp_analyze_terms(ctx, t, strlen(t), &tf), 0);
  cr_assert_eq(tf.n_tokens, 8);
  cr_assert_eq(tf.n, 4);
  cr_assert_str_eq(tf.v[0].term, "hire");
  cr_assert_eq(tf.v[0].count, 2);
  cr_assert_str_eq(tf.v[1].term, "stripe");
  cr_assert_eq(tf.v[1].count, 3);
  cr_assert_neq(tf.v[1].tech, LP_TECH_NONE);
  cr_assert_str_eq(tf.v[2].term, "engin");
  cr_assert_eq(tf.v[2].count, 2);
  cr_assert_eq(tf.v[3].hash, lp_term_hash("bill", 4));
  /* Reused: the second call replaces the first. */
  cr_assert_eq(lp_analyze_terms(ctx, "a the of", 8, &tf), 0);
  cr_assert_eq(tf.n, 0);
  cr_assert_eq(tf.n_tokens, 0);
  lp_termfreqs_free(&tf);
}

Test(analyzer, long_text_grows_buffers) {
  static char big[20000];
  for (size_t i = 0; i + 8 < sizeof big; i += 8) memcpy(big + i, "growing ", 8);
  big[sizeof big - 1] = '\0';
  cr_assert_eq(lp_analyze(ctx, big, strlen(big), &toks), 0);
  cr_assert_eq(toks.n, strlen(big) / 8);
  cr_assert_str_eq(toks.v[toks.n - 1].term, "grow");
}

static void setup_keep(void) {
  lp_analyzer_opts o = { .keep_stopwords = 1, .no_stem = 1 };
  setup_opts(&o);
}

Test(analyzer_opts, keep_stopwords_no_stem, .init = setup_keep, .fini = teardown) {
  cr_assert_str_eq(terms("Not on Stripe, hiring"), "not|on|stripe|hiring");
  cr_assert(toks.v[0].flags & LP_TOKEN_STOP);
  cr_assert(toks.v[2].flags & LP_TOKEN_TECH);
}

Test(analyzer_notech, without_a_table) {
  lp_analyzer *a;
  lp_analyzer_ctx *c;
  char err[128];
  cr_assert_eq(lp_analyzer_new(&a, NULL, NULL, err, sizeof err), 0);
  cr_assert_eq(lp_analyzer_ctx_new(&c, a, err, sizeof err), 0);
  lp_tokens t = LP_TOKENS_INIT;
  cr_assert_eq(lp_analyze(c, "Node.js on C#", 13, &t), 0);
  cr_assert_eq(t.n, 3);
  cr_assert_str_eq(t.v[0].term, "node");
  cr_assert_str_eq(t.v[1].term, "js");
  cr_assert_str_eq(t.v[2].term, "c");
  lp_tokens_free(&t);
  lp_analyzer_ctx_free(c);
  lp_analyzer_free(a);
}

/* Random bytes and random code points (marks, Hangul, CJK, controls): never a crash, and every term is
 * valid UTF-8 of the length it claims. Deterministic, small. */
static uint32_t seed = 12345;
static uint32_t rnd(void) {
  seed = seed * 1103515245u + 12345u;
  return seed >> 8;
}

static void check_terms_valid(void) {
  for (size_t i = 0; i < toks.n; i++) {
    cr_assert_gt(toks.v[i].len, 0);
    cr_assert_eq(strlen(toks.v[i].term), toks.v[i].len);
  }
}

Test(analyzer, random_input_is_safe) {
  static const uint32_t pool[] = { 0x41, 0x61, 0x2E, 0x23, 0x2B, 0x2D, 0x20, 0x301, 0x308, 0x327, 0xAC00,
                                   0x1100, 0x1161, 0x4E2D, 0x939, 0x93F, 0x902, 0xFB01, 0xFF33, 0xDF, 0x130,
                                   0x2019, 0x200B, 0xA0, 0x1F600, 0x0, 0x7F, 0x10FFFF, 0xE9, 0x3A3 };
  char buf[256];
  for (int round = 0; round < 300; round++) {
    size_t n = rnd() % sizeof buf;
    for (size_t i = 0; i < n; i++) buf[i] = (char)(rnd() & 0xFF);
    cr_assert_eq(lp_analyze(ctx, buf, n, &toks), 0);
    check_terms_valid();
    size_t m = 0;
    while (m + 4 < sizeof buf) {
      uint32_t c = pool[rnd() % (sizeof pool / sizeof pool[0])];
      if (c < 0x80) buf[m++] = (char)c;
      else if (c < 0x800) { buf[m++] = (char)(0xC0 | c >> 6); buf[m++] = (char)(0x80 | (c & 0x3F)); }
      else if (c < 0x10000) {
        buf[m++] = (char)(0xE0 | c >> 12); buf[m++] = (char)(0x80 | ((c >> 6) & 0x3F));
        buf[m++] = (char)(0x80 | (c & 0x3F));
      } else {
        buf[m++] = (char)(0xF0 | c >> 18); buf[m++] = (char)(0x80 | ((c >> 12) & 0x3F));
        buf[m++] = (char)(0x80 | ((c >> 6) & 0x3F)); buf[m++] = (char)(0x80 | (c & 0x3F));
      }
      if (rnd() % 16 == 0) break;
    }
    cr_assert_eq(lp_analyze(ctx, buf, m, &toks), 0);
    check_terms_valid();
  }
}
