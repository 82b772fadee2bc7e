/*
 * gbdt_lgb.c: LightGBM's text model format (Booster.save_model, LGBM_BoosterSaveModel): a header of
 * key=value lines (the first line "tree"; num_class, num_tree_per_iteration, max_feature_idx, objective,
 * feature_names, tree_sizes, an "average_output" line for random forests), then one block per tree
 * ("Tree=i", then num_leaves, num_cat, split_feature, threshold, decision_type, left_child, right_child,
 * leaf_value, ...; shrinkage is already folded into leaf_value), then "end of trees". In a tree, inner
 * nodes are 0..num_leaves-2 and a negative child c is the leaf ~c. decision_type: bit 0 categorical,
 * bit 1 default left, bits 2-3 the missing type (0 None, 1 Zero, 2 NaN), as in LightGBM's tree.h.
 * Categorical splits and linear trees are refused by name. The data need not be NUL-terminated.
 */
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "model/gbdt_int.h"

#define ERR(...) lerr(errstr, errstr_size, __VA_ARGS__)

__attribute__((format(printf, 3, 4))) static int lerr(char *errstr, size_t errstr_size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(errstr, errstr_size, fmt, ap);
  va_end(ap);
  return LP_EINVAL;
}

typedef struct reader {
  const char *p, *end;
} reader;

/* The next line without its end (\n or \r\n); 0 at the end of the data. */
static int next_line(reader *rd, lp_str *line) {
  if (rd->p >= rd->end) return 0;
  const char *s = rd->p, *nl = memchr(s, '\n', (size_t)(rd->end - s));
  const char *e = nl ? nl : rd->end;
  rd->p = nl ? nl + 1 : rd->end;
  if (e > s && e[-1] == '\r') e--;
  *line = (lp_str){ s, (size_t)(e - s) };
  return 1;
}

static int starts(lp_str s, const char *prefix) {
  const size_t n = strlen(prefix);
  return s.len >= n && memcmp(s.ptr, prefix, n) == 0;
}

/* Splits "key=value"; 0 when the line has no '='. */
static int key_value(lp_str line, lp_str *key, lp_str *val) {
  const char *eq = memchr(line.ptr, '=', line.len);
  if (!eq) return 0;
  *key = (lp_str){ line.ptr, (size_t)(eq - line.ptr) };
  *val = (lp_str){ eq + 1, line.len - (size_t)(eq + 1 - line.ptr) };
  return 1;
}

static int key_is(lp_str key, const char *name) {
  return key.len == strlen(name) && memcmp(key.ptr, name, key.len) == 0;
}

/* Walks the space-separated tokens of a value: copies the next one into tok (NUL-terminated). */
static int next_token(lp_str *v, char *tok, size_t cap) {
  while (v->len && *v->ptr == ' ') v->ptr++, v->len--;
  if (!v->len) return 0;
  size_t n = 0;
  while (n < v->len && v->ptr[n] != ' ') n++;
  if (n >= cap) n = cap - 1, tok[0] = '\0';  /* too long: the caller's strict parse fails */
  else memcpy(tok, v->ptr, n), tok[n] = '\0';
  while (n < v->len && v->ptr[n] != ' ') n++;
  v->ptr += n;
  v->len -= n;
  return 1;
}

/* Parses exactly count numbers of a field into out (doubles; integers are checked to be whole). */
static int numbers(lp_str v, size_t count, int integer, double *out, const char *field, size_t tree,
                   char *errstr, size_t errstr_size) {
  char tok[64];
  size_t i = 0;
  while (next_token(&v, tok, sizeof tok)) {
    if (i == count) return ERR("lightgbm tree %zu: %s has more than %zu values", tree, field, count);
    char *end;
    if (integer) {
      long long x = strtoll(tok, &end, 10);
      out[i] = (double)x;
    } else {
      out[i] = strtod(tok, &end);
    }
    if (!tok[0] || *end || isnan(out[i]))
      return ERR("lightgbm tree %zu: %s[%zu] = \"%s\" is not a number", tree, field, i, tok);
    i++;
  }
  if (i != count) return ERR("lightgbm tree %zu: %s has %zu values, %zu expected", tree, field, i, count);
  return LP_OK;
}

static int header_uint(lp_str v, const char *key, uint32_t max, uint32_t *out, char *errstr, size_t errstr_size) {
  char tok[32], *end;
  lp_str c = v;
  if (!next_token(&c, tok, sizeof tok) || c.len) return ERR("lightgbm: %s=%.*s is not a number", key, (int)v.len, v.ptr);
  long long x = strtoll(tok, &end, 10);
  if (*end || x < 0 || (unsigned long long)x > max)
    return ERR("lightgbm: %s=%s is out of range 0..%u", key, tok, max);
  *out = (uint32_t)x;
  return LP_OK;
}

/* The objective's link from its ToString(): "binary sigmoid:1", "multiclass num_class:3", ... */
static int set_link(lp_gbdt *m, lp_str obj, uint32_t num_class, char *errstr, size_t errstr_size) {
  char name[64], tok[64];
  lp_str rest = obj;
  if (!next_token(&rest, name, sizeof name)) return ERR("lightgbm: objective= is empty");
  int has_sqrt = 0;
  while (next_token(&rest, tok, sizeof tok)) {
    if (!strcmp(tok, "sqrt")) has_sqrt = 1;
    if (!strncmp(tok, "sigmoid:", 8)) {
      char *end;
      m->link_scale = strtod(tok + 8, &end);
      if (*end || !(m->link_scale > 0)) return ERR("lightgbm: objective %s: bad %s", name, tok);
    }
  }
  static const char *const identity[] = { "regression", "regression_l1", "huber", "fair", "quantile", "mape",
                                          "lambdarank", "rank_xendcg", NULL };
  int known = 0;
  for (int i = 0; identity[i]; i++) known |= !strcmp(name, identity[i]);
  if (known && has_sqrt) m->link = LP__LINK_SIGNED_SQUARE;
  else if (known) m->link = LP__LINK_IDENTITY;
  else if (!strcmp(name, "binary") || !strcmp(name, "multiclassova") || !strcmp(name, "cross_entropy"))
    m->link = LP__LINK_SIGMOID, known = 1;
  else if (!strcmp(name, "multiclass")) m->link = LP__LINK_SOFTMAX, known = 1;
  else if (!strcmp(name, "poisson") || !strcmp(name, "gamma") || !strcmp(name, "tweedie"))
    m->link = LP__LINK_EXP, known = 1;
  else if (!strcmp(name, "cross_entropy_lambda")) m->link = LP__LINK_LOG1P_EXP, known = 1;
  if (!known) return ERR("lightgbm: objective \"%s\" is not supported", name);
  if ((m->link == LP__LINK_SOFTMAX || !strcmp(name, "multiclassova")) != (num_class > 1))
    return ERR("lightgbm: objective %s with num_class %u", name, num_class);
  return lp__gbdt_set_objective(m, obj.ptr, obj.len);
}

static int set_names(lp_gbdt *m, lp_str v, char *errstr, size_t errstr_size) {
  m->feature_names = lp_calloc(m->num_features, sizeof *m->feature_names);
  if (!m->feature_names) return LP_ENOMEM;
  uint32_t i = 0;
  while (v.len) {
    while (v.len && *v.ptr == ' ') v.ptr++, v.len--;
    size_t n = 0;
    while (n < v.len && v.ptr[n] != ' ') n++;
    if (!n) break;
    if (i == m->num_features) return ERR("lightgbm: feature_names has more than %u names", m->num_features);
    if (!(m->feature_names[i++] = lp_strndup(v.ptr, n))) return LP_ENOMEM;
    v.ptr += n, v.len -= n;
  }
  if (i != m->num_features) return ERR("lightgbm: feature_names has %u names, max_feature_idx says %u", i, m->num_features);
  return LP_OK;
}


/* The fields of one tree block; a field that was not there has a NULL ptr. */
typedef struct tree_fields {
  lp_str num_leaves, num_cat, split_feature, threshold, decision_type, left_child, right_child, leaf_value,
      is_linear;
} tree_fields;

static void tree_field(tree_fields *f, lp_str k, lp_str v) {
  static const struct {
    const char *name;
    size_t off;
  } map[] = {
    { "num_leaves", offsetof(tree_fields, num_leaves) },       { "num_cat", offsetof(tree_fields, num_cat) },
    { "split_feature", offsetof(tree_fields, split_feature) }, { "threshold", offsetof(tree_fields, threshold) },
    { "decision_type", offsetof(tree_fields, decision_type) }, { "left_child", offsetof(tree_fields, left_child) },
    { "right_child", offsetof(tree_fields, right_child) },     { "leaf_value", offsetof(tree_fields, leaf_value) },
    { "is_linear", offsetof(tree_fields, is_linear) },
  };
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (key_is(k, map[i].name)) *(lp_str *)(void *)((char *)f + map[i].off) = v;
}

/* A child as the file writes it (>= 0 inner node, < 0 the leaf ~c) to its source-node index (leaves
 * after the L-1 inner nodes); -1 when out of range. */
static int64_t child_index(double c, uint32_t leaves) {
  if (c >= 0) return c < leaves - 1 ? (int64_t)c : -1;
  const double leaf = -c - 1;
  return leaf < leaves ? (int64_t)(leaves - 1) + (int64_t)leaf : -1;
}

/* One inner node from its fields: LightGBM's NumericalDecision folded into thr and the missing bits. */
static int inner_node(lp__gbdt_src_node *s, size_t i, const double *feat, const double *thr, const double *dt,
                      const double *lc, const double *rc, uint32_t L, size_t t, char *errstr, size_t errstr_size) {
  const int d = (int)dt[i];
  if (dt[i] < 0 || dt[i] > 15) return ERR("lightgbm tree %zu: decision_type[%zu] = %g is not 0..15", t, i, dt[i]);
  if (d & 1) return ERR("lightgbm tree %zu: node %zu is a categorical split: not supported", t, i);
  const int missing = (d >> 2) & 3, default_left = (d & 2) != 0;
  if (missing == 3) return ERR("lightgbm tree %zu: decision_type[%zu] = %d has an unknown missing type", t, i, d);
  s->left = child_index(lc[i], L);
  s->right = child_index(rc[i], L);
  if (s->left < 0 || s->right < 0)
    return ERR("lightgbm tree %zu: node %zu: %s_child %g is out of range (num_leaves %u)", t, i,
               s->left < 0 ? "left" : "right", s->left < 0 ? lc[i] : rc[i], L);
  s->feature = (int64_t)feat[i];
  s->thr = lp__gbdt_thr_at_most(thr[i]);
  s->nan_right = missing == 0 ? !(0.0 <= thr[i]) : !default_left;  /* None: NaN counts as 0 */
  s->zero_missing = missing == 1;
  return LP_OK;
}

static int build_tree(lp_gbdt *m, const tree_fields *f, size_t t, char *errstr, size_t errstr_size) {
  double x;
  if (!f->num_leaves.ptr) return ERR("lightgbm tree %zu: num_leaves is missing", t);
  int rc = numbers(f->num_leaves, 1, 1, &x, "num_leaves", t, errstr, errstr_size);
  if (rc != LP_OK) return rc;
  if (!(x >= 1 && x <= LP_GBDT_MAX_NODES / 2)) return ERR("lightgbm tree %zu: num_leaves %g is out of range", t, x);
  const uint32_t L = (uint32_t)x;
  if (!f->num_cat.ptr) return ERR("lightgbm tree %zu: num_cat is missing", t);
  if ((rc = numbers(f->num_cat, 1, 1, &x, "num_cat", t, errstr, errstr_size)) != LP_OK) return rc;
  if (x != 0) return ERR("lightgbm tree %zu: categorical splits (num_cat %g) are not supported", t, x);
  if (f->is_linear.ptr) {
    if ((rc = numbers(f->is_linear, 1, 1, &x, "is_linear", t, errstr, errstr_size)) != LP_OK) return rc;
    if (x != 0) return ERR("lightgbm tree %zu: linear trees (is_linear=1) are not supported", t);
  }
  const char *need[] = { "leaf_value", "split_feature", "threshold", "left_child", "right_child" };
  const lp_str *have[] = { &f->leaf_value, &f->split_feature, &f->threshold, &f->left_child, &f->right_child };
  for (int k = 0; k < (L > 1 ? 5 : 1); k++)
    if (!have[k]->ptr) return ERR("lightgbm tree %zu: %s is missing", t, need[k]);
  const size_t ni = L - 1, n_src = (size_t)L + ni;
  double *v = lp_calloc((size_t)L + 5 * ni, sizeof *v);
  lp__gbdt_src_node *src = lp_calloc(n_src, sizeof *src);
  rc = LP_ENOMEM;
  if (!v || !src) goto out;
  double *leaf = v, *feat = v + L, *thr = feat + ni, *dt = thr + ni, *lc = dt + ni, *rcs = lc + ni;
  if ((rc = numbers(f->leaf_value, L, 0, leaf, "leaf_value", t, errstr, errstr_size)) != LP_OK) goto out;
  if (ni && ((rc = numbers(f->split_feature, ni, 1, feat, "split_feature", t, errstr, errstr_size)) ||
             (rc = numbers(f->threshold, ni, 0, thr, "threshold", t, errstr, errstr_size)) ||
             (f->decision_type.ptr &&
              (rc = numbers(f->decision_type, ni, 1, dt, "decision_type", t, errstr, errstr_size))) ||
             (rc = numbers(f->left_child, ni, 1, lc, "left_child", t, errstr, errstr_size)) ||
             (rc = numbers(f->right_child, ni, 1, rcs, "right_child", t, errstr, errstr_size))))
    goto out;
  for (size_t i = 0; i < ni; i++)
    if ((rc = inner_node(&src[i], i, feat, thr, dt, lc, rcs, L, t, errstr, errstr_size)) != LP_OK) goto out;
  for (uint32_t j = 0; j < L; j++) {
    if (!isfinite(leaf[j])) {
      rc = ERR("lightgbm tree %zu: leaf_value[%u] is not finite", t, j);
      goto out;
    }
    src[ni + j].is_leaf = 1;
    src[ni + j].value = leaf[j];
  }
  rc = lp__gbdt_add_tree(m, src, n_src, (uint32_t)(t % m->num_outputs), "lightgbm", t, errstr, errstr_size);
out:
  lp_free(v);
  lp_free(src);
  return rc;
}

typedef struct header {
  lp_str num_class, per_iteration, max_feature_idx, objective, feature_names, tree_sizes;
  int average_output;
} header;

/* Header lines up to the first "Tree=" or "end of trees" line, which is left in *line. */
static int read_header(reader *rd, header *h, lp_str *line, char *errstr, size_t errstr_size) {
  do {
    if (!next_line(rd, line)) return ERR("lightgbm: empty model");
  } while (line->len == 0);
  if (line->len != 4 || memcmp(line->ptr, "tree", 4)) return ERR("lightgbm: the first line is not \"tree\"");
  while (next_line(rd, line)) {
    lp_str k, v;
    if (starts(*line, "Tree=") || starts(*line, "end of trees")) return LP_OK;
    if (line->len == 14 && !memcmp(line->ptr, "average_output", 14)) h->average_output = 1;
    if (!key_value(*line, &k, &v)) continue;
    if (key_is(k, "num_class")) h->num_class = v;
    else if (key_is(k, "num_tree_per_iteration")) h->per_iteration = v;
    else if (key_is(k, "max_feature_idx")) h->max_feature_idx = v;
    else if (key_is(k, "objective")) h->objective = v;
    else if (key_is(k, "feature_names")) h->feature_names = v;
    else if (key_is(k, "tree_sizes")) h->tree_sizes = v;
  }
  return ERR("lightgbm: no \"Tree=\" line: truncated header");
}

static int apply_header(lp_gbdt *m, const header *h, char *errstr, size_t errstr_size) {
  uint32_t ncls, per_it, maxf;
  int rc;
  if (!h->num_class.ptr) return ERR("lightgbm: num_class is missing");
  if (!h->max_feature_idx.ptr) return ERR("lightgbm: max_feature_idx is missing");
  if ((rc = header_uint(h->num_class, "num_class", LP_GBDT_MAX_OUTPUTS, &ncls, errstr, errstr_size)) ||
      (rc = header_uint(h->max_feature_idx, "max_feature_idx", LP_GBDT_MAX_FEATURES - 1, &maxf, errstr,
                        errstr_size)))
    return rc;
  per_it = ncls;
  if (h->per_iteration.ptr &&
      (rc = header_uint(h->per_iteration, "num_tree_per_iteration", LP_GBDT_MAX_OUTPUTS, &per_it, errstr,
                        errstr_size)))
    return rc;
  if (ncls == 0 || per_it != ncls)
    return ERR("lightgbm: num_class %u with num_tree_per_iteration %u is not supported", ncls, per_it);
  m->num_features = maxf + 1;
  m->num_outputs = per_it;
  m->base = lp_calloc(m->num_outputs, sizeof *m->base);
  if (!m->base) return LP_ENOMEM;
  if (h->objective.ptr && (rc = set_link(m, h->objective, ncls, errstr, errstr_size)) != LP_OK) return rc;
  if (!h->objective.ptr && (rc = lp__gbdt_set_objective(m, "", 0)) != LP_OK) return rc;
  if (h->feature_names.ptr && (rc = set_names(m, h->feature_names, errstr, errstr_size)) != LP_OK) return rc;
  return LP_OK;
}

/* One "Tree=i" block, its first line in *line; leaves the line after the block in *line (len 0 at EOF). */
static int read_tree(lp_gbdt *m, reader *rd, lp_str *line, size_t t, char *errstr, size_t errstr_size) {
  char tok[32], *end;
  lp_str idx = { line->ptr + 5, line->len - 5 };
  if (!next_token(&idx, tok, sizeof tok) || strtoull(tok, &end, 10) != t || *end || idx.len)
    return ERR("lightgbm: \"%.*s\" where Tree=%zu was expected", (int)(line->len > 40 ? 40 : line->len), line->ptr, t);
  tree_fields f;
  memset(&f, 0, sizeof f);
  *line = (lp_str){ NULL, 0 };
  lp_str l, k, v;
  while (next_line(rd, &l)) {
    if (l.len == 0) break;
    if (starts(l, "Tree=") || starts(l, "end of trees")) {
      *line = l;
      break;
    }
    if (!key_value(l, &k, &v)) return ERR("lightgbm tree %zu: unexpected line \"%.*s\"", t, (int)(l.len > 40 ? 40 : l.len), l.ptr);
    tree_field(&f, k, v);
  }
  int rc = build_tree(m, &f, t, errstr, errstr_size);
  if (rc != LP_OK || line->ptr) return rc;
  while (next_line(rd, &l))
    if (l.len) {
      *line = l;
      break;
    }
  return LP_OK;
}

int lp__gbdt_parse_lightgbm(lp_gbdt *m, const char *data, size_t len, char *errstr, size_t errstr_size) {
  reader rd = { data, data + len };
  header h;
  lp_str line;
  memset(&h, 0, sizeof h);
  int rc = read_header(&rd, &h, &line, errstr, errstr_size);
  if (rc == LP_OK) rc = apply_header(m, &h, errstr, errstr_size);
  size_t t = 0;
  while (rc == LP_OK && line.ptr && starts(line, "Tree=")) rc = read_tree(m, &rd, &line, t++, errstr, errstr_size);
  if (rc != LP_OK) return rc;
  if (!line.ptr || line.len != 12 || memcmp(line.ptr, "end of trees", 12))
    return ERR("lightgbm: no \"end of trees\" line after %zu trees: truncated", t);
  if (h.tree_sizes.ptr) {
    size_t n = 0;
    char tok[32];
    lp_str s = h.tree_sizes;
    while (next_token(&s, tok, sizeof tok)) n++;
    if (n != t) return ERR("lightgbm: tree_sizes lists %zu trees, the file has %zu", n, t);
  }
  if (t % m->num_outputs) return ERR("lightgbm: %zu trees is not a multiple of %u per iteration", t, m->num_outputs);
  if (h.average_output && t) m->average_div = (double)(t / m->num_outputs);
  return LP_OK;
}
