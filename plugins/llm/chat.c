/* chat.c: the chat-completions request and answer (see chat.h). */
#include "chat.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char system_prompt[] =
  "You rank B2B sales leads for a seller. You get the product being sold and a numbered list of companies "
  "with the evidence that they may buy. For each company, judge how likely it is to buy this product now. "
  "Answer with one JSON object and nothing else: {\"scores\": [r0, r1, ...]}, exactly one number between 0 "
  "and 1 per company, in the order given.";

/* A growing text in host memory; a failed append marks it failed and later appends do nothing. */
typedef struct text {
  const lp_host_api *host;
  char *p;
  size_t len, cap;
  int failed;
} text;

static void put(text *t, const char *s, size_t n) {
  if (t->failed) return;
  if (t->len + n + 1 > t->cap) {
    size_t cap = t->cap ? t->cap : 1024;
    while (cap < t->len + n + 1) cap *= 2;
    char *p = t->host->realloc(t->p, cap);
    if (p == NULL) {
      t->failed = 1;
      return;
    }
    t->p = p;
    t->cap = cap;
  }
  memcpy(t->p + t->len, s, n);
  t->len += n;
  t->p[t->len] = '\0';
}

static void putf(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(text *t, const char *fmt, ...) {
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  if (n > 0) put(t, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* The first n bytes of s cut back to a UTF-8 boundary, newlines flattened to spaces. */
static void put_clip(text *t, const char *s, size_t n, size_t max) {
  if (n > max) {
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80) max--;
    n = max;
  }
  size_t from = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i == n || s[i] == '\n' || s[i] == '\r') {
      put(t, s + from, i - from);
      if (i < n) put(t, " ", 1);
      from = i + 1;
    }
  }
}

static void put_member(text *t, json_t *obj, const char *key) {
  json_t *v = json_object_get(obj, key);
  put(t, " | ", 3);
  if (json_is_string(v)) put_clip(t, json_string_value(v), json_string_length(v), 120);
  else if (json_is_integer(v)) putf(t, "%lld employees", (long long)json_integer_value(v));
  else put(t, "?", 1);
}

/* "[i] domain | name | industry | country | employees" and up to 3 "  - kind: evidence" lines. The candidate's
 * fields are the members of its answer object; wrapped in braces they parse as JSON. */
static void describe(text *t, uint32_t i, const lp_rerank_cand *c) {
  putf(t, "[%u] ", (unsigned)i);
  put_clip(t, c->domain.ptr, c->domain.len, 253);
  json_t *obj = NULL;
  if (c->fields.len > 0 && c->fields.len < ((size_t)1 << 30)) {
    char *w = t->host->malloc(c->fields.len + 2);
    if (w != NULL) {
      w[0] = '{';
      memcpy(w + 1, c->fields.ptr, c->fields.len);
      w[c->fields.len + 1] = '}';
      obj = json_loadb(w, c->fields.len + 2, 0, NULL);
      t->host->free(w);
    }
  }
  if (json_is_object(obj)) {
    put_member(t, obj, "name");
    put_member(t, obj, "industry");
    put_member(t, obj, "country");
    put_member(t, obj, "employees");
    json_t *ev = json_object_get(obj, "evidence");
    size_t k;
    json_t *e;
    json_array_foreach(ev, k, e) {
      if (k >= 3) break;
      json_t *kind = json_object_get(e, "kind"), *txt = json_object_get(e, "text");
      if (!json_is_string(txt)) continue;
      put(t, "\n  - ", 5);
      if (json_is_string(kind)) {
        put(t, json_string_value(kind), json_string_length(kind));
        put(t, ": ", 2);
      }
      put_clip(t, json_string_value(txt), json_string_length(txt), LLM_EVIDENCE_BYTES);
    }
  }
  json_decref(obj);
  put(t, "\n", 1);
}

char *llm_chat_body(const lp_host_api *host, const char *model, lp_str prompt, const lp_rerank_cand *cands,
                    uint32_t m, int64_t max_tokens, size_t *len, double *tokens_in) {
  text u = { host, NULL, 0, 0, 0 };
  put(&u, "Product: ", 9);
  put_clip(&u, prompt.ptr, prompt.len, 4096);
  putf(&u, "\n\nCompanies (%u):\n", (unsigned)m);
  for (uint32_t i = 0; i < m; i++) describe(&u, i, &cands[i]);
  char *out = NULL;
  json_t *body = u.failed ? NULL
    : json_pack("{s:s, s:I, s:f, s:{s:s}, s:[{s:s, s:s}, {s:s, s:s}]}", "model", model, "max_tokens",
                (json_int_t)max_tokens, "temperature", 0.0, "response_format", "type", "json_object", "messages",
                "role", "system", "content", system_prompt, "role", "user", "content", u.p);
  if (body != NULL) {
    size_t need = json_dumpb(body, NULL, 0, JSON_COMPACT);
    out = need > 0 ? host->malloc(need + 1) : NULL;
    if (out != NULL) {
      *len = json_dumpb(body, out, need, JSON_COMPACT);
      out[*len] = '\0';
      *tokens_in = (double)((*len + 3) / 4);
    }
    json_decref(body);
  }
  host->free(u.p);
  return out;
}

static void read_usage(json_t *root, long *tokens_in, long *tokens_out) {
  json_t *usage = json_object_get(root, "usage");
  json_t *pi = json_object_get(usage, "prompt_tokens"), *co = json_object_get(usage, "completion_tokens");
  *tokens_in = json_is_integer(pi) && json_integer_value(pi) >= 0 ? (long)json_integer_value(pi) : -1;
  *tokens_out = json_is_integer(co) && json_integer_value(co) >= 0 ? (long)json_integer_value(co) : -1;
}

/* The content without white space or a ``` fence around it (models add one even when told not to). */
static const char *unfence(const char *s, size_t *n) {
  while (*n > 0 && (s[0] == ' ' || s[0] == '\n' || s[0] == '\r' || s[0] == '\t')) s++, (*n)--;
  while (*n > 0 && (s[*n - 1] == ' ' || s[*n - 1] == '\n' || s[*n - 1] == '\r' || s[*n - 1] == '\t')) (*n)--;
  if (*n >= 6 && strncmp(s, "```", 3) == 0 && strncmp(s + *n - 3, "```", 3) == 0) {
    const char *nl = memchr(s, '\n', *n - 3);
    if (nl == NULL) return s;
    *n -= (size_t)(nl + 1 - s) + 3;
    s = nl + 1;
  }
  return s;
}

static int read_scores(const char *content, size_t n, uint32_t m, double *scores, char *why, size_t why_size) {
  const char *s = unfence(content, &n);
  json_error_t jerr;
  json_t *obj = json_loadb(s, n, 0, &jerr);
  json_t *arr = json_object_get(obj, "scores");
  int rc = LP_OK;
  if (!json_is_array(arr)) {
    snprintf(why, why_size, "the model's answer is not {\"scores\": [...]}");
    rc = LP_EINVAL;
  } else if (json_array_size(arr) != m) {
    snprintf(why, why_size, "the model scored %zu companies of %u", json_array_size(arr), (unsigned)m);
    rc = LP_EINVAL;
  }
  for (uint32_t i = 0; rc == LP_OK && i < m; i++) {
    json_t *v = json_array_get(arr, i);
    double x = json_is_number(v) ? json_number_value(v) : -1;
    if (!(x >= 0 && x <= 1) || !isfinite(x)) {
      snprintf(why, why_size, "score %u is not a number in [0, 1]", (unsigned)i);
      rc = LP_EINVAL;
    }
    scores[i] = x;
  }
  json_decref(obj);
  return rc;
}

int llm_chat_parse(const char *body, size_t len, uint32_t m, double *scores, long *tokens_in, long *tokens_out,
                   char *why, size_t why_size) {
  *tokens_in = *tokens_out = -1;
  json_t *root = json_loadb(body, len, 0, NULL);
  if (!json_is_object(root)) {
    json_decref(root);
    snprintf(why, why_size, "the response is not a JSON object");
    return LP_EINVAL;
  }
  read_usage(root, tokens_in, tokens_out);
  json_t *content = json_object_get(json_object_get(json_array_get(json_object_get(root, "choices"), 0), "message"),
                                    "content");
  int rc;
  if (!json_is_string(content)) {
    snprintf(why, why_size, "the response has no choices[0].message.content");
    rc = LP_EINVAL;
  } else {
    rc = read_scores(json_string_value(content), json_string_length(content), m, scores, why, why_size);
  }
  json_decref(root);
  return rc;
}
