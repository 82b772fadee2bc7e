/*
 * leads.h: a shard's lead table. Canonical domain -> profile: firmographics (latest in event time wins),
 * count of snippets applied, outcome counts, the technologies used now, the tech changes over time
 * (churn), and the latest evidence (bounded: the newest `evidence_cap` snippets by event time).
 *
 * Threads: a table belongs to one shard and is touched only by the worker that owns the shard.
 * Ownership: the table owns its leads and every string in them (copied from the events applied).
 */
#ifndef LP_SHARD_LEADS_H
#define LP_SHARD_LEADS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "leadpoet/stage.h"
#include "shard/termvec.h"

/* Hard ceilings of the per-lead tech history; [stage.churn] max_technologies and max_history choose the
 * working caps below them (stages/churn/churn.h). */
#define LP_LEAD_CHURN_CAP 1024
#define LP_LEAD_TECH_CAP 1024

typedef struct lp_evidence {
  char *snippet_id;
  char *miner;
  char *text;
  char *url;         /* NULL when absent */
  int64_t ts_ms;
  uint32_t kind;
} lp_evidence;

/* One technology of the lead's stack over event time. A lead's tech[] holds the technologies in use first,
 * [0, n_tech), then the removed ones, [n_tech, n_tech + n_gone): a reader of "what it uses now" walks
 * n_tech entries and never sees a removed one. */
typedef struct lp_tech {
  const char *name;    /* canonical, lower-case: the technology table's own string when id is known,
                          else owned by the lead */
  int64_t first_ms;    /* first seen (added, or named in a tech snippet), event time */
  int64_t last_ms;     /* last seen in use */
  int64_t removed_ms;  /* event time of the removal; 0 while in use */
  uint32_t id;         /* in the technology table, or LP_TECH_NONE (then name is owned) */
} lp_tech;

/* One change of the stack, as a snippet reported it (tech_added / tech_removed). */
typedef struct lp_churn {
  const char *tech;  /* like lp_tech.name: the table's string, or owned when tech_id is LP_TECH_NONE */
  int64_t ts_ms;
  uint32_t tech_id;  /* in the technology table, or LP_TECH_NONE (looked up once, when applied) */
  uint8_t added;     /* 1 added, 0 removed */
} lp_churn;

/* The churn ring's allocation starts with this header (l->churn points just past it): the profile of a
 * lead renders its per-category churn from the lead alone, and only a lead with a history pays for it. */
typedef struct lp_churn_ctx {
  const struct lp_techtable *tech;     /* may be NULL */
  const struct lp_churn_conf *conf;    /* may be NULL: the churn ETL's defaults */
} lp_churn_ctx;

typedef struct lp_lead {
  char *domain;
  uint64_t hash;
  uint32_t doc;          /* local doc id in the shard's index: dense, never reused */
  char *name, *industry;
  char country[3];
  int64_t employees;
  int64_t firmo_ts_ms;   /* event time of the firmographics shown */
  int64_t first_ts_ms, last_ts_ms;
  uint64_t snippets;
  uint32_t outcomes[LP_EVENT__COUNT];
  lp_tech *tech;         /* in use [0, n_tech), then removed [n_tech, n_tech + n_gone) */
  uint32_t n_tech;
  uint16_t n_gone, cap_tech;
  lp_churn *churn;       /* ring of the last changes: grows to the history cap, then wraps at churn_head */
  uint32_t n_churn, churn_head, cap_churn;
  lp_evidence *ev;       /* evidence_cap slots, unordered; rendered newest first */
  uint32_t n_ev;
  uint32_t n_miners;     /* distinct miners among ev, kept as evidence changes */
  lp_termvec tv;         /* the lead's document for the index (termvec.h) */
  uint8_t put_pending;   /* tv changed since the index last saw it (shard.c) */
  int32_t put_day;       /* the shard's newest event day when the index last got this document (shard.c) */
} lp_lead;

typedef struct lp_lead_table {
  lp_lead **slots;       /* open addressing, linear probing, power-of-two size */
  size_t cap, n;
  uint32_t evidence_cap;
  lp_lead **by_doc;      /* doc id -> lead */
  lp_termpool pool;      /* the term strings of every lead's termvec */
  const struct lp_techtable *tech;  /* borrowed, may be NULL: tech names are canonicalised through it */
  const struct lp_churn_conf *churn;  /* borrowed, may be NULL: the churn ETL's defaults */
  uint32_t n_docs, cap_docs;
} lp_lead_table;

int lp_leads_init(lp_lead_table *t, uint32_t evidence_cap);
void lp_leads_free(lp_lead_table *t);
size_t lp_leads_count(const lp_lead_table *t);

/* The lead of a local doc id, or NULL. */
static inline lp_lead *lp_leads_by_doc(const lp_lead_table *t, uint32_t doc) {
  return doc < t->n_docs ? t->by_doc[doc] : NULL;
}
/* The lead with this canonical domain (hash = lp_domain_hash of it), or NULL. */
lp_lead *lp_leads_get(const lp_lead_table *t, const char *domain, size_t len, uint64_t hash);
/* Creates the lead if new, then applies the snippet. LP_OK or LP_ENOMEM (the table is unchanged). */
int lp_leads_apply_snippet(lp_lead_table *t, const lp_snippet *s);
/* The same, handing back the lead it changed (for the caller to index). */
int lp_leads_apply_snippet_lead(lp_lead_table *t, const lp_snippet *s, lp_lead **lead);
/* Counts the outcome on its lead (creating it: an outcome may arrive for a lead never seen). */
int lp_leads_apply_outcome(lp_lead_table *t, const lp_outcome *o);

/* Whether the lead uses the technology (canonical name) now: a removal of it no longer holds. */
int lp_lead_uses_tech(const lp_lead *l, const char *name);

/* The profile of contract section 3, GET /v1/leads/{domain}, as one JSON object: firmographics, counts,
 * "tech" (names in use now), "stack" (every technology with first_seen, last_seen, removed_at), "churn"
 * (the changes, oldest first), "churn_categories" (added / removed per category in the churn stage's two
 * windows ending at now_ms, and whether that is a buying trigger) and the evidence, newest first. t gives
 * the churn conf and may be NULL (defaults). Appends to out; LP_ENOMEM leaves out as it was. The shard's
 * worker. */
int lp_leads_lead_json(const lp_lead_table *t, const lp_lead *l, int64_t now_ms, lp_buf *out);
/* The same with the churn defaults and the wall clock as now. */
int lp_lead_to_json(const lp_lead *l, lp_buf *out);

/* Serialises the whole table (msgpack, versioned), and reads it back into an empty table. */
int lp_leads_save(const lp_lead_table *t, lp_buf *out);
int lp_leads_load(lp_lead_table *t, const void *data, size_t len, char *errstr, size_t errstr_size);

/* Internal, for leads_io.c: insert a lead built outside the table (not present yet); free one. */
int lp__leads_insert(lp_lead_table *t, lp_lead *l);
uint32_t lp__lead_count_miners(const lp_lead *l);
void lp__lead_free(lp_lead *l, uint32_t evidence_cap);
/* Frees what a tech or churn entry owns (its name when the table does not know it). */
void lp__tech_clear(lp_tech *e);
void lp__churn_clear(lp_churn *c);
/* The header of a lead's churn ring, or NULL when it has none. */
static inline const lp_churn_ctx *lp__lead_churn_ctx(const lp_lead *l) {
  return l->churn ? (const lp_churn_ctx *)(const void *)l->churn - 1 : NULL;
}
/* Grows (or first allocates) the lead's churn ring to cap entries, keeping its order; sets the header. The
 * ring must not have wrapped (churn_head 0). LP_OK or LP_ENOMEM (the ring is unchanged). */
int lp__lead_churn_reserve(lp_lead *l, uint32_t cap, const struct lp_techtable *tech, const struct lp_churn_conf *conf);
/* The churn ring's entry k, oldest first (k < n_churn). */
static inline const lp_churn *lp__lead_churn_at(const lp_lead *l, uint32_t k) {
  return &l->churn[(l->churn_head + k) % l->n_churn];
}

#endif
