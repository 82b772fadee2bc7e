#include "query/topk.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "leadpoet/common.h"

int lp_topk_better(double sa, const char *ka, double sb, const char *kb) {
  if (sa != sb) return sa > sb;
  return strcmp(ka, kb) < 0;
}

int lp_topk_init(lp_topk *t, size_t k) {
  t->n = 0;
  t->k = k;
  t->v = lp_malloc((k ? k : 1) * sizeof(lp_topk_entry));
  return t->v ? LP_OK : LP_ENOMEM;
}

void lp_topk_free(lp_topk *t) {
  lp_free(t->v);
  t->v = NULL;
  t->n = t->k = 0;
}

/* The heap's root is the worst entry: "worse" is the inverse of the answer order. */
static int worse(const lp_topk_entry *a, const lp_topk_entry *b) { return lp_topk_better(b->score, b->key, a->score, a->key); }

static void sift_up(lp_topk_entry *v, size_t i) {
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!worse(&v[i], &v[p])) break;
    lp_topk_entry tmp = v[i];
    v[i] = v[p];
    v[p] = tmp;
    i = p;
  }
}

static void sift_down(lp_topk_entry *v, size_t n, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && worse(&v[l], &v[m])) m = l;
    if (r < n && worse(&v[r], &v[m])) m = r;
    if (m == i) return;
    lp_topk_entry tmp = v[i];
    v[i] = v[m];
    v[m] = tmp;
    i = m;
  }
}

int lp_topk_would_enter(const lp_topk *t, double score, const char *key) {
  if (t->k == 0) return 0;
  if (t->n < t->k) return 1;
  return lp_topk_better(score, key, t->v[0].score, t->v[0].key);
}

int lp_topk_push(lp_topk *t, double score, const char *key, void *payload, void **evicted) {
  if (evicted) *evicted = NULL;
  if (!lp_topk_would_enter(t, score, key)) {
    if (evicted) *evicted = payload;
    return 0;
  }
  lp_topk_entry e = { score, key, payload };
  if (t->n < t->k) {
    t->v[t->n] = e;
    sift_up(t->v, t->n++);
    return 1;
  }
  if (evicted) *evicted = t->v[0].payload;
  t->v[0] = e;
  sift_down(t->v, t->n, 0);
  return 1;
}

double lp_topk_threshold(const lp_topk *t) { return t->n < t->k || t->k == 0 ? -INFINITY : t->v[0].score; }

static int cmp_answer(const void *a, const void *b) {
  const lp_topk_entry *x = a, *y = b;
  if (lp_topk_better(x->score, x->key, y->score, y->key)) return -1;
  if (lp_topk_better(y->score, y->key, x->score, x->key)) return 1;
  return 0;
}

lp_topk_entry *lp_topk_sorted(lp_topk *t, size_t *n) {
  if (t->n > 1) qsort(t->v, t->n, sizeof(lp_topk_entry), cmp_answer);
  *n = t->n;
  return t->v;
}
