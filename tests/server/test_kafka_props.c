/* kafka.properties passes every key straight to librdkafka (rd_kafka_conf_set): the TLS and SASL/SCRAM keys
 * of an MSK cluster are accepted by Debian's librdkafka, and an unknown property is refused with
 * librdkafka's own message, in-process and by `leadpoet serve` at start (exit 1, the message in the log). */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers/helpers.h"
#include "kafka/kafka_int.h"

static int conf_with(const char *const *props, size_t n, char *err, size_t cap) {
  lp_kafka_conf c = { 0 };
  c.brokers = "127.0.0.1:9";
  c.shards = 1;
  c.props = props;
  c.nprops = n;
  err[0] = '\0';
  rd_kafka_conf_t *kc = lp__kafka_conf_new(&c, NULL, err, cap);
  if (kc == NULL) return -1;
  rd_kafka_conf_destroy(kc);
  return 0;
}

Test(server_kafka_props, msk_tls_and_sasl_scram_keys_pass_through) {
  static const char *const props[] = {
    "security.protocol=sasl_ssl",
    "sasl.mechanism=SCRAM-SHA-512",
    "sasl.username=leadpoet",
    "sasl.password=s3cr3t",
    "ssl.endpoint.identification.algorithm=https",
    "enable.ssl.certificate.verification=true",
    "session.timeout.ms=6000",
  };
  char err[512];
  cr_assert_eq(conf_with(props, sizeof(props) / sizeof(props[0]), err, sizeof(err)), 0, "%s", err);
  static const char *const mtls[] = { "security.protocol=ssl", "ssl.key.password=k" };
  cr_assert_eq(conf_with(mtls, 2, err, sizeof(err)), 0, "%s", err);
}

Test(server_kafka_props, unknown_property_is_refused_with_librdkafkas_message) {
  static const char *const props[] = { "security.protocol=sasl_ssl", "no.such.property=1" };
  char err[512];
  cr_assert_eq(conf_with(props, 2, err, sizeof(err)), -1);
  cr_assert_str_eq(err, "kafka property no.such.property: No such configuration property: \"no.such.property\"");
  static const char *const bad_value[] = { "security.protocol=carrier_pigeon" };
  cr_assert_eq(conf_with(bad_value, 1, err, sizeof(err)), -1);
  cr_assert(strncmp(err, "kafka property security.protocol: Invalid value \"carrier_pigeon\"", 63) == 0, "%s", err);
}

Test(server_kafka_props, serve_refuses_an_unknown_property_at_start, .timeout = 60) {
  char log[] = "/tmp/lp-kprops-XXXXXX";
  int lfd = mkstemp(log);
  cr_assert_geq(lfd, 0);
  char listen[64];
  snprintf(listen, sizeof(listen), "127.0.0.1:%d", lpt_free_port());
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    dup2(lfd, 2);
    dup2(lfd, 1);
    setenv("LEADPOET_KAFKA_MODE", "embedded", 1);
    setenv("LEADPOET_KAFKA_PROPERTIES", "no.such.property=1", 1);
    execl(LP_BINARY_PATH, "leadpoet", "serve", "--listen", listen, (char *)NULL);
    _exit(127);
  }
  close(lfd);
  int status = 0;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "exits 1 (status 0x%x)", status);
  size_t len = 0;
  char *text = lpt_read_file(log, &len);
  cr_assert_not_null(text);
  cr_assert(strstr(text, "No such configuration property") != NULL && strstr(text, "no.such.property") != NULL,
            "the log names the property and librdkafka's reason: %s", text);
  free(text);
  unlink(log);
}
