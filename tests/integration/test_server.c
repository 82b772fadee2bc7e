/* Starts the real binary on a free port and drives it over HTTP, as a user would. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "helpers/helpers.h"

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Item i of the 1,000: every tenth is bad in one of ten ways, with the code we expect. */
static const char *bad_code(int i) {
  static const char *codes[] = { "bad_field", "b2c_domain", "pii", "future_ts", "bad_field",
                                 "bad_field", "bad_field", "bad_field", "b2c_domain", "bad_field" };
  return i % 10 == 7 ? codes[(i / 10) % 10] : NULL;
}

static void item(char *out, size_t cap, int i, long long ts) {
  const char *code = bad_code(i);
  char domain[64];
  snprintf(domain, sizeof(domain), "https://www.Company%d.com/about", i % 300);
  if (code == NULL) {
    snprintf(out, cap,
             "{\"id\":\"s%d\",\"miner\":\"miner-%d\",\"ts\":%lld,\"lead\":{\"domain\":\"%s\",\"name\":\"Company %d\","
             "\"employees\":%d,\"country\":\"us\"},\"kind\":\"hiring\",\"text\":\"Company %d is hiring engineer %d\","
             "\"tech_added\":[\"kubernetes\"]}",
             i, i % 7, ts - i, domain, i % 300, 10 + i % 300, i % 300, i);
    return;
  }
  switch ((i / 10) % 10) {
  case 0: snprintf(out, cap, "{\"id\":\"s%d\",\"miner\":\"m\",\"ts\":\"yesterday\",\"lead\":{\"domain\":\"a.com\"},\"kind\":\"web\",\"text\":\"t\"}", i); break;
  case 1: snprintf(out, cap, "{\"id\":\"s%d\",\"miner\":\"m\",\"ts\":%lld,\"lead\":{\"domain\":\"gmail.com\"},\"kind\":\"web\",\"text\":\"t\"}", i, ts); break;
  case 2: snprintf(out, cap, "{\"id\":\"s%d\",\"miner\":\"m\",\"ts\":%lld,\"lead\":{\"domain\":\"acme.com\"},\"kind\":\"web\",\"text\":\"write to john.smith@acme.com\"}", i, ts); break;
  case 3: snprintf(out, cap, "{\"id\":\"s%d\",\"miner\":\"m\",\"ts\":%lld,\"lead\":{\"domain\":\"acme.com\"},\"kind\":\"web\",\"text\":\"t\"}", i, ts + 3600 * 1000LL); break;
  case 4: snprintf(out, cap, "{\"id\":\"s%d\",\"miner\":\"m\",\"ts\":%lld,\"lead\":{\"domain\":\"acme.com\"},\"kind\":\"gossip\",\"text\":\"t\"}", i, ts); break;
  case 5: snprintf(out, cap, "{\"id\":\"s%d\",\"miner\":\"bad miner!\",\"ts\":%lld,\"lead\":{\"domain\":\"acme.com\"},\"kind\":\"web\",\"text\":\"t\"}", i, ts); break;
  case 6: snprintf(out, cap, "{\"id\":\"s%d\",\"miner\":\"m\",\"ts\":%lld,\"lead\":{\"domain\":\"not a domain\"},\"kind\":\"web\",\"text\":\"t\"}", i, ts); break;
  case 7: snprintf(out, cap, "{\"id\":\"s%d\",\"miner\":\"m\",\"ts\":%lld,\"lead\":{\"domain\":\"acme.com\"},\"kind\":\"web\",\"text\":\"\"}", i, ts); break;
  case 8: snprintf(out, cap, "{\"id\":\"s%d\",\"miner\":\"m\",\"ts\":%lld,\"lead\":{\"domain\":\"mailinator.com\"},\"kind\":\"web\",\"text\":\"t\"}", i, ts); break;
  default: snprintf(out, cap, "{\"id\":\"s%d\",\"miner\":\"m\",\"ts\":%lld,\"lead\":{\"domain\":\"acme.com\",\"employees\":-5},\"kind\":\"web\",\"text\":\"t\"}", i, ts); break;
  }
}

static char *build_body(int n, long long ts) {
  size_t cap = (size_t)n * 600 + 16, len = 0;
  char *b = malloc(cap);
  b[len++] = '[';
  char one[600];
  for (int i = 0; i < n; i++) {
    item(one, sizeof(one), i, ts);
    len += (size_t)snprintf(b + len, cap - len, "%s%s", i ? "," : "", one);
  }
  b[len++] = ']';
  b[len] = '\0';
  return b;
}

static json_t *get_json(int port, const char *path, int *status) {
  lpt_response r;
  cr_assert_eq(lpt_http(port, "GET", path, NULL, NULL, 0, &r), 0, "GET %s", path);
  *status = r.status;
  json_t *j = json_loads(r.body, 0, NULL);
  lpt_response_free(&r);
  return j;
}

Test(integration, thousand_snippets_with_a_hundred_bad, .timeout = 120) {
  lpt_server s;
  cr_assert_eq(lpt_server_start(&s, NULL, NULL), 0, "server starts");
  long long ts = now_ms();
  char *body = build_body(1000, ts);
  lpt_response r;
  cr_assert_eq(lpt_http(s.port, "POST", "/v1/snippets", "application/json", body, strlen(body), &r), 0);
  cr_assert_eq(r.status, 202, "%s", r.body);
  json_error_t je;
  json_t *j = json_loads(r.body, 0, &je);
  cr_assert_not_null(j, "%s", r.body);
  cr_assert_eq(json_integer_value(json_object_get(j, "accepted")), 900, "%.3000s", r.body);
  json_t *rej = json_object_get(j, "rejected");
  cr_assert_eq(json_array_size(rej), 100);
  size_t k;
  json_t *e;
  json_array_foreach(rej, k, e) {
    int idx = (int)json_integer_value(json_object_get(e, "index"));
    const char *code = json_string_value(json_object_get(e, "code"));
    cr_assert_not_null(bad_code(idx), "index %d was good but rejected (%s)", idx, code);
    cr_assert_str_eq(code, bad_code(idx), "index %d: %s", idx, json_string_value(json_object_get(e, "message")));
    cr_assert(strlen(json_string_value(json_object_get(e, "message"))) > 0);
  }
  json_decref(j);
  lpt_response_free(&r);

  /* The good leads are visible, canonicalised, with their evidence. */
  int st;
  json_t *lead = get_json(s.port, "/v1/leads/company1.com", &st);
  cr_assert_eq(st, 200);
  cr_assert_str_eq(json_string_value(json_object_get(lead, "domain")), "company1.com");
  cr_assert_str_eq(json_string_value(json_object_get(lead, "country")), "US");
  cr_assert_geq(json_integer_value(json_object_get(lead, "snippets")), 3);
  cr_assert_gt(json_array_size(json_object_get(lead, "evidence")), 0);
  cr_assert_str_eq(json_string_value(json_array_get(json_object_get(lead, "tech"), 0)), "kubernetes");
  json_decref(lead);
  lead = get_json(s.port, "/v1/leads/WWW.Company2.COM", &st);
  cr_assert_eq(st, 200, "the path is canonicalised like a snippet's domain");
  json_decref(lead);
  json_t *missing = get_json(s.port, "/v1/leads/nobody-here.com", &st);
  cr_assert_eq(st, 404);
  cr_assert_str_eq(json_string_value(json_object_get(json_object_get(missing, "error"), "code")), "not_found");
  json_decref(missing);

  /* Sending the same batch again applies nothing twice. */
  cr_assert_eq(lpt_http(s.port, "POST", "/v1/snippets", "application/json", body, strlen(body), &r), 0);
  j = json_loads(r.body, 0, NULL);
  cr_assert_eq(json_integer_value(json_object_get(j, "accepted")), 0, "%s", r.body);
  json_decref(j);
  lpt_response_free(&r);
  free(body);

  /* Metrics count what happened, and stopping is clean. */
  cr_assert_eq(lpt_http(s.port, "GET", "/metrics", NULL, NULL, 0, &r), 0);
  cr_assert(strstr(r.body, "leadpoet_snippets_total{result=\"accepted\"} 900") != NULL);
  cr_assert(strstr(r.body, "leadpoet_snippets_total{result=\"duplicate\"} 900") != NULL);
  cr_assert(strstr(r.body, "leadpoet_snippets_total{result=\"pii\"} 20") != NULL);
  cr_assert(strstr(r.body, "process_resident_memory_bytes") != NULL);
  lpt_response_free(&r);
  cr_assert_eq(lpt_server_stop(&s), 0, "SIGTERM: exit 0");
}

Test(integration, ndjson_outcomes_status_and_readiness, .timeout = 120) {
  lpt_server s;
  cr_assert_eq(lpt_server_start(&s, NULL, NULL), 0);
  int st = 0;
  /* Ready once the state is restored and the consumer has its partitions and their ends (a few seconds at
   * most): until then 503 with the reason. */
  for (int i = 0; i < 400 && st != 200; i++) {
    json_t *j = get_json(s.port, "/readyz", &st);
    if (st != 200) {
      cr_assert_eq(st, 503);
      char *text = json_dumps(j, 0);
      cr_assert(text != NULL && strstr(text, "not_ready") != NULL, "%s", text ? text : "(no body)");
      free(text);
      usleep(50 * 1000);
    }
    json_decref(j);
  }
  cr_assert_eq(st, 200, "ready within 20 s");
  char body[1024];
  long long ts = now_ms();
  snprintf(body, sizeof(body),
           "{\"id\":\"o1\",\"ts\":%lld,\"domain\":\"acme.com\",\"event\":\"meeting\"}\n"
           "not json\n"
           "{\"id\":\"o2\",\"ts\":%lld,\"domain\":\"acme.com\",\"event\":\"teleported\"}\n"
           "{\"id\":\"o3\",\"ts\":%lld,\"domain\":\"hotmail.com\",\"event\":\"replied\"}\n",
           ts, ts, ts);
  lpt_response r;
  cr_assert_eq(lpt_http(s.port, "POST", "/v1/outcomes", "application/x-ndjson", body, strlen(body), &r), 0);
  cr_assert_eq(r.status, 202, "%s", r.body);
  json_t *j = json_loads(r.body, 0, NULL);
  cr_assert_eq(json_integer_value(json_object_get(j, "accepted")), 1, "%s", r.body);
  json_t *rej = json_object_get(j, "rejected");
  cr_assert_eq(json_array_size(rej), 3);
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(rej, 0), "code")), "bad_json");
  cr_assert_eq(json_integer_value(json_object_get(json_array_get(rej, 0), "index")), 1);
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(rej, 1), "code")), "bad_field");
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(rej, 2), "code")), "b2c_domain");
  json_decref(j);
  lpt_response_free(&r);

  j = get_json(s.port, "/v1/status", &st);
  cr_assert_eq(st, 200);
  cr_assert_eq(json_integer_value(json_object_get(j, "shards")), 64);
  cr_assert_gt(json_integer_value(json_object_get(j, "workers")), 0);
  json_decref(j);

  /* Errors of the ingest routes. */
  cr_assert_eq(lpt_http(s.port, "POST", "/v1/snippets", "application/json", "[{", 2, &r), 0);
  cr_assert_eq(r.status, 400);
  cr_assert(strstr(r.body, "\"code\":\"bad_json\"") != NULL, "%s", r.body);
  lpt_response_free(&r);
  cr_assert_eq(lpt_http(s.port, "POST", "/v1/snippets", "text/csv", "a,b", 3, &r), 0);
  cr_assert_eq(r.status, 415);
  lpt_response_free(&r);
  cr_assert_eq(lpt_http(s.port, "GET", "/v1/snippets", NULL, NULL, 0, &r), 0);
  cr_assert_eq(r.status, 405);
  char allow[64];
  cr_assert_eq(lpt_header(&r, "Allow", allow, sizeof(allow)), 0);
  cr_assert(strstr(allow, "POST") != NULL);
  lpt_response_free(&r);
  cr_assert_eq(lpt_http(s.port, "GET", "/v1/nothing", NULL, NULL, 0, &r), 0);
  cr_assert_eq(r.status, 404);
  lpt_response_free(&r);
  cr_assert_eq(lpt_server_stop(&s), 0);
}

Test(integration, state_survives_a_graceful_restart, .timeout = 120) {
  char dir[] = "/tmp/lpt-state-XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  char env_dir[600];
  snprintf(env_dir, sizeof(env_dir), "LEADPOET_SERVER_STATE_DIR=%s", dir);
  const char *env[] = { env_dir, NULL };
  lpt_server s;
  cr_assert_eq(lpt_server_start(&s, NULL, env), 0);
  char *body = build_body(200, now_ms());
  lpt_response r;
  cr_assert_eq(lpt_http(s.port, "POST", "/v1/snippets", "application/json", body, strlen(body), &r), 0);
  cr_assert_eq(r.status, 202);
  lpt_response_free(&r);
  cr_assert_eq(lpt_server_stop(&s), 0);

  cr_assert_eq(lpt_server_start(&s, NULL, env), 0, "restarts from its snapshot");
  int st;
  json_t *lead = get_json(s.port, "/v1/leads/company5.com", &st);
  cr_assert_eq(st, 200);
  cr_assert_eq(json_integer_value(json_object_get(lead, "snippets")), 1);
  json_decref(lead);
  /* The dedupe state came back too: the same batch is all duplicates. */
  cr_assert_eq(lpt_http(s.port, "POST", "/v1/snippets", "application/json", body, strlen(body), &r), 0);
  json_t *j = json_loads(r.body, 0, NULL);
  cr_assert_eq(json_integer_value(json_object_get(j, "accepted")), 0, "%s", r.body);
  json_decref(j);
  lpt_response_free(&r);
  free(body);
  cr_assert_eq(lpt_server_stop(&s), 0);

  /* A snapshot it cannot read stops the start instead of starting empty. */
  char path[700];
  snprintf(path, sizeof(path), "%s/shard-0000.lpstate", dir);
  FILE *f = fopen(path, "w");
  fputs("not a snapshot", f);
  fclose(f);
  cr_assert_neq(lpt_server_start(&s, NULL, env), 0, "a corrupt snapshot refuses the start");
  char cmd[800];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  cr_assert_eq(system(cmd), 0);
}

Test(integration, cli_exit_codes, .timeout = 60) {
  char cmd[512];
  snprintf(cmd, sizeof(cmd), "%s version >/dev/null", LP_BINARY_PATH);
  cr_assert_eq(WEXITSTATUS(system(cmd)), 0);
  snprintf(cmd, sizeof(cmd), "%s frobnicate 2>/dev/null", LP_BINARY_PATH);
  cr_assert_eq(WEXITSTATUS(system(cmd)), 2);
  snprintf(cmd, sizeof(cmd), "%s serve --bogus 2>/dev/null", LP_BINARY_PATH);
  cr_assert_eq(WEXITSTATUS(system(cmd)), 2);
  snprintf(cmd, sizeof(cmd), "%s serve --listen nonsense 2>/dev/null", LP_BINARY_PATH);
  cr_assert_eq(WEXITSTATUS(system(cmd)), 2);
  snprintf(cmd, sizeof(cmd), "LEADPOET_SERVER_SHARDS=3 %s serve 2>/dev/null", LP_BINARY_PATH);
  cr_assert_eq(WEXITSTATUS(system(cmd)), 2, "a bad env value is a config error");
  for (const char *c = "serve\0ingest\0query\0check-config\0"; *c; c += strlen(c) + 1) {
    snprintf(cmd, sizeof(cmd), "%s %s --help >/dev/null", LP_BINARY_PATH, c);
    cr_assert_eq(WEXITSTATUS(system(cmd)), 0, "%s --help", c);
  }
  snprintf(cmd, sizeof(cmd), "%s check-config --help | grep -q max_body_bytes", LP_BINARY_PATH);
  cr_assert_eq(WEXITSTATUS(system(cmd)), 0, "the reference lists the keys");
  snprintf(cmd, sizeof(cmd), "%s check-config %s/config/leadpoet.conf >/dev/null", LP_BINARY_PATH, LP_SOURCE_DIR);
  cr_assert_eq(WEXITSTATUS(system(cmd)), 0, "the shipped config is valid");
  char bad[] = "/tmp/lpt-conf-XXXXXX";
  int fd = mkstemp(bad);
  const char *text = "[server]\nshards = 64\n\n[http]\nmax_body_bytes = lots\n";
  cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  snprintf(cmd, sizeof(cmd), "%s check-config %s 2>&1 | grep -q ':5:'", LP_BINARY_PATH, bad);
  cr_assert_eq(WEXITSTATUS(system(cmd)), 0, "the error names the line");
  snprintf(cmd, sizeof(cmd), "%s check-config %s 2>/dev/null", LP_BINARY_PATH, bad);
  cr_assert_eq(WEXITSTATUS(system(cmd)), 2);
  unlink(bad);
}
