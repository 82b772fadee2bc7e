/*
 * Scatter-gather (issue 7, point 6; docs/adr/0015-scale-out.md): POST /v1/leads on any instance asks its
 * peers (server.peers / LEADPOET_PEERS) for their local top-k and merges. Two servers on loopback hold
 * different leads (A: alpha*, B: beta*); each lists the other, and A lists itself by name (recognised and
 * skipped). Then B is stopped (a peer down) and a listener that never answers stands for a late peer: the
 * answer comes from what is left, flagged "partial": true.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers/helpers.h"

typedef struct node {
  pid_t pid;
  int port;
  char log[128];
} node;

static void sleep_ms(int ms) {
  struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
  nanosleep(&ts, NULL);
}

/* `leadpoet serve` on a port chosen before (the peers must know it), Kafka off; waits for /healthz unless
 * expect_exit, in which case it returns the exit status (or -1). */
static int node_start(node *n, int port, const char *peers, int expect_exit) {
  n->port = port;
  snprintf(n->log, sizeof(n->log), "/tmp/lpt-peers-%d-%d.log", (int)getpid(), port);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    char listen[64], env_peers[512];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    snprintf(env_peers, sizeof(env_peers), "LEADPOET_PEERS=%s", peers);
    putenv(env_peers);
    putenv("LEADPOET_KAFKA_MODE=off");
    putenv("LEADPOET_SERVER_SHARDS=4");
    putenv("LEADPOET_SERVER_WORKERS=1");
    putenv("LEADPOET_SERVER_PEER_TIMEOUT=300ms");
    int fd = open(n->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) dup2(fd, 2), close(fd);
    execl(LP_BINARY_PATH, LP_BINARY_PATH, "serve", "--listen", listen, (char *)NULL);
    _exit(127);
  }
  n->pid = pid;
  for (int i = 0; i < 400; i++) {
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      n->pid = 0;
      return expect_exit && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    }
    lpt_response r;
    if (!expect_exit && lpt_http(port, "GET", "/healthz", NULL, NULL, 0, &r) == 0) {
      int ok = r.status == 200;
      lpt_response_free(&r);
      if (ok) return 0;
    }
    sleep_ms(50);
  }
  return -1;
}

static void node_stop(node *n) {
  if (n->pid <= 0) return;
  kill(n->pid, SIGTERM);
  int st = 0;
  waitpid(n->pid, &st, 0);
  n->pid = 0;
  cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "clean stop (log %s)", n->log);
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) unlink(n->log);
}

/* Six leads, each with its own sentence (the throttle drops templated near-duplicates). */
static void post_leads(int port, const char *prefix) {
  static const char *const texts[] = {
    "The company is hiring platform engineers to lead a kubernetes migration this quarter",
    "Their team plans a kubernetes migration of billing services and needs senior engineers",
    "A new platform group was formed; the migration from virtual machines to kubernetes starts soon",
    "Job posts ask for engineers with kubernetes experience for the platform rewrite",
    "The engineering blog describes their migration to kubernetes and the hiring plan behind it",
    "After the funding round they are staffing platform engineering for a cloud migration",
  };
  char body[4096] = "[";
  for (int i = 0; i < 6; i++) {
    char one[500];
    snprintf(one, sizeof(one),
             "%s{\"id\":\"%s%d\",\"miner\":\"m%d\",\"ts\":%lld,\"lead\":{\"domain\":\"%s%d-corp.com\"},\"kind\":\"hiring\","
             "\"text\":\"%s\"}",
             i ? "," : "", prefix, i, i % 3, (long long)time(NULL) * 1000 - 3600000LL * (i + 1), prefix, i, texts[i]);
    strcat(body, one);
  }
  strcat(body, "]");
  lpt_response r;
  cr_assert_eq(lpt_http(port, "POST", "/v1/snippets", "application/json", body, strlen(body), &r), 0);
  cr_assert_eq(r.status, 202, "%s", r.body);
  lpt_response_free(&r);
}

static const char *const Q = "{\"prompt\":\"kubernetes migration platform engineers\",\"k\":50,\"explain\":false}";

/* POST /v1/leads, optionally marked as a peer's request. */
static json_t *ask(int port, int as_peer) {
  int fd = lpt_connect(port);
  cr_assert(fd >= 0);
  char req[1024];
  int n = snprintf(req, sizeof(req),
                   "POST /v1/leads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%sContent-Length: %zu\r\n"
                   "Connection: close\r\n\r\n%s",
                   as_peer ? "X-Leadpoet-Peer: 1\r\n" : "", strlen(Q), Q);
  cr_assert_eq(lpt_send_all(fd, req, (size_t)n), 0);
  lpt_response r;
  cr_assert_eq(lpt_read_response(fd, &r, 10000), 0);
  close(fd);
  cr_assert_eq(r.status, 200, "%s", r.body);
  json_t *j = json_loads(r.body, 0, NULL);
  cr_assert_not_null(j, "%s", r.body);
  lpt_response_free(&r);
  return j;
}

/* How many leads of the answer start with prefix; checks order (score, then domain) and each domain once. */
static size_t count_prefix(json_t *ans, const char *prefix) {
  json_t *leads = json_object_get(ans, "leads");
  size_t n = 0;
  for (size_t i = 0; i < json_array_size(leads); i++) {
    json_t *l = json_array_get(leads, i);
    const char *d = json_string_value(json_object_get(l, "domain"));
    cr_assert_eq(json_integer_value(json_object_get(l, "rank")), (json_int_t)(i + 1));
    n += strncmp(d, prefix, strlen(prefix)) == 0;
    for (size_t j = 0; j < i; j++)
      cr_assert_str_neq(d, json_string_value(json_object_get(json_array_get(leads, j), "domain")), "twice: %s", d);
    if (i > 0) {
      json_t *p = json_array_get(leads, i - 1);
      double a = json_number_value(json_object_get(p, "score")), b = json_number_value(json_object_get(l, "score"));
      cr_assert(a > b || (a == b && strcmp(json_string_value(json_object_get(p, "domain")), d) < 0), "order at %zu", i);
    }
  }
  return n;
}

static int partial(json_t *ans) { return json_is_true(json_object_get(ans, "partial")); }

Test(peers, scatter_gather_merge_down_and_late, .timeout = 120) {
  int pa = lpt_free_port(), pb = lpt_free_port();
  while (pb == pa) pb = lpt_free_port();
  node a, b;
  char peers_a[128], peers_b[128];
  snprintf(peers_a, sizeof(peers_a), "127.0.0.1:%d, localhost:%d", pb, pa);  /* itself, by name */
  snprintf(peers_b, sizeof(peers_b), "127.0.0.1:%d", pa);
  cr_assert_eq(node_start(&a, pa, peers_a, 0), 0);
  cr_assert_eq(node_start(&b, pb, peers_b, 0), 0);
  post_leads(pa, "alpha");
  post_leads(pb, "beta");

  /* A peer's request is answered from the local shards only. */
  json_t *local = ask(pa, 1);
  cr_expect_eq(count_prefix(local, "alpha"), 6);
  cr_expect_eq(count_prefix(local, "beta"), 0, "a peer request is not fanned out again");
  json_decref(local);

  /* Either instance answers for both, each lead once, in the same order. */
  json_t *x = ask(pa, 0), *y = ask(pb, 0);
  cr_expect_eq(count_prefix(x, "alpha"), 6);
  cr_expect_eq(count_prefix(x, "beta"), 6);
  cr_expect(!partial(x), "every peer answered");
  cr_expect_eq(count_prefix(y, "alpha") + count_prefix(y, "beta"), 12);
  json_t *lx = json_object_get(x, "leads"), *ly = json_object_get(y, "leads");
  for (size_t i = 0; i < json_array_size(lx) && i < json_array_size(ly); i++)
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(lx, i), "domain")),
                     json_string_value(json_object_get(json_array_get(ly, i), "domain")), "rank %zu", i + 1);
  json_decref(x), json_decref(y);

  /* /v1/status lists the peers; A's own address was recognised. */
  lpt_response r;
  cr_assert_eq(lpt_http(pa, "GET", "/v1/status", NULL, NULL, 0, &r), 0);
  json_t *st = json_loads(r.body, 0, NULL);
  lpt_response_free(&r);
  json_t *pl = json_object_get(st, "peers");
  size_t selves = 0;
  for (size_t i = 0; i < json_array_size(pl); i++) selves += json_is_true(json_object_get(json_array_get(pl, i), "self"));
  cr_expect(json_array_size(pl) >= 2, "both entries resolved");
  cr_expect_eq(selves, 1, "its own address is marked self");
  json_decref(st);

  /* B down: A answers with its own leads, partial. */
  node_stop(&b);
  json_t *down = ask(pa, 0);
  cr_expect(partial(down), "a peer is down");
  cr_expect_eq(count_prefix(down, "alpha"), 6);
  cr_expect_eq(count_prefix(down, "beta"), 0);
  json_decref(down);
  node_stop(&a);
}

Test(peers, late_peer_is_partial, .timeout = 60) {
  /* A listener that accepts and never answers. */
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  cr_assert_eq(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
  cr_assert_eq(listen(ls, 16), 0);
  socklen_t sl = sizeof(sa);
  getsockname(ls, (struct sockaddr *)&sa, &sl);
  char peers[64];
  snprintf(peers, sizeof(peers), "127.0.0.1:%d", ntohs(sa.sin_port));
  node a;
  cr_assert_eq(node_start(&a, lpt_free_port(), peers, 0), 0);
  post_leads(a.port, "alpha");
  json_t *ans = ask(a.port, 0);
  cr_expect(partial(ans), "the peer did not answer within server.peer_timeout");
  cr_expect_eq(count_prefix(ans, "alpha"), 6);
  json_decref(ans);
  node_stop(&a);
  close(ls);
}

Test(peers, bad_peer_list_is_refused, .timeout = 30) {
  node a;
  int st = node_start(&a, lpt_free_port(), "127.0.0.1:8080,no-port-here", 1);
  cr_expect(st == 1 || st == 2, "a peer without a port stops the start (exit %d, log %s)", st, a.log);
  size_t len = 0;
  char *log = lpt_read_file(a.log, &len);
  cr_expect(log != NULL && strstr(log, "no-port-here") != NULL, "the message names the entry (log %s)", a.log);
  free(log);
  unlink(a.log);
}
