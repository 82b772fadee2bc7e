/*
 * termvec.h: a lead's document for the index, kept as a bounded vector of weighted terms.
 *
 * A lead's document is its recent evidence: every applied snippet adds its analyzed terms, each counted
 * tf x the snippet's weight (the miner's reputation; 1 until the reputation stage supplies one), and
 * stamps them with the event day. A term not seen for `retention` days leaves the document
 * (lp_termvec_expire), so stale evidence stops matching. The vector holds at most LP_TERMVEC_MAX terms:
 * when full, the lightest term gives way, which bounds the memory of a lead whatever a spammer sends.
 * Keeping the aggregate rather than every snippet's terms is what keeps the memory per snippet small.
 *
 * Term strings are interned once per shard in an lp_termpool (id -> bytes).
 *
 * Threads: both belong to one shard, touched only by its worker.
 */
#ifndef LP_SHARD_TERMVEC_H
#define LP_SHARD_TERMVEC_H

#include <stddef.h>
#include <stdint.h>

#include "leadpoet/common.h"

#define LP_TERMVEC_MAX 256
#define LP_TERM_NONE UINT32_MAX

typedef struct lp_termpool {
  uint32_t *slots;      /* open addressing: term id + 1, 0 = empty */
  size_t cap;           /* power of two */
  uint64_t *hash;       /* per id */
  uint32_t *off;        /* per id: offset into bytes */
  uint16_t *len;        /* per id */
  uint32_t n, cap_ids;
  char *bytes;
  size_t bytes_len, bytes_cap;
} lp_termpool;

int lp_termpool_init(lp_termpool *p);
void lp_termpool_free(lp_termpool *p);
/* The id of term (interned if new), or LP_TERM_NONE when memory ran out or len is 0 or > 255. */
uint32_t lp_termpool_intern(lp_termpool *p, const char *term, size_t len, uint64_t hash);
/* The id of term if known, else LP_TERM_NONE. */
uint32_t lp_termpool_find(const lp_termpool *p, const char *term, size_t len, uint64_t hash);
const char *lp_termpool_str(const lp_termpool *p, uint32_t id, size_t *len);

typedef struct lp_tv_entry {
  uint32_t term;        /* lp_termpool id */
  float weight;
  int32_t last_day;     /* event day (ms / 86400000) of the latest contribution */
} lp_tv_entry;

typedef struct lp_termvec {
  lp_tv_entry *v;
  uint16_t n, cap;
  int32_t oldest_day;   /* a lower bound of the entries' last_day (exact after an expire scan): expiry
                           skips a vector with nothing old enough without scanning it */
} lp_termvec;

void lp_termvec_free(lp_termvec *tv);
/* Adds weight * count to term (interned by the caller), stamped with day. LP_OK or LP_ENOMEM. */
int lp_termvec_add(lp_termvec *tv, uint32_t term, double weight, int32_t day);
/* Removes the terms last seen before min_day; returns how many went. */
size_t lp_termvec_expire(lp_termvec *tv, int32_t min_day);
/* Weight of a term, 0 when absent. */
double lp_termvec_weight(const lp_termvec *tv, uint32_t term);

#endif
