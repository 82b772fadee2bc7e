/*
 * miners.c: what this instance knows of each miner: snippets accepted, throttled and rejected, first and
 * last seen, and its reputation; GET /v1/miners and GET /v1/miners/{id}.
 *
 * The table lives on the reactor (every ingest result comes back there) and holds at most
 * ingest.max_miners miners; past that, new miners are counted together under "(other)" so that a flood of
 * invented miner names cannot eat memory.
 *
 * Reputation: the reputation stage's estimate (stages/reputation/, written by its describe_miner under
 * "reputation"); without that stage, the Beta(1, 1) prior: mean 0.5, 95 % interval [0.025, 0.975].
 * status: "throttled" while the miner's latest snippet was dropped as throttled, else "low_reputation"
 * when the whole 95 % interval lies below [stage.reputation] low_reputation, else "ok".
 */
#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "server/credit.h"
#include "server/server_int.h"
#include "stages/reputation/reputation.h"

#define OTHER "(other)"

/* A row: the shared counts, and what only this file needs. */
typedef struct miner_row {
  lp_miner_stat s;            /* first: rows are handed out as lp_miner_stat * */
  int throttled_now;          /* the latest snippet was dropped with "throttled" */
} miner_row;

struct lp_miner_table {
  lp_miner_stat **slots;
  size_t cap, n, max;
  lp_miner_stat other;
};

int lp__miners_new(lp_miner_table **out, size_t max) {
  lp_miner_table *t = lp_calloc(1, sizeof(*t));
  if (t == NULL) return LP_ENOMEM;
  t->cap = 256;
  t->max = max;
  t->slots = lp_calloc(t->cap, sizeof(lp_miner_stat *));
  t->other.id = lp_strdup(OTHER);
  if (t->slots == NULL || t->other.id == NULL) {
    lp__miners_free(t);
    return LP_ENOMEM;
  }
  *out = t;
  return LP_OK;
}

void lp__miners_free(lp_miner_table *t) {
  if (t == NULL) return;
  for (size_t i = 0; i < t->cap; i++) {
    if (t->slots[i] == NULL) continue;
    lp_free(t->slots[i]->id);
    lp_free(t->slots[i]);
  }
  lp_free(t->slots);
  lp_free(t->other.id);
  lp_free(t);
}

static int grow(lp_miner_table *t) {
  size_t cap = t->cap * 2;
  lp_miner_stat **slots = lp_calloc(cap, sizeof(lp_miner_stat *));
  if (slots == NULL) return LP_ENOMEM;
  for (size_t i = 0; i < t->cap; i++) {
    lp_miner_stat *m = t->slots[i];
    if (m == NULL) continue;
    size_t j = XXH3_64bits(m->id, strlen(m->id)) & (cap - 1);
    while (slots[j] != NULL) j = (j + 1) & (cap - 1);
    slots[j] = m;
  }
  lp_free(t->slots);
  t->slots = slots;
  t->cap = cap;
  return LP_OK;
}

lp_miner_stat *lp__miners_find(const lp_miner_table *t, const char *id, size_t len) {
  size_t mask = t->cap - 1;
  for (size_t i = XXH3_64bits(id, len) & mask;; i = (i + 1) & mask) {
    lp_miner_stat *m = t->slots[i];
    if (m == NULL) return NULL;
    if (strncmp(m->id, id, len) == 0 && m->id[len] == '\0') return m;
  }
}

/* The miner's row, created on first sight; the shared "(other)" row past the bound. */
lp_miner_stat *lp__miners_get(lp_miner_table *t, const char *id, size_t len) {
  lp_miner_stat *m = lp__miners_find(t, id, len);
  if (m != NULL) return m;
  if (t->n >= t->max || ((t->n + 1) * 4 > t->cap * 3 && grow(t) != LP_OK)) return &t->other;
  m = lp_calloc(1, sizeof(miner_row));
  if (m == NULL || (m->id = lp_strndup(id, len)) == NULL) {
    lp_free(m);
    return &t->other;
  }
  size_t i = XXH3_64bits(id, len) & (t->cap - 1);
  while (t->slots[i] != NULL) i = (i + 1) & (t->cap - 1);
  t->slots[i] = m;
  t->n++;
  return m;
}

void lp__miners_count(lp_miner_table *t, const char *id, size_t len, const char *result) {
  if (id == NULL || len == 0 || len > 64) return;
  lp_miner_stat *m = lp__miners_get(t, id, len);
  int64_t now = lp_now_ms();
  if (m->first_ms == 0) m->first_ms = now;
  m->last_ms = now;
  if (result == NULL) m->accepted++;
  else if (strcmp(result, "throttled") == 0 || strcmp(result, "near_duplicate") == 0) m->throttled++;
  else m->rejected++;
  if (m != &t->other) ((miner_row *)m)->throttled_now = result != NULL && strcmp(result, "throttled") == 0;
}

/* ---- routes --------------------------------------------------------------------------------------- */

/* Only rows of the table carry the flag (not "(other)", not a miner known from its reputation only). */
static int throttled_now(const lp_miner_table *t, const lp_miner_stat *m) {
  return m != &t->other && lp__miners_find(t, m->id, strlen(m->id)) == m && ((const miner_row *)m)->throttled_now;
}

/* {"miner","reputation":{...},"accepted","throttled","rejected","status",...} and the global stages' view
 * of the miner under their names (the throttle's bucket; the reputation stage's estimate). */
static void miner_json(lp_server *srv, const lp_miner_stat *m, lp_buf *b) {
  lp_str id = { m->id, strlen(m->id) };
  lp_rep *rep = lp_rep_active();
  lp_rep_estimate e;
  if (rep != NULL) lp_rep_estimate_get(rep, id, &e);
  const char *status = throttled_now(srv->miners, m) ? "throttled"
                       : rep != NULL && e.high < lp_rep_conf_get(rep)->low_reputation ? "low_reputation"
                                                                                      : "ok";
  lp_buf_puts(b, "{\"miner\":");
  lp_buf_json_str(b, id.ptr, id.len);
  lp_buf_printf(b, ",\"accepted\":%llu,\"throttled\":%llu,\"rejected\":%llu,\"status\":\"%s\","
                   "\"first_seen_ms\":%lld,\"last_seen_ms\":%lld",
                (unsigned long long)m->accepted, (unsigned long long)m->throttled, (unsigned long long)m->rejected,
                status, (long long)m->first_ms, (long long)m->last_ms);
  size_t stages_at = b->len;
  if (srv->stages != NULL) lp_stages_describe_miner(srv->stages, id, b);
  /* The reputation stage wrote "reputation"; without it (or if it failed), the prior. */
  int has = 0;
  for (size_t i = stages_at; !has && b->data != NULL && i + 15 <= b->len; i++)
    has = memcmp(b->data + i, ",\"reputation\":{", 15) == 0;
  if (!has) {
    lp_rep_estimate prior = { 0.5, 0.025, 0.975, 0, 0, 0, 0 };
    if (rep != NULL) prior = e;
    lp_buf_puts(b, ",\"reputation\":");
    lp_rep_estimate_json(&prior, b);
  }
  lp_buf_puts(b, "}");
}

static int cmp_id(const void *a, const void *b) {
  return strcmp((*(const lp_miner_stat *const *)a)->id, (*(const lp_miner_stat *const *)b)->id);
}

/* GET /v1/miners[?limit=N&after=ID]: sorted by id, at most limit (default 1000, at most 10000); "next"
 * names the id to pass as after for the following page. */
void lp__route_miners(lp_http_req *req, lp_str param, void *ud) {
  (void)param;
  lp_server *srv = ud;
  lp_miner_table *t = srv->miners;
  lp_str q = lp_http_req_query(req);
  char query[512] = "", after[128] = "";
  long limit = 1000;
  snprintf(query, sizeof(query), "%.*s", (int)q.len, q.ptr ? q.ptr : "");
  for (char *tok = strtok(query, "&"); tok; tok = strtok(NULL, "&")) {
    if (strncmp(tok, "limit=", 6) == 0) {
      char *end;
      limit = strtol(tok + 6, &end, 10);
      if (*end != '\0' || limit < 1 || limit > 10000) {
        lp_http_respond_error(req, 400, "bad_request", "limit must be an integer between 1 and 10000");
        return;
      }
    } else if (strncmp(tok, "after=", 6) == 0) {
      snprintf(after, sizeof(after), "%s", tok + 6);
    } else {
      lp_http_respond_error(req, 400, "bad_request", "unknown parameter \"%s\" (known: limit, after)", tok);
      return;
    }
  }
  lp_miner_stat **all = lp_malloc((t->n + 1) * sizeof(lp_miner_stat *));
  if (all == NULL) {
    lp_http_respond_error(req, 503, "overloaded", "out of memory");
    return;
  }
  size_t n = 0;
  for (size_t i = 0; i < t->cap; i++)
    if (t->slots[i] != NULL && strcmp(t->slots[i]->id, after) > 0) all[n++] = t->slots[i];
  if (t->other.last_ms != 0 && strcmp(OTHER, after) > 0) all[n++] = &t->other;
  if (n > 1) qsort(all, n, sizeof(all[0]), cmp_id);
  lp_buf b = LP_BUF_INIT;
  lp_buf_puts(&b, "{\"miners\":[");
  size_t shown = n < (size_t)limit ? n : (size_t)limit;
  for (size_t i = 0; i < shown; i++) {
    if (i) lp_buf_puts(&b, ",");
    miner_json(srv, all[i], &b);
  }
  lp_buf_puts(&b, "],\"next\":");
  if (shown < n) lp_buf_json_str(&b, all[shown - 1]->id, strlen(all[shown - 1]->id));
  else lp_buf_puts(&b, "null");
  lp_buf_printf(&b, ",\"total\":%zu}", t->n + (t->other.last_ms != 0));
  lp_free(all);
  size_t len;
  char *body = lp_buf_steal(&b, &len);
  lp_http_respond_take(req, 200, "application/json", body, len);
}

void lp__route_miner(lp_http_req *req, lp_str param, void *ud) {
  lp_server *srv = ud;
  lp_miner_stat *m = param.len == strlen(OTHER) && memcmp(param.ptr, OTHER, param.len) == 0
                         ? &srv->miners->other
                         : lp__miners_find(srv->miners, param.ptr, param.len);
  /* A miner this instance has not counted since it started may still have a restored reputation. */
  char id[LP_MINER_ID_MAX + 1];
  lp_miner_stat restored = { 0 };
  lp_rep_estimate e;
  if ((m == NULL || m->last_ms == 0) && lp_rep_active() != NULL && param.len <= LP_MINER_ID_MAX) {
    lp_rep_estimate_get(lp_rep_active(), param, &e);
    if (e.known) {
      memcpy(id, param.ptr, param.len);
      id[param.len] = '\0';
      restored.id = id;
      m = &restored;
    }
  }
  if (m == NULL || (m->last_ms == 0 && m != &restored)) {
    lp_http_respond_error(req, 404, "not_found", "no miner %.*s", (int)(param.len > 64 ? 64 : param.len), param.ptr);
    return;
  }
  lp_buf b = LP_BUF_INIT;
  miner_json(srv, m, &b);
  size_t len;
  char *body = lp_buf_steal(&b, &len);
  lp_http_respond_take(req, 200, "application/json", body, len);
}
