/* The router: exact and "{param}" patterns, 404 and 405 with Allow, HEAD on GET routes. */
#include "fixture.h"

static void keep_open_request(fx *f, const char *method, const char *path, lpt_response *r) {
  int fd = lpt_connect(f->port);
  char req[512];
  int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", method, path);
  cr_assert_eq(lpt_send_all(fd, req, (size_t)n), 0);
  cr_assert_eq(lpt_read_response(fd, r, 5000), 0);
  /* a 404/405 is not a protocol error: the connection stays usable */
  const char *next = "GET /items/z HTTP/1.1\r\nHost: x\r\n\r\n";
  cr_assert_eq(lpt_send_all(fd, next, strlen(next)), 0);
  lpt_response r2;
  cr_assert_eq(lpt_read_response(fd, &r2, 5000), 0);
  cr_assert_str_eq(r2.body, "item z");
  lpt_response_free(&r2);
  close(fd);
}

Test(http_router, param_segment_is_passed) {
  fx *f = fx_start(NULL);
  lpt_response r;
  cr_assert_eq(lpt_http(f->port, "GET", "/items/acme.com?x=1", NULL, NULL, 0, &r), 0);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(r.body, "item acme.com");
  lpt_response_free(&r);
  cr_assert_eq(lpt_http(f->port, "DELETE", "/items/7", NULL, NULL, 0, &r), 0);
  cr_assert_str_eq(r.body, "item 7");
  lpt_response_free(&r);
  fx_stop(f);
}

Test(http_router, unknown_path_is_404_json) {
  fx *f = fx_start(NULL);
  lpt_response r;
  keep_open_request(f, "GET", "/nope", &r);
  fx_assert_error(&r, 404, "not_found");
  lpt_response_free(&r);
  /* a param segment must be non-empty and hold no '/' */
  keep_open_request(f, "GET", "/items/", &r);
  fx_assert_error(&r, 404, "not_found");
  lpt_response_free(&r);
  keep_open_request(f, "GET", "/items/a/b", &r);
  fx_assert_error(&r, 404, "not_found");
  lpt_response_free(&r);
  /* exact patterns match exactly */
  keep_open_request(f, "GET", "/echo/more", &r);
  fx_assert_error(&r, 404, "not_found");
  lpt_response_free(&r);
  fx_stop(f);
}

Test(http_router, wrong_method_is_405_with_allow) {
  fx *f = fx_start(NULL);
  lpt_response r;
  keep_open_request(f, "POST", "/items/1", &r);
  fx_assert_error(&r, 405, "method_not_allowed");
  char v[128];
  cr_assert_eq(lpt_header(&r, "Allow", v, sizeof(v)), 0);
  cr_assert_str_eq(v, "GET, HEAD, DELETE");
  lpt_response_free(&r);
  keep_open_request(f, "DELETE", "/echo", &r);
  fx_assert_error(&r, 405, "method_not_allowed");
  cr_assert_eq(lpt_header(&r, "Allow", v, sizeof(v)), 0);
  cr_assert_str_eq(v, "GET, HEAD, POST, PUT");
  lpt_response_free(&r);
  fx_stop(f);
}

Test(http_router, head_uses_the_get_route) {
  fx *f = fx_start(NULL);
  int fd = lpt_connect(f->port);
  const char *req = "HEAD /echo HTTP/1.1\r\nHost: x\r\n\r\n";
  cr_assert_eq(lpt_send_all(fd, req, strlen(req)), 0);
  char head[1024];
  cr_assert_eq(fx_read_head(fd, head, sizeof(head)), 0);
  cr_assert(strncmp(head, "HTTP/1.1 200 OK", 15) == 0, "%s", head);
  cr_assert(strstr(head, "Content-Length: 12\r\n") != NULL, "%s", head);  /* "HEAD /echo |" */
  close(fd);
  fx_stop(f);
}
