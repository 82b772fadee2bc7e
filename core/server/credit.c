/* credit.c: see credit.h. The reputation stage (stages/reputation/) fills these in. */
#include "server/credit.h"

#include "server/server_int.h"

void lp__credit_collect(struct lp_shard *sh, const lp_outcome *o, lp_credit *c) {
  (void)sh;
  (void)o;
  c->n = 0;
}

void lp__credit_apply(struct lp_server *srv, const lp_outcome *o, const lp_credit *c) {
  (void)srv;
  (void)o;
  (void)c;
}
