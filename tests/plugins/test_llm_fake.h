/*
 * test_llm_fake.h: a fake OpenAI-compatible chat-completions server on loopback for the LLM stage's tests:
 * a thread with a blocking socket, one connection at a time. Each request is answered by the next mode of
 * a script, then by the default mode: a correct answer (plain or chunked), garbage, HTTP 500 or 429, a stall
 * (no answer until the client gives up) or a closed connection. A correct answer scores the companies in
 * the reverse of the order given, (i + 1) / n, so a re-rank is visible.
 */
#ifndef TEST_LLM_FAKE_H
#define TEST_LLM_FAKE_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { FAKE_OK = 0, FAKE_CHUNKED, FAKE_GARBAGE, FAKE_500, FAKE_429, FAKE_STALL, FAKE_CLOSE };

typedef struct fake_llm {
  int fd, port;
  pthread_t th;
  pthread_mutex_t mu;
  int script[64], n_script, at;
  int mode;                  /* after the script */
  int requests;
  int last_n;                /* companies in the last request */
  char last_auth[256];
  int stop;
} fake_llm;

static int fake_next_mode(fake_llm *f) {
  pthread_mutex_lock(&f->mu);
  int m = f->at < f->n_script ? f->script[f->at++] : f->mode;
  f->requests++;
  pthread_mutex_unlock(&f->mu);
  return m;
}

static void fake_send(int c, const char *s, size_t n) {
  while (n > 0) {
    ssize_t w = send(c, s, n, MSG_NOSIGNAL);
    if (w <= 0) return;
    s += w;
    n -= (size_t)w;
  }
}

/* Reads one request: headers, then Content-Length bytes. Returns its length in buf, or -1. */
static int fake_read_request(int c, char *buf, size_t cap) {
  size_t len = 0;
  long need = -1;
  for (;;) {
    struct pollfd p = { c, POLLIN, 0 };
    if (poll(&p, 1, 5000) <= 0) return -1;
    ssize_t r = recv(c, buf + len, cap - 1 - len, 0);
    if (r <= 0) return -1;
    len += (size_t)r;
    buf[len] = '\0';
    char *end = strstr(buf, "\r\n\r\n");
    if (end != NULL && need < 0) {
      char *cl = strcasestr(buf, "content-length:");
      need = (long)(end + 4 - buf) + (cl != NULL ? atol(cl + 15) : 0);
    }
    if (need >= 0 && (long)len >= need) return (int)len;
    if (len + 1 >= cap) return -1;
  }
}

static void fake_answer(fake_llm *f, int c, int mode, const char *req) {
  const char *comp = strstr(req, "Companies (");
  int n = comp != NULL ? atoi(comp + 11) : 0;
  const char *auth = strcasestr(req, "authorization: ");
  pthread_mutex_lock(&f->mu);
  f->last_n = n;
  if (auth != NULL) snprintf(f->last_auth, sizeof(f->last_auth), "%.*s", (int)strcspn(auth + 15, "\r\n"), auth + 15);
  pthread_mutex_unlock(&f->mu);
  char content[2048] = "", body[4096], head[256];
  if (mode == FAKE_OK || mode == FAKE_CHUNKED) {
    size_t l = (size_t)snprintf(content, sizeof(content), "{\\\"scores\\\":[");
    for (int i = 0; i < n; i++) l += (size_t)snprintf(content + l, sizeof(content) - l, "%s%.3f", i ? "," : "", (double)(i + 1) / n);
    snprintf(content + l, sizeof(content) - l, "]}");
  } else {
    snprintf(content, sizeof(content), "I think the first company is great!");
  }
  int status = mode == FAKE_500 ? 500 : mode == FAKE_429 ? 429 : 200;
  int bl = status != 200 ? snprintf(body, sizeof(body), "{\"error\":{\"message\":\"fake %d\"}}", status)
    : snprintf(body, sizeof(body), "{\"id\":\"x\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":"
               "{\"role\":\"assistant\",\"content\":\"%s\"},\"finish_reason\":\"stop\"}],"
               "\"usage\":{\"prompt_tokens\":1000,\"completion_tokens\":20,\"total_tokens\":1020}}", content);
  if (mode == FAKE_CHUNKED) {
    int hl = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
    fake_send(c, head, (size_t)hl);
    int half = bl / 2;
    char sz[32];
    int sl = snprintf(sz, sizeof(sz), "%x\r\n", half);
    fake_send(c, sz, (size_t)sl);
    fake_send(c, body, (size_t)half);
    sl = snprintf(sz, sizeof(sz), "\r\n%x;ext=1\r\n", bl - half);
    fake_send(c, sz, (size_t)sl);
    fake_send(c, body + half, (size_t)(bl - half));
    fake_send(c, "\r\n0\r\n\r\n", 7);
    return;
  }
  int hl = snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
                    status, bl);
  fake_send(c, head, (size_t)hl);
  fake_send(c, body, (size_t)bl);
}

static void *fake_main(void *arg) {
  fake_llm *f = arg;
  static char req[1 << 20];
  for (;;) {
    int c = accept(f->fd, NULL, NULL);
    if (c < 0) {
      if (__atomic_load_n(&f->stop, __ATOMIC_SEQ_CST)) break;
      continue;
    }
    if (fake_read_request(c, req, sizeof(req)) > 0) {
      int mode = fake_next_mode(f);
      if (mode == FAKE_STALL) {
        struct pollfd p = { c, POLLIN, 0 };
        char tmp[256];
        while (poll(&p, 1, 5000) > 0 && recv(c, tmp, sizeof(tmp), 0) > 0) {}
      } else if (mode != FAKE_CLOSE) {
        fake_answer(f, c, mode, req);
      }
    }
    close(c);
  }
  return NULL;
}

static int fake_start(fake_llm *f) {
  memset(f, 0, sizeof(*f));
  pthread_mutex_init(&f->mu, NULL);
  f->fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { 0 };
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t al = sizeof(a);
  if (f->fd < 0 || bind(f->fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(f->fd, 16) != 0 ||
      getsockname(f->fd, (struct sockaddr *)&a, &al) != 0)
    return -1;
  f->port = ntohs(a.sin_port);
  return pthread_create(&f->th, NULL, fake_main, f) == 0 ? 0 : -1;
}

static void fake_stop(fake_llm *f) {
  __atomic_store_n(&f->stop, 1, __ATOMIC_SEQ_CST);
  shutdown(f->fd, SHUT_RDWR);
  pthread_join(f->th, NULL);
  close(f->fd);
  pthread_mutex_destroy(&f->mu);
}

/* The next requests are answered with these modes (-1 ends the list), then with the default. */
static void fake_script(fake_llm *f, int dflt, const int *modes) {
  pthread_mutex_lock(&f->mu);
  f->n_script = f->at = 0;
  while (modes != NULL && modes[f->n_script] >= 0 && f->n_script < 64) {
    f->script[f->n_script] = modes[f->n_script];
    f->n_script++;
  }
  f->mode = dflt;
  pthread_mutex_unlock(&f->mu);
}

static int fake_requests(fake_llm *f) {
  pthread_mutex_lock(&f->mu);
  int n = f->requests;
  pthread_mutex_unlock(&f->mu);
  return n;
}

#endif
