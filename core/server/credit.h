/*
 * credit.h: how an applied outcome reaches miner reputation (issue 4, point 5).
 *
 * An outcome event travels like a snippet: decoded and admitted on the reactor, applied on the worker that
 * owns its lead's shard, reported back to the reactor. On the worker, right after the shard applied it,
 * lp__credit_collect() copies the names of the miners who reported that lead most recently (the outcome
 * may have no query_id, and only the shard knows the lead's evidence). Back on the reactor,
 * lp__credit_apply() credits (good events) or debits (bad events) the miners whose evidence was shown for
 * that lead in the answer named by query_id when the answer ring still holds it, else those recent
 * reporters. The reputation table has one owner, the reactor.
 */
#ifndef LP_SERVER_CREDIT_H
#define LP_SERVER_CREDIT_H

#include <stdint.h>

#include "leadpoet/stage.h"

struct lp_server;
struct lp_shard;

#define LP_CREDIT_MINERS 8
#define LP_MINER_ID_MAX 64

typedef struct lp_credit {
  uint32_t n;
  struct {
    uint8_t len;
    char id[LP_MINER_ID_MAX + 1];  /* NUL-terminated */
  } miner[LP_CREDIT_MINERS];
} lp_credit;

/* Worker thread of o's shard, after lp_shard_outcome() applied o: fills c (newest first, distinct). */
void lp__credit_collect(struct lp_shard *sh, const lp_outcome *o, lp_credit *c);
/* Reactor thread: o was applied; c as filled by lp__credit_collect. */
void lp__credit_apply(struct lp_server *srv, const lp_outcome *o, const lp_credit *c);
/* Reactor thread: sends the workers a new reputation snapshot when the table changed and either
 * [stage.reputation] publish_interval passed since the last one or publish_every outcomes arrived; else,
 * when it changed, arms a one-shot timer for the rest of the interval. Called after each credit and before
 * a query is scattered. Nothing without the reputation stage, without workers, or while shutting down. */
void lp__credit_publish_due(struct lp_server *srv);

#endif
