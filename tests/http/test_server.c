/* The HTTP server's normal behaviour: keep-alive, pipelining order, chunked bodies, HEAD, closing. */
#include "fixture.h"

Test(http_server, simple_get) {
  fx *f = fx_start(NULL);
  lpt_response r;
  cr_assert_eq(lpt_http(f->port, "GET", "/echo?a=1&b=2", NULL, NULL, 0, &r), 0);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(r.body, "GET /echo a=1&b=2|");
  char v[64];
  cr_assert_eq(lpt_header(&r, "Content-Type", v, sizeof(v)), 0);
  cr_assert_str_eq(v, "text/plain");
  cr_assert_eq(lpt_header(&r, "Content-Length", v, sizeof(v)), 0);
  cr_assert_str_eq(v, "18");
  lpt_response_free(&r);
  fx_stop(f);
  /* every response was observed */
}

Test(http_server, post_body_and_media_type) {
  fx *f = fx_start(NULL);
  lpt_response r;
  cr_assert_eq(lpt_http(f->port, "POST", "/echo", "Application/JSON; charset=utf-8", "{\"a\":1}", 7, &r), 0);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(r.body, "POST /echo |{\"a\":1}");
  char v[64];
  cr_assert_eq(lpt_header(&r, "X-Media-Type", v, sizeof(v)), 0);
  cr_assert_str_eq(v, "application/json");
  lpt_response_free(&r);
  fx_stop(f);
}

Test(http_server, keep_alive_two_requests_one_connection) {
  fx *f = fx_start(NULL);
  int fd = lpt_connect(f->port);
  const char *req = "GET /items/1 HTTP/1.1\r\nHost: x\r\n\r\n";
  for (int i = 0; i < 2; i++) {
    cr_assert_eq(lpt_send_all(fd, req, strlen(req)), 0);
    lpt_response r;
    cr_assert_eq(lpt_read_response(fd, &r, 5000), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, "item 1");
    char v[64];
    cr_assert_eq(lpt_header(&r, "Connection", v, sizeof(v)), 0);
    cr_assert_str_eq(v, "keep-alive");
    lpt_response_free(&r);
  }
  close(fd);
  cr_assert_eq(atomic_load(&f->observed), 2);
  fx_stop(f);
}

Test(http_server, pipelined_responses_leave_in_request_order) {
  fx *f = fx_start(NULL);
  int fd = lpt_connect(f->port);
  const char *reqs = "GET /delay/300 HTTP/1.1\r\nHost: x\r\n\r\n"
                     "GET /delay/20 HTTP/1.1\r\nHost: x\r\n\r\n"
                     "GET /echo?third HTTP/1.1\r\nHost: x\r\n\r\n";
  cr_assert_eq(lpt_send_all(fd, reqs, strlen(reqs)), 0);
  const char *want[] = { "delay 300", "delay 20", "GET /echo third|" };
  for (int i = 0; i < 3; i++) {
    lpt_response r;
    cr_assert_eq(lpt_read_response(fd, &r, 5000), 0);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(r.body, want[i]);
    lpt_response_free(&r);
  }
  close(fd);
  fx_stop(f);
}

Test(http_server, pipelining_past_max_pipelined_pauses_and_resumes) {
  lp_http_limits l = fx_default_limits();
  l.max_pipelined = 2;
  fx *f = fx_start(&l);
  int fd = lpt_connect(f->port);
  char reqs[2048] = "";
  for (int i = 0; i < 7; i++) {
    char one[128];
    snprintf(one, sizeof(one), "GET /delay/%d HTTP/1.1\r\nHost: x\r\n\r\n", (7 - i) * 10);
    strcat(reqs, one);
  }
  cr_assert_eq(lpt_send_all(fd, reqs, strlen(reqs)), 0);
  for (int i = 0; i < 7; i++) {
    lpt_response r;
    char want[64];
    snprintf(want, sizeof(want), "delay %d", (7 - i) * 10);
    cr_assert_eq(lpt_read_response(fd, &r, 5000), 0);
    cr_assert_str_eq(r.body, want);
    lpt_response_free(&r);
  }
  close(fd);
  fx_stop(f);
}

Test(http_server, chunked_request_body) {
  fx *f = fx_start(NULL);
  lpt_response r;
  int fd = fx_raw(f,
                  "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
                  &r);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(r.body, "POST /echo |hello world");
  lpt_response_free(&r);
  close(fd);
  fx_stop(f);
}

Test(http_server, head_on_a_get_route_has_length_but_no_body) {
  fx *f = fx_start(NULL);
  int fd = lpt_connect(f->port);
  const char *reqs = "HEAD /items/abc HTTP/1.1\r\nHost: x\r\n\r\nGET /items/def HTTP/1.1\r\nHost: x\r\n\r\n";
  cr_assert_eq(lpt_send_all(fd, reqs, strlen(reqs)), 0);
  char head[1024];
  cr_assert_eq(fx_read_head(fd, head, sizeof(head)), 0);
  cr_assert(strncmp(head, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", head);
  cr_assert(strstr(head, "Content-Length: 8\r\n") != NULL, "%s", head);  /* "item abc" */
  lpt_response r;
  cr_assert_eq(lpt_read_response(fd, &r, 5000), 0);
  cr_assert_str_eq(r.body, "item def", "the next response follows the HEAD head directly");
  lpt_response_free(&r);
  close(fd);
  fx_stop(f);
}

Test(http_server, connection_close_is_honoured) {
  fx *f = fx_start(NULL);
  lpt_response r;
  int fd = fx_raw(f, "GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /echo HTTP/1.1\r\n\r\n", &r);
  cr_assert_eq(r.status, 200);
  fx_assert_closes(&r, fd);
  lpt_response_free(&r);
  close(fd);
  cr_assert_eq(atomic_load(&f->observed), 1, "the request after Connection: close is not served");
  fx_stop(f);
}

Test(http_server, http10_closes_unless_keep_alive) {
  fx *f = fx_start(NULL);
  lpt_response r;
  int fd = fx_raw(f, "GET /echo HTTP/1.0\r\n\r\n", &r);
  cr_assert_eq(r.status, 200);
  fx_assert_closes(&r, fd);
  lpt_response_free(&r);
  close(fd);

  fd = fx_raw(f, "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &r);
  char v[64];
  cr_assert_eq(lpt_header(&r, "Connection", v, sizeof(v)), 0);
  cr_assert_str_eq(v, "keep-alive");
  lpt_response_free(&r);
  cr_assert_eq(lpt_send_all(fd, "GET /items/2 HTTP/1.0\r\n\r\n", 25), 0);
  cr_assert_eq(lpt_read_response(fd, &r, 5000), 0);
  cr_assert_str_eq(r.body, "item 2");
  lpt_response_free(&r);
  close(fd);
  fx_stop(f);
}

Test(http_server, client_gone_before_async_response) {
  fx *f = fx_start(NULL);
  int fd = lpt_connect(f->port);
  const char *req = "GET /delay/200 HTTP/1.1\r\nHost: x\r\n\r\n";
  cr_assert_eq(lpt_send_all(fd, req, strlen(req)), 0);
  close(fd);
  for (int i = 0; i < 500 && atomic_load(&f->dead_answers) == 0; i++) usleep(10000);
  cr_assert_eq(atomic_load(&f->dead_answers), 1, "the handler answered a request whose client left");
  fx_assert_serves(f);
  fx_stop(f);
}

Test(http_server, client_gone_then_server_closed_before_async_response) {
  fx *f = fx_start(NULL);
  int fd = lpt_connect(f->port);
  const char *req = "GET /delay/300 HTTP/1.1\r\nHost: x\r\n\r\n";
  cr_assert_eq(lpt_send_all(fd, req, strlen(req)), 0);
  usleep(50000);
  close(fd);
  usleep(50000);
  fx_request_stop(f, 1);  /* the request outlives its connection and the server */
  fx_join(f);
}

Test(http_server, graceful_close_answers_in_flight_requests) {
  fx *f = fx_start(NULL);
  int fd = lpt_connect(f->port);
  const char *req = "GET /delay/200 HTTP/1.1\r\nHost: x\r\n\r\n";
  cr_assert_eq(lpt_send_all(fd, req, strlen(req)), 0);
  int idle = lpt_connect(f->port);
  usleep(50000);
  fx_request_stop(f, 0);
  lpt_response r;
  cr_assert_eq(lpt_read_response(fd, &r, 5000), 0);
  cr_assert_str_eq(r.body, "delay 200");
  fx_assert_closes(&r, fd);
  lpt_response_free(&r);
  cr_assert_eq(fx_wait_eof(idle, 5000), 0, "idle connections are closed at once");
  close(fd);
  close(idle);
  fx_join(f);
}

Test(http_server, many_connections) {
  fx *f = fx_start(NULL);
  int fds[40];
  for (int i = 0; i < 40; i++) {
    fds[i] = lpt_connect(f->port);
    cr_assert_geq(fds[i], 0);
  }
  for (int i = 0; i < 40; i++) {
    char req[128];
    int n = snprintf(req, sizeof(req), "GET /items/%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
    cr_assert_eq(lpt_send_all(fds[i], req, (size_t)n), 0);
  }
  for (int i = 39; i >= 0; i--) {
    lpt_response r;
    char want[32];
    snprintf(want, sizeof(want), "item %d", i);
    cr_assert_eq(lpt_read_response(fds[i], &r, 5000), 0);
    cr_assert_str_eq(r.body, want);
    lpt_response_free(&r);
    close(fds[i]);
  }
  fx_stop(f);
}

Test(http_server, listen_rejects_bad_addresses) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  lp_http_limits l = fx_default_limits();
  lp_http_server *s;
  cr_assert_eq(lp_http_server_new(&s, &loop, &l, NULL, NULL, NULL), LP_EINVAL);
  l.max_pipelined = 0;
  cr_assert_eq(lp_http_server_new(&s, &loop, &l, fx_handler, NULL, NULL), LP_EINVAL);
  l = fx_default_limits();
  cr_assert_eq(lp_http_server_new(&s, &loop, &l, fx_handler, NULL, NULL), LP_OK);
  char err[256];
  cr_assert_eq(lp_http_server_listen(s, "nocolon", err, sizeof(err)), LP_EINVAL);
  cr_assert_eq(lp_http_server_listen(s, "127.0.0.1:99999", err, sizeof(err)), LP_EINVAL);
  cr_assert_eq(lp_http_server_listen(s, "not-an-ip:80", err, sizeof(err)), LP_EINVAL);
  cr_assert(strstr(err, "not-an-ip") != NULL, "%s", err);
  cr_assert_eq(lp_http_server_listen(s, "[::1]:0", err, sizeof(err)) == LP_OK ||
               lp_http_server_listen(s, "127.0.0.1:0", err, sizeof(err)) == LP_OK, 1);
  fx probe;
  memset(&probe, 0, sizeof(probe));
  lp_http_server_close(s, 1, fx_done, &probe);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(atomic_load(&probe.done), 1);
  cr_assert_eq(uv_loop_close(&loop), 0);
}

Test(http_server, expect_100_continue_is_answered) {
  fx *f = fx_start(NULL);
  int fd = lpt_connect(f->port);
  const char *head = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";
  cr_assert_eq(lpt_send_all(fd, head, strlen(head)), 0);
  char interim[256];
  cr_assert_eq(fx_read_head(fd, interim, sizeof(interim)), 0);
  cr_assert_str_eq(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  cr_assert_eq(lpt_send_all(fd, "hello", 5), 0);
  lpt_response r;
  cr_assert_eq(lpt_read_response(fd, &r, 5000), 0);
  cr_assert_eq(r.status, 200);
  cr_assert_str_eq(r.body, "POST /echo |hello");
  lpt_response_free(&r);
  close(fd);
  fx_stop(f);
}
