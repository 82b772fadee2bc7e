/*
 * auth.h: API keys and per-key rate limits of the HTTP API (contract §3, README "API keys").
 *
 * Keys live in the config only as SHA-256 hashes (http.api_keys, http.api_keys_file; see config.h). A
 * request presents its key as `Authorization: Bearer KEY` or `X-API-Key: KEY`; the key is hashed and the
 * hash compared with every configured one in constant time (lp__auth_ct_equal: no early exit, and every
 * entry is compared whatever matched), so neither the answer's time nor the order of the table tells which
 * bytes were right. Each key has a token bucket (http.rate_limit per second, http.rate_burst at most).
 *
 * Off while no key is configured: every request passes and no X-RateLimit header is sent. When on, the
 * routes under /v1 need a key: missing or wrong answers 401 `unauthorized`, an empty bucket 429
 * `rate_limited` with Retry-After; every answer to an authorised request carries X-RateLimit-Limit,
 * X-RateLimit-Remaining and X-RateLimit-Reset. /healthz, /readyz, /metrics, /, /assets/..., /docs and
 * /openapi.json stay open (probes, Prometheus and the console's own files need no key).
 */
#ifndef LP_SERVER_AUTH_H
#define LP_SERVER_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "http/http.h"

/* SHA-256 (FIPS 180-4) of len bytes at p into out. Any thread. */
void lp__sha256(const void *p, size_t len, uint8_t out[32]);
/* 1 if the n bytes of a and b are equal, in time that depends on n only. Any thread. */
int lp__auth_ct_equal(const uint8_t *a, const uint8_t *b, size_t n);

typedef struct lp_auth lp_auth;

/* Builds the key table of cfg (which must outlive it). *out is NULL when API keys are off. Returns 0,
 * LP_ENOMEM, or the config's error for a bad entry or an unreadable key file (why filled). The caller owns
 * *out: lp__auth_free. Main thread. */
int lp__auth_new(const lp_config *cfg, lp_auth **out, char *why, size_t why_size);
void lp__auth_free(lp_auth *a);

/* Decides a request at now_ms (monotonic): returns 1 when it may go on (the X-RateLimit headers are
 * added when keys are on), 0 when it was answered here (401 or 429). a may be NULL (keys off: always 1).
 * Reactor thread. */
int lp__auth_check(lp_auth *a, lp_http_req *req, int64_t now_ms);

/* The server's table, built from srv's config at the first request and kept for the process's life (one
 * server per process); NULL when keys are off. A table that cannot be built (out of memory, the key file
 * gone since the config was loaded) fails closed: every /v1 request answers 503 until it can. Reactor
 * thread. */
int lp__auth_server_check(const lp_config *cfg, lp_http_req *req);

#endif
