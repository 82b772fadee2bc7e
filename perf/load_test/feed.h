/*
 * feed.h: the snippet stream of load_test: perf/world in stream mode (event time = wall clock, a paced
 * rate) into the server under test, either by HTTP (POST /v1/snippets NDJSON batches over keep-alive
 * connections, one thread each) or by Kafka (`leadpoet produce -` to the server's cluster).
 *
 * Threads: lt_feed_start / lt_feed_stop from one thread (the tool's main); the counters may be read at any
 * time from that thread (they are atomics written by the feeder threads).
 */
#ifndef LP_PERF_FEED_H
#define LP_PERF_FEED_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lt_feed_opts {
  int port;                    /* the server (HTTP mode) */
  const char *brokers;         /* Kafka mode when not NULL: the server's bootstrap address */
  const char *world_bin, *leadpoet;
  double rate;                 /* snippets per second offered */
  unsigned long long seed, leads;
  unsigned miners;             /* stream miners (spread so that the throttle stage keeps most lines) */
  unsigned connections;        /* HTTP mode: posting threads */
  unsigned batch;              /* HTTP mode: lines per POST (0 = rate / 4, within 1..10000) */
  const char *log;             /* stderr of the children */
} lt_feed_opts;

typedef struct lt_feed lt_feed;

typedef struct lt_feed_stats {
  uint64_t lines;              /* lines posted (HTTP) */
  uint64_t posts_ok;           /* 2xx answers */
  uint64_t posts_failed;       /* non-2xx answers or connection errors (their lines are counted as lost) */
  uint64_t lines_lost;
} lt_feed_stats;

/* Starts the stream. 0 with *out (owned: lt_feed_stop frees it), or -1 with the reason in err. */
int lt_feed_start(lt_feed **out, const lt_feed_opts *o, char *err, size_t errlen);
/* The counters so far (HTTP mode; zeros in Kafka mode, where the server's /metrics tells). */
void lt_feed_stats_get(const lt_feed *f, lt_feed_stats *s);
/* Stops the children by their pids and joins the threads; frees f. Returns the exit status of `leadpoet
 * produce` in Kafka mode (0 = every line delivered), else 0. */
int lt_feed_stop(lt_feed *f, lt_feed_stats *final);

#endif
