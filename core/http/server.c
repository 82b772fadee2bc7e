/*
 * server.c: the listener and the server's bookkeeping: the connection list, the connection cap, the
 * requests detached from dead connections, and the two ways to close (graceful and forced).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "http/http_int.h"

struct lp_http_server {
  uv_loop_t *loop;
  uv_tcp_t listener;
  lp_http_limits lim;
  lp_http_handler_fn handler;
  lp_http_observe_fn observe;
  void *ud;
  lp__http_conn *conns;        /* every open connection, accepted or rejected */
  size_t nconns, nrejected;
  lp_http_req *detached;       /* requests still with the handler after their connection went */
  int port;
  int listening;
  int listener_closing, listener_closed;
  int closing;
  void (*done)(void *arg);
  void *done_arg;
};

const lp_http_limits *lp__http_server_limits(const lp_http_server *s) { return &s->lim; }
uv_loop_t *lp__http_server_loop(const lp_http_server *s) { return s->loop; }
uv_stream_t *lp__http_server_listener(lp_http_server *s) { return (uv_stream_t *)&s->listener; }
int lp__http_server_closing(const lp_http_server *s) { return s->closing; }
size_t lp__http_server_rejected(const lp_http_server *s) { return s->nrejected; }
size_t lp_http_server_connections(const lp_http_server *s) { return s->nconns; }
int lp_http_server_port(const lp_http_server *s) { return s->port; }

void lp__http_server_handle(lp_http_server *s, lp_http_req *r) { s->handler(r, s->ud); }

void lp__http_server_observe(lp_http_server *s, lp_http_req *r) {
  if (s->observe == NULL) return;
  double secs = (double)(lp_mono_ns() - r->start_ns) / 1e9;
  s->observe(s->ud, r->route ? r->route : "other", r->status, secs);
}

void lp__http_server_add_conn(lp_http_server *s, lp__http_conn *c, int rejected) {
  *lp__http_conn_prev(c) = NULL;
  *lp__http_conn_next(c) = s->conns;
  if (s->conns) *lp__http_conn_prev(s->conns) = c;
  s->conns = c;
  if (rejected) s->nrejected++;
  else s->nconns++;
}

void lp__http_server_detach(lp_http_server *s, lp_http_req *r) {
  r->dprev = NULL;
  r->dnext = s->detached;
  if (s->detached) s->detached->dprev = r;
  s->detached = r;
}

void lp__http_server_undetach(lp_http_server *s, lp_http_req *r) {
  if (r->dprev) r->dprev->dnext = r->dnext;
  else s->detached = r->dnext;
  if (r->dnext) r->dnext->dprev = r->dprev;
  r->dprev = r->dnext = NULL;
}

/* Calls done and frees the server once the listener and every connection are closed. Requests still
 * with the handler lose their server pointer: answering them later just frees them. */
static void maybe_done(lp_http_server *s) {
  if (!s->closing || !s->listener_closed || s->conns != NULL) return;
  for (lp_http_req *r = s->detached; r != NULL; r = r->dnext) r->server = NULL;
  while (s->detached) {
    lp_http_req *r = s->detached;
    s->detached = r->dnext;
    r->dprev = r->dnext = NULL;
  }
  void (*done)(void *) = s->done;
  void *arg = s->done_arg;
  if (done) done(arg);
  lp_free(s);
}

void lp__http_server_conn_gone(lp_http_server *s, lp__http_conn *c, int rejected) {
  lp__http_conn *prev = *lp__http_conn_prev(c), *next = *lp__http_conn_next(c);
  if (prev) *lp__http_conn_next(prev) = next;
  else s->conns = next;
  if (next) *lp__http_conn_prev(next) = prev;
  if (rejected) s->nrejected--;
  else s->nconns--;
  maybe_done(s);
}

static int check_limits(const lp_http_limits *l) {
  return l->max_header_bytes > 0 && l->header_timeout_ms > 0 && l->body_timeout_ms > 0 &&
         l->idle_timeout_ms > 0 && l->write_timeout_ms > 0 && l->max_connections > 0 &&
         l->max_pipelined > 0 && l->max_output_bytes > 0 && l->backlog > 0;
}

int lp_http_server_new(lp_http_server **out, uv_loop_t *loop, const lp_http_limits *limits,
                       lp_http_handler_fn handler, lp_http_observe_fn observe, void *ud) {
  *out = NULL;
  if (loop == NULL || limits == NULL || handler == NULL || !check_limits(limits)) return LP_EINVAL;
  lp_http_server *s = lp_calloc(1, sizeof(*s));
  if (s == NULL) return LP_ENOMEM;
  s->loop = loop;
  s->lim = *limits;
  s->handler = handler;
  s->observe = observe;
  s->ud = ud;
  if (uv_tcp_init(loop, &s->listener) != 0) {
    lp_free(s);
    return LP_EIO;
  }
  s->listener.data = s;
  *out = s;
  return LP_OK;
}

static void on_connection(uv_stream_t *l, int status) {
  lp_http_server *s = l->data;
  if (status < 0) {
    lp_log_warn("http accept failed", "err=%s", uv_strerror(status));
    return;
  }
  if (s->closing || !s->listening) return;
  lp__http_conn_accept(s);
}

/* Splits "HOST:PORT" or "[V6]:PORT" into an address. */
static int parse_addr(const char *hp, struct sockaddr_storage *ss, char *errstr, size_t n) {
  char host[128];
  const char *colon = strrchr(hp, ':');
  if (colon == NULL || colon[1] == '\0') {
    snprintf(errstr, n, "listen address '%s' is not HOST:PORT", hp);
    return LP_EINVAL;
  }
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (*end != '\0' || port < 0 || port > 65535) {
    snprintf(errstr, n, "bad port in listen address '%s'", hp);
    return LP_EINVAL;
  }
  const char *h = hp;
  size_t hl = (size_t)(colon - hp);
  if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
    h++;
    hl -= 2;
  }
  if (hl == 0 || hl >= sizeof(host)) {
    snprintf(errstr, n, "bad host in listen address '%s'", hp);
    return LP_EINVAL;
  }
  memcpy(host, h, hl);
  host[hl] = '\0';
  if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0) return LP_OK;
  if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0) return LP_OK;
  snprintf(errstr, n, "host '%s' is not an IPv4 or IPv6 address", host);
  return LP_EINVAL;
}

int lp_http_server_listen(lp_http_server *s, const char *host_port, char *errstr, size_t errstr_size) {
  if (s->closing || s->listening) {
    snprintf(errstr, errstr_size, "server is already listening or closing");
    return LP_ESTATE;
  }
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof(ss));
  int rc = parse_addr(host_port, &ss, errstr, errstr_size);
  if (rc != LP_OK) return rc;
  int e = uv_tcp_bind(&s->listener, (const struct sockaddr *)&ss, 0);
  if (e == 0) e = uv_listen((uv_stream_t *)&s->listener, s->lim.backlog, on_connection);
  if (e != 0) {
    snprintf(errstr, errstr_size, "cannot listen on %s: %s", host_port, uv_strerror(e));
    return LP_EIO;
  }
  struct sockaddr_storage bound;
  int len = sizeof(bound);
  if (uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &len) == 0) {
    if (bound.ss_family == AF_INET) s->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    else s->port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
  }
  s->listening = 1;
  return LP_OK;
}

static void on_listener_closed(uv_handle_t *h) {
  lp_http_server *s = h->data;
  s->listener_closed = 1;
  maybe_done(s);
}

void lp_http_server_stop_accepting(lp_http_server *s) {
  s->listening = 0;
  if (s->listener_closing) return;
  s->listener_closing = 1;
  uv_close((uv_handle_t *)&s->listener, on_listener_closed);
}

void lp_http_server_close(lp_http_server *s, int force, void (*done)(void *arg), void *arg) {
  if (s->closing) return;
  s->closing = 1;
  s->done = done;
  s->done_arg = arg;
  lp_http_server_stop_accepting(s);
  lp__http_conn *c = s->conns;
  while (c != NULL) {
    lp__http_conn *next = *lp__http_conn_next(c);  /* closing unlinks only in a later callback */
    if (force) lp__http_conn_close_now(c);
    else lp__http_conn_drain(c);
    c = next;
  }
}
