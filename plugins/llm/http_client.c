/* http_client.c: one HTTP/1.1 POST on the host's loop (see http_client.h). */
#include "http_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct llm_http {
  const lp_host_api *host;
  uv_getaddrinfo_t gai;
  uv_connect_t conn;
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_write_t wr;
  llm_http_cb cb;
  void *ud;
  char *out;                 /* the request bytes */
  size_t out_len;
  char *in;                  /* the response bytes */
  size_t in_len, in_cap, max_in;
  int closing;               /* handles whose close callback is due */
  int gai_pending;           /* the resolver's callback is due */
  int tcp_open;
  int finished;              /* cb ran */
} llm_http;

int llm_url_parse(const char *url, llm_url *out, char *why, size_t why_size) {
  memset(out, 0, sizeof(*out));
  if (url == NULL || strncmp(url, "http://", 7) != 0) {
    snprintf(why, why_size, "\"%.80s\" is not an http:// URL (for https, run an egress TLS proxy and point "
             "base_url at it)", url != NULL ? url : "");
    return LP_EINVAL;
  }
  const char *h = url + 7, *path = strchr(h, '/');
  size_t hl = path != NULL ? (size_t)(path - h) : strlen(h);
  const char *colon = NULL;
  if (hl > 0 && h[0] == '[') {
    const char *rb = memchr(h, ']', hl);
    if (rb == NULL) {
      snprintf(why, why_size, "\"%.80s\": unclosed '[' in the host", url);
      return LP_EINVAL;
    }
    colon = rb + 1 < h + hl && rb[1] == ':' ? rb + 1 : NULL;
    if (colon == NULL && rb + 1 != h + hl) {
      snprintf(why, why_size, "\"%.80s\": junk after ']'", url);
      return LP_EINVAL;
    }
    size_t n = (size_t)(rb - h - 1);
    if (n == 0 || n >= sizeof(out->host)) goto bad_host;
    memcpy(out->host, h + 1, n);
  } else {
    colon = memchr(h, ':', hl);
    size_t n = colon != NULL ? (size_t)(colon - h) : hl;
    if (n == 0 || n >= sizeof(out->host)) goto bad_host;
    memcpy(out->host, h, n);
  }
  if (colon != NULL) {
    size_t pl = (size_t)(h + hl - colon - 1);
    long port = 0;
    for (size_t i = 0; i < pl; i++) {
      if (colon[1 + i] < '0' || colon[1 + i] > '9') { port = -1; break; }
      port = port * 10 + (colon[1 + i] - '0');
      if (port > 65535) break;
    }
    if (pl == 0 || port < 1 || port > 65535) {
      snprintf(why, why_size, "\"%.80s\": the port must be 1..65535", url);
      return LP_EINVAL;
    }
    snprintf(out->port, sizeof(out->port), "%ld", port);
  } else {
    snprintf(out->port, sizeof(out->port), "80");
  }
  if (path != NULL) {
    size_t pl = strlen(path);
    while (pl > 0 && path[pl - 1] == '/') pl--;
    if (pl >= sizeof(out->path)) {
      snprintf(why, why_size, "\"%.80s\": path too long", url);
      return LP_EINVAL;
    }
    memcpy(out->path, path, pl);
  }
  return LP_OK;
bad_host:
  snprintf(why, why_size, "\"%.80s\": no host, or a host over %zu bytes", url, sizeof(out->host) - 1);
  return LP_EINVAL;
}

/* Walks a chunked body at p[0..len): 1 complete (with *out_len the data's length, written to dst when dst
 * is not NULL), 0 more bytes needed, LP_EINVAL malformed. Run once to check, once to copy. */
static int dechunk(const char *p, size_t len, char *dst, size_t *out_len) {
  size_t at = 0, w = 0;
  for (;;) {
    const char *eol = memchr(p + at, '\n', len - at);
    if (eol == NULL) return 0;
    size_t size = 0, digits = 0;
    for (const char *c = p + at; c < eol; c++, digits++) {
      int d = *c >= '0' && *c <= '9' ? *c - '0' : (*c | 32) >= 'a' && (*c | 32) <= 'f' ? (*c | 32) - 'a' + 10 : -1;
      if (d < 0) break;  /* ';' extensions or '\r' */
      if (size > (SIZE_MAX >> 4)) return LP_EINVAL;
      size = size * 16 + (size_t)d;
    }
    if (digits == 0) return LP_EINVAL;
    at = (size_t)(eol - p) + 1;
    if (size == 0) {
      *out_len = w;
      return 1;  /* trailers, if any, are not needed */
    }
    if (len - at < size + 2) return 0;
    if (p[at + size] != '\r' || p[at + size + 1] != '\n') return LP_EINVAL;
    if (dst != NULL) memmove(dst + w, p + at, size);
    w += size;
    at += size + 2;
  }
}

int llm_http_parse(char *raw, size_t len, int at_eof, int *status, char **body, size_t *body_len) {
  const char *end = NULL;
  for (size_t i = 0; i + 3 < len; i++)
    if (raw[i] == '\r' && raw[i + 1] == '\n' && raw[i + 2] == '\r' && raw[i + 3] == '\n') { end = raw + i; break; }
  if (end == NULL) return at_eof ? LP_EINVAL : 0;
  if (len < 12 || strncmp(raw, "HTTP/1.", 7) != 0 || raw[8] != ' ') return LP_EINVAL;
  int st = 0;
  for (int i = 9; i < 12; i++) {
    if (raw[i] < '0' || raw[i] > '9') return LP_EINVAL;
    st = st * 10 + (raw[i] - '0');
  }
  long long clen = -1;
  int chunked = 0;
  for (const char *line = memchr(raw, '\n', (size_t)(end - raw)); line != NULL && line < end;) {
    line++;
    const char *eol = memchr(line, '\n', (size_t)(end + 2 - line));
    if (eol == NULL) break;
    size_t n = (size_t)(eol - line);
    if (n > 15 && strncasecmp(line, "content-length:", 15) == 0) {
      char *stop;
      clen = strtoll(line + 15, &stop, 10);
      if (clen < 0 || stop == line + 15) return LP_EINVAL;
    } else if (n > 18 && strncasecmp(line, "transfer-encoding:", 18) == 0) {
      for (const char *c = line + 18; c + 7 <= eol; c++)
        if (strncasecmp(c, "chunked", 7) == 0) chunked = 1;
    }
    line = eol;
  }
  char *b = (char *)end + 4;
  size_t avail = len - (size_t)(b - raw), n = 0;
  *status = st;
  *body = b;
  if (chunked) {
    int rc = dechunk(b, avail, NULL, &n);
    if (rc != 1) return rc == 0 && at_eof ? LP_EINVAL : rc;
    dechunk(b, avail, b, &n);
    *body_len = n;
    return 1;
  }
  if (clen >= 0) {
    if (avail < (unsigned long long)clen) return at_eof ? LP_EINVAL : 0;
    *body_len = (size_t)clen;
    return 1;
  }
  if (!at_eof) return 0;
  *body_len = avail;
  return 1;
}

static void maybe_free(llm_http *c) {
  if (!c->finished || c->closing > 0 || c->gai_pending) return;
  c->host->free(c->out);
  c->host->free(c->in);
  c->host->free(c);
}

static void on_close(uv_handle_t *h) {
  llm_http *c = h->data;
  c->closing--;
  maybe_free(c);
}

/* Delivers the result once, then releases the handles; the memory goes when the last close is done. */
static void finish(llm_http *c, int err, const char *why, int status, const char *body, size_t len) {
  if (c->finished) return;
  c->finished = 1;
  c->cb(c->ud, err, why, status, body, len);
  c->closing++;
  uv_close((uv_handle_t *)&c->timer, on_close);
  if (c->tcp_open) {
    c->closing++;
    uv_close((uv_handle_t *)&c->tcp, on_close);
  }
  if (c->gai_pending) uv_cancel((uv_req_t *)&c->gai);
  maybe_free(c);
}

static void on_timeout(uv_timer_t *t) { finish(t->data, LP_EIO, "timed out", 0, NULL, 0); }

/* Tries to decode what has arrived; finishes when complete or malformed. */
static void try_complete(llm_http *c, int at_eof) {
  int status = 0;
  char *body = NULL;
  size_t blen = 0;
  int rc = c->in_len > 0 ? llm_http_parse(c->in, c->in_len, at_eof, &status, &body, &blen) : (at_eof ? LP_EINVAL : 0);
  if (rc == 1) finish(c, LP_OK, NULL, status, body, blen);
  else if (rc < 0) finish(c, LP_EIO, at_eof && c->in_len == 0 ? "connection closed before a response"
                                                              : at_eof ? "connection closed mid-response"
                                                                       : "malformed HTTP response", 0, NULL, 0);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  llm_http *c = h->data;
  (void)suggested;
  if (c->in_cap - c->in_len < 4096 && c->in_cap < c->max_in + 1) {
    size_t cap = c->in_cap ? c->in_cap * 2 : 8192;
    if (cap > c->max_in + 1) cap = c->max_in + 1;
    char *p = c->host->realloc(c->in, cap);
    if (p != NULL) {
      c->in = p;
      c->in_cap = cap;
    }
  }
  *buf = uv_buf_init(c->in + c->in_len, (unsigned)(c->in_cap - c->in_len));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  llm_http *c = s->data;
  (void)buf;
  if (c->finished) return;
  if (n == UV_ENOBUFS || (n >= 0 && c->in_len + (size_t)n > c->max_in)) {
    finish(c, LP_ENOMEM, "response over the size bound", 0, NULL, 0);
    return;
  }
  if (n < 0) {
    try_complete(c, 1);
    return;
  }
  c->in_len += (size_t)n;
  try_complete(c, 0);
}

static void on_write(uv_write_t *w, int status) {
  llm_http *c = w->data;
  if (status != 0 && !c->finished) finish(c, LP_EIO, "write failed", 0, NULL, 0);
}

static void on_connect(uv_connect_t *r, int status) {
  llm_http *c = r->data;
  if (c->finished) return;
  if (status != 0) {
    finish(c, LP_EIO, status == UV_ECONNREFUSED ? "connection refused" : "connect failed", 0, NULL, 0);
    return;
  }
  uv_buf_t b = uv_buf_init(c->out, (unsigned)c->out_len);
  c->wr.data = c;
  if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0 ||
      uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
    finish(c, LP_EIO, "write failed", 0, NULL, 0);
}

static void on_resolved(uv_getaddrinfo_t *g, int status, struct addrinfo *res) {
  llm_http *c = g->data;
  c->gai_pending = 0;
  if (c->finished || status != 0 || res == NULL) {
    if (res != NULL) uv_freeaddrinfo(res);
    if (!c->finished) finish(c, LP_EIO, "cannot resolve the host", 0, NULL, 0);
    else maybe_free(c);
    return;
  }
  int rc = uv_tcp_init(g->loop, &c->tcp);
  if (rc == 0) {
    c->tcp_open = 1;
    c->tcp.data = c;
    c->conn.data = c;
    rc = uv_tcp_connect(&c->conn, &c->tcp, res->ai_addr, on_connect);
  }
  uv_freeaddrinfo(res);
  if (rc != 0) finish(c, LP_EIO, "connect failed", 0, NULL, 0);
}

int llm_http_post(const lp_host_api *host, uv_loop_t *loop, const llm_url *u, const char *path_suffix,
                  const char *headers, const char *body, size_t body_len, uint64_t timeout_ms,
                  size_t max_response, llm_http_cb cb, void *ud) {
  llm_http *c = host->calloc(1, sizeof(*c));
  if (c == NULL) return LP_ENOMEM;
  c->host = host;
  c->cb = cb;
  c->ud = ud;
  c->max_in = max_response;
  int is6 = strchr(u->host, ':') != NULL;
  char head[1024];
  int hn = snprintf(head, sizeof(head),
                    "POST %s%s HTTP/1.1\r\nHost: %s%s%s%s%s\r\nContent-Type: application/json\r\n"
                    "Accept: application/json\r\nConnection: close\r\nContent-Length: %zu\r\n%s\r\n",
                    u->path, path_suffix, is6 ? "[" : "", u->host, is6 ? "]" : "",
                    strcmp(u->port, "80") != 0 ? ":" : "", strcmp(u->port, "80") != 0 ? u->port : "", body_len,
                    headers);
  if (hn < 0 || (size_t)hn >= sizeof(head) || (c->out = host->malloc((size_t)hn + body_len)) == NULL) {
    host->free(c);
    return hn < 0 || (size_t)hn >= sizeof(head) ? LP_EINVAL : LP_ENOMEM;
  }
  memcpy(c->out, head, (size_t)hn);
  memcpy(c->out + hn, body, body_len);
  c->out_len = (size_t)hn + body_len;
  uv_timer_init(loop, &c->timer);
  c->timer.data = c;
  c->gai.data = c;
  struct addrinfo hints;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  int rc = uv_getaddrinfo(loop, &c->gai, on_resolved, u->host, u->port, &hints);
  if (rc != 0) {
    c->finished = 1;  /* no callback: release quietly */
    c->closing++;
    uv_close((uv_handle_t *)&c->timer, on_close);
    return LP_EIO;
  }
  c->gai_pending = 1;
  uv_timer_start(&c->timer, on_timeout, timeout_ms, 0);
  return LP_OK;
}
