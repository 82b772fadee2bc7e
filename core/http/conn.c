/*
 * conn.c: one HTTP connection on the loop.
 *
 * Bytes land in a per-connection read buffer (reused, one allocation per connection), go through the
 * parser one request at a time, and each complete request is queued and handed to the handler. The
 * queue keeps request order: a response is written only when it is at the head, so a handler may
 * answer the second request before the first. Reading pauses while max_pipelined requests are queued
 * or more than max_output_bytes wait in libuv's write queue, and resumes (with the unparsed rest of the
 * buffer first) when that drains. One timer per connection serves every deadline: header, body,
 * write, idle and the lingering close; it is always armed for the nearest one.
 *
 * Closing: after a response with Connection: close the write side is shut down and input is read and
 * discarded for a short while (a "lingering close", as nginx does), so that the client gets the
 * response rather than a reset caused by its own unread bytes. Requests still with the handler when
 * the connection goes are detached: they stay valid until answered, then are freed.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "http/http_int.h"

#define LP__RBUF_SIZE 16384

struct lp__http_conn {
  lp_http_server *s;
  lp__http_conn *prev, *next;  /* the server's list (server.c) */
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_shutdown_t shut;
  uv_write_t cont;             /* the "100 Continue" interim response */
  int handles;                 /* handles not yet closed */
  lp__http_parser parser;
  char *rbuf;
  size_t rpos, rlen;           /* unparsed bytes are rbuf[rpos, rlen) */
  lp_http_req *qhead, *qtail;  /* parsed and not yet written, in request order */
  size_t qlen;
  size_t writing;              /* responses handed to uv_write, not yet completed */
  unsigned seen_seq;
  uint64_t read_deadline, write_deadline, idle_deadline, linger_deadline;  /* uv_now ms, 0 = none */
  unsigned reading : 1;
  unsigned closing : 1;        /* uv_close called */
  unsigned close_after : 1;    /* the last response said Connection: close */
  unsigned draining : 1;       /* server closing: no new requests */
  unsigned lingering : 1;
  unsigned rejected : 1;       /* over the connection cap: one 503 then close */
  unsigned in_update : 1;
  unsigned again : 1;
  unsigned cont_writing : 1;
};

lp__http_conn **lp__http_conn_next(lp__http_conn *c) { return &c->next; }
lp__http_conn **lp__http_conn_prev(lp__http_conn *c) { return &c->prev; }

static const lp_http_limits *lim(const lp__http_conn *c) { return lp__http_server_limits(c->s); }
static uint64_t now_ms(const lp__http_conn *c) { return uv_now(c->tcp.loop); }

static void on_handle_closed(uv_handle_t *h) {
  lp__http_conn *c = h->data;
  if (--c->handles > 0) return;
  lp__http_parser_free(&c->parser);
  lp_free(c->rbuf);
  lp__http_server_conn_gone(c->s, c, c->rejected);
  lp_free(c);
}

/* Detaches or frees every queued request, then closes both handles. Writes in progress get their
 * callbacks (cancelled) before the handles' close callbacks, so the memory stays valid for them. */
void lp__http_conn_close_now(lp__http_conn *c) {
  if (c->closing) return;
  c->closing = 1;
  lp_http_req *r = c->qhead;
  while (r != NULL) {
    lp_http_req *next = r->next;
    r->next = NULL;
    r->conn = NULL;
    if (r->responded) {
      lp__http_req_free(r);
    } else {
      lp__http_server_detach(c->s, r);
    }
    r = next;
  }
  c->qhead = c->qtail = NULL;
  c->qlen = 0;
  uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
  uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

static void enqueue(lp__http_conn *c, lp_http_req *r) {
  r->conn = c;
  r->server = c->s;
  r->next = NULL;
  if (c->qtail) c->qtail->next = r;
  else c->qhead = r;
  c->qtail = r;
  c->qlen++;
}

/* Queues a request that the server itself answers with an error and then closes. */
static void answer_error(lp__http_conn *c, lp_http_req *r, int status, const char *code, const char *msg) {
  if (r == NULL) {  /* out of memory: nothing to answer on */
    lp__http_conn_close_now(c);
    return;
  }
  r->keep_alive = 0;
  enqueue(c, r);
  lp_http_respond_error(r, status, code, "%s", msg);
}

static void on_write(uv_write_t *w, int status) {
  lp_http_req *r = w->data;
  lp__http_conn *c = r->conn;
  lp__http_req_free(r);
  c->writing--;
  if (c->closing) return;
  if (status < 0) {
    lp_log_debug("http write failed", "err=%s", uv_strerror(status));
    lp__http_conn_close_now(c);
    return;
  }
  c->write_deadline = c->writing ? now_ms(c) + lim(c)->write_timeout_ms : 0;
  lp__http_conn_update(c);
}

/* Writes every answered request at the head of the queue, in order. */
static void flush(lp__http_conn *c) {
  while (!c->closing && !c->close_after && c->qhead && c->qhead->responded) {
    lp_http_req *r = c->qhead;
    c->qhead = r->next;
    if (c->qhead == NULL) c->qtail = NULL;
    c->qlen--;
    r->next = NULL;
    int close_after = !r->keep_alive || ((c->draining || c->rejected) && c->qhead == NULL);
    if (lp__http_req_build_wire(r, close_after) != LP_OK) {
      lp__http_req_free(r);
      lp__http_conn_close_now(c);
      return;
    }
    uv_buf_t bufs[2];
    unsigned n = 0;
    bufs[n++] = uv_buf_init(r->wire.data, (unsigned)r->wire.len);
    if (r->method != HTTP_HEAD && r->resp_len > 0) bufs[n++] = uv_buf_init(r->resp_body, (unsigned)r->resp_len);
    r->wreq.data = r;
    int rc = uv_write(&r->wreq, (uv_stream_t *)&c->tcp, bufs, n, on_write);
    if (rc < 0) {
      lp__http_req_free(r);
      lp__http_conn_close_now(c);
      return;
    }
    c->writing++;
    if (c->write_deadline == 0) c->write_deadline = now_ms(c) + lim(c)->write_timeout_ms;
    if (close_after) c->close_after = 1;
  }
}

static void on_continue_written(uv_write_t *w, int status) {
  lp__http_conn *c = w->data;
  c->writing--;
  c->cont_writing = 0;
  if (c->closing) return;
  if (status < 0) {
    lp__http_conn_close_now(c);
    return;
  }
  lp__http_conn_update(c);
}

/* Answers Expect: 100-continue so that the client sends its body without waiting. Only when nothing
 * else is owed on the connection: an interim response must not overtake earlier final ones (the
 * client then sends the body after its own short wait, as RFC 9110 allows). */
static void maybe_continue(lp__http_conn *c) {
  if (!c->parser.want_continue) return;
  c->parser.want_continue = 0;
  if (c->parser.phase != LP__HTTP_BODY || c->qhead != NULL || c->writing != 0 || c->cont_writing) return;
  static char k_continue[] = "HTTP/1.1 100 Continue\r\n\r\n";
  uv_buf_t b = uv_buf_init(k_continue, sizeof(k_continue) - 1);
  c->cont.data = c;
  if (uv_write(&c->cont, (uv_stream_t *)&c->tcp, &b, 1, on_continue_written) == 0) {
    c->writing++;
    c->cont_writing = 1;
  }
}

static int blocked(const lp__http_conn *c) {
  return c->qlen >= lim(c)->max_pipelined ||
         uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp) > lim(c)->max_output_bytes;
}

/* Parses the unparsed bytes, one request at a time, until they are used up or the connection must
 * wait. The handler runs from here and may answer at once (which re-enters lp__http_conn_update). */
static void process(lp__http_conn *c) {
  while (!c->closing && c->rpos < c->rlen && !c->parser.closed && !c->draining && !blocked(c)) {
    lp_http_req *r = NULL;
    size_t used = 0;
    int rc = lp__http_parser_feed(&c->parser, c->rbuf + c->rpos, c->rlen - c->rpos, &used, &r);
    c->rpos += used;
    if (rc == LP__FEED_REQ) {
      enqueue(c, r);
      lp__http_server_handle(c->s, r);
    } else if (rc == LP__FEED_ERR) {
      answer_error(c, r, c->parser.err_status, c->parser.err_code, c->parser.err_msg);
    }
  }
  maybe_continue(c);
  if (c->parser.closed || c->draining) c->rpos = c->rlen;  /* nothing more will be parsed */
  if (c->rpos == c->rlen) c->rpos = c->rlen = 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  lp__http_conn *c = h->data;
  if (c->rbuf == NULL) c->rbuf = lp_malloc(LP__RBUF_SIZE);
  if (c->rbuf == NULL || c->rlen >= LP__RBUF_SIZE) {
    *buf = uv_buf_init(NULL, 0);  /* read_cb gets UV_ENOBUFS */
    return;
  }
  *buf = uv_buf_init(c->rbuf + c->rlen, (unsigned)(LP__RBUF_SIZE - c->rlen));
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  lp__http_conn *c = st->data;
  if (nread == 0 || c->closing) return;
  if (nread < 0) {  /* EOF or error: the client is gone; answers still pending are discarded */
    lp__http_conn_close_now(c);
    return;
  }
  if (c->lingering) return;  /* discarded */
  c->rlen += (size_t)nread;
  lp__http_conn_update(c);
}

static void set_reading(lp__http_conn *c, int want) {
  if (want && !c->reading) {
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0) c->reading = 1;
  } else if (!want && c->reading) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
  }
}

static void on_timer(uv_timer_t *t);

static void arm_timer(lp__http_conn *c) {
  uint64_t d = 0;
  uint64_t all[4] = { c->read_deadline, c->write_deadline, c->idle_deadline, c->linger_deadline };
  for (int i = 0; i < 4; i++)
    if (all[i] && (d == 0 || all[i] < d)) d = all[i];
  if (d == 0) {
    uv_timer_stop(&c->timer);
    return;
  }
  uint64_t now = now_ms(c);
  uv_timer_start(&c->timer, on_timer, d > now ? d - now : 0, 0);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  lp__http_conn *c = req->data;
  if (c->closing) return;
  if (status < 0) lp__http_conn_close_now(c);
}

/* After the last response: shut the write side, then discard input until EOF or the linger time. */
static void begin_linger(lp__http_conn *c) {
  c->lingering = 1;
  c->read_deadline = c->idle_deadline = c->write_deadline = 0;
  c->linger_deadline = now_ms(c) + lim(c)->write_timeout_ms;
  c->shut.data = c;
  if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
    lp__http_conn_close_now(c);
    return;
  }
  c->rpos = c->rlen = 0;
  set_reading(c, 1);
  arm_timer(c);
}

/* Keeps the read deadline in step with the parser: header time from the first byte of a request,
 * body time from the end of its headers, none between requests. */
static void track_phase(lp__http_conn *c) {
  if (c->parser.seq == c->seen_seq) return;
  c->seen_seq = c->parser.seq;
  switch (c->parser.phase) {
    case LP__HTTP_HEAD: c->read_deadline = now_ms(c) + lim(c)->header_timeout_ms; break;
    case LP__HTTP_BODY: c->read_deadline = now_ms(c) + lim(c)->body_timeout_ms; break;
    default: c->read_deadline = 0; break;
  }
}

void lp__http_conn_update(lp__http_conn *c) {
  if (c->closing || c->lingering) return;
  if (c->in_update) {
    c->again = 1;
    return;
  }
  c->in_update = 1;
  do {
    c->again = 0;
    flush(c);
    if (!c->closing) process(c);
    if (!c->closing) flush(c);
  } while (c->again && !c->closing);
  c->in_update = 0;
  if (c->closing) return;
  track_phase(c);
  int empty = c->qhead == NULL && c->writing == 0;
  if (empty && c->close_after) {
    begin_linger(c);
    return;
  }
  if (empty && c->draining) {  /* graceful server close: nothing owed to this client */
    lp__http_conn_close_now(c);
    return;
  }
  set_reading(c, !c->parser.closed && !c->draining && !c->rejected && !blocked(c) && c->rlen == 0);
  if (empty && c->parser.phase == LP__HTTP_IDLE && c->rlen == 0) {
    if (c->idle_deadline == 0) c->idle_deadline = now_ms(c) + lim(c)->idle_timeout_ms;
  } else {
    c->idle_deadline = 0;
  }
  arm_timer(c);
}

static void on_timer(uv_timer_t *t) {
  lp__http_conn *c = t->data;
  if (c->closing) return;
  uint64_t now = now_ms(c);
  if (c->linger_deadline && now >= c->linger_deadline) {
    lp__http_conn_close_now(c);
  } else if (c->write_deadline && now >= c->write_deadline) {
    lp_log_debug("http write timeout", "pending=%zu", c->writing);
    lp__http_conn_close_now(c);
  } else if (c->read_deadline && now >= c->read_deadline) {
    int phase = c->parser.phase;
    c->read_deadline = 0;
    c->rpos = c->rlen = 0;
    lp_http_req *r = lp__http_parser_abort(&c->parser);
    answer_error(c, r, 408, "request_timeout",
                 phase == LP__HTTP_BODY ? "the body did not arrive in time"
                                        : "the request headers did not arrive in time");
    if (!c->closing) lp__http_conn_update(c);
  } else if (c->idle_deadline && now >= c->idle_deadline) {
    lp__http_conn_close_now(c);
  } else {
    arm_timer(c);
  }
}

void lp__http_conn_accept(lp_http_server *s) {
  const lp_http_limits *l = lp__http_server_limits(s);
  int rejected = lp_http_server_connections(s) >= l->max_connections;
  lp__http_conn *c = lp_calloc(1, sizeof(*c));
  if (c == NULL || uv_tcp_init(lp__http_server_loop(s), &c->tcp) != 0) {
    lp_free(c);
    return;
  }
  c->s = s;
  c->tcp.data = c;
  c->timer.data = c;
  c->handles = 2;
  uv_timer_init(lp__http_server_loop(s), &c->timer);
  lp__http_parser_init(&c->parser, l);
  lp__http_server_add_conn(s, c, rejected);
  c->rejected = rejected;
  if (uv_accept(lp__http_server_listener(s), (uv_stream_t *)&c->tcp) != 0) {
    lp__http_conn_close_now(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  if (rejected) {
    /* Rejected connections are bounded too: past another max_connections of them, just close. */
    if (lp__http_server_rejected(s) > l->max_connections) {
      lp__http_conn_close_now(c);
      return;
    }
    c->parser.closed = 1;
    answer_error(c, lp__http_req_new(), 503, "overloaded", "too many connections, try again later");
    return;
  }
  lp__http_conn_update(c);
}

/* Graceful close for the server's shutdown: no new requests; closes once the queue is written. */
void lp__http_conn_drain(lp__http_conn *c) {
  if (c->closing) return;
  c->draining = 1;
  if (c->lingering) {
    lp__http_conn_close_now(c);
    return;
  }
  lp__http_conn_update(c);
}
