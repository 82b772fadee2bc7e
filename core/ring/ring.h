/*
 * ring.h: a bounded lock-free single-producer / single-consumer ring of pointers (C11 atomics).
 *
 * Exactly one thread pushes and exactly one thread pops; the ring carries pointers to messages, and a
 * message belongs to the producer until a push succeeds and to the consumer once its pop returns it.
 * Capacity is a power of two. Head and tail live on their own cache lines, and each side caches the
 * other's index so that a push or a pop touches the shared line only when it must.
 *
 * The ring does no waking: pair it with a uv_async_t (lp_worker does) and signal after pushing, with a
 * sequentially consistent fence between the push and uv_async_send (worker.c, ring_wake): libuv's send
 * reads its pending flag unfenced, and without the fence a push can be missed by the consumer it woke.
 */
#ifndef LP_RING_H
#define LP_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define LP_CACHE_LINE 64

typedef struct lp_ring {
  _Alignas(LP_CACHE_LINE) _Atomic size_t head;  /* next slot to write; written by the producer only */
  size_t tail_cache;                              /* producer's last view of tail */
  _Alignas(LP_CACHE_LINE) _Atomic size_t tail;  /* next slot to read; written by the consumer only */
  size_t head_cache;                              /* consumer's last view of head */
  _Alignas(LP_CACHE_LINE) size_t mask;
  void **slots;
} lp_ring;

/* capacity must be a power of two >= 2. Returns 0, LP_EINVAL or LP_ENOMEM. Not thread-safe. */
int lp_ring_init(lp_ring *r, size_t capacity);
void lp_ring_destroy(lp_ring *r);

/* Producer thread only. Returns 0, or LP_EAGAIN when full (the message stays the caller's). */
int lp_ring_push(lp_ring *r, void *msg);
/* Consumer thread only. Returns the oldest message, or NULL when empty. */
void *lp_ring_pop(lp_ring *r);

/* Approximate, any thread: for metrics and backpressure decisions. */
size_t lp_ring_size(const lp_ring *r);
static inline size_t lp_ring_capacity(const lp_ring *r) { return r->mask + 1; }

#endif
