/* rep_int.h: the reputation stage's private structures, shared by its .c files only. */
#ifndef LP_STAGES_REPUTATION_INT_H
#define LP_STAGES_REPUTATION_INT_H

#include "metrics/metrics.h"
#include "stages/reputation/reputation.h"

#define LP_REP_NAME_MAX 64

/* One miner with outcomes. good and bad are decayed to ts; the interval is cached until the miner or the
 * table's clock changes. */
typedef struct lp__rep_miner {
  uint64_t key;                       /* lp__rep_key(name) */
  double good, bad;
  int64_t ts;
  int64_t cache_clock;                /* clock the cached interval is for; -1: none */
  double c_mean, c_low, c_high;
  uint8_t len;
  char name[LP_REP_NAME_MAX + 1];
} lp__rep_miner;

struct lp_rep_snapshot {
  uint64_t seq;
  uint32_t refs;                      /* reactor only */
  lp_rep_snapshot *prev, *next;       /* the table's list of live snapshots, reactor only */
  size_t n, mask;
  double prior_mean, weight_floor;
  struct lp__rep_slot { uint64_t key; double mean; } slot[];   /* key 0: empty */
};

typedef struct lp__rep_series {
  char name[LP_REP_NAME_MAX + 1];
  lp_metric *m;
} lp__rep_series;

struct lp_rep {
  lp_rep_conf conf;
  lp__rep_miner *v;                   /* dense, n of cap */
  size_t n, cap;
  uint32_t *index;                    /* open addressing, linear probing: dense index + 1, 0 empty */
  size_t index_mask;
  int64_t clock;
  uint64_t dirty, evicted, rng;
  double prior_mean, prior_low, prior_high;
  /* snapshots (publish.c) */
  lp_rep_snapshot *live, *current;
  size_t n_alive;
  uint64_t seq;
  int64_t published_ms;
  int timer_armed;                    /* the server's publish timer is pending (credit.c) */
  struct lp_answers *answers;
  /* leadpoet_miner_reputation{miner} (metric.c) */
  lp_metric_family *m_family;
  lp__rep_series *series;
  size_t n_series;
};

/* XXH3-64 of the name, never 0 (0 marks an empty snapshot slot). */
uint64_t lp__rep_key(const char *name, size_t len);
/* The miner's dense index, or -1. */
long lp__rep_find(const lp_rep *r, uint64_t key, const char *name, size_t len);
/* The decay factor of an age in ms of event time. */
double lp__rep_decay(const lp_rep *r, int64_t age_ms);
/* The miner's posterior mean at the table's clock (no interval: cheap). */
double lp__rep_mean(const lp_rep *r, const lp__rep_miner *m);
/* Inserts a zeroed miner (not present); evicts one first when full. NULL when memory runs out. */
lp__rep_miner *lp__rep_insert(lp_rep *r, uint64_t key, const char *name, size_t len, int64_t ts);
/* Frees every snapshot still alive (teardown). */
void lp__rep_snapshots_free(lp_rep *r);
void lp__rep_metric_free(lp_rep *r);

#endif
