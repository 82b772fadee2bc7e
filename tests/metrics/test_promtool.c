/*
 * The rendered text must pass `promtool check metrics` with no lint problem at all. promtool comes from
 * $PROMTOOL (test.sh sets it from deploy/local/promtool.sh) or, when unset, from running that script here.
 * No promtool is a failure, not a skip: CI must check the format.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/buf.h"
#include "leadpoet/common.h"
#include "metrics/metrics.h"

#define PROMTOOL_SH LP_SOURCE_DIR "/deploy/local/promtool.sh"

/* Runs cmd through the shell; its stdout and stderr go to out; returns the exit status (-1 if it died). */
static int run(const char *cmd, lp_buf *out) {
  FILE *p = popen(cmd, "r");
  cr_assert_not_null(p, "popen %s", cmd);
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0) cr_assert_eq(lp_buf_append(out, chunk, n), LP_OK);
  int st = pclose(p);
  if (out->data == NULL) cr_assert_eq(lp_buf_puts(out, ""), LP_OK);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *promtool_path(void) {
  const char *env = getenv("PROMTOOL");
  if (env != NULL && env[0] != '\0') return strdup(env);
  cr_assert_null(strchr(PROMTOOL_SH, '\''));
  lp_buf out = LP_BUF_INIT;
  int rc = run("'" PROMTOOL_SH "'", &out);
  cr_assert_eq(rc, 0, "PROMTOOL is unset and %s failed (exit %d): promtool is required, not optional",
               PROMTOOL_SH, rc);
  char *nl = strchr(out.data, '\n');
  if (nl) *nl = '\0';
  cr_assert(out.data[0] == '/', "%s printed no path", PROMTOOL_SH);
  char *path = strdup(out.data);
  lp_buf_free(&out);
  return path;
}

/* Writes text to a temporary file and runs `promtool check metrics < file`; returns its exit status and
 * puts everything it printed into out. */
static int promtool_check(const char *text, size_t len, lp_buf *out) {
  char *tool = promtool_path();
  cr_assert(access(tool, X_OK) == 0, "promtool at %s is not executable", tool);
  char file[] = "/tmp/lp_metrics_XXXXXX";
  int fd = mkstemp(file);
  cr_assert_geq(fd, 0);
  cr_assert_eq(write(fd, text, len), (ssize_t)len);
  close(fd);
  cr_assert_null(strchr(tool, '\''));
  lp_buf cmd = LP_BUF_INIT;
  cr_assert_eq(lp_buf_printf(&cmd, "'%s' check metrics < '%s' 2>&1", tool, file), LP_OK);
  int rc = run(cmd.data, out);
  unlink(file);
  lp_buf_free(&cmd);
  free(tool);
  return rc;
}

static void refresh(lp_metrics *m, void *ud) { lp_gauge_set((lp_metric *)ud, 42); }

/* A registry with every kind of family, the contract's names (CONTRACT.md section 4), escapes, special
 * values and an overflow series. */
static lp_metrics *full_registry(void) {
  lp_metrics *m = NULL;
  cr_assert_eq(lp_metrics_new(&m, 3), LP_OK);
  const double cost[] = { 0.00001, 0.0001, 0.001, 0.01, 0.1 };
  const double *lat = lp_metrics_latency_buckets;
  size_t nlat = lp_metrics_latency_buckets_n;

  lp_metric *h = lp_metrics_histogram(m, "leadpoet_lead_cost_usd", "Cost per delivered lead, in USD.", cost, 5);
  lp_histogram_observe(h, 0.00004);
  lp_histogram_observe(h, 1);
  lp_gauge_set(lp_metrics_gauge(m, "leadpoet_llm_hit_rate", "Share of queries that called the LLM stage."), 0.25);

  const char *stage[] = { "stage" };
  lp_metric_family *f = lp_metrics_family(m, LP_METRIC_HISTOGRAM, "leadpoet_pipeline_latency_seconds",
                                          "Time spent in each stage.", stage, 1, lat, nlat);
  lp_histogram_observe(lp_metrics_series(f, (const char *[]){ "ingest" }), 0.0003);
  lp_histogram_observe(lp_metrics_series(f, (const char *[]){ "score" }), 12);

  const char *miner[] = { "miner" };
  f = lp_metrics_family(m, LP_METRIC_GAUGE, "leadpoet_miner_reputation", "Reputation of a miner (bounded).",
                        miner, 1, NULL, 0);
  const char *miners[] = { "m-1", "quote\"back\\slash\nnewline", "caf\xc3\xa9", "m-4", "m-5" };
  for (size_t i = 0; i < 5; i++) lp_gauge_set(lp_metrics_series(f, (const char *[]){ miners[i] }), 0.5 + i);

  const char *rc[] = { "route", "code" };
  f = lp_metrics_family(m, LP_METRIC_COUNTER, "leadpoet_http_requests_total", "HTTP requests by route and code.",
                        rc, 2, NULL, 0);
  lp_counter_add(lp_metrics_series(f, (const char *[]){ "/v1/leads", "200" }), 7);
  lp_counter_add(lp_metrics_series(f, (const char *[]){ "", "404" }), 1);
  f = lp_metrics_family(m, LP_METRIC_HISTOGRAM, "leadpoet_http_request_duration_seconds",
                        "HTTP request duration by route.", rc, 1, lat, nlat);
  lp_histogram_observe(lp_metrics_series(f, (const char *[]){ "/healthz" }), 0.00002);

  const char *result[] = { "result" };
  f = lp_metrics_family(m, LP_METRIC_COUNTER, "leadpoet_snippets_total", "Snippets by result.", result, 1,
                        NULL, 0);
  lp_counter_add(lp_metrics_series(f, (const char *[]){ "accepted" }), UINT64_C(18446744073709551615));
  const char *event[] = { "event" };
  lp_metrics_family(m, LP_METRIC_COUNTER, "leadpoet_outcomes_total", "Outcomes by event (none yet).", event, 1,
                    NULL, 0);
  const char *tp[] = { "topic", "partition" };
  f = lp_metrics_family(m, LP_METRIC_GAUGE, "leadpoet_kafka_consumer_lag", "Consumer lag in messages.", tp, 2,
                        NULL, 0);
  lp_gauge_set(lp_metrics_series(f, (const char *[]){ "miner.snippets", "0" }), 3);
  lp_histogram_observe(lp_metrics_histogram(m, "leadpoet_checkpoint_duration_seconds", "Checkpoint duration.",
                                            lat, nlat),
                       0.2);
  lp_gauge_set(lp_metrics_gauge(m, "leadpoet_checkpoint_last_success_timestamp_seconds",
                                "When the last checkpoint succeeded, seconds since the epoch."),
               1764000000.123);
  const char *shard[] = { "shard" };
  f = lp_metrics_family(m, LP_METRIC_GAUGE, "leadpoet_leads", "Leads held by each shard.", shard, 1, NULL, 0);
  lp_gauge_set(lp_metrics_series(f, (const char *[]){ "0" }), 10);
  lp_metric *postings = lp_metrics_gauge(m, "leadpoet_index_postings", "Postings in the text index.");
  cr_assert_eq(lp_metrics_on_collect(m, refresh, postings), LP_OK);

  const char *k[] = { "k" };
  f = lp_metrics_family(m, LP_METRIC_GAUGE, "leadpoet_test_values", "Special values: a \\ and a\nnewline.", k, 1,
                        NULL, 0);
  lp_gauge_set(lp_metrics_series(f, (const char *[]){ "nan" }), NAN);
  lp_gauge_set(lp_metrics_series(f, (const char *[]){ "inf" }), INFINITY);
  lp_gauge_set(lp_metrics_series(f, (const char *[]){ "ninf" }), -INFINITY);
  lp_gauge_set(lp_metrics_series(f, (const char *[]){ "tiny" }), -4.9e-324);
  return m;
}

Test(metrics_promtool, rendered_text_passes_with_no_warning) {
  lp_metrics *m = full_registry();
  lp_buf text = LP_BUF_INIT;
  cr_assert_eq(lp_metrics_render(m, &text), LP_OK);
  cr_assert_not_null(strstr(text.data, "miner=\"overflow\""), "the overflow series is in the checked text");
  cr_assert_not_null(strstr(text.data, "leadpoet_index_postings 42\n"));
  lp_buf out = LP_BUF_INIT;
  int rc = promtool_check(text.data, text.len, &out);
  cr_assert_eq(rc, 0, "promtool check metrics exit %d:\n%s\n--- text ---\n%s", rc, out.data, text.data);
  cr_assert_eq(out.len, 0, "promtool reported problems:\n%s\n--- text ---\n%s", out.data, text.data);
  lp_buf_free(&out);
  lp_buf_free(&text);
  lp_metrics_free(m);
}

/* The check above is only worth something if promtool does complain about bad text. */
Test(metrics_promtool, promtool_reports_lint_and_parse_problems) {
  const char *lint = "# HELP x_requests R.\n# TYPE x_requests counter\nx_requests 1\n";
  lp_buf out = LP_BUF_INIT;
  int rc = promtool_check(lint, strlen(lint), &out);
  cr_assert(rc != 0 || out.len > 0, "promtool accepted a counter without _total");
  cr_assert_not_null(strstr(out.data, "_total"), "promtool said: %s", out.data);
  lp_buf_reset(&out);
  const char *broken = "# TYPE x gauge\nx{a=\"unterminated} 1\n";
  rc = promtool_check(broken, strlen(broken), &out);
  cr_assert_neq(rc, 0, "promtool accepted broken text: %s", out.data);
  lp_buf_free(&out);
}

Test(metrics_promtool, script_fails_clearly_without_a_cache) {
  lp_buf out = LP_BUF_INIT;
  /* A PATH without promtool and a cache folder that cannot be created. */
  int rc = run("command -v promtool >/dev/null 2>&1 && exit 99; "
               "PATH=/usr/sbin:/usr/bin:/sbin:/bin LEADPOET_CACHE=/proc/lp-no-such-dir '" PROMTOOL_SH "' 2>&1",
               &out);
  if (rc == 99) {
    /* promtool is installed system-wide: the script prints it and succeeds. */
    lp_buf_reset(&out);
    cr_assert_eq(run("'" PROMTOOL_SH "'", &out), 0);
    cr_assert_not_null(strstr(out.data, "promtool"));
  } else {
    cr_assert_neq(rc, 0, "the script must fail: %s", out.data);
    cr_assert_not_null(strstr(out.data, "promtool.sh: "), "a clear message: %s", out.data);
  }
  lp_buf_free(&out);
}
