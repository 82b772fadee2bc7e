/*
 * cmd_produce.c: `leadpoet produce FILE.jsonl [--outcomes] [--brokers HOST:PORT] [--content-type json|msgpack]`.
 *
 * int lp_cmd_produce(int argc, char **argv);  -- the subcommand's entry point (see cli/commands.h): argv[0]
 * is "produce"; returns the exit code: 0 every line delivered, 1 a runtime error or an undelivered line,
 * 2 a usage error.
 *
 * Reads JSON Lines (a file or stdin) and produces each line to miner.snippets (or outcome.events) keyed by
 * the lead's canonical domain (lead.domain for snippets, domain for outcomes; as written when it cannot be
 * canonicalised: the server then dead-letters the line), on the partition Kafka's default (Java) partitioner
 * gives that key, murmur2, which is the shard the server applies it in (worker.h lp_partition_of). The value
 * is the JSON text, or re-encoded to msgpack with header content-type: application/msgpack. Waits for the
 * broker's delivery report of every line and prints a summary.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "kafka/kafka.h"
#include "stages/ingest/ingest.h"

int lp_cmd_produce(int argc, char **argv);

#define PRODUCE_MAX_LINE (1024u * 1024u)
#define PRODUCE_MAX_PROPS 64
#define PRODUCE_FLUSH_MS 60000         /* waiting for the last delivery reports */
#define PRODUCE_SHOW_ERRORS 10

typedef struct produce_opts {
  const char *file;
  const char *brokers;
  int outcomes;
  int msgpack;
  int quiet;
  const char *props[PRODUCE_MAX_PROPS];
  size_t nprops;
} produce_opts;

typedef struct produce_run {
  uv_loop_t loop;
  lp_kafka_producer *p;
  long sent, delivered, failed, skipped;
  int shown;
  int closed;
} produce_run;

static void produce_usage(FILE *f) {
  fprintf(f,
          "usage: leadpoet produce FILE.jsonl [--outcomes] [--brokers HOST:PORT] [--content-type json|msgpack]\n"
          "                        [-X key=value]... [--quiet]\n"
          "\n"
          "Publishes a JSON Lines file (FILE '-' reads stdin) to Kafka, one record per line, keyed by the lead's\n"
          "domain, and waits until the broker has acknowledged every line.\n"
          "\n"
          "  --outcomes            the lines are outcome events: topic " LP_KAFKA_TOPIC_OUTCOMES " (key: domain)\n"
          "                        instead of " LP_KAFKA_TOPIC_SNIPPETS " (key: lead.domain)\n"
          "  --brokers HOST:PORT   bootstrap brokers (default $KAFKA_BOOTSTRAP_BROKERS); `leadpoet serve` logs\n"
          "                        the address of its embedded cluster\n"
          "  --content-type T      json (default: the line as is) or msgpack (re-encoded, with header\n"
          "                        content-type: application/msgpack)\n"
          "  -X key=value          a librdkafka producer property (repeatable)\n"
          "  --quiet               no summary; errors are still printed\n"
          "  --help                this text\n"
          "\n"
          "Blank lines are skipped. Exit status: 0 when every line was delivered, 1 on a runtime error or an\n"
          "undelivered line (a line over 1 MiB, or not JSON with --content-type msgpack), 2 on a usage error.\n");
}

/* Returns -1 to go on, else the exit code. */
static int produce_parse(int argc, char **argv, produce_opts *o) {
  memset(o, 0, sizeof(*o));
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      produce_usage(stdout);
      return 0;
    }
    if (strcmp(a, "--outcomes") == 0) {
      o->outcomes = 1;
    } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
      o->quiet = 1;
    } else if (strcmp(a, "--brokers") == 0 || strcmp(a, "--content-type") == 0 || strcmp(a, "-X") == 0) {
      if (i + 1 >= argc) {
        fprintf(stderr, "leadpoet produce: %s needs a value (see --help)\n", a);
        return 2;
      }
      const char *v = argv[++i];
      if (a[1] == 'X') {
        if (o->nprops == PRODUCE_MAX_PROPS || !strchr(v, '=')) {
          fprintf(stderr, "leadpoet produce: -X %s: expected key=value (at most %d)\n", v, PRODUCE_MAX_PROPS);
          return 2;
        }
        o->props[o->nprops++] = v;
      } else if (a[2] == 'b') {
        o->brokers = v;
      } else if (strcmp(v, "json") == 0 || strcmp(v, "msgpack") == 0) {
        o->msgpack = v[0] == 'm';
      } else {
        fprintf(stderr, "leadpoet produce: --content-type must be json or msgpack, not '%s'\n", v);
        return 2;
      }
    } else if (a[0] == '-' && a[1] != '\0') {
      fprintf(stderr, "leadpoet produce: unknown option '%s' (see --help)\n", a);
      return 2;
    } else if (o->file) {
      fprintf(stderr, "leadpoet produce: one file only, got '%s' and '%s' (see --help)\n", o->file, a);
      return 2;
    } else {
      o->file = a;
    }
  }
  if (!o->file) {
    fprintf(stderr, "leadpoet produce: missing FILE argument (see --help)\n");
    return 2;
  }
  if (!o->brokers) o->brokers = getenv("KAFKA_BOOTSTRAP_BROKERS");
  if (!o->brokers || !*o->brokers) {
    fprintf(stderr, "leadpoet produce: no brokers: pass --brokers HOST:PORT or set KAFKA_BOOTSTRAP_BROKERS\n");
    return 2;
  }
  return -1;
}

/* JSON to msgpack, the same shape (integers stay integers). Returns 0 or -1 (out of memory). */
static int pack_json(msgpack_packer *pk, const json_t *j) {
  switch (json_typeof(j)) {
  case JSON_OBJECT: {
    if (msgpack_pack_map(pk, json_object_size(j))) return -1;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)j, k, v) {
      size_t kl = strlen(k);
      if (msgpack_pack_str(pk, kl) || msgpack_pack_str_body(pk, k, kl) || pack_json(pk, v)) return -1;
    }
    return 0;
  }
  case JSON_ARRAY: {
    if (msgpack_pack_array(pk, json_array_size(j))) return -1;
    size_t i;
    json_t *v;
    json_array_foreach(j, i, v) if (pack_json(pk, v)) return -1;
    return 0;
  }
  case JSON_STRING: {
    size_t l = json_string_length(j);
    return msgpack_pack_str(pk, l) || msgpack_pack_str_body(pk, json_string_value(j), l) ? -1 : 0;
  }
  case JSON_INTEGER: return msgpack_pack_int64(pk, json_integer_value(j)) ? -1 : 0;
  case JSON_REAL: return msgpack_pack_double(pk, json_real_value(j)) ? -1 : 0;
  case JSON_TRUE: return msgpack_pack_true(pk) ? -1 : 0;
  case JSON_FALSE: return msgpack_pack_false(pk) ? -1 : 0;
  default: return msgpack_pack_nil(pk) ? -1 : 0;
  }
}

static void line_error(produce_run *r, long line, const char *what) {
  r->skipped++;
  if (r->shown++ < PRODUCE_SHOW_ERRORS) fprintf(stderr, "leadpoet produce: line %ld: %s\n", line, what);
}

static void on_delivery(void *ud, int err, const char *reason, int32_t partition, int64_t offset) {
  produce_run *r = ud;
  (void)partition;
  (void)offset;
  if (err == 0) {
    r->delivered++;
    return;
  }
  r->failed++;
  if (r->shown++ < PRODUCE_SHOW_ERRORS) fprintf(stderr, "leadpoet produce: not delivered: %s\n", reason);
}

/* Produces one line (trimmed, not blank). Waits on the loop while librdkafka's queue is full. Returns 0, or
 * -1 on an error that stops the run (printed). */
static int produce_line(produce_run *r, const produce_opts *o, const char *topic, const char *s, size_t n,
                        long lineno) {
  json_t *doc = json_loadb(s, n, 0, NULL);
  const char *key = NULL;
  if (doc) {
    json_t *k = o->outcomes ? json_object_get(doc, "domain") : json_object_get(json_object_get(doc, "lead"), "domain");
    key = json_string_value(k);
  }
  char canon[LP_DOMAIN_BUF];
  size_t canon_len = 0;
  lp_reject rej;
  if (key && lp_domain_canonicalize(key, strlen(key), canon, sizeof(canon), &canon_len, &rej) == LP_OK) key = canon;
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  const void *value = s;
  size_t value_len = n;
  lp_kafka_header ct = { LP_KAFKA_H_CONTENT_TYPE, "application/json", 16 };
  if (o->msgpack) {
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (!doc || pack_json(&pk, doc) != 0) {
      line_error(r, lineno, doc ? "out of memory encoding msgpack" : "not JSON: cannot re-encode to msgpack");
      msgpack_sbuffer_destroy(&sb);
      json_decref(doc);
      return 0;
    }
    value = sb.data;
    value_len = sb.size;
    ct = (lp_kafka_header){ LP_KAFKA_H_CONTENT_TYPE, "application/msgpack", 19 };
  }
  lp_kafka_msg m = { .topic = topic, .partition = -1, .key = key, .key_len = key ? strlen(key) : 0,
                     .value = value, .value_len = value_len, .headers = &ct, .nheaders = 1 };
  char err[512];
  int rc;
  while ((rc = lp_kafka_produce(r->p, &m, on_delivery, r, err, sizeof(err))) == LP_EAGAIN)
    uv_run(&r->loop, UV_RUN_ONCE);  /* queue full: serve delivery reports, then retry */
  msgpack_sbuffer_destroy(&sb);
  json_decref(doc);
  if (rc != 0) {
    fprintf(stderr, "leadpoet produce: line %ld: %s\n", lineno, err);
    return -1;
  }
  r->sent++;
  uv_run(&r->loop, UV_RUN_NOWAIT);
  return 0;
}

/* Reads a line into b without its newline; 1 with a line, 0 at EOF, -1 on error; *too_long past 1 MiB. */
static int read_line(FILE *in, lp_buf *b, int *too_long) {
  lp_buf_reset(b);
  *too_long = 0;
  int any = 0, ch;
  while ((ch = getc_unlocked(in)) != EOF) {
    any = 1;
    if (ch == '\n') return 1;
    if (*too_long) continue;
    if (b->len >= PRODUCE_MAX_LINE) {
      *too_long = 1;
      continue;
    }
    char c = (char)ch;
    if (lp_buf_append(b, &c, 1) != 0) return -1;
  }
  if (ferror(in)) return -1;
  return any;
}

static int produce_file(produce_run *r, const produce_opts *o, FILE *in, const char *name) {
  const char *topic = o->outcomes ? LP_KAFKA_TOPIC_OUTCOMES : LP_KAFKA_TOPIC_SNIPPETS;
  lp_buf line = LP_BUF_INIT;
  long lineno = 0;
  int rc = 0;
  for (;;) {
    int too_long;
    int got = read_line(in, &line, &too_long);
    if (got < 0) {
      fprintf(stderr, "leadpoet produce: read %s after line %ld: %s\n", name, lineno, strerror(errno));
      rc = 1;
      break;
    }
    if (got == 0) break;
    lineno++;
    if (too_long) {
      line_error(r, lineno, "line over 1 MiB, not sent");
      continue;
    }
    size_t a = 0, z = line.len;
    while (a < z && (line.data[a] == ' ' || line.data[a] == '\t')) a++;
    while (z > a && (line.data[z - 1] == ' ' || line.data[z - 1] == '\t' || line.data[z - 1] == '\r')) z--;
    if (a == z) continue;
    if (produce_line(r, o, topic, line.data + a, z - a, lineno) != 0) {
      rc = 1;
      break;
    }
  }
  lp_buf_free(&line);
  return rc;
}

static void on_closed(void *ud) { ((produce_run *)ud)->closed = 1; }

int lp_cmd_produce(int argc, char **argv) {
  produce_opts o;
  int code = produce_parse(argc, argv, &o);
  if (code >= 0) return code;
  produce_run r;
  memset(&r, 0, sizeof(r));
  uv_loop_init(&r.loop);
  /* murmur2 on the canonical domain: the partition the server's shard function names (a -X partitioner=...
   * given by the user comes later and wins). */
  const char *props[PRODUCE_MAX_PROPS + 1] = { "partitioner=murmur2_random" };
  memcpy(props + 1, o.props, o.nprops * sizeof(char *));
  lp_kafka_conf conf = { .brokers = o.brokers, .client_id = "leadpoet-produce", .shards = 1, .props = props,
                         .nprops = o.nprops + 1, .flush_timeout_ms = PRODUCE_FLUSH_MS };
  char err[512];
  int rc = lp_kafka_producer_new(&r.loop, &conf, &r.p, err, sizeof(err));
  if (rc != 0) {
    fprintf(stderr, "leadpoet produce: %s\n", err);
    uv_loop_close(&r.loop);
    return rc == LP_ECONFIG || rc == LP_EINVAL ? 2 : 1;
  }
  int from_stdin = strcmp(o.file, "-") == 0;
  const char *name = from_stdin ? "stdin" : o.file;
  FILE *in = from_stdin ? stdin : fopen(o.file, "r");
  uint64_t t0 = lp_mono_ns();
  if (!in) {
    fprintf(stderr, "leadpoet produce: cannot open %s: %s\n", o.file, strerror(errno));
    code = 1;
  } else {
    code = produce_file(&r, &o, in, name);
    if (!from_stdin) fclose(in);
  }
  lp_kafka_producer_close(r.p, on_closed, &r);  /* waits for every delivery report, bounded */
  while (!r.closed) uv_run(&r.loop, UV_RUN_ONCE);
  uv_loop_close(&r.loop);
  long lost = r.sent - r.delivered - r.failed;
  if (code == 0 && (r.failed || r.skipped || lost)) code = 1;
  double s = (double)(lp_mono_ns() - t0) / 1e9;
  if (!o.quiet || code != 0) {
    fprintf(code ? stderr : stdout,
            "%s -> %s (%s, %s): sent %ld, delivered %ld, failed %ld, not sent %ld%s, %.2f s\n", name,
            o.outcomes ? LP_KAFKA_TOPIC_OUTCOMES : LP_KAFKA_TOPIC_SNIPPETS, o.brokers,
            o.msgpack ? "msgpack" : "json", r.sent, r.delivered, r.failed + lost, r.skipped,
            lost ? " (no report before the flush timeout)" : "", s);
  }
  return code;
}
