/*
 * ingest.h: the snippet / outcome ingest stage (contract sections 1 and 2).
 *
 * Two halves:
 *  - the decoder/validator, called by the core on the reactor thread (not through the stage ABI):
 *    lp_ingest_split_body cuts a request body into items, lp_snippet_from_json/_msgpack and
 *    lp_outcome_from_json/_msgpack turn one item into a validated lp_snippet / lp_outcome or a rejection
 *    with its contract code;
 *  - the built-in stage "ingest" (lp_stage_ingest_entry), run on shard workers, that drops duplicates:
 *    (miner, id) for snippets, id for outcomes, in bounded memory.
 *
 * Order of the checks of a snippet (the first failing one wins, so a client always gets one stable reason):
 *   1. shape and types, field by field, in this order: the item is an object, id, miner, ts, lead (object),
 *      lead.domain (string, then canonical hostname), lead.name, lead.industry, lead.role, lead.employees,
 *      lead.country, kind, text, url, tech_added, tech_removed                                -> bad_field
 *   2. ts more than max_future_ms ahead of now_ms                                            -> future_ts
 *   3. lead.domain or a parent domain is a free-mail or disposable-mail domain               -> b2c_domain
 *   4. a personal e-mail address in text, url, lead.name, lead.role, lead.industry, tech_*   -> pii
 * Outcomes: the item is an object, id, ts, domain, event, query_id, product, value_usd (bad_field), then
 * future_ts, then b2c_domain.
 * A JSON null (msgpack nil) in an optional field means absent; in a required field it is a wrong type.
 * Every string must be valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF) without NUL
 * bytes. Unknown fields are ignored. Where a key appears twice in one object the last one counts.
 *
 * Threads: everything here except the stage callbacks is pure (no global mutable state) and may be
 * called from any thread; an lp_domain_set is immutable after it is built and may be shared.
 */
#ifndef LP_STAGES_INGEST_H
#define LP_STAGES_INGEST_H

#include <jansson.h>
#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "leadpoet/stage.h"

/* Why an item was refused. code is a static contract code ("bad_field", "b2c_domain", "pii",
 * "future_ts", "bad_json", "bad_request"); message is NUL-terminated and names the field. */
typedef struct lp_reject {
  const char *code;
  char message[200];
} lp_reject;

/* ---- Domains ------------------------------------------------------------------------------------ */

/* Free-mail + disposable-mail domains, as a set of XXH3-64 hashes of canonical domains. Immutable after
 * it is built. */
typedef struct lp_domain_set lp_domain_set;

/* Builds the set from the lists compiled into the binary (config/data/free_email_domains.txt and
 * config/data/disposable_email_domains.txt). Each line is canonicalised
 * like an incoming lead.domain; lines that are not valid hostnames are skipped. *out is owned by the
 * caller (lp_domain_set_free). Main thread at start; takes a few tens of ms. LP_ENOMEM on failure. */
int lp_domain_set_builtin(lp_domain_set **out);
/* Builds a set from a text of canonical domains, one per line (blank lines and lines starting with '#'
 * are skipped, others are canonicalised). For tests and for operator-supplied lists. */
int lp_domain_set_from_text(const char *text, size_t len, lp_domain_set **out);
void lp_domain_set_free(lp_domain_set *s);
/* 1 if the canonical domain (n bytes) or any parent domain of it ("a.b.gmail.com" -> "b.gmail.com",
 * "gmail.com") is in the set, else 0. A NULL set contains nothing. Any thread. */
int lp_domain_set_contains(const lp_domain_set *s, const char *domain, size_t n);
size_t lp_domain_set_size(const lp_domain_set *s);

typedef struct lp_ingest_rules {
  int64_t max_future_ms;     /* ts more than this ahead of now_ms -> future_ts (contract: 10 min) */
  uint32_t shards;           /* power of two */
  const lp_domain_set *b2c;  /* may be NULL: no b2c_domain check */
} lp_ingest_rules;

/* Longest canonical domain (RFC 1035 limit) and the buffer that always holds one plus the NUL. */
#define LP_DOMAIN_MAX 253
#define LP_DOMAIN_BUF (LP_DOMAIN_MAX + 1)

/* Canonical domain: lower-case, no scheme, no userinfo, no port, no path/query/fragment, no "www.", no
 * trailing dot, IDN converted to punycode (NFKC + case fold via utf8proc, then RFC 3492), valid hostname
 * (labels 1..63 of [a-z0-9-] not starting/ending with '-', total <= 253, at least one dot, TLD not
 * all-numeric, not an IP address). Returns 0 with out NUL-terminated (cap >= LP_DOMAIN_BUF always
 * suffices), or LP_EINVAL with rej->code = "bad_field" and a message naming the field "domain". */
int lp_domain_canonicalize(const char *in, size_t n, char *out, size_t cap, size_t *out_len, lp_reject *rej);
/* The same, with the field named in the message ("lead.domain"). */
int lp_domain_canonicalize_field(const char *in, size_t n, const char *field, char *out, size_t cap,
                                 size_t *out_len, lp_reject *rej);

/* RFC 3492 punycode of n code points (without the "xn--" prefix). Basic code points are copied as they
 * are. Returns 0 with out NUL-terminated, LP_ERANGE if it does not fit in cap or overflows, LP_EINVAL
 * for a code point above U+10FFFF. Any thread. */
int lp_punycode_encode(const uint32_t *cp, size_t n, char *out, size_t cap, size_t *out_len);

/* ---- Text checks -------------------------------------------------------------------------------- */

/* 1 if s holds an e-mail address of a person: an addr-spec local@domain.tld whose local part (before any
 * "+tag") is not a role mailbox (info, sales, support, noreply, ...); 0 otherwise. Any thread. */
int lp_pii_has_personal_email(const char *s, size_t n);

/* 1 when every byte of s[0..n) is in the miner alphabet [A-Za-z0-9._-] (contract section 1; the length
 * rule, 1..64 bytes, is the caller's). Any thread. */
int lp_miner_chars_ok(const char *s, size_t n);

/* 1 if s is valid UTF-8 (shortest forms only, no surrogates, <= U+10FFFF) with no NUL byte. */
int lp_utf8_valid(const char *s, size_t n);

/* ---- Decoders ----------------------------------------------------------------------------------- */

/* Decode + validate one item. On success *out is ONE lp_malloc'd block holding the lp_snippet and all its
 * strings (each also NUL-terminated) and arrays: the caller owns it and frees it with lp_free. domain is
 * canonical, country upper-cased, domain_hash = XXH3_64bits(domain), shard = lp_partition_of(domain, len, shards)
 * (Kafka's default partitioner, core/worker/worker.h),
 * arrival_ms = now_ms. On rejection returns LP_EINVAL, fills rej and leaves *out NULL; LP_ENOMEM when the
 * allocation fails. obj is only read. Any thread. */
int lp_snippet_from_json(const json_t *obj, const lp_ingest_rules *r, int64_t now_ms, lp_snippet **out,
                         lp_reject *rej);
int lp_snippet_from_msgpack(const msgpack_object *obj, const lp_ingest_rules *r, int64_t now_ms,
                            lp_snippet **out, lp_reject *rej);
/* The same for outcome events (contract section 2). */
int lp_outcome_from_json(const json_t *obj, const lp_ingest_rules *r, int64_t now_ms, lp_outcome **out,
                         lp_reject *rej);
int lp_outcome_from_msgpack(const msgpack_object *obj, const lp_ingest_rules *r, int64_t now_ms,
                            lp_outcome **out, lp_reject *rej);

const char *lp_snippet_kind_name(uint32_t kind);   /* "hiring" ...; "unknown" out of range */
const char *lp_outcome_event_name(uint32_t event); /* "delivered" ...; "unknown" out of range */
/* 1 for the good outcome events (delivered, opened, replied, meeting, purchased), else 0. */
int lp_outcome_event_is_good(uint32_t event);

/* ---- Bodies ------------------------------------------------------------------------------------- */

/* Checks that buf starts with one complete, well-formed msgpack object whose declared array/map/str sizes
 * fit in the bytes present, so that msgpack_unpack_next cannot be made to allocate more than a small
 * multiple of len. *used receives its size in bytes. Returns 0, or LP_EINVAL (malformed or truncated).
 * Call it before msgpack_unpack_next on untrusted bytes (Kafka values too). Any thread. */
int lp_msgpack_check(const char *buf, size_t len, size_t *used);

/* Called once per item, in order. index counts items from 0 (for NDJSON: non-empty lines). Exactly one of
 * json / mp is non-NULL, except for an NDJSON line that does not parse: both NULL and item_err set
 * (code "bad_json"). The values are owned by the splitter and valid only during the call. Return 0 to go
 * on; any other value stops the split and is returned by lp_ingest_split_body. */
typedef int (*lp_ingest_item_fn)(void *ud, size_t index, const json_t *json, const msgpack_object *mp,
                                 const lp_reject *item_err);

/* Splits a request body into items by media type (parameters such as "; charset=utf-8" and case are
 * ignored) and calls fn for each:
 *  "application/json": a JSON array (or a single object = one item); anything else -> LP_EINVAL with
 *     whole->code "bad_json" (the caller answers 400);
 *  "application/x-ndjson", "application/jsonl": one JSON value per non-empty line; a bad line is an item
 *     with item_err "bad_json" (the others go on);
 *  "application/msgpack", "application/x-msgpack": one msgpack array (or one map), nothing after it; else
 *     LP_EINVAL with "bad_json";
 *  anything else (or NULL): LP_ENOENT (the caller answers 415).
 * More than max_items items: LP_ERANGE with whole->code "bad_request", before fn is called at all.
 * Any thread; the body is only read. */
int lp_ingest_split_body(const char *body, size_t len, const char *media_type, size_t max_items,
                         lp_ingest_item_fn fn, void *ud, lp_reject *whole);

/* ---- The stage ---------------------------------------------------------------------------------- */

/* [stage.ingest] keys: dedupe_capacity (INT, default 262144, 1024..67108864): fingerprints each shard
 * remembers at least. Memory per shard is fixed: about 2 x 8 x 4/3 x dedupe_capacity bytes. */
typedef struct lp_ingest_conf {
  int64_t dedupe_capacity;
} lp_ingest_conf;

/* The built-in stage "ingest" (registered with lp_register_stage in stages/ingest/CMakeLists.txt). */
const lp_stage_desc *lp_stage_ingest_entry(void);

/* The fingerprints the stage keeps: XXH3-64 of miner '\0' id for snippets, of "o\0" id for outcomes. */
uint64_t lp_ingest_snippet_key(lp_str miner, lp_str id);
uint64_t lp_ingest_outcome_key(lp_str id);

#endif /* LP_STAGES_INGEST_H */
