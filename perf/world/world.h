/*
 * world.h: the simulated B2B market of perf/world (see README.md): companies, hidden buying cycles,
 * miners of three kinds, and the writers of snippets, outcomes, prompts and the truth. Single-threaded:
 * a wd_world is built once and then only read by the writers; every writer owns its own PRNG stream, so
 * the output of each file depends only on the seed and the flags that shape it.
 */
#ifndef LP_WORLD_H
#define LP_WORLD_H

#include <stddef.h>
#include <stdint.h>

#include "out.h"
#include "rng.h"

#define WD_DAY_MS 86400000LL
#define WD_MAX_TECH 15
#define WD_MAX_CYCLES 3

typedef struct wd_config {
  uint64_t seed;
  uint64_t leads;            /* real companies */
  uint32_t miners;
  uint64_t snippets;
  uint64_t outcomes;         /* outcome lines */
  uint32_t days;             /* simulated window ending at now_ms */
  uint32_t horizon_days;     /* prompts' truth: purchases in (now, now + horizon] */
  int64_t now_ms;
  double bad_rate;           /* share of invalid snippet lines */
  double dup_rate;           /* share of exact replays of an earlier line */
  double spam_frac;          /* share of miners that spam */
  double sloppy_frac;        /* share of miners that are sloppy */
  double cycles_per_lead;    /* mean buying cycles per company over the window */
  double fabricated_frac;    /* fabricated companies per real one (spammers' inventions) */
} wd_config;

enum { WD_MINER_HONEST, WD_MINER_SLOPPY, WD_MINER_SPAMMER };
enum { WD_TRIG_FUNDING, WD_TRIG_HIRE, WD_TRIG_REMOVED, WD_TRIG_GROWTH, WD_TRIG_PAIN, WD_TRIG_COUNT };

typedef struct wd_company {
  uint32_t name_off;         /* NUL-terminated strings in wd_world.strings */
  uint32_t domain_off;
  uint32_t employees;
  uint32_t cycle0;           /* its cycles: cycles[cycle0 .. cycle0 + n_cycles) */
  uint8_t n_cycles;
  uint8_t industry, country, fabricated;
  uint8_t n_tech;
  uint8_t tech[WD_MAX_TECH]; /* indices into wd_techs: the stack at the start of the window */
} wd_company;

typedef struct wd_cycle {
  int64_t t0;                /* trigger */
  int64_t t_peak;            /* intent at its highest */
  int64_t t_end;             /* purchase (bought) or end of the decay */
  uint32_t company;
  uint8_t product, trigger, bought;
  uint8_t removed;           /* tech removed at t0 (WD_TRIG_REMOVED) or WD_NONE */
} wd_cycle;

typedef struct wd_miner {
  char id[32];
  uint8_t kind;
  uint32_t weight;           /* relative share of snippet picks */
} wd_miner;

typedef struct wd_world {
  wd_config cfg;
  int64_t start_ms;          /* now_ms - days */
  wd_company *companies;     /* n_real real ones, then n_fab fabricated ones */
  uint32_t n_real, n_fab;
  char *strings;
  size_t strings_len, strings_cap;
  wd_cycle *cycles;
  uint32_t n_cycles;
  uint32_t *by_t0;           /* cycle indices by (t0, index) */
  uint32_t *prod_off;        /* cycles of product p: prod_cycles[prod_off[p] .. prod_off[p + 1]) */
  uint32_t *prod_cycles;
  int16_t (*replaces)[4];    /* per product: wd_techs indices of replaces[] (-1 past the end) */
  int16_t *excludes;         /* per product: index of excludes, or -1 */
  wd_miner *miners;
  uint32_t n_miners;
  uint64_t miner_weight_total;
} wd_world;

/* Builds the market of cfg (companies, stacks, cycles, miners). Returns 0, LP_ENOMEM, or LP_EINVAL for a
 * configuration it cannot honour, with a message in errstr. The world owns everything it allocates:
 * release it with wd_world_free (also after a failure). Takes O(leads) memory and time. */
int wd_world_build(wd_world *w, const wd_config *cfg, char *errstr, size_t errlen);
void wd_world_free(wd_world *w);

static inline const char *wd_domain(const wd_world *w, uint32_t c) { return w->strings + w->companies[c].domain_off; }
static inline const char *wd_name(const wd_world *w, uint32_t c) { return w->strings + w->companies[c].name_off; }

/* Intent in [0, 1] of cycle c at event time t (0 before its trigger and once it is over). */
double wd_cycle_intent(const wd_cycle *c, int64_t t);
/* Last event time at which cycle c still produces evidence (a purchase shows up as an adopted tool for a
 * while after it). */
int64_t wd_cycle_visible_until(const wd_cycle *c);
/* 1 if company c uses tech (at the start of the window). */
int wd_company_uses(const wd_company *c, unsigned tech);
/* 1 if company c fits product p's hard constraints (size, region, excluded tool). */
int wd_product_fits(const wd_world *w, uint32_t c, unsigned p);
const char *wd_miner_kind_name(unsigned kind);
const char *wd_trigger_name(unsigned trig);

/* ---- Snippets --------------------------------------------------------------------------------------- */

typedef struct wd_snipgen wd_snipgen;

typedef struct wd_snip_stats {
  uint64_t lines, bad, replays, spam, by_kind[3]; /* by_kind: lines per miner kind (good ones) */
  uint64_t bad_by_type[4];   /* bad_field, b2c_domain, pii, future_ts */
} wd_snip_stats;

/* A snippet generator over w (which must outlive it). nonce, when non-zero, prefixes every snippet id
 * (stream mode: ids stay unique across runs). Returns NULL when out of memory. */
wd_snipgen *wd_snipgen_new(const wd_world *w, uint64_t nonce);
void wd_snipgen_free(wd_snipgen *g);
/* Appends one snippet line (with its '\n') to line. ts is the event time written; world_t the time in the
 * world's schedule that decides the content (equal in file mode; wall clock folded into the window in
 * stream mode). world_t must not decrease between calls, except that a call with a world_t before the
 * previous one restarts the schedule from the beginning. Returns 0 or LP_ENOMEM. */
int wd_snipgen_next(wd_snipgen *g, int64_t ts, int64_t world_t, wd_line *line);
const wd_snip_stats *wd_snipgen_stats(const wd_snipgen *g);

/* ---- Outcomes, prompts, truth --------------------------------------------------------------------- */

typedef struct wd_outcome_stats {
  uint64_t lines, by_event[8];
} wd_outcome_stats;

/* Write cfg.outcomes outcome lines / the prompts / the truth to out. Return 0 or the writer's error. */
int wd_write_outcomes(const wd_world *w, wd_out *out, wd_outcome_stats *st);
int wd_write_prompts(const wd_world *w, wd_out *out, uint64_t *n_prompts, uint64_t *n_truth);
int wd_write_truth(const wd_world *w, wd_out *out, uint64_t *lines);

#endif
