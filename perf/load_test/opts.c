/*
 * opts.c: load_test's command line (load_test.h).
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "load_test.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: load_test [options]      the mixed scenario of issue 8 (perf/README.md)\n"
          "market and server:\n"
          "  --leads N              leads of the generated market (default 1000000)\n"
          "  --snippets N           its snippets (default 10 x leads)\n"
          "  --seed N               world seed (default 1)\n"
          "  --world DIR            use the market in DIR (generated there when absent, and kept)\n"
          "  --kafka-mode M         the server's LEADPOET_KAFKA_MODE: auto, embedded, external, off (default: its own)\n"
          "  --leadpoet PATH        the server binary (default %s)\n"
          "  --world-bin PATH       the world generator (default %s)\n"
          "mixed phase:\n"
          "  --qps R                query rate, open loop (default 250)\n"
          "  --duration S           measured seconds (default 300)\n"
          "  --warmup S             seconds sent before, not recorded (default 5)\n"
          "  --connections C        query connections (default 32)\n"
          "  -k K                   leads per query (default 25)\n"
          "  --no-explain           queries send \"explain\": false\n"
          "  --ingest-rate R        snippets per second streamed meanwhile (default 20000; 0 = none)\n"
          "  --ingest http|kafka    POST /v1/snippets batches (default) or `leadpoet produce` to the server's Kafka\n"
          "  --ingest-connections C posting threads in http mode (default 4)\n"
          "  --stream-miners N      miners of the stream (default 2000: within the throttle's default budget)\n"
          "  --freshness N          freshness probes during the phase (default 1000; 0 = none)\n"
          "burst and search (the stream still running):\n"
          "  --burst-qps R          burst rate (default 1000; 0 = no burst)\n"
          "  --burst-duration S     (default 30)\n"
          "  --burst-connections C  (default 128)\n"
          "  --search-from R        first rate of the search (default 100)\n"
          "  --search-max R         highest rate tried (default 16000; 0 = no search)\n"
          "  --search-step S        seconds per rate (default 10)\n"
          "  --search-p99 MS        the P99 a rate must hold, with no error (default 50)\n"
          "  --search-refine N      bisections after the doubling (default 3)\n"
          "  --search-connections C (default 256)\n"
          "output:\n"
          "  --out FILE             write the JSON result to FILE (for perf/validate_sla)\n"
          "  --json                 the JSON on stdout instead of the table\n"
          "  --quiet                no progress on stderr\n",
          LP_LT_LEADPOET, LP_LT_WORLD);
}

static void defaults(lt_opts *o) {
  memset(o, 0, sizeof *o);
  o->srv.leadpoet = LP_LT_LEADPOET;
  o->srv.world_bin = LP_LT_WORLD;
  o->srv.leads = 1000000;
  o->srv.seed = 1;
  o->srv.batch = 5000;
  o->qps = 250;
  o->duration = 300;
  o->warmup = 5;
  o->connections = 32;
  o->k = 25;
  o->explain = 1;
  o->ingest_rate = 20000;
  o->ingest_conns = 4;
  o->stream_miners = 2000;
  o->fresh_events = 1000;
  o->burst_qps = 1000;
  o->burst_duration = 30;
  o->burst_conns = 128;
  o->search_from = 100;
  o->search_max = 16000;
  o->search_step = 10;
  o->search_p99 = 50;
  o->search_refine = 3;
  o->search_conns = 256;
}

typedef struct num_opt {
  const char *name;
  double lo, hi;
  size_t off;     /* offsetof in lt_opts */
  int is_uint;    /* unsigned field, else double */
} num_opt;

#define D(n, lo, hi, f) { n, lo, hi, offsetof(lt_opts, f), 0 }
#define U(n, lo, hi, f) { n, lo, hi, offsetof(lt_opts, f), 1 }
static const num_opt nums[] = {
  D("--qps", 0.001, 1e6, qps), D("--duration", 0.001, 86400, duration), D("--warmup", 0, 3600, warmup),
  U("--connections", 1, 10000, connections), U("-k", 1, 1000, k), D("--ingest-rate", 0, 1e7, ingest_rate),
  U("--ingest-connections", 1, 64, ingest_conns), U("--stream-miners", 1, 1000000, stream_miners),
  U("--freshness", 0, 1e7, fresh_events), D("--burst-qps", 0, 1e6, burst_qps),
  D("--burst-duration", 0.001, 86400, burst_duration), U("--burst-connections", 1, 10000, burst_conns),
  D("--search-from", 0.001, 1e6, search_from), D("--search-max", 0, 1e6, search_max),
  D("--search-step", 0.001, 3600, search_step), D("--search-p99", 0.001, 1e6, search_p99),
  U("--search-refine", 0, 20, search_refine), U("--search-connections", 1, 10000, search_conns),
};

int lt_parse_opts(int argc, char **argv, lt_opts *o) {
  defaults(o);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    double d = 0;
    int bad = 0, done = 0;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      exit(0);
    }
    if (!strcmp(a, "--json")) { o->json = 1; continue; }
    if (!strcmp(a, "--quiet")) { o->quiet = 1; continue; }
    if (!strcmp(a, "--no-explain")) { o->explain = 0; continue; }
    if (!v) {
      fprintf(stderr, "load_test: %s: unknown option or missing value (see --help)\n", a);
      return -1;
    }
    for (size_t n = 0; n < sizeof nums / sizeof nums[0] && !done; n++) {
      if (strcmp(a, nums[n].name) != 0) continue;
      done = 1;
      bad = lt_num(v, nums[n].lo, nums[n].hi, &d);
      if (!bad && nums[n].is_uint) *(unsigned *)((char *)o + nums[n].off) = (unsigned)d;
      else if (!bad) *(double *)((char *)o + nums[n].off) = d;
    }
    if (done) {
    } else if (!strcmp(a, "--leads")) { bad = lt_num(v, 1, 50e6, &d); o->srv.leads = (unsigned long long)d; }
    else if (!strcmp(a, "--snippets")) { bad = lt_num(v, 1, 1e10, &d); o->srv.snippets = (unsigned long long)d; }
    else if (!strcmp(a, "--seed")) { bad = lt_num(v, 0, 1e15, &d); o->srv.seed = (unsigned long long)d; }
    else if (!strcmp(a, "--world")) o->srv.world_dir = v;
    else if (!strcmp(a, "--kafka-mode")) {
      bad = strcmp(v, "auto") && strcmp(v, "embedded") && strcmp(v, "external") && strcmp(v, "off");
      o->srv.kafka_mode = v;
    } else if (!strcmp(a, "--ingest")) {
      bad = strcmp(v, "http") && strcmp(v, "kafka");
      o->ingest_kafka = !strcmp(v, "kafka");
    } else if (!strcmp(a, "--leadpoet")) o->srv.leadpoet = v;
    else if (!strcmp(a, "--world-bin")) o->srv.world_bin = v;
    else if (!strcmp(a, "--out")) o->out = v;
    else {
      fprintf(stderr, "load_test: unknown option '%s' (see --help)\n", a);
      return -1;
    }
    if (bad) {
      fprintf(stderr, "load_test: bad value '%s' for %s (see --help)\n", v, a);
      return -1;
    }
    i++;
  }
  o->srv.quiet = o->quiet || o->json;
  o->quiet = o->srv.quiet;
  return 0;
}

json_t *lt_opts_json(const lt_opts *o) {
  json_t *j = json_object();
  for (size_t n = 0; n < sizeof nums / sizeof nums[0]; n++) {
    const char *k = nums[n].name + (nums[n].name[1] == '-' ? 2 : 1);
    const char *p = (const char *)o + nums[n].off;
    json_object_set_new(j, k, nums[n].is_uint ? json_integer(*(const unsigned *)p) : json_real(*(const double *)p));
  }
  json_object_set_new(j, "leads_requested", json_integer((json_int_t)o->srv.leads));
  json_object_set_new(j, "ingest", json_string(o->ingest_kafka ? "kafka" : "http"));
  json_object_set_new(j, "kafka_mode", o->srv.kafka_mode ? json_string(o->srv.kafka_mode) : json_null());
  json_object_set_new(j, "explain", json_boolean(o->explain));
  return j;
}
