#include "base/buf.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"

int lp_buf_reserve(lp_buf *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap) return LP_OK;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra + 1) cap *= 2;
  char *d = lp_realloc(b->data, cap);
  if (d == NULL) return LP_ENOMEM;
  b->data = d;
  b->cap = cap;
  return LP_OK;
}

int lp_buf_append(lp_buf *b, const void *p, size_t n) {
  if (lp_buf_reserve(b, n) != LP_OK) return LP_ENOMEM;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return LP_OK;
}

int lp_buf_puts(lp_buf *b, const char *s) { return lp_buf_append(b, s, strlen(s)); }

int lp_buf_vprintf(lp_buf *b, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  char small[256];
  int n = vsnprintf(small, sizeof(small), fmt, ap2);
  va_end(ap2);
  if (n < 0) return LP_EINVAL;
  if ((size_t)n < sizeof(small)) return lp_buf_append(b, small, (size_t)n);
  if (lp_buf_reserve(b, (size_t)n) != LP_OK) return LP_ENOMEM;
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
  return LP_OK;
}

int lp_buf_printf(lp_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = lp_buf_vprintf(b, fmt, ap);
  va_end(ap);
  return rc;
}

int lp_buf_json_escape(lp_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  if (lp_buf_reserve(b, n + 8) != LP_OK) return LP_ENOMEM;
  size_t start = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    if (lp_buf_append(b, s + start, i - start) != LP_OK) return LP_ENOMEM;
    char esc[6] = { '\\', 0, 0, 0, 0, 0 };
    size_t el = 2;
    switch (c) {
    case '"': esc[1] = '"'; break;
    case '\\': esc[1] = '\\'; break;
    case '\n': esc[1] = 'n'; break;
    case '\r': esc[1] = 'r'; break;
    case '\t': esc[1] = 't'; break;
    case '\b': esc[1] = 'b'; break;
    case '\f': esc[1] = 'f'; break;
    default:
      esc[1] = 'u'; esc[2] = '0'; esc[3] = '0'; esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
      el = 6;
    }
    if (lp_buf_append(b, esc, el) != LP_OK) return LP_ENOMEM;
    start = i + 1;
  }
  return lp_buf_append(b, s + start, n - start);
}

int lp_buf_json_str(lp_buf *b, const char *s, size_t n) {
  if (lp_buf_append(b, "\"", 1) != LP_OK || lp_buf_json_escape(b, s, n) != LP_OK) return LP_ENOMEM;
  return lp_buf_append(b, "\"", 1);
}

void lp_buf_reset(lp_buf *b) {
  b->len = 0;
  if (b->data) b->data[0] = '\0';
}

void lp_buf_free(lp_buf *b) {
  lp_free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

char *lp_buf_steal(lp_buf *b, size_t *len) {
  if (b->data == NULL && lp_buf_reserve(b, 0) != LP_OK) return NULL;
  char *d = b->data;
  if (len) *len = b->len;
  b->data = NULL;
  b->len = b->cap = 0;
  return d;
}
