/*
 * dedupe.c: the built-in stage "ingest": drops a snippet whose (miner, id) or an outcome whose id was seen
 * recently on this shard, in fixed memory.
 *
 * Each shard keeps two generations of 64-bit fingerprints (open addressing, load <= 3/4): lookups check
 * both, inserts go to the current one; when the current one holds `dedupe_capacity` keys it becomes the
 * previous one and the old previous one is forgotten. So at least the last dedupe_capacity keys are always
 * remembered, at most twice that, and memory never grows. A fingerprint collision (probability about
 * keys / 2^64 per event) would drop one legitimate event: negligible next to the capacity bound itself.
 *
 * The same key always lands on the same shard (the core routes by the lead's domain, and a duplicate
 * carries the same domain), so per-shard state sees every duplicate.
 */
#include <stdio.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY  /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "stages/ingest/ingest.h"

#define DEDUPE_MAGIC "LPDD"
#define DEDUPE_VERSION 1u
#define DEDUPE_HEADER 24   /* magic 4, version 4, capacity 8, n_current 4, n_previous 4 */

typedef struct ingest_stage {
  const lp_host_api *host;
  uint64_t capacity;
} ingest_stage;

typedef struct fp_table {
  uint64_t *slots;   /* 0 = empty; a fingerprint of 0 is stored as 1 */
  uint64_t nslots;   /* grows by doubling up to max_slots, so memory follows use, not capacity */
  uint64_t max_slots;
  uint64_t count;
} fp_table;

#define FP_INITIAL_SLOTS 1024

typedef struct ingest_shard {
  const ingest_stage *stage;
  fp_table gen[2];   /* [cur] receives inserts, the other is the previous generation */
  int cur;
} ingest_shard;

uint64_t lp_ingest_snippet_key(lp_str miner, lp_str id) {
  XXH3_state_t st;
  XXH3_64bits_reset(&st);
  XXH3_64bits_update(&st, miner.ptr, miner.len);
  XXH3_64bits_update(&st, "", 1);
  XXH3_64bits_update(&st, id.ptr, id.len);
  return XXH3_64bits_digest(&st);
}

uint64_t lp_ingest_outcome_key(lp_str id) {
  XXH3_state_t st;
  XXH3_64bits_reset(&st);
  XXH3_64bits_update(&st, "o", 2);
  XXH3_64bits_update(&st, id.ptr, id.len);
  return XXH3_64bits_digest(&st);
}

/* ---- Fingerprint tables ------------------------------------------------------------------------- */

/* Slot of a fingerprint: multiply-shift onto [0, nslots), so nslots need not be a power of two. */
static uint64_t fp_home(uint64_t fp, uint64_t nslots) {
  return (uint64_t)(((unsigned __int128)fp * nslots) >> 64);
}

static int fp_has(const fp_table *t, uint64_t fp) {
  uint64_t i = fp_home(fp, t->nslots);
  while (t->slots[i] != 0) {
    if (t->slots[i] == fp) return 1;
    if (++i == t->nslots) i = 0;
  }
  return 0;
}

static void fp_put(fp_table *t, uint64_t fp) {
  uint64_t i = fp_home(fp, t->nslots);
  while (t->slots[i] != 0) {
    if (t->slots[i] == fp) return;
    if (++i == t->nslots) i = 0;
  }
  t->slots[i] = fp;
  t->count++;
}

/* Doubles the table (up to max_slots) and re-inserts every key. LP_ENOMEM leaves it unchanged. */
static int fp_grow(const lp_host_api *host, fp_table *t) {
  uint64_t n = t->nslots * 2 < t->max_slots ? t->nslots * 2 : t->max_slots;
  uint64_t *slots = host->calloc(n, sizeof(uint64_t));
  if (slots == NULL) return LP_ENOMEM;
  fp_table g = { slots, n, t->max_slots, 0 };
  for (uint64_t i = 0; i < t->nslots; i++)
    if (t->slots[i] != 0) fp_put(&g, t->slots[i]);
  host->free(t->slots);
  *t = g;
  return LP_OK;
}

static void fp_clear(fp_table *t) {
  memset(t->slots, 0, t->nslots * sizeof(uint64_t));
  t->count = 0;
}

/* Remembers fp; rotates generations first when the current one is full. */
static void shard_remember(ingest_shard *s, uint64_t fp) {
  fp_table *cur = &s->gen[s->cur];
  /* Grow while under capacity; when growing fails for lack of memory, rotate early: the window of
   * remembered keys shrinks, memory stays bounded, and nothing is misreported as a duplicate. */
  int rotate = cur->count >= s->stage->capacity;
  if (!rotate && (cur->count + 1) * 4 > cur->nslots * 3 && cur->nslots < cur->max_slots &&
      fp_grow(s->stage->host, cur) != LP_OK)
    rotate = cur->count + 1 >= cur->nslots;  /* keep one empty slot, so a probe always ends */
  if (rotate) {
    s->cur ^= 1;
    cur = &s->gen[s->cur];
    fp_clear(cur);
  }
  fp_put(cur, fp);
}

/* 1 if fp was seen (and then nothing changes), else remembers it and returns 0. */
static int shard_seen(ingest_shard *s, uint64_t fp) {
  if (fp == 0) fp = 1;
  if (fp_has(&s->gen[0], fp) || fp_has(&s->gen[1], fp)) return 1;
  shard_remember(s, fp);
  return 0;
}

/* ---- Stage callbacks ---------------------------------------------------------------------------- */

static const lp_conf_key ingest_conf_keys[] = {
  { "dedupe_capacity", LP_CONF_INT, "262144", 1024, 67108864, offsetof(lp_ingest_conf, dedupe_capacity),
    "(miner, id) and outcome id fingerprints each shard remembers at least, to drop duplicates; memory per "
    "shard is fixed at about 21 bytes x this" },
  { NULL, 0, NULL, 0, 0, 0, NULL },
};

static int ingest_init(const lp_host_api *host, const void *conf, void **stage, char *errstr, size_t errstr_size) {
  const lp_ingest_conf *c = conf;
  int64_t cap = c ? c->dedupe_capacity : 262144;
  if (cap < 1024 || cap > 67108864) {
    if (errstr && errstr_size) snprintf(errstr, errstr_size, "stage.ingest.dedupe_capacity %lld is out of 1024..67108864", (long long)cap);
    return LP_ECONFIG;
  }
  ingest_stage *st = host->calloc(1, sizeof(*st));
  if (!st) {
    if (errstr && errstr_size) snprintf(errstr, errstr_size, "out of memory");
    return LP_ENOMEM;
  }
  st->host = host;
  st->capacity = (uint64_t)cap;
  *stage = st;
  return LP_OK;
}

static void ingest_destroy(void *stage) {
  ingest_stage *st = stage;
  if (st) st->host->free(st);
}

static void ingest_shard_close(void *stage, void *shard_state) {
  ingest_shard *s = shard_state;
  const ingest_stage *st = stage;
  if (!s) return;
  st->host->free(s->gen[0].slots);
  st->host->free(s->gen[1].slots);
  st->host->free(s);
}

static int ingest_shard_open(void *stage, uint32_t shard, void **shard_state) {
  const ingest_stage *st = stage;
  ingest_shard *s = st->host->calloc(1, sizeof(*s));
  uint64_t max_slots = st->capacity + st->capacity / 3 + 1;   /* load <= 3/4 when full */
  uint64_t nslots = max_slots < FP_INITIAL_SLOTS ? max_slots : FP_INITIAL_SLOTS;
  if (!s) return LP_ENOMEM;
  s->stage = st;
  for (int g = 0; g < 2; g++) {
    s->gen[g].nslots = nslots;
    s->gen[g].max_slots = max_slots;
    s->gen[g].slots = st->host->calloc(nslots, sizeof(uint64_t));
    if (!s->gen[g].slots) {
      ingest_shard_close(stage, s);
      return LP_ENOMEM;
    }
  }
  *shard_state = s;
  return LP_OK;
}

static int ingest_on_snippet(void *shard_state, const lp_snippet *sn, lp_verdict *v) {
  if (!shard_seen(shard_state, lp_ingest_snippet_key(sn->miner, sn->id))) return LP_STAGE_CONTINUE;
  v->code = "duplicate";
  snprintf(v->message, sizeof(v->message), "snippet (miner, id) was seen before");
  return LP_STAGE_DROP;
}

static int ingest_on_outcome(void *shard_state, const lp_outcome *o, lp_verdict *v) {
  if (!shard_seen(shard_state, lp_ingest_outcome_key(o->id))) return LP_STAGE_CONTINUE;
  v->code = "duplicate";
  snprintf(v->message, sizeof(v->message), "outcome id was seen before");
  return LP_STAGE_DROP;
}

/* ---- Save / load -------------------------------------------------------------------------------- */

static void put_le(unsigned char *p, uint64_t v, int n) {
  for (int i = 0; i < n; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

/* Writes the occupied slots of t as little-endian u64, in chunks. */
static int save_table(const fp_table *t, lp_writer *w) {
  unsigned char chunk[8 * 512];
  size_t k = 0;
  for (uint64_t i = 0; i < t->nslots; i++) {
    if (t->slots[i] == 0) continue;
    put_le(chunk + k, t->slots[i], 8);
    k += 8;
    if (k == sizeof(chunk)) {
      if (w->write(w, chunk, k) != 0) return LP_EIO;
      k = 0;
    }
  }
  return k && w->write(w, chunk, k) != 0 ? LP_EIO : LP_OK;
}

/* Format v1 (little-endian): "LPDD", u32 version, u64 capacity, u32 n_current, u32 n_previous, then
 * n_current fingerprints of the current generation and n_previous of the previous one. */
static int ingest_save(void *shard_state, lp_writer *w) {
  const ingest_shard *s = shard_state;
  const fp_table *cur = &s->gen[s->cur], *prev = &s->gen[s->cur ^ 1];
  unsigned char h[DEDUPE_HEADER];
  memcpy(h, DEDUPE_MAGIC, 4);
  put_le(h + 4, DEDUPE_VERSION, 4);
  put_le(h + 8, s->stage->capacity, 8);
  put_le(h + 16, cur->count, 4);
  put_le(h + 20, prev->count, 4);
  if (w->write(w, h, sizeof(h)) != 0) return LP_EIO;
  int rc = save_table(cur, w);
  return rc == LP_OK ? save_table(prev, w) : rc;
}

/* Checks the whole buffer before touching the state, then replays previous then current through the
 * normal insert path, so a state saved with another capacity still loads (the newest keys win). */
static int ingest_load(void *shard_state, const void *data, size_t len) {
  ingest_shard *s = shard_state;
  const unsigned char *p = data;
  if (!p || len < DEDUPE_HEADER || memcmp(p, DEDUPE_MAGIC, 4) != 0) return LP_EINVAL;
  uint64_t version = get_le(p + 4, 4);
  if (version == 0 || version > DEDUPE_VERSION) return LP_EINVAL;
  uint64_t ncur = get_le(p + 16, 4), nprev = get_le(p + 20, 4);
  if ((len - DEDUPE_HEADER) % 8 != 0 || (len - DEDUPE_HEADER) / 8 != ncur + nprev) return LP_EINVAL;
  const unsigned char *cur = p + DEDUPE_HEADER, *prev = cur + 8 * ncur;
  fp_clear(&s->gen[0]);
  fp_clear(&s->gen[1]);
  s->cur = 0;
  for (uint64_t i = 0; i < nprev; i++) {
    uint64_t fp = get_le(prev + 8 * i, 8);
    shard_remember(s, fp ? fp : 1);
  }
  for (uint64_t i = 0; i < ncur; i++) {
    uint64_t fp = get_le(cur + 8 * i, 8);
    shard_remember(s, fp ? fp : 1);
  }
  return LP_OK;
}

static const lp_stage_desc ingest_desc = {
  LP_STAGE_DESC_HEADER,
  .name = "ingest",
  .description = "drops duplicate snippets (same miner and id) and outcomes (same id), in fixed memory",
  .conf_keys = ingest_conf_keys,
  .conf_size = sizeof(lp_ingest_conf),
  .init = ingest_init,
  .shard_open = ingest_shard_open,
  .shard_close = ingest_shard_close,
  .on_snippet = ingest_on_snippet,
  .on_outcome = ingest_on_outcome,
  .on_tick = NULL,
  .on_query = NULL,
  .save = ingest_save,
  .load = ingest_load,
  .destroy = ingest_destroy,
};

const lp_stage_desc *lp_stage_ingest_entry(void) {
  return &ingest_desc;
}
