/*
 * render.c: the Prometheus text exposition format 0.0.4.
 *   # HELP name text            (text escapes \\ and \n)
 *   # TYPE name counter|gauge|histogram
 *   name{a="x",b="y"} value     (label values escape \\, \" and \n)
 * Families in registration order, series in creation order, a histogram as cumulative _bucket lines
 * ending with le="+Inf", then _sum and _count; the process_* figures last.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "metrics/metrics_internal.h"

#define LP__DOUBLE_MAX 40

/* v as Prometheus spells it into tmp (at most 24 characters and the NUL). */
static void format_double(char tmp[LP__DOUBLE_MAX], double v) {
  if (isnan(v)) {
    snprintf(tmp, LP__DOUBLE_MAX, "NaN");
  } else if (isinf(v)) {
    snprintf(tmp, LP__DOUBLE_MAX, "%s", v > 0 ? "+Inf" : "-Inf");
  } else {
    /* The shortest of %.15g..%.17g that reads back as the same double (17 digits always do); integral
     * values come out without a decimal point ("3", "1e+20"), which Prometheus parses as floats. */
    for (int prec = 15; prec <= 17; prec++) {
      snprintf(tmp, LP__DOUBLE_MAX, "%.*g", prec, v);
      if (strtod(tmp, NULL) == v) break;
    }
  }
}

int lp__metrics_put_double(lp_buf *out, double v) {
  char tmp[LP__DOUBLE_MAX];
  format_double(tmp, v);
  return lp_buf_puts(out, tmp);
}

int lp__metrics_put_escaped(lp_buf *out, const char *s, int quote) {
  size_t start = 0, i = 0;
  for (; s[i]; i++) {
    const char *esc = NULL;
    if (s[i] == '\\') {
      esc = "\\\\";
    } else if (s[i] == '\n') {
      esc = "\\n";
    } else if (s[i] == '"' && quote) {
      esc = "\\\"";
    }
    if (esc == NULL) continue;
    if (lp_buf_append(out, s + start, i - start) != LP_OK || lp_buf_puts(out, esc) != LP_OK) return LP_ENOMEM;
    start = i + 1;
  }
  return lp_buf_append(out, s + start, i - start);
}

int lp__metrics_utf8_valid(const char *str) {
  const unsigned char *s = (const unsigned char *)str;
  while (*s) {
    unsigned c = *s;
    size_t n;
    unsigned cp, min;
    if (c < 0x80) {
      s++;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      n = 1, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return 0;
    }
    for (size_t k = 1; k <= n; k++) {
      if ((s[k] & 0xc0) != 0x80) return 0; /* also stops at the terminating NUL */
      cp = (cp << 6) | (s[k] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    s += n + 1;
  }
  return 1;
}

static const char *type_name(int type) {
  switch (type) {
  case LP_METRIC_COUNTER: return "counter";
  case LP_METRIC_GAUGE: return "gauge";
  default: return "histogram";
  }
}

/* name{labels} or name{labels,le="bound"} (bound NULL: no le), then a space. */
static int put_series_name(lp_buf *out, const char *name, const char *suffix, const lp_metric *s,
                           const char *le) {
  int rc = lp_buf_printf(out, "%s%s", name, suffix);
  if (rc != LP_OK) return rc;
  if (s->labels[0] == '\0' && le == NULL) return lp_buf_puts(out, " ");
  rc = lp_buf_printf(out, "{%s%s", s->labels, le != NULL && s->labels[0] ? "," : "");
  if (rc == LP_OK && le != NULL) rc = lp_buf_printf(out, "le=\"%s\"", le);
  if (rc == LP_OK) rc = lp_buf_puts(out, "} ");
  return rc;
}

static int put_u64_line(lp_buf *out, uint64_t v) { return lp_buf_printf(out, "%" PRIu64 "\n", v); }

static int render_histogram(lp_buf *out, const lp_metric_family *f, const lp_metric *s) {
  /* One read of every bucket: the cumulative counts, +Inf and _count agree within a scrape. */
  uint64_t cum = 0;
  int rc = LP_OK;
  for (size_t i = 0; rc == LP_OK && i <= f->n_bounds; i++) {
    cum += lp__metric_sum_cell(s, i);
    char le[LP__DOUBLE_MAX];
    format_double(le, i < f->n_bounds ? f->bounds[i] : INFINITY);
    rc = put_series_name(out, f->name, "_bucket", s, le);
    if (rc == LP_OK) rc = put_u64_line(out, cum);
  }
  if (rc == LP_OK) rc = put_series_name(out, f->name, "_sum", s, NULL);
  if (rc == LP_OK) rc = lp__metrics_put_double(out, lp__metric_sum_double(s, f->n_bounds + 1));
  if (rc == LP_OK) rc = lp_buf_puts(out, "\n");
  if (rc == LP_OK) rc = put_series_name(out, f->name, "_count", s, NULL);
  if (rc == LP_OK) rc = put_u64_line(out, cum);
  return rc;
}

static int render_family(lp_buf *out, const lp_metric_family *f) {
  /* A labelled family with no series yet prints nothing, as the Prometheus client libraries do. */
  if (f->n_series == 0) return LP_OK;
  int rc = lp_buf_printf(out, "# HELP %s ", f->name);
  if (rc == LP_OK) rc = lp__metrics_put_escaped(out, f->help, 0);
  if (rc == LP_OK) rc = lp_buf_printf(out, "\n# TYPE %s %s\n", f->name, type_name(f->type));
  for (size_t i = 0; rc == LP_OK && i < f->n_series; i++) {
    const lp_metric *s = f->series[i];
    switch (f->type) {
    case LP_METRIC_COUNTER:
      rc = put_series_name(out, f->name, "", s, NULL);
      if (rc == LP_OK) rc = put_u64_line(out, lp_counter_value(s));
      break;
    case LP_METRIC_GAUGE:
      rc = put_series_name(out, f->name, "", s, NULL);
      if (rc == LP_OK) rc = lp__metrics_put_double(out, lp_gauge_value(s));
      if (rc == LP_OK) rc = lp_buf_puts(out, "\n");
      break;
    default:
      rc = render_histogram(out, f, s);
    }
  }
  return rc;
}

/* Runs the collect callbacks without the registry lock (they set gauges and may create series), on a
 * copy of the list so that one registering another callback meanwhile is harmless. */
static int run_collectors(lp_metrics *m) {
  pthread_mutex_lock(&m->mu);
  size_t n = m->n_collectors;
  struct lp__collector *copy = NULL;
  if (n > 0) {
    copy = lp_malloc(n * sizeof(*copy));
    if (copy != NULL) memcpy(copy, m->collectors, n * sizeof(*copy));
  }
  pthread_mutex_unlock(&m->mu);
  if (n > 0 && copy == NULL) return LP_ENOMEM;
  for (size_t i = 0; i < n; i++) copy[i].fn(m, copy[i].ud);
  lp_free(copy);
  return LP_OK;
}

int lp_metrics_render(lp_metrics *m, lp_buf *out) {
  if (m == NULL || out == NULL) return LP_EINVAL;
  size_t start = out->len;
  int rc = run_collectors(m);
  if (rc == LP_OK) {
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; rc == LP_OK && i < m->n_families; i++) rc = render_family(out, m->families[i]);
    pthread_mutex_unlock(&m->mu);
  }
  if (rc == LP_OK) rc = lp__metrics_render_process(out);
  if (rc != LP_OK && out->data != NULL) {
    out->len = start;
    out->data[start] = '\0';
  }
  return rc;
}
