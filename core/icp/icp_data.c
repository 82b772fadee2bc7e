/*
 * icp_data.c: builds the parser's immutable tables: NAICS codes and titles (config/data/naics.tsv),
 * countries and regions (config/data/regions.tsv), and one sorted phrase index over every name the prompt
 * may use (countries, regions, industry words, NAICS titles of two words or more, size words, several-word
 * negations and example cues). Every phrase is cut by the prompt lexer itself, so a table entry and a
 * prompt always agree on words and normal form.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/embed.h"
#include "icp/icp_int.h"

LP_EMBED_DECLARE(lp_data_naics);
LP_EMBED_DECLARE(lp_data_regions);

typedef struct builder {
  lp_icp_parser *p;
  lp__icp_phrase *ph;
  size_t n_ph, cap_ph;
  size_t n_region, cap_region;
  size_t n_ind, cap_ind;
  char *errstr;
  size_t errstr_size;
} builder;

static int fail(builder *b, int rc, const char *what, const char *detail) {
  if (b->errstr && b->errstr_size) snprintf(b->errstr, b->errstr_size, "icp: %s: %s", what, detail);
  return rc;
}

static int grow(void **v, size_t *cap, size_t n, size_t elem) {
  if (n < *cap) return 0;
  size_t c = *cap ? *cap * 2 : 256;
  void *nv = lp_realloc(*v, c * elem);
  if (nv == NULL) return LP_ENOMEM;
  *v = nv;
  *cap = c;
  return 0;
}

/* Adds a phrase: text is cut into words by the prompt lexer and re-joined with single spaces. */
static int add_phrase(builder *b, const char *text, size_t len, uint8_t kind, uint32_t a, uint32_t bb) {
  lp__icp_arena scratch = { NULL };
  lp__icp_toks t;
  int rc = lp__icp_lex(&scratch, NULL, text, len, &t);
  char key[512];
  size_t kl = 0, words = 0;
  for (size_t i = 0; rc == 0 && i < t.n; i++) {
    if (t.v[i].kind == LP__TK_SYM) continue;
    if (kl + t.v[i].len + 1 >= sizeof(key)) { words = 0; break; }
    if (words++) key[kl++] = ' ';
    memcpy(key + kl, t.v[i].norm, t.v[i].len);
    kl += t.v[i].len;
  }
  lp__icp_arena_free(&scratch);
  if (rc) return fail(b, rc, "out of memory", "phrase");
  if (words == 0 || words > 255) return 0;
  if (kind == LP__PH_TITLE && words < 2) return 0;
  if ((rc = grow((void **)&b->ph, &b->cap_ph, b->n_ph, sizeof(*b->ph))) != 0) return fail(b, rc, "out of memory", "phrases");
  lp__icp_phrase *ph = &b->ph[b->n_ph];
  ph->text = lp__icp_strndup(&b->p->arena, key, kl);
  if (ph->text == NULL) return fail(b, LP_ENOMEM, "out of memory", "phrase");
  ph->kind = kind;
  ph->a = a;
  ph->b = bb;
  ph->n_words = (uint8_t)words;
  if (words > b->p->max_words) b->p->max_words = (uint8_t)words;
  b->n_ph++;
  return 0;
}

/* Adds every '|'-separated name of names[0..len) as a phrase. */
static int add_names(builder *b, const char *names, size_t len, uint8_t kind, uint32_t a, uint32_t bb) {
  size_t start = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i == len || names[i] == '|') {
      int rc = i > start ? add_phrase(b, names + start, i - start, kind, a, bb) : 0;
      if (rc) return rc;
      start = i + 1;
    }
  }
  return 0;
}

/* Splits a line into up to max tab-separated fields; returns their count. */
static size_t split_tabs(const char *line, size_t len, lp_str *f, size_t max) {
  size_t n = 0, start = 0;
  for (size_t i = 0; i <= len && n < max; i++) {
    if (i == len || line[i] == '\t') {
      f[n].ptr = line + start;
      f[n++].len = i - start;
      start = i + 1;
    }
  }
  return n;
}

/* The next line of text[0..len) from *off (without its '\n'); false at the end. */
static bool next_line(const unsigned char *text, size_t len, size_t *off, lp_str *line) {
  if (*off >= len) return false;
  const char *s = (const char *)text + *off;
  const char *nl = memchr(s, '\n', len - *off);
  line->ptr = s;
  line->len = nl ? (size_t)(nl - s) : len - *off;
  *off += line->len + 1;
  return true;
}

static int load_naics(builder *b) {
  lp_icp_parser *p = b->p;
  size_t cap = 0, off = 0, lineno = 0;
  lp_str l;
  while (next_line(lp_data_naics, lp_data_naics_len, &off, &l)) {
    const char *line = l.ptr;
    size_t ll = l.len;
    lp_str f[2];
    lineno++;
    char where[64];
    if (ll == 0 || line[0] == '#') continue;
    snprintf(where, sizeof(where), "naics.tsv line %zu", lineno);
    if (split_tabs(line, ll, f, 2) != 2 || f[0].len == 0 || f[1].len == 0) return fail(b, LP_ECONFIG, where, "want CODE<TAB>TITLE");
    if (grow((void **)&p->naics, &cap, p->n_naics, sizeof(*p->naics))) return fail(b, LP_ENOMEM, "out of memory", "naics");
    lp__icp_naics *r = &p->naics[p->n_naics];
    r->code = lp__icp_strndup(&p->arena, f[0].ptr, f[0].len);
    r->title = lp__icp_strndup(&p->arena, f[1].ptr, f[1].len);
    if (r->code == NULL || r->title == NULL) return fail(b, LP_ENOMEM, "out of memory", "naics");
    if (p->n_naics > 0 && strcmp(p->naics[p->n_naics - 1].code, r->code) >= 0) return fail(b, LP_ECONFIG, where, "codes not sorted");
    p->n_naics++;
  }
  if (p->n_naics == 0) return fail(b, LP_ECONFIG, "naics.tsv", "empty");
  for (size_t i = 0; i < p->n_naics; i++) {
    int rc = add_phrase(b, p->naics[i].title, strlen(p->naics[i].title), LP__PH_TITLE, (uint32_t)i, 0);
    if (rc) return rc;
  }
  return 0;
}

static int cmp_code(const void *x, const void *y) { return memcmp(x, y, 3); }

/* Two passes over regions.tsv: the countries first (their indices are needed by the regions). */
static int load_regions(builder *b) {
  lp_icp_parser *p = b->p;
  size_t cap = 0, off = 0, lineno = 0;
  lp_str l;
  while (next_line(lp_data_regions, lp_data_regions_len, &off, &l)) {
    const char *line = l.ptr;
    size_t ll = l.len;
    lp_str f[3];
    lineno++;
    if (ll < 2 || line[0] != 'C') continue;
    if (split_tabs(line, ll, f, 3) != 3 || f[1].len != 2) {
      char where[64];
      snprintf(where, sizeof(where), "regions.tsv line %zu", lineno);
      return fail(b, LP_ECONFIG, where, "want C<TAB>CODE<TAB>NAMES");
    }
    if (grow((void **)&p->countries, &cap, p->n_countries, sizeof(*p->countries))) return fail(b, LP_ENOMEM, "out of memory", "countries");
    memcpy(p->countries[p->n_countries], f[1].ptr, 2);
    p->countries[p->n_countries++][2] = '\0';
  }
  qsort(p->countries, p->n_countries, sizeof(*p->countries), cmp_code);
  off = 0;
  lineno = 0;
  while (next_line(lp_data_regions, lp_data_regions_len, &off, &l)) {
    const char *line = l.ptr;
    size_t ll = l.len;
    lp_str f[3];
    char where[64];
    lineno++;
    int rc = 0;
    if (ll == 0 || line[0] == '#') continue;
    snprintf(where, sizeof(where), "regions.tsv line %zu", lineno);
    if (split_tabs(line, ll, f, 3) != 3) return fail(b, LP_ECONFIG, where, "want 3 fields");
    if (line[0] == 'C') {
      char code[3] = { f[1].ptr[0], f[1].ptr[1], '\0' };
      rc = add_names(b, f[2].ptr, f[2].len, LP__PH_COUNTRY, (uint32_t)lp__icp_country_find(p, code), 0);
    } else if (line[0] == 'R') {
      size_t first = b->n_region;
      for (size_t i = 0; i < f[2].len; i += 3) {  /* "AT CH DE" */
        char code[3] = { f[2].ptr[i], i + 1 < f[2].len ? f[2].ptr[i + 1] : ' ', '\0' };
        int ci = (i + 2 == f[2].len || (i + 2 < f[2].len && f[2].ptr[i + 2] == ' ')) ? lp__icp_country_find(p, code) : -1;
        if (ci < 0) return fail(b, LP_ECONFIG, where, "unknown country code in a region");
        if (grow((void **)&p->region_pool, &b->cap_region, b->n_region, sizeof(*p->region_pool))) return fail(b, LP_ENOMEM, "out of memory", "regions");
        p->region_pool[b->n_region++] = (uint16_t)ci;
      }
      rc = add_names(b, f[1].ptr, f[1].len, LP__PH_REGION, (uint32_t)first, (uint32_t)(b->n_region - first));
    } else {
      return fail(b, LP_ECONFIG, where, "a line starts with C, R or #");
    }
    if (rc) return rc;
  }
  return 0;
}

static int load_words(builder *b) {
  lp_icp_parser *p = b->p;
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < lp__icp_n_size_words; i++) {
    const char *w = lp__icp_size_words[i].phrase;
    rc = add_phrase(b, w, strlen(w), LP__PH_SIZE, (uint32_t)i, 0);
  }
  for (size_t i = 0; rc == 0 && i < lp__icp_n_industry_words; i++) {
    const lp__icp_industry_word *iw = &lp__icp_industry_words[i];
    size_t first = b->n_ind;
    for (const char *c = iw->codes; *c;) {
      size_t l = strcspn(c, " ");
      long ni = lp__icp_naics_find(p, c, l);
      if (ni < 0) return fail(b, LP_ECONFIG, "industry word with an unknown NAICS code", iw->phrase);
      if (grow((void **)&p->industry_pool, &b->cap_ind, b->n_ind, sizeof(*p->industry_pool))) return fail(b, LP_ENOMEM, "out of memory", "industries");
      p->industry_pool[b->n_ind++] = (uint32_t)ni;
      c += l + (c[l] == ' ');
    }
    rc = add_phrase(b, iw->phrase, strlen(iw->phrase), LP__PH_INDUSTRY, (uint32_t)first, (uint32_t)(b->n_ind - first));
  }
  for (size_t i = 0; rc == 0 && i < lp__icp_n_neg_phrases; i++) {
    rc = add_phrase(b, lp__icp_neg_phrases[i], strlen(lp__icp_neg_phrases[i]), LP__PH_NEG, 0, 0);
  }
  for (size_t i = 0; rc == 0 && i < lp__icp_n_like_phrases; i++) {
    rc = add_phrase(b, lp__icp_like_phrases[i], strlen(lp__icp_like_phrases[i]), LP__PH_LIKE, 0, 0);
  }
  return rc;
}

static int cmp_phrase(const void *x, const void *y) {
  const lp__icp_phrase *a = x, *b = y;
  int c = strcmp(a->text, b->text);
  if (c) return c;
  if (a->kind != b->kind) return a->kind < b->kind ? -1 : 1;
  return a->a < b->a ? -1 : a->a > b->a;
}

/* Sorts the phrases and keeps one title per text (the shortest code: the first in code order). */
static int finish_phrases(builder *b) {
  lp_icp_parser *p = b->p;
  qsort(b->ph, b->n_ph, sizeof(*b->ph), cmp_phrase);
  size_t n = 0;
  for (size_t i = 0; i < b->n_ph; i++) {
    if (n > 0 && b->ph[i].kind == LP__PH_TITLE && p->phrases[n - 1].kind == LP__PH_TITLE &&
        strcmp(p->phrases[n - 1].text, b->ph[i].text) == 0) continue;
    if (n == 0) {
      p->phrases = lp__icp_alloc(&p->arena, b->n_ph * sizeof(*p->phrases));
      if (p->phrases == NULL) return fail(b, LP_ENOMEM, "out of memory", "phrases");
    }
    p->phrases[n++] = b->ph[i];
  }
  p->n_phrases = n;
  return 0;
}

int lp_icp_parser_new(lp_icp_parser **out, const lp_techtable *tech, char *errstr, size_t errstr_size) {
  builder b = { .errstr = errstr, .errstr_size = errstr_size };
  const char *bad = lp__icp_words_check();
  int rc;
  if (out == NULL) return LP_EINVAL;
  *out = NULL;
  if (bad != NULL) return fail(&b, LP_ECONFIG, "word list not sorted", bad);
  b.p = lp_calloc(1, sizeof(*b.p));
  if (b.p == NULL) return fail(&b, LP_ENOMEM, "out of memory", "parser");
  b.p->tech = tech;
  if ((rc = load_naics(&b)) == 0 && (rc = load_regions(&b)) == 0 && (rc = load_words(&b)) == 0) {
    rc = finish_phrases(&b);
  }
  lp_free(b.ph);
  if (rc) {
    lp_icp_parser_free(b.p);
    return rc;
  }
  *out = b.p;
  return 0;
}

void lp_icp_parser_free(lp_icp_parser *p) {
  if (p == NULL) return;
  lp_free(p->naics);
  lp_free(p->countries);
  lp_free(p->region_pool);
  lp_free(p->industry_pool);
  lp__icp_arena_free(&p->arena);
  lp_free(p);
}

int lp__icp_country_find(const lp_icp_parser *p, const char *code2) {
  const char (*hit)[3] = bsearch(code2, p->countries, p->n_countries, sizeof(*p->countries), cmp_code);
  return hit ? (int)(hit - p->countries) : -1;
}

long lp__icp_naics_find(const lp_icp_parser *p, const char *code, size_t len) {
  size_t lo = 0, hi = p->n_naics;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const char *c = p->naics[mid].code;
    int r = strncmp(c, code, len);
    if (r == 0 && c[len] != '\0') r = 1;
    if (r == 0) return (long)mid;
    if (r < 0) lo = mid + 1; else hi = mid;
  }
  return -1;
}

size_t lp__icp_phrase_find(const lp_icp_parser *p, const char *text, size_t len, size_t *first) {
  size_t lo = 0, hi = p->n_phrases;
  while (lo < hi) {  /* lower bound */
    size_t mid = lo + (hi - lo) / 2;
    const char *t = p->phrases[mid].text;
    int r = strncmp(t, text, len);
    if (r == 0 && t[len] != '\0') r = 1;
    if (r < 0) lo = mid + 1; else hi = mid;
  }
  size_t n = 0;
  while (lo + n < p->n_phrases && strncmp(p->phrases[lo + n].text, text, len) == 0 &&
         p->phrases[lo + n].text[len] == '\0') n++;
  *first = lo;
  return n;
}

const char *lp_icp_naics_title(const lp_icp_parser *p, const char *code) {
  long i = (p && code) ? lp__icp_naics_find(p, code, strlen(code)) : -1;
  return i < 0 ? NULL : p->naics[i].title;
}

int lp_icp_naics_covers(const char *icp_code, const char *lead_code) {
  if (icp_code == NULL || lead_code == NULL) return 0;
  size_t il = strlen(icp_code), ll = strlen(lead_code);
  if (il == 5 && icp_code[2] == '-') {   /* "31-33": a sector range */
    if (ll < 2) return 0;
    return memcmp(lead_code, icp_code, 2) >= 0 && memcmp(lead_code, icp_code + 3, 2) <= 0;
  }
  return il <= ll && memcmp(icp_code, lead_code, il) == 0;
}
