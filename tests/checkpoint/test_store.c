/* The checkpoint store against a real Redis: round trips, deltas and compaction, cluster mode, metrics,
 * and Redis killed and restarted in the middle. */
#include "checkpoint/redis_fixture.h"
#include "lp_version.h"
#include "metrics/metrics.h"

static const int32_t P012G[] = { 0, 1, 2, LP_CKPT_GLOBAL };

Test(store, write_then_restore_round_trip) {
  rt_redis rs = { 0 };
  cr_assert_eq(rt_redis_start(&rs), 0);
  rt_client c;
  rt_client_open(&c, rs.endpoint, 1);
  lp_ckpt_store *st = rt_store(&c, 0, 0, NULL);
  rt_restore rr;
  cr_assert_eq(rt_restore_run(&c, st, P012G, 4, 1, &rr), 0, "%s", rr.errmsg);
  cr_assert_eq(rr.n, 4);
  for (size_t i = 0; i < 4; i++) cr_assert_eq(rr.states[i].found, 0, "nothing yet");
  cr_assert_eq(rr.states[0].meta.fence, 1, "claimed");
  rt_restore_free(&rr);
  for (size_t i = 0; i < 4; i++) cr_assert_eq(lp_ckpt_next_kind(st, P012G[i]), LP_CKPT_FULL);

  lp_ckpt_offset o[4][2];
  lp_ckpt_part parts[4] = { rt_part(0, LP_CKPT_FULL, "state of zero", o[0], 100),
                            rt_part(1, LP_CKPT_FULL, "state of one", o[1], 200),
                            rt_part(2, LP_CKPT_FULL, "", o[2], 0),
                            rt_part(LP_CKPT_GLOBAL, LP_CKPT_FULL, "throttle+reputation", o[3], 0) };
  parts[3].noffsets = 0;
  rt_write w;
  cr_assert_eq(rt_write_run(&c, st, parts, 4, 1, &w), 0, "%s", w.res.errmsg);
  cr_assert_eq(w.res.failed, 0);
  cr_assert(w.res.bytes > strlen("state of zero") + strlen("state of one"));
  uint64_t id = w.res.id;
  cr_assert(id >= 1);
  lp_ckpt_stats stats;
  lp_ckpt_store_stats(st, &stats);
  cr_assert_eq(stats.writes, 1);
  cr_assert_eq(stats.failures, 0);
  cr_assert(stats.last_success_ms > 0);
  cr_assert_eq(stats.last_id, id);
  lp_ckpt_store_free(st);

  /* a fresh store (a restarted process) reads it all back */
  st = rt_store(&c, 0, 0, NULL);
  cr_assert_eq(rt_restore_run(&c, st, P012G, 4, 2, &rr), 0, "%s", rr.errmsg);
  cr_assert(rr.states[0].found && rr.states[1].found && rr.states[2].found && rr.states[3].found);
  cr_assert_eq(rr.states[0].nblobs, 1);
  cr_assert_eq(rr.states[0].lens[0], strlen("state of zero"));
  cr_assert_eq(memcmp(rr.states[0].blobs[0], "state of zero", rr.states[0].lens[0]), 0);
  cr_assert_eq(rr.states[2].lens[0], 0, "an empty state is a state");
  cr_assert_str_eq(rr.states[3].blobs[0], "throttle+reputation");
  cr_assert_eq(rr.states[3].partition, LP_CKPT_GLOBAL);
  const lp_ckpt_meta *m = &rr.states[1].meta;
  cr_assert_eq(m->seq, id);
  cr_assert_eq(m->epoch, 1);
  cr_assert_eq(m->fence, 2, "the second restore claimed it with epoch 2");
  cr_assert_eq(m->schema, LP_CKPT_SCHEMA);
  cr_assert(strncmp(m->writer, LP_VERSION, strlen(LP_VERSION)) == 0, "%s", m->writer);
  cr_assert_eq(m->noffsets, 2);
  cr_assert_str_eq(m->offsets[0].topic, "miner.snippets");
  cr_assert_eq(m->offsets[0].offset, 200);
  cr_assert_eq(m->offsets[1].offset, 100);
  cr_assert_eq(m->nchain, 1);
  cr_assert_eq(m->chain[0].kind, LP_CKPT_FULL);
  rt_restore_free(&rr);

  /* the next checkpoint's id continues after the restored ones */
  lp_ckpt_part again = rt_part(0, LP_CKPT_DELTA, "more", o[0], 101);
  cr_assert_eq(rt_write_run(&c, st, &again, 1, 2, &w), 0, "%s", w.res.errmsg);
  cr_assert(w.res.id > id);
  lp_ckpt_store_free(st);
  rt_client_close(&c);
  rt_redis_stop(&rs, SIGTERM);
}

Test(store, deltas_then_compaction_keep_the_key_count_bounded) {
  rt_redis rs = { 0 };
  cr_assert_eq(rt_redis_start(&rs), 0);
  rt_client c;
  rt_client_open(&c, rs.endpoint, 1);
  lp_ckpt_store *st = rt_store(&c, 0, 3, NULL);
  int32_t p0 = 0;
  rt_restore rr;
  cr_assert_eq(rt_restore_run(&c, st, &p0, 1, 1, &rr), 0);
  rt_restore_free(&rr);
  redisContext *s = rt_sync(&rs);
  lp_ckpt_offset o[2];
  rt_write w;
  char data[64];
  int fulls = 0, deltas = 0;
  for (int i = 0; i < 14; i++) {
    int kind = lp_ckpt_next_kind(st, 0);
    kind == LP_CKPT_FULL ? fulls++ : deltas++;
    snprintf(data, sizeof(data), "%s-%d", kind == LP_CKPT_FULL ? "full" : "delta", i);
    lp_ckpt_part p = rt_part(0, kind, data, o, 10 * i);
    cr_assert_eq(rt_write_run(&c, st, &p, 1, 1, &w), 0, "%s", w.res.errmsg);
    long keys = rt_count_keys(s, "lp:v1:{p0}:*");
    cr_assert(keys <= 1 + 1 + 3, "meta + full + at most 3 deltas, got %ld", keys);
  }
  cr_assert_eq(fulls, 4, "a full every 1 + 3 writes");
  cr_assert_eq(deltas, 10);
  /* a delta where a full is due is refused before anything is sent */
  cr_assert_eq(lp_ckpt_next_kind(st, 0), LP_CKPT_DELTA);
  lp_ckpt_part p = rt_part(0, LP_CKPT_DELTA, "d", o, 999);
  cr_assert_eq(rt_write_run(&c, st, &p, 1, 1, &w), 0);
  cr_assert_eq(lp_ckpt_next_kind(st, 0), LP_CKPT_DELTA);
  p.data = "e";
  cr_assert_eq(rt_write_run(&c, st, &p, 1, 1, &w), 0);
  cr_assert_eq(lp_ckpt_next_kind(st, 0), LP_CKPT_FULL);
  cr_assert_eq(rt_write_run(&c, st, &p, 1, 1, &w), LP_EINVAL);
  cr_assert(strstr(w.res.errmsg, "needs a full snapshot") != NULL, "%s", w.res.errmsg);

  /* the chain reads back in order: the full of write 12, the delta of 13, then d and e */
  lp_ckpt_store *st2 = rt_store(&c, 0, 3, NULL);
  cr_assert_eq(rt_restore_run(&c, st2, &p0, 1, 1, &rr), 0, "%s", rr.errmsg);
  cr_assert_eq(rr.states[0].nblobs, 4);
  cr_assert_str_eq(rr.states[0].blobs[0], "full-12");
  cr_assert_str_eq(rr.states[0].blobs[1], "delta-13");
  cr_assert_str_eq(rr.states[0].blobs[2], "d");
  cr_assert_str_eq(rr.states[0].blobs[3], "e");
  cr_assert_eq(rr.states[0].meta.offsets[0].offset, 999);
  rt_restore_free(&rr);
  cr_assert_eq(lp_ckpt_next_kind(st2, 0), LP_CKPT_FULL, "3 deltas on the restored chain: a full is due");
  lp_ckpt_store_free(st2);
  redisFree(s);
  lp_ckpt_store_free(st);
  rt_client_close(&c);
  rt_redis_stop(&rs, SIGTERM);
}

Test(store, bad_calls_are_refused_before_sending) {
  rt_redis rs = { 0 };
  cr_assert_eq(rt_redis_start(&rs), 0);
  rt_client c;
  rt_client_open(&c, rs.endpoint, 1);
  lp_ckpt_store *st = rt_store(&c, 0, 0, NULL);
  lp_ckpt_offset o[2];
  lp_ckpt_part p = rt_part(5, LP_CKPT_FULL, "x", o, 1);
  rt_write w;
  cr_assert_eq(rt_write_run(&c, st, &p, 1, 1, &w), LP_ESTATE, "never restored");
  cr_assert(strstr(w.res.errmsg, "restore it before writing") != NULL, "%s", w.res.errmsg);
  int32_t p5 = 5;
  rt_restore rr;
  cr_assert_eq(rt_restore_run(&c, st, &p5, 1, 1, &rr), 0);
  lp_ckpt_part two[2] = { p, p };
  cr_assert_eq(rt_write_run(&c, st, two, 2, 1, &w), LP_EINVAL);
  cr_assert(strstr(w.res.errmsg, "given twice") != NULL);
  cr_assert_eq(rt_write_run(&c, st, &p, 1, -1, &w), LP_EINVAL, "a negative epoch");
  p.partition = LP_CKPT_MAX_PARTITION + 1;
  cr_assert_eq(rt_write_run(&c, st, &p, 1, 1, &w), LP_ERANGE);
  int32_t bad = -7;
  cr_assert_eq(lp_ckpt_restore(st, &bad, 1, 1, rt_on_restore, &rr), LP_ERANGE);
  /* one operation at a time */
  p.partition = 5;
  char err[128];
  cr_assert_eq(lp_ckpt_write(st, &p, 1, 1, rt_on_write, &w, err, sizeof(err)), 0);
  cr_assert_eq(lp_ckpt_write(st, &p, 1, 1, rt_on_write, &w, err, sizeof(err)), LP_EAGAIN);
  cr_assert_eq(lp_ckpt_restore(st, &p5, 1, 1, rt_on_restore, &rr), LP_EAGAIN);
  cr_assert(rt_run_until(&c.loop, &w.done, 5000));
  lp_ckpt_opts bo = { .redis = c.r, .max_deltas = 65 };
  lp_ckpt_store *b = NULL;
  cr_assert_eq(lp_ckpt_store_new(&bo, &b, err, sizeof(err)), LP_EINVAL);
  bo.max_deltas = 0;
  bo.global_name = "with space";
  cr_assert_eq(lp_ckpt_store_new(&bo, &b, err, sizeof(err)), LP_EINVAL);
  lp_ckpt_store_free(st);
  rt_client_close(&c);
  rt_redis_stop(&rs, SIGTERM);
}

/* Cluster mode: one script per partition, each touching one slot; a refused partition does not stop the
 * others. */
Test(store, cluster_mode_is_atomic_per_partition) {
  rt_redis rs = { 0 };
  cr_assert_eq(rt_redis_start(&rs), 0);
  rt_client c;
  rt_client_open(&c, rs.endpoint, 1);
  lp_ckpt_store *st = rt_store(&c, 1, 0, NULL);
  rt_restore rr;
  cr_assert_eq(rt_restore_run(&c, st, P012G, 4, 3, &rr), 0);
  rt_restore_free(&rr);
  /* partition 1 moves to a newer owner (epoch 4) before this checkpoint */
  rt_client c2;
  rt_client_open(&c2, rs.endpoint, 1);
  lp_ckpt_store *other = rt_store(&c2, 1, 0, NULL);
  int32_t p1 = 1;
  cr_assert_eq(rt_restore_run(&c2, other, &p1, 1, 4, &rr), 0);
  rt_restore_free(&rr);
  lp_ckpt_offset o[4][2];
  lp_ckpt_part parts[4] = { rt_part(0, LP_CKPT_FULL, "a", o[0], 1), rt_part(1, LP_CKPT_FULL, "b", o[1], 1),
                            rt_part(2, LP_CKPT_FULL, "c", o[2], 1),
                            rt_part(LP_CKPT_GLOBAL, LP_CKPT_FULL, "g", o[3], 0) };
  rt_write w;
  cr_assert_eq(rt_write_run(&c, st, parts, 4, 3, &w), LP_ESTATE);
  cr_assert_eq(w.res.failed, 1, "only partition 1");
  cr_assert(strstr(w.res.errmsg, "lp:v1:{p1}:meta is fenced") != NULL, "%s", w.res.errmsg);
  redisContext *s = rt_sync(&rs);
  cr_assert_eq(rt_count_keys(s, "lp:v1:{p0}:*"), 2);
  cr_assert_eq(rt_count_keys(s, "lp:v1:{p2}:*"), 2);
  cr_assert_eq(rt_count_keys(s, "lp:v1:{global}:*"), 2);
  cr_assert_eq(rt_count_keys(s, "lp:v1:{p1}:full:*"), 0);
  /* the fenced partition must be restored (and so re-claimed) before this store writes it again */
  cr_assert_eq(rt_write_run(&c, st, &parts[1], 1, 3, &w), LP_ESTATE);
  cr_assert(strstr(w.res.errmsg, "restore it") != NULL, "%s", w.res.errmsg);
  redisFree(s);
  lp_ckpt_store_free(other);
  rt_client_close(&c2);
  lp_ckpt_store_free(st);
  rt_client_close(&c);
  rt_redis_stop(&rs, SIGTERM);
}

Test(store, metrics_are_registered_and_updated) {
  rt_redis rs = { 0 };
  cr_assert_eq(rt_redis_start(&rs), 0);
  rt_client c;
  rt_client_open(&c, rs.endpoint, 1);
  lp_metrics *m = NULL;
  cr_assert_eq(lp_metrics_new(&m, 100), 0);
  lp_ckpt_store *st = rt_store(&c, 0, 0, NULL);
  cr_assert_eq(lp_ckpt_store_metrics(st, m), 0);
  int32_t p0 = 0;
  rt_restore rr;
  cr_assert_eq(rt_restore_run(&c, st, &p0, 1, 1, &rr), 0);
  lp_ckpt_offset o[2];
  lp_ckpt_part p = rt_part(0, LP_CKPT_FULL, "x", o, 1);
  rt_write w;
  cr_assert_eq(rt_write_run(&c, st, &p, 1, 1, &w), 0);
  lp_buf b = LP_BUF_INIT;
  cr_assert_eq(lp_metrics_render(m, &b), 0);
  cr_assert(strstr(b.data, "leadpoet_checkpoint_duration_seconds_count 1") != NULL, "%s", b.data);
  cr_assert(strstr(b.data, "leadpoet_checkpoint_last_success_timestamp_seconds 1") != NULL);
  cr_assert(strstr(b.data, "leadpoet_checkpoint_bytes_total") != NULL);
  cr_assert(strstr(b.data, "leadpoet_checkpoint_failures_total 0") != NULL);
  lp_buf_free(&b);
  lp_ckpt_store_free(st);
  lp_metrics_free(m);
  rt_client_close(&c);
  rt_redis_stop(&rs, SIGTERM);
}

/* Redis killed in the middle: writes fail fast while it is gone, the client comes back by itself, and the
 * next checkpoint lands. Redis restarted without persistence has lost everything: a delta on top of the
 * lost chain is refused (never a dangling delta), a full snapshot lands. */
Test(store, redis_killed_and_restarted) {
  rt_redis rs = { 0 };
  cr_assert_eq(rt_redis_start(&rs), 0);
  rt_client c;
  rt_client_open(&c, rs.endpoint, 1);
  lp_ckpt_store *st = rt_store(&c, 0, 0, NULL);
  int32_t p[] = { 0, 1 };
  rt_restore rr;
  cr_assert_eq(rt_restore_run(&c, st, p, 2, 1, &rr), 0);
  lp_ckpt_offset o[2][2];
  lp_ckpt_part parts[2] = { rt_part(0, LP_CKPT_FULL, "zero", o[0], 5), rt_part(1, LP_CKPT_FULL, "one", o[1], 6) };
  rt_write w;
  cr_assert_eq(rt_write_run(&c, st, parts, 2, 1, &w), 0, "%s", w.res.errmsg);

  /* a write in flight when Redis dies: it fails (outcome unknown), both partitions need a full next */
  parts[0].kind = parts[1].kind = LP_CKPT_DELTA;
  char err[256];
  memset(&w, 0, sizeof(w));
  cr_assert_eq(lp_ckpt_write(st, parts, 2, 1, rt_on_write, &w, err, sizeof(err)), 0, "%s", err);
  rt_redis_stop(&rs, SIGKILL);
  cr_assert(rt_run_until(&c.loop, &w.done, 5000), "the write in flight is answered");
  if (w.res.err != 0) {
    cr_assert_eq(lp_ckpt_next_kind(st, 0), LP_CKPT_FULL);
    cr_assert_eq(lp_ckpt_next_kind(st, 1), LP_CKPT_FULL);
  }
  cr_assert(rt_run_until(&c.loop, &c.downs, 3000));
  lp_ckpt_stats stats;
  lp_ckpt_store_stats(st, &stats);
  parts[0].kind = parts[1].kind = LP_CKPT_FULL;
  cr_assert_eq(lp_ckpt_write(st, parts, 2, 1, rt_on_write, &w, err, sizeof(err)), LP_EAGAIN, "fails fast");
  cr_assert(strstr(err, "not connected") != NULL);

  cr_assert_eq(rt_redis_start(&rs), 0);
  c.ups = 0;
  cr_assert(rt_run_until(&c.loop, &c.ups, 5000), "reconnected: %s", lp_redis_last_error(c.r));
  /* this Redis lost the chain: a delta would be refused (CONFLICT), a full lands */
  if (lp_ckpt_next_kind(st, 0) == LP_CKPT_DELTA) {
    parts[0].kind = LP_CKPT_DELTA;
    cr_assert_eq(rt_write_run(&c, st, parts, 1, 1, &w), LP_ESTATE);
    cr_assert(strstr(w.res.errmsg, "moved by another writer") != NULL, "%s", w.res.errmsg);
    cr_assert_eq(rt_restore_run(&c, st, p, 2, 1, &rr), 0);
    parts[0].kind = LP_CKPT_FULL;
  }
  cr_assert_eq(rt_write_run(&c, st, parts, 2, 1, &w), 0, "the next checkpoint lands: %s", w.res.errmsg);
  lp_ckpt_store *check = rt_store(&c, 0, 0, NULL);
  cr_assert_eq(rt_restore_run(&c, check, p, 2, 0, &rr), 0, "%s", rr.errmsg);
  cr_assert(rr.states[0].found && rr.states[1].found);
  cr_assert_str_eq(rr.states[1].blobs[0], "one");
  rt_restore_free(&rr);
  lp_ckpt_store_free(check);
  lp_ckpt_store_free(st);
  rt_client_close(&c);
  rt_redis_stop(&rs, SIGTERM);
}
