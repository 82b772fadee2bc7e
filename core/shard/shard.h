/*
 * shard.h: one shard's state: its lead table and every stage's shard state. Applying an event runs the
 * stages in order and, if none dropped it, updates the lead table in the same step, so that the event is
 * visible to the next read of the shard.
 *
 * Threads: a shard is opened, used and closed on the worker that owns it, and only there.
 */
#ifndef LP_SHARD_H
#define LP_SHARD_H

#include "shard/leads.h"
#include "stage/registry.h"

typedef struct lp_shard {
  uint32_t id;
  lp_lead_table leads;
  lp_stage_shard *stages;
  uint64_t applied;        /* events applied since start */
  int dirty;               /* changed since the last save */
} lp_shard;

int lp_shard_open(lp_shard *sh, uint32_t id, lp_stages *stages, uint32_t evidence_cap);
void lp_shard_close(lp_shard *sh);

/* Runs the stages, then the lead table. Returns NULL when applied, or the static code of the stage that
 * dropped it ("duplicate", ...), or "internal" when memory ran out (the event was not applied). */
const char *lp_shard_snippet(lp_shard *sh, const lp_snippet *s);
const char *lp_shard_outcome(lp_shard *sh, const lp_outcome *o);

/* The shard as one msgpack document: ["lp-shard", 1, id, <lead table>, <stage map>]. */
int lp_shard_save(lp_shard *sh, lp_buf *out);
int lp_shard_load(lp_shard *sh, const void *data, size_t len, char *errstr, size_t errstr_size);

/* Snapshot files in dir: shard-<id>.lpstate, written to a temp file, fsync'd and renamed (a crash leaves
 * the old or the new file, never half of one). Load of a missing file is LP_ENOENT (a fresh shard). */
int lp_shard_save_file(lp_shard *sh, const char *dir, char *errstr, size_t errstr_size);
int lp_shard_load_file(lp_shard *sh, const char *dir, char *errstr, size_t errstr_size);

#endif
