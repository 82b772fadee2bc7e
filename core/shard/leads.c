#include "shard/leads.h"

#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "stages/churn/churn.h"
#include "shard/shard.h"
#include "stages/ingest/ingest.h"
#include "text/techtable.h"
#include "worker/worker.h"

int lp_leads_init(lp_lead_table *t, uint32_t evidence_cap) {
  memset(t, 0, sizeof(*t));
  t->cap = 1024;
  t->slots = lp_calloc(t->cap, sizeof(lp_lead *));
  t->evidence_cap = evidence_cap ? evidence_cap : 16;
  if (t->slots == NULL || lp_termpool_init(&t->pool) != LP_OK) {
    lp_free(t->slots);
    t->slots = NULL;
    return LP_ENOMEM;
  }
  return LP_OK;
}

/* ---- interned miner ids ----------------------------------------------------------------------------- */

/* A miner id shared by every evidence of that miner in the table: refcounted, removed with its last
 * evidence. The id is what lp_evidence.miner points at. */
typedef struct lp_miner_ent {
  uint32_t refs;
  uint32_t hash;
  char id[];
} lp_miner_ent;

static uint32_t miner_hash(const char *p, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 16777619u;
  return h;
}

static lp_miner_ent *miner_ent(const char *id) { return (lp_miner_ent *)(void *)(id - offsetof(lp_miner_ent, id)); }

static int miners_grow(lp_minerset *m) {
  uint32_t cap = m->cap ? m->cap * 2 : 64;
  lp_miner_ent **v = lp_calloc(cap, sizeof(*v));
  if (v == NULL) return LP_ENOMEM;
  for (uint32_t i = 0; i < m->cap; i++) {
    if (m->slots[i] == NULL) continue;
    uint32_t j = m->slots[i]->hash & (cap - 1);
    while (v[j] != NULL) j = (j + 1) & (cap - 1);
    v[j] = m->slots[i];
  }
  lp_free(m->slots);
  m->slots = v;
  m->cap = cap;
  return LP_OK;
}

/* The table's copy of the id, its count raised; NULL when memory ran out. */
static const char *miner_intern(lp_minerset *m, const char *p, size_t n) {
  if ((m->n + 1) * 4 > m->cap * 3 && miners_grow(m) != LP_OK) return NULL;
  uint32_t h = miner_hash(p, n), j = h & (m->cap - 1);
  for (lp_miner_ent *e; (e = m->slots[j]) != NULL; j = (j + 1) & (m->cap - 1)) {
    if (e->hash == h && strncmp(e->id, p, n) == 0 && e->id[n] == '\0') {
      e->refs++;
      return e->id;
    }
  }
  lp_miner_ent *e = lp_malloc(sizeof(*e) + n + 1);
  if (e == NULL) return NULL;
  e->refs = 1;
  e->hash = h;
  memcpy(e->id, p, n);
  e->id[n] = '\0';
  m->slots[j] = e;
  m->n++;
  return e->id;
}

/* Drops one reference; the last one frees the id (backward-shift deletion keeps the probes intact). */
static void miner_release(lp_minerset *m, const char *id) {
  if (id == NULL) return;
  lp_miner_ent *e = miner_ent(id);
  if (--e->refs > 0) return;
  uint32_t mask = m->cap - 1, i = e->hash & mask;
  while (m->slots[i] != e) i = (i + 1) & mask;
  for (uint32_t j = (i + 1) & mask; m->slots[j] != NULL; j = (j + 1) & mask) {
    uint32_t home = m->slots[j]->hash & mask;
    /* slot j may move to the hole at i when its home is not in (i, j] (cyclically) */
    if (((j - home) & mask) >= ((j - i) & mask)) {
      m->slots[i] = m->slots[j];
      i = j;
    }
  }
  m->slots[i] = NULL;
  m->n--;
  lp_free(e);
}

static void miners_free(lp_minerset *m) {
  for (uint32_t i = 0; i < m->cap; i++) lp_free(m->slots[i]);
  lp_free(m->slots);
  memset(m, 0, sizeof(*m));
}

/* ---- evidence and its signature ---------------------------------------------------------------------- */

/* Takes e's run out of its lead's fps (the runs after it move down). */
static void sig_drop(lp_lead *l, lp_evidence *e) {
  uint32_t k = (uint32_t)e->n_words + e->n_other;
  if (!e->sig || k == 0) return;
  memmove(l->fps + e->fp_off, l->fps + e->fp_off + k, (l->n_fps - e->fp_off - k) * sizeof(uint16_t));
  l->n_fps -= k;
  for (uint32_t i = 0; i < l->n_ev; i++)
    if (&l->ev[i] != e && l->ev[i].sig && l->ev[i].fp_off > e->fp_off) l->ev[i].fp_off -= k;
  e->n_words = e->n_other = 0;
  e->fp_off = 0;
  e->sig = 0;
}

static void evidence_clear(lp_lead_table *t, lp_lead *l, lp_evidence *e) {
  sig_drop(l, e);
  lp_free(lp__evidence_block(e));
  miner_release(&t->miners, e->miner);
  memset(e, 0, sizeof(*e));
}

static int cmp_u16(const void *a, const void *b) {
  uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;
  return (x > y) - (x < y);
}

static uint16_t sort_unique(uint16_t *v, uint32_t n) {
  if (n > 1) qsort(v, n, sizeof(*v), cmp_u16);
  uint32_t m = 0;
  for (uint32_t i = 0; i < n; i++)
    if (m == 0 || v[m - 1] != v[i]) v[m++] = v[i];
  return (uint16_t)m;
}

static int digits_only(const char *s, uint32_t n) {
  for (uint32_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return 0;
  return n > 0;
}

/* The category terms of a technology named, or NULL. */
static const lp_tech_info *tech_of(const lp_lead_table *t, const lp_termfreq *f) {
  return f->tech != LP_TECH_NONE && t->tech ? lp_techtable_at(t->tech, f->tech) : NULL;
}

/* Computes e's signature from its text's terms tf and appends its runs to l->fps (e unsigned, not in the
 * array). LP_OK (e->sig 1) or LP_ENOMEM (e stays unsigned). */
static int sig_from(lp_lead_table *t, lp_lead *l, lp_evidence *e, const lp_termfreqs *tf) {
  size_t n = 0;  /* room for the terms and the categories of the technologies among them */
  for (size_t i = 0; i < tf->n; i++) {
    const lp_tech_info *ti = tech_of(t, &tf->v[i]);
    n += 1 + (ti ? ti->n_categories : 0);
  }
  if (n > UINT16_MAX) n = UINT16_MAX;
  uint16_t *fp = lp_realloc(l->fps, (l->n_fps + n + 1) * sizeof(uint16_t));
  if (fp == NULL) return LP_ENOMEM;
  l->fps = fp;
  fp += l->n_fps;
  /* words from the front; numbers and categories from the back of the room */
  uint32_t nw = 0, nn = 0;
  for (size_t i = 0; i < tf->n && nw + nn < n; i++) {
    const lp_termfreq *f = &tf->v[i];
    if (digits_only(f->term, f->len)) fp[n - 1 - nn++] = lp_evidence_fp(f->hash);
    else fp[nw++] = lp_evidence_fp(f->hash);
    const lp_tech_info *ti = tech_of(t, f);
    for (uint32_t c = 0; ti && c < ti->n_categories && nw + nn < n; c++) {
      char term[32];
      size_t len = lp_category_term(ti->categories[c], term, sizeof(term));
      if (len) fp[n - 1 - nn++] = lp_evidence_fp(lp_term_hash(term, len));
    }
  }
  nw = sort_unique(fp, nw);
  uint16_t k = sort_unique(fp + n - nn, nn);
  memmove(fp + nw, fp + n - nn, k * sizeof(*fp));
  e->fp_off = l->n_fps;
  e->n_words = (uint16_t)nw;
  e->n_other = k;
  e->sig = 1;
  l->n_fps += nw + k;
  return LP_OK;
}

/* Computes e's signature from text with actx (see sig_from). LP_OK, LP_ENOMEM, or LP_EINVAL when actx is
 * NULL (e stays unsigned). */
static int sig_add(lp_lead_table *t, lp_analyzer_ctx *actx, lp_lead *l, lp_evidence *e, lp_str text) {
  if (actx == NULL) return LP_EINVAL;
  int rc = lp_analyze_terms(actx, text.ptr, text.len, &t->tf);
  return rc != LP_OK ? rc : sig_from(t, l, e, &t->tf);
}

/* The block of an evidence: id, text and url. LP_OK or LP_ENOMEM (e untouched). */
static int evidence_block(lp_evidence *e, lp_str id, lp_str text, lp_str url) {
  size_t size = id.len + 1 + text.len + 1 + (url.len ? url.len + 1 : 0);
  char *p = lp_malloc(size);
  if (p == NULL) return LP_ENOMEM;
  e->snippet_id = p;
  memcpy(p, id.ptr, id.len);
  p[id.len] = '\0';
  p += id.len + 1;
  e->text = p;
  memcpy(p, text.ptr, text.len);
  p[text.len] = '\0';
  p += text.len + 1;
  e->has_url = url.len > 0;
  if (url.len) {
    memcpy(p, url.ptr, url.len);
    p[url.len] = '\0';
  }
  return LP_OK;
}

int lp__evidence_set(lp_lead_table *t, lp_lead *l, lp_evidence *e, lp_str id, lp_str miner, lp_str text,
                     lp_str url, int64_t ts_ms, uint32_t kind) {
  const char *m = miner_intern(&t->miners, miner.ptr, miner.len);
  if (m == NULL) return LP_ENOMEM;
  if (evidence_block(e, id, text, url) != LP_OK) {
    miner_release(&t->miners, m);
    return LP_ENOMEM;
  }
  e->miner = m;
  e->ts_ms = ts_ms;
  e->kind = (uint8_t)kind;
  /* Unsigned (no analyzer, or out of memory): lp_lead_sign does it later. */
  if (t->analyzer == NULL || sig_add(t, t->analyzer, l, e, text) != LP_OK) l->unsigned_ev = 1;
  return LP_OK;
}

int lp__lead_ev_reserve(lp_lead_table *t, lp_lead *l) {
  if (l->n_ev >= t->evidence_cap) return LP_EINVAL;
  /* Grown one slot at a time: the allocator's size classes keep most of these in place, and a lead with
   * few snippets holds only the slots it uses. */
  lp_evidence *v = lp_realloc(l->ev, (l->n_ev + 1) * sizeof(*v));
  if (v == NULL) return LP_ENOMEM;
  memset(&v[l->n_ev], 0, sizeof(*v));
  l->ev = v;
  return LP_OK;
}

static lp_str str_of(const char *s) { return (lp_str){ s, s ? strlen(s) : 0 }; }

int lp_lead_sign(lp_lead_table *t, lp_lead *l, lp_analyzer_ctx *actx) {
  if (!l->unsigned_ev) return LP_OK;
  if (actx == NULL) return LP_EINVAL;
  for (uint32_t i = 0; i < l->n_ev; i++) {
    lp_evidence *e = &l->ev[i];
    if (e->sig || e->snippet_id == NULL) continue;
    int rc = sig_add(t, actx, l, e, str_of(e->text));
    if (rc != LP_OK) return rc;
  }
  l->unsigned_ev = 0;
  return LP_OK;
}

int lp_lead_sign_snippet(lp_lead_table *t, lp_lead *l, lp_str snippet_id, const lp_termfreqs *tf) {
  if (!l->unsigned_ev) return LP_OK;
  uint32_t left = 0;
  int rc = LP_OK;
  for (uint32_t i = 0; i < l->n_ev; i++) {
    lp_evidence *e = &l->ev[i];
    if (e->sig || e->snippet_id == NULL) continue;
    if (rc == LP_OK && strlen(e->snippet_id) == snippet_id.len && memcmp(e->snippet_id, snippet_id.ptr, snippet_id.len) == 0)
      rc = sig_from(t, l, e, tf);
    left += !e->sig;
  }
  if (left == 0) l->unsigned_ev = 0;
  return rc;
}

int lp_evidence_has_term(const lp_lead *l, const lp_evidence *e, const uint16_t *fps, size_t n) {
  if (!e->sig || n == 0) return 0;
  const uint16_t *v = lp_evidence_fps(l, e);
  /* two sorted runs against one sorted list: a merge each */
  const uint32_t start[2] = { 0, e->n_words }, end[2] = { e->n_words, (uint32_t)e->n_words + e->n_other };
  for (int r = 0; r < 2; r++) {
    uint32_t i = start[r];
    size_t j = 0;
    while (i < end[r] && j < n) {
      if (v[i] == fps[j]) return 1;
      if (v[i] < fps[j]) i++;
      else j++;
    }
  }
  return 0;
}

void lp__tech_clear(lp_tech *e) {
  if (e->id == LP_TECH_NONE) lp_free((void *)e->name);
  e->name = NULL;
}

void lp__churn_clear(lp_churn *c) {
  if (c->tech_id == LP_TECH_NONE) lp_free((void *)c->tech);
  c->tech = NULL;
}

int lp__lead_churn_reserve(lp_lead *l, uint32_t cap, const lp_techtable *tech, const lp_churn_conf *conf) {
  if (cap <= l->cap_churn) return LP_OK;
  lp_churn_ctx *base = l->churn ? (lp_churn_ctx *)(void *)l->churn - 1 : NULL;
  base = lp_realloc(base, sizeof(lp_churn_ctx) + cap * sizeof(lp_churn));
  if (base == NULL) return LP_ENOMEM;
  base->tech = tech;
  base->conf = conf;
  l->churn = (lp_churn *)(void *)(base + 1);
  l->cap_churn = cap;
  return LP_OK;
}

void lp__lead_free(lp_lead_table *t, lp_lead *l) {
  lp_free(l->domain);
  lp_free(l->name);
  lp_free(l->industry);
  for (uint32_t i = 0; i < l->n_tech + l->n_gone; i++) lp__tech_clear(&l->tech[i]);
  lp_free(l->tech);
  for (uint32_t i = 0; i < l->n_churn; i++) lp__churn_clear(&l->churn[i]);
  if (l->churn) lp_free((lp_churn_ctx *)(void *)l->churn - 1);
  for (uint32_t i = 0; l->ev && i < l->n_ev; i++) {
    lp_free(lp__evidence_block(&l->ev[i]));
    miner_release(&t->miners, l->ev[i].miner);
  }
  lp_free(l->ev);
  lp_free(l->fps);
  lp_termvec_free(&l->tv);
  lp_free(l);
}

void lp_leads_free(lp_lead_table *t) {
  for (size_t i = 0; i < t->cap; i++)
    if (t->slots[i]) lp__lead_free(t, t->slots[i]);
  lp_free(t->slots);
  lp_free(t->by_doc);
  lp_termfreqs_free(&t->tf);
  miners_free(&t->miners);
  lp_termpool_free(&t->pool);
  memset(t, 0, sizeof(*t));
}

size_t lp_leads_count(const lp_lead_table *t) { return t->n; }

lp_lead *lp_leads_get(const lp_lead_table *t, const char *domain, size_t len, uint64_t hash) {
  size_t mask = t->cap - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    lp_lead *l = t->slots[i];
    if (l == NULL) return NULL;
    if (l->hash == hash && strncmp(l->domain, domain, len) == 0 && l->domain[len] == '\0') return l;
  }
}

static void slot_insert(lp_lead **slots, size_t cap, lp_lead *l) {
  size_t mask = cap - 1;
  size_t i = l->hash & mask;
  while (slots[i] != NULL) i = (i + 1) & mask;
  slots[i] = l;
}

static int grow(lp_lead_table *t) {
  size_t cap = t->cap * 2;
  lp_lead **slots = lp_calloc(cap, sizeof(lp_lead *));
  if (slots == NULL) return LP_ENOMEM;
  for (size_t i = 0; i < t->cap; i++)
    if (t->slots[i]) slot_insert(slots, cap, t->slots[i]);
  lp_free(t->slots);
  t->slots = slots;
  t->cap = cap;
  return LP_OK;
}

/* Gives l the next doc id and records it. */
static int assign_doc(lp_lead_table *t, lp_lead *l) {
  if (t->n_docs == t->cap_docs) {
    uint32_t cap = t->cap_docs ? t->cap_docs * 2 : 1024;
    lp_lead **v = lp_realloc(t->by_doc, cap * sizeof(lp_lead *));
    if (v == NULL) return LP_ENOMEM;
    t->by_doc = v;
    t->cap_docs = cap;
  }
  l->doc = t->n_docs;
  t->by_doc[t->n_docs++] = l;
  return LP_OK;
}

static lp_lead *upsert(lp_lead_table *t, lp_str domain, uint64_t hash) {
  lp_lead *l = lp_leads_get(t, domain.ptr, domain.len, hash);
  if (l != NULL) return l;
  if ((t->n + 1) * 4 > t->cap * 3 && grow(t) != LP_OK) return NULL;  /* load factor 0.75 */
  l = lp_calloc(1, sizeof(*l));
  if (l == NULL) return NULL;
  l->domain = lp_strndup(domain.ptr, domain.len);
  if (l->domain == NULL || assign_doc(t, l) != LP_OK) {
    lp_free(l->domain);
    lp_free(l);
    return NULL;
  }
  l->hash = hash;
  l->first_ts_ms = INT64_MAX;
  slot_insert(t->slots, t->cap, l);
  t->n++;
  return l;
}

static void set_str(char **dst, lp_str v) {
  if (v.len == 0) return;
  char *d = lp_strndup(v.ptr, v.len);
  if (d == NULL) return;  /* keep the old value rather than lose the lead */
  lp_free(*dst);
  *dst = d;
}

/* Firmographics: the most recent observation in event time wins, field by field. */
static void apply_firmographics(lp_lead *l, const lp_snippet *s) {
  if (s->ts_ms < l->firmo_ts_ms) {
    /* older evidence only fills what is still unknown */
    if (l->name == NULL) set_str(&l->name, s->name);
    if (l->industry == NULL) set_str(&l->industry, s->industry);
    if (l->country[0] == '\0' && s->country.len == 2) memcpy(l->country, s->country.ptr, 2);
    if (l->employees == 0) l->employees = s->employees;
    return;
  }
  l->firmo_ts_ms = s->ts_ms;
  set_str(&l->name, s->name);
  set_str(&l->industry, s->industry);
  if (s->country.len == 2) memcpy(l->country, s->country.ptr, 2);
  if (s->employees > 0) l->employees = s->employees;
}

/* Keeps the newest evidence_cap snippets by event time: a full table replaces its oldest entry. Out of
 * memory, the snippet is applied without its evidence (the lead keeps what it had). */
static void apply_evidence(lp_lead_table *t, lp_lead *l, const lp_snippet *s) {
  lp_evidence *slot;
  if (l->n_ev < t->evidence_cap) {
    if (lp__lead_ev_reserve(t, l) != LP_OK) return;
    slot = &l->ev[l->n_ev];
    if (lp__evidence_set(t, l, slot, s->id, s->miner, s->text, s->url, s->ts_ms, s->kind) != LP_OK) return;
    l->n_ev++;
  } else {
    slot = &l->ev[0];
    for (uint32_t i = 1; i < l->n_ev; i++)
      if (l->ev[i].ts_ms < slot->ts_ms) slot = &l->ev[i];
    if (slot->ts_ms > s->ts_ms) return;
    evidence_clear(t, l, slot);
    /* out of memory the slot stays empty; a lead's slots are never unused but for this moment, so the
     * last one moves into it */
    if (lp__evidence_set(t, l, slot, s->id, s->miner, s->text, s->url, s->ts_ms, s->kind) != LP_OK) {
      lp_evidence *last = &l->ev[--l->n_ev];
      if (last != slot) {
        *slot = *last;
        memset(last, 0, sizeof(*last));
      }
    }
  }
  l->n_miners = lp__lead_count_miners(l);
}

/* Distinct miners among the lead's evidence: O(n^2) pointer compares (the ids are interned) over at most
 * evidence_per_lead entries, once per applied snippet instead of once per query candidate. */
uint32_t lp__lead_count_miners(const lp_lead *l) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < l->n_ev; i++) {
    int seen = 0;
    for (uint32_t j = 0; j < i && !seen; j++) seen = l->ev[i].miner == l->ev[j].miner;  /* interned */
    n += !seen;
  }
  return n;
}

int lp_lead_uses_tech(const lp_lead *l, const char *name) {
  for (uint32_t i = 0; i < l->n_tech; i++)
    if (l->tech[i].name == name || strcmp(l->tech[i].name, name) == 0) return 1;
  return 0;
}

int lp__leads_insert(lp_lead_table *t, lp_lead *l) {
  if ((t->n + 1) * 4 > t->cap * 3 && grow(t) != LP_OK) return LP_ENOMEM;
  if (assign_doc(t, l) != LP_OK) return LP_ENOMEM;
  slot_insert(t->slots, t->cap, l);
  t->n++;
  return LP_OK;
}

int lp_leads_apply_snippet(lp_lead_table *t, const lp_snippet *s) {
  lp_lead *l;
  return lp_leads_apply_snippet_lead(t, s, &l);
}

int lp_leads_apply_snippet_lead(lp_lead_table *t, const lp_snippet *s, lp_lead **lead) {
  lp_lead *l = upsert(t, s->domain, s->domain_hash);
  *lead = l;
  if (l == NULL) return LP_ENOMEM;
  apply_firmographics(l, s);
  apply_evidence(t, l, s);
  l->snippets++;
  if (s->ts_ms < l->first_ts_ms) l->first_ts_ms = s->ts_ms;
  if (s->ts_ms > l->last_ts_ms) l->last_ts_ms = s->ts_ms;
  /* The churn ETL's rules (stages/churn/etl.c); a change that found no memory is missing, the rest holds. */
  return lp_churn_apply(t->churn, t->tech, l, s);
}

int lp_leads_apply_outcome(lp_lead_table *t, const lp_outcome *o) {
  lp_lead *l = upsert(t, o->domain, o->domain_hash);
  if (l == NULL) return LP_ENOMEM;
  if (o->event < LP_EVENT__COUNT) l->outcomes[o->event]++;
  return LP_OK;
}

/* ---- JSON ----------------------------------------------------------------------------------------- */

static void json_kv_str(lp_buf *b, const char *key, const char *v, int comma) {
  lp_buf_printf(b, "%s\"%s\":", comma ? "," : "", key);
  if (v) lp_buf_json_str(b, v, strlen(v));
  else lp_buf_puts(b, "null");
}

static int cmp_ev_desc(const void *a, const void *b) {
  const lp_evidence *x = *(const lp_evidence *const *)a, *y = *(const lp_evidence *const *)b;
  if (x->ts_ms != y->ts_ms) return x->ts_ms < y->ts_ms ? 1 : -1;
  return strcmp(x->snippet_id, y->snippet_id);
}

int lp_lead_to_json(const lp_lead *l, lp_buf *b) { return lp_leads_lead_json(NULL, l, lp_now_ms(), b); }

int lp_leads_lead_json(const lp_lead_table *t, const lp_lead *l, int64_t now_ms, lp_buf *b) {
  const lp_churn_ctx *ctx = lp__lead_churn_ctx(l);
  const lp_techtable *tech = t ? t->tech : ctx ? ctx->tech : NULL;
  const lp_churn_conf *conf = t ? t->churn : ctx ? ctx->conf : NULL;
  size_t start = b->len;
  lp_buf_puts(b, "{");
  json_kv_str(b, "domain", l->domain, 0);
  json_kv_str(b, "name", l->name, 1);
  json_kv_str(b, "industry", l->industry, 1);
  if (l->employees > 0) lp_buf_printf(b, ",\"employees\":%lld", (long long)l->employees);
  else lp_buf_puts(b, ",\"employees\":null");
  json_kv_str(b, "country", l->country[0] ? l->country : NULL, 1);
  lp_buf_printf(b, ",\"snippets\":%llu", (unsigned long long)l->snippets);
  if (l->snippets) lp_buf_printf(b, ",\"first_ts\":%lld,\"last_ts\":%lld", (long long)l->first_ts_ms, (long long)l->last_ts_ms);
  lp_buf_puts(b, ",\"outcomes\":{");
  int any = 0;
  for (uint32_t e = 0; e < LP_EVENT__COUNT; e++) {
    if (l->outcomes[e] == 0) continue;
    lp_buf_printf(b, "%s\"%s\":%u", any ? "," : "", lp_outcome_event_name(e), l->outcomes[e]);
    any = 1;
  }
  lp_buf_puts(b, "},\"tech\":[");
  for (uint32_t i = 0; i < l->n_tech; i++) {
    if (i) lp_buf_puts(b, ",");
    lp_buf_json_str(b, l->tech[i].name, strlen(l->tech[i].name));
  }
  lp_buf_puts(b, "]");
  lp_churn_json(conf, tech, l, now_ms, b);
  lp_buf_puts(b, ",\"evidence\":[");
  const lp_evidence *order[1024];
  uint32_t n = l->n_ev < 1024 ? l->n_ev : 1024;
  for (uint32_t i = 0; i < n; i++) order[i] = &l->ev[i];
  qsort(order, n, sizeof(order[0]), cmp_ev_desc);
  for (uint32_t i = 0; i < n; i++) {
    const lp_evidence *e = order[i];
    lp_buf_puts(b, i ? ",{" : "{");
    json_kv_str(b, "snippet_id", e->snippet_id, 0);
    json_kv_str(b, "miner", e->miner, 1);
    lp_buf_printf(b, ",\"kind\":\"%s\",\"ts\":%lld", lp_snippet_kind_name(e->kind), (long long)e->ts_ms);
    json_kv_str(b, "text", e->text, 1);
    if (e->has_url) json_kv_str(b, "url", lp_evidence_url(e), 1);
    lp_buf_puts(b, "}");
  }
  int rc = lp_buf_puts(b, "]}");
  if (rc != LP_OK) b->len = start;
  return rc;
}

/* Firmographics from a company-enrichment vendor (core/server/enrich.c), on the shard's worker (leads.h):
 * they only fill what the lead lacks, and the answer's state and time are kept so that the enricher does
 * not ask the vendor again within its TTLs, also after a restart (they are in the snapshot). */
int lp_leads_apply_enrichment(lp_lead_table *t, const char *domain, size_t len, uint64_t hash, int state,
                              int64_t at_ms, const char *name, const char *industry, const char *country,
                              int64_t employees) {
  if (state != LP_LEAD_ENRICH_FOUND && state != LP_LEAD_ENRICH_NOT_FOUND) return LP_EINVAL;
  lp_lead *l = lp_leads_get(t, domain, len, hash);
  if (l == NULL) return LP_ENOENT;
  int changed = 0;
  if (state == LP_LEAD_ENRICH_FOUND) {
    char **fields[2] = { &l->name, &l->industry };
    const char *values[2] = { name, industry };
    for (int i = 0; i < 2; i++) {
      if (*fields[i] != NULL || values[i] == NULL || values[i][0] == '\0') continue;
      if ((*fields[i] = lp_strdup(values[i])) == NULL) return LP_ENOMEM;
      changed = 1;
    }
    if (l->country[0] == '\0' && country != NULL && isalpha((unsigned char)country[0]) &&
        isalpha((unsigned char)country[1]) && country[2] == '\0') {
      l->country[0] = (char)toupper((unsigned char)country[0]);
      l->country[1] = (char)toupper((unsigned char)country[1]);
      changed = 1;
    }
    if (l->employees <= 0 && employees > 0) {
      l->employees = employees;
      changed = 1;
    }
  }
  if (at_ms >= l->enrich_ms && (l->enrich_state != (uint8_t)state || l->enrich_ms != at_ms)) {
    l->enrich_state = (uint8_t)state;
    l->enrich_ms = at_ms;
    changed = 1;
  }
  return changed;
}
