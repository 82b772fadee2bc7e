/*
 * mock_server.h: a tiny scripted HTTP/1.1 server for the client tests, and a helper that runs a
 * subcommand with its stdout and stderr captured.
 *
 * The server is one thread with a blocking accept loop on 127.0.0.1:<free port>. It reads each request
 * (Content-Length bodies), records method, path, content type and body, and answers with the next step of
 * its script: a status, extra header lines, a body (plain or chunked, or read-until-close), and whether to
 * close the connection afterwards. Header-only: every function is static and used by each test file.
 */
#ifndef LP_TESTS_CLI_MOCK_SERVER_H
#define LP_TESTS_CLI_MOCK_SERVER_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MOCK_MAX_REQ 64

enum { MOCK_LENGTH = 0, MOCK_CHUNKED = 1, MOCK_UNTIL_CLOSE = 2, MOCK_HANG = 3, MOCK_GARBAGE = 4 };

typedef struct mock_step {
  int status;
  const char *headers;   /* extra header lines, each ending in \r\n; may be NULL */
  const char *body;
  int mode;              /* MOCK_* */
  int close_after;       /* close the connection after answering (without saying so) */
} mock_step;

typedef struct mock_req {
  char method[16];
  char path[256];
  char ctype[128];
  char *body;
  size_t body_len;
} mock_req;

typedef struct mock_server {
  int lfd;
  int port;
  pthread_t th;
  const mock_step *steps;
  int nsteps;
  int next;
  int conns;
  int nreq;
  mock_req reqs[MOCK_MAX_REQ];
} mock_server;

static __attribute__((unused)) int mock_write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Reads one request from fd, with buf/len holding bytes already read. Returns 0, or -1 at EOF. */
static __attribute__((unused)) int mock_read_request(int fd, char *buf, size_t cap, size_t *len, mock_req *r) {
  char *end;
  while (!(end = memmem(buf, *len, "\r\n\r\n", 4))) {
    if (*len >= cap) return -1;
    ssize_t n = recv(fd, buf + *len, cap - *len, 0);
    if (n <= 0) return -1;
    *len += (size_t)n;
  }
  size_t hlen = (size_t)(end - buf) + 4;
  memset(r, 0, sizeof(*r));
  sscanf(buf, "%15s %255s", r->method, r->path);
  size_t clen = 0;
  for (char *line = strstr(buf, "\r\n") + 2; line < end; line = strstr(line, "\r\n") + 2) {
    if (strncasecmp(line, "Content-Length:", 15) == 0) clen = strtoul(line + 15, NULL, 10);
    if (strncasecmp(line, "Content-Type:", 13) == 0) sscanf(line + 13, " %127[^\r]", r->ctype);
  }
  r->body = calloc(1, clen + 1);
  size_t have = *len - hlen < clen ? *len - hlen : clen;
  memcpy(r->body, buf + hlen, have);
  while (have < clen) {
    ssize_t n = recv(fd, r->body + have, clen - have, 0);
    if (n <= 0) {
      free(r->body);
      return -1;
    }
    have += (size_t)n;
  }
  r->body_len = clen;
  size_t used = hlen + (*len - hlen < clen ? *len - hlen : clen);
  memmove(buf, buf + used, *len - used);
  *len -= used;
  return 0;
}

static __attribute__((unused)) void mock_answer(int fd, const mock_step *s) {
  char head[1024];
  const char *body = s->body ? s->body : "";
  size_t blen = strlen(body);
  if (s->mode == MOCK_GARBAGE) {
    mock_write_all(fd, "HTTP/1.1 abc\r\n\r\n", 16);
    return;
  }
  int n = snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n%s", s->status,
                   s->headers ? s->headers : "");
  if (s->mode == MOCK_LENGTH) n += snprintf(head + n, sizeof(head) - (size_t)n, "Content-Length: %zu\r\n", blen);
  if (s->mode == MOCK_CHUNKED) n += snprintf(head + n, sizeof(head) - (size_t)n, "Transfer-Encoding: chunked\r\n");
  if (s->mode == MOCK_UNTIL_CLOSE) n += snprintf(head + n, sizeof(head) - (size_t)n, "Connection: close\r\n");
  n += snprintf(head + n, sizeof(head) - (size_t)n, "\r\n");
  mock_write_all(fd, head, (size_t)n);
  if (s->mode == MOCK_CHUNKED) {
    /* Three chunks at most, to exercise the chunk parser. */
    size_t off = 0;
    while (off < blen) {
      size_t c = blen - off > 7 ? 7 : blen - off;
      char sz[32];
      int m = snprintf(sz, sizeof(sz), "%zx\r\n", c);
      mock_write_all(fd, sz, (size_t)m);
      mock_write_all(fd, body + off, c);
      mock_write_all(fd, "\r\n", 2);
      off += c;
    }
    mock_write_all(fd, "0\r\n\r\n", 5);
  } else {
    mock_write_all(fd, body, blen);
  }
}

static __attribute__((unused)) void *mock_main(void *arg) {
  mock_server *m = arg;
  size_t cap = 1 << 20;
  char *buf = malloc(cap);
  for (;;) {
    int fd = accept(m->lfd, NULL, NULL);
    if (fd < 0) break;  /* the listening socket was shut down */
    __atomic_add_fetch(&m->conns, 1, __ATOMIC_SEQ_CST);
    size_t len = 0;
    for (;;) {
      mock_req r;
      if (mock_read_request(fd, buf, cap, &len, &r) != 0) break;
      if (m->nreq < MOCK_MAX_REQ) {
        m->reqs[m->nreq] = r;
        __atomic_add_fetch(&m->nreq, 1, __ATOMIC_SEQ_CST);
      } else {
        free(r.body);
      }
      static const mock_step exhausted = { 500, NULL, "{\"error\":{\"code\":\"script\",\"message\":\"no step\"}}",
                                           MOCK_LENGTH, 1 };
      const mock_step *s = m->next < m->nsteps ? &m->steps[m->next++] : &exhausted;
      if (s->mode == MOCK_HANG) {
        char b[64];
        while (recv(fd, b, sizeof(b), 0) > 0) {
        }
        break;
      }
      mock_answer(fd, s);
      if (s->close_after || s->mode == MOCK_UNTIL_CLOSE || s->mode == MOCK_GARBAGE) break;
    }
    close(fd);
  }
  free(buf);
  return NULL;
}

/* Starts the server with a script (kept by the caller until mock_stop). Returns 0 or -1. */
static __attribute__((unused)) int mock_start(mock_server *m, const mock_step *steps, int nsteps) {
  memset(m, 0, sizeof(*m));
  m->steps = steps;
  m->nsteps = nsteps;
  m->lfd = socket(AF_INET, SOCK_STREAM, 0);
  if (m->lfd < 0) return -1;
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof(a);
  if (bind(m->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(m->lfd, 16) != 0 ||
      getsockname(m->lfd, (struct sockaddr *)&a, &alen) != 0) {
    close(m->lfd);
    return -1;
  }
  m->port = ntohs(a.sin_port);
  return pthread_create(&m->th, NULL, mock_main, m) == 0 ? 0 : -1;
}

/* Stops the accept loop (a connection in progress is finished first by the client closing it). */
static __attribute__((unused)) void mock_stop(mock_server *m) {
  shutdown(m->lfd, SHUT_RDWR);
  pthread_join(m->th, NULL);
  close(m->lfd);
}

/* Frees what the server recorded (after mock_stop, once the test has looked at it). */
static __attribute__((unused)) void mock_free(mock_server *m) {
  for (int i = 0; i < m->nreq; i++) free(m->reqs[i].body);
  m->nreq = 0;
}

static __attribute__((unused)) char *mock_slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return strdup("");
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = calloc(1, (size_t)n + 1);
  if (n > 0 && fread(s, 1, (size_t)n, f) != (size_t)n) s[0] = '\0';
  fclose(f);
  return s;
}

/* Runs fn(argc, argv) with stdout and stderr redirected to files; *out and *err get their text (free()). */
static __attribute__((unused)) int mock_capture(int (*fn)(int, char **), int argc, char **argv, char **out,
                                                char **err) {
  char po[] = "/tmp/lpt-cli-out-XXXXXX", pe[] = "/tmp/lpt-cli-err-XXXXXX";
  int fo = mkstemp(po), fe = mkstemp(pe);
  fflush(stdout);
  fflush(stderr);
  int so = dup(1), se = dup(2);
  dup2(fo, 1);
  dup2(fe, 2);
  int rc = fn(argc, argv);
  fflush(stdout);
  fflush(stderr);
  dup2(so, 1);
  dup2(se, 2);
  close(so);
  close(se);
  close(fo);
  close(fe);
  *out = mock_slurp(po);
  *err = mock_slurp(pe);
  unlink(po);
  unlink(pe);
  return rc;
}

/* Writes text to a new temp file; returns its path in a static-per-call buffer the caller passes. */
static __attribute__((unused)) void mock_write_file(char *path_tmpl, const char *text, size_t n) {
  int fd = mkstemp(path_tmpl);
  if (fd >= 0) {
    if (write(fd, text, n) != (ssize_t)n) path_tmpl[0] = '\0';
    close(fd);
  }
}

#endif
