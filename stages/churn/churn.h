/*
 * churn.h: the built-in stage "churn", the churn ETL: each lead's tech stack over event time.
 *
 * What a snippet says about a lead's stack: tech_added and tech_removed (explicit changes, kept in the
 * lead's history), and, in a snippet of kind `tech`, the technologies its text names (the analyzer's
 * technology tokens): each counts as seen in use at the snippet's time. From the history, per category of
 * the technology table: how many distinct technologies were added and removed inside two windows of event
 * time (30 and 90 days by default), and whether a removal is a buying trigger for that category.
 *
 * Where the state lives: in the lead table (core/shard/leads.h, lp_tech and lp_churn), because the profile
 * route and the query path read a lead there; this module holds the rules and the stage holds the conf.
 * docs/adr/0007-churn-etl.md says why.
 *
 * Threads: lp_churn_apply, lp_churn_mentions and lp_churn_summary run on the worker that owns the lead's
 * shard. The conf is immutable once the stage's init() returned and is shared by every worker.
 */
#ifndef LP_STAGES_CHURN_H
#define LP_STAGES_CHURN_H

#include <stddef.h>
#include <stdint.h>

#include "leadpoet/stage.h"
#include "shard/leads.h"
#include "stage/registry.h"
#include "text/analyzer.h"
#include "text/techtable.h"

/* [stage.churn], filled by the host from the stage's conf_keys (churn.c). */
typedef struct lp_churn_conf {
  int64_t window_short;     /* ms of event time of the short window (30d) */
  int64_t window_long;      /* ms of event time of the long window (90d); a removal in it is a trigger */
  int64_t max_technologies; /* technologies kept per lead, in use and removed together */
  int64_t max_history;      /* changes kept per lead (the oldest forgotten first) */
  int text_mentions;        /* technologies named in tech snippets' text count as seen */
} lp_churn_conf;

/* The values of the stage's defaults, used when the stage is not in [stages] order. */
extern const lp_churn_conf lp_churn_defaults;

/* The conf of the loaded "churn" stage of st, or &lp_churn_defaults when st is NULL or has no such stage.
 * The pointer lives as long as st. Any thread once st is loaded. */
const lp_churn_conf *lp_churn_conf_of(const lp_stages *st);

/* Applies the snippet's tech_added / tech_removed to the lead: its history (one entry per change) and its
 * stack (first / last seen, removed_at). tech may be NULL: names are only lower-cased and have no
 * category. LP_OK, or LP_ENOMEM with the lead still consistent (the change that did not fit is missing). */
int lp_churn_apply(const lp_churn_conf *c, const lp_techtable *tech, lp_lead *l, const lp_snippet *s);

/* The technologies a tech snippet's text names (tf: the analyzer's terms of that text, tech ids set) count
 * as seen at ts: a new one enters the stack, one in use has its last_seen moved. A mention never revives a
 * removed technology ("we moved off Heroku" names Heroku): only tech_added does. No-op when the conf turns
 * mentions off or the snippet is not of kind tech. LP_OK or LP_ENOMEM. */
int lp_churn_mentions(const lp_churn_conf *c, const lp_techtable *tech, lp_lead *l, const lp_snippet *s,
                      const lp_termfreqs *tf);

/* One category's churn over the two windows ending at the reader's now. */
typedef struct lp_churn_cat {
  uint32_t category;
  uint32_t added_short, removed_short, added_long, removed_long;  /* distinct technologies */
  int64_t last_removed_ms;  /* newest removal in the long window that still holds (0: none) */
  int trigger;              /* a technology of the category removed in the long window and not in use
                               again (lp_lead_uses_tech) */
} lp_churn_cat;

/* The lead's per-category churn at now_ms: entries for every category with a change in the long window,
 * in category order, into out[0..cap) (a lead's history bounds them; categories past cap are left out).
 * Returns how many. tech NULL: 0 (no categories known). */
size_t lp_churn_summary(const lp_churn_conf *c, const lp_techtable *tech, const lp_lead *l, int64_t now_ms,
                        lp_churn_cat *out, size_t cap);

/* The JSON members "stack", "churn" and "churn_categories" of a lead's profile (each preceded by a
 * comma), appended to b. */
int lp_churn_json(const lp_churn_conf *c, const lp_techtable *tech, const lp_lead *l, int64_t now_ms, lp_buf *b);

const lp_stage_desc *lp_stage_churn_entry(void);

#endif
