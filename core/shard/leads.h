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

#define LP_LEAD_CHURN_CAP 64
#define LP_LEAD_TECH_CAP 256

typedef struct lp_evidence {
  char *snippet_id;
  char *miner;
  char *text;
  char *url;         /* NULL when absent */
  int64_t ts_ms;
  uint32_t kind;
} lp_evidence;

typedef struct lp_tech {
  char *name;        /* lower-case */
  int64_t since_ms;  /* event time of the add */
} lp_tech;

typedef struct lp_churn {
  char *tech;
  int64_t ts_ms;
  uint32_t tech_id;  /* in the technology table, or LP_TECH_NONE (looked up once, when applied) */
  uint8_t added;     /* 1 added, 0 removed */
} lp_churn;

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
  lp_tech *tech;
  uint32_t n_tech, cap_tech;
  lp_churn *churn;       /* ring of the last LP_LEAD_CHURN_CAP changes */
  uint32_t n_churn, churn_head;
  lp_evidence *ev;       /* evidence_cap slots, unordered; rendered newest first */
  uint32_t n_ev;
  uint32_t n_miners;     /* distinct miners among ev, kept as evidence changes */
  lp_termvec tv;         /* the lead's document for the index (termvec.h) */
  uint8_t put_pending;   /* tv changed since the index last saw it (shard.c) */
} lp_lead;

typedef struct lp_lead_table {
  lp_lead **slots;       /* open addressing, linear probing, power-of-two size */
  size_t cap, n;
  uint32_t evidence_cap;
  lp_lead **by_doc;      /* doc id -> lead */
  lp_termpool pool;      /* the term strings of every lead's termvec */
  const struct lp_techtable *tech;  /* borrowed, may be NULL: tech names are canonicalised through it */
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

/* The profile of contract section 3, GET /v1/leads/{domain}, as one JSON object. */
int lp_lead_to_json(const lp_lead *l, lp_buf *out);

/* Serialises the whole table (msgpack, versioned), and reads it back into an empty table. */
int lp_leads_save(const lp_lead_table *t, lp_buf *out);
int lp_leads_load(lp_lead_table *t, const void *data, size_t len, char *errstr, size_t errstr_size);

/* Internal, for leads_io.c: insert a lead built outside the table (not present yet); free one. */
int lp__leads_insert(lp_lead_table *t, lp_lead *l);
uint32_t lp__lead_count_miners(const lp_lead *l);
void lp__lead_free(lp_lead *l, uint32_t evidence_cap);

#endif
