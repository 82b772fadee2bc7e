/* The request parser without a socket (the path the fuzzer drives): any split of the input gives the
 * same requests, pipelined requests come out one by one, limits answer the right error. */
#include <criterion/criterion.h>
#include <string.h>

#include "http/http_int.h"

static lp_http_limits limits(void) {
  lp_http_limits l = { .max_header_bytes = 1024, .max_body_bytes = 64, .header_timeout_ms = 1,
                       .body_timeout_ms = 1, .idle_timeout_ms = 1, .write_timeout_ms = 1,
                       .max_connections = 1, .max_pipelined = 1, .max_output_bytes = 1, .backlog = 1 };
  return l;
}

/* Feeds data in pieces of step bytes; collects up to max requests. Returns the last feed result. */
static int feed_all(lp__http_parser *p, const char *data, size_t len, size_t step, lp_http_req **reqs,
                    int max, int *nreq) {
  int rc = LP__FEED_MORE;
  *nreq = 0;
  for (size_t off = 0; off < len;) {
    size_t n = len - off < step ? len - off : step;
    size_t pos = 0;
    while (pos < n) {
      size_t used;
      lp_http_req *r;
      rc = lp__http_parser_feed(p, data + off + pos, n - pos, &used, &r);
      pos += used;
      if (rc == LP__FEED_ERR || rc == LP__FEED_REQ) {
        cr_assert_lt(*nreq, max);
        if (r != NULL) reqs[(*nreq)++] = r;  /* on an error, the partial request to answer on */
      }
      if (rc == LP__FEED_ERR) return rc;
    }
    off += n;
  }
  return rc;
}

static void free_all(lp_http_req **reqs, int n) {
  for (int i = 0; i < n; i++) lp__http_req_free(reqs[i]);
}

static const char k_two[] =
    "POST /v1/snippets?x=1 HTTP/1.1\r\nHost: a\r\nContent-Type: Application/X-NDJSON ; charset=utf-8\r\n"
    "X-Long-Header-Name: value one\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    "GET /healthz HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n";

Test(http_parser, any_split_gives_the_same_requests) {
  lp_http_limits l = limits();
  for (size_t step = 1; step <= sizeof(k_two); step++) {
    lp__http_parser p;
    lp__http_parser_init(&p, &l);
    lp_http_req *reqs[4];
    int n;
    feed_all(&p, k_two, sizeof(k_two) - 1, step, reqs, 4, &n);
    cr_assert_eq(n, 2, "step %zu", step);
    lp_str path = lp_http_req_path(reqs[0]), q = lp_http_req_query(reqs[0]), b = lp_http_req_body(reqs[0]);
    cr_assert_eq(lp_http_req_method(reqs[0]), HTTP_POST);
    cr_assert_eq(path.len, 12);
    cr_assert(memcmp(path.ptr, "/v1/snippets", 12) == 0);
    cr_assert(q.len == 3 && memcmp(q.ptr, "x=1", 3) == 0);
    cr_assert(b.len == 5 && strcmp(b.ptr, "abcde") == 0, "step %zu", step);
    cr_assert_str_eq(lp_http_req_media_type(reqs[0]), "application/x-ndjson");
    lp_str h = lp_http_req_header(reqs[0], "x-long-header-name");
    cr_assert(h.len == 9 && memcmp(h.ptr, "value one", 9) == 0, "step %zu", step);
    cr_assert_null(lp_http_req_header(reqs[0], "missing").ptr);
    cr_assert_eq(reqs[0]->keep_alive, 1);
    cr_assert_eq(reqs[1]->keep_alive, 0);
    cr_assert_str_eq(lp_http_req_method_name(reqs[1]), "GET");
    cr_assert_str_eq(lp_http_req_media_type(reqs[1]), "");
    cr_assert(p.closed, "nothing is parsed after Connection: close");
    free_all(reqs, n);
    lp__http_parser_free(&p);
  }
}

Test(http_parser, absolute_form_target_gives_the_path) {
  lp_http_limits l = limits();
  lp__http_parser p;
  lp__http_parser_init(&p, &l);
  const char *in = "GET http://example.com/a/b?c HTTP/1.1\r\nHost: example.com\r\n\r\n";
  lp_http_req *reqs[1];
  int n;
  feed_all(&p, in, strlen(in), 1000, reqs, 1, &n);
  cr_assert_eq(n, 1);
  lp_str path = lp_http_req_path(reqs[0]);
  cr_assert(path.len == 4 && memcmp(path.ptr, "/a/b", 4) == 0);
  free_all(reqs, n);
  lp__http_parser_free(&p);
}

static void expect_err(const char *in, size_t step, int status, const char *code) {
  lp_http_limits l = limits();
  lp__http_parser p;
  lp__http_parser_init(&p, &l);
  lp_http_req *reqs[4];
  int n;
  size_t used;
  lp_http_req *r = NULL;
  int rc = feed_all(&p, in, strlen(in), step, reqs, 4, &n);
  cr_assert_eq(rc, LP__FEED_ERR, "%s", in);
  cr_assert_eq(p.err_status, status, "%s: %d %s", in, p.err_status, p.err_msg);
  cr_assert_str_eq(p.err_code, code);
  cr_assert(p.err_msg[0] != '\0');
  /* a closed parser ignores the rest */
  cr_assert_eq(lp__http_parser_feed(&p, "GET / HTTP/1.1\r\n\r\n", 18, &used, &r), LP__FEED_MORE);
  cr_assert_null(r);
  free_all(reqs, n);
  lp__http_parser_free(&p);
}

Test(http_parser, limits_and_errors) {
  char big[2048];
  snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX: %01500d\r\n\r\n", 0);
  for (size_t step = 1; step <= 4096; step *= 8) {
    expect_err(big, step, 431, "header_too_large");
    expect_err("POST / HTTP/1.1\r\nContent-Length: 65\r\n\r\n", step, 413, "payload_too_large");
    expect_err("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n"
               "0123456789012345678901234567890123456789012345678901234567890123\r\n1\r\nx\r\n0\r\n\r\n",
               step, 413, "payload_too_large");
    expect_err("PUT / HTTP/1.1\r\n\r\n", step, 411, "length_required");
    expect_err("GET / HTTP/2.0\r\n\r\n", step, 505, "http_version_not_supported");
    expect_err("\x01garbage\r\n\r\n", step, 400, "bad_request");
  }
}

Test(http_parser, body_of_exactly_the_limit_passes) {
  lp_http_limits l = limits();
  lp__http_parser p;
  lp__http_parser_init(&p, &l);
  char in[256];
  int len = snprintf(in, sizeof(in), "POST / HTTP/1.1\r\nContent-Length: 64\r\n\r\n%064d", 7);
  lp_http_req *reqs[1];
  int n;
  cr_assert_eq(feed_all(&p, in, (size_t)len, 5, reqs, 1, &n), LP__FEED_REQ);
  cr_assert_eq(n, 1);
  cr_assert_eq(lp_http_req_body(reqs[0]).len, 64);
  free_all(reqs, n);
  lp__http_parser_free(&p);
}

Test(http_parser, abort_returns_the_partial_request) {
  lp_http_limits l = limits();
  lp__http_parser p;
  lp__http_parser_init(&p, &l);
  size_t used;
  lp_http_req *r;
  cr_assert_eq(lp__http_parser_feed(&p, "HEAD /x HTTP/1.1\r\nHo", 20, &used, &r), LP__FEED_MORE);
  cr_assert_eq(p.phase, LP__HTTP_HEAD);
  r = lp__http_parser_abort(&p);
  cr_assert_not_null(r);
  cr_assert(p.closed);
  /* an unattached request is freed by its response */
  cr_assert_eq(lp_http_respond_error(r, 408, "request_timeout", "late"), LP_OK);
  lp__http_parser_free(&p);
}
