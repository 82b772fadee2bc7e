/*
 * summary.c: a lead's churn per category in the two windows, and its JSON in the lead's profile.
 *
 * Counted from the history ring at read time (a window ends at the reader's now, so nothing per lead has
 * to be kept up to date as time passes): per category, the DISTINCT technologies added and removed in
 * each window, so that three miners reporting the same switch count it once.
 */
#include <stdio.h>
#include <string.h>

#include "stages/churn/churn.h"

/* Whether history entry k is the first of its technology and direction inside the window since `since`. */
static int first_in_window(const lp_lead *l, uint32_t k, int64_t since) {
  const lp_churn *e = &l->churn[k];
  for (uint32_t j = 0; j < k; j++) {
    const lp_churn *o = &l->churn[j];
    if (o->tech_id == e->tech_id && o->added == e->added && o->ts_ms > since) return 0;
  }
  return 1;
}

static lp_churn_cat *cat_slot(lp_churn_cat *out, size_t *n, size_t cap, uint32_t category) {
  size_t i = 0;
  while (i < *n && out[i].category < category) i++;
  if (i < *n && out[i].category == category) return &out[i];
  if (*n == cap) return NULL;
  memmove(&out[i + 1], &out[i], (*n - i) * sizeof(*out));
  memset(&out[i], 0, sizeof(*out));
  out[i].category = category;
  (*n)++;
  return &out[i];
}

size_t lp_churn_summary(const lp_churn_conf *c, const lp_techtable *tech, const lp_lead *l, int64_t now_ms,
                        lp_churn_cat *out, size_t cap) {
  if (c == NULL) c = &lp_churn_defaults;
  size_t n = 0;
  int64_t since_long = now_ms - c->window_long, since_short = now_ms - c->window_short;
  for (uint32_t k = 0; tech != NULL && k < l->n_churn; k++) {
    const lp_churn *e = &l->churn[k];
    const lp_tech_info *info = e->tech_id != LP_TECH_NONE ? lp_techtable_at(tech, e->tech_id) : NULL;
    if (info == NULL || e->ts_ms <= since_long) continue;
    int in_short = e->ts_ms > since_short;
    int count_long = first_in_window(l, k, since_long);
    int count_short = in_short && first_in_window(l, k, since_short);
    int holds = !e->added && !lp_lead_uses_tech(l, e->tech);
    for (uint32_t i = 0; i < info->n_categories; i++) {
      lp_churn_cat *s = cat_slot(out, &n, cap, info->categories[i]);
      if (s == NULL) continue;
      if (e->added) {
        s->added_long += (uint32_t)count_long;
        s->added_short += (uint32_t)count_short;
      } else {
        s->removed_long += (uint32_t)count_long;
        s->removed_short += (uint32_t)count_short;
      }
      if (holds) {
        s->trigger = 1;
        if (e->ts_ms > s->last_removed_ms) s->last_removed_ms = e->ts_ms;
      }
    }
  }
  return n;
}

/* "30d" for whole days, "36h" for whole hours, else "90000000ms": the suffix of a window's keys. */
static void window_name(int64_t ms, char *out, size_t cap) {
  if (ms % 86400000 == 0) snprintf(out, cap, "%lldd", (long long)(ms / 86400000));
  else if (ms % 3600000 == 0) snprintf(out, cap, "%lldh", (long long)(ms / 3600000));
  else snprintf(out, cap, "%lldms", (long long)ms);
}

static void stack_json(const lp_lead *l, lp_buf *b) {
  lp_buf_puts(b, ",\"stack\":[");
  uint32_t n = l->n_tech + l->n_gone;
  for (uint32_t i = 0; i < n; i++) {
    const lp_tech *e = &l->tech[i];
    lp_buf_puts(b, i ? ",{\"tech\":" : "{\"tech\":");
    lp_buf_json_str(b, e->name, strlen(e->name));
    lp_buf_printf(b, ",\"first_seen\":%lld,\"last_seen\":%lld,\"current\":%s,\"removed_at\":", (long long)e->first_ms,
                  (long long)e->last_ms, i < l->n_tech ? "true" : "false");
    if (i < l->n_tech) lp_buf_puts(b, "null}");
    else lp_buf_printf(b, "%lld}", (long long)e->removed_ms);
  }
  lp_buf_puts(b, "]");
}

static void history_json(const lp_lead *l, lp_buf *b) {
  lp_buf_puts(b, ",\"churn\":[");
  for (uint32_t k = 0; k < l->n_churn; k++) {
    const lp_churn *e = lp__lead_churn_at(l, k);
    lp_buf_puts(b, k ? ",{\"tech\":" : "{\"tech\":");
    lp_buf_json_str(b, e->tech, strlen(e->tech));
    lp_buf_printf(b, ",\"change\":\"%s\",\"ts\":%lld}", e->added ? "added" : "removed", (long long)e->ts_ms);
  }
  lp_buf_puts(b, "]");
}

int lp_churn_json(const lp_churn_conf *c, const lp_techtable *tech, const lp_lead *l, int64_t now_ms, lp_buf *b) {
  if (c == NULL) c = &lp_churn_defaults;
  stack_json(l, b);
  history_json(l, b);
  char ws[32], wl[32];
  window_name(c->window_short, ws, sizeof(ws));
  window_name(c->window_long, wl, sizeof(wl));
  lp_churn_cat cats[128];
  size_t n = lp_churn_summary(c, tech, l, now_ms, cats, sizeof(cats) / sizeof(cats[0]));
  lp_buf_puts(b, ",\"churn_categories\":[");
  for (size_t i = 0; i < n; i++) {
    const lp_churn_cat *s = &cats[i];
    const char *name = lp_techtable_category_name(tech, s->category);
    lp_buf_puts(b, i ? ",{\"category\":" : "{\"category\":");
    lp_buf_json_str(b, name ? name : "", name ? strlen(name) : 0);
    lp_buf_printf(b, ",\"added_%s\":%u,\"removed_%s\":%u,\"added_%s\":%u,\"removed_%s\":%u,\"trigger\":%s", ws,
                  s->added_short, ws, s->removed_short, wl, s->added_long, wl, s->removed_long,
                  s->trigger ? "true" : "false");
    if (s->trigger) lp_buf_printf(b, ",\"last_removed\":%lld", (long long)s->last_removed_ms);
    lp_buf_puts(b, "}");
  }
  return lp_buf_puts(b, "]");
}
