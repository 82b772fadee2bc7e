/*
 * embed.c: product text -> unit vector: analyzer terms, TF-IDF weights with a frozen idf, a signed sparse
 * random projection to D dimensions, L2 normalisation (embed.h says why each step).
 */
#include "ann/embed.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"

/* An open-addressing table term hash -> value; a slot is empty when its value is 0 (a df count and an
 * idf are never 0). */
typedef struct hslot {
  uint64_t key;
  float idf;
  uint32_t count;
} hslot;

struct lp_embed_df {
  hslot *v;
  uint32_t cap, n, docs;
};

struct lp_embedder {
  const lp_analyzer *an;
  uint32_t dims, nnz;
  uint64_t seed;
  float idf_unseen;   /* idf of a term the df table never saw */
  float scale;        /* 1 / sqrt(nnz) */
  hslot *v;           /* frozen idf, NULL without a df table */
  uint32_t cap;
};

struct lp_embed_ctx {
  const lp_embedder *e;
  lp_analyzer_ctx *actx;
  lp_termfreqs tf;
};

static uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

static uint32_t probe_start(uint64_t key, uint32_t cap) {
  return (uint32_t)splitmix64(key) & (cap - 1);
}

/* ---- document frequencies ------------------------------------------------------------------------ */

int lp_embed_df_new(lp_embed_df **out) {
  lp_embed_df *df = lp_calloc(1, sizeof *df);
  if (!df) return LP_ENOMEM;
  *out = df;
  return LP_OK;
}

void lp_embed_df_free(lp_embed_df *df) {
  if (!df) return;
  lp_free(df->v);
  lp_free(df);
}

static int df_grow(lp_embed_df *df, uint32_t want) {
  uint32_t cap = df->cap ? df->cap : 256;
  while ((uint64_t)want * 2 > cap) {
    if (cap >= (1u << 30)) return LP_ENOMEM;
    cap *= 2;
  }
  if (cap == df->cap) return LP_OK;
  hslot *v = lp_calloc(cap, sizeof *v);
  if (!v) return LP_ENOMEM;
  for (uint32_t i = 0; i < df->cap; i++) {
    if (!df->v[i].count) continue;
    uint32_t j = probe_start(df->v[i].key, cap);
    while (v[j].count) j = (j + 1) & (cap - 1);
    v[j] = df->v[i];
  }
  lp_free(df->v);
  df->v = v;
  df->cap = cap;
  return LP_OK;
}

int lp_embed_df_add(lp_embed_df *df, const lp_termfreqs *tf) {
  if (tf->n > UINT32_MAX - df->n || df->docs == UINT32_MAX) return LP_ENOMEM;
  int rc = df_grow(df, df->n + (uint32_t)tf->n);
  if (rc) return rc;
  for (size_t i = 0; i < tf->n; i++) {
    uint64_t key = tf->v[i].hash;
    uint32_t j = probe_start(key, df->cap);
    while (df->v[j].count && df->v[j].key != key) j = (j + 1) & (df->cap - 1);
    if (!df->v[j].count) {
      df->v[j].key = key;
      df->n++;
    }
    if (df->v[j].count < UINT32_MAX) df->v[j].count++;
  }
  df->docs++;
  return LP_OK;
}

uint32_t lp_embed_df_docs(const lp_embed_df *df) {
  return df->docs;
}

uint32_t lp_embed_df_get(const lp_embed_df *df, uint64_t term_hash) {
  if (!df->cap) return 0;
  for (uint32_t j = probe_start(term_hash, df->cap);; j = (j + 1) & (df->cap - 1)) {
    if (!df->v[j].count) return 0;
    if (df->v[j].key == term_hash) return df->v[j].count;
  }
}

/* ---- the embedder -------------------------------------------------------------------------------- */

static float idf_of(uint32_t docs, uint32_t df) {
  return (float)(log(((double)docs + 1.0) / ((double)df + 1.0)) + 1.0);
}

int lp_embedder_new(lp_embedder **out, const lp_analyzer *an, const lp_embed_df *df, const lp_embed_opts *o,
                    char *errstr, size_t errstr_size) {
  uint32_t dims = o && o->dims ? o->dims : 128, nnz = o && o->nnz ? o->nnz : 4;
  if (!an) {
    snprintf(errstr, errstr_size, "embed: an analyzer is required");
    return LP_EINVAL;
  }
  if (dims < LP_EMBED_MIN_DIMS || dims > LP_EMBED_MAX_DIMS) {
    snprintf(errstr, errstr_size, "embed: dims must be %u..%u, got %u", LP_EMBED_MIN_DIMS, LP_EMBED_MAX_DIMS, dims);
    return LP_EINVAL;
  }
  if (nnz > LP_EMBED_MAX_NNZ || nnz > dims) {
    snprintf(errstr, errstr_size, "embed: nnz must be 1..%u and at most dims, got %u", LP_EMBED_MAX_NNZ, nnz);
    return LP_EINVAL;
  }
  lp_embedder *e = lp_calloc(1, sizeof *e);
  if (!e) goto nomem;
  e->an = an;
  e->dims = dims;
  e->nnz = nnz;
  e->seed = o ? o->seed : 0;
  e->scale = (float)(1.0 / sqrt((double)nnz));
  e->idf_unseen = 1.0f;
  if (df) {
    e->idf_unseen = idf_of(df->docs, 0);
    if (df->cap) {
      e->v = lp_calloc(df->cap, sizeof *e->v);
      if (!e->v) goto nomem;
      e->cap = df->cap;
      for (uint32_t i = 0; i < df->cap; i++) {
        if (!df->v[i].count) continue;
        e->v[i] = df->v[i];
        e->v[i].idf = idf_of(df->docs, df->v[i].count);
      }
    }
  }
  *out = e;
  return LP_OK;
nomem:
  lp_embedder_free(e);
  snprintf(errstr, errstr_size, "embed: out of memory");
  return LP_ENOMEM;
}

void lp_embedder_free(lp_embedder *e) {
  if (!e) return;
  lp_free(e->v);
  lp_free(e);
}

uint32_t lp_embedder_dims(const lp_embedder *e) {
  return e->dims;
}

float lp_embedder_idf(const lp_embedder *e, uint64_t term_hash) {
  if (!e->cap) return e->idf_unseen;
  for (uint32_t j = probe_start(term_hash, e->cap);; j = (j + 1) & (e->cap - 1)) {
    if (!e->v[j].count) return e->idf_unseen;
    if (e->v[j].key == term_hash) return e->v[j].idf;
  }
}

/* ---- per-thread embedding ------------------------------------------------------------------------ */

int lp_embed_ctx_new(lp_embed_ctx **out, const lp_embedder *e, char *errstr, size_t errstr_size) {
  lp_embed_ctx *c = lp_calloc(1, sizeof *c);
  if (!c) {
    snprintf(errstr, errstr_size, "embed: out of memory");
    return LP_ENOMEM;
  }
  c->e = e;
  int rc = lp_analyzer_ctx_new(&c->actx, e->an, errstr, errstr_size);
  if (rc) {
    lp_free(c);
    return rc;
  }
  *out = c;
  return LP_OK;
}

void lp_embed_ctx_free(lp_embed_ctx *ctx) {
  if (!ctx) return;
  lp_analyzer_ctx_free(ctx->actx);
  lp_termfreqs_free(&ctx->tf);
  lp_free(ctx);
}

int lp_embed_ctx_terms(lp_embed_ctx *ctx, const char *text, size_t len, const lp_termfreqs **out) {
  int rc = lp_analyze_terms(ctx->actx, text, len, &ctx->tf);
  if (rc) return rc;
  *out = &ctx->tf;
  return LP_OK;
}

int lp_embed_text(lp_embed_ctx *ctx, const char *text, size_t len, float *out, size_t dims) {
  const lp_embedder *e = ctx->e;
  if (dims != e->dims) return LP_EINVAL;
  memset(out, 0, dims * sizeof *out);
  int rc = lp_analyze_terms(ctx->actx, text, len, &ctx->tf);
  if (rc) return rc;
  for (size_t i = 0; i < ctx->tf.n; i++) {
    const lp_termfreq *t = &ctx->tf.v[i];
    float w = (float)(1.0 + log((double)t->count)) * lp_embedder_idf(e, t->hash) * e->scale;
    uint64_t h = t->hash ^ e->seed;
    for (uint32_t r = 0; r < e->nnz; r++) {
      uint64_t x = splitmix64(h + r * 0xD6E8FEB86659FD93ull);
      uint32_t idx = (uint32_t)(((x >> 32) * (uint64_t)e->dims) >> 32);
      out[idx] += (x & 1) ? -w : w;
    }
  }
  double norm = 0;
  for (size_t i = 0; i < dims; i++) norm += (double)out[i] * out[i];
  if (norm == 0) {
    memset(out, 0, dims * sizeof *out);
    return LP_ENOENT;
  }
  float s = (float)(1.0 / sqrt(norm));
  for (size_t i = 0; i < dims; i++) out[i] *= s;
  return LP_OK;
}
