/*
 * auth.c: API keys (hashed, compared in constant time) and their token buckets. See auth.h.
 */
#include "server/auth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"

/* ---- SHA-256 (FIPS 180-4), for hashing a presented key: small, no dependency ----------------------- */

static const uint32_t sha_k[64] = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

static void sha_block(uint32_t h[8], const uint8_t *p) {
  uint32_t w[64];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
  for (int i = 0; i < 64; i++) {
    uint32_t t1 = hh + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + sha_k[i] + w[i];
    uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
  }
  h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

void lp__sha256(const void *data, size_t len, uint8_t out[32]) {
  uint32_t h[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
  const uint8_t *p = data;
  size_t left = len;
  for (; left >= 64; p += 64, left -= 64) sha_block(h, p);
  uint8_t tail[128] = { 0 };
  memcpy(tail, p, left);
  tail[left] = 0x80;
  size_t tail_len = left < 56 ? 64 : 128;
  uint64_t bits = (uint64_t)len * 8;
  for (int i = 0; i < 8; i++) tail[tail_len - 1 - i] = (uint8_t)(bits >> (8 * i));
  sha_block(h, tail);
  if (tail_len == 128) sha_block(h, tail + 64);
  for (int i = 0; i < 8; i++) {
    out[4 * i] = (uint8_t)(h[i] >> 24), out[4 * i + 1] = (uint8_t)(h[i] >> 16);
    out[4 * i + 2] = (uint8_t)(h[i] >> 8), out[4 * i + 3] = (uint8_t)h[i];
  }
}

int lp__auth_ct_equal(const uint8_t *a, const uint8_t *b, size_t n) {
  volatile uint8_t diff = 0;
  for (size_t i = 0; i < n; i++) diff |= (uint8_t)(a[i] ^ b[i]);
  return diff == 0;
}

/* ---- the key table -------------------------------------------------------------------------------- */

struct lp_auth_key {
  uint8_t hash[32];
  char name[65];
  double tokens;              /* the bucket, refilled lazily at each request */
  int64_t last_ms;            /* monotonic ms of the last refill */
  double budget_usd;          /* per UTC day; 0 = none */
  int64_t day;                /* the UTC day (wall ms / 86400000) spent_usd is of */
  double spent_usd;           /* the answers' cost today */
  double reserved_usd;        /* granted to queries in flight, not yet settled */
};
typedef struct lp_auth_key auth_key;

struct lp_auth {
  auth_key *keys;
  size_t n, cap;
  double rate;                /* tokens per second */
  double burst;               /* bucket size */
  double default_budget;      /* http.key_daily_budget_usd */
};

static int add_key(const char *name, size_t name_len, const uint8_t hash[32], double budget_usd, void *ud) {
  lp_auth *a = ud;
  if (a->n == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 8;
    auth_key *k = lp_realloc(a->keys, cap * sizeof(*k));
    if (k == NULL) return LP_ENOMEM;
    a->keys = k, a->cap = cap;
  }
  auth_key *k = &a->keys[a->n++];
  memset(k, 0, sizeof(*k));
  memcpy(k->hash, hash, 32);
  memcpy(k->name, name, name_len < 64 ? name_len : 64);
  k->tokens = a->burst;
  k->last_ms = -1;
  k->budget_usd = budget_usd >= 0 ? budget_usd : a->default_budget;
  k->day = -1;
  return LP_OK;
}

int lp__auth_new(const lp_config *cfg, lp_auth **out, char *why, size_t why_size) {
  *out = NULL;
  lp_auth *a = lp_calloc(1, sizeof(*a));
  if (a == NULL) {
    snprintf(why, why_size, "out of memory");
    return LP_ENOMEM;
  }
  a->rate = cfg->http.rate_limit;
  a->burst = (double)cfg->http.rate_burst;
  a->default_budget = cfg->http.key_daily_budget_usd;
  size_t n = 0;
  int rc = lp_config_api_keys_each(cfg, add_key, a, &n, why, why_size);
  if (rc == LP_ENOMEM) snprintf(why, why_size, "out of memory");
  if (rc != LP_OK || n == 0) {
    lp__auth_free(a);
    return rc;
  }
  *out = a;
  return LP_OK;
}

void lp__auth_free(lp_auth *a) {
  if (a == NULL) return;
  lp_free(a->keys);
  lp_free(a);
}

/* ---- a request ------------------------------------------------------------------------------------ */

/* The routes that need a key: /v1 and below. */
static int needs_key(lp_str path) {
  return path.len >= 3 && memcmp(path.ptr, "/v1", 3) == 0 && (path.len == 3 || path.ptr[3] == '/');
}

/* The presented key: Authorization: Bearer KEY (scheme case-insensitive), else X-API-Key. */
static lp_str presented_key(lp_http_req *req) {
  lp_str h = lp_http_req_header(req, "Authorization");
  if (h.len > 7 && strncasecmp(h.ptr, "Bearer ", 7) == 0) {
    lp_str k = { h.ptr + 7, h.len - 7 };
    while (k.len > 0 && (k.ptr[0] == ' ' || k.ptr[0] == '\t')) k.ptr++, k.len--;
    while (k.len > 0 && (k.ptr[k.len - 1] == ' ' || k.ptr[k.len - 1] == '\t')) k.len--;
    return k;
  }
  if (h.len > 0) return (lp_str){ NULL, 0 }; /* another scheme: no key */
  return lp_http_req_header(req, "X-API-Key");
}

/* The entry whose hash is the presented key's: every entry compared, in constant time each. */
static auth_key *find_key(lp_auth *a, lp_str key) {
  uint8_t h[32];
  lp__sha256(key.ptr, key.len, h);
  auth_key *hit = NULL;
  for (size_t i = 0; i < a->n; i++) {
    int eq = lp__auth_ct_equal(h, a->keys[i].hash, 32);
    if (eq && hit == NULL) hit = &a->keys[i];
  }
  return hit;
}

static void set_header_int(lp_http_req *req, const char *name, long long v) {
  char s[32];
  snprintf(s, sizeof(s), "%lld", v);
  lp_http_add_header(req, name, s);
}

int lp__auth_check(lp_auth *a, lp_http_req *req, int64_t now_ms) {
  if (a == NULL || !needs_key(lp_http_req_path(req))) return 1;
  lp_str key = presented_key(req);
  auth_key *k = key.len > 0 ? find_key(a, key) : NULL;
  if (k == NULL) {
    lp_http_add_header(req, "WWW-Authenticate", "Bearer realm=\"leadpoet\"");
    lp_http_respond_error(req, 401, "unauthorized", "%s",
                          key.len > 0 ? "the API key is not valid"
                                      : "an API key is needed: send Authorization: Bearer KEY");
    return 0;
  }
  if (k->last_ms >= 0 && now_ms > k->last_ms) k->tokens += (double)(now_ms - k->last_ms) * a->rate / 1000.0;
  if (k->tokens > a->burst) k->tokens = a->burst;
  if (k->last_ms < 0 || now_ms > k->last_ms) k->last_ms = now_ms;
  int allowed = k->tokens >= 1.0;
  if (allowed) k->tokens -= 1.0;
  set_header_int(req, "X-RateLimit-Limit", (long long)a->burst);
  set_header_int(req, "X-RateLimit-Remaining", (long long)floor(k->tokens));
  set_header_int(req, "X-RateLimit-Reset", (long long)ceil((a->burst - k->tokens) / a->rate));
  if (allowed) return 1;
  long long wait = (long long)ceil((1.0 - k->tokens) / a->rate);
  set_header_int(req, "Retry-After", wait < 1 ? 1 : wait);
  lp_http_respond_error(req, 429, "rate_limited", "API key %s is over its rate of %g requests per second",
                        k->name, a->rate);
  return 0;
}

/* ---- daily budgets -------------------------------------------------------------------------------- */

#define DAY_MS 86400000LL

/* Starts a new UTC day's account when wall_ms is in another day than the one kept. */
static void roll_day(auth_key *k, int64_t wall_ms) {
  int64_t day = wall_ms / DAY_MS;
  if (k->day != day) k->day = day, k->spent_usd = 0;
}

const char *lp__auth_key_name(const lp_auth_key *k) { return k->name; }

/* What is left today: the budget less what answers cost and what queries in flight may still spend. */
static double budget_left(const auth_key *k) { return k->budget_usd - k->spent_usd - k->reserved_usd; }

int lp__auth_budget_reserve(lp_auth_key *k, double want_usd, int64_t wall_ms) {
  if (k == NULL || k->budget_usd <= 0) return LP_OK;
  roll_day(k, wall_ms);
  double left = budget_left(k);
  if (!(left > 0) || want_usd > left) return LP_ERANGE;
  k->reserved_usd += want_usd;
  return LP_OK;
}

void lp__auth_budget_settle(lp_auth_key *k, double reserved_usd, double spent_usd, int64_t wall_ms) {
  if (k == NULL || k->budget_usd <= 0) return;
  roll_day(k, wall_ms);
  k->reserved_usd -= reserved_usd;
  if (k->reserved_usd < 1e-12) k->reserved_usd = 0;  /* rounding of the float sums */
  if (spent_usd > 0) k->spent_usd += spent_usd;
}

void lp__auth_budget_reject(lp_auth_key *k, double want_usd, lp_http_req *req, int64_t wall_ms) {
  roll_day(k, wall_ms);
  long long until_midnight = (long long)((DAY_MS - wall_ms % DAY_MS + 999) / 1000);
  set_header_int(req, "Retry-After", until_midnight < 1 ? 1 : until_midnight);
  double left = budget_left(k);
  if (left > 0) {
    lp_http_respond_error(req, 429, "cost_limit_exceeded",
                          "this query may spend $%g (max_cost_usd) but API key %s has $%.6f left of its daily "
                          "budget of $%g: send a max_cost_usd of at most %.6f, or retry after 00:00 UTC",
                          want_usd, k->name, left, k->budget_usd, left);
  } else {
    lp_http_respond_error(req, 429, "cost_limit_exceeded",
                          "API key %s has used its daily budget of $%g ($%.6f spent, $%.6f held by queries in "
                          "flight); it renews at 00:00 UTC",
                          k->name, k->budget_usd, k->spent_usd, k->reserved_usd);
  }
}

/* ---- the server's table --------------------------------------------------------------------------- */

static struct {
  const lp_config *cfg;       /* the config the table was built from */
  lp_auth *auth;
  int built;
} g_auth;

static void free_server_table(void) {
  lp__auth_free(g_auth.auth);
  memset(&g_auth, 0, sizeof(g_auth));
}

int lp__auth_server_check(const lp_config *cfg, lp_http_req *req) {
  if (!g_auth.built || g_auth.cfg != cfg) {
    if (g_auth.cfg == NULL) atexit(free_server_table);
    lp__auth_free(g_auth.auth);
    g_auth.auth = NULL;
    g_auth.cfg = cfg;
    char why[512] = "";
    int rc = lp__auth_new(cfg, &g_auth.auth, why, sizeof(why));
    g_auth.built = rc == LP_OK;
    if (rc != LP_OK) {
      lp_log_error("API keys cannot be read", "err=\"%s\"", why);
      if (!needs_key(lp_http_req_path(req))) return 1;
      lp_http_respond_error(req, 503, "unavailable", "the API keys cannot be read: %s", why);
      return 0;
    }
  }
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return lp__auth_check(g_auth.auth, req, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

lp_auth_key *lp__auth_server_key(const lp_config *cfg, lp_http_req *req) {
  if (!g_auth.built || g_auth.cfg != cfg || g_auth.auth == NULL) return NULL;
  lp_str key = presented_key(req);
  return key.len > 0 ? find_key(g_auth.auth, key) : NULL;
}
