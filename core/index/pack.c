/*
 * pack.c: fixed-width bit packing of small integers, the encoding of compressed posting blocks and of the
 * per-doc term lists. Plain scalar code: a block is at most 128 values, and a 64-bit window per value keeps
 * it branch-free. Values are written LSB first; a reader loads 8 bytes at a time (see index_int.h).
 */
#include "index/index_int.h"

/* Bits needed for x (0 for 0). */
uint32_t lp__ix_bits(uint32_t x) { return x ? 32u - (uint32_t)__builtin_clz(x) : 0; }

/* Writes v[0..n) in w bits each (w <= 32, every value < 2^w) to out; returns the bytes written,
 * ceil(n * w / 8). */
size_t lp__ix_pack(uint8_t *out, const uint32_t *v, uint32_t n, uint32_t w) {
  size_t bytes = ((uint64_t)n * w + 7) / 8;
  if (w == 0 || n == 0) return 0;
  uint64_t acc = 0;
  uint32_t have = 0;
  size_t o = 0;
  for (uint32_t i = 0; i < n; i++) {
    acc |= (uint64_t)v[i] << have;
    have += w;
    while (have >= 8) {
      out[o++] = (uint8_t)acc;
      acc >>= 8;
      have -= 8;
    }
  }
  if (have) out[o++] = (uint8_t)acc;
  return bytes;
}

/* Reads n values of w bits from in (followed by LP_IX_PAD readable bytes) into v. */
void lp__ix_unpack(const uint8_t *in, uint32_t *v, uint32_t n, uint32_t w) {
  if (w == 0) {
    memset(v, 0, (size_t)n * sizeof *v);
    return;
  }
  uint64_t mask = (1ull << w) - 1, bit = 0;
  for (uint32_t i = 0; i < n; i++, bit += w) {
    uint64_t word;
    memcpy(&word, in + (bit >> 3), sizeof word);
    v[i] = (uint32_t)((word >> (bit & 7)) & mask);
  }
}

/* ---- Exp-Golomb codes of a sorted id list: the per-doc term lists ----
 * Layout: one byte k, then for each gap g (ids[0], then ids[i] - ids[i-1] - 1), with v = g + 2^k and
 * L = floor(log2 v): L - k ones and a zero, then the L low bits of v. A doc's term ids mix many small gaps
 * (frequent terms got small ids) with a few huge ones; Exp-Golomb grows by 2 bits per doubling of a gap
 * where Rice grows linearly, which measured 10% smaller on the Zipf corpus of perf/index_bench (1.49 bytes
 * a term against 1.67 for the best Rice code, and 10 to 26 bits for streamvbyte, the coding used before). */

static uint64_t eg_bits(const uint32_t *ids, uint32_t m, uint32_t k) {
  uint64_t bits = 0;
  for (uint32_t i = 0, prev = 0; i < m; prev = ids[i] + 1, i++) {
    uint32_t l = 63u - (uint32_t)__builtin_clzll((uint64_t)(ids[i] - prev) + (1ull << k));
    bits += 2u * (l - k) + 1 + k;
  }
  return bits;
}

size_t lp__ix_ids_size(const uint32_t *ids, uint32_t m, uint32_t *k_out) {
  uint32_t mean = m ? (ids[m - 1] + 1) / m : 0;
  uint32_t hi = mean > 1 ? lp__ix_bits(mean) - 1 : 0, lo = hi > 4 ? hi - 4 : 0, best_k = hi;
  uint64_t best = eg_bits(ids, m, hi);
  for (uint32_t k = lo; k < hi; k++) {
    uint64_t b = eg_bits(ids, m, k);
    if (b < best) best = b, best_k = k;
  }
  *k_out = best_k;
  return 1 + (size_t)((best + 7) / 8);
}

static void put_bits(uint8_t *out, uint64_t bit, uint64_t v) {
  uint64_t w;
  memcpy(&w, out + (bit >> 3), sizeof w);
  w |= v << (bit & 7);
  memcpy(out + (bit >> 3), &w, sizeof w);
}

static uint64_t peek_bits(const uint8_t *in, uint64_t bit) {
  uint64_t w;
  memcpy(&w, in + (bit >> 3), sizeof w);
  return w >> (bit & 7);  /* at least 57 valid low bits */
}

/* Encodes ids[0..m) (strictly increasing) with parameter k into out, which must hold
 * lp__ix_ids_size() bytes plus 8 of slack, all zero. */
void lp__ix_ids_encode(uint8_t *out, const uint32_t *ids, uint32_t m, uint32_t k) {
  out[0] = (uint8_t)k;
  uint64_t bit = 8;
  for (uint32_t i = 0, prev = 0; i < m; prev = ids[i] + 1, i++) {
    uint64_t v = (uint64_t)(ids[i] - prev) + (1ull << k);
    uint32_t l = 63u - (uint32_t)__builtin_clzll(v), q = l - k;  /* l <= 32, q <= 32 */
    put_bits(out, bit, (1ull << q) - 1);
    bit += q + 1;
    put_bits(out, bit, v & ((1ull << l) - 1));
    bit += l;
  }
}

/* Decodes m ids from in, which must be followed by 8 readable bytes. */
void lp__ix_ids_decode(const uint8_t *in, uint32_t *ids, uint32_t m) {
  uint32_t k = in[0];
  uint64_t bit = 8;
  for (uint32_t i = 0, prev = 0; i < m; i++) {
    uint32_t q = (uint32_t)__builtin_ctzll(~peek_bits(in, bit));  /* q <= 32 < 57 valid bits */
    bit += q + 1;
    uint32_t l = q + k;
    uint64_t v = (1ull << l) | (peek_bits(in, bit) & ((1ull << l) - 1));
    bit += l;
    ids[i] = prev + (uint32_t)(v - (1ull << k));
    prev = ids[i] + 1;
  }
}
