/*
 * conf.c: librdkafka configuration shared by the producer and the consumer, the wake-up pipe that turns a
 * librdkafka queue into a file descriptor for a uv_poll, and the partition-count check.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "kafka/kafka_int.h"

static const char *const default_topics[] = { LP_KAFKA_TOPIC_SNIPPETS, LP_KAFKA_TOPIC_OUTCOMES };

int lp__kafka_topics(const lp_kafka_conf *conf, const char *const **topics) {
  if (conf->topics && conf->ntopics > 0) {
    *topics = conf->topics;
    return conf->ntopics;
  }
  *topics = default_topics;
  return 2;
}

int lp_kafka_topic_index(const lp_kafka_conf *conf, const char *topic) {
  const char *const *t;
  int n = lp__kafka_topics(conf, &t);
  for (int i = 0; i < n; i++)
    if (strcmp(t[i], topic) == 0) return i;
  return -1;
}

int lp__kafka_set(rd_kafka_conf_t *kc, const char *key, const char *value, char *errstr, size_t errsz) {
  char why[256];
  if (rd_kafka_conf_set(kc, key, value, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
    snprintf(errstr, errsz, "kafka property %s: %s", key, why);
    return LP_ECONFIG;
  }
  return 0;
}

/* librdkafka's syslog levels mapped onto ours; called from librdkafka's threads (lp_log is any-thread). */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
  int lv = level <= 3 ? LP_LOG_ERROR : level <= 4 ? LP_LOG_WARN : level <= 6 ? LP_LOG_INFO : LP_LOG_DEBUG;
  if (lv > lp_log_level()) return;
  lp_log(lv, "librdkafka", "client=%s fac=%s detail=\"%s\"", rd_kafka_name(rk), fac, buf);
}

rd_kafka_conf_t *lp__kafka_conf_new(const lp_kafka_conf *conf, const char *const *defaults, char *errstr,
                                    size_t errsz) {
  rd_kafka_conf_t *kc = rd_kafka_conf_new();
  if (!kc) {
    snprintf(errstr, errsz, "out of memory");
    return NULL;
  }
  rd_kafka_conf_set_log_cb(kc, log_cb);
  if ((conf->brokers && lp__kafka_set(kc, "bootstrap.servers", conf->brokers, errstr, errsz)) ||
      lp__kafka_set(kc, "client.id", conf->client_id ? conf->client_id : "leadpoet", errstr, errsz))
    goto fail;
  for (size_t i = 0; defaults && defaults[i]; i += 2)
    if (lp__kafka_set(kc, defaults[i], defaults[i + 1], errstr, errsz)) goto fail;
  for (size_t i = 0; i < conf->nprops; i++) {
    const char *kv = conf->props[i];
    const char *eq = kv ? strchr(kv, '=') : NULL;
    if (!eq || eq == kv) {
      snprintf(errstr, errsz, "kafka property '%s': expected key=value", kv ? kv : "(null)");
      goto fail;
    }
    char key[128];
    if ((size_t)(eq - kv) >= sizeof(key)) {
      snprintf(errstr, errsz, "kafka property '%.40s...': key too long", kv);
      goto fail;
    }
    memcpy(key, kv, (size_t)(eq - kv));
    key[eq - kv] = '\0';
    if (lp__kafka_set(kc, key, eq + 1, errstr, errsz)) goto fail;
  }
  return kc;
fail:
  rd_kafka_conf_destroy(kc);
  return NULL;
}

int lp__kafka_queue_watch(uv_loop_t *loop, rd_kafka_queue_t *q, uv_poll_t *poll, int fds[2], char *errstr,
                          size_t errsz) {
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
    snprintf(errstr, errsz, "pipe: %s", strerror(errno));
    return LP_EIO;
  }
  int rc = uv_poll_init(loop, poll, fds[0]);
  if (rc != 0) {
    snprintf(errstr, errsz, "uv_poll_init: %s", uv_strerror(rc));
    close(fds[0]);
    close(fds[1]);
    fds[0] = fds[1] = -1;
    return LP_EIO;
  }
  static const char one = 1;
  rd_kafka_queue_io_event_enable(q, fds[1], &one, 1);
  return 0;
}

void lp__kafka_pipe_drain(int fd) {
  char junk[256];
  while (read(fd, junk, sizeof(junk)) > 0) {
  }
}

void lp__kafka_queue_unwatch(rd_kafka_queue_t *q, int fds[2]) {
  if (q) rd_kafka_queue_io_event_enable(q, -1, NULL, 0);
  if (fds[1] >= 0) close(fds[1]);
  fds[1] = -1;
}

int lp__kafka_err(rd_kafka_resp_err_t err) {
  switch (err) {
  case RD_KAFKA_RESP_ERR_NO_ERROR: return 0;
  case RD_KAFKA_RESP_ERR__QUEUE_FULL: return LP_EAGAIN;
  case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
  case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
  case RD_KAFKA_RESP_ERR__DESTROY: return LP_ECANCELED;
  case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
  case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
  case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION: return LP_ENOENT;
  case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
  case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT: return LP_EIO;
  case RD_KAFKA_RESP_ERR__INVALID_ARG: return LP_EINVAL;
  default: return LP_EIO;
  }
}

int lp_kafka_check_partitions(void *rkp, const char *const *topics, int ntopics, int shards, int timeout_ms,
                              char *errstr, size_t errsz) {
  rd_kafka_t *rk = rkp;
  const struct rd_kafka_metadata *md = NULL;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
  if (err) {
    snprintf(errstr, errsz, "kafka metadata: %s (is the cluster reachable?)", rd_kafka_err2str(err));
    return LP_EIO;
  }
  int rc = 0;
  for (int t = 0; t < ntopics && rc == 0; t++) {
    const struct rd_kafka_metadata_topic *mt = NULL;
    for (int i = 0; i < md->topic_cnt; i++)
      if (strcmp(md->topics[i].topic, topics[t]) == 0) mt = &md->topics[i];
    if (!mt || mt->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
      snprintf(errstr, errsz, "topic %s does not exist, leadpoet needs it with %d partitions (server.shards)",
               topics[t], shards);
      rc = LP_ECONFIG;
    } else if (mt->err) {
      snprintf(errstr, errsz, "topic %s: %s", topics[t], rd_kafka_err2str(mt->err));
      rc = LP_EIO;
    } else if (mt->partition_cnt != shards) {
      snprintf(errstr, errsz, "topic %s has %d partitions, leadpoet needs %d (server.shards)", topics[t],
               mt->partition_cnt, shards);
      rc = LP_ECONFIG;
    }
  }
  rd_kafka_metadata_destroy(md);
  return rc;
}
