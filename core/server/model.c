/*
 * model.c: the learned model of the query path, its reload, and the training log (model.h).
 */
#include "server/model.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/file.h"
#include "base/log.h"
#include "metrics/metrics.h"
#include "query/features.h"
#include "server/answers.h"
#include "stages/ingest/ingest.h"

struct lp_model_ref {
  lp_gbdt *gbdt;
  uint32_t refs;      /* the current slot's one, plus one per query holding it; reactor only */
  char name[128];
};

/* One served variant: without an A/B test, the one of scoring.model (name ""). What it delivered and
 * the outcomes credited to it count from the start of the process. */
typedef struct variant {
  lp_variant_spec spec;
  lp_model_ref *current;
  uint64_t queries, leads, converted;
  uint64_t outcomes[LP_EVENT__COUNT];
  lp_metric *m_queries;
  lp_metric *m_outcomes[LP_EVENT__COUNT];
} variant;

/* One set per process (the server runs once per process), reactor only. */
static variant g_var[LP_VARIANTS_MAX];
static uint32_t g_n_var = 1;         /* >= 1 */
static int g_experiment;             /* scoring.variants is set */
static lp_answers *g_answers;        /* with an A/B test: answers and their variant, for outcome credit */
static lp_trainlog *g_log;

static void ref_free(lp_model_ref *m) {
  if (m == NULL) return;
  lp_gbdt_free(m->gbdt);
  lp_free(m);
}

lp_model_ref *lp__model_acquire(void) { return lp__model_acquire_variant(0); }

lp_model_ref *lp__model_acquire_variant(uint32_t v) {
  lp_model_ref *m = v < g_n_var ? g_var[v].current : NULL;
  if (m) m->refs++;
  return m;
}

void lp__model_release(lp_model_ref *m) {
  if (m != NULL && --m->refs == 0) ref_free(m);
}

const lp_gbdt *lp__model_gbdt(const lp_model_ref *m) { return m ? m->gbdt : NULL; }
const char *lp__model_name(const lp_model_ref *m) { return m ? m->name : "v0"; }
lp_trainlog *lp__trainlog(void) { return g_log; }

/* The sidecar <path>.features against the features this server computes; fills name (the sidecar's
 * "name", else the model file's base name). */
static int check_sidecar(const char *path, char *name, size_t name_cap, char *errstr, size_t errstr_size) {
  lp_buf side = LP_BUF_INIT, sp = LP_BUF_INIT;
  int rc = lp_buf_printf(&sp, "%s.features", path);
  if (rc != LP_OK) {
    snprintf(errstr, errstr_size, "out of memory");
    return LP_ENOMEM;
  }
  rc = lp_file_read(sp.data, &side, errstr, errstr_size);
  if (rc == LP_ENOENT)
    snprintf(errstr, errstr_size, "%s: missing (the feature list of the model, written by leadpoet train)", sp.data);
  json_error_t je;
  json_t *j = rc == LP_OK ? json_loadb(side.data ? side.data : "", side.len, 0, &je) : NULL;
  if (rc == LP_OK && j == NULL) {
    snprintf(errstr, errstr_size, "%s: not JSON: %s (line %d)", sp.data, je.text, je.line);
    rc = LP_EINVAL;
  }
  const char *version = j ? json_string_value(json_object_get(j, "version")) : NULL;
  json_t *names = j ? json_object_get(j, "features") : NULL;
  if (rc == LP_OK && (version == NULL || !json_is_array(names))) {
    snprintf(errstr, errstr_size, "%s: needs \"version\" (string) and \"features\" (array)", sp.data);
    rc = LP_EINVAL;
  } else if (rc == LP_OK && strcmp(version, LP_FEATURES_VERSION) != 0) {
    snprintf(errstr, errstr_size, "model expects features %s, this server computes %s", version, LP_FEATURES_VERSION);
    rc = LP_ERANGE;
  } else if (rc == LP_OK && json_array_size(names) != LP_FEATURES_N) {
    snprintf(errstr, errstr_size, "model expects %zu features, this server computes %u", json_array_size(names),
             (unsigned)LP_FEATURES_N);
    rc = LP_ERANGE;
  }
  for (uint32_t i = 0; rc == LP_OK && i < LP_FEATURES_N; i++) {
    const char *n = json_string_value(json_array_get(names, i));
    if (n == NULL || strcmp(n, lp_feature_name(i)) != 0) {
      snprintf(errstr, errstr_size, "model feature %u is %s, this server computes %s there", i, n ? n : "(not a string)",
               lp_feature_name(i));
      rc = LP_ERANGE;
    }
  }
  if (rc == LP_OK) {
    const char *given = json_string_value(json_object_get(j, "name"));
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(name, name_cap, "%s", given && given[0] ? given : base);
    if (!given || !given[0]) {
      char *dot = strrchr(name, '.');
      if (dot && dot != name) *dot = '\0';
    }
  }
  json_decref(j);
  lp_buf_free(&side);
  lp_buf_free(&sp);
  return rc;
}

int lp__model_load(const char *path, lp_model_ref **out, char *errstr, size_t errstr_size) {
  lp_model_ref *m = lp_calloc(1, sizeof(*m));
  if (m == NULL) {
    snprintf(errstr, errstr_size, "out of memory");
    return LP_ENOMEM;
  }
  int rc = check_sidecar(path, m->name, sizeof(m->name), errstr, errstr_size);
  if (rc == LP_OK) rc = lp_gbdt_load_file(path, LP_GBDT_AUTO, LP_FEATURES_N, &m->gbdt, errstr, errstr_size);
  if (rc == LP_OK && lp_gbdt_num_outputs(m->gbdt) != 1) {
    snprintf(errstr, errstr_size, "%s: %u outputs per row, a ranking model has one", path, lp_gbdt_num_outputs(m->gbdt));
    rc = LP_EINVAL;
  }
  for (uint32_t i = 0; rc == LP_OK && i < LP_FEATURES_N; i++) {
    const char *n = lp_gbdt_feature_name(m->gbdt, i);
    if (n != NULL && strcmp(n, lp_feature_name(i)) != 0) {
      snprintf(errstr, errstr_size, "%s: feature %u is named %s in the model, this server computes %s", path, i, n,
               lp_feature_name(i));
      rc = LP_ERANGE;
    }
  }
  if (rc != LP_OK) {
    ref_free(m);
    return rc;
  }
  m->refs = 1;
  *out = m;
  return LP_OK;
}

/* ---- the variants: parsed, loaded and installed together ------------------------------------------ */

static int name_ok(const char *s, size_t len) {
  if (len == 0 || len > LP_VARIANT_NAME_MAX) return 0;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return 0;
  }
  return 1;
}

/* One entry "[NAME=]PATH:SHARE" of [p, e), spaces around it trimmed. */
static int parse_entry(const char *p, const char *e, lp_variant_spec *v, char *errstr, size_t errstr_size) {
  while (p < e && (*p == ' ' || *p == '\t')) p++;
  while (e > p && (e[-1] == ' ' || e[-1] == '\t')) e--;
  const char *colon = e;
  while (colon > p && colon[-1] != ':') colon--;
  if (colon == p) {
    snprintf(errstr, errstr_size, "\"%.*s\" needs :SHARE (a percent)", (int)(e - p), p);
    return LP_EINVAL;
  }
  char num[8] = "";
  size_t nl = (size_t)(e - colon);
  char *end = NULL;
  long share = -1;
  if (nl > 0 && nl < sizeof(num)) {
    memcpy(num, colon, nl);
    num[nl] = '\0';
    share = strtol(num, &end, 10);
  }
  if (end == NULL || *end != '\0' || share < 0 || share > 100) {
    snprintf(errstr, errstr_size, "the share of \"%.*s\" must be an integer percent 0..100", (int)(e - p), p);
    return LP_EINVAL;
  }
  const char *left_end = colon - 1, *eq = memchr(p, '=', (size_t)(left_end - p));
  const char *path = eq ? eq + 1 : p, *name = p;
  size_t path_len = (size_t)(left_end - path), name_len = eq ? (size_t)(eq - p) : 0;
  if (path_len == 0 || path_len >= sizeof(v->path)) {
    snprintf(errstr, errstr_size, "\"%.*s\" needs a model path (or v0) of 1..%zu bytes", (int)(e - p), p,
             sizeof(v->path) - 1);
    return LP_EINVAL;
  }
  memcpy(v->path, path, path_len);
  v->path[path_len] = '\0';
  if (!eq) {  /* the file's base name without its extension; "v0" for v0 */
    name = strrchr(v->path, '/');
    name = name ? name + 1 : v->path;
    const char *dot = strrchr(name, '.');
    name_len = dot && dot != name ? (size_t)(dot - name) : strlen(name);
  }
  if (!name_ok(name, name_len)) {
    snprintf(errstr, errstr_size, "variant name \"%.*s\" must be 1..%d of [A-Za-z0-9._-]", (int)name_len,
             name, LP_VARIANT_NAME_MAX);
    return LP_EINVAL;
  }
  memmove(v->name, name, name_len);
  v->name[name_len] = '\0';
  v->share = (uint32_t)share;
  return LP_OK;
}

int lp__variants_parse(const char *spec, lp_variant_spec *out, uint32_t *n, char *errstr, size_t errstr_size) {
  *n = 0;
  uint32_t total = 0;
  const char *p = spec;
  while (p != NULL && *p != '\0') {
    const char *e = strchr(p, ',');
    if (e == NULL) e = p + strlen(p);
    if (*n == LP_VARIANTS_MAX) {
      snprintf(errstr, errstr_size, "at most %d variants", LP_VARIANTS_MAX);
      return LP_EINVAL;
    }
    lp_variant_spec *v = &out[*n];
    memset(v, 0, sizeof(*v));
    int rc = parse_entry(p, e, v, errstr, errstr_size);
    if (rc != LP_OK) return rc;
    for (uint32_t i = 0; i < *n; i++)
      if (strcmp(out[i].name, v->name) == 0) {
        snprintf(errstr, errstr_size, "variant %s is named twice", v->name);
        return LP_EINVAL;
      }
    total += v->share;
    (*n)++;
    p = *e ? e + 1 : e;
  }
  if (*n == 0) {
    snprintf(errstr, errstr_size, "no variant");
    return LP_EINVAL;
  }
  if (total != 100) {
    snprintf(errstr, errstr_size, "the shares sum to %u, they must sum to 100", total);
    return LP_EINVAL;
  }
  return LP_OK;
}

/* Loads the model of every path (NULL or "v0" = v0) into out[]; all or nothing. names[] (NULL without an
 * A/B test) name the variants in the error. Any thread: it reads nothing but its arguments. */
static int load_all(char *const *paths, const char *const *names, uint32_t n, lp_model_ref **out, char *errstr,
                    size_t errstr_size) {
  for (uint32_t i = 0; i < n; i++) out[i] = NULL;
  for (uint32_t i = 0; i < n; i++) {
    if (paths[i] == NULL || strcmp(paths[i], "v0") == 0) continue;
    char err[448] = "";
    int rc = lp__model_load(paths[i], &out[i], err, sizeof(err));
    if (rc != LP_OK) {
      if (names) snprintf(errstr, errstr_size, "variant %s: %s", names[i], err);
      else snprintf(errstr, errstr_size, "%s", err);
      for (uint32_t k = 0; k < i; k++) ref_free(out[k]);
      return rc;
    }
  }
  return LP_OK;
}

/* Makes models[] the current ones (their references become the slots'); each previous one goes when
 * its last query lets go. */
static void install_all(lp_model_ref **models) {
  for (uint32_t i = 0; i < g_n_var; i++) {
    lp_model_ref *old = g_var[i].current;
    g_var[i].current = models[i];
    lp__model_release(old);
  }
}

/* The series of every variant: queries, and outcomes by event. */
static int register_metrics(lp_server *srv) {
  static const char *const qlabels[] = { "variant" }, *const olabels[] = { "variant", "event" };
  lp_metric_family *fq = lp_metrics_family(srv->metrics, LP_METRIC_COUNTER, "leadpoet_experiment_queries_total",
                                           "Queries answered in the A/B test, by variant.", qlabels, 1, NULL, 0);
  lp_metric_family *fo = lp_metrics_family(srv->metrics, LP_METRIC_COUNTER, "leadpoet_experiment_outcomes_total",
                                           "Outcomes credited to an A/B variant through their query_id, by variant and event.",
                                           olabels, 2, NULL, 0);
  if (fq == NULL || fo == NULL) return LP_ENOMEM;
  for (uint32_t i = 0; i < g_n_var; i++) {
    const char *qv[] = { g_var[i].spec.name };
    if ((g_var[i].m_queries = lp_metrics_series(fq, qv)) == NULL) return LP_ENOMEM;
    for (uint32_t e = 0; e < LP_EVENT__COUNT; e++) {
      const char *ov[] = { g_var[i].spec.name, lp_outcome_event_name(e) };
      if ((g_var[i].m_outcomes[e] = lp_metrics_series(fo, ov)) == NULL) return LP_ENOMEM;
    }
  }
  return LP_OK;
}

/* The variants of the configuration: scoring.variants, else one unnamed variant of scoring.model. */
static int configure(const lp_config *c, char *errstr, size_t errstr_size) {
  memset(g_var, 0, sizeof(g_var));
  g_n_var = 1;
  g_experiment = 0;
  if (c->scoring.variants == NULL || c->scoring.variants[0] == '\0') {
    const char *m = c->scoring.model && c->scoring.model[0] ? c->scoring.model : "v0";
    if (strlen(m) >= sizeof(g_var[0].spec.path)) {
      snprintf(errstr, errstr_size, "scoring.model: path longer than %zu bytes", sizeof(g_var[0].spec.path) - 1);
      return LP_EINVAL;
    }
    snprintf(g_var[0].spec.path, sizeof(g_var[0].spec.path), "%s", m);
    g_var[0].spec.share = 100;
    return LP_OK;
  }
  if (c->scoring.model && c->scoring.model[0]) {
    snprintf(errstr, errstr_size, "scoring.model and scoring.variants are both set: with an A/B test, name every model in "
                                  "scoring.variants");
    return LP_EINVAL;
  }
  lp_variant_spec spec[LP_VARIANTS_MAX];
  uint32_t n = 0;
  char why[256] = "";
  int rc = lp__variants_parse(c->scoring.variants, spec, &n, why, sizeof(why));
  if (rc != LP_OK) {
    snprintf(errstr, errstr_size, "scoring.variants: %s", why);
    return rc;
  }
  for (uint32_t i = 0; i < n; i++) g_var[i].spec = spec[i];
  g_n_var = n;
  g_experiment = 1;
  return LP_OK;
}

static void free_variants(void) {
  for (uint32_t i = 0; i < g_n_var; i++) {
    lp__model_release(g_var[i].current);
    g_var[i].current = NULL;
  }
  lp__answers_free(g_answers);
  g_answers = NULL;
}

int lp__model_start(lp_server *srv) {
  const lp_config *c = srv->cfg;
  char err[512] = "";
  int rc = configure(c, err, sizeof(err));
  char *paths[LP_VARIANTS_MAX];
  const char *names[LP_VARIANTS_MAX];
  for (uint32_t i = 0; i < g_n_var; i++) paths[i] = g_var[i].spec.path, names[i] = g_var[i].spec.name;
  lp_model_ref *models[LP_VARIANTS_MAX];
  if (rc == LP_OK && (rc = load_all(paths, g_experiment ? names : NULL, g_n_var, models, err, sizeof(err))) == LP_OK)
    install_all(models);
  if (rc == LP_OK && g_experiment) {
    rc = lp__answers_new(&g_answers, (size_t)c->scoring.experiment_answers, (size_t)c->scoring.experiment_bytes);
    if (rc == LP_OK) rc = register_metrics(srv);
    if (rc != LP_OK) snprintf(err, sizeof(err), "A/B test: %s", lp_strerror(rc));
  }
  if (rc != LP_OK) {
    lp_log_error("cannot load the model", "variants=\"%s\" model=%s err=\"%s\"", c->scoring.variants ? c->scoring.variants : "",
                 c->scoring.model ? c->scoring.model : "", err);
    free_variants();
    return LP_ECONFIG;
  }
  for (uint32_t i = 0; i < g_n_var; i++)
    if (g_var[i].current)
      lp_log_info("model loaded", "variant=%s path=%s name=%s trees=%u share=%u", g_var[i].spec.name, g_var[i].spec.path,
                  g_var[i].current->name, lp_gbdt_num_trees(g_var[i].current->gbdt), g_var[i].spec.share);
  if (c->scoring.train_log && c->scoring.train_log[0]) {
    rc = lp_trainlog_open(&g_log, &srv->loop, c->scoring.train_log, (uint64_t)c->scoring.train_log_max_bytes, err,
                          sizeof(err));
    if (rc != LP_OK) {
      lp_log_error("cannot open the training log", "err=\"%s\"", err);
      return LP_ECONFIG;
    }
  }
  return LP_OK;
}

void lp__model_free(void) {
  lp_trainlog_free(g_log);
  g_log = NULL;
  free_variants();
}

/* ---- reload off the reactor ----------------------------------------------------------------------- */

typedef struct reload_job {
  uv_work_t work;
  uint32_t n;
  char *path[LP_VARIANTS_MAX];       /* copies of the variants' paths, "v0" for v0 */
  char name[LP_VARIANTS_MAX][LP_VARIANT_NAME_MAX + 1];  /* and of their names */
  int named;                         /* an A/B test: errors name the variant */
  lp_model_ref *loaded[LP_VARIANTS_MAX];
  int rc;
  char err[512];
  void (*done)(void *ud, int rc, const char *msg);
  void *ud;
} reload_job;

static void job_free(reload_job *j) {
  for (uint32_t i = 0; i < j->n; i++) lp_free(j->path[i]);
  lp_free(j);
}

static void reload_work(uv_work_t *w) {
  reload_job *j = w->data;
  const char *names[LP_VARIANTS_MAX];
  for (uint32_t i = 0; i < j->n; i++) names[i] = j->name[i];
  j->rc = load_all(j->path, j->named ? names : NULL, j->n, j->loaded, j->err, sizeof(j->err));
}

static void reload_after(uv_work_t *w, int status) {
  reload_job *j = w->data;
  if (status != 0 && j->rc == LP_OK) {  /* cancelled: nothing was installed */
    for (uint32_t i = 0; i < j->n; i++) ref_free(j->loaded[i]);
    j->rc = LP_ECANCELED;
    snprintf(j->err, sizeof(j->err), "reload cancelled");
  }
  if (j->rc == LP_OK) {
    install_all(j->loaded);
    for (uint32_t i = 0; i < g_n_var; i++)
      lp_log_info("model reloaded", "variant=%s name=%s", g_var[i].spec.name, lp__model_name(g_var[i].current));
    snprintf(j->err, sizeof(j->err), "%s", lp__model_name(g_var[0].current));
  } else {
    lp_log_error("model reload refused, the running models stay", "running=%s err=\"%s\"", lp__model_name(g_var[0].current),
                 j->err);
  }
  if (j->done) j->done(j->ud, j->rc, j->err);
  job_free(j);
}

void lp__model_reload(lp_server *srv, void (*done)(void *ud, int rc, const char *msg), void *ud) {
  reload_job *j = lp_calloc(1, sizeof(*j));
  while (j != NULL && j->n < g_n_var) {
    uint32_t i = j->n++;
    memcpy(j->name[i], g_var[i].spec.name, sizeof(j->name[i]));
    if ((j->path[i] = lp_strdup(g_var[i].spec.path)) == NULL) {
      job_free(j);
      j = NULL;
    }
  }
  if (j == NULL) {
    if (done) done(ud, LP_ENOMEM, "out of memory");
    return;
  }
  j->named = g_experiment;
  j->done = done;
  j->ud = ud;
  j->work.data = j;
  int rc = uv_queue_work(&srv->loop, &j->work, reload_work, reload_after);
  if (rc != 0) {
    snprintf(j->err, sizeof(j->err), "cannot queue the reload: %s", uv_strerror(rc));
    if (done) done(ud, LP_EIO, j->err);
    job_free(j);
  }
}

static void reload_answered(void *ud, int rc, const char *msg) {
  lp_http_req *req = ud;
  if (rc == LP_ENOMEM) {
    lp_http_respond_error(req, 503, "overloaded", "%s", msg);
    return;
  }
  if (rc != LP_OK) {
    if (g_experiment) lp_http_respond_error(req, 400, "bad_model", "%s (the running models of every variant stay)", msg);
    else lp_http_respond_error(req, 400, "bad_model", "%s (the running model %s stays)", msg, lp__model_name(g_var[0].current));
    return;
  }
  lp_buf b = LP_BUF_INIT;
  lp_buf_puts(&b, "{\"model\":");
  lp_buf_json_str(&b, msg, strlen(msg));
  lp_buf_printf(&b, ",\"features\":%u,\"version\":\"%s\"", (unsigned)LP_FEATURES_N, LP_FEATURES_VERSION);
  if (g_experiment) {
    lp_buf_puts(&b, ",\"variants\":[");
    for (uint32_t i = 0; i < g_n_var; i++) {
      const char *m = lp__model_name(g_var[i].current);
      lp_buf_printf(&b, "%s{\"name\":\"%s\",\"model\":", i ? "," : "", g_var[i].spec.name);
      lp_buf_json_str(&b, m, strlen(m));
      lp_buf_puts(&b, "}");
    }
    lp_buf_puts(&b, "]");
  }
  lp_buf_puts(&b, "}");
  size_t len;
  char *body = lp_buf_steal(&b, &len);
  if (body == NULL) lp_http_respond_error(req, 503, "overloaded", "out of memory");
  else lp_http_respond_take(req, 200, "application/json", body, len);
}

void lp__route_admin_reload(lp_http_req *req, lp_str param, void *ud) {
  (void)param;
  lp__model_reload(ud, reload_answered, req);
}

/* ---- the A/B test: assignment, what each variant delivered and converted ------------------------ */

int lp__experiment_on(void) { return g_experiment; }
uint32_t lp__experiment_count(void) { return g_n_var; }
const char *lp__variant_name(uint32_t v) { return v < g_n_var ? g_var[v].spec.name : ""; }

uint32_t lp__variant_assign(const lp_variant_spec *spec, uint32_t n, const char *query_id, size_t len) {
  uint32_t bucket = (uint32_t)(XXH3_64bits(query_id, len) % 100u), at = 0;
  for (uint32_t i = 0; i < n; i++) {
    at += spec[i].share;
    if (bucket < at) return i;
  }
  return n ? n - 1 : 0;  /* shares that do not sum to 100: the rest goes to the last */
}

uint32_t lp__experiment_assign(const char *query_id, size_t len) {
  if (!g_experiment) return 0;
  lp_variant_spec spec[LP_VARIANTS_MAX];
  for (uint32_t i = 0; i < g_n_var; i++) spec[i] = g_var[i].spec;
  return lp__variant_assign(spec, g_n_var, query_id, len);
}

int lp__experiment_find(lp_str name, uint32_t *v, char *errstr, size_t errstr_size) {
  for (uint32_t i = 0; g_experiment && i < g_n_var; i++)
    if (strlen(g_var[i].spec.name) == name.len && memcmp(g_var[i].spec.name, name.ptr, name.len) == 0) {
      *v = i;
      return LP_OK;
    }
  if (!g_experiment) {
    snprintf(errstr, errstr_size, "X-Leadpoet-Variant: no A/B test is configured (scoring.variants)");
  } else {
    int at = snprintf(errstr, errstr_size, "X-Leadpoet-Variant: unknown variant \"%.*s\"; the variants are",
                      (int)(name.len < 64 ? name.len : 64), name.ptr);
    for (uint32_t i = 0; i < g_n_var && at > 0 && (size_t)at < errstr_size; i++)
      at += snprintf(errstr + at, errstr_size - (size_t)at, "%s %s", i ? "," : "", g_var[i].spec.name);
  }
  return LP_ENOENT;
}

void lp__experiment_answered(uint32_t v, const char *query_id, const lp_qhit *const *ranked, size_t n) {
  if (!g_experiment || v >= g_n_var) return;
  g_var[v].queries++;
  g_var[v].leads += n;
  lp_counter_add(g_var[v].m_queries, 1);
  lp_answer_builder ab;
  lp__answer_builder_init(&ab);
  for (size_t i = 0; i < n; i++) lp__answer_lead(&ab, ranked[i]->domain, strlen(ranked[i]->domain));
  ab.variant = (uint8_t)v;
  int rc = lp__answers_put(g_answers, query_id, strlen(query_id), &ab);
  if (rc != LP_OK) lp_log_warn("answer not remembered for A/B credit", "query_id=%s err=%s", query_id, lp_strerror(rc));
  lp__answer_builder_free(&ab);
}

static int positive_event(uint32_t e) {
  return e == LP_EVENT_REPLIED || e == LP_EVENT_MEETING || e == LP_EVENT_PURCHASED;
}

void lp__experiment_outcome(const lp_outcome *o) {
  if (!g_experiment || o->query_id.len == 0 || o->event >= LP_EVENT__COUNT) return;
  unsigned v = 0;
  int first = 0;
  if (lp__answers_credit(g_answers, o->query_id, o->domain, positive_event(o->event), &v, &first) != LP_OK || v >= g_n_var)
    return;  /* an answer the ring forgot, or a lead it did not return: no variant to credit */
  g_var[v].outcomes[o->event]++;
  g_var[v].converted += (uint64_t)first;
  lp_counter_add(g_var[v].m_outcomes[o->event], 1);
}

int lp__experiment_ztest(uint64_t x0, uint64_t n0, uint64_t x1, uint64_t n1, double *z, double *p) {
  if (n0 == 0 || n1 == 0 || x0 > n0 || x1 > n1) return LP_ERANGE;
  double p0 = (double)x0 / (double)n0, p1 = (double)x1 / (double)n1;
  double pooled = (double)(x0 + x1) / (double)(n0 + n1);
  double se = sqrt(pooled * (1.0 - pooled) * (1.0 / (double)n0 + 1.0 / (double)n1));
  if (!(se > 0)) return LP_ERANGE;  /* no conversion at all, or every lead converted: no variance */
  *z = (p1 - p0) / se;
  *p = erfc(fabs(*z) / sqrt(2.0));
  return LP_OK;
}

static void variant_json(lp_buf *b, uint32_t i) {
  const variant *v = &g_var[i];
  const char *model = lp__model_name(v->current);
  lp_buf_printf(b, "%s{\"name\":\"%s\",\"model\":", i ? "," : "", v->spec.name);
  lp_buf_json_str(b, model, strlen(model));
  lp_buf_printf(b, ",\"share\":%u,\"queries\":%llu,\"leads_delivered\":%llu,\"outcomes\":{", v->spec.share,
                (unsigned long long)v->queries, (unsigned long long)v->leads);
  for (uint32_t e = 0; e < LP_EVENT__COUNT; e++)
    lp_buf_printf(b, "%s\"%s\":%llu", e ? "," : "", lp_outcome_event_name(e), (unsigned long long)v->outcomes[e]);
  lp_buf_printf(b, "},\"positive\":%llu,\"converted\":%llu,\"conversion_rate\":",
                (unsigned long long)(v->outcomes[LP_EVENT_REPLIED] + v->outcomes[LP_EVENT_MEETING] +
                                     v->outcomes[LP_EVENT_PURCHASED]),
                (unsigned long long)v->converted);
  if (v->leads) lp_buf_printf(b, "%.6f", (double)v->converted / (double)v->leads);
  else lp_buf_puts(b, "null");
  double z = 0, p = 1;
  if (i > 0 && lp__experiment_ztest(g_var[0].converted, g_var[0].leads, v->converted, v->leads, &z, &p) == LP_OK)
    lp_buf_printf(b, ",\"z\":%.6f,\"p_value\":%.6g}", z, p);
  else
    lp_buf_puts(b, ",\"z\":null,\"p_value\":null}");
}

void lp__route_experiments(lp_http_req *req, lp_str param, void *ud) {
  (void)param;
  (void)ud;
  lp_buf b = LP_BUF_INIT;
  lp_buf_printf(&b, "{\"experiment\":%s,\"control\":", g_experiment ? "true" : "false");
  if (g_experiment) lp_buf_printf(&b, "\"%s\"", g_var[0].spec.name);
  else lp_buf_puts(&b, "null");
  lp_buf_puts(&b, ",\"test\":\"two-proportion z-test of conversion_rate against the control, two-sided\",\"variants\":[");
  for (uint32_t i = 0; g_experiment && i < g_n_var; i++) variant_json(&b, i);
  lp_buf_puts(&b, "]}");
  size_t len;
  char *body = lp_buf_steal(&b, &len);
  if (body == NULL) lp_http_respond_error(req, 503, "overloaded", "out of memory");
  else lp_http_respond_take(req, 200, "application/json", body, len);
}
