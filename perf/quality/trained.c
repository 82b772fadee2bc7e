/*
 * trained.c: the trained ranking of perf/quality (trained.h).
 */
#include "trained.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lt.h"
#include "query/features.h"

int qt_ids_add(qt_ids *s, const char *query_id, size_t prompt) {
  if (s->n == s->cap) {
    size_t nc = s->cap ? 2 * s->cap : 256;
    char **ni = realloc(s->id, nc * sizeof(*ni));
    if (ni == NULL) return -1;
    s->id = ni;
    size_t *np = realloc(s->prompt, nc * sizeof(*np));
    if (np == NULL) return -1;
    s->prompt = np;
    s->cap = nc;
  }
  if ((s->id[s->n] = strdup(query_id)) == NULL) return -1;
  s->prompt[s->n++] = prompt;
  return 0;
}

void qt_ids_free(qt_ids *s) {
  for (size_t i = 0; i < s->n; i++) free(s->id[i]);
  free(s->id);
  free(s->prompt);
  memset(s, 0, sizeof(*s));
}

/* The index in s of the query_id a log line names, or -1. */
static long find_id(const qt_ids *s, const char *line) {
  const char *k = strstr(line, "\"query_id\":\"");
  if (k == NULL) return -1;
  k += 12;
  const char *e = strchr(k, '"');
  if (e == NULL) return -1;
  size_t n = (size_t)(e - k);
  for (size_t i = 0; i < s->n; i++)
    if (strlen(s->id[i]) == n && memcmp(s->id[i], k, n) == 0) return (long)i;
  return -1;
}

typedef int (*line_fn)(void *ud, const char *line, long idx, int is_query);

/* Walks the log's lines that name an id of s; fails (to retry) unless every id has its query line. */
static int walk(const char *log, const qt_ids *s, line_fn fn, void *ud, char *err, size_t errlen) {
  for (int attempt = 0; attempt < 10; attempt++) {
    FILE *f = fopen(log, "r");
    if (f == NULL) {
      snprintf(err, errlen, "cannot read %s: %s", log, strerror(errno));
      return -1;
    }
    char *seen = calloc(s->n ? s->n : 1, 1), *line = NULL;
    size_t cap = 0, found = 0;
    ssize_t len;
    while (seen && (len = getline(&line, &cap, f)) > 0) {
      long idx = find_id(s, line);
      if (idx < 0) continue;
      int q = strncmp(line, "{\"type\":\"query\"", 15) == 0;
      if (q && !seen[idx]) {
        seen[idx] = 1;
        found++;
      }
    }
    fclose(f);
    free(line);
    free(seen);
    if (found == s->n) break;
    if (attempt == 9) {
      snprintf(err, errlen, "%s: %zu of %zu answers logged after 10 s", log, found, s->n);
      return -1;
    }
    sleep(1);
  }
  FILE *f = fopen(log, "r");
  if (f == NULL) {
    snprintf(err, errlen, "cannot read %s: %s", log, strerror(errno));
    return -1;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  int rc = 0;
  while (rc == 0 && (len = getline(&line, &cap, f)) > 0) {
    long idx = find_id(s, line);
    if (idx >= 0) rc = fn(ud, line, idx, strncmp(line, "{\"type\":\"query\"", 15) == 0);
  }
  fclose(f);
  free(line);
  if (rc != 0) snprintf(err, errlen, "%s: a line could not be used", log);
  return rc;
}

static int copy_line(void *ud, const char *line, long idx, int is_query) {
  (void)idx, (void)is_query;
  return fputs(line, ud) < 0 ? -1 : 0;
}

int qt_filter_log(const char *log, const char *out, const qt_ids *keep, char *err, size_t errlen) {
  FILE *o = fopen(out, "w");
  if (o == NULL) {
    snprintf(err, errlen, "cannot write %s: %s", out, strerror(errno));
    return -1;
  }
  int rc = walk(log, keep, copy_line, o, err, errlen);
  if (fclose(o) != 0 && rc == 0) {
    snprintf(err, errlen, "cannot write %s", out);
    rc = -1;
  }
  return rc;
}

int qt_train(const char *leadpoet, const char *input, const char *model, const char *err_path, char *err,
             size_t errlen) {
  char *argv[] = { (char *)leadpoet, "train", "--out", (char *)model, "--valid", "0.1", "--horizon", "30d",
                   (char *)input, NULL };
  pid_t pid = lt_spawn_fds(argv, -1, STDERR_FILENO, err_path, err, errlen);  /* its report with our progress */
  if (pid < 0) return -1;
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    snprintf(err, errlen, "leadpoet train exited with status %d (see %s)", WIFEXITED(st) ? WEXITSTATUS(st) : -1,
             err_path);
    return -1;
  }
  return 0;
}

typedef struct rank_ctx {
  const lp_gbdt *m;
  const qt_ids *ids;
  qt_ranked_fn fn;
  void *ud;
} rank_ctx;

typedef struct scored {
  const char *domain;
  double s;
} scored;

static int cmp_scored(const void *a, const void *b) {
  const scored *x = a, *y = b;
  if (x->s != y->s) return x->s > y->s ? -1 : 1;
  return strcmp(x->domain, y->domain);
}

static int rank_line(void *ud, const char *line, long idx, int is_query) {
  rank_ctx *c = ud;
  if (!is_query) return 0;
  json_t *j = json_loads(line, 0, NULL), *leads = json_object_get(j, "leads"), *l;
  if (j == NULL || !json_is_array(leads)) {
    json_decref(j);
    return -1;
  }
  size_t n = json_array_size(leads), i;
  scored *v = calloc(n ? n : 1, sizeof(*v));
  const char **order = calloc(n ? n : 1, sizeof(*order));
  int rc = v && order ? 0 : -1;
  json_array_foreach(leads, i, l) {
    if (rc) break;
    json_t *f = json_object_get(l, "f");
    float row[LP_FEATURES_N];
    if (json_array_size(f) != LP_FEATURES_N) {
      rc = -1;
      break;
    }
    for (uint32_t k = 0; k < LP_FEATURES_N; k++) {
      json_t *x = json_array_get(f, k);
      row[k] = json_is_number(x) ? (float)json_number_value(x) : NAN;
    }
    v[i].domain = json_string_value(json_object_get(l, "domain"));
    if (v[i].domain == NULL) v[i].domain = "";
    lp_gbdt_predict(c->m, row, 1, LP_FEATURES_N, &v[i].s);
  }
  if (rc == 0) {
    qsort(v, n, sizeof(*v), cmp_scored);
    for (i = 0; i < n; i++) order[i] = v[i].domain;
    c->fn(c->ud, c->ids->prompt[idx], order, n);
  }
  free(v);
  free(order);
  json_decref(j);
  return rc;
}

int qt_rank(const char *log, const lp_gbdt *m, const qt_ids *which, qt_ranked_fn fn, void *ud, char *err,
            size_t errlen) {
  rank_ctx c = { m, which, fn, ud };
  return walk(log, which, rank_line, &c, err, errlen);
}
