/*
 * fuzz_http.c: arbitrary bytes through the request parser a connection uses (lp__http_parser), fed in
 * pieces whose size comes from the first input byte, with small limits. Every request it yields is
 * read through the accessors, routed and answered (which frees it); every error is answered on the
 * partial request. Must never crash, leak or read out of bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "http/http_int.h"
#include "http/router.h"

static void answer(lp_http_req *r, lp_str param, void *ud) {
  (void)ud;
  lp_str b = lp_http_req_body(r);
  lp_str q = lp_http_req_query(r);
  lp_str h = lp_http_req_header(r, "Host");
  size_t sum = param.len + b.len + q.len + h.len + strlen(lp_http_req_media_type(r));
  lp_http_add_header(r, "X-Sum", sum % 2 ? "odd" : "even");
  lp_http_respond(r, 200, "text/plain", b.ptr, b.len);
}

static const lp_route k_routes[] = {
  { HTTP_GET, "/healthz", "/healthz", answer },
  { HTTP_POST, "/v1/snippets", "/v1/snippets", answer },
  { HTTP_GET, "/v1/leads/{domain}", "/v1/leads/{domain}", answer },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  lp_http_limits lim = { .max_header_bytes = 512, .max_body_bytes = 256, .header_timeout_ms = 1,
                         .body_timeout_ms = 1, .idle_timeout_ms = 1, .write_timeout_ms = 1,
                         .max_connections = 1, .max_pipelined = 4, .max_output_bytes = 1024, .backlog = 1 };
  size_t step = (size_t)data[0] % 64 + 1;
  const char *in = (const char *)data + 1;
  size_t len = size - 1;
  lp__http_parser p;
  lp__http_parser_init(&p, &lim);
  for (size_t off = 0; off < len && !p.closed;) {
    size_t n = len - off < step ? len - off : step;
    size_t pos = 0;
    while (pos < n && !p.closed) {
      size_t used = 0;
      lp_http_req *r = NULL;
      int rc = lp__http_parser_feed(&p, in + off + pos, n - pos, &used, &r);
      pos += used;
      if (rc == LP__FEED_REQ) {
        lp_router_dispatch(k_routes, sizeof(k_routes) / sizeof(k_routes[0]), r, NULL);
      } else if (rc == LP__FEED_ERR && r != NULL) {
        lp_http_respond_error(r, p.err_status, p.err_code, "%s", p.err_msg);
      }
    }
    off += n;
  }
  if (!p.closed) {
    lp_http_req *r = lp__http_parser_abort(&p);
    if (r != NULL) lp_http_respond_error(r, 408, "request_timeout", "end of input");
  }
  lp__http_parser_free(&p);
  return 0;
}
