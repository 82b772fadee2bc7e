/*
 * split.c: a request body -> items, by media type (POST /v1/snippets, /v1/outcomes, `leadpoet ingest`).
 * The whole body is checked against max_items before the first item is handed on, so a request is either
 * split entirely or refused entirely.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "stages/ingest/ingest.h"

enum body_kind { BODY_JSON, BODY_NDJSON, BODY_MSGPACK, BODY_UNKNOWN };

/* Matches the media type without its parameters, case-insensitively. */
static int media_is(const char *mt, size_t n, const char *name) {
  return strlen(name) == n && strncasecmp(mt, name, n) == 0;
}

static enum body_kind body_kind_of(const char *media_type) {
  if (!media_type) return BODY_UNKNOWN;
  while (*media_type == ' ' || *media_type == '\t') media_type++;
  size_t n = strcspn(media_type, ";");
  while (n > 0 && (media_type[n - 1] == ' ' || media_type[n - 1] == '\t')) n--;
  if (media_is(media_type, n, "application/json")) return BODY_JSON;
  if (media_is(media_type, n, "application/x-ndjson") || media_is(media_type, n, "application/jsonl") ||
      media_is(media_type, n, "application/x-jsonlines") || media_is(media_type, n, "application/jsonlines"))
    return BODY_NDJSON;
  if (media_is(media_type, n, "application/msgpack") || media_is(media_type, n, "application/x-msgpack"))
    return BODY_MSGPACK;
  return BODY_UNKNOWN;
}

static void set_reject(lp_reject *r, const char *code, const char *msg) {
  if (!r) return;
  r->code = code;
  snprintf(r->message, sizeof(r->message), "%s", msg);
}

static int too_many(lp_reject *whole, size_t n, size_t max_items) {
  if (whole) {
    whole->code = "bad_request";
    snprintf(whole->message, sizeof(whole->message), "the body holds %zu items, at most %zu are allowed", n,
             max_items);
  }
  return LP_ERANGE;
}

static int split_json(const char *body, size_t len, size_t max_items, lp_ingest_item_fn fn, void *ud,
                      lp_reject *whole) {
  json_error_t err;
  json_t *root = json_loadb(body, len, 0, &err);
  int rc = LP_OK;
  if (!root) {
    if (whole) {
      whole->code = "bad_json";
      snprintf(whole->message, sizeof(whole->message), "body is not valid JSON: %.120s at line %d column %d",
               err.text, err.line, err.column);
    }
    return LP_EINVAL;
  }
  if (json_is_object(root)) {
    if (max_items < 1) rc = too_many(whole, 1, max_items);
    else rc = fn(ud, 0, root, NULL, NULL);
  } else {
    size_t n = json_array_size(root);
    if (n > max_items) rc = too_many(whole, n, max_items);
    for (size_t i = 0; rc == LP_OK && i < n; i++) rc = fn(ud, i, json_array_get(root, i), NULL, NULL);
  }
  json_decref(root);
  return rc;
}

/* The next non-blank line of an NDJSON body from *pos: [*b, *e), trimmed of blanks and "\r", and its
 * 1-based line number in *line_no (which counts every line consumed). 0 at the end. */
static int next_line(const char *body, size_t len, size_t *pos, size_t *line_no, size_t *b, size_t *e) {
  while (*pos < len) {
    const char *line = body + *pos;
    const char *nl = memchr(line, '\n', len - *pos);
    size_t ll = nl ? (size_t)(nl - line) : len - *pos;
    size_t s = *pos, t = *pos + ll;
    *pos += ll + 1;
    (*line_no)++;
    while (s < t && (body[s] == ' ' || body[s] == '\t' || body[s] == '\r')) s++;
    while (t > s && (body[t - 1] == ' ' || body[t - 1] == '\t' || body[t - 1] == '\r')) t--;
    if (s < t) {
      *b = s;
      *e = t;
      return 1;
    }
  }
  return 0;
}

static int split_ndjson(const char *body, size_t len, size_t max_items, lp_ingest_item_fn fn, void *ud,
                        lp_reject *whole) {
  size_t pos = 0, b, e, n = 0, index = 0, line_no = 0;
  int rc = LP_OK;
  while (next_line(body, len, &pos, &line_no, &b, &e)) n++;
  if (n > max_items) return too_many(whole, n, max_items);
  pos = 0;
  line_no = 0;
  while (rc == LP_OK && next_line(body, len, &pos, &line_no, &b, &e)) {
    json_error_t err;
    json_t *v = json_loadb(body + b, e - b, JSON_DECODE_ANY, &err);
    if (v) {
      rc = fn(ud, index, v, NULL, NULL);
      json_decref(v);
    } else {
      lp_reject item;
      item.code = "bad_json";
      snprintf(item.message, sizeof(item.message), "line %zu is not valid JSON: %.120s at column %d", line_no,
               err.text, err.column);
      rc = fn(ud, index, NULL, NULL, &item);
    }
    index++;
  }
  return rc;
}

static int split_msgpack(const char *body, size_t len, size_t max_items, lp_ingest_item_fn fn, void *ud,
                         lp_reject *whole) {
  size_t used = 0, off = 0;
  if (lp_msgpack_check(body, len, &used) != LP_OK || used != len) {
    set_reject(whole, "bad_json", used != len && used != 0 ? "body holds bytes after its msgpack value"
                                                           : "body is not valid msgpack");
    return LP_EINVAL;
  }
  msgpack_unpacked up;
  msgpack_unpacked_init(&up);
  if (msgpack_unpack_next(&up, body, len, &off) != MSGPACK_UNPACK_SUCCESS) {
    msgpack_unpacked_destroy(&up);
    set_reject(whole, "bad_json", "body is not valid msgpack");
    return LP_EINVAL;
  }
  int rc = LP_OK;
  const msgpack_object *root = &up.data;
  if (root->type == MSGPACK_OBJECT_MAP) {
    rc = max_items < 1 ? too_many(whole, 1, max_items) : fn(ud, 0, NULL, root, NULL);
  } else if (root->type == MSGPACK_OBJECT_ARRAY) {
    size_t n = root->via.array.size;
    if (n > max_items) rc = too_many(whole, n, max_items);
    for (size_t i = 0; rc == LP_OK && i < n; i++) rc = fn(ud, i, NULL, &root->via.array.ptr[i], NULL);
  } else {
    set_reject(whole, "bad_json", "body must be a msgpack array or map");
    rc = LP_EINVAL;
  }
  msgpack_unpacked_destroy(&up);
  return rc;
}

int lp_ingest_split_body(const char *body, size_t len, const char *media_type, size_t max_items,
                         lp_ingest_item_fn fn, void *ud, lp_reject *whole) {
  if (whole) {
    whole->code = NULL;
    whole->message[0] = '\0';
  }
  if (!body) len = 0;
  switch (body_kind_of(media_type)) {
    case BODY_JSON: return split_json(body ? body : "", len, max_items, fn, ud, whole);
    case BODY_NDJSON: return split_ndjson(body ? body : "", len, max_items, fn, ud, whole);
    case BODY_MSGPACK: return split_msgpack(body ? body : "", len, max_items, fn, ud, whole);
    default: break;
  }
  if (whole) {
    whole->code = "unsupported_media_type";
    snprintf(whole->message, sizeof(whole->message),
             "Content-Type must be application/json, application/x-ndjson or application/msgpack");
  }
  return LP_ENOENT;
}
