/*
 * variants.h: the pure part of A/B tests of models (model.h has the served side): the scoring.variants
 * list, the assignment of a query id to a variant, and the two-proportion z-test. Free of server types so
 * that the configuration checks the list with the same parser (config_keys.c) as the server's start.
 *
 * Threads: any (pure functions, no state).
 */
#ifndef LP_SERVER_VARIANTS_H
#define LP_SERVER_VARIANTS_H

#include <stddef.h>
#include <stdint.h>

#define LP_VARIANTS_MAX 8
#define LP_VARIANT_HEADER "X-Leadpoet-Variant"  /* forces the variant of a query */
#define LP_VARIANT_NAME_MAX 32

/* One variant of scoring.variants: "[NAME=]PATH:SHARE" (PATH "v0" = model v0; NAME defaults to the base
 * name of PATH without its extension), share in percent. */
typedef struct lp_variant_spec {
  char name[LP_VARIANT_NAME_MAX + 1];
  char path[512];
  uint32_t share;
} lp_variant_spec;

/* Parses scoring.variants into out[LP_VARIANTS_MAX]: names [A-Za-z0-9._-]{1,32}, unique; shares are
 * integers 0..100 summing to 100. LP_OK, or LP_EINVAL with errstr. Any thread (pure). */
int lp__variants_parse(const char *spec, lp_variant_spec *out, uint32_t *n, char *errstr, size_t errstr_size);
/* The variant of query_id among spec[0..n) by its hash bucket (0..99) and the cumulative shares. Pure. */
uint32_t lp__variant_assign(const lp_variant_spec *spec, uint32_t n, const char *query_id, size_t len);
/* Two-proportion z-test, pooled: x0 of n0 (the control) against x1 of n1. *z = (p1 - p0) / se, *p the
 * two-sided p-value erfc(|z| / sqrt 2). LP_ERANGE when undefined (an empty side, x > n, no variance). Pure. */
int lp__experiment_ztest(uint64_t x0, uint64_t n0, uint64_t x1, uint64_t n1, double *z, double *p);

#endif
