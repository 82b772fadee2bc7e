/* The lead table's tech stack and history in snapshots: version 3 round trip (removed technologies,
 * unknown names, a wrapped history ring), version 2 still loads, malformed entries are refused. */
#define _GNU_SOURCE  /* memmem */
#include <criterion/criterion.h>
#include <msgpack.h>
#include <string.h>

#include "shard/leads.h"
#include "stages/churn/churn.h"
#include "worker/worker.h"

#define DAY 86400000LL
#define T0 1764000000000LL

static lp_techtable *tech;
static char err[256];

static void setup(void) { cr_assert_eq(lp_techtable_builtin(&tech, err, sizeof(err)), LP_OK, "%s", err); }
static void teardown(void) { lp_techtable_free(tech); }
TestSuite(leads_tech, .init = setup, .fini = teardown);

static lp_str S(const char *s) { return (lp_str){ s, strlen(s) }; }

static void change(lp_lead_table *t, const char *domain, int64_t ts, const char *added, const char *removed) {
  lp_str a[1] = { S(added ? added : "") }, r[1] = { S(removed ? removed : "") };
  lp_snippet s;
  memset(&s, 0, sizeof(s));
  s.id = S("x");
  s.miner = S("m");
  s.domain = S(domain);
  s.domain_hash = lp_domain_hash(domain, strlen(domain));
  s.ts_ms = ts;
  s.text = S("t");
  s.tech_added = added ? a : NULL;
  s.n_tech_added = added ? 1 : 0;
  s.tech_removed = removed ? r : NULL;
  s.n_tech_removed = removed ? 1 : 0;
  cr_assert_eq(lp_leads_apply_snippet(t, &s), LP_OK);
}

static lp_lead *get(lp_lead_table *t, const char *d) { return lp_leads_get(t, d, strlen(d), lp_domain_hash(d, strlen(d))); }

Test(leads_tech, version_3_round_trip) {
  lp_churn_conf c = lp_churn_defaults;
  c.max_history = 3;
  lp_lead_table t, u;
  lp_leads_init(&t, 4);
  t.tech = tech;
  t.churn = &c;
  change(&t, "acme.com", T0 - 50 * DAY, "heroku", NULL);
  change(&t, "acme.com", T0 - 40 * DAY, "stripe", NULL);
  change(&t, "acme.com", T0 - 30 * DAY, NULL, "heroku");
  change(&t, "acme.com", T0 - 20 * DAY, "Our Own Billing", NULL);
  change(&t, "acme.com", T0 - 10 * DAY, NULL, "stripe");
  change(&t, "acme.com", T0 - 5 * DAY, "kubernetes", NULL);
  change(&t, "acme.com", T0 - 1 * DAY, "zapier", NULL);
  change(&t, "other.io", T0, NULL, NULL);
  lp_lead *x = get(&t, "acme.com");
  cr_assert_eq(x->n_churn, 3);
  cr_assert_neq(x->churn_head, 0, "the ring has wrapped");
  cr_assert_str_eq(lp__lead_churn_at(x, 0)->tech, "stripe", "the oldest kept is the 5th change");
  lp_buf b = LP_BUF_INIT;
  cr_assert_eq(lp_leads_save(&t, &b), LP_OK);
  lp_leads_init(&u, 4);
  u.tech = tech;
  u.churn = &c;
  cr_assert_eq(lp_leads_load(&u, b.data, b.len, err, sizeof(err)), LP_OK, "%s", err);
  lp_lead *y = get(&u, "acme.com");
  cr_assert_eq(y->n_tech, x->n_tech);
  cr_assert_eq(y->n_gone, x->n_gone);
  for (uint32_t i = 0; i < y->n_tech; i++) cr_assert(lp_lead_uses_tech(x, y->tech[i].name), "in use stays in use");
  const char *domains[] = { "acme.com", "other.io" };
  for (int i = 0; i < 2; i++) {
    lp_buf jx = LP_BUF_INIT, jy = LP_BUF_INIT, jz = LP_BUF_INIT;
    cr_assert_eq(lp_leads_lead_json(&t, get(&t, domains[i]), T0, &jx), LP_OK);
    cr_assert_eq(lp_leads_lead_json(&u, get(&u, domains[i]), T0, &jy), LP_OK);
    cr_assert_eq(lp_leads_lead_json(NULL, get(&u, domains[i]), T0, &jz), LP_OK);
    cr_assert_str_eq(jx.data, jy.data, "a lead reads back exactly");
    cr_assert_str_eq(jy.data, jz.data, "the loaded ring knows its table");
    lp_buf_free(&jx);
    lp_buf_free(&jy);
    lp_buf_free(&jz);
  }
  cr_assert_not_null(memmem(b.data, b.len, "our own billing", 15), "an unknown name is saved as lower-cased text");
  lp_leads_free(&u);
  /* A cut anywhere is refused, never half-read. */
  for (size_t cut = 0; cut < b.len; cut += 5) {
    lp_leads_init(&u, 4);
    u.tech = tech;
    cr_assert_neq(lp_leads_load(&u, b.data, cut, err, sizeof(err)), LP_OK, "cut at %zu", cut);
    lp_leads_free(&u);
  }
  lp_buf_free(&b);
  lp_leads_free(&t);
}

static int buf_write(void *data, const char *p, size_t n) { return lp_buf_append(data, p, n) == LP_OK ? 0 : -1; }

static void pstr(msgpack_packer *pk, const char *s) {
  msgpack_pack_str(pk, strlen(s));
  msgpack_pack_str_body(pk, s, strlen(s));
}

/* ["lp-leads", version, [[acme.com, nil, nil, "", 0, 0, 1000, 1000, 1, [], tech, [[stripe, 1000, true]], [], []]]]
 * with tech entries of `fields` fields each: [name, a, b, c] cut to fields. */
static void snapshot(lp_buf *b, int version, const char *const *names, const int64_t (*vals)[3], int n, int fields) {
  msgpack_packer pk;
  msgpack_packer_init(&pk, b, buf_write);
  msgpack_pack_array(&pk, 3);
  pstr(&pk, "lp-leads");
  msgpack_pack_int(&pk, version);
  msgpack_pack_array(&pk, 1);
  msgpack_pack_array(&pk, 14);
  pstr(&pk, "acme.com");
  msgpack_pack_nil(&pk);
  msgpack_pack_nil(&pk);
  pstr(&pk, "");
  for (int i = 0; i < 4; i++) msgpack_pack_int64(&pk, i < 2 ? 0 : 1000);
  msgpack_pack_uint64(&pk, 1);
  msgpack_pack_array(&pk, 0);
  msgpack_pack_array(&pk, (uint32_t)n);
  for (int i = 0; i < n; i++) {
    msgpack_pack_array(&pk, (uint32_t)fields);
    pstr(&pk, names[i]);
    for (int k = 0; k < fields - 1; k++) msgpack_pack_int64(&pk, vals[i][k]);
  }
  msgpack_pack_array(&pk, 1);
  msgpack_pack_array(&pk, 3);
  pstr(&pk, "stripe");
  msgpack_pack_int64(&pk, 1000);
  msgpack_pack_true(&pk);
  msgpack_pack_array(&pk, 0);
  msgpack_pack_array(&pk, 0);
}

Test(leads_tech, version_2_still_loads) {
  const char *names[] = { "stripe", "home made" };
  const int64_t vals[][3] = { { 1000, 0, 0 }, { 900, 0, 0 } };
  lp_buf b = LP_BUF_INIT;
  snapshot(&b, 2, names, vals, 2, 2);
  lp_lead_table u;
  lp_leads_init(&u, 4);
  u.tech = tech;
  cr_assert_eq(lp_leads_load(&u, b.data, b.len, err, sizeof(err)), LP_OK, "%s", err);
  lp_lead *l = get(&u, "acme.com");
  cr_assert_eq(l->n_tech, 2, "version 2 kept only technologies in use");
  cr_assert_eq(l->n_gone, 0);
  cr_assert_str_eq(l->tech[0].name, "stripe");
  cr_assert_eq(l->tech[0].first_ms, 1000);
  cr_assert_eq(l->tech[0].last_ms, 1000, "first and last seen at `since`");
  cr_assert_neq(l->tech[0].id, LP_TECH_NONE, "known names point into the table");
  cr_assert_eq(l->tech[1].id, LP_TECH_NONE);
  lp_leads_free(&u);
  lp_buf_free(&b);
}

Test(leads_tech, version_3_puts_removed_last) {
  const char *names[] = { "heroku", "stripe", "zapier", "kubernetes" };
  const int64_t vals[][3] = { { 10, 20, 30 }, { 10, 40, 0 }, { 5, 6, 7 }, { 50, 60, 0 } };
  lp_buf b = LP_BUF_INIT;
  snapshot(&b, 3, names, vals, 4, 4);
  lp_lead_table u;
  lp_leads_init(&u, 4);
  cr_assert_eq(lp_leads_load(&u, b.data, b.len, err, sizeof(err)), LP_OK, "%s", err);
  lp_lead *l = get(&u, "acme.com");
  cr_assert_eq(l->n_tech, 2);
  cr_assert_eq(l->n_gone, 2);
  cr_assert(lp_lead_uses_tech(l, "stripe") && lp_lead_uses_tech(l, "kubernetes"));
  cr_assert_not(lp_lead_uses_tech(l, "heroku"));
  for (uint32_t i = l->n_tech; i < 4; i++) cr_assert_neq(l->tech[i].removed_ms, 0);
  lp_leads_free(&u);
  lp_buf_free(&b);
}

Test(leads_tech, malformed_entries_are_refused) {
  const char *names[] = { "stripe" };
  const int64_t vals[][3] = { { 1, 2, 3 } };
  lp_buf b = LP_BUF_INIT;
  snapshot(&b, 3, names, vals, 1, 2);  /* a version 3 entry of 2 fields */
  lp_lead_table u;
  lp_leads_init(&u, 4);
  cr_assert_neq(lp_leads_load(&u, b.data, b.len, err, sizeof(err)), LP_OK);
  cr_assert(strstr(err, "tech entry") != NULL, "%s", err);
  lp_leads_free(&u);
  lp_buf_free(&b);
}
