/*
 * checkpoint_int.h: what checkpoint.c (the reactor's side: timer, alignment, cut, write, restore, group
 * commit) and checkpoint_state.c (the bytes: worker barrier and load messages, the global blob, the miner
 * set) share. Design: docs/adr/0013-checkpoint-wiring.md. Reactor thread unless a function says otherwise.
 */
#ifndef LP_SERVER_CHECKPOINT_INT_H
#define LP_SERVER_CHECKPOINT_INT_H

#include "checkpoint/checkpoint.h"
#include "server/server_int.h"

#define LP_CKPT_GLOBAL_MAGIC "lp-global"
#define LP_CKPT_GLOBAL_VERSION 1
#define LP_CKPT_DELTA_MAGIC "lp-shard-delta"
#define LP_CKPT_DELTA_VERSION 1

/* One shard's part of a barrier. The reactor fills shard, kind (lp_ckpt_next_kind) and committed (the shard
 * version in the last committed checkpoint); the worker fills the rest. */
typedef struct lp_ckpt_shard_out {
  uint32_t shard;
  int kind;                /* in: what the store allows; out: what was written (FULL or DELTA) */
  uint64_t committed;
  uint64_t version;        /* out: the shard's version at the barrier */
  int err;                 /* out: LP_OK or the serialiser's error */
  lp_buf data;             /* out: the blob (owned by the message) */
} lp_ckpt_shard_out;

/* A barrier for one worker: runs after every message sent to it before, serialises its shards. */
typedef struct lp_ckpt_barrier {
  lp_msg msg;
  void *ud;                /* the reactor's checkpoint state */
  void (*done)(void *ud, struct lp_ckpt_barrier *b);
  uint32_t n;
  lp_ckpt_shard_out s[];   /* n entries */
} lp_ckpt_barrier;

/* A restore for one worker: loads each of its shards from a chain (full + deltas). */
typedef struct lp_ckpt_shard_in {
  uint32_t shard;
  size_t nblobs;
  char *blobs[LP_CKPT_MAX_CHAIN];   /* owned by the message (lp_free) */
  size_t lens[LP_CKPT_MAX_CHAIN];
  uint64_t version;                 /* out: the shard's version after the load */
  int err;                          /* out */
  char errmsg[320];                 /* out */
} lp_ckpt_shard_in;

typedef struct lp_ckpt_load {
  lp_msg msg;
  void *ud;
  void (*done)(void *ud, struct lp_ckpt_load *l);
  uint32_t n;
  lp_ckpt_shard_in s[];
} lp_ckpt_load;

/* A barrier for n shards (entries zeroed, data empty). NULL when out of memory. Frees with
 * lp__ckpt_barrier_free. */
lp_ckpt_barrier *lp__ckpt_barrier_new(uint32_t n);
void lp__ckpt_barrier_free(lp_ckpt_barrier *b);
lp_ckpt_load *lp__ckpt_load_new(uint32_t n);
void lp__ckpt_load_free(lp_ckpt_load *l);

/* The no-op delta of a shard ["lp-shard-delta", 1, shard, version]: the shard did not change since the
 * chain's last link, only its offsets moved. Any thread. */
int lp__ckpt_delta_encode(uint32_t shard, uint64_t version, lp_buf *out);
/* Checks a delta of shard (magic, version, shard): LP_EINVAL with why in errstr. Any thread. */
int lp__ckpt_delta_check(uint32_t shard, const void *data, size_t len, char *errstr, size_t errsz);

/* ---- the reactor's global state: the global stages and the miner table ---------------------------- */

typedef struct lp_ckpt_miners lp_ckpt_miners;

/* The names of the miners the table has counted (the table itself cannot be walked from outside
 * miners.c), with whether the latest result was "throttled". */
int lp__ckpt_miners_new(lp_ckpt_miners **out);
void lp__ckpt_miners_free(lp_ckpt_miners *m);
int lp__ckpt_miners_note(lp_ckpt_miners *m, const char *id, size_t len, int throttled);

/* The global blob: ["lp-global", 1, <lp_stages_save_global map>, [[miner, accepted, throttled, rejected,
 * first_ms, last_ms, throttled_now], ...]]. */
int lp__ckpt_global_encode(lp_server *srv, lp_ckpt_miners *names, lp_buf *out);
/* Loads a global blob into the stages and the miner table (and names). LP_EINVAL with why. */
int lp__ckpt_global_decode(lp_server *srv, lp_ckpt_miners *names, const void *data, size_t len, char *errstr,
                           size_t errsz);

#endif
