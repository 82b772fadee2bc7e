/*
 * restore_serve: the end-to-end figures of issue 7 with `leadpoet serve` (embedded Kafka) and a local
 * redis-server, against the same server without checkpoints as the reference:
 *   1. N leads (one snippet each, a domain each) posted over HTTP, checkpointed; the server SIGKILLed and
 *      started again: milliseconds from the start of the process to /readyz 200 (and the server's own
 *      restore_seconds);
 *   2. W seconds of ingest at R snippets/s (paced batches from many connections) while one client queries
 *      POST /v1/leads back to back: query P50/P99, milliseconds per checkpoint (the duration histogram's
 *      sum/count over the window) and checkpoint bytes per second;
 *   3. the same load on a server without Redis holding the same leads: the query P50/P99 reference.
 *
 *   restore_serve [--leads 1000000] [--rate 20000] [--seconds 10] [--binary build/leadpoet]
 * Prints figures; never run by ctest. Loopback only; every process is stopped by its pid.
 */
#define _GNU_SOURCE  /* strcasestr */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BATCH 500
#define LOADERS 48
#define MAX_LAT 200000

static const char *binary = "build/leadpoet";


static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  socklen_t len = sizeof(a);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || getsockname(fd, (struct sockaddr *)&a, &len) != 0)
    return -1;
  close(fd);
  return ntohs(a.sin_port);
}

static int dial(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) return fd;
  if (fd >= 0) close(fd);
  return -1;
}

/* One request on a keep-alive connection (*fd, reopened when needed). Returns the status, -1 on failure;
 * the body (malloc'd) in *out when out is given. */
static int http(int port, int *fd, const char *method, const char *path, const char *body, size_t len, char **out) {
  for (int attempt = 0; attempt < 2; attempt++) {
    if (*fd < 0 && (*fd = dial(port)) < 0) return -1;
    char head[256];
    int hl = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: b\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\n\r\n", method, path, len);
    if (write(*fd, head, (size_t)hl) != hl || (len && write(*fd, body, len) != (ssize_t)len)) goto retry;
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    for (;;) {
      ssize_t got = read(*fd, buf + n, cap - n - 1);
      if (got <= 0) {
        free(buf);
        goto retry;
      }
      n += (size_t)got;
      buf[n] = 0;
      char *end = strstr(buf, "\r\n\r\n");
      if (end == NULL) continue;
      char *cl = strcasestr(buf, "content-length:");
      size_t blen = cl && cl < end ? (size_t)atol(cl + 15) : 0, need = (size_t)(end + 4 - buf) + blen;
      if (need + 1 > cap) buf = realloc(buf, cap = need + 1);
      while (n < need) {
        got = read(*fd, buf + n, need - n);
        if (got <= 0) break;
        n += (size_t)got;
      }
      buf[n] = 0;
      int status = atoi(buf + 9);
      if (out) *out = strdup(end + 4);
      free(buf);
      return status;
    }
  retry:
    close(*fd);
    *fd = -1;
  }
  return -1;
}

static pid_t spawn(char *const argv[], char *const env[], const char *log) {
  fflush(stdout);  /* or the child inherits (and prints again) what is buffered */
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (freopen(log, "w", stderr) == NULL || freopen("/dev/null", "w", stdout) == NULL) _exit(127);
    for (int i = 0; env && env[i]; i++) putenv(env[i]);
    execv(argv[0], argv);
    _exit(127);
  }
  return pid;
}

static void stop(pid_t pid, int sig) {
  kill(pid, sig);
  waitpid(pid, NULL, 0);
}

/* Starts the server; log_level "info" keeps the restore's steps (checkpoint read, state restored) in the
 * log with their timestamps, which the restart's figures split the restore by. */
static pid_t start_server(int port, const char *redis, const char *log_level, const char *log, long long *ready_ms) {
  static char listen[32], env_redis[128], env_level[64];
  snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
  snprintf(env_redis, sizeof(env_redis), "REDIS_ENDPOINT=%s", redis ? redis : "");
  char *argv[] = { (char *)binary, "serve", "--listen", listen, NULL };
  snprintf(env_level, sizeof(env_level), "LEADPOET_LOG_LEVEL=%s", log_level);
  char *env[] = { env_redis, env_level, "LEADPOET_CHECKPOINT_MAX_BACKLOG=10000000", NULL };
  long long t = now_ms();
  pid_t pid = spawn(argv, env, log);
  int fd = -1;
  for (int i = 0; i < 240000; i++) {
    if (http(port, &fd, "GET", "/readyz", NULL, 0, NULL) == 200) break;
    if (fd >= 0) close(fd), fd = -1;
    usleep(2000);
  }
  if (fd >= 0) close(fd);
  *ready_ms = now_ms() - t;
  return pid;
}

/* One snippet: its own lead, one of 20,000 miners, eight words drawn from a list by a hash of i (the
 * throttle limits each miner's rate and drops templated near-duplicates, as it should for a real feed). */
static int snippet(char *out, size_t cap, long i, long long ts) {
  static const char *const w[] = {
    "kubernetes", "migration", "billing", "payments", "analytics", "security", "hiring", "platform", "warehouse",
    "observability", "mobile", "checkout", "europe", "audit", "vendor", "renewal", "contract", "latency", "budget",
    "tracing", "frontend", "design", "support", "tickets", "growth", "partner", "integration", "backup", "cloud",
    "compliance", "pipeline", "launch", "office", "expansion", "series", "funding", "engineers", "postgres" };
  char text[320] = "";
  unsigned long long h = (unsigned long long)i * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
  size_t n = 0;
  for (int k = 0; k < 10; k++) {
    h ^= h >> 29, h *= 0xBF58476D1CE4E5B9ull, h ^= h >> 32;
    n += (size_t)snprintf(text + n, sizeof(text) - n, "%s%s", k ? (k % 3 ? " " : " and the ") : "", w[h % 38]);
  }
  return snprintf(out, cap,
                  "{\"id\":\"b%ld\",\"miner\":\"bench%ld\",\"ts\":%lld,\"lead\":{\"domain\":\"lead%ld-bench.com\"},"
                  "\"kind\":\"hiring\",\"text\":\"%s\"}",
                  i, i % 20000, ts - (i % 86400) * 1000, i, text);
}

typedef struct loader {
  int port;
  long first, count, per_sec;  /* snippets first..first+count, paced at per_sec (0 = as fast as it goes) */
  long sent, failed;
} loader;

static void *load_run(void *arg) {
  loader *l = arg;
  int fd = -1;
  char *body = malloc((size_t)BATCH * 512 + 16);
  double start = now_s();
  long long ts = (long long)time(NULL) * 1000 - 86400000LL;
  for (long at = 0; at < l->count; at += BATCH) {
    size_t n = 0;
    body[n++] = '[';
    for (long i = at; i < at + BATCH && i < l->count; i++) {
      if (i > at) body[n++] = ',';
      n += (size_t)snippet(body + n, 512, l->first + i, ts);
    }
    body[n++] = ']';
    int st = http(l->port, &fd, "POST", "/v1/snippets", body, n, NULL);
    long b = at + BATCH < l->count ? BATCH : l->count - at;
    if (st == 202) l->sent += b;
    else l->failed += b;
    if (l->per_sec > 0) {
      double due = start + (double)(at + BATCH) / (double)l->per_sec;
      while (now_s() < due) usleep(1000);
    }
  }
  free(body);
  if (fd >= 0) close(fd);
  return NULL;
}

static long run_loaders(int port, long first, long total, long rate, int nthreads) {
  pthread_t th[LOADERS];
  loader ls[LOADERS];
  long sent = 0;
  for (int i = 0; i < nthreads; i++) {
    ls[i] = (loader){ port, first + total / nthreads * i, total / nthreads, rate / nthreads, 0, 0 };
    pthread_create(&th[i], NULL, load_run, &ls[i]);
  }
  for (int i = 0; i < nthreads; i++) pthread_join(th[i], NULL), sent += ls[i].sent;
  return sent;
}

typedef struct querier {
  int port;
  volatile int stop;
  double lat[MAX_LAT];
  size_t n;
} querier;

static void *query_run(void *arg) {
  querier *q = arg;
  int fd = -1;
  static const char *const prompts[] = { "{\"prompt\":\"kubernetes migration platform\",\"k\":25}",
                                         "{\"prompt\":\"billing and payments for europe\",\"k\":25}",
                                         "{\"prompt\":\"security audit and observability\",\"k\":25}" };
  while (!q->stop && q->n < MAX_LAT) {
    const char *p = prompts[q->n % 3];
    double t = now_s();
    if (http(q->port, &fd, "POST", "/v1/leads", p, strlen(p), NULL) == 200) q->lat[q->n++] = (now_s() - t) * 1000;
  }
  if (fd >= 0) close(fd);
  return NULL;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p) { return n ? v[(size_t)fmin((double)n - 1, p * (double)n)] : NAN; }

/* A figure from /metrics (the first sample whose line starts with name), or -1. */
static double metric(int port, const char *name) {
  int fd = -1;
  char *body = NULL;
  double v = -1;
  if (http(port, &fd, "GET", "/metrics", NULL, 0, &body) == 200) {
    size_t nl = strlen(name);
    for (char *l = body; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
      if (strncmp(l, name, nl) == 0 && (l[nl] == ' ' || l[nl] == '{')) {
        v = atof(strchr(l, ' ') + 1);
        break;
      }
  }
  free(body);
  if (fd >= 0) close(fd);
  return v;
}

/* Milliseconds since the day began of a log line's ts=...THH:MM:SS.mmmZ, or -1. */
static double log_ms(const char *line) {
  const char *t = strstr(line, "ts=");
  const char *c = t ? strchr(t, 'T') : NULL;
  int h, m;
  double s;
  if (c == NULL || sscanf(c + 1, "%d:%d:%lfZ", &h, &m, &s) != 3) return -1;
  return ((h * 60 + m) * 60 + s) * 1000;
}

/* The restore's steps from the restarted server's log: the checkpoint read from Redis, the shards loaded
 * on the workers, Kafka started (state restored). */
static void print_restore_steps(const char *path) {
  FILE *f = fopen(path, "r");
  if (f == NULL) return;
  static const char *const steps[] = { "checkpoints on", "checkpoint read", "shards loaded", "state restored" };
  double at[4] = { -1, -1, -1, -1 };
  char line[2048];
  while (fgets(line, sizeof(line), f))
    for (int i = 0; i < 4; i++)
      if (at[i] < 0 && strstr(line, steps[i])) at[i] = log_ms(line);
  fclose(f);
  if (at[0] < 0 || at[1] < 0 || at[2] < 0) return;
  printf("  restore steps: read from redis %.0f ms, load the shards %.0f ms", at[1] - at[0], at[2] - at[1]);
  if (at[3] >= 0) printf(", start kafka %.0f ms", at[3] - at[2]);
  printf("\n");
}

/* Ingest at rate for secs with a querier running; prints the query latencies and checkpoint figures. */
static void window(int port, long first, long rate, int secs, const char *label) {
  querier *q = calloc(1, sizeof(*q));
  q->port = port;
  double s0 = metric(port, "leadpoet_checkpoint_duration_seconds_sum"),
         c0 = metric(port, "leadpoet_checkpoint_duration_seconds_count"), b0 = metric(port, "leadpoet_checkpoint_bytes_total");
  pthread_t qt;
  pthread_create(&qt, NULL, query_run, q);
  double t = now_s();
  long sent = run_loaders(port, first, rate * secs, rate, LOADERS);
  double el = now_s() - t;
  q->stop = 1;
  pthread_join(qt, NULL);
  double s1 = metric(port, "leadpoet_checkpoint_duration_seconds_sum"),
         c1 = metric(port, "leadpoet_checkpoint_duration_seconds_count"), b1 = metric(port, "leadpoet_checkpoint_bytes_total");
  qsort(q->lat, q->n, sizeof(double), cmp_d);
  printf("%-22s ingest %.0f snippets/s (%ld in %.1f s)  queries %zu  P50 %.2f ms  P99 %.2f ms", label, sent / el, sent, el,
         q->n, pct(q->lat, q->n, 0.50), pct(q->lat, q->n, 0.99));
  if (c1 > c0 && c0 >= 0)
    printf("  checkpoints %.0f  %.1f ms each  %.2f MB/s", c1 - c0, (s1 - s0) / (c1 - c0) * 1000, (b1 - b0) / el / 1e6);
  printf("\n");
  free(q);
}

int main(int argc, char **argv) {
  long leads = 1000000, rate = 20000;
  int secs = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--leads") == 0) leads = atol(argv[i + 1]);
    else if (strcmp(argv[i], "--rate") == 0) rate = atol(argv[i + 1]);
    else if (strcmp(argv[i], "--seconds") == 0) secs = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--binary") == 0) binary = argv[i + 1];
  }
  if (argc % 2 == 0 || leads < BATCH || rate < 100 || secs < 1) {
    fprintf(stderr, "usage: restore_serve [--leads N >= %d] [--rate N >= 100] [--seconds N] [--binary PATH]\n", BATCH);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);

  int rport = free_port(), port = free_port();
  char rp[16], redis[64];
  snprintf(rp, sizeof(rp), "%d", rport);
  snprintf(redis, sizeof(redis), "127.0.0.1:%d", rport);
  char *rargv[] = { "/usr/bin/redis-server", "--port", rp, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                    "--dir", "/tmp", NULL };
  pid_t rpid = spawn(rargv, NULL, "/dev/null");
  usleep(300000);
  printf("restore_serve: %ld leads, ingest %ld snippets/s for %d s, binary %s\n", leads, rate, secs, binary);

  /* 1. checkpointed state, kill -9, restore. */
  long long ready;
  pid_t srv = start_server(port, redis, "warn", "/tmp/restore_serve.log", &ready);
  double t = now_s();
  long sent = run_loaders(port, 0, leads, 0, LOADERS);
  printf("loaded %ld leads in %.1f s (%.0f/s, each 202 after its checkpoint)\n", sent, now_s() - t, sent / (now_s() - t));
  printf("applied %.0f (throttled %.0f, near duplicates %.0f); checkpoint bytes so far %.1f MB\n",
         metric(port, "leadpoet_snippets_total{result=\"accepted\"}"), metric(port, "leadpoet_snippets_total{result=\"throttled\"}"),
         metric(port, "leadpoet_snippets_total{result=\"near_duplicate\"}"), metric(port, "leadpoet_checkpoint_bytes_total") / 1e6);
  stop(srv, SIGKILL);
  srv = start_server(port, redis, "info", "/tmp/restore_serve_restart.log", &ready);
  printf("restart after kill -9: /readyz 200 after %lld ms (server restore_seconds %.3f)\n", ready,
         metric(port, "leadpoet_checkpoint_restore_seconds"));
  print_restore_steps("/tmp/restore_serve_restart.log");
  /* 2. load with checkpoints. */
  window(port, leads, rate, secs, "with checkpoints");
  stop(srv, SIGTERM);
  stop(rpid, SIGKILL);

  /* 3. the same leads without Redis: the reference. */
  srv = start_server(port, NULL, "warn", "/tmp/restore_serve.log", &ready);
  run_loaders(port, 0, leads, 0, LOADERS);
  window(port, leads, rate, secs, "without checkpoints");
  stop(srv, SIGTERM);
  return 0;
}
