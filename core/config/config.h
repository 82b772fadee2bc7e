/*
 * config.h: the one INI file (config/leadpoet.conf), read with inih.
 *
 * Every key is declared once, in the tables of config_keys.c (type, default, bounds, description, offset
 * into lp_config); those tables also print the reference (`leadpoet check-config --help`). Order of
 * precedence, lowest first: the declared default, the file, the environment. Every key is overridable by
 * LEADPOET_<SECTION>_<KEY> (upper-case, '.' and '-' as '_'; LEADPOET_STAGE_<NAME>_<KEY> for
 * [stage.<name>]); the seed's names KAFKA_BOOTSTRAP_BROKERS, REDIS_ENDPOINT, OPENAI_API_KEY, PDL_API_KEY,
 * CLEARBIT_API_KEY and LEADPOET_LISTEN are honoured too.
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
  } http;
  struct {
    int64_t max_future_ms;      /* ts more than this ahead of now: future_ts */
    int64_t max_batch;          /* snippets per request */
    int64_t dedupe_capacity;    /* (miner, id) remembered per shard, at least */
    int64_t evidence_per_lead;  /* latest evidence snippets kept per lead */
  } ingest;
  struct {
    char *bootstrap_brokers;    /* "" = embedded mock cluster */
    char *group_id;
  } kafka;
  struct {
    char *endpoint;             /* host:port; "" = none */
  } redis;
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
  } stages;

  /* private: raw [stage.*] sections, the file name, allocations */
  void *priv;
} lp_config;

/* Fills c with the declared defaults, then the file (NULL = embedded defaults only), then the
 * environment. On error returns LP_ECONFIG with "FILE:LINE: ..." in errstr; c must still be freed. */
int lp_config_load(lp_config *c, const char *path, char *errstr, size_t errstr_size);
/* The same from a string (tests); name is used in messages. */
int lp_config_load_string(lp_config *c, const char *text, const char *name, char *errstr, size_t errstr_size);
void lp_config_free(lp_config *c);

/* Parses [stage.<name>] (defaults, file, env LEADPOET_STAGE_<NAME>_<KEY>) into a zeroed struct of
 * conf_size bytes allocated here (freed by lp_config_free). keys may be NULL (no keys allowed). */
int lp_config_stage_parse(lp_config *c, const char *stage, const lp_conf_key *keys, size_t conf_size,
                          void **out, char *errstr, size_t errstr_size);
/* Fails if a [stage.X] section names a stage not in loaded[] (n names). */
int lp_config_check_stage_sections(const lp_config *c, const char *const *loaded, size_t n, char *errstr,
                                   size_t errstr_size);

/* Prints every core key: section, key, type, default, bounds, env name, description. */
void lp_config_print_reference(FILE *out);
/* Prints a stage's table in the same format. */
void lp_config_print_keys(FILE *out, const char *section, const lp_conf_key *keys);

/* Helpers shared with the stage tables: parse one value of a type (with suffixes), check bounds. */
int lp_config_parse_value(const lp_conf_key *k, const char *value, void *dst, char *why, size_t why_size);

#endif
