/*
 * train.c: XGBoost through its C API (opened with dlopen), the model's sidecar, and the validation
 * metrics (train.h).
 */
#include "train/train.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/file.h"

#if defined(__has_include)
#if __has_include(<xgboost/c_api.h>)
#include <xgboost/c_api.h>
#define LP_HAVE_XGBOOST_H 1
#endif
#endif

/* ---- metrics -------------------------------------------------------------------------------------- */

typedef struct scored_row {
  double s;
  float label;
  const char *domain;
} scored_row;

static int cmp_scored(const void *a, const void *b) {
  const scored_row *x = a, *y = b;
  if (x->s != y->s) return x->s > y->s ? -1 : 1;
  return strcmp(x->domain, y->domain);
}

static int cmp_label(const void *a, const void *b) {
  float x = ((const scored_row *)a)->label, y = ((const scored_row *)b)->label;
  return x > y ? -1 : x < y;
}

/* Whether a row has a label: always with outcomes, only with a verdict with llm labels. */
static int row_known(const lp_dataset *d, const lp_train_row *r) {
  return d->labels != LP_LABELS_LLM || r->has_judgment;
}

lp_train_metrics lp_train_evaluate(const lp_dataset *d, const lp_gbdt *m, uint32_t k, size_t *scored) {
  lp_train_metrics out = { 0, 0 };
  size_t n = 0;
  for (size_t qi = d->n_valid_first; qi < d->n_q; qi++) {
    const lp_train_query *q = &d->q[qi];
    scored_row *v = lp_malloc((q->n_rows ? q->n_rows : 1) * sizeof(*v));
    if (v == NULL) continue;
    uint32_t nv = 0, pos = 0;
    for (uint32_t i = 0; i < q->n_rows; i++) {
      const lp_train_row *r = &q->rows[i];
      if (!row_known(d, r)) continue;
      double s = r->v0;
      if (m != NULL) lp_gbdt_predict(m, r->f, 1, LP_FEATURES_N, &s);
      v[nv++] = (scored_row){ s, r->label, r->domain };
      pos += r->label > 0;
    }
    if (pos > 0) {
      qsort(v, nv, sizeof(*v), cmp_scored);
      double dcg = 0, idcg = 0, hits = 0;
      for (uint32_t i = 0; i < nv && i < k; i++) {
        hits += v[i].label > 0;
        dcg += (exp2(v[i].label) - 1) / log2(i + 2.0);
      }
      qsort(v, nv, sizeof(*v), cmp_label);
      for (uint32_t i = 0; i < nv && i < k; i++) idcg += (exp2(v[i].label) - 1) / log2(i + 2.0);
      out.p += hits / k;
      out.ndcg += idcg > 0 ? dcg / idcg : 0;
      n++;
    }
    lp_free(v);
  }
  if (n > 0) {
    out.p /= (double)n;
    out.ndcg /= (double)n;
  }
  *scored = n;
  return out;
}

/* ---- the sidecar ---------------------------------------------------------------------------------- */

static int write_sidecar(const char *out_path, const lp_train_params *p, const lp_dataset *d, char *errstr,
                         size_t errstr_size) {
  lp_buf b = LP_BUF_INIT, path = LP_BUF_INIT;
  const char *base = strrchr(out_path, '/');
  base = base ? base + 1 : out_path;
  char name[128];
  snprintf(name, sizeof(name), "%s", p->name && p->name[0] ? p->name : base);
  char *dot = p->name && p->name[0] ? NULL : strrchr(name, '.');
  if (dot && dot != name) *dot = '\0';
  int rc = lp_buf_puts(&b, "{\"version\":\"" LP_FEATURES_VERSION "\",\"features\":[");
  for (uint32_t i = 0; i < LP_FEATURES_N; i++) rc |= lp_buf_printf(&b, "%s\"%s\"", i ? "," : "", lp_feature_name(i));
  rc |= lp_buf_puts(&b, "],\"name\":");
  rc |= lp_buf_json_str(&b, name, strlen(name));
  rc |= lp_buf_printf(&b, ",\"objective\":\"%s\",\"labels\":\"%s\",\"trained_at_ms\":%lld,\"cut_ms\":%lld}\n",
                      p->objective, p->labels == LP_LABELS_LLM ? "llm" : "outcomes", (long long)time(NULL) * 1000,
                      (long long)d->cut_ms);
  rc |= lp_buf_printf(&path, "%s.features", out_path);
  if (rc != LP_OK) {
    snprintf(errstr, errstr_size, "out of memory");
    rc = LP_ENOMEM;
  } else {
    rc = lp_file_write_atomic(path.data, b.data, b.len, errstr, errstr_size);
  }
  lp_buf_free(&b);
  lp_buf_free(&path);
  return rc;
}

/* ---- XGBoost -------------------------------------------------------------------------------------- */

#ifndef LP_HAVE_XGBOOST_H
int lp_train_run(const lp_dataset *d, const lp_train_params *p, const char *out_path, lp_train_report *rep,
                 char *errstr, size_t errstr_size) {
  (void)d, (void)p, (void)out_path, (void)rep;
  snprintf(errstr, errstr_size, "built without xgboost/c_api.h: apt-get install libxgboost-dev and rebuild");
  return LP_ENOENT;
}
#else

typedef struct xgb {
  void *so;
  __typeof__(&XGBGetLastError) GetLastError;
  __typeof__(&XGDMatrixCreateFromMat) DMatrixCreateFromMat;
  __typeof__(&XGDMatrixSetFloatInfo) DMatrixSetFloatInfo;
  __typeof__(&XGDMatrixSetUIntInfo) DMatrixSetUIntInfo;
  __typeof__(&XGDMatrixFree) DMatrixFree;
  __typeof__(&XGBoosterCreate) BoosterCreate;
  __typeof__(&XGBoosterSetParam) BoosterSetParam;
  __typeof__(&XGBoosterSetStrFeatureInfo) BoosterSetStrFeatureInfo;
  __typeof__(&XGBoosterUpdateOneIter) BoosterUpdateOneIter;
  __typeof__(&XGBoosterSaveModel) BoosterSaveModel;
  __typeof__(&XGBoosterFree) BoosterFree;
} xgb;

static int xgb_open(xgb *x, char *errstr, size_t errstr_size) {
  x->so = dlopen("libxgboost.so.0", RTLD_NOW | RTLD_LOCAL);
  if (!x->so) x->so = dlopen("libxgboost.so", RTLD_NOW | RTLD_LOCAL);
  if (!x->so) {
    snprintf(errstr, errstr_size, "cannot open libxgboost (apt-get install libxgboost-dev): %s", dlerror());
    return LP_ENOENT;
  }
#define SYM(field, name)                                                                   \
  if (!(*(void **)(&x->field) = dlsym(x->so, #name))) {                                    \
    snprintf(errstr, errstr_size, "libxgboost: %s not found", #name);                      \
    dlclose(x->so);                                                                        \
    return LP_ENOENT;                                                                      \
  }
  SYM(GetLastError, XGBGetLastError)
  SYM(DMatrixCreateFromMat, XGDMatrixCreateFromMat)
  SYM(DMatrixSetFloatInfo, XGDMatrixSetFloatInfo)
  SYM(DMatrixSetUIntInfo, XGDMatrixSetUIntInfo)
  SYM(DMatrixFree, XGDMatrixFree)
  SYM(BoosterCreate, XGBoosterCreate)
  SYM(BoosterSetParam, XGBoosterSetParam)
  SYM(BoosterSetStrFeatureInfo, XGBoosterSetStrFeatureInfo)
  SYM(BoosterUpdateOneIter, XGBoosterUpdateOneIter)
  SYM(BoosterSaveModel, XGBoosterSaveModel)
  SYM(BoosterFree, XGBoosterFree)
#undef SYM
  return LP_OK;
}

/* The training rows, their labels and the group sizes (rows per query, in query order). */
typedef struct matrix {
  float *x, *y;
  unsigned *groups;
  size_t n_rows, n_groups;
} matrix;

static int build_matrix(const lp_dataset *d, const lp_train_params *p, matrix *m, lp_train_report *rep) {
  size_t cap = 0;
  for (size_t qi = 0; qi < d->n_valid_first; qi++) cap += d->q[qi].n_rows;
  m->x = lp_malloc((cap ? cap : 1) * LP_FEATURES_N * sizeof(float));
  m->y = lp_malloc((cap ? cap : 1) * sizeof(float));
  m->groups = lp_malloc((d->n_valid_first ? d->n_valid_first : 1) * sizeof(unsigned));
  if (!m->x || !m->y || !m->groups) return LP_ENOMEM;
  for (size_t qi = 0; qi < d->n_valid_first; qi++) {
    const lp_train_query *q = &d->q[qi];
    unsigned g = 0;
    for (uint32_t i = 0; i < q->n_rows; i++) {
      const lp_train_row *r = &q->rows[i];
      if (p->labels == LP_LABELS_LLM && !r->has_judgment) continue;
      memcpy(m->x + m->n_rows * LP_FEATURES_N, r->f, sizeof(r->f));
      float y = r->label;
      if (strcmp(p->objective, "binary:logistic") == 0) y = y > 0 ? 1.0f : 0.0f;
      m->y[m->n_rows++] = y;
      rep->train_positive += y > 0;
      g++;
    }
    if (g > 0) m->groups[m->n_groups++] = g;
  }
  rep->train_rows = m->n_rows;
  rep->train_queries = m->n_groups;
  return LP_OK;
}

static int xgb_fail(xgb *x, const char *what, char *errstr, size_t errstr_size) {
  snprintf(errstr, errstr_size, "xgboost: %s: %s", what, x->GetLastError());
  return LP_EIO;
}

static int fit_and_save(xgb *x, const matrix *m, const lp_train_params *p, const char *tmp_path, char *errstr,
                        size_t errstr_size) {
  DMatrixHandle dm = NULL;
  BoosterHandle bst = NULL;
  int rc = LP_OK;
  char buf[64];
  const char *names[LP_FEATURES_N];
  for (uint32_t i = 0; i < LP_FEATURES_N; i++) names[i] = lp_feature_name(i);
  if (x->DMatrixCreateFromMat(m->x, m->n_rows, LP_FEATURES_N, NAN, &dm) != 0) return xgb_fail(x, "matrix", errstr, errstr_size);
  if (x->DMatrixSetFloatInfo(dm, "label", m->y, m->n_rows) != 0 ||
      (strncmp(p->objective, "rank:", 5) == 0 && x->DMatrixSetUIntInfo(dm, "group", m->groups, m->n_groups) != 0) ||
      x->BoosterCreate(&dm, 1, &bst) != 0) {
    rc = xgb_fail(x, "setup", errstr, errstr_size);
    goto out;
  }
  const char *params[][2] = { { "objective", p->objective }, { "eta", NULL }, { "max_depth", NULL },
                              { "seed", NULL }, { "nthread", "2" }, { "tree_method", "exact" } };
  char eta[32], depth[32];
  snprintf(eta, sizeof eta, "%g", p->eta);
  snprintf(depth, sizeof depth, "%u", p->depth);
  snprintf(buf, sizeof buf, "%llu", (unsigned long long)p->seed);
  params[1][1] = eta;
  params[2][1] = depth;
  params[3][1] = buf;
  for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++)
    if (x->BoosterSetParam(bst, params[i][0], params[i][1]) != 0) {
      rc = xgb_fail(x, params[i][0], errstr, errstr_size);
      goto out;
    }
  if (x->BoosterSetStrFeatureInfo(bst, "feature_name", names, LP_FEATURES_N) != 0) {
    rc = xgb_fail(x, "feature names", errstr, errstr_size);
    goto out;
  }
  for (uint32_t it = 0; it < p->rounds; it++)
    if (x->BoosterUpdateOneIter(bst, (int)it, dm) != 0) {
      rc = xgb_fail(x, "training", errstr, errstr_size);
      goto out;
    }
  if (x->BoosterSaveModel(bst, tmp_path) != 0) rc = xgb_fail(x, "save", errstr, errstr_size);
out:
  if (bst) x->BoosterFree(bst);
  if (dm) x->DMatrixFree(dm);
  return rc;
}

int lp_train_run(const lp_dataset *d, const lp_train_params *p, const char *out_path, lp_train_report *rep,
                 char *errstr, size_t errstr_size) {
  memset(rep, 0, sizeof(*rep));
  matrix m = { 0 };
  xgb x;
  int rc = build_matrix(d, p, &m, rep);
  if (rc == LP_OK && rep->train_positive == 0) {
    snprintf(errstr, errstr_size, "no positive label among %zu training rows: nothing to learn (more history, or a "
             "longer --horizon)", rep->train_rows);
    rc = LP_EINVAL;
  }
  if (rc == LP_ENOMEM) snprintf(errstr, errstr_size, "out of memory");
  if (rc == LP_OK) rc = xgb_open(&x, errstr, errstr_size);
  lp_buf tmp = LP_BUF_INIT;
  if (rc == LP_OK) {
    /* XGBoost picks the format by the name's extension: .json. Written aside, then renamed in place. */
    if (lp_buf_printf(&tmp, "%s.tmp.json", out_path) != LP_OK) rc = LP_ENOMEM;
    if (rc == LP_OK) rc = fit_and_save(&x, &m, p, tmp.data, errstr, errstr_size);
    dlclose(x.so);
  }
  if (rc == LP_OK && rename(tmp.data, out_path) != 0) {
    snprintf(errstr, errstr_size, "%s: cannot rename into place", out_path);
    rc = LP_EIO;
  }
  if (rc == LP_OK) rc = write_sidecar(out_path, p, d, errstr, errstr_size);
  lp_gbdt *model = NULL;
  if (rc == LP_OK) rc = lp_gbdt_load_file(out_path, LP_GBDT_AUTO, LP_FEATURES_N, &model, errstr, errstr_size);
  if (rc == LP_OK) {
    for (size_t qi = d->n_valid_first; qi < d->n_q; qi++) rep->valid_rows += d->q[qi].n_rows;
    rep->valid_queries = d->n_q - d->n_valid_first;
    size_t s1 = 0, s2 = 0;
    rep->model = lp_train_evaluate(d, model, p->k, &s1);
    rep->v0 = lp_train_evaluate(d, NULL, p->k, &s2);
    rep->valid_scored = s1;
  }
  lp_gbdt_free(model);
  lp_buf_free(&tmp);
  lp_free(m.x);
  lp_free(m.y);
  lp_free(m.groups);
  return rc;
}
#endif
