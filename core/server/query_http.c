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
 * Enrichment (enrich.c): after the merge and before the re-rank, the leads of the answer that show a null
 * name, industry, employees or country go to the enricher with what max_cost_usd leaves; it answers from
 * its cache at once or after at most enrich.wait, and the hits it found get the vendor's values. Its
 * charge is in cost.usd_total and cost.enrich_usd, its vendor calls in cost.enrich_calls.
 *
 * Admission (before any work): with API keys on, a query whose max_cost_usd is more than its key has left of
 * its daily budget answers 429 cost_limit_exceeded (auth.c); then load shedding answers 503 overloaded with
 * Retry-After when too many queries are in flight or their wait in the worker rings stands above its target
 * (shed.c). An admitted query holds its place and its reservation until query_free, where the answer's cost
 * is added to the key's day.
 *
 * Reputation: before the scatter, a due reputation snapshot is published (it reaches each worker ahead of
 * the query in the same ring); after the merge, the answer (each lead's domain and the miners of the
 * evidence it showed) goes into the reputation stage's answer ring, for outcomes that name its query_id.
 *
 * A/B tests (model.c, scoring.variants): the query's variant is forced by X-Leadpoet-Variant (checked before
 * any work: 400 when unknown) or assigned by the hash of its query_id; that variant's model scores it, the
 * answer names it ("variant"), is archived with it and remembered with it for outcome credit (a peer's
 * request is counted by the instance that asked). The peers are asked with the same variant.
 */
#define _GNU_SOURCE  /* memmem */
#include <jansson.h>
#include <math.h>
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
#include "server/auth.h"
#include "server/credit.h"
#include "server/enrich.h"
#include "server/model.h"
#include "server/peers.h"
#include "server/server_int.h"
#include "server/shed.h"
#include "stage/registry.h"
#include "stages/reputation/reputation.h"

typedef struct query_ctx {
  lp_server *srv;
  lp_http_req *req;
  lp_qplan plan;
  lp_model_ref *model;       /* held from the scatter to the free (model.c); NULL = v0 */
  uint32_t variant;          /* the A/B variant answering (model.c), 0 without a test */
  int peer_req;              /* asked by a peer: the asking instance counts it in its A/B test */
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
  /* enrichment (enrich.c): one item per ranked hit while it runs; what it charged */
  lp_enrich_query eq;
  lp_enrich_item *eitems;
  double enrich_usd;
  uint32_t enrich_calls;
  /* admission (shed.c) and the API key's daily budget (auth.c) */
  int admitted;              /* counted in flight: released by query_free */
  lp_auth_key *key;          /* the caller's key, NULL when keys are off */
  double granted_usd;        /* what paid stages may spend: max_cost_usd, reserved from the key's day */
  double usd_total;          /* the answer's cost, settled against the key by query_free */
  lp_qresult peer_res;       /* the peers' hits (peers.c; docs/adr/0015-scale-out.md) */
  int partial;               /* a peer was down, late, or could not be asked */
} query_ctx;

/* Queries answered, and those that made a paid re-rank call: leadpoet_llm_hit_rate. Reactor only. */
static uint64_t g_queries, g_llm_queries;

typedef struct query_msg {
  lp_msg msg;
  query_ctx *q;
  uint64_t sent_ns;          /* the reactor sent it (monotonic) */
  uint64_t picked_ns;        /* the worker picked it up: the difference is its wait in the ring (shed.c) */
} query_msg;

static double thread_cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void query_run(lp_worker *w, lp_msg *m) {
  query_msg *qm = (query_msg *)m;
  qm->picked_ns = lp_mono_ns();
  lp_worker_state *st = lp_worker_data(w);
  lp_shard *stack[256];
  lp_shard **shards = st->n <= 256 ? stack : lp_malloc(st->n * sizeof(lp_shard *));
  lp_qresult *out = &qm->q->results[lp_worker_index(w)];
  if (shards == NULL) {
    out->failed = 1;
    return;
  }
  for (uint32_t i = 0; i < st->n; i++) shards[i] = &st->shards[i];
  lp_query_run_model(&qm->q->plan, lp__model_gbdt(qm->q->model), shards, st->n, out);
  if (shards != stack) lp_free(shards);
}

static int cmp_hit(const void *a, const void *b) {
  const lp_qhit *x = *(const lp_qhit *const *)a, *y = *(const lp_qhit *const *)b;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  return strcmp(x->domain, y->domain);
}

/* With peers' hits, scores compare as rendered (6 decimals, what a peer sends), so that a lead ties the
 * same way whichever instance holds it; ties by domain. */
static int cmp_hit_rendered(const void *a, const void *b) {
  const lp_qhit *x = *(const lp_qhit *const *)a, *y = *(const lp_qhit *const *)b;
  long long sx = llround(x->score * 1e6), sy = llround(y->score * 1e6);
  if (sx != sy) return sx > sy ? -1 : 1;
  return strcmp(x->domain, y->domain);
}

/* Whether domain is among the first n hits of the answer (n <= k: a linear look is enough). */
static int seen_before(const lp_qhit **ans, size_t n, const char *domain) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(ans[i]->domain, domain) == 0) return 1;
  return 0;
}

static void query_free(query_ctx *q) {
  if (q->admitted) {
    lp__shed_done(&q->srv->shed);
    lp__auth_budget_settle(q->key, q->granted_usd, q->usd_total, lp_now_ms());
  }
  uint32_t nw = lp_workers_count(q->srv->workers);
  lp_free(q->ranked);
  lp_free(q->scores);
  lp_free(q->cands);
  if (q->eitems != NULL) {
    lp_enrich_query_fini(&q->eq);
    lp_free(q->eitems);
  }
  for (uint32_t i = 0; i < nw; i++) lp_qresult_free(&q->results[i]);
  lp_qresult_free(&q->peer_res);
  lp_free(q->results);
  lp_qplan_free(&q->plan);
  lp__model_release(q->model);
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
  const char *model = lp__model_name(q->model);
  lp_buf_puts(&b, "          ,\"model\":");
  lp_buf_json_str(&b, model, strlen(model));
  const char *variant = lp__variant_name(q->variant);
  lp_buf_puts(&b, ",\"variant\":");
  if (variant[0]) lp_buf_json_str(&b, variant, strlen(variant));
  else lp_buf_puts(&b, "null");
  lp_buf_puts(&b, ",\"leads\":[");
  for (size_t i = 0; i < rank; i++) {
    lp_buf_printf(&b, "%s{\"rank\":%zu,", i ? "," : "", i + 1);
    append_hit(&b, q->ranked[i], q->scores[i]);
    lp_buf_puts(&b, "}");
  }
  record_answer(q, q->ranked, rank);
  if (!q->peer_req) lp__experiment_answered(q->variant, q->query_id, q->ranked, rank);
  if (lp__trainlog() != NULL)  /* the rows of the leads shown, for leadpoet train (core/train) */
    lp_trainlog_query(lp__trainlog(), q->query_id, q->plan.now_ms, model, variant, q->plan.req.prompt,
                      q->plan.req.prompt_len, q->ranked, q->scores, rank);
  double cpu = q->cpu_s + thread_cpu_s() - t0;
  double usd = cpu * srv->cfg->query.instance_usd_per_hour / 3600.0 + q->paid_usd + q->enrich_usd;
  double per_lead = rank ? usd / (double)rank : 0;
  q->usd_total = usd;
  lp_archive_answer(lp_archive_active(), q->query_id, &q->plan, q->ranked, q->scores, rank, model, variant, usd);
  lp_buf_printf(&b, "],\"cost\":{\"usd_total\":%.10f,\"usd_per_lead\":%.10f,\"llm_calls\":%u,\"enrich_calls\":%u,"
                "\"enrich_usd\":%.6f,\"cpu_seconds\":%.6f}",
                usd, per_lead, (unsigned)q->llm_calls, (unsigned)q->enrich_calls, q->enrich_usd, cpu);
  lp_buf_printf(&b, ",\"partial\":%s", q->partial ? "true" : "false");
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
        if (res->scores[i] == res->scores[i]) {  /* NaN: keep the model's */
          q->scores[i] = res->scores[i];
          if (lp__trainlog() != NULL)  /* the LLM's verdict, for leadpoet train --labels llm */
            lp_trainlog_judgment(lp__trainlog(), q->query_id, q->plan.now_ms, q->ranked[i]->domain, res->scores[i]);
        }
      resort(q);
    } else if (res->status != LP_OK) {
      lp_log_debug("re-rank failed, the model's order stands", "query_id=%s err=\"%s\"", q->query_id,
                   res->error != NULL ? res->error : lp_strerror(res->status));
    }
  }
  q->cpu_s += thread_cpu_s() - t0;
  render(q);
}

/* The re-rank stage said the answer needs a paid call the query's budget cannot pay for: the query answers
 * cost_limit_exceeded instead of an answer the caller did not pay to have checked (contract section 3:
 * max_cost_usd 0 asks for the answer without paid stages). */
static void refuse_over_budget(query_ctx *q) {
  lp_http_respond_error(q->req, 429, "cost_limit_exceeded",
                        "this answer needs a paid re-rank that costs more than the $%.6f left of max_cost_usd $%.6f: "
                        "raise max_cost_usd, or send max_cost_usd 0 for the answer without paid stages",
                        q->rr.budget_usd, q->plan.req.max_cost_usd);
  query_free(q);
}

/* Offers the answer to a re-rank stage. Returns 1 when it took it (rerank_done renders later), 2 when the
 * query was answered cost_limit_exceeded (and freed), 0 when the caller renders now. A query whose
 * max_cost_usd is 0 asked for no paid stage and is not offered. */
static int try_rerank(query_ctx *q) {
  lp_server *srv = q->srv;
  if (q->n_ranked == 0 || !(q->plan.req.max_cost_usd > 0) || !lp_stages_can_rerank(srv->stages)) return 0;
  q->cands = lp_malloc(q->n_ranked * sizeof(lp_rerank_cand));
  if (q->cands == NULL) return 0;
  for (size_t i = 0; i < q->n_ranked; i++) {
    const lp_qhit *h = q->ranked[i];
    q->cands[i] = (lp_rerank_cand){ { h->domain, strlen(h->domain) }, h->score, { h->json, h->json_len } };
  }
  double spent = q->cpu_s * srv->cfg->query.instance_usd_per_hour / 3600.0 + q->enrich_usd;
  q->rr = (lp_rerank_req){ { q->query_id, strlen(q->query_id) }, { q->plan.req.prompt, q->plan.req.prompt_len },
                           q->cands, (uint32_t)q->n_ranked, q->plan.req.k,
                           q->granted_usd > spent ? q->granted_usd - spent : 0,
                           lp_now_ms(), &srv->loop };
  int rc = lp_stages_rerank(srv->stages, &q->rr, rerank_done, q);
  if (rc == LP_RERANK_OVER_BUDGET) {
    refuse_over_budget(q);
    return 2;
  }
  return rc == LP_OK;
}

/* After enrichment: the re-rank stage, then the answer. */
static void after_enrich(query_ctx *q) {
  if (try_rerank(q) == 0) render(q);
}

/* Takes what enrichment brought: its cost, and the vendor's values in place of the nulls of each hit it
 * found (the hit's JSON is replaced, so the re-rank, the archive and the answer all see them). A hit
 * whose rewrite finds no memory keeps its nulls. */
static void take_enrichment(query_ctx *q) {
  q->enrich_usd = (double)q->eq.cost_micro / 1e6;
  q->enrich_calls = q->eq.calls;
  for (size_t i = 0; i < q->n_ranked; i++) {
    const lp_enrich_item *it = &q->eitems[i];
    if (it->state != LP_ENRICH_FOUND) continue;
    lp_qhit *h = (lp_qhit *)q->ranked[i];  /* the query owns its results once every worker answered */
    lp_buf b = LP_BUF_INIT;
    if (lp_enrich_patch(h->json, h->json_len, it->missing, &it->firmo, &b) != LP_OK) {
      lp_buf_free(&b);
      continue;
    }
    lp_free(h->json);
    h->json = lp_buf_steal(&b, &h->json_len);
  }
}

static void enrich_done(lp_enrich_query *eq) {
  query_ctx *q = eq->ud;
  double t0 = thread_cpu_s();
  take_enrichment(q);
  q->cpu_s += thread_cpu_s() - t0;
  after_enrich(q);
}

/* Offers the answer's leads that lack firmographics to enrichment with what the query may still spend.
 * Returns 1 when enrich_done runs later; else what could be had at once (the cache) is already taken. */
static int try_enrich(query_ctx *q) {
  lp_server *srv = q->srv;
  if (srv->enrich == NULL || q->n_ranked == 0) return 0;
  q->eitems = lp_calloc(q->n_ranked, sizeof(lp_enrich_item));
  if (q->eitems == NULL) return 0;
  for (size_t i = 0; i < q->n_ranked; i++) {
    const lp_qhit *h = q->ranked[i];
    q->eitems[i].domain = h->domain;
    q->eitems[i].len = strlen(h->domain);
    q->eitems[i].missing = lp_enrich_missing(h->json, h->json_len);
  }
  double spent = q->cpu_s * srv->cfg->query.instance_usd_per_hour / 3600.0;
  q->eq.items = q->eitems;
  q->eq.n_items = q->n_ranked;
  q->eq.budget_usd = q->granted_usd > spent ? q->granted_usd - spent : 0;
  q->eq.done = enrich_done;
  q->eq.ud = q;
  if (lp_enrich_start(srv->enrich, &q->eq)) return 1;
  take_enrichment(q);
  return 0;
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
  total += q->peer_res.n;
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
  for (size_t j = 0; j < q->peer_res.n; j++) all[n++] = &q->peer_res.hits[j];
  if (n > 1) qsort(all, n, sizeof(all[0]), q->peer_res.n ? cmp_hit_rendered : cmp_hit);
  size_t rank = 0;
  for (size_t i = 0; i < n && rank < q->plan.req.k; i++) {
    if (i > 0 && strcmp(all[i]->domain, all[i - 1]->domain) == 0) continue;  /* each domain once */
    if (q->peer_res.n && seen_before(all, rank, all[i]->domain)) continue;    /* a peer's copy of a lead */
    q->scores[rank] = all[i]->score;
    all[rank++] = all[i];  /* all[0..rank) becomes the answer */
  }
  q->n_ranked = rank;
  q->cpu_s = cpu + thread_cpu_s() - t0;
  if (!try_enrich(q)) after_enrich(q);
}

static void query_done(lp_msg *m) {
  query_msg *qm = (query_msg *)m;
  query_ctx *q = qm->q;
  if (qm->picked_ns >= qm->sent_ns) lp__shed_sample(&q->srv->shed, qm->picked_ns - qm->sent_ns, lp_mono_ns());
  lp_free(qm);
  if (--q->outstanding == 0) respond(q);
}

static void make_query_id(char *out, size_t cap) {
  static uint64_t counter;
  uint64_t seed[3] = { (uint64_t)lp_now_ms(), ++counter, (uint64_t)getpid() };
  snprintf(out, cap, "q-%016llx", (unsigned long long)XXH3_64bits(seed, sizeof(seed)));
}

/* Admission of a parsed query: the caller's daily budget first (429 cost_limit_exceeded when the query's
 * max_cost_usd is more than the key has left: its paid stages could pass the budget), then load shedding
 * (503 overloaded, shed.c). Returns 1 when admitted: counted in flight and max_cost_usd reserved from the
 * key (*granted), both released by query_free once q->admitted is set, or by release() when no query was
 * built. */
static int admit(lp_server *srv, lp_http_req *req, double max_cost_usd, lp_auth_key **key, double *granted) {
  int64_t wall = lp_now_ms();
  *key = lp__auth_server_key(srv->cfg, req);
  *granted = max_cost_usd;
  if (lp__auth_budget_reserve(*key, max_cost_usd, wall) != LP_OK) {
    lp__auth_budget_reject(*key, max_cost_usd, req, wall);
    return 0;
  }
  lp_shed_verdict v = lp__shed_admit(&srv->shed, lp_mono_ns());
  if (v == LP_SHED_ADMIT) return 1;
  lp__auth_budget_settle(*key, *granted, 0, wall);
  lp__shed_reject(&srv->shed, v, req);
  return 0;
}

static void release(lp_server *srv, lp_auth_key *key, double granted) {
  lp__shed_done(&srv->shed);
  lp__auth_budget_settle(key, granted, 0, lp_now_ms());
}

/* ---- scatter-gather to the peers (peers.c; docs/adr/0015-scale-out.md) ---------------------------- */

/* One lead of a peer's answer as a hit: the object without "rank", rendered as exec.c renders its own
 * (members without the braces). LP_EINVAL for a lead without a domain or a score. */
static int peer_hit(json_t *lead, lp_qhit *h) {
  json_t *d = json_object_get(lead, "domain"), *sc = json_object_get(lead, "score");
  if (!json_is_string(d) || !json_is_number(sc)) return LP_EINVAL;
  json_object_del(lead, "rank");
  char *text = json_dumps(lead, JSON_COMPACT | JSON_PRESERVE_ORDER);
  size_t len = text ? strlen(text) : 0;
  memset(h, 0, sizeof(*h));
  h->domain = lp_strdup(json_string_value(d));
  h->json = len >= 2 ? lp_malloc(len - 1) : NULL;
  if (h->json != NULL) {
    memcpy(h->json, text + 1, len - 2);
    h->json[len - 2] = '\0';
    h->json_len = len - 2;
  }
  free(text);
  if (h->domain == NULL || h->json == NULL) {
    lp_free(h->domain), lp_free(h->json);
    return LP_ENOMEM;
  }
  h->score = h->v0 = json_number_value(sc);
  return LP_OK;
}

/* Adds the leads of one peer's answer to q->peer_res. LP_EINVAL when the answer is not one. */
static int take_peer_answer(query_ctx *q, const char *body, size_t len) {
  json_t *root = json_loadb(body, len, 0, NULL), *leads = json_object_get(root, "leads");
  int rc = json_is_array(leads) ? LP_OK : LP_EINVAL;
  size_t n = rc == LP_OK ? json_array_size(leads) : 0;
  lp_qresult *r = &q->peer_res;
  lp_qhit *hits = n ? lp_realloc(r->hits, (r->n + n) * sizeof(lp_qhit)) : r->hits;
  if (n && hits == NULL) rc = LP_ENOMEM;
  else r->hits = hits;
  for (size_t i = 0; rc == LP_OK && i < n; i++) {
    int hr = peer_hit(json_array_get(leads, i), &r->hits[r->n]);
    if (hr == LP_OK) r->n++;
    else rc = hr;
  }
  json_decref(root);
  return rc;
}

static void peers_done(void *ud, const lp_peer_reply *replies, size_t n, int unknown) {
  query_ctx *q = ud;
  q->partial |= unknown;
  for (size_t i = 0; i < n; i++) {
    const lp_peer_reply *r = &replies[i];
    if (r->err == LP_ENOENT) continue;  /* this instance itself */
    int rc = r->err == LP_OK && r->status == 200 ? take_peer_answer(q, r->body, r->len) : LP_EIO;
    if (rc != LP_OK) {
      q->partial = 1;
      lp_log_debug("peer left out of the answer", "peer=%s err=\"%s\" status=%d", r->addr, r->why, r->status);
    }
  }
  if (--q->outstanding == 0) respond(q);
}

/* Asks the peers (not for a peer's own request: that one is answered from the local shards only). */
static void scatter_to_peers(query_ctx *q, lp_http_req *req, lp_str body) {
  lp_server *srv = q->srv;
  if (srv->peers == NULL || lp_http_req_header(req, LP_PEER_HEADER).len > 0) return;
  char fwd[1024] = "";
  static const char *const pass[] = { "Authorization", "X-API-Key" };  /* the caller's key, as given */
  size_t at = 0;
  if (lp__experiment_on()) {  /* the peers score with the same variant's model */
    int w = snprintf(fwd, sizeof(fwd), "%s: %s\r\n", LP_VARIANT_HEADER, lp__variant_name(q->variant));
    if (w > 0 && (size_t)w < sizeof(fwd)) at = (size_t)w;
  }
  for (size_t i = 0; i < 2; i++) {
    lp_str h = lp_http_req_header(req, pass[i]);
    int w = h.len && h.len < 400 ? snprintf(fwd + at, sizeof(fwd) - at, "%s: %.*s\r\n", pass[i], (int)h.len, h.ptr) : 0;
    if (w > 0 && (size_t)w < sizeof(fwd) - at) at += (size_t)w;
  }
  int rc = lp_peers_ask(srv->peers, "/v1/leads", body.ptr, body.len, fwd, peers_done, q);
  if (rc == LP_OK) q->outstanding++;
  else if (rc != LP_ENOENT) q->partial = 1;
}

void lp__route_leads(lp_http_req *req, lp_str param, void *ud) {
  (void)param;
  lp_server *srv = ud;
  double t0 = thread_cpu_s();
  if (lp_http_req_header(req, LP_PEER_HEADER).len > 0)  /* the asking instance tells itself apart by it */
    lp_http_add_header(req, LP_PEER_INSTANCE_HEADER, srv->instance_id);
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
  lp_str forced = lp_http_req_header(req, LP_VARIANT_HEADER);
  uint32_t variant = 0;
  if (forced.len > 0 && lp__experiment_find(forced, &variant, err, sizeof(err)) != LP_OK) {
    lp_http_respond_error(req, 400, "bad_request", "%s", err);
    return;
  }
  if (lp_query_req_parse(body.ptr, body.len, srv->cfg->query.default_max_cost_usd, &qr, err, sizeof(err)) != LP_OK) {
    lp_http_respond_error(req, 400, "bad_request", "%s", err);
    return;
  }
  lp_auth_key *key = NULL;
  double granted = 0;
  if (!admit(srv, req, qr.max_cost_usd, &key, &granted)) {
    lp_query_req_free(&qr);
    return;
  }
  lp_icp *icp = NULL;
  int rc = lp_icp_parse(srv->icp, qr.prompt, qr.prompt_len, &icp);
  query_ctx *q = rc == LP_OK ? lp_calloc(1, sizeof(*q)) : NULL;
  uint32_t nw = lp_workers_count(srv->workers);
  if (q != NULL) {
    q->srv = srv;
    q->results = lp_calloc(nw, sizeof(lp_qresult));
    q->admitted = 1, q->key = key, q->granted_usd = granted;
  }
  if (q == NULL || q->results == NULL ||
      lp_qplan_build(&q->plan, &qr, icp, srv->reactor_analyzer, srv->tech, srv->icp, srv->cfg, lp_now_ms()) != LP_OK) {
    if (q != NULL && q->results != NULL) {
      query_free(q);  /* the plan owns the request and the ICP from here */
    } else {
      lp_icp_free(icp);
      lp_query_req_free(&qr);
      if (q) lp_free(q);
      release(srv, key, granted);
    }
    lp_http_add_header(req, "Retry-After", "1");
    lp_http_respond_error(req, 503, "overloaded", "out of memory");
    return;
  }
  q->req = req;
  make_query_id(q->query_id, sizeof(q->query_id));
  q->variant = forced.len > 0 ? variant : lp__experiment_assign(q->query_id, strlen(q->query_id));
  q->peer_req = lp_http_req_header(req, LP_PEER_HEADER).len > 0;
  q->model = lp__model_acquire_variant(q->variant);
  lp__credit_publish_due(srv);
  q->outstanding = 1;
  for (uint32_t w = 0; w < nw; w++) {
    query_msg *qm = lp_malloc(sizeof(*qm));
    if (qm == NULL) {
      q->results[w].failed = 1;
      continue;
    }
    *qm = (query_msg){ { query_run, query_done, 0, NULL }, q, lp_mono_ns(), 0 };
    q->outstanding++;
    lp_workers_send(srv->workers, w, &qm->msg);
  }
  scatter_to_peers(q, req, body);
  q->reactor_cpu_s = thread_cpu_s() - t0;
  if (--q->outstanding == 0) respond(q);
}
