/*
 * archive.c: see archive.h. The buffer is a FIFO of batches; each batch holds, per table, the JSON array of
 * its rows ("[" row "," row ...). The head batch is the one written next; once sent it is sealed ("]"
 * appended) and stays as it is until the database confirms it, so a retry sends exactly the same rows. New
 * rows always go to an unsealed tail batch, and an answer's rows (answers + its answer_leads) always go to
 * one batch, so an answer is archived whole or not at all.
 */
#include "archive/archive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "archive/migrate.h"
#include "archive/params.h"
#include "archive/pgconn.h"
#include "archive/rows.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"

enum { T_ANSWERS, T_LEADS, T_OUTCOMES, T_COUNT };
static const char *const table_names[T_COUNT] = { "answers", "answer_leads", "outcomes" };

/* What the connection is doing: reading schema_version, making partitions, or writing batches. */
enum { S_CHECK, S_PARTITIONS, S_WRITE };

/* One statement: the three tables' rows as JSON arrays, read by jsonb_to_recordset; the counts of rows
 * actually inserted come back (a retried batch inserts fewer, or none). */
static const char insert_sql[] =
  "WITH a AS (INSERT INTO answers (query_id, ts, prompt, icp, model, variant, cost_usd, k) "
  "SELECT r.query_id, to_timestamp(r.ts_ms / 1000.0), r.prompt, r.icp, r.model, r.variant, r.cost_usd, r.k "
  "FROM jsonb_to_recordset($1::jsonb) AS r(query_id text, ts_ms bigint, prompt text, icp jsonb, model text, "
  "variant text, cost_usd double precision, k integer) ON CONFLICT DO NOTHING RETURNING 1), "
  "l AS (INSERT INTO answer_leads (query_id, ts, rank, domain, score, signals) "
  "SELECT r.query_id, to_timestamp(r.ts_ms / 1000.0), r.rank, r.domain, r.score, r.signals "
  "FROM jsonb_to_recordset($2::jsonb) AS r(query_id text, ts_ms bigint, rank integer, domain text, "
  "score double precision, signals jsonb) ON CONFLICT DO NOTHING RETURNING 1), "
  "o AS (INSERT INTO outcomes (id, ts, domain, event, query_id, product, value_usd) "
  "SELECT r.id, to_timestamp(r.ts_ms / 1000.0), r.domain, r.event, r.query_id, r.product, r.value_usd "
  "FROM jsonb_to_recordset($3::jsonb) AS r(id text, ts_ms bigint, domain text, event text, query_id text, "
  "product text, value_usd double precision) ON CONFLICT DO NOTHING RETURNING 1) "
  "SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM l), (SELECT count(*) FROM o)";

typedef struct batch {
  struct batch *next;
  lp_buf t[T_COUNT];
  uint32_t rows[T_COUNT];
  uint64_t first_ms;         /* monotonic time of its first row */
  int sealed;
} batch;

struct lp_archive {
  uv_loop_t *loop;
  lp_archive_conf conf;
  lp_pg_params params;
  lp_pgconn *pg;
  uv_timer_t timer;          /* every flush_interval_ms: write a due batch, refresh the gauges, close */
  batch *head, *tail;
  size_t bytes, rows;        /* buffered */
  int stage;
  int connected;
  int bad_version;           /* the last version refused, to log each one once */
  int64_t partitions_month;  /* UTC year * 12 + month of the last leadpoet_ensure_partitions */
  int closing, closed;
  uint64_t close_deadline_ms;
  uint64_t last_drop_log_ms;
  lp_metric *m_connected, *m_rows, *m_bytes, *m_oldest, *m_failures;
  lp_metric *m_written[T_COUNT], *m_dropped[T_COUNT];
};

static lp_archive *active;

static uint64_t mono_ms(void) { return lp_mono_ns() / 1000000u; }

static int64_t utc_month(void) {
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  return (int64_t)(tm.tm_year + 1900) * 12 + tm.tm_mon;
}

void lp_archive_conf_default(lp_archive_conf *c) {
  *c = (lp_archive_conf){
    .batch_rows = 2000, .batch_bytes = 1u << 20, .buffer_bytes = 64u << 20, .flush_interval_ms = 200,
    .connect_timeout_ms = 10000, .query_timeout_ms = 30000, .backoff_min_ms = 100, .backoff_max_ms = 10000,
    .close_timeout_ms = 5000, .start_check_timeout_s = 3, .partitions_ahead = 2,
  };
}

lp_archive *lp_archive_active(void) { return active; }

int lp_archive_pressure(const lp_archive *a) {
  return a != NULL && a->bytes >= a->conf.buffer_bytes / 10 * 9;
}

/* ---- the buffer ------------------------------------------------------------------------------------- */

static void refresh_gauges(lp_archive *a) {
  lp_gauge_set(a->m_rows, (double)a->rows);
  lp_gauge_set(a->m_bytes, (double)a->bytes);
  lp_gauge_set(a->m_oldest, a->head ? (double)(mono_ms() - a->head->first_ms) / 1000.0 : 0);
}

static size_t batch_bytes(const batch *b) { return b->t[0].len + b->t[1].len + b->t[2].len; }
static size_t batch_rows(const batch *b) { return (size_t)b->rows[0] + b->rows[1] + b->rows[2]; }

static void batch_free(batch *b) {
  for (int i = 0; i < T_COUNT; i++) lp_buf_free(&b->t[i]);
  lp_free(b);
}

static batch *batch_new(void) {
  batch *b = lp_calloc(1, sizeof(*b));
  if (b == NULL) return NULL;
  for (int i = 0; i < T_COUNT; i++) {
    if (lp_buf_puts(&b->t[i], "[") != LP_OK) {
      batch_free(b);
      return NULL;
    }
  }
  b->first_ms = mono_ms();
  return b;
}

/* Counts rows that will never be archived, and says so in the log at most once a minute. */
static void count_drop(lp_archive *a, const uint32_t rows[T_COUNT], const char *why) {
  for (int i = 0; i < T_COUNT; i++) lp_counter_add(a->m_dropped[i], rows[i]);
  uint64_t now = mono_ms();
  if (a->last_drop_log_ms != 0 && now - a->last_drop_log_ms < 60000) return;
  a->last_drop_log_ms = now;
  lp_log_error("archive: rows dropped", "why=\"%s\" answers=%u answer_leads=%u outcomes=%u buffered_rows=%zu "
               "hint=\"leadpoet_archive_rows_dropped_total counts them all\"", why, rows[0], rows[1], rows[2], a->rows);
}

static void try_send(lp_archive *a);

/* Adds rows made in scratch[] (each "row,row,...") to the tail batch, or a new one; LP_ENOMEM when the
 * buffer's bound or memory refuses them (the caller counts the drop). */
static int push(lp_archive *a, lp_buf scratch[T_COUNT], const uint32_t rows[T_COUNT]) {
  size_t add = scratch[0].len + scratch[1].len + scratch[2].len + T_COUNT;
  uint32_t n = rows[0] + rows[1] + rows[2];
  if (a->bytes + add > a->conf.buffer_bytes) return LP_ENOMEM;
  batch *b = a->tail;
  if (b == NULL || b->sealed || (batch_rows(b) > 0 && (batch_rows(b) + n > a->conf.batch_rows ||
                                                        batch_bytes(b) + add > a->conf.batch_bytes))) {
    b = batch_new();
    if (b == NULL) return LP_ENOMEM;
    if (a->tail) a->tail->next = b;
    else a->head = b;
    a->tail = b;
  }
  size_t before = batch_bytes(b);
  for (int i = 0; i < T_COUNT; i++)  /* reserve first, so that the answer goes in whole or not at all */
    if (rows[i] > 0 && lp_buf_reserve(&b->t[i], scratch[i].len + 2) != LP_OK) return LP_ENOMEM;
  for (int i = 0; i < T_COUNT; i++) {
    if (rows[i] == 0) continue;
    if (b->rows[i] > 0) lp_buf_puts(&b->t[i], ",");
    lp_buf_append(&b->t[i], scratch[i].data, scratch[i].len);
    b->rows[i] += rows[i];
  }
  a->bytes += batch_bytes(b) - before;
  a->rows += n;
  lp_gauge_set(a->m_rows, (double)a->rows);
  lp_gauge_set(a->m_bytes, (double)a->bytes);
  if (batch_rows(b) >= a->conf.batch_rows || batch_bytes(b) >= a->conf.batch_bytes) try_send(a);
  return LP_OK;
}

void lp_archive_answer(lp_archive *a, const char *query_id, const lp_qplan *plan, const lp_qhit *const *ranked,
                       const double *scores, size_t n, const char *model, const char *variant, double cost_usd) {
  if (a == NULL) return;
  lp_buf s[T_COUNT] = { LP_BUF_INIT, LP_BUF_INIT, LP_BUF_INIT };
  uint32_t rows[T_COUNT] = { 1, (uint32_t)n, 0 };
  int64_t ts = lp_now_ms();
  int rc = a->closed ? LP_ESTATE : lp__rows_answer(&s[T_ANSWERS], query_id, ts, plan, model, variant, cost_usd);
  for (size_t i = 0; i < n && rc == LP_OK; i++) {
    if (i > 0) rc = lp_buf_puts(&s[T_LEADS], ",");
    if (rc == LP_OK) rc = lp__rows_lead(&s[T_LEADS], query_id, ts, (uint32_t)(i + 1), ranked[i], scores ? scores[i] : ranked[i]->score);
  }
  if (rc == LP_OK) rc = push(a, s, rows);
  if (rc != LP_OK) count_drop(a, rows, rc == LP_ESTATE ? "archive closed" : "buffer full (Postgres slow or down)");
  for (int i = 0; i < T_COUNT; i++) lp_buf_free(&s[i]);
}

void lp_archive_outcome(lp_archive *a, const lp_outcome *o) {
  if (a == NULL) return;
  lp_buf s[T_COUNT] = { LP_BUF_INIT, LP_BUF_INIT, LP_BUF_INIT };
  uint32_t rows[T_COUNT] = { 0, 0, 1 };
  int rc = a->closed ? LP_ESTATE : lp__rows_outcome(&s[T_OUTCOMES], o);
  if (rc == LP_OK) rc = push(a, s, rows);
  if (rc != LP_OK) count_drop(a, rows, rc == LP_ESTATE ? "archive closed" : "buffer full (Postgres slow or down)");
  lp_buf_free(&s[T_OUTCOMES]);
}

/* ---- writing ---------------------------------------------------------------------------------------- */

static void pop_head(lp_archive *a) {
  batch *b = a->head;
  a->head = b->next;
  if (a->head == NULL) a->tail = NULL;
  a->bytes -= batch_bytes(b);
  a->rows -= batch_rows(b);
  batch_free(b);
  refresh_gauges(a);
}

static void send_partitions(lp_archive *a) {
  char ahead[16];
  snprintf(ahead, sizeof(ahead), "%d", a->conf.partitions_ahead);
  const char *v[1] = { ahead };
  a->stage = S_PARTITIONS;
  lp_pgconn_send(a->pg, "SELECT leadpoet_ensure_partitions(now(), $1::int)", 1, v);
}

/* Writes the head batch when the connection is free and the batch is due (full, old enough, already sent
 * once, or the archive is closing). */
static void try_send(lp_archive *a) {
  if (a->stage != S_WRITE || !lp_pgconn_idle(a->pg)) return;
  if (a->partitions_month != utc_month()) {
    send_partitions(a);
    return;
  }
  batch *b = a->head;
  if (b == NULL) return;
  int due = b->sealed || a->closing || b->next != NULL || batch_rows(b) >= a->conf.batch_rows ||
            batch_bytes(b) >= a->conf.batch_bytes || mono_ms() - b->first_ms >= a->conf.flush_interval_ms;
  if (!due) return;
  if (!b->sealed) {
    for (int i = 0; i < T_COUNT; i++) {
      if (lp_buf_puts(&b->t[i], "]") != LP_OK) {
        for (int j = 0; j < i; j++) b->t[j].data[--b->t[j].len] = '\0';
        return;  /* out of memory: tried again at the next tick */
      }
    }
    a->bytes += T_COUNT;
    b->sealed = 1;
  }
  const char *v[T_COUNT] = { b->t[0].data, b->t[1].data, b->t[2].data };
  lp_pgconn_send(a->pg, insert_sql, T_COUNT, v);
}

/* A failed statement: a row the database refuses as data (SQLSTATE class 22 or 23) would fail every retry,
 * so that batch is dropped and counted; anything else (the schema changed, the server is shutting down, out
 * of resources) is retried on a new connection after the backoff. */
static void on_write_error(lp_archive *a, PGresult *res) {
  const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  char msg[512];
  snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(res));
  msg[strcspn(msg, "\n")] = '\0';
  lp_counter_add(a->m_failures, 1);
  if (a->stage == S_WRITE && state != NULL && (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0)) {
    lp_log_error("archive: the database refused a batch's rows: batch dropped", "sqlstate=%s err=\"%s\"", state, msg);
    count_drop(a, a->head->rows, "rows refused by the database");
    pop_head(a);
    try_send(a);
    return;
  }
  lp_log_warn("archive: statement failed, reconnecting", "stage=%d sqlstate=%s err=\"%s\"", a->stage,
              state ? state : "-", msg);
  a->stage = S_CHECK;
  lp_pgconn_reset(a->pg);
  a->connected = 0;
  lp_gauge_set(a->m_connected, 0);
}

static void on_result(lp_archive *a, PGresult *res) {
  ExecStatusType st = PQresultStatus(res);
  int ok = st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
  if (a->stage == S_CHECK) {
    /* No schema_version table: version 0. */
    const char *state = ok ? NULL : PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (!ok && (state == NULL || strcmp(state, "42P01") != 0)) {
      on_write_error(a, res);
      return;
    }
    int v = ok && PQntuples(res) == 1 ? atoi(PQgetvalue(res, 0, 0)) : 0;
    char err[512];
    if (lp_schema_compatible(v, err, sizeof(err)) != LP_OK) {
      if (a->bad_version != v) lp_log_error("archive: not writing", "err=\"%s\"", err);
      a->bad_version = v;
      lp_counter_add(a->m_failures, 1);
      lp_pgconn_reset(a->pg);
      a->connected = 0;
      lp_gauge_set(a->m_connected, 0);
      return;
    }
    a->bad_version = -1;
    send_partitions(a);
    return;
  }
  if (!ok) {
    on_write_error(a, res);
    return;
  }
  if (a->stage == S_PARTITIONS) {
    a->partitions_month = utc_month();
    a->stage = S_WRITE;
    lp_log_debug("archive: partitions ready", "made=%s", PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "?");
  } else if (a->head != NULL && a->head->sealed) {
    for (int i = 0; i < T_COUNT && PQntuples(res) == 1 && PQnfields(res) == T_COUNT; i++)
      lp_counter_add(a->m_written[i], (uint64_t)strtoull(PQgetvalue(res, 0, i), NULL, 10));
    pop_head(a);
  }
  try_send(a);
}

static void on_pg(void *ud, int ev, PGresult *res, const char *why) {
  lp_archive *a = ud;
  if (ev == LP_PG_UP) {
    char where[512];
    lp_pg_params_describe(&a->params, where, sizeof(where));
    lp_log_info("archive: connected", "db=%s buffered_rows=%zu", where, a->rows);
    a->connected = 1;
    lp_gauge_set(a->m_connected, 1);
    a->stage = S_CHECK;
    lp_pgconn_send(a->pg, "SELECT coalesce(max(version), 0) FROM schema_version", 0, NULL);
  } else if (ev == LP_PG_RESULT) {
    on_result(a, res);
    PQclear(res);
  } else {
    lp_counter_add(a->m_failures, 1);
    if (a->connected) lp_log_warn("archive: connection lost, rows wait in the buffer", "err=\"%s\"", why);
    else lp_log_debug("archive: cannot connect", "err=\"%s\"", why);
    a->connected = 0;
    a->stage = S_CHECK;
    lp_gauge_set(a->m_connected, 0);
  }
}

/* ---- life ------------------------------------------------------------------------------------------- */

static void finish_close(lp_archive *a) {
  if (a->closed) return;
  a->closed = 1;
  if (a->rows > 0)
    lp_log_error("archive: closing with rows not written", "rows=%zu hint=\"Postgres was slow or down at shutdown\"",
                 a->rows);
  lp_pgconn_close(a->pg);
  a->pg = NULL;
  uv_timer_stop(&a->timer);
  uv_close((uv_handle_t *)&a->timer, NULL);
}

static void on_tick(uv_timer_t *t) {
  lp_archive *a = t->data;
  refresh_gauges(a);
  try_send(a);
  if (a->closing && (a->head == NULL || mono_ms() >= a->close_deadline_ms)) finish_close(a);
}

static int setup_metrics(lp_archive *a, lp_metrics *m) {
  const char *table[] = { "table" };
  a->m_connected = lp_metrics_gauge(m, "leadpoet_archive_connected", "1 while the archive is connected to PostgreSQL.");
  a->m_rows = lp_metrics_gauge(m, "leadpoet_archive_rows_buffered", "Rows waiting to be written to the archive.");
  a->m_bytes = lp_metrics_gauge(m, "leadpoet_archive_buffer_bytes", "Bytes of rows waiting to be written to the archive.");
  a->m_oldest = lp_metrics_gauge(m, "leadpoet_archive_oldest_buffered_seconds",
                                 "Age of the oldest row waiting to be written to the archive: its lag.");
  a->m_failures = lp_metrics_counter(m, "leadpoet_archive_failures_total",
                                     "Failed connection attempts, lost connections and failed statements of the archive.");
  lp_metric_family *w = lp_metrics_family(m, LP_METRIC_COUNTER, "leadpoet_archive_rows_written_total",
                                          "Rows inserted into the archive, by table (a retried row counts once).", table, 1, NULL, 0);
  lp_metric_family *d = lp_metrics_family(m, LP_METRIC_COUNTER, "leadpoet_archive_rows_dropped_total",
                                          "Rows that will never reach the archive (buffer full, closed, refused), by table.",
                                          table, 1, NULL, 0);
  if (!a->m_connected || !a->m_rows || !a->m_bytes || !a->m_oldest || !a->m_failures || !w || !d) return LP_ENOMEM;
  for (int i = 0; i < T_COUNT; i++) {
    const char *v[] = { table_names[i] };
    a->m_written[i] = lp_metrics_series(w, v);
    a->m_dropped[i] = lp_metrics_series(d, v);
    lp_counter_add(a->m_written[i], 0);
    lp_counter_add(a->m_dropped[i], 0);
  }
  return LP_OK;
}

int lp_archive_start(uv_loop_t *loop, lp_metrics *m, const lp_archive_conf *conf) {
  lp_pg_params p;
  char err[1024] = "", where[512];
  int rc = lp_pg_params_from_env(&p, err, sizeof(err));
  if (rc == LP_ENOENT) return LP_OK;
  if (rc != LP_OK) {
    lp_log_error("archive: bad database settings", "err=\"%s\"", err);
    return rc;
  }
  lp_archive_conf c;
  if (conf) c = *conf;
  else lp_archive_conf_default(&c);
  lp_pg_params_describe(&p, where, sizeof(where));
  int v = 0;
  rc = lp_schema_version(&p, c.start_check_timeout_s, &v, err, sizeof(err));
  if (rc != LP_OK) {
    lp_log_warn("archive: database unreachable at start: rows wait in the buffer", "db=%s err=\"%s\"", where, err);
  } else if (lp_schema_compatible(v, err, sizeof(err)) != LP_OK) {
    lp_log_error("archive: refusing to start", "db=%s err=\"%s\"", where, err);
    return LP_ESTATE;
  }
  lp_archive *a = lp_calloc(1, sizeof(*a));
  if (a == NULL) return LP_ENOMEM;
  a->loop = loop;
  a->conf = c;
  a->params = p;
  a->bad_version = -1;
  a->partitions_month = -1;
  lp_pgconn_conf pc = { c.connect_timeout_ms, c.query_timeout_ms, c.backoff_min_ms, c.backoff_max_ms };
  if ((rc = setup_metrics(a, m)) != LP_OK || (rc = lp_pgconn_new(&a->pg, loop, &p, &pc, on_pg, a)) != LP_OK) {
    lp_free(a);
    return rc;
  }
  uv_timer_init(loop, &a->timer);
  a->timer.data = a;
  uv_timer_start(&a->timer, on_tick, c.flush_interval_ms, c.flush_interval_ms);
  lp_pgconn_start(a->pg);
  active = a;
  lp_log_info("archive: on", "db=%s schema=%d", where, lp_schema_known());
  return LP_OK;
}

void lp_archive_close(lp_archive *a) {
  if (a == NULL || a->closing) return;
  a->closing = 1;
  a->close_deadline_ms = mono_ms() + a->conf.close_timeout_ms;
  if (a->head == NULL) finish_close(a);
  else try_send(a);
}

void lp_archive_free(lp_archive *a) {
  if (a == NULL) return;
  while (a->head) {
    batch *b = a->head;
    a->head = b->next;
    batch_free(b);
  }
  if (active == a) active = NULL;
  lp_free(a);
}
