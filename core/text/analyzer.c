/* analyzer.c: normalised words -> technology tokens, stop words, Snowball stems (see analyzer.h). */
#include "text/analyzer.h"

#include <libstemmer.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "text/norm.h"
#include "text/stopwords.h"
#include "text/techtable_int.h"

#define STOP_SLOTS 512          /* power of two, > 2x the stop words */
#define STOP_MAX_LEN 16         /* no stop word is longer */
#define STEM_MAX_LEN 64         /* longer words are not stemmed: no English word needs it */
#define STEM_CACHE 4096         /* entries of a ctx's stem cache (power of two) */
#define STEM_CACHE_LEN 22       /* longest word and stem the cache holds */

/* Snowball costs about half of the analyzer's time, and the words of snippets repeat (Zipf): a direct-mapped
 * cache of recent stems per ctx, keyed by the word's hash and checked byte for byte, answers most words. */
typedef struct stem_entry {
  uint64_t hash;
  uint8_t wlen, slen;           /* wlen 0: empty */
  char word[STEM_CACHE_LEN];
  char stem[STEM_CACHE_LEN];
} stem_entry;

struct lp_analyzer {
  const lp_techtable *tech;
  lp_analyzer_opts opts;
  uint16_t stop[STOP_SLOTS];    /* index + 1 into lp__stopwords, 0 = free */
  uint8_t stop_len[STOP_SLOTS]; /* its length */
};

struct lp_analyzer_ctx {
  const lp_analyzer *a;
  struct sb_stemmer *stemmer;
  lp__norm_scratch ns;
  lp_buf norm;                  /* the normalised text */
  lp_str *words;                /* its words, compounds resolved */
  size_t n_words, cap_words;
  lp_tokens toks;               /* lp_analyze_terms' tokens */
  uint32_t *tf_slots;           /* index + 1 into the lp_termfreqs, 0 = free */
  size_t tf_cap;
  stem_entry *stems;            /* STEM_CACHE entries */
};

uint64_t lp_term_hash(const char *term, size_t len) {
  return XXH3_64bits(term, len);
}

static int stop_find(const lp_analyzer *a, const char *w, size_t len, uint64_t hash) {
  if (len > STOP_MAX_LEN) return 0;
  for (size_t j = hash & (STOP_SLOTS - 1);; j = (j + 1) & (STOP_SLOTS - 1)) {
    uint16_t v = a->stop[j];
    if (v == 0) return 0;
    if (a->stop_len[j] == len && memcmp(lp__stopwords[v - 1], w, len) == 0) return 1;
  }
}

int lp_analyzer_is_stopword(const lp_analyzer *a, const char *w, size_t len) {
  return stop_find(a, w, len, lp_term_hash(w, len));
}

int lp_analyzer_new(lp_analyzer **out, const lp_techtable *tech, const lp_analyzer_opts *opts, char *errstr,
                    size_t errstr_size) {
  *out = NULL;
  lp_analyzer *a = lp_calloc(1, sizeof *a);
  if (!a) {
    snprintf(errstr, errstr_size, "analyzer: out of memory");
    return LP_ENOMEM;
  }
  a->tech = tech;
  if (opts) a->opts = *opts;
  for (size_t i = 0; i < lp__stopwords_count; i++) {
    const char *s = lp__stopwords[i];
    size_t j = lp_term_hash(s, strlen(s)) & (STOP_SLOTS - 1);
    while (a->stop[j]) j = (j + 1) & (STOP_SLOTS - 1);
    a->stop[j] = (uint16_t)(i + 1);
    a->stop_len[j] = (uint8_t)strlen(s);
  }
  *out = a;
  return LP_OK;
}

void lp_analyzer_free(lp_analyzer *a) {
  lp_free(a);
}

int lp_analyzer_ctx_new(lp_analyzer_ctx **out, const lp_analyzer *a, char *errstr, size_t errstr_size) {
  *out = NULL;
  lp_analyzer_ctx *c = lp_calloc(1, sizeof *c);
  if (!c) {
    snprintf(errstr, errstr_size, "analyzer: out of memory");
    return LP_ENOMEM;
  }
  c->a = a;
  c->stems = lp_calloc(STEM_CACHE, sizeof *c->stems);
  c->stemmer = sb_stemmer_new("english", NULL);
  if (!c->stemmer || !c->stems) {
    snprintf(errstr, errstr_size, "analyzer: libstemmer has no English stemmer (or out of memory)");
    if (c->stemmer) sb_stemmer_delete(c->stemmer);
    lp_free(c->stems);
    lp_free(c);
    return LP_ENOMEM;
  }
  *out = c;
  return LP_OK;
}

void lp_analyzer_ctx_free(lp_analyzer_ctx *c) {
  if (!c) return;
  sb_stemmer_delete(c->stemmer);
  lp__norm_scratch_free(&c->ns);
  lp_buf_free(&c->norm);
  lp_free(c->words);
  lp_tokens_free(&c->toks);
  lp_free(c->tf_slots);
  lp_free(c->stems);
  lp_free(c);
}

void lp_tokens_free(lp_tokens *t) {
  lp_free(t->v);
  lp_free(t->bytes);
  *t = (lp_tokens)LP_TOKENS_INIT;
}

void lp_termfreqs_free(lp_termfreqs *tf) {
  lp_free(tf->v);
  *tf = (lp_termfreqs)LP_TERMFREQS_INIT;
}

static int push_word(lp_analyzer_ctx *c, const char *p, size_t n) {
  if (c->n_words == c->cap_words) {
    size_t cap = c->cap_words ? c->cap_words * 2 : 128;
    lp_str *w = lp_realloc(c->words, cap * sizeof *w);
    if (!w) return LP_ENOMEM;
    c->words = w;
    c->cap_words = cap;
  }
  c->words[c->n_words++] = (lp_str){ p, n };
  return LP_OK;
}

/* Normalises the text and cuts it into words; a word with connectors that the technology table does not
 * know is split into its pieces. */
static int split_words(lp_analyzer_ctx *c, const char *text, size_t len) {
  lp_buf_reset(&c->norm);
  c->n_words = 0;
  int rc = lp__text_normalize(&c->ns, text, len, &c->norm);
  if (rc != LP_OK) return rc;
  const char *s = c->norm.data;
  size_t n = c->norm.len, pos = 0, off, wlen;
  int conn;
  while (lp__text_next_word(s, n, &pos, &off, &wlen, &conn)) {
    if (conn && !(c->a->tech && (lp__techtable_word(c->a->tech, s + off, wlen) & LP__TECH_WORD_KNOWN))) {
      size_t ppos = 0, poff, plen;
      while (lp__text_next_piece(s + off, wlen, &ppos, &poff, &plen)) {
        if (push_word(c, s + off + poff, plen) != LP_OK) return LP_ENOMEM;
      }
    } else if (push_word(c, s + off, wlen) != LP_OK) {
      return LP_ENOMEM;
    }
  }
  return LP_OK;
}

/* Appends a token; its term is stored as an offset until fix_terms, because out->bytes may move. */
static int emit(lp_tokens *out, const char *term, size_t len, uint32_t pos, uint32_t tech, uint16_t flags,
                uint16_t words) {
  if (out->bytes_cap - out->bytes_len < len + 1) {
    size_t cap = out->bytes_cap ? out->bytes_cap * 2 : 1024;
    while (cap - out->bytes_len < len + 1) cap *= 2;
    char *b = lp_realloc(out->bytes, cap);
    if (!b) return LP_ENOMEM;
    out->bytes = b;
    out->bytes_cap = cap;
  }
  memcpy(out->bytes + out->bytes_len, term, len);
  out->bytes[out->bytes_len + len] = '\0';
  out->v[out->n++] = (lp_token){ (const char *)(uintptr_t)out->bytes_len, (uint32_t)len, pos, tech, flags, words };
  out->bytes_len += len + 1;
  return LP_OK;
}

static void fix_terms(lp_tokens *out) {
  for (size_t i = 0; i < out->n; i++) out->v[i].term = out->bytes + (uintptr_t)out->v[i].term;
}

static int stem_word(lp_analyzer_ctx *c, lp_str w, uint64_t h, uint32_t pos, lp_tokens *out) {
  int letters = w.len >= 3 && w.len <= STEM_MAX_LEN, digits = 0;
  for (size_t i = 0; i < w.len; i++) {
    char ch = w.ptr[i];
    if (ch >= '0' && ch <= '9') digits = 1;
    if (ch < 'a' || ch > 'z') letters = 0;
  }
  uint16_t flags = digits ? LP_TOKEN_NUMBER : 0;
  if (!letters || c->a->opts.no_stem) return emit(out, w.ptr, w.len, pos, LP_TECH_NONE, flags, 1);
  stem_entry *e = &c->stems[h & (STEM_CACHE - 1)];
  if (e->hash == h && e->wlen == w.len && memcmp(e->word, w.ptr, w.len) == 0) {
    if (e->slen != w.len || memcmp(e->stem, w.ptr, w.len) != 0) flags |= LP_TOKEN_STEMMED;
    return emit(out, e->stem, e->slen, pos, LP_TECH_NONE, flags, 1);
  }
  const sb_symbol *st = sb_stemmer_stem(c->stemmer, (const sb_symbol *)w.ptr, (int)w.len);
  if (!st) return LP_ENOMEM;
  size_t sl = (size_t)sb_stemmer_length(c->stemmer);
  if (sl != w.len || memcmp(st, w.ptr, sl) != 0) flags |= LP_TOKEN_STEMMED;
  if (w.len <= STEM_CACHE_LEN && sl <= STEM_CACHE_LEN) {
    e->hash = h;
    e->wlen = (uint8_t)w.len;
    e->slen = (uint8_t)sl;
    memcpy(e->word, w.ptr, w.len);
    memcpy(e->stem, st, sl);
  }
  return emit(out, (const char *)st, sl, pos, LP_TECH_NONE, flags, 1);
}

static int tokens_reserve(lp_tokens *out, size_t n) {
  if (n <= out->cap) return LP_OK;
  size_t cap = out->cap ? out->cap : 64;
  while (cap < n) cap *= 2;
  lp_token *v = lp_realloc(out->v, cap * sizeof *v);
  if (!v) return LP_ENOMEM;
  out->v = v;
  out->cap = cap;
  return LP_OK;
}

static int analyze_words(lp_analyzer_ctx *c, lp_tokens *out) {
  const lp_analyzer *a = c->a;
  if (tokens_reserve(out, c->n_words) != LP_OK) return LP_ENOMEM;
  for (size_t i = 0; i < c->n_words;) {
    lp_str w = c->words[i];
    uint64_t h = lp_term_hash(w.ptr, w.len);
    int stop = stop_find(a, w.ptr, w.len, h);
    size_t used = 0;
    const lp_tech_info *ti = a->tech ? lp__techtable_match_h(a->tech, c->words + i, c->n_words - i, h, &used) : NULL;
    int rc;
    if (ti && !(used == 1 && stop)) {   /* a one-word technology named like a stop word is a stop word */
      uint16_t nw = used > UINT16_MAX ? UINT16_MAX : (uint16_t)used;
      rc = emit(out, ti->name, strlen(ti->name), (uint32_t)i, ti->id, LP_TOKEN_TECH, nw);
      i += used;
    } else if (stop) {
      rc = a->opts.keep_stopwords ? emit(out, w.ptr, w.len, (uint32_t)i, LP_TECH_NONE, LP_TOKEN_STOP, 1) : LP_OK;
      i++;
    } else {
      rc = stem_word(c, w, h, (uint32_t)i, out);
      i++;
    }
    if (rc != LP_OK) return rc;
  }
  return LP_OK;
}

int lp_analyze(lp_analyzer_ctx *c, const char *text, size_t len, lp_tokens *out) {
  out->n = 0;
  out->bytes_len = 0;
  int rc = split_words(c, text, len);
  if (rc == LP_OK) rc = analyze_words(c, out);
  if (rc != LP_OK) {
    out->n = 0;
    out->bytes_len = 0;
    return rc;
  }
  fix_terms(out);
  return LP_OK;
}

static int tf_prepare(lp_analyzer_ctx *c, lp_termfreqs *out, size_t n_tokens) {
  size_t cap = 64;
  while (cap < n_tokens * 2) cap *= 2;
  if (cap > c->tf_cap) {
    uint32_t *s = lp_realloc(c->tf_slots, cap * sizeof *s);
    if (!s) return LP_ENOMEM;
    c->tf_slots = s;
    c->tf_cap = cap;
  }
  memset(c->tf_slots, 0, cap * sizeof *c->tf_slots);
  if (n_tokens > out->cap) {
    size_t ocap = out->cap ? out->cap : 64;
    while (ocap < n_tokens) ocap *= 2;
    lp_termfreq *v = lp_realloc(out->v, ocap * sizeof *v);
    if (!v) return LP_ENOMEM;
    out->v = v;
    out->cap = ocap;
  }
  return LP_OK;
}

int lp_analyze_terms(lp_analyzer_ctx *c, const char *text, size_t len, lp_termfreqs *out) {
  out->n = 0;
  out->n_tokens = 0;
  int rc = lp_analyze(c, text, len, &c->toks);
  if (rc == LP_OK) rc = tf_prepare(c, out, c->toks.n);
  if (rc != LP_OK) return rc;
  size_t cap = 64;
  while (cap < c->toks.n * 2) cap *= 2;
  for (size_t i = 0; i < c->toks.n; i++) {
    const lp_token *t = &c->toks.v[i];
    if (t->flags & LP_TOKEN_STOP) continue;
    uint64_t h = lp_term_hash(t->term, t->len);
    size_t j = h & (cap - 1);
    for (;; j = (j + 1) & (cap - 1)) {
      uint32_t v = c->tf_slots[j];
      if (v == 0) {
        out->v[out->n] = (lp_termfreq){ t->term, t->len, 1, t->tech, h };
        c->tf_slots[j] = (uint32_t)++out->n;
        break;
      }
      lp_termfreq *f = &out->v[v - 1];
      if (f->hash == h && f->len == t->len && memcmp(f->term, t->term, t->len) == 0) {
        f->count++;
        break;
      }
    }
    out->n_tokens++;
  }
  return LP_OK;
}
