/*
 * test_keepalive_stall.c: a few thousand queries over keep-alive connections, each answered within a
 * generous time-out. A query whose worker message was stranded in a ring (a lost uv_async wake-up,
 * core/worker/worker.c ring_wake) was answered only when another request woke the rings again: here every
 * connection waits for its answer before the next request, and the connections take turns, so a stranded
 * query shows as a response that does not come within the time-out. The race is rare (about one query in
 * thousands on a loaded machine): tests/worker/test_wake.c provokes it far more often; this one checks the
 * whole path (HTTP keep-alive, admission, scatter to the workers, gather, answer) stays live.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "helpers/helpers.h"

#define CONNS 4
#define QUERIES 2000
#define ANSWER_MS 10000  /* a query takes milliseconds: this only detects a hang */

static lpt_server srv;

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void ingest(void) {
  char body[16384];
  size_t len = (size_t)snprintf(body, sizeof(body), "[");
  for (int j = 0; j < 40; j++)
    len += (size_t)snprintf(body + len, sizeof(body) - len,
                            "%s{\"id\":\"s%d\",\"miner\":\"m%d\",\"ts\":%lld,\"lead\":{\"domain\":\"co%d.example.com\","
                            "\"country\":\"US\"},\"kind\":\"hiring\",\"text\":\"hiring engineers to move billing to "
                            "kubernetes and needs payroll software\"}",
                            j ? "," : "", j, j % 5, now_ms() - (long long)j * 3600000LL, j);
  snprintf(body + len, sizeof(body) - len, "]");
  lpt_response r;
  cr_assert_eq(lpt_http(srv.port, "POST", "/v1/snippets", "application/json", body, strlen(body), &r), 0);
  cr_assert_eq(r.status, 202, "%s", r.body);
  lpt_response_free(&r);
}

static void start(void) {
  const char *env[] = { "LEADPOET_KAFKA_MODE=off", "LEADPOET_SERVER_WORKERS=2", NULL };
  cr_assert_eq(lpt_server_start(&srv, NULL, env), 0);
  ingest();
}

static void stop(void) { cr_assert_eq(lpt_server_stop(&srv), 0); }

Test(server_keepalive_stall, every_query_on_keep_alive_connections_is_answered, .init = start, .fini = stop,
     .timeout = 600) {
  static const char body[] = "{\"prompt\":\"payroll software for engineering teams\",\"k\":10,\"explain\":false}";
  char req[512];
  int rl = snprintf(req, sizeof(req), "POST /v1/leads HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                    "Content-Length: %zu\r\n\r\n%s", strlen(body), body);
  int fds[CONNS];
  for (int c = 0; c < CONNS; c++) cr_assert_geq(fds[c] = lpt_connect(srv.port), 0);
  int answered = 0, ok = 0;
  for (int i = 0; i < QUERIES; i++) {
    int fd = fds[i % CONNS];
    cr_assert_eq(lpt_send_all(fd, req, (size_t)rl), 0, "query %d: the connection closed", i);
    lpt_response r;
    if (lpt_read_response(fd, &r, ANSWER_MS) != 0)
      cr_assert_fail("query %d (connection %d) got no answer within %d ms: stalled after %d answers", i, i % CONNS,
                     ANSWER_MS, answered);
    answered++;
    ok += r.status == 200;
    lpt_response_free(&r);
  }
  for (int c = 0; c < CONNS; c++) close(fds[c]);
  cr_assert_eq(answered, QUERIES);
  cr_assert_eq(ok, QUERIES, "every query is admitted and answered 200 (one at a time: nothing to shed)");
}
