/*
 * checkpoint.h: the checkpoint store: the state of each partition (and the reactor's global state) in
 * Redis, written atomically with the offsets it corresponds to, read back and verified at restore.
 * Design and reasons: docs/adr/0008-checkpoints.md.
 *
 * Layout (contract: a change of layout is lp:v2:, never a silent one). For partition 17:
 *   lp:v1:{p17}:meta          hash: fence (highest epoch that claimed it), seq, rec (msgpack meta record),
 *                             sum (XXH3 of rec, hex), keys (the blob keys of the chain, space-separated)
 *   lp:v1:{p17}:full:<seq>    a full snapshot (opaque bytes: the shard layer's)
 *   lp:v1:{p17}:delta:<seq>   an incremental delta on top of the full and the deltas before it
 * The global slot uses the tag {global} (opts.global_name) the same way, with full snapshots only. The hash
 * tag puts every key of a partition in one Redis Cluster slot, so one script can touch them all.
 *
 * A write is one Lua script (atomic, like MULTI/EXEC, and it can refuse before writing anything): for
 * every partition of the call it checks the fence (stored fence <= the writer's epoch) and that the stored
 * seq is the one this store last wrote or read (compare-and-set), then writes the blobs, the meta and the
 * offsets together, and on a full snapshot deletes the previous chain. Single Redis: one script for the
 * whole checkpoint (all partitions and the global slot: all or nothing). Cluster mode: one script per
 * partition (each partition's state and offsets atomic together).
 *
 * Threads: a store is used on the loop thread of its lp_redis only; callbacks run there. The blocking
 * readers (lp_ckpt_read_sync, lp_ckpt_list_sync) run on any thread with their own redisContext.
 */
#ifndef LP_CHECKPOINT_H
#define LP_CHECKPOINT_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "checkpoint/redis.h"
#include "leadpoet/common.h"

#define LP_CKPT_SCHEMA 1              /* schema of the meta record this build writes */
#define LP_CKPT_MAX_SCHEMA 16         /* the migration table's size */
#define LP_CKPT_PREFIX "lp:v1:"
#define LP_CKPT_GLOBAL (-1)           /* the partition id of the global slot */
#define LP_CKPT_CLAIM_NEXT (-1)       /* lp_ckpt_restore: claim with the stored fence + 1 */
#define LP_CKPT_MAX_PARTITION 65535
#define LP_CKPT_MAX_TOPICS 8
#define LP_CKPT_MAX_DELTAS 64         /* the bound of opts.max_deltas */
#define LP_CKPT_MAX_CHAIN (1 + LP_CKPT_MAX_DELTAS)

enum { LP_CKPT_FULL = 0, LP_CKPT_DELTA = 1 };

/* The applied offset of one topic of a partition: the last record of it that the state includes. */
typedef struct lp_ckpt_offset {
  char topic[128];
  int64_t offset;
} lp_ckpt_offset;

/* One blob of a chain: chain[0] is the full snapshot, the rest are deltas in the order to apply. */
typedef struct lp_ckpt_link {
  int kind;
  uint64_t seq;
  uint64_t size;
  uint64_t xxh3;
} lp_ckpt_link;

/* The meta record of a partition's last committed checkpoint. */
typedef struct lp_ckpt_meta {
  int32_t partition;              /* LP_CKPT_GLOBAL for the global slot */
  uint32_t schema;                /* schema the record was written with (it is migrated to the current one) */
  char writer[64];                /* leadpoet version that wrote it */
  uint64_t seq;                   /* checkpoint sequence of this write (grows per partition) */
  int64_t epoch;                  /* fencing epoch of the writer */
  int64_t fence;                  /* highest epoch that has claimed the partition */
  int64_t ts_ms;                  /* wall clock of the write */
  size_t noffsets;
  lp_ckpt_offset offsets[LP_CKPT_MAX_TOPICS];
  size_t nchain;
  lp_ckpt_link chain[LP_CKPT_MAX_CHAIN];
} lp_ckpt_meta;

/* A partition read back: found = 0 when it has no checkpoint (fence may still be set by a claim). blobs
 * and lens follow meta.chain; the memory is owned by the state (lp_ckpt_state_free). */
typedef struct lp_ckpt_state {
  int32_t partition;
  int found;
  lp_ckpt_meta meta;
  size_t nblobs;
  char *blobs[LP_CKPT_MAX_CHAIN];
  size_t lens[LP_CKPT_MAX_CHAIN];
} lp_ckpt_state;

void lp_ckpt_state_free(lp_ckpt_state *s);

/* Schema migrations of the meta record. steps[v] turns a record read at schema v into schema v+1 (in the
 * decoded struct); a record of schema v < current runs steps v .. current-1, a missing step refuses it, a
 * record newer than current is refused. Schema 1 is read as is (the identity). */
typedef int (*lp_ckpt_migrate_fn)(lp_ckpt_meta *m, char *errstr, size_t errsz);
typedef struct lp_ckpt_schema {
  uint32_t current;
  lp_ckpt_migrate_fn steps[LP_CKPT_MAX_SCHEMA];
} lp_ckpt_schema;

extern const lp_ckpt_schema lp_ckpt_schema_default;

/* ---------------------------------------------------------------------------------------------- names */

/* The hash tag of a partition ("p17") or of the global slot (global_name, "global" when NULL). Returns
 * LP_ERANGE for a partition outside 0..LP_CKPT_MAX_PARTITION or a name that is empty, too long or holds
 * a brace. Any thread. */
int lp_ckpt_tag(int32_t partition, const char *global_name, char *out, size_t cap);
/* "lp:v1:{tag}:meta", "lp:v1:{tag}:full:<seq>", "lp:v1:{tag}:delta:<seq>". Any thread. */
void lp_ckpt_key_meta(const char *tag, char *out, size_t cap);
void lp_ckpt_key_blob(const char *tag, int kind, uint64_t seq, char *out, size_t cap);
/* The Redis Cluster slot of a key (CRC16 of its hash tag, mod 16384). Any thread. */
unsigned lp_ckpt_key_slot(const char *key, size_t len);

/* ---------------------------------------------------------------------------------------------- store */

typedef struct lp_ckpt_store lp_ckpt_store;

typedef struct lp_ckpt_opts {
  lp_redis *redis;                /* borrowed; must outlive the store */
  int cluster;                    /* 1: one atomic script per partition (Redis Cluster) */
  uint32_t max_deltas;            /* deltas after a full before the next full (default 16, <= 64) */
  uint64_t max_delta_bytes;       /* delta bytes after a full before the next full (default 64 MiB) */
  const char *global_name;        /* tag of the global slot (default "global"), copied */
  const lp_ckpt_schema *schema;   /* NULL: lp_ckpt_schema_default; borrowed */
} lp_ckpt_opts;

/* Creates a store. The caller owns *out (lp_ckpt_store_free). Loop thread. */
int lp_ckpt_store_new(const lp_ckpt_opts *opts, lp_ckpt_store **out, char *errstr, size_t errsz);
/* Frees the store. A write or restore in flight must have completed (close the lp_redis first, which
 * completes them with LP_ECANCELED). Loop thread. */
void lp_ckpt_store_free(lp_ckpt_store *st);

/* Restore: reads the last committed checkpoint of each partition (LP_CKPT_GLOBAL for the global slot),
 * verifies it (checksums, sizes, schema; migrates an older schema) and claims the partition in the same
 * atomic step: claim_epoch > 0 claims with that epoch (refused when a higher one holds it),
 * LP_CKPT_CLAIM_NEXT with the stored fence + 1 (the last to claim owns it: what a new owner does after a
 * rebalance, with no epoch source of its own), 0 reads without claiming. A writer with a lower epoch is
 * refused from then on. The store remembers each chain (a partition must be restored before it is
 * written). cb gets err 0 and n states
 * (owned by the store, valid during the call only; to keep a blob, move its pointer out and set blobs[i] to
 * NULL: the store frees what is left), or the first error: LP_ESTATE
 * when a higher epoch holds a partition, LP_EINVAL for a corrupt, truncated or too new checkpoint (errmsg
 * names the key), LP_EIO / LP_ECANCELED from Redis. Returns 0, LP_EAGAIN while Redis is not connected or a
 * write or restore is in flight (cb not called), LP_ERANGE for a bad partition. Loop thread. */
typedef void (*lp_ckpt_restore_cb)(void *ud, int err, lp_ckpt_state *states, size_t n, const char *errmsg);
int lp_ckpt_restore(lp_ckpt_store *st, const int32_t *parts, size_t n, int64_t claim_epoch, lp_ckpt_restore_cb cb,
                    void *ud);

/* What the next write of this partition must be: LP_CKPT_FULL when it has no chain yet, when max_deltas or
 * max_delta_bytes is reached, or after a failed write (the state of that write in Redis is unknown to the
 * caller's dirty tracking); else LP_CKPT_DELTA. The global slot is always LP_CKPT_FULL. Loop thread. */
int lp_ckpt_next_kind(const lp_ckpt_store *st, int32_t partition);

/* One partition's part of a checkpoint. data and offsets are borrowed for the call (copied into the
 * request before lp_ckpt_write returns). */
typedef struct lp_ckpt_part {
  int32_t partition;
  int kind;                       /* as lp_ckpt_next_kind said */
  const void *data;
  size_t len;
  const lp_ckpt_offset *offsets;
  size_t noffsets;
} lp_ckpt_part;

typedef struct lp_ckpt_result {
  int err;                        /* 0, LP_ESTATE (fenced or another writer), LP_EIO, LP_ECANCELED */
  uint64_t id;                    /* the checkpoint's sequence */
  double seconds;                 /* from lp_ckpt_write to the last reply */
  uint64_t bytes;                 /* blob and meta bytes sent */
  size_t failed;                  /* partitions not written (all of them in single mode on an error) */
  char errmsg[256];
} lp_ckpt_result;

typedef void (*lp_ckpt_write_cb)(void *ud, const lp_ckpt_result *res);

/* Writes one checkpoint: every part atomically (single Redis) or each part atomically (cluster mode),
 * fenced by epoch (0: each partition's epoch claimed at its restore, LP_ESTATE for one restored without a
 * claim). cb runs once on the loop with the result; on success the chains advance, on failure
 * the partitions not written need a full snapshot next (lp_ckpt_next_kind). Returns 0, LP_EAGAIN when
 * Redis is not connected or a write or restore is in flight (cb not called: try at the next interval),
 * LP_ESTATE for a partition never restored in this store, LP_EINVAL for a delta where a full is due, a
 * partition twice, or too many offsets (errstr says which), LP_ENOMEM. Loop thread. */
int lp_ckpt_write(lp_ckpt_store *st, const lp_ckpt_part *parts, size_t n, int64_t epoch, lp_ckpt_write_cb cb,
                  void *ud, char *errstr, size_t errsz);

/* Figures for the metrics: leadpoet_checkpoint_duration_seconds (histogram), _last_success_timestamp_seconds
 * (gauge), leadpoet_checkpoint_bytes_total and leadpoet_checkpoint_failures_total (counters). */
typedef struct lp_ckpt_stats {
  uint64_t writes, failures, bytes;
  double last_seconds;
  int64_t last_success_ms;        /* 0 before the first success */
  uint64_t last_id;
} lp_ckpt_stats;
void lp_ckpt_store_stats(const lp_ckpt_store *st, lp_ckpt_stats *out);

struct lp_metrics;
/* Registers the four families in m and updates them after every write from then on. Returns LP_ENOMEM
 * when a family cannot be registered. Loop thread. */
int lp_ckpt_store_metrics(lp_ckpt_store *st, struct lp_metrics *m);

/* ------------------------------------------------------------------------------------------- blocking */

/* Reads and verifies one partition (or LP_CKPT_GLOBAL with global_name), never claiming it: same checks and
 * errors as lp_ckpt_restore. Blocks on c. *out owned by the caller (lp_ckpt_state_free). Any thread. */
int lp_ckpt_read_sync(redisContext *c, int32_t partition, const char *global_name, const lp_ckpt_schema *schema,
                      lp_ckpt_state *out, char *errstr, size_t errsz);

/* Every partition with a meta key (SCAN), sorted, into *parts (lp_free), and whether a global slot named
 * global_name exists. Blocks on c. Any thread. */
int lp_ckpt_list_sync(redisContext *c, const char *global_name, int32_t **parts, size_t *n, int *has_global,
                      char *errstr, size_t errsz);

#endif
