/*
 * enrich.h: firmographic enrichment of a query's top leads from a company-enrichment vendor (People Data
 * Labs or Clearbit, over core/http/client.h), under the query's max_cost_usd and a per-day budget
 * (docs/adr/0017-enrichment.md).
 *
 * After the merge, the query hands the leads of its answer that lack a field (name, industry, country,
 * employees) to lp_enrich_start. A domain the cache knows is answered at once (a hit: the vendor's values,
 * or "unknown to the vendor" after a 404); a domain already being fetched for another query is waited on
 * for free; any other starts a vendor call when the query's budget, the day's budget, enrich.max_per_query
 * and the circuit breaker allow. The query waits enrich.wait at most: what lands later is applied anyway,
 * for the next query. A vendor answer is cached per domain (enrich.cache_ttl, or enrich.negative_ttl for a
 * 404) and applied to the lead on its shard's worker (a ring message: lp_leads_apply_enrichment fills the
 * fields the lead lacks and records the answer's state and time), so it is in the shard's checkpoints and
 * in GET /v1/leads/{domain}. A domain the cache does not know is first looked up in its lead's record (one
 * ring message to its shard): a vendor answer within those TTLs, also one from before a restart or one the
 * bounded cache forgot, answers it without a call and refills the cache.
 *
 * Money is counted in whole micro-dollars, so a budget holds to the cent: a call is reserved from the
 * query's and the day's budget before it starts, and refunded when the vendor certainly did not bill it
 * (a 404, a 429, a 5xx or another error status); a time-out or a broken connection may have been billed and
 * stays charged.
 *
 * Threads: everything here runs on the reactor, but lp_enricher_free (main thread, after the loop ended).
 */
#ifndef LP_SERVER_ENRICH_H
#define LP_SERVER_ENRICH_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "config/config.h"
#include "http/client.h"
#include "icp/icp.h"
#include "shard/leads.h"

struct lp_server;
typedef struct lp_enricher lp_enricher;

/* The fields a lead may lack, as bits. */
enum { LP_ENRICH_NAME = 1, LP_ENRICH_INDUSTRY = 2, LP_ENRICH_COUNTRY = 4, LP_ENRICH_EMPLOYEES = 8 };

/* What a vendor said about a company; NULL / "" / 0 = it did not say. */
typedef struct lp_firmo {
  char *name, *industry;  /* owned by whoever holds the struct */
  char country[3];        /* ISO 3166-1 alpha-2, upper case */
  int64_t employees;
} lp_firmo;

/* An item's state after lp_enrich_start / at done. */
enum { LP_ENRICH_NONE = 0, LP_ENRICH_FOUND, LP_ENRICH_NOT_FOUND };

typedef struct lp_enrich_item {
  const char *domain;     /* canonical; borrowed from the caller until done (or the start returned 0) */
  size_t len;
  unsigned missing;       /* LP_ENRICH_* bits the lead lacks; 0 = nothing to do */
  int state;              /* out: LP_ENRICH_NONE (no answer in time), FOUND, NOT_FOUND */
  lp_firmo firmo;         /* out when FOUND: owned by the item, freed by lp_enrich_query_fini */
} lp_enrich_item;

typedef struct lp_enrich_query lp_enrich_query;
typedef void (*lp_enrich_done_fn)(lp_enrich_query *q);

/* One query's request, owned by the caller. Fill items, n_items, budget_usd, done and ud; the rest is the
 * enricher's. The caller must keep it alive until done ran (when the start returned 1). */
struct lp_enrich_query {
  lp_enrich_item *items;
  size_t n_items;
  double budget_usd;      /* what the query may still spend */
  lp_enrich_done_fn done;
  void *ud;
  /* out */
  int64_t cost_micro;     /* charged to this query, in micro-dollars */
  uint32_t calls;         /* vendor attempts this query paid for */
  uint32_t hits;          /* items answered without a vendor call (the cache, or the lead's record) */
  /* private */
  lp_enrich_query *prev, *next;  /* the enricher's waiting list, oldest first */
  uint64_t deadline_ns;
  int64_t budget_micro;
  uint32_t pending;
};

/* Reads cfg->enrich and the vendor's key (secrets.pdl_api_key / clearbit_api_key). Without a key *out is
 * NULL and LP_OK: enrichment is off (logged once). With one: LP_ECONFIG when enrich.base_url is empty or
 * not http://, or the key holds a byte a header cannot carry (why in errstr); LP_ENOMEM. Registers the
 * leadpoet_enrich_* metrics in srv->metrics. srv must outlive the enricher. Reactor thread, at start. */
int lp_enricher_new(lp_enricher **out, struct lp_server *srv, char *errstr, size_t errstr_size);
/* Shutdown, before the workers stop: cancels the calls in flight (nothing more reaches the workers),
 * answers every waiting query (done runs from here), closes the timers. NULL is fine. Reactor thread. */
void lp_enricher_stop(lp_enricher *e);
/* Frees the cache and the enricher, after lp_enricher_stop and after the loop ended. NULL is fine. Main
 * thread. */
void lp_enricher_free(lp_enricher *e);

/* Starts the enrichment of q's items (see the top of this file). Returns 0 when q is complete now (items
 * answered from the cache or nothing could be fetched; done will not run), 1 when done(q) will run once,
 * later, from the loop. Never fails: what cannot be done leaves items at LP_ENRICH_NONE. Reactor thread. */
int lp_enrich_start(lp_enricher *e, lp_enrich_query *q);
/* Frees what q's items own (their firmographics). Reactor thread. */
void lp_enrich_query_fini(lp_enrich_query *q);

/* Which LP_ENRICH_* fields a rendered hit (core/query/exec.c's lead object) shows as null. Any thread. */
unsigned lp_enrich_missing(const char *json, size_t len);
/* Appends json with the null members named by missing replaced by f's values where f has them. LP_OK or
 * LP_ENOMEM (out's length restored). Any thread. */
int lp_enrich_patch(const char *json, size_t len, unsigned missing, const lp_firmo *f, lp_buf *out);

/* ---- enrich_vendor.c: the vendors' wire formats ------------------------------------------------------ */

enum { LP_VENDOR_PDL = 1, LP_VENDOR_CLEARBIT };

/* The path and query of a company lookup by domain (appended to the base URL's path) and the header line
 * that carries the key. Returns LP_OK, or LP_ERANGE when it does not fit. Any thread. */
int lp__vendor_request(int vendor, const char *domain, size_t len, const char *key, char *path, size_t path_size,
                       char *header, size_t header_size);
/* Reads a vendor's 200 body into f (strings owned by f; a country name is mapped to alpha-2 with the ICP
 * parser's table, which may be NULL). LP_OK, LP_EINVAL (not the vendor's JSON, why in errstr), LP_ENOMEM.
 * Any thread. */
int lp__vendor_parse(int vendor, const char *body, size_t len, const lp_icp_parser *icp, lp_firmo *f, char *errstr,
                     size_t errstr_size);
/* Frees f's strings and zeroes it. */
void lp__firmo_clear(lp_firmo *f);
/* A deep copy; LP_ENOMEM leaves dst cleared. */
int lp__firmo_copy(lp_firmo *dst, const lp_firmo *src);

#endif
