/*
 * http_int.h: the private structures of the HTTP server, shared by its files:
 *   parser.c  bytes -> requests (llhttp plus our limits); no socket, so the fuzzer drives it directly
 *   req.c     request accessors, responses and their wire form
 *   conn.c    one connection: reads, the in-order response queue, writes, time-outs, closing
 *   server.c  listener, accept, connection cap, graceful and forced close
 * Loop thread only, like everything in http.h.
 */
#ifndef LP_HTTP_INT_H
#define LP_HTTP_INT_H

#include <llhttp.h>

#include "base/buf.h"
#include "http/http.h"

typedef struct lp__http_conn lp__http_conn;

/* A header of a request: offsets into the request's head buffer (which may move while it grows). */
typedef struct lp__http_hdr {
  size_t name_off, name_len, val_off, val_len;
} lp__http_hdr;

struct lp_http_req {
  lp__http_conn *conn;        /* NULL when detached (client gone) or never attached (fuzzer) */
  lp_http_server *server;     /* NULL when never attached, or after the server was freed */
  lp_http_req *next;          /* the connection's queue, in request order */
  lp_http_req *dprev, *dnext; /* the server's list of detached requests awaiting their response */
  int method;
  int keep_alive;
  uint64_t start_ns;
  const char *route;
  void *data;
  /* Parsed request: url, header names and values, media type, all in head. */
  lp_buf head;
  size_t url_off, url_len;
  size_t media_off, media_len;
  lp__http_hdr *hdrs;
  size_t nhdrs, hdrs_cap;
  lp_buf body;
  /* Response. */
  int responded;
  int status;
  lp_buf resp_hdrs;           /* "Name: value\r\n" lines added by the handler, Content-Type included */
  char *resp_body;            /* owned, lp_malloc */
  size_t resp_len;
  lp_buf wire;                /* status line and headers, built when the write starts */
  uv_write_t wreq;
};

/* A request object with nothing parsed yet. NULL when out of memory. */
lp_http_req *lp__http_req_new(void);
/* Frees a request and everything it owns (it must not be in any list). */
void lp__http_req_free(lp_http_req *r);
/* Builds r->wire: status line, Content-Length, the handler's headers, Connection. */
int lp__http_req_build_wire(lp_http_req *r, int close_after);

/* ---- Parser --------------------------------------------------------------------------------------- */

enum { LP__HTTP_IDLE = 0, LP__HTTP_HEAD = 1, LP__HTTP_BODY = 2 };
enum { LP__FEED_MORE = 0, LP__FEED_REQ = 1, LP__FEED_ERR = -1 };

typedef struct lp__http_parser {
  llhttp_t ll;
  lp_http_limits lim;
  lp_http_req *cur;           /* the request being parsed */
  lp_http_req *done;          /* set by on_message_complete, taken by feed */
  size_t header_bytes;
  int last_cb;                /* 1 after a header field, 2 after a header value */
  int phase;                  /* LP__HTTP_* */
  unsigned seq;               /* bumped at every phase change: the connection re-arms its timer */
  int want_continue;          /* the request in progress sent Expect: 100-continue; cleared by its reader */
  int closed;                 /* takes no more input: after a non-keep-alive request or an error */
  int err_status;             /* set with err_code and err_msg when feed returns LP__FEED_ERR */
  const char *err_code;
  char err_msg[160];
} lp__http_parser;

void lp__http_parser_init(lp__http_parser *p, const lp_http_limits *lim);
void lp__http_parser_free(lp__http_parser *p);
/* Parses up to len bytes. Returns LP__FEED_MORE when all were used without completing a request,
 * LP__FEED_REQ when *out holds a complete request (the caller owns it; *used tells how many bytes it
 * took; feed again with the rest), LP__FEED_ERR on a protocol error or a limit: p->err_* say which
 * response to give, *out is the partial request to answer it on (caller owns it), and the parser is
 * closed. A closed parser consumes and ignores everything. */
int lp__http_parser_feed(lp__http_parser *p, const char *data, size_t len, size_t *used, lp_http_req **out);
/* Ends parsing with an error the caller decides (time-out): returns the partial request or a new
 * one (caller owns it; NULL when out of memory) and closes the parser. */
lp_http_req *lp__http_parser_abort(lp__http_parser *p);

/* ---- Connections and server ----------------------------------------------------------------------- */

/* Re-examines a connection after anything happened to it: writes responses that are ready, in order,
 * resumes or pauses reading, closes when done, re-arms its timer. Safe to call re-entrantly. */
void lp__http_conn_update(lp__http_conn *c);
/* Accepts one pending connection of s (rejected with 503 when over the cap). */
void lp__http_conn_accept(lp_http_server *s);
/* Graceful (close after the in-flight responses) or immediate close of a connection. */
void lp__http_conn_drain(lp__http_conn *c);
void lp__http_conn_close_now(lp__http_conn *c);
/* The links of the server's connection list, kept in the connection (server.c walks it). */
lp__http_conn **lp__http_conn_next(lp__http_conn *c);
lp__http_conn **lp__http_conn_prev(lp__http_conn *c);

/* Server internals used by connections. */
const lp_http_limits *lp__http_server_limits(const lp_http_server *s);
uv_loop_t *lp__http_server_loop(const lp_http_server *s);
uv_stream_t *lp__http_server_listener(lp_http_server *s);
int lp__http_server_closing(const lp_http_server *s);
void lp__http_server_handle(lp_http_server *s, lp_http_req *r);
void lp__http_server_observe(lp_http_server *s, lp_http_req *r);
void lp__http_server_add_conn(lp_http_server *s, lp__http_conn *c, int rejected);
void lp__http_server_conn_gone(lp_http_server *s, lp__http_conn *c, int rejected);
size_t lp__http_server_rejected(const lp_http_server *s);
void lp__http_server_detach(lp_http_server *s, lp_http_req *r);
void lp__http_server_undetach(lp_http_server *s, lp_http_req *r);

#endif
