/*
 * metrics.h: counters, gauges and histograms with labels, rendered in the Prometheus text format 0.0.4.
 *
 * Updates are per thread and lock-free: each series holds one slot per registered thread (cache-line
 * padded, relaxed atomics) and the scrape sums them. Creating a family or a series takes a mutex and may
 * allocate; look series up once (at start, or cache the pointer) and update them on the hot path.
 * A family has a bounded number of series (lp_metrics_new's max_series): past it, lookups return one
 * shared series whose labels are all "overflow", so a label with unbounded values cannot eat memory.
 *
 * Threads: any thread may update. A thread that updates must first call lp_metrics_thread_register once
 * (it gets a slot; at most LP_METRICS_MAX_THREADS); unregistered threads share the last slot with atomic
 * adds, which is correct but slower. Render from any thread.
 */
#ifndef LP_METRICS_H
#define LP_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define LP_METRICS_MAX_THREADS 64
#define LP_METRICS_MAX_LABELS 4

typedef struct lp_metrics lp_metrics;
typedef struct lp_metric_family lp_metric_family;
typedef struct lp_metric lp_metric;    /* one series */

enum lp_metric_type { LP_METRIC_COUNTER = 1, LP_METRIC_GAUGE, LP_METRIC_HISTOGRAM };

int lp_metrics_new(lp_metrics **out, size_t max_series_per_family);
void lp_metrics_free(lp_metrics *m);

/* The registry the process uses (set once by main, read by stages' host API). */
void lp_metrics_set_default(lp_metrics *m);
lp_metrics *lp_metrics_default(void);

/* Gives the calling thread its own update slot. Idempotent. */
void lp_metrics_thread_register(void);

/* Registers a family, or returns the existing one with that name (type and labels must agree, else NULL).
 * label_names has n_labels entries (0..LP_METRICS_MAX_LABELS). buckets: upper bounds, ascending, for
 * histograms only (n_buckets of them; +Inf is implied). name and help are copied. */
lp_metric_family *lp_metrics_family(lp_metrics *m, int type, const char *name, const char *help,
                                    const char *const *label_names, size_t n_labels,
                                    const double *buckets, size_t n_buckets);
/* Finds or creates the series with these label values (n_labels of them; NULL for none). */
lp_metric *lp_metrics_series(lp_metric_family *f, const char *const *label_values);
/* Shortcuts for a family without labels: registers the family and returns its one series. */
lp_metric *lp_metrics_counter(lp_metrics *m, const char *name, const char *help);
lp_metric *lp_metrics_gauge(lp_metrics *m, const char *name, const char *help);

void lp_counter_add(lp_metric *c, uint64_t n);
void lp_gauge_set(lp_metric *g, double v);
void lp_gauge_add(lp_metric *g, double delta);
void lp_histogram_observe(lp_metric *h, double v);

/* Read back (sums of the per-thread slots): for tests and /v1/status. */
uint64_t lp_counter_value(const lp_metric *c);
double lp_gauge_value(const lp_metric *g);
uint64_t lp_histogram_count(const lp_metric *h);

/* Called at the start of every render, on the rendering thread, to refresh gauges that are read rather
 * than pushed (queue depths, lead counts). */
typedef void (*lp_metrics_collect_fn)(lp_metrics *m, void *ud);
int lp_metrics_on_collect(lp_metrics *m, lp_metrics_collect_fn fn, void *ud);

/* Appends every family in the Prometheus text format 0.0.4, then the process_* figures from /proc. */
int lp_metrics_render(lp_metrics *m, lp_buf *out);

/* Default latency buckets in seconds, 50 us .. 10 s. */
extern const double lp_metrics_latency_buckets[];
extern const size_t lp_metrics_latency_buckets_n;

#endif
