/*
 * The final checkpoint of a graceful stop. Records applied since the last periodic checkpoint are written
 * once more on SIGTERM, after the stream stopped: the stop exits 0 and a restart finds exactly that state.
 * (A stop used to flush the stream's batches after they were finalised and crash on the way out.)
 */
#include "fault/fault.h"

#define N_FINAL 400

static int start(lpt_server *s, const char *redis) {
  static char env[6][160];
  snprintf(env[0], sizeof(env[0]), "REDIS_ENDPOINT=%.100s", redis);
  snprintf(env[1], sizeof(env[1]), "LEADPOET_KAFKA_MODE=embedded");
  snprintf(env[2], sizeof(env[2]), "LEADPOET_SERVER_SHARDS=%d", FT_SHARDS);
  /* No periodic checkpoint during the test: only the final one can hold the records. */
  snprintf(env[3], sizeof(env[3]), "LEADPOET_CHECKPOINT_INTERVAL=1h");
  snprintf(env[4], sizeof(env[4]), "LEADPOET_SERVER_WORKERS=2");
  snprintf(env[5], sizeof(env[5]), "LEADPOET_KAFKA_PROPERTIES=fetch.wait.max.ms=5");
  const char *e[] = { env[0], env[1], env[2], env[3], env[4], env[5], NULL };
  return lpt_server_start(s, NULL, e);
}

Test(fault, graceful_stop_writes_a_final_checkpoint, .timeout = 120) {
  ft_redis r = { 0 };
  cr_assert_eq(ft_redis_start(&r), 0);
  char redis[96];
  snprintf(redis, sizeof(redis), "127.0.0.1:%d", r.port);
  char path[] = "/tmp/lp-final-XXXXXX";
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  close(fd);
  cr_assert_eq(ft_write_snippets(path, N_FINAL), 0);

  lpt_server s;
  cr_assert_eq(start(&s, redis), 0);
  json_t *st = NULL;
  for (int i = 0; i < 300 && st == NULL; i++) {
    st = ft_get_json(s.port, "/v1/status");
    if (st == NULL || !json_is_string(json_object_get(json_object_get(st, "kafka"), "bootstrap"))) {
      json_decref(st);
      st = NULL;
      ft_sleep_ms(100);
    }
  }
  cr_assert_not_null(st, "the status names the embedded cluster (log %s)", s.log_path);
  char bootstrap[256];
  snprintf(bootstrap, sizeof(bootstrap), "%s", json_string_value(json_object_get(json_object_get(st, "kafka"), "bootstrap")));
  json_decref(st);
  cr_assert_eq(ft_produce(bootstrap, path, 0), 0);
  long n = ft_wait_counted(s.port, N_FINAL, -1, 60000);
  cr_assert_eq(n, N_FINAL, "%ld of %d records counted (log %s)", n, N_FINAL, s.log_path);
  char *before = ft_state(s.port);
  cr_assert_eq(lpt_server_stop(&s), 0, "SIGTERM with records not yet checkpointed: exit 0 (log %s)", s.log_path);
  char *log = lpt_read_file(s.log_path, NULL);
  cr_assert(log && strstr(log, "final checkpoint") != NULL, "the stop wrote a final checkpoint (%s)", s.log_path);
  free(log);

  /* Embedded: the log died with the process, so everything comes from that checkpoint. */
  cr_assert_eq(start(&s, redis), 0);
  long again = ft_wait_counted(s.port, N_FINAL, -1, 30000);
  cr_assert_eq(again, N_FINAL, "restored from the final checkpoint (log %s)", s.log_path);
  char *after = ft_state(s.port);
  cr_assert_str_eq(after, before, "the same state after the restart");
  free(before);
  free(after);
  cr_assert_eq(lpt_server_stop(&s), 0);
  ft_redis_kill(&r);
  unlink(path);
}
