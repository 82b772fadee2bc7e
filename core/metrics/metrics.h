/*
 * metrics.h: counters, gauges and histograms with labels, rendered in the Prometheus text format 0.0.4.
 *
 * Updates are per thread and lock-free: each counter or histogram series has one block of cells per
 * registered thread that updated it (allocated on that thread's first update, cache-line aligned and
 * padded, relaxed atomics; see metrics_internal.h for the memory budget) and the scrape sums them.
 * Gauges are one atomic double per series (set stores, add is a compare-and-swap loop). Creating a
 * family or a series takes a mutex and may allocate; look series up once (at start, or cache the
 * pointer) and update them on the hot path.
 * A family has a bounded number of series (lp_metrics_new's max_series): past it, lookups return one
 * shared series whose labels are all "overflow", so a label with unbounded values cannot eat memory.
 *
 * Threads: any thread may update. A thread that updates often should first call
 * lp_metrics_thread_register once (it gets a slot; at most LP_METRICS_MAX_THREADS); unregistered threads
 * share the last slot with atomic adds, which is correct but slower. Render from any thread.
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

/* Creates an empty registry; each family holds at most max_series_per_family series (>= 1, else
 * LP_EINVAL) plus its overflow series. The caller owns *out and frees it with lp_metrics_free once no
 * thread updates or renders any of its series (every family and series pointer dies with it). Any thread. */
int lp_metrics_new(lp_metrics **out, size_t max_series_per_family);
void lp_metrics_free(lp_metrics *m);

/* The registry the process uses (set once by main, read by stages' host API). Not owned: main frees it
 * (lp_metrics_free of the default registry resets the default to NULL). Any thread. */
void lp_metrics_set_default(lp_metrics *m);
lp_metrics *lp_metrics_default(void);

/* Gives the calling thread its own update slot (process-wide, for every registry; never reused, so a
 * process that starts more than LP_METRICS_MAX_THREADS updating threads in its life has the later ones
 * share the slot of unregistered threads). Idempotent. Call from the thread itself. */
void lp_metrics_thread_register(void);

/* Registers a family, or returns the existing one with that name (type, labels and buckets must agree,
 * else NULL). label_names has n_labels entries (0..LP_METRICS_MAX_LABELS). buckets: finite upper bounds,
 * strictly ascending, for histograms only (n_buckets of them, 0..64; +Inf is implied). name and help are
 * copied. NULL (and a warning in the log saying why) for anything `promtool check metrics` would flag: a
 * name or label not [a-z_][a-z0-9_]*, a label starting with __, empty help, a counter not ending in
 * _total or another type ending in it, _bucket/_sum/_count suffixes or the label le outside histograms,
 * a name whose printed samples collide with another family's or with a process_* figure.
 * A family without labels gets its one series at once. The family belongs to m. Any thread (mutex). */
lp_metric_family *lp_metrics_family(lp_metrics *m, int type, const char *name, const char *help,
                                    const char *const *label_names, size_t n_labels,
                                    const double *buckets, size_t n_buckets);
/* Finds or creates the series with these label values (n_labels of them, valid UTF-8; NULL for none).
 * Past max_series, the family's overflow series (every value "overflow") is returned. NULL when f is
 * NULL, a value is NULL or not UTF-8, or memory runs out. The series belongs to the family: cache the
 * pointer. Any thread (mutex: not for the hot path). */
lp_metric *lp_metrics_series(lp_metric_family *f, const char *const *label_values);
/* Shortcuts for a family without labels: registers the family and returns its one series. */
lp_metric *lp_metrics_counter(lp_metrics *m, const char *name, const char *help);
lp_metric *lp_metrics_gauge(lp_metrics *m, const char *name, const char *help);
lp_metric *lp_metrics_histogram(lp_metrics *m, const char *name, const char *help, const double *buckets,
                                size_t n_buckets);

/* Updates: any thread, lock-free, never allocate but on a registered thread's first update of a series.
 * A NULL series or one of another type is ignored, so a failed lookup never crashes the hot path. */

void lp_counter_add(lp_metric *c, uint64_t n);
void lp_gauge_set(lp_metric *g, double v);
void lp_gauge_add(lp_metric *g, double delta);
void lp_histogram_observe(lp_metric *h, double v);

/* Read back (sums of the per-thread slots): for tests and /v1/status. */
uint64_t lp_counter_value(const lp_metric *c);
double lp_gauge_value(const lp_metric *g);
uint64_t lp_histogram_count(const lp_metric *h);
double lp_histogram_sum(const lp_metric *h);

/* Called at the start of every render, on the rendering thread, to refresh gauges that are read rather
 * than pushed (queue depths, lead counts). Runs without the registry lock: it may create series. ud stays
 * the caller's and must outlive m. 0 or LP_EINVAL / LP_ENOMEM. Any thread. */
typedef void (*lp_metrics_collect_fn)(lp_metrics *m, void *ud);
int lp_metrics_on_collect(lp_metrics *m, lp_metrics_collect_fn fn, void *ud);

/* Runs the collect callbacks, then appends every family in the Prometheus text format 0.0.4 (families
 * in registration order, series in creation order, labelled families without series left out), then the
 * process_* figures from /proc. 0, or LP_EINVAL / LP_ENOMEM with out as it was. out is the caller's.
 * Any thread; series creation waits while a render formats. */
int lp_metrics_render(lp_metrics *m, lp_buf *out);

/* Default latency buckets in seconds, 50 us .. 10 s. */
extern const double lp_metrics_latency_buckets[];
extern const size_t lp_metrics_latency_buckets_n;

#endif
