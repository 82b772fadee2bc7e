/*
 * metrics_internal.h: the registry's structures, shared by metrics.c (registration, updates), render.c
 * (text format) and process.c (process_* figures). Not part of the public API.
 *
 * Memory layout of the per-thread slots, and why.
 * A counter or histogram series does not embed LP_METRICS_MAX_THREADS padded slots: 1000 series x 64
 * threads x 64 bytes would be 4 MB per counter family and ~12 MB per histogram family, almost all of it
 * zeros, because in this process a series is updated by one or two threads (the reactor for an HTTP route,
 * the worker that owns a shard). Instead a series holds an array of LP_METRICS_MAX_THREADS + 1 pointers
 * (520 bytes) and each thread allocates its own block the first time it updates that series. A block holds
 * all the cells of the series for that thread (a counter: 1 cell; a histogram: one count per bucket, the
 * +Inf count, the sum) and is aligned and padded to whole cache lines, so two threads never write the same
 * line. Cost: 520 bytes + 64 bytes per (series, thread that touched it); 1000 series touched by one thread
 * each are ~0.6 MB, and the 4 MB worst case is reached only if every thread really updates every series.
 * The last pointer (index LP_METRICS_MAX_THREADS) is the shared block of unregistered threads, allocated
 * with the series so that an update always has somewhere to go (also when a thread's block cannot be
 * allocated), and updated with atomic read-modify-write operations.
 * Gauges have no blocks: one atomic word holds the double's bits (a gauge is set, not summed).
 */
#ifndef LP_METRICS_INTERNAL_H
#define LP_METRICS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "metrics/metrics.h"

#define LP__METRICS_SHARED_SLOT LP_METRICS_MAX_THREADS
#define LP__CACHE_LINE 64

typedef _Atomic uint64_t lp__cell;

struct lp_metric {
  lp_metric_family *family;
  uint64_t hash;                        /* of the label values, for the family's table */
  char *values[LP_METRICS_MAX_LABELS];  /* as given, for lookup */
  char *labels;                         /* rendered `a="x",b="y"` with escapes; "" without labels */
  _Atomic uint64_t gauge_bits;          /* gauges only */
  lp__cell *_Atomic slots[];            /* counters and histograms: LP_METRICS_MAX_THREADS + 1 blocks */
};

struct lp_metric_family {
  lp_metrics *reg;
  int type;
  char *name;
  char *help;
  size_t n_labels;
  char *label_names[LP_METRICS_MAX_LABELS];
  double *bounds;     /* histogram upper bounds, ascending, +Inf implied */
  size_t n_bounds;
  size_t n_cells;     /* cells per block: counter 1, histogram n_bounds + 2 (buckets, +Inf, sum) */
  lp_metric **series; /* creation order, the overflow series included */
  size_t n_series;
  size_t cap_series;
  size_t n_regular;   /* series counted against max_series */
  lp_metric **table;  /* open addressing by hash, power-of-two size */
  size_t table_cap;
  lp_metric *overflow;
};

struct lp__collector {
  lp_metrics_collect_fn fn;
  void *ud;
};

struct lp_metrics {
  pthread_mutex_t mu; /* families, series lists, tables, collectors; never taken by an update */
  size_t max_series;
  lp_metric_family **families; /* registration order */
  size_t n_families;
  size_t cap_families;
  struct lp__collector *collectors;
  size_t n_collectors;
  size_t cap_collectors;
};

/* A block of n zeroed cells on whole cache lines (NULL when out of memory); free with
 * lp__metrics_block_free (NULL is ignored). */
lp__cell *lp__metrics_block_new(size_t n);
void lp__metrics_block_free(lp__cell *cells);
/* Free a series (its values, labels and blocks) or a family with all its series. Registry mutex held or
 * the registry no longer shared. */
void lp__metrics_series_free(lp_metric *s);
void lp__metrics_family_free(lp_metric_family *f);

/* Sums cell i over every block of a counter or histogram series. Any thread. */
uint64_t lp__metric_sum_cell(const lp_metric *s, size_t i);
/* Sums the histogram's per-block sums (stored as double bits in the last cell). Any thread. */
double lp__metric_sum_double(const lp_metric *s, size_t i);

/* Appends v as Prometheus spells it: shortest round-trip decimal, +Inf, -Inf, NaN. */
int lp__metrics_put_double(lp_buf *out, double v);
/* Appends s with the escapes of a label value (quote = 1) or of a HELP text (quote = 0). */
int lp__metrics_put_escaped(lp_buf *out, const char *s, int quote);
/* 1 when s is valid UTF-8. */
int lp__metrics_utf8_valid(const char *s);

/* The names of the process_* families that lp_metrics_render appends; NULL-terminated. */
extern const char *const lp__metrics_process_names[];
/* Appends the process_* figures read from /proc/self. A figure that cannot be read is left out. */
int lp__metrics_render_process(lp_buf *out);

#endif
