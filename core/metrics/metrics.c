/*
 * metrics.c: the registry, families, series and their lock-free updates. The text format is in render.c,
 * the process_* figures in process.c; the memory layout is explained in metrics_internal.h.
 */
#include "metrics/metrics.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "metrics/metrics_internal.h"

const double lp_metrics_latency_buckets[] = { 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                              0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                              0.5,     1,      2.5,     5,      10 };
const size_t lp_metrics_latency_buckets_n =
    sizeof(lp_metrics_latency_buckets) / sizeof(lp_metrics_latency_buckets[0]);

static lp_metrics *_Atomic lp__default_registry;

/* Thread indices are process-wide (shared by every registry) and never reused: a thread that exits keeps
 * its index, so a later thread can never add into a block that an earlier one still owns. */
static atomic_uint lp__next_tid;
static _Thread_local unsigned lp__tid = LP__METRICS_SHARED_SLOT;
static _Thread_local bool lp__registered;

void lp_metrics_thread_register(void) {
  if (lp__registered) return;
  lp__registered = true;
  unsigned t = atomic_fetch_add_explicit(&lp__next_tid, 1, memory_order_relaxed);
  if (t < LP_METRICS_MAX_THREADS) {
    lp__tid = t;
  } else {
    lp_log_warn("metrics: thread slots exhausted, this thread uses the shared slot", "max=%d",
                LP_METRICS_MAX_THREADS);
  }
}

void lp_metrics_set_default(lp_metrics *m) { atomic_store(&lp__default_registry, m); }
lp_metrics *lp_metrics_default(void) { return atomic_load(&lp__default_registry); }

/* ---- blocks of cells ---------------------------------------------------------------------------- */

/* A block of n zeroed cells starting on a cache line and padded to whole lines; the pointer that
 * lp_malloc returned sits just before it so that lp__metrics_block_free can give it back. */
lp__cell *lp__metrics_block_new(size_t n) {
  size_t bytes = (n * sizeof(lp__cell) + LP__CACHE_LINE - 1) & ~(size_t)(LP__CACHE_LINE - 1);
  unsigned char *raw = lp_malloc(bytes + LP__CACHE_LINE + sizeof(void *));
  if (raw == NULL) return NULL;
  uintptr_t a = ((uintptr_t)raw + sizeof(void *) + LP__CACHE_LINE - 1) & ~(uintptr_t)(LP__CACHE_LINE - 1);
  lp__cell *cells = (lp__cell *)a;
  memcpy((unsigned char *)a - sizeof(void *), &raw, sizeof(raw));
  for (size_t i = 0; i < bytes / sizeof(lp__cell); i++) atomic_init(&cells[i], 0);
  return cells;
}

void lp__metrics_block_free(lp__cell *cells) {
  if (cells == NULL) return;
  void *raw;
  memcpy(&raw, (unsigned char *)cells - sizeof(void *), sizeof(raw));
  lp_free(raw);
}

/* The calling thread's block of s, allocated on its first update; NULL means "use the shared block"
 * (unregistered thread, or no memory for a block of its own). */
static lp__cell *own_block(lp_metric *s) {
  unsigned t = lp__tid;
  if (t >= LP_METRICS_MAX_THREADS) return NULL;
  /* Only this thread stores slots[t], so a relaxed load sees its own earlier store. */
  lp__cell *b = atomic_load_explicit(&s->slots[t], memory_order_relaxed);
  if (b != NULL) return b;
  b = lp__metrics_block_new(s->family->n_cells);
  if (b == NULL) return NULL;
  /* Release: a scraper that sees the pointer also sees the zeroed cells. */
  atomic_store_explicit(&s->slots[t], b, memory_order_release);
  return b;
}

static lp__cell *shared_block(lp_metric *s) {
  return atomic_load_explicit(&s->slots[LP__METRICS_SHARED_SLOT], memory_order_relaxed);
}

uint64_t lp__metric_sum_cell(const lp_metric *s, size_t i) {
  uint64_t sum = 0;
  for (size_t t = 0; t <= LP_METRICS_MAX_THREADS; t++) {
    lp__cell *b = atomic_load_explicit(&((lp_metric *)s)->slots[t], memory_order_acquire);
    if (b != NULL) sum += atomic_load_explicit(&b[i], memory_order_relaxed);
  }
  return sum;
}

static double bits_to_double(uint64_t u) {
  double d;
  memcpy(&d, &u, sizeof(d));
  return d;
}

static uint64_t double_to_bits(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof(u));
  return u;
}

double lp__metric_sum_double(const lp_metric *s, size_t i) {
  double sum = 0;
  for (size_t t = 0; t <= LP_METRICS_MAX_THREADS; t++) {
    lp__cell *b = atomic_load_explicit(&((lp_metric *)s)->slots[t], memory_order_acquire);
    if (b != NULL) sum += bits_to_double(atomic_load_explicit(&b[i], memory_order_relaxed));
  }
  return sum;
}

/* ---- updates (hot path: no lock, no allocation after a thread's first update of a series) -------- */

void lp_counter_add(lp_metric *c, uint64_t n) {
  if (c == NULL || c->family->type != LP_METRIC_COUNTER) return;
  lp__cell *b = own_block(c);
  if (b != NULL) {
    /* Single writer: a plain load and store, no locked instruction. */
    atomic_store_explicit(&b[0], atomic_load_explicit(&b[0], memory_order_relaxed) + n,
                          memory_order_relaxed);
    return;
  }
  atomic_fetch_add_explicit(&shared_block(c)[0], n, memory_order_relaxed);
}

void lp_gauge_set(lp_metric *g, double v) {
  if (g == NULL || g->family->type != LP_METRIC_GAUGE) return;
  atomic_store_explicit(&g->gauge_bits, double_to_bits(v), memory_order_relaxed);
}

/* Adds delta to the double whose bits live in cell: compare-and-swap until no other writer intervened. */
static void cas_add_double(lp__cell *cell, double delta) {
  uint64_t old = atomic_load_explicit(cell, memory_order_relaxed);
  while (!atomic_compare_exchange_weak_explicit(cell, &old, double_to_bits(bits_to_double(old) + delta),
                                                memory_order_relaxed, memory_order_relaxed)) {
  }
}

void lp_gauge_add(lp_metric *g, double delta) {
  if (g == NULL || g->family->type != LP_METRIC_GAUGE) return;
  cas_add_double(&g->gauge_bits, delta);
}

/* The first bucket whose upper bound is >= v; n (the +Inf bucket) when none is, or when v is NaN. */
static size_t bucket_index(const double *bounds, size_t n, double v) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (v <= bounds[mid]) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return isnan(v) ? n : lo;
}

void lp_histogram_observe(lp_metric *h, double v) {
  if (h == NULL || h->family->type != LP_METRIC_HISTOGRAM) return;
  const lp_metric_family *f = h->family;
  size_t i = bucket_index(f->bounds, f->n_bounds, v);
  size_t sum_i = f->n_bounds + 1;
  lp__cell *b = own_block(h);
  if (b != NULL) {
    atomic_store_explicit(&b[i], atomic_load_explicit(&b[i], memory_order_relaxed) + 1, memory_order_relaxed);
    double s = bits_to_double(atomic_load_explicit(&b[sum_i], memory_order_relaxed)) + v;
    atomic_store_explicit(&b[sum_i], double_to_bits(s), memory_order_relaxed);
    return;
  }
  b = shared_block(h);
  atomic_fetch_add_explicit(&b[i], 1, memory_order_relaxed);
  cas_add_double(&b[sum_i], v);
}

uint64_t lp_counter_value(const lp_metric *c) {
  if (c == NULL || c->family->type != LP_METRIC_COUNTER) return 0;
  return lp__metric_sum_cell(c, 0);
}

double lp_gauge_value(const lp_metric *g) {
  if (g == NULL || g->family->type != LP_METRIC_GAUGE) return 0;
  return bits_to_double(atomic_load_explicit(&((lp_metric *)g)->gauge_bits, memory_order_relaxed));
}

uint64_t lp_histogram_count(const lp_metric *h) {
  if (h == NULL || h->family->type != LP_METRIC_HISTOGRAM) return 0;
  uint64_t n = 0;
  for (size_t i = 0; i <= h->family->n_bounds; i++) n += lp__metric_sum_cell(h, i);
  return n;
}

double lp_histogram_sum(const lp_metric *h) {
  if (h == NULL || h->family->type != LP_METRIC_HISTOGRAM) return 0;
  return lp__metric_sum_double(h, h->family->n_bounds + 1);
}

/* ---- registry ------------------------------------------------------------------------------------ */

int lp_metrics_new(lp_metrics **out, size_t max_series_per_family) {
  *out = NULL;
  if (max_series_per_family == 0) return LP_EINVAL;
  lp_metrics *m = lp_calloc(1, sizeof(*m));
  if (m == NULL) return LP_ENOMEM;
  if (pthread_mutex_init(&m->mu, NULL) != 0) {
    lp_free(m);
    return LP_ENOMEM;
  }
  m->max_series = max_series_per_family;
  *out = m;
  return LP_OK;
}

void lp__metrics_series_free(lp_metric *s) {
  if (s == NULL) return;
  for (size_t i = 0; i < LP_METRICS_MAX_LABELS; i++) lp_free(s->values[i]);
  lp_free(s->labels);
  if (s->family->type != LP_METRIC_GAUGE) {
    for (size_t t = 0; t <= LP_METRICS_MAX_THREADS; t++) lp__metrics_block_free(atomic_load(&s->slots[t]));
  }
  lp_free(s);
}

void lp__metrics_family_free(lp_metric_family *f) {
  if (f == NULL) return;
  for (size_t i = 0; i < f->n_series; i++) lp__metrics_series_free(f->series[i]);
  lp_free(f->series);
  lp_free(f->table);
  lp_free(f->name);
  lp_free(f->help);
  for (size_t i = 0; i < f->n_labels; i++) lp_free(f->label_names[i]);
  lp_free(f->bounds);
  lp_free(f);
}

void lp_metrics_free(lp_metrics *m) {
  if (m == NULL) return;
  if (lp_metrics_default() == m) lp_metrics_set_default(NULL);
  for (size_t i = 0; i < m->n_families; i++) lp__metrics_family_free(m->families[i]);
  lp_free(m->families);
  lp_free(m->collectors);
  pthread_mutex_destroy(&m->mu);
  lp_free(m);
}

int lp_metrics_on_collect(lp_metrics *m, lp_metrics_collect_fn fn, void *ud) {
  if (m == NULL || fn == NULL) return LP_EINVAL;
  int rc = LP_OK;
  pthread_mutex_lock(&m->mu);
  if (m->n_collectors == m->cap_collectors) {
    size_t cap = m->cap_collectors ? m->cap_collectors * 2 : 4;
    struct lp__collector *c = lp_realloc(m->collectors, cap * sizeof(*c));
    if (c == NULL) {
      rc = LP_ENOMEM;
      goto out;
    }
    m->collectors = c;
    m->cap_collectors = cap;
  }
  m->collectors[m->n_collectors++] = (struct lp__collector){ fn, ud };
out:
  pthread_mutex_unlock(&m->mu);
  return rc;
}
