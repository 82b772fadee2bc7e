/*
 * fuzz_snippet.c: libFuzzer target for the ingest decoders. The first byte picks the media type
 * (0: JSON, 1: NDJSON, 2: msgpack, by value mod 3); the rest is the body. Every item is decoded as a
 * snippet and as an outcome, and everything is freed: ASan/UBSan report the rest.
 */
#include <stddef.h>
#include <stdint.h>

#include "base/alloc.h"
#include "stages/ingest/ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lp_domain_set *b2c;

static int decode_item(void *ud, size_t index, const json_t *json, const msgpack_object *mp,
                       const lp_reject *item_err) {
  lp_ingest_rules rules = { 600000, 64, b2c };
  lp_reject rej;
  lp_snippet *s = NULL;
  lp_outcome *o = NULL;
  (void)ud;
  (void)index;
  if (item_err) return 0;   /* an NDJSON line that is not JSON: nothing to decode */
  if (json) {
    lp_snippet_from_json(json, &rules, 1764000000000LL, &s, &rej);
    lp_outcome_from_json(json, &rules, 1764000000000LL, &o, &rej);
  } else {
    lp_snippet_from_msgpack(mp, &rules, 1764000000000LL, &s, &rej);
    lp_outcome_from_msgpack(mp, &rules, 1764000000000LL, &o, &rej);
  }
  if (s) lp_pii_has_personal_email(s->text.ptr, s->text.len);
  lp_free(s);
  lp_free(o);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *const types[] = { "application/json", "application/x-ndjson", "application/msgpack" };
  lp_reject whole;
  if (!b2c && lp_domain_set_builtin(&b2c) != LP_OK) return 0;
  if (size < 1) return 0;
  lp_ingest_split_body((const char *)data + 1, size - 1, types[data[0] % 3], 1000, decode_item, NULL, &whole);
  /* The domain canonicaliser on its own, with the raw bytes. */
  char out[LP_DOMAIN_BUF];
  size_t len;
  lp_domain_canonicalize((const char *)data + 1, size - 1 < 600 ? size - 1 : 600, out, sizeof(out), &len, &whole);
  return 0;
}
