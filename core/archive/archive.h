/*
 * archive.h: every answer and every applied outcome, written to PostgreSQL for analysts (issue 10, point 1;
 * docs/adr/0011-postgres-archive.md).
 *
 * The reactor hands each answer (after the merge) and each applied outcome (lp__credit_apply) to the
 * archive, which renders them as rows (rows.h) into a bounded in-memory buffer of batches and writes the
 * oldest batch, when the connection is idle, as one statement: multi-row INSERTs of answers, answer_leads
 * and outcomes together, ON CONFLICT DO NOTHING on keys fixed when the row was made, so a batch whose
 * fate is unknown (the connection dropped) is simply written again and never duplicates a row. libpq runs
 * asynchronously on the reactor's loop (pgconn.h); Postgres slow or down never blocks a query: rows wait
 * in the buffer, and past its bound they are counted as dropped (leadpoet_archive_rows_dropped_total) and
 * logged; lp_archive_pressure() tells an input that can wait (outcomes) to pause first.
 *
 * On (re)connect the archive reads schema_version: a version other than the one this build knows stops the
 * writes (rows wait; retried with backoff) and is logged; at start, a reachable database at another version
 * refuses the start (migrate.h). Then it makes the monthly partitions ahead (leadpoet_ensure_partitions),
 * and again when the month turns.
 *
 * Metrics: leadpoet_archive_connected, leadpoet_archive_rows_buffered, leadpoet_archive_buffer_bytes,
 * leadpoet_archive_oldest_buffered_seconds, leadpoet_archive_rows_written_total{table},
 * leadpoet_archive_rows_dropped_total{table}, leadpoet_archive_failures_total.
 *
 * Threads: the reactor (the loop's thread) for every call but lp_archive_free (main thread, loop ended).
 */
#ifndef LP_ARCHIVE_ARCHIVE_H
#define LP_ARCHIVE_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "leadpoet/stage.h"
#include "metrics/metrics.h"
#include "query/exec.h"

typedef struct lp_archive lp_archive;

/* The tunables. Defaults from lp_archive_conf_default; not config keys yet (the ADR lists the keys). */
typedef struct lp_archive_conf {
  size_t batch_rows;             /* rows per statement, all tables together */
  size_t batch_bytes;            /* bytes of row JSON per statement */
  size_t buffer_bytes;           /* the buffer's bound: rows past it are dropped and counted */
  uint64_t flush_interval_ms;    /* a batch that is not full is written once it is this old */
  uint64_t connect_timeout_ms, query_timeout_ms, backoff_min_ms, backoff_max_ms;
  uint64_t close_timeout_ms;     /* at shutdown, how long to keep writing what is buffered */
  int start_check_timeout_s;     /* the schema check at start (blocking, before the loop runs) */
  int partitions_ahead;          /* monthly partitions made after the current month */
} lp_archive_conf;

void lp_archive_conf_default(lp_archive_conf *c);

/* Starts the archive of this process from the environment (params.h): with DB_ENDPOINT unset, LP_OK and
 * nothing else (lp_archive_active() stays NULL). Else checks the schema (blocking, before the loop runs):
 * LP_ESTATE when the database is reachable at another version than this build knows, LP_ECONFIG for bad
 * DB_* variables (both logged with the reason); an unreachable database is only a warning (rows wait).
 * Then connects in the background. conf NULL: defaults. The archive belongs to the process until
 * lp_archive_free. Reactor thread, before or while the loop runs. */
int lp_archive_start(uv_loop_t *loop, lp_metrics *m, const lp_archive_conf *conf);

/* The process's archive, NULL when off. Any thread may read the pointer; only the reactor uses it. */
lp_archive *lp_archive_active(void);

/* One answer: ranked[0..n) are the leads in rank order (rank = index + 1), scores[i] the score the answer
 * gave ranked[i] (scores NULL: each hit's own). Copies what it needs. a NULL: nothing. Reactor thread. */
void lp_archive_answer(lp_archive *a, const char *query_id, const lp_qplan *plan, const lp_qhit *const *ranked,
                       const double *scores, size_t n, const char *model, const char *variant, double cost_usd);
/* One applied outcome. Copies what it needs. a NULL: nothing. Reactor thread. */
void lp_archive_outcome(lp_archive *a, const lp_outcome *o);

/* 1 when the buffer holds 90% of its bound or more: an input that can wait (outcomes) should pause. */
int lp_archive_pressure(const lp_archive *a);

/* Shutdown: keeps writing what is buffered for up to close_timeout_ms, then logs what could not be
 * written and closes the connection and the handles (the loop ends after that). Rows handed over after
 * this are counted as dropped. a NULL: nothing. Reactor thread. */
void lp_archive_close(lp_archive *a);

/* Frees the archive once the loop has ended (lp_archive_close first). a NULL: nothing. Main thread. */
void lp_archive_free(lp_archive *a);

#endif
