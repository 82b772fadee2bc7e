/*
 * corpus.c: leads and prompts of a perf/world market, analyzed once for both engines (corpus.h).
 * The snippets come in event-time order, not grouped by lead, so every lead's text is gathered first (a
 * hash table from domain to doc id, one growable buffer per doc) and analyzed afterwards.
 */
#define _GNU_SOURCE
#include "corpus.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"

typedef struct dom_table {
  char **keys;      /* domain per slot, NULL = empty */
  uint32_t *docs;
  size_t cap, n;
} dom_table;

static int dom_grow(dom_table *t) {
  size_t cap = t->cap ? t->cap * 2 : 1u << 16;
  char **keys = lp_calloc(cap, sizeof *keys);
  uint32_t *docs = lp_calloc(cap, sizeof *docs);
  if (!keys || !docs) {
    lp_free(keys);
    lp_free(docs);
    return -1;
  }
  for (size_t i = 0; i < t->cap; i++) {
    if (!t->keys[i]) continue;
    size_t h = (size_t)lp_term_hash(t->keys[i], strlen(t->keys[i])) & (cap - 1);
    while (keys[h]) h = (h + 1) & (cap - 1);
    keys[h] = t->keys[i];
    docs[h] = t->docs[i];
  }
  lp_free(t->keys);
  lp_free(t->docs);
  t->keys = keys;
  t->docs = docs;
  t->cap = cap;
  return 0;
}

/* The doc id of domain, a new one (= t->n before the call) when it is first seen; -1 on no memory. */
static int64_t dom_id(dom_table *t, const char *domain, size_t len) {
  if ((t->n + 1) * 2 > t->cap && dom_grow(t) != 0) return -1;
  size_t h = (size_t)lp_term_hash(domain, len) & (t->cap - 1);
  while (t->keys[h]) {
    if (strlen(t->keys[h]) == len && memcmp(t->keys[h], domain, len) == 0) return t->docs[h];
    h = (h + 1) & (t->cap - 1);
  }
  t->keys[h] = strndup(domain, len);
  if (!t->keys[h]) return -1;
  t->docs[h] = (uint32_t)t->n;
  return (int64_t)t->n++;
}

static void dom_free(dom_table *t) {
  for (size_t i = 0; i < t->cap; i++) free(t->keys[i]);
  lp_free(t->keys);
  lp_free(t->docs);
}

/* Appends the text of one JSON line to its lead's buffer. 1 = the line was used, 0 = skipped, -1 = no memory. */
static int gather_line(const char *line, size_t len, dom_table *dt, lp_buf **texts, size_t *texts_cap) {
  json_t *j = json_loadb(line, len, 0, NULL);
  if (!j) return 0;
  json_t *lead = json_object_get(j, "lead");
  json_t *dom = lead ? json_object_get(lead, "domain") : NULL;
  json_t *text = json_object_get(j, "text");
  int rc = 0;
  if (json_is_string(dom) && json_is_string(text)) {
    int64_t id = dom_id(dt, json_string_value(dom), json_string_length(dom));
    rc = -1;
    if (id >= 0 && (size_t)id >= *texts_cap) {
      size_t cap = *texts_cap ? *texts_cap * 2 : 1u << 16;
      lp_buf *nt = lp_realloc(*texts, cap * sizeof *nt);
      if (nt) {
        memset(nt + *texts_cap, 0, (cap - *texts_cap) * sizeof *nt);
        *texts = nt;
        *texts_cap = cap;
      }
    }
    if (id >= 0 && (size_t)id < *texts_cap) {
      lp_buf *b = &(*texts)[id];
      if ((b->len == 0 || lp_buf_append(b, "\n", 1) == 0) &&
          lp_buf_append(b, json_string_value(text), json_string_length(text)) == 0)
        rc = 1;
    }
  }
  json_decref(j);
  return rc;
}

int corpus_walk(const char *snippets_path, lp_analyzer_ctx *ctx, corpus_doc_fn fn, void *arg, uint32_t *ndocs,
                char *errstr, size_t errstr_size) {
  *ndocs = 0;
  FILE *f = fopen(snippets_path, "r");
  if (!f) {
    snprintf(errstr, errstr_size, "cannot open %s: %s", snippets_path, strerror(errno));
    return -1;
  }
  dom_table dt = { 0 };
  lp_buf *texts = NULL;
  size_t texts_cap = 0;
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  int rc = 0;
  while ((len = getline(&line, &cap, f)) > 0)
    if (gather_line(line, (size_t)len, &dt, &texts, &texts_cap) < 0) {
      snprintf(errstr, errstr_size, "out of memory gathering the leads' texts");
      rc = -1;
      break;
    }
  free(line);
  fclose(f);
  lp_termfreqs tf = LP_TERMFREQS_INIT;
  for (size_t d = 0; rc == 0 && d < dt.n; d++) {
    if (lp_analyze_terms(ctx, texts[d].data, texts[d].len, &tf) != 0) {
      snprintf(errstr, errstr_size, "out of memory analyzing lead %zu", d);
      rc = -1;
      break;
    }
    lp_buf_free(&texts[d]);
    rc = fn(arg, (uint32_t)d, &tf);
    if (rc) snprintf(errstr, errstr_size, "stopped at lead %zu", d);
  }
  for (size_t d = 0; d < dt.n; d++) lp_buf_free(&texts[d]);
  lp_termfreqs_free(&tf);
  lp_free(texts);
  *ndocs = (uint32_t)dt.n;
  dom_free(&dt);
  return rc;
}

void corpus_queries_free(corpus_query *q, size_t n) {
  for (size_t i = 0; i < n; i++) {
    for (size_t j = 0; j < q[i].n; j++) lp_free(q[i].terms[j]);
    lp_free(q[i].terms);
  }
  lp_free(q);
}

int corpus_queries(const char *prompts_path, lp_analyzer_ctx *ctx, corpus_query **out, size_t *n, char *errstr,
                   size_t errstr_size) {
  *out = NULL;
  *n = 0;
  FILE *f = fopen(prompts_path, "r");
  if (!f) {
    snprintf(errstr, errstr_size, "cannot open %s: %s", prompts_path, strerror(errno));
    return -1;
  }
  corpus_query *q = NULL;
  size_t nq = 0, room = 0;
  lp_termfreqs tf = LP_TERMFREQS_INIT;
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  int rc = 0;
  while (rc == 0 && (len = getline(&line, &cap, f)) > 0) {
    json_t *j = json_loadb(line, (size_t)len, 0, NULL);
    json_t *p = j ? json_object_get(j, "prompt") : NULL;
    if (json_is_string(p) && lp_analyze_terms(ctx, json_string_value(p), json_string_length(p), &tf) == 0 &&
        tf.n > 0) {
      if (nq == room) {
        room = room ? room * 2 : 128;
        corpus_query *nqv = lp_realloc(q, room * sizeof *nqv);
        if (!nqv) rc = -1;
        else q = nqv;
      }
      size_t nt = tf.n > 64 ? 64 : tf.n;   /* LP_INDEX_MAX_QUERY_TERMS */
      char **terms = rc == 0 ? lp_calloc(nt, sizeof *terms) : NULL;
      if (!terms) rc = -1;
      for (size_t i = 0; rc == 0 && i < nt; i++)
        if (!(terms[i] = lp_strdup(tf.v[i].term))) rc = -1;
      if (terms) q[nq++] = (corpus_query){ terms, nt };
      if (rc) snprintf(errstr, errstr_size, "out of memory reading the prompts");
    }
    json_decref(j);
  }
  free(line);
  fclose(f);
  lp_termfreqs_free(&tf);
  if (rc == 0 && nq == 0) {
    snprintf(errstr, errstr_size, "no usable prompt in %s", prompts_path);
    rc = -1;
  }
  if (rc) {
    corpus_queries_free(q, nq);
    return -1;
  }
  *out = q;
  *n = nq;
  return 0;
}
