/*
 * config_value.c: one value of a config key, from text to field and back: the value syntax of every type
 * (suffixes of sizes and durations, booleans, quoted strings), the bounds check, and the formatting used by
 * the reference and the dump. Pure functions; any thread.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "config/config_internal.h"
#include "leadpoet/common.h"

#define KIB INT64_C(1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)
#define SEC INT64_C(1000)
#define MIN (SEC * 60)
#define HOUR (MIN * 60)
#define DAY (HOUR * 24)

typedef struct unit {
  const char *suffix;
  int64_t factor;
} unit;

/* Largest first, for formatting; parsing matches the whole suffix so order does not matter there. */
static const unit size_units[] = { { "g", GIB }, { "m", MIB }, { "k", KIB }, { NULL, 0 } };
static const unit duration_units[] = { { "d", DAY }, { "h", HOUR }, { "m", MIN }, { "s", SEC },
                                       { "ms", 1 }, { NULL, 0 } };

const char *lp__config_type_name(int type) {
  switch (type) {
  case LP_CONF_INT: return "int";
  case LP_CONF_DOUBLE: return "double";
  case LP_CONF_BOOL: return "bool";
  case LP_CONF_STRING: return "string";
  case LP_CONF_SIZE: return "size";
  case LP_CONF_DURATION_MS: return "duration";
  default: return "?";
  }
}

size_t lp__config_type_size(int type) {
  switch (type) {
  case LP_CONF_INT:
  case LP_CONF_SIZE:
  case LP_CONF_DURATION_MS: return sizeof(int64_t);
  case LP_CONF_DOUBLE: return sizeof(double);
  case LP_CONF_BOOL: return sizeof(int);
  case LP_CONF_STRING: return sizeof(char *);
  default: return 0;
  }
}

/* Copies at most 48 bytes of the offending value into the message, so that a long value keeps the
 * message readable. */
static const char *shown(const char *value, char *tmp, size_t n) {
  size_t len = strlen(value);
  if (len < n) return value;
  snprintf(tmp, n, "%.*s...", (int)(n - 4), value);
  return tmp;
}

/* Unsigned decimal digits at *p into *out, advancing *p. Returns 0, LP_EINVAL (no digit) or LP_ERANGE. */
static int parse_digits(const char **p, int64_t *out) {
  const char *s = *p;
  int64_t v = 0;
  if (!isdigit((unsigned char)*s)) return LP_EINVAL;
  for (; isdigit((unsigned char)*s); s++) {
    int d = *s - '0';
    if (v > (INT64_MAX - d) / 10) return LP_ERANGE;
    v = v * 10 + d;
  }
  *p = s;
  *out = v;
  return LP_OK;
}

static int parse_int(const char *value, int64_t *out) {
  const char *p = value;
  int neg = 0;
  if (*p == '+' || *p == '-') neg = (*p++ == '-');
  int64_t v;
  int rc = parse_digits(&p, &v);
  if (rc != LP_OK) return rc;
  if (*p != '\0') return LP_EINVAL;
  *out = neg ? -v : v;
  return LP_OK;
}

/* A number with an optional suffix from units (matched case-insensitively); bare = factor 1. */
static int parse_with_units(const char *value, const unit *units, int64_t *out) {
  const char *p = value;
  int64_t v;
  int rc = parse_digits(&p, &v);
  if (rc != LP_OK) return rc;
  int64_t factor = 1;
  if (*p != '\0') {
    factor = 0;
    for (const unit *u = units; u->suffix != NULL; u++) {
      if (strcasecmp(p, u->suffix) == 0) {
        factor = u->factor;
        break;
      }
    }
    if (factor == 0) return LP_EINVAL;
  }
  if (v > INT64_MAX / factor) return LP_ERANGE;
  *out = v * factor;
  return LP_OK;
}

static int parse_bool(const char *value, int *out) {
  static const char *const yes[] = { "true", "yes", "on", "1" };
  static const char *const no[] = { "false", "no", "off", "0" };
  for (size_t i = 0; i < 4; i++) {
    if (strcasecmp(value, yes[i]) == 0) {
      *out = 1;
      return LP_OK;
    }
    if (strcasecmp(value, no[i]) == 0) {
      *out = 0;
      return LP_OK;
    }
  }
  return LP_EINVAL;
}

/* A value in double quotes loses them (its inside is taken as it is, no escapes); otherwise verbatim. */
static int parse_string(const char *value, char **out, char *why, size_t why_size) {
  size_t len = strlen(value);
  if (len > 0 && value[0] == '"') {
    if (len < 2 || value[len - 1] != '"') {
      snprintf(why, why_size, "unterminated quoted string (note that \" ;\" starts a comment)");
      return LP_EINVAL;
    }
    *out = lp_strndup(value + 1, len - 2);
  } else {
    *out = lp_strdup(value);
  }
  if (*out == NULL) {
    snprintf(why, why_size, "out of memory");
    return LP_ENOMEM;
  }
  return LP_OK;
}

/* Formats v with the largest unit that divides it exactly ("16k", "10s"); 0 and odd values bare, except
 * that a duration that fits no larger unit is written with "ms" so that it reads as a duration. */
static void format_units(int64_t v, const unit *units, int is_duration, char *out, size_t n) {
  if (v != 0) {
    for (const unit *u = units; u->suffix != NULL; u++) {
      if (u->factor > 1 && v % u->factor == 0) {
        snprintf(out, n, "%" PRId64 "%s", v / u->factor, u->suffix);
        return;
      }
    }
  }
  snprintf(out, n, "%" PRId64 "%s", v, is_duration && v != 0 ? "ms" : "");
}

static void format_number(int type, double v, char *out, size_t n) {
  switch (type) {
  case LP_CONF_SIZE: format_units((int64_t)v, size_units, 0, out, n); break;
  case LP_CONF_DURATION_MS: format_units((int64_t)v, duration_units, 1, out, n); break;
  case LP_CONF_DOUBLE: snprintf(out, n, "%g", v); break;
  default: snprintf(out, n, "%" PRId64, (int64_t)v); break;
  }
}

static int has_bounds(const lp_conf_key *k) {
  return k->min <= k->max && k->type != LP_CONF_STRING && k->type != LP_CONF_BOOL;
}

void lp__config_format_bounds(const lp_conf_key *k, char *out, size_t n) {
  if (!has_bounds(k)) {
    snprintf(out, n, "%s", "");
    return;
  }
  char lo[32], hi[32];
  format_number(k->type, k->min, lo, sizeof(lo));
  format_number(k->type, k->max, hi, sizeof(hi));
  snprintf(out, n, "%s..%s", lo, hi);
}

static int check_bounds(const lp_conf_key *k, double v, char *why, size_t why_size) {
  if (!has_bounds(k) || (v >= k->min && v <= k->max)) return LP_OK;
  char val[32], range[72];
  format_number(k->type, v, val, sizeof(val));
  lp__config_format_bounds(k, range, sizeof(range));
  snprintf(why, why_size, "%s is out of bounds %s", val, range);
  return LP_ERANGE;
}

static int parse_number(const lp_conf_key *k, const char *value, void *dst, char *why, size_t why_size) {
  char tmp[52];
  int64_t i = 0;
  double d = 0;
  int rc;
  const char *expect;
  switch (k->type) {
  case LP_CONF_INT:
    rc = parse_int(value, &i);
    expect = "an integer";
    d = (double)i;
    break;
  case LP_CONF_SIZE:
    rc = parse_with_units(value, size_units, &i);
    expect = "a size in bytes with an optional suffix k, m or g (powers of 1024), such as 512, 16k or 8m";
    d = (double)i;
    break;
  case LP_CONF_DURATION_MS:
    rc = parse_with_units(value, duration_units, &i);
    expect = "a duration with a suffix ms, s, m, h or d (bare = ms), such as 250ms, 10s or 5m";
    d = (double)i;
    break;
  default: {
    char *end = NULL;
    errno = 0;
    d = strtod(value, &end);
    rc = LP_OK;
    if (end == value || *end != '\0' || isspace((unsigned char)value[0]) || isnan(d)) rc = LP_EINVAL;
    else if (isinf(d) || (errno == ERANGE && fabs(d) == HUGE_VAL)) rc = LP_ERANGE;
    expect = "a finite number such as 0.5 or 1e-3";
    break;
  }
  }
  if (rc == LP_ERANGE) {
    snprintf(why, why_size, "\"%s\" is too large for %s", shown(value, tmp, sizeof(tmp)),
             lp__config_type_name(k->type));
    return LP_ERANGE;
  }
  if (rc != LP_OK) {
    snprintf(why, why_size, "\"%s\" is not %s", shown(value, tmp, sizeof(tmp)), expect);
    return LP_EINVAL;
  }
  rc = check_bounds(k, d, why, why_size);
  if (rc != LP_OK) return rc;
  if (k->type == LP_CONF_DOUBLE) memcpy(dst, &d, sizeof(d));
  else memcpy(dst, &i, sizeof(i));
  return LP_OK;
}

int lp_config_parse_value(const lp_conf_key *k, const char *value, void *dst, char *why, size_t why_size) {
  char tmp[52];
  switch (k->type) {
  case LP_CONF_INT:
  case LP_CONF_DOUBLE:
  case LP_CONF_SIZE:
  case LP_CONF_DURATION_MS: return parse_number(k, value, dst, why, why_size);
  case LP_CONF_BOOL: {
    int b;
    if (parse_bool(value, &b) != LP_OK) {
      snprintf(why, why_size, "\"%s\" is not a boolean (true/false, yes/no, on/off, 1/0)",
               shown(value, tmp, sizeof(tmp)));
      return LP_EINVAL;
    }
    memcpy(dst, &b, sizeof(b));
    return LP_OK;
  }
  case LP_CONF_STRING: {
    char *s = NULL;
    int rc = parse_string(value, &s, why, why_size);
    if (rc != LP_OK) return rc;
    char *old;
    memcpy(&old, dst, sizeof(old));
    lp_free(old);
    memcpy(dst, &s, sizeof(s));
    return LP_OK;
  }
  default: snprintf(why, why_size, "key has an unknown type %d", k->type); return LP_EINVAL;
  }
}

/* Shortest %g form that reads back to the same double. */
static void format_double(double v, char *out, size_t n) {
  for (int prec = 6; prec <= 17; prec++) {
    snprintf(out, n, "%.*g", prec, v);
    if (strtod(out, NULL) == v) return;
  }
}

void lp__config_format_value(const lp_conf_key *k, const void *src, char *out, size_t n) {
  int64_t i;
  double d;
  int b;
  const char *s;
  switch (k->type) {
  case LP_CONF_INT:
    memcpy(&i, src, sizeof(i));
    snprintf(out, n, "%" PRId64, i);
    break;
  case LP_CONF_SIZE:
  case LP_CONF_DURATION_MS:
    memcpy(&i, src, sizeof(i));
    format_units(i, k->type == LP_CONF_SIZE ? size_units : duration_units, k->type == LP_CONF_DURATION_MS,
                 out, n);
    break;
  case LP_CONF_DOUBLE:
    memcpy(&d, src, sizeof(d));
    format_double(d, out, n);
    break;
  case LP_CONF_BOOL:
    memcpy(&b, src, sizeof(b));
    snprintf(out, n, "%s", b ? "true" : "false");
    break;
  case LP_CONF_STRING:
    memcpy(&s, src, sizeof(s));
    snprintf(out, n, "\"%s\"", s != NULL ? s : "");
    break;
  default: snprintf(out, n, "?"); break;
  }
}
