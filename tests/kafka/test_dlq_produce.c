/* Dead letters carry their reason and origin in headers and are counted; `leadpoet produce` publishes a
 * JSON Lines file keyed by domain, as JSON or msgpack. */
#include <msgpack.h>
#include <unistd.h>

#include "kafka_fixture.h"

int lp_cmd_produce(int argc, char **argv);

/* A consumer that keeps copies of the first records it sees, with their headers. */
typedef struct kept {
  char key[64], value[512], ctype[64], hdr[8][2][64];
  size_t value_len;
  int nhdr;
  int32_t partition;
} kept;

typedef struct keeper {
  lp_kafka_consumer *c;
  kept recs[16];
  int n;
  lp_kafka_producer *dlq;       /* when set, every record is dead-lettered with code bad_json */
  long dlq_acked;
} keeper;

static void dlq_done(void *ud, int err, const char *reason, int32_t partition, int64_t offset) {
  (void)reason;
  (void)partition;
  (void)offset;
  if (err == 0) ((keeper *)ud)->dlq_acked++;
}

static int keep_record(void *ud, const lp_kafka_record *r) {
  keeper *k = ud;
  if (k->n < 16) {
    kept *x = &k->recs[k->n++];
    memset(x, 0, sizeof(*x));
    snprintf(x->key, sizeof(x->key), "%.*s", (int)r->key_len, (const char *)r->key);
    x->value_len = r->value_len < sizeof(x->value) ? r->value_len : sizeof(x->value);
    memcpy(x->value, r->value, x->value_len);
    if (r->content_type) snprintf(x->ctype, sizeof(x->ctype), "%.*s", (int)r->content_type_len, r->content_type);
    for (size_t i = 0; i < r->nheaders && i < 8; i++) {
      snprintf(x->hdr[i][0], 64, "%s", r->headers[i].name);
      snprintf(x->hdr[i][1], 64, "%.*s", (int)r->headers[i].len, (const char *)r->headers[i].value);
      x->nhdr++;
    }
    x->partition = r->partition;
  }
  if (k->dlq) {
    char err[256];
    cr_assert_eq(lp_kafka_produce_dlq(k->dlq, r, "bad_json", "not a JSON object", dlq_done, k, err, sizeof(err)), 0,
                 "%s", err);
  }
  return 0;
}

static const char *hdr(const kept *x, const char *name) {
  for (int i = 0; i < x->nhdr; i++)
    if (strcmp(x->hdr[i][0], name) == 0) return x->hdr[i][1];
  return NULL;
}

static int want;
static int kept_want(void *a) { return ((keeper *)a)->n >= want; }
static int dlq_want(void *a) { return ((keeper *)a)->dlq_acked >= want; }

static void keeper_open(keeper *k, uv_loop_t *loop, const char *brokers, const char *topic, const char *group) {
  lp_kafka_conf conf = kt_conf(brokers, 1);
  const char *topics[] = { topic };
  conf.topics = topics;
  conf.ntopics = 1;
  conf.group_id = group;
  lp_kafka_handlers h = { keep_record, NULL, NULL, NULL, k };
  char err[512];
  cr_assert_eq(lp_kafka_consumer_new(loop, &conf, &h, &k->c, err, sizeof(err)), 0, "%s", err);
  cr_assert_eq(lp_kafka_consumer_start(k->c, err, sizeof(err)), 0, "%s", err);
}

static void set_closed(void *ud) { *(int *)ud = 1; }
static int is_set(void *a) { return *(int *)a; }

static void keeper_close(keeper *k, uv_loop_t *loop) {
  int done = 0;
  lp_kafka_consumer_close(k->c, set_closed, &done);
  cr_assert(kt_run_until(loop, is_set, &done, 15000));
}

Test(kafka_dlq, dead_letters_carry_reason_and_origin) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  lp_kafka_mock *mock;
  char err[512];
  cr_assert_eq(lp_kafka_mock_new(KT_SHARDS, 1, &mock, err, sizeof(err)), 0, "%s", err);
  const char *bs = lp_kafka_mock_bootstraps(mock);
  kt_prod kp;
  kt_prod_open(&kp, &loop, bs);
  kt_produce_range(&kp, &loop, LP_KAFKA_TOPIC_SNIPPETS, 0, 3);
  static keeper src, dlq;
  memset(&src, 0, sizeof(src));
  memset(&dlq, 0, sizeof(dlq));
  src.dlq = kp.p;
  keeper_open(&src, &loop, bs, LP_KAFKA_TOPIC_SNIPPETS, "kt-src");
  want = 3;
  cr_assert(kt_run_until(&loop, dlq_want, &src, 20000), "dead letters acked %ld", src.dlq_acked);
  cr_assert_eq(lp_kafka_producer_dlq_count(kp.p), 3);
  cr_assert_eq(lp_kafka_producer_dlq_failed(kp.p), 0);
  keeper_open(&dlq, &loop, bs, LP_KAFKA_TOPIC_SNIPPETS LP_KAFKA_DLQ_SUFFIX, "kt-dlq");
  cr_assert(kt_run_until(&loop, kept_want, &dlq, 20000), "dead letters read %d", dlq.n);
  for (int i = 0; i < 3; i++) {
    const kept *x = &dlq.recs[i];
    int n = atoi(x->value + 4);
    const kept *orig = NULL;
    for (int j = 0; j < 3; j++)
      if (strcmp(src.recs[j].value, x->value) == 0) orig = &src.recs[j];
    cr_assert(orig, "dead letter %s is a copy of a consumed record", x->value);
    char key[32], part[16];
    snprintf(key, sizeof(key), "lead%d.com", n);
    snprintf(part, sizeof(part), "%d", n % KT_SHARDS);
    cr_assert_str_eq(x->key, key);
    cr_assert_str_eq(hdr(x, LP_KAFKA_H_ERROR), "bad_json");
    cr_assert_str_eq(hdr(x, LP_KAFKA_H_ERROR_MESSAGE), "not a JSON object");
    cr_assert_str_eq(hdr(x, LP_KAFKA_H_ORIG_TOPIC), LP_KAFKA_TOPIC_SNIPPETS);
    cr_assert_str_eq(hdr(x, LP_KAFKA_H_ORIG_PARTITION), part);
    cr_assert_str_eq(hdr(x, LP_KAFKA_H_ORIG_OFFSET), "0");
    cr_assert_str_eq(x->ctype, "application/json", "the original headers are kept");
  }
  keeper_close(&src, &loop);
  keeper_close(&dlq, &loop);
  kt_prod_close(&kp, &loop);
  cr_assert_eq(uv_loop_close(&loop), 0);
  lp_kafka_mock_free(mock);
}

static char *write_tmp(const char *text) {
  char path[64];
  snprintf(path, sizeof(path), "/tmp/lp-kafka-XXXXXX");
  int fd = mkstemp(path);
  cr_assert(fd >= 0);
  cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  return strdup(path);
}

static int run_produce(const char **args, int n) {
  char *argv[16];
  argv[0] = (char *)"produce";
  for (int i = 0; i < n; i++) argv[i + 1] = (char *)args[i];
  return lp_cmd_produce(n + 1, argv);
}

Test(kafka_produce_cli, publishes_a_file_as_json_and_msgpack) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  lp_kafka_mock *mock;
  char err[512];
  cr_assert_eq(lp_kafka_mock_new(KT_SHARDS, 1, &mock, err, sizeof(err)), 0, "%s", err);
  const char *bs = lp_kafka_mock_bootstraps(mock);
  char *file = write_tmp("{\"id\":\"a\",\"lead\":{\"domain\":\"Acme.com\"},\"ts\":1}\n\n"
                         "  {\"id\":\"b\",\"lead\":{\"domain\":\"beta.io\"},\"ts\":2}  \n");
  const char *json_args[] = { file, "--brokers", bs, "--quiet" };
  cr_assert_eq(run_produce(json_args, 4), 0);
  const char *mp_args[] = { file, "--brokers", bs, "--content-type", "msgpack", "--quiet" };
  cr_assert_eq(run_produce(mp_args, 6), 0);
  char *outcomes = write_tmp("{\"id\":\"o1\",\"domain\":\"acme.com\",\"event\":\"replied\",\"ts\":3}\n");
  const char *out_args[] = { outcomes, "--outcomes", "--brokers", bs, "--quiet" };
  cr_assert_eq(run_produce(out_args, 5), 0);

  static keeper k, ko;
  memset(&k, 0, sizeof(k));
  memset(&ko, 0, sizeof(ko));
  keeper_open(&k, &loop, bs, LP_KAFKA_TOPIC_SNIPPETS, "kt-cli");
  keeper_open(&ko, &loop, bs, LP_KAFKA_TOPIC_OUTCOMES, "kt-cli-o");
  want = 4;
  cr_assert(kt_run_until(&loop, kept_want, &k, 20000), "read %d", k.n);
  want = 1;
  cr_assert(kt_run_until(&loop, kept_want, &ko, 20000), "read %d", ko.n);
  int json = 0, mp = 0;
  for (int i = 0; i < 4; i++) {
    const kept *x = &k.recs[i];
    /* keyed by the canonical domain (the server's partition of it is where librdkafka's murmur2 puts it) */
    cr_assert(strcmp(x->key, "acme.com") == 0 || strcmp(x->key, "beta.io") == 0, "canonical key %s", x->key);
    if (strcmp(x->ctype, "application/json") == 0) {
      json++;
      cr_assert(x->value[0] == '{' && x->value[x->value_len - 1] == '}', "trimmed JSON");
    } else {
      cr_assert_str_eq(x->ctype, "application/msgpack");
      mp++;
      msgpack_unpacked u;
      msgpack_unpacked_init(&u);
      cr_assert_eq(msgpack_unpack_next(&u, x->value, x->value_len, NULL), MSGPACK_UNPACK_SUCCESS);
      cr_assert_eq(u.data.type, MSGPACK_OBJECT_MAP);
      cr_assert_eq(u.data.via.map.size, 3);
      msgpack_unpacked_destroy(&u);
    }
  }
  cr_assert_eq(json, 2);
  cr_assert_eq(mp, 2);
  cr_assert_str_eq(ko.recs[0].key, "acme.com");

  /* Errors: usage (2), a missing file (1), a line that cannot become msgpack (1). */
  const char *none[] = { "--brokers", bs };
  cr_assert_eq(run_produce(none, 2), 2);
  const char *badct[] = { file, "--brokers", bs, "--content-type", "xml" };
  cr_assert_eq(run_produce(badct, 5), 2);
  const char *badopt[] = { file, "--nope" };
  cr_assert_eq(run_produce(badopt, 2), 2);
  unsetenv("KAFKA_BOOTSTRAP_BROKERS");
  const char *nobrokers[] = { file };
  cr_assert_eq(run_produce(nobrokers, 1), 2);
  const char *badprop[] = { file, "--brokers", bs, "-X", "no.such.property=1" };
  cr_assert_eq(run_produce(badprop, 5), 2);
  const char *missing[] = { "/nonexistent/file.jsonl", "--brokers", bs, "--quiet" };
  cr_assert_eq(run_produce(missing, 4), 1);
  char *garbage = write_tmp("not json\n");
  const char *garbage_mp[] = { garbage, "--brokers", bs, "--content-type", "msgpack", "--quiet" };
  cr_assert_eq(run_produce(garbage_mp, 6), 1);
  setenv("KAFKA_BOOTSTRAP_BROKERS", bs, 1);
  const char *garbage_json[] = { garbage, "--quiet" };
  cr_assert_eq(run_produce(garbage_json, 2), 0, "JSON mode sends the line as is: the server dead-letters it");
  unsetenv("KAFKA_BOOTSTRAP_BROKERS");
  unlink(garbage);
  unlink(outcomes);
  unlink(file);
  free(garbage);
  free(outcomes);
  free(file);

  keeper_close(&k, &loop);
  keeper_close(&ko, &loop);
  cr_assert_eq(uv_loop_close(&loop), 0);
  lp_kafka_mock_free(mock);
}
