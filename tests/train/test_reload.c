/* The learned model in the server (core/server/model.c, docs/adr/0014-learned-model.md), through the real
 * binary: scoring.model is loaded at start and named in answers and /v1/status; POST /v1/admin/reload
 * swaps in a good file, refuses a corrupt one and one whose features differ (400 bad_model, the running
 * model stays and keeps answering); SIGHUP reloads too; scoring.train_log receives the rows of the
 * answers and the outcomes. The models are trained here with libxgboost (skipped with a message without). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "helpers/helpers.h"
#include "model/gbdt.h"
#include "train/dataset.h"
#include "train/train.h"
#include "train/model_fixture.h"

static char good[128], live[128];


static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/lp_reload_XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  snprintf(good, sizeof good, "%s/first.json", dir);
  snprintf(live, sizeof live, "%s/live.json", dir);
  if (train_model(good, "first") != 0) return;
  sh("cp %s %s", good, live);
  sh("cp %s.features %s.features", good, live);
  char e1[200], e2[200];
  snprintf(e1, sizeof e1, "LEADPOET_SCORING_MODEL=%s", live);
  snprintf(e2, sizeof e2, "LEADPOET_SCORING_TRAIN_LOG=%s/train.jsonl", dir);
  const char *env[] = { e1, e2, NULL };
  cr_assert_eq(lpt_server_start(&srv, NULL, env), 0);
  started = 1;
}

TestSuite(reload, .init = setup, .fini = teardown, .timeout = 120);

static void post(const char *path, const char *body, int want) {
  lpt_response r;
  cr_assert_eq(lpt_http(srv.port, "POST", path, "application/json", body, strlen(body), &r), 0);
  cr_assert_eq(r.status, want, "%s: %d %s", path, r.status, r.body);
  lpt_response_free(&r);
}

/* The "model" of an answer to a prompt that finds the posted leads; also checks it has leads. */
static void expect_model(const char *want) {
  const char *body = "{\"prompt\":\"invoicing software\",\"k\":10}";
  lpt_response r;
  cr_assert_eq(lpt_http(srv.port, "POST", "/v1/leads", "application/json", body, strlen(body), &r), 0);
  cr_assert_eq(r.status, 200, "%s", r.body);
  json_t *j = json_loads(r.body, 0, NULL);
  cr_assert_not_null(j);
  cr_assert_str_eq(json_string_value(json_object_get(j, "model")), want, "%s", r.body);
  cr_assert_gt(json_array_size(json_object_get(j, "leads")), 0, "%s", r.body);
  json_decref(j);
  lpt_response_free(&r);
}

static void reload(int want_status, const char *want_text) {
  lpt_response r;
  cr_assert_eq(lpt_http(srv.port, "POST", "/v1/admin/reload", "application/json", "", 0, &r), 0);
  cr_assert_eq(r.status, want_status, "%s", r.body);
  cr_assert_not_null(strstr(r.body, want_text), "%s", r.body);
  lpt_response_free(&r);
}

static void seed_leads(void) {
  char body[2048];
  long long t = now_ms() - 3600000LL;
  snprintf(body, sizeof body,
           "[{\"id\":\"a1\",\"miner\":\"m1\",\"ts\":%lld,\"lead\":{\"domain\":\"acme.com\"},\"kind\":\"hiring\","
           "\"text\":\"Acme is hiring to replace its invoicing software\"},"
           "{\"id\":\"b1\",\"miner\":\"m2\",\"ts\":%lld,\"lead\":{\"domain\":\"bolt.io\"},\"kind\":\"review\","
           "\"text\":\"Bolt compared invoicing software vendors\"}]",
           t, t);
  post("/v1/snippets", body, 202);
}

Test(reload, good_corrupt_and_mismatched_files_through_the_api) {
  if (!started) cr_skip_test("libxgboost is not installed: no model to serve");
  seed_leads();
  expect_model("first");
  lpt_response r;
  cr_assert_eq(lpt_http(srv.port, "GET", "/v1/status", NULL, NULL, 0, &r), 0);
  cr_assert_not_null(strstr(r.body, "\"model\":\"first\""), "%s", r.body);
  lpt_response_free(&r);

  /* corrupt: truncated JSON */
  sh("head -c 100 %s > %s", good, live);
  reload(400, "\"code\":\"bad_model\"");
  expect_model("first");

  /* mismatched: a sidecar of another feature version */
  sh("cp %s %s", good, live);
  sh("sed -i 's/lp-features-1/lp-features-0/' %s%s", live, ".features");
  reload(400, "lp-features-0");
  expect_model("first");

  /* mismatched: a model over fewer features than the server computes */
  sh("sed 's/\"num_feature\":\"41\"/\"num_feature\":\"40\"/g' %s > %s", good, live);
  sh("cp %s.features %s.features", good, live);
  reload(400, "num_feature is 40");
  expect_model("first");

  /* missing sidecar */
  sh("cp %s %s", good, live);
  sh("rm %s%s", live, ".features");
  reload(400, "missing");
  expect_model("first");

  /* a good one: swapped in */
  char second[128];
  snprintf(second, sizeof second, "%s/second.json", dir);
  cr_assert_eq(train_model(second, "second"), 0);
  sh("cp %s %s", second, live);
  sh("cp %s.features %s.features", second, live);
  reload(200, "\"model\":\"second\"");
  expect_model("second");
}

Test(reload, sighup_reloads) {
  if (!started) cr_skip_test("libxgboost is not installed: no model to serve");
  seed_leads();
  expect_model("first");
  char third[128];
  snprintf(third, sizeof third, "%s/third.json", dir);
  cr_assert_eq(train_model(third, "third"), 0);
  sh("cp %s %s", third, live);
  sh("cp %s.features %s.features", third, live);
  cr_assert_eq(kill(srv.pid, SIGHUP), 0);
  int seen = 0;
  for (int i = 0; i < 100 && !seen; i++) {
    lpt_response r;
    cr_assert_eq(lpt_http(srv.port, "GET", "/v1/status", NULL, NULL, 0, &r), 0);
    seen = strstr(r.body, "\"model\":\"third\"") != NULL;
    lpt_response_free(&r);
    if (!seen) usleep(100000);
  }
  cr_assert(seen, "the model after SIGHUP");
  expect_model("third");
}

Test(reload, training_log_has_rows_and_outcomes) {
  if (!started) cr_skip_test("libxgboost is not installed: no model to serve");
  seed_leads();
  expect_model("first");
  char body[512];
  snprintf(body, sizeof body, "[{\"id\":\"o1\",\"ts\":%lld,\"domain\":\"acme.com\",\"event\":\"meeting\"}]", now_ms());
  post("/v1/outcomes", body, 202);
  cr_assert_eq(lpt_server_stop(&srv), 0);
  started = 0;
  char path[128];
  snprintf(path, sizeof path, "%s/train.jsonl", dir);
  lp_dataset d;
  memset(&d, 0, sizeof d);
  char err[256];
  cr_assert_eq(lp_dataset_read(&d, path, err, sizeof err), LP_OK, "%s", err);
  cr_assert_eq(d.n_q, 1);
  cr_assert_geq(d.q[0].n_rows, 1);
  cr_assert_eq(d.n_o, 1);
  cr_assert_str_eq(d.o[0].domain, "acme.com");
  int acme = 0;
  for (uint32_t i = 0; i < d.q[0].n_rows; i++) acme |= strcmp(d.q[0].rows[i].domain, "acme.com") == 0;
  cr_assert(acme);
  /* the answer's score is the model's prediction over the logged row (the query path used the model) */
  lp_gbdt *m = NULL;
  cr_assert_eq(lp_gbdt_load_file(good, LP_GBDT_AUTO, LP_FEATURES_N, &m, err, sizeof err), LP_OK, "%s", err);
  for (uint32_t i = 0; i < d.q[0].n_rows; i++) {
    double want;
    lp_gbdt_predict(m, d.q[0].rows[i].f, 1, LP_FEATURES_N, &want);
    cr_assert_float_eq(d.q[0].rows[i].score, want, 1e-6, "%s", d.q[0].rows[i].domain);
  }
  lp_gbdt_free(m);
  lp_dataset_free(&d);
}
