/*
 * icp_result.c: turns the clauses of a prompt into the lp_icp the caller keeps (in its own arena), and
 * renders it as JSON. Exclusion wins: a technology, industry or country both named and excluded ("Europe
 * except Germany") is only excluded.
 */
#include <string.h>

#include "base/alloc.h"
#include "icp/icp_int.h"

static bool has_u32(const uint32_t *v, size_t n, uint32_t x) {
  for (size_t i = 0; i < n; i++) {
    if (v[i] == x) return true;
  }
  return false;
}

static void add_u32(uint32_t *v, size_t *n, uint32_t x) {
  if (!has_u32(v, *n, x)) v[(*n)++] = x;
}

/* Removes from v every value also in ex. */
static void subtract(uint32_t *v, size_t *n, const uint32_t *ex, size_t n_ex) {
  size_t o = 0;
  for (size_t i = 0; i < *n; i++) {
    if (!has_u32(ex, n_ex, v[i])) v[o++] = v[i];
  }
  *n = o;
}

static void add_industries(const lp_icp_parser *p, const lp__icp_ent *e, uint32_t *v, size_t *n) {
  if (e->kind == E_NAICS) { add_u32(v, n, e->a); return; }
  for (uint32_t i = 0; i < e->b; i++) add_u32(v, n, p->industry_pool[e->a + i]);
}

static void add_countries(const lp_icp_parser *p, const lp__icp_ent *e, uint8_t *set) {
  if (e->kind == E_COUNTRY) { set[e->a] = 1; return; }
  for (uint32_t i = 0; i < e->b; i++) set[p->region_pool[e->a + i]] = 1;
}

static int country_list(lp__icp_arena *a, const lp_icp_parser *p, const uint8_t *set, const char ***out,
                        size_t *n) {
  size_t count = 0;
  for (size_t i = 0; i < p->n_countries; i++) count += set[i];
  *out = lp__icp_alloc(a, (count + 1) * sizeof(**out));
  if (*out == NULL) return LP_ENOMEM;
  for (size_t i = 0; i < p->n_countries; i++) {
    if (set[i]) (*out)[(*n)++] = p->countries[i];
  }
  return 0;
}

static int industry_list(lp__icp_arena *a, const lp_icp_parser *p, const uint32_t *v, size_t n,
                         lp_icp_industry **out, size_t *n_out) {
  *out = lp__icp_alloc(a, (n + 1) * sizeof(**out));
  if (*out == NULL) return LP_ENOMEM;
  for (size_t i = 0; i < n; i++) (*out)[i] = (lp_icp_industry){ p->naics[v[i]].code, p->naics[v[i]].title };
  *n_out = n;
  return 0;
}

/* Categories, in prompt order: those of an excluded technology (the seller competes with it), and those
 * named by one to three words that no other clause took ("payment processors", "crm"). */
static void categories(lp__icp_ctx *c, uint32_t *v, size_t *n) {
  const lp_techtable *tt = c->p->tech;
  if (tt == NULL) return;
  for (size_t i = 0; i < c->t.n; i++) {
    lp__icp_tok *k = &c->t.v[i];
    lp__icp_ent *e = k->ent >= 0 ? &c->e[k->ent] : NULL;
    if (e && e->kind == E_TECH && e->neg && e->start == i) {
      const lp_tech_info *ti = lp_techtable_at(tt, e->a);
      for (uint32_t j = 0; ti && j < ti->n_categories; j++) add_u32(v, n, ti->categories[j]);
      continue;
    }
    char key[256];
    size_t kl = 0, words = 0;
    for (size_t j = i; j < c->t.n && words < 3; j++) {
      lp__icp_tok *w = &c->t.v[j];
      lp__icp_ent *we = w->ent >= 0 ? &c->e[w->ent] : NULL;
      if (w->kind != LP__TK_WORD || w->used || (we && (we->kind != E_INDUSTRY || we->neg))) break;
      if (kl + w->len + 1 >= sizeof(key)) break;
      if (words++) key[kl++] = ' ';
      memcpy(key + kl, w->norm, w->len);
      kl += w->len;
      int cat = lp__icp_is_stop(w->norm, w->len) && words == 1 ? -1 : lp_techtable_category_find(tt, key, kl);
      if (cat < 0 && words == 1 && w->len > 3 && key[kl - 1] == 's') cat = lp_techtable_category_find(tt, key, kl - 1);
      if (cat >= 0) add_u32(v, n, (uint32_t)cat);
    }
  }
}

static bool has_letter(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch >= 0x80 || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z')) return true;
  }
  return false;
}

static size_t utf8_chars(const char *s, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) k += ((unsigned char)s[i] & 0xC0) != 0x80;
  return k;
}

/* Product words: every word that no clause took, is not a stop word, holds a letter and has two
 * characters or more; first mention order, no duplicates. */
static int product(lp__icp_ctx *c, lp__icp_arena *a, lp_icp *icp) {
  icp->product = lp__icp_alloc(a, (c->t.n + 1) * sizeof(*icp->product));
  if (icp->product == NULL) return LP_ENOMEM;
  for (size_t i = 0; i < c->t.n; i++) {
    lp__icp_tok *k = &c->t.v[i];
    if (k->kind != LP__TK_WORD || k->used || k->ent >= 0) continue;
    if (lp__icp_is_stop(k->norm, k->len) || lp__icp_is_like(k->norm, k->len) || !has_letter(k->norm, k->len) || utf8_chars(k->norm, k->len) < 2) continue;
    bool dup = false;
    for (size_t j = 0; j < icp->n_product && !dup; j++) {
      dup = strlen(icp->product[j]) == k->len && memcmp(icp->product[j], k->norm, k->len) == 0;
    }
    if (dup) continue;
    const char *w = lp__icp_strndup(a, k->norm, k->len);
    if (w == NULL) return LP_ENOMEM;
    icp->product[icp->n_product++] = w;
  }
  return 0;
}

static void size_hull(lp__icp_ctx *c, lp_icp *icp) {
  bool any = false, open_lo = false, open_hi = false;
  uint32_t lo = UINT32_MAX, hi = 0;
  for (size_t i = 0; i < c->n_e; i++) {
    const lp__icp_ent *e = &c->e[i];
    if (e->kind != E_SIZE || e->neg) continue;
    any = true;
    if (e->a == 0) open_lo = true; else if (e->a < lo) lo = e->a;
    if (e->b == 0) open_hi = true; else if (e->b > hi) hi = e->b;
  }
  if (!any) return;
  icp->employees_min = open_lo || lo == UINT32_MAX ? 0 : lo;
  icp->employees_max = open_hi ? 0 : hi;
}

static const char **domain_list(lp__icp_ctx *c, lp__icp_arena *a, bool like, size_t *n) {
  const char **v = lp__icp_alloc(a, (c->n_e + 1) * sizeof(*v));
  if (v == NULL) return NULL;
  for (size_t i = 0; i < c->n_e; i++) {
    const lp__icp_ent *e = &c->e[i];
    if (e->kind != E_DOMAIN || !(like ? e->like : e->neg)) continue;
    const lp__icp_tok *k = &c->t.v[e->start];
    bool dup = false;
    for (size_t j = 0; j < *n && !dup; j++) dup = strcmp(v[j], k->norm) == 0;
    if (dup) continue;
    if ((v[*n] = lp__icp_strndup(a, k->norm, k->len)) == NULL) return NULL;
    (*n)++;
  }
  return v;
}

int lp__icp_collect(lp__icp_ctx *c, lp_icp *icp) {
  const lp_icp_parser *p = c->p;
  lp__icp_arena *a = lp_calloc(1, sizeof(*a));
  if (a == NULL) return LP_ENOMEM;
  icp->arena_ = a;
  size_t cap = c->n_e * 8 + p->n_naics / 64 + 16;
  uint32_t *tech = lp__icp_alloc(a, cap * sizeof(uint32_t)), *xtech = lp__icp_alloc(a, cap * sizeof(uint32_t));
  uint32_t *ind = lp__icp_alloc(c->scratch, cap * sizeof(uint32_t)), *xind = lp__icp_alloc(c->scratch, cap * sizeof(uint32_t));
  uint32_t *cats = lp__icp_alloc(a, (c->t.n * 3 + cap) * sizeof(uint32_t));
  uint8_t *cset = lp__icp_alloc(c->scratch, p->n_countries + 1), *xset = lp__icp_alloc(c->scratch, p->n_countries + 1);
  size_t n_ind = 0, n_xind = 0;
  if (!tech || !xtech || !ind || !xind || !cats || !cset || !xset) return LP_ENOMEM;
  for (size_t i = 0; i < c->n_e; i++) {
    const lp__icp_ent *e = &c->e[i];
    switch (e->kind) {
      case E_TECH:
        if (e->neg) add_u32(xtech, &icp->n_exclude_technologies, e->a); else add_u32(tech, &icp->n_technologies, e->a);
        break;
      case E_COUNTRY: case E_REGION: add_countries(p, e, e->neg ? xset : cset); break;
      case E_INDUSTRY: case E_NAICS:
        if (e->neg) add_industries(p, e, xind, &n_xind); else add_industries(p, e, ind, &n_ind);
        break;
      default: break;
    }
  }
  subtract(tech, &icp->n_technologies, xtech, icp->n_exclude_technologies);
  subtract(ind, &n_ind, xind, n_xind);
  for (size_t i = 0; i < p->n_countries; i++) cset[i] &= (uint8_t)!xset[i];
  icp->technologies = tech;
  icp->exclude_technologies = xtech;
  icp->categories = cats;
  categories(c, cats, &icp->n_categories);
  size_hull(c, icp);
  if (industry_list(a, p, ind, n_ind, &icp->industries, &icp->n_industries) ||
      industry_list(a, p, xind, n_xind, &icp->exclude_industries, &icp->n_exclude_industries) ||
      country_list(a, p, cset, &icp->countries, &icp->n_countries) ||
      country_list(a, p, xset, &icp->exclude_countries, &icp->n_exclude_countries)) return LP_ENOMEM;
  if ((icp->like = domain_list(c, a, true, &icp->n_like)) == NULL) return LP_ENOMEM;
  if ((icp->exclude_domains = domain_list(c, a, false, &icp->n_exclude_domains)) == NULL) return LP_ENOMEM;
  return product(c, a, icp);
}

void lp_icp_free(lp_icp *icp) {
  if (icp == NULL) return;
  if (icp->arena_) {
    lp__icp_arena_free(icp->arena_);
    lp_free(icp->arena_);
  }
  lp_free(icp);
}

/* ---- JSON ---- */

static int json_strs(lp_buf *b, const char *key, const char *const *v, size_t n) {
  int rc = lp_buf_printf(b, "\"%s\":[", key);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    if (i) rc = lp_buf_puts(b, ",");
    if (rc == 0) rc = lp_buf_json_str(b, v[i], strlen(v[i]));
  }
  return rc ? rc : lp_buf_puts(b, "]");
}

static int json_techs(lp_buf *b, const lp_icp_parser *p, const char *key, const uint32_t *v, size_t n) {
  int rc = lp_buf_printf(b, "\"%s\":[", key);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    const lp_tech_info *ti = p->tech ? lp_techtable_at(p->tech, v[i]) : NULL;
    const char *name = ti ? ti->name : "";
    if (i) rc = lp_buf_puts(b, ",");
    if (rc == 0) rc = lp_buf_json_str(b, name, strlen(name));
  }
  return rc ? rc : lp_buf_puts(b, "]");
}

static int json_industries(lp_buf *b, const char *key, const lp_icp_industry *v, size_t n) {
  int rc = lp_buf_printf(b, "\"%s\":[", key);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    rc = lp_buf_puts(b, i ? ",{\"code\":" : "{\"code\":");
    if (rc == 0) rc = lp_buf_json_str(b, v[i].code, strlen(v[i].code));
    if (rc == 0) rc = lp_buf_puts(b, ",\"title\":");
    if (rc == 0) rc = lp_buf_json_str(b, v[i].title, strlen(v[i].title));
    if (rc == 0) rc = lp_buf_puts(b, "}");
  }
  return rc ? rc : lp_buf_puts(b, "]");
}

static int json_count(lp_buf *b, const char *key, uint32_t v) {
  return v ? lp_buf_printf(b, "\"%s\":%u", key, v) : lp_buf_printf(b, "\"%s\":null", key);
}

int lp_icp_to_json(const lp_icp_parser *p, const lp_icp *icp, lp_buf *out) {
  if (p == NULL || icp == NULL || out == NULL) return LP_EINVAL;
  size_t mark = out->len;
  int rc = lp_buf_puts(out, "{");
  if (rc == 0) rc = json_strs(out, "product", icp->product, icp->n_product);
  if (rc == 0) rc = lp_buf_puts(out, ",\"categories\":[");
  for (size_t i = 0; rc == 0 && i < icp->n_categories; i++) {
    const char *name = p->tech ? lp_techtable_category_name(p->tech, icp->categories[i]) : NULL;
    if (name == NULL) name = "";
    if (i) rc = lp_buf_puts(out, ",");
    if (rc == 0) rc = lp_buf_json_str(out, name, strlen(name));
  }
  if (rc == 0) rc = lp_buf_puts(out, "],");
  if (rc == 0) rc = json_techs(out, p, "technologies", icp->technologies, icp->n_technologies);
  if (rc == 0) rc = lp_buf_puts(out, ",");
  if (rc == 0) rc = json_techs(out, p, "exclude_technologies", icp->exclude_technologies, icp->n_exclude_technologies);
  if (rc == 0) rc = lp_buf_puts(out, ",");
  if (rc == 0) rc = json_industries(out, "industries", icp->industries, icp->n_industries);
  if (rc == 0) rc = lp_buf_puts(out, ",");
  if (rc == 0) rc = json_industries(out, "exclude_industries", icp->exclude_industries, icp->n_exclude_industries);
  if (rc == 0) rc = lp_buf_puts(out, ",");
  if (rc == 0) rc = json_count(out, "employees_min", icp->employees_min);
  if (rc == 0) rc = lp_buf_puts(out, ",");
  if (rc == 0) rc = json_count(out, "employees_max", icp->employees_max);
  if (rc == 0) rc = lp_buf_puts(out, ",");
  if (rc == 0) rc = json_strs(out, "countries", icp->countries, icp->n_countries);
  if (rc == 0) rc = lp_buf_puts(out, ",");
  if (rc == 0) rc = json_strs(out, "exclude_countries", icp->exclude_countries, icp->n_exclude_countries);
  if (rc == 0) rc = lp_buf_puts(out, ",");
  if (rc == 0) rc = json_strs(out, "like", icp->like, icp->n_like);
  if (rc == 0) rc = lp_buf_puts(out, ",");
  if (rc == 0) rc = json_strs(out, "exclude_domains", icp->exclude_domains, icp->n_exclude_domains);
  if (rc == 0) rc = lp_buf_puts(out, "}");
  if (rc) out->len = mark;
  return rc;
}
