/*
 * test_watches.c: standing queries and signed webhooks through the real binary (docs/adr/0016-watches.md).
 *
 * A webhook receiver runs on loopback in a thread of the test, answering each delivery with the next status
 * of its script. The tests register watches, post snippets that move leads into them, and check what the
 * receiver got: the lead with its signals and evidence, a signature the test recomputes (HMAC-SHA256, itself
 * checked against RFC 4231), retries with the same delivery id, the dead letter after the last attempt, the
 * registration rules, and a watch that survives a restart: from state_dir, and from the Redis checkpoint
 * after a kill -9.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <msgpack.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "fault/fault.h"
#include "helpers/helpers.h"
#include "server/watch.h"

#define SECRET "s3cret-s3cret-s3cret"
#define MAX_HITS 32

/* ---- the receiver --------------------------------------------------------------------------------- */

typedef struct hit {
  char signature[128];
  char delivery[64];
  char *body;
  size_t len;
} hit;

typedef struct receiver {
  int lfd, port;
  pthread_t th;
  const int *script;          /* statuses, the last one repeats */
  int n_script;
  int n;                      /* requests received (atomic) */
  hit hits[MAX_HITS];
} receiver;

static void header_value(const char *head, const char *name, char *out, size_t cap) {
  out[0] = '\0';
  size_t nl = strlen(name);
  for (const char *p = strstr(head, "\r\n"); p != NULL && p[2] != '\r'; p = strstr(p + 2, "\r\n")) {
    if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':') {
      const char *v = p + 3 + nl;
      while (*v == ' ') v++;
      size_t n = strcspn(v, "\r");
      snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), v);
      return;
    }
  }
}

static void *receiver_main(void *arg) {
  receiver *r = arg;
  for (;;) {
    int fd = accept(r->lfd, NULL, NULL);
    if (fd < 0) break;
    char buf[65536];
    size_t len = 0;
    char *end = NULL;
    while (len < sizeof(buf) - 1 && (end = memmem(buf, len, "\r\n\r\n", 4)) == NULL) {
      ssize_t k = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
      if (k <= 0) break;
      len += (size_t)k;
    }
    if (end == NULL) {
      close(fd);
      continue;
    }
    buf[len] = '\0';
    char cl[32];
    *end = '\0';
    header_value(buf, "Content-Length", cl, sizeof(cl));
    size_t want = (size_t)strtoul(cl, NULL, 10), head = (size_t)(end - buf) + 4;
    while (len - head < want && len < sizeof(buf) - 1) {
      ssize_t k = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
      if (k <= 0) break;
      len += (size_t)k;
    }
    int i = __atomic_load_n(&r->n, __ATOMIC_SEQ_CST);
    if (i < MAX_HITS) {
      hit *h = &r->hits[i];
      header_value(buf, "X-Leadpoet-Signature", h->signature, sizeof(h->signature));
      header_value(buf, "X-Leadpoet-Delivery", h->delivery, sizeof(h->delivery));
      h->len = want;
      h->body = malloc(want + 1);
      memcpy(h->body, buf + head, want);
      h->body[want] = '\0';
    }
    int status = r->script[i < r->n_script ? i : r->n_script - 1];
    char resp[128];
    int n = snprintf(resp, sizeof(resp), "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", status);
    (void)!send(fd, resp, (size_t)n, MSG_NOSIGNAL);
    __atomic_add_fetch(&r->n, 1, __ATOMIC_SEQ_CST);
    close(fd);
  }
  return NULL;
}

static void receiver_start(receiver *r, const int *script, int n_script) {
  memset(r, 0, sizeof(*r));
  r->script = script;
  r->n_script = n_script;
  r->lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof(a);
  cr_assert_eq(bind(r->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
  cr_assert_eq(listen(r->lfd, 16), 0);
  cr_assert_eq(getsockname(r->lfd, (struct sockaddr *)&a, &alen), 0);
  r->port = ntohs(a.sin_port);
  cr_assert_eq(pthread_create(&r->th, NULL, receiver_main, r), 0);
}

static void receiver_stop(receiver *r) {
  shutdown(r->lfd, SHUT_RDWR);
  pthread_join(r->th, NULL);
  close(r->lfd);
  for (int i = 0; i < r->n && i < MAX_HITS; i++) free(r->hits[i].body);
}

/* Waits (up to 15 s) until the receiver holds n requests. */
static int wait_hits(receiver *r, int n) {
  for (int i = 0; i < 1500 && __atomic_load_n(&r->n, __ATOMIC_SEQ_CST) < n; i++) usleep(10000);
  return __atomic_load_n(&r->n, __ATOMIC_SEQ_CST);
}

/* ---- the server ----------------------------------------------------------------------------------- */

static char dir[128], conf_path[160];

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void setup(void) {
  snprintf(dir, sizeof(dir), "/tmp/lp-watch-test-%d", (int)getpid());
  char cmd[512];
  snprintf(cmd, sizeof(cmd), "rm -rf %s && mkdir -p %s", dir, dir);
  cr_assert_eq(system(cmd), 0);
  snprintf(conf_path, sizeof(conf_path), "%s/leadpoet.conf", dir);
  FILE *f = fopen(conf_path, "w");
  cr_assert_not_null(f);
  fprintf(f, "[server]\nshards = 4\nworkers = 2\nstate_dir = %s/state\n"
             "[watch]\nmax_watches = 3\nmax_attempts = 3\nbackoff = 20ms\ncoalesce = 20ms\ntimeout = 2s\n", dir);
  fclose(f);
}

static void teardown(void) {
  char cmd[512];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  cr_assert_eq(system(cmd), 0);
}

TestSuite(integration_watches, .init = setup, .fini = teardown, .timeout = 120);

static void start(lpt_server *s) {
  const char *args[] = { "-c", conf_path, NULL };
  const char *env[] = { "LEADPOET_KAFKA_MODE=off", NULL };
  cr_assert_eq(lpt_server_start(s, args, env), 0);
}

static json_t *call(int port, const char *method, const char *path, const char *body, int want) {
  lpt_response r;
  cr_assert_eq(lpt_http(port, method, path, body ? "application/json" : NULL, body, body ? strlen(body) : 0, &r), 0);
  cr_assert_eq(r.status, want, "%s %s -> %d %s", method, path, r.status, r.body);
  json_t *j = r.body_len > 0 ? json_loads(r.body, 0, NULL) : json_object();
  cr_assert_not_null(j, "%s", r.body);
  lpt_response_free(&r);
  return j;
}

/* Registers a watch on the receiver's port; returns its id (static). */
static const char *watch(int port, int rport, const char *prompt) {
  static char id[64];
  char body[512];
  snprintf(body, sizeof(body), "{\"prompt\":\"%s\",\"k\":5,\"url\":\"http://127.0.0.1:%d/hook\",\"secret\":\"%s\"}",
           prompt, rport, SECRET);
  json_t *w = call(port, "POST", "/v1/watches", body, 201);
  snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(w, "id")));
  cr_assert_eq(strncmp(id, "w-", 2), 0);
  cr_assert_null(json_object_get(w, "secret"), "the secret is never shown");
  json_decref(w);
  return id;
}

static void snippet(int port, const char *id, const char *domain, const char *text) {
  char body[1024];
  snprintf(body, sizeof(body), "[{\"id\":\"%s\",\"miner\":\"m1\",\"ts\":%lld,\"lead\":{\"domain\":\"%s\"},"
                               "\"kind\":\"hiring\",\"text\":\"%s\"}]", id, now_ms() - 60000, domain, text);
  json_t *a = call(port, "POST", "/v1/snippets", body, 202);
  cr_assert_eq(json_integer_value(json_object_get(a, "accepted")), 1);
  json_decref(a);
}

static json_t *get_watch(int port, const char *id) {
  char path[128];
  snprintf(path, sizeof(path), "/v1/watches/%s", id);
  return call(port, "GET", path, NULL, 200);
}

/* ---- tests ---------------------------------------------------------------------------------------- */

Test(integration_watches, hmac_rfc4231) {
  static const struct { const char *key; size_t key_len; const char *msg; const char *hex; } v[] = {
    { "\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b", 20, "Hi There",
      "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
    { "Jefe", 4, "what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
  };
  for (size_t i = 0; i < 2; i++) {
    uint8_t mac[32];
    char hex[65];
    lp__hmac_sha256(v[i].key, v[i].key_len, v[i].msg, strlen(v[i].msg), mac);
    for (int j = 0; j < 32; j++) snprintf(hex + 2 * j, 3, "%02x", mac[j]);
    cr_assert_str_eq(hex, v[i].hex, "RFC 4231 case %zu", i + 1);
  }
  /* case 6: a key longer than the block is hashed first */
  char key[131];
  memset(key, 0xaa, sizeof(key));
  const char *msg = "Test Using Larger Than Block-Size Key - Hash Key First";
  uint8_t mac[32];
  char hex[65];
  lp__hmac_sha256(key, sizeof(key), msg, strlen(msg), mac);
  for (int j = 0; j < 32; j++) snprintf(hex + 2 * j, 3, "%02x", mac[j]);
  cr_assert_str_eq(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  char sig[72];
  lp__watch_signature("Jefe", "what do ya want for nothing?", 28, sig);
  cr_assert_str_eq(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

/* The registry's bytes: what is not a registry, a newer version and a bad row are refused with why. */
Test(integration_watches, registry_bytes_are_checked) {
  lp_config cfg;
  memset(&cfg, 0, sizeof(cfg));
  cfg.watch.max_watches = 10;
  cfg.watch.dlq_size = 4;
  lp_server srv;
  memset(&srv, 0, sizeof(srv));
  srv.cfg = &cfg;
  lp_watches ws;
  memset(&ws, 0, sizeof(ws));
  ws.srv = &srv;
  char err[256];
  err[0] = '\0';
  cr_assert_eq(lp__watches_decode(&ws, "\xc1", 1, err, sizeof(err)), LP_EINVAL);
  cr_assert(strstr(err, "not a watch registry") != NULL, "%s", err);
  msgpack_sbuffer sb;
  msgpack_packer pk;
  const char *magics[] = { "lp-other", "lp-watches", "lp-watches", "lp-watches" };
  const unsigned versions[] = { 1, 99, 1, 1 };
  const char *want[] = { "not a watch registry", "newer", "a bad watch row", NULL };
  for (int i = 0; i < 4; i++) {
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_str_with_body(&pk, magics[i], strlen(magics[i]));
    msgpack_pack_uint32(&pk, versions[i]);
    msgpack_pack_array(&pk, i == 2 ? 1 : 0);
    if (i == 2) msgpack_pack_int(&pk, 7);  /* a row that is not a watch */
    err[0] = '\0';
    int rc = lp__watches_decode(&ws, sb.data, sb.size, err, sizeof(err));
    if (want[i] != NULL) {
      cr_assert_eq(rc, LP_EINVAL, "case %d", i);
      cr_assert(strstr(err, want[i]) != NULL, "case %d: %s", i, err);
    } else {
      cr_assert_eq(rc, LP_OK, "an empty registry loads: %s", err);
      cr_assert_eq(ws.n, 0);
    }
    msgpack_sbuffer_destroy(&sb);
  }
  lp_buf b = LP_BUF_INIT;
  cr_assert_eq(lp__watches_encode(&ws, &b), LP_OK);
  cr_assert_eq(lp__watches_decode(&ws, b.data, b.len, err, sizeof(err)), LP_OK, "%s", err);
  lp_buf_free(&b);
  lp_free(ws.v);
}

Test(integration_watches, registration_rules) {
  lpt_server s;
  start(&s);
  const char *bad[] = {
    "{\"k\":5,\"url\":\"http://127.0.0.1:9/\",\"secret\":\"" SECRET "\"}",                         /* no prompt */
    "{\"prompt\":\"x\",\"k\":0,\"url\":\"http://127.0.0.1:9/\",\"secret\":\"" SECRET "\"}",        /* k */
    "{\"prompt\":\"x\",\"filters\":{\"colour\":[\"red\"]},\"url\":\"http://127.0.0.1:9/\",\"secret\":\"" SECRET "\"}",
    "{\"prompt\":\"x\",\"secret\":\"" SECRET "\"}",                                               /* no url */
    "{\"prompt\":\"x\",\"url\":\"ftp://h/\",\"secret\":\"" SECRET "\"}",
    "{\"prompt\":\"x\",\"url\":\"http://127.0.0.1:9/\"}",                                         /* no secret */
    "{\"prompt\":\"x\",\"url\":\"http://127.0.0.1:9/\",\"secret\":\"short\"}",
    "{\"prompt\":\"x\",\"url\":\"http://127.0.0.1:9/\",\"secret\":\"" SECRET "\",\"min_score\":2}",
    "not json",
    NULL,
  };
  for (int i = 0; bad[i] != NULL; i++) {
    json_t *e = call(s.port, "POST", "/v1/watches", bad[i], 400);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(e, "error"), "code")), "bad_request", "%s", bad[i]);
    json_decref(e);
  }
  json_t *e = call(s.port, "POST", "/v1/watches", "{\"prompt\":\"x\",\"url\":\"https://hooks.example.com/\",\"secret\":\"" SECRET "\"}", 400);
  cr_assert(strstr(json_string_value(json_object_get(json_object_get(e, "error"), "message")), "proxy") != NULL,
            "https is refused with the egress-proxy way");
  json_decref(e);
  char ids[3][64];
  for (int i = 0; i < 3; i++) snprintf(ids[i], sizeof(ids[i]), "%s", watch(s.port, 9, "kubernetes"));
  json_decref(call(s.port, "POST", "/v1/watches",
                   "{\"prompt\":\"x\",\"url\":\"http://127.0.0.1:9/\",\"secret\":\"" SECRET "\"}", 409));
  json_t *list = call(s.port, "GET", "/v1/watches", NULL, 200);
  cr_assert_eq(json_array_size(json_object_get(list, "watches")), 3);
  json_decref(list);
  char path[128];
  snprintf(path, sizeof(path), "/v1/watches/%s", ids[1]);
  json_decref(call(s.port, "DELETE", path, NULL, 204));
  json_decref(call(s.port, "DELETE", path, NULL, 404));
  json_decref(call(s.port, "GET", path, NULL, 404));
  json_decref(call(s.port, "GET", "/v1/watches/w-nope", NULL, 404));
  list = call(s.port, "GET", "/v1/watches", NULL, 200);
  cr_assert_eq(json_array_size(json_object_get(list, "watches")), 2);
  json_decref(list);
  cr_assert_eq(lpt_server_stop(&s), 0);
}

Test(integration_watches, delivery_is_signed_and_carries_the_evidence) {
  static const int ok[] = { 200 };
  receiver r;
  receiver_start(&r, ok, 1);
  lpt_server s;
  start(&s);
  /* Already standing before the watch: seeded into its set, so a later event on it does not fire. */
  snippet(s.port, "a1", "standing-corp.com", "kubernetes migration platform team hiring");
  const char *id = watch(s.port, r.port, "kubernetes migration");
  snippet(s.port, "a2", "standing-corp.com", "more kubernetes migration work");
  snippet(s.port, "b1", "mover-inc.com", "kubernetes migration of the billing cluster planned");
  cr_assert_eq(wait_hits(&r, 1), 1);
  usleep(300000);
  cr_assert_eq(__atomic_load_n(&r.n, __ATOMIC_SEQ_CST), 1, "one delivery: the new lead only");
  hit *h = &r.hits[0];
  char sig[72];
  lp__watch_signature(SECRET, h->body, h->len, sig);
  cr_assert_str_eq(h->signature, sig, "the receiver's HMAC matches");
  cr_assert_eq(strncmp(h->delivery, "d-", 2), 0);
  json_t *b = json_loads(h->body, 0, NULL);
  cr_assert_not_null(b, "%s", h->body);
  cr_assert_str_eq(json_string_value(json_object_get(b, "watch_id")), id);
  cr_assert_str_eq(json_string_value(json_object_get(b, "delivery_id")), h->delivery);
  cr_assert_str_eq(json_string_value(json_object_get(json_object_get(b, "moved_by"), "snippet_id")), "b1");
  json_t *lead = json_object_get(b, "lead");
  cr_assert_str_eq(json_string_value(json_object_get(lead, "domain")), "mover-inc.com");
  cr_assert_gt(json_real_value(json_object_get(lead, "score")), 0);
  cr_assert_not_null(json_object_get(lead, "signals"));
  cr_assert_eq(json_array_size(json_object_get(lead, "evidence")), 1);
  json_decref(b);
  json_t *w = get_watch(s.port, id);
  cr_assert_eq(json_integer_value(json_object_get(w, "delivered")), 1);
  cr_assert_eq(json_integer_value(json_object_get(w, "leads_in_set")), 2);
  json_decref(w);
  cr_assert_eq(lpt_server_stop(&s), 0);
  receiver_stop(&r);
}

Test(integration_watches, failures_are_retried_with_the_same_delivery_id) {
  static const int flaky[] = { 500, 503, 200 };
  receiver r;
  receiver_start(&r, flaky, 3);
  lpt_server s;
  start(&s);
  const char *id = watch(s.port, r.port, "kubernetes migration");
  snippet(s.port, "c1", "retry-co.com", "kubernetes migration starts next quarter");
  cr_assert_eq(wait_hits(&r, 3), 3);
  cr_assert_str_eq(r.hits[1].delivery, r.hits[0].delivery);
  cr_assert_str_eq(r.hits[2].delivery, r.hits[0].delivery);
  cr_assert_str_eq(r.hits[2].signature, r.hits[0].signature);
  json_t *w = NULL;
  for (int i = 0; i < 200; i++) {  /* the 200 reaches the watch's figures right after the receiver answers */
    json_decref(w);
    w = get_watch(s.port, id);
    if (json_integer_value(json_object_get(w, "delivered")) == 1) break;
    usleep(10000);
  }
  cr_assert_eq(json_integer_value(json_object_get(w, "delivered")), 1);
  cr_assert_eq(json_integer_value(json_object_get(w, "failures")), 2);
  cr_assert_eq(json_integer_value(json_object_get(w, "dead_letters")), 0);
  cr_assert_str_eq(json_string_value(json_object_get(w, "last_error")), "HTTP 503");
  json_decref(w);
  cr_assert_eq(lpt_server_stop(&s), 0);
  receiver_stop(&r);
}

Test(integration_watches, the_last_failure_is_dead_lettered) {
  static const int down[] = { 500 };
  receiver r;
  receiver_start(&r, down, 1);
  lpt_server s;
  start(&s);
  const char *id = watch(s.port, r.port, "kubernetes migration");
  snippet(s.port, "d1", "dead-co.com", "kubernetes migration budget approved");
  cr_assert_eq(wait_hits(&r, 3), 3);
  json_t *w = NULL;
  for (int i = 0; i < 200; i++) {
    json_decref(w);
    w = get_watch(s.port, id);
    if (json_integer_value(json_object_get(w, "dead_letters")) == 1) break;
    usleep(10000);
  }
  cr_assert_eq(json_integer_value(json_object_get(w, "dead_letters")), 1);
  cr_assert_eq(json_integer_value(json_object_get(w, "failures")), 3);
  json_t *dlq = json_object_get(w, "dlq");
  cr_assert_eq(json_array_size(dlq), 1);
  json_t *d = json_array_get(dlq, 0);
  cr_assert_str_eq(json_string_value(json_object_get(d, "domain")), "dead-co.com");
  cr_assert_str_eq(json_string_value(json_object_get(d, "error")), "HTTP 500");
  cr_assert_str_eq(json_string_value(json_object_get(d, "delivery")), r.hits[0].delivery);
  cr_assert_eq(json_integer_value(json_object_get(d, "attempts")), 3);
  json_decref(w);
  usleep(200000);
  cr_assert_eq(__atomic_load_n(&r.n, __ATOMIC_SEQ_CST), 3, "no attempt after the last");
  lpt_response m;
  cr_assert_eq(lpt_http(s.port, "GET", "/metrics", NULL, NULL, 0, &m), 0);
  cr_assert(strstr(m.body, "leadpoet_webhook_deliveries_total{result=\"dead\"} 1") != NULL);
  cr_assert(strstr(m.body, "leadpoet_webhook_deliveries_total{result=\"retry\"} 2") != NULL);
  lpt_response_free(&m);
  cr_assert_eq(lpt_server_stop(&s), 0);
  receiver_stop(&r);
}

Test(integration_watches, a_watch_survives_a_restart) {
  static const int ok[] = { 200 };
  receiver r;
  receiver_start(&r, ok, 1);
  lpt_server s;
  start(&s);
  char id[64];
  snprintf(id, sizeof(id), "%s", watch(s.port, r.port, "kubernetes migration"));
  snippet(s.port, "e1", "before-restart.com", "kubernetes migration underway");
  cr_assert_eq(wait_hits(&r, 1), 1);
  cr_assert_eq(lpt_server_stop(&s), 0);

  start(&s);
  json_t *w = get_watch(s.port, id);
  cr_assert_str_eq(json_string_value(json_object_get(w, "prompt")), "kubernetes migration");
  cr_assert_eq(json_integer_value(json_object_get(w, "delivered")), 1, "figures kept");
  cr_assert_eq(json_integer_value(json_object_get(w, "leads_in_set")), 1, "the set kept");
  json_decref(w);
  snippet(s.port, "e2", "before-restart.com", "kubernetes migration second phase");
  snippet(s.port, "e3", "after-restart.com", "kubernetes migration kicked off");
  cr_assert_eq(wait_hits(&r, 2), 2);
  usleep(300000);
  cr_assert_eq(__atomic_load_n(&r.n, __ATOMIC_SEQ_CST), 2, "the lead already in the set does not fire again");
  json_t *b = json_loads(r.hits[1].body, 0, NULL);
  cr_assert_str_eq(json_string_value(json_object_get(json_object_get(b, "lead"), "domain")), "after-restart.com");
  json_decref(b);
  cr_assert_eq(lpt_server_stop(&s), 0);
  receiver_stop(&r);
}

Test(integration_watches, min_score_and_filters_gate_the_set) {
  static const int ok[] = { 200 };
  receiver r;
  receiver_start(&r, ok, 1);
  lpt_server s;
  start(&s);
  char body[512];
  snprintf(body, sizeof(body), "{\"prompt\":\"kubernetes migration\",\"min_score\":0.999,"
                               "\"url\":\"http://127.0.0.1:%d/high\",\"secret\":\"%s\"}", r.port, SECRET);
  json_decref(call(s.port, "POST", "/v1/watches", body, 201));
  snprintf(body, sizeof(body), "{\"prompt\":\"kubernetes migration\",\"filters\":{\"country\":[\"DE\"]},"
                               "\"url\":\"http://127.0.0.1:%d/de\",\"secret\":\"%s\"}", r.port, SECRET);
  json_t *w = call(s.port, "POST", "/v1/watches", body, 201);
  char de[64];
  snprintf(de, sizeof(de), "%s", json_string_value(json_object_get(w, "id")));
  cr_assert_str_eq(json_string_value(json_array_get(json_object_get(json_object_get(w, "filters"), "country"), 0)), "DE");
  json_decref(w);
  snippet(s.port, "f1", "nowhere-corp.com", "kubernetes migration planned");  /* no country: filtered out */
  char sn[512];
  snprintf(sn, sizeof(sn), "[{\"id\":\"f2\",\"miner\":\"m1\",\"ts\":%lld,\"lead\":{\"domain\":\"berlin-gmbh.de\","
                           "\"country\":\"DE\"},\"kind\":\"hiring\",\"text\":\"kubernetes migration planned\"}]",
           now_ms() - 60000);
  json_decref(call(s.port, "POST", "/v1/snippets", sn, 202));
  cr_assert_eq(wait_hits(&r, 1), 1);
  usleep(300000);
  cr_assert_eq(__atomic_load_n(&r.n, __ATOMIC_SEQ_CST), 1, "only the DE lead, only on the DE watch");
  json_t *b = json_loads(r.hits[0].body, 0, NULL);
  cr_assert_str_eq(json_string_value(json_object_get(b, "watch_id")), de);
  cr_assert_str_eq(json_string_value(json_object_get(json_object_get(b, "lead"), "domain")), "berlin-gmbh.de");
  json_decref(b);
  cr_assert_eq(lpt_server_stop(&s), 0);
  receiver_stop(&r);
}

/* Waits (up to 20 s) until GET /readyz answers 200: the restore is done and ingest is open. */
static void wait_ready(int port) {
  int st = 0;
  for (int i = 0; i < 400 && st != 200; i++) {
    lpt_response rd;
    st = lpt_http(port, "GET", "/readyz", NULL, NULL, 0, &rd) == 0 ? rd.status : 0;
    if (st) lpt_response_free(&rd);
    if (st != 200) usleep(50000);
  }
  cr_assert_eq(st, 200, "ready");
}

/* With Redis the registry rides in the checkpoint's global blob: in embedded mode a 202 means the
 * checkpoint that holds the snippet is written, and that checkpoint was cut after the registration. */
Test(integration_watches, a_watch_survives_kill9_in_the_redis_checkpoint) {
  static const int ok[] = { 200 };
  receiver r;
  receiver_start(&r, ok, 1);
  ft_redis redis = { 0 };
  cr_assert_eq(ft_redis_start(&redis), 0);
  char endpoint[64];
  snprintf(endpoint, sizeof(endpoint), "127.0.0.1:%d", redis.port);
  static char env[5][160];
  snprintf(env[0], sizeof(env[0]), "REDIS_ENDPOINT=%s", endpoint);
  snprintf(env[1], sizeof(env[1]), "LEADPOET_KAFKA_MODE=embedded");
  snprintf(env[2], sizeof(env[2]), "LEADPOET_CHECKPOINT_INTERVAL=50ms");
  snprintf(env[3], sizeof(env[3]), "LEADPOET_KAFKA_PROPERTIES=fetch.wait.max.ms=5");
  snprintf(env[4], sizeof(env[4]), "LEADPOET_WATCH_COALESCE=20ms");
  const char *e[] = { env[0], env[1], env[2], env[3], env[4], NULL };
  lpt_server s;
  cr_assert_eq(lpt_server_start(&s, NULL, e), 0);
  wait_ready(s.port);  /* ingest waits for the restore */
  char id[64];
  snprintf(id, sizeof(id), "%s", watch(s.port, r.port, "kubernetes migration"));
  snippet(s.port, "r1", "redis-first.com", "kubernetes migration in flight");
  cr_assert_eq(wait_hits(&r, 1), 1);
  /* The set changed after the checkpoint that holds r1; the 202 of an unrelated snippet comes after a
   * checkpoint cut later, which holds the set with redis-first.com in it. */
  snippet(s.port, "r0", "gardening-shop.com", "garden hoses and watering cans restocked");
  ft_server_kill(&s);

  cr_assert_eq(lpt_server_start(&s, NULL, e), 0);
  json_t *w = NULL;
  for (int i = 0; i < 400; i++) {  /* the registry arrives with the restore */
    lpt_response g;
    char path[128];
    snprintf(path, sizeof(path), "/v1/watches/%s", id);
    cr_assert_eq(lpt_http(s.port, "GET", path, NULL, NULL, 0, &g), 0);
    int st = g.status;
    if (st == 200) w = json_loads(g.body, 0, NULL);
    lpt_response_free(&g);
    if (st == 200) break;
    usleep(50000);
  }
  cr_assert_not_null(w, "the watch is back after kill -9");
  cr_assert_eq(json_integer_value(json_object_get(w, "leads_in_set")), 1);
  json_decref(w);
  wait_ready(s.port);  /* the registry comes with the global blob, the shards may still be loading */
  snippet(s.port, "r2", "redis-second.com", "kubernetes migration approved");
  cr_assert_eq(wait_hits(&r, 2), 2);
  json_t *b = json_loads(r.hits[1].body, 0, NULL);
  cr_assert_str_eq(json_string_value(json_object_get(json_object_get(b, "lead"), "domain")), "redis-second.com");
  json_decref(b);
  cr_assert_eq(lpt_server_stop(&s), 0);
  ft_redis_kill(&redis);
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", redis.dir);
  cr_assert_eq(system(cmd), 0);
  receiver_stop(&r);
}

/* Checkpoints written so far (the redis block of /v1/status), -1 when unknown. */
static long long checkpoint_writes(int port) {
  json_t *st = ft_get_json(port, "/v1/status");
  json_t *w = json_object_get(json_object_get(st, "redis"), "writes");
  long long n = json_is_integer(w) ? (long long)json_integer_value(w) : -1;
  json_decref(st);
  return n;
}

/* A registration alone, with no event after it, still reaches the next checkpoint (nothing was applied,
 * yet the registry changed): it is there after kill -9. */
Test(integration_watches, a_registration_alone_is_checkpointed) {
  ft_redis redis = { 0 };
  cr_assert_eq(ft_redis_start(&redis), 0);
  static char env[3][160];
  snprintf(env[0], sizeof(env[0]), "REDIS_ENDPOINT=127.0.0.1:%d", redis.port);
  snprintf(env[1], sizeof(env[1]), "LEADPOET_KAFKA_MODE=embedded");
  snprintf(env[2], sizeof(env[2]), "LEADPOET_CHECKPOINT_INTERVAL=50ms");
  const char *e[] = { env[0], env[1], env[2], NULL };
  lpt_server s;
  cr_assert_eq(lpt_server_start(&s, NULL, e), 0);
  wait_ready(s.port);
  long long before = checkpoint_writes(s.port);
  char id[64];
  snprintf(id, sizeof(id), "%s", watch(s.port, 9, "kubernetes migration"));
  long long after = before;
  for (int i = 0; i < 200 && after <= before; i++) {
    usleep(50000);
    after = checkpoint_writes(s.port);
  }
  cr_assert_gt(after, before, "a checkpoint follows the registration (writes %lld -> %lld)", before, after);
  ft_server_kill(&s);

  cr_assert_eq(lpt_server_start(&s, NULL, e), 0);
  wait_ready(s.port);
  json_t *w = get_watch(s.port, id);
  cr_assert_not_null(w, "the watch is back after kill -9");
  json_decref(w);
  cr_assert_eq(lpt_server_stop(&s), 0);
  ft_redis_kill(&redis);
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", redis.dir);
  cr_assert_eq(system(cmd), 0);
}

/* The value of an unlabelled metric in GET /metrics, -1 when absent. */
static long long metric(int port, const char *name) {
  lpt_response m;
  cr_assert_eq(lpt_http(port, "GET", "/metrics", NULL, NULL, 0, &m), 0);
  char key[128];
  snprintf(key, sizeof(key), "\n%s ", name);
  const char *at = strstr(m.body, key);
  long long v = at != NULL ? strtoll(at + strlen(key), NULL, 10) : -1;
  lpt_response_free(&m);
  return v;
}

/* Waits (up to 10 s) until the metric reaches want; returns its last value. */
static long long wait_metric(int port, const char *name, long long want) {
  long long v = metric(port, name);
  for (int i = 0; i < 1000 && v < want; i++) {
    usleep(10000);
    v = metric(port, name);
  }
  return v;
}

/* Incremental evaluation: with forty leads matching the watch, an event scores the one lead it touched
 * (leadpoet_watch_leads_scored_total counts one per watch per touched lead), and the score it fires with
 * is the lead's score in POST /v1/leads. */
Test(integration_watches, only_the_touched_leads_are_scored) {
  static const int ok[] = { 200 };
  receiver r;
  receiver_start(&r, ok, 1);
  lpt_server s;
  start(&s);
  lp_buf b = LP_BUF_INIT;
  lp_buf_puts(&b, "[");
  for (int i = 0; i < 40; i++)
    lp_buf_printf(&b, "%s{\"id\":\"m%d\",\"miner\":\"m1\",\"ts\":%lld,\"lead\":{\"domain\":\"many%02d.com\"},"
                      "\"kind\":\"hiring\",\"text\":\"kubernetes migration team %d hiring\"}",
                  i ? "," : "", i, now_ms() - 3600000, i, i);
  lp_buf_puts(&b, "]");
  json_t *a = call(s.port, "POST", "/v1/snippets", b.data, 202);
  cr_assert_eq(json_integer_value(json_object_get(a, "accepted")), 40);
  json_decref(a);
  lp_buf_free(&b);
  const char *query = "{\"prompt\":\"kubernetes migration\",\"k\":100}";
  for (int i = 0; i < 500; i++) {  /* applied: all forty answer */
    json_t *q = call(s.port, "POST", "/v1/leads", query, 200);
    size_t n = json_array_size(json_object_get(q, "leads"));
    json_decref(q);
    if (n == 40) break;
    usleep(10000);
  }
  char body[512];
  snprintf(body, sizeof(body), "{\"prompt\":\"kubernetes migration\",\"k\":100,\"url\":\"http://127.0.0.1:%d/hook\","
                               "\"secret\":\"%s\"}", r.port, SECRET);
  json_t *w = call(s.port, "POST", "/v1/watches", body, 201);
  cr_assert_eq(json_integer_value(json_object_get(w, "leads_in_set")), 40, "the seed holds the forty");
  json_decref(w);
  cr_assert_eq(metric(s.port, "leadpoet_watch_leads_scored_total"), 0, "the seed query is not counted");

  snippet(s.port, "n1", "newcomer.com", "kubernetes migration hiring now");
  cr_assert_eq(wait_hits(&r, 1), 1);
  cr_assert_eq(wait_metric(s.port, "leadpoet_watch_leads_scored_total", 1), 1, "one lead scored, not forty-one");
  json_t *hook = json_loads(r.hits[0].body, 0, NULL);
  cr_assert_not_null(hook);
  json_t *lead = json_object_get(hook, "lead");
  cr_assert_str_eq(json_string_value(json_object_get(lead, "domain")), "newcomer.com");
  double fired = json_real_value(json_object_get(lead, "score"));
  json_t *q = call(s.port, "POST", "/v1/leads", query, 200);
  double answered = -1;
  size_t i;
  json_t *l;
  json_array_foreach(json_object_get(q, "leads"), i, l) {
    if (strcmp(json_string_value(json_object_get(l, "domain")), "newcomer.com") == 0)
      answered = json_real_value(json_object_get(l, "score"));
  }
  json_decref(q);
  json_decref(hook);
  /* the same scorer; only the clock of recency moved between the two */
  cr_assert(fabs(fired - answered) < 1e-4, "fired with %f, answered %f", fired, answered);

  snippet(s.port, "n2", "many07.com", "more kubernetes migration work");  /* a member: scored, no delivery */
  cr_assert_eq(wait_metric(s.port, "leadpoet_watch_leads_scored_total", 2), 2);
  usleep(200000);
  cr_assert_eq(__atomic_load_n(&r.n, __ATOMIC_SEQ_CST), 1, "a member does not fire again");
  cr_assert_eq(metric(s.port, "leadpoet_watch_leads_scored_total"), 2);
  cr_assert_eq(lpt_server_stop(&s), 0);
  receiver_stop(&r);
}
