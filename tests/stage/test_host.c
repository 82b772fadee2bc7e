/* The host API table as a stage uses it: query contributions (lp_query_out), counters, logs, memory. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "stage/registry.h"

Test(stage_query_out, boosts_are_copied_and_bounded) {
  lp_query_out out;
  cr_assert_eq(lp_query_out_init(&out, 5, 2, 0), LP_OK);
  const lp_host_api *h = lp_stage_host_api();
  char dom[] = "acme.com";
  cr_assert_eq(h->query_boost(&out, (lp_str){ dom, 8 }, 2.5, "fit"), LP_OK);
  dom[0] = 'X';  /* the host kept its own copy */
  cr_assert_eq(h->query_boost(&out, LP_STR_LIT("b.io"), -1.0, "risk"), LP_OK);
  cr_assert_eq(h->query_boost(&out, LP_STR_LIT("c.io"), 1.0, "x"), LP_ENOMEM, "over the bound");
  cr_assert_eq(lp_query_out_boost_count(&out), 2);
  lp_str d, sig;
  double delta;
  cr_assert_eq(lp_query_out_boost_at(&out, 0, &d, &delta, &sig), LP_OK);
  cr_assert(d.len == 8 && memcmp(d.ptr, "acme.com", 8) == 0);
  cr_assert(sig.len == 3 && memcmp(sig.ptr, "fit", 3) == 0);
  cr_assert_float_eq(delta, 2.5, 1e-12);
  cr_assert_eq(lp_query_out_boost_at(&out, 2, &d, &delta, &sig), LP_ENOENT);
  cr_assert_eq(lp_query_out_shard(&out), 5);
  lp_query_out_reset(&out, 6);
  cr_assert_eq(lp_query_out_boost_count(&out), 0);
  cr_assert_eq(lp_query_out_shard(&out), 6);
  cr_assert_eq(h->query_boost(&out, LP_STR_LIT("c.io"), 1.0, "x"), LP_OK, "room again after reset");
  lp_query_out_free(&out);
}

Test(stage_query_out, bad_boosts_are_refused) {
  lp_query_out out;
  cr_assert_eq(lp_query_out_init(&out, 0, 4, 4), LP_OK);
  char longd[300];
  memset(longd, 'a', sizeof(longd));
  char longs[LP_QUERY_OUT_MAX_SIGNAL + 2];
  memset(longs, 's', sizeof(longs) - 1);
  longs[sizeof(longs) - 1] = '\0';
  cr_assert_eq(lp_query_out_boost(&out, (lp_str){ "", 0 }, 1, "s"), LP_EINVAL);
  cr_assert_eq(lp_query_out_boost(&out, (lp_str){ longd, sizeof(longd) }, 1, "s"), LP_EINVAL);
  cr_assert_eq(lp_query_out_boost(&out, LP_STR_LIT("a.io"), NAN, "s"), LP_EINVAL);
  cr_assert_eq(lp_query_out_boost(&out, LP_STR_LIT("a.io"), INFINITY, "s"), LP_EINVAL);
  cr_assert_eq(lp_query_out_boost(&out, LP_STR_LIT("a.io"), 1, ""), LP_EINVAL);
  cr_assert_eq(lp_query_out_boost(&out, LP_STR_LIT("a.io"), 1, NULL), LP_EINVAL);
  cr_assert_eq(lp_query_out_boost(&out, LP_STR_LIT("a.io"), 1, longs), LP_EINVAL);
  longs[LP_QUERY_OUT_MAX_SIGNAL] = '\0';
  cr_assert_eq(lp_query_out_boost(&out, LP_STR_LIT("a.io"), 1, longs), LP_OK, "exactly the longest signal");
  cr_assert_eq(lp_query_out_exclude(&out, (lp_str){ "", 0 }), LP_EINVAL);
  cr_assert_eq(lp_query_out_exclude(&out, (lp_str){ longd, sizeof(longd) }), LP_EINVAL);
  lp_query_out_free(&out);
}

Test(stage_query_out, exclusions_cover_sub_domains_and_are_bounded) {
  lp_query_out out;
  cr_assert_eq(lp_query_out_init(&out, 0, 0, 2), LP_OK);
  cr_assert_eq(lp_query_out_exclude(&out, LP_STR_LIT("acme.com")), LP_OK);
  cr_assert_eq(lp_query_out_exclude(&out, LP_STR_LIT("acme.com")), LP_OK, "twice is once");
  cr_assert_eq(lp_query_out_exclude_count(&out), 1);
  cr_assert_eq(lp_query_out_exclude(&out, LP_STR_LIT("b.io")), LP_OK);
  cr_assert_eq(lp_query_out_exclude(&out, LP_STR_LIT("c.io")), LP_ENOMEM);
  cr_assert(lp_query_out_is_excluded(&out, LP_STR_LIT("acme.com")));
  cr_assert(lp_query_out_is_excluded(&out, LP_STR_LIT("eu.acme.com")));
  cr_assert_not(lp_query_out_is_excluded(&out, LP_STR_LIT("notacme.com")));
  cr_assert_not(lp_query_out_is_excluded(&out, LP_STR_LIT("acme.com.evil.io")));
  cr_assert_not(lp_query_out_is_excluded(&out, LP_STR_LIT("cme.com")));
  cr_assert_null(lp_query_out_exclude_at(&out, 5).ptr);
  cr_assert_eq(lp_query_out_boost(&out, LP_STR_LIT("a.io"), 1, "s"), LP_ENOMEM, "no boosts allowed");
  lp_query_out_free(&out);
}

static lp_metric *find_counter(lp_metrics *m, const char *name, size_t n_labels, const char *const *values) {
  static const char *const labels[] = { "stage", "label" };
  lp_metric_family *f = lp_metrics_family(m, LP_METRIC_COUNTER, name, "x", labels, n_labels, NULL, 0);
  cr_assert_not_null(f, "%s", name);
  return lp_metrics_series(f, values);
}

Test(stage_host, counters_go_to_the_default_registry) {
  lp_metrics *m;
  cr_assert_eq(lp_metrics_new(&m, 100), LP_OK);
  lp_metrics_set_default(m);
  const lp_host_api *h = lp_stage_host_api();
  lp_counter *c = h->counter("mystage", "hits", "Hits.", "red");
  cr_assert_not_null(c);
  cr_assert_eq(h->counter("mystage", "hits", "Hits.", "red"), c, "found again, not made twice");
  h->counter_add(c, 3);
  h->counter_add(NULL, 3);
  const char *v[] = { "mystage", "red" };
  cr_assert_eq(lp_counter_value(find_counter(m, "leadpoet_stage_hits_total", 2, v)), 3);

  /* a name that is not a valid metric name is made one; "_total" is not doubled */
  lp_counter *d = h->counter("mystage", "bad-name.x_total", "Odd.", NULL);
  cr_assert_not_null(d);
  h->counter_add(d, 2);
  const char *w[] = { "mystage" };
  cr_assert_eq(lp_counter_value(find_counter(m, "leadpoet_stage_bad_name_x_total", 1, w)), 2);

  cr_assert_null(h->counter("mystage", "", "x", NULL));
  cr_assert_null(h->counter("mystage", "_total", "x", NULL));
  cr_assert_null(h->counter("Bad Stage", "x", "x", NULL));
  cr_assert_null(h->counter(NULL, "x", "x", NULL));
  lp_buf out = LP_BUF_INIT;
  cr_assert_eq(lp_metrics_render(m, &out), LP_OK);
  cr_assert(strstr(out.data, "leadpoet_stage_hits_total{stage=\"mystage\",label=\"red\"} 3") != NULL, "%s", out.data);
  lp_buf_free(&out);
  lp_metrics_set_default(NULL);
  lp_metrics_free(m);
}

Test(stage_host, counters_without_a_registry_are_null_and_harmless) {
  lp_metrics_set_default(NULL);
  const lp_host_api *h = lp_stage_host_api();
  lp_counter *c = h->counter("s", "x", "x", NULL);
  cr_assert_null(c);
  h->counter_add(c, 1);
}

Test(stage_host, memory_clock_and_log) {
  const lp_host_api *h = lp_stage_host_api();
  char *p = h->malloc(16);
  cr_assert_not_null(p);
  p = h->realloc(p, 64);
  cr_assert_not_null(p);
  h->free(p);
  int *z = h->calloc(4, sizeof(int));
  cr_assert(z != NULL && z[0] == 0 && z[3] == 0);
  h->free(z);
  cr_assert_gt(h->now_ms(), 1600000000000);
  h->log(LP_LOG_INFO, "mystage", "loaded %d \"things\"\nfine", 3);  /* must not break the line format */
}
