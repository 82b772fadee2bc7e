#include "ring/ring.h"

#include "base/alloc.h"
#include "leadpoet/common.h"

int lp_ring_init(lp_ring *r, size_t capacity) {
  if (capacity < 2 || (capacity & (capacity - 1)) != 0) return LP_EINVAL;
  r->slots = lp_calloc(capacity, sizeof(void *));
  if (r->slots == NULL) return LP_ENOMEM;
  atomic_init(&r->head, 0);
  atomic_init(&r->tail, 0);
  r->tail_cache = 0;
  r->head_cache = 0;
  r->mask = capacity - 1;
  return LP_OK;
}

void lp_ring_destroy(lp_ring *r) {
  lp_free(r->slots);
  r->slots = NULL;
}

int lp_ring_push(lp_ring *r, void *msg) {
  size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
  if (head - r->tail_cache > r->mask) {
    /* Looks full from the cached tail: refresh it. Acquire pairs with the consumer's release, so the
     * slot we are about to overwrite has been read. */
    r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (head - r->tail_cache > r->mask) return LP_EAGAIN;
  }
  r->slots[head & r->mask] = msg;
  /* Release: the slot write (and the message it points to) is visible before the new head. */
  atomic_store_explicit(&r->head, head + 1, memory_order_release);
  return LP_OK;
}

void *lp_ring_pop(lp_ring *r) {
  size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
  if (tail == r->head_cache) {
    r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
    if (tail == r->head_cache) return NULL;
  }
  void *msg = r->slots[tail & r->mask];
  atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
  return msg;
}

size_t lp_ring_size(const lp_ring *r) {
  size_t head = atomic_load_explicit(&((lp_ring *)r)->head, memory_order_acquire);
  size_t tail = atomic_load_explicit(&((lp_ring *)r)->tail, memory_order_acquire);
  return head - tail;
}
