/*
 * params.h: where the archive's database is, from the seed's environment variables.
 *
 *   DB_ENDPOINT        host:port ([v6addr]:port; port 5432 when left out). Unset or empty: the archive is off.
 *   DB_NAME, DB_USER   default leadpoet.
 *   DB_PASSWORD        or DB_PASSWORD_FILE (a Kubernetes Secret mount: the file's first line); not both.
 *                      Neither: libpq's own ways apply (PGPASSFILE, ~/.pgpass, trust).
 * libpq's PG* variables (PGSSLMODE, PGSSLROOTCERT, ...) apply on top, as in every libpq program.
 *
 * Threads: any; the functions touch only what they are given and the environment.
 */
#ifndef LP_ARCHIVE_PARAMS_H
#define LP_ARCHIVE_PARAMS_H

#include <stddef.h>

#include "leadpoet/common.h"

typedef struct lp_pg_params {
  char host[256];
  char port[8];
  char dbname[64];
  char user[64];
  char password[256];
} lp_pg_params;

#define LP_PG_KV_MAX 10

/* Fills p from the environment. LP_OK; LP_ENOENT when DB_ENDPOINT is unset or empty (archive off);
 * LP_ECONFIG with the reason in errstr (bad endpoint, value too long, unreadable password file). */
int lp_pg_params_from_env(lp_pg_params *p, char *errstr, size_t errstr_size);

/* The keyword and value arrays for PQconnectdbParams / PQconnectStartParams (NULL-terminated, at most
 * LP_PG_KV_MAX entries each). The strings point into p and connect_timeout (seconds, as text): they must
 * outlive the call they are passed to. */
void lp_pg_params_kv(const lp_pg_params *p, const char *connect_timeout, const char **kw, const char **val);

/* "user@host:port/dbname", for log lines (never the password). */
void lp_pg_params_describe(const lp_pg_params *p, char *out, size_t n);

#endif
