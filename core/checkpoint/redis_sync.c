/* redis_sync.c: a blocking Redis connection for the command-line tools (hiredis's blocking API). */
#include <stdio.h>
#include <string.h>

#include "checkpoint/redis.h"

/* Runs one handshake command and checks that it did not fail. */
static int handshake(redisContext *c, int argc, const char **argv, char *errstr, size_t errsz) {
  redisReply *r = redisCommandArgv(c, argc, argv, NULL);
  if (r == NULL) {
    snprintf(errstr, errsz, "redis %s: %s", argv[0], c->errstr[0] ? c->errstr : "connection lost");
    return LP_EIO;
  }
  int rc = LP_OK;
  if (r->type == REDIS_REPLY_ERROR) {
    snprintf(errstr, errsz, "redis %s refused: %s", argv[0], r->str);
    rc = LP_EIO;
  }
  freeReplyObject(r);
  return rc;
}

int lp_redis_sync_connect(const char *endpoint, int timeout_ms, redisContext **out, char *errstr, size_t errsz) {
  lp_redis_endpoint ep;
  *out = NULL;
  int rc = lp_redis_endpoint_parse(endpoint, &ep, errstr, errsz);
  if (rc != LP_OK) return rc;
  if (timeout_ms <= 0) timeout_ms = 2000;
  struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
  redisContext *c = redisConnectWithTimeout(ep.host, ep.port, tv);
  if (c == NULL || c->err) {
    snprintf(errstr, errsz, "redis %s:%d: %s", ep.host, ep.port, c != NULL ? c->errstr : "out of memory");
    if (c != NULL) redisFree(c);
    return LP_EIO;
  }
  if (redisSetTimeout(c, tv) != REDIS_OK) {
    snprintf(errstr, errsz, "redis %s:%d: cannot set the command time-out", ep.host, ep.port);
    redisFree(c);
    return LP_EIO;
  }
  char db[16];
  snprintf(db, sizeof(db), "%d", ep.db);
  if (ep.password[0] != '\0') {
    const char *auth_user[] = { "AUTH", ep.user, ep.password };
    const char *auth[] = { "AUTH", ep.password };
    rc = ep.user[0] ? handshake(c, 3, auth_user, errstr, errsz) : handshake(c, 2, auth, errstr, errsz);
  }
  if (rc == LP_OK && ep.db != 0) {
    const char *sel[] = { "SELECT", db };
    rc = handshake(c, 2, sel, errstr, errsz);
  }
  if (rc != LP_OK) {
    redisFree(c);
    return rc;
  }
  *out = c;
  return LP_OK;
}
