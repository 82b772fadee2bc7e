/* rows.c: see rows.h. */
#define _GNU_SOURCE  /* memmem */
#include "archive/rows.h"

#include <math.h>
#include <string.h>
#include <utf8proc.h>

#include "icp/icp.h"
#include "stages/ingest/ingest.h"

int lp__rows_json_text(lp_buf *b, const char *s, size_t n) {
  int rc = lp_buf_puts(b, "\"");
  size_t i = 0, start = 0;
  while (rc == LP_OK && i < n) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t step = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
    if (step > 0 && cp != 0) {
      i += (size_t)step;
      continue;
    }
    /* A NUL or a byte that starts no valid character: write what came before, then the replacement. */
    rc = lp_buf_json_escape(b, s + start, i - start);
    if (rc == LP_OK && cp != 0) rc = lp_buf_puts(b, "\xEF\xBF\xBD");
    i += step > 0 ? (size_t)step : 1;
    start = i;
  }
  if (rc == LP_OK) rc = lp_buf_json_escape(b, s + start, n - start);
  if (rc == LP_OK) rc = lp_buf_puts(b, "\"");
  return rc;
}

const char *lp__rows_signals(const char *json, size_t json_len, size_t *len) {
  static const char key[] = "\"signals\":{";
  /* The key cannot occur inside a JSON string (its quotes would be escaped there). */
  const char *p = memmem(json, json_len, key, sizeof(key) - 1);
  if (p == NULL) return NULL;
  const char *start = p + sizeof(key) - 2, *end = json + json_len;
  int depth = 0, in_str = 0;
  for (const char *q = start; q < end; q++) {
    if (in_str) {
      if (*q == '\\') q++;
      else if (*q == '"') in_str = 0;
    } else if (*q == '"') {
      in_str = 1;
    } else if (*q == '{' || *q == '[') {
      depth++;
    } else if ((*q == '}' || *q == ']') && --depth == 0) {
      *len = (size_t)(q + 1 - start);
      return start;
    }
  }
  return NULL;
}

static int number(lp_buf *b, const char *key, double v) {
  return isfinite(v) ? lp_buf_printf(b, ",\"%s\":%.17g", key, v) : lp_buf_printf(b, ",\"%s\":null", key);
}

int lp__rows_answer(lp_buf *b, const char *query_id, int64_t ts_ms, const lp_qplan *plan, const char *model,
                    const char *variant, double cost_usd) {
  int rc = lp_buf_puts(b, "{\"query_id\":");
  if (rc == LP_OK) rc = lp__rows_json_text(b, query_id, strlen(query_id));
  if (rc == LP_OK) rc = lp_buf_printf(b, ",\"ts_ms\":%lld,\"prompt\":", (long long)ts_ms);
  if (rc == LP_OK) rc = lp__rows_json_text(b, plan->req.prompt, plan->req.prompt_len);
  if (rc == LP_OK) rc = lp_buf_puts(b, ",\"icp\":");
  if (rc == LP_OK) rc = plan->icp && plan->icp_parser ? lp_icp_to_json(plan->icp_parser, plan->icp, b) : lp_buf_puts(b, "null");
  if (rc == LP_OK) rc = lp_buf_puts(b, ",\"model\":");
  if (rc == LP_OK) rc = lp__rows_json_text(b, model, strlen(model));
  if (rc == LP_OK) rc = lp_buf_puts(b, ",\"variant\":");
  if (rc == LP_OK) rc = lp__rows_json_text(b, variant ? variant : "", variant ? strlen(variant) : 0);
  if (rc == LP_OK) rc = number(b, "cost_usd", cost_usd);
  if (rc == LP_OK) rc = lp_buf_printf(b, ",\"k\":%u}", plan->req.k);
  return rc;
}

int lp__rows_lead(lp_buf *b, const char *query_id, int64_t ts_ms, uint32_t rank, const lp_qhit *h, double score) {
  int rc = lp_buf_puts(b, "{\"query_id\":");
  if (rc == LP_OK) rc = lp__rows_json_text(b, query_id, strlen(query_id));
  if (rc == LP_OK) rc = lp_buf_printf(b, ",\"ts_ms\":%lld,\"rank\":%u,\"domain\":", (long long)ts_ms, rank);
  if (rc == LP_OK) rc = lp__rows_json_text(b, h->domain, strlen(h->domain));
  if (rc == LP_OK) rc = number(b, "score", score);
  size_t slen = 0;
  const char *sig = h->json ? lp__rows_signals(h->json, h->json_len, &slen) : NULL;
  if (rc == LP_OK) rc = lp_buf_puts(b, ",\"signals\":");
  if (rc == LP_OK) rc = sig ? lp_buf_append(b, sig, slen) : lp_buf_puts(b, "null");
  if (rc == LP_OK) rc = lp_buf_puts(b, "}");
  return rc;
}

static int opt_text(lp_buf *b, const char *key, lp_str s) {
  int rc = lp_buf_printf(b, ",\"%s\":", key);
  if (rc == LP_OK) rc = s.len > 0 ? lp__rows_json_text(b, s.ptr, s.len) : lp_buf_puts(b, "null");
  return rc;
}

int lp__rows_outcome(lp_buf *b, const lp_outcome *o) {
  int rc = lp_buf_puts(b, "{\"id\":");
  if (rc == LP_OK) rc = lp__rows_json_text(b, o->id.ptr, o->id.len);
  if (rc == LP_OK) rc = lp_buf_printf(b, ",\"ts_ms\":%lld,\"domain\":", (long long)o->ts_ms);
  if (rc == LP_OK) rc = lp__rows_json_text(b, o->domain.ptr, o->domain.len);
  if (rc == LP_OK) rc = lp_buf_puts(b, ",\"event\":");
  const char *ev = lp_outcome_event_name(o->event);
  if (rc == LP_OK) rc = lp__rows_json_text(b, ev, strlen(ev));
  if (rc == LP_OK) rc = opt_text(b, "query_id", o->query_id);
  if (rc == LP_OK) rc = opt_text(b, "product", o->product);
  if (rc == LP_OK) rc = o->has_value ? number(b, "value_usd", o->value_usd) : lp_buf_puts(b, ",\"value_usd\":null");
  if (rc == LP_OK) rc = lp_buf_puts(b, "}");
  return rc;
}
