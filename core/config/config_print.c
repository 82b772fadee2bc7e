/*
 * config_print.c: the configuration as text for people: the reference of every key (`leadpoet check-config
 * --help`, from the same tables that parse the file) and the dump of an effective configuration with its
 * secrets masked (`leadpoet check-config FILE`, /v1/status).
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "config/config_internal.h"
#include "config/config_priv.h"

/* The description goes under its row, indented and wrapped, so that the table fits a terminal. */
#define DESC_INDENT 4
#define DESC_WIDTH 92

typedef struct row {
  const char *heading;       /* non-NULL: a "[section]" line, the other fields unused */
  char key[64];
  const char *type;
  char def[64];
  char bounds[48];
  char env[112];
  const char *desc;
} row;

typedef struct table {
  row *rows;
  size_t n, cap;
} table;

static row *table_add(table *t) {
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 32;
    row *nr = lp_realloc(t->rows, cap * sizeof(*nr));
    if (nr == NULL) return NULL;
    t->rows = nr;
    t->cap = cap;
  }
  row *r = &t->rows[t->n++];
  memset(r, 0, sizeof(*r));
  return r;
}

/* One heading and one row per key; core = 1 adds the seed's environment names. Returns 0 or LP_ENOMEM. */
static int add_section(table *t, const char *section, const lp_conf_key *keys, int core) {
  row *h = table_add(t);
  if (h == NULL) return LP_ENOMEM;
  h->heading = section;
  for (const lp_conf_key *k = keys; k != NULL && k->key != NULL; k++) {
    row *r = table_add(t);
    if (r == NULL) return LP_ENOMEM;
    snprintf(r->key, sizeof(r->key), "%s", k->key);
    r->type = lp__config_type_name(k->type);
    if (k->type == LP_CONF_STRING && (k->def == NULL || k->def[0] != '"')) {
      snprintf(r->def, sizeof(r->def), "\"%s\"", k->def != NULL ? k->def : "");
    } else {
      snprintf(r->def, sizeof(r->def), "%s", k->def != NULL ? k->def : "");
    }
    lp__config_format_bounds(k, r->bounds, sizeof(r->bounds));
    if (r->bounds[0] == '\0') snprintf(r->bounds, sizeof(r->bounds), "-");
    char var[96];
    if (lp__config_env_name(section, k->key, var, sizeof(var)) != LP_OK) snprintf(var, sizeof(var), "-");
    const char *seed = core ? lp__config_seed_env(section, k->key) : NULL;
    snprintf(r->env, sizeof(r->env), "%s%s%s", var, seed != NULL ? ", " : "", seed != NULL ? seed : "");
    r->desc = k->desc != NULL ? k->desc : "";
  }
  return LP_OK;
}

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

/* Prints the description wrapped at word boundaries, every line indented. */
static void print_desc(FILE *out, const char *d) {
  while (*d != '\0') {
    size_t len = strlen(d);
    size_t cut = len;
    if (len > DESC_WIDTH) {
      cut = DESC_WIDTH;
      while (cut > 0 && d[cut] != ' ') cut--;
      if (cut == 0) cut = DESC_WIDTH;
    }
    fprintf(out, "%*s%.*s\n", DESC_INDENT, "", (int)cut, d);
    d += cut;
    while (*d == ' ') d++;
  }
}

static void print_table(FILE *out, const table *t) {
  size_t w[4] = { strlen("KEY"), strlen("TYPE"), strlen("DEFAULT"), strlen("BOUNDS") };
  for (size_t i = 0; i < t->n; i++) {
    const row *r = &t->rows[i];
    if (r->heading != NULL) continue;
    w[0] = max_sz(w[0], strlen(r->key));
    w[1] = max_sz(w[1], strlen(r->type));
    w[2] = max_sz(w[2], strlen(r->def));
    w[3] = max_sz(w[3], strlen(r->bounds));
  }
  fprintf(out, "%-*s  %-*s  %-*s  %-*s  %s\n%*sDESCRIPTION\n", (int)w[0], "KEY", (int)w[1], "TYPE", (int)w[2],
          "DEFAULT", (int)w[3], "BOUNDS", "ENV", DESC_INDENT, "");
  for (size_t i = 0; i < t->n; i++) {
    const row *r = &t->rows[i];
    if (r->heading != NULL) {
      fprintf(out, "\n[%s]\n", r->heading);
      continue;
    }
    fprintf(out, "%-*s  %-*s  %-*s  %-*s  %s\n", (int)w[0], r->key, (int)w[1], r->type, (int)w[2], r->def,
            (int)w[3], r->bounds, r->env);
    print_desc(out, r->desc);
  }
}

void lp_config_print_reference(FILE *out) {
  table t = { 0 };
  int rc = LP_OK;
  for (const lp__conf_section *s = lp__core_sections; rc == LP_OK && s->name != NULL; s++) {
    rc = add_section(&t, s->name, s->keys, 1);
  }
  if (rc == LP_OK) {
    fprintf(out, "Configuration keys. Precedence: default < file < environment. Sizes take k, m, g (KiB\n"
                 "powers); durations take ms, s, m, h, d (a bare number is ms); booleans are\n"
                 "true/false, yes/no, on/off, 1/0. Stage sections [stage.<name>] are listed by each stage.\n"
                 "Every environment name also has a NAME_FILE form: the value is that file's content\n"
                 "without its trailing newlines (Kubernetes Secret mounts); setting both is an error.\n\n");
    print_table(out, &t);
  } else {
    fprintf(out, "(out of memory)\n");
  }
  lp_free(t.rows);
}

void lp_config_print_keys(FILE *out, const char *section, const lp_conf_key *keys) {
  table t = { 0 };
  if (add_section(&t, section, keys, 0) == LP_OK) print_table(out, &t);
  else fprintf(out, "(out of memory)\n");
  lp_free(t.rows);
}

/* Stage keys are not known to be secret or not: mask those whose name says they are. */
static int looks_secret(const char *key) {
  return strstr(key, "key") != NULL || strstr(key, "secret") != NULL || strstr(key, "password") != NULL ||
         strstr(key, "token") != NULL;
}

/* A string value with the secrets inside it masked: the password of a redis://user:password@host endpoint,
 * and the values of kafka.properties entries whose key names a secret (sasl.password, ssl.key.password). */
static int dump_string(lp_buf *out, const char *section, const char *key, const char *str) {
  int rc = lp_buf_printf(out, "%s = \"", key);
  if (strcmp(section, "redis") == 0 && strcmp(key, "endpoint") == 0) {
    const char *scheme = strstr(str, "://"), *at = strrchr(str, '@');
    const char *colon = scheme != NULL && at != NULL ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
    const char *pw = colon != NULL ? colon + 1 : scheme != NULL && at != NULL ? scheme + 3 : NULL;
    if (pw != NULL && at > scheme) {
      rc = rc == LP_OK ? lp_buf_append(out, str, (size_t)(pw - str)) : rc;
      rc = rc == LP_OK ? lp_buf_printf(out, "***%s\"\n", at) : rc;
      return rc;
    }
  } else if (strcmp(section, "kafka") == 0 && strcmp(key, "properties") == 0) {
    for (const char *p = str; rc == LP_OK && *p != '\0';) {
      size_t n = strcspn(p, ";");
      const char *eq = memchr(p, '=', n);
      char name[128] = "";
      if (eq != NULL && (size_t)(eq - p) < sizeof(name)) memcpy(name, p, (size_t)(eq - p));
      if (eq != NULL && looks_secret(name)) rc = lp_buf_printf(out, "%.*s=***", (int)(eq - p), p);
      else rc = lp_buf_append(out, p, n);
      p += n;
      if (*p == ';') rc = rc == LP_OK ? lp_buf_append(out, ";", 1) : rc, p++;
    }
    return rc == LP_OK ? lp_buf_puts(out, "\"\n") : rc;
  }
  return rc == LP_OK ? lp_buf_printf(out, "%s\"\n", str) : rc;
}

int lp_config_dump(const lp_config *c, lp_buf *out) {
  char val[128];
  int rc = lp_buf_puts(out, "; effective configuration: defaults < file < environment; secrets masked\n");
  for (const lp__conf_section *s = lp__core_sections; rc == LP_OK && s->name != NULL; s++) {
    rc = lp_buf_printf(out, "\n[%s]\n", s->name);
    for (const lp_conf_key *k = s->keys; rc == LP_OK && k->key != NULL; k++) {
      const void *src = (const char *)c + k->offset;
      const char *str = NULL;
      if (k->type == LP_CONF_STRING) memcpy(&str, src, sizeof(str));
      if (lp__config_is_secret(s->name, k->key)) {
        snprintf(val, sizeof(val), "\"%s\"", str != NULL && str[0] != '\0' ? "***" : "");
      } else if (k->type == LP_CONF_STRING) {
        rc = dump_string(out, s->name, k->key, str != NULL ? str : "");
        continue;
      } else {
        lp__config_format_value(k, src, val, sizeof(val));
      }
      rc = lp_buf_printf(out, "%s = %s\n", k->key, val);
    }
  }
  const lp__config_priv *p = c->priv;
  for (size_t i = 0; rc == LP_OK && p != NULL && i < p->n_sections; i++) {
    const lp__raw_section *sec = &p->sections[i];
    rc = lp_buf_printf(out, "\n[stage.%s]\n", sec->stage);
    for (size_t j = 0; rc == LP_OK && j < sec->n; j++) {
      const lp__raw_entry *e = &sec->entries[j];
      int mask = looks_secret(e->key) && e->value[0] != '\0' && strcmp(e->value, "\"\"") != 0;
      rc = lp_buf_printf(out, "%s = %s\n", e->key, mask ? "\"***\"" : e->value);
    }
  }
  return rc;
}
