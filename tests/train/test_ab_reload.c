/* A/B tests with learned models (core/server/model.c): a variant serving a trained model next to v0;
 * a reload swaps every variant's model together, and a bad file in one variant keeps them all (400
 * bad_model naming the variant). The models are trained here with libxgboost (skipped without). */
#include <criterion/criterion.h>
#include <jansson.h>
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

static char live[128];


static void setup(void) {
  snprintf(dir, sizeof dir, "/tmp/lp_abreload_XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  snprintf(live, sizeof live, "%s/live.json", dir);
  if (train_model(live, "first") != 0) return;
  char e1[256];
  snprintf(e1, sizeof e1, "LEADPOET_SCORING_VARIANTS=ctl=v0:50,exp=%s:50", live);
  const char *env[] = { e1, NULL };
  cr_assert_eq(lpt_server_start(&srv, NULL, env), 0);
  started = 1;
}

TestSuite(ab_reload, .init = setup, .fini = teardown, .timeout = 120);

/* The model that answers a query forced to variant v. */
static void expect(const char *v, const char *model) {
  static const char body[] = "{\"prompt\":\"invoicing software\",\"k\":10}";
  char req[512];
  int n = snprintf(req, sizeof req,
                   "POST /v1/leads HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nX-Leadpoet-Variant: %s\r\n"
                   "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                   v, sizeof(body) - 1, body);
  int fd = lpt_connect(srv.port);
  cr_assert_geq(fd, 0);
  cr_assert_eq(lpt_send_all(fd, req, (size_t)n), 0);
  lpt_response r;
  cr_assert_eq(lpt_read_response(fd, &r, 10000), 0);
  close(fd);
  cr_assert_eq(r.status, 200, "%s", r.body);
  json_t *j = json_loads(r.body, 0, NULL);
  cr_assert_not_null(j);
  cr_assert_str_eq(json_string_value(json_object_get(j, "variant")), v, "%s", r.body);
  cr_assert_str_eq(json_string_value(json_object_get(j, "model")), model, "%s", r.body);
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

Test(ab_reload, every_variant_swaps_together_and_a_bad_file_keeps_them_all) {
  if (!started) cr_skip_test("libxgboost is not installed: no model to serve");
  char body[1024];
  long long t = now_ms() - 3600000LL;
  snprintf(body, sizeof body,
           "[{\"id\":\"a1\",\"miner\":\"m1\",\"ts\":%lld,\"lead\":{\"domain\":\"acme.com\"},\"kind\":\"hiring\","
           "\"text\":\"Acme is hiring to replace its invoicing software\"}]", t);
  lpt_response r;
  cr_assert_eq(lpt_http(srv.port, "POST", "/v1/snippets", "application/json", body, strlen(body), &r), 0);
  cr_assert_eq(r.status, 202, "%s", r.body);
  lpt_response_free(&r);
  expect("ctl", "v0");
  expect("exp", "first");

  /* a corrupt file in one variant: refused, naming it; both keep answering as before */
  char keep[160];
  snprintf(keep, sizeof keep, "%s/keep.json", dir);
  sh("cp %s %s", live, keep);
  sh("head -c 100 %s > %s.tmp", keep, live);
  sh("mv %s.tmp %s", live, live);
  reload(400, "variant exp");
  expect("ctl", "v0");
  expect("exp", "first");

  /* a good one: swapped in, the control stays v0 */
  cr_assert_eq(train_model(live, "second"), 0);
  reload(200, "{\"name\":\"exp\",\"model\":\"second\"}");
  expect("ctl", "v0");
  expect("exp", "second");
}
