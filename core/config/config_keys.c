/*
 * config_keys.c: every core configuration key, declared once. These tables drive the defaults, the parsing
 * of the file, the environment overrides, the bounds checks, the reference (`leadpoet check-config --help`)
 * and the dump. config/leadpoet.conf must agree with them (tests/config checks it).
 *
 * Bounds are in the key's own units: bytes for sizes, milliseconds for durations.
 */
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "config/config_internal.h"
#include "http/client.h"
#include "server/peers.h"
#include "server/variants.h"

#define KEY(sec, name, type, def, lo, hi, desc) \
  { #name, (type), (def), (lo), (hi), offsetof(lp_config, sec.name), (desc) }
#define KEY_MS(sec, name, def, lo, hi, desc) \
  { #name, LP_CONF_DURATION_MS, (def), (lo), (hi), offsetof(lp_config, sec.name##_ms), (desc) }
#define STR(sec, name, def, desc) \
  { #name, LP_CONF_STRING, (def), 1.0, 0.0, offsetof(lp_config, sec.name), (desc) }
#define END { NULL, 0, NULL, 0, 0, 0, NULL }

#define KiB 1024.0
#define MiB (1024.0 * KiB)
#define GiB (1024.0 * MiB)
#define SECS 1000.0
#define MINS (60.0 * SECS)
#define HOURS (60.0 * MINS)
#define DAYS (24.0 * HOURS)

static const lp_conf_key server_keys[] = {
  STR(server, listen, "127.0.0.1:8080",
      "HOST:PORT (or [IPv6]:PORT) the HTTP server listens on; 0.0.0.0 for every interface"),
  KEY(server, workers, LP_CONF_INT, "0", 0, 256,
      "worker threads that own the shards; 0 = one per CPU core"),
  KEY(server, shards, LP_CONF_INT, "64", 1, 4096,
      "shards the leads are split into by a hash of their domain (a power of two); changing it "
      "re-shards the saved state"),
  KEY(server, ring_capacity, LP_CONF_INT, "4096", 16, 1048576,
      "messages each reactor-to-worker ring holds (a power of two); a full ring answers 503"),
  KEY_MS(server, tick_interval, "100ms", 1, 60 * SECS,
         "how often each stage's on_tick housekeeping runs on every shard"),
  KEY_MS(server, shutdown_timeout, "10s", 0, 10 * MINS,
         "on SIGINT/SIGTERM, how long to drain the rings and save state before exiting anyway"),
  STR(server, state_dir, "",
      "folder for snapshot files of the shards' state; empty = no snapshot files"),
  STR(server, data_dir, "",
      "folder of the shipped data files (domain lists); empty = config/data of the source tree"),
  KEY(server, max_memory, LP_CONF_SIZE, "0", 0, 4096 * GiB,
      "memory ceiling (resident set); near it, Kafka partitions pause and HTTP ingest answers 429 until memory is freed; 0 = no ceiling"),
  STR(server, peers, "",
      "HTTP addresses (host:port,...) of the other instances of the cluster, asked for their local top-k by "
      "POST /v1/leads (scatter-gather); a name stands for every address it resolves to (a Kubernetes headless "
      "service); this instance's own address may be listed (it is recognised and skipped); empty = no peers"),
  KEY_MS(server, peer_timeout, "250ms", 1, 60 * SECS,
         "the longest a query waits for one peer's answer; a peer down or later than this makes the answer "
         "\"partial\": true"),
  KEY_MS(server, peer_refresh, "10s", 100, 1 * HOURS,
         "how often the names in server.peers are resolved again (pods come and go)"),
  END
};

static const lp_conf_key http_keys[] = {
  KEY(http, max_header_bytes, LP_CONF_SIZE, "16k", 1 * KiB, 1 * MiB,
      "largest request line plus headers; larger answers 431"),
  KEY(http, max_body_bytes, LP_CONF_SIZE, "8m", 1 * KiB, 1 * GiB,
      "largest request body (after de-chunking); larger answers 413"),
  KEY_MS(http, header_timeout, "10s", 10, 1 * HOURS,
         "time to receive a request's headers once it started; slower answers 408 and closes"),
  KEY_MS(http, body_timeout, "30s", 10, 1 * HOURS,
         "time to receive a request's body after its headers; slower answers 408 and closes"),
  KEY_MS(http, idle_timeout, "60s", 10, 1 * HOURS,
         "a keep-alive connection with no request in flight for this long is closed"),
  KEY_MS(http, write_timeout, "30s", 10, 1 * HOURS,
         "a client that does not read its response for this long is disconnected"),
  KEY(http, max_connections, LP_CONF_INT, "4096", 1, 1000000,
      "open connections at most; one more is answered 503 and closed"),
  KEY(http, max_pipelined, LP_CONF_INT, "32", 1, 1024,
      "requests of one connection in flight at once; further reads wait for answers"),
  KEY(http, max_output_bytes, LP_CONF_SIZE, "4m", 4 * KiB, 1 * GiB,
      "unsent response bytes per connection before reading from it pauses"),
  KEY(http, backlog, LP_CONF_INT, "511", 1, 65535, "listen(2) backlog of the server socket"),
  KEY(http, api_keys_required, LP_CONF_BOOL, "false", 1.0, 0.0,
      "start-up fails unless api_keys or api_keys_file holds at least one key (the production config sets it)"),
  STR(http, api_keys, "",
      "API keys as comma-separated name:SHA256HEX entries (`leadpoet keyhash KEY` prints one); when any key is "
      "set (here or in api_keys_file), every /v1 route needs Authorization: Bearer KEY, else 401"),
  STR(http, api_keys_file, "", "a file of name:SHA256HEX entries, one a line, '#' comments; empty = none"),
  KEY(http, rate_limit, LP_CONF_DOUBLE, "10", 0.001, 1000000,
      "requests per second each API key may make on average (its token bucket's refill rate)"),
  KEY(http, rate_burst, LP_CONF_INT, "20", 1, 1000000,
      "requests an API key may make at once (its token bucket's size); one more answers 429 with Retry-After"),
  KEY(http, key_daily_budget_usd, LP_CONF_DOUBLE, "0", 0, 1000000,
      "what the queries of one API key may cost per UTC day (the cost.usd_total of its answers), unless its "
      "entry sets its own (name:SHA256HEX:USD); past it POST /v1/leads answers 429 cost_limit_exceeded; 0 = no budget"),
  END
};

static const lp_conf_key ingest_keys[] = {
  KEY_MS(ingest, max_future, "10m", 0, 1 * DAYS,
         "a snippet whose ts is further ahead of the server clock than this is rejected with future_ts"),
  KEY(ingest, max_batch, LP_CONF_INT, "10000", 1, 1000000,
      "snippets or outcomes in one POST at most; larger answers 413"),
  KEY(ingest, dedupe_capacity, LP_CONF_INT, "262144", 1024, 67108864,
      "(miner, id) pairs each shard remembers to drop duplicates; the oldest are forgotten first"),
  KEY(ingest, evidence_per_lead, LP_CONF_INT, "16", 1, 1024,
      "latest evidence snippets kept per lead for explanations and the lead profile"),
  KEY(ingest, max_miners, LP_CONF_INT, "100000", 1, 10000000,
      "miners tracked by name (GET /v1/miners); past it, new miners are counted together as (other)"),
  END
};

static const lp_conf_key kafka_keys[] = {
  STR(kafka, bootstrap_brokers, "",
      "host:port,... of an external Kafka cluster; empty = embedded mode (no broker needed)"),
  STR(kafka, group_id, "leadpoet", "consumer group shared by the instances of one cluster"),
  STR(kafka, mode, "auto",
      "auto (external when bootstrap_brokers is set, else embedded), embedded (an in-process mock cluster), "
      "external (the brokers of bootstrap_brokers) or off (no Kafka: HTTP ingest applies directly)"),
  STR(kafka, properties, "",
      "extra librdkafka properties for the consumer and producer, \"key=value;key=value\" "
      "(e.g. security.protocol=ssl;session.timeout.ms=6000)"),
  KEY_MS(kafka, apply_timeout, "10s", 10, 10 * MINS,
         "with Kafka, how long a POST to an ingest route waits for its events to be applied here before "
         "answering with what is known (delivered events then count as accepted)"),
  KEY(kafka, ready_max_lag, LP_CONF_INT, "1000", 0, 1000000000,
      "/readyz answers 503 while the owned partitions are more than this many records behind in total"),
  END
};

static const lp_conf_key redis_keys[] = {
  STR(redis, endpoint, "",
      "host:port of the Redis that holds checkpoints; empty = no Redis"),
  KEY_MS(redis, connect_timeout, "2s", 10, 10 * MINS,
         "bound of one connection attempt to Redis (resolve, connect, AUTH, SELECT)"),
  KEY_MS(redis, command_timeout, "5s", 10, 10 * MINS,
         "bound of one Redis reply; past it the connection is dropped and rebuilt"),
  KEY_MS(redis, backoff_min, "100ms", 1, 10 * MINS,
         "first delay before reconnecting to Redis after a loss; doubles per failure, with jitter"),
  KEY_MS(redis, backoff_max, "10s", 1, 1 * HOURS,
         "the cap of the reconnect delay to Redis"),
  END
};

static const lp_conf_key checkpoint_keys[] = {
  KEY_MS(checkpoint, interval, "1s", 10, 1 * HOURS,
         "with Redis, how often the state of every shard and the offsets it holds are checkpointed"),
  KEY(checkpoint, max_deltas, LP_CONF_INT, "16", 1, 64,
      "incremental checkpoints of a shard on its full snapshot before the next full one"),
  KEY_MS(checkpoint, align_timeout, "5s", 10, 10 * MINS,
         "the longest a checkpoint holds consumption while records in flight finish; then it is skipped"),
  KEY(checkpoint, max_backlog, LP_CONF_INT, "200000", 1, 1000000000,
      "applied records not yet in a checkpoint (Redis down) before ingest pauses: Kafka paused, HTTP 429"),
  STR(checkpoint, global_name, "global",
      "hash tag of this instance's global state in Redis (one per instance: e.g. the pod name)"),
  END
};

static const lp_conf_key secrets_keys[] = {
  STR(secrets, openai_api_key, "",
      "API key of the LLM re-rank stage; empty = the stage makes no paid calls"),
  STR(secrets, pdl_api_key, "",
      "People Data Labs API key for firmographic enrichment; empty = none"),
  STR(secrets, clearbit_api_key, "",
      "Clearbit API key for firmographic enrichment; empty = none"),
  END
};

static const lp_conf_key log_keys[] = {
  STR(log, level, "info",
      "least severe level written to stderr: error, warn, info or debug"),
  END
};

static const lp_conf_key metrics_keys[] = {
  KEY(metrics, max_series, LP_CONF_INT, "1000", 1, 100000,
      "label sets per metric family; beyond it, samples go to one {overflow=\"true\"} series"),
  END
};

static const lp_conf_key stages_keys[] = {
  STR(stages, order, "ingest, throttle, churn, reputation",
      "comma-separated stage names, run in this order; built-in or from stages.plugins"),
  STR(stages, plugins, "",
      "comma-separated paths of stage plugins (.so) to load at start"),
  KEY(stages, quarantine_after, LP_CONF_INT, "100", 1, 1000000,
      "consecutive errors of a stage on a shard after which it is skipped there (quarantined)"),
  END
};

static const lp_conf_key index_keys[] = {
  KEY(index, k1, LP_CONF_DOUBLE, "1.2", 0, 10, "BM25 k1: how fast repeated words stop adding to a match"),
  KEY(index, b, LP_CONF_DOUBLE, "0.75", 0, 1, "BM25 b: how much a long document (lots of evidence) is normalised"),
  STR(index, idf, "robertson",
      "BM25 idf: robertson (Xapian's BM25Weight: ln t, ln(1 + t/2) when t < 2) or lucene (ln(1 + t))"),
  KEY(index, min_normlen, LP_CONF_DOUBLE, "0.5", 0, 100,
      "BM25 length clamp: a document's length over the average counts as at least this (Xapian's min_normlen; 0 = none)"),
  KEY_MS(index, retention, "180d", 1 * DAYS, 3650 * DAYS,
         "evidence older than this, in event time, leaves the index (reclaimed in small background steps)"),
  KEY_MS(index, age_half_life, "90d", 0, 3650 * DAYS,
         "a term's weight in a lead's document halves for every this much age of its newest evidence (event "
         "time); 0 = no decay"),
  KEY(index, expire_per_tick, LP_CONF_INT, "64", 1, 1000000,
      "leads per shard whose stale words are expired at each tick"),
  KEY(index, merge_per_tick, LP_CONF_INT, "8192", 1, 100000000,
      "index maintenance work (postings merged) per shard at each tick"),
  END
};

static const lp_conf_key scoring_keys[] = {
  KEY(scoring, w_text, LP_CONF_DOUBLE, "0.40", 0, 100, "model v0: weight of the text match (BM25, saturated)"),
  KEY(scoring, w_recency, LP_CONF_DOUBLE, "0.40", 0, 100, "model v0: weight of the recency of the latest relevant evidence"),
  KEY(scoring, w_fit, LP_CONF_DOUBLE, "0.20", 0, 100, "model v0: weight of the fit to the prompt's profile (ICP)"),
  KEY(scoring, w_churn, LP_CONF_DOUBLE, "0.10", 0, 100,
      "model v0: weight of a churn trigger (a tool of the prompt's categories removed recently)"),
  KEY(scoring, w_miners, LP_CONF_DOUBLE, "0.10", 0, 100, "model v0: weight of agreement between distinct miners"),
  KEY(scoring, w_reputation, LP_CONF_DOUBLE, "0.05", 0, 100, "model v0: weight of the reputation of the miners"),
  KEY(scoring, text_saturation, LP_CONF_DOUBLE, "4.0", 0.001, 1000,
      "BM25 score at which the text feature reaches one half (text = bm25 / (bm25 + this))"),
  KEY_MS(scoring, recency_half_life, "15d", 1 * HOURS, 3650 * DAYS, "age at which the recency feature halves"),
  KEY_MS(scoring, churn_window, "90d", 1 * DAYS, 3650 * DAYS, "a tool removed this recently is a buying trigger"),
  KEY(scoring, candidates, LP_CONF_INT, "200", 1, 100000,
      "leads per worker taken from the index by text match before the model re-scores them"),
  STR(scoring, model, "",
      "learned model file (XGBoost JSON, sidecar <file>.features); empty = model v0; reloaded on SIGHUP and POST /v1/admin/reload"),
  STR(scoring, train_log, "",
      "JSON Lines file where answered queries (feature rows of the leads shown) and outcomes are appended for leadpoet train; empty = off"),
  KEY(scoring, train_log_max_bytes, LP_CONF_SIZE, "256m", 64 * KiB, 64 * GiB,
      "the training log is rotated to <file>.1 when it grows past this size"),
  STR(scoring, variants, "",
      "A/B test of models: comma-separated [NAME=]PATH:SHARE (PATH v0 = model v0; NAME defaults to the file's base name), shares in percent summing to 100, the first is the control; empty = off (scoring.model serves every query)"),
  KEY(scoring, experiment_answers, LP_CONF_INT, "100000", 1, 100000000,
      "A/B test: recent answers remembered with their variant, so that an outcome naming their query_id is credited to it"),
  KEY(scoring, experiment_bytes, LP_CONF_SIZE, "32m", 64 * KiB, 16 * GiB,
      "A/B test: memory the remembered answers may take (the oldest is forgotten first)"),
  END
};

static const lp_conf_key query_keys[] = {
  KEY(query, default_max_cost_usd, LP_CONF_DOUBLE, "0.05", 0, 1000,
      "what a query may spend on paid stages when its request does not say"),
  KEY(query, instance_usd_per_hour, LP_CONF_DOUBLE, "0.0832", 0, 1000,
      "price of this machine per hour: a query costs its CPU time at this price, plus paid calls"),
  KEY(query, max_in_flight, LP_CONF_INT, "256", 0, 1000000,
      "queries scattered to the workers and not yet answered, at most (each holds a message in every worker's "
      "ring); one more answers 503 overloaded with Retry-After; 0 = no bound"),
  KEY_MS(query, queue_target, "50ms", 0, 1 * MINS,
         "admission control (CoDel): when the time queries wait in a worker's ring stays above this for a whole "
         "queue_interval, new queries answer 503 overloaded with Retry-After until it falls under; 0 = off"),
  KEY_MS(query, queue_interval, "500ms", 1, 1 * MINS,
         "how long the queue delay must stay above queue_target before queries are shed (a burst shorter than "
         "this is absorbed); also the Retry-After of a shed query, rounded up to seconds"),
  END
};

static const lp_conf_key enrich_keys[] = {
  STR(enrich, provider, "auto",
      "company-enrichment vendor: pdl (People Data Labs, secrets.pdl_api_key), clearbit (secrets.clearbit_api_key) "
      "or auto (pdl when its key is set, else clearbit); enrichment is off while the chosen vendor has no key"),
  STR(enrich, base_url, "",
      "the http:// base URL of the vendor's API, e.g. an egress TLS proxy to https://api.peopledatalabs.com; "
      "required when a key is set"),
  KEY(enrich, price_usd_per_call, LP_CONF_DOUBLE, "0.01", 0, 100,
      "what one vendor call costs; charged to the query that made it and to the day's budget"),
  KEY(enrich, daily_budget_usd, LP_CONF_DOUBLE, "5", 0, 1000000,
      "the most enrichment may spend per UTC day, across every query; past it no call is made until midnight UTC"),
  KEY(enrich, max_per_query, LP_CONF_INT, "10", 0, 1000,
      "vendor calls one query may start at most (its top leads with missing firmographics first)"),
  KEY_MS(enrich, wait, "500ms", 0, 60 * SECS,
         "how long a query waits for the vendor; later results are kept for the next query"),
  KEY_MS(enrich, timeout, "2s", 10, 5 * MINS, "deadline of one vendor call (connect, send, receive)"),
  KEY(enrich, retries, LP_CONF_INT, "1", 0, 10,
      "further attempts after a time-out, a 429 or a 5xx, while the query waits and its budget allows"),
  KEY_MS(enrich, backoff, "100ms", 1, 1 * MINS,
         "delay before a retry, doubled per attempt, times a jitter in [0.5, 1.5); a longer Retry-After wins"),
  KEY_MS(enrich, cache_ttl, "30d", 1 * SECS, 3650 * DAYS,
         "how long a vendor's answer for a domain is reused before the vendor is asked again"),
  KEY_MS(enrich, negative_ttl, "7d", 1 * SECS, 3650 * DAYS,
         "how long a vendor's 404 (company unknown) for a domain is reused before asking again"),
  KEY(enrich, cache_entries, LP_CONF_INT, "100000", 16, 100000000,
      "domains whose vendor answer is kept on the reactor; the oldest are forgotten first"),
  KEY(enrich, max_response, LP_CONF_SIZE, "256k", 1 * KiB, 64 * MiB, "largest vendor response accepted"),
  KEY(enrich, breaker_window, LP_CONF_INT, "20", 1, 1024, "vendor calls in the circuit breaker's sliding window"),
  KEY(enrich, breaker_min_calls, LP_CONF_INT, "10", 1, 1024, "calls in the window before the breaker may open"),
  KEY(enrich, breaker_threshold, LP_CONF_DOUBLE, "0.5", 0.01, 1, "share of failed calls in the window that opens the breaker"),
  KEY_MS(enrich, breaker_cooldown, "30s", 1, 1 * DAYS, "time the breaker stays open before one probe call"),
  END
};

static const lp_conf_key watch_keys[] = {
  KEY(watch, max_watches, LP_CONF_INT, "100", 0, 100000,
      "standing queries (POST /v1/watches) this instance keeps; one more answers 409; 0 = watches off"),
  KEY_MS(watch, timeout, "2s", 10, 5 * MINS, "deadline of one webhook delivery (connect, send, receive)"),
  KEY(watch, max_attempts, LP_CONF_INT, "5", 1, 20,
      "attempts of one webhook delivery (the first and its retries) before it is dead-lettered"),
  KEY_MS(watch, backoff, "500ms", 1, 10 * MINS,
         "delay before a webhook retry, doubled per attempt, times a jitter in [0.5, 1.5)"),
  KEY_MS(watch, coalesce, "100ms", 1, 1 * SECS,
         "how long touched leads are collected before they are re-scored against the watches (one evaluation per "
         "worker per period, whatever the ingest rate)"),
  KEY(watch, dlq_size, LP_CONF_INT, "32", 1, 10000,
      "dead-lettered deliveries kept per watch (shown by GET /v1/watches/{id}); the oldest are forgotten first"),
  END
};

const lp__conf_section lp__core_sections[] = {
  { "server", server_keys }, { "http", http_keys },       { "ingest", ingest_keys },
  { "kafka", kafka_keys },   { "redis", redis_keys },     { "checkpoint", checkpoint_keys },
  { "secrets", secrets_keys },
  { "log", log_keys },       { "metrics", metrics_keys }, { "stages", stages_keys },
  { "index", index_keys },   { "scoring", scoring_keys }, { "query", query_keys },
  { "enrich", enrich_keys },
  { "watch", watch_keys },
  { NULL, NULL },
};

/* ---- Rules beyond type and bounds ----------------------------------------------------------------- */

static int check_peers(const void *dst, char *why, size_t why_size) {
  const char *s;
  memcpy(&s, dst, sizeof(s));
  return lp_peers_check(s, why, why_size);
}

static int check_pow2(const void *dst, char *why, size_t why_size) {
  int64_t v;
  memcpy(&v, dst, sizeof(v));
  if (v > 0 && (v & (v - 1)) == 0) return LP_OK;
  snprintf(why, why_size, "must be a power of two (got %lld)", (long long)v);
  return LP_EINVAL;
}

static int check_listen(const void *dst, char *why, size_t why_size) {
  const char *s;
  memcpy(&s, dst, sizeof(s));
  char host[256];
  int port;
  return lp_config_split_listen(s, host, sizeof(host), &port, why, why_size);
}

static int check_index_idf(const void *dst, char *why, size_t why_size) {
  const char *s;
  memcpy(&s, dst, sizeof(s));
  if (strcmp(s, "robertson") == 0 || strcmp(s, "lucene") == 0) return LP_OK;
  snprintf(why, why_size, "\"%.40s\" must be robertson or lucene", s);
  return LP_EINVAL;
}

static int check_kafka_mode(const void *dst, char *why, size_t why_size) {
  const char *s;
  memcpy(&s, dst, sizeof(s));
  static const char *const modes[] = { "auto", "embedded", "external", "off" };
  for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
    if (strcmp(s, modes[i]) == 0) return LP_OK;
  snprintf(why, why_size, "\"%.40s\" must be one of auto, embedded, external, off", s);
  return LP_EINVAL;
}

/* "key=value;key=value": every non-empty item holds a '=' after a non-empty key. */
static int check_kafka_props(const void *dst, char *why, size_t why_size) {
  const char *s;
  memcpy(&s, dst, sizeof(s));
  while (*s) {
    const char *end = strchr(s, ';');
    size_t n = end ? (size_t)(end - s) : strlen(s);
    const char *eq = memchr(s, '=', n);
    if (n > 0 && (eq == NULL || eq == s)) {
      snprintf(why, why_size, "\"%.*s\" is not key=value (items are separated by ';')", (int)(n > 60 ? 60 : n), s);
      return LP_EINVAL;
    }
    s += n + (end != NULL);
  }
  return LP_OK;
}

static int check_level(const void *dst, char *why, size_t why_size) {
  const char *s;
  memcpy(&s, dst, sizeof(s));
  if (lp_log_parse_level(s) >= 0) return LP_OK;
  snprintf(why, why_size, "\"%.40s\" must be one of error, warn, info, debug", s);
  return LP_EINVAL;
}

static int check_enrich_provider(const void *dst, char *why, size_t why_size) {
  const char *s;
  memcpy(&s, dst, sizeof(s));
  if (strcmp(s, "auto") == 0 || strcmp(s, "pdl") == 0 || strcmp(s, "clearbit") == 0) return LP_OK;
  snprintf(why, why_size, "\"%.40s\" must be one of auto, pdl, clearbit", s);
  return LP_EINVAL;
}

static int check_enrich_url(const void *dst, char *why, size_t why_size) {
  const char *s;
  memcpy(&s, dst, sizeof(s));
  if (s[0] == '\0') return LP_OK;
  lp_httpc_url u;
  return lp_httpc_url_parse(s, &u, why, why_size);
}

static int check_api_keys(const void *dst, char *why, size_t why_size) {
  const char *s;
  memcpy(&s, dst, sizeof(s));
  return lp_config_api_keys_parse(s, "api_keys", NULL, NULL, why, why_size);
}

/* scoring.variants: the list of the A/B test, by the parser the server starts with (core/server/variants.h). */
static int check_variants(const void *dst, char *why, size_t why_size) {
  const char *s;
  memcpy(&s, dst, sizeof(s));
  if (s[0] == '\0') return LP_OK;
  lp_variant_spec v[LP_VARIANTS_MAX];
  uint32_t n = 0;
  return lp__variants_parse(s, v, &n, why, why_size);
}

typedef struct key_rule {
  const char *section, *key;
  lp__conf_check check;
  const char *seed_env;
} key_rule;

static const key_rule rules[] = {
  { "server", "listen", check_listen, "LEADPOET_LISTEN" },
  { "server", "shards", check_pow2, NULL },
  { "server", "ring_capacity", check_pow2, NULL },
  { "server", "peers", check_peers, "LEADPOET_PEERS" },
  { "log", "level", check_level, NULL },
  { "kafka", "bootstrap_brokers", NULL, "KAFKA_BOOTSTRAP_BROKERS" },
  { "kafka", "mode", check_kafka_mode, NULL },
  { "index", "idf", check_index_idf, NULL },
  { "http", "api_keys", check_api_keys, NULL },
  { "kafka", "properties", check_kafka_props, NULL },
  { "redis", "endpoint", NULL, "REDIS_ENDPOINT" },
  { "secrets", "openai_api_key", NULL, "OPENAI_API_KEY" },
  { "secrets", "pdl_api_key", NULL, "PDL_API_KEY" },
  { "secrets", "clearbit_api_key", NULL, "CLEARBIT_API_KEY" },
  { "enrich", "provider", check_enrich_provider, NULL },
  { "enrich", "base_url", check_enrich_url, NULL },
  { "scoring", "variants", check_variants, NULL },
  { NULL, NULL, NULL, NULL },
};

static const key_rule *rule_for(const char *section, const char *key) {
  for (const key_rule *r = rules; r->section != NULL; r++) {
    if (strcmp(r->section, section) == 0 && strcmp(r->key, key) == 0) return r;
  }
  return NULL;
}

lp__conf_check lp__config_check_for(const char *section, const char *key) {
  const key_rule *r = rule_for(section, key);
  return r != NULL ? r->check : NULL;
}

const char *lp__config_seed_env(const char *section, const char *key) {
  const key_rule *r = rule_for(section, key);
  return r != NULL ? r->seed_env : NULL;
}

int lp__config_is_secret(const char *section, const char *key) { return strcmp(section, "secrets") == 0; }

int lp__config_env_name(const char *section, const char *key, char *out, size_t n) {
  int len = snprintf(out, n, "LEADPOET_%s_%s", section, key);
  if (len < 0 || (size_t)len >= n) return LP_ERANGE;
  for (char *p = out; *p != '\0'; p++) {
    if (*p == '.' || *p == '-') *p = '_';
    else if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
  }
  return LP_OK;
}

/* The host is a name or IPv4 address of [A-Za-z0-9.-], or an IPv6 address in brackets. */
int lp_config_split_listen(const char *listen, char *host, size_t host_size, int *port, char *why,
                           size_t why_size) {
  char dummy[8];
  if (why == NULL) {
    why = dummy;
    why_size = sizeof(dummy);
  }
  const char *colon = strrchr(listen, ':');
  const char *h = listen, *h_end = colon;
  int ok = colon != NULL && colon > listen;
  if (ok && listen[0] == '[') {
    h = listen + 1;
    h_end = colon - 1;
    ok = h_end > h && *h_end == ']';
    for (const char *p = h; ok && p < h_end; p++) ok = strchr("0123456789abcdefABCDEF:.", *p) != NULL;
  } else {
    for (const char *p = h; ok && p < h_end; p++) {
      ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
           *p == '-';
    }
  }
  long p = 0;
  if (ok) {
    const char *d = colon + 1;
    ok = *d != '\0' && strlen(d) <= 5;
    for (; ok && *d != '\0'; d++) {
      ok = *d >= '0' && *d <= '9';
      p = p * 10 + (*d - '0');
    }
    ok = ok && p >= 1 && p <= 65535;
  }
  if (ok && (size_t)(h_end - h) >= host_size) ok = 0;
  if (!ok) {
    snprintf(why, why_size, "\"%.60s\" is not HOST:PORT (such as 127.0.0.1:8080 or [::1]:8080, port 1..65535)",
             listen);
    return LP_EINVAL;
  }
  memcpy(host, h, (size_t)(h_end - h));
  host[h_end - h] = '\0';
  *port = (int)p;
  return LP_OK;
}
