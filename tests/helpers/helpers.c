#define _GNU_SOURCE
#include "helpers/helpers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int lpt_free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
    close(fd);
    return -1;
  }
  close(fd);
  return ntohs(a.sin_port);
}

static void sleep_ms(int ms) {
  struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
  nanosleep(&ts, NULL);
}

int lpt_server_start(lpt_server *s, const char *const *extra_args, const char *const *env) {
  memset(s, 0, sizeof(*s));
  for (int attempt = 0; attempt < 3; attempt++) {
    s->port = lpt_free_port();
    snprintf(s->addr, sizeof(s->addr), "127.0.0.1:%d", s->port);
    snprintf(s->log_path, sizeof(s->log_path), "/tmp/lpt-server-%d-%d.log", (int)getpid(), s->port);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
      /* If the test process dies (a failed assertion exits it), the server dies with it. */
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      const char *argv[64];
      int n = 0;
      argv[n++] = LP_BINARY_PATH;
      argv[n++] = "serve";
      argv[n++] = "--listen";
      argv[n++] = s->addr;
      for (int i = 0; extra_args && extra_args[i] && n < 62; i++) argv[n++] = extra_args[i];
      argv[n] = NULL;
      for (int i = 0; env && env[i]; i++) putenv((char *)env[i]);
      int lfd = open(s->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (lfd >= 0) {
        dup2(lfd, 2);
        close(lfd);
      }
      execv(LP_BINARY_PATH, (char *const *)argv);
      _exit(127);
    }
    s->pid = pid;
    for (int i = 0; i < 400; i++) {
      int st;
      if (waitpid(pid, &st, WNOHANG) == pid) {
        s->pid = 0;
        break;  /* died: maybe the port was taken; try another */
      }
      lpt_response r;
      if (lpt_http(s->port, "GET", "/healthz", NULL, NULL, 0, &r) == 0) {
        int ok = r.status == 200;
        lpt_response_free(&r);
        if (ok) return 0;
      }
      sleep_ms(50);
    }
    if (s->pid > 0) {
      kill(s->pid, SIGKILL);
      waitpid(s->pid, NULL, 0);
      s->pid = 0;
    }
  }
  return -1;
}

int lpt_server_stop(lpt_server *s) {
  if (s->pid <= 0) return -1;
  kill(s->pid, SIGTERM);
  for (int i = 0; i < 400; i++) {
    int st;
    pid_t w = waitpid(s->pid, &st, WNOHANG);
    if (w == s->pid) {
      s->pid = 0;
      return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    }
    sleep_ms(50);
  }
  kill(s->pid, SIGKILL);
  waitpid(s->pid, NULL, 0);
  s->pid = 0;
  return -1;
}

int lpt_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int lpt_send_all(int fd, const void *data, size_t n) {
  const char *p = data;
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* A per-fd read buffer would be needed for pipelined reads across calls; tests that pipeline read all
 * responses through one lpt_read_response loop on the same fd, so leftover bytes are kept here by fd. */
#define LPT_MAX_FD 4096
static char *g_left[LPT_MAX_FD];
static size_t g_left_len[LPT_MAX_FD];

static int read_more(int fd, char **buf, size_t *len, size_t *cap, int timeout_ms) {
  struct pollfd p = { .fd = fd, .events = POLLIN };
  int pr = poll(&p, 1, timeout_ms);
  if (pr <= 0) return -1;
  if (*len + 65536 > *cap) {
    *cap = (*len + 65536) * 2;
    *buf = realloc(*buf, *cap);
  }
  ssize_t r = recv(fd, *buf + *len, *cap - *len - 1, 0);
  if (r <= 0) return -1;
  *len += (size_t)r;
  (*buf)[*len] = '\0';
  return 0;
}

static void keep_left(int fd, const char *p, size_t n) {
  if (fd < 0 || fd >= LPT_MAX_FD) return;
  free(g_left[fd]);
  g_left[fd] = NULL;
  g_left_len[fd] = 0;
  if (n == 0) return;
  g_left[fd] = malloc(n);
  memcpy(g_left[fd], p, n);
  g_left_len[fd] = n;
}

int lpt_read_response(int fd, lpt_response *r, int timeout_ms) {
  memset(r, 0, sizeof(*r));
  size_t cap = 131072, len = 0;
  char *buf = malloc(cap);
  if (fd >= 0 && fd < LPT_MAX_FD && g_left_len[fd]) {
    memcpy(buf, g_left[fd], g_left_len[fd]);
    len = g_left_len[fd];
    keep_left(fd, NULL, 0);
  }
  buf[len] = '\0';
  char *hend;
  while ((hend = strstr(buf, "\r\n\r\n")) == NULL) {
    if (read_more(fd, &buf, &len, &cap, timeout_ms) != 0) goto fail;
  }
  size_t hlen = (size_t)(hend - buf) + 4;
  if (sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1) goto fail;
  r->headers = strndup(buf, hlen);
  char v[64];
  if (lpt_header(r, "Content-Length", v, sizeof(v)) == 0) {
    size_t cl = strtoull(v, NULL, 10);
    while (len < hlen + cl)
      if (read_more(fd, &buf, &len, &cap, timeout_ms) != 0) goto fail;
    r->body = malloc(cl + 1);
    memcpy(r->body, buf + hlen, cl);
    r->body[cl] = '\0';
    r->body_len = cl;
    keep_left(fd, buf + hlen + cl, len - hlen - cl);
  } else if (lpt_header(r, "Transfer-Encoding", v, sizeof(v)) == 0 && strcasestr(v, "chunked")) {
    size_t pos = hlen, blen = 0;
    r->body = malloc(1);
    for (;;) {
      char *eol;
      while ((eol = strstr(buf + pos, "\r\n")) == NULL)
        if (read_more(fd, &buf, &len, &cap, timeout_ms) != 0) goto fail;
      size_t csz = strtoull(buf + pos, NULL, 16);
      size_t dstart = (size_t)(eol - buf) + 2;
      while (len < dstart + csz + 2)
        if (read_more(fd, &buf, &len, &cap, timeout_ms) != 0) goto fail;
      r->body = realloc(r->body, blen + csz + 1);
      memcpy(r->body + blen, buf + dstart, csz);
      blen += csz;
      pos = dstart + csz + 2;
      if (csz == 0) break;
    }
    r->body[blen] = '\0';
    r->body_len = blen;
    keep_left(fd, buf + pos, len - pos);
  } else {
    r->body = strdup("");
    keep_left(fd, buf + hlen, len - hlen);
  }
  free(buf);
  return 0;
fail:
  free(buf);
  lpt_response_free(r);
  return -1;
}

int lpt_http(int port, const char *method, const char *path, const char *ctype, const char *body,
             size_t body_len, lpt_response *r) {
  memset(r, 0, sizeof(*r));
  int fd = lpt_connect(port);
  if (fd < 0) return -1;
  char head[1024];
  int n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n", method, path);
  if (ctype) n += snprintf(head + n, sizeof(head) - (size_t)n, "Content-Type: %s\r\n", ctype);
  if (body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0)
    n += snprintf(head + n, sizeof(head) - (size_t)n, "Content-Length: %zu\r\n", body_len);
  n += snprintf(head + n, sizeof(head) - (size_t)n, "\r\n");
  int rc = lpt_send_all(fd, head, (size_t)n);
  if (rc == 0 && body_len) rc = lpt_send_all(fd, body, body_len);
  if (rc == 0) rc = lpt_read_response(fd, r, 10000);
  keep_left(fd, NULL, 0);
  close(fd);
  return rc;
}

int lpt_header(const lpt_response *r, const char *name, char *out, size_t cap) {
  if (r->headers == NULL) return -1;
  size_t nl = strlen(name);
  const char *p = strstr(r->headers, "\r\n");
  while (p != NULL) {
    p += 2;
    if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
      const char *v = p + nl + 1;
      while (*v == ' ') v++;
      const char *e = strstr(v, "\r\n");
      size_t n = e ? (size_t)(e - v) : strlen(v);
      if (n >= cap) n = cap - 1;
      memcpy(out, v, n);
      out[n] = '\0';
      return 0;
    }
    p = strstr(p, "\r\n");
  }
  return -1;
}

void lpt_response_free(lpt_response *r) {
  free(r->headers);
  free(r->body);
  r->headers = r->body = NULL;
}

char *lpt_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *d = malloc((size_t)n + 1);
  size_t r = fread(d, 1, (size_t)n, f);
  fclose(f);
  d[r] = '\0';
  if (len) *len = r;
  return d;
}
