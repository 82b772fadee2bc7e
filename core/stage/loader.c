/* loader.c: from [stages] order and [stages] plugins to a list of configured, init()ed stages. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "stage/builtin.h"
#include "stage/stage_int.h"

/* A stage that may be named in order: an injected descriptor, a built-in or an opened plugin. */
typedef struct candidate {
  const lp_stage_desc *desc;
  const char *origin;       /* "built-in", "injected" or the plugin's path (owned by the split list) */
  void *handle;             /* dlopen handle until it moves into a stage */
  int used;
} candidate;

typedef struct load_ctx {
  char **names;             /* from order, trimmed, owned */
  size_t n_names;
  char **paths;             /* from plugins, trimmed, owned */
  size_t n_paths;
  candidate *cands;
  size_t n_cands;
} load_ctx;

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Splits a comma-separated list into trimmed copies. An empty list gives none; an empty item between
 * commas is an error naming the key, never silently skipped. */
static int split_list(const char *s, const char *key, char ***out, size_t *n, char *errstr, size_t errstr_size) {
  *out = NULL;
  *n = 0;
  if (s == NULL) return LP_OK;
  const char *p = s;
  while (is_space(*p)) p++;
  if (*p == '\0') return LP_OK;
  size_t count = 1;
  for (const char *q = p; *q != '\0'; q++) count += *q == ',';
  char **v = lp_calloc(count, sizeof(char *));
  if (v == NULL) return LP_ENOMEM;
  for (size_t i = 0; i < count; i++) {
    const char *end = strchr(p, ',');
    if (end == NULL) end = p + strlen(p);
    const char *a = p, *b = end;
    while (a < b && is_space(*a)) a++;
    while (b > a && is_space(b[-1])) b--;
    if (a == b) {
      snprintf(errstr, errstr_size, "[stages] %s: empty item in \"%s\"", key, s);
      for (size_t j = 0; j < i; j++) lp_free(v[j]);
      lp_free(v);
      return LP_ECONFIG;
    }
    v[i] = lp_strndup(a, (size_t)(b - a));
    if (v[i] == NULL) {
      for (size_t j = 0; j < i; j++) lp_free(v[j]);
      lp_free(v);
      return LP_ENOMEM;
    }
    p = *end == ',' ? end + 1 : end;
  }
  *out = v;
  *n = count;
  return LP_OK;
}

static void ctx_free(load_ctx *c) {
  for (size_t i = 0; i < c->n_names; i++) lp_free(c->names[i]);
  for (size_t i = 0; i < c->n_paths; i++) lp_free(c->paths[i]);
  for (size_t i = 0; i < c->n_cands; i++)
    if (c->cands[i].handle != NULL) dlclose(c->cands[i].handle);
  lp_free(c->names);
  lp_free(c->paths);
  lp_free(c->cands);
}

static candidate *find_cand(load_ctx *c, const char *name) {
  for (size_t i = 0; i < c->n_cands; i++)
    if (strcmp(c->cands[i].desc->name, name) == 0) return &c->cands[i];
  return NULL;
}

/* Adds a checked descriptor; a second provider of the same name is an error naming both. */
static int add_cand(load_ctx *c, const lp_stage_desc *d, const char *origin, void *handle, char *errstr,
                    size_t errstr_size) {
  candidate *dup = find_cand(c, d->name);
  if (dup != NULL) {
    snprintf(errstr, errstr_size, "stage '%s' is provided twice: by %s and by %s", d->name, dup->origin, origin);
    if (handle != NULL) dlclose(handle);
    return LP_EEXIST;
  }
  c->cands[c->n_cands++] = (candidate){ d, origin, handle, 0 };
  return LP_OK;
}

/* Built-ins named in order, injected descriptors, and every plugin (all plugins are opened: one that is
 * broken fails the start even when it is not named, since the operator listed it). */
static int gather(load_ctx *c, const lp_stage_desc *const *descs, size_t n_descs,
                  char *errstr, size_t errstr_size) {
  size_t n_builtin = 0;
  while (lp_builtin_stages[n_builtin].name != NULL) n_builtin++;
  c->cands = lp_calloc(n_descs + n_builtin + c->n_paths + 1, sizeof(candidate));
  if (c->cands == NULL) return LP_ENOMEM;
  char what[96];
  for (size_t i = 0; i < n_descs; i++) {
    int rc = lp_stage_check_desc(descs[i], "injected stage", errstr, errstr_size);
    if (rc == LP_OK) rc = add_cand(c, descs[i], "injected", NULL, errstr, errstr_size);
    if (rc != LP_OK) return rc;
  }
  for (size_t i = 0; i < n_builtin; i++) {
    const lp_builtin_stage *b = &lp_builtin_stages[i];
    snprintf(what, sizeof(what), "built-in stage %s", b->name);
    const lp_stage_desc *d = b->entry();
    int rc = lp_stage_check_desc(d, what, errstr, errstr_size);
    if (rc == LP_OK && strcmp(d->name, b->name) != 0) {
      snprintf(errstr, errstr_size, "%s: its descriptor is named '%s'", what, d->name);
      rc = LP_EINVAL;
    }
    if (rc == LP_OK) rc = add_cand(c, d, "built-in", NULL, errstr, errstr_size);
    if (rc != LP_OK) return rc;
  }
  for (size_t i = 0; i < c->n_paths; i++) {
    const lp_stage_desc *d;
    void *h;
    int rc = lp_stage_open_plugin(c->paths[i], &d, &h, errstr, errstr_size);
    if (rc == LP_OK) rc = add_cand(c, d, c->paths[i], h, errstr, errstr_size);
    if (rc != LP_OK) return rc;
  }
  return LP_OK;
}

/* "ingest, dedupe" for the message of an unknown stage. */
static void list_names(const load_ctx *c, char *out, size_t cap) {
  size_t len = 0;
  out[0] = '\0';
  for (size_t i = 0; i < c->n_cands && len < cap; i++) {
    int w = snprintf(out + len, cap - len, "%s%s", i > 0 ? ", " : "", c->cands[i].desc->name);
    if (w < 0) break;
    len += (size_t)w;
  }
  if (c->n_cands == 0) snprintf(out, cap, "none");
}

/* Moves the candidates named in order, in that order, into st. */
static int resolve(lp_stages *st, load_ctx *c, char *errstr, size_t errstr_size) {
  st->v = lp_calloc(c->n_names + 1, sizeof(lp__stage));
  if (st->v == NULL) return LP_ENOMEM;
  for (size_t i = 0; i < c->n_names; i++) {
    for (size_t j = 0; j < i; j++) {
      if (strcmp(c->names[i], c->names[j]) == 0) {
        snprintf(errstr, errstr_size, "[stages] order: stage '%s' is named twice", c->names[i]);
        return LP_EEXIST;
      }
    }
    candidate *k = find_cand(c, c->names[i]);
    if (k == NULL) {
      char known[256];
      list_names(c, known, sizeof(known));
      snprintf(errstr, errstr_size,
               "[stages] order: no stage '%s': not a built-in and not in a plugin of [stages] plugins "
               "(known: %s)", c->names[i], known);
      return LP_ENOENT;
    }
    lp__stage *s = &st->v[st->n];
    s->origin = lp_strdup(k->origin);
    if (s->origin == NULL) return LP_ENOMEM;
    lp__stage_copy_desc(&s->desc, k->desc);
    s->handle = k->handle;
    k->handle = NULL;
    k->used = 1;
    st->n++;
  }
  for (size_t i = 0; i < c->n_cands; i++) {
    candidate *k = &c->cands[i];
    if (!k->used && k->handle != NULL)
      lp_log_warn("stage plugin loaded but not named in [stages] order, unloading it", "plugin=%s stage=%s",
                  k->origin, k->desc->name);
  }
  return LP_OK;
}

static void register_metrics(lp_stages *st, lp_metrics *m) {
  if (m == NULL) return;
  static const char *const labels[] = { "stage" };
  lp_metric_family *errors = lp_metrics_family(m, LP_METRIC_COUNTER, "leadpoet_stage_errors_total",
                                               "Stage callbacks that returned an error.", labels, 1, NULL, 0);
  lp_metric_family *lat = lp_metrics_family(m, LP_METRIC_HISTOGRAM, "leadpoet_pipeline_latency_seconds",
                                            "Time spent in each stage per event (sampled).", labels, 1,
                                            lp_metrics_latency_buckets, lp_metrics_latency_buckets_n);
  for (size_t i = 0; i < st->n; i++) {
    const char *v[] = { st->v[i].desc.name };
    st->v[i].errors = errors != NULL ? lp_metrics_series(errors, v) : NULL;
    st->v[i].latency = lat != NULL ? lp_metrics_series(lat, v) : NULL;
  }
}

/* Every section checked, then each stage's section parsed and init() called, in order. */
static int configure(lp_stages *st, lp_config *cfg, char *errstr, size_t errstr_size) {
  const char **names = lp_calloc(st->n + 1, sizeof(char *));
  if (names == NULL) return LP_ENOMEM;
  for (size_t i = 0; i < st->n; i++) names[i] = st->v[i].desc.name;
  int rc = lp_config_check_stage_sections(cfg, names, st->n, errstr, errstr_size);
  lp_free(names);
  if (rc != LP_OK) return rc;
  for (size_t i = 0; i < st->n; i++) {
    lp__stage *s = &st->v[i];
    char why[256] = "";
    rc = lp_config_stage_parse(cfg, s->desc.name, s->desc.conf_keys, s->desc.conf_size, &s->conf, why,
                               sizeof(why));
    if (rc != LP_OK) {
      snprintf(errstr, errstr_size, "stage '%s': %s", s->desc.name, why);
      return rc;
    }
    why[0] = '\0';
    lp__stage_set_config(cfg);
    rc = s->desc.init(lp_stage_host_api(), s->conf, &s->state, why, sizeof(why));
    lp__stage_set_config(NULL);
    if (rc != LP_OK) {
      snprintf(errstr, errstr_size, "stage '%s' (%s): init failed: %s", s->desc.name, s->origin,
               why[0] != '\0' ? why : lp_strerror(rc));
      return rc < 0 ? rc : LP_EINVAL;
    }
    s->inited = 1;
  }
  return LP_OK;
}

int lp_stages_load_descs(lp_stages **out, lp_config *cfg, lp_metrics *metrics, const lp_stage_desc *const *descs,
                         size_t n, char *errstr, size_t errstr_size) {
  *out = NULL;
  if (errstr_size > 0) errstr[0] = '\0';
  load_ctx c = { 0 };
  lp_stages *st = lp_calloc(1, sizeof(*st));
  if (st == NULL) return LP_ENOMEM;
  st->quarantine_after = cfg->stages.quarantine_after > 0 ? (uint32_t)cfg->stages.quarantine_after
                                                          : LP_STAGE_QUARANTINE_AFTER;
  int rc = split_list(cfg->stages.order, "order", &c.names, &c.n_names, errstr, errstr_size);
  if (rc == LP_OK) rc = split_list(cfg->stages.plugins, "plugins", &c.paths, &c.n_paths, errstr, errstr_size);
  if (rc == LP_OK) rc = gather(&c, descs, n, errstr, errstr_size);
  if (rc == LP_OK) rc = resolve(st, &c, errstr, errstr_size);
  ctx_free(&c);
  if (rc == LP_OK) {
    register_metrics(st, metrics != NULL ? metrics : lp_metrics_default());
    rc = configure(st, cfg, errstr, errstr_size);
  }
  if (rc != LP_OK) {
    if (rc == LP_ENOMEM && errstr_size > 0 && errstr[0] == '\0')
      snprintf(errstr, errstr_size, "loading stages: out of memory");
    lp_stages_free(st);
    return rc;
  }
  for (size_t i = 0; i < st->n; i++)
    lp_log_info("stage loaded", "stage=%s origin=%s abi=%u.%u position=%zu", st->v[i].desc.name,
                st->v[i].origin, (unsigned)st->v[i].desc.abi_major, (unsigned)st->v[i].desc.abi_minor, i);
  *out = st;
  return LP_OK;
}

int lp_stages_load(lp_stages **out, lp_config *cfg, lp_metrics *metrics, char *errstr, size_t errstr_size) {
  return lp_stages_load_descs(out, cfg, metrics, NULL, 0, errstr, errstr_size);
}

void lp_stages_free(lp_stages *st) {
  if (st == NULL) return;
  for (size_t i = st->n; i-- > 0;) {
    lp__stage *s = &st->v[i];
    if (s->inited && s->desc.destroy != NULL) s->desc.destroy(s->state);
    if (s->handle != NULL) dlclose(s->handle);
    lp_free(s->origin);
  }
  lp_buf_free(&st->g_scratch);
  lp_free(st->v);
  lp_free(st);
}

size_t lp_stages_count(const lp_stages *st) { return st != NULL ? st->n : 0; }

const lp_stage_desc *lp_stages_desc(const lp_stages *st, size_t i) {
  return st != NULL && i < st->n ? &st->v[i].desc : NULL;
}

const char *lp_stages_origin(const lp_stages *st, size_t i) {
  return st != NULL && i < st->n ? st->v[i].origin : NULL;
}

int lp_stages_find(const lp_stages *st, const char *name) {
  for (size_t i = 0; st != NULL && i < st->n; i++)
    if (strcmp(st->v[i].desc.name, name) == 0) return (int)i;
  return -1;
}
