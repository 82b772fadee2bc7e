/* Every snippet rule of contract section 1, with a passing and a failing case, by JSON and by msgpack. */
#include <stdlib.h>
#include <xxhash.h>

#include "fixtures.h"
#include "worker/worker.h"

typedef struct rule_case {
  const char *path;     /* field to set ("lead.domain") */
  const char *value;    /* JSON text of the value; NULL removes the field */
  const char *code;     /* expected code; NULL = accepted */
  const char *in_msg;   /* expected part of the message */
} rule_case;

/* Runs one case through JSON and, when both is set, through msgpack too. */
static void run_case(const rule_case *c, const lp_domain_set *b2c, int both) {
  char *text = fx_with(VALID_SNIPPET, c->path, c->value);
  for (int via = 0; via < (both ? 2 : 1); via++) {
    lp_reject rej = { 0 };
    int rc = via ? fx_snippet_mp(text, b2c, &rej, NULL) : fx_snippet_json(text, b2c, &rej, NULL);
    const char *how = via ? "msgpack" : "json";
    if (!c->code) {
      cr_expect_eq(rc, LP_OK, "%s %s=%s: rejected with %s: %s", how, c->path, c->value ? c->value : "(absent)",
                   rej.code ? rej.code : "-", rej.message);
      continue;
    }
    cr_expect_eq(rc, LP_EINVAL, "%s %s=%s: accepted", how, c->path, c->value ? c->value : "(absent)");
    if (rc != LP_EINVAL) continue;
    cr_expect_str_eq(rej.code, c->code, "%s %s=%s: code %s, message %s", how, c->path,
                     c->value ? c->value : "(absent)", rej.code, rej.message);
    if (c->in_msg)
      cr_expect(strstr(rej.message, c->in_msg) != NULL, "%s %s: message '%s' lacks '%s'", how, c->path,
                rej.message, c->in_msg);
  }
  free(text);
}

static const rule_case id_cases[] = {
  { "id", "\"x\"", NULL, NULL },
  { "id", "\"0123456789012345678901234567890123456789012345678901234567890123\"", NULL, NULL },
  { "id", NULL, "bad_field", "id is missing" },
  { "id", "\"\"", "bad_field", "id must be 1..64 bytes" },
  { "id", "\"01234567890123456789012345678901234567890123456789012345678901234\"", "bad_field", "id must be 1..64" },
  { "id", "42", "bad_field", "id must be a string" },
  { "id", "null", "bad_field", "id must be a string" },
};

static const rule_case miner_cases[] = {
  { "miner", "\"A.b_c-9\"", NULL, NULL },
  { "miner", NULL, "bad_field", "miner is missing" },
  { "miner", "\"\"", "bad_field", "miner must be 1..64" },
  { "miner", "\"m i\"", "bad_field", "miner may only hold" },
  { "miner", "\"m/1\"", "bad_field", "miner may only hold" },
  { "miner", "\"mineur-é\"", "bad_field", "miner may only hold" },
  { "miner", "[\"m\"]", "bad_field", "miner must be a string" },
  { "miner", "\"0123456789012345678901234567890123456789012345678901234567890123x\"", "bad_field", "miner must be 1..64" },
};

static const rule_case ts_cases[] = {
  { "ts", "0", "bad_field", "ts is before 2000-01-01" },
  { "ts", "946684799999", "bad_field", "ts is before 2000-01-01" },
  { "ts", "946684800000", NULL, NULL },
  { "ts", "1764000600000", NULL, NULL },             /* exactly 10 min ahead: allowed */
  { "ts", "1764000600001", "future_ts", "ts 1764000600001" },
  { "ts", "9223372036854775807", "future_ts", NULL },
  { "ts", NULL, "bad_field", "ts is missing" },
  { "ts", "-1", "bad_field", "ts must be >= 0" },
  { "ts", "1763999000000.0", "bad_field", "ts must be an integer" },
  { "ts", "\"1763999000000\"", "bad_field", "ts must be an integer" },
  { "ts", "true", "bad_field", "ts must be an integer" },
};

static const rule_case lead_cases[] = {
  { "lead", "{\"domain\":\"acme.com\"}", NULL, NULL },
  { "lead", NULL, "bad_field", "lead is missing" },
  { "lead", "\"acme.com\"", "bad_field", "lead must be an object" },
  { "lead", "[]", "bad_field", "lead must be an object" },
  { "lead.domain", "\"HTTPS://WWW.ACME.COM:8443/x?y#z\"", NULL, NULL },
  { "lead.domain", NULL, "bad_field", "lead.domain is missing" },
  { "lead.domain", "7", "bad_field", "lead.domain must be a string" },
  { "lead.domain", "\"\"", "bad_field", "lead.domain" },
  { "lead.domain", "\"localhost\"", "bad_field", "lead.domain needs at least one dot" },
  { "lead.domain", "\"10.0.0.1\"", "bad_field", "lead.domain is an IP address" },
  { "lead.domain", "\"acme_inc.com\"", "bad_field", "lead.domain has a character outside" },
  { "lead.domain", "\"gmail.com\"", "b2c_domain", "lead.domain gmail.com" },
  { "lead.domain", "\"https://mail.yahoo.com/\"", "b2c_domain", NULL },
  { "lead.domain", "\"mailinator.com\"", "b2c_domain", NULL },
  { "lead.name", "\"Acme, Inc.\"", NULL, NULL },
  { "lead.name", NULL, NULL, NULL },
  { "lead.name", "null", NULL, NULL },
  { "lead.name", "12", "bad_field", "lead.name must be a string" },
  { "lead.industry", "\"541511\"", NULL, NULL },
  { "lead.industry", "541511", "bad_field", "lead.industry must be a string" },
  { "lead.role", "\"CTO\"", NULL, NULL },
  { "lead.role", "{}", "bad_field", "lead.role must be a string" },
  { "lead.employees", "1", NULL, NULL },
  { "lead.employees", NULL, NULL, NULL },
  { "lead.employees", "0", "bad_field", "lead.employees must be >= 1" },
  { "lead.employees", "-5", "bad_field", "lead.employees must be >= 1" },
  { "lead.employees", "12.5", "bad_field", "lead.employees must be an integer" },
  { "lead.employees", "\"250\"", "bad_field", "lead.employees must be an integer" },
  { "lead.country", "\"DE\"", NULL, NULL },
  { "lead.country", "\"de\"", NULL, NULL },
  { "lead.country", "\"DEU\"", "bad_field", "lead.country" },
  { "lead.country", "\"D\"", "bad_field", "lead.country must be 2 letters" },
  { "lead.country", "\"D1\"", "bad_field", "lead.country must be 2 letters" },
  { "lead.country", "49", "bad_field", "lead.country must be a string" },
};

static const rule_case body_cases[] = {
  { "kind", "\"funding\"", NULL, NULL },
  { "kind", "\"web\"", NULL, NULL },
  { "kind", NULL, "bad_field", "kind is missing" },
  { "kind", "\"Hiring\"", "bad_field", "kind must be one of hiring, funding, tech, news, review, event, web" },
  { "kind", "\"gossip\"", "bad_field", "kind must be one of" },
  { "kind", "3", "bad_field", "kind must be a string" },
  { "text", "\"x\"", NULL, NULL },
  { "text", NULL, "bad_field", "text is missing" },
  { "text", "\"\"", "bad_field", "text must be 1..4096 bytes" },
  { "text", "[\"a\"]", "bad_field", "text must be a string" },
  { "url", NULL, NULL, NULL },
  { "url", "\"https://acme.com/blog/post\"", NULL, NULL },
  { "url", "false", "bad_field", "url must be a string" },
  { "tech_added", "[]", NULL, NULL },
  { "tech_added", NULL, NULL, NULL },
  { "tech_added", "\"kubernetes\"", "bad_field", "tech_added must be an array of strings" },
  { "tech_added", "[\"a\", 3]", "bad_field", "tech_added[1] must be a string" },
  { "tech_added", "[\"\"]", "bad_field", "tech_added[0] must be 1..128 bytes" },
  { "tech_removed", "[\"heroku\", \"aws\"]", NULL, NULL },
  { "tech_removed", "{}", "bad_field", "tech_removed must be an array" },
  { "tech_removed", "[null]", "bad_field", "tech_removed[0] must be a string" },
};

static const rule_case pii_cases[] = {
  { "text", "\"Write to jane.doe@acme.com for details\"", "pii", "text holds a personal e-mail" },
  { "text", "\"Write to sales@acme.com or support+eu@acme.com\"", NULL, NULL },
  { "text", "\"C# @ scale, see @acme on twitter\"", NULL, NULL },
  { "url", "\"mailto:john@acme.io\"", "pii", "url holds" },
  { "url", "\"https://medium.com/@jane/post\"", NULL, NULL },
  { "lead.name", "\"Bob Smith <bob.smith@acme.com>\"", "pii", "lead.name holds" },
  { "lead.role", "\"jane@acme.com\"", "pii", "lead.role holds" },
  { "lead.industry", "\"contact hr@acme.de\"", NULL, NULL },
  { "lead.industry", "\"ping m.rossi@acme.it\"", "pii", "lead.industry holds" },
  { "tech_added", "[\"k8s\", \"ask alice@acme.com\"]", "pii", "tech_added[1] holds" },
  { "tech_removed", "[\"mark@acme.com\"]", "pii", "tech_removed[0] holds" },
};

static lp_domain_set *b2c;

static void setup(void) {
  cr_assert_eq(lp_domain_set_builtin(&b2c), LP_OK);
}

static void teardown(void) {
  lp_domain_set_free(b2c);
}

static void run_table(const rule_case *cases, size_t n, int both) {
  for (size_t i = 0; i < n; i++) run_case(&cases[i], b2c, both);
}

#define RUN(t, both) run_table(t, sizeof(t) / sizeof(t[0]), both)

Test(snippet, id, .init = setup, .fini = teardown) { RUN(id_cases, 1); }
Test(snippet, miner, .init = setup, .fini = teardown) { RUN(miner_cases, 1); }
Test(snippet, ts, .init = setup, .fini = teardown) { RUN(ts_cases, 1); }
Test(snippet, lead, .init = setup, .fini = teardown) { RUN(lead_cases, 1); }
Test(snippet, kind_text_url_tech, .init = setup, .fini = teardown) { RUN(body_cases, 1); }
Test(snippet, pii, .init = setup, .fini = teardown) { RUN(pii_cases, 1); }

Test(snippet, decoded_fields, .init = setup, .fini = teardown) {
  lp_reject rej = { 0 };
  lp_snippet *s = NULL;
  cr_assert_eq(fx_snippet_json(VALID_SNIPPET, b2c, &rej, &s), LP_OK, "%s", rej.message);
  cr_assert_str_eq(s->id.ptr, "s-1");
  cr_assert_str_eq(s->miner.ptr, "miner_1.a-b");
  cr_assert_eq(s->ts_ms, 1763999000000LL);
  cr_assert_str_eq(s->domain.ptr, "acme.com");
  cr_assert_eq(s->domain.len, 8);
  cr_assert_str_eq(s->name.ptr, "Acme");
  cr_assert_str_eq(s->industry.ptr, "software");
  cr_assert_str_eq(s->country.ptr, "US");
  cr_assert_str_eq(s->role.ptr, "VP Engineering");
  cr_assert_eq(s->employees, 250);
  cr_assert_eq(s->kind, LP_KIND_HIRING);
  cr_assert_str_eq(lp_snippet_kind_name(s->kind), "hiring");
  cr_assert_eq(s->n_tech_added, 1);
  cr_assert_str_eq(s->tech_added[0].ptr, "kubernetes");
  cr_assert_eq(s->n_tech_removed, 1);
  cr_assert_str_eq(s->tech_removed[0].ptr, "heroku");
  cr_assert_eq(s->arrival_ms, NOW_MS);
  cr_assert_eq(s->shard, lp_partition_of(s->domain.ptr, s->domain.len, 64));
  cr_assert_eq(s->domain_hash, XXH3_64bits("acme.com", 8));
  lp_free(s);
  /* Optional fields absent: len 0, arrays NULL. */
  cr_assert_eq(fx_snippet_json("{\"id\":\"a\",\"miner\":\"m\",\"ts\":1700000000000,\"lead\":{\"domain\":\"acme.com\"},"
                               "\"kind\":\"news\",\"text\":\"t\"}", b2c, &rej, &s), LP_OK, "%s", rej.message);
  cr_assert_eq(s->name.len, 0);
  cr_assert_eq(s->country.len, 0);
  cr_assert_eq(s->employees, 0);
  cr_assert_null(s->tech_added);
  cr_assert_eq(s->n_tech_removed, 0);
  lp_free(s);
}

Test(snippet, same_result_by_msgpack, .init = setup, .fini = teardown) {
  lp_reject rej = { 0 };
  lp_snippet *a = NULL, *b = NULL;
  cr_assert_eq(fx_snippet_json(VALID_SNIPPET, b2c, &rej, &a), LP_OK);
  cr_assert_eq(fx_snippet_mp(VALID_SNIPPET, b2c, &rej, &b), LP_OK, "%s", rej.message);
  cr_assert_str_eq(a->domain.ptr, b->domain.ptr);
  cr_assert_eq(a->domain_hash, b->domain_hash);
  cr_assert_str_eq(a->text.ptr, b->text.ptr);
  cr_assert_eq(a->employees, b->employees);
  lp_free(a);
  lp_free(b);
}

Test(snippet, lengths, .init = setup, .fini = teardown) {
  char big[5000], json[5200];
  lp_reject rej = { 0 };
  const struct { const char *path; size_t ok, bad; } lims[] = {
    { "text", 4096, 4097 }, { "url", 2048, 2049 }, { "lead.name", 256, 257 },
    { "lead.industry", 256, 257 }, { "lead.role", 256, 257 },
  };
  for (size_t i = 0; i < sizeof(lims) / sizeof(lims[0]); i++) {
    for (int bad = 0; bad < 2; bad++) {
      size_t n = bad ? lims[i].bad : lims[i].ok;
      memset(big, 'a', n);
      big[n] = '\0';
      snprintf(json, sizeof(json), "\"%s\"", big);
      char *text = fx_with(VALID_SNIPPET, lims[i].path, json);
      int rc = fx_snippet_json(text, b2c, &rej, NULL);
      cr_expect_eq(rc, bad ? LP_EINVAL : LP_OK, "%s of %zu bytes", lims[i].path, n);
      if (bad) cr_expect(strstr(rej.message, lims[i].path) != NULL, "%s", rej.message);
      free(text);
    }
  }
  /* tech arrays: 64 entries of 128 bytes pass, 65 entries or a 129-byte entry fail. */
  for (int bad = 0; bad < 3; bad++) {
    json_t *arr = json_array();
    memset(big, 't', 129);
    big[bad == 2 ? 129 : 128] = '\0';
    for (int i = 0; i < (bad == 1 ? 65 : 64); i++) json_array_append_new(arr, json_string(big));
    char *v = json_dumps(arr, JSON_COMPACT);
    char *text = fx_with(VALID_SNIPPET, "tech_added", v);
    cr_expect_eq(fx_snippet_json(text, b2c, &rej, NULL), bad ? LP_EINVAL : LP_OK, "case %d: %s", bad, rej.message);
    free(v);
    free(text);
    json_decref(arr);
  }
}

Test(snippet, not_an_object, .init = setup, .fini = teardown) {
  lp_reject rej = { 0 };
  cr_assert_eq(fx_snippet_json("[1]", b2c, &rej, NULL), LP_EINVAL);
  cr_assert_str_eq(rej.code, "bad_field");
  cr_assert(strstr(rej.message, "must be an object") != NULL);
  cr_assert_eq(fx_snippet_mp("\"x\"", b2c, &rej, NULL), LP_EINVAL);
  cr_assert_str_eq(rej.code, "bad_field");
}

Test(snippet, check_order, .init = setup, .fini = teardown) {
  lp_reject rej = { 0 };
  /* A bad field wins over a future ts; a future ts over b2c; b2c over pii. */
  cr_assert_eq(fx_snippet_json("{\"id\":\"a\",\"miner\":\"m\",\"ts\":9999999999999,\"lead\":{\"domain\":\"gmail.com\"},"
                               "\"kind\":\"nope\",\"text\":\"jane@acme.com\"}", b2c, &rej, NULL), LP_EINVAL);
  cr_assert_str_eq(rej.code, "bad_field");
  cr_assert_eq(fx_snippet_json("{\"id\":\"a\",\"miner\":\"m\",\"ts\":9999999999999,\"lead\":{\"domain\":\"gmail.com\"},"
                               "\"kind\":\"web\",\"text\":\"jane@acme.com\"}", b2c, &rej, NULL), LP_EINVAL);
  cr_assert_str_eq(rej.code, "future_ts");
  cr_assert_eq(fx_snippet_json("{\"id\":\"a\",\"miner\":\"m\",\"ts\":1700000000000,\"lead\":{\"domain\":\"gmail.com\"},"
                               "\"kind\":\"web\",\"text\":\"jane@acme.com\"}", b2c, &rej, NULL), LP_EINVAL);
  cr_assert_str_eq(rej.code, "b2c_domain");
  cr_assert_eq(fx_snippet_json("{\"id\":\"a\",\"miner\":\"m\",\"ts\":1700000000000,\"lead\":{\"domain\":\"acme.com\"},"
                               "\"kind\":\"web\",\"text\":\"jane@acme.com\"}", b2c, &rej, NULL), LP_EINVAL);
  cr_assert_str_eq(rej.code, "pii");
}

Test(snippet, no_b2c_set_means_no_b2c_check) {
  lp_reject rej = { 0 };
  char *text = fx_with(VALID_SNIPPET, "lead.domain", "\"gmail.com\"");
  cr_assert_eq(fx_snippet_json(text, NULL, &rej, NULL), LP_OK);
  free(text);
}
