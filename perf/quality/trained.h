/*
 * trained.h: the "trained" ranking of perf/quality (README.md): the server's training log split by prompt,
 * `leadpoet train` on the training prompts' answers and outcomes only, and the held-out prompts' candidates
 * re-ranked by the model over the feature rows the server logged for them (the same rows, the same native
 * evaluator, as the server's query path with scoring.model set).
 * Plain single-threaded helpers; the server is driven by quality.c.
 */
#ifndef LP_PERF_TRAINED_H
#define LP_PERF_TRAINED_H

#include <stddef.h>

#include "model/gbdt.h"

/* The query ids of the answers quality.c asked for, each with its prompt's index. */
typedef struct qt_ids {
  char **id;
  size_t *prompt;
  size_t n, cap;
} qt_ids;

int qt_ids_add(qt_ids *s, const char *query_id, size_t prompt);
void qt_ids_free(qt_ids *s);

/* Copies from log to out the query lines whose query_id is in keep, and the outcome lines that name one
 * of them: the training set sees nothing of the held-out prompts. Waits (up to 10 s) until every id of
 * keep is in the log (the server writes it off its loop). 0, or -1 with err. */
int qt_filter_log(const char *log, const char *out, const qt_ids *keep, char *err, size_t errlen);

/* Runs `leadpoet train` on input into model (its output to err_path). 0, or -1 with err. */
int qt_train(const char *leadpoet, const char *input, const char *model, const char *err_path, char *err,
             size_t errlen);

/* For each query of which in the log: its logged leads ranked by m (best first), handed to fn with the
 * query's prompt index. Waits like qt_filter_log. 0, or -1 with err. */
typedef void (*qt_ranked_fn)(void *ud, size_t prompt, const char *const *domains, size_t n);
int qt_rank(const char *log, const lp_gbdt *m, const qt_ids *which, qt_ranked_fn fn, void *ud, char *err,
            size_t errlen);

#endif
