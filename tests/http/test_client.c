/*
 * test_client.c: the core's asynchronous HTTP/1.1 client (core/http/client.h) against a scripted server on
 * loopback: URL parsing, every response framing, headers, the deadline, the size bound, malformed answers,
 * refused connections, bad arguments and cancellation.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include "cli/mock_server.h"
#include "http/client.h"
#include "leadpoet/common.h"

typedef struct got {
  int calls, err, status;
  char why[128];
  char body[4096];
  size_t body_len;
  char header[128];
  int header_rc;
} got;

static void on_done(void *ud, int err, const char *why, const lp_httpc_res *res) {
  got *g = ud;
  g->calls++;
  g->err = err;
  snprintf(g->why, sizeof(g->why), "%s", why != NULL ? why : "");
  if (res != NULL) {
    g->status = res->status;
    g->body_len = res->body_len < sizeof(g->body) - 1 ? res->body_len : sizeof(g->body) - 1;
    memcpy(g->body, res->body, g->body_len);
    g->body[g->body_len] = '\0';
    g->header_rc = lp_httpc_header(res, "x-test", g->header, sizeof(g->header));
  }
}

/* Runs one request to the mock on a fresh loop until the client is done and its handles are closed. */
static int run_one(int port, const char *method, const char *path, const char *body, uint64_t timeout_ms,
                   size_t max_response, got *g) {
  char url[96], err[256];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
  lp_httpc_url u;
  cr_assert_eq(lp_httpc_url_parse(url, &u, err, sizeof(err)), LP_OK, "%s", err);
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  memset(g, 0, sizeof(*g));
  lp_httpc_req r = { method, &u, NULL, body != NULL ? "application/json" : NULL, "X-Extra: 1\r\n", body,
                     body != NULL ? strlen(body) : 0, timeout_ms, max_response, NULL };
  int rc = lp_httpc_request(&loop, &r, on_done, g, NULL);
  cr_assert_eq(g->calls, 0, "never called from inside lp_httpc_request");
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(uv_loop_close(&loop), 0, "every handle closed");
  return rc;
}

Test(http_client, url_parse) {
  lp_httpc_url u;
  char err[256];
  cr_assert_eq(lp_httpc_url_parse("http://127.0.0.1:8080", &u, err, sizeof(err)), LP_OK);
  cr_assert_str_eq(u.host, "127.0.0.1");
  cr_assert_str_eq(u.port, "8080");
  cr_assert_str_eq(u.path, "");
  cr_assert_eq(lp_httpc_url_parse("HTTP://example.com/hook/?a=1#frag", &u, err, sizeof(err)), LP_OK);
  cr_assert_str_eq(u.host, "example.com");
  cr_assert_str_eq(u.port, "80");
  cr_assert_str_eq(u.path, "/hook/?a=1");
  cr_assert_eq(lp_httpc_url_parse("http://[::1]:9/x", &u, err, sizeof(err)), LP_OK);
  cr_assert_str_eq(u.host, "::1");
  cr_assert_str_eq(u.port, "9");
  cr_assert_eq(lp_httpc_url_parse("http://h?q=1", &u, err, sizeof(err)), LP_OK);
  cr_assert_str_eq(u.path, "/?q=1");
  err[0] = '\0';
  cr_assert_eq(lp_httpc_url_parse("https://x.com/", &u, err, sizeof(err)), LP_EINVAL);
  cr_assert(strstr(err, "proxy") != NULL, "names the egress proxy: %s", err);
  const char *bad[] = { "ftp://x", "x.com", "http://", "http://:80/", "http://h:0", "http://h:70000", "http://h:8x",
                        "http://[::1", "http://[::1]x", "http://u@h/", "http://h/a b", NULL };
  for (int i = 0; bad[i] != NULL; i++) {
    err[0] = '\0';
    cr_assert_eq(lp_httpc_url_parse(bad[i], &u, err, sizeof(err)), LP_EINVAL, "%s", bad[i]);
    cr_assert(strlen(err) > 0, "%s says why", bad[i]);
  }
  cr_assert_eq(lp_httpc_url_parse(NULL, &u, err, sizeof(err)), LP_EINVAL);
}

Test(http_client, parse_and_headers) {
  char ok[] = "HTTP/1.1 201 Created\r\nX-Test:  v1 \r\nContent-Length: 2\r\n\r\nhi";
  lp_httpc_res res;
  cr_assert_eq(lp_httpc_parse(ok, strlen(ok), 0, &res), 1);
  cr_assert_eq(res.status, 201);
  cr_assert_eq(res.body_len, 2);
  char v[8];
  cr_assert_eq(lp_httpc_header(&res, "x-TEST", v, sizeof(v)), 2);
  cr_assert_str_eq(v, "v1");
  cr_assert_eq(lp_httpc_header(&res, "X-Missing", v, sizeof(v)), LP_ENOENT);
  cr_assert_eq(lp_httpc_header(&res, "Content-Length", v, 1), LP_ERANGE);
  char part[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab";
  cr_assert_eq(lp_httpc_parse(part, strlen(part), 0, &res), 0, "needs more");
  cr_assert_eq(lp_httpc_parse(part, strlen(part), 1, &res), LP_EINVAL, "cut short by the close");
  char chunked[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=1\r\nde\r\n0\r\n\r\n";
  cr_assert_eq(lp_httpc_parse(chunked, strlen(chunked), 0, &res), 1);
  cr_assert_eq(res.body_len, 5);
  cr_assert_eq(memcmp(res.body, "abcde", 5), 0);
  char badchunk[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
  cr_assert_eq(lp_httpc_parse(badchunk, strlen(badchunk), 0, &res), LP_EINVAL);
  char badstatus[] = "HTTP/1.1 2x0 OK\r\n\r\n";
  cr_assert_eq(lp_httpc_parse(badstatus, strlen(badstatus), 0, &res), LP_EINVAL);
  char badlen[] = "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n";
  cr_assert_eq(lp_httpc_parse(badlen, strlen(badlen), 0, &res), LP_EINVAL);
  char nocontent[] = "HTTP/1.1 204 No Content\r\n\r\n";
  cr_assert_eq(lp_httpc_parse(nocontent, strlen(nocontent), 0, &res), 1);
  cr_assert_eq(res.body_len, 0);
}

Test(http_client, framings_methods_and_headers) {
  static const mock_step steps[] = {
    { 200, "X-Test: yes\r\n", "{\"a\": 1}", MOCK_LENGTH, 0 },
    { 201, NULL, "chunked body of some length", MOCK_CHUNKED, 0 },
    { 204, NULL, "", MOCK_LENGTH, 0 },
    { 200, NULL, "until close", MOCK_UNTIL_CLOSE, 0 },
    { 503, NULL, "down", MOCK_LENGTH, 0 },
  };
  mock_server m;
  cr_assert_eq(mock_start(&m, steps, 5), 0);
  got g;
  cr_assert_eq(run_one(m.port, "POST", "/hook?x=1", "{\"k\":2}", 5000, 1 << 16, &g), LP_OK);
  cr_assert_eq(g.calls, 1);
  cr_assert_eq(g.err, LP_OK, "%s", g.why);
  cr_assert_eq(g.status, 200);
  cr_assert_str_eq(g.body, "{\"a\": 1}");
  cr_assert_str_eq(g.header, "yes");
  cr_assert_eq(run_one(m.port, "GET", "/c", NULL, 5000, 1 << 16, &g), LP_OK);
  cr_assert_eq(g.status, 201);
  cr_assert_str_eq(g.body, "chunked body of some length");
  cr_assert_eq(g.header_rc, LP_ENOENT);
  cr_assert_eq(run_one(m.port, "DELETE", "/d", NULL, 5000, 1 << 16, &g), LP_OK);
  cr_assert_eq(g.status, 204);
  cr_assert_eq(g.body_len, 0);
  cr_assert_eq(run_one(m.port, "PUT", "", "{}", 5000, 1 << 16, &g), LP_OK);
  cr_assert_str_eq(g.body, "until close");
  cr_assert_eq(run_one(m.port, "POST", "/e", "{}", 5000, 1 << 16, &g), LP_OK);
  cr_assert_eq(g.err, LP_OK, "a 503 is a response");
  cr_assert_eq(g.status, 503);
  mock_stop(&m);
  cr_assert_eq(m.nreq, 5);
  cr_assert_eq(m.conns, 5, "one connection per request");
  cr_assert_str_eq(m.reqs[0].method, "POST");
  cr_assert_str_eq(m.reqs[0].path, "/hook?x=1");
  cr_assert_str_eq(m.reqs[0].ctype, "application/json");
  cr_assert_str_eq(m.reqs[0].body, "{\"k\":2}");
  cr_assert_str_eq(m.reqs[1].method, "GET");
  cr_assert_str_eq(m.reqs[2].method, "DELETE");
  cr_assert_str_eq(m.reqs[3].path, "/", "an empty path is sent as /");
  mock_free(&m);
}

Test(http_client, deadline_bound_and_garbage) {
  static const mock_step steps[] = {
    { 0, NULL, NULL, MOCK_HANG, 0 },
    { 200, NULL, "0123456789012345678901234567890123456789012345678901234567890123456789", MOCK_LENGTH, 0 },
    { 0, NULL, NULL, MOCK_GARBAGE, 0 },
  };
  mock_server m;
  cr_assert_eq(mock_start(&m, steps, 3), 0);
  got g;
  cr_assert_eq(run_one(m.port, "POST", "/", "{}", 200, 1 << 16, &g), LP_OK);
  cr_assert_eq(g.calls, 1);
  cr_assert_eq(g.err, LP_EIO);
  cr_assert_str_eq(g.why, "timed out");
  cr_assert_eq(run_one(m.port, "GET", "/", NULL, 5000, 64, &g), LP_OK);
  cr_assert_eq(g.err, LP_ENOMEM, "over the bound: %s", g.why);
  cr_assert_eq(run_one(m.port, "GET", "/", NULL, 5000, 1 << 16, &g), LP_OK);
  cr_assert_eq(g.err, LP_EIO);
  mock_stop(&m);
  mock_free(&m);
}

Test(http_client, refused_and_bad_arguments) {
  mock_server m;
  cr_assert_eq(mock_start(&m, NULL, 0), 0);
  int port = m.port;
  mock_stop(&m);
  mock_free(&m);
  got g;
  cr_assert_eq(run_one(port, "GET", "/", NULL, 2000, 1024, &g), LP_OK);
  cr_assert_eq(g.calls, 1);
  cr_assert_eq(g.err, LP_EIO);
  cr_assert(strlen(g.why) > 0);
  lp_httpc_url u;
  char err[128];
  cr_assert_eq(lp_httpc_url_parse("http://127.0.0.1:1/", &u, err, sizeof(err)), LP_OK);
  uv_loop_t loop;
  uv_loop_init(&loop);
  const char *methods[] = { "", "get", "PO ST", "ABCDEFGHIJKLMNOPQ", NULL };
  for (int i = 0; methods[i] != NULL; i++) {
    lp_httpc_req r = { methods[i], &u, NULL, NULL, NULL, NULL, 0, 1000, 1024, NULL };
    cr_assert_eq(lp_httpc_request(&loop, &r, on_done, &g, NULL), LP_EINVAL, "method \"%s\"", methods[i]);
  }
  lp_httpc_req no_deadline = { "GET", &u, NULL, NULL, NULL, NULL, 0, 0, 1024, NULL };
  cr_assert_eq(lp_httpc_request(&loop, &no_deadline, on_done, &g, NULL), LP_EINVAL);
  lp_httpc_req no_bound = { "GET", &u, NULL, NULL, NULL, NULL, 0, 1000, 0, NULL };
  cr_assert_eq(lp_httpc_request(&loop, &no_bound, on_done, &g, NULL), LP_EINVAL);
  lp_httpc_req null_body = { "POST", &u, NULL, NULL, NULL, NULL, 5, 1000, 1024, NULL };
  cr_assert_eq(lp_httpc_request(&loop, &null_body, on_done, &g, NULL), LP_EINVAL);
  static char huge[5000];
  memset(huge, 'a', sizeof(huge) - 3);
  memcpy(huge + sizeof(huge) - 3, "\r\n", 3);
  lp_httpc_req long_head = { "GET", &u, NULL, NULL, huge, NULL, 0, 1000, 1024, NULL };
  cr_assert_eq(lp_httpc_request(&loop, &long_head, on_done, &g, NULL), LP_EINVAL);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(uv_loop_close(&loop), 0);
}

Test(http_client, cancel_never_calls_back) {
  static const mock_step steps[] = { { 0, NULL, NULL, MOCK_HANG, 0 } };
  mock_server m;
  cr_assert_eq(mock_start(&m, steps, 1), 0);
  char url[64], err[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/", m.port);
  lp_httpc_url u;
  cr_assert_eq(lp_httpc_url_parse(url, &u, err, sizeof(err)), LP_OK);
  uv_loop_t loop;
  uv_loop_init(&loop);
  got g;
  memset(&g, 0, sizeof(g));
  lp_httpc_req r = { "POST", &u, NULL, "text/plain", NULL, "x", 1, 10000, 1024, NULL };
  lp_httpc *c = NULL;
  cr_assert_eq(lp_httpc_request(&loop, &r, on_done, &g, &c), LP_OK);
  cr_assert_not_null(c);
  uv_run(&loop, UV_RUN_NOWAIT);
  lp_httpc_cancel(c);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(g.calls, 0);
  cr_assert_eq(uv_loop_close(&loop), 0);
  mock_stop(&m);
  mock_free(&m);
}
