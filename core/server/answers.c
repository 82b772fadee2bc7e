/* answers.c: see answers.h. A ring of slots (grown by doubling up to max_answers) with a chained hash on
 * query_id; each answer's leads are one packed record: per lead u8 len, domain, u8 flags, u8 n, n x (u8 len, miner).
 * flags: bit 0 = a positive outcome was credited to the lead's variant (lp__answers_credit). */
#include "server/answers.h"

#include <string.h>
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include "base/alloc.h"

#define NONE UINT32_MAX
#define OVERHEAD 32u   /* bytes counted per answer besides its record and query_id */

typedef struct slot {
  uint64_t hash;
  uint32_t next;         /* hash chain */
  uint32_t rec_len;
  unsigned char *rec;
  uint8_t qlen;
  uint8_t variant;       /* the A/B variant that answered (lp_answer_builder.variant) */
  char qid[LP_ANSWER_QID_MAX];
} slot;

struct lp_answers {
  slot *v;
  size_t cap, head, n, max;      /* ring: the oldest at head */
  uint32_t *bucket;              /* cap buckets (a power of two >= cap) */
  size_t bucket_mask;
  size_t bytes, max_bytes;
};

int lp__answers_new(lp_answers **out, size_t max_answers, size_t max_bytes) {
  *out = NULL;
  if (max_answers == 0 || max_bytes == 0 || max_answers > UINT32_MAX / 2) return LP_EINVAL;
  lp_answers *a = lp_calloc(1, sizeof(*a));
  if (a == NULL) return LP_ENOMEM;
  a->max = max_answers;
  a->max_bytes = max_bytes;
  *out = a;
  return LP_OK;
}

void lp__answers_free(lp_answers *a) {
  if (a == NULL) return;
  for (size_t i = 0; i < a->n; i++) lp_free(a->v[(a->head + i) % a->cap].rec);
  lp_free(a->v);
  lp_free(a->bucket);
  lp_free(a);
}

size_t lp__answers_count(const lp_answers *a) { return a->n; }
size_t lp__answers_bytes(const lp_answers *a) { return a->bytes; }

void lp__answer_builder_init(lp_answer_builder *ab) {
  memset(ab, 0, sizeof(*ab));
  ab->count_at = SIZE_MAX;
}

void lp__answer_builder_free(lp_answer_builder *ab) {
  lp_buf_free(&ab->b);
  lp__answer_builder_init(ab);
}

void lp__answer_lead(lp_answer_builder *ab, const char *domain, size_t len) {
  if (ab->failed) return;
  unsigned char l = (unsigned char)len, zero[2] = { 0, 0 };  /* flags, miner count */
  if (len == 0 || len > 255 || lp_buf_append(&ab->b, &l, 1) != LP_OK || lp_buf_append(&ab->b, domain, len) != LP_OK ||
      lp_buf_append(&ab->b, zero, 2) != LP_OK) {
    ab->failed = 1;
    return;
  }
  ab->count_at = ab->b.len - 1;
}

void lp__answer_miner(lp_answer_builder *ab, const char *miner, size_t len) {
  if (ab->failed || ab->count_at == SIZE_MAX || len == 0 || len > LP_ANSWER_QID_MAX) return;
  unsigned char *count = (unsigned char *)ab->b.data + ab->count_at;
  if (*count >= LP_ANSWER_MINERS) return;
  const unsigned char *p = count + 1;
  for (unsigned i = 0; i < *count; i++, p += 1 + p[0])
    if (p[0] == len && memcmp(p + 1, miner, len) == 0) return;
  unsigned char l = (unsigned char)len;
  if (lp_buf_append(&ab->b, &l, 1) != LP_OK || lp_buf_append(&ab->b, miner, len) != LP_OK) {
    ab->failed = 1;
    return;
  }
  ((unsigned char *)ab->b.data)[ab->count_at]++;  /* the buffer may have moved */
}

/* Ready for the next answer, keeping the buffer's memory. */
static void builder_reset(lp_answer_builder *ab) {
  lp_buf_reset(&ab->b);
  ab->count_at = SIZE_MAX;
  ab->failed = 0;
  ab->variant = 0;
}

static uint64_t qid_hash(const char *q, size_t len) { return XXH3_64bits(q, len); }

static void chain_insert(lp_answers *a, uint32_t i) {
  uint32_t *head = &a->bucket[a->v[i].hash & a->bucket_mask];
  a->v[i].next = *head;
  *head = i;
}

static void chain_remove(lp_answers *a, uint32_t i) {
  for (uint32_t *p = &a->bucket[a->v[i].hash & a->bucket_mask]; *p != NONE; p = &a->v[*p].next) {
    if (*p == i) {
      *p = a->v[i].next;
      return;
    }
  }
}

/* Doubles the ring (up to max), oldest first at 0, and rebuilds the chains. */
static int grow(lp_answers *a) {
  size_t cap = a->cap ? a->cap * 2 : 64;
  if (cap > a->max) cap = a->max;
  size_t nb = 16;
  while (nb < cap) nb <<= 1;
  slot *v = lp_malloc(cap * sizeof(slot));
  uint32_t *bucket = lp_malloc(nb * sizeof(uint32_t));
  if (v == NULL || bucket == NULL) {
    lp_free(v);
    lp_free(bucket);
    return LP_ENOMEM;
  }
  for (size_t i = 0; i < a->n; i++) v[i] = a->v[(a->head + i) % a->cap];
  for (size_t i = 0; i < nb; i++) bucket[i] = NONE;
  lp_free(a->v);
  lp_free(a->bucket);
  a->v = v;
  a->bucket = bucket;
  a->bucket_mask = nb - 1;
  a->cap = cap;
  a->head = 0;
  for (size_t i = 0; i < a->n; i++) chain_insert(a, (uint32_t)i);
  return LP_OK;
}

static void evict_oldest(lp_answers *a) {
  slot *s = &a->v[a->head];
  chain_remove(a, (uint32_t)a->head);
  a->bytes -= s->rec_len + s->qlen + OVERHEAD;
  lp_free(s->rec);
  s->rec = NULL;
  a->head = (a->head + 1) % a->cap;
  a->n--;
}

int lp__answers_put(lp_answers *a, const char *query_id, size_t len, lp_answer_builder *ab) {
  int rc = LP_OK;
  size_t need = ab->b.len + len + OVERHEAD;
  if (len == 0 || len > LP_ANSWER_QID_MAX || ab->failed) rc = LP_EINVAL;
  else if (need > a->max_bytes) rc = LP_ERANGE;
  unsigned char *rec = NULL;
  if (rc == LP_OK && ab->b.len > 0 && (rec = lp_malloc(ab->b.len)) == NULL) rc = LP_ENOMEM;
  if (rc == LP_OK && a->n == a->cap && a->cap < a->max && grow(a) != LP_OK) rc = LP_ENOMEM;
  if (rc != LP_OK) {
    lp_free(rec);
    builder_reset(ab);
    return rc;
  }
  while (a->n > 0 && (a->n == a->cap || a->bytes + need > a->max_bytes)) evict_oldest(a);
  uint32_t i = (uint32_t)((a->head + a->n) % a->cap);
  slot *s = &a->v[i];
  s->hash = qid_hash(query_id, len);
  s->qlen = (uint8_t)len;
  s->variant = ab->variant;
  memcpy(s->qid, query_id, len);
  s->rec = rec;
  s->rec_len = (uint32_t)ab->b.len;
  if (rec != NULL) memcpy(rec, ab->b.data, ab->b.len);
  chain_insert(a, i);
  a->n++;
  a->bytes += need;
  builder_reset(ab);
  return LP_OK;
}

/* The slot of query_id, or NONE. */
static uint32_t find_slot(const lp_answers *a, lp_str query_id) {
  if (a->n == 0 || query_id.len == 0 || query_id.len > LP_ANSWER_QID_MAX) return NONE;
  uint64_t h = qid_hash(query_id.ptr, query_id.len);
  uint32_t i = a->bucket[h & a->bucket_mask];
  while (i != NONE && !(a->v[i].hash == h && a->v[i].qlen == query_id.len && memcmp(a->v[i].qid, query_id.ptr, query_id.len) == 0))
    i = a->v[i].next;
  return i;
}

/* The lead domain in slot i's record: a pointer to its flags byte (the miner count follows), or NULL. */
static unsigned char *find_lead(const lp_answers *a, uint32_t i, lp_str domain) {
  unsigned char *p = a->v[i].rec, *end = p + a->v[i].rec_len;
  while (p != NULL && p < end) {
    size_t dl = p[0];
    unsigned char *d = p + 1, *m = d + dl + 2;
    if (dl == domain.len && memcmp(d, domain.ptr, dl) == 0) return d + dl;
    for (unsigned k = 0, nm = d[dl + 1]; k < nm; k++) m += 1 + m[0];
    p = m;
  }
  return NULL;
}

int lp__answers_find(const lp_answers *a, lp_str query_id, lp_str domain, lp_answer_miners *out) {
  out->n = 0;
  uint32_t i = find_slot(a, query_id);
  const unsigned char *f = i == NONE ? NULL : find_lead(a, i, domain);
  if (f == NULL) return LP_ENOENT;
  const unsigned char *m = f + 2;
  for (unsigned k = 0, nm = f[1]; k < nm; k++, m += 1 + m[0]) {
    memcpy(out->id[out->n], m + 1, m[0]);
    out->id[out->n][m[0]] = '\0';
    out->n++;
  }
  return LP_OK;
}

int lp__answers_credit(lp_answers *a, lp_str query_id, lp_str domain, int positive, unsigned *variant, int *first) {
  *first = 0;
  uint32_t i = find_slot(a, query_id);
  unsigned char *f = i == NONE ? NULL : find_lead(a, i, domain);
  if (f == NULL) return LP_ENOENT;
  *variant = a->v[i].variant;
  if (positive && !(f[0] & 1u)) {
    f[0] |= 1u;
    *first = 1;
  }
  return LP_OK;
}
