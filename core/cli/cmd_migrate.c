/* `leadpoet migrate [--to N] [--status]`: the archive's schema (core/archive/migrate.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "archive/migrate.h"
#include "archive/params.h"
#include "cli/commands.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: leadpoet migrate [--to N] [--status]\n\n"
          "Brings the PostgreSQL archive's schema to version N (default: the latest this build knows, %d),\n"
          "applying the missing migrations of config/sql/ in order, each in its own transaction, and recording\n"
          "them in schema_version. Running it again does nothing. Migrations only go forward.\n"
          "  --to N     stop at version N (1..%d)\n"
          "  --status   print the database's version and this build's, change nothing\n\n"
          "The database: DB_ENDPOINT (host:port, required), DB_NAME and DB_USER (default leadpoet),\n"
          "DB_PASSWORD or DB_PASSWORD_FILE; libpq's PG* variables (PGSSLMODE, ...) apply too.\n"
          "Exit 0 ok, 1 the database refused or could not be reached, 2 usage or configuration error.\n",
          lp_schema_known(), lp_schema_known());
}

static void progress(void *ud, const lp_migration *m) {
  (void)ud;
  printf("applying %s\n", m->name);
  fflush(stdout);
}

int lp_cmd_migrate(int argc, char **argv) {
  int target = 0, status = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(argv[i], "--status") == 0) {
      status = 1;
    } else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc) {
      char *end;
      errno = 0;
      long v = strtol(argv[++i], &end, 10);
      if (argv[i][0] == '\0' || *end != '\0' || errno != 0 || v < 1 || v > lp_schema_known()) {
        fprintf(stderr, "leadpoet migrate: --to %s: this leadpoet knows versions 1..%d\n", argv[i], lp_schema_known());
        return 2;
      }
      target = (int)v;
    } else {
      fprintf(stderr, "leadpoet migrate: unexpected argument '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  lp_pg_params p;
  char err[1024] = "";
  int rc = lp_pg_params_from_env(&p, err, sizeof(err));
  if (rc != LP_OK) {
    fprintf(stderr, "leadpoet migrate: %s\n", err);
    return 2;
  }
  if (status) {
    int v = 0;
    if (lp_schema_version(&p, 10, &v, err, sizeof(err)) != LP_OK) {
      fprintf(stderr, "leadpoet migrate: %s\n", err);
      return 1;
    }
    printf("database version %d, this leadpoet knows %d\n", v, lp_schema_known());
    return 0;
  }
  int from = 0, to = 0;
  rc = lp_migrate(&p, target, progress, NULL, &from, &to, err, sizeof(err));
  if (rc != LP_OK) {
    fprintf(stderr, "leadpoet migrate: %s\n", err);
    return 1;
  }
  if (from == to) printf("database already at version %d\n", to);
  else printf("database migrated from version %d to %d\n", from, to);
  return 0;
}
