/*
 * topk.h: a bounded top-k of (score, key) with the answer's order: score descending, then key (the
 * domain) ascending. A min-heap of k entries keeps the best k seen; lp_topk_sorted() returns them in
 * order. Used on each worker for its local top-k and on the reactor to merge the workers' answers.
 *
 * Keys are borrowed: the caller keeps each key's bytes alive while it is in the heap (an entry also
 * carries an opaque payload pointer for the caller). Not thread-safe; one owner.
 */
#ifndef LP_QUERY_TOPK_H
#define LP_QUERY_TOPK_H

#include <stddef.h>
#include <stdint.h>

typedef struct lp_topk_entry {
  double score;
  const char *key;
  void *payload;
} lp_topk_entry;

typedef struct lp_topk {
  lp_topk_entry *v;
  size_t n, k;
} lp_topk;

int lp_topk_init(lp_topk *t, size_t k);
void lp_topk_free(lp_topk *t);
/* 1 when an entry with this score and key would enter the heap now. */
int lp_topk_would_enter(const lp_topk *t, double score, const char *key);
/* Offers an entry. Returns 1 if it entered; *evicted receives the payload pushed out (or NULL), so the
 * caller can free it. */
int lp_topk_push(lp_topk *t, double score, const char *key, void *payload, void **evicted);
/* The lowest score that still enters once the heap is full; -INFINITY until then. */
double lp_topk_threshold(const lp_topk *t);
/* Sorts the entries in place into answer order (best first) and returns them; the heap is spent. */
lp_topk_entry *lp_topk_sorted(lp_topk *t, size_t *n);

/* Answer order: a before b? (higher score first, then lower key) */
int lp_topk_better(double sa, const char *ka, double sb, const char *kb);

#endif
