/*
 * config.h: the one INI file (config/leadpoet.conf), read with inih.
 *
 * Every key is declared once, in the tables of config_keys.c (type, default, bounds, description, offset
 * into lp_config); those tables also print the reference (`leadpoet check-config --help`). Order of
 * precedence, lowest first: the declared default, the file, the environment. Every key is overridable by
 * LEADPOET_<SECTION>_<KEY> (upper-case, '.' and '-' as '_'; LEADPOET_STAGE_<NAME>_<KEY> for
 * [stage.<name>]); the seed's names KAFKA_BOOTSTRAP_BROKERS, REDIS_ENDPOINT, OPENAI_API_KEY, PDL_API_KEY,
 * CLEARBIT_API_KEY and LEADPOET_LISTEN are honoured too (LEADPOET_<SECTION>_<KEY> wins when both are set).
 * A LEADPOET_<SECTION>_* name under a core section that names no key is an error (a typo would otherwise be
 * ignored); other LEADPOET_* names (LEADPOET_PEERS, scripts' own) are left alone. Every one of these names
 * also has a <NAME>_FILE form (OPENAI_API_KEY_FILE, REDIS_ENDPOINT_FILE, LEADPOET_KAFKA_PROPERTIES_FILE, ...):
 * the value is the content of that file with its trailing line ends stripped, for Kubernetes Secret mounts;
 * a file that cannot be read fails the load, and setting both NAME and NAME_FILE is an error.
 *
 * Errors are loud: an unknown section or key, a wrong type or a value out of bounds fails the load with
 * "FILE:LINE: [section] key: why" in errstr (or "env NAME: why"). The caller exits 2.
 *
 * Stage sections: [stage.<name>] are kept raw at load time (the stages are not known yet) and parsed by
 * lp_config_stage_parse with the stage's own lp_conf_key table once it is loaded; a section of a stage
 * that is not loaded is an error reported by lp_config_check_stage_sections.
 *
 * Threads: load and parse on the main thread before the workers start; read-only afterwards.
 */
#ifndef LP_CONFIG_H
#define LP_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "base/buf.h"
#include "leadpoet/stage.h"

typedef struct lp_config {
  struct {
    char *listen;               /* "127.0.0.1:8080" */
    int64_t workers;            /* 0 = one per core */
    int64_t shards;             /* power of two */
    int64_t ring_capacity;      /* messages per ring, power of two */
    int64_t tick_interval_ms;
    int64_t shutdown_timeout_ms;
    char *state_dir;            /* "" = no snapshot files */
    char *data_dir;             /* where config/data lives; "" = next to the binary's source tree */
    int64_t max_memory;         /* bytes; 0 = no ceiling */
    char *peers;                /* "host:port,..." of the other instances; "" = none (peers.c) */
    int64_t peer_timeout_ms;    /* a peer's answer to a scattered query is waited for at most this long */
    int64_t peer_refresh_ms;    /* names in peers are resolved again this often */
  } server;
  struct {
    int64_t max_header_bytes;
    int64_t max_body_bytes;
    int64_t header_timeout_ms;
    int64_t body_timeout_ms;
    int64_t idle_timeout_ms;
    int64_t write_timeout_ms;
    int64_t max_connections;
    int64_t max_pipelined;
    int64_t max_output_bytes;
    int64_t backlog;
    int api_keys_required;      /* start-up fails when no API key is configured */
    char *api_keys;             /* "name:sha256hex,..."; "" and no file = API keys off */
    char *api_keys_file;        /* a file of the same entries, one a line; "" = none */
    double rate_limit;          /* requests per second per key (token bucket refill) */
    int64_t rate_burst;         /* the bucket's size */
    double key_daily_budget_usd; /* what a key's queries may cost per UTC day unless its entry says; 0 = none */
  } http;
  struct {
    int64_t max_future_ms;      /* ts more than this ahead of now: future_ts */
    int64_t max_batch;          /* snippets per request */
    int64_t dedupe_capacity;    /* (miner, id) remembered per shard, at least */
    int64_t evidence_per_lead;  /* latest evidence snippets kept per lead */
    int64_t max_miners;         /* miners tracked by name; the rest are counted together */
  } ingest;
  struct {
    char *bootstrap_brokers;    /* "" = embedded mock cluster */
    char *group_id;
    char *mode;                 /* auto|embedded|external|off */
    char *properties;           /* "key=value;..." librdkafka properties */
    int64_t apply_timeout_ms;   /* HTTP ingest's wait for application */
    int64_t ready_max_lag;      /* /readyz: records behind at most, over the owned partitions */
  } kafka;
  struct {
    char *endpoint;             /* host:port; "" = none */
    int64_t connect_timeout_ms; /* resolve + connect + AUTH + SELECT */
    int64_t command_timeout_ms; /* a reply's bound */
    int64_t backoff_min_ms;     /* first reconnect delay */
    int64_t backoff_max_ms;     /* the cap of the reconnect delay */
  } redis;
  struct {
    int64_t interval_ms;        /* aligned checkpoints to Redis, one per interval */
    int64_t max_deltas;         /* deltas on a full snapshot before the next full */
    int64_t align_timeout_ms;   /* the longest a checkpoint waits for records in flight */
    int64_t max_backlog;        /* applied records not yet in a checkpoint before ingest pauses */
    char *global_name;          /* the Redis hash tag of this instance's global state */
  } checkpoint;
  struct {
    char *openai_api_key;
    char *pdl_api_key;
    char *clearbit_api_key;
  } secrets;
  struct {
    char *level;                /* error|warn|info|debug */
  } log;
  struct {
    int64_t max_series;         /* per family; beyond it, one {overflow="true"} series */
  } metrics;
  struct {
    char *order;                /* comma-separated stage names, built-in or plugin */
    char *plugins;              /* comma-separated .so paths */
    int64_t quarantine_after;   /* consecutive stage errors on a shard before it is skipped there */
  } stages;

  struct {
    double k1, b;               /* BM25 */
    char *idf;                  /* "robertson" or "lucene" */
    double min_normlen;         /* BM25 length clamp (Xapian's min_normlen) */
    int64_t retention_ms;       /* evidence older than this (event time) leaves the index */
    int64_t age_half_life_ms;   /* a term's weight in the index halves per this age of its evidence; 0 = none */
    int64_t expire_per_tick;    /* leads whose stale terms are expired per shard per tick */
    int64_t merge_per_tick;     /* index merge work per shard per tick (lp_index_step budget) */
  } index;
  struct {
    double w_text, w_recency, w_fit, w_churn, w_miners, w_reputation;  /* model v0 weights */
    double text_saturation;     /* bm25 / (bm25 + this) */
    int64_t recency_half_life_ms;
    int64_t churn_window_ms;    /* a removal this recent is a buying trigger */
    int64_t candidates;         /* per worker, from the index, before the model re-scores them */
    char *model;                /* learned model file; "" = v0 */
    char *train_log;            /* training log (JSON Lines); "" = off */
    int64_t train_log_max_bytes;  /* rotated to <file>.1 past this */
    char *variants;             /* A/B test: "[NAME=]PATH:SHARE,..." (model.c); "" = off */
    int64_t experiment_answers;   /* answers remembered for crediting outcomes to a variant */
    int64_t experiment_bytes;  /* and the bytes they may take */
  } scoring;
  struct {
    double default_max_cost_usd;
    double instance_usd_per_hour;  /* the price of this machine, for the cost of a query */
    int64_t max_in_flight;      /* queries scattered and not answered; one more answers 503; 0 = no bound */
    int64_t queue_target_ms;    /* CoDel target of a query's wait in a worker ring; 0 = rule off */
    int64_t queue_interval_ms;  /* CoDel interval: the wait stays over the target this long before shedding */
  } query;
  struct {                      /* firmographic enrichment (core/server/enrich.c) */
    char *provider;             /* auto|pdl|clearbit */
    char *base_url;             /* http:// of the vendor or its egress proxy; "" = unset */
    double price_usd_per_call;
    double daily_budget_usd;    /* per UTC day */
    int64_t max_per_query;      /* calls one query may start */
    int64_t wait_ms;            /* a query's wait for the vendor */
    int64_t timeout_ms;         /* one call's deadline */
    int64_t retries;
    int64_t backoff_ms;
    int64_t cache_ttl_ms, negative_ttl_ms;
    int64_t cache_entries;
    int64_t max_response;       /* bytes */
    int64_t breaker_window, breaker_min_calls;
    double breaker_threshold;
    int64_t breaker_cooldown_ms;
  } enrich;
  struct {                      /* standing queries and webhooks (core/server/watch*.c) */
    int64_t max_watches;        /* 0 = off */
    int64_t timeout_ms;         /* one delivery's deadline */
    int64_t max_attempts;       /* before the dead letter */
    int64_t backoff_ms;         /* doubled per attempt, jittered */
    int64_t coalesce_ms;        /* touched leads are re-scored this often */
    int64_t dlq_size;           /* dead letters kept per watch */
  } watch;

  /* private: raw [stage.*] sections, the file name, allocations */
  void *priv;
} lp_config;

/* Fills c with the declared defaults, then the file (NULL = embedded defaults only), then the
 * environment. c is overwritten (free a loaded one first). On error returns LP_ECONFIG with
 * "FILE:LINE: [section] key: why", "env NAME: why" or "FILE: cannot open: why" in errstr; c must still be
 * freed. The strings of c belong to c until lp_config_free. Main thread. */
int lp_config_load(lp_config *c, const char *path, char *errstr, size_t errstr_size);
/* The same from a string (tests, embedded files), environment included; name is used in messages. */
int lp_config_load_string(lp_config *c, const char *text, const char *name, char *errstr, size_t errstr_size);
/* Frees every string of c, the raw stage sections and the structs lp_config_stage_parse returned, and
 * zeroes c. Safe on a zeroed or partly loaded config. Main thread, after the workers stopped. */
void lp_config_free(lp_config *c);

/* Parses [stage.<name>] (defaults, file, env LEADPOET_STAGE_<NAME>_<KEY>) into a zeroed struct of
 * conf_size bytes allocated here (freed by lp_config_free, STRING fields included; *out stays valid until
 * then). keys may be NULL (no keys allowed). Errors as for lp_config_load, with the line of the
 * [stage.<name>] entry; on error *out is NULL. Main thread. */
int lp_config_stage_parse(lp_config *c, const char *stage, const lp_conf_key *keys, size_t conf_size,
                          void **out, char *errstr, size_t errstr_size);
/* Fails with LP_ECONFIG ("FILE:LINE: [stage.X]: no stage named X is loaded ...") if a [stage.X] section
 * names a stage not in loaded[] (n names). Main thread. */
int lp_config_check_stage_sections(const lp_config *c, const char *const *loaded, size_t n, char *errstr,
                                   size_t errstr_size);

/* Prints every core key as an aligned text table: section, key, type, default, bounds, env name(s),
 * description. Any thread. */
void lp_config_print_reference(FILE *out);
/* Prints a stage's table in the same format; section is "stage.<name>". Any thread. */
void lp_config_print_keys(FILE *out, const char *section, const lp_conf_key *keys);

/* Helpers shared with the stage tables: parse one value of a type (with suffixes), check bounds.
 * dst points to the field (int64_t, double, int or char *). On success a STRING replaces *(char **)dst,
 * which must be NULL or lp_malloc'd (the old string is freed; the caller owns the new one). On failure dst
 * is untouched and why says what is wrong. Any thread. */
int lp_config_parse_value(const lp_conf_key *k, const char *value, void *dst, char *why, size_t why_size);

/* Appends the effective configuration to out as INI text that lp_config_load reads back: every core key
 * with its value (secrets as "***" when set, "" when not; the password of a redis:// endpoint and the
 * values of kafka.properties entries named like the below as "***"), then the [stage.*] sections as written
 * in the file (values of keys named like *key*, *secret*, *password*, *token* masked). For `leadpoet
 * check-config` and /v1/status. Returns 0 or LP_ENOMEM. Any thread, while c is not being loaded or freed. */
int lp_config_dump(const lp_config *c, lp_buf *out);

/* Splits server.listen ("HOST:PORT", "[IPv6]:PORT") into host (without brackets) and port (1..65535).
 * Returns 0, or LP_EINVAL with why (may be NULL) filled. Any thread. */
int lp_config_split_listen(const char *listen, char *host, size_t host_size, int *port, char *why,
                           size_t why_size);

/* API keys (core/server/auth.c): entries "name:HEX" or "name:HEX:USD" where HEX is the SHA-256 of the key as
 * 64 hex digits, name is 1..64 of [A-Za-z0-9._-] and USD (0..1000000) the key's own daily budget (else
 * http.key_daily_budget_usd); separated by ',' or new lines, blanks around them ignored, and in a file a '#'
 * starts a comment to the end of the line. fn gets budget_usd -1 when the entry has none. */
typedef int (*lp_config_api_key_fn)(const char *name, size_t name_len, const uint8_t hash[32], double budget_usd,
                                    void *ud);
/* Calls fn for every entry of text (origin names it in messages). Returns 0, LP_EINVAL with why for a bad
 * entry, or what fn returned when not 0. Any thread. */
int lp_config_api_keys_parse(const char *text, const char *origin, lp_config_api_key_fn fn, void *ud, char *why,
                             size_t why_size);
/* The entries of http.api_keys, then those of http.api_keys_file (read now). *n gets the count (0 = API keys
 * off). fn may be NULL to only validate and count. Returns as lp_config_api_keys_parse, or LP_EIO when the
 * file cannot be read. Main thread (reads a file). */
int lp_config_api_keys_each(const lp_config *c, lp_config_api_key_fn fn, void *ud, size_t *n, char *why,
                            size_t why_size);

#endif
