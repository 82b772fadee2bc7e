#include "stage/query_out.h"

#include <math.h>
#include <string.h>

#include "base/alloc.h"

int lp_query_out_init(lp_query_out *out, uint32_t shard, size_t max_boosts, size_t max_excludes) {
  memset(out, 0, sizeof(*out));
  out->shard = shard;
  out->max_boosts = max_boosts;
  out->max_excludes = max_excludes;
  if (max_boosts > 0) {
    out->boosts = lp_calloc(max_boosts, sizeof(*out->boosts));
    if (out->boosts == NULL) return LP_ENOMEM;
  }
  if (max_excludes > 0) {
    out->excludes = lp_calloc(max_excludes, sizeof(*out->excludes));
    if (out->excludes == NULL) {
      lp_free(out->boosts);
      out->boosts = NULL;
      return LP_ENOMEM;
    }
  }
  return LP_OK;
}

void lp_query_out_reset(lp_query_out *out, uint32_t shard) {
  out->shard = shard;
  out->n_boosts = 0;
  out->n_excludes = 0;
  lp_buf_reset(&out->pool);
}

void lp_query_out_free(lp_query_out *out) {
  if (out == NULL) return;
  lp_free(out->boosts);
  lp_free(out->excludes);
  lp_buf_free(&out->pool);
  memset(out, 0, sizeof(*out));
}

/* Copies s into the pool and returns its offset through *off; LP_ENOMEM when the pool cannot grow. */
static int pool_put(lp_query_out *out, const char *s, size_t len, size_t *off) {
  *off = out->pool.len;
  return lp_buf_append(&out->pool, s, len);
}

static lp_str pool_str(const lp_query_out *out, size_t off, size_t len) {
  return (lp_str){ out->pool.data + off, len };
}

static int domain_ok(lp_str d) {
  return d.ptr != NULL && d.len > 0 && d.len <= LP_QUERY_OUT_MAX_DOMAIN;
}

int lp_query_out_boost(lp_query_out *out, lp_str domain, double delta, const char *signal) {
  if (out == NULL || !domain_ok(domain) || signal == NULL || !isfinite(delta)) return LP_EINVAL;
  size_t slen = strnlen(signal, LP_QUERY_OUT_MAX_SIGNAL + 1);
  if (slen == 0 || slen > LP_QUERY_OUT_MAX_SIGNAL) return LP_EINVAL;
  if (out->n_boosts >= out->max_boosts) return LP_ENOMEM;
  lp__query_boost *b = &out->boosts[out->n_boosts];
  size_t mark = out->pool.len;
  if (pool_put(out, domain.ptr, domain.len, &b->domain_off) != LP_OK ||
      pool_put(out, signal, slen, &b->signal_off) != LP_OK) {
    out->pool.len = mark;
    return LP_ENOMEM;
  }
  b->domain_len = domain.len;
  b->signal_len = slen;
  b->delta = delta;
  out->n_boosts++;
  return LP_OK;
}

int lp_query_out_exclude(lp_query_out *out, lp_str domain) {
  if (out == NULL || !domain_ok(domain)) return LP_EINVAL;
  for (size_t i = 0; i < out->n_excludes; i++) {
    lp_str e = pool_str(out, out->excludes[i].domain_off, out->excludes[i].domain_len);
    if (e.len == domain.len && memcmp(e.ptr, domain.ptr, e.len) == 0) return LP_OK;
  }
  if (out->n_excludes >= out->max_excludes) return LP_ENOMEM;
  lp__query_exclude *x = &out->excludes[out->n_excludes];
  if (pool_put(out, domain.ptr, domain.len, &x->domain_off) != LP_OK) return LP_ENOMEM;
  x->domain_len = domain.len;
  out->n_excludes++;
  return LP_OK;
}

uint32_t lp_query_out_shard(const lp_query_out *out) { return out->shard; }
size_t lp_query_out_boost_count(const lp_query_out *out) { return out->n_boosts; }
size_t lp_query_out_exclude_count(const lp_query_out *out) { return out->n_excludes; }

int lp_query_out_boost_at(const lp_query_out *out, size_t i, lp_str *domain, double *delta, lp_str *signal) {
  if (i >= out->n_boosts) return LP_ENOENT;
  const lp__query_boost *b = &out->boosts[i];
  if (domain != NULL) *domain = pool_str(out, b->domain_off, b->domain_len);
  if (signal != NULL) *signal = pool_str(out, b->signal_off, b->signal_len);
  if (delta != NULL) *delta = b->delta;
  return LP_OK;
}

lp_str lp_query_out_exclude_at(const lp_query_out *out, size_t i) {
  if (i >= out->n_excludes) return (lp_str){ NULL, 0 };
  return pool_str(out, out->excludes[i].domain_off, out->excludes[i].domain_len);
}

int lp_query_out_is_excluded(const lp_query_out *out, lp_str domain) {
  for (size_t i = 0; i < out->n_excludes; i++) {
    lp_str e = lp_query_out_exclude_at(out, i);
    if (domain.len == e.len && memcmp(domain.ptr, e.ptr, e.len) == 0) return 1;
    /* a sub-domain: "<label>." + e at the end of domain */
    if (domain.len > e.len + 1 && domain.ptr[domain.len - e.len - 1] == '.' &&
        memcmp(domain.ptr + domain.len - e.len, e.ptr, e.len) == 0)
      return 1;
  }
  return 0;
}
