/*
 * enrich.c: the enrichment of a query's top leads (enrich.h, docs/adr/0017-enrichment.md): the domain
 * cache, the budgets, the vendor calls with retries under the circuit breaker, the queries waiting on
 * them, and the ring message that applies an answer to the lead on its shard.
 *
 * A fetch is one domain's lookup, shared by every query that wants the domain while it runs. Its first
 * attempt is paid by the query that started it (the owner); a retry (a time-out, a 429, a 5xx) is made
 * only while the owner still waits and can pay for it, and only if it can start before the owner's
 * deadline: every micro-dollar spent is in the cost of some query's answer.
 *
 * The cache is the fast path; the lead is the record. A vendor answer (found or 404) goes to the lead's
 * shard with its time (lp_leads_apply_enrichment), so it is checkpointed and survives a restart and the
 * cache's eviction. A fetch therefore starts by asking the lead's shard worker what the vendor said last
 * (the probe, one ring message): an answer within enrich.cache_ttl (found) or enrich.negative_ttl (404)
 * refills the cache and answers the fetch's queries without a call, its reservation given back; else the
 * vendor is asked. The money and the breaker are reserved before the probe, in the query's item order,
 * so a budget buys the same leads as without it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/breaker.h"
#include "base/clock.h"
#include "base/log.h"
#include "server/enrich.h"
#include "server/server_int.h"

#define DAY_MS 86400000LL
#define MAX_BUCKETS (1u << 20)

typedef struct centry {
  struct centry *hnext;           /* bucket chain */
  struct centry *older, *newer;   /* insertion order: the oldest is forgotten first */
  uint64_t hash;
  int64_t expires_ms;             /* wall clock */
  int found;                      /* 0 = the vendor does not know the company (404) */
  lp_firmo f;
  size_t len;
  char domain[];
} centry;

typedef struct waiter {
  lp_enrich_query *q;
  size_t idx;
} waiter;

struct probe_msg;

typedef struct fetch {
  lp_enricher *e;
  struct probe_msg *probe;        /* the lead's state is being read on its shard; NULL after */
  struct fetch *prev, *next;      /* the fetches in flight */
  lp_enrich_query *owner;         /* pays for retries; NULL once it answered */
  waiter *w;
  size_t n_w, cap_w;
  lp_httpc *http;                 /* the attempt in flight; NULL while backing off */
  uv_timer_t backoff;
  uint32_t attempts;
  int64_t reserved_micro;         /* the price of the attempt in flight, until it is settled */
  uint64_t hash;
  size_t len;
  char domain[256];
} fetch;

enum { R_FOUND, R_NOT_FOUND, R_RATE_LIMITED, R_SERVER_ERROR, R_CLIENT_ERROR, R_TRANSPORT, R_BAD_RESPONSE, R__N };
static const char *const result_names[R__N] = { "found", "not_found", "rate_limited", "server_error",
                                                "client_error", "transport", "bad_response" };
enum { S_BUDGET, S_DAILY, S_BREAKER, S_MAX_PER_QUERY, S__N };
static const char *const skip_names[S__N] = { "budget", "daily_budget", "breaker_open", "max_per_query" };

struct lp_enricher {
  lp_server *srv;
  int vendor;
  const char *key;
  lp_httpc_url url;
  int64_t price_micro, daily_micro;
  int64_t day, day_spent_micro, total_micro;
  lp_breaker breaker;
  centry **buckets;
  size_t mask, n_cache;
  centry *oldest, *newest;
  fetch *fetches;
  lp_enrich_query *wait_head, *wait_tail;
  uv_timer_t timer;
  int stopped;
  uint64_t hits, from_leads, misses, rng;
  lp_metric *m_calls[R__N], *m_skips[S__N], *m_cache_hit, *m_cache_lead, *m_cache_miss, *m_hit_rate, *m_cost,
      *m_daily, *m_breaker;
};

static int64_t to_micro(double usd) { return usd > 0 ? (int64_t)llround(usd * 1e6) : 0; }

/* ---- the cache ------------------------------------------------------------------------------------ */

static centry **bucket(lp_enricher *e, uint64_t hash) { return &e->buckets[hash & e->mask]; }

static void cache_remove(lp_enricher *e, centry *c) {
  centry **p = bucket(e, c->hash);
  while (*p != c) p = &(*p)->hnext;
  *p = c->hnext;
  if (c->older) c->older->newer = c->newer;
  else e->oldest = c->newer;
  if (c->newer) c->newer->older = c->older;
  else e->newest = c->older;
  e->n_cache--;
  lp__firmo_clear(&c->f);
  lp_free(c);
}

/* The live entry of a domain; an expired one is dropped on the way. */
static centry *cache_get(lp_enricher *e, const char *d, size_t len, uint64_t hash, int64_t now_ms) {
  for (centry *c = *bucket(e, hash); c != NULL; c = c->hnext) {
    if (c->hash != hash || c->len != len || memcmp(c->domain, d, len) != 0) continue;
    if (c->expires_ms > now_ms) return c;
    cache_remove(e, c);
    return NULL;
  }
  return NULL;
}

/* Remembers a vendor's answer (firmo NULL: a 404) until expires_ms. Out of memory only loses the memory
 * of it. */
static void cache_put(lp_enricher *e, const fetch *f, const lp_firmo *firmo, int64_t now_ms, int64_t expires_ms) {
  const lp_config *cfg = e->srv->cfg;
  centry *old = cache_get(e, f->domain, f->len, f->hash, now_ms);
  if (old != NULL) cache_remove(e, old);
  centry *c = lp_calloc(1, sizeof(*c) + f->len + 1);
  if (c == NULL || (firmo != NULL && lp__firmo_copy(&c->f, firmo) != LP_OK)) {
    lp_free(c);
    return;
  }
  c->hash = f->hash;
  c->len = f->len;
  memcpy(c->domain, f->domain, f->len);
  c->found = firmo != NULL;
  c->expires_ms = expires_ms;
  c->hnext = *bucket(e, c->hash);
  *bucket(e, c->hash) = c;
  c->older = e->newest;
  if (e->newest) e->newest->newer = c;
  else e->oldest = c;
  e->newest = c;
  if (++e->n_cache > (size_t)cfg->enrich.cache_entries) cache_remove(e, e->oldest);
}

/* ---- money ---------------------------------------------------------------------------------------- */

static void ledger_roll(lp_enricher *e) {
  int64_t day = lp_now_ms() / DAY_MS;
  if (day != e->day) {
    e->day = day;
    e->day_spent_micro = 0;
  }
}

/* Reserves one call from q's budget and the day's: S__N when it fits (then q and the day are charged),
 * else the skip reason. */
static int reserve(lp_enricher *e, lp_enrich_query *q) {
  ledger_roll(e);
  if (q->budget_micro < e->price_micro) return S_BUDGET;
  if (e->day_spent_micro + e->price_micro > e->daily_micro) return S_DAILY;
  q->budget_micro -= e->price_micro;
  q->cost_micro += e->price_micro;
  q->calls++;
  e->day_spent_micro += e->price_micro;
  e->total_micro += e->price_micro;
  return S__N;
}

/* Gives back a reservation that did not become a call. */
static void unreserve(lp_enricher *e, lp_enrich_query *q) {
  e->day_spent_micro -= e->price_micro;
  e->total_micro -= e->price_micro;
  q->budget_micro += e->price_micro;
  q->cost_micro -= e->price_micro;
  q->calls--;
}

/* The vendor certainly did not bill the attempt: the day gets it back, and the owner if it still waits. */
static void refund(lp_enricher *e, fetch *f) {
  ledger_roll(e);
  if (e->day_spent_micro >= f->reserved_micro) e->day_spent_micro -= f->reserved_micro;
  e->total_micro -= f->reserved_micro;
  if (f->owner != NULL) {
    f->owner->cost_micro -= f->reserved_micro;
    f->owner->budget_micro += f->reserved_micro;
  }
  f->reserved_micro = 0;
}

/* The first attempt's reservation that never became a call (the lead knew the answer, or shutdown came
 * first): like a refund, and the owner's attempt is not counted either. */
static void release(lp_enricher *e, fetch *f) {
  if (f->owner != NULL) f->owner->calls--;
  refund(e, f);
}

static void publish_hit_rate(lp_enricher *e) {
  uint64_t answered = e->hits + e->from_leads;
  if (answered + e->misses > 0) lp_gauge_set(e->m_hit_rate, (double)answered / (double)(answered + e->misses));
}

static void publish_money(lp_enricher *e) {
  lp_gauge_set(e->m_cost, (double)e->total_micro / 1e6);
  lp_gauge_set(e->m_daily, (double)e->day_spent_micro / 1e6);
  lp_gauge_set(e->m_breaker, (double)e->breaker.state);
}

/* ---- applying an answer to its lead ---------------------------------------------------------------- */

typedef struct apply_msg {
  lp_msg msg;
  uint32_t shard;
  int rc;
  int state;                      /* LP_LEAD_ENRICH_FOUND or NOT_FOUND */
  int64_t at_ms;                  /* when the vendor answered */
  uint64_t hash;
  size_t len;
  lp_firmo f;
  char domain[256];
} apply_msg;

static void apply_run(lp_worker *w, lp_msg *m) {
  apply_msg *a = (apply_msg *)m;
  lp_shard *sh = lp__worker_shard(w, a->shard);
  a->rc = sh == NULL ? LP_ENOENT
        : lp_leads_apply_enrichment(&sh->leads, a->domain, a->len, a->hash, a->state, a->at_ms, a->f.name,
                                    a->f.industry, a->f.country, a->f.employees);
  if (a->rc > 0) {  /* a state change like an event's: the next checkpoint saves the shard */
    sh->version++;
    sh->dirty = 1;
  }
}

static void apply_done(lp_msg *m) {
  apply_msg *a = (apply_msg *)m;
  if (a->rc < 0 && a->rc != LP_ENOENT)
    lp_log_warn("enrichment not applied to its lead", "domain=%s err=%s", a->domain, lp_strerror(a->rc));
  lp__firmo_clear(&a->f);
  lp_free(a);
}

/* Sends the vendor's answer (firmo NULL: a 404) given at at_ms to the lead's shard worker. */
static void send_apply(lp_enricher *e, const fetch *f, const lp_firmo *firmo, int64_t at_ms) {
  apply_msg *a = lp_calloc(1, sizeof(*a));
  if (a == NULL || (firmo != NULL && lp__firmo_copy(&a->f, firmo) != LP_OK)) {
    lp_log_warn("enrichment not applied to its lead", "domain=%s err=%s", f->domain, lp_strerror(LP_ENOMEM));
    lp_free(a);
    return;
  }
  a->msg = (lp_msg){ apply_run, apply_done, 0, NULL };
  a->state = firmo != NULL ? LP_LEAD_ENRICH_FOUND : LP_LEAD_ENRICH_NOT_FOUND;
  a->at_ms = at_ms;
  a->shard = lp_partition_of(f->domain, f->len, (uint32_t)e->srv->cfg->server.shards);
  a->hash = f->hash;
  a->len = f->len;
  memcpy(a->domain, f->domain, f->len);
  lp_workers_send_shard(e->srv->workers, a->shard, &a->msg);
}

/* ---- queries ---------------------------------------------------------------------------------------- */

static void wait_unlink(lp_enricher *e, lp_enrich_query *q) {
  if (q->prev) q->prev->next = q->next;
  else if (e->wait_head == q) e->wait_head = q->next;
  else return;  /* not waiting */
  if (q->next) q->next->prev = q->prev;
  else e->wait_tail = q->prev;
  q->prev = q->next = NULL;
}

/* q answers now: it leaves the waiting list and every fetch forgets it; then done(q). */
static void query_finish(lp_enricher *e, lp_enrich_query *q) {
  wait_unlink(e, q);
  for (fetch *f = e->fetches; f != NULL; f = f->next) {
    size_t k = 0;
    for (size_t i = 0; i < f->n_w; i++)
      if (f->w[i].q != q) f->w[k++] = f->w[i];
    f->n_w = k;
    if (f->owner == q) f->owner = NULL;
  }
  q->pending = 0;
  q->done(q);
}

static void on_deadline(uv_timer_t *t);

/* The timer follows the oldest waiting query's deadline (every query waits enrich.wait: the list is in
 * deadline order). Not after lp_enricher_stop closed it. */
static void arm_timer(lp_enricher *e) {
  if (e->stopped) return;
  if (e->wait_head == NULL) {
    uv_timer_stop(&e->timer);
    return;
  }
  uint64_t now = lp_mono_ns(), at = e->wait_head->deadline_ns;
  uv_timer_start(&e->timer, on_deadline, at > now ? (at - now + 999999) / 1000000 : 0, 0);
}

static void on_deadline(uv_timer_t *t) {
  lp_enricher *e = t->data;
  uint64_t now = lp_mono_ns();
  while (e->wait_head != NULL && e->wait_head->deadline_ns <= now) query_finish(e, e->wait_head);
  arm_timer(e);
}

/* ---- fetches ---------------------------------------------------------------------------------------- */

static void fetch_closed(uv_handle_t *h) { lp_free(h->data); }

static void fetch_free(fetch *f) {
  lp_enricher *e = f->e;
  if (f->prev) f->prev->next = f->next;
  else if (e->fetches == f) e->fetches = f->next;
  if (f->next) f->next->prev = f->prev;
  f->prev = f->next = NULL;
  lp_free(f->w);
  f->w = NULL;
  f->backoff.data = f;
  uv_close((uv_handle_t *)&f->backoff, fetch_closed);
}

/* The fetch is over with state (FOUND with firmo, NOT_FOUND, or NONE: no answer): a vendor's answer is
 * remembered and applied to the lead (from_lead: the answer is the lead's own record, already cached), the
 * waiting queries are told, and it is freed. */
static void fetch_finish(fetch *f, int state, const lp_firmo *firmo, int from_lead) {
  lp_enricher *e = f->e;
  if (state != LP_ENRICH_NONE && !from_lead) {
    const lp_config *cfg = e->srv->cfg;
    const lp_firmo *found = state == LP_ENRICH_FOUND ? firmo : NULL;
    int64_t now = lp_now_ms();
    cache_put(e, f, found, now, now + (found != NULL ? cfg->enrich.cache_ttl_ms : cfg->enrich.negative_ttl_ms));
    send_apply(e, f, found, now);
  }
  waiter *w = f->w;
  size_t n = f->n_w;
  f->w = NULL;
  f->n_w = 0;
  f->owner = NULL;
  fetch_free(f);  /* unlinked before any done() runs */
  for (size_t i = 0; i < n; i++) {
    lp_enrich_query *q = w[i].q;
    lp_enrich_item *it = &q->items[w[i].idx];
    it->state = state;
    if (from_lead) q->hits++;
    if (state == LP_ENRICH_FOUND && lp__firmo_copy(&it->firmo, firmo) != LP_OK) it->state = LP_ENRICH_NONE;
    if (--q->pending == 0) query_finish(e, q);
  }
  lp_free(w);
  arm_timer(e);
}

static void start_attempt(fetch *f);

static void on_backoff(uv_timer_t *t) { start_attempt(t->data); }

/* A retry after a time-out, 429 or 5xx: while attempts remain, the owner waits and pays, the day's budget
 * and the breaker allow, and the retry can start before the owner's deadline. 1 when scheduled. */
static int try_retry(fetch *f, uint64_t retry_after_ms) {
  lp_enricher *e = f->e;
  const lp_config *cfg = e->srv->cfg;
  if (f->attempts > (uint32_t)cfg->enrich.retries || f->owner == NULL || e->stopped) return 0;
  uint64_t base = (uint64_t)cfg->enrich.backoff_ms << (f->attempts - 1 < 20 ? f->attempts - 1 : 20);
  e->rng ^= e->rng << 13, e->rng ^= e->rng >> 7, e->rng ^= e->rng << 17;
  uint64_t delay = (uint64_t)((double)base * (0.5 + (double)(e->rng >> 11) / 9007199254740992.0));
  if (retry_after_ms > delay) delay = retry_after_ms;
  if (lp_mono_ns() + delay * 1000000 >= f->owner->deadline_ns) return 0;
  if (reserve(e, f->owner) != S__N) return 0;
  if (!lp_breaker_allow(&e->breaker, lp_now_ms())) {
    unreserve(e, f->owner);
    return 0;
  }
  f->reserved_micro = e->price_micro;
  uv_timer_start(&f->backoff, on_backoff, delay, 0);
  return 1;
}

static int classify(int err, const lp_httpc_res *res) {
  if (err != LP_OK) return R_TRANSPORT;
  if (res->status == 200) return R_FOUND;
  if (res->status == 404) return R_NOT_FOUND;
  if (res->status == 429) return R_RATE_LIMITED;
  return res->status >= 500 ? R_SERVER_ERROR : R_CLIENT_ERROR;
}

static void on_response(void *ud, int err, const char *errstr, const lp_httpc_res *res) {
  fetch *f = ud;
  lp_enricher *e = f->e;
  f->http = NULL;
  int r = classify(err, res);
  lp_firmo firmo = { 0 };
  char why[256] = "";
  if (r == R_FOUND && lp__vendor_parse(e->vendor, res->body, res->body_len, e->srv->icp, &firmo, why, sizeof(why)) != LP_OK)
    r = R_BAD_RESPONSE;
  /* Billed: an answer, or an attempt that may have reached the vendor; an error status is not. */
  if (r != R_FOUND && r != R_TRANSPORT && r != R_BAD_RESPONSE) refund(e, f);
  f->reserved_micro = 0;
  int before = e->breaker.state;
  lp_breaker_record(&e->breaker, r == R_FOUND || r == R_NOT_FOUND, lp_now_ms());
  if (e->breaker.state == LP_BREAKER_OPEN && before != LP_BREAKER_OPEN)
    lp_log_warn("enrichment circuit breaker open", "last_result=%s cooldown_ms=%lld", result_names[r],
                (long long)e->srv->cfg->enrich.breaker_cooldown_ms);
  else if (e->breaker.state == LP_BREAKER_CLOSED && before != LP_BREAKER_CLOSED)
    lp_log_info("enrichment circuit breaker closed", "domain=%s", f->domain);
  lp_counter_add(e->m_calls[r], 1);
  if (r != R_FOUND && r != R_NOT_FOUND)
    lp_log_debug("enrichment call failed", "domain=%s result=%s status=%d err=\"%s\"", f->domain, result_names[r],
                 res ? res->status : 0, err != LP_OK ? errstr : why);
  uint64_t retry_after = 0;
  char ra[32];
  if (r == R_RATE_LIMITED && lp_httpc_header(res, "Retry-After", ra, sizeof(ra)) > 0) {
    char *end;
    unsigned long s = strtoul(ra, &end, 10);
    if (*end == '\0' && s < 86400) retry_after = (uint64_t)s * 1000;
  }
  int retried = (r == R_TRANSPORT || r == R_RATE_LIMITED || r == R_SERVER_ERROR) && try_retry(f, retry_after);
  publish_money(e);
  if (retried) return;
  fetch_finish(f, r == R_FOUND ? LP_ENRICH_FOUND : r == R_NOT_FOUND ? LP_ENRICH_NOT_FOUND : LP_ENRICH_NONE, &firmo,
               0);
  lp__firmo_clear(&firmo);
}

/* Sends an attempt whose price is reserved and which the breaker allowed. */
static void start_attempt(fetch *f) {
  lp_enricher *e = f->e;
  const lp_config *cfg = e->srv->cfg;
  char path[512], header[512];
  f->attempts++;
  int rc = lp__vendor_request(e->vendor, f->domain, f->len, e->key, path, sizeof(path), header, sizeof(header));
  if (rc == LP_OK) {
    lp_httpc_req req = { "GET", &e->url, path, NULL, header, NULL, 0, (uint64_t)cfg->enrich.timeout_ms,
                         (size_t)cfg->enrich.max_response, NULL };
    rc = lp_httpc_request(&e->srv->loop, &req, on_response, f, &f->http);
  }
  if (rc == LP_OK) return;
  lp_log_warn("enrichment call not started", "domain=%s err=%s", f->domain, lp_strerror(rc));
  refund(e, f);  /* nothing left this process */
  lp_breaker_record(&e->breaker, 0, lp_now_ms());
  lp_counter_add(e->m_calls[R_TRANSPORT], 1);
  publish_money(e);
  fetch_finish(f, LP_ENRICH_NONE, NULL, 0);
}

/* ---- the lead's record of the vendor's last answer ------------------------------------------------ */

typedef struct probe_msg {
  lp_msg msg;
  fetch *f;                       /* NULL once the fetch ended without it (shutdown) */
  uint32_t shard;
  int state;                      /* out: the lead's LP_LEAD_ENRICH_* (NONE: no answer, or no such lead) */
  int64_t at_ms;                  /* out: when the vendor answered */
  lp_firmo firmo;                 /* out when FOUND: the lead's firmographics */
  uint64_t hash;
  size_t len;
  char domain[256];
} probe_msg;

static void probe_run(lp_worker *w, lp_msg *m) {
  probe_msg *p = (probe_msg *)m;
  lp_shard *sh = lp__worker_shard(w, p->shard);
  const lp_lead *l = sh != NULL ? lp_leads_get(&sh->leads, p->domain, p->len, p->hash) : NULL;
  if (l == NULL || l->enrich_state == LP_LEAD_ENRICH_NONE) return;
  p->state = l->enrich_state;
  p->at_ms = l->enrich_ms;
  if (p->state != LP_LEAD_ENRICH_FOUND) return;
  lp_firmo v = { l->name, l->industry, "", l->employees };
  memcpy(v.country, l->country, sizeof(v.country));
  if (lp__firmo_copy(&p->firmo, &v) != LP_OK) p->state = LP_LEAD_ENRICH_NONE;  /* then the vendor is asked */
}

static void count_miss(lp_enricher *e) {
  e->misses++;
  lp_counter_add(e->m_cache_miss, 1);
  publish_hit_rate(e);
}

/* The lead's answer: within its TTL it refills the cache and ends the fetch without a call (the
 * reservation and the breaker's allowance given back); else the vendor is asked. */
static void probe_done(lp_msg *m) {
  probe_msg *p = (probe_msg *)m;
  fetch *f = p->f;
  if (f != NULL) {
    lp_enricher *e = f->e;
    const lp_config *cfg = e->srv->cfg;
    int found = p->state == LP_LEAD_ENRICH_FOUND;
    int64_t now = lp_now_ms(), until = p->at_ms + (found ? cfg->enrich.cache_ttl_ms : cfg->enrich.negative_ttl_ms);
    f->probe = NULL;
    if (p->state != LP_LEAD_ENRICH_NONE && until > now) {
      cache_put(e, f, found ? &p->firmo : NULL, now, until);
      release(e, f);
      lp_breaker_unused(&e->breaker);
      e->from_leads++;
      lp_counter_add(e->m_cache_lead, 1);
      publish_hit_rate(e);
      publish_money(e);
      fetch_finish(f, found ? LP_ENRICH_FOUND : LP_ENRICH_NOT_FOUND, &p->firmo, 1);
    } else {
      count_miss(e);
      start_attempt(f);
    }
  }
  lp__firmo_clear(&p->firmo);
  lp_free(p);
}

/* Asks the lead's shard what the vendor said last (probe_done goes on); without memory for the message,
 * the vendor is asked at once. */
static void probe_lead(lp_enricher *e, fetch *f) {
  probe_msg *p = lp_calloc(1, sizeof(*p));
  if (p == NULL) {
    count_miss(e);
    start_attempt(f);
    return;
  }
  p->msg = (lp_msg){ probe_run, probe_done, 0, NULL };
  p->f = f;
  p->shard = lp_partition_of(f->domain, f->len, (uint32_t)e->srv->cfg->server.shards);
  p->hash = f->hash;
  p->len = f->len;
  memcpy(p->domain, f->domain, f->len);
  f->probe = p;
  lp_workers_send_shard(e->srv->workers, p->shard, &p->msg);
}

static fetch *fetch_find(lp_enricher *e, const char *d, size_t len) {
  for (fetch *f = e->fetches; f != NULL; f = f->next)
    if (f->len == len && memcmp(f->domain, d, len) == 0) return f;
  return NULL;
}

static int add_waiter(fetch *f, lp_enrich_query *q, size_t idx) {
  if (f->n_w == f->cap_w) {
    size_t cap = f->cap_w ? f->cap_w * 2 : 4;
    waiter *w = lp_realloc(f->w, cap * sizeof(*w));
    if (w == NULL) return LP_ENOMEM;
    f->w = w;
    f->cap_w = cap;
  }
  f->w[f->n_w++] = (waiter){ q, idx };
  q->pending++;
  return LP_OK;
}

/* A new fetch for item idx of q, its first attempt reserved and allowed by the breaker; it asks the lead
 * first (probe_lead). 1 started, 0 not (the reservation is given back). */
static int fetch_start(lp_enricher *e, lp_enrich_query *q, size_t idx, uint64_t hash, int wait) {
  const lp_enrich_item *it = &q->items[idx];
  fetch *f = it->len < sizeof(f->domain) ? lp_calloc(1, sizeof(*f)) : NULL;
  if (f == NULL) {
    unreserve(e, q);
    lp_breaker_record(&e->breaker, 0, lp_now_ms());  /* what it allowed did not happen: not a probe left hanging */
    return 0;
  }
  f->e = e;
  f->hash = hash;
  f->len = it->len;
  memcpy(f->domain, it->domain, it->len);
  f->reserved_micro = e->price_micro;
  f->owner = wait ? q : NULL;
  if (wait && add_waiter(f, q, idx) != LP_OK) {
    unreserve(e, q);
    lp_breaker_record(&e->breaker, 0, lp_now_ms());
    lp_free(f);
    return 0;
  }
  uv_timer_init(&e->srv->loop, &f->backoff);
  f->backoff.data = f;
  f->next = e->fetches;
  if (e->fetches) e->fetches->prev = f;
  e->fetches = f;
  probe_lead(e, f);
  return 1;
}

int lp_enrich_start(lp_enricher *e, lp_enrich_query *q) {
  q->cost_micro = 0;
  q->calls = q->hits = q->pending = 0;
  q->prev = q->next = NULL;
  q->budget_micro = to_micro(q->budget_usd);
  if (e == NULL || e->stopped) return 0;
  const lp_config *cfg = e->srv->cfg;
  int64_t now = lp_now_ms();
  int wait = cfg->enrich.wait_ms > 0;
  q->deadline_ns = lp_mono_ns() + (uint64_t)cfg->enrich.wait_ms * 1000000;
  uint32_t started = 0;
  for (size_t i = 0; i < q->n_items; i++) {
    lp_enrich_item *it = &q->items[i];
    it->state = LP_ENRICH_NONE;
    memset(&it->firmo, 0, sizeof(it->firmo));
    if (it->missing == 0 || it->len == 0) continue;
    uint64_t hash = lp_domain_hash(it->domain, it->len);
    centry *c = cache_get(e, it->domain, it->len, hash, now);
    if (c != NULL) {
      q->hits++;
      it->state = c->found ? LP_ENRICH_FOUND : LP_ENRICH_NOT_FOUND;
      if (c->found && lp__firmo_copy(&it->firmo, &c->f) != LP_OK) it->state = LP_ENRICH_NONE;
      continue;
    }
    fetch *f = fetch_find(e, it->domain, it->len);
    if (f != NULL) {
      count_miss(e);
      if (wait) (void)add_waiter(f, q, i);  /* out of memory: this query does not wait for it */
      continue;
    }
    int skip = started >= (uint32_t)cfg->enrich.max_per_query ? S_MAX_PER_QUERY : reserve(e, q);
    if (skip == S__N && !lp_breaker_allow(&e->breaker, lp_now_ms())) {
      unreserve(e, q);
      skip = S_BREAKER;
    }
    if (skip != S__N) {
      count_miss(e);
      lp_counter_add(e->m_skips[skip], 1);
      continue;
    }
    started += (uint32_t)fetch_start(e, q, i, hash, wait);
  }
  e->hits += q->hits;
  lp_counter_add(e->m_cache_hit, q->hits);
  publish_hit_rate(e);
  publish_money(e);
  if (q->pending == 0) return 0;
  q->prev = e->wait_tail;
  if (e->wait_tail) e->wait_tail->next = q;
  else e->wait_head = q;
  e->wait_tail = q;
  arm_timer(e);
  return 1;
}

void lp_enrich_query_fini(lp_enrich_query *q) {
  for (size_t i = 0; i < q->n_items; i++) lp__firmo_clear(&q->items[i].firmo);
}

/* ---- life --------------------------------------------------------------------------------------------- */

static int setup_metrics(lp_enricher *e, lp_metrics *m) {
  static const char *const result_label[] = { "result" }, *const reason_label[] = { "reason" };
  lp_metric_family *calls = lp_metrics_family(m, LP_METRIC_COUNTER, "leadpoet_enrich_calls_total",
                                              "Enrichment vendor calls, by result.", result_label, 1, NULL, 0);
  lp_metric_family *skips = lp_metrics_family(m, LP_METRIC_COUNTER, "leadpoet_enrich_skips_total",
                                              "Enrichment calls not made, by reason.", reason_label, 1, NULL, 0);
  lp_metric_family *cache = lp_metrics_family(m, LP_METRIC_COUNTER, "leadpoet_enrich_cache_total",
                                              "Enrichment lookups of leads lacking a field, by result: hit (the cache), "
                                              "lead (the lead's record of the vendor's last answer), miss.",
                                              result_label, 1, NULL, 0);
  for (int i = 0; i < R__N; i++) e->m_calls[i] = lp_metrics_series(calls, &result_names[i]);
  for (int i = 0; i < S__N; i++) e->m_skips[i] = lp_metrics_series(skips, &skip_names[i]);
  static const char *const hit[] = { "hit" }, *const lead[] = { "lead" }, *const miss[] = { "miss" };
  e->m_cache_hit = lp_metrics_series(cache, hit);
  e->m_cache_lead = lp_metrics_series(cache, lead);
  e->m_cache_miss = lp_metrics_series(cache, miss);
  e->m_hit_rate = lp_metrics_gauge(m, "leadpoet_enrich_cache_hit_rate",
                                   "Share of enrichment lookups answered without a vendor call (cache or lead).");
  e->m_cost = lp_metrics_gauge(m, "leadpoet_enrich_cost_usd", "USD charged for enrichment calls since start.");
  e->m_daily = lp_metrics_gauge(m, "leadpoet_enrich_daily_spent_usd",
                                "USD charged for enrichment calls this UTC day (enrich.daily_budget_usd bounds it).");
  e->m_breaker = lp_metrics_gauge(m, "leadpoet_enrich_breaker_state",
                                  "Enrichment circuit breaker: 0 closed, 1 open, 2 half-open.");
  for (int i = 0; i < R__N; i++)
    if (e->m_calls[i] == NULL) return LP_ENOMEM;
  for (int i = 0; i < S__N; i++)
    if (e->m_skips[i] == NULL) return LP_ENOMEM;
  int ok = e->m_cache_hit && e->m_cache_lead && e->m_cache_miss && e->m_hit_rate && e->m_cost && e->m_daily &&
           e->m_breaker;
  return ok ? LP_OK : LP_ENOMEM;
}

/* The vendor enrich.provider names, and its key; 0 when that vendor has no key. */
static int pick_vendor(const lp_config *cfg, const char **key) {
  const char *p = cfg->enrich.provider, *pdl = cfg->secrets.pdl_api_key, *cb = cfg->secrets.clearbit_api_key;
  int vendor = strcmp(p, "pdl") == 0 ? LP_VENDOR_PDL : strcmp(p, "clearbit") == 0 ? LP_VENDOR_CLEARBIT
             : pdl[0] ? LP_VENDOR_PDL : LP_VENDOR_CLEARBIT;
  *key = vendor == LP_VENDOR_PDL ? pdl : cb;
  return (*key)[0] ? vendor : 0;
}

int lp_enricher_new(lp_enricher **out, lp_server *srv, char *errstr, size_t errstr_size) {
  *out = NULL;
  const lp_config *cfg = srv->cfg;
  const char *key;
  int vendor = pick_vendor(cfg, &key);
  if (vendor == 0) {
    lp_log_info("enrichment off: no vendor key", "provider=%s", cfg->enrich.provider);
    return LP_OK;
  }
  for (const char *k = key; *k; k++) {
    if ((unsigned char)*k <= ' ' || (unsigned char)*k >= 0x7f) {
      snprintf(errstr, errstr_size, "the %s API key holds a space or a byte a header cannot carry",
               vendor == LP_VENDOR_PDL ? "PDL" : "Clearbit");
      return LP_ECONFIG;
    }
  }
  lp_httpc_url url;
  char why[256] = "";
  if (cfg->enrich.base_url[0] == '\0' || lp_httpc_url_parse(cfg->enrich.base_url, &url, why, sizeof(why)) != LP_OK) {
    snprintf(errstr, errstr_size, "enrich.base_url: %s", why[0] ? why : "must be set when a vendor key is set "
             "(an http:// URL, e.g. an egress TLS proxy to the vendor)");
    return LP_ECONFIG;
  }
  if (cfg->enrich.breaker_min_calls > cfg->enrich.breaker_window) {
    snprintf(errstr, errstr_size, "enrich.breaker_min_calls (%lld) must not exceed enrich.breaker_window (%lld)",
             (long long)cfg->enrich.breaker_min_calls, (long long)cfg->enrich.breaker_window);
    return LP_ECONFIG;
  }
  lp_enricher *e = lp_calloc(1, sizeof(*e));
  size_t nb = 16;
  while (nb < (size_t)cfg->enrich.cache_entries && nb < MAX_BUCKETS) nb <<= 1;
  if (e == NULL || (e->buckets = lp_calloc(nb, sizeof(centry *))) == NULL) {
    lp_free(e);
    snprintf(errstr, errstr_size, "out of memory");
    return LP_ENOMEM;
  }
  e->mask = nb - 1;
  e->srv = srv;
  e->vendor = vendor;
  e->key = key;
  e->url = url;
  e->price_micro = to_micro(cfg->enrich.price_usd_per_call);
  e->daily_micro = to_micro(cfg->enrich.daily_budget_usd);
  e->day = lp_now_ms() / DAY_MS;
  e->rng = (uint64_t)lp_mono_ns() ^ ((uint64_t)getpid() << 32) ^ 0x9E3779B97F4A7C15ull;
  lp_breaker_init(&e->breaker, (uint32_t)cfg->enrich.breaker_window, (uint32_t)cfg->enrich.breaker_min_calls,
                  cfg->enrich.breaker_threshold, cfg->enrich.breaker_cooldown_ms);
  if (setup_metrics(e, srv->metrics) != LP_OK) {
    lp_free(e->buckets);
    lp_free(e);
    snprintf(errstr, errstr_size, "cannot register the leadpoet_enrich_* metrics");
    return LP_ENOMEM;
  }
  uv_timer_init(&srv->loop, &e->timer);
  e->timer.data = e;
  lp_log_info("enrichment on", "vendor=%s base_url=%s price_usd=%.4f daily_budget_usd=%.2f",
              vendor == LP_VENDOR_PDL ? "pdl" : "clearbit", cfg->enrich.base_url, cfg->enrich.price_usd_per_call,
              cfg->enrich.daily_budget_usd);
  *out = e;
  return LP_OK;
}

void lp_enricher_stop(lp_enricher *e) {
  if (e == NULL || e->stopped) return;
  e->stopped = 1;
  while (e->fetches != NULL) {  /* cancelled calls may have been billed: they stay charged */
    fetch *f = e->fetches;
    if (f->http != NULL) lp_httpc_cancel(f->http);
    f->http = NULL;
    uv_timer_stop(&f->backoff);
    if (f->probe != NULL) {  /* nothing left this process: the reservation is given back */
      f->probe->f = NULL;    /* its message comes back from the draining worker and is freed then */
      f->probe = NULL;
      release(e, f);
      lp_breaker_unused(&e->breaker);
    }
    fetch_finish(f, LP_ENRICH_NONE, NULL, 0);
  }
  while (e->wait_head != NULL) query_finish(e, e->wait_head);
  uv_close((uv_handle_t *)&e->timer, NULL);
}

void lp_enricher_free(lp_enricher *e) {
  if (e == NULL) return;
  while (e->oldest != NULL) cache_remove(e, e->oldest);
  lp_free(e->buckets);
  lp_free(e);
}
