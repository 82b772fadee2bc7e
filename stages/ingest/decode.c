/*
 * decode.c: one snippet or outcome item (JSON or msgpack) -> a validated lp_snippet / lp_outcome, or a
 * rejection with its contract code. The order of the checks is documented in ingest.h.
 *
 * Hot path (20,000 snippets/s on the reactor): the rules read the parsed item in place (lp_str views into
 * jansson's or msgpack's memory), then one allocation holds the result and every string it points to.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "base/alloc.h"
#include "stages/ingest/ingest.h"
#include "stages/ingest/node.h"
#include "worker/worker.h"

#define ID_MAX 64
#define MINER_MAX 64
#define LEAD_TEXT_MAX 256
#define TEXT_MAX 4096
#define URL_MAX 2048
#define TECH_MAX_ITEMS 64
#define TECH_ITEM_MAX 128
#define QUERY_ID_MAX 128
#define PRODUCT_MAX 1024

static const char *const kind_names[LP_KIND__COUNT] = {
  "hiring", "funding", "tech", "news", "review", "event", "web",
};
static const char *const event_names[LP_EVENT__COUNT] = {
  "delivered", "opened", "replied", "meeting", "purchased", "bounced", "invalid", "spam",
};

const char *lp_snippet_kind_name(uint32_t kind) {
  return kind < LP_KIND__COUNT ? kind_names[kind] : "unknown";
}

const char *lp_outcome_event_name(uint32_t event) {
  return event < LP_EVENT__COUNT ? event_names[event] : "unknown";
}

int lp_outcome_event_is_good(uint32_t event) {
  return event <= LP_EVENT_PURCHASED;
}

static int reject(lp_reject *rej, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Fills rej (code is static) and returns LP_EINVAL for the caller to return. */
static int reject(lp_reject *rej, const char *code, const char *fmt, ...) {
  va_list ap;
  rej->code = code;
  va_start(ap, fmt);
  vsnprintf(rej->message, sizeof(rej->message), fmt, ap);
  va_end(ap);
  return LP_EINVAL;
}

static const char *type_name(int t) {
  switch (t) {
    case LP__N_NULL: return "null";
    case LP__N_BOOL: return "a boolean";
    case LP__N_INT: case LP__N_BIGUINT: return "an integer";
    case LP__N_REAL: return "a number";
    case LP__N_STR: return "a string";
    case LP__N_BIN: return "bin";
    case LP__N_ARRAY: return "an array";
    case LP__N_OBJECT: return "an object";
    default: return "another type";
  }
}

/* A string field. Absent (or null) is LP_OK with out = {NULL, 0} when optional. */
static int get_str(lp__node obj, const char *key, const char *field, int required, size_t min, size_t max,
                   lp_str *out, lp_reject *rej) {
  lp__node n = lp__node_get(obj, key);
  int t = lp__node_type(n);
  out->ptr = NULL;
  out->len = 0;
  if (t == LP__N_ABSENT || (t == LP__N_NULL && !required)) {
    if (required) return reject(rej, "bad_field", "%s is missing", field);
    return LP_OK;
  }
  if (t != LP__N_STR) return reject(rej, "bad_field", "%s must be a string, not %s", field, type_name(t));
  lp_str s = lp__node_str(n);
  if (s.len < min || s.len > max)
    return reject(rej, "bad_field", "%s must be %zu..%zu bytes, got %zu", field, min, max, s.len);
  if (!lp_utf8_valid(s.ptr, s.len))
    return reject(rej, "bad_field", "%s is not valid UTF-8 (or holds a NUL byte)", field);
  *out = s;
  return LP_OK;
}

/* An integer field (JSON integer, msgpack int). *present says whether it was given. */
static int get_int(lp__node obj, const char *key, const char *field, int required, int64_t min,
                   int64_t *out, int *present, lp_reject *rej) {
  lp__node n = lp__node_get(obj, key);
  int t = lp__node_type(n);
  *present = 0;
  if (t == LP__N_ABSENT || (t == LP__N_NULL && !required)) {
    if (required) return reject(rej, "bad_field", "%s is missing", field);
    return LP_OK;
  }
  if (t == LP__N_BIGUINT) return reject(rej, "bad_field", "%s is out of range", field);
  if (t != LP__N_INT) return reject(rej, "bad_field", "%s must be an integer, not %s", field, type_name(t));
  int64_t v = lp__node_int(n);
  if (v < min) return reject(rej, "bad_field", "%s must be >= %lld, got %lld", field, (long long)min, (long long)v);
  *out = v;
  *present = 1;
  return LP_OK;
}

/* One of names[0..count), as its index. */
static int get_enum(lp__node obj, const char *key, const char *const *names, uint32_t count, uint32_t *out,
                    lp_reject *rej) {
  lp_str s;
  int rc = get_str(obj, key, key, 1, 0, SIZE_MAX, &s, rej);
  if (rc != LP_OK) return rc;
  for (uint32_t i = 0; i < count; i++) {
    if (strlen(names[i]) == s.len && memcmp(names[i], s.ptr, s.len) == 0) {
      *out = i;
      return LP_OK;
    }
  }
  char list[160];
  size_t o = 0;
  for (uint32_t i = 0; i < count && o < sizeof(list); i++)
    o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "", names[i]);
  return reject(rej, "bad_field", "%s must be one of %s", key, list);
}

/* ts more than max_future_ms ahead of now_ms (without overflow for any inputs). */
static int is_future(int64_t ts, int64_t now_ms, int64_t max_future_ms) {
  if (max_future_ms < 0) max_future_ms = 0;
  if (now_ms > INT64_MAX - max_future_ms) return 0;
  return ts > now_ms + max_future_ms;
}

static int reject_future(lp_reject *rej, int64_t ts, int64_t now_ms, int64_t max_future_ms) {
  return reject(rej, "future_ts", "ts %lld is more than %lld ms ahead of now (%lld)", (long long)ts,
                (long long)max_future_ms, (long long)now_ms);
}

static int check_id(lp__node obj, lp_str *id, lp_reject *rej) {
  return get_str(obj, "id", "id", 1, 1, ID_MAX, id, rej);
}

/* Event time before 2000-01-01 is no evidence of buying now: a unit mistake (seconds for milliseconds) or
 * garbage. Refused, like a time far in the future (contract section 1: ts is ms since the epoch). */
#define TS_MIN_MS INT64_C(946684800000)

static int check_ts(lp__node obj, int64_t *ts, lp_reject *rej) {
  int present;
  int rc = get_int(obj, "ts", "ts", 1, 0, ts, &present, rej);
  if (rc == LP_OK && *ts < TS_MIN_MS)
    return reject(rej, "bad_field", "ts is before 2000-01-01 (it must be milliseconds since the epoch)");
  return rc;
}

int lp_miner_chars_ok(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-')) return 0;
  }
  return 1;
}

static int check_miner(lp__node obj, lp_str *miner, lp_reject *rej) {
  int rc = get_str(obj, "miner", "miner", 1, 1, MINER_MAX, miner, rej);
  if (rc != LP_OK) return rc;
  if (!lp_miner_chars_ok(miner->ptr, miner->len)) return reject(rej, "bad_field", "miner may only hold [A-Za-z0-9._-]");
  return LP_OK;
}

/* tech_added / tech_removed: an optional array of <= 64 strings of 1..128 bytes. */
static int check_tech(lp__node obj, const char *key, lp_str *items, uint32_t *count, lp_reject *rej) {
  lp__node arr = lp__node_get(obj, key);
  int t = lp__node_type(arr);
  *count = 0;
  if (t == LP__N_ABSENT || t == LP__N_NULL) return LP_OK;
  if (t != LP__N_ARRAY) return reject(rej, "bad_field", "%s must be an array of strings, not %s", key, type_name(t));
  size_t n = lp__node_len(arr);
  if (n > TECH_MAX_ITEMS) return reject(rej, "bad_field", "%s may hold at most %d entries, got %zu", key, TECH_MAX_ITEMS, n);
  for (size_t i = 0; i < n; i++) {
    lp__node e = lp__node_at(arr, i);
    int et = lp__node_type(e);
    if (et != LP__N_STR) return reject(rej, "bad_field", "%s[%zu] must be a string, not %s", key, i, type_name(et));
    lp_str s = lp__node_str(e);
    if (s.len < 1 || s.len > TECH_ITEM_MAX)
      return reject(rej, "bad_field", "%s[%zu] must be 1..%d bytes, got %zu", key, i, TECH_ITEM_MAX, s.len);
    if (!lp_utf8_valid(s.ptr, s.len))
      return reject(rej, "bad_field", "%s[%zu] is not valid UTF-8 (or holds a NUL byte)", key, i);
    items[i] = s;
  }
  *count = (uint32_t)n;
  return LP_OK;
}

/* Everything read from a snippet item, as views into the parsed item, before the one copy. */
typedef struct snippet_fields {
  lp_str id, miner, name, industry, role, country, text, url;
  int64_t ts, employees;
  uint32_t kind;
  char domain[LP_DOMAIN_BUF];
  size_t domain_len;
  char country_up[2];
  lp_str added[TECH_MAX_ITEMS], removed[TECH_MAX_ITEMS];
  uint32_t n_added, n_removed;
} snippet_fields;

static int check_lead(lp__node obj, snippet_fields *f, lp_reject *rej) {
  lp__node lead = lp__node_get(obj, "lead");
  int t = lp__node_type(lead), rc, present;
  lp_str dom;
  if (t == LP__N_ABSENT) return reject(rej, "bad_field", "lead is missing");
  if (t != LP__N_OBJECT) return reject(rej, "bad_field", "lead must be an object, not %s", type_name(t));
  if ((rc = get_str(lead, "domain", "lead.domain", 1, 1, SIZE_MAX, &dom, rej)) != LP_OK) return rc;
  rc = lp_domain_canonicalize_field(dom.ptr, dom.len, "lead.domain", f->domain, sizeof(f->domain), &f->domain_len, rej);
  if (rc != LP_OK) return rc;
  if ((rc = get_str(lead, "name", "lead.name", 0, 0, LEAD_TEXT_MAX, &f->name, rej)) != LP_OK) return rc;
  if ((rc = get_str(lead, "industry", "lead.industry", 0, 0, LEAD_TEXT_MAX, &f->industry, rej)) != LP_OK) return rc;
  if ((rc = get_str(lead, "role", "lead.role", 0, 0, LEAD_TEXT_MAX, &f->role, rej)) != LP_OK) return rc;
  f->employees = 0;
  if ((rc = get_int(lead, "employees", "lead.employees", 0, 1, &f->employees, &present, rej)) != LP_OK) return rc;
  if ((rc = get_str(lead, "country", "lead.country", 0, 0, 2, &f->country, rej)) != LP_OK) return rc;
  if (f->country.ptr) {
    if (f->country.len != 2) return reject(rej, "bad_field", "lead.country must be 2 letters (ISO 3166-1 alpha-2)");
    for (int i = 0; i < 2; i++) {
      char c = f->country.ptr[i];
      if (c >= 'a' && c <= 'z') c = (char)(c - 32);
      if (c < 'A' || c > 'Z') return reject(rej, "bad_field", "lead.country must be 2 letters (ISO 3166-1 alpha-2)");
      f->country_up[i] = c;
    }
    f->country.ptr = f->country_up;
  }
  return LP_OK;
}

static int snippet_fields_read(lp__node obj, snippet_fields *f, lp_reject *rej) {
  int rc, t = lp__node_type(obj);
  if (t != LP__N_OBJECT) return reject(rej, "bad_field", "a snippet must be an object, not %s", type_name(t));
  if ((rc = check_id(obj, &f->id, rej)) != LP_OK) return rc;
  if ((rc = check_miner(obj, &f->miner, rej)) != LP_OK) return rc;
  if ((rc = check_ts(obj, &f->ts, rej)) != LP_OK) return rc;
  if ((rc = check_lead(obj, f, rej)) != LP_OK) return rc;
  if ((rc = get_enum(obj, "kind", kind_names, LP_KIND__COUNT, &f->kind, rej)) != LP_OK) return rc;
  if ((rc = get_str(obj, "text", "text", 1, 1, TEXT_MAX, &f->text, rej)) != LP_OK) return rc;
  if ((rc = get_str(obj, "url", "url", 0, 0, URL_MAX, &f->url, rej)) != LP_OK) return rc;
  if ((rc = check_tech(obj, "tech_added", f->added, &f->n_added, rej)) != LP_OK) return rc;
  return check_tech(obj, "tech_removed", f->removed, &f->n_removed, rej);
}

static int pii_in(const lp_str *s) {
  return s->len > 0 && lp_pii_has_personal_email(s->ptr, s->len);
}

/* The policy checks that follow the shape checks: future_ts, b2c_domain, pii. */
static int snippet_policy(const snippet_fields *f, const lp_ingest_rules *r, int64_t now_ms, lp_reject *rej) {
  if (is_future(f->ts, now_ms, r->max_future_ms)) return reject_future(rej, f->ts, now_ms, r->max_future_ms);
  if (lp_domain_set_contains(r->b2c, f->domain, f->domain_len))
    return reject(rej, "b2c_domain", "lead.domain %s is a free-mail or disposable-mail domain, not a business",
                  f->domain);
  const struct { const char *field; const lp_str *s; } texts[] = {
    { "text", &f->text }, { "url", &f->url }, { "lead.name", &f->name }, { "lead.role", &f->role },
    { "lead.industry", &f->industry },
  };
  for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
    if (pii_in(texts[i].s)) return reject(rej, "pii", "%s holds a personal e-mail address", texts[i].field);
  for (uint32_t i = 0; i < f->n_added; i++)
    if (pii_in(&f->added[i])) return reject(rej, "pii", "tech_added[%u] holds a personal e-mail address", i);
  for (uint32_t i = 0; i < f->n_removed; i++)
    if (pii_in(&f->removed[i])) return reject(rej, "pii", "tech_removed[%u] holds a personal e-mail address", i);
  return LP_OK;
}

/* Copies s (NUL-terminated) to *p and advances it. */
static lp_str put(char **p, const char *s, size_t n) {
  lp_str r = { *p, n };
  if (n) memcpy(*p, s, n);
  (*p)[n] = '\0';
  *p += n + 1;
  return r;
}

static size_t str_need(const lp_str *s) {
  return s->len + 1;
}

/* Kafka's default partitioner over the canonical domain (worker.h): partition p feeds shard p. */
static uint32_t shard_of(const lp_str *domain, const lp_ingest_rules *r) {
  return r->shards ? lp_partition_of(domain->ptr, domain->len, r->shards) : 0;
}

static int snippet_build(const snippet_fields *f, const lp_ingest_rules *r, int64_t now_ms, lp_snippet **out) {
  size_t need = sizeof(lp_snippet) + (size_t)(f->n_added + f->n_removed) * sizeof(lp_str);
  need += str_need(&f->id) + str_need(&f->miner) + f->domain_len + 1 + str_need(&f->name) +
          str_need(&f->industry) + str_need(&f->country) + str_need(&f->role) + str_need(&f->text) +
          str_need(&f->url);
  for (uint32_t i = 0; i < f->n_added; i++) need += str_need(&f->added[i]);
  for (uint32_t i = 0; i < f->n_removed; i++) need += str_need(&f->removed[i]);
  lp_snippet *s = lp_malloc(need);
  if (!s) return LP_ENOMEM;
  lp_str *arr = (lp_str *)(s + 1);
  char *p = (char *)(arr + f->n_added + f->n_removed);
  memset(s, 0, sizeof(*s));
  s->id = put(&p, f->id.ptr, f->id.len);
  s->miner = put(&p, f->miner.ptr, f->miner.len);
  s->ts_ms = f->ts;
  s->domain = put(&p, f->domain, f->domain_len);
  s->name = put(&p, f->name.ptr, f->name.len);
  s->industry = put(&p, f->industry.ptr, f->industry.len);
  s->country = put(&p, f->country.ptr, f->country.len);
  s->role = put(&p, f->role.ptr, f->role.len);
  s->employees = f->employees;
  s->kind = f->kind;
  s->text = put(&p, f->text.ptr, f->text.len);
  s->url = put(&p, f->url.ptr, f->url.len);
  for (uint32_t i = 0; i < f->n_added; i++) arr[i] = put(&p, f->added[i].ptr, f->added[i].len);
  for (uint32_t i = 0; i < f->n_removed; i++) arr[f->n_added + i] = put(&p, f->removed[i].ptr, f->removed[i].len);
  s->tech_added = f->n_added ? arr : NULL;
  s->n_tech_added = f->n_added;
  s->tech_removed = f->n_removed ? arr + f->n_added : NULL;
  s->n_tech_removed = f->n_removed;
  s->domain_hash = XXH3_64bits(s->domain.ptr, s->domain.len);
  s->shard = shard_of(&s->domain, r);
  s->arrival_ms = now_ms;
  *out = s;
  return LP_OK;
}

static int snippet_decode(lp__node obj, const lp_ingest_rules *r, int64_t now_ms, lp_snippet **out,
                          lp_reject *rej) {
  snippet_fields f;
  int rc;
  *out = NULL;
  rej->code = NULL;
  rej->message[0] = '\0';
  if ((rc = snippet_fields_read(obj, &f, rej)) != LP_OK) return rc;
  if ((rc = snippet_policy(&f, r, now_ms, rej)) != LP_OK) return rc;
  return snippet_build(&f, r, now_ms, out);
}

int lp_snippet_from_json(const json_t *obj, const lp_ingest_rules *r, int64_t now_ms, lp_snippet **out,
                         lp_reject *rej) {
  lp__node n = { obj, NULL };
  if (!obj) {
    *out = NULL;
    return reject(rej, "bad_json", "the item is not valid JSON");
  }
  return snippet_decode(n, r, now_ms, out, rej);
}

int lp_snippet_from_msgpack(const msgpack_object *obj, const lp_ingest_rules *r, int64_t now_ms,
                            lp_snippet **out, lp_reject *rej) {
  lp__node n = { NULL, obj };
  if (!obj) {
    *out = NULL;
    return reject(rej, "bad_json", "the item is not valid msgpack");
  }
  return snippet_decode(n, r, now_ms, out, rej);
}

/* ---- Outcomes ----------------------------------------------------------------------------------- */

typedef struct outcome_fields {
  lp_str id, query_id, product;
  int64_t ts;
  char domain[LP_DOMAIN_BUF];
  size_t domain_len;
  uint32_t event;
  double value;
  int has_value;
} outcome_fields;

static int check_value(lp__node obj, outcome_fields *f, lp_reject *rej) {
  lp__node n = lp__node_get(obj, "value_usd");
  int t = lp__node_type(n);
  f->has_value = 0;
  f->value = 0;
  if (t == LP__N_ABSENT || t == LP__N_NULL) return LP_OK;
  if (t != LP__N_INT && t != LP__N_REAL && t != LP__N_BIGUINT)
    return reject(rej, "bad_field", "value_usd must be a number, not %s", type_name(t));
  double v = t == LP__N_BIGUINT ? (double)n.m->via.u64 : lp__node_number(n);
  if (!isfinite(v) || v < 0) return reject(rej, "bad_field", "value_usd must be a finite number >= 0");
  f->value = v;
  f->has_value = 1;
  return LP_OK;
}

static int outcome_fields_read(lp__node obj, outcome_fields *f, lp_reject *rej) {
  int rc, t = lp__node_type(obj);
  lp_str dom;
  if (t != LP__N_OBJECT) return reject(rej, "bad_field", "an outcome must be an object, not %s", type_name(t));
  if ((rc = check_id(obj, &f->id, rej)) != LP_OK) return rc;
  if ((rc = check_ts(obj, &f->ts, rej)) != LP_OK) return rc;
  if ((rc = get_str(obj, "domain", "domain", 1, 1, SIZE_MAX, &dom, rej)) != LP_OK) return rc;
  rc = lp_domain_canonicalize_field(dom.ptr, dom.len, "domain", f->domain, sizeof(f->domain), &f->domain_len, rej);
  if (rc != LP_OK) return rc;
  if ((rc = get_enum(obj, "event", event_names, LP_EVENT__COUNT, &f->event, rej)) != LP_OK) return rc;
  if ((rc = get_str(obj, "query_id", "query_id", 0, 0, QUERY_ID_MAX, &f->query_id, rej)) != LP_OK) return rc;
  if ((rc = get_str(obj, "product", "product", 0, 0, PRODUCT_MAX, &f->product, rej)) != LP_OK) return rc;
  return check_value(obj, f, rej);
}

static int outcome_decode(lp__node obj, const lp_ingest_rules *r, int64_t now_ms, lp_outcome **out,
                          lp_reject *rej) {
  outcome_fields f;
  int rc;
  *out = NULL;
  rej->code = NULL;
  rej->message[0] = '\0';
  if ((rc = outcome_fields_read(obj, &f, rej)) != LP_OK) return rc;
  if (is_future(f.ts, now_ms, r->max_future_ms)) return reject_future(rej, f.ts, now_ms, r->max_future_ms);
  if (lp_domain_set_contains(r->b2c, f.domain, f.domain_len))
    return reject(rej, "b2c_domain", "domain %s is a free-mail or disposable-mail domain, not a business", f.domain);
  if (pii_in(&f.product)) return reject(rej, "pii", "product holds a personal e-mail address");
  size_t need = sizeof(lp_outcome) + str_need(&f.id) + f.domain_len + 1 + str_need(&f.query_id) +
                str_need(&f.product);
  lp_outcome *o = lp_malloc(need);
  if (!o) return LP_ENOMEM;
  char *p = (char *)(o + 1);
  memset(o, 0, sizeof(*o));
  o->id = put(&p, f.id.ptr, f.id.len);
  o->ts_ms = f.ts;
  o->domain = put(&p, f.domain, f.domain_len);
  o->event = f.event;
  o->query_id = put(&p, f.query_id.ptr, f.query_id.len);
  o->product = put(&p, f.product.ptr, f.product.len);
  o->value_usd = f.value;
  o->has_value = f.has_value;
  o->domain_hash = XXH3_64bits(o->domain.ptr, o->domain.len);
  o->shard = shard_of(&o->domain, r);
  o->arrival_ms = now_ms;
  *out = o;
  return LP_OK;
}

int lp_outcome_from_json(const json_t *obj, const lp_ingest_rules *r, int64_t now_ms, lp_outcome **out,
                         lp_reject *rej) {
  lp__node n = { obj, NULL };
  if (!obj) {
    *out = NULL;
    return reject(rej, "bad_json", "the item is not valid JSON");
  }
  return outcome_decode(n, r, now_ms, out, rej);
}

int lp_outcome_from_msgpack(const msgpack_object *obj, const lp_ingest_rules *r, int64_t now_ms,
                            lp_outcome **out, lp_reject *rej) {
  lp__node n = { NULL, obj };
  if (!obj) {
    *out = NULL;
    return reject(rej, "bad_json", "the item is not valid msgpack");
  }
  return outcome_decode(n, r, now_ms, out, rej);
}
