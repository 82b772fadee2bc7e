/*
 * gbdt_int.h: the flat layout of a loaded ensemble and the builder the two parsers share.
 *
 * Layout. Every node of every tree lives in ONE array of 16-byte nodes (four to a cache line), each tree's
 * nodes contiguous and breadth-first, so the top levels that every row visits share a few lines. A node
 * holds a float32 threshold, the feature index with three flag bits, and its two children as absolute
 * indices. A leaf is a node whose two children are itself: a walk that reaches a leaf stays there, so a
 * tree can be walked for exactly its depth with no "is this a leaf" branch, several rows interleaved
 * (independent load chains that the CPU overlaps), and the leaf's output is read once at the end from a
 * parallel array of doubles indexed by node.
 *
 * One comparison for both libraries: a non-missing x goes right iff x > thr. XGBoost's "left iff
 * x < c" becomes thr = the float just below c; LightGBM's "left iff x <= t (double)" becomes thr = the
 * largest float <= t. Both are exact for every float32 x. A missing x (NaN) goes right iff the node's
 * NAN_RIGHT bit is set; LightGBM's MissingType None (NaN counts as 0) is folded into that bit at load,
 * its MissingType Zero sets ZERO_MISSING and the model is then walked by the general kernel.
 */
#ifndef LP_GBDT_INT_H
#define LP_GBDT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "model/gbdt.h"

#define LP__GBDT_FEAT_MASK 0x00ffffffu
#define LP__GBDT_LEAF (1u << 29)
#define LP__GBDT_ZERO_MISSING (1u << 30)
#define LP__GBDT_NAN_RIGHT (1u << 31)
#define LP__GBDT_ZERO_THRESHOLD 1e-35f  /* LightGBM's kZeroThreshold */

typedef struct lp__gbdt_node {
  float thr;          /* a non-missing x goes right iff x > thr */
  uint32_t word;      /* feature index | LP__GBDT_* flags */
  uint32_t child[2];  /* absolute node indices, [0] left, [1] right; a leaf names itself twice */
} lp__gbdt_node;

/* How raw sums become predictions. */
typedef enum lp__gbdt_link {
  LP__LINK_IDENTITY = 0,
  LP__LINK_SIGMOID,        /* per output: 1 / (1 + exp(-scale * x)) */
  LP__LINK_SOFTMAX,        /* across the row's outputs */
  LP__LINK_EXP,            /* per output: exp(x) */
  LP__LINK_HINGE,          /* x > 0 ? 1 : 0 */
  LP__LINK_SIGNED_SQUARE,  /* sign(x) * x * x (LightGBM "regression sqrt") */
  LP__LINK_LOG1P_EXP       /* log(1 + exp(x)) (LightGBM cross_entropy_lambda) */
} lp__gbdt_link;

struct lp_gbdt {
  lp_gbdt_format source;
  uint32_t num_features;
  uint32_t num_outputs;
  uint32_t num_trees;
  int float_sum;          /* XGBoost: sums and links in float32; LightGBM: double */
  int general;            /* some node needs the general kernel (LP__GBDT_ZERO_MISSING) */
  lp__gbdt_link link;
  double link_scale;      /* LP__LINK_SIGMOID's scale */
  double average_div;     /* LightGBM average_output: raw sums are divided by this (else 1) */
  double *base;           /* num_outputs starting values of the sums */
  lp__gbdt_node *nodes;
  double *value;          /* per node: a leaf's output (0 for inner nodes) */
  size_t n_nodes, cap_nodes;
  uint32_t *root;         /* per tree: index of its root node */
  uint32_t *depth;        /* per tree: edges on its longest root-to-leaf path */
  uint32_t *group;        /* per tree: the output it adds to */
  size_t cap_trees;
  char *objective;
  char **feature_names;   /* num_features entries or NULL */
};

/* A tree node as a parser hands it over, in the file's own numbering. */
typedef struct lp__gbdt_src_node {
  int64_t left, right;    /* children's indices; ignored for a leaf */
  int64_t feature;
  float thr;              /* as in lp__gbdt_node */
  uint8_t is_leaf;
  uint8_t nan_right;
  uint8_t zero_missing;
  double value;           /* a leaf's output */
} lp__gbdt_src_node;

/* A new, empty model (source, features and outputs set by the caller afterwards). NULL on ENOMEM. */
lp_gbdt *lp__gbdt_new(lp_gbdt_format source);

/* Checks one tree (children in range, no cycle nor shared child, features < m->num_features, depth
 * bound) and appends it, breadth-first from src[0], adding to output `group`. Unreachable nodes are
 * skipped (XGBoost keeps deleted ones). LP_EINVAL with "<what> tree <index>: ..." in errstr. */
int lp__gbdt_add_tree(lp_gbdt *m, const lp__gbdt_src_node *src, size_t n_src, uint32_t group,
                      const char *what, size_t tree_index, char *errstr, size_t errstr_size);

/* The float32 thresholds of the two libraries' comparisons (see the top of this file). */
float lp__gbdt_thr_below(float c);      /* XGBoost: left iff x < c */
float lp__gbdt_thr_at_most(double t);   /* LightGBM: left iff x <= t */

/* Sets the model's objective name (copied). LP_ENOMEM. */
int lp__gbdt_set_objective(lp_gbdt *m, const char *name, size_t len);

/* The two parsers: fill a model made by lp__gbdt_new. LP_EINVAL / LP_ERANGE / LP_ENOMEM with errstr. */
int lp__gbdt_parse_xgboost(lp_gbdt *m, const char *data, size_t len, char *errstr, size_t errstr_size);
int lp__gbdt_parse_lightgbm(lp_gbdt *m, const char *data, size_t len, char *errstr, size_t errstr_size);

#endif
