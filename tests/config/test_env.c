/* Environment overrides: LEADPOET_<SECTION>_<KEY>, the seed's names, precedence, and their errors. */
#include "config_test.h"

TestSuite(config_env, .init = config_test_clean_env);

Test(config_env, core_key_overrides_file_and_default) {
  setenv("LEADPOET_SERVER_SHARDS", "256", 1);
  setenv("LEADPOET_HTTP_IDLE_TIMEOUT", "2m", 1);
  setenv("LEADPOET_HTTP_MAX_BODY_BYTES", "1g", 1);
  setenv("LEADPOET_STAGES_PLUGINS", "/opt/a.so,/opt/b.so", 1);
  lp_config c;
  char err[256];
  cr_assert_eq(config_test_load(&c, "[server]\nshards = 8\n[http]\nidle_timeout = 1s\n", err, sizeof(err)), LP_OK,
               "%s", err);
  cr_assert_eq(c.server.shards, 256);
  cr_assert_eq(c.http.idle_timeout_ms, 120000);
  cr_assert_eq(c.http.max_body_bytes, INT64_C(1) << 30);
  cr_assert_str_eq(c.stages.plugins, "/opt/a.so,/opt/b.so");
  lp_config_free(&c);
  /* Without a file too. */
  cr_assert_eq(lp_config_load(&c, NULL, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(c.server.shards, 256);
  lp_config_free(&c);
}

Test(config_env, seed_names) {
  setenv("KAFKA_BOOTSTRAP_BROKERS", "kafka:9092", 1);
  setenv("REDIS_ENDPOINT", "redis:6379", 1);
  setenv("OPENAI_API_KEY", "sk-test", 1);
  setenv("PDL_API_KEY", "pdl-test", 1);
  setenv("CLEARBIT_API_KEY", "cb-test", 1);
  setenv("LEADPOET_LISTEN", "0.0.0.0:9000", 1);
  lp_config c;
  char err[256];
  cr_assert_eq(config_test_load(&c, "[redis]\nendpoint = file:1\n", err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_str_eq(c.kafka.bootstrap_brokers, "kafka:9092");
  cr_assert_str_eq(c.redis.endpoint, "redis:6379");
  cr_assert_str_eq(c.secrets.openai_api_key, "sk-test");
  cr_assert_str_eq(c.secrets.pdl_api_key, "pdl-test");
  cr_assert_str_eq(c.secrets.clearbit_api_key, "cb-test");
  cr_assert_str_eq(c.server.listen, "0.0.0.0:9000");
  lp_config_free(&c);
}

Test(config_env, leadpoet_name_wins_over_seed_name) {
  setenv("REDIS_ENDPOINT", "seed:1", 1);
  setenv("LEADPOET_REDIS_ENDPOINT", "mine:2", 1);
  setenv("LEADPOET_LISTEN", "0.0.0.0:1", 1);
  setenv("LEADPOET_SERVER_LISTEN", "127.0.0.1:2", 1);
  lp_config c;
  char err[256];
  cr_assert_eq(lp_config_load(&c, NULL, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_str_eq(c.redis.endpoint, "mine:2");
  cr_assert_str_eq(c.server.listen, "127.0.0.1:2");
  lp_config_free(&c);
  /* The losing seed value is not even checked. */
  setenv("LEADPOET_LISTEN", "garbage", 1);
  cr_assert_eq(lp_config_load(&c, NULL, err, sizeof(err)), LP_OK, "%s", err);
  lp_config_free(&c);
}

Test(config_env, empty_value_clears_a_string) {
  setenv("LEADPOET_STAGES_ORDER", "", 1);
  lp_config c;
  char err[256];
  cr_assert_eq(lp_config_load(&c, NULL, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_str_eq(c.stages.order, "");
  lp_config_free(&c);
}

static void expect_env_error(const char *var, const char *value, const char *want) {
  config_test_clean_env();
  setenv(var, value, 1);
  lp_config c;
  char err[256];
  cr_assert_eq(lp_config_load(&c, NULL, err, sizeof(err)), LP_ECONFIG, "%s=%s accepted", var, value);
  cr_assert_str_eq(err, want);
  lp_config_free(&c);
}

Test(config_env, errors_name_the_variable) {
  expect_env_error("LEADPOET_SERVER_SHARDS", "100", "env LEADPOET_SERVER_SHARDS: must be a power of two (got 100)");
  expect_env_error("LEADPOET_SERVER_WORKERS", "lots", "env LEADPOET_SERVER_WORKERS: \"lots\" is not an integer");
  expect_env_error("LEADPOET_SERVER_WORKERS", "", "env LEADPOET_SERVER_WORKERS: \"\" is not an integer");
  expect_env_error("LEADPOET_HTTP_BACKLOG", "0", "env LEADPOET_HTTP_BACKLOG: 0 is out of bounds 1..65535");
  expect_env_error("LEADPOET_LISTEN", "nowhere",
                   "env LEADPOET_LISTEN: \"nowhere\" is not HOST:PORT (such as 127.0.0.1:8080 or [::1]:8080, "
                   "port 1..65535)");
  expect_env_error("LEADPOET_LOG_LEVEL", "loud", "env LEADPOET_LOG_LEVEL: \"loud\" must be one of error, warn, info, debug");
}

Test(config_env, env_error_after_a_good_file) {
  setenv("LEADPOET_INGEST_MAX_FUTURE", "soon", 1);
  lp_config c;
  char err[256];
  cr_assert_eq(config_test_load(&c, "[ingest]\nmax_future = 5m\n", err, sizeof(err)), LP_ECONFIG);
  cr_assert_str_eq(err, "env LEADPOET_INGEST_MAX_FUTURE: \"soon\" is not a duration with a suffix ms, s, m, h "
                        "or d (bare = ms), such as 250ms, 10s or 5m");
  lp_config_free(&c);
}

Test(config_env, typo_in_a_reserved_name) {
  setenv("LEADPOET_SERVER_SHRADS", "8", 1);
  lp_config c;
  char err[256];
  cr_assert_eq(lp_config_load(&c, NULL, err, sizeof(err)), LP_ECONFIG);
  cr_assert_str_eq(err, "env LEADPOET_SERVER_SHRADS: [server] has no such key (see leadpoet check-config --help)");
  lp_config_free(&c);
  /* Other LEADPOET_* names (scripts, peers, stage keys) are not the core's business. */
  config_test_clean_env();
  setenv("LEADPOET_PEERS", "a:1,b:2", 1);
  setenv("LEADPOET_URL", "http://127.0.0.1:1", 1);
  setenv("LEADPOET_STAGE_ANY_THING", "1", 1);
  setenv("LEADPOET_STAGES_ORDER", "ingest", 1);
  cr_assert_eq(lp_config_load(&c, NULL, err, sizeof(err)), LP_OK, "%s", err);
  lp_config_free(&c);
}
