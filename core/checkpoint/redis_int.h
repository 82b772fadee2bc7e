/* redis_int.h: inside the Redis client. */
#ifndef LP_CHECKPOINT_REDIS_INT_H
#define LP_CHECKPOINT_REDIS_INT_H

#include <hiredis/async.h>
#include <uv.h>

/* Attaches a hiredis async context to a libuv loop (see uv_adapter.c for why it is not hiredis's own
 * adapter header). REDIS_OK or REDIS_ERR. Loop thread. */
int lp__redis_attach(redisAsyncContext *ac, uv_loop_t *loop);

#endif
