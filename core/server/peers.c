/*
 * peers.c: the other instances of a cluster, resolved on the loop, asked in parallel with one deadline each
 * (see peers.h). A name resolves to every A record it has (a headless service lists every pod); an IP literal
 * resolves to itself. A refresh replaces an entry's addresses only when its resolution succeeded, so a DNS
 * hiccup keeps the last known peers. A gather holds one slot per peer asked; each slot ends with an answer,
 * an error or the client's deadline, and the last one calls back.
 */
#include "server/peers.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "http/client.h"
#include "leadpoet/common.h"

#define MAX_RESPONSE (16u << 20)

typedef struct peer_addr {
  char ip[64];
  char port[8];
  char addr[80];             /* "ip:port" */
  uint32_t entry;
  int self;
  char last[64];
} peer_addr;

typedef struct peer_entry {
  char host[256];
  char port[8];
  uv_getaddrinfo_t req;
  int busy;
  int resolved;              /* resolved at least once */
  struct lp_peers *owner;
} peer_entry;

typedef struct gather gather;

typedef struct slot {
  gather *g;
  lp_httpc *c;
  uint32_t addr;
  char addr_text[80];        /* the reply's address (p->addrs may be rewritten by a refresh meanwhile) */
  lp_peer_reply r;
  char *body;
} slot;

struct gather {
  gather *next, *prev;
  struct lp_peers *p;
  lp_peers_cb cb;
  void *ud;
  size_t n, left;
  int unknown;
  slot s[];
};

struct lp_peers {
  uv_loop_t *loop;
  uv_timer_t timer;
  char instance[64];
  int64_t timeout_ms, refresh_ms;
  peer_entry *entries;
  size_t nentries;
  peer_addr addrs[LP_PEERS_MAX];
  size_t naddrs;
  gather *gathers;
  int closing, resolving, timer_open;
};

/* ---- the list ------------------------------------------------------------------------------------- */

/* Splits "host:port" ([v6]:port too) into host and port. */
static int split_entry(const char *s, size_t len, char *host, size_t hcap, char *port, size_t pcap) {
  const char *colon = NULL;
  for (size_t i = 0; i < len; i++) if (s[i] == ':') colon = s + i;
  if (colon == NULL || colon == s || (size_t)(s + len - colon - 1) == 0) return LP_EINVAL;
  const char *h = s;
  size_t hl = (size_t)(colon - s);
  if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') h++, hl -= 2;
  size_t pl = (size_t)(s + len - colon - 1);
  if (hl == 0 || hl >= hcap || pl >= pcap) return LP_EINVAL;
  for (size_t i = 0; i < pl; i++) if (colon[1 + i] < '0' || colon[1 + i] > '9') return LP_EINVAL;
  memcpy(host, h, hl);
  host[hl] = '\0';
  memcpy(port, colon + 1, pl);
  port[pl] = '\0';
  int pn = atoi(port);
  return pn >= 1 && pn <= 65535 ? LP_OK : LP_EINVAL;
}

/* Calls fn for every non-empty, trimmed entry of spec; stops at the first error. */
static int each_entry(const char *spec, int (*fn)(void *ud, const char *host, const char *port), void *ud,
                      char *errstr, size_t errsz) {
  const char *p = spec;
  while (*p) {
    while (*p == ' ' || *p == ',') p++;
    const char *e = p;
    while (*e && *e != ',') e++;
    size_t len = (size_t)(e - p);
    while (len > 0 && p[len - 1] == ' ') len--;
    if (len > 0) {
      char host[256], port[8];
      if (split_entry(p, len, host, sizeof(host), port, sizeof(port)) != LP_OK) {
        snprintf(errstr, errsz, "peer \"%.*s\" is not HOST:PORT (a name or address, and a port 1..65535)",
                 (int)(len > 80 ? 80 : len), p);
        return LP_EINVAL;
      }
      int rc = fn ? fn(ud, host, port) : LP_OK;
      if (rc != LP_OK) {
        snprintf(errstr, errsz, "out of memory");
        return rc;
      }
    }
    p = e;
  }
  return LP_OK;
}

int lp_peers_check(const char *spec, char *errstr, size_t errsz) { return each_entry(spec, NULL, NULL, errstr, errsz); }

static int add_entry(void *ud, const char *host, const char *port) {
  lp_peers *p = ud;
  peer_entry *e = lp_realloc(p->entries, (p->nentries + 1) * sizeof(*e));
  if (e == NULL) return LP_ENOMEM;
  p->entries = e;
  e = &p->entries[p->nentries++];
  memset(e, 0, sizeof(*e));
  snprintf(e->host, sizeof(e->host), "%s", host);
  snprintf(e->port, sizeof(e->port), "%s", port);
  e->owner = p;
  return LP_OK;
}

/* ---- resolution ----------------------------------------------------------------------------------- */

static void maybe_free(lp_peers *p);

/* Replaces the addresses of entry ei with those of res (keeps what was known of each: self, last). */
static void set_addrs(lp_peers *p, uint32_t ei, const struct addrinfo *res) {
  peer_addr keep[LP_PEERS_MAX];
  size_t nkeep = 0;
  for (size_t i = 0; i < p->naddrs; i++) if (p->addrs[i].entry != ei) keep[nkeep++] = p->addrs[i];
  size_t nfresh = 0;
  for (const struct addrinfo *a = res; a != NULL; a = a->ai_next) {
    if (nkeep + nfresh >= LP_PEERS_MAX) {
      lp_log_warn("more peer addresses than server peers can ask: the rest are ignored", "max=%d", LP_PEERS_MAX);
      break;
    }
    peer_addr n = { .entry = ei };
    if (uv_ip4_name((const struct sockaddr_in *)a->ai_addr, n.ip, sizeof(n.ip)) != 0) continue;
    snprintf(n.port, sizeof(n.port), "%s", p->entries[ei].port);
    snprintf(n.addr, sizeof(n.addr), "%s:%s", n.ip, n.port);
    int dup = 0;
    for (size_t i = 0; i < nkeep + nfresh && !dup; i++) dup = strcmp(keep[i].addr, n.addr) == 0;
    for (size_t i = 0; i < p->naddrs && !dup; i++)  /* what this address was known as before */
      if (strcmp(p->addrs[i].addr, n.addr) == 0) n.self = p->addrs[i].self, memcpy(n.last, p->addrs[i].last, sizeof(n.last));
    if (!dup) keep[nkeep + nfresh++] = n;
  }
  memcpy(p->addrs, keep, (nkeep + nfresh) * sizeof(peer_addr));
  p->naddrs = nkeep + nfresh;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  peer_entry *e = req->data;
  lp_peers *p = e->owner;
  e->busy = 0;
  p->resolving--;
  if (status == 0 && !p->closing) {
    set_addrs(p, (uint32_t)(e - p->entries), res);
    if (!e->resolved) lp_log_info("peer resolved", "entry=%s:%s", e->host, e->port);
    e->resolved = 1;
  } else if (status != UV_ECANCELED && !p->closing) {
    lp_log_warn("cannot resolve a peer; keeping its last addresses", "entry=%s:%s err=\"%s\"", e->host, e->port,
                uv_strerror(status));
  }
  if (res) uv_freeaddrinfo(res);
  maybe_free(p);
}

static void resolve_all(lp_peers *p) {
  struct addrinfo hints;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_INET;  /* lp_httpc connects by name; an IPv4 literal per peer keeps one address each */
  hints.ai_socktype = SOCK_STREAM;
  for (size_t i = 0; i < p->nentries; i++) {
    peer_entry *e = &p->entries[i];
    if (e->busy) continue;
    e->req.data = e;
    int rc = uv_getaddrinfo(p->loop, &e->req, on_resolved, e->host, e->port, &hints);
    if (rc != 0) {
      lp_log_warn("cannot start resolving a peer", "entry=%s:%s err=\"%s\"", e->host, e->port, uv_strerror(rc));
      continue;
    }
    e->busy = 1;
    p->resolving++;
  }
}

static void on_refresh(uv_timer_t *t) { resolve_all(t->data); }

int lp_peers_new(uv_loop_t *loop, const lp_peers_opts *o, lp_peers **out, char *errstr, size_t errsz) {
  lp_peers *p = lp_calloc(1, sizeof(*p));
  if (p == NULL) {
    snprintf(errstr, errsz, "out of memory");
    return LP_ENOMEM;
  }
  p->loop = loop;
  p->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 1;
  p->refresh_ms = o->refresh_ms > 0 ? o->refresh_ms : 10000;
  snprintf(p->instance, sizeof(p->instance), "%s", o->instance ? o->instance : "");
  int rc = each_entry(o->spec ? o->spec : "", add_entry, p, errstr, errsz);
  if (rc != LP_OK) {
    lp_free(p->entries);
    lp_free(p);
    return rc;
  }
  uv_timer_init(loop, &p->timer);
  p->timer.data = p;
  p->timer_open = 1;
  uv_timer_start(&p->timer, on_refresh, (uint64_t)p->refresh_ms, (uint64_t)p->refresh_ms);
  resolve_all(p);
  *out = p;
  return LP_OK;
}

/* ---- asking --------------------------------------------------------------------------------------- */

/* Ends one slot; the last one hands every reply (copied into one array) to the callback and frees g. */
static void finish_slot(slot *s) {
  gather *g = s->g;
  s->c = NULL;
  if (--g->left > 0) return;
  lp_peer_reply *flat = lp_malloc((g->n ? g->n : 1) * sizeof(lp_peer_reply));
  if (flat == NULL) {  /* out of memory: every peer counts as missing */
    lp_peer_reply none = { "-", LP_ENOMEM, 0, NULL, 0, "out of memory" };
    g->cb(g->ud, &none, 1, g->unknown);
    g->cb = NULL;
  } else {
    for (size_t i = 0; i < g->n; i++) flat[i] = g->s[i].r;
    lp_peers_cb cb = g->cb;
    g->cb = NULL;
    cb(g->ud, flat, g->n, g->unknown);
    lp_free(flat);
  }
  lp_peers *p = g->p;
  if (g->prev) g->prev->next = g->next;
  else p->gathers = g->next;
  if (g->next) g->next->prev = g->prev;
  for (size_t i = 0; i < g->n; i++) lp_free(g->s[i].body);
  lp_free(g);
  maybe_free(p);
}

static void on_reply(void *ud, int err, const char *errstr, const lp_httpc_res *res) {
  slot *s = ud;
  lp_peers *p = s->g->p;
  peer_addr *a = s->addr < p->naddrs ? &p->addrs[s->addr] : NULL;
  s->r.err = err;
  s->r.why = errstr ? errstr : "error";
  if (err == LP_OK) {
    char inst[64];
    if (lp_httpc_header(res, LP_PEER_INSTANCE_HEADER, inst, sizeof(inst)) > 0 && strcmp(inst, p->instance) == 0) {
      if (a && strcmp(a->addr, s->r.addr) == 0 && !a->self) {
        a->self = 1;
        lp_log_info("peer address is this instance: skipped from now on", "addr=%s", a->addr);
      }
      s->r.err = LP_ENOENT;
      s->r.why = "self";
    } else {
      s->r.status = res->status;
      s->body = lp_malloc(res->body_len + 1);
      if (s->body == NULL) {
        s->r.err = LP_ENOMEM;
        s->r.why = "out of memory";
      } else {
        memcpy(s->body, res->body, res->body_len);
        s->body[res->body_len] = '\0';
        s->r.body = s->body;
        s->r.len = res->body_len;
        s->r.why = res->status == 200 ? "ok" : "status";
      }
    }
  }
  if (a && strcmp(a->addr, s->r.addr) == 0) snprintf(a->last, sizeof(a->last), "%s", s->r.why);
  finish_slot(s);
}

int lp_peers_ask(lp_peers *p, const char *path, const void *body, size_t len, const char *headers, lp_peers_cb cb,
                 void *ud) {
  size_t n = 0;
  int unknown = 0;
  for (size_t i = 0; i < p->nentries; i++) unknown |= !p->entries[i].resolved;
  for (size_t i = 0; i < p->naddrs; i++) n += !p->addrs[i].self;
  if (n == 0 && !unknown) return LP_ENOENT;
  gather *g = lp_calloc(1, sizeof(*g) + (n ? n : 1) * sizeof(slot));
  if (g == NULL) return LP_ENOMEM;
  g->p = p;
  g->cb = cb;
  g->ud = ud;
  g->unknown = unknown;
  g->next = p->gathers;
  if (p->gathers) p->gathers->prev = g;
  p->gathers = g;
  char hdrs[1280];
  snprintf(hdrs, sizeof(hdrs), "%s: 1\r\n%s: %s\r\n%.1024s", LP_PEER_HEADER, LP_PEER_INSTANCE_HEADER, p->instance,
           headers ? headers : "");
  g->left = 1;  /* held until every request is started, so no callback ends the gather early */
  for (size_t i = 0; i < p->naddrs; i++) {
    if (p->addrs[i].self) continue;
    slot *s = &g->s[g->n++];
    s->g = g;
    s->addr = (uint32_t)i;
    snprintf(s->addr_text, sizeof(s->addr_text), "%s", p->addrs[i].addr);
    s->r = (lp_peer_reply){ s->addr_text, LP_EIO, 0, NULL, 0, "not asked" };
    lp_httpc_url url;
    memset(&url, 0, sizeof(url));
    snprintf(url.host, sizeof(url.host), "%s", p->addrs[i].ip);
    snprintf(url.port, sizeof(url.port), "%s", p->addrs[i].port);
    snprintf(url.path, sizeof(url.path), "%s", path);
    lp_httpc_req rq = { .method = "POST", .url = &url, .content_type = "application/json", .headers = hdrs,
                        .body = body, .body_len = len, .timeout_ms = (uint64_t)p->timeout_ms,
                        .max_response = MAX_RESPONSE };
    g->left++;
    if (lp_httpc_request(p->loop, &rq, on_reply, s, &s->c) != LP_OK) {
      s->r.why = "cannot start the request";
      g->left--;
    }
  }
  finish_slot(&(slot){ .g = g });
  return LP_OK;
}

void lp_peers_status(const lp_peers *p, lp_buf *b) {
  lp_buf_puts(b, "[");
  for (size_t i = 0; p != NULL && i < p->naddrs; i++) {
    const peer_addr *a = &p->addrs[i];
    const peer_entry *e = &p->entries[a->entry];
    lp_buf_printf(b, "%s{\"addr\":", i ? "," : "");
    lp_buf_json_str(b, a->addr, strlen(a->addr));
    char from[280];
    int fl = snprintf(from, sizeof(from), "%s:%s", e->host, e->port);
    lp_buf_puts(b, ",\"from\":");
    lp_buf_json_str(b, from, fl > 0 ? (size_t)fl : 0);
    lp_buf_printf(b, ",\"self\":%s,\"last\":", a->self ? "true" : "false");
    lp_buf_json_str(b, a->last[0] ? a->last : "not asked yet", strlen(a->last[0] ? a->last : "not asked yet"));
    lp_buf_puts(b, "}");
  }
  lp_buf_puts(b, "]");
}

/* ---- close ---------------------------------------------------------------------------------------- */

static void timer_closed(uv_handle_t *h) {
  lp_peers *p = h->data;
  p->timer_open = 0;
  maybe_free(p);
}

static void maybe_free(lp_peers *p) {
  if (!p->closing || p->resolving > 0 || p->timer_open || p->gathers != NULL) return;
  lp_free(p->entries);
  lp_free(p);
}

void lp_peers_close(lp_peers *p) {
  if (p == NULL || p->closing) return;
  p->closing = 1;
  uv_close((uv_handle_t *)&p->timer, timer_closed);
  for (size_t i = 0; i < p->nentries; i++)
    if (p->entries[i].busy) uv_cancel((uv_req_t *)&p->entries[i].req);
  /* Requests in flight end with the reason "cancelled": their gathers call back (the query answers). */
  for (gather *g = p->gathers, *next; g != NULL; g = next) {
    next = g->next;
    for (size_t i = 0; i < g->n; i++) {
      slot *s = &g->s[i];
      if (s->c == NULL) continue;
      lp_httpc_cancel(s->c);
      s->c = NULL;
      s->r.err = LP_ECANCELED;
      s->r.why = "cancelled";
      g->left--;
    }
    if (g->left == 0) {  /* every request was cancelled: end the gather (frees g) */
      g->left = 1;
      finish_slot(&(slot){ .g = g });
    }
  }
  maybe_free(p);
}
