/* Loading the file: defaults, values of every type, and every error with its FILE:LINE. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "config_test.h"

TestSuite(config_load, .init = config_test_clean_env);

Test(config_load, defaults_without_a_file) {
  lp_config c;
  char err[256] = "";
  cr_assert_eq(lp_config_load(&c, NULL, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_str_eq(c.server.listen, "127.0.0.1:8080");
  cr_assert_eq(c.server.workers, 0);
  cr_assert_eq(c.server.shards, 64);
  cr_assert_eq(c.server.ring_capacity, 4096);
  cr_assert_eq(c.server.tick_interval_ms, 100);
  cr_assert_eq(c.server.shutdown_timeout_ms, 10000);
  cr_assert_str_eq(c.server.state_dir, "");
  cr_assert_str_eq(c.server.data_dir, "");
  cr_assert_eq(c.server.max_memory, 0);
  cr_assert_eq(c.http.max_header_bytes, 16 * 1024);
  cr_assert_eq(c.http.max_body_bytes, 8 * 1024 * 1024);
  cr_assert_eq(c.http.header_timeout_ms, 10000);
  cr_assert_eq(c.http.body_timeout_ms, 30000);
  cr_assert_eq(c.http.idle_timeout_ms, 60000);
  cr_assert_eq(c.http.write_timeout_ms, 30000);
  cr_assert_eq(c.http.max_connections, 4096);
  cr_assert_eq(c.http.max_pipelined, 32);
  cr_assert_eq(c.http.max_output_bytes, 4 * 1024 * 1024);
  cr_assert_eq(c.http.backlog, 511);
  cr_assert_eq(c.ingest.max_future_ms, 600000);
  cr_assert_eq(c.ingest.max_batch, 10000);
  cr_assert_eq(c.ingest.dedupe_capacity, 262144);
  cr_assert_eq(c.ingest.evidence_per_lead, 16);
  cr_assert_str_eq(c.kafka.bootstrap_brokers, "");
  cr_assert_str_eq(c.kafka.group_id, "leadpoet");
  cr_assert_str_eq(c.redis.endpoint, "");
  cr_assert_str_eq(c.secrets.openai_api_key, "");
  cr_assert_str_eq(c.secrets.pdl_api_key, "");
  cr_assert_str_eq(c.secrets.clearbit_api_key, "");
  cr_assert_str_eq(c.log.level, "info");
  cr_assert_eq(c.metrics.max_series, 1000);
  cr_assert_str_eq(c.stages.order, "ingest, throttle, churn, reputation");
  cr_assert_str_eq(c.stages.plugins, "");
  lp_config_free(&c);
  lp_config_free(&c); /* zeroed: a second free is harmless */
}

Test(config_load, empty_text_is_the_defaults) {
  lp_config c;
  char err[256];
  cr_assert_eq(config_test_load(&c, "", err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(c.server.shards, 64);
  lp_config_free(&c);
}

Test(config_load, values_of_every_type_and_suffix) {
  const char *text =
    "\xEF\xBB\xBF; a BOM, then comments of both kinds\n"
    "# hash comment\n"
    "[server]\n"
    "listen = \"0.0.0.0:9090\"\n"
    "  workers = 4   ; indented: still a key, not a continuation\n"
    "shards = 128\n"
    "ring_capacity = 1024\n"
    "tick_interval = 2s\n"
    "shutdown_timeout = 1m\n"
    "state_dir = /var/lib/lp\n"
    "max_memory = 2g\n"
    "[http]\r\n"
    "max_header_bytes = 1m\r\n"
    "max_body_bytes = 512k\n"
    "header_timeout = 250ms\n"
    "body_timeout = 1h\n"
    "idle_timeout = 1500\n"
    "write_timeout = 10ms\n"
    "max_connections = 1000000\n"
    "max_pipelined: 1\n"
    "max_output_bytes = 4k\n"
    "backlog = 65535\n"
    "[ingest]\n"
    "max_future = 1d\n"
    "max_batch = 1\n"
    "[kafka]\n"
    "bootstrap_brokers = k1:9092,k2:9092\n"
    "group_id = \"a;b\"\n"
    "[log]\n"
    "level = debug\n"
    "[server]\n"
    "data_dir = \"\"\n";
  lp_config c;
  char err[256];
  cr_assert_eq(config_test_load(&c, text, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_str_eq(c.server.listen, "0.0.0.0:9090");
  cr_assert_eq(c.server.workers, 4);
  cr_assert_eq(c.server.shards, 128);
  cr_assert_eq(c.server.ring_capacity, 1024);
  cr_assert_eq(c.server.tick_interval_ms, 2000);
  cr_assert_eq(c.server.shutdown_timeout_ms, 60000);
  cr_assert_str_eq(c.server.state_dir, "/var/lib/lp");
  cr_assert_str_eq(c.server.data_dir, "");
  cr_assert_eq(c.server.max_memory, INT64_C(2) << 30);
  cr_assert_eq(c.http.max_header_bytes, 1 << 20);
  cr_assert_eq(c.http.max_body_bytes, 512 << 10);
  cr_assert_eq(c.http.header_timeout_ms, 250);
  cr_assert_eq(c.http.body_timeout_ms, 3600000);
  cr_assert_eq(c.http.idle_timeout_ms, 1500);
  cr_assert_eq(c.http.write_timeout_ms, 10);
  cr_assert_eq(c.http.max_connections, 1000000);
  cr_assert_eq(c.http.max_pipelined, 1);
  cr_assert_eq(c.http.max_output_bytes, 4096);
  cr_assert_eq(c.http.backlog, 65535);
  cr_assert_eq(c.ingest.max_future_ms, 86400000);
  cr_assert_eq(c.ingest.max_batch, 1);
  cr_assert_str_eq(c.kafka.bootstrap_brokers, "k1:9092,k2:9092");
  cr_assert_str_eq(c.kafka.group_id, "a;b");
  cr_assert_str_eq(c.log.level, "debug");
  lp_config_free(&c);
}

Test(config_load, unknown_section) {
  config_test_expect_error("[server]\nshards = 8\n\n[serverr]\n",
                           "t.conf:4: [serverr]: unknown section (known: server, http, ingest, kafka, redis, "
                           "secrets, log, metrics, stages, stage.<name>)");
}

Test(config_load, unknown_key) {
  config_test_expect_error("[http]\nbacklog = 10\nbaklog = 10\n", "t.conf:3: [http] baklog: unknown key");
}

Test(config_load, key_outside_any_section) {
  config_test_expect_error("; top\nshards = 8\n", "t.conf:2: shards: key outside any section (put it under [section])");
}

Test(config_load, wrong_type) {
  config_test_expect_error("[server]\nworkers = four\n", "t.conf:2: [server] workers: \"four\" is not an integer");
  config_test_expect_error("[http]\n\nmax_body_bytes = 8q\n",
                           "t.conf:3: [http] max_body_bytes: \"8q\" is not a size in bytes with an optional "
                           "suffix k, m or g (powers of 1024), such as 512, 16k or 8m");
  config_test_expect_error("[http]\nidle_timeout = 1w\n",
                           "t.conf:2: [http] idle_timeout: \"1w\" is not a duration with a suffix ms, s, m, h or "
                           "d (bare = ms), such as 250ms, 10s or 5m");
  config_test_expect_error("[kafka]\ngroup_id = \"g ; comment cuts the quote\"\n",
                           "t.conf:2: [kafka] group_id: unterminated quoted string (note that \" ;\" starts a "
                           "comment)");
}

Test(config_load, out_of_bounds) {
  config_test_expect_error("[server]\nworkers = 257\n", "t.conf:2: [server] workers: 257 is out of bounds 0..256");
  config_test_expect_error("[server]\nshards = 8192\n", "t.conf:2: [server] shards: 8192 is out of bounds 1..4096");
  config_test_expect_error("[http]\nmax_header_bytes = 2m\n",
                           "t.conf:2: [http] max_header_bytes: 2m is out of bounds 1k..1m");
  config_test_expect_error("[http]\nheader_timeout = 5ms\n",
                           "t.conf:2: [http] header_timeout: 5ms is out of bounds 10ms..1h");
  config_test_expect_error("[ingest]\nmax_future = 2d\n", "t.conf:2: [ingest] max_future: 2d is out of bounds 0..1d");
  config_test_expect_error("[metrics]\nmax_series = 0\n", "t.conf:2: [metrics] max_series: 0 is out of bounds 1..100000");
}

Test(config_load, powers_of_two) {
  config_test_expect_error("[server]\nshards = 48\n", "t.conf:2: [server] shards: must be a power of two (got 48)");
  config_test_expect_error("[server]\nring_capacity = 1000\n",
                           "t.conf:2: [server] ring_capacity: must be a power of two (got 1000)");
  lp_config c;
  char err[256];
  cr_assert_eq(config_test_load(&c, "[server]\nshards = 1\nring_capacity = 1048576\n", err, sizeof(err)), LP_OK,
               "%s", err);
  lp_config_free(&c);
}

Test(config_load, listen_and_log_level) {
  config_test_expect_error("[server]\nlisten = 8080\n",
                           "t.conf:2: [server] listen: \"8080\" is not HOST:PORT (such as 127.0.0.1:8080 or "
                           "[::1]:8080, port 1..65535)");
  config_test_expect_error("[server]\nlisten = localhost:99999\n",
                           "t.conf:2: [server] listen: \"localhost:99999\" is not HOST:PORT (such as "
                           "127.0.0.1:8080 or [::1]:8080, port 1..65535)");
  config_test_expect_error("[log]\nlevel = verbose\n",
                           "t.conf:2: [log] level: \"verbose\" must be one of error, warn, info, debug");
  lp_config c;
  char err[256];
  cr_assert_eq(config_test_load(&c, "[server]\nlisten = [::1]:80\n[log]\nlevel = warn\n", err, sizeof(err)), LP_OK,
               "%s", err);
  lp_config_free(&c);
}

Test(config_load, duplicate_key) {
  config_test_expect_error("[server]\nshards = 8\nworkers = 1\n[http]\nbacklog = 1\n[server]\nshards = 16\n",
                           "t.conf:7: [server] shards: given twice (first on line 2)");
  config_test_expect_error("[stage.tagger]\nword = a\nword = b\n",
                           "t.conf:3: [stage.tagger] word: given twice (first on line 2)");
}

Test(config_load, garbage_lines) {
  config_test_expect_error("[server]\nshards = 8\nthis is not ini\nworkers = 1\n",
                           "t.conf:3: cannot parse \"this is not ini\": expected \"key = value\" or \"[section]\"");
  config_test_expect_error("\xEF\xBB\xBF[server\nshards = 8\n",
                           "t.conf:1: cannot parse \"[server\": expected \"key = value\" or \"[section]\"");
  /* The first error wins, whichever kind it is. */
  config_test_expect_error("[server]\nnope = 1\ngarbage\n", "t.conf:2: [server] nope: unknown key");
  config_test_expect_error("[server]\ngarbage\nnope = 1\n",
                           "t.conf:2: cannot parse \"garbage\": expected \"key = value\" or \"[section]\"");
}

Test(config_load, long_lines_and_bad_section_names) {
  char text[512];
  snprintf(text, sizeof(text), "[server]\nstate_dir = /%0250d\n", 0);
  config_test_expect_error(text, "t.conf:2: line longer than 198 bytes");
  config_test_expect_error("[stage.Bad-Name]\nx = 1\n", "t.conf:1: [stage.Bad-Name]: a stage name is [a-z0-9_]+");
  config_test_expect_error("[stage.]\n", "t.conf:1: [stage.]: a stage name is [a-z0-9_]+");
  config_test_expect_error("[stage.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\n",
                           "t.conf:1: [stage.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]: section name "
                           "longer than 49 bytes");
  /* A line just under the limit is fine. */
  snprintf(text, sizeof(text), "[server]\nstate_dir = /%0184d\n", 0);
  lp_config c;
  char err[256];
  cr_assert_eq(config_test_load(&c, text, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(strlen(c.server.state_dir), 185);
  lp_config_free(&c);
}

static char *write_temp(const char *text) {
  static char path[] = "/tmp/lp_config_test_XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  size_t n = strlen(text);
  cr_assert_eq(write(fd, text, n), (ssize_t)n);
  close(fd);
  return path;
}

Test(config_load, from_a_file) {
  char *path = write_temp("[server]\nworkers = 3\n[http]\nbacklog = x\n");
  lp_config c;
  char err[512], want[512];
  cr_assert_eq(lp_config_load(&c, path, err, sizeof(err)), LP_ECONFIG);
  snprintf(want, sizeof(want), "%s:4: [http] backlog: \"x\" is not an integer", path);
  cr_assert_str_eq(err, want);
  lp_config_free(&c);
  FILE *f = fopen(path, "w");
  fputs("[server]\nworkers = 3\n", f);
  fclose(f);
  cr_assert_eq(lp_config_load(&c, path, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(c.server.workers, 3);
  lp_config_free(&c);
  unlink(path);
}

Test(config_load, missing_or_unreadable_file) {
  lp_config c;
  char err[512];
  cr_assert_eq(lp_config_load(&c, "/nonexistent/leadpoet.conf", err, sizeof(err)), LP_ECONFIG);
  cr_assert_str_eq(err, "/nonexistent/leadpoet.conf: cannot open: No such file or directory");
  lp_config_free(&c);
  cr_assert_eq(lp_config_load(&c, "/tmp", err, sizeof(err)), LP_ECONFIG);
  cr_assert_str_eq(err, "/tmp: cannot read: Is a directory");
  lp_config_free(&c);
}

Test(config_load, nul_byte_in_file) {
  char *path = write_temp("[server]\n");
  FILE *f = fopen(path, "ab");
  fwrite("x\0y = 1\n", 1, 8, f);
  fclose(f);
  lp_config c;
  char err[512], want[512];
  cr_assert_eq(lp_config_load(&c, path, err, sizeof(err)), LP_ECONFIG);
  snprintf(want, sizeof(want), "%s: contains a NUL byte (not a text file?)", path);
  cr_assert_str_eq(err, want);
  lp_config_free(&c);
  unlink(path);
}
