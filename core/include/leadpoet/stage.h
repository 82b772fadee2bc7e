/*
 * leadpoet/stage.h: the stage ABI. The one header a plugin author includes.
 *
 * A stage is a descriptor (lp_stage_desc) of callbacks. Built-in stages and .so plugins use the same
 * descriptor; the config lists stages in order ([stages] order = ingest, example, ...).
 *
 * A plugin exports exactly one symbol, LP_STAGE_ENTRY_SYMBOL, a function returning its descriptor.
 * It reaches the core only through the lp_host_api table handed to init(), never by linking against core
 * symbols. The host checks abi_major (must be equal), abi_minor (the plugin's must be <= the host's) and
 * struct_size (must be >= the size of the ABI 1.0 descriptor) before touching anything else, and refuses
 * the plugin at start with both versions in the message.
 *
 * Threads. init() and destroy() run on the main thread before the workers start and after they stop.
 * Everything that takes a shard state (shard_open, on_snippet, on_outcome, on_tick, on_query, save, load,
 * shard_close) runs on the worker thread that owns that shard and on no other: shard state needs no locks.
 * The stage-wide state returned by init() is shared by all workers and must be read-only after init().
 *
 * Ownership. Snippets, outcomes and queries passed to a callback are owned by the host and valid only during
 * the call: copy what you keep. A stage allocates through host->malloc/free so that its memory is counted.
 *
 * Errors. A callback returns LP_STAGE_CONTINUE (0) to pass the event on, LP_STAGE_DROP to drop it (with
 * verdict->code set to a short static reason such as "blocked_domain"; left NULL, the stage's name is the
 * code), or a negative LP_E* code when the stage itself failed. Any other value counts as a failure. A
 * stage that fails 100 times in a row on a shard is quarantined there (skipped, counted in
 * leadpoet_stage_errors_total{stage}, logged once) instead of taking the processor down; its state is then
 * not saved. on_query's return value only reports failure: it cannot drop a query.
 *
 * Versions. Within ABI major 1, new descriptor fields take the place of reserved[] slots, so struct_size
 * stays the same: a host reads a 1.x field only when the descriptor's abi_minor says it exists. A host
 * refuses a descriptor whose abi_minor is newer than its own.
 *
 * Required callbacks: init and on_snippet; save and load come as a pair or not at all; every other
 * callback may be NULL. Without shard_open, the per-shard callbacks receive the stage-wide state.
 *
 * History. 1.1 added the global callbacks (on_admit, on_admit_outcome, save_global, load_global,
 * describe_miner) and host->miner_reputation; 1.2 added on_rerank (asynchronous, on the reactor) and
 * host->config_get.
 */
#ifndef LEADPOET_STAGE_H
#define LEADPOET_STAGE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "leadpoet/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LP_STAGE_ABI_MAJOR 1
#define LP_STAGE_ABI_MINOR 3

/* The symbol every plugin exports: `const lp_stage_desc *lp_stage_entry(void)`. */
#define LP_STAGE_ENTRY_SYMBOL "lp_stage_entry"

/* ---- Events ------------------------------------------------------------------------------------- */

enum lp_snippet_kind {
  LP_KIND_HIRING = 0,
  LP_KIND_FUNDING,
  LP_KIND_TECH,
  LP_KIND_NEWS,
  LP_KIND_REVIEW,
  LP_KIND_EVENT,
  LP_KIND_WEB,
  LP_KIND__COUNT
};

enum lp_outcome_event {
  LP_EVENT_DELIVERED = 0,
  LP_EVENT_OPENED,
  LP_EVENT_REPLIED,
  LP_EVENT_MEETING,
  LP_EVENT_PURCHASED,
  LP_EVENT_BOUNCED,
  LP_EVENT_INVALID,
  LP_EVENT_SPAM,
  LP_EVENT__COUNT
};

/* A validated snippet (contract section 1). Optional strings have len 0 when absent. */
typedef struct lp_snippet {
  lp_str id;
  lp_str miner;
  int64_t ts_ms;             /* event time */
  lp_str domain;             /* canonical: lower-case, no scheme, no www., no path, ASCII (punycode) */
  lp_str name;
  lp_str industry;
  lp_str country;            /* ISO 3166-1 alpha-2, upper-case */
  lp_str role;
  int64_t employees;         /* 0 when absent */
  uint32_t kind;             /* enum lp_snippet_kind */
  lp_str text;
  lp_str url;
  const lp_str *tech_added;
  uint32_t n_tech_added;
  const lp_str *tech_removed;
  uint32_t n_tech_removed;
  uint64_t domain_hash;      /* stable hash of domain (XXH3-64, seed 0) */
  uint32_t shard;            /* Kafka partition of domain: (murmur2(domain) & 0x7fffffff) % shards */
  int64_t arrival_ms;        /* wall clock when the reactor accepted it */
} lp_snippet;

/* A validated outcome event (contract section 2). */
typedef struct lp_outcome {
  lp_str id;
  int64_t ts_ms;
  lp_str domain;
  uint32_t event;            /* enum lp_outcome_event */
  lp_str query_id;
  lp_str product;
  double value_usd;
  int has_value;
  uint64_t domain_hash;
  uint32_t shard;
  int64_t arrival_ms;
} lp_outcome;

/* Why a stage dropped an event: code is a static string (a contract code such as "duplicate" or the
 * stage's own), message is optional detail. */
typedef struct lp_verdict {
  const char *code;
  char message[160];
} lp_verdict;

#define LP_STAGE_CONTINUE 0
#define LP_STAGE_DROP 1

/* A query as a stage sees it. lp_query_out collects what the stage contributes, through the host API. */
typedef struct lp_query {
  lp_str prompt;
  uint32_t k;
  int64_t now_ms;
} lp_query;
typedef struct lp_query_out lp_query_out;

/* A sink for save(): the stage writes its serialised shard state through it, in as many calls as it likes. */
typedef struct lp_writer {
  int (*write)(struct lp_writer *w, const void *data, size_t len);
  void *opaque;
} lp_writer;

/* ---- Re-ranking (ABI 1.2) ------------------------------------------------------------------------ */

/* One candidate of the merged answer, best first. fields holds the members of the lead's JSON object as the
 * answer renders it, WITHOUT the enclosing braces ("domain":...,"name":...,"score":...,"signals":{...},
 * "evidence":[...]; signals and evidence only when the query asked for explain): wrap it in {} to parse. */
typedef struct lp_rerank_cand {
  lp_str domain;
  double score;              /* the model's (GBDT or v0) score */
  lp_str fields;
} lp_rerank_cand;

/* A re-rank request, after the workers' answers are merged and before the answer is rendered. Everything
 * it points to is the host's and stays valid until done() is called (and not after). */
typedef struct lp_rerank_req {
  lp_str query_id;
  lp_str prompt;
  const lp_rerank_cand *cands;
  uint32_t n;                /* the answer's leads, at most the query's k */
  uint32_t k;
  double budget_usd;         /* what the query may still spend on paid calls: max_cost_usd - cost so far */
  int64_t now_ms;
  void *loop;                /* the reactor's uv_loop_t, for the stage's own handles (timers, sockets) */
} lp_rerank_req;

/* What a re-rank produced. status LP_OK: scores[i] replaces cands[i].score for i < n_scores (the host
 * re-sorts the whole answer by score, ties by domain, so a stage that wants its order kept above the rest
 * keeps its scores at or above cands[n_scores].score). Any other status (a negative LP_E* code): the
 * model's order stands, error says why (static or valid during the call). cost_usd and calls count what
 * was paid either way (a call that failed after the provider billed it still costs). */
typedef struct lp_rerank_result {
  int status;
  const double *scores;      /* n_scores values, valid during the done() call only */
  uint32_t n_scores;
  double cost_usd;
  uint32_t calls;            /* paid calls attempted */
  const char *error;
} lp_rerank_result;

/* Called by the stage exactly once per accepted request, on the reactor thread, never from inside
 * on_rerank itself. */
typedef void (*lp_rerank_done_fn)(void *done_ud, const lp_rerank_result *res);

/* on_rerank returns LP_OK (accepted: done will follow), LP_RERANK_SKIP (declined: nothing was spent and
 * done is never called; e.g. no API key, the answer is clear enough, breaker open, the stage's own daily
 * budget spent), LP_RERANK_OVER_BUDGET (ABI 1.3: the answer needs the paid call but one call would cost
 * more than req->budget_usd; nothing was spent, done is never called, and the host answers the query with
 * cost_limit_exceeded instead) or a negative LP_E* code (failed; done is never called). */
#define LP_RERANK_SKIP 1
#define LP_RERANK_OVER_BUDGET 2

/* ---- Configuration ------------------------------------------------------------------------------ */

enum lp_conf_type {
  LP_CONF_INT = 1,      /* int64_t */
  LP_CONF_DOUBLE,       /* double */
  LP_CONF_BOOL,         /* int: true/false/yes/no/on/off/1/0 */
  LP_CONF_STRING,       /* char * owned by the host, NUL-terminated */
  LP_CONF_SIZE,         /* int64_t bytes; accepts suffixes k, m, g (powers of 1024) */
  LP_CONF_DURATION_MS   /* int64_t milliseconds; accepts suffixes ms, s, m, h, d */
};

/* One key of a config section: the stage's table ends with an entry whose key is NULL. The host parses
 * [stage.<name>] into a struct of conf_size bytes at the given offsets, checks types and bounds, reports
 * unknown keys with file and line, and prints the table for `leadpoet check-config --help`. */
typedef struct lp_conf_key {
  const char *key;
  int type;                  /* enum lp_conf_type */
  const char *def;           /* default, as it would be written in the file */
  double min, max;           /* inclusive bounds for numbers; min > max means unbounded; ignored for
                                STRING and BOOL */
  size_t offset;             /* offsetof(your_conf, field) */
  const char *desc;
} lp_conf_key;

/* ---- The host API table ------------------------------------------------------------------------- */

typedef struct lp_counter lp_counter;

typedef struct lp_host_api {
  uint16_t abi_major;
  uint16_t abi_minor;
  uint32_t struct_size;

  /* Logging, one key=value line per call; any thread. The formatted text becomes the line's msg and the
   * host adds stage=<name>. */
  void (*log)(int level, const char *stage, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

  /* Memory, counted by the host; any thread. */
  void *(*malloc)(size_t n);
  void *(*calloc)(size_t count, size_t n);
  void *(*realloc)(void *p, size_t n);
  void (*free)(void *p);

  /* Metrics. counter() registers (or finds) the series leadpoet_stage_<name>_total{stage=...,label=value}
   * and may only be called from init(); counter_add() may be called from any worker thread. */
  lp_counter *(*counter)(const char *stage, const char *name, const char *help, const char *label);
  void (*counter_add)(lp_counter *c, uint64_t n);

  /* Wall clock in ms since the epoch; any thread. Use event time (ts_ms) for anything that must replay. */
  int64_t (*now_ms)(void);

  /* Query contributions, from on_query only: add delta to the lead's score with a named signal, or take
   * the lead (and its sub-domains) out of this query's answer. LP_ENOMEM past the per-query bound. */
  int (*query_boost)(lp_query_out *out, lp_str domain, double delta, const char *signal);
  int (*query_exclude)(lp_query_out *out, lp_str domain);

  /* ABI 1.1. The miner's reputation as the host knows it now: mean in [0, 1] and the 95 % interval (the
   * Beta(1,1) prior, 0.5 in [0.025, 0.975], for a miner never seen). Reactor thread only (on_admit). */
  int (*miner_reputation)(lp_str miner, double *mean, double *low, double *high);

  /* ABI 1.2. The effective value of a core config key ("query", "instance_usd_per_hour"; secrets too:
   * "secrets", "openai_api_key" is the file's value or OPENAI_API_KEY from the environment) as text:
   * strings raw, numbers as written in the file. LP_OK, LP_ENOENT for no such key, LP_ERANGE when out is
   * too small (out holds ""). From init() only (main thread); out is the caller's. */
  int (*config_get)(const char *section, const char *key, char *out, size_t cap);

  void *reserved[14];
} lp_host_api;

/* ---- The descriptor ----------------------------------------------------------------------------- */

typedef struct lp_stage_desc {
  uint16_t abi_major;        /* LP_STAGE_ABI_MAJOR the stage was built with */
  uint16_t abi_minor;        /* LP_STAGE_ABI_MINOR the stage was built with */
  uint32_t struct_size;      /* sizeof(lp_stage_desc) the stage was built with */
  const char *name;          /* [a-z0-9_]+, names the config section [stage.<name>] */
  const char *description;

  const lp_conf_key *conf_keys;  /* may be NULL: no keys */
  size_t conf_size;              /* size of the struct conf_keys fill */

  /* Main thread, once. conf points to the parsed section (valid until destroy). *stage receives the
   * stage-wide state. Return LP_OK or an LP_E* code with errstr filled. */
  int (*init)(const lp_host_api *host, const void *conf, void **stage, char *errstr, size_t errstr_size);
  /* Worker thread of the shard, once per shard owned. */
  int (*shard_open)(void *stage, uint32_t shard, void **shard_state);
  void (*shard_close)(void *stage, void *shard_state);

  int (*on_snippet)(void *shard_state, const lp_snippet *s, lp_verdict *v);
  int (*on_outcome)(void *shard_state, const lp_outcome *o, lp_verdict *v);
  /* Periodically (config key server.tick_interval), for housekeeping in small steps; now_ms is the wall
   * clock. */
  void (*on_tick)(void *shard_state, int64_t now_ms);
  int (*on_query)(void *shard_state, const lp_query *q, lp_query_out *out);

  /* Serialise / restore one shard's state (checkpoints and graceful shutdown). save() writes through w;
   * load() gets exactly the bytes save() wrote, possibly from an older build of the same stage. */
  int (*save)(void *shard_state, lp_writer *w);
  int (*load)(void *shard_state, const void *data, size_t len);

  void (*destroy)(void *stage);

  /* ---- ABI 1.1: global callbacks, read only when abi_minor >= 1 --------------------------------- *
   * They run on the reactor thread, one event at a time, after the event's checks and BEFORE it is routed
   * to its shard: the place for decisions that need every event of a miner or of the whole stream
   * (per-miner rate limits, near-duplicates across miners), which no shard sees. The stage-wide state they
   * change belongs to the reactor: per-shard callbacks must not read it (publish a copy if they need it).
   * on_admit returns like on_snippet: LP_STAGE_CONTINUE, LP_STAGE_DROP with v->code, or an error. */
  int (*on_admit)(void *stage, const lp_snippet *s, lp_verdict *v);
  int (*on_admit_outcome)(void *stage, const lp_outcome *o, lp_verdict *v);
  /* The reactor-side state, saved and restored like a shard's (save_global and load_global as a pair). */
  int (*save_global)(void *stage, lp_writer *w);
  int (*load_global)(void *stage, const void *data, size_t len);
  /* Writes a JSON object about one miner (e.g. its throttle state) through w, or nothing; shown in
   * GET /v1/miners/{id} under the stage's name. Reactor thread. */
  int (*describe_miner)(void *stage, lp_str miner, lp_writer *w);

  /* ---- ABI 1.2: re-ranking, read only when abi_minor >= 2 ------------------------------------------ *
   * Reactor thread, once per query, with the merged answer (see lp_rerank_req). Asynchronous: the stage
   * may start network I/O on req->loop and must return at once; it calls done(done_ud, &result) exactly
   * once later, from the loop. The first loaded stage with on_rerank gets the query; at most one runs.
   * Handles it opened on the loop must be closed (or closing) when done is called or soon after, and all of
   * them by the time the loop ends: destroy() runs after it. */
  int (*on_rerank)(void *stage, const lp_rerank_req *req, lp_rerank_done_fn done, void *done_ud);

  void *reserved[2];         /* zero; for ABI 1.x additions */
} lp_stage_desc;

/* What an ABI 1.0 descriptor holds at least: the host reads no field past this size. 1.x fields replace
 * reserved slots, so every 1.x descriptor has the same size; the host tells them apart by abi_minor. */
#define LP_STAGE_DESC_MIN_SIZE (offsetof(lp_stage_desc, on_admit))

/* Fills the version fields; a plugin writes `static const lp_stage_desc d = { LP_STAGE_DESC_HEADER, ... }`. */
#define LP_STAGE_DESC_HEADER LP_STAGE_ABI_MAJOR, LP_STAGE_ABI_MINOR, (uint32_t)sizeof(lp_stage_desc)

#ifdef __cplusplus
}
#endif
#endif /* LEADPOET_STAGE_H */
