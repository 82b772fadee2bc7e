/*
 * watch_deliver.c: webhook deliveries of the watches (see watch.h).
 *
 * A delivery is one JSON body, POSTed to the watch's url with
 *   X-Leadpoet-Signature: sha256=<hex HMAC-SHA256(secret, body)>   (what the receiver recomputes)
 *   X-Leadpoet-Delivery: d-...                                      (the same on every retry: dedupe on it)
 *   X-Leadpoet-Watch: w-...
 * A 2xx is success. Anything else (an error, a time-out, another status) is retried after
 * watch.backoff x 2^(attempt-1) x a jitter in [0.5, 1.5), so that many receivers failing together do not
 * retry together; after watch.max_attempts the delivery is dead-lettered: counted, kept in the watch's DLQ
 * ring (GET /v1/watches/{id}) with its last error.
 */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "server/auth.h"
#include "server/watch.h"

typedef struct lp_watch_delivery {
  struct lp_watch_delivery *next, *prev;
  lp_watches *ws;
  lp_watch *w;                 /* referenced */
  char id[24];
  char domain[256];
  char *body;
  size_t len;
  char headers[256];
  uint32_t attempt;
  lp_httpc *call;              /* in flight, else NULL */
  uv_timer_t timer;
  int done;
} lp_watch_delivery;

/* ---- HMAC-SHA256 (RFC 2104 over FIPS 180-4) -------------------------------------------------------- */

void lp__hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len, uint8_t out[32]) {
  uint8_t k[64], inner[32];
  memset(k, 0, sizeof(k));
  if (key_len > 64) lp__sha256(key, key_len, k);
  else if (key_len > 0) memcpy(k, key, key_len);
  /* One buffer for the inner hash (ipad block + message), reused for the outer (opad block + inner). */
  uint8_t stack[1024];
  uint8_t *buf = 64 + msg_len <= sizeof(stack) ? stack : lp_malloc(64 + msg_len);
  if (buf == NULL) {  /* out of memory: a signature no receiver accepts, never a wrong "valid" one */
    memset(out, 0, 32);
    return;
  }
  for (int i = 0; i < 64; i++) buf[i] = k[i] ^ 0x36;
  if (msg_len > 0) memcpy(buf + 64, msg, msg_len);
  lp__sha256(buf, 64 + msg_len, inner);
  uint8_t outer[96];
  for (int i = 0; i < 64; i++) outer[i] = k[i] ^ 0x5c;
  memcpy(outer + 64, inner, 32);
  lp__sha256(outer, sizeof(outer), out);
  if (buf != stack) lp_free(buf);
}

void lp__watch_signature(const char *secret, const void *body, size_t len, char out[72]) {
  uint8_t mac[32];
  lp__hmac_sha256(secret, strlen(secret), body, len, mac);
  memcpy(out, "sha256=", 7);
  for (int i = 0; i < 32; i++) snprintf(out + 7 + 2 * i, 3, "%02x", mac[i]);
}

/* ---- the dead-letter ring ------------------------------------------------------------------------- */

void lp__watch_dead_letter(lp_watches *ws, lp_watch *w, const char *delivery, const char *domain, const char *error,
                           uint32_t attempts) {
  uint32_t cap = (uint32_t)ws->srv->cfg->watch.dlq_size;
  lp_watch_dead *d = &w->dlq[w->dlq_head];
  snprintf(d->delivery, sizeof(d->delivery), "%s", delivery);
  snprintf(d->domain, sizeof(d->domain), "%s", domain);
  snprintf(d->error, sizeof(d->error), "%s", error);
  d->ts_ms = lp_now_ms();
  d->attempts = attempts;
  w->dlq_head = (w->dlq_head + 1) % cap;
  if (w->n_dlq < cap) w->n_dlq++;
  w->dead_letters++;
}

/* ---- one delivery --------------------------------------------------------------------------------- */

static void on_timer_closed(uv_handle_t *h) {
  lp_watch_delivery *d = h->data;
  lp__watch_unref(d->w);
  lp_free(d->body);
  lp_free(d);
}

/* Takes d out of the list and releases it (the memory goes once the timer is closed). */
static void release(lp_watch_delivery *d) {
  lp_watches *ws = d->ws;
  d->done = 1;
  if (d->prev) d->prev->next = d->next;
  else ws->deliveries = d->next;
  if (d->next) d->next->prev = d->prev;
  uv_timer_stop(&d->timer);
  uv_close((uv_handle_t *)&d->timer, on_timer_closed);
}

static void dead(lp_watch_delivery *d, const char *why) {
  lp_watch *w = d->w;
  lp_counter_add(d->ws->m_dead, 1);
  lp__watch_dead_letter(d->ws, w, d->id, d->domain, why, d->attempt);
  lp_log_warn("webhook dead-lettered", "watch=%s delivery=%s attempts=%u err=\"%s\"", w->id, d->id, d->attempt, why);
  release(d);
}

static int attempt(lp_watch_delivery *d);

static void on_retry(uv_timer_t *t) {
  lp_watch_delivery *d = t->data;
  if (d->w->deleted) {
    dead(d, "the watch was deleted");
    return;
  }
  if (attempt(d) != LP_OK) dead(d, "cannot start the request (out of memory)");
}

static void on_response(void *ud, int err, const char *errstr, const lp_httpc_res *res) {
  lp_watch_delivery *d = ud;
  lp_watch *w = d->w;
  d->call = NULL;
  if (err == LP_OK && res->status >= 200 && res->status < 300) {
    w->delivered++;
    w->last_delivery_ms = lp_now_ms();
    lp_counter_add(d->ws->m_ok, 1);
    release(d);
    return;
  }
  char why[160];
  if (err == LP_OK) snprintf(why, sizeof(why), "HTTP %d", res->status);
  else snprintf(why, sizeof(why), "%s", errstr != NULL ? errstr : lp_strerror(err));
  w->failures++;
  snprintf(w->last_error, sizeof(w->last_error), "%s", why);
  const lp_config *c = d->ws->srv->cfg;
  if (d->attempt >= (uint32_t)c->watch.max_attempts || d->ws->stopped) {
    dead(d, why);
    return;
  }
  lp_counter_add(d->ws->m_retry, 1);
  lp_watches *ws = d->ws;
  ws->rng ^= ws->rng << 13;
  ws->rng ^= ws->rng >> 7;
  ws->rng ^= ws->rng << 17;
  double jitter = 0.5 + (double)(ws->rng >> 11) / 9007199254740992.0;
  uint32_t shift = d->attempt - 1 < 16 ? d->attempt - 1 : 16;
  double delay = (double)c->watch.backoff_ms * (double)(1u << shift) * jitter;
  uv_timer_start(&d->timer, on_retry, (uint64_t)(delay < 1 ? 1 : delay), 0);
}

static int attempt(lp_watch_delivery *d) {
  const lp_config *c = d->ws->srv->cfg;
  d->attempt++;
  d->w->attempts++;
  lp_httpc_req r = { "POST", &d->w->url, NULL, "application/json", d->headers, d->body, d->len,
                     (uint64_t)c->watch.timeout_ms, 64 * 1024, NULL };
  return lp_httpc_request(&d->ws->srv->loop, &r, on_response, d, &d->call);
}

void lp__watch_fire(lp_watches *ws, lp_watch *w, const char *hit_json, size_t hit_len, const char *domain,
                    double score, const char *snippet_id) {
  lp_watch_delivery *d = lp_calloc(1, sizeof(*d));
  if (d == NULL) {
    w->deliveries++;
    lp__watch_dead_letter(ws, w, "none", domain, "out of memory", 0);
    lp_counter_add(ws->m_dead, 1);
    return;
  }
  d->ws = ws;
  d->w = w;
  w->refs++;
  w->deliveries++;
  snprintf(d->id, sizeof(d->id), "d-%llx-%llx", (unsigned long long)lp_now_ms(), (unsigned long long)++ws->seq);
  snprintf(d->domain, sizeof(d->domain), "%s", domain);
  lp_buf b = LP_BUF_INIT;
  lp_buf_puts(&b, "{\"watch_id\":");
  lp_buf_json_str(&b, w->id, strlen(w->id));
  lp_buf_puts(&b, ",\"delivery_id\":");
  lp_buf_json_str(&b, d->id, strlen(d->id));
  lp_buf_printf(&b, ",\"event\":\"entered\",\"ts\":%lld,\"score\":%.6f,\"moved_by\":", (long long)lp_now_ms(), score);
  if (snippet_id != NULL && snippet_id[0]) {
    lp_buf_puts(&b, "{\"snippet_id\":");
    lp_buf_json_str(&b, snippet_id, strlen(snippet_id));
    lp_buf_puts(&b, "}");
  } else {
    lp_buf_puts(&b, "null");
  }
  lp_buf_puts(&b, ",\"lead\":{");
  lp_buf_append(&b, hit_json, hit_len);
  lp_buf_puts(&b, "}}");
  d->body = lp_buf_steal(&b, &d->len);
  char sig[72];
  if (d->body != NULL) lp__watch_signature(w->secret, d->body, d->len, sig);
  snprintf(d->headers, sizeof(d->headers), "X-Leadpoet-Signature: %s\r\nX-Leadpoet-Delivery: %s\r\nX-Leadpoet-Watch: %s\r\n",
           d->body != NULL ? sig : "", d->id, w->id);
  uv_timer_init(&ws->srv->loop, &d->timer);
  d->timer.data = d;
  d->next = ws->deliveries;
  if (ws->deliveries) ws->deliveries->prev = d;
  ws->deliveries = d;
  if (d->body == NULL) dead(d, "out of memory");
  else if (attempt(d) != LP_OK) dead(d, "cannot start the request (out of memory)");
}

void lp__watch_deliveries_cancel(lp_watches *ws, const char *why) {
  while (ws->deliveries != NULL) {
    lp_watch_delivery *d = ws->deliveries;
    if (d->call != NULL) lp_httpc_cancel(d->call);
    d->call = NULL;
    dead(d, why);
  }
}
