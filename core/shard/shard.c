#include "shard/shard.h"

#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/file.h"
#include "base/log.h"
#include "stages/reputation/snapshot.h"
#include "stages/churn/churn.h"

#define SHARD_MAGIC "lp-shard"
#define SHARD_VERSION 1

int lp_shard_open(lp_shard *sh, uint32_t id, const lp_shard_env *env) {
  memset(sh, 0, sizeof(*sh));
  sh->id = id;
  sh->env = env;
  int rc = lp_leads_init(&sh->leads, env->evidence_cap);
  if (rc != LP_OK) return rc;
  sh->leads.tech = env->tech;
  sh->leads.churn = lp_churn_conf_of(env->stages);
  char err[256];
  if ((rc = lp_index_new(&sh->index, &env->index, err, sizeof(err))) != LP_OK) {
    lp_log_error("cannot create a shard index", "shard=%u err=\"%s\"", id, err);
    lp_leads_free(&sh->leads);
    return rc;
  }
  if (env->stages != NULL && (rc = lp_stage_shard_open(env->stages, id, &sh->stages)) != LP_OK) {
    lp_index_free(sh->index);
    lp_leads_free(&sh->leads);
    return rc;
  }
  return LP_OK;
}

void lp_shard_close(lp_shard *sh) {
  if (sh->stages) lp_stage_shard_close(sh->stages);
  lp_index_free(sh->index);
  lp_leads_free(&sh->leads);
  lp_termfreqs_free(&sh->tf);
  lp_free(sh->terms);
  lp_free(sh->tid_of);
  lp_free(sh->decay);
  lp_free(sh->pending);
  sh->pending = NULL;
  sh->stages = NULL;
  sh->index = NULL;
  sh->terms = NULL;
  sh->tid_of = NULL;
  sh->cap_tid_of = 0;
  sh->decay = NULL;
}

static int32_t day_of(int64_t ts_ms) { return (int32_t)(ts_ms / 86400000); }

/* The index's id of term pool id `term`, pinned in the index at its first use and kept for the shard's
 * life (the pool never forgets a term either), so that a put names its terms by id: no hashing or
 * comparing of term bytes per term per put. LP_TERM_NONE when memory ran out. */
static uint32_t index_tid(lp_shard *sh, uint32_t term) {
  if (term >= sh->cap_tid_of) {
    size_t cap = sh->cap_tid_of ? sh->cap_tid_of : 1024;
    while (cap <= term) cap *= 2;
    uint32_t *v = lp_realloc(sh->tid_of, cap * sizeof(uint32_t));
    if (v == NULL) return LP_TERM_NONE;
    for (size_t i = sh->cap_tid_of; i < cap; i++) v[i] = LP_TERM_NONE;
    sh->tid_of = v;
    sh->cap_tid_of = cap;
  }
  if (sh->tid_of[term] == LP_TERM_NONE) {
    size_t len = 0;
    const char *s = lp_termpool_str(&sh->leads.pool, term, &len);
    uint32_t tid;
    if (s == NULL || lp_index_term_pin(sh->index, s, len, &tid) != LP_OK) return LP_TERM_NONE;
    sh->tid_of[term] = tid;
  }
  return sh->tid_of[term];
}

/* The decay factors of ages 0 .. LP_SHARD_DECAY_DAYS - 1 for half-life hl, exactly what exp2() gives, kept
 * so that put_doc looks its factor up instead of calling exp2() per term; rebuilt if the env's half-life
 * changes. NULL when memory ran out (the caller then calls exp2()). */
static const double *decay_table(lp_shard *sh, double hl) {
  if (sh->decay != NULL && sh->decay_hl == hl) return sh->decay;
  if (sh->decay == NULL && (sh->decay = lp_malloc(LP_SHARD_DECAY_DAYS * sizeof(double))) == NULL) return NULL;
  for (uint32_t a = 0; a < LP_SHARD_DECAY_DAYS; a++) sh->decay[a] = exp2(-(double)a / hl);
  sh->decay_hl = hl;
  return sh->decay;
}

/* Puts the lead's current document into the index (or takes it out when it became empty). The index
 * updates a document whose current version is in its mutable segment in place (lp_index_put), so a lead
 * that gets snippets often costs the postings that changed, not a new copy of its document. */
static int put_doc(lp_shard *sh, lp_lead *l) {
  if (l->tv.n == 0) {
    int rc = lp_index_delete(sh->index, l->doc);
    return rc == LP_ENOENT ? LP_OK : rc;
  }
  if (sh->cap_terms < l->tv.n) {
    lp_index_tterm *t = lp_realloc(sh->terms, LP_TERMVEC_MAX * sizeof(lp_index_tterm));
    if (t == NULL) return LP_ENOMEM;
    sh->terms = t;
    sh->cap_terms = LP_TERMVEC_MAX;
  }
  /* Each term weighs tf x reputation (termvec), decayed by the age of its newest evidence in event time:
   * a lead's document is its recent evidence (issue 5, point 2). The clock is the shard's newest event, so
   * a replay gives the same index; lp_shard_maintain re-puts documents as that clock moves on. */
  double hl = sh->env->age_half_life_days;
  const double *decay = hl > 0 ? decay_table(sh, hl) : NULL;
  for (uint16_t i = 0; i < l->tv.n; i++) {
    uint32_t tid = index_tid(sh, l->tv.v[i].term);
    if (tid == LP_TERM_NONE) return LP_ENOMEM;
    double w = l->tv.v[i].weight;
    int32_t age = sh->newest_day - l->tv.v[i].last_day;
    if (hl > 0 && age > 0) w *= decay != NULL && age < LP_SHARD_DECAY_DAYS ? decay[age] : exp2(-(double)age / hl);
    sh->terms[i] = (lp_index_tterm){ tid, w };
  }
  l->put_day = sh->newest_day;
  return lp_index_put_ids(sh->index, l->doc, sh->terms, l->tv.n);
}

/* The index term of a technology category: a byte no analyzed word starts with, then the id, so that it
 * can never collide with a word. Shared with the query plan (lp_category_term). */
size_t lp_category_term(uint32_t category, char *out, size_t cap) {
  int n = snprintf(out, cap, "\x01" "cat%u", category);
  return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* Topic surge: every technology the snippet names (or adds, or removes) counts as evidence for each of its
 * categories, so that a prompt about a category finds leads that share no word with it. */
static int add_categories(lp_shard *sh, lp_lead *l, const lp_tech_info *t, double weight, int32_t day) {
  for (uint32_t c = 0; t != NULL && c < t->n_categories; c++) {
    char term[32];
    size_t len = lp_category_term(t->categories[c], term, sizeof(term));
    uint32_t id = lp_termpool_intern(&sh->leads.pool, term, len, lp_term_hash(term, len));
    if (id != LP_TERM_NONE && lp_termvec_add(&l->tv, id, weight, day) != LP_OK) return LP_ENOMEM;
  }
  return LP_OK;
}

/* Adds the snippet's words (and the technologies it names as added) to the lead's document. */
static int index_snippet(lp_shard *sh, lp_lead *l, const lp_snippet *s) {
  if (sh->env->analyzer == NULL) return LP_OK;
  int32_t day = day_of(s->ts_ms);
  if (day > sh->newest_day) sh->newest_day = day;
  double weight = lp_rep_snapshot_weight(lp_rep_snapshot_current(), s->miner.ptr, s->miner.len);  /* 1 at the prior */
  int rc = lp_analyze_terms(sh->env->analyzer, s->text.ptr, s->text.len, &sh->tf);
  for (size_t i = 0; rc == LP_OK && i < sh->tf.n; i++) {
    const lp_termfreq *f = &sh->tf.v[i];
    uint32_t id = lp_termpool_intern(&sh->leads.pool, f->term, f->len, f->hash);
    if (id != LP_TERM_NONE) rc = lp_termvec_add(&l->tv, id, weight * f->count, day);
    if (rc == LP_OK && f->tech != LP_TECH_NONE && sh->env->tech != NULL)
      rc = add_categories(sh, l, lp_techtable_at(sh->env->tech, f->tech), weight * f->count, day);
  }
  /* sh->tf holds the text's terms: they sign the evidence just stored (v0's relevance), and the
   * technologies a tech snippet names count as seen (churn ETL) */
  if (rc == LP_OK) (void)lp_lead_sign_snippet(&sh->leads, l, s->id, &sh->tf);  /* unsigned: lp_lead_sign later */
  if (rc == LP_OK) rc = lp_churn_mentions(sh->leads.churn, sh->env->tech, l, s, &sh->tf);
  const lp_str *lists[2] = { s->tech_added, s->tech_removed };
  uint32_t counts[2] = { s->n_tech_added, s->n_tech_removed };
  for (int k = 0; rc == LP_OK && sh->env->tech != NULL && k < 2; k++)
    for (uint32_t i = 0; rc == LP_OK && i < counts[k]; i++)
      rc = add_categories(sh, l, lp_techtable_find(sh->env->tech, lists[k][i].ptr, lists[k][i].len), weight, day);
  for (uint32_t i = 0; rc == LP_OK && i < s->n_tech_added; i++) {
    if (lp_analyze_terms(sh->env->analyzer, s->tech_added[i].ptr, s->tech_added[i].len, &sh->tf) != LP_OK) break;
    for (size_t j = 0; rc == LP_OK && j < sh->tf.n; j++) {
      const lp_termfreq *f = &sh->tf.v[j];
      uint32_t id = lp_termpool_intern(&sh->leads.pool, f->term, f->len, f->hash);
      if (id != LP_TERM_NONE) rc = lp_termvec_add(&l->tv, id, weight, day);
    }
  }
  if (rc == LP_OK && !l->put_pending) {
    if (sh->n_pending == sh->cap_pending) {
      size_t cap = sh->cap_pending ? sh->cap_pending * 2 : 64;
      uint32_t *v = lp_realloc(sh->pending, cap * sizeof(uint32_t));
      if (v == NULL) return put_doc(sh, l);  /* no room to defer: index it now */
      sh->pending = v;
      sh->cap_pending = cap;
    }
    sh->pending[sh->n_pending++] = l->doc;
    l->put_pending = 1;
  }
  return rc;
}

int lp_shard_flush(lp_shard *sh) {
  int rc = LP_OK;
  for (size_t i = 0; i < sh->n_pending; i++) {
    lp_lead *l = lp_leads_by_doc(&sh->leads, sh->pending[i]);
    if (l == NULL || !l->put_pending) continue;
    l->put_pending = 0;
    int r = put_doc(sh, l);
    if (r != LP_OK && rc == LP_OK) {
      rc = r;
      lp_log_warn("lead not indexed", "shard=%u domain=%s err=\"%s\"", sh->id, l->domain, lp_index_errstr(sh->index));
    }
  }
  sh->n_pending = 0;
  return rc;
}

const char *lp_shard_snippet(lp_shard *sh, const lp_snippet *s) {
  lp_verdict v = { NULL, { 0 } };
  sh->version++;
  if (sh->stages && lp_stage_shard_snippet(sh->stages, s, &v) == LP_STAGE_DROP) return v.code ? v.code : "dropped";
  lp_lead *l = NULL;
  if (lp_leads_apply_snippet_lead(&sh->leads, s, &l) != LP_OK) return "internal";
  if (index_snippet(sh, l, s) != LP_OK)
    lp_log_warn("snippet applied but not indexed", "shard=%u domain=%s err=\"%s\"", sh->id, l->domain,
                lp_index_errstr(sh->index));
  sh->applied++;
  sh->dirty = 1;
  return NULL;
}

const char *lp_shard_outcome(lp_shard *sh, const lp_outcome *o) {
  lp_verdict v = { NULL, { 0 } };
  sh->version++;
  if (sh->stages && lp_stage_shard_outcome(sh->stages, o, &v) == LP_STAGE_DROP) return v.code ? v.code : "dropped";
  if (lp_leads_apply_outcome(&sh->leads, o) != LP_OK) return "internal";
  sh->applied++;
  sh->dirty = 1;
  return NULL;
}

int lp_shard_reindex(lp_shard *sh) {
  /* The clock first: every document is weighed at the shard's newest day, as the live index has them. */
  for (uint32_t d = 0; d < sh->leads.n_docs; d++) {
    lp_lead *l = sh->leads.by_doc[d];
    if (l->last_ts_ms > 0 && day_of(l->last_ts_ms) > sh->newest_day) sh->newest_day = day_of(l->last_ts_ms);
  }
  for (uint32_t d = 0; d < sh->leads.n_docs; d++) {
    lp_lead *l = sh->leads.by_doc[d];
    int rc = put_doc(sh, l);
    if (rc != LP_OK) return rc;
  }
  return LP_OK;
}

void lp_shard_maintain(lp_shard *sh, uint32_t leads, uint32_t index_budget) {
  /* Re-put a document once its weights are off by more than about 4 % (1/16 of a half-life). */
  double hl = sh->env->age_half_life_days;
  int32_t age_step = hl > 0 ? (int32_t)(hl / 16) + 1 : 0;
  if ((sh->env->retention_ms > 0 || age_step > 0) && sh->leads.n_docs > 0) {
    int32_t min_day = sh->env->retention_ms > 0 ? sh->newest_day - (int32_t)(sh->env->retention_ms / 86400000)
                                                : INT32_MIN;
    for (uint32_t i = 0; i < leads && i < sh->leads.n_docs; i++) {
      if (sh->expire_cursor >= sh->leads.n_docs) sh->expire_cursor = 0;
      lp_lead *l = sh->leads.by_doc[sh->expire_cursor++];
      if (min_day != INT32_MIN && lp_termvec_expire(&l->tv, min_day) > 0) {
        put_doc(sh, l);
        sh->dirty = 1;
        sh->version++;
      } else if (age_step > 0 && l->tv.n > 0 && !l->put_pending && sh->newest_day - l->put_day >= age_step) {
        put_doc(sh, l);  /* the clock moved on: its terms have aged (derived state only: nothing to save) */
      }
    }
  }
  int more = 0;
  lp_index_step(sh->index, index_budget, &more);
}

static int buf_write(void *data, const char *p, size_t n) { return lp_buf_append(data, p, n) == LP_OK ? 0 : -1; }

/* The two parts are written as msgpack bin so that each can be handed to its reader as is. */
int lp_shard_save(lp_shard *sh, lp_buf *out) {
  lp_buf leads = LP_BUF_INIT, stages = LP_BUF_INIT;
  int rc = lp_leads_save(&sh->leads, &leads);
  if (rc == LP_OK && sh->stages) rc = lp_stage_shard_save(sh->stages, &stages);
  if (rc == LP_OK) {
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, buf_write);
    msgpack_pack_array(&pk, 5);
    msgpack_pack_str(&pk, strlen(SHARD_MAGIC));
    msgpack_pack_str_body(&pk, SHARD_MAGIC, strlen(SHARD_MAGIC));
    msgpack_pack_uint32(&pk, SHARD_VERSION);
    msgpack_pack_uint32(&pk, sh->id);
    msgpack_pack_bin(&pk, leads.len);
    msgpack_pack_bin_body(&pk, leads.data, leads.len);
    msgpack_pack_bin(&pk, stages.len);
    msgpack_pack_bin_body(&pk, stages.data, stages.len);
  }
  lp_buf_free(&leads);
  lp_buf_free(&stages);
  return rc;
}

int lp_shard_load(lp_shard *sh, const void *data, size_t len, char *errstr, size_t errstr_size) {
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  size_t off = 0;
  int rc = LP_EINVAL;
  if (msgpack_unpack_next(&u, data, len, &off) != MSGPACK_UNPACK_SUCCESS || u.data.type != MSGPACK_OBJECT_ARRAY ||
      u.data.via.array.size != 5) {
    snprintf(errstr, errstr_size, "shard %u snapshot: not a shard snapshot", sh->id);
    goto out;
  }
  const msgpack_object *f = u.data.via.array.ptr;
  if (f[0].type != MSGPACK_OBJECT_STR || f[0].via.str.size != strlen(SHARD_MAGIC) ||
      memcmp(f[0].via.str.ptr, SHARD_MAGIC, strlen(SHARD_MAGIC)) != 0 || f[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
      f[2].type != MSGPACK_OBJECT_POSITIVE_INTEGER || f[3].type != MSGPACK_OBJECT_BIN || f[4].type != MSGPACK_OBJECT_BIN) {
    snprintf(errstr, errstr_size, "shard %u snapshot: bad header", sh->id);
    goto out;
  }
  if (f[1].via.u64 > SHARD_VERSION) {
    snprintf(errstr, errstr_size, "shard %u snapshot: version %llu is newer than this leadpoet reads (%d)", sh->id,
             (unsigned long long)f[1].via.u64, SHARD_VERSION);
    goto out;
  }
  if (f[2].via.u64 != sh->id) {
    snprintf(errstr, errstr_size, "shard %u snapshot: holds shard %llu", sh->id, (unsigned long long)f[2].via.u64);
    goto out;
  }
  rc = lp_leads_load(&sh->leads, f[3].via.bin.ptr, f[3].via.bin.size, errstr, errstr_size);
  if (rc == LP_OK && (rc = lp_shard_reindex(sh)) != LP_OK)
    snprintf(errstr, errstr_size, "shard %u: cannot rebuild the index: %s", sh->id, lp_index_errstr(sh->index));
  if (rc == LP_OK && sh->stages && f[4].via.bin.size > 0)
    rc = lp_stage_shard_load(sh->stages, f[4].via.bin.ptr, f[4].via.bin.size, errstr, errstr_size);
out:
  msgpack_unpacked_destroy(&u);
  return rc;
}

static void shard_path(char *path, size_t n, const char *dir, uint32_t id, const char *suffix) {
  snprintf(path, n, "%s/shard-%04u.lpstate%s", dir, id, suffix);
}

int lp_shard_save_file(lp_shard *sh, const char *dir, char *errstr, size_t errstr_size) {
  lp_buf b = LP_BUF_INIT;
  int rc = lp_shard_save(sh, &b);
  if (rc != LP_OK) {
    snprintf(errstr, errstr_size, "shard %u: cannot serialise: %s", sh->id, lp_strerror(rc));
  } else {
    char path[1024];
    shard_path(path, sizeof(path), dir, sh->id, "");
    rc = lp_file_write_atomic(path, b.data, b.len, errstr, errstr_size);
  }
  if (rc == LP_OK) sh->dirty = 0;
  lp_buf_free(&b);
  return rc;
}

int lp_shard_load_file(lp_shard *sh, const char *dir, char *errstr, size_t errstr_size) {
  char path[1024];
  shard_path(path, sizeof(path), dir, sh->id, "");
  lp_buf b = LP_BUF_INIT;
  int rc = lp_file_read(path, &b, errstr, errstr_size);
  if (rc == LP_OK && (rc = lp_shard_load(sh, b.data, b.len, errstr, errstr_size)) != LP_OK) {
    size_t n = strlen(errstr);
    snprintf(errstr + n, errstr_size - n, " (in %s)", path);
  }
  lp_buf_free(&b);
  return rc;
}
