/* stage_int.h: the registry's private structures, shared by loader.c, host.c, pipeline.c and state.c. */
#ifndef LP_STAGE_INT_H
#define LP_STAGE_INT_H

#include "stage/registry.h"

typedef struct lp__stage {
  lp_stage_desc desc;        /* host-sized copy: zero past the stage's struct_size */
  char *origin;              /* "built-in" or the plugin's path */
  void *handle;              /* dlopen handle, NULL for a built-in */
  void *conf;                /* parsed [stage.<name>], owned by the config */
  void *state;               /* what init() returned */
  int inited;
  lp_metric *errors;         /* leadpoet_stage_errors_total{stage}, NULL without metrics */
  lp_metric *latency;        /* leadpoet_pipeline_latency_seconds{stage} */
  uint32_t g_errors;         /* consecutive errors of the global (ABI 1.1) callbacks, reactor-owned */
  int g_quarantined;         /* the global callbacks are skipped from now on, everywhere */
} lp__stage;

struct lp_stages {
  lp__stage *v;
  size_t n;
  uint32_t quarantine_after; /* stages.quarantine_after */
  uint32_t g_events;         /* events through the global callbacks, for latency sampling (reactor) */
  lp_buf g_scratch;          /* one stage's bytes from save_global or describe_miner (reactor) */
};

typedef struct lp__stage_slot {
  void *state;               /* shard_state handed to the callbacks */
  uint32_t consecutive_errors;
  int opened;                /* shard_open succeeded: shard_close is due */
  int quarantined;
} lp__stage_slot;

struct lp_stage_shard {
  lp_stages *st;
  uint32_t shard;
  uint32_t events;           /* for latency sampling */
  lp__stage_slot *slot;      /* one per stage */
  lp_buf scratch;            /* save(): one stage's bytes before they are framed */
};

/* Copies a checked descriptor into a zeroed host-sized struct, reading no more than it declared. */
void lp__stage_copy_desc(lp_stage_desc *dst, const lp_stage_desc *src);
/* The same for the global callbacks (reactor thread): the quarantine is global, not per shard. */
void lp__stage_global_error(lp_stages *st, size_t i, int rc, const char *callback);
/* Checks the shape of a saved state map {str: bin}, no key twice. */
int lp__stage_check_state_map(const void *root, char *errstr, size_t errstr_size);
/* An lp_writer callback appending to the lp_buf in w->opaque. */
int lp__stage_buf_write(lp_writer *w, const void *data, size_t len);
/* Counts a stage error on the shard and quarantines the stage at stages.quarantine_after. */
void lp__stage_error(lp_stage_shard *ss, size_t i, int rc, const char *callback);

/* Where host->config_get reads: set around init() by the loader, NULL otherwise. Main thread. */
void lp__stage_set_config(const lp_config *cfg);

#endif
