/*
 * watch.h: standing queries and signed webhooks (docs/adr/0016-watches.md).
 *
 * A watch is a POST /v1/leads request kept on the reactor with a webhook (url, secret) and a min_score. Its
 * plan is compiled once. The watch's set is the best k leads whose score is at least min_score; a webhook
 * fires when an event moves a lead into that set. The set is seeded at registration by one full query
 * (so what already stands never fires), then kept incrementally: the reactor collects the leads that
 * applied events touched (apply.c calls lp__watches_touch), and every watch.coalesce the worker that owns
 * them scores each touched lead for each watch (lp_query_score_lead: the lead's score in POST /v1/leads,
 * one lead at a time, never a query); only a touched lead can enter the set, and one that does fires one
 * delivery. Deliveries are POSTs signed with HMAC-SHA256 of the body under the watch's
 * secret, retried with exponential back-off and jitter, dead-lettered after watch.max_attempts.
 *
 * Files: watch.c (registry, routes), watch_eval.c (touches, evaluation, the sets), watch_deliver.c
 * (webhooks, HMAC, retries, DLQ), watch_state.c (the registry's bytes: state_dir file and checkpoint blob).
 *
 * Threads: everything here runs on the reactor but the evaluation's run callback (the worker that owns the
 * touched shards, reading the watch plans, which are immutable while any evaluation holds a reference).
 */
#ifndef LP_SERVER_WATCH_H
#define LP_SERVER_WATCH_H

#include <jansson.h>
#include <stdint.h>

#include "base/buf.h"
#include "http/client.h"
#include "query/plan.h"
#include "server/server_int.h"

#define LP_WATCH_ID_LEN 20         /* "w-" + 16 hex digits + NUL, rounded */
#define LP_WATCH_URL_MAX 2048
#define LP_WATCH_SECRET_MIN 16
#define LP_WATCH_SECRET_MAX 256

/* One dead-lettered delivery. */
typedef struct lp_watch_dead {
  char delivery[24];
  char domain[256];
  char error[160];
  int64_t ts_ms;                   /* wall clock of the last attempt */
  uint32_t attempts;
} lp_watch_dead;

/* One member of a watch's set. */
typedef struct lp_watch_member {
  char *domain;                    /* lp_malloc'd */
  double score;
} lp_watch_member;

typedef struct lp_watch {
  char id[LP_WATCH_ID_LEN];
  char *request;                   /* the registration body as given (JSON; the secret included) */
  size_t request_len;
  json_t *view;                    /* {prompt, k, filters, min_score, url}: what GET shows (no secret) */
  char *secret;
  lp_httpc_url url;
  uint32_t k;
  double min_score;
  int64_t created_ms;              /* wall clock */
  lp_qplan plan;                   /* compiled once; read-only while refs > 1 */
  uint32_t refs;                   /* the registry's own + one per evaluation or delivery in flight */
  int deleted;                     /* out of the registry; freed at refs 0 */
  int seeded;                      /* the seed query answered */
  lp_watch_member *set;            /* the best k with score >= min_score, unordered */
  uint32_t n_set;
  /* delivery figures */
  uint64_t deliveries, delivered, failures, dead_letters, attempts;
  int64_t last_delivery_ms;        /* wall clock of the last 2xx */
  char last_error[160];
  lp_watch_dead *dlq;              /* ring of watch.dlq_size */
  uint32_t n_dlq, dlq_head;
} lp_watch;

typedef struct lp_watches {
  lp_server *srv;
  lp_watch **v;                    /* the registry, in registration order */
  uint32_t n, cap;
  uint64_t seq;                    /* ids and delivery ids */
  uint64_t rng;                    /* jitter */
  int stopped;
  /* touched leads waiting for the next evaluation, per worker (watch_eval.c) */
  struct lp_watch_touch *touched;  /* [n_workers], allocated at the first touch */
  uint32_t n_workers;
  uv_timer_t coalesce;
  int timer_armed;
  uint32_t evals_in_flight;
  /* deliveries in flight or waiting for a retry (watch_deliver.c) */
  struct lp_watch_delivery *deliveries;
  lp_metric *m_ok, *m_retry, *m_dead, *m_fired, *m_watches;
  lp_metric *m_scored;             /* leadpoet_watch_leads_scored_total (watch_eval.c registers it) */
} lp_watches;

/* ---- watch.c ------------------------------------------------------------------------------------ */

/* Creates srv->watches (metrics, timers) and, without Redis, loads state_dir/watches.lpstate. LP_OK, or
 * an error logged (a snapshot that cannot be read stops the start). Reactor, at start, after the workers. */
int lp__watches_start(lp_server *srv);
/* Stops evaluating and delivering: pending deliveries are cancelled (dead-lettered as "shutdown"), then,
 * without Redis, the registry is saved to state_dir. Handles are closed. Reactor, once the workers
 * stopped. */
void lp__watches_stop(lp_server *srv);
/* Frees the registry after the loop ended. Main thread. */
void lp__watches_free(lp_server *srv);
/* Routes: POST/GET /v1/watches, GET/DELETE /v1/watches/{id}. */
void lp__route_watches_post(lp_http_req *req, lp_str param, void *ud);
void lp__route_watches_list(lp_http_req *req, lp_str param, void *ud);
void lp__route_watch_get(lp_http_req *req, lp_str param, void *ud);
void lp__route_watch_delete(lp_http_req *req, lp_str param, void *ud);

/* Parses and checks a registration body into a new watch (refs 1, not in the registry). LP_OK, LP_EINVAL
 * with a client message in errstr, LP_ENOMEM. */
int lp__watch_parse(lp_server *srv, const char *body, size_t len, lp_watch **out, char *errstr, size_t errstr_size);
/* Adds w to the registry under id (NULL: a fresh one). LP_OK, LP_ENOMEM, LP_ERANGE (at watch.max_watches). */
int lp__watch_add(lp_watches *ws, lp_watch *w, const char *id);
/* Drops one reference; frees the watch at zero. */
void lp__watch_unref(lp_watch *w);
/* Answers a registration (201 and the watch) once its seed query is in (watch_eval.c). */
void lp__watch_created(lp_watches *ws, lp_watch *w, lp_http_req *req);
/* Whether any watch is registered and evaluation runs. */
int lp__watches_active(const lp_server *srv);

/* ---- watch_eval.c ------------------------------------------------------------------------------- */

/* An applied snippet touched the lead domain[0..len) of shard: re-evaluated at the next coalesce tick.
 * The snippet's id[0..id_len) names the evidence that moved it (copied). No-op without watches. Reactor
 * (apply.c). */
void lp__watches_touch(lp_server *srv, uint32_t shard, const char *domain, size_t len, const char *id,
                       size_t id_len);
/* Runs w's plan over every shard (one message per worker) and fills its set without firing; then
 * done(req) answers the registration. LP_OK or LP_ENOMEM (nothing sent). */
int lp__watch_seed(lp_watches *ws, lp_watch *w, lp_http_req *req);
/* Frees what is waiting for an evaluation. */
void lp__watches_touch_clear(lp_watches *ws);

/* ---- watch_deliver.c ---------------------------------------------------------------------------- */

/* Fires one delivery of lead (the rendered hit without its opening '{') that entered w's set, moved by
 * snippet_id (may be NULL). Failures are counted on the watch. Reactor. */
void lp__watch_fire(lp_watches *ws, lp_watch *w, const char *hit_json, size_t hit_len, const char *domain,
                    double score, const char *snippet_id);
/* Cancels every delivery in flight or waiting (dead-lettered with why). */
void lp__watch_deliveries_cancel(lp_watches *ws, const char *why);
/* HMAC-SHA256 (RFC 2104) of msg under key into out. Any thread. */
void lp__hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len, uint8_t out[32]);
/* "sha256=" + 64 lower-case hex digits of the HMAC of body under secret, NUL-terminated, into out[72]. */
void lp__watch_signature(const char *secret, const void *body, size_t len, char out[72]);
/* Records a dead letter in w's ring. */
void lp__watch_dead_letter(lp_watches *ws, lp_watch *w, const char *delivery, const char *domain, const char *error,
                           uint32_t attempts);

/* ---- watch_state.c ------------------------------------------------------------------------------ */

/* The registry as bytes (msgpack: each watch's id, request, set and figures). LP_OK or LP_ENOMEM. */
int lp__watches_encode(const lp_watches *ws, lp_buf *out);
/* Replaces the registry with data's (plans recompiled). LP_OK, LP_EINVAL with why (not a registry, a
 * newer version, a bad watch), LP_ENOMEM. */
int lp__watches_decode(lp_watches *ws, const void *data, size_t len, char *errstr, size_t errstr_size);
/* state_dir/watches.lpstate: saved after every change and at the stop, loaded at start (no-op without
 * state_dir or with Redis, whose checkpoint holds the registry). */
int lp__watches_save(lp_watches *ws);
int lp__watches_load(lp_watches *ws);

#endif
