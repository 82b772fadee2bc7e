/*
 * kafka_int.h: what the files of core/kafka/ share. Not for use outside core/kafka/.
 */
#ifndef LP_KAFKA_INT_H
#define LP_KAFKA_INT_H

#include <librdkafka/rdkafka.h>
#include <uv.h>

#include "kafka/kafka.h"

#define LP__KAFKA_DEFAULT_BATCH 512
#define LP__KAFKA_DEFAULT_METADATA_MS 10000
#define LP__KAFKA_DEFAULT_FLUSH_MS 5000

/* The topics of conf with the default list applied. Returns the count; *topics is set. */
int lp__kafka_topics(const lp_kafka_conf *conf, const char *const **topics);

/* Sets one property; on failure writes "kafka property KEY: reason" to errstr. Returns 0 or LP_ECONFIG. */
int lp__kafka_set(rd_kafka_conf_t *kc, const char *key, const char *value, char *errstr, size_t errsz);

/* A configuration with leadpoet's common settings (brokers, client.id, log callback), then `defaults`
 * (NULL-terminated key, value pairs), then conf->props. NULL with errstr on failure. */
rd_kafka_conf_t *lp__kafka_conf_new(const lp_kafka_conf *conf, const char *const *defaults, char *errstr,
                                    size_t errsz);

/* Watches queue q's io events on loop: a non-blocking pipe whose read end is polled by `poll` (initialised
 * here, poll->data left to the caller). Returns 0 or LP_EIO. fds[0] read, fds[1] write. */
int lp__kafka_queue_watch(uv_loop_t *loop, rd_kafka_queue_t *q, uv_poll_t *poll, int fds[2], char *errstr,
                          size_t errsz);
/* Reads everything buffered in the wake-up pipe. */
void lp__kafka_pipe_drain(int fd);
/* Stops the io events of q and closes the write end; the read end is closed by the caller after the poll
 * handle is closed. */
void lp__kafka_queue_unwatch(rd_kafka_queue_t *q, int fds[2]);

/* LP_E* code of a librdkafka error. */
int lp__kafka_err(rd_kafka_resp_err_t err);

#endif
