/*
 * outcomes.c: what happened to delivered leads (outcomes.jsonl), the sellers' prompts with the buyers
 * they should find (prompts.jsonl), and the hidden truth (truth.jsonl).
 *
 * Outcomes follow a funnel driven by the truth: a lead delivered for product p while it is in a buying
 * cycle for p opens, replies and meets far more often, and a cycle that ends in a purchase before --now
 * yields a "purchased" event at its purchase time with the product's text; fabricated companies bounce.
 * Only events up to --now are written (no label leaks from the future).
 */
#include <stdio.h>
#include <string.h>

#include "data.h"
#include "leadpoet/common.h"
#include "world.h"

enum { EV_DELIVERED, EV_OPENED, EV_REPLIED, EV_MEETING, EV_PURCHASED, EV_BOUNCED, EV_INVALID, EV_SPAM };
static const char *const ev_names[8] = { "delivered", "opened", "replied", "meeting",
                                         "purchased", "bounced", "invalid", "spam" };

typedef struct ostate {
  const wd_world *w;
  wd_out *out;
  wd_outcome_stats *st;
  wd_line line;
  uint64_t delivery;
  unsigned seq;
} ostate;

/* Writes one event unless the budget of lines is spent or it lies after --now; 1 when the budget is spent. */
static int event(ostate *o, uint32_t ci, unsigned ev, int64_t ts, const wd_product *pr, int64_t value) {
  if (o->st->lines >= o->w->cfg.outcomes) return 1;
  if (ts > o->w->cfg.now_ms) return 0;
  wd_line *l = &o->line;
  char id[48];
  snprintf(id, sizeof id, "o-%llu-%u", (unsigned long long)o->delivery, o->seq++);
  wd_line_reset(l);
  wd_put(l, "{\"id\":", 6);
  wd_put_jstr(l, id);
  wd_put_kint(l, "ts", ts);
  wd_put_kstr(l, "domain", wd_domain(o->w, ci));
  wd_put_kstr(l, "event", ev_names[ev]);
  if (ev == EV_PURCHASED) {
    char prod[160];
    snprintf(prod, sizeof prod, "%s (%s)", pr->name, wd_categories[pr->cat].name);
    wd_put_kstr(l, "product", prod);
    wd_put_kint(l, "value_usd", value);
  }
  wd_put(l, "}\n", 2);
  if (l->err) {
    o->out->err = l->err;
    return 1;
  }
  if (wd_out_write(o->out, l->p, l->len) != 0) return 1;
  o->st->lines++;
  o->st->by_event[ev]++;
  return 0;
}

/* The cycle of company ci for product p that is live at t (from its trigger to its end), or NULL. */
static const wd_cycle *live_cycle(const wd_world *w, uint32_t ci, unsigned p, int64_t t) {
  const wd_company *c = &w->companies[ci];
  for (unsigned k = 0; k < c->n_cycles; k++) {
    const wd_cycle *cy = &w->cycles[c->cycle0 + k];
    if (cy->product == p && cy->t0 <= t && t <= cy->t_end) return cy;
  }
  return NULL;
}

static int funnel(ostate *o, wd_rng *r, uint32_t ci, unsigned p, int64_t t) {
  const wd_world *w = o->w;
  const wd_product *pr = &wd_products[p];
  const wd_company *c = &w->companies[ci];
  if (c->fabricated || wd_chance(r, 0.01)) return event(o, ci, EV_BOUNCED, t + wd_range(r, 1000, 60000), pr, 0);
  if (wd_chance(r, 0.02)) return event(o, ci, EV_INVALID, t + wd_range(r, 1000, 3600000), pr, 0);
  const wd_cycle *cy = live_cycle(w, ci, p, t);
  double p_open = cy ? 0.8 : 0.4, p_reply = cy ? (cy->bought ? 0.6 : 0.35) : 0.08;
  double p_meet = cy ? (cy->bought ? 0.6 : 0.3) : 0.15;
  if (event(o, ci, EV_DELIVERED, t, pr, 0)) return 1;
  if (!wd_chance(r, p_open)) return 0;
  t += wd_range(r, 600000, 2 * WD_DAY_MS);
  if (event(o, ci, EV_OPENED, t, pr, 0)) return 1;
  if (!cy && wd_chance(r, 0.05)) return event(o, ci, EV_SPAM, t + wd_range(r, 1000, 600000), pr, 0);
  if (!wd_chance(r, p_reply)) return 0;
  t += wd_range(r, 3600000, 4 * WD_DAY_MS);
  if (event(o, ci, EV_REPLIED, t, pr, 0)) return 1;
  if (!wd_chance(r, p_meet)) return 0;
  t += wd_range(r, WD_DAY_MS, 10 * WD_DAY_MS);
  if (event(o, ci, EV_MEETING, t, pr, 0)) return 1;
  if (cy && cy->bought && cy->t_end > t) {
    int64_t per_seat = wd_range(r, 20, 200);
    int64_t value = (int64_t)c->employees * per_seat;
    value = value < 1000 ? 1000 : value > 2000000 ? 2000000 : value;
    return event(o, ci, EV_PURCHASED, cy->t_end, pr, value);
  }
  return 0;
}

int wd_write_outcomes(const wd_world *w, wd_out *out, wd_outcome_stats *st) {
  memset(st, 0, sizeof *st);
  ostate o = { w, out, st, { NULL, 0, 0, 0 }, 0, 0 };
  wd_rng r;
  wd_rng_seed(&r, w->cfg.seed, 20);
  int64_t span = (int64_t)w->cfg.days * WD_DAY_MS;
  /* A delivery of a lead for product p at t: a lead in a cycle for p (what a good ranking finds) or any
   * lead at all; the loop stops when the budget of lines is written. The guard ends a world where no
   * event can be written at all (e.g. a zero-day window). */
  for (uint64_t guard = 0; st->lines < w->cfg.outcomes && guard < w->cfg.outcomes * 50 + 1000; guard++) {
    unsigned p = (unsigned)wd_below(&r, wd_n_products);
    uint32_t n_p = w->prod_off[p + 1] - w->prod_off[p];
    uint32_t ci;
    int64_t t = w->start_ms + (int64_t)wd_below(&r, (uint64_t)span + 1);
    if (n_p && wd_chance(&r, 0.45)) {
      const wd_cycle *cy = &w->cycles[w->prod_cycles[w->prod_off[p] + wd_below(&r, n_p)]];
      ci = cy->company;
      t = wd_range(&r, cy->t0, cy->t_end);
      if (t < w->start_ms || t > w->cfg.now_ms) continue;
    } else if (wd_chance(&r, 0.05)) {
      ci = w->n_real + (uint32_t)wd_below(&r, w->n_fab);
    } else {
      ci = (uint32_t)wd_below(&r, w->n_real);
    }
    o.delivery++;
    o.seq = 0;
    if (funnel(&o, &r, ci, p, t)) break;
  }
  wd_line_free(&o.line);
  return out->err;
}

/* 1 if cycle c is a purchase of its product within the horizon after --now by a company whose trigger is
 * already visible at --now. */
static int is_truth(const wd_world *w, const wd_cycle *c) {
  int64_t now = w->cfg.now_ms, h = (int64_t)w->cfg.horizon_days * WD_DAY_MS;
  return c->bought && c->t0 <= now && c->t_end > now && c->t_end <= now + h;
}

int wd_write_prompts(const wd_world *w, wd_out *out, uint64_t *n_prompts, uint64_t *n_truth) {
  wd_line l = { NULL, 0, 0, 0 };
  *n_prompts = *n_truth = 0;
  for (unsigned p = 0; p < wd_n_products && !out->err; p++) {
    const wd_product *pr = &wd_products[p];
    uint64_t n = 0;
    for (uint32_t k = w->prod_off[p]; k < w->prod_off[p + 1]; k++) n += (uint64_t)is_truth(w, &w->cycles[w->prod_cycles[k]]);
    if (!n) continue;  /* a prompt nobody can answer right is useless for evaluation */
    for (unsigned q = 0; q < 4 && pr->prompts[q]; q++) {
      char id[16];
      snprintf(id, sizeof id, "p%02u-%u", p + 1, q + 1);
      wd_line_reset(&l);
      wd_put(&l, "{\"id\":", 6);
      wd_put_jstr(&l, id);
      wd_put_kstr(&l, "prompt", pr->prompts[q]);
      wd_put_kstr(&l, "product", pr->name);
      wd_put_kstr(&l, "category", wd_categories[pr->cat].name);
      wd_put(&l, ",\"truth\":[", 10);
      int first = 1;
      for (uint32_t k = w->prod_off[p]; k < w->prod_off[p + 1]; k++) {
        const wd_cycle *c = &w->cycles[w->prod_cycles[k]];
        if (!is_truth(w, c)) continue;
        if (!first) wd_putc(&l, ',');
        first = 0;
        wd_put_jstr(&l, wd_domain(w, c->company));
      }
      wd_put(&l, "]}\n", 3);
      if (l.err) {
        out->err = l.err;
        break;
      }
      wd_out_write(out, l.p, l.len);
      (*n_prompts)++;
      *n_truth += n;
    }
  }
  wd_line_free(&l);
  return out->err;
}

static void put_company(const wd_world *w, wd_line *l, uint32_t i) {
  const wd_company *c = &w->companies[i];
  const wd_industry *ind = &wd_industries[c->industry];
  wd_put(l, "{\"type\":\"company\"", 17);
  wd_put_kstr(l, "domain", wd_domain(w, i));
  wd_put_kstr(l, "name", wd_name(w, i));
  wd_put_kstr(l, "industry", ind->title);
  wd_put_kstr(l, "naics", ind->naics);
  wd_put_kint(l, "employees", c->employees);
  wd_put_kstr(l, "country", wd_countries[c->country].code);
  wd_put(l, ",\"tech\":[", 9);
  for (unsigned k = 0; k < c->n_tech; k++) {
    if (k) wd_putc(l, ',');
    wd_put_jstr(l, wd_techs[c->tech[k]].name);
  }
  wd_putc(l, ']');
  wd_puts(l, c->fabricated ? ",\"fabricated\":true}\n" : ",\"fabricated\":false}\n");
}

static void put_cycle(const wd_world *w, wd_line *l, const wd_cycle *c) {
  const wd_product *pr = &wd_products[c->product];
  wd_put(l, "{\"type\":\"cycle\"", 15);
  wd_put_kstr(l, "domain", wd_domain(w, c->company));
  wd_put_kstr(l, "product", pr->name);
  wd_put_kstr(l, "category", wd_categories[pr->cat].name);
  wd_put_kstr(l, "trigger", wd_trigger_name(c->trigger));
  if (c->removed != WD_NONE) wd_put_kstr(l, "removed", wd_techs[c->removed].name);
  if (c->bought && pr->adds) wd_put_kstr(l, "added", pr->adds);
  wd_put_kint(l, "start", c->t0);
  wd_put_kint(l, "peak", c->t_peak);
  wd_put_kint(l, "end", c->t_end);
  wd_puts(l, c->bought ? ",\"outcome\":\"bought\"" : ",\"outcome\":\"decayed\"");
  wd_puts(l, is_truth(w, c) ? ",\"in_horizon\":true}\n" : ",\"in_horizon\":false}\n");
}

int wd_write_truth(const wd_world *w, wd_out *out, uint64_t *lines) {
  wd_line l = { NULL, 0, 0, 0 };
  uint64_t start = out->lines;
  wd_line_reset(&l);
  wd_put(&l, "{\"type\":\"world\"", 15);
  wd_put_kint(&l, "seed", (int64_t)w->cfg.seed);
  wd_put_kint(&l, "now", w->cfg.now_ms);
  wd_put_kint(&l, "start", w->start_ms);
  wd_put_kint(&l, "horizon_days", w->cfg.horizon_days);
  wd_put_kint(&l, "companies", w->n_real);
  wd_put_kint(&l, "fabricated", w->n_fab);
  wd_put_kint(&l, "cycles", w->n_cycles);
  wd_put(&l, "}\n", 2);
  if (!l.err) wd_out_write(out, l.p, l.len);
  for (uint32_t i = 0; i < w->n_miners && !l.err && !out->err; i++) {
    wd_line_reset(&l);
    wd_put(&l, "{\"type\":\"miner\"", 15);
    wd_put_kstr(&l, "miner", w->miners[i].id);
    wd_put_kstr(&l, "kind", wd_miner_kind_name(w->miners[i].kind));
    wd_put(&l, "}\n", 2);
    if (!l.err) wd_out_write(out, l.p, l.len);
  }
  for (uint32_t i = 0; i < w->n_real + w->n_fab && !l.err && !out->err; i++) {
    wd_line_reset(&l);
    put_company(w, &l, i);
    if (!l.err) wd_out_write(out, l.p, l.len);
  }
  for (uint32_t i = 0; i < w->n_cycles && !l.err && !out->err; i++) {
    wd_line_reset(&l);
    put_cycle(w, &l, &w->cycles[w->by_t0[i]]);
    if (!l.err) wd_out_write(out, l.p, l.len);
  }
  if (l.err && !out->err) out->err = l.err;
  wd_line_free(&l);
  *lines = out->lines - start;
  return out->err;
}
