/* le.h: fixed-width little-endian integers and the bits of a double, for the byte formats the stages save
 * (stages/throttle/persist.c, stages/reputation/persist.c). Pure; any thread. */
#ifndef LP_BASE_LE_H
#define LP_BASE_LE_H

#include <stdint.h>
#include <string.h>

static inline void lp_le_put32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static inline void lp_le_put64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static inline uint32_t lp_le_get32(const unsigned char *p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
  return v;
}
static inline uint64_t lp_le_get64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}
static inline uint64_t lp_f64_bits(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof(u));
  return u;
}
static inline double lp_bits_f64(uint64_t u) {
  double d;
  memcpy(&d, &u, sizeof(d));
  return d;
}

#endif
