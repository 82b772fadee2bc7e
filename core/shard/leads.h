/*
 * leads.h: a shard's lead table. Canonical domain -> profile: firmographics (latest in event time wins),
 * count of snippets applied, outcome counts, the technologies used now, the tech changes over time
 * (churn), the latest evidence (bounded: the newest `evidence_cap` snippets by event time), and what a
 * company-enrichment vendor last said about it (lp_leads_apply_enrichment).
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
#include "text/analyzer.h"

/* Hard ceilings of the per-lead tech history; [stage.churn] max_technologies and max_history choose the
 * working caps below them (stages/churn/churn.h). */
#define LP_LEAD_CHURN_CAP 1024
#define LP_LEAD_TECH_CAP 1024

/* One evidence snippet of a lead. Its strings are ONE allocation (lp__evidence_block): "id\0text\0", then
 * "url\0" when present (lp_evidence_url); the miner id is interned in the table (one copy per distinct
 * miner, compared by pointer).
 * Its signature: a 16-bit fingerprint (lp_evidence_fp) of every distinct term of the text as the index's
 * analyzer makes them (stemmed, stop words dropped, technology names as one term), in two sorted runs:
 * the terms with a letter (n_words: what near-duplicate detection compares), then (n_other) the digit-only
 * terms and the category terms (lp_category_term) of the technologies the text names, when the table has
 * a technology table. The runs of all of a lead's evidence sit in one array of the lead (lp_lead.fps, at
 * fp_off), so that model v0 reads a candidate's signatures in one or two cache lines instead of one
 * allocation per evidence, and never re-reads the text per query. */
typedef struct lp_evidence {
  char *snippet_id;   /* the block; NULL in an unused slot */
  char *text;         /* inside the block */
  const char *miner;  /* interned in the table's miner set: equal ids are the same pointer */
  int64_t ts_ms;
  uint32_t fp_off;    /* its runs in the lead's fps: [fp_off, fp_off + n_words + n_other) */
  uint16_t n_words;   /* fingerprints of the terms with a letter */
  uint16_t n_other;   /* then digit-only terms and categories */
  uint8_t kind;
  uint8_t sig;        /* 1 once the fingerprints are computed (the table had an analyzer, or lp_lead_sign) */
  uint8_t has_url;    /* the block holds a url after the text */
} lp_evidence;

/* The fingerprint of a term (hash = lp_term_hash). */
static inline uint16_t lp_evidence_fp(uint64_t term_hash) {
  return (uint16_t)(term_hash ^ (term_hash >> 16) ^ (term_hash >> 32) ^ (term_hash >> 48));
}
/* The url of an evidence, or NULL. */
static inline const char *lp_evidence_url(const lp_evidence *e) {
  if (!e->has_url) return NULL;
  const char *p = e->text;
  while (*p) p++;
  return p + 1;
}
/* The start of the evidence's one allocation (what lp_free takes; NULL for an unused slot). */
static inline void *lp__evidence_block(const lp_evidence *e) { return e->snippet_id; }

/* The table's interned miner ids: one refcounted copy per distinct id (leads.c). */
typedef struct lp_minerset {
  struct lp_miner_ent **slots;  /* open addressing, linear probing, power-of-two size */
  uint32_t cap, n;
} lp_minerset;

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
  lp_evidence *ev;       /* n_ev slots (grown up to evidence_cap), unordered; rendered newest first */
  uint32_t n_ev;
  uint32_t n_miners;     /* distinct miners among ev, kept as evidence changes */
  lp_termvec tv;         /* the lead's document for the index (termvec.h) */
  uint8_t put_pending;   /* tv changed since the index last saw it (shard.c) */
  uint8_t unsigned_ev;   /* some evidence has no signature yet (lp_lead_sign computes it) */
  uint8_t enrich_state;  /* LP_LEAD_ENRICH_*: what the enrichment vendor said last, at enrich_ms */
  uint16_t *fps;         /* the signatures of the evidence (lp_evidence.fp_off), n_fps in use */
  uint32_t n_fps;
  int32_t put_day;       /* the shard's newest event day when the index last got this document (shard.c) */
  int64_t enrich_ms;     /* wall clock of the vendor's last answer (lp_leads_apply_enrichment); 0 = never */
} lp_lead;

typedef struct lp_lead_table {
  lp_lead **slots;       /* open addressing, linear probing, power-of-two size */
  size_t cap, n;
  uint32_t evidence_cap;
  lp_lead **by_doc;      /* doc id -> lead */
  lp_termpool pool;      /* the term strings of every lead's termvec */
  const struct lp_techtable *tech;  /* borrowed, may be NULL: tech names are canonicalised through it */
  const struct lp_churn_conf *churn;  /* borrowed, may be NULL: the churn ETL's defaults */
  lp_analyzer_ctx *analyzer;  /* borrowed, may be NULL: evidence is then stored unsigned (lp_lead_sign) */
  lp_termfreqs tf;       /* scratch of the signatures */
  lp_minerset miners;    /* the miner ids of every lead's evidence */
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

/* What a company-enrichment vendor last said about a lead (lp_lead.enrich_state; saved with the table):
 * nothing yet, it knew the company (its values filled what the lead lacked), or it did not (a 404). The
 * enricher (core/server/enrich.c) reads it with lp_lead.enrich_ms to skip a lookup within its TTLs. */
enum { LP_LEAD_ENRICH_NONE = 0, LP_LEAD_ENRICH_FOUND = 1, LP_LEAD_ENRICH_NOT_FOUND = 2 };

/* Records a vendor's answer about a lead, given at at_ms (wall clock). state LP_LEAD_ENRICH_FOUND: the
 * vendor's firmographics fill only the fields the lead lacks (a miner's observation has an event time, the
 * vendor's has none, so firmo_ts_ms is left alone and a later snippet with a value wins); strings are
 * copied, NULL or "" = the vendor did not say, country must be two letters. LP_LEAD_ENRICH_NOT_FOUND: the
 * vendor does not know the company (the values are ignored). The state and at_ms replace the lead's unless
 * it holds a later answer. Returns 1 when the lead changed (a field filled or the state recorded: the
 * caller marks the shard for the next checkpoint), 0 when nothing changed, LP_ENOENT when the table has no
 * such lead, LP_EINVAL for another state, LP_ENOMEM (fields filled before it stay, the state is not
 * recorded). The strings are the caller's. The shard's worker. */
int lp_leads_apply_enrichment(lp_lead_table *t, const char *domain, size_t len, uint64_t hash, int state,
                              int64_t at_ms, const char *name, const char *industry, const char *country,
                              int64_t employees);

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

/* Computes the signature of every evidence of l that has none (l->unsigned_ev), with actx (the calling
 * worker's analyzer context, used only on that thread). A no-op for a signed lead. LP_OK; LP_EINVAL when
 * actx is NULL; LP_ENOMEM (what is unsigned stays so, v0 reads it as matching no term, and the next call
 * retries). The shard's worker. */
int lp_lead_sign(lp_lead_table *t, lp_lead *l, lp_analyzer_ctx *actx);
/* Signs the lead's unsigned evidence of this snippet from tf, its text's terms as the caller analyzed
 * them (the same analyzer as the index: the shard's apply analyzes each text once, for the index and the
 * signature). LP_OK (also when no such evidence is held) or LP_ENOMEM (it stays unsigned for
 * lp_lead_sign). The shard's worker. */
int lp_lead_sign_snippet(lp_lead_table *t, lp_lead *l, lp_str snippet_id, const lp_termfreqs *tf);

/* Evidence e's fingerprints: its two sorted runs, n_words + n_other of them, in its lead l. */
static inline const uint16_t *lp_evidence_fps(const lp_lead *l, const lp_evidence *e) { return l->fps + e->fp_off; }

/* Whether evidence e of lead l holds a term of fps[0, n) (sorted fingerprints, lp_evidence_fp); 0 when
 * unsigned. */
int lp_evidence_has_term(const lp_lead *l, const lp_evidence *e, const uint16_t *fps, size_t n);

/* Internal, for leads_io.c: insert a lead built outside the table (not present yet); free one (its
 * miner ids are released from t). */
int lp__leads_insert(lp_lead_table *t, lp_lead *l);
uint32_t lp__lead_count_miners(const lp_lead *l);
void lp__lead_free(lp_lead_table *t, lp_lead *l);
/* Stores one evidence into slot e (unused): the block with id, text and url, the interned miner, the
 * signature when t has an analyzer. LP_OK or LP_ENOMEM (e stays unused). */
int lp__evidence_set(lp_lead_table *t, lp_lead *l, lp_evidence *e, lp_str id, lp_str miner, lp_str text,
                     lp_str url, int64_t ts_ms, uint32_t kind);
/* Room for one more evidence slot in l (below t->evidence_cap). LP_OK or LP_ENOMEM. */
int lp__lead_ev_reserve(lp_lead_table *t, lp_lead *l);
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
