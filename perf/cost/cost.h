/*
 * cost.h: what cost_test and cost_report share: the accumulation of the costs that answers carry, the
 * same figures from a /metrics text, and the table against the seed's targets and ours.
 *
 * Threads: plain data of one thread.
 */
#ifndef LP_PERF_COST_H
#define LP_PERF_COST_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

/* The targets (issue 8): the seed's, and ours without and with the LLM. */
#define CT_SEED_MEAN 0.002
#define CT_SEED_P99 0.004
#define CT_OURS_NO_LLM_MEAN 0.00002
#define CT_OURS_LLM_MEAN 0.002
#define CT_OURS_LLM_P99 0.004
#define CT_OURS_LLM_SHARE 0.30

typedef struct ct_acc {
  double *per_lead;            /* usd_per_lead of each delivered lead */
  double *per_query;           /* usd_total of each answer */
  size_t leads, queries, lead_cap, query_cap;
  uint64_t llm_queries;        /* answers with llm_calls > 0 */
  uint64_t errors;             /* failed requests, non-200 answers, answers without "cost" */
} ct_acc;

void ct_acc_init(ct_acc *a);
void ct_acc_free(ct_acc *a);

/* Adds one POST /v1/leads answer (parsed). 0, or -1 when it holds no "leads" array and "cost" object (or
 * memory ran out). */
int ct_acc_add(ct_acc *a, const json_t *answer);

/* {"tool":"cost_test","cost":{usd_per_lead_mean, usd_per_lead_p99, usd_per_query_mean, usd_per_query_p99,
 * llm_hit_rate, leads_delivered, queries, errors, source:"answers"},"server":srv} (srv may be NULL: the
 * server's own /metrics view, lt_server_json). A new reference. */
json_t *ct_acc_json(const ct_acc *a, const json_t *srv);

/* The same "cost" object from a /metrics text alone (source "metrics"): mean = sum / count of
 * leadpoet_lead_cost_usd, P99 = the bucket bound that holds it, queries = 200 answers of /v1/leads,
 * llm_hit_rate from its gauge. A new reference; figures absent from the text are null. */
json_t *ct_metrics_json(const char *metrics);

/* The table: each figure with the seed's target and ours, pass or fail. */
void ct_print(FILE *f, const json_t *result);

#endif
