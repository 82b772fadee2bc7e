/*
 * gbdt.c: loading (format detection, the shared tree builder and its checks), accessors and free.
 * The parsers are gbdt_xgb.c and gbdt_lgb.c, the evaluation kernels gbdt_eval.c.
 */
#include "model/gbdt_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/file.h"

lp_gbdt *lp__gbdt_new(lp_gbdt_format source) {
  lp_gbdt *m = lp_calloc(1, sizeof *m);
  if (!m) return NULL;
  m->source = source;
  m->link_scale = 1.0;
  m->average_div = 1.0;
  return m;
}

void lp_gbdt_free(lp_gbdt *m) {
  if (!m) return;
  if (m->feature_names) {
    for (uint32_t i = 0; i < m->num_features; i++) lp_free(m->feature_names[i]);
    lp_free(m->feature_names);
  }
  lp_free(m->objective);
  lp_free(m->base);
  lp_free(m->nodes);
  lp_free(m->value);
  lp_free(m->root);
  lp_free(m->depth);
  lp_free(m->group);
  lp_free(m);
}

float lp__gbdt_thr_below(float c) {
  return nextafterf(c, -INFINITY);
}

float lp__gbdt_thr_at_most(double t) {
  float f = (float)t;
  if ((double)f > t) f = nextafterf(f, -INFINITY);
  return f;
}

int lp__gbdt_set_objective(lp_gbdt *m, const char *name, size_t len) {
  lp_free(m->objective);
  m->objective = lp_strndup(name, len);
  return m->objective ? LP_OK : LP_ENOMEM;
}

/* Grows the per-node and per-tree arrays so that `nodes` more nodes and one more tree fit. */
static int reserve(lp_gbdt *m, size_t nodes) {
  if (m->n_nodes + nodes > m->cap_nodes) {
    size_t cap = m->cap_nodes ? m->cap_nodes : 256;
    while (cap < m->n_nodes + nodes) cap *= 2;
    lp__gbdt_node *n = lp_realloc(m->nodes, cap * sizeof *n);
    if (!n) return LP_ENOMEM;
    m->nodes = n;
    double *v = lp_realloc(m->value, cap * sizeof *v);
    if (!v) return LP_ENOMEM;
    m->value = v;
    m->cap_nodes = cap;
  }
  if (m->num_trees + 1 > m->cap_trees) {
    size_t cap = m->cap_trees ? m->cap_trees * 2 : 64;
    uint32_t *r = lp_realloc(m->root, cap * sizeof *r);
    if (!r) return LP_ENOMEM;
    m->root = r;
    uint32_t *d = lp_realloc(m->depth, cap * sizeof *d);
    if (!d) return LP_ENOMEM;
    m->depth = d;
    uint32_t *g = lp_realloc(m->group, cap * sizeof *g);
    if (!g) return LP_ENOMEM;
    m->group = g;
    m->cap_trees = cap;
  }
  return LP_OK;
}

/* Checks an inner node's feature and children; errstr names the tree and the node. */
static int check_inner(const lp_gbdt *m, const lp__gbdt_src_node *s, size_t i, size_t n_src,
                       const char *what, size_t tree, char *errstr, size_t errstr_size) {
  if (s->feature < 0 || (uint64_t)s->feature >= m->num_features) {
    snprintf(errstr, errstr_size, "%s tree %zu: node %zu splits on feature %lld, the model has %u", what, tree,
             i, (long long)s->feature, m->num_features);
    return LP_EINVAL;
  }
  if (isnan(s->thr)) {
    snprintf(errstr, errstr_size, "%s tree %zu: node %zu has a NaN threshold", what, tree, i);
    return LP_EINVAL;
  }
  const int64_t ch[2] = { s->left, s->right };
  for (int k = 0; k < 2; k++) {
    if (ch[k] < 0 || (uint64_t)ch[k] >= n_src) {
      snprintf(errstr, errstr_size, "%s tree %zu: node %zu: %s child %lld is out of range (%zu nodes)", what,
               tree, i, k ? "right" : "left", (long long)ch[k], n_src);
      return LP_EINVAL;
    }
  }
  return LP_OK;
}

/* Breadth-first from src[0]: queue position q becomes node m->n_nodes + q, so a node's children get their
 * ids when it is dequeued. `id` maps a source index to its queue position (UINT32_MAX = not reached);
 * reaching a node twice means a cycle or a shared child, which is not a tree. */
int lp__gbdt_add_tree(lp_gbdt *m, const lp__gbdt_src_node *src, size_t n_src, uint32_t group,
                      const char *what, size_t tree_index, char *errstr, size_t errstr_size) {
  if (n_src == 0) {
    snprintf(errstr, errstr_size, "%s tree %zu: no nodes", what, tree_index);
    return LP_EINVAL;
  }
  if (group >= m->num_outputs) {
    snprintf(errstr, errstr_size, "%s tree %zu: output group %u, the model has %u", what, tree_index, group,
             m->num_outputs);
    return LP_EINVAL;
  }
  if (m->n_nodes + n_src > LP_GBDT_MAX_NODES) {
    snprintf(errstr, errstr_size, "%s tree %zu: more than %u nodes in the model", what, tree_index,
             LP_GBDT_MAX_NODES);
    return LP_ERANGE;
  }
  if (reserve(m, n_src) != LP_OK) return LP_ENOMEM;
  uint32_t *id = lp_malloc(n_src * sizeof *id);
  uint32_t *queue = lp_malloc(n_src * sizeof *queue);
  uint32_t *qdepth = lp_malloc(n_src * sizeof *qdepth);
  int rc = LP_ENOMEM;
  if (!id || !queue || !qdepth) goto out;
  memset(id, 0xff, n_src * sizeof *id);
  const uint32_t base = (uint32_t)m->n_nodes;
  uint32_t head = 0, tail = 0, max_depth = 0;
  queue[tail] = 0;
  qdepth[tail] = 0;
  id[0] = tail++;
  rc = LP_EINVAL;
  while (head < tail) {
    const uint32_t q = head++;
    const size_t i = queue[q];
    const lp__gbdt_src_node *s = &src[i];
    lp__gbdt_node *n = &m->nodes[base + q];
    if (qdepth[q] > max_depth) max_depth = qdepth[q];
    if (s->is_leaf) {
      n->thr = 0.0f;
      n->word = LP__GBDT_LEAF;
      n->child[0] = n->child[1] = base + q;
      m->value[base + q] = s->value;
      continue;
    }
    if (check_inner(m, s, i, n_src, what, tree_index, errstr, errstr_size) != LP_OK) goto out;
    if (qdepth[q] + 1 > LP_GBDT_MAX_DEPTH) {
      snprintf(errstr, errstr_size, "%s tree %zu: deeper than %u levels", what, tree_index, LP_GBDT_MAX_DEPTH);
      goto out;
    }
    const int64_t ch[2] = { s->left, s->right };
    for (int k = 0; k < 2; k++) {
      if (id[ch[k]] != UINT32_MAX) {
        snprintf(errstr, errstr_size, "%s tree %zu: node %lld is reached twice (from node %zu): a cycle or a "
                 "shared child", what, tree_index, (long long)ch[k], i);
        goto out;
      }
      queue[tail] = (uint32_t)ch[k];
      qdepth[tail] = qdepth[q] + 1;
      id[ch[k]] = tail++;
      n->child[k] = base + id[ch[k]];
    }
    n->thr = s->thr;
    n->word = (uint32_t)s->feature | (s->nan_right ? LP__GBDT_NAN_RIGHT : 0) |
              (s->zero_missing ? LP__GBDT_ZERO_MISSING : 0);
    m->value[base + q] = 0.0;
    if (s->zero_missing) m->general = 1;
  }
  m->n_nodes += tail;
  m->root[m->num_trees] = base;
  m->depth[m->num_trees] = max_depth;
  m->group[m->num_trees] = group;
  m->num_trees++;
  rc = LP_OK;
out:
  lp_free(id);
  lp_free(queue);
  lp_free(qdepth);
  return rc;
}

static lp_gbdt_format detect(const char *data, size_t len) {
  size_t i = 0;
  while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n')) i++;
  if (i < len && data[i] == '{') return LP_GBDT_XGBOOST_JSON;
  if (len - i >= 5 && memcmp(data + i, "tree", 4) == 0 && (data[i + 4] == '\n' || data[i + 4] == '\r'))
    return LP_GBDT_LIGHTGBM_TEXT;
  return LP_GBDT_AUTO;
}

int lp_gbdt_load(const char *data, size_t len, lp_gbdt_format format, uint32_t expect_features,
                 lp_gbdt **out, char *errstr, size_t errstr_size) {
  if (!out || (!data && len)) {
    snprintf(errstr, errstr_size, "model: no data");
    return LP_EINVAL;
  }
  if (format == LP_GBDT_AUTO) format = detect(data, len);
  if (format != LP_GBDT_XGBOOST_JSON && format != LP_GBDT_LIGHTGBM_TEXT) {
    snprintf(errstr, errstr_size, "model: neither XGBoost JSON (starts with '{') nor LightGBM text (starts "
             "with a \"tree\" line)");
    return LP_EINVAL;
  }
  lp_gbdt *m = lp__gbdt_new(format);
  if (!m) return LP_ENOMEM;
  int rc = format == LP_GBDT_XGBOOST_JSON ? lp__gbdt_parse_xgboost(m, data, len, errstr, errstr_size)
                                          : lp__gbdt_parse_lightgbm(m, data, len, errstr, errstr_size);
  if (rc == LP_OK && m->num_trees == 0) {
    snprintf(errstr, errstr_size, "%s: the model has no trees",
             format == LP_GBDT_XGBOOST_JSON ? "xgboost" : "lightgbm");
    rc = LP_EINVAL;
  }
  if (rc == LP_OK && expect_features && m->num_features != expect_features) {
    snprintf(errstr, errstr_size, "%s: the model has %u features, %u expected",
             format == LP_GBDT_XGBOOST_JSON ? "xgboost" : "lightgbm", m->num_features, expect_features);
    rc = LP_ERANGE;
  }
  if (rc != LP_OK) {
    if (rc == LP_ENOMEM) snprintf(errstr, errstr_size, "model: out of memory");
    lp_gbdt_free(m);
    return rc;
  }
  *out = m;
  return LP_OK;
}

int lp_gbdt_load_file(const char *path, lp_gbdt_format format, uint32_t expect_features,
                      lp_gbdt **out, char *errstr, size_t errstr_size) {
  lp_buf b = LP_BUF_INIT;
  int rc = lp_file_read(path, &b, errstr, errstr_size);
  if (rc == LP_ENOENT) snprintf(errstr, errstr_size, "%s: no such file", path);
  if (rc == LP_OK) {
    char inner[384];
    rc = lp_gbdt_load(b.data, b.len, format, expect_features, out, inner, sizeof inner);
    if (rc != LP_OK) snprintf(errstr, errstr_size, "%s: %s", path, inner);
  }
  lp_buf_free(&b);
  return rc;
}

uint32_t lp_gbdt_num_features(const lp_gbdt *m) {
  return m->num_features;
}

uint32_t lp_gbdt_num_outputs(const lp_gbdt *m) {
  return m->num_outputs;
}

uint32_t lp_gbdt_num_trees(const lp_gbdt *m) {
  return m->num_trees;
}

lp_gbdt_format lp_gbdt_source(const lp_gbdt *m) {
  return m->source;
}

const char *lp_gbdt_objective(const lp_gbdt *m) {
  return m->objective ? m->objective : "";
}

const char *lp_gbdt_feature_name(const lp_gbdt *m, uint32_t i) {
  return m->feature_names && i < m->num_features ? m->feature_names[i] : NULL;
}
