/*
 * qeval.c: prompts and truth of a perf/world market, and the ranking metrics (qeval.h).
 */
#include "qeval.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

/* Calls fn on every JSON object line of path. -1 when the file cannot be read or a line is not JSON. */
static int each_line(const char *path, int (*fn)(q_market *, json_t *), q_market *m, char *err, size_t errlen) {
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    snprintf(err, errlen, "cannot read %s", path);
    return -1;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  int rc = 0;
  while (rc == 0 && (len = getline(&line, &cap, f)) > 0) {
    json_error_t je;
    json_t *j = json_loadb(line, (size_t)len, 0, &je);
    if (j == NULL || !json_is_object(j)) {
      snprintf(err, errlen, "%s: not a JSON object line: %s", path, je.text);
      rc = -1;
    } else if (fn(m, j) != 0) {
      snprintf(err, errlen, "%s: out of memory or a bad record", path);
      rc = -1;
    }
    json_decref(j);
  }
  free(line);
  fclose(f);
  return rc;
}

static int on_prompt(q_market *m, json_t *j) {
  const char *id = json_string_value(json_object_get(j, "id"));
  const char *text = json_string_value(json_object_get(j, "prompt"));
  const char *product = json_string_value(json_object_get(j, "product"));
  json_t *truth = json_object_get(j, "truth");
  if (!id || !text || !json_is_array(truth)) return -1;
  q_prompt *v = realloc(m->prompts, (m->n_prompts + 1) * sizeof(*v));
  if (v == NULL) return -1;
  m->prompts = v;
  q_prompt *p = &v[m->n_prompts];
  p->id = dup_str(id);
  p->text = dup_str(text);
  p->product = dup_str(product ? product : "");
  p->truth = json_incref(truth);
  m->n_prompts++;
  return p->id && p->text && p->product ? 0 : -1;
}

static int on_truth(q_market *m, json_t *j) {
  const char *type = json_string_value(json_object_get(j, "type"));
  if (type == NULL || strcmp(type, "company") != 0) return 0;
  m->n_companies++;
  const char *d = json_string_value(json_object_get(j, "domain"));
  if (d && json_is_true(json_object_get(j, "fabricated"))) return json_object_set_new(m->fabricated, d, json_true());
  return 0;
}

int q_market_load(q_market *m, const char *dir, char *err, size_t errlen) {
  memset(m, 0, sizeof(*m));
  m->fabricated = json_object();
  if (m->fabricated == NULL) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  char path[1024];
  snprintf(path, sizeof path, "%s/prompts.jsonl", dir);
  if (each_line(path, on_prompt, m, err, errlen) != 0) return -1;
  snprintf(path, sizeof path, "%s/truth.jsonl", dir);
  if (each_line(path, on_truth, m, err, errlen) != 0) return -1;
  if (m->n_prompts == 0 || m->n_companies == 0) {
    snprintf(err, errlen, "%s: no prompts or no companies", dir);
    return -1;
  }
  return 0;
}

void q_market_free(q_market *m) {
  for (size_t i = 0; i < m->n_prompts; i++) {
    free(m->prompts[i].id);
    free(m->prompts[i].text);
    free(m->prompts[i].product);
    json_decref(m->prompts[i].truth);
  }
  free(m->prompts);
  json_decref(m->fabricated);
  memset(m, 0, sizeof(*m));
}

int q_is_buyer(const q_prompt *p, const char *domain) {
  size_t i;
  json_t *v;
  json_array_foreach(p->truth, i, v) {
    const char *s = json_string_value(v);
    if (s && strcmp(s, domain) == 0) return 1;
  }
  return 0;
}

static double ideal_dcg(size_t buyers, size_t k) {
  double s = 0;
  for (size_t i = 0; i < buyers && i < k; i++) s += 1.0 / log2((double)i + 2.0);
  return s;
}

void q_metric_add_list(q_metric *m, const q_prompt *p, const char *const *domains, size_t n, size_t k) {
  size_t hit = 0;
  double dcg = 0;
  for (size_t i = 0; i < n && i < k; i++)
    if (q_is_buyer(p, domains[i])) {
      hit++;
      dcg += 1.0 / log2((double)i + 2.0);
    }
  double idcg = ideal_dcg(json_array_size(p->truth), k);
  m->p_sum += (double)hit / (double)k;
  m->ndcg_sum += idcg > 0 ? dcg / idcg : 0;
  m->n++;
}

void q_metric_add_random(q_metric *m, const q_prompt *p, size_t population, size_t k) {
  double share = population ? (double)json_array_size(p->truth) / (double)population : 0;
  double idcg = ideal_dcg(json_array_size(p->truth), k);
  m->p_sum += share;
  m->ndcg_sum += idcg > 0 ? share * ideal_dcg(k, k) / idcg : 0;
  m->n++;
}

void q_metric_add_ceiling(q_metric *m, const q_prompt *p, size_t k) {
  size_t b = json_array_size(p->truth);
  m->p_sum += (double)(b < k ? b : k) / (double)k;
  m->ndcg_sum += b ? 1.0 : 0.0;
  m->n++;
}

double q_metric_p(const q_metric *m) { return m->n ? m->p_sum / (double)m->n : 0; }
double q_metric_ndcg(const q_metric *m) { return m->n ? m->ndcg_sum / (double)m->n : 0; }
