/*
 * gbdt.h: a native evaluator for gradient-boosted tree ensembles trained by XGBoost (its JSON model
 * format, Booster.save_model("m.json")) or LightGBM (its text model format, Booster.save_model("m.txt")).
 *
 * Why our own: the query path scores every (query, lead) feature row on the shard workers, so scoring
 * must be thread-safe on one shared, immutable model and must not allocate per prediction; linking a
 * training library into the server for that would bring its thread pools and allocations along. The
 * predictions equal the libraries' own (tests/model/ checks against XGBoost's C API and a LightGBM
 * fixture), ADR 0009 explains the layout.
 *
 * Semantics. Features are float32, one row = `stride` floats of which the first num_features are read;
 * NaN is a missing value. XGBoost: a row goes left when x < split_condition (float32), a missing value
 * goes the node's default way, the sum runs in float32 from the base margin, in tree order. LightGBM:
 * left when x <= threshold (the double threshold is rounded down to a float32 at load, which gives the
 * same answer for every float32 x), missing per the node's missing type (None: NaN counts as 0; Zero:
 * NaN and |x| <= 1e-35 go the default way; NaN: NaN goes the default way), the sum runs in double. The
 * objective's link (identity, sigmoid, softmax, exp, ...) is applied by lp_gbdt_predict.
 *
 * Reload: a load builds a new object and touches nothing else. A caller that serves a model keeps the
 * running one until the new load succeeded, then swaps its pointer (and frees the old model once no
 * reader holds it): a corrupt file never replaces a good model.
 *
 * Threading: load and free from any one thread; once loaded, every other function may be called from
 * any number of threads at once on the same model (it is never written after the load).
 */
#ifndef LP_GBDT_H
#define LP_GBDT_H

#include <stddef.h>
#include <stdint.h>

#include "leadpoet/common.h"

#define LP_GBDT_MAX_FEATURES (1u << 20)  /* features a model may use */
#define LP_GBDT_MAX_NODES (1u << 26)     /* nodes of all trees together */
#define LP_GBDT_MAX_OUTPUTS 4096u        /* outputs per row (classes) */
#define LP_GBDT_MAX_DEPTH 512u           /* depth of one tree */

typedef struct lp_gbdt lp_gbdt;

typedef enum lp_gbdt_format {
  LP_GBDT_AUTO = 0,      /* by content: '{' starts XGBoost JSON, "tree" starts LightGBM text */
  LP_GBDT_XGBOOST_JSON,
  LP_GBDT_LIGHTGBM_TEXT
} lp_gbdt_format;

/* Parses a model from memory (len bytes, need not be NUL-terminated). expect_features, when not 0, is
 * the number of features the caller computes: a model whose declared feature count differs is refused.
 * On success *out is a new model owned by the caller (lp_gbdt_free). On failure *out is untouched, the
 * return is LP_EINVAL (bad or unsupported model: errstr names the field and the tree), LP_ERANGE
 * (feature count mismatch, or a bound above exceeded) or LP_ENOMEM. Any thread. */
int lp_gbdt_load(const char *data, size_t len, lp_gbdt_format format, uint32_t expect_features,
                 lp_gbdt **out, char *errstr, size_t errstr_size);

/* lp_gbdt_load on a file's content; LP_ENOENT / LP_EIO when it cannot be read ("path: why"). Blocks on
 * disk: never on the reactor. Any thread. */
int lp_gbdt_load_file(const char *path, lp_gbdt_format format, uint32_t expect_features,
                      lp_gbdt **out, char *errstr, size_t errstr_size);

/* Frees a model (NULL is fine). The caller makes sure no other thread still predicts with it. */
void lp_gbdt_free(lp_gbdt *m);

/* Facts about a loaded model. Any thread. */
uint32_t lp_gbdt_num_features(const lp_gbdt *m);  /* a row must hold at least this many floats */
uint32_t lp_gbdt_num_outputs(const lp_gbdt *m);   /* values per row written by predict (1, or classes) */
uint32_t lp_gbdt_num_trees(const lp_gbdt *m);
lp_gbdt_format lp_gbdt_source(const lp_gbdt *m);
/* The objective as the file names it ("binary:logistic", "binary sigmoid:1"); owned by the model. */
const char *lp_gbdt_objective(const lp_gbdt *m);
/* Feature i's name from the file, or NULL when the file names none (XGBoost's list is often empty). */
const char *lp_gbdt_feature_name(const lp_gbdt *m, uint32_t i);

/* Scores n_rows rows: row r starts at rows + r * stride (stride >= num_features floats) and its
 * num_outputs values go to out + r * num_outputs. lp_gbdt_predict applies the objective's link
 * (probabilities for a logistic or softmax objective), lp_gbdt_predict_margin writes the raw sums.
 * No allocation, no locks: any thread, concurrently on the same model. */
void lp_gbdt_predict(const lp_gbdt *m, const float *rows, size_t n_rows, size_t stride, double *out);
void lp_gbdt_predict_margin(const lp_gbdt *m, const float *rows, size_t n_rows, size_t stride,
                            double *out);

#endif
