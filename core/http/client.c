/* client.c: an asynchronous HTTP/1.1 request on a libuv loop (see client.h). */
#include "client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "leadpoet/common.h"

/* The plugin build (-DLP_HTTPC_PLUGIN) links no core symbol: there every request brings its allocator. */
#ifndef LP_HTTPC_PLUGIN
#include "base/alloc.h"
static const lp_httpc_alloc g_core_alloc = { lp_malloc, lp_realloc, lp_free };
#define LP_HTTPC_DEFAULT_ALLOC (&g_core_alloc)
#else
#define LP_HTTPC_DEFAULT_ALLOC NULL
#endif

struct lp_httpc {
  lp_httpc_alloc a;
  uv_getaddrinfo_t gai;
  uv_connect_t conn;
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_write_t wr;
  lp_httpc_cb cb;
  void *ud;
  char *out;                 /* the request bytes */
  size_t out_len;
  char *in;                  /* the response bytes */
  size_t in_len, in_cap, max_in;
  int closing;               /* handles whose close callback is due */
  int gai_pending;           /* the resolver's callback is due */
  int tcp_open;
  int finished;              /* cb ran, or the request was cancelled */
};

/* Writes the port of colon[1..end) into out->port; LP_EINVAL when not 1..65535. */
static int parse_port(const char *colon, const char *end, lp_httpc_url *out) {
  long port = 0;
  size_t pl = (size_t)(end - colon - 1);
  for (size_t i = 0; i < pl && port <= 65535; i++) {
    if (colon[1 + i] < '0' || colon[1 + i] > '9') return LP_EINVAL;
    port = port * 10 + (colon[1 + i] - '0');
  }
  if (pl == 0 || port < 1 || port > 65535) return LP_EINVAL;
  snprintf(out->port, sizeof(out->port), "%ld", port);
  return LP_OK;
}

int lp_httpc_url_parse(const char *url, lp_httpc_url *out, char *errstr, size_t errstr_size) {
  memset(out, 0, sizeof(*out));
  if (url == NULL || strncasecmp(url, "http://", 7) != 0) {
    snprintf(errstr, errstr_size, "\"%.80s\" is not an http:// URL (this build has no TLS: for https, run an "
             "egress TLS proxy and give its http:// address)", url != NULL ? url : "");
    return LP_EINVAL;
  }
  const char *h = url + 7;
  size_t hl = strcspn(h, "/?#");
  const char *colon = NULL;
  if (hl > 0 && h[0] == '[') {
    const char *rb = memchr(h, ']', hl);
    if (rb == NULL) {
      snprintf(errstr, errstr_size, "\"%.80s\": unclosed '[' in the host", url);
      return LP_EINVAL;
    }
    colon = rb + 1 < h + hl && rb[1] == ':' ? rb + 1 : NULL;
    if (colon == NULL && rb + 1 != h + hl) {
      snprintf(errstr, errstr_size, "\"%.80s\": junk after ']'", url);
      return LP_EINVAL;
    }
    size_t n = (size_t)(rb - h - 1);
    if (n == 0 || n >= sizeof(out->host)) goto bad_host;
    memcpy(out->host, h + 1, n);
  } else {
    colon = memchr(h, ':', hl);
    size_t n = colon != NULL ? (size_t)(colon - h) : hl;
    if (n == 0 || n >= sizeof(out->host) || memchr(h, '@', n) != NULL) goto bad_host;
    memcpy(out->host, h, n);
  }
  if (colon != NULL) {
    if (parse_port(colon, h + hl, out) != LP_OK) {
      snprintf(errstr, errstr_size, "\"%.80s\": the port must be 1..65535", url);
      return LP_EINVAL;
    }
  } else {
    snprintf(out->port, sizeof(out->port), "80");
  }
  const char *path = h + hl;
  size_t pl = strcspn(path, "#");
  for (size_t i = 0; i < pl; i++)
    if ((unsigned char)path[i] <= ' ' || path[i] == 0x7f) {
      snprintf(errstr, errstr_size, "\"%.80s\": a space or control byte in the path", url);
      return LP_EINVAL;
    }
  if (pl >= sizeof(out->path)) {
    snprintf(errstr, errstr_size, "\"%.80s\": path over %zu bytes", url, sizeof(out->path) - 1);
    return LP_EINVAL;
  }
  if (pl > 0 && path[0] == '?') {  /* "http://h?q" means "/?q" */
    if (pl + 1 >= sizeof(out->path)) goto bad_host;
    out->path[0] = '/';
    memcpy(out->path + 1, path, pl);
  } else {
    memcpy(out->path, path, pl);
  }
  return LP_OK;
bad_host:
  snprintf(errstr, errstr_size, "\"%.80s\": no host, user info in the host, or a host over %zu bytes", url,
           sizeof(out->host) - 1);
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

int lp_httpc_parse(char *raw, size_t len, int at_eof, lp_httpc_res *res) {
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
  const char *first = memchr(raw, '\n', (size_t)(end - raw));
  const char *hdrs = first != NULL && first < end ? first + 1 : end + 2;
  for (const char *line = first; line != NULL && line < end;) {
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
  res->status = st;
  res->headers = hdrs;
  res->headers_len = (size_t)(end + 2 - hdrs);
  res->body = b;
  if (st == 204 || st == 304 || (st >= 100 && st < 200)) {
    res->body_len = 0;
    return 1;
  }
  if (chunked) {
    int rc = dechunk(b, avail, NULL, &n);
    if (rc != 1) return rc == 0 && at_eof ? LP_EINVAL : rc;
    dechunk(b, avail, b, &n);
    res->body_len = n;
    return 1;
  }
  if (clen >= 0) {
    if (avail < (unsigned long long)clen) return at_eof ? LP_EINVAL : 0;
    res->body_len = (size_t)clen;
    return 1;
  }
  if (!at_eof) return 0;
  res->body_len = avail;
  return 1;
}

int lp_httpc_header(const lp_httpc_res *res, const char *name, char *out, size_t out_size) {
  size_t nl = strlen(name);
  const char *p = res->headers, *end = res->headers + res->headers_len;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (eol == NULL) eol = end;
    if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
      const char *v = p + nl + 1, *ve = eol;
      while (v < ve && (*v == ' ' || *v == '\t')) v++;
      while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t')) ve--;
      size_t vl = (size_t)(ve - v);
      if (vl + 1 > out_size) return LP_ERANGE;
      memcpy(out, v, vl);
      out[vl] = '\0';
      return (int)vl;
    }
    p = eol + 1;
  }
  return LP_ENOENT;
}

static void maybe_free(lp_httpc *c) {
  if (!c->finished || c->closing > 0 || c->gai_pending) return;
  c->a.free(c->out);
  c->a.free(c->in);
  c->a.free(c);
}

static void on_close(uv_handle_t *h) {
  lp_httpc *c = h->data;
  c->closing--;
  maybe_free(c);
}

/* Closes the handles; the memory goes when the last close (and the resolver's callback) is done. */
static void release(lp_httpc *c) {
  c->finished = 1;
  c->closing++;
  uv_close((uv_handle_t *)&c->timer, on_close);
  if (c->tcp_open) {
    c->closing++;
    uv_close((uv_handle_t *)&c->tcp, on_close);
  }
  if (c->gai_pending) uv_cancel((uv_req_t *)&c->gai);
  maybe_free(c);
}

/* Delivers the result once, then releases. */
static void finish(lp_httpc *c, int err, const char *why, const lp_httpc_res *res) {
  if (c->finished) return;
  c->finished = 1;
  c->cb(c->ud, err, why, res);
  release(c);
}

void lp_httpc_cancel(lp_httpc *c) {
  if (c == NULL || c->finished) return;
  release(c);
}

static void on_timeout(uv_timer_t *t) { finish(t->data, LP_EIO, "timed out", NULL); }

/* Tries to decode what has arrived; finishes when complete or malformed. */
static void try_complete(lp_httpc *c, int at_eof) {
  lp_httpc_res res;
  memset(&res, 0, sizeof(res));
  int rc = c->in_len > 0 ? lp_httpc_parse(c->in, c->in_len, at_eof, &res) : (at_eof ? LP_EINVAL : 0);
  if (rc == 1) finish(c, LP_OK, NULL, &res);
  else if (rc < 0) finish(c, LP_EIO, at_eof && c->in_len == 0 ? "connection closed before a response"
                                     : at_eof ? "connection closed mid-response" : "malformed HTTP response", NULL);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  lp_httpc *c = h->data;
  (void)suggested;
  if (c->in_cap - c->in_len < 4096 && c->in_cap < c->max_in + 1) {
    size_t cap = c->in_cap ? c->in_cap * 2 : 8192;
    if (cap > c->max_in + 1) cap = c->max_in + 1;
    char *p = c->a.realloc(c->in, cap);
    if (p != NULL) {
      c->in = p;
      c->in_cap = cap;
    }
  }
  *buf = uv_buf_init(c->in + c->in_len, (unsigned)(c->in_cap - c->in_len));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  lp_httpc *c = s->data;
  (void)buf;
  if (c->finished) return;
  if (n == UV_ENOBUFS || (n >= 0 && c->in_len + (size_t)n > c->max_in)) {
    finish(c, LP_ENOMEM, "response over the size bound", NULL);
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
  lp_httpc *c = w->data;
  if (status != 0 && !c->finished) finish(c, LP_EIO, "write failed", NULL);
}

static void on_connect(uv_connect_t *r, int status) {
  lp_httpc *c = r->data;
  if (c->finished) return;
  if (status != 0) {
    finish(c, LP_EIO, status == UV_ECONNREFUSED ? "connection refused" : "connect failed", NULL);
    return;
  }
  uv_buf_t b = uv_buf_init(c->out, (unsigned)c->out_len);
  c->wr.data = c;
  if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0 ||
      uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
    finish(c, LP_EIO, "write failed", NULL);
}

static void on_resolved(uv_getaddrinfo_t *g, int status, struct addrinfo *res) {
  lp_httpc *c = g->data;
  c->gai_pending = 0;
  if (c->finished || status != 0 || res == NULL) {
    if (res != NULL) uv_freeaddrinfo(res);
    if (!c->finished) finish(c, LP_EIO, "cannot resolve the host", NULL);
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
  if (rc != 0) finish(c, LP_EIO, "connect failed", NULL);
}

/* Checks the method is a token of 1..15 letters. */
static int method_ok(const char *m) {
  size_t n = m != NULL ? strlen(m) : 0;
  if (n == 0 || n > 15) return 0;
  for (size_t i = 0; i < n; i++)
    if (m[i] < 'A' || m[i] > 'Z') return 0;
  return 1;
}

/* Formats the request head and body into c->out. LP_EINVAL when the head is too long. */
static int build_request(lp_httpc *c, const lp_httpc_req *r) {
  const lp_httpc_url *u = r->url;
  const char *suffix = r->path_suffix != NULL ? r->path_suffix : "";
  int is6 = strchr(u->host, ':') != NULL, port80 = strcmp(u->port, "80") == 0;
  int with_len = r->body_len > 0 || strcmp(r->method, "POST") == 0 || strcmp(r->method, "PUT") == 0 ||
                 strcmp(r->method, "PATCH") == 0;
  char len_line[48] = "";
  if (with_len) snprintf(len_line, sizeof(len_line), "Content-Length: %zu\r\n", r->body_len);
  char head[4096];
  int hn = snprintf(head, sizeof(head), "%s %s%s%s HTTP/1.1\r\nHost: %s%s%s%s%s\r\n%s%s%sConnection: close\r\n%s%s\r\n",
                    r->method, u->path, suffix, u->path[0] == '\0' && suffix[0] == '\0' ? "/" : "",
                    is6 ? "[" : "", u->host, is6 ? "]" : "", port80 ? "" : ":", port80 ? "" : u->port,
                    r->content_type != NULL ? "Content-Type: " : "", r->content_type != NULL ? r->content_type : "",
                    r->content_type != NULL ? "\r\n" : "", len_line, r->headers != NULL ? r->headers : "");
  if (hn < 0 || (size_t)hn >= sizeof(head)) return LP_EINVAL;
  if ((c->out = c->a.malloc((size_t)hn + r->body_len + 1)) == NULL) return LP_ENOMEM;
  memcpy(c->out, head, (size_t)hn);
  if (r->body_len > 0) memcpy(c->out + hn, r->body, r->body_len);
  c->out_len = (size_t)hn + r->body_len;
  return LP_OK;
}

int lp_httpc_request(uv_loop_t *loop, const lp_httpc_req *req, lp_httpc_cb cb, void *ud, lp_httpc **out) {
  const lp_httpc_alloc *a = req->alloc != NULL ? req->alloc : LP_HTTPC_DEFAULT_ALLOC;
  if (out != NULL) *out = NULL;
  if (a == NULL || cb == NULL || req->url == NULL || !method_ok(req->method) || req->timeout_ms == 0 ||
      req->max_response == 0 || (req->body == NULL && req->body_len > 0))
    return LP_EINVAL;
  lp_httpc *c = a->malloc(sizeof(*c));
  if (c == NULL) return LP_ENOMEM;
  memset(c, 0, sizeof(*c));
  c->a = *a;
  c->cb = cb;
  c->ud = ud;
  c->max_in = req->max_response;
  int rc = build_request(c, req);
  if (rc != LP_OK) {
    a->free(c);
    return rc;
  }
  uv_timer_init(loop, &c->timer);
  c->timer.data = c;
  c->gai.data = c;
  struct addrinfo hints;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  if (uv_getaddrinfo(loop, &c->gai, on_resolved, req->url->host, req->url->port, &hints) != 0) {
    release(c);  /* no callback: let go quietly */
    return LP_EIO;
  }
  c->gai_pending = 1;
  uv_timer_start(&c->timer, on_timeout, req->timeout_ms, 0);
  if (out != NULL) *out = c;
  return LP_OK;
}
