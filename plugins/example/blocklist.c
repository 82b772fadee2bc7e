/*
 * blocklist.c: an example leadpoet stage, a domain blocklist. Copy this file to start your own stage.
 *
 *   [stages]
 *   order = ingest, blocklist
 *   plugins = build/plugins/example/liblp_example_blocklist.so
 *
 *   [stage.blocklist]
 *   domains = acme.com, example.org     ; "acme.com" also blocks "eu.acme.com"
 *   drop_code = blocked_domain          ; the reason given for what is dropped
 *   spam_limit = 3                      ; after 3 `spam` outcomes for a domain, drop its snippets (0: off)
 *   spam_domains = 4096                 ; domains each shard remembers spam counts for
 *
 * Snippets and outcomes about a blocked domain are dropped with drop_code and counted
 * (leadpoet_stage_blocked_total{stage="blocklist",label="snippet"|"outcome"}); queries never return them.
 * Outcomes are also reacted to: each outcome of a blocked domain is counted by its event
 * (leadpoet_stage_blocked_outcome_total{stage="blocklist",label="spam"|"replied"|...}), and with spam_limit
 * set, a domain that collected spam_limit `spam` outcomes is blocked from then on: its later snippets are
 * dropped with drop_code (leadpoet_stage_spam_blocked_total{label="snippet"}). Those counts live in per-shard
 * state (a domain's snippets and outcomes reach the same shard), saved and loaded with the shard.
 *
 * The rules a plugin follows, all visible below: include only leadpoet/stage.h and libc; export one
 * symbol, lp_stage_entry; reach the host only through the lp_host_api table given to init() (memory,
 * logs, counters, query contributions), never by calling core functions; keep the stage-wide state
 * read-only after init(), since every worker reads it at once.
 *
 * Three builds of this file are test fixtures (see CMakeLists.txt): LP_EXAMPLE_BAD_ABI declares stage ABI
 * major + 1, LP_EXAMPLE_NO_ENTRY exports no lp_stage_entry, LP_EXAMPLE_SLOW sleeps 1 ms on every snippet
 * (a worker slower than the reactor, for the backpressure tests).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#ifdef LP_EXAMPLE_SLOW
#include <time.h>
#endif

#include "leadpoet/stage.h"

#define EXPORT __attribute__((visibility("default")))

/* The parsed [stage.blocklist] section: the host fills it from the key table below. */
typedef struct blocklist_conf {
  char *domains;
  char *drop_code;
  int64_t spam_limit;
  int64_t spam_domains;
} blocklist_conf;

static const lp_conf_key blocklist_keys[] = {
  { "domains", LP_CONF_STRING, "", 1, 0, offsetof(blocklist_conf, domains),
    "Comma-separated domains to block; a domain also blocks its sub-domains (acme.com blocks eu.acme.com)." },
  { "drop_code", LP_CONF_STRING, "blocked_domain", 1, 0, offsetof(blocklist_conf, drop_code),
    "The code given for what the blocklist drops (leadpoet_snippets_total{result=...})." },
  { "spam_limit", LP_CONF_INT, "0", 0, 1000000, offsetof(blocklist_conf, spam_limit),
    "After this many `spam` outcomes for a domain, its later snippets are dropped too (0: off)." },
  { "spam_domains", LP_CONF_INT, "4096", 16, 1048576, offsetof(blocklist_conf, spam_domains),
    "Domains each shard keeps spam counts for (16 bytes each); past it, new domains are not counted." },
  { NULL, 0, NULL, 0, 0, 0, NULL }
};

/* Stage-wide state, shared read-only by every shard after init(). */
typedef struct blocklist {
  const lp_host_api *host;
  const char *drop_code;     /* points into the conf, which lives until destroy() */
  char **domains;            /* lower-case, no leading or trailing dot */
  size_t *lens;
  size_t n;
  uint32_t spam_limit;       /* 0: the spam reaction is off */
  uint32_t spam_cap;         /* slots of each shard's table: a power of two >= 2 x spam_domains */
  uint32_t spam_max;         /* spam_domains */
  lp_counter *blocked_snippets;
  lp_counter *blocked_outcomes;
  lp_counter *outcome_by_event[LP_EVENT__COUNT];
  lp_counter *spam_blocked;
  lp_counter *spam_table_full;
} blocklist;

/* One shard's spam counts: open addressing on a 64-bit hash of the canonical domain (0 = empty slot).
 * Owned by the shard's worker thread, so no locks. */
typedef struct spam_slot {
  uint64_t hash;
  uint32_t spam;
  uint32_t pad;
} spam_slot;

typedef struct blocklist_shard {
  const blocklist *b;
  spam_slot *slots;          /* b->spam_cap entries, NULL when spam_limit is 0 */
  uint32_t used;
} blocklist_shard;

static const char *const event_labels[LP_EVENT__COUNT] = {
  "delivered", "opened", "replied", "meeting", "purchased", "bounced", "invalid", "spam",
};

static void blocklist_destroy(void *stage) {
  blocklist *b = stage;
  if (b == NULL) return;
  for (size_t i = 0; i < b->n; i++) b->host->free(b->domains[i]);
  b->host->free(b->domains);
  b->host->free(b->lens);
  b->host->free(b);
}

static int domain_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

/* Adds one trimmed entry [a, e) of the list, lower-cased; a leading or trailing dot is dropped so that
 * ".acme.com" means the same as "acme.com". */
static int add_domain(blocklist *b, const char *a, const char *e, char *errstr, size_t errstr_size) {
  while (a < e && *a == '.') a++;
  while (e > a && e[-1] == '.') e--;
  size_t n = (size_t)(e - a);
  if (n == 0 || n > 253) {
    snprintf(errstr, errstr_size, "domains: \"%.*s\" is not a domain", (int)(n > 64 ? 64 : n), a);
    return LP_EINVAL;
  }
  char *d = b->host->malloc(n + 1);
  if (d == NULL) return LP_ENOMEM;
  for (size_t i = 0; i < n; i++) {
    char c = a[i] >= 'A' && a[i] <= 'Z' ? (char)(a[i] - 'A' + 'a') : a[i];
    if (!domain_char(c)) {
      snprintf(errstr, errstr_size, "domains: \"%.*s\" is not a domain", (int)(n > 64 ? 64 : n), a);
      b->host->free(d);
      return LP_EINVAL;
    }
    d[i] = c;
  }
  d[n] = '\0';
  b->domains[b->n] = d;
  b->lens[b->n] = n;
  b->n++;
  return LP_OK;
}

static int parse_domains(blocklist *b, const char *list, char *errstr, size_t errstr_size) {
  size_t cap = 1;
  for (const char *p = list; *p != '\0'; p++) cap += *p == ',';
  b->domains = b->host->calloc(cap, sizeof(char *));
  b->lens = b->host->calloc(cap, sizeof(size_t));
  if (b->domains == NULL || b->lens == NULL) return LP_ENOMEM;
  const char *p = list;
  for (;;) {
    const char *end = strchr(p, ',');
    if (end == NULL) end = p + strlen(p);
    const char *a = p, *e = end;
    while (a < e && (*a == ' ' || *a == '\t')) a++;
    while (e > a && (e[-1] == ' ' || e[-1] == '\t')) e--;
    if (a < e) {
      int rc = add_domain(b, a, e, errstr, errstr_size);
      if (rc != LP_OK) return rc;
    }
    if (*end == '\0') return LP_OK;
    p = end + 1;
  }
}

static int blocklist_init(const lp_host_api *host, const void *conf, void **stage, char *errstr,
                          size_t errstr_size) {
  const blocklist_conf *c = conf;
  blocklist *b = host->calloc(1, sizeof(*b));
  if (b == NULL) return LP_ENOMEM;
  b->host = host;
  b->drop_code = c->drop_code != NULL && c->drop_code[0] != '\0' ? c->drop_code : "blocked_domain";
  int rc = parse_domains(b, c->domains != NULL ? c->domains : "", errstr, errstr_size);
  if (rc != LP_OK) {
    blocklist_destroy(b);
    return rc;
  }
  b->blocked_snippets = host->counter("blocklist", "blocked", "Events dropped by the blocklist stage.", "snippet");
  b->blocked_outcomes = host->counter("blocklist", "blocked", "Events dropped by the blocklist stage.", "outcome");
  for (int e = 0; e < LP_EVENT__COUNT; e++)
    b->outcome_by_event[e] = host->counter("blocklist", "blocked_outcome",
                                           "Outcomes of blocked domains, by event.", event_labels[e]);
  b->spam_blocked = host->counter("blocklist", "spam_blocked",
                                  "Snippets dropped because their domain reached spam_limit spam outcomes.", "snippet");
  b->spam_table_full = host->counter("blocklist", "spam_table_full",
                                     "Spam outcomes not counted: the shard's table held spam_domains domains.", "outcome");
  b->spam_limit = (uint32_t)c->spam_limit;
  b->spam_max = (uint32_t)c->spam_domains;
  for (b->spam_cap = 32; b->spam_cap < 2 * b->spam_max; b->spam_cap *= 2) continue;
  if (b->n == 0) host->log(LP_LOG_WARN, "blocklist", "no domains configured: the blocklist blocks nothing");
  else host->log(LP_LOG_INFO, "blocklist", "blocking %zu domains and their sub-domains", b->n);
  *stage = b;
  return LP_OK;
}

/* Suffix match on a label boundary: "acme.com" matches "acme.com" and "eu.acme.com", not "notacme.com". */
static int blocked(const blocklist *b, lp_str domain) {
  for (size_t i = 0; i < b->n; i++) {
    size_t n = b->lens[i];
    if (domain.len < n || memcmp(domain.ptr + domain.len - n, b->domains[i], n) != 0) continue;
    if (domain.len == n || domain.ptr[domain.len - n - 1] == '.') return 1;
  }
  return 0;
}

static int drop(const blocklist *b, lp_counter *c, lp_str domain, lp_verdict *v) {
  b->host->counter_add(c, 1);
  v->code = b->drop_code;
  snprintf(v->message, sizeof(v->message), "domain %.*s is on the blocklist", (int)(domain.len > 120 ? 120 : domain.len),
           domain.ptr);
  return LP_STAGE_DROP;
}

/* ---- per-shard spam counts -------------------------------------------------------------------- */

static int blocklist_shard_open(void *stage, uint32_t shard, void **shard_state) {
  const blocklist *b = stage;
  (void)shard;
  blocklist_shard *sh = b->host->calloc(1, sizeof(*sh));
  if (sh == NULL) return LP_ENOMEM;
  sh->b = b;
  if (b->spam_limit > 0 && (sh->slots = b->host->calloc(b->spam_cap, sizeof(spam_slot))) == NULL) {
    b->host->free(sh);
    return LP_ENOMEM;
  }
  *shard_state = sh;
  return LP_OK;
}

static void blocklist_shard_close(void *stage, void *shard_state) {
  const blocklist *b = stage;
  blocklist_shard *sh = shard_state;
  if (sh == NULL) return;
  b->host->free(sh->slots);
  b->host->free(sh);
}

/* FNV-1a, never 0 (the empty slot). Domains arrive canonical (lower-case), so equal domains hash equal. */
static uint64_t domain_hash(lp_str d) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < d.len; i++) h = (h ^ (unsigned char)d.ptr[i]) * 1099511628211ULL;
  return h ? h : 1;
}

/* The slot of hash h, or NULL when absent and (create = 0, or the table holds spam_domains already). */
static spam_slot *spam_find(blocklist_shard *sh, uint64_t h, int create) {
  uint32_t mask = sh->b->spam_cap - 1;
  for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask) {
    if (sh->slots[i].hash == h) return &sh->slots[i];
    if (sh->slots[i].hash != 0) continue;
    if (!create || sh->used >= sh->b->spam_max) return NULL;
    sh->used++;
    sh->slots[i].hash = h;
    return &sh->slots[i];
  }
}

static int blocklist_on_snippet(void *state, const lp_snippet *s, lp_verdict *v) {
  blocklist_shard *sh = state;
  const blocklist *b = sh->b;
#ifdef LP_EXAMPLE_SLOW
  struct timespec ms = { 0, 1000000 };
  nanosleep(&ms, NULL);
#endif
  if (blocked(b, s->domain)) return drop(b, b->blocked_snippets, s->domain, v);
  if (sh->slots == NULL) return LP_STAGE_CONTINUE;
  spam_slot *slot = spam_find(sh, domain_hash(s->domain), 0);
  if (slot == NULL || slot->spam < b->spam_limit) return LP_STAGE_CONTINUE;
  b->host->counter_add(b->spam_blocked, 1);
  v->code = b->drop_code;
  snprintf(v->message, sizeof(v->message), "domain %.*s had %u spam outcomes (spam_limit %u)",
           (int)(s->domain.len > 120 ? 120 : s->domain.len), s->domain.ptr, slot->spam, b->spam_limit);
  return LP_STAGE_DROP;
}

/* An outcome of a blocked domain is counted by event and dropped; a `spam` outcome of any other domain
 * counts towards spam_limit (the outcome itself goes on: reputation still debits the miners). */
static int blocklist_on_outcome(void *state, const lp_outcome *o, lp_verdict *v) {
  blocklist_shard *sh = state;
  const blocklist *b = sh->b;
  if (blocked(b, o->domain)) {
    if (o->event < LP_EVENT__COUNT) b->host->counter_add(b->outcome_by_event[o->event], 1);
    return drop(b, b->blocked_outcomes, o->domain, v);
  }
  if (sh->slots == NULL || o->event != LP_EVENT_SPAM) return LP_STAGE_CONTINUE;
  spam_slot *slot = spam_find(sh, domain_hash(o->domain), 1);
  if (slot == NULL) b->host->counter_add(b->spam_table_full, 1);
  else if (slot->spam < UINT32_MAX) slot->spam++;
  return LP_STAGE_CONTINUE;
}

/* Saved as "BLS1", the count, then (hash, spam) pairs, all little-endian as the host is: a checkpoint is
 * read back by the same machine type. */
static int blocklist_save(void *state, lp_writer *w) {
  const blocklist_shard *sh = state;
  uint32_t n = sh->slots ? sh->used : 0;
  int rc = w->write(w, "BLS1", 4);
  if (rc == LP_OK) rc = w->write(w, &n, sizeof(n));
  for (uint32_t i = 0; rc == LP_OK && sh->slots && i < sh->b->spam_cap; i++)
    if (sh->slots[i].hash != 0) rc = w->write(w, &sh->slots[i], 12);
  return rc;
}

/* Loads what save wrote. Counts beyond this run's table (spam_domains lowered, or spam_limit now 0) are
 * left out. LP_EINVAL for bytes that are not a saved table. */
static int blocklist_load(void *state, const void *data, size_t len) {
  blocklist_shard *sh = state;
  const unsigned char *p = data;
  uint32_t n;
  if (len < 8 || memcmp(p, "BLS1", 4) != 0) return LP_EINVAL;
  memcpy(&n, p + 4, sizeof(n));
  if ((len - 8) / 12 != n || (len - 8) % 12 != 0) return LP_EINVAL;
  for (uint32_t i = 0; sh->slots && i < n; i++) {
    spam_slot in;
    memcpy(&in.hash, p + 8 + (size_t)i * 12, 8);
    memcpy(&in.spam, p + 16 + (size_t)i * 12, 4);
    spam_slot *slot = in.hash ? spam_find(sh, in.hash, 1) : NULL;
    if (slot) slot->spam = in.spam;
  }
  return LP_OK;
}

/* Exclusion covers sub-domains too, so each blocked domain is excluded once. */
static int blocklist_on_query(void *state, const lp_query *q, lp_query_out *out) {
  const blocklist *b = ((const blocklist_shard *)state)->b;
  for (size_t i = 0; i < b->n; i++) {
    int rc = b->host->query_exclude(out, (lp_str){ b->domains[i], b->lens[i] });
    if (rc != LP_OK) return rc;
  }
  return LP_STAGE_CONTINUE;
}

static const lp_stage_desc blocklist_desc = {
#ifdef LP_EXAMPLE_BAD_ABI
  LP_STAGE_ABI_MAJOR + 1, LP_STAGE_ABI_MINOR, (uint32_t)sizeof(lp_stage_desc),
#else
  LP_STAGE_DESC_HEADER,
#endif
  .name = "blocklist",
  .description = "Drops snippets and outcomes of blocked domains (and their sub-domains) and keeps them "
                 "out of every answer.",
  .conf_keys = blocklist_keys,
  .conf_size = sizeof(blocklist_conf),
  .init = blocklist_init,
  .shard_open = blocklist_shard_open,
  .shard_close = blocklist_shard_close,
  .on_snippet = blocklist_on_snippet,
  .on_outcome = blocklist_on_outcome,
  .on_query = blocklist_on_query,
  .save = blocklist_save,
  .load = blocklist_load,
  .destroy = blocklist_destroy,
};

#ifndef LP_EXAMPLE_NO_ENTRY
EXPORT const lp_stage_desc *lp_stage_entry(void);
EXPORT const lp_stage_desc *lp_stage_entry(void) { return &blocklist_desc; }
#else
/* The fixture without the entry symbol: the descriptor is there, but nothing exports it. */
const lp_stage_desc *lp_example_hidden_entry(void);
const lp_stage_desc *lp_example_hidden_entry(void) { return &blocklist_desc; }
#endif
