/*
 * lt.h: what the load tools of issue 8 share (perf/loadgen, load_test, freshness, cost_test, cost_report):
 * the server under test started on a free port with a fresh state dir and loaded with a perf/world market,
 * requests built from a prompts file, a blocking keep-alive HTTP client, figures read from /metrics, and the
 * JSON / table form of an open-loop run (lp_ol_result of perf/query_bench's lp_loadcore).
 *
 * Threads: every function is a plain blocking call. An lt_conn belongs to one thread at a time; the rest
 * keeps no global state, so several threads may use the library at once (each with its own objects).
 */
#ifndef LP_PERF_LT_H
#define LP_PERF_LT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "openloop.h"

/* ---- command line ---------------------------------------------------------------------------------- */

/* Parses a number in [lo, hi] from v. 0, or -1 when v is not such a number. */
int lt_num(const char *v, double lo, double hi, double *out);

/* Port of "http://127.0.0.1:PORT" (a trailing '/' allowed). 0 or -1 for any other form. */
int lt_parse_url(const char *url, int *port);

/* ---- requests -------------------------------------------------------------------------------------- */

/* Builds one POST /v1/leads request per prompt of path: a JSON Lines file whose objects carry "prompt"
 * (perf/world's prompts.jsonl), or plain text, one prompt a line. k is the leads asked; explain 0 adds
 * "explain": false. On success *reqs (owned by the caller: lt_requests_free) holds *n >= 1 requests.
 * Returns 0, LP_EIO (file), LP_EINVAL (no prompt in it) or LP_ENOMEM, with the reason in err. */
int lt_load_prompts(const char *path, unsigned k, int explain, lp_ol_request **reqs, size_t *n, char *err,
                    size_t errlen);
void lt_requests_free(lp_ol_request *reqs, size_t n);

/* ---- a blocking keep-alive HTTP/1.1 client ------------------------------------------------------- */

typedef struct lt_conn {
  int fd;          /* -1 when not connected; (re)connected by lt_conn_request */
  int port;
  char *buf;       /* response bytes (owned) */
  size_t cap;
} lt_conn;

void lt_conn_init(lt_conn *c, int port);
void lt_conn_close(lt_conn *c);   /* closes the socket and frees the buffer; c may be reused after init */

/* Sends one request (body may be NULL; ctype defaults to application/json) and reads the whole answer
 * (Content-Length framed). On 0 *status is the HTTP status and *body points at the NUL-terminated body
 * inside c (valid until the next call). -1 on a connect, write, read, parse error or timeout: the
 * connection is then closed and the next call reconnects. */
int lt_conn_request(lt_conn *c, const char *method, const char *path, const char *ctype, const char *body,
                    size_t body_len, int *status, const char **resp, double timeout_s);

/* ---- the server under test ----------------------------------------------------------------------- */

typedef struct lt_server_opts {
  const char *leadpoet;        /* server binary */
  const char *world_bin;       /* perf/world binary */
  const char *world_dir;       /* market to use (generated there when it holds no snippets.jsonl), or NULL */
  unsigned long long leads;    /* generated market: leads (snippets = 10 x leads unless set) */
  unsigned long long snippets;
  unsigned long long seed;
  const char *kafka_mode;      /* LEADPOET_KAFKA_MODE for the server, or NULL for its default */
  unsigned batch;              /* leadpoet ingest --batch */
  int quiet;                   /* no progress on stderr */
} lt_server_opts;

typedef struct lt_server {
  char world[512];
  int world_tmp;               /* world[] was made here: removed by lt_server_down */
  char state[512];             /* the server's state dir (a fresh temp dir, removed) */
  char log[512];               /* its stderr; kept when the run failed */
  pid_t pid;
  int port;
  double gen_s, load_s;        /* world generation, load (ingest + apply) seconds */
  unsigned long long seed, leads;   /* of the market, from its truth.jsonl */
} lt_server;

/* Generates the market when needed, starts `leadpoet serve` on a free loopback port with a fresh state
 * dir, loads the market's snippets with `leadpoet ingest` and waits until /v1/status shows no backlog.
 * 0, or -1 with the reason in err (then lt_server_down still cleans up). */
int lt_server_up(lt_server *s, const lt_server_opts *o, char *err, size_t errlen);

/* Stops the server by its pid, removes the temp dirs, and the log unless failed. */
void lt_server_down(lt_server *s, int failed);

/* Waits until GET /v1/status shows "backlog": 0, at most timeout_s. */
void lt_wait_applied(int port, double timeout_s);

/* GET path as parsed JSON (the caller decrefs), NULL on any failure. */
json_t *lt_get_json(int port, const char *path);

/* Starts argv[0] with stdin from in_fd and stdout to out_fd (-1: inherit), stderr to err_path when not
 * NULL. The pid, or -1 with the reason in err. */
pid_t lt_spawn_fds(char *const argv[], int in_fd, int out_fd, const char *err_path, char *err, size_t errlen);

/* ---- figures ---------------------------------------------------------------------------------------- */

/* The server's own figures from /metrics (and /proc for its memory when pid > 0): leads, snippets
 * accepted, postings, resident bytes and bytes per snippet, lead cost (mean and P99 of the
 * leadpoet_lead_cost_usd histogram), LLM hit rate, CPU seconds. NULL when /metrics did not answer. */
json_t *lt_server_json(int port, pid_t pid);

/* Quantile q of Prometheus histogram `name` in a /metrics body: the upper bound of the bucket that holds
 * it (a conservative estimate), +Inf bucket -> the largest finite bound. -1 when absent or empty. */
double lt_prom_quantile(const char *metrics, const char *name, double q);

/* Every sample of counter `name` with label `label` as an object {label value: count}. */
json_t *lt_prom_by_label(const char *metrics, const char *name, const char *label);

/* {"cores","cpu","ram_bytes","kernel","date"} of this machine. */
json_t *lt_machine_json(void);
/* The same, as one line "2 cores, CPU, N GiB RAM, Linux K, DATE" into buf. */
void lt_machine_line(char *buf, size_t cap);

/* An open-loop run as JSON: latency_ms and send_lag_ms {p50,p90,p95,p99,p999,max,mean,count}, qps
 * (scheduled), scheduled, completed, ok, errors (non-2xx answers + lost + unsent), by_status, lost, unsent,
 * socket_errors, connect_errors, elapsed_s, achieved_qps. */
json_t *lt_run_json(const lp_ol_result *r, double qps);

/* Errors of a run: non-2xx answers, lost and never-sent requests. */
uint64_t lt_run_errors(const lp_ol_result *r);

/* Prints a run as a few indented lines: latency percentiles (ms), send lag, rate, errors by status. */
void lt_print_run(FILE *f, const char *title, const lp_ol_result *r, double qps);

/* Writes j to path (indented), or to stdout when path is "-". 0 or -1. */
int lt_write_json(const json_t *j, const char *path);

#endif
