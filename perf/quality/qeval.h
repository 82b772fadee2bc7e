/*
 * qeval.h: the measuring half of perf/quality: a perf/world market's prompts and truth in memory, and the
 * ranking metrics (P@k, NDCG@k with binary relevance) of one ranked list against a prompt's buyers.
 * Plain single-threaded data; nothing here talks to the server.
 */
#ifndef LP_PERF_QEVAL_H
#define LP_PERF_QEVAL_H

#include <jansson.h>
#include <stddef.h>

typedef struct q_prompt {
  char *id, *text, *product;
  json_t *truth;        /* array of buyer domains (a reference held) */
} q_prompt;

typedef struct q_market {
  q_prompt *prompts;
  size_t n_prompts;
  json_t *fabricated;   /* object: domain -> true for every fabricated company */
  size_t n_companies;   /* real and fabricated: the population a random pick draws from */
} q_market;

/* Reads DIR/prompts.jsonl and DIR/truth.jsonl. 0, or -1 with the reason in err. q_market_free in any case. */
int q_market_load(q_market *m, const char *dir, char *err, size_t errlen);
void q_market_free(q_market *m);

/* 1 when domain is one of p's buyers. */
int q_is_buyer(const q_prompt *p, const char *domain);

/* Sums over prompts: add one ranked list (domains[0..n), best first) and read the means. */
typedef struct q_metric {
  double p_sum, ndcg_sum;
  size_t n;
} q_metric;

/* P@k and NDCG@k of domains[0..n) (only the first k count) against p's buyers, added to m. */
void q_metric_add_list(q_metric *m, const q_prompt *p, const char *const *domains, size_t n, size_t k);
/* The expected P@k and NDCG@k of k leads drawn at random from population leads, added to m. */
void q_metric_add_random(q_metric *m, const q_prompt *p, size_t population, size_t k);
/* The best possible: every one of the first min(buyers, k) places a buyer. */
void q_metric_add_ceiling(q_metric *m, const q_prompt *p, size_t k);
double q_metric_p(const q_metric *m);
double q_metric_ndcg(const q_metric *m);

#endif
