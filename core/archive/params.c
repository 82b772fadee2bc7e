/* params.c: see params.h. */
#include "archive/params.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int copy(char *dst, size_t cap, const char *src, size_t len, const char *what, char *err, size_t n) {
  if (len >= cap) {
    snprintf(err, n, "%s is too long (%zu bytes, at most %zu)", what, len, cap - 1);
    return LP_ECONFIG;
  }
  memcpy(dst, src, len);
  dst[len] = '\0';
  return LP_OK;
}

static int env_or(const char *name, const char *def, char *dst, size_t cap, char *err, size_t n) {
  const char *v = getenv(name);
  if (v == NULL || v[0] == '\0') v = def;
  return copy(dst, cap, v, strlen(v), name, err, n);
}

/* host:port, [v6]:port, host, [v6]. */
static int parse_endpoint(lp_pg_params *p, const char *ep, char *err, size_t n) {
  const char *host = ep, *port = NULL;
  size_t hlen;
  if (ep[0] == '[') {
    const char *close = strchr(ep, ']');
    if (close == NULL || (close[1] != '\0' && close[1] != ':')) {
      snprintf(err, n, "DB_ENDPOINT \"%s\": expected [address]:port", ep);
      return LP_ECONFIG;
    }
    host = ep + 1;
    hlen = (size_t)(close - host);
    if (close[1] == ':') port = close + 2;
  } else {
    const char *colon = strrchr(ep, ':');
    if (colon != NULL && strchr(ep, ':') != colon) {
      snprintf(err, n, "DB_ENDPOINT \"%s\": write an IPv6 address as [address]:port", ep);
      return LP_ECONFIG;
    }
    hlen = colon ? (size_t)(colon - ep) : strlen(ep);
    if (colon) port = colon + 1;
  }
  if (hlen == 0) {
    snprintf(err, n, "DB_ENDPOINT \"%s\": no host", ep);
    return LP_ECONFIG;
  }
  if (copy(p->host, sizeof(p->host), host, hlen, "DB_ENDPOINT's host", err, n) != LP_OK) return LP_ECONFIG;
  if (port == NULL) port = "5432";
  char *end;
  errno = 0;
  long v = strtol(port, &end, 10);
  if (port[0] == '\0' || *end != '\0' || errno != 0 || v < 1 || v > 65535) {
    snprintf(err, n, "DB_ENDPOINT \"%s\": the port must be 1..65535", ep);
    return LP_ECONFIG;
  }
  snprintf(p->port, sizeof(p->port), "%ld", v);
  return LP_OK;
}

static int read_password_file(lp_pg_params *p, const char *path, char *err, size_t n) {
  FILE *f = fopen(path, "r");
  if (f == NULL) {
    snprintf(err, n, "DB_PASSWORD_FILE %s: %s", path, strerror(errno));
    return LP_ECONFIG;
  }
  char line[sizeof(p->password) + 2];
  size_t len = fread(line, 1, sizeof(line) - 1, f);
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    snprintf(err, n, "DB_PASSWORD_FILE %s: read error", path);
    return LP_ECONFIG;
  }
  line[len] = '\0';
  len = strcspn(line, "\r\n");  /* the first line: Secret files often end with a newline */
  return copy(p->password, sizeof(p->password), line, len, "DB_PASSWORD_FILE's password", err, n);
}

int lp_pg_params_from_env(lp_pg_params *p, char *errstr, size_t errstr_size) {
  memset(p, 0, sizeof(*p));
  const char *ep = getenv("DB_ENDPOINT");
  if (ep == NULL || ep[0] == '\0') {
    snprintf(errstr, errstr_size, "DB_ENDPOINT is not set");
    return LP_ENOENT;
  }
  int rc = parse_endpoint(p, ep, errstr, errstr_size);
  if (rc == LP_OK) rc = env_or("DB_NAME", "leadpoet", p->dbname, sizeof(p->dbname), errstr, errstr_size);
  if (rc == LP_OK) rc = env_or("DB_USER", "leadpoet", p->user, sizeof(p->user), errstr, errstr_size);
  if (rc != LP_OK) return rc;
  const char *pw = getenv("DB_PASSWORD"), *pwf = getenv("DB_PASSWORD_FILE");
  int has_pw = pw != NULL && pw[0] != '\0', has_pwf = pwf != NULL && pwf[0] != '\0';
  if (has_pw && has_pwf) {
    snprintf(errstr, errstr_size, "set DB_PASSWORD or DB_PASSWORD_FILE, not both");
    return LP_ECONFIG;
  }
  if (has_pw) return copy(p->password, sizeof(p->password), pw, strlen(pw), "DB_PASSWORD", errstr, errstr_size);
  if (has_pwf) return read_password_file(p, pwf, errstr, errstr_size);
  return LP_OK;
}

void lp_pg_params_kv(const lp_pg_params *p, const char *connect_timeout, const char **kw, const char **val) {
  size_t i = 0;
  kw[i] = "host", val[i++] = p->host;
  kw[i] = "port", val[i++] = p->port;
  kw[i] = "dbname", val[i++] = p->dbname;
  kw[i] = "user", val[i++] = p->user;
  if (p->password[0]) kw[i] = "password", val[i++] = p->password;
  kw[i] = "application_name", val[i++] = "leadpoet";
  kw[i] = "connect_timeout", val[i++] = connect_timeout;
  kw[i] = "client_encoding", val[i++] = "UTF8";
  kw[i] = NULL, val[i] = NULL;
}

void lp_pg_params_describe(const lp_pg_params *p, char *out, size_t n) {
  int v6 = strchr(p->host, ':') != NULL;
  snprintf(out, n, "%s@%s%s%s:%s/%s", p->user, v6 ? "[" : "", p->host, v6 ? "]" : "", p->port, p->dbname);
}
