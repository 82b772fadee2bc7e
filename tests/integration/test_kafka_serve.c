/*
 * test_kafka_serve.c: `leadpoet serve` in embedded Kafka mode, fed through the log: valid records are applied
 * exactly once, every bad one ends in miner.snippets.dlq with its reason in leadpoet-error, a record on the
 * wrong partition is repartitioned and applied once, and HTTP ingest goes through the log.
 */
#include <msgpack.h>

#include "kafka_serve.h"
#include "worker/worker.h"

#define N_GOOD 200

static const char *const env_embedded[] = {
  "LEADPOET_SERVER_SHARDS=8", "LEADPOET_SERVER_WORKERS=2", "LEADPOET_KAFKA_MODE=embedded", KS_PROPS, NULL,
};

static void good_snippet(char *out, size_t cap, int i, long long ts) {
  snprintf(out, cap,
           "{\"id\":\"k%d\",\"miner\":\"miner-%d\",\"ts\":%lld,\"lead\":{\"domain\":\"kco%d.com\",\"name\":\"K %d\"},"
           "\"kind\":\"hiring\",\"text\":\"kco%d is hiring a data engineer number %d\"}",
           i, i % 5, ts - i, i, i, i, i);
}

/* Packs a JSON text to msgpack (the producer side of a msgpack record). */
static void to_msgpack(const char *json, msgpack_sbuffer *sb);

static void pack(msgpack_packer *pk, const json_t *j) {
  switch (json_typeof(j)) {
  case JSON_OBJECT: {
    msgpack_pack_map(pk, json_object_size(j));
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)j, k, v) {
      msgpack_pack_str(pk, strlen(k));
      msgpack_pack_str_body(pk, k, strlen(k));
      pack(pk, v);
    }
    break;
  }
  case JSON_STRING:
    msgpack_pack_str(pk, json_string_length(j));
    msgpack_pack_str_body(pk, json_string_value(j), json_string_length(j));
    break;
  case JSON_INTEGER: msgpack_pack_int64(pk, json_integer_value(j)); break;
  default: msgpack_pack_nil(pk); break;
  }
}

static void to_msgpack(const char *json, msgpack_sbuffer *sb) {
  json_t *j = json_loads(json, 0, NULL);
  cr_assert_not_null(j);
  msgpack_packer pk;
  msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
  pack(&pk, j);
  json_decref(j);
}

typedef struct bad {
  const char *key;       /* unique: how the test finds it in the DLQ */
  const char *code;      /* expected leadpoet-error */
  int seen;
} bad;

static int32_t part_of(const char *domain) { return (int32_t)lp_partition_of(domain, strlen(domain), KS_SHARDS); }

Test(kafka_serve, records_applied_once_bad_ones_dead_lettered, .timeout = 180) {
  lpt_server s;
  cr_assert_eq(lpt_server_start(&s, NULL, env_embedded), 0, "server starts");
  char boot[256] = "", mode[32] = "";
  ks_status(s.port, boot, sizeof(boot), mode, sizeof(mode));
  cr_assert_str_eq(mode, "embedded");
  cr_assert(strncmp(boot, "127.0.0.1:", 10) == 0, "bootstrap %s", boot);
  rd_kafka_t *rk = ks_producer(boot);
  long long ts = ks_now_ms();
  char buf[1024];

  /* N_GOOD valid snippets on their partitions (Kafka's default partitioner), half of them msgpack. */
  for (int i = 0; i < N_GOOD; i++) {
    good_snippet(buf, sizeof(buf), i, ts);
    char domain[32];
    snprintf(domain, sizeof(domain), "kco%d.com", i);
    if (i % 2) {
      msgpack_sbuffer sb;
      msgpack_sbuffer_init(&sb);
      to_msgpack(buf, &sb);
      ks_produce(rk, "miner.snippets", part_of(domain), domain, sb.data, sb.size, "application/msgpack");
      msgpack_sbuffer_destroy(&sb);
    } else {
      ks_produce(rk, "miner.snippets", part_of(domain), domain, buf, strlen(buf), i % 4 ? "application/json" : NULL);
    }
  }

  /* The bad ones, each keyed by its own name. */
  bad bads[] = {
    { "garbage-msgpack", "bad_json", 0 }, { "truncated-msgpack", "bad_json", 0 }, { "wrong-shape", "bad_field", 0 },
    { "wrong-type", "bad_field", 0 },     { "non-utf8", "bad_json", 0 },          { "non-utf8-msgpack", "bad_field", 0 },         { "text-too-long", "bad_field", 0 },
    { "one-megabyte", "bad_field", 0 },   { "future-ts", "future_ts", 0 },        { "invalid-domain", "bad_field", 0 },
    { "b2c-domain", "b2c_domain", 0 },    { "pii", "pii", 0 },                    { "unknown-kind", "bad_field", 0 },
    { "missing-field", "bad_field", 0 },  { "not-json", "bad_json", 0 },          { "unsupported-type", "bad_json", 0 },
    { "replayed", "duplicate", 0 },       { "ts-before-2000", "bad_field", 0 },   { "pii-in-role", "pii", 0 },
    { "lead-not-object", "bad_field", 0 }, { "empty-msgpack-map", "bad_field", 0 }, { "msgpack-array", "bad_field", 0 },
  };
  size_t n_bad = sizeof(bads) / sizeof(bads[0]);
  ks_produce(rk, "miner.snippets", 0, "garbage-msgpack", "\xc1\xc1\xc1\xc1", 4, "application/msgpack");
  {
    good_snippet(buf, sizeof(buf), 9999, ts);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    to_msgpack(buf, &sb);
    ks_produce(rk, "miner.snippets", 1, "truncated-msgpack", sb.data, sb.size / 2, "application/msgpack");
    msgpack_sbuffer_destroy(&sb);
  }
  ks_produce(rk, "miner.snippets", 2, "wrong-shape", "[1,2,3]", 7, NULL);
  snprintf(buf, sizeof(buf), "{\"id\":\"b1\",\"miner\":\"m\",\"ts\":\"%lld\",\"lead\":{\"domain\":\"acme.com\"},\"kind\":\"web\",\"text\":\"t\"}", ts);
  ks_produce(rk, "miner.snippets", 3, "wrong-type", buf, strlen(buf), NULL);
  snprintf(buf, sizeof(buf), "{\"id\":\"b2\",\"miner\":\"m\",\"ts\":%lld,\"lead\":{\"domain\":\"acme.com\"},\"kind\":\"web\",\"text\":\"caf\xe9\"}", ts);
  ks_produce(rk, "miner.snippets", 4, "non-utf8", buf, strlen(buf), NULL);  /* not JSON text at all */
  {
    /* The same in msgpack, where the bytes are a valid str whose content is not UTF-8. */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    const char *kv[][2] = { { "id", "b2m" }, { "miner", "m" }, { "kind", "web" }, { "text", "caf\xe9" } };
    msgpack_pack_map(&pk, 6);
    for (int i = 0; i < 4; i++) {
      msgpack_pack_str(&pk, strlen(kv[i][0]));
      msgpack_pack_str_body(&pk, kv[i][0], strlen(kv[i][0]));
      msgpack_pack_str(&pk, strlen(kv[i][1]));
      msgpack_pack_str_body(&pk, kv[i][1], strlen(kv[i][1]));
    }
    msgpack_pack_str(&pk, 2);
    msgpack_pack_str_body(&pk, "ts", 2);
    msgpack_pack_int64(&pk, ts);
    msgpack_pack_str(&pk, 4);
    msgpack_pack_str_body(&pk, "lead", 4);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str(&pk, 6);
    msgpack_pack_str_body(&pk, "domain", 6);
    msgpack_pack_str(&pk, 8);
    msgpack_pack_str_body(&pk, "acme.com", 8);
    ks_produce(rk, "miner.snippets", 4, "non-utf8-msgpack", sb.data, sb.size, "application/msgpack");
    msgpack_sbuffer_destroy(&sb);
  }
  {
    size_t big = 5000, cap = big + 256;
    char *t = malloc(cap);
    int n = snprintf(t, cap, "{\"id\":\"b3\",\"miner\":\"m\",\"ts\":%lld,\"lead\":{\"domain\":\"acme.com\"},\"kind\":\"web\",\"text\":\"", ts);
    memset(t + n, 'a', big);
    snprintf(t + n + big, cap - (size_t)n - big, "\"}");
    ks_produce(rk, "miner.snippets", 5, "text-too-long", t, strlen(t), NULL);
    free(t);
    size_t mb = 1024 * 1024;
    t = malloc(mb + 256);
    n = snprintf(t, mb + 256, "{\"id\":\"b4\",\"miner\":\"m\",\"ts\":%lld,\"lead\":{\"domain\":\"acme.com\"},\"kind\":\"web\",\"text\":\"", ts);
    memset(t + n, 'b', mb - (size_t)n - 2);
    snprintf(t + mb - 2, 256, "\"}");
    ks_produce(rk, "miner.snippets", 6, "one-megabyte", t, strlen(t), NULL);
    free(t);
  }
  snprintf(buf, sizeof(buf), "{\"id\":\"b5\",\"miner\":\"m\",\"ts\":%lld,\"lead\":{\"domain\":\"acme.com\"},\"kind\":\"web\",\"text\":\"t\"}", ts + 86400000LL * 365);
  ks_produce(rk, "miner.snippets", 7, "future-ts", buf, strlen(buf), NULL);
  snprintf(buf, sizeof(buf), "{\"id\":\"b6\",\"miner\":\"m\",\"ts\":%lld,\"lead\":{\"domain\":\"not a domain\"},\"kind\":\"web\",\"text\":\"t\"}", ts);
  ks_produce(rk, "miner.snippets", 0, "invalid-domain", buf, strlen(buf), NULL);
  snprintf(buf, sizeof(buf), "{\"id\":\"b7\",\"miner\":\"m\",\"ts\":%lld,\"lead\":{\"domain\":\"gmail.com\"},\"kind\":\"web\",\"text\":\"t\"}", ts);
  ks_produce(rk, "miner.snippets", part_of("gmail.com"), "b2c-domain", buf, strlen(buf), NULL);
  snprintf(buf, sizeof(buf), "{\"id\":\"b8\",\"miner\":\"m\",\"ts\":%lld,\"lead\":{\"domain\":\"acme.com\"},\"kind\":\"web\",\"text\":\"mail john.smith@acme.com\"}", ts);
  ks_produce(rk, "miner.snippets", part_of("acme.com"), "pii", buf, strlen(buf), NULL);
  snprintf(buf, sizeof(buf), "{\"id\":\"b9\",\"miner\":\"m\",\"ts\":%lld,\"lead\":{\"domain\":\"acme.com\"},\"kind\":\"gossip\",\"text\":\"t\"}", ts);
  ks_produce(rk, "miner.snippets", part_of("acme.com"), "unknown-kind", buf, strlen(buf), NULL);
  snprintf(buf, sizeof(buf), "{\"id\":\"b10\",\"ts\":%lld,\"lead\":{\"domain\":\"acme.com\"},\"kind\":\"web\",\"text\":\"t\"}", ts);
  ks_produce(rk, "miner.snippets", part_of("acme.com"), "missing-field", buf, strlen(buf), NULL);
  /* 1999-12-31T23:59:59.999Z: before 2000, a unit mistake or garbage (decode.c check_ts). */
  snprintf(buf, sizeof(buf), "{\"id\":\"b11\",\"miner\":\"m\",\"ts\":946684799999,\"lead\":{\"domain\":\"acme.com\"},\"kind\":\"web\",\"text\":\"t\"}");
  ks_produce(rk, "miner.snippets", part_of("acme.com"), "ts-before-2000", buf, strlen(buf), NULL);
  snprintf(buf, sizeof(buf), "{\"id\":\"b12\",\"miner\":\"m\",\"ts\":%lld,\"lead\":{\"domain\":\"acme.com\",\"role\":\"jane.doe@acme.com\"},\"kind\":\"web\",\"text\":\"t\"}", ts);
  ks_produce(rk, "miner.snippets", part_of("acme.com"), "pii-in-role", buf, strlen(buf), NULL);
  snprintf(buf, sizeof(buf), "{\"id\":\"b13\",\"miner\":\"m\",\"ts\":%lld,\"lead\":\"acme.com\",\"kind\":\"web\",\"text\":\"t\"}", ts);
  ks_produce(rk, "miner.snippets", 3, "lead-not-object", buf, strlen(buf), NULL);
  ks_produce(rk, "miner.snippets", 4, "empty-msgpack-map", "\x80", 1, "application/msgpack");
  ks_produce(rk, "miner.snippets", 5, "msgpack-array", "\x92\x01\x02", 3, "application/msgpack");
  ks_produce(rk, "miner.snippets", 1, "not-json", "{oops", 5, NULL);
  ks_produce(rk, "miner.snippets", 2, "unsupported-type", "<x/>", 4, "application/xml");
  ks_flush(rk);  /* the first copy of kco0.com is in the log before its replay */
  good_snippet(buf, sizeof(buf), 0, ts);
  ks_produce(rk, "miner.snippets", part_of("kco0.com"), "replayed", buf, strlen(buf), NULL);

  /* A valid record keyed with a non-canonical domain on a wrong partition: repartitioned, applied once. */
  snprintf(buf, sizeof(buf), "{\"id\":\"r1\",\"miner\":\"m\",\"ts\":%lld,\"lead\":{\"domain\":\"https://WWW.Repart-Co.com/x\"},"
           "\"kind\":\"news\",\"text\":\"Repart Co raised a round\"}", ts);
  int32_t right = part_of("repart-co.com");
  ks_produce(rk, "miner.snippets", (right + 1) % KS_SHARDS, "WWW.Repart-Co.com", buf, strlen(buf), NULL);
  ks_flush(rk);

  /* Every bad record arrives in the DLQ with its code. */
  rd_kafka_t *dlq = ks_reader(boot, "miner.snippets.dlq");
  size_t found = 0;
  long long deadline = ks_now_ms() + 60000;
  while (found < n_bad && ks_now_ms() < deadline) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(dlq, 200);
    if (!m) continue;
    if (m->err == 0) {
      rd_kafka_headers_t *h = NULL;
      const void *code = NULL;
      size_t code_len = 0;
      if (rd_kafka_message_headers(m, &h) == 0) rd_kafka_header_get_last(h, "leadpoet-error", &code, &code_len);
      for (size_t i = 0; i < n_bad; i++) {
        size_t kl = strlen(bads[i].key);
        int key_match = m->key_len == kl && memcmp(m->key, bads[i].key, kl) == 0;
        if (!key_match) continue;
        cr_expect(code != NULL, "%s has a leadpoet-error header", bads[i].key);
        if (code)
          cr_expect(code_len == strlen(bads[i].code) && memcmp(code, bads[i].code, code_len) == 0,
                    "%s: leadpoet-error %.*s, want %s", bads[i].key, (int)code_len, (const char *)code, bads[i].code);
        if (bads[i].seen++ == 0) found++;
      }
    }
    rd_kafka_message_destroy(m);
  }
  for (size_t i = 0; i < n_bad; i++) cr_expect_eq(bads[i].seen, 1, "%s seen %d times in the DLQ", bads[i].key, bads[i].seen);
  ks_reader_close(dlq);

  /* Every valid one applied exactly once, the repartitioned one too; the counters agree. */
  deadline = ks_now_ms() + 30000;
  while (ks_metric(s.port, "leadpoet_snippets_total{result=\"accepted\"}") < N_GOOD + 1 && ks_now_ms() < deadline)
    ks_sleep_ms(100);
  cr_expect_eq(ks_metric(s.port, "leadpoet_snippets_total{result=\"accepted\"}"), N_GOOD + 1);
  cr_expect_eq(ks_metric(s.port, "leadpoet_snippets_total{result=\"duplicate\"}"), 1);
  cr_expect_eq(ks_metric(s.port, "leadpoet_kafka_repartitioned_total{topic=\"miner.snippets\"}"), 1);
  cr_expect_eq(ks_metric(s.port, "leadpoet_kafka_dead_letters_total{topic=\"miner.snippets\"}"), (double)n_bad);
  /* Each reason has its counter, and they add up to the dead letters. */
  static const char *const codes[] = { "bad_json", "bad_field", "future_ts", "b2c_domain", "pii", "duplicate" };
  for (size_t c = 0; c < sizeof(codes) / sizeof(codes[0]); c++) {
    int want = 0;
    for (size_t i = 0; i < n_bad; i++) want += strcmp(bads[i].code, codes[c]) == 0;
    char series[96];
    snprintf(series, sizeof(series), "leadpoet_snippets_total{result=\"%s\"}", codes[c]);
    cr_expect_eq(ks_metric(s.port, series), (double)want, "%s", series);
  }
  long wrong = 0;
  for (int i = 0; i < N_GOOD; i++) {
    char domain[32];
    snprintf(domain, sizeof(domain), "kco%d.com", i);
    if (ks_lead_snippets(s.port, domain) != 1) wrong++;
  }
  cr_expect_eq(wrong, 0, "%ld of %d leads not applied exactly once", wrong, N_GOOD);
  cr_expect_eq(ks_lead_snippets(s.port, "repart-co.com"), 1);
  /* Lag of the owned partitions falls to 0 once everything is applied (gauges refreshed every second). */
  long long lag = -1;
  deadline = ks_now_ms() + 20000;
  while (lag != 0 && ks_now_ms() < deadline) {
    int st;
    json_t *j = ks_get_json(s.port, "/v1/status", &st);
    lag = (long long)json_integer_value(json_object_get(json_object_get(j, "kafka"), "lag"));
    json_decref(j);
    if (lag != 0) ks_sleep_ms(200);
  }
  cr_expect_eq(lag, 0, "consumer lag");
  cr_expect_eq(ks_metric(s.port, "leadpoet_kafka_consumer_lag{topic=\"miner.snippets\",partition=\"0\"}"), 0);
  rd_kafka_destroy(rk);
  cr_assert_eq(lpt_server_stop(&s), 0, "clean exit");
}

Test(kafka_serve, http_ingest_goes_through_the_log, .timeout = 120) {
  lpt_server s;
  cr_assert_eq(lpt_server_start(&s, NULL, env_embedded), 0, "server starts");
  long long ts = ks_now_ms();
  char body[1024];
  snprintf(body, sizeof(body),
           "[{\"id\":\"h1\",\"miner\":\"hm\",\"ts\":%lld,\"lead\":{\"domain\":\"http-co.com\"},\"kind\":\"tech\",\"text\":\"moved to rust\"},"
           "{\"id\":\"h2\",\"miner\":\"hm\",\"ts\":%lld,\"lead\":{\"domain\":\"gmail.com\"},\"kind\":\"tech\",\"text\":\"x\"},"
           "{\"id\":\"h1\",\"miner\":\"hm\",\"ts\":%lld,\"lead\":{\"domain\":\"http-co.com\"},\"kind\":\"tech\",\"text\":\"moved to rust\"}]",
           ts, ts, ts);
  lpt_response r;
  cr_assert_eq(lpt_http(s.port, "POST", "/v1/snippets", "application/json", body, strlen(body), &r), 0);
  cr_assert_eq(r.status, 202, "%s", r.body);
  json_t *j = json_loads(r.body, 0, NULL);
  cr_assert_eq(json_integer_value(json_object_get(j, "accepted")), 1, "%s", r.body);
  json_t *rej = json_object_get(j, "rejected");
  cr_assert_eq(json_array_size(rej), 2, "%s", r.body);
  cr_expect_str_eq(json_string_value(json_object_get(json_array_get(rej, 0), "code")), "b2c_domain");
  cr_expect_str_eq(json_string_value(json_object_get(json_array_get(rej, 1), "code")), "duplicate");
  json_decref(j);
  lpt_response_free(&r);
  /* Visible as soon as the 202 arrived. */
  cr_expect_eq(ks_lead_snippets(s.port, "http-co.com"), 1);
  char boot[256] = "", mode[32] = "";
  int owned = ks_status(s.port, boot, sizeof(boot), mode, sizeof(mode));
  cr_expect_str_eq(mode, "embedded");
  cr_expect(strncmp(boot, "127.0.0.1:", 10) == 0, "bootstrap %s", boot);
  cr_expect_eq(owned, KS_SHARDS);
  /* The record is in the log: a reader of miner.snippets finds it with its ticket header. */
  rd_kafka_t *rd = ks_reader(boot, "miner.snippets");
  int seen = 0;
  long long deadline = ks_now_ms() + 20000;
  while (seen < 2 && ks_now_ms() < deadline) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(rd, 200);
    if (!m) continue;
    rd_kafka_headers_t *h = NULL;
    const void *v;
    size_t vl;
    if (m->err == 0 && m->key_len == 11 && memcmp(m->key, "http-co.com", 11) == 0 && rd_kafka_message_headers(m, &h) == 0 &&
        rd_kafka_header_get_last(h, "leadpoet-ticket", &v, &vl) == 0)
      seen++;
    rd_kafka_message_destroy(m);
  }
  cr_expect_eq(seen, 2, "both copies of h1 are in the log, keyed by the canonical domain, with a ticket");
  ks_reader_close(rd);
  /* Outcomes take the same path (and credit the lead's miners). */
  snprintf(body, sizeof(body), "[{\"id\":\"ho1\",\"ts\":%lld,\"domain\":\"http-co.com\",\"event\":\"replied\"},"
           "{\"id\":\"ho2\",\"ts\":%lld,\"domain\":\"http-co.com\",\"event\":\"teleported\"}]", ts, ts);
  cr_assert_eq(lpt_http(s.port, "POST", "/v1/outcomes", "application/json", body, strlen(body), &r), 0);
  cr_assert_eq(r.status, 202, "%s", r.body);
  j = json_loads(r.body, 0, NULL);
  cr_expect_eq(json_integer_value(json_object_get(j, "accepted")), 1, "%s", r.body);
  cr_expect_eq(json_array_size(json_object_get(j, "rejected")), 1, "%s", r.body);
  json_decref(j);
  lpt_response_free(&r);
  cr_expect_eq(ks_metric(s.port, "leadpoet_outcomes_total{event=\"replied\"}"), 1);
  cr_assert_eq(lpt_server_stop(&s), 0, "clean exit");
}

Test(kafka_serve, off_mode_applies_directly, .timeout = 60) {
  static const char *const env_off[] = { "LEADPOET_SERVER_SHARDS=8", "LEADPOET_KAFKA_MODE=off", NULL };
  lpt_server s;
  cr_assert_eq(lpt_server_start(&s, NULL, env_off), 0, "server starts");
  char mode[32] = "";
  ks_status(s.port, NULL, 0, mode, sizeof(mode));
  cr_expect_str_eq(mode, "off");
  char body[512];
  snprintf(body, sizeof(body), "{\"id\":\"o1\",\"miner\":\"om\",\"ts\":%lld,\"lead\":{\"domain\":\"off-co.com\"},\"kind\":\"web\",\"text\":\"t\"}",
           ks_now_ms());
  lpt_response r;
  cr_assert_eq(lpt_http(s.port, "POST", "/v1/snippets", "application/json", body, strlen(body), &r), 0);
  cr_expect_eq(r.status, 202, "%s", r.body);
  lpt_response_free(&r);
  cr_expect_eq(ks_lead_snippets(s.port, "off-co.com"), 1);
  cr_assert_eq(lpt_server_stop(&s), 0, "clean exit");
}

Test(kafka_serve, external_without_brokers_or_with_wrong_partitions_exits_1, .timeout = 60) {
  static const char *const env_ext[] = { "LEADPOET_KAFKA_MODE=external", NULL };
  lpt_server s;
  /* No brokers: start fails before listening (the helper sees no /healthz). */
  cr_expect_neq(lpt_server_start(&s, NULL, env_ext), 0, "external mode without brokers does not start");
  char *log = lpt_read_file(s.log_path, NULL);
  cr_expect(log && strstr(log, "kafka.mode = external needs kafka.bootstrap_brokers"), "the log says why");
  free(log);
}

/* Bad outcome events end in outcome.events.dlq with their reason and counter: an unknown event, ts before
 * 2000, a missing domain, and garbage msgpack. */
Test(kafka_serve, bad_outcomes_dead_lettered, .timeout = 120) {
  lpt_server s;
  cr_assert_eq(lpt_server_start(&s, NULL, env_embedded), 0, "server starts");
  char boot[256] = "";
  ks_status(s.port, boot, sizeof(boot), NULL, 0);
  rd_kafka_t *rk = ks_producer(boot);
  long long ts = ks_now_ms();
  char buf[512];
  snprintf(buf, sizeof(buf), "{\"id\":\"o1\",\"ts\":%lld,\"domain\":\"acme.com\",\"event\":\"teleported\"}", ts);
  ks_produce(rk, "outcome.events", part_of("acme.com"), "unknown-event", buf, strlen(buf), NULL);
  snprintf(buf, sizeof(buf), "{\"id\":\"o2\",\"ts\":946684799999,\"domain\":\"acme.com\",\"event\":\"replied\"}");
  ks_produce(rk, "outcome.events", part_of("acme.com"), "outcome-ts-before-2000", buf, strlen(buf), NULL);
  snprintf(buf, sizeof(buf), "{\"id\":\"o3\",\"ts\":%lld,\"event\":\"replied\"}", ts);
  ks_produce(rk, "outcome.events", 2, "outcome-missing-domain", buf, strlen(buf), NULL);
  ks_produce(rk, "outcome.events", 3, "outcome-garbage", "\xdd\xff\xff\xff\xff", 5, "application/msgpack");
  snprintf(buf, sizeof(buf), "{\"id\":\"o4\",\"ts\":%lld,\"domain\":\"acme.com\",\"event\":\"replied\"}", ts);
  ks_produce(rk, "outcome.events", part_of("acme.com"), "outcome-good", buf, strlen(buf), NULL);
  ks_flush(rk);
  bad bads[] = { { "unknown-event", "bad_field", 0 }, { "outcome-ts-before-2000", "bad_field", 0 },
                 { "outcome-missing-domain", "bad_field", 0 }, { "outcome-garbage", "bad_json", 0 } };
  size_t n_bad = sizeof(bads) / sizeof(bads[0]), found = 0;
  rd_kafka_t *dlq = ks_reader(boot, "outcome.events.dlq");
  long long deadline = ks_now_ms() + 60000;
  while (found < n_bad && ks_now_ms() < deadline) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(dlq, 200);
    if (!m) continue;
    rd_kafka_headers_t *h = NULL;
    const void *code = NULL;
    size_t code_len = 0;
    if (m->err == 0 && rd_kafka_message_headers(m, &h) == 0) rd_kafka_header_get_last(h, "leadpoet-error", &code, &code_len);
    for (size_t i = 0; m->err == 0 && i < n_bad; i++) {
      if (m->key_len != strlen(bads[i].key) || memcmp(m->key, bads[i].key, m->key_len) != 0) continue;
      cr_expect(code && code_len == strlen(bads[i].code) && memcmp(code, bads[i].code, code_len) == 0,
                "%s: leadpoet-error %.*s, want %s", bads[i].key, (int)code_len, code ? (const char *)code : "",
                bads[i].code);
      if (bads[i].seen++ == 0) found++;
    }
    rd_kafka_message_destroy(m);
  }
  ks_reader_close(dlq);
  for (size_t i = 0; i < n_bad; i++) cr_expect_eq(bads[i].seen, 1, "%s seen %d times in the DLQ", bads[i].key, bads[i].seen);
  deadline = ks_now_ms() + 20000;
  while (ks_metric(s.port, "leadpoet_outcomes_total{event=\"replied\"}") < 1 && ks_now_ms() < deadline) ks_sleep_ms(100);
  cr_expect_eq(ks_metric(s.port, "leadpoet_outcomes_total{event=\"replied\"}"), 1);
  cr_expect_eq(ks_metric(s.port, "leadpoet_outcomes_total{event=\"bad_field\"}"), 3);
  cr_expect_eq(ks_metric(s.port, "leadpoet_outcomes_total{event=\"bad_json\"}"), 1);
  cr_expect_eq(ks_metric(s.port, "leadpoet_kafka_dead_letters_total{topic=\"outcome.events\"}"), 4);
  rd_kafka_destroy(rk);
  cr_assert_eq(lpt_server_stop(&s), 0, "clean exit");
}
