/*
 * cmd_query.c: `leadpoet query "PROMPT" [-k N] [--url URL] [--json] [--filters JSON]`.
 *
 * POSTs {"prompt", "k", "filters"} to /v1/leads and prints the leads as a table (or the server's JSON as
 * it came with --json). 429 and 503 are retried under the client's retry policy; any other non-2xx prints
 * the server's JSON error and exits 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "cli/commands.h"
#include "cli/http_client.h"

#define QUERY_DEFAULT_URL "http://127.0.0.1:8080"
#define QUERY_TIMEOUT_MS 60000
#define QUERY_MAX_K 1000

typedef struct query_opts {
  const char *prompt;
  const char *url;
  json_t *filters;   /* owned; NULL when not given */
  long k;
  int json;
} query_opts;

static void query_usage(FILE *f) {
  fprintf(f,
          "usage: leadpoet query \"PROMPT\" [-k N] [--url URL] [--json] [--filters JSON]\n"
          "\n"
          "Asks a running leadpoet for the companies most likely to buy what PROMPT describes\n"
          "(POST /v1/leads) and prints them best first.\n"
          "\n"
          "  PROMPT          what you sell, in words (1..4096 bytes)\n"
          "  -k N            how many leads, 1..%d (default 25)\n"
          "  --url URL       the server (default $LEADPOET_URL, else " QUERY_DEFAULT_URL ")\n"
          "  --json          print the server's JSON answer as it came instead of the table\n"
          "  --filters JSON  a JSON object of filters: country [alpha-2], industry [strings],\n"
          "                  employees_min, employees_max, tech [strings], exclude_domains [domains];\n"
          "                  e.g. --filters '{\"country\": [\"US\"], \"employees_min\": 50}'\n"
          "  --help          this text\n"
          "\n"
          "The table shows rank, domain, score, name, country, employees and the lead's top signals, and under\n"
          "each lead an excerpt of its newest evidence.\n"
          "Exit status: 0 ok, 1 runtime error (network, server error), 2 usage error.\n",
          QUERY_MAX_K);
}

/* Returns -1 to go on, else the exit code (0 after --help, 2 on a usage error). */
static int query_parse(int argc, char **argv, query_opts *o) {
  memset(o, 0, sizeof(*o));
  o->k = 25;
  int only_args = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (only_args || a[0] != '-' || a[1] == '\0') {
      if (o->prompt) {
        fprintf(stderr, "leadpoet query: one PROMPT only (quote it), got '%s' and '%s'\n", o->prompt, a);
        return 2;
      }
      o->prompt = a;
      continue;
    }
    if (strcmp(a, "--") == 0) {
      only_args = 1;
      continue;
    }
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      query_usage(stdout);
      return 0;
    }
    if (strcmp(a, "--json") == 0) {
      o->json = 1;
      continue;
    }
    const char *eq = strchr(a, '=');
    size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
    enum { F_NONE, F_K, F_URL, F_FILTERS } which = F_NONE;
    if ((nlen == 2 && strncmp(a, "-k", 2) == 0) || (nlen == 3 && strncmp(a, "--k", 3) == 0)) which = F_K;
    if (nlen == 5 && strncmp(a, "--url", 5) == 0) which = F_URL;
    if (nlen == 9 && strncmp(a, "--filters", 9) == 0) which = F_FILTERS;
    if (which == F_NONE) {
      fprintf(stderr, "leadpoet query: unknown option '%s' (see --help)\n", a);
      return 2;
    }
    const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
    if (!val) {
      fprintf(stderr, "leadpoet query: %s needs a value (see --help)\n", a);
      return 2;
    }
    if (which == F_K) {
      char *end;
      errno = 0;
      long k = strtol(val, &end, 10);
      if (end == val || *end || errno || k < 1 || k > QUERY_MAX_K) {
        fprintf(stderr, "leadpoet query: -k must be an integer in 1..%d, not '%s'\n", QUERY_MAX_K, val);
        return 2;
      }
      o->k = k;
    } else if (which == F_URL) {
      o->url = val;
    } else {
      json_error_t jerr;
      json_decref(o->filters);
      o->filters = json_loads(val, 0, &jerr);
      if (!json_is_object(o->filters)) {
        fprintf(stderr, "leadpoet query: --filters must be a JSON object: %s\n",
                o->filters ? "got another JSON type" : jerr.text);
        return 2;
      }
    }
  }
  if (!o->prompt || !*o->prompt) {
    fprintf(stderr, "leadpoet query: missing PROMPT argument (see --help)\n");
    return 2;
  }
  if (!o->url) o->url = getenv("LEADPOET_URL");
  if (!o->url || !*o->url) o->url = QUERY_DEFAULT_URL;
  return -1;
}

/* The request body as a NUL-terminated string owned by the caller (lp_free), or NULL without memory. */
static char *query_body(const query_opts *o, size_t *len) {
  json_t *req = json_object();
  if (!req) return NULL;
  int bad = json_object_set_new(req, "prompt", json_string(o->prompt));
  bad |= json_object_set_new(req, "k", json_integer(o->k));
  if (o->filters) bad |= json_object_set(req, "filters", o->filters);
  char *out = NULL;
  size_t n = bad ? 0 : json_dumpb(req, NULL, 0, JSON_COMPACT);
  if (n > 0 && (out = lp_malloc(n + 1)) != NULL) {
    json_dumpb(req, out, n, JSON_COMPACT);
    out[n] = '\0';
    *len = n;
  }
  json_decref(req);
  return out;
}

/* Prints s in exactly width columns (UTF-8 code points), cut with "~" when longer. */
static void put_cell(FILE *f, const char *s, int width, int right) {
  if (!s) s = "-";
  size_t bytes = 0;
  int cols = 0;
  while (s[bytes] && cols < width) {
    size_t step = 1;
    while ((s[bytes + step] & 0xC0) == 0x80) step++;
    if (cols == width - 1 && s[bytes + step]) break;  /* keep the last column for the cut mark */
    bytes += step;
    cols++;
  }
  int cut = s[bytes] != '\0';
  int pad = width - cols - cut;
  if (right) fprintf(f, "%*s", pad, "");
  fprintf(f, "%.*s%s", (int)bytes, s, cut ? "~" : "");
  if (!right) fprintf(f, "%*s", pad, "");
}

/* "text_match 7.1, recency_days 2.5, miners 3, churn removed:heroku": the first signals, in the server's
 * order (the server lists the strongest first). */
static void format_signals(json_t *signals, char *out, size_t cap) {
  lp_buf b = LP_BUF_INIT;
  const char *key;
  json_t *v;
  int shown = 0;
  json_object_foreach(signals, key, v) {
    if (shown == 4) break;
    if (json_is_null(v) || (json_is_array(v) && json_array_size(v) == 0)) continue;
    lp_buf_printf(&b, "%s%s ", shown ? ", " : "", key);
    if (json_is_integer(v)) {
      lp_buf_printf(&b, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
      lp_buf_printf(&b, "%.3g", json_real_value(v));
    } else if (json_is_string(v)) {
      lp_buf_puts(&b, json_string_value(v));
    } else if (json_is_array(v)) {
      size_t i;
      json_t *x;
      json_array_foreach(v, i, x) lp_buf_printf(&b, "%s%s", i ? " " : "", json_is_string(x) ? json_string_value(x) : "?");
    } else {
      lp_buf_puts(&b, json_is_true(v) ? "true" : json_is_false(v) ? "false" : "{..}");
    }
    shown++;
  }
  snprintf(out, cap, "%.*s", b.data ? (int)b.len : 0, b.data ? b.data : "");
  lp_buf_free(&b);
}

/* "      > hiring: Acme is hiring a billing engineer ...": the lead's first evidence, cut at a character
 * boundary so that UTF-8 is never split. */
static void print_excerpt(FILE *f, json_t *ev) {
  const char *text = json_string_value(json_object_get(ev, "text"));
  const char *kind = json_string_value(json_object_get(ev, "kind"));
  if (text == NULL) return;
  size_t n = strlen(text), max = 100;
  if (n > max) {
    n = max;
    while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80) n--;
  }
  fprintf(f, "      > %s: %.*s%s\n", kind ? kind : "evidence", (int)n, text, strlen(text) > n ? " ..." : "");
}

/* Prints the 200 answer as a table. Returns 0, or 1 when the body is not the contract's shape. */
static int print_table(const lp_http_response *res, FILE *f) {
  json_error_t jerr;
  json_t *root = json_loadb(res->body, res->body_len, 0, &jerr);
  json_t *leads = root ? json_object_get(root, "leads") : NULL;
  if (!json_is_array(leads)) {
    fprintf(stderr, "leadpoet query: unexpected answer: %s\n", root ? "no \"leads\" array" : jerr.text);
    json_decref(root);
    return 1;
  }
  const char *qid = json_string_value(json_object_get(root, "query_id"));
  const char *model = json_string_value(json_object_get(root, "model"));
  json_t *took = json_object_get(root, "took_ms");
  json_t *cost = json_object_get(root, "cost");
  fprintf(f, "query %s, model %s, %zu lead%s in %.1f ms", qid ? qid : "-", model ? model : "-",
          json_array_size(leads), json_array_size(leads) == 1 ? "" : "s", json_number_value(took));
  if (json_is_object(cost)) {
    fprintf(f, ", cost $%.6f (%lld LLM calls)", json_number_value(json_object_get(cost, "usd_total")),
            (long long)json_integer_value(json_object_get(cost, "llm_calls")));
  }
  fprintf(f, "\n");
  if (json_array_size(leads) == 0) {
    fprintf(f, "no lead matched\n");
    json_decref(root);
    return 0;
  }
  fprintf(f, "rank  domain                     score  name                   cc  employees  top signals\n");
  size_t i;
  json_t *lead;
  json_array_foreach(leads, i, lead) {
    char num[32], sig[160];
    json_t *rank = json_object_get(lead, "rank");
    fprintf(f, "%4lld  ", json_is_integer(rank) ? (long long)json_integer_value(rank) : (long long)i + 1);
    put_cell(f, json_string_value(json_object_get(lead, "domain")), 25, 0);
    fprintf(f, "  %5.3f  ", json_number_value(json_object_get(lead, "score")));
    put_cell(f, json_string_value(json_object_get(lead, "name")), 21, 0);
    fprintf(f, "  ");
    put_cell(f, json_string_value(json_object_get(lead, "country")), 2, 0);
    json_t *emp = json_object_get(lead, "employees");
    snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(emp));
    fprintf(f, "  ");
    put_cell(f, json_is_integer(emp) ? num : "-", 9, 1);
    format_signals(json_object_get(lead, "signals"), sig, sizeof(sig));
    fprintf(f, "  %s\n", sig[0] ? sig : "-");
    print_excerpt(f, json_array_get(json_object_get(lead, "evidence"), 0));
  }
  json_decref(root);
  return 0;
}

static void on_retry(void *ud, int attempt, int status, long wait_ms) {
  fprintf(stderr, "leadpoet query: server answered %d (attempt %d), retrying in %.1f s\n", status, attempt,
          (double)wait_ms / 1000.0);
}

int lp_cmd_query(int argc, char **argv) {
  query_opts o;
  int code = query_parse(argc, argv, &o);
  if (code >= 0) {
    json_decref(o.filters);
    return code;
  }
  char err[512];
  lp_http_client *http = NULL;
  if (lp_http_client_new(&http, o.url, QUERY_TIMEOUT_MS, err, sizeof(err)) != 0) {
    fprintf(stderr, "leadpoet query: --url: %s\n", err);
    json_decref(o.filters);
    return 2;
  }
  size_t len = 0;
  char *body = query_body(&o, &len);
  json_decref(o.filters);
  if (!body) {
    fprintf(stderr, "leadpoet query: cannot build the request (out of memory or PROMPT not UTF-8)\n");
    lp_http_client_free(http);
    return 1;
  }
  lp_http_retry policy = LP_HTTP_RETRY_DEFAULT;
  policy.on_retry = on_retry;
  lp_http_response res;
  int rc = lp_http_client_request_retry(http, &policy, "POST", "/v1/leads", "application/json", body, len, &res,
                                        err, sizeof(err));
  lp_free(body);
  if (rc) {
    fprintf(stderr, "leadpoet query: cannot reach the server at %s: %s\n", o.url, err);
    code = 1;
  } else if (res.status < 200 || res.status > 299) {
    char what[400];
    fprintf(stderr, "leadpoet query: %s/v1/leads answered %s\n", o.url, lp_http_response_error(&res, what, sizeof(what)));
    code = 1;
  } else if (o.json) {
    fwrite(res.body, 1, res.body_len, stdout);
    if (res.body_len == 0 || res.body[res.body_len - 1] != '\n') fputc('\n', stdout);
    code = 0;
  } else {
    code = print_table(&res, stdout);
  }
  fflush(stdout);
  lp_http_response_free(&res);
  lp_http_client_free(http);
  return code;
}
