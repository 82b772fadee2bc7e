/*
 * quality.c: ranking quality on a simulated market (issue 5 point 5, issue 6 point 7; perf/quality/README.md).
 *
 * For each spam share asked: generates a perf/world market (`--now now`, since the server scores at its wall
 * clock), starts `leadpoet serve` (Kafka off, free port, fresh state dir), loads the snippets, then lets
 * reputation learn as a seller would teach it: the first part of the world's own outcomes in event-time
 * order, then rounds of answers with feedback (every prompt asked, each delivered lead's outcome posted with
 * the answer's query_id: a buyer -> meeting, a fabricated company -> bounced, another lead -> spam for a
 * share of them, else delivered). Then every prompt is asked for all its candidates with explain, and
 * P@k / NDCG@k are measured for random (expected), BM25 only (the candidates by text_match), v0 (the
 * server's order), v0 with other weights (--weights, re-scored here from the signals' features) and the
 * ceiling. Prints a table, or JSON with --json.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lt.h"
#include "qb_proc.h"
#include "qeval.h"
#include "query/features.h"
#include "trained.h"

#define MAX_RUNS 4

typedef struct opts {
  const char *leadpoet, *world_bin, *json_out, *dump;
  const char *model_out;  /* where each market's trained model is copied (with its sidecar; the last stays), or NULL */
  unsigned long long leads, snippets, outcomes, seed;
  double spam[MAX_RUNS];
  int n_spam;
  double history;        /* share of the world's outcomes loaded (oldest first) */
  int rounds;            /* feedback rounds over all prompts */
  double spam_share;     /* share of non-buyers a seller marks spam */
  unsigned k;
  int have_w;
  double w[6];           /* text, recency, fit, churn, agreement, reputation */
  double train_share;    /* share of prompts whose answers train the model (0 = no trained ranking) */
  unsigned train_k;      /* leads asked per training prompt in the training round */
} opts;

static void usage(FILE *f) {
  fprintf(f,
          "usage: quality [--leads N] [--snippets N] [--outcomes N] [--seed N] [--spam F[,F...]]\n"
          "               [--history F] [--rounds N] [--seller-spam F] [--k N] [--weights a,b,c,d,e,f]\n"
          "               [--leadpoet BIN] [--world BIN] [--json PATH|-] [--dump PATH]\n"
          "  --leads N        companies of the generated market (default 5000)\n"
          "  --snippets N     snippet lines (default 10 x leads)\n"
          "  --outcomes N     the world's outcome lines (default 2 x leads)\n"
          "  --seed N         world seed (default 1)\n"
          "  --spam F,...     shares of spamming miners, one market each (default 0.1,0.3)\n"
          "  --history F      share of the world's outcomes loaded, oldest first (default 0.5)\n"
          "  --rounds N       answer-feedback rounds before measuring (default 2; 0 = none)\n"
          "  --seller-spam F  share of delivered non-buyers the seller marks spam (default 0.3)\n"
          "  --k N            cut-off of P@k and NDCG@k (default 25)\n"
          "  --weights ...    also rank by v0 with these weights (text,recency,fit,churn,agreement,reputation)\n"
          "  --train-share F  share of prompts whose answers and outcomes train a model (default 0.5; 0 = no\n"
          "                   trained ranking); the others are held out and ranked by it (README.md)\n"
          "  --train-k N      leads asked per training prompt in the logged training round (default 100)\n"
          "  --model-out PATH copy each market's trained model there (and PATH.features; the last stays)\n"
          "  --json PATH|-    write the figures as JSON (- = stdout, the table then goes to stderr)\n"
          "  --dump PATH      write every (prompt, candidate) as a TSV row: spam share, prompt, domain, buyer,\n"
          "                   fabricated, bm25, the six features, miners, recency days (for tuning)\n");
}

static int parse_list(const char *v, double *out, int max, int *n) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", v);
  *n = 0;
  for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    if (*n >= max || lt_num(t, 0, 1000, &out[*n]) != 0) return -1;
    (*n)++;
  }
  return *n > 0 ? 0 : -1;
}

static int parse_opts(int argc, char **argv, opts *o) {
  memset(o, 0, sizeof(*o));
  o->leadpoet = LP_LT_LEADPOET;
  o->world_bin = LP_LT_WORLD;
  o->leads = 5000;
  o->seed = 1;
  o->spam[0] = 0.1;
  o->spam[1] = 0.3;
  o->n_spam = 2;
  o->history = 0.5;
  o->rounds = 2;
  o->spam_share = 0.3;
  o->k = 25;
  o->train_share = 0.5;
  o->train_k = 100;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    double d;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      exit(0);
    }
    if (v == NULL) return -1;
    i++;
    if (strcmp(a, "--leads") == 0 && lt_num(v, 100, 1e7, &d) == 0) o->leads = (unsigned long long)d;
    else if (strcmp(a, "--snippets") == 0 && lt_num(v, 1, 1e8, &d) == 0) o->snippets = (unsigned long long)d;
    else if (strcmp(a, "--outcomes") == 0 && lt_num(v, 0, 1e8, &d) == 0) o->outcomes = (unsigned long long)d;
    else if (strcmp(a, "--seed") == 0 && lt_num(v, 0, 1e18, &d) == 0) o->seed = (unsigned long long)d;
    else if (strcmp(a, "--spam") == 0 && parse_list(v, o->spam, MAX_RUNS, &o->n_spam) == 0) {
      for (int s = 0; s < o->n_spam; s++)
        if (o->spam[s] > 1) return -1;
    } else if (strcmp(a, "--history") == 0 && lt_num(v, 0, 1, &o->history) == 0) {
    } else if (strcmp(a, "--rounds") == 0 && lt_num(v, 0, 100, &d) == 0) o->rounds = (int)d;
    else if (strcmp(a, "--seller-spam") == 0 && lt_num(v, 0, 1, &o->spam_share) == 0) {
    } else if (strcmp(a, "--k") == 0 && lt_num(v, 1, 1000, &d) == 0) o->k = (unsigned)d;
    else if (strcmp(a, "--train-share") == 0 && lt_num(v, 0, 0.95, &o->train_share) == 0) {
    } else if (strcmp(a, "--train-k") == 0 && lt_num(v, 1, 1000, &d) == 0) o->train_k = (unsigned)d;
    else if (strcmp(a, "--weights") == 0) {
      int n = 0;
      if (parse_list(v, o->w, 6, &n) != 0 || n != 6) return -1;
      o->have_w = 1;
    } else if (strcmp(a, "--leadpoet") == 0) o->leadpoet = v;
    else if (strcmp(a, "--world") == 0) o->world_bin = v;
    else if (strcmp(a, "--json") == 0) o->json_out = v;
    else if (strcmp(a, "--dump") == 0) o->dump = v;
    else if (strcmp(a, "--model-out") == 0) o->model_out = v;
    else return -1;
  }
  if (o->snippets == 0) o->snippets = 10 * o->leads;
  if (o->outcomes == 0) o->outcomes = 2 * o->leads;
  return 0;
}

/* Runs argv to its end. 0 when it exited 0. */
static int run_wait(char *const argv[], const char *err_path, char *err, size_t errlen) {
  pid_t pid = lt_spawn_fds(argv, -1, -1, err_path, err, errlen);
  if (pid < 0) return -1;
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    snprintf(err, errlen, "%s exited with status %d", argv[0], WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return -1;
  }
  return 0;
}

static int make_world(const opts *o, double spam, const char *dir, char *err, size_t errlen) {
  char leads[32], snippets[32], outcomes[32], seed[32], sp[32];
  snprintf(leads, sizeof leads, "%llu", o->leads);
  snprintf(snippets, sizeof snippets, "%llu", o->snippets);
  snprintf(outcomes, sizeof outcomes, "%llu", o->outcomes);
  snprintf(seed, sizeof seed, "%llu", o->seed);
  snprintf(sp, sizeof sp, "%g", spam);
  char *argv[] = { (char *)o->world_bin, "--out", (char *)dir, "--leads", leads, "--snippets", snippets,
                   "--outcomes", outcomes, "--seed", seed, "--spam-frac", sp, "--now", "now", "--quiet", NULL };
  return run_wait(argv, NULL, err, errlen);
}

typedef struct line_ts {
  long long ts;
  char *line;
} line_ts;

static int cmp_ts(const void *a, const void *b) {
  const line_ts *x = a, *y = b;
  return x->ts < y->ts ? -1 : x->ts > y->ts;
}

/* Writes the oldest share of DIR/outcomes.jsonl to DIR/history.jsonl and posts it with `leadpoet ingest`. */
static int load_history(const opts *o, const lt_server *s, char *err, size_t errlen) {
  char in[600], out[600], url[64];
  snprintf(in, sizeof in, "%s/outcomes.jsonl", s->world);
  snprintf(out, sizeof out, "%s/history.jsonl", s->world);
  FILE *f = fopen(in, "r");
  if (f == NULL) {
    snprintf(err, errlen, "cannot read %.400s", in);
    return -1;
  }
  line_ts *v = NULL;
  size_t n = 0, cap_v = 0, cap = 0;
  char *line = NULL;
  ssize_t len;
  while ((len = getline(&line, &cap, f)) > 0) {
    const char *t = strstr(line, "\"ts\":");
    if (n == cap_v) {
      cap_v = cap_v ? 2 * cap_v : 1024;
      line_ts *nv = realloc(v, cap_v * sizeof(*v));
      if (nv == NULL) break;
      v = nv;
    }
    v[n].ts = t ? atoll(t + 5) : 0;
    v[n].line = strdup(line);
    if (v[n].line) n++;
  }
  free(line);
  fclose(f);
  qsort(v, n, sizeof(*v), cmp_ts);
  size_t take = (size_t)((double)n * o->history);
  FILE *w = fopen(out, "w");
  for (size_t i = 0; w && i < take; i++) fputs(v[i].line, w);
  for (size_t i = 0; i < n; i++) free(v[i].line);
  free(v);
  if (w == NULL || fclose(w) != 0) {
    snprintf(err, errlen, "cannot write %.400s", out);
    return -1;
  }
  if (take == 0) return 0;
  snprintf(url, sizeof url, "http://127.0.0.1:%d", s->port);
  char *argv[] = { (char *)o->leadpoet, "ingest", out, "--outcomes", "--url", url, "--quiet", NULL };
  if (run_wait(argv, NULL, err, errlen) != 0) return -1;
  lt_wait_applied(s->port, 600);
  return 0;
}

static json_t *ask(lt_conn *c, const char *prompt, unsigned k, int explain) {
  json_t *req = json_pack("{s:s, s:I, s:b}", "prompt", prompt, "k", (json_int_t)k, "explain", explain);
  char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
  json_decref(req);
  if (body == NULL) return NULL;
  int status = 0;
  const char *resp = NULL;
  int rc = lt_conn_request(c, "POST", "/v1/leads", NULL, body, strlen(body), &status, &resp, 60);
  free(body);
  if (rc != 0 || status != 200) {
    fprintf(stderr, "quality: a query for k %u failed: %s %d %.200s\n", k, rc ? "transport" : "status", status,
            rc == 0 && resp ? resp : "");
    return NULL;
  }
  return json_loads(resp, 0, NULL);
}

/* A deterministic coin per (prompt, domain, round): the seller's spam button. */
static double coin(const char *a, const char *b, int round) {
  unsigned long long h = 1469598103934665603ULL ^ (unsigned long long)round;
  for (const char *s = a; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  for (const char *s = b; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return (double)(h >> 11) / 9007199254740992.0;
}

/* Whether prompt p trains the model (a fixed hash of its id) rather than being held out. */
static int is_train(const opts *o, const q_prompt *p) { return coin(p->id, "train", 7) < o->train_share; }

/* One feedback round: every prompt (only the training ones when only_train) asked for k leads; each
 * lead's outcome posted with the query_id. The query ids of training prompts go to ids (when not NULL). */
static int feedback_round(const opts *o, const q_market *m, lt_conn *c, int round, size_t *posted, unsigned k,
                          int only_train, qt_ids *ids) {
  for (size_t i = 0; i < m->n_prompts; i++) {
    const q_prompt *p = &m->prompts[i];
    if (only_train && !is_train(o, p)) continue;
    json_t *r = ask(c, p->text, k, 0);
    const char *qid = json_string_value(json_object_get(r, "query_id"));
    if (qid != NULL && ids != NULL && is_train(o, p)) qt_ids_add(ids, qid, i);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);  /* the outcomes follow the answer in event time (training labels) */
    long long now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 1;
    json_t *leads = json_object_get(r, "leads"), *l;
    size_t j;
    json_t *batch = json_array();
    json_array_foreach(leads, j, l) {
      const char *d = json_string_value(json_object_get(l, "domain"));
      if (d == NULL || qid == NULL) continue;
      const char *ev = json_object_get(m->fabricated, d) ? "bounced"
                       : q_is_buyer(p, d)                ? "meeting"
                       : coin(p->id, d, round) < o->spam_share ? "spam"
                                                               : "delivered";
      char id[96];
      snprintf(id, sizeof id, "qf-%d-%zu-%zu", round, i, j);
      json_array_append_new(batch, json_pack("{s:s, s:I, s:s, s:s, s:s}", "id", id, "ts", (json_int_t)now, "domain",
                                             d, "event", ev, "query_id", qid));
    }
    json_decref(r);
    if (json_array_size(batch) > 0) {
      char *body = json_dumps(batch, JSON_COMPACT);
      int status = 0;
      const char *resp = NULL;
      if (body && lt_conn_request(c, "POST", "/v1/outcomes", NULL, body, strlen(body), &status, &resp, 60) == 0 &&
          status == 202)
        *posted += json_array_size(batch);
      free(body);
    }
    json_decref(batch);
  }
  return 0;
}

typedef struct cand {
  const char *domain;
  double bm25, f[6], local;
} cand;

static int cmp_bm25(const void *a, const void *b) {
  const cand *x = a, *y = b;
  if (x->bm25 != y->bm25) return x->bm25 < y->bm25 ? 1 : -1;
  return strcmp(x->domain, y->domain);
}

static int cmp_local(const void *a, const void *b) {
  const cand *x = a, *y = b;
  if (x->local != y->local) return x->local < y->local ? 1 : -1;
  return strcmp(x->domain, y->domain);
}

enum { M_RANDOM, M_BM25, M_V0, M_LOCAL, M_CANDS, M_CEIL, M_BM25_HELD, M_V0_HELD, M_TRAINED, M_N };
static const char *const M_NAME[M_N] = { "random", "bm25", "v0", "v0_weights", "candidates", "ceiling",
                                         "bm25_heldout", "v0_heldout", "trained" };

/* Asks every prompt for all its candidates and adds each ranking's figures to q[]. */
static void evaluate(const opts *o, const q_market *m, lt_conn *c, q_metric *q, size_t *failed, FILE *dump,
                     double spam, qt_ids *held) {
  static const char *const FK[6] = { "text", "recency", "fit", "churn", "agreement", "reputation" };
  for (size_t i = 0; i < m->n_prompts; i++) {
    const q_prompt *p = &m->prompts[i];
    json_t *r = ask(c, p->text, 1000, 1);
    json_t *leads = json_object_get(r, "leads"), *l;
    const char *qid = json_string_value(json_object_get(r, "query_id"));
    int heldout = held != NULL && !is_train(o, p) && qid != NULL;
    if (heldout) qt_ids_add(held, qid, i);
    size_t n = json_array_size(leads), j;
    if (r == NULL) (*failed)++;
    cand *v = calloc(n ? n : 1, sizeof(*v));
    const char **order = calloc(n ? n : 1, sizeof(*order));
    if (v == NULL || order == NULL) n = 0;
    json_array_foreach(leads, j, l) {
      if (j >= n) break;
      json_t *sg = json_object_get(l, "signals"), *fs = json_object_get(sg, "features");
      v[j].domain = json_string_value(json_object_get(l, "domain"));
      if (v[j].domain == NULL) v[j].domain = "";
      v[j].bm25 = json_number_value(json_object_get(sg, "text_match"));
      double num = 0, den = 0;
      for (int f = 0; f < 6; f++) {
        v[j].f[f] = json_number_value(json_object_get(fs, FK[f]));
        num += o->w[f] * v[j].f[f];
        den += o->w[f];
      }
      v[j].local = den > 0 ? num / den : 0;
      order[j] = v[j].domain;
      if (dump)
        fprintf(dump, "%.2f\t%zu\t%s\t%d\t%d\t%.4f\t%.6f\t%.6f\t%.6f\t%.6f\t%.6f\t%.6f\t%lld\t%.2f\n", spam, i,
                v[j].domain, q_is_buyer(p, v[j].domain), json_object_get(m->fabricated, v[j].domain) != NULL, v[j].bm25,
                v[j].f[0], v[j].f[1], v[j].f[2], v[j].f[3], v[j].f[4], v[j].f[5],
                (long long)json_integer_value(json_object_get(sg, "miners")),
                json_number_value(json_object_get(sg, "recency_days")));
    }
    q_metric_add_random(&q[M_RANDOM], p, m->n_companies, o->k);
    q_metric_add_list(&q[M_V0], p, order, n, o->k);
    if (heldout) q_metric_add_list(&q[M_V0_HELD], p, order, n, o->k);
    size_t in = 0;
    for (j = 0; j < n; j++) in += q_is_buyer(p, v[j].domain);
    q_metric_add_ceiling(&q[M_CEIL], p, o->k);
    q[M_CANDS].p_sum += (double)(in < o->k ? in : o->k) / o->k;
    q[M_CANDS].ndcg_sum += json_array_size(p->truth) ? (double)(in < o->k ? in : o->k) /
                                                           (double)(json_array_size(p->truth) < o->k ? json_array_size(p->truth) : o->k)
                                                     : 0;
    q[M_CANDS].n++;
    if (o->have_w) {
      qsort(v, n, sizeof(*v), cmp_local);
      for (j = 0; j < n; j++) order[j] = v[j].domain;
      q_metric_add_list(&q[M_LOCAL], p, order, n, o->k);
    }
    qsort(v, n, sizeof(*v), cmp_bm25);
    for (j = 0; j < n; j++) order[j] = v[j].domain;
    q_metric_add_list(&q[M_BM25], p, order, n, o->k);
    if (heldout) q_metric_add_list(&q[M_BM25_HELD], p, order, n, o->k);
    free(order);
    free(v);
    json_decref(r);
  }
}

typedef struct rank_ctx {
  const opts *o;
  const q_market *m;
  q_metric *q;
} rank_ctx;

/* A held-out prompt's candidates in the trained model's order. */
static void add_trained(void *ud, size_t prompt, const char *const *domains, size_t n) {
  rank_ctx *c = ud;
  q_metric_add_list(c->q, &c->m->prompts[prompt], domains, n, c->o->k);
}

/* Copies a small text file (leadpoet train's report) to stderr. */
static void print_file(const char *path) {
  FILE *f = fopen(path, "r");
  char line[512];
  while (f && fgets(line, sizeof line, f)) fprintf(stderr, "  %s", line);
  if (f) fclose(f);
}

/* The training round (every training prompt asked for train_k leads, outcomes posted), then `leadpoet
 * train` on the training prompts' part of the log. The model, or NULL (the reason on stderr). */
static lp_gbdt *train_model(const opts *o, const q_market *m, lt_conn *c, const lt_server *s, const char *dir,
                            const char *log, const char *model, size_t *posted, qt_ids *train_ids) {
  char input[600], tlog[600], why[512] = "";
  feedback_round(o, m, c, o->rounds, posted, o->train_k, 1, train_ids);
  lt_wait_applied(s->port, 600);
  snprintf(input, sizeof input, "%s/train-input.jsonl", dir);
  snprintf(tlog, sizeof tlog, "%s/train.out", dir);
  lp_gbdt *g = NULL;
  if (qt_filter_log(log, input, train_ids, why, sizeof why) != 0 ||
      qt_train(o->leadpoet, input, model, tlog, why, sizeof why) != 0 ||
      lp_gbdt_load_file(model, LP_GBDT_AUTO, LP_FEATURES_N, &g, why, sizeof why) != LP_OK) {
    fprintf(stderr, "quality: no trained ranking: %s\n", why);
    print_file(tlog);
    return NULL;
  }
  print_file(tlog);
  fprintf(stderr, "quality: trained on %zu answers of training prompts\n", train_ids->n);
  if (o->model_out != NULL) {
    char cmd[1600];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && cp '%s.features' '%s.features'", model, o->model_out, model, o->model_out);
    if (system(cmd) != 0) fprintf(stderr, "quality: cannot keep the model in %s\n", o->model_out);
    else fprintf(stderr, "quality: model kept in %s\n", o->model_out);
  }
  return g;
}

/* One market at one spam share: its figures as JSON, or NULL with the reason in err. */
static json_t *run_one(const opts *o, double spam, FILE *dump, char *err, size_t errlen) {
  char dir[] = "/tmp/quality-world.XXXXXX";
  if (mkdtemp(dir) == NULL) {
    snprintf(err, errlen, "mkdtemp: %s", strerror(errno));
    return NULL;
  }
  fprintf(stderr, "quality: market of %llu leads, %llu snippets, spam %.2f in %s\n", o->leads, o->snippets, spam, dir);
  q_market m;
  lt_server s;
  memset(&s, 0, sizeof s);
  json_t *out = NULL;
  int failed = 1;
  if (make_world(o, spam, dir, err, errlen) != 0 || q_market_load(&m, dir, err, errlen) != 0) goto done_world;
  lt_server_opts so = { .leadpoet = o->leadpoet, .world_bin = o->world_bin, .world_dir = dir, .leads = o->leads,
                        .snippets = o->snippets, .seed = o->seed, .kafka_mode = "off", .batch = 1000, .quiet = 1 };
  char log[600], model[600];
  snprintf(log, sizeof log, "%s/train.jsonl", dir);
  snprintf(model, sizeof model, "%s/model.json", dir);
  if (o->train_share > 0) {  /* the server inherits it: every answer's feature rows and every outcome */
    setenv("LEADPOET_SCORING_TRAIN_LOG", log, 1);
    setenv("LEADPOET_SCORING_TRAIN_LOG_MAX_BYTES", "16g", 1);
  }
  int up = lt_server_up(&s, &so, err, errlen);
  unsetenv("LEADPOET_SCORING_TRAIN_LOG");
  unsetenv("LEADPOET_SCORING_TRAIN_LOG_MAX_BYTES");
  if (up != 0) goto done;
  if (load_history(o, &s, err, errlen) != 0) goto done;
  lt_conn c;
  lt_conn_init(&c, s.port);
  size_t posted = 0, qfail = 0;
  qt_ids train_ids = { 0 }, held = { 0 };
  for (int r = 0; r < o->rounds; r++) {
    feedback_round(o, &m, &c, r, &posted, o->k, 0, &train_ids);
    lt_wait_applied(s.port, 600);
    usleep(600 * 1000); /* the reputation snapshot is published at most every 250 ms */
  }
  lp_gbdt *trained = NULL;
  if (o->train_share > 0) {
    trained = train_model(o, &m, &c, &s, dir, log, model, &posted, &train_ids);
    lt_conn_close(&c);  /* idle while training: the server may have closed it (http.idle_timeout) */
    lt_conn_init(&c, s.port);
  }
  q_metric q[M_N];
  memset(q, 0, sizeof q);
  evaluate(o, &m, &c, q, &qfail, dump, spam, trained ? &held : NULL);
  lt_conn_close(&c);
  if (trained != NULL) {
    rank_ctx rc = { o, &m, &q[M_TRAINED] };
    char why[512] = "";
    if (qt_rank(log, trained, &held, add_trained, &rc, why, sizeof why) != 0)
      fprintf(stderr, "quality: no trained ranking: %s\n", why);
    lp_gbdt_free(trained);
  }
  qt_ids_free(&train_ids);
  qt_ids_free(&held);
  json_t *fig = json_object();
  for (int i = 0; i < M_N; i++) {
    if ((i == M_LOCAL && !o->have_w) || (i >= M_BM25_HELD && q[i].n == 0)) continue;
    json_object_set_new(fig, M_NAME[i], json_pack("{s:f, s:f}", "p", q_metric_p(&q[i]), "ndcg", q_metric_ndcg(&q[i])));
  }
  out = json_pack("{s:f, s:I, s:I, s:I, s:I, s:I, s:o}", "spam", spam, "prompts", (json_int_t)m.n_prompts,
                  "companies", (json_int_t)m.n_companies, "feedback_outcomes", (json_int_t)posted, "rounds",
                  (json_int_t)o->rounds, "failed_queries", (json_int_t)qfail, "metrics", fig);
  failed = out == NULL;
done:
  lt_server_down(&s, failed);
  q_market_free(&m);
done_world:
  qb_rmtree(dir);
  return out;
}

static void print_table(FILE *f, const opts *o, json_t *runs) {
  size_t i;
  json_t *r;
  fprintf(f, "\nP@%u / NDCG@%u over the world's prompts (%llu leads, seed %llu, history %.2f, %d feedback rounds)\n",
          o->k, o->k, o->leads, o->seed, o->history, o->rounds);
  fprintf(f, "%-12s", "ranking");
  json_array_foreach(runs, i, r) fprintf(f, "   spam %.2f: P@%-3u NDCG ", json_number_value(json_object_get(r, "spam")), o->k);
  fprintf(f, "\n");
  for (int k = 0; k < M_N; k++) {
    if (k == M_LOCAL && !o->have_w) continue;
    if (k >= M_BM25_HELD && json_object_get(json_object_get(json_array_get(runs, 0), "metrics"), M_NAME[k]) == NULL)
      continue;
    fprintf(f, "%-12s", M_NAME[k]);
    json_array_foreach(runs, i, r) {
      json_t *x = json_object_get(json_object_get(r, "metrics"), M_NAME[k]);
      fprintf(f, "   %17.4f %6.4f", json_number_value(json_object_get(x, "p")), json_number_value(json_object_get(x, "ndcg")));
    }
    fprintf(f, "\n");
  }
  json_array_foreach(runs, i, r)
    fprintf(f, "spam %.2f: %lld prompts, %lld feedback outcomes, %lld failed queries\n",
            json_number_value(json_object_get(r, "spam")), (long long)json_integer_value(json_object_get(r, "prompts")),
            (long long)json_integer_value(json_object_get(r, "feedback_outcomes")),
            (long long)json_integer_value(json_object_get(r, "failed_queries")));
  if (json_array_size(runs) >= 2) {
    double a = json_number_value(json_object_get(json_object_get(json_object_get(json_array_get(runs, 0), "metrics"), "v0"), "p"));
    double b = json_number_value(json_object_get(
        json_object_get(json_object_get(json_array_get(runs, json_array_size(runs) - 1), "metrics"), "v0"), "p"));
    if (a > 0) fprintf(f, "v0 P@%u change from the first to the last spam share: %+.1f %%\n", o->k, 100.0 * (b - a) / a);
    json_t *t0 = json_object_get(json_object_get(json_array_get(runs, 0), "metrics"), "trained");
    json_t *t1 = json_object_get(json_object_get(json_array_get(runs, json_array_size(runs) - 1), "metrics"), "trained");
    double ta = json_number_value(json_object_get(t0, "p")), tb = json_number_value(json_object_get(t1, "p"));
    if (t0 && t1 && ta > 0)
      fprintf(f, "trained P@%u change from the first to the last spam share: %+.1f %%\n", o->k, 100.0 * (tb - ta) / ta);
  }
  json_array_foreach(runs, i, r) {
    json_t *mt = json_object_get(r, "metrics");
    double t = json_number_value(json_object_get(json_object_get(mt, "trained"), "p"));
    double b = json_number_value(json_object_get(json_object_get(mt, "bm25_heldout"), "p"));
    if (json_object_get(mt, "trained") && b > 0)
      fprintf(f, "spam %.2f: trained P@%u = %.2fx BM25's on the held-out prompts\n",
              json_number_value(json_object_get(r, "spam")), o->k, t / b);
  }
}

int main(int argc, char **argv) {
  opts o;
  if (parse_opts(argc, argv, &o) != 0) {
    usage(stderr);
    return 2;
  }
  json_t *runs = json_array();
  char err[512] = "";
  FILE *dump = o.dump ? fopen(o.dump, "w") : NULL;
  if (o.dump && dump == NULL) {
    fprintf(stderr, "quality: cannot write %s\n", o.dump);
    json_decref(runs);
    return 1;
  }
  for (int i = 0; i < o.n_spam; i++) {
    json_t *r = run_one(&o, o.spam[i], dump, err, sizeof err);
    if (r == NULL) {
      fprintf(stderr, "quality: %s\n", err);
      if (dump) fclose(dump);
      json_decref(runs);
      return 1;
    }
    json_array_append_new(runs, r);
  }
  if (dump && fclose(dump) != 0) fprintf(stderr, "quality: cannot write %s\n", o.dump);
  int to_stdout = o.json_out && strcmp(o.json_out, "-") == 0;
  print_table(to_stdout ? stderr : stdout, &o, runs);
  int rc = 0;
  if (o.json_out) {
    json_t *doc = json_pack("{s:I, s:I, s:I, s:f, s:i, s:I, s:O}", "leads", (json_int_t)o.leads, "snippets",
                            (json_int_t)o.snippets, "seed", (json_int_t)o.seed, "history", o.history, "rounds", o.rounds,
                            "k", (json_int_t)o.k, "runs", runs);
    rc = doc && lt_write_json(doc, o.json_out) == 0 ? 0 : 1;
    json_decref(doc);
  }
  json_decref(runs);
  return rc;
}
