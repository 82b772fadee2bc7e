/* store_int.h: the checkpoint store's insides, shared by store.c (restore) and write.c. */
#ifndef LP_CHECKPOINT_STORE_INT_H
#define LP_CHECKPOINT_STORE_INT_H

#include "checkpoint/checkpoint.h"

struct lp_metric;

typedef struct lp__ckpt_part {
  int known;               /* restored or written by this store: its chain below is Redis's */
  int needs_full;          /* the next write must be a full snapshot */
  int64_t epoch;           /* the epoch this store claimed it with at restore (0: read only) */
  uint64_t delta_bytes;    /* bytes of the deltas since the full */
  lp_ckpt_meta meta;       /* the last committed checkpoint (nchain 0: none) */
} lp__ckpt_part;

struct lp_ckpt_store {
  lp_redis *redis;
  int cluster;
  uint32_t max_deltas;
  uint64_t max_delta_bytes;
  char global_name[80];
  const lp_ckpt_schema *schema;
  lp__ckpt_part **parts;   /* index partition + 1 */
  size_t cap_parts;
  uint64_t next_id;
  int busy;                /* a write or a restore is in flight */
  lp_ckpt_stats stats;
  struct lp_metric *m_duration, *m_last, *m_bytes, *m_failures;
};

lp__ckpt_part *lp__ckpt_part_get(lp_ckpt_store *st, int32_t partition, int create);
int lp__ckpt_tag_of(const lp_ckpt_store *st, int32_t partition, char *out, size_t cap);
int32_t lp__ckpt_refusal(const lp_ckpt_store *st, const char *msg, int *err, char *errmsg, size_t errsz);

#endif
