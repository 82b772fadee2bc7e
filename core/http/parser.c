/*
 * parser.c: bytes in, requests out. llhttp does the syntax; this file adds the server's limits as the
 * bytes arrive (header bytes, body bytes, Content-Length announced, missing length, HTTP version) and
 * pauses llhttp after each complete request, so that the connection can stop between two pipelined
 * requests without buffering more than its read buffer. No socket here: the fuzzer feeds it directly.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "http/http_int.h"

/* Bytes charged per header line beyond its name and value (": " and CRLF). */
#define LP__HDR_OVERHEAD 4

static lp__http_parser *parser_of(llhttp_t *ll) { return (lp__http_parser *)ll->data; }

/* Records the response the connection must give; the callback then fails llhttp with HPE_USER. */
static int fail(lp__http_parser *p, int status, const char *code, const char *msg) {
  p->err_status = status;
  p->err_code = code;
  snprintf(p->err_msg, sizeof(p->err_msg), "%s", msg);
  return -1;
}

static int charge_header(lp__http_parser *p, size_t n) {
  p->header_bytes += n;
  if (p->header_bytes > p->lim.max_header_bytes)
    return fail(p, 431, "header_too_large", "request line and headers are over the limit");
  return 0;
}

static int on_message_begin(llhttp_t *ll) {
  lp__http_parser *p = parser_of(ll);
  if (p->cur == NULL) {
    p->cur = lp__http_req_new();
    if (p->cur == NULL) return fail(p, 503, "overloaded", "out of memory");
  }
  p->cur->start_ns = lp_mono_ns();
  p->header_bytes = 0;
  p->last_cb = 0;
  p->phase = LP__HTTP_HEAD;
  p->seq++;
  return 0;
}

static int on_request_line_part(llhttp_t *ll, const char *at, size_t len) {
  return charge_header(parser_of(ll), len);
}

static int on_url(llhttp_t *ll, const char *at, size_t len) {
  lp__http_parser *p = parser_of(ll);
  if (charge_header(p, len) != 0) return -1;
  lp_http_req *r = p->cur;
  r->method = ll->method;  /* known once the URL starts: a partial HEAD still gets no body back */
  if (r->url_len == 0) r->url_off = r->head.len;
  if (lp_buf_append(&r->head, at, len) != LP_OK) return fail(p, 503, "overloaded", "out of memory");
  r->url_len += len;
  return 0;
}

static int on_header_field(llhttp_t *ll, const char *at, size_t len) {
  lp__http_parser *p = parser_of(ll);
  if (charge_header(p, len) != 0) return -1;
  lp_http_req *r = p->cur;
  if (p->last_cb != 1) {  /* a new header starts */
    if (charge_header(p, LP__HDR_OVERHEAD) != 0) return -1;
    if (r->nhdrs == r->hdrs_cap) {
      size_t cap = r->hdrs_cap ? r->hdrs_cap * 2 : 16;
      lp__http_hdr *h = lp_realloc(r->hdrs, cap * sizeof(*h));
      if (h == NULL) return fail(p, 503, "overloaded", "out of memory");
      r->hdrs = h;
      r->hdrs_cap = cap;
    }
    r->hdrs[r->nhdrs++] = (lp__http_hdr){ r->head.len, 0, r->head.len, 0 };
    p->last_cb = 1;
  }
  if (lp_buf_append(&r->head, at, len) != LP_OK) return fail(p, 503, "overloaded", "out of memory");
  r->hdrs[r->nhdrs - 1].name_len += len;
  return 0;
}

static int on_header_value(llhttp_t *ll, const char *at, size_t len) {
  lp__http_parser *p = parser_of(ll);
  if (charge_header(p, len) != 0) return -1;
  lp_http_req *r = p->cur;
  if (r->nhdrs == 0) return fail(p, 400, "bad_request", "header value without a name");
  lp__http_hdr *h = &r->hdrs[r->nhdrs - 1];
  if (p->last_cb != 2) {
    h->val_off = r->head.len;
    p->last_cb = 2;
  }
  if (lp_buf_append(&r->head, at, len) != LP_OK) return fail(p, 503, "overloaded", "out of memory");
  h->val_len += len;
  return 0;
}

/* Stores the lower-cased media type of Content-Type (parameters dropped) after the headers. */
static int store_media_type(lp_http_req *r) {
  lp_str ct = lp_http_req_header(r, "Content-Type");
  size_t n = 0;
  while (n < ct.len && ct.ptr[n] != ';') n++;
  while (n > 0 && (ct.ptr[n - 1] == ' ' || ct.ptr[n - 1] == '\t')) n--;
  size_t start = 0;
  while (start < n && (ct.ptr[start] == ' ' || ct.ptr[start] == '\t')) start++;
  if (lp_buf_reserve(&r->head, n - start + 1) != LP_OK) return LP_ENOMEM;
  /* ct may point into head: reserve first, then re-resolve it. */
  ct = lp_http_req_header(r, "Content-Type");
  r->media_off = r->head.len;
  for (size_t i = start; i < n; i++) {
    char c = ct.ptr[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    r->head.data[r->head.len++] = c;
  }
  r->media_len = n - start;
  r->head.data[r->head.len++] = '\0';
  r->head.data[r->head.len] = '\0';
  return LP_OK;
}

static int on_headers_complete(llhttp_t *ll) {
  lp__http_parser *p = parser_of(ll);
  lp_http_req *r = p->cur;
  r->method = ll->method;
  if (ll->http_major != 1)
    return fail(p, 505, "http_version_not_supported", "only HTTP/1.0 and HTTP/1.1 are supported");
  int has_len = (ll->flags & (F_CONTENT_LENGTH | F_CHUNKED)) != 0;
  if ((ll->method == HTTP_POST || ll->method == HTTP_PUT) && !has_len)
    return fail(p, 411, "length_required", "POST and PUT need Content-Length or chunked encoding");
  if ((ll->flags & F_CONTENT_LENGTH) && ll->content_length > p->lim.max_body_bytes)
    return fail(p, 413, "payload_too_large", "Content-Length is over the body limit");
  if (store_media_type(r) != LP_OK) return fail(p, 503, "overloaded", "out of memory");
  lp_str expect = lp_http_req_header(r, "Expect");
  int has_body = (ll->flags & F_CHUNKED) || ((ll->flags & F_CONTENT_LENGTH) && ll->content_length > 0);
  p->want_continue = has_body && expect.len == 12 && strncasecmp(expect.ptr, "100-continue", 12) == 0;
  p->phase = LP__HTTP_BODY;
  p->seq++;
  return 0;
}

static int on_body(llhttp_t *ll, const char *at, size_t len) {
  lp__http_parser *p = parser_of(ll);
  lp_http_req *r = p->cur;
  if (r->body.len + len > p->lim.max_body_bytes)
    return fail(p, 413, "payload_too_large", "the body is over the limit");
  if (lp_buf_append(&r->body, at, len) != LP_OK) return fail(p, 503, "overloaded", "out of memory");
  return 0;
}

static int on_message_complete(llhttp_t *ll) {
  lp__http_parser *p = parser_of(ll);
  lp_http_req *r = p->cur;
  r->keep_alive = llhttp_should_keep_alive(ll);
  /* lp_buf_append keeps the body NUL-terminated; an empty body reads as "". */
  p->done = r;
  p->cur = NULL;
  p->phase = LP__HTTP_IDLE;
  p->seq++;
  return HPE_PAUSED;  /* hand the request over before parsing the next one */
}

static const llhttp_settings_t k_settings = {
  .on_message_begin = on_message_begin,
  .on_url = on_url,
  .on_method = on_request_line_part,
  .on_version = on_request_line_part,
  .on_header_field = on_header_field,
  .on_header_value = on_header_value,
  .on_headers_complete = on_headers_complete,
  .on_body = on_body,
  .on_message_complete = on_message_complete,
};

void lp__http_parser_init(lp__http_parser *p, const lp_http_limits *lim) {
  memset(p, 0, sizeof(*p));
  p->lim = *lim;
  llhttp_init(&p->ll, HTTP_REQUEST, &k_settings);
  p->ll.data = p;
}

void lp__http_parser_free(lp__http_parser *p) {
  if (p->cur) lp__http_req_free(p->cur);
  if (p->done) lp__http_req_free(p->done);
  p->cur = p->done = NULL;
}

/* Turns a failed llhttp_execute into the error the connection answers. */
static int feed_error(lp__http_parser *p, llhttp_errno_t e, lp_http_req **out) {
  if (p->err_status == 0) {
    if (e == HPE_INVALID_VERSION) {
      fail(p, 505, "http_version_not_supported", "only HTTP/1.0 and HTTP/1.1 are supported");
    } else {
      const char *reason = llhttp_get_error_reason(&p->ll);
      fail(p, 400, "bad_request", reason ? reason : llhttp_errno_name(e));
    }
  }
  p->closed = 1;
  p->phase = LP__HTTP_IDLE;
  p->seq++;
  *out = p->cur ? p->cur : lp__http_req_new();
  p->cur = NULL;
  return LP__FEED_ERR;
}

int lp__http_parser_feed(lp__http_parser *p, const char *data, size_t len, size_t *used, lp_http_req **out) {
  *out = NULL;
  *used = len;
  if (p->closed || len == 0) return LP__FEED_MORE;
  llhttp_errno_t e = llhttp_execute(&p->ll, data, len);
  if (e == HPE_OK) return LP__FEED_MORE;
  if (e != HPE_PAUSED || p->done == NULL) return feed_error(p, e, out);
  const char *pos = llhttp_get_error_pos(&p->ll);
  *used = (pos != NULL && pos >= data && pos <= data + len) ? (size_t)(pos - data) : len;
  llhttp_resume(&p->ll);
  *out = p->done;
  p->done = NULL;
  /* An upgrade (CONNECT, Upgrade:) is not served: what follows is not HTTP, so the connection ends
   * after this response, as after Connection: close. */
  if (llhttp_get_upgrade(&p->ll)) (*out)->keep_alive = 0;
  if (!(*out)->keep_alive) p->closed = 1;
  return LP__FEED_REQ;
}

lp_http_req *lp__http_parser_abort(lp__http_parser *p) {
  lp_http_req *r = p->cur ? p->cur : lp__http_req_new();
  p->cur = NULL;
  p->closed = 1;
  p->phase = LP__HTTP_IDLE;
  p->seq++;
  return r;
}
