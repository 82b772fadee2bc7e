/*
 * gbdt_xgb.c: XGBoost's JSON model format (Booster.save_model("m.json"), XGBoosterSaveModel), as written
 * by XGBoost 1.x and 2.x: learner.learner_model_param (num_feature, num_class, base_score as a string),
 * learner.objective.name, learner.gradient_booster (name "gbtree") .model.trees[] and .tree_info[].
 * A tree is parallel arrays over its nodes: left_children / right_children (-1 for a leaf),
 * split_indices, split_conditions (the leaf's output for a leaf), default_left, split_type (0 numeric).
 * Unsupported features (categorical splits, vector leaves, dart, gblinear, multi:softmax) are refused by
 * name rather than evaluated wrongly.
 */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "model/gbdt_int.h"

#define ERR(...) xerr(errstr, errstr_size, __VA_ARGS__)

__attribute__((format(printf, 3, 4))) static int xerr(char *errstr, size_t errstr_size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(errstr, errstr_size, fmt, ap);
  va_end(ap);
  return LP_EINVAL;
}

static json_t *need(json_t *parent, const char *key, json_type type, const char *path, char *errstr,
                    size_t errstr_size) {
  json_t *v = json_is_object(parent) ? json_object_get(parent, key) : NULL;
  if (!v || json_typeof(v) != type) {
    ERR("xgboost: %s%s%s is missing or not %s", path, *path ? "." : "", key,
        type == JSON_OBJECT ? "an object" : type == JSON_ARRAY ? "an array" : "a string");
    return NULL;
  }
  return v;
}

/* XGBoost writes its parameters as strings ("10", "5E-1"), sometimes in brackets ("[5E-1]"); older
 * writers used plain numbers. */
static int param_double(json_t *obj, const char *key, const char *path, double *out, char *errstr,
                        size_t errstr_size) {
  json_t *v = json_object_get(obj, key);
  if (v && json_is_number(v)) {
    *out = json_number_value(v);
    return LP_OK;
  }
  if (!v || !json_is_string(v)) return ERR("xgboost: %s.%s is missing", path, key);
  const char *s = json_string_value(v);
  char *end;
  while (*s == '[' || *s == ' ') s++;
  *out = strtod(s, &end);
  while (*end == ']' || *end == ' ') end++;
  if (end == s || *end != '\0' || isnan(*out)) return ERR("xgboost: %s.%s = \"%s\" is not a number", path, key,
                                                          json_string_value(v));
  return LP_OK;
}

static int param_uint(json_t *obj, const char *key, const char *path, uint32_t max, uint32_t *out,
                      char *errstr, size_t errstr_size) {
  double d;
  int rc = param_double(obj, key, path, &d, errstr, errstr_size);
  if (rc != LP_OK) return rc;
  if (!(d >= 0 && d <= max) || d != floor(d)) return ERR("xgboost: %s.%s = %g is out of range 0..%u", path, key, d, max);
  *out = (uint32_t)d;
  return LP_OK;
}

/* The objective's link and the base margin, computed in float32 as XGBoost's ProbToMargin does. */
static int set_link(lp_gbdt *m, const char *obj, float base, uint32_t num_class, char *errstr,
                    size_t errstr_size) {
  static const char *const identity[] = { "reg:squarederror", "reg:linear", "reg:squaredlogerror",
    "reg:pseudohubererror", "reg:absoluteerror", "reg:quantileerror", "rank:pairwise", "rank:ndcg",
    "rank:map", NULL };
  static const char *const exp_link[] = { "count:poisson", "reg:gamma", "reg:tweedie", "survival:cox",
    "survival:aft", NULL };
  float margin = base;
  int known = 0;
  for (int i = 0; identity[i]; i++) known |= strcmp(obj, identity[i]) == 0;
  if (!known && (!strcmp(obj, "binary:logistic") || !strcmp(obj, "reg:logistic") ||
                 !strcmp(obj, "binary:logitraw"))) {
    if (!(base > 0.0f && base < 1.0f)) return ERR("xgboost: base_score %g must be in (0, 1) for %s", base, obj);
    margin = -logf(1.0f / base - 1.0f);
    m->link = strcmp(obj, "binary:logitraw") ? LP__LINK_SIGMOID : LP__LINK_IDENTITY;
    known = 1;
  }
  for (int i = 0; !known && exp_link[i]; i++) {
    if (strcmp(obj, exp_link[i])) continue;
    if (!(base > 0.0f)) return ERR("xgboost: base_score %g must be > 0 for %s", base, obj);
    margin = logf(base);
    m->link = LP__LINK_EXP;
    known = 1;
  }
  if (!known && !strcmp(obj, "binary:hinge")) m->link = LP__LINK_HINGE, known = 1;
  if (!known && !strcmp(obj, "multi:softprob")) m->link = LP__LINK_SOFTMAX, known = 1;
  if (!strcmp(obj, "multi:softmax"))
    return ERR("xgboost: objective multi:softmax (a class index) is not supported: train or save with "
               "multi:softprob (the same trees)");
  if (!known) return ERR("xgboost: objective \"%s\" is not supported", obj);
  if ((m->link == LP__LINK_SOFTMAX) != (num_class > 1))
    return ERR("xgboost: objective %s with num_class %u", obj, num_class);
  m->num_outputs = num_class > 1 ? num_class : 1;
  m->base = lp_malloc(m->num_outputs * sizeof *m->base);
  if (!m->base) return LP_ENOMEM;
  for (uint32_t k = 0; k < m->num_outputs; k++) m->base[k] = margin;
  return lp__gbdt_set_objective(m, obj, strlen(obj));
}

/* One of a tree's parallel arrays, of exactly n entries. */
static json_t *tree_array(json_t *tree, const char *key, size_t n, size_t t, char *errstr, size_t errstr_size) {
  json_t *a = json_object_get(tree, key);
  if (!a || !json_is_array(a)) {
    ERR("xgboost tree %zu: %s is missing or not an array", t, key);
    return NULL;
  }
  if (json_array_size(a) != n) {
    ERR("xgboost tree %zu: %s has %zu entries, num_nodes is %zu", t, key, json_array_size(a), n);
    return NULL;
  }
  return a;
}

static int int_at(json_t *a, size_t i, const char *key, size_t t, int64_t *out, char *errstr, size_t errstr_size) {
  json_t *v = json_array_get(a, i);
  if (json_is_integer(v)) *out = json_integer_value(v);
  else if (json_is_boolean(v)) *out = json_is_true(v);
  else return ERR("xgboost tree %zu: %s[%zu] is not an integer", t, key, i);
  return LP_OK;
}

static int parse_tree(lp_gbdt *m, json_t *tree, size_t t, uint32_t group, char *errstr, size_t errstr_size) {
  json_t *tp = json_object_get(tree, "tree_param");
  if (!json_is_object(tree) || !json_is_object(tp)) return ERR("xgboost tree %zu: tree_param is missing", t);
  char path[48];
  snprintf(path, sizeof path, "trees[%zu].tree_param", t);
  uint32_t n, leaf_vec = 0;
  int rc = param_uint(tp, "num_nodes", path, LP_GBDT_MAX_NODES, &n, errstr, errstr_size);
  if (rc != LP_OK) return rc;
  if (json_object_get(tp, "size_leaf_vector") &&
      (rc = param_uint(tp, "size_leaf_vector", path, UINT32_MAX, &leaf_vec, errstr, errstr_size)) != LP_OK)
    return rc;
  if (leaf_vec > 1) return ERR("xgboost tree %zu: vector leaves (size_leaf_vector %u) are not supported", t, leaf_vec);
  json_t *lc = tree_array(tree, "left_children", n, t, errstr, errstr_size);
  json_t *rcs = lc ? tree_array(tree, "right_children", n, t, errstr, errstr_size) : NULL;
  json_t *si = rcs ? tree_array(tree, "split_indices", n, t, errstr, errstr_size) : NULL;
  json_t *sc = si ? tree_array(tree, "split_conditions", n, t, errstr, errstr_size) : NULL;
  json_t *dl = sc ? tree_array(tree, "default_left", n, t, errstr, errstr_size) : NULL;
  if (!dl) return LP_EINVAL;
  json_t *st = json_object_get(tree, "split_type");
  if (st && !tree_array(tree, "split_type", n, t, errstr, errstr_size)) return LP_EINVAL;
  lp__gbdt_src_node *src = lp_calloc(n ? n : 1, sizeof *src);
  if (!src) return LP_ENOMEM;
  rc = LP_EINVAL;
  for (size_t i = 0; i < n; i++) {
    lp__gbdt_src_node *s = &src[i];
    int64_t l, r, f, d, ty = 0;
    if (int_at(lc, i, "left_children", t, &l, errstr, errstr_size) ||
        int_at(rcs, i, "right_children", t, &r, errstr, errstr_size) ||
        int_at(si, i, "split_indices", t, &f, errstr, errstr_size) ||
        int_at(dl, i, "default_left", t, &d, errstr, errstr_size) ||
        (st && int_at(st, i, "split_type", t, &ty, errstr, errstr_size)))
      goto out;
    json_t *cv = json_array_get(sc, i);
    if (!json_is_number(cv)) {
      ERR("xgboost tree %zu: split_conditions[%zu] is not a number", t, i);
      goto out;
    }
    const float c = (float)json_number_value(cv);
    if (l == -1) {
      if (r != -1) {
        ERR("xgboost tree %zu: node %zu has left child -1 but right child %lld", t, i, (long long)r);
        goto out;
      }
      if (!isfinite(c)) {
        ERR("xgboost tree %zu: leaf %zu has a value that is not a finite float32", t, i);
        goto out;
      }
      s->is_leaf = 1;
      s->value = c;
      continue;
    }
    if (ty != 0) {
      ERR("xgboost tree %zu: node %zu is a categorical split (split_type %lld): not supported", t, i, (long long)ty);
      goto out;
    }
    if (isnan(c) || c == -INFINITY) {
      ERR("xgboost tree %zu: split_conditions[%zu] is not a usable threshold", t, i);
      goto out;
    }
    s->left = l;
    s->right = r;
    s->feature = f;
    s->thr = lp__gbdt_thr_below(c);
    s->nan_right = d == 0;
  }
  rc = lp__gbdt_add_tree(m, src, n, group, "xgboost", t, errstr, errstr_size);
out:
  lp_free(src);
  return rc;
}

static int parse_names(lp_gbdt *m, json_t *learner, char *errstr, size_t errstr_size) {
  json_t *names = json_object_get(learner, "feature_names");
  if (!names || !json_is_array(names) || json_array_size(names) == 0) return LP_OK;
  if (json_array_size(names) != m->num_features)
    return ERR("xgboost: learner.feature_names has %zu names, num_feature is %u", json_array_size(names),
               m->num_features);
  m->feature_names = lp_calloc(m->num_features, sizeof *m->feature_names);
  if (!m->feature_names) return LP_ENOMEM;
  for (uint32_t i = 0; i < m->num_features; i++) {
    json_t *v = json_array_get(names, i);
    if (!json_is_string(v)) return ERR("xgboost: learner.feature_names[%u] is not a string", i);
    if (!(m->feature_names[i] = lp_strdup(json_string_value(v)))) return LP_ENOMEM;
  }
  return LP_OK;
}

static int parse_model(lp_gbdt *m, json_t *root, char *errstr, size_t errstr_size) {
  json_t *learner = need(root, "learner", JSON_OBJECT, "", errstr, errstr_size);
  json_t *lmp = learner ? need(learner, "learner_model_param", JSON_OBJECT, "learner", errstr, errstr_size) : NULL;
  json_t *obj = lmp ? need(learner, "objective", JSON_OBJECT, "learner", errstr, errstr_size) : NULL;
  json_t *oname = obj ? need(obj, "name", JSON_STRING, "learner.objective", errstr, errstr_size) : NULL;
  json_t *gb = oname ? need(learner, "gradient_booster", JSON_OBJECT, "learner", errstr, errstr_size) : NULL;
  json_t *gbname = gb ? need(gb, "name", JSON_STRING, "learner.gradient_booster", errstr, errstr_size) : NULL;
  if (!gbname) return LP_EINVAL;
  if (strcmp(json_string_value(gbname), "gbtree"))
    return ERR("xgboost: booster \"%s\" is not supported (only gbtree)", json_string_value(gbname));
  json_t *model = need(gb, "model", JSON_OBJECT, "learner.gradient_booster", errstr, errstr_size);
  const char *mp = "learner.gradient_booster.model";
  json_t *trees = model ? need(model, "trees", JSON_ARRAY, mp, errstr, errstr_size) : NULL;
  json_t *info = trees ? need(model, "tree_info", JSON_ARRAY, mp, errstr, errstr_size) : NULL;
  json_t *gbp = info ? need(model, "gbtree_model_param", JSON_OBJECT, mp, errstr, errstr_size) : NULL;
  if (!gbp) return LP_EINVAL;
  uint32_t nf, ncls = 0, ntrees, ntarget = 1;
  double base;
  const char *lp = "learner.learner_model_param";
  int rc;
  if ((rc = param_uint(lmp, "num_feature", lp, LP_GBDT_MAX_FEATURES, &nf, errstr, errstr_size)) ||
      (rc = param_uint(lmp, "num_class", lp, LP_GBDT_MAX_OUTPUTS, &ncls, errstr, errstr_size)) ||
      (rc = param_double(lmp, "base_score", lp, &base, errstr, errstr_size)) ||
      (json_object_get(lmp, "num_target") &&
       (rc = param_uint(lmp, "num_target", lp, UINT32_MAX, &ntarget, errstr, errstr_size))) ||
      (rc = param_uint(gbp, "num_trees", "learner.gradient_booster.model.gbtree_model_param", UINT32_MAX,
                       &ntrees, errstr, errstr_size)))
    return rc;
  if (ntarget > 1) return ERR("xgboost: num_target %u: multi-target models are not supported", ntarget);
  m->num_features = nf;
  if ((rc = set_link(m, json_string_value(oname), (float)base, ncls, errstr, errstr_size)) != LP_OK) return rc;
  if ((rc = parse_names(m, learner, errstr, errstr_size)) != LP_OK) return rc;
  const size_t n = json_array_size(trees);
  if (n != ntrees || json_array_size(info) != n)
    return ERR("xgboost: %zu trees and %zu tree_info entries, gbtree_model_param.num_trees is %u", n,
               json_array_size(info), ntrees);
  for (size_t t = 0; t < n; t++) {
    json_t *g = json_array_get(info, t);
    if (!json_is_integer(g) || json_integer_value(g) < 0 || json_integer_value(g) >= (json_int_t)m->num_outputs)
      return ERR("xgboost: tree_info[%zu] is not an output index below %u", t, m->num_outputs);
    if ((rc = parse_tree(m, json_array_get(trees, t), t, (uint32_t)json_integer_value(g), errstr, errstr_size)) != LP_OK)
      return rc;
  }
  m->float_sum = 1;
  return LP_OK;
}

int lp__gbdt_parse_xgboost(lp_gbdt *m, const char *data, size_t len, char *errstr, size_t errstr_size) {
  json_error_t jerr;
  json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!root)
    return ERR("xgboost: not valid JSON (line %d, column %d): %s", jerr.line, jerr.column, jerr.text);
  int rc = parse_model(m, root, errstr, errstr_size);
  json_decref(root);
  return rc;
}
