/* endpoint.c: Redis endpoint strings ("host:port", "redis://[[user:]password@]host[:port][/db]"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint/redis.h"

/* Parses a decimal number in [lo, hi] from exactly [s, s+n). */
static int parse_num(const char *s, size_t n, long lo, long hi, long *out) {
  if (n == 0 || n > 9) return LP_EINVAL;
  long v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return LP_EINVAL;
    v = v * 10 + (s[i] - '0');
  }
  if (v < lo || v > hi) return LP_ERANGE;
  *out = v;
  return LP_OK;
}

static int copy_part(char *dst, size_t cap, const char *s, size_t n) {
  if (n >= cap) return LP_ERANGE;
  memcpy(dst, s, n);
  dst[n] = '\0';
  return LP_OK;
}

/* host[:port] or [v6][:port], exactly [s, s+n). */
static int parse_hostport(const char *s, size_t n, lp_redis_endpoint *out, char *errstr, size_t errsz) {
  const char *host = s, *port = NULL;
  size_t hlen = n, plen = 0;
  if (n > 0 && s[0] == '[') {
    const char *close = memchr(s, ']', n);
    if (close == NULL) {
      snprintf(errstr, errsz, "redis endpoint: '[' without ']' in the host");
      return LP_EINVAL;
    }
    host = s + 1;
    hlen = (size_t)(close - host);
    size_t rest = n - (size_t)(close + 1 - s);
    if (rest > 0) {
      if (close[1] != ':') {
        snprintf(errstr, errsz, "redis endpoint: expected ':' after ']'");
        return LP_EINVAL;
      }
      port = close + 2;
      plen = rest - 1;
    }
  } else {
    const char *colon = memchr(s, ':', n);
    if (colon != NULL) {
      if (memchr(colon + 1, ':', n - (size_t)(colon + 1 - s)) != NULL) {
        snprintf(errstr, errsz, "redis endpoint: an IPv6 address must be written [addr]:port");
        return LP_EINVAL;
      }
      hlen = (size_t)(colon - s);
      port = colon + 1;
      plen = n - hlen - 1;
    }
  }
  if (hlen == 0) {
    snprintf(errstr, errsz, "redis endpoint: the host is empty");
    return LP_EINVAL;
  }
  if (copy_part(out->host, sizeof(out->host), host, hlen) != LP_OK) {
    snprintf(errstr, errsz, "redis endpoint: the host is too long");
    return LP_EINVAL;
  }
  out->port = LP_REDIS_DEFAULT_PORT;
  if (port != NULL) {
    long v;
    if (parse_num(port, plen, 1, 65535, &v) != LP_OK) {
      snprintf(errstr, errsz, "redis endpoint: port '%.*s' is not a number in 1..65535", (int)plen, port);
      return LP_EINVAL;
    }
    out->port = (int)v;
  }
  return LP_OK;
}

int lp_redis_endpoint_parse(const char *s, lp_redis_endpoint *out, char *errstr, size_t errsz) {
  if (s == NULL || out == NULL) {
    snprintf(errstr, errsz, "redis endpoint: none given");
    return LP_EINVAL;
  }
  memset(out, 0, sizeof(*out));
  const char *scheme = strstr(s, "://");
  if (scheme == NULL) return parse_hostport(s, strlen(s), out, errstr, errsz);
  if ((size_t)(scheme - s) != 5 || strncmp(s, "redis", 5) != 0) {
    snprintf(errstr, errsz, "redis endpoint: scheme '%.*s' is not redis:// (TLS is not supported by this build)",
             (int)(scheme - s), s);
    return LP_EINVAL;
  }
  const char *p = scheme + 3;
  const char *slash = strchr(p, '/');
  const char *end = slash != NULL ? slash : p + strlen(p);
  const char *at = NULL;
  for (const char *q = p; q < end; q++)
    if (*q == '@') at = q;  /* the last '@': a password may contain one */
  if (at != NULL) {
    const char *colon = memchr(p, ':', (size_t)(at - p));
    const char *pw = colon != NULL ? colon + 1 : p;
    if (colon != NULL && copy_part(out->user, sizeof(out->user), p, (size_t)(colon - p)) != LP_OK) {
      snprintf(errstr, errsz, "redis endpoint: the user name is too long");
      return LP_EINVAL;
    }
    if (copy_part(out->password, sizeof(out->password), pw, (size_t)(at - pw)) != LP_OK) {
      snprintf(errstr, errsz, "redis endpoint: the password is too long");
      return LP_EINVAL;
    }
    p = at + 1;
  }
  int rc = parse_hostport(p, (size_t)(end - p), out, errstr, errsz);
  if (rc != LP_OK) return rc;
  if (slash != NULL && slash[1] != '\0') {
    long v;
    if (parse_num(slash + 1, strlen(slash + 1), 0, 65535, &v) != LP_OK) {
      snprintf(errstr, errsz, "redis endpoint: db '%s' is not a number in 0..65535", slash + 1);
      return LP_EINVAL;
    }
    out->db = (int)v;
  }
  return LP_OK;
}

void lp_redis_endpoint_print(const lp_redis_endpoint *e, char *out, size_t cap) {
  int v6 = strchr(e->host, ':') != NULL;
  snprintf(out, cap, "%s%s%s:%d/%d", v6 ? "[" : "", e->host, v6 ? "]" : "", e->port, e->db);
}
