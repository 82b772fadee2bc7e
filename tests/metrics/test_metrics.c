#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "leadpoet/common.h"
#include "metrics/metrics.h"

static lp_metrics *reg(size_t max_series) {
  lp_metrics *m = NULL;
  cr_assert_eq(lp_metrics_new(&m, max_series), LP_OK);
  cr_assert_not_null(m);
  return m;
}

/* The rendered text up to the process_* figures, which vary from run to run. Caller frees with free(). */
static char *render_families(lp_metrics *m) {
  lp_buf b = LP_BUF_INIT;
  cr_assert_eq(lp_metrics_render(m, &b), LP_OK);
  char *p = strstr(b.data, "# HELP process_");
  cr_assert_not_null(p, "the process_* figures follow the families");
  *p = '\0';
  char *s = strdup(b.data);
  lp_buf_free(&b);
  return s;
}

Test(metrics, new_refuses_zero_series) {
  lp_metrics *m = (lp_metrics *)1;
  cr_assert_eq(lp_metrics_new(&m, 0), LP_EINVAL);
  cr_assert_null(m);
  m = reg(1);
  lp_metrics_free(m);
  lp_metrics_free(NULL);
}

Test(metrics, default_registry) {
  lp_metrics *m = reg(4);
  cr_assert_null(lp_metrics_default());
  lp_metrics_set_default(m);
  cr_assert_eq(lp_metrics_default(), m);
  lp_metrics_free(m);
  cr_assert_null(lp_metrics_default(), "freeing the default registry clears the default");
}

Test(metrics, counter_gauge_histogram_values) {
  lp_metrics *m = reg(4);
  lp_metric *c = lp_metrics_counter(m, "t_events_total", "Events.");
  cr_assert_not_null(c);
  cr_assert_eq(lp_counter_value(c), 0);
  lp_counter_add(c, 5);
  lp_counter_add(c, 7);
  cr_assert_eq(lp_counter_value(c), 12);

  lp_metric *g = lp_metrics_gauge(m, "t_depth", "Depth.");
  cr_assert_not_null(g);
  lp_gauge_set(g, 2.5);
  lp_gauge_add(g, -1.25);
  cr_assert_eq(lp_gauge_value(g), 1.25);

  lp_metric *h = lp_metrics_histogram(m, "t_latency_seconds", "Latency.", lp_metrics_latency_buckets,
                                      lp_metrics_latency_buckets_n);
  cr_assert_not_null(h);
  lp_histogram_observe(h, 0.5);
  lp_histogram_observe(h, 0.25);
  cr_assert_eq(lp_histogram_count(h), 2);
  cr_assert_eq(lp_histogram_sum(h), 0.75);

  /* Wrong type or NULL: ignored, reads 0. */
  lp_counter_add(g, 1);
  lp_gauge_set(c, 9);
  lp_histogram_observe(c, 1);
  lp_counter_add(NULL, 1);
  lp_gauge_add(NULL, 1);
  cr_assert_eq(lp_counter_value(c), 12);
  cr_assert_eq(lp_gauge_value(g), 1.25);
  cr_assert_eq(lp_counter_value(g), 0);
  cr_assert_eq(lp_histogram_count(c), 0);
  lp_metrics_free(m);
}

Test(metrics, latency_buckets) {
  static const double want[] = { 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                 0.05,    0.1,    0.25,    0.5,    1,     2.5,    5,     10 };
  cr_assert_eq(lp_metrics_latency_buckets_n, 17);
  for (size_t i = 0; i < 17; i++) cr_assert_eq(lp_metrics_latency_buckets[i], want[i]);
}

Test(metrics, exact_render_of_small_registry) {
  lp_metrics *m = reg(10);
  lp_metric *c = lp_metrics_counter(m, "app_requests_total", "Requests served.\nSecond line \\ backslash");
  lp_counter_add(c, 3);
  const char *names[] = { "route", "code" };
  lp_metric_family *f = lp_metrics_family(m, LP_METRIC_COUNTER, "app_http_total", "By \"route\".", names, 2,
                                          NULL, 0);
  cr_assert_not_null(f);
  lp_metrics_family(m, LP_METRIC_GAUGE, "app_unused", "No series yet.", names, 1, NULL, 0);
  lp_counter_add(lp_metrics_series(f, (const char *[]){ "/a", "200" }), 2);
  lp_counter_add(lp_metrics_series(f, (const char *[]){ "q\"x\\y\nz", "500" }), 1);
  lp_metric *g = lp_metrics_gauge(m, "app_temperature_celsius", "Temp.");
  lp_gauge_set(g, 21.5);
  const double b[] = { 0.25, 1, 2.5 };
  lp_metric *h = lp_metrics_histogram(m, "app_latency_seconds", "Latency.", b, 3);
  const double obs[] = { 0.125, 0.25, 0.5, 2, 3 };
  for (size_t i = 0; i < 5; i++) lp_histogram_observe(h, obs[i]);
  const char *stage[] = { "stage" };
  lp_metric_family *hf = lp_metrics_family(m, LP_METRIC_HISTOGRAM, "app_stage_seconds", "Per stage.", stage,
                                           1, b, 1);
  lp_histogram_observe(lp_metrics_series(hf, (const char *[]){ "ingest" }), 1);

  char *text = render_families(m);
  cr_assert_str_eq(text,
                   "# HELP app_requests_total Requests served.\\nSecond line \\\\ backslash\n"
                   "# TYPE app_requests_total counter\n"
                   "app_requests_total 3\n"
                   "# HELP app_http_total By \"route\".\n"
                   "# TYPE app_http_total counter\n"
                   "app_http_total{route=\"/a\",code=\"200\"} 2\n"
                   "app_http_total{route=\"q\\\"x\\\\y\\nz\",code=\"500\"} 1\n"
                   "# HELP app_temperature_celsius Temp.\n"
                   "# TYPE app_temperature_celsius gauge\n"
                   "app_temperature_celsius 21.5\n"
                   "# HELP app_latency_seconds Latency.\n"
                   "# TYPE app_latency_seconds histogram\n"
                   "app_latency_seconds_bucket{le=\"0.25\"} 2\n"
                   "app_latency_seconds_bucket{le=\"1\"} 3\n"
                   "app_latency_seconds_bucket{le=\"2.5\"} 4\n"
                   "app_latency_seconds_bucket{le=\"+Inf\"} 5\n"
                   "app_latency_seconds_sum 5.875\n"
                   "app_latency_seconds_count 5\n"
                   "# HELP app_stage_seconds Per stage.\n"
                   "# TYPE app_stage_seconds histogram\n"
                   "app_stage_seconds_bucket{stage=\"ingest\",le=\"0.25\"} 0\n"
                   "app_stage_seconds_bucket{stage=\"ingest\",le=\"+Inf\"} 1\n"
                   "app_stage_seconds_sum{stage=\"ingest\"} 1\n"
                   "app_stage_seconds_count{stage=\"ingest\"} 1\n");
  free(text);
  lp_metrics_free(m);
}

Test(metrics, doubles_spelled_for_prometheus) {
  lp_metrics *m = reg(10);
  const char *l[] = { "k" };
  lp_metric_family *f = lp_metrics_family(m, LP_METRIC_GAUGE, "t_value", "V.", l, 1, NULL, 0);
  lp_gauge_set(lp_metrics_series(f, (const char *[]){ "nan" }), NAN);
  lp_gauge_set(lp_metrics_series(f, (const char *[]){ "pinf" }), INFINITY);
  lp_gauge_set(lp_metrics_series(f, (const char *[]){ "ninf" }), -INFINITY);
  lp_gauge_set(lp_metrics_series(f, (const char *[]){ "tenth" }), 0.1);
  lp_gauge_set(lp_metrics_series(f, (const char *[]){ "third" }), 1.0 / 3.0);
  lp_gauge_set(lp_metrics_series(f, (const char *[]){ "big" }), 1e20);
  lp_gauge_set(lp_metrics_series(f, (const char *[]){ "int" }), -42);
  char *text = render_families(m);
  cr_assert_str_eq(text, "# HELP t_value V.\n# TYPE t_value gauge\n"
                         "t_value{k=\"nan\"} NaN\n"
                         "t_value{k=\"pinf\"} +Inf\n"
                         "t_value{k=\"ninf\"} -Inf\n"
                         "t_value{k=\"tenth\"} 0.1\n"
                         "t_value{k=\"third\"} 0.3333333333333333\n"
                         "t_value{k=\"big\"} 1e+20\n"
                         "t_value{k=\"int\"} -42\n");
  free(text);
  lp_metrics_free(m);
}

Test(metrics, series_lookup_returns_the_same_series) {
  lp_metrics *m = reg(100);
  const char *l[] = { "a", "b" };
  lp_metric_family *f = lp_metrics_family(m, LP_METRIC_COUNTER, "t_x_total", "X.", l, 2, NULL, 0);
  lp_metric *s1 = lp_metrics_series(f, (const char *[]){ "1", "2" });
  lp_metric *s2 = lp_metrics_series(f, (const char *[]){ "12", "" });
  cr_assert_neq(s1, s2, "values are not concatenated for lookup");
  for (int i = 0; i < 60; i++) {
    char v[16];
    snprintf(v, sizeof(v), "v%d", i);
    cr_assert_not_null(lp_metrics_series(f, (const char *[]){ v, "z" }));
  }
  cr_assert_eq(lp_metrics_series(f, (const char *[]){ "1", "2" }), s1, "found again after the table grew");
  cr_assert_eq(lp_metrics_series(f, (const char *[]){ "12", "" }), s2);
  lp_metrics_free(m);
}

Test(metrics, bad_label_values_refused) {
  lp_metrics *m = reg(10);
  const char *l[] = { "a" };
  lp_metric_family *f = lp_metrics_family(m, LP_METRIC_COUNTER, "t_x_total", "X.", l, 1, NULL, 0);
  cr_assert_null(lp_metrics_series(f, NULL));
  cr_assert_null(lp_metrics_series(f, (const char *[]){ NULL }));
  cr_assert_null(lp_metrics_series(f, (const char *[]){ "\xff" }), "not UTF-8");
  cr_assert_null(lp_metrics_series(f, (const char *[]){ "\xc0\x80" }), "overlong");
  cr_assert_null(lp_metrics_series(f, (const char *[]){ "\xed\xa0\x80" }), "surrogate");
  cr_assert_not_null(lp_metrics_series(f, (const char *[]){ "caf\xc3\xa9 \xf0\x9f\x98\x80" }));
  cr_assert_null(lp_metrics_series(NULL, (const char *[]){ "x" }));
  lp_metrics_free(m);
}

Test(metrics, overflow_series_past_max) {
  lp_metrics *m = reg(2);
  const char *l[] = { "miner", "kind" };
  lp_metric_family *f = lp_metrics_family(m, LP_METRIC_COUNTER, "t_snips_total", "S.", l, 2, NULL, 0);
  lp_metric *a = lp_metrics_series(f, (const char *[]){ "a", "x" });
  lp_metric *b = lp_metrics_series(f, (const char *[]){ "b", "x" });
  lp_metric *c = lp_metrics_series(f, (const char *[]){ "c", "x" });
  lp_metric *d = lp_metrics_series(f, (const char *[]){ "d", "y" });
  cr_assert(a && b && c && a != b && b != c);
  cr_assert_eq(c, d, "every series past the bound is the one overflow series");
  cr_assert_eq(lp_metrics_series(f, (const char *[]){ "a", "x" }), a, "existing series still found");
  cr_assert_eq(lp_metrics_series(f, (const char *[]){ "overflow", "overflow" }), c);
  lp_counter_add(a, 1);
  lp_counter_add(c, 2);
  lp_counter_add(d, 3);
  char *text = render_families(m);
  cr_assert_str_eq(text, "# HELP t_snips_total S.\n# TYPE t_snips_total counter\n"
                         "t_snips_total{miner=\"a\",kind=\"x\"} 1\n"
                         "t_snips_total{miner=\"b\",kind=\"x\"} 0\n"
                         "t_snips_total{miner=\"overflow\",kind=\"overflow\"} 5\n");
  free(text);
  lp_metrics_free(m);
}

Test(metrics, histogram_buckets_cumulative) {
  lp_metrics *m = reg(4);
  const double b[] = { 1, 2, 4 };
  lp_metric *h = lp_metrics_histogram(m, "t_size_bytes", "Sizes.", b, 3);
  const double obs[] = { 0, 1, 1.5, 2, 3, 4, 5, 100, -1 };
  double sum = 0;
  for (size_t i = 0; i < 9; i++) {
    lp_histogram_observe(h, obs[i]);
    sum += obs[i];
  }
  cr_assert_eq(lp_histogram_count(h), 9);
  cr_assert_eq(lp_histogram_sum(h), sum);
  char *text = render_families(m);
  /* le=1: -1,0,1; le=2: +1.5,2; le=4: +3,4; +Inf: +5,100. */
  cr_assert_str_eq(text, "# HELP t_size_bytes Sizes.\n# TYPE t_size_bytes histogram\n"
                         "t_size_bytes_bucket{le=\"1\"} 3\n"
                         "t_size_bytes_bucket{le=\"2\"} 5\n"
                         "t_size_bytes_bucket{le=\"4\"} 7\n"
                         "t_size_bytes_bucket{le=\"+Inf\"} 9\n"
                         "t_size_bytes_sum 115.5\n"
                         "t_size_bytes_count 9\n");
  free(text);
  lp_metrics_free(m);
}

Test(metrics, histogram_without_bounds_has_only_inf) {
  lp_metrics *m = reg(4);
  lp_metric *h = lp_metrics_histogram(m, "t_any_seconds", "Any.", NULL, 0);
  cr_assert_not_null(h);
  lp_histogram_observe(h, 2);
  char *text = render_families(m);
  cr_assert_str_eq(text, "# HELP t_any_seconds Any.\n# TYPE t_any_seconds histogram\n"
                         "t_any_seconds_bucket{le=\"+Inf\"} 1\nt_any_seconds_sum 2\nt_any_seconds_count 1\n");
  free(text);
  lp_metrics_free(m);
}

Test(metrics, counter_without_total_refused) {
  lp_metrics *m = reg(4);
  cr_assert_null(lp_metrics_counter(m, "t_requests", "R."));
  cr_assert_not_null(lp_metrics_counter(m, "t_requests_total", "R."));
  cr_assert_null(lp_metrics_gauge(m, "t_queue_total", "Only counters end in _total."));
  lp_metrics_free(m);
}

Test(metrics, bad_names_refused) {
  lp_metrics *m = reg(4);
  const char *ok1[] = { "a" };
  const char *twice[] = { "a", "a" };
  const char *reserved[] = { "__a" };
  const char *camel[] = { "myLabel" };
  const char *le[] = { "le" };
  const double asc[] = { 1, 2 };
  const double desc[] = { 2, 1 };
  const double inf[] = { 1, INFINITY };
  cr_assert_null(lp_metrics_gauge(m, "", "H."));
  cr_assert_null(lp_metrics_gauge(m, NULL, "H."));
  cr_assert_null(lp_metrics_gauge(m, "9lives", "H."));
  cr_assert_null(lp_metrics_gauge(m, "camelCase", "H."));
  cr_assert_null(lp_metrics_gauge(m, "with:colon", "H."));
  cr_assert_null(lp_metrics_gauge(m, "t_no_help", ""));
  cr_assert_null(lp_metrics_gauge(m, "t_no_help", NULL));
  cr_assert_null(lp_metrics_gauge(m, "t_bad_help", "\xff"));
  cr_assert_null(lp_metrics_gauge(m, "t_x_count", "Reserved suffix."));
  cr_assert_null(lp_metrics_gauge(m, "t_x_sum", "Reserved suffix."));
  cr_assert_null(lp_metrics_gauge(m, "t_x_bucket", "Reserved suffix."));
  cr_assert_null(lp_metrics_family(m, 99, "t_type", "H.", NULL, 0, NULL, 0));
  cr_assert_null(lp_metrics_family(m, LP_METRIC_GAUGE, "t_l", "H.", twice, 2, NULL, 0));
  cr_assert_null(lp_metrics_family(m, LP_METRIC_GAUGE, "t_l", "H.", reserved, 1, NULL, 0));
  cr_assert_null(lp_metrics_family(m, LP_METRIC_GAUGE, "t_l", "H.", camel, 1, NULL, 0));
  cr_assert_null(lp_metrics_family(m, LP_METRIC_GAUGE, "t_l", "H.", NULL, 1, NULL, 0));
  cr_assert_null(lp_metrics_family(m, LP_METRIC_GAUGE, "t_l", "H.", ok1, LP_METRICS_MAX_LABELS + 1, NULL, 0));
  cr_assert_null(lp_metrics_family(m, LP_METRIC_GAUGE, "t_l", "H.", ok1, 1, asc, 2), "buckets on a gauge");
  cr_assert_null(lp_metrics_family(m, LP_METRIC_HISTOGRAM, "t_h", "H.", le, 1, asc, 2));
  cr_assert_null(lp_metrics_family(m, LP_METRIC_HISTOGRAM, "t_h", "H.", ok1, 1, desc, 2));
  cr_assert_null(lp_metrics_family(m, LP_METRIC_HISTOGRAM, "t_h", "H.", ok1, 1, inf, 2));
  cr_assert_null(lp_metrics_family(m, LP_METRIC_HISTOGRAM, "t_h", "H.", ok1, 1, NULL, 2));
  cr_assert_null(lp_metrics_family(NULL, LP_METRIC_GAUGE, "t_l", "H.", ok1, 1, NULL, 0));
  cr_assert_not_null(lp_metrics_family(m, LP_METRIC_GAUGE, "t_l", "H.", ok1, 1, NULL, 0));
  cr_assert_not_null(lp_metrics_family(m, LP_METRIC_HISTOGRAM, "t_h", "H.", ok1, 1, asc, 2));
  lp_metrics_free(m);
}

Test(metrics, family_twice) {
  lp_metrics *m = reg(4);
  const char *ab[] = { "a", "b" };
  const char *ac[] = { "a", "c" };
  const double b1[] = { 1, 2 };
  const double b2[] = { 1, 3 };
  lp_metric_family *f = lp_metrics_family(m, LP_METRIC_COUNTER, "t_x_total", "X.", ab, 2, NULL, 0);
  cr_assert_not_null(f);
  cr_assert_eq(lp_metrics_family(m, LP_METRIC_COUNTER, "t_x_total", "Other help.", ab, 2, NULL, 0), f,
               "same shape: the existing family");
  cr_assert_null(lp_metrics_family(m, LP_METRIC_COUNTER, "t_x_total", "X.", ac, 2, NULL, 0));
  cr_assert_null(lp_metrics_family(m, LP_METRIC_COUNTER, "t_x_total", "X.", ab, 1, NULL, 0));
  cr_assert_null(lp_metrics_family(m, LP_METRIC_GAUGE, "t_x_total", "X.", ab, 2, NULL, 0));
  lp_metric_family *h = lp_metrics_family(m, LP_METRIC_HISTOGRAM, "t_h", "H.", NULL, 0, b1, 2);
  cr_assert_not_null(h);
  cr_assert_eq(lp_metrics_family(m, LP_METRIC_HISTOGRAM, "t_h", "H.", NULL, 0, b1, 2), h);
  cr_assert_null(lp_metrics_family(m, LP_METRIC_HISTOGRAM, "t_h", "H.", NULL, 0, b2, 2));
  cr_assert_null(lp_metrics_family(m, LP_METRIC_HISTOGRAM, "t_h", "H.", NULL, 0, b1, 1));
  lp_metrics_free(m);
}

Test(metrics, printed_name_collisions_refused) {
  lp_metrics *m = reg(4);
  cr_assert_not_null(lp_metrics_gauge(m, "t_h_bucket_size", "G."));
  cr_assert_not_null(lp_metrics_histogram(m, "t_h", "H.", NULL, 0));
  cr_assert_null(lp_metrics_histogram(m, "t_h_bucket", "H.", NULL, 0), "t_h_bucket is t_h's bucket line");
  cr_assert_not_null(lp_metrics_gauge(m, "t_g", "G."));
  cr_assert_null(lp_metrics_histogram(m, "t_g", "H.", NULL, 0), "same name, other type");
  cr_assert_null(lp_metrics_counter(m, "process_cpu_seconds_total", "C."));
  cr_assert_null(lp_metrics_gauge(m, "process_open_fds", "G."));
  cr_assert_not_null(lp_metrics_gauge(m, "process_other", "G."));
  char *text = render_families(m);
  cr_assert_eq(strstr(text, "# TYPE t_h histogram\n") != NULL, 1);
  cr_assert_null(strstr(text, "process_cpu"));
  free(text);
  lp_metrics_free(m);
}

static int collect_runs;
static void on_collect(lp_metrics *m, void *ud) {
  collect_runs++;
  lp_gauge_set((lp_metric *)ud, collect_runs * 10);
  /* A callback may create series: it runs without the registry lock. */
  cr_assert_not_null(lp_metrics_gauge(m, "t_made_in_collect", "Made."));
}

Test(metrics, collect_callback_runs_each_render) {
  lp_metrics *m = reg(4);
  lp_metric *g = lp_metrics_gauge(m, "t_depth", "Depth.");
  cr_assert_eq(lp_metrics_on_collect(m, NULL, NULL), LP_EINVAL);
  cr_assert_eq(lp_metrics_on_collect(NULL, on_collect, g), LP_EINVAL);
  cr_assert_eq(lp_metrics_on_collect(m, on_collect, g), LP_OK);
  collect_runs = 0;
  char *text = render_families(m);
  cr_assert_eq(collect_runs, 1);
  cr_assert_str_eq(text, "# HELP t_depth Depth.\n# TYPE t_depth gauge\nt_depth 10\n"
                         "# HELP t_made_in_collect Made.\n# TYPE t_made_in_collect gauge\nt_made_in_collect 0\n");
  free(text);
  text = render_families(m);
  cr_assert_eq(collect_runs, 2);
  cr_assert_not_null(strstr(text, "t_depth 20\n"));
  free(text);
  lp_metrics_free(m);
}

Test(metrics, render_errors) {
  lp_buf b = LP_BUF_INIT;
  cr_assert_eq(lp_metrics_render(NULL, &b), LP_EINVAL);
  lp_metrics *m = reg(4);
  cr_assert_eq(lp_metrics_render(m, NULL), LP_EINVAL);
  cr_assert_eq(lp_buf_puts(&b, "kept\n"), LP_OK);
  cr_assert_eq(lp_metrics_render(m, &b), LP_OK);
  cr_assert_eq(strncmp(b.data, "kept\n# HELP process_", 20), 0, "render appends");
  lp_buf_free(&b);
  lp_metrics_free(m);
}

Test(metrics, process_figures_present) {
  lp_metrics *m = reg(4);
  lp_buf b = LP_BUF_INIT;
  cr_assert_eq(lp_metrics_render(m, &b), LP_OK);
  static const char *want[] = {
    ("# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
     "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total "),
    "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes ",
    "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes ",
    "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds ",
    "# TYPE process_open_fds gauge\nprocess_open_fds ",
    "# TYPE process_max_fds gauge\nprocess_max_fds ",
    "# TYPE process_threads gauge\nprocess_threads ",
  };
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
    const char *p = strstr(b.data, want[i]);
    cr_assert_not_null(p, "missing: %s", want[i]);
    char *end;
    double v = strtod(p + strlen(want[i]), &end);
    cr_assert(end > p + strlen(want[i]) && *end == '\n', "a number ends the line: %s", want[i]);
    cr_assert(i == 0 ? v >= 0 : v > 0, "%s must be positive", want[i]);
  }
  double start = strtod(strstr(b.data, "process_start_time_seconds 1") + 27, NULL);
  cr_assert_gt(start, 1.6e9, "an epoch time, not ticks since boot");
  lp_buf_free(&b);
  lp_metrics_free(m);
}

/* ---- threads ------------------------------------------------------------------------------------- */

#define N_ADDS 100000

struct worker_arg {
  lp_metric *c, *h, *g;
  int reg;
};

static void *worker(void *p) {
  struct worker_arg *a = p;
  if (a->reg) lp_metrics_thread_register();
  if (a->reg) lp_metrics_thread_register(); /* idempotent */
  for (int i = 0; i < N_ADDS; i++) {
    lp_counter_add(a->c, 1);
    lp_histogram_observe(a->h, (i & 1) ? 0.5 : 2);
    lp_gauge_add(a->g, 1);
  }
  return NULL;
}

Test(metrics, threads_sum_exactly) {
  lp_metrics *m = reg(4);
  lp_metric *c = lp_metrics_counter(m, "t_adds_total", "Adds.");
  const double b[] = { 1 };
  lp_metric *h = lp_metrics_histogram(m, "t_obs_seconds", "Obs.", b, 1);
  lp_metric *g = lp_metrics_gauge(m, "t_level", "Level.");
  pthread_t th[8];
  struct worker_arg args[8];
  /* Four registered threads and four that share the unregistered slot, at the same time. */
  for (int i = 0; i < 8; i++) {
    args[i] = (struct worker_arg){ c, h, g, i < 4 };
    cr_assert_eq(pthread_create(&th[i], NULL, worker, &args[i]), 0);
  }
  lp_buf scrape = LP_BUF_INIT;
  cr_assert_eq(lp_metrics_render(m, &scrape), LP_OK, "a scrape while threads update");
  lp_buf_free(&scrape);
  for (int i = 0; i < 8; i++) pthread_join(th[i], NULL);
  cr_assert_eq(lp_counter_value(c), 8ULL * N_ADDS);
  cr_assert_eq(lp_histogram_count(h), 8ULL * N_ADDS);
  cr_assert_eq(lp_histogram_sum(h), 8.0 * (N_ADDS / 2) * 2.5);
  cr_assert_eq(lp_gauge_value(g), 8.0 * N_ADDS);
  char *text = render_families(m);
  char want[512];
  snprintf(want, sizeof(want),
           "# HELP t_adds_total Adds.\n# TYPE t_adds_total counter\nt_adds_total %d\n"
           "# HELP t_obs_seconds Obs.\n# TYPE t_obs_seconds histogram\n"
           "t_obs_seconds_bucket{le=\"1\"} %d\nt_obs_seconds_bucket{le=\"+Inf\"} %d\n"
           "t_obs_seconds_sum %d\nt_obs_seconds_count %d\n"
           "# HELP t_level Level.\n# TYPE t_level gauge\nt_level %d\n",
           8 * N_ADDS, 4 * N_ADDS, 8 * N_ADDS, 10 * N_ADDS, 8 * N_ADDS, 8 * N_ADDS);
  cr_assert_str_eq(text, want);
  free(text);
  lp_metrics_free(m);
}
