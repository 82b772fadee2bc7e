/*
 * bm25_vs_xapian: the same corpus in leadpoet's shard index (core/index) and in Xapian, the same queries,
 * the same BM25 parameters; prints the mean top-k overlap and the query-time ratio leadpoet / Xapian.
 * See perf/README.md for what is compared and what differs between the two BM25 formulas.
 *
 *   bm25_vs_xapian [--world DIR | --leads N [--snippets N] [--seed N]] [--queries N] [--rounds R] [-k K]
 *                  [--k1 X] [--b X] [--idf robertson|lucene] [--min-normlen X] [--backend glass|inmemory]
 *                  [--world-bin PATH] [--json]
 *
 * A benchmark: prints figures, asserts nothing; exit 1 when it could not measure, 2 on a usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "corpus.h"
#include "index/index.h"
#include "qb_proc.h"
#include "text/analyzer.h"
#include "text/techtable.h"
#include "xap.h"

#define MAX_K 1000
#define MAX_ROUNDS 99

typedef struct opts {
  const char *world, *world_bin, *backend, *idf;
  unsigned long long leads, snippets, seed;
  unsigned long queries, k, rounds;
  double k1, b, min_normlen;
  int json;
} opts;

typedef struct bench {
  opts o;
  char world[400], xdir[400];
  int world_tmp;
  lp_index *idx;
  xap *x;
  lp_index_term *lt;      /* scratch: one document's or query's terms */
  xap_term *xt;
  size_t tcap;
  uint64_t lp_put_ns, xap_add_ns, lp_step_ns, xap_commit_ns;
  uint64_t postings;
  char err[512];
} bench;

static void usage(FILE *f) {
  fprintf(f, "usage: bm25_vs_xapian [options]\n"
             "  --world DIR        the market to index (generated there when DIR/snippets.jsonl is absent)\n"
             "  --leads N          leads of a generated market (default 100000)\n"
             "  --snippets N       snippets of a generated market (default 10 x leads)\n"
             "  --seed N           world seed (default 1)\n"
             "  --queries N        queries timed on each engine (default 1000), the prompts used in turn\n"
             "  --rounds R         timed rounds per engine, order rotating; the median is reported (default 3)\n"
             "  -k K               top-k compared (default 25)\n"
             "  --k1 X, --b X      BM25 parameters of both engines (default 1.2 and 0.75)\n"
             "  --idf I            leadpoet's idf: robertson (the index's default, = Xapian's) or lucene\n"
             "  --min-normlen X    Xapian BM25Weight's clamp of dl/avgdl (default 0.5, Xapian's own;\n"
             "                     leadpoet has none: 0 removes it from Xapian too)\n"
             "  --backend B        Xapian backend: glass (default; a database in /dev/shm, i.e. in memory)\n"
             "                     or inmemory\n"
             "  --world-bin PATH   the world generator (default %s)\n"
             "  --json             one JSON object on stdout\n", LP_BENCH_WORLD);
}

static int num(const char *v, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double d = strtod(v, &end);
  if (errno || end == v || *end || !(d >= lo && d <= hi)) return -1;
  *out = d;
  return 0;
}

static int parse(int argc, char **argv, opts *o) {
  *o = (opts){ .world_bin = LP_BENCH_WORLD, .backend = "glass", .idf = "robertson", .leads = 100000, .seed = 1,
               .queries = 1000, .rounds = 3, .k = 25, .k1 = 1.2, .b = 0.75, .min_normlen = 0.5 };
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    double d = 0;
    int bad = 0;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); exit(0); }
    if (!strcmp(a, "--json")) { o->json = 1; continue; }
    static const char *const valued[] = { "--world", "--world-bin", "--backend", "--leads", "--snippets", "--seed",
                                          "--queries", "--rounds", "-k", "--k1", "--b", "--idf", "--min-normlen", NULL };
    int known = 0;
    for (int n = 0; valued[n]; n++) known |= !strcmp(a, valued[n]);
    if (!known) { fprintf(stderr, "bm25_vs_xapian: unknown option '%s' (see --help)\n", a); return -1; }
    if (!v) { fprintf(stderr, "bm25_vs_xapian: %s needs a value (see --help)\n", a); return -1; }
    if (!strcmp(a, "--world")) o->world = v;
    else if (!strcmp(a, "--world-bin")) o->world_bin = v;
    else if (!strcmp(a, "--backend")) { o->backend = v; bad = strcmp(v, "glass") && strcmp(v, "inmemory"); }
    else if (!strcmp(a, "--leads")) { bad = num(v, 1, 50e6, &d); o->leads = (unsigned long long)d; }
    else if (!strcmp(a, "--snippets")) { bad = num(v, 1, 1e10, &d); o->snippets = (unsigned long long)d; }
    else if (!strcmp(a, "--seed")) { bad = num(v, 0, 1e18, &d); o->seed = (unsigned long long)d; }
    else if (!strcmp(a, "--queries")) { bad = num(v, 1, 1e8, &d); o->queries = (unsigned long)d; }
    else if (!strcmp(a, "--rounds")) { bad = num(v, 1, MAX_ROUNDS, &d); o->rounds = (unsigned long)d; }
    else if (!strcmp(a, "-k")) { bad = num(v, 1, MAX_K, &d); o->k = (unsigned long)d; }
    else if (!strcmp(a, "--k1")) bad = num(v, 0, 100, &o->k1);
    else if (!strcmp(a, "--b")) bad = num(v, 0, 1, &o->b);
    else if (!strcmp(a, "--min-normlen")) bad = num(v, 0, 100, &o->min_normlen);
    else if (!strcmp(a, "--idf")) { o->idf = v; bad = strcmp(v, "robertson") && strcmp(v, "lucene"); }
    if (bad) { fprintf(stderr, "bm25_vs_xapian: bad value '%s' for %s (see --help)\n", v, a); return -1; }
    i++;
  }
  if (!o->snippets) o->snippets = o->leads * 10;
  return 0;
}

static int has_file(const char *dir, const char *name) {
  char p[600];
  struct stat st;
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return stat(p, &st) == 0;
}

static int make_world(bench *B) {
  if (B->o.world) {
    snprintf(B->world, sizeof B->world, "%s", B->o.world);
    if (has_file(B->world, "snippets.jsonl") && has_file(B->world, "prompts.jsonl")) return 0;
  } else {
    snprintf(B->world, sizeof B->world, "/tmp/bm25_vs_xapian.XXXXXX");
    if (!mkdtemp(B->world)) {
      snprintf(B->err, sizeof B->err, "mkdtemp: %s", strerror(errno));
      return -1;
    }
    B->world_tmp = 1;
  }
  char leads[32], snippets[32], seed[32];
  snprintf(leads, sizeof leads, "%llu", B->o.leads);
  snprintf(snippets, sizeof snippets, "%llu", B->o.snippets);
  snprintf(seed, sizeof seed, "%llu", B->o.seed);
  char *argv[] = { (char *)B->o.world_bin, "--out", B->world, "--leads", leads, "--snippets", snippets, "--seed",
                   seed, "--outcomes", "0", "--quiet", NULL };
  if (!B->o.json) fprintf(stderr, "generating %s leads, %s snippets into %s ...\n", leads, snippets, B->world);
  pid_t pid = qb_spawn(argv, NULL, B->err, sizeof B->err);
  if (pid < 0) return -1;
  if (qb_wait(pid) != 0) {
    snprintf(B->err, sizeof B->err, "%s failed", B->o.world_bin);
    return -1;
  }
  return 0;
}

static int grow_scratch(bench *B, size_t n) {
  if (n <= B->tcap) return 0;
  size_t cap = B->tcap ? B->tcap : 256;
  while (cap < n) cap *= 2;
  lp_index_term *lt = lp_realloc(B->lt, cap * sizeof *lt);
  if (lt) B->lt = lt;
  xap_term *xt = lt ? lp_realloc(B->xt, cap * sizeof *xt) : NULL;
  if (xt) B->xt = xt;
  if (!lt || !xt) return -1;
  B->tcap = cap;
  return 0;
}

/* One lead into both engines, the same bag of terms: leadpoet's weight = Xapian's wdf = the count. */
static int add_doc(void *arg, uint32_t doc, const lp_termfreqs *tf) {
  bench *B = arg;
  if (grow_scratch(B, tf->n) != 0) return -1;
  size_t n = tf->n > LP_INDEX_MAX_DOC_TERMS ? LP_INDEX_MAX_DOC_TERMS : tf->n;
  for (size_t i = 0; i < n; i++) {
    B->lt[i] = (lp_index_term){ tf->v[i].term, tf->v[i].len, (double)tf->v[i].count };
    B->xt[i] = (xap_term){ tf->v[i].term, tf->v[i].len, tf->v[i].count };
  }
  uint64_t t0 = lp_mono_ns();
  int rc = lp_index_put(B->idx, doc, B->lt, n);
  uint64_t t1 = lp_mono_ns();
  if (rc == 0) rc = xap_add(B->x, B->xt, n, B->err, sizeof B->err);
  uint64_t t2 = lp_mono_ns();
  B->lp_put_ns += t1 - t0;
  B->xap_add_ns += t2 - t1;
  B->postings += n;
  return rc;
}

/* Builds both indexes from the world's snippets; leadpoet's is then compacted by step() to its steady
 * state (compressed segments), Xapian's committed and reopened. */
static int build(bench *B, lp_analyzer_ctx *ctx, uint32_t *ndocs) {
  lp_index_params p;
  lp_index_params_default(&p);
  p.k1 = B->o.k1;
  p.b = B->o.b;
  p.idf = strcmp(B->o.idf, "lucene") ? LP_INDEX_IDF_ROBERTSON : LP_INDEX_IDF_LUCENE;
  if (lp_index_new(&B->idx, &p, B->err, sizeof B->err) != 0) return -1;
  const char *xdir = NULL;
  if (!strcmp(B->o.backend, "glass")) {
    snprintf(B->xdir, sizeof B->xdir, "%s/bm25_vs_xapian.XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(B->xdir)) {
      snprintf(B->err, sizeof B->err, "mkdtemp %s: %s", B->xdir, strerror(errno));
      B->xdir[0] = '\0';
      return -1;
    }
    xdir = B->xdir;
  }
  if (xap_new(&B->x, xdir, B->o.k1, B->o.b, B->o.min_normlen, p.idf == LP_INDEX_IDF_LUCENE, B->err, sizeof B->err) != 0)
    return -1;
  char path[600];
  snprintf(path, sizeof path, "%s/snippets.jsonl", B->world);
  if (!B->o.json) fprintf(stderr, "indexing %s into both engines ...\n", path);
  if (corpus_walk(path, ctx, add_doc, B, ndocs, B->err, sizeof B->err) != 0) return -1;
  uint64_t t0 = lp_mono_ns();
  int more = 1;
  while (more)
    if (lp_index_step(B->idx, 1u << 20, &more) != 0) {
      snprintf(B->err, sizeof B->err, "lp_index_step: %s", lp_index_errstr(B->idx));
      return -1;
    }
  uint64_t t1 = lp_mono_ns();
  if (xap_commit(B->x, B->err, sizeof B->err) != 0) return -1;
  B->lp_step_ns = t1 - t0;
  B->xap_commit_ns = lp_mono_ns() - t1;
  return 0;
}

typedef struct results {
  double lp_s, xap_s, xap_lpidf_s;
  double overlap, overlap_lpidf;
  unsigned long full, full_lpidf;   /* queries whose top-k sets are equal */
} results;

/* |A ∩ B| / k, or over the larger answer when both hold fewer than k (1 when both are empty). */
static double overlap_of(const lp_index_hit *a, size_t na, const uint32_t *b, size_t nb, size_t k) {
  size_t common = 0;
  for (size_t i = 0; i < na; i++)
    for (size_t j = 0; j < nb; j++)
      if (a[i].doc + 1 == b[j]) {
        common++;
        break;
      }
  size_t den = na > nb ? na : nb;
  if (den == 0) return 1.0;
  return (double)common / (double)(den < k ? den : k);
}

/* Runs the queries on one engine (engine 0 = leadpoet, 1 = Xapian BM25Weight, 2 = Xapian with leadpoet's
 * idf); when hits/docs are given, keeps every answer for the overlap. Returns the seconds spent, < 0 on error. */
static double run_engine(bench *B, int engine, const corpus_query *q, size_t nq, lp_index_hit *hits, size_t *nh,
                         uint32_t *docs, size_t *nd) {
  size_t k = B->o.k;
  lp_index_hit tmp[MAX_K];
  uint32_t dtmp[MAX_K];
  uint64_t total = 0;
  for (unsigned long i = 0; i < B->o.queries; i++) {
    const corpus_query *Q = &q[i % nq];
    if (grow_scratch(B, Q->n) != 0) return -1;
    for (size_t t = 0; t < Q->n; t++) {
      size_t len = strlen(Q->terms[t]);
      B->lt[t] = (lp_index_term){ Q->terms[t], len, 1.0 };
      B->xt[t] = (xap_term){ Q->terms[t], len, 1 };
    }
    size_t n = 0;
    int rc;
    uint64_t t0 = lp_mono_ns();
    if (engine == 0) rc = lp_index_topk(B->idx, B->lt, Q->n, NULL, k, hits ? hits + i * k : tmp, &n);
    else rc = xap_search(B->x, engine == 1 ? XAP_WEIGHT_BM25 : XAP_WEIGHT_LPIDF, B->xt, Q->n, k,
                         docs ? docs + i * k : dtmp, NULL, &n, B->err, sizeof B->err);
    total += lp_mono_ns() - t0;
    if (rc != 0) {
      if (engine == 0) snprintf(B->err, sizeof B->err, "lp_index_topk: %s", lp_index_errstr(B->idx));
      return -1;
    }
    if (nh) nh[i] = n;
    if (nd) nd[i] = n;
  }
  return (double)total / 1e9;
}

static int dcmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : (x > y);
}

static double median(double *v, size_t n) {
  qsort(v, n, sizeof *v, dcmp);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int measure(bench *B, const corpus_query *q, size_t nq, results *r) {
  size_t n = B->o.queries, k = B->o.k;
  lp_index_hit *hits = lp_malloc(n * k * sizeof *hits);
  uint32_t *docs = lp_malloc(n * k * sizeof *docs), *docs2 = lp_malloc(n * k * sizeof *docs2);
  size_t *nh = lp_malloc(n * sizeof *nh), *nd = lp_malloc(n * sizeof *nd), *nd2 = lp_malloc(n * sizeof *nd2);
  int rc = -1;
  memset(r, 0, sizeof *r);
  if (!hits || !docs || !docs2 || !nh || !nd || !nd2) {
    snprintf(B->err, sizeof B->err, "out of memory for %zu answers", n);
    goto out;
  }
  /* Warm-up: every query once on each engine, untimed; then the timed runs, in the same order. */
  for (int e = 0; e < 3; e++)
    if (run_engine(B, e, q, nq, NULL, NULL, NULL, NULL) < 0) goto out;
  /* Timed rounds; the order of the engines rotates between rounds so that none always runs first (or on a
   * quieter machine); each engine's figure is the median of its rounds. Answers are kept from round 0. */
  double t[3][MAX_ROUNDS];
  for (unsigned long round = 0; round < B->o.rounds; round++)
    for (int j = 0; j < 3; j++) {
      int e = (int)((round + (unsigned long)j) % 3);
      int keep = round == 0;
      t[e][round] = run_engine(B, e, q, nq, keep && e == 0 ? hits : NULL, keep && e == 0 ? nh : NULL,
                               keep && e ? (e == 1 ? docs : docs2) : NULL, keep && e ? (e == 1 ? nd : nd2) : NULL);
      if (t[e][round] < 0) goto out;
    }
  r->lp_s = median(t[0], B->o.rounds);
  r->xap_s = median(t[1], B->o.rounds);
  r->xap_lpidf_s = median(t[2], B->o.rounds);
  for (size_t i = 0; i < n; i++) {
    double o1 = overlap_of(hits + i * k, nh[i], docs + i * k, nd[i], k);
    double o2 = overlap_of(hits + i * k, nh[i], docs2 + i * k, nd2[i], k);
    r->overlap += o1;
    r->overlap_lpidf += o2;
    r->full += o1 == 1.0;
    r->full_lpidf += o2 == 1.0;
  }
  r->overlap /= (double)n;
  r->overlap_lpidf /= (double)n;
  rc = 0;
out:
  lp_free(hits);
  lp_free(docs);
  lp_free(docs2);
  lp_free(nh);
  lp_free(nd);
  lp_free(nd2);
  return rc;
}

static void report(const bench *B, uint32_t ndocs, const corpus_query *q, size_t nq, const results *r) {
  double terms = 0;
  for (unsigned long i = 0; i < B->o.queries; i++) terms += (double)q[i % nq].n;
  terms /= (double)B->o.queries;
  lp_index_stats st;
  lp_index_stats_get(B->idx, &st);
  uint64_t xdocs = 0;
  double xavg = 0;
  xap_stats(B->x, &xdocs, &xavg);
  double ratio = r->xap_s > 0 ? r->lp_s / r->xap_s : 0;
  struct utsname u;
  int have_u = uname(&u) == 0;
  if (B->o.json) {
    json_t *j = json_pack(
        "{s:{s:I, s:s}, s:{s:s, s:I, s:I, s:I, s:f, s:f, s:s}, s:{s:I, s:I, s:f, s:f, s:I}, "
        "s:{s:f, s:f, s:f, s:f}, s:{s:f, s:f, s:f, s:f, s:f, s:I, s:I, s:f}, s:{s:f, s:f}}",
        "machine", "cores", (json_int_t)sysconf(_SC_NPROCESSORS_ONLN), "kernel", have_u ? u.release : "unknown",
        "params", "world", B->world, "docs", (json_int_t)ndocs, "queries", (json_int_t)B->o.queries, "k",
        (json_int_t)B->o.k, "k1", B->o.k1, "b", B->o.b, "xapian_backend", B->o.backend,
        "index", "postings", (json_int_t)st.postings, "terms", (json_int_t)st.terms, "avgdl_leadpoet",
        st.docs ? st.sum_dl / (double)st.docs : 0.0, "avgdl_xapian", xavg, "leadpoet_bytes", (json_int_t)st.bytes,
        "build_s", "leadpoet_put", (double)B->lp_put_ns / 1e9, "leadpoet_step", (double)B->lp_step_ns / 1e9,
        "xapian_add", (double)B->xap_add_ns / 1e9, "xapian_commit", (double)B->xap_commit_ns / 1e9,
        "results", "leadpoet_s", r->lp_s, "xapian_s", r->xap_s, "ratio", ratio, "overlap", r->overlap,
        "overlap_xapian_lpidf", r->overlap_lpidf, "identical_topk", (json_int_t)r->full, "identical_topk_lpidf",
        (json_int_t)r->full_lpidf, "xapian_lpidf_s", r->xap_lpidf_s, "goals", "overlap_min", 0.99, "ratio_max", 0.5);
    if (j) json_object_set_new(json_object_get(j, "params"), "rounds", json_integer((json_int_t)B->o.rounds));
    if (j) json_object_set_new(json_object_get(j, "params"), "terms_per_query", json_real(terms));
    if (j) json_object_set_new(json_object_get(j, "params"), "idf", json_string(B->o.idf));
    if (j) json_object_set_new(json_object_get(j, "params"), "xapian_min_normlen", json_real(B->o.min_normlen));
    char *s = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    if (s) printf("%s\n", s);
    free(s);
    json_decref(j);
    return;
  }
  printf("bm25_vs_xapian: %u leads (%s), %lu queries from %zu prompts x %lu rounds, top-%lu, k1 %.2f b %.2f, %ld cores, Linux %s\n",
         ndocs, B->world, B->o.queries, nq, B->o.rounds, B->o.k, B->o.k1, B->o.b, sysconf(_SC_NPROCESSORS_ONLN),
         have_u ? u.release : "unknown");
  printf("  leadpoet idf %s; Xapian BM25Weight(k1, k2 = 0, k3 = 1, b, min_normlen = %.2f)\n", B->o.idf, B->o.min_normlen);
  printf("  queries: %.2f terms per query on average (distinct analyzed terms of the prompt, OR-ed)\n", terms);
  printf("  corpus: %llu postings, %llu terms; avgdl leadpoet %.3f, Xapian %.3f (%llu docs)\n",
         (unsigned long long)st.postings, (unsigned long long)st.terms, st.docs ? st.sum_dl / (double)st.docs : 0.0,
         xavg, (unsigned long long)xdocs);
  printf("  build: leadpoet put %.2f s + step %.2f s (%.1f MB, %.1f bytes/posting); Xapian (%s) add %.2f s + "
         "commit %.2f s\n", (double)B->lp_put_ns / 1e9, (double)B->lp_step_ns / 1e9, (double)st.bytes / 1048576.0,
         st.bytes_per_posting, B->o.backend, (double)B->xap_add_ns / 1e9, (double)B->xap_commit_ns / 1e9);
  printf("\n  %-44s %12s %12s %10s\n", "", "figure", "goal", "");
  printf("  %-44s %12.4f %12s %10s\n", "top-k overlap, Xapian BM25Weight", r->overlap, ">= 0.99",
         r->overlap >= 0.99 ? "met" : "not met");
  printf("  %-44s %12.4f %12s\n", "  (Xapian with leadpoet's idf, no normlen clamp)", r->overlap_lpidf, "");
  printf("  %-44s %12lu\n", "  queries with identical top-k sets", r->full);
  printf("  %-44s %12lu\n", "  (Xapian with leadpoet's idf, no normlen clamp)", r->full_lpidf);
  printf("  %-44s %12.3f\n", "leadpoet time, all queries (s, median)", r->lp_s);
  printf("  %-44s %12.3f\n", "Xapian time, all queries (s, median)", r->xap_s);
  printf("  %-44s %12.3f\n", "  (Xapian with leadpoet's idf)", r->xap_lpidf_s);
  printf("  %-44s %12.3f %12s %10s\n", "time ratio leadpoet / Xapian", ratio, "<= 0.5", ratio <= 0.5 ? "met" : "not met");
  printf("  %-44s %12.1f / %.1f\n", "mean per query, leadpoet / Xapian (us)", r->lp_s / (double)B->o.queries * 1e6,
         r->xap_s / (double)B->o.queries * 1e6);
}

int main(int argc, char **argv) {
  static bench B;
  if (parse(argc, argv, &B.o) != 0) return 2;
  lp_techtable *tech = NULL;
  lp_analyzer *an = NULL;
  lp_analyzer_ctx *ctx = NULL;
  corpus_query *q = NULL;
  size_t nq = 0;
  uint32_t ndocs = 0;
  results r;
  int ok = make_world(&B) == 0 && lp_techtable_builtin(&tech, B.err, sizeof B.err) == 0 &&
           lp_analyzer_new(&an, tech, NULL, B.err, sizeof B.err) == 0 &&
           lp_analyzer_ctx_new(&ctx, an, B.err, sizeof B.err) == 0 && build(&B, ctx, &ndocs) == 0;
  if (ok) {
    char path[600];
    snprintf(path, sizeof path, "%s/prompts.jsonl", B.world);
    ok = corpus_queries(path, ctx, &q, &nq, B.err, sizeof B.err) == 0;
  }
  if (ok && !B.o.json) fprintf(stderr, "running %lu queries on each engine (plus a warm-up pass) ...\n", B.o.queries);
  if (ok) ok = measure(&B, q, nq, &r) == 0;
  if (ok) report(&B, ndocs, q, nq, &r);
  else fprintf(stderr, "bm25_vs_xapian: %s\n", B.err);
  corpus_queries_free(q, nq);
  xap_free(B.x);
  if (B.xdir[0]) qb_rmtree(B.xdir);
  lp_index_free(B.idx);
  lp_analyzer_ctx_free(ctx);
  lp_analyzer_free(an);
  lp_techtable_free(tech);
  lp_free(B.lt);
  lp_free(B.xt);
  if (B.world_tmp) qb_rmtree(B.world);
  return ok ? 0 : 1;
}
