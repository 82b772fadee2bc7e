/*
 * fault.h: what the fault tests share (header-only): a redis-server with an append-only file (so it can be
 * killed and restarted with its data), a Kafka mock cluster in a child process of its own (its log outlives
 * every server), `leadpoet produce`, a known stream of snippets and outcomes, and the state of a server as
 * one canonical string (every lead's snippet count, tech, churn and outcomes; every miner's counts and
 * reputation). Every wait is bounded. Loopback only; every process is stopped by its pid.
 */
#ifndef LP_TEST_FAULT_H
#define LP_TEST_FAULT_H

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers/helpers.h"
#include "kafka/kafka.h"

#define FT_REDIS_BIN "/usr/bin/redis-server"
#define FT_SHARDS 8
#define FT_DOMAINS 48
#define FT_MINERS 12
#define FT_TS0 1764000000000LL

#if defined(__SANITIZE_ADDRESS__)
#define FT_SANITIZED 1
#else
#define FT_SANITIZED 0
#endif

static inline void ft_sleep_ms(int ms) {
  struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
  nanosleep(&ts, NULL);
}

static inline long long ft_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- redis-server with its data in dir (AOF, fsync always) ---------------------------------------- */

typedef struct ft_redis {
  pid_t pid;
  int port;
  char dir[128];
} ft_redis;

static inline int ft_redis_start(ft_redis *r) {
  if (r->port == 0) r->port = lpt_free_port();
  if (r->dir[0] == '\0') {
    snprintf(r->dir, sizeof(r->dir), "/tmp/lp-fault-redis-XXXXXX");
    if (mkdtemp(r->dir) == NULL) return -1;
  }
  char port[16];
  snprintf(port, sizeof(port), "%d", r->port);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (freopen("/dev/null", "w", stdout) == NULL || freopen("/dev/null", "w", stderr) == NULL) _exit(127);
    execl(FT_REDIS_BIN, FT_REDIS_BIN, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
          "--appendfsync", "always", "--dir", r->dir, (char *)NULL);
    _exit(127);
  }
  r->pid = pid;
  for (int i = 0; i < 250; i++) {
    int fd = lpt_connect(r->port);
    if (fd >= 0) {
      close(fd);
      return 0;
    }
    ft_sleep_ms(20);
  }
  return -1;
}

static inline void ft_redis_kill(ft_redis *r) {
  if (r->pid <= 0) return;
  kill(r->pid, SIGKILL);
  waitpid(r->pid, NULL, 0);
  r->pid = 0;
}

/* ---- the mock cluster, in a child that outlives every server -------------------------------------- */

typedef struct ft_kafka {
  pid_t pid;
  char bootstrap[256];
} ft_kafka;

static inline int ft_kafka_start(ft_kafka *k) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(fds[0]);
    lp_kafka_mock *m = NULL;
    char err[256];
    if (lp_kafka_mock_new(FT_SHARDS, 1, &m, err, sizeof(err)) != 0) _exit(3);
    const char *b = lp_kafka_mock_bootstraps(m);
    if (write(fds[1], b, strlen(b)) < 0) _exit(4);
    close(fds[1]);
    for (;;) pause();
  }
  close(fds[1]);
  ssize_t n = 0, got;
  while ((got = read(fds[0], k->bootstrap + n, sizeof(k->bootstrap) - 1 - (size_t)n)) > 0) n += got;
  close(fds[0]);
  k->bootstrap[n] = '\0';
  k->pid = pid;
  return n > 0 ? 0 : -1;
}

static inline void ft_kafka_stop(ft_kafka *k) {
  if (k->pid <= 0) return;
  kill(k->pid, SIGKILL);
  waitpid(k->pid, NULL, 0);
  k->pid = 0;
}

/* `leadpoet produce FILE [--outcomes] --brokers B --quiet`: 0 when every line was acknowledged. */
static inline int ft_produce(const char *bootstrap, const char *file, int outcomes) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (outcomes)
      execl(LP_BINARY_PATH, LP_BINARY_PATH, "produce", file, "--outcomes", "--brokers", bootstrap, "--quiet", (char *)NULL);
    else
      execl(LP_BINARY_PATH, LP_BINARY_PATH, "produce", file, "--brokers", bootstrap, "--quiet", (char *)NULL);
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* ---- the known stream ----------------------------------------------------------------------------- */

static const char *const ft_words[] = {
  "kubernetes", "hiring", "platform", "engineers", "migration", "postgres", "funding", "series", "review",
  "pipeline", "security", "compliance", "analytics", "warehouse", "latency", "mobile", "checkout", "payments",
  "expansion", "europe", "office", "launch", "partner", "integration", "support", "tickets", "growth", "budget",
  "vendor", "contract", "renewal", "cloud", "backup", "observability", "tracing", "frontend", "design", "audit",
};

static const char *const ft_glue[] = { "the", "and", "for", "with", "of", "to", "in", "our" };

static inline void ft_domain(int i, char *out, size_t cap) { snprintf(out, cap, "fault%02d-corp.com", i); }

/* Writes n snippets (every 16th a resend of an earlier one: a duplicate) to path. */
static inline int ft_write_snippets(const char *path, int n) {
  FILE *f = fopen(path, "w");
  if (f == NULL) return -1;
  unsigned seed = 12345;
  size_t nw = sizeof(ft_words) / sizeof(ft_words[0]);
  for (int i = 0; i < n; i++) {
    int j = (i % 16 == 15) ? i / 2 : i;  /* a duplicate of record i/2 */
    char dom[64];
    ft_domain((j * 7) % FT_DOMAINS, dom, sizeof(dom));
    char text[512] = "";
    unsigned s = seed + (unsigned)j * 2654435761u;
    for (int w = 0; w < 14; w++) {
      s = s * 1103515245u + 12345u;
      strncat(text, ft_words[(s >> 16) % nw], sizeof(text) - strlen(text) - 16);
      strncat(text, " ", sizeof(text) - strlen(text) - 1);
      /* Sentences, not lists of terms: the throttle drops a list of tool names as keyword stuffing. */
      if (w % 2 == 1) {
        strncat(text, ft_glue[(s >> 8) % (sizeof(ft_glue) / sizeof(ft_glue[0]))], sizeof(text) - strlen(text) - 16);
        strncat(text, " ", sizeof(text) - strlen(text) - 1);
      }
    }
    char extra[96] = "";
    if (j % 5 == 0) snprintf(extra, sizeof(extra), ",\"tech_added\":[\"%s\"]", j % 10 == 0 ? "kubernetes" : "snowflake");
    else if (j % 7 == 0) snprintf(extra, sizeof(extra), ",\"tech_removed\":[\"%s\"]", j % 14 == 0 ? "heroku" : "kubernetes");
    fprintf(f,
            "{\"id\":\"s%d\",\"miner\":\"miner%02d\",\"ts\":%lld,\"lead\":{\"domain\":\"%s\"},\"kind\":\"%s\","
            "\"text\":\"%s record %d\"%s}\n",
            j, j % FT_MINERS, FT_TS0 + (long long)j * 30000, dom, j % 3 ? "hiring" : "tech", text, j, extra);
  }
  return fclose(f) == 0 ? 0 : -1;
}

/* One outcome per domain, after every snippet in event time; alternately good and bad. */
static inline int ft_write_outcomes(const char *path, int nsnippets) {
  FILE *f = fopen(path, "w");
  if (f == NULL) return -1;
  static const char *const ev[] = { "meeting", "bounced", "replied", "spam" };
  for (int d = 0; d < FT_DOMAINS; d++) {
    char dom[64];
    ft_domain(d, dom, sizeof(dom));
    fprintf(f, "{\"id\":\"o%d\",\"ts\":%lld,\"domain\":\"%s\",\"event\":\"%s\"}\n", d,
            FT_TS0 + (long long)nsnippets * 30000 + d * 1000, dom, ev[d % 4]);
  }
  return fclose(f) == 0 ? 0 : -1;
}

/* ---- the state of a server ------------------------------------------------------------------------ */

static inline json_t *ft_get_json(int port, const char *path) {
  lpt_response r;
  if (lpt_http(port, "GET", path, NULL, NULL, 0, &r) != 0) return NULL;
  json_t *j = r.status == 200 ? json_loads(r.body, 0, NULL) : NULL;
  lpt_response_free(&r);
  return j;
}

/* Snippet records counted against miners (accepted + throttled + rejected) and outcomes on leads; -1 when
 * the server does not answer. */
static inline long ft_counted(int port, long *outcomes) {
  json_t *m = ft_get_json(port, "/v1/miners");
  if (m == NULL) return -1;
  long n = 0;
  size_t i;
  json_t *row;
  json_array_foreach(json_object_get(m, "miners"), i, row) {
    n += (long)json_integer_value(json_object_get(row, "accepted")) +
         (long)json_integer_value(json_object_get(row, "throttled")) +
         (long)json_integer_value(json_object_get(row, "rejected"));
  }
  json_decref(m);
  if (outcomes) {
    *outcomes = 0;
    for (int d = 0; d < FT_DOMAINS; d++) {
      char path[128], dom[64];
      ft_domain(d, dom, sizeof(dom));
      snprintf(path, sizeof(path), "/v1/leads/%s", dom);
      json_t *l = ft_get_json(port, path);
      const char *k;
      json_t *v;
      json_object_foreach(json_object_get(l, "outcomes"), k, v) *outcomes += (long)json_integer_value(v);
      json_decref(l);
    }
  }
  return n;
}

/* Waits (up to ms) until the server counted want snippet records (and want_outcomes outcomes, when >= 0).
 * Returns the last count seen. */
static inline long ft_wait_counted(int port, long want, long want_outcomes, int ms) {
  long long end = ft_now_ms() + ms;
  long n = -1, o = 0;
  do {
    n = ft_counted(port, want_outcomes >= 0 ? &o : NULL);
    if (n == want && (want_outcomes < 0 || o == want_outcomes)) return n;
    if (n > want) return n;  /* counted twice: no wait makes it right */
    ft_sleep_ms(100);
  } while (ft_now_ms() < end);
  return n;
}

/* Waits (up to ms) until a checkpoint holds every record the server applied: the backlog of the redis
 * block of /v1/status is 0 (a server that restored everything and applied nothing since has nothing to
 * write, and no checkpoint of its own). 0 when it is, -1 on time-out (logs the block). */
static inline int ft_wait_checkpointed(int port, int ms) {
  long long end = ft_now_ms() + ms;
  for (;;) {
    json_t *st = ft_get_json(port, "/v1/status");
    json_t *r = json_object_get(st, "redis"), *b = json_object_get(r, "backlog");
    int done = json_is_integer(b) && json_integer_value(b) == 0;
    if (!done && ft_now_ms() >= end) {
      char *why = json_dumps(r ? r : st, JSON_COMPACT | JSON_ENCODE_ANY);
      cr_log_error("no checkpoint holds every record applied: %s", why ? why : "(no status)");
      free(why);
    }
    json_decref(st);
    if (done) return 0;
    if (ft_now_ms() >= end) return -1;
    ft_sleep_ms(50);
  }
}

static inline void ft_take(json_t *dst, json_t *src, const char *key) {
  json_t *v = json_object_get(src, key);
  json_object_set(dst, key, v ? v : json_null());
}

/* Every lead's snippets, tech, churn and outcomes, and every miner's counts and reputation, as one sorted
 * JSON string (malloc'd). */
static inline char *ft_state(int port) {
  json_t *all = json_object(), *leads = json_object(), *miners = json_object();
  for (int d = 0; d < FT_DOMAINS; d++) {
    char path[128], dom[64];
    ft_domain(d, dom, sizeof(dom));
    snprintf(path, sizeof(path), "/v1/leads/%s", dom);
    json_t *l = ft_get_json(port, path), *o = json_object();
    if (l != NULL) {
      ft_take(o, l, "snippets");
      ft_take(o, l, "tech");
      ft_take(o, l, "churn");
      ft_take(o, l, "outcomes");
    }
    json_object_set_new(leads, dom, o);
    json_decref(l);
  }
  json_t *m = ft_get_json(port, "/v1/miners");
  size_t i;
  json_t *row;
  json_array_foreach(json_object_get(m, "miners"), i, row) {
    json_t *o = json_object(), *rep = json_object_get(row, "reputation"), *r = json_object();
    ft_take(o, row, "accepted");
    ft_take(o, row, "throttled");
    ft_take(o, row, "rejected");
    ft_take(r, rep, "good");
    ft_take(r, rep, "bad");
    ft_take(r, rep, "mean");
    json_object_set_new(o, "reputation", r);
    json_object_set_new(miners, json_string_value(json_object_get(row, "miner")), o);
  }
  json_decref(m);
  json_object_set_new(all, "leads", leads);
  json_object_set_new(all, "miners", miners);
  char *s = json_dumps(all, JSON_SORT_KEYS | JSON_COMPACT);
  json_decref(all);
  return s;
}

/* Compares two states from ft_state: every key and integer exactly, every real within a relative 1e-9.
 * Reputation sums credits from several partitions, and the order in which the reactor receives them
 * differs from run to run; floating-point addition is not associative, so two correct runs can differ in
 * the last bits of a decayed sum. One credit counted twice or lost moves a sum by a whole weight (at least
 * 1, decayed by a few percent), nine orders of magnitude above that. Logs the differences (at path; the
 * first 20 of an object) and returns how many it found, 0 when equal. */
static inline int ft_diff_json(json_t *a, json_t *b, char *path, size_t cap) {
  size_t len = strlen(path);
  if (json_is_number(a) && json_is_number(b) && (json_is_real(a) || json_is_real(b))) {
    double x = json_number_value(a), y = json_number_value(b);
    double scale = fabs(x) > fabs(y) ? fabs(x) : fabs(y);
    if (fabs(x - y) <= 1e-9 * (scale > 1 ? scale : 1)) return 0;
    cr_log_error("%s: %.17g against %.17g", path, x, y);
    return 1;
  }
  if (json_typeof(a) != json_typeof(b)) {
    cr_log_error("%s: types differ", path);
    return 1;
  }
  if (json_is_object(a)) {
    const char *k;
    json_t *v;
    if (json_object_size(a) != json_object_size(b)) {
      cr_log_error("%s: %zu keys against %zu", path, json_object_size(a), json_object_size(b));
      return 1;
    }
    int diff = 0;
    json_object_foreach(a, k, v) {
      snprintf(path + len, cap - len, ".%s", k);
      json_t *w = json_object_get(b, k);
      if (w == NULL) {
        cr_log_error("%s: missing", path);
        return 1;
      }
      diff += ft_diff_json(v, w, path, cap);
      path[len] = 0;
      if (diff >= 20) break;
    }
    return diff;
  }
  if (json_is_array(a)) {
    if (json_array_size(a) != json_array_size(b)) {
      cr_log_error("%s: %zu items against %zu", path, json_array_size(a), json_array_size(b));
      return 1;
    }
    for (size_t i = 0; i < json_array_size(a); i++) {
      snprintf(path + len, cap - len, "[%zu]", i);
      if (ft_diff_json(json_array_get(a, i), json_array_get(b, i), path, cap)) return 1;
      path[len] = 0;
    }
    return 0;
  }
  if (json_equal(a, b)) return 0;
  char *x = json_dumps(a, JSON_ENCODE_ANY), *y = json_dumps(b, JSON_ENCODE_ANY);
  cr_log_error("%s: %s against %s", path, x ? x : "?", y ? y : "?");
  free(x), free(y);
  return 1;
}

static inline int ft_same_state(const char *a, const char *b, const char *what) {
  json_t *x = json_loads(a, 0, NULL), *y = json_loads(b, 0, NULL);
  char path[512] = "state";
  int diff = x == NULL || y == NULL || ft_diff_json(x, y, path, sizeof(path));
  if (diff) cr_log_error("%s: the states differ", what);
  json_decref(x), json_decref(y);
  return !diff;
}

/* Starts a server in external mode on bootstrap, checkpointing to redis_endpoint, with its own consumer
 * group (Kafka's committed offsets are never used; a fresh group joins at once). */
static inline int ft_server_start(lpt_server *s, const char *bootstrap, const char *redis_endpoint, const char *group,
                                  const char *extra_env) {
  static char env[8][256];
  snprintf(env[0], sizeof(env[0]), "KAFKA_BOOTSTRAP_BROKERS=%.200s", bootstrap);
  snprintf(env[1], sizeof(env[1]), "REDIS_ENDPOINT=%.200s", redis_endpoint);
  snprintf(env[2], sizeof(env[2]), "LEADPOET_KAFKA_GROUP_ID=%.200s", group);
  snprintf(env[3], sizeof(env[3]), "LEADPOET_SERVER_SHARDS=%d", FT_SHARDS);
  snprintf(env[4], sizeof(env[4]), "LEADPOET_SERVER_WORKERS=2");
  snprintf(env[5], sizeof(env[5]), "LEADPOET_CHECKPOINT_INTERVAL=100ms");
  snprintf(env[6], sizeof(env[6]), "%.250s", extra_env ? extra_env : "LEADPOET_LOG_LEVEL=info");
  const char *e[] = { env[0], env[1], env[2], env[3], env[4], env[5], env[6], NULL };
  return lpt_server_start(s, NULL, e);
}

static inline void ft_server_kill(lpt_server *s) {
  if (s->pid <= 0) return;
  kill(s->pid, SIGKILL);
  waitpid(s->pid, NULL, 0);
  s->pid = 0;
}

#endif
