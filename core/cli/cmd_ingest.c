/*
 * cmd_ingest.c: `leadpoet ingest FILE.jsonl [--outcomes] [--url URL] [--batch N] [--quiet]`.
 *
 * Reads JSON Lines (a file or stdin) and POSTs them in batches as application/x-ndjson to /v1/snippets or
 * /v1/outcomes over one kept-alive connection. Each 202 answer says which indices of the batch were
 * rejected; they are mapped back to line numbers of the file (blank lines are skipped and lines over 1 MiB
 * are rejected here, so the mapping keeps the line number of every sent record). 429 and 503 are retried
 * under the client's retry policy; any other error stops the run with exit 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "cli/commands.h"
#include "cli/http_client.h"

#define INGEST_MAX_LINE (1024u * 1024u)   /* contract: a record over 1 MiB is never sent */
#define INGEST_MAX_BATCH 100000L
#define INGEST_SHOW_REJECTIONS 10
#define INGEST_MAX_CODES 32
#define INGEST_TIMEOUT_MS 60000           /* a 202 waits for durability (checkpoint or broker report) */
#define INGEST_DEFAULT_URL "http://127.0.0.1:8080"

typedef struct ingest_opts {
  const char *file;
  const char *url;
  long batch;
  int outcomes;
  int quiet;
} ingest_opts;

typedef struct code_count {
  char code[48];
  long n;
} code_count;

typedef struct rejection {
  long line;
  char code[48];
  char message[200];
} rejection;

typedef struct ingest_run {
  const ingest_opts *o;
  lp_http_client *http;
  const char *route;
  lp_buf body;              /* the batch being built, NDJSON */
  long *lines;              /* line number in the file of each record of the batch */
  size_t nlines;
  long sent, accepted, rejected, batches;
  code_count codes[INGEST_MAX_CODES];
  int ncodes;
  rejection first[INGEST_SHOW_REJECTIONS];
  int nfirst;
  uint64_t t0, last_progress;
  int progress;             /* stderr is a terminal and not --quiet */
  int progress_shown;
} ingest_run;

static void ingest_usage(FILE *f) {
  fprintf(f,
          "usage: leadpoet ingest FILE.jsonl [--outcomes] [--url URL] [--batch N] [--quiet]\n"
          "\n"
          "Posts a JSON Lines file (one snippet per line; FILE '-' reads stdin) to a running leadpoet, in\n"
          "batches, and prints what was accepted and rejected with the line numbers of the rejections.\n"
          "\n"
          "  FILE          the JSON Lines file, or - for stdin; blank lines are skipped, a line over 1 MiB\n"
          "                is rejected here (code line_too_long) and not sent\n"
          "  --outcomes    the lines are outcome events: POST to /v1/outcomes instead of /v1/snippets\n"
          "  --url URL     the server (default $LEADPOET_URL, else " INGEST_DEFAULT_URL ")\n"
          "  --batch N     lines per request, 1..%ld (default 1000)\n"
          "  --quiet       no progress line and no summary; errors are still printed\n"
          "  --help        this text\n"
          "\n"
          "429 and 503 answers are retried, honouring Retry-After. Exit status: 0 when every batch was\n"
          "answered 2xx (rejected lines included), 1 on a runtime error (file, network, server error),\n"
          "2 on a usage error.\n",
          INGEST_MAX_BATCH);
}

/* Returns -1 to go on, else the exit code (0 after --help, 2 on a usage error). */
static int ingest_parse(int argc, char **argv, ingest_opts *o) {
  memset(o, 0, sizeof(*o));
  o->batch = 1000;
  int only_args = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *val = NULL;
    if (!only_args && a[0] == '-' && a[1] != '\0') {
      if (strcmp(a, "--") == 0) {
        only_args = 1;
        continue;
      }
      if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
        ingest_usage(stdout);
        return 0;
      }
      if (strcmp(a, "--outcomes") == 0) {
        o->outcomes = 1;
        continue;
      }
      if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
        o->quiet = 1;
        continue;
      }
      const char *eq = strchr(a, '=');
      size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
      int is_url = nlen == 5 && strncmp(a, "--url", 5) == 0;
      int is_batch = nlen == 7 && strncmp(a, "--batch", 7) == 0;
      if (!is_url && !is_batch) {
        fprintf(stderr, "leadpoet ingest: unknown option '%s' (see --help)\n", a);
        return 2;
      }
      if (eq) {
        val = eq + 1;
      } else if (i + 1 < argc) {
        val = argv[++i];
      } else {
        fprintf(stderr, "leadpoet ingest: %s needs a value (see --help)\n", a);
        return 2;
      }
      if (is_url) {
        o->url = val;
      } else {
        char *end;
        errno = 0;
        long n = strtol(val, &end, 10);
        if (end == val || *end || errno || n < 1 || n > INGEST_MAX_BATCH) {
          fprintf(stderr, "leadpoet ingest: --batch must be an integer in 1..%ld, not '%s'\n", INGEST_MAX_BATCH,
                  val);
          return 2;
        }
        o->batch = n;
      }
      continue;
    }
    if (o->file) {
      fprintf(stderr, "leadpoet ingest: one file only, got '%s' and '%s' (see --help)\n", o->file, a);
      return 2;
    }
    o->file = a;
  }
  if (!o->file) {
    fprintf(stderr, "leadpoet ingest: missing FILE argument (see --help)\n");
    return 2;
  }
  if (!o->url) o->url = getenv("LEADPOET_URL");
  if (!o->url || !*o->url) o->url = INGEST_DEFAULT_URL;
  return -1;
}

/* Reads one line into line (without the newline). Returns 1 with a line, 0 at EOF, -1 on a read error.
 * A line longer than INGEST_MAX_LINE is consumed whole but not kept: *too_long is set. Byte by byte (the
 * stdio buffer makes that cheap) so that a NUL byte inside a line is kept and left for the server to
 * reject, never silently cutting the line. */
static int read_line(FILE *in, lp_buf *line, int *too_long) {
  lp_buf_reset(line);
  *too_long = 0;
  int any = 0, c;
  while ((c = getc_unlocked(in)) != EOF) {
    any = 1;
    if (c == '\n') return 1;
    if (*too_long) continue;
    if (line->len >= INGEST_MAX_LINE) {
      *too_long = 1;
      lp_buf_reset(line);
      continue;
    }
    if (line->len + 1 >= line->cap && lp_buf_reserve(line, line->cap ? line->cap : 4096) != 0) return -1;
    line->data[line->len++] = (char)c;
  }
  if (ferror(in)) return -1;
  return any ? 1 : 0;
}

/* Counts a rejection code; past INGEST_MAX_CODES - 1 distinct codes, the last slot gathers the rest. */
static void count_code(ingest_run *r, const char *code) {
  for (int i = 0; i < r->ncodes; i++) {
    if (strcmp(r->codes[i].code, code) == 0) {
      r->codes[i].n++;
      return;
    }
  }
  code_count *c = &r->codes[r->ncodes < INGEST_MAX_CODES ? r->ncodes : INGEST_MAX_CODES - 1];
  if (r->ncodes < INGEST_MAX_CODES - 1) {
    snprintf(c->code, sizeof(c->code), "%s", code);
    r->ncodes++;
  } else if (r->ncodes == INGEST_MAX_CODES - 1) {
    snprintf(c->code, sizeof(c->code), "other");
    r->ncodes++;
  }
  c->n++;
}

static void note_rejection(ingest_run *r, long line, const char *code, const char *message) {
  r->rejected++;
  count_code(r, code);
  if (r->nfirst < INGEST_SHOW_REJECTIONS) {
    rejection *x = &r->first[r->nfirst++];
    x->line = line;
    snprintf(x->code, sizeof(x->code), "%s", code);
    snprintf(x->message, sizeof(x->message), "%s", message);
  }
}

static double elapsed_s(const ingest_run *r) { return (double)(lp_mono_ns() - r->t0) / 1e9; }

static void show_progress(ingest_run *r, int force) {
  if (!r->progress) return;
  uint64_t now = lp_mono_ns();
  if (!force && now - r->last_progress < 100000000ull) return;
  r->last_progress = now;
  double s = elapsed_s(r);
  fprintf(stderr, "\r%ld sent, %ld accepted, %ld rejected, %.0f lines/s\033[K", r->sent, r->accepted,
          r->rejected, s > 0 ? (double)r->sent / s : 0.0);
  fflush(stderr);
  r->progress_shown = 1;
}

static void clear_progress(ingest_run *r) {
  if (r->progress_shown) {
    fputs("\r\033[K", stderr);
    fflush(stderr);
    r->progress_shown = 0;
  }
}

static void on_retry(void *ud, int attempt, int status, long wait_ms) {
  ingest_run *r = ud;
  if (r->o->quiet) return;
  clear_progress(r);
  fprintf(stderr, "leadpoet ingest: server answered %d (attempt %d), retrying in %.1f s\n", status, attempt,
          (double)wait_ms / 1000.0);
}

/* Reads a 2xx answer {"accepted": n, "rejected": [{"index", "code", "message"}]} into the totals.
 * Returns 0, or -1 when the body is not that shape (the caller reports it). */
static int apply_answer(ingest_run *r, const lp_http_response *res, char *err, size_t errsz) {
  json_error_t jerr;
  json_t *root = json_loadb(res->body, res->body_len, 0, &jerr);
  json_t *acc = root ? json_object_get(root, "accepted") : NULL;
  json_t *rej = root ? json_object_get(root, "rejected") : NULL;
  if (!json_is_integer(acc) || (rej && !json_is_array(rej))) {
    snprintf(err, errsz, "unexpected answer (%d): %s", res->status,
             root ? "no integer \"accepted\" or no \"rejected\" array" : jerr.text);
    json_decref(root);
    return -1;
  }
  r->accepted += (long)json_integer_value(acc);
  size_t i;
  json_t *item;
  json_array_foreach(rej, i, item) {
    json_t *idx = json_object_get(item, "index");
    const char *code = json_string_value(json_object_get(item, "code"));
    const char *msg = json_string_value(json_object_get(item, "message"));
    long line = -1;
    if (json_is_integer(idx) && json_integer_value(idx) >= 0 && (size_t)json_integer_value(idx) < r->nlines) {
      line = r->lines[json_integer_value(idx)];
    }
    note_rejection(r, line, code ? code : "unknown", msg ? msg : "");
  }
  json_decref(root);
  return 0;
}

/* Sends the batch being built and applies the answer. Returns 0, or 1 after printing the error. */
static int flush_batch(ingest_run *r) {
  if (r->nlines == 0) return 0;
  lp_http_retry policy = LP_HTTP_RETRY_DEFAULT;
  policy.on_retry = on_retry;
  policy.ud = r;
  lp_http_response res;
  char err[512];
  int rc = lp_http_client_request_retry(r->http, &policy, "POST", r->route, "application/x-ndjson",
                                        r->body.data, r->body.len, &res, err, sizeof(err));
  clear_progress(r);
  if (rc) {
    fprintf(stderr, "leadpoet ingest: cannot reach the server at %s: %s\n", r->o->url, err);
  } else if (res.status < 200 || res.status > 299) {
    char what[400];
    fprintf(stderr, "leadpoet ingest: %s%s answered %s (batch from line %ld)\n", r->o->url, r->route,
            lp_http_response_error(&res, what, sizeof(what)), r->lines[0]);
    if (res.status == 429 || res.status == 503) {
      fprintf(stderr, "leadpoet ingest: gave up after %d attempts\n", policy.max_attempts);
    } else if (res.status == 413) {
      fprintf(stderr, "leadpoet ingest: the batch is over the server's body limit: try a smaller --batch\n");
    }
    rc = -1;
  } else if (apply_answer(r, &res, err, sizeof(err)) != 0) {
    fprintf(stderr, "leadpoet ingest: %s%s: %s\n", r->o->url, r->route, err);
    rc = -1;
  }
  lp_http_response_free(&res);
  if (rc) return 1;
  r->sent += (long)r->nlines;
  r->batches++;
  r->nlines = 0;
  lp_buf_reset(&r->body);
  show_progress(r, 0);
  return 0;
}

static void print_summary(ingest_run *r, const char *name, FILE *f) {
  double s = elapsed_s(r);
  fprintf(f, "%s -> %s%s: sent %ld lines in %ld batch%s, accepted %ld, rejected %ld", name, r->o->url, r->route,
          r->sent, r->batches, r->batches == 1 ? "" : "es", r->accepted, r->rejected);
  for (int i = 0; i < r->ncodes; i++) fprintf(f, "%s%s %ld", i ? ", " : " (", r->codes[i].code, r->codes[i].n);
  fprintf(f, "%s, %.2f s, %.0f lines/s\n", r->ncodes ? ")" : "", s, s > 0 ? (double)r->sent / s : 0.0);
  if (r->nfirst > 0) {
    fprintf(f, "first rejections:\n");
    for (int i = 0; i < r->nfirst; i++) {
      if (r->first[i].line > 0) {
        fprintf(f, "  line %ld: %s: %s\n", r->first[i].line, r->first[i].code, r->first[i].message);
      } else {
        fprintf(f, "  line ?: %s: %s\n", r->first[i].code, r->first[i].message);
      }
    }
  }
}

/* Reads every line, batching and sending. Returns the exit code. */
static int ingest_loop(ingest_run *r, FILE *in, const char *name) {
  lp_buf line = LP_BUF_INIT;
  long lineno = 0;
  int rc = 0;
  for (;;) {
    int too_long = 0;
    int got = read_line(in, &line, &too_long);
    if (got < 0) {
      fprintf(stderr, "leadpoet ingest: read %s after line %ld: %s\n", name, lineno, strerror(errno));
      rc = 1;
      break;
    }
    if (got == 0) break;
    lineno++;
    if (too_long) {
      note_rejection(r, lineno, "line_too_long", "line over 1 MiB, not sent");
      continue;
    }
    while (line.len > 0 && (line.data[line.len - 1] == '\r' || line.data[line.len - 1] == ' ' ||
                            line.data[line.len - 1] == '\t')) {
      line.len--;
    }
    size_t lead = 0;
    while (lead < line.len && (line.data[lead] == ' ' || line.data[lead] == '\t')) lead++;
    if (lead == line.len) continue;  /* blank */
    if (lp_buf_append(&r->body, line.data + lead, line.len - lead) != 0 || lp_buf_append(&r->body, "\n", 1) != 0) {
      fprintf(stderr, "leadpoet ingest: out of memory at line %ld\n", lineno);
      rc = 1;
      break;
    }
    r->lines[r->nlines++] = lineno;
    if ((long)r->nlines >= r->o->batch && (rc = flush_batch(r)) != 0) break;
  }
  if (rc == 0) rc = flush_batch(r);
  lp_buf_free(&line);
  return rc;
}

int lp_cmd_ingest(int argc, char **argv) {
  ingest_opts o;
  int code = ingest_parse(argc, argv, &o);
  if (code >= 0) return code;

  ingest_run r;
  memset(&r, 0, sizeof(r));
  r.o = &o;
  r.route = o.outcomes ? "/v1/outcomes" : "/v1/snippets";
  char err[512];
  if (lp_http_client_new(&r.http, o.url, INGEST_TIMEOUT_MS, err, sizeof(err)) != 0) {
    fprintf(stderr, "leadpoet ingest: --url: %s\n", err);
    return 2;
  }
  int from_stdin = strcmp(o.file, "-") == 0;
  const char *name = from_stdin ? "stdin" : o.file;
  FILE *in = from_stdin ? stdin : fopen(o.file, "r");
  if (!in) {
    fprintf(stderr, "leadpoet ingest: cannot open %s: %s\n", o.file, strerror(errno));
    lp_http_client_free(r.http);
    return 1;
  }
  r.lines = lp_malloc(sizeof(long) * (size_t)o.batch);
  if (!r.lines) {
    fprintf(stderr, "leadpoet ingest: out of memory\n");
    if (!from_stdin) fclose(in);
    lp_http_client_free(r.http);
    return 1;
  }
  r.progress = !o.quiet && isatty(2);
  r.t0 = lp_mono_ns();
  code = ingest_loop(&r, in, name);
  clear_progress(&r);
  if (!o.quiet || code != 0) print_summary(&r, name, code ? stderr : stdout);
  fflush(stdout);
  if (!from_stdin) fclose(in);
  lp_free(r.lines);
  lp_buf_free(&r.body);
  lp_http_client_free(r.http);
  return code;
}
