/*
 * metric.c: leadpoet_miner_reputation{miner}, a gauge with at most metric_series series.
 *
 * The metrics registry cannot delete a series, so the set of miners shown is sticky: while fewer than
 * metric_series are shown, each refresh (after a publish, on the reactor) adds the worst miners (lowest
 * mean, for half of the free places) and the most active ones (most evidence left, the other half) not
 * yet shown; once full, the set stays and only the values move. A shown miner the table has forgotten
 * reads as the prior. Bounded either way: metric_series series, never more.
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "stages/reputation/rep_int.h"

typedef struct cand {
  double key;
  uint32_t d;
} cand;

static int cmp_cand(const void *a, const void *b) {
  double x = ((const cand *)a)->key, y = ((const cand *)b)->key;
  if (x != y) return x < y ? -1 : 1;
  return (int)((const cand *)a)->d - (int)((const cand *)b)->d;
}

static int shown(const lp_rep *r, const lp__rep_miner *m) {
  for (size_t i = 0; i < r->n_series; i++)
    if (strlen(r->series[i].name) == m->len && memcmp(r->series[i].name, m->name, m->len) == 0) return 1;
  return 0;
}

static void show(lp_rep *r, const lp__rep_miner *m) {
  if (r->n_series >= (size_t)r->conf.metric_series || shown(r, m)) return;
  lp__rep_series *s = &r->series[r->n_series];
  memcpy(s->name, m->name, m->len);
  s->name[m->len] = '\0';
  const char *values[] = { s->name };
  s->m = lp_metrics_series(r->m_family, values);
  if (s->m != NULL) r->n_series++;
}

/* Adds up to `want` miners by ascending key (the caller negates for descending). */
static void add_by(lp_rep *r, cand *c, size_t n, size_t want) {
  qsort(c, n, sizeof(*c), cmp_cand);
  size_t before = r->n_series;
  for (size_t i = 0; i < n && r->n_series - before < want; i++) show(r, &r->v[c[i].d]);
}

static void fill(lp_rep *r) {
  size_t free_places = (size_t)r->conf.metric_series - r->n_series;
  cand *c = lp_malloc(r->n * sizeof(cand));
  if (c == NULL) return;
  for (uint32_t d = 0; d < r->n; d++) c[d] = (cand){ lp__rep_mean(r, &r->v[d]), d };
  add_by(r, c, r->n, (free_places + 1) / 2);
  for (uint32_t d = 0; d < r->n; d++) {
    const lp__rep_miner *m = &r->v[d];
    c[d] = (cand){ -(m->good + m->bad) * lp__rep_decay(r, r->clock - m->ts), d };
  }
  add_by(r, c, r->n, free_places);
  lp_free(c);
}

void lp_rep_metric_refresh(lp_rep *r) {
  if (r->m_family == NULL) {
    lp_metrics *reg = lp_metrics_default();
    if (reg == NULL || r->conf.metric_series == 0) return;
    static const char *const label[] = { "miner" };
    r->m_family = lp_metrics_family(reg, LP_METRIC_GAUGE, "leadpoet_miner_reputation",
                                    "Miner reputation mean (Beta posterior with decay), for a bounded set of miners.",
                                    label, 1, NULL, 0);
    r->series = lp_calloc((size_t)r->conf.metric_series, sizeof(lp__rep_series));
    if (r->m_family == NULL || r->series == NULL) {
      lp_free(r->series);
      r->series = NULL;
      r->m_family = NULL;
      return;
    }
  }
  if (r->n_series < (size_t)r->conf.metric_series && r->n > 0) fill(r);
  for (size_t i = 0; i < r->n_series; i++) {
    const char *name = r->series[i].name;
    size_t len = strlen(name);
    long d = lp__rep_find(r, lp__rep_key(name, len), name, len);
    lp_gauge_set(r->series[i].m, d >= 0 ? lp__rep_mean(r, &r->v[d]) : r->prior_mean);
  }
}

void lp__rep_metric_free(lp_rep *r) {
  lp_free(r->series);
  r->series = NULL;
  r->n_series = 0;
  r->m_family = NULL;
}
