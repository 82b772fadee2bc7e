/* rerank.c: the ABI 1.2 re-rank callback on the reactor thread, with the global error count and quarantine
 * of the other reactor-side callbacks. */
#include <string.h>

#include "base/clock.h"
#include "stage/stage_int.h"

/* The first stage whose on_rerank may run, or -1. */
static int rerank_stage(const lp_stages *st) {
  for (size_t i = 0; st != NULL && i < st->n; i++) {
    const lp__stage *s = &st->v[i];
    if (s->desc.on_rerank != NULL && !s->g_quarantined) return (int)i;
  }
  return -1;
}

int lp_stages_can_rerank(const lp_stages *st) { return rerank_stage(st) >= 0; }

/* The stage's verdict is LP_OK, LP_RERANK_SKIP or LP_RERANK_OVER_BUDGET; anything else is its failure,
 * counted toward the quarantine, and the query goes on without a re-rank (done is not awaited: the stage
 * said it would not call it). */
int lp_stages_rerank(lp_stages *st, const lp_rerank_req *req, lp_rerank_done_fn done, void *done_ud) {
  int i = rerank_stage(st);
  if (i < 0 || req == NULL || done == NULL) return LP_RERANK_SKIP;
  lp__stage *s = &st->v[i];
  uint64_t t0 = lp_mono_ns();
  int rc = s->desc.on_rerank(s->state, req, done, done_ud);
  if (s->latency != NULL) lp_histogram_observe(s->latency, (double)(lp_mono_ns() - t0) / 1e9);
  if (rc == LP_OK || rc == LP_RERANK_SKIP || rc == LP_RERANK_OVER_BUDGET) {
    s->g_errors = 0;
    return rc;
  }
  lp__stage_global_error(st, (size_t)i, rc < 0 ? rc : LP_EINVAL, "on_rerank");
  return rc < 0 ? rc : LP_EINVAL;
}
