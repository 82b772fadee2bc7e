/*
 * icp_int.h (internal to core/icp/): the parser's tables, the per-call token list and the arena that
 * holds a result. See icp.h for the public side and README.md for the rules.
 */
#ifndef LP_ICP_INT_H
#define LP_ICP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "icp/icp.h"

/* ---- arena: many small allocations freed at once ---- */
typedef struct lp__icp_arena {
  struct lp__icp_block *head;
} lp__icp_arena;

/* Zeroed, 16-byte aligned memory that lives until the arena is freed; NULL on ENOMEM. */
void *lp__icp_alloc(lp__icp_arena *a, size_t n);
char *lp__icp_strndup(lp__icp_arena *a, const char *s, size_t n);
void lp__icp_arena_free(lp__icp_arena *a);

/* ---- the parser's tables ---- */
enum lp__icp_phrase_kind {
  LP__PH_SIZE = 0,      /* a size word ("smb"): a = index in lp__icp_size_words */
  LP__PH_COUNTRY,       /* a = country index */
  LP__PH_REGION,        /* a = first index in region_pool, b = count */
  LP__PH_INDUSTRY,      /* an industry word: a = first index in industry_pool, b = count */
  LP__PH_TITLE,         /* a NAICS title of two words or more: a = naics index */
  LP__PH_NEG,           /* a negation made of several words ("other than"): no payload */
  LP__PH_LIKE           /* an example-company cue of several words ("similar to") */
};

typedef struct lp__icp_phrase {
  const char *text;     /* normalised words joined by one space */
  uint32_t a, b;
  uint8_t kind;
  uint8_t n_words;
} lp__icp_phrase;

typedef struct lp__icp_naics {
  const char *code;
  const char *title;
} lp__icp_naics;

struct lp_icp_parser {
  const lp_techtable *tech;
  lp__icp_arena arena;          /* every string and array below */
  lp__icp_naics *naics;         /* sorted by code (bytewise) */
  size_t n_naics;
  char (*countries)[3];         /* ISO codes, sorted */
  size_t n_countries;
  uint16_t *region_pool;        /* country indices of every region */
  uint32_t *industry_pool;      /* naics indices of every industry word */
  lp__icp_phrase *phrases;      /* sorted by text, then kind */
  size_t n_phrases;
  uint8_t max_words;            /* the longest phrase, in words */
};

/* Index of a country code in p->countries, -1 when unknown. */
int lp__icp_country_find(const lp_icp_parser *p, const char *code2);
/* Index of a NAICS code in p->naics, -1 when unknown. */
long lp__icp_naics_find(const lp_icp_parser *p, const char *code, size_t len);
/* The phrases equal to text[0..len), first one in *first and their count (0 when none). */
size_t lp__icp_phrase_find(const lp_icp_parser *p, const char *text, size_t len, size_t *first);

/* ---- static word lists (icp_words.c) ---- */
typedef struct lp__icp_size_word {
  const char *phrase;
  uint32_t min, max;
} lp__icp_size_word;

typedef struct lp__icp_industry_word {
  const char *phrase;
  const char *codes;    /* NAICS codes, space-separated */
} lp__icp_industry_word;

extern const lp__icp_size_word lp__icp_size_words[];
extern const size_t lp__icp_n_size_words;
extern const lp__icp_industry_word lp__icp_industry_words[];
extern const size_t lp__icp_n_industry_words;
extern const char *const lp__icp_neg_phrases[];   /* several-word negations */
extern const size_t lp__icp_n_neg_phrases;
extern const char *const lp__icp_like_phrases[];  /* several-word example cues */
extern const size_t lp__icp_n_like_phrases;

/* Verifies that every one-word list is sorted without duplicates (the binary search needs it): NULL when
 * all are fine, else the name of the first bad list. */
const char *lp__icp_words_check(void);
bool lp__icp_is_stop(const char *w, size_t n);          /* never a product word */
bool lp__icp_is_neg(const char *w, size_t n);           /* a one-word negation: "not", "without" */
bool lp__icp_is_neg_filler(const char *w, size_t n);    /* may stand between a negation and its object */
bool lp__icp_is_like(const char *w, size_t n);          /* a one-word example cue: "like" */
bool lp__icp_is_tech_cue(const char *w, size_t n);      /* "on", "using": a technology follows */
bool lp__icp_is_employee_noun(const char *w, size_t n); /* "employees", "people", "staff" */
bool lp__icp_is_size_context(const char *w, size_t n);  /* "headcount", "size": a count follows */
bool lp__icp_is_country_cue(const char *w, size_t n);   /* "in", "from", "across": a place follows */
bool lp__icp_is_code_safe(const char *code2);           /* an upper-case code that is a country anywhere */

/* ---- tokens (icp_lex.c) ---- */
enum lp__icp_tok_kind { LP__TK_WORD = 0, LP__TK_NUM, LP__TK_DOMAIN, LP__TK_SYM };

#define LP__TF_UPPER 0x01   /* every letter upper-case ("US", "SMB") */
#define LP__TF_CAP   0x02   /* first letter upper-case */
#define LP__TF_START 0x04   /* first word of a sentence */
#define LP__TF_HYPH  0x08   /* joined to the previous token by a hyphen ("mid-market") */
#define LP__TF_SPACE 0x10   /* white space (or nothing) before it */

typedef struct lp__icp_tok {
  const char *norm;     /* normal form (NFKC, case folded); for a domain its canonical form; NUL-ended */
  size_t len;
  double num;           /* the value of a LP__TK_NUM */
  uint8_t kind;
  uint8_t flags;
  char sym;             /* LP__TK_SYM: one of - < > + $ % , ; . : ! ? ( ) / & and 'l' for <=, 'g' for >= */
  bool used;            /* taken by a clause: not a product word */
  int32_t ent;          /* index of the entity covering it, -1 none */
} lp__icp_tok;

typedef struct lp__icp_toks {
  lp__icp_tok *v;
  size_t n, cap;
  bool all_upper;       /* no lower-case letter in the whole prompt: case carries no meaning */
} lp__icp_toks;

/* Cuts prompt[0..len) into tokens in scratch memory. Any bytes. LP_ENOMEM only. */
int lp__icp_lex(lp__icp_arena *scratch, const lp_techtable *tech, const char *prompt, size_t len,
                lp__icp_toks *out);
/* The normal form of s[0..n) (valid UTF-8), NUL-terminated, in arena memory; NULL on ENOMEM. */
char *lp__icp_normalize(lp__icp_arena *a, const char *s, size_t n, size_t *out_len);

/* Whether t is the word w (a C string literal). */
static inline bool lp__icp_tok_is(const lp__icp_tok *t, const char *w) {
  size_t i = 0;
  if (t->kind != LP__TK_WORD) return false;
  for (; w[i] != '\0'; i++) {
    if (i >= t->len || t->norm[i] != w[i]) return false;
  }
  return i == t->len;
}

static inline bool lp__icp_tok_sym(const lp__icp_tok *t, char c) {
  return t->kind == LP__TK_SYM && t->sym == c;
}

/* ---- the clauses of one prompt (icp_parse.c), turned into a result by icp_result.c ---- */
enum lp__icp_ent_kind { E_TECH, E_COUNTRY, E_REGION, E_INDUSTRY, E_NAICS, E_SIZE, E_DOMAIN, E_NEG, E_LIKE };

typedef struct lp__icp_ent {
  uint8_t kind;
  bool neg, like;
  size_t start, end;   /* tokens [start, end) */
  uint32_t a, b;       /* tech id | country | region pool (a, b) | industry pool (a, b) | naics | min, max */
} lp__icp_ent;

typedef struct lp__icp_ctx {
  const lp_icp_parser *p;
  lp__icp_arena *scratch;
  lp__icp_toks t;
  lp__icp_ent *e;
  size_t n_e;
} lp__icp_ctx;

/* Fills icp (zeroed) from the clauses; LP_ENOMEM (the caller frees icp with lp_icp_free). */
int lp__icp_collect(lp__icp_ctx *c, lp_icp *icp);

#endif
