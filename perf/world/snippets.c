/*
 * snippets.c: the snippet stream. Each call makes one JSON line: a replay of a recent line, an invalid
 * record (--bad-rate), a spammer's burst line, or an honest or sloppy miner's report about a company in
 * a buying cycle (intent-weighted) or about the background life of a random company.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "data.h"
#include "leadpoet/common.h"
#include "templates.h"
#include "world.h"

#define RING 32
#define TEXT_MAX 1500
#define CAT_TECH_MAX 24

typedef struct snip {
  const wd_miner *m;
  int64_t ts;
  const char *domain, *name, *industry, *country, *role, *kind;
  int64_t employees;         /* 0 = absent */
  char text[TEXT_MAX + 1];
  size_t text_len;
  char url[300];
  const char *added[4], *removed[4];
  unsigned n_added, n_removed;
  int bad_field;             /* 0, or the variant of an invalid field (1..6) */
  int64_t future_ts;         /* non-zero: replaces ts */
} snip;

/* Values of the template slots, indexed by letter. */
typedef struct slots {
  const char *v[26];
  char amount[16], heads[16];
} slots;

struct wd_snipgen {
  const wd_world *w;
  wd_rng r;
  uint64_t nonce;
  uint64_t *next_id;
  uint64_t *miner_cum;
  uint32_t *active;
  size_t n_active, next_t0, compact_at;
  int64_t last_world_t;
  uint32_t burst_miner, burst_left;
  int64_t burst_ts;
  wd_line ring[RING];
  unsigned ring_n;
  uint64_t good_seen;
  uint8_t cat_tech[WD_CAT_COUNT][CAT_TECH_MAX];
  uint8_t n_cat_tech[WD_CAT_COUNT];
  wd_snip_stats st;
  snip s;
  char pool[12][400];        /* near-duplicate spam texts shared by every spammer, "{N}" left as a slot */
};

#define PICK(r, arr) ((arr)[wd_below((r), WD_NTPL(arr))])

static unsigned n_words(const wd_category *c) {
  unsigned n = 0;
  while (n < 6 && c->words[n]) n++;
  return n;
}

static void text_add(snip *s, const char *p, size_t n) {
  if (n > TEXT_MAX - s->text_len) n = TEXT_MAX - s->text_len;
  memcpy(s->text + s->text_len, p, n);
  s->text_len += n;
  s->text[s->text_len] = 0;
}

static void expand(snip *s, const char *tpl, const slots *sl) {
  const char *run = tpl;
  for (const char *p = tpl; *p; p++) {
    if (p[0] != '{' || p[1] < 'A' || p[1] > 'Z' || p[2] != '}') continue;
    text_add(s, run, (size_t)(p - run));
    const char *v = sl->v[p[1] - 'A'];
    if (v && strchr("AEIOUaeiou", v[0]) && v[0] && s->text_len >= 2 && s->text_len < TEXT_MAX &&
        (s->text[s->text_len - 2] == 'a' || s->text[s->text_len - 2] == 'A') && s->text[s->text_len - 1] == ' ' &&
        (s->text_len == 2 || s->text[s->text_len - 3] == ' ')) {
      s->text[s->text_len - 1] = 'n';  /* "a" before a vowel reads "an" */
      text_add(s, " ", 1);
    }
    if (v) text_add(s, v, strlen(v));
    p += 2;
    run = p + 1;
  }
  text_add(s, run, strlen(run));
}

static void base36(char *out, uint64_t v) {
  char tmp[16];
  int i = 16;
  do {
    tmp[--i] = "0123456789abcdefghijklmnopqrstuvwxyz"[v % 36];
    v /= 36;
  } while (v);
  memcpy(out, tmp + i, (size_t)(16 - i));
  out[16 - i] = 0;
}

/* Slots shared by every text about company ci in category cat (cat may be WD_NONE: background). */
static void fill_slots(wd_snipgen *g, slots *sl, uint32_t ci, unsigned cat) {
  const wd_world *w = g->w;
  const wd_company *c = &w->companies[ci];
  wd_rng *r = &g->r;
  memset(sl->v, 0, sizeof sl->v);
  const wd_country *co = &wd_countries[c->country];
  sl->v['N' - 'A'] = wd_name(w, ci);
  sl->v['D' - 'A'] = wd_domain(w, ci);
  sl->v['C' - 'A'] = co->cities[wd_below(r, 3)];
  sl->v['S' - 'A'] = wd_industries[c->industry].segment;
  sl->v['G' - 'A'] = wd_generic_roles[wd_below(r, wd_n_generic_roles)];
  sl->v['V' - 'A'] = wd_events[wd_below(r, wd_n_events)];
  sl->v['I' - 'A'] = wd_investors[wd_below(r, wd_n_investors)];
  unsigned round = (unsigned)(c->employees < 30 ? wd_below(r, 2) : c->employees < 300 ? 1 + wd_below(r, 2) : 2 + wd_below(r, 3));
  sl->v['B' - 'A'] = wd_rounds[round];
  static const unsigned base_m[] = { 2, 8, 25, 60, 120 };
  unsigned m = base_m[round] + (unsigned)wd_below(r, base_m[round] + 1);
  const char *cur = co->region == WD_REG_UK ? "GBP " : (co->region & WD_REG_EUROPE) ? "EUR " : "$";
  snprintf(sl->amount, sizeof sl->amount, "%s%uM", cur, m);
  sl->v['A' - 'A'] = sl->amount;
  snprintf(sl->heads, sizeof sl->heads, "%u", (unsigned)(c->employees + c->employees / 2 + 5));
  sl->v['E' - 'A'] = sl->heads;
  if (cat == WD_NONE) cat = (unsigned)wd_below(r, WD_CAT_COUNT);
  const wd_category *ca = &wd_categories[cat];
  unsigned nw = n_words(ca);
  sl->v['K' - 'A'] = ca->words[wd_below(r, nw)];
  sl->v['Q' - 'A'] = ca->words[wd_below(r, nw)];
  sl->v['P' - 'A'] = ca->pains[wd_below(r, 5)];
  sl->v['R' - 'A'] = ca->roles[wd_below(r, 4)];
  const char *ts[3];
  for (int i = 0; i < 3; i++) {
    if (c->n_tech && wd_chance(r, 0.5)) ts[i] = wd_techs[c->tech[wd_below(r, c->n_tech)]].name;
    else ts[i] = wd_techs[g->cat_tech[cat][wd_below(r, g->n_cat_tech[cat])]].name;
  }
  sl->v['T' - 'A'] = ts[0];
  sl->v['U' - 'A'] = ts[1];
  sl->v['Z' - 'A'] = ts[2];
}

static void slug(char *out, size_t cap, const char *s) {
  size_t n = 0;
  for (; *s && n + 1 < cap; s++) {
    char c = *s;
    if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
    out[n++] = ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.') ? c : '-';
  }
  out[n] = 0;
}

static void set_url(wd_snipgen *g, snip *s, const slots *sl) {
  char sl1[96];
  wd_rng *r = &g->r;
  char k = s->kind[0];  /* the kinds differ in their first letter */
  if (k == 'h') {
    slug(sl1, sizeof sl1, s->role ? s->role : sl->v['G' - 'A']);
    snprintf(s->url, sizeof s->url, "https://%s/careers/%s-%u", s->domain, sl1, (unsigned)wd_below(r, 10000));
  } else if (k == 'f' || k == 'n') {
    slug(sl1, sizeof sl1, s->name ? s->name : s->domain);
    snprintf(s->url, sizeof s->url, "https://%s/news/%s-%u", wd_news_sites[wd_below(r, wd_n_news_sites)], sl1,
             (unsigned)wd_below(r, 100000));
  } else if (k == 'r') {
    slug(sl1, sizeof sl1, sl->v['T' - 'A']);
    snprintf(s->url, sizeof s->url, "https://www.g2.com/products/%s/reviews", sl1);
  } else if (k == 'e') {
    snprintf(s->url, sizeof s->url, "https://%s/events", s->domain);
  } else {
    snprintf(s->url, sizeof s->url, "https://%s/", s->domain);
  }
}

/* Firmographics as a miner reports them; wrong ones from a sloppy miner now and then. */
static void firmographics(wd_snipgen *g, snip *s, uint32_t ci, int wrong) {
  const wd_company *c = &g->w->companies[ci];
  wd_rng *r = &g->r;
  const wd_industry *ind = &wd_industries[wrong && wd_chance(r, 0.5) ? wd_below(r, wd_n_industries) : c->industry];
  if (wd_chance(r, 0.9)) s->name = wd_name(g->w, ci);
  if (wd_chance(r, 0.6)) s->industry = wd_chance(r, 0.7) ? ind->title : ind->naics;
  if (wd_chance(r, 0.5)) {
    int64_t e = (int64_t)c->employees;
    e += (int64_t)((double)e * (wd_unit(r) * 0.2 - 0.1));
    if (wrong) e = wd_chance(r, 0.5) ? e * 10 : e / 10;
    s->employees = e < 1 ? 1 : e;
  }
  if (wd_chance(r, 0.7))
    s->country = wd_countries[wrong && wd_chance(r, 0.5) ? wd_below(r, wd_n_countries) : c->country].code;
}

static void begin(wd_snipgen *g, snip *s, uint32_t miner, uint32_t ci, int64_t ts) {
  memset(s, 0, offsetof(snip, text));
  s->text[0] = 0;
  s->text_len = 0;
  s->url[0] = 0;
  s->n_added = s->n_removed = 0;
  s->bad_field = 0;
  s->future_ts = 0;
  s->m = &g->w->miners[miner];
  s->ts = ts;
  s->domain = wd_domain(g->w, ci);
}


static void about_cycle(wd_snipgen *g, snip *s, const wd_cycle *c, uint32_t ci, int64_t wt) {
  const wd_product *pr = &wd_products[c->product];
  const wd_company *co = &g->w->companies[c->company];
  wd_rng *r = &g->r;
  slots sl;
  fill_slots(g, &sl, ci, pr->cat);
  for (unsigned k = 0; k < 4 && g->w->replaces[c->product][k] >= 0; k++) {
    int t = g->w->replaces[c->product][k];
    if (wd_company_uses(co, (unsigned)t)) {
      sl.v['T' - 'A'] = wd_techs[t].name;
      break;
    }
  }
  if (c->removed != WD_NONE) sl.v['Y' - 'A'] = wd_techs[c->removed].name;
  sl.v['X' - 'A'] = pr->adds;
  const char *tpl;
  if (wt < c->t0 + 3 * WD_DAY_MS) {
    switch (c->trigger) {
    case WD_TRIG_FUNDING: s->kind = "funding"; tpl = PICK(r, tpl_funding); break;
    case WD_TRIG_HIRE: s->kind = "hiring"; s->role = sl.v['R' - 'A']; tpl = PICK(r, tpl_hire); break;
    case WD_TRIG_REMOVED:
      s->kind = "tech";
      s->removed[s->n_removed++] = sl.v['Y' - 'A'];
      tpl = PICK(r, tpl_removed);
      break;
    case WD_TRIG_GROWTH: s->kind = "news"; tpl = PICK(r, tpl_growth); break;
    default: s->kind = "review"; tpl = PICK(r, tpl_pain); break;
    }
  } else if (c->bought && wt > c->t_end) {
    if (pr->adds) {
      s->kind = "tech";
      s->added[s->n_added++] = pr->adds;
      tpl = PICK(r, tpl_adopted);
    } else {
      s->kind = "news";
      tpl = PICK(r, tpl_adopted_none);
    }
  } else {
    double u = wd_unit(r);
    if (u < 0.3) {
      s->kind = "hiring";
      s->role = sl.v['R' - 'A'];
      tpl = PICK(r, tpl_int_hiring);
    } else if (u < 0.5) { s->kind = "review"; tpl = PICK(r, tpl_int_review); }
    else if (u < 0.7) { s->kind = "web"; tpl = PICK(r, tpl_int_web); }
    else if (u < 0.8) { s->kind = "event"; tpl = PICK(r, tpl_int_event); }
    else if (u < 0.9) { s->kind = "news"; tpl = PICK(r, tpl_int_news); }
    else { s->kind = "tech"; tpl = PICK(r, tpl_int_tech); }
  }
  expand(s, tpl, &sl);
  if (wd_chance(r, 0.8)) set_url(g, s, &sl);
}

static void background(wd_snipgen *g, snip *s, uint32_t ci, int irrelevant) {
  wd_rng *r = &g->r;
  slots sl;
  fill_slots(g, &sl, ci, WD_NONE);
  const char *tpl;
  double u = wd_unit(r);
  if (irrelevant) { s->kind = "news"; tpl = PICK(r, tpl_irrelevant); }
  else if (u < 0.35) { s->kind = "hiring"; s->role = sl.v['G' - 'A']; tpl = PICK(r, tpl_bg_hiring); }
  else if (u < 0.55) { s->kind = "news"; tpl = PICK(r, tpl_bg_news); }
  else if (u < 0.75) { s->kind = "tech"; tpl = PICK(r, tpl_bg_tech); }
  else if (u < 0.90) { s->kind = "review"; tpl = PICK(r, tpl_bg_review); }
  else if (u < 0.97) { s->kind = "web"; tpl = PICK(r, tpl_bg_web); }
  else { s->kind = "event"; tpl = PICK(r, tpl_bg_event); }
  expand(s, tpl, &sl);
  if (wd_chance(r, 0.8)) set_url(g, s, &sl);
}

static void spam(wd_snipgen *g, snip *s, uint32_t ci) {
  wd_rng *r = &g->r;
  static const char *const kinds[] = { "web", "news", "review", "event", "hiring", "tech" };
  s->kind = kinds[wd_below(r, 6)];
  const wd_company *c = &g->w->companies[ci];
  s->name = wd_name(g->w, ci);
  if (c->fabricated) {  /* an invented company comes with invented but consistent firmographics */
    s->industry = wd_industries[c->industry].title;
    s->employees = c->employees;
    s->country = wd_countries[c->country].code;
  }
  if (wd_chance(r, 0.35)) {  /* keyword stuffing */
    unsigned n = (unsigned)wd_range(r, 15, 40);
    const char *nm = wd_name(g->w, ci);
    text_add(s, nm, strlen(nm));
    for (unsigned i = 0; i < n; i++) {
      const char *wd;
      double u = wd_unit(r);
      if (u < 0.4) {
        const wd_category *ca = &wd_categories[wd_below(r, WD_CAT_COUNT)];
        wd = ca->words[wd_below(r, n_words(ca))];
      } else if (u < 0.7) {
        wd = wd_techs[wd_below(r, wd_n_techs)].name;
      } else {
        wd = PICK(r, tpl_stuff_words);
      }
      text_add(s, " ", 1);
      text_add(s, wd, strlen(wd));
    }
  } else {
    slots sl;
    memset(sl.v, 0, sizeof sl.v);
    sl.v['N' - 'A'] = wd_name(g->w, ci);
    expand(s, g->pool[wd_below(r, 12)], &sl);
    double u = wd_unit(r);
    if (u < 0.4) {
      char tail[16];
      int n = snprintf(tail, sizeof tail, " #%u", (unsigned)wd_below(r, 100));
      text_add(s, tail, (size_t)n);
    } else if (u < 0.7) {
      text_add(s, "!!!", 3);
    }
  }
  if (wd_chance(r, 0.2)) {  /* a fabricated churn trigger */
    const char *t = wd_techs[wd_below(r, wd_n_techs)].name;
    if (wd_chance(r, 0.5)) s->removed[s->n_removed++] = t;
    else s->added[s->n_added++] = t;
  }
  if (wd_chance(r, 0.5)) snprintf(s->url, sizeof s->url, "https://%s/", s->domain);
}

/* An invalid record: valid but for one thing, which the ingest checks must catch. */
static void bad(wd_snipgen *g, snip *s, int64_t ts, unsigned type) {
  wd_rng *r = &g->r;
  uint32_t ci = (uint32_t)wd_below(r, g->w->n_real);
  begin(g, s, (uint32_t)wd_below(r, g->w->n_miners), ci, ts);
  firmographics(g, s, ci, 0);
  background(g, s, ci, 0);
  switch (type) {
  case 0: s->bad_field = 1 + (int)wd_below(r, 6); break;
  case 1: s->domain = wd_b2c_domains[wd_below(r, wd_n_b2c_domains)]; break;
  case 2: {
    char mail[160];
    int n = snprintf(mail, sizeof mail, " Contact: %s.%s@%s", wd_first_names[wd_below(r, wd_n_first_names)],
                     wd_last_names[wd_below(r, wd_n_last_names)], wd_domain(g->w, ci));
    if (s->text_len + (size_t)n > TEXT_MAX) s->text_len = TEXT_MAX - (size_t)n;
    text_add(s, mail, (size_t)n);
    break;
  }
  default: s->future_ts = 4102444800000LL + wd_range(r, 0, 365 * WD_DAY_MS); break;  /* 2100 */
  }
  g->st.bad++;
  g->st.bad_by_type[type]++;
}

static void put_arr(wd_line *l, const char *key, const char *const *v, unsigned n) {
  if (!n) return;
  wd_put(l, ",\"", 2);
  wd_puts(l, key);
  wd_put(l, "\":[", 3);
  for (unsigned i = 0; i < n; i++) {
    if (i) wd_putc(l, ',');
    wd_put_jstr(l, v[i]);
  }
  wd_putc(l, ']');
}

static void emit(wd_snipgen *g, const snip *s, wd_line *l) {
  static const char long_id[] = "x123456789x123456789x123456789x123456789x123456789x123456789x1234567";
  char id[48], num[16];
  uint32_t mi = (uint32_t)(s->m - g->w->miners);
  base36(num, g->next_id[mi]++);
  if (g->nonce) {
    base36(id, g->nonce);
    strcat(id, "-s");
  } else {
    strcpy(id, "s");
  }
  strcat(id, num);
  wd_put(l, "{\"id\":", 6);
  wd_put_jstr(l, s->bad_field == 5 ? long_id : id);
  wd_put_kstr(l, "miner", s->m->id);
  if (s->bad_field == 6) wd_put_kstr(l, "ts", "2025-06-01T00:00:00Z");
  else wd_put_kint(l, "ts", s->future_ts ? s->future_ts : s->ts);
  wd_put(l, ",\"lead\":{\"domain\":", 18);
  wd_put_jstr(l, s->domain);
  if (s->name) wd_put_kstr(l, "name", s->name);
  if (s->industry) wd_put_kstr(l, "industry", s->industry);
  if (s->bad_field == 2) wd_put_kint(l, "employees", 0);
  else if (s->employees) wd_put_kint(l, "employees", s->employees);
  if (s->bad_field == 3) wd_put_kstr(l, "country", "USA");
  else if (s->country) wd_put_kstr(l, "country", s->country);
  if (s->role) wd_put_kstr(l, "role", s->role);
  wd_putc(l, '}');
  wd_put_kstr(l, "kind", s->bad_field == 1 ? "blog" : s->kind);
  wd_put_kstr(l, "text", s->bad_field == 4 ? "" : s->text);
  if (s->url[0]) wd_put_kstr(l, "url", s->url);
  put_arr(l, "tech_added", s->added, s->n_added);
  put_arr(l, "tech_removed", s->removed, s->n_removed);
  wd_put(l, "}\n", 2);
}

static void compact(wd_snipgen *g, int64_t wt) {
  size_t k = 0;
  for (size_t i = 0; i < g->n_active; i++)
    if (wd_cycle_visible_until(&g->w->cycles[g->active[i]]) >= wt) g->active[k++] = g->active[i];
  g->n_active = k;
  g->compact_at = k * 2 > 1024 ? k * 2 : 1024;
}

static void advance(wd_snipgen *g, int64_t wt) {
  const wd_world *w = g->w;
  if (wt < g->last_world_t) g->n_active = g->next_t0 = 0;
  g->last_world_t = wt;
  while (g->next_t0 < w->n_cycles && w->cycles[w->by_t0[g->next_t0]].t0 <= wt) {
    g->active[g->n_active++] = w->by_t0[g->next_t0++];
    if (g->n_active >= g->compact_at) compact(g, wt);
  }
}

/* An active cycle, likelier the higher its intent, or NULL. */
static const wd_cycle *pick_cycle(wd_snipgen *g, int64_t wt) {
  for (int tries = 0; tries < 8 && g->n_active; tries++) {
    size_t i = wd_below(&g->r, g->n_active);
    const wd_cycle *c = &g->w->cycles[g->active[i]];
    if (wt > wd_cycle_visible_until(c)) {
      g->active[i] = g->active[--g->n_active];
      continue;
    }
    if (wd_chance(&g->r, wd_cycle_intent(c, wt))) return c;
  }
  return NULL;
}

static uint32_t pick_miner(wd_snipgen *g) {
  uint64_t x = wd_below(&g->r, g->w->miner_weight_total);
  uint32_t lo = 0, hi = g->w->n_miners - 1;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (g->miner_cum[mid] > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

static uint32_t spam_target(wd_snipgen *g) {
  const wd_world *w = g->w;
  if (wd_chance(&g->r, 0.5)) return w->n_real + (uint32_t)wd_below(&g->r, w->n_fab);
  return (uint32_t)wd_below(&g->r, w->n_real);
}

int wd_snipgen_next(wd_snipgen *g, int64_t ts, int64_t wt, wd_line *l) {
  const wd_world *w = g->w;
  wd_rng *r = &g->r;
  snip *s = &g->s;
  wd_line_reset(l);
  advance(g, wt);
  int good = 1;
  if (wd_chance(r, w->cfg.bad_rate)) {
    bad(g, s, ts, (unsigned)wd_below(r, 4));
    good = 0;
  } else if (g->ring_n && wd_chance(r, w->cfg.dup_rate)) {
    const wd_line *src = &g->ring[wd_below(r, g->ring_n)];
    wd_put(l, src->p, src->len);
    g->st.replays++;
    g->st.lines++;
    return l->err;
  } else if (g->burst_left) {
    g->burst_left--;
    g->burst_ts += wd_range(r, 0, 3000);
    uint32_t ci = spam_target(g);
    begin(g, s, g->burst_miner, ci, g->burst_ts);
    spam(g, s, ci);
    g->st.spam++;
  } else {
    uint32_t mi = pick_miner(g);
    unsigned kind = w->miners[mi].kind;
    if (kind == WD_MINER_SPAMMER) {
      g->burst_miner = mi;
      g->burst_left = (uint32_t)wd_range(r, 3, 29);
      g->burst_ts = ts;
      uint32_t ci = spam_target(g);
      begin(g, s, mi, ci, ts);
      spam(g, s, ci);
      g->st.spam++;
    } else {
      int sloppy = kind == WD_MINER_SLOPPY;
      const wd_cycle *c = wd_chance(r, sloppy ? 0.4 : 0.55) ? pick_cycle(g, wt) : NULL;
      uint32_t ci = c ? c->company : (uint32_t)wd_below(r, w->n_real);
      if (c && sloppy && wd_chance(r, 0.2)) ci = (uint32_t)wd_below(r, w->n_real);  /* misattributed */
      int64_t t = ts - wd_range(r, 0, 2 * 3600 * 1000LL);
      if (sloppy && wd_chance(r, 0.25)) t -= wd_range(r, 30 * WD_DAY_MS, 120 * WD_DAY_MS);  /* stale */
      begin(g, s, mi, ci, t);
      firmographics(g, s, ci, sloppy && wd_chance(r, 0.25));
      if (c) about_cycle(g, s, c, ci, wt);
      else background(g, s, ci, sloppy && wd_chance(r, 0.3));
    }
    g->st.by_kind[kind]++;
  }
  emit(g, s, l);
  g->st.lines++;
  if (good && (g->good_seen++ & 3) == 0) {  /* keep every 4th good line for exact replays */
    wd_line *dst = &g->ring[g->ring_n < RING ? g->ring_n++ : wd_below(r, RING)];
    wd_line_reset(dst);
    wd_put(dst, l->p, l->len);
    if (dst->err) return dst->err;
  }
  return l->err;
}

wd_snipgen *wd_snipgen_new(const wd_world *w, uint64_t nonce) {
  wd_snipgen *g = lp_calloc(1, sizeof *g);
  if (!g) return NULL;
  g->w = w;
  g->nonce = nonce;
  wd_rng_seed(&g->r, w->cfg.seed, 10);
  g->next_id = lp_calloc(w->n_miners, sizeof *g->next_id);
  g->miner_cum = lp_malloc(w->n_miners * sizeof *g->miner_cum);
  g->active = lp_malloc((size_t)w->n_cycles * sizeof *g->active + 1);
  if (!g->next_id || !g->miner_cum || !g->active) {
    wd_snipgen_free(g);
    return NULL;
  }
  uint64_t cum = 0;
  for (uint32_t i = 0; i < w->n_miners; i++) g->miner_cum[i] = cum += w->miners[i].weight;
  g->compact_at = 1024;
  g->last_world_t = INT64_MIN;
  for (unsigned t = 0; t < wd_n_techs; t++) {
    unsigned c = wd_techs[t].cat;
    if (g->n_cat_tech[c] < CAT_TECH_MAX) g->cat_tech[c][g->n_cat_tech[c]++] = (uint8_t)t;
  }
  for (unsigned i = 0; i < 12; i++) {  /* the spam pool: fixed texts with the company left open */
    slots sl;
    fill_slots(g, &sl, (uint32_t)wd_below(&g->r, w->n_real), (unsigned)wd_below(&g->r, WD_CAT_COUNT));
    sl.v['N' - 'A'] = "{N}";
    g->s.text_len = 0;
    expand(&g->s, tpl_spam[i % WD_NTPL(tpl_spam)], &sl);
    size_t n = g->s.text_len < sizeof g->pool[i] - 1 ? g->s.text_len : sizeof g->pool[i] - 1;
    memcpy(g->pool[i], g->s.text, n);
    g->pool[i][n] = 0;
  }
  return g;
}

void wd_snipgen_free(wd_snipgen *g) {
  if (!g) return;
  for (unsigned i = 0; i < RING; i++) wd_line_free(&g->ring[i]);
  lp_free(g->next_id);
  lp_free(g->miner_cum);
  lp_free(g->active);
  lp_free(g);
}

const wd_snip_stats *wd_snipgen_stats(const wd_snipgen *g) { return &g->st; }
