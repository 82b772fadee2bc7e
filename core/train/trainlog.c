/*
 * trainlog.c: the training log writer (trainlog.h). One uv_fs request at a time walks a small state
 * machine: OPEN -> STAT -> IDLE <-> WRITE, and WRITE -> CLOSE -> RENAME -> OPEN when the file is full.
 */
#include "train/trainlog.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/log.h"
#include "query/features.h"
#include "stages/ingest/ingest.h"

enum { ST_OPEN, ST_STAT, ST_IDLE, ST_WRITE, ST_CLOSE, ST_RENAME, ST_FAILED };

struct lp_trainlog {
  uv_loop_t *loop;
  uv_fs_t req;
  int state;
  uv_file fd;
  char *path, *path_old;     /* <path> and <path>.1 */
  uint64_t max_bytes, size;
  lp_buf pending;            /* lines not handed to the disk yet */
  lp_buf inflight;           /* the bytes of the write in flight */
  size_t inflight_off;       /* written so far of inflight */
  uv_buf_t iov;
  uint64_t dropped;
};

static void step(uv_fs_t *req);

static size_t count_lines(const char *p, size_t n) {
  size_t c = 0;
  for (size_t i = 0; i < n; i++) c += p[i] == '\n';
  return c;
}

static void drop_inflight(lp_trainlog *t) {
  t->dropped += count_lines(t->inflight.data, t->inflight.len);
  lp_buf_reset(&t->inflight);
  t->inflight_off = 0;
}

static void start_open(lp_trainlog *t) {
  t->state = ST_OPEN;
  if (uv_fs_open(t->loop, &t->req, t->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644, step) != 0) {
    lp_log_error("training log: cannot open", "path=%s", t->path);
    t->state = ST_FAILED;
  }
}

static void start_write(lp_trainlog *t) {
  t->iov = uv_buf_init(t->inflight.data + t->inflight_off, (unsigned)(t->inflight.len - t->inflight_off));
  t->state = ST_WRITE;
  if (uv_fs_write(t->loop, &t->req, t->fd, &t->iov, 1, -1, step) != 0) {
    drop_inflight(t);
    t->state = ST_IDLE;
  }
}

/* Hands the pending lines to the disk when nothing is in flight. */
static void kick(lp_trainlog *t) {
  if (t->state == ST_FAILED && t->pending.len > 0) {
    t->dropped += count_lines(t->pending.data, t->pending.len);
    lp_buf_reset(&t->pending);
    return;
  }
  if (t->state != ST_IDLE || t->pending.len == 0) return;
  lp_buf tmp = t->inflight;  /* swap: the emptied in-flight buffer keeps its memory for the next lines */
  t->inflight = t->pending;
  t->pending = tmp;
  lp_buf_reset(&t->pending);
  t->inflight_off = 0;
  start_write(t);
}

/* The completion of the one request in flight: the next step of the machine. */
static void step(uv_fs_t *req) {
  lp_trainlog *t = req->data;
  ssize_t r = req->result;
  uint64_t st_size = t->state == ST_STAT && r == 0 ? (uint64_t)req->statbuf.st_size : 0;
  uv_fs_req_cleanup(req);
  req->data = t;
  switch (t->state) {
  case ST_OPEN:
    if (r < 0) {
      lp_log_error("training log: cannot open", "path=%s err=\"%s\"", t->path, uv_strerror((int)r));
      t->state = ST_FAILED;
      break;
    }
    t->fd = (uv_file)r;
    t->state = ST_STAT;
    if (uv_fs_fstat(t->loop, &t->req, t->fd, step) != 0) t->state = ST_IDLE;
    return;
  case ST_STAT:
    t->size = st_size;
    t->state = ST_IDLE;
    break;
  case ST_WRITE:
    if (r < 0) {
      lp_log_warn("training log: write failed, lines dropped", "path=%s err=\"%s\"", t->path, uv_strerror((int)r));
      drop_inflight(t);
    } else {
      t->inflight_off += (size_t)r;
      t->size += (uint64_t)r;
      if (t->inflight_off < t->inflight.len) {  /* a short write: the rest */
        start_write(t);
        return;
      }
      lp_buf_reset(&t->inflight);
      t->inflight_off = 0;
    }
    t->state = ST_IDLE;
    if (t->size >= t->max_bytes) {
      t->state = ST_CLOSE;
      if (uv_fs_close(t->loop, &t->req, t->fd, step) == 0) return;
      t->state = ST_IDLE;
    }
    break;
  case ST_CLOSE:
    t->fd = -1;
    t->state = ST_RENAME;
    if (uv_fs_rename(t->loop, &t->req, t->path, t->path_old, step) == 0) return;
    start_open(t);
    return;
  case ST_RENAME:
    if (r < 0) lp_log_warn("training log: cannot rotate", "path=%s err=\"%s\"", t->path, uv_strerror((int)r));
    else lp_log_info("training log rotated", "path=%s old=%s", t->path, t->path_old);
    start_open(t);
    return;
  default:
    break;
  }
  kick(t);
}

int lp_trainlog_open(lp_trainlog **out, uv_loop_t *loop, const char *path, uint64_t max_bytes, char *errstr,
                     size_t errstr_size) {
  if (path == NULL || path[0] == '\0' || max_bytes == 0) {
    snprintf(errstr, errstr_size, "training log: a path and a size bound are needed");
    return LP_EINVAL;
  }
  lp_trainlog *t = lp_calloc(1, sizeof(*t));
  size_t n = strlen(path);
  if (t == NULL || (t->path = lp_strdup(path)) == NULL || (t->path_old = lp_malloc(n + 3)) == NULL) {
    if (t) lp_free(t->path);
    lp_free(t);
    snprintf(errstr, errstr_size, "training log: out of memory");
    return LP_ENOMEM;
  }
  memcpy(t->path_old, path, n);
  memcpy(t->path_old + n, ".1", 3);
  t->loop = loop;
  t->fd = -1;
  t->max_bytes = max_bytes;
  t->pending = (lp_buf)LP_BUF_INIT;
  t->inflight = (lp_buf)LP_BUF_INIT;
  t->req.data = t;
  start_open(t);
  *out = t;
  return LP_OK;
}

/* Ends the line begun at `start` in the pending buffer: kept when it fits and nothing failed, else cut
 * off and counted. Then the disk gets it. */
static void end_line(lp_trainlog *t, size_t start, int rc) {
  if (rc == LP_OK) rc = lp_buf_puts(&t->pending, "\n");
  if (rc != LP_OK || t->pending.len > LP_TRAINLOG_MAX_PENDING) {
    t->pending.len = start;
    if (++t->dropped % 1000 == 1)
      lp_log_warn("training log: lines dropped (disk behind or out of memory)", "path=%s dropped=%llu", t->path,
                  (unsigned long long)t->dropped);
  }
  kick(t);
}

static int put_float(lp_buf *b, double v) {
  return isfinite(v) ? lp_buf_printf(b, "%.9g", v) : lp_buf_puts(b, "null");
}

void lp_trainlog_query(lp_trainlog *t, const char *query_id, int64_t ts_ms, const char *model, const char *variant,
                       const char *prompt, size_t prompt_len, const lp_qhit *const *ranked, const double *scores,
                       size_t n) {
  lp_buf *b = &t->pending;
  size_t start = b->len;
  int rc = lp_buf_puts(b, "{\"type\":\"query\",\"query_id\":");
  rc |= lp_buf_json_str(b, query_id, strlen(query_id));
  rc |= lp_buf_printf(b, ",\"ts\":%lld,\"model\":", (long long)ts_ms);
  rc |= lp_buf_json_str(b, model, strlen(model));
  rc |= lp_buf_puts(b, ",\"variant\":");
  rc |= variant != NULL && variant[0] ? lp_buf_json_str(b, variant, strlen(variant)) : lp_buf_puts(b, "null");
  rc |= lp_buf_puts(b, ",\"version\":\"" LP_FEATURES_VERSION "\",\"prompt\":");
  rc |= lp_buf_json_str(b, prompt, prompt_len);
  rc |= lp_buf_puts(b, ",\"leads\":[");
  int first = 1;
  for (size_t i = 0; i < n && rc == LP_OK; i++) {
    const lp_qhit *h = ranked[i];
    if (h->features == NULL) continue;
    rc |= lp_buf_puts(b, first ? "{\"domain\":" : ",{\"domain\":");
    rc |= lp_buf_json_str(b, h->domain, strlen(h->domain));
    rc |= lp_buf_printf(b, ",\"rank\":%zu,\"score\":", i + 1);
    rc |= put_float(b, scores[i]);
    rc |= lp_buf_puts(b, ",\"v0\":");
    rc |= put_float(b, h->v0);
    rc |= lp_buf_puts(b, ",\"f\":[");
    for (uint32_t f = 0; f < LP_FEATURES_N; f++) {
      if (f) rc |= lp_buf_puts(b, ",");
      rc |= put_float(b, h->features[f]);
    }
    rc |= lp_buf_puts(b, "]}");
    first = 0;
  }
  rc |= lp_buf_puts(b, "]}");
  end_line(t, start, rc ? LP_ENOMEM : LP_OK);
}

void lp_trainlog_outcome(lp_trainlog *t, const lp_outcome *o) {
  lp_buf *b = &t->pending;
  size_t start = b->len;
  int rc = lp_buf_puts(b, "{\"type\":\"outcome\",\"id\":");
  rc |= lp_buf_json_str(b, o->id.ptr, o->id.len);
  rc |= lp_buf_printf(b, ",\"ts\":%lld,\"domain\":", (long long)o->ts_ms);
  rc |= lp_buf_json_str(b, o->domain.ptr, o->domain.len);
  rc |= lp_buf_printf(b, ",\"event\":\"%s\"", lp_outcome_event_name(o->event));
  if (o->query_id.len > 0) {
    rc |= lp_buf_puts(b, ",\"query_id\":");
    rc |= lp_buf_json_str(b, o->query_id.ptr, o->query_id.len);
  }
  rc |= lp_buf_puts(b, "}");
  end_line(t, start, rc ? LP_ENOMEM : LP_OK);
}

void lp_trainlog_judgment(lp_trainlog *t, const char *query_id, int64_t ts_ms, const char *domain, double score) {
  lp_buf *b = &t->pending;
  size_t start = b->len;
  int rc = lp_buf_puts(b, "{\"type\":\"judgment\",\"query_id\":");
  rc |= lp_buf_json_str(b, query_id, strlen(query_id));
  rc |= lp_buf_printf(b, ",\"ts\":%lld,\"domain\":", (long long)ts_ms);
  rc |= lp_buf_json_str(b, domain, strlen(domain));
  rc |= lp_buf_puts(b, ",\"score\":");
  rc |= put_float(b, score);
  rc |= lp_buf_puts(b, "}");
  end_line(t, start, rc ? LP_ENOMEM : LP_OK);
}

uint64_t lp_trainlog_dropped(const lp_trainlog *t) { return t->dropped; }

int lp_trainlog_busy(const lp_trainlog *t) {
  return t->state != ST_IDLE && t->state != ST_FAILED;
}

/* Blocking write of what is left, at the end only. */
static void write_all(lp_trainlog *t, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(t->fd, p, n);
    if (w < 0) {
      lp_log_warn("training log: final write failed", "path=%s", t->path);
      t->dropped += count_lines(p, n);
      return;
    }
    p += w;
    n -= (size_t)w;
  }
}

void lp_trainlog_free(lp_trainlog *t) {
  if (t == NULL) return;
  while (lp_trainlog_busy(t)) uv_run(t->loop, UV_RUN_ONCE);
  if (t->fd >= 0) {
    write_all(t, t->pending.data, t->pending.len);
    close(t->fd);
  }
  if (t->dropped) lp_log_warn("training log: lines dropped", "path=%s dropped=%llu", t->path, (unsigned long long)t->dropped);
  lp_buf_free(&t->pending);
  lp_buf_free(&t->inflight);
  lp_free(t->path);
  lp_free(t->path_old);
  lp_free(t);
}
