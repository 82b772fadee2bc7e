#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "shard/leads.h"
#include "shard/shard.h"
#include "worker/worker.h"

static lp_str S(const char *s) { return (lp_str){ s, strlen(s) }; }

static lp_snippet snip(const char *id, const char *domain, int64_t ts, const char *text) {
  lp_snippet s;
  memset(&s, 0, sizeof(s));
  s.id = S(id);
  s.miner = S("m1");
  s.domain = S(domain);
  s.domain_hash = lp_domain_hash(domain, strlen(domain));
  s.ts_ms = ts;
  s.text = S(text);
  s.kind = LP_KIND_HIRING;
  return s;
}

Test(leads, applies_and_counts) {
  lp_lead_table t;
  cr_assert_eq(lp_leads_init(&t, 4), LP_OK);
  lp_snippet a = snip("1", "acme.com", 1000, "hiring");
  a.name = S("Acme");
  a.country = S("US");
  a.employees = 250;
  cr_assert_eq(lp_leads_apply_snippet(&t, &a), LP_OK);
  lp_snippet b = snip("2", "acme.com", 2000, "funding");
  cr_assert_eq(lp_leads_apply_snippet(&t, &b), LP_OK);
  cr_assert_eq(lp_leads_count(&t), 1);
  lp_lead *l = lp_leads_get(&t, "acme.com", 8, a.domain_hash);
  cr_assert_not_null(l);
  cr_assert_eq(l->snippets, 2);
  cr_assert_str_eq(l->name, "Acme", "a later snippet without a name keeps the known one");
  cr_assert_eq(l->employees, 250);
  cr_assert_str_eq(l->country, "US");
  cr_assert_eq(l->first_ts_ms, 1000);
  cr_assert_eq(l->last_ts_ms, 2000);
  cr_assert_null(lp_leads_get(&t, "acme.co", 7, lp_domain_hash("acme.co", 7)));
  lp_leads_free(&t);
}

Test(leads, newest_firmographics_win_in_event_time) {
  lp_lead_table t;
  lp_leads_init(&t, 4);
  lp_snippet newer = snip("1", "acme.com", 5000, "x");
  newer.employees = 300;
  newer.name = S("Acme Inc");
  lp_snippet older = snip("2", "acme.com", 1000, "y");
  older.employees = 100;
  older.name = S("Acme Old");
  older.industry = S("Software");
  lp_leads_apply_snippet(&t, &newer);
  lp_leads_apply_snippet(&t, &older);
  lp_lead *l = lp_leads_get(&t, "acme.com", 8, newer.domain_hash);
  cr_assert_eq(l->employees, 300, "an older snippet arriving late does not overwrite");
  cr_assert_str_eq(l->name, "Acme Inc");
  cr_assert_str_eq(l->industry, "Software", "but it fills what was unknown");
  lp_leads_free(&t);
}

Test(leads, evidence_keeps_the_newest_by_event_time) {
  lp_lead_table t;
  lp_leads_init(&t, 3);
  int64_t ts[] = { 50, 10, 40, 20, 30, 5 };
  char id[16];
  for (int i = 0; i < 6; i++) {
    snprintf(id, sizeof(id), "e%d", i);
    lp_snippet s = snip(id, "acme.com", ts[i], "t");
    lp_leads_apply_snippet(&t, &s);
  }
  lp_lead *l = lp_leads_get(&t, "acme.com", 8, lp_domain_hash("acme.com", 8));
  cr_assert_eq(l->n_ev, 3);
  int64_t sum = 0;
  for (uint32_t i = 0; i < l->n_ev; i++) sum += l->ev[i].ts_ms;
  cr_assert_eq(sum, 50 + 40 + 30, "the three newest are kept");
  cr_assert_eq(l->snippets, 6, "all are counted");
  lp_buf b = LP_BUF_INIT;
  cr_assert_eq(lp_lead_to_json(l, &b), LP_OK);
  const char *p50 = strstr(b.data, "\"ts\":50"), *p40 = strstr(b.data, "\"ts\":40"), *p30 = strstr(b.data, "\"ts\":30");
  cr_assert(p50 && p40 && p30 && p50 < p40 && p40 < p30, "evidence newest first: %s", b.data);
  lp_buf_free(&b);
  lp_leads_free(&t);
}

Test(leads, tech_stack_and_churn) {
  lp_lead_table t;
  lp_leads_init(&t, 4);
  lp_str added[] = { S("Stripe"), S("Heroku") };
  lp_snippet a = snip("1", "acme.com", 1000, "x");
  a.tech_added = added;
  a.n_tech_added = 2;
  lp_leads_apply_snippet(&t, &a);
  lp_str removed[] = { S("heroku") };
  lp_snippet r = snip("2", "acme.com", 2000, "y");
  r.tech_removed = removed;
  r.n_tech_removed = 1;
  lp_leads_apply_snippet(&t, &r);
  lp_snippet stale = snip("3", "acme.com", 500, "z");
  lp_str rm_stripe[] = { S("stripe") };
  stale.tech_removed = rm_stripe;
  stale.n_tech_removed = 1;
  lp_leads_apply_snippet(&t, &stale);
  lp_lead *l = lp_leads_get(&t, "acme.com", 8, a.domain_hash);
  cr_assert_eq(l->n_tech, 1);
  cr_assert_str_eq(l->tech[0].name, "stripe", "names are lower-cased; an old removal does not undo a newer add");
  cr_assert_eq(l->n_churn, 4);
  lp_buf b = LP_BUF_INIT;
  lp_lead_to_json(l, &b);
  cr_assert(strstr(b.data, "\"tech\":[\"stripe\"]") != NULL, "%s", b.data);
  cr_assert(strstr(b.data, "{\"tech\":\"heroku\",\"change\":\"removed\",\"ts\":2000}") != NULL, "%s", b.data);
  lp_buf_free(&b);
  lp_leads_free(&t);
}

Test(leads, json_escapes_and_grows) {
  lp_lead_table t;
  lp_leads_init(&t, 2);
  char d[32];
  for (int i = 0; i < 5000; i++) {
    int n = snprintf(d, sizeof(d), "c%d.com", i);
    (void)n;
    lp_snippet s = snip("x", d, i, "quote \" and \\ and \n newline");
    cr_assert_eq(lp_leads_apply_snippet(&t, &s), LP_OK);
  }
  cr_assert_eq(lp_leads_count(&t), 5000);
  lp_lead *l = lp_leads_get(&t, "c4999.com", 9, lp_domain_hash("c4999.com", 9));
  cr_assert_not_null(l);
  lp_buf b = LP_BUF_INIT;
  lp_lead_to_json(l, &b);
  cr_assert(strstr(b.data, "quote \\\" and \\\\ and \\n newline") != NULL, "%s", b.data);
  lp_buf_free(&b);
  lp_leads_free(&t);
}

Test(leads, save_load_round_trip) {
  lp_lead_table t, u;
  lp_leads_init(&t, 4);
  lp_str added[] = { S("kubernetes") };
  for (int i = 0; i < 100; i++) {
    char d[32], id[16];
    snprintf(d, sizeof(d), "c%d.com", i % 10);
    snprintf(id, sizeof(id), "s%d", i);
    lp_snippet s = snip(id, d, 1000 + i, "text");
    s.url = S("https://example.org/p");
    s.tech_added = added;
    s.n_tech_added = i % 2;
    s.employees = 10 + i;
    s.country = S("DE");
    lp_leads_apply_snippet(&t, &s);
  }
  lp_outcome o;
  memset(&o, 0, sizeof(o));
  o.domain = S("c3.com");
  o.domain_hash = lp_domain_hash("c3.com", 6);
  o.event = LP_EVENT_MEETING;
  lp_leads_apply_outcome(&t, &o);
  lp_buf b = LP_BUF_INIT;
  cr_assert_eq(lp_leads_save(&t, &b), LP_OK);
  lp_leads_init(&u, 4);
  char err[256] = "";
  cr_assert_eq(lp_leads_load(&u, b.data, b.len, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(lp_leads_count(&u), 10);
  for (int i = 0; i < 10; i++) {
    char d[32];
    int n = snprintf(d, sizeof(d), "c%d.com", i);
    lp_lead *x = lp_leads_get(&t, d, (size_t)n, lp_domain_hash(d, (size_t)n));
    lp_lead *y = lp_leads_get(&u, d, (size_t)n, lp_domain_hash(d, (size_t)n));
    cr_assert_not_null(y);
    lp_buf jx = LP_BUF_INIT, jy = LP_BUF_INIT;
    lp_lead_to_json(x, &jx);
    lp_lead_to_json(y, &jy);
    cr_assert_str_eq(jx.data, jy.data, "a lead reads back exactly");
    lp_buf_free(&jx);
    lp_buf_free(&jy);
  }
  lp_leads_free(&u);
  /* Corrupt, truncated and foreign input is refused with a message, never a crash. */
  for (size_t cut = 0; cut < b.len; cut += 7) {
    lp_leads_init(&u, 4);
    int rc = lp_leads_load(&u, b.data, cut, err, sizeof(err));
    cr_assert_neq(rc, LP_OK, "a snapshot cut at %zu bytes is refused", cut);
    lp_leads_free(&u);
  }
  lp_leads_init(&u, 4);
  cr_assert_neq(lp_leads_load(&u, "\x93\xa3xyz\x01\x90", 7, err, sizeof(err)), LP_OK);
  cr_assert(strstr(err, "magic") != NULL, "%s", err);
  lp_leads_free(&u);
  lp_buf_free(&b);
  lp_leads_free(&t);
}

Test(leads, newer_snapshot_version_is_refused) {
  /* ["lp-leads", 99, []] */
  const char doc[] = "\x93\xa8lp-leads\x63\x90";
  lp_lead_table u;
  lp_leads_init(&u, 4);
  char err[256] = "";
  cr_assert_neq(lp_leads_load(&u, doc, sizeof(doc) - 1, err, sizeof(err)), LP_OK);
  cr_assert(strstr(err, "version 99 is newer") != NULL, "%s", err);
  lp_leads_free(&u);
}

Test(shard, file_snapshot_round_trip) {
  lp_shard_env env;
  memset(&env, 0, sizeof(env));
  env.evidence_cap = 4;
  lp_index_params_default(&env.index);
  lp_shard a, b;
  cr_assert_eq(lp_shard_open(&a, 5, &env), LP_OK);
  lp_snippet s = snip("1", "acme.com", 1000, "hello");
  cr_assert_null(lp_shard_snippet(&a, &s));
  char dir[] = "/tmp/lpt-shard-XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  char err[512] = "";
  cr_assert_eq(lp_shard_save_file(&a, dir, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(lp_shard_open(&b, 5, &env), LP_OK);
  cr_assert_eq(lp_shard_load_file(&b, dir, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(lp_leads_count(&b.leads), 1);
  lp_shard_close(&b);
  lp_shard c;
  lp_shard_open(&c, 6, &env);
  cr_assert_eq(lp_shard_load_file(&c, dir, err, sizeof(err)), LP_ENOENT, "no file: a fresh shard");
  lp_shard_close(&c);
  lp_shard_close(&a);
  char path[600];
  snprintf(path, sizeof(path), "%s/shard-0005.lpstate", dir);
  FILE *f = fopen(path, "w");
  fputs("garbage", f);
  fclose(f);
  lp_shard_open(&b, 5, &env);
  cr_assert_neq(lp_shard_load_file(&b, dir, err, sizeof(err)), LP_OK);
  cr_assert(strstr(err, "shard-0005.lpstate") != NULL, "%s", err);
  lp_shard_close(&b);
  unlink(path);
  rmdir(dir);
}
