/*
 * config.c: loading the one INI file with inih, applying the environment, and the [stage.<name>] sections.
 *
 * inih as Debian builds it (55): the handler gets no line number (INI_HANDLER_LINENO is 0 in the library,
 * and defining it on our side would not change what the library passes), lines are at most 200 bytes
 * (INI_MAX_LINE, stack buffer; a longer line would be cut in two silently), an indented line after a key
 * continues that key's value (INI_ALLOW_MULTILINE), and " ;" starts an inline comment. So inih reads
 * through our own line reader (ini_parse_stream), which counts the lines, strips leading blanks (an
 * indented key is then a key, never a continuation), refuses over-long lines with an error, and sees the
 * [section] headers first so that an unknown or empty section is reported at its own line.
 */
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "config/config_internal.h"
#include "config/config_priv.h"

/* inih's section buffer (MAX_SECTION) holds 49 bytes and a NUL; a longer name would be cut. */
#define SECTION_MAX 49

typedef struct load_ctx {
  lp_config *c;
  lp__config_priv *p;
  const char *data;          /* the whole file, NUL-free */
  size_t len, pos;
  int line;                  /* lines handed to inih so far = the current line */
  int err_line;              /* line of the first error, 0 = none */
  int failed;                /* an error (with or without a line) is in errstr */
  int *seen;                 /* per core key (flat index): line where the file set it, 0 = not yet */
  char *errstr;
  size_t errstr_size;
} load_ctx;

static void fail(load_ctx *x, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Records the first error only: later ones are usually consequences of it. */
static void fail(load_ctx *x, int line, const char *fmt, ...) {
  if (x->failed) return;
  x->failed = 1;
  x->err_line = line;
  int n = snprintf(x->errstr, x->errstr_size, "%s:%d: ", x->p->file, line);
  if (n < 0 || (size_t)n >= x->errstr_size) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(x->errstr + n, x->errstr_size - (size_t)n, fmt, ap);
  va_end(ap);
}

/* Finds a core section and key; returns the key's flat index, -1 for an unknown section, -2 for an
 * unknown key. */
static int core_key(const char *section, const char *key, const lp_conf_key **out) {
  int base = 0;
  for (const lp__conf_section *s = lp__core_sections; s->name != NULL; s++) {
    int n = 0;
    for (const lp_conf_key *k = s->keys; k->key != NULL; k++, n++) {
      if (strcmp(s->name, section) == 0 && key != NULL && strcmp(k->key, key) == 0) {
        *out = k;
        return base + n;
      }
    }
    if (strcmp(s->name, section) == 0) return -2;
    base += n;
  }
  return -1;
}

static int core_key_count(void) {
  int n = 0;
  for (const lp__conf_section *s = lp__core_sections; s->name != NULL; s++) {
    for (const lp_conf_key *k = s->keys; k->key != NULL; k++) n++;
  }
  return n;
}

static int valid_stage_name(const char *s) {
  if (*s == '\0') return 0;
  for (; *s != '\0'; s++) {
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_')) return 0;
  }
  return 1;
}

/* ---- Raw [stage.<name>] sections ----------------------------------------------------------------- */

static lp__raw_section *raw_find(const lp__config_priv *p, const char *stage) {
  for (size_t i = 0; i < p->n_sections; i++) {
    if (strcmp(p->sections[i].stage, stage) == 0) return &p->sections[i];
  }
  return NULL;
}

static lp__raw_section *raw_add(lp__config_priv *p, const char *stage, int line) {
  lp__raw_section *s = raw_find(p, stage);
  if (s != NULL) return s;
  if (p->n_sections == p->cap_sections) {
    size_t cap = p->cap_sections ? p->cap_sections * 2 : 4;
    lp__raw_section *ns = lp_realloc(p->sections, cap * sizeof(*ns));
    if (ns == NULL) return NULL;
    p->sections = ns;
    p->cap_sections = cap;
  }
  s = &p->sections[p->n_sections];
  memset(s, 0, sizeof(*s));
  s->stage = lp_strdup(stage);
  if (s->stage == NULL) return NULL;
  s->line = line;
  p->n_sections++;
  return s;
}

static int raw_add_entry(lp__raw_section *s, const char *key, const char *value, int line) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 4;
    lp__raw_entry *ne = lp_realloc(s->entries, cap * sizeof(*ne));
    if (ne == NULL) return LP_ENOMEM;
    s->entries = ne;
    s->cap = cap;
  }
  lp__raw_entry *e = &s->entries[s->n];
  e->key = lp_strdup(key);
  e->value = lp_strdup(value);
  e->line = line;
  if (e->key == NULL || e->value == NULL) {
    lp_free(e->key);
    lp_free(e->value);
    return LP_ENOMEM;
  }
  s->n++;
  return LP_OK;
}

/* ---- The line reader and the handler inih calls --------------------------------------------------- */

static const char known_sections[] =
  "server, http, ingest, kafka, redis, secrets, log, metrics, stages, stage.<name>";

/* A [section] header as inih will read it (the name between '[' and the first ']', not trimmed). A
 * malformed header is left to inih, which reports it as a line it cannot parse. */
static void section_header(load_ctx *x, const char *line, size_t n) {
  const char *close = memchr(line, ']', n);
  if (close == NULL) return;
  for (const char *q = line + 1; q < close; q++) {
    if (*q == ';' && isspace((unsigned char)q[-1])) return;   /* inih sees a comment before the ']' */
  }
  size_t len = (size_t)(close - line - 1);
  char name[SECTION_MAX + 2];
  if (len > SECTION_MAX) {
    fail(x, x->line, "[%.*s]: section name longer than %d bytes", (int)len, line + 1, SECTION_MAX);
    return;
  }
  memcpy(name, line + 1, len);
  name[len] = '\0';
  const lp_conf_key *k;
  if (strncmp(name, "stage.", 6) == 0) {
    if (!valid_stage_name(name + 6)) {
      fail(x, x->line, "[%s]: a stage name is [a-z0-9_]+", name);
    } else if (raw_add(x->p, name + 6, x->line) == NULL) {
      fail(x, x->line, "[%s]: out of memory", name);
    }
  } else if (core_key(name, NULL, &k) == -1) {
    fail(x, x->line, "[%s]: unknown section (known: %s)", name, known_sections);
  }
}

/* fgets-like: hands inih one line of the buffer per call, without its leading blanks. */
static char *read_line(char *str, int num, void *stream) {
  load_ctx *x = stream;
  if (x->pos >= x->len) return NULL;
  const char *start = x->data + x->pos;
  const char *nl = memchr(start, '\n', x->len - x->pos);
  size_t n = nl != NULL ? (size_t)(nl - start) : x->len - x->pos;
  x->pos += n + (nl != NULL);
  x->line++;
  if (x->line == 1 && n >= 3 && memcmp(start, "\xEF\xBB\xBF", 3) == 0) {
    start += 3;
    n -= 3;
  }
  while (n > 0 && isspace((unsigned char)*start)) {
    start++;
    n--;
  }
  while (n > 0 && isspace((unsigned char)start[n - 1])) n--;
  if (n + 2 > (size_t)num) {
    fail(x, x->line, "line longer than %d bytes", num - 2);
    n = 0;
  } else if (n > 0 && start[0] == '[') {
    section_header(x, start, n);
  }
  memcpy(str, start, n);
  str[n] = '\n';
  str[n + 1] = '\0';
  return str;
}

static void apply_core(load_ctx *x, const char *section, const char *name, const char *value) {
  const lp_conf_key *k = NULL;
  int idx = core_key(section, name, &k);
  if (idx == -1) {
    fail(x, x->line, "[%s]: unknown section (known: %s)", section, known_sections);
    return;
  }
  if (idx == -2) {
    fail(x, x->line, "[%s] %s: unknown key", section, name);
    return;
  }
  if (x->seen[idx] != 0) {
    fail(x, x->line, "[%s] %s: given twice (first on line %d)", section, name, x->seen[idx]);
    return;
  }
  x->seen[idx] = x->line;
  char why[256];
  void *dst = (char *)x->c + k->offset;
  lp__conf_check check = lp__config_check_for(section, name);
  if (lp_config_parse_value(k, value, dst, why, sizeof(why)) != LP_OK ||
      (check != NULL && check(dst, why, sizeof(why)) != LP_OK)) {
    fail(x, x->line, "[%s] %s: %s", section, name, why);
  }
}

static void store_stage(load_ctx *x, const char *section, const char *name, const char *value) {
  lp__raw_section *s = raw_find(x->p, section + 6);
  if (s == NULL) {   /* the reader saw the header and failed on it: already reported */
    fail(x, x->line, "[%s]: bad stage section", section);
    return;
  }
  for (size_t i = 0; i < s->n; i++) {
    if (strcmp(s->entries[i].key, name) == 0) {
      fail(x, x->line, "[%s] %s: given twice (first on line %d)", section, name, s->entries[i].line);
      return;
    }
  }
  if (raw_add_entry(s, name, value, x->line) != LP_OK) fail(x, x->line, "[%s] %s: out of memory", section, name);
}

/* Returns 1 always: errors are recorded in x (the first wins), and inih's own return value then only
 * tells the lines it could not parse. */
static int on_pair(void *user, const char *section, const char *name, const char *value) {
  load_ctx *x = user;
  if (x->failed) return 1;
  if (section[0] == '\0') fail(x, x->line, "%s: key outside any section (put it under [section])", name);
  else if (strncmp(section, "stage.", 6) == 0) store_stage(x, section, name, value);
  else apply_core(x, section, name, value);
  return 1;
}

/* inih could not parse line `line`: quote it (as the reader handed it over) in the message. */
static void fail_unparsable(load_ctx *x, int line) {
  const char *s = x->data;
  const char *end = x->data + x->len;
  for (int i = 1; i < line && s < end; i++) {
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    s = nl != NULL ? nl + 1 : end;
  }
  if (line == 1 && end - s >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) s += 3;
  while (s < end && isspace((unsigned char)*s) && *s != '\n') s++;
  const char *nl = memchr(s, '\n', (size_t)(end - s));
  size_t n = (size_t)((nl != NULL ? nl : end) - s);
  while (n > 0 && isspace((unsigned char)s[n - 1])) n--;
  x->failed = 0;
  fail(x, line, "cannot parse \"%.*s%s\": expected \"key = value\" or \"[section]\"", (int)(n > 60 ? 60 : n), s,
       n > 60 ? "..." : "");
}

/* ---- Defaults and environment --------------------------------------------------------------------- */

static int set_defaults(lp_config *c, char *errstr, size_t errstr_size) {
  char why[256];
  for (const lp__conf_section *s = lp__core_sections; s->name != NULL; s++) {
    for (const lp_conf_key *k = s->keys; k->key != NULL; k++) {
      if (lp_config_parse_value(k, k->def, (char *)c + k->offset, why, sizeof(why)) != LP_OK) {
        snprintf(errstr, errstr_size, "default of [%s] %s: %s", s->name, k->key, why);
        return LP_ECONFIG;
      }
    }
  }
  return LP_OK;
}

/* Applies one environment variable (or the file its _FILE form names, config_envfile.c) to a field: checked
 * like a file value, errors name the variable. */
static int apply_env(const char *var, const lp_conf_key *k, lp__conf_check check, void *dst, char *errstr,
                     size_t errstr_size) {
  char *v = NULL, used[160];
  int rc = lp__config_env_lookup(var, !lp__config_env_file_is_key(var), &v, used, sizeof(used), errstr, errstr_size);
  if (rc != LP_OK || v == NULL) return rc;
  char why[256];
  if (lp_config_parse_value(k, v, dst, why, sizeof(why)) != LP_OK ||
      (check != NULL && check(dst, why, sizeof(why)) != LP_OK)) {
    snprintf(errstr, errstr_size, "env %s: %s", used, why);
    rc = LP_ECONFIG;
  }
  lp_free(v);
  return rc;
}

/* 1 when var or (when it has one) its _FILE form is set. */
static int env_given(const char *var) {
  char fvar[160];
  if (getenv(var) != NULL) return 1;
  int len = snprintf(fvar, sizeof(fvar), "%s_FILE", var);
  return len > 0 && (size_t)len < sizeof(fvar) && !lp__config_env_file_is_key(var) && getenv(fvar) != NULL;
}

/* LEADPOET_<SECTION>_<KEY> (or its _FILE) wins over the seed's name (or its _FILE) when both are set. */
static int apply_core_env(lp_config *c, char *errstr, size_t errstr_size) {
  char var[128];
  for (const lp__conf_section *s = lp__core_sections; s->name != NULL; s++) {
    for (const lp_conf_key *k = s->keys; k->key != NULL; k++) {
      if (lp__config_env_name(s->name, k->key, var, sizeof(var)) != LP_OK) return LP_ECONFIG;
      const char *seed = lp__config_seed_env(s->name, k->key);
      const char *use = !env_given(var) && seed != NULL ? seed : var;
      int rc = apply_env(use, k, lp__config_check_for(s->name, k->key), (char *)c + k->offset, errstr,
                         errstr_size);
      if (rc != LP_OK) return rc;
    }
  }
  return LP_OK;
}

extern char **environ;

/* LEADPOET_<SECTION>_* names of a core section are reserved for its keys: one that names no key is a typo
 * that would otherwise be ignored silently. (Other LEADPOET_* names belong to scripts and tests.) */
static int check_env_typos(char *errstr, size_t errstr_size) {
  char var[128], prefix[64];
  for (char **e = environ; e != NULL && *e != NULL; e++) {
    if (strncmp(*e, "LEADPOET_", 9) != 0) continue;
    size_t len = strcspn(*e, "=");
    for (const lp__conf_section *s = lp__core_sections; s->name != NULL; s++) {
      if (lp__config_env_name(s->name, "", prefix, sizeof(prefix)) != LP_OK) continue;
      if (strncmp(*e, prefix, strlen(prefix)) != 0) continue;
      const lp_conf_key *k = s->keys;
      for (; k->key != NULL; k++) {
        if (lp__config_env_name(s->name, k->key, var, sizeof(var)) != LP_OK) continue;
        size_t vl = strlen(var);
        if (vl == len && strncmp(*e, var, len) == 0) break;
        if (vl + 5 == len && strncmp(*e, var, vl) == 0 && strncmp(*e + vl, "_FILE", 5) == 0) break;  /* its file */
      }
      if (k->key == NULL) {
        snprintf(errstr, errstr_size, "env %.*s: [%s] has no such key (see leadpoet check-config --help)",
                 (int)(len > 80 ? 80 : len), *e, s->name);
        return LP_ECONFIG;
      }
    }
  }
  return LP_OK;
}

/* ---- Loading ------------------------------------------------------------------------------------- */

static int load_common(lp_config *c, const char *data, size_t len, const char *name, char *errstr,
                       size_t errstr_size) {
  memset(c, 0, sizeof(*c));
  if (errstr_size > 0) errstr[0] = '\0';
  lp__config_priv *p = lp_calloc(1, sizeof(*p));
  if (p == NULL) goto oom;
  c->priv = p;
  p->file = lp_strdup(name);
  if (p->file == NULL) goto oom;
  int rc = set_defaults(c, errstr, errstr_size);
  if (rc != LP_OK) return rc;
  if (data != NULL) {
    if (memchr(data, '\0', len) != NULL) {
      snprintf(errstr, errstr_size, "%s: contains a NUL byte (not a text file?)", name);
      return LP_ECONFIG;
    }
    load_ctx x = { .c = c, .p = p, .data = data, .len = len, .errstr = errstr, .errstr_size = errstr_size };
    x.seen = lp_calloc((size_t)core_key_count(), sizeof(int));
    if (x.seen == NULL) goto oom;
    int r = ini_parse_stream(read_line, &x, on_pair, &x);
    lp_free(x.seen);
    if (r > 0 && (!x.failed || r < x.err_line)) fail_unparsable(&x, r);
    else if (r < 0 && !x.failed) snprintf(errstr, errstr_size, "%s: inih failed (%d)", name, r);
    if (x.failed || r != 0) return LP_ECONFIG;
  }
  rc = check_env_typos(errstr, errstr_size);
  if (rc != LP_OK) return rc;
  rc = apply_core_env(c, errstr, errstr_size);
  if (rc != LP_OK) return rc;
  return lp__config_check_api_keys(c, errstr, errstr_size);
oom:
  snprintf(errstr, errstr_size, "%s: out of memory", name);
  return LP_ECONFIG;
}

int lp_config_load_string(lp_config *c, const char *text, const char *name, char *errstr, size_t errstr_size) {
  return load_common(c, text, strlen(text), name != NULL ? name : "(string)", errstr, errstr_size);
}

int lp_config_load(lp_config *c, const char *path, char *errstr, size_t errstr_size) {
  if (path == NULL) return load_common(c, NULL, 0, "(defaults)", errstr, errstr_size);
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    memset(c, 0, sizeof(*c));
    snprintf(errstr, errstr_size, "%s: cannot open: %s", path, strerror(errno));
    return LP_ECONFIG;
  }
  lp_buf b = LP_BUF_INIT;
  char chunk[4096];
  size_t n;
  int rc = LP_OK;
  while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
    if (lp_buf_append(&b, chunk, n) != LP_OK) {
      rc = LP_ENOMEM;
      break;
    }
  }
  int read_errno = ferror(f) ? errno : 0;
  fclose(f);
  if (rc != LP_OK || read_errno != 0) {
    lp_buf_free(&b);
    memset(c, 0, sizeof(*c));
    snprintf(errstr, errstr_size, "%s: cannot read: %s", path,
             rc != LP_OK ? "out of memory" : strerror(read_errno));
    return LP_ECONFIG;
  }
  rc = load_common(c, b.data != NULL ? b.data : "", b.len, path, errstr, errstr_size);
  lp_buf_free(&b);
  return rc;
}

/* ---- Stage sections ------------------------------------------------------------------------------ */

static void free_stage_conf(lp__parsed_stage *s) {
  for (size_t i = 0; i < s->n_strings; i++) {
    char *str;
    memcpy(&str, (char *)s->conf + s->strings[i], sizeof(str));
    lp_free(str);
  }
  lp_free(s->strings);
  lp_free(s->conf);
}

/* Checks the stage's table before writing through it: a plugin's bad offset must not corrupt memory. */
static int check_table(const char *stage, const lp_conf_key *keys, size_t conf_size, size_t *n_strings,
                       char *errstr, size_t errstr_size) {
  *n_strings = 0;
  for (const lp_conf_key *k = keys; k != NULL && k->key != NULL; k++) {
    size_t sz = lp__config_type_size(k->type);
    if (sz == 0 || k->offset > conf_size || conf_size - k->offset < sz || k->def == NULL) {
      snprintf(errstr, errstr_size, "stage %s: key %s has a bad type, offset or default in its table", stage,
               k->key);
      return LP_ECONFIG;
    }
    if (k->type == LP_CONF_STRING) (*n_strings)++;
  }
  return LP_OK;
}

static const lp_conf_key *stage_key(const lp_conf_key *keys, const char *name) {
  for (const lp_conf_key *k = keys; k != NULL && k->key != NULL; k++) {
    if (strcmp(k->key, name) == 0) return k;
  }
  return NULL;
}

/* Defaults, then the raw entries, then LEADPOET_STAGE_<NAME>_<KEY>, into ps->conf. */
static int fill_stage(lp__config_priv *p, const char *stage, const lp_conf_key *keys, lp__parsed_stage *ps,
                      char *errstr, size_t errstr_size) {
  char why[256], section[64], var[160];
  snprintf(section, sizeof(section), "stage.%s", stage);
  for (const lp_conf_key *k = keys; k != NULL && k->key != NULL; k++) {
    if (k->type == LP_CONF_STRING) ps->strings[ps->n_strings++] = k->offset;
    if (lp_config_parse_value(k, k->def, (char *)ps->conf + k->offset, why, sizeof(why)) != LP_OK) {
      snprintf(errstr, errstr_size, "stage %s: default of %s: %s", stage, k->key, why);
      return LP_ECONFIG;
    }
  }
  const lp__raw_section *raw = raw_find(p, stage);
  for (size_t i = 0; raw != NULL && i < raw->n; i++) {
    const lp__raw_entry *e = &raw->entries[i];
    const lp_conf_key *k = stage_key(keys, e->key);
    if (k == NULL) {
      snprintf(errstr, errstr_size, "%s:%d: [%s] %s: unknown key", p->file, e->line, section, e->key);
      return LP_ECONFIG;
    }
    if (lp_config_parse_value(k, e->value, (char *)ps->conf + k->offset, why, sizeof(why)) != LP_OK) {
      snprintf(errstr, errstr_size, "%s:%d: [%s] %s: %s", p->file, e->line, section, e->key, why);
      return LP_ECONFIG;
    }
  }
  for (const lp_conf_key *k = keys; k != NULL && k->key != NULL; k++) {
    if (lp__config_env_name(section, k->key, var, sizeof(var)) != LP_OK) {
      snprintf(errstr, errstr_size, "stage %s: key %s: name too long", stage, k->key);
      return LP_ECONFIG;
    }
    int rc = apply_env(var, k, NULL, (char *)ps->conf + k->offset, errstr, errstr_size);
    if (rc != LP_OK) return rc;
  }
  return LP_OK;
}

int lp_config_stage_parse(lp_config *c, const char *stage, const lp_conf_key *keys, size_t conf_size,
                          void **out, char *errstr, size_t errstr_size) {
  *out = NULL;
  lp__config_priv *p = c->priv;
  size_t n_strings;
  if (p == NULL) {
    snprintf(errstr, errstr_size, "stage %s: the config is not loaded", stage);
    return LP_ECONFIG;
  }
  if (!valid_stage_name(stage) || strlen(stage) > SECTION_MAX - 6) {
    snprintf(errstr, errstr_size, "stage \"%.40s\": a stage name is [a-z0-9_]+, at most %d bytes", stage,
             SECTION_MAX - 6);
    return LP_ECONFIG;
  }
  int rc = check_table(stage, keys, conf_size, &n_strings, errstr, errstr_size);
  if (rc != LP_OK) return rc;
  if (p->n_stages == p->cap_stages) {
    size_t cap = p->cap_stages ? p->cap_stages * 2 : 4;
    lp__parsed_stage *ns = lp_realloc(p->stages, cap * sizeof(*ns));
    if (ns == NULL) goto oom;
    p->stages = ns;
    p->cap_stages = cap;
  }
  lp__parsed_stage ps = { 0 };
  ps.conf = lp_calloc(1, conf_size > 0 ? conf_size : 1);
  ps.strings = lp_calloc(n_strings > 0 ? n_strings : 1, sizeof(size_t));
  if (ps.conf == NULL || ps.strings == NULL) {
    free_stage_conf(&ps);
    goto oom;
  }
  rc = fill_stage(p, stage, keys, &ps, errstr, errstr_size);
  if (rc != LP_OK) {
    free_stage_conf(&ps);
    return rc;
  }
  p->stages[p->n_stages++] = ps;
  *out = ps.conf;
  return LP_OK;
oom:
  snprintf(errstr, errstr_size, "stage %s: out of memory", stage);
  return LP_ECONFIG;
}

int lp_config_check_stage_sections(const lp_config *c, const char *const *loaded, size_t n, char *errstr,
                                   size_t errstr_size) {
  const lp__config_priv *p = c->priv;
  for (size_t i = 0; p != NULL && i < p->n_sections; i++) {
    const lp__raw_section *s = &p->sections[i];
    size_t j = 0;
    while (j < n && strcmp(loaded[j], s->stage) != 0) j++;
    if (j == n) {
      snprintf(errstr, errstr_size,
               "%s:%d: [stage.%s]: no stage named %s is loaded (stages.order = \"%s\", stages.plugins = \"%s\")",
               p->file, s->line, s->stage, s->stage, c->stages.order ? c->stages.order : "",
               c->stages.plugins ? c->stages.plugins : "");
      return LP_ECONFIG;
    }
  }
  return LP_OK;
}

void lp_config_free(lp_config *c) {
  for (const lp__conf_section *s = lp__core_sections; s->name != NULL; s++) {
    for (const lp_conf_key *k = s->keys; k->key != NULL; k++) {
      if (k->type != LP_CONF_STRING) continue;
      char *str;
      memcpy(&str, (char *)c + k->offset, sizeof(str));
      lp_free(str);
    }
  }
  lp__config_priv *p = c->priv;
  if (p != NULL) {
    for (size_t i = 0; i < p->n_sections; i++) {
      lp__raw_section *s = &p->sections[i];
      for (size_t j = 0; j < s->n; j++) {
        lp_free(s->entries[j].key);
        lp_free(s->entries[j].value);
      }
      lp_free(s->entries);
      lp_free(s->stage);
    }
    lp_free(p->sections);
    for (size_t i = 0; i < p->n_stages; i++) free_stage_conf(&p->stages[i]);
    lp_free(p->stages);
    lp_free(p->file);
    lp_free(p);
  }
  memset(c, 0, sizeof(*c));
}
