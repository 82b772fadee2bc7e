/*
 * analyzer_bench: throughput of the text analyzer (core/text/analyzer.h) on synthetic snippets of about
 * 300 bytes, printed side by side with a reference measured in the same run: utf8proc_map (NFKC, case
 * folding, marks stripped) alone, the allocating one-call normaliser the analyzer avoids.
 *
 *   build/perf/analyzer_bench [--snippets N] [--rounds R]
 *
 * Prints the time to build the technology table, then per round MB/s and snippets/s of lp_analyze,
 * lp_analyze_terms and the reference, and the medians. Budget (issue 5): the analyzer at >= 50 MB/s,
 * i.e. well inside 20,000 snippets/s of ~300 bytes on one core for the whole ingest path.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <utf8proc.h>

#include "text/analyzer.h"

static const char *const words[] = {
  "hiring", "senior", "engineers", "to", "migrate", "from", "the", "legacy", "platform", "and", "we", "are",
  "expanding", "our", "sales", "team", "in", "EMEA", "after", "raising", "Series", "B", "funding", "of",
  "$40M", "company", "announced", "new", "data", "pipeline", "using", "Google Analytics", "Stripe",
  "Salesforce", "HubSpot", "Node.js", "React", "Kubernetes", "AWS", "Heroku", "C#", ".NET", "Shopify",
  "customers", "revenue", "growth", "payments", "checkout", "warehouse", "compliance", "SOC 2", "cloud",
  "café", "Zürich", "office", "opening", "São Paulo", "marketing", "automation", "CRM", "replacing",
  "evaluating", "vendors", "budget", "Q3", "2025", "roadmap", "analytics", "dashboards", "security",
};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 16);
}

/* A pseudo-word of the long tail: word k of a 50,000-word vocabulary made of syllables ("tarominges"). */
static size_t tail_word(uint32_t k, char *out) {
  static const char *const syl[] = { "ta", "ro", "min", "ges", "vel", "cor", "pa", "lis", "ent", "ing",
                                      "ka", "dor", "sum", "er", "ly", "tion", "bra", "qui", "nes", "ful" };
  size_t n = 0;
  for (int i = 0; i < 4; i++, k /= 20) {
    const char *s = syl[k % 20];
    size_t l = strlen(s);
    memcpy(out + n, s, l);
    n += l;
  }
  return n;
}

/* n snippets of ~300 bytes, deterministic, one after another, each NUL-terminated: 3 words in 4 from a
 * frequent vocabulary with technology names and accents, 1 in 4 from a long tail that defeats the stem
 * cache as a real corpus would. */
static char *make_corpus(size_t n, size_t **offs, size_t *total) {
  char *buf = malloc(n * 320);
  *offs = malloc((n + 1) * sizeof **offs);
  if (!buf || !*offs) return NULL;
  size_t len = 0, bytes = 0;
  for (size_t i = 0; i < n; i++) {
    (*offs)[i] = len;
    size_t start = len;
    while (len - start < 290) {
      if (next_rand() % 4 == 0) {
        len += tail_word(next_rand() % 50000, buf + len);
      } else {
        const char *w = words[next_rand() % (sizeof words / sizeof words[0])];
        size_t wl = strlen(w);
        memcpy(buf + len, w, wl);
        len += wl;
      }
      buf[len++] = next_rand() % 9 == 0 ? '.' : ' ';
    }
    bytes += len - start;
    buf[len++] = '\0';
  }
  (*offs)[n] = len;
  *total = bytes;
  return buf;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  size_t n = 20000, rounds = 5;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--snippets") == 0 && i + 1 < argc) n = strtoul(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) rounds = strtoul(argv[++i], NULL, 10);
    else {
      fprintf(stderr, "usage: %s [--snippets N] [--rounds R]\n", argv[0]);
      return 2;
    }
  }
  if (n == 0 || rounds == 0 || rounds > 100) {
    fprintf(stderr, "snippets >= 1 and 1 <= rounds <= 100\n");
    return 2;
  }
  char err[256];
  lp_techtable *tt;
  double t0 = now_s();
  if (lp_techtable_builtin(&tt, err, sizeof err) != 0) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  printf("technology table: %zu technologies, %u categories, built in %.1f ms\n", lp_techtable_count(tt),
         lp_techtable_category_count(tt), (now_s() - t0) * 1e3);
  lp_analyzer *an;
  lp_analyzer_ctx *ctx;
  if (lp_analyzer_new(&an, tt, NULL, err, sizeof err) != 0 || lp_analyzer_ctx_new(&ctx, an, err, sizeof err) != 0) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  size_t *offs, bytes;
  char *corpus = make_corpus(n, &offs, &bytes);
  if (!corpus) return 1;
  printf("corpus: %zu snippets, %.1f bytes each on average\n", n, (double)bytes / (double)n);

  lp_tokens toks = LP_TOKENS_INIT;
  lp_termfreqs tf = LP_TERMFREQS_INIT;
  double mb[3][100];
  size_t ntok = 0;
  for (size_t r = 0; r < rounds; r++) {
    for (int k = 0; k < 3; k++) {
      double s = now_s();
      for (size_t i = 0; i < n; i++) {
        const char *p = corpus + offs[i];
        size_t len = offs[i + 1] - offs[i] - 1;
        if (k == 0) {
          lp_analyze(ctx, p, len, &toks);
          ntok += toks.n;
        } else if (k == 1) {
          lp_analyze_terms(ctx, p, len, &tf);
        } else {
          utf8proc_uint8_t *o = NULL;
          utf8proc_map((const utf8proc_uint8_t *)p, (utf8proc_ssize_t)len, &o,
                       UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD | UTF8PROC_STRIPMARK);
          free(o);
        }
      }
      double dt = now_s() - s;
      mb[k][r] = (double)bytes / dt / 1e6;
      printf("round %zu %-26s %8.1f MB/s %10.0f snippets/s\n", r + 1,
             k == 0 ? "lp_analyze" : k == 1 ? "lp_analyze_terms" : "reference utf8proc_map", mb[k][r],
             (double)n / dt);
    }
  }
  const char *names[3] = { "lp_analyze", "lp_analyze_terms", "reference utf8proc_map" };
  for (int k = 0; k < 3; k++) {
    qsort(mb[k], rounds, sizeof mb[k][0], cmp_double);
    double med = mb[k][rounds / 2];
    printf("median %-27s %8.1f MB/s %10.0f snippets/s\n", names[k], med, med * 1e6 * (double)n / (double)bytes);
  }
  printf("tokens per snippet: %.1f\n", (double)ntok / (double)(n * rounds));
  lp_tokens_free(&toks);
  lp_termfreqs_free(&tf);
  lp_analyzer_ctx_free(ctx);
  lp_analyzer_free(an);
  lp_techtable_free(tt);
  free(corpus);
  free(offs);
  return 0;
}
