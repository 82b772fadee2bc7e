/* The "ingest" stage: duplicates dropped, generations rotate in fixed memory, save/load round trip. */
#include <stdlib.h>

#include "fixtures.h"

static size_t live_bytes;   /* what the stage holds through the host API */

static void *t_malloc(size_t n) {
  size_t *p = malloc(n + sizeof(size_t));
  if (!p) return NULL;
  *p = n;
  live_bytes += n;
  return p + 1;
}
static void *t_calloc(size_t c, size_t n) {
  void *p = t_malloc(c * n);
  if (p) memset(p, 0, c * n);
  return p;
}
static void t_free(void *p) {
  if (!p) return;
  size_t *h = (size_t *)p - 1;
  live_bytes -= *h;
  free(h);
}
static void *t_realloc(void *p, size_t n) {
  void *q = t_malloc(n);
  if (q && p) {
    size_t old = ((size_t *)p)[-1];
    memcpy(q, p, old < n ? old : n);
    t_free(p);
  }
  return q;
}

static lp_host_api host = {
  .abi_major = LP_STAGE_ABI_MAJOR, .abi_minor = LP_STAGE_ABI_MINOR, .struct_size = sizeof(lp_host_api),
  .malloc = t_malloc, .calloc = t_calloc, .realloc = t_realloc, .free = t_free,
};

typedef struct fixture {
  const lp_stage_desc *d;
  void *stage;
  void *shard;
} fixture;

static void open_stage(fixture *f, int64_t capacity) {
  lp_ingest_conf conf = { capacity };
  char err[128] = "";
  f->d = lp_stage_ingest_entry();
  cr_assert_eq(f->d->init(&host, &conf, &f->stage, err, sizeof(err)), LP_OK, "%s", err);
  cr_assert_eq(f->d->shard_open(f->stage, 0, &f->shard), LP_OK);
}

static void close_stage(fixture *f) {
  f->d->shard_close(f->stage, f->shard);
  f->d->destroy(f->stage);
}

static int snip(fixture *f, const char *miner, const char *id, lp_verdict *v) {
  lp_snippet s;
  memset(&s, 0, sizeof(s));
  s.miner = (lp_str){ miner, strlen(miner) };
  s.id = (lp_str){ id, strlen(id) };
  return f->d->on_snippet(f->shard, &s, v);
}

static int outc(fixture *f, const char *id, lp_verdict *v) {
  lp_outcome o;
  memset(&o, 0, sizeof(o));
  o.id = (lp_str){ id, strlen(id) };
  return f->d->on_outcome(f->shard, &o, v);
}

Test(dedupe, descriptor) {
  const lp_stage_desc *d = lp_stage_ingest_entry();
  cr_assert_eq(d->abi_major, LP_STAGE_ABI_MAJOR);
  cr_assert_eq(d->struct_size, sizeof(lp_stage_desc));
  cr_assert_str_eq(d->name, "ingest");
  cr_assert_str_eq(d->conf_keys[0].key, "dedupe_capacity");
  cr_assert_eq(d->conf_keys[0].type, LP_CONF_INT);
  cr_assert_str_eq(d->conf_keys[0].def, "262144");
  cr_assert_eq(d->conf_keys[0].min, 1024);
  cr_assert_eq(d->conf_keys[0].max, 67108864);
  cr_assert_null(d->conf_keys[1].key);
  cr_assert_eq(d->conf_size, sizeof(lp_ingest_conf));
}

Test(dedupe, init_refuses_out_of_bounds_capacity) {
  lp_ingest_conf conf = { 10 };
  void *st = NULL;
  char err[128] = "";
  cr_assert_eq(lp_stage_ingest_entry()->init(&host, &conf, &st, err, sizeof(err)), LP_ECONFIG);
  cr_assert(strstr(err, "dedupe_capacity") != NULL, "%s", err);
  cr_assert_null(st);
}

Test(dedupe, duplicate_dropped) {
  fixture f;
  lp_verdict v = { 0 };
  open_stage(&f, 1024);
  cr_assert_eq(snip(&f, "m1", "a", &v), LP_STAGE_CONTINUE);
  cr_assert_eq(snip(&f, "m1", "b", &v), LP_STAGE_CONTINUE);
  cr_assert_eq(snip(&f, "m2", "a", &v), LP_STAGE_CONTINUE, "same id, another miner");
  cr_assert_eq(snip(&f, "m1a", "", &v), LP_STAGE_CONTINUE);
  cr_assert_eq(snip(&f, "m1", "aa", &v), LP_STAGE_CONTINUE, "the separator keeps (m1,aa) apart from (m1a,)");
  cr_assert_eq(snip(&f, "m1", "a", &v), LP_STAGE_DROP);
  cr_assert_str_eq(v.code, "duplicate");
  cr_assert_eq(outc(&f, "a", &v), LP_STAGE_CONTINUE, "outcomes have their own key space");
  cr_assert_eq(outc(&f, "a", &v), LP_STAGE_DROP);
  cr_assert_str_eq(v.code, "duplicate");
  close_stage(&f);
  cr_assert_eq(live_bytes, 0, "everything given back");
}

Test(dedupe, generations_rotate_in_fixed_memory) {
  fixture f;
  lp_verdict v = { 0 };
  char id[32];
  live_bytes = 0;
  open_stage(&f, 4096);
  size_t empty = live_bytes;
  /* 4096 keys fill the current generation; 4096 more rotate it into previous: all 8192 are remembered.
   * The tables grow with use, up to the bound. */
  for (int i = 0; i < 2048; i++) {
    snprintf(id, sizeof(id), "k%d", i);
    cr_assert_eq(snip(&f, "m", id, &v), LP_STAGE_CONTINUE);
  }
  cr_assert_gt(live_bytes, empty, "memory follows use");
  for (int i = 2048; i < 8192; i++) {
    snprintf(id, sizeof(id), "k%d", i);
    cr_assert_eq(snip(&f, "m", id, &v), LP_STAGE_CONTINUE);
  }
  size_t mem = live_bytes;
  cr_assert_leq(mem, 2 * (4096 + 4096 / 3 + 1) * sizeof(uint64_t) + 4096, "within the bound");
  for (int i = 0; i < 8192; i += 97) {
    snprintf(id, sizeof(id), "k%d", i);
    cr_assert_eq(snip(&f, "m", id, &v), LP_STAGE_DROP, "key %d forgotten too early", i);
  }
  /* One more rotation drops the oldest generation: the first 4096 keys are forgotten, the newest kept. */
  for (int i = 8192; i < 12288 + 1; i++) {
    snprintf(id, sizeof(id), "k%d", i);
    cr_assert_eq(snip(&f, "m", id, &v), LP_STAGE_CONTINUE);
  }
  cr_assert_eq(snip(&f, "m", "k0", &v), LP_STAGE_CONTINUE, "the oldest generation is gone");
  cr_assert_eq(snip(&f, "m", "k12000", &v), LP_STAGE_DROP);
  cr_assert_eq(live_bytes, mem, "memory stays at its bound once both generations are full");
  close_stage(&f);
}

/* An lp_writer into a growing buffer. */
typedef struct membuf {
  lp_writer w;
  unsigned char *data;
  size_t len, cap;
  int fail;
} membuf;

static int mem_write(lp_writer *w, const void *p, size_t n) {
  membuf *b = (membuf *)w;
  if (b->fail) return -1;
  if (b->len + n > b->cap) {
    b->cap = (b->len + n) * 2;
    b->data = realloc(b->data, b->cap);
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

Test(dedupe, save_load_round_trip) {
  fixture a, b;
  lp_verdict v = { 0 };
  char id[32];
  membuf m = { { mem_write, NULL }, NULL, 0, 0, 0 };
  open_stage(&a, 1024);
  for (int i = 0; i < 1500; i++) {
    snprintf(id, sizeof(id), "k%d", i);
    snip(&a, "m", id, &v);
  }
  outc(&a, "o-1", &v);
  cr_assert_eq(a.d->save(a.shard, &m.w), LP_OK);
  cr_assert_eq(m.len, 24 + 8 * 1501);
  open_stage(&b, 1024);
  cr_assert_eq(b.d->load(b.shard, m.data, m.len), LP_OK);
  for (int i = 0; i < 1500; i += 7) {
    snprintf(id, sizeof(id), "k%d", i);
    cr_assert_eq(snip(&b, "m", id, &v), LP_STAGE_DROP, "key %d lost", i);
  }
  cr_assert_eq(outc(&b, "o-1", &v), LP_STAGE_DROP);
  cr_assert_eq(snip(&b, "m", "new", &v), LP_STAGE_CONTINUE);
  /* A write error is reported. */
  m.fail = 1;
  cr_assert_eq(a.d->save(a.shard, &m.w), LP_EIO);
  close_stage(&a);
  close_stage(&b);
  free(m.data);
}

Test(dedupe, corrupt_load_refused) {
  fixture f;
  lp_verdict v = { 0 };
  membuf m = { { mem_write, NULL }, NULL, 0, 0, 0 };
  open_stage(&f, 1024);
  snip(&f, "m", "kept", &v);
  cr_assert_eq(f.d->save(f.shard, &m.w), LP_OK);
  unsigned char *buf = malloc(m.len + 8);
  /* Short, empty, NULL. */
  cr_assert_eq(f.d->load(f.shard, m.data, 10), LP_EINVAL);
  cr_assert_eq(f.d->load(f.shard, m.data, 0), LP_EINVAL);
  cr_assert_eq(f.d->load(f.shard, NULL, 0), LP_EINVAL);
  /* Bad magic. */
  memcpy(buf, m.data, m.len);
  buf[0] = 'X';
  cr_assert_eq(f.d->load(f.shard, buf, m.len), LP_EINVAL);
  /* Newer version. */
  memcpy(buf, m.data, m.len);
  buf[4] = 2;
  cr_assert_eq(f.d->load(f.shard, buf, m.len), LP_EINVAL);
  /* Counts that do not match the length, a truncated key, trailing bytes. */
  memcpy(buf, m.data, m.len);
  buf[16] = 9;
  cr_assert_eq(f.d->load(f.shard, buf, m.len), LP_EINVAL);
  cr_assert_eq(f.d->load(f.shard, m.data, m.len - 1), LP_EINVAL);
  memcpy(buf, m.data, m.len);
  memset(buf + m.len, 0, 8);
  cr_assert_eq(f.d->load(f.shard, buf, m.len + 8), LP_EINVAL);
  /* Nothing was changed by the refused loads. */
  cr_assert_eq(snip(&f, "m", "kept", &v), LP_STAGE_DROP);
  /* An empty but valid state loads and forgets. */
  cr_assert_eq(f.d->load(f.shard, "LPDD\x01\0\0\0\0\x04\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 24), LP_OK);
  cr_assert_eq(snip(&f, "m", "kept", &v), LP_STAGE_CONTINUE);
  free(buf);
  free(m.data);
  close_stage(&f);
}
