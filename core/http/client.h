/*
 * client.h: an asynchronous HTTP/1.1 client on a libuv loop (lp_httpc_*), for calls the server makes to
 * the outside: webhooks, enrichment vendors, the LLM plugin (which compiles this same source into its
 * module, see plugins/llm/CMakeLists.txt).
 *
 * Plain http:// only: there is no TLS library in this build, so an https endpoint is reached through an
 * egress TLS proxy (a sidecar) given as an http:// URL; the URL parser says so in its error. One connection
 * per request ("Connection: close"): nothing stays open between calls, so a loop can end whenever no request
 * is in flight. The whole exchange (name resolution, connect, write, read) has one deadline; a response is
 * read to its Content-Length, to the end of a chunked body, or to the close, and is bounded in size.
 *
 * Threads: every function but lp_httpc_url_parse / lp_httpc_parse / lp_httpc_header runs on the thread of
 * the loop the request was started on.
 */
#ifndef LP_HTTP_CLIENT_H
#define LP_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* A parsed http:// URL: host (no brackets for IPv6), port (decimal), and the path with its query string,
 * exactly as given ("" when the URL has none; a '#fragment' is dropped). */
typedef struct lp_httpc_url {
  char host[256];
  char port[8];
  char path[1024];
} lp_httpc_url;

/* The allocator the client uses for its own memory. The core passes NULL (lp_malloc and friends); a
 * plugin, which must not link core symbols, passes the host API's functions. */
typedef struct lp_httpc_alloc {
  void *(*malloc)(size_t n);
  void *(*realloc)(void *p, size_t n);
  void (*free)(void *p);
} lp_httpc_alloc;

/* One request. Everything is copied by lp_httpc_request: the caller may free it when the call returns. */
typedef struct lp_httpc_req {
  const char *method;          /* "GET", "POST", "PUT", "DELETE", ...: a token of 1..15 letters */
  const lp_httpc_url *url;
  const char *path_suffix;     /* appended to url->path; NULL = none; "/" is sent when both are empty */
  const char *content_type;    /* NULL = no Content-Type header */
  const char *headers;         /* extra header lines, each ending in "\r\n"; NULL = none */
  const void *body;            /* NULL with body_len 0 = no body (Content-Length: 0 is still sent for
                                * POST/PUT/PATCH) */
  size_t body_len;
  uint64_t timeout_ms;         /* the deadline of the whole exchange, > 0 */
  size_t max_response;         /* the most bytes of response (head + body) accepted, > 0 */
  const lp_httpc_alloc *alloc; /* NULL = lp_malloc (core only; a plugin build must pass its own) */
} lp_httpc_req;

/* A decoded response. The pointers stay valid during the callback only. headers is the raw header block
 * after the status line (lines ending "\r\n"), body the de-chunked body. */
typedef struct lp_httpc_res {
  int status;
  const char *headers;
  size_t headers_len;
  const char *body;
  size_t body_len;
} lp_httpc_res;

/* The result: err LP_OK with res (any status: a 500 is a response, not an error), or a negative code
 * (LP_EIO: resolve/connect/write/read failed, timed out or malformed; LP_ENOMEM: over max_response or out
 * of memory) with errstr saying why (static text) and res NULL. */
typedef void (*lp_httpc_cb)(void *ud, int err, const char *errstr, const lp_httpc_res *res);

typedef struct lp_httpc lp_httpc;

/* Parses "http://HOST[:PORT][/PATH][?QUERY]". LP_OK, or LP_EINVAL with why in errstr (https:// is refused
 * with a message naming the egress-proxy way). Any thread. */
int lp_httpc_url_parse(const char *url, lp_httpc_url *out, char *errstr, size_t errstr_size);

/* Starts a request on loop. cb(ud, ...) runs exactly once, later, from the loop (never inside this call),
 * unless lp_httpc_cancel is called first; the client's memory and handles are released by the client after
 * cb. *out (optional, may be NULL) receives a handle valid until cb runs or lp_httpc_cancel returns.
 * Returns LP_OK, or LP_EINVAL (bad method, timeout, bound or header too long) / LP_ENOMEM / LP_EIO, with
 * which cb will not run. Loop thread. */
int lp_httpc_request(uv_loop_t *loop, const lp_httpc_req *req, lp_httpc_cb cb, void *ud, lp_httpc **out);

/* Abandons a request in flight: cb will not run; the connection is closed and the memory released once
 * libuv has closed the handles (the loop must run once more). For shutdown. Loop thread. */
void lp_httpc_cancel(lp_httpc *c);

/* Decodes a complete response in raw[0..len): status, headers and body (de-chunked in place when chunked).
 * Returns 1 complete, 0 needs more bytes (or the close, for a body delimited by it), LP_EINVAL malformed.
 * at_eof says the peer closed. Any thread. */
int lp_httpc_parse(char *raw, size_t len, int at_eof, lp_httpc_res *res);

/* Copies the value of the first header called name (case-insensitive), trimmed, NUL-terminated, into
 * out[0..out_size). Returns its length, LP_ENOENT when absent, LP_ERANGE when it does not fit. Any thread. */
int lp_httpc_header(const lp_httpc_res *res, const char *name, char *out, size_t out_size);

#endif
