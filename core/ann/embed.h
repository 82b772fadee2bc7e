/*
 * embed.h: product text -> a dense unit vector, without external model weights (ADR 0010).
 *
 *   1. The project's analyzer (text/analyzer.h) turns the text into distinct terms: stemmed words and
 *      technology phrases as one term ("google analytics"), stop words dropped.
 *   2. Each term t weighs w = (1 + ln tf) * idf(t), idf(t) = ln((N + 1) / (df(t) + 1)) + 1 over a document
 *      frequency table frozen into the model when it is built (or 1 for every term without one).
 *   3. A sparse random projection (a signed feature-hashing trick): t adds +-w / sqrt(s) to s of the D
 *      output dimensions, chosen with their signs by splitmix64 of (XXH3-64 of the term, seed, r). This
 *      is Achlioptas' sparse projection of the infinite hashed TF-IDF space, so cosine similarities of
 *      TF-IDF vectors are kept up to a small distortion (Johnson-Lindenstrauss).
 *   4. The D floats are L2-normalised: compare vectors by dot product (= cosine).
 *
 * Deterministic: the same text, df table, dims and seed give the same floats bit for bit on every run
 * and machine (fixed term order, fixed summation order, IEEE arithmetic; idf uses log() in double,
 * which glibc rounds the same everywhere).
 *
 * Why a frozen idf: vectors already in an index must stay comparable with the vectors of later queries.
 * A caller that wants idf to follow its corpus feeds a df table (incrementally, lp_embed_df_add), builds
 * a new embedder from it now and then, and re-embeds its exemplars into a new index in small steps.
 *
 * Threads: an lp_embedder is immutable once built and shared by every thread; each thread owns an
 * lp_embed_ctx (analyzer scratch). An lp_embed_df belongs to one thread.
 */
#ifndef LP_ANN_EMBED_H
#define LP_ANN_EMBED_H

#include <stddef.h>
#include <stdint.h>

#include "leadpoet/common.h"
#include "text/analyzer.h"

#define LP_EMBED_MIN_DIMS 8u
#define LP_EMBED_MAX_DIMS 4096u
#define LP_EMBED_MAX_NNZ 16u

typedef struct lp_embed_df lp_embed_df;
typedef struct lp_embedder lp_embedder;
typedef struct lp_embed_ctx lp_embed_ctx;

typedef struct lp_embed_opts {
  uint32_t dims;   /* output dimensions, LP_EMBED_MIN_DIMS..LP_EMBED_MAX_DIMS; 0 = 128 */
  uint32_t nnz;    /* output dimensions one term touches, 1..LP_EMBED_MAX_NNZ; 0 = 4 */
  uint64_t seed;   /* projection seed; 0 is a valid seed */
} lp_embed_opts;

/* A document frequency table: term hash -> documents holding the term. Owned by the caller
 * (lp_embed_df_free), used from one thread. LP_ENOMEM. */
int lp_embed_df_new(lp_embed_df **out);
void lp_embed_df_free(lp_embed_df *df);

/* Counts one document given as its distinct terms (lp_analyze_terms, or lp_embed_ctx_terms). LP_ENOMEM
 * leaves the table as it was. The df's thread. */
int lp_embed_df_add(lp_embed_df *df, const lp_termfreqs *tf);
uint32_t lp_embed_df_docs(const lp_embed_df *df);
/* Documents holding the term of this hash (lp_term_hash). The df's thread. */
uint32_t lp_embed_df_get(const lp_embed_df *df, uint64_t term_hash);

/* Builds an immutable embedder over analyzer an (borrowed: it must outlive the embedder) with the idf of
 * df (copied and frozen; NULL: idf 1 for every term). opts may be NULL (defaults). On success *out is
 * owned by the caller (lp_embedder_free, once no thread uses it). LP_EINVAL (bad option, named in
 * errstr) or LP_ENOMEM. Any thread. */
int lp_embedder_new(lp_embedder **out, const lp_analyzer *an, const lp_embed_df *df, const lp_embed_opts *opts,
                    char *errstr, size_t errstr_size);
void lp_embedder_free(lp_embedder *e);
uint32_t lp_embedder_dims(const lp_embedder *e);
/* The frozen idf of a term hash. Any thread. */
float lp_embedder_idf(const lp_embedder *e, uint64_t term_hash);

/* Per-thread state; the embedder must outlive it. Any thread; then used from one thread at a time. */
int lp_embed_ctx_new(lp_embed_ctx **out, const lp_embedder *e, char *errstr, size_t errstr_size);
void lp_embed_ctx_free(lp_embed_ctx *ctx);

/* The vector of text[0..len) into out[0..dims). LP_EINVAL when dims differs from the embedder's;
 * LP_ENOENT when the text has no term (only stop words, punctuation or nothing): out is then all zero
 * and must not go into an index; LP_ENOMEM. No allocation once the ctx's buffers fit the longest text.
 * The ctx's thread. */
int lp_embed_text(lp_embed_ctx *ctx, const char *text, size_t len, float *out, size_t dims);

/* The distinct terms of text[0..len) as the embedder sees them (for lp_embed_df_add); valid until the
 * ctx's next call. LP_ENOMEM. The ctx's thread. */
int lp_embed_ctx_terms(lp_embed_ctx *ctx, const char *text, size_t len, const lp_termfreqs **out);

#endif
