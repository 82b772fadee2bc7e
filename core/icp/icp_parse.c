/*
 * icp_parse.c: the clauses of a prompt, in four passes over its tokens (rules in README.md):
 *   1. entities, left to right, longest first: head counts, technologies, countries and regions, industry
 *      words and NAICS titles, size words, domains, negation and example-cue phrases;
 *   2. NOT clauses: a negation, optional filler words, then an entity (and a list of entities of the same
 *      group joined by "or", "and", ","): excluded; an unknown word there is dropped, never a product word;
 *   3. example companies: a cue ("like", "similar to") then, within six tokens, domains;
 *   4. categories (named, or of an excluded technology) and product words (every word left).
 */
#include <string.h>

#include "base/alloc.h"
#include "icp/icp_int.h"

static int group(uint8_t kind) {
  switch (kind) {
    case E_COUNTRY: case E_REGION: return E_COUNTRY;
    case E_INDUSTRY: case E_NAICS: return E_INDUSTRY;
    default: return kind;
  }
}

static lp__icp_tok *tok(lp__icp_ctx *c, size_t i) { return i < c->t.n ? &c->t.v[i] : NULL; }

static bool is_word(lp__icp_ctx *c, size_t i, const char *w) {
  lp__icp_tok *k = tok(c, i);
  return k && lp__icp_tok_is(k, w);
}

static bool is_connector(lp__icp_ctx *c, size_t i) {
  lp__icp_tok *k = tok(c, i);
  if (k == NULL) return false;
  if (k->kind == LP__TK_SYM) return k->sym == ',' || k->sym == '/' || k->sym == '&';
  return is_word(c, i, "or") || is_word(c, i, "and") || is_word(c, i, "nor");
}

static lp__icp_ent *add_ent(lp__icp_ctx *c, uint8_t kind, size_t start, size_t end, uint32_t a, uint32_t b) {
  lp__icp_ent *e = &c->e[c->n_e];
  memset(e, 0, sizeof(*e));
  e->kind = kind;
  e->start = start;
  e->end = end;
  e->a = a;
  e->b = b;
  for (size_t i = start; i < end; i++) c->t.v[i].ent = (int32_t)c->n_e;
  c->n_e++;
  return e;
}

static lp__icp_ent *ent_at(lp__icp_ctx *c, size_t i) {
  lp__icp_tok *k = tok(c, i);
  return (k && k->ent >= 0) ? &c->e[k->ent] : NULL;
}

/* ---- head counts ---- */

static bool is_num(lp__icp_ctx *c, size_t i) {
  lp__icp_tok *k = tok(c, i);
  return k && k->kind == LP__TK_NUM;
}

static uint32_t clamp_count(double v) {
  if (v < 1) return 1;
  if (v > 10000000) return 10000000;
  return (uint32_t)(v + 0.5);
}

/* Whether token i may follow a head count that has no noun: the end, a symbol other than '%', or a word
 * that is no content ("companies", "in", "and"). */
static bool weak_after(lp__icp_ctx *c, size_t i) {
  lp__icp_tok *k = tok(c, i);
  if (k == NULL) return true;
  if (k->kind == LP__TK_SYM) return k->sym != '%' && k->sym != '$';
  if (k->kind != LP__TK_WORD) return false;
  return lp__icp_is_stop(k->norm, k->len) || lp__icp_is_neg(k->norm, k->len);
}

static bool weak_before(lp__icp_ctx *c, size_t i) {
  if (i == 0) return true;
  lp__icp_tok *k = tok(c, i - 1);
  if (k->kind == LP__TK_SYM) return k->sym != '$';
  if (k->kind != LP__TK_WORD) return false;
  return lp__icp_is_stop(k->norm, k->len) || lp__icp_is_size_context(k->norm, k->len);
}

/* A head count starting at token i: "50-500", "50 to 500", "between 50 and 500", "5k+", "over 1,000",
 * "<50", "500 or more", then optionally a noun ("employees", "people", "staff"). Without the noun (or a
 * size word such as "headcount" before it) only a range or a bound counts, and only between non-content
 * words: "2-3 day onboarding" and "$50-$500" are not head counts. Returns its end, or 0. */
static size_t try_count(lp__icp_ctx *c, size_t i, uint32_t *mn, uint32_t *mx) {
  size_t j = i;
  double lo = -1, hi = -1;
  int bound = 0;   /* 1 when a range or a bound, 0 for a single number */
  static const char *const over[] = { "over", "above" }, *const under[] = { "under", "below" };
  bool strict_lo = false, strict_hi = false;
  lp__icp_tok *k = tok(c, j);
  if (k == NULL) return 0;
  if (lp__icp_tok_sym(k, '>') || lp__icp_tok_sym(k, 'g') || lp__icp_tok_sym(k, '<') || lp__icp_tok_sym(k, 'l')) {
    if (!is_num(c, j + 1)) return 0;
    if (k->sym == '>' || k->sym == 'g') { lo = tok(c, j + 1)->num; strict_lo = k->sym == '>'; }
    else { hi = tok(c, j + 1)->num; strict_hi = k->sym == '<'; }
    j += 2;
    bound = 1;
  } else if ((is_word(c, j, over[0]) || is_word(c, j, over[1])) && is_num(c, j + 1)) {
    lo = tok(c, j + 1)->num; strict_lo = true; j += 2; bound = 1;
  } else if ((is_word(c, j, under[0]) || is_word(c, j, under[1])) && is_num(c, j + 1)) {
    hi = tok(c, j + 1)->num; strict_hi = true; j += 2; bound = 1;
  } else if ((is_word(c, j, "more") || is_word(c, j, "greater")) && is_word(c, j + 1, "than") && is_num(c, j + 2)) {
    lo = tok(c, j + 2)->num; strict_lo = true; j += 3; bound = 1;
  } else if ((is_word(c, j, "less") || is_word(c, j, "fewer")) && is_word(c, j + 1, "than") && is_num(c, j + 2)) {
    hi = tok(c, j + 2)->num; strict_hi = true; j += 3; bound = 1;
  } else if (is_word(c, j, "at") && (is_word(c, j + 1, "least") || is_word(c, j + 1, "most")) && is_num(c, j + 2)) {
    if (is_word(c, j + 1, "least")) lo = tok(c, j + 2)->num; else hi = tok(c, j + 2)->num;
    j += 3; bound = 1;
  } else if (is_word(c, j, "up") && is_word(c, j + 1, "to") && is_num(c, j + 2)) {
    hi = tok(c, j + 2)->num; j += 3; bound = 1;
  } else if ((is_word(c, j, "between") || is_word(c, j, "from")) && is_num(c, j + 1) &&
             (is_word(c, j + 2, "and") || is_word(c, j + 2, "to") || lp__icp_tok_sym(tok(c, j + 2) ? tok(c, j + 2) : k, '-')) &&
             is_num(c, j + 3)) {
    lo = tok(c, j + 1)->num; hi = tok(c, j + 3)->num; j += 4; bound = 1;
  } else if (is_num(c, j)) {
    lo = tok(c, j)->num;
    j++;
    if ((is_word(c, j, "to") || (tok(c, j) && lp__icp_tok_sym(tok(c, j), '-'))) && is_num(c, j + 1)) {
      hi = tok(c, j + 1)->num; j += 2; bound = 1;
    } else if (tok(c, j) && lp__icp_tok_sym(tok(c, j), '+')) {
      j++; bound = 1;
    } else if (is_word(c, j, "or") && (is_word(c, j + 1, "more") || is_word(c, j + 1, "above"))) {
      j += 2; bound = 1;
    } else if (is_word(c, j, "or") && (is_word(c, j + 1, "fewer") || is_word(c, j + 1, "less"))) {
      hi = lo; lo = -1; j += 2; bound = 1;
    } else {
      hi = lo;
    }
  } else {
    return 0;
  }
  size_t end = j;
  if (is_word(c, end, "full") && is_word(c, end + 1, "time")) end += 2;
  lp__icp_tok *noun = tok(c, end);
  bool strong = noun && noun->kind == LP__TK_WORD && lp__icp_is_employee_noun(noun->norm, noun->len);
  if (strong) end++;
  else if (i > 0 && tok(c, i - 1)->kind == LP__TK_WORD && lp__icp_is_size_context(tok(c, i - 1)->norm, tok(c, i - 1)->len)) strong = true;
  if (!strong && !(bound && weak_before(c, i) && weak_after(c, j))) return 0;
  if (lo >= 0 && hi >= 0 && lo > hi) { double x = lo; lo = hi; hi = x; }
  *mn = lo >= 0 ? clamp_count(lo + (strict_lo ? 1 : 0)) : 0;
  *mx = hi >= 0 ? clamp_count(hi - (strict_hi ? 1 : 0)) : 0;
  if (*mn == 0 && *mx == 0) return 0;
  return end;
}

/* ---- phrases, technologies, countries ---- */

/* The longest phrase of the table starting at token i (words only): its length in tokens and the first
 * of its entries (the lowest kind wins a tie: size, country, region, industry, title, negation, cue). */
static size_t match_phrase(lp__icp_ctx *c, size_t i, const lp__icp_phrase **hit) {
  char key[512];
  size_t ends[256], kl = 0, n = 0;
  for (size_t j = i; j < c->t.n && n < c->p->max_words; j++) {
    lp__icp_tok *k = &c->t.v[j];
    if (k->kind == LP__TK_SYM || k->kind == LP__TK_DOMAIN || (k->ent >= 0 && j > i)) break;
    if (kl + k->len + 2 >= sizeof(key)) break;
    if (n) key[kl++] = ' ';
    memcpy(key + kl, k->norm, k->len);
    kl += k->len;
    ends[n++] = kl;
  }
  for (size_t m = n; m > 0; m--) {
    size_t first, len = ends[m - 1];
    if (lp__icp_phrase_find(c->p, key, len, &first)) { *hit = &c->p->phrases[first]; return m; }
    /* A plural finds its singular: "agencies" -> "agency", "banks" -> "bank", "businesses" -> "business". */
    if (len > 3 && key[len - 1] == 's') {
      char alt[512];
      memcpy(alt, key, len);
      static const char *const tails[][2] = { { "ies", "y" }, { "s", "" }, { "es", "" } };
      for (size_t t = 0; t < 3; t++) {
        size_t tl = strlen(tails[t][0]);
        if (len <= tl + 1 || memcmp(key + len - tl, tails[t][0], tl) != 0) continue;
        size_t al = len - tl;
        memcpy(alt + al, tails[t][1], strlen(tails[t][1]));
        al += strlen(tails[t][1]);
        if (lp__icp_phrase_find(c->p, alt, al, &first) && c->p->phrases[first].kind != LP__PH_NEG &&
            c->p->phrases[first].kind != LP__PH_LIKE) { *hit = &c->p->phrases[first]; return m; }
      }
    }
  }
  return 0;
}

/* A technology starting at token i. A one-word name that is also a common word ("square", "segment")
 * needs a hint: a capital letter, a symbol in it ("node.js", "c#"), or a cue before it ("on", "using"). */
static size_t match_tech(lp__icp_ctx *c, size_t i, uint32_t *id) {
  lp_str w[8];
  size_t n = 0, used = 0;
  if (c->p->tech == NULL) return 0;
  for (size_t j = i; j < c->t.n && n < 8; j++) {
    lp__icp_tok *k = &c->t.v[j];
    if (k->kind != LP__TK_WORD || (k->ent >= 0 && j > i)) break;
    w[n].ptr = k->norm;
    w[n++].len = k->len;
  }
  const lp_tech_info *ti = n ? lp_techtable_match(c->p->tech, w, n, &used) : NULL;
  if (ti == NULL || used == 0) return 0;
  if (used == 1) {
    lp__icp_tok *k = &c->t.v[i];
    bool hint = (!c->t.all_upper && (k->flags & (LP__TF_CAP | LP__TF_UPPER))) ||
                strpbrk(k->norm, ".#+0123456789") != NULL;
    if (!hint && i > 0) {
      lp__icp_tok *prev = &c->t.v[i - 1];
      hint = (prev->kind == LP__TK_WORD && lp__icp_is_tech_cue(prev->norm, prev->len)) ||
             (is_connector(c, i - 1) && i > 1 && ent_at(c, i - 2) && ent_at(c, i - 2)->kind == E_TECH);
    }
    if (!hint || lp__icp_is_stop(k->norm, k->len)) return 0;
  }
  *id = ti->id;
  return used;
}

/* Whether token i sits where a country is expected: after "in", "from", "across" (and "the"), before
 * "based" or "only", or in a list next to a place. */
static bool country_context(lp__icp_ctx *c, size_t i) {
  size_t j = i;
  if (j > 0 && is_word(c, j - 1, "the")) j--;
  if (j > 0) {
    lp__icp_tok *prev = tok(c, j - 1);
    if (prev->kind == LP__TK_WORD && lp__icp_is_country_cue(prev->norm, prev->len)) return true;
    if (is_connector(c, j - 1) && j > 1 && ent_at(c, j - 2) && group(ent_at(c, j - 2)->kind) == E_COUNTRY) return true;
  }
  if (is_word(c, i + 1, "based") || is_word(c, i + 1, "only")) return true;
  if (is_connector(c, i + 1) && tok(c, i + 2)) {
    const lp__icp_phrase *ph;
    lp__icp_tok *next = tok(c, i + 2);
    if (next->kind == LP__TK_WORD && (next->flags & LP__TF_UPPER) && next->len == 2) return true;
    if (match_phrase(c, i + 2, &ph) && (ph->kind == LP__PH_COUNTRY || ph->kind == LP__PH_REGION)) return true;
  }
  return false;
}

/* A country written as its code: an upper-case code that is unambiguous ("US", "DE"; not "IT" or "IN"),
 * any upper-case code where a country is expected, and "us" in lower case only there. -1 when none. */
static int match_code(lp__icp_ctx *c, size_t i) {
  lp__icp_tok *k = &c->t.v[i];
  if (k->kind != LP__TK_WORD || k->len != 2) return -1;
  char code[3] = { (char)(k->norm[0] & ~0x20), (char)(k->norm[1] & ~0x20), '\0' };
  if (code[0] < 'A' || code[0] > 'Z' || code[1] < 'A' || code[1] > 'Z') return -1;
  int ci = lp__icp_country_find(c->p, code);
  if (ci < 0) return -1;
  bool upper = !c->t.all_upper && (k->flags & LP__TF_UPPER);
  if (upper && lp__icp_is_code_safe(code)) return ci;
  if ((upper || (strcmp(code, "US") == 0)) && country_context(c, i)) return ci;
  return -1;
}

/* One-word country names that are also common words count only with a capital or where a place is due. */
static bool ambiguous_name(const lp__icp_tok *k) {
  static const char *const words[] = { "turkey", "china", "jersey", "georgia", "chad", "jordan", "guinea",
                                       "niger", "america", "american", "monaco", "panama" };
  for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
    if (lp__icp_tok_is(k, words[i])) return true;
  }
  return false;
}

static void recognise(lp__icp_ctx *c) {
  for (size_t i = 0; i < c->t.n;) {
    lp__icp_tok *k = &c->t.v[i];
    uint32_t mn, mx, id = 0;
    size_t end;
    if (k->kind == LP__TK_DOMAIN) { add_ent(c, E_DOMAIN, i, i + 1, 0, 0); i++; continue; }
    if ((end = try_count(c, i, &mn, &mx)) > i) { add_ent(c, E_SIZE, i, end, mn, mx); i = end; continue; }
    if (k->kind != LP__TK_WORD) { i++; continue; }
    if (lp__icp_tok_is(k, "naics") && is_num(c, i + 1)) {
      lp__icp_tok *num = tok(c, i + 1);
      long ni = lp__icp_naics_find(c->p, num->norm, num->len);
      if (ni >= 0) { add_ent(c, E_NAICS, i, i + 2, (uint32_t)ni, 0); i += 2; continue; }
    }
    const lp__icp_phrase *ph = NULL;
    size_t pn = match_phrase(c, i, &ph);
    size_t tn = match_tech(c, i, &id);
    if (pn == 1 && ph->kind == LP__PH_COUNTRY && ambiguous_name(k) &&
        !((k->flags & LP__TF_CAP) && !(k->flags & LP__TF_START)) && !country_context(c, i)) pn = 0;
    if (tn > pn) { add_ent(c, E_TECH, i, i + tn, id, 0); i += tn; continue; }
    if (pn > 0) {
      static const uint8_t kinds[] = { [LP__PH_SIZE] = E_SIZE, [LP__PH_COUNTRY] = E_COUNTRY,
                                       [LP__PH_REGION] = E_REGION, [LP__PH_INDUSTRY] = E_INDUSTRY,
                                       [LP__PH_TITLE] = E_NAICS, [LP__PH_NEG] = E_NEG, [LP__PH_LIKE] = E_LIKE };
      uint32_t a = ph->a, b = ph->b;
      if (ph->kind == LP__PH_SIZE) { a = lp__icp_size_words[ph->a].min; b = lp__icp_size_words[ph->a].max; }
      add_ent(c, kinds[ph->kind], i, i + pn, a, b);
      i += pn;
      continue;
    }
    int ci = match_code(c, i);
    if (ci >= 0) { add_ent(c, E_COUNTRY, i, i + 1, (uint32_t)ci, 0); i++; continue; }
    i++;
  }
}

/* ---- NOT clauses and example companies ---- */

static bool is_neg_at(lp__icp_ctx *c, size_t i, size_t *end) {
  lp__icp_tok *k = tok(c, i);
  lp__icp_ent *e = ent_at(c, i);
  if (e && e->kind == E_NEG && e->start == i) { *end = e->end; return true; }
  if (k == NULL || k->kind != LP__TK_WORD || k->ent >= 0 || !lp__icp_is_neg(k->norm, k->len)) return false;
  /* "no-code", "non-profit": a hyphenated compound, unless an entity follows ("non-US"). */
  lp__icp_tok *next = tok(c, i + 1);
  if (next && (next->flags & LP__TF_HYPH) && next->ent < 0) return false;
  *end = i + 1;
  return true;
}

static size_t skip_fillers(lp__icp_ctx *c, size_t j, size_t max) {
  for (size_t n = 0; n < max && j < c->t.n; n++, j++) {
    lp__icp_tok *k = &c->t.v[j];
    if (k->kind != LP__TK_WORD || k->ent >= 0 || !lp__icp_is_neg_filler(k->norm, k->len)) break;
    k->used = true;
  }
  return j;
}

static void negate(lp__icp_ctx *c) {
  for (size_t i = 0; i < c->t.n; i++) {
    size_t j;
    if (!is_neg_at(c, i, &j)) continue;
    for (size_t x = i; x < j; x++) c->t.v[x].used = true;
    j = skip_fillers(c, j, 4);
    lp__icp_ent *e = ent_at(c, j);
    if (e && e->start == j && e->kind != E_NEG && e->kind != E_LIKE) {
      int g = group(e->kind);
      e->neg = true;
      j = e->end;
      for (;;) {  /* "not on Stripe or Braintree", "excluding agencies, banks and insurers" */
        size_t k = j;
        if (!is_connector(c, k)) break;
        k = skip_fillers(c, k + 1, 3);
        size_t after;
        if (is_neg_at(c, k, &after)) k = skip_fillers(c, after, 3);
        lp__icp_ent *f = ent_at(c, k);
        if (f == NULL || f->start != k || group(f->kind) != g) break;
        for (size_t x = j; x < k; x++) c->t.v[x].used = true;
        f->neg = true;
        j = f->end;
      }
      i = j - 1;
      continue;
    }
    /* An object the tables do not know ("without a data team"): its words are not what is sold. */
    while (j < c->t.n) {
      lp__icp_tok *k = &c->t.v[j];
      if (k->kind != LP__TK_WORD || k->ent >= 0 || lp__icp_is_stop(k->norm, k->len)) break;
      k->used = true;
      j++;
    }
    i = j > i ? j - 1 : i;
  }
}

static bool is_like_at(lp__icp_ctx *c, size_t i, size_t *end) {
  lp__icp_tok *k = tok(c, i);
  lp__icp_ent *e = ent_at(c, i);
  if (e && e->kind == E_LIKE && e->start == i) { *end = e->end; return true; }
  if (k == NULL || k->kind != LP__TK_WORD || k->ent >= 0 || !lp__icp_is_like(k->norm, k->len)) return false;
  *end = i + 1;
  return true;
}

static void examples(lp__icp_ctx *c) {
  for (size_t i = 0; i < c->t.n; i++) {
    size_t j, first = 0, neg_end;
    if (!is_like_at(c, i, &j)) continue;
    for (size_t x = j; x < c->t.n && x < j + 6; x++) {
      lp__icp_tok *k = &c->t.v[x];
      lp__icp_ent *e = ent_at(c, x);
      if (k->kind == LP__TK_SYM && strchr(".;!?", k->sym)) break;
      if (is_neg_at(c, x, &neg_end)) break;
      if (e && e->kind == E_DOMAIN && !e->neg) { first = x; break; }
    }
    if (first == 0) continue;
    for (size_t x = i; x < first; x++) {
      if (c->t.v[x].ent < 0) c->t.v[x].used = true;  /* the cue and a name before the domain */
    }
    size_t x = first;
    while (x < c->t.n) {
      lp__icp_tok *k = &c->t.v[x];
      lp__icp_ent *e = ent_at(c, x);
      if (e && e->kind == E_DOMAIN) { if (!e->neg) e->like = true; x++; continue; }
      if (is_connector(c, x) || lp__icp_tok_sym(k, '(') || lp__icp_tok_sym(k, ')')) { x++; continue; }
      bool named = k->kind == LP__TK_WORD && k->ent < 0 && (k->flags & LP__TF_CAP) &&
                   tok(c, x + 1) && lp__icp_tok_sym(tok(c, x + 1), '(');
      if (!named) break;
      k->used = true;
      x++;
    }
    i = x > i ? x - 1 : i;
  }
}

int lp_icp_parse(const lp_icp_parser *p, const char *prompt, size_t len, lp_icp **out) {
  if (out) *out = NULL;
  if (p == NULL || out == NULL || (prompt == NULL && len > 0)) return LP_EINVAL;
  if (len > LP_ICP_MAX_PROMPT) return LP_ERANGE;
  lp__icp_arena scratch = { NULL };
  lp__icp_ctx c = { .p = p, .scratch = &scratch };
  int rc = lp__icp_lex(&scratch, p->tech, prompt ? prompt : "", len, &c.t);
  if (rc == 0) {
    c.e = lp__icp_alloc(&scratch, (c.t.n + 1) * sizeof(*c.e));
    if (c.e == NULL) rc = LP_ENOMEM;
  }
  if (rc == 0) {
    recognise(&c);
    negate(&c);
    examples(&c);
    lp_icp *icp = lp_calloc(1, sizeof(*icp));
    if (icp == NULL) rc = LP_ENOMEM;
    else if ((rc = lp__icp_collect(&c, icp)) != 0) lp_icp_free(icp);
    else *out = icp;
  }
  lp__icp_arena_free(&scratch);
  return rc;
}
