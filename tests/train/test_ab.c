/* A/B tests of models (issue 6 point 6; core/server/model.c, docs/adr/0014-learned-model.md addendum).
 * In-process: scoring.variants parsing and its errors, deterministic assignment and the shares over many
 * query ids, the two-proportion z-test against a hand computation, the answer ring's variant and
 * once-per-lead conversion. Through the binary: "variant" in answers, X-Leadpoet-Variant forcing a
 * variant (an unknown one is a 400), outcomes credited per variant through query_id, GET /v1/experiments,
 * the metrics, a start refused for a bad list (and check-config refusing it too), and in a cluster the
 * variant forwarded to the peers and counted once. The served variants are model v0 under several names,
 * so that the test needs no trained model (test_ab_reload.c serves trained ones, test_ab_archive.c checks
 * the archive's rows). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers/helpers.h"
#include "server/answers.h"
#include "server/model.h"

/* ---- in-process ------------------------------------------------------------------------------------ */

Test(ab_parse, good_specs) {
  lp_variant_spec v[LP_VARIANTS_MAX];
  uint32_t n = 0;
  char err[256] = "";
  cr_assert_eq(lp__variants_parse("v0:50, models/a.json:30 ,b=/m/x.json:20", v, &n, err, sizeof err), LP_OK, "%s", err);
  cr_assert_eq(n, 3);
  cr_assert_str_eq(v[0].name, "v0");
  cr_assert_str_eq(v[0].path, "v0");
  cr_assert_eq(v[0].share, 50);
  cr_assert_str_eq(v[1].name, "a");  /* the base name without its extension */
  cr_assert_str_eq(v[1].path, "models/a.json");
  cr_assert_eq(v[1].share, 30);
  cr_assert_str_eq(v[2].name, "b");
  cr_assert_str_eq(v[2].path, "/m/x.json");
  cr_assert_eq(v[2].share, 20);
  cr_assert_eq(lp__variants_parse("only=v0:100", v, &n, err, sizeof err), LP_OK, "%s", err);
  cr_assert_eq(n, 1);
  cr_assert_eq(lp__variants_parse("a=v0:100,b=v0:0", v, &n, err, sizeof err), LP_OK, "a zero share is a forced-only variant");
}

static void bad(const char *spec, const char *why) {
  lp_variant_spec v[LP_VARIANTS_MAX];
  uint32_t n = 0;
  char err[256] = "";
  cr_assert_eq(lp__variants_parse(spec, v, &n, err, sizeof err), LP_EINVAL, "%s accepted", spec);
  cr_assert_not_null(strstr(err, why), "%s: %s", spec, err);
}

Test(ab_parse, bad_specs_say_why) {
  bad("a=v0:50,b=v0:40", "sum to 90");
  bad("a=v0:60,b=v0:60", "sum to 120");
  bad("a=v0:50,a=v0:50", "named twice");
  bad("a=v0", "needs :SHARE");
  bad("a=v0:fifty,b=v0:50", "integer percent");
  bad("a=v0:101", "integer percent");
  bad("a=v0:-1,b=v0:101", "integer percent");
  bad("a=v0:", "integer percent");
  bad("a b=v0:100", "must be 1..32");
  bad("=v0:100", "must be 1..32");
  bad("a=:100", "needs a model path");
  bad("", "no variant");
  bad("a=v0:10,b=v0:10,c=v0:10,d=v0:10,e=v0:10,f=v0:10,g=v0:10,h=v0:10,i=v0:20", "at most 8");
}

Test(ab_assign, deterministic_and_shares_hold_over_many_ids) {
  lp_variant_spec v[3] = { { "a", "v0", 50 }, { "b", "v0", 30 }, { "c", "v0", 20 } };
  unsigned count[3] = { 0, 0, 0 };
  char id[32];
  for (unsigned i = 0; i < 20000; i++) {
    int len = snprintf(id, sizeof id, "q-%016x", i * 2654435761u);
    uint32_t k = lp__variant_assign(v, 3, id, (size_t)len);
    cr_assert_lt(k, 3);
    cr_assert_eq(lp__variant_assign(v, 3, id, (size_t)len), k, "the same query_id lands in the same variant");
    count[k]++;
  }
  /* within 1.5 points of the share: the binomial's sd at 20000 is about 0.35 points */
  cr_assert(fabs(count[0] / 200.0 - 50) < 1.5, "a: %u", count[0]);
  cr_assert(fabs(count[1] / 200.0 - 30) < 1.5, "b: %u", count[1]);
  cr_assert(fabs(count[2] / 200.0 - 20) < 1.5, "c: %u", count[2]);
  lp_variant_spec z[2] = { { "on", "v0", 100 }, { "off", "v0", 0 } };
  for (unsigned i = 0; i < 1000; i++) {
    int len = snprintf(id, sizeof id, "q-%u", i);
    cr_assert_eq(lp__variant_assign(z, 2, id, (size_t)len), 0, "a zero share gets no traffic");
  }
}

Test(ab_ztest, matches_a_hand_computation) {
  /* control 30 of 1000, variant 50 of 1000: p0 = 0.03, p1 = 0.05, pooled 80/2000 = 0.04,
   * se = sqrt(0.04 * 0.96 * (1/1000 + 1/1000)) = sqrt(7.68e-5) = 0.0087635609,
   * z = 0.02 / 0.0087635609 = 2.2821773, two-sided p = erfc(z / sqrt 2) = 0.0224789 (table: 2 x 0.01124). */
  double z = 0, p = 0;
  cr_assert_eq(lp__experiment_ztest(30, 1000, 50, 1000, &z, &p), LP_OK);
  cr_assert_float_eq(z, 2.2821773, 1e-6);
  cr_assert_float_eq(p, 0.0224789, 1e-6);
  /* the other way round: the sign flips, p stays */
  cr_assert_eq(lp__experiment_ztest(50, 1000, 30, 1000, &z, &p), LP_OK);
  cr_assert_float_eq(z, -2.2821773, 1e-6);
  cr_assert_float_eq(p, 0.0224789, 1e-6);
  /* equal rates: z 0, p 1 */
  cr_assert_eq(lp__experiment_ztest(10, 100, 20, 200, &z, &p), LP_OK);
  cr_assert_float_eq(z, 0.0, 1e-12);
  cr_assert_float_eq(p, 1.0, 1e-12);
  /* undefined: an empty side, more conversions than leads, no variance at all */
  cr_assert_eq(lp__experiment_ztest(0, 0, 5, 10, &z, &p), LP_ERANGE);
  cr_assert_eq(lp__experiment_ztest(1, 10, 5, 0, &z, &p), LP_ERANGE);
  cr_assert_eq(lp__experiment_ztest(11, 10, 5, 10, &z, &p), LP_ERANGE);
  cr_assert_eq(lp__experiment_ztest(0, 10, 0, 10, &z, &p), LP_ERANGE);
  cr_assert_eq(lp__experiment_ztest(10, 10, 10, 10, &z, &p), LP_ERANGE);
}

static lp_str S(const char *s) { return (lp_str){ s, strlen(s) }; }

Test(ab_ring, remembers_the_variant_and_converts_a_lead_once) {
  lp_answers *a = NULL;
  cr_assert_eq(lp__answers_new(&a, 16, 1 << 16), LP_OK);
  lp_answer_builder ab;
  lp__answer_builder_init(&ab);
  lp__answer_lead(&ab, "acme.com", 8);
  lp__answer_miner(&ab, "m1", 2);
  lp__answer_lead(&ab, "bolt.io", 7);
  ab.variant = 3;
  cr_assert_eq(lp__answers_put(a, "q-1", 3, &ab), LP_OK);
  cr_assert_eq(ab.variant, 0, "the builder is reset for the next answer");
  lp__answer_lead(&ab, "acme.com", 8);
  cr_assert_eq(lp__answers_put(a, "q-2", 3, &ab), LP_OK);
  unsigned v = 99;
  int first = 0;
  cr_assert_eq(lp__answers_credit(a, S("q-1"), S("bolt.io"), 0, &v, &first), LP_OK);
  cr_assert_eq(v, 3);
  cr_assert_eq(first, 0, "not a positive event: no conversion");
  cr_assert_eq(lp__answers_credit(a, S("q-1"), S("bolt.io"), 1, &v, &first), LP_OK);
  cr_assert_eq(first, 1);
  cr_assert_eq(lp__answers_credit(a, S("q-1"), S("bolt.io"), 1, &v, &first), LP_OK);
  cr_assert_eq(first, 0, "a lead converts once");
  cr_assert_eq(lp__answers_credit(a, S("q-1"), S("acme.com"), 1, &v, &first), LP_OK);
  cr_assert_eq(first, 1, "another lead of the same answer converts on its own");
  cr_assert_eq(lp__answers_credit(a, S("q-2"), S("acme.com"), 1, &v, &first), LP_OK);
  cr_assert_eq(v, 0);
  cr_assert_eq(first, 1);
  cr_assert_eq(lp__answers_credit(a, S("q-2"), S("bolt.io"), 1, &v, &first), LP_ENOENT, "not in that answer");
  cr_assert_eq(lp__answers_credit(a, S("q-9"), S("acme.com"), 1, &v, &first), LP_ENOENT, "no such answer");
  /* the miners are still found after the flags byte */
  lp_answer_miners m;
  cr_assert_eq(lp__answers_find(a, S("q-1"), S("acme.com"), &m), LP_OK);
  cr_assert_eq(m.n, 1);
  cr_assert_str_eq(m.id[0], "m1");
  cr_assert_eq(lp__answers_find(a, S("q-1"), S("bolt.io"), &m), LP_OK);
  cr_assert_eq(m.n, 0);
  lp__answer_builder_free(&ab);
  lp__answers_free(a);
}

/* ---- through the binary ----------------------------------------------------------------------------- */

static lpt_server srv;
static int started;

static void setup(void) {
  const char *env[] = { "LEADPOET_SCORING_VARIANTS=ctl=v0:50,exp=v0:50,dark=v0:0", NULL };
  cr_assert_eq(lpt_server_start(&srv, NULL, env), 0);
  started = 1;
}

static void teardown(void) {
  if (started) cr_assert_eq(lpt_server_stop(&srv), 0);
  started = 0;
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void post(const char *path, const char *body, int want) {
  lpt_response r;
  cr_assert_eq(lpt_http(srv.port, "POST", path, "application/json", body, strlen(body), &r), 0);
  cr_assert_eq(r.status, want, "%s: %d %s", path, r.status, r.body);
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

/* POST /v1/leads with X-Leadpoet-Variant (NULL: none); the parsed answer (status in *status). */
static json_t *ask(const char *variant, int *status) {
  static const char body[] = "{\"prompt\":\"invoicing software\",\"k\":10}";
  char req[1024];
  char hdr[128] = "";
  if (variant) snprintf(hdr, sizeof hdr, "X-Leadpoet-Variant: %s\r\n", variant);
  int n = snprintf(req, sizeof req,
                   "POST /v1/leads HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n%sContent-Length: %zu\r\n"
                   "Connection: close\r\n\r\n%s",
                   hdr, sizeof(body) - 1, body);
  int fd = lpt_connect(srv.port);
  cr_assert_geq(fd, 0);
  cr_assert_eq(lpt_send_all(fd, req, (size_t)n), 0);
  lpt_response r;
  cr_assert_eq(lpt_read_response(fd, &r, 10000), 0);
  close(fd);
  *status = r.status;
  json_t *j = json_loads(r.body, 0, NULL);
  cr_assert_not_null(j, "%s", r.body);
  lpt_response_free(&r);
  return j;
}

static json_t *get_json(const char *path) {
  lpt_response r;
  cr_assert_eq(lpt_http(srv.port, "GET", path, NULL, NULL, 0, &r), 0);
  cr_assert_eq(r.status, 200, "%s", r.body);
  json_t *j = json_loads(r.body, 0, NULL);
  cr_assert_not_null(j, "%s", r.body);
  lpt_response_free(&r);
  return j;
}

static json_t *variant_of(json_t *exp, const char *name) {
  json_t *vs = json_object_get(exp, "variants"), *v;
  size_t i;
  json_array_foreach(vs, i, v) if (strcmp(json_string_value(json_object_get(v, "name")), name) == 0) return v;
  cr_assert_fail("no variant %s", name);
  return NULL;
}

static long long num(json_t *o, const char *key) { return (long long)json_integer_value(json_object_get(o, key)); }

TestSuite(ab_server, .init = setup, .fini = teardown, .timeout = 120);

Test(ab_server, variants_answer_forced_and_credited_through_query_id) {
  seed_leads();
  char qid[2][40][32];
  int per[2] = { 0, 0 };
  for (int i = 0; i < 40; i++) {
    int st = 0;
    json_t *j = ask(NULL, &st);
    cr_assert_eq(st, 200);
    const char *v = json_string_value(json_object_get(j, "variant"));
    cr_assert_not_null(v, "every answer names its variant");
    cr_assert(strcmp(v, "ctl") == 0 || strcmp(v, "exp") == 0, "%s: a zero share is never assigned", v);
    cr_assert_str_eq(json_string_value(json_object_get(j, "model")), "v0");
    cr_assert_eq(json_array_size(json_object_get(j, "leads")), 2);
    int k = strcmp(v, "exp") == 0;
    snprintf(qid[k][per[k]++], 32, "%s", json_string_value(json_object_get(j, "query_id")));
    json_decref(j);
  }
  cr_assert(per[0] > 0 && per[1] > 0, "ctl %d, exp %d: both get traffic", per[0], per[1]);
  for (int i = 0; i < 3; i++) {  /* forced: also the zero-share variant */
    int st = 0;
    json_t *j = ask("dark", &st);
    cr_assert_eq(st, 200);
    cr_assert_str_eq(json_string_value(json_object_get(j, "variant")), "dark");
    json_decref(j);
  }
  int st = 0;
  json_t *j = ask("nope", &st);
  cr_assert_eq(st, 400);
  cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")), "bad_request");
  cr_assert_not_null(strstr(json_string_value(json_object_get(json_object_get(j, "error"), "message")), "unknown variant"));
  json_decref(j);

  /* outcomes: the first ctl answer gets a meeting then a purchase on acme (one conversion, two positive
   * outcomes), the first exp answer replies on both leads (two conversions), an outcome naming no query
   * and one naming a lead its answer did not return are not credited */
  char body[2048];
  long long t = now_ms();
  snprintf(body, sizeof body,
           "[{\"id\":\"o1\",\"ts\":%lld,\"domain\":\"acme.com\",\"event\":\"meeting\",\"query_id\":\"%s\"},"
           "{\"id\":\"o2\",\"ts\":%lld,\"domain\":\"acme.com\",\"event\":\"purchased\",\"query_id\":\"%s\"},"
           "{\"id\":\"o3\",\"ts\":%lld,\"domain\":\"acme.com\",\"event\":\"replied\",\"query_id\":\"%s\"},"
           "{\"id\":\"o4\",\"ts\":%lld,\"domain\":\"bolt.io\",\"event\":\"replied\",\"query_id\":\"%s\"},"
           "{\"id\":\"o5\",\"ts\":%lld,\"domain\":\"bolt.io\",\"event\":\"bounced\",\"query_id\":\"%s\"},"
           "{\"id\":\"o6\",\"ts\":%lld,\"domain\":\"acme.com\",\"event\":\"meeting\"},"
           "{\"id\":\"o7\",\"ts\":%lld,\"domain\":\"zeta.com\",\"event\":\"meeting\",\"query_id\":\"%s\"}]",
           t, qid[0][0], t, qid[0][0], t, qid[1][0], t, qid[1][0], t, qid[0][0], t, t, qid[1][0]);
  post("/v1/outcomes", body, 202);

  json_t *exp = NULL, *ctl = NULL, *ex = NULL;
  for (int tries = 0; tries < 100; tries++) {  /* outcomes are applied on the workers, then credited */
    json_decref(exp);
    exp = get_json("/v1/experiments");
    ctl = variant_of(exp, "ctl");
    ex = variant_of(exp, "exp");
    if (num(json_object_get(ctl, "outcomes"), "bounced") == 1 && num(ex, "converted") == 2) break;
    usleep(50000);
  }
  cr_assert_eq(json_is_true(json_object_get(exp, "experiment")), 1);
  cr_assert_str_eq(json_string_value(json_object_get(exp, "control")), "ctl");
  cr_assert_eq(num(ctl, "share"), 50);
  cr_assert_eq(num(ctl, "queries"), per[0]);
  cr_assert_eq(num(ex, "queries"), per[1]);
  cr_assert_eq(num(ctl, "leads_delivered"), 2LL * per[0]);
  cr_assert_eq(num(ex, "leads_delivered"), 2LL * per[1]);
  cr_assert_eq(num(variant_of(exp, "dark"), "queries"), 3);
  json_t *co = json_object_get(ctl, "outcomes"), *eo = json_object_get(ex, "outcomes");
  cr_assert_eq(num(co, "meeting"), 1);
  cr_assert_eq(num(co, "purchased"), 1);
  cr_assert_eq(num(co, "bounced"), 1);
  cr_assert_eq(num(co, "replied"), 0);
  cr_assert_eq(num(eo, "replied"), 2);
  cr_assert_eq(num(eo, "meeting"), 0, "o7 named a lead the answer did not return");
  cr_assert_eq(num(ctl, "positive"), 2);
  cr_assert_eq(num(ctl, "converted"), 1);
  cr_assert_eq(num(ex, "positive"), 2);
  cr_assert_eq(num(ex, "converted"), 2);
  cr_assert_float_eq(json_number_value(json_object_get(ctl, "conversion_rate")), 1.0 / (2.0 * per[0]), 1e-6);
  cr_assert(json_is_null(json_object_get(ctl, "z")), "the control has no test against itself");
  double z = 0, p = 0;
  cr_assert_eq(lp__experiment_ztest(1, 2 * (uint64_t)per[0], 2, 2 * (uint64_t)per[1], &z, &p), LP_OK);
  cr_assert_float_eq(json_number_value(json_object_get(ex, "z")), z, 1e-5);
  cr_assert_float_eq(json_number_value(json_object_get(ex, "p_value")), p, 1e-5);
  json_decref(exp);

  lpt_response r;
  cr_assert_eq(lpt_http(srv.port, "GET", "/metrics", NULL, NULL, 0, &r), 0);
  char line[128];
  snprintf(line, sizeof line, "leadpoet_experiment_queries_total{variant=\"exp\"} %d\n", per[1]);
  cr_assert_not_null(strstr(r.body, line), "%s", line);
  cr_assert_not_null(strstr(r.body, "leadpoet_experiment_outcomes_total{variant=\"exp\",event=\"replied\"} 2\n"));
  cr_assert_not_null(strstr(r.body, "leadpoet_experiment_outcomes_total{variant=\"ctl\",event=\"purchased\"} 1\n"));
  lpt_response_free(&r);
}

Test(ab_server, reload_keeps_every_variant) {
  lpt_response r;
  cr_assert_eq(lpt_http(srv.port, "POST", "/v1/admin/reload", "application/json", "", 0, &r), 0);
  cr_assert_eq(r.status, 200, "%s", r.body);
  cr_assert_not_null(strstr(r.body, "\"variants\":[{\"name\":\"ctl\",\"model\":\"v0\"},{\"name\":\"exp\""), "%s", r.body);
  lpt_response_free(&r);
}

/* ---- without a test, and with a bad one ------------------------------------------------------------- */

Test(ab_off, no_variant_no_header_and_an_empty_report) {
  cr_assert_eq(lpt_server_start(&srv, NULL, NULL), 0);
  int st = 0;
  json_t *j = ask(NULL, &st);
  cr_assert_eq(st, 200);
  cr_assert(json_is_null(json_object_get(j, "variant")));
  json_decref(j);
  j = ask("ctl", &st);
  cr_assert_eq(st, 400);
  cr_assert_not_null(strstr(json_string_value(json_object_get(json_object_get(j, "error"), "message")), "no A/B test"));
  json_decref(j);
  j = get_json("/v1/experiments");
  cr_assert(json_is_false(json_object_get(j, "experiment")));
  cr_assert_eq(json_array_size(json_object_get(j, "variants")), 0);
  json_decref(j);
  cr_assert_eq(lpt_server_stop(&srv), 0);
}

static void refused(const char *var, const char *var2, const char *why) {
  const char *env[] = { var, var2, NULL };
  lpt_server s;
  memset(&s, 0, sizeof s);
  cr_assert_neq(lpt_server_start(&s, NULL, env), 0, "%s: the server started", var);
  size_t len = 0;
  char *log = lpt_read_file(s.log_path, &len);
  cr_assert_not_null(log);
  cr_assert_not_null(strstr(log, why), "%s", log);
  free(log);
}

Test(ab_off, bad_variants_fail_the_start) {
  refused("LEADPOET_SCORING_VARIANTS=a=v0:50,b=v0:40", NULL, "sum to 90");
}

Test(ab_off, a_missing_model_file_fails_the_start) {
  refused("LEADPOET_SCORING_VARIANTS=a=v0:50,b=/nonexistent/m.json:50", NULL, "variant b");
}

Test(ab_off, a_model_and_variants_together_fail_the_start) {
  refused("LEADPOET_SCORING_VARIANTS=a=v0:50,b=v0:50", "LEADPOET_SCORING_MODEL=/nonexistent/m.json", "both set");
}

/* leadpoet check-config runs the same parser: a bad list is a usage error (2) naming the key, a good one passes. */
Test(ab_off, check_config_checks_the_list) {
  char path[] = "/tmp/lp_ab_conf_XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  static const char bad_conf[] = "[scoring]\nvariants = \"a=v0:50,a=v0:50\"\n";
  cr_assert_eq(write(fd, bad_conf, sizeof(bad_conf) - 1), (ssize_t)(sizeof(bad_conf) - 1));
  close(fd);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "%s check-config %s 2>&1 | grep -q 'variants: variant a is named twice'", LP_BINARY_PATH, path);
  cr_assert_eq(system(cmd), 0, "%s", cmd);
  snprintf(cmd, sizeof cmd, "%s check-config %s >/dev/null 2>&1", LP_BINARY_PATH, path);
  int st = system(cmd);
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2, "exit %d", st);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs("[scoring]\nvariants = \"a=v0:70,b=v0:30\"\n", f);
  fclose(f);
  snprintf(cmd, sizeof cmd, "%s check-config %s >/dev/null 2>&1", LP_BINARY_PATH, path);
  cr_assert_eq(system(cmd), 0);
  unlink(path);
}

/* ---- a cluster: the asking instance's variant scores the query everywhere, and only it counts it ------ */

static json_t *ask_port(int port, const char *variant, int *status) {
  int keep = srv.port;
  srv.port = port;
  json_t *j = ask(variant, status);
  srv.port = keep;
  return j;
}

Test(ab_peers, the_variant_travels_to_the_peers_and_is_counted_once) {
  const char *env_b[] = { "LEADPOET_KAFKA_MODE=off", "LEADPOET_SERVER_SHARDS=4", "LEADPOET_SERVER_WORKERS=1",
                          "LEADPOET_SCORING_VARIANTS=ctl=v0:50,exp=v0:50", NULL };
  lpt_server b;
  cr_assert_eq(lpt_server_start(&b, NULL, env_b), 0);
  char peers[96];
  snprintf(peers, sizeof peers, "LEADPOET_PEERS=%s", b.addr);
  const char *env_a[] = { "LEADPOET_KAFKA_MODE=off", "LEADPOET_SERVER_SHARDS=4", "LEADPOET_SERVER_WORKERS=1",
                          "LEADPOET_SCORING_VARIANTS=ctl=v0:50,exp=v0:50", peers, NULL };
  lpt_server a;
  cr_assert_eq(lpt_server_start(&a, NULL, env_a), 0);
  /* the lead lives on B only */
  char body[1024];
  snprintf(body, sizeof body,
           "[{\"id\":\"b1\",\"miner\":\"m2\",\"ts\":%lld,\"lead\":{\"domain\":\"bolt.io\"},\"kind\":\"review\","
           "\"text\":\"Bolt compared invoicing software vendors\"}]",
           now_ms() - 3600000LL);
  lpt_response r;
  cr_assert_eq(lpt_http(b.port, "POST", "/v1/snippets", "application/json", body, strlen(body), &r), 0);
  cr_assert_eq(r.status, 202, "%s", r.body);
  lpt_response_free(&r);
  int st = 0;
  json_t *j = ask_port(a.port, "exp", &st);
  cr_assert_eq(st, 200);
  cr_assert_str_eq(json_string_value(json_object_get(j, "variant")), "exp");
  cr_assert(json_is_false(json_object_get(j, "partial")), "B took the forwarded variant");
  cr_assert_eq(json_array_size(json_object_get(j, "leads")), 1, "B's lead is in A's answer");
  json_decref(j);
  srv.port = a.port;
  json_t *ea = get_json("/v1/experiments");
  srv.port = b.port;
  json_t *eb = get_json("/v1/experiments");
  cr_assert_eq(num(variant_of(ea, "exp"), "queries"), 1);
  cr_assert_eq(num(variant_of(ea, "exp"), "leads_delivered"), 1);
  cr_assert_eq(num(variant_of(eb, "exp"), "queries"), 0, "a peer's request is counted by the instance that asked");
  json_decref(ea);
  json_decref(eb);
  cr_assert_eq(lpt_server_stop(&a), 0);
  cr_assert_eq(lpt_server_stop(&b), 0);
}

/* The header does travel: a peer without the A/B test refuses it (400), and the answer is partial. Every
 * instance of a cluster must list the same variants. */
Test(ab_peers, a_peer_without_the_test_refuses_the_variant) {
  const char *env_b[] = { "LEADPOET_KAFKA_MODE=off", "LEADPOET_SERVER_SHARDS=4", "LEADPOET_SERVER_WORKERS=1", NULL };
  lpt_server b;
  cr_assert_eq(lpt_server_start(&b, NULL, env_b), 0);
  char peers[96];
  snprintf(peers, sizeof peers, "LEADPOET_PEERS=%s", b.addr);
  const char *env_a[] = { "LEADPOET_KAFKA_MODE=off", "LEADPOET_SERVER_SHARDS=4", "LEADPOET_SERVER_WORKERS=1",
                          "LEADPOET_SCORING_VARIANTS=ctl=v0:50,exp=v0:50", peers, NULL };
  lpt_server a;
  cr_assert_eq(lpt_server_start(&a, NULL, env_a), 0);
  int st = 0;
  json_t *j = ask_port(a.port, "ctl", &st);
  cr_assert_eq(st, 200);
  cr_assert(json_is_true(json_object_get(j, "partial")));
  json_decref(j);
  cr_assert_eq(lpt_server_stop(&a), 0);
  cr_assert_eq(lpt_server_stop(&b), 0);
}
