/*
 * test_leads_enrich.c: the enrichment vendor's last answer in a lead's state (lp_lead.enrich_ms,
 * enrich_state): saved and read back by the version 4 lead snapshot, absent (never looked up) in a version
 * 3 one, and a snapshot with a bad state refused.
 */
#include <criterion/criterion.h>
#include <msgpack.h>
#include <string.h>

#include "base/alloc.h"
#include "shard/leads.h"
#include "worker/worker.h"

static char err[256];

static lp_lead *get(lp_lead_table *t, const char *d) { return lp_leads_get(t, d, strlen(d), lp_domain_hash(d, strlen(d))); }

static void add(lp_lead_table *t, const char *domain, const char *id) {
  lp_snippet s;
  memset(&s, 0, sizeof(s));
  s.id = (lp_str){ id, strlen(id) };
  s.miner = (lp_str){ "m1", 2 };
  s.domain = (lp_str){ domain, strlen(domain) };
  s.domain_hash = lp_domain_hash(domain, strlen(domain));
  s.ts_ms = 1000;
  s.text = (lp_str){ "hiring billing engineers", 24 };
  s.kind = LP_KIND_HIRING;
  cr_assert_eq(lp_leads_apply_snippet(t, &s), LP_OK);
}

static int enrich(lp_lead_table *t, const char *d, int state, int64_t at, const char *name) {
  return lp_leads_apply_enrichment(t, d, strlen(d), lp_domain_hash(d, strlen(d)), state, at, name, NULL, NULL, 0);
}

Test(leads_enrich, the_state_survives_a_snapshot) {
  lp_lead_table t;
  cr_assert_eq(lp_leads_init(&t, 4), LP_OK);
  add(&t, "known.com", "1");
  add(&t, "unknown.com", "2");
  add(&t, "never.com", "3");
  cr_assert_eq(enrich(&t, "known.com", LP_LEAD_ENRICH_FOUND, 1764000000000LL, "Known Inc"), 1);
  cr_assert_eq(enrich(&t, "unknown.com", LP_LEAD_ENRICH_NOT_FOUND, 1764000000123LL, NULL), 1);
  lp_buf b = LP_BUF_INIT;
  cr_assert_eq(lp_leads_save(&t, &b), LP_OK);
  lp_lead_table u;
  cr_assert_eq(lp_leads_init(&u, 4), LP_OK);
  cr_assert_eq(lp_leads_load(&u, b.data, b.len, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(get(&u, "known.com")->enrich_state, LP_LEAD_ENRICH_FOUND);
  cr_assert_eq(get(&u, "known.com")->enrich_ms, 1764000000000LL);
  cr_assert_str_eq(get(&u, "known.com")->name, "Known Inc");
  cr_assert_eq(get(&u, "unknown.com")->enrich_state, LP_LEAD_ENRICH_NOT_FOUND);
  cr_assert_eq(get(&u, "unknown.com")->enrich_ms, 1764000000123LL);
  cr_assert_null(get(&u, "unknown.com")->name);
  cr_assert_eq(get(&u, "never.com")->enrich_state, LP_LEAD_ENRICH_NONE);
  cr_assert_eq(get(&u, "never.com")->enrich_ms, 0);
  lp_leads_free(&u);
  lp_leads_free(&t);
  lp_buf_free(&b);
}

static int buf_write(void *data, const char *p, size_t n) { return lp_buf_append(data, p, n) == LP_OK ? 0 : -1; }

static void pstr(msgpack_packer *pk, const char *s) {
  msgpack_pack_str(pk, strlen(s));
  msgpack_pack_str_body(pk, s, strlen(s));
}

/* ["lp-leads", version, [[acme.com, "Acme", nil, "US", 40, 900, 1000, 1000, 1, [], [], [], [], [], <extra>]]]
 * with n_extra trailing fields after the document: version 3 wrote none, version 4 writes enrich_ms and
 * enrich_state (given here as ms and state; a negative state packs a string instead). */
static void snapshot(lp_buf *b, int version, int n_extra, int64_t ms, int64_t state) {
  msgpack_packer pk;
  msgpack_packer_init(&pk, b, buf_write);
  msgpack_pack_array(&pk, 3);
  pstr(&pk, "lp-leads");
  msgpack_pack_int(&pk, version);
  msgpack_pack_array(&pk, 1);
  msgpack_pack_array(&pk, (uint32_t)(14 + n_extra));
  pstr(&pk, "acme.com");
  pstr(&pk, "Acme");
  msgpack_pack_nil(&pk);
  pstr(&pk, "US");
  msgpack_pack_int64(&pk, 40);
  msgpack_pack_int64(&pk, 900);
  msgpack_pack_int64(&pk, 1000);
  msgpack_pack_int64(&pk, 1000);
  msgpack_pack_uint64(&pk, 1);
  for (int i = 0; i < 5; i++) msgpack_pack_array(&pk, 0);  /* outcomes, tech, churn, evidence, document */
  if (n_extra >= 1) msgpack_pack_int64(&pk, ms);
  if (n_extra >= 2) {
    if (state < 0) pstr(&pk, "found");
    else msgpack_pack_int64(&pk, state);
  }
}

Test(leads_enrich, version_3_loads_as_never_looked_up) {
  lp_buf b = LP_BUF_INIT;
  snapshot(&b, 3, 0, 0, 0);
  lp_lead_table u;
  cr_assert_eq(lp_leads_init(&u, 4), LP_OK);
  cr_assert_eq(lp_leads_load(&u, b.data, b.len, err, sizeof(err)), LP_OK, "%s", err);
  lp_lead *l = get(&u, "acme.com");
  cr_assert_not_null(l);
  cr_assert_str_eq(l->name, "Acme");
  cr_assert_eq(l->employees, 40);
  cr_assert_eq(l->enrich_state, LP_LEAD_ENRICH_NONE);
  cr_assert_eq(l->enrich_ms, 0);
  /* and it is saved again as version 4, with its state */
  cr_assert_eq(enrich(&u, "acme.com", LP_LEAD_ENRICH_NOT_FOUND, 77, NULL), 1);
  lp_buf c = LP_BUF_INIT;
  cr_assert_eq(lp_leads_save(&u, &c), LP_OK);
  lp_lead_table w;
  cr_assert_eq(lp_leads_init(&w, 4), LP_OK);
  cr_assert_eq(lp_leads_load(&w, c.data, c.len, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(get(&w, "acme.com")->enrich_state, LP_LEAD_ENRICH_NOT_FOUND);
  cr_assert_eq(get(&w, "acme.com")->enrich_ms, 77);
  lp_leads_free(&w);
  lp_leads_free(&u);
  lp_buf_free(&c);
  lp_buf_free(&b);
}

Test(leads_enrich, version_4_hand_written_loads) {
  lp_buf b = LP_BUF_INIT;
  snapshot(&b, 4, 2, 1234, LP_LEAD_ENRICH_FOUND);
  lp_lead_table u;
  cr_assert_eq(lp_leads_init(&u, 4), LP_OK);
  cr_assert_eq(lp_leads_load(&u, b.data, b.len, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(get(&u, "acme.com")->enrich_state, LP_LEAD_ENRICH_FOUND);
  cr_assert_eq(get(&u, "acme.com")->enrich_ms, 1234);
  lp_leads_free(&u);
  lp_buf_free(&b);
}

/* A version 4 lead without its state, or with a state out of range, is refused by name; nothing leaks. */
Test(leads_enrich, a_bad_state_is_refused) {
  static const struct {
    int n_extra;
    int64_t ms, state;
    const char *why;
  } bad[] = {
    { 0, 0, 0, "array of 16" },                     /* a version 3 lead under version 4 */
    { 1, 5, 0, "array of 16" },
    { 2, 5, 3, "enrichment state" },                /* no such state */
    { 2, -5, LP_LEAD_ENRICH_FOUND, "enrichment state" },
    { 2, 0, LP_LEAD_ENRICH_FOUND, "enrichment state" },  /* an answer has a time */
    { 2, 9, LP_LEAD_ENRICH_NONE, "enrichment state" },   /* and no answer none */
    { 2, 9, -1, "enrich_state" },                   /* not an integer */
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    lp_buf b = LP_BUF_INIT;
    snapshot(&b, 4, bad[i].n_extra, bad[i].ms, bad[i].state);
    lp_lead_table u;
    cr_assert_eq(lp_leads_init(&u, 4), LP_OK);
    err[0] = '\0';
    cr_assert_eq(lp_leads_load(&u, b.data, b.len, err, sizeof(err)), LP_EINVAL, "case %zu", i);
    cr_assert(strstr(err, bad[i].why) != NULL, "case %zu: %s", i, err);
    cr_assert_eq(lp_leads_count(&u), 0, "case %zu: no half-read lead", i);
    lp_leads_free(&u);
    lp_buf_free(&b);
  }
  /* the same lead with a good state loads */
  lp_buf b = LP_BUF_INIT;
  snapshot(&b, 4, 2, 0, LP_LEAD_ENRICH_NONE);
  lp_lead_table u;
  cr_assert_eq(lp_leads_init(&u, 4), LP_OK);
  cr_assert_eq(lp_leads_load(&u, b.data, b.len, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(lp_leads_count(&u), 1);
  lp_leads_free(&u);
  lp_buf_free(&b);
}
