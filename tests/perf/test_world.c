/*
 * test_world.c: perf/world, the simulated market, run as its binary (build/perf/world/world). Every
 * snippet and outcome it writes must pass the real ingest checks (stages/ingest) unless it is one of the
 * deliberately bad records, whose share follows --bad-rate; the output is a function of the seed alone.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "helpers/helpers.h"
#include "stages/ingest/ingest.h"

#define WORLD_BIN LP_BUILD_DIR "/perf/world/world"

/* Runs the generator with args (NULL-terminated), stdout to out_path (or /dev/null) and stderr to
 * /dev/null; returns its exit status, or -1 if it did not exit normally. */
static int run_world(const char *out_path, const char *const *args) {
  const char *argv[64];
  int n = 0;
  argv[n++] = WORLD_BIN;
  for (; *args && n < 62; args++) argv[n++] = *args;
  argv[n] = NULL;
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    int fd = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int nul = open("/dev/null", O_WRONLY);
    if (fd < 0 || nul < 0) _exit(127);
    dup2(fd, 1);
    dup2(nul, 2);
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  int st = 0;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *make_dir(void) {
  char *d = lp_strdup("/tmp/lp-world-XXXXXX");
  cr_assert_not_null(mkdtemp(d));
  return d;
}

static void remove_dir(char *d) {
  static const char *const files[] = { "snippets.jsonl", "outcomes.jsonl", "prompts.jsonl", "truth.jsonl", "stream.jsonl" };
  char p[512];
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    snprintf(p, sizeof p, "%s/%s", d, files[i]);
    unlink(p);
  }
  rmdir(d);
  lp_free(d);
}

static char *read_in(const char *dir, const char *name, size_t *len) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  char *s = lpt_read_file(p, len);
  cr_assert_not_null(s, "cannot read %s", p);
  return s;
}

/* A small world: every test runs in a second or two under the sanitizers. */
static void small_world(const char *dir, const char *seed, const char *bad_rate, const char *dup_rate) {
  const char *args[] = { "--out", dir, "--seed", seed, "--leads", "2000", "--miners", "20", "--snippets", "20000",
                         "--outcomes", "3000", "--bad-rate", bad_rate, "--dup-rate", dup_rate, "--horizon-days",
                         "60", "--quiet", NULL };
  cr_assert_eq(run_world(NULL, args), 0, "world failed");
}

typedef void (*line_fn)(void *ud, const char *line, size_t n);

static size_t each_line(char *text, size_t len, line_fn fn, void *ud) {
  size_t lines = 0;
  char *p = text, *end = text + len;
  while (p < end) {
    char *nl = memchr(p, '\n', (size_t)(end - p));
    cr_assert_not_null(nl, "the last line has no newline");
    fn(ud, p, (size_t)(nl - p));
    lines++;
    p = nl + 1;
  }
  return lines;
}

static json_t *parse(const char *line, size_t n) {
  json_error_t err;
  json_t *v = json_loadb(line, n, 0, &err);
  cr_assert_not_null(v, "line does not parse (%s): %.*s", err.text, (int)n, line);
  cr_assert(json_is_object(v));
  return v;
}

/* Contract section 1 by hand: the types of every field present. */
static void check_snippet_types(const json_t *v) {
  const json_t *lead = json_object_get(v, "lead");
  cr_assert(json_is_string(json_object_get(v, "id")));
  cr_assert(json_is_string(json_object_get(v, "miner")));
  cr_assert(json_is_integer(json_object_get(v, "ts")));
  cr_assert(json_is_object(lead));
  cr_assert(json_is_string(json_object_get(lead, "domain")));
  static const char *const opt_str[] = { "name", "industry", "country", "role" };
  for (size_t i = 0; i < 4; i++) {
    const json_t *f = json_object_get(lead, opt_str[i]);
    cr_assert(!f || json_is_string(f), "lead.%s is not a string", opt_str[i]);
  }
  const json_t *e = json_object_get(lead, "employees");
  cr_assert(!e || (json_is_integer(e) && json_integer_value(e) >= 1));
  cr_assert(json_is_string(json_object_get(v, "kind")));
  cr_assert(json_is_string(json_object_get(v, "text")));
  const json_t *url = json_object_get(v, "url");
  cr_assert(!url || json_is_string(url));
  static const char *const arrays[] = { "tech_added", "tech_removed" };
  for (size_t i = 0; i < 2; i++) {
    const json_t *a = json_object_get(v, arrays[i]);
    if (!a) continue;
    cr_assert(json_is_array(a) && json_array_size(a) >= 1 && json_array_size(a) <= 64);
    for (size_t k = 0; k < json_array_size(a); k++) cr_assert(json_is_string(json_array_get(a, k)));
  }
}

typedef struct check_ctx {
  lp_ingest_rules rules;
  int64_t now_ms;
  size_t accepted, rejected, by_code[4];
  json_t *ids;               /* "miner/id" -> the line, to find replays */
  size_t replays;
  int strict;                /* every line must be accepted and typed */
} check_ctx;

static void check_snippet(void *ud, const char *line, size_t n) {
  check_ctx *c = ud;
  json_t *v = parse(line, n);
  if (c->strict) check_snippet_types(v);
  lp_snippet *s = NULL;
  lp_reject rej = { NULL, "" };
  int rc = lp_snippet_from_json(v, &c->rules, c->now_ms, &s, &rej);
  if (rc == 0) {
    c->accepted++;
    char key[160];
    snprintf(key, sizeof key, "%.*s/%.*s", (int)s->miner.len, s->miner.ptr, (int)s->id.len, s->id.ptr);
    const json_t *prev = json_object_get(c->ids, key);
    if (prev) {  /* a replay is an exact copy of the earlier line */
      cr_assert(json_string_length(prev) == n && memcmp(json_string_value(prev), line, n) == 0,
                "a (miner, id) seen twice with different bytes: %s", key);
      c->replays++;
    } else {
      json_object_set_new(c->ids, key, json_stringn(line, n));
    }
    lp_free(s);
  } else {
    cr_assert(!c->strict, "a good record was rejected (%s: %s): %.*s", rej.code, rej.message, (int)n, line);
    c->rejected++;
    static const char *const codes[] = { "bad_field", "b2c_domain", "pii", "future_ts" };
    int known = 0;
    for (int i = 0; i < 4; i++)
      if (strcmp(rej.code, codes[i]) == 0) c->by_code[i]++, known = 1;
    cr_assert(known, "unexpected rejection code %s", rej.code);
  }
  json_decref(v);
}

static void ctx_init(check_ctx *c, int strict) {
  memset(c, 0, sizeof *c);
  lp_domain_set *b2c = NULL;
  cr_assert_eq(lp_domain_set_builtin(&b2c), 0);
  c->rules.max_future_ms = 600000;
  c->rules.shards = 64;
  c->rules.b2c = b2c;
  c->now_ms = lp_now_ms();
  c->ids = json_object();
  c->strict = strict;
}

static void ctx_free(check_ctx *c) {
  lp_domain_set_free((lp_domain_set *)c->rules.b2c);
  json_decref(c->ids);
}

Test(world, same_seed_same_bytes_other_seed_other_bytes) {
  char *a = make_dir(), *b = make_dir(), *c = make_dir();
  small_world(a, "7", "0.01", "0.005");
  small_world(b, "7", "0.01", "0.005");
  small_world(c, "8", "0.01", "0.005");
  static const char *const files[] = { "snippets.jsonl", "outcomes.jsonl", "prompts.jsonl", "truth.jsonl" };
  for (size_t i = 0; i < 4; i++) {
    size_t la, lb, lc;
    char *fa = read_in(a, files[i], &la), *fb = read_in(b, files[i], &lb), *fc = read_in(c, files[i], &lc);
    cr_assert_gt(la, 0, "%s is empty", files[i]);
    cr_assert(la == lb && memcmp(fa, fb, la) == 0, "%s differs between two runs of one seed", files[i]);
    cr_assert(la != lc || memcmp(fa, fc, la) != 0, "%s is the same for two seeds", files[i]);
    free(fa);
    free(fb);
    free(fc);
  }
  remove_dir(a);
  remove_dir(b);
  remove_dir(c);
}

Test(world, every_good_snippet_passes_the_ingest_checks) {
  char *d = make_dir();
  small_world(d, "3", "0", "0");
  size_t len;
  char *text = read_in(d, "snippets.jsonl", &len);
  check_ctx c;
  ctx_init(&c, 1);
  size_t lines = each_line(text, len, check_snippet, &c);
  cr_assert_eq(lines, 20000);
  cr_assert_eq(c.accepted, 20000);
  cr_assert_eq(c.replays, 0);
  ctx_free(&c);
  free(text);
  remove_dir(d);
}

Test(world, bad_records_follow_the_bad_rate_and_replays_are_exact) {
  char *d = make_dir();
  small_world(d, "5", "0.05", "0.01");
  size_t len;
  char *text = read_in(d, "snippets.jsonl", &len);
  check_ctx c;
  ctx_init(&c, 0);
  size_t lines = each_line(text, len, check_snippet, &c);
  cr_assert_eq(lines, 20000);
  /* 5 % of 20,000 = 1,000 expected; a wide band (counts, not times). */
  cr_assert(c.rejected >= 600 && c.rejected <= 1400, "%zu rejected", c.rejected);
  for (int i = 0; i < 4; i++) cr_assert_gt(c.by_code[i], 50, "rejection code %d seen %zu times", i, c.by_code[i]);
  cr_assert(c.replays >= 50 && c.replays <= 400, "%zu replays", c.replays);
  ctx_free(&c);
  free(text);
  remove_dir(d);
}

typedef struct truth_ctx {
  json_t *companies;         /* domain -> fabricated (bool) */
  size_t miners, spammers, cycles;
} truth_ctx;

static void read_truth_line(void *ud, const char *line, size_t n) {
  truth_ctx *t = ud;
  json_t *v = parse(line, n);
  const char *type = json_string_value(json_object_get(v, "type"));
  cr_assert_not_null(type);
  if (strcmp(type, "company") == 0) {
    const char *dom = json_string_value(json_object_get(v, "domain"));
    cr_assert_not_null(dom);
    cr_assert_null(json_object_get(t->companies, dom), "domain %s twice", dom);
    json_object_set(t->companies, dom, json_object_get(v, "fabricated"));
  } else if (strcmp(type, "miner") == 0) {
    t->miners++;
    t->spammers += strcmp(json_string_value(json_object_get(v, "kind")), "spammer") == 0;
  } else if (strcmp(type, "cycle") == 0) {
    t->cycles++;
  }
  json_decref(v);
}

typedef struct outcome_ctx {
  const truth_ctx *truth;
  lp_ingest_rules rules;
  size_t lines, purchased, bounced;
} outcome_ctx;

static void check_outcome(void *ud, const char *line, size_t n) {
  outcome_ctx *o = ud;
  json_t *v = parse(line, n);
  lp_outcome *out = NULL;
  lp_reject rej = { NULL, "" };
  cr_assert_eq(lp_outcome_from_json(v, &o->rules, lp_now_ms(), &out, &rej), 0, "outcome rejected (%s: %s): %.*s",
               rej.code, rej.message, (int)n, line);
  const char *dom = json_string_value(json_object_get(v, "domain"));
  cr_assert_not_null(json_object_get(o->truth->companies, dom), "outcome for an unknown domain %s", dom);
  const char *ev = json_string_value(json_object_get(v, "event"));
  if (strcmp(ev, "purchased") == 0) {
    o->purchased++;
    cr_assert(json_is_string(json_object_get(v, "product")), "a purchase without product text");
  }
  o->bounced += strcmp(ev, "bounced") == 0;
  o->lines++;
  lp_free(out);
  json_decref(v);
}

typedef struct prompt_ctx {
  const truth_ctx *truth;
  size_t prompts;
} prompt_ctx;

static void check_prompt(void *ud, const char *line, size_t n) {
  prompt_ctx *p = ud;
  json_t *v = parse(line, n);
  cr_assert(json_is_string(json_object_get(v, "prompt")) && json_string_length(json_object_get(v, "prompt")) > 0);
  cr_assert(json_is_string(json_object_get(v, "product")));
  const json_t *truth = json_object_get(v, "truth");
  cr_assert(json_is_array(truth) && json_array_size(truth) > 0, "a prompt without buyers: %.*s", (int)n, line);
  for (size_t i = 0; i < json_array_size(truth); i++) {
    const json_t *fab = json_object_get(p->truth->companies, json_string_value(json_array_get(truth, i)));
    cr_assert(json_is_false(fab), "a buyer that is not a real company: %s", json_string_value(json_array_get(truth, i)));
  }
  p->prompts++;
  json_decref(v);
}

Test(world, outcomes_and_prompts_refer_to_the_generated_companies) {
  char *d = make_dir();
  small_world(d, "11", "0.01", "0.005");
  size_t len;
  truth_ctx t = { json_object(), 0, 0, 0 };
  char *text = read_in(d, "truth.jsonl", &len);
  each_line(text, len, read_truth_line, &t);
  free(text);
  cr_assert_eq(t.miners, 20);
  cr_assert_eq(t.spammers, 2);  /* --spam-frac 0.1 of 20 */
  cr_assert_gt(json_object_size(t.companies), 2000);  /* 2,000 real + fabricated ones */
  cr_assert_gt(t.cycles, 500);

  lp_domain_set *b2c = NULL;
  cr_assert_eq(lp_domain_set_builtin(&b2c), 0);
  outcome_ctx o = { &t, { 600000, 64, b2c }, 0, 0, 0 };
  text = read_in(d, "outcomes.jsonl", &len);
  each_line(text, len, check_outcome, &o);
  free(text);
  cr_assert_eq(o.lines, 3000);
  cr_assert_gt(o.purchased, 0);
  cr_assert_gt(o.bounced, 0);
  lp_domain_set_free(b2c);

  prompt_ctx p = { &t, 0 };
  text = read_in(d, "prompts.jsonl", &len);
  each_line(text, len, check_prompt, &p);
  free(text);
  cr_assert_geq(p.prompts, 20, "only %zu prompts have buyers", p.prompts);
  json_decref(t.companies);
  remove_dir(d);
}

Test(world, stream_emits_the_limit_of_valid_lines_then_stops) {
  char *d = make_dir();
  char path[512];
  snprintf(path, sizeof path, "%s/stream.jsonl", d);
  const char *args[] = { "--stream", "--rate", "2000", "--stream-limit", "300", "--leads", "500", "--miners", "10",
                         "--bad-rate", "0", "--quiet", NULL };
  cr_assert_eq(run_world(path, args), 0);
  size_t len;
  char *text = lpt_read_file(path, &len);
  cr_assert_not_null(text);
  check_ctx c;
  ctx_init(&c, 1);
  cr_assert_eq(each_line(text, len, check_snippet, &c), 300);
  cr_assert_eq(c.accepted, 300);
  ctx_free(&c);
  free(text);
  remove_dir(d);
}

Test(world, usage_and_runtime_errors) {
  const char *unknown[] = { "--bogus", NULL };
  const char *zero_leads[] = { "--leads", "0", NULL };
  const char *bad_rate[] = { "--bad-rate", "2", NULL };
  const char *not_number[] = { "--snippets", "12x", NULL };
  const char *missing[] = { "--seed", NULL };
  const char *fracs[] = { "--spam-frac", "0.6", "--sloppy-frac", "0.6", NULL };
  cr_assert_eq(run_world(NULL, unknown), 2);
  cr_assert_eq(run_world(NULL, zero_leads), 2);
  cr_assert_eq(run_world(NULL, bad_rate), 2);
  cr_assert_eq(run_world(NULL, not_number), 2);
  cr_assert_eq(run_world(NULL, missing), 2);
  cr_assert_eq(run_world(NULL, fracs), 2);
  const char *help[] = { "--help", NULL };
  cr_assert_eq(run_world(NULL, help), 0);
  const char *unwritable[] = { "--out", "/proc/lp-world-cannot-exist", "--leads", "10", "--snippets", "10", NULL };
  cr_assert_eq(run_world(NULL, unwritable), 1);
}
