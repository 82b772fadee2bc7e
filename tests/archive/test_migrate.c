/* `leadpoet migrate` against a real PostgreSQL 15: from zero, from each older version, idempotent, forward
 * only, the schema it makes (monthly partitions, idempotent keys), and a server that refuses a database of
 * another version with a clear message. */
#define PGF_SHARED_CLUSTER
#include "archive/pg_fixture.h"

#define KNOWN 3   /* config/sql/000{1,2,3}_*.sql */

static pgf pg;
static char out[256];

static void setup(void) {
  if (!pgf_available()) cr_skip_test(PGF_SKIP_MESSAGE);
  cr_assert_eq(pgf_attach(&pg), 0, "the shared PostgreSQL cluster did not start (see /tmp/lp-pg-*/postgres.log)");
  snprintf(out, sizeof(out), "%s/out-%d.txt", pg.dir, (int)getpid());
}

TestSuite(archive_migrate, .init = setup, .timeout = 120);

static char *output(void) {
  char *s = lpt_read_file(out, NULL);
  cr_assert_not_null(s);
  return s;
}

static void assert_output_has(const char *want) {
  char *s = output();
  cr_assert(strstr(s, want) != NULL, "wanted \"%s\" in: %s", want, s);
  free(s);
}

static long long version(const char *db) { return pgf_int(&pg, db, "SELECT coalesce(max(version), 0) FROM schema_version"); }

/* The whole schema as text: tables with their kinds and keys, functions, views. */
static char *schema_of(const char *db) {
  PGconn *c = pgf_connect(&pg, db);
  PGresult *r = PQexec(c,
    "SELECT string_agg(x, E'\\n' ORDER BY x) FROM ("
    " SELECT c.relname || ':' || c.relkind::text || ':' || coalesce(pg_get_expr(c.relpartbound, c.oid), '') AS x"
    "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    "  WHERE n.nspname = 'public' AND c.relname NOT LIKE '%\\_2___m__' AND c.relname NOT LIKE '%\\_2___m__\\_%'"
    " UNION ALL SELECT conname || ':' || pg_get_constraintdef(oid) FROM pg_constraint"
    "  WHERE connamespace = 'public'::regnamespace AND contype = 'p' AND conrelid::regclass::text NOT LIKE '%\\_2%'"
    " UNION ALL SELECT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace) s");
  cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
  char *s = strdup(PQgetvalue(r, 0, 0));
  PQclear(r);
  PQfinish(c);
  return s;
}

Test(archive_migrate, from_zero_to_latest_then_nothing_to_do) {
  pgf_create_db(&pg, "mig_zero");
  cr_assert_eq(pgf_leadpoet(&pg, "mig_zero", "migrate --status", out), 0);
  assert_output_has("database version 0, this leadpoet knows 3");
  cr_assert_eq(pgf_leadpoet(&pg, "mig_zero", "migrate", out), 0);
  assert_output_has("applying 0001_archive_tables");
  assert_output_has("migrated from version 0 to 3");
  cr_assert_eq(version("mig_zero"), KNOWN);
  cr_assert_eq(pgf_int(&pg, "mig_zero", "SELECT count(*) FROM schema_version"), KNOWN);
  /* idempotent */
  cr_assert_eq(pgf_leadpoet(&pg, "mig_zero", "migrate", out), 0);
  assert_output_has("already at version 3");
  cr_assert_eq(pgf_int(&pg, "mig_zero", "SELECT count(*) FROM schema_version"), KNOWN);
}

Test(archive_migrate, from_each_older_version_gives_the_same_schema) {
  pgf_create_db(&pg, "mig_ref");
  cr_assert_eq(pgf_leadpoet(&pg, "mig_ref", "migrate", out), 0);
  char *ref = schema_of("mig_ref");
  for (int from = 1; from < KNOWN; from++) {
    char db[32], args[32];
    snprintf(db, sizeof(db), "mig_from%d", from);
    snprintf(args, sizeof(args), "migrate --to %d", from);
    pgf_create_db(&pg, db);
    cr_assert_eq(pgf_leadpoet(&pg, db, args, out), 0);
    cr_assert_eq(version(db), from);
    cr_assert_eq(pgf_leadpoet(&pg, db, "migrate", out), 0);
    char want[64];
    snprintf(want, sizeof(want), "migrated from version %d to %d", from, KNOWN);
    assert_output_has(want);
    char *s = schema_of(db);
    cr_assert_str_eq(s, ref, "schema after migrating from %d differs", from);
    free(s);
  }
  free(ref);
}

Test(archive_migrate, only_forward_and_only_known_versions) {
  pgf_create_db(&pg, "mig_fwd");
  cr_assert_eq(pgf_leadpoet(&pg, "mig_fwd", "migrate --to 2", out), 0);
  cr_assert_eq(pgf_leadpoet(&pg, "mig_fwd", "migrate --to 1", out), 1);
  assert_output_has("migrations only go forward");
  cr_assert_eq(version("mig_fwd"), 2);
  cr_assert_eq(pgf_leadpoet(&pg, "mig_fwd", "migrate --to 4", out), 2);
  assert_output_has("knows versions 1..3");
  cr_assert_eq(pgf_leadpoet(&pg, "mig_fwd", "migrate --to x", out), 2);
  cr_assert_eq(pgf_leadpoet(&pg, "mig_fwd", "migrate --bogus", out), 2);
  cr_assert_eq(pgf_leadpoet(&pg, "mig_fwd", "migrate --help", out), 0);
  assert_output_has("usage: leadpoet migrate");
  /* a database of a newer leadpoet: refused, not touched */
  pgf_exec(&pg, "mig_fwd", "INSERT INTO schema_version (version, name) VALUES (3, 'x'), (9, 'from the future')");
  cr_assert_eq(pgf_leadpoet(&pg, "mig_fwd", "migrate", out), 1);
  assert_output_has("newer than this leadpoet knows");
}

Test(archive_migrate, a_failing_migration_rolls_back_and_says_which) {
  pgf_create_db(&pg, "mig_fail");
  cr_assert_eq(pgf_leadpoet(&pg, "mig_fail", "migrate --to 1", out), 0);
  /* 0002 creates leadpoet_ensure_partitions: make that collide */
  pgf_exec(&pg, "mig_fail", "CREATE FUNCTION leadpoet_ensure_partitions(at timestamptz, months_ahead integer) "
                            "RETURNS integer LANGUAGE sql AS 'SELECT 0'");
  cr_assert_eq(pgf_leadpoet(&pg, "mig_fail", "migrate", out), 1);
  assert_output_has("migration 0002_monthly_partitions");
  cr_assert_eq(version("mig_fail"), 1);
  pgf_exec(&pg, "mig_fail", "DROP FUNCTION leadpoet_ensure_partitions(timestamptz, integer)");
  cr_assert_eq(pgf_leadpoet(&pg, "mig_fail", "migrate", out), 0);
  cr_assert_eq(version("mig_fail"), KNOWN);
}

Test(archive_migrate, bad_environment_is_a_usage_error) {
  char cmd[2048];
  snprintf(cmd, sizeof(cmd), "env -u DB_ENDPOINT %s migrate >%s 2>&1", LP_BINARY_PATH, out);
  int st = system(cmd);
  cr_assert_eq(WEXITSTATUS(st), 2);
  assert_output_has("DB_ENDPOINT is not set");
  snprintf(cmd, sizeof(cmd), "DB_ENDPOINT=127.0.0.1:99999 %s migrate >%s 2>&1", LP_BINARY_PATH, out);
  st = system(cmd);
  cr_assert_eq(WEXITSTATUS(st), 2);
  assert_output_has("port must be 1..65535");
  snprintf(cmd, sizeof(cmd), "DB_ENDPOINT=127.0.0.1:%d DB_PASSWORD=a DB_PASSWORD_FILE=/x %s migrate >%s 2>&1", pg.port,
           LP_BINARY_PATH, out);
  st = system(cmd);
  cr_assert_eq(WEXITSTATUS(st), 2);
  assert_output_has("not both");
  snprintf(cmd, sizeof(cmd), "DB_ENDPOINT=127.0.0.1:%d DB_PASSWORD_FILE=/nonexistent/pw %s migrate >%s 2>&1", pg.port,
           LP_BINARY_PATH, out);
  st = system(cmd);
  cr_assert_eq(WEXITSTATUS(st), 2);
  assert_output_has("/nonexistent/pw");
  /* a password file (trust ignores it): read, and the command works */
  char pw[256];
  snprintf(pw, sizeof(pw), "%s/pw-%d", pg.dir, (int)getpid());
  FILE *f = fopen(pw, "w");
  cr_assert_not_null(f);
  fputs("secret\n", f);
  fclose(f);
  pgf_create_db(&pg, "mig_env");
  snprintf(cmd, sizeof(cmd), "DB_ENDPOINT=127.0.0.1:%d DB_NAME=mig_env DB_PASSWORD_FILE=%s %s migrate --status >%s 2>&1",
           pg.port, pw, LP_BINARY_PATH, out);
  st = system(cmd);
  cr_assert_eq(WEXITSTATUS(st), 0);
  /* unreachable: a runtime error */
  snprintf(cmd, sizeof(cmd), "DB_ENDPOINT=127.0.0.1:%d %s migrate >%s 2>&1", lpt_free_port(), LP_BINARY_PATH, out);
  st = system(cmd);
  cr_assert_eq(WEXITSTATUS(st), 1);
  assert_output_has("cannot connect");
}

Test(archive_migrate, tables_are_partitioned_by_month_with_keys_that_hold_ts) {
  pgf_create_db(&pg, "mig_parts");
  cr_assert_eq(pgf_leadpoet(&pg, "mig_parts", "migrate", out), 0);
  /* declaratively partitioned (no TimescaleDB here), a default partition and the current month + 2 ahead */
  cr_assert_eq(pgf_int(&pg, "mig_parts", "SELECT count(*) FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
                                         "WHERE c.relname IN ('answers', 'answer_leads', 'outcomes')"), 3);
  cr_assert_eq(pgf_int(&pg, "mig_parts", "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhparent "
                                         "WHERE c.relname = 'answers'"), 4);
  cr_assert_eq(pgf_int(&pg, "mig_parts", "SELECT count(*) FROM pg_class WHERE relname = 'outcomes_' || "
                                         "to_char(now() AT TIME ZONE 'UTC', 'YYYY\"m\"MM')"), 1);
  /* idempotent, and it makes the months that come */
  cr_assert_eq(pgf_int(&pg, "mig_parts", "SELECT leadpoet_ensure_partitions(now(), 2)"), 0);
  cr_assert_eq(pgf_int(&pg, "mig_parts", "SELECT leadpoet_ensure_partitions(now() + interval '3 months', 0)"), 3);
  /* a month whose rows already sit in the default partition: no partition, no error */
  pgf_exec(&pg, "mig_parts", "INSERT INTO outcomes (id, ts, domain, event) VALUES ('x', '2001-05-03Z', 'a.com', 'opened')");
  cr_assert_eq(pgf_int(&pg, "mig_parts", "SELECT leadpoet_ensure_partitions('2001-05-10Z', 0)"), 2);
  cr_assert_eq(pgf_int(&pg, "mig_parts", "SELECT count(*) FROM outcomes_default"), 1);
  /* a retried row is skipped, never duplicated */
  pgf_exec(&pg, "mig_parts", "INSERT INTO outcomes (id, ts, domain, event) VALUES ('x', '2001-05-03Z', 'a.com', 'opened') "
                             "ON CONFLICT DO NOTHING");
  cr_assert_eq(pgf_int(&pg, "mig_parts", "SELECT count(*) FROM outcomes"), 1);
}

/* The server checks the schema at start: a reachable database at another version refuses the start. */
static void assert_server_refuses(const char *db, const char *why) {
  char env_ep[64], env_db[64];
  snprintf(env_ep, sizeof(env_ep), "DB_ENDPOINT=127.0.0.1:%d", pg.port);
  snprintf(env_db, sizeof(env_db), "DB_NAME=%s", db);
  const char *env[] = { "LEADPOET_KAFKA_MODE=off", env_ep, env_db, NULL };
  lpt_server s;
  cr_assert_eq(lpt_server_start(&s, NULL, env), -1, "the server started against %s", db);
  char *log = lpt_read_file(s.log_path, NULL);
  cr_assert_not_null(log);
  cr_assert(strstr(log, why) != NULL, "wanted \"%s\" in: %s", why, log);
  free(log);
  lpt_server_stop(&s);
}

Test(archive_migrate, the_server_refuses_a_newer_or_older_schema) {
  pgf_create_db(&pg, "mig_srv");
  assert_server_refuses("mig_srv", "run `leadpoet migrate`");
  cr_assert_eq(pgf_leadpoet(&pg, "mig_srv", "migrate", out), 0);
  pgf_exec(&pg, "mig_srv", "INSERT INTO schema_version (version, name) VALUES (4, '0004_from_a_newer_leadpoet')");
  assert_server_refuses("mig_srv", "newer than this leadpoet knows (3)");
}
