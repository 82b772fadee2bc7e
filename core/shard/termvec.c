#include "shard/termvec.h"

#include <string.h>

#include "base/alloc.h"

int lp_termpool_init(lp_termpool *p) {
  memset(p, 0, sizeof(*p));
  p->cap = 1024;
  p->slots = lp_calloc(p->cap, sizeof(uint32_t));
  return p->slots ? LP_OK : LP_ENOMEM;
}

void lp_termpool_free(lp_termpool *p) {
  lp_free(p->slots);
  lp_free(p->hash);
  lp_free(p->off);
  lp_free(p->len);
  lp_free(p->bytes);
  memset(p, 0, sizeof(*p));
}

static int same(const lp_termpool *p, uint32_t id, const char *term, size_t len, uint64_t hash) {
  return p->hash[id] == hash && p->len[id] == len && memcmp(p->bytes + p->off[id], term, len) == 0;
}

uint32_t lp_termpool_find(const lp_termpool *p, const char *term, size_t len, uint64_t hash) {
  size_t mask = p->cap - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    uint32_t s = p->slots[i];
    if (s == 0) return LP_TERM_NONE;
    if (same(p, s - 1, term, len, hash)) return s - 1;
  }
}

static int rehash(lp_termpool *p) {
  size_t cap = p->cap * 2;
  uint32_t *slots = lp_calloc(cap, sizeof(uint32_t));
  if (slots == NULL) return LP_ENOMEM;
  for (uint32_t id = 0; id < p->n; id++) {
    size_t i = p->hash[id] & (cap - 1);
    while (slots[i] != 0) i = (i + 1) & (cap - 1);
    slots[i] = id + 1;
  }
  lp_free(p->slots);
  p->slots = slots;
  p->cap = cap;
  return LP_OK;
}

static int grow_ids(lp_termpool *p) {
  uint32_t cap = p->cap_ids ? p->cap_ids * 2 : 256;
  uint64_t *h = lp_realloc(p->hash, cap * sizeof(uint64_t));
  if (h == NULL) return LP_ENOMEM;
  p->hash = h;
  uint32_t *o = lp_realloc(p->off, cap * sizeof(uint32_t));
  if (o == NULL) return LP_ENOMEM;
  p->off = o;
  uint16_t *l = lp_realloc(p->len, cap * sizeof(uint16_t));
  if (l == NULL) return LP_ENOMEM;
  p->len = l;
  p->cap_ids = cap;
  return LP_OK;
}

uint32_t lp_termpool_intern(lp_termpool *p, const char *term, size_t len, uint64_t hash) {
  if (len == 0 || len > 255) return LP_TERM_NONE;
  uint32_t id = lp_termpool_find(p, term, len, hash);
  if (id != LP_TERM_NONE) return id;
  if ((p->n + 1) * 4 > p->cap * 3 && rehash(p) != LP_OK) return LP_TERM_NONE;
  if (p->n == p->cap_ids && grow_ids(p) != LP_OK) return LP_TERM_NONE;
  if (p->bytes_len + len + 1 > p->bytes_cap) {
    size_t cap = p->bytes_cap ? p->bytes_cap * 2 : 4096;
    while (cap < p->bytes_len + len + 1) cap *= 2;
    char *b = lp_realloc(p->bytes, cap);
    if (b == NULL) return LP_TERM_NONE;
    p->bytes = b;
    p->bytes_cap = cap;
  }
  id = p->n++;
  p->hash[id] = hash;
  p->off[id] = (uint32_t)p->bytes_len;
  p->len[id] = (uint16_t)len;
  memcpy(p->bytes + p->bytes_len, term, len);
  p->bytes[p->bytes_len + len] = '\0';
  p->bytes_len += len + 1;
  size_t i = hash & (p->cap - 1);
  while (p->slots[i] != 0) i = (i + 1) & (p->cap - 1);
  p->slots[i] = id + 1;
  return id;
}

const char *lp_termpool_str(const lp_termpool *p, uint32_t id, size_t *len) {
  if (id >= p->n) return NULL;
  if (len) *len = p->len[id];
  return p->bytes + p->off[id];
}

void lp_termvec_free(lp_termvec *tv) {
  lp_free(tv->v);
  memset(tv, 0, sizeof(*tv));
}

/* The vector is small (<= 256): a linear scan beats a hash here and keeps the entry at 12 bytes. */
static void note_day(lp_termvec *tv, int32_t day) {
  if (tv->n == 0 || day < tv->oldest_day) tv->oldest_day = day;
}

int lp_termvec_add(lp_termvec *tv, uint32_t term, double weight, int32_t day) {
  for (uint16_t i = 0; i < tv->n; i++) {
    if (tv->v[i].term != term) continue;
    tv->v[i].weight += (float)weight;
    if (day > tv->v[i].last_day) tv->v[i].last_day = day;
    return LP_OK;
  }
  if (tv->n == tv->cap && tv->cap < LP_TERMVEC_MAX) {
    uint16_t cap = tv->cap ? (uint16_t)(tv->cap * 2) : 8;
    if (cap > LP_TERMVEC_MAX) cap = LP_TERMVEC_MAX;
    lp_tv_entry *v = lp_realloc(tv->v, cap * sizeof(lp_tv_entry));
    if (v == NULL) return LP_ENOMEM;
    tv->v = v;
    tv->cap = cap;
  }
  if (tv->n < tv->cap) {
    note_day(tv, day);
    tv->v[tv->n++] = (lp_tv_entry){ term, (float)weight, day };
    return LP_OK;
  }
  /* Full: the lightest term gives way, unless the newcomer is lighter still. */
  uint16_t min = 0;
  for (uint16_t i = 1; i < tv->n; i++)
    if (tv->v[i].weight < tv->v[min].weight) min = i;
  if (tv->v[min].weight < (float)weight) {
    tv->v[min] = (lp_tv_entry){ term, (float)weight, day };
    note_day(tv, day);
  }
  return LP_OK;
}

size_t lp_termvec_expire(lp_termvec *tv, int32_t min_day) {
  size_t gone = 0;
  if (tv->n == 0 || tv->oldest_day >= min_day) return 0;  /* nothing old enough: no scan */
  int32_t oldest = INT32_MAX;
  for (uint16_t i = 0; i < tv->n;) {
    if (tv->v[i].last_day < min_day) {
      tv->v[i] = tv->v[--tv->n];
      gone++;
    } else {
      if (tv->v[i].last_day < oldest) oldest = tv->v[i].last_day;
      i++;
    }
  }
  tv->oldest_day = tv->n ? oldest : 0;
  return gone;
}

double lp_termvec_weight(const lp_termvec *tv, uint32_t term) {
  for (uint16_t i = 0; i < tv->n; i++)
    if (tv->v[i].term == term) return tv->v[i].weight;
  return 0;
}
