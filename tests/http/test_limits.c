/* Every limit and protocol error of the HTTP server: the right status and JSON error, the connection
 * closed, and the server still serving others afterwards. Each has a passing case beside it. */
#include "fixture.h"

static lp_http_limits small_limits(void) {
  lp_http_limits l = fx_default_limits();
  l.max_header_bytes = 1024;
  l.max_body_bytes = 1000;
  l.header_timeout_ms = 200;
  l.body_timeout_ms = 200;
  l.idle_timeout_ms = 300;
  l.write_timeout_ms = 300;
  return l;
}

static void expect_error(fx *f, const char *raw, int status, const char *code) {
  lpt_response r;
  int fd = fx_raw(f, raw, &r);
  fx_assert_error(&r, status, code);
  fx_assert_closes(&r, fd);
  lpt_response_free(&r);
  close(fd);
  fx_assert_serves(f);
}

Test(http_limits, header_block_over_the_limit_is_431) {
  lp_http_limits l = small_limits();
  fx *f = fx_start(&l);
  char raw[4096];
  char pad[2000];
  memset(pad, 'a', sizeof(pad) - 1);
  pad[sizeof(pad) - 1] = '\0';
  snprintf(raw, sizeof(raw), "GET /echo HTTP/1.1\r\nHost: x\r\nX-Pad: %s\r\n\r\n", pad);
  expect_error(f, raw, 431, "header_too_large");
  /* just under the limit passes */
  pad[800] = '\0';
  snprintf(raw, sizeof(raw), "GET /echo HTTP/1.1\r\nHost: x\r\nX-Pad: %s\r\n\r\n", pad);
  lpt_response r;
  int fd = fx_raw(f, raw, &r);
  cr_assert_eq(r.status, 200);
  lpt_response_free(&r);
  close(fd);
  fx_stop(f);
}

Test(http_limits, long_url_counts_as_header_bytes) {
  lp_http_limits l = small_limits();
  fx *f = fx_start(&l);
  char raw[4096] = "GET /echo?";
  size_t n = strlen(raw);
  memset(raw + n, 'q', 2000);
  strcpy(raw + n + 2000, " HTTP/1.1\r\nHost: x\r\n\r\n");
  expect_error(f, raw, 431, "header_too_large");
  fx_stop(f);
}

Test(http_limits, content_length_over_the_limit_is_413_before_the_body) {
  lp_http_limits l = small_limits();
  fx *f = fx_start(&l);
  expect_error(f, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n", 413, "payload_too_large");
  lpt_response r;
  char body[1000];
  memset(body, 'b', sizeof(body));
  cr_assert_eq(lpt_http(f->port, "POST", "/echo", "text/plain", body, sizeof(body), &r), 0);
  cr_assert_eq(r.status, 200, "a body of exactly the limit passes");
  lpt_response_free(&r);
  fx_stop(f);
}

Test(http_limits, chunked_body_over_the_limit_is_413) {
  lp_http_limits l = small_limits();
  fx *f = fx_start(&l);
  char raw[4096] = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; i++) {
    char chunk[512];
    memset(chunk, 'c', 400);
    chunk[400] = '\0';
    strcat(raw, "190\r\n");  /* 400 bytes */
    strcat(raw, chunk);
    strcat(raw, "\r\n");
  }
  strcat(raw, "0\r\n\r\n");
  expect_error(f, raw, 413, "payload_too_large");
  fx_stop(f);
}

Test(http_limits, slow_headers_are_408) {
  lp_http_limits l = small_limits();
  fx *f = fx_start(&l);
  expect_error(f, "GET /echo HTTP/1.1\r\nHost: x\r\n", 408, "request_timeout");
  fx_stop(f);
}

Test(http_limits, slow_body_is_408) {
  lp_http_limits l = small_limits();
  fx *f = fx_start(&l);
  expect_error(f, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc", 408, "request_timeout");
  fx_stop(f);
}

Test(http_limits, idle_keep_alive_connection_is_closed) {
  lp_http_limits l = small_limits();
  fx *f = fx_start(&l);
  lpt_response r;
  int fd = fx_raw(f, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n", &r);
  cr_assert_eq(r.status, 200);
  lpt_response_free(&r);
  cr_assert_eq(fx_wait_eof(fd, 5000), 0, "closed after the idle time-out, without a response");
  close(fd);
  int silent = lpt_connect(f->port);
  cr_assert_eq(fx_wait_eof(silent, 5000), 0, "a connection that never sends is closed too");
  close(silent);
  fx_assert_serves(f);
  fx_stop(f);
}

Test(http_limits, over_the_connection_cap_is_503) {
  lp_http_limits l = fx_default_limits();
  l.max_connections = 2;
  fx *f = fx_start(&l);
  int a = lpt_connect(f->port), b = lpt_connect(f->port);
  lpt_response r;
  const char *req = "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n";
  cr_assert_eq(lpt_send_all(a, req, strlen(req)), 0);
  cr_assert_eq(lpt_read_response(a, &r, 5000), 0);
  lpt_response_free(&r);
  cr_assert_eq(lpt_send_all(b, req, strlen(req)), 0);
  cr_assert_eq(lpt_read_response(b, &r, 5000), 0);
  lpt_response_free(&r);
  int c = fx_raw(f, req, &r);
  fx_assert_error(&r, 503, "overloaded");
  fx_assert_closes(&r, c);
  lpt_response_free(&r);
  close(c);
  close(a);
  close(b);
  /* once the others are gone, a new connection is served */
  int ok = 0;
  for (int i = 0; i < 100 && !ok; i++) {
    int fd = fx_raw(f, req, &r);
    ok = r.status == 200;
    lpt_response_free(&r);
    close(fd);
    if (!ok) usleep(20000);
  }
  cr_assert(ok);
  fx_stop(f);
}

Test(http_limits, post_without_length_is_411) {
  fx *f = fx_start(NULL);
  expect_error(f, "POST /echo HTTP/1.1\r\nHost: x\r\n\r\n", 411, "length_required");
  expect_error(f, "PUT /echo HTTP/1.1\r\nHost: x\r\n\r\n", 411, "length_required");
  lpt_response r;
  int fd = fx_raw(f, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", &r);
  cr_assert_eq(r.status, 200);
  lpt_response_free(&r);
  close(fd);
  fx_stop(f);
}

Test(http_limits, garbage_is_400_with_the_parser_reason) {
  fx *f = fx_start(NULL);
  expect_error(f, "\x01\x02 garbage\r\n\r\n", 400, "bad_request");
  expect_error(f, "GET /echo HTTP/1.1\r\nBad Header\r\n\r\n", 400, "bad_request");
  expect_error(f, "POST /echo HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 400, "bad_request");
  fx_stop(f);
}

Test(http_limits, not_http1_is_505) {
  fx *f = fx_start(NULL);
  expect_error(f, "GET /echo HTTP/2.0\r\nHost: x\r\n\r\n", 505, "http_version_not_supported");
  expect_error(f, "GET /echo HTTP/0.9\r\nHost: x\r\n\r\n", 505, "http_version_not_supported");
  fx_stop(f);
}

Test(http_limits, error_after_good_pipelined_requests_keeps_order) {
  lp_http_limits l = small_limits();
  fx *f = fx_start(&l);
  int fd = lpt_connect(f->port);
  const char *reqs = "GET /delay/100 HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nHost: x\r\n\r\n";
  cr_assert_eq(lpt_send_all(fd, reqs, strlen(reqs)), 0);
  lpt_response r;
  cr_assert_eq(lpt_read_response(fd, &r, 5000), 0);
  cr_assert_str_eq(r.body, "delay 100");
  lpt_response_free(&r);
  cr_assert_eq(lpt_read_response(fd, &r, 5000), 0);
  fx_assert_error(&r, 411, "length_required");
  fx_assert_closes(&r, fd);
  lpt_response_free(&r);
  close(fd);
  fx_stop(f);
}

Test(http_limits, client_that_does_not_read_is_closed) {
  lp_http_limits l = small_limits();
  l.max_output_bytes = 65536;
  fx *f = fx_start(&l);
  int fd = lpt_connect(f->port);
  char reqs[4096] = "";
  for (int i = 0; i < 16; i++) strcat(reqs, "GET /big/4000000 HTTP/1.1\r\nHost: x\r\n\r\n");
  cr_assert_eq(lpt_send_all(fd, reqs, strlen(reqs)), 0);
  usleep(1000000);  /* longer than write_timeout_ms: the server gives up on this client */
  size_t total = 0;
  char buf[65536];
  for (;;) {
    struct pollfd p = { .fd = fd, .events = POLLIN };
    cr_assert_gt(poll(&p, 1, 10000), 0, "the connection ends");
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    total += (size_t)n;
  }
  cr_assert_lt(total, (size_t)16 * 4000000, "closed before every response was read (%zu bytes)", total);
  close(fd);
  fx_assert_serves(f);
  fx_stop(f);
}
