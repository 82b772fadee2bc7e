/*
 * publish.c: immutable snapshots of the reputation table for the workers (snapshot.h).
 *
 * A snapshot is one allocation: a header and an open-addressed array of (key, mean) at load <= 1/2,
 * built in one pass over the table at its clock. The table keeps every snapshot that is alive in a list
 * (the current one, those in messages, those the workers hold) with a reference count changed only on the
 * reactor; the last release frees it, and lp_rep_free frees what is left once the workers have stopped.
 */
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "stages/reputation/rep_int.h"

static _Thread_local lp_rep_snapshot *tls_current;

const lp_rep_snapshot *lp_rep_snapshot_current(void) { return tls_current; }

lp_rep_snapshot *lp_rep_snapshot_swap_current(lp_rep_snapshot *s) {
  lp_rep_snapshot *old = tls_current;
  tls_current = s;
  return old;
}

double lp_rep_snapshot_mean(const lp_rep_snapshot *s, const char *miner, size_t len) {
  if (s == NULL) return 0.5;
  if (s->n == 0 || miner == NULL || len == 0) return s->prior_mean;
  uint64_t key = lp__rep_key(miner, len);
  for (size_t i = key & s->mask;; i = (i + 1) & s->mask) {
    if (s->slot[i].key == key) return s->slot[i].mean;
    if (s->slot[i].key == 0) return s->prior_mean;
  }
}

double lp_rep_snapshot_weight(const lp_rep_snapshot *s, const char *miner, size_t len) {
  if (s == NULL) return 1.0;
  double w = lp_rep_snapshot_mean(s, miner, len) / s->prior_mean;
  return w > s->weight_floor ? w : s->weight_floor;
}

size_t lp_rep_snapshot_size(const lp_rep_snapshot *s) { return s != NULL ? s->n : 0; }
uint64_t lp_rep_snapshot_seq(const lp_rep_snapshot *s) { return s != NULL ? s->seq : 0; }

/* A 64-bit key collision between two names (about n^2 / 2^65: never in practice) keeps the first. */
static lp_rep_snapshot *build(const lp_rep *r) {
  size_t slots = 16;
  while (slots < r->n * 2) slots <<= 1;
  lp_rep_snapshot *s = lp_malloc(sizeof(*s) + slots * sizeof(s->slot[0]));
  if (s == NULL) return NULL;
  memset(s, 0, sizeof(*s));
  memset(s->slot, 0, slots * sizeof(s->slot[0]));
  s->mask = slots - 1;
  s->prior_mean = r->prior_mean;
  s->weight_floor = r->conf.weight_floor;
  for (size_t d = 0; d < r->n; d++) {
    const lp__rep_miner *m = &r->v[d];
    size_t i = m->key & s->mask;
    while (s->slot[i].key != 0 && s->slot[i].key != m->key) i = (i + 1) & s->mask;
    if (s->slot[i].key == m->key) continue;
    s->slot[i].key = m->key;
    s->slot[i].mean = lp__rep_mean(r, m);
    s->n++;
  }
  return s;
}

lp_rep_snapshot *lp_rep_publish(lp_rep *r) {
  lp_rep_snapshot *s = build(r);
  if (s == NULL) return NULL;
  s->seq = ++r->seq;
  s->refs = 1;  /* the table's "current" */
  s->next = r->live;
  if (r->live) r->live->prev = s;
  r->live = s;
  r->n_alive++;
  lp_rep_snapshot *old = r->current;
  r->current = s;
  if (old != NULL) lp_rep_snapshot_release(r, old);
  r->dirty = 0;
  r->published_ms = lp_now_ms();
  return s;
}

void lp_rep_snapshot_ref(lp_rep *r, lp_rep_snapshot *s) {
  (void)r;
  if (s != NULL) s->refs++;
}

static void unlink_free(lp_rep *r, lp_rep_snapshot *s) {
  if (s->prev) s->prev->next = s->next;
  else r->live = s->next;
  if (s->next) s->next->prev = s->prev;
  r->n_alive--;
  lp_free(s);
}

void lp_rep_snapshot_release(lp_rep *r, lp_rep_snapshot *s) {
  if (s == NULL || --s->refs > 0) return;
  if (s == r->current) r->current = NULL;
  unlink_free(r, s);
}

void lp__rep_snapshots_free(lp_rep *r) {
  while (r->live != NULL) unlink_free(r, r->live);
  r->current = NULL;
}

size_t lp_rep_snapshots_alive(const lp_rep *r) { return r->n_alive; }
int64_t lp_rep_published_ms(const lp_rep *r) { return r->published_ms; }
int lp__rep_timer_get(const lp_rep *r) { return r->timer_armed; }
void lp__rep_timer_set(lp_rep *r, int armed) { r->timer_armed = armed; }
