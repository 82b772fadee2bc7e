/*
 * throttle.c: the built-in stage "throttle": per-miner token buckets, near-duplicates, keyword stuffing
 * and the seed's flag-rate / quality rule, decided on the reactor thread in on_admit (ABI 1.1), in event
 * time. The order of the checks for one snippet:
 *
 *  1. a miner still throttled (throttled_until > ts) is dropped with "throttled";
 *  2. a miner whose reputation interval is at most quality_max_width wide and whose mean is below
 *     quality_min is throttled for throttle_for from ts ("throttled");
 *  3. the token bucket: rate and burst are scaled by the miner's reputation mean,
 *        factor = 0.25 + 1.5 x mean     (0.25 at mean 0, 1 at the prior 0.5, 1.75 at mean 1),
 *     refilled by (ts - last ts) x rate; a snippet that finds less than one token is "throttled";
 *  4. keyword stuffing (features.c): "keyword_stuffing";
 *  5. near-duplicate (neardup.c): a simhash within near_dup_distance of one accepted in the last
 *     near_dup_window of event time, from any miner: "near_duplicate" (the same (miner, id) again is left
 *     to the ingest stage, whose code is "duplicate");
 *  6. steps 4 and 5 count in the miner's flag window (flagged / seen over flag_window); once it holds
 *     flag_min_seen snippets and the rate exceeds flag_rate_max, the miner is throttled for throttle_for.
 * Snippets dropped at steps 1 to 3 do not count in the flag window: it measures what a miner sends, not
 * how often it was already stopped.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "stages/throttle/throttle.h"

#define H24 "24h"

static const lp_conf_key throttle_conf_keys[] = {
  { "rate", LP_CONF_DOUBLE, "10", 0.001, 1e6, offsetof(lp_throttle_conf, rate),
    "snippets per second of event time a miner may send, at reputation 0.5; scaled by 0.25 + 1.5 x the "
    "miner's reputation mean" },
  { "burst", LP_CONF_INT, "1000", 1, 1e7, offsetof(lp_throttle_conf, burst),
    "snippets a miner may send at once (the bucket size), at reputation 0.5; scaled like rate" },
  { "near_dup_distance", LP_CONF_INT, "3", 0, 3, offsetof(lp_throttle_conf, near_dup_distance),
    "Hamming distance (of 64 bits) between simhashes that makes a near-duplicate; at most 3, which the 4 "
    "bands of 16 bits are guaranteed to find" },
  { "near_dup_window", LP_CONF_DURATION_MS, H24, 1000, 90.0 * 86400000, offsetof(lp_throttle_conf, near_dup_window),
    "event time during which a text counts as already seen" },
  { "near_dup_capacity", LP_CONF_INT, "262144", 1024, 67108864, offsetof(lp_throttle_conf, near_dup_capacity),
    "fingerprints remembered at most (at least half of them always); memory about 40 bytes each + 2 MiB" },
  { "near_dup_min_words", LP_CONF_INT, "8", 1, 4096, offsetof(lp_throttle_conf, near_dup_min_words),
    "texts with fewer words are not compared: too short to tell a copy from a coincidence" },
  { "stuffing_share", LP_CONF_DOUBLE, "0.3", 0.05, 1, offsetof(lp_throttle_conf, stuffing_share),
    "keyword stuffing: one word (3+ bytes, not a stop word) above this share of the text's words" },
  { "stuffing_min_tokens", LP_CONF_INT, "8", 2, 4096, offsetof(lp_throttle_conf, stuffing_min_tokens),
    "texts with fewer words are never keyword stuffing" },
  { "buzzword_share", LP_CONF_DOUBLE, "0.5", 0.05, 1, offsetof(lp_throttle_conf, buzzword_share),
    "keyword stuffing: technology/marketing buzzwords above this share of the words ..." },
  { "buzzword_min", LP_CONF_INT, "6", 1, 1000, offsetof(lp_throttle_conf, buzzword_min),
    "... and at least this many distinct buzzwords" },
  { "flag_rate_max", LP_CONF_DOUBLE, "0.3", 0, 1, offsetof(lp_throttle_conf, flag_rate_max),
    "a miner whose share of flagged snippets (near-duplicates, stuffing) exceeds this is throttled" },
  { "flag_min_seen", LP_CONF_INT, "20", 1, 1e9, offsetof(lp_throttle_conf, flag_min_seen),
    "snippets in the flag window before the flag rate is judged" },
  { "flag_window", LP_CONF_DURATION_MS, H24, 8000, 365.0 * 86400000, offsetof(lp_throttle_conf, flag_window),
    "sliding event-time window of the flag rate (kept in 8 sub-windows)" },
  { "quality_min", LP_CONF_DOUBLE, "0.5", 0, 1, offsetof(lp_throttle_conf, quality_min),
    "a miner whose reputation mean falls below this is throttled ..." },
  { "quality_max_width", LP_CONF_DOUBLE, "0.3", 0, 1, offsetof(lp_throttle_conf, quality_max_width),
    "... once its reputation interval (high - low) is at most this wide (enough outcomes to judge)" },
  { "throttle_for", LP_CONF_DURATION_MS, H24, 1000, 365.0 * 86400000, offsetof(lp_throttle_conf, throttle_for),
    "event time a throttled miner stays throttled (all its snippets dropped with \"throttled\")" },
  { "max_miners", LP_CONF_INT, "100000", 16, 1e8, offsetof(lp_throttle_conf, max_miners),
    "miners tracked at most; the least recently seen is forgotten first (about 140 bytes each)" },
  { NULL, 0, NULL, 0, 0, 0, NULL },
};

static const char *const drop_codes[3] = { "throttled", "near_duplicate", "keyword_stuffing" };

static void throttle_destroy(void *stage) {
  lp__throttle *t = stage;
  if (t == NULL) return;
  lp__thr_miners_free(&t->miners, t->host);
  lp__thr_nd_free(&t->nd, t->host);
  t->host->free(t);
}

static int throttle_init(const lp_host_api *host, const void *conf, void **stage, char *errstr, size_t errstr_size) {
  *stage = NULL;
  if (host->abi_minor < 1 || host->miner_reputation == NULL) {
    snprintf(errstr, errstr_size, "needs a host of stage ABI 1.1 (miner_reputation)");
    return LP_EABI;
  }
  lp__throttle *t = host->calloc(1, sizeof(*t));
  if (t == NULL) return LP_ENOMEM;
  t->host = host;
  t->conf = *(const lp_throttle_conf *)conf;
  int rc = lp__thr_miners_init(&t->miners, host, (uint32_t)t->conf.max_miners);
  if (rc == LP_OK) rc = lp__thr_nd_init(&t->nd, host, (uint32_t)t->conf.near_dup_capacity);
  if (rc != LP_OK) {
    snprintf(errstr, errstr_size, "out of memory for %lld miners and %lld fingerprints",
             (long long)t->conf.max_miners, (long long)t->conf.near_dup_capacity);
    lp__thr_miners_free(&t->miners, host);
    host->free(t);
    return rc;
  }
  for (int i = 0; i < 3; i++)
    t->drops[i] = host->counter("throttle", "drops", "Snippets the throttle stage dropped, by code.", drop_codes[i]);
  *stage = t;
  return LP_OK;
}

/* The per-shard path has nothing to do: every decision is taken in on_admit. */
static int throttle_on_snippet(void *shard_state, const lp_snippet *s, lp_verdict *v) {
  (void)shard_state;
  (void)s;
  (void)v;
  return LP_STAGE_CONTINUE;
}

static double reputation_factor(const lp__throttle *t, lp_str miner, double *low, double *high) {
  double mean = 0.5, lo = 0.025, hi = 0.975;
  t->host->miner_reputation(miner, &mean, &lo, &hi);  /* on error it answered the prior */
  if (low != NULL) *low = lo;
  if (high != NULL) *high = hi;
  return mean;
}

void lp__throttle_limits(const lp__throttle *t, lp_str miner, double *rate, double *burst) {
  double f = 0.25 + 1.5 * reputation_factor(t, miner, NULL, NULL);
  *rate = t->conf.rate * f;
  *burst = fmax(1.0, (double)t->conf.burst * f);
}

static uint64_t miner_key(lp_str miner) { return XXH3_64bits(miner.ptr, miner.len); }

static uint64_t snippet_key(const lp_snippet *s) {
  XXH3_state_t st;
  XXH3_64bits_reset(&st);
  XXH3_64bits_update(&st, s->miner.ptr, s->miner.len);
  XXH3_64bits_update(&st, "", 1);
  XXH3_64bits_update(&st, s->id.ptr, s->id.len);
  return XXH3_64bits_digest(&st);
}

static int drop(lp__throttle *t, int which, lp_verdict *v) {
  v->code = drop_codes[which];
  t->host->counter_add(t->drops[which], 1);
  return LP_STAGE_DROP;
}

/* Steps 4 and 5 of the top comment: NULL, or the code the content earns. */
static const char *judge_content(lp__throttle *t, const lp_snippet *s, lp_verdict *v) {
  uint32_t words;
  uint64_t fp;
  lp_str name = s->name.len > 0 ? s->name : (lp_str){ "", 0 };
  const char *code = lp__throttle_content_masked(s->text, name, &t->conf, v->message, sizeof(v->message), &fp, &words);
  if (code != NULL) return code;
  if (words < (uint64_t)t->conf.near_dup_min_words) return NULL;
  uint64_t key = snippet_key(s);
  int dist, resend;
  const lp__thr_nd_entry *e = lp__thr_nd_find(&t->nd, fp, key, s->ts_ms, t->conf.near_dup_window,
                                      (int)t->conf.near_dup_distance, &dist, &resend);
  if (e != NULL) {
    snprintf(v->message, sizeof(v->message), "text within distance %d of a snippet seen %lld s %s", dist,
             (long long)(llabs(s->ts_ms - e->ts) / 1000), s->ts_ms >= e->ts ? "earlier" : "later");
    return "near_duplicate";
  }
  if (!resend) lp__thr_nd_insert(&t->nd, fp, key, s->ts_ms);
  return NULL;
}

static int throttle_on_admit(void *stage, const lp_snippet *s, lp_verdict *v) {
  lp__throttle *t = stage;
  const lp_throttle_conf *c = &t->conf;
  int created;
  lp__thr_miner *mi = lp__thr_miners_get(&t->miners, t->host, miner_key(s->miner), &created);
  if (mi == NULL) return LP_ENOMEM;
  double low, high;
  double mean = reputation_factor(t, s->miner, &low, &high);
  double rate = c->rate * (0.25 + 1.5 * mean), burst = fmax(1.0, (double)c->burst * (0.25 + 1.5 * mean));
  if (created) {
    mi->tokens = burst;
    mi->last_ts = s->ts_ms;
  }
  if (mi->throttled_until > s->ts_ms) {
    snprintf(v->message, sizeof(v->message), "miner throttled until %lld", (long long)mi->throttled_until);
    return drop(t, 0, v);
  }
  if (high - low <= c->quality_max_width && mean < c->quality_min) {
    mi->throttled_until = s->ts_ms + c->throttle_for;
    snprintf(v->message, sizeof(v->message), "reputation %.3f below %.3f: throttled until %lld", mean,
             c->quality_min, (long long)mi->throttled_until);
    return drop(t, 0, v);
  }
  if (s->ts_ms > mi->last_ts) {
    mi->tokens += (double)(s->ts_ms - mi->last_ts) / 1000.0 * rate;
    mi->last_ts = s->ts_ms;
  }
  if (mi->tokens > burst) mi->tokens = burst;
  if (mi->tokens < 1.0) {
    snprintf(v->message, sizeof(v->message), "over %.3g snippets/s (burst %.0f)", rate, burst);
    return drop(t, 0, v);
  }
  mi->tokens -= 1.0;
  const char *code = judge_content(t, s, v);
  lp__thr_miner_count(mi, s->ts_ms, c->flag_window / LP_THROTTLE_WIN, code != NULL);
  uint32_t seen, flagged;
  lp__thr_miner_window(mi, &seen, &flagged);
  if (seen >= (uint64_t)c->flag_min_seen && (double)flagged > c->flag_rate_max * (double)seen) {
    mi->throttled_until = s->ts_ms + c->throttle_for;
    t->host->log(LP_LOG_INFO, "throttle", "miner throttled: flag rate %u/%u above %.2f, until %lld",
                 (unsigned)flagged, (unsigned)seen, c->flag_rate_max, (long long)mi->throttled_until);
  }
  if (code == NULL) {
    v->message[0] = '\0';
    return LP_STAGE_CONTINUE;
  }
  return drop(t, code[0] == 'n' ? 1 : 2, v);
}

/* {"tokens":..,"rate":..,"burst":..,"flag_rate":..,"seen":..,"flagged":..,"throttled_until":..|null}, as of
 * the miner's last event (event time: there is no "now"); nothing for a miner not tracked. */
static int throttle_describe_miner(void *stage, lp_str miner, lp_writer *w) {
  lp__throttle *t = stage;
  const lp__thr_miner *mi = lp__thr_miners_find(&t->miners, miner_key(miner));
  if (mi == NULL) return LP_OK;
  double rate, burst;
  lp__throttle_limits(t, miner, &rate, &burst);
  uint32_t seen, flagged;
  lp__thr_miner_window(mi, &seen, &flagged);
  char until[32] = "null";
  if (mi->throttled_until != 0) snprintf(until, sizeof(until), "%lld", (long long)mi->throttled_until);
  char out[320];
  int n = snprintf(out, sizeof(out),
                   "{\"tokens\":%.6g,\"rate\":%.6g,\"burst\":%.6g,\"flag_rate\":%.6g,\"seen\":%u,\"flagged\":%u,"
                   "\"throttled_until\":%s}",
                   fmin(mi->tokens, burst), rate, burst, seen > 0 ? (double)flagged / seen : 0.0, (unsigned)seen,
                   (unsigned)flagged, until);
  if (n < 0 || (size_t)n >= sizeof(out)) return LP_EINVAL;
  return w->write(w, out, (size_t)n);
}

static const lp_stage_desc throttle_desc = {
  LP_STAGE_DESC_HEADER,
  .name = "throttle",
  .description = "drops spam before routing: per-miner token buckets scaled by reputation, near-duplicate "
                 "texts (simhash), keyword stuffing, and miners over the flag rate or under the quality bar",
  .conf_keys = throttle_conf_keys,
  .conf_size = sizeof(lp_throttle_conf),
  .init = throttle_init,
  .on_snippet = throttle_on_snippet,
  .destroy = throttle_destroy,
  .on_admit = throttle_on_admit,
  .save_global = lp__throttle_save,
  .load_global = lp__throttle_load,
  .describe_miner = throttle_describe_miner,
};

const lp_stage_desc *lp_stage_throttle_entry(void) { return &throttle_desc; }
