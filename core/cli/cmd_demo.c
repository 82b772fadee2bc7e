/*
 * `leadpoet demo [--listen HOST:PORT] [--rate SNIPPETS_PER_S]`: the whole system on the embedded defaults
 * (embedded Kafka, the normal serve path) with a live synthetic market from perf/world.
 *
 * The main thread runs the server (lp_server_run: its own signals, drain and exit). A market thread builds
 * a small world (perf/world, streaming mode: event time = wall clock, the world's schedule folded into the
 * window at DEMO_WINDOW_S per pass so buying cycles move while one watches) and feeds the server over its
 * public HTTP API, exactly as miners and sellers would: snippets to POST /v1/snippets (which, in embedded
 * mode, go through the embedded Kafka topics like any producer's), a seller prompt to POST /v1/leads every
 * few seconds, and for the top leads of each answer the outcome the world says would happen (a reply or a
 * meeting while the company is in a buying cycle, a purchase at its end, `invalid` for a company a spammer
 * invented) to POST /v1/outcomes with the answer's query_id, so miners' reputation moves.
 */
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "cli/commands.h"
#include "cli/http_client.h"
#include "config/config.h"
#include "data.h"
#include "server/server.h"
#include "world.h"

#define DEMO_WINDOW_S 1800     /* the world's window (180 days) passes in 30 minutes of wall clock */
#define DEMO_TICK_MS 250       /* snippets are posted in batches this often */
#define DEMO_QUERY_EVERY_MS 3000
#define DEMO_OUTCOMES_PER_QUERY 5

typedef struct demo {
  wd_world world;
  wd_snipgen *gen;
  lp_http_client *http;
  double rate;
  char url[300];
  atomic_int stop;
  uint64_t sent, accepted, queries, outcomes, seq;
  int64_t wall0, span;
  uint64_t rng;
} demo;

static void demo_usage(FILE *out) {
  fprintf(out,
          "usage: leadpoet demo [--listen HOST:PORT] [--rate SNIPPETS_PER_S]\n\n"
          "Runs the whole system on the embedded defaults (embedded Kafka, no Redis) and feeds it a live\n"
          "synthetic market (perf/world): miners' snippets, sellers' prompts and the outcomes of the leads\n"
          "they were given. Open the console URL it logs; Ctrl-C stops it.\n\n"
          "  -l, --listen ADDR     HTTP address (default 127.0.0.1:8080, or LEADPOET_LISTEN)\n"
          "  -r, --rate N          snippets per second, 1..100000 (default 100)\n"
          "  -h, --help            this help\n\n"
          "Every config key can still be set by the environment (LEADPOET_<SECTION>_<KEY>).\n");
}

static uint64_t demo_rand(demo *d) {
  d->rng ^= d->rng << 13, d->rng ^= d->rng >> 7, d->rng ^= d->rng << 17;
  return d->rng;
}

/* Sleeps ms in slices, returning early when the demo stops. */
static void demo_sleep(demo *d, int ms) {
  while (ms > 0 && !atomic_load(&d->stop)) {
    int step = ms < 50 ? ms : 50;
    struct timespec ts = { 0, (long)step * 1000000L };
    nanosleep(&ts, NULL);
    ms -= step;
  }
}

static int demo_post(demo *d, const char *method, const char *path, const char *ctype, const char *body,
                     size_t len, lp_http_response *res) {
  char err[256];
  int rc = lp_http_client_request(d->http, method, path, ctype, body, len, res, err, sizeof(err));
  if (rc != LP_OK && !atomic_load(&d->stop)) lp_log_warn("demo: request failed", "path=%s err=\"%s\"", path, err);
  return rc;
}

/* The world's time that decides the content of what is sent now. */
static int64_t world_now(const demo *d, int64_t now) {
  return d->world.start_ms + ((now - d->wall0) * (d->span / (DEMO_WINDOW_S * 1000LL))) % d->span;
}

/* The snippets due by now since the start, as one NDJSON POST. */
static void send_snippets(demo *d, uint64_t due) {
  if (due <= d->sent) return;
  lp_buf body = LP_BUF_INIT;
  wd_line line = { NULL, 0, 0, 0 };
  int rc = LP_OK;
  int64_t now = lp_now_ms(), wt = world_now(d, now);
  uint64_t n = due - d->sent;
  for (uint64_t i = 0; i < n && rc == LP_OK; i++) {
    wd_line_reset(&line);
    rc = wd_snipgen_next(d->gen, now, wt, &line);
    if (rc == LP_OK) rc = lp_buf_append(&body, line.p, line.len);
  }
  wd_line_free(&line);
  d->sent = due;
  if (rc == LP_OK) {
    lp_http_response res;
    if (demo_post(d, "POST", "/v1/snippets", "application/x-ndjson", body.data, body.len, &res) == LP_OK &&
        res.status == 202) {
      json_t *j = json_loadb(res.body, res.body_len, 0, NULL);
      d->accepted += (uint64_t)json_integer_value(json_object_get(j, "accepted"));
      json_decref(j);
    }
    lp_http_response_free(&res);
  }
  lp_buf_free(&body);
}

/* The company of domain in the world, or -1. */
static int64_t find_company(const demo *d, const char *domain) {
  for (uint32_t c = 0; c < d->world.n_real + d->world.n_fab; c++)
    if (strcmp(wd_domain(&d->world, c), domain) == 0) return c;
  return -1;
}

/* What the seller would report after contacting this lead at world time wt. */
static const char *outcome_of(demo *d, int64_t c, int64_t wt, const char **product) {
  *product = NULL;
  if (c < 0 || d->world.companies[c].fabricated) return "invalid";
  const wd_company *co = &d->world.companies[c];
  double best = 0;
  for (uint32_t i = 0; i < co->n_cycles; i++) {
    const wd_cycle *cy = &d->world.cycles[co->cycle0 + i];
    if (cy->bought && wt >= cy->t_peak && wt <= cy->t_end + 30 * WD_DAY_MS) {
      *product = wd_products[cy->product].name;
      return "purchased";
    }
    double in = wd_cycle_intent(cy, wt);
    if (in > best) best = in;
  }
  if (best > 0.5) return "meeting";
  if (best > 0.05) return "replied";
  return (demo_rand(d) % 4 == 0) ? "bounced" : "delivered";
}

/* One seller prompt, then the outcomes of its top leads. */
static void query_and_report(demo *d) {
  const wd_product *p = &wd_products[demo_rand(d) % wd_n_products];
  const char *prompt = p->prompts[demo_rand(d) % 4];
  if (prompt == NULL) prompt = p->prompts[0];
  json_t *q = json_pack("{s:s, s:i, s:b}", "prompt", prompt, "k", 10, "explain", 1);
  char *qs = q ? json_dumps(q, JSON_COMPACT) : NULL;
  json_decref(q);
  if (qs == NULL) return;
  lp_http_response res;
  int rc = demo_post(d, "POST", "/v1/leads", "application/json", qs, strlen(qs), &res);
  free(qs);
  json_t *ans = rc == LP_OK && res.status == 200 ? json_loadb(res.body, res.body_len, 0, NULL) : NULL;
  lp_http_response_free(&res);
  if (ans == NULL) return;
  d->queries++;
  const char *qid = json_string_value(json_object_get(ans, "query_id"));
  json_t *leads = json_object_get(ans, "leads"), *out = json_array();
  int64_t now = lp_now_ms(), wt = world_now(d, now);
  for (size_t i = 0; out && i < json_array_size(leads) && i < DEMO_OUTCOMES_PER_QUERY; i++) {
    const char *domain = json_string_value(json_object_get(json_array_get(leads, i), "domain"));
    if (domain == NULL) continue;
    const char *product;
    const char *event = outcome_of(d, find_company(d, domain), wt, &product);
    char id[64];
    snprintf(id, sizeof(id), "demo-%llx-%llu", (unsigned long long)d->wall0, (unsigned long long)++d->seq);
    json_t *o = json_pack("{s:s, s:I, s:s, s:s}", "id", id, "ts", (json_int_t)now, "domain", domain, "event", event);
    if (o && qid) json_object_set_new(o, "query_id", json_string(qid));
    if (o && product) {
      json_object_set_new(o, "product", json_string(product));
      json_object_set_new(o, "value_usd", json_real((double)(5000 + demo_rand(d) % 50000)));
    }
    if (o) json_array_append_new(out, o);
  }
  char *body = out && json_array_size(out) ? json_dumps(out, JSON_COMPACT) : NULL;
  if (body != NULL && demo_post(d, "POST", "/v1/outcomes", "application/json", body, strlen(body), &res) == LP_OK) {
    if (res.status == 202) d->outcomes += json_array_size(out);
    lp_http_response_free(&res);
  }
  free(body);
  json_decref(out);
  json_decref(ans);
}

/* Waits for /readyz (the server restores, then its consumer catches up). 1 when ready, 0 when stopped. */
static int wait_ready(demo *d) {
  while (!atomic_load(&d->stop)) {
    lp_http_response res;
    char err[256];
    int rc = lp_http_client_request(d->http, "GET", "/readyz", NULL, NULL, 0, &res, err, sizeof(err));
    int ready = rc == LP_OK && res.status == 200;
    lp_http_response_free(&res);
    if (ready) return 1;
    demo_sleep(d, 200);
  }
  return 0;
}

static void *market_main(void *arg) {
  demo *d = arg;
  lp_log_set_thread("demo");
  if (!wait_ready(d)) return NULL;
  lp_log_info("demo: the market is live", "console=%s/ docs=%s/docs rate=%g miners=%u leads=%u", d->url, d->url,
              d->rate, d->world.n_miners, d->world.n_real);
  uint64_t t0 = lp_mono_ns();
  int64_t next_query = 0, next_log = 10000;
  while (!atomic_load(&d->stop)) {
    int64_t el_ms = (int64_t)((lp_mono_ns() - t0) / 1000000u);
    send_snippets(d, (uint64_t)(d->rate * (double)el_ms / 1000.0) + 1);
    if (el_ms >= next_query) {
      query_and_report(d);
      next_query = el_ms + DEMO_QUERY_EVERY_MS;
    }
    if (el_ms >= next_log) {
      lp_log_info("demo: market", "snippets_sent=%llu accepted=%llu queries=%llu outcomes=%llu",
                  (unsigned long long)d->sent, (unsigned long long)d->accepted, (unsigned long long)d->queries,
                  (unsigned long long)d->outcomes);
      next_log = el_ms + 30000;
    }
    demo_sleep(d, DEMO_TICK_MS);
  }
  return NULL;
}

/* The market's world: small enough to build in well under a second, busy enough to show cycles. */
static int build_world(demo *d, char *err, size_t errlen) {
  wd_config wc = { .seed = (uint64_t)lp_now_ms(), .leads = 3000, .miners = 24, .snippets = 0, .outcomes = 0,
                   .days = 180, .horizon_days = 30, .now_ms = lp_now_ms(), .bad_rate = 0.01, .dup_rate = 0.005,
                   .spam_frac = 0.15, .sloppy_frac = 0.2, .cycles_per_lead = 1.5, .fabricated_frac = 0.05 };
  int rc = wd_world_build(&d->world, &wc, err, errlen);
  if (rc != LP_OK) return rc;
  d->gen = wd_snipgen_new(&d->world, (uint64_t)wc.now_ms);
  if (d->gen == NULL) {
    snprintf(err, errlen, "out of memory");
    return LP_ENOMEM;
  }
  d->wall0 = lp_now_ms();
  d->span = (int64_t)wc.days * WD_DAY_MS;
  d->rng = wc.seed | 1;
  return LP_OK;
}

static int parse_opts(int argc, char **argv, const char **listen, double *rate) {
  static const struct option opts[] = {
    { "listen", required_argument, NULL, 'l' },
    { "rate", required_argument, NULL, 'r' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "l:r:h", opts, NULL)) != -1) {
    char *end = NULL;
    switch (c) {
    case 'l': *listen = optarg; break;
    case 'r':
      *rate = strtod(optarg, &end);
      if (end == optarg || *end != '\0' || !(*rate >= 1 && *rate <= 100000)) {
        fprintf(stderr, "leadpoet demo: --rate %s: expected a number of snippets per second, 1..100000\n", optarg);
        return 2;
      }
      break;
    case 'h': demo_usage(stdout); return 0;
    default: demo_usage(stderr); return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "leadpoet demo: unexpected argument '%s'\n", argv[optind]);
    demo_usage(stderr);
    return 2;
  }
  return -1;
}

int lp_cmd_demo(int argc, char **argv) {
  const char *listen = NULL;
  double rate = 100;
  int rc = parse_opts(argc, argv, &listen, &rate);
  if (rc >= 0) return rc;
  lp_config cfg;
  char err[1024] = "";
  if (lp_config_load(&cfg, NULL, err, sizeof(err)) != LP_OK) {
    fprintf(stderr, "leadpoet demo: %s\n", err);
    lp_config_free(&cfg);
    return 2;
  }
  char host[256];
  int port;
  if (listen != NULL) {
    if (lp_config_split_listen(listen, host, sizeof(host), &port, err, sizeof(err)) != LP_OK) {
      fprintf(stderr, "leadpoet demo: --listen %s: %s\n", listen, err);
      lp_config_free(&cfg);
      return 2;
    }
    lp_free(cfg.server.listen);
    cfg.server.listen = lp_strdup(listen);
  }
  lp_config_split_listen(cfg.server.listen, host, sizeof(host), &port, NULL, 0);
  int level = lp_log_parse_level(cfg.log.level);
  if (level > 0) lp_log_set_level(level);

  demo *d = lp_calloc(1, sizeof(*d));
  if (d == NULL) {
    lp_config_free(&cfg);
    return 1;
  }
  d->rate = rate;
  /* The console's address: a wildcard listen is reached on loopback from here. */
  const char *reach = strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 || strchr(host, ':') ? "127.0.0.1" : host;
  snprintf(d->url, sizeof(d->url), "http://%s:%d", reach, port);
  rc = build_world(d, err, sizeof(err));
  if (rc == LP_OK) rc = lp_http_client_new(&d->http, d->url, 10000, err, sizeof(err));
  pthread_t th;
  int started = rc == LP_OK && pthread_create(&th, NULL, market_main, d) == 0;
  int exit_code = 1;
  if (!started) {
    fprintf(stderr, "leadpoet demo: cannot start the market: %s\n", rc != LP_OK ? err : "thread");
  } else {
    exit_code = lp_server_run(&cfg);
    atomic_store(&d->stop, 1);
    pthread_join(th, NULL);
  }
  lp_http_client_free(d->http);
  wd_snipgen_free(d->gen);
  wd_world_free(&d->world);
  lp_free(d);
  lp_config_free(&cfg);
  return exit_code;
}
