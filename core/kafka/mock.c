/*
 * mock.c: the embedded Kafka: librdkafka's mock cluster, owned by a dedicated producer handle that does
 * nothing else. Its brokers listen on 127.0.0.1 so kcat or `leadpoet produce` can feed it.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "kafka/kafka_int.h"

#include <librdkafka/rdkafka_mock.h>  /* after rdkafka.h */

struct lp_kafka_mock {
  rd_kafka_t *rk;                  /* owner of the cluster */
  rd_kafka_mock_cluster_t *mc;
  char *bootstraps;
};

int lp_kafka_mock_topic(lp_kafka_mock *m, const char *topic, int partitions, char *errstr, size_t errsz) {
  rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(m->mc, topic, partitions, 1);
  if (err) {
    snprintf(errstr, errsz, "mock topic %s: %s", topic, rd_kafka_err2str(err));
    return LP_EIO;
  }
  return 0;
}

int lp_kafka_mock_new(int shards, int brokers, lp_kafka_mock **out, char *errstr, size_t errsz) {
  *out = NULL;
  if (shards < 1 || brokers < 1 || brokers > 16) {
    snprintf(errstr, errsz, "mock cluster: shards must be >= 1 and brokers 1..16 (got %d, %d)", shards, brokers);
    return LP_EINVAL;
  }
  lp_kafka_mock *m = lp_calloc(1, sizeof(*m));
  if (!m) {
    snprintf(errstr, errsz, "out of memory");
    return LP_ENOMEM;
  }
  lp_kafka_conf conf = { .client_id = "leadpoet-mock" };
  rd_kafka_conf_t *kc = lp__kafka_conf_new(&conf, NULL, errstr, errsz);
  char why[256];
  if (kc) {
    m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, why, sizeof(why));
    if (!m->rk) {
      rd_kafka_conf_destroy(kc);
      snprintf(errstr, errsz, "mock cluster handle: %s", why);
    }
  }
  if (m->rk) {
    m->mc = rd_kafka_mock_cluster_new(m->rk, brokers);
    if (!m->mc) snprintf(errstr, errsz, "mock cluster: cannot start its brokers");
  }
  static const char *const suffixes[] = { "", LP_KAFKA_DLQ_SUFFIX };
  static const char *const topics[] = { LP_KAFKA_TOPIC_SNIPPETS, LP_KAFKA_TOPIC_OUTCOMES };
  int rc = m->mc ? 0 : LP_EIO;
  for (int t = 0; t < 2 && rc == 0; t++) {
    for (int s = 0; s < 2 && rc == 0; s++) {
      char name[128];
      snprintf(name, sizeof(name), "%s%s", topics[t], suffixes[s]);
      rc = lp_kafka_mock_topic(m, name, shards, errstr, errsz);
    }
  }
  if (rc == 0 && !(m->bootstraps = lp_strdup(rd_kafka_mock_cluster_bootstraps(m->mc)))) rc = LP_ENOMEM;
  if (rc != 0) {
    lp_kafka_mock_free(m);
    return rc ? rc : LP_EIO;
  }
  lp_log_info("embedded kafka started", "bootstrap=%s brokers=%d partitions=%d topics=%s,%s,%s%s,%s%s",
              m->bootstraps, brokers, shards, LP_KAFKA_TOPIC_SNIPPETS, LP_KAFKA_TOPIC_OUTCOMES,
              LP_KAFKA_TOPIC_SNIPPETS, LP_KAFKA_DLQ_SUFFIX, LP_KAFKA_TOPIC_OUTCOMES, LP_KAFKA_DLQ_SUFFIX);
  *out = m;
  return 0;
}

const char *lp_kafka_mock_bootstraps(const lp_kafka_mock *m) { return m->bootstraps; }

void *lp_kafka_mock_cluster(lp_kafka_mock *m) { return m->mc; }

void lp_kafka_mock_free(lp_kafka_mock *m) {
  if (!m) return;
  if (m->mc) rd_kafka_mock_cluster_destroy(m->mc);
  if (m->rk) rd_kafka_destroy(m->rk);
  lp_free(m->bootstraps);
  lp_free(m);
}
