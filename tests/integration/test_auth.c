/*
 * API keys and per-key rate limits (core/server/auth.c, contract §3): SHA-256 against the FIPS/RFC vectors,
 * the constant-time compare, the config entries and http.api_keys_required, and the server: off, on +
 * missing, on + wrong, on + right (Bearer and X-API-Key), the open routes, and a bucket that runs dry
 * (429 + Retry-After + X-RateLimit-*), per key.
 *
 * Constant time by review: find_key in auth.c hashes the presented key once and calls lp__auth_ct_equal
 * (an OR of XORs over all 32 bytes, no early exit) on every configured entry whatever matched.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "helpers/helpers.h"
#include "server/auth.h"

static void hex(const uint8_t h[32], char out[65]) {
  for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static void sha_hex(const char *s, size_t n, char out[65]) {
  uint8_t h[32];
  lp__sha256(s, n, h);
  hex(h, out);
}

Test(auth, sha256_vectors) {
  char h[65];
  sha_hex("", 0, h);
  cr_assert_str_eq(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  sha_hex("abc", 3, h);
  cr_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";  /* 56 bytes: two padding blocks */
  sha_hex(m448, strlen(m448), h);
  cr_assert_str_eq(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrs"
                     "mnopqrstnopqrstu";
  sha_hex(m896, strlen(m896), h);
  cr_assert_str_eq(h, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  char *mil = malloc(1000000);
  memset(mil, 'a', 1000000);
  sha_hex(mil, 1000000, h);
  free(mil);
  cr_assert_str_eq(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

Test(auth, ct_equal) {
  uint8_t a[32], b[32];
  memset(a, 7, sizeof(a));
  memcpy(b, a, sizeof(b));
  cr_assert(lp__auth_ct_equal(a, b, 32));
  b[31] ^= 1;
  cr_assert_not(lp__auth_ct_equal(a, b, 32));
  b[31] ^= 1, b[0] ^= 0x80;
  cr_assert_not(lp__auth_ct_equal(a, b, 32));
}

/* ---- config ---------------------------------------------------------------------------------------- */

#define H_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static int load(const char *text, char *err, size_t n) {
  lp_config c;
  int rc = lp_config_load_string(&c, text, "t.conf", err, n);
  lp_config_free(&c);
  return rc;
}

Test(auth, config_entries) {
  char err[512];
  cr_assert_eq(load("[http]\napi_keys = \"a:" H_ABC ", b.x-1:" H_ABC "\"\n", err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_neq(load("[http]\napi_keys = \"a:abc\"\n", err, sizeof(err)), LP_OK);
  cr_assert(strstr(err, "64 hex digits") != NULL, "%s", err);
  cr_assert_neq(load("[http]\napi_keys = \"" H_ABC "\"\n", err, sizeof(err)), LP_OK);
  cr_assert_neq(load("[http]\napi_keys = \"bad name:" H_ABC "\"\n", err, sizeof(err)), LP_OK);
  cr_assert_neq(load("[http]\napi_keys = \":" H_ABC "\"\n", err, sizeof(err)), LP_OK);
  /* The dump keeps the entries (hashes, not keys), so that it loads back. */
  lp_config c;
  cr_assert_eq(lp_config_load_string(&c, "[http]\napi_keys = \"a:" H_ABC "\"\n", "t", err, sizeof(err)), LP_OK);
  lp_buf b = LP_BUF_INIT;
  cr_assert_eq(lp_config_dump(&c, &b), LP_OK);
  cr_assert(memmem(b.data, b.len, H_ABC, 64) != NULL);
  lp_buf_free(&b);
  size_t n;
  cr_assert_eq(lp_config_api_keys_each(&c, NULL, NULL, &n, err, sizeof(err)), LP_OK);
  cr_assert_eq(n, 1);
  lp_config_free(&c);
}

Test(auth, config_required_and_file) {
  char err[512], path[64], text[256];
  cr_assert_eq(load("[http]\napi_keys_required = false\n", err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_neq(load("[http]\napi_keys_required = true\n", err, sizeof(err)), LP_OK);
  cr_assert(strstr(err, "no API key") != NULL, "%s", err);
  cr_assert_eq(load("[http]\napi_keys_required = true\napi_keys = \"a:" H_ABC "\"\n", err, sizeof(err)), LP_OK);
  /* A file: comments and blank lines; then a missing file and a bad one fail the load. */
  snprintf(path, sizeof(path), "/tmp/lpt-keys-%d", (int)getpid());
  FILE *f = fopen(path, "w");
  fprintf(f, "# keys\n\nmain:" H_ABC "  # the main key\n");
  fclose(f);
  snprintf(text, sizeof(text), "[http]\napi_keys_required = true\napi_keys_file = %s\n", path);
  cr_assert_eq(load(text, err, sizeof(err)), LP_OK, "%s", err);
  f = fopen(path, "w");
  fprintf(f, "main:nothex\n");
  fclose(f);
  cr_assert_neq(load(text, err, sizeof(err)), LP_OK);
  unlink(path);
  cr_assert_neq(load(text, err, sizeof(err)), LP_OK);
  cr_assert(strstr(err, "cannot open") != NULL, "%s", err);
}

/* ---- the server ------------------------------------------------------------------------------------ */

/* One GET or POST with extra header lines ("Name: value\r\n", may be ""). */
static void req(int port, const char *method, const char *path, const char *headers, const char *body,
                lpt_response *r) {
  int fd = lpt_connect(port);
  cr_assert(fd >= 0);
  char buf[2048];
  size_t blen = body ? strlen(body) : 0;
  int n = snprintf(buf, sizeof(buf),
                   "%s %s HTTP/1.1\r\nHost: x\r\n%s%sContent-Length: %zu\r\nConnection: close\r\n\r\n%s", method,
                   path, headers, body ? "Content-Type: application/json\r\n" : "", blen, body ? body : "");
  cr_assert_eq(lpt_send_all(fd, buf, (size_t)n), 0);
  cr_assert_eq(lpt_read_response(fd, r, 10000), 0);
  close(fd);
}

static void assert_error(const lpt_response *r, int status, const char *code) {
  cr_assert_eq(r->status, status, "%d: %s", r->status, r->body);
  char want[64];
  snprintf(want, sizeof(want), "\"code\":\"%s\"", code);
  cr_assert(strstr(r->body, want) != NULL, "%s", r->body);
}

static int has_header(const lpt_response *r, const char *name) {
  char v[64];
  return lpt_header(r, name, v, sizeof(v)) == 0;
}

Test(auth, off_by_default) {
  lpt_server s;
  cr_assert_eq(lpt_server_start(&s, NULL, NULL), 0);
  lpt_response r;
  req(s.port, "GET", "/v1/status", "", NULL, &r);
  cr_assert_eq(r.status, 200);
  cr_assert_not(has_header(&r, "X-RateLimit-Limit"));
  lpt_response_free(&r);
  req(s.port, "GET", "/v1/miners", "Authorization: Bearer whatever\r\n", NULL, &r);
  cr_assert_eq(r.status, 200);
  lpt_response_free(&r);
  cr_assert_eq(lpt_server_stop(&s), 0);
}

Test(auth, keys_on) {
  /* Two keys: "secret-a" and "secret-b"; a bucket of 3 that refills once in 1000 s. */
  char ha[65], hb[65], env_keys[256];
  sha_hex("secret-a", 8, ha);
  sha_hex("secret-b", 8, hb);
  snprintf(env_keys, sizeof(env_keys), "LEADPOET_HTTP_API_KEYS=alice:%s,bob:%s", ha, hb);
  const char *env[] = { env_keys, "LEADPOET_HTTP_RATE_LIMIT=0.001", "LEADPOET_HTTP_RATE_BURST=3", NULL };
  lpt_server s;
  cr_assert_eq(lpt_server_start(&s, NULL, env), 0);
  lpt_response r;
  char v[64];

  /* Missing, wrong, another scheme: 401 with the contract's body. */
  req(s.port, "GET", "/v1/status", "", NULL, &r);
  assert_error(&r, 401, "unauthorized");
  cr_assert(has_header(&r, "WWW-Authenticate"));
  cr_assert_not(has_header(&r, "X-RateLimit-Limit"));
  lpt_response_free(&r);
  req(s.port, "POST", "/v1/leads", "Authorization: Bearer secret-c\r\n", "{\"prompt\":\"billing\"}", &r);
  assert_error(&r, 401, "unauthorized");
  lpt_response_free(&r);
  req(s.port, "GET", "/v1/miners", "Authorization: Basic c2VjcmV0LWE=\r\n", NULL, &r);
  assert_error(&r, 401, "unauthorized");
  lpt_response_free(&r);
  req(s.port, "GET", "/v1/nothing-here", "", NULL, &r);
  assert_error(&r, 401, "unauthorized");
  lpt_response_free(&r);

  /* The open routes need no key. */
  const char *open_paths[] = { "/healthz", "/metrics", "/", "/docs", "/openapi.json", "/readyz" };
  for (size_t i = 0; i < sizeof(open_paths) / sizeof(open_paths[0]); i++) {
    req(s.port, "GET", open_paths[i], "", NULL, &r);
    cr_assert(r.status == 200 || (i == 5 && r.status == 503), "%s: %d", open_paths[i], r.status);
    cr_assert_not(has_header(&r, "X-RateLimit-Limit"));
    lpt_response_free(&r);
  }
  req(s.port, "GET", "/assets/no-such-file.js", "", NULL, &r);
  cr_assert_eq(r.status, 404);
  lpt_response_free(&r);

  /* The right key: 200 with the headers, three times (Bearer, bearer, X-API-Key); then 429. */
  const char *auth[] = { "Authorization: Bearer secret-a\r\n", "authorization: bearer  secret-a \r\n",
                         "X-API-Key: secret-a\r\n" };
  for (int i = 0; i < 3; i++) {
    req(s.port, "GET", "/v1/status", auth[i], NULL, &r);
    cr_assert_eq(r.status, 200, "%d: %s", r.status, r.body);
    cr_assert_eq(lpt_header(&r, "X-RateLimit-Limit", v, sizeof(v)), 0);
    cr_assert_str_eq(v, "3");
    cr_assert_eq(lpt_header(&r, "X-RateLimit-Remaining", v, sizeof(v)), 0);
    cr_assert_eq(atoi(v), 2 - i);
    cr_assert_eq(lpt_header(&r, "X-RateLimit-Reset", v, sizeof(v)), 0);
    cr_assert(atoi(v) > 0);
    lpt_response_free(&r);
  }
  req(s.port, "GET", "/v1/status", auth[0], NULL, &r);
  assert_error(&r, 429, "rate_limited");
  cr_assert_eq(lpt_header(&r, "Retry-After", v, sizeof(v)), 0);
  cr_assert(atoi(v) >= 1 && atoi(v) <= 1000, "Retry-After %s", v);
  cr_assert_eq(lpt_header(&r, "X-RateLimit-Remaining", v, sizeof(v)), 0);
  cr_assert_str_eq(v, "0");
  cr_assert(has_header(&r, "X-RateLimit-Limit") && has_header(&r, "X-RateLimit-Reset"));
  lpt_response_free(&r);

  /* The bucket is per key: bob still has his. An open route still answers alice. */
  req(s.port, "GET", "/v1/miners", "Authorization: Bearer secret-b\r\n", NULL, &r);
  cr_assert_eq(r.status, 200);
  cr_assert_eq(lpt_header(&r, "X-RateLimit-Remaining", v, sizeof(v)), 0);
  cr_assert_str_eq(v, "2");
  lpt_response_free(&r);
  req(s.port, "GET", "/healthz", auth[0], NULL, &r);
  cr_assert_eq(r.status, 200);
  lpt_response_free(&r);
  cr_assert_eq(lpt_server_stop(&s), 0);
}

Test(auth, required_without_keys_refuses_to_start) {
  lpt_server s;
  const char *env[] = { "LEADPOET_HTTP_API_KEYS_REQUIRED=true", NULL };
  cr_assert_neq(lpt_server_start(&s, NULL, env), 0);
}
