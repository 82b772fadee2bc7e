/*
 * reputation.h: the built-in stage "reputation" (issue 4, point 5; docs/adr/0006-reputation.md).
 *
 * A Bayesian estimate of each miner's quality: Beta(prior_alpha + good, prior_beta + bad), where good and
 * bad are the weights of the outcome events credited to / debited from the miner, each decayed by
 * 2^(-age / half_life) in event time (the outcome's ts). A miner without outcomes is the prior: uncertain.
 *
 * One owner, the reactor: the table (lp_rep) is changed by lp_rep_credit() from lp__credit_apply() and read
 * by GET /v1/miners, by the throttle (host->miner_reputation) and by describe_miner, all on the reactor.
 * Workers never see the table: they read an immutable snapshot (snapshot.h) that the reactor publishes.
 *
 * Threads: everything here on the reactor (or the main thread before the reactor runs / after it stopped),
 * but lp_rep_conf_get(), whose result is immutable after init and may be read by any thread.
 */
#ifndef LP_STAGES_REPUTATION_H
#define LP_STAGES_REPUTATION_H

#include <stdint.h>

#include "base/buf.h"
#include "leadpoet/stage.h"
#include "stages/reputation/snapshot.h"

/* [stage.reputation], filled by the host from the stage's key table (reputation.c). */
typedef struct lp_rep_conf {
  int64_t half_life;            /* ms of event time after which an outcome counts half */
  double prior_alpha, prior_beta;
  double w_opened, w_replied, w_meeting, w_purchased;   /* credit per good event */
  double w_bounced, w_invalid, w_spam;                  /* debit per bad event */
  int64_t max_miners;           /* miners with an estimate, at most */
  int64_t publish_interval;     /* ms (wall clock) between two snapshots, at least ... */
  int64_t publish_every;        /* ... unless this many outcomes arrived since the last one */
  int64_t credit_window;        /* ms of event time: reporters older than this before the outcome are not credited */
  int64_t answer_ring;          /* answers remembered for query_id credit, at most ... */
  int64_t answer_ring_bytes;    /* ... and in at most this much memory */
  double weight_floor;          /* the smallest weight a snippet gets in its lead's document */
  double low_reputation;        /* status "low_reputation" when the 95 % interval's high end is below this */
  int64_t metric_series;        /* leadpoet_miner_reputation{miner} series at most */
} lp_rep_conf;

typedef struct lp_rep lp_rep;

/* One miner's estimate at the table's clock. */
typedef struct lp_rep_estimate {
  double mean, low, high;       /* 95 % equal-tailed interval of the Beta posterior */
  double good, bad;             /* decayed evidence */
  int64_t updated_ms;           /* event time of its last outcome; 0 for the prior */
  int known;                    /* 0: never credited (or forgotten): the prior */
} lp_rep_estimate;

/* ---- The table (table.c) ---- */

/* Creates an empty table for conf (copied). LP_OK or LP_ENOMEM. */
int lp_rep_new(lp_rep **out, const lp_rep_conf *conf);
/* Frees the table, its answer ring and every snapshot still alive (call once no worker runs). NULL ok. */
void lp_rep_free(lp_rep *r);
const lp_rep_conf *lp_rep_conf_get(const lp_rep *r);
/* Credits (good > 0) and/or debits (bad > 0) the miner with an outcome of event time ts_ms. An event older
 * than the miner's last one counts with its own decay. Creates the miner; when the table is full, the
 * sampled miner with the least evidence left is forgotten first. LP_OK, LP_EINVAL (bad name or weights),
 * LP_ENOMEM. */
int lp_rep_credit(lp_rep *r, lp_str miner, int64_t ts_ms, double good, double bad);
/* The weights of an outcome event for the conf: *good or *bad (the other 0); both 0 for a neutral one. */
void lp_rep_event_weights(const lp_rep_conf *c, uint32_t event, double *good, double *bad);
/* The estimate of a miner at the table's clock (the newest event time credited), the prior when unknown. */
void lp_rep_estimate_get(lp_rep *r, lp_str miner, lp_rep_estimate *e);
/* The newest event time the table saw (its clock), 0 before any. */
int64_t lp_rep_clock(const lp_rep *r);
size_t lp_rep_count(const lp_rep *r);
uint64_t lp_rep_evicted(const lp_rep *r);
/* Credits and debits since the last snapshot (lp_rep_publish resets it). */
uint64_t lp_rep_dirty(const lp_rep *r);

/* ---- Persistence (persist.c): save_global / load_global ---- */

int lp_rep_save(const lp_rep *r, lp_writer *w);
/* Replaces the table with the saved one; on any error (LP_EINVAL for bad bytes) the table is unchanged. */
int lp_rep_load(lp_rep *r, const void *data, size_t len);

/* ---- Snapshots for the workers (publish.c) ---- */

/* Builds an immutable snapshot of the table at its clock and makes it current; the caller receives one
 * reference to hand on (lp_rep_snapshot_ref for more). Resets lp_rep_dirty. NULL when memory runs out
 * (the previous snapshot stays current). */
lp_rep_snapshot *lp_rep_publish(lp_rep *r);
/* References are counted on the reactor only: a message carrying a snapshot to a worker holds one, and
 * brings back the one the worker let go of, released in the message's done(). */
void lp_rep_snapshot_ref(lp_rep *r, lp_rep_snapshot *s);
void lp_rep_snapshot_release(lp_rep *r, lp_rep_snapshot *s);
/* Snapshots alive (current, in flight, held by workers). */
size_t lp_rep_snapshots_alive(const lp_rep *r);
/* Wall-clock ms of the last publish (0: never). */
int64_t lp_rep_published_ms(const lp_rep *r);
/* Whether the server's one-shot publish timer is pending (core/server/credit.c keeps at most one). */
int lp__rep_timer_get(const lp_rep *r);
void lp__rep_timer_set(lp_rep *r, int armed);

/* ---- The answer ring (core/server/answers.c), sized by this stage's conf ---- */

struct lp_answers;
struct lp_answers *lp_rep_answers(lp_rep *r);

/* ---- The stage (reputation.c) ---- */

/* The table of the loaded reputation stage (set by its init, cleared by its destroy), NULL when the stage
 * is not in [stages] order. Main thread sets it before the reactor and the workers run. */
lp_rep *lp_rep_active(void);
/* The reputation JSON object {"mean","low","high","good","bad","updated_ms","source"} of a miner. */
int lp_rep_estimate_json(const lp_rep_estimate *e, lp_buf *out);
/* Refreshes leadpoet_miner_reputation{miner} (reactor, after a publish): see metric.c. */
void lp_rep_metric_refresh(lp_rep *r);
const lp_stage_desc *lp_stage_reputation_entry(void);

/* ---- Beta quantiles (beta.c) ---- */

/* The regularized incomplete beta I_x(a, b), a, b > 0, x in [0, 1]. */
double lp_rep_beta_cdf(double x, double a, double b);
/* Its inverse: the p-quantile of Beta(a, b), p in [0, 1], to 1e-10 absolute. */
double lp_rep_beta_quantile(double p, double a, double b);

#endif
