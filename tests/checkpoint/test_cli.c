/* `leadpoet checkpoint inspect|verify` through the binary. */
#include "checkpoint/redis_fixture.h"

typedef struct run_out {
  int code;
  char *out, *err;
} run_out;

/* Runs the binary with args (a shell-safe string) and collects its exit code, stdout and stderr. */
static run_out run(const char *args) {
  char o[128], e[128], cmd[1024];
  snprintf(o, sizeof(o), "/tmp/lpt-ckpt-%d.out", (int)getpid());
  snprintf(e, sizeof(e), "/tmp/lpt-ckpt-%d.err", (int)getpid());
  snprintf(cmd, sizeof(cmd), "timeout 20 %s %s >%s 2>%s", LP_BINARY_PATH, args, o, e);
  int st = system(cmd);
  run_out r = { WIFEXITED(st) ? WEXITSTATUS(st) : -1, NULL, NULL };
  size_t n;
  r.out = lpt_read_file(o, &n);
  r.err = lpt_read_file(e, &n);
  unlink(o);
  unlink(e);
  cr_assert(r.out != NULL && r.err != NULL);
  return r;
}

static void run_free(run_out *r) {
  free(r->out);
  free(r->err);
}

static void seed(rt_client *c) {
  lp_ckpt_store *st = rt_store(c, 0, 0, NULL);
  int32_t p[] = { 2, 7, LP_CKPT_GLOBAL };
  rt_restore rr;
  cr_assert_eq(rt_restore_run(c, st, p, 3, 4, &rr), 0, "%s", rr.errmsg);
  lp_ckpt_offset o[3][2];
  lp_ckpt_part parts[3] = { rt_part(2, LP_CKPT_FULL, "two", o[0], 20), rt_part(7, LP_CKPT_FULL, "seven", o[1], 70),
                            rt_part(LP_CKPT_GLOBAL, LP_CKPT_FULL, "global", o[2], 0) };
  parts[2].noffsets = 0;
  rt_write w;
  cr_assert_eq(rt_write_run(c, st, parts, 3, 4, &w), 0, "%s", w.res.errmsg);
  parts[1] = rt_part(7, LP_CKPT_DELTA, "seven-more", o[1], 71);
  cr_assert_eq(rt_write_run(c, st, &parts[1], 1, 4, &w), 0, "%s", w.res.errmsg);
  lp_ckpt_store_free(st);
}

Test(cli, inspect_and_verify) {
  rt_redis rs = { 0 };
  cr_assert_eq(rt_redis_start(&rs), 0);
  char args[256];
  snprintf(args, sizeof(args), "checkpoint verify --redis %s", rs.endpoint);
  run_out r = run(args);
  cr_assert_eq(r.code, 0, "empty Redis: nothing to verify");
  cr_assert(strstr(r.out, "no checkpoint under lp:v1:") != NULL, "%s", r.out);
  run_free(&r);

  rt_client c;
  rt_client_open(&c, rs.endpoint, 1);
  seed(&c);
  rt_client_close(&c);

  snprintf(args, sizeof(args), "checkpoint inspect --redis redis://127.0.0.1:%d/0", rs.port);
  r = run(args);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.out, "global slot global: seq") != NULL, "%s", r.out);
  cr_assert(strstr(r.out, "partition 2: seq") != NULL, "%s", r.out);
  cr_assert(strstr(r.out, "epoch 4 fence 4 schema 1") != NULL, "%s", r.out);
  cr_assert(strstr(r.out, "offsets: miner.snippets=71 outcome.events=35") != NULL, "%s", r.out);
  cr_assert(strstr(r.out, "(5 B, xxh3") != NULL && strstr(r.out, " delta:") != NULL, "%s", r.out);
  cr_assert(strstr(r.out, "total: 2 blobs, 15 bytes") != NULL, "%s", r.out);
  cr_assert(strstr(r.out, "age ") != NULL);
  cr_assert(strstr(r.out, "partition 2") < strstr(r.out, "partition 7"), "sorted");
  run_free(&r);

  snprintf(args, sizeof(args), "checkpoint inspect --redis %s --partition 9", rs.endpoint);
  r = run(args);
  cr_assert_eq(r.code, 0, "inspect only tells");
  cr_assert(strstr(r.out, "partition 9: no checkpoint") != NULL, "%s", r.out);
  run_free(&r);
  snprintf(args, sizeof(args), "checkpoint verify --redis %s --partition 9", rs.endpoint);
  r = run(args);
  cr_assert_eq(r.code, 1, "verify of an asked-for partition without a checkpoint");
  cr_assert(strstr(r.err, "partition 9: no checkpoint") != NULL, "%s", r.err);
  run_free(&r);

  snprintf(args, sizeof(args), "checkpoint verify --redis %s", rs.endpoint);
  r = run(args);
  cr_assert_eq(r.code, 0, "%s", r.err);
  cr_assert(strstr(r.out, "ok partition 7: seq") != NULL && strstr(r.out, "2 blobs verified") != NULL, "%s", r.out);
  cr_assert(strstr(r.out, "ok: 2 partitions and the global slot checked") != NULL, "%s", r.out);
  run_free(&r);

  /* a truncated delta: verify fails and names the key */
  redisContext *s = rt_sync(&rs);
  redisReply *k = redisCommand(s, "KEYS lp:v1:{p7}:delta:*");
  cr_assert_eq(k->elements, 1);
  char key[128];
  snprintf(key, sizeof(key), "%s", k->element[0]->str);
  freeReplyObject(k);
  freeReplyObject(redisCommand(s, "SET %s seven", key));
  redisFree(s);
  snprintf(args, sizeof(args), "checkpoint verify --redis %s", rs.endpoint);
  r = run(args);
  cr_assert_eq(r.code, 1);
  cr_assert(strstr(r.err, key) != NULL && strstr(r.err, "truncated") != NULL, "%s", r.err);
  cr_assert(strstr(r.out, "FAILED") != NULL, "%s", r.out);
  run_free(&r);
  snprintf(args, sizeof(args), "checkpoint verify --redis %s --partition 2", rs.endpoint);
  r = run(args);
  cr_assert_eq(r.code, 0, "partition 2 alone is fine: %s", r.err);
  run_free(&r);
  rt_redis_stop(&rs, SIGTERM);
}

Test(cli, usage_and_unreachable_redis) {
  run_out r = run("checkpoint");
  cr_assert_eq(r.code, 2);
  run_free(&r);
  r = run("checkpoint frobnicate");
  cr_assert_eq(r.code, 2);
  run_free(&r);
  r = run("checkpoint inspect --partition x");
  cr_assert_eq(r.code, 2);
  run_free(&r);
  r = run("checkpoint inspect --redis");
  cr_assert_eq(r.code, 2);
  run_free(&r);
  r = run("checkpoint verify --redis redis://h:1/zz");
  cr_assert_eq(r.code, 2);
  cr_assert(strstr(r.err, "db") != NULL, "%s", r.err);
  run_free(&r);
  r = run("checkpoint --help");
  cr_assert_eq(r.code, 0);
  cr_assert(strstr(r.out, "usage: leadpoet checkpoint inspect") != NULL);
  run_free(&r);
  r = run("--help");
  cr_assert(strstr(r.out, "checkpoint") != NULL, "listed in the commands");
  run_free(&r);
  char args[128];
  snprintf(args, sizeof(args), "checkpoint verify --timeout 300 --redis 127.0.0.1:%d", lpt_free_port());
  r = run(args);
  cr_assert_eq(r.code, 1, "nothing listens there");
  cr_assert(strstr(r.err, "leadpoet checkpoint: redis 127.0.0.1:") != NULL, "%s", r.err);
  run_free(&r);
}
