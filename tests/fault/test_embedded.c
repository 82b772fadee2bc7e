/*
 * A 202 means durable (contract §5) in embedded mode: the log dies with the process, so an ingest request
 * is answered after the checkpoint that holds it. The server is SIGKILLed while a client posts; after each
 * restart every snippet that got a 202 is there, exactly once; and a checkpoint that cannot be read (a
 * truncated blob) stops the start with a clear message instead of starting empty.
 */
#include <hiredis/hiredis.h>

#include "fault/fault.h"

static int start_embedded(lpt_server *s, const char *redis) {
  static char env[6][160];
  snprintf(env[0], sizeof(env[0]), "REDIS_ENDPOINT=%.100s", redis);
  snprintf(env[1], sizeof(env[1]), "LEADPOET_KAFKA_MODE=embedded");
  snprintf(env[2], sizeof(env[2]), "LEADPOET_SERVER_SHARDS=%d", FT_SHARDS);
  snprintf(env[3], sizeof(env[3]), "LEADPOET_CHECKPOINT_INTERVAL=50ms");
  snprintf(env[4], sizeof(env[4]), "LEADPOET_SERVER_WORKERS=2");
  /* The mock broker answers a fetch at its wait bound: keep it short so a request is not held by it. */
  snprintf(env[5], sizeof(env[5]), "LEADPOET_KAFKA_PROPERTIES=fetch.wait.max.ms=5");
  const char *e[] = { env[0], env[1], env[2], env[3], env[4], env[5], NULL };
  return lpt_server_start(s, NULL, e);
}

static int wait_ready(int port, int ms) {
  long long end = ft_now_ms() + ms;
  while (ft_now_ms() < end) {
    lpt_response r;
    if (lpt_http(port, "GET", "/readyz", NULL, NULL, 0, &r) == 0) {
      int st = r.status;
      lpt_response_free(&r);
      if (st == 200) return 0;
    }
    ft_sleep_ms(50);
  }
  return -1;
}

static long lead_snippets(int port, int req, int i) {
  char path[128];
  snprintf(path, sizeof(path), "/v1/leads/acked%d-%d-corp.com", req, i);
  json_t *l = ft_get_json(port, path);
  long n = l ? (long)json_integer_value(json_object_get(l, "snippets")) : 0;
  json_decref(l);
  return n;
}

#define ROUNDS 3
#define PER_REQ 4
#define MAX_REQ 4000

Test(fault, embedded_202_survives_kill9_exactly_once, .timeout = 200) {
  ft_redis r = { 0 };
  cr_assert_eq(ft_redis_start(&r), 0);
  char redis[96];
  snprintf(redis, sizeof(redis), "127.0.0.1:%d", r.port);
  static unsigned char acked[MAX_REQ];
  memset(acked, 0, sizeof(acked));
  unsigned seed = (unsigned)time(NULL);
  int req = 0;
  for (int round = 0; round < ROUNDS; round++) {
    lpt_server s;
    cr_assert_eq(start_embedded(&s, redis), 0);
    cr_assert_eq(wait_ready(s.port, 30000), 0, "ready after restart (log %s)", s.log_path);
    /* The killer: a child that SIGKILLs the server at a random moment while we post. */
    int delay = 800 + (int)(rand_r(&seed) % 2000);
    pid_t killer = fork();
    if (killer == 0) {
      ft_sleep_ms(delay);
      kill(s.pid, SIGKILL);
      _exit(0);
    }
    for (; req < MAX_REQ; req++) {
      char body[2048];
      size_t n = (size_t)snprintf(body, sizeof(body), "[");
      for (int i = 0; i < PER_REQ; i++)
        n += (size_t)snprintf(body + n, sizeof(body) - n,
                              "%s{\"id\":\"e%d-%d\",\"miner\":\"poster\",\"ts\":%lld,\"lead\":{\"domain\":\"acked%d-%d-corp.com\"},"
                              "\"kind\":\"news\",\"text\":\"announcement %d of batch %d\"}",
                              i ? "," : "", req, i, FT_TS0 + req, req, i, i, req);
      n += (size_t)snprintf(body + n, sizeof(body) - n, "]");
      lpt_response resp;
      if (lpt_http(s.port, "POST", "/v1/snippets", "application/json", body, n, &resp) != 0) break;  /* killed */
      if (resp.status == 202) acked[req] = 1;
      lpt_response_free(&resp);
    }
    waitpid(killer, NULL, 0);
    waitpid(s.pid, NULL, 0);
    req++;
  }
  lpt_server s;
  cr_assert_eq(start_embedded(&s, redis), 0);
  cr_assert_eq(wait_ready(s.port, 30000), 0);
  int n_acked = 0;
  for (int q = 0; q < req && q < MAX_REQ; q++) {
    for (int i = 0; i < PER_REQ; i++) {
      long n = lead_snippets(s.port, q, i);
      cr_expect(n <= 1, "request %d item %d applied %ld times", q, i, n);
      if (acked[q]) cr_expect_eq(n, 1, "request %d got a 202 but item %d is not there after kill -9", q, i);
    }
    n_acked += acked[q];
  }
  cr_expect_gt(n_acked, 0, "some requests were acknowledged");
  cr_log_info("requests %d, acknowledged %d", req, n_acked);
  cr_assert_eq(lpt_server_stop(&s), 0);

  /* A truncated blob: the start is refused, naming it. */
  redisContext *c = redisConnect("127.0.0.1", r.port);
  cr_assert(c != NULL && c->err == 0);
  redisReply *keys = redisCommand(c, "KEYS lp:v1:{p*}:full:*");
  cr_assert(keys && keys->type == REDIS_REPLY_ARRAY && keys->elements > 0);
  redisReply *v = redisCommand(c, "GET %s", keys->element[0]->str);
  cr_assert(v && v->type == REDIS_REPLY_STRING && v->len > 4);
  redisReply *set = redisCommand(c, "SET %s %b", keys->element[0]->str, v->str, v->len / 2);
  freeReplyObject(set);
  freeReplyObject(v);
  freeReplyObject(keys);
  redisFree(c);
  /* Started by hand, not by lpt_server_start: the server may exit before it answers /healthz even once,
   * which that helper takes for a taken port (it retries, then fails). */
  snprintf(s.log_path, sizeof(s.log_path), "/tmp/lpt-truncated-%d.log", (int)getpid());
  char listen[32];
  snprintf(listen, sizeof(listen), "127.0.0.1:%d", lpt_free_port());
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    static char env[3][160];
    snprintf(env[0], sizeof(env[0]), "REDIS_ENDPOINT=%.100s", redis);
    snprintf(env[1], sizeof(env[1]), "LEADPOET_KAFKA_MODE=embedded");
    snprintf(env[2], sizeof(env[2]), "LEADPOET_SERVER_SHARDS=%d", FT_SHARDS);
    for (int i = 0; i < 3; i++) putenv(env[i]);
    FILE *lf = freopen(s.log_path, "w", stderr);
    (void)lf;
    execl(LP_BINARY_PATH, LP_BINARY_PATH, "serve", "--listen", listen, (char *)NULL);
    _exit(127);
  }
  long long end = ft_now_ms() + 20000;
  int status = -1;
  while (ft_now_ms() < end) {
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
      break;
    }
    ft_sleep_ms(50);
  }
  if (status == -1) kill(pid, SIGKILL), waitpid(pid, NULL, 0);
  cr_assert_eq(status, 1, "a truncated checkpoint stops the start with exit 1");
  char *log = lpt_read_file(s.log_path, NULL);
  cr_assert(log && strstr(log, "truncated") != NULL, "the log says the blob is truncated (%s)", s.log_path);
  free(log);
  ft_redis_kill(&r);
}
