#include "shard/leads.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "stages/churn/churn.h"
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

static void evidence_clear(lp_evidence *e) {
  lp_free(e->snippet_id);
  lp_free(e->miner);
  lp_free(e->text);
  lp_free(e->url);
  memset(e, 0, sizeof(*e));
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

void lp__lead_free(lp_lead *l, uint32_t evidence_cap) {
  lp_free(l->domain);
  lp_free(l->name);
  lp_free(l->industry);
  for (uint32_t i = 0; i < l->n_tech + l->n_gone; i++) lp__tech_clear(&l->tech[i]);
  lp_free(l->tech);
  for (uint32_t i = 0; i < l->n_churn; i++) lp__churn_clear(&l->churn[i]);
  if (l->churn) lp_free((lp_churn_ctx *)(void *)l->churn - 1);
  if (l->ev)
    for (uint32_t i = 0; i < evidence_cap; i++) evidence_clear(&l->ev[i]);
  lp_free(l->ev);
  lp_termvec_free(&l->tv);
  lp_free(l);
}

void lp_leads_free(lp_lead_table *t) {
  for (size_t i = 0; i < t->cap; i++)
    if (t->slots[i]) lp__lead_free(t->slots[i], t->evidence_cap);
  lp_free(t->slots);
  lp_free(t->by_doc);
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
  l->ev = lp_calloc(t->evidence_cap, sizeof(lp_evidence));
  if (l->domain == NULL || l->ev == NULL || assign_doc(t, l) != LP_OK) {
    lp_free(l->domain);
    lp_free(l->ev);
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

/* Keeps the newest evidence_cap snippets by event time: a full table replaces its oldest entry. */
static void apply_evidence(lp_lead *l, uint32_t cap, const lp_snippet *s) {
  lp_evidence *slot;
  if (l->n_ev < cap) {
    slot = &l->ev[l->n_ev++];
  } else {
    slot = &l->ev[0];
    for (uint32_t i = 1; i < cap; i++)
      if (l->ev[i].ts_ms < slot->ts_ms) slot = &l->ev[i];
    if (slot->ts_ms > s->ts_ms) return;
    evidence_clear(slot);
  }
  slot->snippet_id = lp_strndup(s->id.ptr, s->id.len);
  slot->miner = lp_strndup(s->miner.ptr, s->miner.len);
  slot->text = lp_strndup(s->text.ptr, s->text.len);
  slot->url = s->url.len ? lp_strndup(s->url.ptr, s->url.len) : NULL;
  slot->ts_ms = s->ts_ms;
  slot->kind = s->kind;
  l->n_miners = lp__lead_count_miners(l);
}

/* Distinct miners among the lead's evidence: O(n^2) over at most evidence_per_lead entries, once per
 * applied snippet instead of once per query candidate. */
uint32_t lp__lead_count_miners(const lp_lead *l) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < l->n_ev; i++) {
    int seen = 0;
    for (uint32_t j = 0; j < i && !seen; j++) seen = strcmp(l->ev[i].miner, l->ev[j].miner) == 0;
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
  apply_evidence(l, t->evidence_cap, s);
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
    if (e->url) json_kv_str(b, "url", e->url, 1);
    lp_buf_puts(b, "}");
  }
  int rc = lp_buf_puts(b, "]}");
  if (rc != LP_OK) b->len = start;
  return rc;
}
