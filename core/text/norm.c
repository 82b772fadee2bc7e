/* norm.c: NFKC + case folding + Latin accent removal, and the word scanner (see norm.h). */
#include "text/norm.h"

#include <pthread.h>
#include <string.h>
#include <utf8proc.h>

#include "base/alloc.h"
#include "leadpoet/common.h"

/* Character classes of a normalised byte below 0x80. */
enum { C_SEP = 0, C_WORD = 1, C_CONN = 2 };

static const uint8_t ascii_class[128] = {
  ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
  ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1,
  ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1,
  ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
  ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1,
  ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1,
  ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
  ['.'] = 2, ['#'] = 2, ['+'] = 2, ['-'] = 2,
};

void lp__norm_scratch_free(lp__norm_scratch *s) {
  lp_free(s->cp);
  s->cp = NULL;
  s->cp_cap = 0;
}

static int cp_reserve(lp__norm_scratch *s, size_t need) {
  if (need <= s->cp_cap) return LP_OK;
  size_t cap = s->cp_cap ? s->cp_cap : 256;
  while (cap < need) cap *= 2;
  int32_t *p = lp_realloc(s->cp, cap * sizeof *p);
  if (!p) return LP_ENOMEM;
  s->cp = p;
  s->cp_cap = cap;
  return LP_OK;
}

/* A mark on a letter of these scripts is an accent that English text often omits ("cafe"). */
static int accent_base(int32_t base) {
  return base < 0x0530 || (base >= 0x1E00 && base <= 0x1FFF);
}

/* Canonical ordering of combining marks (decompose_char works on one code point, so the run is reordered
 * here as utf8proc_decompose would do). Runs of marks are short: insertion sort. */
static void canonical_order(int32_t *cp, size_t n) {
  for (size_t i = 1; i < n; i++) {
    int32_t c = cp[i];
    int cc = utf8proc_get_property(c)->combining_class;
    if (cc == 0) continue;
    size_t j = i;
    while (j > 0) {
      int pc = utf8proc_get_property(cp[j - 1])->combining_class;
      if (pc <= cc) break;
      cp[j] = cp[j - 1];
      j--;
    }
    cp[j] = c;
  }
}

/* Normalises one run of non-ASCII bytes. prev_base is the last code point before the run (an ASCII letter
 * counts as Latin), so an accent written as a combining mark after an ASCII letter is dropped too. */
static int normalize_run(lp__norm_scratch *s, const uint8_t *in, size_t len, int32_t prev_base, lp_buf *out) {
  const utf8proc_option_t opt = UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD | UTF8PROC_IGNORE;
  size_t n = 0, i = 0;
  while (i < len) {
    int32_t c;
    utf8proc_ssize_t step = utf8proc_iterate(in + i, (utf8proc_ssize_t)(len - i), &c);
    if (step <= 0) {          /* invalid byte: U+FFFD, resynchronise at the next byte */
      c = 0xFFFD;
      step = 1;
    }
    i += (size_t)step;
    for (;;) {
      if (cp_reserve(s, n + 4) != LP_OK) return LP_ENOMEM;
      utf8proc_ssize_t got = utf8proc_decompose_char(c, s->cp + n, (utf8proc_ssize_t)(s->cp_cap - n), opt, NULL);
      if (got < 0) got = 0;   /* only for an invalid code point, which iterate never yields */
      if ((size_t)got <= s->cp_cap - n) {
        n += (size_t)got;
        break;
      }
      if (cp_reserve(s, n + (size_t)got) != LP_OK) return LP_ENOMEM;
    }
  }
  canonical_order(s->cp, n);
  size_t k = 0;
  int32_t base = prev_base;
  for (size_t j = 0; j < n; j++) {
    int32_t c = s->cp[j];
    utf8proc_category_t cat = utf8proc_category(c);
    if (cat == UTF8PROC_CATEGORY_MN && accent_base(base)) continue;
    if (cat != UTF8PROC_CATEGORY_MN && cat != UTF8PROC_CATEGORY_MC && cat != UTF8PROC_CATEGORY_ME) base = c;
    s->cp[k++] = c;
  }
  utf8proc_ssize_t m = utf8proc_normalize_utf32(s->cp, (utf8proc_ssize_t)k, UTF8PROC_COMPOSE | UTF8PROC_STABLE);
  if (m < 0) m = (utf8proc_ssize_t)k;
  if (lp_buf_reserve(out, (size_t)m * 4) != LP_OK) return LP_ENOMEM;
  for (utf8proc_ssize_t j = 0; j < m; j++) {
    out->len += (size_t)utf8proc_encode_char(s->cp[j], (utf8proc_uint8_t *)out->data + out->len);
  }
  return LP_OK;
}

/* Fast path for the non-ASCII characters of Western text: Latin-1 and Latin Extended-A/B (U+0080..U+024F)
 * and General Punctuation (U+2000..U+206F: curly quotes, dashes, special spaces). None of them is a mark,
 * and the marks of their decompositions are all stripped, so a run made only of them normalises to the
 * concatenation of each one's normal form: a table computed once by the slow path itself. */
#define FOLD_LATIN_END 0x250
#define FOLD_PUNCT_START 0x2000
#define FOLD_PUNCT_END 0x2070
#define FOLD_SLOW 0xFF

typedef struct fold_entry {
  uint8_t len;      /* FOLD_SLOW: use the slow path */
  char s[7];
} fold_entry;

static fold_entry fold_latin[FOLD_LATIN_END];
static fold_entry fold_punct[FOLD_PUNCT_END - FOLD_PUNCT_START];
static pthread_once_t fold_once = PTHREAD_ONCE_INIT;

static void fold_one(lp__norm_scratch *s, lp_buf *b, int32_t c, fold_entry *e) {
  uint8_t u[4];
  utf8proc_ssize_t n = utf8proc_encode_char(c, u);
  lp_buf_reset(b);
  e->len = FOLD_SLOW;
  if (normalize_run(s, u, (size_t)n, 'a', b) == LP_OK && b->len <= sizeof e->s) {
    memcpy(e->s, b->data, b->len);
    e->len = (uint8_t)b->len;
  }
}

/* Fills the tables; an entry that cannot be computed (no memory) stays on the slow path. */
static void fold_init(void) {
  lp__norm_scratch s = LP__NORM_SCRATCH_INIT;
  lp_buf b = LP_BUF_INIT;
  for (int32_t c = 0; c < FOLD_LATIN_END; c++) {
    if (c < 0x80) fold_latin[c].len = FOLD_SLOW;
    else fold_one(&s, &b, c, &fold_latin[c]);
  }
  for (int32_t c = FOLD_PUNCT_START; c < FOLD_PUNCT_END; c++) fold_one(&s, &b, c, &fold_punct[c - FOLD_PUNCT_START]);
  lp__norm_scratch_free(&s);
  lp_buf_free(&b);
}

/* Appends the run through the tables; 0 when some character needs the slow path (out then unchanged). */
static int fold_run(const uint8_t *in, size_t len, lp_buf *out) {
  size_t start = out->len, i = 0;
  while (i < len) {
    int32_t c;
    utf8proc_ssize_t step = utf8proc_iterate(in + i, (utf8proc_ssize_t)(len - i), &c);
    const fold_entry *e = NULL;
    if (step > 0 && c < FOLD_LATIN_END) e = &fold_latin[c];
    else if (step > 0 && c >= FOLD_PUNCT_START && c < FOLD_PUNCT_END) e = &fold_punct[c - FOLD_PUNCT_START];
    if (!e || e->len == FOLD_SLOW || lp_buf_append(out, e->s, e->len) != LP_OK) {
      out->len = start;
      return 0;
    }
    i += (size_t)step;
  }
  return 1;
}

int lp__text_normalize(lp__norm_scratch *s, const char *in, size_t len, lp_buf *out) {
  pthread_once(&fold_once, fold_init);
  const uint8_t *p = (const uint8_t *)in;
  size_t i = 0;
  if (lp_buf_reserve(out, len + 1) != LP_OK) return LP_ENOMEM;
  while (i < len) {
    size_t start = i;
    char *dst = out->data + out->len;
    while (i < len && p[i] < 0x80) {
      uint8_t c = p[i];
      dst[i - start] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
      i++;
    }
    out->len += i - start;
    if (i == len) break;
    start = i;
    while (i < len && p[i] >= 0x80) i++;
    int32_t prev = start > 0 ? (int32_t)p[start - 1] : ' ';
    if (!fold_run(p + start, i - start, out)) {
      int rc = normalize_run(s, p + start, i - start, prev, out);
      if (rc != LP_OK) return rc;
    }
    if (lp_buf_reserve(out, len - i + 1) != LP_OK) return LP_ENOMEM;
  }
  out->data[out->len] = '\0';
  return LP_OK;
}

/* Class of the character at s[i] (normalised text), and its length in bytes. */
static int char_class(const char *s, size_t len, size_t i, size_t *clen) {
  uint8_t b = (uint8_t)s[i];
  if (b < 0x80) {
    *clen = 1;
    return ascii_class[b];
  }
  int32_t c;
  utf8proc_ssize_t step = utf8proc_iterate((const uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &c);
  if (step <= 0) {
    *clen = 1;
    return C_SEP;
  }
  *clen = (size_t)step;
  switch (utf8proc_category(c)) {
  case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
  case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
  case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
    return C_WORD;
  default:
    return C_SEP;
  }
}

int lp__text_next_word(const char *s, size_t len, size_t *pos, size_t *off, size_t *wlen, int *has_conn) {
  size_t i = *pos, cl;
  int prev = C_SEP, prev2 = C_SEP;
  /* Skip to the first word character, remembering the two characters before it. */
  for (;;) {
    if (i >= len) {
      *pos = len;
      return 0;
    }
    int k = char_class(s, len, i, &cl);
    if (k == C_WORD) break;
    prev2 = prev;
    prev = k == C_CONN && s[i] == '.' ? 3 : k;
    i += cl;
  }
  size_t start = i;
  if (prev == 3 && prev2 == C_SEP) start = i - 1;   /* ".net": one leading dot after a separator */
  size_t end = i;    /* end of the last word character */
  int conn = 0;
  while (i < len) {
    int k = char_class(s, len, i, &cl);
    if (k == C_SEP) break;
    if (k == C_WORD) {
      if (end != i) conn = 1;  /* connectors between word characters */
      end = i + cl;
    }
    i += cl;
  }
  /* Trailing '+' and '#' stay ("c++", "c#"); other trailing connectors do not. */
  size_t e = end;
  while (e < i && (s[e] == '+' || s[e] == '#')) e++;
  if (e > end) conn = 1;
  if (start < len && s[start] == '.') conn = 1;
  *off = start;
  *wlen = e - start;
  *has_conn = conn;
  *pos = i;
  return 1;
}

int lp__text_next_piece(const char *s, size_t len, size_t *pos, size_t *off, size_t *plen) {
  size_t i = *pos, cl;
  while (i < len && char_class(s, len, i, &cl) != C_WORD) i += cl;
  if (i >= len) {
    *pos = len;
    return 0;
  }
  size_t start = i;
  while (i < len && char_class(s, len, i, &cl) == C_WORD) i += cl;
  *off = start;
  *plen = i - start;
  *pos = i;
  return 1;
}

int lp__text_key(lp__norm_scratch *s, const char *in, size_t len, lp_buf *tmp, lp_buf *out) {
  lp_buf_reset(tmp);
  lp_buf_reset(out);
  int rc = lp__text_normalize(s, in, len, tmp);
  if (rc != LP_OK) return rc;
  size_t pos = 0, off, wlen;
  int conn;
  while (lp__text_next_word(tmp->data, tmp->len, &pos, &off, &wlen, &conn)) {
    if (out->len > 0 && lp_buf_append(out, " ", 1) != LP_OK) return LP_ENOMEM;
    if (lp_buf_append(out, tmp->data + off, wlen) != LP_OK) return LP_ENOMEM;
  }
  if (lp_buf_reserve(out, 1) != LP_OK) return LP_ENOMEM;
  out->data[out->len] = '\0';
  return LP_OK;
}
