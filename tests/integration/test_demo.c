/*
 * `leadpoet demo` (core/cli/cmd_demo.c): started on a free port, within 30 s the market has been applied
 * (snippets and outcomes counted by /metrics, miners with reputation from outcomes), POST /v1/leads
 * returns leads, /v1/status shows embedded Kafka, and SIGTERM exits 0. Plus its usage errors.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers/helpers.h"

static void sleep_ms(int ms) {
  struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
  nanosleep(&ts, NULL);
}

static pid_t spawn(const char *const *argv, const char *log) {
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    execv(LP_BINARY_PATH, (char *const *)argv);
    _exit(127);
  }
  return pid;
}

static int wait_exit(pid_t pid, int timeout_ms) {
  for (int t = 0; t < timeout_ms; t += 50) {
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    sleep_ms(50);
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  return -2;
}

/* The sum of the samples of a metric family line prefix ("leadpoet_snippets_total{result=\"accepted\"}"). */
static double metric(int port, const char *prefix) {
  lpt_response r;
  if (lpt_http(port, "GET", "/metrics", NULL, NULL, 0, &r) != 0) return -1;
  double sum = 0;
  size_t n = strlen(prefix);
  for (char *line = r.body; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
    if (strncmp(line, prefix, n) == 0) sum += strtod(strchr(line + n, ' ') ? strchr(line + n, ' ') : "0", NULL);
  lpt_response_free(&r);
  return sum;
}

Test(demo, market_moves_and_sigterm_exits_0, .timeout = 120) {
  int port = lpt_free_port();
  char addr[64], log[128];
  snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
  snprintf(log, sizeof(log), "/tmp/lpt-demo-%d.log", (int)getpid());
  const char *argv[] = { LP_BINARY_PATH, "demo", "--listen", addr, "--rate", "200", NULL };
  pid_t pid = spawn(argv, log);

  /* Within 30 s: applied snippets grow between two looks, outcomes arrive, leads come back. */
  double first = -1, applied = -1, outcomes = 0;
  int leads_ok = 0;
  for (int i = 0; i < 60 && !(leads_ok && applied > first && first > 0 && outcomes > 0); i++) {
    sleep_ms(500);
    double a = metric(port, "leadpoet_snippets_total{result=\"accepted\"}");
    if (a > 0 && first < 0) first = a;
    applied = a;
    outcomes = metric(port, "leadpoet_outcomes_total{");
    if (!leads_ok && a > 0) {
      lpt_response r;
      const char *q = "{\"prompt\":\"usage-based billing for SaaS companies\",\"k\":5}";
      if (lpt_http(port, "POST", "/v1/leads", "application/json", q, strlen(q), &r) == 0) {
        leads_ok = r.status == 200 && strstr(r.body, "\"rank\":1") != NULL;
        lpt_response_free(&r);
      }
    }
  }
  char *text = lpt_read_file(log, NULL);
  cr_assert(first > 0 && applied > first, "accepted snippets did not grow (%g -> %g); log:\n%s", first, applied,
            text ? text : "");
  cr_assert(leads_ok, "POST /v1/leads returned no leads; log:\n%s", text ? text : "");
  cr_assert(outcomes > 0, "no outcome was applied; log:\n%s", text ? text : "");
  cr_assert(text && strstr(text, "console=http://127.0.0.1:") != NULL, "the console URL is not logged");
  free(text);

  lpt_response r;
  cr_assert_eq(lpt_http(port, "GET", "/v1/status", NULL, NULL, 0, &r), 0);
  cr_assert(strstr(r.body, "\"mode\":\"embedded\"") != NULL, "%s", r.body);
  lpt_response_free(&r);
  /* Outcomes move reputation: some miner's comes from outcomes within a further 30 s. */
  int moved = 0;
  for (int i = 0; i < 60 && !moved; i++) {
    cr_assert_eq(lpt_http(port, "GET", "/v1/miners", NULL, NULL, 0, &r), 0);
    moved = strstr(r.body, "\"source\":\"outcomes\"") != NULL;
    lpt_response_free(&r);
    if (!moved) sleep_ms(500);
  }
  cr_assert(moved, "no miner's reputation comes from outcomes");

  kill(pid, SIGTERM);
  cr_assert_eq(wait_exit(pid, 30000), 0);
  unlink(log);
}

Test(demo, usage_errors) {
  char log[128];
  snprintf(log, sizeof(log), "/tmp/lpt-demo-usage-%d.log", (int)getpid());
  const char *bad_rate[] = { LP_BINARY_PATH, "demo", "--rate", "0", NULL };
  cr_assert_eq(wait_exit(spawn(bad_rate, log), 10000), 2);
  const char *bad_listen[] = { LP_BINARY_PATH, "demo", "--listen", "nowhere", NULL };
  cr_assert_eq(wait_exit(spawn(bad_listen, log), 10000), 2);
  const char *extra[] = { LP_BINARY_PATH, "demo", "surplus", NULL };
  cr_assert_eq(wait_exit(spawn(extra, log), 10000), 2);
  const char *help[] = { LP_BINARY_PATH, "demo", "--help", NULL };
  cr_assert_eq(wait_exit(spawn(help, log), 10000), 0);
  unlink(log);
}
