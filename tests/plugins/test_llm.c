/* The LLM re-rank stage (plugins/llm/) loaded from its .so through the registry, driven on a libuv loop of the
 * test's own against a fake chat-completions server on loopback: re-rank when it answers, the model's order
 * when it answers garbage, fails, stalls or hangs up, the circuit breaker, the budgets, the gate; and the
 * ABI 1.2 host side (on_rerank read only from 1.2 descriptors, host->config_get). */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "helpers/helpers.h"
#include "stage/registry.h"
#include "test_llm_fake.h"

#define PLUGIN LP_BUILD_DIR "/plugins/llm/liblp_llm.so"

static lp_config cfg;
static lp_metrics *metrics;
static char err[1024];
static lp_stages *st;
static uv_loop_t loop;
static fake_llm fake;

static void setup(void) {
  unsetenv("OPENAI_API_KEY");
  memset(&cfg, 0, sizeof(cfg));
  cr_assert_eq(lp_metrics_new(&metrics, 100), LP_OK);
  lp_metrics_set_default(metrics);
  uv_loop_init(&loop);
  cr_assert_eq(fake_start(&fake), 0);
}
static void teardown(void) {
  lp_stages_free(st);
  st = NULL;
  lp_config_free(&cfg);
  lp_metrics_set_default(NULL);
  lp_metrics_free(metrics);
  cr_assert_eq(uv_loop_close(&loop), 0, "every handle of the stage is closed");
  fake_stop(&fake);
}
TestSuite(plugin_llm, .init = setup, .fini = teardown);

/* Loads the plugin with an API key (unless key is NULL), the fake's URL and [stage.llm] lines: extra's, then
 * the test defaults for the keys extra does not set. */
static int load(const char *key, const char *extra) {
  char defaults[6][96];
  snprintf(defaults[0], sizeof(defaults[0]), "base_url = http://127.0.0.1:%d/v1\n", fake.port);
  snprintf(defaults[1], sizeof(defaults[1]), "timeout_ms = 300ms\n");
  snprintf(defaults[2], sizeof(defaults[2]), "retries = 0\n");
  snprintf(defaults[3], sizeof(defaults[3]), "retry_backoff_ms = 1ms\n");
  snprintf(defaults[4], sizeof(defaults[4]), "breaker_cooldown_ms = 200ms\n");
  defaults[5][0] = '\0';
  char text[2048];
  int len = snprintf(text, sizeof(text), "[stages]\norder = llm\nplugins = " PLUGIN "\n[secrets]\nopenai_api_key = \"%s\"\n"
                     "[stage.llm]\n%s", key != NULL ? key : "", extra != NULL ? extra : "");
  for (int i = 0; i < 5; i++) {
    char name[32];
    snprintf(name, sizeof(name), "%.*s", (int)strcspn(defaults[i], " "), defaults[i]);
    if (extra == NULL || strstr(extra, name) == NULL) len += snprintf(text + len, sizeof(text) - (size_t)len, "%s", defaults[i]);
  }
  cr_assert_eq(lp_config_load_string(&cfg, text, "test.conf", err, sizeof(err)), LP_OK, "%s", err);
  err[0] = '\0';
  return lp_stages_load(&st, &cfg, NULL, err, sizeof(err));
}

typedef struct got {
  int called;
  int status;
  double scores[16];
  uint32_t n;
  double cost;
  uint32_t calls;
} got;

static void on_done(void *ud, const lp_rerank_result *r) {
  got *g = ud;
  g->called++;
  g->status = r->status;
  g->n = r->n_scores;
  for (uint32_t i = 0; i < r->n_scores && i < 16; i++) g->scores[i] = r->scores[i];
  g->cost = r->cost_usd;
  g->calls = r->calls;
}

static char fields[8][256];
static lp_rerank_cand cands[8];

/* n candidates a.com, b.com, ... with scores top, top - step, ...; re-ranks with budget and runs the loop
 * until the stage is done. Returns on_rerank's verdict; g says what done() said. */
static int rerank(uint32_t n, double top, double step, double budget, got *g) {
  memset(g, 0, sizeof(*g));
  static char domains[8][16];
  for (uint32_t i = 0; i < n; i++) {
    snprintf(domains[i], sizeof(domains[i]), "%c.com", 'a' + i);
    double s = top - step * i;
    int len = snprintf(fields[i], sizeof(fields[i]),
                       "\"domain\":\"%s\",\"name\":\"Company %u\",\"score\":%.6f,\"industry\":\"software\","
                       "\"evidence\":[{\"snippet_id\":\"s\",\"miner\":\"m\",\"kind\":\"hiring\",\"ts\":1,"
                       "\"text\":\"hiring a platform engineer\\nfor kubernetes\"}]",
                       domains[i], (unsigned)i, s);
    cands[i] = (lp_rerank_cand){ { domains[i], strlen(domains[i]) }, s, { fields[i], (size_t)len } };
  }
  lp_rerank_req req = { { "q-1", 3 }, { "kubernetes consulting", 21 }, cands, n, 25, budget, 1764000000000, &loop };
  int rc = lp_stages_rerank(st, &req, on_done, g);
  uv_run(&loop, UV_RUN_DEFAULT);
  if (rc == LP_OK) cr_assert_eq(g->called, 1, "done exactly once");
  else cr_assert_eq(g->called, 0, "done never called after a decline");
  return rc;
}

static uint64_t counter(const char *name, const char *label) {
  static const char *const names[] = { "stage", "label" };
  lp_metric_family *f = lp_metrics_family(metrics, LP_METRIC_COUNTER, name, "x", names, 2, NULL, 0);
  cr_assert_not_null(f);
  const char *v[] = { "llm", label };
  return lp_counter_value(lp_metrics_series(f, v));
}

Test(plugin_llm, answer_reranks_and_costs) {
  cr_assert_eq(load("sk-test", NULL), LP_OK, "%s", err);
  cr_assert(lp_stages_can_rerank(st));
  got g;
  cr_assert_eq(rerank(4, 0.80, 0.01, 0.05, &g), LP_OK);
  cr_assert_eq(g.status, LP_OK);
  cr_assert_eq(g.n, 4);
  cr_assert_eq(fake.last_n, 4, "the top 4 were sent");
  cr_assert_str_eq(fake.last_auth, "Bearer sk-test");
  cr_assert_gt(g.scores[3], g.scores[0], "the model put d.com first: %f %f", g.scores[3], g.scores[0]);
  for (int i = 0; i < 4; i++) cr_assert_geq(g.scores[i], 0.77 - 1e-9, "stays at or above the window's floor");
  cr_assert_eq(g.calls, 1);
  /* usage: 1000 prompt tokens at 0.00015 / 1k, 20 completion tokens at 0.0006 / 1k */
  cr_assert_float_eq(g.cost, 0.00015 + 0.000012, 1e-12);
  cr_assert_eq(counter("leadpoet_stage_calls_total", "ok"), 1);
  cr_assert_eq(counter("leadpoet_stage_calls_total", "error"), 0);
}

Test(plugin_llm, chunked_answer_reranks) {
  cr_assert_eq(load("sk-test", "max_candidates = 3\n"), LP_OK, "%s", err);
  fake_script(&fake, FAKE_CHUNKED, NULL);
  got g;
  cr_assert_eq(rerank(5, 0.80, 0.01, 0.05, &g), LP_OK);
  cr_assert_eq(g.status, LP_OK);
  cr_assert_eq(g.n, 3, "only max_candidates are re-scored");
  cr_assert_gt(g.scores[2], g.scores[0]);
  cr_assert_geq(g.scores[0], 0.78 - 1e-9, "above the first lead outside the window");
}

/* Garbage, an error status, a stall past the time-out, a closed connection: the order stands (status is an
 * error, no scores) and only the counters and the breaker move. */
Test(plugin_llm, failures_leave_the_order) {
  cr_assert_eq(load("sk-test", "breaker_min_calls = 20\n"), LP_OK, "%s", err);
  const int modes[] = { FAKE_GARBAGE, FAKE_500, FAKE_429, FAKE_STALL, FAKE_CLOSE };
  for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
    fake_script(&fake, modes[i], NULL);
    got g;
    cr_assert_eq(rerank(4, 0.80, 0.01, 0.05, &g), LP_OK, "mode %zu", i);
    cr_assert_lt(g.status, 0, "mode %zu: an error", i);
    cr_assert_eq(g.n, 0, "mode %zu: no scores", i);
    cr_assert_eq(g.calls, 1, "mode %zu", i);
    if (modes[i] == FAKE_500 || modes[i] == FAKE_429) cr_assert_eq(g.cost, 0, "an error status is not billed");
    else cr_assert_gt(g.cost, 0, "mode %zu: a billed or possibly billed attempt costs", i);
  }
  cr_assert_eq(counter("leadpoet_stage_calls_total", "error"), 5);
  cr_assert_eq(counter("leadpoet_stage_calls_total", "ok"), 0);
}

Test(plugin_llm, retries_after_429_then_succeeds) {
  cr_assert_eq(load("sk-test", "retries = 2\n"), LP_OK, "%s", err);
  const int script[] = { FAKE_429, FAKE_500, -1 };
  fake_script(&fake, FAKE_OK, script);
  got g;
  cr_assert_eq(rerank(4, 0.80, 0.01, 0.05, &g), LP_OK);
  cr_assert_eq(g.status, LP_OK);
  cr_assert_eq(g.calls, 3);
  cr_assert_eq(fake_requests(&fake), 3);
  /* garbage is not retried: the model would likely say the same */
  fake_script(&fake, FAKE_GARBAGE, NULL);
  cr_assert_eq(rerank(4, 0.80, 0.01, 0.05, &g), LP_OK);
  cr_assert_eq(g.calls, 1);
}

/* window 10, at least 5 calls, 20 %: 1 error in 6 keeps it closed, 2 in 10 open it; open, nothing reaches
 * the server; after the cool-down one probe: a failure opens it again, a success closes it. */
Test(plugin_llm, breaker_opens_at_20_percent_and_recovers) {
  cr_assert_eq(load("sk-test", "breaker_window = 10\nbreaker_min_calls = 5\n"), LP_OK, "%s", err);
  got g;
  const int first[] = { FAKE_OK, FAKE_OK, FAKE_OK, FAKE_OK, FAKE_OK, FAKE_GARBAGE, -1 };
  fake_script(&fake, FAKE_OK, first);
  for (int i = 0; i < 6; i++) cr_assert_eq(rerank(4, 0.80, 0.01, 0.05, &g), LP_OK, "call %d", i);
  cr_assert_eq(rerank(4, 0.80, 0.01, 0.05, &g), LP_OK, "1 error in 6 (17 %%): still closed");
  cr_assert_eq(g.status, LP_OK);
  fake_script(&fake, FAKE_500, NULL);
  cr_assert_eq(rerank(4, 0.80, 0.01, 0.05, &g), LP_OK, "2 errors in 8 (25 %%): opens now");
  int before = fake_requests(&fake);
  cr_assert_eq(rerank(4, 0.80, 0.01, 0.05, &g), LP_RERANK_SKIP, "open: declined");
  cr_assert_eq(fake_requests(&fake), before, "nothing reached the server");
  cr_assert_eq(counter("leadpoet_stage_skips_total", "breaker_open"), 1);
  struct timespec wait = { 0, 250 * 1000 * 1000 };  /* past the 200 ms cool-down */
  nanosleep(&wait, NULL);
  cr_assert_eq(rerank(4, 0.80, 0.01, 0.05, &g), LP_OK, "half-open: one probe");
  cr_assert_lt(g.status, 0, "the probe failed");
  cr_assert_eq(rerank(4, 0.80, 0.01, 0.05, &g), LP_RERANK_SKIP, "open again");
  nanosleep(&wait, NULL);
  fake_script(&fake, FAKE_OK, NULL);
  cr_assert_eq(rerank(4, 0.80, 0.01, 0.05, &g), LP_OK, "the next probe");
  cr_assert_eq(g.status, LP_OK);
  cr_assert_eq(rerank(4, 0.80, 0.01, 0.05, &g), LP_OK, "closed: calls flow");
  cr_assert_eq(g.status, LP_OK);
}

Test(plugin_llm, budget_gate_and_key) {
  cr_assert_eq(load("sk-test", "daily_budget_usd = 0.0004\n"), LP_OK, "%s", err);
  got g;
  cr_assert_eq(rerank(4, 0.80, 0.01, 0.00001, &g), LP_RERANK_OVER_BUDGET, "the call would cost more than the query may");
  cr_assert_eq(rerank(4, 0.80, 0.20, 0.05, &g), LP_RERANK_SKIP, "a clear answer needs no call");
  cr_assert_eq(rerank(1, 0.80, 0.01, 0.05, &g), LP_RERANK_SKIP, "one lead: nothing to order");
  cr_assert_eq(fake_requests(&fake), 0);
  cr_assert_eq(counter("leadpoet_stage_skips_total", "budget"), 1);
  cr_assert_eq(counter("leadpoet_stage_skips_total", "confident"), 2);
  /* the daily budget: each call costs 0.000162; the third would pass 0.0004 */
  cr_assert_eq(rerank(4, 0.80, 0.01, 0.05, &g), LP_OK);
  cr_assert_eq(rerank(4, 0.80, 0.01, 0.05, &g), LP_OK);
  cr_assert_eq(rerank(4, 0.80, 0.01, 0.05, &g), LP_RERANK_SKIP, "today's budget is spent");
  cr_assert_eq(counter("leadpoet_stage_skips_total", "daily_budget"), 1);
}

Test(plugin_llm, off_without_a_key) {
  cr_assert_eq(load(NULL, NULL), LP_OK, "loads without a key: %s", err);
  got g;
  cr_assert_eq(rerank(4, 0.80, 0.01, 0.05, &g), LP_RERANK_SKIP);
  cr_assert_eq(fake_requests(&fake), 0);
  cr_assert_eq(counter("leadpoet_stage_skips_total", "off"), 1);
}

Test(plugin_llm, key_from_the_environment) {
  setenv("OPENAI_API_KEY", "sk-env", 1);
  cr_assert_eq(load(NULL, NULL), LP_OK, "%s", err);
  unsetenv("OPENAI_API_KEY");
  got g;
  cr_assert_eq(rerank(4, 0.80, 0.01, 0.05, &g), LP_OK);
  cr_assert_str_eq(fake.last_auth, "Bearer sk-env");
}

Test(plugin_llm, bad_config_is_refused) {
  cr_assert_neq(load("sk-test", "base_url = https://api.openai.com/v1\n"), LP_OK);
  cr_assert(strstr(err, "egress TLS proxy") != NULL, "%s", err);
  lp_config_free(&cfg);
  cr_assert_neq(load("sk-test", "breaker_window = 5\nbreaker_min_calls = 6\n"), LP_OK);
  cr_assert(strstr(err, "breaker_min_calls") != NULL, "%s", err);
  lp_config_free(&cfg);
  cr_assert_neq(load("sk test", NULL), LP_OK, "a key with a space would break the header");
  lp_config_free(&cfg);
  cr_assert_neq(load("sk-test", "base_url = http://127.0.0.1:99999/v1\n"), LP_OK);
  cr_assert(strstr(err, "port") != NULL, "%s", err);
}

/* Nobody listens: connection refused is an error like any other. */
Test(plugin_llm, refused_connection_is_an_error) {
  int port = lpt_free_port();
  char extra[128];
  snprintf(extra, sizeof(extra), "base_url = http://127.0.0.1:%d\n", port);
  cr_assert_eq(load("sk-test", extra), LP_OK, "%s", err);
  got g;
  cr_assert_eq(rerank(4, 0.80, 0.01, 0.05, &g), LP_OK);
  cr_assert_lt(g.status, 0);
}

/* ---- The host side of ABI 1.2 ---- */

static int fake_rerank(void *stage, const lp_rerank_req *req, lp_rerank_done_fn done, void *done_ud) {
  (void)stage, (void)req, (void)done, (void)done_ud;
  return LP_EIO;
}
static int pass_snippet(void *s, const lp_snippet *sn, lp_verdict *v) {
  (void)s, (void)sn, (void)v;
  return LP_STAGE_CONTINUE;
}
static char got_price[64];
static int got_enoent, got_erange;
static int probe_init(const lp_host_api *host, const void *conf, void **stage, char *e, size_t es) {
  (void)conf, (void)e, (void)es;
  *stage = NULL;
  char tiny[2];
  host->config_get("query", "instance_usd_per_hour", got_price, sizeof(got_price));
  got_enoent = host->config_get("query", "no_such_key", got_price + 32, 32);
  got_erange = host->config_get("query", "instance_usd_per_hour", tiny, sizeof(tiny));
  return LP_OK;
}

Test(plugin_llm, abi_1_1_descriptor_has_no_rerank) {
  /* what a 1.1 plugin looks like when it left garbage in the slot that 1.2 calls on_rerank */
  lp_stage_desc old = { 1, 1, (uint32_t)sizeof(lp_stage_desc), .name = "old", .init = probe_init,
                        .on_snippet = pass_snippet, .on_rerank = fake_rerank };
  const lp_stage_desc *d[] = { &old };
  cr_assert_eq(lp_config_load_string(&cfg, "[stages]\norder = old\n", "t", err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(lp_stages_load_descs(&st, &cfg, NULL, d, 1, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_not(lp_stages_can_rerank(st), "a 1.1 reserved slot is not read as on_rerank");
  cr_assert_str_eq(got_price, "0.0832");
  cr_assert_eq(got_enoent, LP_ENOENT);
  cr_assert_eq(got_erange, LP_ERANGE);
}

Test(plugin_llm, failing_rerank_is_counted) {
  lp_stage_desc bad = { LP_STAGE_DESC_HEADER, .name = "bad", .init = probe_init, .on_snippet = pass_snippet,
                        .on_rerank = fake_rerank };
  const lp_stage_desc *d[] = { &bad };
  cr_assert_eq(lp_config_load_string(&cfg, "[stages]\norder = bad\n", "t", err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(lp_stages_load_descs(&st, &cfg, NULL, d, 1, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert(lp_stages_can_rerank(st));
  got g;
  cr_assert_eq(rerank(3, 0.8, 0.01, 0.05, &g), LP_EIO, "the stage's failure comes back, done is not awaited");
}
