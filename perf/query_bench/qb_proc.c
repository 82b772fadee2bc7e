/*
 * qb_proc.c: child processes, one-shot HTTP, /metrics and /proc figures for the benchmarks (qb_proc.h).
 */
#define _GNU_SOURCE
#include "qb_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"

int qb_free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = -1;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

pid_t qb_spawn(char *const argv[], const char *out_path, char *errstr, size_t errstr_size) {
  int fd = -1;
  if (out_path) {
    fd = open(out_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      snprintf(errstr, errstr_size, "cannot open %s: %s", out_path, strerror(errno));
      return -1;
    }
  }
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(errstr, errstr_size, "fork: %s", strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  if (pid == 0) {
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
    }
    execv(argv[0], argv);
    fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  if (fd >= 0) close(fd);
  return pid;
}

int qb_wait(pid_t pid) {
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int qb_stop(pid_t pid, double timeout_s) {
  if (pid <= 0) return -1;
  kill(pid, SIGTERM);
  uint64_t deadline = lp_mono_ns() + (uint64_t)(timeout_s * 1e9);
  int st;
  for (;;) {
    pid_t w = waitpid(pid, &st, WNOHANG);
    if (w == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (w < 0 && errno != EINTR) return -1;
    if (lp_mono_ns() > deadline) break;
    struct timespec ts = { 0, 20 * 1000 * 1000 };
    nanosleep(&ts, NULL);
  }
  kill(pid, SIGKILL);
  qb_wait(pid);
  return -1;
}

static int connect_loopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static int send_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Whether b[0..n) holds a whole response with a Content-Length (a server may keep the connection open
 * despite Connection: close). */
static int response_complete(char *b, size_t n) {
  b[n] = '\0';
  char *sep = strstr(b, "\r\n\r\n");
  if (!sep) return 0;
  char *cl = strcasestr(b, "\r\ncontent-length:");
  if (!cl || cl > sep) return 0;
  size_t want = (size_t)strtoull(cl + 17, NULL, 10);
  return n - (size_t)(sep + 4 - b) >= want;
}

/* Reads until the response is whole, the peer closes (the request asked for Connection: close) or the
 * deadline. */
static char *read_all(int fd, size_t *len, double timeout_s) {
  size_t cap = 65536, n = 0;
  char *b = lp_malloc(cap);
  if (!b) return NULL;
  uint64_t deadline = lp_mono_ns() + (uint64_t)(timeout_s * 1e9);
  for (;;) {
    uint64_t now = lp_mono_ns();
    if (now >= deadline) break;
    struct pollfd p = { fd, POLLIN, 0 };
    int pr = poll(&p, 1, (int)((deadline - now) / 1000000u) + 1);
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) break;
    if (n + 1 >= cap) {
      char *nb = lp_realloc(b, cap * 2);
      if (!nb) break;
      b = nb;
      cap *= 2;
    }
    ssize_t r = recv(fd, b + n, cap - n - 1, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      b[n] = '\0';
      *len = n;
      return b;
    }
    n += (size_t)r;
    if (response_complete(b, n)) {
      *len = n;
      return b;
    }
  }
  lp_free(b);
  return NULL;
}

int qb_http(int port, const char *method, const char *path, const char *body, int *status, char **resp,
            double timeout_s) {
  *resp = NULL;
  int fd = connect_loopback(port);
  if (fd < 0) return -1;
  size_t blen = body ? strlen(body) : 0;
  char head[512];
  int hn = snprintf(head, sizeof head,
                    "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                    "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                    method, path, blen);
  if (hn < 0 || (size_t)hn >= sizeof head || send_all(fd, head, (size_t)hn) != 0 ||
      (blen && send_all(fd, body, blen) != 0)) {
    close(fd);
    return -1;
  }
  size_t n = 0;
  char *raw = read_all(fd, &n, timeout_s);
  close(fd);
  if (!raw) return -1;
  int st = 0;
  char *sep = strstr(raw, "\r\n\r\n");
  if (sscanf(raw, "HTTP/1.%*d %d", &st) != 1 || !sep) {
    lp_free(raw);
    return -1;
  }
  /* The body follows the headers; a chunked body keeps its chunk lines, which the callers here (metrics
   * and status parsers that search for names) tolerate. */
  size_t off = (size_t)(sep + 4 - raw);
  memmove(raw, raw + off, n - off + 1);
  *status = st;
  *resp = raw;
  return 0;
}

int qb_wait_healthy(int port, pid_t pid, double timeout_s) {
  uint64_t deadline = lp_mono_ns() + (uint64_t)(timeout_s * 1e9);
  while (lp_mono_ns() < deadline) {
    int st = 0;
    char *b = NULL;
    if (qb_http(port, "GET", "/healthz", NULL, &st, &b, 2.0) == 0) {
      lp_free(b);
      if (st == 200) return 0;
    }
    if (pid > 0 && waitpid(pid, &st, WNOHANG) == pid) return -1;
    struct timespec ts = { 0, 50 * 1000 * 1000 };
    nanosleep(&ts, NULL);
  }
  return -1;
}

double qb_metric_sum(const char *m, const char *name, const char *label_filter) {
  size_t nl = strlen(name);
  double sum = 0;
  int found = 0;
  for (const char *line = m; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
    if (*line == '#' || strncmp(line, name, nl) != 0) continue;
    const char *p = line + nl;
    const char *eol = strchr(p, '\n');
    if (!eol) eol = p + strlen(p);
    if (*p == '{') {
      const char *close_brace = memchr(p, '}', (size_t)(eol - p));
      if (!close_brace) continue;
      if (label_filter && !memmem(p, (size_t)(close_brace - p), label_filter, strlen(label_filter))) continue;
      p = close_brace + 1;
    } else if (*p != ' ' || label_filter) {
      continue;
    }
    char *end;
    double v = strtod(p, &end);
    if (end == p) continue;
    sum += v;
    found = 1;
  }
  return found ? sum : -1;
}

long long qb_rss_bytes(pid_t pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  long long kb = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %lld kB", &kb) == 1) break;
  fclose(f);
  return kb < 0 ? -1 : kb * 1024;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  return remove(path);
}

int qb_rmtree(const char *dir) { return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1; }

void qb_cpu_model(char *cpu, size_t cap) {
  snprintf(cpu, cap, "unknown");
  FILE *f = fopen("/proc/cpuinfo", "r");
  char line[512];
  while (f && fgets(line, sizeof line, f)) {
    char *c = strchr(line, ':');
    if (!strncmp(line, "model name", 10) && c) {
      snprintf(cpu, cap, "%s", c + 2);
      cpu[strcspn(cpu, "\n")] = '\0';
      break;
    }
  }
  if (f) fclose(f);
}
