/*
 * world.c: `perf/world`, a deterministic simulated B2B market written as JSON Lines for `leadpoet ingest`
 * (see README.md for the model, the flags and examples). File mode writes snippets.jsonl, outcomes.jsonl,
 * prompts.jsonl and truth.jsonl into --out and prints a summary on stderr; --stream writes snippets to
 * stdout at --rate per second, event time = wall clock, until killed or --stream-limit lines.
 * Exit status: 0 ok, 1 runtime error, 2 usage error.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "data.h"
#include "leadpoet/common.h"
#include "world.h"

typedef struct opts {
  wd_config cfg;
  const char *out_dir;
  int stream, quiet;
  double rate;
  uint64_t stream_limit;     /* 0 = forever */
} opts;

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig) { stop_flag = sig; }

static void usage(FILE *f) {
  fprintf(f,
    "usage: world [--out DIR] [options]          write a simulated market as JSON Lines\n"
    "       world --stream [--rate N] [options]  write snippets to stdout in real time\n"
    "\n"
    "  --seed N             PRNG seed (default 1): same seed and flags -> byte-identical files\n"
    "  --leads N            real companies (default 10000)\n"
    "  --miners N           miners (default 50)\n"
    "  --snippets N         snippet lines (default 100000)\n"
    "  --outcomes N         outcome lines (default 10000)\n"
    "  --days N             simulated window in days, ending at --now (default 180)\n"
    "  --horizon-days N     prompts' truth: purchases within N days after --now (default 30)\n"
    "  --now MS|now         end of the window, ms since the epoch (default 1767225600000 = 2026-01-01)\n"
    "  --bad-rate F         share of invalid snippet lines (default 0.01)\n"
    "  --dup-rate F         share of exact replays of earlier lines (default 0.005)\n"
    "  --spam-frac F        share of miners that spam (default 0.1)\n"
    "  --sloppy-frac F      share of miners that are sloppy (default 0.2)\n"
    "  --cycles-per-lead F  mean buying cycles per company (default 1.0, at most 3 each)\n"
    "  --fabricated F       fabricated companies per real one (default 0.05)\n"
    "  --out DIR            output directory, created if missing (default world-out)\n"
    "  --stream             write snippets to stdout forever (event time = wall clock)\n"
    "  --rate N             stream mode: lines per second (default 100)\n"
    "  --stream-limit N     stream mode: stop after N lines (default 0 = never)\n"
    "  --quiet              no summary on stderr\n"
    "  --help               this text\n");
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
  char *end;
  errno = 0;
  if (!s || !*s || *s == '-') return -1;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

static int parse_frac(const char *s, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  if (!s || !*s) return -1;
  double v = strtod(s, &end);
  if (errno || *end || !(v >= lo && v <= hi)) return -1;
  *out = v;
  return 0;
}

static int parse_args(int argc, char **argv, opts *o) {
  memset(o, 0, sizeof *o);
  wd_config *c = &o->cfg;
  c->seed = 1;
  c->leads = 10000;
  c->miners = 50;
  c->snippets = 100000;
  c->outcomes = 10000;
  c->days = 180;
  c->horizon_days = 30;
  c->now_ms = 1767225600000LL;
  c->bad_rate = 0.01;
  c->dup_rate = 0.005;
  c->spam_frac = 0.1;
  c->sloppy_frac = 0.2;
  c->cycles_per_lead = 1.0;
  c->fabricated_frac = 0.05;
  o->out_dir = "world-out";
  o->rate = 100;
  int now_given = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    uint64_t u = 0;
    int bad = 0, takes = 1;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      exit(0);
    } else if (strcmp(a, "--stream") == 0) { o->stream = 1; takes = 0; }
    else if (strcmp(a, "--quiet") == 0) { o->quiet = 1; takes = 0; }
    else if (strcmp(a, "--seed") == 0) bad = parse_u64(v, 0, UINT64_MAX, &c->seed);
    else if (strcmp(a, "--leads") == 0) bad = parse_u64(v, 1, 50000000, &c->leads);
    else if (strcmp(a, "--miners") == 0) { bad = parse_u64(v, 1, 100000, &u); c->miners = (uint32_t)u; }
    else if (strcmp(a, "--snippets") == 0) bad = parse_u64(v, 0, UINT64_MAX / 2, &c->snippets);
    else if (strcmp(a, "--outcomes") == 0) bad = parse_u64(v, 0, UINT64_MAX / 100, &c->outcomes);
    else if (strcmp(a, "--days") == 0) { bad = parse_u64(v, 1, 3650, &u); c->days = (uint32_t)u; }
    else if (strcmp(a, "--horizon-days") == 0) { bad = parse_u64(v, 1, 3650, &u); c->horizon_days = (uint32_t)u; }
    else if (strcmp(a, "--now") == 0) {
      now_given = 1;
      if (v && strcmp(v, "now") == 0) c->now_ms = lp_now_ms();
      else if ((bad = parse_u64(v, 400LL * 86400000, 253402300799999ULL, &u)) == 0) c->now_ms = (int64_t)u;
    }
    else if (strcmp(a, "--bad-rate") == 0) bad = parse_frac(v, 0, 1, &c->bad_rate);
    else if (strcmp(a, "--dup-rate") == 0) bad = parse_frac(v, 0, 1, &c->dup_rate);
    else if (strcmp(a, "--spam-frac") == 0) bad = parse_frac(v, 0, 1, &c->spam_frac);
    else if (strcmp(a, "--sloppy-frac") == 0) bad = parse_frac(v, 0, 1, &c->sloppy_frac);
    else if (strcmp(a, "--cycles-per-lead") == 0) bad = parse_frac(v, 0, 100, &c->cycles_per_lead);
    else if (strcmp(a, "--fabricated") == 0) bad = parse_frac(v, 0, 10, &c->fabricated_frac);
    else if (strcmp(a, "--out") == 0) { bad = !v || !*v; o->out_dir = v; }
    else if (strcmp(a, "--rate") == 0) bad = parse_frac(v, 0.001, 10000000, &o->rate);
    else if (strcmp(a, "--stream-limit") == 0) bad = parse_u64(v, 0, UINT64_MAX, &o->stream_limit);
    else {
      fprintf(stderr, "world: unknown option '%s' (see --help)\n", a);
      return -1;
    }
    if (bad) {
      fprintf(stderr, "world: %s needs a valid value, not '%s' (see --help)\n", a, v ? v : "(missing)");
      return -1;
    }
    i += takes;
  }
  if (c->spam_frac + c->sloppy_frac > 1.0) {
    fprintf(stderr, "world: --spam-frac + --sloppy-frac must be at most 1\n");
    return -1;
  }
  if (o->stream && !now_given) c->now_ms = lp_now_ms();
  return 0;
}

static double secs_since(uint64_t t0) { return (double)(lp_mono_ns() - t0) / 1e9; }

static void print_world(const wd_world *w, double secs) {
  unsigned kinds[3] = { 0, 0, 0 };
  for (uint32_t i = 0; i < w->n_miners; i++) kinds[w->miners[i].kind]++;
  fprintf(stderr, "world: seed %llu, %u leads (+%u fabricated), %u miners (%u honest, %u sloppy, %u spammers), "
          "%u buying cycles, built in %.2f s\n", (unsigned long long)w->cfg.seed, w->n_real, w->n_fab, w->n_miners,
          kinds[0], kinds[1], kinds[2], w->n_cycles, secs);
}

static void print_snippets(const char *what, const wd_snip_stats *st, uint64_t bytes, double secs) {
  fprintf(stderr, "%s: %llu lines (%llu bad: %llu bad_field, %llu b2c_domain, %llu pii, %llu future_ts; %llu replays; "
          "%llu spam), %.1f MB in %.2f s: %.0f snippets/s\n", what, (unsigned long long)st->lines,
          (unsigned long long)st->bad, (unsigned long long)st->bad_by_type[0], (unsigned long long)st->bad_by_type[1],
          (unsigned long long)st->bad_by_type[2], (unsigned long long)st->bad_by_type[3],
          (unsigned long long)st->replays, (unsigned long long)st->spam, (double)bytes / 1e6, secs,
          secs > 0 ? (double)st->lines / secs : 0.0);
}

static int open_in(wd_out *o, const char *dir, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int rc = wd_out_open(o, path, -1);
  if (rc != 0) fprintf(stderr, "world: cannot open %s: %s\n", path, strerror(o->errno_saved));
  return rc;
}

static int close_file(wd_out *o, const char *dir, const char *name) {
  int rc = wd_out_close(o);
  if (rc != 0)
    fprintf(stderr, "world: writing %s/%s failed: %s\n", dir, name,
            rc == LP_EIO ? strerror(o->errno_saved) : lp_strerror(rc));
  return rc;
}

static int write_snippets(const wd_world *w, const char *dir, int quiet) {
  wd_out out;
  if (open_in(&out, dir, "snippets.jsonl") != 0) {
    wd_out_close(&out);
    return 1;
  }
  wd_snipgen *g = wd_snipgen_new(w, 0);
  wd_line l = { NULL, 0, 0, 0 };
  uint64_t t0 = lp_mono_ns(), n = w->cfg.snippets;
  int64_t span = (int64_t)w->cfg.days * WD_DAY_MS;
  int rc = g ? 0 : LP_ENOMEM;
  for (uint64_t i = 0; rc == 0 && i < n; i++) {
    int64_t t = w->start_ms + (int64_t)((__int128)span * (__int128)i / (__int128)n);
    if ((rc = wd_snipgen_next(g, t, t, &l)) == 0) rc = wd_out_write(&out, l.p, l.len);
  }
  if (rc == LP_ENOMEM) fprintf(stderr, "world: out of memory writing snippets\n");
  int crc = close_file(&out, dir, "snippets.jsonl");
  if (rc == 0 && crc == 0 && !quiet) print_snippets("snippets.jsonl", wd_snipgen_stats(g), out.bytes, secs_since(t0));
  wd_line_free(&l);
  wd_snipgen_free(g);
  return rc || crc;
}

static int write_rest(const wd_world *w, const char *dir, int quiet) {
  wd_out out;
  uint64_t t0 = lp_mono_ns();
  wd_outcome_stats os;
  int rc = open_in(&out, dir, "outcomes.jsonl");
  if (rc == 0) rc = wd_write_outcomes(w, &out, &os);
  if (close_file(&out, dir, "outcomes.jsonl") != 0 || rc != 0) return 1;
  if (!quiet)
    fprintf(stderr, "outcomes.jsonl: %llu lines (%llu delivered, %llu opened, %llu replied, %llu meeting, %llu purchased, "
            "%llu bounced, %llu invalid, %llu spam), %.1f MB in %.2f s\n", (unsigned long long)os.lines,
            (unsigned long long)os.by_event[0], (unsigned long long)os.by_event[1], (unsigned long long)os.by_event[2],
            (unsigned long long)os.by_event[3], (unsigned long long)os.by_event[4], (unsigned long long)os.by_event[5],
            (unsigned long long)os.by_event[6], (unsigned long long)os.by_event[7], (double)out.bytes / 1e6,
            secs_since(t0));
  uint64_t n_prompts = 0, n_truth = 0, truth_lines = 0;
  t0 = lp_mono_ns();
  rc = open_in(&out, dir, "prompts.jsonl");
  if (rc == 0) rc = wd_write_prompts(w, &out, &n_prompts, &n_truth);
  if (close_file(&out, dir, "prompts.jsonl") != 0 || rc != 0) return 1;
  if (!quiet)
    fprintf(stderr, "prompts.jsonl: %llu prompts, %.1f buyers each on average within %u days, in %.2f s\n",
            (unsigned long long)n_prompts, n_prompts ? (double)n_truth / (double)n_prompts : 0.0, w->cfg.horizon_days,
            secs_since(t0));
  if (n_prompts == 0)
    fprintf(stderr, "world: warning: no product has a buyer within the horizon: raise --leads or --horizon-days\n");
  t0 = lp_mono_ns();
  rc = open_in(&out, dir, "truth.jsonl");
  if (rc == 0) rc = wd_write_truth(w, &out, &truth_lines);
  if (close_file(&out, dir, "truth.jsonl") != 0 || rc != 0) return 1;
  if (!quiet)
    fprintf(stderr, "truth.jsonl: %llu lines (world, miners, companies, cycles), %.1f MB in %.2f s\n",
            (unsigned long long)truth_lines, (double)out.bytes / 1e6, secs_since(t0));
  return 0;
}

/* Stream mode: lines paced against the monotonic clock in ticks of at most 10 ms, flushed every tick. */
static int run_stream(const wd_world *w, const opts *o) {
  wd_out out;
  wd_snipgen *g = wd_snipgen_new(w, (uint64_t)w->cfg.now_ms);
  wd_line l = { NULL, 0, 0, 0 };
  int rc = wd_out_open(&out, NULL, STDOUT_FILENO);
  if (rc == 0 && !g) rc = LP_ENOMEM;
  uint64_t t0 = lp_mono_ns(), sent = 0;
  int64_t span = (int64_t)w->cfg.days * WD_DAY_MS, wall0 = lp_now_ms();
  while (rc == 0 && !stop_flag && (o->stream_limit == 0 || sent < o->stream_limit)) {
    double el = secs_since(t0);
    uint64_t due = (uint64_t)(o->rate * el) + 1;
    if (o->stream_limit && due > o->stream_limit) due = o->stream_limit;
    while (rc == 0 && sent < due) {
      int64_t ts = lp_now_ms();
      int64_t wt = w->start_ms + (ts - wall0) % span;
      if ((rc = wd_snipgen_next(g, ts, wt, &l)) == 0) rc = wd_out_write(&out, l.p, l.len);
      sent++;
    }
    if (rc == 0) rc = wd_out_flush(&out);
    if (rc != 0 || (o->stream_limit && sent >= o->stream_limit)) break;
    double next = (double)(sent) / o->rate - secs_since(t0);  /* when the next line is due */
    if (next > 0.01) next = 0.01;
    if (next > 0) {
      struct timespec ts = { 0, (long)(next * 1e9) };
      nanosleep(&ts, NULL);
    }
  }
  int epipe = rc == LP_EIO && out.errno_saved == EPIPE;  /* the reader went away: a normal end */
  int crc = wd_out_close(&out);
  if (epipe) rc = crc = 0;
  if (rc == 0 && crc == 0 && !o->quiet && g) print_snippets("stream", wd_snipgen_stats(g), out.bytes, secs_since(t0));
  if (rc != 0 || crc != 0)
    fprintf(stderr, "world: stream failed: %s\n", out.err == LP_EIO ? strerror(out.errno_saved) : lp_strerror(rc ? rc : crc));
  wd_line_free(&l);
  wd_snipgen_free(g);
  return rc || crc;
}

int main(int argc, char **argv) {
  opts o;
  if (parse_args(argc, argv, &o) != 0) return 2;
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  if (!o.stream && mkdir(o.out_dir, 0755) != 0 && errno != EEXIST) {
    fprintf(stderr, "world: cannot create %s: %s\n", o.out_dir, strerror(errno));
    return 1;
  }
  uint64_t t0 = lp_mono_ns();
  wd_world w;
  char err[256] = "";
  if (wd_world_build(&w, &o.cfg, err, sizeof err) != 0) {
    fprintf(stderr, "world: %s\n", err);
    wd_world_free(&w);
    return 1;
  }
  if (!o.quiet) print_world(&w, secs_since(t0));
  int rc = o.stream ? run_stream(&w, &o) : write_snippets(&w, o.out_dir, o.quiet) || write_rest(&w, o.out_dir, o.quiet);
  if (!o.stream && rc == 0 && !o.quiet) fprintf(stderr, "total: %.2f s, files in %s/\n", secs_since(t0), o.out_dir);
  wd_world_free(&w);
  return rc ? 1 : 0;
}
