/*
 * throttle.h: the built-in stage "throttle" (private to stages/throttle/). It judges every snippet on the
 * reactor thread through on_admit, before the snippet is routed, because its state is per miner and across
 * miners, which no shard sees. Everything runs in event time (the snippet's ts), so a replay of the same
 * stream gives the same decisions. See docs/plugins.md and docs/adr/0004-global-stage-callbacks.md.
 */
#ifndef LP_STAGES_THROTTLE_H
#define LP_STAGES_THROTTLE_H

#include <stdint.h>

#include "leadpoet/stage.h"

/* [stage.throttle], filled by the host from throttle_conf_keys (throttle.c). */
typedef struct lp_throttle_conf {
  double rate;                  /* snippets per second per miner, at reputation 0.5 */
  int64_t burst;                /* bucket size at reputation 0.5 */
  int64_t near_dup_distance;    /* Hamming distance (bits of 64) that makes a near-duplicate */
  int64_t near_dup_window;      /* ms of event time a fingerprint is compared against */
  int64_t near_dup_capacity;    /* fingerprints remembered at most */
  int64_t near_dup_min_words;   /* shorter texts are not fingerprinted */
  double stuffing_share;        /* one word above this share of the tokens = stuffing */
  int64_t stuffing_min_tokens;  /* texts with fewer tokens are never stuffing */
  double buzzword_share;        /* buzzwords above this share of the tokens ... */
  int64_t buzzword_min;         /* ... and at least this many distinct ones = stuffing */
  double flag_rate_max;         /* flagged / seen above this throttles the miner */
  int64_t flag_min_seen;        /* ... once the window holds this many snippets */
  int64_t flag_window;          /* ms of event time the flag rate is measured over */
  double quality_min;           /* reputation mean below this throttles the miner ... */
  double quality_max_width;     /* ... once its interval (high - low) is at most this wide */
  int64_t throttle_for;         /* ms of event time a throttled miner stays throttled */
  int64_t max_miners;           /* miners tracked at most (least recently seen forgotten first) */
} lp_throttle_conf;

/* ---- Text features (features.c) ---- */

/* Splits text into normalised words (ASCII letters folded to lower case, digits kept, every byte >= 0x80
 * kept as part of a word, anything else a separator) and calls fn for each. Returns the word count. */
typedef void (*lp__throttle_word_fn)(void *ud, const char *w, size_t n);
size_t lp__throttle_words(lp_str text, lp__throttle_word_fn fn, void *ud);
/* 64-bit simhash: features are the words (weight 1) and word bigrams (weight 2), each hashed with XXH3;
 * *n_words receives the number of words. */
uint64_t lp__throttle_simhash(lp_str text, uint32_t *n_words);
/* "keyword_stuffing" or NULL, with a reason in msg. */
const char *lp__throttle_stuffing(lp_str text, const lp_throttle_conf *c, char *msg, size_t msg_size);
/* Both at once, from one pass over the words (what on_admit uses): the stuffing code or NULL (with a reason
 * in msg), and the simhash and word count as lp__throttle_simhash gives them. */
const char *lp__throttle_content(lp_str text, const lp_throttle_conf *c, char *msg, size_t msg_size, uint64_t *fp,
                                 uint32_t *n_words);
/* The same, with the words of name (the lead's name; {NULL, 0}: none) and digit-only words left out of the
 * simhash, so one template filled in with many companies' names gives one fingerprint. */
const char *lp__throttle_content_masked(lp_str text, lp_str name, const lp_throttle_conf *c, char *msg,
                                        size_t msg_size, uint64_t *fp, uint32_t *n_words);
/* 1 when the lower-case word w is in the built-in buzzword list. */
int lp__throttle_is_buzzword(const char *w, size_t n);

/* ---- Near-duplicate index (neardup.c) ---- */

typedef struct lp__thr_nd_entry {
  uint64_t fp;          /* simhash */
  uint64_t key;         /* (miner, id) hash: an exact re-send is the ingest stage's duplicate */
  int64_t ts;
  uint32_t next[4];     /* per band: the next (older) entry with the same band value, or UINT32_MAX */
} lp__thr_nd_entry;

typedef struct lp__thr_nd_gen {
  lp__thr_nd_entry *e;
  uint32_t n;
  uint32_t *head;       /* [4][65536] */
} lp__thr_nd_gen;

typedef struct lp__thr_neardup {
  lp__thr_nd_gen gen[2];    /* gen[cur] receives inserts; the other is the previous generation */
  int cur;
  uint32_t gen_cap;     /* capacity / 2 */
} lp__thr_neardup;

int lp__thr_nd_init(lp__thr_neardup *nd, const lp_host_api *h, uint32_t capacity);
void lp__thr_nd_free(lp__thr_neardup *nd, const lp_host_api *h);
void lp__thr_nd_clear(lp__thr_neardup *nd);
/* The matching entry within distance and window of ts (any key but skip_key), or NULL. *dist receives its
 * distance; *resend is set when the closest match is the same (miner, id). */
const lp__thr_nd_entry *lp__thr_nd_find(const lp__thr_neardup *nd, uint64_t fp, uint64_t key, int64_t ts, int64_t window,
                                int dist_max, int *dist, int *resend);
void lp__thr_nd_insert(lp__thr_neardup *nd, uint64_t fp, uint64_t key, int64_t ts);

/* ---- Miners (miner_table.c) ---- */

#define LP_THROTTLE_WIN 8   /* sub-windows of the flag-rate window */

typedef struct lp__thr_miner {
  uint64_t key;               /* XXH3 of the miner's name */
  double tokens;
  int64_t last_ts;            /* event time of the last refill */
  int64_t throttled_until;    /* 0: not throttled */
  int64_t win_head;           /* index of the newest sub-window */
  uint32_t seen[LP_THROTTLE_WIN], flagged[LP_THROTTLE_WIN];
  uint32_t prev, next;        /* LRU list, most recent at the head */
  uint32_t chain;             /* hash chain */
} lp__thr_miner;

typedef struct lp__thr_miners {
  lp__thr_miner *v;
  uint32_t n, cap, max;
  uint32_t *buckets;          /* power of two, heads of the hash chains */
  uint32_t nbuckets;
  uint32_t lru_head, lru_tail;
  uint64_t evicted;
} lp__thr_miners;

#define LP__NONE UINT32_MAX

int lp__thr_miners_init(lp__thr_miners *m, const lp_host_api *h, uint32_t max);
void lp__thr_miners_free(lp__thr_miners *m, const lp_host_api *h);
void lp__thr_miners_clear(lp__thr_miners *m);
/* The miner, or NULL. Does not touch the LRU order. */
lp__thr_miner *lp__thr_miners_find(lp__thr_miners *m, uint64_t key);
/* The miner, made most recent; created (zeroed, *created = 1) when absent, forgetting the least recently
 * seen one when full. NULL only when memory runs out. */
lp__thr_miner *lp__thr_miners_get(lp__thr_miners *m, const lp_host_api *h, uint64_t key, int *created);
/* Adds to the sliding window of sub-windows of sub_ms each, ending at ts. */
void lp__thr_miner_count(lp__thr_miner *mi, int64_t ts, int64_t sub_ms, int flagged);
void lp__thr_miner_window(const lp__thr_miner *mi, uint32_t *seen, uint32_t *flagged);

/* ---- The stage (throttle.c) and its state (persist.c) ---- */

typedef struct lp__throttle {
  const lp_host_api *host;
  lp_throttle_conf conf;
  lp__thr_miners miners;
  lp__thr_neardup nd;
  lp_counter *drops[3];       /* throttled, near_duplicate, keyword_stuffing */
} lp__throttle;

int lp__throttle_save(void *stage, lp_writer *w);
int lp__throttle_load(void *stage, const void *data, size_t len);
/* The miner's rate and burst at its current reputation. */
void lp__throttle_limits(const lp__throttle *t, lp_str miner, double *rate, double *burst);

const lp_stage_desc *lp_stage_throttle_entry(void);

#endif
