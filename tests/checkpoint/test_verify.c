/* Reading back what is not right: corruption, truncation, a newer schema, migrations, a zombie writer. */
#include "checkpoint/redis_fixture.h"

/* Writes a full + one delta for partitions 0 and 3 and the global slot with a store of schema sc. */
static void seed(rt_client *c, const lp_ckpt_schema *sc) {
  lp_ckpt_store *st = rt_store(c, 0, 0, sc);
  int32_t p[] = { 0, 3, LP_CKPT_GLOBAL };
  rt_restore rr;
  cr_assert_eq(rt_restore_run(c, st, p, 3, 1, &rr), 0, "%s", rr.errmsg);
  lp_ckpt_offset o[3][2];
  lp_ckpt_part parts[3] = { rt_part(0, LP_CKPT_FULL, "zero-full-state", o[0], 10),
                            rt_part(3, LP_CKPT_FULL, "three-full-state", o[1], 30),
                            rt_part(LP_CKPT_GLOBAL, LP_CKPT_FULL, "global-state", o[2], 0) };
  parts[2].noffsets = 0;
  rt_write w;
  cr_assert_eq(rt_write_run(c, st, parts, 3, 1, &w), 0, "%s", w.res.errmsg);
  parts[0] = rt_part(0, LP_CKPT_DELTA, "zero-delta", o[0], 11);
  parts[1] = rt_part(3, LP_CKPT_DELTA, "three-delta", o[1], 31);
  cr_assert_eq(rt_write_run(c, st, parts, 2, 1, &w), 0, "%s", w.res.errmsg);
  lp_ckpt_store_free(st);
}

static int restore_one(rt_client *c, int32_t p, const lp_ckpt_schema *sc, rt_restore *rr) {
  lp_ckpt_store *st = rt_store(c, 0, 0, sc);
  int rc = rt_restore_run(c, st, &p, 1, 0, rr);
  lp_ckpt_store_free(st);
  return rc;
}

/* Overwrites key with bytes. */
static void overwrite(const rt_redis *rs, const char *key, const char *bytes, size_t n) {
  redisContext *s = rt_sync(rs);
  redisReply *r = redisCommand(s, "SET %s %b", key, bytes, n);
  cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS);
  freeReplyObject(r);
  redisFree(s);
}

/* The key of partition p's blob of a kind (its only one). */
static void blob_key(const rt_redis *rs, int32_t p, const char *kind, char *out, size_t cap) {
  redisContext *s = rt_sync(rs);
  redisReply *r = redisCommand(s, "KEYS lp:v1:{p%d}:%s:*", (int)p, kind);
  cr_assert(r != NULL && r->elements == 1);
  snprintf(out, cap, "%s", r->element[0]->str);
  freeReplyObject(r);
  redisFree(s);
}

Test(verify, truncated_and_corrupt_blobs_are_named) {
  rt_redis rs = { 0 };
  cr_assert_eq(rt_redis_start(&rs), 0);
  rt_client c;
  rt_client_open(&c, rs.endpoint, 1);
  seed(&c, NULL);
  rt_restore rr;
  cr_assert_eq(restore_one(&c, 0, NULL, &rr), 0, "%s", rr.errmsg);
  rt_restore_free(&rr);
  char key[128];
  blob_key(&rs, 0, "full", key, sizeof(key));
  overwrite(&rs, key, "zero-full", 9);
  cr_assert_eq(restore_one(&c, 0, NULL, &rr), LP_EINVAL);
  cr_assert(strstr(rr.errmsg, key) != NULL && strstr(rr.errmsg, "truncated: 9 bytes, the meta says 15") != NULL, "%s",
            rr.errmsg);
  overwrite(&rs, key, "zero-fulX-state", 15);
  cr_assert_eq(restore_one(&c, 0, NULL, &rr), LP_EINVAL);
  cr_assert(strstr(rr.errmsg, key) != NULL && strstr(rr.errmsg, "is corrupt: XXH3") != NULL, "%s", rr.errmsg);
  blob_key(&rs, 3, "delta", key, sizeof(key));
  redisContext *s = rt_sync(&rs);
  freeReplyObject(redisCommand(s, "DEL %s", key));
  cr_assert_eq(restore_one(&c, 3, NULL, &rr), LP_EINVAL);
  cr_assert(strstr(rr.errmsg, key) != NULL && strstr(rr.errmsg, "is missing") != NULL, "%s", rr.errmsg);
  /* a corrupt meta record */
  freeReplyObject(redisCommand(s, "HSET lp:v1:{global}:meta rec garbage"));
  cr_assert_eq(restore_one(&c, LP_CKPT_GLOBAL, NULL, &rr), LP_EINVAL);
  cr_assert(strstr(rr.errmsg, "lp:v1:{global}:meta is corrupt") != NULL, "%s", rr.errmsg);
  redisFree(s);
  rt_client_close(&c);
  rt_redis_stop(&rs, SIGTERM);
}

Test(verify, a_newer_schema_is_refused) {
  rt_redis rs = { 0 };
  cr_assert_eq(rt_redis_start(&rs), 0);
  rt_client c;
  rt_client_open(&c, rs.endpoint, 1);
  static const lp_ckpt_schema future = { .current = 3 };
  seed(&c, &future);
  rt_restore rr;
  cr_assert_eq(restore_one(&c, 3, NULL, &rr), LP_EINVAL);
  cr_assert(strstr(rr.errmsg, "checkpoint schema 3 is newer than this leadpoet (1); upgrade leadpoet") != NULL, "%s",
            rr.errmsg);
  cr_assert(strstr(rr.errmsg, "lp:v1:{p3}:meta") != NULL, "%s", rr.errmsg);
  /* the blocking reader says the same */
  redisContext *s = rt_sync(&rs);
  lp_ckpt_state st;
  char err[512];
  cr_assert_eq(lp_ckpt_read_sync(s, 3, NULL, NULL, &st, err, sizeof(err)), LP_EINVAL);
  cr_assert(strstr(err, "newer than this leadpoet") != NULL, "%s", err);
  redisFree(s);
  rt_client_close(&c);
  rt_redis_stop(&rs, SIGTERM);
}

/* A test migration 1 -> 2: schema 2 renamed the topic "miner.snippets" to "snippets.v2". */
static int migrate_1_to_2(lp_ckpt_meta *m, char *errstr, size_t errsz) {
  for (size_t i = 0; i < m->noffsets; i++)
    if (strcmp(m->offsets[i].topic, "miner.snippets") == 0) snprintf(m->offsets[i].topic, 128, "snippets.v2");
  if (m->noffsets == 0) {
    snprintf(errstr, errsz, "no offsets to migrate");
    return LP_EINVAL;
  }
  return LP_OK;
}

Test(verify, an_older_schema_is_migrated) {
  rt_redis rs = { 0 };
  cr_assert_eq(rt_redis_start(&rs), 0);
  rt_client c;
  rt_client_open(&c, rs.endpoint, 1);
  seed(&c, NULL);  /* schema 1 */
  static const lp_ckpt_schema v2 = { .current = 2, .steps = { [1] = migrate_1_to_2 } };
  rt_restore rr;
  cr_assert_eq(restore_one(&c, 0, &v2, &rr), 0, "%s", rr.errmsg);
  cr_assert_eq(rr.states[0].meta.schema, 1, "the schema it was written with");
  cr_assert_str_eq(rr.states[0].meta.offsets[0].topic, "snippets.v2");
  cr_assert_eq(rr.states[0].meta.offsets[0].offset, 11);
  cr_assert_eq(rr.states[0].nblobs, 2, "the blobs are untouched");
  rt_restore_free(&rr);
  /* schema 1 read by schema 1: the identity */
  cr_assert_eq(restore_one(&c, 0, NULL, &rr), 0);
  cr_assert_str_eq(rr.states[0].meta.offsets[0].topic, "miner.snippets");
  rt_restore_free(&rr);
  /* a missing step, and a failing step, refuse the record */
  static const lp_ckpt_schema gap = { .current = 2 };
  cr_assert_eq(restore_one(&c, 0, &gap, &rr), LP_EINVAL);
  cr_assert(strstr(rr.errmsg, "no migration from checkpoint schema 1 to 2") != NULL, "%s", rr.errmsg);
  cr_assert_eq(restore_one(&c, LP_CKPT_GLOBAL, &v2, &rr), LP_EINVAL, "the global slot has no offsets");
  cr_assert(strstr(rr.errmsg, "migration of checkpoint schema 1 to 2 failed: no offsets") != NULL, "%s", rr.errmsg);
  rt_client_close(&c);
  rt_redis_stop(&rs, SIGTERM);
}

/* A zombie: the old owner (epoch 1) keeps writing after the partition moved to epoch 2. */
Test(verify, a_zombie_cannot_overwrite_the_new_owner) {
  rt_redis rs = { 0 };
  cr_assert_eq(rt_redis_start(&rs), 0);
  rt_client c;
  rt_client_open(&c, rs.endpoint, 1);
  lp_ckpt_store *old = rt_store(&c, 0, 0, NULL);
  lp_ckpt_store *neu = rt_store(&c, 0, 0, NULL);
  int32_t p[] = { 0, 1 };
  rt_restore rr;
  cr_assert_eq(rt_restore_run(&c, old, p, 2, 1, &rr), 0);
  lp_ckpt_offset o[2][2];
  lp_ckpt_part parts[2] = { rt_part(0, LP_CKPT_FULL, "old-0", o[0], 1), rt_part(1, LP_CKPT_FULL, "old-1", o[1], 1) };
  rt_write w;
  cr_assert_eq(rt_write_run(&c, old, parts, 2, 1, &w), 0);
  /* partition 1 moves: the new owner claims it with epoch 2 when it restores */
  cr_assert_eq(rt_restore_run(&c, neu, &p[1], 1, 2, &rr), 0);
  cr_assert_str_eq(rr.states[0].blobs[0], "old-1");
  rt_restore_free(&rr);
  /* the zombie's next checkpoint (both partitions, one transaction) is refused as a whole */
  parts[0] = rt_part(0, LP_CKPT_DELTA, "zombie-0", o[0], 2);
  parts[1] = rt_part(1, LP_CKPT_DELTA, "zombie-1", o[1], 2);
  cr_assert_eq(rt_write_run(&c, old, parts, 2, 1, &w), LP_ESTATE);
  cr_assert(strstr(w.res.errmsg, "lp:v1:{p1}:meta is fenced: epoch 2 claimed it, this writer has 1") != NULL, "%s",
            w.res.errmsg);
  cr_assert_eq(w.res.failed, 2, "all or nothing");
  /* nothing of it landed: partition 0 still has its one full */
  redisContext *s = rt_sync(&rs);
  cr_assert_eq(rt_count_keys(s, "lp:v1:{p0}:delta:*"), 0);
  /* the zombie cannot claim it back with its old epoch either */
  cr_assert_eq(rt_restore_run(&c, old, &p[1], 1, 1, &rr), LP_ESTATE);
  cr_assert(strstr(rr.errmsg, "fenced") != NULL, "%s", rr.errmsg);
  /* the new owner writes on */
  lp_ckpt_part mine = rt_part(1, LP_CKPT_DELTA, "new-1", o[1], 3);
  cr_assert_eq(rt_write_run(&c, neu, &mine, 1, 2, &w), 0, "%s", w.res.errmsg);
  /* the same epoch with a stale chain (a second writer by mistake) is a conflict, not an overwrite */
  lp_ckpt_store *twin = rt_store(&c, 0, 0, NULL);
  cr_assert_eq(rt_restore_run(&c, twin, &p[1], 1, 2, &rr), 0);
  rt_restore_free(&rr);
  mine.data = "new-1b";
  mine.len = 6;
  cr_assert_eq(rt_write_run(&c, neu, &mine, 1, 2, &w), 0);
  mine.data = "twin";
  mine.len = 4;
  cr_assert_eq(rt_write_run(&c, twin, &mine, 1, 2, &w), LP_ESTATE);
  cr_assert(strstr(w.res.errmsg, "moved by another writer") != NULL, "%s", w.res.errmsg);
  /* a third owner claims "next" (fence + 1 = 3) and writes with the epoch it claimed (epoch 0) */
  lp_ckpt_store *third = rt_store(&c, 0, 0, NULL);
  cr_assert_eq(rt_restore_run(&c, third, &p[1], 1, LP_CKPT_CLAIM_NEXT, &rr), 0, "%s", rr.errmsg);
  cr_assert_eq(rr.states[0].meta.fence, 3);
  cr_assert_str_eq(rr.states[0].blobs[2], "new-1b", "full, delta new-1, delta new-1b");
  rt_restore_free(&rr);
  mine.data = "third";
  mine.len = 5;
  cr_assert_eq(rt_write_run(&c, third, &mine, 1, 0, &w), 0, "%s", w.res.errmsg);
  cr_assert_eq(rt_write_run(&c, neu, &mine, 1, 0, &w), LP_ESTATE, "epoch 2 is fenced now");
  /* read without a claim: no epoch to write with */
  lp_ckpt_store *reader = rt_store(&c, 0, 0, NULL);
  cr_assert_eq(rt_restore_run(&c, reader, &p[1], 1, 0, &rr), 0);
  cr_assert_eq(rr.states[0].meta.epoch, 3);
  rt_restore_free(&rr);
  mine.kind = LP_CKPT_FULL;
  cr_assert_eq(rt_write_run(&c, reader, &mine, 1, 0, &w), LP_ESTATE);
  cr_assert(strstr(w.res.errmsg, "without a claim") != NULL, "%s", w.res.errmsg);
  lp_ckpt_store_free(reader);
  lp_ckpt_store_free(third);
  redisFree(s);
  lp_ckpt_store_free(twin);
  lp_ckpt_store_free(old);
  lp_ckpt_store_free(neu);
  rt_client_close(&c);
  rt_redis_stop(&rs, SIGTERM);
}
