/*
 * ingest_bench: snippets per second through the ingest path, in process (no HTTP, no Kafka), and the bytes
 * of memory the shards hold per snippet applied (perf/README.md, issue 4).
 *
 *   decode    jansson parse of each JSONL line + lp_snippet_from_json (shape, policy, one copy)
 *   admit     the global stages (the throttle's on_admit) through lp_stages_admit, on the decoded snippets
 *   analyze   lp_analyze_terms of every admitted text (the part of apply that core/text does)
 *   apply     lp_shard_snippet + lp_shard_flush per batch on 1 and 2 worker threads, shards as `leadpoet
 *             serve` opens them (analyzer, index, per-shard stages), also once without the index
 *   e2e       one thread parses, decodes and admits and routes batches to the workers, which apply
 *
 * References measured in the same run: memcpy of the file's bytes and jansson's json_loadb alone.
 *
 *   ingest_bench --file /tmp/w/snippets.jsonl [--limit N] [--workers 1,2] [--batch 256] [--now MS]
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/file.h"
#include "qb_proc.h"
#include "base/log.h"
#include "ingest_bench.h"
#include "metrics/metrics.h"
#include "stages/throttle/throttle.h"

#define GOAL_PER_CORE 250000.0
#define GOAL_BYTES 150.0

typedef struct opts {
  const char *file;
  size_t limit;
  uint32_t workers[8];
  size_t n_workers;
  uint32_t batch;
  int64_t now_ms;
  int e2e, apply;
} opts;

static void usage(FILE *f) {
  fprintf(f,
          "usage: ingest_bench --file SNIPPETS.jsonl [options]\n"
          "  --file PATH      snippets as JSON Lines (perf/world: world --out DIR, then DIR/snippets.jsonl)\n"
          "  --limit N        use the first N lines (default: all)\n"
          "  --workers LIST   worker thread counts to run, comma-separated (default 1,2)\n"
          "  --batch N        snippets per worker batch (default 256, the server's)\n"
          "  --now MS         wall clock the validator compares ts against (default 1767225660000:\n"
          "                   world's default --now plus one minute)\n"
          "  --no-e2e         skip the end-to-end runs\n"
          "  --no-apply       skip the apply-only runs (and the memory breakdown)\n");
}

static int parse_opts(int argc, char **argv, opts *o) {
  *o = (opts){ NULL, 0, { 1, 2 }, 2, 256, 1767225660000LL, 1, 1 };
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--help") == 0) {
      usage(stdout);
      exit(0);
    } else if (strcmp(a, "--no-e2e") == 0) {
      o->e2e = 0;
    } else if (strcmp(a, "--no-apply") == 0) {
      o->apply = 0;
    } else if (v == NULL) {
      fprintf(stderr, "ingest_bench: %s needs a value\n", a);
      return -1;
    } else if (strcmp(a, "--file") == 0) {
      o->file = argv[++i];
    } else if (strcmp(a, "--limit") == 0) {
      o->limit = strtoull(argv[++i], NULL, 10);
    } else if (strcmp(a, "--batch") == 0) {
      o->batch = (uint32_t)strtoul(argv[++i], NULL, 10);
    } else if (strcmp(a, "--now") == 0) {
      o->now_ms = strtoll(argv[++i], NULL, 10);
    } else if (strcmp(a, "--workers") == 0) {
      o->n_workers = 0;
      for (char *p = argv[++i]; *p && o->n_workers < 8;) {
        char *end;
        unsigned long w = strtoul(p, &end, 10);
        if (end == p || w < 1 || w > 64) return -1;
        o->workers[o->n_workers++] = (uint32_t)w;
        p = *end == ',' ? end + 1 : end;
      }
    } else {
      fprintf(stderr, "ingest_bench: unknown option %s\n", a);
      return -1;
    }
  }
  if (o->file == NULL || o->batch == 0 || o->n_workers == 0) return -1;
  return 0;
}

static int ctx_init(ib_ctx *c, const opts *o) {
  char err[512] = "";
  memset(c, 0, sizeof(*c));
  int rc = lp_config_load(&c->cfg, NULL, err, sizeof(err));
  if (rc == LP_OK && (rc = lp_techtable_builtin(&c->tech, err, sizeof(err))) == LP_OK &&
      (rc = lp_analyzer_new(&c->analyzer, c->tech, NULL, err, sizeof(err))) == LP_OK)
    rc = lp_domain_set_builtin(&c->b2c);
  if (rc != LP_OK) {
    fprintf(stderr, "ingest_bench: setup: %s (%s)\n", err, lp_strerror(rc));
    return rc;
  }
  c->shards = (uint32_t)c->cfg.server.shards;
  c->batch = o->batch;
  c->now_ms = o->now_ms;
  c->index = 1;
  c->rules.max_future_ms = c->cfg.ingest.max_future_ms;
  c->rules.shards = c->shards;
  c->rules.b2c = c->b2c;
  return LP_OK;
}

static void ctx_free(ib_ctx *c) {
  lp_domain_set_free(c->b2c);
  lp_analyzer_free(c->analyzer);
  lp_techtable_free(c->tech);
  lp_config_free(&c->cfg);
}

static lp_stages *stages_load(ib_ctx *c) {
  lp_stages *st = NULL;
  char err[512] = "";
  if (lp_stages_load(&st, &c->cfg, NULL, err, sizeof(err)) != LP_OK) {
    fprintf(stderr, "ingest_bench: stages: %s\n", err);
    return NULL;
  }
  return st;
}

/* Splits the file into non-empty lines (views into buf). */
static ib_line *split_lines(char *buf, size_t len, size_t limit, size_t *n) {
  size_t cap = 1 << 16, k = 0;
  ib_line *v = lp_malloc(cap * sizeof(*v));
  for (size_t b = 0; v && b < len && (limit == 0 || k < limit);) {
    const char *nl = memchr(buf + b, '\n', len - b);
    size_t e = nl ? (size_t)(nl - buf) : len;
    if (e > b) {
      if (k == cap) {
        ib_line *g = lp_realloc(v, (cap *= 2) * sizeof(*v));
        if (g == NULL) break;
        v = g;
      }
      v[k++] = (ib_line){ buf + b, e - b };
    }
    b = e + 1;
  }
  *n = k;
  return v;
}

static void row(const char *what, size_t n, double s, double cpu, const char *note) {
  double rate = s > 0 ? (double)n / s : 0, per_core = cpu > 0 ? (double)n / cpu : 0;
  printf("  %-34s %9zu in %7.3f s  %10.0f /s  %10.0f /s per core%s%s\n", what, n, s, rate, per_core,
         note ? "  " : "", note ? note : "");
}

static void print_mem(const ib_mem *m, size_t applied, size_t rss_delta, size_t commit_delta, size_t throttle) {
  double n = applied ? (double)applied : 1;
  size_t sum = m->leads + m->evidence + m->termvec + m->termpool + m->index + m->dedupe;
  printf("\nmemory held after %zu snippets applied (1 worker; %zu leads, %zu evidence entries, %zu term entries, "
         "%zu postings, %zu of them stored in mutable segments):\n", applied, m->n_leads, m->n_ev, m->n_tv_terms,
         m->postings, m->mem_postings);
  printf("  RSS delta                 %12zu bytes  %8.1f bytes/snippet   (goal <= %.0f)\n", rss_delta,
         (double)rss_delta / n, GOAL_BYTES);
  if (commit_delta) printf("  allocator commit delta    %12zu bytes  %8.1f bytes/snippet\n", commit_delta,
                           (double)commit_delta / n);
  struct { const char *name; size_t b; const char *how; } parts[] = {
    { "lead table", m->leads, "walked, usable sizes: structs, slots, domain/name/industry, tech, churn" },
    { "evidence", m->evidence, "walked: slot arrays + id, miner, text, url strings" },
    { "  of which texts", m->ev_text, "walked: text bytes, inside the evidence blocks" },
    { "  of which slot arrays", m->ev_slots, "walked" },
    { "term vectors", m->termvec, "walked" },
    { "term pools", m->termpool, "walked" },
    { "index", m->index, "lp_index_stats.bytes" },
    { "  of which mutable segs", m->index_mem, "lp_index_stats.mem_bytes (uncompressed, the postings of the newest puts)" },
    { "dedupe tables", m->dedupe, "ESTIMATE from dedupe.c's growth rule" },
    { "throttle tables", throttle, "ESTIMATE: near-dup index at the default capacity (global, fixed)" },
  };
  for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
    printf("  %-24s %12zu bytes  %8.1f bytes/snippet  %5.1f %%   %s\n", parts[i].name, parts[i].b,
           (double)parts[i].b / n, sum ? 100.0 * (double)parts[i].b / (double)sum : 0, parts[i].how);
  printf("  %-24s %12zu bytes  %8.1f bytes/snippet   (shard parts, without throttle)\n", "sum of parts", sum,
         (double)sum / n);
}

int main(int argc, char **argv) {
  opts o;
  if (parse_opts(argc, argv, &o) != 0) {
    usage(stderr);
    return 2;
  }
  lp_alloc_install();
  lp_log_set_level(LP_LOG_WARN);
  lp_metrics *metrics = NULL;
  if (lp_metrics_new(&metrics, 1000) != LP_OK) return 1;
  lp_metrics_set_default(metrics);
  lp_metrics_thread_register();
  ib_ctx c;
  if (ctx_init(&c, &o) != LP_OK) return 1;
  lp_buf file = LP_BUF_INIT;
  char err[512] = "";
  if (lp_file_read(o.file, &file, err, sizeof(err)) != LP_OK) {
    fprintf(stderr, "ingest_bench: %s\n", err);
    return 1;
  }
  size_t n = 0;
  ib_line *lines = split_lines(file.data, file.len, o.limit, &n);
  if (lines == NULL || n == 0) {
    fprintf(stderr, "ingest_bench: no lines in %s\n", o.file);
    return 1;
  }
  size_t bytes = (size_t)(lines[n - 1].p + lines[n - 1].n - lines[0].p);
  char cpu_model[128];
  qb_cpu_model(cpu_model, sizeof(cpu_model));
  printf("ingest_bench: %s, %zu lines, %.1f MB (%.0f bytes/line); %ld cores (%s); shards %u, batch %u, "
         "evidence_per_lead %lld\n", o.file, n, (double)bytes / 1e6, (double)bytes / (double)n,
         sysconf(_SC_NPROCESSORS_ONLN), cpu_model, c.shards, c.batch, (long long)c.cfg.ingest.evidence_per_lead);

  /* ---- references ---- */
  printf("\nreferences (one thread):\n");
  char *copy = lp_malloc(bytes);
  double t0 = ib_now();
  for (int k = 0; k < 4; k++) memcpy(copy, lines[0].p, bytes);
  double t_memcpy = (ib_now() - t0) / 4;
  lp_free(copy);
  printf("  memcpy of the file            %8.0f MB/s  (= %.0f lines/s)\n", (double)bytes / t_memcpy / 1e6,
         (double)n / t_memcpy);
  t0 = ib_now();
  double c0 = ib_cpu_self();
  for (size_t i = 0; i < n; i++) {
    json_error_t je;
    json_decref(json_loadb(lines[i].p, lines[i].n, JSON_DECODE_ANY, &je));
  }
  double t_jansson = ib_now() - t0, cpu_jansson = ib_cpu_self() - c0;
  row("jansson json_loadb + decref", n, t_jansson, cpu_jansson, NULL);

  /* ---- decode ---- */
  lp_snippet **snip = lp_calloc(n, sizeof(*snip));
  size_t ok = 0, rej = 0;
  double t_parse = 0, t_valid = 0;
  t0 = ib_now();
  c0 = ib_cpu_self();
  for (size_t i = 0; i < n; i++) {
    json_error_t je;
    double a = ib_now();
    json_t *j = json_loadb(lines[i].p, lines[i].n, JSON_DECODE_ANY, &je);
    double b = ib_now();
    lp_reject rj;
    if (lp_snippet_from_json(j, &c.rules, c.now_ms, &snip[ok], &rj) == LP_OK) ok++;
    else rej++;
    double e = ib_now();
    json_decref(j);
    t_parse += b - a;
    t_valid += e - b;
  }
  double t_decode = ib_now() - t0, cpu_decode = ib_cpu_self() - c0;
  printf("\nstages (one thread unless said):\n");
  row("decode: parse + validate", n, t_decode, cpu_decode, NULL);
  row("  of which jansson parse", n, t_parse, t_parse * cpu_decode / t_decode, NULL);
  char note[160];
  snprintf(note, sizeof(note), "(%zu valid, %zu rejected)", ok, rej);
  row("  of which lp_snippet_from_json", n, t_valid, t_valid * cpu_decode / t_decode, note);

  /* ---- admission ---- */
  size_t commit0 = lp_alloc_resident();
  lp_stages *stages = stages_load(&c);
  if (stages == NULL) return 1;
  size_t adm = 0, thr = 0;
  t0 = ib_now();
  c0 = ib_cpu_self();
  for (size_t i = 0; i < ok; i++) {
    lp_verdict v = { NULL, { 0 } };
    if (lp_stages_admit(stages, snip[i], &v) == LP_STAGE_DROP) {
      lp_free(snip[i]);
      thr++;
    } else {
      snip[adm++] = snip[i];
    }
  }
  double t_admit = ib_now() - t0, cpu_admit = ib_cpu_self() - c0;
  /* The throttle's near-duplicate index is allocated whole at init (neardup.c): two generations of
   * near_dup_capacity / 2 entries and 4 x 65536 chain heads each; its miner table is small (50 miners). At the
   * default near_dup_capacity, 262144. The allocator's commit rarely moves for it (freed parse memory is
   * reused), so the figure is this estimate unless the commit grew by more. */
  size_t throttle_bytes = 2 * ((size_t)131072 * sizeof(lp__thr_nd_entry) + 4 * 65536 * sizeof(uint32_t));
  size_t commit_admit = lp_alloc_resident();  /* the commit may also shrink (freed parse memory returned) */
  if (commit_admit > commit0 && commit_admit - commit0 > throttle_bytes) throttle_bytes = commit_admit - commit0;
  snprintf(note, sizeof(note), "(%zu admitted, %zu dropped by the throttle)", adm, thr);
  row("admit: lp_stages_admit", ok, t_admit, cpu_admit, note);

  /* ---- analyzer alone ---- */
  {
    lp_analyzer_ctx *actx = NULL;
    lp_termfreqs tf = LP_TERMFREQS_INIT;
    size_t terms = 0, tb = 0;
    if (lp_analyzer_ctx_new(&actx, c.analyzer, err, sizeof(err)) != LP_OK) return 1;
    t0 = ib_now();
    c0 = ib_cpu_self();
    for (size_t i = 0; i < adm; i++) {
      lp_analyze_terms(actx, snip[i]->text.ptr, snip[i]->text.len, &tf);
      terms += tf.n;
      tb += snip[i]->text.len;
    }
    double t_an = ib_now() - t0, cpu_an = ib_cpu_self() - c0;
    snprintf(note, sizeof(note), "(%.1f distinct terms/snippet, %.0f MB/s)", (double)terms / (double)adm,
             (double)tb / cpu_an / 1e6);
    row("analyze: lp_analyze_terms", adm, t_an, cpu_an, note);
    lp_termfreqs_free(&tf);
    lp_analyzer_ctx_free(actx);
  }

  /* ---- apply ---- */
  double best_apply = 0;
  for (size_t k = 0; o.apply && k < o.n_workers; k++) {
    uint32_t w = o.workers[k];
    ib_pool pool = { 0 };
    ib_result r;
    size_t rss0 = ib_rss(), cm0 = lp_alloc_resident();
    if (ib_apply(&c, stages, w, snip, adm, &pool, &r) != LP_OK) return 1;
    size_t rss1 = ib_rss(), cm1 = lp_alloc_resident();
    char what[64];
    snprintf(what, sizeof(what), "apply: %u worker%s", w, w > 1 ? "s" : "");
    snprintf(note, sizeof(note), "(%zu applied, %zu dropped; flush %.0f%%, ticks %.0f%% of CPU)", r.applied,
             r.dropped, r.cpu_s > 0 ? 100 * r.flush_s / r.cpu_s : 0, r.cpu_s > 0 ? 100 * r.tick_s / r.cpu_s : 0);
    row(what, adm, r.wall_s, r.cpu_s, note);
    if (r.cpu_s > 0 && (double)adm / r.cpu_s > best_apply) best_apply = (double)adm / r.cpu_s;
    if (k == 0) {
      ib_mem m;
      ib_pool_mem(&pool, &m, (uint64_t)c.cfg.ingest.dedupe_capacity);
      ib_pool_close(&pool);
      c.index = 0;
      ib_pool bare = { 0 };
      ib_result rb;
      if (ib_apply(&c, stages, w, snip, adm, &bare, &rb) != LP_OK) return 1;
      snprintf(what, sizeof(what), "apply without index: %u worker%s", w, w > 1 ? "s" : "");
      row(what, adm, rb.wall_s, rb.cpu_s, "(lead table + per-shard stages only)");
      ib_pool_close(&bare);
      c.index = 1;
      print_mem(&m, r.applied, rss1 > rss0 ? rss1 - rss0 : 0, cm1 > cm0 ? cm1 - cm0 : 0, throttle_bytes);
      printf("\n");
    } else {
      ib_pool_close(&pool);
    }
  }
  for (size_t i = 0; i < adm; i++) lp_free(snip[i]);
  lp_free(snip);
  lp_stages_free(stages);

  /* ---- end to end ---- */
  double best_e2e = 0;
  if (o.e2e) printf("end to end (parse, decode, admit on one thread; apply on the workers):\n");
  for (size_t k = 0; o.e2e && k < o.n_workers; k++) {
    uint32_t w = o.workers[k];
    lp_stages *st = stages_load(&c);
    if (st == NULL) return 1;
    ib_pool pool = { 0 };
    ib_result r;
    if (ib_e2e(&c, st, w, lines, n, &pool, &r) != LP_OK) return 1;
    char what[64];
    snprintf(what, sizeof(what), "e2e: %u worker%s", w, w > 1 ? "s" : "");
    snprintf(note, sizeof(note), "(%zu applied, %zu rejected, %zu throttled, %zu dropped; decode thread %.0f%% of CPU)",
             r.applied, r.rejected, r.throttled, r.dropped, r.cpu_s > 0 ? 100 * r.decode_cpu_s / r.cpu_s : 0);
    row(what, n, r.wall_s, r.cpu_s, note);
    if (r.cpu_s > 0 && (double)n / r.cpu_s > best_e2e) best_e2e = (double)n / r.cpu_s;
    ib_pool_close(&pool);
    lp_stages_free(st);
  }

  printf("\nsummary:\n");
  printf("  decode   %10.0f snippets/s per core  = %.2f x jansson parse alone, %.3f x memcpy\n",
         (double)n / cpu_decode, cpu_jansson / cpu_decode, t_memcpy / cpu_decode);
  printf("  admit    %10.0f snippets/s per core\n", (double)ok / cpu_admit);
  if (o.apply) printf("  apply    %10.0f snippets/s per core (best)\n", best_apply);
  if (o.e2e)
    printf("  e2e      %10.0f snippets/s per core (best; goal >= %.0f: %s)  = %.2f x jansson parse alone\n",
           best_e2e, GOAL_PER_CORE, best_e2e >= GOAL_PER_CORE ? "met" : "NOT met",
           best_e2e * cpu_jansson / (double)n);
  lp_free(lines);
  lp_buf_free(&file);
  ctx_free(&c);
  lp_metrics_free(metrics);
  return 0;
}
