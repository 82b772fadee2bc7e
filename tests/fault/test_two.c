/*
 * Scale-out under kill -9 (issue 7, point 6; docs/adr/0015-scale-out.md): two instances in one consumer
 * group share the partitions of a known stream, each checkpointing to the same Redis under its own global
 * slot (checkpoint.global_name). The second joins while the first consumes (a rebalance that revokes
 * partitions with state), then it is SIGKILLed mid-stream: the survivor is assigned its partitions,
 * restores them from their checkpoints before applying any of their records, and consumes the rest.
 *
 * The state at the end equals one clean run's: every lead (all on the survivor now) exactly; every miner's
 * counts are the survivor's plus those in the dead instance's last checkpoint (its global slot, committed
 * in the same atomic write as its partitions' offsets, which is where the survivor resumed them).
 */
#include <msgpack.h>

#include "checkpoint/checkpoint.h"
#include "fault/fault.h"

#define NSNIPPETS (FT_SANITIZED ? 3000 : 8000)

static int start_instance(lpt_server *s, const char *bootstrap, const char *redis, const char *group,
                          const char *global) {
  static char env[9][256];
  snprintf(env[0], sizeof(env[0]), "KAFKA_BOOTSTRAP_BROKERS=%.200s", bootstrap);
  snprintf(env[1], sizeof(env[1]), "REDIS_ENDPOINT=%.200s", redis);
  snprintf(env[2], sizeof(env[2]), "LEADPOET_KAFKA_GROUP_ID=%.200s", group);
  snprintf(env[3], sizeof(env[3]), "LEADPOET_SERVER_SHARDS=%d", FT_SHARDS);
  snprintf(env[4], sizeof(env[4]), "LEADPOET_SERVER_WORKERS=2");
  snprintf(env[5], sizeof(env[5]), "LEADPOET_CHECKPOINT_INTERVAL=100ms");
  snprintf(env[6], sizeof(env[6]), "LEADPOET_CHECKPOINT_GLOBAL_NAME=%.200s", global);
  /* A member killed with SIGKILL leaves the group when its session times out: 6 s instead of librdkafka's
   * 45 s keeps the takeover (and the test) short. */
  snprintf(env[7], sizeof(env[7]), "LEADPOET_KAFKA_PROPERTIES=session.timeout.ms=6000;heartbeat.interval.ms=500");
  const char *e[] = { env[0], env[1], env[2], env[3], env[4], env[5], env[6], env[7], NULL };
  return lpt_server_start(s, NULL, e);
}

/* The miner rows of an instance's last committed global slot: {miner: [accepted, throttled, rejected]}. */
static json_t *stored_miners(int redis_port, int db, const char *global) {
  struct timeval tv = { 2, 0 };
  redisContext *c = redisConnectWithTimeout("127.0.0.1", redis_port, tv);
  cr_assert(c != NULL && !c->err, "connect to redis");
  redisReply *r = redisCommand(c, "SELECT %d", db);
  cr_assert(r != NULL && r->type != REDIS_REPLY_ERROR);
  freeReplyObject(r);
  lp_ckpt_state st;
  char err[256] = "";
  cr_assert_eq(lp_ckpt_read_sync(c, LP_CKPT_GLOBAL, global, NULL, &st, err, sizeof(err)), 0, "%s", err);
  json_t *out = json_object();
  if (st.found) {
    cr_assert_eq(st.nblobs, 1);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    cr_assert_eq(msgpack_unpack_next(&u, st.blobs[0], st.lens[0], NULL), MSGPACK_UNPACK_SUCCESS);
    cr_assert(u.data.type == MSGPACK_OBJECT_ARRAY && u.data.via.array.size >= 4);  /* [magic, v, stages, miners, ...] */
    msgpack_object rows = u.data.via.array.ptr[3];
    for (uint32_t i = 0; i < rows.via.array.size; i++) {
      msgpack_object *row = rows.via.array.ptr[i].via.array.ptr;
      char name[80];
      snprintf(name, sizeof(name), "%.*s", (int)row[0].via.str.size, row[0].via.str.ptr);
      json_object_set_new(out, name, json_pack("[III]", (json_int_t)row[1].via.u64, (json_int_t)row[2].via.u64,
                                               (json_int_t)row[3].via.u64));
    }
    msgpack_unpacked_destroy(&u);
  }
  lp_ckpt_state_free(&st);
  redisFree(c);
  return out;
}

/* Adds the stored counts of the dead instance to the survivor's state (a string from ft_state). */
static char *merge_state(const char *survivor, json_t *stored) {
  json_t *all = json_loads(survivor, 0, NULL), *miners = json_object_get(all, "miners");
  cr_assert(all != NULL);
  const char *name;
  json_t *row;
  static const char *const keys[] = { "accepted", "throttled", "rejected" };
  json_object_foreach(stored, name, row) {
    json_t *m = json_object_get(miners, name);
    cr_assert(m != NULL, "miner %s is in the dead instance's checkpoint only", name);
    for (int k = 0; k < 3; k++) {
      json_int_t v = json_integer_value(json_object_get(m, keys[k])) + json_integer_value(json_array_get(row, (size_t)k));
      json_object_set_new(m, keys[k], json_integer(v));
    }
  }
  char *s = json_dumps(all, JSON_SORT_KEYS | JSON_COMPACT);
  json_decref(all);
  return s;
}

static long counted_sum(int redis_port, int db, const char *dead_global, int survivor_port) {
  long n = ft_counted(survivor_port, NULL);
  if (n < 0) return -1;
  json_t *st = stored_miners(redis_port, db, dead_global);
  const char *name;
  json_t *row;
  json_object_foreach(st, name, row) for (size_t k = 0; k < 3; k++) n += (long)json_integer_value(json_array_get(row, k));
  json_decref(st);
  return n;
}

static int ready(int port) {
  lpt_response r;
  if (lpt_http(port, "GET", "/readyz", NULL, NULL, 0, &r) != 0) return 0;
  int ok = r.status == 200;
  lpt_response_free(&r);
  return ok;
}

/* Splits src into its first `first` lines (a) and the rest (b). */
static void split_file(const char *src, long first, const char *a, const char *b) {
  FILE *in = fopen(src, "r"), *fa = fopen(a, "w"), *fb = fopen(b, "w");
  cr_assert(in && fa && fb);
  char line[2048];
  for (long i = 0; fgets(line, sizeof(line), in) != NULL; i++) fputs(line, i < first ? fa : fb);
  fclose(in), fclose(fa), fclose(fb);
}

Test(fault, two_instances_one_killed, .timeout = 180) {
  ft_redis r = { 0 };
  ft_kafka k = { 0 };
  cr_assert_eq(ft_redis_start(&r), 0);
  cr_assert_eq(ft_kafka_start(&k), 0);
  char snip[200], half1[200], half2[200];
  snprintf(snip, sizeof(snip), "%s/snippets.jsonl", r.dir);
  snprintf(half1, sizeof(half1), "%s/half1.jsonl", r.dir);
  snprintf(half2, sizeof(half2), "%s/half2.jsonl", r.dir);
  cr_assert_eq(ft_write_snippets(snip, NSNIPPETS), 0);
  split_file(snip, NSNIPPETS / 2, half1, half2);
  char clean_ep[96], two_ep[96], group[64];
  snprintf(clean_ep, sizeof(clean_ep), "redis://127.0.0.1:%d/1", r.port);
  snprintf(two_ep, sizeof(two_ep), "redis://127.0.0.1:%d/2", r.port);
  unsigned seed = (unsigned)time(NULL);
  cr_log_info("seed %u", seed);

  /* Two instances in one group. A consumes the first half alone; B joins (A's revoked partitions are
   * written once more, or fenced by B's claim, and B restores them before applying any of their records);
   * the second half is produced and B is killed mid-stream. */
  cr_assert_eq(ft_produce(k.bootstrap, half1, 0), 0, "produce the first half");
  lpt_server a, b;
  snprintf(group, sizeof(group), "two-%d", (int)getpid());
  cr_assert_eq(start_instance(&a, k.bootstrap, two_ep, group, "inst-a"), 0);
  long n = ft_wait_counted(a.port, NSNIPPETS / 2, -1, 60000);
  cr_assert_eq(n, NSNIPPETS / 2, "A alone: %ld of %d (log %s)", n, NSNIPPETS / 2, a.log_path);
  cr_assert_eq(start_instance(&b, k.bootstrap, two_ep, group, "inst-b"), 0);
  for (int i = 0; i < 400 && !ready(b.port); i++) ft_sleep_ms(50);
  cr_assert(ready(b.port), "B joined and restored its partitions (log %s)", b.log_path);
  cr_assert_eq(ft_produce(k.bootstrap, half2, 0), 0, "produce the second half");
  long want = NSNIPPETS / 2 + NSNIPPETS / 2 * (5 + (long)(rand_r(&seed) % 35)) / 100, got = 0;
  long long end = ft_now_ms() + 60000;
  while (ft_now_ms() < end) {
    long x = ft_counted(a.port, NULL), y = ft_counted(b.port, NULL);
    if (x >= 0 && y >= 0 && (got = x + y) >= want) break;
    ft_sleep_ms(5);
  }
  cr_log_info("B killed with %ld of %d records counted by the two", got, NSNIPPETS);
  ft_server_kill(&b);

  /* The survivor takes B's partitions over from their checkpoints. */
  end = ft_now_ms() + 90000;
  long sum = -1;
  while (ft_now_ms() < end && (sum = counted_sum(r.port, 2, "inst-b", a.port)) != NSNIPPETS) {
    if (sum > NSNIPPETS) break;  /* counted twice: no wait makes it right */
    ft_sleep_ms(100);
  }
  cr_assert_eq(sum, NSNIPPETS, "survivor + the dead one's checkpoint counted %ld of %d (log %s)", sum, NSNIPPETS,
               a.log_path);
  for (int i = 0; i < 100 && !ready(a.port); i++) ft_sleep_ms(50);
  cr_assert(ready(a.port), "the survivor is ready (log %s)", a.log_path);
  size_t loglen = 0;
  char *log = lpt_read_file(a.log_path, &loglen);
  cr_expect(log != NULL && strstr(log, "assigned partitions restored from the checkpoint") != NULL,
            "the survivor restored the partitions it was assigned (log %s)", a.log_path);
  free(log);
  json_t *stored = stored_miners(r.port, 2, "inst-b");
  char *raw = ft_state(a.port), *merged = merge_state(raw, stored);
  json_decref(stored);
  cr_assert_eq(lpt_server_stop(&a), 0, "survivor's clean stop (log %s)", a.log_path);

  /* One clean run over the same log. */
  lpt_server c;
  snprintf(group, sizeof(group), "clean-%d", (int)getpid());
  cr_assert_eq(start_instance(&c, k.bootstrap, clean_ep, group, "clean"), 0);
  n = ft_wait_counted(c.port, NSNIPPETS, -1, 60000);
  cr_assert_eq(n, NSNIPPETS, "clean: %ld records counted of %d (log %s)", n, NSNIPPETS, c.log_path);
  char *clean = ft_state(c.port);
  cr_assert_eq(lpt_server_stop(&c), 0, "clean stop (log %s)", c.log_path);
  cr_expect(ft_same_state(merged, clean, "two instances, one killed"), "state differs (log %s)", a.log_path);
  free(clean), free(raw), free(merged);
  ft_kafka_stop(&k);
  ft_redis_kill(&r);
}
