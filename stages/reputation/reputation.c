/*
 * reputation.c: the built-in stage "reputation": its [stage.reputation] keys, init/destroy, the reactor
 * callbacks (save_global, load_global, describe_miner) and the host's miner_reputation source.
 *
 * The stage has no per-event callback of its own: outcomes reach the table through the server's outcome
 * path (core/server/credit.c), which knows the answer ring and the lead's recent reporters; the table is
 * the stage's so that it is configured, saved, restored and described like every stage's global state.
 *
 * Events (contract section 2): replied, meeting and purchased credit the miners (weights 1, 2, 4 by
 * default: a purchase says more than a reply); bounced and invalid debit them (1 each), spam debits 4.
 * delivered says nothing about the evidence (weight 0, not configurable); opened is weak and off by
 * default (w_opened = 0: an open is mostly the mail client's pixel, not the lead's intent).
 */
#include <stdio.h>
#include <string.h>

#include "stage/registry.h"
#include "stages/reputation/rep_int.h"


static const lp_conf_key rep_conf_keys[] = {
  { "half_life", LP_CONF_DURATION_MS, "30d", 60000, 3650.0 * 86400000, offsetof(lp_rep_conf, half_life),
    "event time after which an outcome counts half in a miner's reputation" },
  { "prior_alpha", LP_CONF_DOUBLE, "1", 0.01, 1000, offsetof(lp_rep_conf, prior_alpha),
    "Beta prior of a new miner: pseudo-count of good outcomes" },
  { "prior_beta", LP_CONF_DOUBLE, "1", 0.01, 1000, offsetof(lp_rep_conf, prior_beta),
    "Beta prior of a new miner: pseudo-count of bad outcomes" },
  { "w_opened", LP_CONF_DOUBLE, "0", 0, 100, offsetof(lp_rep_conf, w_opened),
    "credit of an opened event (0: neutral, like delivered)" },
  { "w_replied", LP_CONF_DOUBLE, "1", 0, 100, offsetof(lp_rep_conf, w_replied), "credit of a replied event" },
  { "w_meeting", LP_CONF_DOUBLE, "2", 0, 100, offsetof(lp_rep_conf, w_meeting), "credit of a meeting event" },
  { "w_purchased", LP_CONF_DOUBLE, "4", 0, 100, offsetof(lp_rep_conf, w_purchased), "credit of a purchased event" },
  { "w_bounced", LP_CONF_DOUBLE, "1", 0, 100, offsetof(lp_rep_conf, w_bounced), "debit of a bounced event" },
  { "w_invalid", LP_CONF_DOUBLE, "1", 0, 100, offsetof(lp_rep_conf, w_invalid), "debit of an invalid event" },
  { "w_spam", LP_CONF_DOUBLE, "4", 0, 100, offsetof(lp_rep_conf, w_spam), "debit of a spam event" },
  { "max_miners", LP_CONF_INT, "100000", 16, 1e8, offsetof(lp_rep_conf, max_miners),
    "miners with an estimate at most (about 150 bytes each); past it the sampled one with the least "
    "evidence left is forgotten (back to the prior)" },
  { "publish_interval", LP_CONF_DURATION_MS, "250ms", 0, 3600000, offsetof(lp_rep_conf, publish_interval),
    "wall-clock time between two snapshots sent to the workers, at least ..." },
  { "publish_every", LP_CONF_INT, "1000", 1, 1e9, offsetof(lp_rep_conf, publish_every),
    "... unless this many outcomes changed the table since the last one" },
  { "credit_window", LP_CONF_DURATION_MS, "90d", 60000, 3650.0 * 86400000, offsetof(lp_rep_conf, credit_window),
    "without a known query_id, the lead's reporters of this much event time before the outcome are credited" },
  { "answer_ring", LP_CONF_INT, "65536", 1, 1e8, offsetof(lp_rep_conf, answer_ring),
    "answers remembered for query_id credit, at most (the oldest forgotten first) ..." },
  { "answer_ring_bytes", LP_CONF_SIZE, "64m", 4096, 1099511627776.0, offsetof(lp_rep_conf, answer_ring_bytes),
    "... and in at most this much memory" },
  { "weight_floor", LP_CONF_DOUBLE, "0.1", 0, 1, offsetof(lp_rep_conf, weight_floor),
    "least weight of a snippet in its lead's document (weight = reputation mean / prior mean)" },
  { "low_reputation", LP_CONF_DOUBLE, "0.5", 0, 1, offsetof(lp_rep_conf, low_reputation),
    "GET /v1/miners says status low_reputation when the 95 % interval lies wholly below this" },
  { "metric_series", LP_CONF_INT, "100", 0, 10000, offsetof(lp_rep_conf, metric_series),
    "miners shown in leadpoet_miner_reputation{miner} at most (the worst and the most active)" },
  { NULL, 0, NULL, 0, 0, 0, NULL },
};

/* The table the server credits and GET /v1/miners reads: the most recently initialised instance (a
 * process runs one server; tests may hold two instances, and the newer one answers until destroyed).
 * Written on the main thread by init/destroy, read on the reactor. */
static lp_rep *g_active;

lp_rep *lp_rep_active(void) { return g_active; }

/* host->miner_reputation for every stage (the throttle scales its buckets by it). Reactor thread. */
static int host_reputation(lp_str miner, double *mean, double *low, double *high) {
  if (g_active == NULL) return LP_ENOENT;
  lp_rep_estimate e;
  lp_rep_estimate_get(g_active, miner, &e);
  *mean = e.mean;
  *low = e.low;
  *high = e.high;
  return LP_OK;
}

static int rep_init(const lp_host_api *host, const void *conf, void **stage, char *errstr, size_t errstr_size) {
  (void)host;
  *stage = NULL;
  lp_rep *r;
  int rc = lp_rep_new(&r, conf);
  if (rc != LP_OK) {
    snprintf(errstr, errstr_size, "out of memory for the reputation table");
    return rc;
  }
  g_active = r;
  lp_stages_set_reputation_fn(host_reputation);
  *stage = r;
  return LP_OK;
}

static void rep_destroy(void *stage) {
  if (stage == NULL) return;
  if (stage == g_active) {
    g_active = NULL;
    lp_stages_set_reputation_fn(NULL);
  }
  lp_rep_free(stage);
}

static int rep_on_snippet(void *shard_state, const lp_snippet *s, lp_verdict *v) {
  (void)shard_state;
  (void)s;
  (void)v;
  return LP_STAGE_CONTINUE;
}

static int rep_save_global(void *stage, lp_writer *w) { return lp_rep_save(stage, w); }

static int rep_load_global(void *stage, const void *data, size_t len) { return lp_rep_load(stage, data, len); }

/* Numbers always with a decimal point, so that a client's JSON parser reads them as reals. */
int lp_rep_estimate_json(const lp_rep_estimate *e, lp_buf *out) {
  return lp_buf_printf(out,
                       "{\"mean\":%.6f,\"low\":%.6f,\"high\":%.6f,\"good\":%.6f,\"bad\":%.6f,\"updated_ms\":%lld,"
                       "\"source\":\"%s\"}",
                       e->mean, e->low, e->high, e->good, e->bad, (long long)e->updated_ms,
                       e->known ? "outcomes" : "prior");
}

static int rep_describe_miner(void *stage, lp_str miner, lp_writer *w) {
  lp_rep_estimate e;
  lp_rep_estimate_get(stage, miner, &e);
  lp_buf b = LP_BUF_INIT;
  int rc = lp_rep_estimate_json(&e, &b);
  if (rc == LP_OK) rc = w->write(w, b.data, b.len);
  lp_buf_free(&b);
  return rc;
}

static const lp_stage_desc rep_desc = {
  LP_STAGE_DESC_HEADER,
  .name = "reputation",
  .description = "a Beta estimate of each miner's quality from outcome events, decayed in event time; "
                 "published to the workers as an immutable snapshot (evidence weights, model v0's reputation)",
  .conf_keys = rep_conf_keys,
  .conf_size = sizeof(lp_rep_conf),
  .init = rep_init,
  .on_snippet = rep_on_snippet,
  .destroy = rep_destroy,
  .save_global = rep_save_global,
  .load_global = rep_load_global,
  .describe_miner = rep_describe_miner,
};

const lp_stage_desc *lp_stage_reputation_entry(void) { return &rep_desc; }
