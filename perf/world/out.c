/* out.c: line building and buffered writing for perf/world (see out.h). */
#include "out.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "base/alloc.h"
#include "leadpoet/common.h"

#define WD_OUT_BUF (1u << 20)

int wd_line_grow(wd_line *l, size_t n) {
  if (l->err) return l->err;
  size_t cap = l->cap ? l->cap : 1024;
  while (cap - l->len < n) cap *= 2;
  char *p = lp_realloc(l->p, cap);
  if (!p) return l->err = LP_ENOMEM;
  l->p = p;
  l->cap = cap;
  return 0;
}

void wd_line_free(wd_line *l) {
  lp_free(l->p);
  l->p = NULL;
  l->len = l->cap = 0;
}

void wd_put_i64(wd_line *l, int64_t v) {
  char tmp[24];
  int i = 24;
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  do {
    tmp[--i] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) tmp[--i] = '-';
  wd_put(l, tmp + i, (size_t)(24 - i));
}

void wd_put_jstr(wd_line *l, const char *s) {
  static const char hex[] = "0123456789abcdef";
  wd_putc(l, '"');
  const char *run = s;
  for (;; s++) {
    unsigned char c = (unsigned char)*s;
    if (c > '\\' || (c >= 0x20 && c != '"' && c != '\\')) continue;  /* the common case: one compare */
    if (!c) break;
    wd_put(l, run, (size_t)(s - run));
    run = s + 1;
    char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
    if (c == '"' || c == '\\') {
      esc[1] = (char)c;
      wd_put(l, esc, 2);
    } else if (c == '\n') {
      wd_put(l, "\\n", 2);
    } else {
      wd_put(l, esc, 6);
    }
  }
  wd_put(l, run, (size_t)(s - run));
  wd_putc(l, '"');
}

void wd_put_kstr(wd_line *l, const char *key, const char *s) {
  wd_put(l, ",\"", 2);
  wd_puts(l, key);
  wd_put(l, "\":", 2);
  wd_put_jstr(l, s);
}

void wd_put_kint(wd_line *l, const char *key, int64_t v) {
  wd_put(l, ",\"", 2);
  wd_puts(l, key);
  wd_put(l, "\":", 2);
  wd_put_i64(l, v);
}

int wd_out_open(wd_out *o, const char *path, int fd) {
  memset(o, 0, sizeof *o);
  o->fd = -1;
  o->buf = lp_malloc(WD_OUT_BUF);
  if (!o->buf) return o->err = LP_ENOMEM;
  o->cap = WD_OUT_BUF;
  if (!path) {
    o->fd = fd;
    return 0;
  }
  o->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (o->fd < 0) {
    o->errno_saved = errno;
    return o->err = LP_EIO;
  }
  o->own_fd = 1;
  return 0;
}

int wd_out_flush(wd_out *o) {
  size_t off = 0;
  while (!o->err && off < o->len) {
    ssize_t n = write(o->fd, o->buf + off, o->len - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      o->errno_saved = errno;
      o->err = LP_EIO;
      break;
    }
    off += (size_t)n;
  }
  o->len = 0;
  return o->err;
}

int wd_out_write(wd_out *o, const char *p, size_t n) {
  if (o->err) return o->err;
  if (o->cap - o->len < n && wd_out_flush(o) != 0) return o->err;
  if (n > o->cap) {  /* a line longer than the buffer: written through */
    while (!o->err && n > 0) {
      ssize_t w = write(o->fd, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        o->errno_saved = errno;
        return o->err = LP_EIO;
      }
      p += w;
      n -= (size_t)w;
      o->bytes += (uint64_t)w;
    }
    o->lines++;
    return o->err;
  }
  memcpy(o->buf + o->len, p, n);
  o->len += n;
  o->bytes += n;
  o->lines++;
  return 0;
}

int wd_out_close(wd_out *o) {
  if (o->buf && o->fd >= 0) wd_out_flush(o);
  if (o->own_fd && o->fd >= 0 && close(o->fd) != 0 && !o->err) {
    o->errno_saved = errno;
    o->err = LP_EIO;
  }
  o->fd = -1;
  lp_free(o->buf);
  o->buf = NULL;
  return o->err;
}
