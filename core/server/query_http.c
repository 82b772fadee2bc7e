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
 * at query.instance_usd_per_hour, plus paid calls.
 *
 * Re-rank (stage ABI 1.2): after the merge, when a loaded stage has on_rerank, the answer is offered to it
 * with what max_cost_usd leaves after the CPU cost; the stage may decline (nothing spent), or answer later
 * with new scores (the answer is re-sorted by score, then domain) or an error (the model's order stands).
 * What it paid is in cost.usd_total and cost.llm_calls; leadpoet_llm_hit_rate is the share of queries that
 * made a paid call.
 *
 * Reputation: before the scatter, a due reputation snapshot is published (it reaches each worker ahead of
 * the query in the same ring); after the merge, the answer (each lead's domain and the miners of the
 * evidence it showed) goes into the reputation stage's answer ring, for outcomes that name its query_id.
 */
#define _GNU_SOURCE  /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "archive/archive.h"
#include "base/log.h"
#include "query/exec.h"
#include "query/plan.h"
#include "server/answers.h"
#include "server/credit.h"
#include "server/server_int.h"
#include "stage/registry.h"
#include "stages/reputation/reputation.h"

typedef struct query_ctx {
  lp_server *srv;
  lp_http_req *req;
  lp_qplan plan;
  uint32_t outstanding;
  double reactor_cpu_s;
  lp_qresult *results;       /* one per worker, written by that worker only */
  char query_id[24];
  /* after the merge: the answer, best first, and what the re-rank did to it */
  const lp_qhit **ranked;
  double *scores;            /* per ranked hit: its score, or the re-rank's */
  size_t n_ranked;
  double cpu_s;              /* every thread's CPU time so far */
  lp_rerank_cand *cands;     /* the re-rank request's candidates, alive until its done() */
  lp_rerank_req rr;
  double paid_usd;
  uint32_t llm_calls;
} query_ctx;

/* Queries answered, and those that made a paid re-rank call: leadpoet_llm_hit_rate. Reactor only. */
static uint64_t g_queries, g_llm_queries;

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
  lp_free(q->ranked);
  lp_free(q->scores);
  lp_free(q->cands);
  for (uint32_t i = 0; i < nw; i++) lp_qresult_free(&q->results[i]);
  lp_free(q->results);
  lp_qplan_free(&q->plan);
  lp_free(q);
}

/* The miners of the evidence a rendered hit shows: every ,"miner":"..." in it (exec.c writes the key
 * only in evidence objects, and inside a JSON string a quote is always escaped, so the pattern cannot
 * come from a snippet's text). Miner names need no escaping ([A-Za-z0-9._-]). */
static void record_hit(lp_answer_builder *ab, const lp_qhit *h) {
  static const char key[] = ",\"miner\":\"";
  lp__answer_lead(ab, h->domain, strlen(h->domain));
  const char *p = h->json, *end = h->json + h->json_len;
  while ((p = memmem(p, (size_t)(end - p), key, sizeof(key) - 1)) != NULL) {
    p += sizeof(key) - 1;
    const char *q = memchr(p, '"', (size_t)(end - p));
    if (q == NULL) break;
    lp__answer_miner(ab, p, (size_t)(q - p));
    p = q;
  }
}

static void record_answer(query_ctx *q, const lp_qhit *const *ranked, size_t n) {
  lp_rep *rep = lp_rep_active();
  if (rep == NULL) return;
  lp_answer_builder ab;
  lp__answer_builder_init(&ab);
  for (size_t i = 0; i < n; i++) record_hit(&ab, ranked[i]);
  int rc = lp__answers_put(lp_rep_answers(rep), q->query_id, strlen(q->query_id), &ab);
  if (rc != LP_OK) lp_log_warn("answer not remembered for outcome credit", "query_id=%s err=%s", q->query_id, lp_strerror(rc));
  lp__answer_builder_free(&ab);
}

/* The member "score" of a rendered hit: the first ,"score": in it (domain and name come before it, and
 * inside a JSON string a quote is escaped, so the pattern is the key). NULL if absent. */
static const char *score_member(const lp_qhit *h, size_t *num_len) {
  static const char key[] = ",\"score\":";
  const char *p = memmem(h->json, h->json_len, key, sizeof(key) - 1);
  if (p == NULL) return NULL;
  const char *v = p + sizeof(key) - 1, *end = h->json + h->json_len, *e = v;
  while (e < end && *e != ',' && *e != '}') e++;
  *num_len = (size_t)(e - p);
  return p;
}

/* A hit with its score as given (the re-rank's, when it changed it). */
static void append_hit(lp_buf *b, const lp_qhit *h, double score) {
  size_t len = 0;
  const char *at = score != h->score ? score_member(h, &len) : NULL;
  if (at == NULL) {
    lp_buf_append(b, h->json, h->json_len);
    return;
  }
  lp_buf_append(b, h->json, (size_t)(at - h->json));
  lp_buf_printf(b, ",\"score\":%.6f", score);
  lp_buf_append(b, at + len, h->json_len - (size_t)(at - h->json) - len);
}

static void render(query_ctx *q) {
  double t0 = thread_cpu_s();
  lp_server *srv = q->srv;
  size_t rank = q->n_ranked;
  lp_buf b = LP_BUF_INIT;
  lp_buf_printf(&b, "{\"query_id\":\"%s\",\"took_ms\":", q->query_id);
  size_t took_at = b.len;  /* filled in last */
  lp_buf_puts(&b, "          ,\"model\":\"v0\",\"leads\":[");
  for (size_t i = 0; i < rank; i++) {
    lp_buf_printf(&b, "%s{\"rank\":%zu,", i ? "," : "", i + 1);
    append_hit(&b, q->ranked[i], q->scores[i]);
    lp_buf_puts(&b, "}");
  }
  record_answer(q, q->ranked, rank);
  double cpu = q->cpu_s + thread_cpu_s() - t0;
  double usd = cpu * srv->cfg->query.instance_usd_per_hour / 3600.0 + q->paid_usd;
  double per_lead = rank ? usd / (double)rank : 0;
  lp_archive_answer(lp_archive_active(), q->query_id, &q->plan, q->ranked, q->scores, rank, "v0", "", usd);
  lp_buf_printf(&b, "],\"cost\":{\"usd_total\":%.10f,\"usd_per_lead\":%.10f,\"llm_calls\":%u,\"cpu_seconds\":%.6f}",
                usd, per_lead, (unsigned)q->llm_calls, cpu);
  if (q->plan.req.explain) {
    lp_buf_puts(&b, ",\"icp\":");
    lp_icp_to_json(srv->icp, q->plan.icp, &b);
  }
  lp_buf_puts(&b, "}");
  for (size_t i = 0; i < rank; i++) lp_histogram_observe(srv->m_lead_cost, per_lead);
  g_queries++;
  g_llm_queries += q->llm_calls > 0;
  lp_gauge_set(srv->m_llm_hit_rate, (double)g_llm_queries / (double)g_queries);
  double took = (double)(lp_mono_ns() - lp_http_req_start_ns(q->req)) / 1e6;
  char tbuf[16];
  int tl = snprintf(tbuf, sizeof(tbuf), "%.3f", took);
  if (b.data != NULL && tl > 0 && tl <= 10) memcpy(b.data + took_at, tbuf, (size_t)tl);  /* padded with spaces */
  size_t len;
  char *body = lp_buf_steal(&b, &len);
  if (body == NULL) lp_http_respond_error(q->req, 503, "overloaded", "out of memory");
  else lp_http_respond_take(q->req, 200, "application/json", body, len);
  query_free(q);
}

/* Sorts ranked[] with scores[] by score descending, then domain (the contract's order). */
static void resort(query_ctx *q) {
  for (size_t i = 1; i < q->n_ranked; i++) {  /* insertion sort: k is small and mostly in order */
    const lp_qhit *h = q->ranked[i];
    double s = q->scores[i];
    size_t j = i;
    while (j > 0 && (q->scores[j - 1] < s || (q->scores[j - 1] == s && strcmp(q->ranked[j - 1]->domain, h->domain) > 0))) {
      q->ranked[j] = q->ranked[j - 1];
      q->scores[j] = q->scores[j - 1];
      j--;
    }
    q->ranked[j] = h;
    q->scores[j] = s;
  }
}

/* The stage's answer: new scores re-sort the answer; an error leaves the model's order. Then render. */
static void rerank_done(void *ud, const lp_rerank_result *res) {
  query_ctx *q = ud;
  double t0 = thread_cpu_s();
  if (res != NULL) {
    q->paid_usd = res->cost_usd > 0 ? res->cost_usd : 0;
    q->llm_calls = res->calls;
    if (res->status == LP_OK && res->scores != NULL && res->n_scores <= q->n_ranked) {
      for (uint32_t i = 0; i < res->n_scores; i++)
        if (res->scores[i] == res->scores[i]) q->scores[i] = res->scores[i];  /* NaN: keep the model's */
      resort(q);
    } else if (res->status != LP_OK) {
      lp_log_debug("re-rank failed, the model's order stands", "query_id=%s err=\"%s\"", q->query_id,
                   res->error != NULL ? res->error : lp_strerror(res->status));
    }
  }
  q->cpu_s += thread_cpu_s() - t0;
  render(q);
}

/* Offers the answer to a re-rank stage. Returns 1 when it took it (rerank_done renders later). */
static int try_rerank(query_ctx *q) {
  lp_server *srv = q->srv;
  if (q->n_ranked == 0 || !lp_stages_can_rerank(srv->stages)) return 0;
  q->cands = lp_malloc(q->n_ranked * sizeof(lp_rerank_cand));
  if (q->cands == NULL) return 0;
  for (size_t i = 0; i < q->n_ranked; i++) {
    const lp_qhit *h = q->ranked[i];
    q->cands[i] = (lp_rerank_cand){ { h->domain, strlen(h->domain) }, h->score, { h->json, h->json_len } };
  }
  double spent = q->cpu_s * srv->cfg->query.instance_usd_per_hour / 3600.0;
  q->rr = (lp_rerank_req){ { q->query_id, strlen(q->query_id) }, { q->plan.req.prompt, q->plan.req.prompt_len },
                           q->cands, (uint32_t)q->n_ranked, q->plan.req.k,
                           q->plan.req.max_cost_usd > spent ? q->plan.req.max_cost_usd - spent : 0,
                           lp_now_ms(), &srv->loop };
  return lp_stages_rerank(srv->stages, &q->rr, rerank_done, q) == LP_OK;
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
  q->ranked = failed ? NULL : lp_malloc((total ? total : 1) * sizeof(lp_qhit *));
  q->scores = failed ? NULL : lp_malloc((total ? total : 1) * sizeof(double));
  if (q->ranked == NULL || q->scores == NULL) {
    lp_http_add_header(q->req, "Retry-After", "1");
    lp_http_respond_error(q->req, 503, "overloaded", "out of memory while answering the query");
    query_free(q);
    return;
  }
  const lp_qhit **all = q->ranked;
  size_t n = 0;
  for (uint32_t i = 0; i < nw; i++)
    for (size_t j = 0; j < q->results[i].n; j++) all[n++] = &q->results[i].hits[j];
  if (n > 1) qsort(all, n, sizeof(all[0]), cmp_hit);
  size_t rank = 0;
  for (size_t i = 0; i < n && rank < q->plan.req.k; i++) {
    if (i > 0 && strcmp(all[i]->domain, all[i - 1]->domain) == 0) continue;  /* each domain once */
    q->scores[rank] = all[i]->score;
    all[rank++] = all[i];  /* all[0..rank) becomes the answer */
  }
  q->n_ranked = rank;
  q->cpu_s = cpu + thread_cpu_s() - t0;
  if (!try_rerank(q)) render(q);
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
  lp__credit_publish_due(srv);
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
