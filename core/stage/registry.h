/*
 * registry.h: the stage pipeline. Loads the stages named in [stages] order (built-ins from the generated
 * table, plugins from the .so paths in [stages] plugins), checks each descriptor's ABI before touching
 * it, parses each stage's [stage.<name>] section with its own key table, calls init() with the host API,
 * and runs the stages in order on each shard.
 *
 * A plugin with the wrong ABI major, a newer ABI minor than the host, a descriptor smaller than ABI 1.0,
 * a missing lp_stage_entry symbol or a bad name is refused with a message naming the file and both
 * versions, e.g. "plugins/x.so: stage ABI 2.0, this leadpoet speaks stage ABI 1.2 (rebuild the plugin
 * against leadpoet/stage.h 1.2)"; lp_stages_load then fails and
 * `leadpoet serve` exits 1.
 *
 * A stage callback that returns a negative code is counted (leadpoet_stage_errors_total{stage}); after
 * stages.quarantine_after consecutive errors on a shard, the stage is skipped on that shard (logged
 * once) and events pass through it untouched. Per-stage latency goes to
 * leadpoet_pipeline_latency_seconds{stage}, sampled on one event in LP_STAGE_LATENCY_SAMPLE.
 *
 * Required callbacks: init and on_snippet; save and load come as a pair, and so do save_global and
 * load_global. A stage without shard_open gets its stage-wide state (what init returned) as the
 * shard_state of every per-shard callback. The ABI 1.1 fields (on_admit, on_admit_outcome, save_global,
 * load_global, describe_miner) are read only from a descriptor whose abi_minor is >= 1; a 1.0
 * descriptor's bytes there are its reserved slots and the host copy holds zeros. The same for the ABI 1.2
 * field on_rerank, read only when abi_minor >= 2.
 *
 * The global callbacks (lp_stages_admit and the functions after it) run on the reactor thread, before an
 * event is routed: they count errors and quarantine like the per-shard path, but the quarantine is global
 * (one set of reactor-side state, one owner), and their latency is sampled into the same histogram.
 *
 * Threads: lp_stages_load / lp_stages_free on the main thread while no worker runs. The lp_stage_shard
 * functions on the worker that owns the shard, and only there. The lp_stages_* global functions on the
 * reactor thread only.
 */
#ifndef LP_STAGE_REGISTRY_H
#define LP_STAGE_REGISTRY_H

#include "base/buf.h"
#include "config/config.h"
#include "leadpoet/stage.h"
#include "metrics/metrics.h"
#include "stage/query_out.h"

/* Consecutive errors of a stage on one shard before it is quarantined there. */
#define LP_STAGE_QUARANTINE_AFTER 100   /* the default of stages.quarantine_after */
/* One event in this many (a power of two) has its per-stage latency measured. */
#define LP_STAGE_LATENCY_SAMPLE 64

typedef struct lp_stages lp_stages;
typedef struct lp_stage_shard lp_stage_shard;   /* every stage's state for one shard */

/* Loads, checks, configures and init()s the stages of cfg->stages.order (see the top of this file).
 * metrics receives leadpoet_stage_errors_total and leadpoet_pipeline_latency_seconds (NULL: the default
 * registry, lp_metrics_default(); none at all if that is NULL too); stage counters made through the host
 * API always go to lp_metrics_default(). cfg must outlive *out: the parsed stage sections live in it.
 * On error returns a negative LP_E* code with the reason in errstr, and *out is NULL. Main thread. */
int lp_stages_load(lp_stages **out, lp_config *cfg, lp_metrics *metrics, char *errstr, size_t errstr_size);
/* The same, with n extra descriptors offered as if they were built-ins (tests inject their own stages
 * this way). The descriptors must outlive *out. Main thread. */
int lp_stages_load_descs(lp_stages **out, lp_config *cfg, lp_metrics *metrics, const lp_stage_desc *const *descs,
                         size_t n, char *errstr, size_t errstr_size);
/* Calls every destroy() in reverse order and unloads the plugins. Every shard must be closed before.
 * NULL is fine. Main thread, with no worker running. */
void lp_stages_free(lp_stages *st);
size_t lp_stages_count(const lp_stages *st);
/* The host's copy of stage i's descriptor (host-sized, zero past what the stage declared); owned by st. */
const lp_stage_desc *lp_stages_desc(const lp_stages *st, size_t i);
/* The index of the stage called name, or -1. */
int lp_stages_find(const lp_stages *st, const char *name);
/* Where stage i comes from: "built-in" or the plugin's path. Owned by st. */
const char *lp_stages_origin(const lp_stages *st, size_t i);

/* Checks a descriptor's version fields (first, before reading anything else), its size, its name and its
 * required callbacks; "what" names it in the message (a path or "built-in stage x"). Any thread. */
int lp_stage_check_desc(const lp_stage_desc *d, const char *what, char *errstr, size_t errstr_size);
/* dlopen()s path (RTLD_NOW | RTLD_LOCAL), finds lp_stage_entry, checks the descriptor. *handle receives
 * the dlopen handle (the caller dlclose()s it); on error nothing stays open. Main thread. */
int lp_stage_open_plugin(const char *path, const lp_stage_desc **desc, void **handle, char *errstr,
                         size_t errstr_size);

/* The host API table handed to every init(). Static, never freed. Any thread. */
const lp_host_api *lp_stage_host_api(void);

/* Opens every stage on shard (shard_open where set). On failure closes what was opened, logs the stage
 * and the error, and returns it. The shard belongs to the calling worker thread from here on; close it
 * there with lp_stage_shard_close (NULL is fine). */
int lp_stage_shard_open(lp_stages *st, uint32_t shard, lp_stage_shard **out);
void lp_stage_shard_close(lp_stage_shard *ss);
/* Runs on_snippet of every stage in order; stops at the first LP_STAGE_DROP (v->code says why; the
 * stage's name when it gave no code). Returns LP_STAGE_CONTINUE or LP_STAGE_DROP; a stage error is
 * counted and the event goes on to the next stage. v is the caller's, cleared here. Shard's thread. */
int lp_stage_shard_snippet(lp_stage_shard *ss, const lp_snippet *s, lp_verdict *v);
int lp_stage_shard_outcome(lp_stage_shard *ss, const lp_outcome *o, lp_verdict *v);
void lp_stage_shard_tick(lp_stage_shard *ss, int64_t now_ms);
/* Every stage's on_query in order, contributions into out (query_out.h). Stage errors are counted and
 * skipped; returns LP_OK. Shard's thread. */
int lp_stage_shard_query(lp_stage_shard *ss, const lp_query *q, lp_query_out *out);
/* 1 when stage i is quarantined on this shard. */
int lp_stage_shard_quarantined(const lp_stage_shard *ss, size_t i);
/* Appends to out a msgpack map {stage name: bin of what its save() wrote}, for the stages that have save
 * and are not quarantined. A save error returns its code (out's length is restored) and is logged with the
 * stage's name. Shard's thread. */
int lp_stage_shard_save(lp_stage_shard *ss, lp_buf *out);
/* Hands each stage its own bytes from a map written by lp_stage_shard_save; stages absent from the map
 * keep their fresh state, entries of stages no longer loaded are skipped with a warning. Input that is not
 * such a map is LP_EINVAL; a stage's load error is returned with its name in errstr, and the shard should
 * then be closed. Shard's thread. */
int lp_stage_shard_load(lp_stage_shard *ss, const void *data, size_t len, char *errstr, size_t errstr_size);

/* ---- Global (ABI 1.1) callbacks: reactor thread only ---- */

/* Runs on_admit of every stage that has one, in order, on a decoded snippet before it is routed; stops at
 * the first LP_STAGE_DROP (v->code says why, the stage's name when it gave none). A stage error is counted
 * in leadpoet_stage_errors_total{stage} and the snippet goes on; at stages.quarantine_after consecutive
 * errors the stage's global callbacks are skipped from then on (logged once). Returns LP_STAGE_CONTINUE or
 * LP_STAGE_DROP. s stays the caller's; v is the caller's, cleared here. Reactor thread. */
int lp_stages_admit(lp_stages *st, const lp_snippet *s, lp_verdict *v);
/* The same with on_admit_outcome, for a decoded outcome. Reactor thread. */
int lp_stages_admit_outcome(lp_stages *st, const lp_outcome *o, lp_verdict *v);
/* Appends to out a msgpack map {stage name: bin of what its save_global() wrote}, for the stages that
 * have save_global and are not quarantined. A save error returns its code (out's length restored) and is
 * logged with the stage's name. Reactor thread (or the main thread once the reactor has stopped). */
int lp_stages_save_global(lp_stages *st, lp_buf *out);
/* Hands each stage its bytes from a map written by lp_stages_save_global (same rules as
 * lp_stage_shard_load: not such a map is LP_EINVAL, unknown stages are skipped with a warning, a stage's
 * load_global error is returned with its name in errstr). d is the caller's. Reactor or main thread,
 * before events flow. */
int lp_stages_load_global(lp_stages *st, const void *d, size_t n, char *errstr, size_t errstr_size);
/* Appends ,"<stage>":{...} for every stage whose describe_miner wrote a JSON object about miner (nothing
 * for a stage that wrote nothing), so the caller can splice it into its own object. A stage that fails or
 * writes something that is not an object is counted as an error and left out. Returns LP_OK, or
 * LP_ENOMEM with out's length restored. Reactor thread. */
int lp_stages_describe_miner(lp_stages *st, lp_str miner, lp_buf *out);
/* 1 when stage i's global callbacks are quarantined. Reactor thread. */
int lp_stages_global_quarantined(const lp_stages *st, size_t i);

/* ---- Re-ranking (ABI 1.2): reactor thread only ---- */

/* 1 when a loaded stage has on_rerank and is not quarantined (the caller can skip building a request). */
int lp_stages_can_rerank(const lp_stages *st);
/* Offers the merged answer to the first stage with on_rerank. Returns LP_OK: done(done_ud, &result) will be
 * called exactly once, later, on this thread, and req (with all it points to) must stay valid until then;
 * LP_RERANK_SKIP: no such stage, or it declined (nothing spent, done never called); a negative code: the
 * stage failed (counted in leadpoet_stage_errors_total{stage}, quarantined at stages.quarantine_after
 * consecutive failures like the other global callbacks; done never called). Reactor thread. */
int lp_stages_rerank(lp_stages *st, const lp_rerank_req *req, lp_rerank_done_fn done, void *done_ud);

/* Sets where host->miner_reputation gets its answer: fn(miner, &mean, &low, &high) returning LP_OK with
 * 0 <= low <= mean <= high <= 1. NULL restores the default, the Beta(1,1) prior (0.5 in [0.025, 0.975]);
 * an answer that fails or is out of range reaches the stage as that prior. fn is called on the reactor
 * thread. Set it on the main thread before the reactor runs (tests: before driving the stages). */
void lp_stages_set_reputation_fn(int (*fn)(lp_str miner, double *mean, double *low, double *high));

#endif
