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
 *
 * Snippets and outcomes about a blocked domain are dropped with drop_code and counted
 * (leadpoet_stage_blocked_total{stage="blocklist",label="snippet"|"outcome"}); queries never return them.
 *
 * The rules a plugin follows, all visible below: include only leadpoet/stage.h and libc; export one
 * symbol, lp_stage_entry; reach the host only through the lp_host_api table given to init() (memory,
 * logs, counters, query contributions), never by calling core functions; keep the stage-wide state
 * read-only after init(), since every worker reads it at once.
 *
 * Two deliberately broken builds of this file are test fixtures (see CMakeLists.txt):
 * LP_EXAMPLE_BAD_ABI declares stage ABI major + 1, LP_EXAMPLE_NO_ENTRY exports no lp_stage_entry.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "leadpoet/stage.h"

#define EXPORT __attribute__((visibility("default")))

/* The parsed [stage.blocklist] section: the host fills it from the key table below. */
typedef struct blocklist_conf {
  char *domains;
  char *drop_code;
} blocklist_conf;

static const lp_conf_key blocklist_keys[] = {
  { "domains", LP_CONF_STRING, "", 1, 0, offsetof(blocklist_conf, domains),
    "Comma-separated domains to block; a domain also blocks its sub-domains (acme.com blocks eu.acme.com)." },
  { "drop_code", LP_CONF_STRING, "blocked_domain", 1, 0, offsetof(blocklist_conf, drop_code),
    "The code given for what the blocklist drops (leadpoet_snippets_total{result=...})." },
  { NULL, 0, NULL, 0, 0, 0, NULL }
};

/* Stage-wide state, shared read-only by every shard: this stage keeps no per-shard state, so it has no
 * shard_open and the host hands this to every callback. */
typedef struct blocklist {
  const lp_host_api *host;
  const char *drop_code;     /* points into the conf, which lives until destroy() */
  char **domains;            /* lower-case, no leading or trailing dot */
  size_t *lens;
  size_t n;
  lp_counter *blocked_snippets;
  lp_counter *blocked_outcomes;
} blocklist;

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

static int blocklist_on_snippet(void *state, const lp_snippet *s, lp_verdict *v) {
  const blocklist *b = state;
  return blocked(b, s->domain) ? drop(b, b->blocked_snippets, s->domain, v) : LP_STAGE_CONTINUE;
}

static int blocklist_on_outcome(void *state, const lp_outcome *o, lp_verdict *v) {
  const blocklist *b = state;
  return blocked(b, o->domain) ? drop(b, b->blocked_outcomes, o->domain, v) : LP_STAGE_CONTINUE;
}

/* Exclusion covers sub-domains too, so each blocked domain is excluded once. */
static int blocklist_on_query(void *state, const lp_query *q, lp_query_out *out) {
  const blocklist *b = state;
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
  .on_snippet = blocklist_on_snippet,
  .on_outcome = blocklist_on_outcome,
  .on_query = blocklist_on_query,
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
