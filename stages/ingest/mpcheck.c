/*
 * mpcheck.c: a walk over untrusted msgpack bytes before msgpack-c unpacks them.
 *
 * msgpack_unpack_next allocates an array's or map's element table from the declared count before it has
 * seen the elements, so five bytes (0xdd ff ff ff ff) make it ask for ~100 GB. This walk proves first that
 * every declared element can exist: each pending element needs at least one byte, so the number of
 * pending elements never exceeds the bytes left. No recursion, no allocation, O(len).
 */
#include <string.h>

#include "stages/ingest/ingest.h"

static uint64_t be(const unsigned char *p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v = (v << 8) | p[i];
  return v;
}

/* Size of the header of the value at p (1 + its length field), the length of its payload in bytes and
 * the number of child values it declares. 0 when the type byte is invalid (0xc1). */
static size_t header(const unsigned char *p, size_t left, uint64_t *payload, uint64_t *children, int *ok) {
  unsigned c = p[0];
  int lenb = 0;
  *payload = 0;
  *children = 0;
  *ok = 1;
  if (c <= 0x7f || c >= 0xe0 || (c >= 0xc0 && c <= 0xc3 && c != 0xc1)) return 1;
  if (c >= 0x80 && c <= 0x8f) { *children = 2u * (c & 0x0f); return 1; }
  if (c >= 0x90 && c <= 0x9f) { *children = c & 0x0f; return 1; }
  if (c >= 0xa0 && c <= 0xbf) { *payload = c & 0x1f; return 1; }
  switch (c) {
    case 0xc4: case 0xd9: lenb = 1; break;                       /* bin8, str8 */
    case 0xc5: case 0xda: lenb = 2; break;                       /* bin16, str16 */
    case 0xc6: case 0xdb: lenb = 4; break;                       /* bin32, str32 */
    case 0xc7: lenb = 1; break;                                  /* ext8 (+1 type byte) */
    case 0xc8: lenb = 2; break;
    case 0xc9: lenb = 4; break;
    case 0xca: *payload = 4; return 1;                           /* float32 */
    case 0xcb: *payload = 8; return 1;                           /* float64 */
    case 0xcc: case 0xd0: *payload = 1; return 1;
    case 0xcd: case 0xd1: *payload = 2; return 1;
    case 0xce: case 0xd2: *payload = 4; return 1;
    case 0xcf: case 0xd3: *payload = 8; return 1;
    case 0xd4: *payload = 2; return 1;                           /* fixext1..16: type + data */
    case 0xd5: *payload = 3; return 1;
    case 0xd6: *payload = 5; return 1;
    case 0xd7: *payload = 9; return 1;
    case 0xd8: *payload = 17; return 1;
    case 0xdc: case 0xde: lenb = 2; break;                       /* array16, map16 */
    case 0xdd: case 0xdf: lenb = 4; break;                       /* array32, map32 */
    default: *ok = 0; return 0;                                  /* 0xc1 */
  }
  if (left < 1 + (size_t)lenb) {
    *ok = 0;
    return 0;
  }
  uint64_t n = be(p + 1, lenb);
  if (c == 0xdc || c == 0xdd) *children = n;
  else if (c == 0xde || c == 0xdf) *children = 2 * n;
  else *payload = n + (c >= 0xc7 && c <= 0xc9 ? 1 : 0);
  return 1 + (size_t)lenb;
}

int lp_msgpack_check(const char *buf, size_t len, size_t *used) {
  const unsigned char *p = (const unsigned char *)buf;
  size_t off = 0;
  uint64_t pending = 1;
  if (used) *used = 0;
  if (!buf) return LP_EINVAL;
  while (pending > 0) {
    uint64_t payload, children;
    int ok;
    if (off >= len) return LP_EINVAL;
    size_t h = header(p + off, len - off, &payload, &children, &ok);
    if (!ok) return LP_EINVAL;
    off += h;
    if (payload > len - off) return LP_EINVAL;
    off += (size_t)payload;
    pending = pending - 1 + children;
    if (pending > len - off) return LP_EINVAL;
  }
  if (used) *used = off;
  return LP_OK;
}
