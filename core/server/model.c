/*
 * model.c: the learned model of the query path, its reload, and the training log (model.h).
 */
#include "server/model.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/file.h"
#include "base/log.h"
#include "query/features.h"

struct lp_model_ref {
  lp_gbdt *gbdt;
  uint32_t refs;      /* the current slot's one, plus one per query holding it; reactor only */
  char name[128];
};

/* One per process (the server runs once per process), reactor only. */
static lp_model_ref *g_current;
static lp_trainlog *g_log;

static void ref_free(lp_model_ref *m) {
  if (m == NULL) return;
  lp_gbdt_free(m->gbdt);
  lp_free(m);
}

lp_model_ref *lp__model_acquire(void) {
  if (g_current) g_current->refs++;
  return g_current;
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

/* Makes m the current model (its reference becomes the slot's); the previous one goes when its last
 * query lets go. */
static void install(lp_model_ref *m) {
  lp_model_ref *old = g_current;
  g_current = m;
  lp__model_release(old);
}

int lp__model_start(lp_server *srv) {
  const lp_config *c = srv->cfg;
  char err[512] = "";
  if (c->scoring.model && c->scoring.model[0]) {
    lp_model_ref *m = NULL;
    int rc = lp__model_load(c->scoring.model, &m, err, sizeof(err));
    if (rc != LP_OK) {
      lp_log_error("cannot load the model", "path=%s err=\"%s\"", c->scoring.model, err);
      return LP_ECONFIG;
    }
    install(m);
    lp_log_info("model loaded", "path=%s name=%s trees=%u", c->scoring.model, m->name, lp_gbdt_num_trees(m->gbdt));
  }
  if (c->scoring.train_log && c->scoring.train_log[0]) {
    int rc = lp_trainlog_open(&g_log, &srv->loop, c->scoring.train_log, (uint64_t)c->scoring.train_log_max_bytes, err,
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
  lp__model_release(g_current);
  g_current = NULL;
}

/* ---- reload off the reactor ----------------------------------------------------------------------- */

typedef struct reload_job {
  uv_work_t work;
  char *path;               /* NULL: no model configured, back to v0 */
  lp_model_ref *loaded;
  int rc;
  char err[512];
  void (*done)(void *ud, int rc, const char *msg);
  void *ud;
} reload_job;

static void reload_work(uv_work_t *w) {
  reload_job *j = w->data;
  j->rc = j->path ? lp__model_load(j->path, &j->loaded, j->err, sizeof(j->err)) : LP_OK;
}

static void reload_after(uv_work_t *w, int status) {
  reload_job *j = w->data;
  if (status != 0 && j->rc == LP_OK) {  /* cancelled: nothing was installed */
    ref_free(j->loaded);
    j->loaded = NULL;
    j->rc = LP_ECANCELED;
    snprintf(j->err, sizeof(j->err), "reload cancelled");
  }
  if (j->rc == LP_OK) {
    install(j->loaded);
    lp_log_info("model reloaded", "name=%s", lp__model_name(j->loaded));
    snprintf(j->err, sizeof(j->err), "%s", lp__model_name(j->loaded));
  } else {
    lp_log_error("model reload refused, the running model stays", "path=%s running=%s err=\"%s\"",
                 j->path ? j->path : "", lp__model_name(g_current), j->err);
  }
  if (j->done) j->done(j->ud, j->rc, j->err);
  lp_free(j->path);
  lp_free(j);
}

void lp__model_reload(lp_server *srv, void (*done)(void *ud, int rc, const char *msg), void *ud) {
  const char *path = srv->cfg->scoring.model;
  reload_job *j = lp_calloc(1, sizeof(*j));
  if (j != NULL && path && path[0] && (j->path = lp_strdup(path)) == NULL) {
    lp_free(j);
    j = NULL;
  }
  if (j == NULL) {
    if (done) done(ud, LP_ENOMEM, "out of memory");
    return;
  }
  j->done = done;
  j->ud = ud;
  j->work.data = j;
  int rc = uv_queue_work(&srv->loop, &j->work, reload_work, reload_after);
  if (rc != 0) {
    snprintf(j->err, sizeof(j->err), "cannot queue the reload: %s", uv_strerror(rc));
    if (done) done(ud, LP_EIO, j->err);
    lp_free(j->path);
    lp_free(j);
  }
}

static void reload_answered(void *ud, int rc, const char *msg) {
  lp_http_req *req = ud;
  if (rc == LP_ENOMEM) {
    lp_http_respond_error(req, 503, "overloaded", "%s", msg);
    return;
  }
  if (rc != LP_OK) {
    lp_http_respond_error(req, 400, "bad_model", "%s (the running model %s stays)", msg, lp__model_name(g_current));
    return;
  }
  lp_buf b = LP_BUF_INIT;
  lp_buf_puts(&b, "{\"model\":");
  lp_buf_json_str(&b, msg, strlen(msg));
  lp_buf_printf(&b, ",\"features\":%u,\"version\":\"%s\"}", (unsigned)LP_FEATURES_N, LP_FEATURES_VERSION);
  size_t len;
  char *body = lp_buf_steal(&b, &len);
  if (body == NULL) lp_http_respond_error(req, 503, "overloaded", "out of memory");
  else lp_http_respond_take(req, 200, "application/json", body, len);
}

void lp__route_admin_reload(lp_http_req *req, lp_str param, void *ud) {
  (void)param;
  lp__model_reload(ud, reload_answered, req);
}
