/*
 * leads_io.c: the lead table to and from msgpack, for snapshots and checkpoints.
 *
 * Layout, version 4:  ["lp-leads", 4, [lead, ...]]
 *   lead = [domain, name|nil, industry|nil, country, employees, firmo_ts, first_ts, last_ts, snippets,
 *           [outcome counts...], [[tech, first_seen, last_seen, removed_at], ...] (removed_at 0: in use),
 *           [[tech, ts, added], ...] (oldest first),
 *           [[snippet_id, miner, kind, ts, text, url|nil], ...],
 *           [[term, weight, last_day], ...],                      <- version 2: the lead's document
 *           enrich_ms, enrich_state]                              <- version 4: the enrichment vendor's
 *                                                                    last answer (LP_LEAD_ENRICH_*)
 * Version 3 had no enrichment state: its leads come back as never looked up (enrich_ms 0, NONE), so the
 * enricher may ask the vendor about them once more.
 * Version 2 kept only the technologies in use, as [tech, since]: they come back in use, first and last
 * seen at `since`. Version 1 had no document either: its leads come back with an empty one (the next
 * snippet starts it again).
 * A reader accepts any version <= its own and refuses a newer one by name; every field's type is checked,
 * so a corrupt buffer is an error, never a crash or a half-read lead.
 */
#include <msgpack.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "shard/leads.h"
#include "text/analyzer.h"
#include "text/techtable.h"
#include "worker/worker.h"

#define LEADS_MAGIC "lp-leads"
#define LEADS_VERSION 4

static int buf_write(void *data, const char *p, size_t n) { return lp_buf_append(data, p, n) == LP_OK ? 0 : -1; }

static void pack_str(msgpack_packer *pk, const char *s) {
  if (s == NULL) {
    msgpack_pack_nil(pk);
    return;
  }
  size_t n = strlen(s);
  msgpack_pack_str(pk, n);
  msgpack_pack_str_body(pk, s, n);
}

static void pack_lead(msgpack_packer *pk, const lp_termpool *pool, const lp_lead *l) {
  msgpack_pack_array(pk, 16);
  pack_str(pk, l->domain);
  pack_str(pk, l->name);
  pack_str(pk, l->industry);
  pack_str(pk, l->country);
  msgpack_pack_int64(pk, l->employees);
  msgpack_pack_int64(pk, l->firmo_ts_ms);
  msgpack_pack_int64(pk, l->first_ts_ms);
  msgpack_pack_int64(pk, l->last_ts_ms);
  msgpack_pack_uint64(pk, l->snippets);
  msgpack_pack_array(pk, LP_EVENT__COUNT);
  for (uint32_t e = 0; e < LP_EVENT__COUNT; e++) msgpack_pack_uint32(pk, l->outcomes[e]);
  msgpack_pack_array(pk, l->n_tech + l->n_gone);
  for (uint32_t i = 0; i < l->n_tech + l->n_gone; i++) {
    msgpack_pack_array(pk, 4);
    pack_str(pk, l->tech[i].name);
    msgpack_pack_int64(pk, l->tech[i].first_ms);
    msgpack_pack_int64(pk, l->tech[i].last_ms);
    msgpack_pack_int64(pk, i < l->n_tech ? 0 : l->tech[i].removed_ms);
  }
  msgpack_pack_array(pk, l->n_churn);
  for (uint32_t k = 0; k < l->n_churn; k++) {
    const lp_churn *c = lp__lead_churn_at(l, k);
    msgpack_pack_array(pk, 3);
    pack_str(pk, c->tech);
    msgpack_pack_int64(pk, c->ts_ms);
    if (c->added) msgpack_pack_true(pk);
    else msgpack_pack_false(pk);
  }
  msgpack_pack_array(pk, l->n_ev);
  for (uint32_t i = 0; i < l->n_ev; i++) {
    const lp_evidence *e = &l->ev[i];
    msgpack_pack_array(pk, 6);
    pack_str(pk, e->snippet_id);
    pack_str(pk, e->miner);
    msgpack_pack_uint32(pk, e->kind);
    msgpack_pack_int64(pk, e->ts_ms);
    pack_str(pk, e->text);
    pack_str(pk, lp_evidence_url(e));
  }
  msgpack_pack_array(pk, l->tv.n);
  for (uint16_t i = 0; i < l->tv.n; i++) {
    size_t len = 0;
    const char *term = lp_termpool_str(pool, l->tv.v[i].term, &len);
    msgpack_pack_array(pk, 3);
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, term, len);
    msgpack_pack_float(pk, l->tv.v[i].weight);
    msgpack_pack_int32(pk, l->tv.v[i].last_day);
  }
  msgpack_pack_int64(pk, l->enrich_ms);
  msgpack_pack_uint32(pk, l->enrich_state);
}

int lp_leads_save(const lp_lead_table *t, lp_buf *out) {
  msgpack_packer pk;
  msgpack_packer_init(&pk, out, buf_write);
  msgpack_pack_array(&pk, 3);
  pack_str(&pk, LEADS_MAGIC);
  msgpack_pack_uint32(&pk, LEADS_VERSION);
  msgpack_pack_array(&pk, (uint32_t)t->n);
  for (size_t i = 0; i < t->cap; i++)
    if (t->slots[i]) pack_lead(&pk, &t->pool, t->slots[i]);
  return out->data != NULL ? LP_OK : LP_ENOMEM;
}

/* ---- reading ---------------------------------------------------------------------------------------- */

typedef struct rd {
  char *errstr;
  size_t errstr_size;
  int failed;
} rd;

static int fail(rd *r, const char *what) {
  if (!r->failed) snprintf(r->errstr, r->errstr_size, "lead snapshot: %s", what);
  r->failed = 1;
  return LP_EINVAL;
}

static const msgpack_object *arr(rd *r, const msgpack_object *o, uint32_t min, const char *what) {
  if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < min) {
    fail(r, what);
    return NULL;
  }
  return o->via.array.ptr;
}

static int64_t i64(rd *r, const msgpack_object *o, const char *what) {
  if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) return o->via.u64 > INT64_MAX ? (fail(r, what), 0) : (int64_t)o->via.u64;
  if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) return o->via.i64;
  fail(r, what);
  return 0;
}

/* A string field as a fresh copy; nil gives NULL when nil_ok. */
static char *str(rd *r, const msgpack_object *o, int nil_ok, const char *what) {
  if (o->type == MSGPACK_OBJECT_NIL && nil_ok) return NULL;
  if (o->type != MSGPACK_OBJECT_STR) {
    fail(r, what);
    return NULL;
  }
  return lp_strndup(o->via.str.ptr, o->via.str.size);
}

/* A technology name read from a snapshot: the table's own string when it knows the name (the read copy is
 * freed), else the copy. */
static const char *adopt_name(const lp_lead_table *t, char *name, uint32_t *id) {
  const lp_tech_info *info = t->tech ? lp_techtable_find(t->tech, name, strlen(name)) : NULL;
  *id = info ? info->id : LP_TECH_NONE;
  if (info == NULL) return name;
  lp_free(name);
  return info->name;
}

/* Reads the stack (version 3: [name, first, last, removed]; before: [name, since], in use), then puts the
 * technologies in use before the removed ones. */
static int read_tech(rd *r, const lp_lead_table *t, lp_lead *l, const msgpack_object *o, int64_t ver) {
  const msgpack_object *a = arr(r, o, 0, "tech is not an array");
  if (a == NULL) return LP_EINVAL;
  uint32_t n = o->via.array.size;
  if (n > LP_LEAD_TECH_CAP) return fail(r, "too many tech entries");
  if (n && (l->tech = lp_calloc(n, sizeof(lp_tech))) == NULL) return fail(r, "out of memory");
  l->cap_tech = (uint16_t)n;
  for (uint32_t i = 0; i < n && !r->failed; i++) {
    const msgpack_object *e = arr(r, &a[i], ver >= 3 ? 4 : 2, "tech entry");
    if (e == NULL) break;
    char *name = str(r, &e[0], 0, "tech name");
    if (name == NULL) break;
    lp_tech x = { NULL, i64(r, &e[1], "tech first_seen"), 0, 0, LP_TECH_NONE };
    x.last_ms = ver >= 3 ? i64(r, &e[2], "tech last_seen") : x.first_ms;
    x.removed_ms = ver >= 3 ? i64(r, &e[3], "tech removed_at") : 0;
    x.name = adopt_name(t, name, &x.id);
    /* in use ones go to the front, the first removed one moving behind them */
    l->tech[l->n_tech + l->n_gone] = x;
    if (x.removed_ms != 0) {
      l->n_gone++;
    } else {
      l->tech[l->n_tech + l->n_gone] = l->tech[l->n_tech];
      l->tech[l->n_tech++] = x;
    }
  }
  return r->failed ? LP_EINVAL : LP_OK;
}

static int read_churn(rd *r, const lp_lead_table *t, lp_lead *l, const msgpack_object *o) {
  const msgpack_object *a = arr(r, o, 0, "churn is not an array");
  if (a == NULL) return LP_EINVAL;
  uint32_t n = o->via.array.size;
  if (n > LP_LEAD_CHURN_CAP) return fail(r, "too many churn entries");
  if (n && lp__lead_churn_reserve(l, n, t->tech, t->churn) != LP_OK) return fail(r, "out of memory");
  for (uint32_t i = 0; i < n && !r->failed; i++) {
    const msgpack_object *c = arr(r, &a[i], 3, "churn entry");
    if (c == NULL) break;
    if (c[2].type != MSGPACK_OBJECT_BOOLEAN) return fail(r, "churn added flag");
    char *tech = str(r, &c[0], 0, "churn tech");
    if (tech == NULL) break;
    uint32_t id;
    const char *name = adopt_name(t, tech, &id);
    l->churn[l->n_churn++] = (lp_churn){ name, i64(r, &c[1], "churn ts"), id, (uint8_t)c[2].via.boolean };
  }
  return r->failed ? LP_EINVAL : LP_OK;
}

/* A string field in place (no copy); nil gives an empty one when nil_ok. */
static lp_str view(rd *r, const msgpack_object *o, int nil_ok, const char *what) {
  if (o->type == MSGPACK_OBJECT_NIL && nil_ok) return (lp_str){ NULL, 0 };
  if (o->type != MSGPACK_OBJECT_STR) {
    fail(r, what);
    return (lp_str){ NULL, 0 };
  }
  return (lp_str){ o->via.str.ptr, o->via.str.size };
}

/* The evidence is stored as lp_leads_apply_snippet stores it: one block, the miner interned, and its
 * signature recomputed when the table has an analyzer (the format holds no signature: a change of the
 * analyzer or the fingerprint never needs a migration), else computed by the first query that needs it. */
static int read_evidence(rd *r, lp_lead_table *t, lp_lead *l, const msgpack_object *o) {
  const msgpack_object *a = arr(r, o, 0, "evidence is not an array");
  if (a == NULL) return LP_EINVAL;
  uint32_t n = o->via.array.size;
  /* A snapshot taken with a larger evidence_per_lead keeps its newest `cap` (they are unordered: keep the
   * first cap and let later applies evict by age; good enough across a config change). */
  for (uint32_t i = 0; i < n && !r->failed && l->n_ev < t->evidence_cap; i++) {
    const msgpack_object *e = arr(r, &a[i], 6, "evidence entry");
    if (e == NULL) break;
    lp_str id = view(r, &e[0], 0, "evidence snippet_id"), miner = view(r, &e[1], 0, "evidence miner");
    int64_t kind = i64(r, &e[2], "evidence kind");
    int64_t ts = i64(r, &e[3], "evidence ts");
    lp_str text = view(r, &e[4], 0, "evidence text"), url = view(r, &e[5], 1, "evidence url");
    if (r->failed) break;
    if (kind < 0 || kind >= LP_KIND__COUNT) return fail(r, "evidence kind out of range");
    if (lp__lead_ev_reserve(t, l) != LP_OK ||
        lp__evidence_set(t, l, &l->ev[l->n_ev], id, miner, text, url, ts, (uint32_t)kind) != LP_OK)
      return fail(r, "out of memory");
    l->n_ev++;
  }
  return r->failed ? LP_EINVAL : LP_OK;
}

static int read_termvec(rd *r, lp_lead_table *t, lp_lead *l, const msgpack_object *o) {
  const msgpack_object *a = arr(r, o, 0, "document is not an array");
  if (a == NULL) return LP_EINVAL;
  uint32_t n = o->via.array.size;
  if (n > LP_TERMVEC_MAX) return fail(r, "document has too many terms");
  for (uint32_t i = 0; i < n && !r->failed; i++) {
    const msgpack_object *e = arr(r, &a[i], 3, "document entry");
    if (e == NULL) break;
    if (e[0].type != MSGPACK_OBJECT_STR || (e[1].type != MSGPACK_OBJECT_FLOAT32 && e[1].type != MSGPACK_OBJECT_FLOAT64))
      return fail(r, "document entry types");
    uint32_t id = lp_termpool_intern(&t->pool, e[0].via.str.ptr, e[0].via.str.size,
                                     lp_term_hash(e[0].via.str.ptr, e[0].via.str.size));
    if (id == LP_TERM_NONE) return fail(r, "document term");
    if (lp_termvec_add(&l->tv, id, e[1].via.f64, (int32_t)i64(r, &e[2], "document day")) != LP_OK)
      return fail(r, "out of memory");
  }
  return r->failed ? LP_EINVAL : LP_OK;
}

/* The enrichment vendor's last answer (version 4): its time and a known state, else the snapshot is bad. */
static void read_enrich_state(rd *r, lp_lead *l, const msgpack_object *f) {
  int64_t at = i64(r, &f[0], "lead enrich_ms");
  int64_t state = i64(r, &f[1], "lead enrich_state");
  if (r->failed) return;
  if (at < 0 || state < LP_LEAD_ENRICH_NONE || state > LP_LEAD_ENRICH_NOT_FOUND ||
      (state == LP_LEAD_ENRICH_NONE) != (at == 0)) {
    fail(r, "lead enrichment state out of range");
    return;
  }
  l->enrich_ms = at;
  l->enrich_state = (uint8_t)state;
}

static lp_lead *read_lead(rd *r, lp_lead_table *t, const msgpack_object *o, int64_t ver) {
  const msgpack_object *f = ver >= 4 ? arr(r, o, 16, "lead is not an array of 16")
                                     : arr(r, o, 13, "lead is not an array of 13");
  if (f == NULL) return NULL;
  lp_lead *l = lp_calloc(1, sizeof(*l));
  if (l == NULL) {
    fail(r, "out of memory");
    return NULL;
  }
  l->domain = str(r, &f[0], 0, "lead domain");
  l->name = str(r, &f[1], 1, "lead name");
  l->industry = str(r, &f[2], 1, "lead industry");
  if (f[3].type != MSGPACK_OBJECT_STR || f[3].via.str.size > 2) fail(r, "lead country");
  else memcpy(l->country, f[3].via.str.ptr, f[3].via.str.size);
  l->employees = i64(r, &f[4], "lead employees");
  l->firmo_ts_ms = i64(r, &f[5], "lead firmo_ts");
  l->first_ts_ms = i64(r, &f[6], "lead first_ts");
  l->last_ts_ms = i64(r, &f[7], "lead last_ts");
  l->snippets = (uint64_t)i64(r, &f[8], "lead snippets");
  const msgpack_object *oc = arr(r, &f[9], 0, "lead outcomes");
  if (oc)
    for (uint32_t e = 0; e < f[9].via.array.size && e < LP_EVENT__COUNT; e++)
      l->outcomes[e] = (uint32_t)i64(r, &oc[e], "outcome count");
  if (!r->failed) read_tech(r, t, l, &f[10], ver);
  if (!r->failed) read_churn(r, t, l, &f[11]);
  if (!r->failed) read_evidence(r, t, l, &f[12]);
  if (!r->failed && o->via.array.size >= 14) read_termvec(r, t, l, &f[13]);
  if (!r->failed && ver >= 4) read_enrich_state(r, l, &f[14]);
  if (l->domain) l->hash = lp_domain_hash(l->domain, strlen(l->domain));
  l->n_miners = lp__lead_count_miners(l);
  return l;
}

int lp_leads_load(lp_lead_table *t, const void *data, size_t len, char *errstr, size_t errstr_size) {
  rd r = { errstr, errstr_size, 0 };
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = 0;
  if (msgpack_unpack_next(&u, data, len, &off) != MSGPACK_UNPACK_SUCCESS) {
    msgpack_unpacked_destroy(&u);
    return fail(&r, "not msgpack");
  }
  const msgpack_object *top = arr(&r, &u.data, 3, "not a lead snapshot");
  int rc = LP_OK;
  if (top == NULL || top[0].type != MSGPACK_OBJECT_STR || top[0].via.str.size != strlen(LEADS_MAGIC) ||
      memcmp(top[0].via.str.ptr, LEADS_MAGIC, top[0].via.str.size) != 0) {
    rc = fail(&r, "bad magic");
  } else {
    int64_t ver = i64(&r, &top[1], "version");
    if (!r.failed && (ver < 1 || ver > LEADS_VERSION)) {
      snprintf(errstr, errstr_size, "lead snapshot: version %lld is newer than this leadpoet reads (%d)",
               (long long)ver, LEADS_VERSION);
      r.failed = 1;
    }
    const msgpack_object *leads = r.failed ? NULL : arr(&r, &top[2], 0, "leads is not an array");
    for (uint32_t i = 0; leads && i < top[2].via.array.size && !r.failed; i++) {
      lp_lead *l = read_lead(&r, t, &leads[i], ver);
      if (l == NULL) break;
      if (r.failed || l->domain == NULL || lp_leads_get(t, l->domain, strlen(l->domain), l->hash) != NULL) {
        if (!r.failed) fail(&r, "duplicate lead");
        lp__lead_free(t, l);
        break;
      }
      if (lp__leads_insert(t, l) != LP_OK) {
        lp__lead_free(t, l);
        fail(&r, "out of memory");
      }
    }
    if (r.failed) rc = LP_EINVAL;
  }
  msgpack_unpacked_destroy(&u);
  return rc;
}
