/*
 * gbdt_eval.c: the evaluation kernels and the objectives' links (layout: gbdt_int.h).
 *
 * Rows are scored in blocks of BLOCK_ROWS: for each tree in order, every row of the block walks it, so
 * the tree's nodes stay in L1 while the block's rows go through, and each row's sums still grow in tree
 * order (the order, and for XGBoost the float32 rounding, of the libraries' own sums). A tree no deeper
 * than FIXED_DEPTH is walked LANES rows at a time for exactly its depth steps: no branch per node (leaves
 * absorb the extra steps), and the LANES load chains are independent, so their cache and compare
 * latencies overlap.
 */
#include <math.h>

#include "model/gbdt_int.h"

#define BLOCK_ROWS 64
#define LANES 8
#define FIXED_DEPTH 16

/* One step down: a non-missing x goes right iff x > thr, a NaN goes the NAN_RIGHT way. Branch-free. */
static inline uint32_t step_fast(const lp__gbdt_node *nodes, uint32_t n, const float *row) {
  const lp__gbdt_node *nd = nodes + n;
  const float x = row[nd->word & LP__GBDT_FEAT_MASK];
  const uint32_t right = (uint32_t)(x > nd->thr) | ((uint32_t)(x != x) & (nd->word >> 31));
  return nd->child[right];
}

/* The same with LightGBM's MissingType Zero: |x| <= 1e-35 goes the missing way too. */
static inline uint32_t step_general(const lp__gbdt_node *nodes, uint32_t n, const float *row) {
  const lp__gbdt_node *nd = nodes + n;
  const float x = row[nd->word & LP__GBDT_FEAT_MASK];
  uint32_t right;
  if (x != x || ((nd->word & LP__GBDT_ZERO_MISSING) && x >= -LP__GBDT_ZERO_THRESHOLD &&
                 x <= LP__GBDT_ZERO_THRESHOLD))
    right = nd->word >> 31;
  else
    right = x > nd->thr;
  return nd->child[right];
}

/* Adds a leaf's output to a sum: in float32 for XGBoost (the value stays a float32 held in a double). */
static inline void add(double *sum, double v, int float_sum) {
  if (float_sum)
    *sum = (double)((float)*sum + (float)v);
  else
    *sum += v;
}

/* Tree t over n rows; out points at the block's first row, nout values per row. */
static inline void eval_tree(const lp_gbdt *m, uint32_t t, const float *rows, size_t n, size_t stride,
                             double *out, size_t nout, int float_sum, int general) {
  const lp__gbdt_node *nodes = m->nodes;
  const double *value = m->value;
  const uint32_t root = m->root[t], depth = m->depth[t];
  double *o = out + m->group[t];
  size_t r = 0;
  if (depth == 0) {
    for (; r < n; r++) add(o + r * nout, value[root], float_sum);
    return;
  }
  if (general || depth > FIXED_DEPTH) {
    for (; r < n; r++) {
      const float *row = rows + r * stride;
      uint32_t i = root;
      while (!(nodes[i].word & LP__GBDT_LEAF))
        i = general ? step_general(nodes, i, row) : step_fast(nodes, i, row);
      add(o + r * nout, value[i], float_sum);
    }
    return;
  }
  for (; r + LANES <= n; r += LANES) {
    uint32_t i[LANES];
    const float *row[LANES];
    for (int k = 0; k < LANES; k++) {
      i[k] = root;
      row[k] = rows + (r + (size_t)k) * stride;
    }
    for (uint32_t d = 0; d < depth; d++)
      for (int k = 0; k < LANES; k++) i[k] = step_fast(nodes, i[k], row[k]);
    for (int k = 0; k < LANES; k++) add(o + (r + (size_t)k) * nout, value[i[k]], float_sum);
  }
  for (; r < n; r++) {
    const float *row = rows + r * stride;
    uint32_t i = root;
    for (uint32_t d = 0; d < depth; d++) i = step_fast(nodes, i, row);
    add(o + r * nout, value[i], float_sum);
  }
}

static inline void eval_all(const lp_gbdt *m, const float *rows, size_t n_rows, size_t stride, double *out,
                            int float_sum, int general) {
  const size_t nout = m->num_outputs;
  for (size_t r0 = 0; r0 < n_rows; r0 += BLOCK_ROWS) {
    const size_t n = n_rows - r0 < BLOCK_ROWS ? n_rows - r0 : BLOCK_ROWS;
    for (uint32_t t = 0; t < m->num_trees; t++)
      eval_tree(m, t, rows + r0 * stride, n, stride, out + r0 * nout, nout, float_sum, general);
  }
}

void lp_gbdt_predict_margin(const lp_gbdt *m, const float *rows, size_t n_rows, size_t stride, double *out) {
  const size_t nout = m->num_outputs;
  for (size_t r = 0; r < n_rows; r++)
    for (size_t k = 0; k < nout; k++) out[r * nout + k] = m->base[k];
  /* Four instances, so that the flags are constants inside the loops. */
  if (m->float_sum)
    m->general ? eval_all(m, rows, n_rows, stride, out, 1, 1) : eval_all(m, rows, n_rows, stride, out, 1, 0);
  else
    m->general ? eval_all(m, rows, n_rows, stride, out, 0, 1) : eval_all(m, rows, n_rows, stride, out, 0, 0);
  if (m->average_div != 1.0)
    for (size_t i = 0; i < n_rows * nout; i++) out[i] /= m->average_div;
}

/* XGBoost's links, in float32 as it computes them (common/math.h: Sigmoid, Softmax). */
static void link_row_f(const lp_gbdt *m, double *o, size_t nout) {
  switch (m->link) {
  case LP__LINK_SIGMOID:
    for (size_t k = 0; k < nout; k++) {
      const float x = fminf(-(float)o[k], 88.7f);
      o[k] = 1.0f / (expf(x) + 1.0f + 1e-16f);
    }
    break;
  case LP__LINK_SOFTMAX: {
    float wmax = (float)o[0];
    for (size_t k = 1; k < nout; k++) wmax = fmaxf((float)o[k], wmax);
    double wsum = 0.0;
    for (size_t k = 0; k < nout; k++) {
      const float e = expf((float)o[k] - wmax);
      o[k] = e;
      wsum += e;
    }
    for (size_t k = 0; k < nout; k++) o[k] = (float)o[k] / (float)wsum;
    break;
  }
  case LP__LINK_EXP:
    for (size_t k = 0; k < nout; k++) o[k] = expf((float)o[k]);
    break;
  case LP__LINK_HINGE:
    for (size_t k = 0; k < nout; k++) o[k] = o[k] > 0.0 ? 1.0 : 0.0;
    break;
  default:
    break;
  }
}

/* LightGBM's links, in double (ObjectiveFunction::ConvertOutput, Common::Softmax). */
static void link_row_d(const lp_gbdt *m, double *o, size_t nout) {
  switch (m->link) {
  case LP__LINK_SIGMOID:
    for (size_t k = 0; k < nout; k++) o[k] = 1.0 / (1.0 + exp(-m->link_scale * o[k]));
    break;
  case LP__LINK_SOFTMAX: {
    double wmax = o[0], wsum = 0.0;
    for (size_t k = 1; k < nout; k++) wmax = o[k] > wmax ? o[k] : wmax;
    for (size_t k = 0; k < nout; k++) {
      o[k] = exp(o[k] - wmax);
      wsum += o[k];
    }
    for (size_t k = 0; k < nout; k++) o[k] /= wsum;
    break;
  }
  case LP__LINK_EXP:
    for (size_t k = 0; k < nout; k++) o[k] = exp(o[k]);
    break;
  case LP__LINK_SIGNED_SQUARE:
    for (size_t k = 0; k < nout; k++) o[k] = (o[k] > 0.0 ? 1.0 : o[k] < 0.0 ? -1.0 : 0.0) * o[k] * o[k];
    break;
  case LP__LINK_LOG1P_EXP:
    for (size_t k = 0; k < nout; k++) o[k] = log1p(exp(o[k]));
    break;
  default:
    break;
  }
}

void lp_gbdt_predict(const lp_gbdt *m, const float *rows, size_t n_rows, size_t stride, double *out) {
  lp_gbdt_predict_margin(m, rows, n_rows, stride, out);
  if (m->link == LP__LINK_IDENTITY) return;
  const size_t nout = m->num_outputs;
  for (size_t r = 0; r < n_rows; r++) {
    if (m->float_sum)
      link_row_f(m, out + r * nout, nout);
    else
      link_row_d(m, out + r * nout, nout);
  }
}
