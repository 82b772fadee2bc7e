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
 *
 * Budgets: each key may have a daily budget in USD (its entry's third field, else http.key_daily_budget_usd).
 * POST /v1/leads reserves what the query may spend (its max_cost_usd: the budget its paid stages get) and,
 * once answered, releases it and adds the answer's cost.usd_total to the day's account. A query whose
 * max_cost_usd is more than the key has left today could pass the budget: it answers 429
 * cost_limit_exceeded (Retry-After: the seconds to 00:00 UTC) before anything is spent, and the message
 * names the largest max_cost_usd admitted now. Spend is kept in this process: behind a load balancer each
 * instance enforces the budget on its own.
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

/* ---- daily budgets (http.key_daily_budget_usd, or an entry's own name:HEX:USD) --------------------- */

/* A key of the table: valid for the table's life (the server's: the process's). */
typedef struct lp_auth_key lp_auth_key;

/* The key's name (static for the key's life). Any thread that may see k. */
const char *lp__auth_key_name(const lp_auth_key *k);
/* Reserves what a query may spend (want_usd: its max_cost_usd) from k's budget for today (the UTC day of
 * wall_ms), so that queries in flight together never pass it. Returns 0 (also when k is NULL or has no
 * budget: nothing reserved), or LP_ERANGE when less than want_usd is left, or nothing (the caller answers
 * with lp__auth_budget_reject: the query's paid stages could pass the budget). After 0 the caller must call
 * lp__auth_budget_settle once with want_usd. Reactor thread. */
int lp__auth_budget_reserve(lp_auth_key *k, double want_usd, int64_t wall_ms);
/* Releases a reservation and adds what the answer cost (spent_usd) to today's account. k may be NULL.
 * Reactor thread. */
void lp__auth_budget_settle(lp_auth_key *k, double reserved_usd, double spent_usd, int64_t wall_ms);
/* Answers 429 cost_limit_exceeded with Retry-After = the seconds to the next UTC midnight; the message says
 * what is left and the largest max_cost_usd that would be admitted now. Reactor thread. */
void lp__auth_budget_reject(lp_auth_key *k, double want_usd, lp_http_req *req, int64_t wall_ms);

/* The server's table, built from srv's config at the first request and kept for the process's life (one
 * server per process); NULL when keys are off. A table that cannot be built (out of memory, the key file
 * gone since the config was loaded) fails closed: every /v1 request answers 503 until it can. Reactor
 * thread. */
int lp__auth_server_check(const lp_config *cfg, lp_http_req *req);
/* The key req presented when it is in the server's table (after lp__auth_server_check let req go on), else
 * NULL (keys off). Reactor thread. */
lp_auth_key *lp__auth_server_key(const lp_config *cfg, lp_http_req *req);

#endif
