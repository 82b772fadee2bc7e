/*
 * table.c: the reactor's reputation table: miner -> decayed good and bad evidence, a dense array (for
 * snapshots, sampling and saving) with an open-addressed index of u32 (linear probing, backward-shift
 * deletion). About 150 bytes per miner; at most conf.max_miners miners.
 *
 * Decay in event time: evidence of age t weighs 2^(-t / half_life). Each miner keeps its evidence decayed
 * to its own last outcome (ts); reading it at the table's clock (the newest outcome time seen) decays it
 * the rest of the way, so every miner is judged at the same instant. An outcome older than the miner's
 * last one is added with its own decay instead of rewinding the miner: the result does not depend on the
 * order in which outcomes arrive.
 *
 * Eviction when full: 16 miners sampled (a fixed-seed xorshift, so a replay evicts the same ones) and the
 * one with the least evidence left is forgotten, i.e. the one closest to the prior. Forgetting a miner
 * with much evidence would reset it, which would reward a spammer; forgetting a nearly decayed one
 * changes almost nothing.
 */
#include <math.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "base/alloc.h"
#include "server/answers.h"
#include "stages/ingest/ingest.h"
#include "stages/reputation/rep_int.h"

#define EVICT_SAMPLE 16

uint64_t lp__rep_key(const char *name, size_t len) {
  uint64_t k = XXH3_64bits(name, len);
  return k != 0 ? k : 1;
}

static size_t pow2_at_least(size_t n) {
  size_t c = 16;
  while (c < n) c <<= 1;
  return c;
}

int lp_rep_new(lp_rep **out, const lp_rep_conf *conf) {
  *out = NULL;
  lp_rep *r = lp_calloc(1, sizeof(*r));
  if (r == NULL) return LP_ENOMEM;
  r->conf = *conf;
  r->rng = 0x9e3779b97f4a7c15ULL;
  r->cap = 64;
  r->v = lp_malloc(r->cap * sizeof(lp__rep_miner));
  r->index_mask = 127;
  r->index = lp_calloc(r->index_mask + 1, sizeof(uint32_t));
  double a = conf->prior_alpha, b = conf->prior_beta;
  r->prior_mean = a / (a + b);
  r->prior_low = lp_rep_beta_quantile(0.025, a, b);
  r->prior_high = lp_rep_beta_quantile(0.975, a, b);
  if (r->v == NULL || r->index == NULL ||
      lp__answers_new(&r->answers, (size_t)conf->answer_ring, (size_t)conf->answer_ring_bytes) != LP_OK) {
    lp_rep_free(r);
    return LP_ENOMEM;
  }
  *out = r;
  return LP_OK;
}

void lp_rep_free(lp_rep *r) {
  if (r == NULL) return;
  lp__rep_snapshots_free(r);
  lp__rep_metric_free(r);
  lp__answers_free(r->answers);
  lp_free(r->v);
  lp_free(r->index);
  lp_free(r);
}

const lp_rep_conf *lp_rep_conf_get(const lp_rep *r) { return &r->conf; }
int64_t lp_rep_clock(const lp_rep *r) { return r->clock; }
size_t lp_rep_count(const lp_rep *r) { return r->n; }
uint64_t lp_rep_evicted(const lp_rep *r) { return r->evicted; }
uint64_t lp_rep_dirty(const lp_rep *r) { return r->dirty; }
struct lp_answers *lp_rep_answers(lp_rep *r) { return r->answers; }

double lp__rep_decay(const lp_rep *r, int64_t age_ms) {
  if (age_ms <= 0) return 1.0;
  return exp2(-(double)age_ms / (double)r->conf.half_life);
}

double lp__rep_mean(const lp_rep *r, const lp__rep_miner *m) {
  double f = lp__rep_decay(r, r->clock - m->ts);
  double a = r->conf.prior_alpha + m->good * f, b = r->conf.prior_beta + m->bad * f;
  return a / (a + b);
}

long lp__rep_find(const lp_rep *r, uint64_t key, const char *name, size_t len) {
  for (size_t i = key & r->index_mask;; i = (i + 1) & r->index_mask) {
    uint32_t e = r->index[i];
    if (e == 0) return -1;
    const lp__rep_miner *m = &r->v[e - 1];
    if (m->key == key && m->len == len && memcmp(m->name, name, len) == 0) return (long)(e - 1);
  }
}

static size_t slot_of(const lp_rep *r, uint32_t dense) {
  for (size_t i = r->v[dense].key & r->index_mask;; i = (i + 1) & r->index_mask)
    if (r->index[i] == dense + 1) return i;
}

static void index_put(uint32_t *index, size_t mask, uint64_t key, uint32_t dense) {
  size_t i = key & mask;
  while (index[i] != 0) i = (i + 1) & mask;
  index[i] = dense + 1;
}

/* Backward-shift deletion: entries after the hole that would be found from an earlier home move up. */
static void index_delete(lp_rep *r, size_t hole) {
  size_t mask = r->index_mask;
  r->index[hole] = 0;
  for (size_t j = (hole + 1) & mask; r->index[j] != 0; j = (j + 1) & mask) {
    size_t home = r->v[r->index[j] - 1].key & mask;
    /* the entry at j may fill the hole when its home is not in (hole, j] (cyclically) */
    int between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!between) {
      r->index[hole] = r->index[j];
      r->index[j] = 0;
      hole = j;
    }
  }
}

/* Forgets dense entry d: the last entry moves into its place. */
static void remove_at(lp_rep *r, uint32_t d) {
  index_delete(r, slot_of(r, d));
  uint32_t last = (uint32_t)(r->n - 1);
  if (d != last) {
    size_t s = slot_of(r, last);
    r->v[d] = r->v[last];
    r->index[s] = d + 1;
  }
  r->n--;
}

static uint64_t next_rand(lp_rep *r) {
  uint64_t x = r->rng;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return r->rng = x;
}

static void evict_one(lp_rep *r) {
  uint32_t victim = 0;
  double least = INFINITY;
  for (int k = 0; k < EVICT_SAMPLE; k++) {
    uint32_t d = (uint32_t)(next_rand(r) % r->n);
    const lp__rep_miner *m = &r->v[d];
    double left = (m->good + m->bad) * lp__rep_decay(r, r->clock - m->ts);
    if (left < least) {
      least = left;
      victim = d;
    }
  }
  remove_at(r, victim);
  r->evicted++;
}

static int grow(lp_rep *r) {
  if (r->n == r->cap) {
    size_t cap = r->cap * 2;
    lp__rep_miner *v = lp_realloc(r->v, cap * sizeof(*v));
    if (v == NULL) return LP_ENOMEM;
    r->v = v;
    r->cap = cap;
  }
  if ((r->n + 1) * 2 > r->index_mask + 1) {
    size_t size = pow2_at_least((r->n + 1) * 4);
    uint32_t *index = lp_calloc(size, sizeof(uint32_t));
    if (index == NULL) return LP_ENOMEM;
    for (uint32_t d = 0; d < r->n; d++) index_put(index, size - 1, r->v[d].key, d);
    lp_free(r->index);
    r->index = index;
    r->index_mask = size - 1;
  }
  return LP_OK;
}

lp__rep_miner *lp__rep_insert(lp_rep *r, uint64_t key, const char *name, size_t len, int64_t ts) {
  if (r->n > 0 && r->n >= (size_t)r->conf.max_miners) evict_one(r);
  if (grow(r) != LP_OK) return NULL;
  lp__rep_miner *m = &r->v[r->n];
  memset(m, 0, sizeof(*m));
  m->key = key;
  m->ts = ts;
  m->cache_clock = -1;
  m->len = (uint8_t)len;
  memcpy(m->name, name, len);
  index_put(r->index, r->index_mask, key, (uint32_t)r->n);
  r->n++;
  return m;
}

static int valid_name(lp_str s) {
  return s.ptr != NULL && s.len > 0 && s.len <= LP_REP_NAME_MAX && lp_miner_chars_ok(s.ptr, s.len);
}

int lp_rep_credit(lp_rep *r, lp_str miner, int64_t ts_ms, double good, double bad) {
  if (!valid_name(miner) || !(good >= 0 && bad >= 0) || !isfinite(good) || !isfinite(bad)) return LP_EINVAL;
  if (good == 0 && bad == 0) return LP_OK;
  uint64_t key = lp__rep_key(miner.ptr, miner.len);
  long d = lp__rep_find(r, key, miner.ptr, miner.len);
  lp__rep_miner *m = d >= 0 ? &r->v[d] : lp__rep_insert(r, key, miner.ptr, miner.len, ts_ms);
  if (m == NULL) return LP_ENOMEM;
  if (ts_ms >= m->ts) {
    double f = lp__rep_decay(r, ts_ms - m->ts);
    m->good = m->good * f + good;
    m->bad = m->bad * f + bad;
    m->ts = ts_ms;
  } else {
    double f = lp__rep_decay(r, m->ts - ts_ms);
    m->good += good * f;
    m->bad += bad * f;
  }
  m->cache_clock = -1;
  if (ts_ms > r->clock) r->clock = ts_ms;
  r->dirty++;
  return LP_OK;
}

void lp_rep_event_weights(const lp_rep_conf *c, uint32_t event, double *good, double *bad) {
  *good = *bad = 0;
  switch (event) {
    case LP_EVENT_OPENED: *good = c->w_opened; break;
    case LP_EVENT_REPLIED: *good = c->w_replied; break;
    case LP_EVENT_MEETING: *good = c->w_meeting; break;
    case LP_EVENT_PURCHASED: *good = c->w_purchased; break;
    case LP_EVENT_BOUNCED: *bad = c->w_bounced; break;
    case LP_EVENT_INVALID: *bad = c->w_invalid; break;
    case LP_EVENT_SPAM: *bad = c->w_spam; break;
    default: break;  /* delivered: says nothing about the evidence */
  }
}

void lp_rep_estimate_get(lp_rep *r, lp_str miner, lp_rep_estimate *e) {
  memset(e, 0, sizeof(*e));
  e->mean = r->prior_mean;
  e->low = r->prior_low;
  e->high = r->prior_high;
  if (miner.ptr == NULL || miner.len == 0 || miner.len > LP_REP_NAME_MAX) return;
  long d = lp__rep_find(r, lp__rep_key(miner.ptr, miner.len), miner.ptr, miner.len);
  if (d < 0) return;
  lp__rep_miner *m = &r->v[d];
  double f = lp__rep_decay(r, r->clock - m->ts);
  double a = r->conf.prior_alpha + m->good * f, b = r->conf.prior_beta + m->bad * f;
  if (m->cache_clock != r->clock) {
    m->c_mean = a / (a + b);
    m->c_low = lp_rep_beta_quantile(0.025, a, b);
    m->c_high = lp_rep_beta_quantile(0.975, a, b);
    m->cache_clock = r->clock;
  }
  e->known = 1;
  e->mean = m->c_mean;
  e->low = fmin(m->c_low, m->c_mean);
  e->high = fmax(m->c_high, m->c_mean);
  e->good = m->good * f;
  e->bad = m->bad * f;
  e->updated_ms = m->ts;
}
