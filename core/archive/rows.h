/*
 * rows.h: an answer or an outcome as rows of the archive's tables, in JSON: one object per row, as the
 * archive's INSERT reads them with jsonb_to_recordset (archive.c). Text is made safe for jsonb on the way:
 * invalid UTF-8 becomes U+FFFD and NUL bytes are left out (jsonb refuses both), so that one odd prompt can
 * never make a whole batch fail.
 *
 * Threads: any; each call touches only its arguments.
 */
#ifndef LP_ARCHIVE_ROWS_H
#define LP_ARCHIVE_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "leadpoet/stage.h"
#include "query/exec.h"

/* Appends s (n bytes) as a JSON string, cleaned as above. LP_OK or LP_ENOMEM. */
int lp__rows_json_text(lp_buf *b, const char *s, size_t n);

/* The "signals" object inside a rendered hit (query/exec.c), or NULL when the hit has none (explain off).
 * *len receives its length. */
const char *lp__rows_signals(const char *json, size_t json_len, size_t *len);

/* The answers row: query_id, ts_ms, prompt, icp (the plan's ICP as JSON), model, variant, cost_usd, k. */
int lp__rows_answer(lp_buf *b, const char *query_id, int64_t ts_ms, const lp_qplan *plan, const char *model,
                    const char *variant, double cost_usd);
/* One answer_leads row: query_id, ts_ms, rank, domain, score (as the answer gave it), signals. */
int lp__rows_lead(lp_buf *b, const char *query_id, int64_t ts_ms, uint32_t rank, const lp_qhit *h, double score);
/* The outcomes row: id, ts_ms, domain, event, query_id, product, value_usd (null when absent). */
int lp__rows_outcome(lp_buf *b, const lp_outcome *o);

#endif
