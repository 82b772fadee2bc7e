/*
 * fixture.h: the HTTP tests' server: lp_http_server on its own uv loop in a background thread, bound
 * to 127.0.0.1:0, with a small router of test routes:
 *   GET|POST|PUT /echo          200 "METHOD PATH QUERY|BODY"
 *   GET /delay/{ms}             answers "delay MS" after a uv timer (out-of-order completion)
 *   GET|DELETE /items/{id}      "item ID"
 *   GET /big/{n}                n bytes of 'x'
 * Static functions in a header: each test file is its own program and includes it once.
 */
#ifndef LP_TEST_HTTP_FIXTURE_H
#define LP_TEST_HTTP_FIXTURE_H

#include <criterion/criterion.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <llhttp.h>
#include <uv.h>

#include "helpers/helpers.h"
#include "http/http.h"
#include "http/router.h"

typedef struct fx {
  uv_loop_t loop;
  uv_thread_t th;
  uv_async_t stop;
  lp_http_server *s;
  int port;
  int force;
  atomic_int observed;      /* observe callbacks */
  atomic_int dead_answers;  /* responses given to requests whose client was gone */
  atomic_int done;
  lp_http_limits lim;
} fx;

typedef struct fx_delay {
  uv_timer_t t;
  lp_http_req *req;
  fx *f;
  char body[64];
} fx_delay;

static __attribute__((unused)) lp_http_limits fx_default_limits(void) {
  lp_http_limits l = {
    .max_header_bytes = 8192, .max_body_bytes = 1 << 20, .header_timeout_ms = 3000,
    .body_timeout_ms = 3000, .idle_timeout_ms = 5000, .write_timeout_ms = 3000,
    .max_connections = 64, .max_pipelined = 16, .max_output_bytes = 1 << 20, .backlog = 128,
  };
  return l;
}

static void fx_echo(lp_http_req *r, lp_str param, void *ud) {
  (void)param;
  (void)ud;
  char out[4096];
  lp_str p = lp_http_req_path(r), q = lp_http_req_query(r), b = lp_http_req_body(r);
  int n = snprintf(out, sizeof(out), "%s %.*s %.*s|%.*s", lp_http_req_method_name(r), (int)p.len, p.ptr,
                   (int)q.len, q.ptr, (int)b.len, b.ptr);
  if (n >= (int)sizeof(out)) n = (int)sizeof(out) - 1;
  lp_http_add_header(r, "X-Media-Type", lp_http_req_media_type(r)[0] ? lp_http_req_media_type(r) : "-");
  lp_http_respond(r, 200, "text/plain", out, (size_t)n);
}

static void fx_delay_closed(uv_handle_t *h) { free(h->data); }

static void fx_delay_fire(uv_timer_t *t) {
  fx_delay *d = t->data;
  if (!lp_http_req_alive(d->req)) atomic_fetch_add(&d->f->dead_answers, 1);
  lp_http_respond(d->req, 200, "text/plain", d->body, strlen(d->body));
  uv_close((uv_handle_t *)&d->t, fx_delay_closed);
}

static void fx_delay_route(lp_http_req *r, lp_str param, void *ud) {
  fx *f = ud;
  fx_delay *d = calloc(1, sizeof(*d));
  d->req = r;
  d->f = f;
  snprintf(d->body, sizeof(d->body), "delay %.*s", (int)param.len, param.ptr);
  uv_timer_init(&f->loop, &d->t);
  d->t.data = d;
  uv_timer_start(&d->t, fx_delay_fire, strtoull(param.ptr, NULL, 10), 0);
}

static void fx_item(lp_http_req *r, lp_str param, void *ud) {
  (void)ud;
  char out[256];
  int n = snprintf(out, sizeof(out), "item %.*s", (int)param.len, param.ptr);
  lp_http_respond(r, 200, "text/plain", out, (size_t)n);
}

static void fx_big(lp_http_req *r, lp_str param, void *ud) {
  (void)ud;
  size_t n = strtoull(param.ptr, NULL, 10);
  char *b = malloc(n ? n : 1);
  memset(b, 'x', n);
  lp_http_respond(r, 200, "text/plain", b, n);
  free(b);
}

static const lp_route fx_routes[] = {
  { HTTP_GET, "/echo", "/echo", fx_echo },
  { HTTP_POST, "/echo", "/echo", fx_echo },
  { HTTP_PUT, "/echo", "/echo", fx_echo },
  { HTTP_GET, "/delay/{ms}", "/delay/{ms}", fx_delay_route },
  { HTTP_GET, "/items/{id}", "/items/{id}", fx_item },
  { HTTP_DELETE, "/items/{id}", "/items/{id}", fx_item },
  { HTTP_GET, "/big/{n}", "/big/{n}", fx_big },
};

static void fx_handler(lp_http_req *r, void *ud) {
  lp_router_dispatch(fx_routes, sizeof(fx_routes) / sizeof(fx_routes[0]), r, ud);
}

static void fx_observe(void *ud, const char *route, int status, double secs) {
  (void)route;
  (void)status;
  (void)secs;
  atomic_fetch_add(&((fx *)ud)->observed, 1);
}

static void fx_done(void *arg) { atomic_store(&((fx *)arg)->done, 1); }

static void fx_stop_cb(uv_async_t *a) {
  fx *f = a->data;
  lp_http_server_close(f->s, f->force, fx_done, f);
  uv_close((uv_handle_t *)a, NULL);
}

static void fx_thread(void *arg) {
  fx *f = arg;
  uv_run(&f->loop, UV_RUN_DEFAULT);
}

/* Starts the server with lim (NULL: defaults). */
static __attribute__((unused)) fx *fx_start(const lp_http_limits *lim) {
  fx *f = calloc(1, sizeof(*f));
  f->lim = lim ? *lim : fx_default_limits();
  cr_assert_eq(uv_loop_init(&f->loop), 0);
  cr_assert_eq(lp_http_server_new(&f->s, &f->loop, &f->lim, fx_handler, fx_observe, f), LP_OK);
  char err[256];
  cr_assert_eq(lp_http_server_listen(f->s, "127.0.0.1:0", err, sizeof(err)), LP_OK, "%s", err);
  f->port = lp_http_server_port(f->s);
  cr_assert_gt(f->port, 0);
  uv_async_init(&f->loop, &f->stop, fx_stop_cb);
  f->stop.data = f;
  cr_assert_eq(uv_thread_create(&f->th, fx_thread, f), 0);
  return f;
}

/* Asks the loop thread to close the server (graceful unless force). */
static __attribute__((unused)) void fx_request_stop(fx *f, int force) {
  f->force = force;
  uv_async_send(&f->stop);
}

/* Waits for the loop to end; every handle must be closed and done called. */
static __attribute__((unused)) void fx_join(fx *f) {
  uv_thread_join(&f->th);
  cr_assert_eq(atomic_load(&f->done), 1, "done was called");
  cr_assert_eq(uv_loop_close(&f->loop), 0, "no handle left open");
  free(f);
}

static __attribute__((unused)) void fx_stop(fx *f) {
  fx_request_stop(f, 0);
  fx_join(f);
}

/* Reads until EOF or a reset: 0, or -1 on timeout. */
static __attribute__((unused)) int fx_wait_eof(int fd, int timeout_ms) {
  char buf[65536];
  for (;;) {
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, timeout_ms) <= 0) return -1;
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return 0;
  }
}

/* Reads a response head (up to the blank line) byte by byte, for HEAD answers. */
static __attribute__((unused)) int fx_read_head(int fd, char *out, size_t cap) {
  size_t len = 0;
  while (len + 1 < cap) {
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, 5000) <= 0) return -1;
    if (recv(fd, out + len, 1, 0) != 1) return -1;
    len++;
    out[len] = '\0';
    if (len >= 4 && memcmp(out + len - 4, "\r\n\r\n", 4) == 0) return 0;
  }
  return -1;
}

/* Sends raw bytes on a new connection and reads one response. Returns the fd (still open). */
static __attribute__((unused)) int fx_raw(fx *f, const char *data, lpt_response *r) {
  int fd = lpt_connect(f->port);
  cr_assert_geq(fd, 0);
  cr_assert_eq(lpt_send_all(fd, data, strlen(data)), 0);
  cr_assert_eq(lpt_read_response(fd, r, 5000), 0, "a response to %.40s", data);
  return fd;
}

/* Asserts a JSON error response with the given status and code, and Connection: close. */
static __attribute__((unused)) void fx_assert_error(const lpt_response *r, int status, const char *code) {
  char v[128], want[128];
  cr_assert_eq(r->status, status, "status %d, want %d: %s", r->status, status, r->body);
  cr_assert_eq(lpt_header(r, "Content-Type", v, sizeof(v)), 0);
  cr_assert_str_eq(v, "application/json");
  snprintf(want, sizeof(want), "{\"error\":{\"code\":\"%s\",\"message\":", code);
  cr_assert(strncmp(r->body, want, strlen(want)) == 0, "body %s", r->body);
}

static __attribute__((unused)) void fx_assert_closes(const lpt_response *r, int fd) {
  char v[64];
  cr_assert_eq(lpt_header(r, "Connection", v, sizeof(v)), 0);
  cr_assert_str_eq(v, "close");
  cr_assert_eq(fx_wait_eof(fd, 5000), 0, "the server closes the connection");
}

/* The server still serves a new connection. */
static __attribute__((unused)) void fx_assert_serves(fx *f) {
  lpt_response r;
  cr_assert_eq(lpt_http(f->port, "GET", "/echo", NULL, NULL, 0, &r), 0);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(r.body, "GET /echo |");
  lpt_response_free(&r);
}

#endif
