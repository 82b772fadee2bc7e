/*
 * lt_server.c: the server under test for the load tools (lt.h): a perf/world market, `leadpoet serve` on a
 * free loopback port with a fresh state dir, loaded with `leadpoet ingest`, stopped by its pid.
 */
#define _GNU_SOURCE
#include "lt.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "qb_proc.h"

pid_t lt_spawn_fds(char *const argv[], int in_fd, int out_fd, const char *err_path, char *err, size_t errlen) {
  int efd = -1;
  if (err_path) {
    efd = open(err_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (efd < 0) {
      snprintf(err, errlen, "cannot open %s: %s", err_path, strerror(errno));
      return -1;
    }
  }
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(err, errlen, "fork: %s", strerror(errno));
    if (efd >= 0) close(efd);
    return -1;
  }
  if (pid == 0) {
    if (in_fd >= 0) dup2(in_fd, STDIN_FILENO);
    if (out_fd >= 0) dup2(out_fd, STDOUT_FILENO);
    if (efd >= 0) dup2(efd, STDERR_FILENO);
    execv(argv[0], argv);
    fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  if (efd >= 0) close(efd);
  return pid;
}

static int file_exists(const char *dir, const char *name) {
  char p[700];
  struct stat st;
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return stat(p, &st) == 0;
}

/* Seed and leads of the market in s->world, from the "world" record of its truth.jsonl. */
static void read_truth(lt_server *s) {
  char p[700];
  snprintf(p, sizeof p, "%s/truth.jsonl", s->world);
  FILE *f = fopen(p, "r");
  char line[1024];
  if (f && fgets(line, sizeof line, f)) {
    json_t *j = json_loads(line, 0, NULL);
    json_t *seed = j ? json_object_get(j, "seed") : NULL, *c = j ? json_object_get(j, "companies") : NULL;
    if (json_is_integer(seed)) s->seed = (unsigned long long)json_integer_value(seed);
    if (json_is_integer(c)) s->leads = (unsigned long long)json_integer_value(c);
    json_decref(j);
  }
  if (f) fclose(f);
}

static int make_world(lt_server *s, const lt_server_opts *o, char *err, size_t errlen) {
  if (o->world_dir) {
    snprintf(s->world, sizeof s->world, "%s", o->world_dir);
    if (file_exists(s->world, "snippets.jsonl") && file_exists(s->world, "prompts.jsonl")) {
      read_truth(s);
      return 0;
    }
  } else {
    snprintf(s->world, sizeof s->world, "/tmp/lt-world.XXXXXX");
    if (!mkdtemp(s->world)) {
      snprintf(err, errlen, "mkdtemp: %s", strerror(errno));
      return -1;
    }
    s->world_tmp = 1;
  }
  char leads[32], snippets[32], seed[32];
  snprintf(leads, sizeof leads, "%llu", o->leads);
  snprintf(snippets, sizeof snippets, "%llu", o->snippets ? o->snippets : o->leads * 10);
  snprintf(seed, sizeof seed, "%llu", o->seed);
  /* --now now: the window ends today, so the evidence is inside the index's retention. */
  char *argv[] = { (char *)o->world_bin, "--out", s->world, "--leads", leads, "--snippets", snippets, "--seed", seed,
                   "--outcomes", "0", "--now", "now", "--quiet", NULL };
  if (!o->quiet) fprintf(stderr, "generating %s leads, %s snippets into %s ...\n", leads, snippets, s->world);
  uint64_t t = lp_mono_ns();
  pid_t pid = qb_spawn(argv, NULL, err, errlen);
  if (pid < 0) return -1;
  if (qb_wait(pid) != 0) {
    snprintf(err, errlen, "%s failed", o->world_bin);
    return -1;
  }
  s->gen_s = (double)(lp_mono_ns() - t) / 1e9;
  read_truth(s);
  return 0;
}

void lt_wait_applied(int port, double timeout_s) {
  uint64_t deadline = lp_mono_ns() + (uint64_t)(timeout_s * 1e9);
  while (lp_mono_ns() < deadline) {
    json_t *j = lt_get_json(port, "/v1/status");
    json_t *bl = j ? json_object_get(j, "backlog") : NULL;
    int done = j && (!bl || !json_is_integer(bl) || json_integer_value(bl) == 0);
    json_decref(j);
    if (done) return;
    usleep(100 * 1000);
  }
}

json_t *lt_get_json(int port, const char *path) {
  int st = 0;
  char *b = NULL;
  if (qb_http(port, "GET", path, NULL, &st, &b, 10.0) != 0) return NULL;
  json_t *j = st == 200 ? json_loads(b, 0, NULL) : NULL;
  lp_free(b);
  return j;
}

/* The server of this process, for the signal handler: a tool stopped by SIGINT or SIGTERM stops its server
 * by its pid before it exits, so no server outlives the run (its temp dirs stay: their names are printed). */
static volatile sig_atomic_t server_pid;

static void on_signal(int sig) {
  if (server_pid > 0) kill((pid_t)server_pid, SIGTERM);
  _exit(128 + sig);
}

static int start_server(lt_server *s, const lt_server_opts *o, char *err, size_t errlen) {
  snprintf(s->state, sizeof s->state, "/tmp/lt-state.XXXXXX");
  if (!mkdtemp(s->state)) {
    s->state[0] = '\0';
    snprintf(err, errlen, "mkdtemp: %s", strerror(errno));
    return -1;
  }
  s->port = qb_free_port();
  if (s->port < 0) {
    snprintf(err, errlen, "no free loopback port");
    return -1;
  }
  char listen[64];
  snprintf(listen, sizeof listen, "127.0.0.1:%d", s->port);
  snprintf(s->log, sizeof s->log, "/tmp/lt-serve-%d-%d.log", (int)getpid(), s->port);
  /* The child inherits these; they are this process's own environment, set for its servers only. */
  setenv("LEADPOET_SERVER_STATE_DIR", s->state, 1);
  if (o->kafka_mode) setenv("LEADPOET_KAFKA_MODE", o->kafka_mode, 1);
  char *argv[] = { (char *)o->leadpoet, "serve", "--listen", listen, NULL };
  s->pid = qb_spawn(argv, s->log, err, errlen);
  if (s->pid < 0) {
    s->pid = 0;
    return -1;
  }
  server_pid = s->pid;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  fprintf(stderr, "server pid %d on port %d, state dir %s, log %s\n", (int)s->pid, s->port, s->state, s->log);
  if (qb_wait_healthy(s->port, s->pid, 60) != 0) {
    snprintf(err, errlen, "the server did not answer /healthz; its log: %s", s->log);
    return -1;
  }
  return 0;
}

int lt_server_up(lt_server *s, const lt_server_opts *o, char *err, size_t errlen) {
  memset(s, 0, sizeof *s);
  s->seed = o->seed;
  s->leads = o->leads;
  if (make_world(s, o, err, errlen) != 0 || start_server(s, o, err, errlen) != 0) return -1;
  char file[700], url[96], batch[32];
  snprintf(file, sizeof file, "%s/snippets.jsonl", s->world);
  snprintf(url, sizeof url, "http://127.0.0.1:%d", s->port);
  snprintf(batch, sizeof batch, "%u", o->batch ? o->batch : 5000);
  char *argv[] = { (char *)o->leadpoet, "ingest", file, "--url", url, "--batch", batch, "--quiet", NULL };
  if (!o->quiet) fprintf(stderr, "loading %s into %s ...\n", file, url);
  uint64_t t = lp_mono_ns();
  pid_t pid = qb_spawn(argv, NULL, err, errlen);
  if (pid < 0) return -1;
  int rc = qb_wait(pid);
  lt_wait_applied(s->port, 3600);
  s->load_s = (double)(lp_mono_ns() - t) / 1e9;
  if (rc != 0) {
    snprintf(err, errlen, "leadpoet ingest failed (exit %d)", rc);
    return -1;
  }
  return 0;
}

void lt_server_down(lt_server *s, int failed) {
  server_pid = 0;
  if (s->pid > 0) qb_stop(s->pid, 30);
  s->pid = 0;
  if (s->world_tmp) qb_rmtree(s->world);
  s->world_tmp = 0;
  if (s->state[0]) qb_rmtree(s->state);
  s->state[0] = '\0';
  if (s->log[0] && !failed) unlink(s->log);
  else if (s->log[0]) fprintf(stderr, "the server's log is kept: %s\n", s->log);
  s->log[0] = '\0';
}
