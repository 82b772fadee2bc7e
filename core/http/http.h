/*
 * http.h: the HTTP/1.1 server on llhttp, run on the reactor's libuv loop.
 *
 * Keep-alive, pipelining (responses leave in request order even when handlers answer out of order),
 * chunked request bodies, many connections. Limits come from lp_http_limits and each has its contract
 * error, answered by the server itself as JSON {"error":{"code","message"}}: 400 malformed request,
 * 408 header or body read time-out, 411 POST/PUT without a length, 413 body over the limit, 431 header
 * block over the limit, 503 over the connection cap, 505 not HTTP/1.x. Idle keep-alive connections are
 * closed after idle_timeout. A client that does not read its responses is stopped from sending more
 * (no unbounded output queue) and closed after write_timeout.
 *
 * Threads: everything here runs on the loop's thread (the reactor) and only there.
 * Ownership: a request (lp_http_req) is owned by the server; the handler gets a borrowed pointer that
 * stays valid until it calls one of the lp_http_respond* functions, exactly once, now or later on the
 * loop thread. If the client goes away first, the request stays valid until then (lp_http_req_alive
 * tells), and the response is discarded.
 */
#ifndef LP_HTTP_H
#define LP_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "leadpoet/common.h"

typedef struct lp_http_server lp_http_server;
typedef struct lp_http_req lp_http_req;

typedef struct lp_http_limits {
  size_t max_header_bytes;       /* request line + headers; over it: 431 */
  size_t max_body_bytes;         /* decoded body; over it: 413 */
  uint64_t header_timeout_ms;    /* from the first byte of a request to the end of its headers: 408 */
  uint64_t body_timeout_ms;      /* from the end of headers to the end of the body: 408 */
  uint64_t idle_timeout_ms;      /* keep-alive connection with nothing in flight: closed */
  uint64_t write_timeout_ms;     /* output pending and not drained by the client: closed */
  uint32_t max_connections;      /* over it: 503 and close */
  uint32_t max_pipelined;        /* requests in flight per connection before reading pauses */
  size_t max_output_bytes;       /* queued response bytes per connection before reading pauses */
  int backlog;
} lp_http_limits;

/* Called once per complete request, on the loop thread. */
typedef void (*lp_http_handler_fn)(lp_http_req *req, void *ud);
/* Called once per response written (or discarded), for metrics: route is what the handler set with
 * lp_http_req_set_route (or "other"), seconds from the first byte of the request to the response. */
typedef void (*lp_http_observe_fn)(void *ud, const char *route, int status, double seconds);

int lp_http_server_new(lp_http_server **out, uv_loop_t *loop, const lp_http_limits *limits,
                       lp_http_handler_fn handler, lp_http_observe_fn observe, void *ud);
/* Binds and listens on "HOST:PORT" (IPv4 or [IPv6]); port 0 picks a free one. */
int lp_http_server_listen(lp_http_server *s, const char *host_port, char *errstr, size_t errstr_size);
/* The bound port (after listen). */
int lp_http_server_port(const lp_http_server *s);
/* Stops accepting new connections; open ones go on. */
void lp_http_server_stop_accepting(lp_http_server *s);
/* Closes every connection once its in-flight responses are written (or at once when force), then the
 * listener; calls done(arg) when every handle is closed. The server is freed after done returns. */
void lp_http_server_close(lp_http_server *s, int force, void (*done)(void *arg), void *arg);
size_t lp_http_server_connections(const lp_http_server *s);

/* ---- Requests -------------------------------------------------------------------------------------- */

/* llhttp_method_t value (HTTP_GET, HTTP_POST, ...). */
int lp_http_req_method(const lp_http_req *r);
const char *lp_http_req_method_name(const lp_http_req *r);
/* The decoded path without the query string (percent-escapes kept), and the raw query string. */
lp_str lp_http_req_path(const lp_http_req *r);
lp_str lp_http_req_query(const lp_http_req *r);
/* Header value by case-insensitive name; len 0 and ptr NULL when absent. */
lp_str lp_http_req_header(const lp_http_req *r, const char *name);
/* The whole body (de-chunked), NUL-terminated for convenience (the NUL is not counted in len). */
lp_str lp_http_req_body(const lp_http_req *r);
/* The media type of Content-Type, without parameters, lower-cased ("application/json"); "" when absent. */
const char *lp_http_req_media_type(const lp_http_req *r);
/* Monotonic ns at the first byte of this request. */
uint64_t lp_http_req_start_ns(const lp_http_req *r);
/* Does the client still wait for this response? */
int lp_http_req_alive(const lp_http_req *r);
/* Names the route for metrics (a static string). */
void lp_http_req_set_route(lp_http_req *r, const char *route);
/* Free slot for the handler's own pointer. */
void lp_http_req_set_data(lp_http_req *r, void *data);
void *lp_http_req_data(const lp_http_req *r);

/* ---- Responses: exactly one per request ----------------------------------------------------------- */

/* Adds a response header (copied) before responding. LP_EINVAL for an empty name, CR/LF in either, or
 * a framing header the server sets itself (Content-Length, Connection, Transfer-Encoding); LP_ESTATE
 * once responded. */
int lp_http_add_header(lp_http_req *r, const char *name, const char *value);
/* Copies body. content_type may be NULL when len is 0. */
int lp_http_respond(lp_http_req *r, int status, const char *content_type, const char *body, size_t len);
/* Takes ownership of body (allocated with lp_malloc). */
int lp_http_respond_take(lp_http_req *r, int status, const char *content_type, char *body, size_t len);
/* {"error":{"code":code,"message":message}} with the given status. */
int lp_http_respond_error(lp_http_req *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The reason phrase of a status code ("Not Found"). */
const char *lp_http_status_text(int status);

#endif
