/* Secrets from files: every environment name of a core key has a <NAME>_FILE form (Kubernetes Secret mounts);
 * the file's content is the value with its trailing line ends stripped; an unreadable file stops the load. */
#include <stdio.h>
#include <unistd.h>

#include "config_test.h"

static char dir[64];

static void setup(void) {
  config_test_clean_env();
  static const char *const files[] = { "KAFKA_BOOTSTRAP_BROKERS_FILE", "REDIS_ENDPOINT_FILE", "OPENAI_API_KEY_FILE",
                                       "PDL_API_KEY_FILE", "CLEARBIT_API_KEY_FILE" };
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) unsetenv(files[i]);
  snprintf(dir, sizeof(dir), "/tmp/lp-envfile-XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void) {
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  cr_assert_eq(system(cmd), 0);
}

TestSuite(config_envfile, .init = setup, .fini = teardown);

/* Writes content to dir/name; returns the path (static buffer per call site is enough: copied by setenv). */
static const char *write_file(const char *name, const char *content, size_t len) {
  static char path[128];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f);
  cr_assert_eq(fwrite(content, 1, len, f), len);
  cr_assert_eq(fclose(f), 0);
  return path;
}

static int load(lp_config *c, char *err, size_t n) { return lp_config_load(c, NULL, err, n); }

Test(config_envfile, seed_secrets_from_files) {
  setenv("OPENAI_API_KEY_FILE", write_file("openai", "sk-from-file\n", 13), 1);
  setenv("PDL_API_KEY_FILE", write_file("pdl", "pdl-key\r\n", 9), 1);
  setenv("CLEARBIT_API_KEY_FILE", write_file("cb", "cb-key", 6), 1);
  setenv("REDIS_ENDPOINT_FILE", write_file("redis", "redis://app:s3cr3t@cache:6379/2\n\n", 33), 1);
  lp_config c;
  char err[512];
  cr_assert_eq(load(&c, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_str_eq(c.secrets.openai_api_key, "sk-from-file", "one trailing newline stripped");
  cr_assert_str_eq(c.secrets.pdl_api_key, "pdl-key", "CRLF stripped");
  cr_assert_str_eq(c.secrets.clearbit_api_key, "cb-key", "no newline: the content as it is");
  cr_assert_str_eq(c.redis.endpoint, "redis://app:s3cr3t@cache:6379/2", "every trailing line end stripped");
  lp_config_free(&c);
}

Test(config_envfile, leadpoet_names_and_kafka_sasl_properties) {
  const char *props = "security.protocol=sasl_ssl;sasl.mechanism=SCRAM-SHA-512;sasl.username=app;sasl.password=pw\n";
  setenv("LEADPOET_KAFKA_PROPERTIES_FILE", write_file("kafka", props, strlen(props)), 1);
  setenv("LEADPOET_SECRETS_OPENAI_API_KEY_FILE", write_file("openai", "sk-mine\n", 8), 1);
  setenv("OPENAI_API_KEY", "sk-seed", 1);  /* the LEADPOET_ name (here its file) wins over the seed's */
  lp_config c;
  char err[512];
  cr_assert_eq(load(&c, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_str_eq(c.kafka.properties,
                   "security.protocol=sasl_ssl;sasl.mechanism=SCRAM-SHA-512;sasl.username=app;sasl.password=pw");
  cr_assert_str_eq(c.secrets.openai_api_key, "sk-mine");
  lp_config_free(&c);
}

Test(config_envfile, api_keys_file_is_a_key_of_its_own) {
  /* LEADPOET_HTTP_API_KEYS_FILE is http.api_keys_file (a path the server reads), not a _FILE form. */
  const char *entry = "ci:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n";
  const char *path = write_file("keys", entry, strlen(entry));
  setenv("LEADPOET_HTTP_API_KEYS_FILE", path, 1);
  lp_config c;
  char err[512];
  cr_assert_eq(load(&c, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_str_eq(c.http.api_keys_file, path);
  cr_assert_str_eq(c.http.api_keys, "");
  lp_config_free(&c);
}

Test(config_envfile, missing_file_stops_the_load) {
  char path[128];
  snprintf(path, sizeof(path), "%s/nope", dir);
  setenv("OPENAI_API_KEY_FILE", path, 1);
  lp_config c;
  char err[512], want[512];
  cr_assert_eq(load(&c, err, sizeof(err)), LP_ECONFIG);
  snprintf(want, sizeof(want), "env OPENAI_API_KEY_FILE: cannot open %s: No such file or directory", path);
  cr_assert_str_eq(err, want);
  lp_config_free(&c);
}

Test(config_envfile, unreadable_file_stops_the_load) {
  /* A directory opens but does not read. */
  setenv("LEADPOET_REDIS_ENDPOINT_FILE", dir, 1);
  lp_config c;
  char err[512], want[512];
  cr_assert_eq(load(&c, err, sizeof(err)), LP_ECONFIG);
  snprintf(want, sizeof(want), "env LEADPOET_REDIS_ENDPOINT_FILE: cannot read %s", dir);
  cr_assert_str_eq(err, want);
  lp_config_free(&c);
}

Test(config_envfile, both_forms_set_is_an_error) {
  setenv("PDL_API_KEY", "pdl-env", 1);
  setenv("PDL_API_KEY_FILE", write_file("pdl", "pdl-file\n", 9), 1);
  lp_config c;
  char err[512];
  cr_assert_eq(load(&c, err, sizeof(err)), LP_ECONFIG);
  cr_assert_str_eq(err, "env PDL_API_KEY and PDL_API_KEY_FILE are both set: set one of them");
  lp_config_free(&c);
}

Test(config_envfile, empty_name_nul_byte_and_bad_value) {
  lp_config c;
  char err[512], want[512];
  setenv("CLEARBIT_API_KEY_FILE", "", 1);
  cr_assert_eq(load(&c, err, sizeof(err)), LP_ECONFIG);
  cr_assert_str_eq(err, "env CLEARBIT_API_KEY_FILE: empty (it names the file that holds the value of CLEARBIT_API_KEY)");
  lp_config_free(&c);
  unsetenv("CLEARBIT_API_KEY_FILE");

  const char *bin = write_file("bin", "ab\0cd", 5);
  setenv("CLEARBIT_API_KEY_FILE", bin, 1);
  cr_assert_eq(load(&c, err, sizeof(err)), LP_ECONFIG);
  snprintf(want, sizeof(want), "env CLEARBIT_API_KEY_FILE: %s contains a NUL byte (not a text file?)", bin);
  cr_assert_str_eq(err, want);
  lp_config_free(&c);
  unsetenv("CLEARBIT_API_KEY_FILE");

  /* A value from a file is checked like any other: the error names the _FILE variable. */
  setenv("LEADPOET_SERVER_SHARDS_FILE", write_file("shards", "3\n", 2), 1);
  cr_assert_eq(load(&c, err, sizeof(err)), LP_ECONFIG);
  cr_assert(strncmp(err, "env LEADPOET_SERVER_SHARDS_FILE: ", 33) == 0, "%s", err);
  lp_config_free(&c);
}

Test(config_envfile, typo_check_knows_the_file_forms) {
  setenv("LEADPOET_SERVER_SHARDS_FILE", write_file("shards", "128", 3), 1);
  lp_config c;
  char err[512];
  cr_assert_eq(load(&c, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(c.server.shards, 128);
  lp_config_free(&c);
  setenv("LEADPOET_SERVER_SHARDZ_FILE", "/x", 1);
  cr_assert_eq(load(&c, err, sizeof(err)), LP_ECONFIG);
  cr_assert(strstr(err, "LEADPOET_SERVER_SHARDZ_FILE") != NULL, "%s", err);
  lp_config_free(&c);
}

Test(config_envfile, dump_masks_the_secrets_inside_values) {
  setenv("REDIS_ENDPOINT_FILE", write_file("redis", "redis://app:s3cr3t@cache:6379/2\n", 32), 1);
  const char *props = "security.protocol=sasl_ssl;sasl.username=app;sasl.password=pw;ssl.key.password=kp";
  setenv("LEADPOET_KAFKA_PROPERTIES", props, 1);
  lp_config c;
  char err[512];
  cr_assert_eq(load(&c, err, sizeof(err)), LP_OK, "%s", err);
  lp_buf b = LP_BUF_INIT;
  cr_assert_eq(lp_config_dump(&c, &b), LP_OK);
  cr_assert_eq(lp_buf_append(&b, "", 1), LP_OK);
  cr_assert(strstr(b.data, "endpoint = \"redis://app:***@cache:6379/2\"\n") != NULL, "%s", b.data);
  cr_assert(strstr(b.data, "properties = \"security.protocol=sasl_ssl;sasl.username=app;sasl.password=***;"
                           "ssl.key.password=***\"\n") != NULL, "%s", b.data);
  cr_assert(strstr(b.data, "s3cr3t") == NULL && strstr(b.data, "=pw") == NULL && strstr(b.data, "=kp") == NULL);
  lp_buf_free(&b);
  lp_config_free(&c);
  /* A password alone (no user) and an endpoint without one. */
  unsetenv("REDIS_ENDPOINT_FILE");
  setenv("REDIS_ENDPOINT", "redis://only@cache", 1);
  cr_assert_eq(load(&c, err, sizeof(err)), LP_OK, "%s", err);
  b = (lp_buf)LP_BUF_INIT;
  cr_assert_eq(lp_config_dump(&c, &b), LP_OK);
  cr_assert_eq(lp_buf_append(&b, "", 1), LP_OK);
  cr_assert(strstr(b.data, "endpoint = \"redis://***@cache\"\n") != NULL, "%s", b.data);
  lp_buf_free(&b);
  lp_config_free(&c);
  setenv("REDIS_ENDPOINT", "cache:6379", 1);
  cr_assert_eq(load(&c, err, sizeof(err)), LP_OK, "%s", err);
  b = (lp_buf)LP_BUF_INIT;
  cr_assert_eq(lp_config_dump(&c, &b), LP_OK);
  cr_assert_eq(lp_buf_append(&b, "", 1), LP_OK);
  cr_assert(strstr(b.data, "endpoint = \"cache:6379\"\n") != NULL, "%s", b.data);
  lp_buf_free(&b);
  lp_config_free(&c);
}
