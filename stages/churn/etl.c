/*
 * etl.c: what a snippet does to a lead's tech stack and history (the rules of churn.h).
 *
 * The stack, per technology: first_seen (earliest event time it was added or named), last_seen (latest
 * time it was seen in use) and removed_at. Events arrive out of order in event time, so every rule compares
 * times instead of trusting arrival order:
 *   - added at ts: in use -> first/last widen; removed at r <= ts -> in use again (re-adopted, first_seen
 *     kept); removed at r > ts -> an old add, first/last widen, it stays removed; unknown -> enters in use.
 *   - removed at ts: in use and ts >= last_seen -> removed at ts; in use and ts < last_seen -> a stale
 *     report, the stack is unchanged (the history keeps it); removed already -> the earliest removal after
 *     last_seen is kept; unknown -> enters as removed (seen until ts).
 *   - named in a tech snippet at ts: like an add, except that it never revives a removed technology.
 * The history keeps every reported change once (the same technology, direction and time twice is one
 * change), the newest max_history of them. A full stack forgets its oldest removed technology first; when
 * every slot is in use, a new technology is not tracked in the stack (its change is still in the history).
 */
#include <string.h>

#include "base/alloc.h"
#include "stages/churn/churn.h"

/* A technology as a snippet names it: the table's entry (canonical name, no allocation) or, unknown, its
 * lower-cased spelling in an owned copy. NULL name: out of memory. */
static void resolve(const lp_techtable *tech, lp_str v, const char **name, uint32_t *id) {
  const lp_tech_info *info = tech ? lp_techtable_find(tech, v.ptr, v.len) : NULL;
  if (info != NULL) {
    *name = info->name;
    *id = info->id;
    return;
  }
  char buf[256];
  lp_techtable_canonical(tech, v.ptr, v.len, buf, sizeof(buf));
  *name = lp_strdup(buf);
  *id = LP_TECH_NONE;
}

static int same_name(const char *a, const char *b) { return a == b || strcmp(a, b) == 0; }

static int stack_find(const lp_lead *l, const char *name) {
  uint32_t n = l->n_tech + l->n_gone;
  for (uint32_t i = 0; i < n; i++)
    if (same_name(l->tech[i].name, name)) return (int)i;
  return -1;
}

static void swap(lp_tech *a, lp_tech *b) {
  lp_tech t = *a;
  *a = *b;
  *b = t;
}

/* Frees a slot: the oldest removed technology, when the stack is at its cap. 1 if a slot is free. */
static int stack_room(const lp_churn_conf *c, lp_lead *l) {
  uint32_t n = l->n_tech + l->n_gone;
  uint32_t max = (uint32_t)c->max_technologies;
  if (max > LP_LEAD_TECH_CAP) max = LP_LEAD_TECH_CAP;
  if (n < max) return 1;
  if (l->n_gone == 0) return 0;
  uint32_t old = l->n_tech;
  for (uint32_t i = l->n_tech + 1; i < n; i++)
    if (l->tech[i].removed_ms < l->tech[old].removed_ms) old = i;
  lp__tech_clear(&l->tech[old]);
  l->tech[old] = l->tech[n - 1];
  l->n_gone--;
  return 1;
}

/* Inserts a technology in use (gone = 0) or removed; takes the name's ownership either way. LP_OK also
 * when the stack is full of technologies in use (the name is then dropped). */
static int stack_insert(const lp_churn_conf *c, lp_lead *l, const char *name, uint32_t id, int64_t ts, int gone) {
  lp_tech e = { name, ts, ts, gone ? ts : 0, id };
  if (!stack_room(c, l)) {
    lp__tech_clear(&e);
    return LP_OK;
  }
  uint32_t n = l->n_tech + l->n_gone;
  if (n == l->cap_tech) {
    uint32_t cap = l->cap_tech ? l->cap_tech * 2u : 4u;
    if (cap > LP_LEAD_TECH_CAP) cap = LP_LEAD_TECH_CAP;
    lp_tech *v = lp_realloc(l->tech, cap * sizeof(lp_tech));
    if (v == NULL) {
      lp__tech_clear(&e);
      return LP_ENOMEM;
    }
    l->tech = v;
    l->cap_tech = (uint16_t)cap;
  }
  l->tech[n] = e;
  if (gone) {
    l->n_gone++;
  } else {
    swap(&l->tech[n], &l->tech[l->n_tech]);  /* the first removed one moves to the end */
    l->n_tech++;
  }
  return LP_OK;
}

static void retire(lp_lead *l, uint32_t i, int64_t ts) {
  swap(&l->tech[i], &l->tech[l->n_tech - 1]);
  l->n_tech--;
  l->n_gone++;
  l->tech[l->n_tech].removed_ms = ts;
}

static void revive(lp_lead *l, uint32_t i, int64_t ts) {
  swap(&l->tech[i], &l->tech[l->n_tech]);
  lp_tech *e = &l->tech[l->n_tech];
  l->n_tech++;
  l->n_gone--;
  e->removed_ms = 0;
  if (ts > e->last_ms) e->last_ms = ts;
}

static void widen(lp_tech *e, int64_t ts) {
  if (ts < e->first_ms) e->first_ms = ts;
  if (ts > e->last_ms) e->last_ms = ts;
}

enum { SEEN_ADD, SEEN_MENTION, SEEN_REMOVE };

/* Applies one observation to the stack; takes ownership of an owned name (id LP_TECH_NONE). */
static int stack_apply(const lp_churn_conf *c, lp_lead *l, const char *name, uint32_t id, int64_t ts, int how) {
  int at = stack_find(l, name);
  if (at >= 0 && id == LP_TECH_NONE) lp_free((void *)name);
  if (at < 0) return stack_insert(c, l, name, id, ts, how == SEEN_REMOVE);
  uint32_t i = (uint32_t)at;
  lp_tech *e = &l->tech[i];
  int in_use = i < l->n_tech;
  if (how == SEEN_REMOVE) {
    if (in_use && ts >= e->last_ms) retire(l, i, ts);
    else if (!in_use && ts >= e->last_ms && ts < e->removed_ms) e->removed_ms = ts;
    if (ts < e->first_ms) e->first_ms = ts;
    return LP_OK;
  }
  if (in_use) widen(e, ts);
  else if (how == SEEN_ADD && ts >= e->removed_ms) revive(l, i, ts);
  else if (ts < e->removed_ms) widen(e, ts);
  return LP_OK;
}

/* Records a change in the history ring unless the same one is there; the name is borrowed (copied when
 * the table does not know it). */
static int history_push(const lp_churn_conf *c, const lp_techtable *tech, lp_lead *l, const char *name, uint32_t id,
                        int64_t ts, int added) {
  for (uint32_t k = 0; k < l->n_churn; k++) {
    const lp_churn *h = &l->churn[k];
    if (h->ts_ms == ts && h->added == added && same_name(h->tech, name)) return LP_OK;
  }
  uint32_t max = (uint32_t)c->max_history;
  if (max > LP_LEAD_CHURN_CAP) max = LP_LEAD_CHURN_CAP;
  if (l->n_churn == l->cap_churn && l->churn_head == 0 && l->cap_churn < max) {
    uint32_t cap = l->cap_churn ? l->cap_churn * 2u : 4u;
    if (lp__lead_churn_reserve(l, cap < max ? cap : max, tech, c) != LP_OK) return LP_ENOMEM;
  }
  if (l->cap_churn == 0) return LP_OK;  /* max_history 0 cannot happen (the conf's bounds): nothing kept */
  const char *owned = id == LP_TECH_NONE ? lp_strdup(name) : name;
  if (owned == NULL) return LP_ENOMEM;
  lp_churn *slot;
  if (l->n_churn < l->cap_churn) {
    slot = &l->churn[l->n_churn++];
  } else {
    slot = &l->churn[l->churn_head];
    l->churn_head = (l->churn_head + 1) % l->n_churn;
    lp__churn_clear(slot);
  }
  *slot = (lp_churn){ owned, ts, id, (uint8_t)added };
  return LP_OK;
}

int lp_churn_apply(const lp_churn_conf *c, const lp_techtable *tech, lp_lead *l, const lp_snippet *s) {
  if (c == NULL) c = &lp_churn_defaults;
  const lp_str *lists[2] = { s->tech_added, s->tech_removed };
  uint32_t counts[2] = { s->n_tech_added, s->n_tech_removed };
  int rc = LP_OK;
  for (int k = 0; k < 2; k++) {
    for (uint32_t i = 0; i < counts[k]; i++) {
      const char *name;
      uint32_t id;
      resolve(tech, lists[k][i], &name, &id);
      if (name == NULL) {
        rc = LP_ENOMEM;
        continue;
      }
      int r = history_push(c, tech, l, name, id, s->ts_ms, k == 0);
      if (r == LP_OK) r = stack_apply(c, l, name, id, s->ts_ms, k == 0 ? SEEN_ADD : SEEN_REMOVE);
      else if (id == LP_TECH_NONE) lp_free((void *)name);
      if (r != LP_OK) rc = r;
    }
  }
  return rc;
}

int lp_churn_mentions(const lp_churn_conf *c, const lp_techtable *tech, lp_lead *l, const lp_snippet *s,
                      const lp_termfreqs *tf) {
  if (c == NULL) c = &lp_churn_defaults;
  if (!c->text_mentions || s->kind != LP_KIND_TECH || tech == NULL) return LP_OK;
  int rc = LP_OK;
  for (size_t i = 0; i < tf->n; i++) {
    const lp_tech_info *info = tf->v[i].tech != LP_TECH_NONE ? lp_techtable_at(tech, tf->v[i].tech) : NULL;
    if (info == NULL) continue;
    int r = stack_apply(c, l, info->name, info->id, s->ts_ms, SEEN_MENTION);
    if (r != LP_OK) rc = r;
  }
  return rc;
}
