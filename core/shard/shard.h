/*
 * shard.h: one shard's state: its lead table and every stage's shard state. Applying an event runs the
 * stages in order and, if none dropped it, updates the lead table in the same step, so that the event is
 * visible to the next read of the shard.
 *
 * Threads: a shard is opened, used and closed on the worker that owns it, and only there.
 */
#ifndef LP_SHARD_H
#define LP_SHARD_H

#include "index/index.h"
#include "shard/leads.h"
#include "stage/registry.h"
#include "text/analyzer.h"

/* What a shard needs from its worker; shared by the worker's shards, owned by the worker. */
typedef struct lp_shard_env {
  lp_stages *stages;             /* may be NULL: no stages */
  uint32_t evidence_cap;
  lp_index_params index;         /* BM25 and segment parameters */
  lp_analyzer_ctx *analyzer;     /* the worker's; NULL: snippets are not indexed */
  int64_t retention_ms;          /* evidence older than this (event time) leaves the index */
  double age_half_life_days;     /* a term's weight in the index halves for every this many days between its
                                    newest evidence and the shard's newest event (event time); 0 = none */
  const lp_techtable *tech;      /* may be NULL: technology names are only lower-cased */
} lp_shard_env;

#define LP_SHARD_DECAY_DAYS 1024  /* ages in days whose decay factor a shard keeps in a table */

typedef struct lp_shard {
  uint32_t id;
  const lp_shard_env *env;
  lp_lead_table leads;
  lp_index *index;
  lp_stage_shard *stages;
  uint64_t applied;        /* events applied since start */
  int dirty;               /* changed since the last save */
  uint64_t version;        /* grows with every event offered (applied or dropped: a stage's state may change)
                            * and every expiry: equal versions mean equal state (checkpoint deltas) */
  int32_t newest_day;      /* newest event day applied: the clock of retention */
  uint32_t expire_cursor;  /* next doc the background expiry looks at */
  lp_termfreqs tf;         /* scratch */
  lp_index_tterm *terms;   /* scratch for put() */
  size_t cap_terms;
  uint32_t *tid_of;        /* per term pool id: its pinned index term id, LP_TERM_NONE until first put */
  size_t cap_tid_of;
  double *decay;           /* decay[age] = exp2(-age / decay_hl) for ages 0 .. LP_SHARD_DECAY_DAYS - 1, built at
                            * the first put with a half-life (shard.c decay_table) */
  double decay_hl;
  uint32_t *pending;       /* docs whose document changed and awaits lp_shard_flush */
  size_t n_pending, cap_pending;
} lp_shard;

/* The index term that stands for a technology category (topic surge); returns its length, 0 if cap is
 * too small. */
size_t lp_category_term(uint32_t category, char *out, size_t cap);

/* env must outlive the shard. */
int lp_shard_open(lp_shard *sh, uint32_t id, const lp_shard_env *env);
/* Re-puts every lead's document into a fresh index (after a load). */
int lp_shard_reindex(lp_shard *sh);
/* Housekeeping in small steps, from the worker's tick: expires the stale terms of up to `leads` leads and
 * gives the index up to `index_budget` units of merge work (lp_index_step). */
void lp_shard_maintain(lp_shard *sh, uint32_t leads, uint32_t index_budget);
void lp_shard_close(lp_shard *sh);

/* Puts every lead whose document changed since the last flush into the index. Callers apply a batch of
 * events and then flush, in the same worker step, so the next read sees them all and a lead that got
 * several snippets in the batch is re-indexed once. */
int lp_shard_flush(lp_shard *sh);

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
