/*
 * restore_bench: what a checkpoint costs in the store (core/checkpoint/), against a local redis-server.
 *
 *   1. a full checkpoint of P partitions of B bytes each (one script, all partitions: single-Redis mode);
 *   2. R delta checkpoints of D bytes per partition (median and worst time, bytes per second);
 *   3. a restore of the P partitions (full + deltas, every checksum verified) by a fresh store;
 *   reference: the same bytes as raw pipelined SETs (for 1) and GETs (for 3) on the same connection.
 *
 * Starts /usr/bin/redis-server on a free 127.0.0.1 port without persistence (or uses --redis ENDPOINT) and
 * stops it by its pid. The end-to-end figure of the issue (process start to /readyz with 1M leads) needs
 * the server wiring and is measured by this program once `serve` restores from checkpoints.
 *
 *   restore_bench [--partitions 64] [--full-kib 1024] [--delta-kib 64] [--rounds 20] [--redis ENDPOINT]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "checkpoint/checkpoint.h"

#define MAX_PARTS 1024

static uv_loop_t loop;

static void tick(uv_timer_t *t) { (void)t; }

/* Runs the loop until *flag or 60 s (then exits: a benchmark that hangs tells nothing). */
static void run_until(volatile int *flag) {
  uint64_t end = lp_mono_ns() + 60000000000ull;
  uv_timer_t t;
  uv_timer_init(&loop, &t);
  uv_timer_start(&t, tick, 10, 10);
  while (!*flag && lp_mono_ns() < end) uv_run(&loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
  if (!*flag) {
    fprintf(stderr, "restore_bench: no answer within 60 s\n");
    exit(1);
  }
}

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || getsockname(fd, (struct sockaddr *)&a, &len) != 0)
    return -1;
  close(fd);
  return ntohs(a.sin_port);
}

static pid_t start_redis(int port) {
  char p[16];
  snprintf(p, sizeof(p), "%d", port);
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (freopen("/dev/null", "w", stdout) == NULL || freopen("/dev/null", "w", stderr) == NULL) _exit(127);
    execl("/usr/bin/redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1", "--save", "", "--appendonly",
          "no", "--dir", "/tmp", (char *)NULL);
    _exit(127);
  }
  return pid;
}

typedef struct box {
  int done, err, pending;
  char msg[256];
} box;

static void on_state(void *ud, int up, const char *reason) {
  (void)reason;
  if (up) ((box *)ud)->done = 1;
}

static void on_restore(void *ud, int err, lp_ckpt_state *s, size_t n, const char *msg) {
  box *b = ud;
  (void)s, (void)n;
  b->done = 1;
  b->err = err;
  if (msg != NULL) snprintf(b->msg, sizeof(b->msg), "%s", msg);
}

static void on_write(void *ud, const lp_ckpt_result *r) {
  box *b = ud;
  b->done = 1;
  b->err = r->err;
  snprintf(b->msg, sizeof(b->msg), "%s", r->errmsg);
}

static void on_raw(void *ud, int err, const redisReply *r, const char *msg) {
  box *b = ud;
  (void)r;
  if (err != 0 && b->err == 0) b->err = err, snprintf(b->msg, sizeof(b->msg), "%s", msg);
  if (--b->pending == 0) b->done = 1;
}

static double ms_since(uint64_t t0) { return (double)(lp_mono_ns() - t0) / 1e6; }

static void check(const box *b, const char *what) {
  if (b->err != 0) {
    fprintf(stderr, "restore_bench: %s failed: %s\n", what, b->msg);
    exit(1);
  }
}

/* Writes one checkpoint of every partition with `len` bytes each; returns its milliseconds. */
static double checkpoint(lp_ckpt_store *st, int nparts, const char *data, size_t len, int kind, int64_t round) {
  static lp_ckpt_part parts[MAX_PARTS];
  static lp_ckpt_offset offs[MAX_PARTS];
  for (int i = 0; i < nparts; i++) {
    snprintf(offs[i].topic, sizeof(offs[i].topic), "miner.snippets");
    offs[i].offset = round * 1000 + i;
    parts[i] = (lp_ckpt_part){ i, kind, data + (size_t)i % 64, len, &offs[i], 1 };
  }
  box b = { 0 };
  char err[256];
  uint64_t t0 = lp_mono_ns();
  if (lp_ckpt_write(st, parts, (size_t)nparts, 0, on_write, &b, err, sizeof(err)) != LP_OK) {
    fprintf(stderr, "restore_bench: write refused: %s\n", err);
    exit(1);
  }
  run_until(&b.done);
  check(&b, "checkpoint");
  return ms_since(t0);
}

/* The same bytes as raw pipelined commands: SET (value = data) or GET of nparts keys. */
static double raw(lp_redis *r, int nparts, const char *data, size_t len, int get) {
  box b = { 0 };
  b.pending = nparts;
  uint64_t t0 = lp_mono_ns();
  for (int i = 0; i < nparts; i++) {
    char key[32];
    snprintf(key, sizeof(key), "raw:{p%d}", i);
    const char *argv[] = { get ? "GET" : "SET", key, data + (size_t)i % 64 };
    size_t lens[] = { 3, strlen(key), len };
    if (lp_redis_command(r, get ? 2 : 3, argv, lens, on_raw, &b) != LP_OK) {
      fprintf(stderr, "restore_bench: raw command refused\n");
      exit(1);
    }
  }
  run_until(&b.done);
  check(&b, "raw reference");
  return ms_since(t0);
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  int nparts = 64, rounds = 20;
  size_t full = 1024 << 10, delta = 64 << 10;
  const char *endpoint = NULL;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--partitions") == 0) nparts = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--full-kib") == 0) full = (size_t)atol(argv[i + 1]) << 10;
    else if (strcmp(argv[i], "--delta-kib") == 0) delta = (size_t)atol(argv[i + 1]) << 10;
    else if (strcmp(argv[i], "--rounds") == 0) rounds = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--redis") == 0) endpoint = argv[i + 1];
    else nparts = -1;
  }
  if (argc % 2 == 0 || nparts < 1 || nparts > MAX_PARTS || rounds < 1 || rounds > 1000 || full == 0 || delta == 0) {
    fprintf(stderr, "usage: restore_bench [--partitions 1..%d] [--full-kib N] [--delta-kib N] [--rounds 1..1000] "
            "[--redis ENDPOINT]\n", MAX_PARTS);
    return 2;
  }
  lp_alloc_install();
  lp_log_set_level(LP_LOG_WARN);
  char ep[64];
  pid_t pid = 0;
  if (endpoint == NULL) {
    int port = free_port();
    pid = start_redis(port);
    snprintf(ep, sizeof(ep), "127.0.0.1:%d", port);
    endpoint = ep;
  }
  size_t big = (full > delta ? full : delta) + 64;
  char *data = lp_malloc(big);
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (size_t i = 0; i < big; i++) x ^= x << 13, x ^= x >> 7, x ^= x << 17, data[i] = (char)x;

  uv_loop_init(&loop);
  box up = { 0 };
  lp_redis_opts o = { .endpoint = endpoint, .command_timeout_ms = 30000, .on_state = on_state, .ud = &up };
  lp_redis *r = NULL;
  char err[256];
  if (lp_redis_new(&loop, &o, &r, err, sizeof(err)) != LP_OK) {
    fprintf(stderr, "restore_bench: %s\n", err);
    return 2;
  }
  run_until(&up.done);
  lp_ckpt_opts so = { .redis = r, .max_deltas = 64, .max_delta_bytes = UINT64_MAX };
  lp_ckpt_store *st = NULL, *fresh = NULL;
  lp_ckpt_store_new(&so, &st, err, sizeof(err));
  static int32_t ids[MAX_PARTS];
  for (int i = 0; i < nparts; i++) ids[i] = i;
  box b = { 0 };
  lp_ckpt_restore(st, ids, (size_t)nparts, LP_CKPT_CLAIM_NEXT, on_restore, &b);
  run_until(&b.done);
  check(&b, "claim");

  double raw_set = raw(r, nparts, data, full, 0);
  double full_ms = checkpoint(st, nparts, data, full, LP_CKPT_FULL, 0);
  int nd = rounds < 64 ? rounds : 64;
  double *d = lp_calloc((size_t)nd, sizeof(double));
  for (int i = 0; i < nd; i++) d[i] = checkpoint(st, nparts, data, delta, LP_CKPT_DELTA, i + 1);
  qsort(d, (size_t)nd, sizeof(double), cmp_d);
  double raw_get = raw(r, nparts, data, full, 1);
  lp_ckpt_store_new(&so, &fresh, err, sizeof(err));
  memset(&b, 0, sizeof(b));
  uint64_t t0 = lp_mono_ns();
  lp_ckpt_restore(fresh, ids, (size_t)nparts, 0, on_restore, &b);
  run_until(&b.done);
  check(&b, "restore");
  double restore_ms = ms_since(t0);

  double full_mb = (double)full * nparts / 1e6, delta_mb = (double)delta * nparts / 1e6;
  double restored_mb = full_mb + delta_mb * nd;
  printf("restore_bench: %d partitions, full %zu KiB, delta %zu KiB, %d delta rounds, redis %s\n", nparts,
         full >> 10, delta >> 10, nd, endpoint);
  printf("%-34s %10s %12s %12s\n", "", "ms", "MB/s", "vs raw");
  printf("%-34s %10.2f %12.1f %12s\n", "raw pipelined SET (reference)", raw_set, full_mb / (raw_set / 1e3), "1.00");
  printf("%-34s %10.2f %12.1f %12.2f\n", "full checkpoint (one script)", full_ms, full_mb / (full_ms / 1e3),
         full_ms / raw_set);
  printf("%-34s %10.2f %12.1f %12s\n", "delta checkpoint, median", d[nd / 2], delta_mb / (d[nd / 2] / 1e3), "");
  printf("%-34s %10.2f %12.1f %12s\n", "delta checkpoint, worst", d[nd - 1], delta_mb / (d[nd - 1] / 1e3), "");
  printf("%-34s %10.2f %12.1f %12s\n", "raw pipelined GET (reference)", raw_get, full_mb / (raw_get / 1e3), "1.00");
  printf("%-34s %10.2f %12.1f %12.2f\n", "restore: full + deltas, verified", restore_ms,
         restored_mb / (restore_ms / 1e3), restore_ms / (raw_get * restored_mb / full_mb));
  printf("(restore's ratio is against raw GET scaled to the same bytes)\n");

  lp_free(d);
  lp_free(data);
  lp_ckpt_store_free(st);
  lp_ckpt_store_free(fresh);
  memset(&b, 0, sizeof(b));
  lp_redis_close(r, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  if (pid > 0) {
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
  }
  return 0;
}
