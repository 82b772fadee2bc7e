/*
 * family.c: registration of families and creation/lookup of their series. Everything here runs under the
 * registry's mutex and may allocate; updates (metrics.c) never come here once they hold a series.
 *
 * Names are checked at registration so that a registry can only ever render text that `promtool check
 * metrics` accepts without a lint warning: snake_case names and labels, counters ending in _total and
 * nothing else ending in it, _bucket/_sum/_count and the label le left to histograms, no two families
 * that would print the same sample name (a histogram `x` owns x, x_bucket, x_sum and x_count), and none
 * of the process_* names that the render appends. A refused registration returns NULL and logs why.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "metrics/metrics_internal.h"

static bool name_chars_ok(const char *s) {
  if (s == NULL || s[0] == '\0' || (s[0] >= '0' && s[0] <= '9')) return false;
  for (const char *p = s; *p; p++) {
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) return false;
  }
  return true;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* The sample names a family prints: its own name, and for a histogram the three suffixed ones. */
static size_t sample_names(int type, const char *name, char out[4][256]) {
  snprintf(out[0], 256, "%s", name);
  if (type != LP_METRIC_HISTOGRAM) return 1;
  snprintf(out[1], 256, "%s_bucket", name);
  snprintf(out[2], 256, "%s_sum", name);
  snprintf(out[3], 256, "%s_count", name);
  return 4;
}

/* Why a family of this shape cannot be registered, or NULL when it can (before the collision check). */
static const char *shape_error(int type, const char *name, const char *help, const char *const *label_names,
                               size_t n_labels, const double *buckets, size_t n_buckets) {
  if (type != LP_METRIC_COUNTER && type != LP_METRIC_GAUGE && type != LP_METRIC_HISTOGRAM) return "bad type";
  if (!name_chars_ok(name)) return "name must match [a-z_][a-z0-9_]*";
  if (strlen(name) > 200) return "name longer than 200 bytes";
  if (help == NULL || help[0] == '\0') return "help text is required";
  if (!lp__metrics_utf8_valid(help)) return "help text is not valid UTF-8";
  bool total = ends_with(name, "_total");
  if (type == LP_METRIC_COUNTER && !total) return "a counter's name must end in _total";
  if (type != LP_METRIC_COUNTER && total) return "only a counter's name may end in _total";
  if (type != LP_METRIC_HISTOGRAM &&
      (ends_with(name, "_bucket") || ends_with(name, "_sum") || ends_with(name, "_count"))) {
    return "_bucket, _sum and _count are reserved for histograms";
  }
  if (n_labels > LP_METRICS_MAX_LABELS) return "too many labels";
  if (n_labels > 0 && label_names == NULL) return "label names missing";
  for (size_t i = 0; i < n_labels; i++) {
    const char *l = label_names[i];
    if (!name_chars_ok(l)) return "label name must match [a-z_][a-z0-9_]*";
    if (strncmp(l, "__", 2) == 0) return "label names starting with __ are reserved";
    if (type == LP_METRIC_HISTOGRAM && strcmp(l, "le") == 0) return "label le is reserved for histograms";
    for (size_t j = 0; j < i; j++) {
      if (strcmp(l, label_names[j]) == 0) return "label name given twice";
    }
  }
  if (type != LP_METRIC_HISTOGRAM && n_buckets > 0) return "buckets are for histograms only";
  if (n_buckets > 0 && buckets == NULL) return "buckets missing";
  if (n_buckets > 64) return "more than 64 buckets";
  for (size_t i = 0; i < n_buckets; i++) {
    if (!isfinite(buckets[i])) return "bucket bounds must be finite (+Inf is implied)";
    if (i > 0 && !(buckets[i] > buckets[i - 1])) return "bucket bounds must be strictly ascending";
  }
  return NULL;
}

/* 1 when an existing family f is what the caller asks for again. */
static bool same_shape(const lp_metric_family *f, int type, const char *const *label_names, size_t n_labels,
                       const double *buckets, size_t n_buckets) {
  if (f->type != type || f->n_labels != n_labels || f->n_bounds != n_buckets) return false;
  for (size_t i = 0; i < n_labels; i++) {
    if (strcmp(f->label_names[i], label_names[i]) != 0) return false;
  }
  for (size_t i = 0; i < n_buckets; i++) {
    if (f->bounds[i] != buckets[i]) return false;
  }
  return true;
}

/* The family whose printed names meet those of (type, name), or NULL. *exact is set when it has that name. */
static const char *collision(const lp_metrics *m, int type, const char *name, lp_metric_family **exact) {
  char mine[4][256], theirs[4][256];
  size_t nm = sample_names(type, name, mine);
  *exact = NULL;
  for (size_t i = 0; i < m->n_families; i++) {
    if (strcmp(m->families[i]->name, name) == 0) {
      *exact = m->families[i];
      return NULL;
    }
  }
  for (size_t i = 0; lp__metrics_process_names[i] != NULL; i++) {
    for (size_t a = 0; a < nm; a++) {
      if (strcmp(mine[a], lp__metrics_process_names[i]) == 0) return "name of a process_* figure";
    }
  }
  for (size_t i = 0; i < m->n_families; i++) {
    size_t nt = sample_names(m->families[i]->type, m->families[i]->name, theirs);
    for (size_t a = 0; a < nm; a++) {
      for (size_t b = 0; b < nt; b++) {
        if (strcmp(mine[a], theirs[b]) == 0) return "prints the same sample name as another family";
      }
    }
  }
  return NULL;
}

static lp_metric *series_create(lp_metric_family *f, const char *const *values);

static lp_metric_family *family_create(lp_metrics *m, int type, const char *name, const char *help,
                                       const char *const *label_names, size_t n_labels,
                                       const double *buckets, size_t n_buckets) {
  if (m->n_families == m->cap_families) {
    size_t cap = m->cap_families ? m->cap_families * 2 : 16;
    lp_metric_family **fs = lp_realloc(m->families, cap * sizeof(*fs));
    if (fs == NULL) return NULL;
    m->families = fs;
    m->cap_families = cap;
  }
  lp_metric_family *f = lp_calloc(1, sizeof(*f));
  if (f == NULL) return NULL;
  f->reg = m;
  f->type = type;
  f->name = lp_strdup(name);
  f->help = lp_strdup(help);
  f->n_labels = n_labels;
  f->n_bounds = n_buckets;
  f->n_cells = type == LP_METRIC_HISTOGRAM ? n_buckets + 2 : 1;
  bool ok = f->name != NULL && f->help != NULL;
  for (size_t i = 0; ok && i < n_labels; i++) {
    f->label_names[i] = lp_strdup(label_names[i]);
    ok = f->label_names[i] != NULL;
  }
  if (ok && n_buckets > 0) {
    f->bounds = lp_malloc(n_buckets * sizeof(double));
    ok = f->bounds != NULL;
    if (ok) memcpy(f->bounds, buckets, n_buckets * sizeof(double));
  }
  /* A family without labels has exactly one series: create it now so that it renders (as 0) at once. */
  if (ok && n_labels == 0) ok = series_create(f, NULL) != NULL;
  if (!ok) {
    lp__metrics_family_free(f);
    return NULL;
  }
  m->families[m->n_families++] = f;
  return f;
}

lp_metric_family *lp_metrics_family(lp_metrics *m, int type, const char *name, const char *help,
                                    const char *const *label_names, size_t n_labels,
                                    const double *buckets, size_t n_buckets) {
  if (m == NULL) return NULL;
  const char *why = shape_error(type, name, help, label_names, n_labels, buckets, n_buckets);
  if (why != NULL) {
    lp_log_warn("metrics: family refused", "name=%s reason=\"%s\"", name ? name : "(null)", why);
    return NULL;
  }
  pthread_mutex_lock(&m->mu);
  lp_metric_family *f = NULL;
  why = collision(m, type, name, &f);
  if (f != NULL && !same_shape(f, type, label_names, n_labels, buckets, n_buckets)) {
    why = "registered before with another type, labels or buckets";
    f = NULL;
  } else if (f == NULL && why == NULL) {
    f = family_create(m, type, name, help, label_names, n_labels, buckets, n_buckets);
    if (f == NULL) why = "out of memory";
  }
  pthread_mutex_unlock(&m->mu);
  if (why != NULL) lp_log_warn("metrics: family refused", "name=%s reason=\"%s\"", name, why);
  return f;
}

/* ---- series -------------------------------------------------------------------------------------- */

/* FNV-1a over the values, each followed by a 0xff byte (which UTF-8 never contains). */
static uint64_t values_hash(const char *const *values, size_t n) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; i++) {
    for (const unsigned char *p = (const unsigned char *)values[i]; *p; p++) {
      h = (h ^ *p) * 1099511628211ULL;
    }
    h = (h ^ 0xff) * 1099511628211ULL;
  }
  return h;
}

static lp_metric *table_find(const lp_metric_family *f, uint64_t h, const char *const *values) {
  if (f->table_cap == 0) return NULL;
  for (size_t i = h & (f->table_cap - 1);; i = (i + 1) & (f->table_cap - 1)) {
    lp_metric *s = f->table[i];
    if (s == NULL) return NULL;
    if (s->hash != h) continue;
    size_t k = 0;
    while (k < f->n_labels && strcmp(s->values[k], values[k]) == 0) k++;
    if (k == f->n_labels) return s;
  }
}

static void table_put(lp_metric **table, size_t cap, lp_metric *s) {
  size_t i = s->hash & (cap - 1);
  while (table[i] != NULL) i = (i + 1) & (cap - 1);
  table[i] = s;
}

/* Makes room for one more series in the creation-order list and in the table (kept at most half full). */
static int reserve_series(lp_metric_family *f) {
  if (f->n_series == f->cap_series) {
    size_t cap = f->cap_series ? f->cap_series * 2 : 8;
    lp_metric **ss = lp_realloc(f->series, cap * sizeof(*ss));
    if (ss == NULL) return LP_ENOMEM;
    f->series = ss;
    f->cap_series = cap;
  }
  if ((f->n_series + 1) * 2 > f->table_cap) {
    size_t cap = f->table_cap ? f->table_cap * 2 : 16;
    lp_metric **t = lp_calloc(cap, sizeof(*t));
    if (t == NULL) return LP_ENOMEM;
    for (size_t i = 0; i < f->n_series; i++) table_put(t, cap, f->series[i]);
    lp_free(f->table);
    f->table = t;
    f->table_cap = cap;
  }
  return LP_OK;
}

/* `a="x",b="y"` with the values escaped; "" without labels. Returned string is owned by the caller. */
static char *render_labels(const lp_metric_family *f, const char *const *values) {
  lp_buf b = LP_BUF_INIT;
  int rc = lp_buf_puts(&b, "");
  for (size_t i = 0; rc == LP_OK && i < f->n_labels; i++) {
    rc = lp_buf_printf(&b, "%s%s=\"", i ? "," : "", f->label_names[i]);
    if (rc == LP_OK) rc = lp__metrics_put_escaped(&b, values[i], 1);
    if (rc == LP_OK) rc = lp_buf_puts(&b, "\"");
  }
  if (rc != LP_OK) {
    lp_buf_free(&b);
    return NULL;
  }
  return lp_buf_steal(&b, NULL);
}

/* Creates a series and files it in the list and the table; NULL when out of memory. */
static lp_metric *series_create(lp_metric_family *f, const char *const *values) {
  if (reserve_series(f) != LP_OK) return NULL;
  size_t n_slots = f->type == LP_METRIC_GAUGE ? 0 : LP_METRICS_MAX_THREADS + 1;
  lp_metric *s = lp_calloc(1, sizeof(*s) + n_slots * sizeof(s->slots[0]));
  if (s == NULL) return NULL;
  s->family = f;
  s->hash = values_hash(values, f->n_labels);
  atomic_init(&s->gauge_bits, 0);
  bool ok = true;
  for (size_t i = 0; ok && i < f->n_labels; i++) {
    s->values[i] = lp_strdup(values[i]);
    ok = s->values[i] != NULL;
  }
  if (ok) ok = (s->labels = render_labels(f, values)) != NULL;
  for (size_t t = 0; t < n_slots; t++) atomic_init(&s->slots[t], NULL);
  if (ok && n_slots > 0) {
    lp__cell *shared = lp__metrics_block_new(f->n_cells);
    ok = shared != NULL;
    atomic_init(&s->slots[LP__METRICS_SHARED_SLOT], shared);
  }
  if (!ok) {
    lp__metrics_series_free(s);
    return NULL;
  }
  f->series[f->n_series++] = s;
  table_put(f->table, f->table_cap, s);
  return s;
}

/* The overflow series, created on first need; a series that already has all-"overflow" values is it. */
static lp_metric *overflow_series(lp_metric_family *f) {
  if (f->overflow != NULL) return f->overflow;
  const char *values[LP_METRICS_MAX_LABELS];
  for (size_t i = 0; i < f->n_labels; i++) values[i] = "overflow";
  lp_metric *s = table_find(f, values_hash(values, f->n_labels), values);
  if (s == NULL) s = series_create(f, values);
  f->overflow = s;
  return s;
}

lp_metric *lp_metrics_series(lp_metric_family *f, const char *const *label_values) {
  if (f == NULL) return NULL;
  if (f->n_labels > 0) {
    if (label_values == NULL) return NULL;
    for (size_t i = 0; i < f->n_labels; i++) {
      if (label_values[i] == NULL || !lp__metrics_utf8_valid(label_values[i])) return NULL;
    }
  }
  lp_metrics *m = f->reg;
  pthread_mutex_lock(&m->mu);
  uint64_t h = values_hash(label_values, f->n_labels);
  lp_metric *s = table_find(f, h, label_values);
  if (s == NULL) {
    if (f->n_regular < m->max_series) {
      s = series_create(f, label_values);
      if (s != NULL) f->n_regular++;
    } else {
      s = overflow_series(f);
    }
  }
  pthread_mutex_unlock(&m->mu);
  return s;
}

static lp_metric *single(lp_metrics *m, int type, const char *name, const char *help, const double *buckets,
                         size_t n_buckets) {
  lp_metric_family *f = lp_metrics_family(m, type, name, help, NULL, 0, buckets, n_buckets);
  return f != NULL ? lp_metrics_series(f, NULL) : NULL;
}

lp_metric *lp_metrics_counter(lp_metrics *m, const char *name, const char *help) {
  return single(m, LP_METRIC_COUNTER, name, help, NULL, 0);
}

lp_metric *lp_metrics_gauge(lp_metrics *m, const char *name, const char *help) {
  return single(m, LP_METRIC_GAUGE, name, help, NULL, 0);
}

lp_metric *lp_metrics_histogram(lp_metrics *m, const char *name, const char *help, const double *buckets,
                                size_t n_buckets) {
  return single(m, LP_METRIC_HISTOGRAM, name, help, buckets, n_buckets);
}
