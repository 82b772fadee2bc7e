/*
 * test_partition.c: the shard of a lead is the Kafka partition its domain gets from Kafka's default (Java)
 * partitioner, so any producer that keys by the canonical domain lands where leadpoet reads. Checked against
 * the vectors of librdkafka's rdmurmur2.c unit test (computed with the Java client) and against librdkafka's
 * own murmur2 partitioner on this machine.
 */
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <string.h>

#include "worker/worker.h"

Test(partition, murmur2_matches_the_java_client_vectors) {
  static const char *const shortk = "1234";
  static const char *const unaligned = "PreAmbleWillBeRemoved,ThePrePartThatIs";
  const struct { const char *key; size_t len; uint32_t want; } v[] = {
    { "kafka", 5, 0xd067cf64u },
    { "giberish123456789", 17, 0x8f552b0cu },
    { shortk, 4, 0x9fc97b14u },
    { shortk + 1, 3, 0xe7c009cau },
    { shortk + 2, 2, 0x873930dau },
    { shortk + 3, 1, 0x5a4b5ca1u },
    { unaligned, strlen(unaligned), 0x78424f1cu },
    { unaligned + 1, strlen(unaligned + 1), 0x4a62b377u },
    { unaligned + 2, strlen(unaligned + 2), 0xe0e4e09eu },
    { "", 0, 0x106e08d9u },
  };
  for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
    cr_expect_eq(lp_murmur2(v[i].key, v[i].len), v[i].want, "murmur2(\"%s\") = %08x, want %08x", v[i].key,
                 lp_murmur2(v[i].key, v[i].len), v[i].want);
}

Test(partition, equals_librdkafkas_murmur2_partitioner) {
  char d[64];
  const int32_t counts[] = { 1, 2, 8, 64, 4096 };
  for (int i = 0; i < 5000; i++) {
    int n = snprintf(d, sizeof(d), "%s%d.%s", i % 3 ? "company" : "x", i, i % 2 ? "com" : "co.uk");
    for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
      int32_t want = rd_kafka_msg_partitioner_murmur2(NULL, d, (size_t)n, counts[c], NULL, NULL);
      uint32_t got = lp_partition_of(d, (size_t)n, (uint32_t)counts[c]);
      if ((int32_t)got != want) cr_assert_fail("%s over %d partitions: leadpoet %u, librdkafka %d", d, counts[c], got, want);
    }
  }
}

Test(partition, pinned_for_a_known_domain) {
  /* Moving this value moves every lead to another shard: saved snapshots then refuse to load. */
  uint32_t p = lp_partition_of("acme.com", 8, 64);
  cr_assert_eq(p, (lp_murmur2("acme.com", 8) & 0x7fffffffu) % 64);
  cr_assert_eq(lp_partition_of("acme.com", 8, 1), 0);
}
