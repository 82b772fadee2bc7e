/* sync.c: the blocking readers of checkpoints, for `leadpoet checkpoint inspect|verify`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "checkpoint/checkpoint_int.h"

int lp_ckpt_read_sync(redisContext *c, int32_t partition, const char *global_name, const lp_ckpt_schema *schema,
                      lp_ckpt_state *out, char *errstr, size_t errsz) {
  char tag[80], key[160];
  memset(out, 0, sizeof(*out));
  if (lp_ckpt_tag(partition, global_name, tag, sizeof(tag)) != LP_OK) {
    snprintf(errstr, errsz, "checkpoint: partition %d out of 0..%d or a bad global slot name", (int)partition,
             LP_CKPT_MAX_PARTITION);
    return LP_ERANGE;
  }
  lp_ckpt_key_meta(tag, key, sizeof(key));
  const char *argv[] = { "EVAL", lp__ckpt_lua_read, "1", key, "0" };
  redisReply *r = redisCommandArgv(c, 5, argv, NULL);
  if (r == NULL) {
    snprintf(errstr, errsz, "redis: %s", c->errstr[0] ? c->errstr : "connection lost");
    return LP_EIO;
  }
  int rc;
  if (r->type == REDIS_REPLY_ERROR) {
    snprintf(errstr, errsz, "redis refused the read of %s: %s", key, r->str);
    rc = LP_EIO;
  } else {
    rc = lp__ckpt_parse_read(r, partition, tag, schema != NULL ? schema : &lp_ckpt_schema_default, out, errstr,
                             errsz);
  }
  freeReplyObject(r);
  return rc;
}

static int cmp_i32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

/* Adds the partition or global slot that a meta key names. */
static int note_key(const char *k, size_t len, const char *gtag, int32_t **parts, size_t *n, size_t *cap,
                    int *has_global) {
  const char *open = memchr(k, '{', len), *close = open ? memchr(open, '}', len - (size_t)(open - k)) : NULL;
  if (open == NULL || close == NULL) return LP_OK;
  size_t tl = (size_t)(close - open - 1);
  if (tl == strlen(gtag) && memcmp(open + 1, gtag, tl) == 0) {
    *has_global = 1;
    return LP_OK;
  }
  if (tl < 2 || tl > 6 || open[1] != 'p') return LP_OK;
  char num[8];
  memcpy(num, open + 2, tl - 1);
  num[tl - 1] = '\0';
  char *end;
  long v = strtol(num, &end, 10);
  if (*end != '\0' || v < 0 || v > LP_CKPT_MAX_PARTITION) return LP_OK;
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 64;
    int32_t *p = lp_realloc(*parts, nc * sizeof(*p));
    if (p == NULL) return LP_ENOMEM;
    *parts = p;
    *cap = nc;
  }
  (*parts)[(*n)++] = (int32_t)v;
  return LP_OK;
}

int lp_ckpt_list_sync(redisContext *c, const char *global_name, int32_t **parts, size_t *n, int *has_global,
                      char *errstr, size_t errsz) {
  char gtag[80];
  *parts = NULL;
  *n = 0;
  *has_global = 0;
  if (lp_ckpt_tag(LP_CKPT_GLOBAL, global_name, gtag, sizeof(gtag)) != LP_OK) {
    snprintf(errstr, errsz, "checkpoint: bad global slot name");
    return LP_EINVAL;
  }
  size_t cap = 0;
  char cursor[32] = "0";
  int rc = LP_OK;
  do {
    const char *argv[] = { "SCAN", cursor, "MATCH", LP_CKPT_PREFIX "{*}:meta", "COUNT", "1000" };
    redisReply *r = redisCommandArgv(c, 6, argv, NULL);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[1]->type != REDIS_REPLY_ARRAY) {
      snprintf(errstr, errsz, "redis SCAN: %s",
               r == NULL ? c->errstr : r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
      if (r != NULL) freeReplyObject(r);
      rc = LP_EIO;
      break;
    }
    snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
    for (size_t i = 0; i < r->element[1]->elements && rc == LP_OK; i++) {
      const redisReply *k = r->element[1]->element[i];
      if (k->type == REDIS_REPLY_STRING) rc = note_key(k->str, k->len, gtag, parts, n, &cap, has_global);
    }
    freeReplyObject(r);
  } while (rc == LP_OK && strcmp(cursor, "0") != 0);
  if (rc != LP_OK) {
    lp_free(*parts);
    *parts = NULL;
    *n = 0;
    return rc;
  }
  if (*n > 1) qsort(*parts, *n, sizeof(**parts), cmp_i32);
  /* SCAN may return a key twice: drop repeats */
  size_t w = 0;
  for (size_t i = 0; i < *n; i++)
    if (w == 0 || (*parts)[w - 1] != (*parts)[i]) (*parts)[w++] = (*parts)[i];
  *n = w;
  return LP_OK;
}
