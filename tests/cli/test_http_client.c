/*
 * test_http_client.c: the CLI's HTTP client: URL parsing, response framings, Retry-After, keep-alive and
 * reconnects, time-outs and malformed answers.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include "cli/http_client.h"
#include "cli/mock_server.h"
#include "helpers/helpers.h"

Test(cli_http_client, url_parse) {
  lp_http_url u;
  char err[256];
  cr_assert_eq(lp_http_url_parse("http://127.0.0.1:8080", &u, err, sizeof(err)), 0);
  cr_assert_str_eq(u.host, "127.0.0.1");
  cr_assert_eq(u.port, 8080);
  cr_assert_str_eq(u.path, "");
  cr_assert_eq(lp_http_url_parse("HTTP://localhost/base/", &u, err, sizeof(err)), 0);
  cr_assert_str_eq(u.host, "localhost");
  cr_assert_eq(u.port, 80);
  cr_assert_str_eq(u.path, "/base");
  const char *bad[] = { "https://x", "127.0.0.1:80", "http://", "http://h:0", "http://h:70000", "http://h:8x",
                        "http://h/p?q=1", "http://h#f" };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    err[0] = '\0';
    cr_assert_eq(lp_http_url_parse(bad[i], &u, err, sizeof(err)), LP_EINVAL, "%s", bad[i]);
    cr_assert(strlen(err) > 0, "%s says why", bad[i]);
  }
}

Test(cli_http_client, framings_keep_alive_and_headers) {
  static const mock_step steps[] = {
    { 200, "Retry-After: 3\r\n", "{\"a\": 1}", MOCK_LENGTH, 0 },
    { 201, NULL, "chunked body of some length", MOCK_CHUNKED, 0 },
    { 204, NULL, "", MOCK_LENGTH, 0 },
    { 200, NULL, "until close", MOCK_UNTIL_CLOSE, 0 },
    { 503, "Retry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n", "x", MOCK_LENGTH, 0 },
  };
  mock_server m;
  cr_assert_eq(mock_start(&m, steps, 5), 0);
  char url[64], err[256];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/api", m.port);
  lp_http_client *c;
  cr_assert_eq(lp_http_client_new(&c, url, 5000, err, sizeof(err)), 0, "%s", err);
  lp_http_response res;
  cr_assert_eq(lp_http_client_request(c, "POST", "/x", "application/json", "{}", 2, &res, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(res.status, 200);
  cr_assert_str_eq(res.body, "{\"a\": 1}");
  cr_assert_eq(res.retry_after_ms, 3000);
  cr_assert_str_eq(res.content_type, "application/json");
  lp_http_response_free(&res);
  cr_assert_eq(lp_http_client_request(c, "GET", "/y", NULL, NULL, 0, &res, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(res.status, 201);
  cr_assert_str_eq(res.body, "chunked body of some length");
  cr_assert_eq(res.retry_after_ms, -1);
  lp_http_response_free(&res);
  cr_assert_eq(lp_http_client_request(c, "GET", "/z", NULL, NULL, 0, &res, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(res.status, 204);
  cr_assert_eq(res.body_len, 0);
  lp_http_response_free(&res);
  cr_assert_eq(lp_http_client_request(c, "GET", "/w", NULL, NULL, 0, &res, err, sizeof(err)), 0, "%s", err);
  cr_assert_str_eq(res.body, "until close");
  lp_http_response_free(&res);
  cr_assert_eq(lp_http_client_request(c, "GET", "/v", NULL, NULL, 0, &res, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(res.status, 503);
  cr_assert_eq(res.retry_after_ms, 0, "a date in the past means now");
  char msg[128];
  cr_assert_str_eq(lp_http_response_error(&res, msg, sizeof(msg)), "503 x");
  lp_http_response_free(&res);
  lp_http_client_free(c);
  mock_stop(&m);
  cr_assert_eq(m.nreq, 5);
  cr_assert_eq(m.conns, 2, "kept alive until the close-delimited answer");
  cr_assert_str_eq(m.reqs[0].path, "/api/x");
  cr_assert_str_eq(m.reqs[0].body, "{}");
  mock_free(&m);
}

Test(cli_http_client, timeout_is_an_error) {
  static const mock_step steps[] = { { 0, NULL, NULL, MOCK_HANG, 0 } };
  mock_server m;
  cr_assert_eq(mock_start(&m, steps, 1), 0);
  char url[64], err[256];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d", m.port);
  lp_http_client *c;
  cr_assert_eq(lp_http_client_new(&c, url, 200, err, sizeof(err)), 0);
  lp_http_response res;
  cr_assert_eq(lp_http_client_request(c, "GET", "/", NULL, NULL, 0, &res, err, sizeof(err)), LP_EIO);
  cr_assert(strstr(err, "timed out"), "%s", err);
  lp_http_response_free(&res);
  lp_http_client_free(c);
  mock_stop(&m);
  mock_free(&m);
}

Test(cli_http_client, malformed_response_is_an_error) {
  static const mock_step steps[] = { { 0, NULL, NULL, MOCK_GARBAGE, 0 } };
  mock_server m;
  cr_assert_eq(mock_start(&m, steps, 1), 0);
  char url[64], err[256];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d", m.port);
  lp_http_client *c;
  cr_assert_eq(lp_http_client_new(&c, url, 2000, err, sizeof(err)), 0);
  lp_http_response res;
  cr_assert_eq(lp_http_client_request(c, "GET", "/", NULL, NULL, 0, &res, err, sizeof(err)), LP_EIO);
  cr_assert(strstr(err, "bad response"), "%s", err);
  lp_http_response_free(&res);
  lp_http_client_free(c);
  mock_stop(&m);
  mock_free(&m);
}

Test(cli_http_client, bad_arguments) {
  lp_http_client *c;
  char err[256];
  cr_assert_eq(lp_http_client_new(&c, "http://127.0.0.1:1", 0, err, sizeof(err)), LP_EINVAL);
  cr_assert_null(c);
  cr_assert_eq(lp_http_client_new(&c, "http://127.0.0.1:1", 100, err, sizeof(err)), 0);
  lp_http_response res;
  cr_assert_eq(lp_http_client_request(c, "GET", "no-slash", NULL, NULL, 0, &res, err, sizeof(err)), LP_EINVAL);
  cr_assert_eq(lp_http_client_request(c, "GET", "/a b", NULL, NULL, 0, &res, err, sizeof(err)), LP_EINVAL);
  lp_http_client_free(c);
  char url[64];
  snprintf(url, sizeof(url), "http://localhost:%d", lpt_free_port());
  cr_assert_eq(lp_http_client_new(&c, url, 1000, err, sizeof(err)), 0);
  cr_assert_eq(lp_http_client_request(c, "GET", "/", NULL, NULL, 0, &res, err, sizeof(err)), LP_EIO);
  cr_assert(strstr(err, "connect to localhost:"), "%s", err);
  lp_http_client_free(c);
}

Test(cli_http_client, retry_policy_honours_retry_after_and_is_bounded) {
  static const mock_step steps[] = {
    { 429, "Retry-After: 0\r\n", "{}", MOCK_LENGTH, 0 },
    { 429, NULL, "{}", MOCK_LENGTH, 0 },
    { 429, "Retry-After: 0\r\n", "{}", MOCK_LENGTH, 0 },
  };
  mock_server m;
  cr_assert_eq(mock_start(&m, steps, 3), 0);
  char url[64], err[256];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d", m.port);
  lp_http_client *c;
  cr_assert_eq(lp_http_client_new(&c, url, 2000, err, sizeof(err)), 0);
  lp_http_retry policy = { 3, 10, 100, NULL, NULL };
  lp_http_response res;
  cr_assert_eq(lp_http_client_request_retry(c, &policy, "POST", "/", NULL, "x", 1, &res, err, sizeof(err)), 0);
  cr_assert_eq(res.status, 429, "the last answer is returned");
  lp_http_response_free(&res);
  lp_http_client_free(c);
  mock_stop(&m);
  cr_assert_eq(m.nreq, 3);
  mock_free(&m);
}
