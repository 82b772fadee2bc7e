/*
 * corpus.h: the documents and queries that bm25_vs_xapian gives to both engines, from a perf/world market.
 *
 * A document is a lead: the text of all its snippets (in file order, joined by newlines) analyzed by
 * core/text's analyzer into distinct terms with their counts. A query is a prompt of prompts.jsonl analyzed
 * the same way (its distinct terms, each once). Threads: the main thread of the program.
 */
#ifndef LP_PERF_CORPUS_H
#define LP_PERF_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#include "text/analyzer.h"

/* Called once per lead with its analyzed terms (valid during the call only); doc counts from 0 in the
 * order the leads first appear. A non-zero return stops the walk and is returned by corpus_walk. */
typedef int (*corpus_doc_fn)(void *arg, uint32_t doc, const lp_termfreqs *tf);

/* Reads snippets_path, groups the texts by lead.domain, analyzes each lead and calls fn for it. Lines
 * without a string lead.domain and a string text are skipped (the world writes some bad lines on purpose).
 * *ndocs receives the number of leads. 0, the callback's code, or -1 with the reason in errstr. */
int corpus_walk(const char *snippets_path, lp_analyzer_ctx *ctx, corpus_doc_fn fn, void *arg, uint32_t *ndocs,
                char *errstr, size_t errstr_size);

/* A query: its distinct terms, NUL-terminated copies. */
typedef struct corpus_query {
  char **terms;
  size_t n;
} corpus_query;

/* The prompts of prompts_path as queries (prompts whose analysis is empty are left out). The caller frees
 * them with corpus_queries_free. 0, or -1 with the reason in errstr. */
int corpus_queries(const char *prompts_path, lp_analyzer_ctx *ctx, corpus_query **out, size_t *n, char *errstr,
                   size_t errstr_size);
void corpus_queries_free(corpus_query *q, size_t n);

#endif
