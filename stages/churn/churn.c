/*
 * churn.c: the built-in stage "churn": its [stage.churn] keys, and the counters of the technology changes
 * it sees. The ETL itself (etl.c, summary.c) runs in the shard's step right after the lead table applied
 * the snippet, on the lead it changed, with the conf this stage parsed (lp_churn_conf_of): a stage callback
 * receives the snippet but never the lead, and the lead table is where the profile and the query read the
 * stack (docs/adr/0007-churn-etl.md).
 */
#include <stddef.h>
#include <stdio.h>

#include "stage/stage_int.h"
#include "stages/churn/churn.h"

#define DAY_MS 86400000.0

const lp_churn_conf lp_churn_defaults = {
  .window_short = 30 * 86400000LL,
  .window_long = 90 * 86400000LL,
  .max_technologies = 256,
  .max_history = 64,
  .text_mentions = 1,
};

static const lp_conf_key churn_conf_keys[] = {
  { "window_short", LP_CONF_DURATION_MS, "30d", 3600000, 3650 * DAY_MS, offsetof(lp_churn_conf, window_short),
    "the short window of event time over which a lead's added / removed technologies are counted per category "
    "(GET /v1/leads/{domain}: added_30d, removed_30d); at most window_long" },
  { "window_long", LP_CONF_DURATION_MS, "90d", 3600000, 3650 * DAY_MS, offsetof(lp_churn_conf, window_long),
    "the long window (added_90d, removed_90d); a technology removed in it and not re-added makes its "
    "categories a buying trigger in the profile" },
  { "max_technologies", LP_CONF_INT, "256", 1, 1024, offsetof(lp_churn_conf, max_technologies),
    "technologies kept per lead, in use and removed together (40 bytes each); when full the oldest removed "
    "one is forgotten first" },
  { "max_history", LP_CONF_INT, "64", 1, 1024, offsetof(lp_churn_conf, max_history),
    "technology changes (tech_added / tech_removed) kept per lead, the oldest forgotten first (24 bytes "
    "each): the windows count what is kept" },
  { "text_mentions", LP_CONF_BOOL, "true", 0, 0, offsetof(lp_churn_conf, text_mentions),
    "technologies named in the text of a snippet of kind tech count as seen in use (never reviving a "
    "removed one)" },
  { NULL, 0, NULL, 0, 0, 0, NULL },
};

/* The stage-wide state: the conf first, so that lp_churn_conf_of can hand it out, then the counters. */
typedef struct churn_stage {
  lp_churn_conf conf;
  const lp_host_api *host;
  lp_counter *changes[2];   /* added, removed */
} churn_stage;

static int churn_init(const lp_host_api *host, const void *conf, void **stage, char *errstr, size_t errstr_size) {
  *stage = NULL;
  const lp_churn_conf *c = conf;
  if (c->window_short > c->window_long) {
    snprintf(errstr, errstr_size, "window_short (%lld ms) is longer than window_long (%lld ms)",
             (long long)c->window_short, (long long)c->window_long);
    return LP_ECONFIG;
  }
  churn_stage *st = host->calloc(1, sizeof(*st));
  if (st == NULL) {
    snprintf(errstr, errstr_size, "out of memory");
    return LP_ENOMEM;
  }
  st->conf = *c;
  st->host = host;
  st->changes[0] = host->counter("churn", "tech_changes", "Technology changes reported by snippets, by change.", "added");
  st->changes[1] = host->counter("churn", "tech_changes", "Technology changes reported by snippets, by change.", "removed");
  *stage = st;
  return LP_OK;
}

static void churn_destroy(void *stage) {
  churn_stage *st = stage;
  if (st != NULL) st->host->free(st);
}

/* Counts the changes; the lead is updated by the shard right after the stages (see the top comment). */
static int churn_on_snippet(void *shard_state, const lp_snippet *s, lp_verdict *v) {
  (void)v;
  churn_stage *st = shard_state;
  if (s->n_tech_added && st->changes[0]) st->host->counter_add(st->changes[0], s->n_tech_added);
  if (s->n_tech_removed && st->changes[1]) st->host->counter_add(st->changes[1], s->n_tech_removed);
  return LP_STAGE_CONTINUE;
}

static const lp_stage_desc churn_desc = {
  LP_STAGE_DESC_HEADER,
  .name = "churn",
  .description = "churn ETL: each lead's tech stack over event time (first / last seen, removed), its changes, "
                 "and added / removed per category in two windows; a removal is a buying trigger",
  .conf_keys = churn_conf_keys,
  .conf_size = sizeof(lp_churn_conf),
  .init = churn_init,
  .on_snippet = churn_on_snippet,
  .destroy = churn_destroy,
};

const lp_stage_desc *lp_stage_churn_entry(void) { return &churn_desc; }

const lp_churn_conf *lp_churn_conf_of(const lp_stages *st) {
  int i = lp_stages_find(st, "churn");
  if (i < 0 || st->v[i].desc.init != churn_init || st->v[i].state == NULL) return &lp_churn_defaults;
  return &((const churn_stage *)st->v[i].state)->conf;
}
