/*
 * uv_adapter.c: hiredis's libuv adapter (hiredis/adapters/libuv.h), with the correction hiredis 1.0 made to
 * it. The 0.14.1 adapter Debian ships returns early when libuv reports a poll error, but libuv reports a
 * socket error (a refused connect, a reset connection: POLLERR) exactly that way, as status UV_EBADF, and
 * stops the handle: hiredis then never learns that the socket failed, and the connection hangs until a
 * time-out. Here an error is handed to hiredis as the events it was waiting for, so that its own read,
 * write or connect check sees the socket's error at once.
 *
 * Same hooks and life cycle as the original: the poll handle lives as long as the context, and is closed
 * (then freed) by the cleanup hook hiredis calls when the context goes away.
 */
#include <hiredis/async.h>
#include <string.h>
#include <uv.h>

#include "base/alloc.h"
#include "checkpoint/redis_int.h"

typedef struct uv_events {
  redisAsyncContext *context;
  uv_poll_t handle;
  int events;
} uv_events;

static void on_poll(uv_poll_t *handle, int status, int events) {
  uv_events *p = handle->data;
  int ev = status != 0 ? p->events : events;
  if (p->context != NULL && (ev & UV_READABLE)) redisAsyncHandleRead(p->context);
  if (p->context != NULL && (ev & UV_WRITABLE)) redisAsyncHandleWrite(p->context);
}

static void update(uv_events *p) {
  if (p->events) uv_poll_start(&p->handle, p->events, on_poll);
  else uv_poll_stop(&p->handle);
}

static void add_read(void *d) {
  uv_events *p = d;
  p->events |= UV_READABLE;
  update(p);
}

static void del_read(void *d) {
  uv_events *p = d;
  p->events &= ~UV_READABLE;
  update(p);
}

static void add_write(void *d) {
  uv_events *p = d;
  p->events |= UV_WRITABLE;
  update(p);
}

static void del_write(void *d) {
  uv_events *p = d;
  p->events &= ~UV_WRITABLE;
  update(p);
}

static void on_close(uv_handle_t *h) { lp_free(h->data); }

static void cleanup(void *d) {
  uv_events *p = d;
  p->context = NULL;
  uv_close((uv_handle_t *)&p->handle, on_close);
}

int lp__redis_attach(redisAsyncContext *ac, uv_loop_t *loop) {
  if (ac->ev.data != NULL) return REDIS_ERR;
  uv_events *p = lp_calloc(1, sizeof(*p));
  if (p == NULL) return REDIS_ERR;
  if (uv_poll_init(loop, &p->handle, ac->c.fd) != 0) {
    lp_free(p);
    return REDIS_ERR;
  }
  ac->ev.addRead = add_read;
  ac->ev.delRead = del_read;
  ac->ev.addWrite = add_write;
  ac->ev.delWrite = del_write;
  ac->ev.cleanup = cleanup;
  ac->ev.data = p;
  p->handle.data = p;
  p->context = ac;
  return REDIS_OK;
}
