/* The reputation table's math through its API: prior, credit, debit, decay in event time, the Beta
 * interval, the bounded table, save/load, and the snapshots the workers read. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "stages/reputation/reputation.h"

#define T0 1764000000000LL
#define DAY 86400000LL
#define S(x) ((lp_str){ (x), strlen(x) })

static lp_rep_conf conf(void) {
  lp_rep_conf c = { 0 };
  c.half_life = 10 * DAY;
  c.prior_alpha = c.prior_beta = 1;
  c.w_replied = 1;
  c.w_meeting = 2;
  c.w_purchased = 4;
  c.w_bounced = c.w_invalid = 1;
  c.w_spam = 4;
  c.max_miners = 1000;
  c.publish_interval = 0;
  c.publish_every = 1;
  c.credit_window = 90 * DAY;
  c.answer_ring = 16;
  c.answer_ring_bytes = 1 << 20;
  c.weight_floor = 0.1;
  c.low_reputation = 0.5;
  c.metric_series = 0;
  return c;
}

static lp_rep *table(const lp_rep_conf *c) {
  lp_rep *r;
  cr_assert_eq(lp_rep_new(&r, c), LP_OK);
  return r;
}

static lp_rep_estimate est(lp_rep *r, const char *m) {
  lp_rep_estimate e;
  lp_rep_estimate_get(r, S(m), &e);
  return e;
}

Test(reputation, a_new_miner_is_the_uncertain_prior) {
  lp_rep_conf c = conf();
  lp_rep *r = table(&c);
  lp_rep_estimate e = est(r, "nobody");
  cr_assert_eq(e.known, 0);
  cr_assert_float_eq(e.mean, 0.5, 1e-12);
  cr_assert_float_eq(e.low, 0.025, 1e-9);
  cr_assert_float_eq(e.high, 0.975, 1e-9);
  lp_rep_free(r);
}

Test(reputation, credit_raises_debit_lowers_and_evidence_narrows) {
  lp_rep_conf c = conf();
  lp_rep *r = table(&c);
  cr_assert_eq(lp_rep_credit(r, S("good"), T0, 4, 0), LP_OK);
  cr_assert_eq(lp_rep_credit(r, S("bad"), T0, 0, 4), LP_OK);
  lp_rep_estimate g = est(r, "good"), b = est(r, "bad");
  cr_assert_float_eq(g.mean, 5.0 / 6.0, 1e-12, "Beta(1 + 4, 1)");
  cr_assert_float_eq(b.mean, 1.0 / 6.0, 1e-12);
  cr_assert(g.known && b.known);
  /* Beta(5, 1): I_x = x^5, so the quantiles are p^(1/5) */
  cr_assert_float_eq(g.low, pow(0.025, 0.2), 1e-9);
  cr_assert_float_eq(g.high, pow(0.975, 0.2), 1e-9);
  cr_assert_float_eq(b.high, 1 - pow(0.025, 0.2), 1e-9, "Beta(1, 5) mirrors Beta(5, 1)");
  double width1 = g.high - g.low;
  for (int i = 0; i < 10; i++) lp_rep_credit(r, S("good"), T0, 4, 0);
  g = est(r, "good");
  cr_assert_lt(g.high - g.low, width1, "more evidence, narrower interval");
  cr_assert(0 <= g.low && g.low <= g.mean && g.mean <= g.high && g.high <= 1);
  lp_rep_free(r);
}

Test(reputation, bad_input_is_refused) {
  lp_rep_conf c = conf();
  lp_rep *r = table(&c);
  cr_assert_eq(lp_rep_credit(r, S("bad name!"), T0, 1, 0), LP_EINVAL);
  cr_assert_eq(lp_rep_credit(r, S(""), T0, 1, 0), LP_EINVAL);
  cr_assert_eq(lp_rep_credit(r, S("m"), T0, -1, 0), LP_EINVAL);
  cr_assert_eq(lp_rep_credit(r, S("m"), T0, NAN, 0), LP_EINVAL);
  cr_assert_eq(lp_rep_credit(r, S("m"), T0, 0, 0), LP_OK, "a neutral event changes nothing");
  cr_assert_eq(lp_rep_count(r), 0);
  cr_assert_eq(lp_rep_credit(r, S("m"), T0, 1, 0), LP_OK);
  cr_assert_eq(lp_rep_count(r), 1);
  lp_rep_free(r);
}

Test(reputation, event_weights) {
  lp_rep_conf c = conf();
  double g, b;
  lp_rep_event_weights(&c, LP_EVENT_DELIVERED, &g, &b);
  cr_assert(g == 0 && b == 0, "delivered is neutral");
  lp_rep_event_weights(&c, LP_EVENT_OPENED, &g, &b);
  cr_assert(g == 0 && b == 0, "opened is off by default");
  lp_rep_event_weights(&c, LP_EVENT_PURCHASED, &g, &b);
  cr_assert(g == 4 && b == 0);
  lp_rep_event_weights(&c, LP_EVENT_SPAM, &g, &b);
  cr_assert(g == 0 && b == 4);
  lp_rep_event_weights(&c, LP_EVENT_BOUNCED, &g, &b);
  cr_assert(g == 0 && b == 1);
}

Test(reputation, evidence_decays_in_event_time) {
  lp_rep_conf c = conf();
  lp_rep *r = table(&c);
  lp_rep_credit(r, S("a"), T0, 4, 0);
  cr_assert_float_eq(est(r, "a").good, 4, 1e-12);
  /* another miner's outcome one half-life later moves the table's clock: a's evidence halves */
  lp_rep_credit(r, S("b"), T0 + 10 * DAY, 1, 0);
  cr_assert_eq(lp_rep_clock(r), T0 + 10 * DAY);
  cr_assert_float_eq(est(r, "a").good, 2, 1e-9);
  cr_assert_float_eq(est(r, "a").mean, 3.0 / 4.0, 1e-9);
  lp_rep_credit(r, S("b"), T0 + 30 * DAY, 1, 0);
  cr_assert_float_eq(est(r, "a").good, 0.5, 1e-9, "three half-lives: an eighth");
  cr_assert_float_eq(est(r, "a").mean, 1.5 / 2.5, 1e-9, "back towards the prior");
  cr_assert_eq(est(r, "a").updated_ms, T0);
  lp_rep_free(r);
}

Test(reputation, the_order_of_outcomes_does_not_matter) {
  lp_rep_conf c = conf();
  lp_rep *x = table(&c), *y = table(&c);
  int64_t ts[3] = { T0, T0 + 3 * DAY, T0 + 17 * DAY };
  double good[3] = { 4, 0, 1 }, bad[3] = { 0, 4, 0 };
  for (int i = 0; i < 3; i++) lp_rep_credit(x, S("m"), ts[i], good[i], bad[i]);
  for (int i = 2; i >= 0; i--) lp_rep_credit(y, S("m"), ts[i], good[i], bad[i]);
  cr_assert_float_eq(est(x, "m").good, est(y, "m").good, 1e-9);
  cr_assert_float_eq(est(x, "m").bad, est(y, "m").bad, 1e-9);
  cr_assert_float_eq(est(x, "m").mean, est(y, "m").mean, 1e-9);
  lp_rep_free(x);
  lp_rep_free(y);
}

Test(reputation, beta_quantiles_are_exact) {
  double ps[] = { 0.001, 0.025, 0.3, 0.5, 0.975, 0.999 };
  for (int i = 0; i < 6; i++) {
    double p = ps[i];
    cr_assert_float_eq(lp_rep_beta_quantile(p, 1, 1), p, 1e-10);
    cr_assert_float_eq(lp_rep_beta_quantile(p, 3.5, 1), pow(p, 1 / 3.5), 1e-9);
    cr_assert_float_eq(lp_rep_beta_quantile(p, 1, 0.7), 1 - pow(1 - p, 1 / 0.7), 1e-9);
    double q = lp_rep_beta_quantile(p, 2, 2);
    cr_assert_float_eq(3 * q * q - 2 * q * q * q, p, 1e-9, "I_x(2,2) = 3x^2 - 2x^3");
    cr_assert_float_eq(lp_rep_beta_quantile(p, 7.3, 2.1), 1 - lp_rep_beta_quantile(1 - p, 2.1, 7.3), 1e-9);
    cr_assert_float_eq(lp_rep_beta_cdf(lp_rep_beta_quantile(p, 500.5, 20.25), 500.5, 20.25), p, 1e-8);
  }
  cr_assert_eq(lp_rep_beta_quantile(0, 2, 3), 0);
  cr_assert_eq(lp_rep_beta_quantile(1, 2, 3), 1);
  cr_assert_eq(lp_rep_beta_cdf(-1, 2, 3), 0);
  cr_assert_eq(lp_rep_beta_cdf(2, 2, 3), 1);
}

Test(reputation, the_table_is_bounded_and_keeps_the_evidence) {
  lp_rep_conf c = conf();
  c.max_miners = 16;
  lp_rep *r = table(&c);
  lp_rep_credit(r, S("heavy"), T0, 100, 0);
  char name[16];
  for (int i = 0; i < 200; i++) {
    snprintf(name, sizeof(name), "m%d", i);
    cr_assert_eq(lp_rep_credit(r, S(name), T0 + i, 0.01, 0), LP_OK);
    cr_assert_leq(lp_rep_count(r), 16);
  }
  cr_assert_eq(lp_rep_count(r), 16);
  cr_assert_eq(lp_rep_evicted(r), 201 - 16);
  cr_assert(est(r, "heavy").known, "the miner with the most evidence is never the one sampled out");
  cr_assert(est(r, "m199").known, "the newest is there");
  /* every miner still held is found, and the forgotten ones read as the prior */
  int known = 0;
  for (int i = 0; i < 200; i++) {
    snprintf(name, sizeof(name), "m%d", i);
    lp_rep_estimate e = est(r, name);
    known += e.known;
    if (!e.known) cr_assert_float_eq(e.mean, 0.5, 1e-12);
  }
  cr_assert_eq(known, 15);
  lp_rep_free(r);
}

typedef struct sink {
  lp_writer w;
  unsigned char data[1 << 16];
  size_t len;
} sink;

static int sink_write(lp_writer *w, const void *d, size_t n) {
  sink *s = (sink *)w;
  if (s->len + n > sizeof(s->data)) return LP_ENOMEM;
  memcpy(s->data + s->len, d, n);
  s->len += n;
  return LP_OK;
}

Test(reputation, save_and_load_round_trip) {
  lp_rep_conf c = conf();
  lp_rep *r = table(&c), *back = table(&c);
  lp_rep_credit(r, S("alice"), T0, 4, 1);
  lp_rep_credit(r, S("bob"), T0 + DAY, 0, 4);
  lp_rep_credit(r, S("carol"), T0 + 2 * DAY, 2, 0);
  static sink s = { { sink_write, NULL }, { 0 }, 0 };
  s.len = 0;
  cr_assert_eq(lp_rep_save(r, &s.w), LP_OK);
  cr_assert_eq(lp_rep_load(back, s.data, s.len), LP_OK);
  cr_assert_eq(lp_rep_count(back), 3);
  cr_assert_eq(lp_rep_clock(back), lp_rep_clock(r));
  const char *names[] = { "alice", "bob", "carol", "dave" };
  for (int i = 0; i < 4; i++) {
    lp_rep_estimate a = est(r, names[i]), b = est(back, names[i]);
    cr_assert_float_eq(a.mean, b.mean, 1e-15, "%s", names[i]);
    cr_assert_float_eq(a.low, b.low, 1e-15);
    cr_assert_float_eq(a.high, b.high, 1e-15);
    cr_assert_eq(a.known, b.known);
  }
  /* the restored table goes on: the same credit gives the same result */
  lp_rep_credit(r, S("bob"), T0 + 5 * DAY, 1, 0);
  lp_rep_credit(back, S("bob"), T0 + 5 * DAY, 1, 0);
  cr_assert_float_eq(est(r, "bob").mean, est(back, "bob").mean, 1e-15);
  lp_rep_free(r);
  lp_rep_free(back);
}

Test(reputation, corrupt_state_is_refused_and_the_table_kept) {
  lp_rep_conf c = conf();
  lp_rep *r = table(&c), *other = table(&c);
  lp_rep_credit(r, S("alice"), T0, 4, 0);
  lp_rep_credit(other, S("zed"), T0, 0, 4);
  static sink s = { { sink_write, NULL }, { 0 }, 0 };
  s.len = 0;
  cr_assert_eq(lp_rep_save(r, &s.w), LP_OK);
  unsigned char bad[1 << 12];
  memcpy(bad, s.data, s.len);
  bad[30] ^= 1;  /* a byte of a record: the checksum no longer matches */
  cr_assert_eq(lp_rep_load(other, bad, s.len), LP_EINVAL);
  cr_assert_eq(lp_rep_load(other, s.data, s.len - 1), LP_EINVAL, "truncated");
  cr_assert_eq(lp_rep_load(other, s.data, 10), LP_EINVAL, "shorter than a header");
  cr_assert_eq(lp_rep_load(other, NULL, 0), LP_EINVAL);
  memcpy(bad, s.data, s.len);
  bad[4] = 2;  /* a newer version */
  cr_assert_eq(lp_rep_load(other, bad, s.len), LP_EINVAL);
  cr_assert(est(other, "zed").known && !est(other, "alice").known, "the table is as it was");
  cr_assert_eq(lp_rep_load(other, s.data, s.len), LP_OK);
  cr_assert(!est(other, "zed").known && est(other, "alice").known);
  lp_rep_free(r);
  lp_rep_free(other);
}

Test(reputation, snapshots_hold_the_means_and_are_counted) {
  lp_rep_conf c = conf();
  lp_rep *r = table(&c);
  cr_assert_float_eq(lp_rep_snapshot_mean(NULL, "x", 1), 0.5, 1e-12, "no snapshot: the prior");
  cr_assert_float_eq(lp_rep_snapshot_weight(NULL, "x", 1), 1.0, 1e-12);
  lp_rep_credit(r, S("good"), T0, 4, 0);
  lp_rep_credit(r, S("bad"), T0, 0, 100);
  cr_assert_eq(lp_rep_dirty(r), 2);
  lp_rep_snapshot *s = lp_rep_publish(r);
  cr_assert_not_null(s);
  cr_assert_eq(lp_rep_dirty(r), 0);
  cr_assert_eq(lp_rep_snapshot_size(s), 2);
  cr_assert_eq(lp_rep_snapshot_seq(s), 1);
  cr_assert_float_eq(lp_rep_snapshot_mean(s, "good", 4), 5.0 / 6.0, 1e-12);
  cr_assert_float_eq(lp_rep_snapshot_mean(s, "other", 5), 0.5, 1e-12);
  cr_assert_float_eq(lp_rep_snapshot_weight(s, "good", 4), 5.0 / 3.0, 1e-12, "mean / prior mean");
  cr_assert_float_eq(lp_rep_snapshot_weight(s, "bad", 3), 0.1, 1e-12, "the floor");
  cr_assert_float_eq(lp_rep_snapshot_weight(s, "other", 5), 1.0, 1e-12);
  /* a worker takes it (one reference per message), then a newer one replaces it */
  lp_rep_snapshot_ref(r, s);
  cr_assert_null(lp_rep_snapshot_swap_current(s));
  cr_assert_eq(lp_rep_snapshot_current(), s);
  lp_rep_credit(r, S("good"), T0, 4, 0);
  lp_rep_snapshot *s2 = lp_rep_publish(r);
  cr_assert_eq(lp_rep_snapshots_alive(r), 2, "the worker still holds the first");
  lp_rep_snapshot_ref(r, s2);
  lp_rep_snapshot *old = lp_rep_snapshot_swap_current(s2);
  cr_assert_eq(old, s);
  cr_assert_float_eq(lp_rep_snapshot_mean(s, "good", 4), 5.0 / 6.0, 1e-12, "immutable while held");
  lp_rep_snapshot_release(r, old);  /* the message's done() */
  cr_assert_eq(lp_rep_snapshots_alive(r), 1);
  cr_assert_float_eq(lp_rep_snapshot_mean(lp_rep_snapshot_current(), "good", 4), 9.0 / 10.0, 1e-12);
  lp_rep_snapshot_swap_current(NULL);
  lp_rep_free(r);  /* frees what is left, the worker's reference included */
}
