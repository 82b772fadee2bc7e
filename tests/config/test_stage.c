/* [stage.<name>] sections: kept raw at load, parsed with the stage's own table, checked against the loaded
 * stages. */
#include "config_test.h"

TestSuite(config_stage, .init = config_test_clean_env);

typedef struct tagger_conf {
  int64_t max_tags;
  double weight;
  int enabled;
  char *word;
  char *api_key;
  int64_t cache_bytes;
  int64_t ttl_ms;
} tagger_conf;

static const lp_conf_key tagger_keys[] = {
  { "max_tags", LP_CONF_INT, "8", 1, 64, offsetof(tagger_conf, max_tags), "tags per lead at most" },
  { "weight", LP_CONF_DOUBLE, "0.5", 0, 1, offsetof(tagger_conf, weight), "score boost of a tagged lead" },
  { "enabled", LP_CONF_BOOL, "yes", 1, 0, offsetof(tagger_conf, enabled), "whether the stage tags at all" },
  { "word", LP_CONF_STRING, "kubernetes", 1, 0, offsetof(tagger_conf, word), "the word to look for" },
  { "api_key", LP_CONF_STRING, "", 1, 0, offsetof(tagger_conf, api_key), "a secret" },
  { "cache_bytes", LP_CONF_SIZE, "64k", 1024, 1073741824.0, offsetof(tagger_conf, cache_bytes), "cache size" },
  { "ttl", LP_CONF_DURATION_MS, "1h", 1000, 86400000.0, offsetof(tagger_conf, ttl_ms), "how long a tag lasts" },
  { NULL, 0, NULL, 0, 0, 0, NULL },
};

static const char *const conf_text =
  "[server]\nshards = 8\n"
  "[stage.tagger]\n"
  "max_tags = 16\n"
  "weight = 0.25\n"
  "enabled = off\n"
  "word = \"hiring now\"\n"
  "cache_bytes = 1m\n"
  "ttl = 30m\n";

static void load(lp_config *c, const char *text) {
  char err[256];
  cr_assert_eq(config_test_load(c, text, err, sizeof(err)), LP_OK, "%s", err);
}

Test(config_stage, defaults_when_no_section) {
  lp_config c;
  load(&c, "[server]\nshards = 8\n");
  void *out = NULL;
  char err[256];
  cr_assert_eq(lp_config_stage_parse(&c, "tagger", tagger_keys, sizeof(tagger_conf), &out, err, sizeof(err)),
               LP_OK, "%s", err);
  tagger_conf *t = out;
  cr_assert_eq(t->max_tags, 8);
  cr_assert_eq(t->weight, 0.5);
  cr_assert_eq(t->enabled, 1);
  cr_assert_str_eq(t->word, "kubernetes");
  cr_assert_str_eq(t->api_key, "");
  cr_assert_eq(t->cache_bytes, 65536);
  cr_assert_eq(t->ttl_ms, 3600000);
  lp_config_free(&c); /* frees t and its strings */
}

Test(config_stage, values_from_the_file) {
  lp_config c;
  load(&c, conf_text);
  void *out = NULL;
  char err[256];
  cr_assert_eq(lp_config_stage_parse(&c, "tagger", tagger_keys, sizeof(tagger_conf), &out, err, sizeof(err)),
               LP_OK, "%s", err);
  tagger_conf *t = out;
  cr_assert_eq(t->max_tags, 16);
  cr_assert_eq(t->weight, 0.25);
  cr_assert_eq(t->enabled, 0);
  cr_assert_str_eq(t->word, "hiring now");
  cr_assert_eq(t->cache_bytes, 1 << 20);
  cr_assert_eq(t->ttl_ms, 1800000);
  /* Parsing twice gives a second, independent struct; both are freed with the config. */
  void *again = NULL;
  cr_assert_eq(lp_config_stage_parse(&c, "tagger", tagger_keys, sizeof(tagger_conf), &again, err, sizeof(err)),
               LP_OK);
  cr_assert_neq(again, out);
  lp_config_free(&c);
}

Test(config_stage, env_overrides_a_stage_key) {
  setenv("LEADPOET_STAGE_TAGGER_WORD", "churn", 1);
  setenv("LEADPOET_STAGE_TAGGER_TTL", "2h", 1);
  lp_config c;
  load(&c, conf_text);
  void *out = NULL;
  char err[256];
  cr_assert_eq(lp_config_stage_parse(&c, "tagger", tagger_keys, sizeof(tagger_conf), &out, err, sizeof(err)),
               LP_OK, "%s", err);
  tagger_conf *t = out;
  cr_assert_str_eq(t->word, "churn");
  cr_assert_eq(t->ttl_ms, 7200000);
  cr_assert_eq(t->max_tags, 16);
  lp_config_free(&c);
}

static void expect_stage_error(const char *text, const char *want) {
  lp_config c;
  load(&c, text);
  void *out = (void *)1;
  char err[256];
  cr_assert_eq(lp_config_stage_parse(&c, "tagger", tagger_keys, sizeof(tagger_conf), &out, err, sizeof(err)),
               LP_ECONFIG);
  cr_assert_null(out);
  cr_assert_str_eq(err, want);
  lp_config_free(&c);
}

Test(config_stage, errors_with_file_and_line) {
  expect_stage_error("[stage.tagger]\nword = x\nmax_tag = 3\n", "t.conf:3: [stage.tagger] max_tag: unknown key");
  expect_stage_error("[stage.tagger]\n\nmax_tags = many\n",
                     "t.conf:3: [stage.tagger] max_tags: \"many\" is not an integer");
  expect_stage_error("[stage.tagger]\nmax_tags = 65\n", "t.conf:2: [stage.tagger] max_tags: 65 is out of bounds 1..64");
  expect_stage_error("[stage.tagger]\nweight = 2\n", "t.conf:2: [stage.tagger] weight: 2 is out of bounds 0..1");
  expect_stage_error("[stage.tagger]\nenabled = sure\n",
                     "t.conf:2: [stage.tagger] enabled: \"sure\" is not a boolean (true/false, yes/no, on/off, 1/0)");
  expect_stage_error("[stage.tagger]\nttl = 10\n", "t.conf:2: [stage.tagger] ttl: 10ms is out of bounds 1s..1d");
  /* The word was parsed (a string allocated) before the error: freed, as ASan checks. */
  expect_stage_error("[stage.tagger]\nword = abc\ncache_bytes = 1t\n",
                     "t.conf:3: [stage.tagger] cache_bytes: \"1t\" is not a size in bytes with an optional "
                     "suffix k, m or g (powers of 1024), such as 512, 16k or 8m");
}

Test(config_stage, env_errors_name_the_variable) {
  setenv("LEADPOET_STAGE_TAGGER_MAX_TAGS", "0", 1);
  expect_stage_error("[stage.tagger]\nword = x\n", "env LEADPOET_STAGE_TAGGER_MAX_TAGS: 0 is out of bounds 1..64");
}

Test(config_stage, no_keys_table) {
  lp_config c;
  load(&c, "[stage.plain]\n[stage.other]\nx = 1\n");
  void *out = NULL;
  char err[256];
  cr_assert_eq(lp_config_stage_parse(&c, "plain", NULL, 0, &out, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_not_null(out);
  cr_assert_eq(lp_config_stage_parse(&c, "other", NULL, 0, &out, err, sizeof(err)), LP_ECONFIG);
  cr_assert_str_eq(err, "t.conf:3: [stage.other] x: unknown key");
  lp_config_free(&c);
}

Test(config_stage, bad_tables_and_names_are_refused) {
  lp_config c;
  load(&c, "");
  void *out = NULL;
  char err[256];
  /* A field past the end of the struct: refused before anything is written. */
  cr_assert_eq(lp_config_stage_parse(&c, "tagger", tagger_keys, sizeof(int64_t), &out, err, sizeof(err)),
               LP_ECONFIG);
  cr_assert_str_eq(err, "stage tagger: key weight has a bad type, offset or default in its table");
  static const lp_conf_key bad_default[] = {
    { "n", LP_CONF_INT, "eight", 1, 0, 0, "" },
    { NULL, 0, NULL, 0, 0, 0, NULL },
  };
  cr_assert_eq(lp_config_stage_parse(&c, "x", bad_default, sizeof(int64_t), &out, err, sizeof(err)), LP_ECONFIG);
  cr_assert_str_eq(err, "stage x: default of n: \"eight\" is not an integer");
  cr_assert_eq(lp_config_stage_parse(&c, "Bad", NULL, 0, &out, err, sizeof(err)), LP_ECONFIG);
  cr_assert_str_eq(err, "stage \"Bad\": a stage name is [a-z0-9_]+, at most 43 bytes");
  lp_config_free(&c);
  lp_config zero = { 0 };
  cr_assert_eq(lp_config_stage_parse(&zero, "x", NULL, 0, &out, err, sizeof(err)), LP_ECONFIG);
  cr_assert_str_eq(err, "stage x: the config is not loaded");
}

Test(config_stage, check_stage_sections) {
  lp_config c;
  load(&c, "[stages]\norder = ingest,tagger\n[stage.tagger]\nword = x\n\n[stage.ghost]\n");
  char err[256];
  const char *both[] = { "ingest", "tagger", "ghost" };
  cr_assert_eq(lp_config_check_stage_sections(&c, both, 3, err, sizeof(err)), LP_OK);
  const char *loaded[] = { "ingest", "tagger" };
  cr_assert_eq(lp_config_check_stage_sections(&c, loaded, 2, err, sizeof(err)), LP_ECONFIG);
  cr_assert_str_eq(err, "t.conf:6: [stage.ghost]: no stage named ghost is loaded (stages.order = "
                        "\"ingest,tagger\", stages.plugins = \"\")");
  cr_assert_eq(lp_config_check_stage_sections(&c, loaded, 1, err, sizeof(err)), LP_ECONFIG);
  cr_assert(strstr(err, "t.conf:3: [stage.tagger]: no stage named tagger") == err, "%s", err);
  lp_config_free(&c);
}

Test(config_stage, print_keys_lists_the_table) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  lp_config_print_keys(f, "stage.tagger", tagger_keys);
  fclose(f);
  for (const lp_conf_key *k = tagger_keys; k->key != NULL; k++) {
    cr_assert(strstr(text, k->key) != NULL, "%s missing", k->key);
    cr_assert(strstr(text, k->desc) != NULL, "%s missing", k->desc);
  }
  cr_assert(strstr(text, "LEADPOET_STAGE_TAGGER_CACHE_BYTES") != NULL);
  cr_assert(strstr(text, "64k") != NULL);
  cr_assert(strstr(text, "1k..1g") != NULL, "%s", text);
  cr_assert(strstr(text, "1s..1d") != NULL);
  free(text);
}
