#define _GNU_SOURCE  /* memmem */
/* The evidence's signature and its one block (core/shard/leads.h): term fingerprints computed when the
 * evidence is stored (or, for a table without an analyzer, by lp_lead_sign), miner ids interned per table,
 * and a snapshot that reads back with its signatures recomputed. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "shard/leads.h"
#include "shard/shard.h"
#include "text/analyzer.h"
#include "text/techtable.h"
#include "worker/worker.h"

static lp_techtable *tech;
static lp_analyzer *an;
static lp_analyzer_ctx *actx;

static void setup(void) {
  char err[256];
  cr_assert_eq(lp_techtable_builtin(&tech, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(lp_analyzer_new(&an, tech, NULL, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(lp_analyzer_ctx_new(&actx, an, err, sizeof(err)), LP_OK, "%s", err);
}

static void teardown(void) {
  lp_analyzer_ctx_free(actx);
  lp_analyzer_free(an);
  lp_techtable_free(tech);
}

TestSuite(leads_sig, .init = setup, .fini = teardown);

static lp_str S(const char *s) { return (lp_str){ s, strlen(s) }; }

static lp_snippet snip(const char *id, const char *miner, const char *domain, int64_t ts, const char *text) {
  lp_snippet s;
  memset(&s, 0, sizeof(s));
  s.id = S(id);
  s.miner = S(miner);
  s.domain = S(domain);
  s.domain_hash = lp_domain_hash(domain, strlen(domain));
  s.ts_ms = ts;
  s.text = S(text);
  s.kind = LP_KIND_NEWS;
  return s;
}

/* The fingerprint of the first term the analyzer makes of word. */
static uint16_t fp_of(const char *word) {
  lp_termfreqs tf = LP_TERMFREQS_INIT;
  cr_assert_eq(lp_analyze_terms(actx, word, strlen(word), &tf), LP_OK);
  cr_assert_geq(tf.n, 1, "%s has a term", word);
  uint16_t fp = lp_evidence_fp(tf.v[0].hash);
  lp_termfreqs_free(&tf);
  return fp;
}

static int has(const lp_lead *l, const lp_evidence *e, const char *word) {
  uint16_t fp = fp_of(word);
  return lp_evidence_has_term(l, e, &fp, 1);
}

static lp_lead *lead(lp_lead_table *t, const char *domain) {
  return lp_leads_get(t, domain, strlen(domain), lp_domain_hash(domain, strlen(domain)));
}

Test(leads_sig, evidence_is_signed_when_stored) {
  lp_lead_table t;
  cr_assert_eq(lp_leads_init(&t, 4), LP_OK);
  t.analyzer = actx;
  lp_snippet s = snip("s1", "m1", "acme.com", 1000, "Acme is rebuilding its data Pipelines with NodeJS, ticket #12");
  s.url = S("https://acme.com/jobs");
  cr_assert_eq(lp_leads_apply_snippet(&t, &s), LP_OK);
  lp_lead *l = lead(&t, "acme.com");
  const lp_evidence *e = &l->ev[0];
  cr_assert_eq(e->sig, 1);
  cr_assert_eq(l->unsigned_ev, 0);
  cr_assert_str_eq(e->snippet_id, "s1");
  cr_assert_str_eq(e->text, "Acme is rebuilding its data Pipelines with NodeJS, ticket #12");
  cr_assert_str_eq(lp_evidence_url(e), "https://acme.com/jobs");
  cr_assert_eq(lp__evidence_block(e), (void *)e->snippet_id, "id, text and url are one block");
  cr_assert_str_eq(e->miner, "m1");
  cr_assert_eq(e->kind, LP_KIND_NEWS);
  cr_assert(has(l, e, "pipeline"), "stemmed: pipeline and Pipelines are one term");
  cr_assert(has(l, e, "node.js"), "a technology's alias is its canonical term");
  cr_assert(has(l, e, "12"), "numbers are terms too");
  cr_assert_not(has(l, e, "crm"));
  cr_assert_not(has(l, e, "pipe"), "a prefix of a word is not the word");
  /* words then numbers, each sorted and unique, right before the id in the one block */
  const uint16_t *v = lp_evidence_fps(l, e);
  cr_assert_eq(v, l->fps, "the only evidence's runs start the lead's array");
  cr_assert_eq(l->n_fps, (uint32_t)e->n_words + e->n_other);
  cr_assert_geq(e->n_words, 5);
  cr_assert_eq(e->n_other, 1, "without a technology table: the number alone");
  for (uint32_t i = 1; i < e->n_words; i++) cr_assert_lt(v[i - 1], v[i]);
  cr_assert_eq(v[e->n_words], fp_of("12"));
  lp_leads_free(&t);
}

Test(leads_sig, the_categories_of_a_technology_named_are_terms) {
  lp_lead_table t;
  cr_assert_eq(lp_leads_init(&t, 4), LP_OK);
  t.analyzer = actx;
  t.tech = tech;
  lp_snippet s = snip("s1", "m1", "acme.com", 1000, "Acme moved its backend to NodeJS, ticket #12");
  cr_assert_eq(lp_leads_apply_snippet(&t, &s), LP_OK);
  const lp_lead *l = lead(&t, "acme.com");
  const lp_evidence *e = &l->ev[0];
  const lp_tech_info *node = lp_techtable_find(tech, "node.js", 7);
  cr_assert_not_null(node);
  cr_assert_geq(node->n_categories, 1);
  cr_assert_eq(e->n_other, 1 + node->n_categories, "12 and node.js's categories");
  const uint16_t *v = lp_evidence_fps(l, e);
  for (uint32_t i = e->n_words + 1; i < e->n_words + e->n_other; i++) cr_assert_lt(v[i - 1], v[i]);
  for (uint32_t c = 0; c < node->n_categories; c++) {
    char term[32];
    size_t len = lp_category_term(node->categories[c], term, sizeof(term));
    uint16_t fp = lp_evidence_fp(lp_term_hash(term, len));
    cr_assert_eq(lp_evidence_has_term(l, e, &fp, 1), 1, "category %u", node->categories[c]);
  }
  cr_assert(has(l, e, "12"));
  lp_leads_free(&t);
}

Test(leads_sig, an_empty_query_matches_nothing) {
  lp_lead_table t;
  cr_assert_eq(lp_leads_init(&t, 4), LP_OK);
  t.analyzer = actx;
  lp_snippet s = snip("s1", "m1", "acme.com", 1000, "payroll");
  cr_assert_eq(lp_leads_apply_snippet(&t, &s), LP_OK);
  uint16_t fp = fp_of("payroll");
  const lp_lead *l = lead(&t, "acme.com");
  cr_assert_eq(lp_evidence_has_term(l, &l->ev[0], &fp, 0), 0);
  cr_assert_eq(lp_evidence_has_term(l, &l->ev[0], &fp, 1), 1);
  lp_leads_free(&t);
}

Test(leads_sig, a_long_text_keeps_every_term) {
  lp_lead_table t;
  cr_assert_eq(lp_leads_init(&t, 2), LP_OK);
  t.analyzer = actx;
  char text[4096];
  size_t off = 0;
  for (int i = 0; i < 700; i++) off += (size_t)snprintf(text + off, sizeof(text) - off, "w%d ", i);
  lp_snippet s = snip("s1", "m1", "long.com", 1000, text);
  cr_assert_eq(lp_leads_apply_snippet(&t, &s), LP_OK);
  const lp_lead *l = lead(&t, "long.com");
  const lp_evidence *e = &l->ev[0];
  cr_assert_eq(e->sig, 1);
  cr_assert_gt(e->n_words, 600, "700 distinct terms, a few fingerprints may collide: %u", e->n_words);
  cr_assert(has(l, e, "w0"));
  cr_assert(has(l, e, "w699"));
  cr_assert_str_eq(e->text, text);
  lp_leads_free(&t);
}

Test(leads_sig, miner_ids_are_interned_and_released) {
  lp_lead_table t;
  cr_assert_eq(lp_leads_init(&t, 1), LP_OK);
  t.analyzer = actx;
  lp_snippet a = snip("a", "miner-x", "one.com", 1000, "alpha"), b = snip("b", "miner-x", "two.com", 1000, "beta");
  cr_assert_eq(lp_leads_apply_snippet(&t, &a), LP_OK);
  cr_assert_eq(lp_leads_apply_snippet(&t, &b), LP_OK);
  cr_assert_eq(lead(&t, "one.com")->ev[0].miner, lead(&t, "two.com")->ev[0].miner, "one copy per table");
  cr_assert_eq(t.miners.n, 1);
  /* A newer snippet by another miner replaces one.com's only slot: miner-x is still held by two.com. */
  lp_snippet c = snip("c", "miner-y", "one.com", 2000, "gamma");
  cr_assert_eq(lp_leads_apply_snippet(&t, &c), LP_OK);
  cr_assert_eq(t.miners.n, 2);
  cr_assert_str_eq(lead(&t, "one.com")->ev[0].miner, "miner-y");
  lp_snippet d = snip("d", "miner-y", "two.com", 2000, "delta");
  cr_assert_eq(lp_leads_apply_snippet(&t, &d), LP_OK);
  cr_assert_eq(t.miners.n, 1, "miner-x left with its last evidence");
  cr_assert_eq(lead(&t, "one.com")->n_miners, 1);
  /* An older snippet than the only one held is not kept, and holds no miner id. */
  lp_snippet old = snip("o", "miner-z", "two.com", 10, "old");
  cr_assert_eq(lp_leads_apply_snippet(&t, &old), LP_OK);
  cr_assert_eq(t.miners.n, 1);
  lp_leads_free(&t);
}

Test(leads_sig, many_miners_come_and_go) {
  /* Enough ids to grow the set several times, then every one removed again (backward-shift deletion). */
  lp_lead_table t;
  cr_assert_eq(lp_leads_init(&t, 1), LP_OK);
  char m[32], id[32];
  for (int i = 0; i < 500; i++) {
    snprintf(m, sizeof(m), "m%d", i);
    snprintf(id, sizeof(id), "a%d", i);
    lp_snippet s = snip(id, m, "busy.com", 1000 + i, "x");
    cr_assert_eq(lp_leads_apply_snippet(&t, &s), LP_OK);
    cr_assert_eq(t.miners.n, 1, "the lead holds one slot, so one miner: %u", t.miners.n);
  }
  for (int i = 0; i < 300; i++) {
    snprintf(m, sizeof(m), "k%d", i);
    snprintf(id, sizeof(id), "k%d", i);
    char d[32];
    snprintf(d, sizeof(d), "d%d.com", i);
    lp_snippet s = snip(id, m, d, 1000, "x");
    cr_assert_eq(lp_leads_apply_snippet(&t, &s), LP_OK);
  }
  cr_assert_eq(t.miners.n, 301);
  for (int i = 0; i < 300; i++) {
    char d[32];
    snprintf(d, sizeof(d), "d%d.com", i);
    lp_snippet s = snip("z", "last", d, 5000, "x");
    cr_assert_eq(lp_leads_apply_snippet(&t, &s), LP_OK);
    cr_assert_str_eq(lead(&t, d)->ev[0].miner, "last");
  }
  cr_assert_eq(t.miners.n, 2, "k0..k299 released, m499 and last remain: %u", t.miners.n);
  lp_leads_free(&t);
}

Test(leads_sig, unsigned_without_analyzer_then_signed) {
  lp_lead_table t;
  cr_assert_eq(lp_leads_init(&t, 4), LP_OK);
  lp_snippet s = snip("s1", "m1", "late.com", 1000, "Late Co evaluates invoicing tools");
  cr_assert_eq(lp_leads_apply_snippet(&t, &s), LP_OK);
  lp_lead *l = lead(&t, "late.com");
  cr_assert_eq(l->unsigned_ev, 1);
  cr_assert_eq(l->ev[0].sig, 0);
  cr_assert_eq(lp__evidence_block(&l->ev[0]), (void *)l->ev[0].snippet_id);
  cr_assert_not(has(l, &l->ev[0], "invoicing"), "unsigned evidence matches no term");
  cr_assert_eq(lp_lead_sign(&t, l, NULL), LP_EINVAL, "signing needs an analyzer");
  cr_assert_eq(l->unsigned_ev, 1);
  cr_assert_eq(lp_lead_sign(&t, l, actx), LP_OK);
  cr_assert_eq(l->unsigned_ev, 0);
  cr_assert_eq(l->ev[0].sig, 1);
  cr_assert(has(l, &l->ev[0], "invoicing"));
  cr_assert_str_eq(l->ev[0].text, "Late Co evaluates invoicing tools");
  cr_assert_str_eq(l->ev[0].snippet_id, "s1");
  cr_assert_null(lp_evidence_url(&l->ev[0]));
  cr_assert_eq(lp_lead_sign(&t, l, NULL), LP_OK, "a signed lead needs nothing");
  lp_leads_free(&t);
}

Test(leads_sig, slots_grow_up_to_the_cap) {
  lp_lead_table t;
  cr_assert_eq(lp_leads_init(&t, 2), LP_OK);
  lp_snippet a = snip("a", "m", "cap.com", 1, "x"), b = snip("b", "m", "cap.com", 2, "y");
  cr_assert_eq(lp_leads_apply_snippet(&t, &a), LP_OK);
  cr_assert_eq(lp_leads_apply_snippet(&t, &b), LP_OK);
  lp_lead *l = lead(&t, "cap.com");
  cr_assert_eq(l->n_ev, 2);
  cr_assert_eq(lp__lead_ev_reserve(&t, l), LP_EINVAL, "no slot beyond evidence_cap");
  lp_leads_free(&t);
}

Test(leads_sig, a_snapshot_reads_back_signed) {
  lp_lead_table t, u, w;
  cr_assert_eq(lp_leads_init(&t, 4), LP_OK);
  t.analyzer = actx;
  lp_snippet a = snip("a", "m1", "snap.com", 1000, "Snap is hiring payroll specialists");
  a.url = S("https://snap.com/careers");
  lp_snippet b = snip("b", "m2", "snap.com", 2000, "Snap compared payroll vendors #7");
  cr_assert_eq(lp_leads_apply_snippet(&t, &a), LP_OK);
  cr_assert_eq(lp_leads_apply_snippet(&t, &b), LP_OK);
  lp_buf buf = LP_BUF_INIT;
  cr_assert_eq(lp_leads_save(&t, &buf), LP_OK);
  char err[256] = "";
  /* with an analyzer: signed on load, the same fingerprints as when applied */
  cr_assert_eq(lp_leads_init(&u, 4), LP_OK);
  u.analyzer = actx;
  cr_assert_eq(lp_leads_load(&u, buf.data, buf.len, err, sizeof(err)), LP_OK, "%s", err);
  lp_lead *x = lead(&t, "snap.com"), *y = lead(&u, "snap.com");
  cr_assert_eq(y->unsigned_ev, 0);
  cr_assert_eq(y->n_ev, 2);
  cr_assert_eq(y->n_miners, 2);
  cr_assert_eq(u.miners.n, 2);
  for (uint32_t i = 0; i < 2; i++) {
    cr_assert_str_eq(x->ev[i].snippet_id, y->ev[i].snippet_id);
    cr_assert_str_eq(x->ev[i].miner, y->ev[i].miner);
    cr_assert_eq(x->ev[i].n_words, y->ev[i].n_words);
    cr_assert_eq(x->ev[i].n_other, y->ev[i].n_other);
    size_t n = (size_t)x->ev[i].n_words + x->ev[i].n_other;
    cr_assert_eq(memcmp(lp_evidence_fps(x, &x->ev[i]), lp_evidence_fps(y, &y->ev[i]), n * sizeof(uint16_t)), 0);
  }
  cr_assert_str_eq(lp_evidence_url(&y->ev[0]), "https://snap.com/careers");
  cr_assert(has(y, &y->ev[1], "payroll"));
  /* without one: unsigned until lp_lead_sign */
  cr_assert_eq(lp_leads_init(&w, 4), LP_OK);
  cr_assert_eq(lp_leads_load(&w, buf.data, buf.len, err, sizeof(err)), LP_OK, "%s", err);
  lp_lead *z = lead(&w, "snap.com");
  cr_assert_eq(z->unsigned_ev, 1);
  cr_assert_eq(lp_lead_sign(&w, z, actx), LP_OK);
  cr_assert(has(z, &z->ev[1], "payroll"));
  lp_leads_free(&w);
  lp_leads_free(&u);
  lp_buf_free(&buf);
  lp_leads_free(&t);
}

Test(leads_sig, a_bad_evidence_entry_is_refused) {
  /* ["lp-leads", 4, [lead]] with an evidence whose miner is an integer: refused, nothing leaks. */
  lp_lead_table t, u;
  cr_assert_eq(lp_leads_init(&t, 4), LP_OK);
  lp_snippet a = snip("a", "mm", "bad.com", 1000, "text");
  cr_assert_eq(lp_leads_apply_snippet(&t, &a), LP_OK);
  lp_buf buf = LP_BUF_INIT;
  cr_assert_eq(lp_leads_save(&t, &buf), LP_OK);
  /* the miner "mm" is packed as fixstr 0xa2 'm' 'm': turn it into the integer 2 and a nil... */
  char *p = memmem(buf.data, buf.len, "\xa2mm", 3);
  cr_assert_not_null(p);
  p[0] = 0x02;
  p[1] = (char)0xc0;
  p[2] = (char)0xc0;
  char err[256] = "";
  cr_assert_eq(lp_leads_init(&u, 4), LP_OK);
  cr_assert_neq(lp_leads_load(&u, buf.data, buf.len, err, sizeof(err)), LP_OK);
  cr_assert(strstr(err, "lead snapshot") != NULL, "%s", err);
  cr_assert_eq(u.miners.n, 0);
  lp_leads_free(&u);
  lp_buf_free(&buf);
  lp_leads_free(&t);
}

Test(leads_sig, replacing_evidence_keeps_the_other_signatures) {
  /* A full lead replaces its oldest evidence: its run leaves the lead's array, the others move down and
   * still find their own terms. */
  lp_lead_table t;
  cr_assert_eq(lp_leads_init(&t, 3), LP_OK);
  t.analyzer = actx;
  const char *texts[] = { "alpha payroll", "bravo invoicing platform", "charlie observability", "delta kubernetes migration",
                          "echo billing" };
  char id[16];
  for (int i = 0; i < 5; i++) {
    snprintf(id, sizeof(id), "e%d", i);
    lp_snippet s = snip(id, "m1", "roll.com", 1000 + i, texts[i]);
    cr_assert_eq(lp_leads_apply_snippet(&t, &s), LP_OK);
  }
  lp_lead *l = lead(&t, "roll.com");
  cr_assert_eq(l->n_ev, 3);
  uint32_t total = 0;
  for (uint32_t i = 0; i < l->n_ev; i++) {
    const lp_evidence *e = &l->ev[i];
    total += (uint32_t)e->n_words + e->n_other;
    const char *word = strchr(e->text, ' ') + 1;  /* the second word of each text is its own */
    char w[32];
    snprintf(w, sizeof(w), "%.*s", (int)strcspn(word, " "), word);
    cr_assert(has(l, e, w), "%s holds %s", e->text, w);
    cr_assert_not(has(l, e, "payroll"), "the evicted evidence's terms are gone: %s", e->text);
  }
  cr_assert_eq(l->n_fps, total, "no run left behind");
  lp_leads_free(&t);
}
