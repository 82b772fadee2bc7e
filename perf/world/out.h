/*
 * out.h: the world's output: a line being built (wd_line) and a buffered file writer (wd_out). Both keep
 * a sticky error, so a writer can append a whole line and check once. Fast on purpose (the generator
 * writes hundreds of thousands of lines a second): no printf on the hot path. Not thread-safe.
 */
#ifndef LP_WORLD_OUT_H
#define LP_WORLD_OUT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct wd_line {
  char *p;
  size_t len, cap;
  int err;                   /* 0 or LP_ENOMEM, sticky until wd_line_reset */
} wd_line;

/* Grows l to hold n more bytes; on failure sets l->err and returns it. */
int wd_line_grow(wd_line *l, size_t n);
void wd_line_free(wd_line *l);
static inline void wd_line_reset(wd_line *l) { l->len = 0; l->err = 0; }

static inline void wd_put(wd_line *l, const char *s, size_t n) {
  if (l->cap - l->len < n && wd_line_grow(l, n) != 0) return;
  memcpy(l->p + l->len, s, n);
  l->len += n;
}
static inline void wd_puts(wd_line *l, const char *s) { wd_put(l, s, strlen(s)); }
static inline void wd_putc(wd_line *l, char c) { wd_put(l, &c, 1); }
void wd_put_i64(wd_line *l, int64_t v);
/* s as a JSON string with its quotes, escaped per RFC 8259 (s is UTF-8). */
void wd_put_jstr(wd_line *l, const char *s);
/* ,"key": then the value: a JSON string / an integer. */
void wd_put_kstr(wd_line *l, const char *key, const char *s);
void wd_put_kint(wd_line *l, const char *key, int64_t v);

typedef struct wd_out {
  int fd;
  int own_fd;                /* close fd in wd_out_close */
  char *buf;
  size_t len, cap;
  uint64_t bytes, lines;
  int err;                   /* 0, LP_ENOMEM or LP_EIO (errno_saved tells why) */
  int errno_saved;
} wd_out;

/* Opens path for writing (created or truncated), or wraps fd (own_fd 0) when path is NULL. Returns 0,
 * LP_EIO (errno in o->errno_saved) or LP_ENOMEM. Close with wd_out_close even after a failure. */
int wd_out_open(wd_out *o, const char *path, int fd);
/* Appends one whole line (bytes include its '\n'). */
int wd_out_write(wd_out *o, const char *p, size_t n);
int wd_out_flush(wd_out *o);
/* Flushes, closes an owned fd, frees the buffer; returns the first error seen. */
int wd_out_close(wd_out *o);

#endif
