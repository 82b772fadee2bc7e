/*
 * peers.h: the other instances of a cluster, for scatter-gather (docs/adr/0015-scale-out.md). The list is
 * server.peers (LEADPOET_PEERS): "host:port,host:port", the HTTP addresses; a host that is a DNS name (a
 * Kubernetes headless service) stands for every address it resolves to, resolved on the loop
 * (uv_getaddrinfo) at start and every server.peer_refresh. An address that turns out to be this process
 * (its answer carries this instance's id in X-Leadpoet-Instance) is skipped from then on, so the same
 * list can be given to every instance.
 *
 * Threads: everything runs on the loop thread the set was made on; callbacks run there.
 */
#ifndef LP_SERVER_PEERS_H
#define LP_SERVER_PEERS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/buf.h"

#define LP_PEER_HEADER "X-Leadpoet-Peer"          /* marks a request from a peer: answered locally only */
#define LP_PEER_INSTANCE_HEADER "X-Leadpoet-Instance"
#define LP_PEERS_MAX 64                             /* addresses asked at most (the rest are ignored, logged) */

typedef struct lp_peers lp_peers;

typedef struct lp_peers_opts {
  const char *spec;          /* "host:port,..."; copied */
  const char *instance;      /* this instance's id (sent and compared); copied */
  int64_t timeout_ms;        /* each peer's answer is waited for at most this long */
  int64_t refresh_ms;        /* names are resolved again this often */
} lp_peers_opts;

/* One peer's answer: err LP_OK with status and body (valid during the callback), or the reason. */
typedef struct lp_peer_reply {
  const char *addr;          /* "ip:port" */
  int err;
  int status;
  const char *body;
  size_t len;
  const char *why;           /* static text when err != LP_OK, or "status N" */
} lp_peer_reply;

/* n replies, one per peer asked; unknown = 1 when a name of the list could not be resolved yet (the answer
 * may lack that peer's part). */
typedef void (*lp_peers_cb)(void *ud, const lp_peer_reply *replies, size_t n, int unknown);

/* Parses the list (LP_EINVAL with why: an entry without a port, an empty host) and starts resolving it.
 * *out is owned by the caller (lp_peers_close). Loop thread. */
int lp_peers_new(uv_loop_t *loop, const lp_peers_opts *o, lp_peers **out, char *errstr, size_t errsz);
/* Checks a list the way lp_peers_new parses it. Any thread. */
int lp_peers_check(const char *spec, char *errstr, size_t errsz);

/* POSTs body (application/json) to path on every known peer with LP_PEER_HEADER and headers (lines ending
 * "\r\n", e.g. the caller's API key; NULL = none, at most 1 KiB); cb runs once, on the
 * loop, when every peer answered or timed out (never inside this call). Returns LP_OK, or LP_ENOENT when
 * there is no peer to ask and no name unresolved (cb not called), LP_ENOMEM. Loop thread. */
int lp_peers_ask(lp_peers *p, const char *path, const void *body, size_t len, const char *headers, lp_peers_cb cb,
                 void *ud);

/* The peers as JSON for /v1/status: [{"addr": "...", "from": "<entry>", "self": bool, "last": "ok" | why}]. */
void lp_peers_status(const lp_peers *p, lp_buf *b);

/* Stops refreshing, cancels what is in flight (their gathers call back with LP_ECANCELED) and frees the
 * set once libuv has closed everything (the loop must run). NULL is fine. Loop thread. */
void lp_peers_close(lp_peers *p);

#endif
