/*
 * xgb_api.h: XGBoost's C API (Debian's libxgboost-dev) opened with dlopen, so the model tests build
 * without it and skip with a message when the library is absent. The function types come from
 * XGBoost's own header, so a signature mismatch fails to compile rather than at run time.
 */
#ifndef LP_TEST_XGB_API_H
#define LP_TEST_XGB_API_H

#include <dlfcn.h>
#include <stddef.h>

#if defined(__has_include)
#if __has_include(<xgboost/c_api.h>)
#include <xgboost/c_api.h>
#define LP_TEST_HAVE_XGBOOST_H 1
#endif
#endif

#ifdef LP_TEST_HAVE_XGBOOST_H
typedef struct xgb_api {
  void *so;
  __typeof__(&XGBGetLastError) GetLastError;
  __typeof__(&XGDMatrixCreateFromMat) DMatrixCreateFromMat;
  __typeof__(&XGDMatrixSetFloatInfo) DMatrixSetFloatInfo;
  __typeof__(&XGDMatrixSetUIntInfo) DMatrixSetUIntInfo;
  __typeof__(&XGBoosterSetStrFeatureInfo) BoosterSetStrFeatureInfo;
  __typeof__(&XGDMatrixFree) DMatrixFree;
  __typeof__(&XGBoosterCreate) BoosterCreate;
  __typeof__(&XGBoosterSetParam) BoosterSetParam;
  __typeof__(&XGBoosterUpdateOneIter) BoosterUpdateOneIter;
  __typeof__(&XGBoosterSaveModel) BoosterSaveModel;
  __typeof__(&XGBoosterPredict) BoosterPredict;
  __typeof__(&XGBoosterPredictFromDMatrix) BoosterPredictFromDMatrix;
  __typeof__(&XGBoosterFree) BoosterFree;
} xgb_api;

/* Opens libxgboost and resolves the functions; 0 on success, else -1 with dlerror()'s text in why. */
static inline int xgb_api_open(xgb_api *x, const char **why) {
  x->so = dlopen("libxgboost.so.0", RTLD_NOW | RTLD_LOCAL);
  if (!x->so) x->so = dlopen("libxgboost.so", RTLD_NOW | RTLD_LOCAL);
  if (!x->so) {
    *why = dlerror();
    return -1;
  }
#define XGB_SYM(field, name) \
  if (!(*(void **)(&x->field) = dlsym(x->so, #name))) { *why = #name " not found"; return -1; }
  XGB_SYM(GetLastError, XGBGetLastError)
  XGB_SYM(DMatrixCreateFromMat, XGDMatrixCreateFromMat)
  XGB_SYM(DMatrixSetFloatInfo, XGDMatrixSetFloatInfo)
  XGB_SYM(DMatrixSetUIntInfo, XGDMatrixSetUIntInfo)
  XGB_SYM(BoosterSetStrFeatureInfo, XGBoosterSetStrFeatureInfo)
  XGB_SYM(DMatrixFree, XGDMatrixFree)
  XGB_SYM(BoosterCreate, XGBoosterCreate)
  XGB_SYM(BoosterSetParam, XGBoosterSetParam)
  XGB_SYM(BoosterUpdateOneIter, XGBoosterUpdateOneIter)
  XGB_SYM(BoosterSaveModel, XGBoosterSaveModel)
  XGB_SYM(BoosterPredict, XGBoosterPredict)
  XGB_SYM(BoosterPredictFromDMatrix, XGBoosterPredictFromDMatrix)
  XGB_SYM(BoosterFree, XGBoosterFree)
#undef XGB_SYM
  return 0;
}
#endif

#endif
