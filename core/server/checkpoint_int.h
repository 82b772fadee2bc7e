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

/* A barrier message: serialises its shards on the worker that owns them. The reactor sends one per shard
 * (n = 1), one at a time per worker, so a query waits behind at most one shard's serialisation
 * (checkpoint.c, "the barrier"). */
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
  int reset;                        /* in: empty the shard first (a partition assigned by a rebalance: what
                                     * it held from an earlier ownership is stale); nblobs 0 leaves it empty */
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

/* ---- the reactor's side (checkpoint.c; rebalances in checkpoint_assign.c) ------------------------- */

#define LP_CKPT_TOPICS 2         /* miner.snippets, outcome.events: the stream's topic index */

enum { PH_RESTORING = 0, PH_LOADING, PH_IDLE, PH_ALIGNING, PH_BARRIER, PH_WRITING, PH_CLOSING, PH_ASSIGNING };

/* A partition's place in this instance (docs/adr/0015-scale-out.md). OFF: not ours, never written.
 * WANT: assigned by a rebalance, its records held until it is restored. LOADING: its restore is under way.
 * LIVE: restored, in every checkpoint. RELEASING: revoked, written once more (fenced: if the new owner
 * claimed it first the write is refused and the partition simply dropped), then OFF. DROP: not ours any
 * more; its shard is emptied once nothing of it is in flight (queries must not see a stale copy), then OFF. */
enum { P_OFF = 0, P_WANT, P_LOADING, P_LIVE, P_RELEASING, P_DROP };

/* A shard's place in the barrier under way. B_NONE: not in it, or serialised already. B_WAIT: in the cut,
 * its message not sent yet. B_URGENT: the same, and records of it wait (serialised next on its worker).
 * B_RING: its message is on the worker. A shard in B_WAIT, B_URGENT or B_RING takes no record: nothing may
 * be applied to it between the cut and its serialisation. */
enum { B_NONE = 0, B_WAIT, B_URGENT, B_RING };


/* An embedded-mode HTTP item applied but not yet in a committed checkpoint: answered after it is. */
typedef struct held_ticket {
  struct held_ticket *next;
  uint64_t ord;
  const char *code;
  size_t len;
  char ticket[64];
} held_ticket;

typedef struct lp_ckpt_wire {
  lp_server *srv;
  lp_redis *redis;
  lp_ckpt_store *store;
  char endpoint[320];              /* printed without the password */
  uv_timer_t timer, align_timer;
  int open_handles;
  int phase;
  int embedded;                    /* the log dies with the process: stored offsets are not sought */
  int request_out;                 /* a restore or write is in flight in the store */
  uint32_t shards, workers;
  int64_t *applied, *cut, *committed;          /* [TOPICS * shards]: last applied offset, -1 none */
  uint64_t *committed_version, *cut_version;   /* [shards] */
  uint8_t *pst, *in_cut;                       /* [shards]: P_*, and whether it is in the checkpoint taken */
  int prompt;                                  /* a revoke asks for the next checkpoint now */
  int global_dirty;                            /* reactor-owned state changed without a record (a watch) */
  uint64_t finished, cut_finished, committed_finished;
  uint64_t held_total, cut_held;
  held_ticket *held_head, *held_tail;
  lp_ckpt_miners *miners;
  lp_buf global;
  /* The barrier of the checkpoint under way, one message per shard in the cut: sb[shard] (owned by the
   * reactor unless bst says B_RING), bst[shard] its place, wbusy[worker] whether that worker has one in
   * its ring, wnext[worker] the next shard in order. barriers_out: shards not serialised yet. */
  lp_ckpt_barrier **sb;
  uint8_t *bst;
  uint8_t *wbusy;
  uint32_t *wnext;
  uint32_t barriers_out;
  uint32_t loads_out;
  uint32_t drops_out;              /* shards being emptied (P_DROP) */
  int load_err;
  char load_errmsg[400];
  int64_t align_started_ms, restore_started_ms, last_success_ms, last_ckpt_ms;
  double restore_seconds;
  uint64_t skipped, aborted;
  int over_backlog;
  int fatal;
  int inexact;                     /* a record was given up at shutdown: no final checkpoint */
  char last_error[256];
  lp_metric *m_backlog, *m_age, *m_skipped, *m_restore;
  void (*stop_done)(void *arg);
  void *stop_arg;
} lp_ckpt_wire;

static inline int64_t *lp__ckpt_off(int64_t *a, const lp_ckpt_wire *cw, int t, uint32_t p) {
  return &a[(size_t)t * cw->shards + p];
}

/* checkpoint.c, for checkpoint_assign.c. fail: logs and stops the server (exit 1) once. send_loads: moves
 * the chains of states into one load message per worker (reset: every partition of states is emptied
 * first). take_offsets: a partition's stored offsets become its committed (and, external, applied) ones.
 * close_all: closes the timers and Redis once nothing is in flight. resume: lets held partitions flow. */
void lp__ckpt_fail(lp_ckpt_wire *cw, const char *what, const char *detail);
int lp__ckpt_send_loads(lp_ckpt_wire *cw, lp_ckpt_state *states, size_t n, int reset);
void lp__ckpt_take_offsets(lp_ckpt_wire *cw, const lp_ckpt_state *s);
void lp__ckpt_close_all(lp_ckpt_wire *cw);
void lp__ckpt_resume(lp_ckpt_wire *cw);
/* Whether the barrier under way still has to serialise shard p (its records are held until it did); a
 * shard asked for this way is serialised next on its worker. */
int lp__ckpt_barrier_holds(lp_ckpt_wire *cw, uint32_t p);

/* checkpoint_assign.c, for checkpoint.c (docs/adr/0015-scale-out.md). assigned_loaded: the shards of an
 * assignment are loaded. assign_restore: restores the assigned partitions with nothing in flight; 1 when
 * it began. release_idle: drops revoked partitions with nothing left to write, empties dropped shards. */
void lp__ckpt_assigned_loaded(lp_ckpt_wire *cw);
int lp__ckpt_assign_restore(lp_ckpt_wire *cw);
void lp__ckpt_release_idle(lp_ckpt_wire *cw);

#endif
