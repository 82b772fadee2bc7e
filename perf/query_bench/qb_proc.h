/*
 * qb_proc.h: what a benchmark needs around the server under test: child processes (the world generator,
 * `leadpoet serve`, `leadpoet ingest`) started and stopped by their own pids, a free loopback port, a
 * blocking one-shot HTTP request, the server's counters from /metrics and its resident memory.
 *
 * Threads: plain blocking calls for the main thread of a benchmark program.
 */
#ifndef LP_PERF_QB_PROC_H
#define LP_PERF_QB_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A TCP port on 127.0.0.1 that was free a moment ago, or -1. */
int qb_free_port(void);

/* Starts argv[0] (a path) with argv; stdout and stderr go to out_path when it is not NULL (appended),
 * else they are inherited. Returns the pid, or -1 with the reason in errstr. */
pid_t qb_spawn(char *const argv[], const char *out_path, char *errstr, size_t errstr_size);

/* Waits for pid; returns its exit status 0..255, or -1 when it died of a signal or cannot be waited. */
int qb_wait(pid_t pid);

/* SIGTERM to pid, then waits up to timeout_s seconds, then SIGKILL. Returns the exit status or -1. */
int qb_stop(pid_t pid, double timeout_s);

/* One HTTP/1.1 request to 127.0.0.1:port on a new connection (Connection: close). body may be NULL.
 * On success returns 0 with the status in *status and the body in *resp (NUL-terminated, the caller frees
 * it with lp_free); -1 when the connection or the response failed. */
int qb_http(int port, const char *method, const char *path, const char *body, int *status, char **resp,
            double timeout_s);

/* Waits until GET /healthz answers 200 or pid exits or timeout_s passes. Returns 0 when it answered. */
int qb_wait_healthy(int port, pid_t pid, double timeout_s);

/* The sum of every sample of metric `name` (any labels) in a Prometheus text body; label_filter, when not
 * NULL, must appear in the sample's label block (e.g. "result=\"accepted\""). -1 when no sample matched. */
double qb_metric_sum(const char *metrics, const char *name, const char *label_filter);

/* The CPU's model name (from /proc/cpuinfo) into cpu, NUL-terminated; "unknown" when not found. For the
 * machine line every benchmark prints beside its figures. */
void qb_cpu_model(char *cpu, size_t cap);

/* VmRSS of pid in bytes (from /proc/PID/status), or -1. */
long long qb_rss_bytes(pid_t pid);

/* Removes dir and everything under it (no symlink is followed). 0 or -1. */
int qb_rmtree(const char *dir);

#endif
