/*
 * registry.h: the stage pipeline. Loads the stages named in [stages] order (built-ins from the generated
 * table, plugins from the .so paths in [stages] plugins), checks each descriptor's ABI before touching
 * it, parses each stage's [stage.<name>] section with its own key table, calls init() with the host API,
 * and runs the stages in order on each shard.
 *
 * A plugin with the wrong ABI major, a newer ABI minor than the host, a descriptor smaller than ABI 1.0,
 * a missing lp_stage_entry symbol or a bad name is refused with a message naming the file and both
 * versions, e.g. "plugins/x.so: stage ABI 2.0, this leadpoet speaks 1.0"; lp_stages_load then fails and
 * `leadpoet serve` exits 1.
 *
 * A stage callback that returns a negative code is counted (leadpoet_stage_errors_total{stage}); after
 * quarantine_after consecutive errors on a shard, the stage is skipped on that shard (logged once) and
 * events pass through it untouched.
 *
 * Threads: lp_stages_load / lp_stages_free on the main thread while no worker runs. The lp_stage_shard
 * functions on the worker that owns the shard, and only there.
 */
#ifndef LP_STAGE_REGISTRY_H
#define LP_STAGE_REGISTRY_H

#include "base/buf.h"
#include "config/config.h"
#include "leadpoet/stage.h"
#include "metrics/metrics.h"

typedef struct lp_stages lp_stages;
typedef struct lp_stage_shard lp_stage_shard;   /* every stage's state for one shard */

int lp_stages_load(lp_stages **out, lp_config *cfg, lp_metrics *metrics, char *errstr, size_t errstr_size);
void lp_stages_free(lp_stages *st);
size_t lp_stages_count(const lp_stages *st);
const lp_stage_desc *lp_stages_desc(const lp_stages *st, size_t i);

/* Checks a descriptor's version fields and name; "what" names it in the message (a path or "built-in"). */
int lp_stage_check_desc(const lp_stage_desc *d, const char *what, char *errstr, size_t errstr_size);
/* dlopen()s path, finds lp_stage_entry, checks the descriptor. *handle receives the dlopen handle. */
int lp_stage_open_plugin(const char *path, const lp_stage_desc **desc, void **handle, char *errstr,
                         size_t errstr_size);

/* The host API table handed to every init(). */
const lp_host_api *lp_stage_host_api(void);

int lp_stage_shard_open(lp_stages *st, uint32_t shard, lp_stage_shard **out);
void lp_stage_shard_close(lp_stage_shard *ss);
/* Runs on_snippet of every stage in order; stops at the first LP_STAGE_DROP (v->code says why).
 * Returns LP_STAGE_CONTINUE or LP_STAGE_DROP. */
int lp_stage_shard_snippet(lp_stage_shard *ss, const lp_snippet *s, lp_verdict *v);
int lp_stage_shard_outcome(lp_stage_shard *ss, const lp_outcome *o, lp_verdict *v);
void lp_stage_shard_tick(lp_stage_shard *ss, int64_t now_ms);
int lp_stage_shard_query(lp_stage_shard *ss, const lp_query *q, lp_query_out *out);
/* Serialises every stage's state for this shard as a msgpack map {stage name: bin}. */
int lp_stage_shard_save(lp_stage_shard *ss, lp_buf *out);
/* Hands each stage its own bytes from a map written by lp_stage_shard_save; stages absent from the map
 * start empty, entries of stages no longer loaded are skipped with a warning. */
int lp_stage_shard_load(lp_stage_shard *ss, const void *data, size_t len, char *errstr, size_t errstr_size);

#endif
