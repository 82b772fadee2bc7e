/*
 * The XGBoost JSON loader on a hand-written one-tree model (needs no libxgboost): its predictions by
 * hand, then every refusal: corrupt or truncated JSON, missing fields, arrays of the wrong length, child
 * out of range, cycles, feature counts, categorical splits and unsupported boosters or objectives.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/gbdt.h"

/* x1 < 0.5 (missing: left) -> -1.25, else 2.5; base_score 0.5 (identity link adds it as is). */
static const char MODEL[] =
  "{\"learner\":{\"feature_names\":[],\"feature_types\":[],"
  "\"gradient_booster\":{\"model\":{\"gbtree_model_param\":{\"num_parallel_tree\":\"1\",\"num_trees\":\"1\"},"
  "\"tree_info\":[0],\"trees\":[{\"id\":0,\"tree_param\":{\"num_deleted\":\"0\",\"num_feature\":\"2\","
  "\"num_nodes\":\"3\",\"size_leaf_vector\":\"0\"},\"left_children\":[1,-1,-1],\"right_children\":[2,-1,-1],"
  "\"split_indices\":[1,0,0],\"split_conditions\":[0.5,-1.25,2.5],\"default_left\":[1,0,0],"
  "\"split_type\":[0,0,0],\"base_weights\":[0,-4,8]}]},\"name\":\"gbtree\"},"
  "\"learner_model_param\":{\"base_score\":\"5E-1\",\"num_class\":\"0\",\"num_feature\":\"2\","
  "\"num_target\":\"1\"},\"objective\":{\"name\":\"reg:squarederror\"}},\"version\":[1,7,4]}";

/* MODEL with the first `from` replaced by `to`, loaded with expect features; returns the code. */
static int load_edited(const char *from, const char *to, uint32_t expect, lp_gbdt **out, char *err, size_t errsz) {
  const char *at = strstr(MODEL, from);
  cr_assert_not_null(at, "model has no %s", from);
  const size_t nf = strlen(from), nt = strlen(to), len = sizeof MODEL - 1;
  char *e = malloc(len - nf + nt + 1);
  cr_assert_not_null(e);
  memcpy(e, MODEL, (size_t)(at - MODEL));
  memcpy(e + (at - MODEL), to, nt);
  memcpy(e + (at - MODEL) + nt, at + nf, len - (size_t)(at - MODEL) - nf + 1);
  int rc = lp_gbdt_load(e, strlen(e), LP_GBDT_AUTO, expect, out, err, errsz);
  free(e);
  return rc;
}

static void refused(const char *from, const char *to, uint32_t expect, int code, const char *needle) {
  lp_gbdt *m = NULL;
  char err[256] = "";
  cr_assert_eq(load_edited(from, to, expect, &m, err, sizeof err), code, "%s -> %s: %s", from, to, err);
  cr_assert_null(m);
  cr_assert(strstr(err, needle), "%s -> %s: \"%s\" lacks \"%s\"", from, to, err, needle);
}

Test(model_xgboost_json, by_hand) {
  lp_gbdt *m = NULL;
  char err[256] = "";
  cr_assert_eq(lp_gbdt_load(MODEL, sizeof MODEL - 1, LP_GBDT_AUTO, 2, &m, err, sizeof err), LP_OK, "%s", err);
  const float rows[][2] = { { 9, 0.25f }, { 9, 0.5f }, { 9, NAN }, { NAN, nextafterf(0.5f, 0.0f) }, { 0, 7 } };
  const double want[] = { -0.75, 3.0, -0.75, -0.75, 3.0 };
  double got[5];
  lp_gbdt_predict(m, &rows[0][0], 5, 2, got);
  for (int i = 0; i < 5; i++) cr_assert_float_eq(got[i], want[i], 1e-12, "row %d: %g", i, got[i]);
  cr_assert_eq(lp_gbdt_num_outputs(m), 1);
  lp_gbdt_free(m);
}

Test(model_xgboost_json, logistic_base_margin) {
  lp_gbdt *m = NULL;
  char err[256] = "";
  cr_assert_eq(load_edited("reg:squarederror", "binary:logistic", 2, &m, err, sizeof err), LP_OK, "%s", err);
  const float row[2] = { 0, 0 };
  double p, margin;
  lp_gbdt_predict_margin(m, row, 1, 2, &margin);
  lp_gbdt_predict(m, row, 1, 2, &p);
  cr_assert_float_eq(margin, -1.25, 1e-7);  /* base 0.5 is margin 0 */
  cr_assert_float_eq(p, 1.0 / (1.0 + exp(1.25)), 1e-6);
  lp_gbdt_free(m);
}

Test(model_xgboost_json, corrupt_and_truncated) {
  refused("{\"learner\":{", "{\"learner\":{,", 0, LP_EINVAL, "not valid JSON");
  lp_gbdt *m = NULL;
  char err[256];
  for (size_t cut = 1; cut < sizeof MODEL - 1; cut += 11) {
    err[0] = '\0';
    cr_assert_neq(lp_gbdt_load(MODEL, cut, LP_GBDT_XGBOOST_JSON, 0, &m, err, sizeof err), LP_OK, "cut %zu", cut);
    cr_assert_null(m);
    cr_assert(strstr(err, "xgboost"), "%s", err);
  }
  cr_assert_eq(lp_gbdt_load("hello", 5, LP_GBDT_AUTO, 0, &m, err, sizeof err), LP_EINVAL);
  cr_assert(strstr(err, "neither XGBoost JSON"), "%s", err);
  cr_assert_eq(lp_gbdt_load_file("/nonexistent/model.json", LP_GBDT_AUTO, 0, &m, err, sizeof err), LP_ENOENT);
  cr_assert(strstr(err, "/nonexistent/model.json"), "%s", err);
}

Test(model_xgboost_json, missing_fields) {
  refused("\"left_children\"", "\"left_kids\"", 0, LP_EINVAL, "tree 0: left_children is missing");
  refused("\"split_conditions\"", "\"conditions\"", 0, LP_EINVAL, "tree 0: split_conditions is missing");
  refused("\"learner_model_param\"", "\"params\"", 0, LP_EINVAL, "learner.learner_model_param is missing");
  refused("\"objective\"", "\"objectif\"", 0, LP_EINVAL, "learner.objective is missing");
  refused("\"num_feature\":\"2\",\"num_target\"", "\"num_target\"", 0, LP_EINVAL, "num_feature is missing");
  refused("\"tree_info\"", "\"info\"", 0, LP_EINVAL, "tree_info is missing");
  refused("\"base_score\":\"5E-1\"", "\"base_score\":\"half\"", 0, LP_EINVAL, "base_score = \"half\" is not a number");
}

Test(model_xgboost_json, wrong_lengths) {
  refused("\"split_conditions\":[0.5,-1.25,2.5]", "\"split_conditions\":[0.5,-1.25]", 0, LP_EINVAL,
          "tree 0: split_conditions has 2 entries, num_nodes is 3");
  refused("\"num_trees\":\"1\"", "\"num_trees\":\"2\"", 0, LP_EINVAL, "num_trees is 2");
  refused("\"tree_info\":[0]", "\"tree_info\":[1]", 0, LP_EINVAL, "tree_info[0]");
  refused("\"split_indices\":[1,0,0]", "\"split_indices\":[1.5,0,0]", 0, LP_EINVAL, "split_indices[0] is not an integer");
}

Test(model_xgboost_json, child_out_of_range) {
  refused("\"left_children\":[1,-1,-1]", "\"left_children\":[7,-1,-1]", 0, LP_EINVAL,
          "tree 0: node 0: left child 7 is out of range (3 nodes)");
  refused("\"right_children\":[2,-1,-1]", "\"right_children\":[2,5,-1]", 0, LP_EINVAL,
          "node 1 has left child -1 but right child 5");
}

Test(model_xgboost_json, cycles) {
  refused("\"left_children\":[1,-1,-1],\"right_children\":[2,-1,-1]",
          "\"left_children\":[1,0,-1],\"right_children\":[2,2,-1]", 0, LP_EINVAL, "tree 0: node 0 is reached twice");
  refused("\"right_children\":[2,-1,-1]", "\"right_children\":[1,-1,-1]", 0, LP_EINVAL, "node 1 is reached twice");
}

Test(model_xgboost_json, feature_counts) {
  refused("\"split_indices\":[1,0,0]", "\"split_indices\":[2,0,0]", 0, LP_EINVAL, "node 0 splits on feature 2");
  refused("{\"learner\"", "{\"learner\"", 3, LP_ERANGE, "the model has 2 features, 3 expected");
  refused("\"feature_names\":[]", "\"feature_names\":[\"a\"]", 0, LP_EINVAL, "feature_names has 1 names");
}

Test(model_xgboost_json, unsupported) {
  refused("\"split_type\":[0,0,0]", "\"split_type\":[1,0,0]", 0, LP_EINVAL, "tree 0: node 0 is a categorical split");
  refused("\"name\":\"gbtree\"", "\"name\":\"dart\"", 0, LP_EINVAL, "booster \"dart\"");
  refused("reg:squarederror", "multi:softmax", 0, LP_EINVAL, "multi:softprob");
  refused("reg:squarederror", "reg:mystery", 0, LP_EINVAL, "objective \"reg:mystery\" is not supported");
  refused("\"size_leaf_vector\":\"0\"}", "\"size_leaf_vector\":\"3\"}", 0, LP_EINVAL, "vector leaves");
  refused("\"split_conditions\":[0.5", "\"split_conditions\":[-1e39", 0, LP_EINVAL, "split_conditions[0] is not a usable threshold");
}
