/*
 * migrate.h: the archive's schema, versioned (issue 10, point 2; docs/adr/0011-postgres-archive.md).
 *
 * The SQL files config/sql/NNNN_words.sql are compiled into the binary in order (core/archive/CMakeLists.txt);
 * the last number is the version this build knows. A database records the versions applied in
 * schema_version(version, name, applied_at). lp_migrate() applies the missing ones in order, each in its
 * own transaction together with its schema_version row, under an advisory lock so that two migrators never
 * interleave; it only goes forward.
 *
 * These calls block (libpq's synchronous API): the `leadpoet migrate` command, and the server once at start
 * before its loop runs. Never on a running loop. Any thread, one connection per call.
 */
#ifndef LP_ARCHIVE_MIGRATE_H
#define LP_ARCHIVE_MIGRATE_H

#include <stddef.h>

#include "archive/params.h"
#include "leadpoet/common.h"

typedef struct lp_migration {
  int version;
  const char *name;          /* "0001_archive_tables" */
  const char *sql;           /* NUL-terminated */
  const size_t *len;
} lp_migration;

/* The compiled-in migrations, version i + 1 at index i (generated/archive_migrations.c). */
extern const lp_migration lp__migrations[];
extern const size_t lp__migrations_n;

/* The schema version this build knows: the last migration's number. */
int lp_schema_known(void);

/* The database's version: *version = the highest schema_version row, 0 when the table is absent.
 * LP_OK; LP_EIO when the database cannot be reached or the query fails (errstr says why). */
int lp_schema_version(const lp_pg_params *p, int connect_timeout_s, int *version, char *errstr, size_t errstr_size);

/* Applies the migrations after the database's version up to target (<= 0: lp_schema_known()). Calls
 * progress(ud, migration) before each one when progress is not NULL. *from and *to receive the versions
 * before and after (either may be NULL). LP_OK, also when there was nothing to do; LP_ERANGE when target
 * is above lp_schema_known(); LP_ESTATE when the database is already past target (errstr says so: this
 * never goes backwards); LP_EIO when a statement failed (that migration rolled back; errstr names it and
 * gives the server's message). */
int lp_migrate(const lp_pg_params *p, int target, void (*progress)(void *ud, const lp_migration *m), void *ud,
               int *from, int *to, char *errstr, size_t errstr_size);

/* Whether a server of this build may write to a database at version db: LP_OK when equal; LP_ESTATE with
 * the reason and the fix in errstr when it is older (run `leadpoet migrate`) or newer (upgrade leadpoet). */
int lp_schema_compatible(int db, char *errstr, size_t errstr_size);

#endif
