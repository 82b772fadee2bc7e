/*
 * req.c: what a handler sees of a request, and how its one response is recorded and put on the wire.
 * A response is only recorded here; the connection writes it when every earlier request of the same
 * connection has been written (pipelining order).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "http/http_int.h"

lp_http_req *lp__http_req_new(void) {
  lp_http_req *r = lp_calloc(1, sizeof(*r));
  if (r == NULL) return NULL;
  r->route = "other";
  r->method = HTTP_GET;
  r->start_ns = lp_mono_ns();
  return r;
}

void lp__http_req_free(lp_http_req *r) {
  if (r == NULL) return;
  lp_buf_free(&r->head);
  lp_buf_free(&r->body);
  lp_buf_free(&r->resp_hdrs);
  lp_buf_free(&r->wire);
  lp_free(r->hdrs);
  lp_free(r->resp_body);
  lp_free(r);
}

/* ---- Accessors ------------------------------------------------------------------------------------ */

int lp_http_req_method(const lp_http_req *r) { return r->method; }

const char *lp_http_req_method_name(const lp_http_req *r) {
  return llhttp_method_name((llhttp_method_t)r->method);
}

static lp_str req_url(const lp_http_req *r) {
  if (r->url_len == 0) return (lp_str){ "", 0 };
  return (lp_str){ r->head.data + r->url_off, r->url_len };
}

/* The path of an origin-form ("/a?b") or absolute-form ("http://host/a?b") target. */
lp_str lp_http_req_path(const lp_http_req *r) {
  lp_str u = req_url(r);
  const char *p = u.ptr, *end = u.ptr + u.len;
  const char *scheme = NULL;
  for (size_t i = 0; i + 3 <= u.len && scheme == NULL; i++)
    if (memcmp(p + i, "://", 3) == 0) scheme = p + i;
  if (u.len && p[0] != '/' && scheme != NULL) {
    p = scheme + 3;
    while (p < end && *p != '/' && *p != '?') p++;
  }
  const char *q = memchr(p, '?', (size_t)(end - p));
  return (lp_str){ p, (size_t)((q ? q : end) - p) };
}

lp_str lp_http_req_query(const lp_http_req *r) {
  lp_str u = req_url(r);
  const char *q = memchr(u.ptr, '?', u.len);
  if (q == NULL) return (lp_str){ "", 0 };
  return (lp_str){ q + 1, (size_t)(u.ptr + u.len - q - 1) };
}

lp_str lp_http_req_header(const lp_http_req *r, const char *name) {
  size_t nl = strlen(name);
  for (size_t i = 0; i < r->nhdrs; i++) {
    const lp__http_hdr *h = &r->hdrs[i];
    if (h->name_len == nl && strncasecmp(r->head.data + h->name_off, name, nl) == 0)
      return (lp_str){ r->head.data + h->val_off, h->val_len };
  }
  return (lp_str){ NULL, 0 };
}

lp_str lp_http_req_body(const lp_http_req *r) {
  if (r->body.data == NULL) return (lp_str){ "", 0 };
  return (lp_str){ r->body.data, r->body.len };
}

const char *lp_http_req_media_type(const lp_http_req *r) {
  if (r->media_len == 0) return "";
  return r->head.data + r->media_off;
}

uint64_t lp_http_req_start_ns(const lp_http_req *r) { return r->start_ns; }
int lp_http_req_alive(const lp_http_req *r) { return r->conn != NULL; }
void lp_http_req_set_route(lp_http_req *r, const char *route) { r->route = route ? route : "other"; }
void lp_http_req_set_data(lp_http_req *r, void *data) { r->data = data; }
void *lp_http_req_data(const lp_http_req *r) { return r->data; }

/* ---- Responses ------------------------------------------------------------------------------------ */

static int has_crlf(const char *s) { return strpbrk(s, "\r\n") != NULL; }

int lp_http_add_header(lp_http_req *r, const char *name, const char *value) {
  if (r->responded) return LP_ESTATE;
  if (name == NULL || value == NULL || name[0] == '\0' || has_crlf(name) || has_crlf(value) ||
      strchr(name, ':') != NULL)
    return LP_EINVAL;
  /* The server owns the framing headers. */
  if (strcasecmp(name, "Content-Length") == 0 || strcasecmp(name, "Connection") == 0 ||
      strcasecmp(name, "Transfer-Encoding") == 0)
    return LP_EINVAL;
  return lp_buf_printf(&r->resp_hdrs, "%s: %s\r\n", name, value);
}

int lp_http_respond_take(lp_http_req *r, int status, const char *content_type, char *body, size_t len) {
  if (r->responded || status < 100 || status > 999) {
    lp_free(body);
    return r->responded ? LP_ESTATE : LP_EINVAL;
  }
  if (content_type != NULL && lp_http_add_header(r, "Content-Type", content_type) != LP_OK) {
    /* A bad content type is the handler's bug: answer 500 rather than a malformed response. */
    lp_free(body);
    lp_buf_reset(&r->resp_hdrs);
    body = NULL;
    len = 0;
    status = 500;
  }
  r->responded = 1;
  r->status = status;
  r->resp_body = body;
  r->resp_len = body ? len : 0;
  if (r->server) lp__http_server_observe(r->server, r);
  if (r->conn) {
    lp__http_conn_update(r->conn);
  } else {
    if (r->server) lp__http_server_undetach(r->server, r);
    lp__http_req_free(r);
  }
  return LP_OK;
}

int lp_http_respond(lp_http_req *r, int status, const char *content_type, const char *body, size_t len) {
  char *copy = NULL;
  if (len > 0) {
    copy = lp_malloc(len);
    if (copy == NULL) {
      lp_http_respond_take(r, 503, NULL, NULL, 0);
      return LP_ENOMEM;
    }
    memcpy(copy, body, len);
  }
  return lp_http_respond_take(r, status, content_type, copy, len);
}

int lp_http_respond_error(lp_http_req *r, int status, const char *code, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  lp_buf b = LP_BUF_INIT;
  int rc = lp_buf_puts(&b, "{\"error\":{\"code\":");
  if (rc == LP_OK) rc = lp_buf_json_str(&b, code, strlen(code));
  if (rc == LP_OK) rc = lp_buf_puts(&b, ",\"message\":");
  if (rc == LP_OK) rc = lp_buf_json_str(&b, msg, strlen(msg));
  if (rc == LP_OK) rc = lp_buf_puts(&b, "}}");
  if (rc != LP_OK) {
    lp_buf_free(&b);
    lp_http_respond_take(r, status, NULL, NULL, 0);
    return rc;
  }
  size_t len;
  char *body = lp_buf_steal(&b, &len);
  return lp_http_respond_take(r, status, "application/json", body, len);
}

int lp__http_req_build_wire(lp_http_req *r, int close_after) {
  lp_buf *w = &r->wire;
  lp_buf_reset(w);
  int rc;
  /* RFC 9110 8.6: no Content-Length on a 204, nor on a 304 (it would have to be the 200 body's length). */
  if (r->status == 204 || r->status == 304)
    rc = lp_buf_printf(w, "HTTP/1.1 %d %s\r\n", r->status, lp_http_status_text(r->status));
  else
    rc = lp_buf_printf(w, "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n", r->status,
                       lp_http_status_text(r->status), r->resp_len);
  if (rc == LP_OK && r->resp_hdrs.len) rc = lp_buf_append(w, r->resp_hdrs.data, r->resp_hdrs.len);
  if (rc == LP_OK)
    rc = lp_buf_puts(w, close_after ? "Connection: close\r\n\r\n" : "Connection: keep-alive\r\n\r\n");
  return rc;
}

const char *lp_http_status_text(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}
