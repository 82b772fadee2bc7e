/*
 * pg_fixture.h: a real PostgreSQL 15 cluster for the archive's tests, in a temporary folder, on a free
 * loopback port, with its socket in that folder (-k), started and stopped by process id. Debian's
 * postgresql-15 puts the programs under /usr/lib/postgresql/15/bin (deploy/local/lib.sh lp_postgres installs
 * it; without it the tests skip with a message). Postgres refuses to run as root: under root the cluster
 * runs as the user "postgres" (or "nobody").
 *
 * A test binary shares one cluster: #define PGF_SHARED_CLUSTER before including this starts it before the
 * tests (in criterion's runner) and passes it to the test processes in the environment (pgf_attach); each
 * test uses a database of its own.
 * Header-only: every test binary is built from one file.
 */
#ifndef LP_TEST_PG_FIXTURE_H
#define LP_TEST_PG_FIXTURE_H

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers/helpers.h"

#define PGF_BIN "/usr/lib/postgresql/15/bin"

typedef struct pgf {
  char dir[128];
  int port;
  pid_t pid;
  uid_t uid;
  gid_t gid;
} pgf;

static inline int pgf_available(void) {
  return access(PGF_BIN "/postgres", X_OK) == 0 && access(PGF_BIN "/initdb", X_OK) == 0;
}

static inline void pgf_sleep_ms(int ms) {
  struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
  nanosleep(&ts, NULL);
}

/* Runs argv as the cluster's user with output to log; returns the pid (-1 on error). */
static inline pid_t pgf_spawn(const pgf *p, const char *log, char *const argv[]) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) {
    dup2(fd, 1);
    dup2(fd, 2);
    close(fd);
  }
  if (geteuid() == 0 && (setgid(p->gid) != 0 || setuid(p->uid) != 0)) _exit(126);
  execv(argv[0], argv);
  _exit(127);
}

/* A temporary folder and initdb in it (user leadpoet, trust on loopback). 0 or -1. */
static inline int pgf_init(pgf *p) {
  memset(p, 0, sizeof(*p));
  snprintf(p->dir, sizeof(p->dir), "/tmp/lp-pg-XXXXXX");
  if (mkdtemp(p->dir) == NULL) return -1;
  p->uid = geteuid();
  p->gid = getegid();
  if (geteuid() == 0) {
    struct passwd *pw = getpwnam("postgres");
    if (pw == NULL) pw = getpwnam("nobody");
    if (pw == NULL) return -1;
    p->uid = pw->pw_uid;
    p->gid = pw->pw_gid;
    if (chown(p->dir, p->uid, p->gid) != 0) return -1;
  }
  char data[192], log[192];
  snprintf(data, sizeof(data), "%s/data", p->dir);
  snprintf(log, sizeof(log), "%s/initdb.log", p->dir);
  char *argv[] = { PGF_BIN "/initdb", "-D", data, "-U", "leadpoet", "--auth=trust", "-E", "UTF8", "--no-sync", NULL };
  pid_t pid = pgf_spawn(p, log, argv);
  int st = 0;
  if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return -1;
  p->port = lpt_free_port();
  return 0;
}

static inline void pgf_conninfo(const pgf *p, const char *db, char *out, size_t n) {
  snprintf(out, n, "host=127.0.0.1 port=%d user=leadpoet dbname=%s connect_timeout=5", p->port, db);
}

/* Starts postgres on p->port (again after pgf_stop) and waits until it accepts connections. 0 or -1. */
static inline int pgf_start(pgf *p) {
  char data[192], log[192], port[16];
  snprintf(data, sizeof(data), "%s/data", p->dir);
  snprintf(log, sizeof(log), "%s/postgres.log", p->dir);
  snprintf(port, sizeof(port), "%d", p->port);
  char *argv[] = { PGF_BIN "/postgres", "-D", data, "-p", port, "-k", p->dir, "-h", "127.0.0.1",
                   "-c", "fsync=off", "-c", "max_connections=40", NULL };
  p->pid = pgf_spawn(p, log, argv);
  if (p->pid < 0) return -1;
  char ci[256];
  pgf_conninfo(p, "postgres", ci, sizeof(ci));
  for (int i = 0; i < 300; i++) {
    if (PQping(ci) == PQPING_OK) return 0;
    if (waitpid(p->pid, NULL, WNOHANG) == p->pid) return -1;
    pgf_sleep_ms(100);
  }
  return -1;
}

/* Stops postgres with sig (SIGINT: fast shutdown, clients disconnected; SIGQUIT: immediate, as a crash,
 * recovery at the next start) and waits for the process. */
static inline void pgf_stop_sig(pgf *p, int sig) {
  if (p->pid <= 0) return;
  kill(p->pid, sig);
  for (int i = 0; i < 300 && waitpid(p->pid, NULL, WNOHANG) != p->pid; i++) pgf_sleep_ms(100);
  if (kill(p->pid, 0) == 0) {
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
  }
  p->pid = 0;
}

static inline void pgf_stop(pgf *p) { pgf_stop_sig(p, SIGINT); }

static inline void pgf_destroy(pgf *p) {
  pgf_stop(p);
  if (p->dir[0]) {
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p->dir);
    if (system(cmd) != 0) fprintf(stderr, "pg_fixture: cannot remove %s\n", p->dir);
  }
}

/* The shared cluster, in a test process: 0, or -1 when none was started (the test then skips). */
static inline int pgf_attach(pgf *p) {
  memset(p, 0, sizeof(*p));
  const char *port = getenv("LP_PGF_PORT"), *dir = getenv("LP_PGF_DIR");
  if (port == NULL || dir == NULL) return -1;
  p->port = atoi(port);
  snprintf(p->dir, sizeof(p->dir), "%s", dir);
  return 0;
}

#define PGF_SKIP_MESSAGE \
  "postgresql-15 is not installed (" PGF_BIN "): run deploy/local/test.sh, or source deploy/local/lib.sh && lp_postgres"

#ifdef PGF_SHARED_CLUSTER
/* The binary's shared cluster: started before every test (in criterion's runner, which passes it to the
 * test processes in the environment) and stopped after the last one. */
static pgf pgf_shared;

ReportHook(PRE_ALL)(struct criterion_test_set *set) {
  (void)set;
  if (!pgf_available()) return;
  if (pgf_init(&pgf_shared) != 0 || pgf_start(&pgf_shared) != 0) {
    fprintf(stderr, "pg_fixture: cannot start PostgreSQL in %s (see its logs)\n", pgf_shared.dir);
    return;
  }
  char port[16];
  snprintf(port, sizeof(port), "%d", pgf_shared.port);
  setenv("LP_PGF_PORT", port, 1);
  setenv("LP_PGF_DIR", pgf_shared.dir, 1);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats) {
  (void)stats;
  pgf_destroy(&pgf_shared);
}
#endif

/* A connection to db on p, asserted. */
static inline PGconn *pgf_connect(const pgf *p, const char *db) {
  char ci[256];
  pgf_conninfo(p, db, ci, sizeof(ci));
  PGconn *c = PQconnectdb(ci);
  cr_assert(c != NULL && PQstatus(c) == CONNECTION_OK, "connect %s: %s", ci, c ? PQerrorMessage(c) : "");
  return c;
}

/* Runs sql on db, asserting success. */
static inline void pgf_exec(const pgf *p, const char *db, const char *sql) {
  PGconn *c = pgf_connect(p, db);
  PGresult *r = PQexec(c, sql);
  ExecStatusType st = PQresultStatus(r);
  cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql, PQresultErrorMessage(r));
  PQclear(r);
  PQfinish(c);
}

/* The integer that sql returns (one row, one column); -1 when the query fails or returns NULL. */
static inline long long pgf_int(const pgf *p, const char *db, const char *sql) {
  PGconn *c = pgf_connect(p, db);
  PGresult *r = PQexec(c, sql);
  long long v = -1;
  if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) v = atoll(PQgetvalue(r, 0, 0));
  PQclear(r);
  PQfinish(c);
  return v;
}

/* A fresh database named db. */
static inline void pgf_create_db(const pgf *p, const char *db) {
  char sql[256];
  snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", db);
  pgf_exec(p, "postgres", sql);
  snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
  pgf_exec(p, "postgres", sql);
}

/* `leadpoet ARGS` with DB_ENDPOINT / DB_NAME of db on p; output to out_path (may be NULL). Exit status. */
static inline int pgf_leadpoet(const pgf *p, const char *db, const char *args, const char *out_path) {
  char cmd[1024];
  snprintf(cmd, sizeof(cmd), "env -u DB_PASSWORD -u DB_PASSWORD_FILE DB_ENDPOINT=127.0.0.1:%d DB_NAME=%s %s %s >%s 2>&1",
           p->port, db, LP_BINARY_PATH, args, out_path ? out_path : "/dev/null");
  int st = system(cmd);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#endif
