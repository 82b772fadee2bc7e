/* The shipped files agree with the tables; the reference and the dump show every key. */
#include <ini.h>
#include <stdio.h>

#include "config/config_internal.h"
#include "config_test.h"

TestSuite(config_files, .init = config_test_clean_env);

#define DEFAULT_CONF LP_SOURCE_DIR "/config/leadpoet.conf"
#define PRODUCTION_CONF LP_SOURCE_DIR "/config/production.conf"

typedef struct seen_keys {
  char names[128][96];
  int n;
} seen_keys;

static int collect(void *user, const char *section, const char *name, const char *value) {
  seen_keys *s = user;
  if (s->n < 128) snprintf(s->names[s->n++], sizeof(s->names[0]), "%s.%s", section, name);
  return 1;
}

static int has_key(const seen_keys *s, const char *section, const char *key) {
  char want[96];
  snprintf(want, sizeof(want), "%s.%s", section, key);
  for (int i = 0; i < s->n; i++) {
    if (strcmp(s->names[i], want) == 0) return 1;
  }
  return 0;
}

/* Every key of the default file equals the table's default, and every key of the table is in the file. */
Test(config_files, default_file_equals_the_table) {
  lp_config file, table;
  char err[512];
  cr_assert_eq(lp_config_load(&file, DEFAULT_CONF, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(lp_config_load(&table, NULL, err, sizeof(err)), LP_OK, "%s", err);
  int n = 0;
  for (const lp__conf_section *s = lp__core_sections; s->name != NULL; s++) {
    for (const lp_conf_key *k = s->keys; k->key != NULL; k++, n++) {
      char a[256], b[256];
      lp__config_format_value(k, (char *)&file + k->offset, a, sizeof(a));
      lp__config_format_value(k, (char *)&table + k->offset, b, sizeof(b));
      cr_expect_str_eq(a, b, "[%s] %s: file says %s, table says %s", s->name, k->key, a, b);
    }
  }
  lp_config_free(&file);
  lp_config_free(&table);

  seen_keys seen = { .n = 0 };
  cr_assert_eq(ini_parse(DEFAULT_CONF, collect, &seen), 0);
  for (const lp__conf_section *s = lp__core_sections; s->name != NULL; s++) {
    for (const lp_conf_key *k = s->keys; k->key != NULL; k++) {
      cr_expect(has_key(&seen, s->name, k->key), "[%s] %s is not in %s", s->name, k->key, DEFAULT_CONF);
    }
  }
  cr_assert_eq(seen.n, n, "the file sets %d keys, the table has %d", seen.n, n);
}

Test(config_files, production_example_loads) {
  lp_config c;
  char err[512];
  cr_assert_eq(lp_config_load(&c, PRODUCTION_CONF, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_str_eq(c.server.listen, "0.0.0.0:8080");
  cr_assert_str_eq(c.log.level, "info");
  cr_assert_str_eq(c.kafka.bootstrap_brokers, "");
  lp_config_free(&c);
  setenv("KAFKA_BOOTSTRAP_BROKERS", "k1:9092", 1);
  setenv("REDIS_ENDPOINT", "r:6379", 1);
  cr_assert_eq(lp_config_load(&c, PRODUCTION_CONF, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_str_eq(c.kafka.bootstrap_brokers, "k1:9092");
  cr_assert_str_eq(c.redis.endpoint, "r:6379");
  lp_config_free(&c);
}

/* Every default passes its own rules (type, bounds, power of two, listen, level). */
Test(config_files, defaults_pass_their_own_checks) {
  lp_config c;
  char err[256], why[256];
  cr_assert_eq(lp_config_load(&c, NULL, err, sizeof(err)), LP_OK, "%s", err);
  for (const lp__conf_section *s = lp__core_sections; s->name != NULL; s++) {
    for (const lp_conf_key *k = s->keys; k->key != NULL; k++) {
      lp__conf_check check = lp__config_check_for(s->name, k->key);
      if (check != NULL) cr_expect_eq(check((char *)&c + k->offset, why, sizeof(why)), LP_OK, "%s", why);
      cr_expect(k->desc != NULL && strlen(k->desc) > 20, "[%s] %s needs a description", s->name, k->key);
    }
  }
  lp_config_free(&c);
}

Test(config_files, print_reference_mentions_every_key) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  lp_config_print_reference(f);
  fclose(f);
  char var[128];
  for (const lp__conf_section *s = lp__core_sections; s->name != NULL; s++) {
    char heading[64];
    snprintf(heading, sizeof(heading), "\n[%s]\n", s->name);
    cr_expect(strstr(text, heading) != NULL, "no heading %s", s->name);
    for (const lp_conf_key *k = s->keys; k->key != NULL; k++) {
      char row[96];
      snprintf(row, sizeof(row), "\n%s ", k->key);
      cr_expect(strstr(text, row) != NULL, "[%s] %s missing", s->name, k->key);
      lp__config_env_name(s->name, k->key, var, sizeof(var));
      cr_expect(strstr(text, var) != NULL, "%s missing", var);
    }
  }
  const char *also[] = { "KAFKA_BOOTSTRAP_BROKERS", "REDIS_ENDPOINT", "OPENAI_API_KEY", "PDL_API_KEY",
                         "CLEARBIT_API_KEY", "LEADPOET_LISTEN", "10ms..1h", "16k", "1k..1m", "0..256",
                         "one per CPU core", "power of two" };
  for (size_t i = 0; i < sizeof(also) / sizeof(also[0]); i++) {
    cr_expect(strstr(text, also[i]) != NULL, "%s missing", also[i]);
  }
  free(text);
}

Test(config_files, dump_masks_secrets_and_reads_back) {
  setenv("OPENAI_API_KEY", "sk-very-secret", 1);
  lp_config c;
  char err[256];
  cr_assert_eq(config_test_load(&c,
                                "[server]\nshards = 16\n[http]\nidle_timeout = 90s\n"
                                "[stage.llm]\napi_key = sk-other-secret\nmodel = small\n",
                                err, sizeof(err)),
               LP_OK, "%s", err);
  lp_buf b = LP_BUF_INIT;
  cr_assert_eq(lp_config_dump(&c, &b), LP_OK);
  cr_assert_eq(lp_buf_append(&b, "", 1), LP_OK);
  cr_assert(strstr(b.data, "sk-very-secret") == NULL);
  cr_assert(strstr(b.data, "sk-other-secret") == NULL);
  cr_assert(strstr(b.data, "openai_api_key = \"***\"\n") != NULL, "%s", b.data);
  cr_assert(strstr(b.data, "pdl_api_key = \"\"\n") != NULL);
  cr_assert(strstr(b.data, "api_key = \"***\"\nmodel = small\n") != NULL);
  cr_assert(strstr(b.data, "shards = 16\n") != NULL);
  cr_assert(strstr(b.data, "idle_timeout = 90s\n") != NULL);
  cr_assert(strstr(b.data, "max_body_bytes = 8m\n") != NULL);
  cr_assert(strstr(b.data, "listen = \"127.0.0.1:8080\"\n") != NULL);
  /* The dump is a valid config that loads to the same values. */
  unsetenv("OPENAI_API_KEY");
  lp_config again;
  cr_assert_eq(config_test_load(&again, b.data, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(again.server.shards, 16);
  cr_assert_eq(again.http.idle_timeout_ms, 90000);
  cr_assert_str_eq(again.secrets.openai_api_key, "***");
  lp_config_free(&again);
  lp_buf_free(&b);
  lp_config_free(&c);
}
