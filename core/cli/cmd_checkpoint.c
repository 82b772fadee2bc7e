/* `leadpoet checkpoint inspect|verify`: reads the checkpoints in Redis (never writes, never claims). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "checkpoint/checkpoint.h"
#include "cli/commands.h"

typedef struct ck_args {
  int verify;
  const char *endpoint;
  const char *global;
  int32_t partition;      /* -2: every partition */
  int timeout_ms;
} ck_args;

static void usage(FILE *out) {
  fprintf(out,
          "usage: leadpoet checkpoint inspect [--redis ENDPOINT] [--partition N] [--global NAME] [--timeout MS]\n"
          "       leadpoet checkpoint verify  [--redis ENDPOINT] [--partition N] [--global NAME] [--timeout MS]\n\n"
          "inspect  prints each partition's last checkpoint: seq, epoch, fence, offsets, chain, sizes, age\n"
          "verify   reads every blob and checks every checksum, size and schema version\n\n"
          "  --redis ENDPOINT  host:port or redis://[[user:]password@]host[:port][/db]\n"
          "                    (default: $REDIS_ENDPOINT, else 127.0.0.1:6379)\n"
          "  --partition N     only partition N (0..%d); \"global\" for the global slot\n"
          "  --global NAME     the global slot's name (default \"global\")\n"
          "  --timeout MS      bound of the connection and of each command (default 2000)\n\n"
          "exit codes: 0 ok, 1 a checkpoint is corrupt, truncated, too new or unreadable (the key is named),\n"
          "2 usage\n", LP_CKPT_MAX_PARTITION);
}

static int parse_args(int argc, char **argv, ck_args *a) {
  memset(a, 0, sizeof(*a));
  a->partition = -2;
  a->timeout_ms = 2000;
  a->endpoint = getenv("REDIS_ENDPOINT");
  if (a->endpoint == NULL || a->endpoint[0] == '\0') a->endpoint = "127.0.0.1:6379";
  if (argc < 2) return -1;
  if (strcmp(argv[1], "verify") == 0) a->verify = 1;
  else if (strcmp(argv[1], "inspect") != 0) return -1;
  for (int i = 2; i < argc; i++) {
    const char *o = argv[i];
    if (i + 1 >= argc) return -1;
    const char *v = argv[++i];
    char *end;
    if (strcmp(o, "--redis") == 0) {
      a->endpoint = v;
    } else if (strcmp(o, "--global") == 0) {
      a->global = v;
    } else if (strcmp(o, "--partition") == 0) {
      long p = strcmp(v, "global") == 0 ? LP_CKPT_GLOBAL : strtol(v, &end, 10);
      if (strcmp(v, "global") != 0 && (*end != '\0' || end == v || p < 0 || p > LP_CKPT_MAX_PARTITION)) return -1;
      a->partition = (int32_t)p;
    } else if (strcmp(o, "--timeout") == 0) {
      long t = strtol(v, &end, 10);
      if (*end != '\0' || t < 1 || t > 600000) return -1;
      a->timeout_ms = (int)t;
    } else {
      return -1;
    }
  }
  return 0;
}

static void print_state(const lp_ckpt_state *s, const char *name) {
  const lp_ckpt_meta *m = &s->meta;
  if (!s->found) {
    printf("%s: no checkpoint", name);
    if (m->fence > 0) printf(" (claimed by epoch %" PRId64 ")", m->fence);
    printf("\n");
    return;
  }
  double age = (double)(lp_now_ms() - m->ts_ms) / 1000.0;
  printf("%s: seq %" PRIu64 " epoch %" PRId64 " fence %" PRId64 " schema %u writer \"%s\" age %.1fs\n", name, m->seq,
         m->epoch, m->fence, m->schema, m->writer, age);
  printf("  offsets:");
  if (m->noffsets == 0) printf(" none");
  for (size_t i = 0; i < m->noffsets; i++) printf(" %s=%" PRId64, m->offsets[i].topic, m->offsets[i].offset);
  printf("\n  chain:");
  uint64_t total = 0;
  for (size_t i = 0; i < m->nchain; i++) {
    printf(" %s:%" PRIu64 " (%" PRIu64 " B, xxh3 %016" PRIx64 ")", m->chain[i].kind == LP_CKPT_FULL ? "full" : "delta",
           m->chain[i].seq, m->chain[i].size, m->chain[i].xxh3);
    total += m->chain[i].size;
  }
  printf("\n  total: %zu blobs, %" PRIu64 " bytes\n", m->nchain, total);
}

/* Reads one partition; prints it (inspect) or its verdict (verify). Returns 0 or 1. */
static int one(redisContext *c, const ck_args *a, int32_t p, int must_exist) {
  char name[96], err[512];
  if (p == LP_CKPT_GLOBAL) snprintf(name, sizeof(name), "global slot %s", a->global ? a->global : "global");
  else snprintf(name, sizeof(name), "partition %" PRId32, p);
  lp_ckpt_state s;
  int rc = lp_ckpt_read_sync(c, p, a->global, NULL, &s, err, sizeof(err));
  if (rc != LP_OK) {
    fprintf(stderr, "%s: %s\n", name, err);
    return 1;
  }
  int bad = 0;
  if (a->verify) {
    if (s.found) printf("ok %s: seq %" PRIu64 ", %zu blobs verified\n", name, s.meta.seq, s.nblobs);
    else if (must_exist) fprintf(stderr, "%s: no checkpoint\n", name), bad = 1;
  } else {
    print_state(&s, name);
  }
  lp_ckpt_state_free(&s);
  return bad;
}

int lp_cmd_checkpoint(int argc, char **argv) {
  if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    usage(stdout);
    return 0;
  }
  for (int i = 2; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage(stdout);
      return 0;
    }
  ck_args a;
  char tag[80], err[512];
  if (parse_args(argc, argv, &a) != 0 || lp_ckpt_tag(LP_CKPT_GLOBAL, a.global, tag, sizeof(tag)) != LP_OK) {
    usage(stderr);
    return 2;
  }
  lp_redis_endpoint ep;
  if (lp_redis_endpoint_parse(a.endpoint, &ep, err, sizeof(err)) != LP_OK) {
    fprintf(stderr, "leadpoet checkpoint: %s\n", err);
    return 2;
  }
  redisContext *c = NULL;
  if (lp_redis_sync_connect(a.endpoint, a.timeout_ms, &c, err, sizeof(err)) != LP_OK) {
    fprintf(stderr, "leadpoet checkpoint: %s\n", err);
    return 1;
  }
  int bad = 0;
  if (a.partition != -2) {
    bad = one(c, &a, a.partition, 1);
  } else {
    int32_t *parts = NULL;
    size_t n = 0;
    int has_global = 0;
    if (lp_ckpt_list_sync(c, a.global, &parts, &n, &has_global, err, sizeof(err)) != LP_OK) {
      fprintf(stderr, "leadpoet checkpoint: %s\n", err);
      redisFree(c);
      return 1;
    }
    if (has_global) bad |= one(c, &a, LP_CKPT_GLOBAL, 0);
    for (size_t i = 0; i < n; i++) bad |= one(c, &a, parts[i], 0);
    char where[300];
    lp_redis_endpoint_print(&ep, where, sizeof(where));
    if (n == 0 && !has_global) printf("no checkpoint under " LP_CKPT_PREFIX " at %s\n", where);
    else if (a.verify)
      printf("%s: %zu partitions%s checked at %s\n", bad ? "FAILED" : "ok", n, has_global ? " and the global slot" : "",
             where);
    lp_free(parts);
  }
  redisFree(c);
  return bad ? 1 : 0;
}
