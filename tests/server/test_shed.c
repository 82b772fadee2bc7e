/* Admission control (core/server/shed.c): the state machine on a test clock, then the real binary flooded
 * with concurrent queries: some answer 503 overloaded with Retry-After, every admitted one is answered, and
 * leadpoet_queries_shed_total counts the shed ones. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "helpers/helpers.h"
#include "server/shed.h"

#define MS 1000000ull

/* ---- the rules, on a test clock -------------------------------------------------------------------- */

Test(server_shed, in_flight_bound) {
  lp_shed s;
  cr_assert_eq(lp__shed_init(&s, 2, 0, 100, NULL), 0);
  cr_assert_eq(lp__shed_admit(&s, 1), LP_SHED_ADMIT);
  cr_assert_eq(lp__shed_admit(&s, 2), LP_SHED_ADMIT);
  cr_assert_eq(lp__shed_admit(&s, 3), LP_SHED_IN_FLIGHT, "a third query is one too many");
  cr_assert_eq(s.shed_in_flight, 1);
  cr_assert_eq(lp__shed_retry_after(&s, LP_SHED_IN_FLIGHT), 1);
  lp__shed_done(&s);
  cr_assert_eq(lp__shed_admit(&s, 4), LP_SHED_ADMIT, "one answered: room for one more");
  lp__shed_done(&s);
  lp__shed_done(&s);
  lp__shed_done(&s);  /* one too many: stays at 0 */
  cr_assert_eq(s.in_flight, 0);
  /* 0 = no bound */
  cr_assert_eq(lp__shed_init(&s, 0, 0, 100, NULL), 0);
  for (int i = 0; i < 1000; i++) cr_assert_eq(lp__shed_admit(&s, (uint64_t)i), LP_SHED_ADMIT);
}

Test(server_shed, codel_burst_is_absorbed_standing_queue_is_shed) {
  lp_shed s;
  cr_assert_eq(lp__shed_init(&s, 0, 5, 100, NULL), 0);  /* target 5 ms, interval 100 ms */
  uint64_t t = 1000 * MS;
  for (int i = 0; i < 4; i++) cr_assert_eq(lp__shed_admit(&s, t), LP_SHED_ADMIT);
  /* A burst: over the target for less than an interval, then under it. */
  lp__shed_sample(&s, 20 * MS, t);
  lp__shed_sample(&s, 30 * MS, t + 50 * MS);
  cr_assert_eq(lp__shed_admit(&s, t + 60 * MS), LP_SHED_ADMIT, "a burst shorter than the interval is absorbed");
  lp__shed_sample(&s, 1 * MS, t + 80 * MS);
  lp__shed_sample(&s, 20 * MS, t + 150 * MS);  /* the clock starts again */
  cr_assert_eq(lp__shed_admit(&s, t + 200 * MS), LP_SHED_ADMIT);
  /* Standing: above the target for a whole interval. */
  lp__shed_sample(&s, 25 * MS, t + 260 * MS);
  cr_assert(s.shedding);
  cr_assert_eq(lp__shed_admit(&s, t + 261 * MS), LP_SHED_QUEUE_DELAY);
  cr_assert_eq(lp__shed_admit(&s, t + 300 * MS), LP_SHED_QUEUE_DELAY);
  cr_assert_eq(s.shed_delay, 2);
  cr_assert_eq(lp__shed_retry_after(&s, LP_SHED_QUEUE_DELAY), 1, "100 ms rounds up to 1 s");
  /* One probe per interval keeps the delay measured. */
  cr_assert_eq(lp__shed_admit(&s, t + 361 * MS), LP_SHED_ADMIT, "the probe");
  cr_assert_eq(lp__shed_admit(&s, t + 362 * MS), LP_SHED_QUEUE_DELAY);
  /* The first sojourn under the target ends it. */
  lp__shed_sample(&s, 2 * MS, t + 370 * MS);
  cr_assert_not(s.shedding);
  cr_assert_eq(lp__shed_admit(&s, t + 371 * MS), LP_SHED_ADMIT);
}

Test(server_shed, empty_queue_ends_shedding_and_target_zero_is_off) {
  lp_shed s;
  cr_assert_eq(lp__shed_init(&s, 0, 5, 2000, NULL), 0);
  cr_assert_eq(lp__shed_retry_after(&s, LP_SHED_QUEUE_DELAY), 2);
  cr_assert_eq(lp__shed_admit(&s, 1), LP_SHED_ADMIT);
  lp__shed_sample(&s, 50 * MS, 10 * MS);
  lp__shed_sample(&s, 50 * MS, 3000 * MS);
  cr_assert(s.shedding);
  lp__shed_done(&s);  /* nothing in flight: nothing waits */
  cr_assert_eq(lp__shed_admit(&s, 3001 * MS), LP_SHED_ADMIT);
  cr_assert_not(s.shedding);
  cr_assert_eq(lp__shed_init(&s, 0, 0, 100, NULL), 0);
  lp__shed_sample(&s, 5000 * MS, 1);
  lp__shed_sample(&s, 5000 * MS, 10000 * MS);
  cr_assert_not(s.shedding, "queue_target 0: the rule is off");
}

/* ---- the real server, flooded ---------------------------------------------------------------------- */

static lpt_server srv;

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 200 companies with hiring evidence about kubernetes, so that every query has work on the worker. */
static void ingest_market(int port) {
  for (int b = 0; b < 4; b++) {
    static char body[64 * 1024];
    size_t len = (size_t)snprintf(body, sizeof(body), "[");
    for (int j = 0; j < 50; j++) {
      int c = b * 50 + j;
      len += (size_t)snprintf(body + len, sizeof(body) - len,
                              "%s{\"id\":\"s%d\",\"miner\":\"m%d\",\"ts\":%lld,\"lead\":{\"domain\":\"co%d.example.com\"},"
                              "\"kind\":\"hiring\",\"text\":\"hiring platform engineers to migrate to kubernetes %d\"}",
                              j ? "," : "", c, c % 5, now_ms() - (long long)c * 3600000LL, c, c);
    }
    snprintf(body + len, sizeof(body) - len, "]");
    lpt_response r;
    cr_assert_eq(lpt_http(port, "POST", "/v1/snippets", "application/json", body, strlen(body), &r), 0);
    cr_assert_eq(r.status, 202, "%s", r.body);
    lpt_response_free(&r);
  }
}

static void start_with(const char *max_in_flight, const char *target, const char *interval) {
  char a[96], b[96], c[96];
  snprintf(a, sizeof(a), "LEADPOET_QUERY_MAX_IN_FLIGHT=%s", max_in_flight);
  snprintf(b, sizeof(b), "LEADPOET_QUERY_QUEUE_TARGET=%s", target);
  snprintf(c, sizeof(c), "LEADPOET_QUERY_QUEUE_INTERVAL=%s", interval);
  const char *env[] = { "LEADPOET_KAFKA_MODE=off", "LEADPOET_SERVER_WORKERS=1", "LEADPOET_SERVER_SHARDS=8", a, b, c, NULL };
  cr_assert_eq(lpt_server_start(&srv, NULL, env), 0);
  ingest_market(srv.port);
}

static void stop(void) { cr_assert_eq(lpt_server_stop(&srv), 0); }

static const char query[] = "{\"prompt\":\"kubernetes consulting for a cluster migration\",\"k\":25}";

static int send_query(int fd) {
  char req[512];
  int n = snprintf(req, sizeof(req), "POST /v1/leads HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                   "Content-Length: %zu\r\n\r\n%s", strlen(query), query);
  return lpt_send_all(fd, req, (size_t)n);
}

typedef struct tally {
  int ok, shed, shed_delay, other;
} tally;

/* Checks one answer: 200 with leads, or 503 overloaded with a Retry-After of whole seconds >= 1. */
static void check_answer(lpt_response *r, tally *t) {
  if (r->status == 200) {
    cr_assert(strstr(r->body, "\"leads\":[{") != NULL, "an admitted query is answered with leads: %s", r->body);
    t->ok++;
  } else if (r->status == 503) {
    char ra[32];
    cr_assert_eq(lpt_header(r, "Retry-After", ra, sizeof(ra)), 0, "a shed query says when to retry");
    cr_assert_geq(atoi(ra), 1);
    cr_assert(strstr(r->body, "\"code\":\"overloaded\"") != NULL, "%s", r->body);
    t->shed++;
    t->shed_delay += strstr(r->body, "query.queue_target") != NULL;
  } else {
    t->other++;
  }
}

static double metric(const char *line_prefix) {
  lpt_response r;
  cr_assert_eq(lpt_http(srv.port, "GET", "/metrics", NULL, NULL, 0, &r), 0);
  const char *p = strstr(r.body, line_prefix);
  double v = p != NULL ? atof(p + strlen(line_prefix)) : -1;
  lpt_response_free(&r);
  return v;
}

#define CONNS 48

/* Every connection sends a query at once, then every answer is read. */
static void burst(tally *t) {
  int fds[CONNS];
  for (int i = 0; i < CONNS; i++) {
    fds[i] = lpt_connect(srv.port);
    cr_assert_geq(fds[i], 0);
  }
  for (int i = 0; i < CONNS; i++) cr_assert_eq(send_query(fds[i]), 0);
  for (int i = 0; i < CONNS; i++) {
    lpt_response r;
    cr_assert_eq(lpt_read_response(fds[i], &r, 30000), 0, "every query is answered");
    check_answer(&r, t);
    lpt_response_free(&r);
    close(fds[i]);
  }
}

Test(server_shed, flood_over_max_in_flight, .init = NULL, .fini = stop, .timeout = 120) {
  start_with("2", "0", "500ms");
  tally t = { 0 };
  for (int round = 0; round < 10 && t.shed == 0; round++) burst(&t);
  cr_assert_gt(t.shed, 0, "some queries are shed");
  cr_assert_gt(t.ok, 0, "the admitted queries are answered");
  cr_assert_eq(t.other, 0);
  cr_assert_eq(t.shed_delay, 0, "only the in-flight rule is on");
  cr_assert_float_eq(metric("leadpoet_queries_shed_total{reason=\"in_flight\"} "), t.shed, 0.5);
  cr_assert_float_eq(metric("leadpoet_queries_shed_total{reason=\"queue_delay\"} "), 0, 0.5);
  /* The flood is over: a lone query is admitted again. */
  lpt_response r;
  cr_assert_eq(lpt_http(srv.port, "POST", "/v1/leads", "application/json", query, strlen(query), &r), 0);
  cr_assert_eq(r.status, 200, "%s", r.body);
  lpt_response_free(&r);
}

/* A closed loop: every connection sends its next query when the last is answered, so the worker's ring
 * always holds about CONNS queries and each waits for those ahead of it: a standing queue. */
Test(server_shed, standing_queue_is_shed_by_queue_delay, .init = NULL, .fini = stop, .timeout = 120) {
  start_with("0", "1ms", "1ms");
  int fds[CONNS];
  struct pollfd pfd[CONNS];
  for (int i = 0; i < CONNS; i++) {
    fds[i] = lpt_connect(srv.port);
    cr_assert_geq(fds[i], 0);
    cr_assert_eq(send_query(fds[i]), 0);
    pfd[i] = (struct pollfd){ fds[i], POLLIN, 0 };
  }
  tally t = { 0 };
  long long deadline = now_ms() + 20000;
  while (t.shed_delay == 0 && now_ms() < deadline) {
    cr_assert_gt(poll(pfd, CONNS, 5000), 0, "answers keep coming");
    for (int i = 0; i < CONNS; i++) {
      if (!(pfd[i].revents & POLLIN)) continue;
      lpt_response r;
      cr_assert_eq(lpt_read_response(fds[i], &r, 30000), 0);
      check_answer(&r, &t);
      lpt_response_free(&r);
      cr_assert_eq(send_query(fds[i]), 0);
    }
  }
  for (int i = 0; i < CONNS; i++) {  /* the last query of each connection is answered too */
    lpt_response r;
    cr_assert_eq(lpt_read_response(fds[i], &r, 30000), 0);
    check_answer(&r, &t);
    lpt_response_free(&r);
    close(fds[i]);
  }
  cr_assert_gt(t.shed_delay, 0, "a standing queue is shed");
  cr_assert_gt(t.ok, 0);
  cr_assert_eq(t.other, 0);
  cr_assert_geq(metric("leadpoet_queries_shed_total{reason=\"queue_delay\"} "), t.shed_delay);
  cr_assert_geq(metric("leadpoet_query_queue_delay_seconds "), 0);
}
