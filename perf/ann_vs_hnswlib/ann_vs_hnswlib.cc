/*
 * ann_vs_hnswlib: leadpoet's HNSW (core/ann/hnsw.h) against hnswlib (Debian's libhnswlib-dev) on the same
 * vectors with the same M, efConstruction and efSearch, one thread each, cosine distance (vectors
 * L2-normalised, hnswlib's InnerProductSpace). Three data sets: gaussian random, gaussian clusters, and
 * product texts built from perf/world's vocabulary and embedded by core/ann/embed.h (128 dims). Queries
 * are held out (not inserted). Prints build time, recall@10 against brute force, queries per second and
 * the ratios (ours / hnswlib; above 1 = faster for QPS, below 1 = faster for build time).
 *
 * usage: ann_vs_hnswlib [N=20000] [queries=1000] [M=16] [efConstruction=200] [efSearch=64]
 */
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include "ann/embed.h"
#include "ann/hnsw.h"
#include "data.h"
#include "text/techtable.h"
}

namespace {

struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double unif() { return (double)((next() >> 11) + 1) * 0x1.0p-53; }
  float gauss() { return (float)(std::sqrt(-2.0 * std::log(unif())) * std::cos(6.283185307179586 * unif())); }
  size_t below(size_t n) { return (size_t)(next() % n); }
};

struct Data {
  const char *name;
  uint32_t dim;
  std::vector<float> base, queries;  /* normalised rows */
};

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void normalise(std::vector<float> &v, uint32_t dim) {
  for (size_t r = 0; r < v.size() / dim; r++) {
    double n = 0;
    for (uint32_t i = 0; i < dim; i++) n += (double)v[r * dim + i] * v[r * dim + i];
    float s = n > 0 ? (float)(1.0 / std::sqrt(n)) : 0.0f;
    for (uint32_t i = 0; i < dim; i++) v[r * dim + i] *= s;
  }
}

Data gaussian(const char *name, size_t n, size_t nq, uint32_t dim, uint32_t clusters, float spread, uint64_t seed) {
  Rng r{ seed };
  Data d{ name, dim, {}, {} };
  std::vector<float> centres((size_t)clusters * dim);
  for (float &x : centres) x = r.gauss();
  auto row = [&](std::vector<float> &out) {
    size_t c = r.below(clusters);
    for (uint32_t i = 0; i < dim; i++) out.push_back(clusters > 1 ? centres[c * dim + i] + spread * r.gauss() : r.gauss());
  };
  for (size_t i = 0; i < n; i++) row(d.base);
  for (size_t i = 0; i < nq; i++) row(d.queries);
  normalise(d.base, dim);
  normalise(d.queries, dim);
  return d;
}

/* A product text: a product's name or a seller prompt, plus words and pains of its category and now and
 * then a word of another category (texts in the wild are not pure). */
std::string product_text(Rng &r) {
  const wd_product &p = wd_products[r.below(wd_n_products)];
  const wd_category &c = wd_categories[p.cat];
  std::string t = r.below(2) ? p.name : p.prompts[r.below(4)];
  size_t nw = 0, np = 0;
  while (nw < 6 && c.words[nw]) nw++;
  while (np < 5 && c.pains[np]) np++;
  for (size_t i = 0, k = 1 + r.below(3); i < k && nw; i++) t += std::string(" ") + c.words[r.below(nw)];
  if (np && r.below(2)) t += std::string(" to ") + c.pains[r.below(np)];
  if (r.below(3) == 0) {
    const wd_category &o = wd_categories[r.below(WD_CAT_COUNT)];
    if (o.words[0]) t += std::string(" ") + o.words[0];
  }
  return t;
}

Data texts(size_t n, size_t nq, uint64_t seed) {
  char err[256];
  lp_techtable *tech = nullptr;
  lp_analyzer *an = nullptr;
  lp_embed_df *df = nullptr;
  lp_embedder *e = nullptr;
  lp_embed_ctx *ctx = nullptr;
  if (lp_techtable_builtin(&tech, err, sizeof err) || lp_analyzer_new(&an, tech, nullptr, err, sizeof err) ||
      lp_embed_df_new(&df)) {
    std::fprintf(stderr, "analyzer: %s\n", err);
    std::exit(1);
  }
  Rng r{ seed };
  std::vector<std::string> all;
  while (all.size() < n + nq) all.push_back(product_text(r));
  /* idf over the indexed texts, frozen into the model (ADR 0010). */
  lp_embed_opts o{ 128, 4, 7 };
  lp_embedder *plain = nullptr;
  if (lp_embedder_new(&plain, an, nullptr, &o, err, sizeof err) || lp_embed_ctx_new(&ctx, plain, err, sizeof err)) {
    std::fprintf(stderr, "embed: %s\n", err);
    std::exit(1);
  }
  for (size_t i = 0; i < n; i++) {
    const lp_termfreqs *tf;
    if (lp_embed_ctx_terms(ctx, all[i].data(), all[i].size(), &tf) || lp_embed_df_add(df, tf)) std::exit(1);
  }
  lp_embed_ctx_free(ctx);
  if (lp_embedder_new(&e, an, df, &o, err, sizeof err) || lp_embed_ctx_new(&ctx, e, err, sizeof err)) std::exit(1);
  Data d{ "product texts", 128, {}, {} };
  std::vector<float> v(128);
  for (size_t i = 0; i < all.size(); i++) {
    if (lp_embed_text(ctx, all[i].data(), all[i].size(), v.data(), v.size())) {
      std::fprintf(stderr, "no terms in '%s'\n", all[i].c_str());
      std::exit(1);
    }
    (i < n ? d.base : d.queries).insert((i < n ? d.base : d.queries).end(), v.begin(), v.end());
  }
  lp_embed_ctx_free(ctx);
  lp_embedder_free(e);
  lp_embedder_free(plain);
  lp_embed_df_free(df);
  lp_analyzer_free(an);
  lp_techtable_free(tech);
  return d;
}

/* The exact 10th distance per query (ties in the data count as right answers). */
std::vector<double> kth_exact(const Data &d, size_t k) {
  size_t n = d.base.size() / d.dim, nq = d.queries.size() / d.dim;
  std::vector<double> out(nq), dist(n);
  for (size_t q = 0; q < nq; q++) {
    for (size_t i = 0; i < n; i++) {
      double dot = 0;
      for (uint32_t j = 0; j < d.dim; j++) dot += (double)d.queries[q * d.dim + j] * d.base[i * d.dim + j];
      dist[i] = 1.0 - dot;
    }
    std::nth_element(dist.begin(), dist.begin() + (long)(k - 1), dist.end());
    out[q] = dist[k - 1];
  }
  return out;
}

double true_dist(const Data &d, size_t q, size_t label) {
  double dot = 0;
  for (uint32_t j = 0; j < d.dim; j++) dot += (double)d.queries[q * d.dim + j] * d.base[label * d.dim + j];
  return 1.0 - dot;
}

void run(const Data &d, uint32_t m, uint32_t efc, uint32_t efs) {
  const size_t k = 10, n = d.base.size() / d.dim, nq = d.queries.size() / d.dim;
  std::vector<double> kth = kth_exact(d, k);
  char err[256];

  /* ours */
  lp_hnsw_opts o{};
  o.dim = d.dim;
  o.metric = LP_HNSW_COSINE;
  o.m = m;
  o.ef_construction = efc;
  o.ef_search = efs;
  o.seed = 100;
  o.capacity = (uint32_t)n;
  lp_hnsw *h = nullptr;
  if (lp_hnsw_new(&h, &o, err, sizeof err)) { std::fprintf(stderr, "%s\n", err); std::exit(1); }
  double t0 = now();
  for (size_t i = 0; i < n; i++)
    if (lp_hnsw_add(h, i, &d.base[i * d.dim], d.dim, err, sizeof err)) { std::fprintf(stderr, "%s\n", err); std::exit(1); }
  double our_build = now() - t0;

  /* hnswlib */
  hnswlib::InnerProductSpace space(d.dim);
  hnswlib::HierarchicalNSW<float> lib(&space, n, m, efc, 100);
  t0 = now();
  for (size_t i = 0; i < n; i++) lib.addPoint(&d.base[i * d.dim], i);
  double lib_build = now() - t0;
  lib.setEf(efs);

  /* recall, then timed passes (the best of 3 to damp noise from other processes on the machine) */
  std::vector<lp_hnsw_hit> hits(k);
  size_t our_right = 0, lib_right = 0;
  for (size_t q = 0; q < nq; q++) {
    size_t got = 0;
    lp_hnsw_search(h, &d.queries[q * d.dim], d.dim, k, 0, hits.data(), &got, err, sizeof err);
    for (size_t j = 0; j < got; j++) our_right += true_dist(d, q, hits[j].label) <= kth[q] + 1e-5;
    auto res = lib.searchKnn(&d.queries[q * d.dim], k);
    for (; !res.empty(); res.pop()) lib_right += true_dist(d, q, res.top().second) <= kth[q] + 1e-5;
  }
  double our_best = 1e30, lib_best = 1e30;
  volatile size_t sink = 0;
  for (int pass = 0; pass < 3; pass++) {
    t0 = now();
    for (size_t q = 0; q < nq; q++) {
      size_t got = 0;
      lp_hnsw_search(h, &d.queries[q * d.dim], d.dim, k, 0, hits.data(), &got, err, sizeof err);
      sink = sink + got;
    }
    our_best = std::min(our_best, now() - t0);
    t0 = now();
    for (size_t q = 0; q < nq; q++) sink = sink + lib.searchKnn(&d.queries[q * d.dim], k).size();
    lib_best = std::min(lib_best, now() - t0);
  }
  lp_hnsw_stats st;
  lp_hnsw_stats_get(h, &st);
  double our_qps = (double)nq / our_best, lib_qps = (double)nq / lib_best;
  std::printf("%-14s n=%zu dim=%u queries=%zu\n", d.name, n, d.dim, nq);
  std::printf("  build s      leadpoet %8.3f   hnswlib %8.3f   ratio %.2f (leadpoet / hnswlib)\n", our_build,
              lib_build, our_build / lib_build);
  std::printf("  recall@10    leadpoet %8.4f   hnswlib %8.4f\n", (double)our_right / (double)(nq * k),
              (double)lib_right / (double)(nq * k));
  std::printf("  queries/s    leadpoet %8.0f   hnswlib %8.0f   ratio %.2f (leadpoet / hnswlib)\n", our_qps, lib_qps,
              our_qps / lib_qps);
  std::printf("  memory       leadpoet %.1f MB (%.0f bytes per vector)\n", (double)st.bytes / 1e6,
              (double)st.bytes / (double)n);
  lp_hnsw_free(h);
}

}  // namespace

int main(int argc, char **argv) {
  size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 20000;
  size_t nq = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 1000;
  uint32_t m = argc > 3 ? (uint32_t)std::strtoul(argv[3], nullptr, 10) : 16;
  uint32_t efc = argc > 4 ? (uint32_t)std::strtoul(argv[4], nullptr, 10) : 200;
  uint32_t efs = argc > 5 ? (uint32_t)std::strtoul(argv[5], nullptr, 10) : 64;
  if (n < 10 || nq < 1 || m < 2 || efc < 1 || efs < 1) {
    std::fprintf(stderr, "usage: ann_vs_hnswlib [N>=10] [queries>=1] [M>=2] [efConstruction] [efSearch]\n");
    return 2;
  }
  std::printf("ann_vs_hnswlib: M=%u efConstruction=%u efSearch=%u, one thread, cosine\n", m, efc, efs);
  run(gaussian("random", n, nq, 64, 1, 0, 1), m, efc, efs);
  run(gaussian("clustered", n, nq, 64, 100, 1.2f, 2), m, efc, efs);
  run(texts(n, nq, 3), m, efc, efs);
  return 0;
}
