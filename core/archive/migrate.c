/* migrate.c: see migrate.h. Blocking libpq: never on a running loop. */
#include "archive/migrate.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One key for every migrator of every version of leadpoet (pg_advisory_lock takes a bigint). */
#define LP_MIGRATE_LOCK "7101990301"

int lp_schema_known(void) { return (int)lp__migrations_n; }

static PGconn *connect_db(const lp_pg_params *p, int connect_timeout_s, char *err, size_t n) {
  const char *kw[LP_PG_KV_MAX + 1], *val[LP_PG_KV_MAX + 1];
  char timeout[16], where[512];
  snprintf(timeout, sizeof(timeout), "%d", connect_timeout_s > 0 ? connect_timeout_s : 10);
  lp_pg_params_kv(p, timeout, kw, val);
  PGconn *c = PQconnectdbParams(kw, val, 0);
  if (c != NULL && PQstatus(c) == CONNECTION_OK) return c;
  lp_pg_params_describe(p, where, sizeof(where));
  snprintf(err, n, "cannot connect to %s: %s", where, c ? PQerrorMessage(c) : "out of memory");
  size_t len = strlen(err);
  while (len > 0 && (err[len - 1] == '\n' || err[len - 1] == ' ')) err[--len] = '\0';  /* libpq ends with \n */
  PQfinish(c);
  return NULL;
}

/* Runs sql (one or more statements, no parameters): LP_OK, or LP_EIO with "what: message" in err. */
static int exec(PGconn *c, const char *sql, const char *what, char *err, size_t n) {
  PGresult *r = PQexec(c, sql);
  ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
  if (!ok) {
    snprintf(err, n, "%s: %s", what, r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    size_t len = strlen(err);
    while (len > 0 && (err[len - 1] == '\n' || err[len - 1] == ' ')) err[--len] = '\0';
  }
  PQclear(r);
  return ok ? LP_OK : LP_EIO;
}

/* One integer from sql (one row, one column). */
static int query_int(PGconn *c, const char *sql, int *out, char *err, size_t n) {
  PGresult *r = PQexec(c, sql);
  if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) != 1) {
    snprintf(err, n, "reading schema_version: %s", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    PQclear(r);
    return LP_EIO;
  }
  *out = atoi(PQgetvalue(r, 0, 0));
  PQclear(r);
  return LP_OK;
}

/* The highest applied version, 0 without a schema_version table. */
static int read_version(PGconn *c, int *version, char *err, size_t n) {
  int exists = 0;
  *version = 0;
  int rc = query_int(c, "SELECT (to_regclass('schema_version') IS NOT NULL)::int", &exists, err, n);
  if (rc == LP_OK && exists) rc = query_int(c, "SELECT coalesce(max(version), 0) FROM schema_version", version, err, n);
  return rc;
}

int lp_schema_version(const lp_pg_params *p, int connect_timeout_s, int *version, char *errstr, size_t errstr_size) {
  PGconn *c = connect_db(p, connect_timeout_s, errstr, errstr_size);
  if (c == NULL) return LP_EIO;
  int rc = read_version(c, version, errstr, errstr_size);
  PQfinish(c);
  return rc;
}

int lp_schema_compatible(int db, char *errstr, size_t errstr_size) {
  int known = lp_schema_known();
  if (db == known) return LP_OK;
  if (db < known)
    snprintf(errstr, errstr_size, "the archive database's schema is at version %d, this leadpoet needs version %d: "
             "run `leadpoet migrate` (same DB_* environment) first", db, known);
  else
    snprintf(errstr, errstr_size, "the archive database's schema is at version %d, newer than this leadpoet knows "
             "(%d): upgrade leadpoet, or point DB_ENDPOINT at a database of version %d", db, known, known);
  return LP_ESTATE;
}

/* One migration in its own transaction, with its schema_version row. */
static int apply_one(PGconn *c, const lp_migration *m, char *err, size_t n) {
  char what[160];
  snprintf(what, sizeof(what), "migration %s", m->name);
  int rc = exec(c, "BEGIN", what, err, n);
  if (rc == LP_OK) rc = exec(c, m->sql, what, err, n);
  if (rc == LP_OK) {
    char v[16];
    snprintf(v, sizeof(v), "%d", m->version);
    const char *vals[2] = { v, m->name };
    PGresult *r = PQexecParams(c, "INSERT INTO schema_version (version, name) VALUES ($1::int, $2)", 2, NULL, vals,
                               NULL, NULL, 0);
    if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
      snprintf(err, n, "%s: recording the version: %s", what, r ? PQresultErrorMessage(r) : PQerrorMessage(c));
      rc = LP_EIO;
    }
    PQclear(r);
  }
  if (rc == LP_OK) return exec(c, "COMMIT", what, err, n);
  char ignored[64];
  exec(c, "ROLLBACK", what, ignored, sizeof(ignored));  /* the error to report is the first one */
  return rc;
}

static int migrate_locked(PGconn *c, int target, void (*progress)(void *, const lp_migration *), void *ud,
                          int *from, int *to, char *err, size_t n) {
  int rc = exec(c, "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY, name text NOT NULL, "
                   "applied_at timestamptz NOT NULL DEFAULT now())", "creating schema_version", err, n);
  int v = 0;
  if (rc == LP_OK) rc = read_version(c, &v, err, n);
  if (rc != LP_OK) return rc;
  if (from) *from = v;
  if (to) *to = v;
  if (v > lp_schema_known()) return lp_schema_compatible(v, err, n);
  if (v > target) {
    snprintf(err, n, "the database is at version %d, past --to %d: migrations only go forward", v, target);
    return LP_ESTATE;
  }
  for (int next = v + 1; next <= target; next++) {
    const lp_migration *m = &lp__migrations[next - 1];
    if (progress) progress(ud, m);
    if ((rc = apply_one(c, m, err, n)) != LP_OK) return rc;
    if (to) *to = next;
  }
  return LP_OK;
}

int lp_migrate(const lp_pg_params *p, int target, void (*progress)(void *ud, const lp_migration *m), void *ud,
               int *from, int *to, char *errstr, size_t errstr_size) {
  if (target <= 0) target = lp_schema_known();
  if (target > lp_schema_known()) {
    snprintf(errstr, errstr_size, "--to %d: this leadpoet knows versions 1..%d", target, lp_schema_known());
    return LP_ERANGE;
  }
  PGconn *c = connect_db(p, 10, errstr, errstr_size);
  if (c == NULL) return LP_EIO;
  int rc = exec(c, "SET client_min_messages = warning", "setting up the session", errstr, errstr_size);
  if (rc == LP_OK) rc = exec(c, "SELECT pg_advisory_lock(" LP_MIGRATE_LOCK ")", "taking the migration lock", errstr, errstr_size);
  if (rc == LP_OK) {
    rc = migrate_locked(c, target, progress, ud, from, to, errstr, errstr_size);
    char ignored[64];
    exec(c, "SELECT pg_advisory_unlock(" LP_MIGRATE_LOCK ")", "releasing the lock", ignored, sizeof(ignored));
  }
  PQfinish(c);
  return rc;
}
