/* The binary with the example plugin, a broken plugin, and `leadpoet ingest` against a live server. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers/helpers.h"

#define PLUGIN_DIR LP_BUILD_DIR "/plugins/example/"

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void post_one(int port, const char *id, const char *domain, lpt_response *r) {
  char body[512];
  snprintf(body, sizeof(body),
           "[{\"id\":\"%s\",\"miner\":\"m\",\"ts\":%lld,\"lead\":{\"domain\":\"%s\"},\"kind\":\"web\",\"text\":\"hello\"}]",
           id, now_ms(), domain);
  cr_assert_eq(lpt_http(port, "POST", "/v1/snippets", "application/json", body, strlen(body), r), 0);
}

Test(integration, example_plugin_loads_and_blocks, .timeout = 60) {
  const char *env[] = { "LEADPOET_STAGES_ORDER=ingest,blocklist",
                        "LEADPOET_STAGES_PLUGINS=" PLUGIN_DIR "liblp_example_blocklist.so",
                        "LEADPOET_STAGE_BLOCKLIST_DOMAINS=blocked.com", NULL };
  lpt_server s;
  cr_assert_eq(lpt_server_start(&s, NULL, env), 0, "starts with the plugin");
  lpt_response r;
  post_one(s.port, "a", "eu.blocked.com", &r);
  cr_assert_eq(r.status, 202);
  cr_assert(strstr(r.body, "\"code\":\"blocked_domain\"") != NULL, "%s", r.body);
  lpt_response_free(&r);
  post_one(s.port, "b", "fine.com", &r);
  cr_assert(strstr(r.body, "\"accepted\":1") != NULL, "%s", r.body);
  lpt_response_free(&r);
  cr_assert_eq(lpt_http(s.port, "GET", "/v1/status", NULL, NULL, 0, &r), 0);
  cr_assert(strstr(r.body, "\"stages\":[\"ingest\",\"blocklist\"]") != NULL, "%s", r.body);
  lpt_response_free(&r);
  cr_assert_eq(lpt_http(s.port, "GET", "/metrics", NULL, NULL, 0, &r), 0);
  cr_assert(strstr(r.body, "leadpoet_snippets_total{result=\"blocked_domain\"} 1") != NULL);
  lpt_response_free(&r);
  cr_assert_eq(lpt_server_stop(&s), 0);
}

/* Runs `leadpoet serve` with env and returns its exit code; its stderr goes to out (cap bytes). */
static int serve_exit(const char *env, char *out, size_t cap) {
  char cmd[1024];
  snprintf(cmd, sizeof(cmd), "%s %s serve --listen 127.0.0.1:%d 2>&1", env, LP_BINARY_PATH, lpt_free_port());
  FILE *p = popen(cmd, "r");
  size_t n = fread(out, 1, cap - 1, p);
  out[n] = '\0';
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(integration, wrong_abi_plugin_is_refused_at_start, .timeout = 60) {
  char out[8192];
  int rc = serve_exit("LEADPOET_STAGES_ORDER=ingest,blocklist LEADPOET_STAGES_PLUGINS=" PLUGIN_DIR "liblp_example_badabi.so",
                      out, sizeof(out));
  cr_assert_eq(rc, 1, "exit 1: %s", out);
  cr_assert(strstr(out, "stage ABI 2.") != NULL && strstr(out, "speaks stage ABI 1.") != NULL, "names both versions: %s", out);
  rc = serve_exit("LEADPOET_STAGES_ORDER=ingest,blocklist LEADPOET_STAGES_PLUGINS=" PLUGIN_DIR "liblp_example_nosym.so",
                  out, sizeof(out));
  cr_assert_eq(rc, 1, "exit 1: %s", out);
  cr_assert(strstr(out, "lp_stage_entry") != NULL, "names the missing symbol: %s", out);
  rc = serve_exit("LEADPOET_STAGES_ORDER=ingest,nosuchstage", out, sizeof(out));
  cr_assert_eq(rc, 1, "an unknown stage: %s", out);
  cr_assert(strstr(out, "nosuchstage") != NULL, "%s", out);
}

Test(integration, cli_ingest_posts_a_file, .timeout = 60) {
  lpt_server s;
  /* One miner sends 2,500 snippets at once: lift its rate limit, which the next test exercises. */
  const char *env[] = { "LEADPOET_STAGE_THROTTLE_BURST=100000", NULL };
  cr_assert_eq(lpt_server_start(&s, NULL, env), 0);
  char path[] = "/tmp/lpt-ingest-XXXXXX";
  int fd = mkstemp(path);
  FILE *f = fdopen(fd, "w");
  for (int i = 0; i < 2500; i++)
    fprintf(f, "{\"id\":\"x%d\",\"miner\":\"m\",\"ts\":%lld,\"lead\":{\"domain\":\"lead%d.io\"},\"kind\":\"news\",\"text\":\"t %d\"}\n",
            i, now_ms(), i % 50, i);
  fprintf(f, "{\"id\":\"bad\",\"miner\":\"m\",\"ts\":1700000000000,\"lead\":{\"domain\":\"yahoo.com\"},\"kind\":\"news\",\"text\":\"t\"}\n");
  fclose(f);
  char cmd[1024], out[8192];
  snprintf(cmd, sizeof(cmd), "%s ingest %s --url http://127.0.0.1:%d --batch 1000 2>&1", LP_BINARY_PATH, path, s.port);
  FILE *p = popen(cmd, "r");
  size_t n = fread(out, 1, sizeof(out) - 1, p);
  out[n] = '\0';
  int st = pclose(p);
  cr_assert_eq(WEXITSTATUS(st), 0, "%s", out);
  cr_assert(strstr(out, "2500") != NULL, "the summary counts what was accepted: %s", out);
  cr_assert(strstr(out, "b2c_domain") != NULL, "and names the rejection: %s", out);
  cr_assert(strstr(out, "2501") != NULL, "with its line number: %s", out);
  lpt_response r;
  cr_assert_eq(lpt_http(s.port, "GET", "/v1/leads/lead7.io", NULL, NULL, 0, &r), 0);
  cr_assert_eq(r.status, 200);
  cr_assert(strstr(r.body, "\"snippets\":50") != NULL, "%s", r.body);
  lpt_response_free(&r);
  unlink(path);
  cr_assert_eq(lpt_server_stop(&s), 0);
}

Test(integration, the_throttle_limits_a_flooding_miner, .timeout = 60) {
  const char *env[] = { "LEADPOET_STAGE_THROTTLE_BURST=50", "LEADPOET_STAGE_THROTTLE_RATE=1", NULL };
  lpt_server s;
  cr_assert_eq(lpt_server_start(&s, NULL, env), 0);
  lpt_response r;
  char *body = malloc(200 * 200);
  size_t len = 0;
  long long t = now_ms();
  body[len++] = '[';
  for (int i = 0; i < 200; i++)
    len += (size_t)sprintf(body + len, "%s{\"id\":\"f%d\",\"miner\":\"flood\",\"ts\":%lld,\"lead\":{\"domain\":\"l%d.com\"},"
                           "\"kind\":\"web\",\"text\":\"t%d\"}", i ? "," : "", i, t, i, i);
  body[len++] = ']';
  body[len] = '\0';
  cr_assert_eq(lpt_http(s.port, "POST", "/v1/snippets", "application/json", body, len, &r), 0);
  cr_assert(strstr(r.body, "\"accepted\":50,") != NULL, "the burst passes, the rest is throttled: %.300s", r.body);
  cr_assert(strstr(r.body, "\"code\":\"throttled\"") != NULL);
  lpt_response_free(&r);
  free(body);
  cr_assert_eq(lpt_http(s.port, "GET", "/v1/miners/flood", NULL, NULL, 0, &r), 0);
  cr_assert(strstr(r.body, "\"throttled\":150") != NULL, "%s", r.body);
  cr_assert(strstr(r.body, "\"throttle\":{") != NULL, "the stage's view of the miner: %s", r.body);
  lpt_response_free(&r);
  cr_assert_eq(lpt_server_stop(&s), 0);
}
