/*
 * cost.c: cost accounting shared by cost_test and cost_report (cost.h).
 */
#define _GNU_SOURCE
#include "cost.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "lt.h"
#include "qb_proc.h"

void ct_acc_init(ct_acc *a) { memset(a, 0, sizeof *a); }

void ct_acc_free(ct_acc *a) {
  lp_free(a->per_lead);
  lp_free(a->per_query);
  memset(a, 0, sizeof *a);
}

static int push(double **v, size_t *n, size_t *cap, double x) {
  if (*n == *cap) {
    size_t c = *cap ? *cap * 2 : 1024;
    double *nv = lp_realloc(*v, c * sizeof *nv);
    if (!nv) return -1;
    *v = nv;
    *cap = c;
  }
  (*v)[(*n)++] = x;
  return 0;
}

int ct_acc_add(ct_acc *a, const json_t *ans) {
  json_t *leads = json_object_get(ans, "leads"), *cost = json_object_get(ans, "cost");
  if (!json_is_array(leads) || !json_is_object(cost)) return -1;
  double total = json_number_value(json_object_get(cost, "usd_total"));
  double per = json_number_value(json_object_get(cost, "usd_per_lead"));
  json_int_t llm = json_integer_value(json_object_get(cost, "llm_calls"));
  if (push(&a->per_query, &a->queries, &a->query_cap, total) != 0) return -1;
  if (llm > 0) a->llm_queries++;
  for (size_t i = 0; i < json_array_size(leads); i++)
    if (push(&a->per_lead, &a->leads, &a->lead_cap, per) != 0) return -1;
  return 0;
}

static int cmp(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}

/* Mean and the exact quantile q (nearest rank) of v[0..n), sorted in place. */
static void stats(double *v, size_t n, double q, double *mean, double *quant) {
  *mean = *quant = 0;
  if (!n) return;
  qsort(v, n, sizeof *v, cmp);
  double s = 0;
  for (size_t i = 0; i < n; i++) s += v[i];
  *mean = s / (double)n;
  size_t r = (size_t)(q * (double)n + 0.999999);
  *quant = v[(r ? r : 1) - 1];
}

json_t *ct_acc_json(const ct_acc *a, const json_t *srv) {
  double lm, lq, qm, qq;
  stats(a->per_lead, a->leads, 0.99, &lm, &lq);
  stats(a->per_query, a->queries, 0.99, &qm, &qq);
  json_t *c = json_pack("{s:s, s:f, s:f, s:f, s:f, s:f, s:I, s:I, s:I}", "source", "answers", "usd_per_lead_mean", lm,
                        "usd_per_lead_p99", lq, "usd_per_query_mean", qm, "usd_per_query_p99", qq, "llm_hit_rate",
                        a->queries ? (double)a->llm_queries / (double)a->queries : 0.0, "leads_delivered",
                        (json_int_t)a->leads, "queries", (json_int_t)a->queries, "errors", (json_int_t)a->errors);
  json_t *j = json_pack("{s:s, s:o}", "tool", "cost_test", "cost", c);
  if (srv) json_object_set(j, "server", (json_t *)srv);
  return j;
}

static json_t *num_or_null(double v) { return v >= 0 ? json_real(v) : json_null(); }

json_t *ct_metrics_json(const char *m) {
  double sum = qb_metric_sum(m, "leadpoet_lead_cost_usd_sum", NULL);
  double cnt = qb_metric_sum(m, "leadpoet_lead_cost_usd_count", NULL);
  double queries = qb_metric_sum(m, "leadpoet_http_requests_total", "route=\"/v1/leads\",code=\"200\"");
  double llm = qb_metric_sum(m, "leadpoet_llm_hit_rate", NULL);
  json_t *c = json_object();
  json_object_set_new(c, "source", json_string("metrics"));
  json_object_set_new(c, "usd_per_lead_mean", cnt > 0 && sum >= 0 ? json_real(sum / cnt) : json_null());
  json_object_set_new(c, "usd_per_lead_p99", num_or_null(lt_prom_quantile(m, "leadpoet_lead_cost_usd", 0.99)));
  json_object_set_new(c, "usd_per_lead_p50", num_or_null(lt_prom_quantile(m, "leadpoet_lead_cost_usd", 0.5)));
  json_object_set_new(c, "usd_per_query_mean", queries > 0 && sum >= 0 ? json_real(sum / queries) : json_null());
  json_object_set_new(c, "llm_hit_rate", num_or_null(llm));
  json_object_set_new(c, "leads_delivered", num_or_null(cnt));
  json_object_set_new(c, "queries", num_or_null(queries));
  json_object_set_new(c, "cpu_seconds", num_or_null(qb_metric_sum(m, "process_cpu_seconds_total", NULL)));
  return c;
}

static double fig(const json_t *o, const char *k, int *have) {
  json_t *x = json_object_get(o, k);
  *have = json_is_number(x);
  return *have ? json_number_value(x) : 0;
}

static void row(FILE *f, const char *what, const json_t *c, const char *key, double seed, double ours,
                const char *ours_label) {
  int have;
  double v = fig(c, key, &have);
  if (!have) {
    fprintf(f, "  %-26s %14s   seed <= %-9g %-4s   %s <= %-9g %s\n", what, "n/a", seed, "", ours_label, ours, "");
    return;
  }
  fprintf(f, "  %-26s %14.10f   seed <= %-9g %-4s   %s <= %-9g %s\n", what, v, seed, v <= seed ? "pass" : "FAIL",
          ours_label, ours, v <= ours ? "pass" : "FAIL");
}

void ct_print(FILE *f, const json_t *r) {
  const json_t *c = json_object_get(r, "cost");
  int h;
  double llm = fig(c, "llm_hit_rate", &h);
  int with_llm = h && llm > 0;
  fprintf(f, "cost (%s): %.0f leads delivered over %.0f queries, %.0f errors; LLM on %.1f %% of queries\n",
          json_string_value(json_object_get(c, "source")), fig(c, "leads_delivered", &h), fig(c, "queries", &h),
          fig(c, "errors", &h), 100.0 * llm);
  const char *lab = with_llm ? "ours (LLM)" : "ours (no LLM)";
  row(f, "USD per lead, mean", c, "usd_per_lead_mean", CT_SEED_MEAN, with_llm ? CT_OURS_LLM_MEAN : CT_OURS_NO_LLM_MEAN,
      lab);
  row(f, "USD per lead, P99", c, "usd_per_lead_p99", CT_SEED_P99, CT_OURS_LLM_P99, "ours      ");
  fprintf(f, "  %-26s %14.10f\n", "USD per query, mean", fig(c, "usd_per_query_mean", &h));
  if (json_object_get(c, "usd_per_query_p99")) fprintf(f, "  %-26s %14.10f\n", "USD per query, P99", fig(c, "usd_per_query_p99", &h));
  fprintf(f, "  %-26s %14.3f   %-24s   ours <= %.2f %s\n", "LLM share of queries", llm, "", CT_OURS_LLM_SHARE,
          llm <= CT_OURS_LLM_SHARE ? "pass" : "FAIL");
  const json_t *s = json_object_get(r, "server");
  if (s) {
    fprintf(f, "  server /metrics: %.0f leads delivered, mean %.10f, P99 <= %.10f USD per lead, llm_hit_rate %.3f, "
            "%.2f CPU s\n", fig(s, "leads_delivered", &h), fig(s, "usd_per_lead_mean", &h),
            fig(s, "usd_per_lead_p99", &h), fig(s, "llm_hit_rate", &h), fig(s, "cpu_seconds", &h));
  }
}
