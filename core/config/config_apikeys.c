/*
 * config_apikeys.c: the entries of http.api_keys and http.api_keys_file ("name:SHA256HEX"), parsed once
 * here for the config checks and for the server's key table (core/server/auth.c), with an optional third
 * field, the key's own daily budget in USD ("name:SHA256HEX:USD"), and the start-up rule
 * that ties the keys together (http.api_keys_required).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "config/config.h"
#include "config/config_internal.h"
#include "leadpoet/common.h"

static int hex_val(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

static int name_char(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
         ch == '_' || ch == '-';
}

/* One trimmed entry of n > 0 bytes. */
static int parse_entry(const char *e, size_t n, const char *origin, lp_config_api_key_fn fn, void *ud, char *why,
                       size_t why_size) {
  const char *colon = memchr(e, ':', n);
  int shown = (int)(n > 40 ? 40 : n);
  if (colon == NULL) {
    snprintf(why, why_size, "%s: entry \"%.*s...\" is not name:SHA256HEX", origin, shown > 12 ? 12 : shown, e);
    return LP_EINVAL;
  }
  size_t name_len = (size_t)(colon - e), hex_len = n - name_len - 1;
  /* An optional third field: the key's own daily budget in USD (http.key_daily_budget_usd otherwise). */
  double budget = -1;
  const char *colon2 = memchr(colon + 1, ':', hex_len);
  if (colon2 != NULL) {
    size_t blen = (size_t)(e + n - colon2 - 1);
    char num[32], *end = NULL;
    hex_len = (size_t)(colon2 - colon - 1);
    if (blen > 0 && blen < sizeof(num)) {
      memcpy(num, colon2 + 1, blen);
      num[blen] = '\0';
      budget = strtod(num, &end);
    }
    if (blen == 0 || blen >= sizeof(num) || end == NULL || *end != '\0' || !(budget >= 0 && budget <= 1e6)) {
      snprintf(why, why_size, "%s: key \"%.*s\": the daily budget after the hash must be a number of USD in 0..1000000",
               origin, (int)(name_len <= 64 ? name_len : 64), e);
      return LP_EINVAL;
    }
  }
  if (name_len == 0 || name_len > 64) {
    snprintf(why, why_size, "%s: an entry's name must be 1..64 bytes", origin);
    return LP_EINVAL;
  }
  for (size_t i = 0; i < name_len; i++) {
    if (!name_char(e[i])) {
      snprintf(why, why_size, "%s: key name \"%.*s\" may hold only [A-Za-z0-9._-]", origin, (int)name_len, e);
      return LP_EINVAL;
    }
  }
  uint8_t hash[32];
  int ok = hex_len == 64;
  for (size_t i = 0; ok && i < 32; i++) {
    int hi = hex_val(colon[1 + 2 * i]), lo = hex_val(colon[2 + 2 * i]);
    ok = hi >= 0 && lo >= 0;
    hash[i] = (uint8_t)(hi * 16 + lo);
  }
  if (!ok) {
    snprintf(why, why_size,
             "%s: key \"%.*s\": the hash must be 64 hex digits, the SHA-256 of the key (`leadpoet keyhash KEY`), "
             "never the key itself",
             origin, (int)name_len, e);
    return LP_EINVAL;
  }
  return fn != NULL ? fn(e, name_len, hash, budget, ud) : LP_OK;
}

int lp_config_api_keys_parse(const char *text, const char *origin, lp_config_api_key_fn fn, void *ud, char *why,
                             size_t why_size) {
  const char *p = text;
  while (*p != '\0') {
    size_t n = strcspn(p, ",\n");
    const char *next = p + n + (p[n] != '\0');
    const char *hash_mark = memchr(p, '#', n);
    if (hash_mark != NULL) n = (size_t)(hash_mark - p);
    while (n > 0 && (*p == ' ' || *p == '\t' || *p == '\r')) p++, n--;
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r')) n--;
    if (n > 0) {
      int rc = parse_entry(p, n, origin, fn, ud, why, why_size);
      if (rc != LP_OK) return rc;
    }
    p = next;
  }
  return LP_OK;
}

typedef struct counter {
  lp_config_api_key_fn fn;
  void *ud;
  size_t n;
} counter;

static int count_one(const char *name, size_t name_len, const uint8_t hash[32], double budget_usd, void *ud) {
  counter *k = ud;
  k->n++;
  return k->fn != NULL ? k->fn(name, name_len, hash, budget_usd, k->ud) : LP_OK;
}

int lp_config_api_keys_each(const lp_config *c, lp_config_api_key_fn fn, void *ud, size_t *n, char *why,
                            size_t why_size) {
  counter k = { fn, ud, 0 };
  *n = 0;
  const char *inline_keys = c->http.api_keys != NULL ? c->http.api_keys : "";
  int rc = lp_config_api_keys_parse(inline_keys, "http.api_keys", count_one, &k, why, why_size);
  if (rc != LP_OK) return rc;
  const char *path = c->http.api_keys_file;
  if (path != NULL && path[0] != '\0') {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
      snprintf(why, why_size, "http.api_keys_file %s: cannot open: %s", path, strerror(errno));
      return LP_EIO;
    }
    lp_buf b = LP_BUF_INIT;
    char chunk[4096];
    size_t got;
    while (rc == LP_OK && (got = fread(chunk, 1, sizeof(chunk), f)) > 0) rc = lp_buf_append(&b, chunk, got);
    int read_err = ferror(f);
    fclose(f);
    if (rc == LP_OK && read_err) rc = LP_EIO;
    if (rc == LP_OK) rc = lp_buf_append(&b, "", 1); /* NUL-terminated */
    if (rc != LP_OK) {
      snprintf(why, why_size, "http.api_keys_file %s: cannot read it", path);
    } else if (memchr(b.data, '\0', b.len - 1) != NULL) {
      snprintf(why, why_size, "http.api_keys_file %s: contains a NUL byte", path);
      rc = LP_EINVAL;
    } else {
      rc = lp_config_api_keys_parse(b.data, path, count_one, &k, why, why_size);
    }
    lp_buf_free(&b);
    if (rc != LP_OK) return rc;
  }
  *n = k.n;
  return LP_OK;
}

int lp__config_check_api_keys(const lp_config *c, char *errstr, size_t errstr_size) {
  size_t n = 0;
  char why[512] = "";
  if (lp_config_api_keys_each(c, NULL, NULL, &n, why, sizeof(why)) != LP_OK) {
    snprintf(errstr, errstr_size, "[http] %s", why);
    return LP_ECONFIG;
  }
  if (c->http.api_keys_required && n == 0) {
    snprintf(errstr, errstr_size,
             "[http] api_keys_required: no API key is configured (set http.api_keys, "
             "LEADPOET_HTTP_API_KEYS or http.api_keys_file)");
    return LP_ECONFIG;
  }
  return LP_OK;
}
