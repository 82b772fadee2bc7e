/*
 * query_http.c: POST /v1/leads, the product.
 *
 * On the reactor: the body is parsed and checked (query/request.c: every contract error), the prompt
 * becomes an ICP (icp/), and both become a plan (query/plan.c). The plan is sent to every worker in one
 * message each; a worker runs it over its shards between two ingest batches (query/exec.c) and answers
 * with its local top-k, already rendered. When every worker has answered, the reactor merges (score
 * descending, then domain ascending, each domain once), numbers the ranks and answers. The plan is
 * read-only while the workers hold it and freed by the reactor after the last answer.
 *
 * Cost: the CPU time the query took on every thread (the reactor's parse and merge, each worker's run),
 * at query.instance_usd_per_hour, plus paid calls (none yet: the LLM stage is not in this build).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "query/exec.h"
#include "query/plan.h"
#include "server/server_int.h"

typedef struct query_ctx {
  lp_server *srv;
  lp_http_req *req;
  lp_qplan plan;
  uint32_t outstanding;
  double reactor_cpu_s;
  lp_qresult *results;       /* one per worker, written by that worker only */
  char query_id[24];
} query_ctx;

typedef struct query_msg {
  lp_msg msg;
  query_ctx *q;
} query_msg;

static double thread_cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void query_run(lp_worker *w, lp_msg *m) {
  query_msg *qm = (query_msg *)m;
  lp_worker_state *st = lp_worker_data(w);
  lp_shard *stack[256];
  lp_shard **shards = st->n <= 256 ? stack : lp_malloc(st->n * sizeof(lp_shard *));
  lp_qresult *out = &qm->q->results[lp_worker_index(w)];
  if (shards == NULL) {
    out->failed = 1;
    return;
  }
  for (uint32_t i = 0; i < st->n; i++) shards[i] = &st->shards[i];
  lp_query_run(&qm->q->plan, shards, st->n, out);
  if (shards != stack) lp_free(shards);
}

static int cmp_hit(const void *a, const void *b) {
  const lp_qhit *x = *(const lp_qhit *const *)a, *y = *(const lp_qhit *const *)b;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  return strcmp(x->domain, y->domain);
}

static void query_free(query_ctx *q) {
  uint32_t nw = lp_workers_count(q->srv->workers);
  for (uint32_t i = 0; i < nw; i++) lp_qresult_free(&q->results[i]);
  lp_free(q->results);
  lp_qplan_free(&q->plan);
  lp_free(q);
}

static void respond(query_ctx *q) {
  double t0 = thread_cpu_s();
  lp_server *srv = q->srv;
  uint32_t nw = lp_workers_count(srv->workers);
  size_t total = 0, failed = 0;
  double cpu = q->reactor_cpu_s;
  for (uint32_t i = 0; i < nw; i++) {
    total += q->results[i].n;
    failed |= (size_t)q->results[i].failed;
    cpu += q->results[i].cpu_s;
  }
  if (failed) {
    lp_http_add_header(q->req, "Retry-After", "1");
    lp_http_respond_error(q->req, 503, "overloaded", "out of memory while answering the query");
    query_free(q);
    return;
  }
  const lp_qhit **all = lp_malloc((total ? total : 1) * sizeof(lp_qhit *));
  size_t n = 0;
  for (uint32_t i = 0; i < nw; i++)
    for (size_t j = 0; j < q->results[i].n; j++) all[n++] = &q->results[i].hits[j];
  if (n > 1) qsort(all, n, sizeof(all[0]), cmp_hit);
  lp_buf b = LP_BUF_INIT;
  lp_buf_printf(&b, "{\"query_id\":\"%s\",\"took_ms\":", q->query_id);
  size_t took_at = b.len;  /* filled in last */
  lp_buf_puts(&b, "          ,\"model\":\"v0\",\"leads\":[");
  size_t rank = 0;
  for (size_t i = 0; i < n && rank < q->plan.req.k; i++) {
    if (i > 0 && strcmp(all[i]->domain, all[i - 1]->domain) == 0) continue;  /* each domain once */
    lp_buf_printf(&b, "%s{\"rank\":%zu,", rank ? "," : "", rank + 1);
    lp_buf_append(&b, all[i]->json, all[i]->json_len);
    lp_buf_puts(&b, "}");
    rank++;
  }
  cpu += thread_cpu_s() - t0;
  double usd = cpu * srv->cfg->query.instance_usd_per_hour / 3600.0;
  double per_lead = rank ? usd / (double)rank : 0;
  lp_buf_printf(&b, "],\"cost\":{\"usd_total\":%.10f,\"usd_per_lead\":%.10f,\"llm_calls\":0,\"cpu_seconds\":%.6f}",
                usd, per_lead, cpu);
  if (q->plan.req.explain) {
    lp_buf_puts(&b, ",\"icp\":");
    lp_icp_to_json(srv->icp, q->plan.icp, &b);
  }
  lp_buf_puts(&b, "}");
  for (size_t i = 0; i < rank; i++) lp_histogram_observe(srv->m_lead_cost, per_lead);
  double took = (double)(lp_mono_ns() - lp_http_req_start_ns(q->req)) / 1e6;
  char tbuf[16];
  int tl = snprintf(tbuf, sizeof(tbuf), "%.3f", took);
  if (b.data != NULL && tl > 0 && tl <= 10) memcpy(b.data + took_at, tbuf, (size_t)tl);  /* padded with spaces */
  lp_free(all);
  size_t len;
  char *body = lp_buf_steal(&b, &len);
  if (body == NULL) lp_http_respond_error(q->req, 503, "overloaded", "out of memory");
  else lp_http_respond_take(q->req, 200, "application/json", body, len);
  query_free(q);
}

static void query_done(lp_msg *m) {
  query_msg *qm = (query_msg *)m;
  query_ctx *q = qm->q;
  lp_free(qm);
  if (--q->outstanding == 0) respond(q);
}

static void make_query_id(char *out, size_t cap) {
  static uint64_t counter;
  uint64_t seed[3] = { (uint64_t)lp_now_ms(), ++counter, (uint64_t)getpid() };
  snprintf(out, cap, "q-%016llx", (unsigned long long)XXH3_64bits(seed, sizeof(seed)));
}

void lp__route_leads(lp_http_req *req, lp_str param, void *ud) {
  (void)param;
  lp_server *srv = ud;
  double t0 = thread_cpu_s();
  if (!srv->ready) {
    lp_http_add_header(req, "Retry-After", "1");
    lp_http_respond_error(req, 503, "not_ready", "%s", srv->not_ready_reason);
    return;
  }
  const char *media = lp_http_req_media_type(req);
  if (media[0] != '\0' && strcmp(media, "application/json") != 0) {
    lp_http_respond_error(req, 415, "unsupported_media_type", "Content-Type %s: POST /v1/leads takes application/json", media);
    return;
  }
  lp_str body = lp_http_req_body(req);
  lp_query_req qr;
  char err[512] = "";
  if (lp_query_req_parse(body.ptr, body.len, srv->cfg->query.default_max_cost_usd, &qr, err, sizeof(err)) != LP_OK) {
    lp_http_respond_error(req, 400, "bad_request", "%s", err);
    return;
  }
  lp_icp *icp = NULL;
  int rc = lp_icp_parse(srv->icp, qr.prompt, qr.prompt_len, &icp);
  query_ctx *q = rc == LP_OK ? lp_calloc(1, sizeof(*q)) : NULL;
  uint32_t nw = lp_workers_count(srv->workers);
  if (q != NULL) {
    q->srv = srv;
    q->results = lp_calloc(nw, sizeof(lp_qresult));
  }
  if (q == NULL || q->results == NULL ||
      lp_qplan_build(&q->plan, &qr, icp, srv->reactor_analyzer, srv->tech, srv->icp, srv->cfg, lp_now_ms()) != LP_OK) {
    if (q != NULL && q->results != NULL) {
      query_free(q);  /* the plan owns the request and the ICP from here */
    } else {
      lp_icp_free(icp);
      lp_query_req_free(&qr);
      if (q) lp_free(q);
    }
    lp_http_respond_error(req, 503, "overloaded", "out of memory");
    return;
  }
  q->req = req;
  make_query_id(q->query_id, sizeof(q->query_id));
  q->outstanding = 1;
  for (uint32_t w = 0; w < nw; w++) {
    query_msg *qm = lp_malloc(sizeof(*qm));
    if (qm == NULL) {
      q->results[w].failed = 1;
      continue;
    }
    *qm = (query_msg){ { query_run, query_done, 0, NULL }, q };
    q->outstanding++;
    lp_workers_send(srv->workers, w, &qm->msg);
  }
  q->reactor_cpu_s = thread_cpu_s() - t0;
  if (--q->outstanding == 0) respond(q);
}
