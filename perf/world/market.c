/*
 * market.c: builds the simulated market: companies (unique pronounceable domains, firmographics, a tech
 * stack), fabricated companies that only spammers talk about, hidden buying cycles, and miners.
 *
 * A buying cycle: a trigger at t0 (funding, a key hire, removing a competing tool, growth, or pain with a
 * current tool), intent rising until t_peak, then a purchase at t_end (bought) or a decay that ends at
 * t_end. Only companies that fit a product's hard constraints enter a cycle for it; its sectors make
 * a cycle and a purchase likelier.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "data.h"
#include "leadpoet/common.h"
#include "stages/ingest/ingest.h"
#include "world.h"

/* Streams of the seed: each writer draws from its own. */
enum { WD_STREAM_COMPANIES = 1, WD_STREAM_CYCLES = 2, WD_STREAM_MINERS = 3 };

static const char *const miner_words[] = {
  "atlas", "beacon", "comet", "delta", "ember", "falcon", "gecko", "harbor", "iris", "jade", "kite", "lumen",
  "meridian", "nova", "orbit", "pylon", "quartz", "raven", "sierra", "tundra", "umbra", "vector", "willow",
  "xenon", "yonder", "zephyr", "scout", "signal", "tracer", "prism", "cobalt", "lynx",
};

static uint64_t hash_str(const char *s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
  return h ^ (h >> 29);
}

/* Open-addressing set of domain hashes (the domains themselves live in w->strings). */
typedef struct dom_set {
  uint32_t *slot;            /* company index + 1, 0 = empty */
  uint64_t mask;
} dom_set;

static int dom_set_has(const dom_set *s, const wd_world *w, const char *d, uint64_t h) {
  for (uint64_t i = h & s->mask;; i = (i + 1) & s->mask) {
    if (!s->slot[i]) return 0;
    if (strcmp(wd_domain(w, s->slot[i] - 1), d) == 0) return 1;
  }
}

static void dom_set_add(dom_set *s, uint64_t h, uint32_t company) {
  uint64_t i = h & s->mask;
  while (s->slot[i]) i = (i + 1) & s->mask;
  s->slot[i] = company + 1;
}

static int put_string(wd_world *w, const char *s, uint32_t *off) {
  size_t n = strlen(s) + 1;
  if (w->strings_cap - w->strings_len < n) {
    size_t cap = w->strings_cap ? w->strings_cap * 2 : 1 << 16;
    while (cap - w->strings_len < n) cap *= 2;
    if (cap > UINT32_MAX) return LP_ENOMEM;
    char *p = lp_realloc(w->strings, cap);
    if (!p) return LP_ENOMEM;
    w->strings = p;
    w->strings_cap = cap;
  }
  memcpy(w->strings + w->strings_len, s, n);
  *off = (uint32_t)w->strings_len;
  w->strings_len += n;
  return 0;
}

static unsigned pick_country(wd_rng *r) {
  unsigned total = 0;
  for (unsigned i = 0; i < wd_n_countries; i++) total += wd_countries[i].weight;
  uint64_t x = wd_below(r, total);
  for (unsigned i = 0; i < wd_n_countries; i++) {
    if (x < wd_countries[i].weight) return i;
    x -= wd_countries[i].weight;
  }
  return 0;
}

static unsigned pick_industry(wd_rng *r) {
  unsigned total = 0;
  for (unsigned i = 0; i < wd_n_industries; i++) total += wd_industries[i].weight;
  uint64_t x = wd_below(r, total);
  for (unsigned i = 0; i < wd_n_industries; i++) {
    if (x < wd_industries[i].weight) return i;
    x -= wd_industries[i].weight;
  }
  return 0;
}

/* A pronounceable name: 2 or 3 syllables (a German one sometimes in DACH), maybe a word and a legal form.
 * disp receives the display name, base the ASCII stem of the domain. */
static void make_name(wd_rng *r, unsigned country, char *disp, size_t dcap, char *base, size_t bcap) {
  char dn[64] = "", an[64] = "";
  unsigned n = wd_chance(r, 0.6) ? 2 : 3;
  int de = wd_countries[country].region == WD_REG_DACH && wd_chance(r, 0.3);
  for (unsigned i = 0; i < n; i++) {
    if (de && i == 0) {
      unsigned k = (unsigned)wd_below(r, wd_n_de_syllables);
      strcat(dn, wd_de_syllables[k][0]);
      strcat(an, wd_de_syllables[k][1]);
    } else {
      const char *s = wd_syllables[wd_below(r, wd_n_syllables)];
      strcat(dn, s);
      strcat(an, s);
    }
  }
  dn[0] = (char)(dn[0] - 'a' + 'A');  /* every first syllable starts with an ASCII letter */
  const char *word = wd_chance(r, 0.35) ? wd_name_words[wd_below(r, wd_n_name_words)] : NULL;
  const char *legal = wd_chance(r, 0.3) ? wd_countries[country].legal : NULL;
  snprintf(disp, dcap, "%s%s%s%s%s", dn, word ? " " : "", word ? word : "", legal ? " " : "", legal ? legal : "");
  snprintf(base, bcap, "%s", an);
  if (word && wd_chance(r, 0.5)) {
    size_t l = strlen(base);
    for (const char *p = word; *p && l + 1 < bcap; p++) base[l++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    base[l] = 0;
  }
}

static int add_company(wd_world *w, wd_rng *r, dom_set *set, const lp_domain_set *b2c, uint32_t idx, int fabricated) {
  wd_company *c = &w->companies[idx];
  memset(c, 0, sizeof *c);
  c->country = (uint8_t)pick_country(r);
  c->industry = (uint8_t)pick_industry(r);
  c->fabricated = (uint8_t)fabricated;
  double e = wd_exp(3.7 + 1.6 * wd_normal(r));  /* log-normal, median ~40 */
  c->employees = e < 1 ? 1 : e > 400000 ? 400000 : (uint32_t)(e + 0.5);
  char disp[128], base[64], dom[96];
  for (int attempt = 0;; attempt++) {
    make_name(r, c->country, disp, sizeof disp, base, sizeof base);
    const wd_country *co = &wd_countries[c->country];
    unsigned nt = co->tlds[2] ? 3 : 2;
    double u = wd_unit(r);
    unsigned t = u < 0.6 ? 0 : u < 0.85 ? 1 : nt - 1;
    if (attempt >= 6) snprintf(dom, sizeof dom, "%s%u.%s", base, (unsigned)wd_below(r, 1000), co->tlds[t]);
    else snprintf(dom, sizeof dom, "%s.%s", base, co->tlds[t]);
    uint64_t h = hash_str(dom);
    if (lp_domain_set_contains(b2c, dom, strlen(dom)) || dom_set_has(set, w, dom, h)) continue;
    int rc;
    if ((rc = put_string(w, disp, &c->name_off)) != 0 || (rc = put_string(w, dom, &c->domain_off)) != 0) return rc;
    dom_set_add(set, h, idx);
    break;
  }
  if (fabricated) return 0;
  uint16_t sector = wd_industries[c->industry].sector;
  double size = c->employees < 20 ? 0.6 : c->employees > 200 ? 1.3 : 1.0;
  unsigned first = (unsigned)wd_below(r, wd_n_techs);  /* a full stack is not always the first categories */
  for (unsigned k = 0; k < wd_n_techs && c->n_tech < WD_MAX_TECH; k++) {
    unsigned t = (first + k) % wd_n_techs;
    double p = wd_techs[t].base_pct / 100.0 * size * ((wd_techs[t].sectors & sector) ? 1.0 : 0.33);
    if (wd_chance(r, p)) c->tech[c->n_tech++] = (uint8_t)t;
  }
  return 0;
}

int wd_company_uses(const wd_company *c, unsigned tech) {
  for (unsigned i = 0; i < c->n_tech; i++)
    if (c->tech[i] == tech) return 1;
  return 0;
}

int wd_product_fits(const wd_world *w, uint32_t ci, unsigned p) {
  const wd_company *c = &w->companies[ci];
  const wd_product *pr = &wd_products[p];
  if (c->fabricated || c->employees < pr->emp_min || c->employees > pr->emp_max) return 0;
  if (!(wd_countries[c->country].region & pr->regions)) return 0;
  int t = w->excludes[p];
  return t < 0 || !wd_company_uses(c, (unsigned)t);
}

/* One cycle for company ci, or nothing when no product fits after a few draws. */
static void add_cycle(wd_world *w, wd_rng *r, uint32_t ci) {
  wd_company *c = &w->companies[ci];
  uint16_t sector = wd_industries[c->industry].sector;
  for (int tries = 0; tries < 8; tries++) {
    unsigned p = (unsigned)wd_below(r, wd_n_products);
    if (!wd_product_fits(w, ci, p)) continue;
    int match = (wd_products[p].sectors & sector) != 0;
    if (!match && !wd_chance(r, 0.25)) continue;
    for (unsigned k = 0; k < c->n_cycles; k++)
      if (w->cycles[c->cycle0 + k].product == p) return;
    wd_cycle *cy = &w->cycles[w->n_cycles];
    memset(cy, 0, sizeof *cy);
    cy->company = ci;
    cy->product = (uint8_t)p;
    cy->removed = WD_NONE;
    for (unsigned k = 0; k < 4 && w->replaces[p][k] >= 0; k++) {
      int t = w->replaces[p][k];
      if (t >= 0 && wd_company_uses(c, (unsigned)t) && wd_chance(r, 0.7)) {
        cy->trigger = WD_TRIG_REMOVED;
        cy->removed = (uint8_t)t;
        break;
      }
    }
    if (cy->removed == WD_NONE) {
      double u = wd_unit(r);
      cy->trigger = u < 0.3 ? WD_TRIG_FUNDING : u < 0.6 ? WD_TRIG_HIRE : u < 0.8 ? WD_TRIG_GROWTH : WD_TRIG_PAIN;
    }
    int64_t lo = w->start_ms - 60 * WD_DAY_MS, hi = w->cfg.now_ms + (int64_t)w->cfg.horizon_days * WD_DAY_MS;
    cy->t0 = wd_range(r, lo, hi);
    cy->t_peak = cy->t0 + wd_range(r, 10 * WD_DAY_MS, 45 * WD_DAY_MS);
    cy->bought = (uint8_t)wd_chance(r, match ? 0.6 : 0.35);
    cy->t_end = cy->t_peak + (cy->bought ? wd_range(r, 0, 10 * WD_DAY_MS) : wd_range(r, 10 * WD_DAY_MS, 30 * WD_DAY_MS));
    c->n_cycles++;
    w->n_cycles++;
    return;
  }
}

static const wd_world *sort_world;
static int cmp_t0(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  int64_t tx = sort_world->cycles[x].t0, ty = sort_world->cycles[y].t0;
  if (tx != ty) return tx < ty ? -1 : 1;
  return x < y ? -1 : x > y;
}

static int build_cycles(wd_world *w) {
  wd_rng r;
  wd_rng_seed(&r, w->cfg.seed, WD_STREAM_CYCLES);
  w->cycles = lp_malloc((size_t)w->n_real * WD_MAX_CYCLES * sizeof *w->cycles + 1);
  if (!w->cycles) return LP_ENOMEM;
  double lambda = w->cfg.cycles_per_lead, more = lambda / (1.0 + lambda);
  for (uint32_t i = 0; i < w->n_real; i++) {
    wd_company *c = &w->companies[i];
    c->cycle0 = w->n_cycles;
    for (unsigned k = 0; k < WD_MAX_CYCLES && wd_chance(&r, more); k++) add_cycle(w, &r, i);
  }
  w->by_t0 = lp_malloc((size_t)w->n_cycles * sizeof *w->by_t0 + 1);
  w->prod_off = lp_calloc(wd_n_products + 1, sizeof *w->prod_off);
  w->prod_cycles = lp_malloc((size_t)w->n_cycles * sizeof *w->prod_cycles + 1);
  if (!w->by_t0 || !w->prod_off || !w->prod_cycles) return LP_ENOMEM;
  for (uint32_t i = 0; i < w->n_cycles; i++) {
    w->by_t0[i] = i;
    w->prod_off[w->cycles[i].product + 1]++;
  }
  sort_world = w;
  qsort(w->by_t0, w->n_cycles, sizeof *w->by_t0, cmp_t0);
  for (unsigned p = 0; p < wd_n_products; p++) w->prod_off[p + 1] += w->prod_off[p];
  uint32_t *fill = lp_calloc(wd_n_products, sizeof *fill);
  if (!fill) return LP_ENOMEM;
  for (uint32_t i = 0; i < w->n_cycles; i++) {
    unsigned p = w->cycles[i].product;
    w->prod_cycles[w->prod_off[p] + fill[p]++] = i;
  }
  lp_free(fill);
  return 0;
}

static int build_miners(wd_world *w) {
  wd_rng r;
  wd_rng_seed(&r, w->cfg.seed, WD_STREAM_MINERS);
  uint32_t m = w->n_miners = w->cfg.miners;
  w->miners = lp_calloc(m, sizeof *w->miners);
  if (!w->miners) return LP_ENOMEM;
  uint32_t n_spam = (uint32_t)(m * w->cfg.spam_frac + 0.5), n_sloppy = (uint32_t)(m * w->cfg.sloppy_frac + 0.5);
  if (n_spam + n_sloppy > m) n_sloppy = m - n_spam;
  for (uint32_t i = 0; i < m; i++) w->miners[i].kind = i < n_spam ? WD_MINER_SPAMMER : i < n_spam + n_sloppy ? WD_MINER_SLOPPY : WD_MINER_HONEST;
  for (uint32_t i = m; i > 1; i--) {  /* Fisher-Yates: a miner's kind does not follow from its id */
    uint32_t j = (uint32_t)wd_below(&r, i);
    uint8_t t = w->miners[i - 1].kind;
    w->miners[i - 1].kind = w->miners[j].kind;
    w->miners[j].kind = t;
  }
  unsigned nw = sizeof miner_words / sizeof miner_words[0];
  w->miner_weight_total = 0;
  for (uint32_t i = 0; i < m; i++) {
    wd_miner *mi = &w->miners[i];
    snprintf(mi->id, sizeof mi->id, "%s-%02u", miner_words[i % nw], (unsigned)(i + 1));
    /* Spammers are picked rarely but then send a burst of ~16 lines. */
    mi->weight = mi->kind == WD_MINER_HONEST ? (uint32_t)wd_range(&r, 60, 140)
               : mi->kind == WD_MINER_SLOPPY ? (uint32_t)wd_range(&r, 50, 110) : (uint32_t)wd_range(&r, 10, 20);
    w->miner_weight_total += mi->weight;
  }
  return 0;
}

int wd_world_build(wd_world *w, const wd_config *cfg, char *errstr, size_t errlen) {
  memset(w, 0, sizeof *w);
  w->cfg = *cfg;
  if (cfg->leads < 1 || cfg->leads > 50000000) {
    snprintf(errstr, errlen, "--leads must be in 1..50000000");
    return LP_EINVAL;
  }
  if (cfg->miners < 1 || cfg->miners > 100000) {
    snprintf(errstr, errlen, "--miners must be in 1..100000");
    return LP_EINVAL;
  }
  w->start_ms = cfg->now_ms - (int64_t)cfg->days * WD_DAY_MS;
  w->replaces = lp_malloc(wd_n_products * sizeof *w->replaces);
  w->excludes = lp_malloc(wd_n_products * sizeof *w->excludes);
  if (!w->replaces || !w->excludes) {
    snprintf(errstr, errlen, "building the world: %s", lp_strerror(LP_ENOMEM));
    return LP_ENOMEM;
  }
  for (unsigned p = 0; p < wd_n_products; p++) {  /* names resolved once: the hot paths use indices */
    const wd_product *pr = &wd_products[p];
    for (unsigned k = 0; k < 4; k++) w->replaces[p][k] = (int16_t)(pr->replaces[k] ? wd_tech_find(pr->replaces[k]) : -1);
    w->excludes[p] = (int16_t)(pr->excludes ? wd_tech_find(pr->excludes) : -1);
  }
  w->n_real = (uint32_t)cfg->leads;
  w->n_fab = (uint32_t)(cfg->leads * cfg->fabricated_frac) + 1;
  uint64_t total = (uint64_t)w->n_real + w->n_fab;
  lp_domain_set *b2c = NULL;
  dom_set set = { NULL, 0 };
  uint64_t slots = 1024;
  while (slots < total * 2) slots *= 2;
  set.mask = slots - 1;
  set.slot = lp_calloc(slots, sizeof *set.slot);
  w->companies = lp_malloc(total * sizeof *w->companies);
  int rc = (!set.slot || !w->companies) ? LP_ENOMEM : lp_domain_set_builtin(&b2c);
  wd_rng r;
  wd_rng_seed(&r, cfg->seed, WD_STREAM_COMPANIES);
  for (uint64_t i = 0; rc == 0 && i < total; i++) rc = add_company(w, &r, &set, b2c, (uint32_t)i, i >= w->n_real);
  lp_free(set.slot);
  lp_domain_set_free(b2c);
  if (rc == 0) rc = build_cycles(w);
  if (rc == 0) rc = build_miners(w);
  if (rc != 0) snprintf(errstr, errlen, "building the world: %s", lp_strerror(rc));
  return rc;
}

void wd_world_free(wd_world *w) {
  lp_free(w->companies);
  lp_free(w->strings);
  lp_free(w->cycles);
  lp_free(w->by_t0);
  lp_free(w->prod_off);
  lp_free(w->prod_cycles);
  lp_free(w->miners);
  lp_free(w->replaces);
  lp_free(w->excludes);
  memset(w, 0, sizeof *w);
}

double wd_cycle_intent(const wd_cycle *c, int64_t t) {
  if (t < c->t0) return 0;
  if (t < c->t_peak) return 0.2 + 0.8 * (double)(t - c->t0) / (double)(c->t_peak - c->t0);
  if (c->bought) return t <= c->t_end ? 1.0 : t <= wd_cycle_visible_until(c) ? 0.3 : 0;
  if (t >= c->t_end) return 0;
  return (double)(c->t_end - t) / (double)(c->t_end - c->t_peak);
}

int64_t wd_cycle_visible_until(const wd_cycle *c) { return c->bought ? c->t_end + 30 * WD_DAY_MS : c->t_end; }

const char *wd_miner_kind_name(unsigned kind) {
  return kind == WD_MINER_HONEST ? "honest" : kind == WD_MINER_SLOPPY ? "sloppy" : "spammer";
}

const char *wd_trigger_name(unsigned trig) {
  static const char *const names[WD_TRIG_COUNT] = { "funding", "hire", "removed_tool", "growth", "pain" };
  return trig < WD_TRIG_COUNT ? names[trig] : "unknown";
}
