/*
 * model.h: the learned model of the query path, and the training log (docs/adr/0014-learned-model.md).
 *
 * scoring.model names an XGBoost JSON (or LightGBM text) model and its sidecar <file>.features, written by
 * `leadpoet train`: {"version": "lp-features-1", "features": [names...], "name": "..."}. A model is
 * refused when the sidecar is missing, its version or names differ from what core/query/features.h
 * computes, the model's feature count differs (lp_gbdt_load's expect_features) or it has more than one
 * output. Without a model, or with scoring.model empty, queries are scored by v0 and answer "model":"v0".
 *
 * Reload (SIGHUP, POST /v1/admin/reload): the file is read and checked in libuv's thread pool; on the
 * reactor the new model becomes the current one. A query takes a reference to the current model when it
 * is scattered and drops it when its context is freed, after every worker answered: the old model is
 * freed when its last query let go. References change on the reactor only, so no atomics are needed. A
 * model that fails to load leaves the running one in place and the error is answered (or logged).
 *
 * With scoring.variants (an A/B test, below), each variant holds its own current model the same way.
 *
 * The training log (scoring.train_log, core/train/trainlog.h) is opened at start when configured.
 *
 * Threads: reactor, but lp__model_gbdt (any thread holding a reference) and lp__model_free (main thread,
 * after the loop stopped, before it is closed). One set per process, like the archive (archive.h).
 */
#ifndef LP_SERVER_MODEL_H
#define LP_SERVER_MODEL_H

#include "http/http.h"
#include "model/gbdt.h"
#include "server/server_int.h"
#include "server/variants.h"
#include "train/trainlog.h"

typedef struct lp_model_ref lp_model_ref;


/* Loads scoring.model (blocking, before the server listens: nothing to serve yet) and opens the training
 * log. A configured model that cannot be loaded fails the start: LP_ECONFIG with the reason logged. */
int lp__model_start(lp_server *srv);
/* Frees the current model and the training log (writing what it still holds). */
void lp__model_free(void);

/* The current model with one more reference (NULL = v0, nothing to release but NULL is fine): the one
 * of scoring.model, or of the first variant (the control) in an A/B test. */
lp_model_ref *lp__model_acquire(void);
/* The same for variant v (0..lp__experiment_count()-1; NULL past it). */
lp_model_ref *lp__model_acquire_variant(uint32_t v);
void lp__model_release(lp_model_ref *m);
/* The evaluator of a held model (NULL for v0), and its name ("v0" for NULL). */
const lp_gbdt *lp__model_gbdt(const lp_model_ref *m);
const char *lp__model_name(const lp_model_ref *m);

/* Loads a model file into a new reference (refs 1, the caller's) after every check above. Any thread
 * (blocks on disk). LP_OK, or an LP_E* code with errstr: LP_ENOENT/LP_EIO (unreadable), LP_EINVAL (corrupt
 * model or sidecar), LP_ERANGE (features mismatch). */
int lp__model_load(const char *path, lp_model_ref **out, char *errstr, size_t errstr_size);

/* Reloads scoring.model off the reactor; done(ud, rc, message) on the reactor: LP_OK with the new model's
 * name, or the error (the running model stays). done may be NULL (the result is logged either way). */
void lp__model_reload(lp_server *srv, void (*done)(void *ud, int rc, const char *msg), void *ud);
/* POST /v1/admin/reload: 200 {"model": name} once loaded, 400 bad_model with why (the running model stays),
 * 503 when out of memory. */
void lp__route_admin_reload(lp_http_req *req, lp_str param, void *ud);

/* ---- A/B tests (scoring.variants; docs/adr/0014-learned-model.md, addendum) ----------------------
 * Each query is answered by one variant: forced by the request header X-Leadpoet-Variant, else by
 * XXH3(query_id) % 100 against the cumulative shares (deterministic: a query_id always lands in the same
 * variant). The answer names it ("variant"), and is remembered in a bounded ring with its variant (the
 * answers.h ring, scoring.experiment_answers and scoring.experiment_bytes) so that an outcome naming its
 * query_id and one of its leads is credited to that variant. A reload loads every variant's file and
 * installs them all, or, when one fails, none. Figures count from the start of this process, on this
 * instance. The list's parser, the assignment and the z-test are in variants.h. */

/* Reactor only, from here. Whether an A/B test runs, the number of variants (1 without), a name ("" without). */
int lp__experiment_on(void);
uint32_t lp__experiment_count(void);
const char *lp__variant_name(uint32_t v);
/* The variant a query_id is assigned (0 without a test). */
uint32_t lp__experiment_assign(const char *query_id, size_t len);
/* The variant named by X-Leadpoet-Variant: LP_OK, or LP_ENOENT with errstr (unknown, or no test): a 400. */
int lp__experiment_find(lp_str name, uint32_t *v, char *errstr, size_t errstr_size);
/* An answer given by variant v: counted (queries, leads delivered, the metric) and remembered for credit.
 * Copies what it needs. Nothing without a test. */
void lp__experiment_answered(uint32_t v, const char *query_id, const lp_qhit *const *ranked, size_t n);
/* An applied outcome: credited to the variant of the answer its query_id names, when the ring holds it and
 * it returned the outcome's domain; a positive event (replied, meeting, purchased) converts the lead once. */
void lp__experiment_outcome(const lp_outcome *o);
/* GET /v1/experiments: per variant its model, share, queries, leads_delivered, outcomes by event,
 * positive, converted, conversion_rate, and z / p_value against the control (null for the control or
 * when undefined). */
void lp__route_experiments(lp_http_req *req, lp_str param, void *ud);

/* The training log, or NULL when scoring.train_log is empty. */
lp_trainlog *lp__trainlog(void);

#endif
