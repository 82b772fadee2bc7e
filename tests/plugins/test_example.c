/* The example plugin (plugins/example/) loaded from its .so as an operator would load it, and the two
 * broken builds of it that the host must refuse. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>

#include "helpers/helpers.h"
#include "stage/registry.h"

#define PLUGIN LP_BUILD_DIR "/plugins/example/liblp_example_blocklist.so"
#define BADABI LP_BUILD_DIR "/plugins/example/liblp_example_badabi.so"
#define NOSYM LP_BUILD_DIR "/plugins/example/liblp_example_nosym.so"

static lp_config cfg;
static lp_metrics *metrics;
static char err[1024];
static lp_stages *st;
static lp_stage_shard *ss;

static void setup(void) {
  memset(&cfg, 0, sizeof(cfg));
  cr_assert_eq(lp_metrics_new(&metrics, 100), LP_OK);
  lp_metrics_set_default(metrics);
}
static void teardown(void) {
  lp_stage_shard_close(ss);
  lp_stages_free(st);
  lp_config_free(&cfg);
  lp_metrics_set_default(NULL);
  lp_metrics_free(metrics);
}
TestSuite(plugin_example, .init = setup, .fini = teardown);

/* [stages] with the given order and plugins, then extra text (a [stage.blocklist] section). */
static int load(const char *order, const char *plugins, const char *extra) {
  char text[2048];
  snprintf(text, sizeof(text), "[stages]\norder = %s\nplugins = %s\n%s", order, plugins, extra);
  cr_assert_eq(lp_config_load_string(&cfg, text, "test.conf", err, sizeof(err)), LP_OK, "%s", err);
  err[0] = '\0';
  return lp_stages_load(&st, &cfg, NULL, err, sizeof(err));
}

static void load_blocklist(const char *section) {
  cr_assert_eq(load("blocklist", PLUGIN, section), LP_OK, "%s", err);
  cr_assert_eq(lp_stage_shard_open(st, 0, &ss), LP_OK);
}

static int snippet_verdict(const char *domain, lp_verdict *v) {
  lp_snippet s;
  memset(&s, 0, sizeof(s));
  s.domain = (lp_str){ domain, strlen(domain) };
  return lp_stage_shard_snippet(ss, &s, v);
}

static uint64_t blocked(const char *label) {
  static const char *const names[] = { "stage", "label" };
  lp_metric_family *f = lp_metrics_family(metrics, LP_METRIC_COUNTER, "leadpoet_stage_blocked_total",
                                          "Events dropped by the blocklist stage.", names, 2, NULL, 0);
  cr_assert_not_null(f);
  const char *v[] = { "blocklist", label };
  return lp_counter_value(lp_metrics_series(f, v));
}

Test(plugin_example, loads_from_its_path) {
  load_blocklist("[stage.blocklist]\ndomains = acme.com\n");
  cr_assert_eq(lp_stages_count(st), 1);
  cr_assert_str_eq(lp_stages_desc(st, 0)->name, "blocklist");
  cr_assert_str_eq(lp_stages_origin(st, 0), PLUGIN);
  cr_assert_eq(lp_stages_desc(st, 0)->abi_major, LP_STAGE_ABI_MAJOR);
}

Test(plugin_example, blocks_the_domain_and_its_sub_domains_only) {
  load_blocklist("[stage.blocklist]\ndomains = acme.com , .Example.ORG\n");
  lp_verdict v;
  const char *drop[] = { "acme.com", "eu.acme.com", "a.b.acme.com", "example.org", "www2.example.org" };
  const char *pass[] = { "notacme.com", "acme.com.evil.io", "cme.com", "acme.co", "example.org.uk", "com" };
  for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++) {
    cr_assert_eq(snippet_verdict(drop[i], &v), LP_STAGE_DROP, "%s", drop[i]);
    cr_assert_str_eq(v.code, "blocked_domain");
    cr_assert(strstr(v.message, drop[i]) != NULL, "%s", v.message);
  }
  for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++)
    cr_assert_eq(snippet_verdict(pass[i], &v), LP_STAGE_CONTINUE, "%s", pass[i]);
  cr_assert_eq(blocked("snippet"), 5);
}

Test(plugin_example, outcomes_are_blocked_too_with_the_configured_code) {
  load_blocklist("[stage.blocklist]\ndomains = acme.com\ndrop_code = on_blocklist\n");
  lp_outcome o;
  memset(&o, 0, sizeof(o));
  lp_verdict v;
  o.domain = LP_STR_LIT("eu.acme.com");
  cr_assert_eq(lp_stage_shard_outcome(ss, &o, &v), LP_STAGE_DROP);
  cr_assert_str_eq(v.code, "on_blocklist");
  o.domain = LP_STR_LIT("other.com");
  cr_assert_eq(lp_stage_shard_outcome(ss, &o, &v), LP_STAGE_CONTINUE);
  cr_assert_eq(blocked("outcome"), 1);
  cr_assert_eq(blocked("snippet"), 0);
}

Test(plugin_example, queries_exclude_the_blocked_domains) {
  load_blocklist("[stage.blocklist]\ndomains = acme.com, b.io\n");
  lp_query_out out;
  cr_assert_eq(lp_query_out_init(&out, 0, 8, 8), LP_OK);
  lp_query q = { LP_STR_LIT("crm"), 10, 0 };
  cr_assert_eq(lp_stage_shard_query(ss, &q, &out), LP_OK);
  cr_assert_eq(lp_query_out_exclude_count(&out), 2);
  cr_assert(lp_query_out_is_excluded(&out, LP_STR_LIT("eu.acme.com")));
  cr_assert(lp_query_out_is_excluded(&out, LP_STR_LIT("b.io")));
  cr_assert_not(lp_query_out_is_excluded(&out, LP_STR_LIT("c.io")));
  lp_query_out_free(&out);
}

Test(plugin_example, no_domains_blocks_nothing) {
  load_blocklist("");
  lp_verdict v;
  cr_assert_eq(snippet_verdict("acme.com", &v), LP_STAGE_CONTINUE);
}

Test(plugin_example, a_bad_domain_fails_init_naming_the_stage) {
  cr_assert_neq(load("blocklist", PLUGIN, "[stage.blocklist]\ndomains = acme.com, not a domain!\n"), LP_OK);
  cr_assert(strstr(err, "blocklist") != NULL && strstr(err, "not a domain") != NULL, "%s", err);
}

Test(plugin_example, an_unknown_key_is_refused) {
  cr_assert_neq(load("blocklist", PLUGIN, "[stage.blocklist]\ndomain = acme.com\n"), LP_OK);
  cr_assert(strstr(err, "domain") != NULL, "%s", err);
}

Test(plugin_example, a_plugin_not_named_in_order_is_unloaded_with_a_warning) {
  cr_assert_eq(load("", PLUGIN, ""), LP_OK, "%s", err);
  cr_assert_eq(lp_stages_count(st), 0);
}

Test(plugin_example, the_same_plugin_twice_is_refused) {
  cr_assert_eq(load("blocklist", PLUGIN ", " PLUGIN, ""), LP_EEXIST);
  cr_assert(strstr(err, "provided twice") != NULL, "%s", err);
}

Test(plugin_example, the_wrong_abi_is_refused_naming_both_versions) {
  cr_assert_eq(load("blocklist", BADABI, ""), LP_EABI);
  char want[512];
  snprintf(want, sizeof(want), "%s: stage ABI %d.%d, this leadpoet speaks stage ABI %d.%d (rebuild the plugin "
           "against leadpoet/stage.h %d.%d)", BADABI, LP_STAGE_ABI_MAJOR + 1, LP_STAGE_ABI_MINOR,
           LP_STAGE_ABI_MAJOR, LP_STAGE_ABI_MINOR, LP_STAGE_ABI_MAJOR, LP_STAGE_ABI_MINOR);
  cr_assert_str_eq(err, want);
  cr_assert_null(st);
}

Test(plugin_example, the_wrong_abi_is_refused_even_when_not_named) {
  cr_assert_eq(load("", BADABI, ""), LP_EABI);
}

Test(plugin_example, a_plugin_without_the_entry_symbol_is_refused) {
  cr_assert_eq(load("blocklist", NOSYM, ""), LP_ENOENT);
  cr_assert(strstr(err, NOSYM) != NULL, "%s", err);
  cr_assert(strstr(err, "lp_stage_entry") != NULL, "%s", err);
  const lp_stage_desc *d;
  void *h;
  cr_assert_eq(lp_stage_open_plugin(NOSYM, &d, &h, err, sizeof(err)), LP_ENOENT);
  cr_assert_null(h);
}

Test(plugin_example, open_plugin_hands_back_the_checked_descriptor) {
  const lp_stage_desc *d;
  void *h;
  cr_assert_eq(lp_stage_open_plugin(PLUGIN, &d, &h, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_str_eq(d->name, "blocklist");
  cr_assert_not_null(d->conf_keys);
  cr_assert_str_eq(d->conf_keys[0].key, "domains");
  cr_assert_str_eq(d->conf_keys[1].def, "blocked_domain");
  dlclose(h);
}

/* ---- outcomes: counted by event for blocked domains; spam_limit blocks a domain after N spam outcomes ---- */

static int outcome_verdict(const char *domain, uint32_t event, lp_verdict *v) {
  lp_outcome o;
  memset(&o, 0, sizeof(o));
  o.domain = (lp_str){ domain, strlen(domain) };
  o.event = event;
  return lp_stage_shard_outcome(ss, &o, v);
}

static uint64_t stage_counter(const char *name, const char *help, const char *label) {
  static const char *const names[] = { "stage", "label" };
  char full[128];
  snprintf(full, sizeof(full), "leadpoet_stage_%s_total", name);
  lp_metric_family *f = lp_metrics_family(metrics, LP_METRIC_COUNTER, full, help, names, 2, NULL, 0);
  cr_assert_not_null(f);
  const char *v[] = { "blocklist", label };
  return lp_counter_value(lp_metrics_series(f, v));
}

Test(plugin_example, outcomes_of_blocked_domains_are_counted_by_event) {
  load_blocklist("[stage.blocklist]\ndomains = acme.com\n");
  lp_verdict v;
  cr_assert_eq(outcome_verdict("acme.com", LP_EVENT_SPAM, &v), LP_STAGE_DROP);
  cr_assert_eq(outcome_verdict("eu.acme.com", LP_EVENT_SPAM, &v), LP_STAGE_DROP);
  cr_assert_eq(outcome_verdict("acme.com", LP_EVENT_REPLIED, &v), LP_STAGE_DROP);
  cr_assert_eq(outcome_verdict("other.com", LP_EVENT_SPAM, &v), LP_STAGE_CONTINUE);
  const char *help = "Outcomes of blocked domains, by event.";
  cr_assert_eq(stage_counter("blocked_outcome", help, "spam"), 2);
  cr_assert_eq(stage_counter("blocked_outcome", help, "replied"), 1);
  cr_assert_eq(stage_counter("blocked_outcome", help, "meeting"), 0);
}

Test(plugin_example, spam_limit_blocks_a_domain_after_n_spam_outcomes) {
  load_blocklist("[stage.blocklist]\nspam_limit = 3\n");
  lp_verdict v;
  for (int i = 0; i < 2; i++) cr_assert_eq(outcome_verdict("spammy.com", LP_EVENT_SPAM, &v), LP_STAGE_CONTINUE);
  cr_assert_eq(outcome_verdict("spammy.com", LP_EVENT_REPLIED, &v), LP_STAGE_CONTINUE, "a good event is not spam");
  cr_assert_eq(snippet_verdict("spammy.com", &v), LP_STAGE_CONTINUE, "2 of 3: still in");
  cr_assert_eq(outcome_verdict("spammy.com", LP_EVENT_SPAM, &v), LP_STAGE_CONTINUE, "the outcome itself goes on");
  cr_assert_eq(snippet_verdict("spammy.com", &v), LP_STAGE_DROP, "3 of 3: blocked from now on");
  cr_assert_str_eq(v.code, "blocked_domain");
  cr_assert(strstr(v.message, "spammy.com had 3 spam outcomes") != NULL, "%s", v.message);
  cr_assert_eq(snippet_verdict("clean.com", &v), LP_STAGE_CONTINUE);
  cr_assert_eq(stage_counter("spam_blocked", "Snippets dropped because their domain reached spam_limit spam outcomes.",
                             "snippet"), 1);
}

Test(plugin_example, spam_counts_are_off_by_default) {
  load_blocklist("");
  lp_verdict v;
  for (int i = 0; i < 10; i++) cr_assert_eq(outcome_verdict("spammy.com", LP_EVENT_SPAM, &v), LP_STAGE_CONTINUE);
  cr_assert_eq(snippet_verdict("spammy.com", &v), LP_STAGE_CONTINUE);
}

Test(plugin_example, a_full_spam_table_counts_what_it_cannot_track) {
  load_blocklist("[stage.blocklist]\nspam_limit = 1\nspam_domains = 16\n");
  lp_verdict v;
  char d[32];
  for (int i = 0; i < 20; i++) {
    snprintf(d, sizeof(d), "s%d.com", i);
    cr_assert_eq(outcome_verdict(d, LP_EVENT_SPAM, &v), LP_STAGE_CONTINUE);
  }
  cr_assert_eq(stage_counter("spam_table_full", "Spam outcomes not counted: the shard's table held spam_domains domains.",
                             "outcome"), 4);
  cr_assert_eq(snippet_verdict("s0.com", &v), LP_STAGE_DROP, "tracked");
  cr_assert_eq(snippet_verdict("s19.com", &v), LP_STAGE_CONTINUE, "not tracked");
}

Test(plugin_example, spam_counts_survive_save_and_load) {
  load_blocklist("[stage.blocklist]\nspam_limit = 2\n");
  lp_verdict v;
  for (int i = 0; i < 2; i++) outcome_verdict("spammy.com", LP_EVENT_SPAM, &v);
  outcome_verdict("half.com", LP_EVENT_SPAM, &v);
  lp_buf saved = LP_BUF_INIT;
  cr_assert_eq(lp_stage_shard_save(ss, &saved), LP_OK);
  lp_stage_shard_close(ss);
  cr_assert_eq(lp_stage_shard_open(st, 0, &ss), LP_OK);
  cr_assert_eq(snippet_verdict("spammy.com", &v), LP_STAGE_CONTINUE, "a fresh shard knows nothing");
  cr_assert_eq(lp_stage_shard_load(ss, saved.data, saved.len, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(snippet_verdict("spammy.com", &v), LP_STAGE_DROP);
  cr_assert_eq(snippet_verdict("half.com", &v), LP_STAGE_CONTINUE);
  outcome_verdict("half.com", LP_EVENT_SPAM, &v);
  cr_assert_eq(snippet_verdict("half.com", &v), LP_STAGE_DROP, "the loaded count goes on");
  lp_buf_free(&saved);
}

Test(plugin_example, a_load_of_foreign_bytes_is_refused_naming_the_stage) {
  load_blocklist("[stage.blocklist]\nspam_limit = 2\n");
  /* What lp_stage_shard_save writes: {stage name: bin}; the blocklist's bin is not a saved table. */
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 1);
  msgpack_pack_str(&pk, 9);
  msgpack_pack_str_body(&pk, "blocklist", 9);
  msgpack_pack_bin(&pk, 7);
  msgpack_pack_bin_body(&pk, "BLS1\x05\x00\x00", 7);
  cr_assert_neq(lp_stage_shard_load(ss, sb.data, sb.size, err, sizeof(err)), LP_OK);
  cr_assert(strstr(err, "blocklist") != NULL, "%s", err);
  msgpack_sbuffer_destroy(&sb);
}
