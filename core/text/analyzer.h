/*
 * analyzer.h: text -> terms, the same way for snippet text, the prompt and the index.
 *
 *   1. UTF-8 in, any bytes (invalid ones act as separators); normalised to NFKC with case folding and
 *      Latin/Greek/Cyrillic accents removed (core/text/norm.h says why not utf8proc's STRIPMARK).
 *   2. Words: runs of letters and digits; '.', '#', '+', '-' stay inside a word only when the technology
 *      table knows the word ("node.js", "c#", "c++", ".net"), else the word splits at them ("e.g." -> e, g).
 *   3. Technologies: the longest name or alias of the technology table starting at a word becomes ONE token
 *      whose term is the canonical name ("Google Analytics" -> "google analytics", "NodeJS" -> "node.js"),
 *      flagged LP_TOKEN_TECH with its id; never stemmed or split.
 *   4. English stop words are dropped (or kept, flagged, with keep_stopwords); other words are stemmed with
 *      libstemmer's English Snowball stemmer ("hiring" -> "hire", "companies" -> "compani"). Words with
 *      digits or connectors are not stemmed.
 *
 * Positions count words (stop words included), so a phrase keeps its gaps; a technology token takes the
 * position of its first word and the next token comes after all its words.
 *
 * Threads: an lp_analyzer is immutable and shared by every thread; each thread owns an lp_analyzer_ctx
 * (the Snowball stemmer is not thread-safe, and the ctx holds the scratch buffers reused by every call, so
 * no call allocates once the buffers have grown to the largest text seen).
 */
#ifndef LP_ANALYZER_H
#define LP_ANALYZER_H

#include <stddef.h>
#include <stdint.h>

#include "leadpoet/common.h"
#include "text/techtable.h"

typedef struct lp_analyzer lp_analyzer;
typedef struct lp_analyzer_ctx lp_analyzer_ctx;

typedef struct lp_analyzer_opts {
  int keep_stopwords;   /* 1: stop words come out flagged LP_TOKEN_STOP; 0 (default): dropped */
  int no_stem;          /* 1: words are not stemmed */
} lp_analyzer_opts;

enum lp_token_flags {
  LP_TOKEN_TECH = 1u << 0,      /* a technology: tech holds its id */
  LP_TOKEN_STOP = 1u << 1,      /* a stop word (only with keep_stopwords) */
  LP_TOKEN_STEMMED = 1u << 2,   /* the stemmer changed the word */
  LP_TOKEN_NUMBER = 1u << 3,    /* holds a digit */
};

typedef struct lp_token {
  const char *term;   /* normalised term, NUL-terminated, in the lp_tokens that holds the token */
  uint32_t len;       /* bytes of term */
  uint32_t pos;       /* word position in the text, from 0 */
  uint32_t tech;      /* technology id, or LP_TECH_NONE */
  uint16_t flags;     /* lp_token_flags */
  uint16_t words;     /* words of the text this token covers (>1 for "google analytics") */
} lp_token;

/* A token list the caller owns and reuses across calls (zero-initialise it, LP_TOKENS_INIT). */
typedef struct lp_tokens {
  lp_token *v;
  size_t n, cap;
  char *bytes;        /* terms */
  size_t bytes_len, bytes_cap;
} lp_tokens;

#define LP_TOKENS_INIT { NULL, 0, 0, NULL, 0, 0 }
void lp_tokens_free(lp_tokens *t);

/* A distinct term of a text and how often it occurs. */
typedef struct lp_termfreq {
  const char *term;   /* NUL-terminated; owned by the ctx, valid until its next call */
  uint32_t len;
  uint32_t count;
  uint32_t tech;      /* technology id or LP_TECH_NONE */
  uint64_t hash;      /* lp_term_hash(term, len) */
} lp_termfreq;

/* The distinct terms of a text in order of first occurrence; caller-owned and reused (LP_TERMFREQS_INIT). */
typedef struct lp_termfreqs {
  lp_termfreq *v;
  size_t n, cap;
  uint32_t n_tokens;  /* tokens counted: the document length for BM25 */
} lp_termfreqs;

#define LP_TERMFREQS_INIT { NULL, 0, 0, 0 }
void lp_termfreqs_free(lp_termfreqs *tf);

/* Builds an analyzer over tech (borrowed, may be NULL: no technology tokens; must outlive the analyzer).
 * opts may be NULL (defaults). Main thread, at start. Free with lp_analyzer_free. */
int lp_analyzer_new(lp_analyzer **out, const lp_techtable *tech, const lp_analyzer_opts *opts, char *errstr,
                    size_t errstr_size);
void lp_analyzer_free(lp_analyzer *a);

/* One per thread: the stemmer and the scratch buffers. The analyzer must outlive it. Any thread; use it
 * from one thread at a time. */
int lp_analyzer_ctx_new(lp_analyzer_ctx **out, const lp_analyzer *a, char *errstr, size_t errstr_size);
void lp_analyzer_ctx_free(lp_analyzer_ctx *ctx);

/* Analyzes text[0..len) into out (its previous content is replaced). Never fails on bad input;
 * LP_ENOMEM when a buffer cannot grow (out is then empty). The ctx's thread. */
int lp_analyze(lp_analyzer_ctx *ctx, const char *text, size_t len, lp_tokens *out);

/* Distinct terms of text[0..len) with their counts (stop words never counted), into out (replaced).
 * The terms live in the ctx until its next call. The ctx's thread. */
int lp_analyze_terms(lp_analyzer_ctx *ctx, const char *text, size_t len, lp_termfreqs *out);

/* The hash of a term used by lp_termfreq (XXH3-64), for the index's dictionary. Any thread. */
uint64_t lp_term_hash(const char *term, size_t len);

/* Whether the normalised word w is one of the analyzer's English stop words. Any thread. */
int lp_analyzer_is_stopword(const lp_analyzer *a, const char *w, size_t len);

#endif
