/*
 * index_bench: the shard index on a synthetic Zipf corpus. Prints the put() rate (leads whose evidence
 * grows snippet by snippet, each put replacing the whole document, with step() called between puts as a
 * worker would), postings and bytes per posting, and top-25 latency percentiles for block-max WAND
 * against exhaustive scoring on the same queries (and whether their answers agree). Last, the rate of
 * put()s of whole 256-term documents (the most a lead's term vector holds in the server, which re-puts the
 * lead on every snippet) replacing live leads, with step() every 64 puts.
 *
 *   index_bench [DOCS] [QUERIES]     defaults 100000 and 1000
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "index/index.h"

#define VOCAB 200000
#define MAXT 256

static uint64_t rng = 42;
static uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static uint64_t rnd(void) {
  uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static double *cdf;
static uint32_t zipf(void) {
  double u = (double)(rnd() >> 11) / 9007199254740992.0 * cdf[VOCAB - 1];
  uint32_t lo = 0, hi = VOCAB - 1;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (cdf[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static char names[VOCAB][8];

/* Snippet number sn of lead d: 8..24 words with one weight; regenerated from (d, sn) at every put so that
 * the bench holds no copy of the corpus. */
static void add_snippet(uint32_t d, int sn, lp_index_term *t, int *n) {
  uint64_t saved = rng;
  rng = mix(((uint64_t)d << 8 | (uint64_t)sn) + 0x1234567);
  double sw = 0.2 + (double)(rnd() % 30) / 10.0;
  int words = 8 + (int)(rnd() % 17);
  for (int i = 0; i < words && *n < MAXT; i++) {
    uint32_t w = zipf();
    t[*n] = (lp_index_term){ names[w], strlen(names[w]), sw };
    (*n)++;
  }
  rng = saved;
}

static int dcmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : (x > y);
}

static void percentiles(const char *label, double *us, int n) {
  qsort(us, (size_t)n, sizeof *us, dcmp);
  double sum = 0;
  for (int i = 0; i < n; i++) sum += us[i];
  printf("  %-10s mean %8.1f us   p50 %8.1f   p90 %8.1f   p99 %8.1f   max %8.1f\n", label, sum / n,
         us[n / 2], us[n * 9 / 10], us[n * 99 / 100], us[n - 1]);
}

int main(int argc, char **argv) {
  uint32_t ndocs = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 100000;
  int nq = argc > 2 ? atoi(argv[2]) : 1000;
  if (ndocs < 1 || nq < 1) {
    fprintf(stderr, "usage: index_bench [DOCS] [QUERIES]\n");
    return 2;
  }
  cdf = malloc(VOCAB * sizeof *cdf);
  double acc = 0;
  for (uint32_t i = 0; i < VOCAB; i++) {
    cdf[i] = (acc += 1.0 / pow(i + 1.0, 1.0));
    snprintf(names[i], sizeof names[i], "w%u", i);
  }
  lp_index *ix;
  char err[128];
  if (lp_index_new(&ix, NULL, err, sizeof err) != LP_OK) {
    fprintf(stderr, "index_bench: %s\n", err);
    return 1;
  }
  /* Leads receive 1..8 snippets over time (mean ~3), interleaved; every arrival re-puts the lead. */
  lp_index_term terms[MAXT];
  int *got = calloc(ndocs, sizeof *got), *left = malloc(ndocs * sizeof *left);
  uint64_t total = 0;
  for (uint32_t d = 0; d < ndocs; d++) total += (uint64_t)(left[d] = 1 + (int)(rnd() % 5) + (rnd() % 4 == 0 ? 3 : 0));
  uint64_t t0 = lp_mono_ns(), puts = 0, step_ns = 0;
  for (uint64_t i = 0; i < total;) {
    uint32_t d = (uint32_t)(rnd() % ndocs);
    if (left[d] == 0) continue;
    left[d]--;
    int n = 0;
    got[d]++;
    for (int sn = 0; sn < got[d]; sn++) add_snippet(d, sn, terms, &n);
    if (lp_index_put(ix, d, terms, (size_t)n) != LP_OK) {
      fprintf(stderr, "index_bench: put: %s\n", lp_index_errstr(ix));
      return 1;
    }
    puts++;
    i++;
    if (puts % 64 == 0) {
      uint64_t s0 = lp_mono_ns();
      lp_index_step(ix, 8192, NULL);
      step_ns += lp_mono_ns() - s0;
    }
  }
  double put_s = (double)(lp_mono_ns() - t0) / 1e9;
  int more = 1;
  uint64_t c0 = lp_mono_ns();
  while (more) lp_index_step(ix, 1 << 20, &more);
  double compact_s = (double)(lp_mono_ns() - c0) / 1e9;

  lp_index_stats st;
  lp_index_stats_get(ix, &st);
  printf("index_bench: %u leads, %llu puts (snippet arrivals)\n", ndocs, (unsigned long long)puts);
  printf("  put rate        %.0f puts/s (incl. step() every 64 puts: %.2f s of %.2f s)\n", (double)puts / put_s,
         (double)step_ns / 1e9, put_s);
  printf("  final compaction %.2f s\n", compact_s);
  printf("  docs %llu  postings %llu  stored %llu  terms %llu  segments %u\n", (unsigned long long)st.docs,
         (unsigned long long)st.postings, (unsigned long long)st.stored_postings, (unsigned long long)st.terms,
         st.segments);
  printf("  bytes %.1f MB  bytes/posting %.2f\n", (double)st.bytes / 1e6, st.bytes_per_posting);

  lp_index_hit h[25], e[25];
  double *wus = malloc((size_t)nq * sizeof *wus), *eus = malloc((size_t)nq * sizeof *eus);
  int mismatches = 0;
  for (int q = 0; q < nq; q++) {
    lp_index_term qt[4];
    int n = 1 + (int)(rnd() % 4);
    for (int i = 0; i < n; i++) {
      uint32_t w = zipf();
      qt[i] = (lp_index_term){ names[w], strlen(names[w]), 1.0 };
    }
    size_t nh, ne;
    uint64_t a = lp_mono_ns();
    lp_index_topk(ix, qt, (size_t)n, NULL, 25, h, &nh);
    uint64_t b = lp_mono_ns();
    lp_index_topk_exhaustive(ix, qt, (size_t)n, NULL, 25, e, &ne);
    uint64_t c = lp_mono_ns();
    wus[q] = (double)(b - a) / 1e3;
    eus[q] = (double)(c - b) / 1e3;
    int same = nh == ne;
    for (size_t i = 0; same && i < nh; i++) same = h[i].doc == e[i].doc && fabs(h[i].score - e[i].score) <= 1e-9;
    mismatches += !same;
  }
  double ws = 0, es = 0;
  for (int q = 0; q < nq; q++) ws += wus[q], es += eus[q];
  printf("top-25 latency over %d queries of 1..4 terms:\n", nq);
  percentiles("wand", wus, nq);
  percentiles("exhaustive", eus, nq);
  printf("  exhaustive/wand mean time ratio %.2f   answers differing: %d\n", es / ws, mismatches);

  /* 256 distinct terms a doc (Zipf draws, duplicates merged by the index), replacing random live leads. */
  uint32_t nbig = ndocs < 20000 ? ndocs : 20000;
  uint64_t bput = 0, bstep = 0;
  for (uint32_t i = 0; i < nbig; i++) {
    for (int t = 0; t < MAXT; t++) {
      uint32_t w = zipf();
      terms[t] = (lp_index_term){ names[w], strlen(names[w]), 0.2 + (double)(rnd() % 30) / 10.0 };
    }
    uint32_t doc = (uint32_t)(rnd() % ndocs);
    uint64_t p0 = lp_mono_ns();
    int prc = lp_index_put(ix, doc, terms, MAXT);
    bput += lp_mono_ns() - p0;
    if (prc != LP_OK) {
      fprintf(stderr, "index_bench: put: %s\n", lp_index_errstr(ix));
      return 1;
    }
    if ((i + 1) % 64 == 0) {
      uint64_t s0 = lp_mono_ns();
      lp_index_step(ix, 8192, NULL);
      bstep += lp_mono_ns() - s0;
    }
  }
  double big_s = (double)(bput + bstep) / 1e9;
  printf("put of %d-term docs: %.0f puts/s with step(), %.0f puts/s put() alone, over %u puts "
         "(put %.2f s, step() every 64 puts %.2f s; term generation not timed)\n", MAXT, (double)nbig / big_s,
         (double)nbig / ((double)bput / 1e9), nbig, (double)bput / 1e9, (double)bstep / 1e9);
  lp_index_free(ix);
  free(got);
  free(left);
  free(wus);
  free(eus);
  free(cdf);
  return mismatches ? 1 : 0;
}
