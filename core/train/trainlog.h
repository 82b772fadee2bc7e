/*
 * trainlog.h: the training log, a JSON Lines file that `leadpoet train` reads (docs/adr/0014-learned-model.md).
 *
 * Three kinds of line, each one JSON object with "type":
 *   {"type":"query","query_id":"q-..","ts":MS,"model":"v0","variant":null,"version":"lp-features-1","prompt":"...",
 *    "leads":[{"domain":"acme.com","rank":1,"score":0.8,"v0":0.7,"f":[...LP_FEATURES_N numbers, null = NaN]}]}
 *   {"type":"outcome","id":"..","ts":MS,"domain":"acme.com","event":"meeting","query_id":"q-.."}
 *   {"type":"judgment","query_id":"q-..","ts":MS,"domain":"acme.com","score":0.9}   (the LLM re-rank's verdict)
 * "ts" is event time: the answer's time for a query (its features are what the state held then), the
 * outcome's own ts.
 *
 * Writing never blocks the loop: lines are appended to a memory buffer, and one uv_fs_write at a time
 * hands the buffer to libuv's thread pool. Past max_bytes the file is closed, renamed to <path>.1
 * (replacing an older one) and a new file is opened, all through uv_fs requests. The buffer is bounded
 * (LP_TRAINLOG_MAX_PENDING): when the disk falls that far behind, lines are dropped and counted
 * (lp_trainlog_dropped, and a warning per 1000).
 *
 * Threads: everything on the thread that runs the loop given to lp_trainlog_open (the reactor), but
 * lp_trainlog_free, which runs after that loop has stopped.
 */
#ifndef LP_TRAIN_TRAINLOG_H
#define LP_TRAIN_TRAINLOG_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "leadpoet/stage.h"
#include "query/exec.h"

#define LP_TRAINLOG_MAX_PENDING (16u << 20)  /* bytes waiting for the disk before lines are dropped */

typedef struct lp_trainlog lp_trainlog;

/* Opens (creates, appends to) path on loop; the open itself goes through the thread pool and lines
 * written meanwhile wait for it. A failed open is logged, and the lines are dropped and counted. On
 * success *out is owned by the caller (lp_trainlog_free). LP_EINVAL (empty path, max_bytes 0) or
 * LP_ENOMEM with errstr. Reactor. */
int lp_trainlog_open(lp_trainlog **out, uv_loop_t *loop, const char *path, uint64_t max_bytes, char *errstr,
                     size_t errstr_size);

/* Appends the answer of a query: ranked[0..n) best first with their final scores; hits without a
 * feature row are left out. variant: the A/B variant that answered (NULL or "" without a test: written as
 * null). prompt need not be NUL-terminated. Reactor. */
void lp_trainlog_query(lp_trainlog *t, const char *query_id, int64_t ts_ms, const char *model, const char *variant,
                       const char *prompt, size_t prompt_len, const lp_qhit *const *ranked, const double *scores,
                       size_t n);
/* Appends an applied outcome. Reactor. */
void lp_trainlog_outcome(lp_trainlog *t, const lp_outcome *o);
/* Appends the LLM stage's verdict on one lead of a query (score in [0, 1], higher = more relevant). */
void lp_trainlog_judgment(lp_trainlog *t, const char *query_id, int64_t ts_ms, const char *domain, double score);

/* Lines dropped so far (disk too slow, open failed, out of memory). Reactor. */
uint64_t lp_trainlog_dropped(const lp_trainlog *t);
/* Whether a write, rotation or open is in flight. Reactor. */
int lp_trainlog_busy(const lp_trainlog *t);

/* After the loop stopped, before it is closed: lets requests still in flight finish (uv_run on the loop),
 * writes what is still buffered (blocking: the loop serves no one any more), closes the file and frees t
 * (NULL is fine). The thread that ran the loop. */
void lp_trainlog_free(lp_trainlog *t);

#endif
