/* host.c: the host API table, the one way a stage reaches the core. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "config/config_internal.h"
#include "stage/stage_int.h"

/* The stage's text becomes the line's msg; stage=<name> is added as a key=value. */
static void host_log(int level, const char *stage, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void host_log(int level, const char *stage, const char *fmt, ...) {
  if (level > lp_log_level() || fmt == NULL) return;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (n < 0) msg[0] = '\0';
  /* msg is printed inside double quotes: keep the line parseable */
  for (char *p = msg; *p != '\0'; p++) {
    if (*p == '"') *p = '\'';
    else if (*p == '\n' || *p == '\r') *p = ' ';
  }
  lp_log(level, msg, "stage=%s", stage != NULL ? stage : "unknown");
}

/* Builds leadpoet_stage_<name>_total (the stage goes in a label, so stages can share a family):
 * characters a metric name cannot hold become '_', and a
 * "_total" the stage already put at the end is not doubled. Returns 0, or -1 when nothing valid is left. */
static int counter_name(char *out, size_t cap, const char *name) {
  char clean[96];
  size_t n = strlen(name);
  if (n == 0 || n >= sizeof(clean)) return -1;
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    /* Prometheus names are snake_case here: upper case is folded, anything else becomes '_'. */
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    clean[i] = ok ? c : '_';
  }
  clean[n] = '\0';
  if (n >= 6 && strcmp(clean + n - 6, "_total") == 0) clean[n -= 6] = '\0';
  if (n == 0) return -1;
  int w = snprintf(out, cap, "leadpoet_stage_%s_total", clean);
  return w > 0 && (size_t)w < cap ? 0 : -1;
}

/* Registers (or finds) the counter in the default registry. Returns NULL without a default registry,
 * for a bad name, or when the family exists with other labels (a family is either always or never given a
 * label; counter_add(NULL) is a no-op). */
static lp_counter *host_counter(const char *stage, const char *name, const char *help, const char *label) {
  lp_metrics *m = lp_metrics_default();
  if (m == NULL || stage == NULL || name == NULL || stage[0] == '\0') return NULL;
  for (const char *p = stage; *p != '\0'; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) return NULL;
  char full[192];
  if (counter_name(full, sizeof(full), name) != 0) return NULL;
  static const char *const with_label[] = { "stage", "label" };
  const char *values[] = { stage, label };
  lp_metric_family *f = lp_metrics_family(m, LP_METRIC_COUNTER, full, help != NULL && help[0] != '\0' ? help : "Stage counter.",
                                          with_label, label != NULL ? 2 : 1, NULL, 0);
  if (f == NULL) return NULL;
  return (lp_counter *)lp_metrics_series(f, values);
}

static void host_counter_add(lp_counter *c, uint64_t n) {
  if (c != NULL) lp_counter_add((lp_metric *)c, n);
}

static int64_t host_now_ms(void) { return lp_now_ms(); }

/* The Beta(1,1) prior: what the host says about a miner it knows nothing of (and what it says when no
 * reputation source is set). */
static int prior_reputation(lp_str miner, double *mean, double *low, double *high) {
  (void)miner;
  *mean = 0.5;
  *low = 0.025;
  *high = 0.975;
  return LP_OK;
}

/* Set by the server before the reactor runs; read on the reactor only (on_admit). */
static int (*g_reputation_fn)(lp_str, double *, double *, double *) = prior_reputation;

void lp_stages_set_reputation_fn(int (*fn)(lp_str miner, double *mean, double *low, double *high)) {
  g_reputation_fn = fn != NULL ? fn : prior_reputation;
}

/* A source that fails, or answers something outside [0, 1] or out of order, reads as the prior: a stage
 * never sees a reputation it cannot use. */
static int host_miner_reputation(lp_str miner, double *mean, double *low, double *high) {
  double m = 0.5, lo = 0.025, hi = 0.975;
  if (mean == NULL || low == NULL || high == NULL) return LP_EINVAL;
  int rc = g_reputation_fn(miner, &m, &lo, &hi);
  if (rc != LP_OK || !(lo >= 0.0 && lo <= m && m <= hi && hi <= 1.0)) {
    prior_reputation(miner, mean, low, high);
    return rc != LP_OK ? rc : LP_ERANGE;
  }
  *mean = m;
  *low = lo;
  *high = hi;
  return LP_OK;
}

/* The config being loaded: set by the loader around the init() calls, the only time config_get is
 * allowed (main thread). */
static const lp_config *g_config;

void lp__stage_set_config(const lp_config *cfg) { g_config = cfg; }

/* A core key's effective value as text: strings raw (a stage wants the key itself, not its quoting),
 * other types as the file would write them. */
static int host_config_get(const char *section, const char *key, char *out, size_t cap) {
  if (out == NULL || cap == 0) return LP_EINVAL;
  out[0] = '\0';
  if (g_config == NULL || section == NULL || key == NULL) return LP_ESTATE;
  for (const lp__conf_section *sec = lp__core_sections; sec->name != NULL; sec++) {
    if (strcmp(sec->name, section) != 0) continue;
    for (const lp_conf_key *k = sec->keys; k->key != NULL; k++) {
      if (strcmp(k->key, key) != 0) continue;
      const void *src = (const char *)g_config + k->offset;
      if (k->type == LP_CONF_STRING) {
        const char *v;
        memcpy(&v, src, sizeof(v));
        if (v == NULL) v = "";
        if (strlen(v) >= cap) return LP_ERANGE;
        memcpy(out, v, strlen(v) + 1);
        return LP_OK;
      }
      char tmp[128];
      lp__config_format_value(k, src, tmp, sizeof(tmp));
      if (strlen(tmp) >= cap) return LP_ERANGE;
      memcpy(out, tmp, strlen(tmp) + 1);
      return LP_OK;
    }
  }
  return LP_ENOENT;
}

static const lp_host_api g_host = {
  .abi_major = LP_STAGE_ABI_MAJOR,
  .abi_minor = LP_STAGE_ABI_MINOR,
  .struct_size = (uint32_t)sizeof(lp_host_api),
  .log = host_log,
  .malloc = lp_malloc,
  .calloc = lp_calloc,
  .realloc = lp_realloc,
  .free = lp_free,
  .counter = host_counter,
  .counter_add = host_counter_add,
  .now_ms = host_now_ms,
  .query_boost = lp_query_out_boost,
  .query_exclude = lp_query_out_exclude,
  .miner_reputation = host_miner_reputation,
  .config_get = host_config_get,
};

const lp_host_api *lp_stage_host_api(void) { return &g_host; }
