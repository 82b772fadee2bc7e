/*
 * query_out.h: what the stages contribute to one query on one shard. A bounded list of score boosts
 * (domain, delta, signal) and a bounded list of excluded domains, filled by on_query through the host
 * API (host->query_boost, host->query_exclude) and read by the query path afterwards.
 *
 * Memory: the lists and a byte pool for the copied strings are allocated once (lp_query_out_init) and
 * reused across queries (lp_query_out_reset keeps the memory), so the query hot path does not allocate
 * once the pool has grown to its working size. Past a bound, adding fails with LP_ENOMEM and the stage
 * decides what to do with that.
 *
 * Threads: an lp_query_out is owned by one thread (the worker running the shard's query); not shared.
 */
#ifndef LP_STAGE_QUERY_OUT_H
#define LP_STAGE_QUERY_OUT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "leadpoet/stage.h"

/* Longest domain (RFC 1035 hostname) and signal name accepted; longer is LP_EINVAL, never truncated. */
#define LP_QUERY_OUT_MAX_DOMAIN 253
#define LP_QUERY_OUT_MAX_SIGNAL 64

typedef struct lp__query_boost {
  size_t domain_off, domain_len;  /* into pool */
  size_t signal_off, signal_len;  /* into pool */
  double delta;
} lp__query_boost;

typedef struct lp__query_exclude {
  size_t domain_off, domain_len;  /* into pool */
} lp__query_exclude;

struct lp_query_out {
  uint32_t shard;
  lp__query_boost *boosts;
  size_t n_boosts, max_boosts;
  lp__query_exclude *excludes;
  size_t n_excludes, max_excludes;
  lp_buf pool;                    /* domain and signal copies; offsets survive its growth */
};

/* Prepares out for up to max_boosts boosts and max_excludes exclusions for shard (either bound may be 0).
 * Returns LP_OK or LP_ENOMEM; on failure out needs no lp_query_out_free. The caller owns out and frees it
 * with lp_query_out_free. Any thread (the one that owns out). */
int lp_query_out_init(lp_query_out *out, uint32_t shard, size_t max_boosts, size_t max_excludes);
/* Empties both lists for the next query (and sets its shard), keeping the memory. */
void lp_query_out_reset(lp_query_out *out, uint32_t shard);
void lp_query_out_free(lp_query_out *out);

/* Adds a boost: domain and signal are copied. LP_EINVAL for an empty or over-long domain or signal or a
 * non-finite delta, LP_ENOMEM past max_boosts or when the pool cannot grow. This is host->query_boost. */
int lp_query_out_boost(lp_query_out *out, lp_str domain, double delta, const char *signal);
/* Excludes domain and its sub-domains from this query's answer ("acme.com" also takes out "eu.acme.com").
 * The domain is copied; excluding a domain already excluded is a no-op. LP_EINVAL for an empty or
 * over-long domain, LP_ENOMEM past max_excludes. This is host->query_exclude. */
int lp_query_out_exclude(lp_query_out *out, lp_str domain);

uint32_t lp_query_out_shard(const lp_query_out *out);
size_t lp_query_out_boost_count(const lp_query_out *out);
/* The i-th boost in the order added. The lp_str point into out: valid until the next reset or free. */
int lp_query_out_boost_at(const lp_query_out *out, size_t i, lp_str *domain, double *delta, lp_str *signal);
size_t lp_query_out_exclude_count(const lp_query_out *out);
/* The i-th excluded domain (valid until the next reset or free); {NULL, 0} when i is out of range. */
lp_str lp_query_out_exclude_at(const lp_query_out *out, size_t i);
/* 1 when domain equals an excluded domain or is one of its sub-domains, else 0. */
int lp_query_out_is_excluded(const lp_query_out *out, lp_str domain);

#endif
