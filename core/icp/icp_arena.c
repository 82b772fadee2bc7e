/*
 * icp_arena.c: a bump allocator over a list of blocks. A parse result (and the parser's tables) is many
 * small strings and arrays that die together, so they are freed in one go.
 */
#include <string.h>

#include "base/alloc.h"
#include "icp/icp_int.h"

#define BLOCK_MIN 4096

typedef struct lp__icp_block {
  struct lp__icp_block *next;
  size_t used, cap;
  _Alignas(16) unsigned char data[];
} lp__icp_block;

void *lp__icp_alloc(lp__icp_arena *a, size_t n) {
  n = (n + 15u) & ~(size_t)15u;
  if (n == 0) n = 16;
  lp__icp_block *b = a->head;
  if (b == NULL || b->cap - b->used < n) {
    size_t cap = n > BLOCK_MIN ? n : BLOCK_MIN;
    b = lp_malloc(sizeof(*b) + cap);
    if (b == NULL) return NULL;
    b->used = 0;
    b->cap = cap;
    b->next = a->head;
    a->head = b;
  }
  void *p = b->data + b->used;
  b->used += n;
  memset(p, 0, n);
  return p;
}

char *lp__icp_strndup(lp__icp_arena *a, const char *s, size_t n) {
  char *d = lp__icp_alloc(a, n + 1);
  if (d == NULL) return NULL;
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

void lp__icp_arena_free(lp__icp_arena *a) {
  lp__icp_block *b = a->head;
  while (b != NULL) {
    lp__icp_block *next = b->next;
    lp_free(b);
    b = next;
  }
  a->head = NULL;
}
