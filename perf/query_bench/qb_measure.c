/*
 * qb_measure.c: query_bench's measurements (closed loop, then open loop) and how they are printed.
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/alloc.h"
#include "qb_proc.h"
#include "query_bench.h"

#define QB_CLOSED_WARMUP 50

static const double qs[] = { 0.5, 0.9, 0.99, 0.999, 1.0 };
static const char *const qnames[] = { "p50", "p90", "p99", "p99.9", "max" };
#define NQ (sizeof qs / sizeof qs[0])

typedef struct qb_server_figs {
  double leads, snippets, postings;
  long long rss;
} qb_server_figs;

static void machine(char *cpu, size_t cap, char *kernel, size_t kcap) {
  qb_cpu_model(cpu, cap);
  struct utsname u;
  snprintf(kernel, kcap, "%s", uname(&u) == 0 ? u.release : "unknown");
}

static void server_figs(int port, pid_t rss_pid, qb_server_figs *s) {
  s->leads = s->snippets = s->postings = -1;
  s->rss = rss_pid > 0 ? qb_rss_bytes(rss_pid) : -1;
  int st = 0;
  char *m = NULL;
  if (qb_http(port, "GET", "/metrics", NULL, &st, &m, 10.0) != 0) return;
  if (st == 200) {
    s->leads = qb_metric_sum(m, "leadpoet_leads", NULL);
    s->snippets = qb_metric_sum(m, "leadpoet_snippets_total", "result=\"accepted\"");
    s->postings = qb_metric_sum(m, "leadpoet_index_postings", NULL);
  }
  lp_free(m);
}

static uint64_t errors(const lp_ol_result *r) { return r->completed - lp_ol_ok(r) + r->lost + r->unsent; }

static void print_lat(const char *label, const lp_hist *h) {
  printf("  %-22s", label);
  for (size_t i = 0; i < NQ; i++) printf(" %s %8.3f", qnames[i], (double)lp_hist_quantile(h, qs[i]) / 1e6);
  printf("   mean %.3f ms\n", lp_hist_mean(h) / 1e6);
}

static void print_errors(const lp_ol_result *r) {
  printf("  errors: %llu", (unsigned long long)errors(r));
  for (int s = 100; s < LP_OL_MAX_STATUS; s++)
    if (r->by_status[s] && (s < 200 || s >= 300)) printf("  [%d]=%llu", s, (unsigned long long)r->by_status[s]);
  printf("  lost=%llu unsent=%llu timeouts=%llu socket_errors=%llu connect_errors=%llu connects=%llu\n",
         (unsigned long long)r->lost, (unsigned long long)r->unsent, (unsigned long long)r->timeouts,
         (unsigned long long)r->socket_errors, (unsigned long long)r->connect_errors, (unsigned long long)r->connects);
}

static void print_table(const qb_opts *o, const lp_ol_result *cl, const lp_ol_result *ol, const qb_server_figs *s,
                        double gen_s, double load_s) {
  char cpu[256], kernel[128];
  machine(cpu, sizeof cpu, kernel, sizeof kernel);
  printf("query_bench: POST /v1/leads, k=%lu%s, %ld cores, %s, Linux %s\n", o->k, o->no_explain ? ", no explain" : "",
         sysconf(_SC_NPROCESSORS_ONLN), cpu, kernel);
  if (gen_s > 0) printf("  world generated in %.1f s (%llu leads, %llu snippets)\n", gen_s, o->leads, o->snippets);
  if (load_s > 0 && s->snippets > 0)
    printf("  loaded in %.1f s (%.0f accepted snippets/s, ingest + apply)\n", load_s, s->snippets / load_s);
  printf("  server: %.0f leads, %.0f snippets accepted, %.0f postings", s->leads, s->snippets, s->postings);
  if (s->rss > 0) {
    printf(", resident %.1f MB", (double)s->rss / 1048576.0);
    if (s->snippets > 0) printf(" (%.0f bytes per snippet)", (double)s->rss / s->snippets);
  }
  printf("\n\nclosed loop, 1 client, %llu queries (after %d warm-up), time-out %.3g s, latency in ms:\n",
         (unsigned long long)cl->completed, QB_CLOSED_WARMUP, o->timeout);
  print_lat("latency", &cl->latency);
  printf("  rate: %.1f queries/s\n", cl->elapsed_s > 0 ? (double)cl->completed / cl->elapsed_s : 0.0);
  print_errors(cl);
  printf("\nopen loop, %.0f QPS scheduled for %.0f s (after %.0f s warm-up), %lu connections, latency in ms "
         "from the scheduled time:\n", o->qps, o->duration, o->warmup, o->connections);
  print_lat("latency", &ol->latency);
  print_lat("send lag (generator)", &ol->send_lag);
  printf("  scheduled %llu, answered %llu (%llu 2xx), achieved %.1f QPS (2xx over the window)\n",
         (unsigned long long)ol->scheduled, (unsigned long long)ol->completed, (unsigned long long)lp_ol_ok(ol),
         ol->elapsed_s > 0 ? (double)lp_ol_ok(ol) / ol->elapsed_s : 0.0);
  print_errors(ol);
}

static json_t *lat_json(const lp_hist *h) {
  json_t *j = json_object();
  for (size_t i = 0; i < NQ; i++)
    json_object_set_new(j, qnames[i], json_real((double)lp_hist_quantile(h, qs[i]) / 1e6));
  json_object_set_new(j, "mean", json_real(lp_hist_mean(h) / 1e6));
  json_object_set_new(j, "count", json_integer((json_int_t)h->count));
  return j;
}

static json_t *run_json(const lp_ol_result *r) {
  json_t *st = json_object();
  for (int s = 100; s < LP_OL_MAX_STATUS; s++)
    if (r->by_status[s]) {
      char k[16];
      snprintf(k, sizeof k, "%d", s);
      json_object_set_new(st, k, json_integer((json_int_t)r->by_status[s]));
    }
  json_t *j = json_pack("{s:o, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:f, s:f}", "latency_ms",
                        lat_json(&r->latency),
                   "send_lag_ms", lat_json(&r->send_lag), "scheduled", (json_int_t)r->scheduled, "completed",
                   (json_int_t)r->completed, "errors", (json_int_t)errors(r), "lost", (json_int_t)r->lost, "unsent",
                   (json_int_t)r->unsent, "socket_errors", (json_int_t)r->socket_errors, "connect_errors",
                   (json_int_t)r->connect_errors, "by_status", st, "elapsed_s", r->elapsed_s, "achieved_qps",
                   r->elapsed_s > 0 ? (double)lp_ol_ok(r) / r->elapsed_s : 0.0);
  if (j) json_object_set_new(j, "timeouts", json_integer((json_int_t)r->timeouts));  /* stalls (--timeout) */
  return j;
}


static void print_json(const qb_opts *o, const lp_ol_result *cl, const lp_ol_result *ol, const qb_server_figs *s,
                       double gen_s, double load_s) {
  char cpu[256], kernel[128];
  machine(cpu, sizeof cpu, kernel, sizeof kernel);
  json_t *j = json_pack(
      "{s:{s:I, s:s, s:s}, s:{s:I, s:I, s:I, s:f, s:f, s:I, s:I, s:b}, s:{s:f, s:f, s:f, s:I}, s:o, s:o}",
      "machine", "cores", (json_int_t)sysconf(_SC_NPROCESSORS_ONLN), "cpu", cpu, "kernel", kernel, "params", "leads",
      (json_int_t)o->leads, "snippets", (json_int_t)o->snippets, "closed_queries", (json_int_t)o->closed, "qps", o->qps,
      "duration_s", o->duration, "connections", (json_int_t)o->connections, "k", (json_int_t)o->k, "explain",
      !o->no_explain, "server", "leads", s->leads, "snippets_accepted", s->snippets, "postings", s->postings,
      "rss_bytes", (json_int_t)s->rss, "closed_loop", run_json(cl), "open_loop", run_json(ol));
  if (!j) {
    fprintf(stderr, "query_bench: cannot build the JSON output\n");
    return;
  }
  if (gen_s <= 0) {   /* the market was not generated here: the requested sizes say nothing; see "server" */
    json_object_del(json_object_get(j, "params"), "leads");
    json_object_del(json_object_get(j, "params"), "snippets");
  }
  json_object_set_new(j, "generate_s", json_real(gen_s));
  json_object_set_new(j, "load_s", json_real(load_s));
  char *out = json_dumps(j, JSON_INDENT(2));
  if (out) printf("%s\n", out);
  free(out);
  json_decref(j);
}

int qb_measure(const qb_opts *o, int port, const lp_ol_request *reqs, size_t nreqs, pid_t rss_pid, double gen_s,
               double load_s) {
  lp_ol_result *cl = lp_malloc(sizeof *cl), *ol = lp_malloc(sizeof *ol);
  char err[256];
  int rc = -1;
  if (!cl || !ol) {
    fprintf(stderr, "query_bench: out of memory\n");
    goto out;
  }
  lp_ol_config c;
  lp_ol_config_default(&c);
  c.port = port;
  c.reqs = reqs;
  c.nreqs = nreqs;
  c.connections = 1;
  c.qps = 0;
  c.duration_s = 3600;
  c.max_requests = QB_CLOSED_WARMUP;
  c.request_timeout_s = o->timeout;
  if (!o->json) fprintf(stderr, "closed loop: %llu queries ...\n", o->closed);
  if (lp_ol_run(&c, cl, err, sizeof err) != 0) goto fail;   /* warm-up, discarded */
  c.max_requests = o->closed;
  if (lp_ol_run(&c, cl, err, sizeof err) != 0) goto fail;
  c.connections = (unsigned)o->connections;
  c.qps = o->qps;
  c.warmup_s = o->warmup;
  c.duration_s = o->duration;
  c.max_requests = 0;
  if (!o->json) fprintf(stderr, "open loop: %.0f QPS for %.0f s (+%.0f s warm-up) ...\n", o->qps, o->duration, o->warmup);
  if (lp_ol_run(&c, ol, err, sizeof err) != 0) goto fail;
  qb_server_figs s;
  server_figs(port, rss_pid, &s);
  if (o->json) print_json(o, cl, ol, &s, gen_s, load_s);
  else print_table(o, cl, ol, &s, gen_s, load_s);
  rc = 0;
  goto out;
fail:
  fprintf(stderr, "query_bench: %s\n", err);
out:
  lp_free(cl);
  lp_free(ol);
  return rc;
}
