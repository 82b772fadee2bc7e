/*
 * dataset.c: training logs -> labelled rows split by time (dataset.h).
 */
#include "train/dataset.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "stages/ingest/ingest.h"

/* Grows *v (of *cap elements of size sz) to hold one more than n. */
static int grow(void **v, size_t *cap, size_t n, size_t sz) {
  if (n < *cap) return LP_OK;
  size_t nc = *cap ? *cap * 2 : 64;
  void *p = lp_realloc(*v, nc * sz);
  if (p == NULL) return LP_ENOMEM;
  *v = p;
  *cap = nc;
  return LP_OK;
}

static int event_of(const char *name, uint32_t *out) {
  for (uint32_t e = 0; e < LP_EVENT__COUNT; e++)
    if (strcmp(lp_outcome_event_name(e), name) == 0) {
      *out = e;
      return 1;
    }
  return 0;
}

static void free_query(lp_train_query *q) {
  for (uint32_t i = 0; i < q->n_rows; i++) lp_free(q->rows[i].domain);
  lp_free(q->rows);
  lp_free(q->query_id);
}

/* One query line into d->q. Returns LP_OK, LP_EINVAL with why, LP_ENOMEM, or 1 when skipped. */
static int add_query(lp_dataset *d, json_t *j, const char **why) {
  const char *ver = json_string_value(json_object_get(j, "version"));
  const char *qid = json_string_value(json_object_get(j, "query_id"));
  json_t *ts = json_object_get(j, "ts"), *leads = json_object_get(j, "leads");
  if (qid == NULL || !json_is_integer(ts) || !json_is_array(leads) || ver == NULL) {
    *why = "a query line needs query_id, ts, version and leads";
    return LP_EINVAL;
  }
  if (strcmp(ver, LP_FEATURES_VERSION) != 0) return 1;
  if (grow((void **)&d->q, &d->cap_q, d->n_q, sizeof(*d->q)) != LP_OK) return LP_ENOMEM;
  lp_train_query *q = &d->q[d->n_q];
  memset(q, 0, sizeof(*q));
  q->ts_ms = json_integer_value(ts);
  q->query_id = lp_strdup(qid);
  q->rows = lp_calloc(json_array_size(leads) ? json_array_size(leads) : 1, sizeof(lp_train_row));
  if (q->query_id == NULL || q->rows == NULL) {
    free_query(q);
    return LP_ENOMEM;
  }
  d->n_q++;
  size_t i;
  json_t *l;
  json_array_foreach(leads, i, l) {
    const char *dom = json_string_value(json_object_get(l, "domain"));
    json_t *f = json_object_get(l, "f");
    if (dom == NULL || !json_is_array(f) || json_array_size(f) != LP_FEATURES_N) {
      *why = "a lead needs domain and f (the feature row of this version)";
      return LP_EINVAL;
    }
    lp_train_row *r = &q->rows[q->n_rows];
    r->domain = lp_strdup(dom);
    if (r->domain == NULL) return LP_ENOMEM;
    q->n_rows++;
    r->rank = (uint32_t)json_integer_value(json_object_get(l, "rank"));
    r->v0 = json_number_value(json_object_get(l, "v0"));
    r->score = json_number_value(json_object_get(l, "score"));
    for (uint32_t k = 0; k < LP_FEATURES_N; k++) {
      json_t *v = json_array_get(f, k);
      r->f[k] = json_is_number(v) ? (float)json_number_value(v) : NAN;
    }
  }
  return LP_OK;
}

static int add_outcome(lp_dataset *d, json_t *j, const char **why) {
  const char *dom = json_string_value(json_object_get(j, "domain"));
  const char *ev = json_string_value(json_object_get(j, "event"));
  json_t *ts = json_object_get(j, "ts");
  uint32_t e;
  if (dom == NULL || ev == NULL || !json_is_integer(ts) || !event_of(ev, &e)) {
    *why = "an outcome line needs domain, ts and a known event";
    return LP_EINVAL;
  }
  if (grow((void **)&d->o, &d->cap_o, d->n_o, sizeof(*d->o)) != LP_OK) return LP_ENOMEM;
  lp_train_outcome *o = &d->o[d->n_o];
  const char *qid = json_string_value(json_object_get(j, "query_id"));
  o->query_id = NULL;
  if ((o->domain = lp_strdup(dom)) == NULL) return LP_ENOMEM;
  if (qid != NULL && (o->query_id = lp_strdup(qid)) == NULL) {
    lp_free(o->domain);
    return LP_ENOMEM;
  }
  o->ts_ms = json_integer_value(ts);
  o->event = e;
  d->n_o++;
  return LP_OK;
}

static int add_judgment(lp_dataset *d, json_t *j, const char **why) {
  const char *qid = json_string_value(json_object_get(j, "query_id"));
  const char *dom = json_string_value(json_object_get(j, "domain"));
  json_t *s = json_object_get(j, "score");
  if (qid == NULL || dom == NULL || !json_is_number(s)) {
    *why = "a judgment line needs query_id, domain and score";
    return LP_EINVAL;
  }
  if (grow((void **)&d->j, &d->cap_j, d->n_j, sizeof(*d->j)) != LP_OK) return LP_ENOMEM;
  struct lp_train_judgment *x = &d->j[d->n_j];
  x->query_id = lp_strdup(qid);
  x->domain = lp_strdup(dom);
  x->score = json_number_value(s);
  if (x->query_id == NULL || x->domain == NULL) {
    lp_free(x->query_id);
    lp_free(x->domain);
    return LP_ENOMEM;
  }
  d->n_j++;
  return LP_OK;
}

int lp_dataset_read(lp_dataset *d, const char *path, char *errstr, size_t errstr_size) {
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
    return errno == ENOENT ? LP_ENOENT : LP_EIO;
  }
  char *line = NULL;
  size_t cap = 0, lineno = 0;
  ssize_t n;
  int rc = LP_OK;
  while (rc == LP_OK && (n = getline(&line, &cap, f)) >= 0) {
    lineno++;
    if (n == 0 || line[0] == '\n') continue;
    d->lines++;
    json_error_t je;
    json_t *j = json_loadb(line, (size_t)n, 0, &je);
    const char *why = NULL;
    const char *type = j ? json_string_value(json_object_get(j, "type")) : NULL;
    if (j == NULL) why = je.text;
    else if (type == NULL) why = "no \"type\"";
    else if (strcmp(type, "query") == 0) rc = add_query(d, j, &why);
    else if (strcmp(type, "outcome") == 0) rc = add_outcome(d, j, &why);
    else if (strcmp(type, "judgment") == 0) rc = add_judgment(d, j, &why);
    else rc = 1;
    if (rc == 1) {
      d->skipped++;
      rc = LP_OK;
    }
    if (why != NULL && rc == LP_OK) rc = LP_EINVAL;
    if (rc == LP_EINVAL) snprintf(errstr, errstr_size, "%s:%zu: %s", path, lineno, why ? why : "bad line");
    if (rc == LP_ENOMEM) snprintf(errstr, errstr_size, "%s:%zu: out of memory", path, lineno);
    json_decref(j);
  }
  if (rc == LP_OK && ferror(f)) {
    snprintf(errstr, errstr_size, "%s: read error", path);
    rc = LP_EIO;
  }
  free(line);  /* getline's, from the C library */
  fclose(f);
  return rc;
}

static int cmp_query(const void *a, const void *b) {
  const lp_train_query *x = a, *y = b;
  if (x->ts_ms != y->ts_ms) return x->ts_ms < y->ts_ms ? -1 : 1;
  return strcmp(x->query_id, y->query_id);
}

static int cmp_outcome(const void *a, const void *b) {
  const lp_train_outcome *x = a, *y = b;
  int c = strcmp(x->domain, y->domain);
  if (c) return c;
  return x->ts_ms < y->ts_ms ? -1 : x->ts_ms > y->ts_ms;
}

static int cmp_judgment(const void *a, const void *b) {
  const struct lp_train_judgment *x = a, *y = b;
  int c = strcmp(x->query_id, y->query_id);
  return c ? c : strcmp(x->domain, y->domain);
}

/* The outcome label of a row of query qid: the best event on the domain in (from, until] that names qid
 * or no query. */
static float outcome_label(const lp_dataset *d, const char *qid, const char *domain, int64_t from, int64_t until) {
  size_t lo = 0, hi = d->n_o;
  while (lo < hi) {  /* the first outcome of the domain */
    size_t mid = (lo + hi) / 2;
    if (strcmp(d->o[mid].domain, domain) < 0) lo = mid + 1;
    else hi = mid;
  }
  float best = 0;
  for (size_t i = lo; i < d->n_o && strcmp(d->o[i].domain, domain) == 0 && d->o[i].ts_ms <= until; i++) {
    if (d->o[i].ts_ms <= from || (d->o[i].query_id != NULL && strcmp(d->o[i].query_id, qid) != 0)) continue;
    if (d->o[i].event == LP_EVENT_PURCHASED) best = 2;
    else if (d->o[i].event == LP_EVENT_MEETING && best < 1) best = 1;
  }
  return best;
}

static const struct lp_train_judgment *find_judgment(const lp_dataset *d, const char *qid, const char *domain) {
  struct lp_train_judgment key = { (char *)qid, (char *)domain, 0 };
  return d->n_j ? bsearch(&key, d->j, d->n_j, sizeof(*d->j), cmp_judgment) : NULL;
}

int lp_dataset_label(lp_dataset *d, lp_label_source src, int64_t horizon_ms, double valid_frac, char *errstr,
                     size_t errstr_size) {
  if (d->n_q < 2 || !(valid_frac > 0 && valid_frac < 1)) {
    snprintf(errstr, errstr_size, "%zu queries in the log: at least 2 are needed, and a validation share in (0, 1)",
             d->n_q);
    return LP_EINVAL;
  }
  d->labels = src;
  qsort(d->q, d->n_q, sizeof(*d->q), cmp_query);
  if (d->n_o > 1) qsort(d->o, d->n_o, sizeof(*d->o), cmp_outcome);
  if (d->n_j > 1) qsort(d->j, d->n_j, sizeof(*d->j), cmp_judgment);
  size_t nv = (size_t)ceil((double)d->n_q * valid_frac);
  if (nv < 1) nv = 1;
  if (nv >= d->n_q) nv = d->n_q - 1;
  d->n_valid_first = d->n_q - nv;
  d->cut_ms = d->q[d->n_valid_first].ts_ms;
  for (size_t i = 0; i < d->n_q; i++) {
    lp_train_query *q = &d->q[i];
    int64_t until = q->ts_ms + horizon_ms;
    if (i < d->n_valid_first && until >= d->cut_ms) until = d->cut_ms - 1;  /* no look past the cut */
    for (uint32_t r = 0; r < q->n_rows; r++) {
      lp_train_row *row = &q->rows[r];
      if (src == LP_LABELS_LLM) {
        const struct lp_train_judgment *j = find_judgment(d, q->query_id, row->domain);
        row->has_judgment = j != NULL;
        row->judgment = j ? j->score : 0;
        row->label = j && j->score >= 0.5 ? 1.0f : 0.0f;
      } else {
        row->label = outcome_label(d, q->query_id, row->domain, q->ts_ms, until);
      }
    }
  }
  return LP_OK;
}

void lp_dataset_free(lp_dataset *d) {
  for (size_t i = 0; i < d->n_q; i++) free_query(&d->q[i]);
  for (size_t i = 0; i < d->n_o; i++) {
    lp_free(d->o[i].domain);
    lp_free(d->o[i].query_id);
  }
  for (size_t i = 0; i < d->n_j; i++) {
    lp_free(d->j[i].query_id);
    lp_free(d->j[i].domain);
  }
  lp_free(d->q);
  lp_free(d->o);
  lp_free(d->j);
  memset(d, 0, sizeof(*d));
}
