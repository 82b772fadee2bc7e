/*
 * snapshot.h: what a worker reads of miner reputation: an immutable snapshot of the reactor's table,
 * a compact open-addressed array miner-name hash -> mean (docs/adr/0006-reputation.md).
 *
 * The reactor builds it (lp_rep_publish) and sends it to every worker in a message; the worker makes it
 * its current one with lp_rep_snapshot_swap_current() in the message's run() and sends the previous one
 * back in the same message, whose done() releases it on the reactor. Reference counts therefore change on
 * the reactor only, and a worker reads its snapshot with no lock and no atomic operation.
 *
 * The calling thread's current snapshot is thread-local: each worker thread has its own, the reactor and
 * tests have none (NULL), and a NULL snapshot answers the Beta(1, 1) prior (mean 0.5, weight 1), so code
 * that runs without the reputation stage behaves as before it.
 */
#ifndef LP_STAGES_REPUTATION_SNAPSHOT_H
#define LP_STAGES_REPUTATION_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

typedef struct lp_rep_snapshot lp_rep_snapshot;

/* The calling thread's current snapshot, or NULL. Any thread (each sees its own). */
const lp_rep_snapshot *lp_rep_snapshot_current(void);
/* Makes s the calling thread's current snapshot and returns the previous one (the caller hands it back
 * to the reactor). Worker thread, in the run() of the message that brought s. */
lp_rep_snapshot *lp_rep_snapshot_swap_current(lp_rep_snapshot *s);

/* The miner's reputation mean in the snapshot; the snapshot's prior mean for a miner it does not hold,
 * 0.5 when s is NULL. Any thread holding s. */
double lp_rep_snapshot_mean(const lp_rep_snapshot *s, const char *miner, size_t len);
/* The weight of one of the miner's snippets in its lead's document: mean / prior mean, at least the
 * configured weight_floor (so 1 at the prior, up to 1 / prior mean for a perfect miner); 1 when s is NULL. */
double lp_rep_snapshot_weight(const lp_rep_snapshot *s, const char *miner, size_t len);
/* Miners held, and the snapshot's sequence number (1 for the first publish). */
size_t lp_rep_snapshot_size(const lp_rep_snapshot *s);
uint64_t lp_rep_snapshot_seq(const lp_rep_snapshot *s);

#endif
