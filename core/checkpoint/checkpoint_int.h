/* checkpoint_int.h: what the checkpoint files share inside core/checkpoint. Not for other modules. */
#ifndef LP_CHECKPOINT_INT_H
#define LP_CHECKPOINT_INT_H

#include "base/buf.h"
#include "checkpoint/checkpoint.h"

/* The two scripts (see scripts.c for their contract). */
extern const char lp__ckpt_lua_write[];
extern const char lp__ckpt_lua_read[];

/* The meta record as msgpack (schema = m->schema). Returns 0 or LP_ENOMEM. */
int lp__ckpt_encode_rec(const lp_ckpt_meta *m, lp_buf *out);
/* Decodes a record read from `key`, refuses a newer schema, migrates an older one. LP_EINVAL with the
 * reason (naming key) in errstr. */
int lp__ckpt_decode_rec(const void *p, size_t n, const lp_ckpt_schema *sc, const char *key, lp_ckpt_meta *m,
                        char *errstr, size_t errsz);
/* The reply of lp__ckpt_lua_read for the partition whose tag is `tag`, verified, into *out (blobs copied). */
int lp__ckpt_parse_read(const redisReply *r, int32_t partition, const char *tag, const lp_ckpt_schema *sc,
                        lp_ckpt_state *out, char *errstr, size_t errsz);
/* The chain's blob keys, space-separated (the meta's `keys` field). */
int lp__ckpt_chain_keys(const char *tag, const lp_ckpt_meta *m, lp_buf *out);
/* 16 lower-case hex digits and a NUL. */
void lp__ckpt_hex(uint64_t v, char out[17]);

#endif
