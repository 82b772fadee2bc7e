/*
 * http_client.c: the blocking HTTP/1.1 client of the command line. See http_client.h.
 *
 * The socket is non-blocking and every wait goes through poll(2) with the client's time-out, so a server
 * that stops answering costs at most timeout_ms per wait, never a hang. Responses are parsed by llhttp in
 * response mode; the parser pauses at the end of each message so that bytes beyond it are never consumed
 * by accident (they make the client close the connection instead).
 */
#define _GNU_SOURCE
#include "cli/http_client.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <llhttp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "lp_version.h"

struct lp_http_client {
  lp_http_url url;
  char origin[300];
  int fd;          /* -1 when not connected */
  int requests;    /* requests answered on the current connection */
  int timeout_ms;
};

#define SET_ERR(...) (errstr && errstr_size ? (void)snprintf(errstr, errstr_size, __VA_ARGS__) : (void)0)

int lp_http_url_parse(const char *url, lp_http_url *out, char *errstr, size_t errstr_size) {
  memset(out, 0, sizeof(*out));
  if (!url || strncasecmp(url, "http://", 7) != 0) {
    SET_ERR("URL '%s' must start with http:// (TLS is not supported)", url ? url : "(null)");
    return LP_EINVAL;
  }
  const char *p = url + 7;
  size_t hlen = strcspn(p, ":/?#");
  if (hlen == 0 || hlen >= sizeof(out->host)) {
    SET_ERR("URL '%s' has no usable host", url);
    return LP_EINVAL;
  }
  memcpy(out->host, p, hlen);
  p += hlen;
  out->port = 80;
  if (*p == ':') {
    char *end;
    errno = 0;
    long port = strtol(p + 1, &end, 10);
    if (end == p + 1 || errno || port < 1 || port > 65535 || (*end && *end != '/')) {
      SET_ERR("URL '%s' has a bad port (1..65535)", url);
      return LP_EINVAL;
    }
    out->port = (int)port;
    p = end;
  }
  if (*p == '?' || *p == '#') {
    SET_ERR("URL '%s' must not carry a query or fragment", url);
    return LP_EINVAL;
  }
  size_t plen = strlen(p);
  while (plen > 0 && p[plen - 1] == '/') plen--;
  if (plen >= sizeof(out->path) || memchr(p, '?', plen) || memchr(p, '#', plen) || strpbrk(p, " \r\n\t")) {
    SET_ERR("URL '%s' has a bad path", url);
    return LP_EINVAL;
  }
  memcpy(out->path, p, plen);
  return LP_OK;
}

int lp_http_client_new(lp_http_client **out, const char *url, int timeout_ms, char *errstr,
                       size_t errstr_size) {
  *out = NULL;
  if (timeout_ms <= 0) {
    SET_ERR("time-out must be positive");
    return LP_EINVAL;
  }
  lp_http_url u;
  int rc = lp_http_url_parse(url, &u, errstr, errstr_size);
  if (rc) return rc;
  lp_http_client *c = lp_calloc(1, sizeof(*c));
  if (!c) {
    SET_ERR("out of memory");
    return LP_ENOMEM;
  }
  c->url = u;
  c->fd = -1;
  c->timeout_ms = timeout_ms;
  snprintf(c->origin, sizeof(c->origin), "%s:%d", u.host, u.port);
  *out = c;
  return LP_OK;
}

static void client_close(lp_http_client *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  c->requests = 0;
}

void lp_http_client_free(lp_http_client *c) {
  if (!c) return;
  client_close(c);
  lp_free(c);
}

const char *lp_http_client_origin(const lp_http_client *c) { return c->origin; }

void lp_http_response_free(lp_http_response *res) {
  if (!res) return;
  lp_free(res->body);
  memset(res, 0, sizeof(*res));
  res->retry_after_ms = -1;
}

/* Waits until fd is ready for events or the time-out passes. Returns 0, or LP_EIO with errstr set. */
static int wait_fd(int fd, short events, int timeout_ms, const char *what, const char *origin, char *errstr,
                   size_t errstr_size) {
  struct pollfd p = { .fd = fd, .events = events };
  for (;;) {
    int n = poll(&p, 1, timeout_ms);
    if (n > 0) return LP_OK;
    if (n == 0) {
      SET_ERR("%s %s: timed out after %d ms", what, origin, timeout_ms);
      return LP_EIO;
    }
    if (errno != EINTR) {
      SET_ERR("%s %s: poll: %s", what, origin, strerror(errno));
      return LP_EIO;
    }
  }
}

/* One non-blocking connect to one address, bounded by the time-out. Returns the fd or a negative code. */
static int connect_addr(const lp_http_client *c, const struct addrinfo *ai, char *errstr, size_t errstr_size) {
  int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
  if (fd < 0) {
    SET_ERR("socket: %s", strerror(errno));
    return LP_EIO;
  }
  if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
    if (errno != EINPROGRESS) {
      SET_ERR("connect to %s: %s", c->origin, strerror(errno));
      close(fd);
      return LP_EIO;
    }
    int rc = wait_fd(fd, POLLOUT, c->timeout_ms, "connect to", c->origin, errstr, errstr_size);
    int soerr = 0;
    socklen_t len = sizeof(soerr);
    if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0) soerr = errno;
    if (rc == 0 && soerr != 0) {
      SET_ERR("connect to %s: %s", c->origin, strerror(soerr));
      rc = LP_EIO;
    }
    if (rc) {
      close(fd);
      return rc;
    }
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

/* Resolves the host (IPv4 only) and connects to the first address that answers. */
static int client_connect(lp_http_client *c, char *errstr, size_t errstr_size) {
  struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res = NULL;
  char port[16];
  snprintf(port, sizeof(port), "%d", c->url.port);
  int gai = getaddrinfo(c->url.host, port, &hints, &res);
  if (gai != 0) {
    SET_ERR("resolve %s: %s", c->url.host, gai_strerror(gai));
    return LP_EIO;
  }
  int rc = LP_EIO;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    rc = connect_addr(c, ai, errstr, errstr_size);
    if (rc >= 0) break;
  }
  freeaddrinfo(res);
  if (rc < 0) return rc;
  c->fd = rc;
  c->requests = 0;
  return LP_OK;
}

/* True when an idle kept-alive connection was closed (or reset) by the server: reading would see EOF. */
static int idle_conn_dead(int fd) {
  struct pollfd p = { .fd = fd, .events = POLLIN };
  if (poll(&p, 1, 0) <= 0) return 0;
  /* Readable while idle: EOF, a reset, or unsolicited bytes (a 408 the server sent before closing).
   * Any of them makes the connection unusable for the next request. */
  return 1;
}

static int send_all(lp_http_client *c, const void *data, size_t n, int more, char *errstr, size_t errstr_size) {
  const char *p = data;
  while (n > 0) {
    ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
    if (w > 0) {
      p += w;
      n -= (size_t)w;
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int rc = wait_fd(c->fd, POLLOUT, c->timeout_ms, "send to", c->origin, errstr, errstr_size);
      if (rc) return rc;
      continue;
    }
    SET_ERR("send to %s: %s", c->origin, w < 0 ? strerror(errno) : "connection closed");
    return LP_EIO;
  }
  return LP_OK;
}

/* ---- response parsing (llhttp callbacks) ---- */

typedef struct resp_state {
  lp_http_response *res;
  lp_buf body;
  char name[64];
  size_t name_len;
  char value[256];
  size_t value_len;
  int head;        /* the request was HEAD: no body follows */
  int complete;
  int keep_alive;
  int too_big;
} resp_state;

static void append_bounded(char *dst, size_t cap, size_t *len, const char *at, size_t n) {
  size_t room = cap - 1 - *len;
  if (n > room) n = room;
  memcpy(dst + *len, at, n);
  *len += n;
  dst[*len] = '\0';
}

static int on_header_field(llhttp_t *p, const char *at, size_t n) {
  resp_state *s = p->data;
  append_bounded(s->name, sizeof(s->name), &s->name_len, at, n);
  return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n) {
  resp_state *s = p->data;
  append_bounded(s->value, sizeof(s->value), &s->value_len, at, n);
  return 0;
}

/* Retry-After is delta-seconds or an IMF-fixdate; returns ms from now, or -1 when unreadable. */
static long parse_retry_after(const char *v) {
  while (*v == ' ' || *v == '\t') v++;
  if (*v >= '0' && *v <= '9') {
    char *end;
    long s = strtol(v, &end, 10);
    while (*end == ' ' || *end == '\t') end++;
    if (*end || s < 0 || s > 86400L * 365) return -1;
    return s * 1000;
  }
  struct tm tm;
  memset(&tm, 0, sizeof(tm));
  const char *end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end) return -1;
  int64_t when = (int64_t)timegm(&tm) * 1000;
  int64_t delta = when - lp_now_ms();
  return delta > 0 ? (long)delta : 0;
}

static int on_header_value_complete(llhttp_t *p) {
  resp_state *s = p->data;
  if (strcasecmp(s->name, "retry-after") == 0) {
    s->res->retry_after_ms = parse_retry_after(s->value);
  } else if (strcasecmp(s->name, "content-type") == 0) {
    size_t n = s->value_len < sizeof(s->res->content_type) - 1 ? s->value_len : sizeof(s->res->content_type) - 1;
    memcpy(s->res->content_type, s->value, n);
    s->res->content_type[n] = '\0';
  }
  s->name_len = s->value_len = 0;
  s->name[0] = s->value[0] = '\0';
  return 0;
}

static int on_headers_complete(llhttp_t *p) {
  resp_state *s = p->data;
  s->res->status = llhttp_get_status_code(p);
  s->keep_alive = llhttp_should_keep_alive(p);
  return s->head ? 1 : 0;  /* 1: the response to HEAD has no body */
}

static int on_body(llhttp_t *p, const char *at, size_t n) {
  resp_state *s = p->data;
  if (s->body.len + n > LP_HTTP_CLIENT_MAX_BODY) {
    s->too_big = 1;
    llhttp_set_error_reason(p, "response body over the size bound");
    return HPE_USER;
  }
  if (lp_buf_append(&s->body, at, n) != 0) {
    s->too_big = 1;
    llhttp_set_error_reason(p, "out of memory");
    return HPE_USER;
  }
  return 0;
}

static int on_message_complete(llhttp_t *p) {
  resp_state *s = p->data;
  int status = llhttp_get_status_code(p);
  if (status >= 100 && status < 200 && status != 101) {
    /* An interim response (100 Continue, 103 Early Hints): the real one follows. */
    lp_buf_reset(&s->body);
    s->res->retry_after_ms = -1;
    s->res->content_type[0] = '\0';
    return 0;
  }
  s->complete = 1;
  s->keep_alive = s->keep_alive && llhttp_should_keep_alive(p);
  return HPE_PAUSED;
}

/* Reads one response. *got_bytes tells whether any byte arrived (a stale connection sends none). */
static int read_response(lp_http_client *c, resp_state *s, int *got_bytes, char *errstr, size_t errstr_size) {
  llhttp_settings_t set;
  llhttp_settings_init(&set);
  set.on_header_field = on_header_field;
  set.on_header_value = on_header_value;
  set.on_header_value_complete = on_header_value_complete;
  set.on_headers_complete = on_headers_complete;
  set.on_body = on_body;
  set.on_message_complete = on_message_complete;
  llhttp_t parser;
  llhttp_init(&parser, HTTP_RESPONSE, &set);
  parser.data = s;
  char buf[16384];
  *got_bytes = 0;
  for (;;) {
    ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      int rc = wait_fd(c->fd, POLLIN, c->timeout_ms, "response from", c->origin, errstr, errstr_size);
      if (rc) return rc;
      continue;
    }
    if (n < 0) {
      SET_ERR("receive from %s: %s", c->origin, strerror(errno));
      return LP_EIO;
    }
    if (n == 0) {
      if (*got_bytes && llhttp_message_needs_eof(&parser) && llhttp_finish(&parser) == HPE_OK) {
        s->complete = 1;
        s->keep_alive = 0;
        return LP_OK;
      }
      if (s->complete) return LP_OK;
      SET_ERR("%s closed the connection %s", c->origin,
              *got_bytes ? "in the middle of a response" : "without answering");
      return LP_EIO;
    }
    *got_bytes = 1;
    llhttp_errno_t e = llhttp_execute(&parser, buf, (size_t)n);
    if (e == HPE_PAUSED) {
      const char *stop = llhttp_get_error_pos(&parser);
      if (stop && stop < buf + n) s->keep_alive = 0;  /* bytes after the response: do not trust the stream */
      return LP_OK;
    }
    if (e != HPE_OK) {
      SET_ERR("bad response from %s: %s (%s)", c->origin, llhttp_errno_name(e), llhttp_get_error_reason(&parser));
      return s->too_big ? LP_ENOMEM : LP_EIO;
    }
  }
}

static int build_head(lp_buf *h, const lp_http_client *c, const char *method, const char *path,
                      const char *content_type, size_t body_len, int has_body) {
  int rc = lp_buf_printf(h, "%s %s%s HTTP/1.1\r\nHost: %s", method, c->url.path, path, c->url.host);
  if (!rc && c->url.port != 80) rc = lp_buf_printf(h, ":%d", c->url.port);
  if (!rc) rc = lp_buf_printf(h, "\r\nUser-Agent: leadpoet-cli/%s\r\nAccept: application/json\r\n", LP_VERSION);
  if (!rc && content_type) rc = lp_buf_printf(h, "Content-Type: %s\r\n", content_type);
  if (!rc && has_body) rc = lp_buf_printf(h, "Content-Length: %zu\r\n", body_len);
  if (!rc) rc = lp_buf_puts(h, "\r\n");
  return rc;
}

/* One attempt on the current (or a new) connection. *stale is set when a reused connection died before
 * any byte of the response: the caller may send again on a new one. */
static int request_once(lp_http_client *c, const lp_buf *head, const void *body, size_t body_len,
                        resp_state *s, int *stale, char *errstr, size_t errstr_size) {
  *stale = 0;
  if (c->fd >= 0 && idle_conn_dead(c->fd)) client_close(c);
  int reused = c->fd >= 0;
  if (!reused) {
    int rc = client_connect(c, errstr, errstr_size);
    if (rc) return rc;
  }
  int rc = send_all(c, head->data, head->len, body_len > 0, errstr, errstr_size);
  if (!rc && body_len > 0) rc = send_all(c, body, body_len, 0, errstr, errstr_size);
  int got = 0;
  if (!rc) rc = read_response(c, s, &got, errstr, errstr_size);
  if (rc) {
    *stale = reused && !got;
    client_close(c);
    return rc;
  }
  c->requests++;
  if (!s->keep_alive) client_close(c);
  return LP_OK;
}

int lp_http_client_request(lp_http_client *c, const char *method, const char *path, const char *content_type,
                           const void *body, size_t body_len, lp_http_response *res, char *errstr,
                           size_t errstr_size) {
  memset(res, 0, sizeof(*res));
  res->retry_after_ms = -1;
  if (!method || !path || path[0] != '/' || strpbrk(path, " \r\n") || (body_len && !body)) {
    SET_ERR("bad request arguments");
    return LP_EINVAL;
  }
  int has_body = body != NULL || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0;
  lp_buf head = LP_BUF_INIT;
  if (build_head(&head, c, method, path, content_type, body_len, has_body) != 0) {
    lp_buf_free(&head);
    SET_ERR("out of memory");
    return LP_ENOMEM;
  }
  int rc = LP_EIO;
  for (int attempt = 0; attempt < 2; attempt++) {
    resp_state s = { .res = res, .head = strcmp(method, "HEAD") == 0 };
    int stale = 0;
    rc = request_once(c, &head, body, body_len, &s, &stale, errstr, errstr_size);
    if (rc == 0) {
      res->body_len = s.body.len;
      if (lp_buf_append(&s.body, "", 1) != 0) {
        lp_buf_free(&s.body);
        SET_ERR("out of memory");
        rc = LP_ENOMEM;
        break;
      }
      res->body = lp_buf_steal(&s.body, NULL);
      break;
    }
    lp_buf_free(&s.body);
    lp_http_response_free(res);
    if (!stale) break;
  }
  lp_buf_free(&head);
  return rc;
}

const char *lp_http_response_error(const lp_http_response *res, char *out, size_t out_size) {
  json_error_t jerr;
  json_t *root = res->body ? json_loadb(res->body, res->body_len, 0, &jerr) : NULL;
  json_t *err = root ? json_object_get(root, "error") : NULL;
  const char *code = json_string_value(json_object_get(err, "code"));
  const char *msg = json_string_value(json_object_get(err, "message"));
  if (code || msg) {
    snprintf(out, out_size, "%d %s: %s", res->status, code ? code : "error", msg ? msg : "");
  } else {
    int n = res->body_len > 200 ? 200 : (int)res->body_len;
    snprintf(out, out_size, "%d %.*s", res->status, n, res->body ? res->body : "");
    for (char *p = out; *p; p++) {
      if (*p == '\r' || *p == '\n') *p = ' ';
    }
  }
  json_decref(root);
  return out;
}

static void sleep_ms(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

int lp_http_client_request_retry(lp_http_client *c, const lp_http_retry *policy, const char *method,
                                 const char *path, const char *content_type, const void *body,
                                 size_t body_len, lp_http_response *res, char *errstr, size_t errstr_size) {
  lp_http_retry def = LP_HTTP_RETRY_DEFAULT;
  if (!policy) policy = &def;
  unsigned seed = (unsigned)(lp_mono_ns() ^ (uint64_t)getpid());
  long backoff = policy->base_ms > 0 ? policy->base_ms : 1;
  for (int attempt = 1;; attempt++) {
    int rc = lp_http_client_request(c, method, path, content_type, body, body_len, res, errstr, errstr_size);
    if (rc) return rc;
    if ((res->status != 429 && res->status != 503) || attempt >= policy->max_attempts) return LP_OK;
    long wait = res->retry_after_ms >= 0 ? res->retry_after_ms : backoff;
    if (wait > policy->max_wait_ms) wait = policy->max_wait_ms;
    long jitter_span = wait / 4 > 50 ? wait / 4 : 50;
    wait += (long)(rand_r(&seed) % (unsigned)(jitter_span + 1));
    if (backoff < policy->max_wait_ms) backoff *= 2;
    if (policy->on_retry) policy->on_retry(policy->ud, attempt, res->status, wait);
    lp_http_response_free(res);
    sleep_ms(wait);
  }
}
