/*
 * rng.h: the world's pseudo-random numbers. xoshiro256** seeded through splitmix64, and a few draws built
 * only from integer arithmetic and IEEE-754 basic operations (+ - * /, exact ldexp), never libm's
 * transcendental functions, whose last bits differ between C libraries: the same seed gives the same
 * bytes on every machine. The target is compiled with -ffp-contract=off so that no FMA changes a result.
 * Not thread-safe: one wd_rng per stream of draws, owned by its user.
 */
#ifndef LP_WORLD_RNG_H
#define LP_WORLD_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct wd_rng {
  uint64_t s[4];
} wd_rng;

static inline uint64_t wd_splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Seeds an independent stream: the same (seed, stream) always gives the same sequence, and the streams
 * of one seed do not overlap in practice, so that adding snippets never changes the companies. */
static inline void wd_rng_seed(wd_rng *r, uint64_t seed, uint64_t stream) {
  uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ull);
  for (int i = 0; i < 4; i++) r->s[i] = wd_splitmix64(&x);
}

static inline uint64_t wd_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t wd_next(wd_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = wd_rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = wd_rotl(s[3], 45);
  return result;
}

/* Uniform in [0, n) (n >= 1), Lemire's multiply-shift; the tiny bias (n / 2^64) does not matter here. */
static inline uint64_t wd_below(wd_rng *r, uint64_t n) {
  return (uint64_t)(((unsigned __int128)wd_next(r) * n) >> 64);
}

/* Uniform in [lo, hi] (lo <= hi). */
static inline int64_t wd_range(wd_rng *r, int64_t lo, int64_t hi) {
  return lo + (int64_t)wd_below(r, (uint64_t)(hi - lo) + 1);
}

/* Uniform double in [0, 1). */
static inline double wd_unit(wd_rng *r) { return (double)(wd_next(r) >> 11) * 0x1p-53; }

/* 1 with probability p. */
static inline int wd_chance(wd_rng *r, double p) { return wd_unit(r) < p; }

/* Standard normal, approximately: Irwin-Hall sum of 12 uniforms minus 6 (basic operations only). */
static inline double wd_normal(wd_rng *r) {
  double s = 0;
  for (int i = 0; i < 12; i++) s += wd_unit(r);
  return s - 6.0;
}

/* e^x for |x| < 700 with basic operations and exact ldexp: x = k ln2 + f, e^f by its Taylor series. */
static inline double wd_exp(double x) {
  const double ln2 = 0.6931471805599453;
  double k = floor(x / ln2 + 0.5);
  double f = x - k * ln2;
  double term = 1.0, sum = 1.0;
  for (int i = 1; i < 18; i++) {
    term = term * f / (double)i;
    sum += term;
  }
  return ldexp(sum, (int)k);
}

#endif
