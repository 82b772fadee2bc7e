/* Cost of a watch evaluation on one worker: the former way (one worker-local query per watch, lp_query_run)
 * against the incremental one (lp_query_stats + lp_query_score_lead per touched lead). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "icp/icp.h"
#include "query/exec.h"
#include "query/plan.h"
#include "query/request.h"
#include "shard/shard.h"
#include "text/analyzer.h"
#include "text/techtable.h"
#include "worker/worker.h"

static const char *words[] = {"cloud",     "migration",  "kubernetes", "hiring",     "engineers", "payments",
                              "stripe",    "funding",    "series",     "security",   "audit",     "data",
                              "warehouse", "snowflake",  "marketing",  "automation", "sales",     "platform",
                              "heroku",    "postgres",   "redis",      "analytics",  "expansion", "europe",
                              "office",    "compliance", "soc2",       "devops"};
static uint64_t rng = 7;
static uint32_t rnd(uint32_t n) {
  rng = rng * 6364136223846793005ull + 1442695040888963407ull;
  return (uint32_t)(rng >> 33) % n;
}
static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}
static lp_str S(const char *s) {
  return (lp_str){s, strlen(s)};
}

int main(int argc, char **argv) {
  int nleads = argc > 1 ? atoi(argv[1]) : 50000, nsh = 2;
  char err[256] = "";
  lp_techtable *tech;
  lp_analyzer *an;
  lp_analyzer_ctx *actx;
  lp_icp_parser *parser;
  lp_config cfg;
  lp_techtable_builtin(&tech, err, sizeof err);
  lp_analyzer_new(&an, tech, NULL, err, sizeof err);
  lp_analyzer_ctx_new(&actx, an, err, sizeof err);
  lp_icp_parser_new(&parser, tech, err, sizeof err);
  lp_config_load_string(&cfg, "", "bench", err, sizeof err);
  lp_shard_env env;
  memset(&env, 0, sizeof env);
  env.evidence_cap = 8;
  lp_index_params_default(&env.index);
  env.analyzer = actx;
  env.tech = tech;
  env.age_half_life_days = 30;
  env.retention_ms = 365ll * 86400000;
  lp_shard shards[2];
  lp_shard *sh[2];
  for (int i = 0; i < nsh; i++) {
    lp_shard_open(&shards[i], i, &env);
    sh[i] = &shards[i];
  }
  int64_t t0 = 1760000000000ll;
  char domain[32], id[32], text[512];
  for (int n = 0; n < nleads * 3; n++) {
    int lead = n < nleads ? n : (int)rnd(nleads);
    snprintf(domain, sizeof domain, "lead%06d.com", lead);
    size_t off = 0;
    int nw = 4 + (int)rnd(12);
    for (int w = 0; w < nw; w++) {
      if (rnd(3) == 0)
        off += (size_t)snprintf(text + off, sizeof text - off, "%s ", words[rnd(28)]);
      else
        off += (size_t)snprintf(text + off, sizeof text - off, "word%u ", rnd(3000));
    }
    snprintf(id, sizeof id, "s%d", n);
    lp_snippet s;
    memset(&s, 0, sizeof s);
    s.id = S(id);
    s.miner = S("m1");
    s.domain = S(domain);
    s.domain_hash = lp_domain_hash(domain, strlen(domain));
    s.ts_ms = t0 + (int64_t)n * 60000;
    s.text = (lp_str){text, off};
    s.kind = 1;
    lp_shard *to = sh[lead % nsh];
    lp_shard_snippet(to, &s);
    if (n % 64 == 63) {
      lp_shard_flush(to);
      lp_shard_maintain(to, 8, 4096);
    }
  }
  for (int i = 0; i < nsh; i++) {
    lp_shard_flush(sh[i]);
    for (int j = 0; j < 2000; j++) lp_shard_maintain(sh[i], 8, 1 << 16);
  }
  const char *prompts[] = {"kubernetes migration platform", "data warehouse snowflake analytics",
                           "security audit compliance"};
  printf("leads=%d shards on the worker=%d\n", nleads, nsh);
  for (int pi = 0; pi < 3; pi++) {
    char body[256];
    snprintf(body, sizeof body, "{\"prompt\":\"%s\",\"k\":25}", prompts[pi]);
    lp_query_req qr;
    lp_query_req_parse(body, strlen(body), 0.05, &qr, err, sizeof err);
    lp_icp *icp = NULL;
    lp_icp_parse(parser, qr.prompt, qr.prompt_len, &icp);
    lp_qplan p;
    lp_qplan_build(&p, &qr, icp, actx, tech, parser, &cfg, t0 + (int64_t)nleads * 3 * 60000);
    int R = 50;
    size_t cands = 0;
    double a = now_s();
    for (int r = 0; r < R; r++) {
      lp_qresult res;
      lp_query_run(&p, sh, nsh, &res);
      cands = res.candidates;
      lp_qresult_free(&res);
    }
    double full = (now_s() - a) / R;
    double per[3];
    int touched[3] = {1, 10, 100};
    for (int t = 0; t < 3; t++) {
      a = now_s();
      for (int r = 0; r < R; r++) {
        lp_qstats qs;
        lp_query_stats(&p, sh, nsh, &qs);
        for (int j = 0; j < touched[t]; j++) {
          int lead = (int)((unsigned)(j * 7919 + r * 104729) % (unsigned)nleads);
          snprintf(domain, sizeof domain, "lead%06d.com", lead);
          lp_shard *o = sh[lead % nsh];
          lp_lead *l = lp_leads_get(&o->leads, domain, strlen(domain), lp_domain_hash(domain, strlen(domain)));
          lp_qhit h;
          if (l && lp_query_score_lead(&p, NULL, &qs, o, l, -INFINITY, &h) == 1) lp_qhit_free(&h);
        }
      }
      per[t] = (now_s() - a) / R;
    }
    {
      double b0 = now_s();
      lp_qstats qs;
      for (int r = 0; r < 1000; r++) lp_query_stats(&p, sh, nsh, &qs);
      double st = (now_s() - b0) / 1000;
      b0 = now_s();
      double sink = 0;
      int nd = 0;
      lp_index_collstats cs = {qs.n_docs, qs.sum_dl / qs.n_docs, qs.df};
      for (int r = 0; r < 100; r++)
        for (int j = 0; j < 100; j++) {
          int lead = (int)((unsigned)(j * 7919 + r * 104729) % (unsigned)nleads);
          lp_shard *o = sh[lead % nsh];
          snprintf(domain, sizeof domain, "lead%06d.com", lead);
          lp_lead *l = lp_leads_get(&o->leads, domain, strlen(domain), lp_domain_hash(domain, strlen(domain)));
          double x;
          lp_index_doc_score(o->index, l->doc, p.terms, p.n_terms, &cs, &x);
          sink += x;
          nd++;
        }
      double ds = (now_s() - b0) / nd;
      printf("  stats %.2f us, doc_score+lookup %.2f us per lead (%g)\n", st * 1e6, ds * 1e6, sink > 0 ? 1.0 : 0.0);
    }
    double a2 = now_s();
    for (int r = 0; r < R; r++) {
      lp_qstats qs;
      lp_query_stats(&p, sh, nsh, &qs);
      for (int j = 0; j < 100; j++) {
        int lead = (int)((unsigned)(j * 7919 + r * 104729) % (unsigned)nleads);
        snprintf(domain, sizeof domain, "lead%06d.com", lead);
        lp_shard *o = sh[lead % nsh];
        lp_lead *l = lp_leads_get(&o->leads, domain, strlen(domain), lp_domain_hash(domain, strlen(domain)));
        lp_qhit h;
        if (l && lp_query_score_lead(&p, NULL, &qs, o, l, INFINITY, &h) == 1) lp_qhit_free(&h);
      }
    }
    printf("  100 touched, none rendered (under the bar): %.1f us\n", (now_s() - a2) / R * 1e6);
    printf(
        "\"%s\": full worker query %.1f us (%zu candidates scored); incremental: 1 touched %.1f us (x%.0f less), "
        "10 touched %.1f us (x%.0f), 100 touched %.1f us (x%.1f)\n",
        prompts[pi], full * 1e6, cands, per[0] * 1e6, full / per[0], per[1] * 1e6, full / per[1], per[2] * 1e6,
        full / per[2]);
    lp_qplan_free(&p);
  }
  return 0;
}
