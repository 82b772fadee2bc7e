/*
 * buf.h: a growable byte buffer (responses, serialised state, metric text). Owned by whoever holds the
 * struct; not thread-safe. Append functions return 0 or LP_ENOMEM and leave the buffer valid on failure.
 */
#ifndef LP_BUF_H
#define LP_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "leadpoet/common.h"

typedef struct lp_buf {
  char *data;
  size_t len;
  size_t cap;
} lp_buf;

#define LP_BUF_INIT { NULL, 0, 0 }

int lp_buf_reserve(lp_buf *b, size_t extra);
int lp_buf_append(lp_buf *b, const void *p, size_t n);
int lp_buf_puts(lp_buf *b, const char *s);
int lp_buf_printf(lp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int lp_buf_vprintf(lp_buf *b, const char *fmt, va_list ap);
/* Appends s as the inside of a JSON string (no quotes), escaping per RFC 8259. */
int lp_buf_json_escape(lp_buf *b, const char *s, size_t n);
/* Appends "s" with quotes and escapes. */
int lp_buf_json_str(lp_buf *b, const char *s, size_t n);
void lp_buf_reset(lp_buf *b);  /* len = 0, keeps the memory */
void lp_buf_free(lp_buf *b);
/* Hands the data to the caller (free with lp_free) and resets b to empty. */
char *lp_buf_steal(lp_buf *b, size_t *len);

#endif
