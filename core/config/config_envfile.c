/*
 * config_envfile.c: an environment variable's value, or the content of the file its <VAR>_FILE names.
 *
 * Kubernetes mounts a Secret as files; `OPENAI_API_KEY_FILE=/run/secrets/openai` keeps the key out of the
 * process environment (which `ps e`, crash dumps and child processes see). Every environment name of a core
 * key has this form (LEADPOET_<SECTION>_<KEY>_FILE and the seed's names: OPENAI_API_KEY_FILE,
 * REDIS_ENDPOINT_FILE, ...). The file's content is the value, with its trailing line ends stripped (a Secret
 * written by `echo` ends in a newline). A missing, unreadable, oversized or binary file fails the load: a
 * secret that silently became "" would turn a feature off or connect without a password.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "config/config_internal.h"
#include "leadpoet/common.h"

/* Large enough for a key file of many API keys or a long kafka.properties; a larger file is a mistake. */
#define ENVFILE_MAX (1024 * 1024)

/* Reads path into a NUL-terminated lp_malloc'd string without its trailing \r and \n. */
static int read_value_file(const char *var, const char *path, char **out, char *errstr, size_t errstr_size) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    snprintf(errstr, errstr_size, "env %s: cannot open %s: %s", var, path, strerror(errno));
    return LP_ECONFIG;
  }
  lp_buf b = LP_BUF_INIT;
  char chunk[4096];
  size_t got;
  int rc = LP_OK;
  while (rc == LP_OK && (got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
    rc = b.len + got > ENVFILE_MAX ? LP_ERANGE : lp_buf_append(&b, chunk, got);
  }
  int read_err = ferror(f);
  fclose(f);
  if (rc == LP_OK && read_err) {
    snprintf(errstr, errstr_size, "env %s: cannot read %s", var, path);
    rc = LP_ECONFIG;
  } else if (rc == LP_ERANGE) {
    snprintf(errstr, errstr_size, "env %s: %s is larger than %d bytes", var, path, ENVFILE_MAX);
    rc = LP_ECONFIG;
  } else if (rc != LP_OK) {
    snprintf(errstr, errstr_size, "env %s: %s: out of memory", var, path);
    rc = LP_ECONFIG;
  } else if (b.len > 0 && memchr(b.data, '\0', b.len) != NULL) {
    snprintf(errstr, errstr_size, "env %s: %s contains a NUL byte (not a text file?)", var, path);
    rc = LP_ECONFIG;
  }
  if (rc == LP_OK) {
    size_t n = b.len;
    while (n > 0 && (b.data[n - 1] == '\n' || b.data[n - 1] == '\r')) n--;
    char *s = lp_malloc(n + 1);
    if (s == NULL) {
      snprintf(errstr, errstr_size, "env %s: %s: out of memory", var, path);
      rc = LP_ECONFIG;
    } else {
      if (n > 0) memcpy(s, b.data, n);
      s[n] = '\0';
      *out = s;
    }
  }
  lp_buf_free(&b);
  return rc;
}

int lp__config_env_lookup(const char *var, int with_file, char **value, char *used, size_t used_size, char *errstr,
                          size_t errstr_size) {
  *value = NULL;
  snprintf(used, used_size, "%s", var);
  char fvar[160];
  const char *v = getenv(var), *path = NULL;
  if (with_file) {
    int len = snprintf(fvar, sizeof(fvar), "%s_FILE", var);
    if (len > 0 && (size_t)len < sizeof(fvar)) path = getenv(fvar);
  }
  if (v != NULL && path != NULL) {
    snprintf(errstr, errstr_size, "env %s and %s are both set: set one of them", var, fvar);
    return LP_ECONFIG;
  }
  if (path != NULL) {
    if (path[0] == '\0') {
      snprintf(errstr, errstr_size, "env %s: empty (it names the file that holds the value of %s)", fvar, var);
      return LP_ECONFIG;
    }
    snprintf(used, used_size, "%s", fvar);
    return read_value_file(fvar, path, value, errstr, errstr_size);
  }
  if (v == NULL) return LP_OK;
  *value = lp_strdup(v);
  if (*value == NULL) {
    snprintf(errstr, errstr_size, "env %s: out of memory", var);
    return LP_ECONFIG;
  }
  return LP_OK;
}

int lp__config_env_file_is_key(const char *var) {
  char name[160], fvar[160];
  int len = snprintf(fvar, sizeof(fvar), "%s_FILE", var);
  if (len < 0 || (size_t)len >= sizeof(fvar)) return 0;
  for (const lp__conf_section *s = lp__core_sections; s->name != NULL; s++) {
    for (const lp_conf_key *k = s->keys; k->key != NULL; k++) {
      if (lp__config_env_name(s->name, k->key, name, sizeof(name)) == LP_OK && strcmp(name, fvar) == 0) return 1;
    }
  }
  return 0;
}
