/*
 * lt_http.c: the blocking keep-alive HTTP/1.1 client of lt.h. Answers are framed by Content-Length (what
 * leadpoet sends); a chunked answer or one without a length is refused as an error rather than misread.
 */
#define _GNU_SOURCE
#include "lt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"

#define LT_HEAD_MAX 8192

void lt_conn_init(lt_conn *c, int port) {
  memset(c, 0, sizeof *c);
  c->fd = -1;
  c->port = port;
}

void lt_conn_close(lt_conn *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  lp_free(c->buf);
  c->buf = NULL;
  c->cap = 0;
}

static int conn_open(lt_conn *c) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)c->port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->fd = fd;
  return 0;
}

/* Waits until fd is ready for ev before the deadline. 0 or -1. */
static int wait_fd(int fd, short ev, uint64_t deadline) {
  for (;;) {
    uint64_t now = lp_mono_ns();
    if (now >= deadline) return -1;
    struct pollfd p = { .fd = fd, .events = ev };
    int ms = (int)((deadline - now) / 1000000u) + 1;
    int n = poll(&p, 1, ms);
    if (n > 0) return 0;
    if (n < 0 && errno != EINTR) return -1;
  }
}

static int send_all(int fd, const char *p, size_t n, uint64_t deadline) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
    } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      if (wait_fd(fd, POLLOUT, deadline) != 0) return -1;
    } else {
      return -1;
    }
  }
  return 0;
}

static int grow(lt_conn *c, size_t need) {
  if (need <= c->cap) return 0;
  size_t cap = c->cap ? c->cap : 65536;
  while (cap < need) cap *= 2;
  char *nb = lp_realloc(c->buf, cap);
  if (!nb) return -1;
  c->buf = nb;
  c->cap = cap;
  return 0;
}

/* Reads until len bytes are in c->buf (or, with want_head, until the end of the headers). */
static int read_until(lt_conn *c, size_t *have, size_t want, int want_head, size_t *head_end, uint64_t deadline) {
  for (;;) {
    if (want_head) {
      char *e = *have >= 4 ? memmem(c->buf, *have, "\r\n\r\n", 4) : NULL;
      if (e) {
        *head_end = (size_t)(e - c->buf) + 4;
        return 0;
      }
      if (*have > LT_HEAD_MAX) return -1;
    } else if (*have >= want) {
      return 0;
    }
    if (grow(c, (want_head ? *have : want) + 65536) != 0) return -1;
    ssize_t r = recv(c->fd, c->buf + *have, c->cap - *have - 1, MSG_DONTWAIT);
    if (r > 0) {
      *have += (size_t)r;
    } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      if (wait_fd(c->fd, POLLIN, deadline) != 0) return -1;
    } else {
      return -1;
    }
  }
}

/* 1 when the header value starting at v (up to its CR) says "close". */
static int has_close(const char *v) {
  size_t n = strcspn(v, "\r");
  const char *c = strcasestr(v, "close");
  return c && (size_t)(c - v) < n;
}

static int fail(lt_conn *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  return -1;
}

int lt_conn_request(lt_conn *c, const char *method, const char *path, const char *ctype, const char *body,
                    size_t body_len, int *status, const char **resp, double timeout_s) {
  uint64_t deadline = lp_mono_ns() + (uint64_t)(timeout_s * 1e9);
  if (c->fd < 0 && conn_open(c) != 0) return -1;
  char head[512];
  int hn = snprintf(head, sizeof head,
                    "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n", method,
                    path, ctype ? ctype : "application/json", body ? body_len : 0);
  if (hn < 0 || (size_t)hn >= sizeof head) return -1;
  if (send_all(c->fd, head, (size_t)hn, deadline) != 0) return fail(c);
  if (body && body_len && send_all(c->fd, body, body_len, deadline) != 0) return fail(c);
  size_t have = 0, head_end = 0;
  if (read_until(c, &have, 0, 1, &head_end, deadline) != 0) return fail(c);
  c->buf[head_end - 1] = '\0';
  if (sscanf(c->buf, "HTTP/1.%*d %d", status) != 1) return fail(c);
  long long clen = -1;
  int close_after = 0;
  for (char *l = strstr(c->buf, "\r\n"); l && *l; l = strstr(l + 2, "\r\n")) {
    const char *h = l + 2;
    if (!strncasecmp(h, "Content-Length:", 15)) clen = atoll(h + 15);
    else if (!strncasecmp(h, "Connection:", 11)) close_after = has_close(h + 11);
  }
  if (clen < 0) return fail(c);   /* chunked or unframed: not what leadpoet sends */
  size_t total = head_end + (size_t)clen;
  if (read_until(c, &have, total, 0, NULL, deadline) != 0) return fail(c);
  if (have != total) return fail(c);   /* bytes beyond the answer: nobody asked for them */
  memmove(c->buf, c->buf + head_end, (size_t)clen);
  c->buf[clen] = '\0';
  *resp = c->buf;
  if (close_after) {
    close(c->fd);
    c->fd = -1;
  }
  return 0;
}
