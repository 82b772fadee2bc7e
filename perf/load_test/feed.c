/*
 * feed.c: the snippet stream of feed.h. The world process paces the lines (its --rate); the posting
 * threads take batches of lines from its pipe under a lock and post them. If the server is slower than the
 * rate, the pipe fills and the world waits: the rate the server really took is then read from its /metrics
 * by the caller, and the lines posted here tell the same from this side.
 */
#define _GNU_SOURCE
#include "feed.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "lt.h"
#include "qb_proc.h"

#define FEED_MAX_THREADS 64

struct lt_feed {
  lt_feed_opts o;
  pid_t world, producer;
  FILE *in;                    /* the world's stdout (HTTP mode) */
  pthread_mutex_t lock;
  pthread_t th[FEED_MAX_THREADS];
  unsigned nth;
  unsigned batch;
  atomic_int stop;
  _Atomic uint64_t lines, posts_ok, posts_failed, lines_lost;
};

/* Reads up to f->batch lines into buf (NDJSON). The number of lines, 0 at the end of the stream. */
static unsigned take_batch(lt_feed *f, char **buf, size_t *len, size_t *cap) {
  unsigned n = 0;
  *len = 0;
  char *line = NULL;
  size_t lcap = 0;
  pthread_mutex_lock(&f->lock);
  while (n < f->batch && !atomic_load(&f->stop)) {
    ssize_t l = getline(&line, &lcap, f->in);
    if (l <= 0) break;
    if (*len + (size_t)l + 1 > *cap) {
      size_t nc = *cap ? *cap * 2 : 1 << 20;
      while (nc < *len + (size_t)l + 1) nc *= 2;
      char *nb = lp_realloc(*buf, nc);
      if (!nb) break;
      *buf = nb;
      *cap = nc;
    }
    memcpy(*buf + *len, line, (size_t)l);
    *len += (size_t)l;
    n++;
  }
  pthread_mutex_unlock(&f->lock);
  free(line);
  return n;
}

static void *poster(void *arg) {
  lt_feed *f = arg;
  lt_conn c;
  lt_conn_init(&c, f->o.port);
  char *buf = NULL;
  size_t len = 0, cap = 0;
  unsigned n;
  while (!atomic_load(&f->stop) && (n = take_batch(f, &buf, &len, &cap)) > 0) {
    int status = 0;
    const char *body = NULL;
    if (lt_conn_request(&c, "POST", "/v1/snippets", "application/x-ndjson", buf, len, &status, &body, 30.0) == 0 &&
        status >= 200 && status < 300) {
      atomic_fetch_add(&f->posts_ok, 1);
      atomic_fetch_add(&f->lines, n);
    } else {
      atomic_fetch_add(&f->posts_failed, 1);
      atomic_fetch_add(&f->lines_lost, n);
    }
  }
  lp_free(buf);
  lt_conn_close(&c);
  return NULL;
}

static pid_t start_world(lt_feed *f, int out_fd, char *err, size_t errlen) {
  char rate[32], seed[32], leads[32], miners[32];
  snprintf(rate, sizeof rate, "%.0f", f->o.rate);
  snprintf(seed, sizeof seed, "%llu", f->o.seed);
  snprintf(leads, sizeof leads, "%llu", f->o.leads);
  snprintf(miners, sizeof miners, "%u", f->o.miners);
  char *argv[] = { (char *)f->o.world_bin, "--stream", "--rate", rate, "--seed", seed, "--leads", leads, "--miners",
                   miners, "--quiet", NULL };
  return lt_spawn_fds(argv, -1, out_fd, f->o.log, err, errlen);
}

int lt_feed_start(lt_feed **out, const lt_feed_opts *o, char *err, size_t errlen) {
  *out = NULL;
  lt_feed *f = lp_calloc(1, sizeof *f);
  if (!f) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  f->o = *o;
  pthread_mutex_init(&f->lock, NULL);
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) {
    snprintf(err, errlen, "pipe: %s", strerror(errno));
    lp_free(f);
    return -1;
  }
  f->world = start_world(f, p[1], err, errlen);
  close(p[1]);
  if (f->world < 0) {
    close(p[0]);
    lp_free(f);
    return -1;
  }
  if (o->brokers) {
    char *argv[] = { (char *)o->leadpoet, "produce", "-", "--brokers", (char *)o->brokers, "--quiet", NULL };
    f->producer = lt_spawn_fds(argv, p[0], -1, o->log, err, errlen);
    close(p[0]);
    if (f->producer < 0) {
      qb_stop(f->world, 5);
      lp_free(f);
      return -1;
    }
    *out = f;
    return 0;
  }
  f->in = fdopen(p[0], "r");
  if (!f->in) {
    snprintf(err, errlen, "fdopen: %s", strerror(errno));
    close(p[0]);
    qb_stop(f->world, 5);
    lp_free(f);
    return -1;
  }
  /* a quarter of a second of the stream per POST: with Kafka behind it a 202 can take ~0.5 s, and the
   * connections must still carry the rate */
  double b = o->batch ? o->batch : o->rate / 4.0;
  f->batch = b < 1 ? 1 : b > 10000 ? 10000 : (unsigned)b;
  unsigned n = o->connections < 1 ? 1 : o->connections > FEED_MAX_THREADS ? FEED_MAX_THREADS : o->connections;
  for (unsigned i = 0; i < n; i++)
    if (pthread_create(&f->th[f->nth], NULL, poster, f) == 0) f->nth++;
  if (f->nth == 0) {
    snprintf(err, errlen, "cannot start the posting threads");
    qb_stop(f->world, 5);
    fclose(f->in);
    lp_free(f);
    return -1;
  }
  *out = f;
  return 0;
}

void lt_feed_stats_get(const lt_feed *f, lt_feed_stats *s) {
  s->lines = atomic_load(&f->lines);
  s->posts_ok = atomic_load(&f->posts_ok);
  s->posts_failed = atomic_load(&f->posts_failed);
  s->lines_lost = atomic_load(&f->lines_lost);
}

int lt_feed_stop(lt_feed *f, lt_feed_stats *final) {
  int rc = 0;
  atomic_store(&f->stop, 1);
  qb_stop(f->world, 5);   /* the pipe then ends: the threads (or the producer) see its end */
  for (unsigned i = 0; i < f->nth; i++) pthread_join(f->th[i], NULL);
  if (f->producer > 0) {
    /* produce waits for the broker's acknowledgements of what it read, then exits by itself; it is
     * stopped by its pid only when it has not after 30 s */
    int st = 0, done = 0;
    for (int i = 0; i < 300 && !done; i++) {
      pid_t w = waitpid(f->producer, &st, WNOHANG);
      if (w == f->producer) done = 1;
      else if (w < 0 && errno != EINTR) break;
      else usleep(100 * 1000);
    }
    rc = done ? (WIFEXITED(st) ? WEXITSTATUS(st) : -1) : qb_stop(f->producer, 5);
  }
  if (final) lt_feed_stats_get(f, final);
  if (f->in) fclose(f->in);
  pthread_mutex_destroy(&f->lock);
  lp_free(f);
  return rc;
}
